# Guest script for scripts/tiny-guest.sh (run by busybox sh as root inside the
# guest; tests/tiny_guest_vsock.rs passes it). Proves AF_VSOCK works in the
# guest over vsock_loopback (CID 1 = the guest itself), then that ssh works
# over it the way the ssh proxy will use it: sshd on 127.0.0.1:22, a socat
# VSOCK:22 -> TCP relay, and ssh with a vsock ProxyCommand.
# Needs in the guest: socat, ssh, sshd, ssh-keygen (--binary each), and
# /usr/local/lib/vsock-cid-to-local.so (tests/scripts/vsock-cid-to-local.c)
# for the CID 42 steps, which stand in for a CID that libvirt reports.
set -eu

step() { echo "== [$(cut -d" " -f1 /proc/uptime)s] $*"; }
fail() {
    echo "FAIL: $*"
    [ ! -s /tmp/sshd.log ] || { echo "-- sshd log:"; cat /tmp/sshd.log; }
    exit 1
}

# Waits until something accepts on vsock port $1 of this guest (CID 1).
wait_vsock_listener() {
    i=0
    until socat -u OPEN:/dev/null "VSOCK-CONNECT:1:$1" 2>/dev/null; do
        i=$((i + 1))
        [ "$i" -lt 100 ] || fail "nothing listens on vsock port $1 after 10 s"
        sleep 0.1
    done
}

step "vsock modules"
grep -E '^(vsock_loopback|vsock) ' /proc/modules | cut -d' ' -f1 | sort | tr '\n' ' '
echo

step "socat: VSOCK-LISTEN:1234 answers 'hi over vsock' to VSOCK-CONNECT:1:1234"
socat VSOCK-LISTEN:1234,fork,reuseaddr EXEC:'echo hi over vsock' 2>/tmp/socat-echo.log &
wait_vsock_listener 1234
reply=$(socat - VSOCK-CONNECT:1:1234 </dev/null) || fail "socat VSOCK-CONNECT failed"
echo "reply: $reply"
[ "$reply" = "hi over vsock" ] || fail "unexpected reply over vsock: $reply"
echo "VSOCK-ECHO-OK"

shim=/usr/local/lib/vsock-cid-to-local.so
step "socat with LD_PRELOAD=$shim: VSOCK-CONNECT:42:1234 lands on CID 1"
reply=$(LD_PRELOAD=$shim socat - VSOCK-CONNECT:42:1234 </dev/null) \
    || fail "socat VSOCK-CONNECT:42 through the shim failed"
echo "reply: $reply"
[ "$reply" = "hi over vsock" ] || fail "unexpected reply over vsock CID 42: $reply"
echo "VSOCK-CID42-OK"

step "sshd on 127.0.0.1:22: fresh host key, no PAM, root by key only"
mkdir -p /etc/ssh /root/.ssh /run/sshd
chmod 0700 /root/.ssh
ssh-keygen -q -t ed25519 -N '' -C host -f /etc/ssh/ssh_host_ed25519_key
ssh-keygen -q -t ed25519 -N '' -C client -f /root/.ssh/id_ed25519
cp /root/.ssh/id_ed25519.pub /root/.ssh/authorized_keys
cat >/etc/ssh/sshd_config <<'CONF'
ListenAddress 127.0.0.1:22
HostKey /etc/ssh/ssh_host_ed25519_key
UsePAM no
PermitRootLogin prohibit-password
PubkeyAuthentication yes
AuthorizedKeysFile /root/.ssh/authorized_keys
PasswordAuthentication no
KbdInteractiveAuthentication no
StrictModes no
PidFile /run/sshd.pid
CONF
/usr/sbin/sshd -t -f /etc/ssh/sshd_config || fail "sshd -t rejected the config"
/usr/sbin/sshd -D -e -f /etc/ssh/sshd_config 2>/tmp/sshd.log &
# Listening once 127.0.0.1:22 (0100007F:0016) is in state 0A (LISTEN).
i=0
until grep -q '^ *[0-9]*: 0100007F:0016 00000000:0000 0A' /proc/net/tcp; do
    i=$((i + 1))
    [ "$i" -lt 100 ] || fail "sshd does not listen on 127.0.0.1:22 after 10 s"
    sleep 0.1
done
# The client pins the generated host key under the name it connects to.
echo "x $(cut -d' ' -f1,2 /etc/ssh/ssh_host_ed25519_key.pub)" >/root/.ssh/known_hosts

step "relay: socat VSOCK-LISTEN:22 -> TCP:127.0.0.1:22"
socat VSOCK-LISTEN:22,fork,reuseaddr TCP:127.0.0.1:22 2>/tmp/socat-relay.log &
wait_vsock_listener 22

step "ssh -o ProxyCommand='socat - VSOCK-CONNECT:1:22' root@x"
out=$(ssh -o BatchMode=yes -o StrictHostKeyChecking=yes \
    -o UserKnownHostsFile=/root/.ssh/known_hosts -i /root/.ssh/id_ed25519 \
    -o ProxyCommand='socat - VSOCK-CONNECT:1:22' \
    root@x 'echo "ssh as $(id -u) on $(hostname)"' 2>/tmp/ssh.err) \
    || { cat /tmp/ssh.err; fail "ssh over vsock failed"; }
echo "$out"
[ "$out" = "ssh as 0 on tiny-guest" ] || fail "unexpected ssh output: $out"
echo "SSH-OVER-VSOCK-OK"

step "ssh -o ProxyCommand='env LD_PRELOAD=$shim socat - VSOCK-CONNECT:42:22' root@x true"
ssh -o BatchMode=yes -o StrictHostKeyChecking=yes \
    -o UserKnownHostsFile=/root/.ssh/known_hosts -i /root/.ssh/id_ed25519 \
    -o ProxyCommand="env LD_PRELOAD=$shim socat - VSOCK-CONNECT:42:22" \
    root@x true 2>/tmp/ssh.err \
    || { cat /tmp/ssh.err; fail "ssh ... true over vsock CID 42 failed"; }
echo "SSH-OVER-VSOCK-CID42-OK"
step "done"

# Guest script for scripts/tiny-guest.sh (busybox sh, root, inside the guest;
# tests/ssh_proxy_vsock_guest.rs passes it): libvirt-ssh-proxy's VSOCK route
# for real. libvirt's test driver (/root/node.xml) has one running domain,
# MixedCaseVM, with VSOCK CID 42 and no NIC; the lease dir is empty, so VSOCK
# is the only route. The LD_PRELOAD shim (tests/scripts/vsock-cid-to-local.c)
# turns the proxy's connect() to CID 42 into CID 1, this guest's
# vsock_loopback, where socat relays VSOCK port 22 to sshd on 127.0.0.1:22.
# Never uses the proxy's --no-vsock/--allow-* flags: the shim is the mechanism.
#
# Needs in the guest: /usr/local/bin/libvirt-ssh-proxy, libvirt.so.0, ssh,
# sshd, ssh-keygen, socat (--binary each), /usr/local/lib/vsock-cid-to-local.so
# and /root/node.xml (--file).
# Prints one marker line per step (the test asserts them) and exits 1 at the
# first step that fails, with the logs that explain it.
set -eu

proxy=/usr/local/bin/libvirt-ssh-proxy
shim=/usr/local/lib/vsock-cid-to-local.so
uri=test:///root/node.xml
leases=/root/leases

step() { echo "== [$(cut -d" " -f1 /proc/uptime)s] $*"; }
fail() {
    echo "FAIL: $*"
    for log in /tmp/ssh.err /tmp/proxy.err /tmp/socat-relay.log /tmp/sshd.log; do
        [ ! -s "$log" ] || { echo "-- $log:"; cat "$log"; }
    done
    exit 1
}

# Connections socat's VSOCK:22 listener has accepted so far (socat -d -d).
accepted() { grep -c 'accepting connection from' /tmp/socat-relay.log || true; }

step "set-up: sshd on 127.0.0.1:22, keys, an empty lease dir, ssh_config"
mkdir -p /etc/ssh /root/.ssh /run/sshd
chmod 0700 /root/.ssh
mkdir -m 0755 "$leases"
ssh-keygen -q -t ed25519 -N '' -C host -f /etc/ssh/ssh_host_ed25519_key
ssh-keygen -q -t ed25519 -N '' -C client -f /root/.ssh/id_ed25519
cp /root/.ssh/id_ed25519.pub /root/.ssh/authorized_keys
cat >/etc/ssh/sshd_config <<'CONF'
ListenAddress 127.0.0.1:22
HostKey /etc/ssh/ssh_host_ed25519_key
KexAlgorithms curve25519-sha256
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
# ssh lowercases %h: the host key is pinned under the name it looks up.
echo "qemu/mixedcasevm $(cut -d' ' -f1,2 /etc/ssh/ssh_host_ed25519_key.pub)" >/root/.ssh/known_hosts
cat >/root/ssh_config <<CONF
Host qemu/* qemu%*
    ProxyCommand env LD_PRELOAD=$shim $proxy --uri $uri --lease-dir $leases %h %p %n
    ProxyUseFdpass yes
    CheckHostIP no
Host *
    User root
    IdentityFile /root/.ssh/id_ed25519
    UserKnownHostsFile /root/.ssh/known_hosts
    StrictHostKeyChecking yes
    BatchMode yes
    KexAlgorithms curve25519-sha256
    ConnectTimeout 20
CONF
# Listening once 127.0.0.1:22 (0100007F:0016) is in state 0A (LISTEN).
i=0
until grep -q '^ *[0-9]*: 0100007F:0016 00000000:0000 0A' /proc/net/tcp; do
    i=$((i + 1))
    [ "$i" -lt 100 ] || fail "sshd does not listen on 127.0.0.1:22 after 10 s"
    sleep 0.1
done

step "1. $proxy --uri $uri --lease-dir $leases resolve qemu/MixedCaseVM"
"$proxy" --uri "$uri" --lease-dir "$leases" resolve qemu/MixedCaseVM >/tmp/resolve.out 2>/tmp/proxy.err \
    || fail "resolve exited $?"
cat /tmp/resolve.out
[ ! -s /tmp/proxy.err ] || fail "resolve wrote to stderr"
routes=$(grep '^route ' /tmp/resolve.out || true)
[ "$routes" = "route 1: vsock cid 42 port 22" ] || fail "expected the VSOCK route only, got: $routes"
echo "RESOLVE-VSOCK-ONLY-OK"

step "2. relay: socat VSOCK-LISTEN:22 -> TCP:127.0.0.1:22"
socat -d -d VSOCK-LISTEN:22,fork,reuseaddr TCP:127.0.0.1:22 2>/tmp/socat-relay.log &
i=0
until grep -q 'listening on AF=40' /tmp/socat-relay.log 2>/dev/null; do
    i=$((i + 1))
    [ "$i" -lt 100 ] || fail "socat does not listen on vsock port 22 after 10 s"
    sleep 0.1
done

# ssh_via_vsock LABEL MARKER [SSH OPTIONS]: `echo via-vsock` over the proxy,
# and socat's VSOCK listener must have accepted the connection.
ssh_via_vsock() {
    label=$1 marker=$2
    shift 2
    step "$label: ssh -F /root/ssh_config ${*:+$* }root@qemu/MixedCaseVM echo via-vsock"
    before=$(accepted)
    out=$(ssh -F /root/ssh_config "$@" root@qemu/MixedCaseVM echo via-vsock 2>/tmp/ssh.err) \
        || fail "$label: ssh exited $?"
    echo "$out"
    [ "$out" = via-vsock ] || fail "$label: unexpected output: $out"
    after=$(accepted)
    [ "$after" -gt "$before" ] \
        || fail "$label: socat's VSOCK:22 listener accepted nothing ($before -> $after)"
    echo "VSOCK:22 connections accepted: $before -> $after"
    echo "$marker"
}
ssh_via_vsock "2a. fd passing (ProxyUseFdpass yes)" SSH-VSOCK-FDPASS-OK
ssh_via_vsock "2b. byte relay (ProxyUseFdpass no)" SSH-VSOCK-RELAY-OK -o ProxyUseFdpass=no

step "3a. LD_PRELOAD=$shim $proxy --uri $uri --lease-dir $leases qemu/MixedCaseVM 2200 (nothing listens)"
rc=0
LD_PRELOAD=$shim "$proxy" --uri "$uri" --lease-dir "$leases" qemu/MixedCaseVM 2200 \
    </dev/null >/tmp/proxy.out 2>/tmp/proxy.err || rc=$?
echo "exit $rc"
[ "$rc" = 75 ] || fail "expected exit 75 (every route refused), got $rc"
[ ! -s /tmp/proxy.out ] || fail "stdout not empty: $(cat /tmp/proxy.out)"
[ "$(wc -l </tmp/proxy.err)" = 1 ] || fail "expected one stderr line"
line=$(cat /tmp/proxy.err)
echo "PROXY-FAILURE-LINE: $line"
case $line in
*"vsock cid 42 port 2200:"*) ;;
*) fail "the line does not name vsock cid 42 port 2200" ;;
esac
echo "PROXY-VSOCK-REFUSED-OK"

step "3b. ssh -F /root/ssh_config -p 2200 root@qemu/MixedCaseVM true"
rc=0
ssh -F /root/ssh_config -p 2200 root@qemu/MixedCaseVM true 2>/tmp/ssh.err || rc=$?
echo "exit $rc"
cat /tmp/ssh.err
[ "$rc" = 255 ] || fail "expected ssh to exit 255, got $rc"
grep -qF "$line" /tmp/ssh.err || fail "ssh did not show the proxy's line"
echo "SSH-PORT-2200-FAILS-OK"
rm -f /tmp/ssh.err /tmp/proxy.err
step "done"

#!/usr/bin/env bash
# tiny-guest.sh: run a shell script inside a throw-away qemu guest (TCG, no
# network, no disk, no vsock device) and return its output and exit code.
#
# The guest is Debian 12's cloud kernel booted directly (-kernel/-initrd) into
# a cpio initramfs made here (uncompressed by default): static busybox, the
# vsock + vsock_loopback modules (so AF_VSOCK works guest-internally: CID 1 is
# the guest itself), a minimal /etc (root and sshd users), plus whatever host
# files and dynamically linked binaries (with their shared libraries, at the
# same absolute paths) the caller adds. /init mounts proc/sys/dev/tmp/run,
# brings up lo, loads the modules, runs the script between markers on the
# serial console, prints the exit code and powers off. Boot + a trivial script
# + poweroff takes ~5 s under TCG; ~8 s with libvirt's 70 MB of libraries.
#
# qemu, the kernel and busybox come from scripts/fetch-guest-debs.sh (cached in
# $GUEST_CACHE, default /var/cache/libvirt-nss-rs/guest; nothing is installed
# into the host's dpkg database). Run as root the first time.
#
# SAFETY: AF_VSOCK is only ever used INSIDE the guest. qemu gets no vsock device
# (no vhost-vsock), so nothing reaches the host's /dev/vsock, and no NIC.
#
# Usage:
#   scripts/tiny-guest.sh [options] SCRIPT       (SCRIPT: file, or - for stdin)
#   scripts/tiny-guest.sh [options] -c 'COMMANDS'
# The script runs under busybox sh as root in /root, stdin /dev/null, stdout
# and stderr merged.
# Options (repeatable where it makes sense):
#   --binary HOST[:GUEST]  copy an executable or shared library and everything
#                          `ldd` says it needs (plus the ELF interpreter); the
#                          libraries keep their absolute host paths. Also for
#                          dlopen()ed libraries: --binary /usr/lib/x86_64-linux-gnu/libvirt.so.0
#   --file HOST:GUEST      copy one file (mode kept)
#   --dir HOST:GUEST       copy a directory tree
#   --module NAME          also load this kernel module (deps resolved)
#   --timeout SECS         hard limit for the whole boot (default 120, env TINY_GUEST_TIMEOUT)
#   --mem MB               guest memory (default 256, more for a big initramfs)
#   --accel tcg|kvm        default tcg (env TINY_GUEST_ACCEL): this machine's
#                          /dev/kvm cannot run the guest (qemu aborts with
#                          -cpu host; other models hang after the firmware)
#   --console-log FILE     keep the full serial console log there
#   --initrd-out FILE      keep the initramfs there
#   -v, --verbose          print the console log on stderr afterwards
# Env: GUEST_CACHE (see fetch-guest-debs.sh), TINY_GUEST_CPU (TCG CPU model,
#   default max: it has RDRAND, so the guest's RNG is ready at once and
#   ssh-keygen/sshd never wait for entropy), TINY_GUEST_COMPRESS (none|gzip).
# Exit status: the guest script's, or 124 on timeout, 125 when the guest did not
# boot or died before the script finished (a "tiny-guest: ..." line on stderr
# says which, followed by the tail of the console log).
#
# Example:
#   scripts/tiny-guest.sh --binary /usr/bin/socat -c \
#       'socat VSOCK-LISTEN:22,fork EXEC:"echo hi" & sleep 1; socat - VSOCK-CONNECT:1:22'
# tests/tiny_guest_vsock.rs runs tests/scripts/tiny-guest-vsock-ssh.sh this way
# (socat, then sshd + ssh over VSOCK).
#
# libvirt-ssh-proxy in the guest (verified: `ssh -F cfg qemu/vm true` works,
# the proxy passing a VSOCK socket to ssh, libvirt's test driver as the
# "hypervisor"). libvirt refuses guest CIDs below 3, and a guest without a vsock
# device reaches only CID 1, so node.xml gives the domain CID 42 and the LD_PRELOAD
# shim tests/scripts/vsock-cid-to-local.c turns connect() to CID >= 3 into CID 1:
#   gcc -shared -fPIC -O2 -o /tmp/cid.so tests/scripts/vsock-cid-to-local.c -ldl
#   scripts/tiny-guest.sh \
#       --binary target/release/libvirt-ssh-proxy:/usr/local/bin/libvirt-ssh-proxy \
#       --binary /usr/lib/x86_64-linux-gnu/libvirt.so.0 \
#       --binary /usr/bin/ssh --binary /usr/sbin/sshd --binary /usr/bin/ssh-keygen \
#       --binary /usr/bin/socat --file /tmp/cid.so:/usr/local/lib/vsock-cid-to-local.so \
#       --file node.xml:/root/node.xml --file ssh_config:/root/ssh_config guest.sh
# node.xml: <node><domain type='test'><name>vm</name>...<devices>
#   <vsock model='virtio'><cid auto='no' address='42'/></vsock></devices></domain></node>
# ssh_config:
#   Host qemu/*
#       ProxyCommand env LD_PRELOAD=/usr/local/lib/vsock-cid-to-local.so /usr/local/bin/libvirt-ssh-proxy --uri test:///root/node.xml %h %p %n
#       ProxyUseFdpass yes
#       User root
#       IdentityFile /root/.ssh/id_ed25519
#       UserKnownHostsFile /root/.ssh/known_hosts
#       BatchMode yes
# guest.sh: the sshd + keys set-up of tests/scripts/tiny-guest-vsock-ssh.sh
#   (known_hosts line "qemu/vm <host key>"), `socat VSOCK-LISTEN:22,fork
#   TCP:127.0.0.1:22 &`, then `ssh -F /root/ssh_config qemu/vm true`.
# Guest memory grows with the initramfs (~77 MB, 277 MiB); that run took 16.5 s,
# most of it two ssh handshakes (~3.5 s each under TCG with the default KEX).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
prog=tiny-guest
say() { echo "$prog: $*" >&2; }
die() { echo "$prog: error: $*" >&2; exit 125; }

binaries=() files=() dirs=() modules=(vsock_loopback)
timeout_s=${TINY_GUEST_TIMEOUT:-120}
mem=
accel=${TINY_GUEST_ACCEL:-tcg}
console_log='' initrd_out='' verbose=0 script='' command=
while [ $# -gt 0 ]; do
    case $1 in
        --binary) binaries+=("$2"); shift 2 ;;
        --file) files+=("$2"); shift 2 ;;
        --dir) dirs+=("$2"); shift 2 ;;
        --module) modules+=("$2"); shift 2 ;;
        --timeout) timeout_s=$2; shift 2 ;;
        --mem) mem=$2; shift 2 ;;
        --accel) accel=$2; shift 2 ;;
        --console-log) console_log=$2; shift 2 ;;
        --initrd-out) initrd_out=$2; shift 2 ;;
        -v|--verbose) verbose=1; shift ;;
        -c) command=$2; shift 2 ;;
        -h|--help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        -) script=-; shift ;;
        -*) die "unknown option $1 (see --help)" ;;
        *) script=$1; shift ;;
    esac
done
[ -n "$script" ] || [ -n "$command" ] || die "no guest script (SCRIPT, - or -c COMMANDS; see --help)"
[ -z "$script" ] || [ -z "$command" ] || die "give either SCRIPT or -c, not both"
case $accel in tcg|kvm) ;; *) die "--accel must be tcg or kvm" ;; esac

GUEST_CACHE=$("$here/fetch-guest-debs.sh")
# shellcheck source=/dev/null
. "$GUEST_CACHE/guest.env"

work=$(mktemp -d "${TMPDIR:-/tmp}/tiny-guest.XXXXXX")
trap 'rm -rf "$work"' EXIT
stage=$work/initramfs

# --- the initramfs tree -----------------------------------------------------
# Merged /usr like Debian 12, so libraries land where ldd says whichever of
# /lib/... or /usr/lib/... it prints, and /lib64/ld-linux-x86-64.so.2 exists.
mkdir -p "$stage"/{usr/bin,usr/sbin,usr/lib,usr/lib64,proc,sys,dev,tmp,run,etc,root,var/empty,var/log}
for d in bin sbin lib lib64; do ln -s "usr/$d" "$stage/$d"; done
chmod 0700 "$stage/root"
chmod 1777 "$stage/tmp"
# The kernel needs /dev/console to give /init a console before devtmpfs is up.
mknod -m 600 "$stage/dev/console" c 5 1 2>/dev/null || true
mknod -m 666 "$stage/dev/null" c 1 3 2>/dev/null || true

cp "$GUEST_BUSYBOX" "$stage/usr/bin/busybox"
for applet in $("$GUEST_BUSYBOX" --list); do
    [ -e "$stage/usr/bin/$applet" ] || ln -s busybox "$stage/usr/bin/$applet"
done

cat >"$stage/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
sshd:x:100:65534::/run/sshd:/usr/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
EOF
cat >"$stage/etc/group" <<'EOF'
root:x:0:
nogroup:x:65534:
EOF
# "*": no password, but not "locked" (sshd without PAM refuses "!" accounts).
printf 'root:*:19000:0:99999:7:::\n' >"$stage/etc/shadow"
chmod 0640 "$stage/etc/shadow"
printf 'passwd: files\ngroup: files\nshadow: files\nhosts: files\n' >"$stage/etc/nsswitch.conf"
printf '127.0.0.1 localhost tiny-guest\n::1 localhost\n' >"$stage/etc/hosts"

# Put a host file at a guest path. Never write through an existing symlink
# (a busybox applet link would turn into the copied file's busybox).
install_file() {
    local src=$1 dst=$2
    case $dst in /*) ;; *) die "guest path must be absolute: $dst" ;; esac
    [ -e "$src" ] || die "no such host file: $src"
    mkdir -p "$stage$(dirname "$dst")"
    rm -f "$stage$dst"
    cp -L --preserve=mode "$src" "$stage$dst"
}

# An executable or shared library plus its ldd closure. ldd prints
# "libx.so => /path (addr)" for libraries and "/path (addr)" for the
# interpreter; "not found" would make the guest copy useless, so it is fatal.
install_binary() {
    local spec=$1 src dst deps
    src=${spec%%:*}
    dst=${spec#*:}
    # A bare command name (--binary socat) is looked up on PATH.
    if [[ $src != */* ]] && [ ! -e "$src" ]; then
        src=$(command -v "$src") || die "--binary: $1 is neither a file nor on PATH"
    fi
    [ "$dst" != "$spec" ] || dst=$(realpath -s "$src")
    [ -f "$src" ] || die "--binary: no such file: $src"
    install_file "$src" "$dst"
    if ! deps=$(ldd "$src" 2>&1); then
        case $deps in *"not a dynamic executable"*) return 0 ;; esac
        die "--binary $src: ldd failed: $deps"
    fi
    if grep -q 'not found' <<<"$deps"; then
        die "--binary $src: missing libraries:"$'\n'"$(grep 'not found' <<<"$deps")"
    fi
    local lib
    while read -r lib; do
        [ -e "$stage$lib" ] || install_file "$lib" "$lib"
    done < <(awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' <<<"$deps")
}

for b in "${binaries[@]}"; do install_binary "$b"; done
for f in "${files[@]}"; do
    [[ $f == *:* ]] || die "--file wants HOST:GUEST, got $f"
    install_file "${f%%:*}" "${f#*:}"
done
for d in "${dirs[@]}"; do
    [[ $d == *:* ]] || die "--dir wants HOST:GUEST, got $d"
    src=${d%%:*} dst=${d#*:}
    [ -d "$src" ] || die "--dir: no such host directory: $src"
    case $dst in /*) ;; *) die "guest path must be absolute: $dst" ;; esac
    mkdir -p "$stage$dst"
    cp -a "$src/." "$stage$dst/"
done

# Kernel modules in load order: depth-first over modules.dep, each module after
# its dependencies. Names match with - and _ treated alike, as modprobe does.
moddir=$GUEST_ROOT/lib/modules/$GUEST_KVER
declare -A loaded=()
load_order=()
add_module() {
    local rel=$1 deps dep
    [ -z "${loaded[$rel]:-}" ] || return 0
    loaded[$rel]=1
    deps=$(awk -v m="$rel" -F': *' '$1 == m { print $2 }' "$moddir/modules.dep")
    for dep in $deps; do add_module "$dep"; done
    load_order+=("$rel")
}
for name in "${modules[@]}"; do
    want=${name//-/_}
    rel=$(awk -F: -v w="$want" '{ n = $1; sub(/.*\//, "", n); sub(/\.ko.*$/, "", n); gsub(/-/, "_", n); if (n == w) { print $1; exit } }' "$moddir/modules.dep")
    [ -n "$rel" ] || die "kernel module $name is not in $GUEST_KVER (built in, or misspelt?)"
    add_module "$rel"
done
mkdir -p "$stage/tiny-guest"
: >"$stage/tiny-guest/modules"
for rel in "${load_order[@]}"; do
    install_file "$moddir/$rel" "/lib/modules/$GUEST_KVER/$rel"
    echo "/lib/modules/$GUEST_KVER/$rel" >>"$stage/tiny-guest/modules"
done

if [ -n "$command" ]; then
    printf '%s\n' "$command" >"$stage/tiny-guest/script"
elif [ "$script" = - ]; then
    cat >"$stage/tiny-guest/script"
else
    install_file "$script" /tiny-guest/script
fi

# /init: busybox ash as PID 1. The markers are what the host parses; the
# newline printed before the end marker is stripped again there, so output
# that does not end in a newline comes back byte for byte.
cat >"$stage/init" <<'EOF'
#!/bin/sh
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root TERM=dumb
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
mount -t tmpfs -o mode=1777 tmpfs /tmp
mount -t tmpfs -o mode=0755 tmpfs /run
mkdir -p /run/sshd
# Only emergencies on the console from here on: kernel chatter would land
# in the middle of the script's output.
dmesg -n 1
hostname tiny-guest
ip link set lo up
while read -r ko; do
    insmod "$ko" || echo "tiny-guest-init: insmod $ko failed"
done </tiny-guest/modules
# No \n -> \r\n on the console, so the host gets the script's exact bytes.
stty -onlcr </dev/console 2>/dev/null
cd /root
echo "===TINY-GUEST-SCRIPT-BEGIN==="
sh /tiny-guest/script </dev/null 2>&1
rc=$?
printf '\n===TINY-GUEST-SCRIPT-END rc=%d===\n' "$rc"
sync
poweroff -f
EOF
chmod 0755 "$stage/init"

initrd=$work/initramfs.cpio
# Uncompressed by default: under TCG the kernel's gunzip is the slowest part
# of the boot (a 70 MB tree with libvirt: 5.0 s plain, 10.0 s gzip'ed).
case ${TINY_GUEST_COMPRESS:-none} in
    gzip) compress=(gzip -1) ;;
    none) compress=(cat) ;;
    *) die "TINY_GUEST_COMPRESS must be gzip or none" ;;
esac
(cd "$stage" && find . -print | "$GUEST_BUSYBOX" cpio -o -H newc 2>/dev/null | "${compress[@]}") >"$initrd"
initrd_size=$(stat -c %s "$initrd")
[ -z "$initrd_out" ] || cp "$initrd" "$initrd_out"
# The kernel holds the initramfs image and its unpacked copy at once.
if [ -z "$mem" ]; then
    mem=$(( initrd_size * 2 / 1048576 + 128 ))
    [ "$mem" -ge 256 ] || mem=256
fi

# --- boot --------------------------------------------------------------------
accel_args=(-accel tcg -cpu "${TINY_GUEST_CPU:-max}")
if [ "$accel" = kvm ]; then
    [ -w /dev/kvm ] || die "--accel kvm: /dev/kvm is missing or not writable"
    accel_args=(-accel kvm -cpu host)
fi
firmware_args=()
IFS=: read -r -a fw_dirs <<<"$GUEST_FIRMWARE_DIRS"
for d in "${fw_dirs[@]}"; do [ -d "$d" ] && firmware_args+=(-L "$d"); done

log=${console_log:-$work/console.log}
: >"$log"
qemu_cmd=(
    "$GUEST_QEMU" "${accel_args[@]}" -m "$mem" -smp 1
    "${firmware_args[@]}"
    -nodefaults -display none -no-user-config -no-reboot
    -serial "file:$log" -monitor none
    -nic none
    -kernel "$GUEST_KERNEL" -initrd "$initrd"
    -append 'console=ttyS0 quiet panic=-1'
)
say "booting (initramfs $((initrd_size / 1024)) KiB, ${mem} MiB, ${accel}, timeout ${timeout_s}s)"
start=$(date +%s%N)
set +e
# timeout(1) kills only the qemu it started (SIGTERM, then SIGKILL 5 s later).
LD_LIBRARY_PATH=$GUEST_LD_LIBRARY_PATH QEMU_MODULE_DIR=$GUEST_ROOT/usr/lib/x86_64-linux-gnu/qemu \
    timeout -k 5 "$timeout_s" "${qemu_cmd[@]}" </dev/null >"$work/qemu.out" 2>&1
qemu_rc=$?
set -e
elapsed=$(( ($(date +%s%N) - start) / 1000000 ))
secs=$(printf '%d.%03d' $((elapsed / 1000)) $((elapsed % 1000)))

[ "$verbose" = 0 ] || { say "console log:"; cat "$log" >&2; }
show_tail() {
    [ ! -s "$work/qemu.out" ] || { say "qemu said:"; tail -n 20 "$work/qemu.out" >&2; }
    if [ -s "$log" ]; then
        say "last console lines:"
        tail -n 30 "$log" >&2
    else
        say "the console log is empty (firmware or kernel never got to the serial port)"
    fi
}

if [ "$qemu_rc" = 124 ] || [ "$qemu_rc" = 137 ]; then
    say "TIMEOUT: guest still running after ${timeout_s}s; killed qemu"
    show_tail
    exit 124
fi
if ! grep -q '^===TINY-GUEST-SCRIPT-BEGIN===$' "$log"; then
    say "BOOT FAILURE: the guest never started the script (qemu exit $qemu_rc after ${secs}s)"
    show_tail
    exit 125
fi
end_line=$(grep -a '^===TINY-GUEST-SCRIPT-END rc=[0-9]*===$' "$log" | tail -n 1 || true)
if [ -z "$end_line" ]; then
    say "GUEST DIED: the script started but the guest stopped before it finished (qemu exit $qemu_rc after ${secs}s)"
    show_tail
    exit 125
fi
# Everything between the markers, minus the newline /init added before END.
awk '
    /^===TINY-GUEST-SCRIPT-BEGIN===$/ { inside = 1; n = 0; next }
    inside && /^===TINY-GUEST-SCRIPT-END rc=[0-9]+===$/ { inside = 0; for (i = 1; i <= n; i++) printf "%s%s", (i > 1 ? "\n" : ""), line[i]; next }
    inside { line[++n] = $0 }
' "$log"
rc=${end_line#*rc=}
rc=${rc%===}
say "guest script exited $rc; boot to poweroff ${secs}s"
exit "$rc"

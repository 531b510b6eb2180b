#!/usr/bin/env bash
# demo.sh - from clone to `getent hosts VM` in a minute, touching nothing on
# the host: builds the modules and the CLI, then, inside a private mount
# namespace (scripts/nsenv.sh), points glibc at the sample lease dir
# demo/leases/ (two networks, dual stack, a guest without hostname, an
# expired lease, .macs files) through a generated nsswitch.conf with
#   hosts: files libvirt libvirt_guest
# and runs getent and libvirt-nss against it; then libvirt-ssh-proxy plans
# `ssh user@qemu/VM` routes over libvirt's test driver (demo/node.xml).
#
# Usage: scripts/demo.sh [--no-build]     (or: make demo)
#
# As root it uses a mount namespace; as a normal user a user namespace
# (`unshare -r -m`), in which bind mounts work without privileges.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SELF=$ROOT/scripts/demo.sh
NSENV=$ROOT/scripts/nsenv.sh
CLI=$ROOT/target/release/libvirt-nss
MODULES=$ROOT/target/modules
HOSTS="files libvirt libvirt_guest"

BUILD=1
for arg in "$@"; do
    case "$arg" in
    --no-build) BUILD=0 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$SELF" | sed -e '$d' -e 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "demo: unknown argument $arg" >&2; exit 2 ;;
    esac
done

no_namespaces() {
    cat >&2 <<EOF
demo: cannot create a private mount namespace: $1
The demo needs one so that it can show glibc a sample lease dir and
nsswitch.conf without changing the host. Either:
  * run it as root:              sudo scripts/demo.sh --no-build
  * or allow unprivileged user namespaces (then run make demo again):
      sudo sysctl -w user.max_user_namespaces=15000
      sudo sysctl -w kernel.unprivileged_userns_clone=1                 # Debian kernels before 11
      sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0     # Ubuntu 23.10 and later
  * in a container: start it with --cap-add SYS_ADMIN (and a seccomp profile
    allowing unshare), or --privileged
EOF
    exit 1
}

if [ "${_DEMO_IN_USERNS:-}" != 1 ]; then
    if [ "$BUILD" = 1 ]; then
        echo "== make build"
        make -C "$ROOT" --no-print-directory build
        echo
    fi
    for f in "$CLI" "$MODULES/libnss_libvirt.so.2" "$MODULES/libnss_libvirt_guest.so.2"; do
        [ -e "$f" ] || { echo "demo: $f missing: run make build first" >&2; exit 1; }
    done
    command -v unshare >/dev/null || no_namespaces "unshare(1) is not installed (package util-linux)"
    if [ "$(id -u)" != 0 ]; then
        # A user namespace in which we are root: nsenv.sh can mount there.
        err=$(unshare -r -m true 2>&1) || no_namespaces "unshare -r -m: ${err:-failed}"
        _DEMO_IN_USERNS=1 exec unshare -r -m -- "$SELF" --no-build
    fi
    err=$(unshare -m true 2>&1) || no_namespaces "unshare -m: ${err:-failed}"
fi

# A fresh copy with the modes the modules trust (0755 dir, 0644 files: they
# ignore anything writable by group or others; git keeps no modes).
WORK=$(mktemp -d "${TMPDIR:-/tmp}/libvirt-nss-demo.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
mkdir -m 0755 "$WORK/leases"
cp "$ROOT"/demo/leases/* "$WORK/leases/"
chmod 0644 "$WORK"/leases/*
chmod 0755 "$WORK" "$WORK/leases"

NET=()
if command -v ip >/dev/null; then
    # A private network namespace with a dual-stack interface, so that
    # getaddrinfo (getent ahosts) returns both families whatever the host has.
    NET=(--net dual)
fi

BOLD='' DIM='' RESET=''
if [ -t 1 ]; then BOLD=$'\e[1m' DIM=$'\e[2m' RESET=$'\e[0m'; fi

# step "what it shows" COMMAND...: runs COMMAND in the namespace.
step() {
    local why=$1; shift
    echo
    echo "${BOLD}\$ $*${RESET}"
    echo "${DIM}# $why${RESET}"
    local rc=0
    "$NSENV" --leases "$WORK/leases" --modules "$MODULES" --hosts "$HOSTS" "${NET[@]}" \
        -- env PATH="$ROOT/target/release:$PATH" "$@" || rc=$?
    [ "$rc" = 0 ] || echo "${DIM}(exit status $rc)${RESET}"
}

echo "== demo: lease dir demo/leases/ at /var/lib/libvirt/dnsmasq, modules from target/modules/,"
echo "== hosts: $HOSTS  (private mount namespace: the host is not touched)"

step "libvirt module: web01 sent its hostname over DHCP; getent hosts asks for IPv6 first, so a dual-stack VM shows its IPv6 address" \
    getent hosts web01
step "getaddrinfo (ssh, curl, ping) gets both families from one gethostbyname4_r call" \
    getent ahosts web01
step "builder sent no DHCP hostname: only libvirt_guest knows it, by its libvirt domain name (via virbr0.macs)" \
    getent hosts builder
step "app01 lives on the second network (virbr1); IPv4 only, as ssh -4 would ask" \
    getent ahostsv4 app01
step "reverse lookup: the address of a lease gives the VM's name back (the C modules had none)" \
    getent hosts 192.168.122.10
step "old-vm's lease expired in 2001: not found (exit status 2)" \
    getent hosts old-vm
step "libvirt-nss list: every name either module answers, expired leases marked" \
    libvirt-nss list
step "libvirt-nss explain: why a name does not resolve" \
    libvirt-nss explain old-vm
step "libvirt-nss explain: a guest without a hostname" \
    libvirt-nss explain builder
# The SSH proxy plans routes without dialling (resolve); libvirt's test
# driver (demo/node.xml) stands in for libvirtd. VSOCK is never dialled here.
PROXY=(env LIBVIRT_SSH_PROXY_VSOCK=deny libvirt-ssh-proxy --uri "test://$ROOT/demo/node.xml")
step "ssh user@qemu/web01: the SSH proxy finds the domain, then its live DHCP leases (IPv4 first)" \
    "${PROXY[@]}" resolve qemu/web01
step "ssh user@qemu/builder: a VSOCK CID is tried first, then the lease" \
    "${PROXY[@]}" resolve qemu/builder
step "ssh user@qemu/old-vm: a shut-off domain is never dialled; one line says why (exit status 69)" \
    "${PROXY[@]}" qemu/old-vm 22
echo
echo "== done; nothing on the host changed. Next: make deb, or make install and see nsswitch-examples/"

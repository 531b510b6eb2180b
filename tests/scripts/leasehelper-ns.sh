#!/bin/bash
# leasehelper-ns.sh LEASEDIR RUNDIR -- COMMAND [ARGS...]
#
# Runs COMMAND in a private mount namespace where LEASEDIR is bind-mounted on
# the compiled-in lease dir /var/lib/libvirt/dnsmasq and RUNDIR on /run (so
# /run/leaseshelper.pid is the test's own lock file; two namespaces given the
# same RUNDIR share the lock). Nothing on the host is modified: when the host
# has no /var/lib/libvirt, a shadow /var/lib is built on a private tmpfs with
# every existing entry bind-mounted back. The command's exit status is passed
# through; 125 means the namespace could not be set up. Must run as root.
set -euo pipefail
if [ "${_LH_NS_INSIDE:-}" = 1 ]; then
    unset _LH_NS_INSIDE
    LEASES=$1 RUNDIR=$2 STAGE=$3; shift 3
    mount -t tmpfs -o mode=0755,size=1m lh-ns-stage "$STAGE"
    mount --bind "$RUNDIR" /run
    if [ -d /var/lib/libvirt/dnsmasq ]; then
        mount --bind "$LEASES" /var/lib/libvirt/dnsmasq
    elif [ -d /var/lib/libvirt ]; then
        mount -t tmpfs -o mode=0755,size=1m lh-ns-libvirt /var/lib/libvirt
        mkdir /var/lib/libvirt/dnsmasq
        mount --bind "$LEASES" /var/lib/libvirt/dnsmasq
    else
        SH=$STAGE/varlib
        mkdir "$SH"
        for e in /var/lib/* /var/lib/.[!.]* /var/lib/..?*; do
            [ -e "$e" ] || [ -L "$e" ] || continue
            n=${e##*/}
            if [ -L "$e" ]; then cp -P "$e" "$SH/$n"
            elif [ -d "$e" ]; then mkdir "$SH/$n"; mount --rbind "$e" "$SH/$n"
            else : > "$SH/$n"; mount --bind "$e" "$SH/$n"
            fi
        done
        mkdir -p "$SH/libvirt/dnsmasq"
        mount --bind "$LEASES" "$SH/libvirt/dnsmasq"
        mount --rbind "$SH" /var/lib
    fi
    exec "$@"
fi
[ $# -ge 4 ] && [ "$3" = -- ] || { echo "usage: $0 LEASEDIR RUNDIR -- COMMAND [ARGS...]" >&2; exit 125; }
[ "$(id -u)" = 0 ] || { echo "$0: must run as root" >&2; exit 125; }
LEASES=$(readlink -f "$1"); RUNDIR=$(readlink -f "$2"); shift 3
[ -d "$LEASES" ] && [ -d "$RUNDIR" ] || { echo "$0: $LEASES or $RUNDIR is not a directory" >&2; exit 125; }
STAGE=$(mktemp -d "${TMPDIR:-/tmp}/lh-ns.XXXXXX")
trap 'rmdir "$STAGE" 2>/dev/null || true' EXIT
trap 'exit 143' TERM
trap 'exit 130' INT
rc=0
_LH_NS_INSIDE=1 unshare --mount --propagation private -- "$(readlink -f "${BASH_SOURCE[0]}")" \
    "$LEASES" "$RUNDIR" "$STAGE" "$@" || rc=$?
exit "$rc"

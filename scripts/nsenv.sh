#!/bin/bash
# nsenv.sh - run a command against a libvirt lease dir and a pair of NSS
# modules inside a private mount namespace, leaving the host untouched
# (no edit of /etc/nsswitch.conf, no /var/lib/libvirt created, no module
# installed).
#
# Usage:
#   nsenv.sh [options] -- COMMAND [ARGS...]
#
# Options:
#   --leases DIR      made visible at /var/lib/libvirt/dnsmasq (read-write bind
#                     mount). Default: an empty private dir.
#   --no-lease-dir    make sure /var/lib/libvirt/dnsmasq does not exist
#   --modules DIR     dir holding libnss_libvirt.so.2 and libnss_libvirt_guest.so.2
#                     to use instead of the system modules; a module missing
#                     from DIR is masked, never silently replaced by the system
#                     one. Default: the system modules, unchanged.
#   --hosts LINE      the "hosts:" line of nsswitch.conf.
#                     Default: "files libvirt libvirt_guest".
#   --private-run     an empty tmpfs on /run (private /run/leaseshelper.pid lock)
#   --run DIR         DIR is /run (bind mount): namespaces given the same DIR
#                     share the /run/leaseshelper.pid lock
#   --net dual        a fresh network namespace with lo and a veth carrying
#                     192.168.123.1/24 and fd00:123::1/64, so that getaddrinfo's
#                     AI_ADDRCONFIG and RFC 6724 sorting are deterministic
#   -h, --help
#
# Exit status: the command's; 125 for a usage or set-up error.
# Needs root (mounts). /run/nscd is always masked: a running nscd would answer
# hosts lookups itself and bypass the generated nsswitch.conf.
set -euo pipefail

SELF=$(readlink -f "${BASH_SOURCE[0]}")
PROG=${0##*/}
LEASE_DIR_IN_NS=/var/lib/libvirt/dnsmasq
MODULE_FILES=(libnss_libvirt.so.2 libnss_libvirt_guest.so.2)

usage() { sed -n '2,/^set -euo/p' "$SELF" | sed -e '$d' -e 's/^# \{0,1\}//'; exit "${1:-0}"; }
die() { echo "$PROG: error: $*" >&2; exit 125; }

# shellcheck source=scripts/installed-modules.sh
. "$(dirname "$SELF")/installed-modules.sh"

# The dir the system loads NSS modules from (where libnss_files lives if no
# libvirt module is installed).
system_module_dir() {
    local m
    m=$(installed_module libvirt)
    [ -n "$m" ] || m=$(installed_module libvirt_guest)
    if [ -n "$m" ]; then dirname "$m"; else echo ""; fi
}

# ------------------------------------------------------------ inside the ns --
# Runs as the first process of the new namespaces; everything mounted here
# disappears with them.
inside() {
    local stage=$_NSENV_STAGE lease_mode=$_NSENV_LEASE_MODE leases=$_NSENV_LEASES
    local modules=$_NSENV_MODULES hosts=$_NSENV_HOSTS net=$_NSENV_NET
    local run_mode=$_NSENV_RUN_MODE run_dir=$_NSENV_RUN_DIR
    unset _NSENV_INSIDE _NSENV_STAGE _NSENV_LEASE_MODE _NSENV_LEASES _NSENV_MODULES \
        _NSENV_HOSTS _NSENV_NET _NSENV_RUN_MODE _NSENV_RUN_DIR

    # Scratch space only this namespace sees: the host keeps an empty dir.
    mount -t tmpfs -o mode=0755,size=16m nsenv "$stage"

    if [ "$run_mode" = private ]; then
        mount -t tmpfs -o mode=0755,size=16m nsenv-run /run
    elif [ "$run_mode" = dir ]; then
        mount --bind "$run_dir" /run
    elif [ -d /run/nscd ]; then
        mount -t tmpfs -o mode=0755,size=1m nsenv-nscd /run/nscd
    fi

    if [ "$net" = dual ]; then
        ip link set lo up
        ip link add nsenv0 type veth peer name nsenv1
        ip link set nsenv0 up
        ip link set nsenv1 up
        ip addr add 192.168.123.1/24 dev nsenv0
        ip addr add fd00:123::1/64 dev nsenv0 nodad
    fi

    [ -f /etc/nsswitch.conf ] || die "/etc/nsswitch.conf missing: nothing to bind over"
    awk -v line="hosts:          $hosts" '
        /^[ \t]*hosts[ \t]*:/ { if (!done) print line; done = 1; next }
        { print }
        END { if (!done) print line }' /etc/nsswitch.conf > "$stage/nsswitch.conf"
    mount --bind "$stage/nsswitch.conf" /etc/nsswitch.conf

    if [ "$lease_mode" = none ]; then
        # Hide a host lease dir; when the host has none there is nothing to do.
        if [ -d /var/lib/libvirt ]; then
            mount -t tmpfs -o mode=0755,size=1m nsenv-libvirt /var/lib/libvirt
        fi
    else
        if [ -z "$leases" ]; then
            leases=$stage/empty-leases
            mkdir -m 0755 "$leases"
        fi
        if [ -d "$LEASE_DIR_IN_NS" ]; then
            mount --bind "$leases" "$LEASE_DIR_IN_NS"
        elif [ -d /var/lib/libvirt ]; then
            mount -t tmpfs -o mode=0755,size=1m nsenv-libvirt /var/lib/libvirt
            mkdir -m 0755 "$LEASE_DIR_IN_NS"
            mount --bind "$leases" "$LEASE_DIR_IN_NS"
        else
            # No /var/lib/libvirt on the host, and we must not create one there:
            # build a shadow /var/lib on the scratch tmpfs that binds every
            # existing entry back, add libvirt/dnsmasq, mount it over /var/lib.
            local shadow=$stage/varlib e n
            mkdir -m 0755 "$shadow"
            for e in /var/lib/* /var/lib/.[!.]* /var/lib/..?*; do
                [ -e "$e" ] || [ -L "$e" ] || continue
                n=${e##*/}
                if [ -L "$e" ]; then
                    cp -P "$e" "$shadow/$n"
                elif [ -d "$e" ]; then
                    mkdir "$shadow/$n"
                    mount --rbind "$e" "$shadow/$n"
                else
                    : > "$shadow/$n"
                    mount --bind "$e" "$shadow/$n"
                fi
            done
            mkdir -m 0755 -p "$shadow/libvirt/dnsmasq"
            mount --bind "$leases" "$shadow/libvirt/dnsmasq"
            mount --rbind "$shadow" /var/lib
        fi
    fi

    if [ -n "$modules" ]; then
        local sysdir so
        sysdir=$(system_module_dir)
        : > "$stage/empty.so"
        if [ -n "$sysdir" ]; then
            # Bind over the installed files: exactly what an installed module
            # looks like, and it works for setuid programs too.
            for so in "${MODULE_FILES[@]}"; do
                [ -e "$sysdir/$so" ] || continue
                if [ -e "$modules/$so" ]; then
                    mount --bind -o ro "$(readlink -f "$modules/$so")" "$sysdir/$so"
                else
                    mount --bind -o ro "$stage/empty.so" "$sysdir/$so"
                fi
            done
        else
            # No system copy to bind over, and creating one would touch the
            # host: glibc also finds NSS modules through LD_LIBRARY_PATH
            # (ignored for setuid programs, fine for getent).
            export LD_LIBRARY_PATH="$modules${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
        fi
    fi

    exec "$@"
}

if [ "${_NSENV_INSIDE:-}" = 1 ]; then
    set -E
    trap 'echo "$PROG: set-up failed at line $LINENO" >&2; exit 125' ERR
    inside "$@"
fi

# ----------------------------------------------------------- outside the ns --
LEASE_MODE=dir; LEASES=""; MODULES=""; HOSTS="files libvirt libvirt_guest"
NET=host; RUN_MODE=host; RUN_DIR=""
while [ $# -gt 0 ]; do
    case "$1" in
    --leases) [ $# -ge 2 ] || usage 125; LEASES=$2; shift 2 ;;
    --no-lease-dir) LEASE_MODE=none; shift ;;
    --modules) [ $# -ge 2 ] || usage 125; MODULES=$2; shift 2 ;;
    --hosts) [ $# -ge 2 ] || usage 125; HOSTS=$2; shift 2 ;;
    --private-run) [ "$RUN_MODE" = host ] || die "--private-run and --run exclude each other"
        RUN_MODE=private; shift ;;
    --run) [ $# -ge 2 ] || usage 125; [ "$RUN_MODE" = host ] || die "--private-run and --run exclude each other"
        RUN_MODE=dir; RUN_DIR=$2; shift 2 ;;
    --net) [ $# -ge 2 ] || usage 125; NET=$2; shift 2 ;;
    -h|--help) usage 0 ;;
    --) shift; break ;;
    *) echo "$PROG: unknown option $1" >&2; usage 125 ;;
    esac
done
[ $# -gt 0 ] || { echo "$PROG: no command given" >&2; usage 125; }
[ "$(id -u)" = 0 ] || die "must run as root (mount namespace, bind mounts)"
case "$NET" in host|dual) ;; *) die "--net takes only 'dual'" ;; esac
if [ "$LEASE_MODE" = none ] && [ -n "$LEASES" ]; then
    die "--leases and --no-lease-dir exclude each other"
fi
if [ -n "$LEASES" ]; then
    [ -d "$LEASES" ] || die "lease dir '$LEASES' is not a directory"
    LEASES=$(readlink -f "$LEASES")
fi
if [ -n "$MODULES" ]; then
    [ -d "$MODULES" ] || die "module dir '$MODULES' is not a directory"
    MODULES=$(readlink -f "$MODULES")
fi
if [ "$RUN_MODE" = dir ]; then
    [ -d "$RUN_DIR" ] || die "run dir '$RUN_DIR' is not a directory"
    RUN_DIR=$(readlink -f "$RUN_DIR")
fi

STAGE=$(mktemp -d "${TMPDIR:-/tmp}/nsenv.XXXXXX")
trap 'rmdir "$STAGE" 2>/dev/null || true' EXIT
# Killed by a signal, still remove STAGE (once the command has ended).
trap 'exit 143' TERM
trap 'exit 130' INT

unshare_args=(--mount --propagation private)
[ "$NET" = dual ] && unshare_args+=(--net)

rc=0
_NSENV_INSIDE=1 _NSENV_STAGE=$STAGE _NSENV_LEASE_MODE=$LEASE_MODE _NSENV_LEASES=$LEASES \
_NSENV_MODULES=$MODULES _NSENV_HOSTS=$HOSTS _NSENV_NET=$NET _NSENV_RUN_MODE=$RUN_MODE \
_NSENV_RUN_DIR=$RUN_DIR \
    unshare "${unshare_args[@]}" -- "$SELF" "$@" || rc=$?
exit "$rc"

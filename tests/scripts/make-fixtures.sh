#!/bin/bash
# make-fixtures.sh [--leaseshelper PATH] [--out DIR]
#
# Rebuilds the scenario lease dirs under tests/fixtures/ (all but the verbatim
# libvirt-upstream-nssdata). Every *.status file is written by a real lease
# helper (default: Debian's /usr/lib/libvirt/libvirt_leaseshelper), run with
# the argv/env dnsmasq's --dhcp-script passes, inside scripts/nsenv.sh --private-run so
# its /run lock stays private. *.macs files are written here in libvirtd's
# virMacMap format (yajl beautify, domains in strcmp order).
#
# Pointing --leaseshelper at another helper and --out at a scratch dir, then
# `diff -r tests/fixtures OUT`, checks that helper byte for byte.
#
# Expiry times are absolute and chosen so that, for every name, differences
# stay below 2^31 (the C sort comparator truncates; see the README):
# 4102444800 (2100-01-01) = active, 1000000000 (2001) = expired, 0 = infinite.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
HELPER=/usr/lib/libvirt/libvirt_leaseshelper
OUT=$(cd "$HERE/../fixtures" && pwd)
while [ $# -gt 0 ]; do
    case "$1" in
    --leaseshelper) HELPER=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    *) echo "usage: $0 [--leaseshelper PATH] [--out DIR]" >&2; exit 2 ;;
    esac
done
HELPER=$(readlink -f "$HELPER")
[ -x "$HELPER" ] || { echo "make-fixtures: no lease helper at $HELPER" >&2; exit 1; }
umask 022

FUT=4102444800
PAST=1000000000
SERVER_DUID=00:01:00:01:2c:6e:4a:1e:52:54:00:ca:02:01

# Each event line: ENV=VAL... ACTION ARG... (one helper process, as dnsmasq runs it)
run_events() { # run_events DIR < events
    local events
    events=$(cat)
    "$HERE/../../scripts/nsenv.sh" --private-run --leases "$1" -- bash -c '
        helper=$1; shift
        while IFS= read -r line; do
            case "$line" in ""|"#"*) continue ;; esac
            eval "set -- $line"
            envs=(); while [[ $1 == *=* ]]; do envs+=("$1"); shift; done
            env -i "${envs[@]}" "$helper" "$@" || { echo "event failed: $line" >&2; exit 1; }
        done' _ "$HELPER" <<< "$events"
}
v4() { # v4 BRIDGE MAC IP EXPIRY [HOSTNAME]
    echo "VIR_BRIDGE_NAME=$1 DNSMASQ_INTERFACE=$1 DNSMASQ_LEASE_EXPIRES=$4 DNSMASQ_CLIENT_ID=01:$2 add $2 $3 ${5:-}"
}
v6() { # v6 BRIDGE MAC IAID IP EXPIRY [HOSTNAME]; client DUID = DUID-LL of MAC
    echo "VIR_BRIDGE_NAME=$1 DNSMASQ_INTERFACE=$1 DNSMASQ_LEASE_EXPIRES=$5 DNSMASQ_IAID=$3 DNSMASQ_MAC=$2 DNSMASQ_SERVER_DUID=$SERVER_DUID add 00:03:00:01:$2 $4 ${6:-}"
}
# macs FILE DOMAIN:MAC[,MAC...]... (arguments already in strcmp order)
macs() {
    local file=$1 first=1 arg dom m sep
    shift
    {
        if [ $# -eq 0 ]; then printf '[\n\n]\n'; else
            printf '['
            for arg in "$@"; do
                dom=${arg%%:*}
                [ $first = 1 ] && printf '\n' || printf ',\n'
                first=0
                printf '  {\n    "domain": "%s",\n    "macs": [' "$dom"
                sep='\n'
                IFS=, read -ra ms <<< "${arg#*:}"
                for m in "${ms[@]}"; do printf "$sep"'      "%s"' "$m"; sep=',\n'; done
                printf '\n    ]\n  }'
            done
            printf '\n]\n'
        fi
    } > "$file"
}
fresh() { rm -rf "${OUT:?}/$1"; mkdir -p "$OUT/$1"; echo "$OUT/$1"; }

# ------------------------------------------------------- sunny-dual-stack --
# virbr0 = IPv4 network 192.168.122.0/24; virbr1 = dual stack 192.168.124.0/24
# + 2001:db8:124::/64; virbr2 = a network without leases yet (init only).
D=$(fresh sunny-dual-stack)
{
v4 virbr0 52:54:00:10:00:01 192.168.122.10 $FUT vm-alpha
v4 virbr0 52:54:00:10:00:02 192.168.122.11 $((FUT + 1)) Web-Server01
v4 virbr0 52:54:00:10:00:03 192.168.122.12 0 vm-forever
v4 virbr0 52:54:00:10:00:04 192.168.122.13 $PAST vm-gone
v4 virbr0 52:54:00:10:00:05 192.168.122.14 $FUT
v4 virbr0 52:54:00:10:00:06 192.168.122.15 $((FUT + 5)) mn-eth0
v6 virbr1 52:54:00:10:01:01 1 2001:db8:124::10 $((FUT + 100)) vm-alpha
v4 virbr1 52:54:00:10:01:02 192.168.124.20 $((FUT - 100)) vm-beta
v6 virbr1 52:54:00:10:01:02 2 2001:db8:124::20 $FUT vm-beta
v4 virbr1 52:54:00:10:01:03 192.168.124.30 $((FUT + 6)) mn-eth1
v6 virbr1 52:54:00:10:01:03 3 2001:db8:124::30 $((FUT + 6)) mn-eth1
v6 virbr1 52:54:00:10:01:04 4 2001:db8:124::40 $PAST vm-gone6
v4 virbr1 52:54:00:10:01:05 192.168.124.15 $((FUT + 7)) WEB-SERVER01
echo "VIR_BRIDGE_NAME=virbr2 init"
} | run_events "$D"
macs "$D/virbr0.macs" Multi-NIC:52:54:00:10:00:06 alpha:52:54:00:10:00:01 \
    anon-guest:52:54:00:10:00:05 forever:52:54:00:10:00:03 gone:52:54:00:10:00:04 \
    web:52:54:00:10:00:02
macs "$D/virbr1.macs" Multi-NIC:52:54:00:10:01:03 alpha:52:54:00:10:01:01 \
    beta:52:54:00:10:01:02 gone6:52:54:00:10:01:04 web:52:54:00:10:01:05
macs "$D/virbr2.macs"

# --------------------------------------------------------- many-addresses --
# vm-25 fits glibc's first 1024-byte getaddrinfo buffer, vm-26 does not (the C
# module then answers TRYAGAIN/ENOMEM and glibc gives up: DECISIONS.md N17);
# vm-many has 30 addresses and its domain many-nics 30 NICs.
D=$(fresh many-addresses)
{
for i in $(seq 1 25); do v4 virbr0 "$(printf '52:54:00:25:00:%02x' "$i")" "192.168.122.$((100 + i))" $((FUT + i)) vm-25; done
for i in $(seq 1 26); do v4 virbr0 "$(printf '52:54:00:26:00:%02x' "$i")" "192.168.122.$((130 + i))" $((FUT + i)) vm-26; done
for i in $(seq 1 30); do v4 virbr1 "$(printf '52:54:00:30:00:%02x' "$i")" "192.168.124.$((100 + i))" $((FUT + (i * 7) % 30)) vm-many; done
} | run_events "$D"
macs "$D/virbr1.macs" "many-nics:$(for i in $(seq 1 30); do printf '52:54:00:30:00:%02x,' "$i"; done | sed 's/,$//')"

# ------------------------------------------------------ mac-case-mismatch --
# The .macs file names the NIC in upper case, the lease in lower case
# (hand-edited; libvirt itself writes lower case). C: no match (strcmp);
# ours: match (DECISIONS.md N8). lower-domain is the same case on both sides.
D=$(fresh mac-case-mismatch)
{
v4 virbr0 52:54:00:ab:cd:ef 192.168.122.50 $FUT vm-upper
v4 virbr0 52:54:00:ab:cd:f0 192.168.122.51 $FUT vm-lower
} | run_events "$D"
macs "$D/virbr0.macs" lower-domain:52:54:00:ab:cd:f0 upper-domain:52:54:00:AB:CD:EF

# ------------------------------------------------ nsswitch-status-actions --
# vm-v4only has only an IPv4 lease under that hostname, while the guest domain
# of the same name owns another NIC with an IPv6 lease. With
# "hosts: libvirt [UNAVAIL=return] libvirt_guest" the AF_INET6 query stops at
# the C module's UNAVAIL (N15) but falls through ours' NOTFOUND to the guest
# module.
D=$(fresh nsswitch-status-actions)
{
v4 virbr0 52:54:00:60:00:01 192.168.122.60 $FUT vm-v4only
v6 virbr1 52:54:00:60:00:02 1 2001:db8:124::60 $FUT other-name
} | run_events "$D"
macs "$D/virbr1.macs" vm-v4only:52:54:00:60:00:02

find "$OUT" -type d -exec chmod 0755 {} +
find "$OUT" -type f -exec chmod 0644 {} +
echo "make-fixtures: wrote $(find "$OUT" -type f -name '*.status' -o -type f -name '*.macs' | wc -l) lease files under $OUT" >&2

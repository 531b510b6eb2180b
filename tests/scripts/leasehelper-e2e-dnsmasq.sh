#!/bin/bash
# leasehelper-e2e-dnsmasq.sh - real dnsmasq + the lease helper under test +
# real DHCP clients + the NSS modules under test, all inside namespaces this
# script creates and deletes.
#
#   leasehelper-e2e-dnsmasq.sh --leaseshelper PATH --modules DIR
#                              [--dnsmasq PATH] [--no-v6] [--timeout SEC]
#
# Topology (nothing is added to the host's network namespace):
#   netns lh-srv-PID: bridge virbr0 192.168.123.1/24 + fd00:123::1/64 with
#       ports vnet0..2; dnsmasq started the way libvirt starts it
#       (--conf-file, --leasefile-ro, --dhcp-script=HELPER, env
#       VIR_BRIDGE_NAME=virbr0) in a private mount namespace
#       (scripts/nsenv.sh --run) where /var/lib/libvirt/dnsmasq is the test's
#       lease dir and /run the test's run dir.
#   netns lh-cN-PID: eth0 <-> vnetN, N = 0 (vm-alpha, also DHCPv6 with
#       dhclient -6), 1 (VM-Beta), 2 (a late client).
# Checks: init creates the status file; DHCPv4/v6 leases land in it; getent
# through the modules under test (libvirt, and libvirt_guest with a .macs
# file in libvirt's format) in a private mount namespace (scripts/nsenv.sh);
# DHCPRELEASE removes the lease and the name; after a dnsmasq restart the
# leases are known again through `init` (a new client asking for a leased
# address gets another one).
# Prints PASS/FAIL lines and "N passed, N failed"; exit 0 only if all passed.
# Every wait is bounded; cleanup kills only the process groups started here.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
NSENV=$(cd "$HERE/../../scripts" && pwd)/nsenv.sh
LH=""; MODS=""; DNSMASQ=/usr/sbin/dnsmasq; V6=1; T=20
while [ $# -gt 0 ]; do
    case "$1" in
    --leaseshelper) LH=$2; shift 2 ;;
    --modules) MODS=$2; shift 2 ;;
    --dnsmasq) DNSMASQ=$2; shift 2 ;;
    --no-v6) V6=0; shift ;;
    --timeout) T=$2; shift 2 ;;
    *) sed -n '2,26p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
    esac
done
[ "$(id -u)" = 0 ] || { echo "e2e: must run as root" >&2; exit 2; }
[ -n "$LH" ] && [ -n "$MODS" ] || { echo "e2e: --leaseshelper and --modules are required" >&2; exit 2; }
LH=$(readlink -f "$LH"); MODS=$(readlink -f "$MODS")
for f in "$LH" "$DNSMASQ" "$MODS/libnss_libvirt.so.2" "$MODS/libnss_libvirt_guest.so.2"; do
    [ -e "$f" ] || { echo "e2e: missing $f" >&2; exit 2; }
done
command -v udhcpc >/dev/null || { echo "e2e: udhcpc missing" >&2; exit 2; }
[ "$V6" = 0 ] || command -v dhclient >/dev/null || { echo "e2e: dhclient missing (use --no-v6)" >&2; exit 2; }

W=$(mktemp -d "${TMPDIR:-/tmp}/lh-e2e.XXXXXX")
chmod 755 "$W"
mkdir -m 755 "$W/leases" "$W/run"
NS_S=lh-srv-$$
NS_C=(lh-c0-$$ lh-c1-$$ lh-c2-$$)
HOSTS=(vm-alpha VM-Beta late)
MACS=(52:54:00:12:30:00 52:54:00:12:30:01 52:54:00:12:30:02)
PGIDS=()
pass=0; fail=0

log() { echo "e2e: $*"; }
ok() { echo "PASS $*"; pass=$((pass+1)); }
bad() { echo "FAIL $*"; fail=$((fail+1)); }

stop_pg() { # stop one process group this script started
    local pg=$1
    kill -TERM -- "-$pg" 2>/dev/null || return 0
    for _ in $(seq 1 30); do kill -0 -- "-$pg" 2>/dev/null || return 0; sleep 0.1; done
    kill -KILL -- "-$pg" 2>/dev/null || true
}
cleanup() {
    set +e
    for pg in "${PGIDS[@]}"; do stop_pg "$pg"; done
    for ns in "${NS_C[@]}" "$NS_S"; do ip netns del "$ns" 2>/dev/null; done
    rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# start_bg NAME CMD...: CMD in its own session (and process group); LAST_PG
start_bg() {
    local name=$1; shift
    setsid "$@" > "$W/$name.out" 2>&1 < /dev/null &
    LAST_PG=$!
    PGIDS+=("$LAST_PG")
}

# wait_for DESC CMD...: poll CMD until it succeeds, at most $T seconds
wait_for() {
    local desc=$1; shift
    local deadline=$(( $(date +%s) + T ))
    while ! "$@" >/dev/null 2>&1; do
        if [ "$(date +%s)" -ge "$deadline" ]; then log "timeout ($T s) waiting for $desc"; return 1; fi
        sleep 0.2
    done
}

# no_dad NETNS: no IPv6 duplicate address detection (addresses usable at once)
no_dad() {
    ip netns exec "$1" sh -c 'for f in default all; do echo 0 > /proc/sys/net/ipv6/conf/$f/accept_dad; done'
}

# pgid_of PID: the process group of PID, from /proc (fields after "comm)")
pgid_of() { sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f3; }

# ------------------------------------------------------------- topology ----
log "namespaces $NS_S ${NS_C[*]}; work dir $W"
ip netns add "$NS_S"
ip -n "$NS_S" link set lo up
no_dad "$NS_S"
ip -n "$NS_S" link add virbr0 type bridge forward_delay 0 stp_state 0
for i in 0 1 2; do
    ip netns add "${NS_C[$i]}"
    ip -n "${NS_C[$i]}" link set lo up
    no_dad "${NS_C[$i]}"
    # the pair is created inside the server ns; the peer moves straight to the client ns
    ip -n "$NS_S" link add "vnet$i" type veth peer name eth0 netns "${NS_C[$i]}"
    ip -n "${NS_C[$i]}" link set eth0 address "${MACS[$i]}"
    ip -n "$NS_S" link set "vnet$i" master virbr0
    ip -n "$NS_S" link set "vnet$i" up
    ip -n "${NS_C[$i]}" link set eth0 up
done
ip -n "$NS_S" addr add 192.168.123.1/24 dev virbr0
ip -n "$NS_S" addr add fd00:123::1/64 dev virbr0 nodad
ip -n "$NS_S" link set virbr0 up
wait_for "virbr0 up" sh -c "ip -n $NS_S -br link show virbr0 | grep -q ' UP '"
wait_for "virbr0 link-local" sh -c "ip -n $NS_S -6 addr show dev virbr0 scope link | grep -q inet6"

# ---------------------------------------------------------------- dnsmasq --
# libvirt's template (networkDnsmasqConfContents) with DNS off (port=0)
cat > "$W/default.conf" <<EOF
##WARNING:  THIS IS AN AUTO-GENERATED FILE. CHANGES TO IT ARE LIKELY TO BE
## (test copy of libvirt's dnsmasq config for network 'default'; DNS disabled)
strict-order
port=0
no-resolv
pid-file=/run/default.pid
except-interface=lo
bind-dynamic
interface=virbr0
dhcp-range=192.168.123.2,192.168.123.254,255.255.255.0
dhcp-no-override
dhcp-authoritative
dhcp-range=fd00:123::10,fd00:123::ff,64
dhcp-lease-max=493
dhcp-hostsfile=$W/default.hostsfile
enable-ra
log-dhcp
log-facility=$W/dnsmasq.log
EOF
: > "$W/default.hostsfile"
: > "$W/dnsmasq.log"; chmod 666 "$W/dnsmasq.log"

start_dnsmasq() {
    rm -f "$W/run/default.pid"
    start_bg "dnsmasq-$1" ip netns exec "$NS_S" env VIR_BRIDGE_NAME=virbr0 TMPDIR="$W" \
        "$NSENV" --leases "$W/leases" --run "$W/run" -- \
        "$DNSMASQ" --keep-in-foreground --conf-file="$W/default.conf" --leasefile-ro --dhcp-script="$LH"
    DNSMASQ_PG=$LAST_PG
    wait_for "dnsmasq pid file" test -s "$W/run/default.pid" || { cat "$W/dnsmasq-$1.out"; exit 1; }
}
start_dnsmasq 1
log "dnsmasq started (process group $DNSMASQ_PG), helper $LH"
if wait_for "virbr0.status created by init" test -e "$W/leases/virbr0.status"; then
    ok "dnsmasq ran the helper's init: virbr0.status created ($(stat -c '%s bytes, mode %a' "$W/leases/virbr0.status"))"
else
    bad "init did not create virbr0.status"
fi

# ---------------------------------------------------------------- clients --
cat > "$W/udhcpc.script" <<EOF
#!/bin/sh
# minimal udhcpc script: configures the address inside the client netns only
case "\$1" in
deconfig) ip -4 addr flush dev "\$interface" ;;
bound|renew) ip -4 addr flush dev "\$interface"
             ip -4 addr add "\$ip/\${mask:-24}" dev "\$interface"
             echo "\$ip" > "$W/\$E2E_CLIENT.v4" ;;
esac
exit 0
EOF
chmod +x "$W/udhcpc.script"

dhcp4_once() { # dhcp4_once CLIENT-INDEX TAG [udhcpc args...]
    local i=$1 tag=$2; shift 2
    ip netns exec "${NS_C[$i]}" env E2E_CLIENT="$tag" timeout "$T" \
        udhcpc -i eth0 -f -q -n -t 10 -T 1 -A 1 -s "$W/udhcpc.script" "$@" > "$W/udhcpc-$tag.out" 2>&1
}
for i in 0 1; do
    if dhcp4_once "$i" "c$i" -x "hostname:${HOSTS[$i]}"; then ok "udhcpc c$i (${HOSTS[$i]}) got $(cat "$W/c$i.v4")"
    else bad "udhcpc c$i: no lease"; cat "$W/udhcpc-c$i.out"; fi
done
V4A=$(cat "$W/c0.v4" 2>/dev/null || echo none); V4B=$(cat "$W/c1.v4" 2>/dev/null || echo none)

V6A=""
if [ "$V6" = 1 ]; then
    printf 'send fqdn.fqdn "vm-alpha";\nsend fqdn.server-update off;\n' > "$W/dhclient6.conf"
    cat > "$W/dhclient6.script" <<EOF
#!/bin/sh
# minimal dhclient-script: never touches /etc/resolv.conf
case "\$reason" in
PREINIT6) ip link set "\$interface" up ;;
BOUND6|RENEW6|REBIND6) ip -6 addr add "\$new_ip6_address/\$new_ip6_prefixlen" dev "\$interface" nodad 2>/dev/null
             echo "\$new_ip6_address" > "$W/c0.v6" ;;
esac
exit 0
EOF
    chmod +x "$W/dhclient6.script"
    wait_for "client link-local" sh -c "ip -n ${NS_C[0]} -6 addr show dev eth0 scope link | grep -q inet6"
    start_bg dhclient6 ip netns exec "${NS_C[0]}" dhclient -6 -d -1 -D LL -v \
        -cf "$W/dhclient6.conf" -sf "$W/dhclient6.script" -lf "$W/dhclient6.leases" -pf "$W/dhclient6.pid" eth0
    if wait_for "DHCPv6 lease" test -s "$W/c0.v6"; then V6A=$(cat "$W/c0.v6"); ok "dhclient -6 c0 (DUID-LL) got $V6A"
    else bad "dhclient -6: no lease"; tail -20 "$W/dhclient6.out"; fi
fi

# ------------------------------------------------------ status file check --
# "ip mac hostname" for every lease, from the helper's fixed pretty layout
leases_in() {
    awk '
        /^  \{$/ { ip = ""; mac = ""; host = "-" }
        /^    "ip-address": /  { ip = $2 }
        /^    "mac-address": / { mac = $2 }
        /^    "hostname": /    { host = $2 }
        /^  \}/ { gsub(/[",]/, "", ip); gsub(/[",]/, "", mac); gsub(/[",]/, "", host); print ip, mac, host }
    ' "$1"
}
has_lease() { leases_in "$W/leases/virbr0.status" | grep -qxF "$1"; }
has_all_leases() {
    has_lease "$V4A ${MACS[0]} vm-alpha" && has_lease "$V4B ${MACS[1]} VM-Beta" \
        && { [ -z "$V6A" ] || has_lease "$V6A ${MACS[0]} vm-alpha"; }
}
if wait_for "leases in virbr0.status" has_all_leases; then
    ok "virbr0.status holds the leases: $(leases_in "$W/leases/virbr0.status" | tr '\n' ';')"
else
    bad "virbr0.status lacks leases:"; cat "$W/leases/virbr0.status"
fi
[ "$(stat -c %a "$W/leases/virbr0.status")" = 644 ] && ok "virbr0.status mode 0644" || bad "virbr0.status mode $(stat -c %a "$W/leases/virbr0.status")"
if [ -n "$V6A" ]; then
    grep -q '"server-duid": "' "$W/leases/virbr0.status" && ! grep -q '"server-duid": null' "$W/leases/virbr0.status" \
        && ok "IPv6 lease carries dnsmasq's server DUID" || bad "server-duid missing or null"
fi

# ------------------------------------------------------------ NSS lookups --
nss() { # nss HOSTS-LINE CMD...: through the modules under test, private mount + net ns
    "$NSENV" --net dual --leases "$W/leases" --modules "$MODS" --hosts "$1" -- "${@:2}"
}
expect() { # expect DESC REGEX CMD...
    local desc=$1 re=$2; shift 2
    local out; out=$("$@" 2>&1) || true
    if grep -Eq -- "$re" <<<"$out"; then ok "$desc -> $(head -1 <<<"$out")"
    else bad "$desc: wanted /$re/, got: $out"; fi
}
expect_none() { # expect_none DESC CMD...: no output, non-zero exit
    local desc=$1; shift
    local out rc=0; out=$("$@" 2>&1) || rc=$?
    if [ -z "$out" ] && [ "$rc" != 0 ]; then ok "$desc -> not found (rc=$rc)"
    else bad "$desc: wanted nothing, got rc=$rc: $out"; fi
}
re() { sed 's/[.]/\\./g' <<<"$1"; }
expect "getent ahostsv4 vm-alpha (libvirt)" "^$(re "$V4A") +STREAM vm-alpha" nss "files libvirt" getent ahostsv4 vm-alpha
expect "getent hosts vm-beta (libvirt, case-insensitive)" "^$(re "$V4B") +vm-beta$" nss "files libvirt" getent hosts vm-beta
if [ -n "$V6A" ]; then
    expect "getent hosts vm-alpha (libvirt, IPv6 first)" "^$V6A +vm-alpha$" nss "files libvirt" getent hosts vm-alpha
    expect "getent ahostsv6 vm-alpha (libvirt)" "^$V6A +STREAM vm-alpha" nss "files libvirt" getent ahostsv6 vm-alpha
fi
expect_none "getent hosts vm-gamma (libvirt)" nss "files libvirt" getent hosts vm-gamma

# libvirt_guest: libvirtd's .macs file (virMacMap format), domain -> MACs
cat > "$W/leases/virbr0.macs" <<EOF
[
  {
    "domain": "alpha-domain",
    "macs": [
      "${MACS[0]}"
    ]
  },
  {
    "domain": "beta-domain",
    "macs": [
      "${MACS[1]}"
    ]
  }
]
EOF
chmod 644 "$W/leases/virbr0.macs"
expect "getent ahostsv4 alpha-domain (libvirt_guest)" "^$(re "$V4A") +STREAM alpha-domain" nss "files libvirt_guest" getent ahostsv4 alpha-domain
expect "getent hosts beta-domain (libvirt_guest)" "^$(re "$V4B") +beta-domain$" nss "files libvirt_guest" getent hosts beta-domain
expect "getent hosts vm-beta (files libvirt libvirt_guest)" "^$(re "$V4B") +vm-beta$" nss "files libvirt libvirt_guest" getent hosts vm-beta

# ---------------------------------------------------------------- release --
log "DHCPRELEASE from vm-alpha: udhcpc in the background, then SIGUSR2"
start_bg udhcpc-release ip netns exec "${NS_C[0]}" env E2E_CLIENT=c0r \
    udhcpc -i eth0 -f -R -t 10 -T 1 -A 1 -p "$W/udhcpc-release.pid" -s "$W/udhcpc.script" -x hostname:vm-alpha
REL_PG=$LAST_PG
if wait_for "udhcpc re-bound" test -s "$W/c0r.v4"; then
    upid=$(cat "$W/udhcpc-release.pid")
    # signal it only if it is ours (a member of the process group we started)
    if [ "$(pgid_of "$upid")" = "$REL_PG" ]; then kill -USR2 "$upid"; fi
else
    bad "udhcpc (release run) did not re-bind"
fi
gone() { ! leases_in "$W/leases/virbr0.status" | grep -q "^$(re "$V4A") "; }
if wait_for "lease removal" gone; then ok "helper 'del' removed $V4A from virbr0.status"
else bad "lease $V4A still in virbr0.status after the release"; fi
expect_none "getent ahostsv4 vm-alpha after release (libvirt)" nss "files libvirt" getent ahostsv4 vm-alpha
expect "getent hosts vm-beta still resolves" "^$(re "$V4B") +vm-beta$" nss "files libvirt" getent hosts vm-beta
stop_pg "$REL_PG"

# ---------------------------------------------------------- dnsmasq restart --
stop_pg "$DNSMASQ_PG"
start_dnsmasq 2
log "dnsmasq restarted (process group $DNSMASQ_PG)"
# dnsmasq re-reads the leases through init, then replays them to the script
# as 'old' events: the leases must survive that round trip
sleep 1
if wait_for "leases after restart" has_lease "$V4B ${MACS[1]} VM-Beta"; then
    ok "restart: VM-Beta's lease survived init + replay"
else
    bad "restart: VM-Beta's lease lost:"; cat "$W/leases/virbr0.status"
fi
# what dnsmasq read back at start-up: the helper's init output
init_out=$("$NSENV" --leases "$W/leases" --run "$W/run" -- env -i VIR_BRIDGE_NAME=virbr0 "$LH" init 2>&1) || true
grep -q " ${MACS[1]} $V4B VM-Beta " <<<"$init_out" && ok "init lists VM-Beta's lease: $(grep -F "$V4B" <<<"$init_out")" \
    || bad "init output lacks VM-Beta: $init_out"
# a new client asking for VM-Beta's address must get another one: dnsmasq
# knows the lease again although its own lease file is read-only/unused
if dhcp4_once 2 c2 -r "$V4B" -x hostname:late; then
    V4C=$(cat "$W/c2.v4")
    [ "$V4C" != "$V4B" ] && ok "after restart, a new client asking for $V4B got $V4C (lease known via init)" \
        || bad "after restart dnsmasq handed VM-Beta's $V4B to another client: init was not honoured"
else
    bad "udhcpc c2: no lease after restart"; cat "$W/udhcpc-c2.out"
fi
wait_for "late client lease" has_lease "${V4C:-none} ${MACS[2]} late" && ok "late client's lease recorded" \
    || bad "late client's lease missing"
expect "getent hosts vm-beta after restart" "^$(re "$V4B") +vm-beta$" nss "files libvirt" getent hosts vm-beta

log "dnsmasq DHCP log:"
grep -E 'DHCP(ACK|RELEASE|REPLY)|script' "$W/dnsmasq.log" | sed 's/^/    /' | head -20 || true
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]

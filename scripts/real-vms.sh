#!/usr/bin/env bash
# real-vms.sh: a real libvirtd, the dnsmasq it spawns, and real qemu guests,
# resolved through our NSS modules and our lease helper, side by side with
# libvirt's C modules and C helper, all inside private namespaces (mount, net,
# pid) that vanish with the run. Nothing on the host changes: no package is
# installed, no firewall rule, no file outside the caches and a temp dir.
#
# One run ("sequence") inside fresh namespaces, as root:
#   - overlays /usr with Debian 12's qemu, the cloud kernel and iptables
#     (apt-get download + dpkg-deb -x into caches: scripts/fetch-guest-debs.sh,
#     and $VM_CACHE for iptables); private /run, /etc/libvirt, /var (overlay),
#     /dev (no /dev/vsock, no /dev/vhost-*), a fresh sysfs (no cgroups) and
#     /etc/passwd with the libvirt-qemu and libvirt-dnsmasq users;
#   - the lease helper under test is bind-mounted on the path libvirtd has
#     compiled in, /usr/lib/libvirt/libvirt_leaseshelper;
#   - starts libvirtd, defines and starts the NAT network "default" on virbr0
#     (IPv4 and IPv6 DHCP ranges; dnsmasq options log-dhcp, to a syslogd of
#     the run, and no-ping, see start_network), boots three guests (direct
#     kernel boot of the cloud kernel + a busybox initramfs built here, virtio
#     NIC, no vsock; TCG unless KVM can really work, see --accel):
#       vm-alpha  sends hostname vm-alpha (= its domain name), DHCPv6 with FQDN
#       vm-beta   sends hostname beta-host
#       vm-gamma  sends no hostname, DHCPv6 without FQDN
#   - waits (bounded) for the leases, then checks getent hosts/ahosts/ahostsv4/
#     ahostsv6 (names, domain names, reverse) with "hosts: libvirt",
#     "hosts: libvirt_guest" and "hosts: files libvirt libvirt_guest": our modules
#     against expected answers, and against the C modules on the same files
#     (the only difference allowed: reverse lookups, DECISIONS.md N22);
#   - the SSH proxy (libvirt-ssh-proxy --uri qemu:///system, VSOCK denied):
#     `resolve qemu/vm-alpha` lists its lease, and a TCP connection through the
#     proxy reaches a listener in the guest;
#   - events, each followed by the same checks: DHCPv4 release (vm-beta),
#     DHCPv6 release (vm-gamma), virsh destroy vm-gamma, virsh destroy vm-alpha
#     + domrename vm-delta + start, net-destroy + net-start, virsh destroy
#     vm-delta after the network restart (libvirt has lost its network port:
#     the domain stays in .macs).
# By default the sequence runs twice: with our helper, then with libvirt's C
# helper; the .status and .macs contents after every step must be the same
# (expiry times and dnsmasq's server DUID masked, entries sorted).
# Prints PASS/FAIL lines and ends with "N passed, N failed"; exit 0 only if
# nothing failed. Every wait is bounded. Processes: everything runs in a PID
# namespace whose init is this script (libvirtd and syslogd are stopped by
# PID); unshare --kill-child tears the namespace down (libvirtd, dnsmasq, qemu)
# when unshare dies, and setpriv --pdeathsig kills unshare when this script
# dies, also on Ctrl-C or SIGKILL.
# Run time with warm caches, 2 cores: ~40 s per run (~60 s when the machine is
# busy), ~20 s of it guest boots; a cold cache adds ~10 s of downloads.
#
# Usage:
#   scripts/real-vms.sh --helper PATH --modules DIR --c-helper PATH --c-modules DIR
#                       [--proxy PATH] [--cli PATH] [--runs ours,c] [--summary FILE]
#   scripts/real-vms.sh --demo [--helper PATH --modules DIR --cli PATH]
#     (make demo-vm: boot the three guests, then getent, libvirt-nss list and
#      explain on them; defaults are target/release and target/modules)
# Options:
#   --helper PATH      our libvirt_leaseshelper (default target/release/...)
#   --modules DIR      our libnss_libvirt{,_guest}.so.2 (default target/modules)
#   --c-helper PATH    libvirt's C helper (default /usr/lib/libvirt/libvirt_leaseshelper)
#   --c-modules DIR    the C modules (default /lib/x86_64-linux-gnu)
#   --proxy PATH       libvirt-ssh-proxy (default target/release/...; "" skips)
#   --cli PATH         libvirt-nss (default target/release/libvirt-nss)
#   --runs LIST        ours, c, or ours,c (default); comparing needs both
#   --summary FILE     also write the PASS/FAIL lines and the final line there
#   --keep             keep the work dir (logs, consoles, lease snapshots)
#   --accel tcg|kvm    default: kvm only if /dev/kvm is usable AND the CPU shows
#                      vmx/svm (a paravirtual KVM without them cannot run these
#                      guests: qemu aborts with -cpu host, other models hang)
# Env: GUEST_CACHE (scripts/fetch-guest-debs.sh), VM_CACHE (default
#   /var/cache/libvirt-nss-rs/vm: iptables, unpacked), REAL_VMS_TIMEOUT (each
#   wait for guests/leases, default 90 s).
# Needs root; a cold cache needs apt (Debian 12 amd64) and downloads ~48 MB.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SELF=$ROOT/scripts/real-vms.sh
PROG=real-vms
MULTIARCH=x86_64-linux-gnu

say() { echo "$PROG: $*"; }
die() { echo "$PROG: error: $*" >&2; exit 2; }

# =================================================================== inside ==
# Everything below runs as PID 1 of the new PID namespace, in the new mount
# and network namespaces (see `outside` for how it gets there).
if [ "${_RV_INSIDE:-}" = 1 ]; then
    unset _RV_INSIDE
    # shellcheck source=/dev/null
    . "$_RV_CONF"
    exec 3>>"$RESULTS"
    RUN_DIR=$WORK/$RUN
    NST=$RUN_DIR/ns # scratch, a tmpfs private to this namespace
    T=${REAL_VMS_TIMEOUT:-90}
    LEASES=/var/lib/libvirt/dnsmasq
    export LIBVIRT_DEFAULT_URI=qemu:///system HOME=$NST/home
    LIBVIRTD_PID= SYSLOGD_PID=
    STEP=0

    log() { echo "[$RUN +${SECONDS}s] $*"; }
    ok() { echo "PASS [$RUN] $*"; echo "PASS [$RUN] $*" >&3; }
    bad() { echo "FAIL [$RUN] $*"; echo "FAIL [$RUN] $*" >&3; }
    check() { # check DESC CMD...: PASS if CMD succeeds
        local desc=$1; shift
        if "$@"; then ok "$desc"; else bad "$desc"; fi
    }
    # wait_for SECONDS DESC CMD...: poll CMD until it succeeds; bounded
    wait_for() {
        local limit=$1 desc=$2; shift 2
        local deadline=$((SECONDS + limit))
        until "$@" >/dev/null 2>&1; do
            if [ "$SECONDS" -ge "$deadline" ]; then
                log "timed out after ${limit}s waiting for $desc"
                return 1
            fi
            sleep 0.25
        done
    }
    virsh_() { timeout 60 virsh -q "$@"; }

    finish() {
        local rc=$?
        set +e
        # Orderly where possible; the PID namespace ends with us anyway,
        # taking qemu and dnsmasq down with it.
        for d in $(timeout 20 virsh -q list --name 2>/dev/null); do timeout 20 virsh -q destroy "$d" >/dev/null 2>&1; done
        timeout 20 virsh -q net-destroy default >/dev/null 2>&1
        local pid
        for pid in $LIBVIRTD_PID $SYSLOGD_PID; do
            kill -0 "$pid" 2>/dev/null || continue
            kill -TERM "$pid"
            for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
            kill -KILL "$pid" 2>/dev/null
        done
        exit "$rc"
    }
    trap finish EXIT
    trap 'exit 130' INT TERM

    # --------------------------------------------------------- namespaces --
    setup_namespace() {
        # Refuse to go on unless this really is a new network namespace:
        # libvirt's iptables rules must never reach the host's.
        [ "$(stat -L -c %i /proc/self/ns/net)" != "$HOST_NETNS" ] || { echo "not in a private netns" >&2; exit 125; }
        mkdir -p "$NST"
        mount -t tmpfs -o mode=0755 rv-scratch "$NST"
        mkdir -p "$NST"/{home,etc,dev,varup,varwork,libvirt-etc}

        # A fresh sysfs shows this namespace's network devices, and no cgroup
        # hierarchy (libvirt creates no cgroups, on the host or anywhere).
        mount -t sysfs rv-sysfs /sys
        mount -t tmpfs -o mode=0755 rv-run /run

        # /usr: qemu, firmware and iptables over the host's, read-only.
        mount -t overlay rv-usr -o "ro,lowerdir=$USR_LAYERS:/usr" /usr
        # /var: writes go to a tmpfs (the host has no /var/lib/libvirt).
        mount -t overlay rv-var -o "lowerdir=/var,upperdir=$NST/varup,workdir=$NST/varwork" /var
        mkdir -p /var/lib/libvirt/dnsmasq /var/cache/libvirt /var/log/libvirt
        mkdir -p "$RUN_DIR/log"
        mount --bind "$RUN_DIR/log" /var/log/libvirt

        # /dev: only what qemu, libvirt and the tools need (no vsock, no vhost).
        mount -t tmpfs -o mode=0755 rv-dev "$NST/dev"
        local n
        for n in null zero full random urandom tty net/tun ${ACCEL_DEV:-}; do
            mkdir -p "$NST/dev/$(dirname "$n")"
            : >"$NST/dev/$n"
            mount --bind "/dev/$n" "$NST/dev/$n"
        done
        mkdir -p "$NST/dev/pts" "$NST/dev/shm"
        mount -t devpts -o newinstance,ptmxmode=0666 rv-pts "$NST/dev/pts"
        ln -s pts/ptmx "$NST/dev/ptmx"
        mount -t tmpfs -o mode=1777 rv-shm "$NST/dev/shm"
        ln -s /proc/self/fd "$NST/dev/fd"
        mount --move "$NST/dev" /dev

        # /etc: only files bind-mounted over, and a private /etc/libvirt.
        cp /etc/passwd "$NST/etc/passwd"
        cp /etc/group "$NST/etc/group"
        grep -q '^libvirt-qemu:' /etc/passwd || echo 'libvirt-qemu:x:64055:64055:Libvirt Qemu:/var/lib/libvirt:/usr/sbin/nologin' >>"$NST/etc/passwd"
        grep -q '^libvirt-dnsmasq:' /etc/passwd || echo 'libvirt-dnsmasq:x:64056:64056:Libvirt Dnsmasq:/var/lib/libvirt/dnsmasq:/usr/sbin/nologin' >>"$NST/etc/passwd"
        grep -q '^libvirt-qemu:' /etc/group || echo 'libvirt-qemu:x:64055:' >>"$NST/etc/group"
        grep -q '^libvirt-dnsmasq:' /etc/group || echo 'libvirt-dnsmasq:x:64056:' >>"$NST/etc/group"
        grep -q '^libvirt:' /etc/group || echo 'libvirt:x:64057:' >>"$NST/etc/group"
        mount --bind "$NST/etc/passwd" /etc/passwd
        mount --bind "$NST/etc/group" /etc/group
        printf 'passwd: files\ngroup: files\nhosts: files\n' >"$NST/etc/nsswitch.conf"
        mount --bind "$NST/etc/nsswitch.conf" /etc/nsswitch.conf
        write_libvirt_config "$NST/libvirt-etc"
        mount --bind "$NST/libvirt-etc" /etc/libvirt

        # The lease helper under test, where libvirtd has compiled it in.
        mount --bind "$HELPER" /usr/lib/libvirt/libvirt_leaseshelper

        ip link set lo up
        # Fixed addresses of both families (not on virbr0, which comes and
        # goes): getaddrinfo's AI_ADDRCONFIG then always allows both.
        ip link add rvaddr0 type veth peer name rvaddr1
        ip link set rvaddr0 up
        ip link set rvaddr1 up
        ip addr add 10.99.0.1/24 dev rvaddr0
        ip addr add fd00:99::1/64 dev rvaddr0 nodad
    }

    write_libvirt_config() {
        local d=$1
        mkdir -p "$d/qemu/networks" "$d/storage"
        cat >"$d/libvirtd.conf" <<'EOF'
# real-vms.sh: a private libvirtd, root-only sockets in a private /run
unix_sock_group = "root"
unix_sock_ro_perms = "0777"
unix_sock_rw_perms = "0700"
auth_unix_ro = "none"
auth_unix_rw = "none"
log_outputs = "3:file:/var/log/libvirt/libvirtd.log"
EOF
        cat >"$d/qemu.conf" <<'EOF'
# real-vms.sh: qemu as root, no relabelling, no ownership changes or xattrs on
# the cached kernel, no cgroups, no private /dev per guest, logs to files
user = "root"
group = "root"
dynamic_ownership = 0
remember_owner = 0
security_driver = "none"
stdio_handler = "file"
namespaces = [ ]
cgroup_controllers = [ ]
EOF
        printf 'uri_default = "qemu:///system"\n' >"$d/libvirt.conf"
    }

    # ------------------------------------------------------------ libvirt --
    start_libvirtd() {
        # dnsmasq logs to syslog: keep its log (DHCP traffic, helper errors).
        busybox syslogd -n -S -O "$RUN_DIR/log/syslog" </dev/null >/dev/null 2>&1 &
        SYSLOGD_PID=$!
        libvirtd -f /etc/libvirt/libvirtd.conf >"$RUN_DIR/log/libvirtd.out" 2>&1 </dev/null &
        LIBVIRTD_PID=$!
        if wait_for 60 "libvirtd to answer" virsh -q version; then
            ok "libvirtd $(libvirtd --version | awk '{print $NF}') started (pid $LIBVIRTD_PID) in private namespaces"
        else
            bad "libvirtd did not come up"
            tail -n 30 "$RUN_DIR/log/libvirtd.out" "$RUN_DIR/log/libvirtd.log" 2>/dev/null
            exit 1
        fi
    }

    # libvirt's default network (NAT, virbr0, STP on, delay 0) plus an IPv6
    # DHCP range. Two dnsmasq options through libvirt's own XML namespace:
    # log-dhcp (every DHCP exchange in the run's syslog, for failures) and
    # no-ping: before offering a new address dnsmasq pings it for up to 3 s
    # and serves nobody meanwhile, so three guests booting together waited
    # 9-12 s for their leases (measured); neither changes what dnsmasq tells
    # the helper.
    start_network() {
        cat >"$NST/net.xml" <<'EOF'
<network xmlns:dnsmasq='http://libvirt.org/schemas/network/dnsmasq/1.0'>
  <name>default</name>
  <forward mode='nat'/>
  <bridge name='virbr0' stp='on' delay='0'/>
  <mac address='52:54:00:4e:53:00'/>
  <ip address='192.168.122.1' netmask='255.255.255.0'>
    <dhcp>
      <range start='192.168.122.2' end='192.168.122.254'/>
    </dhcp>
  </ip>
  <ip family='ipv6' address='fd00:122::1' prefix='64'>
    <dhcp>
      <range start='fd00:122::100' end='fd00:122::1ff'/>
    </dhcp>
  </ip>
  <dnsmasq:options>
    <dnsmasq:option value='log-dhcp'/>
    <dnsmasq:option value='no-ping'/>
  </dnsmasq:options>
</network>
EOF
        virsh_ net-define "$NST/net.xml" >/dev/null
        if virsh_ net-start default >/dev/null && wait_for 30 "dnsmasq" test -s /run/libvirt/network/default.pid; then
            ok "network default started: virbr0 $(ip -br addr show dev virbr0 | awk '{$1=$2=""; print}' | xargs), dnsmasq pid $(cat /run/libvirt/network/default.pid), helper $HELPER_KIND"
        else
            bad "net-start default failed"
            tail -n 30 "$RUN_DIR/log/libvirtd.log"
            exit 1
        fi
    }

    # ------------------------------------------------------------- guests --
    # Guests are known by a key (alpha, beta, gamma) that survives domrename.
    declare -A DOM=([alpha]=vm-alpha [beta]=vm-beta [gamma]=vm-gamma)
    declare -A GMAC=([alpha]=52:54:00:4e:53:01 [beta]=52:54:00:4e:53:02 [gamma]=52:54:00:4e:53:03)
    declare -A GARGS=([alpha]="rv.host=vm-alpha rv.v6=1" [beta]="rv.host=beta-host" [gamma]="rv.v6=1")
    DOMTYPE=qemu
    [ "$ACCEL" != kvm ] || DOMTYPE=kvm
    console() { echo "$RUN_DIR/$1.console"; }

    define_guest() {
        local g=$1
        mkfifo "$RUN_DIR/$g.ctl.in" "$RUN_DIR/$g.ctl.out"
        cat >"$NST/$g.xml" <<EOF
<domain type='$DOMTYPE'>
  <name>${DOM[$g]}</name>
  <memory unit='MiB'>192</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>$GUEST_KERNEL</kernel>
    <initrd>$INITRD</initrd>
    <cmdline>console=ttyS0 quiet panic=-1 ${GARGS[$g]}</cmdline>
  </os>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>destroy</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <interface type='network'>
      <source network='default'/>
      <mac address='${GMAC[$g]}'/>
      <model type='virtio'/>
      <rom enabled='no'/>
    </interface>
    <serial type='file'>
      <source path='$(console "$g")'/>
      <target port='0'/>
    </serial>
    <serial type='pipe'>
      <source path='$RUN_DIR/$g.ctl'/>
      <target port='1'/>
    </serial>
    <controller type='usb' model='none'/>
    <memballoon model='none'/>
  </devices>
</domain>
EOF
        virsh_ define "$NST/$g.xml" >/dev/null || bad "virsh define ${DOM[$g]} failed"
    }

    start_guest() {
        local g=$1
        # Keep the previous boot's console; the new one starts empty.
        [ ! -s "$(console "$g")" ] || cat "$(console "$g")" >>"$(console "$g").old"
        : >"$(console "$g")"
        virsh_ start "${DOM[$g]}" >/dev/null || bad "virsh start ${DOM[$g]} failed"
    }

    # ctl KEY COMMAND: one line to the guest's control port (ttyS1).
    ctl() { timeout 10 sh -c 'echo "$1" >"$2"' ctl "$2" "$RUN_DIR/$1.ctl.in"; }
    # marker KEY WORD: the last value printed with WORD on the guest's console
    marker() { tr -d '\r' <"$(console "$1")" | awk -v w="$2" '$1 == w { v = $2 } END { if (v == "") exit 1; print v }'; }
    has_marker() { marker "$@" >/dev/null; }

    # ------------------------------------------------------ lease files --
    # "ip mac hostname" per lease ("-" when absent), in the helper's layout.
    leases() {
        [ -f "$LEASES/virbr0.status" ] || return 0
        awk '
            /^  \{$/ { ip = "-"; mac = "-"; host = "-" }
            /^    "ip-address": /  { ip = $2 }
            /^    "mac-address": / { mac = $2 }
            /^    "hostname": /    { host = $2 }
            /^  \}/ { gsub(/[",]/, "", ip); gsub(/[",]/, "", mac); gsub(/[",]/, "", host); print ip, mac, host }
        ' "$LEASES/virbr0.status"
    }
    has_lease_ip() { leases | awk -v ip="$1" '$1 == ip { found = 1 } END { exit !found }'; }
    lacks_lease_ip() { ! has_lease_ip "$1"; }
    in_macs() { [ -f "$LEASES/virbr0.macs" ] && grep -q "\"domain\": \"$1\"" "$LEASES/virbr0.macs"; }
    not_in_macs() { ! in_macs "$1"; }

    # One JSON object per line, members in file order, expiry times and
    # dnsmasq's server DUID (both differ between runs) masked; sorted.
    normalize() {
        [ -f "$1" ] || { echo "(no file)"; return 0; }
        awk '
            /^  \{$/ { obj = ""; inside = 1; next }
            inside && /^  \},?$/ { print obj; inside = 0; next }
            inside {
                line = $0
                sub(/^ +/, "", line)
                sub(/,$/, "", line)
                if (line ~ /^"expiry-time": /) line = "\"expiry-time\": *"
                if (line ~ /^"server-duid": /) line = "\"server-duid\": *"
                obj = obj (obj == "" ? "" : " ") line
            }
        ' "$1" | sort
    }

    boot_guests() {
        local g t0=$SECONDS
        for g in alpha beta gamma; do define_guest "$g"; done
        for g in alpha beta gamma; do start_guest "$g"; done
        ok "defined and started ${DOM[alpha]}, ${DOM[beta]}, ${DOM[gamma]} ($DOMTYPE, 192 MiB, virtio NIC on network default, no vsock)"
        # One deadline for all five leases; without them the rest is moot.
        local deadline=$((SECONDS + T)) missed=0
        wait_bound alpha 4 "$deadline" || missed=1
        wait_bound beta 4 "$deadline" || missed=1
        wait_bound gamma 4 "$deadline" || missed=1
        wait_bound alpha 6 "$deadline" || missed=1
        wait_bound gamma 6 "$deadline" || missed=1
        if [ "$missed" = 1 ]; then
            bad "the guests did not all get their leases within ${T}s; dnsmasq's log:"
            grep -a -E 'DHCP[A-Z]+\(' "$RUN_DIR/log/syslog" | tail -n 20 | sed 's/^/    /'
            exit 1
        fi
        A4=$(marker alpha RV-BOUND4 || echo none) A6=$(marker alpha RV-BOUND6 || echo none)
        B4=$(marker beta RV-BOUND4 || echo none)
        G4=$(marker gamma RV-BOUND4 || echo none) G6=$(marker gamma RV-BOUND6 || echo none)
        log "guests bound after $((SECONDS - t0)) s: vm-alpha $A4 $A6, vm-beta $B4, vm-gamma $G4 $G6"
        local ip
        for ip in "$A4" "$A6" "$B4" "$G4" "$G6"; do
            if wait_for 30 "the lease of $ip in virbr0.status" has_lease_ip "$ip"; then
                ok "virbr0.status holds $(leases | awk -v ip="$ip" '$1 == ip')"
            else
                bad "virbr0.status lacks the lease of $ip"
            fi
        done
        for g in alpha beta gamma; do
            check "virbr0.macs (written by libvirtd) lists ${DOM[$g]} with ${GMAC[$g]}" in_macs "${DOM[$g]}"
        done
    }

    # wait_bound KEY 4|6 [DEADLINE]: the guest says it has its lease (under
    # TCG udhcpc may miss an ACK and ask again, although the lease is already
    # on file). DEADLINE: a $SECONDS value shared with other waits.
    wait_bound() {
        local g=$1 v=$2 deadline=${3:-$((SECONDS + T))} left
        left=$((deadline - SECONDS))
        [ "$left" -ge 1 ] || left=1
        if wait_for "$left" "${DOM[$g]} to report a DHCPv$v lease" has_marker "$g" "RV-BOUND$v"; then
            return 0
        fi
        bad "${DOM[$g]}: no DHCPv$v lease in time; its console:"
        tail -n 15 "$(console "$g")" | sed 's/^/    /'
        return 1
    }

    # ------------------------------------------------------------- model --
    # What the lease files should say, and so what every lookup must answer:
    #   L4/L6[g]  live leases; HN[g] the hostname they carry ("" = none);
    #   MD[g]     the domain name under which libvirt lists g's MAC in .macs.
    declare -A L4=() L6=() HN=() MD=()
    model_init() {
        L4=([alpha]=$A4 [beta]=$B4 [gamma]=$G4)
        L6=([alpha]=$A6 [beta]= [gamma]=$G6)
        HN=([alpha]=vm-alpha [beta]=beta-host [gamma]=)
        MD=([alpha]=vm-alpha [beta]=vm-beta [gamma]=vm-gamma)
    }
    addrs_of() { local g=$1; echo "${L4[$g]} ${L6[$g]}"; }
    # expected_addrs LINE NAME: the addresses "hosts: LINE" must give NAME
    expected_addrs() {
        local line=$1 name=$2 g out=
        local n=${name,,}
        if [[ $line == *libvirt* && $line != libvirt_guest ]]; then
            for g in alpha beta gamma; do [ "${HN[$g],,}" != "$n" ] || [ -z "$n" ] || out+=" $(addrs_of "$g")"; done
        fi
        if [ -z "${out// /}" ] && [[ $line == *libvirt_guest* ]]; then
            for g in alpha beta gamma; do [ "${MD[$g],,}" != "$n" ] || out+=" $(addrs_of "$g")"; done
        fi
        echo $out
    }
    # expected_name LINE IP: the name a reverse lookup must give ("" = none)
    expected_name() {
        local line=$1 ip=$2 g
        for g in alpha beta gamma; do
            [ "$ip" = "${L4[$g]}" ] || [ "$ip" = "${L6[$g]}" ] || continue
            if [[ $line == *libvirt* && $line != libvirt_guest ]] && [ -n "${HN[$g]}" ]; then echo "${HN[$g]}"; return; fi
            if [[ $line == *libvirt_guest* ]] && [ -n "${MD[$g]}" ]; then echo "${MD[$g]}"; return; fi
        done
    }

    # ----------------------------------------------------------- lookups --
    LINES=("libvirt" "libvirt_guest" "files libvirt libvirt_guest")
    NAMES=(vm-alpha beta-host vm-beta vm-gamma vm-delta no-such-vm)
    FORMS=(hosts ahosts ahostsv4 ahostsv6)
    # lookups DIR: every form of every name and a reverse lookup of every
    # address, under each hosts line, with our modules and with the C ones;
    # each getent in a fresh process (glibc never reloads a module),
    # LD_LIBRARY_PATH choosing the module pair. Results in DIR/SET/LINE/.
    lookups() {
        local dir=$1 li set ip ips=()
        for ip in "$A4" "$A6" "$B4" "$G4" "$G6"; do [ "$ip" = none ] || ips+=("$ip"); done
        for li in 0 1 2; do
            printf 'passwd: files\ngroup: files\nhosts: %s\n' "${LINES[$li]}" >/etc/nsswitch.conf
            # The two module pairs side by side (two cores). `wait PID`: a
            # bare `wait` would wait for libvirtd too.
            local pids=()
            lookup_batch "$MODULES" "$dir/ours/$li" "${ips[@]}" &
            pids+=($!)
            if [ "$DEMO" = 0 ]; then
                lookup_batch "$C_MODULES" "$dir/c/$li" "${ips[@]}" &
                pids+=($!)
            fi
            wait "${pids[@]}"
        done
        printf 'passwd: files\ngroup: files\nhosts: files\n' >/etc/nsswitch.conf
    }
    lookup_batch() { # lookup_batch MODULE-DIR OUT-DIR IP...
        local mods=$1 out=$2 key form
        shift 2
        mkdir -p "$out"
        for key in "${NAMES[@]}"; do
            for form in "${FORMS[@]}"; do
                LD_LIBRARY_PATH=$mods timeout 10 getent "$form" "$key" >"$out/$form.$key.out" 2>&1
                echo $? >"$out/$form.$key.rc"
            done
        done
        for key; do
            LD_LIBRARY_PATH=$mods timeout 10 getent hosts "$key" >"$out/hosts.$key.out" 2>&1
            echo $? >"$out/hosts.$key.rc"
        done
    }
    result() { cat "$1.out"; echo "(exit $(cat "$1.rc"))"; }
    join() { local out= x; for x; do out+="${out:+; }$x"; done; echo "$out"; }
    is_ip() { [ "$1" = "$A4" ] || [ "$1" = "$A6" ] || [ "$1" = "$B4" ] || [ "$1" = "$G4" ] || [ "$1" = "$G6" ]; }
    # getent's addresses (ahosts*: the STREAM lines), sorted
    addrs_in() { awk '$2 == "STREAM" || NF == 2 { print $1 }' "$1.out" | sort -u | xargs; }

    # check_lookups STEP DIR: ours against the model and against C.
    check_lookups() {
        local step=$1 dir=$2 li line key want got f n_same n_rev diffs
        for li in 0 1 2; do
            line=${LINES[$li]}
            # Against the model: names (all forms) and reverse lookups; one
            # line each when all is well, one FAIL line per wrong answer.
            local names_ok=1 names_seen=() rev_ok=1 rev_seen=()
            for key in "${NAMES[@]}"; do
                want=$(expected_addrs "$line" "$key")
                if check_forms "$line" "$key" "$want" "$dir/ours/$li"; then
                    names_seen+=("$key -> ${want:-not found}")
                else
                    names_ok=0
                    bad "$step: hosts: $line: $key: wanted ${want:-not found}; wrong:$FORM_ERRS"
                    for f in $FORM_ERRS; do echo "    getent $f $key: $(result "$dir/ours/$li/$f.$key" | xargs)"; done
                fi
            done
            [ "$names_ok" = 0 ] || ok "$step: hosts: $line: $(join "${names_seen[@]}") (hosts, ahosts, ahostsv4, ahostsv6)"
            for key in "$A4" "$A6" "$B4" "$G4" "$G6"; do
                [ "$key" != none ] || continue
                want=$(expected_name "$line" "$key")
                f=$dir/ours/$li/hosts.$key
                got=$(awk '{ print $2 }' "$f.out")
                if { [ -z "$want" ] && [ "$(cat "$f.rc")" = 2 ] && [ ! -s "$f.out" ]; } \
                    || { [ -n "$want" ] && [ "$(cat "$f.rc")" = 0 ] && [ "$got" = "$want" ]; }; then
                    rev_seen+=("$key -> ${want:-not found}")
                else
                    rev_ok=0
                    bad "$step: hosts: $line: reverse $key: wanted ${want:-not found}, got $(result "$f" | xargs)"
                fi
            done
            [ "$rev_ok" = 0 ] || ok "$step: hosts: $line: reverse $(join "${rev_seen[@]}")"
            [ "$DEMO" = 0 ] || continue
            # Against libvirt's C modules: every answer the same, except
            # reverse lookups (N22: C has no gethostbyaddr_r).
            n_same=0 n_rev=0 diffs=0
            local q c
            for q in "$dir/ours/$li/"*.rc; do
                q=${q%.rc}
                c=$dir/c/$li/${q##*/}
                if cmp -s "$q.out" "$c.out" && cmp -s "$q.rc" "$c.rc"; then
                    n_same=$((n_same + 1))
                elif is_ip "${q##*/hosts.}" && [ "$(cat "$c.rc")" = 2 ] && [ ! -s "$c.out" ]; then
                    n_rev=$((n_rev + 1))
                else
                    diffs=$((diffs + 1))
                    bad "$step: hosts: $line: getent ${q##*/} differs from the C modules: ours $(result "$q" | xargs), C $(result "$c" | xargs)"
                fi
            done
            [ "$diffs" != 0 ] || ok "$step: hosts: $line: ours == C modules for $n_same lookups; $n_rev reverse lookups answered only by ours (N22)"
        done
    }

    # check_forms LINE NAME "ADDRS" DIR: hosts, ahosts, ahostsv4 and ahostsv6
    # all agree with the expected address set; FORM_ERRS names those that do not.
    check_forms() {
        local line=$1 key=$2 want=$3 base=$4 a v4= v6= all mapped
        FORM_ERRS=
        for a in $want; do if [[ $a == *:* ]]; then v6+=" $a"; else v4+=" $a"; fi; done
        v4=$(printf '%s\n' $v4 | sort -u | xargs) v6=$(printf '%s\n' $v6 | sort -u | xargs)
        all=$(printf '%s\n' $v4 $v6 | sort -u | xargs)
        # ahostsv6 is AI_V4MAPPED: IPv4 addresses mapped when there is no IPv6 one
        mapped=$v6
        [ -n "$v6" ] || mapped=$(for a in $v4; do echo "::ffff:$a"; done | xargs)
        # hosts (gethostbyname2): IPv6 when there is any, else IPv4
        expect_form hosts "${v6:-$v4}" || FORM_ERRS+=" hosts"
        expect_form ahosts "$all" || FORM_ERRS+=" ahosts"
        expect_form ahostsv4 "$v4" || FORM_ERRS+=" ahostsv4"
        expect_form ahostsv6 "$mapped" || FORM_ERRS+=" ahostsv6"
        [ -z "$FORM_ERRS" ]
    }
    expect_form() {
        local form=$1 want=$2 f=$base/$1.$key got
        if [ -z "$want" ]; then
            [ "$(cat "$f.rc")" = 2 ] && [ ! -s "$f.out" ]
            return
        fi
        [ "$(cat "$f.rc")" = 0 ] || return 1
        got=$(addrs_in "$f")
        [ "$got" = "$want" ] || return 1
        # The name printed is the name asked for (h_name, N20).
        if [ "$form" = hosts ]; then
            awk -v k="$key" '$2 != k { exit 1 }' "$f.out"
        else
            awk -v k="$key" '$2 == "STREAM" && !done { done = 1; if ($3 != k) exit 1 }' "$f.out"
        fi
    }

    # ------------------------------------------------------- checkpoints --
    # checkpoint NAME: snapshot the lease files, then every lookup.
    checkpoint() {
        STEP=$((STEP + 1))
        local step
        step=$(printf '%02d-%s' "$STEP" "$1")
        log "-- $step"
        mkdir -p "$RUN_DIR/snap"
        local kind
        for kind in status macs; do
            if [ -f "$LEASES/virbr0.$kind" ]; then
                cp "$LEASES/virbr0.$kind" "$RUN_DIR/snap/$step.$kind"
            fi
            normalize "$LEASES/virbr0.$kind" >"$RUN_DIR/snap/$step.$kind.norm"
        done
        lookups "$RUN_DIR/lookups/$step"
        check_lookups "$step" "$RUN_DIR/lookups/$step"
    }

    # ------------------------------------------------------------ events --
    proxy_checks() {
        [ -n "$PROXY" ] || return 0
        local out rc=0
        out=$(LIBVIRT_SSH_PROXY_VSOCK=deny timeout 20 "$PROXY" --uri qemu:///system resolve qemu/vm-alpha 2>&1) || rc=$?
        if [ "$rc" = 0 ] && grep -qF "lease $A4:22" <<<"$out"; then
            ok "libvirt-ssh-proxy --uri qemu:///system resolve qemu/vm-alpha: $(grep -F 'lease' <<<"$out" | xargs)"
        else
            bad "libvirt-ssh-proxy resolve qemu/vm-alpha (exit $rc): $out"
        fi
        rc=0
        # Byte relay (stdout is not a socket) to busybox nc on the guest's port 22.
        out=$(LIBVIRT_SSH_PROXY_VSOCK=deny timeout 30 "$PROXY" --uri qemu:///system qemu/vm-alpha 22 </dev/null 2>&1) || rc=$?
        if [ "$rc" = 0 ] && [ "$out" = "RV-BANNER vm-alpha" ]; then
            ok "libvirt-ssh-proxy qemu/vm-alpha 22 (VSOCK denied) connected to the guest over its lease: \"$out\""
        else
            bad "libvirt-ssh-proxy qemu/vm-alpha 22 (exit $rc): $out"
        fi
    }

    release4() { # release4 KEY
        local g=$1 ip=${L4[$1]}
        ctl "$g" release4 || bad "could not write to ${DOM[$g]}'s control port"
        if wait_for 30 "the lease of $ip to go" lacks_lease_ip "$ip"; then
            ok "${DOM[$g]} sent DHCPRELEASE: the helper's 'del' took $ip out of virbr0.status"
        else
            bad "${DOM[$g]}: $ip still in virbr0.status after DHCPRELEASE"
        fi
        L4[$g]=
    }
    release6() { # release6 KEY
        local g=$1 ip=${L6[$1]}
        ctl "$g" release6 || bad "could not write to ${DOM[$g]}'s control port"
        if wait_for 30 "the lease of $ip to go" lacks_lease_ip "$ip"; then
            ok "${DOM[$g]} sent a DHCPv6 RELEASE (dhclient -6 -r): $ip left virbr0.status"
        else
            bad "${DOM[$g]}: $ip still in virbr0.status after the DHCPv6 RELEASE"
        fi
        L6[$g]=
    }
    destroy() { # destroy KEY: its leases stay (no release), its .macs entry goes
        local g=$1
        virsh_ destroy "${DOM[$g]}" >/dev/null || bad "virsh destroy ${DOM[$g]} failed"
        if wait_for 30 "${DOM[$g]} to leave virbr0.macs" not_in_macs "${DOM[$g]}"; then
            ok "virsh destroy ${DOM[$g]}: libvirtd took it out of virbr0.macs; its leases stay in virbr0.status"
        else
            bad "virsh destroy ${DOM[$g]}: still in virbr0.macs"
        fi
        MD[$g]=
    }

    sequence() {
        checkpoint all-up
        proxy_checks

        release4 beta
        checkpoint beta-released-v4

        release6 gamma
        checkpoint gamma-released-v6

        destroy gamma
        checkpoint gamma-destroyed

        destroy alpha
        if virsh_ domrename vm-alpha vm-delta >/dev/null; then
            DOM[alpha]=vm-delta
            ok "virsh domrename vm-alpha vm-delta (shut off): virbr0.macs unchanged until the next start"
        else
            bad "virsh domrename vm-alpha vm-delta failed"
        fi
        check "vm-delta not in virbr0.macs before its start" not_in_macs vm-delta
        checkpoint alpha-renamed

        start_guest alpha
        MD[alpha]=vm-delta
        if wait_for 30 "vm-delta in virbr0.macs" in_macs vm-delta; then
            ok "virsh start vm-delta: libvirtd listed it in virbr0.macs"
        else
            bad "virsh start vm-delta: not in virbr0.macs"
        fi
        # The guest asks again (same MAC, same DUID): the same addresses.
        if wait_bound alpha 4 && wait_bound alpha 6; then
            local a4 a6
            a4=$(marker alpha RV-BOUND4) a6=$(marker alpha RV-BOUND6)
            [ "$a4 $a6" = "$A4 $A6" ] && ok "vm-delta (still sending hostname vm-alpha) got its leases back: $a4 $a6" \
                || bad "vm-delta got $a4 $a6, not $A4 $A6"
        fi
        checkpoint delta-started

        virsh_ net-destroy default >/dev/null && ok "virsh net-destroy default: dnsmasq and virbr0 gone" || bad "virsh net-destroy default failed"
        checkpoint network-destroyed
        if virsh_ net-start default >/dev/null && wait_for 30 "dnsmasq" test -s /run/libvirt/network/default.pid; then
            ok "virsh net-start default: dnsmasq $(cat /run/libvirt/network/default.pid) replayed the leases through the helper's init"
        else
            bad "virsh net-start default failed"
        fi
        sleep 2 # dnsmasq runs the helper for every lease it loaded
        checkpoint network-restarted

        virsh_ destroy vm-delta >/dev/null || bad "virsh destroy vm-delta failed"
        sleep 2
        if in_macs vm-delta; then
            ok "virsh destroy vm-delta after the network restart: libvirt lost its network port, vm-delta stays in virbr0.macs"
        else
            MD[alpha]=
            ok "virsh destroy vm-delta after the network restart: vm-delta left virbr0.macs"
        fi
        checkpoint delta-destroyed-after-restart
    }

    # libvirtd itself reads the lease file for `virsh net-dhcp-leases`.
    check_net_dhcp_leases() {
        local out ip missing=
        out=$(virsh_ net-dhcp-leases default 2>&1) || true
        for ip in "$A4" "$A6" "$B4" "$G4" "$G6"; do grep -qF "$ip/" <<<"$out" || missing+=" $ip"; done
        if [ -z "$missing" ]; then
            ok "virsh net-dhcp-leases default (libvirtd reading virbr0.status) lists all $(grep -c '/' <<<"$out") leases"
        else
            bad "virsh net-dhcp-leases default lacks$missing:"
            sed 's/^/    /' <<<"$out"
        fi
    }

    # glibc really loads the module pair LD_LIBRARY_PATH names.
    check_module_choice() {
        local set mods m
        for set in ours c; do
            mods=$MODULES
            if [ "$set" = c ]; then [ "$DEMO" = 0 ] || continue; mods=$C_MODULES; fi
            for m in libvirt libvirt_guest; do
                printf 'passwd: files\ngroup: files\nhosts: %s\n' "$m" >/etc/nsswitch.conf
                local trace
                trace=$(LD_DEBUG=libs LD_LIBRARY_PATH=$mods timeout 10 getent hosts no-such-vm 2>&1)
                if grep -qF "calling init: $mods/libnss_$m.so.2" <<<"$trace"; then
                    ok "getent loads $mods/libnss_$m.so.2 ($set)"
                else
                    bad "getent does not load $mods/libnss_$m.so.2 ($set)"
                fi
            done
        done
        printf 'passwd: files\ngroup: files\nhosts: files\n' >/etc/nsswitch.conf
    }

    # make demo-vm: what a user sees, with our modules in place of the system's.
    demo() {
        local m sysdir=/lib/$MULTIARCH
        for m in libnss_libvirt.so.2 libnss_libvirt_guest.so.2; do
            if [ -e "$sysdir/$m" ]; then
                mount --bind "$MODULES/$m" "$sysdir/$m"
            else
                export LD_LIBRARY_PATH=$MODULES
            fi
        done
        printf 'passwd: files\ngroup: files\nhosts: files libvirt libvirt_guest\n' >/etc/nsswitch.conf
        show() { echo; echo "\$ $*"; "$@" 2>&1 || echo "(exit $?)"; }
        echo
        echo "== three real VMs behind libvirt's NAT network; hosts: files libvirt libvirt_guest"
        show virsh list
        show virsh net-dhcp-leases default
        show getent hosts vm-alpha
        show getent ahosts vm-alpha
        show getent hosts beta-host
        show getent hosts vm-beta
        show getent ahostsv4 vm-gamma
        show getent hosts "$A4"
        show "$CLI" list
        show "$CLI" explain vm-gamma
        [ -z "$PROXY" ] || show env LIBVIRT_SSH_PROXY_VSOCK=deny "$PROXY" --uri qemu:///system resolve qemu/vm-alpha
        [ -z "$PROXY" ] || show env LIBVIRT_SSH_PROXY_VSOCK=deny timeout 20 "$PROXY" --uri qemu:///system qemu/vm-alpha 22
    }

    setup_namespace
    start_libvirtd
    start_network
    # From here on a failed command is a FAIL line, not the end of the run.
    set +e
    boot_guests
    if [ -n "${HOLD:-}" ]; then
        log "holding for $HOLD s (nsenter -a -t <pid of the unshare child>)"
        sleep "$HOLD"
    fi
    if [ "$DEMO" = 1 ]; then
        demo
    else
        check_module_choice
        model_init
        check_net_dhcp_leases
        sequence
    fi
    log "done"
    exit 0
fi

# ================================================================== outside ==
# Functions only, then `main "$@"` on the last line: bash has read all of it
# before anything runs, so editing this file during a run changes nothing.

# iptables (libvirt's NAT rules, applied inside the private netns only): the
# same apt-get download + dpkg-deb -x as fetch-guest-debs.sh, into $VM_CACHE.
fetch_vm_debs() {
    mkdir -p "$VM_CACHE"
    exec 8>"$VM_CACHE/.lock"
    flock 8
    if [ -s "$VM_CACHE/ready" ] && [ -x "$VM_CACHE/root/usr/sbin/xtables-nft-multi" ]; then
        exec 8>&-
        return 0
    fi
    say "fetching iptables into $VM_CACHE (apt-get download + dpkg-deb -x; nothing installed)"
    export DEBIAN_FRONTEND=noninteractive
    compgen -G '/var/lib/apt/lists/*_Packages*' >/dev/null || apt-get update -qq
    resolve() {
        { apt-get install -s -qq --no-install-recommends iptables 2>/dev/null | awk '$1 == "Inst" { print $2 }'
          echo iptables; } | sort -u
    }
    local packages deb
    mapfile -t packages < <(resolve)
    rm -rf "$VM_CACHE/debs.new" "$VM_CACHE/root.new"
    mkdir -p "$VM_CACHE/debs.new" "$VM_CACHE/root.new"
    if ! (cd "$VM_CACHE/debs.new" && apt-get download -qq -o APT::Sandbox::User=root "${packages[@]}"); then
        # Stale lists point at superseded versions; refresh once.
        apt-get update -qq
        mapfile -t packages < <(resolve)
        (cd "$VM_CACHE/debs.new" && apt-get download -qq -o APT::Sandbox::User=root "${packages[@]}")
    fi
    for deb in "$VM_CACHE/debs.new"/*.deb; do dpkg-deb -x "$deb" "$VM_CACHE/root.new"; done
    [ -x "$VM_CACHE/root.new/usr/sbin/xtables-nft-multi" ] || die "iptables did not unpack xtables-nft-multi"
    rm -f "$VM_CACHE/ready"
    rm -rf "$VM_CACHE/debs" "$VM_CACHE/root"
    mv "$VM_CACHE/debs.new" "$VM_CACHE/debs"
    mv "$VM_CACHE/root.new" "$VM_CACHE/root"
    printf '%s\n' "${packages[@]}" >"$VM_CACHE/ready"
    exec 8>&-
}

# One more /usr layer: what the .debs would have set up in their postinst
# (the iptables alternatives, on iptables-nft as Debian 12 does) and the
# libraries they ship in /lib (merged into /usr on Debian 12).
make_usr_layer() {
    local layer=$WORK/usr-layer/usr t tree
    mkdir -p "$layer/sbin" "$layer/lib"
    for t in iptables iptables-save iptables-restore ip6tables ip6tables-save ip6tables-restore; do
        ln -s xtables-nft-multi "$layer/sbin/$t"
    done
    for tree in "$GUEST_ROOT" "$VM_CACHE/root"; do
        [ ! -d "$tree/lib/$MULTIARCH" ] || cp -as "$tree/lib/$MULTIARCH" "$layer/lib/"
    done
    USR_LAYERS=$layer:$GUEST_ROOT/usr:$VM_CACHE/root/usr
}

# --------------------------------------------------------------- initramfs --
# One initramfs for every guest: static busybox, the virtio NIC modules (the
# cloud kernel has no e1000; loaded in dependency order), the host's dhclient
# for DHCPv6 (busybox has no DHCPv6 client) and /init. What a guest does
# comes from its kernel command line (domain XML <cmdline>):
#   rv.host=NAME  hostname sent with DHCPv4 (udhcpc -x hostname:NAME) and as
#                 the DHCPv6 FQDN; absent: none sent
#   rv.v6=1       also run dhclient -6 (DUID-LL, so the address is the same in
#                 every run)
# It prints RV-BOUND4/RV-BOUND6 lines on the console (ttyS0), listens on TCP
# port 22 (busybox nc printing "RV-BANNER <hostname>") and reads commands from
# ttyS1 (a FIFO on the host): release4 (udhcpc sends DHCPRELEASE), release6
# (dhclient -6 -r).
build_initramfs() {
    local stage=$WORK/initramfs out=$WORK/initramfs.cpio
    mkdir -p "$stage"/{usr/bin,usr/sbin,usr/lib,usr/lib64,proc,sys,dev,tmp,run,etc,root,var/lib/dhcp}
    local d
    for d in bin sbin lib lib64; do ln -s "usr/$d" "$stage/$d"; done
    # The kernel opens /dev/console for /init before devtmpfs is mounted.
    mknod -m 600 "$stage/dev/console" c 5 1
    mknod -m 666 "$stage/dev/null" c 1 3
    cp "$GUEST_BUSYBOX" "$stage/usr/bin/busybox"
    local applet
    for applet in $("$GUEST_BUSYBOX" --list); do
        [ -e "$stage/usr/bin/$applet" ] || ln -s busybox "$stage/usr/bin/$applet"
    done
    # dhclient and its libraries at their host paths.
    local dhclient lib
    dhclient=$(command -v dhclient || echo /sbin/dhclient)
    rm -f "$stage/usr/sbin/dhclient"
    cp -L "$dhclient" "$stage/usr/sbin/dhclient"
    for lib in $(ldd "$dhclient" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }'); do
        mkdir -p "$stage$(dirname "$lib")"
        cp -L "$lib" "$stage$lib"
    done
    # Kernel modules, each after its dependencies (modules.dep order).
    local moddir=$GUEST_ROOT/lib/modules/$GUEST_KVER
    declare -A seen=()
    : >"$stage/etc/rv-modules"
    add_module() {
        local rel=$1 dep
        [ -z "${seen[$rel]:-}" ] || return 0
        seen[$rel]=1
        for dep in $(awk -v m="$rel" -F': *' '$1 == m { print $2 }' "$moddir/modules.dep"); do add_module "$dep"; done
        mkdir -p "$stage/lib/modules/$(dirname "$rel")"
        cp "$moddir/$rel" "$stage/lib/modules/$rel"
        echo "/lib/modules/$rel" >>"$stage/etc/rv-modules"
    }
    local name rel
    for name in virtio_pci virtio_net; do
        rel=$(awk -F: -v w="$name" '{ n = $1; sub(/.*\//, "", n); sub(/\.ko.*$/, "", n); if (n == w) { print $1; exit } }' "$moddir/modules.dep")
        [ -n "$rel" ] || die "kernel module $name not in $GUEST_KVER"
        add_module "$rel"
    done
    printf 'root:x:0:0:root:/root:/bin/sh\n' >"$stage/etc/passwd"
    printf 'root:x:0:\n' >"$stage/etc/group"
    printf 'hosts: files\n' >"$stage/etc/nsswitch.conf"
    printf '127.0.0.1 localhost\n::1 localhost\n' >"$stage/etc/hosts"
    cat >"$stage/etc/rv-udhcpc.sh" <<'GUEST'
#!/bin/sh
case $1 in
deconfig) ip -4 addr flush dev "$interface" ;;
bound|renew)
    ip -4 addr flush dev "$interface"
    ip -4 addr add "$ip/${mask:-24}" dev "$interface"
    [ -z "$router" ] || ip -4 route replace default via "${router%% *}" dev "$interface"
    echo "RV-BOUND4 $ip $(cut -d' ' -f1 /proc/uptime)" >/dev/console ;;
esac
exit 0
GUEST
    cat >"$stage/etc/rv-dhclient6.sh" <<'GUEST'
#!/bin/sh
case $reason in
PREINIT6) ip link set "$interface" up ;;
BOUND6|RENEW6|REBIND6|REBOOT6)
    ip -6 addr add "$new_ip6_address/$new_ip6_prefixlen" dev "$interface" 2>/dev/null
    echo "RV-BOUND6 $new_ip6_address $(cut -d' ' -f1 /proc/uptime)" >/dev/console ;;
RELEASE6|STOP6|EXPIRE6)
    [ -z "$old_ip6_address" ] || ip -6 addr del "$old_ip6_address/$old_ip6_prefixlen" dev "$interface" 2>/dev/null
    echo "RV-UNBOUND6 $old_ip6_address" >/dev/console ;;
esac
exit 0
GUEST
    cat >"$stage/bin/rv-banner" <<'GUEST'
#!/bin/sh
echo "RV-BANNER $(hostname)"
GUEST
    cat >"$stage/init" <<'GUEST'
#!/bin/sh
export PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /run
mount -t tmpfs -o mode=1777 tmpfs /tmp
dmesg -n 1
host= v6=0
for arg in $(cat /proc/cmdline); do
    case $arg in
    rv.host=*) host=${arg#rv.host=} ;;
    rv.v6=*) v6=${arg#rv.v6=} ;;
    esac
done
hostname "${host:-rv-guest}"
# IPv6 addresses usable at once (no duplicate address detection).
for f in all default; do echo 0 >/proc/sys/net/ipv6/conf/$f/accept_dad; done
while read -r ko; do insmod "$ko" || echo "RV-INSMOD-FAILED $ko"; done </etc/rv-modules
ip link set lo up
ip link set eth0 up
echo "RV-UP $(hostname) $(cat /sys/class/net/eth0/address) $(cut -d' ' -f1 /proc/uptime)"
set -- -x "hostname:$host"
[ -n "$host" ] || set --
udhcpc -i eth0 -f -R -t 30 -T 2 -A 2 -p /run/udhcpc.pid -s /etc/rv-udhcpc.sh "$@" </dev/null 2>&1 &
dh6() {
    : >/etc/dhclient6.conf
    [ -z "$host" ] || printf 'send fqdn.fqdn "%s";\nsend fqdn.server-update off;\n' "$host" >/etc/dhclient6.conf
    dhclient -6 "$@" -D LL -cf /etc/dhclient6.conf -sf /etc/rv-dhclient6.sh \
        -lf /var/lib/dhcp/dhclient6.leases -pf /run/dhclient6.pid eth0
}
if [ "$v6" = 1 ]; then
    # dhclient -6 needs the link-local address, which comes with the carrier.
    n=0
    until ip -6 addr show dev eth0 scope link | grep -q inet6 || [ $n -ge 300 ]; do sleep 0.1; n=$((n + 1)); done
    dh6 -d </dev/null >/dev/null 2>&1 &
fi
nc -ll -p 22 -e /bin/rv-banner </dev/null >/dev/null 2>&1 &
stty -F /dev/ttyS1 -echo -onlcr 2>/dev/null
exec 3</dev/ttyS1
while read -r cmd <&3; do
    echo "RV-CMD $cmd"
    case $cmd in
    release4) kill -USR2 "$(cat /run/udhcpc.pid)" && echo "RV-RELEASED4" ;;
    release6) kill "$(cat /run/dhclient6.pid)"; sleep 1; dh6 -r </dev/null 2>&1 && echo "RV-RELEASED6" ;;
    run\ *) sh -c "${cmd#run }" </dev/null 2>&1; echo "RV-RAN $?" ;;
    esac
done
echo "RV-CONTROL-EOF"
while :; do sleep 3600; done
GUEST
    chmod 0755 "$stage/init" "$stage/etc/rv-udhcpc.sh" "$stage/etc/rv-dhclient6.sh" "$stage/bin/rv-banner"
    (cd "$stage" && find . -print | "$GUEST_BUSYBOX" cpio -o -H newc 2>/dev/null) >"$out"
    rm -rf "$stage"
    say "guest initramfs $(($(stat -c %s "$out") / 1024)) KiB (busybox, virtio_net, dhclient), kernel $GUEST_KVER, accel $ACCEL"
}

# run NAME HELPER KIND: one sequence in fresh namespaces (the script again,
# as PID 1 of a new PID namespace).
run() {
    local name=$1 helper=$2 kind=$3 rc=0
    mkdir -p "$WORK/$name"
    {
        declare -p WORK RESULTS MODULES C_MODULES PROXY CLI HOST_NETNS USR_LAYERS ACCEL ACCEL_DEV
        declare -p DEMO HOLD RUNS GUEST_KERNEL INITRD
        printf 'RUN=%q\nHELPER=%q\nHELPER_KIND=%q\n' "$name" "$helper" "$kind"
    } >"$WORK/$name.conf"
    say "== run '$name': lease helper $helper ($kind)"
    # setpriv --pdeathsig: unshare dies with this script, even by SIGKILL;
    # unshare --kill-child: the namespace's init (and so the whole PID
    # namespace: libvirtd, dnsmasq, qemu) dies with unshare.
    _RV_INSIDE=1 _RV_CONF=$WORK/$name.conf setpriv --pdeathsig KILL -- \
        unshare --mount --net --pid --fork --kill-child --mount-proc --propagation private -- "$SELF" &
    UNSHARE_PID=$!
    wait "$UNSHARE_PID" || rc=$?
    UNSHARE_PID=
    if [ "$rc" != 0 ]; then
        say "run '$name' ended with status $rc"
        echo "FAIL [$name] the run ended with status $rc" >>"$RESULTS"
    fi
}

# The .status/.macs contents after each step, ours against the C helper's.
compare_runs() {
    local f step kind
    say "== the lease files of both runs, step by step"
    for f in "$WORK/ours/snap/"*.status.norm "$WORK/ours/snap/"*.macs.norm; do
        [ -e "$f" ] || continue
        step=$(basename "$f" .norm)
        kind=${step##*.}
        step=${step%.*}
        if [ ! -e "$WORK/c/snap/$step.$kind.norm" ]; then
            echo "FAIL [compare] $step: the C run has no $kind snapshot" | tee -a "$RESULTS"
        elif cmp -s "$f" "$WORK/c/snap/$step.$kind.norm"; then
            echo "PASS [compare] $step: virbr0.$kind the same with both helpers ($(wc -l <"$f") entries)" | tee -a "$RESULTS"
        else
            echo "FAIL [compare] $step: virbr0.$kind differs (< ours, > C):" | tee -a "$RESULTS"
            { diff "$f" "$WORK/c/snap/$step.$kind.norm" || true; } | sed 's/^/    /' | tee -a "$RESULTS"
        fi
    done
}

cleanup() {
    local rc=$?
    set +e
    if [ -n "$UNSHARE_PID" ] && kill -0 "$UNSHARE_PID" 2>/dev/null; then
        # The namespace's init first (its trap stops the guests, the network
        # and libvirtd), for at most 20 s; then unshare itself, which ignores
        # SIGTERM while it waits: its death SIGKILLs the init (--kill-child),
        # and with it every process of the PID namespace.
        local init _
        init=$(ps -o pid= --ppid "$UNSHARE_PID" 2>/dev/null | head -n 1)
        [ -z "$init" ] || kill -TERM "$init" 2>/dev/null
        for _ in $(seq 100); do kill -0 "$UNSHARE_PID" 2>/dev/null || break; sleep 0.2; done
        kill -KILL "$UNSHARE_PID" 2>/dev/null
        wait "$UNSHARE_PID" 2>/dev/null
    fi
    if [ "$KEEP" = 1 ]; then say "work dir kept: $WORK"; else rm -rf "$WORK"; fi
    exit "$rc"
}

main() {
    HELPER=$ROOT/target/release/libvirt_leaseshelper
    MODULES=$ROOT/target/modules
    C_HELPER=/usr/lib/libvirt/libvirt_leaseshelper
    C_MODULES=/lib/$MULTIARCH
    PROXY=$ROOT/target/release/libvirt-ssh-proxy
    CLI=$ROOT/target/release/libvirt-nss
    RUNS=ours,c SUMMARY= KEEP=0 DEMO=0 ACCEL= HOLD=
    while [ $# -gt 0 ]; do
        case $1 in
        --helper) HELPER=$2; shift 2 ;;
        --modules) MODULES=$2; shift 2 ;;
        --c-helper) C_HELPER=$2; shift 2 ;;
        --c-modules) C_MODULES=$2; shift 2 ;;
        --proxy) PROXY=$2; shift 2 ;;
        --cli) CLI=$2; shift 2 ;;
        --runs) RUNS=$2; shift 2 ;;
        --summary) SUMMARY=$2; shift 2 ;;
        --keep) KEEP=1; shift ;;
        --demo) DEMO=1; RUNS=ours; shift ;;
        --accel) ACCEL=$2; shift 2 ;;
        --hold) HOLD=$2; shift 2 ;; # development: keep the namespace up for nsenter
        -h|--help) sed -n '2,/^set -euo/p' "$SELF" | sed -e '$d' -e 's/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown option $1 (see --help)" ;;
        esac
    done
    [ "$(id -u)" = 0 ] || die "must run as root (namespaces, mounts, libvirtd)"
    local c m
    for c in unshare setpriv mount ip getent timeout virsh libvirtd dnsmasq dhclient busybox apt-get dpkg-deb ldd flock mkfifo; do
        command -v "$c" >/dev/null || [ -x "/usr/sbin/$c" ] || [ -x "/sbin/$c" ] || die "command $c missing (scripts/install-test-deps.sh)"
    done
    case $RUNS in ours|c|ours,c|c,ours) ;; *) die "--runs: ours, c or ours,c" ;; esac
    HELPER=$(readlink -f "$HELPER")
    [ -x "$HELPER" ] || die "lease helper $HELPER missing (make build)"
    for m in libnss_libvirt.so.2 libnss_libvirt_guest.so.2; do
        [ -e "$MODULES/$m" ] || die "module $MODULES/$m missing (make build)"
    done
    MODULES=$(readlink -f "$MODULES")
    if [ "$DEMO" = 0 ]; then
        C_HELPER=$(readlink -f "$C_HELPER")
        [ -x "$C_HELPER" ] || die "libvirt's C helper $C_HELPER missing (package libvirt-daemon)"
        for m in libnss_libvirt.so.2 libnss_libvirt_guest.so.2; do
            [ -e "$C_MODULES/$m" ] || die "C module $C_MODULES/$m missing (package libnss-libvirt)"
        done
        C_MODULES=$(readlink -f "$C_MODULES")
    fi
    [ -z "$PROXY" ] || [ -x "$PROXY" ] || die "libvirt-ssh-proxy $PROXY missing (make build, or --proxy '')"
    [ "$DEMO" = 0 ] || [ -x "$CLI" ] || die "libvirt-nss $CLI missing (make build)"
    [ -d /etc/libvirt ] || die "/etc/libvirt missing (package libvirt-clients): a private one is mounted there"

    # KVM only where it can work; this kind of machine has a /dev/kvm that cannot.
    if [ -z "$ACCEL" ]; then
        ACCEL=tcg
        if [ -w /dev/kvm ] && grep -qw -E 'vmx|svm' /proc/cpuinfo; then ACCEL=kvm; fi
    fi
    case $ACCEL in tcg) ACCEL_DEV= ;; kvm) ACCEL_DEV=kvm ;; *) die "--accel: tcg or kvm" ;; esac

    WORK=$(mktemp -d "${TMPDIR:-/tmp}/real-vms.XXXXXX")
    chmod 0755 "$WORK"
    UNSHARE_PID=
    trap cleanup EXIT
    trap 'exit 130' INT TERM
    RESULTS=$WORK/results
    : >"$RESULTS"
    local t0=$SECONDS

    GUEST_CACHE=$("$ROOT/scripts/fetch-guest-debs.sh")
    # shellcheck source=/dev/null
    . "$GUEST_CACHE/guest.env"
    VM_CACHE=${VM_CACHE:-/var/cache/libvirt-nss-rs/vm}
    fetch_vm_debs
    make_usr_layer
    build_initramfs
    INITRD=$WORK/initramfs.cpio
    # A copy beside it: /var is overlaid inside the namespace, and a cache on
    # a separate /var mount would be hidden there.
    cp "$GUEST_KERNEL" "$WORK/vmlinuz"
    GUEST_KERNEL=$WORK/vmlinuz
    HOST_NETNS=$(stat -L -c %i /proc/self/ns/net)
    say "caches and initramfs ready after $((SECONDS - t0)) s"

    local r runs
    IFS=, read -r -a runs <<<"$RUNS"
    for r in "${runs[@]}"; do
        case $r in
        ours) run ours "$HELPER" "ours" ;;
        c) run c "$C_HELPER" "libvirt's C helper" ;;
        esac
    done
    [ "${#runs[@]}" -lt 2 ] || compare_runs

    local passed failed
    passed=$(grep -c '^PASS' "$RESULTS" || true)
    failed=$(grep -c '^FAIL' "$RESULTS" || true)
    if [ "$failed" != 0 ]; then
        echo
        say "failures:"
        grep '^FAIL' "$RESULTS"
    fi
    say "total $((SECONDS - t0)) s"
    echo "$passed passed, $failed failed"
    if [ -n "$SUMMARY" ]; then
        { cat "$RESULTS"; echo "$passed passed, $failed failed"; } >"$SUMMARY"
    fi
    [ "$failed" = 0 ]
}

main "$@"; exit $? # one line: nothing after it is read

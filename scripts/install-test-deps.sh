#!/usr/bin/env bash
# Installs the Debian packages the test suite uses (idempotent; needs root):
#   libnss-libvirt   the C NSS modules, for the differential tests
#   libvirt-daemon   the C libvirt_leaseshelper, for side-by-side helper tests
#   dnsmasq-base, udhcpc, busybox, isc-dhcp-client, iproute2
#                    real DHCP end to end in network namespaces
#   valgrind         memcheck over the in-process FFI tests
#   lintian          checks the .deb packages built by make deb (make test)
#   strace           syscall-level checks of the lease helper's lock and atomic write
#   openssh-client, openssh-server
#                    the SSH proxy end to end: a real ssh against a real sshd,
#                    which the tests start in a private network namespace
#                    (installing does not start a server where policy-rc.d forbids it)
#   socat, libvirt-clients
#                    copied (with ssh, sshd) into the throw-away qemu guest of
#                    tests/tiny_guest_vsock.rs: socat for VSOCK inside the guest
#                    only, virsh to prove libvirt's test driver runs there.
#                    qemu, its kernel and busybox are NOT installed: see
#                    scripts/fetch-guest-debs.sh (apt-get download + dpkg-deb -x)
#   (real VMs)       tests/libvirt_real_vms.rs (scripts/real-vms.sh) runs libvirtd
#                    (libvirt-daemon, with its qemu driver), virsh, the dnsmasq
#                    libvirtd spawns, dhclient (copied into the guests for
#                    DHCPv6) and busybox syslogd (dnsmasq's log), all in private
#                    namespaces; qemu, the kernel and iptables are fetched and
#                    unpacked into /var/cache/libvirt-nss-rs, never installed
# --no-install-recommends keeps libvirt-daemon from pulling in qemu; nothing
# is started or enabled, and /etc/nsswitch.conf is not touched.
set -euo pipefail
PACKAGES=(libnss-libvirt libvirt-daemon dnsmasq-base udhcpc busybox isc-dhcp-client iproute2 util-linux valgrind lintian strace gcc libc6-dev openssh-client openssh-server socat libvirt-clients)

missing=()
for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$' || missing+=("$p")
done
if [ "${#missing[@]}" -eq 0 ]; then
    echo "install-test-deps: all present"
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "install-test-deps: not root; please install: ${missing[*]}" >&2
    echo "install-test-deps: tests that need them will be SKIPPED (and fail under CI=true)" >&2
    exit 0
fi
echo "install-test-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# Never start a service (sshd, libvirtd) on the host: where the image has no
# policy-rc.d, one that forbids starts is in place for the install only.
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod 0755 "$policy"
    trap 'rm -f "$policy"' EXIT
fi
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-test-deps: done"

#!/usr/bin/env bash
# Fetches what scripts/tiny-guest.sh boots, WITHOUT installing anything into
# the host's dpkg database: Debian 12's qemu-system-x86 (7.2) and the
# libraries it needs that the host lacks, the cloud kernel, and busybox-static.
# The .debs are `apt-get download`ed and `dpkg-deb -x`ed into a private tree.
#
# Why not `apt-get install qemu-system-x86`: the host may carry a newer
# qemu-utils (from backports) that conflicts with it, and installing qemu just
# for a test would change the machine anyway. qemu runs from the tree with
# LD_LIBRARY_PATH; its firmware is found through `-L` into the tree.
#
# Usage: scripts/fetch-guest-debs.sh            (prints the cache dir)
# Env:   GUEST_CACHE   cache dir (default /var/cache/libvirt-nss-rs/guest)
#        GUEST_REFRESH=1  re-resolve and re-download even when the cache is warm
#
# Layout of $GUEST_CACHE:
#   debs/        the downloaded .debs
#   root/        all of them unpacked (root/usr/bin/qemu-system-x86_64,
#                root/boot/vmlinuz-*, root/lib/modules/*/modules.dep, ...)
#   guest.env    shell variables describing the tree (sourced by tiny-guest.sh)
#
# Warm runs only check that guest.env exists: no apt call, well under a second.
# Needs root on a cold cache (apt-get update, /var/cache); works on a fresh
# Debian 12 amd64 machine.
set -euo pipefail

GUEST_CACHE=${GUEST_CACHE:-/var/cache/libvirt-nss-rs/guest}
log() { echo "fetch-guest-debs: $*" >&2; }
die() { echo "fetch-guest-debs: error: $*" >&2; exit 1; }

mkdir -p "$GUEST_CACHE"
# Two tests (or two developers) fetching at once must not unpack over each other.
exec 9>"$GUEST_CACHE/.lock"
flock 9

if [ -s "$GUEST_CACHE/guest.env" ] && [ "${GUEST_REFRESH:-0}" != 1 ]; then
    echo "$GUEST_CACHE"
    exit 0
fi

for tool in apt-get apt-cache dpkg-deb; do
    command -v "$tool" >/dev/null || die "needs $tool (Debian 12)"
done
[ "$(dpkg --print-architecture)" = amd64 ] || die "only amd64 is supported"

export DEBIAN_FRONTEND=noninteractive
# A fresh machine (or container) may have no package lists at all.
if ! compgen -G '/var/lib/apt/lists/*_Packages*' >/dev/null; then
    log "no apt package lists; running apt-get update"
    apt-get update -qq
fi

resolve() {
    # What `apt-get install qemu-system-x86` would add on this host. A
    # simulation (-s) changes nothing, and it happily plans around conflicts
    # (such as removing a newer qemu-utils) that a real install would hit.
    # Libraries already installed on the host are used from the host.
    apt-get install -s -qq --no-install-recommends qemu-system-x86 2>/dev/null \
        | awk '$1 == "Inst" { print $2 }'
    # The core packages always come from the tree, even when the host has
    # them installed (then the simulation lists nothing).
    printf '%s\n' qemu-system-x86 qemu-system-common qemu-system-data seabios
    # The meta package only depends on the versioned image; fetch that.
    apt-cache depends --no-recommends --no-suggests linux-image-cloud-amd64 \
        | awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9]/ { print $2; exit }'
    echo busybox-static
}

mapfile -t packages < <(resolve | sort -u)
printf '%s\n' "${packages[@]}" | grep -q '^linux-image-[0-9]' \
    || die "could not resolve linux-image-cloud-amd64 to a versioned kernel package"

debs="$GUEST_CACHE/debs"
rm -rf "$debs.new"
mkdir -p "$debs.new"
download() {
    # Sandbox user root: the cache dir is root's, and _apt could not write it.
    (cd "$debs.new" && apt-get download -qq -o APT::Sandbox::User=root "${packages[@]}")
}
log "downloading ${#packages[@]} packages into $debs"
if ! download; then
    # Stale lists point at superseded versions that the mirror no longer has.
    log "download failed; refreshing package lists and retrying once"
    apt-get update -qq
    mapfile -t packages < <(resolve | sort -u)
    download
fi

root="$GUEST_CACHE/root"
rm -rf "$root.new"
mkdir -p "$root.new"
for deb in "$debs.new"/*.deb; do
    dpkg-deb -x "$deb" "$root.new"
done

# The kernel .deb ships no modules.dep (depmod runs in its postinst); make
# one with the tree's own static busybox so the host needs no kmod.
busybox=
for candidate in "$root.new/bin/busybox" "$root.new/usr/bin/busybox"; do
    [ -x "$candidate" ] && busybox=$candidate && break
done
[ -n "$busybox" ] || die "busybox-static did not unpack a busybox binary"
kernel=$(find "$root.new/boot" -maxdepth 1 -name 'vmlinuz-*' | sort | tail -n 1)
[ -n "$kernel" ] || die "the kernel package did not unpack a vmlinuz"
kver=${kernel##*/vmlinuz-}
"$busybox" depmod -b "$root.new" "$kver"
[ -s "$root.new/lib/modules/$kver/modules.dep" ] || die "depmod wrote no modules.dep"
qemu="$root.new/usr/bin/qemu-system-x86_64"
[ -x "$qemu" ] || die "qemu-system-x86 did not unpack $qemu"

# Swap the finished tree in only now, so an interrupted run leaves either the
# old complete cache or none (guest.env is written last and marks it warm).
rm -f "$GUEST_CACHE/guest.env"
rm -rf "$debs" "$root"
mv "$debs.new" "$debs"
mv "$root.new" "$root"
size=$(du -sb "$debs" | awk '{ printf "%.1f MB", $1 / 1e6 }')
cat >"$GUEST_CACHE/guest.env.new" <<EOF
# Written by scripts/fetch-guest-debs.sh; paths into the unpacked tree.
GUEST_ROOT='$root'
GUEST_KVER='$kver'
GUEST_KERNEL='$root/boot/vmlinuz-$kver'
GUEST_BUSYBOX='${busybox/$root.new/$root}'
GUEST_QEMU='$root/usr/bin/qemu-system-x86_64'
GUEST_LD_LIBRARY_PATH='$root/usr/lib/x86_64-linux-gnu:$root/lib/x86_64-linux-gnu'
GUEST_FIRMWARE_DIRS='$root/usr/share/qemu:$root/usr/share/seabios:$root/usr/lib/ipxe/qemu'
EOF
mv "$GUEST_CACHE/guest.env.new" "$GUEST_CACHE/guest.env"
log "$(find "$debs" -name '*.deb' | wc -l) debs ($size), kernel $kver, unpacked in $root"
echo "$GUEST_CACHE"

#!/usr/bin/env bash
# deb-sandbox-test.sh DEB_DIR - install, upgrade and remove our .deb files
# with the real dpkg, inside a private mount namespace where /usr, /etc and
# /var are overlays on a tmpfs: the host's files and dpkg database are never
# changed. Called by check-debs.sh (as root); prints ok/FAIL lines.
#
# Checks: the lease helper's diversion and symlink appear on install and
# vanish on removal (libvirt's C helper back in place); libnss-libvirt-rs
# takes over from libnss-libvirt (when installed) without losing its modules
# on a merged-/usr system; the CLI runs; the SSH proxy's snippet is a
# root-owned 0644 conffile that `ssh -G` selects, removed on purge.
set -euo pipefail

if [ "${_DEB_SANDBOX_INSIDE:-}" != 1 ]; then
    [ $# = 1 ] || { echo "usage: $0 DEB_DIR" >&2; exit 2; }
    [ "$(id -u)" = 0 ] || { echo "info deb sandbox test skipped: needs root"; exit 0; }
    _DEB_SANDBOX_INSIDE=1 exec unshare -m --propagation private -- "$0" "$(readlink -f "$1")"
fi

OUT=$1
FAILS=0
pass() { echo "ok   $*"; }
fail() { echo "FAIL $*"; FAILS=$((FAILS + 1)); }

T=$(mktemp -d)
mount -t tmpfs deb-sandbox "$T"
for d in /usr /etc /var; do
    mkdir -p "$T$d/upper" "$T$d/work"
    if ! mount -t overlay overlay -o "lowerdir=$d,upperdir=$T$d/upper,workdir=$T$d/work" "$d" 2>/dev/null; then
        echo "info deb sandbox test skipped: cannot mount an overlay on $d"
        exit 0
    fi
done
MA=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -print-multiarch)
C_HELPER=/usr/lib/libvirt/libvirt_leaseshelper
OURS=/usr/libexec/libvirt-nss-rs/libvirt_leaseshelper
DPKG=(dpkg --force-confdef --force-confold)
quiet() { "$@" >"$T/log" 2>&1 || { cat "$T/log"; return 1; }; }

# --- lease helper ---------------------------------------------------------
had_c_helper=0
[ -f "$C_HELPER" ] && [ ! -L "$C_HELPER" ] && had_c_helper=1
c_sum=$([ "$had_c_helper" = 1 ] && md5sum <"$C_HELPER" || true)

quiet "${DPKG[@]}" -i "$OUT"/libvirt-leaseshelper-rs_*.deb || fail "dpkg -i libvirt-leaseshelper-rs"
[ "$(readlink "$C_HELPER")" = "$OURS" ] && pass "installed: $C_HELPER -> $OURS" \
    || fail "installed: $C_HELPER is not a symlink to ours"
dpkg-divert --list "$C_HELPER" | grep -q "to $C_HELPER.c-orig by libvirt-leaseshelper-rs" \
    && pass "installed: diversion to $C_HELPER.c-orig" || fail "installed: no diversion"
if [ "$had_c_helper" = 1 ]; then
    [ "$(md5sum <"$C_HELPER.c-orig")" = "$c_sum" ] && pass "installed: libvirt's C helper kept as .c-orig" \
        || fail "installed: .c-orig is not libvirt's helper"
fi
"$C_HELPER" --help >/dev/null 2>&1 || [ $? -lt 126 ] && pass "installed: the helper runs through the symlink" \
    || fail "installed: the helper does not run"

quiet "${DPKG[@]}" -i "$OUT"/libvirt-leaseshelper-rs_*.deb || fail "dpkg -i again (upgrade path)"
[ "$(readlink "$C_HELPER")" = "$OURS" ] && pass "reinstalled: symlink intact" || fail "reinstalled: symlink lost"

quiet "${DPKG[@]}" -r libvirt-leaseshelper-rs || fail "dpkg -r libvirt-leaseshelper-rs"
[ -z "$(dpkg-divert --list "$C_HELPER")" ] && pass "removed: no diversion left" || fail "removed: diversion left"
if [ "$had_c_helper" = 1 ]; then
    [ -f "$C_HELPER" ] && [ ! -L "$C_HELPER" ] && [ "$(md5sum <"$C_HELPER")" = "$c_sum" ] \
        && pass "removed: libvirt's C helper back at $C_HELPER" || fail "removed: C helper not restored"
else
    [ ! -e "$C_HELPER" ] && [ ! -L "$C_HELPER" ] && pass "removed: no $C_HELPER left" \
        || fail "removed: $C_HELPER left behind"
fi
[ ! -e "$C_HELPER.c-orig" ] || fail "removed: $C_HELPER.c-orig left behind"

# --- NSS modules and CLI --------------------------------------------------
had_c_nss=0
dpkg-query -W -f='${Status}' libnss-libvirt 2>/dev/null | grep -q 'install ok installed' && had_c_nss=1
quiet "${DPKG[@]}" -i "$OUT"/libnss-libvirt-rs_*.deb "$OUT"/libvirt-nss-cli_*.deb \
    || fail "dpkg -i libnss-libvirt-rs libvirt-nss-cli"
for so in libnss_libvirt.so.2 libnss_libvirt_guest.so.2; do
    if nm -D --defined-only "/usr/lib/$MA/$so" 2>/dev/null | grep -q gethostbyaddr_r; then
        pass "installed: /usr/lib/$MA/$so is ours"
    else
        fail "installed: /usr/lib/$MA/$so missing or not ours"
    fi
done
if [ "$had_c_nss" = 1 ]; then
    dpkg-query -W -f='${Status}' libnss-libvirt | grep -q 'install ok installed' \
        && fail "libnss-libvirt still installed" || pass "libnss-libvirt replaced (was installed)"
fi
[ -z "$(dpkg-divert --list '*libnss_libvirt*')" ] && pass "no protective diversion left" \
    || fail "protective diversions left: $(dpkg-divert --list '*libnss_libvirt*')"
v=$(libvirt-nss --version 2>&1) && pass "installed: $v" || fail "libvirt-nss does not run"
libvirt-nss --help | grep -q 'explain' && pass "installed: libvirt-nss --help" || fail "libvirt-nss --help"
if command -v man >/dev/null; then
    MANPAGER=cat man libvirt-nss 2>/dev/null | grep -q 'lease' && pass "installed: man libvirt-nss" \
        || fail "man libvirt-nss shows nothing"
fi
[ -s /usr/share/bash-completion/completions/libvirt-nss ] && pass "installed: bash completion" \
    || fail "no bash completion for libvirt-nss"
quiet "${DPKG[@]}" -r libnss-libvirt-rs libvirt-nss-cli || fail "dpkg -r libnss-libvirt-rs libvirt-nss-cli"
[ ! -e "/usr/lib/$MA/libnss_libvirt.so.2" ] && pass "removed: modules gone" || fail "removed: module left"

# --- SSH proxy ---------------------------------------------------------------
SNIPPET=/etc/ssh/ssh_config.d/29-libvirt-nss-rs-ssh-proxy.conf
quiet "${DPKG[@]}" -i "$OUT"/libvirt-ssh-proxy-rs_*.deb || fail "dpkg -i libvirt-ssh-proxy-rs"
[ "$(stat -c '%U:%G %a' "$SNIPPET" 2>/dev/null)" = "root:root 644" ] \
    && pass "installed: $SNIPPET root-owned 0644" || fail "installed: $SNIPPET missing or wrong owner/mode"
# What ssh itself selects for qemu/NAME and qemu%NAME once the package is
# installed (ssh -G prints the command before %-expansion).
if command -v ssh >/dev/null; then
    sel=$(ssh -G qemu/SomeVM 2>/dev/null | awk '$1 == "proxycommand" { $1 = ""; print substr($0, 2) }')
    sel2=$(ssh -G 'qemu%SomeVM' 2>/dev/null | awk '$1 == "proxycommand" { $1 = ""; print substr($0, 2) }')
    [ "$sel" = "/usr/bin/libvirt-ssh-proxy %h %p %n" ] && [ "$sel2" = "$sel" ] \
        && pass "ssh -G qemu/SomeVM selects our ProxyCommand: $sel" || fail "ssh -G qemu/SomeVM selects '$sel'"
fi
quiet "${DPKG[@]}" -r libvirt-ssh-proxy-rs || fail "dpkg -r libvirt-ssh-proxy-rs"
[ ! -e /usr/bin/libvirt-ssh-proxy ] && pass "removed: proxy gone" || fail "removed: proxy left"
[ -e "$SNIPPET" ] && pass "removed (not purged): the conffile stays, as dpkg keeps conffiles" \
    || fail "removed: conffile vanished before purge"
quiet "${DPKG[@]}" -P libvirt-ssh-proxy-rs || fail "dpkg -P libvirt-ssh-proxy-rs"
[ ! -e "$SNIPPET" ] && pass "purged: snippet gone" || fail "purged: $SNIPPET left"

exit $((FAILS > 0))

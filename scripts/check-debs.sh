#!/usr/bin/env bash
# check-debs.sh - build the three Debian packages with cargo-deb and check
# them: file lists (dpkg-deb -c), control fields (dpkg-deb -f), maintainer
# scripts, exported NSS symbols, the CLI runs, a real dpkg install / upgrade /
# remove in a throw-away overlay (scripts/deb-sandbox-test.sh, as root), and
# lintian (when installed) reports no error.
#
# Usage: scripts/check-debs.sh [--no-build] [--out DIR]
#   --no-build   package what `make build` left in target/release
#   --out DIR    where the .deb files go (default: target/debian)
#
# Packages:
#   libnss-libvirt-rs        both NSS modules in /usr/lib/<multiarch>/
#                            (Provides/Conflicts/Replaces libnss-libvirt)
#   libvirt-leaseshelper-rs  /usr/libexec/libvirt-nss-rs/libvirt_leaseshelper,
#                            diverts libvirt's /usr/lib/libvirt/libvirt_leaseshelper
#   libvirt-nss-cli          /usr/bin/libvirt-nss
#   libvirt-ssh-proxy-rs     /usr/bin/libvirt-ssh-proxy and its ssh_config snippet
#                            /etc/ssh/ssh_config.d/29-libvirt-nss-rs-ssh-proxy.conf
#                            (no path shared with libvirt's libvirt-ssh-proxy)
# Needs cargo-deb (installed with `cargo install cargo-deb --locked` when
# missing) and dpkg-deb.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
BUILD=1
OUT=$ROOT/target/debian
while [ $# -gt 0 ]; do
    case "$1" in
    --no-build) BUILD=0; shift ;;
    --out) OUT=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "check-debs: unknown argument $1" >&2; exit 2 ;;
    esac
done

FAILS=0
pass() { echo "ok   $*"; }
fail() { echo "FAIL $*"; FAILS=$((FAILS + 1)); }

command -v dpkg-deb >/dev/null || { echo "check-debs: dpkg-deb missing (not a Debian system?)" >&2; exit 1; }
if ! cargo deb --version >/dev/null 2>&1; then
    echo "== cargo install cargo-deb --locked"
    cargo install cargo-deb --locked
fi
MULTIARCH=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)

if [ "$BUILD" = 1 ]; then
    make --no-print-directory build
fi
mkdir -p "$OUT"
rm -f "$OUT"/libnss-libvirt-rs_*.deb "$OUT"/libvirt-leaseshelper-rs_*.deb "$OUT"/libvirt-nss-cli_*.deb "$OUT"/libvirt-ssh-proxy-rs_*.deb

# Built once by `make build` (the whole workspace, release profile);
# cargo-deb only packages.
echo "== cargo deb"
cargo deb --no-build -q -p nss-libvirt --multiarch=same -o "$OUT"
cargo deb --no-build -q -p leasehelper -o "$OUT"
cargo deb --no-build -q -p cli -o "$OUT"
cargo deb --no-build -q -p ssh-proxy -o "$OUT"

deb_of() {
    local debs=("$OUT/$1"_*.deb)
    [ -e "${debs[0]}" ] || { echo "check-debs: $1 was not built" >&2; exit 1; }
    echo "${debs[0]}"
}
NSS=$(deb_of libnss-libvirt-rs)
HELPER=$(deb_of libvirt-leaseshelper-rs)
CLI=$(deb_of libvirt-nss-cli)
PROXY=$(deb_of libvirt-ssh-proxy-rs)
ls -l "$NSS" "$HELPER" "$CLI" "$PROXY"

# has_file DEB PATH MODE: DEB contains ./PATH with permissions MODE (ls -l form).
has_file() {
    local line
    line=$(dpkg-deb -c "$1" | awk -v p="./$2" '$NF == p')
    if [ -z "$line" ]; then
        fail "$(basename "$1"): no $2"
    elif [ "${line%% *}" != "$3" ]; then
        fail "$(basename "$1"): $2 is ${line%% *}, expected $3"
    else
        pass "$(basename "$1"): /$2 ($3)"
    fi
}
# field DEB NAME REGEX: control field NAME matches REGEX.
field() {
    local value
    value=$(dpkg-deb -f "$1" "$2")
    if [[ "$value" =~ $3 ]]; then
        pass "$(basename "$1"): $2: $value"
    else
        fail "$(basename "$1"): $2 is '$value', expected /$3/"
    fi
}

echo "== libnss-libvirt-rs"
has_file "$NSS" "usr/lib/$MULTIARCH/libnss_libvirt.so.2" -rw-r--r--
has_file "$NSS" "usr/lib/$MULTIARCH/libnss_libvirt_guest.so.2" -rw-r--r--
has_file "$NSS" "usr/share/doc/libnss-libvirt-rs/examples/systemd-resolved.conf" -rw-r--r--
has_file "$NSS" "usr/share/doc/libnss-libvirt-rs/copyright" -rw-r--r--
field "$NSS" Package '^libnss-libvirt-rs$'
field "$NSS" Provides '(^|, )libnss-libvirt($|,| )'
field "$NSS" Conflicts '(^|, )libnss-libvirt($|,| )'
field "$NSS" Replaces '(^|, )libnss-libvirt($|,| )'
field "$NSS" Multi-Arch '^same$'
field "$NSS" Depends '^libc6 \(>= [0-9.]+\)'
if dpkg-deb -c "$NSS" | grep -q '\./usr/bin/'; then fail "libnss-libvirt-rs ships /usr/bin files"; fi

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
dpkg-deb -x "$NSS" "$WORK/nss"
for svc in libvirt libvirt_guest; do
    so=$WORK/nss/usr/lib/$MULTIARCH/libnss_$svc.so.2
    missing=()
    for entry in gethostbyname_r gethostbyname2_r gethostbyname3_r gethostbyname4_r gethostbyaddr_r gethostbyaddr2_r; do
        nm -D --defined-only "$so" | grep -qw "_nss_${svc}_$entry" || missing+=("$entry")
    done
    if [ "${#missing[@]}" = 0 ]; then
        pass "libnss_$svc.so.2 exports all six _nss_${svc}_* entry points"
    else
        fail "libnss_$svc.so.2 lacks ${missing[*]}"
    fi
    soname=$(objdump -p "$so" 2>/dev/null | awk '$1 == "SONAME" { print $2 }')
    [ -z "$soname" ] || [ "$soname" = "libnss_$svc.so.2" ] \
        || fail "libnss_$svc.so.2 has SONAME $soname"
    # Depends (set by hand in nss-libvirt/Cargo.toml: cargo-deb's $auto finds
    # nothing for cdylib assets) covers what the file needs: the newest
    # GLIBC_x.y symbol version, and libgcc-s1 exactly when it needs
    # libgcc_s.so.1 (the unwinder is normally linked in statically).
    depends=$(dpkg-deb -f "$NSS" Depends)
    glibc=$(objdump -T "$so" | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/^GLIBC_//' | sort -V | tail -1)
    libc6=$(sed -n 's/.*libc6 (>= \([0-9.]*\)).*/\1/p' <<<"$depends")
    if [ -n "$libc6" ] && dpkg --compare-versions "$libc6" ge "$glibc"; then
        pass "libnss_$svc.so.2 needs glibc $glibc, Depends: libc6 (>= $libc6)"
    else
        fail "libnss_$svc.so.2 needs glibc $glibc, Depends is '$depends'"
    fi
    if readelf -d "$so" | grep -q 'NEEDED.*\[libgcc_s\.so\.1\]'; then
        [[ "$depends" == *libgcc-s1* ]] && pass "libnss_$svc.so.2 needs libgcc_s.so.1, Depends: libgcc-s1" \
            || fail "libnss_$svc.so.2 needs libgcc_s.so.1 but Depends lacks libgcc-s1 (libgcc_eh.a missing at build time?)"
    else
        [[ "$depends" != *libgcc-s1* ]] && pass "libnss_$svc.so.2 does not load libgcc_s.so.1 (static unwinder)" \
            || fail "libnss_$svc.so.2 does not need libgcc_s.so.1 but Depends has libgcc-s1"
    fi
done

echo "== libvirt-leaseshelper-rs"
has_file "$HELPER" "usr/libexec/libvirt-nss-rs/libvirt_leaseshelper" -rwxr-xr-x
field "$HELPER" Package '^libvirt-leaseshelper-rs$'
field "$HELPER" Depends 'libc6'
if dpkg-deb -c "$HELPER" | awk '{print $NF}' | grep -q '^\./usr/lib/libvirt/'; then
    fail "libvirt-leaseshelper-rs ships files in /usr/lib/libvirt (the maintainer scripts own that path)"
fi
dpkg-deb -e "$HELPER" "$WORK/helper-control"
for script in preinst postinst prerm postrm; do
    s=$WORK/helper-control/$script
    if [ -x "$s" ] && sh -n "$s"; then pass "maintainer script $script (executable, sh -n)"; else fail "maintainer script $script missing or broken"; fi
done
grep -q -- '--add --rename' "$WORK/helper-control/preinst" \
    && grep -q -- '--divert "$DIVERTED"' "$WORK/helper-control/preinst" \
    && grep -q 'DIVERTED=/usr/lib/libvirt/libvirt_leaseshelper.c-orig' "$WORK/helper-control/preinst" \
    && pass "preinst diverts /usr/lib/libvirt/libvirt_leaseshelper to .c-orig" \
    || fail "preinst does not divert the C helper"
grep -q 'ln -sfn "$OURS" "$FILE"' "$WORK/helper-control/postinst" \
    && pass "postinst links /usr/lib/libvirt/libvirt_leaseshelper to ours" \
    || fail "postinst does not create the symlink"
grep -q -- '--remove --rename' "$WORK/helper-control/postrm" \
    && pass "postrm removes the diversion" || fail "postrm does not remove the diversion"

echo "== libvirt-nss-cli"
has_file "$CLI" "usr/bin/libvirt-nss" -rwxr-xr-x
has_file "$CLI" "usr/share/man/man1/libvirt-nss.1.gz" -rw-r--r--
has_file "$CLI" "usr/share/bash-completion/completions/libvirt-nss" -rw-r--r--
has_file "$CLI" "usr/share/zsh/vendor-completions/_libvirt-nss" -rw-r--r--
has_file "$CLI" "usr/share/fish/vendor_completions.d/libvirt-nss.fish" -rw-r--r--
field "$CLI" Package '^libvirt-nss-cli$'
dpkg-deb -x "$CLI" "$WORK/cli"
if version=$("$WORK/cli/usr/bin/libvirt-nss" --version); then
    pass "packaged CLI runs: $version"
else
    fail "packaged CLI does not run"
fi

echo "== libvirt-ssh-proxy-rs"
SNIPPET=etc/ssh/ssh_config.d/29-libvirt-nss-rs-ssh-proxy.conf
has_file "$PROXY" "usr/bin/libvirt-ssh-proxy" -rwxr-xr-x
has_file "$PROXY" "$SNIPPET" -rw-r--r--
has_file "$PROXY" "usr/share/man/man1/libvirt-ssh-proxy.1.gz" -rw-r--r--
has_file "$PROXY" "usr/share/bash-completion/completions/libvirt-ssh-proxy" -rw-r--r--
has_file "$PROXY" "usr/share/zsh/vendor-completions/_libvirt-ssh-proxy" -rw-r--r--
has_file "$PROXY" "usr/share/fish/vendor_completions.d/libvirt-ssh-proxy.fish" -rw-r--r--
field "$PROXY" Package '^libvirt-ssh-proxy-rs$'
field "$PROXY" Depends 'openssh-client'
field "$PROXY" Recommends 'libvirt0'
dpkg-deb -c "$PROXY" | awk '$NF ~ /^\.\/etc\// { if ($2 != "0/0" && $2 != "root/root") bad = 1 } END { exit bad }' \
    && pass "libvirt-ssh-proxy-rs: /etc files owned by root" || fail "libvirt-ssh-proxy-rs: /etc file not root-owned"
dpkg-deb -e "$PROXY" "$WORK/proxy-control"
grep -qx "/$SNIPPET" "$WORK/proxy-control/conffiles" \
    && pass "libvirt-ssh-proxy-rs: the snippet is a conffile" || fail "libvirt-ssh-proxy-rs: snippet is not a conffile"
if dpkg-deb -c "$PROXY" | awk '{print $NF}' | grep -qE '^\./(usr/libexec/libvirt-ssh-proxy|etc/ssh/ssh_config.d/30-libvirt-ssh-proxy.conf)$'; then
    fail "libvirt-ssh-proxy-rs ships a path of libvirt's own libvirt-ssh-proxy package"
else
    pass "libvirt-ssh-proxy-rs shares no path with libvirt's libvirt-ssh-proxy package"
fi
dpkg-deb -x "$PROXY" "$WORK/proxy"
if version=$("$WORK/proxy/usr/bin/libvirt-ssh-proxy" --version); then
    pass "packaged proxy runs: $version"
else
    fail "packaged proxy does not run"
fi
zcat "$WORK/proxy/usr/share/man/man1/libvirt-ssh-proxy.1.gz" | grep -q 'ProxyCommand' \
    && pass "man page renders the CLI (zcat | grep ProxyCommand)" || fail "man page empty or unreadable"
grep -q 'ProxyCommand /usr/bin/libvirt-ssh-proxy %h %p %n' "$WORK/proxy/$SNIPPET" \
    && pass "snippet runs the packaged proxy with %h %p %n" || fail "snippet does not point at /usr/bin/libvirt-ssh-proxy"

echo "== install / upgrade / remove with dpkg in a sandbox (overlays in a private mount namespace)"
sandbox_out=$("$ROOT/scripts/deb-sandbox-test.sh" "$OUT" 2>&1) || true
echo "$sandbox_out"
FAILS=$((FAILS + $(grep -c '^FAIL' <<<"$sandbox_out" || true)))

if command -v lintian >/dev/null; then
    echo "== lintian"
    # Errors fail the check; warnings are shown. (Our packages are not
    # uploaded to Debian: no changelog or signed upstream tarball.)
    out=$(lintian --tag-display-limit 0 "$NSS" "$HELPER" "$CLI" "$PROXY" 2>&1) || true
    [ -z "$out" ] || echo "$out"
    if grep -q '^E: ' <<<"$out"; then
        fail "lintian reports errors"
    else
        pass "lintian: no errors ($(grep -c '^W: ' <<<"$out" || true) warnings)"
    fi
else
    echo "info lintian not installed: skipped (apt-get install lintian)"
fi

echo
if [ "$FAILS" = 0 ]; then
    echo "check-debs: all checks passed ($OUT)"
else
    echo "check-debs: $FAILS checks FAILED"
    exit 1
fi

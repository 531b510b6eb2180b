# installed-modules.sh - sourced by nsenv.sh and bench.sh: where the system
# keeps libvirt's NSS modules (one copy of the search, for both).

# The Debian multiarch triplet (x86_64-linux-gnu, ...).
multiarch() {
    local m
    m=$(gcc -print-multiarch 2>/dev/null || dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || true)
    echo "${m:-$(uname -m)-linux-gnu}"
}

# The installed libnss_<SERVICE>.so.2 (libvirt, libvirt_guest), or nothing.
installed_module() { # SERVICE
    local d ma
    ma=$(multiarch)
    for d in "/lib/$ma" "/usr/lib/$ma" /lib64 /usr/lib64 /lib /usr/lib; do
        if [ -e "$d/libnss_$1.so.2" ]; then echo "$d/libnss_$1.so.2"; return; fi
    done
}

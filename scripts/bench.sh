#!/bin/bash
# bench.sh - `make bench`: the Rust NSS modules against Debian's C modules.
#
#   scripts/bench.sh [-k "10 1000 10000 100000"] [-g "10 10000"] [-i "10 10000"] [-o OUT.md] [-B]
#
#   -k  lease counts K for the in-process and cold measurements
#   -g  lease counts K for the whole-process `getent hosts` measurement ("" = skip)
#   -o  results file (default bench/results/<UTC date>-<uname -m>.md)
#   -i  lease counts K for the callgrind instruction counts ("" = skip; needs valgrind)
#   -m  network-file counts M for a cold `getent hosts` over M networks of one
#       lease each, ours and C alternating (default "100000"; "" = skip)
#   -B  skip the build (use target/modules and target/release/nss-bench as they are)
#
# Measures, in one run, ours (target/modules) and - when Debian's
# libnss-libvirt is installed - the C modules, alternating them:
#   warm     ns per lookup in an in-process loop (gethostbyname4_r and
#            gethostbyname2_r AF_INET, hit and miss, libvirt by hostname and
#            libvirt_guest by domain name), and the floor of the stat calls
#            our revalidation makes, in the same loop;
#   cold     dlopen + first lookup in a fresh process per sample; one lookup
#            right after a lease file was replaced by write + rename;
#   memory   RSS growth after a warm lookup; size of each stripped .so;
#   getent   `getent hosts NAME` fork+exec timing through glibc, in a private
#            namespace (scripts/nsenv.sh), 1 and 4 networks, v4;
#   instr    instructions of a first and of a warm lookup under callgrind
#            (independent of the machine's load);
#   proxy    libvirt-ssh-proxy from exec to the socket handed to ssh
#            (target/release/proxy-bench: lease route, libvirt route).
# Lease dirs (1 and 4 networks, v4 and dual stack, with .macs) are generated
# in the lease helper's byte format into target/bench/leases/ (kept between
# runs). The modules read the compiled-in /var/lib/libvirt/dnsmasq, so the
# dlopen part runs in a private mount namespace (scripts/nsenv.sh, with an
# empty lease dir there) where each dir is bound over it in turn.
# The host's /var/lib and /etc are never modified. Needs root.
# Prints nothing about pass/fail: the targets table is informational only.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SELF=$ROOT/scripts/bench.sh
BIN=$ROOT/target/release/nss-bench
OURS_DIR=$ROOT/target/modules
WORK=$ROOT/target/bench
LEASE_DIR_IN_NS=/var/lib/libvirt/dnsmasq
NSENV=$ROOT/scripts/nsenv.sh
NETS="1 4"
FAMS="v4 dual"
SERVICES="libvirt libvirt_guest"

say() { printf '[bench %4ds] %s\n' "$SECONDS" "$*" >&2; }

# shellcheck source=scripts/installed-modules.sh
. "$ROOT/scripts/installed-modules.sh"

# The installed C module for a service, or nothing.
c_module() { installed_module "$1"; }

# K counts leases: v4 = K hosts with one IPv4 lease each, dual = K/2 hosts
# with one IPv4 and one IPv6 lease each (a single 100,000-lease network
# then stays below the helper's 32 MiB file limit).
hosts() { # K FAMILY
    if [ "$2" = dual ]; then echo $(($1 / 2)); else echo "$1"; fi
}
leasedir() { echo "$WORK/leases/l$1-n$2-$3"; }

# Iterations per K: "warm-batches warm-batch-ms changed-samples cold-samples"
# (C lookups at K=100,000 take 50-200 ms each).
iters() {
    if [ "$1" -le 1000 ]; then echo "11 15 21 25"
    elif [ "$1" -le 10000 ]; then echo "11 15 15 15"
    else echo "5 15 7 7"
    fi
}

hit_name() { # SERVICE K FAMILY: the middle host
    local mid=$(($(hosts "$2" "$3") / 2))
    if [ "$1" = libvirt ]; then printf 'vm-%06d' "$mid"; else printf 'dom-%06d' "$mid"; fi
}

# Instructions executed by `nss-bench once` under callgrind.
instructions() { # SO SERVICE NAME LOOKUPS
    valgrind --tool=callgrind --callgrind-out-file=/dev/null \
        "$BIN" once --so "$1" --svc "$2" --name "$3" --lookups "$4" 2>&1 >/dev/null |
        sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}

# ------------------------------------------------------------ inside the ns --
# Runs inside nsenv.sh's private mount namespace, where LEASE_DIR_IN_NS is an
# empty private dir; stdout = records.
inside() {
    unset _BENCH_INSIDE
    local k n fam d svc c wb wms ch cs
    for k in $KS; do
        read -r wb wms ch cs < <(iters "$k")
        for n in $NETS; do
            for fam in $FAMS; do
                d=$(leasedir "$k" "$n" "$fam")
                mount --bind "$d" "$LEASE_DIR_IN_NS"
                for svc in $SERVICES; do
                    c=()
                    [ -z "$(c_module "$svc")" ] || c=(--c "$(c_module "$svc")")
                    say "K=$k nets=$n $fam $svc: warm"
                    "$BIN" warm --ours "$OURS_DIR/libnss_$svc.so.2" "${c[@]}" --svc "$svc" \
                        --hit "$(hit_name "$svc" "$k" "$fam")" \
                        --tag "k=$k,nets=$n,fam=$fam" --batches "$wb" --batch-ms "$wms" --changed "$ch"
                    say "K=$k nets=$n $fam $svc: cold"
                    "$BIN" cold --ours "$OURS_DIR/libnss_$svc.so.2" "${c[@]}" --svc "$svc" \
                        --hit "$(hit_name "$svc" "$k" "$fam")" \
                        --tag "k=$k,nets=$n,fam=$fam" --samples "$cs"
                done
                umount "$LEASE_DIR_IN_NS"
            done
        done
    done

    local so m l ir
    for k in $IKS; do
        mount --bind "$(leasedir "$k" 1 v4)" "$LEASE_DIR_IN_NS"
        for svc in $SERVICES; do
            say "K=$k $svc: callgrind instruction counts"
            for m in ours c; do
                if [ "$m" = ours ]; then so=$OURS_DIR/libnss_$svc.so.2; else so=$(c_module "$svc"); fi
                [ -n "$so" ] || continue
                for l in 0 1 21; do
                    ir=$(instructions "$so" "$svc" "$(hit_name "$svc" "$k" v4)" "$l")
                    [ -z "$ir" ] || printf 'R\tsec=ir\tk=%s\tnets=1\tfam=v4\tsvc=%s\tmod=%s\tlookups=%s\tv=%s\n' \
                        "$k" "$svc" "$m" "$l" "$ir"
                done
            done
        done
        umount "$LEASE_DIR_IN_NS"
    done
}

if [ "${_BENCH_INSIDE:-}" = 1 ]; then
    KS=$_BENCH_KS
    IKS=$_BENCH_IKS
    inside
    exit 0
fi

# ----------------------------------------------------------- outside the ns --
KS="10 1000 10000 100000"
GKS="10 10000"
IKS="10 10000"
MANY="100000"
OUT=""
BUILD=1
while getopts "k:g:i:m:o:Bh" o; do
    case $o in
    k) KS=$OPTARG ;; g) GKS=$OPTARG ;; i) IKS=$OPTARG ;; m) MANY=$OPTARG ;; o) OUT=$OPTARG ;; B) BUILD=0 ;;
    *) sed -n '2,/^set -euo/p' "$SELF" | sed -e '$d' -e 's/^# \{0,1\}//'; exit 2 ;;
    esac
done
[ "$(id -u)" = 0 ] || { echo "bench.sh: must run as root (mount namespace)" >&2; exit 2; }
command -v valgrind >/dev/null || IKS=""
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
DATE=$(date -u +%Y-%m-%d)
[ -n "$OUT" ] || OUT=$ROOT/bench/results/$DATE-$(uname -m).md
cd "$ROOT"

if [ "$BUILD" = 1 ]; then
    say "building (release)"
    make -s build >&2
    cargo build --release -q -p bench >&2
fi
C_LIBVIRT=$(c_module libvirt)
if [ -n "$C_LIBVIRT" ]; then
    C_VERSION=$(dpkg-query -W -f='libnss-libvirt ${Version}' libnss-libvirt 2>/dev/null || echo "$C_LIBVIRT")
else
    C_VERSION="not installed (ours only)"
    say "Debian's libnss-libvirt is not installed: measuring ours only"
fi

for k in $KS $GKS $IKS; do
    for n in $NETS; do
        for fam in $FAMS; do
            d=$(leasedir "$k" "$n" "$fam")
            if [ ! -e "$d.done" ]; then
                say "generating $d"
                rm -rf "$d"
                "$BIN" gen --out "$d" --count "$(hosts "$k" "$fam")" --networks "$n" --family "$fam"
                touch "$d.done"
            fi
        done
    done
done

mkdir -p "$WORK"
REC=$WORK/records.tsv
: > "$REC"

# Sizes of the shared objects, as installed and stripped.
so_size() { # LABEL FILE
    local t
    t=$(mktemp)
    strip --strip-all -o "$t" "$2"
    printf 'R\tsec=so\tfile=%s\tkind=disk\tv=%s\n' "$1" "$(stat -c %s "$2")" >> "$REC"
    printf 'R\tsec=so\tfile=%s\tkind=stripped\tv=%s\n' "$1" "$(stat -c %s "$t")" >> "$REC"
    rm -f "$t"
}
for svc in $SERVICES; do
    so_size "ours libnss_$svc.so.2" "$OURS_DIR/libnss_$svc.so.2"
    c=$(c_module "$svc")
    [ -z "$c" ] || so_size "C libnss_$svc.so.2" "$c"
done
if [ -n "$C_LIBVIRT" ]; then
    yajl=$(ldd "$C_LIBVIRT" | awk '/libyajl/ { print $3 }')
    [ -z "$yajl" ] || so_size "C's dependency $(basename "$yajl")" "$(readlink -f "$yajl")"
fi

# In-process and cold measurements, in one private mount namespace.
_BENCH_INSIDE=1 _BENCH_KS=$KS _BENCH_IKS=$IKS "$NSENV" -- "$SELF" >> "$REC"

# Whole process: getent through glibc, in nsenv.sh's private namespace.
# Rounds alternate which module goes first.
ROUNDS=8
RUNS=20
for k in $GKS; do
    for n in $NETS; do
        d=$(leasedir "$k" "$n" v4)
        for svc in $SERVICES; do
            hit=$(hit_name "$svc" "$k" v4)
            say "getent K=$k nets=$n $svc"
            for r in $(seq "$ROUNDS"); do
                # base: `hosts: files` alone, the process cost without any module
                mods="ours c base"
                [ $((r % 2)) = 1 ] || mods="base c ours"
                for m in $mods; do
                    args=(--leases "$d" --hosts "files $svc")
                    if [ "$m" = ours ]; then
                        args+=(--modules "$OURS_DIR")
                    elif [ "$m" = base ]; then
                        args=(--leases "$d" --hosts files)
                    elif [ -z "$(c_module "$svc")" ]; then
                        continue
                    fi
                    for q in hit miss; do
                        name=$hit; expect=0
                        [ "$q" = hit ] || { name=no-such-host; expect=2; }
                        [ "$m" != base ] || expect=2
                        "$NSENV" "${args[@]}" -- "$BIN" spawn --tag "k=$k,nets=$n,svc=$svc,q=$q,mod=$m" \
                            --runs "$RUNS" --expect "$expect" -- getent hosts "$name" >> "$REC"
                    done
                done
            done
        done
    done
done

# Many networks: a cold `getent hosts` over M one-lease network files (what a
# host with very many networks pays per new process), ours and C alternating;
# wall-time medians of RUNS_MANY each, in one run.
RUNS_MANY=5
MANY_TABLE=""
for m in $MANY; do
    d=$(leasedir "$m" "$m" v4)
    [ -d "$d" ] || "$BIN" gen --out "$d" --count "$m" --networks "$m" --family v4 >/dev/null
    name=$(hit_name libvirt "$m" v4)
    say "getent over $m networks"
    rec=$WORK/many-$m.rec
    : >"$rec"
    for r in $(seq "$RUNS_MANY"); do
        for mod in ours c; do
            args=(--leases "$d" --hosts "files libvirt")
            if [ "$mod" = ours ]; then args+=(--modules "$OURS_DIR")
            elif [ -z "$(c_module libvirt)" ]; then continue; fi
            "$NSENV" "${args[@]}" -- "$BIN" spawn --tag "mod=$mod" --runs 1 --expect 0 \
                -- getent hosts "$name" >>"$rec"
        done
    done
    med() { grep -P "\tmod=$1\t" "$rec" | sed 's/.*\tv=//' | sort -g | awk '{ v[NR] = $1 } END { if (NR) printf "%.0f", v[int((NR + 1) / 2)] / 1e6 }'; }
    ours_ms=$(med ours) c_ms=$(med c)
    ratio=$(awk -v o="$ours_ms" -v c="$c_ms" 'BEGIN { if (o > 0 && c > 0) printf "%.2f", c / o; else print "n/a" }')
    MANY_TABLE+="| $m | ${ours_ms} ms | ${c_ms:-n/a} ms | ${ratio}× | $RUNS_MANY |"$'\n'
done

# The SSH proxy: exec to the connected socket in ssh's hands (lease route
# without libvirt, and through libvirt's test:/// driver); never VSOCK.
say "ssh proxy: exec to fd handed over"
PROXY_TABLE=$("$ROOT/target/release/proxy-bench" --proxy "$ROOT/target/release/libvirt-ssh-proxy" \
    --node-xml "$ROOT/tests/fixtures/ssh-proxy/node.xml" --runs 200) || PROXY_TABLE="proxy-bench failed"

ELAPSED="$((SECONDS / 60)) min $((SECONDS % 60)) s (\`make bench\`, K = $KS; getent K = ${GKS:-none})"
COMMIT=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
[ -z "$(git -C "$ROOT" status --porcelain -- common nss-libvirt nss-libvirt-guest 2>/dev/null)" ] || COMMIT="$COMMIT (+ uncommitted changes in the modules)"
mkdir -p "$(dirname "$OUT")"
"$BIN" report --records "$REC" --date "$DATE" --commit "$COMMIT" --c-version "$C_VERSION" \
    --elapsed "$ELAPSED" --load-start "$LOAD_START" --out "$OUT"
if [ -n "$MANY_TABLE" ]; then
    printf '\n## Many networks: cold `getent hosts` over M one-lease network files (libvirt)\n\n| M | ours | C | C/ours | runs |\n|---:|---:|---:|---:|---:|\n%s' "$MANY_TABLE" >>"$OUT"
fi
printf '\n## SSH proxy\n\n%s\n' "$PROXY_TABLE" >>"$OUT"
say "results written to $OUT"

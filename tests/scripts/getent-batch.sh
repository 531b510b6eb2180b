#!/bin/bash
# getent-batch.sh QUERIES OUTDIR LIMIT_SECONDS
#
# Runs `getent FORM KEY` for every line "FORM<TAB>KEY" of QUERIES, one fresh
# process each (glibc keeps a loaded NSS module for the life of a process),
# each under `timeout LIMIT_SECONDS`. For the Nth line (from 0) it writes
# OUTDIR/N.out, N.err, N.rc (124 = timed out, >128 = killed by a signal) and
# N.ns (wall-clock nanoseconds). Meant to run inside scripts/nsenv.sh.
set -u
queries=$1 out=$2 limit=$3
n=0
while IFS=$'\t' read -r form key; do
    start=$(date +%s%N)
    timeout -k 2 "$limit" getent "$form" "$key" > "$out/$n.out" 2> "$out/$n.err"
    echo $? > "$out/$n.rc"
    echo $(($(date +%s%N) - start)) > "$out/$n.ns"
    n=$((n + 1))
done < "$queries"

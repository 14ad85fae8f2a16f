#!/bin/sh
# Instructions a routed call costs, counted by valgrind's callgrind: repeatable for the same
# build whatever else the machine is doing (the routing benchmark's calls/s move by a fifth
# between runs on a shared 2-core machine), so two builds can be compared by a few per cent.
#
# Runs the routing benchmark's memory-store process and its bare ractor baseline under
# callgrind, each with 2,000 and with 4,000 calls a round: the difference is 10,000 calls (five
# rounds of 2,000 more), each created, routed, answered and hung up, so set-up, the latency
# phase and shutdown cancel out. Prints instructions a call for both and their ratio.
#
#   actors/benches/instructions.sh [routing-benchmark-binary]
#
# The count of one build moves by a few per cent between runs (its two worker threads
# interleave differently: 133,900-137,800 for one build in three counts), so it counts
# INSTRUCTIONS_RUNS times (3 unless set) and prints the range; a change smaller than the range
# needs more runs.
#
# With INSTRUCTIONS_CACHE=1 it also simulates the machine's caches (`--cache-sim=yes`, valgrind
# reads their sizes off the CPU) and prints the first-level instruction- and data-cache misses a
# call beside the instructions: the memory store's hot path is more code than the instruction
# cache holds, which an instruction count alone does not show. It runs slower then, and a round
# stops short more often (see below: two of four runs of it on 2026-12-07's machine, the rest
# passed); the script fails then, with the benchmark's output, rather than print a figure.
#
# Without an argument it builds the benchmark (`cargo bench -p actors --no-run`). About five minutes
# with three counts, after the build; needs valgrind (Debian package `valgrind`). Run it on an
# otherwise idle machine: under valgrind the program runs some fifty times slower, and a 4,000-call
# round slowed further (two valgrind runs at once, or `--cache-sim=yes`) stopped short, the
# benchmark giving up after its minute with the process idle (most likely offers rang out before the
# answering machine, as slowed, took them, and their agents stepped away); the script then fails
# with the benchmark's output rather than print a figure.
set -eu
cd "$(dirname "$0")/../.."
if ! command -v valgrind >/dev/null; then
    echo "instructions.sh: valgrind is not installed (apt-get install valgrind)" >&2
    exit 1
fi
bin=${1:-}
if [ -z "$bin" ]; then
    bin=$(cargo bench -p actors --bench routing --no-run 2>&1 |
        sed -n 's/.*Executable .*(\(.*\))$/\1/p' | tail -n 1)
fi
[ -x "$bin" ] || { echo "instructions.sh: no benchmark binary at '$bin'" >&2; exit 1; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

cache=
[ "${INSTRUCTIONS_CACHE:-0}" = 1 ] && cache=--cache-sim=yes

# What the whole process ran, for store $1 and $2 calls a round: "instructions" or, with the
# cache simulation, "instructions instruction-cache-misses data-cache-misses" (first level;
# callgrind's totals are Ir Dr Dw I1mr D1mr D1mw ...).
count() {
    SWITCHYARD_BENCH_STORE=$1 SWITCHYARD_BENCH_CALLS=$2 \
        valgrind --tool=callgrind $cache --callgrind-out-file="$out/cg" "$bin" >"$out/log" 2>&1 ||
        { cat "$out/log" >&2; exit 1; }
    sed -n 's/.*Collected : //p' "$out/log" |
        awk '{ if (NF >= 6) print $1, $4, $5 + $6; else print $1 }'
}

# The same a call: the difference of 2,000- and 4,000-call rounds over the 10,000 calls between.
per_call() {
    small=$(count "$1" 2000)
    large=$(count "$1" 4000)
    if [ -z "$small" ] || [ -z "$large" ]; then
        echo "instructions.sh: callgrind printed no totals for store $1" >&2
        exit 1
    fi
    echo "$small" "$large" | awk -v store="$1" '{ n = NF / 2
        for (i = 1; i <= n; i++) d[i] = int(($(i + n) - $i) / 10000)
        if (d[1] <= 0) {
            print "instructions.sh: 4,000 calls a round ran no more than 2,000 for store " \
                store " (not the routing benchmark?)" > "/dev/stderr"
            exit 1
        }
        s = d[1]; for (i = 2; i <= n; i++) s = s " " d[i]; print s }'
}

# The lowest and highest of INSTRUCTIONS_RUNS counts a call for store $1, field by field, as
# "low-high" each.
range() {
    : >"$out/counts"
    i=0
    while [ "$i" -lt "${INSTRUCTIONS_RUNS:-3}" ]; do
        n=$(per_call "$1")
        echo "$n" >>"$out/counts"
        i=$((i + 1))
    done
    awk '{ for (f = 1; f <= NF; f++) {
            if (NR == 1 || $f < lo[f]) lo[f] = $f
            if (NR == 1 || $f > hi[f]) hi[f] = $f }
        n = NF }
        END { s = ""; for (f = 1; f <= n; f++) s = s (f > 1 ? " " : "") lo[f] "-" hi[f]; print s }' \
        "$out/counts"
}

# Field $2 (1: instructions, 2: instruction-cache misses, 3: data-cache misses) of a range.
field() {
    echo "$1" | awk -v f="$2" '{ print $f }'
}

memory=$(range memory)
bare=$(range bare)
echo "instructions a call (created, routed, answered, hung up; lowest and highest of ${INSTRUCTIONS_RUNS:-3} counts): memory store $(field "$memory" 1), bare ractor baseline $(field "$bare" 1)"
if [ -n "$cache" ]; then
    echo "first-level cache misses a call (same counts): instruction cache: memory store $(field "$memory" 2), baseline $(field "$bare" 2); data cache: memory store $(field "$memory" 3), baseline $(field "$bare" 3)"
fi
# The lowest counts: each range's part before its dash.
m=$(field "$memory" 1) b=$(field "$bare" 1)
awk -v m="${m%-*}" -v b="${b%-*}" 'BEGIN {
    printf "the baseline runs %.2fx the memory store'"'"'s instructions a call (lowest counts)\n", b / m }'

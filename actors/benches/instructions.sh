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
# Without an argument it builds the benchmark (`cargo bench -p actors --no-run`). About five
# minutes with three counts, after the build; needs valgrind (Debian package `valgrind`). Run it on an otherwise idle machine:
# under valgrind the program runs some fifty times slower, and a 4,000-call round slowed
# further (two valgrind runs at once, or `--cache-sim=yes`) stopped short, the benchmark giving
# up after its minute with the process idle (most likely offers rang out before the answering
# machine, as slowed, took them, and their agents stepped away); the script then fails with the
# benchmark's output rather than print a figure.
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

# Instructions the whole process ran, for store $1 and $2 calls a round.
count() {
    SWITCHYARD_BENCH_STORE=$1 SWITCHYARD_BENCH_CALLS=$2 \
        valgrind --tool=callgrind --callgrind-out-file="$out/cg" "$bin" >"$out/log" 2>&1 ||
        { cat "$out/log" >&2; exit 1; }
    sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$out/log"
}

per_call() {
    small=$(count "$1" 2000)
    large=$(count "$1" 4000)
    echo $(((large - small) / 10000))
}

# The lowest and highest of INSTRUCTIONS_RUNS counts for store $1, as "low high".
range() {
    low= high=
    i=0
    while [ "$i" -lt "${INSTRUCTIONS_RUNS:-3}" ]; do
        n=$(per_call "$1")
        if [ -z "$low" ] || [ "$n" -lt "$low" ]; then low=$n; fi
        if [ -z "$high" ] || [ "$n" -gt "$high" ]; then high=$n; fi
        i=$((i + 1))
    done
    echo "$low $high"
}

memory=$(range memory)
bare=$(range bare)
echo "instructions a call (created, routed, answered, hung up; lowest and highest of ${INSTRUCTIONS_RUNS:-3} counts): memory store ${memory% *}-${memory#* }, bare ractor baseline ${bare% *}-${bare#* }"
awk -v m="${memory% *}" -v b="${bare% *}" 'BEGIN { printf "the baseline runs %.2fx the memory store'"'"'s instructions a call (lowest counts)\n", b / m }'

#!/usr/bin/env bash
# iovsim as a library (issue 6): `cmake --install` the build that made the iovsim binary into
# SCRATCH/prefix, build testbenches/examples (a standalone project: find_package(iovsim),
# iovsim::iovsim, its own sc_main) against it, run it, and check what it prints against the
# installed `iovsim` itself: the same enumerated functions as `iovsim lspci`, the same 64 B DMA
# read latency as `iovsim dmabench` for the same parameters, a parameter that moves it by exactly
# its value, and the example's own statistic in its stats.json.
set -euo pipefail
# shellcheck source=testbenches/lib/common.bash
source "$(dirname "$0")/lib/common.bash"
tb_setup "$@"

BUILD=$(dirname "$IOVSIM")  # the iovsim binary sits at the top of its build directory
[ -f "$BUILD/CMakeCache.txt" ] || fail "no CMakeCache.txt next to $IOVSIM: not a build directory"
# The example is built like the library (Release, or RelWithDebInfo for the sanitizer build;
# the sanitizer flags come with the exported targets).
BUILD_TYPE=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$BUILD/CMakeCache.txt")
CXX=$(sed -n 's/^CMAKE_CXX_COMPILER:[A-Z]*=//p' "$BUILD/CMakeCache.txt")

run_ok install cmake --install "$BUILD" --prefix "$SCRATCH/prefix"
P=$SCRATCH/prefix
for f in bin/iovsim lib/cmake/iovsim/iovsimConfig.cmake lib/cmake/iovsim/iovsimConfigVersion.cmake \
    lib/libiovsim_core.a lib/libiovsim_platform.a include/iovsim/platform/host_platform.h \
    include/iovsim/models/pcie/root_complex.h share/iovsim/configs/default.yaml; do
    [ -e "$P/$f" ] || fail "install: no $f under the prefix"
done
pass "install: iovsim, libraries, headers, configs and the CMake package"
[ -z "$(find "$P" -path '*/tests/*' -o -name '*test*.a' -o -name '*_tests' | head -1)" ] ||
    fail "install: test files were installed" "none" "$(find "$P" -path '*/tests/*' | head -3)"

run_ok configure cmake -S "$TB_DIR/examples" -B example-build -G Ninja \
    -DCMAKE_PREFIX_PATH="$P" -DCMAKE_BUILD_TYPE="$BUILD_TYPE" -DCMAKE_CXX_COMPILER="$CXX"
run_ok build cmake --build example-build -- -j2
EXAMPLE=$SCRATCH/example-build/dma_latency
[ -x "$EXAMPLE" ] || fail "the example built no dma_latency"
pass "example: configured with find_package(iovsim) and built against the prefix"

export SYSTEMC_DISABLE_COPYRIGHT_MESSAGE=1
# example NAME [key=value]...: runs the example in SCRATCH/NAME (its stats.json lands there);
# stdout in SCRATCH/NAME.out.
example() {
    local name=$1
    shift
    mkdir -p "$name"
    (cd "$name" && run_ok "$name" "$EXAMPLE" "$@") || exit 1
}
# latency NAME SIZE: the p50 the example printed.
latency() { sed -n "s/^read $2 B: latency p50 \([0-9.]*\) ns.*/\1/p" "$1.out"; }
# stat NAME KEY: a value from the example's stats.json by its dotted name.
stat() {
    "$PY" - "$1/stats.json" "$2" <<'PYEOF'
import json, sys
v = json.load(open(sys.argv[1]))
for k in sys.argv[2].split("."):
    v = v[k]
print(v)
PYEOF
}

# The enumerated functions: what `iovsim lspci` shows for the DMA bench platform.
example base
sed -n 's/^function \([0-9a-f:.]*\) \([0-9a-f:]*\) .*/\1 \2/p' base.out >functions.example
run_ok lspci "$P/bin/iovsim" lspci --set pcie.device=dmabench
sed -nE 's/^([0-9a-f]{2}:[0-9a-f]{2}\.[0-7]) [0-9a-f]{4}: ([0-9a-f]{4}:[0-9a-f]{4})$/\1 \2/p' \
    lspci.out >functions.lspci
[ "$(wc -l <functions.lspci)" -ge 3 ] || fail "lspci: fewer than 3 functions" ">= 3" \
    "$(cat functions.lspci)"
check_eq "example: enumerated functions = iovsim lspci" "$(cat functions.lspci)" \
    "$(cat functions.example)"

# The 64 B read latency: what `iovsim dmabench` measures with the example's parameters, with
# the defaults and with the endpoint's internal latency raised from 60 ns to 100 ns, which adds
# exactly those 40 ns to every read's round trip.
example slow dmabench.rx_latency=100ns
bench_args=(--set dmabench.ops=read --set dmabench.patterns=seq --set dmabench.sizes=64
    --set dmabench.windows=4KiB --set dmabench.count=200)
IOVSIM="$P/bin/iovsim" bench bench-base "${bench_args[@]}"
IOVSIM="$P/bin/iovsim" bench bench-slow "${bench_args[@]}" --set dmabench.rx_latency=100ns
for run in base slow; do
    got=$(latency $run 64)
    [ -n "$got" ] || fail "$run: the example printed no 64 B read latency" "read 64 B: ..." \
        "$(cat $run.out)"
    check_eq "$run: 64 B read p50 = iovsim dmabench's" \
        "$(csv_get bench-$run/dmabench.csv read 64 latency_ns_p50)" "$got"
done
check_py "rx_latency +40 ns: p50 +40 ns" "abs(slow - base - 40) < 0.001" \
    base="$(latency base 64)" slow="$(latency slow 64)"

# The example's own statistic, beside the platform's in its stats.json: one MRd per 64 B read,
# two per 1 KiB read (MRRS 512 B).
example big dmabench.sizes=1KiB
check_eq "stats.json: example.dma_reads_per_transfer, 64 B" "1.0" \
    "$(stat base example.dma_reads_per_transfer)"
check_eq "stats.json: example.dma_reads_per_transfer, 1 KiB" "2.0" \
    "$(stat big example.dma_reads_per_transfer)"
stat base pcie >/dev/null || fail "stats.json: the platform's statistics (pcie.*) are missing"
pass "stats.json: the platform's statistics too"

# Bad input stops the example before anything is simulated, naming the key.
rc=0
"$EXAMPLE" pcie.lanes=3 >bad.out 2>bad.err || rc=$?
check_eq "bad parameter: exit status" "2" "$rc"
check_contains "bad parameter: names the key" bad.err "pcie.lanes"

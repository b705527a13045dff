#!/usr/bin/env bash
# What `iovsim dmabench --out DIR` writes: dmabench.csv (header, one row per point, plain
# numbers, physically possible values), stats.json (nested JSON), params.yaml (which reproduces
# the run), and that the results are a pure function of the configuration.
set -euo pipefail
# shellcheck source=testbenches/lib/common.bash
source "$(dirname "$0")/lib/common.bash"
tb_setup "$@"

small=(--set "dmabench.sizes=64,1024" --set dmabench.count=50 --set dmabench.windows=8K)
bench a "${small[@]}"

# --- dmabench.csv -----------------------------------------------------------------------------
check_eq "CSV header" \
    "op,pattern,size,window,page_size,iommu,latency_ns_p50,latency_ns_p99,bandwidth_gbps,iotlb_hits,iotlb_misses" \
    "$(head -n 1 a/dmabench.csv)"

# Default link Gen3 x8: 8 GT/s x 8 lanes x 128/130 = 63.015 Gbit/s; no DMA can beat it.
raw=$(raw_gbps 3 8)
check_py "Gen3 x8 raw rate worked out as 63.015 Gbit/s" 'abs(raw - 63.015) < 0.001' "raw=$raw"

"$PY" - a/dmabench.csv "$raw" <<'PYEOF' || fail "a/dmabench.csv rows (see above)"
import csv, re, sys
path, raw = sys.argv[1], float(sys.argv[2])
rows = list(csv.DictReader(open(path)))
def bad(msg):
    sys.exit(f"{path}: {msg}")
# dmabench.ops defaults to [read, write]; sizes 64,1024: 2 x 2 = 4 points.
got = sorted((r["op"], r["size"]) for r in rows)
want = sorted((op, s) for op in ("read", "write") for s in ("64", "1024"))
if got != want:
    bad(f"expected points (op, size) {want}, got {got}")
for r in rows:
    where = f"row {r['op']} {r['size']}"
    for col in ("size", "window", "page_size", "iotlb_hits", "iotlb_misses"):
        if not re.fullmatch(r"[0-9]+", r[col]):
            bad(f"{where}: {col} should be a plain integer, got {r[col]!r}")
    if r["pattern"] != "seq":
        bad(f"{where}: pattern should be the default seq, got {r['pattern']!r}")
    if r["window"] != "8192":  # 8K = 8 x 1024
        bad(f"{where}: window should be 8K = 8192, got {r['window']}")
    if r["iommu"] != "off":
        bad(f"{where}: iommu should be off, got {r['iommu']!r}")
    if (r["iotlb_hits"], r["iotlb_misses"]) != ("0", "0"):
        bad(f"{where}: no IOMMU means no IOTLB lookups, got {r['iotlb_hits']}/{r['iotlb_misses']}")
    p50, p99, bw = (float(r[c]) for c in ("latency_ns_p50", "latency_ns_p99", "bandwidth_gbps"))
    if not 0 < p50 <= p99:
        bad(f"{where}: expected 0 < p50 <= p99, got p50={p50} p99={p99}")
    if not 0 < bw < raw:
        bad(f"{where}: expected 0 < bandwidth < link raw rate {raw:.3f}, got {bw}")
    print(f"{where}: p50 {p50} ns, p99 {p99} ns, {bw} Gbit/s < {raw:.3f}")
PYEOF
pass "CSV: 4 rows, plain integers, iommu off, 0 < p50 <= p99, 0 < bandwidth < raw rate"

# --- stats.json -------------------------------------------------------------------------------
version=$("$IOVSIM" --version)
version=${version#iovsim }
"$PY" - a/stats.json "$version" <<'PYEOF' || fail "a/stats.json (see above)"
import json, sys
path, version = sys.argv[1], sys.argv[2]
try:
    stats = json.load(open(path))
except ValueError as e:
    sys.exit(f"{path} is not valid JSON: {e}")
if not isinstance(stats, dict) or not isinstance(stats.get("sim"), dict):
    sys.exit(f"{path}: expected an object with a nested 'sim' object")
def walk(node, prefix):  # names are nested objects, never dotted keys
    for k, v in node.items():
        if "." in k:
            sys.exit(f"{path}: key {prefix + k!r} is dotted; statistics nest as objects")
        if isinstance(v, dict):
            walk(v, prefix + k + ".")
walk(stats, "")
sim = stats["sim"]
ns = sim.get("simulated_ns")
if not isinstance(ns, (int, float)) or ns <= 0:
    sys.exit(f"{path}: sim.simulated_ns should be a positive number, got {ns!r}")
if sim.get("version") != version:
    sys.exit(f"{path}: sim.version should be {version!r} (iovsim --version), got {sim.get('version')!r}")
print(f"sim.simulated_ns = {ns}, sim.version = {sim['version']}")
PYEOF
pass "stats.json: valid, nested, sim.simulated_ns > 0, sim.version = $version"

# --- Determinism and the params.yaml round trip -----------------------------------------------
bench a_again "${small[@]}"
cmp a/dmabench.csv a_again/dmabench.csv ||
    fail "two identical runs give the same dmabench.csv" "identical" "$(diff a/dmabench.csv a_again/dmabench.csv)"
pass "two identical runs give byte-identical dmabench.csv"

[ -s a/params.yaml ] || fail "dmabench wrote a/params.yaml"
bench replay a/params.yaml
cmp a/dmabench.csv replay/dmabench.csv ||
    fail "'dmabench a/params.yaml' reproduces the run" "identical dmabench.csv" \
        "$(diff a/dmabench.csv replay/dmabench.csv)"
cmp a/params.yaml replay/params.yaml ||
    fail "params.yaml is a fixed point" "identical params.yaml" "$(diff a/params.yaml replay/params.yaml)"
pass "params.yaml reproduces an identical dmabench.csv (and itself)"

# sim.seed feeds the rand pattern only: the seq rows must not move when it changes.
mixed=(--set "dmabench.sizes=64,1024" --set dmabench.count=50 --set dmabench.windows=64K
    --set "dmabench.patterns=seq,rand")
bench seed1 "${mixed[@]}" --set sim.seed=1
bench seed2 "${mixed[@]}" --set sim.seed=2
check_eq "seq rows with sim.seed=1 and sim.seed=2" "$(grep ',seq,' seed1/dmabench.csv)" \
    "$(grep ',seq,' seed2/dmabench.csv)"
check_eq "rand rows exist (2 ops x 2 sizes)" 4 "$(grep -c ',rand,' seed1/dmabench.csv)"
echo "PASS dmabench_output"

#!/usr/bin/env bash
# What `iovsim dmabench --out DIR` writes: dmabench.csv (header, one row per point, plain
# numbers, physically possible values), stats.json (nested JSON), params.yaml (which reproduces
# the run), and that the results are a pure function of the configuration.
set -euo pipefail
# shellcheck source=testbenches/lib/common.bash
source "$(dirname "$0")/lib/common.bash"
tb_setup "$@"

# MPS, MRRS, tags and the ACK/UpdateFC rates are the defaults, spelled out: the bandwidth lower
# bounds below are worked out from them.
small=(--set "dmabench.sizes=64,1024" --set dmabench.count=50 --set dmabench.windows=8K
    --set pcie.mps=256 --set pcie.mrrs=512 --set pcie.tags=32 --set pcie.ack_every=4
    --set pcie.fc_every=4)
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

# --- Bandwidth lower bounds -------------------------------------------------------------------
# A link-bound pass moves count x size bytes in at most the first transfer's latency (filling the
# pipeline; p50 of the latency pass, unloaded) plus the time the data direction needs for every
# transfer's wire bytes back to back, so bandwidth >= count x size x 8 / (p50 + count x wire x 8
# / raw); we require 95% of that. Wire bytes per transfer on the data direction (upstream: read
# completions and writes both flow endpoint -> root complex; Gen3 framing, buffer above 4 GiB):
#   write S: ceil(S/256) MWr of 4-DW header, each payload + 24 B; the root complex's ACK and
#     UpdateFC DLLPs for them go downstream, and the endpoint receives no TLPs during the pass,
#     so no DLLPs share the data direction. 64 B: 64 + 24 = 88 B; 1024 B: 1024 + 4 x 24 = 1120 B.
#   read S: ceil(S/256) CplD, each payload + 20 B, plus the endpoint's DLLPs for the ceil(S/512)
#     MRd it receives: one ACK per 4 and one UpdateFC per 4 TLPs = 2 x 8 / 4 = 4 B per MRd, sent
#     upstream with the completions. 1024 B: 1024 + 4 x 20 + 2 x 4 = 1112 B.
# 64 B reads are not link-bound but tag-bound: 32 tags x 64 B per ~0.55 us round trip is
# ~30 Gbit/s, below the link's 63.015 x 64/88 = 45.8 Gbit/s, so no link bound applies to them.
"$PY" - a/dmabench.csv "$raw" <<'PYEOF' || fail "a/dmabench.csv bandwidth lower bounds (see above)"
import csv, sys
path, raw = sys.argv[1], float(sys.argv[2])
count = 50
wire = {("write", 64): 64 + 24, ("write", 1024): 1024 + 4 * 24, ("read", 1024): 1024 + 4 * 20 + 2 * 4}
rows = {(r["op"], int(r["size"])): r for r in csv.DictReader(open(path))}
for (op, size), w in wire.items():
    r = rows[(op, size)]
    p50, bw = float(r["latency_ns_p50"]), float(r["bandwidth_gbps"])
    link_ns = count * w * 8 / raw  # bits / (Gbit/s) = ns
    bound = 0.95 * count * size * 8 / (p50 + link_ns)
    if bw < bound:
        sys.exit(f"{op} {size} B: bandwidth {bw} Gbit/s below 0.95 x {count} x {size} x 8 / "
                 f"({p50} + {link_ns:.1f} ns) = {bound:.3f}")
    print(f"{op} {size} B: {bw} >= {bound:.3f} Gbit/s ({w} wire bytes per {size} B)")
PYEOF
pass "CSV: link-bound rows reach 95% of what the link carries after TLP/DLLP overhead and fill"

# --- An LLC of a number of sets that is not a power of two ------------------------------------
# 30 MiB of 16 ways of 64 B lines is 30 x 2^20 / 1024 = 30720 sets; the memory model takes any
# whole number of sets.
bench llc30 --set mem.llc.size=30MiB --set dmabench.sizes=64 --set dmabench.count=20
check_eq "mem.llc.size=30MiB runs: 2 rows (read, write)" 2 "$(grep -c ',seq,' llc30/dmabench.csv)"

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

#!/usr/bin/env bash
# The IOMMU in the DMA bench: with iommu.enabled the bench endpoint's buffer is mapped once in a
# domain of its own. Random 64 B reads over a window within the IOTLB's reach run at full speed;
# over a window far beyond it nearly every read misses and walks, and bandwidth drops (the
# pcie-bench cliff). With 2 MiB pages the reach grows 512-fold and the cliff moves out.
set -euo pipefail
# shellcheck source=testbenches/lib/common.bash
source "$(dirname "$0")/lib/common.bash"
tb_setup "$@"

# IOTLB reach: 64 entries x 4 KiB = 256 KiB; 64 x 2 MiB = 128 MiB. Windows: 128 KiB (inside both)
# and 64 MiB (16384 pages of 4 KiB, far outside; 32 pages of 2 MiB, inside). An LLC of 128 MiB
# holds the whole warmed window, so the only difference between the windows is the IOTLB.
pts=(--set iommu.enabled=true --set dmabench.ops=read --set dmabench.patterns=rand
    --set dmabench.sizes=64 --set dmabench.windows=128K,64M --set dmabench.iommu_sweep=false
    --set dmabench.count=2000 --set mem.llc.size=128MiB)
bench p4k "${pts[@]}" --set iommu.page_size=4K
bench p2m "${pts[@]}" --set iommu.page_size=2M

"$PY" - p4k p2m <<'PYEOF' || fail "IOTLB reach and the bandwidth cliff (see above)"
import csv, json, sys
def rows(d):
    return {int(r["window"]): r for r in csv.DictReader(open(f"{d}/dmabench.csv"))}
def bad(msg):
    sys.exit(msg)
small, big = 128 * 1024, 64 * 1024 * 1024
transfers = 2 * 2000  # latency pass + bandwidth pass
for d, page in (("p4k", 4096), ("p2m", 2 * 1024 * 1024)):
    r = rows(d)
    for w in (small, big):
        if r[w]["iommu"] != "on" or int(r[w]["page_size"]) != page:
            bad(f"{d} window {w}: expected iommu on, page_size {page}, got {r[w]['iommu']} {r[w]['page_size']}")
        h, m = int(r[w]["iotlb_hits"]), int(r[w]["iotlb_misses"])
        if h + m != transfers:
            bad(f"{d} window {w}: hits + misses = {h + m}, expected one lookup per 64 B read = {transfers}")
    # 128 KiB = 32 pages of 4 KiB (1 of 2 MiB): each misses once after the point's flush, then hits.
    if int(r[small]["iotlb_misses"]) > 32:
        bad(f"{d}: 128 KiB window fits the IOTLB, yet {r[small]['iotlb_misses']} misses (> 32 pages)")
stats4 = json.load(open("p4k/stats.json"))["iommu"]
stats2 = json.load(open("p2m/stats.json"))["iommu"]
r4, r2 = rows("p4k"), rows("p2m")
# 4 KiB pages, 64 MiB: a random page is in the 64-entry IOTLB with probability 64/16384 = 0.4 %.
m = int(r4[big]["iotlb_misses"])
if m < 0.95 * transfers:
    bad(f"p4k 64 MiB: expected >= 95 % misses of {transfers}, got {m}")
bw_s, bw_b = float(r4[small]["bandwidth_gbps"]), float(r4[big]["bandwidth_gbps"])
if not bw_s > 1.3 * bw_b:
    bad(f"p4k: bandwidth at 128 KiB ({bw_s}) should clearly exceed 64 MiB ({bw_b}): x1.3")
lat_s, lat_b = float(r4[small]["latency_ns_p50"]), float(r4[big]["latency_ns_p50"])
if not lat_b > lat_s:
    bad(f"p4k: a miss must cost latency: p50 {lat_b} at 64 MiB vs {lat_s} at 128 KiB")
# 2 MiB pages, 64 MiB = 32 pages: at most 32 misses, bandwidth within 5 % of the small window.
if int(r2[big]["iotlb_misses"]) > 32:
    bad(f"p2m 64 MiB: 32 pages fit the IOTLB, yet {r2[big]['iotlb_misses']} misses")
b2s, b2b = float(r2[small]["bandwidth_gbps"]), float(r2[big]["bandwidth_gbps"])
if abs(b2b - b2s) > 0.05 * b2s:
    bad(f"p2m: 64 MiB bandwidth {b2b} should stay near the 128 KiB figure {b2s}")
# The mapping: 64 MiB / 4 KiB = 16384 PTEs; 64 MiB / 2 MiB = 32 PDEs; no faults anywhere.
if stats4["driver"]["pages_4k"] != 16384 or stats2["driver"]["pages_2m"] != 32:
    bad(f"mapping: pages_4k {stats4['driver']['pages_4k']} (want 16384), pages_2m {stats2['driver']['pages_2m']} (want 32)")
for s in (stats4, stats2):
    if s["faults"]["total"] != 0:
        bad(f"unexpected IOMMU faults: {s['faults']}")
print(f"4K: 128 KiB {bw_s} Gbit/s, 64 MiB {bw_b} Gbit/s ({m} misses); 2M: {b2s} / {b2b} Gbit/s")
PYEOF
pass "IOTLB reach: 4 KiB pages fall off past 256 KiB, 2 MiB pages keep 64 MiB at full speed"

# With the IOMMU off the bench reports no IOTLB activity and needs no register page.
bench off --set dmabench.ops=read --set dmabench.sizes=64 --set dmabench.windows=128K \
    --set dmabench.count=100
check_eq "IOMMU off: iommu column" "off" "$(csv_get off/dmabench.csv read 64 iommu)"

# A bad page size is a configuration error naming the key.
rc=0
"$IOVSIM" dmabench --set iommu.enabled=true --set iommu.page_size=8K --out bad \
    >bad.out 2>bad.err || rc=$?
[ $rc -ne 0 ] || fail "iommu.page_size=8K is rejected" "non-zero exit" "exit 0"
check_contains "error names iommu.page_size" bad.err "iommu.page_size"
echo "PASS iommu_dmabench"

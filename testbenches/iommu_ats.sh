#!/usr/bin/env bash
# ATS in the DMA bench: with dmabench.ats the endpoint translates through its own ATC
# (Translation Requests to the IOMMU on a miss) and sends Translated Requests that skip the
# IOTLB. Random 64 B reads, 4 KiB pages, ATS off and on, over a window that fits the ATC and one
# far beyond it.
set -euo pipefail
# shellcheck source=testbenches/lib/common.bash
source "$(dirname "$0")/lib/common.bash"
tb_setup "$@"

# Windows: 64 KiB = 16 pages (inside the 64-entry ATC and the 64-entry IOTLB) and 64 MiB =
# 16384 pages (a random page is in a 64-entry cache with probability 64/16384 = 0.4 %).
# 2000 transfers per pass, a latency pass and a bandwidth pass per point.
pts=(--set iommu.enabled=true --set iommu.page_size=4K --set dmabench.ops=read
    --set dmabench.patterns=rand --set dmabench.sizes=64 --set dmabench.windows=64K,64M
    --set dmabench.iommu_sweep=false --set dmabench.count=2000 --set mem.llc.size=128MiB
    --set dmabench.atc_entries=64)
bench off "${pts[@]}" --set dmabench.ats=false
bench on "${pts[@]}" --set dmabench.ats=true

"$PY" - off on <<'PYEOF' || fail "ATS against the IOTLB (see above)"
import csv, json, sys
def rows(d):
    return {int(r["window"]): r for r in csv.DictReader(open(f"{d}/dmabench.csv"))}
def bad(msg):
    sys.exit(msg)
small, big = 64 * 1024, 64 * 1024 * 1024
transfers = 2 * 2000
off, on = rows("off"), rows("on")
lookups = lambda r: int(r["iotlb_hits"]) + int(r["iotlb_misses"])
# Without ATS every 64 B read is one IOTLB lookup.
for w in (small, big):
    if lookups(off[w]) != transfers:
        bad(f"ATS off, window {w}: {lookups(off[w])} IOTLB lookups, expected {transfers}")
# With ATS the IOTLB only sees Translation Requests: one per ATC miss. At 64 KiB each of the 16
# pages misses once after the point's flush (which empties the ATC too), then always hits.
if lookups(on[small]) > 16:
    bad(f"ATS on, 64 KiB: {lookups(on[small])} IOTLB lookups, expected at most 16 (one per page)")
# At 64 MiB nearly every read misses the ATC and sends a Translation Request (>= 95 %).
if lookups(on[big]) < 0.95 * transfers:
    bad(f"ATS on, 64 MiB: {lookups(on[big])} Translation Requests, expected >= 95 % of {transfers}")
# Latency. Small window: a translated request costs the context-cache probe (2 ns), the same as
# an IOTLB hit, so p50 is the same within 1 ns.
l_off_s, l_on_s = float(off[small]["latency_ns_p50"]), float(on[small]["latency_ns_p50"])
if abs(l_on_s - l_off_s) > 1.0:
    bad(f"64 KiB: p50 with ATS {l_on_s} ns should equal p50 without {l_off_s} ns (within 1 ns)")
# Large window: without ATS a miss costs the walk; with ATS it costs the walk inside a whole
# extra PCIe round trip (the Translation Request and its completion) before the read: at least
# half a small-window read's latency more.
l_off_b, l_on_b = float(off[big]["latency_ns_p50"]), float(on[big]["latency_ns_p50"])
if not l_on_b > l_off_b + 0.5 * l_off_s:
    bad(f"64 MiB: p50 with ATS {l_on_b} ns should exceed {l_off_b} + 0.5 x {l_off_s} ns")
# The engine waits for each Translation Completion before issuing the read: bandwidth drops.
b_off_b, b_on_b = float(off[big]["bandwidth_gbps"]), float(on[big]["bandwidth_gbps"])
if not b_on_b < 0.8 * b_off_b:
    bad(f"64 MiB: bandwidth with ATS {b_on_b} should fall below 0.8 x {b_off_b} Gbit/s")
# The IOMMU's ATS counters: every transfer of the ATS run is a Translated Request (2 windows x
# 2 passes x 2000), and its IOTLB lookups all came from Translation Requests.
s_on = json.load(open("on/stats.json"))["iommu"]
s_off = json.load(open("off/stats.json"))["iommu"]
if s_on["ats"]["translated_requests"] != 2 * transfers:
    bad(f"translated requests {s_on['ats']['translated_requests']}, expected {2 * transfers}")
if s_on["ats"]["translation_requests"] != lookups(on[small]) + lookups(on[big]):
    bad(f"translation requests {s_on['ats']['translation_requests']} != IOTLB lookups of the run")
if s_off["ats"]["translated_requests"] != 0 or s_on["ats"]["refused"] != 0:
    bad("ATS off must send no translated requests; ATS on must have none refused")
# Per point the driver's domain flush sends one Invalidate Request (every address) to the device.
if s_on["ats"]["invalidate_requests"] < 2:
    bad(f"expected an Invalidate Request per point, got {s_on['ats']['invalidate_requests']}")
PYEOF
echo "PASS iommu_ats"

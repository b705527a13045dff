#!/usr/bin/env bash
# Bare-metal `iovsim run` under iommu.host_mode (issue 3's host-owned device, for issue 6's bare
# metal): the host's PF driver with the IOMMU off, and on with host_mode pt, lazy and strict.
# What the driver must do (platform/rr_workload.h, iommu/driver.h), with C round trips:
# - pt: a pass-through context entry; dma_map() is the identity, so no map or unmap call, no
#   domain, no IOTLB lookup (TT = 10 requests skip the IOTLB; the IOMMU counts them pass_through).
# - lazy, strict: one domain; maps = 2 rings + 63 RX buffers at open (nic_queue_ring - 1) + 2 per
#   round trip (the TX buffer, the RX refill after it) = 65 + 2C; unmaps = 2 per round trip (the
#   RX buffer before its frame is read, the TX buffer at its completion) = 2C.
# - Waits: init and attach are the same in every mode (the pt run's count, W0). strict waits once
#   per unmap: W0 + 2C. lazy waits once per flush-queue flush: every 250 unmaps (flush_batch), or
#   when the oldest queued unmap is 10 ms old; the run is checked to last under 10 ms, so only
#   batches flush: floor(2C / 250) flushes, W0 + that many waits.
# - IOTLB: every TX and RX buffer has a fresh IOVA (bump allocator, each mapping used once), so at
#   least 2 misses per round trip in lazy and strict.
# - RTT p50: pt >= off (the context lookup is all pt adds); lazy > pt (the TX map and RX unmap
#   are on the path, each writing a table entry, and both buffers' DMA walk the tables);
#   strict > lazy (the RX unmap waits for a page-selective invalidation).
set -euo pipefail
# shellcheck source=testbenches/lib/common.bash
source "$(dirname "$0")/lib/common.bash"
tb_setup "$@"

COUNT=200
WARMUP=20
MEASURED=$((COUNT - WARMUP))
RX_AT_OPEN=63 # nic_queue_ring (64) - 1: one slot stays the driver's
MAPS=$((2 + RX_AT_OPEN + 2 * COUNT))
UNMAPS=$((2 * COUNT))
FLUSHES=$((UNMAPS / 250))
common=(--set vm.mode=bare-metal --set "workload.count=$COUNT" --set "workload.warmup=$WARMUP"
    --set workload.size=64)

run_ok off "$IOVSIM" run --out off --set iommu.enabled=false "${common[@]}"
for m in pt lazy strict; do
    run_ok $m "$IOVSIM" run --out $m --set iommu.enabled=true --set iommu.host_mode=$m \
        "${common[@]}"
done

for d in off pt lazy strict; do
    check_eq "$d: responses verified" "$COUNT" "$(stat $d rr.verified)"
    check_eq "$d: measured round trips" "$MEASURED" "$(stat $d latency_ns.rtt.count)"
    check_breakdown "$d" "$d"
done
for d in pt lazy strict; do
    check_eq "$d: no IOMMU fault" "0" "$(stat $d iommu.faults.total)"
    # The lazy flush count below assumes no timer flush: the whole run is shorter than 10 ms.
    check_py "$d: run shorter than the 10 ms flush timeout" "t < 10e6" \
        t="$(stat $d sim.simulated_ns)"
done

check_eq "pt: no map, unmap or domain" "0 0 0" \
    "$(stat pt iommu.driver.maps) $(stat pt iommu.driver.unmaps) $(stat pt iommu.driver.domains)"
check_eq "pt: no IOTLB lookup" "0" "$(stat pt iommu.iotlb.lookups)"
check_py "pt: the PF's DMA went through as pass-through" "n >= 4 * C" \
    n="$(stat pt iommu.pass_through)" C=$COUNT # TX desc, TX buffer, RX buffer, RX desc at least
check_eq "pt: no flush" "0" "$(stat pt iommu.driver.deferred_flushes)"
W0=$(stat pt iommu.driver.waits)
check_py "pt: init and attach waited" "w > 0" w="$W0"

for d in lazy strict; do
    check_eq "$d: one domain" "1" "$(stat $d iommu.driver.domains)"
    check_eq "$d: maps = 2 rings + $RX_AT_OPEN RX + 2 per round trip" "$MAPS" \
        "$(stat $d iommu.driver.maps)"
    check_eq "$d: unmaps = 2 per round trip" "$UNMAPS" "$(stat $d iommu.driver.unmaps)"
    check_eq "$d: no pass-through request" "0" "$(stat $d iommu.pass_through)"
    check_py "$d: a fresh IOVA per buffer misses the IOTLB" "m >= 2 * C" \
        m="$(stat $d iommu.iotlb.misses)" C=$COUNT
    check_py "$d: ring accesses hit the IOTLB" "h > 0" h="$(stat $d iommu.iotlb.hits)"
done
check_eq "strict: a wait per unmap" "$((W0 + UNMAPS))" "$(stat strict iommu.driver.waits)"
check_eq "strict: no flush queue" "0" "$(stat strict iommu.driver.deferred_flushes)"
check_eq "lazy: a flush per 250 unmaps" "$FLUSHES" "$(stat lazy iommu.driver.deferred_flushes)"
check_eq "lazy: a wait per flush" "$((W0 + FLUSHES))" "$(stat lazy iommu.driver.waits)"

off=$(stat off latency_ns.rtt.p50)
pt=$(stat pt latency_ns.rtt.p50)
lazy=$(stat lazy latency_ns.rtt.p50)
strict=$(stat strict latency_ns.rtt.p50)
check_py "RTT p50: pt >= off" "pt >= off" pt="$pt" off="$off"
check_py "RTT p50: lazy > pt" "lazy > pt" lazy="$lazy" pt="$pt"
check_py "RTT p50: strict > lazy" "strict > lazy" strict="$strict" lazy="$lazy"
check_py "host_stack: strict > lazy > pt (the driver's IOMMU work is the host's)" \
    "s > l > p" s="$(stat strict breakdown_ns.host_stack)" l="$(stat lazy breakdown_ns.host_stack)" \
    p="$(stat pt breakdown_ns.host_stack)"
echo "RTT p50 ns: off $off pt $pt lazy $lazy strict $strict"
echo "PASS iommu_host_mode"

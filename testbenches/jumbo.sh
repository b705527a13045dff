#!/usr/bin/env bash
# Jumbo frames (nic.mtu 9000: frames up to 9000 + 14 + 4 = 9018 B with FCS) in every mode of
# `iovsim run`: each driver (the host's on the PF, the guest's VF driver, virtio-net, e1000) sizes
# its RX buffers for the MTU, so 9018 B request/response frames come back whole.
# - rr: every response echoed its request byte for byte (rr.verified == workload.count), nothing
#   dropped as oversize by the NIC (its TX check at nic.mtu + 18); in emulation the responses
#   get through the e1000's receive only with RCTL.LPE set by its driver.
# - The wire alone makes a 9018 B round trip longer than a 1518 B one: both directions serialize
#   7500 B more at nic.wire_rate (the link rate key of `iovsim params`), 25 Gbit/s here:
#   2 x 7500 x 8 / 25e9 s = 4800 ns. PCIe, the copies and the IOMMU only add to it, so the
#   p50 difference must be at least that.
# - stream_tx in passthrough on 10 GbE: a 9018 B frame holds the line for (9018 + 20) x 8 / 10e9
#   s = 7230.4 ns (preamble + SFD 8 B, gap 12 B), so the sink sees 9018 / 9038 x 10 = 9.9779
#   Gbit/s of frame bytes; the VF's DMA (PCIe Gen3 x8) is far faster, so within 2% of that.
set -euo pipefail
# shellcheck source=testbenches/lib/common.bash
source "$(dirname "$0")/lib/common.bash"
tb_setup "$@"

COUNT=60
WARMUP=10
RATE=25e9
EXTRA_NS=$("$PY" -c "print(2 * (9018 - 1518) * 8 / $RATE * 1e9)")  # 4800
common=(--set nic.mtu=9000 --set nic.wire_rate=25Gbps --set workload.count=$COUNT
    --set workload.warmup=$WARMUP)

run_ok params "$IOVSIM" params
check_contains "iovsim params lists nic.mtu" params.out "nic.mtu"
check_contains "iovsim params lists the link rate key" params.out "nic.wire_rate"

for mode in bare-metal emulation virtio passthrough; do
    run_ok "$mode.9018" "$IOVSIM" run --out "$mode.9018" --set vm.mode=$mode \
        --set workload.size=9018 "${common[@]}"
    run_ok "$mode.1518" "$IOVSIM" run --out "$mode.1518" --set vm.mode=$mode \
        --set workload.size=1518 "${common[@]}"
    check_eq "$mode: 9018 B responses verified" "$COUNT" "$(stat "$mode.9018" rr.verified)"
    check_eq "$mode: 1518 B responses verified" "$COUNT" "$(stat "$mode.1518" rr.verified)"
    check_eq "$mode: the PF dropped nothing as oversize" "0" \
        "$(stat "$mode.9018" nic.pf.drops.tx_oversize)"
    check_breakdown "$mode 9018 B" "$mode.9018"
    check_py "$mode: 9018 B p50 above 1518 B p50 by at least 2 x 7500 B at 25 Gbit/s" \
        "big - small >= extra" big="$(stat "$mode.9018" latency_ns.rtt.p50)" \
        small="$(stat "$mode.1518" latency_ns.rtt.p50)" extra="$EXTRA_NS"
done
check_eq "passthrough: the VF dropped nothing as oversize" "0" \
    "$(stat passthrough.9018 nic.vf0.drops.tx_oversize)"

# The same jumbo frames with the standard MTU are refused before the run (bad_input.sh checks the
# message); with nic.mtu 9000, stream_tx of 9018 B frames in passthrough reaches the line rate.
LINE10=$("$PY" -c "print(9018 / (9018 + 20) * 10)")  # 9.9779
run_ok stream "$IOVSIM" run --out stream --set vm.mode=passthrough --set workload.type=stream_tx \
    --set nic.mtu=9000 --set workload.size=9018 --set workload.count=1000 \
    --set workload.warmup=100 --set nic.wire_rate=10Gbps --set vm.interrupts=posted
check_eq "stream_tx: every frame reached the sink" "1000" "$(stat stream stream.received)"
check_py "stream_tx, 10 GbE: 9018 / 9038 of the line rate (9.978 Gbit/s, within 2%)" \
    "abs(g / line - 1) < 0.02" g="$(stat stream throughput.gbps)" line="$LINE10"
echo "PASS jumbo"

#!/usr/bin/env bash
# Receive workloads (issue 6): a generator on the wire sends workload.count frames to each
# receiver — evenly spaced (stream_rx) or with exponential gaps (poisson) at workload.rate — and
# the receiver's driver takes them on its RX interrupts. The first checks use one passthrough VM
# (the default platform); then every mode, several VMs, and an overload.
# - Below what the path can take, nothing is lost and the rate the guest sees is the offered
#   rate: 500 k frames/s.
# - Poisson with the same mean rate: the same count arrives; the rate over the run is near the
#   mean (exponential gaps, 2,699 intervals: the mean of n exponential gaps has a relative
#   standard deviation of 1/sqrt(n) = 1.9%, so within 5%); gaps shorter than the receive path
#   make some frames wait, so its latency spread (p99 - p50) is never narrower than the evenly
#   spaced one's.
# - The latency (the frame's last bit on the wire to the guest having read it) is at least the
#   NIC's and PCIe's share of a round trip, and the same seed gives the same poisson run.
# - pcap: a capture replayed toward the VF arrives whole (tshark counts the capture's frames).
# - Bad input: a missing capture: exit 2 naming the key.
set -euo pipefail
# shellcheck source=testbenches/lib/common.bash
source "$(dirname "$0")/lib/common.bash"
tb_setup "$@"

COUNT=3000
common=(--set workload.count=$COUNT --set workload.warmup=300 --set workload.rate=500000)
run_ok even "$IOVSIM" run --out even --set workload.type=stream_rx "${common[@]}"
check_eq "stream_rx: every frame received" "$COUNT $COUNT 0" \
    "$(stat even stream.sent) $(stat even stream.received) $(stat even stream.lost)"
check_py "stream_rx: the guest sees the offered 500 k frames/s (within 0.1%)" \
    "abs(r / 500000 - 1) < 0.001" r="$(stat even throughput.packets_per_s)"
check_eq "stream_rx: a latency for every measured frame" "2700" "$(stat even latency_ns.rx.count)"
check_py "stream_rx: a typical frame's latency covers the NIC's DMA and the interrupt (> 500 ns)" \
    "l > 500" l="$(stat even latency_ns.rx.p50)"

run_ok pois "$IOVSIM" run --out pois --set workload.type=poisson "${common[@]}"
check_eq "poisson: every frame received" "$COUNT" "$(stat pois stream.received)"
check_py "poisson: mean rate near 500 k frames/s (within 5%)" "abs(r / 500000 - 1) < 0.05" \
    r="$(stat pois throughput.packets_per_s)"
check_py "poisson: latency spread never narrower than evenly spaced" \
    "(p99 - p50) >= (e99 - e50)" p99="$(stat pois latency_ns.rx.p99)" \
    p50="$(stat pois latency_ns.rx.p50)" e99="$(stat even latency_ns.rx.p99)" \
    e50="$(stat even latency_ns.rx.p50)"
run_ok again "$IOVSIM" run --out again --set workload.type=poisson "${common[@]}"
check_eq "poisson: the same seed gives the same run" "$(stat pois latency_ns.rx.mean)" \
    "$(stat again latency_ns.rx.mean)"
run_ok seed2 "$IOVSIM" run --out seed2 --set workload.type=poisson --set sim.seed=2 "${common[@]}"
check_py "poisson: another seed gives other gaps" "a != b" a="$(stat pois latency_ns.rx.mean)" \
    b="$(stat seed2 latency_ns.rx.mean)"

# pcap: a capture (this simulator's own --pcap of a short request/response run) replayed toward
# the VF; tshark counts its frames, and every one arrives.
run_ok cap "$IOVSIM" run --out cap --pcap --set workload.count=100 --set workload.warmup=10
frames=$(tshark -r cap/wire.pcap 2>/dev/null | wc -l)
check_eq "the capture has a request and an echo per round trip" "200" "$frames"
run_ok replay "$IOVSIM" run --out replay --set workload.type=pcap \
    --set workload.pcap="$SCRATCH/cap/wire.pcap" --set workload.warmup=10
check_eq "pcap: every captured frame replayed and received" "$frames $frames 0" \
    "$(stat replay stream.sent) $(stat replay stream.received) $(stat replay stream.lost)"
rc=0
"$IOVSIM" run --out nofile --set workload.type=pcap --set workload.pcap=/nonexistent.pcap \
    >nofile.out 2>nofile.err || rc=$?
check_eq "pcap: a missing capture exits 2" "2" "$rc"
check_contains "pcap: names the key" nofile.err "workload.pcap"

# Every mode receives: 1,000 frames at 100 k frames/s (10 us apart, more than any path's
# per-frame work) arrive whole, at the offered rate (within 1%: the guest's read times, not the
# arrivals, bound the window, and a driver that takes several frames per interrupt shifts them
# by up to a frame gap over 899 gaps); the one-way latency orders as the round trip does: bare
# metal (the host's driver) <= passthrough (+ the IOMMU and the guest's interrupt) < virtio (+ the
# host stack, bridge, tap and vhost) < emulation (+ the VMM's device and trapped registers).
modes=(bare-metal passthrough virtio emulation)
for m in "${modes[@]}"; do
    run_ok "rx-$m" "$IOVSIM" run --out "rx-$m" --set vm.mode="$m" --set workload.type=stream_rx \
        --set workload.count=1000 --set workload.rate=100000
    check_eq "$m: every frame received" "1000 1000 0" \
        "$(stat "rx-$m" stream.sent) $(stat "rx-$m" stream.received) $(stat "rx-$m" stream.lost)"
    check_py "$m: the offered 100 k frames/s (within 1%)" "abs(r / 100000 - 1) < 0.01" \
        r="$(stat "rx-$m" throughput.packets_per_s)"
done
check_py "rx latency p50: bare metal <= passthrough < virtio < emulation" "b <= p < v < e" \
    b="$(stat rx-bare-metal latency_ns.rx.p50)" p="$(stat rx-passthrough latency_ns.rx.p50)" \
    v="$(stat rx-virtio latency_ns.rx.p50)" e="$(stat rx-emulation latency_ns.rx.p50)"
check_eq "bare metal receives without exits" "0" "$(stat rx-bare-metal vm_exits.total)"

# Several VMs, each its own mode, one generator: 800 frames to each at a mean 30 k frames/s each
# (poisson: one exponential stream per VM). Each gets exactly its 800 and sees about its rate
# (799 gaps: the relative standard deviation of their mean is 1/sqrt(799) = 3.5%, so within
# 12%); the run's totals are the sums.
run_ok three "$IOVSIM" run --out three --set vm.count=3 --set vms.1.mode=virtio \
    --set vms.2.mode=emulation --set workload.type=poisson --set workload.count=800 \
    --set workload.warmup=0 --set workload.rate=30000
for i in 0 1 2; do
    check_eq "VM $i ($(stat three vms.$i.mode)): its 800 frames, none lost" "800 800 0" \
        "$(stat three vms.$i.stream.sent) $(stat three vms.$i.stream.received) $(stat three vms.$i.stream.lost)"
    check_py "VM $i: about 30 k frames/s (within 12%)" "abs(r / 30000 - 1) < 0.12" \
        r="$(stat three vms.$i.throughput.packets_per_s)"
done
check_eq "three VMs: totals" "2400 2400" \
    "$(stat three stream.sent) $(stat three stream.received)"
check_eq "three VMs: a latency per frame" "2400" "$(stat three latency_ns.rx.count)"

# A capture replayed toward two VMs goes to them in turn: 100 frames each.
run_ok replay2 "$IOVSIM" run --out replay2 --set vm.count=2 --set vms.1.mode=virtio \
    --set workload.type=pcap --set workload.pcap="$SCRATCH/cap/wire.pcap" --set workload.warmup=10
check_eq "pcap to two VMs: 100 frames each, all received" "100 100 100 100" \
    "$(stat replay2 vms.0.stream.sent) $(stat replay2 vms.0.stream.received) $(stat replay2 vms.1.stream.sent) $(stat replay2 vms.1.stream.received)"

# Overload: 1 M frames/s of 64 B toward a virtio VM is more than the host's bridge forwards
# (host.stack.rx 2500 cycles at 2.1 GHz: 1.19 us a frame, at most 840 k frames/s before the PF
# driver's own accesses). Frames are lost, and
# every lost frame is counted where it was dropped: the PF's RX ring (no descriptor), the bridge,
# the tap, vhost.
run_ok over "$IOVSIM" run --out over --set vm.mode=virtio --set workload.type=stream_rx \
    --set workload.count=3000 --set workload.rate=1000000
check_py "overload: frames are lost" "l > 0" l="$(stat over stream.lost)"
check_py "overload: every lost frame is counted by a drop counter" "l == a + b + c + d + e + f" \
    l="$(stat over stream.lost)" a="$(stat over nic.pf.drops.rx_no_descriptor)" \
    b="$(stat over host.bridge.rx_errors)" c="$(stat over host.bridge.rx_unknown)" \
    d="$(stat over vms.0.virtio.tap_dropped)" e="$(stat over vms.0.virtio.rx_no_buffer)" \
    f="$(stat over vms.0.virtio.rx_too_big)"
echo "PASS stream_rx"

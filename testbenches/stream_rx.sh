#!/usr/bin/env bash
# Receive workloads (issue 6): a generator on the wire sends workload.count frames to a
# passthrough VM's VF — evenly spaced (stream_rx) or with exponential gaps (poisson) at
# workload.rate — and the guest takes them on its RX interrupts.
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
# - Bad input: a receive workload with a virtio VM, a missing capture: exit 2 naming the key.
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
check_py "stream_rx: latency covers the NIC's DMA and the interrupt (> 500 ns)" "l > 500" \
    l="$(stat even latency_ns.rx.min)"

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

rc=0
"$IOVSIM" run --out bad --set workload.type=stream_rx --set vm.mode=virtio >bad.out 2>bad.err ||
    rc=$?
check_eq "stream_rx with virtio: exit status" "2" "$rc"
check_contains "stream_rx with virtio: names the key" bad.err "workload.type"
echo "PASS stream_rx"

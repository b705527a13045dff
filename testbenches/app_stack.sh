#!/usr/bin/env bash
# The endpoint's network stack (app.stack.tx / app.stack.rx, issue 6: netperf-like request/
# response through a socket rather than raw frames to the driver): CPU time per frame above the
# driver, on the guest's vCPU or the bare-metal host's CPU.
# - With 3500 + 3900 cycles (the Linux UDP send and receive paths Arrakis measured, OSDI 2014) at
#   the default host.cpu_clock 2.1 GHz, every round trip is 7400 / 2.1 GHz = 3523.81 ns longer,
#   in every mode: the request's stack runs before its doorbell, the response's after its frame
#   is read, nothing else on the path moves. The p50 grows by exactly that (within 0.01 ns of
#   rounding), the stage that holds it — `guest` in a VM, `host_stack` on bare metal — by the
#   same (mean, within 0.01 ns), and the breakdown still sums to the round trip.
# - Receiving (stream_rx, one passthrough VM): each frame's latency to the application grows by
#   the receive side alone, 3900 / 2.1 GHz = 1857.14 ns.
set -euo pipefail
# shellcheck source=testbenches/lib/common.bash
source "$(dirname "$0")/lib/common.bash"
tb_setup "$@"

TX=3500
RX=3900
common=(--set workload.count=500 --set workload.warmup=50)
for m in bare-metal passthrough virtio emulation; do
    run_ok "raw-$m" "$IOVSIM" run --out "raw-$m" --set vm.mode="$m" "${common[@]}"
    run_ok "stack-$m" "$IOVSIM" run --out "stack-$m" --set vm.mode="$m" "${common[@]}" \
        --set app.stack.tx=$TX --set app.stack.rx=$RX
    held=guest
    [ "$m" = bare-metal ] && held=host_stack
    check_py "$m: RTT p50 grows by (tx + rx) / 2.1 GHz" \
        "abs((b - a) - ($TX + $RX) / 2.1) < 0.01" \
        a="$(stat "raw-$m" latency_ns.rtt.p50)" b="$(stat "stack-$m" latency_ns.rtt.p50)"
    check_py "$m: breakdown_ns.$held holds it" "abs((b - a) - ($TX + $RX) / 2.1) < 0.01" \
        a="$(stat "raw-$m" breakdown_ns.$held)" b="$(stat "stack-$m" breakdown_ns.$held)"
    check_breakdown "$m with the stack" "stack-$m"
    check_eq "$m: every response verified" "500" "$(stat "stack-$m" rr.verified)"
done

rx=(--set workload.type=stream_rx --set workload.count=1000 --set workload.rate=100000)
run_ok rx-raw "$IOVSIM" run --out rx-raw "${rx[@]}"
run_ok rx-stack "$IOVSIM" run --out rx-stack "${rx[@]}" --set app.stack.rx=$RX
check_py "stream_rx: latency p50 grows by rx / 2.1 GHz" "abs((b - a) - $RX / 2.1) < 0.01" \
    a="$(stat rx-raw latency_ns.rx.p50)" b="$(stat rx-stack latency_ns.rx.p50)"
check_eq "stream_rx with the stack: nothing lost" "0" "$(stat rx-stack stream.lost)"
echo "PASS app_stack"

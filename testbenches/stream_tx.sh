#!/usr/bin/env bash
# workload.type stream_tx (issue 6): passthrough VMs send as fast as their TX rings allow to a
# sink on the wire. On a 10 GbE wire the uplink is the bottleneck (one VF's DMA alone reaches
# about 13 Gbit/s of 1518 B frames here): 10 Gb/s carries 10e9 / ((1518 + 20) x 8) = 812.7 k
# frames/s, i.e. 9.87 Gbit/s of frame bytes (FCS included, preamble and gap not). One VM gets
# the line rate; two VMs sharing the uplink each get about half of it.
set -euo pipefail
# shellcheck source=testbenches/lib/common.bash
source "$(dirname "$0")/lib/common.bash"
tb_setup "$@"

COUNT=2000
common=(--set workload.type=stream_tx --set workload.size=1518 --set workload.count=$COUNT
    --set workload.warmup=200 --set 'host.pin.vcpus=[0,1]' --set nic.wire_rate=10Gbps)

run_ok one "$IOVSIM" run --out one "${common[@]}"
check_eq "one VM: every frame reached the sink" "$COUNT" "$(stat one stream.received)"
check_py "one VM: the line rate (9.87 Gbit/s of 1518 B frames, within 5%)" \
    "abs(g / 9.8699 - 1) < 0.05" g="$(stat one throughput.gbps)"

run_ok two "$IOVSIM" run --out two --set vm.count=2 "${common[@]}"
for vm in 0 1; do
    check_eq "two VMs: VM $vm's frames all reached the sink" "$COUNT" \
        "$(stat two vms.$vm.stream.received)"
    check_py "two VMs: VM $vm gets about half the line rate (4.93 Gbit/s, within 10%)" \
        "abs(g / (9.8699 / 2) - 1) < 0.10" g="$(stat two vms.$vm.throughput.gbps)"
done
check_py "two VMs: together the line rate (within 5%)" "abs(t / 9.8699 - 1) < 0.05" \
    t="$(stat two throughput.gbps)"

echo "PASS stream_tx"

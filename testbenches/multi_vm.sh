#!/usr/bin/env bash
# Several VMs on one host (issue 6): vm.count with vms.N.* overrides, each VM with its own mode,
# all running request/response at once through the shared NIC, IOMMU, root complex and wire.
# - Every VM's responses are verified, each VM's breakdown sums to its own round trip, and the
#   run's totals cover both VMs.
# - Each VM keeps its mode's character: the passthrough VM exits only for HLT, the virtio VM
#   kicks once per round trip; the passthrough VM's RTT is below the virtio VM's.
# - Interference: two passthrough VMs sharing the NIC see more nic time than one alone.
# - Bad input: a passthrough VM with no VF left, a vms.N beyond vm.count, a VM in bare-metal
#   mode: exit 2 naming the key.
set -euo pipefail
# shellcheck source=testbenches/lib/common.bash
source "$(dirname "$0")/lib/common.bash"
tb_setup "$@"

COUNT=150
WARMUP=15
MEASURED=$((COUNT - WARMUP))
common=(--set workload.count=$COUNT --set workload.warmup=$WARMUP --set 'host.pin.vcpus=[0,1]')

run_ok mixed "$IOVSIM" run --out mixed --set vm.count=2 --set vms.0.mode=passthrough \
    --set vms.1.mode=virtio --set vm.interrupts=posted --set vm.wait=halt "${common[@]}"
check_eq "mixed: VM 0 is passthrough, VM 1 virtio" "passthrough virtio" \
    "$(stat mixed vms.0.mode) $(stat mixed vms.1.mode)"
for vm in 0 1; do
    check_eq "mixed: VM $vm's responses verified" "$COUNT" "$(stat mixed vms.$vm.rr.verified)"
    "$PY" - mixed/stats.json "$vm" <<'PYEOF' || fail "mixed: VM $vm's breakdown does not sum"
import json, sys
v = json.load(open(sys.argv[1]))["vms"][sys.argv[2]]
total = sum(x for x in v["breakdown_ns"].values() if x is not None)
mean = v["latency_ns"]["rtt"]["mean"]
assert abs(total - mean) <= 0.01 * mean, (total, mean)
PYEOF
    pass "mixed: VM $vm's breakdown sums to its mean round trip"
done
check_eq "mixed: the run's totals cover both VMs" "$((2 * MEASURED))" \
    "$(stat mixed latency_ns.rtt.count)"
check_eq "mixed: passthrough VM exits only for HLT" "$MEASURED $MEASURED" \
    "$(stat mixed vms.0.vm_exits.total) $(stat mixed vms.0.vm_exits.by_reason.hlt)"
check_eq "mixed: virtio VM kicks once per round trip" "$MEASURED" \
    "$(stat mixed vms.1.vm_exits.by_reason.ept_misconfig)"
check_py "mixed: passthrough RTT below virtio's (p50)" "pt < v" \
    pt="$(stat mixed vms.0.latency_ns.rtt.p50)" v="$(stat mixed vms.1.latency_ns.rtt.p50)"
check_eq "mixed: no stage a passthrough VM does not use" "0 0 0" \
    "$(stat mixed vms.0.breakdown_ns.vhost) $(stat mixed vms.0.breakdown_ns.vmm) $(stat mixed vms.0.breakdown_ns.host_stack)"

run_ok alone "$IOVSIM" run --out alone --set vm.count=1 "${common[@]}"
run_ok pair "$IOVSIM" run --out pair --set vm.count=2 "${common[@]}"
check_py "two passthrough VMs queue in the NIC: more nic time than one alone" \
    "a < p0 and a < p1" a="$(stat alone breakdown_ns.nic)" \
    p0="$(stat pair vms.0.breakdown_ns.nic)" p1="$(stat pair vms.1.breakdown_ns.nic)"

expect_fail() {
    local name=$1 text=$2 rc=0
    shift 2
    "$IOVSIM" run --out "$name.run" "$@" >"$name.out" 2>"$name.err" || rc=$?
    check_eq "$name: exit status" "2" "$rc"
    check_contains "$name: names $text" "$name.err" "$text"
}
expect_fail no_vf_left nic.num_vfs --set vm.count=2 --set nic.num_vfs=1
expect_fail beyond_count vms.3 --set vm.count=2 --set vms.3.mode=virtio
expect_fail bare_metal_vm vms.1.mode --set vm.count=2 --set vms.1.mode=bare-metal
echo "PASS multi_vm"

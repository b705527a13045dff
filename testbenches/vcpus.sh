#!/usr/bin/env bash
# vm.vcpus (DESIGN.md §8): each VM's vCPUs take their places in host.pin.vcpus in order (the
# i-th vCPU of all VMs on entry i mod length); vCPU 0 runs the workload, the others idle.
# - Two VMs of 2 vCPUs on pins [0,1,2,3]: KVM has vcpu0..vcpu3; the idle ones (vcpu1, vcpu3)
#   never run guest code and are halted for the whole run after their one HLT exit (its cost,
#   exit and KVM handling, within 1 us of the simulated time), the workers (vcpu0, vcpu2) run.
# - Placement is by that order, so idle vCPUs change which core a later VM's worker gets: with
#   pins [0,1], VM 1's worker (global vCPU 2) lands on core 0 beside VM 0's, exactly as one vCPU
#   per VM on pins [0] puts both there: the same round trips, to the picosecond; with pins
#   [0,1,2,3] each worker has a core of its own, as one vCPU per VM on pins [0,2].
# - With vm.wait poll the idle vCPUs spin in guest mode (the guest's idle=poll) for the whole run.
# - vm.vcpus outside 1..8: exit 2 naming the key.
set -euo pipefail
# shellcheck source=testbenches/lib/common.bash
source "$(dirname "$0")/lib/common.bash"
tb_setup "$@"

common=(--set vm.count=2 --set workload.count=300 --set workload.warmup=30)
run_ok four "$IOVSIM" run --out four "${common[@]}" --set vm.vcpus=2 \
    --set 'host.pin.vcpus=[0,1,2,3]'
sim=$(stat four sim.simulated_ns)
for v in 1 3; do
    check_eq "vcpu$v idles: no guest time" "0" "$(stat four kvm.cpu.vcpu$v.time_ns.guest)"
    check_py "vcpu$v idles: halted for the run" "s - 1000 < h <= s" s="$sim" \
        h="$(stat four kvm.cpu.vcpu$v.time_ns.halted)"
done
for v in 0 2; do
    check_py "vcpu$v runs the workload" "g > 0" g="$(stat four kvm.cpu.vcpu$v.time_ns.guest)"
done
# vm.wait poll: the guest's idle loop spins (idle=poll): no HLT, in guest mode the whole run.
run_ok poll "$IOVSIM" run --out poll "${common[@]}" --set vm.vcpus=2 --set vm.wait=poll \
    --set 'host.pin.vcpus=[0,1,2,3]'
for v in 1 3; do
    check_eq "poll: vcpu$v never halts" "0" "$(stat poll kvm.cpu.vcpu$v.time_ns.halted)"
    check_py "poll: vcpu$v spins in guest mode for the run" "abs(g - s) < 0.001" \
        s="$(stat poll sim.simulated_ns)" g="$(stat poll kvm.cpu.vcpu$v.time_ns.guest)"
done

run_ok shared2 "$IOVSIM" run --out shared2 "${common[@]}" --set vm.vcpus=2 \
    --set 'host.pin.vcpus=[0,1]'
run_ok shared1 "$IOVSIM" run --out shared1 "${common[@]}" --set 'host.pin.vcpus=[0]'
run_ok own1 "$IOVSIM" run --out own1 "${common[@]}" --set 'host.pin.vcpus=[0,2]'
for i in 0 1; do
    check_eq "VM $i: 2 vCPUs on [0,1] = 1 vCPU on [0] (both workers on core 0)" \
        "$(stat shared1 vms.$i.latency_ns.rtt.mean)" "$(stat shared2 vms.$i.latency_ns.rtt.mean)"
    check_eq "VM $i: 2 vCPUs on [0,1,2,3] = 1 vCPU on [0,2] (a core each)" \
        "$(stat own1 vms.$i.latency_ns.rtt.mean)" "$(stat four vms.$i.latency_ns.rtt.mean)"
done
check_py "sharing core 0 slows VM 1" "a > b" a="$(stat shared2 vms.1.latency_ns.rtt.mean)" \
    b="$(stat four vms.1.latency_ns.rtt.mean)"

rc=0
"$IOVSIM" run --out bad --set vm.vcpus=9 >bad.out 2>bad.err || rc=$?
check_eq "vm.vcpus=9: exit status" "2" "$rc"
check_contains "vm.vcpus=9: names the key" bad.err "vm.vcpus"
echo "PASS vcpus"

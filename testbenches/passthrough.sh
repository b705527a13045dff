#!/usr/bin/env bash
# `iovsim run` in passthrough mode (issue 6): a VF assigned to one VM, its DMA through the IOMMU,
# its MSI-X through interrupt remapping, delivered as vm.interrupts says.
# - Every response echoed its request (payload integrity), the breakdown sums to the round trip.
# - Bare metal <= passthrough in RTT p50 (the guest adds its interrupt path, never removes work).
# - Exits per round trip, from the trap path's rules (models/cpu/vcpu.h, DESIGN.md §7):
#   posted + poll: none (the notification syncs PIR into the vIRR in guest mode, EOI is virtual);
#   posted + halt: exactly one, the HLT of the idle guest; exit + poll: two, the external
#   interrupt and the EOI's APIC access (KVM's PV-EOI commit: "2 exits per interrupt"); apicv +
#   poll: one, the external interrupt (the EOI is virtual).
# - The IOMMU translated the VF's DMA: IOTLB lookups happened and stages exist for the VM path.
set -euo pipefail
# shellcheck source=testbenches/lib/common.bash
source "$(dirname "$0")/lib/common.bash"
tb_setup "$@"

COUNT=200
WARMUP=20
MEASURED=$((COUNT - WARMUP))
common=(--set workload.count=$COUNT --set workload.warmup=$WARMUP --set workload.size=64)

run_ok bare "$IOVSIM" run --out bare --set vm.mode=bare-metal "${common[@]}"
run_ok pp "$IOVSIM" run --out pp --set vm.mode=passthrough --set vm.interrupts=posted \
    --set vm.wait=poll "${common[@]}"
run_ok ph "$IOVSIM" run --out ph --set vm.mode=passthrough --set vm.interrupts=posted \
    --set vm.wait=halt "${common[@]}"
run_ok ep "$IOVSIM" run --out ep --set vm.mode=passthrough --set vm.interrupts=exit \
    --set vm.wait=poll "${common[@]}"
run_ok ap "$IOVSIM" run --out ap --set vm.mode=passthrough --set vm.interrupts=apicv \
    --set vm.wait=poll "${common[@]}"

for d in pp ph ep ap; do
    check_eq "$d: responses verified" "$COUNT" "$(stat $d rr.verified)"
    check_eq "$d: measured round trips" "$MEASURED" "$(stat $d latency_ns.rtt.count)"
    check_breakdown "$d" "$d"
    check_py "$d: bare metal <= passthrough (p50)" "pt >= bare" \
        pt="$(stat $d latency_ns.rtt.p50)" bare="$(stat bare latency_ns.rtt.p50)"
    check_py "$d: the IOMMU translated the VF's DMA" "hits > 0" hits="$(stat $d iommu.iotlb.hits)"
    check_py "$d: interrupt remapping/posting shows as iommu time" "t > 0" \
        t="$(stat $d breakdown_ns.iommu)"
    check_eq "$d: no host stack, VMM or vhost on the path" "0 0 0" \
        "$(stat $d breakdown_ns.host_stack) $(stat $d breakdown_ns.vmm) $(stat $d breakdown_ns.vhost)"
done

check_eq "posted+poll: exits per packet" "0" "$(stat pp vm_exits.per_packet)"
check_eq "posted+poll: no exit or kvm stage" "0 0" \
    "$(stat pp breakdown_ns.exit) $(stat pp breakdown_ns.kvm)"
check_eq "posted+halt: exits per packet" "1" "$(stat ph vm_exits.per_packet)"
check_eq "posted+halt: all of them HLT" "$MEASURED" "$(stat ph vm_exits.by_reason.hlt)"
check_eq "exit+poll: exits per packet" "2" "$(stat ep vm_exits.per_packet)"
check_eq "exit+poll: external interrupts" "$MEASURED" \
    "$(stat ep vm_exits.by_reason.external_interrupt)"
check_eq "exit+poll: EOI APIC accesses" "$MEASURED" "$(stat ep vm_exits.by_reason.apic_access)"
check_eq "apicv+poll: exits per packet" "1" "$(stat ap vm_exits.per_packet)"
check_eq "apicv+poll: the external interrupt" "$MEASURED" \
    "$(stat ap vm_exits.by_reason.external_interrupt)"
# Taking an interrupt through an exit costs more than posting it.
check_py "posted+poll below exit+poll (p50)" "pp < ep" pp="$(stat pp latency_ns.rtt.p50)" \
    ep="$(stat ep latency_ns.rtt.p50)"

# workload.duration instead of a count: the measured round trips fill 1 ms of simulated time, so
# their number is what the measured rate gives over 1 ms (to within the last, partial one).
run_ok timed "$IOVSIM" run --out timed --set workload.duration=1ms --set workload.warmup=10
check_py "duration: the round trips fill 1 ms" "abs(n - r * 1e-3) <= 1 and n > 100" \
    n="$(stat timed latency_ns.rtt.count)" r="$(stat timed throughput.packets_per_s)"
check_py "duration: the run lasted at least the warm-up plus 1 ms" "t >= 1e6" \
    t="$(stat timed sim.simulated_ns)"
rc=0
"$IOVSIM" run --out bad --set workload.type=stream_tx --set workload.duration=1ms \
    >bad.out 2>bad.err || rc=$?
check_eq "duration with stream_tx: exit status" "2" "$rc"
check_contains "duration with stream_tx: names the key" bad.err "workload.duration"

# The shipped default runs passthrough (one VM, posted interrupts).
run_ok default "$IOVSIM" run --out default --set workload.count=30 --set workload.warmup=5
check_eq "default: runs passthrough" "passthrough" \
    "$("$PY" -c 'import yaml,sys; print(yaml.safe_load(open(sys.argv[1]))["vm"]["mode"])' default/params.yaml)"
check_eq "default: responses verified" "30" "$(stat default rr.verified)"
echo "PASS passthrough"

#!/usr/bin/env bash
# `iovsim run` in virtio mode (issue 6): virtio-net in the guest, the vhost-net worker on
# host.pin.vhost's core, the tap, the host bridge and the PF.
# - Every response echoed its request (payload integrity), the breakdown sums to the round trip.
# - Bare metal <= passthrough < virtio in RTT p50: virtio adds vhost's two wake-ups and copies
#   and the host stack both ways on top of the same NIC and wire.
# - Exits per round trip, from the trap path's rules (models/cpu/vcpu.h, DESIGN.md §7) plus the
#   kick: with one frame in flight vhost has drained the TX ring and turned kicks back on
#   (VIRTIO_RING_F_EVENT_IDX: avail_event = the index it stopped at) before the next request, so
#   the driver's kick_prepare says kick for every request: one EPT-misconfiguration exit (the
#   ioeventfd) per round trip. RX kicks: none, the driver re-posts each buffer long before the
#   RX ring could run empty (vhost asks for RX kicks only then). Then as in passthrough.sh:
#   posted + poll 1 (the kick); posted + halt 2 (+ HLT); apicv + poll 2 (+ external interrupt);
#   exit + poll 3 (+ external interrupt, + the EOI's APIC access); exit + halt 3 (+ HLT,
#   + the EOI; the interrupt wakes the halted vCPU, no external-interrupt exit).
# - vhost's time, worked out from the defaults: each round trip wakes the worker twice (the kick;
#   the tap's frame), each wake-up after host.wakeup_latency 2 us, and its work (models/virtio
#   net_backend.h costs, 64 B frames: 60 bytes + the 12-byte virtio-net header = 72 B):
#   TX 11 accesses × 50 + 72 × 0.25 + 1000 = 1568 cycles; RX an empty TX drain (3 × 50) plus
#   9 × 50 + 72 × 0.25 + 1000 = 1618 cycles; at 2.1 GHz (1568 + 1618) / 2.1 = 1517.14 ns;
#   vhost = 4000 + 1517.14 = 5517.14 ns per round trip.
# - The host stack is on the path: at least its TX side, host.stack.tx 2000 cycles = 952.38 ns.
set -euo pipefail
# shellcheck source=testbenches/lib/common.bash
source "$(dirname "$0")/lib/common.bash"
tb_setup "$@"

COUNT=200
WARMUP=20
MEASURED=$((COUNT - WARMUP))
common=(--set "workload.count=$COUNT" --set "workload.warmup=$WARMUP" --set workload.size=64)

run_ok bare "$IOVSIM" run --out bare --set vm.mode=bare-metal "${common[@]}"
run_ok pt "$IOVSIM" run --out pt --set vm.mode=passthrough --set vm.interrupts=posted \
    --set vm.wait=halt "${common[@]}"
declare -A exits=([posted_poll]=1 [posted_halt]=2 [apicv_poll]=2 [exit_poll]=3 [exit_halt]=3)
for d in posted_poll posted_halt apicv_poll exit_poll exit_halt; do
    run_ok "$d" "$IOVSIM" run --out "$d" --set vm.mode=virtio --set "vm.interrupts=${d%_*}" \
        --set "vm.wait=${d#*_}" "${common[@]}"
    check_eq "$d: responses verified" "$COUNT" "$(stat "$d" rr.verified)"
    check_eq "$d: measured round trips" "$MEASURED" "$(stat "$d" latency_ns.rtt.count)"
    check_breakdown "$d" "$d"
    check_eq "$d: exits per packet" "${exits[$d]}" "$(stat "$d" vm_exits.per_packet)"
    check_eq "$d: one kick (EPT misconfiguration, ioeventfd) per round trip" "$MEASURED" \
        "$(stat "$d" vm_exits.by_reason.ept_misconfig)"
    check_py "$d: vhost's two wake-ups and work (5517.14 ns)" "abs(v - 5517.14) < 1" \
        v="$(stat "$d" breakdown_ns.vhost)"
    # host.stack.tx + host.stack.rx = 2000 + 2500 cycles at 2.1 GHz = 2142.86 ns, plus the PF
    # driver's own accesses.
    check_py "$d: the host stack's TX and RX work is on the path (>= 2142.86 ns)" \
        "h >= 2142.86" h="$(stat "$d" breakdown_ns.host_stack)"
    check_eq "$d: no VMM on the data path" "0" "$(stat "$d" breakdown_ns.vmm)"
    # With the IOMMU on, the host's PF has a pass-through context (iommu.host_mode pt: no
    # translation) and its RX MSI-X is remapped through an IRTE like every host interrupt.
    check_py "$d: the PF's interrupts were remapped" "r >= $COUNT" \
        r="$(stat "$d" iommu.ir.remapped)"
    check_eq "$d: no DMA translated (pass-through)" "0" "$(stat "$d" iommu.iotlb.misses)"
    check_py "$d: bare metal <= passthrough < virtio (p50)" "bare <= pt < v" \
        bare="$(stat bare latency_ns.rtt.p50)" pt="$(stat pt latency_ns.rtt.p50)" \
        v="$(stat "$d" latency_ns.rtt.p50)"
done

for d in posted_halt exit_halt; do
    check_eq "$d: the idle guest's HLT per round trip" "$MEASURED" \
        "$(stat "$d" vm_exits.by_reason.hlt)"
done
for d in apicv_poll exit_poll; do
    check_eq "$d: the external interrupt per round trip" "$MEASURED" \
        "$(stat "$d" vm_exits.by_reason.external_interrupt)"
done
for d in exit_poll exit_halt; do
    check_eq "$d: the EOI's APIC access per round trip" "$MEASURED" \
        "$(stat "$d" vm_exits.by_reason.apic_access)"
done
# Taking the interrupt through an exit costs more than posting it.
check_py "posted+poll below exit+poll (p50)" "pp < ep" \
    pp="$(stat posted_poll latency_ns.rtt.p50)" ep="$(stat exit_poll latency_ns.rtt.p50)"

# virtio.backend vmm (QEMU's own virtio-net, no vhost): the kick is an exit to the VMM, which
# transmits on the vCPU's thread; RX runs on the VMM's I/O thread. Still one kick exit per round
# trip (EPT misconfiguration, now handled in user space), no vhost stage, VMM time instead.
run_ok vmm "$IOVSIM" run --out vmm --set vm.mode=virtio --set virtio.backend=vmm \
    --set vm.interrupts=posted --set vm.wait=halt "${common[@]}"
check_eq "vmm backend: responses verified" "$COUNT" "$(stat vmm rr.verified)"
check_breakdown "vmm backend" vmm
check_eq "vmm backend: one kick per round trip" "$MEASURED" \
    "$(stat vmm vm_exits.by_reason.ept_misconfig)"
check_eq "vmm backend: no vhost stage" "0" "$(stat vmm breakdown_ns.vhost)"
# On the way back the VMM's I/O thread holds the frame from the tap's eventfd at least for its
# wake-up (host.wakeup_latency, 2 us; it sleeps between frames), before the backend's copy.
check_py "vmm backend: the VMM holds the packet at least for its I/O thread's wake-up" \
    "v >= 2000" v="$(stat vmm breakdown_ns.vmm)"
echo "PASS virtio"

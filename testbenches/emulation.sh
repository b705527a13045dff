#!/usr/bin/env bash
# `iovsim run` in emulation mode (issue 6): the guest's e1000 driver against the e1000 that the
# VMM emulates; the VMM's tap, the host bridge and the PF carry the frames.
# - Every response echoed its request (payload integrity), the breakdown sums to the round trip,
#   and the VMM (the device model, the I/O thread) and the host stack are on the path.
# - passthrough <= emulation in RTT p50 (the same VF hardware path, plus exits, the VMM, the
#   host stack both ways), bare metal <= passthrough.
# - Exits per round trip, from the driver model (models/emu-nic/e1000_driver.h), every register
#   access an EPT misconfiguration exit to the VMM (6732 + 100 cycles = 3.25 us at 2.1 GHz):
#   one TDT write (xmit: the device sends the request to the tap inside it, 4.67 us), then one
#   interrupt handler: ICR, IMC, STATUS flush, [EOI], TX and RX cleanup, RDT (one buffer
#   refilled), IMS, STATUS flush: 7 MMIO exits. Only one handler per round trip: the vector is
#   already pending when the guest waits after the TDT (raised at the previous handler's IMS by
#   the RXT0 that came in while it ran, or by TXDW for the first), and the response reaches guest
#   memory inside that handler, after its ICR read (TDT exit 4.67 + 3.25 us) and before its RX
#   cleanup (4.67 + 3 x 3.25 = 14.4 us): from the tap write at 4.48 us it takes host.stack.tx
#   (2000 cycles), the PF, wire and peer (1 us) and back, host.stack.rx (2500 cycles), the I/O
#   thread's wake-up (2 us), its tap read (2500 cycles) and copy, about 8.5 us. So the guest never
#   halts (no HLT exits, though vm.wait is halt), and
#   posted: EOIs are virtual, the injection is posted: 7 per round trip;
#   exit: plus the EOI's APIC access (the injection happens during the IMS exit, taken at the
#   entry: no external-interrupt exit): 8.
set -euo pipefail
# shellcheck source=testbenches/lib/common.bash
source "$(dirname "$0")/lib/common.bash"
tb_setup "$@"

COUNT=200
WARMUP=20
MEASURED=$((COUNT - WARMUP))
common=(--set workload.count=$COUNT --set workload.warmup=$WARMUP --set workload.size=64
    --set vm.wait=halt)

run_ok bare "$IOVSIM" run --out bare --set vm.mode=bare-metal "${common[@]}"
run_ok pt "$IOVSIM" run --out pt --set vm.mode=passthrough --set vm.interrupts=posted \
    "${common[@]}"
run_ok ep "$IOVSIM" run --out ep --set vm.mode=emulation --set vm.interrupts=posted \
    "${common[@]}"
run_ok ee "$IOVSIM" run --out ee --set vm.mode=emulation --set vm.interrupts=exit \
    "${common[@]}"

check_py "bare metal <= passthrough (p50)" "pt >= bare" pt="$(stat pt latency_ns.rtt.p50)" \
    bare="$(stat bare latency_ns.rtt.p50)"
for d in ep ee; do
    check_eq "$d: responses verified" "$COUNT" "$(stat $d rr.verified)"
    check_eq "$d: measured round trips" "$MEASURED" "$(stat $d latency_ns.rtt.count)"
    check_breakdown "$d" "$d"
    check_py "$d: passthrough < emulation (p50)" "emu > pt" \
        emu="$(stat $d latency_ns.rtt.p50)" pt="$(stat pt latency_ns.rtt.p50)"
    check_py "$d: the VMM and the host stack are on the path" "vmm > 0 and hs > 0" \
        vmm="$(stat $d breakdown_ns.vmm)" hs="$(stat $d breakdown_ns.host_stack)"
    check_py "$d: the frames crossed the NIC, the wire and the peer" "n > 0 and w > 0 and p > 0" \
        n="$(stat $d breakdown_ns.nic)" w="$(stat $d breakdown_ns.wire)" \
        p="$(stat $d breakdown_ns.peer)"
    check_eq "$d: no vhost on the path" "0" "$(stat $d breakdown_ns.vhost)"
    check_py "$d: at least 4 exits per round trip (issue 6)" "n >= 4" \
        n="$(stat $d vm_exits.per_packet)"
    check_eq "$d: MMIO exits to the VMM: 7 per round trip" "$((7 * MEASURED))" \
        "$(stat $d vm_exits.by_reason.ept_misconfig)"
    check_eq "$d: the guest never halts, no external interrupt" "0 0" \
        "$(stat $d vm_exits.by_reason.hlt) $(stat $d vm_exits.by_reason.external_interrupt)"
done
check_eq "posted: exits per packet" "7" "$(stat ep vm_exits.per_packet)"
check_eq "posted: no APIC access" "0" "$(stat ep vm_exits.by_reason.apic_access)"
check_eq "exit: exits per packet" "8" "$(stat ee vm_exits.per_packet)"
check_eq "exit: one EOI per round trip" "$MEASURED" "$(stat ee vm_exits.by_reason.apic_access)"
check_py "posted below exit (p50)" "ep < ee" ep="$(stat ep latency_ns.rtt.p50)" \
    ee="$(stat ee latency_ns.rtt.p50)"
echo "PASS emulation"

#!/usr/bin/env bash
# virtio stream_tx with the TX queue's interrupt (Linux's virtio_net with napi_tx): the guest
# keeps TX interrupts off while the ring has room; when the ring (256 descriptors, one per
# frame) is full it stops the queue, turns them on delayed (virtqueue_enable_cb_delayed:
# used_event = last_used_idx + 3/4 of the buffers outstanding), halts (vm.wait halt) or spins
# until vhost's interrupt, EOIs and reclaims. 2000 frames of 1518 B, 200 of them warm-up, on
# 10 GbE: the wire carries (1518 + 20) x 8 / 10e9 s = 1230.4 ns a frame, 9.8699 Gbit/s of frame
# bytes (stream_modes.sh); vhost needs about 1,700 cycles (0.81 us at 2.1 GHz) a frame and the
# guest far less, so the guest outruns vhost, fills the ring and waits.
set -euo pipefail
# shellcheck source=testbenches/lib/common.bash
source "$(dirname "$0")/lib/common.bash"
tb_setup "$@"

COUNT=2000
RING=256
LINE10=9.8699
common=(--set workload.type=stream_tx --set workload.size=1518 --set workload.count=$COUNT
    --set workload.warmup=200 --set vm.mode=virtio --set nic.wire_rate=10Gbps
    --set vm.interrupts=posted)

# --- One VM, vm.wait halt: the line rate, and the vCPU halts instead of polling the used ring.
run_ok halt "$IOVSIM" run --out halt "${common[@]}" --set vm.wait=halt
check_eq "halt: every frame reached the sink" "$COUNT" "$(stat halt stream.received)"
check_py "halt, 10 GbE: the line rate (9.87 Gbit/s, within 2%)" "abs(g / $LINE10 - 1) < 0.02" \
    g="$(stat halt throughput.gbps)"
check_py "halt: the vCPU halts while its queue is stopped" "h > 0" \
    h="$(stat halt vm_exits.by_reason.hlt)"
# Stops: the ring is full at each one with all 256 buffers outstanding (transmit reclaims what
# vhost used before it adds), so enable_cb_delayed sets used_event 3/4 x 256 = 192 ahead and the
# guest goes on only once more than 192, i.e. at least 193, are used (the interrupt, or
# enable_cb_delayed's false) — except at the first stop: vhost's first decision always signals,
# and the guest takes that interrupt where it waits, so its first wait may end at once. Before
# stop k >= 2 the guest has posted at least 256 + 193 (k - 2) frames, fewer than 2000:
# k - 2 <= 1743 / 193 = 9.03, so at most 11 stops.
check_py "halt: the queue stopped (the guest outruns vhost)" "s >= 1" \
    s="$(stat halt vms.0.virtio.tx_queue_stops)"
check_py "halt: at most 2 + (2000 - 256 - 1) // 193 = 11 stops" \
    "s <= 2 + ($COUNT - $RING - 1) // 193" s="$(stat halt vms.0.virtio.tx_queue_stops)"
# Interrupts: vhost signals once whenever its used index passes used_event, which only
# enable_cb_delayed moves within reach (disable_cb moves it 0x88c0 behind); plus its first
# decision, which always signals (signalled_used not valid yet). enable_cb_delayed runs once per
# stop and at the end until every buffer is back: 256 outstanding at most, then at most
# 256 - 193 = 63, 63 - 48 = 15, 15 - 12 = 3, 3 - 3 = 0: four times. So at most 1 + stops + 4,
# about 2000 / 192 = 10.4 in all.
check_py "halt: TX interrupts at most 1 + stops + 4" "1 <= i <= 1 + s + 4" \
    i="$(stat halt vms.0.virtio.tx_interrupts)" s="$(stat halt vms.0.virtio.tx_queue_stops)"
# Every one of them reaches the guest's TX vector: KVM delivered them and the start interrupt.
check_py "halt: KVM delivered the start interrupt and each TX interrupt" "d == 1 + i" \
    d="$(stat halt kvm.interrupts.delivered.posted)" i="$(stat halt vms.0.virtio.tx_interrupts)"
check_eq "halt: the TX queue has a vector: nothing unrouted" "0" \
    "$(stat halt vms.0.virtio.unrouted_interrupts)"

# --- vm.wait poll: the same waits spin in guest mode (posted interrupts: no exit at all).
run_ok poll "$IOVSIM" run --out poll "${common[@]}" --set vm.wait=poll
check_eq "poll: every frame reached the sink" "$COUNT" "$(stat poll stream.received)"
check_py "poll, 10 GbE: the line rate (within 2%)" "abs(g / $LINE10 - 1) < 0.02" \
    g="$(stat poll throughput.gbps)"
check_eq "poll: no HLT exit" "0" "$(stat poll vm_exits.by_reason.hlt)"

# --- Two VMs whose vCPUs and vhost workers share cores: VM 0's vCPU and VM 1's worker on core
# 0, VM 1's vCPU and VM 0's worker on core 1. Both share the 10 GbE wire through the bridge
# and the PF: about half the line rate each, 9.8699 / 2 = 4.935 Gbit/s (within 10%).
run_ok two "$IOVSIM" run --out two "${common[@]}" --set vm.count=2 \
    --set 'host.pin.vcpus=[0,1]' --set 'host.pin.vhost=[1,0]'
for vm in 0 1; do
    check_eq "two VMs: VM $vm's frames all reached the sink" "$COUNT" \
        "$(stat two vms.$vm.stream.received)"
    check_py "two VMs: VM $vm gets half the line rate (within 10%)" \
        "abs(g / ($LINE10 / 2) - 1) < 0.10" g="$(stat two vms.$vm.throughput.gbps)"
done

# --- virtio.backend vmm: the kick exits to the VMM, which drains the TX ring on the vCPU's
# thread inside the exit, so the ring never holds more than the frame just posted: no stop, and
# the only TX interrupt is the backend's first decision (signalled_used not valid yet).
run_ok vmm "$IOVSIM" run --out vmm "${common[@]}" --set virtio.backend=vmm
check_eq "vmm: every frame reached the sink" "$COUNT" "$(stat vmm stream.received)"
check_eq "vmm: no stop" "0" "$(stat vmm vms.0.virtio.tx_queue_stops)"
check_eq "vmm: one TX interrupt (the first decision)" "1" "$(stat vmm vms.0.virtio.tx_interrupts)"

# --- rr keeps reclaiming on transmit: the TX queue has no vector, what vhost signals for it is
# counted, not delivered.
run_ok rr "$IOVSIM" run --out rr --set vm.mode=virtio --set workload.count=50 \
    --set workload.warmup=5
check_eq "rr: no TX interrupt delivered" "0" "$(stat rr vms.0.virtio.tx_interrupts)"
check_py "rr: vhost's TX signals unrouted" "u >= 1" u="$(stat rr vms.0.virtio.unrouted_interrupts)"
echo "PASS virtio_tx_irq"

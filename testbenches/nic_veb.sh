#!/usr/bin/env bash
# Issue 4's testbench: `iovsim nicbench` on the NIC platform. VF0 sends frames to VF1 through the
# VEB and VF2 sends frames to the echo peer on the wire; the host CPU, as the VF drivers, checks
# every received frame byte for byte. Checks: counters add up (sent = received = verified, the
# NIC's and the peer's counters agree), tshark reads wire.pcap (the VF's and the peer's MACs) and
# veb.pcap, and the wire latency p50 exceeds the VEB latency p50 by at least the wire's own
# share — 2 x serialization + 2 x propagation + turnaround — worked out from the parameters.
set -euo pipefail
# shellcheck source=testbenches/lib/common.bash
source "$(dirname "$0")/lib/common.bash"
tb_setup "$@"

command -v tshark >/dev/null || fail "tshark is not installed; scripts/setup should install it"

FRAMES=50
SIZE=128  # bytes on the wire after the SFD, FCS included
VF0=02:00:00:01:00:00 VF1=02:00:00:01:00:01 VF2=02:00:00:01:00:02 PEER=02:00:00:00:00:fe

# nicbench DIR RATE PROPAGATION TURNAROUND: one run, then its checks.
nicbench() {
    local dir=$1 rate=$2 prop=$3 turn=$4
    run_ok "$dir" "$IOVSIM" nicbench --pcap --out "$dir" --set nic.num_vfs=4 \
        --set nicbench.frames=$FRAMES --set nicbench.frame_size=$SIZE --set nic.pcap_veb=true \
        --set nic.wire_rate="$rate" --set nic.propagation="$prop" --set nic.peer_turnaround="$turn"
    for f in stats.json params.yaml wire.pcap veb.pcap; do
        [ -s "$dir/$f" ] || fail "$dir: nicbench wrote no $f"
    done

    for ph in veb wire; do
        check_eq "$dir: $ph frames sent" $FRAMES "$(stat "$dir" nicbench.$ph.sent)"
        check_eq "$dir: $ph frames received" $FRAMES "$(stat "$dir" nicbench.$ph.received)"
        check_eq "$dir: $ph frames byte-identical" $FRAMES "$(stat "$dir" nicbench.$ph.verified)"
        check_eq "$dir: $ph latency samples" $FRAMES "$(stat "$dir" nic.latency_ns.$ph.count)"
    done
    # The NIC's own counters: VF0 sent FRAMES, VF1 got them; VF2 sent FRAMES and got the echoes;
    # the wire carried FRAMES each way; the peer got and returned FRAMES.
    check_eq "$dir: nic.vf0.tx_frames" $FRAMES "$(stat "$dir" nic.vf0.tx_frames)"
    check_eq "$dir: nic.vf1.rx_frames" $FRAMES "$(stat "$dir" nic.vf1.rx_frames)"
    check_eq "$dir: nic.vf2.tx_frames" $FRAMES "$(stat "$dir" nic.vf2.tx_frames)"
    check_eq "$dir: nic.vf2.rx_frames" $FRAMES "$(stat "$dir" nic.vf2.rx_frames)"
    check_eq "$dir: nic.wire.tx_frames" $FRAMES "$(stat "$dir" nic.wire.tx_frames)"
    check_eq "$dir: nic.wire.rx_frames" $FRAMES "$(stat "$dir" nic.wire.rx_frames)"
    check_eq "$dir: peer.rx_frames" $FRAMES "$(stat "$dir" peer.rx_frames)"
    check_eq "$dir: peer.tx_frames" $FRAMES "$(stat "$dir" peer.tx_frames)"
    check_eq "$dir: nic.veb.unicast_local (VF0->VF1 and peer->VF2)" $((2 * FRAMES)) \
        "$(stat "$dir" nic.veb.unicast_local)"

    # wire.pcap: FRAMES from VF2 to the peer and FRAMES back, each 124 B without FCS.
    tshark -r "$dir/wire.pcap" -T fields -e eth.src -e eth.dst -e frame.len \
        >"$dir/wire.txt" 2>"$dir/tshark.err" || fail "tshark could not read $dir/wire.pcap" \
        "exit 0" "$(cat "$dir/tshark.err")"
    check_eq "$dir: wire.pcap VF2 -> peer frames" $FRAMES \
        "$(grep -c "^$VF2	$PEER	$((SIZE - 4))\$" "$dir/wire.txt" || true)"
    check_eq "$dir: wire.pcap peer -> VF2 frames" $FRAMES \
        "$(grep -c "^$PEER	$VF2	$((SIZE - 4))\$" "$dir/wire.txt" || true)"
    check_eq "$dir: wire.pcap holds nothing else" $((2 * FRAMES)) "$(wc -l <"$dir/wire.txt")"
    tshark -r "$dir/veb.pcap" -T fields -e eth.src -e eth.dst >"$dir/veb.txt" 2>/dev/null ||
        fail "tshark could not read $dir/veb.pcap"
    check_eq "$dir: veb.pcap VF0 -> VF1 frames" $FRAMES \
        "$(grep -c "^$VF0	$VF1\$" "$dir/veb.txt" || true)"

    # Serialization of one frame: (SIZE + 20 B preamble, SFD, gap) x 8 / rate.
    local veb wire
    veb=$(stat "$dir" nic.latency_ns.veb.p50)
    wire=$(stat "$dir" nic.latency_ns.wire.p50)
    check_py "$dir: wire p50 - veb p50 >= 2 ser + 2 prop + turnaround" \
        "wire - veb >= 2 * (size + 20) * 8 / (gbps * 1e9) * 1e9 + 2 * prop + turn" \
        wire="$wire" veb="$veb" size=$SIZE gbps="${rate%Gbps}" prop="${prop%ns}" turn="${turn%ns}"
}

# 25 Gb/s: ser = 148 x 8 / 25e9 s = 47.36 ns; 2 x 47.36 + 2 x 5 + 1000 = 1104.72 ns.
nicbench r25 25Gbps 5ns 1000ns
# 10 Gb/s, 100 m of fibre: ser = 148 x 8 / 10e9 s = 118.4 ns; 2 x 118.4 + 2 x 500 + 200 = 1436.8.
nicbench r10 10Gbps 500ns 200ns
# The VEB path never touches the wire: its latency does not depend on the wire's parameters.
check_eq "VEB p50 is the same at 25 and 10 Gb/s" "$(stat r25 nic.latency_ns.veb.p50)" \
    "$(stat r10 nic.latency_ns.veb.p50)"

# --- Bad input ---------------------------------------------------------------------------------
rc=0
"$IOVSIM" nicbench --out bad --set nic.num_vfs=2 >bad.out 2>bad.err || rc=$?
check_eq "nicbench with 2 VFs exits 2" 2 "$rc"
check_contains "the error names nic.num_vfs" bad.err "nic.num_vfs"
rc=0
"$IOVSIM" nicbench --out bad --set nic.wire_rate=50Gbps >bad.out 2>bad.err || rc=$?
check_eq "nic.wire_rate=50Gbps exits 2" 2 "$rc"
check_contains "the error names nic.wire_rate" bad.err "nic.wire_rate"
echo "PASS nic_veb"

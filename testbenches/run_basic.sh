#!/usr/bin/env bash
# Issue 6's first slice: `iovsim run` with the request/response workload against the echo peer.
# Bare metal (the host's driver on the PF): stats.json has the documented keys, every response
# echoed the request, the breakdown sums to the mean round trip, the wire and peer stages are what
# the parameters make them, packets.csv has a row per packet; the default configuration runs with
# no CONFIG. Bad input (frame sizes outside 64..1518, an unknown vm.mode)
# exits 2 naming the key.
set -euo pipefail
# shellcheck source=testbenches/lib/common.bash
source "$(dirname "$0")/lib/common.bash"
tb_setup "$@"

COUNT=60
WARMUP=10

run_ok bare "$IOVSIM" run --out bare --packets --set vm.mode=bare-metal \
    --set workload.count=$COUNT --set workload.warmup=$WARMUP --set workload.size=64
for f in stats.json params.yaml packets.csv; do
    [ -s "bare/$f" ] || fail "bare: run wrote no $f"
done
for k in latency_ns.rtt.count latency_ns.rtt.mean latency_ns.rtt.p50 latency_ns.rtt.p90 \
    latency_ns.rtt.p99 latency_ns.rtt.p999 latency_ns.rtt.max throughput.packets_per_s \
    throughput.gbps vm_exits.total vm_exits.per_packet iommu.iotlb.hits iommu.iotlb.misses \
    sim.simulated_ns sim.wall_s sim.packets_per_wall_s breakdown_ns.pcie breakdown_ns.nic; do
    stat bare "$k" >/dev/null || fail "bare: stats.json has no $k"
done
pass "bare: stats.json keys"
check_eq "bare: measured round trips" "$((COUNT - WARMUP))" "$(stat bare latency_ns.rtt.count)"
check_eq "bare: responses verified" "$COUNT" "$(stat bare rr.verified)"
check_eq "bare: no VM exits" "0" "$(stat bare vm_exits.per_packet)"

# The stages add up to the mean round trip (the accountant charges every tick once).
"$PY" - bare/stats.json <<'PYEOF' || fail "bare: breakdown does not sum to latency_ns.rtt.mean"
import json, sys
s = json.load(open(sys.argv[1]))
total = sum(v for v in s["breakdown_ns"].values() if v is not None)
mean = s["latency_ns"]["rtt"]["mean"]
assert abs(total - mean) <= 0.01 * mean, (total, mean)
assert all(s["breakdown_ns"][k] == 0 for k in ("guest", "exit", "kvm", "vmm", "vhost")), s
PYEOF
pass "bare: breakdown sums to the mean round trip, no VM stages"

# Wire: from the first bit of the preamble to the frame's last bit at the far end: 64 B + 8 B of
# preamble and SFD at 25 Gb/s = 72 x 8 / 25 = 23.04 ns each way (the 12 B gap follows the last
# bit), plus nic.propagation (5 ns) each way: 2 x 28.04 = 56.08 ns per round trip (one frame in
# flight, so no queueing on the line). Peer: its turnaround, nic.peer_turnaround = 1 us.
check_py "bare: wire stage = 2 x (serialization + propagation)" "abs(w - 56.08) < 0.01" \
    w="$(stat bare breakdown_ns.wire)"
check_py "bare: peer stage = turnaround" "abs(p - 1000) < 0.01" p="$(stat bare breakdown_ns.peer)"
check_py "bare: p50 covers wire and peer" "p50 > 1056.08" p50="$(stat bare latency_ns.rtt.p50)"

rows=$(($(wc -l <bare/packets.csv) - 1))
check_eq "bare: packets.csv rows" "$COUNT" "$rows"
# Each row's stages sum to its round trip (to the csv's 3 decimals).
"$PY" - bare/packets.csv <<'PYEOF' || fail "bare: a packets.csv row does not sum"
import csv, sys
for r in csv.DictReader(open(sys.argv[1])):
    st = sum(float(v) for k, v in r.items() if k.endswith("_ns") and k not in
             ("begin_ns", "end_ns", "rtt_ns"))
    assert abs(st - float(r["rtt_ns"])) < 0.02, r
PYEOF
pass "bare: packets.csv rows sum to their round trip"

# params.yaml reproduces the run.
run_ok again "$IOVSIM" run bare/params.yaml --out again
check_eq "params.yaml reproduces latency_ns.rtt.p50" "$(stat bare latency_ns.rtt.p50)" \
    "$(stat again latency_ns.rtt.p50)"

# A 1518 B frame takes longer on the wire and over PCIe than a 64 B one.
run_ok big "$IOVSIM" run --out big --set vm.mode=bare-metal --set workload.count=20 \
    --set workload.warmup=2 --set workload.size=1518
check_py "bare: 1518 B round trip above 64 B" "big > small" \
    big="$(stat big latency_ns.rtt.p50)" small="$(stat bare latency_ns.rtt.p50)"

# The shipped default with no CONFIG (fewer packets).
run_ok default "$IOVSIM" run --out default --set workload.count=20 --set workload.warmup=2
check_eq "default: responses verified" "20" "$(stat default rr.verified)"

# expect_bad NAME TEXT ARGS...: exit 2, TEXT on stderr, nothing written to stdout.
expect_bad() {
    local name=$1 text=$2 rc=0
    shift 2
    "$IOVSIM" "$@" >"$name.out" 2>"$name.err" || rc=$?
    [ $rc -eq 2 ] || fail "$name: exit status" "2" "$rc ($(cat "$name.err"))"
    check_contains "$name: names $text" "$name.err" "$text"
}
expect_bad size63 workload.size run --out bad --set vm.mode=bare-metal --set workload.size=63
expect_bad size1519 workload.size run --out bad --set vm.mode=bare-metal --set workload.size=1519
expect_bad mode vm.mode run --out bad --set vm.mode=paravirt
[ ! -e bad ] || fail "bad input created the output directory"
pass "bad input leaves no output directory"

#!/usr/bin/env bash
# `iovsim run --vcd --perfetto --pcap --packets` (issue 6): the waveform, the timeline and the
# capture, each read back by an outside tool or our own checker.
# - trace.vcd: our reader (iovsim vcd-check: identifiers declared, times never go back, values fit
#   their widths) and gtkwave's vcd2lxt2 with nothing on stderr; it has the vCPU state, the
#   doorbell, the interrupt line, the IOTLB, the wire and the VF's ring occupancy signals;
#   trace.signals selects.
# - trace.perfetto.json: Chrome trace-event JSON; every packet's stage spans are async b/e pairs
#   keyed by its ID, and for every packet they add up to its round trip in packets.csv.
# - wire.pcap: tshark reads one request and one echo per round trip.
set -euo pipefail
# shellcheck source=testbenches/lib/common.bash
source "$(dirname "$0")/lib/common.bash"
tb_setup "$@"

COUNT=40
run_ok traced "$IOVSIM" run --out traced --vcd --perfetto --pcap --packets \
    --set workload.count=$COUNT --set workload.warmup=4
for f in trace.vcd trace.perfetto.json wire.pcap packets.csv; do
    [ -s "traced/$f" ] || fail "run wrote no $f"
done

"$IOVSIM" vcd-check traced/trace.vcd >vcd.json 2>vcd.err ||
    fail "our VCD reader accepts trace.vcd" "no problems" "$(head -20 vcd.err)"
pass "our VCD reader accepts trace.vcd"
"$PY" - vcd.json <<'PYEOF' || fail "trace.vcd's signals (see above)"
import json, sys
s = json.load(open(sys.argv[1]))
names = {v["name"] for v in s["variables"]}
want = {"vm0.vcpu0.state", "vm0.vcpu0.irq", "nic.doorbell", "interrupts.msi",
        "iommu.iotlb_hit", "iommu.iotlb_miss", "wire.to_peer", "wire.from_peer",
        "nic.requests_in_flight", "nic.f1.tx_ring", "nic.f1.rx_ring"}
assert want <= names, sorted(want - names)
assert s["timescale"] == "1ps", s["timescale"]
assert s["value_changes"] > 0
PYEOF
pass "trace.vcd has the vCPU, doorbell, interrupt, IOTLB and wire signals"
vcd2lxt2 traced/trace.vcd traced/trace.lxt2 >vcd2lxt2.out 2>vcd2lxt2.err ||
    fail "vcd2lxt2 converts trace.vcd" "exit 0" "$(cat vcd2lxt2.err)"
[ ! -s vcd2lxt2.err ] || fail "vcd2lxt2 says nothing on stderr" "nothing" "$(cat vcd2lxt2.err)"
pass "gtkwave's vcd2lxt2 reads trace.vcd without a complaint"

run_ok selected "$IOVSIM" run --out selected --vcd --set workload.count=5 --set workload.warmup=1 \
    --set 'trace.signals=[*.state]'
"$IOVSIM" vcd-check selected/trace.vcd >sel.json
check_eq "trace.signals=[*.state] selects only the vCPU state" "vm0.vcpu0.state" \
    "$("$PY" -c 'import json,sys; print(" ".join(v["name"] for v in json.load(open(sys.argv[1]))["variables"]))' sel.json)"

"$PY" - traced/trace.perfetto.json traced/packets.csv <<'PYEOF' || fail "trace.perfetto.json (see above)"
import csv, json, sys
from collections import defaultdict
t = json.load(open(sys.argv[1]))
events = t["traceEvents"]
open_at, total = {}, defaultdict(float)
stages = {"guest", "exit", "kvm", "vmm", "vhost", "host_stack", "pcie", "iommu", "memory", "nic",
          "wire", "peer"}
for e in events:
    if e.get("ph") not in ("b", "e") or e["name"] not in stages:
        continue
    key = (e["id"], e["name"], e["tid"], e["pid"])
    if e["ph"] == "b":
        open_at.setdefault(key, []).append(e["ts"])
    else:
        total[e["id"]] += (e["ts"] - open_at[key].pop()) * 1000.0  # us -> ns
assert all(not v for v in open_at.values()), "a span was never closed"
rows = list(csv.DictReader(open(sys.argv[2])))
assert len(rows) == len(total), (len(rows), len(total))
for r in rows:
    got = total[int(r["packet"])]
    assert abs(got - float(r["rtt_ns"])) < 0.01, (r["packet"], got, r["rtt_ns"])
names = {e["args"]["name"] for e in events if e.get("ph") == "M" and e["name"] == "process_name"}
assert {"path.pcie", "path.wire", "path.peer", "path.guest"} <= names, sorted(names)
PYEOF
pass "trace.perfetto.json: each packet's stage spans add up to its round trip"

frames=$(tshark -r traced/wire.pcap -Y 'eth.type == 0x88b5' 2>/dev/null | wc -l)
check_eq "wire.pcap: a request and an echo per round trip" "$((2 * COUNT))" "$frames"
echo "PASS run_traces"

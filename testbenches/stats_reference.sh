#!/usr/bin/env bash
# docs/stats.md is the reference of every statistic (issue 6: "every statistic is documented in
# one reference page"): it is generated from the simulator's own descriptions, so regenerating it
# must give the checked-in page; and every key of every mode's stats.json must be on it.
set -euo pipefail
# shellcheck source=testbenches/lib/common.bash
source "$(dirname "$0")/lib/common.bash"
tb_setup "$@"
ROOT=$(realpath "$TB_DIR/..")

"$PY" "$ROOT/scripts/stats_reference.py" --iovsim "$IOVSIM" --out stats.md ||
    fail "scripts/stats_reference.py runs"
cmp -s stats.md "$ROOT/docs/stats.md" ||
    fail "docs/stats.md is current (run scripts/stats_reference.py)" "no difference" \
        "$(diff "$ROOT/docs/stats.md" stats.md | head -20)"
pass "docs/stats.md is what scripts/stats_reference.py generates"

for mode in bare-metal emulation virtio passthrough; do
    run_ok "$mode" "$IOVSIM" run --out "$mode" --set vm.mode=$mode --set workload.count=12 \
        --set workload.warmup=2
    "$PY" - "$mode/stats.json" "$ROOT/docs/stats.md" <<'PYEOF' || fail "$mode: stats.json keys on docs/stats.md"
import json, re, sys
page = set(re.findall(r"^\| `([^`]+)`", open(sys.argv[2]).read(), re.M))
hist = {"count", "mean", "p50", "p90", "p99", "p999", "max"}
missing = []
def walk(v, path):
    if isinstance(v, dict):
        if re.sub(r"^vms\.\d+\.", "vms.N.", path) in page:
            return
        for k, x in v.items():
            walk(x, f"{path}.{k}" if path else k)
    elif re.sub(r"^vms\.\d+\.", "vms.N.", path) not in page:  # the page says vms.N.
        missing.append(path)
walk(json.load(open(sys.argv[1])), "")
assert not missing, missing[:20]
PYEOF
    pass "$mode: every stats.json key is documented"
done
echo "PASS stats_reference"

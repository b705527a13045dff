#!/usr/bin/env bash
# The command line's everyday surface: --version, params (text and JSON), config (YAML that
# round-trips through a file), and `iovsim` with no arguments.
set -euo pipefail
# shellcheck source=testbenches/lib/common.bash
source "$(dirname "$0")/lib/common.bash"
tb_setup "$@"

# --- --version --------------------------------------------------------------------------------
run_ok version "$IOVSIM" --version
grep -qxE 'iovsim [0-9]+\.[0-9]+\.[0-9]+' version.out ||
    fail "--version output" "one line 'iovsim X.Y.Z'" "$(cat version.out)"
check_eq "--version prints one line" 1 "$(wc -l <version.out)"
pass "--version: $(cat version.out)"

# --- params -----------------------------------------------------------------------------------
# Every key the other scenarios set.
keys=(sim.seed pcie.gen pcie.lanes pcie.mps pcie.mrrs pcie.hop_latency dmabench.ops
    dmabench.sizes dmabench.windows dmabench.patterns dmabench.count dmabench.outstanding)
run_ok params "$IOVSIM" params
for k in "${keys[@]}"; do
    awk -v k="$k" '$1 == k { found = 1 } END { exit !found }' params.out ||
        fail "iovsim params lists $k" "a line starting with $k" "$(head -c 1500 params.out)"
done
pass "params lists ${keys[*]}"

run_ok params_json "$IOVSIM" params --json
"$PY" - params_json.out params.out "${keys[@]}" <<'PYEOF' || fail "iovsim params --json (see above)"
import json, sys
path, text_path, keys = sys.argv[1], sys.argv[2], sys.argv[3:]
try:
    params = json.load(open(path))
except ValueError as e:
    sys.exit(f"params --json is not valid JSON: {e}")
if not isinstance(params, list) or not params:
    sys.exit("params --json should be a non-empty JSON array")
for p in params:
    if not isinstance(p, dict):
        sys.exit(f"every element should be an object, got {p!r}")
    for field in ("name", "default", "unit", "description"):
        if not isinstance(p.get(field), str):
            sys.exit(f"{p.get('name', p)!r}: field {field!r} should be a string, got {p.get(field)!r}")
    if not p["description"]:
        sys.exit(f"{p['name']}: empty description")
names = [p["name"] for p in params]
missing = [k for k in keys if k not in names]
if missing:
    sys.exit(f"params --json lacks {missing}")
text_names = [l.split()[0] for l in open(text_path) if l.strip()]
if sorted(names) != sorted(text_names):
    sys.exit(f"params --json and params list different keys: "
             f"{sorted(set(names) ^ set(text_names))}")
print(f"{len(params)} parameters")
PYEOF
pass "params --json: an array of {name, default, unit, description}, the same keys as params"

# --- config -----------------------------------------------------------------------------------
run_ok config "$IOVSIM" config --set pcie.lanes=4
mv config.out lanes4.yaml
"$PY" - lanes4.yaml <<'PYEOF' || fail "config --set pcie.lanes=4 (see above)"
import sys, yaml
doc = yaml.safe_load(open(sys.argv[1]))
lanes = doc.get("pcie", {}).get("lanes") if isinstance(doc, dict) else None
if lanes != 4:
    sys.exit(f"expected pcie: lanes: 4 in the YAML, got {lanes!r}")
PYEOF
pass "config --set pcie.lanes=4 prints YAML with pcie.lanes = 4"
run_ok config_again "$IOVSIM" config lanes4.yaml
cmp lanes4.yaml config_again.out ||
    fail "config FILE reprints FILE" "the same text" "$(diff lanes4.yaml config_again.out)"
pass "config lanes4.yaml prints the same text"

# --- iovsim with no arguments: `iovsim compare` on the shipped default -----------------------
mkdir noargs
rc=0
(cd noargs && "$IOVSIM" >../noargs.out 2>../noargs.err) || rc=$?
[ $rc -eq 0 ] || fail "iovsim with no arguments exits 0" "exit 0" "exit $rc: $(cat noargs.err)"
[ -s noargs/out/compare.json ] ||
    fail "iovsim with no arguments writes out/compare.json" "noargs/out/compare.json" \
        "$(ls -R noargs)"
"$PY" - noargs/out/compare.json <<'PYEOF' || fail "compare.json (see above)"
import json, sys
c = json.load(open(sys.argv[1]))
assert sorted(c) == ["bare-metal", "emulation", "passthrough", "virtio"], sorted(c)
for mode, s in c.items():
    assert "error" not in s, (mode, s)
    assert s["latency_ns"]["rtt"]["count"] == 10000 - 100, (mode, s["latency_ns"]["rtt"])
    assert s["rr"]["verified"] == 10000, (mode, s["rr"])
PYEOF
pass "iovsim with no arguments: compare.json has the four modes, 9,900 measured round trips each"
for label in "RTT p50 (ns)" "VM exits per packet" "bare-metal" "passthrough"; do
    check_contains "the comparison table shows '$label'" noargs.out "$label"
done
echo "PASS cli_basics"

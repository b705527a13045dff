# Shared helpers for the testbenches/*.sh scenarios (sourced, never run on its own: CMake only
# registers testbenches/*.sh as tests).
#
# Every scenario is run as `bash SCRIPT <path-to-iovsim> <scratch-dir>`. `tb_setup "$@"` checks
# the arguments, sets IOVSIM and SCRATCH (emptied first) and cds into SCRATCH.

PY=/usr/bin/python3
# shellcheck disable=SC2034  # used by the scenarios that source this file
TB_DIR=$(realpath "$(dirname "${BASH_SOURCE[0]}")/..")  # testbenches/, for fixtures

# fail WHAT [EXPECTED GOT]: prints what went wrong and stops the scenario.
fail() {
    echo "FAIL: $1" >&2
    if [ $# -ge 3 ]; then
        echo "  expected: $2" >&2
        echo "  got:      $3" >&2
    fi
    exit 1
}

pass() { echo "ok: $*"; }

tb_setup() {
    [ $# -eq 2 ] || fail "usage: bash $0 <path-to-iovsim> <scratch-dir>"
    IOVSIM=$(realpath "$1")
    [ -x "$IOVSIM" ] || fail "iovsim binary '$1' is missing or not executable"
    case "$2" in
        "" | / | "$HOME") fail "refusing to use '$2' as the scratch directory" ;;
    esac
    rm -rf -- "$2"
    mkdir -p -- "$2"
    SCRATCH=$(realpath "$2")
    cd "$SCRATCH" || exit 1
}

# check_eq WHAT EXPECTED GOT
check_eq() {
    [ "$2" == "$3" ] || fail "$1" "$2" "$3"
    pass "$1"
}

# check_contains WHAT FILE TEXT: FILE has a line containing TEXT (fixed string).
check_contains() {
    grep -qF -- "$3" "$2" || fail "$1: '$2' has no line containing" "$3" "$(head -c 2000 "$2")"
    pass "$1"
}

# check_py WHAT PYTHON-EXPRESSION [NAME=VALUE]...: the expression is true, with each NAME bound
# to float(VALUE) (or the string, when it is not a number).
check_py() {
    local what=$1 expr=$2
    shift 2
    local msg
    if ! msg=$("$PY" - "$expr" "$@" <<'PYEOF'
import sys
expr, binds = sys.argv[1], sys.argv[2:]
env = {}
for b in binds:
    k, v = b.split("=", 1)
    try:
        env[k] = float(v)
    except ValueError:
        env[k] = v
if not eval(expr, {}, env):
    print(expr + "  with  " + ", ".join(f"{k}={v}" for k, v in env.items()))
    sys.exit(1)
PYEOF
    ); then
        fail "$what" "$expr" "false: $msg"
    fi
    pass "$what"
}

# run_ok WHAT CMD...: runs CMD, stdout to WHAT.out and stderr to WHAT.err in SCRATCH; fails the
# scenario, showing stderr, if it exits non-zero.
run_ok() {
    local what=$1
    shift
    local rc=0
    "$@" >"$SCRATCH/$what.out" 2>"$SCRATCH/$what.err" || rc=$?
    [ $rc -eq 0 ] || fail "$what: '$*' exited $rc" "exit 0" "exit $rc: $(cat "$SCRATCH/$what.err")"
}

# bench DIR [ARGS]...: `iovsim dmabench ARGS --out DIR`, quietly.
bench() {
    local dir=$1
    shift
    run_ok "$(basename "$dir")" "$IOVSIM" dmabench "$@" --out "$dir"
    [ -f "$dir/dmabench.csv" ] || fail "dmabench wrote no $dir/dmabench.csv"
}

# csv_get FILE OP SIZE COLUMN [PATTERN]: one value from dmabench.csv (the single row matching
# op, size and pattern, default seq).
csv_get() {
    "$PY" - "$@" <<'PYEOF'
import csv, sys
path, op, size, column = sys.argv[1:5]
pattern = sys.argv[5] if len(sys.argv) > 5 else "seq"
rows = [r for r in csv.DictReader(open(path))
        if r["op"] == op and r["size"] == size and r["pattern"] == pattern]
if len(rows) != 1:
    sys.exit(f"{path}: expected one row op={op} size={size} pattern={pattern}, found {len(rows)}")
print(rows[0][column])
PYEOF
}

# raw_gbps GEN LANES: the link's raw data rate in Gbit/s after line coding (8b/10b for
# Gen1-2, 128b/130b for Gen3+): GT/s × lanes × coding efficiency.
raw_gbps() {
    "$PY" -c '
import sys
gen, lanes = int(sys.argv[1]), int(sys.argv[2])
gts = {1: 2.5, 2: 5.0, 3: 8.0, 4: 16.0, 5: 32.0}[gen]
eff = 8 / 10 if gen <= 2 else 128 / 130
print(gts * lanes * eff)' "$1" "$2"
}

# stat DIR KEY: one value from DIR/stats.json by its dotted name (whole numbers without ".0").
stat() {
    "$PY" - "$1/stats.json" "$2" <<'PYEOF'
import json, sys
v = json.load(open(sys.argv[1]))
for k in sys.argv[2].split("."):
    v = v[k]
print(int(v) if isinstance(v, float) and v.is_integer() else v)
PYEOF
}

# check_breakdown NAME DIR: the stages of DIR/stats.json add up to the mean round trip (within
# 1%), and only DESIGN.md's stages are there.
check_breakdown() {
    "$PY" - "$2/stats.json" <<'PYEOF' || fail "$1: breakdown does not sum to latency_ns.rtt.mean"
import json, sys
s = json.load(open(sys.argv[1]))
stages = {"guest", "exit", "kvm", "vmm", "vhost", "host_stack", "pcie", "iommu", "memory", "nic",
          "wire", "peer"}
assert set(s["breakdown_ns"]) == stages, sorted(s["breakdown_ns"])
total = sum(v for v in s["breakdown_ns"].values() if v is not None)
mean = s["latency_ns"]["rtt"]["mean"]
assert abs(total - mean) <= 0.01 * mean, (total, mean)
PYEOF
    pass "$1: breakdown sums to the mean round trip"
}

# lspci_dump NAME ARGS...: NAME.dump from `iovsim lspci ARGS...`, NAME.txt as `lspci -vvv -F`
# decodes it; lspci must say nothing on stderr (but libkmod's complaint about the host's module
# database, which is not about our dump).
lspci_dump() {
    local name=$1
    shift
    run_ok "$name.iovsim" "$IOVSIM" lspci "$@"
    mv "$name.iovsim.out" "$name.dump"
    lspci -vvv -F "$name.dump" >"$name.txt" 2>"$name.lspci-err" ||
        fail "lspci -vvv -F $name.dump failed" "exit 0" "$(cat "$name.lspci-err")"
    local errs
    errs=$(grep -v 'Unable to load libkmod resources' "$name.lspci-err" || true)
    check_eq "$name: lspci reports no parse errors on stderr" "" "$errs"
}

# section NAME BDF: the decoded paragraph of one function, into the file NAME.BDF.txt, whose name
# is left in SECTION (a function, not $(...), so that a failure here stops the scenario).
section() {
    local out="$1.$2.txt"
    awk -v id="$2" 'BEGIN { RS = "" } $1 == id { print }' "$1.txt" >"$out"
    [ -s "$out" ] || fail "$1: lspci decoded no function $2" "a paragraph for $2" \
        "$(grep -E '^[0-9a-f]{2}:' "$1.txt" | head -5 || true)"
    SECTION=$out
}

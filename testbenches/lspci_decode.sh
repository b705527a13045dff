#!/usr/bin/env bash
# `iovsim lspci` prints every PCI function's config space as `lspci -xxxx` does; pciutils' own
# decoder (`lspci -vvv -F DUMP`) must then read back the DMA bench platform
# (pcie.device=dmabench) that enumeration programmed:
# host bridge 00:00.0, root port 00:01.0 (bus 01 behind it, its memory window covering the
# endpoint's BAR), DMA bench endpoint 01:00.0 (64-bit BAR0, MSI-X enabled, PCIe capability with
# pcie.mps / pcie.mrrs in DevCtl and pcie.gen / pcie.lanes in LnkCap/LnkSta, AER).
set -euo pipefail
# shellcheck source=testbenches/lib/common.bash
source "$(dirname "$0")/lib/common.bash"
tb_setup "$@"

command -v lspci >/dev/null ||
    fail "lspci (pciutils) is not installed; scripts/setup should have installed it"

# dump NAME [--set ...]: lspci_dump (lib/common.bash) of the DMA bench's platform
# (pcie.device=dmabench); nic_lspci.sh decodes the NIC platform.
dump() {
    local name=$1
    shift
    lspci_dump "$name" --set pcie.device=dmabench "$@"
}

# --- The dump's own format: 3 functions, each a header line then 256 lines of 16 bytes -------
dump default
"$PY" - default.dump <<'PYEOF' || fail "default.dump is not in lspci -xxxx form (see above)"
import re, sys
lines = [l for l in open(sys.argv[1]).read().split("\n") if l.strip()]
header = re.compile(r"^([0-9a-f]{2}:[0-9a-f]{2}\.[0-7]) [0-9a-f]{4}: [0-9a-f]{4}:[0-9a-f]{4}")
# 4096 bytes of configuration space = 256 lines of 16 bytes at offsets 0x000..0xff0.
per_function = 1 + 256
if len(lines) != 3 * per_function:
    sys.exit(f"expected 3 functions x {per_function} non-blank lines = {3 * per_function}, "
             f"got {len(lines)}")
ids = []
for f in range(3):
    block = lines[f * per_function:(f + 1) * per_function]
    m = header.match(block[0])
    if not m:
        sys.exit(f"function {f}: expected a header 'BB:DD.F CCCC: VVVV:DDDD', got {block[0]!r}")
    ids.append(m.group(1))
    for i, l in enumerate(block[1:]):
        m = re.fullmatch(r"([0-9a-f]{2,3}): ((?:[0-9a-f]{2} ){15}[0-9a-f]{2})", l)
        if not m or int(m.group(1), 16) != 16 * i:
            sys.exit(f"{ids[-1]} line {i + 1}: expected offset {16 * i:x} and 16 hex bytes, "
                     f"got {l!r}")
if ids != ["00:00.0", "00:01.0", "01:00.0"]:
    sys.exit(f"expected functions 00:00.0 00:01.0 01:00.0, got {' '.join(ids)}")
PYEOF
pass "dump: 3 functions, each a header and 256 lines of 16 bytes"

# --- Default platform: Gen3 x8, MPS 256, MRRS 512 ---------------------------------------------
section default 00:00.0
hb=$SECTION
check_contains "00:00.0 is a host bridge" "$hb" "00:00.0 Host bridge"

section default 00:01.0
rp=$SECTION
check_contains "00:01.0 is a PCI bridge" "$rp" "00:01.0 PCI bridge"
check_contains "root port forwards bus 01 only" "$rp" \
    "Bus: primary=00, secondary=01, subordinate=01"
check_contains "root port DevCtl has pcie.mps / pcie.mrrs" "$rp" \
    "MaxPayload 256 bytes, MaxReadReq 512 bytes"

section default 01:00.0
ep=$SECTION
check_contains "endpoint has a PCIe v2 Endpoint capability" "$ep" "Express (v2) Endpoint"
check_contains "endpoint DevCtl has pcie.mps=256 / pcie.mrrs=512" "$ep" \
    "MaxPayload 256 bytes, MaxReadReq 512 bytes"
check_contains "endpoint MSI-X is enabled with one vector" "$ep" "MSI-X: Enable+ Count=1"
check_contains "endpoint has AER" "$ep" "Advanced Error Reporting"
grep -qE '^\s*Region 0: Memory at [0-9a-f]+ \(64-bit, non-prefetchable\)' "$ep" ||
    fail "endpoint BAR0" "Region 0: Memory at <addr> (64-bit, non-prefetchable)" \
        "$(grep 'Region' "$ep" || echo 'no Region line')"
pass "endpoint BAR0 is 64-bit non-prefetchable memory"
for f in "$rp" "$ep"; do
    grep -qE 'LnkCap:.*Speed 8GT/s, Width x8,' "$f" ||
        fail "$f LnkCap for Gen3 x8" "Speed 8GT/s, Width x8" "$(grep 'LnkCap:' "$f")"
    grep -qE 'LnkSta:\s*Speed 8GT/s( \(ok\))?, Width x8' "$f" ||
        fail "$f LnkSta for Gen3 x8" "Speed 8GT/s, Width x8" "$(grep 'LnkSta:' "$f")"
done
pass "LnkCap/LnkSta say 8GT/s x8 for the default Gen3 x8"

# The bridge's memory window must hold all of BAR0 that the dump shows in use: the MSI-X table
# (1 entry x 16 B) and the PBA (one 8 B QWORD) sit inside BAR0 at the offsets lspci decodes.
"$PY" - "$rp" "$ep" <<'PYEOF' || fail "root port memory window does not cover the endpoint BAR"
import re, sys
rp, ep = open(sys.argv[1]).read(), open(sys.argv[2]).read()
m = re.search(r"Memory behind bridge: ([0-9a-f]+)-([0-9a-f]+)", rp)
if not m:
    sys.exit("no 'Memory behind bridge: base-limit' line for 00:01.0")
base, limit = int(m.group(1), 16), int(m.group(2), 16)
bar = int(re.search(r"Region 0: Memory at ([0-9a-f]+)", ep).group(1), 16)
table = int(re.search(r"Vector table: BAR=0 offset=([0-9a-f]+)", ep).group(1), 16)
pba = int(re.search(r"PBA: BAR=0 offset=([0-9a-f]+)", ep).group(1), 16)
end = bar + max(table + 16, pba + 8)  # one past the last byte in use
print(f"window {base:#x}-{limit:#x}, BAR0 {bar:#x}, in use up to {end - 1:#x}")
if not (base <= bar and end - 1 <= limit):
    sys.exit("BAR0 (with its MSI-X table and PBA) is outside the bridge window")
PYEOF
pass "root port's Memory behind bridge covers the endpoint's BAR0"

# --- pcie.mps / pcie.mrrs reach DevCtl --------------------------------------------------------
dump mps --set pcie.mps=128 --set pcie.mrrs=1024
for bdf in 00:01.0 01:00.0; do
    section mps $bdf
    check_contains "$bdf DevCtl with pcie.mps=128 pcie.mrrs=1024" "$SECTION" \
        "MaxPayload 128 bytes, MaxReadReq 1024 bytes"
done

# --- pcie.gen / pcie.lanes reach LnkCap and LnkSta: Gen4 is 16 GT/s ---------------------------
dump gen4 --set pcie.gen=4 --set pcie.lanes=16
for bdf in 00:01.0 01:00.0; do
    section gen4 $bdf
    f=$SECTION
    grep -qE 'LnkCap:.*Speed 16GT/s, Width x16,' "$f" ||
        fail "$bdf LnkCap with pcie.gen=4 pcie.lanes=16" "Speed 16GT/s, Width x16" \
            "$(grep 'LnkCap:' "$f")"
    grep -qE 'LnkSta:\s*Speed 16GT/s( \(ok\))?, Width x16' "$f" ||
        fail "$bdf LnkSta with pcie.gen=4 pcie.lanes=16" "Speed 16GT/s, Width x16" \
            "$(grep 'LnkSta:' "$f")"
    pass "$bdf LnkCap/LnkSta say 16GT/s x16"
done
echo "PASS lspci_decode"

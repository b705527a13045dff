#!/usr/bin/env bash
# The SR-IOV NIC on the default platform, as `lspci -vvv -F` decodes `iovsim lspci`: the PF at
# 01:00.0 with its SR-IOV capability (Total VFs = nic.total_vfs, Number of VFs = nic.num_vfs,
# VF offset 16 and stride 1 with ARI, VF Device ID 1889), the VFs the PF driver model enabled
# through configuration writes at the routing IDs offset and stride give (a VF reads Vendor ID
# and Device ID FFFF: lspci calls it "Illegal Vendor ID Device ffff"), spilling into bus 02 at
# 256 VFs; bad nic.num_vfs exits 2 naming the keys.
set -euo pipefail
# shellcheck source=testbenches/lib/common.bash
source "$(dirname "$0")/lib/common.bash"
tb_setup "$@"

command -v lspci >/dev/null ||
    fail "lspci (pciutils) is not installed; scripts/setup should have installed it"

# dump NAME [--set ...]: lspci_dump (lib/common.bash) of the NIC platform.
dump() {
    local name=$1
    shift
    lspci_dump "$name" "$@"
}

# functions NAME: the BDFs lspci decoded, one per line.
functions() { grep -oE '^[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]' "$1.txt"; }

# bdf_of_vf N: BDF of VF N (0-based) of the PF at 01:00.0 (routing ID 0x0100) with ARI:
# RID = 0x0100 + offset 16 + N x stride 1; bus = RID >> 8, device = RID >> 3 & 31, fn = RID & 7.
bdf_of_vf() {
    "$PY" -c 'import sys; r = 0x0100 + 16 + int(sys.argv[1]); print(f"{r >> 8:02x}:{r >> 3 & 31:02x}.{r & 7}")' "$1"
}

# --- N = 0: the PF alone, its SR-IOV capability with no VFs ------------------------------------
dump vf0
check_eq "0 VFs: host bridge, root port and PF only" "00:00.0 00:01.0 01:00.0" \
    "$(functions vf0 | tr '\n' ' ' | sed 's/ $//')"
section vf0 01:00.0
pf=$SECTION
check_contains "PF is the E810 Ethernet controller" "$pf" "01:00.0 Ethernet controller"
check_contains "PF has the SR-IOV capability" "$pf" "Single Root I/O Virtualization (SR-IOV)"
check_contains "0 VFs: Total VFs 256, Number of VFs 0" "$pf" \
    "Initial VFs: 256, Total VFs: 256, Number of VFs: 0,"
check_contains "VF offset 16, stride 1 (ARI), VF Device ID 1889" "$pf" \
    "VF offset: 16, stride: 1, Device ID: 1889"
check_contains "ARI Capable Hierarchy set by enumeration" "$pf" "ARIHierarchy+"
grep -qE 'IOVCtl:\s*Enable-' "$pf" || fail "0 VFs: VF Enable clear" "IOVCtl: Enable-" \
    "$(grep 'IOVCtl' "$pf")"
pass "0 VFs: VF Enable clear"
section vf0 00:01.0
rp=$SECTION
# 256 VFs from RID 0x0110 to 0x0100 + 16 + 255 = 0x020f: bus 02 is reserved for them.
check_contains "root port's subordinate bus covers the VFs' bus 02" "$rp" \
    "Bus: primary=00, secondary=01, subordinate=02"
check_contains "root port forwards ARI" "$rp" "ARIFwd+"

# --- N = 4: VFs 01:02.0-01:02.3 ----------------------------------------------------------------
dump vf4 --set nic.num_vfs=4
section vf4 01:00.0
pf=$SECTION
check_contains "4 VFs: Number of VFs 4" "$pf" "Initial VFs: 256, Total VFs: 256, Number of VFs: 4,"
grep -qE 'IOVCtl:\s*Enable\+.*MSE\+.*ARIHierarchy\+' "$pf" ||
    fail "4 VFs: VF Enable, VF MSE and ARI Capable Hierarchy set" "IOVCtl: Enable+ ... MSE+ ARIHierarchy+" \
        "$(grep 'IOVCtl' "$pf")"
pass "4 VFs: IOVCtl Enable+ MSE+ ARIHierarchy+"
grep -qE 'System Page Size: 0+1$' "$pf" || fail "System Page Size 4 KiB" "System Page Size: 00000001" \
    "$(grep 'System Page Size' "$pf")"
pass "PF driver wrote System Page Size 4 KiB"
expect=""
for n in 0 1 2 3; do expect+="$(bdf_of_vf $n) "; done
check_eq "4 VFs at the BDFs offset and stride give" "00:00.0 00:01.0 01:00.0 ${expect% }" \
    "$(functions vf4 | tr '\n' ' ' | sed 's/ $//')"
check_eq "VF 0 is 01:02.0 (0x0100 + 16 = 0x0110)" "01:02.0" "$(bdf_of_vf 0)"
for n in 0 3; do
    section vf4 "$(bdf_of_vf $n)"
    check_contains "VF $n reads Vendor ID FFFF (Illegal Vendor ID)" "$SECTION" "Illegal Vendor ID"
    # Device ID reads FFFFh too (§9.3.4.1.2): the VF Device ID lives in the PF's capability.
    check_contains "VF $n reads Device ID FFFF" "$SECTION" "Illegal Vendor ID Device ffff"
    check_contains "VF $n: bus mastering on (the VF driver's probe)" "$SECTION" "BusMaster+"
done

# --- N = 256: VFs spill into bus 02 ------------------------------------------------------------
dump vf256 --set nic.num_vfs=256
n_vfs=$(grep -c 'Illegal Vendor ID' vf256.txt)
check_eq "256 VFs decoded" 256 "$n_vfs"
# VF 255: 0x0100 + 16 + 255 = 0x020f = bus 02, device 01, function 7.
check_eq "last VF (255) is 02:01.7" "02:01.7" "$(bdf_of_vf 255)"
section vf256 02:01.7
check_contains "02:01.7 is a VF" "$SECTION" "Illegal Vendor ID"
# VF 239 is 0x01ff (01:1f.7), VF 240 is 0x0200 (02:00.0): 240 VFs on bus 01, 16 on bus 02.
check_eq "VFs on bus 01" 240 "$(grep -cE '^01:[0-9a-f]{2}\.[0-7] .*Illegal Vendor ID' vf256.txt)"
check_eq "VFs on bus 02" 16 "$(grep -cE '^02:[0-9a-f]{2}\.[0-7] .*Illegal Vendor ID' vf256.txt)"
check_eq "no function past 02:01.7" "02:01.7" "$(functions vf256 | sort | tail -1)"

# --- Bad input: more VFs than TotalVFs -----------------------------------------------------------
rc=0
"$IOVSIM" lspci --set nic.num_vfs=257 >bad.out 2>bad.err || rc=$?
check_eq "nic.num_vfs=257 exits 2" 2 "$rc"
check_contains "the error names nic.num_vfs" bad.err "nic.num_vfs"
check_contains "the error names nic.total_vfs" bad.err "nic.total_vfs"
rc=0
"$IOVSIM" lspci --set nic.total_vfs=8 --set nic.num_vfs=9 >bad2.out 2>bad2.err || rc=$?
check_eq "nic.num_vfs=9 above nic.total_vfs=8 exits 2" 2 "$rc"
check_contains "the error gives both values" bad2.err "nic.num_vfs (9) must not exceed nic.total_vfs (8)"
echo "PASS nic_lspci"

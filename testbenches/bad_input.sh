#!/usr/bin/env bash
# Bad input is the user's mistake, not a crash: each case below must exit 2, print exactly one
# line on stderr that names the offending key or file (for a file, with the line number), print
# nothing on stdout, write no results, and show neither a SystemC banner nor a backtrace.
set -euo pipefail
# shellcheck source=testbenches/lib/common.bash
source "$(dirname "$0")/lib/common.bash"
tb_setup "$@"

cases=0
# expect_bad NAME 'TEXT1|TEXT2|...' ARGS...: every TEXT must appear in the one stderr line.
expect_bad() {
    local name=$1 texts=$2
    shift 2
    local out="$name.out" err="$name.err" rc=0
    "$IOVSIM" "$@" >"$out" 2>"$err" || rc=$?
    local shown="iovsim $*"
    [ $rc -eq 2 ] || fail "$name: '$shown' exit status" "2" "$rc (stderr: $(cat "$err"))"
    local lines
    lines=$(wc -l <"$err")
    [ "$lines" -eq 1 ] || fail "$name: '$shown' lines on stderr" "1" "$lines: $(cat "$err")"
    [ ! -s "$out" ] || fail "$name: '$shown' stdout" "nothing" "$(head -c 500 "$out")"
    if grep -qiE 'SystemC|Accellera|Copyright|terminate called|what\(\)|Aborted|core dumped|Error: \(E[0-9]' \
        "$err"; then
        fail "$name: '$shown' stderr has a SystemC banner or a backtrace" "a one-line message" \
            "$(cat "$err")"
    fi
    local t
    IFS='|' read -ra wanted <<<"$texts"
    for t in "${wanted[@]}"; do
        grep -qF -- "$t" "$err" || fail "$name: '$shown' stderr mentions '$t'" "$t" "$(cat "$err")"
    done
    [ ! -e "$SCRATCH/$name.bench/dmabench.csv" ] ||
        fail "$name: '$shown' wrote results despite the bad input" "no dmabench.csv" \
            "$SCRATCH/$name.bench/dmabench.csv"
    cases=$((cases + 1))
    pass "$name: exit 2, one line: $(cat "$err")"
}

# Files. Line numbers are those of the offending lines in the fixtures (see their comments).
cp "$TB_DIR/fixtures/malformed.yaml" "$TB_DIR/fixtures/unknown_key.yaml" .
expect_bad malformed_yaml 'malformed.yaml:5' config malformed.yaml
expect_bad unknown_key_in_file "unknown_key.yaml:5|pcie.lane|did you mean 'pcie.lanes'" \
    config unknown_key.yaml
expect_bad missing_file 'no-such-config.yaml' config no-such-config.yaml
expect_bad missing_file_dmabench 'no-such-config.yaml' \
    dmabench no-such-config.yaml --out missing_file_dmabench.bench

# --set values that parse but are out of the parameter's domain.
expect_bad lanes_not_a_width 'pcie.lanes|3' config --set pcie.lanes=3
expect_bad mps_wrong_unit 'pcie.mps|3GHz' config --set pcie.mps=3GHz
# 300 B lies within 128..4096 but Max_Payload_Size is a power of two (PCIe Base Spec 7.5.3.4).
expect_bad mps_not_power_of_two_config 'pcie.mps|300' config --set pcie.mps=300
expect_bad mps_not_power_of_two_lspci 'pcie.mps|300' lspci --set pcie.mps=300
expect_bad mps_not_power_of_two_dmabench 'pcie.mps|300' \
    dmabench --set pcie.mps=300 --out mps_not_power_of_two_dmabench.bench
expect_bad unknown_key 'nosuch.key' config --set nosuch.key=1
expect_bad set_without_equals 'pcie.lanes' config --set pcie.lanes
expect_bad dmabench_size_zero 'dmabench.sizes|0' \
    dmabench --set dmabench.sizes=0 --out dmabench_size_zero.bench
expect_bad dmabench_unknown_op 'dmabench.ops|erase' \
    dmabench --set 'dmabench.ops=[read,erase]' --out dmabench_unknown_op.bench

# The CPU trap path's keys (models/cpu): a thread pinned to a core that does not exist, an
# unknown interrupt delivery mode, a VMM exit cheaper than the in-kernel one.
expect_bad vhost_on_missing_core 'host.pin.vhost|core 9|host.cores' config --set host.pin.vhost=9
expect_bad vcpu_on_missing_core 'host.pin.vcpus|core 4' config --set host.cores=4 \
    --set 'host.pin.vcpus=[0,4]'
expect_bad unknown_delivery_mode 'vm.interrupts|fancy' config --set vm.interrupts=fancy
expect_bad unknown_wait_mode 'vm.wait|spin' dmabench --set vm.wait=spin --out wait.bench

# Passthrough needs a VF of its own and the IOMMU; frame sizes outside Ethernet's 64..1518 B
# (up to nic.mtu + 18 with jumbo frames: 9018 B for the largest MTU, 9000).
expect_bad passthrough_no_vf_left 'vm.mode|passthrough|nic.num_vfs' run --out no_vf.run \
    --set vm.mode=passthrough --set nic.num_vfs=0
expect_bad passthrough_without_iommu 'passthrough|iommu.enabled' run --out no_iommu.run \
    --set vm.mode=passthrough --set iommu.enabled=false
expect_bad passthrough_size_below_minimum 'workload.size|63' run --out small.run \
    --set vm.mode=passthrough --set workload.size=63
expect_bad passthrough_size_above_maximum 'workload.size|1519|nic.mtu|1518' run --out big.run \
    --set vm.mode=passthrough --set workload.size=1519
expect_bad size_above_jumbo_maximum 'workload.size|9019' run --out jumbo_big.run \
    --set nic.mtu=9000 --set workload.size=9019
expect_bad mtu_above_jumbo_maximum 'nic.mtu|9001' run --out mtu.run --set nic.mtu=9001
expect_bad nicbench_frame_above_mtu 'nicbench.frame_size|nic.mtu' nicbench --out nb.run \
    --set nic.num_vfs=4 --set nicbench.frame_size=2000
for d in no_vf.run no_iommu.run small.run big.run jumbo_big.run mtu.run nb.run; do
    [ ! -e "$d" ] || fail "bad input created its output directory $d"
done

# The command line itself.
expect_bad unknown_subcommand 'frobnicate' frobnicate

echo "PASS bad_input ($cases cases)"

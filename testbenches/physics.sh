#!/usr/bin/env bash
# Properties the timing must show on its own, each worked out from the parameters and the PCIe
# rules, never from a previous run's output:
#   - a 64 B read crosses one link hop down (request) and one up (completion): raising
#     pcie.hop_latency by D raises its latency by exactly 2 D;
#   - a large read's bandwidth scales with the link width;
#   - no DMA beats the link's raw rate (GT/s x lanes x line coding), and large transfers pay
#     each TLP's overhead: a completion carries at most MPS bytes plus 20 B, a 4-DW memory write
#     (buffers sit above 4 GiB) at most MPS bytes plus 8 + 4 + 12 = 24 B;
#   - and, with 64 transfers in flight keeping the link busy, large transfers reach at least 95%
#     of what the link can carry once TLP and DLLP overhead are paid (the 5% covers filling and
#     draining the pipeline: a ~1.1 us first round trip in a pass of ~110 us, and the like);
#   - with one read in flight, bandwidth is size / round-trip latency.
set -euo pipefail
# shellcheck source=testbenches/lib/common.bash
source "$(dirname "$0")/lib/common.bash"
tb_setup "$@"

# --- pcie.hop_latency: one hop each way -------------------------------------------------------
read64=(--set dmabench.ops=read --set dmabench.sizes=64 --set dmabench.count=50)
bench hop100 "${read64[@]}" --set pcie.hop_latency=100ns
bench hop150 "${read64[@]}" --set pcie.hop_latency=150ns
bench hop300 "${read64[@]}" --set pcie.hop_latency=300ns
l100=$(csv_get hop100/dmabench.csv read 64 latency_ns_p50)
l150=$(csv_get hop150/dmabench.csv read 64 latency_ns_p50)
l300=$(csv_get hop300/dmabench.csv read 64 latency_ns_p50)
# 100 -> 150 ns: D = 50 ns, 2 D = 100 ns; 100 -> 300 ns: D = 200 ns, 2 D = 400 ns.
# The CSV has 3 decimals, so allow 0.002 ns of rounding.
check_py "64 B read p50 grows by 2 x 50 ns = 100 ns when hop_latency goes 100 -> 150 ns" \
    'abs((l150 - l100) - 100) <= 0.002' "l100=$l100" "l150=$l150"
check_py "64 B read p50 grows by 2 x 200 ns = 400 ns when hop_latency goes 100 -> 300 ns" \
    'abs((l300 - l100) - 400) <= 0.002' "l100=$l100" "l300=$l300"

# --- Link width: x8 -> x4 halves 4096 B read bandwidth ---------------------------------------
# MRRS and the ACK/UpdateFC rates are spelled out (they are the defaults): the lower bounds
# below are worked out from them.
read4k=(--set dmabench.ops=read --set dmabench.sizes=4096 --set dmabench.count=200
    --set pcie.mrrs=512 --set pcie.ack_every=4 --set pcie.fc_every=4)
bench x8 "${read4k[@]}" --set pcie.lanes=8
bench x4 "${read4k[@]}" --set pcie.lanes=4
b8=$(csv_get x8/dmabench.csv read 4096 bandwidth_gbps)
b4=$(csv_get x4/dmabench.csv read 4096 bandwidth_gbps)
check_py "4096 B read bandwidth at x4 is half of x8 (within 5%)" 'abs(b4 / (b8 / 2) - 1) <= 0.05' \
    "b8=$b8" "b4=$b4"

# --- Completion overhead: read data arrives in completions of at most MPS bytes + 20 B --------
raw38=$(raw_gbps 3 8)  # 8 GT/s x 8 x 128/130 = 63.015 Gbit/s
check_py "x8 read bandwidth below 256/(256+20) x 63.015 = 58.449 Gbit/s (MPS 256)" \
    'b8 <= 256 / (256 + 20) * raw' "b8=$b8" "raw=$raw38"
# Lower bound. Read data flows upstream (endpoint -> root complex). One 4096 B read is
# 4096/512 = 8 MRd (MRRS 512) downstream and 4096/256 = 16 CplD (MPS 256) upstream of
# 256 + 20 = 276 B each: 16 x 276 = 4416 B. The endpoint receives the 8 MRd and answers with one
# ACK per 4 TLPs and one UpdateFC per 4 (pcie.ack_every, pcie.fc_every): 2 + 2 = 4 DLLPs of 8 B
# = 32 B, sent UPSTREAM, sharing the direction with the completions. (The root complex's DLLPs
# for the 16 completions go downstream and cost the data direction nothing.) So upstream carries
# 4416 + 32 = 4448 B per 4096 B of data: DLLP share 32/4448 = 0.719%, and
#   63.015 x 256/276 x (1 - 32/4448) = 63.015 x 4096/4448 = 58.029 Gbit/s;
# at least 95% of that is 55.127 Gbit/s.
check_py "x8 4096 B read bandwidth at least 0.95 x 63.015 x 256/276 x (1 - 32/4448) = 55.127 Gbit/s" \
    'b8 >= 0.95 * raw * 256 / 276 * (1 - 32 / 4448)' "b8=$b8" "raw=$raw38"
bench mps128 "${read4k[@]}" --set pcie.mps=128
b128=$(csv_get mps128/dmabench.csv read 4096 bandwidth_gbps)
check_py "read bandwidth below 128/(128+20) x 63.015 = 54.499 Gbit/s with MPS 128" \
    'b128 <= 128 / (128 + 20) * raw' "b128=$b128" "raw=$raw38"
# MPS 128: 32 CplD of 128 + 20 = 148 B = 4736 B, plus the same 8 MRd's 4 DLLPs = 32 B: 4768 B
# per 4096 B; 0.95 x 63.015 x 128/148 x (1 - 32/4768) = 0.95 x 54.133 = 51.427 Gbit/s.
check_py "MPS 128 read bandwidth at least 0.95 x 63.015 x 128/148 x (1 - 32/4768) = 51.427 Gbit/s" \
    'b128 >= 0.95 * raw * 128 / 148 * (1 - 32 / 4768)' "b128=$b128" "raw=$raw38"

# --- Gen1 x1: 2.5 GT/s x 1 lane x 8/10 = 2 Gbit/s raw -----------------------------------------
bench gen1 --set dmabench.ops=write --set dmabench.sizes=4096 --set dmabench.count=200 \
    --set pcie.gen=1 --set pcie.lanes=1 --set pcie.mps=256
raw11=$(raw_gbps 1 1)
g1=$(csv_get gen1/dmabench.csv write 4096 bandwidth_gbps)
check_py "Gen1 x1 raw rate worked out as 2.5 x 8/10 = 2 Gbit/s" 'abs(raw - 2.0) < 1e-9' "raw=$raw11"
check_py "Gen1 x1 4096 B write bandwidth below 2 Gbit/s" 'g1 < raw' "g1=$g1" "raw=$raw11"
# 4096 B = 16 MWr of MPS 256 B, each with 24 B of overhead: at most 2 x 256/280 = 1.8286 Gbit/s
# (+0.0005 for the CSV's rounding to 3 decimals).
check_py "Gen1 x1 write bandwidth at most 256/(256+24) x 2 = 1.8286 Gbit/s" \
    'g1 <= 256 / (256 + 24) * raw + 0.0005' "g1=$g1" "raw=$raw11"
# Lower bound. The 16 MWr go upstream, 16 x 280 = 4480 B per 4096 B. Their ACK and UpdateFC
# DLLPs are sent by the root complex, downstream; the endpoint receives no TLPs while the pass
# runs (its registers are written before it starts), so it sends no DLLPs upstream: the DLLP
# share of the data direction is 0, and the bound is 0.95 x 2 x 256/280 x (1 - 0) = 1.7371.
check_py "Gen1 x1 write bandwidth at least 0.95 x 2 x 256/280 (no upstream DLLPs) = 1.7371 Gbit/s" \
    'g1 >= 0.95 * raw * 256 / 280' "g1=$g1" "raw=$raw11"

# --- One transfer in flight -------------------------------------------------------------------
bench out1 --set dmabench.sizes=64,4096 --set dmabench.count=200 --set dmabench.outstanding=1
for size in 64 4096; do
    lat=$(csv_get out1/dmabench.csv read $size latency_ns_p50)
    bw=$(csv_get out1/dmabench.csv read $size bandwidth_gbps)
    # bits / ns = Gbit/s
    check_py "one $size B read in flight: bandwidth = $size x 8 / latency (within 10%)" \
        "abs(bw / ($size * 8 / lat) - 1) <= 0.10" "lat=$lat" "bw=$bw"
done
# Writes are posted: the engine need not wait for the write + flushing read that the latency
# pass times, so one write "in flight" still moves data faster than size / that latency.
for size in 64 4096; do
    lat=$(csv_get out1/dmabench.csv write $size latency_ns_p50)
    bw=$(csv_get out1/dmabench.csv write $size bandwidth_gbps)
    check_py "one $size B posted write in flight beats $size x 8 / write-and-read latency" \
        "bw > $size * 8 / lat" "lat=$lat" "bw=$bw"
done
echo "PASS physics"

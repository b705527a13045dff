// The simulation-speed yardstick (platform/kernel_rate.h) and the kernel-work counters of the
// host CPU and the DMA endpoint. Tests that elaborate do so once and call sc_start once: ctest
// runs each TEST in its own process (SystemC allows one elaboration per process). Wall-clock
// speed is never asserted here; it lives in `iovsim dmabench --speed` and scripts/speed.
#include "platform/kernel_rate.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "models/core/errors.h"
#include "models/core/params.h"
#include "platform/dmabench.h"
#include "platform/host_platform.h"
#include "platform/platform_params.h"

namespace iovsim::platform {
namespace {

std::vector<std::uint64_t> spread(std::uint64_t calls, std::uint64_t waits) {
    wait_spreader s(calls, waits);
    std::vector<std::uint64_t> v;
    for (std::uint64_t i = 0; i < calls; ++i) v.push_back(s.after_call());
    return v;
}

TEST(WaitSpreader, SpreadsFewerWaitsThanCallsEvenly) {
    // floor((i+1)·2/4) − floor(i·2/4) for i = 0..3: 0−0, 1−0, 1−1, 2−1.
    EXPECT_EQ(spread(4, 2), (std::vector<std::uint64_t>{0, 1, 0, 1}));
    // 10 calls, 4 waits: floor((i+1)·0.4) = 0,0,1,1,2,2,2,3,3,4 → differences below.
    EXPECT_EQ(spread(10, 4), (std::vector<std::uint64_t>{0, 0, 1, 0, 1, 0, 0, 1, 0, 1}));
}

TEST(WaitSpreader, MoreWaitsThanCallsComeSeveralAfterACall) {
    // 2 calls, 5 waits: floor(5/2) = 2 after the first, floor(10/2) − 2 = 3 after the second.
    EXPECT_EQ(spread(2, 5), (std::vector<std::uint64_t>{2, 3}));
    EXPECT_EQ(spread(3, 3), (std::vector<std::uint64_t>{1, 1, 1}));
}

TEST(WaitSpreader, NoWaitsAndNoCalls) {
    EXPECT_EQ(spread(3, 0), (std::vector<std::uint64_t>{0, 0, 0}));
    wait_spreader none(0, 5);  // no calls: the loop makes the waits itself
    EXPECT_EQ(none.after_call(), 0u);
}

TEST(WaitSpreader, TotalIsExactAndPrefixesStayWithinOneWait) {
    const std::uint64_t n = 1000, w = 37;
    wait_spreader s(n, w);
    std::uint64_t sum = 0;
    for (std::uint64_t i = 1; i <= n; ++i) {
        sum += s.after_call();
        // After i calls exactly floor(i·W/N) waits have been made.
        EXPECT_EQ(sum, i * w / n) << "after call " << i;
    }
    EXPECT_EQ(sum, w);
}

TEST(WaitSpreader, LargeCountsDoNotOverflow) {
    // i·W would overflow 64 bits for these; the accumulator never forms it.
    const std::uint64_t n = std::uint64_t{1} << 40, w = (std::uint64_t{1} << 40) - 1;
    wait_spreader s(n, w);
    // Call 0: floor(W/N) = 0; call 1: floor(2W/N) = 1 (2W = 2N − 2 ≥ N).
    EXPECT_EQ(s.after_call(), 0u);
    EXPECT_EQ(s.after_call(), 1u);
}

TEST(Median, OddEvenSingleAndUnsorted) {
    EXPECT_DOUBLE_EQ(median({3.0, 1.0, 2.0}), 2.0);
    EXPECT_DOUBLE_EQ(median({4.0, 1.0, 3.0, 2.0}), 2.5);  // (2 + 3) / 2
    EXPECT_DOUBLE_EQ(median({7.5}), 7.5);
    EXPECT_DOUBLE_EQ(median({5.0, 9.0, 1.0, 100.0, 2.0}), 5.0);  // an outlier does not move it
}

TEST(Median, EmptyThrows) { EXPECT_THROW(median({}), std::invalid_argument); }

kernel_rate_config valid_config() {
    kernel_rate_config c;
    c.calls = 10;
    c.waits = 4;
    return c;
}

TEST(KernelRateConfig, ValidConfigurationsPass) {
    EXPECT_NO_THROW(validate(valid_config()));
    kernel_rate_config only_waits = valid_config();
    only_waits.calls = 0;
    EXPECT_NO_THROW(validate(only_waits));
    kernel_rate_config only_calls = valid_config();
    only_calls.waits = 0;
    EXPECT_NO_THROW(validate(only_calls));
}

TEST(KernelRateConfig, EveryBadOptionIsAConfigErrorNamingIt) {
    const auto expect_error = [](kernel_rate_config c, const std::string& option) {
        try {
            validate(c);
            ADD_FAILURE() << "no error for " << option;
        } catch (const core::config_error& e) {
            EXPECT_NE(std::string(e.what()).find(option), std::string::npos) << e.what();
        }
    };
    kernel_rate_config c = valid_config();
    c.calls = 0;
    c.waits = 0;
    expect_error(c, "--calls");
    c = valid_config();
    c.bytes = 0;
    expect_error(c, "--bytes");
    c.bytes = 65537;
    expect_error(c, "--bytes");
    c = valid_config();
    c.delay = 0;
    expect_error(c, "--delay-ps");
    c = valid_config();
    c.repeat = 0;
    expect_error(c, "--repeat");
    c.repeat = 1001;
    expect_error(c, "--repeat");
    c = valid_config();
    c.calls = std::uint64_t{1} << 62;
    expect_error(c, "--calls");
}

kernel_rate_result sample_result() {
    kernel_rate_result r;
    r.config.calls = 1000;
    r.config.waits = 50;
    r.config.bytes = 128;
    r.config.delay = 2500;
    r.config.repeat = 3;
    r.wall_s = {0.25, 0.5, 0.75};
    r.median_wall_s = 0.5;
    r.calls_per_wall_s = 2000;  // 1000 / 0.5
    r.waits_per_wall_s = 100;   // 50 / 0.5
    r.calls_made = 3000;
    r.waits_made = 150;
    r.simulated_ns = 7500;
    return r;
}

TEST(KernelRateJson, RoundTrips) {
    const kernel_rate_result a = sample_result();
    const kernel_rate_result b = parse_kernel_rate_json(kernel_rate_json(a));
    EXPECT_EQ(b.config.calls, 1000u);
    EXPECT_EQ(b.config.waits, 50u);
    EXPECT_EQ(b.config.bytes, 128u);
    EXPECT_EQ(b.config.delay, 2500u);
    EXPECT_EQ(b.config.repeat, 3u);
    EXPECT_EQ(b.wall_s, a.wall_s);
    EXPECT_DOUBLE_EQ(b.median_wall_s, 0.5);
    EXPECT_DOUBLE_EQ(b.calls_per_wall_s, 2000);
    EXPECT_DOUBLE_EQ(b.waits_per_wall_s, 100);
    EXPECT_EQ(b.calls_made, 3000u);
    EXPECT_EQ(b.waits_made, 150u);
    EXPECT_DOUBLE_EQ(b.simulated_ns, 7500);
}

TEST(KernelRateJson, MalformedOutputThrows) {
    EXPECT_THROW(parse_kernel_rate_json("not json"), std::runtime_error);
    EXPECT_THROW(parse_kernel_rate_json(""), std::runtime_error);
    EXPECT_THROW(parse_kernel_rate_json(R"({"calls": 1})"), std::runtime_error);  // fields missing
    std::string wrong_type = kernel_rate_json(sample_result());
    wrong_type.replace(wrong_type.find("1000"), 4, "\"x\"");  // "calls": "x"
    EXPECT_THROW(parse_kernel_rate_json(wrong_type), std::runtime_error);
}

TEST(KernelRateArgs, NameEveryOption) {
    kernel_rate_config c;
    c.calls = 36318;
    c.waits = 2004;
    c.bytes = 64;
    c.delay = 10000;
    c.repeat = 5;
    EXPECT_EQ(kernel_rate_args(c),
              (std::vector<std::string>{"kernel-rate", "--calls", "36318", "--waits", "2004",
                                        "--bytes", "64", "--delay-ps", "10000", "--repeat", "5"}));
}

// A throw-away executable script in the test's temporary directory.
std::string script(const std::string& name, const std::string& body) {
    const std::filesystem::path p = std::filesystem::temp_directory_path() /
                                    ("iovsim_kernel_rate_" + std::to_string(getpid()) + "_" + name);
    std::ofstream(p) << "#!/bin/sh\n" << body;
    std::filesystem::permissions(p, std::filesystem::perms::owner_all);
    return p.string();
}

// Runs `exe` as the child and returns the error it causes; removes a script it made.
std::string child_error(const std::string& exe) {
    std::string what = "no error";
    try {
        run_kernel_rate_child(exe, valid_config());
    } catch (const std::runtime_error& e) {
        what = e.what();
    }
    std::error_code ec;
    if (exe.rfind(std::filesystem::temp_directory_path().string(), 0) == 0)
        std::filesystem::remove(exe, ec);
    return what;
}

TEST(KernelRateChild, ParsesTheChildsStdoutAndPassesTheArguments) {
    // The child prints its arguments to a file and a fixed result to stdout.
    const std::string args_file = script("args", "");
    const std::string exe = script("ok", "echo \"$@\" > " + args_file + "\ncat <<'EOF'\n" +
                                             kernel_rate_json(sample_result()) + "\nEOF\n");
    const kernel_rate_result r = run_kernel_rate_child(exe, valid_config());
    EXPECT_EQ(r.config.calls, 1000u);
    EXPECT_DOUBLE_EQ(r.calls_per_wall_s, 2000);
    std::ifstream f(args_file);
    std::string line;
    std::getline(f, line);
    EXPECT_EQ(line, "kernel-rate --calls 10 --waits 4 --bytes 64 --delay-ps 10000 --repeat 1");
    std::filesystem::remove(args_file);
    std::filesystem::remove(exe);
}

TEST(KernelRateChild, AMissingExecutableCannotRun) {
    EXPECT_NE(child_error("/nonexistent/iovsim").find("cannot run /nonexistent/iovsim"),
              std::string::npos);
}

TEST(KernelRateChild, ANonzeroExitIsAFailure) {
    EXPECT_NE(child_error(script("fail", "echo partial\nexit 3\n")).find("exit status 3"),
              std::string::npos);
}

TEST(KernelRateChild, ASignalIsAFailure) {
    EXPECT_NE(child_error(script("killed", "kill -KILL $$\n")).find("killed by signal 9"),
              std::string::npos);
}

TEST(KernelRateChild, OutputThatIsNotAResultIsAFailure) {
    EXPECT_NE(child_error(script("garbage", "echo hello\n")).find("unexpected output"),
              std::string::npos);
}

TEST(SpeedLine, RatesAndRatioFromTheWallTimes) {
    kernel_work work;
    work.calls = 2'000'000;
    work.waits = 400'000;
    kernel_rate_result k;
    k.config.calls = work.calls;
    k.config.waits = work.waits;
    k.config.repeat = 5;
    k.median_wall_s = 0.25;
    k.calls_per_wall_s = 8e6;  // 2e6 calls / 0.25 s
    // dmabench: 2e6 calls in 1 s = 2.00 M/s; ratio 0.25 s / 1 s = 0.25x.
    const std::string s = speed_line(work, 1.0, k);
    EXPECT_NE(s.find("dmabench 2.00 M b_transport calls/s"), std::string::npos) << s;
    EXPECT_NE(s.find("2000000 calls and 400000 waits in 1.000 s"), std::string::npos) << s;
    EXPECT_NE(s.find("same 2000000 calls and 400000 waits: 8.00 M calls/s (median of 5, 0.250 s)"),
              std::string::npos)
        << s;
    EXPECT_NE(s.find("runs at 0.25x the bare kernel"), std::string::npos) << s;
    // No wall time (never expected in practice): rates and ratio are 0, not a division by zero.
    EXPECT_NE(speed_line(work, 0.0, k).find("at 0.00x"), std::string::npos);
    // `run --speed` names the run: 2e6 calls in 0.5 s = 4.00 M/s; ratio 0.25 s / 0.5 s = 0.50x.
    const std::string r = speed_line(work, 0.5, k, "run");
    EXPECT_EQ(r.rfind("speed: run 4.00 M b_transport calls/s", 0), 0u) << r;
    EXPECT_NE(r.find("run runs at 0.50x the bare kernel"), std::string::npos) << r;
}

// --- Tests that elaborate (one per process) ---

TEST(KernelRateLoop, CallsAndWaitsSpreadEvenlyWithTheTargetsDelay) {
    kernel_rate_config c;
    c.calls = 10;
    c.waits = 4;
    c.bytes = 16;
    c.delay = 10 * ticks_per_ns;
    c.repeat = 3;
    const kernel_rate_result r = run_kernel_rate(c);
    EXPECT_EQ(r.calls_made, 30u);  // 10 calls × 3 loops, counted by the target
    EXPECT_EQ(r.waits_made, 12u);  // 4 waits × 3 loops
    ASSERT_EQ(r.wall_s.size(), 3u);
    EXPECT_DOUBLE_EQ(r.median_wall_s, median(r.wall_s));
    // Waits follow calls 2, 4, 7 and 9 (see WaitSpreader above); each waits out the local time
    // built up since the last one: 3·10 + 2·10 + 3·10 + 2·10 = 100 ns a loop, 300 ns for three.
    EXPECT_DOUBLE_EQ(r.simulated_ns, 300.0);
    EXPECT_DOUBLE_EQ(r.calls_per_wall_s, 10 / r.median_wall_s);
    EXPECT_DOUBLE_EQ(r.waits_per_wall_s, 4 / r.median_wall_s);
}

TEST(KernelRateLoop, ConsecutiveWaitsEachWaitTheDelay) {
    kernel_rate_config c;
    c.calls = 2;
    c.waits = 5;
    c.delay = 10 * ticks_per_ns;
    const kernel_rate_result r = run_kernel_rate(c);
    EXPECT_EQ(r.calls_made, 2u);
    EXPECT_EQ(r.waits_made, 5u);
    // After call 0: 2 waits (10 ns of local time, then the 10 ns delay); after call 1: 3 waits
    // (10 ns local, then 10 ns twice): 5 × 10 ns.
    EXPECT_DOUBLE_EQ(r.simulated_ns, 50.0);
}

TEST(KernelRateLoop, WaitsWithoutCalls) {
    kernel_rate_config c;
    c.calls = 0;
    c.waits = 3;
    c.delay = 7 * ticks_per_ns;
    const kernel_rate_result r = run_kernel_rate(c);
    EXPECT_EQ(r.calls_made, 0u);
    EXPECT_EQ(r.waits_made, 3u);
    EXPECT_DOUBLE_EQ(r.simulated_ns, 21.0);  // 3 × 7 ns
    EXPECT_DOUBLE_EQ(r.calls_per_wall_s, 0.0);
}

TEST(KernelRateLoop, AnInvalidConfigurationElaboratesNothing) {
    EXPECT_THROW(run_kernel_rate(kernel_rate_config{}), core::config_error);
}

platform_config config_with(const std::vector<std::string>& sets) {
    core::param_registry reg;
    declare_platform_params(reg);
    core::param_tree tree(reg);
    for (const std::string& s : sets) tree.set(s);
    platform_config c = make_platform_config(tree);
    c.device = platform_device::dma_bench;
    return c;
}

TEST(KernelWork, HostCpuCountsEveryAccessAndEverySync) {
    host_platform p(config_with({"sim.quantum=0ns"}));
    const std::uint64_t dram = p.config().map.dram_high.base;
    p.cpu.run([dram](host_cpu& cpu) {
        const unsigned char b[8] = {};
        for (int i = 0; i < 3; ++i) cpu.mem_write(dram + 64 * i, b, sizeof b);
    });
    sc_core::sc_start();
    ASSERT_TRUE(p.cpu.finished());
    // Quantum 0: a sync after each of the 3 accesses, and one when the program returns.
    EXPECT_EQ(p.cpu.transactions(), 3u);
    EXPECT_EQ(p.cpu.waits(), 4u);
    // The endpoint's engine waits once for a start that never comes.
    EXPECT_EQ(p.endpoint->waits(), 1u);
    EXPECT_EQ(p.endpoint->requests_sent(), 0u);
    const kernel_work w = kernel_work_of(p);
    EXPECT_EQ(w.calls, 3u);
    EXPECT_EQ(w.waits, 5u);
}

TEST(KernelWork, ALargeQuantumLeavesOnlyTheFinalSync) {
    host_platform p(config_with({"sim.quantum=1ms"}));
    const std::uint64_t dram = p.config().map.dram_high.base;
    p.cpu.run([dram](host_cpu& cpu) {
        const unsigned char b[8] = {};
        for (int i = 0; i < 3; ++i) cpu.mem_write(dram + 64 * i, b, sizeof b);
    });
    sc_core::sc_start();
    // Three DRAM writes take far less than 1 ms of local time: no sync until the end.
    EXPECT_EQ(p.cpu.transactions(), 3u);
    EXPECT_EQ(p.cpu.waits(), 1u);
}

TEST(KernelWork, InterruptWaitsCount) {
    host_platform p(config_with({"sim.quantum=0ns"}));
    bool fired = true;
    p.cpu.run([&p, &fired](host_cpu& cpu) {
        fired = cpu.wait_for(p.interrupts.event(0x41), 100 * ticks_per_ns);
    });
    sc_core::sc_start();
    EXPECT_FALSE(fired);  // nothing sends the vector: the wait times out
    // wait_for syncs (1) and waits (1); the program's end syncs (1).
    EXPECT_EQ(p.cpu.waits(), 3u);
    EXPECT_EQ(p.cpu.transactions(), 0u);
}

TEST(KernelWork, RunCountsRootComplexTransactionsAndDeltaCycles) {
    host_platform p(config_with({"sim.quantum=0ns"}));
    const std::uint64_t dram = p.config().map.dram_high.base;
    p.cpu.run([dram](host_cpu& cpu) {
        const unsigned char b[8] = {};
        for (int i = 0; i < 3; ++i) cpu.mem_write(dram + 64 * i, b, sizeof b);
        for (int i = 0; i < 2; ++i) cpu.config_read(pcie::routing_id{0, 0, 0}, 0, 4);
    });
    sc_core::sc_start();
    ASSERT_TRUE(p.cpu.finished());
    // The two config reads of root port 00:00.0 pass the root complex's counters; the three
    // DRAM writes do not.
    EXPECT_EQ(run_kernel_work(p).calls, 2u);
    // Delta cycles: the initialization one, then one per CPU sync (quantum 0: after each of the
    // 5 accesses and at the program's end, 6), less the last: the program's end calls sc_stop()
    // in the cycle of the last sync, and SystemC 2.3 does not count the cycle it stops in
    // (a thread making 10 timed waits and then sc_stop() gives sc_delta_count() = 1 + 10 - 1).
    // The endpoint's engine waits for a start in the initialization cycle and never again.
    EXPECT_EQ(p.cpu.waits(), 6u);
    EXPECT_EQ(run_kernel_work(p).waits, 6u);
    EXPECT_EQ(run_kernel_work(p, 2).waits, 4u);    // less a helper's own cycles
    EXPECT_EQ(run_kernel_work(p, 100).waits, 0u);  // never below zero
}

// A one-point dmabench: the endpoint's counters against the root complex's own.
void tiny_bench(const std::string& op, std::uint64_t expect_requests) {
    core::param_registry reg;
    declare_platform_params(reg);
    core::param_tree tree(reg);
    tree.set("sim.quantum=0ns");
    tree.set("dmabench.ops=" + op);
    tree.set("dmabench.patterns=seq");
    tree.set("dmabench.sizes=64");
    tree.set("dmabench.windows=8KiB");
    tree.set("dmabench.count=3");
    tree.set("dmabench.outstanding=2");
    platform_config c = make_platform_config(tree);
    c.device = platform_device::dma_bench;
    host_platform p(c);
    dmabench_result result;
    install_dmabench(p, make_dmabench_config(tree), result);
    sc_core::sc_start();
    ASSERT_TRUE(p.cpu.finished()) << p.cpu.failure();
    const auto& rc = p.rc.stats();
    EXPECT_EQ(p.endpoint->requests_sent(), expect_requests);
    EXPECT_EQ(p.endpoint->requests_sent(), rc.dma_reads.value() + rc.dma_writes.value());
    EXPECT_EQ(p.endpoint->msix_sent(), 2u);  // one per pass: latency and bandwidth
    EXPECT_EQ(rc.interrupt_messages.value(), 2u);
    // Per pass: the wait for the start, a sync after each of the 3 transfers (quantum 0) and
    // one at the end; then the engine waits for a third start that never comes: 2·5 + 1.
    EXPECT_EQ(p.endpoint->waits(), 11u);
    const kernel_work w = kernel_work_of(p);
    EXPECT_EQ(w.calls, p.cpu.transactions() + expect_requests + 2);
    EXPECT_EQ(w.waits, p.cpu.waits() + 11);
}

TEST(KernelWork, EndpointCountsReadTlpsAndMsix) {
    // 64 B reads fit one TLP: 3 in the latency pass, 3 in the bandwidth pass.
    tiny_bench("read", 6);
}

TEST(KernelWork, EndpointCountsWriteLatencyReads) {
    // Latency pass: each write is followed by a 64 B read (2 TLPs × 3); bandwidth pass: 3 writes.
    tiny_bench("write", 9);
}

}  // namespace
}  // namespace iovsim::platform

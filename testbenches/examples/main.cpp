// A user's own testbench on the installed iovsim library: builds the host platform from a
// parameter tree with the builder API, runs the DMA bench for 64 B reads, prints the enumerated
// PCIe functions and the measured latency, and adds a statistic of its own to stats.json.
//
//   dma_latency [key=value]...      e.g. dma_latency pcie.lanes=4 dmabench.rx_latency=100ns
#include <fmt/format.h>

#include <cstdlib>
#include <exception>
#include <iostream>
#include <systemc>

#include "models/core/errors.h"
#include "models/core/params.h"
#include "models/core/stats.h"
#include "platform/dmabench.h"
#include "platform/host_platform.h"
#include "platform/platform_params.h"

using namespace iovsim;

int sc_main(int argc, char* argv[]) {
    // 1. Parameters: every iovsim key with its default, then ours, then the command line's.
    core::param_registry reg;
    platform::declare_platform_params(reg);
    core::param_tree tree(reg);
    for (const char* kv : {"pcie.device=dmabench", "dmabench.ops=read", "dmabench.patterns=seq",
                           "dmabench.sizes=64", "dmabench.windows=4KiB", "dmabench.count=200"})
        tree.set(kv);
    platform::platform_config config;
    platform::dmabench_config bench;
    try {
        for (int i = 1; i < argc; ++i) tree.set(argv[i]);
        config = platform::make_platform_config(tree);  // the models' parameter structs
        bench = platform::make_dmabench_config(tree);
    } catch (const core::config_error& e) {  // names the key, as `iovsim` does
        std::cerr << "dma_latency: " << e.what() << '\n';
        return 2;
    }

    // 2. Build the platform (modules constructed and bound) and give its CPU a program: the DMA
    // bench, which enumerates PCIe and then drives the bench endpoint through its registers.
    platform::host_platform p(config);
    platform::dmabench_result result;
    platform::install_dmabench(p, bench, result);

    // 3. Statistics: the platform's own, and one of ours, computed when stats.json is written.
    core::stats_registry stats;
    p.register_stats(stats);
    stats.add_formula("example.dma_reads_per_transfer", "TLPs",
                      "memory read requests the root complex saw per bench transfer", [&] {
                          return static_cast<double>(p.rc.stats().dma_reads.value()) /
                                 (2.0 * bench.count);  // two passes: latency, bandwidth
                      });

    sc_core::sc_start();  // runs until the CPU's program returns
    if (!p.cpu.failure().empty()) {
        std::cerr << "dma_latency: " << p.cpu.failure() << '\n';
        return 1;
    }

    for (const auto& f : result.functions)
        std::cout << fmt::format("function {} {:04x}:{:04x} class {:06x}\n", pcie::to_string(f.id),
                                 f.vendor_id, f.device_id, f.class_code);
    const platform::dmabench_point& pt = result.points.at(0);
    std::cout << fmt::format("read {} B: latency p50 {:.3f} ns, {:.3f} Gbit/s\n", pt.size,
                             pt.latency_ns_p50, pt.bandwidth_gbps);
    stats.write_json("stats.json");
    std::cout << "wrote stats.json\n";
    return 0;
}

// The DMA bench: pcie-bench's experiments in simulation, in one process (DESIGN.md §8).
//
// The host CPU enumerates the platform, points the bench endpoint's MSI-X vector at itself,
// and for every (op, pattern, size, window) point programs the endpoint through its registers
// twice: a latency pass (one transfer in flight; reads are round trips, writes are a write and
// a 64 B read of the same address) and a bandwidth pass (dmabench.outstanding transfers in
// flight). Each pass ends with the endpoint's MSI-X message. The buffer sits above 4 GiB; with
// dmabench.warm the CPU writes the window (at most mem.llc.size of it) before each point so it
// starts in the LLC.
//
// With iommu.enabled the host driver first enables translation (through the IOMMU's registers,
// from the CPU's program), then gives the endpoint a domain of its own with the buffer mapped
// once at IOVA bench_iova with pages of iommu.page_size (whatever iommu.host_mode says), and the
// endpoint is programmed with IOVAs. Each point starts with the domain's IOTLB entries
// invalidated (a domain-selective invalidation by the driver), and reports the IOTLB hits and
// misses of its two passes. With dmabench.iommu_sweep the points gain 64 B and 512 B random
// reads and writes over windows of 4 KiB to 64 MiB (powers of two), after the configured ones.
//
// With dmabench.ats as well (the endpoint then has the ATS capability and an ATC), the CPU sets
// ATS Control.Enable (STU 0: 4 KiB) in the endpoint's config space, the driver attaches it with
// a device-TLB context entry (TT = 01b) and the IOMMU learns where to send its Invalidate
// Requests. The per-point domain invalidation then also empties the endpoint's ATC (a Device-TLB
// invalidation of every address), so every point starts cold in the ATC as in the IOTLB. The
// IOTLB columns of the CSV stay the IOMMU's: with ATS they count the Translation Requests'
// lookups; the point's ATC hits and misses are kept in dmabench_point (atc_hits, atc_misses)
// and the run's totals go to stats.json (dma_endpoint::register_stats).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "models/core/params.h"
#include "platform/host_platform.h"

namespace iovsim::platform {

struct dmabench_config {
    std::vector<std::string> ops;
    std::vector<std::string> patterns;
    std::vector<std::uint64_t> sizes;
    std::vector<std::uint64_t> windows;
    std::uint32_t outstanding = 64;
    std::uint32_t count = 2000;
    bool warm = true;
    bool iommu_sweep = true;
    std::uint64_t seed = 1;
};

// Where the bench's buffer appears to the endpoint with the IOMMU on (1 GiB aligned, so every
// page size maps it).
inline constexpr std::uint64_t bench_iova = 0x4000'0000;

// Reads dmabench.* (and sim.seed). Throws core::config_error, naming both keys, if a window is
// smaller than a transfer size.
dmabench_config make_dmabench_config(const core::param_tree& tree);

// How long (simulated) the CPU waits for a pass of `count` transfers to signal completion
// before it gives up on the endpoint: count x 1 ms + 1 s. A transfer takes microseconds even on
// a Gen1 x1 link with IOMMU misses, so only a device that never signals reaches it.
inline constexpr tick_t pass_timeout_per_transfer = ticks_per_ms;
inline constexpr tick_t pass_timeout_base = ticks_per_s;
tick_t dmabench_pass_timeout(std::uint32_t count);

struct dmabench_point {
    std::string op;
    std::string pattern;
    std::uint64_t size = 0;
    std::uint64_t window = 0;
    std::uint64_t page_size = 4096;
    bool iommu = false;
    double latency_ns_p50 = 0;
    double latency_ns_p99 = 0;
    double bandwidth_gbps = 0;
    std::uint64_t iotlb_hits = 0;
    std::uint64_t iotlb_misses = 0;
    bool ats = false;
    std::uint64_t atc_hits = 0;
    std::uint64_t atc_misses = 0;
};

struct dmabench_result {
    std::vector<pcie::enumerated_function> functions;
    std::vector<dmabench_point> points;
};

// Installs the bench as the CPU's program. `out` is filled while the simulation runs. The
// platform must carry the bench endpoint (platform_config::device = dma_bench); throws
// std::invalid_argument otherwise.
void install_dmabench(host_platform& p, const dmabench_config& c, dmabench_result& out);

std::string dmabench_csv(const std::vector<dmabench_point>& points);
std::string dmabench_table(const std::vector<dmabench_point>& points);

}  // namespace iovsim::platform

#include "platform/dmabench.h"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

#include "models/core/errors.h"
#include "models/core/stats.h"
#include "models/pcie/capabilities.h"

namespace iovsim::platform {

namespace {

constexpr std::uint8_t bench_vector = 0x41;

struct bench_device {
    pcie::routing_id id;
    std::uint64_t bar0 = 0;
};

bench_device find_device(host_platform& p, const std::vector<pcie::enumerated_function>& found) {
    const pcie::dma_endpoint_params& ep = p.config().endpoint;
    for (const auto& f : found) {
        if (f.vendor_id == ep.vendor_id && f.device_id == ep.device_id) {
            for (const auto& b : f.bars)
                if (b.index == 0) return bench_device{f.id, b.address};
        }
    }
    throw std::runtime_error("dmabench: enumeration found no DMA bench endpoint with a BAR0");
}

// Points the endpoint's MSI-X vector 0 at APIC 0, vector `bench_vector`, and unmasks it.
void program_msix(host_platform& p, const bench_device& dev) {
    host_cpu& cpu = p.cpu;
    const std::uint16_t cap = pcie::enumerator::find_capability(cpu, dev.id, pcie::cap_id::msix);
    if (cap == 0) throw std::runtime_error("dmabench: the endpoint has no MSI-X capability");
    const std::uint32_t table = cpu.config_read(dev.id, cap + pcie::msix_reg::table_offset_bir, 4);
    const std::uint64_t entry = dev.bar0 + (table & ~7u);
    cpu.mmio_write32(entry + 0, 0xfee00000);  // Message Address: destination APIC ID 0
    cpu.mmio_write32(entry + 4, 0);
    cpu.mmio_write32(entry + 8, bench_vector);  // Message Data: fixed delivery, the vector
    cpu.mmio_write32(entry + 12, 0);            // Vector Control: unmasked
}

void run_pass(host_platform& p, const bench_device& dev, std::uint32_t control,
              std::uint32_t count) {
    host_cpu& cpu = p.cpu;
    cpu.mmio_write32(dev.bar0 + pcie::dma_reg::control, control | pcie::dma_reg::control_start);
    const tick_t timeout = dmabench_pass_timeout(count);
    if (!cpu.wait_for(p.interrupts.event(bench_vector), timeout)) {
        throw std::runtime_error(
            fmt::format("dmabench: the endpoint never signalled completion (no MSI-X within {} "
                        "ms of simulated time for {} transfers)",
                        timeout / ticks_per_ms, count));
    }
    const std::uint32_t status = cpu.mmio_read32(dev.bar0 + pcie::dma_reg::status);
    cpu.mmio_write32(dev.bar0 + pcie::dma_reg::status, status);  // clear done/error (RW1C)
}

}  // namespace

tick_t dmabench_pass_timeout(std::uint32_t count) {
    return count * pass_timeout_per_transfer + pass_timeout_base;
}

dmabench_config make_dmabench_config(const core::param_tree& tree) {
    dmabench_config c;
    c.ops = tree.get_string_list("dmabench.ops");
    c.patterns = tree.get_string_list("dmabench.patterns");
    c.sizes = tree.get_bytes_list("dmabench.sizes");
    c.windows = tree.get_bytes_list("dmabench.windows");
    c.outstanding = static_cast<std::uint32_t>(tree.get_int("dmabench.outstanding"));
    c.count = static_cast<std::uint32_t>(tree.get_int("dmabench.count"));
    c.warm = tree.get_bool("dmabench.warm");
    c.iommu_sweep = tree.get_bool("dmabench.iommu_sweep");
    c.seed = static_cast<std::uint64_t>(tree.get_int("sim.seed"));
    // The endpoint fits each transfer in its window (slots = window / size); a window smaller
    // than a transfer would silently be widened to it.
    for (const std::uint64_t window : c.windows) {
        for (const std::uint64_t size : c.sizes) {
            if (window < size) {
                throw core::config_error(fmt::format(
                    "dmabench.windows entry {} B is smaller than dmabench.sizes entry {} B: each "
                    "window must hold a whole transfer",
                    window, size));
            }
        }
    }
    return c;
}

namespace {

struct point_spec {
    std::string op;
    std::string pattern;
    std::uint64_t size;
    std::uint64_t window;
};

std::vector<point_spec> point_specs(const dmabench_config& c, bool iommu) {
    std::vector<point_spec> v;
    for (const std::string& op : c.ops)
        for (const std::string& pattern : c.patterns)
            for (const std::uint64_t window : c.windows)
                for (const std::uint64_t size : c.sizes) v.push_back({op, pattern, size, window});
    if (iommu && c.iommu_sweep) {
        for (const char* op : {"read", "write"})
            for (std::uint64_t window = 4096; window <= (64ull << 20); window *= 2)
                for (const std::uint64_t size : {64, 512}) v.push_back({op, "rand", size, window});
    }
    return v;
}

}  // namespace

void install_dmabench(host_platform& p, const dmabench_config& c, dmabench_result& out) {
    if (!p.endpoint) {
        throw std::invalid_argument(
            "dmabench: the platform has no DMA bench endpoint (build it with "
            "platform_device::dma_bench)");
    }
    p.cpu.run([&p, c, &out](host_cpu& cpu) {
        out.functions = p.enumerate();
        const bench_device dev = find_device(p, out.functions);
        program_msix(p, dev);
        const std::uint64_t buffer = p.config().map.dram_high.base;  // the first byte above 4 GiB
        const std::vector<point_spec> specs = point_specs(c, p.iommu != nullptr);
        std::uint64_t device_buffer = buffer;
        std::uint16_t did = 0;
        if (p.iommu) {
            iommu::driver& drv = *p.iommu_driver;
            drv.init();
            did = drv.create_domain();
            std::uint64_t span = 0;
            for (const auto& s : specs) span = std::max(span, s.window);
            drv.map_pages(did, bench_iova, buffer, span, p.config().iommu_page_size,
                          iommu::perm_rw);
            const bool ats = p.config().endpoint.ats;
            if (ats) {
                // As pci_enable_ats(): STU 0 (4 KiB), then Enable.
                const std::uint16_t cap =
                    pcie::enumerator::find_ext_capability(cpu, dev.id, pcie::ext_cap_id::ats);
                if (cap == 0)
                    throw std::runtime_error("dmabench: the endpoint has no ATS capability");
                cpu.config_write(dev.id, cap + pcie::ats_reg::control, 2, pcie::ats_reg::enable);
                p.iommu->attach_ats_device(dev.id.value(), *p.endpoint);
            }
            drv.attach(dev.id.value(), did, ats);
            device_buffer = bench_iova;
        }
        std::vector<unsigned char> fill(4096);
        for (std::size_t i = 0; i < fill.size(); ++i) fill[i] = static_cast<unsigned char>(i);
        const std::uint64_t warm_limit = p.config().memory.llc_size;
        std::uint32_t point_index = 0;
        for (const point_spec& s : specs) {
            if (c.warm) {
                const std::uint64_t warm = std::min(s.window, warm_limit);
                for (std::uint64_t off = 0; off < warm; off += fill.size()) {
                    cpu.mem_write(buffer + off, fill.data(),
                                  static_cast<std::uint32_t>(
                                      std::min<std::uint64_t>(fill.size(), warm - off)));
                }
            }
            if (p.iommu) p.iommu_driver->invalidate_iotlb_domain(did);
            const auto reg = [&](std::uint32_t off, std::uint32_t v) {
                cpu.mmio_write32(dev.bar0 + off, v);
            };
            reg(pcie::dma_reg::buf_addr_lo, static_cast<std::uint32_t>(device_buffer));
            reg(pcie::dma_reg::buf_addr_hi, static_cast<std::uint32_t>(device_buffer >> 32));
            reg(pcie::dma_reg::window, static_cast<std::uint32_t>(s.window));
            reg(pcie::dma_reg::size, static_cast<std::uint32_t>(s.size));
            reg(pcie::dma_reg::count, c.count);
            reg(pcie::dma_reg::seed, static_cast<std::uint32_t>(c.seed + point_index++));
            reg(pcie::dma_reg::outstanding, c.outstanding);
            std::uint32_t control = 0;
            if (s.op == "write") control |= pcie::dma_reg::control_write;
            if (s.pattern == "rand") control |= pcie::dma_reg::control_random;

            dmabench_point pt;
            pt.op = s.op;
            pt.pattern = s.pattern;
            pt.size = s.size;
            pt.window = s.window;
            std::uint64_t hits0 = 0, misses0 = 0;
            const bool ats = p.iommu && p.endpoint->ats_active();
            const std::uint64_t atc_hits0 = p.endpoint->atc().stats().hits;
            const std::uint64_t atc_misses0 = p.endpoint->atc().stats().misses;
            if (p.iommu) {
                pt.iommu = true;
                pt.page_size = p.config().iommu_page_size;
                hits0 = p.iommu->remapper().stats().iotlb_hits;
                misses0 = p.iommu->remapper().stats().iotlb_misses;
            }
            run_pass(p, dev, control, c.count);
            core::histogram lat;
            for (const tick_t t : p.endpoint->last_run().latencies) lat.sample(ticks_to_ns(t));
            pt.latency_ns_p50 = lat.percentile(0.5);
            pt.latency_ns_p99 = lat.percentile(0.99);

            run_pass(p, dev, control | pcie::dma_reg::control_bandwidth, c.count);
            const pcie::dma_run_result& r = p.endpoint->last_run();
            const tick_t span = r.last_done - r.first_issue;
            // bits per picosecond × 1000 = Gbit/s
            pt.bandwidth_gbps = span ? 8.0 * r.bytes / span * 1000.0 : 0.0;
            if (p.iommu) {
                pt.iotlb_hits = p.iommu->remapper().stats().iotlb_hits - hits0;
                pt.iotlb_misses = p.iommu->remapper().stats().iotlb_misses - misses0;
            }
            if (ats) {
                pt.ats = true;
                pt.atc_hits = p.endpoint->atc().stats().hits - atc_hits0;
                pt.atc_misses = p.endpoint->atc().stats().misses - atc_misses0;
            }
            out.points.push_back(pt);
        }
    });
}

std::string dmabench_csv(const std::vector<dmabench_point>& points) {
    std::string s =
        "op,pattern,size,window,page_size,iommu,latency_ns_p50,latency_ns_p99,bandwidth_gbps,"
        "iotlb_hits,iotlb_misses\n";
    for (const auto& p : points) {
        s += fmt::format("{},{},{},{},{},{},{:.3f},{:.3f},{:.3f},{},{}\n", p.op, p.pattern, p.size,
                         p.window, p.page_size, p.iommu ? "on" : "off", p.latency_ns_p50,
                         p.latency_ns_p99, p.bandwidth_gbps, p.iotlb_hits, p.iotlb_misses);
    }
    return s;
}

std::string dmabench_table(const std::vector<dmabench_point>& points) {
    std::string s =
        fmt::format("{:<6} {:<7} {:>6} {:>10} {:>6} {:>10} {:>10} {:>9} {:>8} {:>10} {:>10}\n",
                    "op", "pattern", "size", "window", "iommu", "lat p50", "lat p99", "Gbit/s",
                    "page", "IOTLB hit", "IOTLB miss");
    for (const auto& p : points) {
        s += fmt::format(
            "{:<6} {:<7} {:>6} {:>10} {:>6} {:>8.1f}ns {:>8.1f}ns {:>9.2f} {:>8} {:>10} {:>10}\n",
            p.op, p.pattern, p.size, p.window, p.iommu ? "on" : "off", p.latency_ns_p50,
            p.latency_ns_p99, p.bandwidth_gbps, p.iommu ? std::to_string(p.page_size) : "-",
            p.iotlb_hits, p.iotlb_misses);
    }
    return s;
}

}  // namespace iovsim::platform

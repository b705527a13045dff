// A small host for the IOMMU core tests: 8 GiB of sparse memory timed by memory_timing's
// defaults (an LLC miss costs dram_latency = 80 ns, a hit llc_hit_latency = 20 ns), table pages
// from a 64 MiB pool at 1 GiB, a fault log and a DMA remapper pointed at the builder's root table.
#pragma once

#include <cstdint>
#include <memory>

#include "iommu/dma_remapper.h"
#include "iommu/table_builder.h"
#include "iommu/table_memory.h"
#include "models/mem/memory_timing.h"
#include "models/mem/sparse_store.h"

namespace iovsim::iommu::testing {

constexpr tick_t ns = ticks_per_ns;
constexpr std::uint64_t memory_size = 8ULL << 30;
constexpr std::uint64_t pool_base = 1ULL << 30;
constexpr std::uint64_t pool_size = 64ULL << 20;

struct host {
    explicit host(const dma_remapper_params& p = {}, std::uint32_t fault_records = 8)
        : store(memory_size),
          memory(store, timing),
          faults(fault_records),
          builder(store, pool_base, pool_size),
          remapper(std::make_unique<dma_remapper>(memory, faults, p)) {
        remapper->set_root_table(builder.rtaddr());
    }

    translation read(std::uint16_t sid, std::uint64_t iova, tick_t at = 0) {
        return remapper->translate(sid, iova, false, at);
    }
    translation write(std::uint16_t sid, std::uint64_t iova, tick_t at = 0) {
        return remapper->translate(sid, iova, true, at);
    }

    mem::sparse_store store;
    mem::memory_timing timing;
    sparse_table_memory memory;
    fault_log faults;
    table_builder builder;
    std::unique_ptr<dma_remapper> remapper;
};

}  // namespace iovsim::iommu::testing

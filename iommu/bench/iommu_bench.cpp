// Host-side speed of the IOMMU translation core: translations per second on the IOTLB hit path
// and on the walk path (every translation misses the IOTLB and walks: from the PDE cache, one
// read, or with one-entry paging-structure caches and a scattered stride, two reads, PDE and
// PTE, the PDPE cache still holding the one 1 GiB region in use).
#include <benchmark/benchmark.h>

#include <cstdint>

#include "iommu/dma_remapper.h"
#include "iommu/table_builder.h"
#include "iommu/table_memory.h"
#include "models/mem/memory_timing.h"
#include "models/mem/sparse_store.h"

namespace {

using namespace iovsim;
using namespace iovsim::iommu;

constexpr std::uint16_t sid = 0x0100;

struct bench_host {
    explicit bench_host(const dma_remapper_params& p, std::uint64_t pages)
        : store(8ULL << 30),
          memory(store, timing),
          builder(store, 1ULL << 30, 64ULL << 20),
          remapper(memory, faults, p) {
        remapper.set_root_table(builder.rtaddr());
        const std::uint64_t top = builder.new_domain();
        builder.set_context(sid, top, 1);
        builder.map(top, 4, 0, 4ULL << 30, pages * page_4k, perm_rw);
    }
    mem::sparse_store store;
    mem::memory_timing timing;
    sparse_table_memory memory;
    fault_log faults;
    table_builder builder;
    dma_remapper remapper;
};

// 32 pages, all within the 64-entry IOTLB: every translation after the first pass hits.
void iotlb_hit(benchmark::State& state) {
    bench_host h({}, 32);
    tick_t now = 0;
    std::uint64_t i = 0;
    for (auto _ : state) {
        benchmark::DoNotOptimize(h.remapper.translate(sid, (i++ % 32) * page_4k, false, now));
        now += 1000;
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(iotlb_hit);

// 4096 pages cycled through a 64-entry IOTLB: every translation misses and walks.
void walk(benchmark::State& state) {
    dma_remapper_params p;
    if (state.range(0) == 0) {
        // One-entry paging-structure caches; a 521-page stride changes the 2 MiB region on
        // every step, so the PDE cache misses and the PDE and PTE are read.
        p.pml4e_cache = p.pdpe_cache = p.pde_cache = {1, 1, replacement::lru};
    }
    bench_host h(p, 4096);
    tick_t now = 0;
    std::uint64_t i = 0;
    for (auto _ : state) {
        const std::uint64_t page = state.range(0) == 0 ? (i * 521) % 4096 : i % 4096;
        benchmark::DoNotOptimize(h.remapper.translate(sid, page * page_4k, false, now));
        ++i;
        now += 1'000'000;
    }
    state.SetItemsProcessed(state.iterations());
    state.counters["reads_per_walk"] = static_cast<double>(h.remapper.stats().walk_memory_reads) /
                                       static_cast<double>(h.remapper.stats().walks);
}
BENCHMARK(walk)->Arg(0)->Arg(1);

}  // namespace

BENCHMARK_MAIN();

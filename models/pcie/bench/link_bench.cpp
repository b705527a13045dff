// Cost of the link core per transfer: splitting a DMA write into MWr TLPs and serializing them,
// and a read (MRd up, CplDs down), for 64 B and 4096 B transfers above 4 GiB.
#include <benchmark/benchmark.h>

#include <cstdint>

#include "models/pcie/link_core.h"

namespace {

using iovsim::tick_t;
using namespace iovsim::pcie;

constexpr std::uint64_t base = std::uint64_t{1} << 32;

void bm_write(benchmark::State& state) {
    const auto len = static_cast<std::uint64_t>(state.range(0));
    link l;
    tick_t t = 0;
    std::uint64_t i = 0;
    for (auto _ : state) {
        t = l.write(direction::upstream, t, base + (i++ % 1024) * 4096, len);
        benchmark::DoNotOptimize(t);
    }
    state.SetItemsProcessed(state.iterations());
    state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(len));
}
BENCHMARK(bm_write)->Arg(64)->Arg(4096);

void bm_read(benchmark::State& state) {
    const auto len = static_cast<std::uint64_t>(state.range(0));
    link l;
    tick_t t = 0;
    std::uint64_t i = 0;
    for (auto _ : state) {
        const std::uint64_t addr = base + (i++ % 1024) * 4096;
        for (const chunk& req : split_read(addr, len, l.params().mrrs)) {
            const tick_t at_completer = l.send_up(t, mrd_wire_bytes(req.addr, req.len));
            t = l.complete(direction::downstream, at_completer, req.addr, req.len);
        }
        benchmark::DoNotOptimize(t);
    }
    state.SetItemsProcessed(state.iterations());
    state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(len));
}
BENCHMARK(bm_read)->Arg(64)->Arg(4096);

void bm_split_completions(benchmark::State& state) {
    const auto len = static_cast<std::uint32_t>(state.range(0));
    for (auto _ : state) {
        benchmark::DoNotOptimize(split_completions(base + 0x10, len - 0x10, 256, 64, false));
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(bm_split_completions)->Arg(64)->Arg(4096);

}  // namespace

BENCHMARK_MAIN();

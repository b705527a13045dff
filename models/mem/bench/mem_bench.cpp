// Host-side speed of the memory models: timing-core accesses per second on the LLC hit and miss
// paths, and sparse-store read/write throughput.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <vector>

#include "models/mem/memory_timing.h"
#include "models/mem/sparse_store.h"

namespace {

using iovsim::tick_t;
using iovsim::mem::memory_timing;
using iovsim::mem::requester;
using iovsim::mem::sparse_store;

// 64 B device reads of a warm 1 MiB buffer: every access hits.
void timing_hit(benchmark::State& state) {
    memory_timing t;
    constexpr std::uint64_t buffer = 1 << 20;
    t.warm(0, buffer);
    std::uint64_t addr = 0;
    tick_t now = 0;
    for (auto _ : state) {
        benchmark::DoNotOptimize(t.read(now, addr, 64, requester::device));
        addr = (addr + 64) % buffer;
        now += 10'000;
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(timing_hit);

// 64 B device reads streaming through fresh addresses: every access misses to DRAM.
void timing_miss(benchmark::State& state) {
    memory_timing t;
    std::uint64_t addr = 0;
    tick_t now = 0;
    for (auto _ : state) {
        benchmark::DoNotOptimize(t.read(now, addr, 64, requester::device));
        addr += 64;
        now += 10'000;
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(timing_miss);

// DDIO device writes of 1500 B frames into a 64 MiB ring (twice the LLC): allocation and
// write-back of dirty victims.
void timing_ddio_write(benchmark::State& state) {
    memory_timing t;
    constexpr std::uint64_t ring = 64ULL << 20;
    std::uint64_t addr = 0;
    tick_t now = 0;
    for (auto _ : state) {
        benchmark::DoNotOptimize(t.write(now, addr, 1500, requester::device));
        addr = (addr + 2048) % ring;
        now += 100'000;
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(timing_ddio_write);

// Sparse store copies of state.range(0) bytes over a 16 MiB window of a 64 GiB store.
void store_write(benchmark::State& state) {
    sparse_store s;
    const auto len = static_cast<std::uint64_t>(state.range(0));
    std::vector<std::uint8_t> buf(len, 0x5a);
    constexpr std::uint64_t window = 16 << 20;
    std::uint64_t addr = 0;
    for (auto _ : state) {
        s.write((8ULL << 30) + addr, buf.data(), len);
        addr = (addr + len) % window;
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * len));
}
BENCHMARK(store_write)->Arg(64)->Arg(1500)->Arg(4096);

void store_read(benchmark::State& state) {
    sparse_store s;
    const auto len = static_cast<std::uint64_t>(state.range(0));
    constexpr std::uint64_t window = 16 << 20;
    {
        std::vector<std::uint8_t> fill(window, 0xa5);
        s.write(8ULL << 30, fill.data(), window);
    }
    std::vector<std::uint8_t> buf(len);
    std::uint64_t addr = 0;
    for (auto _ : state) {
        s.read((8ULL << 30) + addr, buf.data(), len);
        benchmark::DoNotOptimize(buf.data());
        addr = (addr + len) % window;
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * len));
}
BENCHMARK(store_read)->Arg(64)->Arg(1500)->Arg(4096);

}  // namespace

BENCHMARK_MAIN();

// Forwarding-table lookups per second against the number of VFs: should be flat (hash table).
#include <benchmark/benchmark.h>

#include <vector>

#include "sriov-nic/l2_switch.h"

namespace {

using iovsim::net::mac_address;
using iovsim::nic::l2_switch;
using iovsim::nic::port_id;

mac_address vf_mac(unsigned n) { return mac_address::from_u64(0x020000000100ull + n); }

void BM_UnicastVfToVf(benchmark::State& state) {
    const auto vfs = static_cast<std::uint16_t>(state.range(0));
    l2_switch sw(vfs);
    for (std::uint16_t n = 0; n < vfs; ++n) sw.set_vf(n, vf_mac(n));
    std::vector<port_id> out;
    out.reserve(vfs + 2);
    unsigned i = 0;
    for (auto _ : state) {
        const unsigned src = i % vfs;
        const unsigned dst = (i * 7 + 1) % vfs;
        benchmark::DoNotOptimize(sw.forward(port_id::vf_port(static_cast<std::uint16_t>(src)),
                                            vf_mac(dst), vf_mac(src), std::nullopt, out));
        ++i;
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_UnicastVfToVf)->Arg(1)->Arg(16)->Arg(256);

void BM_Lookup(benchmark::State& state) {
    const auto vfs = static_cast<std::uint16_t>(state.range(0));
    l2_switch sw(vfs);
    for (std::uint16_t n = 0; n < vfs; ++n) sw.set_vf(n, vf_mac(n));
    unsigned i = 0;
    for (auto _ : state) {
        benchmark::DoNotOptimize(sw.lookup(vf_mac(i % vfs), 0));
        ++i;
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Lookup)->Arg(1)->Arg(16)->Arg(256);

}  // namespace

BENCHMARK_MAIN();

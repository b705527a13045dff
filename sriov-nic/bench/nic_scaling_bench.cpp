// Simulation cost per frame of the SystemC NIC with 1, 16 and 256 VFs present: it must stay flat
// (the switch, routing and BAR decode are constant time and the engines serve functions from
// work queues, never by scanning them). Every function has its rings set up and its queues
// enabled, but the traffic is the same at every N: each iteration sends 8 frames each way
// between a fixed pair of ports, the PF and VF0, through the VEB, rings the two doorbells and
// runs the kernel until it is idle; items_per_second is frames per wall second. (Sending from
// every port instead would make the per-iteration working set grow with N and measure that.)
#include <benchmark/benchmark.h>
#include <tlm_utils/simple_initiator_socket.h>
#include <tlm_utils/simple_target_socket.h>

#include <memory>
#include <systemc>
#include <vector>

#include "models/core/sc_glue.h"
#include "models/pcie/tlp.h"
#include "sriov-nic/nic.h"

namespace {

using namespace iovsim;
using namespace iovsim::nic;

constexpr std::uint64_t region_bytes = 0x10000;  // per function: rings and buffers
constexpr std::uint32_t ring_len = 512;
constexpr std::uint32_t frames_per_port = 8;  // per iteration: the same batch size at every N
constexpr std::uint32_t frame_bytes = 128;
constexpr unsigned traffic_ports = 2;  // the PF and VF0 exchange frames at every N

// Host memory of a few MiB answering every request after fixed delays; MSI writes ignored.
struct flat_memory : sc_core::sc_module {
    tlm_utils::simple_target_socket<flat_memory> socket{"socket"};
    std::vector<std::uint8_t> bytes;
    explicit flat_memory(const sc_core::sc_module_name& n, std::size_t size)
        : sc_module(n), bytes(size) {
        socket.register_b_transport(this, &flat_memory::b_transport);
    }
    void b_transport(tlm::tlm_generic_payload& t, sc_core::sc_time& delay) {
        const std::uint64_t a = t.get_address();
        const unsigned len = t.get_data_length();
        t.set_response_status(tlm::TLM_OK_RESPONSE);
        if (a >= 0xfee00000 && a < 0xfef00000) return;
        if (a + len > bytes.size()) {
            t.set_response_status(tlm::TLM_ADDRESS_ERROR_RESPONSE);
            return;
        }
        if (t.is_write())
            std::copy_n(t.get_data_ptr(), len, bytes.begin() + a);
        else
            std::copy_n(bytes.begin() + a, len, t.get_data_ptr());
        delay += sc_core::sc_time(t.is_write() ? 200 : 500, sc_core::SC_NS);
    }
};

struct null_wire : sc_core::sc_module, net::frame_if {
    sc_core::sc_export<net::frame_if> in{"in"};
    sc_core::sc_port<net::frame_if> out{"out"};
    explicit null_wire(const sc_core::sc_module_name& n) : sc_module(n) { in.bind(*this); }
    void deliver(const std::vector<std::uint8_t>&, tick_t) override {}
};

struct world : sc_core::sc_module {
    tlm_utils::simple_initiator_socket<world> out{"out"};
    unsigned ports;
    std::unique_ptr<iovsim::nic::nic> dev;
    std::unique_ptr<flat_memory> mem;
    std::unique_ptr<null_wire> wire;
    std::vector<std::uint32_t> tail;

    world(const sc_core::sc_module_name& n, unsigned vfs) : sc_module(n), ports(vfs + 1) {
        nic_params p;
        p.pf_id = pcie::routing_id{1, 0, 0};
        dev = std::make_unique<iovsim::nic::nic>("nic", p);
        mem = std::make_unique<flat_memory>("mem", region_bytes * ports);
        wire = std::make_unique<null_wire>("wire");
        out.bind(dev->link_in);
        dev->link_out.bind(mem->socket);
        dev->wire_out.bind(wire->in);
        wire->out.bind(dev->wire_in);
        tail.assign(ports, 0);
        nic_functions& f = dev->functions();
        f.pf().assign_bar(0, 0x2'0000'0000);
        f.pf().assign_bar(3, 0x2'0200'0000);
        f.pf().write(pcie::cfg::command, 2,
                     pcie::cfg::command_memory_space | pcie::cfg::command_bus_master);
        if (vfs) f.set_num_vfs(vfs);
        f.sriov().assign_vf_bar(0, 0x2'1000'0000);
        f.sriov().assign_vf_bar(3, 0x2'4000'0000);
        for (unsigned fn = 0; fn < ports; ++fn) {
            if (fn > 0) f.vf(fn - 1).write(pcie::cfg::command, 2, pcie::cfg::command_bus_master);
            dev->set_mac(fn, net::mac_address::from_u64(0x020000000100ull + fn));
            const std::uint64_t base = region_bytes * fn;
            for (std::uint32_t i = 0; i < ring_len; ++i) {
                tx_descriptor t;
                t.buffer_address = base + 0x4000;  // every slot sends the same buffer
                t.length = frame_bytes - 4;
                t.cmd = tx_cmd::eop | tx_cmd::rs;
                const auto tb = t.encode();
                std::copy(tb.begin(), tb.end(), mem->bytes.begin() + base + i * 16);
                rx_descriptor r;
                r.buffer_address = base + 0x8000;  // every slot receives into the same buffer
                const auto rb = r.encode();
                std::copy(rb.begin(), rb.end(), mem->bytes.begin() + base + 0x2000 + i * 16);
            }
            // The frame: PF and VF0 to each other, every other port to the next (never sent).
            const unsigned to = fn < traffic_ports ? (fn + 1) % traffic_ports : (fn + 1) % ports;
            std::uint8_t* fr = mem->bytes.data() + base + 0x4000;
            const auto dst = net::mac_address::from_u64(0x020000000100ull + to).bytes();
            const auto src = net::mac_address::from_u64(0x020000000100ull + fn).bytes();
            std::copy(dst.begin(), dst.end(), fr);
            std::copy(src.begin(), src.end(), fr + 6);
            fr[12] = 0x88;
            fr[13] = 0xb5;
            reg_write(fn, nic_reg::tdbal, static_cast<std::uint32_t>(base));
            reg_write(fn, nic_reg::tdlen, ring_len);
            reg_write(fn, nic_reg::rdbal, static_cast<std::uint32_t>(base + 0x2000));
            reg_write(fn, nic_reg::rdlen, ring_len);
            reg_write(fn, nic_reg::rdt, ring_len - 1);
            reg_write(fn, nic_reg::ctrl, nic_reg::ctrl_bits::txen | nic_reg::ctrl_bits::rxen);
        }
    }
    std::uint64_t bar0(unsigned fn) const {
        return fn == 0 ? 0x2'0000'0000 : 0x2'1000'0000 + (fn - 1) * 128 * 1024ull;
    }
    void access(bool write, unsigned fn, std::uint32_t off, std::uint32_t& v) {
        tlm::tlm_generic_payload t;
        std::uint8_t b[4];
        for (unsigned i = 0; i < 4; ++i) b[i] = static_cast<std::uint8_t>(v >> (8 * i));
        set_request(t, write ? tlm::TLM_WRITE_COMMAND : tlm::TLM_READ_COMMAND, bar0(fn) + off, b,
                    4);
        sc_core::sc_time d = sc_core::SC_ZERO_TIME;
        out->b_transport(t, d);
        v = std::uint32_t{b[0]} | std::uint32_t{b[1]} << 8 | std::uint32_t{b[2]} << 16 |
            std::uint32_t{b[3]} << 24;
    }
    void reg_write(unsigned fn, std::uint32_t off, std::uint32_t v) { access(true, fn, off, v); }
    std::uint32_t reg(unsigned fn, std::uint32_t off) {
        std::uint32_t v = 0;
        access(false, fn, off, v);
        return v;
    }
    // Posts frames_per_port frames on the PF and on VF0 and rings their doorbells.
    void post() {
        for (unsigned fn = 0; fn < traffic_ports; ++fn) {
            const std::uint32_t rdh = reg(fn, nic_reg::rdh);
            reg_write(fn, nic_reg::rdt, (rdh + ring_len - 1) % ring_len);
            tail[fn] = (tail[fn] + frames_per_port) % ring_len;
            reg_write(fn, nic_reg::tdt, tail[fn]);
        }
    }
    std::uint64_t received() {
        std::uint64_t r = 0;
        for (unsigned fn = 0; fn < ports; ++fn) r += dev->stats(fn).rx_frames.value();
        return r;
    }
};

std::vector<std::unique_ptr<world>>& worlds() {
    static std::vector<std::unique_ptr<world>> w;
    if (w.empty()) {
        w.push_back(std::make_unique<world>("w1", 1));
        w.push_back(std::make_unique<world>("w16", 16));
        w.push_back(std::make_unique<world>("w256", 256));
    }
    return w;
}

void BM_NicFramesPerVfCount(benchmark::State& state) {
    auto& ws = worlds();
    world& w = *ws[state.range(0) == 1 ? 0 : state.range(0) == 16 ? 1 : 2];
    const std::uint64_t before = w.received();
    for (auto _ : state) {
        w.post();
        sc_core::sc_start();
    }
    const std::uint64_t got = w.received() - before;
    state.SetItemsProcessed(static_cast<std::int64_t>(got));
    state.counters["lost"] =
        static_cast<double>(state.iterations() * frames_per_port * traffic_ports) -
        static_cast<double>(got);
}
BENCHMARK(BM_NicFramesPerVfCount)->Arg(1)->Arg(16)->Arg(256)->Unit(benchmark::kMillisecond);

}  // namespace

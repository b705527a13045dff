// The root complex in a small platform: memory behind cpu_mem_socket and dma_socket, an
// interrupt recorder on irq_socket, a minimal endpoint with its own config space on each port,
// and a CPU thread that drives the scenario. Each TEST elaborates once and calls sc_start once
// (ctest runs each in its own process; run one at a time with --gtest_filter).
//
// Timing expectations are worked out by hand from the parameters: Gen3 x8 byte time, TLP sizes
// from the PCIe rules (8 B framing, 12 B or 16 B header, payload DWs), hop latency, the root
// complex's latencies and memory's LLC-hit or DRAM latency. ACK/UpdateFC DLLPs are switched off
// (ack_every = fc_every = 0) so that they never share a link direction with the TLPs timed here.
#include "models/pcie/root_complex.h"

#include <gtest/gtest.h>
#include <tlm_utils/simple_initiator_socket.h>
#include <tlm_utils/simple_target_socket.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <systemc>
#include <tlm>
#include <vector>

#include "models/core/sc_glue.h"
#include "models/mem/dram_map.h"
#include "models/mem/memory.h"
#include "models/pcie/capabilities.h"
#include "models/pcie/config_space.h"
#include "models/pcie/enumeration.h"
#include "models/pcie/tlp.h"

namespace iovsim::pcie {
namespace {

using sc_core::sc_time;
using sc_core::SC_ZERO_TIME;

constexpr std::uint64_t gib = std::uint64_t{1} << 30;
constexpr tick_t ns = ticks_per_ns;

// Gen3 x8: 8 bits × 130/128 / (8 GT/s × 8 lanes) = 1040/8192 ns = 126.953125 ps a byte, so
// `bytes` take bytes × 1 040 000 / 8192 ps, rounded up to whole picoseconds as the link does.
constexpr tick_t gen3x8_ticks(std::uint64_t bytes) { return (bytes * 1'040'000 + 8191) / 8192; }
static_assert(gen3x8_ticks(24) == 3047);   // 3046.875 ps
static_assert(gen3x8_ticks(84) == 10665);  // 10664.0625 ps

std::uint32_t get_le(const unsigned char* p, unsigned n) {
    std::uint32_t v = 0;
    for (unsigned i = 0; i < n; ++i) v |= std::uint32_t{p[i]} << (8 * i);
    return v;
}
void put_le(unsigned char* p, unsigned n, std::uint32_t v) {
    for (unsigned i = 0; i < n; ++i) p[i] = static_cast<unsigned char>(v >> (8 * i));
}

// --- the modules around the root complex ---

// The interrupt controller side: records every message.
struct irq_recorder : sc_core::sc_module {
    struct message {
        std::uint64_t address;
        std::uint32_t data;
        routing_id requester;
        tick_t at;  // kernel time plus the annotated delay on arrival
    };
    tlm_utils::simple_target_socket<irq_recorder> socket{"socket"};
    std::vector<message> messages;

    explicit irq_recorder(const sc_core::sc_module_name& n) : sc_module(n) {
        socket.register_b_transport(this, &irq_recorder::b_transport);
    }
    void b_transport(tlm::tlm_generic_payload& t, sc_time& delay) {
        tlp_extension* ext = nullptr;
        t.get_extension(ext);
        messages.push_back({t.get_address(), get_le(t.get_data_ptr(), t.get_data_length()),
                            ext ? ext->requester : routing_id{0xff, 0x1f, 7}, now_ticks(delay)});
        t.set_response_status(tlm::TLM_OK_RESPONSE);
    }
};

// A minimal PCIe function on a link: type-0 config space, BAR storage, a DMA initiator. It
// answers configuration requests for function 0 only (others: Unsupported Request) and memory
// requests its BARs decode, each after `latency`.
struct test_endpoint : sc_core::sc_module {
    struct request {
        tlp_type type;
        routing_id requester;
        routing_id target;
        std::uint64_t address;
        unsigned len;
        bool write;
    };
    tlm_utils::simple_target_socket<test_endpoint> target{"target"};
    tlm_utils::simple_initiator_socket<test_endpoint> dma{"dma"};
    config_space cs;
    std::array<std::vector<std::uint8_t>, 6> bars;
    tick_t latency = 10 * ns;
    routing_id id{1, 0, 0};
    std::vector<request> requests;

    test_endpoint(const sc_core::sc_module_name& n, const endpoint_params& p)
        : sc_module(n), cs(make_endpoint(p)) {
        for (int i = 0; i < 6; ++i) bars[i].resize(cs.bar_size(i));
        target.register_b_transport(this, &test_endpoint::b_transport);
    }

    void b_transport(tlm::tlm_generic_payload& t, sc_time& delay) {
        delay += to_sc_time(latency);
        tlp_extension* ext = nullptr;
        t.get_extension(ext);
        ASSERT_NE(ext, nullptr) << "a request reached the device without its TLP extension";
        const unsigned len = t.get_data_length();
        requests.push_back(
            {ext->type, ext->requester, ext->target, t.get_address(), len, t.is_write()});
        t.set_response_status(tlm::TLM_OK_RESPONSE);
        if (ext->type == tlp_type::config_type0) {
            const auto reg = static_cast<std::uint16_t>(t.get_address());
            if (ext->target.function != 0) {
                t.set_response_status(tlm::TLM_ADDRESS_ERROR_RESPONSE);
            } else if (t.is_read()) {
                put_le(t.get_data_ptr(), len, cs.read(reg, len));
            } else {
                cs.write(reg, len, get_le(t.get_data_ptr(), len));
            }
            return;
        }
        const auto hit = cs.decode(t.get_address(), len);
        if (!hit) {
            t.set_response_status(tlm::TLM_ADDRESS_ERROR_RESPONSE);
            return;
        }
        std::uint8_t* at = bars[hit->first].data() + hit->second;
        if (t.is_read()) {
            std::memcpy(t.get_data_ptr(), at, len);
        } else {
            std::memcpy(at, t.get_data_ptr(), len);
        }
    }

    // One upstream request TLP from this function; `delay` is its local time offset.
    tlm::tlm_response_status request_tlp(tlm::tlm_command cmd, std::uint64_t addr, void* data,
                                         unsigned len, sc_time& delay) {
        tlm::tlm_generic_payload t;
        tlp_extension ext;
        ext.requester = id;
        set_request(t, cmd, addr, static_cast<unsigned char*>(data), len);
        t.set_extension(&ext);
        dma->b_transport(t, delay);
        t.clear_extension(&ext);
        return t.get_response_status();
    }
};

// The CPU: runs the scenario in a thread; every access waits out its delay (quantum 0).
struct cpu_thread : sc_core::sc_module {
    tlm_utils::simple_initiator_socket<cpu_thread> socket{"socket"};
    std::function<void()> body;
    bool finished = false;

    SC_HAS_PROCESS(cpu_thread);
    explicit cpu_thread(const sc_core::sc_module_name& n) : sc_module(n) { SC_THREAD(run); }
    void run() {
        if (body) body();
        finished = true;
    }

    // One access; returns the delay it took (and waits it out).
    sc_time access(tlm::tlm_command cmd, std::uint64_t addr, unsigned char* data, unsigned len) {
        tlm::tlm_generic_payload t;
        set_request(t, cmd, addr, data, len);
        sc_time delay = SC_ZERO_TIME;
        socket->b_transport(t, delay);
        EXPECT_EQ(t.get_response_status(), tlm::TLM_OK_RESPONSE) << std::hex << addr;
        EXPECT_EQ(t.get_address(), addr) << "the CPU's payload must come back as it went";
        wait(delay);
        return delay;
    }
    std::uint32_t read(std::uint64_t addr, unsigned len = 4, sc_time* took = nullptr) {
        unsigned char buf[4] = {0, 0, 0, 0};
        const sc_time d = access(tlm::TLM_READ_COMMAND, addr, buf, len);
        if (took) *took = d;
        return get_le(buf, len);
    }
    sc_time write(std::uint64_t addr, std::uint32_t value, unsigned len = 4) {
        unsigned char buf[4];
        put_le(buf, len, value);
        return access(tlm::TLM_WRITE_COMMAND, addr, buf, len);
    }
};

struct bench_options {
    unsigned ports = 1;
    root_complex_params rc;
    mem::memory_timing_params mem;
    std::vector<endpoint_params> endpoints;  // one per port; default make_endpoint() otherwise
    // Every parameter the hand arithmetic below uses is set here, whatever the defaults become.
    bench_options() {
        rc.mmio_latency = 60 * ns;
        rc.upstream_latency = 120 * ns;
        rc.completion_latency = 80 * ns;
        rc.link.gen = 3;
        rc.link.lanes = 8;
        rc.link.mps = 256;
        rc.link.rcb = 64;
        rc.link.rcb_completions = false;
        rc.link.hop_latency = 100 * ns;
        rc.link.ack_every = 0;
        rc.link.fc_every = 0;
        mem.llc_hit_latency = 20 * ns;
        mem.dram_latency = 80 * ns;
        mem.ddio_ways = 2;
    }
};

root_complex_params with_ports(root_complex_params p, unsigned ports) {
    p.root_ports = ports;
    return p;
}

// 4 GiB of DRAM: 2 GiB below the hole, 2 GiB from 4 GiB; the same layout in the root complex's
// host map and in memory's DRAM map.
struct bench {
    host_map map = host_map::with_dram(4 * gib);
    mem::memory mem;
    root_complex rc;
    irq_recorder irq{"irq"};
    std::vector<std::unique_ptr<test_endpoint>> eps;
    cpu_thread cpu{"cpu"};

    explicit bench(const bench_options& o = {})
        : mem("mem", mem::x86_dram_map(4 * gib, 2 * gib), o.mem),
          rc("rc", map, with_ports(o.rc, o.ports)) {
        rc.cpu_mem_socket.bind(mem.cpu_socket);
        rc.dma_socket.bind(mem.device_socket);
        rc.irq_socket.bind(irq.socket);
        cpu.socket.bind(rc.cpu_socket);
        for (unsigned i = 0; i < o.ports; ++i) {
            const endpoint_params p = i < o.endpoints.size() ? o.endpoints[i] : endpoint_params{};
            eps.push_back(std::make_unique<test_endpoint>(sc_core::sc_gen_unique_name("ep"), p));
            eps.back()->id = routing_id{static_cast<std::uint8_t>(i + 1), 0, 0};
            rc.downstream.bind(eps.back()->target);
            eps.back()->dma.bind(rc.upstream);
        }
    }

    void run(std::function<void()> body) {
        cpu.body = std::move(body);
        sc_core::sc_start();
        EXPECT_TRUE(cpu.finished) << "the scenario did not run to its end";
    }

    std::uint64_t ecam(std::uint8_t bus, std::uint8_t dev, std::uint8_t fn, std::uint16_t reg) {
        return map.ecam.base + (std::uint64_t{bus} << 20 | std::uint64_t{dev} << 15 |
                                std::uint64_t{fn} << 12 | reg);
    }

    // Programs root port `port` through ECAM as firmware would: bus numbers 0 / port+1 /
    // port+1, the non-prefetchable window [base, limit] (disabled if base > limit), Device
    // Control's Max_Payload_Size to 256 B (code 1 in bits 7:5; it resets to 128 B) and Command.
    void program_port(unsigned port, std::uint64_t base, std::uint64_t limit,
                      std::uint16_t command) {
        const auto dev = static_cast<std::uint8_t>(port + 1);
        const std::uint32_t bus = port + 1;
        cpu.write(ecam(0, dev, 0, cfg::primary_bus_number), bus << 16 | bus << 8 | 0);
        const std::uint16_t pcie = *rc.port_config(port).find_capability(cap_id::pci_express);
        const std::uint16_t devctl = ecam_read16(dev, pcie + pcie_reg::device_control);
        cpu.write(ecam(0, dev, 0, pcie + pcie_reg::device_control), (devctl & ~(7u << 5)) | 1u << 5,
                  2);
        const std::uint32_t b = base > limit ? 0xfff0 : (base >> 16) & 0xfff0;
        const std::uint32_t l = base > limit ? 0 : (limit >> 16) & 0xfff0;
        cpu.write(ecam(0, dev, 0, cfg::memory_base), l << 16 | b);
        cpu.write(ecam(0, dev, 0, cfg::command), command, 2);
    }
    std::uint16_t ecam_read16(std::uint8_t dev, std::uint16_t reg) {
        return static_cast<std::uint16_t>(cpu.read(ecam(0, dev, 0, reg), 2));
    }
    void set_port_command(unsigned port, std::uint16_t command) {
        cpu.write(ecam(0, static_cast<std::uint8_t>(port + 1), 0, cfg::command), command, 2);
    }
};

constexpr std::uint16_t mem_and_bme = cfg::command_memory_space | cfg::command_bus_master;

// Configuration access through ECAM from the CPU thread, for the enumerator.
class ecam_access : public config_access {
public:
    explicit ecam_access(bench& b) : m_b(b) {}
    std::uint32_t config_read(routing_id id, std::uint16_t offset, unsigned size) override {
        return m_b.cpu.read(m_b.ecam(id.bus, id.device, id.function, offset), size);
    }
    void config_write(routing_id id, std::uint16_t offset, unsigned size,
                      std::uint32_t value) override {
        m_b.cpu.write(m_b.ecam(id.bus, id.device, id.function, offset), value, size);
    }

private:
    bench& m_b;
};

// --- configuration space ---

TEST(RootComplexConfig, AbsentFunctionsReadAllOnes) {
    bench b;
    b.run([&] {
        // Bus 0 holds 00:00.0 and the one root port 00:01.0; 00:02.0 and 00:01.1 do not exist.
        EXPECT_EQ(b.cpu.read(b.ecam(0, 2, 0, cfg::vendor_id)), 0xffffffffu);
        EXPECT_EQ(b.cpu.read(b.ecam(0, 1, 1, cfg::vendor_id), 2), 0xffffu);
        EXPECT_EQ(b.cpu.read(b.ecam(0, 31, 7, 0xffc)), 0xffffffffu);
        // No bus numbers programmed yet: bus 1 is behind nobody.
        EXPECT_EQ(b.cpu.read(b.ecam(1, 0, 0, cfg::vendor_id)), 0xffffffffu);
        EXPECT_TRUE(b.eps[0]->requests.empty());
        EXPECT_EQ(b.rc.stats().master_aborts.value(), 4u);

        b.program_port(0, 1, 0, 0);  // bus 1, no window, Command 0
        // On the link only device 0 exists: 01:01.0 never leaves the root complex; bus 2 is
        // beyond the subordinate bus.
        EXPECT_EQ(b.cpu.read(b.ecam(1, 1, 0, cfg::vendor_id)), 0xffffffffu);
        EXPECT_EQ(b.cpu.read(b.ecam(2, 0, 0, cfg::vendor_id), 1), 0xffu);
        EXPECT_TRUE(b.eps[0]->requests.empty());
        // 01:00.1 does go to the device, which answers Unsupported Request: all ones.
        EXPECT_EQ(b.cpu.read(b.ecam(1, 0, 1, cfg::vendor_id)), 0xffffffffu);
        EXPECT_EQ(b.eps[0]->requests.size(), 1u);
        // An 8-byte ECAM access is not one configuration request: all ones, nothing sent.
        unsigned char wide[8];
        b.cpu.access(tlm::TLM_READ_COMMAND, b.ecam(1, 0, 0, 0), wide, 8);
        for (unsigned char c : wide) EXPECT_EQ(c, 0xff);
        EXPECT_EQ(b.eps[0]->requests.size(), 1u);
        // A write to an absent function is dropped and counted.
        b.cpu.write(b.ecam(0, 5, 0, cfg::command), 0x6, 2);
        EXPECT_EQ(b.rc.stats().master_aborts.value(), 4u + 5u);
        EXPECT_EQ(b.rc.stats().cpu_config_reads.value(), 9u);   // 8 + 1 by program_port
        EXPECT_EQ(b.rc.stats().cpu_config_writes.value(), 5u);  // 4 by program_port + 1
    });
}

TEST(RootComplexConfig, BusZeroReachesTheHostBridgeAndTheRootPorts) {
    bench_options o;
    o.ports = 2;
    bench b(o);
    b.run([&] {
        // Host bridge 8086:29c0, class 060000; root ports 1b36:000c, class 060400, header type 1.
        sc_time took;
        EXPECT_EQ(b.cpu.read(b.ecam(0, 0, 0, cfg::vendor_id), 4, &took), 0x29c08086u);
        // Bus 0 is inside the root complex: CPU to root complex and back, 2 × 60 ns.
        EXPECT_EQ(to_ticks(took), 2 * 60 * ns);
        EXPECT_EQ(b.cpu.read(b.ecam(0, 0, 0, cfg::revision_id)) >> 8, 0x060000u);
        for (std::uint8_t dev : {1, 2}) {
            EXPECT_EQ(b.cpu.read(b.ecam(0, dev, 0, cfg::vendor_id)), 0x000c1b36u);
            EXPECT_EQ(b.cpu.read(b.ecam(0, dev, 0, cfg::revision_id)) >> 8, 0x060400u);
            EXPECT_EQ(b.cpu.read(b.ecam(0, dev, 0, cfg::header_type), 1), 0x01u);
        }
        // Writes land in the right port's registers; read-only IDs ignore writes.
        b.cpu.write(b.ecam(0, 2, 0, cfg::primary_bus_number), 0x00070700);
        EXPECT_EQ(b.rc.port_config(1).secondary_bus(), 7);
        EXPECT_EQ(b.rc.port_config(1).subordinate_bus(), 7);
        EXPECT_EQ(b.rc.port_config(0).secondary_bus(), 0);
        b.cpu.write(b.ecam(0, 0, 0, cfg::vendor_id), 0x12345678);
        EXPECT_EQ(b.rc.host_bridge_config().peek(cfg::vendor_id, 4), 0x29c08086u);
        // The PCI Express capability names each port's number in Link Capabilities 31:24.
        const std::uint16_t cap = *b.rc.port_config(1).find_capability(cap_id::pci_express);
        EXPECT_EQ(b.cpu.read(b.ecam(0, 2, 0, cap + pcie_reg::link_capabilities)) >> 24, 2u);
        EXPECT_TRUE(b.eps[0]->requests.empty());
        EXPECT_TRUE(b.eps[1]->requests.empty());
        EXPECT_EQ(b.rc.stats().master_aborts.value(), 0u);
    });
}

TEST(RootComplexConfig, TypeZeroRequestCrossesTheLinkToTheDevice) {
    bench b;
    b.run([&] {
        b.program_port(0, 1, 0, 0);
        sc_time took;
        // 1b36:0005, make_endpoint's default identity.
        EXPECT_EQ(b.cpu.read(b.ecam(1, 0, 0, cfg::vendor_id), 4, &took), 0x00051b36u);
        ASSERT_EQ(b.eps[0]->requests.size(), 1u);
        const auto& r = b.eps[0]->requests[0];
        EXPECT_EQ(r.type, tlp_type::config_type0);
        EXPECT_EQ(r.target, (routing_id{1, 0, 0}));
        EXPECT_EQ(r.requester, (routing_id{0, 0, 0}));
        EXPECT_EQ(r.address, cfg::vendor_id);
        // 60 ns to the root complex, CfgRd0 (8 B framing + 12 B header = 20 B: 2540 ps) and a
        // 100 ns hop down, 10 ns in the device, CplD (20 B + 4 B data = 24 B: 3047 ps) and a
        // 100 ns hop up, 60 ns back to the core.
        const tick_t expected =
            60 * ns + gen3x8_ticks(20) + 100 * ns + 10 * ns + gen3x8_ticks(24) + 100 * ns + 60 * ns;
        EXPECT_EQ(gen3x8_ticks(20), 2540u);  // 2539.0625 ps
        EXPECT_EQ(to_ticks(took), expected);
        EXPECT_EQ(expected, 335'587u);

        // CfgWr0 carries a DW (24 B), the Cpl none (20 B): the same total.
        const sc_time wrote = b.cpu.write(b.ecam(1, 0, 0, cfg::command), mem_and_bme, 2);
        EXPECT_EQ(to_ticks(wrote), expected);
        EXPECT_EQ(b.eps[0]->cs.command(), mem_and_bme);
        EXPECT_EQ(b.cpu.read(b.ecam(1, 0, 0, cfg::command), 2), mem_and_bme);
        // The link carried 3 requests down and 3 completions up.
        EXPECT_EQ(b.rc.port_link(0).downstream().stats().tlps, 3u);
        EXPECT_EQ(b.rc.port_link(0).upstream().stats().tlps, 3u);
    });
}

// --- enumeration through ECAM, then MMIO ---

TEST(RootComplexMmio, EnumeratedDevicesAnswerMmioThroughTheBridgeWindows) {
    bench_options o;
    o.ports = 2;
    endpoint_params ep1;  // port 1: a 1 MiB 64-bit prefetchable BAR, MSI-X in it
    ep1.bars = {bar_params{0, 1ull << 20, true, true}};
    o.endpoints = {endpoint_params{}, ep1};
    bench b(o);
    b.run([&] {
        ecam_access cfg_access(b);
        enumeration_params ep;
        ep.mmio32 = {b.map.mmio32.base, b.map.mmio32.limit(), 0};
        ep.mmio64 = {b.map.mmio64.base, b.map.mmio64.limit(), 0};
        const auto found = enumerator(cfg_access, ep).run();
        // 00:00.0, 00:01.0, 01:00.0, 00:02.0, 02:00.0.
        ASSERT_EQ(found.size(), 5u);
        EXPECT_EQ(found[2].id, (routing_id{1, 0, 0}));
        EXPECT_EQ(found[4].id, (routing_id{2, 0, 0}));
        EXPECT_EQ(b.rc.port_config(0).secondary_bus(), 1);
        EXPECT_EQ(b.rc.port_config(1).secondary_bus(), 2);
        EXPECT_EQ(b.rc.port_config(1).subordinate_bus(), 2);
        // Endpoint 0's 64 KiB BAR0 at the mmio32 base 0x8000_0000, port 0's window one MiB;
        // endpoint 1's 1 MiB prefetchable BAR0 at the mmio64 base 0x40_0000_0000.
        EXPECT_EQ(b.eps[0]->cs.bar_address(0), 0x8000'0000u);
        EXPECT_EQ(b.eps[1]->cs.bar_address(0), 0x40'0000'0000u);
        EXPECT_EQ(b.rc.port_config(0).memory_window_nonprefetchable()->limit, 0x800f'ffffu);
        EXPECT_EQ(b.rc.port_config(1).memory_window_prefetchable()->limit, 0x40'000f'ffffu);
        EXPECT_TRUE(b.rc.port_config(0).bus_master_enabled());
        EXPECT_TRUE(msix_enabled(b.eps[0]->cs));

        const std::size_t before0 = b.eps[0]->requests.size();
        const std::size_t before1 = b.eps[1]->requests.size();
        const std::uint64_t aborts = b.rc.stats().master_aborts.value();
        // Enumeration met absent functions: every one a master abort, none a failed access.
        EXPECT_GT(aborts, 0u);

        // A write and a read of endpoint 0's BAR0 at offset 0x10.
        b.cpu.write(0x8000'0010, 0xcafef00d);
        EXPECT_EQ(get_le(&b.eps[0]->bars[0][0x10], 4), 0xcafef00du);
        sc_time took;
        EXPECT_EQ(b.cpu.read(0x8000'0010, 4, &took), 0xcafef00du);
        // 60 ns, MRd (3-DW header below 4 GiB: 20 B) + hop, 10 ns in the device, CplD of one DW
        // (24 B) + hop, 60 ns: the same sum as a configuration read, 335 587 ps.
        EXPECT_EQ(to_ticks(took), 60 * ns + gen3x8_ticks(20) + 100 * ns + 10 * ns +
                                      gen3x8_ticks(24) + 100 * ns + 60 * ns);
        ASSERT_EQ(b.eps[0]->requests.size(), before0 + 2);
        EXPECT_EQ(b.eps[0]->requests.back().type, tlp_type::memory);
        EXPECT_EQ(b.eps[0]->requests.back().address, 0x8000'0010u);
        // Endpoint 1 through port 1's 64-bit prefetchable window.
        b.cpu.write(0x40'0000'0100, 0x11223344);
        EXPECT_EQ(get_le(&b.eps[1]->bars[0][0x100], 4), 0x11223344u);
        EXPECT_EQ(b.cpu.read(0x40'0000'0100), 0x11223344u);
        EXPECT_EQ(b.eps[1]->requests.size(), before1 + 2);
        EXPECT_EQ(b.rc.stats().cpu_mmio_reads.value(), 2u);
        EXPECT_EQ(b.rc.stats().cpu_mmio_writes.value(), 2u);
        EXPECT_EQ(b.rc.stats().master_aborts.value(), aborts);

        // Outside every window: past port 0's window in mmio32, in mmio64 past port 1's, and in
        // the hole with no target (the IOMMU page). Reads all ones, writes dropped, counted.
        EXPECT_EQ(b.cpu.read(0x8010'0000), 0xffffffffu);
        EXPECT_EQ(b.cpu.read(0x40'0010'0000), 0xffffffffu);
        EXPECT_EQ(b.cpu.read(b.map.iommu.base), 0xffffffffu);
        b.cpu.write(0x9000'0000, 0x1);
        EXPECT_EQ(b.rc.stats().master_aborts.value(), aborts + 4);
        EXPECT_EQ(b.eps[0]->requests.size(), before0 + 2);
        EXPECT_EQ(b.eps[1]->requests.size(), before1 + 2);

        // Memory Space Enable cleared on port 0: its window no longer forwards.
        b.set_port_command(0, cfg::command_bus_master);
        EXPECT_EQ(b.cpu.read(0x8000'0010), 0xffffffffu);
        EXPECT_EQ(b.eps[0]->requests.size(), before0 + 2);
        // A device that rejects the request (no BAR there: Memory Space off in the device)
        // also reads all ones.
        b.set_port_command(0, mem_and_bme);
        b.eps[0]->cs.write(cfg::command, 2, 0);
        EXPECT_EQ(b.cpu.read(0x8000'0010), 0xffffffffu);
        EXPECT_EQ(b.eps[0]->requests.size(), before0 + 3);
        EXPECT_EQ(b.rc.stats().master_aborts.value(), aborts + 6);
    });
}

TEST(RootComplexMmio, DramAccessesGoToMemory) {
    bench b;
    b.run([&] {
        const std::uint64_t addr = 4 * gib + 0x40;
        b.cpu.write(addr, 0x5a5aa5a5);
        std::uint32_t v = 0;
        ASSERT_TRUE(b.mem.debug_read(addr, &v, 4));
        EXPECT_EQ(v, 0x5a5aa5a5u);
        EXPECT_EQ(b.cpu.read(addr), 0x5a5aa5a5u);
        EXPECT_EQ(b.mem.timing().stats().reads, 1u);
        EXPECT_EQ(b.mem.timing().stats().writes, 1u);
        EXPECT_EQ(b.rc.stats().cpu_mmio_reads.value(), 0u);
    });
}

// --- the upstream path ---

TEST(RootComplexDma, ReadReturnsMemoryBytesAndWriteLandsInMemory) {
    bench b;
    b.run([&] {
        b.program_port(0, 1, 0, mem_and_bme);
        test_endpoint& ep = *b.eps[0];
        std::uint8_t pattern[64];
        for (int i = 0; i < 64; ++i) pattern[i] = static_cast<std::uint8_t>(0x30 + i);
        const std::uint64_t src = 4 * gib + 0x2000;
        ASSERT_TRUE(b.mem.debug_write(src, pattern, sizeof pattern));
        std::uint8_t in[64] = {};
        sc_time d = SC_ZERO_TIME;
        EXPECT_EQ(ep.request_tlp(tlm::TLM_READ_COMMAND, src, in, 64, d), tlm::TLM_OK_RESPONSE);
        EXPECT_EQ(std::memcmp(in, pattern, 64), 0);
        wait(d);

        // A 256 B (= MPS) write below 4 GiB.
        std::uint8_t out[256];
        for (int i = 0; i < 256; ++i) out[i] = static_cast<std::uint8_t>(255 - i);
        const std::uint64_t dst = 0x1000'0000;
        d = SC_ZERO_TIME;
        EXPECT_EQ(ep.request_tlp(tlm::TLM_WRITE_COMMAND, dst, out, 256, d), tlm::TLM_OK_RESPONSE);
        wait(d);
        std::uint8_t landed[256] = {};
        ASSERT_TRUE(b.mem.debug_read(dst, landed, 256));
        EXPECT_EQ(std::memcmp(landed, out, 256), 0);

        const auto& s = b.rc.stats();
        EXPECT_EQ(s.dma_reads.value(), 1u);
        EXPECT_EQ(s.dma_read_bytes.value(), 64u);
        EXPECT_EQ(s.dma_writes.value(), 1u);
        EXPECT_EQ(s.dma_write_bytes.value(), 256u);
        EXPECT_EQ(s.malformed_tlps.value() + s.bus_master_blocked.value(), 0u);
        // Device writes went through the device socket: DDIO allocated their 4 lines.
        EXPECT_EQ(b.mem.timing().stats().ddio_allocations, 4u);
        // Upstream: MRd + MWr; downstream: one CplD of 64 B.
        EXPECT_EQ(b.rc.port_link(0).upstream().stats().tlps, 2u);
        EXPECT_EQ(b.rc.port_link(0).downstream().stats().tlps, 1u);
    });
}

TEST(RootComplexDma, DeviceReadOfNoMemoryIsACompleterAbort) {
    bench b;
    b.run([&] {
        b.program_port(0, 1, 0, mem_and_bme);
        std::uint8_t buf[64];
        sc_time d = SC_ZERO_TIME;
        // 3 GiB lies in the hole below 4 GiB: memory answers with an address error.
        EXPECT_NE(b.eps[0]->request_tlp(tlm::TLM_READ_COMMAND, 3 * gib, buf, 64, d),
                  tlm::TLM_OK_RESPONSE);
        wait(d);
        d = SC_ZERO_TIME;
        std::memset(buf, 0x77, sizeof buf);
        b.eps[0]->request_tlp(tlm::TLM_WRITE_COMMAND, 3 * gib, buf, 64, d);
        EXPECT_EQ(b.rc.stats().completer_aborts.value(), 2u);
        EXPECT_EQ(b.mem.out_of_range(), 2u);
    });
}

TEST(RootComplexDma, BusMasterEnableClearBlocksRequests) {
    bench b;
    b.run([&] {
        // Memory Space on, Bus Master off.
        b.program_port(0, 1, 0, cfg::command_memory_space);
        test_endpoint& ep = *b.eps[0];
        const std::uint64_t addr = 4 * gib + 0x3000;
        std::uint8_t orig[64];
        for (int i = 0; i < 64; ++i) orig[i] = static_cast<std::uint8_t>(i);
        ASSERT_TRUE(b.mem.debug_write(addr, orig, 64));

        std::uint8_t in[64];
        std::memset(in, 0xee, sizeof in);
        sc_time d = SC_ZERO_TIME;
        EXPECT_NE(ep.request_tlp(tlm::TLM_READ_COMMAND, addr, in, 64, d), tlm::TLM_OK_RESPONSE);
        for (std::uint8_t c : in) ASSERT_EQ(c, 0xee) << "no memory data may come back";
        // The request crossed the link and an error completion (Cpl, 20 B) came back:
        // 24 B up + hop, 20 B down + hop.
        EXPECT_EQ(to_ticks(d), gen3x8_ticks(24) + 100 * ns + gen3x8_ticks(20) + 100 * ns);
        wait(d);

        std::uint8_t out[64];
        std::memset(out, 0xab, sizeof out);
        d = SC_ZERO_TIME;
        EXPECT_NE(ep.request_tlp(tlm::TLM_WRITE_COMMAND, addr, out, 64, d), tlm::TLM_OK_RESPONSE);
        wait(d);
        // An MSI-X message is a memory write as well: blocked too.
        std::uint32_t msg = 0x41;
        d = SC_ZERO_TIME;
        ep.request_tlp(tlm::TLM_WRITE_COMMAND, 0xfee0'0000, &msg, 4, d);
        wait(d);
        std::uint8_t now[64];
        ASSERT_TRUE(b.mem.debug_read(addr, now, 64));
        EXPECT_EQ(std::memcmp(now, orig, 64), 0) << "a blocked write must not reach memory";
        EXPECT_TRUE(b.irq.messages.empty());
        EXPECT_EQ(b.rc.stats().bus_master_blocked.value(), 3u);
        EXPECT_EQ(b.rc.stats().dma_reads.value() + b.rc.stats().dma_writes.value(), 0u);
        EXPECT_EQ(b.mem.timing().stats().reads + b.mem.timing().stats().writes, 0u);

        // Setting Bus Master Enable lets the same read through.
        b.set_port_command(0, mem_and_bme);
        d = SC_ZERO_TIME;
        EXPECT_EQ(ep.request_tlp(tlm::TLM_READ_COMMAND, addr, in, 64, d), tlm::TLM_OK_RESPONSE);
        EXPECT_EQ(std::memcmp(in, orig, 64), 0);
        EXPECT_EQ(b.rc.stats().bus_master_blocked.value(), 3u);
    });
}

TEST(RootComplexDma, MalformedRequestsAreRejectedAndCounted) {
    bench b;  // MPS 256
    b.run([&] {
        b.program_port(0, 1, 0, mem_and_bme);
        test_endpoint& ep = *b.eps[0];
        const std::uint64_t page = 4 * gib + 0x4000;
        std::vector<std::uint8_t> zeros(8192, 0);
        ASSERT_TRUE(b.mem.debug_write(page - 0x1000, zeros.data(), zeros.size()));
        std::vector<std::uint8_t> buf(8192, 0x99);
        const auto expect_rejected = [&](tlm::tlm_command cmd, std::uint64_t addr, unsigned len,
                                         const char* what) {
            SCOPED_TRACE(what);
            sc_time d = SC_ZERO_TIME;
            EXPECT_EQ(ep.request_tlp(cmd, addr, buf.data(), len, d),
                      tlm::TLM_GENERIC_ERROR_RESPONSE);
            wait(d);
        };
        // Crossing the 4 KiB boundary at `page`: 0x40 bytes each side.
        expect_rejected(tlm::TLM_READ_COMMAND, page - 0x40, 0x80, "read across 4 KiB");
        expect_rejected(tlm::TLM_WRITE_COMMAND, page - 0x40, 0x80, "write across 4 KiB");
        // 512 B > MPS 256, inside one page.
        expect_rejected(tlm::TLM_WRITE_COMMAND, page, 512, "write above MPS");
        // More than a TLP's 4096 B, and nothing at all.
        expect_rejected(tlm::TLM_READ_COMMAND, page, 8192, "read above 4 KiB");
        expect_rejected(tlm::TLM_WRITE_COMMAND, page, 0, "empty write");
        EXPECT_EQ(b.rc.stats().malformed_tlps.value(), 5u);
        EXPECT_EQ(b.rc.stats().dma_reads.value() + b.rc.stats().dma_writes.value(), 0u);
        std::vector<std::uint8_t> now(8192, 0xff);
        ASSERT_TRUE(b.mem.debug_read(page - 0x1000, now.data(), now.size()));
        EXPECT_EQ(now, zeros) << "a malformed write must not reach memory";
        // Each still crossed the link: 5 requests up, and none got a completion (§2.3.2: a
        // malformed TLP is dropped).
        EXPECT_EQ(b.rc.port_link(0).upstream().stats().tlps, 5u);
        EXPECT_EQ(b.rc.port_link(0).downstream().stats().tlps, 0u);
        // The port records it: Device Status Fatal Error Detected (bit 2) and AER Uncorrectable
        // Error Status Malformed TLP (bit 18).
        const config_space& port = b.rc.port_config(0);
        const std::uint16_t pcie = *port.find_capability(cap_id::pci_express);
        EXPECT_EQ(port.read(pcie + pcie_reg::device_status, 2) & 0x4u, 0x4u);
        const std::uint16_t aer = *port.find_ext_capability(ext_cap_id::aer);
        EXPECT_EQ(port.read(aer + aer_reg::uncorrectable_status, 4) & (1u << 18), 1u << 18);

        // The limits themselves are fine: a 256 B write ending exactly at the boundary.
        sc_time d = SC_ZERO_TIME;
        EXPECT_EQ(ep.request_tlp(tlm::TLM_WRITE_COMMAND, page - 256, buf.data(), 256, d),
                  tlm::TLM_OK_RESPONSE);
        EXPECT_EQ(b.rc.stats().malformed_tlps.value(), 5u);
    });
}

TEST(RootComplexDma, InterruptWindowWriteGoesToTheIrqSocketNotMemory) {
    bench b;
    b.run([&] {
        b.program_port(0, 1, 0, mem_and_bme);
        // An MSI-X message: address 0xFEE0_1000 (destination APIC 1), data 0x0000_0041.
        std::uint32_t data = 0x41;
        sc_time d = SC_ZERO_TIME;
        const tick_t sent = now_ticks();
        EXPECT_EQ(b.eps[0]->request_tlp(tlm::TLM_WRITE_COMMAND, 0xfee0'1000, &data, 4, d),
                  tlm::TLM_OK_RESPONSE);
        ASSERT_EQ(b.irq.messages.size(), 1u);
        EXPECT_EQ(b.irq.messages[0].address, 0xfee0'1000u);
        EXPECT_EQ(b.irq.messages[0].data, 0x41u);
        EXPECT_EQ(b.irq.messages[0].requester, (routing_id{1, 0, 0}));
        // MWr with a 3-DW header and one DW: 24 B, then the hop: at the root port 103 047 ps
        // after it was sent; nothing else was in flight. Then across the root complex like any
        // upstream write (upstream_latency 120 ns) to the interrupt controller.
        EXPECT_EQ(b.irq.messages[0].at, sent + gen3x8_ticks(24) + 100 * ns + 120 * ns);
        // The device itself is done once the message has crossed the link.
        EXPECT_EQ(now_ticks(d), sent + gen3x8_ticks(24) + 100 * ns);
        EXPECT_EQ(b.rc.stats().interrupt_messages.value(), 1u);
        EXPECT_EQ(b.rc.stats().dma_writes.value(), 0u);
        EXPECT_EQ(b.mem.timing().stats().writes, 0u);
        EXPECT_EQ(b.mem.out_of_range(), 0u);
    });
}

// --- timing ---

TEST(RootComplexTiming, SixtyFourByteReadAboveFourGiBOnAnIdleLink) {
    bench b;  // bench_options: Gen3 x8, hop 100 ns, upstream 120 ns, completion 80 ns, LLC 20 ns,
              // DRAM 80 ns
    b.run([&] {
        b.program_port(0, 1, 0, mem_and_bme);  // bus 0 only: the link stays idle
        test_endpoint& ep = *b.eps[0];
        std::uint8_t buf[64];
        // MRd with a 4-DW header (address >= 4 GiB): 8 + 16 = 24 B = 3047 ps, then the hop.
        // Completion: one CplD (64 B < MPS 256, one RCB-aligned piece): 8 + 12 + 64 = 84 B =
        // 10 665 ps, then the hop.
        const tick_t link_part =
            gen3x8_ticks(8 + 16) + 100 * ns + gen3x8_ticks(8 + 12 + 64) + 100 * ns;
        const tick_t rc_part = 120 * ns + 80 * ns;  // upstream + completion latency

        // Cold line: a DRAM miss on an idle channel costs dram_latency, 80 ns.
        sc_time d = SC_ZERO_TIME;
        ASSERT_EQ(ep.request_tlp(tlm::TLM_READ_COMMAND, 4 * gib + 0x10000, buf, 64, d),
                  tlm::TLM_OK_RESPONSE);
        EXPECT_EQ(to_ticks(d), link_part + rc_part + 80 * ns);
        EXPECT_EQ(to_ticks(d), 493'712u);
        wait(d);

        // A line the CPU has in the LLC: a hit, 20 ns.
        b.mem.timing().warm(4 * gib + 0x20000, 64);
        d = SC_ZERO_TIME;
        ASSERT_EQ(ep.request_tlp(tlm::TLM_READ_COMMAND, 4 * gib + 0x20000, buf, 64, d),
                  tlm::TLM_OK_RESPONSE);
        EXPECT_EQ(to_ticks(d), link_part + rc_part + 20 * ns);
        EXPECT_EQ(to_ticks(d), 433'712u);
    });
}

// Memory where a device write is slow: DDIO off, so it goes to DRAM, whose latency is 1 µs.
bench_options slow_write_options() {
    bench_options o;
    o.ports = 2;
    o.mem.ddio_ways = 0;
    o.mem.dram_latency = 1000 * ns;
    return o;
}

TEST(RootComplexTiming, ReadDoesNotPassAnEarlierPostedWriteFromTheSamePort) {
    bench b(slow_write_options());
    b.run([&] {
        b.program_port(0, 1, 0, mem_and_bme);
        b.program_port(1, 1, 0, mem_and_bme);
        const std::uint64_t wr = 4 * gib + 0x1000;
        const std::uint64_t rd = 4 * gib + 0x8000;  // another line, in the LLC
        b.mem.timing().warm(rd, 64);
        b.mem.timing().warm(rd + 0x40, 64);
        const tick_t t0 = now_ticks();

        // Port 0's device posts a 64 B write, then at once (same local time) reads 64 B.
        std::uint8_t out[64] = {1, 2, 3};
        std::uint8_t in[64];
        sc_time dw = SC_ZERO_TIME;
        sc_time dr = SC_ZERO_TIME;
        ASSERT_EQ(b.eps[0]->request_tlp(tlm::TLM_WRITE_COMMAND, wr, out, 64, dw),
                  tlm::TLM_OK_RESPONSE);
        ASSERT_EQ(b.eps[0]->request_tlp(tlm::TLM_READ_COMMAND, rd, in, 64, dr),
                  tlm::TLM_OK_RESPONSE);
        // Port 1's device reads a cached line at the same time: nothing to wait for.
        sc_time d1 = SC_ZERO_TIME;
        ASSERT_EQ(b.eps[1]->request_tlp(tlm::TLM_READ_COMMAND, rd + 0x40, in, 64, d1),
                  tlm::TLM_OK_RESPONSE);

        // The write: MWr 8 + 16 + 64 = 88 B = 11 172 ps (11 171.875), hop 100 ns; the device is
        // done with it when it has crossed the link.
        const tick_t mwr = gen3x8_ticks(88);
        EXPECT_EQ(mwr, 11'172u);
        EXPECT_EQ(to_ticks(dw), mwr + 100 * ns);
        // It lands after 120 ns to the memory controller and a 1 µs DRAM write.
        const tick_t landed = t0 + mwr + 100 * ns + 120 * ns + 1000 * ns;
        // The read's MRd (24 B) waits on the upstream direction behind the MWr, then the hop
        // and 120 ns: it would reach memory at t0 + 11 172 + 3047 + 100 000 + 120 000, long
        // before the write lands. It starts when the write has landed instead, hits the LLC
        // (20 ns), 80 ns back to the port, one CplD (84 B) and the hop.
        const tick_t read_done = landed + 20 * ns + 80 * ns + gen3x8_ticks(84) + 100 * ns;
        EXPECT_EQ(t0 + to_ticks(dr), read_done);
        EXPECT_GT(t0 + to_ticks(dr), landed);
        EXPECT_EQ(to_ticks(dr), 1'441'837u);
        // The other port's read: the idle-link, LLC-hit round trip, 433 712 ps.
        EXPECT_EQ(to_ticks(d1), gen3x8_ticks(24) + 100 * ns + 120 * ns + 20 * ns + 80 * ns +
                                    gen3x8_ticks(84) + 100 * ns);
        std::uint8_t check[64];
        ASSERT_TRUE(b.mem.debug_read(wr, check, 64));
        EXPECT_EQ(std::memcmp(check, out, 64), 0);
    });
}

TEST(RootComplexTiming, InterruptMessageDoesNotPassAnEarlierPostedWrite) {
    bench b(slow_write_options());
    b.run([&] {
        b.program_port(0, 1, 0, mem_and_bme);
        const tick_t t0 = now_ticks();
        // The device writes its data, then signals it with MSI-X at once: PCIe ordering (a
        // posted request never passes a posted request, Base Spec §2.4.1) makes the message
        // arrive no earlier than the data is in memory.
        std::uint8_t out[64] = {7};
        std::uint32_t msg = 0x41;
        sc_time dw = SC_ZERO_TIME;
        sc_time dm = SC_ZERO_TIME;
        b.eps[0]->request_tlp(tlm::TLM_WRITE_COMMAND, 4 * gib + 0x1000, out, 64, dw);
        b.eps[0]->request_tlp(tlm::TLM_WRITE_COMMAND, 0xfee0'0000, &msg, 4, dm);
        ASSERT_EQ(b.irq.messages.size(), 1u);
        // The write lands at t0 + MWr (88 B) + hop + 120 ns + 1 µs DRAM.
        const tick_t landed = t0 + gen3x8_ticks(88) + 100 * ns + 120 * ns + 1000 * ns;
        EXPECT_GE(b.irq.messages[0].at, landed);
        EXPECT_EQ(b.irq.messages[0].at, landed);
    });
}

}  // namespace
}  // namespace iovsim::pcie

// The DMA test endpoint, driven through its link_in socket by a host thread (configuration and
// BAR accesses) against a fake upstream target that records every TLP the endpoint sends
// (command, address, length, requester, issue and return time, written bytes) and answers each
// after a fixed, known delay. Every expected TLP and time is worked out by hand from the
// endpoint's parameters (issue_interval 4 ns, rx_latency 60 ns unless a test says otherwise) and
// that delay. One elaboration and one sc_start per TEST (ctest runs each in its own process).
#include "models/pcie/dma_endpoint.h"

#include <gtest/gtest.h>
#include <tlm_utils/simple_initiator_socket.h>
#include <tlm_utils/simple_target_socket.h>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <set>
#include <systemc>
#include <tlm>
#include <vector>

#include "models/core/sc_glue.h"
#include "models/pcie/capabilities.h"
#include "models/pcie/tlp.h"

namespace iovsim::pcie {
namespace {

constexpr tick_t ns = ticks_per_ns;
constexpr std::uint64_t bar_base = 0x2'8000'0000;  // where the tests place BAR0 (64-bit)
constexpr routing_id device_id{0x05, 0, 0};        // the bus/device/function enumeration gives
constexpr std::uint64_t msi_address = 0xfee0'1000;
constexpr std::uint32_t msi_data = 0x4041;

// What the fake upstream target saw of one request TLP.
struct tlp_record {
    bool write = false;
    std::uint64_t addr = 0;
    std::uint32_t len = 0;
    bool has_ext = false;
    tlp_type type = tlp_type::memory;
    routing_id requester{};
    tick_t issued = 0;                // kernel time plus the initiator's offset on arrival
    tick_t returned = 0;              // issued + the fake's delay
    std::vector<unsigned char> data;  // written bytes
};

// Host memory and root complex stand-in: every request costs `delay`; reads return bytes of a
// small array; requests to [error_base, error_base + error_len) get an error response.
struct fake_upstream : sc_core::sc_module {
    tlm_utils::simple_target_socket<fake_upstream> socket{"socket"};
    tick_t delay;
    std::uint64_t error_base = 0;
    std::uint64_t error_len = 0;
    std::vector<tlp_record> records;
    unsigned char bytes[256];

    fake_upstream(const sc_core::sc_module_name& name, tick_t d) : sc_module(name), delay(d) {
        for (unsigned i = 0; i < sizeof bytes; ++i) bytes[i] = static_cast<unsigned char>(i ^ 0x5a);
        socket.register_b_transport(this, &fake_upstream::b_transport);
    }

    void b_transport(tlm::tlm_generic_payload& t, sc_core::sc_time& d) {
        tlp_record r;
        r.write = t.is_write();
        r.addr = t.get_address();
        r.len = t.get_data_length();
        tlp_extension* ext = nullptr;
        t.get_extension(ext);
        if (ext) {
            r.has_ext = true;
            r.type = ext->type;
            r.requester = ext->requester;
        }
        r.issued = now_ticks(d);
        r.returned = r.issued + delay;
        unsigned char* p = t.get_data_ptr();
        if (r.write) {
            r.data.assign(p, p + r.len);
        } else {
            for (std::uint32_t i = 0; i < r.len; ++i) p[i] = bytes[(r.addr + i) % sizeof bytes];
        }
        const bool bad = r.addr >= error_base && r.addr - error_base < error_len;
        t.set_response_status(bad ? tlm::TLM_ADDRESS_ERROR_RESPONSE : tlm::TLM_OK_RESPONSE);
        d += to_sc_time(delay);
        records.push_back(std::move(r));
    }

    static bool is_msi(const tlp_record& r) {
        return r.addr >= 0xfee0'0000 && r.addr < 0xfef0'0000;
    }
    std::vector<tlp_record> dma_since(std::size_t from) const {
        std::vector<tlp_record> out;
        for (std::size_t i = from; i < records.size(); ++i)
            if (!is_msi(records[i])) out.push_back(records[i]);
        return out;
    }
    std::vector<tlp_record> msi_since(std::size_t from) const {
        std::vector<tlp_record> out;
        for (std::size_t i = from; i < records.size(); ++i)
            if (is_msi(records[i])) out.push_back(records[i]);
        return out;
    }
};

// One experiment as the host programs it.
struct run_setup {
    std::uint64_t buf = 0x1'0000'0000;
    std::uint32_t window = 0x1000;
    std::uint32_t size = 64;
    std::uint32_t count = 1;
    std::uint32_t seed = 0;
    std::uint32_t control = 0;  // control_* bits besides start
    std::uint32_t outstanding = 1;
};

// The host side: a thread running the test body, with configuration and BAR accessors. All
// accesses carry zero delay, so they happen at the host's kernel time.
struct host : sc_core::sc_module {
    tlm_utils::simple_initiator_socket<host> out{"out"};
    std::function<void(host&)> body;
    dma_endpoint* ep = nullptr;
    fake_upstream* up = nullptr;
    bool finished = false;

    SC_HAS_PROCESS(host);
    host(const sc_core::sc_module_name& name, std::function<void(host&)> b)
        : sc_module(name), body(std::move(b)) {
        SC_THREAD(run);
    }
    void run() {
        body(*this);
        finished = true;
    }

    tlm::tlm_response_status access(tlp_type type, routing_id target, bool write,
                                    std::uint64_t addr, unsigned char* data, unsigned len) {
        tlm::tlm_generic_payload t;
        tlp_extension ext;
        ext.type = type;
        ext.target = target;
        set_request(t, write ? tlm::TLM_WRITE_COMMAND : tlm::TLM_READ_COMMAND, addr, data, len);
        t.set_extension(&ext);
        sc_core::sc_time delay = sc_core::SC_ZERO_TIME;
        out->b_transport(t, delay);
        t.clear_extension(&ext);
        EXPECT_EQ(delay, sc_core::SC_ZERO_TIME);  // the endpoint's registers cost no time
        return t.get_response_status();
    }

    std::uint32_t cfg_read(std::uint16_t off, unsigned len, tlm::tlm_response_status* st = nullptr,
                           tlp_type type = tlp_type::config_type0) {
        unsigned char b[8] = {};
        const auto s = access(type, device_id, false, off, b, len);
        if (st) *st = s;
        std::uint32_t v = 0;
        for (unsigned i = 0; i < len && i < 4; ++i) v |= std::uint32_t{b[i]} << (8 * i);
        return v;
    }
    tlm::tlm_response_status cfg_write(std::uint16_t off, unsigned len, std::uint32_t v,
                                       routing_id target = device_id,
                                       tlp_type type = tlp_type::config_type0) {
        unsigned char b[8] = {};
        for (unsigned i = 0; i < len && i < 4; ++i) b[i] = static_cast<unsigned char>(v >> (8 * i));
        return access(type, target, true, off, b, len);
    }
    std::uint32_t mem_read32(std::uint64_t addr, tlm::tlm_response_status* st = nullptr) {
        unsigned char b[4] = {};
        const auto s = access(tlp_type::memory, {}, false, addr, b, 4);
        if (st) *st = s;
        return std::uint32_t{b[0]} | std::uint32_t{b[1]} << 8 | std::uint32_t{b[2]} << 16 |
               std::uint32_t{b[3]} << 24;
    }
    tlm::tlm_response_status mem_write32(std::uint64_t addr, std::uint32_t v) {
        unsigned char b[4];
        for (int i = 0; i < 4; ++i) b[i] = static_cast<unsigned char>(v >> (8 * i));
        return access(tlp_type::memory, {}, true, addr, b, 4);
    }
    std::uint32_t reg(std::uint32_t off) { return mem_read32(bar_base + off); }
    void set_reg(std::uint32_t off, std::uint32_t v) {
        EXPECT_EQ(mem_write32(bar_base + off, v), tlm::TLM_OK_RESPONSE) << "register " << off;
    }

    std::uint16_t cap(std::uint8_t id) const { return ep->config().find_capability(id).value(); }

    // Enumeration as firmware does it: BAR0 at bar_base, Memory Space (and Bus Master) enabled.
    void enumerate(bool bus_master = true) {
        cfg_write(cfg::bar0, 4, static_cast<std::uint32_t>(bar_base));
        cfg_write(cfg::bar0 + 4, 4, static_cast<std::uint32_t>(bar_base >> 32));
        cfg_write(cfg::command, 2,
                  cfg::command_memory_space | (bus_master ? cfg::command_bus_master : 0));
    }
    // Device Control MPS and MRRS, as the OS programs them.
    void set_mps_mrrs(std::uint32_t mps, std::uint32_t mrrs) {
        const std::uint16_t dc = cap(cap_id::pci_express) + pcie_reg::device_control;
        const std::uint32_t v = cfg_read(dc, 2) & ~0x70e0u;
        cfg_write(dc, 2, v | payload_size_code(mps) << 5 | payload_size_code(mrrs) << 12);
    }
    void set_msix_control(std::uint16_t v) {
        cfg_write(cap(cap_id::msix) + msix_reg::message_control, 2, v);
    }
    // MSI-X table entry 0 through BAR0 page 1.
    void program_msix_entry(std::uint32_t vector_control) {
        set_reg(dma_reg::msix_table_offset + 0, static_cast<std::uint32_t>(msi_address));
        set_reg(dma_reg::msix_table_offset + 4, 0);
        set_reg(dma_reg::msix_table_offset + 8, msi_data);
        set_reg(dma_reg::msix_table_offset + 12, vector_control);
    }

    // Programs and starts a run; returns the kernel time of the CONTROL write (the engine starts
    // then). Does not wait.
    tick_t start(const run_setup& s) {
        set_reg(dma_reg::buf_addr_lo, static_cast<std::uint32_t>(s.buf));
        set_reg(dma_reg::buf_addr_hi, static_cast<std::uint32_t>(s.buf >> 32));
        set_reg(dma_reg::window, s.window);
        set_reg(dma_reg::size, s.size);
        set_reg(dma_reg::count, s.count);
        set_reg(dma_reg::seed, s.seed);
        set_reg(dma_reg::outstanding, s.outstanding);
        const tick_t at = now_ticks();
        set_reg(dma_reg::control, s.control | dma_reg::control_start);
        return at;
    }
    // Polls STATUS every microsecond until done; returns STATUS and clears done/error (RW1C).
    std::uint32_t wait_done() {
        for (int i = 0; i < 1000; ++i) {
            wait(sc_core::sc_time(1, sc_core::SC_US));
            const std::uint32_t st = reg(dma_reg::status);
            if (st & dma_reg::status_done) {
                set_reg(dma_reg::status, dma_reg::status_done | dma_reg::status_error);
                return st;
            }
        }
        ADD_FAILURE() << "run did not finish within 1 ms";
        return 0;
    }
    tick_t run_and_wait(const run_setup& s) {
        const tick_t at = start(s);
        EXPECT_EQ(wait_done(), dma_reg::status_done);
        return at;
    }
};

// Builds endpoint, fake upstream and host, binds them, runs the simulation once.
void simulate(std::function<void(host&)> body, tick_t upstream_delay = 500 * ns,
              const dma_endpoint_params& p = {}) {
    dma_endpoint ep("ep", p);
    fake_upstream up("up", upstream_delay);
    host h("host", std::move(body));
    h.ep = &ep;
    h.up = &up;
    h.out.bind(ep.link_in);
    ep.link_out.bind(up.socket);
    sc_core::sc_start();
    EXPECT_TRUE(h.finished);
}

std::uint64_t bar_size_from_readback(std::uint32_t lo, std::uint32_t hi) {
    const std::uint64_t mask = (std::uint64_t{hi} << 32 | lo) & ~std::uint64_t{0xf};
    return ~mask + 1;
}

// Largest number of [begin, end) intervals that overlap at one instant.
std::size_t max_overlap(const std::vector<std::pair<tick_t, tick_t>>& spans) {
    std::size_t best = 0;
    for (const auto& s : spans) {
        std::size_t n = 0;
        for (const auto& o : spans)
            if (o.first <= s.first && s.first < o.second) ++n;
        best = std::max(best, n);
    }
    return best;
}

TEST(dma_endpoint, config_identity_bar_sizing_and_requester_id) {
    simulate([](host& h) {
        tlm::tlm_response_status st;
        // Identity: Red Hat 1b36, device 0005; class 00ff00 above revision 0.
        EXPECT_EQ(h.cfg_read(cfg::vendor_id, 4, &st), 0x00051b36u);
        EXPECT_EQ(st, tlm::TLM_OK_RESPONSE);
        EXPECT_EQ(h.cfg_read(cfg::vendor_id, 2), 0x1b36u);
        EXPECT_EQ(h.cfg_read(cfg::device_id, 2), 0x0005u);
        EXPECT_EQ(h.cfg_read(cfg::revision_id, 4), 0x00ff0000u);
        EXPECT_EQ(h.cfg_read(cfg::header_type, 1), 0x00u);  // type 0, single function
        EXPECT_EQ(h.cfg_read(cfg::subsystem_vendor_id, 4), 0x11001af4u);
        // Status.Capabilities List (bit 4 of Status = bit 20 of the dword); Command clear.
        EXPECT_EQ(h.cfg_read(cfg::command, 4), 0x00100000u);

        // The standard list, walked through config reads: PM, PCI Express, MSI-X.
        std::set<std::uint32_t> ids;
        for (std::uint32_t at = h.cfg_read(cfg::capabilities_pointer, 1), n = 0; at && n < 16;
             at = h.cfg_read(static_cast<std::uint16_t>(at + 1), 1), ++n)
            ids.insert(h.cfg_read(static_cast<std::uint16_t>(at), 1));
        EXPECT_EQ(ids, (std::set<std::uint32_t>{cap_id::power_management, cap_id::pci_express,
                                                cap_id::msix}));
        // The extended list starts at 0x100 with AER (ID 0x0001, version 1 in bits 19:16).
        EXPECT_EQ(h.cfg_read(0x100, 4) & 0xfffff, 0x10001u);

        // Accesses a Configuration Request cannot carry, and Type 1 requests: Unsupported Request.
        h.cfg_read(cfg::vendor_id, 3, &st);
        EXPECT_EQ(st, tlm::TLM_ADDRESS_ERROR_RESPONSE);
        h.cfg_read(0x02, 4, &st);  // crosses a dword
        EXPECT_EQ(st, tlm::TLM_ADDRESS_ERROR_RESPONSE);
        h.cfg_read(cfg::vendor_id, 4, &st, tlp_type::config_type1);
        EXPECT_EQ(st, tlm::TLM_ADDRESS_ERROR_RESPONSE);
        EXPECT_EQ(h.cfg_write(cfg::command, 3, 0x7), tlm::TLM_ADDRESS_ERROR_RESPONSE);
        EXPECT_EQ(h.cfg_write(cfg::command, 2, 0x7, device_id, tlp_type::config_type1),
                  tlm::TLM_ADDRESS_ERROR_RESPONSE);
        EXPECT_EQ(h.cfg_read(cfg::command, 2), 0u);  // neither rejected write landed

        // Nothing has configured the function yet: requester ID 00:00.0. Reads don't set it.
        EXPECT_EQ(h.ep->id(), (routing_id{0, 0, 0}));

        // BAR sizing: all ones into both halves of the 64-bit BAR0. A 16 KiB BAR hardwires
        // address bits 13:0 to 0, so the low half reads ~(0x4000 - 1) with bits 3:0 = 0100b
        // (64-bit, non-prefetchable): 0xffffc004; the high half reads 0xffffffff.
        EXPECT_EQ(h.cfg_write(cfg::bar0, 4, 0xffffffff), tlm::TLM_OK_RESPONSE);
        EXPECT_EQ(h.cfg_write(cfg::bar0 + 4, 4, 0xffffffff), tlm::TLM_OK_RESPONSE);
        const std::uint32_t lo = h.cfg_read(cfg::bar0, 4);
        const std::uint32_t hi = h.cfg_read(cfg::bar0 + 4, 4);
        EXPECT_EQ(lo, 0xffffc004u);
        EXPECT_EQ(hi, 0xffffffffu);
        EXPECT_EQ(bar_size_from_readback(lo, hi), 16u * 1024);
        // BAR2..5 are not implemented: all-ones writes read back 0.
        h.cfg_write(cfg::bar0 + 8, 4, 0xffffffff);
        EXPECT_EQ(h.cfg_read(cfg::bar0 + 8, 4), 0u);

        // The Type 0 writes above captured the bus/device/function they were addressed to.
        EXPECT_EQ(h.ep->id(), device_id);
        h.cfg_read(cfg::vendor_id, 4);
        EXPECT_EQ(h.ep->id(), device_id);
        // A later write addressed to another number (re-enumeration) is captured too.
        const routing_id moved{0x0a, 0, 0};
        h.cfg_write(cfg::bar0, 4, static_cast<std::uint32_t>(bar_base), moved);
        EXPECT_EQ(h.ep->id(), moved);
        h.cfg_write(cfg::bar0 + 4, 4, static_cast<std::uint32_t>(bar_base >> 32), moved);
        EXPECT_EQ(h.ep->config().bar_address(0), bar_base);
    });
}

TEST(dma_endpoint, register_access_needs_memory_space_and_bar) {
    simulate([](host& h) {
        tlm::tlm_response_status st;
        // Memory Space Enable set but BAR0 still unassigned: bar_base is not decoded.
        h.cfg_write(cfg::command, 2, cfg::command_memory_space);
        h.mem_read32(bar_base + dma_reg::id, &st);
        EXPECT_EQ(st, tlm::TLM_ADDRESS_ERROR_RESPONSE);
        // BAR assigned, Memory Space Enable clear: no decode either.
        h.cfg_write(cfg::command, 2, 0);
        h.cfg_write(cfg::bar0, 4, static_cast<std::uint32_t>(bar_base));
        h.cfg_write(cfg::bar0 + 4, 4, static_cast<std::uint32_t>(bar_base >> 32));
        h.mem_read32(bar_base + dma_reg::id, &st);
        EXPECT_EQ(st, tlm::TLM_ADDRESS_ERROR_RESPONSE);
        EXPECT_EQ(h.mem_write32(bar_base + dma_reg::count, 7), tlm::TLM_ADDRESS_ERROR_RESPONSE);
        // Both: the ID register reads "DMA1" (0x444d4131) and ignores writes.
        h.cfg_write(cfg::command, 2, cfg::command_memory_space);
        EXPECT_EQ(h.mem_read32(bar_base + dma_reg::id, &st), 0x444d4131u);
        EXPECT_EQ(st, tlm::TLM_OK_RESPONSE);
        h.set_reg(dma_reg::id, 0);
        EXPECT_EQ(h.reg(dma_reg::id), 0x444d4131u);
        // The write made while decoding was off did not land; read-write registers hold values.
        EXPECT_EQ(h.reg(dma_reg::count), 0u);
        h.set_reg(dma_reg::count, 7);
        EXPECT_EQ(h.reg(dma_reg::count), 7u);
        EXPECT_EQ(h.reg(dma_reg::outstanding), 1u);  // reset value
        // An 8-byte access covers two registers, little-endian.
        h.set_reg(dma_reg::buf_addr_lo, 0x89abcdef);
        h.set_reg(dma_reg::buf_addr_hi, 0x01234567);
        unsigned char b[8] = {};
        EXPECT_EQ(h.access(tlp_type::memory, {}, false, bar_base + dma_reg::buf_addr_lo, b, 8),
                  tlm::TLM_OK_RESPONSE);
        std::uint64_t v = 0;
        for (int i = 0; i < 8; ++i) v |= std::uint64_t{b[i]} << (8 * i);
        EXPECT_EQ(v, 0x0123456789abcdefull);
        // Unaligned, 2-byte and beyond-the-BAR accesses are refused.
        h.mem_read32(bar_base + 2, &st);
        EXPECT_EQ(st, tlm::TLM_ADDRESS_ERROR_RESPONSE);
        EXPECT_EQ(h.access(tlp_type::memory, {}, false, bar_base, b, 2),
                  tlm::TLM_ADDRESS_ERROR_RESPONSE);
        h.mem_read32(bar_base + dma_reg::bar0_size, &st);
        EXPECT_EQ(st, tlm::TLM_ADDRESS_ERROR_RESPONSE);
        // Reserved offsets in page 0 read 0; the last dword of the BAR decodes.
        EXPECT_EQ(h.reg(0x400), 0u);
        h.mem_read32(bar_base + dma_reg::bar0_size - 4, &st);
        EXPECT_EQ(st, tlm::TLM_OK_RESPONSE);
        // Memory Space Enable cleared again: decoding stops.
        h.cfg_write(cfg::command, 2, 0);
        h.mem_read32(bar_base + dma_reg::id, &st);
        EXPECT_EQ(st, tlm::TLM_ADDRESS_ERROR_RESPONSE);
    });
}

TEST(dma_endpoint, status_rw1c_and_start_refused_without_bus_master) {
    simulate([](host& h) {
        h.enumerate(/*bus_master=*/false);
        // Start with Bus Master Enable clear: STATUS.error, refused and counted, nothing issued.
        h.start(run_setup{});
        EXPECT_EQ(h.reg(dma_reg::status), dma_reg::status_error);
        EXPECT_EQ(h.ep->start_refused(), 1u);
        EXPECT_EQ(h.reg(dma_reg::control) & dma_reg::control_start, 0u);  // start self-clears
        sc_core::wait(sc_core::sc_time(10, sc_core::SC_US));
        EXPECT_TRUE(h.up->records.empty());
        EXPECT_EQ(h.reg(dma_reg::status), dma_reg::status_error);

        // STATUS: busy is read-only, done and error write-1-to-clear.
        h.set_reg(dma_reg::status, dma_reg::status_busy | dma_reg::status_done);
        EXPECT_EQ(h.reg(dma_reg::status), dma_reg::status_error);
        h.set_reg(dma_reg::status, 0);
        EXPECT_EQ(h.reg(dma_reg::status), dma_reg::status_error);
        h.set_reg(dma_reg::status, dma_reg::status_error);
        EXPECT_EQ(h.reg(dma_reg::status), 0u);

        // With Bus Master Enable: one 64 B read; busy while it runs, then done only.
        h.enumerate(true);
        h.start(run_setup{});
        EXPECT_EQ(h.reg(dma_reg::status), dma_reg::status_busy);
        // A second start while busy is ignored (one transfer, one TLP).
        h.set_reg(dma_reg::control, dma_reg::control_start);
        sc_core::wait(sc_core::sc_time(10, sc_core::SC_US));
        EXPECT_EQ(h.up->records.size(), 1u);
        EXPECT_EQ(h.ep->start_refused(), 1u);
        EXPECT_EQ(h.reg(dma_reg::status), dma_reg::status_done);
        h.set_reg(dma_reg::status, dma_reg::status_busy | dma_reg::status_error);  // not done
        EXPECT_EQ(h.reg(dma_reg::status), dma_reg::status_done);
        h.set_reg(dma_reg::status, 0xffffffff);
        EXPECT_EQ(h.reg(dma_reg::status), 0u);

        // Error completions: reads of 2 × 64 B (one TLP each) that the upstream refuses are
        // counted in ERRORS, and the run ends with done | error. ERRORS is read-only.
        h.up->error_base = 0x1'0000'0000;
        h.up->error_len = 0x1000;
        run_setup s;
        s.count = 2;
        h.start(s);
        EXPECT_EQ(h.wait_done(), dma_reg::status_done | dma_reg::status_error);
        EXPECT_EQ(h.reg(dma_reg::errors), 2u);
        EXPECT_EQ(h.ep->last_run().error_completions, 2u);
        h.set_reg(dma_reg::errors, 0);
        EXPECT_EQ(h.reg(dma_reg::errors), 2u);
        EXPECT_EQ(h.reg(dma_reg::status), 0u);  // wait_done cleared done and error
        // A clean run resets ERRORS.
        h.up->error_len = 0;
        h.run_and_wait(s);
        EXPECT_EQ(h.reg(dma_reg::errors), 0u);
        EXPECT_EQ(h.ep->msix_sent(), 0u);  // MSI-X never enabled: no message
        EXPECT_TRUE(h.up->msi_since(0).empty());
    });
}

TEST(dma_endpoint, latency_read_splits_by_mrrs_and_4k_and_wraps_in_window) {
    simulate([](host& h) {
        h.enumerate();
        h.set_mps_mrrs(128, 256);
        // 4 reads of 512 B, sequential in a 1536 B window (3 slots) from 0x1_0000_0f80:
        // offsets 0, 0x200, 0x400, then 0 again.
        run_setup s;
        s.buf = 0x1'0000'0f80;
        s.window = 0x600;
        s.size = 512;
        s.count = 4;
        const tick_t t0 = h.run_and_wait(s);
        // MRRS 256, never across 4 KiB (0x1_0000_1000):
        //   0x..0f80: 128 to the boundary, then 256, then the last 128        -> 3 TLPs
        //   0x..1180: 256 + 256                                                -> 2 TLPs
        //   0x..1380: 256 + 256                                                -> 2 TLPs
        //   0x..0f80 again                                                     -> 3 TLPs
        // One TLP per 4 ns engine clock; a transfer of k TLPs is done when the last one's data
        // is back (issue + 500 ns fake delay) and seen (+60 ns): (k-1)*4 + 500 + 60 ns.
        //   transfer 0 from t0: issues at +0, +4, +8; done +568
        //   transfer 1 from +568: +568, +572; done +572 + 560 = +1132
        //   transfer 2 from +1132: +1132, +1136; done +1696
        //   transfer 3 from +1696: +1696, +1700, +1704; done +2264
        struct expect_tlp {
            std::uint64_t addr;
            std::uint32_t len;
            tick_t at;
        };
        const std::uint64_t b = 0x1'0000'0000;
        const expect_tlp want[] = {
            {b + 0x0f80, 128, 0},    {b + 0x1000, 256, 4},    {b + 0x1100, 128, 8},
            {b + 0x1180, 256, 568},  {b + 0x1280, 256, 572},  {b + 0x1380, 256, 1132},
            {b + 0x1480, 256, 1136}, {b + 0x0f80, 128, 1696}, {b + 0x1000, 256, 1700},
            {b + 0x1100, 128, 1704},
        };
        const auto got = h.up->dma_since(0);
        ASSERT_EQ(got.size(), std::size(want));
        for (std::size_t i = 0; i < got.size(); ++i) {
            SCOPED_TRACE(i);
            EXPECT_FALSE(got[i].write);
            EXPECT_EQ(got[i].addr, want[i].addr);
            EXPECT_EQ(got[i].len, want[i].len);
            EXPECT_EQ(got[i].issued, t0 + want[i].at * ns);
            EXPECT_TRUE(got[i].has_ext);
            EXPECT_EQ(got[i].type, tlp_type::memory);
            EXPECT_EQ(got[i].requester, device_id);
        }
        const dma_run_result& r = h.ep->last_run();
        EXPECT_EQ(r.latencies, (std::vector<tick_t>{568 * ns, 564 * ns, 564 * ns, 568 * ns}));
        EXPECT_EQ(r.bytes, 4u * 512);
        EXPECT_EQ(r.first_issue, t0);
        EXPECT_EQ(r.last_done, t0 + 2264 * ns);
        EXPECT_EQ(r.error_completions, 0u);
    });
}

TEST(dma_endpoint, latency_write_splits_by_mps_and_adds_64b_read) {
    simulate([](host& h) {
        h.enumerate();
        h.set_mps_mrrs(128, 512);
        // 2 writes of 320 B, sequential in a 640 B window (2 slots) from 0x1_0000_0fc0.
        run_setup s;
        s.buf = 0x1'0000'0fc0;
        s.window = 640;
        s.size = 320;
        s.count = 2;
        s.control = dma_reg::control_write;
        const tick_t t0 = h.run_and_wait(s);
        // MPS 128, never across 4 KiB; then pcie-bench's 64 B read of the transfer's address:
        //   0x..0fc0: MWr 64 (to 0x1000), MWr 128, MWr 128; MRd 64 at 0x..0fc0
        //   0x..1100: MWr 128, 128, 64;                     MRd 64 at 0x..1100
        // TLPs go one per 4 ns; the read is the 4th, at +12 ns, done 12 + 500 + 60 = 572 ns
        // after the transfer started; transfer 1 starts there.
        struct expect_tlp {
            bool write;
            std::uint64_t addr;
            std::uint32_t len;
            tick_t at;
        };
        const std::uint64_t b = 0x1'0000'0000;
        const expect_tlp want[] = {
            {true, b + 0x0fc0, 64, 0},   {true, b + 0x1000, 128, 4},   {true, b + 0x1080, 128, 8},
            {false, b + 0x0fc0, 64, 12}, {true, b + 0x1100, 128, 572}, {true, b + 0x1180, 128, 576},
            {true, b + 0x1200, 64, 580}, {false, b + 0x1100, 64, 584},
        };
        const auto got = h.up->dma_since(0);
        ASSERT_EQ(got.size(), std::size(want));
        for (std::size_t i = 0; i < got.size(); ++i) {
            SCOPED_TRACE(i);
            EXPECT_EQ(got[i].write, want[i].write);
            EXPECT_EQ(got[i].addr, want[i].addr);
            EXPECT_EQ(got[i].len, want[i].len);
            EXPECT_EQ(got[i].issued, t0 + want[i].at * ns);
            EXPECT_EQ(got[i].requester, device_id);
            if (want[i].write) {
                EXPECT_EQ(got[i].data.size(), want[i].len);  // real payload bytes travel
            }
        }
        const dma_run_result& r = h.ep->last_run();
        EXPECT_EQ(r.latencies, (std::vector<tick_t>{572 * ns, 572 * ns}));
        EXPECT_EQ(r.bytes, 640u);  // the 64 B reads are not counted as transferred
        EXPECT_EQ(r.last_done, t0 + 1144 * ns);

        // MPS 256 halves the write TLPs: one 320 B write at 0x1_0000_0000 (4 KiB aligned) is
        // MWr 256 + MWr 64, then MRd 64 at +8 ns: latency 8 + 560 = 568 ns.
        h.set_mps_mrrs(256, 512);
        const std::size_t before = h.up->records.size();
        s.buf = b;
        s.count = 1;
        const tick_t t1 = h.run_and_wait(s);
        const auto got2 = h.up->dma_since(before);
        ASSERT_EQ(got2.size(), 3u);
        EXPECT_TRUE(got2[0].write);
        EXPECT_EQ(got2[0].len, 256u);
        EXPECT_EQ(got2[1].addr, b + 256);
        EXPECT_EQ(got2[1].len, 64u);
        EXPECT_FALSE(got2[2].write);
        EXPECT_EQ(got2[2].issued, t1 + 8 * ns);
        EXPECT_EQ(h.ep->last_run().latencies, (std::vector<tick_t>{568 * ns}));
    });
}

TEST(dma_endpoint, random_pattern_inside_window_aligned_and_reproducible) {
    simulate([](host& h) {
        h.enumerate();
        // 64 random reads of 256 B in a 64 KiB window (256 slots); MRRS 512: one TLP each.
        run_setup s;
        s.buf = 0x3'0000'0000;
        s.window = 0x10000;
        s.size = 256;
        s.count = 64;
        s.seed = 7;
        s.control = dma_reg::control_random;
        const auto addresses = [&](std::size_t from) {
            std::vector<std::uint64_t> a;
            for (const auto& r : h.up->dma_since(from)) a.push_back(r.addr);
            return a;
        };
        std::size_t mark = h.up->records.size();
        h.run_and_wait(s);
        const auto first = addresses(mark);
        ASSERT_EQ(first.size(), 64u);
        for (const auto a : first) {
            EXPECT_GE(a, s.buf);
            EXPECT_LE(a + s.size, s.buf + s.window);
            EXPECT_EQ((a - s.buf) % s.size, 0u);
        }
        // Random: many distinct slots (64 draws from 256 slots; all equal would be sequential
        // or stuck).
        EXPECT_GT(std::set<std::uint64_t>(first.begin(), first.end()).size(), 32u);
        // Same seed, same sequence.
        mark = h.up->records.size();
        h.run_and_wait(s);
        EXPECT_EQ(addresses(mark), first);
        // Another seed, another sequence.
        s.seed = 8;
        mark = h.up->records.size();
        h.run_and_wait(s);
        const auto other = addresses(mark);
        ASSERT_EQ(other.size(), 64u);
        EXPECT_NE(other, first);
        // A window that is not a multiple of the size: only whole transfers inside it.
        s.window = 0x10000 + 200;
        mark = h.up->records.size();
        h.run_and_wait(s);
        for (const auto a : addresses(mark)) EXPECT_LE(a + s.size, s.buf + s.window);
    });
}

TEST(dma_endpoint, bandwidth_mode_bounds_outstanding_transfers_and_tags) {
    dma_endpoint_params p;
    p.max_tags = 2;
    simulate(
        [](host& h) {
            h.enumerate();
            h.set_mps_mrrs(128, 128);
            const tick_t d = 100 * ns;  // fake delay
            const tick_t rx = 60 * ns;

            // A: 3 reads of 128 B (1 TLP each), outstanding 1: each transfer waits for the
            // previous one's data to be seen: issues at 0, 0+100+60 = 160, 320; last done 480.
            run_setup s;
            s.count = 3;
            s.size = 128;
            s.outstanding = 1;
            s.control = dma_reg::control_bandwidth;
            std::size_t mark = h.up->records.size();
            tick_t t0 = h.run_and_wait(s);
            auto got = h.up->dma_since(mark);
            ASSERT_EQ(got.size(), 3u);
            EXPECT_EQ(got[0].issued, t0);
            EXPECT_EQ(got[1].issued, t0 + 160 * ns);
            EXPECT_EQ(got[2].issued, t0 + 320 * ns);
            EXPECT_EQ(h.ep->last_run().last_done, t0 + 480 * ns);
            EXPECT_TRUE(h.ep->last_run().latencies.empty());
            EXPECT_EQ(h.ep->last_run().bytes, 3u * 128);

            // C: 4 reads of 128 B, outstanding 2, 2 tags:
            //   T0 at 0 (back 100, done 160); T1 at 4 (back 104, done 164);
            //   T2 waits for T0's done: 160 (tags free since 100); done 320;
            //   T3 waits for T1's done: 164; done 324.
            // The outstanding limit binds here, not the tags (they would allow 100).
            s.count = 4;
            s.outstanding = 2;
            mark = h.up->records.size();
            t0 = h.run_and_wait(s);
            got = h.up->dma_since(mark);
            ASSERT_EQ(got.size(), 4u);
            const tick_t want_c[] = {0, 4, 160, 164};
            for (std::size_t i = 0; i < 4; ++i) EXPECT_EQ(got[i].issued, t0 + want_c[i] * ns);
            EXPECT_EQ(h.ep->last_run().last_done, t0 + 324 * ns);

            // B: 4 reads of 256 B = 2 TLPs each at MRRS 128, outstanding 3, 2 tags. A tag is
            // free again when its data is back (issue + 100 ns):
            //   T0: 0, 4 (both tags taken until 100, 104)               done 104 + 60 = 164
            //   T1: first TLP waits for a tag: 100; second 104          done 264
            //   T2: 200, 204                                            done 364
            //   T3: in-flight limit 3 reached: waits for T0's done (164, already past at 208);
            //       tags: 300, 304                                       done 464
            s.size = 256;
            s.outstanding = 3;
            mark = h.up->records.size();
            t0 = h.run_and_wait(s);
            got = h.up->dma_since(mark);
            ASSERT_EQ(got.size(), 8u);
            const tick_t want_b[] = {0, 4, 100, 104, 200, 204, 300, 304};
            for (std::size_t i = 0; i < 8; ++i) {
                SCOPED_TRACE(i);
                EXPECT_EQ(got[i].issued, t0 + want_b[i] * ns);
                EXPECT_EQ(got[i].len, 128u);
                EXPECT_EQ(got[i].addr, s.buf + 128 * i);  // sequential 256 B transfers
            }
            EXPECT_EQ(h.ep->last_run().first_issue, t0);
            EXPECT_EQ(h.ep->last_run().last_done, t0 + 464 * ns);
            EXPECT_EQ(h.ep->last_run().bytes, 4u * 256);

            // The invariants from the records alone: at most 2 read TLPs between issue and data
            // back; at most 3 transfers between first issue and last data seen.
            std::vector<std::pair<tick_t, tick_t>> tlps, transfers;
            for (const auto& r : got) tlps.emplace_back(r.issued, r.returned);
            for (std::size_t i = 0; i < got.size(); i += 2)
                transfers.emplace_back(got[i].issued, got[i + 1].returned + rx);
            EXPECT_EQ(max_overlap(tlps), 2u);
            EXPECT_LE(max_overlap(transfers), 3u);
            for (const auto& r : got) EXPECT_EQ(r.returned - r.issued, d);
        },
        100 * ns, p);
}

// MSI-X cases: a 64 B latency read with the fake's 500 ns delay finishes 0 + 500 + 60 = 560 ns
// after the start, and that is when the message is due.
constexpr tick_t run_end = 560 * ns;

void expect_message(const tlp_record& m, tick_t at) {
    EXPECT_TRUE(m.write);
    EXPECT_EQ(m.addr, msi_address);
    EXPECT_EQ(m.len, 4u);
    EXPECT_EQ(m.data, (std::vector<unsigned char>{0x41, 0x40, 0x00, 0x00}));  // msi_data, LE
    EXPECT_EQ(m.requester, device_id);
    EXPECT_EQ(m.issued, at);
}

TEST(dma_endpoint, msix_enabled_unmasked_sends_table_message_after_run) {
    simulate([](host& h) {
        h.enumerate();
        // At reset the vector is masked (Vector Control bit 0) and the PBA is clear.
        EXPECT_EQ(h.reg(dma_reg::msix_table_offset + 12), 1u);
        EXPECT_EQ(h.reg(dma_reg::msix_pba_offset), 0u);
        h.program_msix_entry(0);
        EXPECT_EQ(h.reg(dma_reg::msix_table_offset + 0), static_cast<std::uint32_t>(msi_address));
        EXPECT_EQ(h.reg(dma_reg::msix_table_offset + 8), msi_data);
        h.set_msix_control(msix_reg::enable);
        EXPECT_TRUE(h.up->records.empty());  // enabling with nothing pending sends nothing
        const tick_t t0 = h.run_and_wait(run_setup{});
        const auto msi = h.up->msi_since(0);
        ASSERT_EQ(msi.size(), 1u);
        expect_message(msi[0], t0 + run_end);
        // The message follows the run's last TLP.
        EXPECT_EQ(h.up->records.back().addr, msi_address);
        EXPECT_EQ(h.ep->msix_sent(), 1u);
        EXPECT_EQ(h.reg(dma_reg::msix_pba_offset), 0u);
    });
}

TEST(dma_endpoint, msix_masked_vector_sets_pba_and_fires_on_unmask) {
    simulate([](host& h) {
        h.enumerate();
        h.program_msix_entry(1);  // masked
        h.set_msix_control(msix_reg::enable);
        h.run_and_wait(run_setup{});
        EXPECT_TRUE(h.up->msi_since(0).empty());
        EXPECT_EQ(h.ep->msix_sent(), 0u);
        EXPECT_EQ(h.reg(dma_reg::msix_pba_offset), 1u);  // pending bit of vector 0
        // Rewriting the address while masked sends nothing.
        h.set_reg(dma_reg::msix_table_offset + 0, static_cast<std::uint32_t>(msi_address));
        EXPECT_TRUE(h.up->msi_since(0).empty());
        // Unmasking through the table sends the pending message at once and clears the PBA.
        const tick_t at = now_ticks();
        h.set_reg(dma_reg::msix_table_offset + 12, 0);
        const auto msi = h.up->msi_since(0);
        ASSERT_EQ(msi.size(), 1u);
        expect_message(msi[0], at);
        EXPECT_EQ(h.ep->msix_sent(), 1u);
        EXPECT_EQ(h.reg(dma_reg::msix_pba_offset), 0u);
        // Masking and unmasking again with nothing pending sends nothing.
        h.set_reg(dma_reg::msix_table_offset + 12, 1);
        h.set_reg(dma_reg::msix_table_offset + 12, 0);
        EXPECT_EQ(h.up->msi_since(0).size(), 1u);
    });
}

TEST(dma_endpoint, msix_function_mask_sets_pba_and_fires_on_clear) {
    simulate([](host& h) {
        h.enumerate();
        h.program_msix_entry(0);  // vector unmasked, function masked
        h.set_msix_control(msix_reg::enable | msix_reg::function_mask);
        h.run_and_wait(run_setup{});
        EXPECT_TRUE(h.up->msi_since(0).empty());
        EXPECT_EQ(h.reg(dma_reg::msix_pba_offset), 1u);
        // Another config write that leaves Function Mask set changes nothing.
        h.cfg_write(cfg::command, 2, cfg::command_memory_space | cfg::command_bus_master);
        EXPECT_TRUE(h.up->msi_since(0).empty());
        // Clearing Function Mask in Message Control sends it.
        const tick_t at = now_ticks();
        h.set_msix_control(msix_reg::enable);
        const auto msi = h.up->msi_since(0);
        ASSERT_EQ(msi.size(), 1u);
        expect_message(msi[0], at);
        EXPECT_EQ(h.reg(dma_reg::msix_pba_offset), 0u);
        EXPECT_EQ(h.ep->msix_sent(), 1u);
    });
}

TEST(dma_endpoint, msix_disabled_sends_nothing) {
    simulate([](host& h) {
        h.enumerate();
        h.program_msix_entry(0);  // unmasked, but MSI-X Enable stays clear
        h.run_and_wait(run_setup{});
        EXPECT_TRUE(h.up->msi_since(0).empty());
        EXPECT_EQ(h.ep->msix_sent(), 0u);
        EXPECT_EQ(h.reg(dma_reg::msix_pba_offset), 0u);
        // One read TLP was the whole run.
        EXPECT_EQ(h.up->records.size(), 1u);
    });
}

TEST(dma_endpoint, unsupported_or_reserved_mps_mrrs_are_clamped) {
    dma_endpoint_params p;
    p.max_payload_supported = 256;
    simulate(
        [](host& h) {
            h.enumerate();
            // Software errors written straight into Device Control: MPS code 3 (1024 B, above
            // the 256 B supported) and MRRS code 7 (reserved). The function never sends more
            // than it supports, and a reserved MRRS acts as the largest, 4096 B.
            const std::uint16_t dc = h.cap(cap_id::pci_express) + pcie_reg::device_control;
            h.cfg_write(dc, 2, (h.cfg_read(dc, 2) & ~0x70e0u) | 3u << 5 | 7u << 12);
            run_setup s;
            s.size = 512;
            s.control = dma_reg::control_write;
            h.run_and_wait(s);
            // 512 B at 0x1_0000_0000: MWr 256 + MWr 256, then the 64 B read.
            auto got = h.up->dma_since(0);
            ASSERT_EQ(got.size(), 3u);
            EXPECT_EQ(got[0].len, 256u);
            EXPECT_EQ(got[1].len, 256u);
            EXPECT_FALSE(got[2].write);
            // A 4096 B read at a 4 KiB-aligned address: one MRd of 4096 B.
            s.size = 4096;
            s.control = 0;
            const std::size_t mark = h.up->records.size();
            h.run_and_wait(s);
            got = h.up->dma_since(mark);
            ASSERT_EQ(got.size(), 1u);
            EXPECT_EQ(got[0].len, 4096u);
        },
        500 * ns, p);
}

TEST(dma_endpoint, msix_held_pending_while_bus_master_disabled) {
    simulate([](host& h) {
        h.enumerate();
        h.program_msix_entry(1);  // masked
        h.set_msix_control(msix_reg::enable);
        h.run_and_wait(run_setup{});
        EXPECT_EQ(h.reg(dma_reg::msix_pba_offset), 1u);
        // Bus Master Enable cleared: the function may not issue the memory write that an MSI-X
        // message is (PCIe Base Spec §7.5.1.1.3), so unmasking leaves it pending.
        h.cfg_write(cfg::command, 2, cfg::command_memory_space);
        h.set_reg(dma_reg::msix_table_offset + 12, 0);
        EXPECT_TRUE(h.up->msi_since(0).empty());
        EXPECT_EQ(h.reg(dma_reg::msix_pba_offset), 1u);
        // Setting it again sends the message.
        const tick_t at = now_ticks();
        h.cfg_write(cfg::command, 2, cfg::command_memory_space | cfg::command_bus_master);
        const auto msi = h.up->msi_since(0);
        ASSERT_EQ(msi.size(), 1u);
        expect_message(msi[0], at);
        EXPECT_EQ(h.reg(dma_reg::msix_pba_offset), 0u);
    });
}

}  // namespace
}  // namespace iovsim::pcie

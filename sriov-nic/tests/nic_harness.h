// Test bench for the SystemC NIC: a fake root complex with host memory behind it (every read
// costs `read_latency`, every write `write_latency`; MSI-window writes are recorded as
// interrupts; addresses outside memory get an error completion) and a host thread that
// programs the NIC through configuration and BAR requests on its link_in socket, as a driver
// does. One elaboration and one sc_start per TEST (ctest runs each in its own process).
#pragma once

#include <gtest/gtest.h>
#include <tlm_utils/simple_initiator_socket.h>
#include <tlm_utils/simple_target_socket.h>

#include <cstdint>
#include <functional>
#include <systemc>
#include <tlm>
#include <vector>

#include "models/core/sc_glue.h"
#include "models/mem/sparse_store.h"
#include "models/pcie/capabilities.h"
#include "models/pcie/tlp.h"
#include "sriov-nic/descriptor.h"
#include "sriov-nic/nic.h"

namespace iovsim::nic::testing {

constexpr tick_t ns = ticks_per_ns;
constexpr std::uint64_t mem_size = 256ull << 20;  // host memory: [0, 256 MiB)
constexpr std::uint64_t msi_base = 0xfee0'0000;
constexpr std::uint64_t pf_bar0 = 0x2'0000'0000;
constexpr std::uint64_t pf_bar3 = 0x2'0200'0000;
constexpr std::uint64_t vf_bar0 = 0x2'1000'0000;  // VF n's BAR0 at + n × 128 KiB
constexpr std::uint64_t vf_bar3 = 0x2'2000'0000;  // VF n's BAR3 at + n × 16 KiB
constexpr std::uint64_t vf_bar0_size = 128 * 1024;
constexpr std::uint64_t vf_bar3_size = 16 * 1024;

// Memory layout per function fn (0 PF, n + 1 VF n): a 1 MiB region.
inline std::uint64_t region(unsigned fn) { return 0x100000ull * (fn + 1); }
inline std::uint64_t tx_ring(unsigned fn) { return region(fn); }
inline std::uint64_t rx_ring(unsigned fn) { return region(fn) + 0x1000; }
inline std::uint64_t tx_buf(unsigned fn, unsigned i) { return region(fn) + 0x10000 + i * 0x800; }
inline std::uint64_t rx_buf(unsigned fn, unsigned i) { return region(fn) + 0x40000 + i * 0x800; }
inline net::mac_address mac_of(unsigned fn) {
    return net::mac_address::from_u64(0x020000000100ull + fn);
}

struct dma_record {
    bool write = false;
    std::uint64_t addr = 0;
    std::uint32_t len = 0;
    pcie::routing_id requester{};
    tick_t issued = 0;
};

struct interrupt_record {
    std::uint64_t addr = 0;
    std::uint32_t data = 0;
    pcie::routing_id requester{};
    tick_t time = 0;
};

struct fake_root_complex : sc_core::sc_module {
    tlm_utils::simple_target_socket<fake_root_complex> socket{"socket"};
    tick_t read_latency = 500 * ns;
    tick_t write_latency = 200 * ns;
    mem::sparse_store memory{mem_size};
    std::vector<dma_record> dma;
    std::vector<interrupt_record> interrupts;
    std::uint64_t errors = 0;

    explicit fake_root_complex(const sc_core::sc_module_name& n) : sc_module(n) {
        socket.register_b_transport(this, &fake_root_complex::b_transport);
    }
    void b_transport(tlm::tlm_generic_payload& t, sc_core::sc_time& delay) {
        pcie::tlp_extension* ext = nullptr;
        t.get_extension(ext);
        const tick_t at = now_ticks(delay);
        const std::uint64_t a = t.get_address();
        const unsigned len = t.get_data_length();
        if (t.is_write() && a >= msi_base && a < msi_base + 0x100000) {
            std::uint32_t d = 0;
            for (unsigned i = 0; i < 4 && i < len; ++i)
                d |= std::uint32_t{t.get_data_ptr()[i]} << (8 * i);
            interrupts.push_back({a, d, ext ? ext->requester : pcie::routing_id{}, at});
            t.set_response_status(tlm::TLM_OK_RESPONSE);
            return;
        }
        dma.push_back({t.is_write(), a, len, ext ? ext->requester : pcie::routing_id{}, at});
        const bool ok = t.is_write() ? memory.write(a, t.get_data_ptr(), len)
                                     : memory.read(a, t.get_data_ptr(), len);
        if (!ok) {
            ++errors;
            t.set_response_status(tlm::TLM_ADDRESS_ERROR_RESPONSE);
            return;
        }
        delay += to_sc_time(t.is_write() ? write_latency : read_latency);
        t.set_response_status(tlm::TLM_OK_RESPONSE);
    }
    std::size_t dma_from(pcie::routing_id id) const {
        std::size_t n = 0;
        for (const auto& r : dma) n += r.requester == id;
        return n;
    }
};

struct host : sc_core::sc_module {
    tlm_utils::simple_initiator_socket<host> out{"out"};
    std::function<void(host&)> body;
    nic* dev = nullptr;
    fake_root_complex* rc = nullptr;
    bool finished = false;

    SC_HAS_PROCESS(host);
    host(const sc_core::sc_module_name& n, std::function<void(host&)> b)
        : sc_module(n), body(std::move(b)) {
        SC_THREAD(run);
    }
    void run() {
        body(*this);
        finished = true;
    }

    tlm::tlm_response_status access(bool write, pcie::tlp_type type, pcie::routing_id target,
                                    std::uint64_t addr, std::uint8_t* data, unsigned len) {
        tlm::tlm_generic_payload t;
        pcie::tlp_extension ext;
        ext.type = type;
        ext.target = target;
        set_request(t, write ? tlm::TLM_WRITE_COMMAND : tlm::TLM_READ_COMMAND, addr, data, len);
        t.set_extension(&ext);
        sc_core::sc_time delay = sc_core::SC_ZERO_TIME;
        out->b_transport(t, delay);
        t.clear_extension(&ext);
        return t.get_response_status();
    }
    void cfg_write(pcie::routing_id id, std::uint16_t off, unsigned size, std::uint32_t v) {
        std::uint8_t b[4];
        for (unsigned i = 0; i < 4; ++i) b[i] = static_cast<std::uint8_t>(v >> (8 * i));
        EXPECT_EQ(access(true, pcie::tlp_type::config_type0, id, off, b, size),
                  tlm::TLM_OK_RESPONSE);
    }
    std::uint32_t cfg_read(pcie::routing_id id, std::uint16_t off, unsigned size) {
        std::uint8_t b[4] = {};
        access(false, pcie::tlp_type::config_type0, id, off, b, size);
        std::uint32_t v = 0;
        for (unsigned i = 0; i < size; ++i) v |= std::uint32_t{b[i]} << (8 * i);
        return v;
    }
    void write32(std::uint64_t addr, std::uint32_t v) {
        std::uint8_t b[4];
        for (unsigned i = 0; i < 4; ++i) b[i] = static_cast<std::uint8_t>(v >> (8 * i));
        EXPECT_EQ(access(true, pcie::tlp_type::memory, {}, addr, b, 4), tlm::TLM_OK_RESPONSE);
    }
    std::uint32_t read32(std::uint64_t addr) {
        std::uint8_t b[4] = {};
        EXPECT_EQ(access(false, pcie::tlp_type::memory, {}, addr, b, 4), tlm::TLM_OK_RESPONSE);
        return std::uint32_t{b[0]} | std::uint32_t{b[1]} << 8 | std::uint32_t{b[2]} << 16 |
               std::uint32_t{b[3]} << 24;
    }

    // --- driver steps ---
    pcie::routing_id id(unsigned fn) const {
        return fn == 0 ? dev->functions().pf_id() : dev->functions().vf_id(fn - 1);
    }
    std::uint64_t bar0(unsigned fn) const {
        return fn == 0 ? pf_bar0 : vf_bar0 + (fn - 1) * vf_bar0_size;
    }
    std::uint64_t bar3(unsigned fn) const {
        return fn == 0 ? pf_bar3 : vf_bar3 + (fn - 1) * vf_bar3_size;
    }
    std::uint64_t pba(unsigned fn) const { return bar3(fn) + (fn == 0 ? 0x8000 : 0x2000); }
    void reg_write(unsigned fn, std::uint32_t off, std::uint32_t v) { write32(bar0(fn) + off, v); }
    std::uint32_t reg(unsigned fn, std::uint32_t off) { return read32(bar0(fn) + off); }

    // PF: BARs placed, Memory Space and Bus Master on; `vfs` VFs with their BARs, each VF with
    // BME on (unless `vf_bme` is false) and its MAC; MSI-X enabled on every function.
    void bring_up(unsigned vfs, bool vf_bme = true) {
        nic_functions& f = dev->functions();
        f.pf().assign_bar(0, pf_bar0);
        f.pf().assign_bar(3, pf_bar3);
        cfg_write(f.pf_id(), pcie::cfg::command, 2,
                  pcie::cfg::command_memory_space | pcie::cfg::command_bus_master);
        f.set_num_vfs(vfs);
        f.sriov().assign_vf_bar(0, vf_bar0);
        f.sriov().assign_vf_bar(3, vf_bar3);
        for (unsigned fn = 0; fn <= vfs; ++fn) {
            if (fn > 0 && vf_bme) set_bme(fn, true);
            dev->set_mac(fn, mac_of(fn));
            enable_msix(fn);
        }
    }
    void set_bme(unsigned fn, bool on) {
        cfg_write(id(fn), pcie::cfg::command, 2,
                  (fn == 0 ? pcie::cfg::command_memory_space : 0) |
                      (on ? pcie::cfg::command_bus_master : 0));
    }
    std::uint16_t msix_cap(unsigned fn) {
        pcie::config_space& cs =
            fn == 0 ? dev->functions().pf() : dev->functions().vf(fn - 1).config();
        return *cs.find_capability(pcie::cap_id::msix);
    }
    void enable_msix(unsigned fn, bool function_mask = false) {
        cfg_write(id(fn), msix_cap(fn) + pcie::msix_reg::message_control, 2,
                  pcie::msix_reg::enable | (function_mask ? pcie::msix_reg::function_mask : 0));
    }
    // MSI-X entry `v` of `fn`: address msi_base + fn × 0x1000, data fn × 256 + v.
    void program_vector(unsigned fn, unsigned v, bool masked) {
        const std::uint64_t e = bar3(fn) + v * 16;
        write32(e + 0, static_cast<std::uint32_t>(msi_base + fn * 0x1000));
        write32(e + 4, 0);
        write32(e + 8, fn * 256 + v);
        write32(e + 12, masked ? 1 : 0);
    }
    void setup_tx(unsigned fn, std::uint32_t len, std::uint32_t head = 0) {
        reg_write(fn, nic_reg::tdbal, static_cast<std::uint32_t>(tx_ring(fn)));
        reg_write(fn, nic_reg::tdbah, static_cast<std::uint32_t>(tx_ring(fn) >> 32));
        reg_write(fn, nic_reg::tdlen, len);
        reg_write(fn, nic_reg::tdh, head);
        reg_write(fn, nic_reg::tdt, head);
        reg_write(fn, nic_reg::ctrl, reg(fn, nic_reg::ctrl) | nic_reg::ctrl_bits::txen);
    }
    // RX ring of `len` with buffers rx_buf(fn, i) in every slot, [head, tail) handed over.
    void setup_rx(unsigned fn, std::uint32_t len, std::uint32_t head, std::uint32_t tail) {
        for (std::uint32_t i = 0; i < len; ++i) {
            rx_descriptor d;
            d.buffer_address = rx_buf(fn, i);
            const auto b = d.encode();
            rc->memory.write(rx_ring(fn) + i * 16, b.data(), b.size());
        }
        reg_write(fn, nic_reg::rdbal, static_cast<std::uint32_t>(rx_ring(fn)));
        reg_write(fn, nic_reg::rdbah, static_cast<std::uint32_t>(rx_ring(fn) >> 32));
        reg_write(fn, nic_reg::rdlen, len);
        reg_write(fn, nic_reg::rdh, head);
        reg_write(fn, nic_reg::rdt, tail);
        reg_write(fn, nic_reg::ctrl, reg(fn, nic_reg::ctrl) | nic_reg::ctrl_bits::rxen);
    }
    // Writes `frame` (no FCS) into tx_buf(fn, slot) and a TX descriptor (EOP|RS) into `slot`.
    void post_tx(unsigned fn, std::uint32_t slot, const std::vector<std::uint8_t>& frame,
                 std::uint64_t buffer = 0) {
        if (buffer == 0) {
            buffer = tx_buf(fn, slot);
            rc->memory.write(buffer, frame.data(), frame.size());
        }
        tx_descriptor d;
        d.buffer_address = buffer;
        d.length = static_cast<std::uint16_t>(frame.size());
        d.cmd = tx_cmd::eop | tx_cmd::rs;
        const auto b = d.encode();
        rc->memory.write(tx_ring(fn) + slot * 16, b.data(), b.size());
    }
    rx_descriptor rx_desc(unsigned fn, unsigned slot) {
        descriptor_bytes_t b;
        rc->memory.read(rx_ring(fn) + slot * 16, b.data(), b.size());
        return rx_descriptor::decode(b);
    }
    tx_descriptor tx_desc(unsigned fn, unsigned slot) {
        descriptor_bytes_t b;
        rc->memory.read(tx_ring(fn) + slot * 16, b.data(), b.size());
        return tx_descriptor::decode(b);
    }
    std::vector<std::uint8_t> mem(std::uint64_t addr, std::size_t len) {
        std::vector<std::uint8_t> v(len);
        rc->memory.read(addr, v.data(), len);
        return v;
    }
    void wait_ns(double n) { wait(sc_core::sc_time(n, sc_core::SC_NS)); }
};

// A frame (without FCS) from fn `src` to MAC `dst`, `len` bytes, payload byte i = seed + i.
inline std::vector<std::uint8_t> make_frame(net::mac_address dst, net::mac_address src,
                                            std::size_t len, std::uint8_t seed) {
    std::vector<std::uint8_t> f(len);
    std::copy(dst.bytes().begin(), dst.bytes().end(), f.begin());
    std::copy(src.bytes().begin(), src.bytes().end(), f.begin() + 6);
    f[12] = 0x88;
    f[13] = 0xb5;
    for (std::size_t i = 14; i < len; ++i) f[i] = static_cast<std::uint8_t>(seed + i);
    return f;
}

// A sink on the wire that counts what arrives (for tests without a partner).
struct wire_sink : sc_core::sc_module, net::frame_if {
    sc_core::sc_export<net::frame_if> in{"in"};
    sc_core::sc_port<net::frame_if> out{"out"};
    std::vector<std::pair<tick_t, std::vector<std::uint8_t>>> frames;
    explicit wire_sink(const sc_core::sc_module_name& n) : sc_module(n) { in.bind(*this); }
    void deliver(const std::vector<std::uint8_t>& f, tick_t at) override {
        frames.emplace_back(at, f);
    }
};

}  // namespace iovsim::nic::testing

#include "sriov-nic/nic.h"

#include <fmt/format.h>

#include <algorithm>
#include <optional>
#include <stdexcept>

#include "models/core/bits.h"
#include "models/core/sc_glue.h"
#include "models/net/link_partners.h"
#include "models/pcie/capabilities.h"
#include "models/pcie/link_core.h"
#include "models/pcie/tlp.h"
#include "models/pcie/tlp_layout.h"

namespace iovsim::nic {

namespace {

constexpr std::uint32_t vector_control = 12;  // MSI-X table entry: Vector Control
constexpr std::uint32_t vector_mask_bit = 1;

port_id port_of(unsigned fn) {
    return fn == 0 ? port_id::pf() : port_id::vf_port(static_cast<std::uint16_t>(fn - 1));
}
unsigned function_of_port(port_id p) { return p.type == port_id::kind::pf ? 0u : p.vf + 1u; }

void check_params(const nic_params& p) {
    auto bad = [](const char* key, const std::string& why) {
        throw std::invalid_argument(fmt::format("nic: {} {}", key, why));
    };
    if (!(p.core_clock_hz > 0)) bad("nic.core_clock", "must be positive");
    if (p.dma_issue_cycles == 0) bad("nic.dma_issue_cycles", "must be at least 1");
    if (p.max_read_requests == 0 || p.max_read_requests > 256)
        bad("nic.max_read_requests", "must be in 1..256");
    if (p.tx_prefetch == 0 || p.tx_prefetch > 256) bad("nic.tx_prefetch", "must be in 1..256");
    if (p.rx_prefetch == 0 || p.rx_prefetch > 256) bad("nic.rx_prefetch", "must be in 1..256");
    if (!(p.wire.line_rate_bps > 0)) bad("nic.wire_rate", "must be positive");
    if (p.wire.length_m < 0 || p.wire.delay_ns_per_m < 0)
        bad("nic.wire_length", "and delay must not be negative");
    if (p.max_frame_bytes < net::min_frame_bytes || p.max_frame_bytes > 16384)
        bad("nic.max_frame_bytes", "must be in 64..16384");
}

}  // namespace

struct nic::function_state {
    register_bank regs;
    std::uint16_t msix_cap = 0;
    unsigned vectors = 0;
    int msix_bir = 3;
    std::uint64_t table_off = 0;
    std::uint64_t pba_off = 0;
    std::vector<std::uint8_t> table;
    std::vector<bool> pba;
    std::vector<bool> sent;
    std::vector<bool> deferred;
    std::vector<tick_t> last_msg;
    std::uint32_t rx_fetch = 0;  // next RX descriptor to prefetch
    std::deque<std::pair<std::uint32_t, descriptor_bytes_t>> rx_cache;
    std::vector<std::uint8_t> tx_partial;  // buffers of a frame not yet at EOP
    bool tx_oversize = false;              // the frame passed max_frame_bytes: dropped at EOP
    bool tx_queued = false;
    function_stats st;
};

nic::nic(sc_core::sc_module_name name, const nic_params& p)
    : sc_module(name),
      link_in("link_in"),
      link_out("link_out"),
      wire_out("wire_out"),
      wire_in("wire_in"),
      m_p((check_params(p), p)),
      m_functions(p.pf_id, p.functions),
      m_switch(p.functions.sriov.total_vfs),
      m_wire(p.wire),
      m_fn(std::size_t{p.functions.sriov.total_vfs} + 1),
      m_tags(std::make_unique<pcie::tag_pool>(p.max_read_requests)) {
    m_pf_pcie_cap = m_functions.pf().find_capability(pcie::cap_id::pci_express).value_or(0);
    wire_in.bind(*this);
    link_in.register_b_transport(this, &nic::b_transport);
    // After nic_functions' own hook on the register, so the VFs are already gone.
    m_functions.pf().on_write(m_functions.sriov().offset() + sriov_reg::control, 2,
                              [this](std::uint16_t, unsigned) { vfs_changed(); });
    SC_THREAD(tx_thread);
    SC_THREAD(rx_thread);
    SC_THREAD(irq_thread);
}

nic::~nic() = default;

tick_t nic::cycles(unsigned n) const { return cycles_to_ticks(n, m_p.core_clock_hz); }

pcie::config_space& nic::config(unsigned fn) {
    return fn == 0 ? m_functions.pf() : m_functions.vf(fn - 1).config();
}

pcie::routing_id nic::requester(unsigned fn) const {
    return fn == 0 ? m_functions.pf_id() : m_functions.vf_id(fn - 1);
}

int nic::function_of(pcie::routing_id id) const {
    if (m_functions.is_pf(id)) return 0;
    if (auto k = m_functions.vf_index(id)) return static_cast<int>(*k) + 1;
    return -1;
}

std::string nic::function_name(unsigned fn) const {
    return fn == 0 ? "pf" : fmt::format("vf{}", fn - 1);
}

// --- Per-function state and its register map ---

nic::function_state& nic::state(unsigned fn) {
    if (fn >= m_fn.size()) throw std::out_of_range(fmt::format("nic: no function {}", fn));
    if (m_fn[fn]) return *m_fn[fn];
    pcie::config_space& cs = config(fn);  // throws std::out_of_range for an absent VF
    auto f = std::make_unique<function_state>();
    f->msix_cap = cs.find_capability(pcie::cap_id::msix).value_or(0);
    const pf_params& pp = m_p.functions;
    f->vectors = fn == 0 ? pp.msix_vectors : pp.vf.msix_vectors;
    f->msix_bir = fn == 0 ? pp.msix_bir : pp.vf.msix_table_bir;
    f->table_off = fn == 0 ? pp.msix_table_offset : pp.vf.msix_table_offset;
    f->pba_off = fn == 0 ? pp.msix_pba_offset : pp.vf.msix_pba_offset;
    f->table.assign(std::size_t{f->vectors} * pcie::msix_reg::table_entry_bytes, 0);
    for (unsigned v = 0; v < f->vectors; ++v)  // every vector masked at reset
        f->table[v * pcie::msix_reg::table_entry_bytes + vector_control] = vector_mask_bit;
    f->pba.assign(f->vectors, false);
    f->sent.assign(f->vectors, false);
    f->deferred.assign(f->vectors, false);
    f->last_msg.assign(f->vectors, 0);

    using namespace nic_reg;
    register_bank& r = f->regs;
    function_state* fs = f.get();
    auto ring_of = [fs](bool tx) -> std::optional<descriptor_ring> {
        const register_bank& b = fs->regs;
        const std::uint64_t base =
            b.get(tx ? tdbal : rdbal) | std::uint64_t{b.get(tx ? tdbah : rdbah)} << 32;
        try {
            descriptor_ring ring(base, b.get(tx ? tdlen : rdlen));
            if (!ring.valid_index(b.get(tx ? tdh : rdh)) ||
                !ring.valid_index(b.get(tx ? tdt : rdt)))
                return std::nullopt;
            return ring;
        } catch (const std::invalid_argument&) {
            return std::nullopt;
        }
    };
    auto update_status = [fs] {
        const std::uint32_t c = fs->regs.get(ctrl);
        std::uint32_t s = fs->regs.get(status) & ~(status_bits::tx_active | status_bits::rx_active);
        if (c & ctrl_bits::txen) s |= status_bits::tx_active;
        if (c & ctrl_bits::rxen) s |= status_bits::rx_active;
        fs->regs.set(status, s);
    };
    r.define(ctrl, 0, ctrl_bits::txen | ctrl_bits::rxen, 0,
             [this, fn, fs, ring_of, update_status](std::uint32_t old) {
                 register_bank& b = fs->regs;
                 const std::uint32_t now = b.get(ctrl);
                 if ((now & ctrl_bits::txen) && !(old & ctrl_bits::txen)) {
                     if (!ring_of(true)) {
                         b.clear_bits(ctrl, ctrl_bits::txen);
                         b.set_bits(status, status_bits::tx_ring_err);
                         fs->st.ring_errors.inc();
                     } else {
                         fs->tx_partial.clear();
                         fs->tx_oversize = false;
                         tx_queue_work(fn, m_access_time + cycles(m_p.doorbell_cycles));
                     }
                 }
                 if ((now & ctrl_bits::rxen) && !(old & ctrl_bits::rxen)) {
                     if (!ring_of(false)) {
                         b.clear_bits(ctrl, ctrl_bits::rxen);
                         b.set_bits(status, status_bits::rx_ring_err);
                         fs->st.ring_errors.inc();
                     } else {
                         fs->rx_fetch = b.get(rdh);
                         fs->rx_cache.clear();
                     }
                 }
                 if (!(now & ctrl_bits::rxen)) fs->rx_cache.clear();
                 update_status();
             });
    r.define(status, 0, 0,
             status_bits::tx_ring_err | status_bits::rx_ring_err | status_bits::tx_dma_err |
                 status_bits::rx_dma_err);
    r.define(icr, 0, 0, icr_bits::rxt | icr_bits::txdw | icr_bits::err);
    r.define(ims, 0, icr_bits::rxt | icr_bits::txdw | icr_bits::err);
    r.define(ral, 0, 0);
    r.define(rah, 0, 0);
    r.define(rx_nodesc, 0, 0);
    r.define(dma_errors, 0, 0);
    // Ring base and length: fixed while the queue is enabled (a write then is ignored).
    auto locked = [fs](std::uint32_t reg, std::uint32_t enable) {
        return [fs, reg, enable](std::uint32_t old) {
            if (fs->regs.get(ctrl) & enable) fs->regs.set(reg, old);
        };
    };
    for (std::uint32_t reg : {tdbal, tdbah, tdlen, tdh})
        r.define(reg, 0, ~0u, 0, locked(reg, ctrl_bits::txen));
    for (std::uint32_t reg : {rdbal, rdbah, rdlen, rdh})
        r.define(reg, 0, ~0u, 0, locked(reg, ctrl_bits::rxen));
    // Doorbells: a tail outside the ring is a driver error (ignored, STATUS ring error).
    r.define(tdt, 0, ~0u, 0, [this, fn, fs](std::uint32_t old) {
        register_bank& b = fs->regs;
        if (!(b.get(ctrl) & ctrl_bits::txen)) return;
        if (b.get(tdt) >= b.get(tdlen)) {
            b.set(tdt, old);
            b.set_bits(status, status_bits::tx_ring_err);
            fs->st.ring_errors.inc();
            return;
        }
        trace_rings(fn, m_access_time);
        tx_queue_work(fn, m_access_time + cycles(m_p.doorbell_cycles));
    });
    r.define(rdt, 0, ~0u, 0, [this, fn, fs](std::uint32_t old) {
        register_bank& b = fs->regs;
        if ((b.get(ctrl) & ctrl_bits::rxen) && b.get(rdt) >= b.get(rdlen)) {
            b.set(rdt, old);
            b.set_bits(status, status_bits::rx_ring_err);
            fs->st.ring_errors.inc();
            return;
        }
        trace_rings(fn, m_access_time);
    });
    r.define(rxbufsz, rxbufsz_reset, ~0u, 0, [fs](std::uint32_t old) {
        const std::uint32_t v = fs->regs.get(rxbufsz);
        if (v == 0 || v > rxbufsz_max) {
            fs->regs.set(rxbufsz, old);
            fs->st.ring_errors.inc();
        }
    });
    m_fn[fn] = std::move(f);
    return *m_fn[fn];
}

void nic::set_mac(unsigned function, net::mac_address mac, std::uint16_t vlan, bool spoof_check) {
    function_state& f = state(function);
    if (function == 0)
        m_switch.set_pf(mac, vlan);
    else
        m_switch.set_vf(static_cast<std::uint16_t>(function - 1), mac, vlan, spoof_check);
    const auto& b = mac.bytes();
    f.regs.set(nic_reg::ral, load_le<std::uint32_t>(b.data()));
    f.regs.set(nic_reg::rah, std::uint32_t{b[4]} | std::uint32_t{b[5]} << 8);
}

const function_stats& nic::stats(unsigned function) { return state(function).st; }

bool nic::msix_pending_bit(unsigned function, unsigned vector) {
    const function_state& f = state(function);
    return vector < f.vectors && f.pba[vector];
}

void nic::capture_wire(const std::string& path) {
    m_wire_pcap = std::make_unique<net::wire_capture>(path);
}
void nic::capture_veb(const std::string& path) {
    m_veb_pcap = std::make_unique<net::wire_capture>(path);
}
void nic::flush_captures() {
    if (m_wire_pcap) m_wire_pcap->flush();
    if (m_veb_pcap) m_veb_pcap->flush();
}

// --- Requests from the host ---

void nic::b_transport(tlm::tlm_generic_payload& t, sc_core::sc_time& delay) {
    pcie::tlp_extension* ext = nullptr;
    t.get_extension(ext);
    t.set_response_status(tlm::TLM_OK_RESPONSE);
    const tick_t at = now_ticks(delay);
    if (ext && ext->type != pcie::tlp_type::memory) {
        // Type 0 reaches the functions on the PF's bus; VFs on further bus numbers are reached
        // by Type 1 requests, which a device using more than one bus number claims itself
        // (PCIe Base 4.0 §9.2.1.2: the upstream port does not convert them).
        const bool type1_to_own_bus =
            ext->type == pcie::tlp_type::config_type1 && ext->target.bus != m_functions.pf_id().bus;
        if (ext->type != pcie::tlp_type::config_type0 && !type1_to_own_bus) {
            m_unsupported.inc();
            t.set_response_status(tlm::TLM_ADDRESS_ERROR_RESPONSE);
            return;
        }
        config_access(t, ext->target, at);
        return;
    }
    const unsigned len = t.get_data_length();
    unsigned fn = 0;
    int bar = 0;
    std::uint64_t off = 0;
    if ((len != 4 && len != 8) || !decode(t.get_address(), len, fn, bar, off) || (off & 3) ||
        t.get_byte_enable_ptr()) {
        m_unsupported.inc();
        t.set_response_status(tlm::TLM_ADDRESS_ERROR_RESPONSE);
        return;
    }
    unsigned char* data = t.get_data_ptr();
    const function_state& f = state(fn);
    m_access_time = at;
    for (unsigned dw = 0; dw < len / 4; ++dw) {
        const std::uint64_t o = off + 4 * dw;
        unsigned char* p = data + 4 * dw;
        if (bar == 0) {
            if (o >= nic_reg::page_bytes) {
                if (t.is_read()) store_le<std::uint32_t>(p, 0);
            } else if (t.is_read()) {
                store_le<std::uint32_t>(p, state(fn).regs.read(static_cast<std::uint32_t>(o)));
            } else {
                state(fn).regs.write(static_cast<std::uint32_t>(o), load_le<std::uint32_t>(p));
            }
        } else if (bar == f.msix_bir) {
            msix_access(fn, o, p, t.is_write(), at);
        } else if (t.is_read()) {
            store_le<std::uint32_t>(p, 0);
        }
    }
}

void nic::config_access(tlm::tlm_generic_payload& t, const pcie::routing_id& target, tick_t at) {
    const auto off = static_cast<std::uint16_t>(t.get_address());
    const unsigned len = t.get_data_length();
    unsigned char* data = t.get_data_ptr();
    if (t.get_address() > 0xfff || !pcie::config_space::access_ok(off, len) ||
        !m_functions.present(target)) {
        m_unsupported.inc();
        t.set_response_status(tlm::TLM_ADDRESS_ERROR_RESPONSE);  // Unsupported Request
        return;
    }
    if (t.is_read()) {
        const std::uint32_t v = m_functions.config_read(target, off, len);
        for (unsigned i = 0; i < len; ++i) data[i] = static_cast<unsigned char>(v >> (8 * i));
        return;
    }
    std::uint32_t v = 0;
    for (unsigned i = 0; i < len; ++i) v |= std::uint32_t{data[i]} << (8 * i);
    m_functions.config_write(target, off, len, v);
    const int fn = function_of(target);
    if (fn < 0) return;
    // Bus Master Enable or the MSI-X Function Mask may have changed: pending work and messages.
    release_pending(static_cast<unsigned>(fn), at);
    if (config(static_cast<unsigned>(fn)).bus_master_enabled())
        tx_queue_work(static_cast<unsigned>(fn), at + cycles(m_p.doorbell_cycles));
}

bool nic::decode(std::uint64_t addr, std::uint32_t len, unsigned& fn, int& bar,
                 std::uint64_t& off) const {
    if (auto h = m_functions.pf().decode(addr, len)) {
        fn = 0;
        bar = h->first;
        off = h->second;
        return true;
    }
    const sriov_capability& sr = m_functions.sriov();
    const unsigned vfs = m_functions.vf_count();
    for (const vf_bar_params& vb : sr.params().vf_bars) {
        const std::uint64_t base = sr.vf_bar_base(vb.index);
        const std::uint64_t size = sr.vf_bar_size(vb.index);
        if (base == 0 || size == 0 || addr < base) continue;
        const std::uint64_t k = (addr - base) / size;
        if (k >= vfs) continue;
        if (auto h = m_functions.vf(static_cast<unsigned>(k)).decode(addr, len)) {
            fn = static_cast<unsigned>(k) + 1;
            bar = h->first;
            off = h->second;
            return true;
        }
    }
    return false;
}

void nic::msix_access(unsigned fn, std::uint64_t off, unsigned char* p, bool write, tick_t at) {
    function_state& f = state(fn);
    if (off >= f.table_off && off < f.table_off + f.table.size()) {
        std::uint8_t* entry = f.table.data() + (off - f.table_off);
        if (!write) {
            std::copy(entry, entry + 4, p);
            return;
        }
        std::copy(p, p + 4, entry);
        if ((off - f.table_off) % pcie::msix_reg::table_entry_bytes == vector_control)
            release_pending(fn, at);
        return;
    }
    const std::uint64_t pba_bytes = (std::uint64_t{f.vectors} + 63) / 64 * 8;
    if (off >= f.pba_off && off < f.pba_off + pba_bytes) {
        if (write) return;  // the PBA is read-only
        const std::uint64_t first = (off - f.pba_off) * 8;
        std::uint32_t v = 0;
        for (unsigned i = 0; i < 32; ++i)
            if (first + i < f.vectors && f.pba[first + i]) v |= 1u << i;
        store_le<std::uint32_t>(p, v);
        return;
    }
    if (!write) store_le<std::uint32_t>(p, 0);
}

// --- MSI-X ---

bool nic::vector_masked(unsigned fn, unsigned vector) {
    const function_state& f = state(fn);
    const std::uint32_t mc = config(fn).peek(f.msix_cap + pcie::msix_reg::message_control, 2);
    return (mc & pcie::msix_reg::function_mask) ||
           (f.table[vector * pcie::msix_reg::table_entry_bytes + vector_control] & vector_mask_bit);
}

void nic::raise_cause(unsigned fn, std::uint32_t cause, tick_t at) {
    function_state& f = state(fn);
    f.regs.set_bits(nic_reg::icr, cause);
    const std::uint32_t enabled = cause & f.regs.get(nic_reg::ims);
    if (enabled & (nic_reg::icr_bits::rxt | nic_reg::icr_bits::err))
        raise_msix(fn, nic_reg::rx_vector, at);
    if (enabled & nic_reg::icr_bits::txdw) raise_msix(fn, nic_reg::tx_vector, at);
}

void nic::raise_msix(unsigned fn, unsigned vector, tick_t at) {
    function_state& f = state(fn);
    if (vector >= f.vectors) return;
    const std::uint32_t mc = config(fn).peek(f.msix_cap + pcie::msix_reg::message_control, 2);
    if (!(mc & pcie::msix_reg::enable)) return;
    // A message is a memory write: with Bus Master Enable clear it stays pending (§7.5.1.1.3).
    if (vector_masked(fn, vector) || !config(fn).bus_master_enabled()) {
        if (!f.pba[vector]) f.st.msix_pending.inc();
        f.pba[vector] = true;
        return;
    }
    if (m_p.interrupt_interval > 0 && f.sent[vector] &&
        at < f.last_msg[vector] + m_p.interrupt_interval) {
        if (!f.deferred[vector]) {
            f.deferred[vector] = true;
            m_irq.push({f.last_msg[vector] + m_p.interrupt_interval, fn, vector});
            m_irq_event.notify(sc_core::SC_ZERO_TIME);
        }
        return;
    }
    send_msix(fn, vector, at);
}

void nic::send_msix(unsigned fn, unsigned vector, tick_t at) {
    function_state& f = state(fn);
    f.pba[vector] = false;
    const std::uint8_t* e = f.table.data() + vector * pcie::msix_reg::table_entry_bytes;
    const std::uint64_t addr =
        load_le<std::uint32_t>(e) | std::uint64_t{load_le<std::uint32_t>(e + 4)} << 32;
    std::uint8_t data[4];
    std::copy(e + 8, e + 12, data);
    const tick_t start = m_issue.reserve(at, cycles(m_p.dma_issue_cycles));
    bool ok = true;
    issue(fn, true, addr, data, 4, start, ok);
    f.sent[vector] = true;
    f.last_msg[vector] = start;
    f.st.interrupts.inc();
}

void nic::release_pending(unsigned fn, tick_t at) {
    if (!m_fn[fn]) return;
    function_state& f = *m_fn[fn];
    for (unsigned v = 0; v < f.vectors; ++v) {
        if (!f.pba[v] || vector_masked(fn, v) || !config(fn).bus_master_enabled()) continue;
        f.pba[v] = false;
        raise_msix(fn, v, at);
    }
}

void nic::irq_thread() {
    for (;;) {
        if (m_irq.empty()) {
            sc_core::wait(m_irq_event);
            continue;
        }
        const tick_t now = now_ticks();
        const irq_item it = m_irq.top();
        if (it.time > now) {
            sc_core::wait(to_sc_time(it.time - now), m_irq_event);
            continue;
        }
        m_irq.pop();
        if (!exists(it.function)) continue;
        state(it.function).deferred[it.vector] = false;
        raise_msix(it.function, it.vector, now);
    }
}

// --- DMA ---

std::uint32_t nic::mps() const {
    const std::uint32_t code =
        (m_functions.pf().peek(m_pf_pcie_cap + pcie::pcie_reg::device_control, 2) >> 5) & 7;
    return std::min(128u << std::min(code, 5u), m_p.functions.max_payload_supported);
}

std::uint32_t nic::mrrs() const {
    const std::uint32_t code =
        (m_functions.pf().peek(m_pf_pcie_cap + pcie::pcie_reg::device_control, 2) >> 12) & 7;
    return 128u << std::min(code, 5u);
}

tick_t nic::issue(unsigned fn, bool write, std::uint64_t addr, std::uint8_t* data,
                  std::uint32_t len, tick_t at, bool& ok) {
    tlm::tlm_generic_payload t;
    pcie::tlp_extension ext;
    ext.requester = requester(fn);
    set_request(t, write ? tlm::TLM_WRITE_COMMAND : tlm::TLM_READ_COMMAND, addr, data, len);
    t.set_extension(&ext);
    sc_core::sc_time delay = to_sc_time(at) - sc_core::sc_time_stamp();
    link_out->b_transport(t, delay);
    t.clear_extension(&ext);
    if (!t.is_response_ok()) ok = false;
    return now_ticks(delay);
}

tick_t nic::dma(unsigned fn, bool write, std::uint64_t addr, std::uint8_t* data, std::uint32_t len,
                tick_t at, bool& ok) {
    if (len == 0) return at;
    if (addr > ~std::uint64_t{0} - len) {  // wraps the address space: no request can carry it
        ok = false;
        return at;
    }
    const auto chunks =
        write ? pcie::split_write(addr, len, mps()) : pcie::split_read(addr, len, mrrs());
    tick_t done = at;
    for (const pcie::chunk& c : chunks) {
        const tick_t ready = write ? at : std::max(at, m_tags->acquire(at));
        const tick_t start = m_issue.reserve(ready, cycles(m_p.dma_issue_cycles));
        bool chunk_ok = true;
        const tick_t back =
            issue(fn, write, c.addr, data + (c.addr - addr), c.len, start, chunk_ok);
        if (write) {
            done = std::max(done, back);
        } else {
            m_tags->release(back);
            done = std::max(done, back + cycles(m_p.completion_cycles));
        }
        if (!chunk_ok) {
            ok = false;
            break;
        }
    }
    return done;
}

void nic::queue_error(unsigned fn, bool tx, tick_t at) {
    function_state& f = state(fn);
    f.st.dma_errors.inc();
    f.regs.set(nic_reg::dma_errors, f.regs.get(nic_reg::dma_errors) + 1);
    f.regs.clear_bits(nic_reg::ctrl, tx ? nic_reg::ctrl_bits::txen : nic_reg::ctrl_bits::rxen);
    f.regs.clear_bits(nic_reg::status,
                      tx ? nic_reg::status_bits::tx_active : nic_reg::status_bits::rx_active);
    f.regs.set_bits(nic_reg::status,
                    tx ? nic_reg::status_bits::tx_dma_err : nic_reg::status_bits::rx_dma_err);
    if (tx) {
        f.tx_partial.clear();
        f.tx_oversize = false;
    } else {
        f.rx_cache.clear();
    }
    raise_cause(fn, nic_reg::icr_bits::err, at);
}

// --- TX ---

void nic::tx_queue_work(unsigned fn, tick_t ready) {
    function_state& f = state(fn);
    if (f.tx_queued) return;
    f.tx_queued = true;
    m_tx_work.emplace_back(fn, ready);
    m_tx_event.notify(sc_core::SC_ZERO_TIME);
}

void nic::tx_thread() {
    for (;;) {
        if (m_tx_work.empty()) {
            sc_core::wait(m_tx_event);
            continue;
        }
        const auto [fn, ready] = m_tx_work.front();
        m_tx_work.pop_front();
        if (ready > now_ticks()) sc_core::wait(to_sc_time(ready - now_ticks()));
        if (m_fn[fn]) m_fn[fn]->tx_queued = false;
        const tick_t end = tx_batch(fn, now_ticks());
        if (end > now_ticks()) sc_core::wait(to_sc_time(end - now_ticks()));
    }
}

// One batch of descriptors of `fn`'s TX ring from local time `t`; returns when the engine is
// done with it. Requeues the function if descriptors remain.
tick_t nic::tx_batch(unsigned fn, tick_t t) {
    using namespace nic_reg;
    if (!exists(fn)) return t;  // the VF went away with VF Enable
    function_state& f = state(fn);
    register_bank& b = f.regs;
    if (!(b.get(ctrl) & ctrl_bits::txen)) return t;
    const std::uint64_t base = b.get(tdbal) | std::uint64_t{b.get(tdbah)} << 32;
    const descriptor_ring ring(base, b.get(tdlen));  // checked when TXEN was set
    const std::uint32_t head = b.get(tdh);
    const std::uint32_t pending = ring.pending(head, b.get(tdt));
    if (pending == 0) return t;
    if (!config(fn).bus_master_enabled()) {
        f.st.bme_blocked.inc();  // resumes when a configuration write sets BME
        return t;
    }
    const std::uint32_t n = std::min({pending, m_p.tx_prefetch, ring.size() - head});
    std::vector<std::uint8_t> descs(std::size_t{n} * descriptor_bytes);
    bool ok = true;
    const tick_t fetched = dma(fn, false, ring.address(head), descs.data(),
                               static_cast<std::uint32_t>(descs.size()), t, ok);
    if (!ok) {
        queue_error(fn, true, fetched);
        return fetched;
    }
    tick_t ready = fetched;  // the frame being built is complete at `ready`
    tick_t end = fetched;
    tick_t written_back = 0;
    for (std::uint32_t i = 0; i < n; ++i) {
        descriptor_bytes_t db;
        std::copy_n(descs.begin() + i * descriptor_bytes, descriptor_bytes, db.begin());
        const tx_descriptor d = tx_descriptor::decode(db);
        if (!f.tx_oversize &&
            f.tx_partial.size() + d.length + net::fcs_bytes > m_p.max_frame_bytes) {
            f.tx_oversize = true;  // its buffers are no longer read
            f.tx_partial.clear();
            f.tx_partial.shrink_to_fit();
        }
        if (d.length > 0 && !f.tx_oversize) {
            const std::size_t old = f.tx_partial.size();
            f.tx_partial.resize(old + d.length);
            const tick_t got =
                dma(fn, false, d.buffer_address, f.tx_partial.data() + old, d.length, fetched, ok);
            ready = std::max(ready, got);
            if (!ok) {
                b.set(tdh, ring.advance(head, i));
                queue_error(fn, true, got);
                return got;
            }
        }
        if (d.cmd & tx_cmd::eop) {
            std::vector<std::uint8_t> frame;
            frame.swap(f.tx_partial);
            if (f.tx_oversize) {
                f.tx_oversize = false;
                f.st.tx_oversize.inc();
            } else if (frame.size() < net::mac_header_bytes) {
                f.st.tx_malformed.inc();
            } else {
                f.st.tx_frames.inc();
                f.st.tx_bytes.inc(frame.size());
                if (frame.size() < net::min_frame_bytes - net::fcs_bytes)
                    frame.resize(net::min_frame_bytes - net::fcs_bytes);
                net::set_fcs(frame, true);
                switch_frame(port_of(fn), std::move(frame), ready);
            }
        }
        if (d.cmd & tx_cmd::rs) {
            std::uint8_t status = d.status | desc_status::dd;
            const tick_t wb = dma(fn, true, ring.address(head + i) + tx_descriptor::status_offset,
                                  &status, 1, ready, ok);
            if (!ok) {
                b.set(tdh, ring.advance(head, i + 1));
                queue_error(fn, true, wb);
                return wb;
            }
            written_back = std::max(written_back, wb);
            end = std::max(end, wb);
        }
        end = std::max(end, ready);
    }
    b.set(tdh, ring.advance(head, n));
    trace_rings(fn, end);
    if (written_back) raise_cause(fn, icr_bits::txdw, written_back);
    if (ring.pending(b.get(tdh), b.get(tdt)) != 0) tx_queue_work(fn, end);
    return end;
}

void nic::trace_rings(unsigned fn, tick_t at) {
    using namespace nic_reg;
    if (!m_tracer.enabled()) return;
    register_bank& b = state(fn).regs;
    const auto occupancy = [&](std::uint32_t len, std::uint32_t head, std::uint32_t tail) {
        const bool ring = len >= descriptor_ring::min_size && (len & (len - 1)) == 0;
        return ring ? (tail - head) & (len - 1) : 0u;  // not a ring yet: nothing owned
    };
    auto it = m_ring_signals.find(fn);
    if (it == m_ring_signals.end()) {
        const std::string name = fmt::format("f{}", fn);
        it = m_ring_signals
                 .emplace(fn, std::make_pair(m_tracer.declare_signal(name + ".tx_ring", 16),
                                             m_tracer.declare_signal(name + ".rx_ring", 16)))
                 .first;
    }
    m_tracer.change(at, it->second.first, occupancy(b.get(tdlen), b.get(tdh), b.get(tdt)));
    m_tracer.change(at, it->second.second, occupancy(b.get(rdlen), b.get(rdh), b.get(rdt)));
}

// --- Switch and wire ---

void nic::switch_frame(port_id ingress, std::vector<std::uint8_t> frame, tick_t t) {
    t += cycles(m_p.switch_cycles);
    const auto mac_at = [&frame](std::size_t at) {
        std::array<std::uint8_t, 6> m;
        std::copy_n(frame.begin() + at, 6, m.begin());
        return net::mac_address(m);
    };
    std::optional<std::uint16_t> vid;
    if (frame.size() >= 18 && frame[12] == 0x81 && frame[13] == 0x00)
        vid = static_cast<std::uint16_t>((frame[14] << 8 | frame[15]) & 0xfff);
    const forward_decision d = m_switch.forward(ingress, mac_at(0), mac_at(6), vid, m_egress);
    if (d.drop) return;
    const std::vector<port_id> egress = m_egress;
    for (const port_id& out : egress) {
        if (out.type == port_id::kind::uplink) {
            const net::wire_transfer w = m_wire.transmit(t, frame.size());
            m_wire_tx.inc();
            if (m_wire_pcap) m_wire_pcap->capture(w.start, frame, now_ticks());
            wire_out->deliver(frame, w.arrival);
            continue;
        }
        if (ingress.type != port_id::kind::uplink && m_veb_pcap)
            m_veb_pcap->capture(t, frame, now_ticks());
        m_rx.push({t, m_rx_seq++, static_cast<int>(function_of_port(out)), frame});
        m_rx_event.notify(sc_core::SC_ZERO_TIME);
    }
}

void nic::deliver(const std::vector<std::uint8_t>& frame, tick_t arrival) {
    // Captured as it arrives, not when the RX engine gets to it (which may be after later TX
    // frames were written to the file): a bad-FCS frame never passes the MAC, so neither here.
    if (m_wire_pcap && net::fcs_ok(frame)) m_wire_pcap->capture(arrival, frame, now_ticks());
    m_rx.push({arrival, m_rx_seq++, -1, frame});
    m_rx_event.notify(sc_core::SC_ZERO_TIME);
}

// --- RX ---

void nic::rx_thread() {
    for (;;) {
        if (m_rx.empty()) {
            sc_core::wait(m_rx_event);
            continue;
        }
        const tick_t now = now_ticks();
        if (m_rx.top().time > now) {
            sc_core::wait(to_sc_time(m_rx.top().time - now), m_rx_event);
            continue;
        }
        rx_item it = m_rx.top();
        m_rx.pop();
        if (it.function < 0) {
            if (!net::fcs_ok(it.frame)) {
                m_wire_fcs_errors.inc();
                continue;
            }
            m_wire_rx.inc();
            switch_frame(port_id::uplink(), std::move(it.frame), now);
            continue;
        }
        const tick_t done = rx_frame(static_cast<unsigned>(it.function), it.frame, now);
        if (done > now_ticks()) sc_core::wait(to_sc_time(done - now_ticks()));
    }
}

tick_t nic::rx_frame(unsigned fn, const std::vector<std::uint8_t>& frame, tick_t t) {
    using namespace nic_reg;
    if (!exists(fn)) {  // the VF went away with VF Enable
        m_vf_disabled.inc();
        return t;
    }
    function_state& f = state(fn);
    register_bank& b = f.regs;
    if (!(b.get(ctrl) & ctrl_bits::rxen)) {
        f.st.rx_disabled.inc();
        return t;
    }
    if (!config(fn).bus_master_enabled()) {
        f.st.bme_blocked.inc();
        return t;
    }
    const std::uint64_t base = b.get(rdbal) | std::uint64_t{b.get(rdbah)} << 32;
    const descriptor_ring ring(base, b.get(rdlen));  // checked when RXEN was set
    bool ok = true;
    if (f.rx_cache.empty()) {
        const std::uint32_t avail = ring.pending(f.rx_fetch, b.get(rdt));
        if (avail == 0) {
            f.st.rx_no_descriptor.inc();
            b.set(rx_nodesc, b.get(rx_nodesc) + 1);
            return t;
        }
        const std::uint32_t n = std::min({avail, m_p.rx_prefetch, ring.size() - f.rx_fetch});
        std::vector<std::uint8_t> descs(std::size_t{n} * descriptor_bytes);
        t = dma(fn, false, ring.address(f.rx_fetch), descs.data(),
                static_cast<std::uint32_t>(descs.size()), t, ok);
        if (!ok) {
            queue_error(fn, false, t);
            return t;
        }
        for (std::uint32_t i = 0; i < n; ++i) {
            descriptor_bytes_t db;
            std::copy_n(descs.begin() + i * descriptor_bytes, descriptor_bytes, db.begin());
            f.rx_cache.emplace_back(ring.advance(f.rx_fetch, i), db);
        }
        f.rx_fetch = ring.advance(f.rx_fetch, n);
    }
    const auto [index, db] = f.rx_cache.front();
    f.rx_cache.pop_front();
    rx_descriptor d = rx_descriptor::decode(db);
    auto len = static_cast<std::uint32_t>(frame.size() - net::fcs_bytes);
    std::uint8_t errors = 0;
    if (len > b.get(rxbufsz)) {
        len = b.get(rxbufsz);
        errors |= rx_error::le;
    }
    std::vector<std::uint8_t> data(frame.begin(), frame.begin() + len);
    const tick_t wrote = dma(fn, true, d.buffer_address, data.data(), len, t, ok);
    if (!ok) {
        b.set(rdh, index);
        queue_error(fn, false, wrote);
        return wrote;
    }
    d.length = static_cast<std::uint16_t>(len);
    d.status = desc_status::dd | desc_status::eop;
    d.errors = errors;
    d.vlan = 0;
    descriptor_bytes_t wb = d.encode();
    const tick_t wb_done =
        dma(fn, true, ring.address(index) + rx_descriptor::writeback_offset,
            wb.data() + rx_descriptor::writeback_offset, rx_descriptor::writeback_bytes, t, ok);
    if (!ok) {
        b.set(rdh, index);
        queue_error(fn, false, wb_done);
        return wb_done;
    }
    b.set(rdh, ring.next(index));
    trace_rings(fn, wb_done);
    f.st.rx_frames.inc();
    f.st.rx_bytes.inc(len);
    raise_cause(fn, icr_bits::rxt, t);
    return std::max({wrote, wb_done, m_issue.free_at()});
}

// --- VF Enable ---

void nic::vfs_changed() {
    using namespace nic_reg;
    const unsigned now = m_functions.vf_count();
    const unsigned before = m_vfs;
    m_vfs = now;
    if (now >= before) return;
    const auto gone = [now](unsigned fn) { return fn > now; };  // VF fn - 1 >= now
    for (unsigned fn = now + 1; fn <= before; ++fn) {
        m_switch.clear_vf(static_cast<std::uint16_t>(fn - 1));
        if (!m_fn[fn]) continue;
        function_state& f = *m_fn[fn];
        f.regs.clear_bits(ctrl, ctrl_bits::txen | ctrl_bits::rxen);
        f.regs.clear_bits(status, status_bits::tx_active | status_bits::rx_active);
        f.tx_partial.clear();
        f.tx_oversize = false;
        f.tx_queued = false;
        f.rx_cache.clear();
        std::fill(f.pba.begin(), f.pba.end(), false);
        std::fill(f.deferred.begin(), f.deferred.end(), false);
    }
    m_tx_work.erase(std::remove_if(m_tx_work.begin(), m_tx_work.end(),
                                   [&](const auto& w) { return gone(w.first); }),
                    m_tx_work.end());
    std::vector<rx_item> keep;
    while (!m_rx.empty()) {
        rx_item it = m_rx.top();
        m_rx.pop();
        if (it.function >= 0 && gone(static_cast<unsigned>(it.function)))
            m_vf_disabled.inc();
        else
            keep.push_back(std::move(it));
    }
    for (rx_item& it : keep) m_rx.push(std::move(it));
    std::vector<irq_item> irqs;
    while (!m_irq.empty()) {
        if (!gone(m_irq.top().function)) irqs.push_back(m_irq.top());
        m_irq.pop();
    }
    for (const irq_item& it : irqs) m_irq.push(it);
}

// --- Statistics ---

void nic::register_stats(core::stats_registry& r, const std::string& prefix) {
    const unsigned n = m_functions.vf_count() + 1;
    for (unsigned fn = 0; fn < n; ++fn) {
        const function_stats& s = state(fn).st;
        const std::string p = prefix + "." + function_name(fn) + ".";
        r.add_counter(p + "tx_frames", "frames", "frames the function sent", s.tx_frames);
        r.add_counter(p + "tx_bytes", "bytes", "bytes the function sent, FCS excluded", s.tx_bytes);
        r.add_counter(p + "rx_frames", "frames", "frames written to the function's RX ring",
                      s.rx_frames);
        r.add_counter(p + "rx_bytes", "bytes", "bytes written to RX buffers", s.rx_bytes);
        r.add_counter(p + "drops.rx_no_descriptor", "frames",
                      "frames dropped: no free RX descriptor", s.rx_no_descriptor);
        r.add_counter(p + "drops.rx_disabled", "frames", "frames dropped: RX queue disabled",
                      s.rx_disabled);
        r.add_counter(p + "drops.tx_malformed", "frames",
                      "TX frames dropped: shorter than an Ethernet header", s.tx_malformed);
        r.add_counter(p + "drops.tx_oversize", "frames",
                      "TX frames dropped: longer than the largest frame (nic.mtu + 18)",
                      s.tx_oversize);
        r.add_counter(p + "bme_blocked", "events", "DMA refused: Bus Master Enable clear",
                      s.bme_blocked);
        r.add_counter(p + "dma_errors", "completions",
                      "error completions to the function's DMA (queue stopped)", s.dma_errors);
        r.add_counter(p + "ring_errors", "events", "bad ring, tail or buffer size programmed",
                      s.ring_errors);
        r.add_counter(p + "interrupts", "messages", "MSI-X messages sent", s.interrupts);
        r.add_counter(p + "msix_pending", "events", "vector causes that set a PBA bit",
                      s.msix_pending);
    }
    r.add_counter(prefix + ".wire.tx_frames", "frames", "frames sent on the wire", m_wire_tx);
    r.add_counter(prefix + ".wire.rx_frames", "frames", "good frames received from the wire",
                  m_wire_rx);
    r.add_counter(prefix + ".wire.rx_fcs_errors", "frames", "frames received with a bad FCS",
                  m_wire_fcs_errors);
    r.add_counter(prefix + ".unsupported_requests", "requests",
                  "requests no function claimed (Unsupported Request)", m_unsupported);
    r.add_counter(prefix + ".drops.vf_disabled", "frames",
                  "frames dropped: the VF they were for went away with VF Enable", m_vf_disabled);
    const l2_switch* sw = &m_switch;
    for (std::size_t i = 0; i < drop_reason_count; ++i) {
        r.add_formula(prefix + ".veb.dropped." + to_string(static_cast<drop_reason>(i)), "frames",
                      "frames the L2 switch dropped for this reason",
                      [sw, i] { return static_cast<double>(sw->stats().dropped[i]); });
    }
    r.add_formula(prefix + ".veb.unicast_local", "frames", "unicast frames delivered to a function",
                  [sw] { return static_cast<double>(sw->stats().unicast_local); });
    r.add_formula(prefix + ".veb.unicast_uplink", "frames", "unicast frames sent to the uplink",
                  [sw] { return static_cast<double>(sw->stats().unicast_uplink); });
    r.add_formula(prefix + ".veb.flooded", "frames", "broadcast and multicast frames",
                  [sw] { return static_cast<double>(sw->stats().flooded); });
}

}  // namespace iovsim::nic

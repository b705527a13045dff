#include "models/pcie/dma_endpoint.h"

#include <algorithm>
#include <functional>
#include <queue>

#include "models/core/bits.h"
#include "models/core/sc_glue.h"
#include "models/pcie/capabilities.h"
#include "models/pcie/link_core.h"
#include "models/pcie/tlp.h"
#include "models/pcie/tlp_layout.h"

namespace iovsim::pcie {

namespace {

constexpr std::uint32_t id_value = 0x444d4131;  // "DMA1"
constexpr std::uint32_t msix_vector_control = 12;
constexpr std::uint32_t vector_masked_bit = 1;

config_space make_config(const dma_endpoint_params& p) {
    endpoint_params e;
    e.identity.vendor_id = p.vendor_id;
    e.identity.device_id = p.device_id;
    e.bars = {bar_params{0, dma_reg::bar0_size, true, false}};
    e.msix_vectors = 1;
    e.msix_table_offset = dma_reg::msix_table_offset;
    e.msix_pba_offset = dma_reg::msix_pba_offset;
    e.link_speed = p.link_gen;
    e.link_width = p.link_lanes;
    e.max_payload_supported = p.max_payload_supported;
    e.interrupt_pin = 0;  // MSI-X only
    e.ari = false;
    e.ats = p.ats;
    return make_endpoint(e);
}

}  // namespace

dma_endpoint::dma_endpoint(sc_core::sc_module_name name, const dma_endpoint_params& p)
    : sc_module(name),
      link_in("link_in"),
      link_out("link_out"),
      m_p(p),
      m_cfg(make_config(p)),
      m_atc(p.atc) {
    m_pcie_cap = m_cfg.find_capability(cap_id::pci_express).value_or(0);
    m_msix_cap = m_cfg.find_capability(cap_id::msix).value_or(0);
    m_regs[dma_reg::id / 4] = id_value;
    m_regs[dma_reg::outstanding / 4] = 1;
    store_le<std::uint32_t>(m_msix_table + msix_vector_control,
                            vector_masked_bit);  // masked at reset
    link_in.register_b_transport(this, &dma_endpoint::b_transport);
    SC_HAS_PROCESS(dma_endpoint);
    SC_THREAD(engine);
}

// Software must not program a reserved encoding (6, 7) or an MPS above Max_Payload_Size
// Supported; if it does, the function never sends more than it supports (and at most 4096 B).
std::uint32_t dma_endpoint::programmed_mps() const {
    const std::uint32_t code = (m_cfg.peek(m_pcie_cap + pcie_reg::device_control, 2) >> 5) & 7;
    return std::min(128u << std::min(code, 5u), m_p.max_payload_supported);
}

std::uint32_t dma_endpoint::programmed_mrrs() const {
    const std::uint32_t code = (m_cfg.peek(m_pcie_cap + pcie_reg::device_control, 2) >> 12) & 7;
    return 128u << std::min(code, 5u);
}

bool dma_endpoint::vector_masked() const {
    const std::uint32_t mc = m_cfg.peek(m_msix_cap + msix_reg::message_control, 2);
    return (mc & msix_reg::function_mask) ||
           (load_le<std::uint32_t>(m_msix_table + msix_vector_control) & vector_masked_bit);
}

void dma_endpoint::b_transport(tlm::tlm_generic_payload& t, sc_core::sc_time& delay) {
    tlp_extension* ext = nullptr;
    t.get_extension(ext);
    const unsigned len = t.get_data_length();
    unsigned char* data = t.get_data_ptr();
    t.set_response_status(tlm::TLM_OK_RESPONSE);

    if (ext && ext->type != tlp_type::memory) {
        const auto off = static_cast<std::uint16_t>(t.get_address());
        if (ext->type != tlp_type::config_type0 || !config_space::access_ok(off, len)) {
            t.set_response_status(tlm::TLM_ADDRESS_ERROR_RESPONSE);  // Unsupported Request
            return;
        }
        if (t.is_read()) {
            const std::uint32_t v = m_cfg.read(off, len);
            for (unsigned i = 0; i < len; ++i) data[i] = static_cast<unsigned char>(v >> (8 * i));
        } else {
            std::uint32_t v = 0;
            for (unsigned i = 0; i < len; ++i) v |= std::uint32_t{data[i]} << (8 * i);
            m_cfg.write(off, len, v);
            // A function captures its bus and device number from Type 0 configuration writes.
            m_id = ext->target;
            if (m_pba && !vector_masked()) raise_msix(now_ticks(delay));
        }
        return;
    }

    const auto hit = m_cfg.decode(t.get_address(), len);
    if (!hit || hit->first != 0 || (len != 4 && len != 8) || (hit->second & 3)) {
        t.set_response_status(tlm::TLM_ADDRESS_ERROR_RESPONSE);
        return;
    }
    for (unsigned dw = 0; dw < len / 4; ++dw) {
        const std::uint64_t off = hit->second + 4 * dw;
        unsigned char* p = data + 4 * dw;
        if (off < dma_reg::msix_table_offset) {
            if (t.is_read())
                store_le<std::uint32_t>(p, reg_read(static_cast<std::uint32_t>(off)));
            else
                reg_write(static_cast<std::uint32_t>(off), load_le<std::uint32_t>(p));
        } else if (off < dma_reg::msix_table_offset + sizeof m_msix_table) {
            unsigned char* entry = m_msix_table + (off - dma_reg::msix_table_offset);
            if (t.is_read()) {
                std::copy(entry, entry + 4, p);
            } else {
                std::copy(p, p + 4, entry);
                if (m_pba && !vector_masked()) raise_msix(now_ticks(delay));
            }
        } else if (off == dma_reg::msix_pba_offset && t.is_read()) {
            store_le<std::uint32_t>(p, static_cast<std::uint32_t>(m_pba));
        } else if (t.is_read()) {
            store_le<std::uint32_t>(p, 0);  // reserved: reads zero, writes ignored
        }
    }
    if (t.is_write()) {
        if (m_regs[dma_reg::control / 4] & dma_reg::control_start) {
            m_regs[dma_reg::control / 4] &= ~dma_reg::control_start;
            if (!m_cfg.bus_master_enabled()) {
                ++m_start_refused;
                m_regs[dma_reg::status / 4] |= dma_reg::status_error;
            } else if (!(m_regs[dma_reg::status / 4] & dma_reg::status_busy)) {
                m_regs[dma_reg::status / 4] |= dma_reg::status_busy;
                m_start.notify(delay);
            }
        }
    }
}

std::uint32_t dma_endpoint::reg_read(std::uint32_t off) {
    return off / 4 < std::size(m_regs) ? m_regs[off / 4] : 0;
}

void dma_endpoint::reg_write(std::uint32_t off, std::uint32_t value) {
    switch (off) {
        case dma_reg::buf_addr_lo:
        case dma_reg::buf_addr_hi:
        case dma_reg::window:
        case dma_reg::size:
        case dma_reg::count:
        case dma_reg::seed:
        case dma_reg::control:
        case dma_reg::outstanding:
            m_regs[off / 4] = value;
            break;
        case dma_reg::status:  // done and error are write-1-to-clear
            m_regs[off / 4] &= ~(value & (dma_reg::status_done | dma_reg::status_error));
            break;
        default:
            break;  // read-only or reserved
    }
}

tick_t dma_endpoint::issue(bool write, std::uint64_t addr, std::uint32_t len, tick_t at, bool& ok,
                           address_type type) {
    if (m_scratch.size() < len) m_scratch.resize(len);
    if (write) {
        for (std::uint32_t i = 0; i < len; ++i)
            m_scratch[i] = static_cast<unsigned char>((addr + i) * 0x9d);
    }
    tlm::tlm_generic_payload t;
    tlp_extension ext;
    ext.requester = m_id;
    ext.at = type;
    if (type == address_type::translated) ++m_ats.translated_requests;
    set_request(t, write ? tlm::TLM_WRITE_COMMAND : tlm::TLM_READ_COMMAND, addr, m_scratch.data(),
                len);
    t.set_extension(&ext);
    sc_core::sc_time delay = to_sc_time(at) - sc_core::sc_time_stamp();
    ++m_requests_sent;
    link_out->b_transport(t, delay);
    t.clear_extension(&ext);
    if (!t.is_response_ok()) {
        ok = false;
        ++m_result.error_completions;
    }
    return now_ticks(delay);
}

// Splits one transfer into TLPs issued one per engine clock from `at` (advanced past them);
// returns when the last read completion has reached the engine, or the last write has crossed
// the link.
tick_t dma_endpoint::transfer(bool write, std::uint64_t addr, std::uint32_t len, tick_t& at,
                              bool& ok) {
    tick_t done = at;
    const auto chunks =
        write ? split_write(addr, len, programmed_mps()) : split_read(addr, len, programmed_mrrs());
    const bool ats = ats_active();
    for (const chunk& c : chunks) {
        std::uint64_t target = c.addr;
        if (ats && !translate(c.addr, write, at, target)) {
            ok = false;  // no translation: the device must not issue the request
            at += m_p.issue_interval;
            continue;
        }
        const address_type type = ats ? address_type::translated : address_type::untranslated;
        if (write) {
            done = std::max(done, issue(true, target, c.len, at, ok, type));
        } else {
            at = std::max(at, m_tags->acquire(at));
            const tick_t back = issue(false, target, c.len, at, ok, type);
            m_tags->release(back);
            done = std::max(done, back + m_p.rx_latency);
        }
        at += m_p.issue_interval;
    }
    return done;
}

bool dma_endpoint::ats_active() const { return m_p.ats && ats_enabled(m_cfg); }

bool dma_endpoint::translate(std::uint64_t addr, bool write, tick_t& at, std::uint64_t& out) {
    at += m_p.atc_lookup_latency;
    if (const auto hit = m_atc.lookup(addr, write)) {
        out = *hit;
        return true;
    }
    // Translation Request: a read of one completion entry for the page, AT = 01b (§10.2.2).
    ++m_ats.translation_requests;
    const std::uint64_t page = addr & ~(ats::page - 1);
    tlm::tlm_generic_payload t;
    tlp_extension ext;
    ext.requester = m_id;
    ext.at = address_type::translation_request;
    unsigned char entry[ats::completion_bytes] = {};
    set_request(t, tlm::TLM_READ_COMMAND, page, entry, ats::completion_bytes);
    t.set_extension(&ext);
    at = std::max(at, m_tags->acquire(at));
    sc_core::sc_time delay = to_sc_time(at) - sc_core::sc_time_stamp();
    ++m_requests_sent;
    link_out->b_transport(t, delay);
    t.clear_extension(&ext);
    const tick_t back = now_ticks(delay);
    m_tags->release(back);
    // The data TLP waits for the engine to see the completion, then for its issue clock.
    at = std::max(at + m_p.issue_interval, back + m_p.rx_latency);
    if (!t.is_response_ok()) {
        ++m_ats.translation_failures;
        ++m_result.error_completions;
        return false;
    }
    m_atc.fill(ats::decode_completion(entry, page));
    if (const auto hit = m_atc.peek(addr); hit && (write ? hit->write : hit->read)) {
        out = hit->translated + (addr - hit->untranslated);
        return true;
    }
    ++m_ats.translation_failures;  // R or W not granted: the page is not mapped for this access
    return false;
}

tick_t dma_endpoint::ats_invalidate(const ats::payload& request, tick_t at) {
    ++m_ats.invalidate_requests;
    const ats::range r = ats::decode_invalidate(request.data());
    m_atc.invalidate(r.base, r.size);
    return at + m_p.atc_invalidate_latency;
}

void dma_endpoint::register_stats(core::stats_registry& reg, const std::string& prefix) const {
    if (!m_p.ats) return;
    const auto add = [&](const char* name, const char* unit, const char* desc, auto fn) {
        reg.add_formula(prefix + "." + name, unit, desc, fn);
    };
    const ats_cache& c = m_atc;
    const dma_endpoint_ats_stats& a = m_ats;
    add("atc.lookups", "lookups", "ATC lookups (one per request TLP with ATS enabled)",
        [&c] { return static_cast<double>(c.stats().lookups); });
    add("atc.hits", "lookups", "ATC hits", [&c] { return static_cast<double>(c.stats().hits); });
    add("atc.misses", "lookups", "ATC misses (each sends a Translation Request)",
        [&c] { return static_cast<double>(c.stats().misses); });
    add("atc.hit_rate", "", "ATC hits / lookups", [&c] { return c.stats().hit_rate(); });
    add("atc.evictions", "entries", "ATC entries replaced (LRU)",
        [&c] { return static_cast<double>(c.stats().evictions); });
    add("atc.invalidated", "entries", "ATC entries dropped by Invalidate Requests",
        [&c] { return static_cast<double>(c.stats().entries_invalidated); });
    add("ats.translation_requests", "requests", "Translation Requests sent",
        [&a] { return static_cast<double>(a.translation_requests); });
    add("ats.translation_failures", "requests",
        "Translation Requests answered with an error or without the permission needed",
        [&a] { return static_cast<double>(a.translation_failures); });
    add("ats.translated_requests", "requests", "request TLPs sent with AT = translated",
        [&a] { return static_cast<double>(a.translated_requests); });
    add("ats.invalidate_requests", "messages", "Invalidate Requests received and completed",
        [&a] { return static_cast<double>(a.invalidate_requests); });
}

void dma_endpoint::raise_msix(tick_t at) {
    const std::uint32_t mc = m_cfg.peek(m_msix_cap + msix_reg::message_control, 2);
    if (!(mc & msix_reg::enable)) return;
    // A message is a memory write: with Bus Master Enable clear it stays pending too (PCIe Base
    // Spec §7.5.1.1.3), and goes out when a configuration write sets the bit again.
    if (vector_masked() || !m_cfg.bus_master_enabled()) {
        m_pba |= 1;
        return;
    }
    m_pba &= ~std::uint64_t{1};
    const std::uint64_t addr = load_le<std::uint32_t>(m_msix_table) |
                               static_cast<std::uint64_t>(load_le<std::uint32_t>(m_msix_table + 4))
                                   << 32;
    unsigned char data[4];
    std::copy(m_msix_table + 8, m_msix_table + 12, data);
    tlm::tlm_generic_payload t;
    tlp_extension ext;
    ext.requester = m_id;
    set_request(t, tlm::TLM_WRITE_COMMAND, addr, data, 4);
    t.set_extension(&ext);
    sc_core::sc_time delay = to_sc_time(at) - sc_core::sc_time_stamp();
    link_out->b_transport(t, delay);
    t.clear_extension(&ext);
    ++m_msix_sent;
}

void dma_endpoint::sync() {
    ++m_waits;
    m_qk.sync();
}

void dma_endpoint::engine() {
    for (;;) {
        ++m_waits;
        sc_core::wait(m_start);
        m_qk.reset();
        const std::uint64_t base = m_regs[dma_reg::buf_addr_lo / 4] |
                                   static_cast<std::uint64_t>(m_regs[dma_reg::buf_addr_hi / 4])
                                       << 32;
        const std::uint32_t control = m_regs[dma_reg::control / 4];
        const bool write = control & dma_reg::control_write;
        const bool random = control & dma_reg::control_random;
        const bool bandwidth = control & dma_reg::control_bandwidth;
        const std::uint32_t size = std::clamp<std::uint32_t>(m_regs[dma_reg::size / 4], 1, 4096);
        const std::uint64_t window = std::max<std::uint64_t>(m_regs[dma_reg::window / 4], size);
        const std::uint32_t count = m_regs[dma_reg::count / 4];
        const std::uint32_t outstanding =
            bandwidth ? std::max<std::uint32_t>(1, m_regs[dma_reg::outstanding / 4]) : 1;
        const std::uint64_t slots = window / size;
        m_rng.seed(m_regs[dma_reg::seed / 4]);
        std::uniform_int_distribution<std::uint64_t> pick(0, slots - 1);

        // Without Extended Tag Field Enable a requester may use 5-bit tags only (32).
        const bool extended_tags = m_cfg.peek(m_pcie_cap + pcie_reg::device_control, 2) & (1u << 8);
        tag_pool tags(std::min(m_p.max_tags, extended_tags ? 256u : 32u));
        m_tags = &tags;
        m_result = dma_run_result{};
        m_result.latencies.reserve(bandwidth ? 0 : count);
        tick_t t = now_ticks();
        m_result.first_issue = t;
        std::priority_queue<tick_t, std::vector<tick_t>, std::greater<tick_t>> in_flight;
        bool ok = true;
        for (std::uint32_t i = 0; i < count; ++i) {
            const std::uint64_t addr = base + (random ? pick(m_rng) : i % slots) * size;
            if (in_flight.size() == outstanding) {
                t = std::max(t, in_flight.top());
                in_flight.pop();
            }
            const tick_t start = t;
            tick_t done = transfer(write, addr, size, t, ok);
            // pcie-bench's write latency: the write, then a 64 B read of the same address.
            if (write && !bandwidth) done = transfer(false, addr, 64, t, ok);
            in_flight.push(done);
            m_result.bytes += size;
            m_result.last_done = std::max(m_result.last_done, done);
            if (!bandwidth) {
                m_result.latencies.push_back(done - start);
                t = done;
            }
            m_qk.set(to_sc_time(t) - sc_core::sc_time_stamp());
            if (m_qk.need_sync()) sync();
        }
        while (!in_flight.empty()) in_flight.pop();
        m_tags = nullptr;
        const tick_t end = std::max(t, m_result.last_done);
        m_regs[dma_reg::errors / 4] = static_cast<std::uint32_t>(m_result.error_completions);
        m_regs[dma_reg::status / 4] = (m_regs[dma_reg::status / 4] & ~dma_reg::status_busy) |
                                      dma_reg::status_done | (ok ? 0u : dma_reg::status_error);
        raise_msix(end);
        m_qk.set(to_sc_time(end) - sc_core::sc_time_stamp());
        sync();
    }
}

}  // namespace iovsim::pcie

#include "iommu/registers.h"

#include <algorithm>
#include <stdexcept>

#include "models/core/log.h"
#include "models/mem/sparse_store.h"
#include "models/pcie/ats_format.h"

namespace iovsim::iommu {

namespace qi {

descriptor context_inv(std::uint64_t granularity, std::uint16_t did, std::uint16_t sid,
                       unsigned fm) {
    return {type_context | (granularity & 3) << 4 | std::uint64_t{did} << 16 |
                std::uint64_t{sid} << 32 | std::uint64_t{fm & 3u} << 48,
            0};
}

descriptor iotlb_inv(std::uint64_t granularity, std::uint16_t did, std::uint64_t addr, unsigned am,
                     bool ih) {
    return {type_iotlb | (granularity & 3) << 4 | std::uint64_t{did} << 16,
            (addr & ~std::uint64_t{0xfff}) | (ih ? reg::iva_ih : 0) | (am & reg::iva_am)};
}

namespace {
// ATS address field (ADDR 63:12, S 11) to descriptor bits 127:64 (ADDR 127:76, S 64).
std::uint64_t dev_tlb_hi(std::uint64_t field) {
    return (field & ~0xfffull) | ((field & pcie::ats::bit_s) ? 1u : 0u);
}
}  // namespace

descriptor dev_tlb_inv(std::uint16_t sid, std::uint64_t addr, std::uint64_t size, unsigned mip,
                       std::uint16_t pfsid) {
    return {type_dev_tlb | std::uint64_t{pfsid & 0xfu} << 12 | std::uint64_t{mip & 0x1fu} << 16 |
                std::uint64_t{sid} << 32 | (std::uint64_t{pfsid} >> 4) << 52,
            dev_tlb_hi(pcie::ats::encode_range(addr, size))};
}

descriptor iec_inv() { return {type_iec, 0}; }

descriptor wait(std::uint64_t status_addr, std::uint32_t status_data, bool sw, bool interrupt) {
    return {type_wait | (interrupt ? 1u << 4 : 0u) | (sw ? 1u << 5 : 0u) |
                std::uint64_t{status_data} << 32,
            status_addr & ~std::uint64_t{3}};
}

}  // namespace qi

// --- register_bank ----------------------------------------------------------------------------

void register_bank::add(reg_def d) {
    if ((d.width != 4 && d.width != 8) || d.offset % d.width != 0)
        throw std::invalid_argument("register_bank: " + d.name + ": bad width or alignment");
    for (const auto& e : m_regs) {
        if (d.offset < e.def.offset + e.def.width && e.def.offset < d.offset + d.width)
            throw std::invalid_argument("register_bank: " + d.name + " overlaps " + e.def.name);
    }
    const std::uint64_t reset = d.reset;
    m_regs.push_back(entry{std::move(d), reset});
}

register_bank::entry* register_bank::find(std::uint32_t offset, unsigned len, unsigned& shift) {
    for (auto& e : m_regs) {
        if (offset >= e.def.offset && offset < e.def.offset + e.def.width) {
            if (len > e.def.width) {
                shift = ~0u;  // a wider access than the register: bad, not unmapped
                return nullptr;
            }
            shift = (offset - e.def.offset) * 8;
            return &e;
        }
    }
    return nullptr;
}

register_bank::status register_bank::read(std::uint32_t offset, unsigned len, std::uint64_t& value,
                                          tick_t at) {
    if ((len != 4 && len != 8) || offset % len != 0) return status::bad_access;
    unsigned shift = 0;
    entry* e = find(offset, len, shift);
    if (!e) return shift == ~0u ? status::bad_access : status::unmapped;
    const std::uint64_t v = e->def.on_read ? e->def.on_read(e->value, at) : e->value;
    value = len == 8 ? v : (v >> shift) & 0xffffffffull;
    return status::ok;
}

register_bank::status register_bank::write(std::uint32_t offset, unsigned len, std::uint64_t value,
                                           tick_t at) {
    if ((len != 4 && len != 8) || offset % len != 0) return status::bad_access;
    unsigned shift = 0;
    entry* e = find(offset, len, shift);
    if (!e) return shift == ~0u ? status::bad_access : status::unmapped;
    const std::uint64_t bytes = len == e->def.width ? ~0ull : 0xffffffffull << shift;
    const std::uint64_t v = len == e->def.width ? value : (value & 0xffffffffull) << shift;
    const std::uint64_t old = e->value;
    std::uint64_t nv = (old & ~(e->def.rw_mask & bytes)) | (v & e->def.rw_mask & bytes);
    nv &= ~(v & e->def.w1c_mask & bytes);
    e->value = nv;
    if (e->def.on_write) e->def.on_write(old, nv, at);
    return status::ok;
}

std::uint64_t register_bank::get(std::uint32_t offset) const {
    for (const auto& e : m_regs)
        if (e.def.offset == offset) return e.value;
    throw std::out_of_range("register_bank: no register at that offset");
}

void register_bank::set(std::uint32_t offset, std::uint64_t value) {
    for (auto& e : m_regs) {
        if (e.def.offset == offset) {
            e.value = value;
            return;
        }
    }
    throw std::out_of_range("register_bank: no register at that offset");
}

void register_bank::reset() {
    for (auto& e : m_regs) e.value = e.def.reset;
}

// --- vtd_registers ----------------------------------------------------------------------------

namespace {
constexpr const char* log_module = "iommu";
}

vtd_registers::vtd_registers(dma_remapper& dma, interrupt_remapper& ir, fault_log& faults,
                             table_memory& memory, const vtd_register_params& p)
    : m_dma(dma), m_ir(ir), m_faults(faults), m_memory(memory), m_p(p) {
    if (p.fault_records == 0 || p.fault_records > 256)
        throw std::invalid_argument("vtd_registers: fault_records must be 1..256");
    if (p.domains_log < 4 || p.domains_log > 16 || p.domains_log % 2 != 0)
        throw std::invalid_argument("vtd_registers: domains_log must be 4, 6, ..., 16");
    if (p.mamv > 63) throw std::invalid_argument("vtd_registers: mamv must be <= 63");
    const dma_remapper_params& dp = dma.params();
    m_cap = std::uint64_t{(p.domains_log - 4) / 2}  // ND
            | std::uint64_t{0x6} << 8               // SAGAW: 39-bit 3-level, 48-bit 4-level
            | std::uint64_t{dp.mgaw - 1} << 16      // MGAW
            | std::uint64_t{reg::fro} << 24         // FRO
            | std::uint64_t{dp.superpage_1g ? 3u : 1u} << 34  // SLLPS: 2 MiB (and 1 GiB)
            | 1ull << 39                                      // PSI
            | std::uint64_t{p.fault_records - 1} << 40        // NFR
            | std::uint64_t{p.mamv} << 48                     // MAMV
            | 1ull << 59;                                     // PI: posted interrupts
    m_ecap = 1ull << 0                                        // C: page walks are coherent
             | 1ull << 1                                      // QI
             | (p.device_tlb ? 1ull << 2 : 0)                 // DT: device-TLB (ATS)
             | 1ull << 3                                      // IR
             | (ir.params().x2apic_mode ? 1ull << 4 : 0)      // EIM
             | 1ull << 6                                      // PT: pass-through
             | std::uint64_t{reg::iro} << 8                   // IRO
             | 0xfull << 20;                                  // MHMV
    m_frcd.resize(p.fault_records);
    define();
}

void vtd_registers::define() {
    using d = register_bank::reg_def;
    const auto ro = [this](std::uint32_t off, unsigned w, const char* name, std::uint64_t v) {
        m_bank.add(d{off, w, name, v, 0, 0, nullptr, nullptr});
    };
    ro(reg::VER_REG, 4, "VER_REG", 0x10);  // version 1.0
    ro(reg::CAP_REG, 8, "CAP_REG", m_cap);
    ro(reg::ECAP_REG, 8, "ECAP_REG", m_ecap);
    m_bank.add(d{reg::GCMD_REG, 4, "GCMD_REG", 0,
                 reg::gcmd_te | reg::gcmd_srtp | reg::gcmd_qie | reg::gcmd_ire | reg::gcmd_sirtp, 0,
                 [this](std::uint64_t, std::uint64_t v, tick_t at) {
                     write_gcmd(static_cast<std::uint32_t>(v), at);
                 },
                 [](std::uint64_t, tick_t) { return std::uint64_t{0}; }});  // reads 0
    m_bank.add(d{reg::GSTS_REG, 4, "GSTS_REG", 0, 0, 0, nullptr,
                 [this](std::uint64_t, tick_t at) { return std::uint64_t{status_at(at)}; }});
    m_bank.add(d{reg::RTADDR_REG, 8, "RTADDR_REG", 0, ~0xfffull, 0, nullptr, nullptr});
    m_bank.add(
        d{reg::CCMD_REG, 8, "CCMD_REG", 0,
          reg::ccmd_icc | 3ull << reg::ccmd_cirg_shift | 3ull << reg::ccmd_fm_shift | 0xffffffffull,
          0, [this](std::uint64_t, std::uint64_t v, tick_t at) { write_ccmd(v, at); },
          [this](std::uint64_t v, tick_t at) {
              return at < m_ccmd_busy_until ? v | reg::ccmd_icc : v;
          }});
    m_bank.add(d{reg::FSTS_REG, 4, "FSTS_REG", 0, 0,
                 reg::fsts_pfo | reg::fsts_iqe | reg::fsts_ice | reg::fsts_ite,
                 [this](std::uint64_t old, std::uint64_t v, tick_t at) {
                     if ((old & reg::fsts_iqe) && !(v & reg::fsts_iqe)) process_queue(at);
                 },
                 [this](std::uint64_t, tick_t) { return std::uint64_t{fsts_value()}; }});
    m_bank.add(d{reg::FECTL_REG, 4, "FECTL_REG", reg::ctl_im, reg::ctl_im, 0,
                 [this](std::uint64_t, std::uint64_t v, tick_t at) {
                     if (!(v & reg::ctl_im) && m_fault_ip) {
                         m_fault_ip = false;
                         fault_event(at);
                     }
                 },
                 [this](std::uint64_t v, tick_t) { return m_fault_ip ? v | reg::ctl_ip : v; }});
    m_bank.add(d{reg::FEDATA_REG, 4, "FEDATA_REG", 0, 0xffffffff, 0, nullptr, nullptr});
    m_bank.add(d{reg::FEADDR_REG, 4, "FEADDR_REG", 0, 0xfffffffc, 0, nullptr, nullptr});
    m_bank.add(d{reg::FEUADDR_REG, 4, "FEUADDR_REG", 0, 0xffffffff, 0, nullptr, nullptr});
    m_bank.add(d{reg::IQH_REG, 8, "IQH_REG", 0, 0, 0, nullptr, [this](std::uint64_t, tick_t at) {
                     std::size_t n = 0;
                     while (n < m_head_steps.size() && m_head_steps[n].first <= at)
                         m_head_visible = m_head_steps[n++].second;
                     m_head_steps.erase(m_head_steps.begin(), m_head_steps.begin() + n);
                     return std::uint64_t{m_head_visible} << 4;
                 }});
    m_bank.add(d{reg::IQT_REG, 8, "IQT_REG", 0, 0x7fff0, 0,
                 [this](std::uint64_t, std::uint64_t, tick_t at) { process_queue(at); }, nullptr});
    m_bank.add(d{reg::IQA_REG, 8, "IQA_REG", 0, ~0xfffull | reg::iqa_qs, 0, nullptr, nullptr});
    m_bank.add(d{reg::ICS_REG, 4, "ICS_REG", 0, 0, reg::ics_iwc, nullptr, nullptr});
    m_bank.add(
        d{reg::IECTL_REG, 4, "IECTL_REG", reg::ctl_im, reg::ctl_im, 0,
          [this](std::uint64_t, std::uint64_t v, tick_t at) {
              if (!(v & reg::ctl_im) && m_completion_ip) {
                  m_completion_ip = false;
                  send(static_cast<std::uint32_t>(m_bank.get(reg::IECTL_REG)),
                       static_cast<std::uint32_t>(m_bank.get(reg::IEDATA_REG)),
                       static_cast<std::uint32_t>(m_bank.get(reg::IEADDR_REG)),
                       static_cast<std::uint32_t>(m_bank.get(reg::IEUADDR_REG)), at,
                       m_completion_ip, m_stats.completion_events);
              }
          },
          [this](std::uint64_t v, tick_t) { return m_completion_ip ? v | reg::ctl_ip : v; }});
    m_bank.add(d{reg::IEDATA_REG, 4, "IEDATA_REG", 0, 0xffffffff, 0, nullptr, nullptr});
    m_bank.add(d{reg::IEADDR_REG, 4, "IEADDR_REG", 0, 0xfffffffc, 0, nullptr, nullptr});
    m_bank.add(d{reg::IEUADDR_REG, 4, "IEUADDR_REG", 0, 0xffffffff, 0, nullptr, nullptr});
    m_bank.add(d{reg::IRTA_REG, 8, "IRTA_REG", 0, ~0xfffull | reg::irta_eime | reg::irta_s, 0,
                 nullptr, nullptr});
    m_bank.add(d{reg::IVA_REG, 8, "IVA_REG", 0, ~0xfffull | reg::iva_ih | reg::iva_am, 0, nullptr,
                 nullptr});
    m_bank.add(d{reg::IOTLB_REG, 8, "IOTLB_REG", 0,
                 reg::iotlb_ivt | 3ull << reg::iotlb_iirg_shift | 3ull << 48 |
                     0xffffull << reg::iotlb_did_shift,
                 0, [this](std::uint64_t, std::uint64_t v, tick_t at) { write_iotlb(v, at); },
                 [this](std::uint64_t v, tick_t at) {
                     return at < m_iotlb_busy_until ? v | reg::iotlb_ivt : v;
                 }});
    for (std::uint32_t i = 0; i < m_p.fault_records; ++i) {
        const std::uint32_t off = reg::FRCD_REG + 16 * i;
        m_bank.add(d{off, 8, "FRCD_REG_LO", 0, 0, 0, nullptr, nullptr});
        m_bank.add(d{off + 8, 8, "FRCD_REG_HI", 0, 0, reg::frcd_f,
                     [this, i](std::uint64_t old, std::uint64_t v, tick_t) {
                         if ((old & reg::frcd_f) && !(v & reg::frcd_f)) m_frcd[i].f = false;
                     },
                     nullptr});
    }
}

bool vtd_registers::read(std::uint32_t offset, unsigned len, std::uint64_t& value, tick_t at) {
    advance(at);
    switch (m_bank.read(offset, len, value, at)) {
        case register_bank::status::ok:
            return true;
        case register_bank::status::unmapped:
            value = 0;
            return offset + len <= reg::page_size;
        case register_bank::status::bad_access:
            break;
    }
    ++m_stats.bad_accesses;
    core::log(log_module, core::log_level::warn,
              "register read of {} B at offset {:#x} is not a naturally aligned 4 or 8 B access",
              len, offset);
    value = len >= 8 ? ~0ull : (1ull << (8 * len)) - 1;
    return false;
}

bool vtd_registers::write(std::uint32_t offset, unsigned len, std::uint64_t value, tick_t at) {
    advance(at);
    switch (m_bank.write(offset, len, value, at)) {
        case register_bank::status::ok:
            return true;
        case register_bank::status::unmapped:
            return offset + len <= reg::page_size;
        case register_bank::status::bad_access:
            break;
    }
    ++m_stats.bad_accesses;
    core::log(log_module, core::log_level::warn,
              "register write of {} B at offset {:#x} is not a naturally aligned 4 or 8 B access",
              len, offset);
    return false;
}

std::uint32_t vtd_registers::status_at(tick_t at) const {
    return at >= m_gsts_at ? m_gsts_new : m_gsts_old;
}

void vtd_registers::write_gcmd(std::uint32_t v, tick_t at) {
    std::uint32_t s = m_gsts_new;
    const auto persistent = [&](std::uint32_t bit) { s = (s & ~bit) | (v & bit); };
    persistent(reg::gcmd_te);
    if ((v & reg::gcmd_qie) && !(m_gsts_new & reg::gcmd_qie)) {
        // Enabling queued invalidation resets the head (§10.4.22).
        m_head = m_head_visible = 0;
        m_head_steps.clear();
        m_queue_free = at;
    }
    persistent(reg::gcmd_qie);
    persistent(reg::gcmd_ire);
    if (v & reg::gcmd_srtp) {
        m_dma.set_root_table(m_bank.get(reg::RTADDR_REG) & ~0xfffull);
        s |= reg::gcmd_srtp;
    }
    if (v & reg::gcmd_sirtp) {
        const std::uint64_t irta = m_bank.get(reg::IRTA_REG);
        m_ir.set_table(irta & ~0xfffull, static_cast<unsigned>(irta & reg::irta_s));
        s |= reg::gcmd_sirtp;
    }
    // RTPS and IRTPS are cleared as software sets SRTP or SIRTP, and set again when the command
    // completes (VT-d §10.4.5), so a second SRTP is not seen complete at once.
    const std::uint32_t cleared = v & (reg::gcmd_srtp | reg::gcmd_sirtp);
    m_gsts_old = status_at(at) & ~cleared;
    m_gsts_new = s;
    m_gsts_at = at + m_p.command_latency;
}

void vtd_registers::write_ccmd(std::uint64_t v, tick_t at) {
    if (!(v & reg::ccmd_icc)) return;
    const std::uint64_t cirg = v >> reg::ccmd_cirg_shift & 3;
    std::uint64_t caig = cirg;
    if (m_gsts_new & reg::gcmd_qie) {
        ++m_stats.programming_errors;
        core::log(log_module, core::log_level::warn,
                  "CCMD_REG invalidation ignored: queued invalidation is enabled");
        caig = 0;
    } else {
        const auto did = static_cast<std::uint16_t>(v & 0xffff);
        const auto sid = static_cast<std::uint16_t>(v >> reg::ccmd_sid_shift & 0xffff);
        switch (cirg) {
            case 1:
                m_dma.invalidate_context_global();
                break;
            case 2:
                m_dma.invalidate_context_domain(did);
                break;
            case 3:
                m_dma.invalidate_context_device(sid,
                                                static_cast<unsigned>(v >> reg::ccmd_fm_shift & 3));
                break;
            default:
                ++m_stats.programming_errors;
                core::log(log_module, core::log_level::warn,
                          "CCMD_REG invalidation with reserved granularity CIRG = 00 ignored");
                break;
        }
        if (caig != 0) {
            ++m_stats.register_invalidations;
            ++m_stats.context_invalidations;
            m_stats.invalidation_time += m_p.invalidation_latency;
            m_ccmd_busy_until = at + m_p.invalidation_latency;
        }
    }
    // ICC reads 1 until the invalidation completes; CAIG reports the granularity performed.
    v &= ~(reg::ccmd_icc | 3ull << reg::ccmd_caig_shift);
    m_bank.set(reg::CCMD_REG, v | caig << reg::ccmd_caig_shift);
}

void vtd_registers::write_iotlb(std::uint64_t v, tick_t at) {
    if (!(v & reg::iotlb_ivt)) return;
    const std::uint64_t iirg = v >> reg::iotlb_iirg_shift & 3;
    std::uint64_t iaig = iirg;
    const auto did = static_cast<std::uint16_t>(v >> reg::iotlb_did_shift & 0xffff);
    if (m_gsts_new & reg::gcmd_qie) {
        ++m_stats.programming_errors;
        core::log(log_module, core::log_level::warn,
                  "IOTLB_REG invalidation ignored: queued invalidation is enabled");
        iaig = 0;
    } else if (iirg == 1) {
        m_dma.invalidate_iotlb_global();
        ++m_stats.iotlb_inv_global;
    } else if (iirg == 2) {
        m_dma.invalidate_iotlb_domain(did);
        ++m_stats.iotlb_inv_domain;
    } else if (iirg == 3) {
        const std::uint64_t iva = m_bank.get(reg::IVA_REG);
        const auto am = static_cast<unsigned>(iva & reg::iva_am);
        if (am > m_p.mamv) {  // hardware may invalidate more than asked: domain-selective
            m_dma.invalidate_iotlb_domain(did);
            ++m_stats.iotlb_inv_domain;
            iaig = 2;
        } else {
            m_dma.invalidate_iotlb_pages(did, iva & ~0xfffull, am, iva & reg::iva_ih);
            ++m_stats.iotlb_inv_page;
        }
    } else {
        ++m_stats.programming_errors;
        core::log(log_module, core::log_level::warn,
                  "IOTLB_REG invalidation with reserved granularity IIRG = 00 ignored");
    }
    if (iaig != 0) {
        ++m_stats.register_invalidations;
        m_stats.invalidation_time += m_p.invalidation_latency;
        m_iotlb_busy_until = at + m_p.invalidation_latency;
    }
    v &= ~(reg::iotlb_ivt | 3ull << reg::iotlb_iaig_shift);
    m_bank.set(reg::IOTLB_REG, v | iaig << reg::iotlb_iaig_shift);
}

void vtd_registers::queue_error(tick_t at, const std::string& why) {
    ++m_stats.queue_errors;
    core::log(log_module, core::log_level::warn,
              "invalidation queue error at IQH = {}: {}; FSTS.IQE set, queue stopped", m_head, why);
    const bool had = fsts_value() & (reg::fsts_ppf | reg::fsts_iqe);
    m_bank.set(reg::FSTS_REG, m_bank.get(reg::FSTS_REG) | reg::fsts_iqe);
    if (!had) fault_event(at);
}

void vtd_registers::process_queue(tick_t at) {
    if (!(m_gsts_new & reg::gcmd_qie) || (m_bank.get(reg::FSTS_REG) & reg::fsts_iqe)) return;
    const std::uint64_t iqa = m_bank.get(reg::IQA_REG);
    const std::uint64_t base = iqa & ~0xfffull;
    const std::uint32_t entries = 256u << (iqa & reg::iqa_qs);
    const auto tail = static_cast<std::uint32_t>(m_bank.get(reg::IQT_REG) >> 4 & 0x7fff);
    if (tail >= entries) {
        queue_error(at, fmt::format("IQT = {} is beyond the queue's {} entries", tail, entries));
        return;
    }
    tick_t t = std::max(at, m_queue_free);
    while (m_head != tail) {
        std::uint8_t raw[16];
        tick_t done = t;
        const std::uint64_t addr = base + std::uint64_t{m_head} * 16;
        if (!m_memory.read(addr, raw, 16, t, done)) {
            queue_error(t, fmt::format("descriptor at {:#x} is outside memory", addr));
            break;
        }
        t = done + m_p.descriptor_latency;
        const qi::descriptor desc{mem::load_le<std::uint64_t>(raw),
                                  mem::load_le<std::uint64_t>(raw + 8)};
        if (!execute(desc, t)) {
            queue_error(t, fmt::format("malformed descriptor {:#018x} {:#018x} at {:#x}", desc.hi,
                                       desc.lo, addr));
            break;
        }
        ++m_stats.queued_descriptors;
        m_head = (m_head + 1) % entries;
        m_head_steps.emplace_back(t, m_head);
    }
    m_queue_free = t;
}

bool vtd_registers::execute(const qi::descriptor& d, tick_t& t) {
    const std::uint64_t type = d.lo & 0xf;
    if (d.lo & vtd::bits(11, 9)) return false;  // type[6:4]: scalable-mode descriptors
    const std::uint64_t g = d.lo >> 4 & 3;
    const auto did = static_cast<std::uint16_t>(d.lo >> 16 & 0xffff);
    switch (type) {
        case qi::type_context: {
            if ((d.lo & (vtd::bits(15, 6) | vtd::bits(63, 50))) || d.hi || g == 0) return false;
            const auto sid = static_cast<std::uint16_t>(d.lo >> 32 & 0xffff);
            if (g == qi::gran_global) m_dma.invalidate_context_global();
            if (g == qi::gran_domain) m_dma.invalidate_context_domain(did);
            if (g == qi::gran_device_or_page)
                m_dma.invalidate_context_device(sid, static_cast<unsigned>(d.lo >> 48 & 3));
            ++m_stats.context_invalidations;
            break;
        }
        case qi::type_iotlb: {
            if ((d.lo & (vtd::bits(15, 8) | vtd::bits(63, 32))) || (d.hi & vtd::bits(11, 7)) ||
                g == 0)
                return false;
            if (g == qi::gran_global) {
                m_dma.invalidate_iotlb_global();
                ++m_stats.iotlb_inv_global;
            } else if (g == qi::gran_domain) {
                m_dma.invalidate_iotlb_domain(did);
                ++m_stats.iotlb_inv_domain;
            } else {
                const auto am = static_cast<unsigned>(d.hi & reg::iva_am);
                if (am > m_p.mamv) return false;
                m_dma.invalidate_iotlb_pages(did, d.hi & ~0xfffull, am, d.hi & reg::iva_ih);
                ++m_stats.iotlb_inv_page;
            }
            break;
        }
        case qi::type_dev_tlb: {
            if (!m_p.device_tlb) return false;
            if ((d.lo & (vtd::bits(11, 4) | vtd::bits(31, 21) | vtd::bits(51, 48))) ||
                (d.hi & vtd::bits(11, 1)))
                return false;
            const auto sid = static_cast<std::uint16_t>(d.lo >> 32 & 0xffff);
            // ADDR 127:76 and S 64 are the ATS address field shifted down by 11 bits.
            const pcie::ats::range r =
                pcie::ats::decode_range((d.hi & ~0xfffull) | (d.hi & 1 ? pcie::ats::bit_s : 0));
            ++m_stats.dev_tlb_invalidations;
            const tick_t back = m_dev_tlb ? m_dev_tlb(sid, r.base, r.size, t) : t;
            m_dev_tlb_done = std::max(m_dev_tlb_done, back);
            return true;  // the queue does not wait; a later wait descriptor does
        }
        case qi::type_iec:
            if ((d.lo & (vtd::bits(26, 5) | vtd::bits(63, 48))) || d.hi) return false;
            ++m_stats.iec_invalidations;
            return true;  // no interrupt entry cache is modelled: nothing to drop, no time
        case qi::type_wait: {
            if ((d.lo & vtd::bits(31, 8)) || (d.hi & 3)) return false;
            const bool sw = d.lo & (1u << 5);
            const bool irq = d.lo & (1u << 4);
            ++m_stats.wait_descriptors;
            t = std::max(t, m_dev_tlb_done);  // every earlier Device-TLB invalidation is done
            if (sw || irq)
                m_pending.push_back(
                    pending_write{t, d.hi, static_cast<std::uint32_t>(d.lo >> 32), sw, irq});
            return true;
        }
        default:
            return false;
    }
    t += m_p.invalidation_latency;
    m_stats.invalidation_time += m_p.invalidation_latency;
    return true;
}

tick_t vtd_registers::advance(tick_t now) {
    std::size_t n = 0;
    for (; n < m_pending.size() && m_pending[n].at <= now; ++n) {
        const pending_write& w = m_pending[n];
        if (w.write) {
            tick_t done = w.at;
            if (!m_memory.write(w.addr, &w.data, 4, w.at, done)) {
                ++m_stats.programming_errors;
                core::log(log_module, core::log_level::warn,
                          "invalidation wait status address {:#x} is outside memory", w.addr);
            }
        }
        if (w.interrupt) {
            m_bank.set(reg::ICS_REG, m_bank.get(reg::ICS_REG) | reg::ics_iwc);
            send(static_cast<std::uint32_t>(m_bank.get(reg::IECTL_REG)),
                 static_cast<std::uint32_t>(m_bank.get(reg::IEDATA_REG)),
                 static_cast<std::uint32_t>(m_bank.get(reg::IEADDR_REG)),
                 static_cast<std::uint32_t>(m_bank.get(reg::IEUADDR_REG)), w.at, m_completion_ip,
                 m_stats.completion_events);
        }
    }
    m_pending.erase(m_pending.begin(), m_pending.begin() + n);
    return m_pending.empty() ? 0 : m_pending.front().at;
}

std::uint32_t vtd_registers::fsts_value() const {
    std::uint32_t v = static_cast<std::uint32_t>(m_bank.get(reg::FSTS_REG));
    const auto n = static_cast<std::uint32_t>(m_frcd.size());
    for (std::uint32_t k = 0; k < n; ++k) {
        const std::uint32_t i = (m_next_frcd + k) % n;  // the oldest pending record first
        if (m_frcd[i].f) {
            v |= reg::fsts_ppf | i << reg::fsts_fri_shift;
            break;
        }
    }
    return v;
}

void vtd_registers::collect_faults(tick_t at) {
    while (!m_faults.empty()) {
        const fault_record r = m_faults.front();
        m_faults.pop();
        const bool pending = fsts_value() & (reg::fsts_ppf | reg::fsts_iqe);
        frcd& slot = m_frcd[m_next_frcd];
        if (slot.f) {
            ++m_stats.fault_overflows;
            m_bank.set(reg::FSTS_REG, m_bank.get(reg::FSTS_REG) | reg::fsts_pfo);
            core::log(log_module, core::log_level::warn,
                      "fault {} from {:#06x} at {:#x} dropped: all {} fault records are full "
                      "(FSTS.PFO)",
                      to_string(r.reason), r.source_id, r.address, m_frcd.size());
            continue;
        }
        slot = frcd{true, r};
        const auto reason = static_cast<std::uint64_t>(r.reason);
        // FI: the page address of a DMA fault; for an interrupt-remapping fault (reasons 0x20 and
        // up) the interrupt index in FI bits 63:48.
        const std::uint64_t fi = reason >= 0x20 ? r.address << 48 : r.address & ~0xfffull;
        const std::uint32_t off = reg::FRCD_REG + 16 * m_next_frcd;
        m_bank.set(off, fi);
        m_bank.set(off + 8, reg::frcd_f | (r.is_write ? 0 : reg::frcd_t) |
                                reason << reg::frcd_fr_shift | r.source_id);
        ++m_stats.faults_recorded;
        core::log(log_module, core::log_level::info,
                  "fault recorded in FRCD {}: {} (reason {:#x}) from source {:#06x}, {} at {:#x}",
                  m_next_frcd, to_string(r.reason), reason, r.source_id,
                  r.is_write ? "write" : "read", r.address);
        m_next_frcd = (m_next_frcd + 1) % static_cast<std::uint32_t>(m_frcd.size());
        if (!pending) fault_event(at);
    }
}

void vtd_registers::fault_event(tick_t at) {
    send(static_cast<std::uint32_t>(m_bank.get(reg::FECTL_REG)),
         static_cast<std::uint32_t>(m_bank.get(reg::FEDATA_REG)),
         static_cast<std::uint32_t>(m_bank.get(reg::FEADDR_REG)),
         static_cast<std::uint32_t>(m_bank.get(reg::FEUADDR_REG)), at, m_fault_ip,
         m_stats.fault_events);
}

void vtd_registers::send(std::uint32_t ctl, std::uint32_t data, std::uint32_t addr,
                         std::uint32_t uaddr, tick_t at, bool& ip, std::uint64_t& counter) {
    if (ctl & reg::ctl_im) {
        ip = true;  // sent when software unmasks
        return;
    }
    ip = false;
    ++counter;
    if (m_send) m_send(std::uint64_t{uaddr} << 32 | addr, data, at);
}

}  // namespace iovsim::iommu

#include "iommu/iommu.h"

#include <cstring>

#include "models/core/log.h"
#include "models/core/sc_glue.h"
#include "models/pcie/tlp.h"

namespace iovsim::iommu {

namespace {

constexpr const char* log_module = "iommu";

std::uint16_t source_of(tlm::tlm_generic_payload& t) {
    pcie::tlp_extension* ext = nullptr;
    t.get_extension(ext);
    return ext ? ext->requester.value() : 0;
}

pcie::address_type address_type_of(tlm::tlm_generic_payload& t) {
    pcie::tlp_extension* ext = nullptr;
    t.get_extension(ext);
    return ext ? ext->at : pcie::address_type::untranslated;
}

sc_core::sc_time delay_until(tick_t at) {
    const tick_t now = now_ticks();
    return at > now ? to_sc_time(at - now) : sc_core::SC_ZERO_TIME;
}

// Every fault reason the remappers report, with the statistic name it is counted under.
constexpr std::pair<fault_reason, const char*> reason_names[] = {
    {fault_reason::root_not_present, "root_not_present"},
    {fault_reason::context_not_present, "context_not_present"},
    {fault_reason::context_invalid, "context_invalid"},
    {fault_reason::address_beyond_agaw, "address_beyond_agaw"},
    {fault_reason::write_not_permitted, "write_not_permitted"},
    {fault_reason::read_not_permitted, "read_not_permitted"},
    {fault_reason::sl_entry_access_error, "sl_entry_access_error"},
    {fault_reason::root_access_error, "root_access_error"},
    {fault_reason::context_access_error, "context_access_error"},
    {fault_reason::root_reserved, "root_reserved"},
    {fault_reason::context_reserved, "context_reserved"},
    {fault_reason::sl_entry_reserved, "sl_entry_reserved"},
    {fault_reason::translation_blocked, "translation_blocked"},
    {fault_reason::ir_index_beyond_table, "ir_index_beyond_table"},
    {fault_reason::irte_not_present, "irte_not_present"},
    {fault_reason::irte_access_error, "irte_access_error"},
    {fault_reason::irte_reserved, "irte_reserved"},
    {fault_reason::ir_compatibility_blocked, "ir_compatibility_blocked"},
    {fault_reason::ir_source_id_invalid, "ir_source_id_invalid"},
    {fault_reason::pid_access_error, "pid_access_error"},
};

}  // namespace

bool memory_model_table_memory::read(std::uint64_t hpa, void* dst, std::uint32_t len, tick_t at,
                                     tick_t& done) {
    if (!m_mem.debug_read(hpa, dst, len)) return false;
    done = m_mem.timing().read(at + m_request_latency, hpa, len, mem::requester::device).done +
           m_response_latency;
    ++m_reads;
    return true;
}

bool memory_model_table_memory::write(std::uint64_t hpa, const void* src, std::uint32_t len,
                                      tick_t at, tick_t& done) {
    if (!m_mem.debug_write(hpa, src, len)) return false;
    done = m_mem.timing().write(at + m_request_latency, hpa, len, mem::requester::device).done;
    return true;
}

iommu::iommu(sc_core::sc_module_name name, mem::memory& memory, const iommu_params& p)
    : sc_module(name),
      in("in"),
      out("out"),
      regs("regs"),
      irq_in("irq_in"),
      irq_out("irq_out"),
      m_p(p),
      m_memory(memory, p.table_read_latency),
      m_faults(p.regs.fault_records),
      m_dma(m_memory, m_faults, p.dma),
      m_ir(m_memory, m_faults, p.ir),
      m_regs(m_dma, m_ir, m_faults, m_memory, p.regs) {
    in.register_b_transport(this, &iommu::dma_b_transport);
    in.register_transport_dbg(this, &iommu::dma_transport_dbg);
    regs.register_b_transport(this, &iommu::regs_b_transport);
    irq_in.register_b_transport(this, &iommu::irq_b_transport);
    m_regs.set_interrupt_sender(
        [this](std::uint64_t a, std::uint32_t d, tick_t at) { send_message(a, d, at); });
    m_regs.set_device_tlb_invalidator(
        [this](std::uint16_t sid, std::uint64_t addr, std::uint64_t size, tick_t at) {
            return invalidate_device_tlb(sid, addr, size, at);
        });
    SC_METHOD(on_advance);
    sensitive << m_advance_event;
    dont_initialize();
}

tick_t iommu::invalidate_device_tlb(std::uint16_t sid, std::uint64_t addr, std::uint64_t size,
                                    tick_t at) {
    const auto it = m_ats_devices.find(sid);
    if (it == m_ats_devices.end()) {
        ++m_ats.invalidations_unclaimed;
        core::log(log_module, core::log_level::warn,
                  "{}: Device-TLB invalidation for {:#06x}, which has no ATS device attached",
                  name(), sid);
        return at;
    }
    ++m_ats.invalidate_requests;
    const pcie::ats::payload msg = pcie::ats::encode_invalidate(addr, size);
    const tick_t completion_sent = it->second->ats_invalidate(msg, at + m_p.ats_message_latency);
    return completion_sent + m_p.ats_message_latency;
}

void iommu::translation_request(tlm::tlm_generic_payload& t, sc_core::sc_time& delay, tick_t at) {
    const std::uint16_t sid = source_of(t);
    const std::uint64_t iova = t.get_address();
    if (!t.is_read() || t.get_data_length() != pcie::ats::completion_bytes) {
        ++m_ats.refused;
        core::log(log_module, core::log_level::info,
                  "{}: malformed Translation Request from {:#06x} ({} of {} B)", name(), sid,
                  t.is_read() ? "read" : "write", t.get_data_length());
        t.set_response_status(tlm::TLM_COMMAND_ERROR_RESPONSE);
        return;
    }
    if (!m_regs.translation_enabled(at)) {
        ++m_ats.refused;  // no translation to give: Unsupported Request
        t.set_response_status(tlm::TLM_COMMAND_ERROR_RESPONSE);
        return;
    }
    const translation r = m_dma.translate_request(sid, iova, at);
    if (r.fault_recorded) m_regs.collect_faults(r.done);
    delay = delay_until(r.done);
    if (!r.ok()) {
        ++m_ats.refused;
        core::log(log_module, core::log_level::info,
                  "{}: Translation Request for {:#x} from {:#06x} refused: {}", name(), iova, sid,
                  to_string(r.fault));
        t.set_response_status(tlm::TLM_ADDRESS_ERROR_RESPONSE);
        return;
    }
    ++m_ats.translation_completions;
    pcie::ats::translation e;
    e.untranslated = iova & ~(r.page_size - 1);
    e.translated = r.hpa;
    e.size = r.page_size;
    e.read = r.access.read;
    e.write = r.access.write;
    const pcie::ats::payload entry = pcie::ats::encode_completion(e);
    std::memcpy(t.get_data_ptr(), entry.data(), entry.size());
    t.set_response_status(tlm::TLM_OK_RESPONSE);
}

void iommu::dma_b_transport(tlm::tlm_generic_payload& t, sc_core::sc_time& delay) {
    const tick_t at = now_ticks(delay);
    const pcie::address_type type = address_type_of(t);
    if (type == pcie::address_type::translation_request) return translation_request(t, delay, at);
    if (!m_regs.translation_enabled(at)) {
        ++m_untranslated;
        out->b_transport(t, delay);
        return;
    }
    const std::uint16_t sid = source_of(t);
    const std::uint64_t iova = t.get_address();
    const bool translated = type == pcie::address_type::translated;
    const translation r = translated ? m_dma.check_translated(sid, iova, t.is_write(), at)
                                     : m_dma.translate(sid, iova, t.is_write(), at);
    if (translated) (r.ok() ? m_ats.translated_passed : m_ats.refused)++;
    if (r.fault_recorded) m_regs.collect_faults(r.done);
    delay = delay_until(r.done);
    if (!r.ok()) {
        core::log(log_module, core::log_level::info,
                  "{}: DMA {} of {} B at {:#x} from {:#06x} aborted: {} (fault reason {:#x}){}",
                  name(), t.is_write() ? "write" : "read", t.get_data_length(), iova, sid,
                  to_string(r.fault), static_cast<unsigned>(r.fault),
                  r.fault_recorded ? "" : ", not recorded");
        t.set_response_status(tlm::TLM_ADDRESS_ERROR_RESPONSE);
        return;
    }
    t.set_address(r.hpa);
    out->b_transport(t, delay);
    t.set_address(iova);
}

unsigned iommu::dma_transport_dbg(tlm::tlm_generic_payload& t) {
    // Debug accesses carry host addresses only while translation is off.
    if (m_regs.translation_enabled(now_ticks())) return 0;
    return out->transport_dbg(t);
}

void iommu::regs_b_transport(tlm::tlm_generic_payload& t, sc_core::sc_time& delay) {
    const tick_t at = now_ticks(delay);
    const auto off = static_cast<std::uint32_t>(t.get_address() - m_p.register_base);
    const unsigned len = t.get_data_length();
    unsigned char* data = t.get_data_ptr();
    t.set_response_status(tlm::TLM_OK_RESPONSE);
    delay += to_sc_time(m_p.register_latency);
    if (t.get_address() < m_p.register_base || off >= reg::page_size || len > 8) {
        t.set_response_status(tlm::TLM_ADDRESS_ERROR_RESPONSE);
        return;
    }
    if (t.is_read()) {
        std::uint64_t v = 0;
        m_regs.read(off, len, v, at);
        for (unsigned i = 0; i < len; ++i) data[i] = static_cast<unsigned char>(v >> (8 * i));
    } else if (t.is_write()) {
        std::uint64_t v = 0;
        for (unsigned i = 0; i < len; ++i) v |= std::uint64_t{data[i]} << (8 * i);
        m_regs.write(off, len, v, at);
    }
    schedule_advance();
}

void iommu::schedule_advance() {
    const tick_t next = m_regs.advance(now_ticks());
    if (next) m_advance_event.notify(delay_until(next));
}

void iommu::on_advance() { schedule_advance(); }

void iommu::send_message(std::uint64_t address, std::uint32_t data, tick_t at) {
    unsigned char b[4];
    for (unsigned i = 0; i < 4; ++i) b[i] = static_cast<unsigned char>(data >> (8 * i));
    tlm::tlm_generic_payload p;
    set_request(p, tlm::TLM_WRITE_COMMAND, address, b, 4);
    pcie::tlp_extension ext;  // the IOMMU itself: requester 00:00.0
    p.set_extension(&ext);
    sc_core::sc_time d = delay_until(at);
    irq_out->b_transport(p, d);
    p.clear_extension(&ext);
}

void iommu::irq_b_transport(tlm::tlm_generic_payload& t, sc_core::sc_time& delay) {
    const tick_t at = now_ticks(delay);
    if (!m_regs.interrupt_remapping_enabled(at)) {
        irq_out->b_transport(t, delay);
        return;
    }
    t.set_response_status(tlm::TLM_OK_RESPONSE);  // a posted write: the device never knows
    const std::uint16_t sid = source_of(t);
    if (t.get_data_length() != 4) {
        ++m_irq_dropped;
        core::log(log_module, core::log_level::warn,
                  "{}: interrupt message of {} B from {:#06x} dropped (must be one DW)", name(),
                  t.get_data_length(), sid);
        return;
    }
    const unsigned char* b = t.get_data_ptr();
    const std::uint32_t data = std::uint32_t{b[0]} | std::uint32_t{b[1]} << 8 |
                               std::uint32_t{b[2]} << 16 | std::uint32_t{b[3]} << 24;
    const interrupt_result r = m_ir.remap(sid, t.get_address(), data, at);
    if (r.fault_recorded) m_regs.collect_faults(r.done);
    if (!r.ok()) {
        ++m_irq_dropped;
        core::log(log_module, core::log_level::info,
                  "{}: interrupt from {:#06x} (address {:#x}, data {:#x}) blocked: {}", name(), sid,
                  t.get_address(), data, to_string(r.fault));
        return;
    }
    switch (r.kind) {
        case interrupt_kind::compatibility:
            delay = delay_until(r.done);
            irq_out->b_transport(t, delay);
            return;
        case interrupt_kind::remapped: {
            // x86 compatibility format (SDM Vol. 3 §11.11): 0xFEE, destination 19:12, RH 3, DM 2.
            const std::uint64_t addr = 0xfee0'0000ull | (r.destination & 0xffu) << 12 |
                                       (r.redirection_hint ? 1u << 3 : 0u) |
                                       (r.logical ? 1u << 2 : 0u);
            const std::uint32_t d = r.vector | std::uint32_t{r.delivery_mode} << 8 |
                                    (r.level ? 1u << 15 | 1u << 14 : 0u);
            send_message(addr, d, r.done);
            return;
        }
        case interrupt_kind::posted:
            if (r.notify)
                send_message(0xfee0'0000ull | apic_id(r.notification_destination) << 12,
                             r.notification_vector, r.done);
            return;
        case interrupt_kind::blocked:
            ++m_irq_dropped;
            return;
    }
}

// An 8-bit APIC ID from a posted-interrupt descriptor's NDST: bits 7:0 in x2APIC mode
// (IRTA.EIME), bits 15:8 in xAPIC mode (VT-d §9.11). (The remapper already decodes an IRTE's
// Destination ID into an APIC ID.)
std::uint64_t iommu::apic_id(std::uint32_t destination) const {
    return m_ir.params().x2apic_mode ? (destination & 0xffu) : (destination >> 8 & 0xffu);
}

void iommu::register_stats(core::stats_registry& reg, const std::string& prefix) const {
    const dma_remapper& d = m_dma;
    const vtd_registers& v = m_regs;
    const interrupt_remapper& ir = m_ir;
    const auto f = [&](const std::string& name, const char* unit, const char* desc,
                       std::function<double()> fn) {
        reg.add_formula(prefix + "." + name, unit, desc, std::move(fn));
    };
    const auto ds = [&d](std::uint64_t dma_remapper_stats::*m) {
        return [&d, m] { return static_cast<double>(d.stats().*m); };
    };
    const auto vs = [&v](std::uint64_t vtd_register_stats::*m) {
        return [&v, m] { return static_cast<double>(v.stats().*m); };
    };
    f("translations", "requests", "DMA requests translated while translation was enabled",
      ds(&dma_remapper_stats::translations));
    f("untranslated", "requests", "DMA requests passed untranslated while GSTS.TES was clear",
      [this] { return static_cast<double>(m_untranslated); });
    f("iotlb.lookups", "lookups", "IOTLB lookups of translating requests (hits + misses)",
      [&d] { return static_cast<double>(d.stats().iotlb_hits + d.stats().iotlb_misses); });
    f("iotlb.hits", "lookups", "IOTLB hits", ds(&dma_remapper_stats::iotlb_hits));
    f("iotlb.misses", "lookups", "IOTLB misses (each walks the tables)",
      ds(&dma_remapper_stats::iotlb_misses));
    f("iotlb.hit_rate", "", "IOTLB hits / lookups", [&d] { return d.stats().iotlb_hit_rate(); });
    const iommu_ats_stats& a = m_ats;
    const auto as = [&a](std::uint64_t iommu_ats_stats::*m) {
        return [&a, m] { return static_cast<double>(a.*m); };
    };
    f("ats.translation_requests", "requests",
      "ATS Translation Requests answered with a completion entry (IOTLB lookups included above)",
      as(&iommu_ats_stats::translation_completions));
    f("ats.translated_requests", "requests",
      "ATS Translated Requests forwarded to memory without an IOTLB lookup",
      as(&iommu_ats_stats::translated_passed));
    f("ats.refused", "requests", "ATS requests refused (context TT not 01b, fault, malformed)",
      as(&iommu_ats_stats::refused));
    f("ats.invalidate_requests", "messages",
      "ATS Invalidate Requests sent to devices for Device-TLB invalidate descriptors",
      as(&iommu_ats_stats::invalidate_requests));
    f("invalidations.device_tlb", "descriptors", "Device-TLB invalidate descriptors executed",
      vs(&vtd_register_stats::dev_tlb_invalidations));
    f("walks", "walks", "second-level page walks", ds(&dma_remapper_stats::walks));
    f("memory_reads_per_walk", "reads", "second-level entries read per walk (mean)", [&d] {
        const auto& s = d.stats();
        return s.walks ? static_cast<double>(s.walk_memory_reads) / s.walks : 0.0;
    });
    f("context_cache.hits", "lookups", "context-cache hits", ds(&dma_remapper_stats::context_hits));
    f("context_cache.misses", "lookups", "context-cache misses (root and context entry read)",
      ds(&dma_remapper_stats::context_misses));
    f("pass_through", "requests", "requests of pass-through (TT = 10) devices",
      ds(&dma_remapper_stats::pass_through));
    f("walker_wait_ns", "ns", "time walks waited for a free page walker",
      [&d] { return ticks_to_ns(d.stats().walker_wait); });
    f("faults.total", "faults", "translation and interrupt-remapping faults of every reason",
      [&d, &ir] { return static_cast<double>(d.stats().faults + ir.stats().faults); });
    for (const auto& [reason, name] : reason_names) {
        const auto r = reason;
        // DMA faults from the remapper's counters (FPD-suppressed ones included); interrupt
        // remapping faults from the fault log, which counts every one handed to it.
        f(std::string("faults.") + name, "faults", to_string(r), [this, &d, r] {
            return static_cast<double>(static_cast<unsigned>(r) >= 0x20 ? m_faults.count(r)
                                                                        : d.stats().faults_of(r));
        });
    }
    f("faults.recorded", "faults", "faults written into a fault recording register",
      vs(&vtd_register_stats::faults_recorded));
    f("faults.overflows", "faults", "faults dropped because every FRCD was full (FSTS.PFO)",
      vs(&vtd_register_stats::fault_overflows));
    f("faults.events", "interrupts", "fault event interrupts sent",
      vs(&vtd_register_stats::fault_events));
    f("invalidations.context", "commands", "context-cache invalidations (register or queued)",
      vs(&vtd_register_stats::context_invalidations));
    f("invalidations.iotlb_global", "commands", "global IOTLB invalidations",
      vs(&vtd_register_stats::iotlb_inv_global));
    f("invalidations.iotlb_domain", "commands", "domain-selective IOTLB invalidations",
      vs(&vtd_register_stats::iotlb_inv_domain));
    f("invalidations.iotlb_page", "commands", "page-selective IOTLB invalidations",
      vs(&vtd_register_stats::iotlb_inv_page));
    f("invalidations.iec", "commands", "interrupt entry cache invalidations",
      vs(&vtd_register_stats::iec_invalidations));
    f("invalidations.wait", "descriptors", "invalidation wait descriptors",
      vs(&vtd_register_stats::wait_descriptors));
    f("invalidations.queued_descriptors", "descriptors",
      "descriptors processed from the invalidation queue",
      vs(&vtd_register_stats::queued_descriptors));
    f("invalidations.time_ns", "ns", "hardware time spent performing invalidations",
      [&v] { return ticks_to_ns(v.stats().invalidation_time); });
    f("errors.queue", "descriptors", "invalidation queue errors (FSTS.IQE)",
      vs(&vtd_register_stats::queue_errors));
    f("errors.programming", "commands", "register commands ignored as malformed or misplaced",
      vs(&vtd_register_stats::programming_errors));
    f("errors.register_access", "accesses", "register accesses of a bad size or alignment",
      vs(&vtd_register_stats::bad_accesses));
    f("ir.requests", "messages", "interrupt messages seen by interrupt remapping",
      [&ir] { return static_cast<double>(ir.stats().requests); });
    f("ir.remapped", "messages", "interrupts remapped through a remapped-format IRTE",
      [&ir] { return static_cast<double>(ir.stats().remapped); });
    f("ir.posted", "messages", "interrupts posted into a posted-interrupt descriptor",
      [&ir] { return static_cast<double>(ir.stats().posted); });
    f("ir.notifications", "messages", "notification events sent for posted interrupts",
      [&ir] { return static_cast<double>(ir.stats().notifications); });
    f("ir.faults", "messages", "interrupt messages blocked by a remapping fault",
      [&ir] { return static_cast<double>(ir.stats().faults); });
}

}  // namespace iovsim::iommu

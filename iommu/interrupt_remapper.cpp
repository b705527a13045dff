#include "iommu/interrupt_remapper.h"

#include <stdexcept>

#include "models/mem/sparse_store.h"

namespace iovsim::iommu {

namespace {
std::uint64_t source_fields(irte_source_check s) {
    return s.sid | (static_cast<std::uint64_t>(s.sq & 3) << 16) |
           (static_cast<std::uint64_t>(s.svt & 3) << 18);
}
}  // namespace

irte_words make_remapped_irte(std::uint32_t destination, std::uint8_t vector, irte_source_check src,
                              bool logical, bool level, std::uint8_t delivery_mode,
                              bool redirection_hint, bool fpd) {
    irte_words w;
    w.lo = vtd::irte_p | (fpd ? vtd::irte_fpd : 0) | (logical ? vtd::irte_dm : 0) |
           (redirection_hint ? vtd::irte_rh : 0) | (level ? vtd::irte_tm : 0) |
           (static_cast<std::uint64_t>(delivery_mode & 7) << 5) |
           (static_cast<std::uint64_t>(vector) << 16) |
           (static_cast<std::uint64_t>(destination) << 32);
    w.hi = source_fields(src);
    return w;
}

irte_words make_posted_irte(std::uint64_t pda, std::uint8_t vector, bool urgent,
                            irte_source_check src, bool fpd) {
    irte_words w;
    // PDA bits 31:6 go to IRTE bits 63:38; bits 63:32 to IRTE bits 127:96.
    w.lo = vtd::irte_p | (fpd ? vtd::irte_fpd : 0) | (urgent ? vtd::irte_urg : 0) | vtd::irte_im |
           (static_cast<std::uint64_t>(vector) << 16) | (((pda >> 6) & 0x3ffffff) << 38);
    w.hi = source_fields(src) | ((pda >> 32) << 32);
    return w;
}

std::uint32_t make_remappable_msi_address(std::uint16_t handle, bool shv) {
    return 0xfee00000u | (static_cast<std::uint32_t>(handle & 0x7fff) << 5) |
           static_cast<std::uint32_t>(vtd::msi_if) |
           (shv ? static_cast<std::uint32_t>(vtd::msi_shv) : 0u) |
           ((handle & 0x8000) ? static_cast<std::uint32_t>(vtd::msi_handle15) : 0u);
}

post_result post_interrupt(table_memory& memory, std::uint64_t pda, std::uint8_t vector,
                           bool urgent, tick_t at) {
    post_result r;
    std::uint8_t pid[vtd::pid_size];
    tick_t now = at;
    if (!memory.read(pda, pid, sizeof pid, now, now)) return r;
    pid[vector / 8] |= static_cast<std::uint8_t>(1u << (vector % 8));
    const bool on = pid[vtd::pid_on_bit / 8] & (1u << (vtd::pid_on_bit % 8));
    const bool sn = pid[vtd::pid_sn_bit / 8] & (1u << (vtd::pid_sn_bit % 8));
    if (!on && (urgent || !sn)) {
        pid[vtd::pid_on_bit / 8] |= static_cast<std::uint8_t>(1u << (vtd::pid_on_bit % 8));
        r.notify = true;
    }
    r.notification_vector = pid[vtd::pid_nv_byte];
    r.notification_destination = mem::load_le<std::uint32_t>(pid + vtd::pid_ndst_byte);
    if (!memory.write(pda, pid, sizeof pid, now, now)) return post_result{};
    r.ok = true;
    r.done = now;
    return r;
}

interrupt_remapper::interrupt_remapper(table_memory& memory, fault_log& faults,
                                       const interrupt_remapper_params& p)
    : m_memory(memory), m_faults(faults), m_params(p) {}

void interrupt_remapper::set_table(std::uint64_t irta, unsigned s) {
    if (irta % page_4k != 0) throw std::invalid_argument("interrupt_remapper: IRTA not aligned");
    if (s > 15) throw std::invalid_argument("interrupt_remapper: S must be 0..15");
    m_irta = irta;
    m_entries = 2u << s;
}

void interrupt_remapper::fail(interrupt_result& r, fault_reason f, std::uint16_t source_id,
                              bool fpd) {
    r.fault = f;
    r.kind = interrupt_kind::blocked;
    ++m_stats.faults;
    if (fpd) {
        ++m_stats.faults_suppressed;
        return;
    }
    r.fault_recorded = m_faults.record(fault_record{source_id, r.index, f, true});
}

interrupt_result interrupt_remapper::remap(std::uint16_t source_id, std::uint64_t address,
                                           std::uint32_t data, tick_t at) {
    ++m_stats.requests;
    interrupt_result r;
    tick_t now = at + m_params.lookup_latency;
    r.done = now;
    if (!(address & vtd::msi_if)) {
        if (!m_params.compatibility_format) {
            fail(r, fault_reason::ir_compatibility_blocked, source_id, false);
            return r;
        }
        ++m_stats.compatibility;
        r.kind = interrupt_kind::compatibility;
        return r;
    }
    const std::uint32_t handle = static_cast<std::uint32_t>((address & vtd::msi_handle_lo) >> 5) |
                                 ((address & vtd::msi_handle15) ? 0x8000u : 0u);
    r.index = handle + ((address & vtd::msi_shv) ? (data & 0xffff) : 0);
    if (r.index >= m_entries) {
        fail(r, fault_reason::ir_index_beyond_table, source_id, false);
        return r;
    }

    std::uint8_t buf[vtd::irte_size];
    ++r.memory_reads;
    if (!m_memory.read(m_irta + r.index * vtd::irte_size, buf, sizeof buf, now, now)) {
        r.done = now;
        fail(r, fault_reason::irte_access_error, source_id, false);
        return r;
    }
    r.done = now;
    const std::uint64_t lo = mem::load_le<std::uint64_t>(buf);
    const std::uint64_t hi = mem::load_le<std::uint64_t>(buf + 8);
    if (!(lo & vtd::irte_p)) {
        fail(r, fault_reason::irte_not_present, source_id, false);
        return r;
    }
    const bool fpd = (lo & vtd::irte_fpd) != 0;
    const bool posted = (lo & vtd::irte_im) != 0;
    const unsigned svt = static_cast<unsigned>((hi & vtd::irte_hi_svt) >> 18);
    bool reserved = svt == 3;
    if (posted) {
        reserved |= (lo & vtd::irte_posted_lo_reserved) || (hi & vtd::irte_posted_hi_reserved);
    } else {
        reserved |= (lo & vtd::irte_remapped_lo_reserved) || (hi & vtd::irte_remapped_hi_reserved);
        if (!m_params.x2apic_mode) reserved |= (lo & (vtd::bits(39, 32) | vtd::bits(63, 48))) != 0;
    }
    if (reserved) {
        fail(r, fault_reason::irte_reserved, source_id, fpd);
        return r;
    }

    const std::uint16_t sid = static_cast<std::uint16_t>(hi & vtd::irte_hi_sid);
    if (svt == 1) {
        const unsigned sq = static_cast<unsigned>((hi & vtd::irte_hi_sq) >> 16);
        // SQ 01 ignores bit 2, 10 bits 2:1, 11 bits 2:0 of the function number.
        static constexpr std::uint16_t sq_mask[] = {0xffff, 0xfffb, 0xfff9, 0xfff8};
        if ((sid & sq_mask[sq]) != (source_id & sq_mask[sq])) {
            fail(r, fault_reason::ir_source_id_invalid, source_id, fpd);
            return r;
        }
    } else if (svt == 2) {
        const unsigned bus = source_id >> 8;
        if (bus < (sid >> 8) || bus > (sid & 0xffu)) {
            fail(r, fault_reason::ir_source_id_invalid, source_id, fpd);
            return r;
        }
    }

    r.vector = static_cast<std::uint8_t>((lo & vtd::irte_vector) >> 16);
    if (!posted) {
        ++m_stats.remapped;
        r.kind = interrupt_kind::remapped;
        const std::uint32_t dst = static_cast<std::uint32_t>(lo >> 32);
        r.destination = m_params.x2apic_mode ? dst : (dst >> 8) & 0xff;
        r.logical = (lo & vtd::irte_dm) != 0;
        r.level = (lo & vtd::irte_tm) != 0;
        r.redirection_hint = (lo & vtd::irte_rh) != 0;
        r.delivery_mode = static_cast<std::uint8_t>((lo & vtd::irte_dlm) >> 5);
        return r;
    }

    r.urgent = (lo & vtd::irte_urg) != 0;
    r.pda = (hi & vtd::irte_hi_pda_hi) | (((lo & vtd::irte_pda_lo) >> 38) << 6);
    const post_result p = post_interrupt(m_memory, r.pda, r.vector, r.urgent, now);
    if (!p.ok) {
        fail(r, fault_reason::pid_access_error, source_id, fpd);
        return r;
    }
    ++m_stats.posted;
    r.kind = interrupt_kind::posted;
    r.memory_reads += 1;
    r.memory_writes += 1;
    r.notify = p.notify;
    r.notification_vector = p.notification_vector;
    r.notification_destination = p.notification_destination;
    if (p.notify) ++m_stats.notifications;
    r.done = p.done;
    return r;
}

}  // namespace iovsim::iommu

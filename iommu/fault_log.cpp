#include "iommu/fault_log.h"

#include <stdexcept>

namespace iovsim::iommu {

fault_log::fault_log(std::uint32_t records) {
    if (records == 0) throw std::invalid_argument("fault_log: needs at least one record");
    m_ring.resize(records);
}

bool fault_log::record(const fault_record& r) {
    ++m_by_reason[static_cast<std::uint8_t>(r.reason)];
    if (m_count == m_ring.size()) {
        m_overflow = true;
        ++m_dropped;
        return false;
    }
    m_ring[(m_head + m_count) % m_ring.size()] = r;
    ++m_count;
    ++m_recorded;
    return true;
}

const fault_record& fault_log::front() const {
    if (m_count == 0) throw std::logic_error("fault_log: no pending fault");
    return m_ring[m_head];
}

void fault_log::pop() {
    if (m_count == 0) throw std::logic_error("fault_log: no pending fault");
    m_head = (m_head + 1) % static_cast<std::uint32_t>(m_ring.size());
    --m_count;
}

const char* to_string(fault_reason r) {
    switch (r) {
        case fault_reason::none:
            return "none";
        case fault_reason::root_not_present:
            return "root entry not present";
        case fault_reason::context_not_present:
            return "context entry not present";
        case fault_reason::context_invalid:
            return "invalid context entry";
        case fault_reason::address_beyond_agaw:
            return "address beyond AGAW";
        case fault_reason::write_not_permitted:
            return "write not permitted";
        case fault_reason::read_not_permitted:
            return "read not permitted";
        case fault_reason::sl_entry_access_error:
            return "second-level entry access error";
        case fault_reason::root_access_error:
            return "root table access error";
        case fault_reason::context_access_error:
            return "context table access error";
        case fault_reason::root_reserved:
            return "reserved field in root entry";
        case fault_reason::context_reserved:
            return "reserved field in context entry";
        case fault_reason::sl_entry_reserved:
            return "reserved field in second-level entry";
        case fault_reason::translation_blocked:
            return "translation request or translated request blocked (context TT not 01b)";
        case fault_reason::ir_request_reserved:
            return "reserved field in interrupt request";
        case fault_reason::ir_index_beyond_table:
            return "interrupt index beyond table";
        case fault_reason::irte_not_present:
            return "IRTE not present";
        case fault_reason::irte_access_error:
            return "IRTE access error";
        case fault_reason::irte_reserved:
            return "reserved field in IRTE";
        case fault_reason::ir_compatibility_blocked:
            return "compatibility interrupt blocked";
        case fault_reason::ir_source_id_invalid:
            return "source-id verification failed";
        case fault_reason::pid_access_error:
            return "posted-interrupt descriptor access error";
    }
    return "unknown";
}

}  // namespace iovsim::iommu

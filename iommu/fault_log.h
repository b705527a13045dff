// Primary fault logging (VT-d §7.1.3, §10.4.14 fault recording registers) as plain C++: a ring
// of N fault records that the remapping hardware fills and software drains.
//
// Models: a record holds the source ID, the faulting address (the DMA address, or for an
// interrupt-remapping fault the interrupt index in the address field, as FRCD's FI does), the
// fault reason and the request type (read or write). When all N records hold unread faults a new
// fault is dropped and the primary fault overflow flag (FSTS.PFO) is set; counters by reason
// count every fault handed in, recorded or not.
//
// Leaves out: the register encoding (FRCD_REG layout, FSTS.PPF/FRI, fault event interrupts),
// which the register file builds on top; advanced fault logging; PASID and privilege fields.
//
// Timing: none; recording a fault costs the hardware nothing the model charges.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "iommu/vtd_format.h"

namespace iovsim::iommu {

struct fault_record {
    std::uint16_t source_id = 0;
    std::uint64_t address = 0;
    fault_reason reason = fault_reason::none;
    bool is_write = false;  // FRCD.T is 0 for a write, 1 for a read
};

class fault_log {
public:
    // records: NFR + 1 fault recording registers, > 0 (std::invalid_argument otherwise).
    explicit fault_log(std::uint32_t records = 8);

    // Records r; false (dropped, overflow set) if all records hold unread faults.
    bool record(const fault_record& r);

    std::uint32_t capacity() const { return static_cast<std::uint32_t>(m_ring.size()); }
    std::uint32_t pending() const { return m_count; }
    bool empty() const { return m_count == 0; }
    // The oldest unread record; std::logic_error if empty.
    const fault_record& front() const;
    // Software clears the oldest record's F bit; std::logic_error if empty.
    void pop();
    bool overflow() const { return m_overflow; }
    void clear_overflow() { m_overflow = false; }

    std::uint64_t recorded() const { return m_recorded; }
    std::uint64_t dropped() const { return m_dropped; }
    // Faults handed to record() with this reason (recorded or dropped).
    std::uint64_t count(fault_reason r) const { return m_by_reason[static_cast<std::uint8_t>(r)]; }

private:
    std::vector<fault_record> m_ring;
    std::uint32_t m_head = 0;  // oldest unread record
    std::uint32_t m_count = 0;
    bool m_overflow = false;
    std::uint64_t m_recorded = 0;
    std::uint64_t m_dropped = 0;
    std::array<std::uint64_t, 256> m_by_reason{};
};

}  // namespace iovsim::iommu

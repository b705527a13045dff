// The IOMMU's interrupt-remapping core (VT-d §5.1, §5.2, §9.10-§9.12, plain C++): decodes an
// interrupt request (an MSI's address and data with its requester ID), reads the interrupt
// remapping table entry (IRTE) from host memory, validates it, and returns either a remapped
// interrupt (destination, vector, modes) or, for a posted-format IRTE, performs the posting on
// the posted-interrupt descriptor in memory and says whether a notification event is due.
//
// Models:
// - Remappable-format MSI address: bit 4 interrupt format (1 = remappable), handle[14:0] in
//   bits 19:5, handle[15] in bit 2, SHV bit 3; with SHV the index is handle + data[15:0]
//   (the subhandle), else the handle. A compatibility-format request (bit 4 = 0) is passed on
//   untouched when compatibility_format is set (GSTS.CFIS), else blocked (fault 0x25).
// - The table at IRTA with 2^(S+1) entries of 16 B (IRTA_REG.S); index beyond it 0x21, IRTE
//   not present 0x22, IRTE outside memory 0x23, reserved bits set (or SVT = 11) 0x24, source-ID
//   verification failed 0x26 (SVT 01: SID compared under the SQ mask; SVT 10: requester bus
//   within SID[15:8]..SID[7:0]).
// - Remapped format: P, FPD, DM, RH, TM, DLM, vector, destination ID (x2APIC: 32 bits; xAPIC,
//   EIME = 0: bits 47:40, with 39:32 and 63:48 reserved).
// - Posted format (IM = 1): URG, vector, PDA (bits 63:6). post_interrupt(): a read-modify-write
//   of the 64 B descriptor that sets PIR[vector]; if ON was 0 and (URG or SN = 0) it sets ON and
//   a notification event (NV to NDST) is due (§9.12). A PDA outside memory faults (0x27).
// - Faults go to the shared fault_log (address = interrupt index, as FRCD.FI holds it; type
//   write) unless the IRTE's FPD is set.
//
// Leaves out: the interrupt entry cache (every request reads its IRTE), fault 0x20 (no reserved
// field of the request is checked), extended interrupt mode checks beyond the destination
// width, delivery of the result (the shell sends it to the APIC model), and the atomicity of
// the descriptor update (a read then a write, not a locked bus operation).
//
// Timing: lookup_latency to decode, then the IRTE read (16 B) through table_memory; posting
// adds the descriptor read (64 B) and write (64 B), one after the other.
#pragma once

#include <cstdint>

#include "iommu/fault_log.h"
#include "iommu/table_memory.h"
#include "iommu/vtd_format.h"
#include "models/core/units.h"

namespace iovsim::iommu {

struct interrupt_remapper_params {
    bool compatibility_format = false;         // GSTS.CFIS: pass compatibility requests
    bool x2apic_mode = true;                   // IRTA.EIME: 32-bit destination IDs
    tick_t lookup_latency = 2 * ticks_per_ns;  // request decode before the IRTE read
};

// IRTE words (128 bits) for builders and tests.
struct irte_words {
    std::uint64_t lo = 0;
    std::uint64_t hi = 0;
};
struct irte_source_check {
    std::uint16_t sid = 0;
    std::uint8_t sq = 0;   // 0: all 16 bits, 1..3: ignore function bits 2, 2:1, 2:0
    std::uint8_t svt = 0;  // 0: none, 1: SID/SQ, 2: bus range SID[15:8]..SID[7:0]
};
irte_words make_remapped_irte(std::uint32_t destination, std::uint8_t vector,
                              irte_source_check src = {}, bool logical = false, bool level = false,
                              std::uint8_t delivery_mode = 0, bool redirection_hint = false,
                              bool fpd = false);
irte_words make_posted_irte(std::uint64_t pda, std::uint8_t vector, bool urgent = false,
                            irte_source_check src = {}, bool fpd = false);
// Remappable-format MSI address for interrupt handle `handle` (0xFEE in bits 31:20).
std::uint32_t make_remappable_msi_address(std::uint16_t handle, bool shv = false);

enum class interrupt_kind : std::uint8_t { blocked, compatibility, remapped, posted };

struct interrupt_result {
    fault_reason fault = fault_reason::none;
    interrupt_kind kind = interrupt_kind::blocked;
    std::uint32_t index = 0;  // interrupt index (remappable format)
    std::uint8_t vector = 0;
    // remapped
    std::uint32_t destination = 0;
    bool logical = false;            // DM
    bool level = false;              // TM
    bool redirection_hint = false;   // RH
    std::uint8_t delivery_mode = 0;  // DLM
    // posted
    std::uint64_t pda = 0;  // posted-interrupt descriptor address
    bool urgent = false;
    bool notify = false;                         // a notification event is due
    std::uint8_t notification_vector = 0;        // NV
    std::uint32_t notification_destination = 0;  // NDST
    bool fault_recorded = false;
    std::uint32_t memory_reads = 0;
    std::uint32_t memory_writes = 0;
    tick_t done = 0;

    bool ok() const { return fault == fault_reason::none; }
};

struct post_result {
    bool ok = false;  // false: the descriptor is not in memory
    bool notify = false;
    std::uint8_t notification_vector = 0;
    std::uint32_t notification_destination = 0;
    tick_t done = 0;
};

// Posts `vector` into the 64 B posted-interrupt descriptor at pda (§9.12): sets PIR[vector];
// if ON is 0 and (urgent or SN is 0), sets ON and reports that NV must be sent to NDST.
post_result post_interrupt(table_memory& memory, std::uint64_t pda, std::uint8_t vector,
                           bool urgent, tick_t at);

struct interrupt_remapper_stats {
    std::uint64_t requests = 0;
    std::uint64_t remapped = 0;
    std::uint64_t posted = 0;
    std::uint64_t notifications = 0;  // posted requests that need a notification event
    std::uint64_t compatibility = 0;  // compatibility-format requests passed on
    std::uint64_t faults = 0;
    std::uint64_t faults_suppressed = 0;  // not recorded because of FPD
};

class interrupt_remapper {
public:
    interrupt_remapper(table_memory& memory, fault_log& faults,
                       const interrupt_remapper_params& p = {});

    // IRTA_REG: table address (4 KiB aligned) and size field S (2^(S+1) entries, S <= 15).
    // std::invalid_argument otherwise.
    void set_table(std::uint64_t irta, unsigned s);
    std::uint32_t table_entries() const { return m_entries; }

    // Remaps an interrupt request from source_id with MSI address and data arriving at `at`.
    interrupt_result remap(std::uint16_t source_id, std::uint64_t address, std::uint32_t data,
                           tick_t at);

    const interrupt_remapper_stats& stats() const { return m_stats; }
    const interrupt_remapper_params& params() const { return m_params; }

private:
    void fail(interrupt_result& r, fault_reason f, std::uint16_t source_id, bool fpd);

    table_memory& m_memory;
    fault_log& m_faults;
    interrupt_remapper_params m_params;
    std::uint64_t m_irta = 0;
    std::uint32_t m_entries = 0;  // no table until set_table()
    interrupt_remapper_stats m_stats;
};

}  // namespace iovsim::iommu

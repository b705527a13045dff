// The IOMMU as a SystemC module: a TLM interconnect between the root complex and memory
// (DESIGN.md §4) around the plain-C++ cores: dma_remapper (translation), interrupt_remapper,
// fault_log and vtd_registers (the register page).
//
// Sockets:
// - `in` (target, from the root complex's dma_socket): each request is translated for the
//   requester ID its tlp_extension carries (no extension: source ID 0) and forwarded on `out`
//   (initiator, to memory's device_socket) with the host-physical address; the address is
//   restored on return. A fault aborts the request with TLM_ADDRESS_ERROR_RESPONSE and memory is
//   never touched; the root complex turns that into a Completer Abort (reads) or drops the
//   write. While GSTS.TES is clear requests pass untranslated, as VT-d hardware does.
// - `regs` (target, from the root complex's iommu_socket): the 4 KiB register page at
//   register_base; the low 12 address bits select the register.
// - `irq_in` (target, from the root complex's irq_socket) and `irq_out` (initiator, to the
//   interrupt controller): interrupt messages. With GSTS.IRES clear they pass unchanged. With
//   it set they are remapped: a remapped-format IRTE becomes a compatibility-format message
//   (destination in address bits 19:12, DM bit 2, RH bit 3; vector, delivery mode and trigger
//   mode in the data); a posted-format IRTE sets PIR and ON in the posted-interrupt descriptor
//   in memory and, when a notification is due, sends the notification vector to NDST; a fault
//   drops the message.
// - The fault event and invalidation completion interrupts are memory writes of FEDATA to
//   FEADDR (IEDATA to IEADDR) sent on irq_out.
//
// Table reads: the walker, IRTE reads, descriptor posting and the invalidation queue reach host
// memory directly through the memory model (its bytes by host address and its memory_timing as
// requester::device), not through memory's sockets: each costs the same time a DMA read would
// and contends with DMA for the LLC and DRAM channels, without a TLM transaction per entry.
//
// - ATS (the address type in the tlp_extension): a Translation Request (a read of one 8-byte
//   entry) is answered by the remapper's translate_request() with a Translation Completion
//   entry written into the request's data in the PCIe layout (models/pcie/ats_format.h):
//   translated page address, S for a range above 4 KiB, R and W; R = W = 0 for an unmapped
//   page. A Translated Request goes to memory at its own address with no IOTLB lookup, if the
//   requester's context entry has TT = 01b. A request refused (TT not 01b, a broken context, a
//   Translation Request while translation is disabled or not an 8-byte read) gets
//   TLM_ADDRESS_ERROR_RESPONSE (TLM_COMMAND_ERROR_RESPONSE for a malformed one) and memory is
//   never touched.
// - Device-TLB invalidation, simplified: the PCIe Invalidate Request message travels downstream
//   through the root complex and link, and the Invalidation Completion back up. Here the IOMMU
//   calls the ATS-capable device registered for the descriptor's source ID directly
//   (attach_ats_device) with the message's payload, charging ats_message_latency each way; the
//   device drops the range from its ATC at once and returns when its completion leaves. The
//   invalidation wait descriptors that follow complete only after that completion is back. A
//   descriptor for a source ID with no registered device completes at once (counted).
//
// Leaves out: PASID-tagged requests, more than one IOMMU (one register page, every requester
// behind it), invalidation time-outs, the link traffic of invalidation messages.
//
// Timing: translation time (IOTLB probe, walks, walker queueing) is the core's, added to the
// request's delay before memory's own; register accesses add register_latency on top of the
// root complex's MMIO latency; interrupt remapping adds the IRTE read (and the descriptor
// read-modify-write for a posted IRTE).
#pragma once

#include <tlm_utils/simple_initiator_socket.h>
#include <tlm_utils/simple_target_socket.h>

#include <map>
#include <string>
#include <tlm>

#include "iommu/dma_remapper.h"
#include "iommu/fault_log.h"
#include "iommu/interrupt_remapper.h"
#include "iommu/registers.h"
#include "iommu/table_memory.h"
#include "models/core/stats.h"
#include "models/mem/memory.h"
#include "models/pcie/ats_format.h"

namespace iovsim::iommu {

// table_memory over the platform's memory model: bytes by host address (any DRAM range), time
// from its memory_timing as a device access, plus the trip between the IOMMU (in the root
// complex's I/O hub) and the memory controller each way.
class memory_model_table_memory final : public table_memory {
public:
    // `fabric_latency`: the round trip between the IOMMU and the memory controller, half each way.
    memory_model_table_memory(mem::memory& m, tick_t fabric_latency)
        : m_mem(m),
          m_request_latency(fabric_latency / 2),
          m_response_latency(fabric_latency - fabric_latency / 2) {}
    bool read(std::uint64_t hpa, void* dst, std::uint32_t len, tick_t at, tick_t& done) override;
    bool write(std::uint64_t hpa, const void* src, std::uint32_t len, tick_t at,
               tick_t& done) override;
    std::uint64_t reads() const { return m_reads; }

private:
    mem::memory& m_mem;
    tick_t m_request_latency;
    tick_t m_response_latency;
    std::uint64_t m_reads = 0;
};

struct iommu_params {
    dma_remapper_params dma;
    interrupt_remapper_params ir;
    vtd_register_params regs;
    std::uint64_t register_base = 0xfed9'0000;
    tick_t register_latency = 5 * ticks_per_ns;  // decode and access inside the IOMMU
    // A page-table read's round trip between the IOMMU (in the I/O hub) and the memory
    // controller, on top of memory's own time (iommu.table_read_latency). Calibrated: with the
    // page tables in DRAM (80 ns) and a 5 ns paging-structure-cache lookup, an IOTLB miss whose
    // upper levels are cached costs 5 + 165 + 80 = 250 ns more than a hit, pcie-bench's
    // measurement (+226 to +280 ns for a 64 B read).
    tick_t table_read_latency = 165 * ticks_per_ns;
    // An ATS Invalidate Request from the IOMMU to the device (and its Invalidation Completion
    // back), one way: the root complex (pcie.rc.upstream_latency, 150 ns) plus a link hop
    // (pcie.hop_latency, 100 ns).
    tick_t ats_message_latency = 250 * ticks_per_ns;
};

struct iommu_ats_stats {
    std::uint64_t translation_completions = 0;  // Translation Requests answered
    std::uint64_t translated_passed = 0;        // Translated Requests forwarded to memory
    std::uint64_t refused = 0;                  // ATS requests refused (fault or malformed)
    std::uint64_t invalidate_requests = 0;      // Invalidate Requests sent to devices
    std::uint64_t invalidations_unclaimed = 0;  // Device-TLB descriptors with no device
};

class iommu : public sc_core::sc_module {
public:
    tlm_utils::simple_target_socket<iommu> in;
    tlm_utils::simple_initiator_socket<iommu> out;
    tlm_utils::simple_target_socket<iommu> regs;
    tlm_utils::simple_target_socket<iommu> irq_in;
    tlm_utils::simple_initiator_socket<iommu> irq_out;

    SC_HAS_PROCESS(iommu);
    iommu(sc_core::sc_module_name name, mem::memory& memory, const iommu_params& p = {});

    dma_remapper& remapper() { return m_dma; }
    interrupt_remapper& interrupts() { return m_ir; }
    vtd_registers& registers() { return m_regs; }
    const dma_remapper& remapper() const { return m_dma; }
    const vtd_registers& registers() const { return m_regs; }
    const interrupt_remapper& interrupts() const { return m_ir; }
    std::uint64_t untranslated_while_disabled() const { return m_untranslated; }
    std::uint64_t interrupts_dropped() const { return m_irq_dropped; }
    const iommu_ats_stats& ats_stats() const { return m_ats; }

    // Registers the ATS-capable function with requester ID source_id as the receiver of
    // Invalidate Requests for that ID (replacing an earlier one). The device must outlive the
    // simulation.
    void attach_ats_device(std::uint16_t source_id, pcie::ats::ats_invalidation_target& device) {
        m_ats_devices[source_id] = &device;
    }

    // Statistics under `prefix` (iommu.iotlb.hits, iommu.faults.<reason>, ...).
    void register_stats(core::stats_registry& reg, const std::string& prefix) const;

private:
    std::uint64_t apic_id(std::uint32_t destination) const;
    void dma_b_transport(tlm::tlm_generic_payload& t, sc_core::sc_time& delay);
    unsigned dma_transport_dbg(tlm::tlm_generic_payload& t);
    void regs_b_transport(tlm::tlm_generic_payload& t, sc_core::sc_time& delay);
    void irq_b_transport(tlm::tlm_generic_payload& t, sc_core::sc_time& delay);
    void send_message(std::uint64_t address, std::uint32_t data, tick_t at);
    void translation_request(tlm::tlm_generic_payload& t, sc_core::sc_time& delay, tick_t at);
    tick_t invalidate_device_tlb(std::uint16_t sid, std::uint64_t addr, std::uint64_t size,
                                 tick_t at);
    void schedule_advance();
    void on_advance();

    iommu_params m_p;
    memory_model_table_memory m_memory;
    fault_log m_faults;
    dma_remapper m_dma;
    interrupt_remapper m_ir;
    vtd_registers m_regs;
    sc_core::sc_event m_advance_event;
    std::uint64_t m_untranslated = 0;
    std::uint64_t m_irq_dropped = 0;
    std::map<std::uint16_t, pcie::ats::ats_invalidation_target*> m_ats_devices;
    iommu_ats_stats m_ats;
};

}  // namespace iovsim::iommu

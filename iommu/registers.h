// The VT-d remapping hardware's register file (VT-d rev 3.x, §10.4) as plain C++: a table-driven
// register bank and, on top of it, the behaviour software sees through the registers.
//
// Models:
// - register_bank: registers by offset, 32 or 64 bits wide, with a reset value, read-write and
//   write-1-to-clear masks and read/write callbacks. Accesses are 4 or 8 bytes, naturally
//   aligned; a 4-byte access to a 64-bit register reaches one half (the spec allows software to
//   split 64-bit registers into two 32-bit accesses, low half first).
// - vtd_registers, at the spec's offsets and bit positions: VER_REG, CAP_REG, ECAP_REG (read
//   only, built from the remapper's parameters), GCMD_REG / GSTS_REG with the command-status
//   handshake for TE, SRTP, QIE, IRE and SIRTP (a status bit follows its command after
//   command_latency), RTADDR_REG, CCMD_REG (register-based context-cache invalidation: global,
//   domain, device with FM), IVA_REG / IOTLB_REG at ECAP.IRO (global, domain, page-selective
//   with AM and IH; AM above CAP.MAMV falls back to domain-selective, reported in IAIG),
//   FSTS_REG (PFO, PPF, IQE, ICE, ITE, FRI), FECTL/FEDATA/FEADDR/FEUADDR (fault event
//   interrupt: an MSI write when FECTL.IM is clear, else FECTL.IP is set and the message goes
//   when software clears IM), the fault recording registers FRCD at CAP.FRO (NFR + 1 records of
//   128 bits: FI, SID, FR, T, F), IQH/IQT/IQA/ICS (queued invalidation: context-cache (type
//   0x1), IOTLB (0x2), Device-TLB (0x3, when ECAP.DT: handed to the device-TLB invalidator, see
//   below), interrupt entry cache (0x4, accepted: no entry cache is modelled) and
//   invalidation wait (0x5, status write and IF completion interrupt) descriptors of 128 bits in
//   a ring in host memory; a malformed descriptor (unknown type, reserved bits set, granularity
//   00, AM above MAMV, status address not dword aligned) or a descriptor outside memory sets
//   FSTS.IQE and stops the head at that descriptor until software clears IQE), IECTL/IEDATA/
//   IEADDR, and IRTA_REG.
// - Programming errors are never a crash: each is a status bit the spec defines where there is
//   one, a counter in stats(), and a log line under module "iommu".
//
// - Device-TLB invalidation (ECAP.DT, params.device_tlb): a Device-TLB invalidate descriptor
//   (SID 47:32, MIP 20:16, PFSID; ADDR 127:76 with S at bit 64, the ATS range encoding) is handed
//   to the device-TLB invalidator callback (the SystemC shell sends an ATS Invalidate Request
//   to the device and learns when its Invalidation Completion is back); the queue moves on, but
//   every later invalidation wait descriptor completes no earlier than the latest such
//   completion (VT-d §6.5.2.8: a wait covers every earlier descriptor). With ECAP.DT clear the
//   descriptor is malformed.
//
// Leaves out: scalable mode (RTADDR.TTM, 256-bit descriptors: IQA.DW is read-only 0), advanced
// fault logging, protected memory regions, write-buffer flushing, performance monitoring, the
// PASID descriptors (reported as malformed: PASID is 0), invalidation time-outs (ITE), caching
// mode (CAP.CM = 0), page-request queues, register-based invalidation while queued invalidation
// is enabled (ignored, counted and logged, as the spec leaves it undefined).
//
// Timing: every callback receives the tick of the access. GSTS bits change command_latency after
// their GCMD write (the one-shot RTPS and IRTPS clear at once when SRTP or SIRTP is written, and
// are set again then); a register-based invalidation keeps CCMD.ICC / IOTLB.IVT set for
// invalidation_latency. The invalidation queue is processed when IQT is written: each descriptor
// costs a 16 B read of host memory (through table_memory, so it is timed by the memory model)
// plus descriptor_latency, an invalidation adds invalidation_latency; IQH advances descriptor by
// descriptor at those times, and a wait descriptor's status write lands in memory at its time
// (held until advance() reaches it: the caller — the SystemC shell, or a test — calls advance()).
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "iommu/dma_remapper.h"
#include "iommu/fault_log.h"
#include "iommu/interrupt_remapper.h"
#include "iommu/table_memory.h"
#include "models/core/units.h"

namespace iovsim::iommu {

// Register offsets (VT-d §10.4) and bit positions.
namespace reg {
inline constexpr std::uint32_t VER_REG = 0x000;
inline constexpr std::uint32_t CAP_REG = 0x008;
inline constexpr std::uint32_t ECAP_REG = 0x010;
inline constexpr std::uint32_t GCMD_REG = 0x018;
inline constexpr std::uint32_t GSTS_REG = 0x01c;
inline constexpr std::uint32_t RTADDR_REG = 0x020;
inline constexpr std::uint32_t CCMD_REG = 0x028;
inline constexpr std::uint32_t FSTS_REG = 0x034;
inline constexpr std::uint32_t FECTL_REG = 0x038;
inline constexpr std::uint32_t FEDATA_REG = 0x03c;
inline constexpr std::uint32_t FEADDR_REG = 0x040;
inline constexpr std::uint32_t FEUADDR_REG = 0x044;
inline constexpr std::uint32_t IQH_REG = 0x080;
inline constexpr std::uint32_t IQT_REG = 0x088;
inline constexpr std::uint32_t IQA_REG = 0x090;
inline constexpr std::uint32_t ICS_REG = 0x09c;
inline constexpr std::uint32_t IECTL_REG = 0x0a0;
inline constexpr std::uint32_t IEDATA_REG = 0x0a4;
inline constexpr std::uint32_t IEADDR_REG = 0x0a8;
inline constexpr std::uint32_t IEUADDR_REG = 0x0ac;
inline constexpr std::uint32_t IRTA_REG = 0x0b8;
// ECAP.IRO and CAP.FRO as QEMU's intel-iommu places them: IVA_REG at 0x200, IOTLB_REG at 0x208,
// the fault recording registers from 0x220.
inline constexpr std::uint32_t iro = 0x20;  // IVA_REG = IRO * 16
inline constexpr std::uint32_t fro = 0x22;  // FRCD_REG(0) = FRO * 16
inline constexpr std::uint32_t IVA_REG = iro * 16;
inline constexpr std::uint32_t IOTLB_REG = iro * 16 + 8;
inline constexpr std::uint32_t FRCD_REG = fro * 16;
inline constexpr std::uint32_t page_size = 0x1000;

// GCMD_REG / GSTS_REG (§10.4.4, §10.4.5): the same bit positions.
inline constexpr std::uint32_t gcmd_te = 1u << 31;     // translation enable / TES
inline constexpr std::uint32_t gcmd_srtp = 1u << 30;   // set root table pointer / RTPS
inline constexpr std::uint32_t gcmd_qie = 1u << 26;    // queued invalidation enable / QIES
inline constexpr std::uint32_t gcmd_ire = 1u << 25;    // interrupt remapping enable / IRES
inline constexpr std::uint32_t gcmd_sirtp = 1u << 24;  // set IRT pointer / IRTPS
// CCMD_REG (§10.4.7).
inline constexpr std::uint64_t ccmd_icc = 1ull << 63;
inline constexpr unsigned ccmd_cirg_shift = 61;  // 01 global, 10 domain, 11 device
inline constexpr unsigned ccmd_caig_shift = 59;
inline constexpr unsigned ccmd_fm_shift = 32;
inline constexpr unsigned ccmd_sid_shift = 16;
// IOTLB_REG (§10.4.8.1) and IVA_REG (§10.4.8.2).
inline constexpr std::uint64_t iotlb_ivt = 1ull << 63;
inline constexpr unsigned iotlb_iirg_shift = 60;  // 01 global, 10 domain, 11 page
inline constexpr unsigned iotlb_iaig_shift = 57;
inline constexpr unsigned iotlb_did_shift = 32;
inline constexpr std::uint64_t iva_ih = 1ull << 6;
inline constexpr std::uint64_t iva_am = 0x3f;
// FSTS_REG (§10.4.9).
inline constexpr std::uint32_t fsts_pfo = 1u << 0;
inline constexpr std::uint32_t fsts_ppf = 1u << 1;
inline constexpr std::uint32_t fsts_iqe = 1u << 4;
inline constexpr std::uint32_t fsts_ice = 1u << 5;
inline constexpr std::uint32_t fsts_ite = 1u << 6;
inline constexpr unsigned fsts_fri_shift = 8;
// FECTL_REG / IECTL_REG.
inline constexpr std::uint32_t ctl_im = 1u << 31;
inline constexpr std::uint32_t ctl_ip = 1u << 30;
// FRCD high 64 bits (§10.4.14): F 127, T 126 (1 = read), FR 103:96, SID 79:64.
inline constexpr std::uint64_t frcd_f = 1ull << 63;
inline constexpr std::uint64_t frcd_t = 1ull << 62;
inline constexpr unsigned frcd_fr_shift = 32;
// IQA_REG (§10.4.23): IQA 63:12, QS 2:0 (2^QS 4 KiB pages of 256 descriptors).
inline constexpr std::uint64_t iqa_qs = 0x7;
// ICS_REG: invalidation wait descriptor complete.
inline constexpr std::uint32_t ics_iwc = 1u << 0;
// IRTA_REG (§10.4.29): IRTA 63:12, EIME 11, S 3:0.
inline constexpr std::uint64_t irta_eime = 1ull << 11;
inline constexpr std::uint64_t irta_s = 0xf;
}  // namespace reg

// Invalidation descriptors (§6.5.2), 128 bits.
namespace qi {
inline constexpr std::uint64_t type_context = 0x1;
inline constexpr std::uint64_t type_iotlb = 0x2;
inline constexpr std::uint64_t type_dev_tlb = 0x3;
inline constexpr std::uint64_t type_iec = 0x4;
inline constexpr std::uint64_t type_wait = 0x5;
inline constexpr std::uint64_t gran_global = 1, gran_domain = 2, gran_device_or_page = 3;
struct descriptor {
    std::uint64_t lo = 0;
    std::uint64_t hi = 0;
};
// Context-cache invalidate: G 5:4, DID 31:16, SID 47:32, FM 49:48.
descriptor context_inv(std::uint64_t granularity, std::uint16_t did = 0, std::uint16_t sid = 0,
                       unsigned fm = 0);
// IOTLB invalidate: G 5:4, DR 7, DW 6, DID 31:16; ADDR 127:76, IH 70, AM 69:64.
descriptor iotlb_inv(std::uint64_t granularity, std::uint16_t did = 0, std::uint64_t addr = 0,
                     unsigned am = 0, bool ih = false);
// Device-TLB invalidate: SID 47:32, MIP 20:16, PFSID 15:12 and 63:52; ADDR 127:76 and S 64
// encode the range [addr, addr + size) as ATS does (size a power of two >= 4 KiB, 0 = all).
descriptor dev_tlb_inv(std::uint16_t sid, std::uint64_t addr, std::uint64_t size, unsigned mip = 0,
                       std::uint16_t pfsid = 0);
// Interrupt entry cache invalidate: G 4 (0 global, 1 index), IM 31:27, IIDX 47:32.
descriptor iec_inv();
// Invalidation wait: IF 4, SW 5, FN 6, status data 63:32, status address 127:66.
descriptor wait(std::uint64_t status_addr, std::uint32_t status_data, bool sw = true,
                bool interrupt = false);
}  // namespace qi

class register_bank {
public:
    using write_fn = std::function<void(std::uint64_t old_value, std::uint64_t new_value, tick_t)>;
    using read_fn = std::function<std::uint64_t(std::uint64_t stored, tick_t)>;
    struct reg_def {
        std::uint32_t offset = 0;
        unsigned width = 4;  // bytes: 4 or 8
        std::string name;
        std::uint64_t reset = 0;
        std::uint64_t rw_mask = 0;   // bits software writes
        std::uint64_t w1c_mask = 0;  // bits software clears by writing 1
        write_fn on_write;           // after the stored value changed
        read_fn on_read;             // computes the value read from the stored one
    };
    enum class status { ok, unmapped, bad_access };

    // std::invalid_argument for a width other than 4 or 8, a misaligned offset or an overlap.
    void add(reg_def d);
    status read(std::uint32_t offset, unsigned len, std::uint64_t& value, tick_t at);
    status write(std::uint32_t offset, unsigned len, std::uint64_t value, tick_t at);
    // The stored value, for the model itself (no callbacks, no masks); std::out_of_range if no
    // register sits at offset.
    std::uint64_t get(std::uint32_t offset) const;
    void set(std::uint32_t offset, std::uint64_t value);
    void reset();

private:
    struct entry {
        reg_def def;
        std::uint64_t value = 0;
    };
    entry* find(std::uint32_t offset, unsigned len, unsigned& shift);
    std::vector<entry> m_regs;
};

struct vtd_register_params {
    std::uint32_t fault_records = 8;  // NFR + 1 fault recording registers
    unsigned domains_log = 8;         // CAP.ND: 2 -> 256 domains (4 + 2 * ND bits of DID)
    unsigned mamv = 9;                // CAP.MAMV: largest AM of a page-selective invalidation
    tick_t command_latency = 100 * ticks_per_ns;      // GCMD write to GSTS status
    tick_t descriptor_latency = 10 * ticks_per_ns;    // decode one queued descriptor
    tick_t invalidation_latency = 50 * ticks_per_ns;  // drop cache entries, drain walks
    bool device_tlb = true;                           // ECAP.DT: Device-TLB (ATS) support
};

struct vtd_register_stats {
    std::uint64_t register_invalidations = 0;  // CCMD and IOTLB_REG commands performed
    std::uint64_t queued_descriptors = 0;      // descriptors processed from the queue
    std::uint64_t context_invalidations = 0;   // by either interface
    std::uint64_t iotlb_inv_global = 0;
    std::uint64_t iotlb_inv_domain = 0;
    std::uint64_t iotlb_inv_page = 0;
    std::uint64_t iec_invalidations = 0;
    std::uint64_t wait_descriptors = 0;
    std::uint64_t dev_tlb_invalidations = 0;  // Device-TLB invalidate descriptors executed
    tick_t invalidation_time = 0;             // ps the hardware spent on invalidation commands
    std::uint64_t queue_errors = 0;           // descriptors that set FSTS.IQE
    std::uint64_t programming_errors = 0;     // other ignored or malformed register commands
    std::uint64_t faults_recorded = 0;        // written into an FRCD
    std::uint64_t fault_overflows = 0;        // dropped: every FRCD held a fault (FSTS.PFO)
    std::uint64_t fault_events = 0;           // fault event interrupts sent
    std::uint64_t completion_events = 0;      // invalidation completion interrupts sent
    std::uint64_t bad_accesses = 0;           // unaligned or wrong-size register accesses
};

class vtd_registers {
public:
    // An interrupt message to send: address (FEUADDR:FEADDR or IEUADDR:IEADDR), data, time.
    using msi_fn = std::function<void(std::uint64_t address, std::uint32_t data, tick_t at)>;
    // A Device-TLB invalidation: source ID, the range's first byte and size (0: every address)
    // as the descriptor encodes them, the tick the descriptor executes; returns the tick the
    // device's Invalidation Completion reached the IOMMU.
    using dev_tlb_fn =
        std::function<tick_t(std::uint16_t sid, std::uint64_t addr, std::uint64_t size, tick_t at)>;

    vtd_registers(dma_remapper& dma, interrupt_remapper& ir, fault_log& faults,
                  table_memory& memory, const vtd_register_params& p = {});

    // A register access by software at `at`. Offsets in the page that hold no register read 0
    // and ignore writes (reserved, RsvdZ). False (reads all ones, writes ignored, counted, logged)
    // for an access that is not 4 or 8 naturally aligned bytes inside the page.
    bool read(std::uint32_t offset, unsigned len, std::uint64_t& value, tick_t at);
    bool write(std::uint32_t offset, unsigned len, std::uint64_t value, tick_t at);

    // Applies what is due by `now` (queued wait-descriptor status writes); returns the tick of
    // the next pending one, or 0 if none.
    tick_t advance(tick_t now);
    // After the DMA or interrupt remapper recorded faults into the fault_log: moves them into
    // the fault recording registers, sets FSTS and raises the fault event.
    void collect_faults(tick_t at);

    void set_interrupt_sender(msi_fn f) { m_send = std::move(f); }
    // Without one, a Device-TLB invalidation completes when it executes.
    void set_device_tlb_invalidator(dev_tlb_fn f) { m_dev_tlb = std::move(f); }

    // The hardware's view of its own state as of `at` (the GSTS bits).
    bool translation_enabled(tick_t at) const { return status_at(at) & reg::gcmd_te; }
    bool interrupt_remapping_enabled(tick_t at) const { return status_at(at) & reg::gcmd_ire; }
    bool queued_invalidation_enabled(tick_t at) const { return status_at(at) & reg::gcmd_qie; }

    std::uint64_t cap() const { return m_cap; }
    std::uint64_t ecap() const { return m_ecap; }
    const vtd_register_stats& stats() const { return m_stats; }
    const vtd_register_params& params() const { return m_p; }

private:
    void define();
    std::uint32_t status_at(tick_t at) const;
    void write_gcmd(std::uint32_t v, tick_t at);
    void write_ccmd(std::uint64_t v, tick_t at);
    void write_iotlb(std::uint64_t v, tick_t at);
    void process_queue(tick_t at);
    // Executes one descriptor at `t`; false if malformed.
    bool execute(const qi::descriptor& d, tick_t& t);
    void queue_error(tick_t at, const std::string& why);
    std::uint32_t fsts_value() const;
    void fault_event(tick_t at);
    void send(std::uint32_t ctl, std::uint32_t data, std::uint32_t addr, std::uint32_t uaddr,
              tick_t at, bool& ip, std::uint64_t& counter);

    dma_remapper& m_dma;
    interrupt_remapper& m_ir;
    fault_log& m_faults;
    table_memory& m_memory;
    vtd_register_params m_p;
    std::uint64_t m_cap = 0;
    std::uint64_t m_ecap = 0;
    register_bank m_bank;
    msi_fn m_send;
    dev_tlb_fn m_dev_tlb;
    tick_t m_dev_tlb_done = 0;  // latest Invalidation Completion of a Device-TLB invalidation

    // GSTS: the bits before and after the last command, and when it took effect.
    std::uint32_t m_gsts_old = 0;
    std::uint32_t m_gsts_new = 0;
    tick_t m_gsts_at = 0;
    tick_t m_ccmd_busy_until = 0;
    tick_t m_iotlb_busy_until = 0;
    // Invalidation queue: IQH steps (time, head) and wait-descriptor status writes not yet due.
    std::vector<std::pair<tick_t, std::uint32_t>> m_head_steps;
    std::uint32_t m_head = 0;  // head after everything submitted so far
    struct pending_write {
        tick_t at;
        std::uint64_t addr;
        std::uint32_t data;
        bool write;
        bool interrupt;
    };
    std::vector<pending_write> m_pending;
    std::uint32_t m_head_visible = 0;  // IQH as software sees it now
    tick_t m_queue_free = 0;           // the queue processor is busy until then
    // Fault recording registers.
    struct frcd {
        bool f = false;
        fault_record r;
    };
    std::vector<frcd> m_frcd;
    std::uint32_t m_next_frcd = 0;
    bool m_fault_ip = false;
    bool m_completion_ip = false;
    vtd_register_stats m_stats;
};

}  // namespace iovsim::iommu

// The IOMMU's DMA-remapping core (VT-d legacy mode, plain C++): translates a device's untranslated
// request (source ID, IOVA, read/write) to a host-physical address through the context cache,
// the IOTLB, the paging-structure caches and, on a miss, a walk of the root, context and
// second-level tables in host memory, read through table_memory as real bytes.
//
// Models:
// - Root entry by bus, context entry by devfn (VT-d §3.4.2, §9.1, §9.3): translation type
//   00/01 (translate through second level) or 10 (pass-through: HPA = IOVA), AW 001 (39-bit,
//   3 levels) or 010 (48-bit, 4 levels), DID, FPD.
// - Second-level walk (§3.6, §9.8): 4 KiB pages, 2 MiB (PDE.PS) and 1 GiB (PDPE.PS)
//   superpages; an entry with R = W = 0 is not present; permissions are ANDed down the walk.
// - Faults (Appendix A) abort the request and are handed to the shared fault_log unless the
//   context entry's FPD suppresses them (faults found before a present, valid context entry is
//   decoded are always recorded): root / context not present (0x1, 0x2), invalid context
//   programming (TT = 11, AW not 39/48-bit: 0x3), address beyond min(AGAW, MGAW) (0x4),
//   write / read without permission or through a not-present entry (0x5, 0x6), a table pointer
//   outside memory (root table 0x8, context table 0x9, second-level table 0x7), non-zero
//   reserved fields (root 0xA, context 0xB, second-level entry 0xC; a table pointer with low
//   bits set is such a reserved-field fault, as the pointers' bits 11:0 are flags or reserved).
//   Memory is never touched by a faulting request: the result carries no address to use.
// - Caches and invalidation as caches.h describes; only present, successfully decoded entries
//   are cached. Page-selective IOTLB invalidation also drops the paging-structure-cache entries
//   of that range unless the invalidation hint (IH) is set, as the spec's PSI does.
//
// - ATS (PCIe §10, VT-d §4.2): a Translation Request (translate_request()) is answered through
//   the same context cache, IOTLB and walk as an untranslated request (filling the IOTLB), but
//   a missing or insufficient mapping is not a fault: the result carries R = W = 0 (or the
//   permissions the mapping has) for the completion. A Translated Request (check_translated())
//   only needs the context entry: its address is already host-physical, no IOTLB lookup, no
//   walk. Both are allowed only when the context entry's TT is 01b (device-TLB); otherwise they
//   fault with reason 0xD (translation_blocked) and, for a translated request, memory is never
//   touched.
//
// Leaves out: translation enable and the register interface (the register file, queued
// invalidation and the SystemC shell sit on top), scalable mode, PASID, the interrupt entry
// cache, A/D bits, snoop and memory
// types, 5-level tables, caching of not-present entries, and page-request services.
//
// Timing (all parameters, defaults below):
// - The context cache and the IOTLB are probed together: a hit costs iotlb_lookup_latency.
// - A miss needs a walker; walkers are `walkers` busy-until timelines, a walk starting at
//   max(lookup done, earliest free walker) and holding it until its last read returns. A
//   context-cache miss first reads the root entry (16 B) and the context entry (16 B), then
//   probes the IOTLB again (iotlb_lookup_latency). A walk probes the three paging-structure
//   caches in parallel (psc_lookup_latency) and reads, one after the other, only the 8 B entries
//   below the deepest hit; each read is timed by table_memory (the memory model), so walks
//   contend for DRAM with everything else.
// - Calibration (DESIGN.md §7: a 64 B read missing the IOTLB costs ~250 ns more than a hit,
//   pcie-bench +226 to +280 ns). Each table read costs whatever table_memory says. On the
//   platform (iommu/iommu.h) that is memory's own time plus the round trip between the IOMMU
//   and the memory controller, iommu.table_read_latency = 165 ns, the calibrated input: once a
//   domain is warm its PML4E, PDPE and PDE caches cover the region, so a miss reads only the
//   PTE from DRAM: psc_lookup_latency + 165 + 80 = 250 ns over the hit. A walk that must read
//   more levels (a cold region, or PDEs beyond the PDE cache's 32 × 2 MiB reach) costs ~245 ns
//   per level more; the tail of a 64 MiB random window shows it. Over a bare table_memory (as
//   in the unit tests) a read costs just memory time: 85 ns for one DRAM level.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "iommu/caches.h"
#include "iommu/fault_log.h"
#include "iommu/table_memory.h"
#include "iommu/vtd_format.h"
#include "models/core/timeline.h"
#include "models/core/units.h"

namespace iovsim::iommu {

struct dma_remapper_params {
    cache_params iotlb{64, 64, replacement::lru};          // 64 entries of 4 KiB reach (pcie-bench)
    cache_params context_cache{16, 16, replacement::lru};  // entries (source IDs)
    // Paging-structure caches; Intel does not publish their sizes, these are assumptions.
    cache_params pml4e_cache{4, 4, replacement::lru};
    cache_params pdpe_cache{16, 16, replacement::lru};
    cache_params pde_cache{32, 32, replacement::lru};
    std::uint32_t walkers = 4;                       // concurrent page walks
    tick_t iotlb_lookup_latency = 2 * ticks_per_ns;  // context cache + IOTLB probe
    tick_t psc_lookup_latency = 5 * ticks_per_ns;    // paging-structure caches probe
    unsigned mgaw = 48;  // maximum guest address width (CAP.MGAW + 1), bits
    unsigned haw = 46;   // host address width, bits: table and page addresses above are reserved
    bool superpage_1g = true;  // CAP.SLLPS bit 1: 1 GiB pages (2 MiB pages always supported)
};

// Outcome of one translation.
struct translation {
    fault_reason fault = fault_reason::none;
    std::uint64_t hpa = 0;        // the host address of iova (valid when ok())
    std::uint64_t page_size = 0;  // size of the page that maps it
    perms access;                 // permissions of that mapping
    std::uint16_t did = 0;        // domain, once the context entry is known
    bool pass_through = false;
    bool iotlb_hit = false;
    bool context_hit = false;
    bool fault_recorded = false;     // false for a fault suppressed by FPD or dropped
    bool not_present = false;        // translation request: no mapping (R = W = 0), not a fault
    std::uint32_t memory_reads = 0;  // root, context and paging entries read
    tick_t done = 0;                 // tick the translation (or the fault) is known

    bool ok() const { return fault == fault_reason::none; }
};

struct dma_remapper_stats {
    std::uint64_t translations = 0;
    std::uint64_t iotlb_hits = 0;
    std::uint64_t iotlb_misses = 0;  // misses of translating requests (each walks)
    std::uint64_t context_hits = 0;
    std::uint64_t context_misses = 0;
    std::uint64_t pass_through = 0;
    std::uint64_t walks = 0;
    std::uint64_t walk_memory_reads = 0;            // second-level entries read
    std::uint64_t context_memory_reads = 0;         // root and context entries read
    std::array<std::uint64_t, 5> walks_by_reads{};  // walks that read 0..4 paging entries
    std::uint64_t pml4e_cache_hits = 0;             // walks starting from a cached PML4E
    std::uint64_t pdpe_cache_hits = 0;
    std::uint64_t pde_cache_hits = 0;
    std::uint64_t sl_not_present = 0;  // walks ended by a not-present entry (fault 0x5/0x6)
    std::uint64_t faults = 0;
    std::uint64_t faults_suppressed = 0;  // not recorded because of FPD
    std::array<std::uint64_t, 256> faults_by_reason{};
    std::uint64_t iotlb_inv_global = 0;
    std::uint64_t iotlb_inv_domain = 0;
    std::uint64_t iotlb_inv_page = 0;
    std::uint64_t context_inv_global = 0;
    std::uint64_t context_inv_domain = 0;
    std::uint64_t context_inv_device = 0;
    tick_t walker_wait = 0;                  // ps walks waited for a free walker
    std::uint64_t translation_requests = 0;  // ATS Translation Requests answered (not faulted)
    std::uint64_t translated_requests = 0;   // ATS Translated Requests let through

    double iotlb_hit_rate() const {
        const std::uint64_t n = iotlb_hits + iotlb_misses;
        return n ? static_cast<double>(iotlb_hits) / static_cast<double>(n) : 0.0;
    }
    std::uint64_t faults_of(fault_reason r) const {
        return faults_by_reason[static_cast<std::uint8_t>(r)];
    }
};

class dma_remapper {
public:
    // std::invalid_argument for bad cache geometry, walkers == 0, mgaw not 39..48 or haw not
    // 32..52.
    dma_remapper(table_memory& memory, fault_log& faults, const dma_remapper_params& p = {});

    // RTADDR_REG as set by SRTP. Software must invalidate the context cache and IOTLB after.
    void set_root_table(std::uint64_t rtaddr) { m_rtaddr = rtaddr; }
    std::uint64_t root_table() const { return m_rtaddr; }

    // Translates an untranslated request from source_id (bus[15:8] devfn[7:0]) for iova arriving
    // at `at`. Never throws for anything in memory; a fault is a result.
    translation translate(std::uint16_t source_id, std::uint64_t iova, bool is_write, tick_t at);
    // An ATS Translation Request for iova: ok() with hpa = the page's host address, page_size
    // and access (R = W = 0 and not_present for an unmapped page) for the completion; a fault
    // (recorded) when the context is missing or broken, or its TT is not 01b. Counts as an IOTLB
    // lookup (hit or miss) like a translation.
    translation translate_request(std::uint16_t source_id, std::uint64_t iova, tick_t at);
    // An ATS Translated Request: ok() (hpa = address) if source_id's context entry has TT = 01b,
    // else a fault (translation_blocked, or the context fault). No IOTLB lookup.
    translation check_translated(std::uint16_t source_id, std::uint64_t address, bool is_write,
                                 tick_t at);

    // Invalidations, completed when they return (the register/queued-invalidation layer times
    // them). Page-selective: did, addr, address mask am (2^am pages), invalidation hint ih.
    void invalidate_iotlb_global();
    void invalidate_iotlb_domain(std::uint16_t did);
    void invalidate_iotlb_pages(std::uint16_t did, std::uint64_t addr, unsigned am,
                                bool ih = false);
    void invalidate_context_global();
    void invalidate_context_domain(std::uint16_t did);
    void invalidate_context_device(std::uint16_t source_id, unsigned fm = 0);

    const dma_remapper_params& params() const { return m_params; }
    const dma_remapper_stats& stats() const { return m_stats; }
    void reset_stats() { m_stats = dma_remapper_stats{}; }
    const std::vector<timeline>& walkers() const { return m_walkers; }
    iotlb& tlb() { return m_iotlb; }
    context_cache& contexts() { return m_context_cache; }

private:
    enum class request_kind { untranslated, translation_request, translated };
    translation lookup(request_kind kind, std::uint16_t source_id, std::uint64_t iova,
                       bool is_write, tick_t at);
    // Reads and decodes root and context entries; fault_reason::none on success.
    fault_reason fetch_context(std::uint16_t source_id, tick_t& now, translation& r,
                               context_cache_entry& c);
    // Walks the second-level tables from the deepest cached level; fills r on success.
    fault_reason walk(const context_cache_entry& c, std::uint64_t iova, bool is_write, tick_t& now,
                      translation& r);
    void fail(translation& r, fault_reason f, std::uint16_t source_id, std::uint64_t iova,
              bool is_write, bool fpd);
    bool check_perms(translation& r, perms a, std::uint16_t source_id, std::uint64_t iova,
                     bool is_write, bool fpd);

    table_memory& m_memory;
    fault_log& m_faults;
    dma_remapper_params m_params;
    std::uint64_t m_haw_mask;  // address bits at or above HAW
    std::uint64_t m_rtaddr = 0;
    iotlb m_iotlb;
    context_cache m_context_cache;
    paging_structure_cache m_pml4e;
    paging_structure_cache m_pdpe;
    paging_structure_cache m_pde;
    std::vector<timeline> m_walkers;
    dma_remapper_stats m_stats;
};

}  // namespace iovsim::iommu

// The host's IOMMU driver as plain C++: what Linux's intel-iommu does to VT-d hardware, through
// the register page and tables in host memory, reached through an injected host_access (the
// host CPU in the platform, a direct model in tests).
//
// Models:
// - init(): reads CAP/ECAP, allocates the root table, writes RTADDR_REG and sets SRTP, sets up
//   the invalidation queue (one 4 KiB ring of 256 descriptors, IQA_REG, QIE) when queued
//   invalidation is chosen and ECAP.QI offers it, invalidates the context cache and IOTLB
//   globally, then sets TE; each GCMD write waits for its GSTS bit, as intel-iommu does.
// - Domains: create_domain() gives a domain ID and an empty 4-level second-level table;
//   map() maps a GPA (IOVA) range to HPA choosing 1 GiB / 2 MiB superpages where the range's
//   alignment allows it, iommu.superpages permits and CAP.SLLPS offers it (map_pages() forces
//   one page size, as the DMA bench asks); attach() writes the device's context entry and
//   invalidates its context-cache entry.
// - Host-owned devices follow host_mode: pt (a pass-through context entry, TT = 10), lazy or
//   strict (a domain of the device's own; dma_map() maps each buffer with 4 KiB pages at an
//   IOVA from a bump allocator, dma_unmap() unmaps it).
// - Unmap policies: strict (every unmap invalidates the IOTLB page-selectively, with AM
//   widened to cover the range, and waits for completion) and deferred (Linux's flush queue:
//   unmaps are queued per CPU; a queue is flushed — one domain-selective IOTLB invalidation per
//   domain in it and one wait — when it holds flush_batch entries, or when flush_timeout has
//   passed since its oldest entry; until then the IOTLB may still translate the unmapped
//   range: the stale window Linux accepts for lazy mode).
// - Invalidation: queued (descriptors written into the ring, IQT advanced, an invalidation
//   wait descriptor with a status write polled in memory) or register-based (CCMD_REG,
//   IVA_REG/IOTLB_REG, polling ICC / IVT). A queue error (FSTS.IQE) is logged, counted, cleared
//   and reported as std::runtime_error to the caller, as Linux reports -EINVAL.
// - ATS: attach(sid, did, /*device_tlb=*/true) writes a context entry with TT = 01b (untranslated,
//   translation and translated requests), as intel-iommu does for a device with ATS enabled; it
//   needs ECAP.DT and queued invalidation. Every IOTLB invalidation that covers a domain with
//   such devices also queues a Device-TLB invalidate descriptor per device, before the wait
//   descriptor (qi_flush_dev_iotlb): page-selective ones for the same aligned range, domain
//   and global ones for every address; so a strict unmap returns only after each device's ATC
//   dropped the range.
// - Interrupt remapping: setup_interrupt_remapping() allocates the IRT, sets IRTA (EIME from
//   ECAP.EIM) and SIRTP, invalidates the interrupt entry cache and sets IRE; set_irte() writes
//   an entry and invalidates the entry cache.
//
// Leaves out: freeing table pages and IOVA ranges (nothing is reused), page-table sharing
// between devices of one group, enabling ATS in the device's config space (the platform's PCI
// code does it), the invalidation queue depth and PFSID of Device-TLB descriptors (0), scalable
// mode, the deferred-flush timer
// as a thread (a queue whose timeout has passed is flushed by the next driver call or by
// run_timers()), caching-mode (CM) flushes on map.
//
// Timing: every register and memory access is a host_access call that takes the time the
// platform gives it (an MMIO round trip through the root complex for a register read; a
// posted write; a CPU store into DRAM for a descriptor). Table entries are written directly
// into host memory's store, each costing the CPU entry_write_cost (a store that misses the
// cache, charged with spend(); no clflush as ECAP.C says walks are coherent).
#pragma once

#include <cstdint>
#include <map>
#include <vector>

#include "iommu/interrupt_remapper.h"
#include "iommu/registers.h"
#include "iommu/table_builder.h"
#include "models/core/units.h"
#include "models/mem/sparse_store.h"

namespace iovsim::iommu {

// What the driver needs from the CPU it runs on.
class host_access {
public:
    virtual ~host_access() = default;
    virtual std::uint32_t read32(std::uint64_t addr) = 0;  // an uncached register or memory read
    virtual void write32(std::uint64_t addr, std::uint32_t value) = 0;
    virtual void write_mem(std::uint64_t addr, const void* data, std::uint32_t len) = 0;
    virtual tick_t now() const = 0;
    virtual void spend(tick_t t) = 0;  // CPU time for work not modelled as accesses
};

enum class host_mode : std::uint8_t { pt, lazy, strict };
enum class unmap_policy : std::uint8_t { strict, deferred };

struct driver_params {
    std::uint64_t register_base = 0xfed9'0000;  // the host map's IOMMU page
    // Host memory for tables, the invalidation queue, its status words and the IRT; must lie
    // where host addresses equal store offsets (below the 4 GiB hole).
    std::uint64_t pool_base = 0x7000'0000;
    std::uint64_t pool_size = 256ull << 20;
    host_mode mode = host_mode::pt;
    bool superpages = true;           // iommu.superpages: map() may use 2 MiB / 1 GiB pages
    bool queued_invalidation = true;  // use the invalidation queue when ECAP.QI is set
    tick_t entry_write_cost = 5 * ticks_per_ns;  // CPU: write one table entry
    std::uint32_t flush_batch = 250;             // deferred: unmaps per CPU queue before a flush
    tick_t flush_timeout = 10 * ticks_per_ms;    // deferred: oldest queued unmap's age limit
    unsigned cpus = 1;                           // per-CPU flush queues
    std::uint64_t host_iova_base = 1ull << 32;   // dma_map() IOVAs for host devices start here
    unsigned poll_limit = 1'000'000;             // polls before the hardware is declared dead
};

struct driver_stats {
    std::uint64_t domains = 0;
    std::uint64_t maps = 0;
    std::uint64_t unmaps = 0;
    std::uint64_t pages_4k = 0, pages_2m = 0, pages_1g = 0;  // leaves written by map()
    std::uint64_t leaves_cleared = 0;
    std::uint64_t context_invalidations = 0;
    std::uint64_t iotlb_inv_global = 0, iotlb_inv_domain = 0, iotlb_inv_page = 0;
    std::uint64_t iec_invalidations = 0;
    std::uint64_t dev_tlb_invalidations = 0;  // Device-TLB invalidate descriptors queued
    std::uint64_t waits = 0;  // invalidation wait descriptors (or register polls) completed
    std::uint64_t deferred_flushes = 0;
    std::uint64_t flushes_by_batch = 0;
    std::uint64_t flushes_by_timer = 0;
    std::uint64_t queue_errors = 0;
    tick_t invalidation_time = 0;  // CPU time from submitting invalidations to their completion
};

class driver {
public:
    driver(host_access& cpu, mem::sparse_store& store, const driver_params& p = {});

    void init();
    bool initialized() const { return m_initialized; }

    std::uint16_t create_domain();
    // Maps [iova, iova + size) to [hpa, ...) with the largest pages alignment allows (4 KiB
    // multiples; std::invalid_argument otherwise).
    void map(std::uint16_t did, std::uint64_t iova, std::uint64_t hpa, std::uint64_t size,
             perms p = perm_rw);
    // Maps with pages of exactly page_size (size rounded up to it; iova and hpa aligned to it).
    void map_pages(std::uint16_t did, std::uint64_t iova, std::uint64_t hpa, std::uint64_t size,
                   std::uint64_t page_size, perms p = perm_rw);
    void unmap(std::uint16_t did, std::uint64_t iova, std::uint64_t size, unmap_policy policy,
               unsigned cpu = 0);
    // device_tlb: the device uses ATS (context TT = 01b); std::runtime_error without ECAP.DT or
    // queued invalidation.
    void attach(std::uint16_t source_id, std::uint16_t did, bool device_tlb = false);
    bool device_tlb(std::uint16_t source_id) const { return m_dev_tlb.count(source_id) != 0; }
    void detach(std::uint16_t source_id);

    // Host-owned devices, by host_mode.
    void attach_host_device(std::uint16_t source_id);
    std::uint64_t dma_map(std::uint16_t source_id, std::uint64_t hpa, std::uint64_t size,
                          perms p = perm_rw);
    void dma_unmap(std::uint16_t source_id, std::uint64_t iova, std::uint64_t size,
                   unsigned cpu = 0);

    // Deferred flushing.
    void flush_deferred(unsigned cpu);
    void run_timers();  // flushes every per-CPU queue whose oldest entry is flush_timeout old
    std::size_t deferred_pending(unsigned cpu) const { return m_fq.at(cpu).size(); }

    // Invalidations (queued or register-based), each waited for.
    void invalidate_context_global();
    void invalidate_context_device(std::uint16_t source_id);
    void invalidate_iotlb_global();
    void invalidate_iotlb_domain(std::uint16_t did);
    void invalidate_iotlb_range(std::uint16_t did, std::uint64_t iova, std::uint64_t size);

    // Interrupt remapping: a table of 2^(s+1) entries.
    void setup_interrupt_remapping(unsigned s = 7);
    void set_irte(std::uint32_t index, const irte_words& e);
    std::uint64_t irt_address() const { return m_irt; }

    std::uint64_t slptptr(std::uint16_t did) const { return m_domains.at(did); }
    std::uint64_t rtaddr() const { return m_tables.rtaddr(); }
    table_builder& tables() { return m_tables; }
    std::uint64_t cap() const { return m_cap; }
    std::uint64_t ecap() const { return m_ecap; }
    bool using_queue() const { return m_qi; }
    const driver_params& params() const { return m_p; }
    const driver_stats& stats() const { return m_stats; }

private:
    struct fq_entry {
        std::uint16_t did;
        std::uint64_t iova;
        std::uint64_t size;
    };
    std::uint32_t reg32(std::uint32_t off) { return m_cpu.read32(m_p.register_base + off); }
    void wreg32(std::uint32_t off, std::uint32_t v) { m_cpu.write32(m_p.register_base + off, v); }
    void wreg64(std::uint32_t off, std::uint64_t v);
    std::uint64_t reg64(std::uint32_t off);
    void gcmd(std::uint32_t bit, bool one_shot);
    void poll_register(std::uint32_t off, std::uint32_t mask, std::uint32_t want, const char* what);
    void submit(const std::vector<qi::descriptor>& descs);
    // Appends a Device-TLB invalidate descriptor for every ATS device attached to did (all such
    // devices if did is 0) for [addr, addr + size) (size 0: every address).
    void add_dev_tlb(std::vector<qi::descriptor>& d, std::uint16_t did, std::uint64_t addr,
                     std::uint64_t size);
    void map_run(std::uint16_t did, std::uint64_t iova, std::uint64_t hpa, std::uint64_t size,
                 std::uint64_t page_size, perms p);
    std::uint64_t largest_page(std::uint64_t iova, std::uint64_t hpa, std::uint64_t left) const;

    host_access& m_cpu;
    mem::sparse_store& m_store;
    driver_params m_p;
    table_builder m_tables;
    std::uint64_t m_cap = 0;
    std::uint64_t m_ecap = 0;
    bool m_initialized = false;
    bool m_qi = false;
    std::uint32_t m_gcmd = 0;  // persistent GCMD bits software has set (intel-iommu's iommu->gcmd)
    std::uint64_t m_ring = 0;
    std::uint32_t m_tail = 0;
    std::uint64_t m_status = 0;
    std::uint32_t m_seq = 0;
    std::uint64_t m_irt = 0;
    std::uint16_t m_next_did = 1;
    std::uint16_t m_pt_did = 0;                         // domain ID of pass-through context entries
    std::map<std::uint16_t, std::uint64_t> m_domains;   // did -> SLPTPTR
    std::map<std::uint16_t, std::uint16_t> m_attached;  // source ID -> did
    std::map<std::uint16_t, std::uint16_t> m_dev_tlb;   // ATS devices: source ID -> did
    std::map<std::uint16_t, std::uint64_t> m_next_iova;  // host device's IOVA allocator
    std::vector<std::vector<fq_entry>> m_fq;             // per-CPU flush queues
    std::vector<tick_t> m_fq_oldest;
    driver_stats m_stats;
};

}  // namespace iovsim::iommu

#include "iommu/driver.h"

#include <algorithm>
#include <set>
#include <stdexcept>

#include "models/core/log.h"

namespace iovsim::iommu {

namespace {
constexpr const char* log_module = "iommu.driver";
constexpr unsigned levels = 4;  // 48-bit AGAW, as intel-iommu uses by default
}  // namespace

driver::driver(host_access& cpu, mem::sparse_store& store, const driver_params& p)
    : m_cpu(cpu), m_store(store), m_p(p), m_tables(store, p.pool_base, p.pool_size) {
    if (p.cpus == 0 || p.flush_batch == 0)
        throw std::invalid_argument("iommu driver: cpus and flush_batch must be > 0");
    m_fq.resize(p.cpus);
    m_fq_oldest.resize(p.cpus, 0);
}

void driver::wreg64(std::uint32_t off, std::uint64_t v) {
    wreg32(off, static_cast<std::uint32_t>(v));  // low half first (VT-d §10.2)
    wreg32(off + 4, static_cast<std::uint32_t>(v >> 32));
}

std::uint64_t driver::reg64(std::uint32_t off) {
    const std::uint64_t lo = reg32(off);
    return lo | std::uint64_t{reg32(off + 4)} << 32;
}

void driver::poll_register(std::uint32_t off, std::uint32_t mask, std::uint32_t want,
                           const char* what) {
    for (unsigned i = 0; i < m_p.poll_limit; ++i)
        if ((reg32(off) & mask) == want) return;
    throw std::runtime_error(std::string("iommu driver: the IOMMU never completed ") + what);
}

void driver::gcmd(std::uint32_t bit, bool one_shot) {
    if (one_shot) {
        wreg32(reg::GCMD_REG, m_gcmd | bit);
    } else {
        m_gcmd |= bit;
        wreg32(reg::GCMD_REG, m_gcmd);
    }
    poll_register(reg::GSTS_REG, bit, bit, "a GCMD command (GSTS)");
}

void driver::init() {
    m_cap = reg64(reg::CAP_REG);
    m_ecap = reg64(reg::ECAP_REG);
    if (!(m_cap >> 8 & 0x4))
        throw std::runtime_error("iommu driver: CAP.SAGAW offers no 4-level (48-bit) tables");
    wreg64(reg::RTADDR_REG, m_tables.rtaddr());
    gcmd(reg::gcmd_srtp, true);
    m_qi = m_p.queued_invalidation && (m_ecap & 2);
    if (m_qi) {
        m_ring = m_tables.alloc_page();
        m_status = m_tables.alloc_page();
        m_tail = 0;
        wreg64(reg::IQA_REG, m_ring);  // QS = 0: one page of 256 descriptors
        wreg32(reg::IQT_REG, 0);
        gcmd(reg::gcmd_qie, false);
    }
    invalidate_context_global();
    invalidate_iotlb_global();
    gcmd(reg::gcmd_te, false);
    m_initialized = true;
    core::log(log_module, core::log_level::info,
              "translation enabled: root table {:#x}, {} invalidation", m_tables.rtaddr(),
              m_qi ? "queued" : "register-based");
}

void driver::submit(const std::vector<qi::descriptor>& descs) {
    const tick_t start = m_cpu.now();
    std::vector<qi::descriptor> all = descs;
    const std::uint32_t seq = ++m_seq;
    all.push_back(qi::wait(m_status, seq));
    for (const auto& d : all) {
        std::uint8_t raw[16];
        mem::store_le(raw, d.lo);
        mem::store_le(raw + 8, d.hi);
        m_cpu.write_mem(m_ring + std::uint64_t{m_tail} * 16, raw, 16);
        m_tail = (m_tail + 1) % 256;
    }
    wreg32(reg::IQT_REG, m_tail << 4);
    ++m_stats.waits;
    for (unsigned i = 0; i < m_p.poll_limit; ++i) {
        if (m_cpu.read32(m_status) == seq) {
            m_stats.invalidation_time += m_cpu.now() - start;
            return;
        }
        const std::uint32_t fsts = reg32(reg::FSTS_REG);
        if (fsts & reg::fsts_iqe) {
            // As qi_check_fault(): report, skip the bad descriptor by resyncing to the head,
            // clear IQE so the queue runs again.
            ++m_stats.queue_errors;
            const auto head = static_cast<std::uint32_t>(reg64(reg::IQH_REG) >> 4);
            core::log(log_module, core::log_level::error,
                      "invalidation queue error (FSTS.IQE) at descriptor {}", head);
            m_tail = head;
            wreg32(reg::IQT_REG, m_tail << 4);
            wreg32(reg::FSTS_REG, reg::fsts_iqe);
            throw std::runtime_error("iommu driver: invalidation queue error (FSTS.IQE)");
        }
    }
    throw std::runtime_error("iommu driver: invalidation wait never completed");
}

void driver::add_dev_tlb(std::vector<qi::descriptor>& d, std::uint16_t did, std::uint64_t addr,
                         std::uint64_t size) {
    for (const auto& [sid, dev_did] : m_dev_tlb) {
        if (did != 0 && dev_did != did) continue;
        d.push_back(qi::dev_tlb_inv(sid, addr, size));
        ++m_stats.dev_tlb_invalidations;
    }
}

void driver::invalidate_context_global() {
    ++m_stats.context_invalidations;
    if (m_qi) return submit({qi::context_inv(qi::gran_global)});
    const tick_t start = m_cpu.now();
    wreg64(reg::CCMD_REG, reg::ccmd_icc | 1ull << reg::ccmd_cirg_shift);
    poll_register(reg::CCMD_REG + 4, 1u << 31, 0, "a context-cache invalidation (CCMD.ICC)");
    ++m_stats.waits;
    m_stats.invalidation_time += m_cpu.now() - start;
}

void driver::invalidate_context_device(std::uint16_t source_id) {
    ++m_stats.context_invalidations;
    if (m_qi) return submit({qi::context_inv(qi::gran_device_or_page, 0, source_id)});
    const tick_t start = m_cpu.now();
    wreg64(reg::CCMD_REG, reg::ccmd_icc | 3ull << reg::ccmd_cirg_shift |
                              std::uint64_t{source_id} << reg::ccmd_sid_shift);
    poll_register(reg::CCMD_REG + 4, 1u << 31, 0, "a context-cache invalidation (CCMD.ICC)");
    ++m_stats.waits;
    m_stats.invalidation_time += m_cpu.now() - start;
}

void driver::invalidate_iotlb_global() {
    ++m_stats.iotlb_inv_global;
    if (m_qi) {
        std::vector<qi::descriptor> d{qi::iotlb_inv(qi::gran_global)};
        add_dev_tlb(d, 0, 0, 0);
        return submit(d);
    }
    const tick_t start = m_cpu.now();
    wreg64(reg::IOTLB_REG, reg::iotlb_ivt | 1ull << reg::iotlb_iirg_shift);
    poll_register(reg::IOTLB_REG + 4, 1u << 31, 0, "an IOTLB invalidation (IOTLB_REG.IVT)");
    ++m_stats.waits;
    m_stats.invalidation_time += m_cpu.now() - start;
}

void driver::invalidate_iotlb_domain(std::uint16_t did) {
    ++m_stats.iotlb_inv_domain;
    if (m_qi) {
        std::vector<qi::descriptor> d{qi::iotlb_inv(qi::gran_domain, did)};
        add_dev_tlb(d, did, 0, 0);
        return submit(d);
    }
    const tick_t start = m_cpu.now();
    wreg64(reg::IOTLB_REG, reg::iotlb_ivt | 2ull << reg::iotlb_iirg_shift |
                               std::uint64_t{did} << reg::iotlb_did_shift);
    poll_register(reg::IOTLB_REG + 4, 1u << 31, 0, "an IOTLB invalidation (IOTLB_REG.IVT)");
    ++m_stats.waits;
    m_stats.invalidation_time += m_cpu.now() - start;
}

void driver::invalidate_iotlb_range(std::uint16_t did, std::uint64_t iova, std::uint64_t size) {
    // AM: the smallest naturally aligned power-of-two block of pages covering the range.
    unsigned am = 0;
    const std::uint64_t end = iova + size;
    while (((iova >> 12) >> am << am << 12) + (page_4k << am) < end) ++am;
    const unsigned mamv = static_cast<unsigned>(m_cap >> 48 & 0x3f);
    if (am > mamv) return invalidate_iotlb_domain(did);
    const std::uint64_t base = (iova >> 12) >> am << am << 12;
    ++m_stats.iotlb_inv_page;
    if (m_qi) {
        std::vector<qi::descriptor> d{qi::iotlb_inv(qi::gran_device_or_page, did, base, am)};
        add_dev_tlb(d, did, base, page_4k << am);
        return submit(d);
    }
    const tick_t start = m_cpu.now();
    wreg64(reg::IVA_REG, base | am);
    wreg64(reg::IOTLB_REG, reg::iotlb_ivt | 3ull << reg::iotlb_iirg_shift |
                               std::uint64_t{did} << reg::iotlb_did_shift);
    poll_register(reg::IOTLB_REG + 4, 1u << 31, 0, "an IOTLB invalidation (IOTLB_REG.IVT)");
    ++m_stats.waits;
    m_stats.invalidation_time += m_cpu.now() - start;
}

std::uint16_t driver::create_domain() {
    const std::uint16_t did = m_next_did++;
    m_domains[did] = m_tables.new_domain();
    m_cpu.spend(m_p.entry_write_cost);  // zeroing the page is the allocator's; count one store
    ++m_stats.domains;
    return did;
}

std::uint64_t driver::largest_page(std::uint64_t iova, std::uint64_t hpa,
                                   std::uint64_t left) const {
    const std::uint64_t sllps = m_cap >> 34 & 0xf;
    if (m_p.superpages) {
        for (const auto& [ps, bit] : {std::pair{page_1g, 2u}, std::pair{page_2m, 1u}}) {
            if ((sllps & bit) && iova % ps == 0 && hpa % ps == 0 && left >= ps) return ps;
        }
    }
    return page_4k;
}

void driver::map_run(std::uint16_t did, std::uint64_t iova, std::uint64_t hpa, std::uint64_t size,
                     std::uint64_t page_size, perms p) {
    m_tables.map(m_domains.at(did), levels, iova, hpa, size, p, page_size);
    const std::uint64_t n = size / page_size;
    (page_size == page_1g   ? m_stats.pages_1g
     : page_size == page_2m ? m_stats.pages_2m
                            : m_stats.pages_4k) += n;
    m_cpu.spend(n * m_p.entry_write_cost);
}

void driver::map(std::uint16_t did, std::uint64_t iova, std::uint64_t hpa, std::uint64_t size,
                 perms p) {
    if (iova % page_4k || hpa % page_4k || size % page_4k || size == 0)
        throw std::invalid_argument("iommu driver: map needs 4 KiB aligned, non-empty ranges");
    run_timers();
    ++m_stats.maps;
    std::uint64_t off = 0;
    while (off < size) {
        const std::uint64_t ps = largest_page(iova + off, hpa + off, size - off);
        std::uint64_t run = ps;  // extend the run while the same page size fits
        while (off + run < size &&
               largest_page(iova + off + run, hpa + off + run, size - off - run) == ps)
            run += ps;
        map_run(did, iova + off, hpa + off, run, ps, p);
        off += run;
    }
}

void driver::map_pages(std::uint16_t did, std::uint64_t iova, std::uint64_t hpa, std::uint64_t size,
                       std::uint64_t page_size, perms p) {
    if (page_size != page_4k && page_size != page_2m && page_size != page_1g)
        throw std::invalid_argument("iommu driver: page size must be 4 KiB, 2 MiB or 1 GiB");
    const std::uint64_t sllps = m_cap >> 34 & 0xf;
    if ((page_size == page_2m && !(sllps & 1)) || (page_size == page_1g && !(sllps & 2)))
        throw std::invalid_argument("iommu driver: CAP.SLLPS does not offer that page size");
    if (iova % page_size || hpa % page_size || size == 0)
        throw std::invalid_argument("iommu driver: map_pages needs page-aligned addresses");
    run_timers();
    ++m_stats.maps;
    map_run(did, iova, hpa, (size + page_size - 1) / page_size * page_size, page_size, p);
}

void driver::unmap(std::uint16_t did, std::uint64_t iova, std::uint64_t size, unmap_policy policy,
                   unsigned cpu) {
    run_timers();
    const std::uint64_t cleared = m_tables.unmap(m_domains.at(did), levels, iova, size);
    m_stats.leaves_cleared += cleared;
    ++m_stats.unmaps;
    m_cpu.spend(cleared * m_p.entry_write_cost);
    if (policy == unmap_policy::strict) return invalidate_iotlb_range(did, iova, size);
    std::vector<fq_entry>& q = m_fq.at(cpu);
    if (q.empty()) m_fq_oldest[cpu] = m_cpu.now();
    q.push_back(fq_entry{did, iova, size});
    if (q.size() >= m_p.flush_batch) {
        ++m_stats.flushes_by_batch;
        flush_deferred(cpu);
    }
}

void driver::flush_deferred(unsigned cpu) {
    std::vector<fq_entry>& q = m_fq.at(cpu);
    if (q.empty()) return;
    std::set<std::uint16_t> dids;
    for (const auto& e : q) dids.insert(e.did);
    q.clear();
    ++m_stats.deferred_flushes;
    if (m_qi) {
        std::vector<qi::descriptor> d;
        for (const std::uint16_t did : dids) {
            d.push_back(qi::iotlb_inv(qi::gran_domain, did));
            ++m_stats.iotlb_inv_domain;
            add_dev_tlb(d, did, 0, 0);
        }
        submit(d);
    } else {
        for (const std::uint16_t did : dids) invalidate_iotlb_domain(did);
    }
}

void driver::run_timers() {
    for (unsigned c = 0; c < m_fq.size(); ++c) {
        if (!m_fq[c].empty() && m_cpu.now() >= m_fq_oldest[c] + m_p.flush_timeout) {
            ++m_stats.flushes_by_timer;
            flush_deferred(c);
        }
    }
}

void driver::attach(std::uint16_t source_id, std::uint16_t did, bool device_tlb) {
    if (device_tlb && (!(m_ecap & (1u << 2)) || !m_qi)) {
        throw std::runtime_error(
            "iommu driver: a device-TLB (ATS) device needs ECAP.DT and queued invalidation");
    }
    run_timers();
    const auto old = m_attached.find(source_id);
    m_tables.set_context(
        source_id, m_domains.at(did), did, vtd::aw_48bit,
        device_tlb ? vtd::translation_type::device_tlb : vtd::translation_type::untranslated);
    m_cpu.spend(2 * m_p.entry_write_cost);
    invalidate_context_device(source_id);
    // The old domain's flush reaches the device's ATC while it is still listed under it.
    if (old != m_attached.end() && old->second != did) invalidate_iotlb_domain(old->second);
    m_attached[source_id] = did;
    if (device_tlb) {
        m_dev_tlb[source_id] = did;
    } else {
        m_dev_tlb.erase(source_id);
    }
}

void driver::detach(std::uint16_t source_id) {
    const auto old = m_attached.find(source_id);
    m_tables.clear_context(source_id);
    m_cpu.spend(m_p.entry_write_cost);
    invalidate_context_device(source_id);
    if (old != m_attached.end()) {
        invalidate_iotlb_domain(old->second);
        m_attached.erase(old);
    }
    m_dev_tlb.erase(source_id);
}

void driver::attach_host_device(std::uint16_t source_id) {
    if (m_p.mode == host_mode::pt) {
        if (!(m_ecap & (1u << 6)))
            throw std::runtime_error("iommu driver: host_mode pt needs ECAP.PT");
        if (m_pt_did == 0) m_pt_did = m_next_did++;
        m_tables.set_context(source_id, 0, m_pt_did, vtd::aw_48bit,
                             vtd::translation_type::pass_through);
        m_cpu.spend(2 * m_p.entry_write_cost);
        invalidate_context_device(source_id);
        m_attached[source_id] = m_pt_did;
        return;
    }
    const std::uint16_t did = create_domain();
    m_next_iova[did] = m_p.host_iova_base;
    attach(source_id, did);
}

std::uint64_t driver::dma_map(std::uint16_t source_id, std::uint64_t hpa, std::uint64_t size,
                              perms p) {
    if (m_p.mode == host_mode::pt) return hpa;
    const std::uint16_t did = m_attached.at(source_id);
    const std::uint64_t first = hpa & ~(page_4k - 1);
    const std::uint64_t bytes = (hpa + size - first + page_4k - 1) & ~(page_4k - 1);
    std::uint64_t& next = m_next_iova.at(did);
    const std::uint64_t iova = next;
    next += bytes;
    run_timers();
    ++m_stats.maps;
    map_run(did, iova, first, bytes, page_4k, p);
    return iova + (hpa - first);
}

void driver::dma_unmap(std::uint16_t source_id, std::uint64_t iova, std::uint64_t size,
                       unsigned cpu) {
    if (m_p.mode == host_mode::pt) return;
    const std::uint64_t first = iova & ~(page_4k - 1);
    const std::uint64_t bytes = (iova + size - first + page_4k - 1) & ~(page_4k - 1);
    unmap(m_attached.at(source_id), first, bytes,
          m_p.mode == host_mode::strict ? unmap_policy::strict : unmap_policy::deferred, cpu);
}

void driver::setup_interrupt_remapping(unsigned s) {
    if (s > 15) throw std::invalid_argument("iommu driver: IRTA.S must be <= 15");
    if (!(m_ecap & (1u << 3))) throw std::runtime_error("iommu driver: ECAP.IR is clear");
    const std::uint64_t bytes = (2ull << s) * vtd::irte_size;
    m_irt = m_tables.alloc_page();
    for (std::uint64_t b = page_4k; b < bytes; b += page_4k) m_tables.alloc_page();  // contiguous
    const bool eim = m_ecap & (1u << 4);
    wreg64(reg::IRTA_REG, m_irt | (eim ? reg::irta_eime : 0) | s);
    gcmd(reg::gcmd_sirtp, true);
    if (m_qi) {
        ++m_stats.iec_invalidations;
        submit({qi::iec_inv()});
    }
    gcmd(reg::gcmd_ire, false);
}

void driver::set_irte(std::uint32_t index, const irte_words& e) {
    if (m_irt == 0) throw std::logic_error("iommu driver: set_irte before interrupt remapping");
    mem::sparse_store& s = m_store;
    s.write_u64(m_irt + std::uint64_t{index} * 16, e.lo);
    s.write_u64(m_irt + std::uint64_t{index} * 16 + 8, e.hi);
    m_cpu.spend(2 * m_p.entry_write_cost);
    if (m_qi) {
        ++m_stats.iec_invalidations;
        submit({qi::iec_inv()});
    }
}

}  // namespace iovsim::iommu

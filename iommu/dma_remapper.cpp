#include "iommu/dma_remapper.h"

#include <algorithm>
#include <stdexcept>

#include "models/mem/sparse_store.h"

namespace iovsim::iommu {

namespace {
bool present(std::uint64_t e) { return (e & (vtd::sl_r | vtd::sl_w)) != 0; }
}  // namespace

dma_remapper::dma_remapper(table_memory& memory, fault_log& faults, const dma_remapper_params& p)
    : m_memory(memory),
      m_faults(faults),
      m_params(p),
      m_haw_mask(vtd::bits(63, p.haw < 64 ? p.haw : 63)),
      m_iotlb(p.iotlb),
      m_context_cache(p.context_cache),
      m_pml4e(4, p.pml4e_cache),
      m_pdpe(3, p.pdpe_cache),
      m_pde(2, p.pde_cache) {
    if (p.walkers == 0) throw std::invalid_argument("dma_remapper: walkers must be > 0");
    if (p.mgaw < 39 || p.mgaw > 48) {
        throw std::invalid_argument("dma_remapper: mgaw must be 39..48 bits");
    }
    if (p.haw < 32 || p.haw > 52) throw std::invalid_argument("dma_remapper: haw must be 32..52");
    m_walkers.resize(p.walkers);
}

void dma_remapper::fail(translation& r, fault_reason f, std::uint16_t source_id, std::uint64_t iova,
                        bool is_write, bool fpd) {
    r.fault = f;
    r.hpa = 0;
    ++m_stats.faults;
    ++m_stats.faults_by_reason[static_cast<std::uint8_t>(f)];
    if (fpd) {
        ++m_stats.faults_suppressed;
        return;
    }
    r.fault_recorded = m_faults.record(fault_record{source_id, iova, f, is_write});
}

bool dma_remapper::check_perms(translation& r, perms a, std::uint16_t source_id, std::uint64_t iova,
                               bool is_write, bool fpd) {
    if (is_write && !a.write) {
        fail(r, fault_reason::write_not_permitted, source_id, iova, is_write, fpd);
        return false;
    }
    if (!is_write && !a.read) {
        fail(r, fault_reason::read_not_permitted, source_id, iova, is_write, fpd);
        return false;
    }
    return true;
}

fault_reason dma_remapper::fetch_context(std::uint16_t source_id, tick_t& now, translation& r,
                                         context_cache_entry& c) {
    std::uint8_t buf[16];
    const std::uint64_t root_addr = m_rtaddr + (source_id >> 8) * vtd::root_entry_size;
    ++m_stats.context_memory_reads;
    ++r.memory_reads;
    if (!m_memory.read(root_addr, buf, sizeof buf, now, now)) {
        return fault_reason::root_access_error;
    }
    const std::uint64_t root_lo = mem::load_le<std::uint64_t>(buf);
    const std::uint64_t root_hi = mem::load_le<std::uint64_t>(buf + 8);
    if (!(root_lo & vtd::root_p)) return fault_reason::root_not_present;
    if ((root_lo & vtd::root_lo_reserved) || (root_lo & m_haw_mask) || root_hi != 0) {
        return fault_reason::root_reserved;
    }

    const std::uint64_t ctx_addr =
        (root_lo & vtd::root_ctp) + (source_id & 0xff) * vtd::context_entry_size;
    ++m_stats.context_memory_reads;
    ++r.memory_reads;
    if (!m_memory.read(ctx_addr, buf, sizeof buf, now, now)) {
        return fault_reason::context_access_error;
    }
    const std::uint64_t lo = mem::load_le<std::uint64_t>(buf);
    const std::uint64_t hi = mem::load_le<std::uint64_t>(buf + 8);
    if (!(lo & vtd::ctx_p)) return fault_reason::context_not_present;
    if ((lo & vtd::ctx_lo_reserved) || (hi & vtd::ctx_hi_reserved)) {
        return fault_reason::context_reserved;
    }
    c = context_cache_entry{};
    c.source_id = source_id;
    c.did = static_cast<std::uint16_t>((hi & vtd::ctx_hi_did) >> vtd::ctx_hi_did_shift);
    c.tt = static_cast<vtd::translation_type>((lo & vtd::ctx_tt) >> 2);
    c.fpd = (lo & vtd::ctx_fpd) != 0;
    c.slptptr = lo & vtd::ctx_slptptr;
    if (c.tt == vtd::translation_type::reserved) return fault_reason::context_invalid;
    if (c.tt != vtd::translation_type::pass_through) {
        // SLPTPTR bits at or above HAW are reserved (§9.3).
        if (lo & m_haw_mask) return fault_reason::context_reserved;
        const std::uint64_t aw = hi & vtd::ctx_hi_aw;
        if (aw == vtd::aw_39bit) {
            c.levels = 3;
        } else if (aw == vtd::aw_48bit) {
            c.levels = 4;
        } else {
            return fault_reason::context_invalid;  // AW not in SAGAW
        }
    }
    return fault_reason::none;
}

fault_reason dma_remapper::walk(const context_cache_entry& c, std::uint64_t iova, bool is_write,
                                tick_t& now, translation& r) {
    now += m_params.psc_lookup_latency;
    // Start below the deepest paging-structure cache hit.
    unsigned level = c.levels;
    std::uint64_t table = c.slptptr;
    perms acc = perm_rw;
    if (const psc_entry* e = m_pde.lookup(c.did, iova)) {
        level = 1, table = e->next_table, acc = e->access;
        ++m_stats.pde_cache_hits;
    } else if (const psc_entry* e3 = m_pdpe.lookup(c.did, iova); e3 && c.levels >= 3) {
        level = 2, table = e3->next_table, acc = e3->access;
        ++m_stats.pdpe_cache_hits;
    } else if (const psc_entry* e4 = m_pml4e.lookup(c.did, iova); e4 && c.levels == 4) {
        level = 3, table = e4->next_table, acc = e4->access;
        ++m_stats.pml4e_cache_hits;
    }

    std::uint32_t reads = 0;
    fault_reason result = fault_reason::none;
    for (;; --level) {
        const std::uint64_t addr = table + level_index(iova, level) * vtd::sl_entry_size;
        std::uint8_t buf[8];
        ++reads;
        if (!m_memory.read(addr, buf, sizeof buf, now, now)) {
            result = fault_reason::sl_entry_access_error;
            break;
        }
        const std::uint64_t e = mem::load_le<std::uint64_t>(buf);
        if (!present(e)) {
            ++m_stats.sl_not_present;
            // The request lacks the permission it needs (Appendix A: 0x5 / 0x6).
            result =
                is_write ? fault_reason::write_not_permitted : fault_reason::read_not_permitted;
            break;
        }
        const bool ps = (e & vtd::sl_ps) != 0;
        bool reserved = (e & vtd::sl_addr & m_haw_mask) != 0;
        if (level == 4) reserved |= (e & (vtd::sl_ps | vtd::sl_emt_ipat)) != 0;
        if (level == 3 && ps && !m_params.superpage_1g) reserved = true;
        const bool leaf = level == 1 || ps;
        if (!leaf) reserved |= (e & vtd::sl_emt_ipat) != 0;
        const std::uint64_t size = 1ULL << level_shift(level);
        if (leaf && level > 1) reserved |= (e & vtd::sl_addr & (size - 1)) != 0;
        if (reserved) {
            result = fault_reason::sl_entry_reserved;
            break;
        }
        acc.read = acc.read && (e & vtd::sl_r);
        acc.write = acc.write && (e & vtd::sl_w);
        const std::uint64_t next = e & vtd::sl_addr;
        if (leaf) {
            r.page_size = size;
            r.access = acc;
            r.hpa = next + (iova & (size - 1));
            m_iotlb.insert(iotlb_entry{c.did, iova & ~(size - 1), next, size, acc});
            break;
        }
        if (level == 4) m_pml4e.insert(c.did, iova, next, acc);
        if (level == 3) m_pdpe.insert(c.did, iova, next, acc);
        if (level == 2) m_pde.insert(c.did, iova, next, acc);
        table = next;
    }
    r.memory_reads += reads;
    m_stats.walk_memory_reads += reads;
    ++m_stats.walks_by_reads[std::min<std::uint32_t>(reads, 4)];
    return result;
}

translation dma_remapper::translate(std::uint16_t source_id, std::uint64_t iova, bool is_write,
                                    tick_t at) {
    return lookup(request_kind::untranslated, source_id, iova, is_write, at);
}

translation dma_remapper::translate_request(std::uint16_t source_id, std::uint64_t iova,
                                            tick_t at) {
    return lookup(request_kind::translation_request, source_id, iova, false, at);
}

translation dma_remapper::check_translated(std::uint16_t source_id, std::uint64_t address,
                                           bool is_write, tick_t at) {
    return lookup(request_kind::translated, source_id, address, is_write, at);
}

translation dma_remapper::lookup(request_kind kind, std::uint16_t source_id, std::uint64_t iova,
                                 bool is_write, tick_t at) {
    if (kind == request_kind::untranslated) ++m_stats.translations;
    translation r;
    tick_t now = at + m_params.iotlb_lookup_latency;

    context_cache_entry c;
    const context_cache_entry* cached = m_context_cache.lookup(source_id);
    timeline* walker = nullptr;
    tick_t walk_start = 0;
    auto take_walker = [&] {
        walker = &*std::min_element(
            m_walkers.begin(), m_walkers.end(),
            [](const timeline& a, const timeline& b) { return a.free_at() < b.free_at(); });
        walk_start = std::max(now, walker->free_at());
        m_stats.walker_wait += walk_start - now;
        now = walk_start;
    };
    auto finish = [&](translation& t) -> translation {
        if (walker) walker->reserve(walk_start, now - walk_start);
        t.done = now;
        return t;
    };

    if (cached) {
        c = *cached;
        r.context_hit = true;
        ++m_stats.context_hits;
    } else {
        ++m_stats.context_misses;
        take_walker();
        const fault_reason f = fetch_context(source_id, now, r, c);
        if (f != fault_reason::none) {
            fail(r, f, source_id, iova, is_write, false);
            return finish(r);
        }
        m_context_cache.insert(c);
    }
    r.did = c.did;

    if (kind != request_kind::untranslated) {
        // ATS requests need a context entry that allows them (TT = 01b).
        if (c.tt != vtd::translation_type::device_tlb) {
            fail(r, fault_reason::translation_blocked, source_id, iova, is_write, c.fpd);
            return finish(r);
        }
        if (kind == request_kind::translated) {
            ++m_stats.translated_requests;
            r.hpa = iova;
            r.page_size = page_4k;
            r.access = perm_rw;
            return finish(r);
        }
    }

    if (c.tt == vtd::translation_type::pass_through) {
        ++m_stats.pass_through;
        r.pass_through = true;
        r.hpa = iova;
        r.page_size = page_4k;
        r.access = perm_rw;
        return finish(r);
    }

    const unsigned agaw = std::min(c.levels == 3 ? 39u : 48u, m_params.mgaw);
    if (iova >> agaw) {
        fail(r, fault_reason::address_beyond_agaw, source_id, iova, is_write, c.fpd);
        return finish(r);
    }

    if (!cached) now += m_params.iotlb_lookup_latency;  // probe again with the DID now known
    if (const iotlb_entry* e = m_iotlb.lookup(c.did, iova)) {
        ++m_stats.iotlb_hits;
        r.iotlb_hit = true;
        r.page_size = e->page_size;
        r.access = e->access;
        if (kind == request_kind::translation_request) {
            ++m_stats.translation_requests;
            r.hpa = e->hpa;
        } else if (check_perms(r, e->access, source_id, iova, is_write, c.fpd)) {
            r.hpa = e->hpa + (iova & (e->page_size - 1));
        }
        return finish(r);
    }

    ++m_stats.iotlb_misses;
    ++m_stats.walks;
    if (!walker) take_walker();
    const std::uint64_t not_present_before = m_stats.sl_not_present;
    const fault_reason f = walk(c, iova, is_write, now, r);
    if (kind == request_kind::translation_request) {
        if (f == fault_reason::none) {
            r.hpa &= ~(r.page_size - 1);
            ++m_stats.translation_requests;
        } else if (m_stats.sl_not_present != not_present_before) {
            // Not mapped: a successful completion with R = W = 0, no fault (VT-d §4.2.3).
            r.not_present = true;
            r.hpa = 0;
            r.page_size = page_4k;
            r.access = perms{};
            ++m_stats.translation_requests;
        } else {
            fail(r, f, source_id, iova, is_write, c.fpd);
        }
    } else if (f != fault_reason::none) {
        fail(r, f, source_id, iova, is_write, c.fpd);
    } else {
        check_perms(r, r.access, source_id, iova, is_write, c.fpd);
    }
    return finish(r);
}

void dma_remapper::invalidate_iotlb_global() {
    ++m_stats.iotlb_inv_global;
    m_iotlb.invalidate_all();
    m_pml4e.invalidate_all();
    m_pdpe.invalidate_all();
    m_pde.invalidate_all();
}

void dma_remapper::invalidate_iotlb_domain(std::uint16_t did) {
    ++m_stats.iotlb_inv_domain;
    m_iotlb.invalidate_domain(did);
    m_pml4e.invalidate_domain(did);
    m_pdpe.invalidate_domain(did);
    m_pde.invalidate_domain(did);
}

void dma_remapper::invalidate_iotlb_pages(std::uint16_t did, std::uint64_t addr, unsigned am,
                                          bool ih) {
    if (am > 52) throw std::invalid_argument("dma_remapper: address mask must be <= 52");
    ++m_stats.iotlb_inv_page;
    m_iotlb.invalidate_pages(did, addr, am);
    if (ih) return;  // IH: only leaf entries changed, paging-structure caches are kept
    const std::uint64_t len = page_4k << am;
    const std::uint64_t base = addr & ~(len - 1);
    m_pml4e.invalidate_range(did, base, len);
    m_pdpe.invalidate_range(did, base, len);
    m_pde.invalidate_range(did, base, len);
}

void dma_remapper::invalidate_context_global() {
    ++m_stats.context_inv_global;
    m_context_cache.invalidate_all();
}

void dma_remapper::invalidate_context_domain(std::uint16_t did) {
    ++m_stats.context_inv_domain;
    m_context_cache.invalidate_domain(did);
}

void dma_remapper::invalidate_context_device(std::uint16_t source_id, unsigned fm) {
    ++m_stats.context_inv_device;
    m_context_cache.invalidate_device(source_id, fm);
}

}  // namespace iovsim::iommu

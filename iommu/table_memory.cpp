#include "iommu/table_memory.h"

namespace iovsim::iommu {

bool sparse_table_memory::read(std::uint64_t hpa, void* dst, std::uint32_t len, tick_t at,
                               tick_t& done) {
    if (!m_store.contains(hpa, len)) return false;
    m_store.read(hpa, dst, len);
    done = m_timing.read(at, hpa, len, mem::requester::device).done;
    ++m_reads;
    return true;
}

bool sparse_table_memory::write(std::uint64_t hpa, const void* src, std::uint32_t len, tick_t at,
                                tick_t& done) {
    if (!m_store.contains(hpa, len)) return false;
    m_store.write(hpa, src, len);
    done = m_timing.write(at, hpa, len, mem::requester::device).done;
    ++m_writes;
    return true;
}

}  // namespace iovsim::iommu

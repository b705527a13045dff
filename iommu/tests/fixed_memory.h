// Test helper: host memory (a sparse store) whose every access takes exactly 10 ns, so the
// IOMMU's and its driver's timing can be worked out by hand.
#pragma once

#include "iommu/table_memory.h"
#include "models/core/units.h"
#include "models/mem/sparse_store.h"

namespace iovsim::iommu::testing {

class fixed_memory final : public table_memory {
public:
    static constexpr tick_t access_time = 10 * ticks_per_ns;
    explicit fixed_memory(mem::sparse_store& s) : m_s(s) {}
    bool read(std::uint64_t a, void* d, std::uint32_t n, tick_t at, tick_t& done) override {
        if (!m_s.contains(a, n)) return false;
        m_s.read(a, d, n);
        done = at + access_time;
        return true;
    }
    bool write(std::uint64_t a, const void* d, std::uint32_t n, tick_t at, tick_t& done) override {
        if (!m_s.contains(a, n)) return false;
        m_s.write(a, d, n);
        done = at + access_time;
        return true;
    }

private:
    mem::sparse_store& m_s;
};

}  // namespace iovsim::iommu::testing

// How the IOMMU's plain-C++ cores reach host memory: an injected interface that moves real bytes
// and returns when the access is done, so a core computes its costs and never waits
// (DESIGN.md §3). The SystemC shell implements it with the platform's memory model; tests and
// benchmarks use sparse_table_memory (a sparse_store for the bytes, memory_timing for the time).
//
// Models: device-side (IOMMU) reads of root, context, paging and IRTE entries and the
// read-modify-write of posted-interrupt descriptors, as memory_timing times requester::device
// accesses (a read that misses the LLC goes to DRAM without allocating; a write follows DDIO).
//
// Leaves out: the coherent locked read-modify-write of a descriptor as one bus operation (it is
// a read followed by a write); host address decoding (an access outside the store fails, which
// the cores turn into the spec's access-error fault).
#pragma once

#include <cstdint>

#include "models/core/units.h"
#include "models/mem/memory_timing.h"
#include "models/mem/sparse_store.h"

namespace iovsim::iommu {

class table_memory {
public:
    virtual ~table_memory() = default;
    // Reads len bytes at host address hpa into dst, the request arriving at `at`; sets `done`
    // to the tick the data is available. False (dst untouched) if hpa is not memory.
    virtual bool read(std::uint64_t hpa, void* dst, std::uint32_t len, tick_t at, tick_t& done) = 0;
    // Writes len bytes from src to host address hpa; as read().
    virtual bool write(std::uint64_t hpa, const void* src, std::uint32_t len, tick_t at,
                       tick_t& done) = 0;
};

// Bytes in a sparse_store, time from a memory_timing (both owned by the caller).
class sparse_table_memory final : public table_memory {
public:
    sparse_table_memory(mem::sparse_store& store, mem::memory_timing& timing)
        : m_store(store), m_timing(timing) {}

    bool read(std::uint64_t hpa, void* dst, std::uint32_t len, tick_t at, tick_t& done) override;
    bool write(std::uint64_t hpa, const void* src, std::uint32_t len, tick_t at,
               tick_t& done) override;

    std::uint64_t reads() const { return m_reads; }
    std::uint64_t writes() const { return m_writes; }

private:
    mem::sparse_store& m_store;
    mem::memory_timing& m_timing;
    std::uint64_t m_reads = 0;
    std::uint64_t m_writes = 0;
};

}  // namespace iovsim::iommu

// descriptor_memory over the host memory module's debug path (host-physical addresses, no
// timing): how KVM, the VMM and vhost touch host memory directly (posted-interrupt descriptors,
// the VMM's and vhost's copies). The memory module must outlive the view.
#pragma once

#include <cstdint>

#include "models/cpu/posted_interrupt.h"
#include "models/mem/memory.h"

namespace iovsim::cpu {

class memory_view : public descriptor_memory {
public:
    explicit memory_view(mem::memory& m) : m_mem(m) {}
    bool read(std::uint64_t a, void* d, std::uint64_t n) override {
        return m_mem.debug_read(a, d, n);
    }
    bool write(std::uint64_t a, const void* s, std::uint64_t n) override {
        return m_mem.debug_write(a, s, n);
    }

private:
    mem::memory& m_mem;
};

}  // namespace iovsim::cpu

#include "models/mem/sparse_store.h"

#include <algorithm>

namespace iovsim::mem {

bool sparse_store::read(std::uint64_t addr, void* dst, std::uint64_t len) const {
    if (!contains(addr, len)) {
        ++m_out_of_range;
        return false;
    }
    auto* out = static_cast<std::uint8_t*>(dst);
    while (len > 0) {
        const std::uint64_t offset = addr % page_size;
        const std::uint64_t chunk = std::min(len, page_size - offset);
        const auto it = m_pages.find(addr / page_size);
        if (it == m_pages.end()) {
            std::memset(out, 0, chunk);
        } else {
            std::memcpy(out, it->second->data() + offset, chunk);
        }
        out += chunk;
        addr += chunk;
        len -= chunk;
    }
    return true;
}

bool sparse_store::write(std::uint64_t addr, const void* src, std::uint64_t len) {
    if (!contains(addr, len)) {
        ++m_out_of_range;
        return false;
    }
    const auto* in = static_cast<const std::uint8_t*>(src);
    while (len > 0) {
        const std::uint64_t offset = addr % page_size;
        const std::uint64_t chunk = std::min(len, page_size - offset);
        auto& slot = m_pages[addr / page_size];
        if (!slot) slot = std::make_unique<page>(page{});  // zero-filled on first touch
        std::memcpy(slot->data() + offset, in, chunk);
        in += chunk;
        addr += chunk;
        len -= chunk;
    }
    return true;
}

}  // namespace iovsim::mem

#include "models/virtio/virtqueue.h"

#include <algorithm>
#include <stdexcept>

#include "models/core/bits.h"
#include "models/mem/sparse_store.h"

namespace iovsim::virtio {

namespace {

template <typename T>
bool read_le(guest_memory& m, std::uint64_t gpa, T& v) {
    std::uint8_t b[sizeof(T)];
    if (!m.read(gpa, b, sizeof(T))) return false;
    v = mem::load_le<T>(b);
    return true;
}

template <typename T>
bool write_le(guest_memory& m, std::uint64_t gpa, T v) {
    std::uint8_t b[sizeof(T)];
    mem::store_le<T>(b, v);
    return m.write(gpa, b, sizeof(T));
}

}  // namespace

bool guest_memory::read16(std::uint64_t gpa, std::uint16_t& v) { return read_le(*this, gpa, v); }
bool guest_memory::read32(std::uint64_t gpa, std::uint32_t& v) { return read_le(*this, gpa, v); }
bool guest_memory::read64(std::uint64_t gpa, std::uint64_t& v) { return read_le(*this, gpa, v); }
bool guest_memory::write16(std::uint64_t gpa, std::uint16_t v) { return write_le(*this, gpa, v); }
bool guest_memory::write32(std::uint64_t gpa, std::uint32_t v) { return write_le(*this, gpa, v); }
bool guest_memory::write64(std::uint64_t gpa, std::uint64_t v) { return write_le(*this, gpa, v); }

bool store_memory::read(std::uint64_t gpa, void* dst, std::uint32_t len) {
    return m_store.read(gpa, dst, len);
}
bool store_memory::write(std::uint64_t gpa, const void* src, std::uint32_t len) {
    return m_store.write(gpa, src, len);
}

std::string queue_layout::check() const {
    if (!is_power_of_two(size) || size > max_queue_size)
        return "queue size " + std::to_string(size) + " is not a power of two in 1..32768";
    if (desc % desc_align != 0) return "descriptor table not 16-byte aligned";
    if (avail % avail_align != 0) return "driver area (avail ring) not 2-byte aligned";
    if (used % used_align != 0) return "device area (used ring) not 4-byte aligned";
    return {};
}

queue_layout contiguous_layout(std::uint64_t base, std::uint32_t size, std::uint32_t align) {
    if (!is_power_of_two(align) || align < used_align)
        throw std::invalid_argument("contiguous_layout: align must be a power of two >= 4");
    queue_layout l;
    l.size = size;
    l.desc = base;
    l.avail = base + desc_table_bytes(size);
    const std::uint64_t avail_end = l.avail + avail_ring_bytes(size);
    l.used = (avail_end + align - 1) & ~std::uint64_t{align - 1};
    return l;
}

const char* to_string(queue_error e) {
    switch (e) {
        case queue_error::none:
            return "none";
        case queue_error::avail_idx_too_far:
            return "avail_idx_too_far";
        case queue_error::head_out_of_range:
            return "head_out_of_range";
        case queue_error::next_out_of_range:
            return "next_out_of_range";
        case queue_error::chain_loop:
            return "chain_loop";
        case queue_error::zero_length:
            return "zero_length";
        case queue_error::readable_after_writable:
            return "readable_after_writable";
        case queue_error::indirect:
            return "indirect";
        case queue_error::chain_too_long:
            return "chain_too_long";
        case queue_error::readable_too_large:
            return "readable_too_large";
        case queue_error::memory_fault:
            return "memory_fault";
    }
    return "?";
}

// ------------------------------------------------------------------------------------------------
// Driver side

virtq_driver::virtq_driver(guest_memory& m, const queue_layout& layout, bool event_idx)
    : m_mem(m), m_layout(layout), m_event_idx(event_idx) {
    if (const std::string why = layout.check(); !why.empty())
        throw std::invalid_argument("virtq_driver: " + why);
    const std::uint32_t n = layout.size;
    m_next_free.resize(n);
    m_chain_len.assign(n, 0);
    for (std::uint32_t i = 0; i < n; ++i) m_next_free[i] = static_cast<std::uint16_t>(i + 1);
    m_num_free = n;
    const std::vector<std::uint8_t> zeros(desc_table_bytes(n), 0);
    count(m_mem.write(layout.desc, zeros.data(), static_cast<std::uint32_t>(zeros.size())));
    count(m_mem.write(layout.avail, zeros.data(), static_cast<std::uint32_t>(avail_ring_bytes(n))));
    count(m_mem.write(layout.used, zeros.data(), static_cast<std::uint32_t>(used_ring_bytes(n))));
}

void virtq_driver::count(bool) { ++m_accesses; }

std::optional<std::uint16_t> virtq_driver::add(const std::vector<buffer>& out,
                                               const std::vector<buffer>& in) {
    const std::size_t total = out.size() + in.size();
    if (total == 0 || total > m_num_free) return std::nullopt;
    const std::uint16_t head = m_free_head;
    std::uint16_t i = head;
    for (std::size_t k = 0; k < total; ++k) {
        const bool writable = k >= out.size();
        const buffer& b = writable ? in[k - out.size()] : out[k];
        std::uint16_t flags = writable ? desc_f_write : 0;
        if (k + 1 < total) flags |= desc_f_next;
        std::uint8_t d[desc_size];
        mem::store_le<std::uint64_t>(d + ring_off::desc_addr, b.addr);
        mem::store_le<std::uint32_t>(d + ring_off::desc_len, b.len);
        mem::store_le<std::uint16_t>(d + ring_off::desc_flags, flags);
        mem::store_le<std::uint16_t>(d + ring_off::desc_next, m_next_free[i]);
        count(m_mem.write(m_layout.desc + std::uint64_t{desc_size} * i, d, desc_size));
        i = m_next_free[i];
    }
    m_free_head = i;
    m_num_free -= static_cast<std::uint32_t>(total);
    m_chain_len[head] = static_cast<std::uint16_t>(total);

    const std::uint16_t slot = m_avail_idx & static_cast<std::uint16_t>(m_layout.size - 1);
    count(m_mem.write16(m_layout.avail + ring_off::ring + 2u * slot, head));
    ++m_avail_idx;
    count(m_mem.write16(m_layout.avail + ring_off::idx, m_avail_idx));
    ++m_num_added;
    return head;
}

bool virtq_driver::kick_prepare() {
    const std::uint16_t new_idx = m_avail_idx;
    const std::uint16_t old_idx = static_cast<std::uint16_t>(new_idx - m_num_added);
    m_num_added = 0;
    if (m_event_idx) {
        std::uint16_t avail_event = 0;
        count(m_mem.read16(m_layout.used + avail_event_offset(m_layout.size), avail_event));
        return vring_need_event(avail_event, new_idx, old_idx);
    }
    std::uint16_t flags = 0;
    count(m_mem.read16(m_layout.used + ring_off::flags, flags));
    return (flags & used_f_no_notify) == 0;
}

bool virtq_driver::has_used() {
    std::uint16_t used_idx = m_last_used;
    count(m_mem.read16(m_layout.used + ring_off::idx, used_idx));
    return used_idx != m_last_used;
}

std::optional<used_elem> virtq_driver::get_used() {
    while (has_used()) {
        const std::uint16_t slot = m_last_used & static_cast<std::uint16_t>(m_layout.size - 1);
        const std::uint64_t elem =
            m_layout.used + ring_off::ring + std::uint64_t{used_elem_size} * slot;
        std::uint32_t id = 0, len = 0;
        count(m_mem.read32(elem, id));
        count(m_mem.read32(elem + 4, len));
        ++m_last_used;
        if (m_event_idx && (m_avail_flags & avail_f_no_interrupt) == 0)
            count(m_mem.write16(m_layout.avail + used_event_offset(m_layout.size), m_last_used));
        if (id >= m_layout.size || m_chain_len[id] == 0) {
            ++m_bad_used;
            continue;
        }
        // detach_buf: return the chain to the free list.
        const std::uint16_t head = static_cast<std::uint16_t>(id);
        std::uint16_t tail = head;
        for (std::uint16_t k = 1; k < m_chain_len[head]; ++k) tail = m_next_free[tail];
        m_next_free[tail] = m_free_head;
        m_free_head = head;
        m_num_free += m_chain_len[head];
        m_chain_len[head] = 0;
        return used_elem{head, len};
    }
    return std::nullopt;
}

void virtq_driver::disable_interrupts() {
    if (m_avail_flags & avail_f_no_interrupt) return;
    m_avail_flags |= avail_f_no_interrupt;
    if (m_event_idx) {
        // Linux: with event idx the flag is not written; used_event is moved far away instead.
        count(m_mem.write16(m_layout.avail + used_event_offset(m_layout.size),
                            static_cast<std::uint16_t>(m_last_used - 0x88c0)));
    } else {
        count(m_mem.write16(m_layout.avail + ring_off::flags, m_avail_flags));
    }
}

bool virtq_driver::enable_interrupts() {
    if (m_avail_flags & avail_f_no_interrupt) {
        m_avail_flags &= static_cast<std::uint16_t>(~avail_f_no_interrupt);
        if (!m_event_idx) count(m_mem.write16(m_layout.avail + ring_off::flags, m_avail_flags));
    }
    if (m_event_idx)
        count(m_mem.write16(m_layout.avail + used_event_offset(m_layout.size), m_last_used));
    return !has_used();
}

bool virtq_driver::enable_interrupts_delayed() {
    if (m_avail_flags & avail_f_no_interrupt) {
        m_avail_flags &= static_cast<std::uint16_t>(~avail_f_no_interrupt);
        if (!m_event_idx) count(m_mem.write16(m_layout.avail + ring_off::flags, m_avail_flags));
    }
    // Linux writes used_event with or without event idx ("keep code simple"); the device reads it
    // only with event idx.
    const auto bufs =
        static_cast<std::uint16_t>(static_cast<std::uint16_t>(m_avail_idx - m_last_used) * 3u / 4u);
    count(m_mem.write16(m_layout.avail + used_event_offset(m_layout.size),
                        static_cast<std::uint16_t>(m_last_used + bufs)));
    std::uint16_t used_idx = m_last_used;
    count(m_mem.read16(m_layout.used + ring_off::idx, used_idx));
    return static_cast<std::uint16_t>(used_idx - m_last_used) <= bufs;
}

// ------------------------------------------------------------------------------------------------
// Device side

virtq_device::virtq_device(guest_memory& m, const queue_layout& layout, bool event_idx,
                           std::uint32_t max_readable_bytes)
    : m_mem(m), m_layout(layout), m_event_idx(event_idx), m_max_readable(max_readable_bytes) {
    if (const std::string why = layout.check(); !why.empty())
        throw std::invalid_argument("virtq_device: " + why);
}

bool virtq_device::fail(queue_error e) {
    if (m_error == queue_error::none) m_error = e;
    ++m_errors;
    return false;
}

bool virtq_device::load16(std::uint64_t gpa, std::uint16_t& v) {
    ++m_accesses;
    return m_mem.read16(gpa, v) || fail(queue_error::memory_fault);
}

bool virtq_device::has_avail() {
    if (broken()) return false;
    std::uint16_t avail_idx = 0;
    if (!load16(m_layout.avail + ring_off::idx, avail_idx)) return false;
    return avail_idx != m_last_avail;
}

std::optional<desc_chain> virtq_device::pop() {
    if (broken()) return std::nullopt;
    const std::uint32_t n = m_layout.size;
    std::uint16_t avail_idx = 0;
    if (!load16(m_layout.avail + ring_off::idx, avail_idx)) return std::nullopt;
    const std::uint16_t pending = static_cast<std::uint16_t>(avail_idx - m_last_avail);
    if (pending == 0) return std::nullopt;
    if (pending > n) {
        fail(queue_error::avail_idx_too_far);
        return std::nullopt;
    }
    const std::uint16_t slot = m_last_avail & static_cast<std::uint16_t>(n - 1);
    std::uint16_t head = 0;
    if (!load16(m_layout.avail + ring_off::ring + 2u * slot, head)) return std::nullopt;
    if (head >= n) {
        fail(queue_error::head_out_of_range);
        return std::nullopt;
    }

    desc_chain c;
    c.head = head;
    std::uint64_t total = 0;
    std::uint16_t i = head;
    for (std::uint32_t count = 1;; ++count) {
        if (count > n) {  // §2.7.5.2: a chain has at most N descriptors; more is a loop
            fail(queue_error::chain_loop);
            return std::nullopt;
        }
        std::uint8_t d[desc_size];
        ++m_accesses;
        if (!m_mem.read(m_layout.desc + std::uint64_t{desc_size} * i, d, desc_size)) {
            fail(queue_error::memory_fault);
            return std::nullopt;
        }
        const buffer b{mem::load_le<std::uint64_t>(d + ring_off::desc_addr),
                       mem::load_le<std::uint32_t>(d + ring_off::desc_len)};
        const std::uint16_t flags = mem::load_le<std::uint16_t>(d + ring_off::desc_flags);
        const std::uint16_t next = mem::load_le<std::uint16_t>(d + ring_off::desc_next);
        queue_error e = queue_error::none;
        if (flags & desc_f_indirect)
            e = queue_error::indirect;
        else if (b.len == 0)
            e = queue_error::zero_length;
        else if (!(flags & desc_f_write) && !c.writable.empty())
            e = queue_error::readable_after_writable;  // §2.7.4.2 order
        else if ((total += b.len) > 0xffffffffu)
            e = queue_error::chain_too_long;
        else if (!(flags & desc_f_write) &&
                 std::uint64_t{c.readable_bytes} + b.len > m_max_readable)
            e = queue_error::readable_too_large;
        if (e != queue_error::none) {
            fail(e);
            return std::nullopt;
        }
        if (flags & desc_f_write) {
            c.writable.push_back(b);
            c.writable_bytes += b.len;
        } else {
            c.readable.push_back(b);
            c.readable_bytes += b.len;
        }
        if (!(flags & desc_f_next)) break;
        if (next >= n) {
            fail(queue_error::next_out_of_range);
            return std::nullopt;
        }
        i = next;
    }
    ++m_last_avail;
    if (m_event_idx && m_notify) {
        ++m_accesses;
        if (!m_mem.write16(m_layout.used + avail_event_offset(n), m_last_avail)) {
            fail(queue_error::memory_fault);
            return std::nullopt;
        }
    }
    return c;
}

bool virtq_device::push(std::uint16_t head, std::uint32_t len) {
    if (broken() || head >= m_layout.size) return false;
    const std::uint16_t slot = m_used_idx & static_cast<std::uint16_t>(m_layout.size - 1);
    const std::uint64_t elem =
        m_layout.used + ring_off::ring + std::uint64_t{used_elem_size} * slot;
    m_accesses += 3;
    if (!m_mem.write32(elem, head) || !m_mem.write32(elem + 4, len))
        return fail(queue_error::memory_fault);
    ++m_used_idx;
    if (!m_mem.write16(m_layout.used + ring_off::idx, m_used_idx))
        return fail(queue_error::memory_fault);
    return true;
}

bool virtq_device::need_interrupt() {
    if (broken()) return false;
    if (m_event_idx) {
        const bool valid = m_signalled_used_valid;
        const std::uint16_t old_idx = m_signalled_used;
        m_signalled_used_valid = true;
        m_signalled_used = m_used_idx;
        std::uint16_t used_event = 0;
        if (!load16(m_layout.avail + used_event_offset(m_layout.size), used_event)) return false;
        return !valid || vring_need_event(used_event, m_used_idx, old_idx);
    }
    std::uint16_t flags = 0;
    if (!load16(m_layout.avail + ring_off::flags, flags)) return false;
    return (flags & avail_f_no_interrupt) == 0;
}

void virtq_device::disable_notifications() {
    if (!m_notify) return;
    m_notify = false;
    if (!m_event_idx) {
        ++m_accesses;
        if (!m_mem.write16(m_layout.used + ring_off::flags, used_f_no_notify))
            fail(queue_error::memory_fault);
    }
}

bool virtq_device::enable_notifications() {
    m_notify = true;
    ++m_accesses;
    const bool ok =
        m_event_idx ? m_mem.write16(m_layout.used + avail_event_offset(m_layout.size), m_last_avail)
                    : m_mem.write16(m_layout.used + ring_off::flags, 0);
    if (!ok) fail(queue_error::memory_fault);
    return !has_avail();
}

std::optional<std::uint32_t> virtq_device::read_chain(const desc_chain& c,
                                                      std::vector<std::uint8_t>& out) {
    if (broken()) return std::nullopt;
    // Buffer by buffer, a large one in pieces: `out` only grows by what was really read.
    constexpr std::uint32_t piece_bytes = 64 * 1024;
    const std::size_t start = out.size();
    for (const buffer& b : c.readable) {
        ++m_accesses;
        for (std::uint32_t done = 0; done < b.len;) {
            const std::uint32_t part = std::min(b.len - done, piece_bytes);
            const std::size_t at = out.size();
            out.resize(at + part);
            if (!m_mem.read(b.addr + done, out.data() + at, part)) {
                out.resize(start);
                fail(queue_error::memory_fault);
                return std::nullopt;
            }
            done += part;
        }
    }
    m_bytes_copied += c.readable_bytes;
    return c.readable_bytes;
}

std::optional<std::uint32_t> virtq_device::write_chain(const desc_chain& c, const std::uint8_t* src,
                                                       std::uint32_t len) {
    if (broken()) return std::nullopt;
    std::uint32_t done = 0;
    for (const buffer& b : c.writable) {
        if (done == len) break;
        const std::uint32_t part = std::min(b.len, len - done);
        ++m_accesses;
        if (!m_mem.write(b.addr, src + done, part)) {
            fail(queue_error::memory_fault);
            return std::nullopt;
        }
        done += part;
    }
    m_bytes_copied += done;
    return done;
}

}  // namespace iovsim::virtio

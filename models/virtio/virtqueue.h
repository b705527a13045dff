// Split virtqueues (virtio 1.x §2.7, Linux include/uapi/linux/virtio_ring.h) as a plain-C++ core.
//
// Models: the three areas of a split virtqueue as real little-endian bytes in guest memory —
// the descriptor table (16-byte struct virtq_desc {le64 addr; le32 len; le16 flags; le16 next}),
// the driver area or available ring ({le16 flags; le16 idx; le16 ring[N]; le16 used_event}) and
// the device area or used ring ({le16 flags; le16 idx; {le32 id; le32 len} ring[N]; le16
// avail_event}) — with the alignment rules of §2.7 (16, 2 and 4 bytes) and the queue size a
// power of two up to 32768. Both sides keep only what the real ones keep privately (Linux's
// vring_virtqueue: free descriptor list, shadow avail idx, last_used_idx; QEMU/vhost:
// last_avail_idx, used idx, signalled_used); everything they exchange goes through the memory.
// 16-bit ring indices wrap freely (free-running counters, slot = idx & (N - 1)).
// - Driver side (virtq_driver): add a chain of device-readable then device-writable buffers,
//   decide whether to kick (VIRTIO_F_EVENT_IDX: vring_need_event on used->avail_event; without
//   it: used->flags NO_NOTIFY), take used buffers, turn used-buffer interrupts off and on (at
//   once, or delayed to 3/4 of the buffers outstanding: virtqueue_enable_cb_delayed).
// - Device side (virtq_device): pop the next available chain walking NEXT links, push used
//   elements, decide whether to interrupt (event idx: vring_need_event on avail->used_event
//   against the last signalled used idx, as QEMU's virtio_split_should_notify; without it: avail
//   flags NO_INTERRUPT), turn kicks off and on.
// - A malformed ring never crashes the model: the device side records the first error, counts
//   it, and stops processing the queue (QEMU's virtio_error() marks the device broken; the
//   virtio-net core then sets DEVICE_NEEDS_RESET). Errors: avail idx more than N ahead, head or
//   next index >= N, a chain longer than N (a loop), a zero-length buffer (QEMU: "zero sized
//   buffers are not allowed"), a readable descriptor after a writable one, INDIRECT (not
//   offered), more device-readable bytes than the device accepts in one chain (its
//   max_readable_bytes), an unreadable or unwritable guest address. Reading a chain copies it
//   buffer by buffer, growing the copy as the guest memory reads succeed, so a buffer that
//   claims gigabytes outside guest RAM costs no memory before it faults.
//
// Leaves out: indirect descriptors and VIRTIO_F_INDIRECT_DESC, packed virtqueues, in-order and
// NOTIFY_ON_EMPTY features, memory barriers (the model is sequential: a write is visible at once).
// Timing: none. Each side reports how many guest-memory accesses it made (accesses()), and the
// callers turn accesses into CPU cycles.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace iovsim::mem {
class sparse_store;
}

namespace iovsim::virtio {

// Guest memory as one side of a virtqueue reaches it (guest-physical addresses). False: the
// access could not be made (outside guest RAM), nothing was read or written.
class guest_memory {
public:
    virtual ~guest_memory() = default;
    virtual bool read(std::uint64_t gpa, void* dst, std::uint32_t len) = 0;
    virtual bool write(std::uint64_t gpa, const void* src, std::uint32_t len) = 0;

    bool read16(std::uint64_t gpa, std::uint16_t& v);
    bool read32(std::uint64_t gpa, std::uint32_t& v);
    bool read64(std::uint64_t gpa, std::uint64_t& v);
    bool write16(std::uint64_t gpa, std::uint16_t v);
    bool write32(std::uint64_t gpa, std::uint32_t v);
    bool write64(std::uint64_t gpa, std::uint64_t v);
};

// A sparse_store seen with guest-physical == store address (tests, and a VM whose RAM starts at
// host address 0 of its own store).
class store_memory : public guest_memory {
public:
    explicit store_memory(mem::sparse_store& s) : m_store(s) {}
    bool read(std::uint64_t gpa, void* dst, std::uint32_t len) override;
    bool write(std::uint64_t gpa, const void* src, std::uint32_t len) override;

private:
    mem::sparse_store& m_store;
};

// virtq_desc.flags
inline constexpr std::uint16_t desc_f_next = 1;
inline constexpr std::uint16_t desc_f_write = 2;
inline constexpr std::uint16_t desc_f_indirect = 4;
// virtq_avail.flags
inline constexpr std::uint16_t avail_f_no_interrupt = 1;
// virtq_used.flags
inline constexpr std::uint16_t used_f_no_notify = 1;

inline constexpr std::uint32_t max_queue_size = 32768;
inline constexpr std::uint32_t desc_size = 16;      // sizeof(struct virtq_desc)
inline constexpr std::uint32_t used_elem_size = 8;  // sizeof(struct virtq_used_elem)
inline constexpr std::uint32_t desc_align = 16;     // §2.7 alignment of each area
inline constexpr std::uint32_t avail_align = 2;
inline constexpr std::uint32_t used_align = 4;

// Field offsets inside the areas (§2.7.5, §2.7.6, §2.7.8).
namespace ring_off {
inline constexpr std::uint32_t desc_addr = 0;
inline constexpr std::uint32_t desc_len = 8;
inline constexpr std::uint32_t desc_flags = 12;
inline constexpr std::uint32_t desc_next = 14;
inline constexpr std::uint32_t flags = 0;  // avail and used
inline constexpr std::uint32_t idx = 2;    // avail and used
inline constexpr std::uint32_t ring = 4;   // avail and used
}  // namespace ring_off

// Sizes of the three areas for queue size n.
constexpr std::uint64_t desc_table_bytes(std::uint32_t n) { return std::uint64_t{desc_size} * n; }
constexpr std::uint64_t avail_ring_bytes(std::uint32_t n) { return 6 + 2 * std::uint64_t{n}; }
constexpr std::uint64_t used_ring_bytes(std::uint32_t n) {
    return 6 + std::uint64_t{used_elem_size} * n;
}
// Offset of used_event in the avail ring and of avail_event in the used ring.
constexpr std::uint64_t used_event_offset(std::uint32_t n) { return 4 + 2 * std::uint64_t{n}; }
constexpr std::uint64_t avail_event_offset(std::uint32_t n) {
    return 4 + std::uint64_t{used_elem_size} * n;
}

// vring_need_event() exactly as virtio 1.x §2.7.10 and Linux define it: true if event_idx lies in
// [old_idx, new_idx) modulo 2^16, i.e. the other side asked to be told when the index passed it.
constexpr bool vring_need_event(std::uint16_t event_idx, std::uint16_t new_idx,
                                std::uint16_t old_idx) {
    return static_cast<std::uint16_t>(new_idx - event_idx - 1) <
           static_cast<std::uint16_t>(new_idx - old_idx);
}

// Where a queue's three areas are (queue_desc, queue_driver, queue_device in the common config).
struct queue_layout {
    std::uint32_t size = 0;  // N
    std::uint64_t desc = 0;
    std::uint64_t avail = 0;  // driver area
    std::uint64_t used = 0;   // device area

    // Empty string if the layout is valid (size a power of two 1..32768, areas aligned),
    // otherwise what is wrong.
    std::string check() const;
};

// The legacy contiguous layout (Linux vring_init): descriptors at `base`, the avail ring right
// after them, the used ring at the next multiple of `align` (a power of two >= 4).
queue_layout contiguous_layout(std::uint64_t base, std::uint32_t size, std::uint32_t align = 4096);

// One guest buffer of a chain.
struct buffer {
    std::uint64_t addr = 0;
    std::uint32_t len = 0;
};

struct used_elem {
    std::uint16_t id = 0;   // head of the chain (the used ring stores 32 bits)
    std::uint32_t len = 0;  // bytes the device wrote
};

// --- Driver side (the guest's virtio_ring.c) ---
class virtq_driver {
public:
    // Initializes the driver's view: free list over all N descriptors, indices 0. The rings in
    // memory are zeroed (the driver allocates them zero-filled). Throws std::invalid_argument
    // for an invalid layout.
    virtq_driver(guest_memory& m, const queue_layout& layout, bool event_idx);

    const queue_layout& layout() const { return m_layout; }
    std::uint32_t num_free() const { return m_num_free; }

    // Puts `out` (device-readable) then `in` (device-writable) buffers into one chain and its
    // head into the avail ring, and publishes avail->idx. None if there are not enough free
    // descriptors, or the chain is empty. Returns the head.
    std::optional<std::uint16_t> add(const std::vector<buffer>& out, const std::vector<buffer>& in);
    // After add()s: whether the device wants a notification (virtqueue_kick_prepare). Resets
    // the count of buffers added since the last call.
    bool kick_prepare();

    // The next used element, freeing its chain; none if the device has used nothing new. With
    // event idx (and interrupts on) it also publishes used_event = last_used_idx.
    std::optional<used_elem> get_used();
    // True if the used ring holds elements the driver has not taken.
    bool has_used();

    // virtqueue_disable_cb / virtqueue_enable_cb: turn used-buffer interrupts off / on.
    // enable_interrupts() returns false if used buffers are already pending (the caller must
    // poll again: the interrupt for them may have been suppressed).
    void disable_interrupts();
    bool enable_interrupts();
    // virtqueue_enable_cb_delayed: interrupts on, but (with event idx) only once the device has
    // used 3/4 of the buffers outstanding (avail idx - last_used_idx): used_event = last_used_idx
    // + bufs, bufs = outstanding × 3 / 4 rounded down, so the interrupt comes with the (bufs +
    // 1)-th used buffer (vring_need_event: the used index passes used_event). Without event idx
    // it clears NO_INTERRUPT (the next used buffer interrupts). Returns false if more than bufs
    // buffers are used already (the caller polls again: the interrupt may have gone by).
    bool enable_interrupts_delayed();

    std::uint16_t avail_idx() const { return m_avail_idx; }
    std::uint16_t last_used_idx() const { return m_last_used; }
    // Used elements naming a descriptor that is not an outstanding head (the device's mistake);
    // they are skipped.
    std::uint64_t bad_used() const { return m_bad_used; }
    std::uint64_t accesses() const { return m_accesses; }

private:
    void count(bool ok);

    guest_memory& m_mem;
    queue_layout m_layout;
    bool m_event_idx;
    std::vector<std::uint16_t> m_next_free;  // driver-private free list links
    std::vector<std::uint16_t> m_chain_len;  // per head: descriptors in its chain, 0 if free
    std::uint16_t m_free_head = 0;
    std::uint32_t m_num_free = 0;
    std::uint16_t m_avail_idx = 0;  // shadow of avail->idx
    std::uint16_t m_num_added = 0;  // since the last kick_prepare()
    std::uint16_t m_last_used = 0;
    std::uint16_t m_avail_flags = 0;  // shadow of avail->flags
    bool m_interrupts = true;
    std::uint64_t m_bad_used = 0;
    std::uint64_t m_accesses = 0;
};

// --- Device side (QEMU's virtqueue_pop/push, vhost's get_vq_desc/add_used) ---

enum class queue_error : std::uint8_t {
    none,
    avail_idx_too_far,  // avail->idx moved more than N past last_avail_idx
    head_out_of_range,  // avail ring entry >= N
    next_out_of_range,  // a NEXT link >= N
    chain_loop,         // more than N descriptors in a chain
    zero_length,        // a descriptor with len 0
    readable_after_writable,
    indirect,            // VIRTQ_DESC_F_INDIRECT without VIRTIO_F_INDIRECT_DESC
    chain_too_long,      // total length >= 2^32
    readable_too_large,  // device-readable bytes above the device's max_readable_bytes
    memory_fault,        // a ring or descriptor address outside guest RAM
};
const char* to_string(queue_error e);

// A chain popped from the avail ring.
struct desc_chain {
    std::uint16_t head = 0;
    std::vector<buffer> readable;  // device reads (driver's out buffers)
    std::vector<buffer> writable;  // device writes (driver's in buffers)
    std::uint32_t readable_bytes = 0;
    std::uint32_t writable_bytes = 0;
};

class virtq_device {
public:
    // The device's view of a queue the driver enabled with `layout`; a chain with more than
    // `max_readable_bytes` device-readable bytes is malformed (a device's largest request, as
    // virtio-net's 64 KiB packet plus its header). Throws std::invalid_argument for an invalid
    // layout (the transport checks it before enabling).
    virtq_device(guest_memory& m, const queue_layout& layout, bool event_idx,
                 std::uint32_t max_readable_bytes = 0xffffffffu);

    const queue_layout& layout() const { return m_layout; }

    // The next available chain; none if the ring is empty or the queue is broken. With event
    // idx it then publishes avail_event = last_avail_idx (as QEMU does after every pop).
    std::optional<desc_chain> pop();
    // True if the driver has made chains available that were not popped (and not broken).
    bool has_avail();
    // Puts (head, len) into the used ring and publishes used->idx.
    bool push(std::uint16_t head, std::uint32_t len);
    // Whether to interrupt the driver for what was pushed since the last call that said yes or
    // no (event idx: vring_need_event(used_event, used_idx, last signalled); else !NO_INTERRUPT).
    bool need_interrupt();

    // vhost_disable_notify / vhost_enable_notify: kicks off / on. enable_notifications()
    // returns false if chains became available meanwhile (the caller must pop again).
    void disable_notifications();
    bool enable_notifications();

    // Copies of a chain's bytes (gather the readable buffers; scatter into the writable ones).
    // Return bytes copied, or none on a memory fault (which breaks the queue).
    std::optional<std::uint32_t> read_chain(const desc_chain& c, std::vector<std::uint8_t>& out);
    std::optional<std::uint32_t> write_chain(const desc_chain& c, const std::uint8_t* src,
                                             std::uint32_t len);

    bool broken() const { return m_error != queue_error::none; }
    queue_error error() const { return m_error; }
    std::uint64_t errors() const { return m_errors; }
    std::uint16_t last_avail_idx() const { return m_last_avail; }
    std::uint16_t used_idx() const { return m_used_idx; }
    std::uint64_t accesses() const { return m_accesses; }
    // Buffers (descriptors) read and bytes copied by read_chain/write_chain.
    std::uint64_t bytes_copied() const { return m_bytes_copied; }

private:
    bool fail(queue_error e);
    bool load16(std::uint64_t gpa, std::uint16_t& v);

    guest_memory& m_mem;
    queue_layout m_layout;
    bool m_event_idx;
    std::uint32_t m_max_readable;
    std::uint16_t m_last_avail = 0;
    std::uint16_t m_used_idx = 0;
    std::uint16_t m_signalled_used = 0;
    bool m_signalled_used_valid = false;
    bool m_notify = true;
    queue_error m_error = queue_error::none;
    std::uint64_t m_errors = 0;
    std::uint64_t m_accesses = 0;
    std::uint64_t m_bytes_copied = 0;
};

}  // namespace iovsim::virtio

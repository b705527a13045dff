#include "models/cpu/posted_interrupt.h"

#include <stdexcept>

#include "models/mem/sparse_store.h"

namespace iovsim::cpu {

std::uint32_t ndst_for(std::uint32_t apic_id, bool x2apic) {
    return x2apic ? apic_id : ((apic_id & 0xffu) << 8);
}

posted_interrupt_descriptor::posted_interrupt_descriptor(descriptor_memory& mem, std::uint64_t addr)
    : m_mem(mem), m_addr(addr) {
    if (addr % size != 0)
        throw std::invalid_argument("posted_interrupt_descriptor: address is not 64-byte aligned");
}

posted_interrupt_descriptor::image posted_interrupt_descriptor::load() const {
    image img{};
    if (!m_mem.read(m_addr, img.bytes, size))
        throw std::logic_error("posted_interrupt_descriptor: descriptor memory is not readable");
    return img;
}

void posted_interrupt_descriptor::store(const image& img) {
    if (!m_mem.write(m_addr, img.bytes, size))
        throw std::logic_error("posted_interrupt_descriptor: descriptor memory is not writable");
}

void posted_interrupt_descriptor::put(image& img, unsigned n, bool v) {
    const auto mask = static_cast<std::uint8_t>(1u << (n % 8));
    if (v)
        img.bytes[n / 8] |= mask;
    else
        img.bytes[n / 8] &= static_cast<std::uint8_t>(~mask);
}

bool posted_interrupt_descriptor::pir_empty(const image& img) {
    for (unsigned i = 0; i < 32; ++i)
        if (img.bytes[i] != 0) return false;
    return true;
}

bool posted_interrupt_descriptor::bit(unsigned n) const { return get(load(), n); }

void posted_interrupt_descriptor::init(std::uint8_t notification_vector, std::uint32_t ndst) {
    image img{};
    img.bytes[nv_offset] = notification_vector;
    mem::store_le<std::uint32_t>(img.bytes + ndst_offset, ndst);
    put(img, sn_bit, true);
    store(img);
}

void posted_interrupt_descriptor::vcpu_load(std::uint32_t ndst, std::uint8_t notification_vector) {
    image img = load();
    mem::store_le<std::uint32_t>(img.bytes + ndst_offset, ndst);
    img.bytes[nv_offset] = notification_vector;
    put(img, sn_bit, false);
    if (!pir_empty(img)) put(img, on_bit, true);
    store(img);
}

void posted_interrupt_descriptor::vcpu_put_preempted() {
    image img = load();
    put(img, sn_bit, true);
    store(img);
}

void posted_interrupt_descriptor::block(std::uint8_t wakeup_vector) {
    image img = load();
    img.bytes[nv_offset] = wakeup_vector;
    put(img, sn_bit, false);
    store(img);
}

unsigned posted_interrupt_descriptor::sync_to_irr(lapic& apic) {
    image img = load();
    if (!get(img, on_bit)) return 0;
    put(img, on_bit, false);
    unsigned moved = 0;
    for (unsigned v = 0; v < 256; ++v) {
        if (!get(img, v)) continue;
        put(img, v, false);
        if (apic.accept(static_cast<std::uint8_t>(v))) ++moved;
    }
    store(img);
    return moved;
}

std::optional<pi_notification> posted_interrupt_descriptor::post(std::uint8_t vector) {
    image img = load();
    put(img, vector, true);
    std::optional<pi_notification> note;
    if (!get(img, on_bit) && !get(img, sn_bit)) {
        put(img, on_bit, true);
        note = pi_notification{img.bytes[nv_offset],
                               mem::load_le<std::uint32_t>(img.bytes + ndst_offset)};
    }
    store(img);
    return note;
}

bool posted_interrupt_descriptor::pir(std::uint8_t vector) const { return get(load(), vector); }

bool posted_interrupt_descriptor::pir_empty() const { return pir_empty(load()); }

std::optional<std::uint8_t> posted_interrupt_descriptor::highest_pir() const {
    const image img = load();
    for (unsigned v = 256; v-- > 0;)
        if (get(img, v)) return static_cast<std::uint8_t>(v);
    return std::nullopt;
}

std::uint8_t posted_interrupt_descriptor::nv() const { return load().bytes[nv_offset]; }

std::uint32_t posted_interrupt_descriptor::ndst() const {
    const image img = load();
    return mem::load_le<std::uint32_t>(img.bytes + ndst_offset);
}

}  // namespace iovsim::cpu

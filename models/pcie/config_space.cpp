#include "models/pcie/config_space.h"

#include <fmt/format.h>

#include <stdexcept>

#include "models/core/bits.h"

namespace iovsim::pcie {

namespace {

constexpr std::uint64_t bridge_window_granularity = 1ull << 20;  // 1 MiB

std::uint32_t all_ones(unsigned size) { return size >= 4 ? 0xffffffffu : (1u << (8 * size)) - 1; }

}  // namespace

config_space::config_space(header_layout layout, const function_identity& id) : m_layout(layout) {
    define_header();
    define_register(cfg::vendor_id, 2, id.vendor_id, 0);
    define_register(cfg::device_id, 2, id.device_id, 0);
    define_register(cfg::revision_id, 1, id.revision_id, 0);
    define_register(cfg::class_code, 1, id.class_code & 0xff, 0);
    define_register(cfg::class_code + 1, 2, (id.class_code >> 8) & 0xffff, 0);
    define_register(cfg::header_type, 1,
                    static_cast<std::uint32_t>(layout) | (id.multifunction ? 0x80u : 0u), 0);
    if (layout == header_layout::type0) {
        define_register(cfg::subsystem_vendor_id, 2, id.subsystem_vendor_id, 0);
        define_register(cfg::subsystem_id, 2, id.subsystem_id, 0);
    }
}

void config_space::define_header() {
    // Command: Memory Space, Bus Master, Parity Error Response, SERR# Enable, Interrupt Disable.
    // I/O Space Enable is hardwired to 0: there is no I/O space.
    define_register(cfg::command, 2, 0,
                    cfg::command_memory_space | cfg::command_bus_master |
                        cfg::command_parity_error_response | cfg::command_serr_enable |
                        cfg::command_interrupt_disable);
    define_register(cfg::status, 2, 0, 0, cfg::status_error_bits);
    // Cache Line Size: read-write storage with no effect on PCI Express (PCIe Base §7.5.1.1.7).
    define_register(cfg::cache_line_size, 1, 0, 0xff);
    define_register(cfg::interrupt_line, 1, 0xff, 0xff);
    if (m_layout == header_layout::type1) {
        define_register(cfg::primary_bus_number, 1, 0, 0xff);
        define_register(cfg::secondary_bus_number, 1, 0, 0xff);
        define_register(cfg::subordinate_bus_number, 1, 0, 0xff);
        // Secondary Status: the error bits are RW1C; bit 14 is Received System Error there.
        define_register(cfg::secondary_status, 2, 0, 0, cfg::status_error_bits);
        // Memory Base/Limit bits 15:4 are address bits 31:20; bits 3:0 read 0 (32-bit only).
        // The reset values leave the window disabled (base > limit).
        define_register(cfg::memory_base, 2, 0xfff0, 0xfff0);
        define_register(cfg::memory_limit, 2, 0x0000, 0xfff0);
        // Prefetchable Base/Limit: bits 3:0 = 1 say the window is 64-bit, with upper registers.
        define_register(cfg::prefetchable_memory_base, 2, 0xfff1, 0xfff0);
        define_register(cfg::prefetchable_memory_limit, 2, 0x0001, 0xfff0);
        define_register(cfg::prefetchable_base_upper, 4, 0xffffffff, 0xffffffff);
        define_register(cfg::prefetchable_limit_upper, 4, 0, 0xffffffff);
        define_register(cfg::bridge_control, 2, 0, cfg::bridge_control_writable);
    }
}

bool config_space::access_ok(std::uint16_t offset, unsigned size) {
    if (size != 1 && size != 2 && size != 4) return false;
    if (static_cast<std::size_t>(offset) + size > size_bytes) return false;
    return (offset & 3u) + size <= 4;  // within one dword
}

std::uint32_t config_space::read(std::uint16_t offset, unsigned size) const {
    if (!access_ok(offset, size)) return all_ones(size);
    return peek(offset, size);
}

bool config_space::write(std::uint16_t offset, unsigned size, std::uint32_t value) {
    if (!access_ok(offset, size)) return false;
    for (unsigned i = 0; i < size; ++i) {
        const std::size_t at = offset + i;
        const auto v = static_cast<std::uint8_t>(value >> (8 * i));
        std::uint8_t b = static_cast<std::uint8_t>((m_data[at] & ~m_rw[at]) | (v & m_rw[at]));
        b = static_cast<std::uint8_t>(b & ~(v & m_rw1c[at]));
        m_data[at] = b;
    }
    // By index: a hook may add hooks.
    for (std::size_t h = 0; h < m_hooks.size(); ++h) {
        const hook_entry& e = m_hooks[h];
        if (offset < e.offset + e.len && e.offset < offset + size) e.hook(offset, size);
    }
    return true;
}

void config_space::on_write(std::uint16_t offset, std::uint16_t len, write_hook hook) {
    check_range(offset, len);
    m_hooks.push_back({offset, len, std::move(hook)});
}

void config_space::check_range(std::uint16_t offset, unsigned size) const {
    if (size == 0 || static_cast<std::size_t>(offset) + size > size_bytes) {
        throw std::out_of_range(
            fmt::format("config space: range 0x{:x}+{} outside the 4 KiB space", offset, size));
    }
}

void config_space::define_register(std::uint16_t offset, unsigned size, std::uint32_t reset_value,
                                   std::uint32_t rw_mask, std::uint32_t rw1c_mask) {
    check_range(offset, size);
    if (size > 4) throw std::out_of_range("config space: a register is at most 4 bytes");
    for (unsigned i = 0; i < size; ++i) {
        m_data[offset + i] = static_cast<std::uint8_t>(reset_value >> (8 * i));
        m_rw[offset + i] = static_cast<std::uint8_t>(rw_mask >> (8 * i));
        m_rw1c[offset + i] =
            static_cast<std::uint8_t>(rw1c_mask >> (8 * i) & ~(rw_mask >> (8 * i)));
    }
}

std::uint32_t config_space::peek(std::uint16_t offset, unsigned size) const {
    check_range(offset, size);
    if (size > 4) throw std::out_of_range("config space: peek is at most 4 bytes");
    std::uint32_t v = 0;
    for (unsigned i = 0; i < size; ++i) v |= std::uint32_t{m_data[offset + i]} << (8 * i);
    return v;
}

void config_space::poke(std::uint16_t offset, unsigned size, std::uint32_t value) {
    check_range(offset, size);
    if (size > 4) throw std::out_of_range("config space: poke is at most 4 bytes");
    for (unsigned i = 0; i < size; ++i)
        m_data[offset + i] = static_cast<std::uint8_t>(value >> (8 * i));
}

void config_space::set_bits(std::uint16_t offset, unsigned size, std::uint32_t bits) {
    poke(offset, size, peek(offset, size) | bits);
}

// --- BARs ---

void config_space::check_bar_index(int index) const {
    if (index < 0 || index >= bar_count()) {
        throw std::out_of_range(
            fmt::format("config space: BAR {} does not exist in a type-{} header", index,
                        static_cast<int>(m_layout)));
    }
}

void config_space::define_bar(int index, std::uint64_t size, bool is_64bit, bool prefetchable) {
    if (index < 0 || index >= bar_count()) {
        throw std::invalid_argument(fmt::format("define_bar: BAR {} does not exist", index));
    }
    if (is_64bit && index + 1 >= bar_count()) {
        throw std::invalid_argument(fmt::format(
            "define_bar: 64-bit BAR {} needs BAR {} for its upper dword", index, index + 1));
    }
    const auto in_use = [&](int i) { return m_bars[i].size != 0 || m_bars[i].upper_half; };
    if (in_use(index) || (is_64bit && in_use(index + 1))) {
        throw std::invalid_argument(fmt::format("define_bar: BAR {} is already defined", index));
    }
    if (!is_power_of_two(size) || size < 16) {
        throw std::invalid_argument(
            fmt::format("define_bar: size {} is not a power of two of at least 16 bytes", size));
    }
    if (!is_64bit && size > (1ull << 31)) {
        throw std::invalid_argument(
            fmt::format("define_bar: size {} does not fit a 32-bit BAR (at most 2 GiB)", size));
    }
    if (size > (1ull << 63)) throw std::invalid_argument("define_bar: size above 2^63");

    // Address bits below the size are hardwired to 0, so writing all ones reads back the size
    // mask; bits 3:0 are the read-only type (PCI Local Bus Specification 3.0 §6.2.5.1).
    const std::uint64_t mask = ~(size - 1);
    const std::uint32_t type =
        (is_64bit ? cfg::bar_type_64bit : 0u) | (prefetchable ? cfg::bar_prefetchable : 0u);
    const auto reg = static_cast<std::uint16_t>(cfg::bar0 + 4 * index);
    define_register(reg, 4, type, static_cast<std::uint32_t>(mask) & ~0xfu);
    if (is_64bit) {
        define_register(reg + 4, 4, 0, static_cast<std::uint32_t>(mask >> 32));
        m_bars[index + 1].upper_half = true;
    }
    m_bars[index] = bar_info{size, is_64bit, prefetchable, false};
}

std::uint64_t config_space::bar_address(int index) const {
    check_bar_index(index);
    const bar_info& b = m_bars[index];
    if (b.size == 0) return 0;
    const auto reg = static_cast<std::uint16_t>(cfg::bar0 + 4 * index);
    std::uint64_t addr = peek(reg, 4) & ~0xfu;
    if (b.is_64bit) addr |= std::uint64_t{peek(reg + 4, 4)} << 32;
    return addr;
}

std::uint64_t config_space::bar_size(int index) const {
    check_bar_index(index);
    return m_bars[index].size;
}

bool config_space::bar_is_64bit(int index) const {
    check_bar_index(index);
    return m_bars[index].is_64bit;
}

bool config_space::bar_is_prefetchable(int index) const {
    check_bar_index(index);
    return m_bars[index].prefetchable;
}

void config_space::assign_bar(int index, std::uint64_t address) {
    check_bar_index(index);
    const auto reg = static_cast<std::uint16_t>(cfg::bar0 + 4 * index);
    write(reg, 4, static_cast<std::uint32_t>(address));
    if (m_bars[index].is_64bit) write(reg + 4, 4, static_cast<std::uint32_t>(address >> 32));
}

std::optional<std::pair<int, std::uint64_t>> config_space::decode(std::uint64_t addr,
                                                                  std::uint32_t len) const {
    if (!memory_space_enabled()) return std::nullopt;
    const std::uint64_t n = len == 0 ? 1 : len;
    for (int i = 0; i < bar_count(); ++i) {
        const std::uint64_t size = m_bars[i].size;
        if (size == 0) continue;
        const std::uint64_t base = bar_address(i);
        if (addr >= base && addr - base < size && n <= size - (addr - base)) {
            return std::make_pair(i, addr - base);
        }
    }
    return std::nullopt;
}

// --- Type-1 header ---

void config_space::require_type1(const char* what) const {
    if (m_layout != header_layout::type1) {
        throw std::logic_error(fmt::format("config space: {} needs a type-1 header", what));
    }
}

std::uint8_t config_space::primary_bus() const {
    require_type1("primary_bus");
    return m_data[cfg::primary_bus_number];
}

std::uint8_t config_space::secondary_bus() const {
    require_type1("secondary_bus");
    return m_data[cfg::secondary_bus_number];
}

std::uint8_t config_space::subordinate_bus() const {
    require_type1("subordinate_bus");
    return m_data[cfg::subordinate_bus_number];
}

void config_space::set_bus_numbers(std::uint8_t primary, std::uint8_t secondary,
                                   std::uint8_t subordinate) {
    require_type1("set_bus_numbers");
    write(cfg::primary_bus_number, 1, primary);
    write(cfg::secondary_bus_number, 1, secondary);
    write(cfg::subordinate_bus_number, 1, subordinate);
}

std::optional<memory_window> config_space::window(std::uint16_t base_reg, std::uint16_t limit_reg,
                                                  bool with_upper) const {
    // Bits 15:4 of Base/Limit are address bits 31:20; the limit's bits 19:0 are all ones
    // (PCI-to-PCI Bridge spec §3.2.5.8).
    std::uint64_t base = std::uint64_t{peek(base_reg, 2) & 0xfff0u} << 16;
    std::uint64_t limit = (std::uint64_t{peek(limit_reg, 2) & 0xfff0u} << 16) | 0xfffff;
    if (with_upper) {
        base |= std::uint64_t{peek(cfg::prefetchable_base_upper, 4)} << 32;
        limit |= std::uint64_t{peek(cfg::prefetchable_limit_upper, 4)} << 32;
    }
    if (base > limit) return std::nullopt;
    return memory_window{base, limit};
}

std::optional<memory_window> config_space::memory_window_nonprefetchable() const {
    require_type1("memory_window_nonprefetchable");
    return window(cfg::memory_base, cfg::memory_limit, false);
}

std::optional<memory_window> config_space::memory_window_prefetchable() const {
    require_type1("memory_window_prefetchable");
    return window(cfg::prefetchable_memory_base, cfg::prefetchable_memory_limit, true);
}

namespace {

void check_window(std::uint64_t base, std::uint64_t limit, const char* what) {
    if (base % bridge_window_granularity != 0 || (limit + 1) % bridge_window_granularity != 0) {
        throw std::invalid_argument(fmt::format(
            "{}: window 0x{:x}-0x{:x} is not 1 MiB aligned (base, limit + 1)", what, base, limit));
    }
}

}  // namespace

void config_space::set_memory_window(std::uint64_t base, std::uint64_t limit) {
    require_type1("set_memory_window");
    if (base > limit) {
        write(cfg::memory_base, 2, 0xfff0);
        write(cfg::memory_limit, 2, 0);
        return;
    }
    check_window(base, limit, "set_memory_window");
    if (limit > 0xffffffffull) {
        throw std::invalid_argument(
            fmt::format("set_memory_window: limit 0x{:x} is above 4 GiB", limit));
    }
    write(cfg::memory_base, 2, static_cast<std::uint32_t>(base >> 16) & 0xfff0);
    write(cfg::memory_limit, 2, static_cast<std::uint32_t>(limit >> 16) & 0xfff0);
}

void config_space::set_prefetchable_window(std::uint64_t base, std::uint64_t limit) {
    require_type1("set_prefetchable_window");
    if (base > limit) {
        write(cfg::prefetchable_memory_base, 2, 0xfff0);
        write(cfg::prefetchable_memory_limit, 2, 0);
        write(cfg::prefetchable_base_upper, 4, 0xffffffff);
        write(cfg::prefetchable_limit_upper, 4, 0);
        return;
    }
    check_window(base, limit, "set_prefetchable_window");
    write(cfg::prefetchable_memory_base, 2, static_cast<std::uint32_t>(base >> 16) & 0xfff0);
    write(cfg::prefetchable_memory_limit, 2, static_cast<std::uint32_t>(limit >> 16) & 0xfff0);
    write(cfg::prefetchable_base_upper, 4, static_cast<std::uint32_t>(base >> 32));
    write(cfg::prefetchable_limit_upper, 4, static_cast<std::uint32_t>(limit >> 32));
}

bool config_space::forwards_memory(std::uint64_t addr, std::uint32_t len) const {
    require_type1("forwards_memory");
    if (!memory_space_enabled()) return false;
    const std::uint64_t last = addr + (len == 0 ? 0 : len - 1);
    if (last < addr) return false;  // wraps
    for (const auto& w : {memory_window_nonprefetchable(), memory_window_prefetchable()}) {
        if (w && addr >= w->base && last <= w->limit) return true;
    }
    return false;
}

bool config_space::bus_in_range(std::uint8_t bus) const {
    return bus >= secondary_bus() && bus <= subordinate_bus();
}

// --- Capability lists ---

std::uint16_t config_space::add_capability(std::uint8_t id, std::uint16_t size) {
    const auto bytes = static_cast<std::uint16_t>((size + 3u) & ~3u);
    if (size < 2 || m_next_capability + bytes > cfg::first_extended_capability) {
        throw std::length_error(fmt::format(
            "add_capability: capability 0x{:02x} of {} bytes does not fit below 0x100", id, size));
    }
    const std::uint16_t at = m_next_capability;
    define_register(at, 1, id, 0);
    define_register(at + 1, 1, 0, 0);  // Next Capability Pointer: end of list
    if (m_last_capability == 0) {
        define_register(cfg::capabilities_pointer, 1, at, 0);
        set_bits(cfg::status, 2, cfg::status_capabilities_list);
    } else {
        poke(m_last_capability + 1, 1, at);
    }
    m_last_capability = at;
    m_next_capability = static_cast<std::uint16_t>(at + bytes);
    return at;
}

std::uint16_t config_space::add_ext_capability(std::uint16_t id, std::uint8_t version,
                                               std::uint16_t size) {
    const auto bytes = static_cast<std::uint16_t>((size + 3u) & ~3u);
    if (size < 4 || version > 0xf || m_next_ext_capability + bytes > size_bytes) {
        throw std::length_error(fmt::format(
            "add_ext_capability: capability 0x{:04x} v{} of {} bytes does not fit below 0x1000", id,
            version, size));
    }
    const std::uint16_t at = m_next_ext_capability;
    // Header: ID [15:0], version [19:16], Next Capability Offset [31:20] (PCIe Base §7.6.3).
    define_register(at, 4, std::uint32_t{id} | std::uint32_t{version} << 16, 0);
    if (m_last_ext_capability != 0) {
        poke(m_last_ext_capability, 4,
             (peek(m_last_ext_capability, 4) & 0x000fffffu) | std::uint32_t{at} << 20);
    }
    m_last_ext_capability = at;
    m_next_ext_capability = static_cast<std::uint16_t>(at + bytes);
    return at;
}

std::vector<capability_entry> config_space::capabilities() const {
    std::vector<capability_entry> out;
    if (!(status() & cfg::status_capabilities_list)) return out;
    // The bottom two bits of each pointer are reserved (PCI Local Bus Specification §6.7).
    std::uint16_t ptr = m_data[cfg::capabilities_pointer] & 0xfc;
    for (int guard = 0; ptr >= cfg::first_standard_capability && guard < 48; ++guard) {
        out.push_back({m_data[ptr], ptr, 0});
        ptr = m_data[ptr + 1] & 0xfc;
    }
    return out;
}

std::vector<capability_entry> config_space::ext_capabilities() const {
    std::vector<capability_entry> out;
    std::uint16_t ptr = cfg::first_extended_capability;
    for (int guard = 0; ptr >= cfg::first_extended_capability && guard < 960; ++guard) {
        const std::uint32_t header = peek(ptr, 4);
        if (header == 0 || header == 0xffffffff) break;
        out.push_back({static_cast<std::uint16_t>(header & 0xffff), ptr,
                       static_cast<std::uint8_t>(header >> 16 & 0xf)});
        ptr = static_cast<std::uint16_t>(header >> 20 & 0xffc);
    }
    return out;
}

std::optional<std::uint16_t> config_space::find_capability(std::uint8_t id) const {
    for (const auto& c : capabilities()) {
        if (c.id == id) return c.offset;
    }
    return std::nullopt;
}

std::optional<std::uint16_t> config_space::find_ext_capability(std::uint16_t id) const {
    for (const auto& c : ext_capabilities()) {
        if (c.id == id) return c.offset;
    }
    return std::nullopt;
}

}  // namespace iovsim::pcie

// PCI Express configuration space of one function, as a plain-C++ core.
//
// Models the 4 KiB extended configuration space as real bytes with a per-bit write behaviour
// (read-only, read-write, write-1-to-clear), the type-0 header of endpoints and the type-1 header
// of root ports and bridges (PCI Local Bus Specification 3.0 §6.1, PCI-to-PCI Bridge
// Architecture Specification 1.2 §3.2, PCI Express Base Specification §7.5): identity
// registers, Command/Status, memory BARs with the all-ones sizing protocol, the bridge's bus
// numbers and memory windows, and the chaining of the standard (0x40..0xff) and extended
// (0x100..0xfff) capability lists. What the registers mean to the rest of the platform is
// answered here (is Memory Space enabled, which BAR decodes an address, does a bridge forward
// it); enforcing it is the job of the root complex and the devices.
//
// Leaves out: I/O space (no I/O BARs; I/O Space Enable and the bridge's I/O base/limit read as
// hardwired 0), expansion ROM BARs (read 0), the Cardbus CIS pointer, BIST, legacy PCI timing
// registers (latency timers read 0), VGA and ISA decoding of bridges (the Bridge Control bits are
// storage only), and sticky bits across resets (there is no reset).
//
// Accesses, as a configuration request carries them: 1, 2 or 4 bytes within one naturally
// aligned dword (a Configuration Request TLP addresses one dword with byte enables). An access of
// another size, one that crosses a dword boundary or one past 4 KiB is rejected: read() returns
// all ones, write() changes nothing and returns false; the root complex splits wider CPU
// accesses (an 8-byte ECAM access) into dwords before they get here.
//
// Timing: none. The core stores and decodes; whoever carries the configuration request charges
// its time.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <utility>
#include <vector>

namespace iovsim::pcie {

// Offsets of the header registers (PCI Local Bus Specification 3.0 §6.1; PCI-to-PCI Bridge
// Architecture Specification 1.2 §3.2 for type 1).
namespace cfg {
inline constexpr std::uint16_t vendor_id = 0x00;
inline constexpr std::uint16_t device_id = 0x02;
inline constexpr std::uint16_t command = 0x04;
inline constexpr std::uint16_t status = 0x06;
inline constexpr std::uint16_t revision_id = 0x08;
inline constexpr std::uint16_t class_code = 0x09;  // 3 bytes: prog-if, sub-class, base class
inline constexpr std::uint16_t cache_line_size = 0x0c;
inline constexpr std::uint16_t latency_timer = 0x0d;
inline constexpr std::uint16_t header_type = 0x0e;
inline constexpr std::uint16_t bist = 0x0f;
inline constexpr std::uint16_t bar0 = 0x10;
inline constexpr std::uint16_t capabilities_pointer = 0x34;
inline constexpr std::uint16_t interrupt_line = 0x3c;
inline constexpr std::uint16_t interrupt_pin = 0x3d;
// Type 0 only.
inline constexpr std::uint16_t cardbus_cis_pointer = 0x28;
inline constexpr std::uint16_t subsystem_vendor_id = 0x2c;
inline constexpr std::uint16_t subsystem_id = 0x2e;
inline constexpr std::uint16_t expansion_rom_base = 0x30;
// Type 1 only.
inline constexpr std::uint16_t primary_bus_number = 0x18;
inline constexpr std::uint16_t secondary_bus_number = 0x19;
inline constexpr std::uint16_t subordinate_bus_number = 0x1a;
inline constexpr std::uint16_t secondary_latency_timer = 0x1b;
inline constexpr std::uint16_t io_base = 0x1c;
inline constexpr std::uint16_t io_limit = 0x1d;
inline constexpr std::uint16_t secondary_status = 0x1e;
inline constexpr std::uint16_t memory_base = 0x20;
inline constexpr std::uint16_t memory_limit = 0x22;
inline constexpr std::uint16_t prefetchable_memory_base = 0x24;
inline constexpr std::uint16_t prefetchable_memory_limit = 0x26;
inline constexpr std::uint16_t prefetchable_base_upper = 0x28;
inline constexpr std::uint16_t prefetchable_limit_upper = 0x2c;
inline constexpr std::uint16_t io_base_upper = 0x30;
inline constexpr std::uint16_t io_limit_upper = 0x32;
inline constexpr std::uint16_t bridge_expansion_rom_base = 0x38;
inline constexpr std::uint16_t bridge_control = 0x3e;

// Command register bits.
inline constexpr std::uint16_t command_io_space = 1u << 0;
inline constexpr std::uint16_t command_memory_space = 1u << 1;
inline constexpr std::uint16_t command_bus_master = 1u << 2;
inline constexpr std::uint16_t command_parity_error_response = 1u << 6;
inline constexpr std::uint16_t command_serr_enable = 1u << 8;
inline constexpr std::uint16_t command_interrupt_disable = 1u << 10;

// Status (and type-1 Secondary Status) register bits.
inline constexpr std::uint16_t status_interrupt = 1u << 3;
inline constexpr std::uint16_t status_capabilities_list = 1u << 4;
inline constexpr std::uint16_t status_master_data_parity_error = 1u << 8;
inline constexpr std::uint16_t status_signaled_target_abort = 1u << 11;
inline constexpr std::uint16_t status_received_target_abort = 1u << 12;
inline constexpr std::uint16_t status_received_master_abort = 1u << 13;
// Bit 14 is Received System Error in Secondary Status.
inline constexpr std::uint16_t status_signaled_system_error = 1u << 14;
inline constexpr std::uint16_t status_detected_parity_error = 1u << 15;
// The error bits, all write-1-to-clear.
inline constexpr std::uint16_t status_error_bits =
    status_master_data_parity_error | status_signaled_target_abort | status_received_target_abort |
    status_received_master_abort | status_signaled_system_error | status_detected_parity_error;

// Bridge Control bits with storage (PCI-to-PCI Bridge spec §3.2.5.18).
// Parity Error Response, SERR# Enable, ISA Enable, VGA Enable, VGA 16-bit, Secondary Bus Reset.
inline constexpr std::uint16_t bridge_control_writable = 0x005f;

// BAR type bits (low nibble of a memory BAR).
inline constexpr std::uint32_t bar_type_64bit = 0x2u << 1;  // bits 2:1 = 10b
inline constexpr std::uint32_t bar_prefetchable = 1u << 3;

// Where the capability lists live.
inline constexpr std::uint16_t first_standard_capability = 0x40;
inline constexpr std::uint16_t first_extended_capability = 0x100;
}  // namespace cfg

enum class header_layout : std::uint8_t {
    type0 = 0,  // endpoints
    type1 = 1,  // PCI-to-PCI bridges, root ports, switch ports
};

// Read-only identity of a function.
struct function_identity {
    std::uint16_t vendor_id = 0xffff;
    std::uint16_t device_id = 0xffff;
    std::uint8_t revision_id = 0;
    std::uint32_t class_code = 0;  // 24 bits: base class [23:16], sub-class [15:8], prog-if [7:0]
    std::uint16_t subsystem_vendor_id = 0;  // type 0 only
    std::uint16_t subsystem_id = 0;         // type 0 only
    bool multifunction = false;             // Header Type bit 7
};

// An address window of a bridge; `limit` is inclusive.
struct memory_window {
    std::uint64_t base = 0;
    std::uint64_t limit = 0;
    friend bool operator==(const memory_window& a, const memory_window& b) {
        return a.base == b.base && a.limit == b.limit;
    }
};

// One entry of a capability list as found by walking it.
struct capability_entry {
    std::uint16_t id = 0;      // 8-bit ID in the standard list, 16-bit in the extended one
    std::uint16_t offset = 0;  // of the capability header
    std::uint8_t version = 0;  // extended capabilities only
};

class config_space {
public:
    static constexpr std::size_t size_bytes = 4096;
    // Called after an access that overlaps the watched range has been applied, with the
    // access's offset and size.
    using write_hook = std::function<void(std::uint16_t offset, unsigned size)>;

    config_space(header_layout layout, const function_identity& identity);

    header_layout layout() const { return m_layout; }
    int bar_count() const { return m_layout == header_layout::type0 ? 6 : 2; }

    // --- Configuration requests (what software sees) ---

    // True if (offset, size) is an access one configuration request can carry (see top).
    static bool access_ok(std::uint16_t offset, unsigned size);
    // Returns the little-endian value, or all ones (of `size` bytes, at most 32 bits) if the
    // access is rejected.
    std::uint32_t read(std::uint16_t offset, unsigned size) const;
    // Applies the write under the register masks and runs the hooks it touches; false (and no
    // change) if the access is rejected.
    bool write(std::uint16_t offset, unsigned size, std::uint32_t value);

    // Calls `hook` after every accepted write() overlapping [offset, offset + len).
    void on_write(std::uint16_t offset, std::uint16_t len, write_hook hook);

    // --- Model side (the function's own hardware; no masks, no hooks) ---

    // Declares a register: its reset value and which bits software may write or clear. Bits in
    // neither mask are read-only. Any offset/size inside the 4 KiB; throws std::out_of_range.
    void define_register(std::uint16_t offset, unsigned size, std::uint32_t reset_value,
                         std::uint32_t rw_mask, std::uint32_t rw1c_mask = 0);
    std::uint32_t peek(std::uint16_t offset, unsigned size) const;
    void poke(std::uint16_t offset, unsigned size, std::uint32_t value);
    // Sets bits as the hardware does when it records an event (e.g. a Status error bit).
    void set_bits(std::uint16_t offset, unsigned size, std::uint32_t bits);

    // --- BARs ---

    // Declares a memory BAR. size: a power of two, at least 16 bytes (4 KiB or more is
    // recommended so that BARs can be mapped by page); at most 2 GiB for a 32-bit BAR. A 64-bit
    // BAR also takes BAR index+1 as its upper dword. Throws std::invalid_argument for a bad
    // size, an index out of range or already in use.
    void define_bar(int index, std::uint64_t size, bool is_64bit, bool prefetchable);
    // The address software placed in the BAR (0 if the BAR is not defined, or is the upper half
    // of a 64-bit BAR). Throws std::out_of_range for an index outside the header's BARs.
    std::uint64_t bar_address(int index) const;
    std::uint64_t bar_size(int index) const;  // 0 if not defined
    bool bar_is_64bit(int index) const;
    bool bar_is_prefetchable(int index) const;
    // Writes `address` into the BAR through write(), as enumeration does.
    void assign_bar(int index, std::uint64_t address);

    // --- Command register gating ---

    std::uint16_t command() const { return static_cast<std::uint16_t>(peek(cfg::command, 2)); }
    std::uint16_t status() const { return static_cast<std::uint16_t>(peek(cfg::status, 2)); }
    bool memory_space_enabled() const { return command() & cfg::command_memory_space; }
    bool bus_master_enabled() const { return command() & cfg::command_bus_master; }
    // The BAR that claims [addr, addr + len) and the offset of addr inside it, if Memory Space
    // is enabled and one BAR holds the whole range.
    std::optional<std::pair<int, std::uint64_t>> decode(std::uint64_t addr,
                                                        std::uint32_t len) const;

    // --- Type-1 header (throw std::logic_error on a type-0 function) ---

    std::uint8_t primary_bus() const;
    std::uint8_t secondary_bus() const;
    std::uint8_t subordinate_bus() const;
    // Writes the three bus numbers through write().
    void set_bus_numbers(std::uint8_t primary, std::uint8_t secondary, std::uint8_t subordinate);
    // The non-prefetchable (32-bit) and prefetchable (64-bit) windows, nullopt when base > limit
    // (disabled, the reset state).
    std::optional<memory_window> memory_window_nonprefetchable() const;
    std::optional<memory_window> memory_window_prefetchable() const;
    // Program a window through write(); base and limit + 1 must be 1 MiB aligned, limit
    // inclusive; base > limit disables it. Throws std::invalid_argument otherwise (or if the
    // non-prefetchable window is not below 4 GiB).
    void set_memory_window(std::uint64_t base, std::uint64_t limit);
    void set_prefetchable_window(std::uint64_t base, std::uint64_t limit);
    // True if the bridge forwards a memory request to [addr, addr + len) downstream: Memory
    // Space enabled and the range inside one of the windows.
    bool forwards_memory(std::uint64_t addr, std::uint32_t len = 1) const;
    // True if configuration requests for `bus` go downstream (secondary <= bus <= subordinate).
    bool bus_in_range(std::uint8_t bus) const;

    // --- Capability lists ---

    // Appends a standard capability of `size` bytes (header included) to the list at the next
    // free dword in 0x40..0xff, writes its ID, chains it from the Capabilities Pointer or the
    // previous capability, sets Status.Capabilities List, and returns its offset. Throws
    // std::length_error when it does not fit.
    std::uint16_t add_capability(std::uint8_t id, std::uint16_t size);
    // Appends an extended capability (0x100..0xfff): the first at 0x100, each chained from the
    // previous one's Next Capability Offset. Returns its offset; throws std::length_error.
    std::uint16_t add_ext_capability(std::uint16_t id, std::uint8_t version, std::uint16_t size);
    // Walks the lists as software does, from the Capabilities Pointer and from 0x100.
    std::vector<capability_entry> capabilities() const;
    std::vector<capability_entry> ext_capabilities() const;
    std::optional<std::uint16_t> find_capability(std::uint8_t id) const;
    std::optional<std::uint16_t> find_ext_capability(std::uint16_t id) const;

private:
    struct hook_entry {
        std::uint16_t offset;
        std::uint16_t len;
        write_hook hook;
    };
    struct bar_info {
        std::uint64_t size = 0;  // 0: not defined (or the upper half of a 64-bit BAR)
        bool is_64bit = false;
        bool prefetchable = false;
        bool upper_half = false;
    };

    void check_range(std::uint16_t offset, unsigned size) const;
    void check_bar_index(int index) const;
    void require_type1(const char* what) const;
    void define_header();
    std::optional<memory_window> window(std::uint16_t base_reg, std::uint16_t limit_reg,
                                        bool with_upper) const;

    header_layout m_layout;
    std::array<std::uint8_t, size_bytes> m_data{};
    std::array<std::uint8_t, size_bytes> m_rw{};    // bits software may write
    std::array<std::uint8_t, size_bytes> m_rw1c{};  // bits software clears by writing 1
    std::array<bar_info, 6> m_bars{};
    std::vector<hook_entry> m_hooks;
    std::uint16_t m_next_capability = cfg::first_standard_capability;
    std::uint16_t m_last_capability = 0;
    std::uint16_t m_next_ext_capability = cfg::first_extended_capability;
    std::uint16_t m_last_ext_capability = 0;
};

}  // namespace iovsim::pcie

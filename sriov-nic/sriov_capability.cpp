#include "sriov-nic/sriov_capability.h"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

#include "models/core/bits.h"
#include "models/pcie/capabilities.h"

namespace iovsim::nic {

namespace {

int lowest_bit(std::uint32_t v) {
    int n = 0;
    while (!(v & 1u)) {
        v >>= 1;
        ++n;
    }
    return n;
}

void check_vf_bar_index(int index) {
    if (index < 0 || index > 5) {
        throw std::out_of_range(fmt::format("SR-IOV: VF BAR {} does not exist (0..5)", index));
    }
}

}  // namespace

std::optional<pcie::routing_id> vf_routing_id(pcie::routing_id pf, std::uint16_t first_vf_offset,
                                              std::uint16_t vf_stride, unsigned n) {
    if (vf_stride == 0 && n > 0) {
        throw std::invalid_argument("vf_routing_id: VF Stride 0 gives every VF the same ID");
    }
    const std::uint64_t v =
        std::uint64_t{pf.value()} + first_vf_offset + std::uint64_t{n} * vf_stride;
    if (v > 0xffff) return std::nullopt;
    return pcie::routing_id::from_value(static_cast<std::uint16_t>(v));
}

sriov_capability::sriov_capability(pcie::config_space& pf, const sriov_params& p)
    : m_cs(pf), m_p(p) {
    if (p.total_vfs == 0) throw std::invalid_argument("SR-IOV: TotalVFs must be at least 1");
    if (!(p.supported_page_sizes & 1u)) {
        throw std::invalid_argument(fmt::format(
            "SR-IOV: Supported Page Sizes 0x{:x} lacks 4 KiB (bit 0), which every PF supports",
            p.supported_page_sizes));
    }
    if (p.vf_stride_ari == 0 || p.vf_stride_no_ari == 0) {
        throw std::invalid_argument("SR-IOV: VF Stride must not be 0");
    }
    for (const vf_bar_params& b : p.vf_bars) {
        if (b.index < 0 || b.index > 5 || (b.is_64bit && b.index == 5)) {
            throw std::invalid_argument(fmt::format(
                "SR-IOV: VF BAR {} does not exist (0..5, a 64-bit BAR takes two)", b.index));
        }
        const auto in_use = [&](int i) { return m_bars[i].size != 0 || m_bars[i].upper_half; };
        if (in_use(b.index) || (b.is_64bit && in_use(b.index + 1))) {
            throw std::invalid_argument(fmt::format("SR-IOV: VF BAR {} is defined twice", b.index));
        }
        if (!is_power_of_two(b.size) || b.size < 16 || (!b.is_64bit && b.size > (1ull << 31))) {
            throw std::invalid_argument(
                fmt::format("SR-IOV: VF BAR {} size {} is not a power of two of 16 bytes up to {}",
                            b.index, b.size, b.is_64bit ? "2^63" : "2 GiB"));
        }
        m_bars[b.index] = bar_info{b.size, b.is_64bit, b.prefetchable, false};
        if (b.is_64bit) m_bars[b.index + 1].upper_half = true;
    }

    m_at = m_cs.add_ext_capability(pcie::ext_cap_id::sriov, 1, sriov_reg::size);
    // No VF Migration: capabilities, status and the migration controls are RO 0.
    m_cs.define_register(m_at + sriov_reg::capabilities, 4, 0, 0);
    m_cs.define_register(m_at + sriov_reg::control, 2, 0,
                         sriov_reg::vf_enable | sriov_reg::vf_memory_space_enable |
                             sriov_reg::ari_capable_hierarchy);
    m_cs.define_register(m_at + sriov_reg::status, 2, 0, 0);
    m_cs.define_register(m_at + sriov_reg::initial_vfs, 2, p.total_vfs, 0);
    m_cs.define_register(m_at + sriov_reg::total_vfs, 2, p.total_vfs, 0);
    m_cs.define_register(m_at + sriov_reg::num_vfs, 2, 0, 0xffff);
    // Function Dependency Link: the PF's own function number (one PF, function 0).
    m_cs.define_register(m_at + sriov_reg::function_dependency_link, 1, 0, 0);
    m_cs.define_register(m_at + sriov_reg::vf_device_id, 2, p.vf_device_id, 0);
    m_cs.define_register(m_at + sriov_reg::supported_page_sizes, 4, p.supported_page_sizes, 0);
    m_cs.define_register(m_at + sriov_reg::system_page_size, 4, 1, 0xffffffff);
    m_cs.define_register(m_at + sriov_reg::vf_migration_state_array_offset, 4, 0, 0);
    apply_offset_and_stride();
    define_vf_bar_masks();

    m_cs.on_write(m_at + sriov_reg::control, 2,
                  [this](std::uint16_t, unsigned) { on_control_write(); });
    m_cs.on_write(m_at + sriov_reg::num_vfs, 2,
                  [this](std::uint16_t, unsigned) { on_num_vfs_write(); });
    m_cs.on_write(m_at + sriov_reg::system_page_size, 4,
                  [this](std::uint16_t, unsigned) { on_page_size_write(); });
}

std::uint16_t sriov_capability::reg16(std::uint16_t r) const {
    return static_cast<std::uint16_t>(m_cs.peek(m_at + r, 2));
}

std::uint16_t sriov_capability::control() const { return reg16(sriov_reg::control); }

std::uint64_t sriov_capability::system_page_size_bytes() const {
    return 4096ull << lowest_bit(m_page_size);
}

void sriov_capability::on_control_write() {
    std::uint16_t now = control();
    const bool was_enabled = m_control & sriov_reg::vf_enable;
    const bool ari_changed = (now ^ m_control) & sriov_reg::ari_capable_hierarchy;
    if (was_enabled && ari_changed) {
        // ARI Capable Hierarchy may change only while VF Enable is clear (§9.3.3.3.5).
        now = static_cast<std::uint16_t>((now & ~sriov_reg::ari_capable_hierarchy) |
                                         (m_control & sriov_reg::ari_capable_hierarchy));
        m_cs.poke(m_at + sriov_reg::control, 2, now);
    }
    const bool apply = (now ^ m_control) & sriov_reg::ari_capable_hierarchy;
    m_control = now;
    if (apply) apply_offset_and_stride();
}

void sriov_capability::on_num_vfs_write() {
    if (m_control & sriov_reg::vf_enable) {
        m_cs.poke(m_at + sriov_reg::num_vfs, 2, m_num_vfs);  // undefined per §9.3.3.7: ignored
        return;
    }
    m_num_vfs = num_vfs();
}

void sriov_capability::on_page_size_write() {
    const std::uint32_t v = m_cs.peek(m_at + sriov_reg::system_page_size, 4);
    const bool one_supported_bit = is_power_of_two(v) && (v & m_p.supported_page_sizes);
    if (!one_supported_bit || (m_control & sriov_reg::vf_enable)) {
        m_cs.poke(m_at + sriov_reg::system_page_size, 4, m_page_size);
        return;
    }
    m_page_size = v;
    define_vf_bar_masks();
}

void sriov_capability::apply_offset_and_stride() {
    const bool ari = m_control & sriov_reg::ari_capable_hierarchy;
    m_cs.define_register(m_at + sriov_reg::first_vf_offset, 2,
                         ari ? m_p.first_vf_offset_ari : m_p.first_vf_offset_no_ari, 0);
    m_cs.define_register(m_at + sriov_reg::vf_stride, 2,
                         ari ? m_p.vf_stride_ari : m_p.vf_stride_no_ari, 0);
}

void sriov_capability::define_vf_bar_masks() {
    for (int i = 0; i < 6; ++i) {
        const bar_info& b = m_bars[i];
        if (b.size == 0) continue;
        // Address bits below the per-VF size are hardwired to 0 (sizing reads back the mask);
        // bits 3:0 are the read-only type, as in a BAR (§9.3.3.14).
        const std::uint64_t size = std::max(b.size, system_page_size_bytes());
        const std::uint64_t mask = ~(size - 1);
        const std::uint32_t type = (b.is_64bit ? pcie::cfg::bar_type_64bit : 0u) |
                                   (b.prefetchable ? pcie::cfg::bar_prefetchable : 0u);
        const auto reg = static_cast<std::uint16_t>(m_at + sriov_reg::vf_bar0 + 4 * i);
        const std::uint32_t low_mask = static_cast<std::uint32_t>(mask) & ~0xfu;
        m_cs.define_register(reg, 4, (m_cs.peek(reg, 4) & low_mask) | type, low_mask);
        if (b.is_64bit) {
            const auto high_mask = static_cast<std::uint32_t>(mask >> 32);
            m_cs.define_register(reg + 4, 4, m_cs.peek(reg + 4, 4) & high_mask, high_mask);
        }
    }
}

std::uint64_t sriov_capability::vf_bar_size(int index) const {
    check_vf_bar_index(index);
    const bar_info& b = m_bars[index];
    return b.size == 0 ? 0 : std::max(b.size, system_page_size_bytes());
}

std::uint64_t sriov_capability::vf_bar_base(int index) const {
    check_vf_bar_index(index);
    const bar_info& b = m_bars[index];
    if (b.size == 0) return 0;
    const auto reg = static_cast<std::uint16_t>(m_at + sriov_reg::vf_bar0 + 4 * index);
    std::uint64_t addr = m_cs.peek(reg, 4) & ~0xfu;
    if (b.is_64bit) addr |= std::uint64_t{m_cs.peek(reg + 4, 4)} << 32;
    return addr;
}

std::uint64_t sriov_capability::vf_bar_address(int index, unsigned vf) const {
    const std::uint64_t base = vf_bar_base(index);
    return base == 0 ? 0 : base + std::uint64_t{vf} * vf_bar_size(index);
}

bool sriov_capability::vf_bar_is_64bit(int index) const {
    check_vf_bar_index(index);
    return m_bars[index].is_64bit;
}

bool sriov_capability::vf_bar_is_prefetchable(int index) const {
    check_vf_bar_index(index);
    return m_bars[index].prefetchable;
}

void sriov_capability::assign_vf_bar(int index, std::uint64_t address) {
    check_vf_bar_index(index);
    const auto reg = static_cast<std::uint16_t>(m_at + sriov_reg::vf_bar0 + 4 * index);
    m_cs.write(reg, 4, static_cast<std::uint32_t>(address));
    if (m_bars[index].is_64bit) m_cs.write(reg + 4, 4, static_cast<std::uint32_t>(address >> 32));
}

std::optional<pcie::routing_id> sriov_capability::vf_routing_id(pcie::routing_id pf,
                                                                unsigned n) const {
    return nic::vf_routing_id(pf, first_vf_offset(), vf_stride(), n);
}

}  // namespace iovsim::nic

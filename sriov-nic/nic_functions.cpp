#include "sriov-nic/nic_functions.h"

#include <fmt/format.h>

#include <stdexcept>

#include "models/pcie/lspci_dump.h"

namespace iovsim::nic {

namespace {

std::unique_ptr<pcie::config_space> make_pf(const pf_params& p) {
    pcie::endpoint_params e;
    e.identity = p.identity;
    e.bars = p.bars;
    e.msix_vectors = p.msix_vectors;
    e.msix_table_bir = p.msix_bir;
    e.msix_table_offset = p.msix_table_offset;
    e.msix_pba_bir = p.msix_bir;
    e.msix_pba_offset = p.msix_pba_offset;
    e.link_speed = p.link_speed;
    e.link_width = p.link_width;
    e.max_payload_supported = p.max_payload_supported;
    e.aer = true;
    e.ari = true;
    e.ari_next_function = 0;  // the only PF
    return std::make_unique<pcie::config_space>(pcie::make_endpoint(e));
}

}  // namespace

nic_functions::nic_functions(pcie::routing_id pf_id, const pf_params& p)
    : m_pf_id(pf_id), m_p(p), m_pf(make_pf(p)) {
    m_sriov = std::make_unique<sriov_capability>(*m_pf, p.sriov);
    add_ats(*m_pf, p.ats, false);
    // Registered after the capability's own hooks, so offset and stride are already current.
    m_pf->on_write(m_sriov->offset() + sriov_reg::control, 2,
                   [this](std::uint16_t, unsigned) { on_sriov_control_write(); });
    // A VF's configuration space is checked here, once, so that VF Enable cannot fail on it.
    vf_config probe(*m_pf, *m_sriov, 0, p.vf);
}

void nic_functions::on_sriov_control_write() {
    const bool enable = m_sriov->vf_enable();
    if (!enable) {
        m_vfs.clear();
        m_vf_ids.clear();
        m_enabled = false;
        return;
    }
    if (m_enabled) return;  // VF Enable was already set
    m_enabled = true;
    m_vf_enable_error.clear();
    const unsigned n = m_sriov->num_vfs();
    if (n > m_sriov->total_vfs()) {
        m_vf_enable_error = fmt::format("VF Enable with NumVFs {} above TotalVFs {}: no VFs", n,
                                        m_sriov->total_vfs());
        return;
    }
    m_vf_offset = m_sriov->first_vf_offset();
    m_vf_stride = m_sriov->vf_stride();
    std::vector<pcie::routing_id> ids;
    ids.reserve(n);
    for (unsigned i = 0; i < n; ++i) {
        const auto id = vf_routing_id(m_pf_id, m_vf_offset, m_vf_stride, i);
        if (!id) {
            m_vf_enable_error = fmt::format(
                "VF Enable: VF {} of {} (PF {}, offset {}, stride {}) would pass bus 255: no VFs",
                i, n, pcie::to_string(m_pf_id), m_vf_offset, m_vf_stride);
            return;
        }
        ids.push_back(*id);
    }
    m_vf_ids = std::move(ids);
    m_vfs.reserve(n);
    for (unsigned i = 0; i < n; ++i) {
        m_vfs.push_back(std::make_unique<vf_config>(*m_pf, *m_sriov, i, m_p.vf));
    }
}

vf_config& nic_functions::vf(unsigned index) {
    if (index >= m_vfs.size()) {
        throw std::out_of_range(
            fmt::format("nic: VF {} does not exist ({} VFs enabled)", index, m_vfs.size()));
    }
    return *m_vfs[index];
}

const vf_config& nic_functions::vf(unsigned index) const {
    return const_cast<nic_functions*>(this)->vf(index);
}

pcie::routing_id nic_functions::vf_id(unsigned index) const {
    if (index >= m_vf_ids.size()) {
        throw std::out_of_range(
            fmt::format("nic: VF {} does not exist ({} VFs enabled)", index, m_vf_ids.size()));
    }
    return m_vf_ids[index];
}

std::optional<unsigned> nic_functions::vf_index(pcie::routing_id id) const {
    if (m_vfs.empty()) return std::nullopt;
    const std::uint32_t first = std::uint32_t{m_pf_id.value()} + m_vf_offset;
    if (id.value() < first) return std::nullopt;
    const std::uint32_t delta = id.value() - first;
    if (delta % m_vf_stride != 0) return std::nullopt;
    const std::uint32_t index = delta / m_vf_stride;
    if (index >= m_vfs.size()) return std::nullopt;
    return index;
}

pcie::config_space* nic_functions::function(pcie::routing_id id) {
    if (is_pf(id)) return m_pf.get();
    const auto i = vf_index(id);
    return i ? &m_vfs[*i]->config() : nullptr;
}

std::uint32_t nic_functions::config_read(pcie::routing_id id, std::uint16_t offset,
                                         unsigned size) const {
    const pcie::config_space* cs = const_cast<nic_functions*>(this)->function(id);
    if (cs) return cs->read(offset, size);
    return size >= 4 ? 0xffffffffu : (1u << (8 * size)) - 1;
}

bool nic_functions::config_write(pcie::routing_id id, std::uint16_t offset, unsigned size,
                                 std::uint32_t value) {
    pcie::config_space* cs = function(id);
    return cs && cs->write(offset, size, value);
}

void nic_functions::set_num_vfs(unsigned n, bool ari) {
    const unsigned total = m_sriov->total_vfs();
    if (n > total) {
        throw std::invalid_argument(fmt::format(
            "nic.num_vfs = {} is above the PF's TotalVFs ({}); use 0..{}", n, total, total));
    }
    const std::uint16_t ctl_at = m_sriov->offset() + sriov_reg::control;
    const std::uint16_t ctl = m_sriov->control();
    // VF Enable and VF MSE cleared first, as Linux requires sriov_numvfs to go through 0.
    m_pf->write(ctl_at, 2, ctl & ~(sriov_reg::vf_enable | sriov_reg::vf_memory_space_enable));
    if (n == 0) return;
    std::uint16_t c = m_sriov->control();
    c = ari ? (c | sriov_reg::ari_capable_hierarchy) : (c & ~sriov_reg::ari_capable_hierarchy);
    m_pf->write(ctl_at, 2, c);
    m_pf->write(m_sriov->offset() + sriov_reg::num_vfs, 2, n);
    m_pf->write(ctl_at, 2, c | sriov_reg::vf_enable | sriov_reg::vf_memory_space_enable);
    if (!m_vf_enable_error.empty()) throw std::runtime_error("nic: " + m_vf_enable_error);
}

std::string nic_functions::lspci_dump() const {
    std::string out = pcie::lspci_dump(m_pf_id, *m_pf);
    for (std::size_t i = 0; i < m_vfs.size(); ++i) {
        out += pcie::lspci_dump(m_vf_ids[i], m_vfs[i]->config());
    }
    return out;
}

}  // namespace iovsim::nic

#include "platform/passthrough_vm.h"

#include <fmt/format.h>

#include <algorithm>
#include <optional>
#include <stdexcept>

#include "iommu/interrupt_remapper.h"
#include "models/core/bits.h"
#include "models/core/sc_glue.h"
#include "models/pcie/capabilities.h"
#include "platform/nic_queue_driver.h"
#include "platform/nicbench.h"
#include "platform/pf_driver.h"
#include "sriov-nic/nic_registers.h"

namespace iovsim::platform {

namespace {

using core::stage;
using namespace nic::nic_reg;

std::uint64_t bar_of(const sriov_vf& vf, int index, std::uint64_t& size) {
    for (const auto& b : vf.bars) {
        if (b.index == index) {
            size = b.size;
            return b.address;
        }
    }
    throw std::runtime_error(fmt::format("run: VF {} has no BAR{}", vf.index, index));
}

}  // namespace

// --- msix_table_emulation ---

std::uint64_t msix_table_emulation::read(std::uint64_t offset, unsigned size, std::uint64_t& value,
                                         tick_t) {
    const std::uint64_t word = offset / 4;
    value = (size == 4 && offset % 4 == 0 && word < m_words.size()) ? m_words[word] : ~0ull;
    return 0;  // the exit to the VMM is the cost
}

std::uint64_t msix_table_emulation::write(std::uint64_t offset, unsigned size, std::uint64_t value,
                                          tick_t) {
    const std::uint64_t word = offset / 4;
    if (size == 4 && offset % 4 == 0 && word < m_words.size())
        m_words[word] = static_cast<std::uint32_t>(value);
    return 0;
}

std::array<std::uint32_t, 4> msix_table_emulation::entry(unsigned n) const {
    return {m_words.at(4 * n), m_words.at(4 * n + 1), m_words.at(4 * n + 2), m_words.at(4 * n + 3)};
}

// --- passthrough_vm ---

passthrough_vm::passthrough_vm(host_platform& p, const workload_config& w, const vm_slot& slot)
    : vm_workload(p, w, slot) {
    if (!p.iommu) throw std::invalid_argument("run: passthrough needs the IOMMU");
    run_guest([this](cpu::guest_context& g) { guest(g); });
}

void passthrough_vm::host_setup(host_cpu& cpu, vm_host_context& ctx) {
    host_platform& p = m_p;
    if (ctx.next_vf >= ctx.layout.vfs.size()) {
        throw std::runtime_error(
            fmt::format("run: VM {} has no VF left ({} enabled)", m_index, ctx.layout.vfs.size()));
    }
    const sriov_vf& vf = ctx.layout.vfs[ctx.next_vf++];
    const std::uint16_t sid = vf.id.value();
    m_mac = vf.mac;
    p.assign_requester(sid, m_index);
    p.assign_mac(vf.mac, m_index);

    // VFIO: the VM's memory in the VF's IOMMU domain.
    iommu::driver& drv = *p.iommu_driver;
    const std::uint16_t did = drv.create_domain();
    drv.map(did, 0, vm_ram_hpa(m_w, m_index), m_spec.memory);
    drv.attach(sid, did);

    // The VF's RX and TX interrupts: an IRTE each (RX at the VM's index, TX 32 above it),
    // source-ID checked.
    const iommu::irte_source_check src{sid, 0, 1};
    const auto remap = [&](unsigned irte, std::uint8_t guest_vector, std::uint8_t host_vector) {
        if (m_spec.interrupts == cpu::delivery_mode::posted) {
            drv.set_irte(irte, iommu::make_posted_irte(m_vcpu->descriptor_address(), guest_vector,
                                                       false, src));
            return;
        }
        drv.set_irte(irte, iommu::make_remapped_irte(m_vcpu->host_core(), host_vector, src));
        p.kvm->route_msi(host_vector, m_vm, 0, guest_vector);
        p.irq_router->claim(host_vector);
        p.assign_vector(host_vector, m_index);
    };
    const unsigned irte = m_vm;
    remap(irte, guest_rx_vector, static_cast<std::uint8_t>(host_vf_vector + m_index));
    remap(irte + 32, guest_tx_vector, static_cast<std::uint8_t>(host_vf_vector + 32 + m_index));
    std::uint64_t bar0_size = 0, bar3_size = 0;
    const std::uint64_t bar0 = bar_of(vf, 0, bar0_size);
    const std::uint64_t bar3 = bar_of(vf, 3, bar3_size);
    p.assign_mmio(bar0, bar0_size, m_index);
    p.assign_mmio(bar3, bar3_size, m_index);
    const std::uint64_t entry = msix_entry_address(cpu, vf.id, bar3, rx_vector, "run: the VF");
    const std::uint64_t table_offset = entry - bar3 - rx_vector * 16;
    m_table_offset = table_offset;
    for (const unsigned v : {rx_vector, tx_vector}) {
        const std::uint64_t e = entry + (v - rx_vector) * 16;
        const auto handle = static_cast<std::uint16_t>(irte + (v == tx_vector ? 32 : 0));
        cpu.mmio_write32(e + 0, iommu::make_remappable_msi_address(handle));
        cpu.mmio_write32(e + 4, 0);
        cpu.mmio_write32(e + 8, 0);   // subhandle 0: the handle is the IRTE index
        cpu.mmio_write32(e + 12, 0);  // unmasked
    }
    const std::uint16_t cap = pcie::enumerator::find_capability(cpu, vf.id, pcie::cap_id::msix);
    cpu.config_write(vf.id, cap + pcie::msix_reg::message_control, 2, pcie::msix_reg::enable);

    // The VMM maps the BARs into the guest; the MSI-X table page stays trapped.
    m_map.add_passthrough(fmt::format("vf{}.bar0", vf.index), pt_bar0_gpa, bar0, bar0_size);
    m_bar3_region =
        m_map.add_passthrough(fmt::format("vf{}.bar3", vf.index), pt_bar3_gpa, bar3, bar3_size);
    m_map.trap(m_bar3_region, table_offset & ~(cpu::ept_page_size - 1), cpu::ept_page_size);
    p.kvm->register_mmio(m_vm, m_bar3_region, m_msix);
    m_vf = vf.index;
}

void passthrough_vm::guest(cpu::guest_context& g) {
    g.wait_for_interrupt(start_vector);
    g.eoi();
    guest_queue_bus bus(g);
    nic_queues q;
    q.bar0 = pt_bar0_gpa;
    q.bar3 = pt_bar3_gpa;
    q.region = pt_region_gpa;
    q.buffer_bytes = nic_rx_buffer_bytes(m_p.config().nic_mtu);
    if (pt_region_gpa + q.region_bytes() > m_spec.memory)
        throw std::runtime_error("run: the VF's rings and buffers do not fit the guest's RAM");
    // The guest's MSI-X entries for its RX and TX vectors: trapped, emulated by the VMM.
    for (const auto& [v, vector] :
         {std::pair{rx_vector, guest_rx_vector}, std::pair{tx_vector, guest_tx_vector}}) {
        const std::uint64_t entry = pt_bar3_gpa + m_table_offset + v * 16;
        g.mmio_write32(entry + 0, 0xfee00000);
        g.mmio_write32(entry + 4, 0);
        g.mmio_write32(entry + 8, vector);
        g.mmio_write32(entry + 12, 0);
    }
    open_queues(bus, q, "run: the guest's VF");
    if (is_rx(m_w.type)) {
        g.mmio_write32(q.bar0 + ims, icr_bits::rxt);
        rx_ready(g.now());
        stream_rx(g, bus, q);
        finish();
        return;
    }
    if (m_w.type == workload_type::stream_tx) {
        g.mmio_write32(q.bar0 + ims, icr_bits::txdw);
        stream_tx(g, bus, q);
        finish();
        return;
    }
    g.mmio_write32(q.bar0 + ims, icr_bits::rxt);

    const std::uint32_t bytes = m_w.size - 4;  // the FCS is the NIC's
    const net::mac_address mac = m_mac;
    for (m_seq = 0; m_w.more(m_seq, g.now(), m_out.measured_begin); ++m_seq) {
        const auto request = make_frame(peer_mac(), mac, bytes, m_seq);
        const auto expect = make_frame(mac, peer_mac(), bytes, m_seq);
        begin_packet(g);
        post_tx(bus, q, request);
        tl().mark(g.now(), stage::pcie);
        ring_tx(bus, q);
        g.wait_for_interrupt(guest_rx_vector);
        tl().mark_vcpu(g.now(), stage::guest);
        g.eoi();
        end_packet(g, take_rx(bus, q, expect));
        recycle_rx(bus, q);  // between round trips
    }
    finish();
}

// TX streaming: keep up to nic_queue_ring - 1 frames posted, ring TDT once per batch, sleep until
// the TX completion interrupt, reclaim what the NIC wrote back (DD), post again.
void passthrough_vm::stream_tx(cpu::guest_context& g, queue_bus& bus, nic_queues& q) {
    const std::uint32_t bytes = m_w.size - 4;  // the FCS is the NIC's
    std::uint64_t done = 0;
    m_seq = 0;
    while (done < m_w.count) {
        bool posted = false;
        while (m_seq < m_w.count && m_seq - done < nic_queue_ring - 1) {
            if (m_seq == m_w.warmup) measure_from(g.now());
            stack_tx(g);
            post_tx(bus, q, make_frame(peer_mac(), m_mac, bytes, m_seq));
            ++m_seq;
            ++m_out.sent;
            posted = true;
        }
        if (posted) ring_tx(bus, q);
        g.wait_for_interrupt(guest_tx_vector);
        g.eoi();
        g.mmio_write32(q.bar0 + icr, icr_bits::txdw);  // W1C
        while (done < m_seq && tx_done(bus, q, static_cast<std::uint32_t>(done % nic_queue_ring)))
            ++done;
    }
    measure_to(g.now());
}

// Receiving: sleep until the RX interrupt, take every frame written back (each slot given back at
// once), until every frame sent to this VM has come.
void passthrough_vm::stream_rx(cpu::guest_context& g, queue_bus& bus, nic_queues& q) {
    while (!rx_complete()) {
        g.wait_for_interrupt(guest_rx_vector);
        g.eoi();
        for (;;) {
            bool done = false;
            const auto f = receive_frame(bus, q, done);
            if (!done) break;
            recycle_rx(bus, q);
            rx_take(g, f);
        }
    }
    measure_to(g.now());
}

std::string passthrough_vm::where() const {
    nic::nic& n = *m_p.nic;
    return fmt::format("VF {} tx_frames {} rx_frames {}, interrupts dropped by the IOMMU {}", m_vf,
                       n.stats(m_vf + 1).tx_frames.value(), n.stats(m_vf + 1).rx_frames.value(),
                       m_p.iommu->interrupts_dropped());
}

}  // namespace iovsim::platform

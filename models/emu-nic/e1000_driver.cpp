#include "models/emu-nic/e1000_driver.h"

#include <algorithm>
#include <stdexcept>

#include "models/emu-nic/e1000_regs.h"
#include "models/net/ethernet.h"

namespace iovsim::emunic {

namespace {
// IMS_ENABLE_MASK of Linux's e1000_main.c.
constexpr std::uint32_t ims_enable_mask =
    icr::rxt0 | icr::txdw | icr::rxdmt0 | icr::rxseq | icr::lsc;

std::uint64_t align128(std::uint64_t v) { return (v + 127) & ~std::uint64_t{127}; }

std::uint32_t bsize_bits(std::uint32_t bytes) {
    const std::uint32_t bits = rctl::size_bits(bytes);
    if (bits == 0xffffffffu)
        throw std::invalid_argument(
            "e1000 driver: RX buffers are 256, 512, 1024, 2048, 4096, 8192 or 16384 bytes");
    return bits;
}
}  // namespace

std::uint32_t e1000_rx_buffer_len(unsigned mtu) {
    const std::uint32_t max_frame = net::largest_frame_bytes(mtu);  // ENET_HEADER + ETHERNET_FCS
    if (max_frame <= 2048) return 2048;
    if (max_frame <= 4096) return 4096;
    if (max_frame <= 8192) return 8192;
    return 16384;
}

e1000_driver::e1000_driver(const e1000_driver_params& p) : m_params(p) {
    if (p.tx_descriptors == 0 || p.tx_descriptors % 8 != 0 || p.rx_descriptors == 0 ||
        p.rx_descriptors % 8 != 0 || p.tx_descriptors > 4096 || p.rx_descriptors > 4096)
        throw std::invalid_argument(
            "e1000 driver: rings hold a nonzero multiple of 8 descriptors, at most 4096");
    if (p.tx_buffer_bytes == 0 || p.tx_buffer_bytes > 16288)
        throw std::invalid_argument("e1000 driver: TX buffers are 1 to 16288 bytes");
    bsize_bits(p.rx_buffer_bytes);
    if (p.mtu < 68 || p.mtu > 16110)
        throw std::invalid_argument("e1000 driver: the MTU is 68 to 16110 bytes");
    m_rx_ring = align128(p.dma_base + std::uint64_t{p.tx_descriptors} * descriptor_bytes);
    m_tx_buffers = align128(m_rx_ring + std::uint64_t{p.rx_descriptors} * descriptor_bytes);
    m_rx_buffers = align128(m_tx_buffers + std::uint64_t{p.tx_descriptors} * p.tx_buffer_bytes);
}

std::uint32_t e1000_driver::reg_read(cpu::guest_context& g, std::uint32_t offset) {
    return g.mmio_read32(m_params.bar0 + offset);
}

void e1000_driver::reg_write(cpu::guest_context& g, std::uint32_t offset, std::uint32_t value) {
    g.mmio_write32(m_params.bar0 + offset, value);
}

void e1000_driver::irq_disable(cpu::guest_context& g) {
    reg_write(g, reg::imc, ~0u);
    write_flush(g);
}

void e1000_driver::irq_enable(cpu::guest_context& g) {
    reg_write(g, reg::ims, ims_enable_mask);
    write_flush(g);
}

void e1000_driver::open(cpu::guest_context& g) {
    // e1000_reset_hw
    reg_write(g, reg::imc, ~0u);
    reg_write(g, reg::rctl, 0);
    reg_write(g, reg::tctl, tctl::psp);
    write_flush(g);
    const std::uint32_t ctrl_value = reg_read(g, reg::ctrl);
    reg_write(g, reg::ctrl, ctrl_value | ctrl::rst);
    reg_write(g, reg::imc, ~0u);
    reg_read(g, reg::icr);
    // Link up? (e1000_check_for_link reads STATUS.)
    reg_read(g, reg::status);
    reg_write(g, reg::ctrl, ctrl::slu | ctrl::asde);

    // Rings start clean: no stale DD bits.
    const std::vector<std::uint8_t> zeros(
        std::max(m_params.tx_descriptors, m_params.rx_descriptors) * descriptor_bytes, 0);
    g.write(tx_ring(), zeros.data(), m_params.tx_descriptors * descriptor_bytes);
    g.write(rx_ring(), zeros.data(), m_params.rx_descriptors * descriptor_bytes);
    m_tx_next_to_use = m_tx_next_to_clean = 0;
    m_rx_next_to_use = m_rx_next_to_clean = 0;
    m_rx_partial.clear();

    // e1000_configure_tx
    reg_write(g, reg::tdbal, static_cast<std::uint32_t>(tx_ring()));
    reg_write(g, reg::tdbah, static_cast<std::uint32_t>(tx_ring() >> 32));
    reg_write(g, reg::tdlen, m_params.tx_descriptors * descriptor_bytes);
    reg_write(g, reg::tdh, 0);
    reg_write(g, reg::tdt, 0);
    reg_write(g, reg::tipg, 8 | 8u << 10 | 6u << 20);  // DEFAULT_82543_TIPG_IPGT_COPPER etc.
    reg_write(g, reg::tctl,
              tctl::en | tctl::psp | 0x0fu << tctl::ct_shift | 0x40u << tctl::cold_shift);

    // e1000_setup_rctl + e1000_configure_rx: long packets (LPE) above the standard MTU.
    const std::uint32_t rctl_value = rctl::bam | rctl::secrc |
                                     bsize_bits(m_params.rx_buffer_bytes) |
                                     (m_params.mtu > net::standard_mtu ? rctl::lpe : 0);
    reg_write(g, reg::rctl, rctl_value);  // receiver off while the ring is set up
    reg_write(g, reg::rdtr, 0);
    reg_write(g, reg::rdbal, static_cast<std::uint32_t>(rx_ring()));
    reg_write(g, reg::rdbah, static_cast<std::uint32_t>(rx_ring() >> 32));
    reg_write(g, reg::rdlen, m_params.rx_descriptors * descriptor_bytes);
    reg_write(g, reg::rdh, 0);
    reg_write(g, reg::rdt, 0);
    reg_write(g, reg::rctl, rctl_value | rctl::en);

    alloc_rx_buffers(g);
    irq_enable(g);
}

std::uint32_t e1000_driver::tx_unused() const {
    const std::uint32_t n = m_params.tx_descriptors;
    return (m_tx_next_to_clean + n - m_tx_next_to_use - 1) % n;
}

bool e1000_driver::xmit(cpu::guest_context& g, const std::vector<std::uint8_t>& frame) {
    if (frame.empty() || frame.size() > m_params.tx_buffer_bytes)
        throw std::invalid_argument("e1000 driver: frame empty or larger than a TX buffer");
    if (tx_unused() == 0) {
        ++m_stats.tx_busy;
        return false;  // NETDEV_TX_BUSY
    }
    const std::uint32_t i = m_tx_next_to_use;
    g.write(tx_buffer(i), frame.data(), static_cast<std::uint32_t>(frame.size()));
    tx_desc d;
    d.buffer_addr = tx_buffer(i);
    d.length = static_cast<std::uint16_t>(frame.size());
    d.cmd = txd_cmd::eop | txd_cmd::ifcs | txd_cmd::rs;
    const auto bytes = d.encode();
    g.write(tx_ring() + std::uint64_t{i} * descriptor_bytes, bytes.data(), descriptor_bytes);
    m_tx_next_to_use = (i + 1) % m_params.tx_descriptors;
    reg_write(g, reg::tdt, m_tx_next_to_use);
    ++m_stats.tx_packets;
    return true;
}

void e1000_driver::alloc_rx_buffers(cpu::guest_context& g) {
    const std::uint32_t n = m_params.rx_descriptors;
    const std::uint32_t unused = (m_rx_next_to_clean + n - m_rx_next_to_use - 1) % n;
    if (unused == 0) return;
    for (std::uint32_t k = 0; k < unused; ++k) {
        const std::uint32_t i = m_rx_next_to_use;
        rx_desc d;
        d.buffer_addr = rx_buffer(i);
        const auto bytes = d.encode();
        g.write(rx_ring() + std::uint64_t{i} * descriptor_bytes, bytes.data(), descriptor_bytes);
        m_rx_next_to_use = (i + 1) % n;
    }
    reg_write(g, reg::rdt, m_rx_next_to_use);
}

void e1000_driver::clean_tx_irq(cpu::guest_context& g) {
    while (m_tx_next_to_clean != m_tx_next_to_use) {
        const std::uint64_t at = tx_ring() + std::uint64_t{m_tx_next_to_clean} * descriptor_bytes;
        std::uint8_t raw[descriptor_bytes];
        g.read(at, raw, descriptor_bytes);
        if ((tx_desc::decode(raw).sta & txd_sta::dd) == 0) break;
        ++m_stats.tx_cleaned;
        m_tx_next_to_clean = (m_tx_next_to_clean + 1) % m_params.tx_descriptors;
    }
}

void e1000_driver::clean_rx_irq(cpu::guest_context& g,
                                std::vector<std::vector<std::uint8_t>>& out) {
    for (;;) {
        const std::uint32_t i = m_rx_next_to_clean;
        if (i == m_rx_next_to_use) break;
        const std::uint64_t at = rx_ring() + std::uint64_t{i} * descriptor_bytes;
        std::uint8_t raw[descriptor_bytes];
        g.read(at, raw, descriptor_bytes);
        const rx_desc d = rx_desc::decode(raw);
        if ((d.status & rxd_stat::dd) == 0) break;
        const std::uint32_t len = std::min<std::uint32_t>(d.length, m_params.rx_buffer_bytes);
        const std::size_t old = m_rx_partial.size();
        m_rx_partial.resize(old + len);
        g.read(rx_buffer(i), m_rx_partial.data() + old, len);
        if ((d.status & rxd_stat::eop) != 0) {
            out.push_back(std::move(m_rx_partial));
            m_rx_partial.clear();
            ++m_stats.rx_packets;
        }
        m_rx_next_to_clean = (i + 1) % m_params.rx_descriptors;
    }
    alloc_rx_buffers(g);
}

std::vector<std::vector<std::uint8_t>> e1000_driver::handle_interrupt(cpu::guest_context& g) {
    std::vector<std::vector<std::uint8_t>> frames;
    // e1000_intr
    const std::uint32_t icr_value = reg_read(g, reg::icr);
    if (icr_value == 0) {
        ++m_stats.not_ours;
        g.eoi();
        return frames;  // IRQ_NONE
    }
    ++m_stats.interrupts;
    irq_disable(g);
    g.eoi();
    // e1000_clean (NAPI poll)
    clean_tx_irq(g);
    clean_rx_irq(g, frames);
    irq_enable(g);
    return frames;
}

std::vector<std::vector<std::uint8_t>> e1000_driver::wait_and_handle(cpu::guest_context& g) {
    g.wait_for_interrupt(m_params.vector);
    return handle_interrupt(g);
}

}  // namespace iovsim::emunic

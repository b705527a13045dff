#include "models/emu-nic/e1000_device.h"

#include <algorithm>
#include <stdexcept>

namespace iovsim::emunic {

namespace {
constexpr std::size_t min_frame_no_fcs = 60;        // 64-byte minimum less the FCS
constexpr std::size_t fcs_bytes = 4;                // the tap's frames carry none
constexpr std::uint32_t rah_address_mask = 0xffff;  // RAH bits 15:0: address bytes 4 and 5
}  // namespace

void e1000_stats::register_stats(core::stats_registry& reg, const std::string& prefix) const {
    reg.add_counter(prefix + "reg_reads", "count", "guest register reads (each a trapped exit)",
                    reg_reads);
    reg.add_counter(prefix + "reg_writes", "count", "guest register writes (each a trapped exit)",
                    reg_writes);
    reg.add_counter(prefix + "bad_accesses", "count",
                    "register accesses not aligned, not 4 bytes, or to no register", bad_accesses);
    reg.add_counter(prefix + "tx_frames", "count", "frames written to the tap", tx_frames);
    reg.add_counter(prefix + "tx_bytes", "bytes", "bytes written to the tap", tx_bytes);
    reg.add_counter(prefix + "tx_unsupported", "count",
                    "extended TX descriptors consumed without sending", tx_unsupported);
    reg.add_counter(prefix + "tx_truncated", "count",
                    "TX frames cut at 64 KiB (the bytes beyond dropped)", tx_truncated);
    reg.add_counter(prefix + "rx_frames", "count", "frames written into guest buffers", rx_frames);
    reg.add_counter(prefix + "rx_bytes", "bytes", "bytes written into guest buffers", rx_bytes);
    reg.add_counter(prefix + "rx_missed", "count", "frames dropped for lack of RX descriptors",
                    rx_missed);
    reg.add_counter(prefix + "rx_filtered", "count", "frames not for this station", rx_filtered);
    reg.add_counter(prefix + "rx_dropped", "count", "frames dropped: receiver disabled or stopped",
                    rx_dropped);
    reg.add_counter(prefix + "rx_oversize", "count",
                    "frames dropped as longer than 1522 B (FCS included) without RCTL.LPE, "
                    "16384 B with it (ROC)",
                    rx_oversize);
    reg.add_counter(prefix + "interrupts", "count", "interrupt line raised", interrupts);
    reg.add_counter(prefix + "ring_errors", "count",
                    "queues stopped for a bad ring length or index", ring_errors);
    reg.add_counter(prefix + "dma_errors", "count",
                    "queues stopped for a descriptor or buffer outside guest RAM", dma_errors);
}

bool e1000_device::ring::valid() const { return len != 0 && head < count() && tail < count(); }

e1000_device::e1000_device(const e1000_params& p, const cpu::ept& guest,
                           cpu::descriptor_memory& host_memory)
    : m_params(p), m_guest(guest), m_mem(host_memory) {
    if (!(p.cpu_clock_hz > 0)) throw std::invalid_argument("e1000: cpu clock must be positive");
    reset();
}

void e1000_device::reset() {
    m_ctrl = 0;
    m_status = status::fd | status::lu | status::speed_1000;
    m_icr = m_ims = m_rctl = m_tctl = 0;
    m_mpc = m_gprc = m_gptc = m_roc = 0;
    m_rx = ring{};
    m_tx = ring{};
    m_plain.clear();
    for (std::uint32_t off : {reg::itr, reg::tipg, reg::rdtr, reg::tidv}) m_plain[off] = 0;
    for (std::uint32_t i = 0; i < 16; ++i) {
        m_plain[reg::ral0 + 8 * i] = 0;
        m_plain[reg::rah0 + 8 * i] = 0;
    }
    // RAL holds the first four bytes on the wire, RAH the last two (SDM §13.4.62).
    const std::uint64_t mac = m_params.mac;
    std::uint32_t ral = 0;
    for (int i = 0; i < 4; ++i)
        ral |= static_cast<std::uint32_t>((mac >> (40 - 8 * i)) & 0xff) << (8 * i);
    const std::uint32_t rah =
        static_cast<std::uint32_t>((mac >> 8) & 0xff) | static_cast<std::uint32_t>(mac & 0xff) << 8;
    m_plain[reg::ral0] = ral;
    m_plain[reg::rah0] = rah | rah_av;
    m_tx_packet.clear();
    m_tx_truncated = false;
    m_tx_stopped = m_rx_stopped = false;
}

tick_t e1000_device::at(tick_t now, std::uint64_t cycles) const {
    return now + cycles_to_ticks(static_cast<double>(cycles), m_params.cpu_clock_hz);
}

std::uint64_t e1000_device::copy_cycles(std::uint64_t gpa, std::uint64_t len) const {
    if (len == 0) return 0;
    const std::uint64_t lines = (gpa + len - 1) / 64 - gpa / 64 + 1;
    return lines * m_params.copy_cycles_per_line;
}

bool e1000_device::guest_read(std::uint64_t gpa, void* dst, std::uint64_t len,
                              std::uint64_t& cycles) {
    cycles += m_params.map_cycles;
    std::uint64_t hpa = 0;
    if (!m_guest.ram_hpa(gpa, len, hpa) || !m_mem.read(hpa, dst, len)) return false;
    cycles += copy_cycles(gpa, len);
    return true;
}

bool e1000_device::guest_write(std::uint64_t gpa, const void* src, std::uint64_t len,
                               std::uint64_t& cycles) {
    cycles += m_params.map_cycles;
    std::uint64_t hpa = 0;
    if (!m_guest.ram_hpa(gpa, len, hpa) || !m_mem.write(hpa, src, len)) return false;
    cycles += copy_cycles(gpa, len);
    return true;
}

void e1000_device::update_irq(std::uint32_t before, tick_t when) {
    if (before == 0 && (m_icr & m_ims) != 0) {
        m_stats.interrupts.inc();
        if (m_irq) m_irq(when);
    }
}

void e1000_device::set_cause(std::uint32_t cause, tick_t when) {
    const std::uint32_t before = m_icr & m_ims;
    m_icr |= cause & icr::all;
    update_irq(before, when);
}

bool e1000_device::is_register(std::uint32_t offset) const {
    switch (offset) {
        case reg::ctrl:
        case reg::status:
        case reg::icr:
        case reg::ics:
        case reg::ims:
        case reg::imc:
        case reg::rctl:
        case reg::tctl:
        case reg::rdbal:
        case reg::rdbah:
        case reg::rdlen:
        case reg::rdh:
        case reg::rdt:
        case reg::tdbal:
        case reg::tdbah:
        case reg::tdlen:
        case reg::tdh:
        case reg::tdt:
        case reg::mpc:
        case reg::gprc:
        case reg::gptc:
        case reg::roc:
            return true;
        default:
            return m_plain.count(offset) != 0;
    }
}

std::uint32_t* e1000_device::plain_register(std::uint32_t offset) {
    auto it = m_plain.find(offset);
    return it == m_plain.end() ? nullptr : &it->second;
}

std::uint32_t e1000_device::peek(std::uint32_t offset) const {
    switch (offset) {
        case reg::ctrl:
            return m_ctrl;
        case reg::status:
            return m_status;
        case reg::icr:
            return m_icr;
        case reg::ims:
            return m_ims;
        case reg::rctl:
            return m_rctl;
        case reg::tctl:
            return m_tctl;
        case reg::rdbal:
            return m_rx.bal;
        case reg::rdbah:
            return m_rx.bah;
        case reg::rdlen:
            return m_rx.len;
        case reg::rdh:
            return m_rx.head;
        case reg::rdt:
            return m_rx.tail;
        case reg::tdbal:
            return m_tx.bal;
        case reg::tdbah:
            return m_tx.bah;
        case reg::tdlen:
            return m_tx.len;
        case reg::tdh:
            return m_tx.head;
        case reg::tdt:
            return m_tx.tail;
        case reg::mpc:
            return m_mpc;
        case reg::gprc:
            return m_gprc;
        case reg::gptc:
            return m_gptc;
        case reg::roc:
            return m_roc;
        default: {
            auto it = m_plain.find(offset);
            return it == m_plain.end() ? 0 : it->second;
        }
    }
}

std::uint64_t e1000_device::read(std::uint64_t offset, unsigned size, std::uint64_t& value,
                                 tick_t) {
    const std::uint64_t cycles = m_params.reg_access_cycles;
    value = 0;
    if (size != 4 || offset % 4 != 0 || offset >= e1000_bar_size) {
        m_stats.bad_accesses.inc();
        return cycles;
    }
    m_stats.reg_reads.inc();
    const auto off = static_cast<std::uint32_t>(offset);
    switch (off) {
        case reg::icr:  // read to clear (SDM §13.4.17); the line drops with it
            value = m_icr;
            m_icr = 0;
            return cycles;
        case reg::mpc:
        case reg::gprc:
        case reg::gptc:
        case reg::roc: {  // statistics registers clear on read (SDM §13.4.71)
            value = peek(off);
            std::uint32_t& r = off == reg::mpc    ? m_mpc
                               : off == reg::gprc ? m_gprc
                               : off == reg::roc  ? m_roc
                                                  : m_gptc;
            r = 0;
            return cycles;
        }
        case reg::ics:
        case reg::imc:  // write only
            return cycles;
        default:
            break;
    }
    if (!is_register(off)) {
        m_stats.bad_accesses.inc();
        return cycles;
    }
    value = peek(off);
    return cycles;
}

std::uint64_t e1000_device::write(std::uint64_t offset, unsigned size, std::uint64_t value,
                                  tick_t now) {
    std::uint64_t cycles = m_params.reg_access_cycles;
    if (size != 4 || offset % 4 != 0 || offset >= e1000_bar_size) {
        m_stats.bad_accesses.inc();
        return cycles;
    }
    m_stats.reg_writes.inc();
    const auto off = static_cast<std::uint32_t>(offset);
    const auto v = static_cast<std::uint32_t>(value);
    switch (off) {
        case reg::ctrl:
            if ((v & ctrl::rst) != 0) {
                reset();  // RST self-clears
            } else {
                m_ctrl = v;
            }
            return cycles;
        case reg::status:  // read only
            return cycles;
        case reg::icr: {  // write 1 to clear
            m_icr &= ~v;
            return cycles;
        }
        case reg::ics:
            set_cause(v, at(now, cycles));
            return cycles;
        case reg::ims: {
            const std::uint32_t before = m_icr & m_ims;
            m_ims |= v & icr::all;
            update_irq(before, at(now, cycles));
            return cycles;
        }
        case reg::imc:
            m_ims &= ~v;
            return cycles;
        case reg::rctl:
            m_rctl = v;
            if (m_rx_ready) m_rx_ready(at(now, cycles));
            return cycles;
        case reg::tctl:
            m_tctl = v;
            return cycles + transmit(at(now, cycles));
        case reg::rdbal:
            m_rx.bal = v;
            return cycles;
        case reg::rdbah:
            m_rx.bah = v;
            return cycles;
        case reg::rdlen:
            m_rx.len = v & ring_len_mask;
            return cycles;
        case reg::rdh:
            m_rx.head = v & 0xffffu;
            return cycles;
        case reg::rdt:
            m_rx.tail = v & 0xffffu;
            if (m_rx_ready) m_rx_ready(at(now, cycles));
            return cycles;
        case reg::tdbal:
            m_tx.bal = v;
            return cycles;
        case reg::tdbah:
            m_tx.bah = v;
            return cycles;
        case reg::tdlen:
            m_tx.len = v & ring_len_mask;
            return cycles;
        case reg::tdh:
            m_tx.head = v & 0xffffu;
            return cycles;
        case reg::tdt:
            m_tx.tail = v & 0xffffu;
            return cycles + transmit(at(now, cycles));
        case reg::mpc:
        case reg::gprc:
        case reg::gptc:
        case reg::roc:  // read only
            return cycles;
        default:
            break;
    }
    if (std::uint32_t* r = plain_register(off)) {
        *r = v;
    } else {
        m_stats.bad_accesses.inc();
    }
    return cycles;
}

std::uint64_t e1000_device::transmit(tick_t now) {
    std::uint64_t cycles = 0;
    if ((m_tctl & tctl::en) == 0 || m_tx_stopped || m_tx.head == m_tx.tail) return 0;
    if (!m_tx.valid()) {
        m_tx_stopped = true;
        m_stats.ring_errors.inc();
        return 0;
    }
    std::uint32_t cause = 0;
    while (m_tx.head != m_tx.tail) {
        const std::uint64_t desc_gpa = m_tx.base() + std::uint64_t{m_tx.head} * descriptor_bytes;
        std::uint8_t raw[descriptor_bytes];
        if (!guest_read(desc_gpa, raw, descriptor_bytes, cycles)) {
            m_tx_stopped = true;
            m_stats.dma_errors.inc();
            break;
        }
        const tx_desc d = tx_desc::decode(raw);
        if ((d.cmd & txd_cmd::dext) != 0) {
            m_stats.tx_unsupported.inc();
        } else {
            const std::size_t old = m_tx_packet.size();
            const std::size_t part = std::min<std::size_t>(d.length, max_tx_frame_bytes - old);
            if (part < d.length) m_tx_truncated = true;
            if (part > 0) {
                m_tx_packet.resize(old + part);
                if (!guest_read(d.buffer_addr, m_tx_packet.data() + old, part, cycles)) {
                    m_tx_packet.clear();
                    m_tx_truncated = false;
                    m_tx_stopped = true;
                    m_stats.dma_errors.inc();
                    break;
                }
            }
            if ((d.cmd & txd_cmd::eop) != 0) {
                if ((m_tctl & tctl::psp) != 0 && m_tx_packet.size() < min_frame_no_fcs)
                    m_tx_packet.resize(min_frame_no_fcs, 0);
                cycles += m_params.tap_write_cycles;
                m_stats.tx_frames.inc();
                m_stats.tx_bytes.inc(m_tx_packet.size());
                ++m_gptc;
                if (m_tx_truncated) m_stats.tx_truncated.inc();
                if (m_tap) m_tap(m_tx_packet, at(now, cycles));
                m_tx_packet.clear();
                m_tx_truncated = false;
            }
        }
        if ((d.cmd & txd_cmd::rs) != 0) {  // write back DD in the STA byte (SDM §3.3.3.2)
            const std::uint8_t sta = static_cast<std::uint8_t>(d.sta | txd_sta::dd);
            if (!guest_write(desc_gpa + 12, &sta, 1, cycles)) {
                m_tx_stopped = true;
                m_stats.dma_errors.inc();
                break;
            }
            cause |= icr::txdw;
        }
        m_tx.head = (m_tx.head + 1) % m_tx.count();
    }
    if (m_tx.head == m_tx.tail) cause |= icr::txqe;
    if (cause != 0) set_cause(cause, at(now, cycles));
    return cycles;
}

bool e1000_device::accepts(const std::vector<std::uint8_t>& frame) const {
    if ((m_rctl & rctl::upe) != 0) return true;
    const std::uint8_t* dst = frame.data();
    const bool multicast = (dst[0] & 1u) != 0;
    if (multicast) {
        const bool broadcast = std::all_of(dst, dst + 6, [](std::uint8_t b) { return b == 0xff; });
        if (broadcast && (m_rctl & rctl::bam) != 0) return true;
        return (m_rctl & rctl::mpe) != 0;
    }
    for (std::uint32_t i = 0; i < 16; ++i) {
        const std::uint32_t ral = peek(reg::ral0 + 8 * i);
        const std::uint32_t rah = peek(reg::rah0 + 8 * i);
        if ((rah & rah_av) == 0) continue;
        std::uint8_t a[6];
        for (int b = 0; b < 4; ++b) a[b] = static_cast<std::uint8_t>(ral >> (8 * b));
        a[4] = static_cast<std::uint8_t>(rah & rah_address_mask);
        a[5] = static_cast<std::uint8_t>((rah & rah_address_mask) >> 8);
        if (std::equal(a, a + 6, dst)) return true;
    }
    return false;
}

bool e1000_device::can_receive(std::size_t bytes) const {
    if ((m_rctl & rctl::en) == 0 || m_rx_stopped || !m_rx.valid()) return false;
    const std::uint32_t n = m_rx.count();
    const std::uint32_t bufsize = rctl::buffer_size(m_rctl);
    const std::size_t data = std::max<std::size_t>(bytes, min_frame_no_fcs);
    const std::size_t needed = (data + bufsize - 1) / bufsize;
    return (m_rx.tail + n - m_rx.head) % n >= needed;  // RDH..RDT-1 are the device's
}

std::uint64_t e1000_device::receive(const std::vector<std::uint8_t>& frame, tick_t now) {
    std::uint64_t cycles = 0;  // the tap read is the caller's
    if ((m_rctl & rctl::en) == 0 || m_rx_stopped) {
        m_stats.rx_dropped.inc();
        return cycles;
    }
    if (frame.size() < 6 || !accepts(frame)) {
        m_stats.rx_filtered.inc();
        return cycles;
    }
    // Oversize (SDM §13.7, ROC: frames that pass the address filter and are longer than the
    // maximum, 1522 bytes unless RCTL.LPE): counted and dropped.
    const std::size_t max = (m_rctl & rctl::lpe) ? rctl::max_frame_lpe : rctl::max_frame_no_lpe;
    if (frame.size() + fcs_bytes > max) {
        if (m_roc != 0xffffffffu) ++m_roc;  // statistics registers stick at their maximum
        m_stats.rx_oversize.inc();
        return cycles;
    }
    if (!m_rx.valid()) {
        m_rx_stopped = true;
        m_stats.ring_errors.inc();
        return cycles;
    }
    std::vector<std::uint8_t> data = frame;
    if (data.size() < min_frame_no_fcs) data.resize(min_frame_no_fcs, 0);  // as QEMU pads
    const std::uint32_t bufsize = rctl::buffer_size(m_rctl);
    const std::uint32_t n = m_rx.count();
    const std::uint32_t needed = static_cast<std::uint32_t>((data.size() + bufsize - 1) / bufsize);
    const std::uint32_t available = (m_rx.tail + n - m_rx.head) % n;  // RDH..RDT-1 are the device's
    if (available < needed) {
        ++m_mpc;
        m_stats.rx_missed.inc();
        set_cause(icr::rxo, at(now, cycles));
        return cycles;
    }
    std::size_t done = 0;
    while (done < data.size()) {
        const std::uint64_t desc_gpa = m_rx.base() + std::uint64_t{m_rx.head} * descriptor_bytes;
        std::uint8_t raw[descriptor_bytes];
        if (!guest_read(desc_gpa, raw, descriptor_bytes, cycles)) {
            m_rx_stopped = true;
            m_stats.dma_errors.inc();
            return cycles;
        }
        rx_desc d = rx_desc::decode(raw);
        const std::size_t chunk = std::min<std::size_t>(bufsize, data.size() - done);
        if (!guest_write(d.buffer_addr, data.data() + done, chunk, cycles)) {
            m_rx_stopped = true;
            m_stats.dma_errors.inc();
            return cycles;
        }
        done += chunk;
        d.length = static_cast<std::uint16_t>(chunk);
        d.csum = 0;
        d.errors = 0;
        d.special = 0;
        d.status =
            static_cast<std::uint8_t>(rxd_stat::dd | (done == data.size() ? rxd_stat::eop : 0));
        const auto bytes = d.encode();
        // Write back length, checksum, status, errors and special: bytes 8-15.
        if (!guest_write(desc_gpa + 8, bytes.data() + 8, 8, cycles)) {
            m_rx_stopped = true;
            m_stats.dma_errors.inc();
            return cycles;
        }
        m_rx.head = (m_rx.head + 1) % n;
    }
    ++m_gprc;
    m_stats.rx_frames.inc();
    m_stats.rx_bytes.inc(data.size());
    set_cause(icr::rxt0, at(now, cycles));
    return cycles;
}

}  // namespace iovsim::emunic

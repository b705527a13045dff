#include "models/net/link_partners.h"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

#include "models/core/sc_glue.h"

namespace iovsim::net {

bool fcs_ok(const std::vector<std::uint8_t>& frame) {
    if (frame.size() < fcs_bytes) return false;
    const std::size_t n = frame.size() - fcs_bytes;
    const std::uint32_t crc = crc32_ieee(frame.data(), n);
    for (std::size_t i = 0; i < fcs_bytes; ++i) {
        if (frame[n + i] != static_cast<std::uint8_t>(crc >> (8 * i))) return false;
    }
    return true;
}

void set_fcs(std::vector<std::uint8_t>& frame, bool append) {
    if (append) frame.resize(frame.size() + fcs_bytes);
    const std::size_t n = frame.size() - fcs_bytes;
    const std::uint32_t crc = crc32_ieee(frame.data(), n);
    for (std::size_t i = 0; i < fcs_bytes; ++i)
        frame[n + i] = static_cast<std::uint8_t>(crc >> (8 * i));
}

link_partner::link_partner(sc_core::sc_module_name name, const wire_params& wire)
    : sc_module(name), wire_in("wire_in"), wire_out("wire_out"), m_tx(wire) {
    wire_in.bind(*this);
}

void link_partner::deliver(const std::vector<std::uint8_t>& frame, tick_t arrival) {
    if (!fcs_ok(frame)) {
        ++m_rx_fcs_errors;
        return;
    }
    ++m_rx_frames;
    m_rx_bytes += frame.size();
    m_last_rx_arrival = std::max(m_last_rx_arrival, arrival);
    on_frame(frame, arrival);
}

void link_partner::on_frame(const std::vector<std::uint8_t>&, tick_t) {}

wire_transfer link_partner::transmit(const std::vector<std::uint8_t>& frame, tick_t ready) {
    const wire_transfer t = m_tx.transmit(ready, frame.size());
    ++m_tx_frames;
    wire_out->deliver(frame, t.arrival);
    return t;
}

echo_peer::echo_peer(sc_core::sc_module_name name, const echo_peer_params& p)
    : link_partner(name, p.wire), m_p(p) {}

void echo_peer::on_frame(const std::vector<std::uint8_t>& frame, tick_t arrival) {
    if (frame.size() < mac_header_bytes + fcs_bytes) return;
    std::vector<std::uint8_t> reply(frame);
    std::swap_ranges(reply.begin(), reply.begin() + 6, reply.begin() + 6);
    set_fcs(reply);
    transmit(reply, arrival + m_p.turnaround);
}

namespace {

void check(const generator_params& p) {
    if (p.frame_bytes < min_frame_bytes || p.frame_bytes > 65535) {
        throw std::invalid_argument(
            fmt::format("generator: frame_bytes {} is outside 64..65535", p.frame_bytes));
    }
    if (!(p.rate_fps > 0)) {
        throw std::invalid_argument(
            fmt::format("generator: rate {} fps is not positive", p.rate_fps));
    }
}

// Waits until `at` (never into the past).
void wait_until(tick_t at) {
    const tick_t now = now_ticks();
    if (at > now) sc_core::wait(to_sc_time(at - now));
}

}  // namespace

std::vector<std::uint8_t> generated_frame(const generator_params& p, std::uint64_t seq) {
    return generated_frame(p, seq, p.dst);
}

std::vector<std::uint8_t> generated_frame(const generator_params& p, std::uint64_t seq,
                                          mac_address to) {
    std::vector<std::uint8_t> f(p.frame_bytes - fcs_bytes);
    std::copy(to.bytes().begin(), to.bytes().end(), f.begin());
    std::copy(p.src.bytes().begin(), p.src.bytes().end(), f.begin() + 6);
    f[12] = ethertype::local_experimental >> 8;
    f[13] = ethertype::local_experimental & 0xff;
    for (std::size_t i = mac_header_bytes; i < f.size(); ++i) {
        const std::size_t k = i - mac_header_bytes;
        f[i] = k < 8 ? static_cast<std::uint8_t>(seq >> (8 * k)) : static_cast<std::uint8_t>(k);
    }
    set_fcs(f, true);
    return f;
}

constant_rate_generator::constant_rate_generator(sc_core::sc_module_name name,
                                                 const generator_params& p)
    : link_partner(name, p.wire), m_p(p) {
    check(p);
    SC_THREAD(run);
}

void link_partner::release(tick_t at) {
    if (m_released) return;
    m_released = true;
    m_release_at = at;
    m_release.notify(sc_core::SC_ZERO_TIME);
}

tick_t link_partner::start_time(tick_t start, bool held) {
    if (!held) return start;
    if (!m_released) sc_core::wait(m_release);
    return std::max(start, m_release_at);
}

void constant_rate_generator::run() {
    m_p.start = start_time(m_p.start, m_p.held);
    const std::vector<mac_address> to = m_p.destinations();
    const double interval_ps = 1e12 / (m_p.rate_fps * static_cast<double>(to.size()));
    for (std::uint64_t i = 0; i < m_p.total(); ++i) {
        const tick_t at = m_p.start + static_cast<tick_t>(std::llround(interval_ps * i));
        wait_until(at);
        transmit(generated_frame(m_p, i, to[i % to.size()]), at);
    }
}

poisson_generator::poisson_generator(sc_core::sc_module_name name, const generator_params& p)
    : link_partner(name, p.wire), m_p(p), m_rng(p.seed), m_pick(p.seed + 1) {
    check(p);
    SC_THREAD(run);
}

void poisson_generator::run() {
    m_p.start = start_time(m_p.start, m_p.held);
    // The receivers with frames left, and how many each still gets.
    std::vector<mac_address> to = m_p.destinations();
    std::vector<std::uint64_t> left(to.size(), m_p.count);
    double at = static_cast<double>(m_p.start);
    for (std::uint64_t i = 0; i < m_p.total(); ++i) {
        if (i > 0) {
            // k merged streams of rate_fps each: one of rate k × rate_fps (per picosecond).
            const double k = static_cast<double>(to.size());
            at += std::exponential_distribution<double>(k * m_p.rate_fps / 1e12)(m_rng);
        }
        std::size_t r = 0;
        if (to.size() > 1) r = std::uniform_int_distribution<std::size_t>(0, to.size() - 1)(m_pick);
        const auto t = static_cast<tick_t>(std::llround(at));
        wait_until(t);
        transmit(generated_frame(m_p, i, to[r]), t);
        if (--left[r] == 0) {
            to.erase(to.begin() + static_cast<std::ptrdiff_t>(r));
            left.erase(left.begin() + static_cast<std::ptrdiff_t>(r));
        }
    }
}

pcap_replay::pcap_replay(sc_core::sc_module_name name, const pcap_replay_params& p)
    : link_partner(name, p.wire), m_p(p), m_file(read_pcap(p.path)) {
    SC_THREAD(run);
}

std::uint64_t pcap_replay::frames() const {
    std::uint64_t n = 0;
    for (const pcap_record& r : m_file.records) n += r.bytes.size() >= mac_header_bytes;
    return n;
}

void pcap_replay::run() {
    m_p.start = start_time(m_p.start, m_p.held);
    if (m_file.records.empty()) return;
    const tick_t first = m_file.records.front().time;
    for (const pcap_record& r : m_file.records) {
        if (r.bytes.size() < mac_header_bytes) {
            ++m_skipped;
            continue;
        }
        const tick_t at = std::max(m_p.start + (r.time >= first ? r.time - first : 0), now_ticks());
        wait_until(at);
        std::vector<std::uint8_t> f(r.bytes);
        if (!m_p.dst.empty()) {
            const mac_address& to = m_p.dst[tx_frames() % m_p.dst.size()];
            std::copy(to.bytes().begin(), to.bytes().end(), f.begin());
        }
        if (f.size() < min_frame_bytes - fcs_bytes) f.resize(min_frame_bytes - fcs_bytes);  // pad
        set_fcs(f, true);
        transmit(f, at);
    }
}

}  // namespace iovsim::net

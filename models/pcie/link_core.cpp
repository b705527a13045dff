#include "models/pcie/link_core.h"

#include <algorithm>
#include <numeric>
#include <stdexcept>
#include <string>

#include "models/core/bits.h"

namespace iovsim::pcie {

namespace {

// Transfer rate per lane in MT/s, generation 1..5.
constexpr std::uint64_t mega_transfers_per_s[] = {2500, 5000, 8000, 16000, 32000};

// Line encoding as coded bits per data bits: 8b/10b at Gen1/2, 128b/130b from Gen3.
struct encoding {
    std::uint64_t coded;
    std::uint64_t data;
};
encoding line_encoding(unsigned gen) { return gen <= 2 ? encoding{10, 8} : encoding{130, 128}; }

// Picoseconds per byte as an exact fraction num/den:
// 8 bits × coded/data × 1e6 ps·MT/s / (MT/s × lanes).
struct ps_per_byte {
    std::uint64_t num;
    std::uint64_t den;
};
ps_per_byte byte_time(const link_params& p) {
    const encoding e = line_encoding(p.gen);
    std::uint64_t num = 8 * e.coded * 1'000'000;
    std::uint64_t den = e.data * mega_transfers_per_s[p.gen - 1] * p.lanes;
    const std::uint64_t g = std::gcd(num, den);
    return {num / g, den / g};
}

[[noreturn]] void bad(const std::string& key, const std::string& rule, std::uint64_t got) {
    throw std::invalid_argument(key + " must be " + rule + ", got " + std::to_string(got));
}

}  // namespace

void validate(const link_params& p) {
    if (p.gen < 1 || p.gen > 5) bad("pcie.gen", "1..5", p.gen);
    if (p.lanes == 0 || p.lanes > 16 || !is_power_of_two(p.lanes)) {
        bad("pcie.lanes", "1, 2, 4, 8 or 16", p.lanes);
    }
    if (p.mps < 128 || p.mps > 4096 || !is_power_of_two(p.mps)) {
        bad("pcie.mps", "a power of two in 128..4096", p.mps);
    }
    if (p.mrrs < 128 || p.mrrs > 4096 || !is_power_of_two(p.mrrs)) {
        bad("pcie.mrrs", "a power of two in 128..4096", p.mrrs);
    }
    if (p.rcb != 64 && p.rcb != 128) bad("pcie.rcb", "64 or 128", p.rcb);
    const unsigned tag_limit = p.gen >= 4 ? 1024 : 256;
    if (p.max_tags == 0 || p.max_tags > tag_limit) {
        bad("pcie.max_tags", "1.." + std::to_string(tag_limit) + " at Gen" + std::to_string(p.gen),
            p.max_tags);
    }
}

double link_bytes_per_second(const link_params& p) {
    const ps_per_byte t = byte_time(p);
    return static_cast<double>(t.den) / static_cast<double>(t.num) * 1e12;
}

double link_byte_time_ps(const link_params& p) {
    const ps_per_byte t = byte_time(p);
    return static_cast<double>(t.num) / static_cast<double>(t.den);
}

tick_t link_bytes_to_ticks(const link_params& p, std::uint64_t bytes) {
    const ps_per_byte t = byte_time(p);
    const unsigned __int128 ps = static_cast<unsigned __int128>(bytes) * t.num;
    return static_cast<tick_t>((ps + t.den - 1) / t.den);
}

// --- link_direction ---

link_direction::link_direction(const link_params& p)
    : m_hop_latency(p.hop_latency), m_dllp_ticks(0), m_params(p) {
    validate(p);
    m_dllp_ticks = link_bytes_to_ticks(p, dllp_wire_bytes);
}

void link_direction::send_dllps_ready_by(tick_t t) {
    while (!m_pending_dllps.empty() && m_pending_dllps.front() <= t) {
        m_timeline.reserve(m_pending_dllps.front(), m_dllp_ticks);
        m_pending_dllps.pop_front();
        // A DLLP that ends after `t` pushes what follows; the caller re-evaluates its start.
        t = std::max(t, m_timeline.free_at());
    }
}

tick_t link_direction::transmit(tick_t ready, std::uint32_t wire_bytes,
                                std::uint32_t payload_bytes) {
    if (wire_bytes == 0) throw std::invalid_argument("link_direction::transmit: empty TLP");
    send_dllps_ready_by(std::max(ready, m_timeline.free_at()));
    const tick_t duration = link_bytes_to_ticks(m_params, wire_bytes);
    const tick_t start = m_timeline.reserve(ready, duration);
    ++m_stats.tlps;
    m_stats.payload_bytes += payload_bytes;
    m_stats.wire_bytes += wire_bytes;
    return start + duration + m_hop_latency;
}

void link_direction::schedule_dllp(tick_t ready) {
    // Ready times arrive in order from the other direction's FIFO; keep them sorted regardless.
    m_pending_dllps.insert(std::upper_bound(m_pending_dllps.begin(), m_pending_dllps.end(), ready),
                           ready);
    ++m_stats.dllps;
    m_stats.wire_bytes += dllp_wire_bytes;
    // A direction that carries no TLPs would queue forever: past the bound, send the oldest.
    while (m_pending_dllps.size() > max_pending_dllps) {
        m_timeline.reserve(m_pending_dllps.front(), m_dllp_ticks);
        m_pending_dllps.pop_front();
    }
}

void link_direction::flush() {
    while (!m_pending_dllps.empty()) {
        m_timeline.reserve(m_pending_dllps.front(), m_dllp_ticks);
        m_pending_dllps.pop_front();
    }
}

link_direction_stats link_direction::stats() const {
    link_direction_stats s = m_stats;
    s.busy_ticks = m_timeline.busy_ticks() + m_pending_dllps.size() * m_dllp_ticks;
    return s;
}

// --- link ---

link::link(const link_params& p) : m_params(p), m_dirs{link_direction(p), link_direction(p)} {}

tick_t link::send(direction d, tick_t ready, std::uint32_t wire_bytes,
                  std::uint32_t payload_bytes) {
    const int i = index(d);
    const tick_t arrival = m_dirs[i].transmit(ready, wire_bytes, payload_bytes);
    const std::uint64_t n = ++m_received[i];
    link_direction& reverse = m_dirs[1 - i];
    if (m_params.ack_every != 0 && n % m_params.ack_every == 0) reverse.schedule_dllp(arrival);
    if (m_params.fc_every != 0 && n % m_params.fc_every == 0) reverse.schedule_dllp(arrival);
    return arrival;
}

tick_t link::write(direction d, tick_t ready, std::uint64_t addr, std::uint64_t len) {
    tick_t last = ready;
    for (const chunk& c : split_write(addr, len, m_params.mps)) {
        last = send(d, ready, mwr_wire_bytes(c.addr, c.len), c.len);
    }
    return last;
}

tick_t link::complete(direction d, tick_t ready, std::uint64_t addr, std::uint32_t len) {
    tick_t last = ready;
    for (const chunk& c :
         split_completions(addr, len, m_params.mps, m_params.rcb, m_params.rcb_completions)) {
        last = send(d, ready, cpld_wire_bytes(c.addr, c.len), c.len);
    }
    return last;
}

void link::flush() {
    m_dirs[0].flush();
    m_dirs[1].flush();
}

// --- tag_pool ---

tag_pool::tag_pool(unsigned tags) : m_tags(tags) {
    if (tags == 0) throw std::invalid_argument("tag_pool: at least one tag is needed");
}

tick_t tag_pool::acquire(tick_t at) {
    while (!m_releases.empty() && m_releases.top() <= at) m_releases.pop();
    if (in_use() < m_tags) {
        ++m_acquisitions;
        ++m_unreleased;
        return at;
    }
    if (m_releases.empty()) {
        throw std::logic_error("tag_pool::acquire: all " + std::to_string(m_tags) +
                               " tags taken and none has a release time");
    }
    const tick_t start = m_releases.top();
    m_releases.pop();
    ++m_acquisitions;
    ++m_unreleased;
    ++m_waits;
    m_wait_ticks += start - at;
    return start;
}

void tag_pool::release(tick_t at) {
    if (m_unreleased == 0) throw std::logic_error("tag_pool::release without a matching acquire");
    --m_unreleased;
    m_releases.push(at);
}

}  // namespace iovsim::pcie

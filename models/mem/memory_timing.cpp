#include "models/mem/memory_timing.h"

#include <algorithm>
#include <stdexcept>

namespace iovsim::mem {

memory_timing::memory_timing(const memory_timing_params& params) : m_params(params) {
    const auto& p = m_params;
    if (p.line_size == 0 || (p.line_size & (p.line_size - 1)) != 0) {
        throw std::invalid_argument("memory_timing: line_size must be a power of two");
    }
    if (p.llc_ways == 0) throw std::invalid_argument("memory_timing: llc_ways must be > 0");
    const std::uint64_t set_bytes = std::uint64_t{p.line_size} * p.llc_ways;
    if (p.llc_size == 0 || p.llc_size % set_bytes != 0) {
        throw std::invalid_argument(
            "memory_timing: llc_size must be a non-zero multiple of line_size x llc_ways");
    }
    if (p.ddio_ways > p.llc_ways) {
        throw std::invalid_argument("memory_timing: ddio_ways must not exceed llc_ways");
    }
    if (p.channels == 0) throw std::invalid_argument("memory_timing: channels must be > 0");
    if (!(p.channel_bandwidth > 0)) {
        throw std::invalid_argument("memory_timing: channel_bandwidth must be > 0");
    }
    m_sets = p.llc_size / set_bytes;
    m_line_ticks = bytes_to_ticks(p.line_size, p.channel_bandwidth);
    if (p.dram_latency < m_line_ticks) {
        throw std::invalid_argument("memory_timing: dram_latency shorter than one line transfer");
    }
    m_ways.resize(m_sets * p.llc_ways);
    m_channels.resize(p.channels);
    reset_stats();
}

memory_timing::way* memory_timing::find(std::uint64_t line) {
    return const_cast<way*>(static_cast<const memory_timing*>(this)->find(line));
}

const memory_timing::way* memory_timing::find(std::uint64_t line) const {
    const way* set = &m_ways[(line % m_sets) * m_params.llc_ways];
    for (std::uint32_t i = 0; i < m_params.llc_ways; ++i) {
        if (set[i].valid && set[i].line == line) return &set[i];
    }
    return nullptr;
}

memory_timing::way& memory_timing::victim(std::uint64_t line, std::uint32_t limit) {
    way* set = &m_ways[(line % m_sets) * m_params.llc_ways];
    way* v = &set[0];
    for (std::uint32_t i = 0; i < limit; ++i) {
        if (!set[i].valid) return set[i];
        if (set[i].used < v->used) v = &set[i];
    }
    return *v;
}

memory_timing::way& memory_timing::allocate(std::uint64_t line, std::uint32_t limit, tick_t now) {
    way& v = victim(line, limit);
    if (v.valid && v.dirty) {
        dram_transfer(v.line, now);
        ++m_stats.dram_line_writes;
    }
    v = way{line, 0, true, false};
    touch(v);
    return v;
}

tick_t memory_timing::dram_transfer(std::uint64_t line, tick_t arrival) {
    return m_channels[line % m_params.channels].reserve(arrival, m_line_ticks);
}

access_result memory_timing::access(tick_t arrival, std::uint64_t addr, std::uint64_t len,
                                    bool is_write, requester who) {
    access_result r;
    r.done = arrival;
    if (len == 0) return r;

    if (is_write) {
        ++m_stats.writes;
        m_stats.bytes_written += len;
    } else {
        ++m_stats.reads;
        m_stats.bytes_read += len;
    }

    const std::uint64_t ls = m_params.line_size;
    const std::uint64_t first = addr / ls;
    const std::uint64_t last = (addr + (len - 1)) / ls;  // len >= 1; wraps only past 2^64
    const bool device = who == requester::device;
    for (std::uint64_t line = first; line <= last; ++line) {
        ++r.lines;
        way* w = find(line);
        tick_t done = 0;
        if (device && is_write && m_params.ddio_ways == 0) {
            // DDIO off: the write goes to DRAM; a cached copy is invalidated (its dirty bytes
            // merge into this line write).
            if (w) w->valid = false;
            ++r.llc_misses;
            ++m_stats.dram_line_writes;
            done = dram_transfer(line, arrival) + m_params.dram_latency;
        } else if (w) {
            ++r.llc_hits;
            touch(*w);
            if (is_write) w->dirty = true;
            done = arrival + m_params.llc_hit_latency;
        } else if (device && is_write) {
            // DDIO write allocate: a whole line, no DRAM read, only into the DDIO ways.
            ++r.llc_misses;
            ++m_stats.ddio_allocations;
            allocate(line, m_params.ddio_ways, arrival).dirty = true;
            done = arrival + m_params.llc_hit_latency;
        } else {
            ++r.llc_misses;
            ++m_stats.dram_line_reads;
            done = dram_transfer(line, arrival) + m_params.dram_latency;
            if (!device) allocate(line, m_params.llc_ways, arrival).dirty = is_write;
        }
        r.done = std::max(r.done, done);
    }
    m_stats.llc_hits += r.llc_hits;
    m_stats.llc_misses += r.llc_misses;
    return r;
}

void memory_timing::warm(std::uint64_t addr, std::uint64_t len) {
    if (len == 0) return;
    const std::uint64_t ls = m_params.line_size;
    for (std::uint64_t line = addr / ls; line <= (addr + (len - 1)) / ls; ++line) {
        if (way* w = find(line)) {
            touch(*w);
            continue;
        }
        way& v = victim(line, m_params.llc_ways);
        v = way{line, 0, true, false};
        touch(v);
    }
}

void memory_timing::invalidate_all() { std::fill(m_ways.begin(), m_ways.end(), way{}); }

bool memory_timing::cached(std::uint64_t addr) const {
    return find(addr / m_params.line_size) != nullptr;
}

memory_stats memory_timing::stats() const {
    memory_stats s = m_stats;
    s.channel_busy.resize(m_channels.size());
    for (std::size_t i = 0; i < m_channels.size(); ++i) {
        s.channel_busy[i] = m_channels[i].busy_ticks() - m_busy_base[i];
    }
    return s;
}

void memory_timing::reset_stats() {
    m_stats = memory_stats{};
    // Channel busy time lives in the timelines; their free-at times must survive a stats reset.
    m_busy_base.assign(m_channels.size(), 0);
    for (std::size_t i = 0; i < m_channels.size(); ++i) m_busy_base[i] = m_channels[i].busy_ticks();
}

}  // namespace iovsim::mem

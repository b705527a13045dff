// Host memory timing: a last-level cache (LLC) with DDIO-style device-write allocation in front
// of DRAM channels that are busy-until timelines.
//
// Models:
// - An access (arrival tick, host address, length, read or write, requester CPU or device) is cut
//   into cache lines; each line hits or misses a set-associative LLC with true LRU replacement.
//   All lines of an access are presented at the arrival tick; the access completes when its
//   last line does.
// - LLC hit: the line is done llc_hit_latency after arrival (hits do not contend: LLC and mesh
//   bandwidth are not modelled).
// - LLC miss: the line goes to DRAM channel (line address / line_size) mod channels and holds it
//   for line_size / channel_bandwidth from max(arrival, channel free); the line is done
//   dram_latency after its channel slot starts. dram_latency is the whole miss as the uncore sees
//   it (LLC lookup, memory controller, DRAM core and the line's burst), so an unloaded miss costs
//   exactly dram_latency and queueing on a busy channel adds to it.
// - Allocation. CPU reads and writes allocate into any way (a CPU write miss is a read for
//   ownership: it costs a DRAM read like a read miss) and leave the line dirty on writes.
//   Device (PCIe) writes follow Intel DDIO "write allocate / write update": a write that hits
//   updates the line in place, in whatever way it is; one that misses allocates a line without
//   reading DRAM, but only in the first ddio_ways ways of its set (LRU among those), so DMA
//   cannot flush more than that share of the LLC; a write is done llc_hit_latency after arrival
//   either way. ddio_ways = 0 turns DDIO off: device writes then invalidate any cached copy and
//   go to DRAM, timed (and counted) like a read miss. Device reads that miss are served from
//   DRAM without allocating (DDIO reads do not fill the LLC).
// - Evicting a dirty line writes it back: it holds its DRAM channel for one line time from the
//   eviction, off the critical path of the access that caused it (it delays later misses to that
//   channel only).
//
// Leaves out: the L1/L2 of the cores and core-side coherence (snoops, the CPU's own misses
// except through this interface), DRAM banks, rows, refresh and read/write turnarounds, the
// sliced LLC's address hash (set = line index mod sets), partial-line device writes that would
// need a read-merge (any device write allocates a whole line), and prefetching.
//
// Timing assumptions (defaults, a Haswell/Broadwell-EP class server as in pcie-bench):
// - llc_hit_latency 20 ns: an LLC hit costs ~36-40 core cycles (~13 ns at 3 GHz; 7-cpu.com's
//   Haswell figures) from a core; a request from the PCIe root complex (IIO) crosses the ring to
//   the LLC slice and back, which we take to add ~7 ns. So a warm 64 B DMA read spends ~20 ns of
//   its ~550 ns round trip (DESIGN.md §7) in memory; the rest is PCIe and the root complex.
// - dram_latency 80 ns: idle load-to-use latency of DRAM on those parts is ~70-90 ns from a core
//   (including the LLC miss); a cold 64 B DMA read therefore costs 60 ns more than a warm one.
//   We assume that is the order of pcie-bench's warm/cold difference; recalibrate it against
//   the platform's cold-cache numbers when those exist.
// - 4 channels of DDR4-2400: 2400 MT/s x 8 B = 19.2 GB/s each, 76.8 GB/s in all (Broadwell-EP
//   has four channels per socket); a 64 B line holds a channel for 512 bit / 153.6 Gbit/s
//   = 3.333 ns (3334 ps, rounded up to whole picoseconds).
// - 32 MiB, 16-way LLC with 2 DDIO ways (Intel's default is 2 LLC ways for DDIO, whatever the
//   associativity; Skylake-SP and later expose it as the "IIO LLC WAYS" register).
#pragma once

#include <cstdint>
#include <vector>

#include "models/core/timeline.h"
#include "models/core/units.h"

namespace iovsim::mem {

enum class requester : std::uint8_t { cpu, device };

struct memory_timing_params {
    std::uint32_t line_size = 64;          // bytes per cache line and per DRAM transfer
    std::uint64_t llc_size = 32ULL << 20;  // bytes of LLC capacity (sets = size / (line x ways))
    std::uint32_t llc_ways = 16;           // LLC associativity, LRU replacement
    std::uint32_t ddio_ways = 2;           // ways a device write miss may allocate into; 0 = off
    tick_t llc_hit_latency = 20 * ticks_per_ns;  // ps from request to data for an LLC hit
    tick_t dram_latency = 80 * ticks_per_ns;     // ps from channel slot start to data for a miss
    std::uint32_t channels = 4;                  // DRAM channels, interleaved by line address
    double channel_bandwidth = 153.6e9;          // bits per second per channel (DDR4-2400 x64)
};

// Outcome of one access.
struct access_result {
    tick_t done = 0;               // tick at which the last line is done
    std::uint32_t lines = 0;       // cache lines the access touched
    std::uint32_t llc_hits = 0;    // of those, LLC hits
    std::uint32_t llc_misses = 0;  // of those, LLC misses (served by DRAM)
};

struct memory_stats {
    std::uint64_t reads = 0;             // read accesses
    std::uint64_t writes = 0;            // write accesses
    std::uint64_t bytes_read = 0;        // bytes read
    std::uint64_t bytes_written = 0;     // bytes written
    std::uint64_t llc_hits = 0;          // lines that hit the LLC
    std::uint64_t llc_misses = 0;        // lines that missed the LLC
    std::uint64_t ddio_allocations = 0;  // lines allocated by device writes into the DDIO ways
    std::uint64_t dram_line_reads = 0;   // line transfers DRAM -> LLC / requester
    std::uint64_t dram_line_writes = 0;  // line transfers to DRAM (write-backs, non-DDIO writes)
    std::vector<tick_t> channel_busy;    // ps each channel was held, by channel index
};

class memory_timing {
public:
    // Throws std::invalid_argument if the parameters do not describe a cache and DRAM: line_size
    // not a power of two, llc_size not a non-zero multiple of line_size x llc_ways,
    // ddio_ways > llc_ways, no channels, channel_bandwidth <= 0, dram_latency shorter than one
    // line transfer.
    explicit memory_timing(const memory_timing_params& params = {});

    // Times an access of len bytes at host address addr arriving at `arrival`. len 0 touches
    // nothing and is done at arrival.
    access_result access(tick_t arrival, std::uint64_t addr, std::uint64_t len, bool is_write,
                         requester who);
    access_result read(tick_t arrival, std::uint64_t addr, std::uint64_t len, requester who) {
        return access(arrival, addr, len, false, who);
    }
    access_result write(tick_t arrival, std::uint64_t addr, std::uint64_t len, requester who) {
        return access(arrival, addr, len, true, who);
    }

    // Preloads the lines of [addr, addr + len) into the LLC as the CPU would (any way, clean,
    // most recently used), in zero time, without touching statistics or channels; a dirty line it
    // evicts is dropped without a write-back.
    void warm(std::uint64_t addr, std::uint64_t len);
    // Empties the LLC (dirty lines are dropped, not written back), in zero time.
    void invalidate_all();
    // True if the line holding addr is in the LLC.
    bool cached(std::uint64_t addr) const;

    std::uint32_t channel_of(std::uint64_t addr) const {
        return static_cast<std::uint32_t>(addr / m_params.line_size % m_params.channels);
    }
    std::uint64_t set_of(std::uint64_t addr) const { return addr / m_params.line_size % m_sets; }
    std::uint64_t sets() const { return m_sets; }
    tick_t line_transfer_ticks() const { return m_line_ticks; }

    const memory_timing_params& params() const { return m_params; }
    memory_stats stats() const;
    // Zeroes the statistics; LLC contents and channel timelines are kept.
    void reset_stats();

private:
    struct way {
        std::uint64_t line = 0;  // line index (address / line_size)
        std::uint64_t used = 0;  // LRU stamp, larger = more recent
        bool valid = false;
        bool dirty = false;
    };

    way* find(std::uint64_t line);
    const way* find(std::uint64_t line) const;
    // The way `line` replaces among ways [0, limit) of its set: the first invalid one, else LRU.
    way& victim(std::uint64_t line, std::uint32_t limit);
    // Allocates `line` (clean, MRU) into victim(line, limit), writing back a dirty victim at `now`.
    way& allocate(std::uint64_t line, std::uint32_t limit, tick_t now);
    void touch(way& w) { w.used = ++m_clock; }
    // Holds the line's channel for one line time from `arrival`; returns the slot start.
    tick_t dram_transfer(std::uint64_t line, tick_t arrival);

    memory_timing_params m_params;
    std::uint64_t m_sets = 0;
    tick_t m_line_ticks = 0;
    std::vector<way> m_ways;  // m_sets x llc_ways, set-major
    std::vector<timeline> m_channels;
    std::vector<tick_t> m_busy_base;  // channel busy time at the last reset_stats()
    std::uint64_t m_clock = 0;
    memory_stats m_stats;
};

}  // namespace iovsim::mem

// A DMA test endpoint: the device pcie-bench puts in a slot to measure a host's PCIe and memory
// system, as a PCIe function with a register BAR, MSI-X and a DMA engine.
//
// What it models
// - Config space: type-0 header (1b36:0005, class 00ff00), a 64-bit BAR0 of 16 KiB (page 0:
//   registers, page 1: MSI-X table, page 2: PBA), Power Management, PCI Express (endpoint),
//   MSI-X with one vector, AER. Memory decoding obeys Memory Space Enable; the engine refuses to
//   start without Bus Master Enable (STATUS.error, counted), as the device would issue nothing.
// - Registers (BAR0 page 0, 32-bit, little-endian): see `dma_reg`. The host writes a buffer
//   address and window, a transfer size and count, then CONTROL with the start bit; the engine
//   runs the experiment and signals completion with its MSI-X vector.
// - Experiments, as pcie-bench runs them: transfers of `size` bytes at offsets within the
//   window, sequential (advancing by `size`, wrapping) or random (uniform over size-aligned
//   offsets, seeded). Latency mode keeps one transfer in flight and records each transfer's
//   time: a read is the round trip of its completions; a write is a write followed by a 64 B
//   read of the same address (the read cannot pass the posted write). Bandwidth mode keeps up
//   to `outstanding` transfers in flight, limited by the tags, and records the span.
// - Each transfer is split into TLPs by the function's programmed MPS (writes) and MRRS
//   (reads) from its PCI Express Device Control register, never across 4 KiB; each read TLP
//   takes a tag from a pool of `max_tags`.
// - MSI-X: the table entry's address and data are sent as a posted memory write upstream; a
//   masked vector (per-vector or Function Mask), or Bus Master Enable clear, sets its PBA bit
//   instead and fires once that is undone.
//
// - ATS (params.ats): the function carries the ATS extended capability and an Address
//   Translation Cache (ats_cache). Once software sets ATS Control.Enable, every request TLP is
//   translated through the ATC first: a hit gives the translated address; a miss sends a
//   Translation Request (a memory read of one 8-byte completion entry with AT = translation
//   request, for the 4 KiB page of the address) and fills the ATC from the completion's entry
//   (ats_format.h); then the request goes out with AT = translated. A completion without the
//   needed permission (R or W clear) or an error completion makes the transfer fail
//   (error_completions) and nothing is issued for that TLP. Invalidate Requests from the host
//   (ats_invalidate) drop the range from the ATC and are answered with the Invalidation
//   Completion's send time.
//
// Leaves out: descriptor rings (the NIC issue has them), relaxed ordering, TLP processing hints;
// for ATS: the No Write hint and PASIDs in Translation Requests (always read + write, no PASID),
// several translations per request, the Smallest Translation Unit (the ATC keeps the range the
// completion returns), Page Request Services.
//
// Timing: the engine issues one TLP every `issue_interval` (its clock), adds `rx_latency` from
// a completion's arrival to the engine seeing it, and keeps loosely-timed local time with a
// quantum keeper; the link and root complex add the rest. A Translation Request is a read like
// any other (the root complex and IOMMU charge it); the data TLP leaves `rx_latency` after its
// completion arrived, one engine clock after it would have without the miss. An ATC lookup
// costs `atc_lookup_latency` (default 0: pipelined with the issue clock); an Invalidate Request
// takes `atc_invalidate_latency` from arrival to the Invalidation Completion leaving.
#pragma once

#include <tlm_utils/simple_initiator_socket.h>
#include <tlm_utils/simple_target_socket.h>
#include <tlm_utils/tlm_quantumkeeper.h>

#include <cstdint>
#include <random>
#include <string>
#include <tlm>
#include <vector>

#include "models/core/stats.h"
#include "models/core/units.h"
#include "models/pcie/ats_cache.h"
#include "models/pcie/ats_format.h"
#include "models/pcie/config_space.h"
#include "models/pcie/routing_id.h"
#include "models/pcie/tlp.h"

namespace iovsim::pcie {

// BAR0 register offsets.
namespace dma_reg {
inline constexpr std::uint32_t id = 0x00;           // RO: 0x444d4131 ("DMA1")
inline constexpr std::uint32_t buf_addr_lo = 0x08;  // host buffer base, bits 31:0
inline constexpr std::uint32_t buf_addr_hi = 0x0c;  // host buffer base, bits 63:32
inline constexpr std::uint32_t window = 0x10;       // bytes of the buffer transfers fall in
inline constexpr std::uint32_t size = 0x14;         // bytes per transfer (1..4096)
inline constexpr std::uint32_t count = 0x18;        // transfers to run
inline constexpr std::uint32_t seed = 0x1c;         // random pattern seed
inline constexpr std::uint32_t control = 0x20;      // see control_* bits
inline constexpr std::uint32_t status = 0x24;       // see status_* bits; done and error are RW1C
inline constexpr std::uint32_t errors = 0x28;       // RO: error completions seen in the last run
inline constexpr std::uint32_t outstanding = 0x2c;  // transfers in flight in bandwidth mode

inline constexpr std::uint32_t control_start = 1u << 0;
inline constexpr std::uint32_t control_write = 1u << 1;      // 0: read
inline constexpr std::uint32_t control_random = 1u << 2;     // 0: sequential
inline constexpr std::uint32_t control_bandwidth = 1u << 3;  // 0: latency mode
inline constexpr std::uint32_t status_busy = 1u << 0;
inline constexpr std::uint32_t status_done = 1u << 1;
inline constexpr std::uint32_t status_error = 1u << 2;

inline constexpr std::uint64_t bar0_size = 0x4000;
inline constexpr std::uint32_t msix_table_offset = 0x1000;
inline constexpr std::uint32_t msix_pba_offset = 0x2000;
}  // namespace dma_reg

struct dma_endpoint_params {
    std::uint16_t vendor_id = 0x1b36;
    std::uint16_t device_id = 0x0005;
    tick_t issue_interval = 4 * ticks_per_ns;  // one TLP per 250 MHz engine clock
    tick_t rx_latency = 60 * ticks_per_ns;     // completion arrival to the engine seeing it
    unsigned max_tags = 32;
    std::uint32_t max_payload_supported = 4096;
    unsigned link_gen = 3;
    unsigned link_lanes = 8;
    bool ats = false;  // ATS capability and an ATC (dmabench.ats)
    ats_cache_params atc{};
    tick_t atc_lookup_latency = 0;
    tick_t atc_invalidate_latency = 20 * ticks_per_ns;  // drop entries, send the completion
};

struct dma_endpoint_ats_stats {
    std::uint64_t translation_requests = 0;  // sent on ATC misses
    std::uint64_t translation_failures = 0;  // error completions or R/W not granted
    std::uint64_t translated_requests = 0;   // request TLPs sent with AT = translated
    std::uint64_t invalidate_requests = 0;   // Invalidate Requests received
};

// What the last run measured (instrumentation, read by the bench after the interrupt).
struct dma_run_result {
    std::vector<tick_t> latencies;  // per transfer, latency mode
    std::uint64_t bytes = 0;
    tick_t first_issue = 0;
    tick_t last_done = 0;
    std::uint64_t error_completions = 0;
};

class dma_endpoint : public sc_core::sc_module, public ats::ats_invalidation_target {
public:
    tlm_utils::simple_target_socket<dma_endpoint> link_in;      // config and BAR accesses
    tlm_utils::simple_initiator_socket<dma_endpoint> link_out;  // DMA and MSI-X upstream

    dma_endpoint(sc_core::sc_module_name name, const dma_endpoint_params& p = {});

    const config_space& config() const { return m_cfg; }
    // Its requester ID, captured from the last Type 0 configuration write it received.
    routing_id id() const { return m_id; }
    const dma_run_result& last_run() const { return m_result; }
    std::uint64_t msix_sent() const { return m_msix_sent; }
    std::uint64_t start_refused() const { return m_start_refused; }
    // Kernel work, for simulation-speed reports: request TLPs sent (one b_transport each; MSI-X
    // messages are counted by msix_sent()) and wait() calls (start waits, quantum syncs).
    std::uint64_t requests_sent() const { return m_requests_sent; }
    std::uint64_t waits() const { return m_waits; }

    // ATS: the ATC and its counters; ats_active() once ATS Control.Enable is set.
    bool ats_active() const;
    const ats_cache& atc() const { return m_atc; }
    const dma_endpoint_ats_stats& ats_stats() const { return m_ats; }
    tick_t ats_invalidate(const ats::payload& request, tick_t at) override;
    // Statistics under `prefix` (`prefix`.atc.hits, ...); nothing without params.ats.
    void register_stats(core::stats_registry& reg, const std::string& prefix) const;

private:
    void b_transport(tlm::tlm_generic_payload& t, sc_core::sc_time& delay);
    std::uint32_t reg_read(std::uint32_t off);
    void reg_write(std::uint32_t off, std::uint32_t value);
    void engine();
    // Issues one request TLP at local time `at`; returns when its data (or write) is done.
    tick_t issue(bool write, std::uint64_t addr, std::uint32_t len, tick_t at, bool& ok,
                 address_type type = address_type::untranslated);
    // ATS: the translated address of addr for a TLP ready at `at` (advanced past a Translation
    // Request on a miss); false if the host gave no translation with the permission needed.
    bool translate(std::uint64_t addr, bool write, tick_t& at, std::uint64_t& out);
    tick_t transfer(bool write, std::uint64_t addr, std::uint32_t len, tick_t& at, bool& ok);
    void raise_msix(tick_t at);
    void sync();  // m_qk.sync(), counted
    bool vector_masked() const;
    std::uint32_t programmed_mps() const;
    std::uint32_t programmed_mrrs() const;

    dma_endpoint_params m_p;
    config_space m_cfg;
    routing_id m_id{};
    std::uint16_t m_pcie_cap = 0;
    std::uint16_t m_msix_cap = 0;
    std::uint32_t m_regs[dma_reg::outstanding / 4 + 1] = {};
    unsigned char m_msix_table[16] = {};
    std::uint64_t m_pba = 0;
    sc_core::sc_event m_start;
    tlm_utils::tlm_quantumkeeper m_qk;
    std::vector<unsigned char> m_scratch;
    std::mt19937_64 m_rng;
    class tag_pool* m_tags = nullptr;  // the running experiment's tags
    dma_run_result m_result;
    std::uint64_t m_msix_sent = 0;
    std::uint64_t m_start_refused = 0;
    std::uint64_t m_requests_sent = 0;
    std::uint64_t m_waits = 0;
    ats_cache m_atc;
    dma_endpoint_ats_stats m_ats;
};

}  // namespace iovsim::pcie

// Host firmware / OS PCI enumeration, as a plain-C++ core.
//
// Models what a BIOS or Linux's PCI core does at boot, through nothing but configuration reads
// and writes (ECAM): a depth-first scan of every bus for present functions (Vendor ID not
// 0xFFFF), bus numbers assigned to bridges (primary/secondary/subordinate), BARs sized with the
// all-ones write and placed naturally aligned in the host's MMIO windows (non-prefetchable ones
// in the 32-bit window, 64-bit prefetchable ones in the 64-bit window), bridge memory windows
// programmed to cover what sits behind them (1 MiB granularity), and Memory Space, Bus Master
// and MSI-X enabled. PCI Express: every function below a root port gets the same
// Max_Payload_Size, the smallest the platform, the port and every function there support
// (Linux's "safe" setting), the platform's Max_Read_Request_Size, and Extended Tag Field Enable
// when the platform wants more than 32 tags and the function supports it. A root port whose
// device has ARI gets ARI Forwarding Enable. An SR-IOV physical function (as Linux's
// sriov_init): ARI Capable Hierarchy set when ARI forwarding is on, the bus numbers its
// TotalVFs would use reserved below the bridge, and its VF BARs sized and placed for TotalVFs
// VFs (VFs themselves are enabled later by the PF driver).
//
// Below a PCI Express root port only device 0 is scanned (Linux's only_one_child()), its
// functions by the ARI Next Function Number chain when ARI is on.
//
// Leaves out: I/O space BARs (never assigned), expansion ROMs, hot plug, switches with more than
// one level of bridges (the scan recurses, but the host has one root port per link). Takes no
// simulated time of its own: each configuration access is timed by whoever carries it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "models/pcie/routing_id.h"

namespace iovsim::pcie {

// How the enumerator reaches configuration space (ECAM through the root complex, in the
// platform). Reads of an absent function return all ones, as a CPU sees an unsupported request.
class config_access {
public:
    virtual ~config_access() = default;
    virtual std::uint32_t config_read(routing_id id, std::uint16_t offset, unsigned size) = 0;
    virtual void config_write(routing_id id, std::uint16_t offset, unsigned size,
                              std::uint32_t value) = 0;
};

// A range of host-physical addresses that BARs are placed in; `next` is the allocation cursor.
struct address_window {
    std::uint64_t base = 0;
    std::uint64_t limit = 0;  // inclusive
    std::uint64_t next = 0;
};

struct enumerated_bar {
    int index = 0;
    std::uint64_t address = 0;
    std::uint64_t size = 0;
    bool is_64bit = false;
    bool prefetchable = false;
};

struct enumerated_sriov {
    std::uint16_t total_vfs = 0;
    std::uint16_t first_vf_offset = 0;
    std::uint16_t vf_stride = 0;
    std::vector<enumerated_bar> vf_bars;  // address of VF 0's BAR; size per VF
};

struct enumerated_function {
    routing_id id;
    std::uint16_t vendor_id = 0;
    std::uint16_t device_id = 0;
    std::uint32_t class_code = 0;  // base class, sub-class, programming interface
    bool is_bridge = false;
    std::uint8_t secondary_bus = 0;    // bridges only
    std::uint8_t subordinate_bus = 0;  // bridges only
    std::vector<enumerated_bar> bars;
    std::uint32_t mps = 0;  // Max_Payload_Size programmed (PCI Express functions)
    bool sriov = false;     // an SR-IOV physical function
    enumerated_sriov vfs;   // its VF layout, when `sriov`
};

struct enumeration_params {
    address_window mmio32;     // non-prefetchable memory window below 4 GiB
    address_window mmio64;     // 64-bit prefetchable memory window
    std::uint32_t mps = 256;   // largest Max_Payload_Size to program (lowered to what all support)
    std::uint32_t mrrs = 512;  // Max_Read_Request_Size programmed into every function
    unsigned tags = 32;        // tags the platform wants: above 32 sets Extended Tag Field Enable
    bool enable_bus_master = true;
    bool enable_msix = true;
};

class enumerator {
public:
    enumerator(config_access& cfg, const enumeration_params& p) : m_cfg(cfg), m_p(p) {}

    // Scans from bus 0 and programs everything; returns the functions found, in scan order.
    // Throws std::runtime_error when a window is too small for the BARs behind it.
    std::vector<enumerated_function> run();

    // Offset of standard capability `id` in function `fn`'s list, or 0 if it has none.
    static std::uint16_t find_capability(config_access& cfg, routing_id fn, std::uint8_t id);
    // Offset of extended capability `id` (from 0x100), or 0.
    static std::uint16_t find_ext_capability(config_access& cfg, routing_id fn, std::uint16_t id);

private:
    void scan_bus(std::uint8_t bus, const routing_id* bridge);
    void configure_function(routing_id id, std::uint8_t header_type, const routing_id* bridge);
    void size_and_place_bars(routing_id id, std::uint16_t first_reg, int bar_count,
                             std::uint64_t multiple, std::vector<enumerated_bar>& out);
    bool enable_ari(routing_id fn, const routing_id* bridge);
    void configure_sriov(routing_id id, enumerated_function& f, std::uint16_t cap,
                         const routing_id* bridge);
    std::uint32_t mps_supported(routing_id id);
    void program_pcie(routing_id id, std::uint32_t mps);
    void enable(routing_id id, const enumerated_function& f);

    config_access& m_cfg;
    enumeration_params m_p;
    std::uint8_t m_last_bus = 0;
    std::vector<enumerated_function> m_found;
};

}  // namespace iovsim::pcie

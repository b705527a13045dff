// A VM's guest-physical address space as the vCPU sees it through the EPT (DESIGN.md §1, §5):
// which guest-physical ranges are RAM (mapped to host-physical DRAM), which are a passthrough
// BAR (mapped to the BAR's host-physical range, so the guest's MMIO goes straight to the device),
// which pages of such a BAR are left unmapped so that the guest's accesses exit (the MSI-X table
// page, as VFIO leaves it), and which ranges are emulated (no mapping: every access exits and is
// handled by a device model in the VMM or by an ioeventfd in KVM).
//
// translate() classifies one access: an access must lie wholly inside one region (and, within a
// passthrough BAR, wholly inside or wholly outside a trapped range); anything else is `unmapped`,
// which KVM hands to the VMM as an access to nothing (reads return all ones).
//
// Leaves out: EPT page tables as bytes in memory (the vCPU is not a page walker; translations are
// taken as TLB hits), page sizes, access rights (read/write/execute), dirty and accessed bits,
// MMIO SPTE generation numbers. No timing: the vCPU charges the costs.
//
// Errors: adding an empty range, one that wraps past 2^64, or one overlapping another region is
// std::invalid_argument (a configuration mistake); so is a trapped range that is not page
// aligned or not inside the passthrough region it names.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace iovsim::cpu {

constexpr std::uint64_t ept_page_size = 4096;

enum class gpa_kind : std::uint8_t {
    ram,          // guest RAM: hpa is the host-physical address
    passthrough,  // a passthrough BAR, mapped: hpa is the BAR's host-physical address
    trapped,      // an unmapped page of a passthrough BAR (MSI-X table): exits, region's handler
    emulated,     // an emulated MMIO region: exits
    unmapped,     // nothing there, or an access straddling regions
};
const char* to_string(gpa_kind k);

struct gpa_translation {
    gpa_kind kind = gpa_kind::unmapped;
    std::uint64_t hpa = 0;     // ram, passthrough (and trapped: where the BAR would be)
    int region = -1;           // passthrough, trapped, emulated: the region's index
    std::uint64_t offset = 0;  // passthrough, trapped, emulated: offset from the region's base
};

class ept {
public:
    // Guest RAM [gpa, gpa + size) backed by host DRAM from `hpa`.
    void map_ram(std::uint64_t gpa, std::uint64_t hpa, std::uint64_t size);
    // A passthrough BAR at [gpa, gpa + size) whose host-physical base is `hpa`; returns its region
    // index.
    int add_passthrough(std::string name, std::uint64_t gpa, std::uint64_t hpa, std::uint64_t size);
    // Leaves [offset, offset + size) of passthrough region `region` unmapped: page aligned.
    void trap(int region, std::uint64_t offset, std::uint64_t size);
    // An emulated MMIO region at [gpa, gpa + size); returns its region index.
    int add_emulated(std::string name, std::uint64_t gpa, std::uint64_t size);

    gpa_translation translate(std::uint64_t gpa, std::uint64_t len) const;

    // GPA -> HPA for guest RAM only (for the VMM's and vhost's software translation); false if
    // [gpa, gpa + len) is not wholly inside one RAM range.
    bool ram_hpa(std::uint64_t gpa, std::uint64_t len, std::uint64_t& hpa) const;

    std::size_t regions() const { return m_regions.size(); }
    const std::string& region_name(int region) const { return m_regions.at(region).name; }
    std::uint64_t region_base(int region) const { return m_regions.at(region).gpa; }

private:
    struct ram_range {
        std::uint64_t gpa, hpa, size;
    };
    struct range {
        std::uint64_t offset, size;
    };
    struct region {
        std::string name;
        bool passthrough;
        std::uint64_t gpa, hpa, size;
        std::vector<range> trapped;
    };
    void check_free(std::uint64_t gpa, std::uint64_t size) const;

    std::vector<ram_range> m_ram;
    std::vector<region> m_regions;
};

}  // namespace iovsim::cpu

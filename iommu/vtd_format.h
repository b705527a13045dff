// Intel VT-d (Intel Virtualization Technology for Directed I/O, rev 3.x) in-memory structures
// for legacy-mode DMA remapping and interrupt remapping: field positions, encoders used by the
// table builders and tests, and the fault reason codes of the spec's Appendix A.
//
// Models: root entry (§9.1), context entry (§9.3), second-level paging entries (§9.8), the
// interrupt remapping table entry in remapped and posted format (§9.10, §9.11), the
// posted-interrupt descriptor (§9.12) and the remappable MSI address/data format (§5.1.2.2).
//
// Leaves out: scalable mode (scalable root/context/PASID entries, first-level tables), extended
// access and dirty bits (A/D are ignored), execute permission, the memory-type fields (EMT,
// IPAT, SNP, TM are accepted and ignored), 5-level (57-bit) and 2-level (30-bit) tables.
//
// Timing: none; these are layouts.
#pragma once

#include <cstdint>

namespace iovsim::iommu {

// Fault reasons (VT-d Appendix A, non-recoverable faults). The numbers are the spec's; the same
// table is in Linux's drivers/iommu/intel/dmar.c (dma_remap_fault_reasons / irq_..._reasons).
enum class fault_reason : std::uint8_t {
    none = 0x00,
    root_not_present = 0x01,       // P of the root entry is 0
    context_not_present = 0x02,    // P of the context entry is 0
    context_invalid = 0x03,        // invalid context entry programming (TT, AW)
    address_beyond_agaw = 0x04,    // input address above 2^min(AGAW, MGAW) - 1
    write_not_permitted = 0x05,    // write to a page without W (or a non-present SL entry)
    read_not_permitted = 0x06,     // read from a page without R (or a non-present SL entry)
    sl_entry_access_error = 0x07,  // SLPTPTR / ADDR of an SL entry points outside memory
    root_access_error = 0x08,      // RTADDR points outside memory
    context_access_error = 0x09,   // CTP of the root entry points outside memory
    root_reserved = 0x0a,          // non-zero reserved field in a present root entry
    context_reserved = 0x0b,       // non-zero reserved field in a present context entry
    sl_entry_reserved = 0x0c,      // non-zero reserved field in a present SL paging entry
    // A Translation Request or Translated Request from a device whose context entry does not
    // allow them (TT other than 01b); Linux: "PCE for translation request specifies blocking".
    translation_blocked = 0x0d,
    ir_request_reserved = 0x20,       // reserved fields set in the interrupt request
    ir_index_beyond_table = 0x21,     // interrupt index >= IRTA table size
    irte_not_present = 0x22,          // P of the IRTE is 0
    irte_access_error = 0x23,         // IRTA + index points outside memory
    irte_reserved = 0x24,             // non-zero reserved field in a present IRTE
    ir_compatibility_blocked = 0x25,  // compatibility-format interrupt while CFIS is 0
    ir_source_id_invalid = 0x26,      // SID/SQ/SVT source-id verification failed
    pid_access_error = 0x27,          // PDA of a posted IRTE points outside memory (rev 3.x)
};

const char* to_string(fault_reason r);

// Page sizes a second-level table maps (4 KiB PTE, 2 MiB PDE with PS, 1 GiB PDPE with PS).
constexpr std::uint64_t page_4k = 1ULL << 12;
constexpr std::uint64_t page_2m = 1ULL << 21;
constexpr std::uint64_t page_1g = 1ULL << 30;

// Access permissions of a second-level mapping.
struct perms {
    bool read = false;
    bool write = false;
    friend bool operator==(perms a, perms b) { return a.read == b.read && a.write == b.write; }
};
constexpr perms perm_r{true, false};
constexpr perms perm_w{false, true};
constexpr perms perm_rw{true, true};

// Index of iova in the table at `level` (1 = PT bits 20:12, 2 = PD 29:21, 3 = PDPT 38:30,
// 4 = PML4 47:39).
constexpr unsigned level_shift(unsigned level) { return 12 + 9 * (level - 1); }
constexpr std::uint64_t level_index(std::uint64_t iova, unsigned level) {
    return (iova >> level_shift(level)) & 0x1ff;
}

namespace vtd {

constexpr std::uint64_t bit(unsigned n) { return 1ULL << n; }
// Mask of bits hi..lo inclusive.
constexpr std::uint64_t bits(unsigned hi, unsigned lo) {
    return (hi >= 63 ? ~0ULL : (bit(hi + 1) - 1)) & ~(bit(lo) - 1);
}

// --- Root entry (§9.1), 128 bits at RTADDR + bus * 16 ---
constexpr std::uint64_t root_entry_size = 16;
constexpr std::uint64_t root_p = bit(0);
constexpr std::uint64_t root_ctp = bits(63, 12);         // context-table pointer
constexpr std::uint64_t root_lo_reserved = bits(11, 1);  // hi 64 bits are all reserved

// --- Context entry (§9.3), 128 bits at CTP + devfn * 16 ---
constexpr std::uint64_t context_entry_size = 16;
constexpr std::uint64_t ctx_p = bit(0);
constexpr std::uint64_t ctx_fpd = bit(1);     // fault processing disable
constexpr std::uint64_t ctx_tt = bits(3, 2);  // translation type
constexpr std::uint64_t ctx_lo_reserved = bits(11, 4);
constexpr std::uint64_t ctx_slptptr = bits(63, 12);
constexpr std::uint64_t ctx_hi_aw = bits(2, 0);                   // bits 66:64
constexpr std::uint64_t ctx_hi_did = bits(23, 8);                 // bits 87:72
constexpr std::uint64_t ctx_hi_reserved = bits(63, 24) | bit(7);  // 127:88 and 71 (70:67 ignored)
constexpr unsigned ctx_hi_did_shift = 8;

enum class translation_type : std::uint8_t {
    untranslated = 0b00,  // untranslated requests translated through the second-level tables
    device_tlb = 0b01,    // as 00, and translation requests allowed (ATS)
    pass_through = 0b10,  // untranslated requests pass through (host-owned devices)
    reserved = 0b11,
};

// AW encodings (§9.3): 001 = 39-bit AGAW, 3-level; 010 = 48-bit AGAW, 4-level.
constexpr std::uint8_t aw_39bit = 0b001;
constexpr std::uint8_t aw_48bit = 0b010;

// --- Second-level paging entries (§9.8), 64 bits ---
constexpr std::uint64_t sl_entry_size = 8;
constexpr std::uint64_t sl_r = bit(0);
constexpr std::uint64_t sl_w = bit(1);
constexpr std::uint64_t sl_x = bit(2);
constexpr std::uint64_t sl_emt_ipat = bits(6, 3);  // memory type; reserved in non-leaf entries
constexpr std::uint64_t sl_ps = bit(7);            // page size (PDPE: 1 GiB, PDE: 2 MiB)
constexpr std::uint64_t sl_addr = bits(51, 12);

// --- Posted-interrupt descriptor (§9.12), 64 bytes, 64-byte aligned ---
constexpr std::uint64_t pid_size = 64;
constexpr unsigned pid_on_bit = 256;    // outstanding notification
constexpr unsigned pid_sn_bit = 257;    // suppress notification
constexpr unsigned pid_nv_byte = 34;    // bits 279:272, notification vector
constexpr unsigned pid_ndst_byte = 36;  // bits 319:288, notification destination

// --- Interrupt remapping table entry (§9.10 remapped, §9.11 posted), 128 bits ---
constexpr std::uint64_t irte_size = 16;
constexpr std::uint64_t irte_p = bit(0);
constexpr std::uint64_t irte_fpd = bit(1);
constexpr std::uint64_t irte_dm = bit(2);       // remapped: destination mode (1 = logical)
constexpr std::uint64_t irte_rh = bit(3);       // remapped: redirection hint
constexpr std::uint64_t irte_tm = bit(4);       // remapped: trigger mode (1 = level)
constexpr std::uint64_t irte_dlm = bits(7, 5);  // remapped: delivery mode
constexpr std::uint64_t irte_urg = bit(14);     // posted: urgent
constexpr std::uint64_t irte_im = bit(15);      // IRTE mode: 0 remapped, 1 posted
constexpr std::uint64_t irte_vector = bits(23, 16);
constexpr std::uint64_t irte_dst = bits(63, 32);     // remapped: destination ID
constexpr std::uint64_t irte_pda_lo = bits(63, 38);  // posted: PDA bits 31:6
constexpr std::uint64_t irte_remapped_lo_reserved = bits(31, 24) | bits(14, 12);
constexpr std::uint64_t irte_posted_lo_reserved = bits(37, 24) | bits(13, 12) | bits(7, 2);
constexpr std::uint64_t irte_hi_sid = bits(15, 0);
constexpr std::uint64_t irte_hi_sq = bits(17, 16);
constexpr std::uint64_t irte_hi_svt = bits(19, 18);
constexpr std::uint64_t irte_hi_pda_hi = bits(63, 32);  // posted: PDA bits 63:32
constexpr std::uint64_t irte_remapped_hi_reserved = bits(63, 20);
constexpr std::uint64_t irte_posted_hi_reserved = bits(31, 20);

// --- Remappable-format MSI address (§5.1.2.2) ---
constexpr std::uint64_t msi_if = bit(4);              // interrupt format: 1 = remappable
constexpr std::uint64_t msi_shv = bit(3);             // subhandle valid
constexpr std::uint64_t msi_handle15 = bit(2);        // handle bit 15
constexpr std::uint64_t msi_handle_lo = bits(19, 5);  // handle bits 14:0

// Encoders (the fields are masked to their width; the caller chooses reserved bits by writing
// raw words instead).
constexpr std::uint64_t make_root_lo(std::uint64_t ctp, bool present = true) {
    return (ctp & root_ctp) | (present ? root_p : 0);
}
struct context_words {
    std::uint64_t lo = 0;
    std::uint64_t hi = 0;
};
constexpr context_words make_context(std::uint64_t slptptr, std::uint16_t did, std::uint8_t aw,
                                     translation_type tt = translation_type::untranslated,
                                     bool fpd = false, bool present = true) {
    return {(slptptr & ctx_slptptr) | (static_cast<std::uint64_t>(tt) << 2) | (fpd ? ctx_fpd : 0) |
                (present ? ctx_p : 0),
            (static_cast<std::uint64_t>(did) << ctx_hi_did_shift) | (aw & ctx_hi_aw)};
}
constexpr std::uint64_t make_sl_entry(std::uint64_t addr, perms p, bool ps = false) {
    return (addr & sl_addr) | (p.read ? sl_r : 0) | (p.write ? sl_w : 0) | (ps ? sl_ps : 0);
}

}  // namespace vtd
}  // namespace iovsim::iommu

#include "iommu/interrupt_remapper.h"

#include <gtest/gtest.h>

#include "models/mem/memory_timing.h"
#include "models/mem/sparse_store.h"

namespace iovsim::iommu {
namespace {

constexpr tick_t ns = ticks_per_ns;
constexpr std::uint64_t irta = 0x20'0000;
constexpr std::uint64_t pda = 0x30'0040;  // 64 B aligned
constexpr std::uint16_t vf = 0x0381;      // 03:10.1

struct ir_host {
    explicit ir_host(const interrupt_remapper_params& p = {})
        : store(1ULL << 30), memory(store, timing), remapper(memory, faults, p) {
        remapper.set_table(irta, 7);  // 2^(7+1) = 256 entries
    }
    void set_irte(std::uint32_t index, irte_words w) {
        store.write_u64(irta + index * 16, w.lo);
        store.write_u64(irta + index * 16 + 8, w.hi);
    }
    // A descriptor with NV 0xf2 (bits 279:272 = byte 34) and NDST 0x0000_0300 (bytes 36-39).
    void set_pid(bool on, bool sn) {
        std::uint8_t pid[64] = {};
        pid[32] = static_cast<std::uint8_t>((on ? 1 : 0) | (sn ? 2 : 0));  // bits 256, 257
        pid[34] = 0xf2;
        pid[37] = 0x03;
        store.write(pda, pid, 64);
    }
    std::uint8_t pid_byte(unsigned i) {
        std::uint8_t b = 0;
        store.read(pda + i, &b, 1);
        return b;
    }
    mem::sparse_store store;
    mem::memory_timing timing;
    sparse_table_memory memory;
    fault_log faults;
    interrupt_remapper remapper;
};

TEST(interrupt_remapping, msi_address_encoding) {
    // Handle 5: bits 19:5 = 5 -> 0xa0, bit 4 (IF) -> 0x10: 0xfee0_00b0.
    EXPECT_EQ(make_remappable_msi_address(5), 0xfee0'00b0u);
    // Handle 0x8001: bits 19:5 = 1 -> 0x20, bit 2 for handle[15] -> 0x4, IF 0x10, SHV 0x8.
    EXPECT_EQ(make_remappable_msi_address(0x8001, true), 0xfee0'003cu);
}

TEST(interrupt_remapping, remapped_format) {
    ir_host h;
    h.set_irte(5, make_remapped_irte(0x12, 0x45, {}, /*logical=*/true, /*level=*/true,
                                     /*delivery_mode=*/1, /*rh=*/true));
    const interrupt_result r = h.remapper.remap(vf, make_remappable_msi_address(5), 0, 0);
    ASSERT_TRUE(r.ok()) << to_string(r.fault);
    EXPECT_EQ(r.kind, interrupt_kind::remapped);
    EXPECT_EQ(r.index, 5u);
    EXPECT_EQ(r.destination, 0x12u);
    EXPECT_EQ(r.vector, 0x45);
    EXPECT_TRUE(r.logical);
    EXPECT_TRUE(r.level);
    EXPECT_TRUE(r.redirection_hint);
    EXPECT_EQ(r.delivery_mode, 1);
    // 2 ns decode + IRTE read from DRAM 80 ns.
    EXPECT_EQ(r.done, 82 * ns);
    EXPECT_EQ(r.memory_reads, 1u);
}

TEST(interrupt_remapping, subhandle_and_xapic_destination) {
    interrupt_remapper_params p;
    p.x2apic_mode = false;
    ir_host h(p);
    // xAPIC: destination in IRTE bits 47:40, i.e. destination-ID field bits 15:8.
    h.set_irte(7, make_remapped_irte(0x0900, 0x30));
    // Handle 4 + subhandle 3 (data bits 15:0) = index 7.
    const interrupt_result r = h.remapper.remap(vf, make_remappable_msi_address(4, true), 3, 0);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r.index, 7u);
    EXPECT_EQ(r.destination, 0x09u);
    // In xAPIC mode bits 39:32 are reserved: destination 0x0901 is a reserved-field fault.
    h.set_irte(8, make_remapped_irte(0x0901, 0x30));
    EXPECT_EQ(h.remapper.remap(vf, make_remappable_msi_address(8), 0, 0).fault,
              fault_reason::irte_reserved);
}

TEST(interrupt_remapping, posted_format_sets_pir_and_on_and_notifies) {
    ir_host h;
    h.set_irte(9, make_posted_irte(pda, 0x61, /*urgent=*/false));
    h.set_pid(false, false);
    const interrupt_result r = h.remapper.remap(vf, make_remappable_msi_address(9), 0, 0);
    ASSERT_TRUE(r.ok()) << to_string(r.fault);
    EXPECT_EQ(r.kind, interrupt_kind::posted);
    EXPECT_EQ(r.pda, pda);
    EXPECT_EQ(r.vector, 0x61);
    EXPECT_TRUE(r.notify);
    EXPECT_EQ(r.notification_vector, 0xf2);
    EXPECT_EQ(r.notification_destination, 0x300u);
    // PIR bit 0x61 = 97: byte 12, bit 1. ON: byte 32 bit 0.
    EXPECT_EQ(h.pid_byte(12), 0x02);
    EXPECT_EQ(h.pid_byte(32), 0x01);
    // 2 ns + IRTE 80 ns + PID read 80 ns (device reads do not allocate) + PID write 20 ns
    // (a DDIO write allocate) = 182 ns.
    EXPECT_EQ(r.done, 182 * ns);

    // A second vector while ON is set: PIR bit set, no notification.
    h.set_irte(10, make_posted_irte(pda, 0x62));
    const interrupt_result r2 = h.remapper.remap(vf, make_remappable_msi_address(10), 0, 0);
    ASSERT_TRUE(r2.ok());
    EXPECT_FALSE(r2.notify);
    EXPECT_EQ(h.pid_byte(12), 0x06);
    EXPECT_EQ(h.remapper.stats().posted, 2u);
    EXPECT_EQ(h.remapper.stats().notifications, 1u);
}

TEST(interrupt_remapping, suppressed_notification_and_urgent) {
    ir_host h;
    h.set_pid(false, /*sn=*/true);
    h.set_irte(1, make_posted_irte(pda, 0x20));
    const interrupt_result r = h.remapper.remap(vf, make_remappable_msi_address(1), 0, 0);
    ASSERT_TRUE(r.ok());
    EXPECT_FALSE(r.notify);
    EXPECT_EQ(h.pid_byte(4), 0x01);   // vector 0x20 = 32: byte 4 bit 0
    EXPECT_EQ(h.pid_byte(32), 0x02);  // ON still clear, SN set
    // Urgent overrides SN.
    h.set_irte(2, make_posted_irte(pda, 0x21, /*urgent=*/true));
    const interrupt_result u = h.remapper.remap(vf, make_remappable_msi_address(2), 0, 0);
    EXPECT_TRUE(u.notify);
    EXPECT_TRUE(u.urgent);
    EXPECT_EQ(h.pid_byte(32), 0x03);
}

TEST(interrupt_remapping, posted_descriptor_high_address) {
    ir_host h;
    // PDA 0x1_2345_6780: high half 0x1 in IRTE bits 127:96, bits 31:6 in 63:38.
    const irte_words w = make_posted_irte(0x1'2345'6780, 0x40);
    EXPECT_EQ(w.hi >> 32, 0x1u);
    EXPECT_EQ(w.lo >> 38, 0x2345'6780u >> 6);
    h.set_irte(3, w);
    // Past the 1 GiB store: the descriptor access faults (0x27).
    const interrupt_result r = h.remapper.remap(vf, make_remappable_msi_address(3), 0, 0);
    EXPECT_EQ(r.fault, fault_reason::pid_access_error);
    EXPECT_EQ(r.pda, 0x1'2345'6780u);
}

TEST(interrupt_remapping, faults) {
    ir_host h;
    // Compatibility format (bit 4 clear) blocked: 0x25.
    EXPECT_EQ(h.remapper.remap(vf, 0xfee0'1000, 0x30, 0).fault,
              fault_reason::ir_compatibility_blocked);
    // Index 256 in a 256-entry table: 0x21.
    EXPECT_EQ(h.remapper.remap(vf, make_remappable_msi_address(256), 0, 0).fault,
              fault_reason::ir_index_beyond_table);
    // Entry 20 is zero: not present, 0x22.
    EXPECT_EQ(h.remapper.remap(vf, make_remappable_msi_address(20), 0, 0).fault,
              fault_reason::irte_not_present);
    // Reserved bits 31:24: 0x24; SVT = 11: 0x24.
    irte_words w = make_remapped_irte(1, 0x30);
    h.set_irte(21, {w.lo | (1ULL << 24), w.hi});
    EXPECT_EQ(h.remapper.remap(vf, make_remappable_msi_address(21), 0, 0).fault,
              fault_reason::irte_reserved);
    h.set_irte(22, make_remapped_irte(1, 0x30, {vf, 0, 3}));
    EXPECT_EQ(h.remapper.remap(vf, make_remappable_msi_address(22), 0, 0).fault,
              fault_reason::irte_reserved);
    // SVT 01 SID 03:10.0 (0x0380), SQ 00: requester 0x0381 fails (0x26); SQ 01 ignores
    // function bit 2 only, still fails (bit 0 differs); SQ 11 ignores bits 2:0 and passes.
    h.set_irte(23, make_remapped_irte(1, 0x30, {0x0380, 0, 1}));
    EXPECT_EQ(h.remapper.remap(vf, make_remappable_msi_address(23), 0, 0).fault,
              fault_reason::ir_source_id_invalid);
    h.set_irte(24, make_remapped_irte(1, 0x30, {0x0380, 1, 1}));
    EXPECT_EQ(h.remapper.remap(vf, make_remappable_msi_address(24), 0, 0).fault,
              fault_reason::ir_source_id_invalid);
    h.set_irte(25, make_remapped_irte(1, 0x30, {0x0380, 3, 1}));
    EXPECT_TRUE(h.remapper.remap(vf, make_remappable_msi_address(25), 0, 0).ok());
    // SVT 10: bus range 02..03 passes for bus 3, range 04..05 fails.
    h.set_irte(26, make_remapped_irte(1, 0x30, {0x0203, 0, 2}));
    EXPECT_TRUE(h.remapper.remap(vf, make_remappable_msi_address(26), 0, 0).ok());
    h.set_irte(27, make_remapped_irte(1, 0x30, {0x0405, 0, 2}));
    EXPECT_EQ(h.remapper.remap(vf, make_remappable_msi_address(27), 0, 0).fault,
              fault_reason::ir_source_id_invalid);
    // FPD suppresses recording.
    h.set_irte(28, make_remapped_irte(1, 0x30, {0x0405, 0, 2}, false, false, 0, false, true));
    const interrupt_result s = h.remapper.remap(vf, make_remappable_msi_address(28), 0, 0);
    EXPECT_EQ(s.fault, fault_reason::ir_source_id_invalid);
    EXPECT_FALSE(s.fault_recorded);
    EXPECT_EQ(h.remapper.stats().faults_suppressed, 1u);
    // Recorded faults carry the index in the address field.
    ASSERT_EQ(h.faults.pending(), 8u);
    h.faults.pop();
    EXPECT_EQ(h.faults.front().reason, fault_reason::ir_index_beyond_table);
    EXPECT_EQ(h.faults.front().address, 256u);
    EXPECT_EQ(h.faults.front().source_id, vf);

    // IRTA outside memory: 0x23.
    h.remapper.set_table(2ULL << 30, 0);
    EXPECT_EQ(h.remapper.remap(vf, make_remappable_msi_address(0), 0, 0).fault,
              fault_reason::irte_access_error);
    EXPECT_THROW(h.remapper.set_table(0x1001, 0), std::invalid_argument);
    EXPECT_THROW(h.remapper.set_table(0x1000, 16), std::invalid_argument);
}

TEST(interrupt_remapping, compatibility_format_passes_when_allowed) {
    interrupt_remapper_params p;
    p.compatibility_format = true;
    ir_host h(p);
    const interrupt_result r = h.remapper.remap(vf, 0xfee0'1000, 0x30, 0);
    EXPECT_TRUE(r.ok());
    EXPECT_EQ(r.kind, interrupt_kind::compatibility);
    EXPECT_EQ(h.remapper.stats().compatibility, 1u);
}

}  // namespace
}  // namespace iovsim::iommu

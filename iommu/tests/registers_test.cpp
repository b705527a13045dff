// The VT-d register file: the register bank's masks and partial accesses, the GCMD/GSTS
// handshake, fault recording (RW1C F and PFO, the fault event and its mask), register-based and
// queued invalidation, and the queue's error status for malformed descriptors.
#include "iommu/registers.h"

#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "iommu/table_builder.h"
#include "iommu/tests/fixed_memory.h"

namespace iovsim::iommu {
namespace {

constexpr tick_t ns = ticks_per_ns;
constexpr std::uint64_t pool = 1ull << 30;

using testing::fixed_memory;  // every access 10 ns

struct msi {
    std::uint64_t address;
    std::uint32_t data;
    tick_t at;
};

struct hw {
    explicit hw(vtd_register_params p = {})
        : store(4ull << 30),
          memory(store),
          faults(p.fault_records),
          dma(memory, faults),
          ir(memory, faults),
          tables(store, pool, 16ull << 20),
          regs(dma, ir, faults, memory, p) {
        regs.set_interrupt_sender([this](std::uint64_t a, std::uint32_t d, tick_t at) {
            sent.push_back({a, d, at});
        });
    }
    std::uint64_t rd(std::uint32_t off, tick_t at = 0, unsigned len = 4) {
        std::uint64_t v = 0;
        EXPECT_TRUE(regs.read(off, len, v, at));
        return v;
    }
    void wr(std::uint32_t off, std::uint64_t v, tick_t at = 0, unsigned len = 4) {
        EXPECT_TRUE(regs.write(off, len, v, at));
    }
    void put(std::uint64_t addr, qi::descriptor d) {
        store.write_u64(addr, d.lo);
        store.write_u64(addr + 8, d.hi);
    }
    // Translation on, root table set, queued invalidation on with its ring at `ring`.
    void enable_queue(std::uint64_t ring) {
        wr(reg::IQA_REG, ring, 0, 8);
        wr(reg::GCMD_REG, reg::gcmd_qie);
    }

    mem::sparse_store store;
    fixed_memory memory;
    fault_log faults;
    dma_remapper dma;
    interrupt_remapper ir;
    table_builder tables;
    vtd_registers regs;
    std::vector<msi> sent;
};

TEST(RegisterBank, MasksAndHalves) {
    register_bank b;
    std::uint64_t seen_old = 0, seen_new = 0;
    b.add({0x0, 8, "R64", 0xff00, 0xffff'0000'0000'00ffull, 0xff00,
           [&](auto o, auto n, tick_t) {
               seen_old = o;
               seen_new = n;
           },
           nullptr});
    b.add({0x8, 4, "R32", 7, 0, 0, nullptr, [](std::uint64_t v, tick_t) { return v + 1; }});
    EXPECT_THROW(b.add({0x4, 4, "overlap", 0, 0, 0, nullptr, nullptr}), std::invalid_argument);
    EXPECT_THROW(b.add({0x12, 4, "misaligned", 0, 0, 0, nullptr, nullptr}), std::invalid_argument);
    std::uint64_t v = 0;
    // Write all ones: RW bits 7:0 and 63:48 set, RW1C bits 15:8 cleared, others keep 0.
    ASSERT_EQ(b.write(0x0, 8, ~0ull, 0), register_bank::status::ok);
    EXPECT_EQ(seen_old, 0xff00u);
    EXPECT_EQ(seen_new, 0xffff'0000'0000'00ffull);
    // Upper half alone: 0x1234 into bits 63:48 (the half's bits 31:16), low half untouched.
    ASSERT_EQ(b.write(0x4, 4, 0x1234'0000, 0), register_bank::status::ok);
    ASSERT_EQ(b.read(0x0, 8, v, 0), register_bank::status::ok);
    EXPECT_EQ(v, 0x1234'0000'0000'00ffull);
    ASSERT_EQ(b.read(0x4, 4, v, 0), register_bank::status::ok);
    EXPECT_EQ(v, 0x1234'0000u);
    // A read callback computes the value: stored 7 reads 8. Read-only: writes are ignored.
    ASSERT_EQ(b.write(0x8, 4, 0, 0), register_bank::status::ok);
    ASSERT_EQ(b.read(0x8, 4, v, 0), register_bank::status::ok);
    EXPECT_EQ(v, 8u);
    EXPECT_EQ(b.read(0x8, 8, v, 0), register_bank::status::bad_access);  // wider than it
    EXPECT_EQ(b.read(0x2, 4, v, 0), register_bank::status::bad_access);  // unaligned
    EXPECT_EQ(b.read(0x1, 1, v, 0), register_bank::status::bad_access);  // byte access
    EXPECT_EQ(b.read(0x10, 4, v, 0), register_bank::status::unmapped);
}

TEST(VtdRegisters, CapabilitiesAtSpecPositions) {
    hw h;
    EXPECT_EQ(h.rd(reg::VER_REG), 0x10u);
    const std::uint64_t cap = h.rd(reg::CAP_REG, 0, 8);
    EXPECT_EQ(cap & 7, 2u);                       // ND = 2: 256 domains
    EXPECT_EQ(cap >> 8 & 0x1f, 0x6u);             // SAGAW: 39- and 48-bit
    EXPECT_EQ(cap >> 16 & 0x3f, 47u);             // MGAW = 48 - 1
    EXPECT_EQ((cap >> 24 & 0x3ff) * 16, 0x220u);  // FRO x 16 = the first FRCD
    EXPECT_EQ(cap >> 34 & 0xf, 3u);               // SLLPS: 2 MiB and 1 GiB
    EXPECT_EQ(cap >> 40 & 0xff, 7u);              // NFR = 8 records - 1
    EXPECT_EQ(cap >> 48 & 0x3f, 9u);              // MAMV
    const std::uint64_t ecap = h.rd(reg::ECAP_REG, 0, 8);
    EXPECT_EQ(ecap & 0xb, 0xbu);                  // C, QI, IR
    EXPECT_EQ((ecap >> 8 & 0x3ff) * 16, 0x200u);  // IRO x 16 = IVA_REG
    h.wr(reg::CAP_REG, 0, 0, 8);                  // read-only
    EXPECT_EQ(h.rd(reg::CAP_REG, 0, 8), cap);
    EXPECT_EQ(h.rd(0x100), 0u);  // reserved offsets read 0
    std::uint64_t v = 0;
    EXPECT_FALSE(h.regs.read(reg::RTADDR_REG + 2, 4, v, 0));  // misaligned: all ones, counted
    EXPECT_EQ(v, 0xffffffffu);
    EXPECT_FALSE(h.regs.write(reg::GCMD_REG, 2, 0xffff, 0));
    EXPECT_EQ(h.regs.stats().bad_accesses, 2u);
}

TEST(VtdRegisters, GcmdGstsHandshake) {
    hw h;  // command_latency 100 ns
    h.wr(reg::RTADDR_REG, h.tables.rtaddr(), 0, 8);
    h.wr(reg::GCMD_REG, reg::gcmd_srtp, 0);
    EXPECT_EQ(h.rd(reg::GCMD_REG, 10 * ns), 0u);               // GCMD reads 0
    EXPECT_EQ(h.rd(reg::GSTS_REG, 99 * ns), 0u);               // not yet
    EXPECT_EQ(h.rd(reg::GSTS_REG, 100 * ns), reg::gcmd_srtp);  // RTPS at 0 + 100 ns
    EXPECT_EQ(h.dma.root_table(), h.tables.rtaddr());
    EXPECT_FALSE(h.regs.translation_enabled(1000 * ns));
    // TE: software writes GSTS's persistent bits with TE; the one-shot RTPS is not a command.
    h.wr(reg::GCMD_REG, reg::gcmd_te, 1000 * ns);
    EXPECT_FALSE(h.regs.translation_enabled(1099 * ns));
    EXPECT_TRUE(h.regs.translation_enabled(1100 * ns));
    EXPECT_EQ(h.rd(reg::GSTS_REG, 1100 * ns), reg::gcmd_te | reg::gcmd_srtp);
    // Clearing TE turns translation off again, 100 ns later.
    h.wr(reg::GCMD_REG, 0, 2000 * ns);
    EXPECT_TRUE(h.regs.translation_enabled(2050 * ns));
    EXPECT_FALSE(h.regs.translation_enabled(2100 * ns));
}

// A second SRTP (or SIRTP) clears RTPS (IRTPS) at once and sets it again only after the
// command latency (VT-d §10.4.5), so software polling GSTS waits for the new pointer.
TEST(VtdRegisters, SecondSrtpClearsRtpsUntilItCompletes) {
    hw h;  // command_latency 100 ns
    h.wr(reg::RTADDR_REG, h.tables.rtaddr(), 0, 8);
    h.wr(reg::GCMD_REG, reg::gcmd_srtp, 0);
    EXPECT_EQ(h.rd(reg::GSTS_REG, 100 * ns), reg::gcmd_srtp);
    // The second command at 1000 ns: RTPS reads 0 from then until 1000 + 100 = 1100 ns.
    h.wr(reg::GCMD_REG, reg::gcmd_srtp, 1000 * ns);
    EXPECT_EQ(h.rd(reg::GSTS_REG, 1000 * ns), 0u);
    EXPECT_EQ(h.rd(reg::GSTS_REG, 1099 * ns), 0u);
    EXPECT_EQ(h.rd(reg::GSTS_REG, 1100 * ns), reg::gcmd_srtp);
    // TE alone leaves the one-shot RTPS set.
    h.wr(reg::GCMD_REG, reg::gcmd_te, 2000 * ns);
    EXPECT_EQ(h.rd(reg::GSTS_REG, 2000 * ns), reg::gcmd_srtp);
    EXPECT_EQ(h.rd(reg::GSTS_REG, 2100 * ns), reg::gcmd_te | reg::gcmd_srtp);
    // SIRTP the same way, leaving TE and RTPS as they are: IRTPS clear over [3000, 3100) ns.
    h.wr(reg::GCMD_REG, reg::gcmd_te | reg::gcmd_sirtp, 3000 * ns);
    EXPECT_EQ(h.rd(reg::GSTS_REG, 3099 * ns), reg::gcmd_te | reg::gcmd_srtp);
    EXPECT_EQ(h.rd(reg::GSTS_REG, 3100 * ns), reg::gcmd_te | reg::gcmd_srtp | reg::gcmd_sirtp);
    h.wr(reg::GCMD_REG, reg::gcmd_te | reg::gcmd_sirtp, 4000 * ns);
    EXPECT_EQ(h.rd(reg::GSTS_REG, 4000 * ns), reg::gcmd_te | reg::gcmd_srtp);
    EXPECT_EQ(h.rd(reg::GSTS_REG, 4100 * ns), reg::gcmd_te | reg::gcmd_srtp | reg::gcmd_sirtp);
}

TEST(VtdRegisters, FaultRecordingRw1cAndFaultEvent) {
    hw h;
    h.wr(reg::FEDATA_REG, 0x4321);
    h.wr(reg::FEADDR_REG, 0xfee0'1000);
    // Root table empty: a read from source 01:00.0 faults with reason 0x1 (root not present).
    const translation t = h.dma.translate(0x0100, 0x1234'5678, false, 0);
    ASSERT_EQ(t.fault, fault_reason::root_not_present);
    h.regs.collect_faults(t.done);
    const std::uint64_t lo = h.rd(reg::FRCD_REG, 0, 8);
    const std::uint64_t hi = h.rd(reg::FRCD_REG + 8, 0, 8);
    EXPECT_EQ(lo, 0x1234'5000u);  // FI: the page address
    EXPECT_TRUE(hi & reg::frcd_f);
    EXPECT_TRUE(hi & reg::frcd_t);                            // T = 1: a read
    EXPECT_EQ(hi >> reg::frcd_fr_shift & 0xff, 0x1u);         // FR
    EXPECT_EQ(hi & 0xffff, 0x0100u);                          // SID
    EXPECT_EQ(h.rd(reg::FSTS_REG), reg::fsts_ppf | 0u << 8);  // PPF, FRI = 0
    // FECTL.IM is set at reset: no message, IP set; unmasking sends FEDATA to FEADDR.
    EXPECT_TRUE(h.sent.empty());
    EXPECT_EQ(h.rd(reg::FECTL_REG), reg::ctl_im | reg::ctl_ip);
    h.wr(reg::FECTL_REG, 0, 500 * ns);
    ASSERT_EQ(h.sent.size(), 1u);
    EXPECT_EQ(h.sent[0].address, 0xfee0'1000u);
    EXPECT_EQ(h.sent[0].data, 0x4321u);
    EXPECT_EQ(h.sent[0].at, 500 * ns);
    EXPECT_EQ(h.rd(reg::FECTL_REG), 0u);
    // Writing 0 to F changes nothing; writing 1 clears it (RW1C) and PPF with it.
    h.wr(reg::FRCD_REG + 12, 0);
    EXPECT_TRUE(h.rd(reg::FSTS_REG) & reg::fsts_ppf);
    h.wr(reg::FRCD_REG + 12, 1u << 31);
    EXPECT_EQ(h.rd(reg::FSTS_REG), 0u);
    // Unmasked now: the next fault sends its event at once, into FRCD 1 (FRI = 1).
    const translation t2 = h.dma.translate(0x0200, 0x8000, true, 600 * ns);
    h.regs.collect_faults(t2.done);
    EXPECT_EQ(h.sent.size(), 2u);
    EXPECT_EQ(h.rd(reg::FSTS_REG), reg::fsts_ppf | 1u << 8);
    EXPECT_FALSE(h.rd(reg::FRCD_REG + 16 + 8, 0, 8) & reg::frcd_t);  // T = 0: a write
    EXPECT_EQ(h.regs.stats().faults_recorded, 2u);
    EXPECT_EQ(h.regs.stats().fault_events, 2u);
}

TEST(VtdRegisters, FaultOverflowSetsPfo) {
    vtd_register_params p;
    p.fault_records = 2;
    hw h(p);
    for (int i = 0; i < 3; ++i) {
        const translation t = h.dma.translate(0x0100, 0x1000 * i, false, 0);
        h.regs.collect_faults(t.done);
    }
    // Two records hold faults; the third is dropped and sets PFO (bit 0).
    EXPECT_EQ(h.regs.stats().faults_recorded, 2u);
    EXPECT_EQ(h.regs.stats().fault_overflows, 1u);
    EXPECT_EQ(h.rd(reg::FSTS_REG), reg::fsts_pfo | reg::fsts_ppf);
    h.wr(reg::FSTS_REG, reg::fsts_pfo);  // RW1C
    EXPECT_EQ(h.rd(reg::FSTS_REG), reg::fsts_ppf);
    h.wr(reg::FSTS_REG, reg::fsts_ppf);  // PPF is read-only
    EXPECT_EQ(h.rd(reg::FSTS_REG), reg::fsts_ppf);
}

// A mapped page whose translation is in the IOTLB: source 01:00.0, domain 5, IOVA 0x10000 ->
// HPA 0x2000'0000.
void cache_one_translation(hw& h) {
    h.dma.set_root_table(h.tables.rtaddr());
    const std::uint64_t slpt = h.tables.new_domain();
    h.tables.set_context(0x0100, slpt, 5);
    h.tables.map(slpt, 4, 0x10000, 0x2000'0000, page_4k, perm_rw);
    ASSERT_TRUE(h.dma.translate(0x0100, 0x10000, false, 0).ok());
    ASSERT_TRUE(h.dma.translate(0x0100, 0x10000, false, 0).iotlb_hit);
}

TEST(VtdRegisters, RegisterBasedInvalidation) {
    hw h;  // invalidation_latency 50 ns
    cache_one_translation(h);
    // IOTLB page-selective: IVA = address | AM 0; IOTLB_REG = IVT | IIRG 11 | DID 5.
    h.wr(reg::IVA_REG, 0x10000, 0, 8);
    h.wr(reg::IOTLB_REG, reg::iotlb_ivt | 3ull << 60 | 5ull << 32, 1000 * ns, 8);
    EXPECT_TRUE(h.rd(reg::IOTLB_REG + 4, 1049 * ns) & (1u << 31));  // IVT until 1050 ns
    const std::uint64_t v = h.rd(reg::IOTLB_REG, 1050 * ns, 8);
    EXPECT_FALSE(v & reg::iotlb_ivt);
    EXPECT_EQ(v >> reg::iotlb_iaig_shift & 3, 3u);  // performed page-selective
    EXPECT_FALSE(h.dma.translate(0x0100, 0x10000, false, 2000 * ns).iotlb_hit);
    // AM = 12 exceeds MAMV = 9: performed domain-selective, IAIG = 10.
    h.wr(reg::IVA_REG, 12, 0, 8);
    h.wr(reg::IOTLB_REG, reg::iotlb_ivt | 3ull << 60 | 5ull << 32, 3000 * ns, 8);
    EXPECT_EQ(h.rd(reg::IOTLB_REG, 4000 * ns, 8) >> reg::iotlb_iaig_shift & 3, 2u);
    // Context cache, global (CIRG 01), written as two halves: ICC in the upper one.
    h.wr(reg::CCMD_REG, 0, 5000 * ns);
    h.wr(reg::CCMD_REG + 4, 1u << 31 | 1u << 29, 5000 * ns);
    EXPECT_TRUE(h.rd(reg::CCMD_REG + 4, 5010 * ns) & (1u << 31));
    // ICC clear; CIRG (bits 62:61) as written, CAIG (60:59) = 01 performed global.
    EXPECT_EQ(h.rd(reg::CCMD_REG + 4, 5050 * ns), 1u << 29 | 1u << 27);
    // Granularity 00 is reserved: nothing done, counted.
    h.wr(reg::CCMD_REG, reg::ccmd_icc, 6000 * ns, 8);
    EXPECT_EQ(h.regs.stats().programming_errors, 1u);
    EXPECT_EQ(h.regs.stats().register_invalidations, 3u);
    EXPECT_EQ(h.regs.stats().invalidation_time, 3 * 50 * ns);
}

TEST(VtdRegisters, QueuedInvalidationTimedHeadAndStatus) {
    hw h;
    cache_one_translation(h);
    const std::uint64_t ring = h.tables.alloc_page();
    const std::uint64_t status = h.tables.alloc_page();
    h.enable_queue(ring);
    h.put(ring, qi::iotlb_inv(qi::gran_device_or_page, 5, 0x10000, 0));
    h.put(ring + 16, qi::wait(status, 0xabcd));
    h.wr(reg::IQT_REG, 2 << 4, 1000 * ns);
    // Descriptor 0: read 10 + decode 10 + invalidation 50 -> 1070 ns; descriptor 1 (wait):
    // read 10 + decode 10 -> 1090 ns, when its status write lands.
    EXPECT_EQ(h.rd(reg::IQH_REG, 1069 * ns, 8), 0u);
    EXPECT_EQ(h.rd(reg::IQH_REG, 1070 * ns, 8), 1u << 4);
    std::uint32_t s = 0;
    h.store.read_u32(status, s);
    EXPECT_EQ(s, 0u);  // not before its time
    EXPECT_EQ(h.regs.advance(1089 * ns), 1090 * ns);
    h.store.read_u32(status, s);
    EXPECT_EQ(s, 0u);
    EXPECT_EQ(h.regs.advance(1090 * ns), 0u);
    h.store.read_u32(status, s);
    EXPECT_EQ(s, 0xabcdu);
    EXPECT_EQ(h.rd(reg::IQH_REG, 1090 * ns, 8), 2u << 4);
    EXPECT_FALSE(h.dma.translate(0x0100, 0x10000, false, 2000 * ns).iotlb_hit);
    EXPECT_EQ(h.regs.stats().iotlb_inv_page, 1u);
    EXPECT_EQ(h.regs.stats().wait_descriptors, 1u);
    // Register-based invalidation is not allowed while the queue is on: ignored, counted.
    h.wr(reg::IOTLB_REG, reg::iotlb_ivt | 1ull << 60, 3000 * ns, 8);
    EXPECT_EQ(h.regs.stats().programming_errors, 1u);
}

TEST(VtdRegisters, MalformedDescriptorSetsIqeAndStopsTheHead) {
    hw h;
    const std::uint64_t ring = h.tables.alloc_page();
    const std::uint64_t status = h.tables.alloc_page();
    h.wr(reg::FECTL_REG, 0);  // unmasked: IQE raises a fault event
    h.enable_queue(ring);
    h.put(ring, qi::context_inv(qi::gran_global));
    h.put(ring + 16, {0x3 | 1ull << 8, 0});  // device-TLB invalidate with reserved bit 8 set
    h.put(ring + 32, qi::wait(status, 1));
    h.wr(reg::IQT_REG, 3 << 4, 0);
    EXPECT_EQ(h.rd(reg::FSTS_REG, 1000 * ns), reg::fsts_iqe);
    EXPECT_EQ(h.rd(reg::IQH_REG, 1000 * ns, 8), 1u << 4);  // stopped at the bad descriptor
    EXPECT_EQ(h.regs.stats().queue_errors, 1u);
    EXPECT_EQ(h.regs.stats().fault_events, 1u);
    h.regs.advance(1000 * ns);
    std::uint32_t s = 0;
    h.store.read_u32(status, s);
    EXPECT_EQ(s, 0u);  // the wait behind it never ran
    // Reserved bits in an otherwise good descriptor are malformed too; software repairs the
    // descriptor (here with a valid IOTLB global one) and clears IQE: the queue runs on.
    h.put(ring + 16, qi::iotlb_inv(qi::gran_global));
    h.wr(reg::FSTS_REG, reg::fsts_iqe, 2000 * ns);
    h.regs.advance(3000 * ns);
    h.store.read_u32(status, s);
    EXPECT_EQ(s, 1u);
    EXPECT_EQ(h.rd(reg::IQH_REG, 3000 * ns, 8), 3u << 4);
    EXPECT_EQ(h.rd(reg::FSTS_REG, 3000 * ns), 0u);
}

TEST(VtdRegisters, MalformedFieldsAndTailBeyondQueue) {
    hw h;
    const std::uint64_t ring = h.tables.alloc_page();
    h.enable_queue(ring);
    std::vector<qi::descriptor> bad = {
        {qi::type_context, 0},                             // granularity 00
        {qi::type_iotlb | 1 << 4 | 1 << 8, 0},             // reserved bit 8
        qi::iotlb_inv(qi::gran_device_or_page, 1, 0, 10),  // AM 10 > MAMV 9
        {qi::type_wait | 1 << 5, 0x1002},                  // status address not dword aligned
        {0x7, 0},                                          // no such type
    };
    std::uint32_t tail = 0;
    for (const auto& d : bad) {
        h.put(ring + 16 * tail, d);
        ++tail;
        h.wr(reg::IQT_REG, tail << 4, tail * 1000 * ns);
        EXPECT_TRUE(h.rd(reg::FSTS_REG, tail * 1000 * ns) & reg::fsts_iqe) << tail;
        h.put(ring + 16 * (tail - 1), qi::iec_inv());  // repair, clear, go on
        h.wr(reg::FSTS_REG, reg::fsts_iqe, tail * 1000 * ns);
    }
    EXPECT_EQ(h.regs.stats().queue_errors, bad.size());
    // QS = 0: 256 entries; a tail of 300 is beyond the queue.
    h.wr(reg::IQT_REG, 300 << 4, 10'000 * ns);
    EXPECT_TRUE(h.rd(reg::FSTS_REG, 10'000 * ns) & reg::fsts_iqe);
    EXPECT_EQ(h.regs.stats().queue_errors, bad.size() + 1);
}

TEST(VtdRegisters, RingOutsideMemorySetsIqe) {
    hw h;
    h.enable_queue(6ull << 30);  // beyond the 4 GiB of memory
    h.wr(reg::IQT_REG, 1 << 4, 0);
    EXPECT_TRUE(h.rd(reg::FSTS_REG) & reg::fsts_iqe);
    EXPECT_EQ(h.rd(reg::IQH_REG, 0, 8), 0u);
    EXPECT_EQ(h.regs.stats().queue_errors, 1u);
}

}  // namespace
}  // namespace iovsim::iommu

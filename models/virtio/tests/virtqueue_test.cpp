#include "models/virtio/virtqueue.h"

#include <gtest/gtest.h>

#include <stdexcept>

#include "models/mem/sparse_store.h"

namespace iovsim::virtio {
namespace {

TEST(VirtqueueLayout, SizesAndOffsetsForN256) {
    // §2.7: descriptors 16 B each; avail = flags, idx, ring[N], used_event = 4 + 2N + 2;
    // used = flags, idx, ring[N] of 8 B, avail_event = 4 + 8N + 2.
    EXPECT_EQ(desc_table_bytes(256), 4096u);
    EXPECT_EQ(avail_ring_bytes(256), 4u + 512u + 2u);
    EXPECT_EQ(used_ring_bytes(256), 4u + 2048u + 2u);
    EXPECT_EQ(used_event_offset(256), 516u);
    EXPECT_EQ(avail_event_offset(256), 2052u);
    // Linux vring_init(256, align 4096) at 0x10000: avail right after 4096 B of descriptors
    // (0x11000), used at round_up(0x11000 + 518, 4096) = 0x12000; vring_size = 8192 + 2054.
    const queue_layout l = contiguous_layout(0x10000, 256);
    EXPECT_EQ(l.desc, 0x10000u);
    EXPECT_EQ(l.avail, 0x11000u);
    EXPECT_EQ(l.used, 0x12000u);
    EXPECT_EQ(l.used + used_ring_bytes(256) - l.desc, 10246u);
    EXPECT_EQ(l.check(), "");
    // N = 1: 16 + 8 bytes, used at 4096.
    EXPECT_EQ(contiguous_layout(0, 1).used, 4096u);
    EXPECT_THROW(contiguous_layout(0, 4, 2), std::invalid_argument);
    EXPECT_THROW(contiguous_layout(0, 4, 12), std::invalid_argument);
}

TEST(VirtqueueLayout, Check) {
    EXPECT_EQ((queue_layout{32768, 0, 0x80000, 0x90000}).check(), "");
    EXPECT_NE((queue_layout{0, 0, 0x1000, 0x2000}).check(), "");
    EXPECT_NE((queue_layout{3, 0, 0x1000, 0x2000}).check(), "");
    EXPECT_NE((queue_layout{65536, 0, 0x100000, 0x200000}).check(), "");
    EXPECT_NE((queue_layout{4, 8, 0x1000, 0x2000}).check(), "");     // desc not 16-aligned
    EXPECT_NE((queue_layout{4, 0, 0x1001, 0x2000}).check(), "");     // avail not 2-aligned
    EXPECT_NE((queue_layout{4, 0, 0x1000, 0x2002}).check(), "");     // used not 4-aligned
    EXPECT_EQ((queue_layout{4, 0x10, 0x1002, 0x2004}).check(), "");  // minimum alignments
    mem::sparse_store s(1 << 20);
    store_memory m(s);
    EXPECT_THROW(virtq_driver(m, queue_layout{3, 0, 0x1000, 0x2000}, false), std::invalid_argument);
    EXPECT_THROW(virtq_device(m, queue_layout{4, 8, 0x1000, 0x2000}, false), std::invalid_argument);
}

TEST(VirtqueueEventIdx, NeedEventByHand) {
    // (u16)(new - event - 1) < (u16)(new - old)
    EXPECT_TRUE(vring_need_event(0, 1, 0));     // 0 < 1
    EXPECT_FALSE(vring_need_event(1, 1, 0));    // 0xffff < 1 fails
    EXPECT_TRUE(vring_need_event(5, 10, 3));    // 4 < 7
    EXPECT_FALSE(vring_need_event(10, 10, 3));  // 0xffff < 7 fails
    EXPECT_FALSE(vring_need_event(2, 10, 3));   // event before old: 7 < 7 fails
    // 16-bit wrap: old 0xfffe, new 0x0001 (3 added).
    EXPECT_TRUE(vring_need_event(0xfffe, 0x0001, 0xfffe));   // 2 < 3
    EXPECT_TRUE(vring_need_event(0xffff, 0x0001, 0xfffe));   // 1 < 3
    EXPECT_TRUE(vring_need_event(0x0000, 0x0001, 0xfffe));   // 0 < 3
    EXPECT_FALSE(vring_need_event(0x0001, 0x0001, 0xfffe));  // 0xffff < 3 fails
    EXPECT_FALSE(vring_need_event(0xfffd, 0x0001, 0xfffe));  // 3 < 3 fails
}

struct rig {
    explicit rig(std::uint32_t n, bool event_idx)
        : store(1 << 20),
          m(store),
          l(contiguous_layout(0x10000, n)),
          drv(m, l, event_idx),
          dev(m, l, event_idx) {}
    mem::sparse_store store;
    store_memory m;
    queue_layout l;
    virtq_driver drv;
    virtq_device dev;
    std::uint16_t u16(std::uint64_t a) {
        std::uint16_t v = 0;
        store.read_u16(a, v);
        return v;
    }
};

TEST(VirtqDriver, AddWritesSpecBytes) {
    rig r(4, false);
    // Descriptors 0x10000.., avail at 0x10040 (4 × 16 B), used at 0x11000.
    const auto head = r.drv.add({{0x1000, 100}}, {{0x2000, 200}});
    ASSERT_TRUE(head);
    EXPECT_EQ(*head, 0);
    std::uint64_t addr = 0;
    std::uint32_t len = 0;
    r.store.read_u64(0x10000, addr);
    r.store.read_u32(0x10008, len);
    EXPECT_EQ(addr, 0x1000u);
    EXPECT_EQ(len, 100u);
    EXPECT_EQ(r.u16(0x1000c), desc_f_next);
    EXPECT_EQ(r.u16(0x1000e), 1);  // next = descriptor 1
    r.store.read_u64(0x10010, addr);
    r.store.read_u32(0x10018, len);
    EXPECT_EQ(addr, 0x2000u);
    EXPECT_EQ(len, 200u);
    EXPECT_EQ(r.u16(0x1001c), desc_f_write);
    EXPECT_EQ(r.u16(0x10040 + 4), 0);  // avail ring[0] = head 0
    EXPECT_EQ(r.u16(0x10040 + 2), 1);  // avail idx
    EXPECT_EQ(r.drv.num_free(), 2u);
    // Not enough descriptors: 3 > 2 free; empty chain.
    EXPECT_FALSE(r.drv.add({{1, 1}, {2, 1}, {3, 1}}, {}));
    EXPECT_FALSE(r.drv.add({}, {}));

    auto c = r.dev.pop();
    ASSERT_TRUE(c);
    EXPECT_EQ(c->head, 0);
    ASSERT_EQ(c->readable.size(), 1u);
    ASSERT_EQ(c->writable.size(), 1u);
    EXPECT_EQ(c->readable_bytes, 100u);
    EXPECT_EQ(c->writable_bytes, 200u);
    ASSERT_TRUE(r.dev.push(c->head, 50));
    // used ring at 0x11000: ring[0] = {id 0, len 50}, idx 1.
    std::uint32_t id = 9;
    r.store.read_u32(0x11004, id);
    r.store.read_u32(0x11008, len);
    EXPECT_EQ(id, 0u);
    EXPECT_EQ(len, 50u);
    EXPECT_EQ(r.u16(0x11002), 1);
    const auto u = r.drv.get_used();
    ASSERT_TRUE(u);
    EXPECT_EQ(u->id, 0);
    EXPECT_EQ(u->len, 50u);
    EXPECT_EQ(r.drv.num_free(), 4u);
    EXPECT_FALSE(r.drv.get_used());
}

TEST(VirtqEventIdx, KickSuppression) {
    rig r(8, true);
    const std::uint64_t avail_event = r.l.used + avail_event_offset(8);
    ASSERT_TRUE(r.drv.add({{0x1000, 10}}, {}));
    EXPECT_TRUE(r.drv.kick_prepare());  // avail_event 0: need_event(0, 1, 0)
    ASSERT_TRUE(r.dev.pop());           // avail_event := 1
    EXPECT_EQ(r.u16(avail_event), 1);
    ASSERT_TRUE(r.drv.add({{0x1000, 10}}, {}));
    EXPECT_TRUE(r.drv.kick_prepare());  // need_event(1, 2, 1): 0 < 1
    r.dev.disable_notifications();      // event idx: nothing written
    ASSERT_TRUE(r.drv.add({{0x1000, 10}}, {}));
    EXPECT_FALSE(r.drv.kick_prepare());  // need_event(1, 3, 2): 1 < 1 fails
    ASSERT_TRUE(r.dev.pop());
    ASSERT_TRUE(r.dev.pop());
    EXPECT_EQ(r.u16(avail_event), 1);           // not advanced while kicks are off
    EXPECT_TRUE(r.dev.enable_notifications());  // ring empty
    EXPECT_EQ(r.u16(avail_event), 3);
    ASSERT_TRUE(r.drv.add({{0x1000, 10}}, {}));
    ASSERT_TRUE(r.drv.add({{0x1000, 10}}, {}));
    EXPECT_TRUE(r.drv.kick_prepare());  // need_event(3, 5, 3): 1 < 2
    // enable_notifications says false when chains are already waiting.
    r.dev.disable_notifications();
    EXPECT_FALSE(r.dev.enable_notifications());
}

TEST(VirtqNoEventIdx, KickAndInterruptFlags) {
    rig r(8, false);
    ASSERT_TRUE(r.drv.add({{0x1000, 10}}, {}));
    EXPECT_TRUE(r.drv.kick_prepare());
    r.dev.disable_notifications();
    EXPECT_EQ(r.u16(r.l.used), used_f_no_notify);
    ASSERT_TRUE(r.drv.add({{0x1000, 10}}, {}));
    EXPECT_FALSE(r.drv.kick_prepare());
    EXPECT_FALSE(r.dev.enable_notifications());  // two chains waiting
    EXPECT_EQ(r.u16(r.l.used), 0);
    ASSERT_TRUE(r.drv.add({{0x1000, 10}}, {}));
    EXPECT_TRUE(r.drv.kick_prepare());

    auto c = r.dev.pop();
    ASSERT_TRUE(r.dev.push(c->head, 0));
    EXPECT_TRUE(r.dev.need_interrupt());
    r.drv.disable_interrupts();
    EXPECT_EQ(r.u16(r.l.avail), avail_f_no_interrupt);
    c = r.dev.pop();
    ASSERT_TRUE(r.dev.push(c->head, 0));
    EXPECT_FALSE(r.dev.need_interrupt());
    EXPECT_FALSE(r.drv.enable_interrupts());  // used buffers pending: poll again
    EXPECT_EQ(r.u16(r.l.avail), 0);
    EXPECT_TRUE(r.dev.need_interrupt());
}

TEST(VirtqEventIdx, InterruptSuppression) {
    rig r(8, true);
    const std::uint64_t used_event = r.l.avail + used_event_offset(8);
    r.drv.add({{0x1000, 10}}, {});
    r.drv.add({{0x1000, 10}}, {});
    auto a = r.dev.pop();
    auto b = r.dev.pop();
    ASSERT_TRUE(a && b);
    r.dev.push(a->head, 0);
    EXPECT_TRUE(r.dev.need_interrupt());  // first decision: always (signalled_used not valid)
    r.dev.push(b->head, 0);
    EXPECT_FALSE(r.dev.need_interrupt());  // need_event(0, 2, 1): 1 < 1 fails
    ASSERT_TRUE(r.drv.get_used());
    ASSERT_TRUE(r.drv.get_used());
    EXPECT_EQ(r.u16(used_event), 2);  // published by get_used
    r.drv.add({{0x1000, 10}}, {});
    r.dev.push(r.dev.pop()->head, 0);
    EXPECT_TRUE(r.dev.need_interrupt());  // need_event(2, 3, 2): 0 < 1
    ASSERT_TRUE(r.drv.get_used());
    // Linux's disable_cb with event idx: used_event = last_used - 0x88c0 = 3 - 35008 mod 2^16
    // = 30531 = 0x7743.
    r.drv.disable_interrupts();
    EXPECT_EQ(r.u16(used_event), 0x7743);
    r.drv.add({{0x1000, 10}}, {});
    r.dev.push(r.dev.pop()->head, 0);
    EXPECT_FALSE(r.dev.need_interrupt());     // need_event(0x7743, 4, 3): 0x88c0 < 1 fails
    EXPECT_FALSE(r.drv.enable_interrupts());  // one pending
    EXPECT_EQ(r.u16(used_event), 3);
}

TEST(VirtqEventIdx, EnableInterruptsDelayedAtThreeQuartersOfOutstanding) {
    rig r(256, true);
    const std::uint64_t used_event = r.l.avail + used_event_offset(256);
    // One buffer through first: the device's first decision always interrupts (signalled_used
    // not valid yet, as vhost and QEMU do), and the driver takes it back: last_used_idx 1.
    ASSERT_TRUE(r.drv.add({{0x1000, 10}}, {}));
    r.dev.push(r.dev.pop()->head, 0);
    EXPECT_TRUE(r.dev.need_interrupt());
    ASSERT_TRUE(r.drv.get_used());
    // The queue with interrupts off and its ring full: 256 buffers outstanding (avail idx 257).
    r.drv.disable_interrupts();
    for (unsigned i = 0; i < 256; ++i) ASSERT_TRUE(r.drv.add({{0x1000, 10}}, {}));
    EXPECT_EQ(r.drv.num_free(), 0u);
    // enable_cb_delayed: bufs = (257 - 1) × 3 / 4 = 192, used_event = 1 + 192 = 193; nothing
    // used yet (0 <= 192): true.
    EXPECT_TRUE(r.drv.enable_interrupts_delayed());
    EXPECT_EQ(r.u16(used_event), 193);
    // The device uses them one at a time and decides after each (vhost's add_used + signal):
    // vring_need_event(193, new, new - 1) holds only for new - 1 = 193, i.e. the 193rd buffer
    // used (used idx 194), the (bufs + 1)-th.
    for (unsigned k = 1; k <= 256; ++k) {
        r.dev.push(r.dev.pop()->head, 0);
        EXPECT_EQ(r.dev.need_interrupt(), k == 193) << "buffer " << k;
    }
    EXPECT_EQ(r.dev.used_idx(), 257);
}

TEST(VirtqEventIdx, EnableInterruptsDelayedInBatchesAndWhenAlreadyUsed) {
    rig r(8, true);
    const std::uint64_t used_event = r.l.avail + used_event_offset(8);
    ASSERT_TRUE(r.drv.add({{0x1000, 10}}, {}));
    r.dev.push(r.dev.pop()->head, 0);
    EXPECT_TRUE(r.dev.need_interrupt());  // the first decision
    ASSERT_TRUE(r.drv.get_used());        // last_used_idx 1
    r.drv.disable_interrupts();
    for (unsigned i = 0; i < 8; ++i) ASSERT_TRUE(r.drv.add({{0x1000, 10}}, {}));
    // 8 outstanding: bufs = 8 × 3 / 4 = 6, used_event = 1 + 6 = 7.
    EXPECT_TRUE(r.drv.enable_interrupts_delayed());
    EXPECT_EQ(r.u16(used_event), 7);
    // A batch of 6 (used idx 1 -> 7): 7 is not in [1, 7), no interrupt; the next batch of 2
    // (7 -> 9) passes it: one interrupt for the batch.
    for (unsigned i = 0; i < 6; ++i) r.dev.push(r.dev.pop()->head, 0);
    EXPECT_FALSE(r.dev.need_interrupt());
    for (unsigned i = 0; i < 2; ++i) r.dev.push(r.dev.pop()->head, 0);
    EXPECT_TRUE(r.dev.need_interrupt());
    // The driver (interrupts off again) reclaims the 8: last_used_idx 9.
    r.drv.disable_interrupts();
    for (unsigned i = 0; i < 8; ++i) ASSERT_TRUE(r.drv.get_used());
    // 5 outstanding, 4 of them used before the driver looks: bufs = 5 × 3 / 4 = 3 (15 / 4
    // rounded down), used_event = 9 + 3 = 12, and 4 > 3 used already: false (reclaim at once).
    for (unsigned i = 0; i < 5; ++i) ASSERT_TRUE(r.drv.add({{0x1000, 10}}, {}));
    for (unsigned i = 0; i < 4; ++i) r.dev.push(r.dev.pop()->head, 0);
    EXPECT_FALSE(r.drv.enable_interrupts_delayed());
    EXPECT_EQ(r.u16(used_event), 12);
    // Exactly bufs used (3 of 4 outstanding: bufs 4 × 3 / 4 = 3): still true.
    r.drv.disable_interrupts();
    for (unsigned i = 0; i < 4; ++i) ASSERT_TRUE(r.drv.get_used());  // last_used_idx 13
    r.dev.push(r.dev.pop()->head, 0);                                // the 5th: used idx 14
    ASSERT_TRUE(r.drv.get_used());                                   // last_used_idx 14
    for (unsigned i = 0; i < 4; ++i) ASSERT_TRUE(r.drv.add({{0x1000, 10}}, {}));
    for (unsigned i = 0; i < 3; ++i) r.dev.push(r.dev.pop()->head, 0);
    EXPECT_TRUE(r.drv.enable_interrupts_delayed());
    EXPECT_EQ(r.u16(used_event), 17);
}

TEST(VirtqNoEventIdx, EnableInterruptsDelayedClearsTheFlag) {
    rig r(8, false);
    r.drv.disable_interrupts();
    EXPECT_EQ(r.u16(r.l.avail), avail_f_no_interrupt);
    for (unsigned i = 0; i < 4; ++i) ASSERT_TRUE(r.drv.add({{0x1000, 10}}, {}));
    // Without event idx the flag goes: the next used buffer interrupts.
    EXPECT_TRUE(r.drv.enable_interrupts_delayed());
    EXPECT_EQ(r.u16(r.l.avail), 0);
    r.dev.push(r.dev.pop()->head, 0);
    EXPECT_TRUE(r.dev.need_interrupt());
}

TEST(VirtqEventIdx, SixteenBitWrap) {
    rig r(4, true);
    // Run both indices up to 0xfffe: 65534 single-buffer round trips.
    for (unsigned i = 0; i < 0xfffe; ++i) {
        ASSERT_TRUE(r.drv.add({{0x1000, 8}}, {}));
        auto c = r.dev.pop();
        ASSERT_TRUE(c);
        ASSERT_TRUE(r.dev.push(c->head, 0));
        r.dev.need_interrupt();
        ASSERT_TRUE(r.drv.get_used());
    }
    r.drv.kick_prepare();
    EXPECT_EQ(r.drv.avail_idx(), 0xfffe);
    EXPECT_EQ(r.dev.last_avail_idx(), 0xfffe);
    EXPECT_EQ(r.u16(r.l.used + avail_event_offset(4)), 0xfffe);
    // Three chains across the wrap: slots 0xfffe & 3 = 2, 3, then 0.
    std::uint16_t heads[3];
    for (auto& h : heads) h = *r.drv.add({{0x1000, 8}}, {});
    EXPECT_EQ(r.drv.avail_idx(), 0x0001);
    EXPECT_TRUE(r.drv.kick_prepare());  // need_event(0xfffe, 1, 0xfffe): 2 < 3
    EXPECT_EQ(r.u16(r.l.avail + ring_off::ring + 2 * 2), heads[0]);
    EXPECT_EQ(r.u16(r.l.avail + ring_off::ring + 2 * 3), heads[1]);
    EXPECT_EQ(r.u16(r.l.avail + ring_off::ring + 2 * 0), heads[2]);
    for (std::uint16_t h : heads) {
        auto c = r.dev.pop();
        ASSERT_TRUE(c);
        EXPECT_EQ(c->head, h);
        r.dev.push(c->head, 0);
    }
    EXPECT_FALSE(r.dev.pop());
    EXPECT_EQ(r.dev.used_idx(), 0x0001);
    // used_event = 0xfffe (published by the last get_used), signalled 0xfffe, used 1: 2 < 3.
    EXPECT_TRUE(r.dev.need_interrupt());
    for (std::uint16_t h : heads) EXPECT_EQ(r.drv.get_used()->id, h);
    EXPECT_EQ(r.drv.last_used_idx(), 0x0001);
    EXPECT_EQ(r.drv.num_free(), 4u);
}

TEST(VirtqDriver, BadUsedElementIsSkipped) {
    rig r(4, false);
    r.drv.add({{0x1000, 8}}, {});  // head 0
    // The device names descriptors 2 and 3, which are not outstanding heads.
    r.dev.push(2, 0);
    r.dev.push(3, 0);
    EXPECT_FALSE(r.drv.get_used());
    EXPECT_EQ(r.drv.bad_used(), 2u);
    EXPECT_EQ(r.drv.num_free(), 3u);
    EXPECT_FALSE(r.dev.push(9, 0));  // the device model refuses an index >= N itself
}

// Malformed rings written by hand: the device records the error and stops, never crashes.
struct raw_desc {
    std::uint64_t addr;
    std::uint32_t len;
    std::uint16_t flags, next;
};

struct malformed_case {
    const char* name;
    std::vector<raw_desc> descs;
    std::uint16_t head;
    std::uint16_t avail_idx;
    queue_error expected;
};

class VirtqMalformed : public ::testing::TestWithParam<malformed_case> {};

TEST_P(VirtqMalformed, SetsErrorAndStops) {
    const malformed_case& mc = GetParam();
    mem::sparse_store s(1 << 20);
    store_memory m(s);
    const queue_layout l = contiguous_layout(0x10000, 8);
    virtq_device dev(m, l, true);
    for (std::size_t i = 0; i < mc.descs.size(); ++i) {
        const std::uint64_t a = l.desc + 16 * i;
        s.write_u64(a, mc.descs[i].addr);
        s.write_u32(a + 8, mc.descs[i].len);
        s.write_u16(a + 12, mc.descs[i].flags);
        s.write_u16(a + 14, mc.descs[i].next);
    }
    s.write_u16(l.avail + ring_off::ring, mc.head);
    s.write_u16(l.avail + ring_off::idx, mc.avail_idx);
    EXPECT_FALSE(dev.pop());
    EXPECT_TRUE(dev.broken());
    EXPECT_EQ(dev.error(), mc.expected) << to_string(dev.error());
    EXPECT_EQ(dev.errors(), 1u);
    EXPECT_FALSE(dev.pop());  // stays broken, no more reads
    EXPECT_FALSE(dev.has_avail());
    EXPECT_FALSE(dev.push(0, 0));
    EXPECT_FALSE(dev.need_interrupt());
    EXPECT_EQ(dev.error(), mc.expected);
}

constexpr std::uint16_t N = desc_f_next, W = desc_f_write;
INSTANTIATE_TEST_SUITE_P(
    Cases, VirtqMalformed,
    ::testing::Values(
        malformed_case{
            "loop", {{0x1000, 8, N, 1}, {0x2000, 8, N, 0}}, 0, 1, queue_error::chain_loop},
        malformed_case{"self_loop", {{0x1000, 8, N, 0}}, 0, 1, queue_error::chain_loop},
        malformed_case{"head", {}, 8, 1, queue_error::head_out_of_range},
        malformed_case{"next", {{0x1000, 8, N, 8}}, 0, 1, queue_error::next_out_of_range},
        malformed_case{"zero_len", {{0x1000, 0, 0, 0}}, 0, 1, queue_error::zero_length},
        malformed_case{"order",
                       {{0x1000, 8, N | W, 1}, {0x2000, 8, 0, 0}},
                       0,
                       1,
                       queue_error::readable_after_writable},
        malformed_case{"indirect", {{0x1000, 16, desc_f_indirect, 0}}, 0, 1, queue_error::indirect},
        malformed_case{"too_long",
                       {{0x1000, 0xffffffffu, N, 1}, {0x2000, 1, 0, 0}},
                       0,
                       1,
                       queue_error::chain_too_long},
        malformed_case{"avail_idx", {{0x1000, 8, 0, 0}}, 0, 9, queue_error::avail_idx_too_far}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(VirtqMalformedMemory, FaultsBreakTheQueue) {
    mem::sparse_store s(0x20000);  // 128 KiB of guest memory
    store_memory m(s);
    // Rings outside memory: the first read of avail->idx faults.
    virtq_device outside(m, queue_layout{8, 0x40000, 0x41000, 0x42000}, false);
    EXPECT_FALSE(outside.pop());
    EXPECT_EQ(outside.error(), queue_error::memory_fault);
    // A buffer outside memory: read_chain faults.
    const queue_layout l = contiguous_layout(0x10000, 8);
    virtq_driver drv(m, l, false);
    virtq_device dev(m, l, false);
    drv.add({{0x30000, 64}}, {});
    auto c = dev.pop();
    ASSERT_TRUE(c);
    std::vector<std::uint8_t> bytes;
    EXPECT_FALSE(dev.read_chain(*c, bytes));
    EXPECT_TRUE(bytes.empty());
    EXPECT_EQ(dev.error(), queue_error::memory_fault);
    EXPECT_FALSE(dev.write_chain(*c, bytes.data(), 0));
}

// A device that takes at most 100 readable bytes a chain: 60 + 40 is accepted, 60 + 41 breaks
// the queue like any malformed chain. Writable bytes do not count against it.
TEST(VirtqMalformed, ReadableBytesAboveTheDeviceLimitBreakTheQueue) {
    mem::sparse_store s(1 << 20);
    store_memory m(s);
    const queue_layout l = contiguous_layout(0x10000, 8);
    virtq_driver drv(m, l, false);
    virtq_device dev(m, l, false, 100);
    drv.add({{0x1000, 60}, {0x2000, 40}}, {{0x3000, 500}});
    auto c = dev.pop();
    ASSERT_TRUE(c);
    EXPECT_EQ(c->readable_bytes, 100u);
    EXPECT_FALSE(dev.broken());
    drv.add({{0x1000, 60}, {0x2000, 41}}, {});
    EXPECT_FALSE(dev.pop());
    EXPECT_TRUE(dev.broken());
    EXPECT_EQ(dev.error(), queue_error::readable_too_large);
    EXPECT_STREQ(to_string(dev.error()), "readable_too_large");
    EXPECT_EQ(dev.errors(), 1u);
}

// A chain claiming 0xfffffff0 bytes in one buffer outside guest memory: read_chain grows its copy
// only by what it could read (at most one 64 KiB piece is tried), so it faults without allocating
// the claimed ~4 GiB.
TEST(VirtqMalformedMemory, HugeBufferFaultsWithoutAllocatingIt) {
    mem::sparse_store s(1 << 20);
    store_memory m(s);
    const queue_layout l = contiguous_layout(0x10000, 8);
    virtq_driver drv(m, l, false);
    virtq_device dev(m, l, false);
    drv.add({{0x7fff0000000ull, 0xfffffff0u}}, {});
    auto c = dev.pop();
    ASSERT_TRUE(c);
    EXPECT_EQ(c->readable_bytes, 0xfffffff0u);
    std::vector<std::uint8_t> out;
    EXPECT_FALSE(dev.read_chain(*c, out));
    EXPECT_TRUE(out.empty());
    EXPECT_LE(out.capacity(), 64u * 1024);
    EXPECT_EQ(dev.error(), queue_error::memory_fault);
    // A buffer above 64 KiB inside memory is still read whole, in pieces: 0x10000 + 0x100 bytes.
    const queue_layout l2 = contiguous_layout(0x40000, 8);
    virtq_driver drv2(m, l2, false);
    virtq_device dev2(m, l2, false);
    std::vector<std::uint8_t> pattern(0x10100);
    for (std::size_t i = 0; i < pattern.size(); ++i) pattern[i] = static_cast<std::uint8_t>(i * 7);
    s.write(0x80000, pattern.data(), pattern.size());
    drv2.add({{0x80000, 0x10100}}, {});
    auto c2 = dev2.pop();
    ASSERT_TRUE(c2);
    std::vector<std::uint8_t> got;
    ASSERT_EQ(dev2.read_chain(*c2, got), 0x10100u);
    EXPECT_EQ(got, pattern);
}

TEST(VirtqDevice, GatherAndScatter) {
    rig r(8, false);
    const std::uint8_t a[3] = {1, 2, 3}, b[2] = {4, 5};
    r.store.write(0x1000, a, 3);
    r.store.write(0x2000, b, 2);
    r.drv.add({{0x1000, 3}, {0x2000, 2}}, {{0x3000, 4}, {0x4000, 10}});
    auto c = r.dev.pop();
    ASSERT_TRUE(c);
    std::vector<std::uint8_t> out;
    ASSERT_EQ(r.dev.read_chain(*c, out), 5u);
    EXPECT_EQ(out, (std::vector<std::uint8_t>{1, 2, 3, 4, 5}));
    const std::uint8_t data[6] = {9, 8, 7, 6, 5, 4};
    ASSERT_EQ(r.dev.write_chain(*c, data, 6), 6u);  // 4 into the first, 2 into the second
    std::uint8_t got[4];
    r.store.read(0x3000, got, 4);
    EXPECT_EQ(got[3], 6);
    r.store.read(0x4000, got, 2);
    EXPECT_EQ(got[0], 5);
    EXPECT_EQ(got[1], 4);
    // More than fits (14 writable bytes): only 14 written.
    const std::vector<std::uint8_t> big(20, 0xaa);
    EXPECT_EQ(r.dev.write_chain(*c, big.data(), 20), 14u);
    EXPECT_EQ(r.dev.bytes_copied(), 5u + 6u + 14u);
}

}  // namespace
}  // namespace iovsim::virtio

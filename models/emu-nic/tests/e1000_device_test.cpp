// e1000 device model tests, plain C++ (no simulation): register semantics, TX and RX through
// real bytes in guest memory, ring wrap-around, and bad driver input. Clock 1 GHz: 1 cycle = 1 ns.
// Default costs (e1000_params): register access 100, GPA->HPA map 150 per access, copy 8 per
// 64-byte line touched, tap write 2500 per frame.
#include "models/emu-nic/e1000_device.h"

#include <gtest/gtest.h>

#include <numeric>

#include "models/cpu/ept.h"
#include "models/cpu/posted_interrupt.h"
#include "models/mem/sparse_store.h"

namespace iovsim::emunic {
namespace {

constexpr std::uint64_t ram_hpa = 0x1'0000'0000;
constexpr std::uint64_t ram_size = 1 << 20;  // guest RAM: GPA [0, 1 MiB)
constexpr std::uint64_t tx_ring = 0x1000, rx_ring = 0x2000;
constexpr std::uint64_t tx_buf = 0x10000, rx_buf = 0x20000;

tick_t ns(std::uint64_t v) { return v * ticks_per_ns; }

struct fixture : ::testing::Test {
    mem::sparse_store store{8ull << 30};
    cpu::sparse_store_memory memory{store};
    cpu::ept map;
    e1000_params params;
    std::unique_ptr<e1000_device> dev;
    std::vector<std::pair<std::vector<std::uint8_t>, tick_t>> tap;
    std::vector<tick_t> irqs;

    void SetUp() override {
        map.map_ram(0, ram_hpa, ram_size);
        params.cpu_clock_hz = 1e9;
        dev = std::make_unique<e1000_device>(params, map, memory);
        dev->set_tap_output(
            [this](const std::vector<std::uint8_t>& f, tick_t at) { tap.emplace_back(f, at); });
        dev->set_irq([this](tick_t at) { irqs.push_back(at); });
    }
    std::uint64_t wr(std::uint32_t off, std::uint32_t v, tick_t now = 0) {
        return dev->write(off, 4, v, now);
    }
    std::uint32_t rd(std::uint32_t off) {
        std::uint64_t v = 0;
        dev->read(off, 4, v, 0);
        return static_cast<std::uint32_t>(v);
    }
    void guest_write(std::uint64_t gpa, const void* p, std::size_t n) {
        ASSERT_TRUE(store.write(ram_hpa + gpa, p, n));
    }
    std::vector<std::uint8_t> guest_read(std::uint64_t gpa, std::size_t n) {
        std::vector<std::uint8_t> b(n);
        EXPECT_TRUE(store.read(ram_hpa + gpa, b.data(), n));
        return b;
    }
    static std::vector<std::uint8_t> frame(std::size_t n, std::uint8_t seed,
                                           std::uint64_t dst = 0x5254'0012'3456ull) {
        std::vector<std::uint8_t> f(n);
        std::iota(f.begin(), f.end(), seed);
        for (int i = 0; i < 6; ++i) f[i] = static_cast<std::uint8_t>(dst >> (40 - 8 * i));
        return f;
    }
    void put_tx(std::uint32_t index, std::uint64_t buf, const std::vector<std::uint8_t>& bytes,
                std::uint8_t cmd) {
        guest_write(buf, bytes.data(), bytes.size());
        tx_desc d;
        d.buffer_addr = buf;
        d.length = static_cast<std::uint16_t>(bytes.size());
        d.cmd = cmd;
        const auto raw = d.encode();
        guest_write(tx_ring + index * 16, raw.data(), 16);
    }
    void setup_tx(std::uint32_t len = 128) {
        wr(reg::tdbal, tx_ring);
        wr(reg::tdbah, 0);
        wr(reg::tdlen, len);
        wr(reg::tctl, tctl::en | tctl::psp);
    }
    void setup_rx(std::uint32_t rctl_bits = rctl::bam, std::uint32_t tail = 7) {
        wr(reg::rdbal, rx_ring);
        wr(reg::rdlen, 128);  // 8 descriptors
        for (std::uint32_t i = 0; i < 8; ++i) {
            rx_desc d;
            d.buffer_addr = rx_buf + i * 0x1000;
            const auto raw = d.encode();
            guest_write(rx_ring + i * 16, raw.data(), 16);
        }
        wr(reg::rdt, tail);
        wr(reg::rctl, rctl::en | rctl_bits);
    }
    rx_desc rxd(std::uint32_t i) {
        return rx_desc::decode(guest_read(rx_ring + i * 16, 16).data());
    }
};

TEST(E1000Regs, DescriptorsAreSixteenLittleEndianBytes) {
    tx_desc t;
    t.buffer_addr = 0x1122'3344'5566'7788ull;
    t.length = 0x0102;
    t.cmd = txd_cmd::eop | txd_cmd::rs;  // 0x09
    t.sta = txd_sta::dd;
    t.special = 0xabcd;
    const auto b = t.encode();
    const std::array<std::uint8_t, 16> want = {0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11,
                                               0x02, 0x01, 0x00, 0x09, 0x01, 0x00, 0xcd, 0xab};
    EXPECT_EQ(b, want);
    EXPECT_EQ(tx_desc::decode(b.data()).buffer_addr, t.buffer_addr);
    rx_desc r;
    r.length = 60;
    r.status = rxd_stat::dd | rxd_stat::eop;
    const auto rb = r.encode();
    EXPECT_EQ(rb[8], 60);
    EXPECT_EQ(rb[12], 3);
    EXPECT_EQ(rx_desc::decode(rb.data()).status, 3);
    // RCTL buffer sizes, SDM Table 13-67.
    EXPECT_EQ(rctl::buffer_size(0), 2048u);
    EXPECT_EQ(rctl::buffer_size(3u << 16), 256u);
    EXPECT_EQ(rctl::buffer_size(1u << 16 | rctl::bsex), 16384u);
}

TEST(E1000Regs, BufferSizeBitsAreTheSdmTable) {
    // SDM Table 13-67 as Linux's e1000_hw.h spells it: E1000_RCTL_SZ_2048 0, SZ_1024 0x10000,
    // SZ_512 0x20000, SZ_256 0x30000; with E1000_RCTL_BSEX (0x02000000) SZ_16384 0x10000,
    // SZ_8192 0x20000, SZ_4096 0x30000.
    EXPECT_EQ(rctl::bsex, 0x0200'0000u);
    EXPECT_EQ(rctl::lpe, 0x20u);  // E1000_RCTL_LPE
    EXPECT_EQ(rctl::size_bits(2048), 0u);
    EXPECT_EQ(rctl::size_bits(1024), 0x1'0000u);
    EXPECT_EQ(rctl::size_bits(512), 0x2'0000u);
    EXPECT_EQ(rctl::size_bits(256), 0x3'0000u);
    EXPECT_EQ(rctl::size_bits(16384), 0x0201'0000u);
    EXPECT_EQ(rctl::size_bits(8192), 0x0202'0000u);
    EXPECT_EQ(rctl::size_bits(4096), 0x0203'0000u);
    for (std::uint32_t b : {256u, 512u, 1024u, 2048u, 4096u, 8192u, 16384u})
        EXPECT_EQ(rctl::buffer_size(rctl::size_bits(b)), b) << b;
    EXPECT_EQ(rctl::size_bits(3000), 0xffff'ffffu);
    EXPECT_EQ(rctl::size_bits(32768), 0xffff'ffffu);
}

TEST_F(fixture, ResetValues) {
    EXPECT_EQ(rd(reg::status), 0x83u);  // FD | LU | SPEED 10b (bits 7:6)
    // MAC 52:54:00:12:34:56: RAL = bytes 0-3 little endian, RAH = bytes 4-5 plus AV (bit 31).
    EXPECT_EQ(rd(reg::ral0), 0x1200'5452u);
    EXPECT_EQ(rd(reg::rah0), 0x8000'5634u);
    wr(reg::rdlen, 256);
    wr(reg::ctrl, ctrl::rst);
    EXPECT_EQ(rd(reg::rdlen), 0u);
    EXPECT_EQ(rd(reg::ctrl) & ctrl::rst, 0u);  // self clearing
}

TEST_F(fixture, IcrReadToClearAndMask) {
    EXPECT_EQ(wr(reg::ics, icr::txdw), 100u);  // masked: no interrupt
    EXPECT_TRUE(irqs.empty());
    EXPECT_EQ(rd(reg::icr), icr::txdw);
    EXPECT_EQ(rd(reg::icr), 0u);  // read cleared it
    wr(reg::ims, icr::rxt0 | icr::txdw);
    EXPECT_EQ(rd(reg::ims), 0x81u);
    wr(reg::imc, icr::txdw);
    EXPECT_EQ(rd(reg::ims), icr::rxt0);
    // A masked cause stays pending; unmasking it raises the line inside the IMS write:
    // now 5000 ns + 100 cycles.
    wr(reg::ics, icr::lsc);
    EXPECT_TRUE(irqs.empty());
    wr(reg::ims, icr::lsc, ns(5000));
    ASSERT_EQ(irqs.size(), 1u);
    EXPECT_EQ(irqs[0], ns(5100));
    // Still asserted: another cause is no new edge. Write 1 to clear drops one cause.
    wr(reg::ics, icr::rxt0);
    EXPECT_EQ(irqs.size(), 1u);
    wr(reg::icr, icr::lsc);
    EXPECT_EQ(dev->peek(reg::icr), icr::rxt0);
    EXPECT_EQ(rd(reg::icr), icr::rxt0);
    EXPECT_FALSE(dev->irq_level());
    wr(reg::ics, icr::rxt0);
    EXPECT_EQ(irqs.size(), 2u);
    EXPECT_EQ(dev->stats().interrupts.value(), 2u);
}

TEST_F(fixture, BadRegisterAccessesAreCounted) {
    std::uint64_t v = 7;
    dev->read(reg::status, 2, v, 0);  // not 4 bytes
    EXPECT_EQ(v, 0u);
    dev->read(reg::status + 1, 4, v, 0);  // unaligned
    dev->write(e1000_bar_size, 4, 1, 0);  // outside BAR0
    dev->write(0x0004, 4, 1, 0);          // no register there
    EXPECT_EQ(rd(0x0004), 0u);
    EXPECT_EQ(dev->stats().bad_accesses.value(), 5u);
    wr(reg::status, 0);  // read only
    EXPECT_EQ(rd(reg::status), 0x83u);
}

TEST_F(fixture, TransmitsFrameByteIdenticalWithWriteBackAndInterrupt) {
    setup_tx();
    wr(reg::ims, icr::txdw);
    const auto f = frame(100, 1);
    put_tx(0, tx_buf, f, txd_cmd::eop | txd_cmd::ifcs | txd_cmd::rs);
    // TDT write at 1000 ns: register 100 + descriptor (map 150 + 1 line 8) + buffer (150 + 100
    // bytes from a 64-aligned address = 2 lines, 16) + tap write 2500 + DD write-back (150 + 8).
    const std::uint64_t c = wr(reg::tdt, 1, ns(1000));
    EXPECT_EQ(c, 100u + 158 + 166 + 2500 + 158);
    ASSERT_EQ(tap.size(), 1u);
    EXPECT_EQ(tap[0].first, f);
    EXPECT_EQ(tap[0].second, ns(1000 + 100 + 158 + 166 + 2500));
    EXPECT_EQ(guest_read(tx_ring + 12, 1)[0], txd_sta::dd);
    EXPECT_EQ(rd(reg::tdh), 1u);
    ASSERT_EQ(irqs.size(), 1u);
    EXPECT_EQ(irqs[0], ns(1000 + 3082));
    EXPECT_EQ(rd(reg::icr), icr::txdw | icr::txqe);
    EXPECT_EQ(rd(reg::gptc), 1u);
    EXPECT_EQ(rd(reg::gptc), 0u);  // read to clear
}

TEST_F(fixture, TransmitWrapsAroundAndGathersDescriptors) {
    setup_tx();  // 8 descriptors
    wr(reg::tdh, 6);
    wr(reg::tdt, 6);
    const auto a = frame(70, 10), b = frame(80, 20);
    // Frame a in descriptor 6; frame b split over 7 (first 30 bytes) and 0 (the rest, EOP).
    put_tx(6, tx_buf, a, txd_cmd::eop | txd_cmd::rs);
    put_tx(7, tx_buf + 0x1000, std::vector<std::uint8_t>(b.begin(), b.begin() + 30), 0);
    put_tx(0, tx_buf + 0x2000, std::vector<std::uint8_t>(b.begin() + 30, b.end()),
           txd_cmd::eop | txd_cmd::rs);
    wr(reg::tdt, 1);
    ASSERT_EQ(tap.size(), 2u);
    EXPECT_EQ(tap[0].first, a);
    EXPECT_EQ(tap[1].first, b);
    EXPECT_EQ(rd(reg::tdh), 1u);                            // 6, 7, 0 done: wrapped to 1
    EXPECT_EQ(guest_read(tx_ring + 7 * 16 + 12, 1)[0], 0);  // no RS: no write-back
    EXPECT_EQ(guest_read(tx_ring + 0 * 16 + 12, 1)[0], txd_sta::dd);
    // A short frame is padded to 60 bytes with PSP.
    put_tx(1, tx_buf, frame(20, 0), txd_cmd::eop);
    wr(reg::tdt, 2);
    ASSERT_EQ(tap.size(), 3u);
    EXPECT_EQ(tap[2].first.size(), 60u);
    // Nothing is sent while the transmitter is off.
    wr(reg::tctl, 0);
    put_tx(2, tx_buf, a, txd_cmd::eop);
    wr(reg::tdt, 3);
    EXPECT_EQ(tap.size(), 3u);
    wr(reg::tctl, tctl::en);  // enabling it sends what is queued
    EXPECT_EQ(tap.size(), 4u);
}

TEST_F(fixture, ReceivesFrameByteIdentical) {
    setup_rx();
    wr(reg::ims, icr::rxt0);
    const auto f = frame(100, 3);
    // Descriptor read (150 + 8) + buffer write (150 + 2 lines 16) + write-back (150 + 8).
    EXPECT_EQ(dev->receive(f, ns(2000)), 158u + 166 + 158);
    EXPECT_EQ(guest_read(rx_buf, 100), f);
    const rx_desc d = rxd(0);
    EXPECT_EQ(d.length, 100);
    EXPECT_EQ(d.status, rxd_stat::dd | rxd_stat::eop);
    EXPECT_EQ(d.buffer_addr, rx_buf);  // the address is left as the driver wrote it
    EXPECT_EQ(rd(reg::rdh), 1u);
    ASSERT_EQ(irqs.size(), 1u);
    EXPECT_EQ(irqs[0], ns(2000 + 482));
    EXPECT_EQ(rd(reg::icr), icr::rxt0);
    EXPECT_EQ(rd(reg::gprc), 1u);
    // A short frame is padded to 60 bytes, as QEMU does.
    dev->receive(frame(30, 0), 0);
    EXPECT_EQ(rxd(1).length, 60);
}

TEST_F(fixture, ReceiveSpansDescriptorsAndWraps) {
    setup_rx(rctl::bam | 3u << rctl::bsize_shift, 7);  // 256-byte buffers
    wr(reg::rdh, 6);
    wr(reg::rdt, 3);  // the device owns 6, 7, 0, 1, 2
    const auto f = frame(600, 5);
    dev->receive(f, 0);  // 256 + 256 + 88: descriptors 6, 7, 0
    EXPECT_EQ(rxd(6).length, 256);
    EXPECT_EQ(rxd(6).status, rxd_stat::dd);
    EXPECT_EQ(rxd(7).length, 256);
    EXPECT_EQ(rxd(0).length, 88);
    EXPECT_EQ(rxd(0).status, rxd_stat::dd | rxd_stat::eop);
    std::vector<std::uint8_t> got = guest_read(rx_buf + 6 * 0x1000, 256);
    const auto b7 = guest_read(rx_buf + 7 * 0x1000, 256), b0 = guest_read(rx_buf, 88);
    got.insert(got.end(), b7.begin(), b7.end());
    got.insert(got.end(), b0.begin(), b0.end());
    EXPECT_EQ(got, f);
    EXPECT_EQ(rd(reg::rdh), 1u);
    // Two descriptors left (1, 2): another 600-byte frame needs three: missed, RXO.
    dev->receive(f, 0);
    EXPECT_EQ(rd(reg::rdh), 1u);
    EXPECT_EQ(rd(reg::mpc), 1u);
    EXPECT_EQ(rd(reg::icr) & icr::rxo, icr::rxo);
}

TEST_F(fixture, CanReceiveIsQemusCheckAndRctlOrRdtWritesSayReady) {
    std::vector<tick_t> ready;
    dev->set_rx_ready([&](tick_t at) { ready.push_back(at); });
    EXPECT_FALSE(dev->can_receive(100));               // RCTL.EN off
    setup_rx(rctl::bam | 3u << rctl::bsize_shift, 7);  // 256-byte buffers; RDT and RCTL written
    EXPECT_EQ(ready.size(), 2u);
    // RDH 0, RDT 7: descriptors 0..6 are the device's, 7 x 256 bytes.
    EXPECT_TRUE(dev->can_receive(7 * 256));
    EXPECT_FALSE(dev->can_receive(7 * 256 + 1));  // 8 buffers
    EXPECT_TRUE(dev->can_receive(10));            // padded to 60: one buffer
    wr(reg::rdt, 0);                              // RDH == RDT: none is the device's
    EXPECT_FALSE(dev->can_receive(60));
    wr(reg::rdt, 1, ns(500));
    EXPECT_TRUE(dev->can_receive(60));
    ASSERT_EQ(ready.size(), 4u);
    // When the write has taken effect: 500 ns plus the register access, 100 cycles at 1 GHz.
    EXPECT_EQ(ready.back(), ns(500 + params.reg_access_cycles));
    wr(reg::rctl, 0);
    EXPECT_FALSE(dev->can_receive(60));
}

TEST_F(fixture, ReceiveAddressFilter) {
    setup_rx(0);
    dev->receive(frame(64, 0, 0x0200'0000'0099ull), 0);  // another station
    dev->receive(frame(64, 0, 0xffff'ffff'ffffull), 0);  // broadcast without BAM
    EXPECT_EQ(dev->stats().rx_filtered.value(), 2u);
    wr(reg::rctl, rctl::en | rctl::bam);
    dev->receive(frame(64, 0, 0xffff'ffff'ffffull), 0);
    wr(reg::rctl, rctl::en | rctl::upe);
    dev->receive(frame(64, 0, 0x0200'0000'0099ull), 0);
    EXPECT_EQ(dev->stats().rx_frames.value(), 2u);
    wr(reg::rctl, 0);  // receiver off
    dev->receive(frame(64, 0), 0);
    dev->receive(frame(2000, 0), 0);  // too long without LPE, once enabled
    wr(reg::rctl, rctl::en);
    dev->receive(frame(2000, 0), 0);
    EXPECT_EQ(dev->stats().rx_dropped.value(), 2u);   // two while off
    EXPECT_EQ(dev->stats().rx_oversize.value(), 1u);  // one too long
}

TEST_F(fixture, LongFramesNeedLongPacketEnable) {
    // SDM §13.7 (ROC): without RCTL.LPE a frame longer than 1522 bytes with its FCS is oversize.
    // The tap's frames carry no FCS: 1518 bytes (1522 on the wire) is the longest taken.
    setup_rx();
    dev->receive(frame(1518, 1), 0);
    EXPECT_EQ(dev->stats().rx_frames.value(), 1u);
    EXPECT_EQ(rxd(0).length, 1518);
    dev->receive(frame(1519, 1), 0);
    EXPECT_EQ(dev->stats().rx_frames.value(), 1u);
    EXPECT_EQ(dev->stats().rx_oversize.value(), 1u);
    EXPECT_EQ(dev->stats().rx_dropped.value(), 0u);
    EXPECT_EQ(rd(reg::rdh), 1u);  // no descriptor used
    EXPECT_EQ(rd(reg::roc), 1u);
    EXPECT_EQ(rd(reg::roc), 0u);  // statistics registers clear on read
    EXPECT_EQ(rd(reg::gprc), 1u);
    // ROC counts frames that pass the address filter: another station's is only filtered.
    dev->receive(frame(2000, 0, 0x0200'0000'0099ull), 0);
    EXPECT_EQ(dev->stats().rx_filtered.value(), 1u);
    EXPECT_EQ(dev->stats().rx_oversize.value(), 1u);

    // LPE with 16 KiB buffers (BSEX, BSIZE 01b): a 9014-byte frame (9018 with FCS) in one buffer.
    wr(reg::rctl, rctl::en | rctl::bam | rctl::lpe | rctl::size_bits(16384));
    const auto jumbo = frame(9014, 7);
    dev->receive(jumbo, 0);
    EXPECT_EQ(rxd(1).length, 9014);
    EXPECT_EQ(rxd(1).status, rxd_stat::dd | rxd_stat::eop);
    EXPECT_EQ(guest_read(rx_buf + 0x1000, 9014), jumbo);
    // With LPE the limit is 16384 bytes with FCS: 16380 without is taken, 16381 is oversize.
    dev->receive(frame(16381, 0), 0);
    EXPECT_EQ(dev->stats().rx_oversize.value(), 2u);
    dev->receive(frame(16380, 0), 0);
    EXPECT_EQ(rxd(2).length, 16380);
    EXPECT_EQ(rxd(2).status, rxd_stat::dd | rxd_stat::eop);
    EXPECT_EQ(dev->stats().rx_frames.value(), 3u);
    EXPECT_EQ(rd(reg::roc), 1u);
}

TEST_F(fixture, MalformedRxRingStopsTheQueue) {
    wr(reg::rctl, rctl::en);  // RDLEN still 0
    dev->receive(frame(64, 0), 0);
    EXPECT_TRUE(dev->rx_stopped());
    EXPECT_EQ(dev->stats().ring_errors.value(), 1u);
    dev->receive(frame(64, 0), 0);  // stopped: dropped, no second error
    EXPECT_EQ(dev->stats().ring_errors.value(), 1u);
    EXPECT_EQ(dev->stats().rx_dropped.value(), 1u);
    wr(reg::ctrl, ctrl::rst);  // reset restarts it
    EXPECT_FALSE(dev->rx_stopped());
    setup_rx();
    wr(reg::rdlen, 100);  // bits 6:0 are ignored: RDLEN reads 0, an empty ring
    dev->receive(frame(64, 0), 0);
    EXPECT_TRUE(dev->rx_stopped());
    EXPECT_EQ(dev->stats().ring_errors.value(), 2u);
}

TEST_F(fixture, RxBufferOutsideGuestRamStopsTheQueue) {
    setup_rx();
    rx_desc d;
    d.buffer_addr = ram_size - 10;  // the frame would run past the end of guest RAM
    const auto raw = d.encode();
    guest_write(rx_ring, raw.data(), 16);
    dev->receive(frame(64, 0), 0);
    EXPECT_TRUE(dev->rx_stopped());
    EXPECT_EQ(dev->stats().dma_errors.value(), 1u);
    EXPECT_EQ(rd(reg::rdh), 0u);
    EXPECT_EQ(store.out_of_range(), 0u);  // nothing written anywhere
    // A ring base outside guest RAM as well.
    wr(reg::ctrl, ctrl::rst);
    setup_rx();
    wr(reg::rdbal, 0x8000'0000);
    dev->receive(frame(64, 0), 0);
    EXPECT_EQ(dev->stats().dma_errors.value(), 2u);
}

TEST_F(fixture, MalformedTxRingStopsTheQueue) {
    setup_tx(100);  // bits 6:0 are ignored: TDLEN reads 0, an empty ring
    put_tx(0, tx_buf, frame(64, 0), txd_cmd::eop);
    wr(reg::tdt, 1);
    EXPECT_TRUE(dev->tx_stopped());
    EXPECT_EQ(dev->stats().ring_errors.value(), 1u);
    EXPECT_TRUE(tap.empty());
    wr(reg::ctrl, ctrl::rst);
    setup_tx();
    wr(reg::tdt, 9);  // past the 8-descriptor ring
    EXPECT_TRUE(dev->tx_stopped());
    EXPECT_EQ(dev->stats().ring_errors.value(), 2u);
    wr(reg::ctrl, ctrl::rst);
    setup_tx();
    put_tx(0, tx_buf, frame(64, 0), txd_cmd::eop | txd_cmd::rs);
    tx_desc bad;
    bad.buffer_addr = 0x4000'0000;  // not guest RAM
    bad.length = 64;
    bad.cmd = txd_cmd::eop | txd_cmd::rs;
    const auto raw = bad.encode();
    guest_write(tx_ring + 16, raw.data(), 16);
    wr(reg::tdt, 2);
    EXPECT_EQ(tap.size(), 1u);  // descriptor 0 went out, 1 stopped the queue
    EXPECT_TRUE(dev->tx_stopped());
    EXPECT_EQ(dev->stats().dma_errors.value(), 1u);
    EXPECT_EQ(rd(reg::tdh), 1u);
}

// RDLEN/TDLEN bits 6:0 are ignored on write and read as 0 (SDM §13.4.28, §13.4.39): a length
// that is not a multiple of 128 cannot be programmed, so it never stops a queue.
TEST_F(fixture, RingLengthLowBitsReadAsZero) {
    wr(reg::rdlen, 0xfffff);
    EXPECT_EQ(rd(reg::rdlen), 0xfff80u);  // bits 19:7
    setup_tx(128 + 0x55);
    EXPECT_EQ(rd(reg::tdlen), 128u);  // 8 descriptors
    put_tx(0, tx_buf, frame(64, 0), txd_cmd::eop | txd_cmd::rs);
    wr(reg::tdt, 1);
    EXPECT_FALSE(dev->tx_stopped());
    ASSERT_EQ(tap.size(), 1u);
    EXPECT_EQ(dev->stats().ring_errors.value(), 0u);
}

// A frame gathers at most 64 KiB, as QEMU's e1000 TX buffer: 40000 + 40000 bytes go out as the
// first 65536 (all of the first buffer, 25536 of the second); 65535 + 1 bytes fill it exactly, so
// a third buffer outside guest RAM is never read (no DMA error); each cut frame counts once.
TEST_F(fixture, TxFrameIsCutAtSixtyFourKib) {
    constexpr std::uint64_t a = 0x40000, b = 0x60000, c = 0x80000;
    setup_tx();
    std::vector<std::uint8_t> pa(40000), pb(40000), pc(65535);
    std::iota(pa.begin(), pa.end(), 1);
    std::iota(pb.begin(), pb.end(), 7);
    std::iota(pc.begin(), pc.end(), 3);
    put_tx(0, a, pa, 0);
    put_tx(1, b, pb, txd_cmd::eop | txd_cmd::rs);
    put_tx(2, c, pc, 0);
    put_tx(3, tx_buf, {0x5a}, 0);
    tx_desc outside;
    outside.buffer_addr = 0x4000'0000;  // not guest RAM
    outside.length = 64;
    outside.cmd = txd_cmd::eop | txd_cmd::rs;
    const auto raw = outside.encode();
    guest_write(tx_ring + 4 * 16, raw.data(), 16);
    put_tx(5, tx_buf + 0x1000, frame(100, 9), txd_cmd::eop | txd_cmd::rs);
    wr(reg::tdt, 6);
    EXPECT_FALSE(dev->tx_stopped());
    EXPECT_EQ(dev->stats().dma_errors.value(), 0u);
    EXPECT_EQ(rd(reg::tdh), 6u);
    ASSERT_EQ(tap.size(), 3u);
    std::vector<std::uint8_t> want(pa);
    want.insert(want.end(), pb.begin(), pb.begin() + (65536 - 40000));
    EXPECT_EQ(tap[0].first, want);
    want = pc;
    want.push_back(0x5a);
    EXPECT_EQ(tap[1].first, want);
    EXPECT_EQ(tap[2].first, frame(100, 9));
    EXPECT_EQ(dev->stats().tx_truncated.value(), 2u);
    EXPECT_EQ(dev->stats().tx_frames.value(), 3u);
    EXPECT_EQ(dev->stats().tx_bytes.value(), 65536u + 65536u + 100u);
}

TEST(E1000Device, RejectsClock) {
    mem::sparse_store s(1 << 20);
    cpu::sparse_store_memory m(s);
    cpu::ept map;
    e1000_params p;
    p.cpu_clock_hz = 0;
    EXPECT_THROW(e1000_device(p, map, m), std::invalid_argument);
}

}  // namespace
}  // namespace iovsim::emunic

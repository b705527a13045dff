// The host IOMMU driver against the register file: what init() programs, tables that the walker
// translates as mapped (with superpages where allowed), strict and deferred unmaps with their
// invalidation timing worked out by hand, the deferred stale window, the 10 ms timer, register-
// based invalidation, pass-through and per-buffer host modes, and interrupt remapping setup.
//
// Timing of the model host below: every register or memory access by the CPU takes 100 ns (it
// is performed at its start time), spend() adds its argument, and host memory answers the
// IOMMU in 10 ns per access. The register file's defaults: descriptor_latency 10 ns,
// invalidation_latency 50 ns, command_latency 100 ns. The driver's entry_write_cost is 5 ns.
#include "iommu/driver.h"

#include <gtest/gtest.h>

#include <stdexcept>

#include "iommu/tests/fixed_memory.h"

namespace iovsim::iommu {
namespace {

constexpr tick_t ns = ticks_per_ns;
constexpr std::uint64_t regs_base = 0xfed9'0000;
constexpr std::uint16_t sid = 0x0300;  // 03:00.0

using testing::fixed_memory;  // every access 10 ns

// The CPU: accesses the register page or memory directly, 100 ns each.
class model_cpu final : public host_access {
public:
    model_cpu(vtd_registers& r, mem::sparse_store& s) : m_regs(r), m_store(s) {}
    std::uint32_t read32(std::uint64_t a) override {
        const tick_t at = step();
        std::uint64_t v = 0;
        if (a >= regs_base && a < regs_base + 0x1000) {
            m_regs.read(static_cast<std::uint32_t>(a - regs_base), 4, v, at);
            return static_cast<std::uint32_t>(v);
        }
        m_regs.advance(at);
        std::uint32_t w = 0;
        m_store.read_u32(a, w);
        return w;
    }
    void write32(std::uint64_t a, std::uint32_t v) override {
        const tick_t at = step();
        if (a >= regs_base && a < regs_base + 0x1000)
            m_regs.write(static_cast<std::uint32_t>(a - regs_base), 4, v, at);
        else
            m_store.write_u32(a, v);
    }
    void write_mem(std::uint64_t a, const void* d, std::uint32_t n) override {
        step();
        m_store.write(a, d, n);
    }
    tick_t now() const override { return m_now; }
    void spend(tick_t t) override { m_now += t; }

private:
    tick_t step() {
        const tick_t at = m_now;
        m_now += 100 * ns;
        return at;
    }
    vtd_registers& m_regs;
    mem::sparse_store& m_store;
    tick_t m_now = 0;
};

struct host {
    explicit host(driver_params p = {})
        : store(4ull << 30),
          memory(store),
          faults(8),
          dma(memory, faults),
          ir(memory, faults),
          regs(dma, ir, faults, memory),
          cpu(regs, store),
          drv(cpu, store, p) {}
    translation read(std::uint64_t iova, tick_t at = 0) {
        return dma.translate(sid, iova, false, at ? at : cpu.now());
    }

    mem::sparse_store store;
    fixed_memory memory;
    fault_log faults;
    dma_remapper dma;
    interrupt_remapper ir;
    vtd_registers regs;
    model_cpu cpu;
    driver drv;
};

driver_params small_pool() {
    driver_params p;
    p.pool_base = 0x7000'0000;
    p.pool_size = 64ull << 20;
    return p;
}

TEST(Driver, InitEnablesTranslationThroughTheRegisters) {
    host h(small_pool());
    h.drv.init();
    EXPECT_TRUE(h.drv.using_queue());
    EXPECT_EQ(h.dma.root_table(), h.drv.rtaddr());
    EXPECT_TRUE(h.regs.translation_enabled(h.cpu.now()));
    EXPECT_TRUE(h.regs.queued_invalidation_enabled(h.cpu.now()));
    // init: a global context-cache and a global IOTLB invalidation, each with its wait.
    EXPECT_EQ(h.regs.stats().context_invalidations, 1u);
    EXPECT_EQ(h.regs.stats().iotlb_inv_global, 1u);
    EXPECT_EQ(h.regs.stats().wait_descriptors, 2u);
    EXPECT_EQ(h.drv.stats().waits, 2u);
}

TEST(Driver, MappedTablesTranslateAsMapped) {
    host h(small_pool());
    h.drv.init();
    const std::uint16_t did = h.drv.create_domain();
    // 4 MiB + 8 KiB at a 2 MiB aligned IOVA and HPA: two 2 MiB pages, then two 4 KiB pages.
    const std::uint64_t iova = 0x4000'0000, hpa = 0x1'2340'0000 & ~(page_2m - 1);
    h.drv.map(did, iova, hpa, 2 * page_2m + 2 * page_4k);
    h.drv.attach(sid, did);
    EXPECT_EQ(h.drv.stats().pages_2m, 2u);
    EXPECT_EQ(h.drv.stats().pages_4k, 2u);
    const translation a = h.read(iova + 0x12345);
    ASSERT_TRUE(a.ok());
    EXPECT_EQ(a.hpa, hpa + 0x12345);
    EXPECT_EQ(a.page_size, page_2m);
    EXPECT_EQ(a.did, did);
    const translation b = h.read(iova + 2 * page_2m + page_4k + 8);
    ASSERT_TRUE(b.ok());
    EXPECT_EQ(b.hpa, hpa + 2 * page_2m + page_4k + 8);
    EXPECT_EQ(b.page_size, page_4k);
    EXPECT_EQ(h.read(iova + 2 * page_2m + 2 * page_4k).fault, fault_reason::read_not_permitted);
    // Without superpages the same range takes 2 x 512 + 2 = 1026 4 KiB pages.
    driver_params p = small_pool();
    p.superpages = false;
    host g(p);
    g.drv.init();
    const std::uint16_t d2 = g.drv.create_domain();
    g.drv.map(d2, iova, hpa, 2 * page_2m + 2 * page_4k);
    EXPECT_EQ(g.drv.stats().pages_4k, 1026u);
    EXPECT_EQ(g.drv.stats().pages_2m, 0u);
    // A misaligned superpage mapping: IOVA 2 MiB aligned but HPA only 4 KiB: 4 KiB pages.
    g.drv.map(d2, 0x8000'0000, hpa + page_4k, page_2m);
    EXPECT_EQ(g.drv.stats().pages_4k, 1026u + 512u);
    EXPECT_THROW(g.drv.map(d2, 0x123, hpa, page_4k), std::invalid_argument);
    EXPECT_THROW(g.drv.map_pages(d2, page_4k, hpa, page_2m, page_2m), std::invalid_argument);
}

TEST(Driver, StrictUnmapInvalidatesBeforeReturning) {
    host h(small_pool());
    h.drv.init();
    const std::uint16_t did = h.drv.create_domain();
    h.drv.map(did, 0x10000, 0x1'0000'0000, 4 * page_4k);
    h.drv.attach(sid, did);
    ASSERT_TRUE(h.read(0x11000).ok());
    ASSERT_TRUE(h.read(0x11000).iotlb_hit);
    const tick_t t0 = h.cpu.now();
    h.drv.unmap(did, 0x11000, page_4k, unmap_policy::strict);
    // PTE clear 5 ns; IOTLB PSI descriptor, wait descriptor, IQT write: 3 x 100 ns; the IOMMU
    // runs from the IQT write (t0 + 205): PSI read 10 + decode 10 + invalidate 50, wait read 10
    // + decode 10 -> status at t0 + 295; the first poll (at t0 + 305) sees it: + 100 ns.
    EXPECT_EQ(h.cpu.now() - t0, 405 * ns);
    EXPECT_EQ(h.regs.stats().iotlb_inv_page, 1u);
    // The stale translation is gone the moment unmap returns.
    EXPECT_EQ(h.read(0x11000).fault, fault_reason::read_not_permitted);
    EXPECT_TRUE(h.read(0x12000).ok());
}

TEST(Driver, StrictUnmapWidensTheAddressMask) {
    host h(small_pool());
    h.drv.init();
    const std::uint16_t did = h.drv.create_domain();
    h.drv.map(did, 0, 0x1'0000'0000, 16 * page_4k);
    h.drv.attach(sid, did);
    for (int i = 0; i < 16; ++i) ASSERT_TRUE(h.read(i * page_4k).ok());
    // Pages 3..4 (0x3000..0x4fff) are not inside one aligned pair: AM grows to 3 (0x0..0x7fff).
    h.drv.unmap(did, 3 * page_4k, 2 * page_4k, unmap_policy::strict);
    EXPECT_FALSE(h.read(0x7000).iotlb_hit);  // invalidated along
    EXPECT_TRUE(h.read(0x8000).iotlb_hit);   // outside the block
}

TEST(Driver, DeferredUnmapLeavesAStaleWindowUntilTheBatchFlush) {
    driver_params p = small_pool();
    host h(p);  // flush_batch 250
    h.drv.init();
    const std::uint16_t did = h.drv.create_domain();
    h.drv.map(did, 0, 0x1'0000'0000, 250 * page_4k);
    h.drv.attach(sid, did);
    ASSERT_TRUE(h.read(0).ok());
    tick_t t0 = h.cpu.now();
    h.drv.unmap(did, 0, page_4k, unmap_policy::deferred);
    EXPECT_EQ(h.cpu.now() - t0, 5 * ns);  // the PTE clear only
    // The stale window: the IOTLB still translates the unmapped page (Linux's lazy mode).
    const translation stale = h.read(0);
    EXPECT_TRUE(stale.ok());
    EXPECT_TRUE(stale.iotlb_hit);
    EXPECT_EQ(h.drv.deferred_pending(0), 1u);
    for (int i = 1; i < 249; ++i) h.drv.unmap(did, i * page_4k, page_4k, unmap_policy::deferred);
    EXPECT_TRUE(h.read(0).ok());  // 249 queued: still stale
    t0 = h.cpu.now();
    h.drv.unmap(did, 249 * page_4k, page_4k, unmap_policy::deferred);
    // The 250th: PTE clear 5 ns + one domain-selective IOTLB descriptor and a wait, timed as in
    // the strict case: 400 ns.
    EXPECT_EQ(h.cpu.now() - t0, 405 * ns);
    EXPECT_EQ(h.drv.deferred_pending(0), 0u);
    EXPECT_EQ(h.drv.stats().flushes_by_batch, 1u);
    EXPECT_EQ(h.regs.stats().iotlb_inv_domain, 1u);
    EXPECT_EQ(h.regs.stats().iotlb_inv_page, 0u);
    EXPECT_EQ(h.read(0).fault, fault_reason::read_not_permitted);
}

TEST(Driver, DeferredQueueFlushesAfterTenMilliseconds) {
    host h(small_pool());
    h.drv.init();
    const std::uint16_t did = h.drv.create_domain();
    h.drv.map(did, 0, 0x1'0000'0000, 2 * page_4k);
    h.drv.attach(sid, did);
    ASSERT_TRUE(h.read(0).ok());
    h.drv.unmap(did, 0, page_4k, unmap_policy::deferred);
    const tick_t queued = h.cpu.now();  // the queue's oldest entry, after its PTE clear
    h.cpu.spend(10 * ticks_per_ms - 1 * ticks_per_us);
    h.drv.run_timers();
    EXPECT_EQ(h.drv.deferred_pending(0), 1u);  // 10 ms not yet reached
    EXPECT_TRUE(h.read(0).iotlb_hit);
    h.cpu.spend(queued + 10 * ticks_per_ms - h.cpu.now());
    h.drv.run_timers();
    EXPECT_EQ(h.drv.deferred_pending(0), 0u);
    EXPECT_EQ(h.drv.stats().flushes_by_timer, 1u);
    EXPECT_EQ(h.read(0).fault, fault_reason::read_not_permitted);
}

TEST(Driver, RegisterBasedInvalidation) {
    driver_params p = small_pool();
    p.queued_invalidation = false;
    host h(p);
    h.drv.init();
    EXPECT_FALSE(h.drv.using_queue());
    EXPECT_FALSE(h.regs.queued_invalidation_enabled(h.cpu.now()));
    const std::uint16_t did = h.drv.create_domain();
    h.drv.map(did, 0, 0x1'0000'0000, page_4k);
    h.drv.attach(sid, did);
    ASSERT_TRUE(h.read(0).iotlb_hit == false);
    ASSERT_TRUE(h.read(0).iotlb_hit);
    const tick_t t0 = h.cpu.now();
    h.drv.unmap(did, 0, page_4k, unmap_policy::strict);
    // PTE 5 ns; IVA_REG (2 writes) and IOTLB_REG (2 writes): IVT set by the upper half at
    // t0 + 305 ns, busy for 50 ns; the first poll at t0 + 405 sees it clear: 5 + 5 x 100.
    EXPECT_EQ(h.cpu.now() - t0, 505 * ns);
    EXPECT_EQ(h.regs.stats().register_invalidations, 4u);  // init: 2, attach: 1, unmap: 1
    EXPECT_EQ(h.read(0).fault, fault_reason::read_not_permitted);
}

TEST(Driver, HostModes) {
    {
        host h(small_pool());  // pt
        h.drv.init();
        h.drv.attach_host_device(sid);
        const translation t = h.read(0x1'2345'6789);
        EXPECT_TRUE(t.pass_through);
        EXPECT_EQ(t.hpa, 0x1'2345'6789u);
        EXPECT_EQ(h.drv.dma_map(sid, 0x5000, 64), 0x5000u);  // pt: the IOVA is the HPA
    }
    driver_params p = small_pool();
    p.mode = host_mode::strict;
    host h(p);
    h.drv.init();
    h.drv.attach_host_device(sid);
    // A 100 B buffer at HPA 0x2'0000'0ff0 spans two pages; its IOVA keeps the page offset.
    const std::uint64_t iova = h.drv.dma_map(sid, 0x2'0000'0ff0, 100);
    EXPECT_EQ(iova, p.host_iova_base + 0xff0);
    EXPECT_EQ(h.read(iova).hpa, 0x2'0000'0ff0u);
    EXPECT_EQ(h.read(iova + 0x10).hpa, 0x2'0000'1000u);
    h.drv.dma_unmap(sid, iova, 100);
    EXPECT_EQ(h.read(iova).fault, fault_reason::read_not_permitted);
    EXPECT_EQ(h.drv.stats().leaves_cleared, 2u);
}

TEST(Driver, InterruptRemappingSetup) {
    host h(small_pool());
    h.drv.init();
    h.drv.setup_interrupt_remapping(7);  // 2^8 = 256 entries
    EXPECT_TRUE(h.regs.interrupt_remapping_enabled(h.cpu.now()));
    EXPECT_EQ(h.ir.table_entries(), 256u);
    EXPECT_EQ(h.regs.stats().iec_invalidations, 1u);
    h.drv.set_irte(5, make_remapped_irte(2, 0x51));
    const interrupt_result r = h.ir.remap(sid, make_remappable_msi_address(5), 0, h.cpu.now());
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r.kind, interrupt_kind::remapped);
    EXPECT_EQ(r.vector, 0x51);
    EXPECT_EQ(r.destination, 2u);
}

TEST(Driver, QueueErrorIsReportedAndCleared) {
    host h(small_pool());
    h.drv.init();
    // Corrupt the descriptor the next submission will use by making the queue hit an error
    // first: a tail written beyond the queue sets IQE; the driver's next wait sees it.
    h.regs.write(reg::IQT_REG, 4, 300 << 4, h.cpu.now());
    EXPECT_THROW(h.drv.invalidate_iotlb_global(), std::runtime_error);
    EXPECT_EQ(h.drv.stats().queue_errors, 1u);
    std::uint64_t fsts = 0;
    h.regs.read(reg::FSTS_REG, 4, fsts, h.cpu.now());
    EXPECT_EQ(fsts & reg::fsts_iqe, 0u);  // cleared by the driver
    h.drv.invalidate_iotlb_global();      // and the queue works again
    EXPECT_EQ(h.drv.stats().queue_errors, 1u);
}

}  // namespace
}  // namespace iovsim::iommu

// Posted interrupts end to end (DESIGN.md §4): a device's MSI enters the IOMMU's interrupt
// remapping unit with its requester ID; a posted-format IRTE (programmed by the host's IOMMU
// driver) names the posted-interrupt descriptor KVM keeps for a vCPU in host memory; the unit
// sets the vector's PIR bit and ON in those bytes and, when due, sends the notification vector to
// the core NDST names, into KVM's interrupt entry. Three cases: the vCPU runs (spinning, 0xf2, no
// exit), is blocked after HLT (NV = 0xf1, the wake-up handler wakes it: the HLT is the only
// exit), is preempted (SN set: no notification; delivered at the next vcpu_load).
//
// Timing, from the defaults: CPU clock set to 1 GHz (N cycles = N ns). The IOMMU's remapping: 2 ns
// decode (lookup_latency), then each table access crosses iommu.table_read_latency = 165 ns
// (82.5 ns each way) around memory's own time; a write is posted, so it is done when memory has
// it (no return trip). The IRTE and the descriptor were written without touching the LLC, so the
// IRTE read and the descriptor read miss: 80 ns of DRAM each; the descriptor write is a device
// write, allocated by DDIO: 20 ns. So
//   2 + (82.5 + 80 + 82.5) + (82.5 + 80 + 82.5) + (82.5 + 20) = 594.5 ns
// from the MSI to the notification. VM entry 250 ns, host.wakeup_latency 2 us, kvm.halt_poll
// 200 us, the HLT exit reaches KVM after 250 + 937 = 1187 ns.
#include <gtest/gtest.h>

#include <array>
#include <functional>
#include <systemc>

#include "iommu/driver.h"
#include "iommu/iommu.h"
#include "iommu/tests/shell_harness.h"
#include "models/core/sc_glue.h"
#include "models/cpu/kvm.h"
#include "models/cpu/memory_view.h"
#include "models/cpu/tests/trap_harness.h"
#include "models/cpu/vcpu.h"
#include "models/mem/memory.h"
#include "models/pcie/tlp.h"

namespace iovsim {
namespace {

constexpr std::uint16_t device = 0x0100;  // 01:00.0
constexpr std::uint64_t vm_ram = 0x1'0000'0000;
constexpr std::uint64_t vm_ram_size = 16 << 20;
constexpr std::uint64_t pid = vm_ram + vm_ram_size;  // KVM's descriptor, after the VM's RAM
constexpr std::uint8_t vec = 0x50;                   // guest vector, in the IRTE
constexpr std::uint16_t irte_index = 5;
constexpr unsigned vcpu_core = 1;  // NDST = 1 (x2APIC), so the notification is not at core 0
constexpr tick_t ns = ticks_per_ns;
constexpr tick_t us = ticks_per_us;
constexpr tick_t remap = 594'500;  // ps  // MSI to notification, worked out above

// The host CPU running the IOMMU driver, and the device that sends the MSI (a TLM write with a
// tlp_extension requester ID into the IOMMU's irq_in): the IOMMU tests' harness.
using host_and_device = iommu::testing::cpu_and_device;

// The device's MSI through the remappable-format IRTE: does not wait, so the caller sees the
// descriptor as the IOMMU left it.
void send_msi(host_and_device& h) {
    std::uint32_t data = 0;  // SHV = 0: the handle is the index
    h.access(h.irq, tlm::TLM_WRITE_COMMAND, iommu::make_remappable_msi_address(irte_index), &data,
             4, device, pcie::address_type::untranslated, false);
}

// The descriptor's fields read back from its 64 bytes in memory (VT-d §9.12).
struct pid_bytes {
    std::array<std::uint8_t, 64> b{};
    bool pir(std::uint8_t v) const { return (b[v / 8] >> (v % 8)) & 1; }
    bool pir_empty() const {
        for (unsigned i = 0; i < 32; ++i)
            if (b[i]) return false;
        return true;
    }
    bool on() const { return b[32] & 1; }         // bit 256
    bool sn() const { return (b[32] >> 1) & 1; }  // bit 257
    std::uint8_t nv() const { return b[34]; }     // bits 279:272
    std::uint32_t ndst() const {                  // bits 319:288, little-endian
        return std::uint32_t{b[36]} | std::uint32_t{b[37]} << 8 | std::uint32_t{b[38]} << 16 |
               std::uint32_t{b[39]} << 24;
    }
};

struct posted_platform {
    cpu::cpu_config config;
    mem::memory memory;
    cpu::memory_view pi_mem{memory};
    cpu::host_scheduler sched;
    cpu::ept map;
    cpu::kvm k;
    unsigned vm;
    iommu::iommu unit;
    cpu::testing::fake_bridge bridge;
    cpu::vcpu v;
    host_and_device host;
    iommu::driver drv;
    tick_t setup_done = 0;

    static cpu::cpu_config make_config(cpu::wait_mode w) {
        cpu::cpu_config c;
        c.exits.cpu_clock_hz = 1e9;
        c.interrupts = cpu::delivery_mode::posted;
        c.wait = w;
        c.vcpu_cores = {vcpu_core};
        return c;
    }
    explicit posted_platform(cpu::wait_mode w)
        : config(make_config(w)),
          memory("memory", mem::dram_map({{0, 8ull << 30, 0}})),
          sched(config.scheduler),
          k("kvm", config, sched, pi_mem),
          vm((map.map_ram(0, vm_ram, vm_ram_size), k.add_vm(map, config.interrupts, config.wait))),
          unit("iommu", memory),
          bridge("bridge", memory),
          v("vcpu0", k, cpu::vcpu_params{vm, pid, 4}),
          host("host"),
          drv(host, memory.store()) {
        v.socket.bind(bridge.socket);
        host.to_regs.bind(unit.regs);
        host.to_mem.bind(memory.cpu_socket);
        host.irq.bind(unit.irq_in);
        host.dma.bind(unit.in);
        unit.out.bind(memory.device_socket);
        unit.irq_out.bind(k.irq_socket);
    }
    // The host driver enables interrupt remapping and writes the posted IRTE (source-ID check on
    // 01:00.0), then the device sends its MSI at `msi_at`; `after` runs right after it.
    void device_program(tick_t msi_at, std::function<void()> after) {
        host.program = [this, msi_at, after](host_and_device& h) {
            drv.init();
            drv.setup_interrupt_remapping(7);
            drv.set_irte(irte_index, iommu::make_posted_irte(pid, vec, false, {device, 0, 1}));
            setup_done = now_ticks();
            sc_core::wait(to_sc_time(msi_at - now_ticks()));
            send_msi(h);
            after();
        };
    }
    pid_bytes descriptor() {
        pid_bytes d;
        EXPECT_TRUE(memory.debug_read(pid, d.b.data(), 64));
        return d;
    }
};

// (a) The vCPU spins in guest mode (vm.wait = poll). The MSI at 100 us sets PIR[0x50] and ON;
// 0xf2 reaches core 1 at 100 us + 594.5 ns; the CPU moves PIR into the vIRR in guest mode: the
// guest has the vector then, with no exit.
TEST(PostedInterruptEndToEnd, RunningVcpuTakesItWithoutAnExit) {
    posted_platform p(cpu::wait_mode::poll);
    constexpr tick_t msi_at = 100 * us;
    pid_bytes posted;
    p.device_program(msi_at, [&] { posted = p.descriptor(); });
    tick_t seen = 0;
    p.v.run([&](cpu::guest_context& g) {
        g.wait_for_interrupt(vec);
        seen = g.now();
        g.eoi();
    });
    sc_core::sc_start();
    ASSERT_TRUE(p.v.failure().empty()) << p.v.failure();
    ASSERT_LT(p.setup_done, msi_at);
    // As the IOMMU left it: vector 0x50 = 80 is byte 10, bit 0; ON set; SN clear; NV 0xf2;
    // NDST 1 (x2APIC: the APIC ID itself).
    EXPECT_EQ(posted.b[10], 0x01);
    EXPECT_TRUE(posted.pir(vec));
    EXPECT_TRUE(posted.on());
    EXPECT_FALSE(posted.sn());
    EXPECT_EQ(posted.nv(), cpu::posted_intr_vector);
    EXPECT_EQ(posted.ndst(), vcpu_core);
    EXPECT_EQ(p.unit.interrupts().stats().posted, 1u);
    EXPECT_EQ(p.unit.interrupts().stats().notifications, 1u);
    EXPECT_EQ(seen, msi_at + remap);
    EXPECT_EQ(p.k.total_exits(), 0u);
    EXPECT_EQ(p.k.delivered(cpu::delivery_mode::posted), 1u);
    EXPECT_EQ(p.k.unrouted(), 0u);
    // Synced: PIR and ON clear again.
    const pid_bytes after = p.descriptor();
    EXPECT_TRUE(after.pir_empty());
    EXPECT_FALSE(after.on());
}

// (b) The vCPU halts: HLT at KVM at 1187 ns, halt polling until 201,187 ns, then it blocks with
// NV = 0xf1. The MSI at 500 us posts; 0xf1 reaches core 1 at 500 us + 594.5 ns; the wake-up
// handler wakes the vCPU thread, runnable 2 us later, VM entry 250 ns after that. One exit: HLT.
TEST(PostedInterruptEndToEnd, BlockedVcpuIsWokenByTheWakeupHandler) {
    posted_platform p(cpu::wait_mode::halt);
    constexpr tick_t msi_at = 500 * us;
    pid_bytes blocked, posted;
    p.device_program(msi_at, [&] { posted = p.descriptor(); });
    cpu::host_thread probe("probe", p.sched, 3, [&](cpu::host_thread& t) {
        t.sleep(400 * us);
        blocked = p.descriptor();
    });
    tick_t seen = 0;
    p.v.run([&](cpu::guest_context& g) {
        g.wait_for_interrupt(vec);
        seen = g.now();
    });
    sc_core::sc_start();
    ASSERT_TRUE(p.v.failure().empty()) << p.v.failure();
    EXPECT_EQ(blocked.nv(), cpu::posted_intr_wakeup_vector);
    EXPECT_FALSE(blocked.sn());
    EXPECT_TRUE(blocked.pir_empty());
    EXPECT_TRUE(posted.pir(vec));
    EXPECT_TRUE(posted.on());
    EXPECT_EQ(posted.nv(), cpu::posted_intr_wakeup_vector);
    EXPECT_EQ(p.unit.interrupts().stats().notifications, 1u);
    EXPECT_EQ(seen, msi_at + remap + 2 * us + 250 * ns);
    EXPECT_EQ(p.k.exits(cpu::exit_reason::hlt).count.value(), 1u);
    EXPECT_EQ(p.k.total_exits(), 1u);
    EXPECT_EQ(p.v.halt_sleeps(), 1u);
    EXPECT_EQ(p.descriptor().nv(), cpu::posted_intr_vector);  // loaded again
}

// (c) A host thread woken at 1 us (runnable at 3 us) on core 1 takes the core when the vCPU's
// first 10 us of guest work end, for 50 us: the vCPU's next 10 us wait, preempted (SN set) from
// 10 us to 60 us. The MSI at 30 us sets PIR only: ON stays clear, no notification. At 60 us
// vcpu_load clears SN and sets ON; the entry moves PIR to the vIRR; the guest takes the vector
// after its work, at 70 us.
TEST(PostedInterruptEndToEnd, PreemptedVcpuGetsItAtTheNextLoad) {
    posted_platform p(cpu::wait_mode::poll);
    constexpr tick_t msi_at = 30 * us;
    pid_bytes posted;
    p.device_program(msi_at, [&] { posted = p.descriptor(); });
    cpu::host_thread hog("hog", p.sched, vcpu_core, [](cpu::host_thread& t) {
        t.sleep(1 * us);
        t.run(50 * us);
    });
    tick_t seen = 0;
    p.v.run([&](cpu::guest_context& g) {
        g.compute(10'000);
        g.compute(10'000);
        g.wait_for_interrupt(vec);
        seen = g.now();
    });
    sc_core::sc_start();
    ASSERT_TRUE(p.v.failure().empty()) << p.v.failure();
    ASSERT_LT(p.setup_done, msi_at);
    EXPECT_TRUE(posted.pir(vec));
    EXPECT_TRUE(posted.sn());
    EXPECT_FALSE(posted.on());
    EXPECT_EQ(posted.nv(), cpu::posted_intr_vector);
    EXPECT_EQ(p.unit.interrupts().stats().posted, 1u);
    EXPECT_EQ(p.unit.interrupts().stats().notifications, 0u);
    EXPECT_EQ(p.k.unrouted(), 0u);  // nothing reached KVM's entry
    EXPECT_EQ(seen, 70 * us);
    EXPECT_EQ(p.k.total_exits(), 0u);
    EXPECT_EQ(p.v.state_ticks(cpu::vcpu_state::preempted), 50 * us);
    const pid_bytes after = p.descriptor();
    EXPECT_FALSE(after.sn());
    EXPECT_TRUE(after.pir_empty());
}

}  // namespace
}  // namespace iovsim

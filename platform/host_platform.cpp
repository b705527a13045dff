#include "platform/host_platform.h"

#include <fmt/format.h>
#include <tlm_utils/tlm_quantumkeeper.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>

#include "models/core/sc_glue.h"
#include "models/cpu/vcpu.h"
#include "models/net/wire.h"
#include "models/pcie/tlp.h"

namespace iovsim::platform {

namespace {

std::vector<std::unique_ptr<packet_timeline>> make_timelines(const platform_config& c) {
    std::vector<std::unique_ptr<packet_timeline>> t(
        std::max<std::size_t>(1, c.workload.vms.size()));
    for (auto& p : t) p = std::make_unique<packet_timeline>();
    return t;
}

mem::dram_map dram_of(const pcie::host_map& m) {
    mem::dram_map d;
    d.add({m.dram_low.base, m.dram_low.size, 0});
    if (m.dram_high.size) d.add({m.dram_high.base, m.dram_high.size, m.dram_low.size});
    return d;
}

}  // namespace

host_platform::host_platform(const platform_config& c)
    : m_config(c),
      m_timelines(make_timelines(c)),
      memory("memory", dram_of(c.map), c.memory),
      rc("rc", c.map, c.rc),
      interrupts("interrupts"),
      cpu("cpu", c.map),
      timeline(*m_timelines.front()),
      m_wire_start(m_timelines.size(), 0) {
    tlm::tlm_global_quantum::instance().set(to_sc_time(c.quantum));
    using core::stage;
    // Binds from → to, through a probe when accounting (see the header).
    const auto link = [this, &c](auto& from, auto& to, const char* name, tlm_probe::hook h) {
        if (!c.accounting) {
            from.bind(to);
            return;
        }
        tlm_probes.push_back(std::make_unique<tlm_probe>(name, std::move(h)));
        from.bind(tlm_probes.back()->in);
        tlm_probes.back()->out.bind(to);
    };
    const auto on_request = [this](stage s) -> tlm_probe::hook {
        return [this, s](const tlm::tlm_generic_payload& t, tick_t at, bool response) {
            if (response) return;
            m_dma_owner = owner_of_requester(t);
            timeline_of(m_dma_owner).mark(at, s);
        };
    };
    const stage irq_stage = c.iommu_enabled ? stage::iommu : stage::host_stack;
    if (c.with_vms) {
        bus = std::make_unique<cpu_bus>("cpu_bus");
        cpu.socket.bind(bus->in);
        bus->out.bind(rc.cpu_socket);
        host_memory = std::make_unique<cpu::memory_view>(memory);
        scheduler = std::make_unique<cpu::host_scheduler>(c.cpu.scheduler);
        kvm = std::make_unique<cpu::kvm>("kvm", c.cpu, *scheduler, *host_memory);
        irq_router = std::make_unique<interrupt_router>("interrupt_router");
        irq_router->claim(cpu::posted_intr_vector);
        irq_router->claim(cpu::posted_intr_wakeup_vector);
        irq_router->to_host.bind(interrupts.socket);
        link(irq_router->to_kvm, kvm->irq_socket, "probe_kvm",
             [this](const tlm::tlm_generic_payload& t, tick_t at, bool response) {
                 if (!response) timeline_of(owner_of_interrupt(t)).mark(at, stage::kvm);
             });
    } else {
        cpu.socket.bind(rc.cpu_socket);
    }
    const tlm_probe::hook on_interrupt = [this, irq_stage](const tlm::tlm_generic_payload& t,
                                                           tick_t at, bool response) {
        if (response) return;
        timeline_of(owner_of_requester(t)).mark(at, irq_stage);
        if (t.get_data_ptr() && t.get_data_length() >= 1) pulse(m_sig_msi, at, t.get_data_ptr()[0]);
    };
    // The host's interrupt entry after the interrupt path.
    tlm::tlm_target_socket<>& irq_target =
        c.with_vms ? static_cast<tlm::tlm_target_socket<>&>(irq_router->in) : interrupts.socket;
    rc.cpu_mem_socket.bind(memory.cpu_socket);
    // Device-side memory: the request reaches memory, the answer leaves it.
    const tlm_probe::hook at_memory = [this](const tlm::tlm_generic_payload&, tick_t t,
                                             bool response) {
        timeline_of(m_dma_owner).mark(t, response ? stage::pcie : stage::memory);
    };
    if (c.iommu_enabled) {
        iommu = std::make_unique<iommu::iommu>("iommu", memory, c.iommu);
        link(rc.dma_socket, iommu->in, "probe_translation",
             [this](const tlm::tlm_generic_payload& tr, tick_t t, bool response) {
                 const auto& st = iommu->remapper().stats();
                 if (!response) {
                     m_dma_owner = owner_of_requester(tr);
                     timeline_of(m_dma_owner).mark(t, stage::iommu);
                     m_hits_before = st.iotlb_hits;
                     m_misses_before = st.iotlb_misses;
                 } else if (st.iotlb_misses != m_misses_before) {
                     pulse(m_sig_miss, t, 1);
                 } else if (st.iotlb_hits != m_hits_before) {
                     pulse(m_sig_hit, t, 1);
                 }
             });
        link(iommu->out, memory.device_socket, "probe_memory", at_memory);
        rc.iommu_socket.bind(iommu->regs);
        link(rc.irq_socket, iommu->irq_in, "probe_interrupt", on_interrupt);
        iommu->irq_out.bind(irq_target);
        iommu_access = std::make_unique<cpu_iommu_access>(cpu);
        iommu_driver =
            std::make_unique<iommu::driver>(*iommu_access, memory.store(), c.iommu_driver);
    } else {
        translation = std::make_unique<pcie::identity_translation>("translation");
        link(rc.dma_socket, translation->in, "probe_translation", on_request(stage::iommu));
        link(translation->out, memory.device_socket, "probe_memory", at_memory);
        link(rc.irq_socket, irq_target, "probe_interrupt", on_interrupt);
    }
    if (c.device == platform_device::external) return;  // the user binds root port 0
    if (c.device == platform_device::dma_bench) {
        endpoint = std::make_unique<pcie::dma_endpoint>("dma_endpoint", c.endpoint);
        rc.downstream.bind(endpoint->link_in);
        endpoint->link_out.bind(rc.upstream);
        return;
    }
    nic = std::make_unique<nic::nic>("nic", c.nic);
    link(rc.downstream, nic->link_in, "probe_nic_in",
         [this](const tlm::tlm_generic_payload& t, tick_t at, bool response) {
             if (response) return;
             timeline_of(owner_of_address(t.get_address())).mark(at, stage::nic);
             const std::uint64_t a = t.get_address();
             const bool mmio = m_config.map.mmio32.contains(a) || m_config.map.mmio64.contains(a);
             if (mmio && t.is_write() && t.get_data_length() == 4 && t.get_data_ptr()) {
                 std::uint32_t v = 0;
                 std::memcpy(&v, t.get_data_ptr(), 4);
                 m_tracer.change(at, m_sig_doorbell, v);
             }
         });
    // A NIC request leaves the NIC; its answer is back (MSI-X writes go on to the interrupt path).
    const pcie::host_map& map = c.map;
    link(nic->link_out, rc.upstream, "probe_nic_out",
         [this, map](const tlm::tlm_generic_payload& t, tick_t at, bool response) {
             packet_timeline& tl = timeline_of(owner_of_requester(t));
             if (!response)
                 tl.mark(at, stage::pcie);
             else if (!map.interrupt.contains(t.get_address()))
                 tl.mark(at, stage::nic);
             m_inflight = response ? (m_inflight ? m_inflight - 1 : 0) : m_inflight + 1;
             m_tracer.change(at, m_sig_inflight, m_inflight);
         });
    net::link_partner* partner = nullptr;
    if (c.peer == nic_peer::echo) {
        net::echo_peer_params pp;
        pp.wire = c.nic.wire;
        pp.turnaround = c.peer_turnaround;
        peer = std::make_unique<net::echo_peer>("peer", pp);
        partner = peer.get();
    } else if (c.peer == nic_peer::generator) {
        net::generator_params gp = c.generator;
        gp.wire = c.nic.wire;
        if (c.generator_type == generator_kind::pcap) {
            net::pcap_replay_params rp;
            rp.wire = c.nic.wire;
            rp.path = c.workload.pcap;
            rp.start = gp.start;
            rp.dst = gp.destinations();
            rp.held = gp.held;
            generator = std::make_unique<net::pcap_replay>("generator", rp);
        } else if (c.generator_type == generator_kind::poisson) {
            generator = std::make_unique<net::poisson_generator>("generator", gp);
        } else {
            generator = std::make_unique<net::constant_rate_generator>("generator", gp);
        }
        partner = generator.get();
    }
    if (!partner) {
        terminator = std::make_unique<wire_terminator>("wire_terminator", c.workload.warmup);
        nic->wire_out.bind(terminator->wire_in);
        terminator->wire_out.bind(nic->wire_in);
    } else if (!c.accounting) {
        nic->wire_out.bind(partner->wire_in);
        partner->wire_out.bind(nic->wire_in);
    } else {
        const net::wire_params w = c.nic.wire;
        const auto on_wire = [w](const std::vector<std::uint8_t>& f) {
            // As wire_direction has it: the last bit arrives before the inter-frame gap.
            return net::serialization_ticks(f.size(), w.line_rate_bps) -
                   bytes_to_ticks(12, w.line_rate_bps) +
                   net::propagation_ticks(w.length_m, w.delay_ns_per_m);
        };
        // The frame is on the wire or at the peer from the start of its transmission to its
        // echo's arrival back at the NIC: nothing else holds the packet then.
        wire_to_peer = std::make_unique<frame_probe>(
            "probe_wire_to_peer",
            [this, on_wire](const std::vector<std::uint8_t>& f, tick_t arrival) {
                const unsigned vm = owner_of_frame(f, true);
                m_wire_start[vm] = arrival - on_wire(f);
                timeline_of(vm).mark(m_wire_start[vm], stage::wire, true);
                timeline_of(vm).mark(arrival, stage::peer, true);
                m_tracer.change(m_wire_start[vm], m_sig_to_peer, 1);
                m_tracer.change(arrival, m_sig_to_peer, 0);
            });
        wire_from_peer = std::make_unique<frame_probe>(
            "probe_wire_from_peer",
            [this, on_wire](const std::vector<std::uint8_t>& f, tick_t arrival) {
                const unsigned vm = owner_of_frame(f, false);
                if (pf_bound(f)) m_pf_owner = vm;  // the PF's DMA of it is this VM's
                packet_timeline& tl = timeline_of(vm);
                tl.mark(arrival - on_wire(f), stage::wire, true);
                tl.mark(arrival, stage::nic, true);
                m_tracer.change(arrival - on_wire(f), m_sig_from_peer, 1);
                m_tracer.change(arrival, m_sig_from_peer, 0);
                tl.exclusive(m_wire_start[vm], arrival);
                if (on_wire_rx) on_wire_rx(f, arrival);
            });
        nic->wire_out.bind(wire_to_peer->in);
        wire_to_peer->out.bind(partner->wire_in);
        partner->wire_out.bind(wire_from_peer->in);
        wire_from_peer->out.bind(nic->wire_in);
    }
}

const pcie::enumerated_function& host_platform::nic_pf(
    const std::vector<pcie::enumerated_function>& found) const {
    if (!nic) throw std::runtime_error("this platform has no NIC");
    for (const auto& f : found) {
        if (f.id == nic->functions().pf_id() && f.sriov) return f;
    }
    throw std::runtime_error(fmt::format("enumeration did not find the NIC's PF at {}",
                                         pcie::to_string(nic->functions().pf_id())));
}

void host_platform::set_tracer(const core::tracer& t) {
    m_tracer = t;
    for (std::size_t i = 0; i < m_timelines.size(); ++i)
        m_timelines[i]->set_tracer(m_timelines.size() == 1 ? t : t.child(fmt::format("vm{}", i)));
    m_sig_doorbell = t.declare_signal("nic.doorbell", 32);
    if (nic) nic->set_tracer(t.child("nic"));
    m_sig_inflight = t.declare_signal("nic.requests_in_flight", 8);
    m_sig_msi = t.declare_signal("interrupts.msi", 8);
    if (iommu) {
        m_sig_hit = t.declare_signal("iommu.iotlb_hit", 1);
        m_sig_miss = t.declare_signal("iommu.iotlb_miss", 1);
    }
    if (peer || generator) {
        m_sig_to_peer = t.declare_signal("wire.to_peer", 1);
        m_sig_from_peer = t.declare_signal("wire.from_peer", 1);
    }
}

unsigned host_platform::owner_of_requester(const tlm::tlm_generic_payload& t) const {
    if (m_timelines.size() == 1) return 0;
    const auto* ext = t.get_extension<pcie::tlp_extension>();
    if (!ext) return m_pf_owner;
    const auto it = m_rid_owner.find(ext->requester.value());
    return it != m_rid_owner.end() ? it->second : m_pf_owner;
}

unsigned host_platform::owner_of_address(std::uint64_t a) const {
    if (m_timelines.size() == 1) return 0;
    for (const mmio_owner& o : m_mmio_owner)
        if (a >= o.base && a - o.base < o.size) return o.vm;
    return m_pf_owner;
}

unsigned host_platform::owner_of_frame(const std::vector<std::uint8_t>& f, bool by_source) const {
    if (m_timelines.size() == 1) return 0;
    const auto it = m_mac_owner.find(net::mac_address::at(f, by_source ? 6 : 0).to_u64());
    return it != m_mac_owner.end() ? it->second.vm : 0;
}

bool host_platform::pf_bound(const std::vector<std::uint8_t>& f) const {
    if (m_timelines.size() == 1) return false;
    const auto it = m_mac_owner.find(net::mac_address::at(f, 0).to_u64());
    return it != m_mac_owner.end() && it->second.via_pf;
}

unsigned host_platform::owner_of_interrupt(const tlm::tlm_generic_payload& t) const {
    if (m_timelines.size() == 1 || !t.get_data_ptr() || t.get_data_length() < 1) return 0;
    const std::uint8_t vector = t.get_data_ptr()[0];
    const auto v = m_vector_owner.find(vector);
    if (v != m_vector_owner.end()) return v->second;
    const auto core = static_cast<unsigned>((t.get_address() >> 12) & 0xff);
    if (kvm && (vector == cpu::posted_intr_vector || vector == cpu::posted_intr_wakeup_vector)) {
        // A posted-interrupt notification: the VM whose vCPU on that core has one outstanding
        // (the IOMMU set ON in its descriptor before it sent this).
        for (unsigned vm = 0; vm < kvm->vms(); ++vm) {
            const cpu::vcpu& vc = kvm->vcpu_of(vm, 0);
            if (vc.host_core() == core && kvm->interrupts(vm) == cpu::delivery_mode::posted &&
                vc.descriptor().on())
                return vm;
        }
    }
    const auto c = m_core_owner.find(core);
    return c != m_core_owner.end() ? c->second : 0;
}

void host_platform::pulse(traces::signal_id s, tick_t at, std::uint64_t v) const {
    if (s == traces::no_signal) return;
    m_tracer.change(at, s, v);
    m_tracer.change(at + ticks_per_ns, s, 0);  // a 1 ns pulse: GTKWave shows it at any zoom
}

std::vector<pcie::enumerated_function> host_platform::enumerate() {
    pcie::enumerator e(cpu, m_config.enumeration);
    return e.run();
}

void host_platform::register_stats(core::stats_registry& reg) const {
    rc.register_stats(reg, "pcie");
    if (endpoint) endpoint->register_stats(reg, "dmabench.endpoint");
    const mem::memory& m = memory;
    const auto add = [&](const std::string& name, const char* unit, const char* desc,
                         std::uint64_t mem::memory_stats::*field) {
        reg.add_formula("mem." + name, unit, desc,
                        [&m, field] { return static_cast<double>(m.timing().stats().*field); });
    };
    add("reads", "accesses", "read accesses to memory", &mem::memory_stats::reads);
    add("writes", "accesses", "write accesses to memory", &mem::memory_stats::writes);
    add("bytes_read", "bytes", "bytes read from memory", &mem::memory_stats::bytes_read);
    add("bytes_written", "bytes", "bytes written to memory", &mem::memory_stats::bytes_written);
    add("llc.hits", "lines", "cache lines that hit the LLC", &mem::memory_stats::llc_hits);
    add("llc.misses", "lines", "cache lines that missed the LLC", &mem::memory_stats::llc_misses);
    add("llc.ddio_allocations", "lines", "lines device writes allocated into the DDIO ways",
        &mem::memory_stats::ddio_allocations);
    add("dram.line_reads", "lines", "line transfers from DRAM",
        &mem::memory_stats::dram_line_reads);
    add("dram.line_writes", "lines", "line transfers to DRAM (write-backs, non-DDIO writes)",
        &mem::memory_stats::dram_line_writes);
    reg.add_formula("mem.out_of_range", "accesses", "accesses to no DRAM range (address errors)",
                    [&m] { return static_cast<double>(m.out_of_range()); });
    reg.add_formula("mem.pages_touched", "pages",
                    "4 KiB pages of simulated DRAM backed by host memory",
                    [&m] { return static_cast<double>(m.store().pages_touched()); });
    if (iommu) {
        iommu->register_stats(reg, "iommu");
        const iommu::driver& drv = *iommu_driver;
        const auto dadd = [&](const std::string& name, const char* unit, const char* desc,
                              std::uint64_t iommu::driver_stats::*field) {
            reg.add_formula("iommu.driver." + name, unit, desc,
                            [&drv, field] { return static_cast<double>(drv.stats().*field); });
        };
        dadd("domains", "domains", "domains the host driver created",
             &iommu::driver_stats::domains);
        dadd("maps", "calls", "map calls", &iommu::driver_stats::maps);
        dadd("unmaps", "calls", "unmap calls", &iommu::driver_stats::unmaps);
        dadd("pages_4k", "pages", "4 KiB leaves written", &iommu::driver_stats::pages_4k);
        dadd("pages_2m", "pages", "2 MiB leaves written", &iommu::driver_stats::pages_2m);
        dadd("pages_1g", "pages", "1 GiB leaves written", &iommu::driver_stats::pages_1g);
        dadd("deferred_flushes", "flushes", "flush-queue flushes (lazy unmaps)",
             &iommu::driver_stats::deferred_flushes);
        dadd("waits", "waits", "invalidations the driver waited for", &iommu::driver_stats::waits);
        reg.add_formula("iommu.driver.invalidation_time_ns", "ns",
                        "CPU time from submitting invalidations to seeing them complete",
                        [&drv] { return ticks_to_ns(drv.stats().invalidation_time); });
    }
    reg.add_formula("interrupts.malformed", "messages",
                    "interrupt messages the interrupt controller could not decode",
                    [this] { return static_cast<double>(interrupts.malformed()); });
}

}  // namespace iovsim::platform

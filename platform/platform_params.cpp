#include "platform/platform_params.h"

#include <fmt/format.h>

#include "models/core/errors.h"
#include "models/net/ethernet.h"
#include "platform/ats_params.h"

namespace iovsim::platform {

using core::param_decl;
using core::param_kind;

void declare_platform_params(core::param_registry& reg) {
    core::declare_sim_params(reg);
    cpu::declare_cpu_params(reg);
    declare_ats_params(reg);
    declare_workload_params(reg);
    const auto d = [&](const char* name, param_kind kind, const char* def, const char* unit,
                       const char* desc) -> param_decl {
        return param_decl(name, kind, def, unit, desc);
    };

    reg.declare(d("host.memory", param_kind::size, "64GiB", "B",
                  "Host DRAM in all: up to 2 GiB below the 4 GiB hole, the rest from 4 GiB up "
                  "(sparse: only touched pages cost host memory)")
                    .with_min("4GiB")
                    .with_max("1024GiB"));

    reg.declare(d("mem.llc.size", param_kind::size, "32MiB", "B",
                  "Last-level cache capacity in front of DRAM")
                    .with_min("64KiB")
                    .with_max("1GiB"));
    reg.declare(
        d("mem.llc.ways", param_kind::integer, "16", "ways", "LLC associativity (LRU replacement)")
            .with_min("1")
            .with_max("64"));
    reg.declare(d("mem.llc.ddio_ways", param_kind::integer, "2", "ways",
                  "LLC ways that device writes may allocate into (Intel DDIO); 0 turns DDIO off")
                    .with_min("0")
                    .with_max("64"));
    reg.declare(d("mem.llc.hit_latency", param_kind::time, "20ns", "ns",
                  "Memory controller request to data for a line that hits the LLC")
                    .with_max("1us"));
    reg.declare(d("mem.dram.latency", param_kind::time, "80ns", "ns",
                  "DRAM access latency for a line that misses the LLC, on top of its channel slot")
                    .with_max("10us"));
    reg.declare(d("mem.dram.channels", param_kind::integer, "4", "channels",
                  "DRAM channels, interleaved by cache-line address")
                    .with_min("1")
                    .with_max("32"));
    reg.declare(d("mem.dram.channel_bandwidth", param_kind::bandwidth, "153.6Gbps", "Gbps",
                  "Peak bandwidth of one DRAM channel (DDR4-2400, 64 bits wide: 153.6 Gbit/s)")
                    .with_min("1Gbps"));

    reg.declare(d("pcie.gen", param_kind::integer, "3", "generation",
                  "PCIe generation of every link: 1 (2.5 GT/s) to 5 (32 GT/s)")
                    .with_min("1")
                    .with_max("5"));
    reg.declare(d("pcie.lanes", param_kind::integer, "8", "lanes", "Width of every PCIe link")
                    .with_choices({"1", "2", "4", "8", "16"}));
    reg.declare(d("pcie.mps", param_kind::size, "256", "B",
                  "Max_Payload_Size programmed into every function: largest write or completion "
                  "payload")
                    .with_min("128")
                    .with_max("4096"));
    reg.declare(d("pcie.mrrs", param_kind::size, "512", "B",
                  "Max_Read_Request_Size programmed into every function: largest read request")
                    .with_min("128")
                    .with_max("4096"));
    reg.declare(d("pcie.rcb", param_kind::size, "64", "B",
                  "Read Completion Boundary: where a completer may split read data (64 or 128)")
                    .with_min("64")
                    .with_max("128"));
    reg.declare(d("pcie.rcb_completions", param_kind::boolean, "false", "",
                  "Return one completion per RCB-aligned chunk instead of MPS-sized ones, as "
                  "some root complexes do"));
    reg.declare(d("pcie.hop_latency", param_kind::time, "100ns", "ns",
                  "Latency through one link hop on top of serialization (PHY, data link layer, "
                  "propagation)")
                    .with_max("10us"));
    reg.declare(d("pcie.tags", param_kind::integer, "32", "tags",
                  "Non-posted requests a requester may have outstanding (5-bit tags: 32)")
                    .with_min("1")
                    .with_max("1024"));
    reg.declare(d("pcie.ack_every", param_kind::integer, "4", "TLPs",
                  "A receiver sends one ACK DLLP per this many TLPs; 0: none")
                    .with_min("0")
                    .with_max("256"));
    reg.declare(d("pcie.fc_every", param_kind::integer, "4", "TLPs",
                  "A receiver sends one UpdateFC DLLP per this many TLPs; 0: none")
                    .with_min("0")
                    .with_max("256"));
    reg.declare(d("pcie.root_ports", param_kind::integer, "1", "ports",
                  "Root ports of the root complex, one link each")
                    .with_min("1")
                    .with_max("31"));
    reg.declare(d("pcie.device", param_kind::enumeration, "nic", "",
                  "Device on root port 0: nic (the SR-IOV NIC, cabled to nic.peer), dmabench "
                  "(the DMA bench endpoint; `iovsim dmabench` always uses it) or external "
                  "(none: a library user binds their own model there)")
                    .with_choices({"nic", "dmabench", "external"}));
    reg.declare(d("pcie.rc.mmio_latency", param_kind::time, "60ns", "ns",
                  "CPU core to root port (and back) for MMIO and configuration accesses")
                    .with_max("10us"));
    reg.declare(d("pcie.rc.upstream_latency", param_kind::time, "150ns", "ns",
                  "Root port to memory controller for a device request")
                    .with_max("10us"));
    reg.declare(d("pcie.rc.completion_latency", param_kind::time, "100ns", "ns",
                  "Memory controller to root port for read completion data")
                    .with_max("10us"));

    reg.declare(d("iommu.enabled", param_kind::boolean, "false", "",
                  "Put the VT-d IOMMU between the root complex and memory (in place of the "
                  "identity stage) and have the host driver enable translation"));
    reg.declare(d("iommu.page_size", param_kind::size, "4K", "B",
                  "Page size the DMA bench's buffer is mapped with in its domain: 4K, 2M or 1G")
                    .with_min("4K")
                    .with_max("1G"));
    reg.declare(d("iommu.host_mode", param_kind::enumeration, "pt", "",
                  "Host-owned devices: pt (pass-through context entry), lazy (map each DMA buffer, "
                  "deferred IOTLB flush) or strict (map each buffer, invalidate on every unmap)")
                    .with_choices({"pt", "lazy", "strict"}));
    reg.declare(d("iommu.superpages", param_kind::boolean, "true", "",
                  "The driver may map 2 MiB and 1 GiB superpages where a range's alignment "
                  "allows"));
    reg.declare(d("iommu.invalidation", param_kind::enumeration, "queued", "",
                  "How the driver invalidates: queued (descriptors in a ring in memory) or "
                  "register (CCMD_REG and IOTLB_REG)")
                    .with_choices({"queued", "register"}));
    reg.declare(d("iommu.iotlb.entries", param_kind::integer, "64", "entries",
                  "IOTLB entries; each reaches one page (64 x 4 KiB = 256 KiB: pcie-bench)")
                    .with_min("1")
                    .with_max("65536"));
    reg.declare(d("iommu.iotlb.ways", param_kind::integer, "64", "ways",
                  "IOTLB associativity (LRU); equal to iommu.iotlb.entries: fully associative")
                    .with_min("1")
                    .with_max("65536"));
    reg.declare(d("iommu.context_cache.entries", param_kind::integer, "16", "entries",
                  "Context-cache entries (fully associative, LRU)")
                    .with_min("1")
                    .with_max("4096"));
    reg.declare(d("iommu.table_read_latency", param_kind::time, "165ns", "ns",
                  "Round trip between the IOMMU and the memory controller for a page-table read, "
                  "on top of memory's own time (calibrated: an IOTLB miss costs ~250 ns more "
                  "than a hit, as pcie-bench measured)")
                    .with_max("10us"));
    reg.declare(d("iommu.walkers", param_kind::integer, "4", "walkers",
                  "Page walks the IOMMU runs at once; further misses queue")
                    .with_min("1")
                    .with_max("64"));
    reg.declare(d("iommu.iotlb_lookup_latency", param_kind::time, "2ns", "ns",
                  "Context-cache and IOTLB probe for every translated request")
                    .with_max("1us"));
    reg.declare(d("iommu.psc_lookup_latency", param_kind::time, "5ns", "ns",
                  "Paging-structure cache probe at the start of a walk")
                    .with_max("1us"));
    reg.declare(d("iommu.fault_records", param_kind::integer, "8", "records",
                  "Fault recording registers (CAP.NFR + 1)")
                    .with_min("1")
                    .with_max("256"));
    reg.declare(d("iommu.invalidation_latency", param_kind::time, "50ns", "ns",
                  "Hardware time to perform one context-cache or IOTLB invalidation")
                    .with_max("100us"));
    reg.declare(d("iommu.deferred.batch", param_kind::integer, "250", "unmaps",
                  "Lazy mode: unmaps a per-CPU flush queue holds before it is flushed (Linux: "
                  "250-256)")
                    .with_min("1")
                    .with_max("65536"));
    reg.declare(d("iommu.deferred.timeout", param_kind::time, "10ms", "ms",
                  "Lazy mode: age of a queue's oldest unmap that forces a flush (Linux: 10 ms)")
                    .with_min("1ns")
                    .with_max("10s"));

    reg.declare(d("nic.total_vfs", param_kind::integer, "256", "VFs",
                  "TotalVFs of the NIC's SR-IOV capability (Intel E810: 256); enumeration "
                  "reserves bus numbers and VF BAR space for this many")
                    .with_min("1")
                    .with_max("256"));
    reg.declare(d("trace.signals", param_kind::string_list, "[*]", "",
                  "Signals `iovsim run --vcd` writes (and --perfetto draws as counters): names "
                  "or patterns (`*` any run of characters, `?` one), e.g. [\"*.state\", "
                  "\"wire.*\"]; `iovsim run --vcd` lists what exists in the file")
                    .with_min_items(1));
    reg.declare(d("virtio.backend", param_kind::enumeration, "vhost", "",
                  "Where a virtio VM's device backend runs: vhost (vhost-net, a kernel worker "
                  "thread woken by an ioeventfd kick) or vmm (the user-space VMM: the kick exits "
                  "to the VMM, which transmits on the vCPU's thread; RX on the VMM's I/O thread)")
                    .with_choices({"vhost", "vmm"}));
    reg.declare(d("host.stack.tx", param_kind::integer, "2000", "cycles",
                  "Host network stack per frame from a tap to the PF (tap write, bridge, the PF "
                  "driver's xmit); virtio and emulation. An estimate: a Linux bridge forwards "
                  "about 1 Mpps per core, RX and TX together")
                    .with_min("0")
                    .with_max("10000000"));
    reg.declare(d("host.stack.rx", param_kind::integer, "2500", "cycles",
                  "Host network stack per frame from the PF to a tap (interrupt, NAPI poll, "
                  "bridge, tap queue); virtio and emulation. An estimate, as host.stack.tx")
                    .with_min("0")
                    .with_max("10000000"));
    reg.declare(d("nic.num_vfs", param_kind::integer, "0", "VFs",
                  "VFs the host PF driver enables at boot, as `echo N > sriov_numvfs` (0 to "
                  "nic.total_vfs)")
                    .with_min("0")
                    .with_max("65535"));
    reg.declare(d("nic.wire_rate", param_kind::bandwidth, "25Gbps", "Gbps",
                  "Line rate of the NIC's Ethernet port (MAC data rate): 10Gbps, 25Gbps, 40Gbps "
                  "or 100Gbps")
                    .with_min("10Gbps")
                    .with_max("100Gbps"));
    reg.declare(d("nic.mtu", param_kind::integer, "1500", "B",
                  "MTU of the NIC's interfaces, as `ip link set DEV mtu N` (the L3 payload): the "
                  "longest frame is nic.mtu + 18 B (header 14, FCS 4), the NIC drops longer ones "
                  "it is asked to send (tx_oversize), and every driver (host PF, VF, virtio-net, "
                  "e1000) sizes its RX buffers for it; above 1500: jumbo frames")
                    .with_min("68")
                    .with_max("9000"));
    reg.declare(d("nic.propagation", param_kind::time, "5ns", "ns",
                  "Propagation delay of the cable to the link partner, each way (about 5 ns per "
                  "metre of copper or fibre: 5ns is 1 m); PHY and FEC latency may be added here")
                    .with_max("1ms"));
    reg.declare(d("nic.peer", param_kind::enumeration, "echo", "",
                  "Link partner on the wire: echo (returns every frame with the MACs swapped) or "
                  "none (frames sent on the wire are counted and dropped)")
                    .with_choices({"echo", "none"}));
    reg.declare(d("nic.peer_turnaround", param_kind::time, "1us", "ns",
                  "Echo peer: last bit of a frame received to its answer handed to the peer's "
                  "MAC")
                    .with_max("1s"));
    reg.declare(d("nic.pcap_veb", param_kind::boolean, "false", "",
                  "When a run writes DIR/wire.pcap, also write the VEB's internal VF-to-VF "
                  "traffic to DIR/veb.pcap"));
    reg.declare(d("nic.core_clock", param_kind::frequency, "500MHz", "MHz",
                  "NIC core clock; the nic.*_cycles costs count cycles of it")
                    .with_min("1MHz")
                    .with_max("10GHz"));
    reg.declare(d("nic.doorbell_cycles", param_kind::integer, "20", "cycles",
                  "Doorbell (TDT) write accepted to the NIC's engine acting on it")
                    .with_min("0")
                    .with_max("1000000"));
    reg.declare(d("nic.switch_cycles", param_kind::integer, "10", "cycles",
                  "One L2 forwarding lookup in the VEB")
                    .with_min("0")
                    .with_max("1000000"));
    reg.declare(d("nic.dma_issue_cycles", param_kind::integer, "2", "cycles",
                  "The DMA engine issues one request TLP per this many cycles")
                    .with_min("1")
                    .with_max("1000000"));
    reg.declare(d("nic.completion_cycles", param_kind::integer, "30", "cycles",
                  "Read completion arrived at the NIC to its data usable by the engine")
                    .with_min("0")
                    .with_max("1000000"));
    reg.declare(d("nic.max_read_requests", param_kind::integer, "32", "tags",
                  "DMA read requests the NIC may have outstanding")
                    .with_min("1")
                    .with_max("256"));
    reg.declare(d("nic.tx_prefetch", param_kind::integer, "8", "descriptors",
                  "TX descriptors fetched in one read")
                    .with_min("1")
                    .with_max("256"));
    reg.declare(d("nic.rx_prefetch", param_kind::integer, "8", "descriptors",
                  "RX descriptors fetched in one read when none is cached")
                    .with_min("1")
                    .with_max("256"));
    reg.declare(d("nic.interrupt_interval", param_kind::time, "0ns", "ns",
                  "MSI-X moderation: minimum time between two messages of one vector (0: off)")
                    .with_max("1s"));

    reg.declare(d("nicbench.frames", param_kind::integer, "100", "frames",
                  "iovsim nicbench: frames VF0 sends to VF1 through the VEB, and frames VF2 "
                  "sends to the echo peer on the wire")
                    .with_min("1")
                    .with_max("1000000"));
    reg.declare(d("nicbench.frame_size", param_kind::size, "128", "B",
                  "iovsim nicbench: bytes per frame on the wire after the SFD, FCS included "
                  "(64 to nic.mtu + 18)")
                    .with_min("64")
                    .with_max("9018"));

    reg.declare(
        d("dmabench.ops", param_kind::enum_list, "[read, write]", "", "DMA operations to measure")
            .with_choices({"read", "write"})
            .with_min_items(1));
    reg.declare(d("dmabench.sizes", param_kind::size_list,
                  "[64, 128, 256, 512, 1024, 1500, 2048, 4096]", "B", "Transfer sizes to measure")
                    .with_min("1")
                    .with_max("4096")
                    .with_min_items(1));
    reg.declare(d("dmabench.windows", param_kind::size_list, "[8KiB]", "B",
                  "Buffer windows the transfers fall in; each at least every dmabench.sizes "
                  "entry")
                    .with_min("64")
                    .with_max("1GiB")
                    .with_min_items(1));
    reg.declare(d("dmabench.patterns", param_kind::enum_list, "[seq]", "",
                  "Access patterns: seq advances by the transfer size, rand picks size-aligned "
                  "offsets uniformly")
                    .with_choices({"seq", "rand"})
                    .with_min_items(1));
    reg.declare(d("dmabench.outstanding", param_kind::integer, "64", "transfers",
                  "Transfers in flight in the bandwidth pass (reads are also bound by pcie.tags)")
                    .with_min("1")
                    .with_max("4096"));
    reg.declare(d("dmabench.count", param_kind::integer, "2000", "transfers",
                  "Transfers per pass (latency and bandwidth) at each point")
                    .with_min("1")
                    .with_max("100000000"));
    reg.declare(d("dmabench.warm", param_kind::boolean, "true", "",
                  "The host CPU writes the window before each point, so it sits in the LLC "
                  "(at most mem.llc.size of it: a larger window cannot fit anyway)"));
    reg.declare(d("dmabench.iommu_sweep", param_kind::boolean, "true", "",
                  "With iommu.enabled, add 64 B and 512 B random reads and writes over windows "
                  "of 4 KiB to 64 MiB (powers of two) to the points"));
    reg.declare(d("dmabench.issue_interval", param_kind::time, "4ns", "ns",
                  "The bench endpoint's DMA engine issues one TLP per this interval (250 MHz)")
                    .with_min("1ps")
                    .with_max("1us"));
    reg.declare(d("dmabench.rx_latency", param_kind::time, "60ns", "ns",
                  "Bench endpoint: completion arrival at the link to the engine seeing the data")
                    .with_max("10us"));
}

platform_config make_platform_config(const core::param_tree& tree) {
    platform_config c;
    c.map = pcie::host_map::with_dram(tree.get_bytes("host.memory"));
    c.cpu = cpu::make_cpu_config(tree);
    c.quantum = tree.get_time("sim.quantum");
    c.max_time = tree.get_time("sim.max_time");
    c.seed = static_cast<std::uint64_t>(tree.get_int("sim.seed"));
    c.workload = make_workload_config(tree);

    c.memory.llc_size = tree.get_bytes("mem.llc.size");
    c.memory.llc_ways = static_cast<std::uint32_t>(tree.get_int("mem.llc.ways"));
    c.memory.ddio_ways = static_cast<std::uint32_t>(tree.get_int("mem.llc.ddio_ways"));
    c.memory.llc_hit_latency = tree.get_time("mem.llc.hit_latency");
    c.memory.dram_latency = tree.get_time("mem.dram.latency");
    c.memory.channels = static_cast<std::uint32_t>(tree.get_int("mem.dram.channels"));
    c.memory.channel_bandwidth = tree.get_bps("mem.dram.channel_bandwidth");
    if (c.memory.ddio_ways > c.memory.llc_ways) {
        throw core::config_error(
            fmt::format("mem.llc.ddio_ways ({}) must not exceed mem.llc.ways ({})",
                        c.memory.ddio_ways, c.memory.llc_ways));
    }
    // What mem::memory_timing requires (it indexes sets by line index mod sets, so any whole,
    // non-zero number of sets will do: 30 MiB of 16 ways is 30720 sets).
    const std::uint64_t set_bytes = std::uint64_t{c.memory.line_size} * c.memory.llc_ways;
    if (c.memory.llc_size == 0 || c.memory.llc_size % set_bytes != 0) {
        throw core::config_error(
            fmt::format("mem.llc.size ({} B) must be a whole number of sets of mem.llc.ways ({}) "
                        "{} B lines: a multiple of {} B",
                        c.memory.llc_size, c.memory.llc_ways, c.memory.line_size, set_bytes));
    }
    // memory_timing also requires that a miss (dram_latency, counted from the start of the
    // line's channel slot) take no less than the slot itself.
    const tick_t line_ticks = bytes_to_ticks(c.memory.line_size, c.memory.channel_bandwidth);
    if (c.memory.dram_latency < line_ticks) {
        throw core::config_error(fmt::format(
            "mem.dram.latency ({} ps) must be at least the time one {} B line holds a DRAM "
            "channel at mem.dram.channel_bandwidth ({} Gbit/s): {} ps",
            c.memory.dram_latency, c.memory.line_size, c.memory.channel_bandwidth / 1e9,
            line_ticks));
    }

    pcie::link_params& l = c.rc.link;
    l.gen = static_cast<unsigned>(tree.get_int("pcie.gen"));
    l.lanes = static_cast<unsigned>(tree.get_int("pcie.lanes"));
    l.mps = static_cast<std::uint32_t>(tree.get_bytes("pcie.mps"));
    l.mrrs = static_cast<std::uint32_t>(tree.get_bytes("pcie.mrrs"));
    l.rcb = static_cast<std::uint32_t>(tree.get_bytes("pcie.rcb"));
    l.rcb_completions = tree.get_bool("pcie.rcb_completions");
    l.hop_latency = tree.get_time("pcie.hop_latency");
    l.max_tags = static_cast<unsigned>(tree.get_int("pcie.tags"));
    l.ack_every = static_cast<unsigned>(tree.get_int("pcie.ack_every"));
    l.fc_every = static_cast<unsigned>(tree.get_int("pcie.fc_every"));
    try {
        pcie::validate(l);  // powers of two, RCB 64 or 128
    } catch (const std::invalid_argument& e) {
        throw core::config_error(e.what());
    }
    if (l.max_tags > 256 && l.gen < 4) {
        throw core::config_error(fmt::format(
            "pcie.tags ({}) above 256 needs 10-bit tags, which need pcie.gen 4 or later (got {})",
            l.max_tags, l.gen));
    }
    c.rc.root_ports = static_cast<unsigned>(tree.get_int("pcie.root_ports"));
    c.rc.mmio_latency = tree.get_time("pcie.rc.mmio_latency");
    c.rc.upstream_latency = tree.get_time("pcie.rc.upstream_latency");
    c.rc.completion_latency = tree.get_time("pcie.rc.completion_latency");

    c.endpoint.issue_interval = tree.get_time("dmabench.issue_interval");
    c.endpoint.rx_latency = tree.get_time("dmabench.rx_latency");
    c.endpoint.max_tags = l.max_tags;
    c.endpoint.link_gen = l.gen;
    c.endpoint.link_lanes = l.lanes;

    const std::string device = tree.get_string("pcie.device");
    c.device = device == "dmabench"   ? platform_device::dma_bench
               : device == "external" ? platform_device::external
                                      : platform_device::nic;
    nic::nic_params& np = c.nic;
    np.pf_id = pcie::routing_id{1, 0, 0};  // root port 0's secondary bus, device 0, function 0
    np.functions.sriov.total_vfs = static_cast<std::uint16_t>(tree.get_int("nic.total_vfs"));
    c.trace_signals = tree.get_string_list("trace.signals");
    c.virtio_vhost = tree.get_string("virtio.backend") == "vhost";
    c.host_stack_tx_cycles = static_cast<std::uint64_t>(tree.get_int("host.stack.tx"));
    c.host_stack_rx_cycles = static_cast<std::uint64_t>(tree.get_int("host.stack.rx"));
    c.nic_num_vfs = static_cast<unsigned>(tree.get_int("nic.num_vfs"));
    if (c.nic_num_vfs > np.functions.sriov.total_vfs) {
        throw core::config_error(fmt::format(
            "nic.num_vfs ({}) must not exceed nic.total_vfs ({}): the PF has only that many VFs",
            c.nic_num_vfs, np.functions.sriov.total_vfs));
    }
    np.wire.line_rate_bps = tree.get_bps("nic.wire_rate");
    if (np.wire.line_rate_bps != 10e9 && np.wire.line_rate_bps != 25e9 &&
        np.wire.line_rate_bps != 40e9 && np.wire.line_rate_bps != 100e9) {
        throw core::config_error(
            fmt::format("nic.wire_rate ({} Gbps) must be 10Gbps, 25Gbps, 40Gbps or 100Gbps",
                        np.wire.line_rate_bps / 1e9));
    }
    // wire_params describes the cable as length x delay per metre: one "metre" of the given
    // delay carries nic.propagation exactly.
    np.wire.length_m = 1.0;
    np.wire.delay_ns_per_m = ticks_to_ns(tree.get_time("nic.propagation"));
    c.nic_mtu = static_cast<unsigned>(tree.get_int("nic.mtu"));
    np.max_frame_bytes = net::largest_frame_bytes(c.nic_mtu);
    check_frame_size("workload.size", c.workload.size, c.nic_mtu);
    np.core_clock_hz = tree.get_hz("nic.core_clock");
    np.doorbell_cycles = static_cast<unsigned>(tree.get_int("nic.doorbell_cycles"));
    np.switch_cycles = static_cast<unsigned>(tree.get_int("nic.switch_cycles"));
    np.dma_issue_cycles = static_cast<unsigned>(tree.get_int("nic.dma_issue_cycles"));
    np.completion_cycles = static_cast<unsigned>(tree.get_int("nic.completion_cycles"));
    np.max_read_requests = static_cast<unsigned>(tree.get_int("nic.max_read_requests"));
    np.tx_prefetch = static_cast<unsigned>(tree.get_int("nic.tx_prefetch"));
    np.rx_prefetch = static_cast<unsigned>(tree.get_int("nic.rx_prefetch"));
    np.interrupt_interval = tree.get_time("nic.interrupt_interval");
    c.peer = tree.get_string("nic.peer") == "none" ? nic_peer::none : nic_peer::echo;
    c.peer_turnaround = tree.get_time("nic.peer_turnaround");
    c.pcap_veb = tree.get_bool("nic.pcap_veb");

    c.iommu_enabled = tree.get_bool("iommu.enabled");
    c.iommu_page_size = tree.get_bytes("iommu.page_size");
    if (c.iommu_page_size != iommu::page_4k && c.iommu_page_size != iommu::page_2m &&
        c.iommu_page_size != iommu::page_1g) {
        throw core::config_error(
            fmt::format("iommu.page_size ({} B) must be 4K, 2M or 1G", c.iommu_page_size));
    }
    iommu::dma_remapper_params& dp = c.iommu.dma;
    dp.iotlb.entries = static_cast<std::uint32_t>(tree.get_int("iommu.iotlb.entries"));
    dp.iotlb.ways = static_cast<std::uint32_t>(tree.get_int("iommu.iotlb.ways"));
    if (dp.iotlb.entries % dp.iotlb.ways != 0) {
        throw core::config_error(
            fmt::format("iommu.iotlb.entries ({}) must be a multiple of iommu.iotlb.ways ({})",
                        dp.iotlb.entries, dp.iotlb.ways));
    }
    dp.context_cache.entries = dp.context_cache.ways =
        static_cast<std::uint32_t>(tree.get_int("iommu.context_cache.entries"));
    dp.walkers = static_cast<std::uint32_t>(tree.get_int("iommu.walkers"));
    dp.iotlb_lookup_latency = tree.get_time("iommu.iotlb_lookup_latency");
    dp.psc_lookup_latency = tree.get_time("iommu.psc_lookup_latency");
    c.iommu.regs.fault_records = static_cast<std::uint32_t>(tree.get_int("iommu.fault_records"));
    c.iommu.regs.invalidation_latency = tree.get_time("iommu.invalidation_latency");
    c.iommu.register_base = c.map.iommu.base;
    c.iommu.table_read_latency = tree.get_time("iommu.table_read_latency");
    iommu::driver_params& dr = c.iommu_driver;
    dr.register_base = c.map.iommu.base;
    const std::string mode = tree.get_string("iommu.host_mode");
    dr.mode = mode == "lazy"     ? iommu::host_mode::lazy
              : mode == "strict" ? iommu::host_mode::strict
                                 : iommu::host_mode::pt;
    dr.superpages = tree.get_bool("iommu.superpages");
    dr.queued_invalidation = tree.get_string("iommu.invalidation") == "queued";
    dr.flush_batch = static_cast<std::uint32_t>(tree.get_int("iommu.deferred.batch"));
    dr.flush_timeout = tree.get_time("iommu.deferred.timeout");
    // The driver's tables, queue and IRT live in the last 256 MiB below 2 GiB (low DRAM, where
    // host addresses equal the store's offsets).
    if (c.map.dram_low.size < dr.pool_size) {
        throw core::config_error("host.memory is too small for the IOMMU driver's table pool");
    }
    dr.pool_base = c.map.dram_low.base + c.map.dram_low.size - dr.pool_size;

    c.enumeration.mmio32 = {c.map.mmio32.base, c.map.mmio32.limit(), c.map.mmio32.base};
    c.enumeration.mmio64 = {c.map.mmio64.base, c.map.mmio64.limit(), c.map.mmio64.base};
    c.enumeration.mps = l.mps;
    c.enumeration.mrrs = l.mrrs;
    c.enumeration.tags = l.max_tags;
    apply_ats_params(tree, c);
    return c;
}

void check_frame_size(const std::string& key, std::uint64_t size, unsigned mtu) {
    if (size <= net::largest_frame_bytes(mtu)) return;
    throw core::config_error(
        fmt::format("{}: {} B is longer than the largest frame nic.mtu {} allows ({} B){}", key,
                    size, mtu, net::largest_frame_bytes(mtu),
                    mtu < 9000 ? "; set nic.mtu up to 9000 for jumbo frames" : ""));
}

std::uint64_t vm_ram_hpa(const workload_config& w, unsigned n) {
    constexpr std::uint64_t gib = std::uint64_t{1} << 30;
    std::uint64_t a = 8 * gib;  // above the host's own buffers
    for (unsigned i = 0; i < n && i < w.vms.size(); ++i)
        a += (w.vms[i].memory + gib - 1) / gib * gib;
    return a;
}

void check_vm_resources(const platform_config& c) {
    const workload_config& w = c.workload;
    unsigned passthrough = 0;
    for (const vm_spec& v : w.vms) passthrough += v.mode == vm_mode::passthrough;
    if (c.nic_num_vfs < passthrough) {
        throw core::config_error(fmt::format(
            "vm.mode: a VM in passthrough mode has no VF left: nic.num_vfs is {} and {} "
            "passthrough VM{} need{} one each",
            c.nic_num_vfs, passthrough, passthrough == 1 ? "" : "s", passthrough == 1 ? "s" : ""));
    }
    if (passthrough && !c.iommu_enabled) {
        throw core::config_error(
            "vm.mode: passthrough needs iommu.enabled: true (VFIO assigns a device to a VM only "
            "behind an IOMMU, which translates the VM's addresses)");
    }
    bool bridged = false;
    for (const vm_spec& v : w.vms) bridged |= v.mode != vm_mode::passthrough;
    if (bridged && c.iommu_enabled && c.iommu_driver.mode != iommu::host_mode::pt) {
        throw core::config_error(
            "iommu.host_mode: the host bridge of a virtio or emulation VM drives the PF with "
            "pass-through DMA only (pt); lazy and strict per-packet mapping is modelled for "
            "bare metal");
    }
    // Each VM's RAM from vm_ram_hpa(); the first VM that does not fit is named.
    const std::uint64_t dram_end = c.map.dram_high.base + c.map.dram_high.size;
    for (unsigned n = 0; n < w.vms.size(); ++n) {
        const std::uint64_t end = vm_ram_hpa(w, n + 1);
        if (end > dram_end) {
            throw core::config_error(fmt::format(
                "vms.{}.memory (or vm.memory): VM {}'s RAM would end at {} GiB of host DRAM (each "
                "VM's from 8 GiB on, 1 GiB aligned), but host DRAM ends at {} GiB",
                n, n, end >> 30, dram_end >> 30));
        }
    }
}

}  // namespace iovsim::platform

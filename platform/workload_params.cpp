#include "platform/workload_params.h"

#include <fmt/format.h>

#include "models/core/errors.h"
#include "models/cpu/cpu_params.h"

namespace iovsim::platform {

using core::param_decl;
using core::param_kind;

void declare_workload_params(core::param_registry& reg) {
    reg.declare(param_decl("vm.mode", param_kind::enumeration, "passthrough", "",
                           "How the VM reaches the NIC: bare-metal (no VM: the host's driver on "
                           "the PF), emulation, virtio or passthrough (a VF assigned to the VM)")
                    .with_choices({"bare-metal", "emulation", "virtio", "passthrough"}));
    reg.declare(param_decl("vm.memory", param_kind::size, "1GiB", "B",
                           "Guest RAM of each VM, mapped GPA to HPA in the EPT and, for an "
                           "assigned VF, in its IOMMU domain")
                    .with_min("16MiB")
                    .with_max("64GiB"));
    reg.declare(param_decl("vm.vcpus", param_kind::integer, "1", "vCPUs",
                           "vCPUs of each VM, placed on host.pin.vcpus in order (the i-th vCPU "
                           "of all VMs on entry i mod length); vCPU 0 runs the workload and takes "
                           "the device's interrupts, the others idle as vm.wait says (halt: HLT, "
                           "halt polling, asleep; poll: spinning in guest mode)")
                    .with_min("1")
                    .with_max("8"));
    reg.declare(param_decl("vm.count", param_kind::integer, "1", "VMs",
                           "VMs on the host, each running the workload against the echo peer; "
                           "each is the vm.* template with its vms.N.* overrides (ignored with "
                           "vm.mode bare-metal)")
                    .with_min("1")
                    .with_max("16"));
    reg.declare(param_decl("vms.*.mode", param_kind::enumeration, "passthrough", "",
                           "VM N's mode (emulation, virtio, passthrough); vm.mode when not set")
                    .with_choices({"bare-metal", "emulation", "virtio", "passthrough"}));
    reg.declare(param_decl("vms.*.memory", param_kind::size, "1GiB", "B",
                           "VM N's RAM; vm.memory when not set")
                    .with_min("16MiB")
                    .with_max("64GiB"));
    reg.declare(param_decl("vms.*.vcpus", param_kind::integer, "1", "vCPUs",
                           "VM N's vCPUs; vm.vcpus when not set")
                    .with_min("1")
                    .with_max("8"));
    reg.declare(param_decl("vms.*.interrupts", param_kind::enumeration, "exit", "",
                           "VM N's interrupt delivery; vm.interrupts when not set")
                    .with_choices({"exit", "apicv", "posted"}));
    reg.declare(param_decl("vms.*.wait", param_kind::enumeration, "halt", "",
                           "VM N's idle wait; vm.wait when not set")
                    .with_choices({"halt", "poll"}));
    reg.declare(param_decl("workload.type", param_kind::enumeration, "rr", "",
                           "rr: request/response ping-pong with the echo peer, one frame in "
                           "flight; stream_tx: each VM sends workload.count frames as fast as its "
                           "TX ring allows to a sink on the wire (nic.peer is then none); "
                           "stream_rx, poisson: a generator on the wire sends workload.count "
                           "frames to each VM (bare metal: to the host) at workload.rate (evenly "
                           "spaced, or with exponential gaps from sim.seed), which receives them; "
                           "pcap: the frames of workload.pcap replayed at their recorded spacing, "
                           "to the VMs in turn")
                    .with_choices({"rr", "stream_tx", "stream_rx", "poisson", "pcap"}));
    reg.declare(param_decl("workload.pcap", param_kind::string, "", "",
                           "pcap: the capture to replay (Ethernet frames without FCS, as tcpdump "
                           "and iovsim --pcap write them); each frame's destination becomes a "
                           "receiver's MAC, the VMs in turn"));
    reg.declare(param_decl("workload.rate", param_kind::real, "1000000", "frames/s",
                           "stream_rx, poisson: frames per second the generator sends to each "
                           "receiver (mean rate for poisson); more than the wire carries queues "
                           "at the generator")
                    .with_min("1")
                    .with_max("1e9"));
    reg.declare(param_decl("workload.start", param_kind::time, "200us", "ns",
                           "stream_rx, poisson, pcap: when the generator sends its first frame, "
                           "or when every receiver's driver is up if that is later")
                    .with_max("1s"));
    reg.declare(param_decl("workload.size", param_kind::size, "64", "B",
                           "Frame length on the wire after the SFD, FCS included (64 to 1518; "
                           "up to 9018 with jumbo frames: at most nic.mtu + 18)")
                    .with_min("64")
                    .with_max("9018"));
    reg.declare(param_decl("workload.count", param_kind::integer, "10000", "packets",
                           "Round trips to run, warm-up included (stream_tx: frames each sender "
                           "sends; stream_rx, poisson: frames each receiver is sent)")
                    .with_min("1")
                    .with_max("100000000"));
    reg.declare(param_decl("workload.warmup", param_kind::integer, "100", "packets",
                           "First round trips left out of the statistics")
                    .with_min("0")
                    .with_max("100000000"));
    reg.declare(param_decl("workload.duration", param_kind::time, "0ns", "ns",
                           "rr: run for this long of simulated time after the warm-up instead of "
                           "workload.count round trips (0: count them)")
                    .with_max("1000s"));
    reg.declare(param_decl("workload.think_time", param_kind::time, "0ns", "ns",
                           "Pause between a response and the next request")
                    .with_max("1s"));
    reg.declare(param_decl("app.stack.tx", param_kind::integer, "0", "cycles",
                           "The endpoint's network stack per frame sent, above its driver (send "
                           "system call, socket, UDP/IP, qdisc), on the guest's vCPU or, on bare "
                           "metal, the host's CPU at host.cpu_clock. 0: the workload hands raw "
                           "frames to the driver. Linux's UDP send path is about 3500 cycles "
                           "(Arrakis, OSDI 2014, Table 1: send stack, copy and system call of a "
                           "UDP echo, about 1.6 of its 3.36 us at 2.2 GHz)")
                    .with_min("0")
                    .with_max("10000000"));
    reg.declare(param_decl("app.stack.rx", param_kind::integer, "0", "cycles",
                           "The endpoint's network stack per frame received, above its driver "
                           "(protocol input, socket, wake-up, receive system call), as "
                           "app.stack.tx. Linux's UDP receive path is about 3900 cycles (Arrakis, "
                           "OSDI 2014, Table 1: the rest of the 3.36 us)")
                    .with_min("0")
                    .with_max("10000000"));
}

namespace {

vm_mode parse_mode(const std::string& mode) {
    if (mode == "bare-metal") return vm_mode::bare_metal;
    if (mode == "emulation") return vm_mode::emulation;
    if (mode == "virtio") return vm_mode::virtio;
    return vm_mode::passthrough;
}

}  // namespace

workload_config make_workload_config(const core::param_tree& tree) {
    workload_config w;
    w.mode = parse_mode(tree.get_string("vm.mode"));
    const std::string type = tree.get_string("workload.type");
    w.type = type == "stream_tx"   ? workload_type::stream_tx
             : type == "stream_rx" ? workload_type::stream_rx
             : type == "poisson"   ? workload_type::poisson
             : type == "pcap"      ? workload_type::pcap
                                   : workload_type::rr;
    w.rate = tree.get_real("workload.rate");
    w.start = tree.get_time("workload.start");
    w.pcap = tree.get_string("workload.pcap");
    if (w.type == workload_type::pcap && w.pcap.empty())
        throw core::config_error("workload.pcap: workload.type pcap needs a capture to replay");
    w.size = static_cast<std::uint32_t>(tree.get_bytes("workload.size"));
    w.count = static_cast<std::uint64_t>(tree.get_int("workload.count"));
    w.warmup = static_cast<std::uint64_t>(tree.get_int("workload.warmup"));
    w.think_time = tree.get_time("workload.think_time");
    w.stack_tx = static_cast<std::uint64_t>(tree.get_int("app.stack.tx"));
    w.stack_rx = static_cast<std::uint64_t>(tree.get_int("app.stack.rx"));
    w.duration = tree.get_time("workload.duration");
    if (w.duration > 0 && w.type != workload_type::rr) {
        throw core::config_error(fmt::format(
            "workload.duration: only workload.type rr runs for a duration ({} counts frames: "
            "workload.count)",
            to_string(w.type)));
    }
    const auto count = static_cast<unsigned>(tree.get_int("vm.count"));
    for (const std::size_t n : tree.indices("vms")) {
        if (n >= count) {
            throw core::config_error(
                fmt::format("vms.{}: there are only {} VM{} (vm.count); VMs are numbered from 0", n,
                            count, count == 1 ? "" : "s"));
        }
    }
    if (w.mode == vm_mode::bare_metal) return w;
    // The template, then VM N's own keys.
    const auto pick = [&tree](unsigned n, const char* key) {
        const std::string own = fmt::format("vms.{}.{}", n, key);
        return tree.is_set(own) ? own : std::string("vm.") + key;
    };
    for (unsigned n = 0; n < count; ++n) {
        vm_spec v;
        const std::string mode_key = pick(n, "mode");
        v.mode = parse_mode(tree.get_string(mode_key));
        if (v.mode == vm_mode::bare_metal) {
            throw core::config_error(fmt::format(
                "{}: bare-metal is not a VM's mode (vm.mode: bare-metal runs the host's own "
                "driver with no VM)",
                mode_key));
        }
        v.memory = tree.get_bytes(pick(n, "memory"));
        v.vcpus = static_cast<unsigned>(tree.get_int(pick(n, "vcpus")));
        const std::string ik = pick(n, "interrupts");
        v.interrupts = cpu::parse_delivery_mode_key(tree.get_string(ik), ik);
        const std::string wk = pick(n, "wait");
        v.wait = cpu::parse_wait_mode_key(tree.get_string(wk), wk);
        w.vms.push_back(v);
    }
    if (w.warmup >= w.count) {
        throw core::config_error(
            fmt::format("workload.warmup ({}) must be below workload.count ({}): no round trip "
                        "would be measured",
                        w.warmup, w.count));
    }
    return w;
}

const char* to_string(workload_type t) {
    switch (t) {
        case workload_type::rr:
            return "rr";
        case workload_type::stream_tx:
            return "stream_tx";
        case workload_type::stream_rx:
            return "stream_rx";
        case workload_type::poisson:
            return "poisson";
        case workload_type::pcap:
            return "pcap";
    }
    return "?";
}

const char* to_string(vm_mode m) {
    switch (m) {
        case vm_mode::bare_metal:
            return "bare-metal";
        case vm_mode::emulation:
            return "emulation";
        case vm_mode::virtio:
            return "virtio";
        case vm_mode::passthrough:
            return "passthrough";
    }
    return "?";
}

}  // namespace iovsim::platform

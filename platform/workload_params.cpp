#include "platform/workload_params.h"

#include <fmt/format.h>

#include "models/core/errors.h"

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
    reg.declare(param_decl("workload.type", param_kind::enumeration, "rr", "",
                           "rr: request/response ping-pong with the echo peer, one frame in "
                           "flight")
                    .with_choices({"rr"}));
    reg.declare(param_decl("workload.size", param_kind::size, "64", "B",
                           "Frame length on the wire after the SFD, FCS included (64 to 1518)")
                    .with_min("64")
                    .with_max("1518"));
    reg.declare(param_decl("workload.count", param_kind::integer, "10000", "packets",
                           "Round trips to run, warm-up included")
                    .with_min("1")
                    .with_max("100000000"));
    reg.declare(param_decl("workload.warmup", param_kind::integer, "100", "packets",
                           "First round trips left out of the statistics")
                    .with_min("0")
                    .with_max("100000000"));
    reg.declare(param_decl("workload.think_time", param_kind::time, "0ns", "ns",
                           "Pause between a response and the next request")
                    .with_max("1s"));
}

workload_config make_workload_config(const core::param_tree& tree) {
    workload_config w;
    const std::string mode = tree.get_string("vm.mode");
    if (mode == "bare-metal")
        w.mode = vm_mode::bare_metal;
    else if (mode == "emulation")
        w.mode = vm_mode::emulation;
    else if (mode == "virtio")
        w.mode = vm_mode::virtio;
    else
        w.mode = vm_mode::passthrough;
    w.vm_memory = tree.get_bytes("vm.memory");
    w.type = workload_type::rr;
    w.size = static_cast<std::uint32_t>(tree.get_bytes("workload.size"));
    w.count = static_cast<std::uint64_t>(tree.get_int("workload.count"));
    w.warmup = static_cast<std::uint64_t>(tree.get_int("workload.warmup"));
    w.think_time = tree.get_time("workload.think_time");
    if (w.warmup >= w.count) {
        throw core::config_error(
            fmt::format("workload.warmup ({}) must be below workload.count ({}): no round trip "
                        "would be measured",
                        w.warmup, w.count));
    }
    return w;
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

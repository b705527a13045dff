// The workload and VM keys of `iovsim run` (issue 6): vm.mode, vm.memory, vm.count, vms.N.* and
// workload.*, declared once with default, unit and meaning, and read into a workload_config.
//
// vm.mode accepts bare-metal, emulation, virtio and passthrough. workload.type: rr
// (request/response ping-pong: one frame in flight per VM, the next request when the echo is
// back), stream_tx (each VM, or the host, sends workload.count frames to a sink as fast as its
// TX ring allows), stream_rx / poisson (a generator on the wire sends
// workload.count frames to each VM, or to the host on bare metal, at workload.rate, evenly
// spaced or with exponential gaps, from workload.start on or once every receiver's driver is up),
// pcap (the frames of workload.pcap replayed at their recorded spacing, to the VMs in turn). No
// timing of its own; workload.think_time is the pause between a response and the next request.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "models/core/params.h"
#include "models/core/units.h"
#include "models/cpu/halt_poll.h"
#include "models/cpu/lapic.h"

namespace iovsim::platform {

enum class vm_mode { bare_metal, emulation, virtio, passthrough };

// One VM of the run: the vm.* template with its vms.N.* overrides.
struct vm_spec {
    vm_mode mode = vm_mode::passthrough;
    std::uint64_t memory = std::uint64_t{1} << 30;
    unsigned vcpus = 1;  // vCPU 0 runs the workload; the others idle
    cpu::delivery_mode interrupts = cpu::delivery_mode::posted;
    cpu::wait_mode wait = cpu::wait_mode::halt;
};
enum class workload_type { rr, stream_tx, stream_rx, poisson, pcap };

struct workload_config {
    vm_mode mode = vm_mode::passthrough;
    workload_type type = workload_type::rr;
    std::uint32_t size = 64;  // frame length on the wire after the SFD, FCS included
    std::uint64_t count = 10000;
    std::uint64_t warmup = 100;
    tick_t think_time = 0;
    // app.stack.tx / .rx: the endpoint's network stack per frame sent / received, in CPU cycles
    // (0: raw frames), on the guest's vCPU or the bare-metal host's CPU.
    std::uint64_t stack_tx = 0, stack_rx = 0;
    tick_t duration = 0;  // workload.duration: rr runs this long after the warm-up (0: count)
    double rate = 1e6;    // workload.rate: frames/s the generator sends (stream_rx, poisson)
    tick_t start = 200 * ticks_per_us;  // workload.start: when the generator begins
    std::string pcap;                   // workload.pcap: the capture pcap replays
    // vm.count VMs (none with vm.mode bare-metal: then vm.count and vms.* are ignored).
    std::vector<vm_spec> vms;

    // rr: whether round trip `seq` (0-based) is run, at `now`, the measured window having begun
    // at `measured_begin` (with round trip `warmup`): workload.count round trips, or with
    // workload.duration the warm-up and then round trips until that much time has passed.
    bool more(std::uint64_t seq, tick_t now, tick_t measured_begin) const {
        if (duration == 0) return seq < count;
        return seq <= warmup || now - measured_begin < duration;
    }
};

// Declares vm.mode, vm.memory, vm.vcpus, vm.count, vms.*.{mode, memory, vcpus, interrupts, wait},
// workload.type, workload.size (64..9018 B; make_platform_config() holds it to nic.mtu + 18),
// workload.count, workload.warmup, workload.think_time, workload.{rate, start, pcap, duration}
// and app.stack.{tx, rx}.
void declare_workload_params(core::param_registry& reg);

// Reads a resolved tree. A vms.N.* key with N at or above vm.count, or vms.N.mode bare-metal, is
// a core::config_error naming the key.
workload_config make_workload_config(const core::param_tree& tree);

const char* to_string(vm_mode m);
const char* to_string(workload_type t);
// Whether the link partner generates the traffic and the host receives it.
inline bool is_rx(workload_type t) {
    return t == workload_type::stream_rx || t == workload_type::poisson || t == workload_type::pcap;
}

}  // namespace iovsim::platform

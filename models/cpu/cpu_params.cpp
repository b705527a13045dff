#include "models/cpu/cpu_params.h"

#include <fmt/format.h>

#include "models/core/errors.h"

namespace iovsim::cpu {

using core::config_error;
using core::param_decl;
using core::param_kind;

void declare_cpu_params(core::param_registry& reg) {
    const auto d = [&](const char* name, param_kind kind, const char* def, const char* unit,
                       const char* desc) { return param_decl(name, kind, def, unit, desc); };
    const auto cycles = [&](const char* name, const char* def, const char* desc) {
        reg.declare(
            d(name, param_kind::integer, def, "cycles", desc).with_min("0").with_max("100000000"));
    };

    reg.declare(d("host.cpu_clock", param_kind::frequency, "2.1GHz", "GHz",
                  "Host core clock that KVM's costs in cycles run at (default: the Xeon E5-2450 "
                  "the exit costs were measured on)")
                    .with_min("100MHz")
                    .with_max("10GHz"));
    reg.declare(d("host.cores", param_kind::integer, "4", "cores",
                  "Host cores that vCPU, VMM, vhost and softirq threads are pinned to")
                    .with_min("1")
                    .with_max("1024"));
    reg.declare(d("host.timeslice", param_kind::time, "3ms", "ms",
                  "Time slice after which a thread sharing a core with a runnable one is "
                  "preempted (CFS's 6 ms period shared by two threads)")
                    .with_min("1us")
                    .with_max("1s"));
    reg.declare(d("host.wakeup_latency", param_kind::time, "2us", "us",
                  "From a thread signalling a sleeping one (eventfd, wake-up IPI) until that "
                  "thread runs on its idle core")
                    .with_max("10ms"));
    reg.declare(d("host.pin.vcpus", param_kind::integer_list, "[0]", "core",
                  "Cores of the vCPU threads: the i-th vCPU of all VMs in order runs on entry "
                  "i mod length")
                    .with_min("0"));
    reg.declare(d("host.pin.vhost", param_kind::integer_list, "[1]", "core",
                  "Cores of the vhost workers: the i-th VM's worker runs on entry i mod length")
                    .with_min("0"));
    reg.declare(d("host.pin.vmm_io", param_kind::integer_list, "[2]", "core",
                  "Cores of the VMMs' I/O threads: the i-th VM's runs on entry i mod length")
                    .with_min("0"));
    reg.declare(d("host.pin.softirq", param_kind::integer, "3", "core",
                  "Core that runs the host's network softirq processing (the PF's interrupts)")
                    .with_min("0"));

    reg.declare(d("kvm.halt_poll", param_kind::time, "200us", "us",
                  "How long KVM polls for an interrupt after a HLT exit before the vCPU thread "
                  "sleeps (halt_poll_ns; 0 turns polling off)")
                    .with_max("1s"));
    cycles("kvm.ioeventfd_notify", "560",
           "From a kick's ioeventfd signal to the backend thread notified, one way (Dall et al., "
           "ISCA 2016)");
    cycles("kvm.exit.transition", "500",
           "Hardware VM exit plus VM entry alone, part of every exit below (estimate for Sandy "
           "Bridge)");
    cycles("kvm.exit.vmcall", "1437",
           "VMCALL round trip: null exit and entry with minimal KVM work (Dall et al.)");
    cycles("kvm.exit.hlt", "1437", "HLT exit into KVM and entry back, waiting excluded");
    cycles("kvm.exit.external_interrupt", "1437",
           "EXTERNAL_INTERRUPT exit, KVM's handling and entry with the injection");
    cycles("kvm.exit.interrupt_window", "1437", "INTERRUPT_WINDOW exit and entry");
    cycles("kvm.exit.mmio_kernel", "2565",
           "MMIO exit (EPT_VIOLATION/EPT_MISCONFIG) handled in KVM, ioeventfd included (Dall "
           "et al.)");
    cycles("kvm.exit.pio_kernel", "2565", "IO_INSTRUCTION exit handled in KVM (Dall et al.)");
    cycles("kvm.exit.mmio_vmm", "6732",
           "MMIO exit returned to the user-space VMM and back, device model excluded (Dall et "
           "al.)");
    cycles("kvm.exit.pio_vmm", "6732",
           "IO_INSTRUCTION exit returned to the user-space VMM and back, device model excluded");
    cycles("kvm.exit.eoi", "1556",
           "EOI that exits (APIC_ACCESS, APIC_WRITE, EOI_INDUCED): virtual IRQ completion (Dall "
           "et al., ISCA 2016)");

    reg.declare(d("vm.interrupts", param_kind::enumeration, "exit", "",
                  "Interrupt delivery: exit (exit and inject, EOI exits), apicv (virtual EOI), "
                  "posted (posted interrupts, no exit while the vCPU runs)")
                    .with_choices({"exit", "apicv", "posted"}));
    reg.declare(d("vm.wait", param_kind::enumeration, "halt", "",
                  "How an idle vCPU waits: halt (HLT exit, halt polling, sleep) or poll (spins "
                  "in guest mode)")
                    .with_choices({"halt", "poll"}));
}

delivery_mode parse_delivery_mode_key(const std::string& text, const std::string& key) {
    if (const auto m = parse_delivery_mode(text)) return *m;
    throw config_error(
        fmt::format("{}: unknown delivery mode '{}' (expected exit, apicv or posted)", key, text));
}

wait_mode parse_wait_mode_key(const std::string& text, const std::string& key) {
    if (const auto m = parse_wait_mode(text)) return *m;
    throw config_error(
        fmt::format("{}: unknown wait mode '{}' (expected halt or poll)", key, text));
}

namespace {

std::vector<unsigned> cores_of(const core::param_tree& tree, const char* key, unsigned cores) {
    const std::vector<std::int64_t> list = tree.get_int_list(key);
    if (list.empty()) throw config_error(fmt::format("{}: at least one core is needed", key));
    std::vector<unsigned> out;
    for (std::int64_t c : list) {
        if (c < 0 || c >= static_cast<std::int64_t>(cores))
            throw config_error(
                fmt::format("{}: core {} does not exist (host.cores is {}: cores 0 to {})", key, c,
                            cores, cores - 1));
        out.push_back(static_cast<unsigned>(c));
    }
    return out;
}

std::uint64_t cycles_of(const core::param_tree& tree, const char* key) {
    return static_cast<std::uint64_t>(tree.get_int(key));
}

}  // namespace

cpu_config make_cpu_config(const core::param_tree& tree) {
    cpu_config c;
    exit_cost_params& e = c.exits;
    e.cpu_clock_hz = tree.get_hz("host.cpu_clock");
    e.transition = cycles_of(tree, "kvm.exit.transition");
    e.ioeventfd_notify = cycles_of(tree, "kvm.ioeventfd_notify");
    const struct {
        const char* key;
        std::uint64_t* field;
    } round_trips[] = {
        {"kvm.exit.vmcall", &e.vmcall},
        {"kvm.exit.hlt", &e.hlt},
        {"kvm.exit.external_interrupt", &e.external_interrupt},
        {"kvm.exit.interrupt_window", &e.interrupt_window},
        {"kvm.exit.mmio_kernel", &e.mmio_kernel},
        {"kvm.exit.pio_kernel", &e.pio_kernel},
        {"kvm.exit.mmio_vmm", &e.mmio_vmm},
        {"kvm.exit.pio_vmm", &e.pio_vmm},
        {"kvm.exit.eoi", &e.eoi},
    };
    for (const auto& rt : round_trips) {
        *rt.field = cycles_of(tree, rt.key);
        if (*rt.field < e.transition)
            throw config_error(fmt::format(
                "{}: {} cycles is less than the exit and entry alone (kvm.exit.transition = {})",
                rt.key, *rt.field, e.transition));
    }
    if (e.mmio_vmm < e.mmio_kernel)
        throw config_error(
            fmt::format("kvm.exit.mmio_vmm: {} cycles is less than an MMIO exit handled in KVM "
                        "(kvm.exit.mmio_kernel = {})",
                        e.mmio_vmm, e.mmio_kernel));
    if (e.pio_vmm < e.pio_kernel)
        throw config_error(
            fmt::format("kvm.exit.pio_vmm: {} cycles is less than a PIO exit handled in KVM "
                        "(kvm.exit.pio_kernel = {})",
                        e.pio_vmm, e.pio_kernel));

    const auto cores = static_cast<unsigned>(tree.get_int("host.cores"));
    c.scheduler.cores = cores;
    c.scheduler.timeslice = tree.get_time("host.timeslice");
    c.scheduler.wakeup_latency = tree.get_time("host.wakeup_latency");
    c.vcpu_cores = cores_of(tree, "host.pin.vcpus", cores);
    c.vhost_cores = cores_of(tree, "host.pin.vhost", cores);
    c.vmm_io_cores = cores_of(tree, "host.pin.vmm_io", cores);
    const std::int64_t softirq = tree.get_int("host.pin.softirq");
    if (softirq >= static_cast<std::int64_t>(cores))
        throw config_error(
            fmt::format("host.pin.softirq: core {} does not exist (host.cores is {}: cores 0 to "
                        "{})",
                        softirq, cores, cores - 1));
    c.softirq_core = static_cast<unsigned>(softirq);

    c.halt_poll = tree.get_time("kvm.halt_poll");
    c.interrupts = parse_delivery_mode_key(tree.get_string("vm.interrupts"), "vm.interrupts");
    c.wait = parse_wait_mode_key(tree.get_string("vm.wait"), "vm.wait");
    return c;
}

}  // namespace iovsim::cpu

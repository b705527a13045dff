#include "models/cpu/exit_costs.h"

#include <stdexcept>
#include <string>

namespace iovsim::cpu {

namespace {

std::size_t index(exit_reason r) { return static_cast<std::size_t>(r); }

bool is_io(exit_reason r) {
    return r == exit_reason::io_instruction || r == exit_reason::ept_violation ||
           r == exit_reason::ept_misconfig;
}

}  // namespace

const char* to_string(exit_reason r) {
    switch (r) {
        case exit_reason::external_interrupt:
            return "EXTERNAL_INTERRUPT";
        case exit_reason::interrupt_window:
            return "INTERRUPT_WINDOW";
        case exit_reason::hlt:
            return "HLT";
        case exit_reason::vmcall:
            return "VMCALL";
        case exit_reason::io_instruction:
            return "IO_INSTRUCTION";
        case exit_reason::apic_access:
            return "APIC_ACCESS";
        case exit_reason::eoi_induced:
            return "EOI_INDUCED";
        case exit_reason::ept_violation:
            return "EPT_VIOLATION";
        case exit_reason::ept_misconfig:
            return "EPT_MISCONFIG";
        case exit_reason::apic_write:
            return "APIC_WRITE";
    }
    return "UNKNOWN";
}

std::uint32_t basic_exit_reason(exit_reason r) {
    switch (r) {
        case exit_reason::external_interrupt:
            return 1;
        case exit_reason::interrupt_window:
            return 7;
        case exit_reason::hlt:
            return 12;
        case exit_reason::vmcall:
            return 18;
        case exit_reason::io_instruction:
            return 30;
        case exit_reason::apic_access:
            return 44;
        case exit_reason::eoi_induced:
            return 45;
        case exit_reason::ept_violation:
            return 48;
        case exit_reason::ept_misconfig:
            return 49;
        case exit_reason::apic_write:
            return 56;
    }
    return 0xffff;
}

std::optional<exit_reason> parse_exit_reason(std::string_view name) {
    for (exit_reason r : all_exit_reasons)
        if (name == to_string(r)) return r;
    return std::nullopt;
}

const char* to_string(exit_handler h) {
    switch (h) {
        case exit_handler::kvm:
            return "kvm";
        case exit_handler::ioeventfd:
            return "ioeventfd";
        case exit_handler::vmm:
            return "vmm";
    }
    return "unknown";
}

tick_t exit_path::total() const {
    tick_t t = 0;
    for (const exit_step& s : *this) t += s.ticks;
    return t;
}

exit_costs::exit_costs(const exit_cost_params& p) : m_clock(p.cpu_clock_hz) {
    if (!(p.cpu_clock_hz > 0)) throw std::invalid_argument("exit_costs: cpu clock must be > 0");
    const auto at_least_transition = [&](std::uint64_t cycles, const char* what) {
        if (cycles < p.transition)
            throw std::invalid_argument(std::string("exit_costs: ") + what +
                                        " is shorter than the exit + entry transition");
    };
    at_least_transition(p.vmcall, "vmcall");
    at_least_transition(p.hlt, "hlt");
    at_least_transition(p.external_interrupt, "external_interrupt");
    at_least_transition(p.interrupt_window, "interrupt_window");
    at_least_transition(p.mmio_kernel, "mmio_kernel");
    at_least_transition(p.pio_kernel, "pio_kernel");
    at_least_transition(p.eoi, "eoi");
    if (p.mmio_vmm < p.mmio_kernel)
        throw std::invalid_argument("exit_costs: mmio_vmm is shorter than mmio_kernel");
    if (p.pio_vmm < p.pio_kernel)
        throw std::invalid_argument("exit_costs: pio_vmm is shorter than pio_kernel");

    m_transition = cycles(static_cast<double>(p.transition));
    const auto set = [&](exit_reason r, std::uint64_t c) {
        m_kernel[index(r)] = cycles(static_cast<double>(c));
    };
    set(exit_reason::external_interrupt, p.external_interrupt);
    set(exit_reason::interrupt_window, p.interrupt_window);
    set(exit_reason::hlt, p.hlt);
    set(exit_reason::vmcall, p.vmcall);
    set(exit_reason::io_instruction, p.pio_kernel);
    set(exit_reason::apic_access, p.eoi);
    set(exit_reason::eoi_induced, p.eoi);
    set(exit_reason::ept_violation, p.mmio_kernel);
    set(exit_reason::ept_misconfig, p.mmio_kernel);
    set(exit_reason::apic_write, p.eoi);
    m_mmio_vmm = cycles(static_cast<double>(p.mmio_vmm));
    m_pio_vmm = cycles(static_cast<double>(p.pio_vmm));
    m_ioeventfd_notify = cycles(static_cast<double>(p.ioeventfd_notify));
}

bool exit_costs::handled_by(exit_reason r, exit_handler h) {
    return h == exit_handler::kvm || is_io(r);
}

tick_t exit_costs::kernel_cost(exit_reason r) const { return m_kernel[index(r)]; }

tick_t exit_costs::cost(exit_reason r, exit_handler h) const { return path(r, h).total(); }

exit_path exit_costs::path(exit_reason r, exit_handler h) const {
    if (!handled_by(r, h))
        throw std::invalid_argument(std::string("exit_costs: ") + to_string(r) +
                                    " cannot be handled by " + to_string(h));
    const tick_t out = m_transition / 2;
    const tick_t in = m_transition - out;
    const tick_t kernel = kernel_cost(r);
    exit_path p;
    p.steps[p.size++] = {core::stage::exit, out};
    p.steps[p.size++] = {core::stage::kvm, kernel - m_transition};
    if (h == exit_handler::vmm) {
        const tick_t vmm = r == exit_reason::io_instruction ? m_pio_vmm : m_mmio_vmm;
        p.steps[p.size++] = {core::stage::vmm, vmm - kernel};
    }
    p.steps[p.size++] = {core::stage::exit, in};
    return p;
}

}  // namespace iovsim::cpu

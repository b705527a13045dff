#include "models/emu-nic/emulated_e1000.h"

namespace iovsim::emunic {

emulated_e1000::emulated_e1000(sc_core::sc_module_name name, cpu::kvm& k,
                               cpu::descriptor_memory& host_memory, const emulated_e1000_params& p,
                               const e1000_params& device)
    : sc_module(name),
      m_device(device, k.vm_ept(p.vm), host_memory),
      m_tap_fd("tap"),
      m_io("io_thread", k.scheduler(), p.io_core, [this](cpu::host_thread& t) { io_loop(t); }) {
    k.register_mmio(p.vm, p.region, m_device, cpu::exit_handler::vmm);
    m_device.set_irq([&k, p](tick_t at) { k.irqfd(p.vm, p.vcpu, p.vector, at); });
    // Buffers given back or the receiver turned on: look at the tap again.
    m_device.set_rx_ready([this](tick_t at) {
        if (!m_tap.empty()) m_tap_fd.signal(at);
    });
}

void emulated_e1000::tap_deliver(const std::vector<std::uint8_t>& frame, tick_t at) {
    if (m_tap.push(frame, at)) m_tap_fd.signal(at);
}

void emulated_e1000::io_loop(cpu::host_thread& t) {
    for (;;) {
        t.wait(m_tap_fd);
        // e1000_can_receive false: the frame stays in the tap until RCTL or RDT changes.
        for (const auto* next = m_tap.due(t.now()); next && m_device.can_receive(next->size());
             next = m_tap.due(t.now())) {
            const std::vector<std::uint8_t> frame = m_tap.pop();
            t.run(cycles(m_device.params().tap_read_cycles));  // read() from the tap
            t.run(cycles(m_device.receive(frame, t.now())));
        }
    }
}

}  // namespace iovsim::emunic

#include "models/virtio/vhost_worker.h"

#include <utility>

#include "models/virtio/virtio_net.h"

namespace iovsim::virtio {

vhost_worker::vhost_worker(sc_core::sc_module_name name, cpu::host_scheduler& scheduler,
                           unsigned core, virtio_net_backend& backend, double cpu_hz, irq_fn irq)
    : sc_module(name),
      m_backend(backend),
      m_hz(cpu_hz),
      m_irq(std::move(irq)),
      m_work(std::string(name) + ".work"),
      m_thread("thread", scheduler, core, [this](cpu::host_thread& t) { body(t); }) {}

void vhost_worker::deliver(std::vector<std::uint8_t> frame, tick_t at) {
    if (m_tap.push(std::move(frame), at)) m_work.signal(at);
}

void vhost_worker::body(cpu::host_thread& t) {
    for (;;) {
        t.wait(m_work);
        ++m_wakeups;
        const tick_t start = t.now();
        const virtio_net_backend::result tx = m_backend.handle_tx();
        std::uint64_t cycles = tx.cycles;
        bool rx_irq = false;
        while (m_tap.due(start) && m_backend.rx_buffer_available()) {  // else they wait in the tap
            const virtio_net_backend::result rx = m_backend.receive(m_tap.pop());
            cycles += rx.cycles;
            rx_irq = rx_irq || rx.interrupt;
        }
        if (cycles > 0) {
            const tick_t work = cycles_to_ticks(static_cast<double>(cycles), m_hz);
            t.run(work);
            m_busy += work;
        }
        if (on_done) on_done(t.now());
        if (!m_irq) continue;
        if (tx.interrupt) m_irq(tx_queue, t.now());
        if (rx_irq) m_irq(rx_queue, t.now());
    }
}

}  // namespace iovsim::virtio

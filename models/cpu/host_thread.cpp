#include "models/cpu/host_thread.h"

#include "models/core/sc_glue.h"

namespace iovsim::cpu {

void eventfd::signal(tick_t at) {
    const tick_t now = now_ticks();
    if (at < now) at = now;
    m_pending.emplace(at, 0);
    ++m_signals;
    arm();
}

void eventfd::arm() {
    if (m_pending.empty()) return;
    const tick_t now = now_ticks();
    const tick_t first = m_pending.begin()->first;
    m_event.notify(to_sc_time(first > now ? first - now : 0));
}

std::uint64_t eventfd::take(tick_t t, tick_t& first) {
    std::uint64_t n = 0;
    while (!m_pending.empty() && m_pending.begin()->first <= t) {
        if (n == 0) first = m_pending.begin()->first;
        m_pending.erase(m_pending.begin());
        ++n;
    }
    return n;
}

host_thread::host_thread(sc_core::sc_module_name name, host_scheduler& scheduler, unsigned core,
                         body b)
    : sc_module(name),
      m_sched(scheduler),
      m_id(scheduler.add_thread(basename(), core)),
      m_body(std::move(b)) {
    SC_HAS_PROCESS(host_thread);
    SC_THREAD(thread);
}

void host_thread::thread() {
    if (m_body) m_body(*this);
    m_finished = true;
}

tick_t host_thread::now() const { return now_ticks(); }

std::uint64_t host_thread::wait(eventfd& fd) {
    for (;;) {
        tick_t first = 0;
        const std::uint64_t n = fd.take(now(), first);
        if (n > 0) {
            fd.arm();
            m_woken = true;
            return n;
        }
        fd.arm();
        sc_core::wait(fd.m_event);
    }
}

void host_thread::sleep(tick_t duration) {
    sc_core::wait(to_sc_time(duration));
    m_woken = true;
}

void host_thread::run(tick_t work) {
    const tick_t at = now();
    const job_id j = m_woken ? m_sched.wake(m_id, at, work) : m_sched.submit(m_id, at, work);
    m_woken = false;
    for (;;) {
        const tick_t c = m_sched.completion(j);
        const tick_t t = now();
        if (c <= t) break;
        sc_core::wait(to_sc_time(c - t));
    }
    m_last_completion = now();
    m_sched.release(j);
}

}  // namespace iovsim::cpu

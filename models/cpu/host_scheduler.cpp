#include "models/cpu/host_scheduler.h"

#include <algorithm>
#include <stdexcept>

namespace iovsim::cpu {

host_scheduler::host_scheduler(const host_scheduler_params& p) : m_params(p) {
    if (p.cores == 0) throw std::invalid_argument("host_scheduler: at least one core is needed");
    if (p.timeslice == 0) throw std::invalid_argument("host_scheduler: time slice must be > 0");
    m_cores.resize(p.cores);
}

thread_id host_scheduler::add_thread(std::string name, unsigned core) {
    if (core >= m_cores.size())
        throw std::invalid_argument("host_scheduler: thread " + name + " pinned to core " +
                                    std::to_string(core) + ", but there are only " +
                                    std::to_string(m_cores.size()) + " cores");
    m_threads.push_back({std::move(name), core, {}});
    return static_cast<thread_id>(m_threads.size() - 1);
}

const host_scheduler::thread_info& host_scheduler::info(thread_id t) const {
    if (t >= m_threads.size())
        throw std::invalid_argument("host_scheduler: unknown thread " + std::to_string(t));
    return m_threads[t];
}

tick_t host_scheduler::core_busy_ticks(unsigned core) const {
    if (core >= m_cores.size())
        throw std::invalid_argument("host_scheduler: unknown core " + std::to_string(core));
    return m_cores[core].busy;
}

void host_scheduler::observer::ran(thread_id t, tick_t dt) {
    self->m_threads[t].stats.run_ticks += dt;
}

void host_scheduler::observer::done(thread_id t, const job& j, tick_t when) {
    thread_stats& s = self->m_threads[t].stats;
    ++s.jobs;
    s.wait_ticks += when - j.at - j.work;
    self->m_pending.erase(j.id);
    if (self->m_released.erase(j.id) == 0) self->m_done[j.id] = when;
}

void host_scheduler::observer::preempted(thread_id t) { ++self->m_threads[t].stats.preemptions; }

void host_scheduler::admit(core_state& c) const {
    std::size_t n = 0;
    while (n < c.arrivals.size() && c.arrivals[n].at <= c.now) {
        const arrival& a = c.arrivals[n++];
        queue& q = c.threads[a.thread];
        q.jobs.push_back(a.j);
        const bool running = c.has_running && c.running == a.thread;
        if (!running && !q.queued) {
            q.queued = true;
            c.runq.push_back(a.thread);
        }
    }
    c.arrivals.erase(c.arrivals.begin(), c.arrivals.begin() + static_cast<std::ptrdiff_t>(n));
}

tick_t host_scheduler::simulate(core_state& c, tick_t limit, job_id stop, observer* obs,
                                job_id start_of) const {
    const tick_t q = m_params.timeslice;
    limit = std::max(limit, c.now);
    // The first slice boundary at or after `t`, slices repeating from slice_end.
    const auto renew = [&](tick_t t) {
        if (c.slice_end < t) c.slice_end += (t - c.slice_end + q - 1) / q * q;
    };
    for (;;) {
        admit(c);
        if (!c.has_running) {
            if (!c.runq.empty()) {
                c.running = c.runq.front();
                c.runq.pop_front();
                c.threads[c.running].queued = false;
                c.has_running = true;
                c.slice_end = c.now + q;
                continue;
            }
            const tick_t next = c.arrivals.empty() ? forever : c.arrivals.front().at;
            if (next == forever || next > limit) {
                if (limit != forever) c.now = std::max(c.now, limit);
                return forever;
            }
            c.now = next;
            continue;
        }
        job& j = c.threads[c.running].jobs.front();
        if (start_of != 0 && j.id == start_of) return c.now;
        tick_t t = std::min(c.now + j.remaining, limit);
        if (!c.arrivals.empty()) t = std::min(t, c.arrivals.front().at);
        const bool others_waiting = !c.runq.empty();
        if (others_waiting) t = std::min(t, c.slice_end);
        const tick_t dt = t - c.now;
        j.remaining -= dt;
        c.now = t;
        c.busy += dt;
        if (obs) obs->ran(c.running, dt);
        // Nobody waited: the running thread simply started new slices.
        if (!others_waiting) renew(c.now);
        admit(c);
        const thread_id self = c.running;
        if (j.remaining == 0) {
            const job finished = j;
            queue& mine = c.threads[self];
            mine.jobs.pop_front();
            if (mine.jobs.empty()) c.has_running = false;  // blocks
            if (obs) obs->done(self, finished, c.now);
            if (finished.id == stop) return c.now;
        }
        // At the slice's end a waiting thread takes the core; with nobody waiting the slice is
        // renewed lazily (renew above), so one that arrives exactly at the boundary still does.
        if (c.has_running && c.now >= c.slice_end && !c.runq.empty()) {
            c.has_running = false;
            c.threads[self].queued = true;
            c.runq.push_back(self);
            if (obs) obs->preempted(self);
        }
        if (c.now >= limit) return forever;
    }
}

job_id host_scheduler::enqueue(thread_id thread, tick_t at, tick_t work, bool wakes) {
    const thread_info& ti = info(thread);
    core_state& c = m_cores[ti.core];
    if (at < c.last_submit) {
        ++m_late;
        at = c.last_submit;
    }
    c.last_submit = at;
    observer obs{this};
    simulate(c, at, 0, &obs);
    if (wakes) {
        const auto it = c.threads.find(thread);
        const bool busy = (c.has_running && c.running == thread) ||
                          (it != c.threads.end() && !it->second.jobs.empty()) ||
                          std::any_of(c.arrivals.begin(), c.arrivals.end(),
                                      [&](const arrival& a) { return a.thread == thread; });
        if (!busy) {
            at += m_params.wakeup_latency;
            ++m_threads[thread].stats.wakeups;
        }
    }
    const job_id id = m_next_job++;
    const arrival a{at, thread, job{id, at, work, work}};
    // Keep arrivals sorted by time, ties in submission order.
    const auto pos = std::upper_bound(c.arrivals.begin(), c.arrivals.end(), at,
                                      [](tick_t t, const arrival& x) { return t < x.at; });
    c.arrivals.insert(pos, a);
    m_pending[id] = thread;
    // A job runnable now is admitted at once, so blocked() and later calls see it.
    simulate(c, c.now, 0, &obs);
    return id;
}

job_id host_scheduler::submit(thread_id thread, tick_t at, tick_t work) {
    return enqueue(thread, at, work, false);
}

job_id host_scheduler::wake(thread_id thread, tick_t at, tick_t work) {
    return enqueue(thread, at, work, true);
}

tick_t host_scheduler::completion(job_id id) const {
    if (const auto d = m_done.find(id); d != m_done.end()) return d->second;
    const auto p = m_pending.find(id);
    if (p == m_pending.end())
        throw std::invalid_argument("host_scheduler: unknown job " + std::to_string(id));
    core_state copy = m_cores[m_threads[p->second].core];
    return simulate(copy, forever, id, nullptr);
}

tick_t host_scheduler::start(job_id id) const {
    if (m_done.count(id))
        throw std::invalid_argument("host_scheduler: job " + std::to_string(id) + " is complete");
    const auto p = m_pending.find(id);
    if (p == m_pending.end())
        throw std::invalid_argument("host_scheduler: unknown job " + std::to_string(id));
    core_state copy = m_cores[m_threads[p->second].core];
    return simulate(copy, forever, 0, nullptr, id);
}

bool host_scheduler::blocked(thread_id thread, tick_t at) {
    const thread_info& ti = info(thread);
    core_state& c = m_cores[ti.core];
    if (at > c.now) {
        observer obs{this};
        simulate(c, at, 0, &obs);
        c.last_submit = std::max(c.last_submit, at);
    }
    if (c.has_running && c.running == thread) return false;
    const auto it = c.threads.find(thread);
    if (it != c.threads.end() && !it->second.jobs.empty()) return false;
    return std::none_of(c.arrivals.begin(), c.arrivals.end(),
                        [&](const arrival& a) { return a.thread == thread && a.at <= at; });
}

void host_scheduler::advance(tick_t t) {
    observer obs{this};
    for (core_state& c : m_cores) {
        if (t <= c.now) continue;
        simulate(c, t, 0, &obs);
        c.last_submit = std::max(c.last_submit, t);
    }
}

}  // namespace iovsim::cpu

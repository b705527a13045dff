// Host cores as resources and the host threads placed on them: vCPU threads, the VMM's I/O
// thread, vhost workers, softirq processing (issue 5, "Host cores as resources").
//
// Models: `cores` host cores, each running the threads pinned to it, one at a time. A thread
// asks for `work` ticks of CPU from time `at` (submit); its own requests run in order. On each
// core the scheduler is round robin with preemption: a thread that becomes runnable takes an idle
// core at once; on a busy core it joins the run queue and gets the core when the running thread
// blocks (has no more work: it halts or waits) or at the end of the running thread's time slice
// (host.timeslice); the preempted thread goes to the back of the queue. A thread running alone
// keeps the core, slice after slice. So a spinning vCPU delays a vhost worker on its core by at
// most a time slice and never starves it. A thread with no work is blocked; waking it (wake())
// makes its work runnable only after the host's wake-up latency (host.wakeup_latency), while
// work for a thread that is running or runnable queues behind its current work at once.
//
// A deterministic discrete-event core, no SystemC: completion(job) is the job's completion given
// everything submitted so far. Submissions must come in time order per core (as a SystemC shell
// with a zero quantum makes them); one earlier than the last submission on its core is treated
// as arriving then (counted in late_submissions()). Work submitted later never makes an earlier
// job finish sooner, but may preempt it and make it finish later: a shell waits until the
// completion, asks again, and waits more if it moved (final once no other thread on the core can
// submit before it). run() = completion(submit()), for callers with no one to share the core.
//
// Leaves out: threads that migrate between cores (every thread is pinned; "shared" means several
// threads pinned to one core), priorities, CFS's vruntime and wake-up preemption, context-switch
// cost, the wake-up's own CPU time on either core, SMT siblings.
// Timing: exact integer ticks; slices restart whenever a thread gets the core from the queue.
#pragma once

#include <cstdint>
#include <deque>
#include <limits>
#include <map>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "models/core/units.h"

namespace iovsim::cpu {

struct host_scheduler_params {
    unsigned cores = 4;
    // CFS's 6 ms base scheduling period shared by two runnable threads.
    tick_t timeslice = 3 * ticks_per_ms;
    // Sleeping thread woken (eventfd/futex) to running on an idle core: an estimate of Linux's
    // wake-up latency on a server with shallow C-states (a few microseconds).
    tick_t wakeup_latency = 2 * ticks_per_us;
};

using thread_id = std::uint32_t;
using job_id = std::uint64_t;

class host_scheduler {
public:
    // std::invalid_argument for zero cores or a zero time slice.
    explicit host_scheduler(const host_scheduler_params& p = {});

    // A thread pinned to `core`; std::invalid_argument if the core does not exist.
    thread_id add_thread(std::string name, unsigned core);

    // `work` ticks of CPU for `thread`, runnable from `at`. std::invalid_argument for an unknown
    // thread.
    job_id submit(thread_id thread, tick_t at, tick_t work);
    // Another thread signals `thread` at `at` with `work` for it (an eventfd, a wake-up IPI):
    // if `thread` is blocked then, the work is runnable from at + wakeup_latency (counted in
    // wakeups()); otherwise from `at`.
    job_id wake(thread_id thread, tick_t at, tick_t work);
    // Completion of `job` given everything submitted so far. std::invalid_argument for an
    // unknown (or released) job.
    tick_t completion(job_id job) const;
    // When `job` first gets the core given everything submitted so far (its runnable time if the
    // core is free then); for a job already on the core, no later than now. Like completion(),
    // later submissions may only move it later. std::invalid_argument for an unknown job or one
    // already completed.
    tick_t start(job_id job) const;
    // Forgets a job whose completion the caller has (its final completion), to bound memory
    // (optional): if the scheduler has not recorded it yet, it will not.
    void release(job_id job) {
        if (m_done.erase(job) == 0) m_released.insert(job);
    }
    tick_t run(thread_id thread, tick_t at, tick_t work) {
        return completion(submit(thread, at, work));
    }
    // Whether `thread` has no work pending at `at` (commits its core's schedule up to `at`).
    bool blocked(thread_id thread, tick_t at);

    // Commits every core's schedule up to `t` (statistics below count committed time only).
    void advance(tick_t t);

    unsigned cores() const { return static_cast<unsigned>(m_cores.size()); }
    std::size_t threads() const { return m_threads.size(); }
    const std::string& name(thread_id t) const { return info(t).name; }
    unsigned core_of(thread_id t) const { return info(t).core; }
    tick_t timeslice() const { return m_params.timeslice; }
    tick_t wakeup_latency() const { return m_params.wakeup_latency; }

    // Statistics, committed time.
    struct thread_stats {
        tick_t run_ticks = 0;           // on the core
        tick_t wait_ticks = 0;          // completed jobs: completion - runnable - work
        std::uint64_t jobs = 0;         // completed
        std::uint64_t preemptions = 0;  // slices ended with others waiting
        std::uint64_t wakeups = 0;      // woken from blocked
    };
    const thread_stats& stats(thread_id t) const { return info(t).stats; }
    tick_t core_busy_ticks(unsigned core) const;
    std::uint64_t late_submissions() const { return m_late; }

private:
    struct job {
        job_id id;
        tick_t at;  // runnable from
        tick_t work;
        tick_t remaining;
    };
    struct arrival {
        tick_t at;
        thread_id thread;
        job j;
    };
    struct queue {
        std::deque<job> jobs;
        bool queued = false;  // in the run queue
    };
    struct core_state {
        tick_t now = 0;
        tick_t last_submit = 0;
        bool has_running = false;
        thread_id running = 0;
        tick_t slice_end = 0;
        std::deque<thread_id> runq;
        std::vector<arrival> arrivals;  // sorted by (at, submission order)
        std::map<thread_id, queue> threads;
        tick_t busy = 0;
    };
    struct thread_info {
        std::string name;
        unsigned core;
        thread_stats stats;
    };
    // What a simulation step reports; nullptr observer: a dry run for completion().
    struct observer {
        host_scheduler* self;
        void ran(thread_id t, tick_t dt);
        void done(thread_id t, const job& j, tick_t when);
        void preempted(thread_id t);
    };
    static constexpr tick_t forever = std::numeric_limits<tick_t>::max();

    const thread_info& info(thread_id t) const;
    job_id enqueue(thread_id thread, tick_t at, tick_t work, bool wakes);
    // Runs `c` until `limit` or until `stop` completes (returns its completion, else forever), or
    // until `start_of` is on the core (returns that time).
    tick_t simulate(core_state& c, tick_t limit, job_id stop, observer* obs,
                    job_id start_of = 0) const;
    void admit(core_state& c) const;

    host_scheduler_params m_params;
    std::vector<core_state> m_cores;
    std::vector<thread_info> m_threads;
    std::unordered_map<job_id, thread_id> m_pending;  // job -> owner, not yet final
    std::unordered_map<job_id, tick_t> m_done;        // final completions
    std::unordered_set<job_id> m_released;            // released before recorded: never record
    job_id m_next_job = 1;
    std::uint64_t m_late = 0;
};

}  // namespace iovsim::cpu

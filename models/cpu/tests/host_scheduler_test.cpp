#include "models/cpu/host_scheduler.h"

#include <gtest/gtest.h>

#include <stdexcept>

#include "models/cpu/exit_costs.h"

namespace iovsim::cpu {
namespace {

constexpr tick_t us = ticks_per_us;
constexpr tick_t ms = ticks_per_ms;

host_scheduler_params params(unsigned cores, tick_t slice, tick_t wakeup = 2 * us) {
    host_scheduler_params p;
    p.cores = cores;
    p.timeslice = slice;
    p.wakeup_latency = wakeup;
    return p;
}

TEST(HostScheduler, OneThreadRunsItsWorkInOrder) {
    host_scheduler s(params(1, 3 * ms));
    const thread_id t = s.add_thread("vcpu0", 0);
    EXPECT_EQ(s.run(t, 100, 50), 150u);
    // Submitted at 120 while the first job runs until 150: 150 + 10.
    EXPECT_EQ(s.run(t, 120, 10), 160u);
    EXPECT_EQ(s.run(t, 1000, 10), 1010u);
}

// A job released before the scheduler recorded its completion is forgotten for good: asking
// for it afterwards is an unknown job (and nothing of it is kept: memory stays bounded).
TEST(HostScheduler, ReleasedJobsAreForgotten) {
    host_scheduler s(params(1, 3 * ms));
    const thread_id t = s.add_thread("vcpu0", 0);
    const job_id a = s.submit(t, 0, 10 * us);
    EXPECT_EQ(s.completion(a), 10 * us);  // worked out on a copy: not recorded yet
    s.release(a);
    s.submit(t, 20 * us, 10 * us);  // the core moves past `a`
    EXPECT_THROW(s.completion(a), std::invalid_argument);
    const job_id b = s.submit(t, 40 * us, 1 * us);
    s.submit(t, 50 * us, 1 * us);  // `b` is recorded now
    EXPECT_EQ(s.completion(b), 41 * us);
    s.release(b);
    EXPECT_THROW(s.completion(b), std::invalid_argument);
}

TEST(HostScheduler, ThreadsOnDifferentCoresDoNotInterfere) {
    host_scheduler s(params(2, 3 * ms));
    const thread_id vcpu = s.add_thread("vcpu0", 0);
    const thread_id vhost = s.add_thread("vhost0", 1);
    const job_id spin = s.submit(vcpu, 0, 10 * ms);
    EXPECT_EQ(s.run(vhost, 1 * ms, 50 * us), 1 * ms + 50 * us);
    EXPECT_EQ(s.completion(spin), 10 * ms);
    EXPECT_EQ(s.stats(vhost).preemptions + s.stats(vcpu).preemptions, 0u);
}

// A spinning vCPU (10 ms of guest work from 0) and a vhost worker with 50 us of work from 1 ms
// share one core, 3 ms slices. The vhost worker waits for the end of the vCPU's slice at 3 ms
// (2 ms late) and finishes at 3.05 ms; the vCPU loses 50 us and finishes at 10.05 ms.
TEST(HostScheduler, SpinningVcpuDelaysVhostByTheRestOfItsSlice) {
    host_scheduler s(params(1, 3 * ms));
    const thread_id vcpu = s.add_thread("vcpu0", 0);
    const thread_id vhost = s.add_thread("vhost0", 0);
    const job_id spin = s.submit(vcpu, 0, 10 * ms);
    EXPECT_EQ(s.completion(spin), 10 * ms);  // alone so far
    const job_id kick = s.submit(vhost, 1 * ms, 50 * us);
    EXPECT_EQ(s.completion(kick), 3 * ms + 50 * us);
    EXPECT_EQ(s.completion(spin), 10 * ms + 50 * us);  // moved later, never earlier
    s.advance(20 * ms);
    EXPECT_EQ(s.stats(vhost).wait_ticks, 2 * ms);  // 3.05 - 1 - 0.05
    EXPECT_EQ(s.stats(vcpu).wait_ticks, 50 * us);  // 10.05 - 0 - 10
    EXPECT_EQ(s.stats(vcpu).preemptions, 1u);
    EXPECT_EQ(s.stats(vcpu).run_ticks, 10 * ms);
    EXPECT_EQ(s.core_busy_ticks(0), 10 * ms + 50 * us);
}

// As above but the vhost worker needs 4 ms: vCPU 0-3, vhost 3-6 (slice ends, vCPU waiting),
// vCPU 6-9, vhost 9-10 (its last 1 ms), vCPU 10-14 (its last 4 ms).
TEST(HostScheduler, LongWorkOnASharedCoreAlternatesSlices) {
    host_scheduler s(params(1, 3 * ms));
    const thread_id vcpu = s.add_thread("vcpu0", 0);
    const thread_id vhost = s.add_thread("vhost0", 0);
    const job_id spin = s.submit(vcpu, 0, 10 * ms);
    const job_id copy = s.submit(vhost, 1 * ms, 4 * ms);
    EXPECT_EQ(s.completion(copy), 10 * ms);
    EXPECT_EQ(s.completion(spin), 14 * ms);
    s.advance(14 * ms);
    EXPECT_EQ(s.stats(vcpu).preemptions, 2u);   // at 3 and 9
    EXPECT_EQ(s.stats(vhost).preemptions, 1u);  // at 6
    EXPECT_EQ(s.core_busy_ticks(0), 14 * ms);
}

// Three threads on one core, 3 ms slices: A 10 ms from 0, B 4 ms from 1 ms, C 1 ms from 2 ms.
// A 0-3 | B 3-6 | C 6-7 (done) | A 7-10 | B 10-11 (done) | A 11-15 (done).
TEST(HostScheduler, RoundRobinAmongThree) {
    host_scheduler s(params(1, 3 * ms));
    const thread_id a = s.add_thread("a", 0);
    const thread_id b = s.add_thread("b", 0);
    const thread_id c = s.add_thread("c", 0);
    const job_id ja = s.submit(a, 0, 10 * ms);
    const job_id jb = s.submit(b, 1 * ms, 4 * ms);
    const job_id jc = s.submit(c, 2 * ms, 1 * ms);
    EXPECT_EQ(s.completion(jc), 7 * ms);
    EXPECT_EQ(s.completion(jb), 11 * ms);
    EXPECT_EQ(s.completion(ja), 15 * ms);
}

TEST(HostScheduler, ARunnerAloneKeepsTheCoreAcrossSlices) {
    host_scheduler s(params(1, 1 * ms));
    const thread_id vcpu = s.add_thread("vcpu0", 0);
    EXPECT_EQ(s.run(vcpu, 0, 10 * ms), 10 * ms);
    s.advance(10 * ms);
    EXPECT_EQ(s.stats(vcpu).preemptions, 0u);
}

// A thread that becomes runnable exactly at a slice boundary (3 ms) gets the core then. A later
// one (at 4 ms) waits for the boundary at 6 ms: the running thread's slices keep repeating from
// 0 while it runs alone.
TEST(HostScheduler, ArrivalOnASliceBoundary) {
    host_scheduler s(params(1, 3 * ms));
    const thread_id vcpu = s.add_thread("vcpu0", 0);
    const thread_id vhost = s.add_thread("vhost0", 0);
    s.submit(vcpu, 0, 20 * ms);
    EXPECT_EQ(s.run(vhost, 3 * ms, 50 * us), 3 * ms + 50 * us);
    // The vCPU got the core back at 3.05 ms with a fresh slice ending at 6.05 ms.
    EXPECT_EQ(s.run(vhost, 4 * ms, 50 * us), 6 * ms + 100 * us);
}

TEST(HostScheduler, WakingABlockedThreadCostsTheWakeupLatency) {
    host_scheduler s(params(2, 3 * ms, 2 * us));
    const thread_id vhost = s.add_thread("vhost0", 1);
    EXPECT_TRUE(s.blocked(vhost, 1 * ms));
    // Blocked: runnable at 1 ms + 2 us, done 10 us later.
    const job_id first = s.wake(vhost, 1 * ms, 10 * us);
    EXPECT_EQ(s.completion(first), 1 * ms + 12 * us);
    // Signalled again at 1.005 ms while it still runs: no wake-up, queued behind: 1.017 ms.
    const job_id second = s.wake(vhost, 1 * ms + 5 * us, 5 * us);
    EXPECT_EQ(s.completion(second), 1 * ms + 17 * us);
    EXPECT_FALSE(s.blocked(vhost, 1 * ms + 16 * us));
    EXPECT_TRUE(s.blocked(vhost, 1 * ms + 17 * us));
    EXPECT_EQ(s.stats(vhost).wakeups, 1u);
    EXPECT_EQ(s.stats(vhost).jobs, 2u);
}

// An ioeventfd kick (2 GHz: one cycle = 500 ps). The guest's MMIO write exits at 0 and is back
// in the guest after 2,565 cycles = 1,282,500 ps. KVM signals the eventfd; the vhost worker is
// notified 560 cycles = 280,000 ps after the kick, is asleep, so it runs 2 us later, at
// 2,280,000, and its 1 us of work ends at 3,280,000 ps.
TEST(HostScheduler, IoeventfdKickWakesTheVhostWorker) {
    exit_cost_params p;
    p.cpu_clock_hz = 2e9;
    const exit_costs costs(p);
    host_scheduler s(params(2, 3 * ms, 2 * us));
    const thread_id vcpu = s.add_thread("vcpu0", 0);
    const thread_id vhost = s.add_thread("vhost0", 1);
    const tick_t exit_cost = costs.cost(exit_reason::ept_misconfig, exit_handler::ioeventfd);
    EXPECT_EQ(s.run(vcpu, 0, exit_cost), 1'282'500u);
    EXPECT_EQ(s.run(vhost, 0, 0), 0u);  // zero work done at once, thread blocks again
    const job_id backend = s.wake(vhost, costs.ioeventfd_notify(), 1 * us);
    EXPECT_EQ(s.completion(backend), 3'280'000u);
}

TEST(HostScheduler, LateSubmissionsAreServedInOrderAndCounted) {
    host_scheduler s(params(1, 3 * ms));
    const thread_id a = s.add_thread("a", 0);
    const thread_id b = s.add_thread("b", 0);
    EXPECT_EQ(s.run(a, 100, 50), 150u);
    // b arrives "at 80", before a's submission at 100: treated as arriving at 100, behind a.
    EXPECT_EQ(s.run(b, 80, 10), 160u);
    EXPECT_EQ(s.late_submissions(), 1u);
}

TEST(HostScheduler, Errors) {
    EXPECT_THROW(host_scheduler(params(0, 3 * ms)), std::invalid_argument);
    EXPECT_THROW(host_scheduler(params(1, 0)), std::invalid_argument);
    host_scheduler s(params(2, 3 * ms));
    EXPECT_THROW(s.add_thread("vhost0", 2), std::invalid_argument);
    EXPECT_THROW(s.submit(7, 0, 1), std::invalid_argument);
    EXPECT_THROW(s.completion(42), std::invalid_argument);
    EXPECT_THROW(s.core_busy_ticks(2), std::invalid_argument);
    const thread_id t = s.add_thread("vcpu0", 1);
    EXPECT_EQ(s.core_of(t), 1u);
    EXPECT_EQ(s.name(t), "vcpu0");
    const job_id j = s.submit(t, 0, 10);
    s.advance(10);
    EXPECT_EQ(s.completion(j), 10u);  // final
    s.release(j);
    EXPECT_THROW(s.completion(j), std::invalid_argument);
}

TEST(HostScheduler, StartIsWhenTheJobFirstGetsTheCore) {
    host_scheduler s(params(1, 3 * ms));
    const thread_id vhost = s.add_thread("vhost0", 0);
    const thread_id vcpu = s.add_thread("vcpu0", 0);
    const job_id hog = s.submit(vhost, 0, 50 * us);
    EXPECT_EQ(s.start(hog), 0u);  // the core was idle
    // Runnable at 10 us behind 50 us of vhost work (its slice is 3 ms): starts at 50 us.
    const job_id guest = s.submit(vcpu, 10 * us, 5 * us);
    EXPECT_EQ(s.start(guest), 50 * us);
    EXPECT_EQ(s.completion(guest), 55 * us);
    // A second job of the same thread queued behind the first starts when that one ends.
    const job_id next = s.submit(vcpu, 20 * us, 1 * us);
    EXPECT_EQ(s.start(next), 55 * us);
    s.advance(100 * us);
    EXPECT_THROW(s.start(guest), std::invalid_argument);  // complete
    EXPECT_THROW(s.start(12345), std::invalid_argument);  // unknown
}

}  // namespace
}  // namespace iovsim::cpu

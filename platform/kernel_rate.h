// The raw SystemC kernel as a yardstick for simulation speed: how fast this machine's SystemC
// runs the same number of b_transport calls and wait() calls that a platform run asked of it,
// with no model behind them (`iovsim kernel-rate`, `iovsim dmabench --speed`, and `iovsim run
// --speed` with run_kernel_work below).
//
// What it models: one loosely-timed initiator SC_THREAD bound through a simple_initiator_socket
// to a simple_target_socket, the socket types the platform uses. The initiator builds a generic
// payload per call (reads and writes alternating), the target copies the payload's bytes to or
// from its buffer and adds a fixed delay; the initiator keeps that delay as local time and,
// spread evenly between the calls, calls wait(local time) as a quantum keeper's sync would
// (wait(delay) when no local time has built up, so every wait is a timed wait).
//
// Leaves out: everything a model does (decoding, timelines, memory, links, extensions), other
// processes and events. Timing: wall-clock time of the loop only, elaboration excluded; the loop
// is repeated in one elaboration and the median reported (the machine is shared and noisy).
//
// "Kernel work" of a platform run, as counted here:
// - b_transport calls made by initiators: every host CPU access (ECAM, MMIO, DRAM), every
//   request TLP the DMA endpoint sends and every MSI-X message. The root complex's onward calls
//   (to memory, the translation stage, the interrupt controller, a device's BAR) are hops of
//   those calls and are not counted again: the yardstick's calls have one hop.
// - wait() calls: the host CPU's and the endpoint's quantum-keeper syncs, the CPU's interrupt
//   waits and the endpoint engine's waits for a start.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "models/core/units.h"

namespace iovsim::platform {

class host_platform;

struct kernel_work {
    std::uint64_t calls = 0;  // b_transport calls made by initiators
    std::uint64_t waits = 0;  // wait() calls made by initiator threads
};

// The kernel work a platform run has done so far (see the header comment).
kernel_work kernel_work_of(const host_platform& p);

// The kernel work of an `iovsim run` so far, counted more coarsely (its initiators are many:
// host CPU, vCPUs, VMM and vhost threads, the NIC's engines):
// - calls: transactions the root complex handled (CPU config and MMIO accesses, device DMA
//   requests, interrupt messages; the same count as dmabench's sim.transactions). Accesses that
//   do not pass the root complex are left out: host CPU accesses to DRAM, KVM's and the VMM's
//   reads and writes of guest memory through memory's debug path, frames on the cable.
// - waits: the kernel's delta cycles, sc_core::sc_delta_count(), less `own_deltas` (cycles that
//   only a helper such as progress_reporter caused; its wakes() bound them from above). A proxy,
//   not a count of wait() calls: every delta cycle resumes at least one process, but one cycle
//   may resume several (counted once), and a resumed SC_METHOD is a "wait" here though it made
//   no wait() call. The yardstick's waits are one timed wait per delta cycle, one process each.
kernel_work run_kernel_work(const host_platform& p, std::uint64_t own_deltas = 0);

struct kernel_rate_config {
    std::uint64_t calls = 0;
    std::uint64_t waits = 0;
    std::uint32_t bytes = 64;          // payload bytes per call, touched by the target
    tick_t delay = 10 * ticks_per_ns;  // the target's annotated delay per call
    unsigned repeat = 1;               // loops timed, in one elaboration
};

struct kernel_rate_result {
    kernel_rate_config config;
    std::vector<double> wall_s;    // wall-clock seconds of each loop
    double median_wall_s = 0;      // median of wall_s
    double calls_per_wall_s = 0;   // config.calls / median_wall_s
    double waits_per_wall_s = 0;   // config.waits / median_wall_s
    std::uint64_t calls_made = 0;  // over all loops, as the target counted them
    std::uint64_t waits_made = 0;  // over all loops
    double simulated_ns = 0;       // kernel time at the end
};

// Spreads `waits` wait() calls evenly over `calls` b_transport calls: after_call() returns how
// many waits follow the next call, floor((i+1)·W/N) − floor(i·W/N) for call i, so the waits
// after the first i calls never differ from i·W/N by a whole wait. With no calls, use none of
// this: the loop makes all W waits in a row.
class wait_spreader {
public:
    wait_spreader(std::uint64_t calls, std::uint64_t waits) : m_calls(calls), m_waits(waits) {}
    std::uint64_t after_call();

private:
    std::uint64_t m_calls;
    std::uint64_t m_waits;
    std::uint64_t m_acc = 0;  // W·i mod N, kept below N
};

// Median of `v` (the mean of the two middle values for an even count); throws
// std::invalid_argument on an empty vector.
double median(std::vector<double> v);

// Checks a configuration: some work to do, 1..65536 bytes, a delay above zero, 1..1000 repeats.
// Throws core::config_error naming the option.
void validate(const kernel_rate_config& c);

// Elaborates the initiator and target and runs the loops. SystemC allows this once per process.
kernel_rate_result run_kernel_rate(const kernel_rate_config& c);

// The result as one JSON object, and back. parse throws std::runtime_error on text that is not
// such an object (missing or mistyped fields).
std::string kernel_rate_json(const kernel_rate_result& r);
kernel_rate_result parse_kernel_rate_json(const std::string& text);

// The command line that runs the yardstick: `kernel-rate --calls N --waits W --bytes B
// --delay-ps D --repeat R`.
std::vector<std::string> kernel_rate_args(const kernel_rate_config& c);

// Runs `exe` with kernel_rate_args(c) as a child process (exe is normally /proc/self/exe),
// captures its standard output and parses it. Throws std::runtime_error if the child cannot
// start, exits other than with status 0, or prints something that does not parse.
kernel_rate_result run_kernel_rate_child(const std::string& exe, const kernel_rate_config& c);

// The stdout line of `dmabench --speed` (and, with `what` = "run", of `run --speed`): `what`
// names the measured run.
std::string speed_line(const kernel_work& work, double run_wall_s, const kernel_rate_result& kernel,
                       const std::string& what = "dmabench");

}  // namespace iovsim::platform

// `iovsim compare [CONFIG] [--set …] [--out DIR]` (issue 6, DESIGN.md §8): the same platform and
// workload under bare metal, emulation, virtio and passthrough, each `iovsim run` in a process of
// its own (SystemC elaborates once per process), side by side.
//
// Each mode's run writes DIR/<mode>/ (stats.json, params.yaml, run.log with its output);
// DIR/compare.json holds every mode's stats.json under its name ("bare-metal", "emulation",
// "virtio", "passthrough"), or {"error": message} for a mode whose run failed. The table printed
// on stdout has RTT p50 and p99, throughput, exits per packet and the breakdown per stage
// (stages every mode leaves at zero are left out).
//
// Exit status: 2 when bare metal's run rejects the input (the same input every mode gets: its
// message is printed as the run printed it), 1 when any mode failed, 0 otherwise.
#pragma once

#include <string>
#include <vector>

namespace iovsim::platform {

struct compare_options {
    std::string config;             // empty: the shipped default
    std::vector<std::string> sets;  // key=value, given to every run
    std::string out = "out";
};

int run_compare(const compare_options& o);

}  // namespace iovsim::platform

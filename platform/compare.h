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
// Exit status: 2 when bare metal's run rejects the input (the input every mode shares: nothing
// else runs), or when another mode's run rejects it (e.g. no VF left for passthrough: after
// every mode has run and compare.json is written, naming the mode); 1 when a run failed
// otherwise; 0 when all ran.
#pragma once

#include <string>
#include <vector>

namespace iovsim::platform {

struct compare_options {
    std::string config;             // empty: the shipped default
    std::vector<std::string> sets;  // key=value, given to every run
    std::string out = "out";
    // vms.N.mode keys the configuration sets: each run sets them to its mode as well.
    std::vector<std::string> vm_mode_keys;
};

int run_compare(const compare_options& o);

}  // namespace iovsim::platform

// The iovsim command line (DESIGN.md §8): params, config, lspci, dmabench, and the default job.
#pragma once

namespace iovsim::platform {

// Runs the command line; returns the process exit status: 0 success, 2 bad input (a message
// naming the key, file and line), 1 a failure inside the simulation.
int cli_main(int argc, char** argv);

}  // namespace iovsim::platform

// iovsim's version, as `iovsim --version` and stats.json's sim.version report it.
#pragma once

namespace iovsim {
const char* version();
}  // namespace iovsim

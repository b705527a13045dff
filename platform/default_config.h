// The default configuration of `iovsim run` when no CONFIG is given: the text of
// platform/configs/default.yaml, compiled in (a test checks the two are identical).
#pragma once

#include <string_view>

namespace iovsim::platform {

std::string_view default_run_yaml();

}  // namespace iovsim::platform

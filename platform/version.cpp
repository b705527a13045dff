#include "platform/version.h"

namespace iovsim {
const char* version() { return IOVSIM_VERSION; }
}  // namespace iovsim

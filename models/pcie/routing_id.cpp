#include "models/pcie/routing_id.h"

#include <fmt/format.h>

namespace iovsim::pcie {

std::string to_string(routing_id id) {
    return fmt::format("{:02x}:{:02x}.{:x}", id.bus, id.device, id.function);
}

}  // namespace iovsim::pcie

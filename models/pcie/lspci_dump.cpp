#include "models/pcie/lspci_dump.h"

#include <fmt/format.h>

namespace iovsim::pcie {

std::string lspci_dump(routing_id id, const config_space& cs) {
    const std::uint32_t class_code = cs.peek(cfg::class_code, 1) | cs.peek(cfg::class_code + 1, 2)
                                                                       << 8;
    const std::uint32_t revision = cs.peek(cfg::revision_id, 1);
    std::string out = fmt::format("{} {:04x}: {:04x}:{:04x}", to_string(id), class_code >> 8,
                                  cs.peek(cfg::vendor_id, 2), cs.peek(cfg::device_id, 2));
    if (revision != 0) out += fmt::format(" (rev {:02x})", revision);
    out += '\n';
    for (std::uint16_t line = 0; line < config_space::size_bytes; line += 16) {
        out += fmt::format("{:02x}:", line);
        for (std::uint16_t i = 0; i < 16; ++i) {
            out += fmt::format(" {:02x}", cs.peek(static_cast<std::uint16_t>(line + i), 1));
        }
        out += '\n';
    }
    out += '\n';
    return out;
}

}  // namespace iovsim::pcie

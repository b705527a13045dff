#include "models/pcie/lspci_dump.h"

#include <fmt/format.h>

namespace iovsim::pcie {

std::string lspci_dump(routing_id id, const std::uint8_t* bytes) {
    const auto byte = [bytes](unsigned off) -> std::uint32_t { return bytes[off]; };
    const std::uint32_t class_code =
        byte(cfg::class_code) | byte(cfg::class_code + 1) << 8 | byte(cfg::class_code + 2) << 16;
    const std::uint32_t revision = byte(cfg::revision_id);
    std::string out = fmt::format("{} {:04x}: {:04x}:{:04x}", to_string(id), class_code >> 8,
                                  byte(cfg::vendor_id) | byte(cfg::vendor_id + 1) << 8,
                                  byte(cfg::device_id) | byte(cfg::device_id + 1) << 8);
    if (revision != 0) out += fmt::format(" (rev {:02x})", revision);
    out += '\n';
    for (unsigned line = 0; line < config_space::size_bytes; line += 16) {
        out += fmt::format("{:02x}:", line);
        for (unsigned i = 0; i < 16; ++i) out += fmt::format(" {:02x}", byte(line + i));
        out += '\n';
    }
    out += '\n';
    return out;
}

std::string lspci_dump(routing_id id, const config_space& cs) {
    std::uint8_t bytes[config_space::size_bytes];
    for (unsigned i = 0; i < config_space::size_bytes; ++i)
        bytes[i] = static_cast<std::uint8_t>(cs.peek(static_cast<std::uint16_t>(i), 1));
    return lspci_dump(id, bytes);
}

}  // namespace iovsim::pcie

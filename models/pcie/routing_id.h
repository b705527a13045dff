// A PCIe routing ID (bus, device, function), as requester and completer IDs carry it.
#pragma once

#include <cstdint>
#include <string>

namespace iovsim::pcie {

struct routing_id {
    std::uint8_t bus = 0;
    std::uint8_t device = 0;    // 0..31
    std::uint8_t function = 0;  // 0..7 (0..255 with ARI, where device is 0)

    // The 16-bit value: bus[15:8] device[7:3] function[2:0].
    constexpr std::uint16_t value() const {
        return static_cast<std::uint16_t>(bus << 8 | (device & 0x1f) << 3 | (function & 0x7));
    }
    static constexpr routing_id from_value(std::uint16_t v) {
        return routing_id{static_cast<std::uint8_t>(v >> 8),
                          static_cast<std::uint8_t>(v >> 3 & 0x1f),
                          static_cast<std::uint8_t>(v & 0x7)};
    }
    friend constexpr bool operator==(routing_id a, routing_id b) { return a.value() == b.value(); }
    friend constexpr bool operator!=(routing_id a, routing_id b) { return !(a == b); }
};

// "BB:DD.F" as lspci prints it.
std::string to_string(routing_id id);

}  // namespace iovsim::pcie

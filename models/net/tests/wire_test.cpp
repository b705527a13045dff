#include "models/net/wire.h"

#include <gtest/gtest.h>

#include <stdexcept>

namespace iovsim::net {
namespace {

TEST(Wire, SerializationIncludesPreambleAndGap) {
    // 64 B + 20 B = 84 B = 672 bits at 25 Gb/s = 26.88 ns.
    EXPECT_EQ(serialization_ticks(64, 25e9), 26880u);
    // 1518 B + 20 B = 1538 B = 12304 bits at 10 Gb/s = 1230.4 ns.
    EXPECT_EQ(serialization_ticks(1518, 10e9), 1230400u);
    // Below the minimum counts as 64 bytes.
    EXPECT_EQ(serialization_ticks(20, 25e9), 26880u);
}

TEST(Wire, Propagation) {
    EXPECT_EQ(propagation_ticks(2.0, 5.0), 10000u);  // 2 m × 5 ns/m = 10 ns
    EXPECT_EQ(propagation_ticks(0.0, 5.0), 0u);
}

TEST(Wire, BadParametersAreErrors) {
    EXPECT_THROW(serialization_ticks(64, 0), std::invalid_argument);
    EXPECT_THROW(serialization_ticks(64, -1e9), std::invalid_argument);
    EXPECT_THROW(propagation_ticks(-1, 5), std::invalid_argument);
    EXPECT_THROW(propagation_ticks(1, -5), std::invalid_argument);
    EXPECT_THROW(wire_direction(wire_params{0, 1, 5}), std::invalid_argument);
}

TEST(Wire, BackToBackFramesQueueAtLineRate) {
    wire_direction w(wire_params{25e9, 2.0, 5.0});
    // Frame 1 at t = 0: holds the wire 26.88 ns; its last bit leaves 12 B (12 × 8 / 25e9 =
    // 3.84 ns) before the slot ends, at 23.04 ns, and arrives 10 ns later, at 33.04 ns.
    const wire_transfer a = w.transmit(0, 64);
    EXPECT_EQ(a.start, 0u);
    EXPECT_EQ(a.end, 26880u);
    EXPECT_EQ(a.arrival, 33040u);
    // Frame 2 ready at 1 ns waits for the wire: starts at 26.88 ns.
    const wire_transfer b = w.transmit(1000, 64);
    EXPECT_EQ(b.start, 26880u);
    EXPECT_EQ(b.end, 53760u);
    EXPECT_EQ(b.arrival, 53760u - 3840u + 10000u);
    EXPECT_EQ(w.line().wait_ticks(), 25880u);  // 26.88 - 1 ns
    // Frame 3 after the wire went idle starts when ready.
    EXPECT_EQ(w.transmit(100000, 64).start, 100000u);
}

}  // namespace
}  // namespace iovsim::net

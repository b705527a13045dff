#include "models/core/tracer.h"

#include <gtest/gtest.h>

#include <stdexcept>
#include <variant>

namespace iovsim::core {
namespace {

TEST(tracer, off_by_default_emits_nothing) {
    const tracer t;
    EXPECT_FALSE(t.enabled());
    EXPECT_EQ(t.declare_signal("x", 8), traces::no_signal);
    t.change(0, traces::no_signal, 1);
    t.span("track", "s", 0, 1);
    t.instant("track", "i", 0);
    EXPECT_FALSE(t.child("vf0").enabled());
}

TEST(tracer, scopes_signal_and_track_names) {
    traces::trace_buffer buffer;
    const tracer top(&buffer, "top");
    const tracer vf = top.child("vf0");
    EXPECT_EQ(vf.scope(), "top.vf0");
    const auto tail = vf.declare_signal("tx_tail", 16);
    EXPECT_EQ(buffer.signal(tail).name, "top.vf0.tx_tail");
    EXPECT_EQ(buffer.signal(tail).width, 16u);
    vf.change(30, tail, 0xffff);
    vf.span("dma", "MRd 64B", 10, 20, 7);
    vf.instant("msix", "vector 3", 25);
    ASSERT_EQ(buffer.size(), 3u);
    const auto& c = std::get<traces::signal_change>(buffer.events()[0]);
    EXPECT_EQ(c.time, 30u);
    EXPECT_EQ(c.value, 0xffffu);
    const auto& s = std::get<traces::span>(buffer.events()[1]);
    EXPECT_EQ(s.track, "top.vf0.dma");
    EXPECT_EQ(s.name, "MRd 64B");
    EXPECT_EQ(s.id, 7u);
    const auto& i = std::get<traces::instant>(buffer.events()[2]);
    EXPECT_EQ(i.track, "top.vf0.msix");
    EXPECT_EQ(i.time, 25u);
    // Unscoped tracer: names as given.
    EXPECT_EQ(buffer.signal(tracer(&buffer).declare_signal("plain", 1)).name, "plain");
}

TEST(tracer, passes_buffer_errors_through) {
    traces::trace_buffer buffer;
    const tracer t(&buffer, "m");
    const auto sig = t.declare_signal("s", 1);
    EXPECT_THROW(t.declare_signal("s", 1), std::logic_error);
    EXPECT_THROW(t.change(0, sig, 2), std::logic_error);
    EXPECT_THROW(t.span("k", "x", 5, 4), std::logic_error);
}

}  // namespace
}  // namespace iovsim::core

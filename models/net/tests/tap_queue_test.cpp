// net::tap_queue: frames in arrival order, handed over once due, dropped and counted when full.
#include "models/net/tap_queue.h"

#include <gtest/gtest.h>

namespace iovsim::net {
namespace {

TEST(tap_queue, arrival_order_due_and_capacity) {
    tap_queue q(3);
    EXPECT_TRUE(q.push({1}, 100));
    EXPECT_TRUE(q.push({2}, 300));
    EXPECT_TRUE(q.push({3}, 100));  // stamped no later than the first: after it, before 300's
    EXPECT_FALSE(q.push({4}, 50));  // three waiting: dropped
    EXPECT_EQ(q.dropped(), 1u);
    EXPECT_EQ(q.size(), 3u);
    EXPECT_EQ(q.due(99), nullptr);  // nothing has arrived by 99
    ASSERT_NE(q.due(100), nullptr);
    EXPECT_EQ(q.pop(), tap_queue::frame{1});
    EXPECT_EQ(q.pop(), tap_queue::frame{3});
    EXPECT_EQ(q.due(299), nullptr);
    EXPECT_EQ(*q.due(300), tap_queue::frame{2});
    EXPECT_EQ(q.pop(), tap_queue::frame{2});
    EXPECT_TRUE(q.empty());
    EXPECT_EQ(tap_queue{}.dropped(), 0u);
    EXPECT_EQ(tap_queue::default_capacity, 1000u);  // a tap's default txqueuelen
}

}  // namespace
}  // namespace iovsim::net

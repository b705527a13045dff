// Cross-key validation of the platform's parameters (platform/platform_params.h) and of the DMA
// bench's (platform/dmabench.h): each rejected combination names its keys, and each accepted one
// is what the models themselves accept. No elaboration: plain C++ only.
#include "platform/platform_params.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <functional>
#include <string>

#include "models/core/errors.h"
#include "models/mem/memory_timing.h"
#include "platform/dmabench.h"
#include "platform/nicbench.h"

namespace iovsim::platform {
namespace {

using ::testing::HasSubstr;

class platform_params_test : public ::testing::Test {
protected:
    platform_params_test() { declare_platform_params(m_registry); }

    // The config_error message of `f`, or "" if it did not throw one.
    static std::string error_of(const std::function<void()>& f) {
        try {
            f();
        } catch (const core::config_error& e) {
            return e.what();
        }
        return "";
    }
    std::string set_error(const std::string& arg) {
        return error_of([&] { m_tree.set(arg); });
    }
    std::string platform_error() {
        return error_of([&] { make_platform_config(m_tree); });
    }
    std::string dmabench_error() {
        return error_of([&] { make_dmabench_config(m_tree); });
    }
    // A fresh tree with `sets` applied: make_platform_config's error, or "".
    std::string platform_error_with(std::initializer_list<const char*> sets) {
        core::param_tree t(m_registry);
        return error_of([&] {
            for (const char* s : sets) t.set(s);
            make_platform_config(t);
        });
    }
    platform_config make_with(std::initializer_list<const char*> sets) {
        core::param_tree t(m_registry);
        for (const char* s : sets) t.set(s);
        return make_platform_config(t);
    }

    core::param_registry m_registry;
    core::param_tree m_tree{m_registry};
};

TEST_F(platform_params_test, dmabench_lists_must_not_be_empty) {
    for (const char* key :
         {"dmabench.ops", "dmabench.sizes", "dmabench.windows", "dmabench.patterns"}) {
        const std::string k(key);
        EXPECT_EQ(set_error(k + "=[]"), "--set " + k + "=[]: " + k + " must not be an empty list");
        EXPECT_EQ(set_error(k + "="), "--set " + k + "=: " + k + " must not be an empty list");
        EXPECT_EQ(m_registry.find(k)->min_items, 1u);
    }
    EXPECT_EQ(error_of([&] { m_tree.load_yaml_text("dmabench:\n  sizes: []\n", "b.yaml"); }),
              "b.yaml:2: dmabench.sizes must not be an empty list");
    EXPECT_NO_THROW(make_dmabench_config(m_tree));  // the defaults are not empty
}

// memory_timing takes any whole number of sets (set = line index mod sets), so the platform
// must not demand a power of two.
TEST_F(platform_params_test, llc_size_need_only_be_whole_sets) {
    // 30 MiB of 16 ways of 64 B lines: 30 x 2^20 / (16 x 64) = 31457280 / 1024 = 30720 sets,
    // not a power of two.
    m_tree.set("mem.llc.size=30MiB");
    const platform_config c = make_platform_config(m_tree);
    EXPECT_EQ(c.memory.llc_size, 30ull << 20);
    const mem::memory_timing m(c.memory);
    EXPECT_EQ(m.sets(), 30720u);

    // 12 ways: a set is 12 x 64 = 768 B; 96 KiB = 98304 B = 128 sets.
    m_tree.set("mem.llc.ways=12");
    m_tree.set("mem.llc.size=96KiB");
    EXPECT_EQ(make_platform_config(m_tree).memory.llc_size, 98304u);
    // 64 KiB = 65536 B is 85.33 sets of 768 B.
    m_tree.set("mem.llc.size=64KiB");
    EXPECT_EQ(platform_error(),
              "mem.llc.size (65536 B) must be a whole number of sets of mem.llc.ways (12) 64 B "
              "lines: a multiple of 768 B");
}

// memory_timing requires dram_latency >= one line's channel slot: 64 B = 512 bit at
// 153.6 Gbit/s = 3333.33 ps, rounded up to 3334 ps.
TEST_F(platform_params_test, dram_latency_below_one_line_transfer_names_the_key) {
    m_tree.set("mem.dram.latency=1ps");
    EXPECT_EQ(platform_error(),
              "mem.dram.latency (1 ps) must be at least the time one 64 B line holds a DRAM "
              "channel at mem.dram.channel_bandwidth (153.6 Gbit/s): 3334 ps");
    m_tree.set("mem.dram.latency=3333ps");
    EXPECT_THAT(platform_error(), HasSubstr("mem.dram.latency (3333 ps)"));
    m_tree.set("mem.dram.latency=3334ps");
    const platform_config c = make_platform_config(m_tree);
    EXPECT_NO_THROW(mem::memory_timing{c.memory});  // exactly what the model accepts
    // A slower channel raises the bar: 512 bit at 1 Gbit/s = 512 ns.
    m_tree.set("mem.dram.channel_bandwidth=1Gbps");
    m_tree.set("mem.dram.latency=511ns");
    EXPECT_THAT(platform_error(), HasSubstr("(1 Gbit/s): 512000 ps"));
    m_tree.set("mem.dram.latency=512ns");
    EXPECT_NO_THROW(make_platform_config(m_tree));
}

TEST_F(platform_params_test, a_window_smaller_than_a_size_names_both_keys) {
    m_tree.set("dmabench.sizes=64,4096");
    m_tree.set("dmabench.windows=8K,1K");
    EXPECT_EQ(dmabench_error(),
              "dmabench.windows entry 1024 B is smaller than dmabench.sizes entry 4096 B: each "
              "window must hold a whole transfer");
    m_tree.set("dmabench.windows=4K");  // equal: one slot
    const dmabench_config c = make_dmabench_config(m_tree);
    EXPECT_EQ(c.windows, (std::vector<std::uint64_t>{4096}));
    EXPECT_EQ(c.sizes, (std::vector<std::uint64_t>{64, 4096}));
}

TEST_F(platform_params_test, pass_timeout_grows_with_the_pass) {
    // count x 1 ms + 1 s, in ps.
    EXPECT_EQ(dmabench_pass_timeout(1), 1'001'000'000'000u);               // 1.001 s
    EXPECT_EQ(dmabench_pass_timeout(2000), 3'000'000'000'000u);            // 2 s + 1 s
    EXPECT_EQ(dmabench_pass_timeout(100'000'000), 100'001 * ticks_per_s);  // the largest count
    // Bigger than the fixed 10 s it replaces once a pass has more than 9000 transfers.
    EXPECT_GT(dmabench_pass_timeout(9001), 10 * ticks_per_s);
}

// Jumbo frames: nic.mtu and the frame sizes it allows.
TEST_F(platform_params_test, mtu_sets_the_nics_largest_frame) {
    const platform_config std_mtu = make_with({});
    EXPECT_EQ(std_mtu.nic_mtu, 1500u);
    EXPECT_EQ(std_mtu.nic.max_frame_bytes, 1518u);  // 1500 + 14 + 4
    const platform_config jumbo = make_with({"nic.mtu=9000", "workload.size=9018"});
    EXPECT_EQ(jumbo.nic_mtu, 9000u);
    EXPECT_EQ(jumbo.nic.max_frame_bytes, 9018u);
    EXPECT_EQ(jumbo.workload.size, 9018u);
    EXPECT_EQ(make_with({"workload.size=1518"}).workload.size,
              1518u);  // the largest standard frame
}

TEST_F(platform_params_test, a_frame_longer_than_the_mtu_allows_names_both_keys) {
    EXPECT_EQ(platform_error_with({"workload.size=9018"}),
              "workload.size: 9018 B is longer than the largest frame nic.mtu 1500 allows (1518 "
              "B); set nic.mtu up to 9000 for jumbo frames");
    const std::string e = platform_error_with({"workload.size=1519"});
    EXPECT_THAT(e, HasSubstr("workload.size"));
    EXPECT_THAT(e, HasSubstr("nic.mtu"));
    // 4000 + 18 = 4018.
    EXPECT_THAT(platform_error_with({"nic.mtu=4000", "workload.size=4019"}), HasSubstr("(4018 B)"));
    EXPECT_EQ(platform_error_with({"nic.mtu=4000", "workload.size=4018"}), "");
    // Past the declaration's own limits.
    EXPECT_THAT(platform_error_with({"nic.mtu=9000", "workload.size=9019"}),
                HasSubstr("workload.size"));
    EXPECT_THAT(platform_error_with({"nic.mtu=9001"}), HasSubstr("nic.mtu"));
    EXPECT_THAT(platform_error_with({"nic.mtu=67"}), HasSubstr("nic.mtu"));
}

TEST_F(platform_params_test, nicbench_frame_size_follows_the_mtu_too) {
    const auto nicbench_error = [&](std::initializer_list<const char*> sets) {
        core::param_tree t(m_registry);
        t.set("nic.num_vfs=4");
        return error_of([&] {
            for (const char* s : sets) t.set(s);
            make_nicbench_config(t);
        });
    };
    EXPECT_THAT(nicbench_error({"nicbench.frame_size=1519"}), HasSubstr("nicbench.frame_size"));
    EXPECT_THAT(nicbench_error({"nicbench.frame_size=1519"}), HasSubstr("nic.mtu"));
    EXPECT_EQ(nicbench_error({"nic.mtu=9000", "nicbench.frame_size=9018"}), "");
}

}  // namespace
}  // namespace iovsim::platform

#include "models/core/log.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "models/core/errors.h"

namespace iovsim::core {
namespace {

using ::testing::HasSubstr;

class log_test : public ::testing::Test {
protected:
    void SetUp() override {
        reset_logging();
        set_log_sink([this](std::string_view line) { m_lines.emplace_back(line); });
    }
    void TearDown() override { reset_logging(); }

    static std::string error_of(const std::string& option) {
        try {
            apply_log_option(option);
        } catch (const config_error& e) {
            return e.what();
        }
        return "";
    }

    std::vector<std::string> m_lines;
};

TEST_F(log_test, default_level_is_warn) {
    log("pcie", log_level::error, "link {} down", 3);
    log("pcie", log_level::warn, "retrain");
    log("pcie", log_level::info, "not shown");
    log("pcie", log_level::debug, "not shown");
    EXPECT_EQ(m_lines,
              (std::vector<std::string>{"pcie: error: link 3 down", "pcie: warn: retrain"}));
}

TEST_F(log_test, module_levels_from_options) {
    apply_log_option("pcie=debug");
    EXPECT_TRUE(log_enabled("pcie", log_level::debug));
    EXPECT_FALSE(log_enabled("pcie", log_level::trace));
    EXPECT_TRUE(log_enabled("pcie.link0", log_level::debug));  // inherited from pcie
    EXPECT_FALSE(log_enabled("iommu", log_level::info));       // others keep the default
    EXPECT_FALSE(log_enabled("pciex", log_level::debug));      // a name prefix is not a parent

    apply_log_option("pcie.link0=error");  // a child may be quieter than its parent
    EXPECT_FALSE(log_enabled("pcie.link0", log_level::warn));
    EXPECT_TRUE(log_enabled("pcie.link0.tx", log_level::error));
    EXPECT_TRUE(log_enabled("pcie.rc", log_level::debug));

    apply_log_option("all=trace");
    EXPECT_TRUE(log_enabled("iommu", log_level::trace));
    EXPECT_FALSE(log_enabled("pcie.link0", log_level::warn));  // explicit levels still win
    apply_log_option("*=error");
    EXPECT_FALSE(log_enabled("iommu", log_level::warn));

    apply_log_option("nic=trace");
    log("nic", log_level::trace, "{} bytes at {:#x}", 64, 0x1000);
    EXPECT_EQ(m_lines, (std::vector<std::string>{"nic: trace: 64 bytes at 0x1000"}));
}

TEST_F(log_test, every_level_by_name) {
    const log_level levels[] = {log_level::error, log_level::warn, log_level::info,
                                log_level::debug, log_level::trace};
    const char* names[] = {"error", "warn", "info", "debug", "trace"};
    for (int i = 0; i < 5; ++i) {
        EXPECT_EQ(level_name(levels[i]), names[i]);
        apply_log_option(std::string("m=") + names[i]);
        EXPECT_TRUE(log_enabled("m", levels[i])) << names[i];
        if (i < 4) {
            EXPECT_FALSE(log_enabled("m", levels[i + 1])) << names[i];
        }
    }
}

TEST_F(log_test, disabled_messages_reach_no_sink) {
    int calls = 0;
    set_log_level("quiet", log_level::error);
    // The argument is evaluated (it is C++), but the sink sees nothing.
    log("quiet", log_level::info, "{}", ++calls);
    EXPECT_TRUE(m_lines.empty());
    EXPECT_EQ(calls, 1);
}

TEST_F(log_test, bad_options_are_config_errors) {
    EXPECT_EQ(error_of("pcie"), "--log pcie: expected MODULE=LEVEL");
    EXPECT_EQ(error_of("pcie=loud"),
              "--log pcie=loud: unknown log level 'loud' for module 'pcie' (expected error, warn, "
              "info, debug or trace)");
    EXPECT_EQ(error_of("pcie="),
              "--log pcie=: unknown log level '' for module 'pcie' (expected "
              "error, warn, info, debug or trace)");
    EXPECT_EQ(error_of("=debug"), "--log =debug: malformed module name ''");
    EXPECT_EQ(error_of("pc ie=debug"), "--log pc ie=debug: malformed module name 'pc ie'");
    EXPECT_EQ(error_of("pcie..x=info"), "--log pcie..x=info: malformed module name 'pcie..x'");
    EXPECT_EQ(error_of(".pcie=info"), "--log .pcie=info: malformed module name '.pcie'");
    EXPECT_EQ(error_of("PCIE=Debug"),
              "--log PCIE=Debug: unknown log level 'Debug' for module 'PCIE' (expected error, "
              "warn, info, debug or trace)");
    // A failed option changes nothing.
    EXPECT_FALSE(log_enabled("pcie", log_level::info));
}

TEST_F(log_test, stderr_is_the_default_sink) {
    set_log_sink({});
    ::testing::internal::CaptureStderr();
    log("iommu", log_level::error, "fault at {:#x}", 0xdead000);
    const std::string out = ::testing::internal::GetCapturedStderr();
    EXPECT_EQ(out, "iommu: error: fault at 0xdead000\n");
    EXPECT_TRUE(m_lines.empty());
}

TEST_F(log_test, reset_restores_defaults) {
    apply_log_option("all=trace");
    apply_log_option("pcie=error");
    reset_logging();
    EXPECT_TRUE(log_enabled("pcie", log_level::warn));
    EXPECT_FALSE(log_enabled("x", log_level::info));
}

}  // namespace
}  // namespace iovsim::core

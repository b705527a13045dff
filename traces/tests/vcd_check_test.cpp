#include "traces/vcd_check.h"

#include <gtest/gtest.h>

#include <string>

namespace iovsim::traces {
namespace {

const std::string header =
    "$timescale 1 ps $end\n"
    "$scope module top $end\n"
    "$var wire 1 ! bit $end\n"
    "$var wire 4 \" nib $end\n"
    "$var real 64 # r $end\n"
    "$upscope $end\n"
    "$enddefinitions $end\n";

// True if the summary has exactly one error and it mentions `what`.
::testing::AssertionResult one_error(const vcd_summary& s, const std::string& what) {
    if (s.errors.size() != 1) {
        std::string all;
        for (const auto& e : s.errors) all += "\n  " + e;
        return ::testing::AssertionFailure()
               << s.errors.size() << " errors, expected one about '" << what << "':" << all;
    }
    if (s.errors[0].find(what) == std::string::npos) {
        return ::testing::AssertionFailure()
               << "error '" << s.errors[0] << "' lacks '" << what << "'";
    }
    return ::testing::AssertionSuccess();
}

TEST(vcd_check, accepts_a_well_formed_file) {
    const auto s = check_vcd_text(
        "$date today $end\n$version x $end\n$comment anything goes $end\n" + header +
        "#0\n$dumpvars\n0!\nb0 \"\nr0 #\n$end\n"
        "#5\n1!\nbx1z \"\nr2.5 #\n$comment note $end\n#5\nZ!\n#7\n$dumpoff\nx!\n$end\n");
    EXPECT_TRUE(s.ok()) << s.errors.front();
    EXPECT_EQ(s.timescale, "1ps");  // "1 ps" with white space collapsed
    ASSERT_EQ(s.variables.size(), 3u);
    EXPECT_EQ(s.variables[0].name, "top.bit");
    EXPECT_EQ(s.variables[1].id, "\"");
    EXPECT_EQ(s.variables[1].width, 4u);
    EXPECT_EQ(s.timestamps, 4u);     // #0 #5 #5 #7 (equal times are fine)
    EXPECT_EQ(s.value_changes, 8u);  // 3 + 3 + 1 + 1
    EXPECT_EQ(s.last_time, 7u);
}

TEST(vcd_check, rejects_undeclared_identifier) {
    EXPECT_TRUE(one_error(check_vcd_text(header + "#0\n1?\n"), "undeclared identifier '?'"));
    EXPECT_TRUE(one_error(check_vcd_text(header + "#0\nb1 ?\n"), "undeclared identifier '?'"));
}

TEST(vcd_check, rejects_time_going_back) {
    const auto s = check_vcd_text(header + "#10\n1!\n#9\n0!\n");
    EXPECT_TRUE(one_error(s, "time goes back from #10 to #9"));
    EXPECT_NE(s.errors[0].find("line 10"), std::string::npos) << s.errors[0];
}

TEST(vcd_check, rejects_values_wider_than_the_variable) {
    // nib is 4 bits: 5 digits is too many, 4 fit (b1111 = 15).
    EXPECT_TRUE(check_vcd_text(header + "#0\nb1111 \"\n").ok());
    EXPECT_TRUE(one_error(check_vcd_text(header + "#0\nb10000 \"\n"), "more than the 4 bits"));
    EXPECT_TRUE(one_error(check_vcd_text(header + "#0\n1\"\n"), "scalar value for 4-bit"));
    EXPECT_TRUE(one_error(check_vcd_text(header + "#0\nb12 \"\n"), "not a binary vector"));
    EXPECT_TRUE(one_error(check_vcd_text(header + "#0\nr1.0 !\n"), "real value for non-real"));
    EXPECT_TRUE(one_error(check_vcd_text(header + "#0\nb1 #\n"), "vector value for real"));
}

TEST(vcd_check, rejects_missing_enddefinitions) {
    EXPECT_TRUE(one_error(check_vcd_text("$timescale 1ps $end\n$var wire 1 ! a $end\n"),
                          "no $enddefinitions"));
    const auto no_end = check_vcd_text("$var wire 1 ! a $end\n#0\n");
    ASSERT_EQ(no_end.errors.size(), 2u);  // '#0' in the header, then no $enddefinitions
    EXPECT_NE(no_end.errors[0].find("outside any declaration command"), std::string::npos);
}

TEST(vcd_check, rejects_bad_declarations) {
    EXPECT_TRUE(
        one_error(check_vcd_text("$scope module a $end\n$enddefinitions $end\n"), "still open"));
    EXPECT_TRUE(one_error(check_vcd_text("$upscope $end\n$enddefinitions $end\n"),
                          "$upscope without an open $scope"));
    EXPECT_TRUE(
        one_error(check_vcd_text("$scope module $end\n$enddefinitions $end\n"), "$scope needs"));
    EXPECT_TRUE(one_error(check_vcd_text("$var wire 0 ! a $end\n$enddefinitions $end\n"),
                          "is not a width"));
    EXPECT_TRUE(one_error(check_vcd_text("$var wire x ! a $end\n$enddefinitions $end\n"),
                          "is not a width"));
    EXPECT_TRUE(
        one_error(check_vcd_text("$var wire 1 ! $end\n$enddefinitions $end\n"), "$var needs"));
    EXPECT_TRUE(one_error(
        check_vcd_text("$var wire 1 ! a $end\n$var wire 2 ! b $end\n$enddefinitions $end\n"),
        "declared with widths 1 and 2"));
    EXPECT_TRUE(one_error(check_vcd_text("$frobnicate $end\n$enddefinitions $end\n"),
                          "unknown declaration command $frobnicate"));
    const auto unclosed = check_vcd_text("$version never closed\n");
    ASSERT_EQ(unclosed.errors.size(), 2u);  // and so no $enddefinitions either
    EXPECT_NE(unclosed.errors[0].find("$version is not closed with $end"), std::string::npos);
    // The same identifier may alias two references of one width.
    EXPECT_TRUE(
        check_vcd_text("$var wire 1 ! a $end\n$var wire 1 ! b $end\n$enddefinitions $end\n").ok());
}

TEST(vcd_check, rejects_bad_bodies) {
    EXPECT_TRUE(one_error(check_vcd_text(header + "1!\n#0\n"), "before the first timestamp"));
    EXPECT_TRUE(one_error(check_vcd_text(header + "#0\n$dumpvars\n1!\n"), "not closed"));
    EXPECT_TRUE(one_error(check_vcd_text(header + "#0\n$end\n"), "$end without an open"));
    EXPECT_TRUE(one_error(check_vcd_text(header + "#x\n"), "'#x' is not a timestamp"));
    EXPECT_TRUE(one_error(check_vcd_text(header + "#0\nq!\n"), "neither a timestamp"));
    EXPECT_TRUE(one_error(check_vcd_text(header + "#0\n$var wire 1 % c $end\n"),
                          "command $var after $enddefinitions"));
    EXPECT_TRUE(one_error(check_vcd_text(header + "#0\nb1\n"), "without an identifier"));
    EXPECT_TRUE(one_error(check_vcd_text(header + "#0\n1\n"), "without an identifier"));
    EXPECT_TRUE(one_error(check_vcd_text(header + "#0\n$dumpvars\n$dumpall\n$end\n"),
                          "inside an open $dumpvars"));
}

TEST(vcd_check, caps_the_error_list) {
    std::string body = "#0\n";
    for (int i = 0; i < 150; ++i) body += "1?\n";  // 150 undeclared
    const auto s = check_vcd_text(header + body);
    EXPECT_EQ(s.errors.size(), 100u);
    EXPECT_EQ(s.errors_left_out, 50u);
}

TEST(vcd_check, unreadable_file_is_an_error) {
    const auto s = check_vcd_file("/nonexistent-iovsim-dir/trace.vcd");
    EXPECT_TRUE(one_error(s, "cannot open"));
}

}  // namespace
}  // namespace iovsim::traces

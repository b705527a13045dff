#include "traces/vcd_writer.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <sstream>
#include <stdexcept>

#include "traces/vcd_check.h"

namespace iovsim::traces {
namespace {

std::string to_vcd(const trace_buffer& b, const vcd_options& o = {}) {
    std::ostringstream out;
    write_vcd(b, out, o);
    return out.str();
}

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// A directory of its own per test process (ctest runs tests in parallel).
std::filesystem::path temp_dir(const std::string& name) {
    auto dir = std::filesystem::path(::testing::TempDir()) /
               ("iovsim_vcd_" + name + "_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    return dir;
}

TEST(vcd_identifier, bijective_base_94_over_printable_ascii) {
    EXPECT_EQ(vcd_identifier(0), "!");    // '!' = 33, digit 0
    EXPECT_EQ(vcd_identifier(1), "\"");   // 34
    EXPECT_EQ(vcd_identifier(93), "~");   // 33 + 93 = 126
    EXPECT_EQ(vcd_identifier(94), "!!");  // the first two-character code
    EXPECT_EQ(vcd_identifier(95), "\"!");
    // 188 = 0 + 94 * 2: low digit '!', then 2 - 1 = 1 -> '"'.
    EXPECT_EQ(vcd_identifier(188), "!\"");
    // 94 + 94^2 = 8930 one- and two-character codes come first.
    EXPECT_EQ(vcd_identifier(8929), "~~");
    EXPECT_EQ(vcd_identifier(8930), "!!!");
    std::set<std::string> seen;
    for (std::size_t i = 0; i < 10000; ++i) {
        const auto id = vcd_identifier(i);
        for (const char c : id) {
            ASSERT_GE(c, 33);
            ASSERT_LE(c, 126);
        }
        ASSERT_TRUE(seen.insert(id).second) << "duplicate identifier for " << i;
    }
}

TEST(signal_selected, prefixes_at_dot_boundaries_and_globs) {
    EXPECT_TRUE(signal_selected({}, "anything"));
    const std::vector<std::string> prefix{"top.vf0"};
    EXPECT_TRUE(signal_selected(prefix, "top.vf0"));
    EXPECT_TRUE(signal_selected(prefix, "top.vf0.tx_tail"));
    EXPECT_FALSE(signal_selected(prefix, "top.vf01.tx_tail"));
    EXPECT_FALSE(signal_selected(prefix, "top.vf"));
    EXPECT_FALSE(signal_selected(prefix, "top"));
    const std::vector<std::string> glob{"*.state", "top.vf?.irq"};
    EXPECT_TRUE(signal_selected(glob, "vm0.vcpu0.state"));  // '*' spans dots
    EXPECT_FALSE(signal_selected(glob, "vm0.vcpu0.state_x"));
    EXPECT_TRUE(signal_selected(glob, "top.vf3.irq"));
    EXPECT_FALSE(signal_selected(glob, "top.vf12.irq"));  // '?' is one character
    EXPECT_FALSE(signal_selected(glob, "top.vf3.irq.x"));
    EXPECT_TRUE(signal_selected({"*"}, "a.b.c"));
    EXPECT_TRUE(signal_selected({"a*c"}, "abbbc"));
    EXPECT_FALSE(signal_selected({"a*c"}, "abbbcd"));
}

// The tiny case, worked out by hand. Declarations (id = declaration index):
//   0 "!" top.vf0.tx_tail 16 bits, 1 '"' top.vf0.irq 1 bit, 2 '#' top.cpu.state 3 bits,
//   3 '$' busy 1 bit (no dot: at the root).
// Emitted (out of time order, as LT initiators do):
//   1000 tx_tail=5, 500 state=2, 1000 irq=1, 2000 irq=0, 2000 irq=1, 0 busy=1,
//   3000 tx_tail=5, 4000 state=0
// Sorted: 0 busy=1 -> folded into $dumpvars (others start at 0); 500 state=2 -> b10;
// 1000 tx_tail=5 -> b101, irq=1; 2000 irq 0 then 1: last wins = 1, unchanged -> no #2000;
// 3000 tx_tail=5 unchanged -> no #3000; 4000 state=0 -> b0; end_time 5000 -> #5000.
TEST(vcd_writer, tiny_buffer_gives_exact_text) {
    trace_buffer b;
    const auto tail = b.declare_signal("top.vf0.tx_tail", 16);
    const auto irq = b.declare_signal("top.vf0.irq", 1);
    const auto state = b.declare_signal("top.cpu.state", 3);
    const auto busy = b.declare_signal("busy", 1);
    b.change(1000, tail, 5);
    b.change(500, state, 2);
    b.change(1000, irq, 1);
    b.change(2000, irq, 0);
    b.change(2000, irq, 1);
    b.change(0, busy, 1);
    b.change(3000, tail, 5);
    b.change(4000, state, 0);
    b.add_span({"top.vf0.dma", "MRd", 7, 100, 200});  // spans are not VCD signals
    vcd_options o;
    o.end_time = 5000;
    const std::string expected =
        "$version\n"
        "    iovsim\n"
        "$end\n"
        "$timescale\n"
        "    1ps\n"
        "$end\n"
        "$scope module top $end\n"
        "$scope module vf0 $end\n"
        "$var wire 16 ! tx_tail $end\n"
        "$var wire 1 \" irq $end\n"
        "$upscope $end\n"
        "$scope module cpu $end\n"
        "$var wire 3 # state $end\n"
        "$upscope $end\n"
        "$upscope $end\n"
        "$var wire 1 $ busy $end\n"
        "$enddefinitions $end\n"
        "#0\n"
        "$dumpvars\n"
        "b0 !\n"
        "0\"\n"
        "b0 #\n"
        "1$\n"
        "$end\n"
        "#500\n"
        "b10 #\n"
        "#1000\n"
        "b101 !\n"
        "1\"\n"
        "#4000\n"
        "b0 #\n"
        "#5000\n";
    const std::string text = to_vcd(b, o);
    EXPECT_EQ(text, expected);
    const auto summary = check_vcd_text(text);
    EXPECT_TRUE(summary.ok()) << summary.errors.front();
    ASSERT_EQ(summary.variables.size(), 4u);
    EXPECT_EQ(summary.variables[0].name, "top.vf0.tx_tail");
    EXPECT_EQ(summary.variables[2].name, "top.cpu.state");
    EXPECT_EQ(summary.variables[3].name, "busy");
    EXPECT_EQ(summary.timescale, "1ps");
    EXPECT_EQ(summary.timestamps, 5u);  // #0 #500 #1000 #4000 #5000
    EXPECT_EQ(summary.last_time, 5000u);
    EXPECT_EQ(summary.value_changes, 8u);  // 4 initial + b10, b101, 1", b0
}

TEST(vcd_writer, date_header_and_end_time_not_repeated) {
    trace_buffer b;
    const auto s = b.declare_signal("s", 1);
    b.change(10, s, 1);
    vcd_options o;
    o.header.date = "2024-01-02";
    o.header.version = "iovsim test";
    o.end_time = 10;  // not later than the last timestamp: no extra line
    EXPECT_EQ(to_vcd(b, o),
              "$date\n    2024-01-02\n$end\n"
              "$version\n    iovsim test\n$end\n"
              "$timescale\n    1ps\n$end\n"
              "$var wire 1 ! s $end\n"
              "$enddefinitions $end\n"
              "#0\n$dumpvars\n0!\n$end\n"
              "#10\n1!\n");
}

TEST(vcd_writer, empty_buffer_is_a_valid_file) {
    trace_buffer b;
    const std::string text = to_vcd(b);
    EXPECT_EQ(text,
              "$version\n    iovsim\n$end\n$timescale\n    1ps\n$end\n$enddefinitions $end\n"
              "#0\n$dumpvars\n$end\n");
    EXPECT_TRUE(check_vcd_text(text).ok());
}

TEST(vcd_writer, out_of_order_events_come_out_sorted) {
    trace_buffer b;
    const auto a = b.declare_signal("a", 8);
    // Emitted 30, 10, 20, 10: sorted stably 10 (=1, then =2: last wins -> 2), 20, 30.
    b.change(30, a, 3);
    b.change(10, a, 1);
    b.change(20, a, 7);
    b.change(10, a, 2);
    const std::string text = to_vcd(b);
    const auto body = text.substr(text.find("$enddefinitions $end\n"));
    EXPECT_EQ(body,
              "$enddefinitions $end\n#0\n$dumpvars\nb0 !\n$end\n"
              "#10\nb10 !\n#20\nb111 !\n#30\nb11 !\n");
    EXPECT_TRUE(check_vcd_text(text).ok());
}

TEST(vcd_writer, sixty_four_bit_values) {
    trace_buffer b;
    const auto w = b.declare_signal("w", 64);
    b.change(1, w, ~std::uint64_t{0});
    b.change(2, w, std::uint64_t{1} << 63);
    const std::string text = to_vcd(b);
    EXPECT_NE(text.find("#1\nb" + std::string(64, '1') + " !\n"), std::string::npos);
    EXPECT_NE(text.find("#2\nb1" + std::string(63, '0') + " !\n"), std::string::npos);
    EXPECT_TRUE(check_vcd_text(text).ok());
}

TEST(vcd_writer, filter_keeps_selected_signals_with_compact_ids) {
    trace_buffer b;
    const auto st = b.declare_signal("vm0.vcpu0.state", 3);
    const auto tail = b.declare_signal("top.vf0.tx_tail", 16);
    const auto irq = b.declare_signal("top.vf1.irq", 1);
    b.change(5, st, 4);
    b.change(6, tail, 9);
    b.change(7, irq, 1);
    vcd_options o;
    o.signals = {"*.state", "top.vf1"};
    const std::string text = to_vcd(b, o);
    // Selected: state (first id "!") and irq ('"'); tx_tail is neither declared nor changed.
    EXPECT_EQ(text.find("tx_tail"), std::string::npos);
    EXPECT_EQ(text.find("#6"), std::string::npos);
    EXPECT_NE(text.find("$var wire 3 ! state $end"), std::string::npos);
    EXPECT_NE(text.find("$var wire 1 \" irq $end"), std::string::npos);
    EXPECT_NE(text.find("#5\nb100 !\n#7\n1\"\n"), std::string::npos);
    const auto summary = check_vcd_text(text);
    EXPECT_TRUE(summary.ok());
    EXPECT_EQ(summary.variables.size(), 2u);

    o.signals = {"nothing.matches"};
    const auto none = check_vcd_text(to_vcd(b, o));
    EXPECT_TRUE(none.ok());
    EXPECT_TRUE(none.variables.empty());
}

TEST(vcd_writer, streaming_misuse_throws) {
    std::ostringstream out;
    vcd_writer w(out);
    EXPECT_THROW(w.declare("w0", 0), std::invalid_argument);
    EXPECT_THROW(w.declare("w65", 65), std::invalid_argument);
    EXPECT_THROW(w.declare("", 1), std::invalid_argument);
    EXPECT_THROW(w.declare("a..b", 1), std::invalid_argument);
    EXPECT_THROW(w.declare(".a", 1), std::invalid_argument);
    EXPECT_THROW(w.declare("a.", 1), std::invalid_argument);
    EXPECT_THROW(w.declare("a b", 1), std::invalid_argument);
    EXPECT_THROW(w.declare("a\tb", 1), std::invalid_argument);
    EXPECT_THROW(w.declare("bit", 1, 2), std::logic_error);  // initial 2 = 0b10 needs 2 bits
    EXPECT_EQ(w.declare("bit", 1), 0u);
    EXPECT_THROW(w.declare("bit", 1), std::logic_error);
    EXPECT_EQ(w.declare("byte", 8, 255), 1u);
    EXPECT_EQ(w.variables(), 2u);
    EXPECT_THROW(w.change(0, 0, 1), std::logic_error);  // before $enddefinitions
    w.end_definitions();
    EXPECT_THROW(w.end_definitions(), std::logic_error);
    EXPECT_THROW(w.declare("late", 1), std::logic_error);
    EXPECT_THROW(w.change(0, 2, 0), std::logic_error);    // not declared
    EXPECT_THROW(w.change(0, 0, 2), std::logic_error);    // 2 does not fit 1 bit
    EXPECT_THROW(w.change(0, 1, 256), std::logic_error);  // 256 = 2^8 does not fit 8 bits
    w.change(100, 0, 1);
    EXPECT_THROW(w.change(99, 1, 0), std::logic_error);  // time goes back
    w.change(100, 1, 0);
    w.finish(150);
    EXPECT_THROW(w.change(200, 0, 0), std::logic_error);
    EXPECT_THROW(w.finish(), std::logic_error);
    const auto summary = check_vcd_text(out.str());
    EXPECT_TRUE(summary.ok());
    // #0 (initial bit=0, byte=255), #100 (1!, b0 "), #150.
    EXPECT_NE(out.str().find("#0\n$dumpvars\n0!\nb11111111 \"\n$end\n#100\n1!\nb0 \"\n#150\n"),
              std::string::npos);
}

TEST(vcd_writer, unwritable_file_throws) {
    trace_buffer b;
    EXPECT_THROW(write_vcd_file(b, "/nonexistent-iovsim-dir/trace.vcd"), std::runtime_error);
}

TEST(vcd_writer, file_round_trip_through_the_checker) {
    trace_buffer b;
    const auto s = b.declare_signal("top.s", 4);
    b.change(3, s, 9);
    const auto path = (temp_dir("round_trip") / "trace.vcd").string();
    write_vcd_file(b, path);
    EXPECT_EQ(read_file(path), to_vcd(b));
    const auto summary = check_vcd_file(path);
    EXPECT_TRUE(summary.ok());
    EXPECT_EQ(summary.last_time, 3u);
    std::filesystem::remove_all(std::filesystem::path(path).parent_path());
}

// gtkwave's own reader must accept what we write: vcd2lxt2 exits 0 and says nothing on stderr.
TEST(vcd_writer, gtkwave_vcd2lxt2_accepts_the_file) {
    ASSERT_EQ(std::system("command -v vcd2lxt2 >/dev/null 2>&1"), 0)
        << "vcd2lxt2 (Debian package gtkwave) is not installed: cannot check the VCD with gtkwave";
    trace_buffer b;
    // 200 signals: identifiers run past one character (94) into two.
    std::vector<signal_id> ids;
    for (int i = 0; i < 200; ++i) {
        const std::string comp = "vm" + std::to_string(i % 4) + ".vcpu" + std::to_string(i % 7);
        ids.push_back(b.declare_signal(comp + ".sig" + std::to_string(i), 1 + (i % 64)));
    }
    // Changes emitted backwards in time in blocks, as a run-ahead initiator would.
    for (int k = 0; k < 50; ++k) {
        const tick_t t = static_cast<tick_t>(50 - k) * 1000;
        for (std::size_t i = 0; i < ids.size(); i += 3) {
            const unsigned w = b.signal(ids[i]).width;
            const std::uint64_t mask = w == 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << w) - 1;
            b.change(t, ids[i], (static_cast<std::uint64_t>(k) * 2654435761u + i) & mask);
        }
    }
    const auto dir = temp_dir("vcd2lxt2");
    const auto vcd = (dir / "trace.vcd").string();
    const auto lxt = (dir / "trace.lxt").string();
    const auto err = (dir / "stderr.txt").string();
    vcd_options o;
    o.end_time = 60000;
    write_vcd_file(b, vcd, o);
    const auto summary = check_vcd_file(vcd);
    EXPECT_TRUE(summary.ok()) << summary.errors.front();
    EXPECT_EQ(summary.variables.size(), 200u);
    EXPECT_EQ(summary.last_time, 60000u);

    const std::string cmd = "vcd2lxt2 '" + vcd + "' '" + lxt + "' >/dev/null 2>'" + err + "'";
    const int rc = std::system(cmd.c_str());
    EXPECT_EQ(rc, 0) << cmd;
    EXPECT_EQ(read_file(err), "") << "vcd2lxt2 complained";
    EXPECT_GT(std::filesystem::file_size(lxt), 0u);
    std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace iovsim::traces

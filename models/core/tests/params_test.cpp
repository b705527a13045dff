#include "models/core/params.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <functional>
#include <string>

#include "models/core/errors.h"

namespace iovsim::core {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

// A registry with one parameter of every kind, shaped like the platform's own.
param_registry make_registry() {
    param_registry r;
    declare_sim_params(r);
    r.declare(param_decl("pcie.lanes", param_kind::integer, "8", "lanes", "Link width.")
                  .with_choices({"1", "2", "4", "8", "16"}));
    r.declare(param_decl("pcie.mps", param_kind::size, "256", "B", "Max payload size.")
                  .with_min("128")
                  .with_max("4K"));
    r.declare(param_decl("host.cpu_clock", param_kind::frequency, "3.0GHz", "GHz", "Core clock."));
    r.declare(param_decl("host.load", param_kind::real, "0.5", "", "Background load.")
                  .with_min("0")
                  .with_max("1"));
    r.declare(param_decl("wire.rate", param_kind::bandwidth, "25Gbps", "Gbps", "Line rate."));
    r.declare(param_decl("mem.latency", param_kind::time, "80ns", "ns", "DRAM access latency."));
    r.declare(param_decl("mem.size", param_kind::size, "64GiB", "B", "Host DRAM size."));
    r.declare(param_decl("iommu.enabled", param_kind::boolean, "false", "", "IOMMU on."));
    r.declare(param_decl("nic.name", param_kind::string, "e810", "", "Model name."));
    r.declare(param_decl("vm.mode", param_kind::enumeration, "virtio", "", "I/O technique.")
                  .with_choices({"emulation", "virtio", "passthrough"}));
    r.declare(param_decl("dmabench.sizes", param_kind::size_list, "[64, 128, 4K]", "B",
                         "Transfer sizes."));
    r.declare(param_decl("dmabench.windows", param_kind::integer_list, "1,8", "transfers",
                         "Outstanding transfers.")
                  .with_min("1")
                  .with_min_items(1));
    r.declare(param_decl("dmabench.patterns", param_kind::enum_list, "[seq]", "", "Patterns.")
                  .with_choices({"seq", "rand"}));
    r.declare(param_decl("trace.modules", param_kind::string_list, "[]", "", "Traced modules."));
    r.declare(param_decl("vms.*.mode", param_kind::enumeration, "virtio", "", "This VM's mode.")
                  .with_choices({"emulation", "virtio", "passthrough"}));
    r.declare(param_decl("vms.*.vcpus", param_kind::integer, "1", "vCPUs", "This VM's vCPUs.")
                  .with_min("1"));
    return r;
}

class params_test : public ::testing::Test {
protected:
    // The config_error message of `f`, or "" if it did not throw one.
    static std::string error_of(const std::function<void()>& f) {
        try {
            f();
        } catch (const config_error& e) {
            return e.what();
        }
        return "";
    }
    std::string set_error(const std::string& arg) {
        return error_of([&] { m_tree.set(arg); });
    }
    std::string yaml_error(const std::string& text) {
        return error_of([&] { m_tree.load_yaml_text(text, "cfg.yaml"); });
    }

    param_registry m_registry = make_registry();
    param_tree m_tree{m_registry};
};

TEST_F(params_test, defaults_resolve_in_base_units) {
    EXPECT_EQ(m_tree.get_int("pcie.lanes"), 8);
    EXPECT_EQ(m_tree.get_bytes("pcie.mps"), 256u);
    EXPECT_EQ(m_tree.get_hz("host.cpu_clock"), 3e9);  // 3.0 * 10^9 Hz
    EXPECT_EQ(m_tree.get_real("host.load"), 0.5);
    EXPECT_EQ(m_tree.get_bps("wire.rate"), 25e9);              // 25 * 10^9 bit/s
    EXPECT_EQ(m_tree.get_time("mem.latency"), 80'000u);        // 80 ns * 1000 ps/ns
    EXPECT_EQ(m_tree.get_bytes("mem.size"), 68'719'476'736u);  // 64 * 2^30
    EXPECT_FALSE(m_tree.get_bool("iommu.enabled"));
    EXPECT_EQ(m_tree.get_string("nic.name"), "e810");
    EXPECT_EQ(m_tree.get_string("vm.mode"), "virtio");
    EXPECT_EQ(m_tree.get_bytes_list("dmabench.sizes"), (std::vector<std::uint64_t>{64, 128, 4096}));
    EXPECT_EQ(m_tree.get_int_list("dmabench.windows"), (std::vector<std::int64_t>{1, 8}));
    EXPECT_EQ(m_tree.get_string_list("dmabench.patterns"), (std::vector<std::string>{"seq"}));
    EXPECT_TRUE(m_tree.get_string_list("trace.modules").empty());
    EXPECT_FALSE(m_tree.is_set("pcie.lanes"));
    EXPECT_EQ(m_tree.source("pcie.lanes"), "default");
}

TEST_F(params_test, sim_params_are_declared) {
    EXPECT_EQ(m_tree.get_int("sim.seed"), 1);
    EXPECT_EQ(m_tree.get_time("sim.quantum"), 0u);
    EXPECT_EQ(m_tree.get_time("sim.max_time"), 0u);
    const param_decl* q = m_registry.find("sim.quantum");
    ASSERT_NE(q, nullptr);
    EXPECT_EQ(q->kind, param_kind::time);
    EXPECT_EQ(q->default_value, "0ns");
    EXPECT_EQ(q->unit, "ns");
    EXPECT_THAT(q->description, HasSubstr("0ns synchronizes at every transaction"));
    EXPECT_THAT(set_error("sim.seed=-1"), HasSubstr("sim.seed must be at least 0 (got -1)"));
}

TEST_F(params_test, time_units) {
    const auto time_of = [&](const std::string& v) {
        m_tree.set("mem.latency=" + v);
        return m_tree.get_time("mem.latency");
    };
    EXPECT_EQ(time_of("250ns"), 250'000u);         // 250 * 1000
    EXPECT_EQ(time_of("7ps"), 7u);                 // ps is the base
    EXPECT_EQ(time_of("1.5us"), 1'500'000u);       // 1.5 * 10^6
    EXPECT_EQ(time_of("2ms"), 2'000'000'000u);     // 2 * 10^9
    EXPECT_EQ(time_of("1s"), 1'000'000'000'000u);  // 10^12
    EXPECT_EQ(time_of("40"), 40'000u);             // bare number: declared unit ns
    EXPECT_EQ(time_of("1e3ns"), 1'000'000u);       // 1000 ns
    EXPECT_EQ(time_of(" 12 ns "), 12'000u);        // spaces around and before the unit
    EXPECT_EQ(time_of("0.001ns"), 1u);             // exactly one picosecond
    EXPECT_EQ(time_of("1.1ns"), 1'100u);           // exact, no binary rounding
    EXPECT_EQ(time_of("0"), 0u);
}

TEST_F(params_test, frequency_units) {
    const auto hz_of = [&](const std::string& v) {
        m_tree.set("host.cpu_clock=" + v);
        return m_tree.get_hz("host.cpu_clock");
    };
    EXPECT_EQ(hz_of("3.0GHz"), 3e9);
    EXPECT_EQ(hz_of("2.4GHz"), 2'400'000'000.0);  // 24/10 * 10^9, exact
    EXPECT_EQ(hz_of("100MHz"), 1e8);
    EXPECT_EQ(hz_of("500kHz"), 5e5);
    EXPECT_EQ(hz_of("50Hz"), 50.0);
    EXPECT_EQ(hz_of("2"), 2e9);  // bare number: declared unit GHz
    EXPECT_EQ(hz_of("0.5Hz"), 0.5);
}

TEST_F(params_test, bandwidth_units) {
    const auto bps_of = [&](const std::string& v) {
        m_tree.set("wire.rate=" + v);
        return m_tree.get_bps("wire.rate");
    };
    EXPECT_EQ(bps_of("25Gbps"), 25e9);
    EXPECT_EQ(bps_of("1Tbps"), 1e12);
    EXPECT_EQ(bps_of("100Mbps"), 1e8);
    EXPECT_EQ(bps_of("10Kbps"), 1e4);
    EXPECT_EQ(bps_of("9600bps"), 9600.0);
    EXPECT_EQ(bps_of("10"), 10e9);  // bare number: declared unit Gbps
}

TEST_F(params_test, size_units) {
    const auto bytes_of = [&](const std::string& v) {
        m_tree.set("mem.size=" + v);
        return m_tree.get_bytes("mem.size");
    };
    EXPECT_EQ(bytes_of("512"), 512u);
    EXPECT_EQ(bytes_of("512B"), 512u);
    EXPECT_EQ(bytes_of("4K"), 4096u);
    EXPECT_EQ(bytes_of("64KiB"), 65'536u);        // 64 * 1024
    EXPECT_EQ(bytes_of("1M"), 1'048'576u);        // 2^20
    EXPECT_EQ(bytes_of("2MiB"), 2'097'152u);      // 2 * 2^20
    EXPECT_EQ(bytes_of("1G"), 1'073'741'824u);    // 2^30
    EXPECT_EQ(bytes_of("3GiB"), 3'221'225'472u);  // 3 * 2^30
    EXPECT_EQ(bytes_of("1KB"), 1'000u);           // decimal
    EXPECT_EQ(bytes_of("2MB"), 2'000'000u);       // decimal
    EXPECT_EQ(bytes_of("1GB"), 1'000'000'000u);   // decimal
    EXPECT_EQ(bytes_of("1.5K"), 1'536u);          // 1.5 * 1024
    EXPECT_EQ(bytes_of("0x1000"), 4'096u);        // hex, bytes
    EXPECT_EQ(bytes_of("0x10K"), 16'384u);        // 16 * 1024
}

TEST_F(params_test, declared_unit_scales_bare_numbers) {
    param_registry r;
    r.declare(param_decl("a.t", param_kind::time, "2", "us", "t"));
    r.declare(param_decl("a.s", param_kind::size, "3", "KiB", "s"));
    r.declare(param_decl("a.f", param_kind::frequency, "100", "MHz", "f"));
    r.declare(param_decl("a.b", param_kind::bandwidth, "8", "Mbps", "b"));
    r.declare(param_decl("a.p", param_kind::time, "5", "", "empty unit: the base unit, ps"));
    param_tree t(r);
    EXPECT_EQ(t.get_time("a.t"), 2'000'000u);  // 2 us * 10^6 ps/us
    EXPECT_EQ(t.get_bytes("a.s"), 3'072u);     // 3 * 1024
    EXPECT_EQ(t.get_hz("a.f"), 1e8);           // 100 * 10^6
    EXPECT_EQ(t.get_bps("a.b"), 8e6);          // 8 * 10^6
    EXPECT_EQ(t.get_time("a.p"), 5u);
    EXPECT_EQ(r.find("a.p")->unit, "ps");
}

TEST_F(params_test, integers_reals_and_booleans) {
    m_tree.set("pcie.lanes=16");
    EXPECT_EQ(m_tree.get_int("pcie.lanes"), 16);
    m_tree.set("pcie.lanes=0x4");
    EXPECT_EQ(m_tree.get_int("pcie.lanes"), 4);
    m_tree.set("host.load=1e-1");
    EXPECT_EQ(m_tree.get_real("host.load"), 0.1);
    for (const char* yes : {"true", "True", "yes", "on"}) {
        m_tree.set(std::string("iommu.enabled=") + yes);
        EXPECT_TRUE(m_tree.get_bool("iommu.enabled")) << yes;
    }
    for (const char* no : {"false", "FALSE", "no", "off"}) {
        m_tree.set(std::string("iommu.enabled=") + no);
        EXPECT_FALSE(m_tree.get_bool("iommu.enabled")) << no;
    }
    m_tree.set("nic.name=my nic = fast");  // everything after the first '='
    EXPECT_EQ(m_tree.get_string("nic.name"), "my nic = fast");
}

TEST_F(params_test, set_errors_name_the_option_and_key) {
    EXPECT_EQ(set_error("pcie.lanes=3"),
              "--set pcie.lanes=3: pcie.lanes must be one of 1, 2, 4, 8, 16 (got 3)");
    EXPECT_EQ(set_error("pcie.mps=3GHz"),
              "--set pcie.mps=3GHz: pcie.mps: expected a size (e.g. 256, 4K, 64KiB), got '3GHz'");
    EXPECT_EQ(set_error("pcie.lanes"), "--set pcie.lanes: expected key=value");
    EXPECT_EQ(set_error("=8"), "--set =8: expected key=value");
    EXPECT_EQ(set_error("pcie.lane=8"),
              "--set pcie.lane=8: unknown key 'pcie.lane' (did you mean 'pcie.lanes'?)");
    EXPECT_EQ(set_error("zzz.qqq=1"), "--set zzz.qqq=1: unknown key 'zzz.qqq'");
    EXPECT_EQ(set_error("pcie=1"), "--set pcie=1: unknown key 'pcie'");
}

TEST_F(params_test, wrong_type_or_unit_is_an_error) {
    EXPECT_THAT(set_error("pcie.lanes=eight"),
                HasSubstr("pcie.lanes: expected an integer (e.g. 8, -1, 0x100), got 'eight'"));
    EXPECT_THAT(set_error("pcie.lanes=8.5"), HasSubstr("expected an integer"));
    EXPECT_THAT(set_error("pcie.lanes=99999999999999999999"), HasSubstr("expected an integer"));
    EXPECT_THAT(set_error("host.load=abc"), HasSubstr("host.load: expected a number"));
    EXPECT_THAT(set_error("iommu.enabled=maybe"),
                HasSubstr("iommu.enabled: expected true or false, got 'maybe'"));
    EXPECT_THAT(set_error("vm.mode=fast"),
                HasSubstr("vm.mode must be one of emulation, virtio, passthrough (got 'fast')"));
    EXPECT_THAT(set_error("mem.latency=5GHz"),
                HasSubstr("mem.latency: expected a time (e.g. 250ns, 1.5us; a bare number is in "
                          "ns), got '5GHz'"));
    EXPECT_THAT(set_error("mem.latency=-5ns"), HasSubstr("expected a time"));
    EXPECT_THAT(set_error("mem.latency=ns"), HasSubstr("expected a time"));
    EXPECT_THAT(set_error("mem.latency=5 parsecs"), HasSubstr("expected a time"));
    EXPECT_THAT(set_error("mem.latency=0.5ps"),
                HasSubstr("mem.latency: '0.5ps' is not a whole number of picoseconds"));
    EXPECT_THAT(set_error("mem.latency=99999999999s"), HasSubstr("'99999999999s' is too large"));
    EXPECT_THAT(set_error("mem.size=1.5B"),
                HasSubstr("mem.size: '1.5B' is not a whole number of bytes"));
    EXPECT_THAT(set_error("host.cpu_clock=3ns"),
                HasSubstr("host.cpu_clock: expected a frequency (e.g. 3.0GHz, 100MHz; a bare "
                          "number is in GHz), got '3ns'"));
    EXPECT_THAT(set_error("host.cpu_clock=3ghz"), HasSubstr("expected a frequency"));
    EXPECT_THAT(set_error("wire.rate=25GB"), HasSubstr("wire.rate: expected a bandwidth"));
    EXPECT_THAT(set_error("mem.size=4Kbps"), HasSubstr("mem.size: expected a size"));
    EXPECT_THAT(set_error("mem.size=1e-3K"), HasSubstr("not a whole number of bytes"));
}

TEST_F(params_test, out_of_range_is_an_error) {
    EXPECT_EQ(set_error("pcie.mps=64"),
              "--set pcie.mps=64: pcie.mps must be between 128 and 4K (got 64)");
    EXPECT_EQ(set_error("pcie.mps=8KiB"),
              "--set pcie.mps=8KiB: pcie.mps must be between 128 and 4K (got 8KiB)");
    EXPECT_THAT(set_error("host.load=1.5"),
                HasSubstr("host.load must be between 0 and 1 (got 1.5)"));
    EXPECT_THAT(set_error("dmabench.windows=4,0"),
                HasSubstr("dmabench.windows must be at least 1 (got 0)"));
    // The bounds themselves are allowed: 4K = 4096 = max, 128 = min.
    m_tree.set("pcie.mps=4096");
    EXPECT_EQ(m_tree.get_bytes("pcie.mps"), 4096u);
    m_tree.set("pcie.mps=128B");
    EXPECT_EQ(m_tree.get_bytes("pcie.mps"), 128u);

    param_registry r;
    r.declare(param_decl("x.max_only", param_kind::integer, "3", "", "x").with_max("5"));
    param_tree t(r);
    EXPECT_THAT(error_of([&] { t.set("x.max_only=6"); }),
                HasSubstr("x.max_only must be at most 5 (got 6)"));
}

TEST_F(params_test, lists_from_set) {
    m_tree.set("dmabench.sizes=64,128,4K");
    EXPECT_EQ(m_tree.get_bytes_list("dmabench.sizes"), (std::vector<std::uint64_t>{64, 128, 4096}));
    m_tree.set("dmabench.sizes=[256, 1KiB , 2M]");
    EXPECT_EQ(m_tree.get_bytes_list("dmabench.sizes"),
              (std::vector<std::uint64_t>{256, 1024, 2'097'152}));  // 2 * 2^20
    m_tree.set("dmabench.sizes=512");
    EXPECT_EQ(m_tree.get_bytes_list("dmabench.sizes"), (std::vector<std::uint64_t>{512}));
    m_tree.set("dmabench.sizes=[]");
    EXPECT_TRUE(m_tree.get_bytes_list("dmabench.sizes").empty());
    m_tree.set("dmabench.windows=1,2,0x10");
    EXPECT_EQ(m_tree.get_int_list("dmabench.windows"), (std::vector<std::int64_t>{1, 2, 16}));
    m_tree.set("dmabench.patterns=rand,seq");
    EXPECT_EQ(m_tree.get_string_list("dmabench.patterns"),
              (std::vector<std::string>{"rand", "seq"}));
    m_tree.set("trace.modules=pcie,iommu");
    EXPECT_EQ(m_tree.get_string_list("trace.modules"), (std::vector<std::string>{"pcie", "iommu"}));
}

TEST_F(params_test, list_errors) {
    EXPECT_EQ(set_error("dmabench.sizes=64,3GHz"),
              "--set dmabench.sizes=64,3GHz: dmabench.sizes: expected a size (e.g. 256, 4K, "
              "64KiB), got '3GHz'");
    EXPECT_THAT(set_error("dmabench.sizes=64,,128"),
                HasSubstr("dmabench.sizes: empty element in list"));
    EXPECT_THAT(set_error("dmabench.sizes=[64,128"),
                HasSubstr("dmabench.sizes: unterminated list '[64,128'"));
    EXPECT_THAT(set_error("dmabench.patterns=seq,zigzag"),
                HasSubstr("dmabench.patterns must be one of seq, rand (got 'zigzag')"));
    EXPECT_THAT(yaml_error("dmabench:\n  sizes: [[64]]\n"),
                StartsWith("cfg.yaml:2: dmabench.sizes: expected a list of values"));
}

TEST_F(params_test, yaml_nested_maps_and_sequences) {
    m_tree.load_yaml_text(
        "# a comment\n"
        "pcie:\n"
        "  lanes: 4\n"
        "  mps: 512\n"
        "host: {cpu_clock: 2.5GHz}\n"
        "dmabench:\n"
        "  sizes:\n"
        "    - 64\n"
        "    - 4K\n"
        "  patterns: [rand]\n"
        "mem.latency: 100ns\n"
        "nic:\n"
        "  name: 'x: y'\n",
        "cfg.yaml");
    EXPECT_EQ(m_tree.get_int("pcie.lanes"), 4);
    EXPECT_EQ(m_tree.get_bytes("pcie.mps"), 512u);
    EXPECT_EQ(m_tree.get_hz("host.cpu_clock"), 2.5e9);
    EXPECT_EQ(m_tree.get_bytes_list("dmabench.sizes"), (std::vector<std::uint64_t>{64, 4096}));
    EXPECT_EQ(m_tree.get_string_list("dmabench.patterns"), (std::vector<std::string>{"rand"}));
    EXPECT_EQ(m_tree.get_time("mem.latency"), 100'000u);  // dotted key inside YAML
    EXPECT_EQ(m_tree.get_string("nic.name"), "x: y");
    EXPECT_EQ(m_tree.source("pcie.lanes"), "cfg.yaml:3");
    EXPECT_EQ(m_tree.source("host.cpu_clock"), "cfg.yaml:5");
    EXPECT_EQ(m_tree.source("dmabench.sizes"), "cfg.yaml:8");  // where the sequence starts
    EXPECT_TRUE(m_tree.is_set("pcie.lanes"));
    EXPECT_FALSE(m_tree.is_set("wire.rate"));
}

TEST_F(params_test, yaml_errors_carry_file_and_line) {
    EXPECT_EQ(yaml_error("sim:\n  seed: 2\npcie:\n  lane: 8\n"),
              "cfg.yaml:4: unknown key 'pcie.lane' (did you mean 'pcie.lanes'?)");
    EXPECT_EQ(yaml_error("pcie:\n  lanes: 8\n  mps: 3GHz\n"),
              "cfg.yaml:3: pcie.mps: expected a size (e.g. 256, 4K, 64KiB), got '3GHz'");
    EXPECT_EQ(yaml_error("\npcie:\n  lanes: 3\n"),
              "cfg.yaml:3: pcie.lanes must be one of 1, 2, 4, 8, 16 (got 3)");
    EXPECT_EQ(yaml_error("pcie:\n  lanes:\n    x: 1\n"),
              "cfg.yaml:2: pcie.lanes: expected a value, got a map");
    EXPECT_EQ(yaml_error("pcie:\n  lanes: [1, 2]\n"),
              "cfg.yaml:2: pcie.lanes: expected a single value, got a list");
    EXPECT_EQ(yaml_error("- 1\n- 2\n"),
              "cfg.yaml:1: expected a map of parameters at the top level");
    EXPECT_EQ(yaml_error("pcie: [1, 2]\n"), "cfg.yaml:1: unknown key 'pcie'");
    EXPECT_EQ(yaml_error("pcie:\n  ? [a]\n  : 1\n"), "cfg.yaml:2: expected a key name");
    EXPECT_EQ(yaml_error("pcie:\n  lanes:\n"),  // an empty value is not an integer
              "cfg.yaml:2: pcie.lanes: expected an integer (e.g. 8, -1, 0x100), got ''");
}

TEST_F(params_test, malformed_yaml_reports_its_line) {
    // Line 3 holds a second ': ' inside a plain value, which YAML forbids.
    const std::string e = yaml_error("pcie:\n  lanes: 8\n  mps: a: b\n");
    EXPECT_EQ(e, "cfg.yaml:3: malformed YAML: illegal map value");
    // Line 2 is indented under a scalar.
    EXPECT_THAT(yaml_error("a: 1\n  b: 2\nc: 3\n"), StartsWith("cfg.yaml:2: malformed YAML: "));
    // A tab may not indent YAML; the bad line is line 2.
    EXPECT_THAT(yaml_error("pcie:\n\tlanes: 8\n"), StartsWith("cfg.yaml:2: malformed YAML: "));
}

TEST_F(params_test, a_failing_source_changes_nothing) {
    EXPECT_NE(yaml_error("pcie:\n  lanes: 4\n  mps: 3GHz\n"), "");
    EXPECT_EQ(m_tree.get_int("pcie.lanes"), 8);
    EXPECT_FALSE(m_tree.is_set("pcie.lanes"));
}

TEST_F(params_test, files_missing_unreadable_and_good) {
    EXPECT_EQ(error_of([&] { m_tree.load_file("/nonexistent-h1/missing.yaml"); }),
              "/nonexistent-h1/missing.yaml: cannot open configuration file (No such file or "
              "directory)");
    EXPECT_THAT(error_of([&] { m_tree.load_file("/"); }),
                StartsWith("/: cannot read configuration file ("));

    const std::string path = ::testing::TempDir() + "h1_params_test.yaml";
    {
        std::ofstream f(path);
        f << "pcie:\n  lanes: 2\n  mps: 9K\n";
    }
    EXPECT_EQ(error_of([&] { m_tree.load_file(path); }),
              path + ":3: pcie.mps must be between 128 and 4K (got 9K)");
    {
        std::ofstream f(path);
        f << "pcie:\n  lanes: 2\n";
    }
    m_tree.load_file(path);
    EXPECT_EQ(m_tree.get_int("pcie.lanes"), 2);
    EXPECT_EQ(m_tree.source("pcie.lanes"), path + ":2");
    std::remove(path.c_str());
}

TEST_F(params_test, later_sources_win) {
    m_tree.load_yaml_text("pcie:\n  lanes: 4\n  mps: 512\n", "a.yaml");
    m_tree.load_yaml_text("pcie:\n  lanes: 2\n", "b.yaml");
    EXPECT_EQ(m_tree.get_int("pcie.lanes"), 2);
    EXPECT_EQ(m_tree.source("pcie.lanes"), "b.yaml:2");
    EXPECT_EQ(m_tree.get_bytes("pcie.mps"), 512u);
    EXPECT_EQ(m_tree.source("pcie.mps"), "a.yaml:3");
    m_tree.set("pcie.lanes=16");
    EXPECT_EQ(m_tree.get_int("pcie.lanes"), 16);
    EXPECT_EQ(m_tree.source("pcie.lanes"), "--set");
    m_tree.set("pcie.lanes=1");
    EXPECT_EQ(m_tree.get_int("pcie.lanes"), 1);
}

TEST_F(params_test, indexed_pattern_keys) {
    m_tree.set("vms.2.mode=passthrough");
    EXPECT_EQ(m_tree.get_string("vms.2.mode"), "passthrough");
    EXPECT_EQ(m_tree.source("vms.2.mode"), "--set");
    EXPECT_EQ(m_tree.get_string("vms.0.mode"), "virtio");  // the pattern's default
    EXPECT_EQ(m_tree.get_int("vms.2.vcpus"), 1);
    EXPECT_FALSE(m_tree.is_set("vms.2.vcpus"));
    EXPECT_EQ(m_tree.indices("vms"), (std::vector<std::size_t>{2}));
    EXPECT_EQ(m_registry.find("vms.17.mode")->name, "vms.*.mode");
    EXPECT_EQ(m_registry.find("vms.x.mode"), nullptr);
    EXPECT_EQ(m_registry.find("vms.01.mode"), nullptr);  // one spelling per index

    EXPECT_EQ(set_error("vms.2.mode=fast"),
              "--set vms.2.mode=fast: vms.2.mode must be one of emulation, virtio, passthrough "
              "(got 'fast')");
    EXPECT_THAT(set_error("vms.1.vcpus=0"), HasSubstr("vms.1.vcpus must be at least 1 (got 0)"));
    EXPECT_EQ(set_error("vms.2.mdoe=virtio"),
              "--set vms.2.mdoe=virtio: unknown key 'vms.2.mdoe' (did you mean 'vms.2.mode'?)");
    EXPECT_THAT(set_error("vms.*.mode=virtio"), HasSubstr("unknown key 'vms.*.mode'"));
    EXPECT_THAT(set_error("vms.02.mode=virtio"), HasSubstr("unknown key 'vms.02.mode'"));
}

TEST_F(params_test, indexed_pattern_keys_from_yaml) {
    m_tree.load_yaml_text(
        "vms:\n"
        "  - mode: emulation\n"
        "  - mode: passthrough\n"
        "    vcpus: 4\n",
        "cfg.yaml");
    EXPECT_EQ(m_tree.get_string("vms.0.mode"), "emulation");
    EXPECT_EQ(m_tree.get_string("vms.1.mode"), "passthrough");
    EXPECT_EQ(m_tree.get_int("vms.1.vcpus"), 4);
    EXPECT_EQ(m_tree.source("vms.1.vcpus"), "cfg.yaml:4");
    m_tree.load_yaml_text("vms:\n  3:\n    mode: virtio\nvms.5.vcpus: 2\n", "more.yaml");
    EXPECT_EQ(m_tree.get_string("vms.3.mode"), "virtio");
    EXPECT_EQ(m_tree.get_int("vms.5.vcpus"), 2);
    EXPECT_EQ(m_tree.indices("vms"), (std::vector<std::size_t>{0, 1, 3, 5}));
    EXPECT_EQ(yaml_error("vms:\n  - mode: virtio\n  - mdoe: virtio\n"),
              "cfg.yaml:3: unknown key 'vms.1.mdoe' (did you mean 'vms.1.mode'?)");
    EXPECT_EQ(yaml_error("vms:\n  - 5\n"), "cfg.yaml:2: unknown key 'vms.0'");
}

TEST_F(params_test, getters_reject_programming_errors) {
    EXPECT_THROW(m_tree.get_int("no.such"), std::logic_error);
    EXPECT_THROW(m_tree.get_int("sim.quantum"), std::logic_error);
    EXPECT_THROW(m_tree.get_real("pcie.lanes"), std::logic_error);
    EXPECT_THROW(m_tree.get_bool("nic.name"), std::logic_error);
    EXPECT_THROW(m_tree.get_string("pcie.lanes"), std::logic_error);
    EXPECT_THROW(m_tree.get_time("pcie.mps"), std::logic_error);
    EXPECT_THROW(m_tree.get_hz("wire.rate"), std::logic_error);
    EXPECT_THROW(m_tree.get_bps("host.cpu_clock"), std::logic_error);
    EXPECT_THROW(m_tree.get_bytes("dmabench.sizes"), std::logic_error);
    EXPECT_THROW(m_tree.get_int_list("dmabench.sizes"), std::logic_error);
    EXPECT_THROW(m_tree.get_bytes_list("dmabench.windows"), std::logic_error);
    EXPECT_THROW(m_tree.get_string_list("vm.mode"), std::logic_error);
    EXPECT_THROW(m_tree.is_set("no.such"), std::logic_error);
    EXPECT_THROW(m_tree.source("no.such"), std::logic_error);
    try {
        m_tree.get_int("sim.quantum");
    } catch (const std::logic_error& e) {
        EXPECT_STREQ(e.what(), "parameter 'sim.quantum' is of kind time, not integer");
    }
    // A config_error is a runtime_error, not a logic_error.
    EXPECT_THROW(m_tree.set("pcie.lanes=3"), std::runtime_error);
}

TEST_F(params_test, bad_declarations_are_programming_errors) {
    param_registry r;
    r.declare(param_decl("a.b", param_kind::integer, "1", "", "ok"));
    const auto bad = [&](param_decl d) { EXPECT_THROW(r.declare(d), std::logic_error) << d.name; };
    bad(param_decl("a.b", param_kind::integer, "1", "", "duplicate"));
    bad(param_decl("a", param_kind::integer, "1", "", "prefix of a.b"));
    bad(param_decl("a.b.c", param_kind::integer, "1", "", "a.b is its prefix"));
    bad(param_decl("x.Y", param_kind::integer, "1", "", "upper case"));
    bad(param_decl("x..y", param_kind::integer, "1", "", "empty segment"));
    bad(param_decl("x.3", param_kind::integer, "1", "", "digit segment"));
    bad(param_decl("*.x", param_kind::integer, "1", "", "leading star"));
    bad(param_decl("x.*.y.*", param_kind::integer, "1", "", "two stars"));
    bad(param_decl("x.t", param_kind::time, "1", "GHz", "wrong unit"));
    bad(param_decl("x.t", param_kind::time, "fast", "ns", "bad default"));
    bad(param_decl("x.i", param_kind::integer, "3", "", "default not a choice")
            .with_choices({"1", "2"}));
    bad(param_decl("x.i", param_kind::integer, "1", "", "bad choice").with_choices({"one"}));
    bad(param_decl("x.i", param_kind::integer, "0", "", "default below min").with_min("1"));
    bad(param_decl("x.i", param_kind::integer, "1", "", "bad min").with_min("1ns"));
    bad(param_decl("x.e", param_kind::enumeration, "a", "", "enum without choices"));
    bad(param_decl("x.s", param_kind::string, "a", "", "choices on a string").with_choices({"a"}));
    bad(param_decl("x.s", param_kind::string, "a", "", "min on a string").with_min("a"));
    bad(param_decl("x.i", param_kind::integer, "1", "", "min_items on a scalar").with_min_items(1));
    bad(param_decl("x.l", param_kind::size_list, "[]", "B", "empty default, min_items 1")
            .with_min_items(1));
    bad(param_decl("x.l", param_kind::size_list, "[64]", "B", "default too short")
            .with_min_items(2));
    EXPECT_EQ(r.all().size(), 1u);
}

TEST_F(params_test, canonical_text) {
    const auto fmt_of = [&](const char* key, const std::string& value) {
        m_tree.set(std::string(key) + "=" + value);
        return m_registry.format(*m_registry.find(key),
                                 m_registry.parse(*m_registry.find(key), value));
    };
    EXPECT_EQ(fmt_of("mem.latency", "0"), "0ns");  // zero in the declared unit
    EXPECT_EQ(fmt_of("mem.latency", "1500ps"), "1.5ns");
    EXPECT_EQ(fmt_of("mem.latency", "250000ps"), "250ns");
    EXPECT_EQ(fmt_of("mem.latency", "1000000ns"), "1ms");
    EXPECT_EQ(fmt_of("mem.latency", "1.0001ms"), "1000.1us");  // at most three decimals
    EXPECT_EQ(fmt_of("mem.latency", "3ps"), "3ps");
    EXPECT_EQ(fmt_of("host.cpu_clock", "3.0GHz"), "3GHz");
    EXPECT_EQ(fmt_of("host.cpu_clock", "2400MHz"), "2.4GHz");
    EXPECT_EQ(fmt_of("host.cpu_clock", "0.5Hz"), "0.5Hz");
    EXPECT_EQ(fmt_of("wire.rate", "25000Mbps"), "25Gbps");
    EXPECT_EQ(fmt_of("mem.size", "65536"), "64KiB");
    EXPECT_EQ(fmt_of("mem.size", "4K"), "4KiB");
    EXPECT_EQ(fmt_of("mem.size", "1536"), "1536B");
    EXPECT_EQ(fmt_of("mem.size", "1GB"), "1000000000B");
    EXPECT_EQ(fmt_of("dmabench.sizes", "64,4K,1M"), "[64B, 4KiB, 1MiB]");
    EXPECT_EQ(fmt_of("iommu.enabled", "yes"), "true");
    EXPECT_EQ(fmt_of("pcie.lanes", "0x10"), "16");
}

TEST_F(params_test, to_yaml_writes_every_parameter_in_canonical_text) {
    const std::string y = m_tree.to_yaml();
    EXPECT_THAT(y, HasSubstr("sim:\n  seed: 1\n  quantum: 0ns\n  max_time: 0ns\n"));
    EXPECT_THAT(y, HasSubstr("cpu_clock: 3GHz"));
    EXPECT_THAT(y, HasSubstr("rate: 25Gbps"));
    EXPECT_THAT(y, HasSubstr("latency: 80ns"));
    EXPECT_THAT(y, HasSubstr("size: 64GiB"));
    EXPECT_THAT(y, HasSubstr("sizes: [64B, 128B, 4KiB]"));
    EXPECT_THAT(y, HasSubstr("modules: []"));
    EXPECT_THAT(y, Not(HasSubstr("vms")));  // no instance set: nothing to write
}

TEST_F(params_test, to_yaml_round_trips) {
    m_tree.load_yaml_text(
        "pcie: {lanes: 2, mps: 1K}\n"
        "host: {cpu_clock: 2.4GHz, load: 0.1}\n"
        "wire.rate: 12.5Gbps\n"
        "mem: {latency: 1.001us, size: 1536}\n"
        "iommu.enabled: on\n"
        "nic.name: ''\n"
        "vm.mode: passthrough\n"
        "dmabench: {sizes: [64, 0x1000, 1MB], windows: [1, 2, 64], patterns: [rand, seq]}\n"
        "trace.modules: ['a, b', 'null', '-x']\n"
        "sim: {seed: 42, quantum: 1us, max_time: 2.5ms}\n"
        "vms: [{mode: emulation}, {vcpus: 8}]\n"
        "vms.4.mode: passthrough\n",
        "in.yaml");
    const std::string y = m_tree.to_yaml();
    param_tree back(m_registry);
    back.load_yaml_text(y, "params.yaml");
    for (const param_decl* d : m_registry.sorted()) {
        if (d->name.find('*') != std::string::npos) continue;
        EXPECT_TRUE(back.is_set(d->name)) << d->name;
    }
    EXPECT_EQ(back.get_int("pcie.lanes"), 2);
    EXPECT_EQ(back.get_bytes("pcie.mps"), 1024u);
    EXPECT_EQ(back.get_hz("host.cpu_clock"), m_tree.get_hz("host.cpu_clock"));
    EXPECT_EQ(back.get_real("host.load"), m_tree.get_real("host.load"));
    EXPECT_EQ(back.get_bps("wire.rate"), 12.5e9);
    EXPECT_EQ(back.get_time("mem.latency"), 1'001'000u);  // 1.001 us * 10^6 ps/us
    EXPECT_EQ(back.get_bytes("mem.size"), 1536u);
    EXPECT_TRUE(back.get_bool("iommu.enabled"));
    EXPECT_EQ(back.get_string("nic.name"), "");
    EXPECT_EQ(back.get_string("vm.mode"), "passthrough");
    EXPECT_EQ(back.get_bytes_list("dmabench.sizes"),
              (std::vector<std::uint64_t>{64, 4096, 1'000'000}));
    EXPECT_EQ(back.get_int_list("dmabench.windows"), (std::vector<std::int64_t>{1, 2, 64}));
    EXPECT_EQ(back.get_string_list("dmabench.patterns"), (std::vector<std::string>{"rand", "seq"}));
    EXPECT_EQ(back.get_string_list("trace.modules"),
              (std::vector<std::string>{"a, b", "null", "-x"}));
    EXPECT_EQ(back.get_int("sim.seed"), 42);
    EXPECT_EQ(back.get_time("sim.quantum"), 1'000'000u);
    EXPECT_EQ(back.get_time("sim.max_time"), 2'500'000'000u);  // 2.5 * 10^9 ps
    // Every instance is written whole: vms.0 and vms.1 from the sequence, vms.4 from its key.
    EXPECT_EQ(back.indices("vms"), (std::vector<std::size_t>{0, 1, 4}));
    EXPECT_EQ(back.get_string("vms.0.mode"), "emulation");
    EXPECT_EQ(back.get_int("vms.0.vcpus"), 1);
    EXPECT_TRUE(back.is_set("vms.0.vcpus"));
    EXPECT_EQ(back.get_string("vms.1.mode"), "virtio");
    EXPECT_EQ(back.get_int("vms.1.vcpus"), 8);
    EXPECT_EQ(back.get_string("vms.4.mode"), "passthrough");
    // And the text is a fixed point.
    EXPECT_EQ(back.to_yaml(), y);
}

TEST_F(params_test, contiguous_instances_are_written_as_a_sequence) {
    m_tree.set("vms.0.mode=emulation");
    m_tree.set("vms.1.vcpus=2");
    EXPECT_THAT(
        m_tree.to_yaml(),
        HasSubstr("vms:\n  - mode: emulation\n    vcpus: 1\n  - mode: virtio\n    vcpus: 2"));
}

TEST_F(params_test, registry_lists_and_json) {
    const auto& all = m_registry.all();
    ASSERT_GE(all.size(), 3u);
    EXPECT_EQ(all[0].name, "sim.seed");  // declaration order
    const auto sorted = m_registry.sorted();
    ASSERT_EQ(sorted.size(), all.size());
    for (std::size_t i = 1; i < sorted.size(); ++i) EXPECT_LT(sorted[i - 1]->name, sorted[i]->name);

    const nlohmann::json j = m_registry.to_json();
    ASSERT_TRUE(j.is_array());
    ASSERT_EQ(j.size(), all.size());
    EXPECT_EQ(j[0]["name"], "dmabench.patterns");  // sorted by name
    const auto entry = [&](const std::string& name) {
        for (const auto& e : j)
            if (e["name"] == name) return e;
        return nlohmann::json();
    };
    const nlohmann::json lanes = entry("pcie.lanes");
    EXPECT_EQ(lanes["kind"], "integer");
    EXPECT_EQ(lanes["default"], "8");
    EXPECT_EQ(lanes["unit"], "lanes");
    EXPECT_EQ(lanes["description"], "Link width.");
    EXPECT_EQ(lanes["choices"], nlohmann::json({"1", "2", "4", "8", "16"}));
    EXPECT_FALSE(lanes.contains("min"));
    const nlohmann::json mps = entry("pcie.mps");
    EXPECT_EQ(mps["kind"], "size");
    EXPECT_EQ(mps["min"], "128");
    EXPECT_EQ(mps["max"], "4K");
    EXPECT_FALSE(mps.contains("choices"));
    EXPECT_EQ(entry("host.cpu_clock")["default"], "3.0GHz");  // as declared
    EXPECT_EQ(entry("vms.*.mode")["kind"], "enum");
    EXPECT_EQ(entry("dmabench.sizes")["kind"], "size_list");
    EXPECT_FALSE(entry("dmabench.sizes").contains("min_items"));  // not declared: any length
    EXPECT_EQ(entry("dmabench.windows")["min_items"], 1);

    const nlohmann::json in_order = m_registry.to_json(false);
    EXPECT_EQ(in_order[0]["name"], "sim.seed");
}

// dmabench.windows is declared with_min_items(1): an empty list is refused however it is
// written; dmabench.sizes, declared without it, still takes one.
TEST_F(params_test, a_list_with_min_items_must_not_be_empty) {
    EXPECT_EQ(set_error("dmabench.windows=[]"),
              "--set dmabench.windows=[]: dmabench.windows must not be an empty list");
    EXPECT_EQ(set_error("dmabench.windows="),
              "--set dmabench.windows=: dmabench.windows must not be an empty list");
    EXPECT_EQ(yaml_error("dmabench:\n  windows: []\n"),
              "cfg.yaml:2: dmabench.windows must not be an empty list");
    EXPECT_EQ(yaml_error("dmabench:\n  windows:\n"),  // a null value is an empty list too
              "cfg.yaml:2: dmabench.windows must not be an empty list");
    EXPECT_EQ(m_tree.get_int_list("dmabench.windows"), (std::vector<std::int64_t>{1, 8}));
    m_tree.set("dmabench.windows=[4]");  // one element is enough
    EXPECT_EQ(m_tree.get_int_list("dmabench.windows"), (std::vector<std::int64_t>{4}));
    m_tree.set("dmabench.sizes=[]");
    EXPECT_TRUE(m_tree.get_bytes_list("dmabench.sizes").empty());

    param_registry r;
    r.declare(param_decl("x.l", param_kind::integer_list, "[1, 2]", "", "Two at least.")
                  .with_min_items(2));
    param_tree t(r);
    EXPECT_EQ(error_of([&] { t.set("x.l=7"); }),
              "--set x.l=7: x.l must have at least 2 elements (got 1)");
}

// `pcie: {lanes: 4}` and a top-level `pcie.lanes: 8` (a dotted key is accepted: flatten joins
// it onto its parent's path) both set pcie.lanes: one file may set a key only once.
TEST_F(params_test, one_key_spelled_twice_in_a_file_names_both_lines) {
    EXPECT_EQ(yaml_error("pcie:\n  lanes: 4\npcie.lanes: 8\n"),
              "cfg.yaml:3: duplicate key 'pcie.lanes' (first set on line 2)");
    EXPECT_EQ(yaml_error("pcie.lanes: 8\nsim:\n  seed: 3\npcie:\n  lanes: 4\n"),
              "cfg.yaml:5: duplicate key 'pcie.lanes' (first set on line 1)");
    EXPECT_EQ(yaml_error("dmabench:\n  sizes: [64]\ndmabench.sizes:\n  - 128\n"),
              "cfg.yaml:3: duplicate key 'dmabench.sizes' (first set on line 2)");
    // A sequence under an indexed prefix and a dotted index are the same key too.
    EXPECT_EQ(yaml_error("vms:\n  - mode: emulation\nvms.0.mode: virtio\n"),
              "cfg.yaml:3: duplicate key 'vms.0.mode' (first set on line 2)");
    EXPECT_FALSE(m_tree.is_set("pcie.lanes"));  // the failed files changed nothing
    EXPECT_FALSE(m_tree.is_set("dmabench.sizes"));

    // Different keys in both spellings, and the same key in two sources, are fine.
    m_tree.load_yaml_text("pcie:\n  lanes: 4\npcie.mps: 512\n", "a.yaml");
    EXPECT_EQ(m_tree.get_int("pcie.lanes"), 4);
    EXPECT_EQ(m_tree.get_bytes("pcie.mps"), 512u);
    m_tree.load_yaml_text("pcie.lanes: 2\n", "b.yaml");
    EXPECT_EQ(m_tree.get_int("pcie.lanes"), 2);
}

TEST_F(params_test, a_second_yaml_document_is_an_error) {
    // The error names the line of the `---` that starts the second document.
    EXPECT_EQ(yaml_error("pcie:\n  lanes: 4\n---\npcie:\n  lanes: 8\n"),
              "cfg.yaml:3: a second YAML document ('---'): a configuration file holds one "
              "document");
    EXPECT_EQ(yaml_error("pcie:\n  lanes: 4\n\n--- # next\n\nsim:\n  seed: 2\n"),
              "cfg.yaml:4: a second YAML document ('---'): a configuration file holds one "
              "document");
    // An explicit start marker before the first document, then a second one.
    EXPECT_EQ(yaml_error("---\npcie:\n  lanes: 4\n---\nsim:\n  seed: 2\n"),
              "cfg.yaml:4: a second YAML document ('---'): a configuration file holds one "
              "document");
    // Even an empty second document: the file is not one document.
    EXPECT_EQ(yaml_error("pcie:\n  lanes: 4\n---\n"),
              "cfg.yaml:3: a second YAML document ('---'): a configuration file holds one "
              "document");
    // A bare document after an end marker `...` has no `---`: its first line is named.
    EXPECT_EQ(yaml_error("pcie:\n  lanes: 4\n...\nsim:\n  seed: 2\n"),
              "cfg.yaml:4: a second YAML document ('---'): a configuration file holds one "
              "document");
    EXPECT_FALSE(m_tree.is_set("pcie.lanes"));

    // One document, with its optional markers, loads.
    m_tree.load_yaml_text("---\npcie:\n  lanes: 4\n...\n", "one.yaml");
    EXPECT_EQ(m_tree.get_int("pcie.lanes"), 4);

    // load_file names the file.
    const std::string path = ::testing::TempDir() + "h21_two_documents.yaml";
    {
        std::ofstream f(path);
        f << "sim:\n  seed: 5\n---\nsim:\n  seed: 6\n";
    }
    EXPECT_EQ(error_of([&] { m_tree.load_file(path); }),
              path + ":3: a second YAML document ('---'): a configuration file holds one document");
    EXPECT_EQ(m_tree.get_int("sim.seed"), 1);
    std::remove(path.c_str());
}

}  // namespace
}  // namespace iovsim::core

namespace {

iovsim::core::param_registry group_registry() {
    iovsim::core::param_registry reg;
    reg.declare({"pcie.gen", iovsim::core::param_kind::integer, "3", "generation", "PCIe gen"});
    reg.declare({"pcie.lanes", iovsim::core::param_kind::integer, "8", "lanes", "PCIe width"});
    return reg;
}

}  // namespace

TEST(ParamTreeErrors, DuplicateKeyInAFileNamesBothLines) {
    const auto reg = group_registry();
    iovsim::core::param_tree tree(reg);
    try {
        tree.load_yaml_text("pcie:\n  gen: 3\n  lanes: 8\n  gen: 4\n", "dup.yaml");
        FAIL() << "a duplicate key was accepted";
    } catch (const iovsim::core::config_error& e) {
        EXPECT_STREQ(e.what(), "dup.yaml:4: duplicate key 'pcie.gen' (first set on line 2)");
    }
    EXPECT_EQ(tree.get_int("pcie.gen"), 3);  // a failed source changes nothing
}

TEST(ParamTreeErrors, AGroupGivenAValueSaysItIsAGroup) {
    const auto reg = group_registry();
    iovsim::core::param_tree tree(reg);
    try {
        tree.load_yaml_text("pcie: 3\n", "group.yaml");
        FAIL() << "a group given a value was accepted";
    } catch (const iovsim::core::config_error& e) {
        EXPECT_STREQ(e.what(),
                     "group.yaml:1: 'pcie' is a group of parameters (pcie.…), not a value");
    }
}

#include "platform/cli.h"

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <systemc>

#include "models/core/errors.h"
#include "models/core/log.h"
#include "models/core/sc_glue.h"
#include "models/core/stats.h"
#include "models/pcie/lspci_dump.h"
#include "platform/dmabench.h"
#include "platform/host_platform.h"
#include "platform/platform_params.h"
#include "platform/version.h"

namespace iovsim::platform {

namespace {

// A failure inside the simulation (as opposed to bad input).
struct sim_failure : std::runtime_error {
    using std::runtime_error::runtime_error;
};

struct run_options {
    std::string config;
    std::vector<std::string> sets;
    std::string out = "out";
};

void add_run_options(CLI::App* cmd, run_options& o, bool with_out) {
    cmd->add_option("config", o.config, "Platform configuration (YAML)");
    cmd->add_option("--set", o.sets, "Override a parameter: key=value (repeatable; later wins)")
        ->take_all();
    if (with_out) cmd->add_option("--out", o.out, "Output directory (default: out)");
}

core::param_tree load_tree(const core::param_registry& reg, const run_options& o) {
    core::param_tree t(reg);
    if (!o.config.empty()) t.load_file(o.config);
    for (const std::string& s : o.sets) t.set(s);
    return t;
}

void write_file(const std::filesystem::path& path, const std::string& text) {
    std::ofstream f(path);
    f << text;
    if (!f) throw sim_failure(fmt::format("cannot write {}", path.string()));
}

std::filesystem::path make_out_dir(const std::string& dir) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec)
        throw core::config_error(
            fmt::format("--out {}: cannot create directory ({})", dir, ec.message()));
    return dir;
}

// Runs the elaborated simulation until the CPU's program finishes or sim.max_time passes.
double simulate(host_platform& p) {
    const auto t0 = std::chrono::steady_clock::now();
    if (p.config().max_time)
        sc_core::sc_start(to_sc_time(p.config().max_time));
    else
        sc_core::sc_start();
    const double wall =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (!p.cpu.failure().empty()) throw sim_failure(p.cpu.failure());
    if (!p.cpu.finished()) {
        throw sim_failure(fmt::format(
            "the run reached sim.max_time ({} ns of simulated time) before the host program "
            "finished",
            ticks_to_ns(p.config().max_time)));
    }
    return wall;
}

std::uint64_t rc_transactions(const host_platform& p) {
    const auto& s = p.rc.stats();
    return s.cpu_config_reads.value() + s.cpu_config_writes.value() + s.cpu_mmio_reads.value() +
           s.cpu_mmio_writes.value() + s.dma_reads.value() + s.dma_writes.value() +
           s.interrupt_messages.value();
}

std::string describe(const host_platform& p, const std::vector<pcie::enumerated_function>& found) {
    const pcie::host_map& m = p.config().map;
    std::string s = fmt::format(
        "host: {} GiB DRAM ({:#x}-{:#x}, {:#x}-{:#x}), ECAM {:#x}, MMIO {:#x}-{:#x} and "
        "{:#x}-{:#x}\n",
        (m.dram_low.size + m.dram_high.size) >> 30, m.dram_low.base, m.dram_low.limit(),
        m.dram_high.base, m.dram_high.limit(), m.ecam.base, m.mmio32.base, m.mmio32.limit(),
        m.mmio64.base, m.mmio64.limit());
    const pcie::link_params& l = p.config().rc.link;
    s += fmt::format("links: PCIe Gen{} x{}, MPS {} B, MRRS {} B, RCB {} B\n", l.gen, l.lanes,
                     l.mps, l.mrrs, l.rcb);
    for (const auto& f : found) {
        s += fmt::format("  {} [{:06x}] {:04x}:{:04x}", pcie::to_string(f.id), f.class_code,
                         f.vendor_id, f.device_id);
        if (f.is_bridge)
            s += fmt::format("  bridge to bus {:02x}-{:02x}", f.secondary_bus, f.subordinate_bus);
        for (const auto& b : f.bars) {
            s += fmt::format("  BAR{} {:#x} ({} KiB, {}-bit{})", b.index, b.address, b.size >> 10,
                             b.is_64bit ? 64 : 32, b.prefetchable ? ", prefetchable" : "");
        }
        s += '\n';
    }
    return s;
}

int cmd_params(bool json) {
    core::param_registry reg;
    declare_platform_params(reg);
    if (json) {
        std::cout << reg.to_json().dump(2) << '\n';
        return 0;
    }
    for (const core::param_decl* d : reg.sorted()) {
        std::cout << fmt::format("{:<30} {:>12} {:<6} {}\n", d->name, d->default_value, d->unit,
                                 d->description);
    }
    return 0;
}

int cmd_config(const run_options& o) {
    core::param_registry reg;
    declare_platform_params(reg);
    std::cout << load_tree(reg, o).to_yaml();
    return 0;
}

int cmd_lspci(const run_options& o) {
    core::param_registry reg;
    declare_platform_params(reg);
    const core::param_tree tree = load_tree(reg, o);
    host_platform p(make_platform_config(tree));
    std::string dump;
    p.cpu.run([&p, &dump](host_cpu& cpu) {
        for (const auto& f : p.enumerate()) {
            std::uint8_t bytes[4096];
            for (std::uint16_t off = 0; off < 4096; off += 4) {
                const std::uint32_t v = cpu.config_read(f.id, off, 4);
                for (int i = 0; i < 4; ++i)
                    bytes[off + i] = static_cast<std::uint8_t>(v >> (8 * i));
            }
            dump += pcie::lspci_dump(f.id, bytes);
        }
    });
    simulate(p);
    std::cout << dump;
    return 0;
}

// Runs dmabench with the tree's parameters; writes DIR/dmabench.csv, stats.json, params.yaml.
int run_dmabench(const core::param_tree& tree, const std::string& out_dir, bool show_platform) {
    const std::filesystem::path out = make_out_dir(out_dir);
    host_platform p(make_platform_config(tree));
    const dmabench_config bc = make_dmabench_config(tree);
    dmabench_result result;
    install_dmabench(p, bc, result);

    core::stats_registry stats;
    p.register_stats(stats);
    const double wall = simulate(p);
    const double simulated_ns = ticks_to_ns(now_ticks());
    const std::uint64_t transactions = rc_transactions(p);
    stats.add_value("sim.version", "", "iovsim version", std::string(version()));
    stats.add_value("sim.simulated_ns", "ns", "simulated time at the end of the run", simulated_ns);
    stats.add_value("sim.wall_s", "s", "wall-clock time of the simulation", wall);
    stats.add_value("sim.transactions", "transactions",
                    "TLM transactions through the root complex (CPU accesses, device TLPs, "
                    "interrupt messages)",
                    static_cast<double>(transactions));
    stats.add_value("sim.host.transactions_per_wall_s", "transactions/s",
                    "simulation speed: transactions through the root complex per wall-clock second",
                    wall > 0 ? transactions / wall : 0.0);
    stats.write_json((out / "stats.json").string());
    write_file(out / "params.yaml", tree.to_yaml());
    write_file(out / "dmabench.csv", dmabench_csv(result.points));

    if (show_platform) std::cout << describe(p, result.functions) << '\n';
    std::cout << dmabench_table(result.points);
    std::cout << fmt::format(
        "\n{} transactions in {:.3f} s wall ({:.0f} per second), {:.1f} us simulated; wrote "
        "{}\n",
        transactions, wall, wall > 0 ? transactions / wall : 0.0, simulated_ns / 1000.0,
        (out / "dmabench.csv").string());
    return 0;
}

int cmd_dmabench(const run_options& o) {
    core::param_registry reg;
    declare_platform_params(reg);
    return run_dmabench(load_tree(reg, o), o.out, false);
}

// `iovsim` with no arguments: the enumerated default platform and a short DMA bench.
int cmd_default() {
    core::param_registry reg;
    declare_platform_params(reg);
    core::param_tree tree(reg);
    tree.set("dmabench.sizes=64,256,1024,4096");
    tree.set("dmabench.count=500");
    std::cout << fmt::format(
        "iovsim {}: the host platform and a short DMA bench "
        "(`iovsim dmabench` runs the full one)\n\n",
        version());
    return run_dmabench(tree, "out", true);
}

}  // namespace

int cli_main(int argc, char** argv) {
    CLI::App app{"iovsim: how a VM's network I/O crosses a host, timed component by component"};
    app.set_version_flag("--version", std::string("iovsim ") + version());
    std::vector<std::string> logs;
    app.add_option("--log", logs,
                   "Log level per module: MODULE=LEVEL (error, warn, info, debug, trace)");

    bool params_json = false;
    CLI::App* params = app.add_subcommand("params", "List every parameter: default, unit, meaning");
    params->add_flag("--json", params_json, "As JSON objects (name, default, unit, description)");

    run_options config_opts, lspci_opts, bench_opts;
    add_run_options(app.add_subcommand("config", "Print the resolved configuration and stop"),
                    config_opts, false);
    add_run_options(app.add_subcommand("lspci",
                                       "Print every PCI function's config space as "
                                       "`lspci -xxxx` does (decode with lspci -vvv -F FILE)"),
                    lspci_opts, false);
    add_run_options(app.add_subcommand("dmabench",
                                       "DMA latency and bandwidth against transfer size, window "
                                       "and pattern, as pcie-bench measures them"),
                    bench_opts, true);
    app.require_subcommand(0, 1);

    try {
        app.parse(argc, argv);
    } catch (const CLI::Success& e) {
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        std::cerr << "iovsim: " << e.what() << " (see iovsim --help)\n";
        return 2;
    }

    try {
        for (const std::string& l : logs) core::apply_log_option(l);
        // Quiet SystemC's own informational output; warnings and errors still surface.
        sc_core::sc_report_handler::set_actions(sc_core::SC_INFO, sc_core::SC_DO_NOTHING);
        sc_core::sc_report_handler::set_actions(sc_core::SC_WARNING, sc_core::SC_DISPLAY);
        if (app.got_subcommand("params")) return cmd_params(params_json);
        if (app.got_subcommand("config")) return cmd_config(config_opts);
        if (app.got_subcommand("lspci")) return cmd_lspci(lspci_opts);
        if (app.got_subcommand("dmabench")) return cmd_dmabench(bench_opts);
        return cmd_default();
    } catch (const core::config_error& e) {
        std::cerr << "iovsim: " << e.what() << '\n';
        return 2;
    } catch (const std::invalid_argument& e) {
        std::cerr << "iovsim: " << e.what() << '\n';
        return 2;
    } catch (const sc_core::sc_report& e) {
        std::cerr << "iovsim: simulation error: " << e.get_msg() << '\n';
        return 1;
    } catch (const std::exception& e) {
        std::cerr << "iovsim: " << e.what() << '\n';
        return 1;
    }
}

}  // namespace iovsim::platform

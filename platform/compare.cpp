#include "platform/compare.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>

#include "models/core/errors.h"
#include "models/core/trace_context.h"

extern char** environ;

namespace iovsim::platform {

namespace {

constexpr std::array<const char*, 4> modes = {"bare-metal", "emulation", "virtio", "passthrough"};

std::string self_exe() {
    std::error_code ec;
    const auto p = std::filesystem::read_symlink("/proc/self/exe", ec);
    if (ec) throw std::runtime_error("compare: cannot find the iovsim executable (/proc/self/exe)");
    return p.string();
}

// Runs `argv` with stdout and stderr into `log`; returns the exit status (or 128 + signal).
int run_child(const std::vector<std::string>& argv, const std::filesystem::path& log) {
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    pid_t pid = 0;
    const int rc = posix_spawn(&pid, args[0], &fa, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0)
        throw std::runtime_error(
            fmt::format("compare: cannot start {}: {}", argv[0], std::strerror(rc)));
    int status = 0;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) throw std::runtime_error("compare: waitpid failed");
    }
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

std::string read_text(const std::filesystem::path& p) {
    std::ifstream f(p);
    std::stringstream s;
    s << f.rdbuf();
    return s.str();
}

// The run's own message: its last line starting "iovsim: ", else its last line.
std::string message_of(const std::string& log) {
    std::istringstream in(log);
    std::string line, last, msg;
    while (std::getline(in, line)) {
        if (line.empty()) continue;
        last = line;
        if (line.rfind("iovsim: ", 0) == 0) msg = line.substr(8);
    }
    return msg.empty() ? last : msg;
}

const nlohmann::json* find(const nlohmann::json& j, const std::string& dotted) {
    const nlohmann::json* v = &j;
    std::size_t from = 0;
    for (;;) {
        const std::size_t dot = dotted.find('.', from);
        const std::string key = dotted.substr(from, dot - from);
        if (!v->is_object() || !v->contains(key)) return nullptr;
        v = &(*v)[key];
        if (dot == std::string::npos) return v;
        from = dot + 1;
    }
}

std::string cell(const nlohmann::json& stats, const std::string& key, double scale, int decimals) {
    if (stats.contains("error")) return "failed";
    const nlohmann::json* v = find(stats, key);
    if (!v || !v->is_number()) return "-";
    return fmt::format("{:.{}f}", v->get<double>() * scale, decimals);
}

void print_table(const nlohmann::json& all) {
    std::string out = fmt::format("{:<26}", "");
    for (const char* m : modes) out += fmt::format("{:>14}", m);
    out += '\n';
    const auto row = [&](const std::string& label, const std::string& key, double scale,
                         int decimals) {
        out += fmt::format("{:<26}", label);
        for (const char* m : modes)
            out += fmt::format("{:>14}", cell(all[m], key, scale, decimals));
        out += '\n';
    };
    row("RTT p50 (ns)", "latency_ns.rtt.p50", 1, 1);
    row("RTT p99 (ns)", "latency_ns.rtt.p99", 1, 1);
    row("throughput (kpackets/s)", "throughput.packets_per_s", 1e-3, 1);
    row("throughput (Gbit/s)", "throughput.gbps", 1, 3);
    row("VM exits per packet", "vm_exits.per_packet", 1, 2);
    out += "breakdown per round trip (ns):\n";
    for (std::size_t i = 0; i < core::stage_count; ++i) {
        const std::string stage = core::to_string(static_cast<core::stage>(i));
        const std::string key = "breakdown_ns." + stage;
        bool any = false;
        for (const char* m : modes) {
            const nlohmann::json* v = find(all[m], key);
            if (v && v->is_number() && v->get<double>() != 0) any = true;
        }
        if (any) row("  " + stage, key, 1, 1);
    }
    row("simulation (packets/wall-s)", "sim.packets_per_wall_s", 1, 0);
    std::cout << out;
}

}  // namespace

int run_compare(const compare_options& o) {
    const std::filesystem::path out = o.out;
    std::error_code ec;
    std::filesystem::create_directories(out, ec);
    if (ec)
        throw core::config_error(
            fmt::format("--out {}: cannot create directory ({})", o.out, ec.message()));
    const std::string exe = self_exe();
    nlohmann::json all = nlohmann::json::object();
    bool failed = false;
    std::string bad_input;  // the first run that rejected its input
    for (const char* mode : modes) {
        const std::filesystem::path dir = out / mode;
        std::filesystem::create_directories(dir, ec);
        std::vector<std::string> argv = {exe, "run"};
        if (!o.config.empty()) argv.push_back(o.config);
        for (const std::string& s : o.sets) {
            argv.push_back("--set");
            argv.push_back(s);
        }
        argv.push_back("--set");
        argv.push_back(std::string("vm.mode=") + mode);
        for (const std::string& key : o.vm_mode_keys) {
            argv.push_back("--set");
            argv.push_back(key + "=" + mode);
        }
        argv.push_back("--out");
        argv.push_back(dir.string());
        std::cerr << fmt::format("compare: running {}...\n", mode);
        const int rc = run_child(argv, dir / "run.log");
        const std::string log = read_text(dir / "run.log");
        if (rc == 2 && std::string(mode) == modes[0]) {
            // The input every mode shares is wrong: nothing else to run.
            std::filesystem::remove_all(dir);
            throw core::config_error(message_of(log));
        }
        if (rc == 2 && bad_input.empty())
            bad_input = fmt::format("{} (vm.mode {})", message_of(log), mode);
        if (rc != 0) {
            failed = true;
            all[mode] = {{"error", message_of(log)}};
            std::cerr << fmt::format("compare: {} failed: {}\n", mode, message_of(log));
            continue;
        }
        try {
            all[mode] = nlohmann::json::parse(read_text(dir / "stats.json"));
        } catch (const nlohmann::json::exception& e) {
            failed = true;
            all[mode] = {{"error", std::string("unreadable stats.json: ") + e.what()}};
        }
    }
    std::ofstream f(out / "compare.json");
    f << all.dump(2) << '\n';
    if (!f)
        throw std::runtime_error(fmt::format("cannot write {}", (out / "compare.json").string()));
    print_table(all);
    std::cout << fmt::format("wrote {}\n", (out / "compare.json").string());
    if (!bad_input.empty()) throw core::config_error(bad_input);
    return failed ? 1 : 0;
}

}  // namespace iovsim::platform

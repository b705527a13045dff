#include "platform/kernel_rate.h"

#include <fmt/format.h>
#include <spawn.h>
#include <sys/wait.h>
#include <tlm_utils/simple_initiator_socket.h>
#include <tlm_utils/simple_target_socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <systemc>
#include <tlm>

#include "models/core/errors.h"
#include "models/core/sc_glue.h"
#include "platform/host_platform.h"

extern char** environ;

namespace iovsim::platform {

namespace {

// The trivial target: copies the payload's bytes and adds its delay.
class yardstick_target : public sc_core::sc_module {
public:
    tlm_utils::simple_target_socket<yardstick_target> socket;

    yardstick_target(sc_core::sc_module_name name, std::uint32_t bytes, tick_t delay)
        : sc_module(name), socket("socket"), m_buffer(bytes), m_delay(to_sc_time(delay)) {
        socket.register_b_transport(this, &yardstick_target::b_transport);
    }
    std::uint64_t calls() const { return m_calls; }

private:
    void b_transport(tlm::tlm_generic_payload& t, sc_core::sc_time& delay) {
        ++m_calls;
        const std::size_t len = std::min<std::size_t>(t.get_data_length(), m_buffer.size());
        if (t.is_write())
            std::memcpy(m_buffer.data(), t.get_data_ptr(), len);
        else
            std::memcpy(t.get_data_ptr(), m_buffer.data(), len);
        delay += m_delay;
        t.set_response_status(tlm::TLM_OK_RESPONSE);
    }

    std::vector<unsigned char> m_buffer;
    sc_core::sc_time m_delay;
    std::uint64_t m_calls = 0;
};

// The loosely-timed initiator: the loop, timed by the wall clock, `repeat` times.
class yardstick_initiator : public sc_core::sc_module {
public:
    tlm_utils::simple_initiator_socket<yardstick_initiator> socket;

    yardstick_initiator(sc_core::sc_module_name name, const kernel_rate_config& c)
        : sc_module(name), socket("socket"), m_c(c), m_data(c.bytes), m_delay(to_sc_time(c.delay)) {
        for (std::size_t i = 0; i < m_data.size(); ++i) m_data[i] = static_cast<unsigned char>(i);
        SC_HAS_PROCESS(yardstick_initiator);
        SC_THREAD(thread);
    }
    const std::vector<double>& wall_s() const { return m_wall_s; }
    std::uint64_t waits() const { return m_waits; }
    std::uint64_t errors() const { return m_errors; }

private:
    void thread() {
        for (unsigned rep = 0; rep < m_c.repeat; ++rep) {
            const auto t0 = std::chrono::steady_clock::now();
            sc_core::sc_time local = sc_core::SC_ZERO_TIME;
            if (m_c.calls == 0) {
                for (std::uint64_t w = 0; w < m_c.waits; ++w) timed_wait(local);
            }
            wait_spreader spread(m_c.calls, m_c.waits);
            for (std::uint64_t i = 0; i < m_c.calls; ++i) {
                tlm::tlm_generic_payload t;
                t.set_command((i & 1) ? tlm::TLM_READ_COMMAND : tlm::TLM_WRITE_COMMAND);
                t.set_address(i * m_c.bytes);
                t.set_data_ptr(m_data.data());
                t.set_data_length(m_c.bytes);
                t.set_streaming_width(m_c.bytes);
                t.set_byte_enable_ptr(nullptr);
                t.set_dmi_allowed(false);
                t.set_response_status(tlm::TLM_INCOMPLETE_RESPONSE);
                socket->b_transport(t, local);
                if (!t.is_response_ok()) ++m_errors;
                for (std::uint64_t w = spread.after_call(); w > 0; --w) timed_wait(local);
            }
            m_wall_s.push_back(
                std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
        }
    }

    // A quantum keeper's sync: wait out the local time; the target's delay if none built up.
    void timed_wait(sc_core::sc_time& local) {
        ++m_waits;
        sc_core::wait(local == sc_core::SC_ZERO_TIME ? m_delay : local);
        local = sc_core::SC_ZERO_TIME;
    }

    kernel_rate_config m_c;
    std::vector<unsigned char> m_data;
    sc_core::sc_time m_delay;
    std::vector<double> m_wall_s;
    std::uint64_t m_waits = 0;
    std::uint64_t m_errors = 0;
};

std::string describe_status(int status) {
    if (WIFEXITED(status)) return fmt::format("exit status {}", WEXITSTATUS(status));
    if (WIFSIGNALED(status)) return fmt::format("killed by signal {}", WTERMSIG(status));
    return fmt::format("wait status {:#x}", status);
}

}  // namespace

kernel_work kernel_work_of(const host_platform& p) {
    kernel_work w;
    w.calls = p.cpu.transactions();
    w.waits = p.cpu.waits();
    if (p.endpoint) {
        w.calls += p.endpoint->requests_sent() + p.endpoint->msix_sent();
        w.waits += p.endpoint->waits();
    }
    return w;
}

kernel_work run_kernel_work(const host_platform& p, std::uint64_t own_deltas) {
    const auto& s = p.rc.stats();
    kernel_work w;
    w.calls = s.cpu_config_reads.value() + s.cpu_config_writes.value() + s.cpu_mmio_reads.value() +
              s.cpu_mmio_writes.value() + s.dma_reads.value() + s.dma_writes.value() +
              s.interrupt_messages.value();
    const std::uint64_t deltas = sc_core::sc_delta_count();
    w.waits = deltas > own_deltas ? deltas - own_deltas : 0;
    return w;
}

std::uint64_t wait_spreader::after_call() {
    if (m_calls == 0) return 0;
    // m_acc < N before the call; adding W and taking whole N's out gives floor((i+1)W/N) −
    // floor(iW/N) without forming i·W (no overflow for any N, W below 2^63).
    m_acc += m_waits;
    const std::uint64_t n = m_acc / m_calls;
    m_acc %= m_calls;
    return n;
}

double median(std::vector<double> v) {
    if (v.empty()) throw std::invalid_argument("median of no values");
    std::sort(v.begin(), v.end());
    const std::size_t mid = v.size() / 2;
    return v.size() % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

void validate(const kernel_rate_config& c) {
    if (c.calls == 0 && c.waits == 0)
        throw core::config_error("kernel-rate: --calls and --waits are both 0: nothing to measure");
    if (c.bytes == 0 || c.bytes > 65536)
        throw core::config_error(
            fmt::format("kernel-rate: --bytes {}: must be 1 to 65536", c.bytes));
    if (c.delay == 0)
        throw core::config_error("kernel-rate: --delay-ps 0: the target's delay must be above 0");
    if (c.repeat == 0 || c.repeat > 1000)
        throw core::config_error(
            fmt::format("kernel-rate: --repeat {}: must be 1 to 1000", c.repeat));
    if (c.calls >= (std::uint64_t{1} << 62) || c.waits >= (std::uint64_t{1} << 62))
        throw core::config_error("kernel-rate: --calls and --waits must be below 2^62");
}

kernel_rate_result run_kernel_rate(const kernel_rate_config& c) {
    validate(c);
    yardstick_initiator initiator("kernel_rate_initiator", c);
    yardstick_target target("kernel_rate_target", c.bytes, c.delay);
    initiator.socket.bind(target.socket);
    sc_core::sc_start();

    kernel_rate_result r;
    r.config = c;
    r.wall_s = initiator.wall_s();
    r.calls_made = target.calls();
    r.waits_made = initiator.waits();
    r.simulated_ns = ticks_to_ns(now_ticks());
    if (r.wall_s.size() != c.repeat || initiator.errors() != 0)
        throw std::runtime_error("kernel-rate: the loop did not complete");
    r.median_wall_s = median(r.wall_s);
    if (r.median_wall_s > 0) {
        r.calls_per_wall_s = static_cast<double>(c.calls) / r.median_wall_s;
        r.waits_per_wall_s = static_cast<double>(c.waits) / r.median_wall_s;
    }
    return r;
}

std::string kernel_rate_json(const kernel_rate_result& r) {
    nlohmann::json j;
    j["calls"] = r.config.calls;
    j["waits"] = r.config.waits;
    j["bytes"] = r.config.bytes;
    j["delay_ps"] = r.config.delay;
    j["repeat"] = r.config.repeat;
    j["wall_s"] = r.wall_s;
    j["median_wall_s"] = r.median_wall_s;
    j["calls_per_wall_s"] = r.calls_per_wall_s;
    j["waits_per_wall_s"] = r.waits_per_wall_s;
    j["calls_made"] = r.calls_made;
    j["waits_made"] = r.waits_made;
    j["simulated_ns"] = r.simulated_ns;
    return j.dump(2);
}

kernel_rate_result parse_kernel_rate_json(const std::string& text) {
    try {
        const nlohmann::json j = nlohmann::json::parse(text);
        kernel_rate_result r;
        r.config.calls = j.at("calls").get<std::uint64_t>();
        r.config.waits = j.at("waits").get<std::uint64_t>();
        r.config.bytes = j.at("bytes").get<std::uint32_t>();
        r.config.delay = j.at("delay_ps").get<tick_t>();
        r.config.repeat = j.at("repeat").get<unsigned>();
        r.wall_s = j.at("wall_s").get<std::vector<double>>();
        r.median_wall_s = j.at("median_wall_s").get<double>();
        r.calls_per_wall_s = j.at("calls_per_wall_s").get<double>();
        r.waits_per_wall_s = j.at("waits_per_wall_s").get<double>();
        r.calls_made = j.at("calls_made").get<std::uint64_t>();
        r.waits_made = j.at("waits_made").get<std::uint64_t>();
        r.simulated_ns = j.at("simulated_ns").get<double>();
        return r;
    } catch (const nlohmann::json::exception& e) {
        throw std::runtime_error(fmt::format("kernel-rate: unexpected output ({})", e.what()));
    }
}

std::vector<std::string> kernel_rate_args(const kernel_rate_config& c) {
    return {"kernel-rate",           "--calls",  std::to_string(c.calls), "--waits",
            std::to_string(c.waits), "--bytes",  std::to_string(c.bytes), "--delay-ps",
            std::to_string(c.delay), "--repeat", std::to_string(c.repeat)};
}

kernel_rate_result run_kernel_rate_child(const std::string& exe, const kernel_rate_config& c) {
    std::vector<std::string> args = kernel_rate_args(c);
    args.insert(args.begin(), exe);
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);

    int fds[2];
    if (pipe(fds) != 0)
        throw std::runtime_error(fmt::format("kernel-rate: pipe: {}", std::strerror(errno)));
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
    posix_spawn_file_actions_addclose(&actions, fds[0]);
    posix_spawn_file_actions_addclose(&actions, fds[1]);
    pid_t pid = 0;
    const int rc = posix_spawn(&pid, exe.c_str(), &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    close(fds[1]);
    if (rc != 0) {
        close(fds[0]);
        throw std::runtime_error(
            fmt::format("kernel-rate: cannot run {}: {}", exe, std::strerror(rc)));
    }

    std::string out;
    char buf[4096];
    for (;;) {
        const ssize_t n = read(fds[0], buf, sizeof buf);
        if (n > 0) {
            out.append(buf, static_cast<std::size_t>(n));
        } else if (n == 0 || errno != EINTR) {
            break;
        }
    }
    close(fds[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR)
            throw std::runtime_error(fmt::format("kernel-rate: waitpid: {}", std::strerror(errno)));
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        throw std::runtime_error(
            fmt::format("kernel-rate: {} failed ({})", exe, describe_status(status)));
    }
    return parse_kernel_rate_json(out);
}

std::string speed_line(const kernel_work& work, double run_wall_s, const kernel_rate_result& kernel,
                       const std::string& what) {
    const double calls = static_cast<double>(work.calls);
    const double run_rate = run_wall_s > 0 ? calls / run_wall_s : 0.0;
    const double ratio = run_wall_s > 0 ? kernel.median_wall_s / run_wall_s : 0.0;
    return fmt::format(
        "speed: {} {:.2f} M b_transport calls/s ({} calls and {} waits in {:.3f} s); raw "
        "SystemC kernel, same {} calls and {} waits: {:.2f} M calls/s (median of {}, {:.3f} s); "
        "{} runs at {:.2f}x the bare kernel",
        what, run_rate / 1e6, work.calls, work.waits, run_wall_s, kernel.config.calls,
        kernel.config.waits, kernel.calls_per_wall_s / 1e6, kernel.config.repeat,
        kernel.median_wall_s, what, ratio);
}

}  // namespace iovsim::platform

#include "platform/progress.h"

#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>

#include "models/core/sc_glue.h"

namespace iovsim::platform {

namespace {

std::string simulated_text(tick_t t) {
    if (t < ticks_per_ms) return fmt::format("{:.3f} us", static_cast<double>(t) / ticks_per_us);
    if (t < ticks_per_s) return fmt::format("{:.3f} ms", static_cast<double>(t) / ticks_per_ms);
    return fmt::format("{:.3f} s", static_cast<double>(t) / ticks_per_s);
}

}  // namespace

std::string progress_line(tick_t simulated, std::uint64_t packets, std::uint64_t total,
                          double wall_s) {
    const double rate = wall_s > 0 ? static_cast<double>(packets) / wall_s : 0.0;
    std::string count = fmt::format("{} packets", packets);
    // Whole percent, rounded down: 100% only once every packet is done.
    if (total > 0)
        count = fmt::format("{}/{} packets ({}%)", packets, total,
                            static_cast<std::uint64_t>(static_cast<double>(packets) * 100.0 /
                                                       static_cast<double>(total)));
    return fmt::format("progress: {} simulated, {}, {:.0f} packets/s", simulated_text(simulated),
                       count, rate);
}

progress_reporter::progress_reporter(sc_core::sc_module_name name,
                                     std::function<std::uint64_t()> completed,
                                     progress_options options)
    : sc_module(name),
      m_completed(std::move(completed)),
      m_options(std::move(options)),
      m_active(::isatty(m_options.fd) == 1),
      m_interval(to_sc_time(m_options.interval ? m_options.interval : progress_options{}.interval)),
      m_start(clock::now()),
      m_next_line(m_start) {
    if (!m_active) return;  // no process: the simulation is the one without the reporter
    SC_HAS_PROCESS(progress_reporter);
    SC_METHOD(wake);  // runs once at initialization, then as next_trigger() says
}

progress_reporter::~progress_reporter() { finish(); }

void progress_reporter::start_of_simulation() {
    m_start = clock::now();
    m_next_line = m_start + std::chrono::duration_cast<clock::duration>(
                                std::chrono::duration<double>(m_options.delay_s));
}

void progress_reporter::end_of_simulation() { finish(); }

void progress_reporter::wake() {
    ++m_wakes;
    if (m_finished || (m_options.done && m_options.done())) {
        finish();
        return;  // no next_trigger(): the method has no static sensitivity, so it never runs again
    }
    const clock::time_point now = clock::now();
    if (now >= m_next_line) {
        show(now);
        m_next_line = now + std::chrono::duration_cast<clock::duration>(
                                std::chrono::duration<double>(m_options.period_s));
    }
    // This process is running, so what is pending belongs to the others.
    if (sc_core::sc_pending_activity_at_future_time())
        next_trigger(m_interval);
    else if (sc_core::sc_pending_activity_at_current_time())
        next_trigger(sc_core::SC_ZERO_TIME);  // they may yet schedule something: look again
    else
        finish();  // nothing else will ever happen: let the kernel starve
}

void progress_reporter::show(clock::time_point now) {
    const double wall = std::chrono::duration<double>(now - m_start).count();
    const std::string text = progress_line(now_ticks(), m_completed(), m_options.total, wall);
    std::string s = "\r" + text;
    if (text.size() < m_shown) s.append(m_shown - text.size(), ' ');  // cover a longer line
    write_all(s);
    m_shown = text.size();
    ++m_lines;
}

void progress_reporter::finish() {
    if (m_finished) return;
    m_finished = true;
    if (m_shown > 0) write_all("\r" + std::string(m_shown, ' ') + "\r");
    m_shown = 0;
}

void progress_reporter::write_all(const std::string& s) {
    std::size_t done = 0;
    while (done < s.size()) {
        const ssize_t n = ::write(m_options.fd, s.data() + done, s.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return;  // the terminal went away: progress is not worth failing a run for
        done += static_cast<std::size_t>(n);
    }
}

}  // namespace iovsim::platform

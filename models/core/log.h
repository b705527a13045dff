// Per-module logging on fmt.
//
// Models: a level per module (error, warn, info, debug, trace), set from `--log MODULE=LEVEL`
// options; a message goes out when its level is at or above the module's verbosity. Modules are
// dotted names and inherit from their parents: `--log pcie=debug` also covers `pcie.link0`;
// `--log all=LEVEL` (or `*=LEVEL`) sets the default, which starts at warn. A message is written as
// one line "MODULE: LEVEL: text" to stderr, or to a sink installed for tests.
// Leaves out: simulated timestamps (the caller puts them in the text), files, rotation, and
// thread safety (a simulation runs on one OS thread).
#pragma once

#include <fmt/format.h>

#include <functional>
#include <string>
#include <string_view>
#include <utility>

namespace iovsim::core {

enum class log_level { error, warn, info, debug, trace };

std::string_view level_name(log_level level);

// Receives each formatted line, without a trailing newline.
using log_sink = std::function<void(std::string_view line)>;

// Applies one `--log MODULE=LEVEL` option; throws config_error naming the option for a missing
// '=', an empty or malformed module name, or an unknown level.
void apply_log_option(std::string_view module_eq_level);

void set_log_level(std::string_view module, log_level level);
void set_default_log_level(log_level level);

// Installs `sink`; an empty function restores stderr.
void set_log_sink(log_sink sink);

// Back to the start: default level warn, no per-module levels, stderr.
void reset_logging();

bool log_enabled(std::string_view module, log_level level);

void write_log(std::string_view module, log_level level, std::string_view message);

template <typename... Args>
void log(std::string_view module, log_level level, fmt::format_string<Args...> format,
         Args&&... args) {
    if (log_enabled(module, level))
        write_log(module, level, fmt::format(format, std::forward<Args>(args)...));
}

}  // namespace iovsim::core

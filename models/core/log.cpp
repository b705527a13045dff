#include "models/core/log.h"

#include <algorithm>
#include <cstdio>
#include <map>

#include "models/core/errors.h"

namespace iovsim::core {

namespace {

struct log_config {
    log_level default_level = log_level::warn;
    std::map<std::string, log_level, std::less<>> levels;
    log_sink sink;
};

log_config& config() {
    static log_config c;
    return c;
}

constexpr log_level all_levels[] = {log_level::error, log_level::warn, log_level::info,
                                    log_level::debug, log_level::trace};

bool valid_module(std::string_view m) {
    if (m.empty() || m.front() == '.' || m.back() == '.' || m.find("..") != std::string_view::npos)
        return false;
    return std::all_of(m.begin(), m.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '_' || c == '-' || c == '.';
    });
}

}  // namespace

std::string_view level_name(log_level level) {
    switch (level) {
        case log_level::error:
            return "error";
        case log_level::warn:
            return "warn";
        case log_level::info:
            return "info";
        case log_level::debug:
            return "debug";
        case log_level::trace:
            return "trace";
    }
    return "?";
}

void apply_log_option(std::string_view option) {
    const std::string where = "--log " + std::string(option);
    const std::size_t eq = option.find('=');
    if (eq == std::string_view::npos) throw config_error(where + ": expected MODULE=LEVEL");
    const std::string_view module = option.substr(0, eq);
    const std::string_view level_text = option.substr(eq + 1);
    const bool is_default = module == "all" || module == "*";
    if (!is_default && !valid_module(module))
        throw config_error(fmt::format("{}: malformed module name '{}'", where, module));
    for (const log_level level : all_levels) {
        if (level_name(level) != level_text) continue;
        if (is_default) {
            set_default_log_level(level);
        } else {
            set_log_level(module, level);
        }
        return;
    }
    throw config_error(fmt::format(
        "{}: unknown log level '{}' for module '{}' (expected error, warn, info, debug or trace)",
        where, level_text, module));
}

void set_log_level(std::string_view module, log_level level) {
    config().levels[std::string(module)] = level;
}

void set_default_log_level(log_level level) { config().default_level = level; }

void set_log_sink(log_sink sink) { config().sink = std::move(sink); }

void reset_logging() { config() = log_config{}; }

bool log_enabled(std::string_view module, log_level level) {
    const log_config& c = config();
    // The nearest configured ancestor: pcie.link0, then pcie, then the default.
    for (std::string_view m = module;;) {
        if (const auto it = c.levels.find(m); it != c.levels.end()) return level <= it->second;
        const std::size_t dot = m.rfind('.');
        if (dot == std::string_view::npos) break;
        m = m.substr(0, dot);
    }
    return level <= c.default_level;
}

void write_log(std::string_view module, log_level level, std::string_view message) {
    const std::string line = fmt::format("{}: {}: {}", module, level_name(level), message);
    const log_config& c = config();
    if (c.sink) {
        c.sink(line);
    } else {
        std::fprintf(stderr, "%s\n", line.c_str());
    }
}

}  // namespace iovsim::core

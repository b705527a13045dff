#include "models/core/params.h"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <optional>
#include <set>
#include <stdexcept>
#include <utility>

#include "models/core/errors.h"

namespace iovsim::core {

namespace {

using u128 = unsigned __int128;

// --- text helpers -------------------------------------------------------------------------------

std::string_view trim(std::string_view s) {
    const auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
    while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
    while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
    return s;
}

std::vector<std::string_view> split(std::string_view s, char sep) {
    std::vector<std::string_view> parts;
    std::size_t start = 0;
    for (;;) {
        const std::size_t pos = s.find(sep, start);
        parts.push_back(s.substr(start, pos == std::string_view::npos ? pos : pos - start));
        if (pos == std::string_view::npos) return parts;
        start = pos + 1;
    }
}

std::string join(const std::vector<std::string>& items, std::string_view sep) {
    std::string out;
    for (std::size_t i = 0; i < items.size(); ++i) {
        if (i) out += sep;
        out += items[i];
    }
    return out;
}

bool all_digits(std::string_view s) {
    return !s.empty() &&
           std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// A decimal index as a key segment: digits, no leading zero ("0", "2", "17").
bool is_index(std::string_view s) { return all_digits(s) && (s.size() == 1 || s[0] != '0'); }

std::string lower(std::string_view s) {
    std::string out(s);
    for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
    std::vector<std::size_t> row(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i) {
        std::size_t diag = row[0];
        row[0] = i;
        for (std::size_t j = 1; j <= b.size(); ++j) {
            const std::size_t up = row[j];
            row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] != b[j - 1] ? 1 : 0)});
            diag = up;
        }
    }
    return row[b.size()];
}

// --- kinds and units ----------------------------------------------------------------------------

bool is_list(param_kind k) {
    return k == param_kind::integer_list || k == param_kind::size_list ||
           k == param_kind::string_list || k == param_kind::enum_list;
}

param_kind element_kind(param_kind k) {
    switch (k) {
        case param_kind::integer_list:
            return param_kind::integer;
        case param_kind::size_list:
            return param_kind::size;
        case param_kind::string_list:
            return param_kind::string;
        case param_kind::enum_list:
            return param_kind::enumeration;
        default:
            return k;
    }
}

bool has_range(param_kind k) {
    switch (element_kind(k)) {
        case param_kind::integer:
        case param_kind::real:
        case param_kind::time:
        case param_kind::frequency:
        case param_kind::bandwidth:
        case param_kind::size:
            return true;
        default:
            return false;
    }
}

struct unit_def {
    std::string_view name;
    std::uint64_t factor;  // base units (ps, Hz, bps, B) per unit
};

// Largest first: canonical formatting walks these in order.
constexpr unit_def time_units[] = {{"s", ticks_per_s},
                                   {"ms", ticks_per_ms},
                                   {"us", ticks_per_us},
                                   {"ns", ticks_per_ns},
                                   {"ps", 1}};
constexpr unit_def frequency_units[] = {
    {"GHz", 1'000'000'000}, {"MHz", 1'000'000}, {"kHz", 1'000}, {"Hz", 1}};
constexpr unit_def bandwidth_units[] = {{"Tbps", 1'000'000'000'000},
                                        {"Gbps", 1'000'000'000},
                                        {"Mbps", 1'000'000},
                                        {"Kbps", 1'000},
                                        {"bps", 1}};
constexpr std::uint64_t kib = 1024;
constexpr unit_def size_units[] = {
    {"GiB", kib* kib* kib}, {"MiB", kib* kib}, {"KiB", kib},          {"G", kib* kib* kib},
    {"M", kib* kib},        {"K", kib},        {"GB", 1'000'000'000}, {"MB", 1'000'000},
    {"KB", 1'000},          {"B", 1}};
constexpr std::size_t size_canonical_units = 3;  // GiB, MiB, KiB; then B

template <std::size_t N>
std::optional<std::uint64_t> unit_factor(const unit_def (&table)[N], std::string_view name) {
    for (const unit_def& u : table)
        if (u.name == name) return u.factor;
    return std::nullopt;
}

std::optional<std::uint64_t> unit_factor(param_kind kind, std::string_view name) {
    switch (element_kind(kind)) {
        case param_kind::time:
            return unit_factor(time_units, name);
        case param_kind::frequency:
            return unit_factor(frequency_units, name);
        case param_kind::bandwidth:
            return unit_factor(bandwidth_units, name);
        case param_kind::size:
            return unit_factor(size_units, name);
        default:
            return std::nullopt;
    }
}

bool has_units(param_kind kind) {
    switch (element_kind(kind)) {
        case param_kind::time:
        case param_kind::frequency:
        case param_kind::bandwidth:
        case param_kind::size:
            return true;
        default:
            return false;
    }
}

std::string_view base_unit(param_kind kind) {
    switch (element_kind(kind)) {
        case param_kind::time:
            return "ps";
        case param_kind::frequency:
            return "Hz";
        case param_kind::bandwidth:
            return "bps";
        case param_kind::size:
            return "B";
        default:
            return "";
    }
}

// "a size (e.g. 256, 4K, 64KiB)": what a value of this kind looks like, for error messages.
std::string expectation(param_kind kind, const std::string& unit) {
    const std::string bare = "; a bare number is in " + unit;
    switch (element_kind(kind)) {
        case param_kind::integer:
            return "an integer (e.g. 8, -1, 0x100)";
        case param_kind::real:
            return "a number (e.g. 0.5, 2, 1e-3)";
        case param_kind::boolean:
            return "true or false";
        case param_kind::time:
            return "a time (e.g. 250ns, 1.5us" + bare + ")";
        case param_kind::frequency:
            return "a frequency (e.g. 3.0GHz, 100MHz" + bare + ")";
        case param_kind::bandwidth:
            return "a bandwidth (e.g. 25Gbps, 100Mbps" + bare + ")";
        case param_kind::size:
            return "a size (e.g. 256, 4K, 64KiB" + (unit == "B" ? std::string() : bare) + ")";
        default:
            return "a value";
    }
}

[[noreturn]] void bad_value(const param_decl& d, param_kind kind, std::string_view text) {
    throw config_error(
        fmt::format("{}: expected {}, got '{}'", d.name, expectation(kind, d.unit), text));
}

// --- exact decimal numbers ----------------------------------------------------------------------

// A non-negative decimal "12.5e3" as mantissa * 10^exp10, exactly.
struct decimal {
    u128 mantissa = 0;
    int exp10 = 0;
};

std::optional<decimal> parse_decimal(std::string_view s) {
    decimal d;
    std::size_t i = 0;
    std::size_t digits = 0;
    bool seen_point = false;
    for (; i < s.size(); ++i) {
        const char c = s[i];
        if (c == '.' && !seen_point) {
            seen_point = true;
        } else if (c >= '0' && c <= '9') {
            if (++digits > 36) return std::nullopt;
            d.mantissa = d.mantissa * 10 + static_cast<unsigned>(c - '0');
            if (seen_point) --d.exp10;
        } else {
            break;
        }
    }
    if (digits == 0) return std::nullopt;
    if (i < s.size()) {
        if (s[i] != 'e' && s[i] != 'E') return std::nullopt;
        int exp = 0;
        const char* first = s.data() + i + 1;
        if (first < s.data() + s.size() && *first == '+') ++first;
        const auto [ptr, ec] = std::from_chars(first, s.data() + s.size(), exp);
        if (ec != std::errc() || ptr != s.data() + s.size() || first == ptr) return std::nullopt;
        if (exp > 60 || exp < -60) return std::nullopt;
        d.exp10 += exp;
    }
    return d;
}

enum class scale_status { ok, fraction, overflow };

// mantissa * 10^exp10 * factor as an exact uint64.
scale_status scale_exact(decimal d, std::uint64_t factor, std::uint64_t& out) {
    u128 v = d.mantissa;
    if (v != 0 && factor > std::numeric_limits<u128>::max() / v) return scale_status::overflow;
    v *= factor;
    for (int e = d.exp10; e > 0; --e) {
        if (v > std::numeric_limits<u128>::max() / 10) return scale_status::overflow;
        v *= 10;
    }
    for (int e = d.exp10; e < 0; ++e) {
        if (v % 10 != 0) return scale_status::fraction;
        v /= 10;
    }
    if (v > std::numeric_limits<std::uint64_t>::max()) return scale_status::overflow;
    out = static_cast<std::uint64_t>(v);
    return scale_status::ok;
}

// Splits "250ns", "3.0 GHz", "0x1000" into number and unit (unit empty for a bare number).
std::pair<std::string_view, std::string_view> split_quantity(std::string_view s) {
    std::size_t i = 0;
    if (s.substr(0, 2) == "0x" || s.substr(0, 2) == "0X") {
        i = 2;
        while (i < s.size() && std::isxdigit(static_cast<unsigned char>(s[i]))) ++i;
    } else {
        while (i < s.size() && ((s[i] >= '0' && s[i] <= '9') || s[i] == '.')) ++i;
        // An exponent: 'e' followed by a digit or a sign (no unit starts with 'e').
        if (i < s.size() && (s[i] == 'e' || s[i] == 'E') && i + 1 < s.size() &&
            (std::isdigit(static_cast<unsigned char>(s[i + 1])) || s[i + 1] == '+' ||
             s[i + 1] == '-')) {
            i += 2;
            while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
        }
    }
    return {s.substr(0, i), trim(s.substr(i))};
}

std::optional<std::int64_t> parse_int(std::string_view s) {
    bool negative = false;
    if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
        negative = s[0] == '-';
        s.remove_prefix(1);
    }
    int base = 10;
    if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        s.remove_prefix(2);
    }
    std::uint64_t magnitude = 0;
    const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), magnitude, base);
    if (s.empty() || ec != std::errc() || ptr != s.data() + s.size()) return std::nullopt;
    constexpr auto max = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
    if (magnitude > max + (negative ? 1 : 0)) return std::nullopt;
    return negative ? static_cast<std::int64_t>(0 - magnitude)
                    : static_cast<std::int64_t>(magnitude);
}

std::optional<double> parse_real(std::string_view s) {
    if (!s.empty() && s[0] == '+') s.remove_prefix(1);
    double v = 0;
    const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (s.empty() || ec != std::errc() || ptr != s.data() + s.size() || !std::isfinite(v))
        return std::nullopt;
    return v;
}

// Parses a quantity in units of `kind`; integral kinds (time, size) must come out whole.
param_value parse_quantity(const param_decl& d, param_kind kind, std::string_view text) {
    const auto [number, unit_text] = split_quantity(text);
    const auto factor = unit_factor(kind, unit_text.empty() ? std::string_view(d.unit) : unit_text);
    if (number.empty() || !factor) bad_value(d, kind, text);
    std::optional<decimal> dec;
    if (number.size() > 2 && number[0] == '0' && (number[1] == 'x' || number[1] == 'X')) {
        const auto v = parse_int(number);
        if (!v) bad_value(d, kind, text);
        dec = decimal{static_cast<u128>(*v), 0};
    } else {
        dec = parse_decimal(number);
    }
    if (!dec) bad_value(d, kind, text);
    std::uint64_t exact = 0;
    const scale_status status = scale_exact(*dec, *factor, exact);
    const bool integral = kind == param_kind::time || kind == param_kind::size;
    if (status == scale_status::ok) {
        if (integral) return exact;
        return static_cast<double>(exact);
    }
    if (integral) {
        if (status == scale_status::fraction)
            throw config_error(fmt::format("{}: '{}' is not a whole number of {}", d.name, text,
                                           kind == param_kind::time ? "picoseconds" : "bytes"));
        throw config_error(fmt::format("{}: '{}' is too large", d.name, text));
    }
    const auto v = parse_real(number);
    if (!v) bad_value(d, kind, text);
    return *v * static_cast<double>(*factor);
}

// --- canonical text -----------------------------------------------------------------------------

// v / factor as an exact decimal: 1500 / 1000 -> "1.5".
std::string exact_ratio(std::uint64_t v, std::uint64_t factor) {
    std::string out = std::to_string(v / factor);
    std::uint64_t rest = v % factor;
    if (rest == 0) return out;
    out += '.';
    for (std::uint64_t f = factor / 10; rest != 0 && f != 0; f /= 10) {
        out += static_cast<char>('0' + rest / f);
        rest %= f;
    }
    return out;
}

template <std::size_t N>
std::string format_double_quantity(const param_decl& d, param_kind kind, double v,
                                   const unit_def (&table)[N]) {
    if (v == 0) return "0" + d.unit;
    for (const unit_def& u : table) {
        const double factor = static_cast<double>(u.factor);
        if (v < factor) continue;
        const std::string text = fmt::format("{}{}", v / factor, u.name);
        if (std::get<double>(parse_quantity(d, kind, text)) == v) return text;
    }
    return fmt::format("{}{}", v, table[N - 1].name);
}

std::string format_scalar(const param_decl& d, param_kind kind, const param_value& v) {
    switch (kind) {
        case param_kind::integer:
            return std::to_string(std::get<std::int64_t>(v));
        case param_kind::real:
            return fmt::format("{}", std::get<double>(v));
        case param_kind::boolean:
            return std::get<bool>(v) ? "true" : "false";
        case param_kind::string:
        case param_kind::enumeration:
            return std::get<std::string>(v);
        case param_kind::time: {
            const std::uint64_t ps = std::get<std::uint64_t>(v);
            if (ps == 0) return "0" + d.unit;
            // The largest unit that needs at most three decimals: 1500ps -> "1.5ns".
            for (const unit_def& u : time_units)
                if (ps >= u.factor && (u.factor <= 1000 || ps % (u.factor / 1000) == 0))
                    return exact_ratio(ps, u.factor) + std::string(u.name);
            return std::to_string(ps) + "ps";
        }
        case param_kind::frequency:
            return format_double_quantity(d, kind, std::get<double>(v), frequency_units);
        case param_kind::bandwidth:
            return format_double_quantity(d, kind, std::get<double>(v), bandwidth_units);
        case param_kind::size: {
            const std::uint64_t bytes = std::get<std::uint64_t>(v);
            if (bytes == 0) return "0" + d.unit;
            for (std::size_t i = 0; i < size_canonical_units; ++i)
                if (bytes % size_units[i].factor == 0)
                    return std::to_string(bytes / size_units[i].factor) +
                           std::string(size_units[i].name);
            return std::to_string(bytes) + "B";
        }
        default:
            throw std::logic_error("format_scalar: list kind");
    }
}

// --- validation ---------------------------------------------------------------------------------

// Parses one scalar of `kind` (the element kind for lists) and checks choices and range.
param_value parse_scalar(const param_decl& d, param_kind kind, std::string_view raw,
                         bool validate = true) {
    const std::string_view text = kind == param_kind::string ? raw : trim(raw);
    param_value v;
    switch (kind) {
        case param_kind::integer: {
            const auto i = parse_int(text);
            if (!i) bad_value(d, kind, text);
            v = *i;
            break;
        }
        case param_kind::real: {
            const auto r = parse_real(text);
            if (!r) bad_value(d, kind, text);
            v = *r;
            break;
        }
        case param_kind::boolean: {
            const std::string l = lower(text);
            if (l == "true" || l == "yes" || l == "on") {
                v = true;
            } else if (l == "false" || l == "no" || l == "off") {
                v = false;
            } else {
                bad_value(d, kind, text);
            }
            break;
        }
        case param_kind::string:
            v = std::string(text);
            break;
        case param_kind::enumeration:
            if (std::find(d.choices.begin(), d.choices.end(), text) == d.choices.end())
                throw config_error(fmt::format("{} must be one of {} (got '{}')", d.name,
                                               join(d.choices, ", "), text));
            v = std::string(text);
            break;
        default:
            v = parse_quantity(d, kind, text);
            break;
    }
    if (!validate) return v;

    if (kind == param_kind::integer && !d.choices.empty()) {
        const bool allowed = std::any_of(d.choices.begin(), d.choices.end(), [&](const auto& c) {
            return parse_int(trim(c)) == std::get<std::int64_t>(v);
        });
        if (!allowed)
            throw config_error(
                fmt::format("{} must be one of {} (got {})", d.name, join(d.choices, ", "), text));
    }
    if (has_range(kind) && (!d.min.empty() || !d.max.empty())) {
        const auto below = [&](const std::string& bound) {
            return !bound.empty() && v < parse_scalar(d, kind, bound, false);
        };
        const auto above = [&](const std::string& bound) {
            return !bound.empty() && parse_scalar(d, kind, bound, false) < v;
        };
        if (below(d.min) || above(d.max)) {
            std::string rule;
            if (d.max.empty()) {
                rule = "at least " + d.min;
            } else if (d.min.empty()) {
                rule = "at most " + d.max;
            } else {
                rule = "between " + d.min + " and " + d.max;
            }
            throw config_error(fmt::format("{} must be {} (got {})", d.name, rule, text));
        }
    }
    return v;
}

template <typename T>
std::vector<T> collect(const param_decl& d, param_kind kind,
                       const std::vector<std::string>& items) {
    std::vector<T> out;
    out.reserve(items.size());
    for (const std::string& item : items) out.push_back(std::get<T>(parse_scalar(d, kind, item)));
    return out;
}

// Name segments: lower-case letters, digits and '_', not all digits; or a single "*".
void check_name(const std::string& name) {
    const auto parts = split(name, '.');
    int stars = 0;
    for (std::size_t i = 0; i < parts.size(); ++i) {
        const std::string_view p = parts[i];
        if (p == "*") {
            if (i == 0) throw std::logic_error("parameter '" + name + "' starts with '*'");
            ++stars;
            continue;
        }
        const bool ok = !p.empty() && !all_digits(p) && std::all_of(p.begin(), p.end(), [](char c) {
            return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
        });
        if (!ok) throw std::logic_error("malformed parameter name '" + name + "'");
    }
    if (stars > 1) throw std::logic_error("parameter '" + name + "' has more than one '*'");
}

bool matches(std::string_view pattern, std::string_view key) {
    const auto p = split(pattern, '.');
    const auto k = split(key, '.');
    if (p.size() != k.size()) return false;
    for (std::size_t i = 0; i < p.size(); ++i)
        if (p[i] == "*" ? !is_index(k[i]) : p[i] != k[i]) return false;
    return true;
}

}  // namespace

std::string_view kind_name(param_kind kind) {
    switch (kind) {
        case param_kind::integer:
            return "integer";
        case param_kind::real:
            return "real";
        case param_kind::boolean:
            return "boolean";
        case param_kind::string:
            return "string";
        case param_kind::enumeration:
            return "enum";
        case param_kind::time:
            return "time";
        case param_kind::frequency:
            return "frequency";
        case param_kind::bandwidth:
            return "bandwidth";
        case param_kind::size:
            return "size";
        case param_kind::integer_list:
            return "integer_list";
        case param_kind::size_list:
            return "size_list";
        case param_kind::string_list:
            return "string_list";
        case param_kind::enum_list:
            return "enum_list";
    }
    return "?";
}

// --- param_registry -----------------------------------------------------------------------------

const param_decl& param_registry::declare(param_decl d) {
    check_name(d.name);
    if (m_by_name.count(d.name))
        throw std::logic_error("parameter '" + d.name + "' declared twice");
    for (const param_decl& other : m_decls) {
        const std::string& a = other.name.size() < d.name.size() ? other.name : d.name;
        const std::string& b = other.name.size() < d.name.size() ? d.name : other.name;
        if (b.compare(0, a.size() + 1, a + ".") == 0)
            throw std::logic_error("parameter '" + a + "' is a prefix of '" + b + "'");
    }
    const auto fail = [&](const std::string& why) {
        throw std::logic_error("declaration of '" + d.name + "': " + why);
    };
    if (has_units(d.kind)) {
        if (d.unit.empty()) d.unit = base_unit(d.kind);
        if (!unit_factor(d.kind, d.unit)) fail("unit '" + d.unit + "' is not a unit of its kind");
    }
    const param_kind elem = element_kind(d.kind);
    if (elem == param_kind::enumeration && d.choices.empty()) fail("an enum needs choices");
    if (elem != param_kind::enumeration && elem != param_kind::integer && !d.choices.empty())
        fail("only enums and integers take choices");
    if (!has_range(d.kind) && (!d.min.empty() || !d.max.empty()))
        fail("only numeric kinds take min and max");
    if (!is_list(d.kind) && d.min_items != 0) fail("only lists take min_items");
    try {
        for (const std::string& c : d.choices)
            if (elem == param_kind::integer) parse_scalar(d, elem, c, false);
        if (!d.min.empty()) parse_scalar(d, elem, d.min, false);
        if (!d.max.empty()) parse_scalar(d, elem, d.max, false);
        parse(d, d.default_value);
    } catch (const config_error& e) {
        fail(e.what());
    }
    m_by_name.emplace(d.name, m_decls.size());
    if (d.name.find('*') != std::string::npos) m_patterns.push_back(m_decls.size());
    m_decls.push_back(std::move(d));
    return m_decls.back();
}

const param_decl* param_registry::find(std::string_view key) const {
    if (const auto it = m_by_name.find(key); it != m_by_name.end()) return &m_decls[it->second];
    for (const std::size_t i : m_patterns)
        if (matches(m_decls[i].name, key)) return &m_decls[i];
    return nullptr;
}

std::vector<const param_decl*> param_registry::sorted() const {
    std::vector<const param_decl*> out;
    for (const param_decl& d : m_decls) out.push_back(&d);
    std::sort(out.begin(), out.end(), [](auto* a, auto* b) { return a->name < b->name; });
    return out;
}

nlohmann::json param_registry::to_json(bool sorted_by_name) const {
    nlohmann::json out = nlohmann::json::array();
    std::vector<const param_decl*> decls = sorted();
    if (!sorted_by_name) {
        decls.clear();
        for (const param_decl& d : m_decls) decls.push_back(&d);
    }
    for (const param_decl* d : decls) {
        nlohmann::json j = {{"name", d->name},
                            {"kind", kind_name(d->kind)},
                            {"default", d->default_value},
                            {"unit", d->unit},
                            {"description", d->description}};
        if (!d->choices.empty()) j["choices"] = d->choices;
        if (!d->min.empty()) j["min"] = d->min;
        if (!d->max.empty()) j["max"] = d->max;
        if (d->min_items != 0) j["min_items"] = d->min_items;
        out.push_back(std::move(j));
    }
    return out;
}

param_value param_registry::parse(const param_decl& d, std::string_view text) const {
    if (!is_list(d.kind)) return parse_scalar(d, d.kind, text);
    std::string_view inner = trim(text);
    if (!inner.empty() && inner.front() == '[') {
        if (inner.back() != ']')
            throw config_error(fmt::format("{}: unterminated list '{}'", d.name, text));
        inner = trim(inner.substr(1, inner.size() - 2));
    }
    std::vector<std::string> items;
    if (!inner.empty())
        for (const std::string_view item : split(inner, ',')) items.emplace_back(trim(item));
    return parse_list(d, items);
}

param_value param_registry::parse_list(const param_decl& d,
                                       const std::vector<std::string>& items) const {
    const param_kind elem = element_kind(d.kind);
    for (const std::string& item : items)
        if (trim(item).empty() && elem != param_kind::string)
            throw config_error(fmt::format("{}: empty element in list", d.name));
    if (items.size() < d.min_items) {
        if (d.min_items == 1)
            throw config_error(fmt::format("{} must not be an empty list", d.name));
        throw config_error(fmt::format("{} must have at least {} elements (got {})", d.name,
                                       d.min_items, items.size()));
    }
    switch (d.kind) {
        case param_kind::integer_list:
            return collect<std::int64_t>(d, elem, items);
        case param_kind::size_list:
            return collect<std::uint64_t>(d, elem, items);
        case param_kind::string_list:
        case param_kind::enum_list:
            return collect<std::string>(d, elem, items);
        default:
            throw std::logic_error("parse_list: '" + d.name + "' is not a list");
    }
}

std::string param_registry::format(const param_decl& d, const param_value& value) const {
    if (!is_list(d.kind)) return format_scalar(d, d.kind, value);
    const param_kind elem = element_kind(d.kind);
    std::vector<std::string> items;
    std::visit(
        [&](const auto& v) {
            using T = std::decay_t<decltype(v)>;
            if constexpr (std::is_same_v<T, std::vector<std::int64_t>> ||
                          std::is_same_v<T, std::vector<std::uint64_t>> ||
                          std::is_same_v<T, std::vector<std::string>>) {
                for (const auto& x : v) items.push_back(format_scalar(d, elem, x));
            }
        },
        value);
    return "[" + join(items, ", ") + "]";
}

std::string param_registry::suggest(std::string_view key) const {
    const auto key_parts = split(key, '.');
    std::string best;
    std::size_t best_distance = std::max<std::size_t>(2, key.size() / 4) + 1;
    for (const param_decl& d : m_decls) {
        std::string candidate = d.name;
        // For a pattern, compare with the user's own index in place of '*'.
        auto parts = split(d.name, '.');
        if (parts.size() == key_parts.size()) {
            candidate.clear();
            for (std::size_t i = 0; i < parts.size(); ++i) {
                if (i) candidate += '.';
                candidate += parts[i] == "*" && is_index(key_parts[i]) ? key_parts[i] : parts[i];
            }
        }
        const std::size_t distance = edit_distance(key, candidate);
        if (distance < best_distance) {
            best_distance = distance;
            best = candidate;
        }
    }
    return best;
}

bool param_registry::is_group(std::string_view prefix) const {
    const std::string dotted = std::string(prefix) + ".";
    for (const param_decl& d : m_decls)
        if (d.name.compare(0, dotted.size(), dotted) == 0) return true;
    return false;
}

bool param_registry::is_indexed_prefix(std::string_view prefix) const {
    const std::string stem = std::string(prefix) + ".*";
    for (const std::size_t i : m_patterns) {
        const std::string& n = m_decls[i].name;
        if (n.compare(0, stem.size(), stem) == 0 &&
            (n.size() == stem.size() || n[stem.size()] == '.'))
            return true;
    }
    return false;
}

void declare_sim_params(param_registry& r) {
    r.declare(param_decl("sim.seed", param_kind::integer, "1", "",
                         "Seed of every random number stream in the simulation.")
                  .with_min("0"));
    r.declare(param_decl("sim.quantum", param_kind::time, "0ns", "ns",
                         "Global TLM quantum; 0ns synchronizes at every transaction."));
    r.declare(param_decl("sim.max_time", param_kind::time, "0ns", "ns",
                         "Simulated time at which a run stops; 0ns means no limit."));
}

// --- param_tree ---------------------------------------------------------------------------------

struct param_tree::pending {
    std::string key;
    std::string where;   // prefix of an error message: "cfg.yaml:3" or "--set a.b=1"
    std::string source;  // what source() reports: "cfg.yaml:3" or "--set"
    bool from_sequence = false;
    std::vector<std::string> items;  // the text of a scalar, or a YAML sequence's elements
    int line = 0;                    // a file's line of the key that set it; 0 for --set
};

param_tree::param_tree(const param_registry& registry) : m_registry(registry) {}

const param_decl& param_tree::settable_decl(const std::string& key,
                                            const std::string& where) const {
    const param_decl* d = key.find('*') == std::string::npos ? m_registry.find(key) : nullptr;
    if (!d) {
        const std::string hint = m_registry.suggest(key);
        throw config_error(fmt::format("{}: unknown key '{}'{}", where, key,
                                       hint.empty() ? "" : " (did you mean '" + hint + "'?)"));
    }
    return *d;
}

void param_tree::load_file(const std::string& path) {
    std::FILE* f = std::fopen(path.c_str(), "rb");
    if (!f)
        throw config_error(
            fmt::format("{}: cannot open configuration file ({})", path, std::strerror(errno)));
    std::string text;
    char buf[4096];
    std::size_t n = 0;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) text.append(buf, n);
    const bool failed = std::ferror(f);
    const int err = errno;
    std::fclose(f);
    if (failed)
        throw config_error(
            fmt::format("{}: cannot read configuration file ({})", path, std::strerror(err)));
    load_yaml_text(text, path);
}

namespace {

// The 1-based line of the `---` that starts the document whose first node is on 0-based line
// `content_line` (the closest such marker at or above it, not past a `...` end marker); the
// content's own line if there is none (a bare document after `...`).
int document_start_line(const std::string& text, int content_line) {
    const auto lines = split(text, '\n');
    const auto marker = [&](int i, std::string_view m) {
        const std::string_view l = lines[static_cast<std::size_t>(i)];
        return l.compare(0, 3, m) == 0 &&
               (l.size() == 3 || l[3] == ' ' || l[3] == '\t' || l[3] == '\r');
    };
    for (int i = std::min(content_line, static_cast<int>(lines.size()) - 1); i >= 0; --i) {
        if (marker(i, "---")) return i + 1;
        if (marker(i, "...")) break;
    }
    return content_line + 1;
}

}  // namespace

void param_tree::load_yaml_text(const std::string& text, const std::string& origin) {
    std::vector<YAML::Node> docs;
    try {
        docs = YAML::LoadAll(text);
    } catch (const YAML::Exception& e) {
        throw config_error(fmt::format("{}:{}: malformed YAML: {}", origin,
                                       e.mark.is_null() ? 1 : e.mark.line + 1, e.msg));
    }
    if (docs.size() > 1) {
        // Only the first document would be read: refuse rather than ignore the rest.
        const int line =
            document_start_line(text, docs[1].Mark().is_null() ? 0 : docs[1].Mark().line);
        throw config_error(fmt::format(
            "{}:{}: a second YAML document ('---'): a configuration file holds one document",
            origin, line));
    }
    if (docs.empty() || docs[0].IsNull()) return;
    const YAML::Node& root = docs[0];
    if (!root.IsMap())
        throw config_error(fmt::format("{}:{}: expected a map of parameters at the top level",
                                       origin, root.Mark().line + 1));
    std::vector<pending> values;
    flatten(root, "", 1, origin, values);
    // The per-map check in flatten() catches `gen:` twice in one map; a key may also be spelled
    // twice in different maps (`pcie: {lanes: 4}` and a top-level `pcie.lanes: 8`, or a `vms`
    // sequence and `vms.0.mode`). Either way the file sets it twice: refuse, naming both lines.
    std::map<std::string, int, std::less<>> first_line;
    for (const pending& p : values) {
        const auto [it, fresh] = first_line.emplace(p.key, p.line);
        if (!fresh) {
            throw config_error(fmt::format("{}:{}: duplicate key '{}' (first set on line {})",
                                           origin, p.line, p.key, it->second));
        }
    }
    apply(values);
}

void param_tree::flatten(const YAML::Node& node, const std::string& path, int key_line,
                         const std::string& origin, std::vector<pending>& out) const {
    const int line = node.Mark().is_null() ? key_line : node.Mark().line + 1;
    const std::string where = fmt::format("{}:{}", origin, line);
    const param_decl* d = path.find('*') == std::string::npos ? m_registry.find(path) : nullptr;
    if (node.IsMap()) {
        if (d)
            throw config_error(
                fmt::format("{}:{}: {}: expected a value, got a map", origin, key_line, path));
        std::map<std::string, int> seen;  // key -> line: YAML forbids duplicate keys
        for (const auto& kv : node) {
            const int k_line = kv.first.Mark().is_null() ? line : kv.first.Mark().line + 1;
            const std::string k = kv.first.IsScalar() ? kv.first.Scalar() : "";
            if (k.empty())
                throw config_error(fmt::format("{}:{}: expected a key name", origin, k_line));
            const auto [it, fresh] = seen.emplace(k, k_line);
            if (!fresh) {
                throw config_error(fmt::format("{}:{}: duplicate key '{}' (first set on line {})",
                                               origin, k_line, path.empty() ? k : path + "." + k,
                                               it->second));
            }
            flatten(kv.second, path.empty() ? k : path + "." + k, k_line, origin, out);
        }
    } else if (node.IsSequence()) {
        if (d && is_list(d->kind)) {
            pending p{path, where, where, true, {}, key_line};
            for (const auto& item : node) {
                if (!item.IsScalar())
                    throw config_error(
                        fmt::format("{}: {}: expected a list of values", where, path));
                p.items.push_back(item.Scalar());
            }
            out.push_back(std::move(p));
        } else if (d) {
            throw config_error(fmt::format("{}:{}: {}: expected a single value, got a list", origin,
                                           key_line, path));
        } else if (m_registry.is_indexed_prefix(path)) {
            for (std::size_t i = 0; i < node.size(); ++i)
                flatten(node[i], path + "." + std::to_string(i), line, origin, out);
        } else {
            settable_decl(path, fmt::format("{}:{}", origin, key_line));  // throws: unknown key
        }
    } else {
        // A null value (`key:`) has no position of its own: report the key's line.
        const std::string key_where = fmt::format("{}:{}", origin, key_line);
        if (!d && !path.empty() && m_registry.is_group(path)) {
            throw config_error(fmt::format("{}: '{}' is a group of parameters ({}.…), not a value",
                                           key_where, path, path));
        }
        settable_decl(path, key_where);
        if (node.IsNull()) {
            out.push_back({path, key_where, key_where, false, {""}, key_line});
        } else {
            out.push_back({path, where, where, false, {node.Scalar()}, key_line});
        }
    }
}

void param_tree::set(const std::string& key_eq_value) {
    const std::string where = "--set " + key_eq_value;
    const std::size_t eq = key_eq_value.find('=');
    const std::string key(trim(std::string_view(key_eq_value).substr(0, eq)));
    if (eq == std::string::npos || key.empty()) throw config_error(where + ": expected key=value");
    settable_decl(key, where);
    apply({{key, where, "--set", false, {key_eq_value.substr(eq + 1)}}});
}

void param_tree::apply(const std::vector<pending>& values) {
    std::vector<std::pair<std::string, entry>> parsed;
    for (const pending& p : values) {
        // Messages name the key as the user wrote it ("vms.2.mode", not "vms.*.mode").
        param_decl d = settable_decl(p.key, p.where);
        d.name = p.key;
        try {
            parsed.emplace_back(p.key, entry{p.from_sequence ? m_registry.parse_list(d, p.items)
                                                             : m_registry.parse(d, p.items.at(0)),
                                             p.source});
        } catch (const config_error& e) {
            throw config_error(p.where + ": " + e.what());
        }
    }
    for (auto& [key, e] : parsed) m_values[key] = std::move(e);
}

const param_decl& param_tree::decl_of(std::string_view key, param_kind a, param_kind b) const {
    const param_decl* d = m_registry.find(key);
    if (!d) throw std::logic_error(fmt::format("undeclared parameter '{}'", key));
    if (d->kind != a && d->kind != b)
        throw std::logic_error(fmt::format("parameter '{}' is of kind {}, not {}", key,
                                           kind_name(d->kind), kind_name(a)));
    return *d;
}

param_value param_tree::value_of(std::string_view key, const param_decl& d) const {
    if (const auto it = m_values.find(key); it != m_values.end()) return it->second.value;
    return m_registry.parse(d, d.default_value);
}

std::int64_t param_tree::get_int(std::string_view key) const {
    const auto& d = decl_of(key, param_kind::integer, param_kind::integer);
    return std::get<std::int64_t>(value_of(key, d));
}

double param_tree::get_real(std::string_view key) const {
    const auto& d = decl_of(key, param_kind::real, param_kind::real);
    return std::get<double>(value_of(key, d));
}

bool param_tree::get_bool(std::string_view key) const {
    const auto& d = decl_of(key, param_kind::boolean, param_kind::boolean);
    return std::get<bool>(value_of(key, d));
}

std::string param_tree::get_string(std::string_view key) const {
    const auto& d = decl_of(key, param_kind::string, param_kind::enumeration);
    return std::get<std::string>(value_of(key, d));
}

tick_t param_tree::get_time(std::string_view key) const {
    const auto& d = decl_of(key, param_kind::time, param_kind::time);
    return std::get<std::uint64_t>(value_of(key, d));
}

double param_tree::get_hz(std::string_view key) const {
    const auto& d = decl_of(key, param_kind::frequency, param_kind::frequency);
    return std::get<double>(value_of(key, d));
}

double param_tree::get_bps(std::string_view key) const {
    const auto& d = decl_of(key, param_kind::bandwidth, param_kind::bandwidth);
    return std::get<double>(value_of(key, d));
}

std::uint64_t param_tree::get_bytes(std::string_view key) const {
    const auto& d = decl_of(key, param_kind::size, param_kind::size);
    return std::get<std::uint64_t>(value_of(key, d));
}

std::vector<std::int64_t> param_tree::get_int_list(std::string_view key) const {
    const auto& d = decl_of(key, param_kind::integer_list, param_kind::integer_list);
    return std::get<std::vector<std::int64_t>>(value_of(key, d));
}

std::vector<std::uint64_t> param_tree::get_bytes_list(std::string_view key) const {
    const auto& d = decl_of(key, param_kind::size_list, param_kind::size_list);
    return std::get<std::vector<std::uint64_t>>(value_of(key, d));
}

std::vector<std::string> param_tree::get_string_list(std::string_view key) const {
    const auto& d = decl_of(key, param_kind::string_list, param_kind::enum_list);
    return std::get<std::vector<std::string>>(value_of(key, d));
}

bool param_tree::is_set(std::string_view key) const {
    if (!m_registry.find(key))
        throw std::logic_error(fmt::format("undeclared parameter '{}'", key));
    return m_values.find(key) != m_values.end();
}

std::string param_tree::source(std::string_view key) const {
    if (!m_registry.find(key))
        throw std::logic_error(fmt::format("undeclared parameter '{}'", key));
    const auto it = m_values.find(key);
    return it == m_values.end() ? "default" : it->second.source;
}

std::vector<std::size_t> param_tree::indices(std::string_view prefix) const {
    const std::string stem = std::string(prefix) + ".";
    std::set<std::size_t> found;
    for (auto it = m_values.lower_bound(stem); it != m_values.end(); ++it) {
        const std::string& key = it->first;
        if (key.compare(0, stem.size(), stem) != 0) break;
        const std::string_view segment = split(std::string_view(key).substr(stem.size()), '.')[0];
        if (is_index(segment)) found.insert(std::stoul(std::string(segment)));
    }
    return {found.begin(), found.end()};
}

namespace {

// A node of the YAML output: a map of children in insertion order, or a leaf.
struct yaml_out {
    std::string key;
    std::vector<yaml_out> children;
    bool leaf = false;
    bool is_list = false;
    std::vector<std::string> values;  // one text for a scalar; the elements of a list
};

// Text that a plain YAML scalar would turn into null (and so not read back as itself).
void emit_text(YAML::Emitter& out, const std::string& text) {
    const std::string l = lower(text);
    if (text.empty() || text == "~" || l == "null") out << YAML::DoubleQuoted;
    out << text;
}

yaml_out& child(yaml_out& parent, const std::string& key) {
    for (yaml_out& c : parent.children)
        if (c.key == key) return c;
    parent.children.push_back({key, {}, false, false, {}});
    return parent.children.back();
}

void emit(YAML::Emitter& out, const yaml_out& n) {
    if (n.leaf) {
        if (n.is_list) {
            out << YAML::Flow << YAML::BeginSeq;
            for (const std::string& v : n.values) emit_text(out, v);
            out << YAML::EndSeq;
        } else {
            emit_text(out, n.values[0]);
        }
        return;
    }
    bool sequence = !n.children.empty();
    for (std::size_t i = 0; i < n.children.size(); ++i)
        sequence = sequence && n.children[i].key == std::to_string(i);
    out << (sequence ? YAML::BeginSeq : YAML::BeginMap);
    for (const yaml_out& c : n.children) {
        if (!sequence) out << YAML::Key << c.key << YAML::Value;
        emit(out, c);
    }
    out << (sequence ? YAML::EndSeq : YAML::EndMap);
}

}  // namespace

std::string param_tree::to_yaml() const {
    yaml_out root;
    const auto add = [&](const std::string& key, const param_decl& d) {
        yaml_out* n = &root;
        for (const std::string_view part : split(key, '.')) n = &child(*n, std::string(part));
        n->leaf = true;
        const param_value v = value_of(key, d);
        n->is_list = is_list(d.kind);
        if (n->is_list) {
            const param_kind elem = element_kind(d.kind);
            std::visit(
                [&](const auto& xs) {
                    using T = std::decay_t<decltype(xs)>;
                    if constexpr (std::is_same_v<T, std::vector<std::int64_t>> ||
                                  std::is_same_v<T, std::vector<std::uint64_t>> ||
                                  std::is_same_v<T, std::vector<std::string>>) {
                        for (const auto& x : xs) n->values.push_back(format_scalar(d, elem, x));
                    }
                },
                v);
        } else {
            n->values.push_back(m_registry.format(d, v));
        }
    };
    for (const param_decl& d : m_registry.all()) {
        const std::size_t star = d.name.find('*');
        if (star == std::string::npos) {
            add(d.name, d);
            continue;
        }
        const std::string prefix = d.name.substr(0, star - 1);
        const std::string suffix = d.name.substr(star + 1);
        for (const std::size_t i : indices(prefix))
            add(prefix + "." + std::to_string(i) + suffix, d);
    }
    YAML::Emitter out;
    if (root.children.empty()) return "{}\n";
    emit(out, root);
    return std::string(out.c_str()) + "\n";
}

}  // namespace iovsim::core

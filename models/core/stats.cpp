#include "models/core/stats.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <variant>

namespace iovsim::core {

namespace {

nlohmann::json finite_or_null(double v) {
    return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr);
}

bool valid_segment_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
}

void check_name(const std::string& name) {
    bool segment_empty = true;
    for (char c : name) {
        if (c == '.') {
            if (segment_empty) break;
            segment_empty = true;
        } else if (valid_segment_char(c)) {
            segment_empty = false;
        } else {
            throw std::invalid_argument("statistic name '" + name + "': invalid character '" +
                                        std::string(1, c) + "'");
        }
    }
    if (segment_empty) {
        throw std::invalid_argument("statistic name '" + name + "': empty segment");
    }
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// histogram

void histogram::sample(double v) {
    if (std::isnan(v)) throw std::invalid_argument("histogram sample is NaN");
    if (m_sorted && !m_samples.empty() && v < m_samples.back()) m_sorted = false;
    m_samples.push_back(v);
    m_sum += v;
}

void histogram::merge(const histogram& other) {
    for (const double v : other.m_samples) sample(v);
}

void histogram::sort() const {
    if (!m_sorted) {
        std::sort(m_samples.begin(), m_samples.end());
        m_sorted = true;
    }
}

double histogram::mean() const {
    return m_samples.empty() ? 0.0 : m_sum / static_cast<double>(m_samples.size());
}

double histogram::min() const {
    if (m_samples.empty()) return 0.0;
    sort();
    return m_samples.front();
}

double histogram::max() const {
    if (m_samples.empty()) return 0.0;
    sort();
    return m_samples.back();
}

double histogram::percentile(double q) const {
    if (!(q >= 0.0 && q <= 1.0)) {
        throw std::invalid_argument("percentile " + std::to_string(q) + " outside [0, 1]");
    }
    if (m_samples.empty()) return 0.0;
    sort();
    // rank = ceil(q * N) in exact integer arithmetic, q in parts per million.
    const auto ppm = static_cast<unsigned __int128>(std::llround(q * 1e6));
    const auto n = static_cast<unsigned __int128>(m_samples.size());
    auto rank = static_cast<std::size_t>((ppm * n + 999'999) / 1'000'000);
    rank = std::max<std::size_t>(rank, 1);
    return m_samples[rank - 1];
}

nlohmann::json histogram::to_json() const {
    nlohmann::json j;
    j["count"] = count();
    if (m_samples.empty()) {
        for (const char* k : {"mean", "min", "p50", "p90", "p99", "p999", "max"}) j[k] = nullptr;
        return j;
    }
    j["mean"] = finite_or_null(mean());
    j["min"] = min();
    j["p50"] = percentile(0.5);
    j["p90"] = percentile(0.9);
    j["p99"] = percentile(0.99);
    j["p999"] = percentile(0.999);
    j["max"] = max();
    return j;
}

void histogram::reset() {
    m_samples.clear();
    m_sorted = true;
    m_sum = 0.0;
}

// ---------------------------------------------------------------------------------------------
// stats_registry

const char* to_string(stat_kind k) {
    switch (k) {
        case stat_kind::counter:
            return "counter";
        case stat_kind::histogram:
            return "histogram";
        case stat_kind::formula:
            return "formula";
        case stat_kind::value:
            return "value";
    }
    return "unknown";
}

struct stats_registry::entry {
    stat_kind kind;
    std::string unit;
    std::string description;
    std::unique_ptr<counter> owned_counter;
    const counter* counter_ptr = nullptr;
    std::unique_ptr<histogram> owned_histogram;
    const histogram* histogram_ptr = nullptr;
    std::function<double()> formula;
    std::variant<double, std::string> value;
};

stats_registry::stats_registry() = default;
stats_registry::~stats_registry() = default;

stats_registry::entry& stats_registry::add(const std::string& name, stat_kind kind,
                                           const std::string& unit,
                                           const std::string& description) {
    check_name(name);
    if (m_entries.count(name) != 0) {
        throw std::logic_error("statistic '" + name + "' registered twice");
    }
    // An existing statistic that is a dotted prefix of `name`.
    for (std::size_t dot = name.find('.'); dot != std::string::npos;
         dot = name.find('.', dot + 1)) {
        const std::string prefix = name.substr(0, dot);
        if (m_entries.count(prefix) != 0) {
            throw std::logic_error("statistic '" + name + "' would nest under statistic '" +
                                   prefix + "'");
        }
    }
    // An existing statistic that `name` is a dotted prefix of: the first name after "name."
    // in sort order starts with "name." if any does.
    const std::string as_prefix = name + ".";
    auto it = m_entries.lower_bound(as_prefix);
    if (it != m_entries.end() && it->first.compare(0, as_prefix.size(), as_prefix) == 0) {
        throw std::logic_error("statistic '" + name + "' is a prefix of statistic '" + it->first +
                               "'");
    }
    auto e = std::make_unique<entry>();
    e->kind = kind;
    e->unit = unit;
    e->description = description;
    entry& ref = *e;
    m_entries.emplace(name, std::move(e));
    return ref;
}

counter& stats_registry::add_counter(const std::string& name, const std::string& unit,
                                     const std::string& description) {
    entry& e = add(name, stat_kind::counter, unit, description);
    e.owned_counter = std::make_unique<counter>();
    e.counter_ptr = e.owned_counter.get();
    return *e.owned_counter;
}

histogram& stats_registry::add_histogram(const std::string& name, const std::string& unit,
                                         const std::string& description) {
    entry& e = add(name, stat_kind::histogram, unit, description);
    e.owned_histogram = std::make_unique<histogram>();
    e.histogram_ptr = e.owned_histogram.get();
    return *e.owned_histogram;
}

void stats_registry::add_counter(const std::string& name, const std::string& unit,
                                 const std::string& description, const counter& c) {
    add(name, stat_kind::counter, unit, description).counter_ptr = &c;
}

void stats_registry::add_histogram(const std::string& name, const std::string& unit,
                                   const std::string& description, const histogram& h) {
    add(name, stat_kind::histogram, unit, description).histogram_ptr = &h;
}

void stats_registry::add_formula(const std::string& name, const std::string& unit,
                                 const std::string& description, std::function<double()> f) {
    if (!f) throw std::invalid_argument("formula '" + name + "' is empty");
    add(name, stat_kind::formula, unit, description).formula = std::move(f);
}

void stats_registry::add_value(const std::string& name, const std::string& unit,
                               const std::string& description, double v) {
    add(name, stat_kind::value, unit, description).value = v;
}

void stats_registry::add_value(const std::string& name, const std::string& unit,
                               const std::string& description, const std::string& v) {
    add(name, stat_kind::value, unit, description).value = v;
}

stats_registry::entry& stats_registry::find_value(const std::string& name) {
    auto it = m_entries.find(name);
    if (it == m_entries.end() || it->second->kind != stat_kind::value) {
        throw std::logic_error("statistic '" + name + "' is not a registered value");
    }
    return *it->second;
}

void stats_registry::set_value(const std::string& name, double v) { find_value(name).value = v; }

void stats_registry::set_value(const std::string& name, const std::string& v) {
    find_value(name).value = v;
}

bool stats_registry::contains(const std::string& name) const { return m_entries.count(name) != 0; }

std::vector<stat_description> stats_registry::describe() const {
    std::vector<stat_description> out;
    out.reserve(m_entries.size());
    for (const auto& [name, e] : m_entries) {
        out.push_back({name, e->kind, e->unit, e->description});
    }
    return out;
}

nlohmann::json stats_registry::to_json() const {
    nlohmann::json root = nlohmann::json::object();
    for (const auto& [name, e] : m_entries) {
        nlohmann::json* node = &root;
        std::size_t start = 0;
        for (std::size_t dot = name.find('.'); dot != std::string::npos;
             dot = name.find('.', start)) {
            node = &(*node)[name.substr(start, dot - start)];
            start = dot + 1;
        }
        nlohmann::json& leaf = (*node)[name.substr(start)];
        switch (e->kind) {
            case stat_kind::counter:
                leaf = e->counter_ptr->value();
                break;
            case stat_kind::histogram:
                leaf = e->histogram_ptr->to_json();
                break;
            case stat_kind::formula:
                leaf = finite_or_null(e->formula());
                break;
            case stat_kind::value:
                if (const double* d = std::get_if<double>(&e->value)) {
                    leaf = finite_or_null(*d);
                } else {
                    leaf = std::get<std::string>(e->value);
                }
                break;
        }
    }
    return root;
}

void stats_registry::write_json(const std::string& path) const {
    const std::string text = to_json().dump(2) + "\n";
    std::ofstream out(path);
    if (!out) throw std::runtime_error("cannot open '" + path + "' for writing");
    out << text;
    out.close();
    if (!out) throw std::runtime_error("cannot write '" + path + "'");
}

}  // namespace iovsim::core

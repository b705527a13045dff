// Statistics, in the spirit of gem5's ADD_STAT: models register counters, histograms, formulas
// and plain values under hierarchical dotted names ("iommu.iotlb.hits"), each with a unit and a
// one-sentence description; the registry dumps them as nested JSON (stats.json, DESIGN.md §8)
// and describes them for the documentation page.
//
// Naming: a dotted name of segments made of letters, digits, '_' and '-'. No name may be a
// dotted prefix of another ("a.b" and "a.b.c" cannot both exist: "a.b" would have to be a number
// and an object at once), and no name may be registered twice; both are std::logic_error at
// registration. Statistics that depend on the machine running the simulation (wall-clock time,
// rates per wall-second, host memory) carry "wall" in their name or live under "sim.host"; every
// other statistic is a pure function of the configuration and the seed. Nothing enforces this.
//
// Histograms keep every sample, so their percentiles are exact (no bins). Percentiles use the
// nearest-rank definition: the q-percentile of N samples is the smallest sample x such that at
// least q*N samples are <= x, i.e. the sample of rank ceil(q*N) (1-based) in ascending order,
// rank at least 1. For 1..1000: p50 = 500, p90 = 900, p99 = 990, p999 = 999, p100 = 1000.
// An empty histogram reports count 0 and null for every other field.
//
// Formulas are evaluated when the registry is dumped. A formula or value that is not finite
// (0/0, x/0, NaN) is written as null: a hit rate over zero lookups is null, not 0.
//
// Leaves out: binned distributions, per-interval dumps and statistics reset; thread safety.
// No timing: plain bookkeeping.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

namespace iovsim::core {

class counter {
public:
    void inc(std::uint64_t n = 1) { m_value += n; }
    std::uint64_t value() const { return m_value; }
    void reset() { m_value = 0; }

private:
    std::uint64_t m_value = 0;
};

// Every sample kept; percentiles exact (nearest rank, see the file comment).
class histogram {
public:
    void sample(double v);
    // Every sample of `other` added (several receivers' latencies as one).
    void merge(const histogram& other);

    std::uint64_t count() const { return m_samples.size(); }
    double sum() const { return m_sum; }
    // mean, min, max and percentile return 0 for an empty histogram.
    double mean() const;
    double min() const;
    double max() const;
    // Nearest-rank percentile, q in [0, 1] (0.5 is the median, 0.999 is p99.9); q is taken to
    // parts per million, so 0.999 of 1000 samples is rank 999 exactly. q outside [0, 1]:
    // std::invalid_argument.
    double percentile(double q) const;

    // {"count", "mean", "min", "p50", "p90", "p99", "p999", "max"}; null fields when empty.
    nlohmann::json to_json() const;
    void reset();

private:
    void sort() const;

    mutable std::vector<double> m_samples;
    mutable bool m_sorted = true;
    double m_sum = 0.0;
};

enum class stat_kind : std::uint8_t { counter, histogram, formula, value };
const char* to_string(stat_kind k);

// One row of the documentation page.
struct stat_description {
    std::string name;
    stat_kind kind;
    std::string unit;
    std::string description;
};

class stats_registry {
public:
    stats_registry();
    ~stats_registry();
    stats_registry(const stats_registry&) = delete;
    stats_registry& operator=(const stats_registry&) = delete;

    // Owned by the registry: the reference stays valid as long as the registry.
    counter& add_counter(const std::string& name, const std::string& unit,
                         const std::string& description);
    histogram& add_histogram(const std::string& name, const std::string& unit,
                             const std::string& description);
    // Owned by the model (a model's stats struct): it must outlive every dump.
    void add_counter(const std::string& name, const std::string& unit,
                     const std::string& description, const counter& c);
    void add_histogram(const std::string& name, const std::string& unit,
                       const std::string& description, const histogram& h);
    // Evaluated at every dump; whatever it reads must outlive every dump.
    void add_formula(const std::string& name, const std::string& unit,
                     const std::string& description, std::function<double()> f);
    // Plain values ("sim.version" = "0.1.0", "sim.wall_s" = 1.25); set_value changes a value
    // registered earlier (std::logic_error if `name` is not a registered value).
    void add_value(const std::string& name, const std::string& unit, const std::string& description,
                   double v);
    void add_value(const std::string& name, const std::string& unit, const std::string& description,
                   const std::string& v);
    void set_value(const std::string& name, double v);
    void set_value(const std::string& name, const std::string& v);

    bool contains(const std::string& name) const;
    std::size_t size() const { return m_entries.size(); }

    // Sorted by name.
    std::vector<stat_description> describe() const;
    // Nested objects: "latency_ns.rtt" (a histogram) becomes {"latency_ns": {"rtt": {...}}}.
    nlohmann::json to_json() const;
    // to_json() pretty-printed to `path`; std::runtime_error naming the path if it can't be
    // written.
    void write_json(const std::string& path) const;

private:
    struct entry;
    entry& add(const std::string& name, stat_kind kind, const std::string& unit,
               const std::string& description);
    entry& find_value(const std::string& name);

    std::map<std::string, std::unique_ptr<entry>> m_entries;
};

}  // namespace iovsim::core

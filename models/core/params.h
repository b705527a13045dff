// The parameter tree: every configurable value of a simulation, declared once and resolved from
// defaults, a YAML file and --set options (later wins).
//
// Models: a registry of declarations (dotted name, kind, default as a user writes it, unit, one
// sentence, validation) and a tree of resolved values read by typed getters. Values carry their
// units as users write them (`250ns`, `3.0GHz`, `25Gbps`, `64KiB`, `4K`); a bare number is in
// the parameter's declared unit; names carry no units. A name may hold one `*` segment standing
// for a decimal index, so a list of per-instance maps (`vms.*.mode`) is set as `vms.2.mode` or
// as a YAML sequence under `vms`.
// Leaves out: several `*` segments in one name; expressions; environment variables; quoting or
// escaping commas inside one element of a --set list.
// Units and resolution: time is exact integer picoseconds (a value that is not a whole number of
// picoseconds is an error); sizes are exact integer bytes (K, M, G, KiB, MiB, GiB are binary;
// KB, MB, GB decimal); frequency (Hz) and bandwidth (bits per second, decimal prefixes) are
// doubles, exact whenever the value is a whole number of Hz or bps.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "models/core/units.h"

namespace YAML {
class Node;
}

namespace iovsim::core {

enum class param_kind {
    integer,      // signed count, decimal or 0x-hex; `unit` is a free-text noun ("entries")
    real,         // plain number; `unit` is free text
    boolean,      // true/false (also yes/no, on/off)
    string,       // any text
    enumeration,  // one of `choices`
    time,         // ps, ns, us, ms, s
    frequency,    // Hz, kHz, MHz, GHz
    bandwidth,    // bps, Kbps, Mbps, Gbps, Tbps
    size,         // B; K, KiB, M, MiB, G, GiB (binary); KB, MB, GB (decimal)
    integer_list,
    size_list,
    string_list,
    enum_list,
};

// Name of a kind as `iovsim params` shows it: "integer", "time", "size_list", ...
std::string_view kind_name(param_kind kind);

struct param_decl {
    param_decl() = default;
    param_decl(std::string name_, param_kind kind_, std::string default_value_, std::string unit_,
               std::string description_)
        : name(std::move(name_)),
          kind(kind_),
          default_value(std::move(default_value_)),
          unit(std::move(unit_)),
          description(std::move(description_)) {}

    // Validation, chained: param_decl(...).with_min("1").with_choices({"1", "2", "4"}).
    param_decl& with_min(std::string v) {
        min = std::move(v);
        return *this;
    }
    param_decl& with_max(std::string v) {
        max = std::move(v);
        return *this;
    }
    param_decl& with_choices(std::vector<std::string> v) {
        choices = std::move(v);
        return *this;
    }
    // Lists only: the fewest elements a value may have (1: the list must not be empty).
    param_decl& with_min_items(std::size_t n) {
        min_items = n;
        return *this;
    }

    std::string name;  // dotted, e.g. "pcie.lanes"; one segment may be "*" (a decimal index)
    param_kind kind = param_kind::integer;
    std::string default_value;  // as a user writes it: "0ns", "3.0GHz", "8", "[64, 4K]"
    std::string unit;           // unit of a bare number ("ns", "GHz", "B"); for integer/real a noun
    std::string description;    // one sentence
    std::string min;            // inclusive bound written as a value ("1", "64B"); empty: none
    std::string max;
    std::vector<std::string> choices;  // required for enums; optional allowed integers
    std::size_t min_items = 0;         // lists: fewest elements allowed; 0: any, even none
};

// A parsed value in base units: integer -> int64_t, real/frequency/bandwidth -> double (Hz,
// bps), boolean -> bool, string/enum -> string, time -> uint64_t ps, size -> uint64_t bytes;
// lists -> vectors of the same.
using param_value =
    std::variant<bool, std::int64_t, double, std::uint64_t, std::string, std::vector<std::int64_t>,
                 std::vector<std::uint64_t>, std::vector<std::string>>;

class param_registry {
public:
    // Declares a parameter; throws std::logic_error for a malformed name, a duplicate, a name that
    // is a prefix of another, an unknown unit, min_items on a kind that is not a list, or a
    // default that does not satisfy its own validation. The reference stays valid until the next
    // declare().
    const param_decl& declare(param_decl decl);

    // The declaration for a concrete key ("vms.2.mode" finds "vms.*.mode"), or nullptr.
    const param_decl* find(std::string_view key) const;

    const std::vector<param_decl>& all() const { return m_decls; }  // declaration order
    std::vector<const param_decl*> sorted() const;                  // by name

    // One JSON object per declaration: name, kind, default, unit, description, and choices /
    // min / max / min_items where declared; sorted by name, or in declaration order.
    nlohmann::json to_json(bool sorted_by_name = true) const;

    // Parses `text` (a --set value or YAML scalar) as a value of `decl`; list kinds accept
    // "a,b,c" or "[a, b, c]". Throws config_error "<name>: ..." (no origin) on a bad value.
    param_value parse(const param_decl& decl, std::string_view text) const;
    param_value parse_list(const param_decl& decl, const std::vector<std::string>& items) const;

    // Canonical text of a value, with units ("250ns", "3GHz", "64KiB", "[64B, 4KiB]"); parsing
    // it back gives the same value.
    std::string format(const param_decl& decl, const param_value& value) const;

    // The declared name closest to `key` by edit distance, or "" if none is close.
    std::string suggest(std::string_view key) const;

    // True if some declared key starts with `prefix.` (e.g. "pcie" for pcie.lanes).
    bool is_group(std::string_view prefix) const;
    // True if some pattern declaration starts with `prefix` followed by ".*".
    bool is_indexed_prefix(std::string_view prefix) const;

private:
    std::vector<param_decl> m_decls;
    std::map<std::string, std::size_t, std::less<>> m_by_name;
    std::vector<std::size_t> m_patterns;  // indices of declarations with a "*" segment
};

// The simulation-wide parameters: sim.seed, sim.quantum, sim.max_time.
void declare_sim_params(param_registry& registry);

class param_tree {
public:
    // `registry` must outlive the tree.
    explicit param_tree(const param_registry& registry);

    // Sources, applied in call order (later wins). Errors throw config_error prefixed with
    // "file:line: " or "--set key=value: "; a failing source changes nothing. A file holds one
    // YAML document (a second one, after `---`, is an error) and sets each key at most once,
    // however it is spelled (`pcie: {lanes: 4}` and `pcie.lanes: 8` are the same key).
    void load_file(const std::string& path);
    void load_yaml_text(const std::string& text, const std::string& origin);
    void set(const std::string& key_eq_value);

    // Resolved values. Throw std::logic_error for an undeclared key or a kind mismatch.
    std::int64_t get_int(std::string_view key) const;
    double get_real(std::string_view key) const;
    bool get_bool(std::string_view key) const;
    std::string get_string(std::string_view key) const;  // string or enum
    tick_t get_time(std::string_view key) const;         // picoseconds
    double get_hz(std::string_view key) const;
    double get_bps(std::string_view key) const;
    std::uint64_t get_bytes(std::string_view key) const;
    std::vector<std::int64_t> get_int_list(std::string_view key) const;
    std::vector<std::uint64_t> get_bytes_list(std::string_view key) const;
    std::vector<std::string> get_string_list(std::string_view key) const;  // string or enum

    bool is_set(std::string_view key) const;         // set by a file or --set, not a default
    std::string source(std::string_view key) const;  // "default", "cfg.yaml:3" or "--set"

    // The indices set under a pattern prefix: indices("vms") is {0, 2} after vms.0.mode and
    // vms.2.vcpus were set. Sorted, without duplicates.
    std::vector<std::size_t> indices(std::string_view prefix) const;

    // Every declared parameter (and every set instance of a pattern) as nested YAML in canonical
    // text; loading it back as a file reproduces identical values.
    std::string to_yaml() const;

    const param_registry& registry() const { return m_registry; }

private:
    struct entry {
        param_value value;
        std::string source;
    };
    struct pending;  // one value from a source, not yet parsed

    void flatten(const YAML::Node& node, const std::string& path, int key_line,
                 const std::string& origin, std::vector<pending>& out) const;
    void apply(const std::vector<pending>& values);
    const param_decl& settable_decl(const std::string& key, const std::string& where) const;
    const param_decl& decl_of(std::string_view key, param_kind a, param_kind b) const;
    param_value value_of(std::string_view key, const param_decl& decl) const;

    const param_registry& m_registry;
    std::map<std::string, entry, std::less<>> m_values;
};

}  // namespace iovsim::core

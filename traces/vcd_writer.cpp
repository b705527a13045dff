#include "traces/vcd_writer.h"

#include <cctype>
#include <fstream>
#include <memory>
#include <ostream>
#include <stdexcept>
#include <unordered_set>
#include <variant>

namespace iovsim::traces {

namespace {

constexpr char first_id_char = '!';   // 33
constexpr std::size_t id_radix = 94;  // '!'..'~' (33..126)

std::vector<std::string> split_dotted(const std::string& name) {
    std::vector<std::string> parts;
    std::string::size_type start = 0;
    for (;;) {
        const auto dot = name.find('.', start);
        parts.push_back(name.substr(start, dot - start));
        if (dot == std::string::npos) break;
        start = dot + 1;
    }
    return parts;
}

bool has_glob(const std::string& pattern) {
    return pattern.find_first_of("*?") != std::string::npos;
}

// Whole-string glob: '*' any run (dots included), '?' one character.
bool glob_match(const char* p, const char* s) {
    const char* star = nullptr;
    const char* resume = nullptr;
    while (*s != '\0') {
        if (*p == '*') {
            star = p++;
            resume = s;
        } else if (*p == '?' || *p == *s) {
            ++p;
            ++s;
        } else if (star != nullptr) {
            p = star + 1;
            s = ++resume;
        } else {
            return false;
        }
    }
    while (*p == '*') ++p;
    return *p == '\0';
}

// The scope tree of the declared names: each node lists, in first-appearance order, its
// variables and its child scopes.
struct scope_node {
    std::string name;
    struct item {
        bool is_var;
        std::size_t index;  // into m_vars or into children
    };
    std::vector<item> items;
    std::vector<std::unique_ptr<scope_node>> children;

    scope_node& child(const std::string& n) {
        for (auto& c : children) {
            if (c->name == n) return *c;
        }
        children.push_back(std::make_unique<scope_node>());
        children.back()->name = n;
        items.push_back({false, children.size() - 1});
        return *children.back();
    }
};

}  // namespace

std::string vcd_identifier(std::size_t index) {
    std::string id;
    do {
        id += static_cast<char>(first_id_char + index % id_radix);
        index /= id_radix;
    } while (index-- != 0);
    return id;
}

bool signal_selected(const std::vector<std::string>& patterns, const std::string& name) {
    if (patterns.empty()) return true;
    for (const auto& p : patterns) {
        if (has_glob(p)) {
            if (glob_match(p.c_str(), name.c_str())) return true;
        } else if (name.compare(0, p.size(), p) == 0 &&
                   (name.size() == p.size() || name[p.size()] == '.')) {
            return true;
        }
    }
    return false;
}

vcd_writer::vcd_writer(std::ostream& out, vcd_header header)
    : m_out(out), m_header(std::move(header)) {}

std::size_t vcd_writer::declare(const std::string& name, unsigned width, std::uint64_t initial) {
    if (m_phase != phase::declaring) {
        throw std::logic_error("VCD variable '" + name + "' declared after $enddefinitions");
    }
    if (width < 1 || width > 64) {
        throw std::invalid_argument("VCD variable '" + name + "': width " + std::to_string(width) +
                                    " outside 1..64 bits");
    }
    for (const auto& part : split_dotted(name)) {
        if (part.empty()) {
            throw std::invalid_argument("VCD variable name '" + name +
                                        "' has an empty dotted component");
        }
    }
    for (const char c : name) {
        if (std::isspace(static_cast<unsigned char>(c)) ||
            !std::isprint(static_cast<unsigned char>(c))) {
            throw std::invalid_argument("VCD variable name '" + name +
                                        "' contains white space or an unprintable character");
        }
    }
    for (const auto& v : m_vars) {
        if (v.name == name) throw std::logic_error("VCD variable '" + name + "' declared twice");
    }
    if (width < 64 && (initial >> width) != 0) {
        throw std::logic_error("VCD variable '" + name + "': initial value " +
                               std::to_string(initial) + " does not fit " + std::to_string(width) +
                               " bits");
    }
    const std::size_t index = m_vars.size();
    m_vars.push_back({name, width, vcd_identifier(index), initial, initial, false});
    return index;
}

void vcd_writer::end_definitions() {
    if (m_phase != phase::declaring) throw std::logic_error("VCD $enddefinitions written twice");
    if (!m_header.date.empty()) m_out << "$date\n    " << m_header.date << "\n$end\n";
    m_out << "$version\n    " << m_header.version << "\n$end\n";
    m_out << "$timescale\n    1ps\n$end\n";

    scope_node root;
    std::vector<std::string> leaf(m_vars.size());
    for (std::size_t i = 0; i < m_vars.size(); ++i) {
        auto parts = split_dotted(m_vars[i].name);
        scope_node* node = &root;
        for (std::size_t k = 0; k + 1 < parts.size(); ++k) node = &node->child(parts[k]);
        node->items.push_back({true, i});
        leaf[i] = parts.back();
    }
    // Depth-first, iteratively over an explicit stack of (node, next item).
    std::vector<std::pair<const scope_node*, std::size_t>> stack{{&root, 0}};
    while (!stack.empty()) {
        auto& [node, next] = stack.back();
        if (next == node->items.size()) {
            if (stack.size() > 1) m_out << "$upscope $end\n";
            stack.pop_back();
            continue;
        }
        const auto item = node->items[next++];
        if (item.is_var) {
            const var& v = m_vars[item.index];
            m_out << "$var wire " << v.width << ' ' << v.id << ' ' << leaf[item.index] << " $end\n";
        } else {
            const scope_node* child = node->children[item.index].get();
            m_out << "$scope module " << child->name << " $end\n";
            stack.emplace_back(child, 0);
        }
    }
    m_out << "$enddefinitions $end\n";
    m_phase = phase::dumping;
    m_time = 0;
}

void vcd_writer::change(tick_t time, std::size_t index, std::uint64_t value) {
    if (m_phase != phase::dumping) {
        throw std::logic_error(m_phase == phase::declaring
                                   ? "VCD value change before $enddefinitions"
                                   : "VCD value change after finish()");
    }
    if (index >= m_vars.size()) {
        throw std::logic_error("VCD variable index " + std::to_string(index) + " not declared");
    }
    var& v = m_vars[index];
    if (v.width < 64 && (value >> v.width) != 0) {
        throw std::logic_error("VCD variable '" + v.name + "': value " + std::to_string(value) +
                               " does not fit " + std::to_string(v.width) + " bits");
    }
    if (time < m_time) {
        throw std::logic_error("VCD variable '" + v.name + "' changed at " + std::to_string(time) +
                               " ps, before the current time " + std::to_string(m_time) + " ps");
    }
    if (time > m_time) {
        flush();
        m_time = time;
    }
    v.pending = value;
    if (!v.dirty) {
        v.dirty = true;
        m_dirty.push_back(index);
    }
}

void vcd_writer::write_value(const var& v, std::uint64_t value) {
    if (v.width == 1) {
        m_out << (value != 0 ? '1' : '0') << v.id << '\n';
        return;
    }
    char bits[64];
    int n = 0;
    do {
        bits[n++] = static_cast<char>('0' + (value & 1));
        value >>= 1;
    } while (value != 0);
    m_out << 'b';
    while (n > 0) m_out << bits[--n];
    m_out << ' ' << v.id << '\n';
}

void vcd_writer::flush() {
    if (!m_dumpvars_written) {
        // The first timestamp is always #0 and holds every variable's value.
        m_out << "#0\n$dumpvars\n";
        for (auto& v : m_vars) {
            v.value = v.pending;
            v.dirty = false;
            write_value(v, v.value);
        }
        m_out << "$end\n";
        m_dirty.clear();
        m_dumpvars_written = true;
        m_last_written = 0;
        return;
    }
    bool stamped = false;
    for (const std::size_t i : m_dirty) {
        var& v = m_vars[i];
        v.dirty = false;
        if (v.pending == v.value) continue;
        if (!stamped) {
            m_out << '#' << m_time << '\n';
            m_last_written = m_time;
            stamped = true;
        }
        v.value = v.pending;
        write_value(v, v.value);
    }
    m_dirty.clear();
}

void vcd_writer::finish(tick_t end_time) {
    if (m_phase == phase::declaring) end_definitions();
    if (m_phase == phase::finished) throw std::logic_error("VCD finish() called twice");
    flush();
    if (end_time > m_last_written) m_out << '#' << end_time << '\n';
    m_out.flush();
    m_phase = phase::finished;
}

void write_vcd(const trace_buffer& buffer, std::ostream& out, const vcd_options& options) {
    vcd_writer w(out, options.header);
    constexpr std::size_t not_written = static_cast<std::size_t>(-1);
    std::vector<std::size_t> var_of(buffer.signals().size(), not_written);
    for (const auto& s : buffer.signals()) {
        if (signal_selected(options.signals, s.name)) var_of[s.id] = w.declare(s.name, s.width);
    }
    w.end_definitions();
    for (const auto& e : buffer.sorted()) {
        const auto* c = std::get_if<signal_change>(&e);
        if (c == nullptr || var_of[c->signal] == not_written) continue;
        w.change(c->time, var_of[c->signal], c->value);
    }
    w.finish(options.end_time);
}

void write_vcd_file(const trace_buffer& buffer, const std::string& path,
                    const vcd_options& options) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    if (!out) throw std::runtime_error("cannot open '" + path + "' to write a VCD");
    write_vcd(buffer, out, options);
    out.close();
    if (!out) throw std::runtime_error("cannot write the VCD to '" + path + "'");
}

}  // namespace iovsim::traces

#include "traces/vcd_check.h"

#include <cctype>
#include <fstream>
#include <istream>
#include <sstream>
#include <unordered_map>

namespace iovsim::traces {

namespace {

constexpr std::size_t max_errors = 100;

class tokenizer {
public:
    explicit tokenizer(std::istream& in) : m_in(in) {}

    // The next white-space separated token; false at the end of the input.
    bool next(std::string& token) {
        token.clear();
        int c;
        while ((c = m_in.get()) != EOF && std::isspace(c)) {
            if (c == '\n') ++m_line;
        }
        if (c == EOF) return false;
        m_token_line = m_line;
        for (;;) {
            token += static_cast<char>(c);
            c = m_in.peek();
            if (c == EOF || std::isspace(c)) break;
            m_in.get();
        }
        return true;
    }
    std::size_t line() const { return m_token_line; }

private:
    std::istream& m_in;
    std::size_t m_line = 1;
    std::size_t m_token_line = 1;
};

bool parse_unsigned(const std::string& s, std::uint64_t& out) {
    if (s.empty() || s.size() > 20) return false;
    std::uint64_t v = 0;
    for (const char c : s) {
        if (c < '0' || c > '9') return false;
        const std::uint64_t d = static_cast<std::uint64_t>(c - '0');
        if (v > (~std::uint64_t{0} - d) / 10) return false;
        v = v * 10 + d;
    }
    out = v;
    return true;
}

bool is_scalar_digit(char c) {
    return c == '0' || c == '1' || c == 'x' || c == 'X' || c == 'z' || c == 'Z';
}

class checker {
public:
    explicit checker(std::istream& in) : m_tok(in) {}

    vcd_summary run() {
        std::string t;
        while (m_tok.next(t)) {
            if (!m_in_body) {
                header_token(t);
            } else {
                body_token(t);
            }
        }
        if (!m_in_body) {
            error_at_end("no $enddefinitions: the header never ends");
        } else if (m_open_dump_block) {
            error_at_end("a " + m_dump_block + " block is not closed with $end");
        }
        return std::move(m_summary);
    }

private:
    struct var_info {
        unsigned width;
        bool real;
    };

    void error(const std::string& what) { error_line(m_tok.line(), what); }
    void error_at_end(const std::string& what) { error_line(m_tok.line(), what); }
    void error_line(std::size_t line, const std::string& what) {
        if (m_summary.errors.size() < max_errors) {
            m_summary.errors.push_back("line " + std::to_string(line) + ": " + what);
        } else {
            ++m_summary.errors_left_out;
        }
    }

    // Reads tokens up to $end; false (and an error) if the input ends first.
    bool until_end(const std::string& command, std::vector<std::string>& args) {
        args.clear();
        std::string t;
        while (m_tok.next(t)) {
            if (t == "$end") return true;
            args.push_back(t);
        }
        error_at_end(command + " is not closed with $end");
        return false;
    }

    void header_token(const std::string& t) {
        std::vector<std::string> args;
        if (t == "$date" || t == "$version" || t == "$comment") {
            until_end(t, args);
        } else if (t == "$timescale") {
            if (until_end(t, args)) {
                m_summary.timescale.clear();
                for (const auto& a : args) m_summary.timescale += a;
                if (args.empty()) error("$timescale without a time unit");
            }
        } else if (t == "$scope") {
            if (!until_end(t, args)) return;
            if (args.size() != 2) {
                error("$scope needs a scope type and a name, got " + std::to_string(args.size()) +
                      " words");
                return;
            }
            m_scopes.push_back(args[1]);
        } else if (t == "$upscope") {
            if (!until_end(t, args)) return;
            if (!args.empty()) error("$upscope takes no arguments");
            if (m_scopes.empty()) {
                error("$upscope without an open $scope");
            } else {
                m_scopes.pop_back();
            }
        } else if (t == "$var") {
            if (until_end(t, args)) declare(args);
        } else if (t == "$enddefinitions") {
            until_end(t, args);
            if (!m_scopes.empty()) {
                error("$enddefinitions with " + std::to_string(m_scopes.size()) +
                      " scope(s) still open (innermost '" + m_scopes.back() + "')");
            }
            m_in_body = true;
        } else if (!t.empty() && t[0] == '$') {
            error("unknown declaration command " + t);
            until_end(t, args);  // resynchronize after it
        } else {
            error("'" + t + "' outside any declaration command (is $enddefinitions missing?)");
        }
    }

    void declare(const std::vector<std::string>& args) {
        // $var type size identifier reference [bit select] $end
        if (args.size() != 4 && args.size() != 5) {
            error("$var needs a type, a size, an identifier and a reference, got " +
                  std::to_string(args.size()) + " words");
            return;
        }
        std::uint64_t width = 0;
        if (!parse_unsigned(args[1], width) || width == 0 || width > (1u << 20)) {
            error("$var '" + args[3] + "': size '" + args[1] + "' is not a width in bits");
            return;
        }
        const std::string& id = args[2];
        const bool real = args[0] == "real" || args[0] == "realtime";
        auto it = m_vars.find(id);
        if (it != m_vars.end()) {
            // The same identifier may alias several references, all of one width.
            if (it->second.width != width) {
                error("identifier '" + id + "' declared with widths " +
                      std::to_string(it->second.width) + " and " + std::to_string(width));
            }
        } else {
            m_vars.emplace(id, var_info{static_cast<unsigned>(width), real});
        }
        std::string name;
        for (const auto& s : m_scopes) name += s + '.';
        name += args[3];
        m_summary.variables.push_back({id, static_cast<unsigned>(width), name});
    }

    const var_info* lookup(const std::string& id) {
        auto it = m_vars.find(id);
        if (it == m_vars.end()) {
            error("value change of undeclared identifier '" + id + "'");
            return nullptr;
        }
        return &it->second;
    }

    void value_change() {
        ++m_summary.value_changes;
        if (!m_have_time) error("value change before the first timestamp");
    }

    void body_token(const std::string& t) {
        std::vector<std::string> args;
        const char c = t[0];
        if (c == '#') {
            std::uint64_t time = 0;
            if (!parse_unsigned(t.substr(1), time)) {
                error("'" + t + "' is not a timestamp");
                return;
            }
            if (m_have_time && time < m_summary.last_time) {
                error("time goes back from #" + std::to_string(m_summary.last_time) + " to #" +
                      std::to_string(time));
            }
            m_have_time = true;
            m_summary.last_time = time;
            ++m_summary.timestamps;
        } else if (t == "$dumpvars" || t == "$dumpall" || t == "$dumpon" || t == "$dumpoff") {
            if (m_open_dump_block) error(t + " inside an open " + m_dump_block + " block");
            m_open_dump_block = true;
            m_dump_block = t;
        } else if (t == "$end") {
            if (!m_open_dump_block) error("$end without an open $dumpvars/$dumpall block");
            m_open_dump_block = false;
        } else if (t == "$comment") {
            until_end(t, args);
        } else if (c == '$') {
            error("command " + t + " after $enddefinitions");
            until_end(t, args);  // resynchronize after it
        } else if (c == 'b' || c == 'B') {
            const std::string bits = t.substr(1);
            std::string id;
            if (!m_tok.next(id)) {
                error_at_end("vector value '" + t + "' without an identifier");
                return;
            }
            value_change();
            bool digits_ok = !bits.empty();
            for (const char d : bits) digits_ok = digits_ok && is_scalar_digit(d);
            if (!digits_ok) error("'" + t + "' is not a binary vector value");
            const var_info* v = lookup(id);
            if (v == nullptr || !digits_ok) return;
            if (v->real) error("vector value for real variable '" + id + "'");
            if (bits.size() > v->width) {
                error("value " + t + " has " + std::to_string(bits.size()) +
                      " digits, more than the " + std::to_string(v->width) + " bits of '" + id +
                      "'");
            }
        } else if (c == 'r' || c == 'R') {
            std::string id;
            if (!m_tok.next(id)) {
                error_at_end("real value '" + t + "' without an identifier");
                return;
            }
            value_change();
            const var_info* v = lookup(id);
            if (v != nullptr && !v->real) error("real value for non-real variable '" + id + "'");
        } else if (is_scalar_digit(c)) {
            value_change();
            const std::string id = t.substr(1);
            if (id.empty()) {
                error("scalar value '" + t + "' without an identifier");
                return;
            }
            const var_info* v = lookup(id);
            if (v != nullptr && v->width != 1) {
                error("scalar value for " + std::to_string(v->width) + "-bit variable '" + id +
                      "'");
            }
        } else {
            error("'" + t + "' is neither a timestamp nor a value change");
        }
    }

    tokenizer m_tok;
    vcd_summary m_summary;
    std::unordered_map<std::string, var_info> m_vars;
    std::vector<std::string> m_scopes;
    bool m_in_body = false;
    bool m_have_time = false;
    bool m_open_dump_block = false;
    std::string m_dump_block;
};

}  // namespace

vcd_summary check_vcd(std::istream& in) { return checker(in).run(); }

vcd_summary check_vcd_text(const std::string& text) {
    std::istringstream in(text);
    return check_vcd(in);
}

vcd_summary check_vcd_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        vcd_summary s;
        s.errors.push_back("cannot open '" + path + "'");
        return s;
    }
    return check_vcd(in);
}

}  // namespace iovsim::traces

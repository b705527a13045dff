#include "traces/perfetto_writer.h"

#include <algorithm>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <ostream>
#include <stdexcept>
#include <utility>
#include <variant>

#include "traces/vcd_writer.h"

namespace iovsim::traces {

namespace {

using json = nlohmann::json;

// Microseconds, the trace-event format's unit.
double to_us(tick_t t) { return static_cast<double>(t) / static_cast<double>(ticks_per_us); }

std::string signal_component(const std::string& name) {
    const auto dot = name.rfind('.');
    return dot == std::string::npos ? name : name.substr(0, dot);
}

std::string signal_leaf(const std::string& name) {
    const auto dot = name.rfind('.');
    return dot == std::string::npos ? name : name.substr(dot + 1);
}

}  // namespace

void write_perfetto(const trace_buffer& buffer, std::ostream& out,
                    const perfetto_options& options) {
    const std::vector<trace_event> events = buffer.sorted();

    std::vector<bool> selected(buffer.signals().size(), false);
    if (options.signal_counters) {
        for (const auto& s : buffer.signals()) {
            selected[s.id] = signal_selected(options.signals, s.name);
        }
    }

    // Components, numbered in alphabetical order.
    std::map<std::string, int> pid_of;
    for (const auto& s : buffer.signals()) {
        if (selected[s.id]) pid_of.emplace(signal_component(s.name), 0);
    }
    for (const auto& e : events) {
        if (const auto* s = std::get_if<span>(&e)) pid_of.emplace(s->track, 0);
        if (const auto* i = std::get_if<instant>(&e)) pid_of.emplace(i->track, 0);
    }
    int next_pid = 1;
    for (auto& [name, pid] : pid_of) pid = next_pid++;

    // (time, event), kept in generation order among equal times by the stable sort below.
    std::vector<std::pair<tick_t, json>> timed;
    timed.reserve(events.size() * 2);
    std::uint64_t anonymous = perfetto_anonymous_span_id;
    for (const auto& e : events) {
        if (const auto* c = std::get_if<signal_change>(&e)) {
            if (!selected[c->signal]) continue;
            const std::string& name = buffer.signal(c->signal).name;
            const int pid = pid_of.at(signal_component(name));
            timed.emplace_back(c->time, json{{"ph", "C"},
                                             {"name", signal_leaf(name)},
                                             {"pid", pid},
                                             {"tid", pid},
                                             {"ts", to_us(c->time)},
                                             {"args", {{"value", c->value}}}});
        } else if (const auto* s = std::get_if<span>(&e)) {
            const int pid = pid_of.at(s->track);
            const std::uint64_t id = s->id != 0 ? s->id : anonymous++;
            json begin{{"ph", "b"},  {"name", s->name}, {"cat", s->name},       {"id", id},
                       {"pid", pid}, {"tid", pid},      {"ts", to_us(s->begin)}};
            json end = begin;
            end["ph"] = "e";
            end["ts"] = to_us(s->end);
            timed.emplace_back(s->begin, std::move(begin));
            timed.emplace_back(s->end, std::move(end));
        } else if (const auto* i = std::get_if<instant>(&e)) {
            const int pid = pid_of.at(i->track);
            json ev{{"ph", "i"},  {"s", "t"},   {"name", i->name},
                    {"pid", pid}, {"tid", pid}, {"ts", to_us(i->time)}};
            if (i->id != 0) ev["args"] = {{"id", i->id}};
            timed.emplace_back(i->time, std::move(ev));
        }
    }
    std::stable_sort(timed.begin(), timed.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });

    out << "{\"displayTimeUnit\":\"ns\",\"traceEvents\":[";
    const char* sep = "\n";
    for (const auto& [name, pid] : pid_of) {
        for (const char* meta : {"process_name", "thread_name"}) {
            out << sep
                << json{{"ph", "M"},
                        {"name", meta},
                        {"pid", pid},
                        {"tid", pid},
                        {"args", {{"name", name}}}}
                       .dump();
            sep = ",\n";
        }
        out << sep
            << json{{"ph", "M"},
                    {"name", "process_sort_index"},
                    {"pid", pid},
                    {"tid", pid},
                    {"args", {{"sort_index", pid}}}}
                   .dump();
    }
    for (const auto& [time, ev] : timed) {
        out << sep << ev.dump();
        sep = ",\n";
    }
    out << "\n]}\n";
    out.flush();
}

void write_perfetto_file(const trace_buffer& buffer, const std::string& path,
                         const perfetto_options& options) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    if (!out) throw std::runtime_error("cannot open '" + path + "' to write a Perfetto trace");
    write_perfetto(buffer, out, options);
    out.close();
    if (!out) throw std::runtime_error("cannot write the Perfetto trace to '" + path + "'");
}

}  // namespace iovsim::traces

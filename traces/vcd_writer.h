// IEEE 1364-2005 §18 value change dump (VCD) writer: the waveform of `iovsim run --vcd`
// (DIR/trace.vcd), opened by gtkwave.
//
// What it writes: a header ($date when given, $version, $timescale 1ps: one VCD time unit is one
// tick), one `$scope module` per component of the dotted signal names ("top.vf0.tx_tail" becomes
// scope top, scope vf0, var tx_tail; a name without a dot sits at the root), one
// `$var wire <width> <id> <name> $end` per signal with a compact identifier (vcd_identifier:
// printable ASCII 33..126, base 94), `$enddefinitions`, then `#0` with `$dumpvars` holding every
// signal's initial value, then `#<time>` blocks in nondecreasing time order. A 1-bit signal
// changes as a scalar ("1!"), a wider one as a vector without leading zeros ("b1010 \"").
//
// Ordering and merging: vcd_writer streams and requires changes in nondecreasing time
// (std::logic_error otherwise); write_vcd() first sorts the buffer's events stably by time, since
// loosely-timed initiators emit them out of order (kernel time plus each initiator's own local
// offset). Within one timestamp the last change to a signal wins; a signal whose final value at
// a timestamp equals its value before it is not written, and a timestamp with nothing to write
// is left out (a zero-width pulse is invisible in a VCD anyway: emit a pulse with a duration).
// Changes at time 0 become the $dumpvars initial values; signals never changed at time 0 start
// at their declared initial value (0 by default).
//
// Signal selection (vcd_options::signals, see signal_selected): empty selects every signal;
// otherwise a signal is written if any pattern selects it. A pattern with a glob character
// (`*` any run of characters, dots included; `?` one character) must match the whole dotted
// name ("*.state", "top.vf?.tx_tail"); a pattern without one is a name or a prefix ending at a
// dot boundary ("top.vf0" selects "top.vf0" and "top.vf0.tx_tail", not "top.vf01.x").
//
// Leaves out: spans and instants (those go to the Perfetto writer), x/z values, real and string
// variables, $dumpoff/$dumpon, streaming the buffer while the simulation runs.
#pragma once

#include <cstddef>
#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

#include "models/core/units.h"
#include "traces/trace_buffer.h"

namespace iovsim::traces {

// The compact VCD identifier of the index-th variable: bijective base 94 over '!'..'~', least
// significant digit first: 0 "!", 93 "~", 94 "!!", 95 "\"!", 94 + 94 * 94 "!!!".
std::string vcd_identifier(std::size_t index);

// Whether `name` is selected by `patterns` (rules in the file comment); empty selects all.
bool signal_selected(const std::vector<std::string>& patterns, const std::string& name);

struct vcd_header {
    std::string date;                // the $date text; empty: no $date section (reproducible file)
    std::string version = "iovsim";  // the $version text
};

// Streaming writer: declare every variable, end_definitions(), then changes in time order, then
// finish(). Misuse (declaring after end_definitions, a change before it, a time going back, an
// unknown variable, a value wider than its variable) is std::logic_error; a name that is empty,
// has an empty dotted component or contains white space, or a width outside 1..64, is
// std::invalid_argument.
class vcd_writer {
public:
    explicit vcd_writer(std::ostream& out, vcd_header header = {});

    // Returns the variable's index (0, 1, ...), whose identifier is vcd_identifier(index).
    std::size_t declare(const std::string& name, unsigned width, std::uint64_t initial = 0);
    // Writes the header, the scopes and the variables; time is now 0.
    void end_definitions();
    void change(tick_t time, std::size_t var, std::uint64_t value);
    // Writes the pending timestamp, then `#end_time` if end_time is later than the last
    // timestamp written (so a viewer shows the run's tail). Nothing may follow.
    void finish(tick_t end_time = 0);

    std::size_t variables() const { return m_vars.size(); }

private:
    struct var {
        std::string name;
        unsigned width;
        std::string id;
        std::uint64_t value;    // as last written
        std::uint64_t pending;  // as of the current timestamp
        bool dirty;
    };
    enum class phase { declaring, dumping, finished };

    void flush();
    void write_value(const var& v, std::uint64_t value);

    std::ostream& m_out;
    vcd_header m_header;
    std::vector<var> m_vars;
    std::vector<std::size_t> m_dirty;  // variables changed at the current timestamp
    phase m_phase = phase::declaring;
    bool m_dumpvars_written = false;
    tick_t m_time = 0;          // the current (pending) timestamp
    tick_t m_last_written = 0;  // the last `#time` written
};

struct vcd_options {
    vcd_header header;
    std::vector<std::string> signals;  // selection patterns; empty: every signal
    tick_t end_time = 0;               // see vcd_writer::finish
};

// Writes the buffer's selected signals and their changes, sorted stably by time.
void write_vcd(const trace_buffer& buffer, std::ostream& out, const vcd_options& options = {});
// The same into a file; std::runtime_error if it cannot be written.
void write_vcd_file(const trace_buffer& buffer, const std::string& path,
                    const vcd_options& options = {});

}  // namespace iovsim::traces

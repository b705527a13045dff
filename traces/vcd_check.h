// A small IEEE 1364 VCD reader that validates what the VCD writer (traces/vcd_writer.h) and any
// other producer wrote, for tests: the header ($date, $version, $timescale, $comment, $scope,
// $upscope, $var) ends with $enddefinitions; every $scope is closed; every variable has a width
// of at least one bit (one identifier, one width); the body's timestamps (#n) never go back;
// every value change names a declared identifier and fits its width (a scalar change 0/1/x/z only
// for a 1-bit variable, a vector b... with no more digits than the width, r... only for a real);
// $dumpvars/$dumpall/$dumpon/$dumpoff blocks are closed with $end.
//
// Each problem is reported as "line N: what" (the first 100; the rest are counted); a file is
// valid when there are none. Leaves out: checking the header's contents (date format, timescale
// unit), bit-selects and the extended (EVCD) formats.
#pragma once

#include <cstddef>
#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

namespace iovsim::traces {

struct vcd_variable {
    std::string id;    // the identifier code ("!")
    unsigned width;    // bits
    std::string name;  // scopes and reference joined with dots ("top.vf0.tx_tail")
};

struct vcd_summary {
    std::vector<std::string> errors;  // empty: valid
    std::size_t errors_left_out = 0;  // beyond the first 100
    std::string timescale;            // as written, white space collapsed ("1ps", "1 ns")
    std::vector<vcd_variable> variables;
    std::size_t timestamps = 0;
    std::size_t value_changes = 0;
    std::uint64_t last_time = 0;

    bool ok() const { return errors.empty(); }
};

vcd_summary check_vcd(std::istream& in);
vcd_summary check_vcd_text(const std::string& text);
// An unreadable file is one error.
vcd_summary check_vcd_file(const std::string& path);

}  // namespace iovsim::traces

// Errors shared by every part of iovsim.
//
// A user's mistake in the configuration (an unknown key, a value of the wrong type, unit or
// range, a malformed or missing file, a bad --set or --log option) is a `config_error`, reported
// before elaboration with a one-line what() that names the key and, for a file, `file:line:`.
// A programming error of our own (reading an undeclared parameter, declaring one twice) is a
// std::logic_error instead.
#pragma once

#include <stdexcept>
#include <string>

namespace iovsim::core {

class config_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

}  // namespace iovsim::core

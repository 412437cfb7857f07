// mishnet::Error: the one exception type the library throws. Only main() prints and exits.
#pragma once
#include <sstream>
#include <stdexcept>
#include <string>

namespace mishnet {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Builds a message from any streamable parts: fail("layer ", i, ": bad size ", n).
template <typename... Parts>
[[noreturn]] void fail(const Parts&... parts) {
  std::ostringstream s;
  (s << ... << parts);
  throw Error(s.str());
}

// "file:line: message", the shape of every error that points into a text file.
template <typename... Parts>
[[noreturn]] void fail_at(const std::string& file, int line, const Parts&... parts) {
  std::ostringstream s;
  s << file << ':' << line << ": ";
  (s << ... << parts);
  throw Error(s.str());
}

}  // namespace mishnet

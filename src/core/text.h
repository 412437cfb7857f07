// Small text helpers shared by the file readers (cfg, .data, lists, labels).
#pragma once
#include <string>

namespace mishnet {

// `s` without leading and trailing spaces, tabs, carriage returns and newlines.
inline std::string trim(const std::string& s) {
  const size_t b = s.find_first_not_of(" \t\r\n\f\v");
  if (b == std::string::npos) return "";
  const size_t e = s.find_last_not_of(" \t\r\n\f\v");
  return s.substr(b, e - b + 1);
}

}  // namespace mishnet

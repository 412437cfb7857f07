// Validation helpers for layer options: every failure names file:line and the key.
#pragma once
#include <initializer_list>
#include <sstream>
#include <string>
#include <utility>

#include "mishnet/cfg.h"

namespace mishnet::option_checks {

inline std::string number(float v) {
  std::ostringstream o;
  o << v;
  return o.str();
}

// Reads a key whose value must be one of `names` (Darknet silently falls back on a typo).
template <typename Enum>
Enum parse_choice(const CfgSection& s, const std::string& key, const std::string& fallback,
                  std::initializer_list<std::pair<const char*, Enum>> names) {
  std::string value = s.get_string(key, fallback);
  std::string expected;
  for (const auto& [name, e] : names) {
    if (value == name) return e;
    expected += (expected.empty() ? "" : ", ") + std::string(name);
  }
  s.fail_key(key, "unknown value '" + value + "', expected one of: " + expected);
}

inline void require_range(const CfgSection& s, const std::string& key, float v, float lo,
                          float hi) {
  if (!(v >= lo && v <= hi))
    s.fail_key(key, "must be in [" + number(lo) + ", " + number(hi) + "], got " + number(v));
}

inline void require_positive(const CfgSection& s, const std::string& key, float v) {
  if (!(v > 0)) s.fail_key(key, "must be positive, got " + number(v));
}

inline void require_non_negative(const CfgSection& s, const std::string& key, float v) {
  if (!(v >= 0)) s.fail_key(key, "must not be negative, got " + number(v));
}

}  // namespace mishnet::option_checks

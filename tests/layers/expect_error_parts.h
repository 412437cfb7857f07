// Checks an error message piece by piece (file:line, key, what was wrong), so tests do not
// depend on how CfgSection::fail_key joins them.
#pragma once
#include <gtest/gtest.h>

#include <initializer_list>
#include <string>

#include "mishnet/error.h"

namespace mishnet::test {

template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

inline ::testing::AssertionResult has_all(const std::string& message,
                                          std::initializer_list<std::string> parts) {
  for (const std::string& p : parts)
    if (message.find(p) == std::string::npos)
      return ::testing::AssertionFailure() << "message: " << message << "\n  lacks: " << p;
  return ::testing::AssertionSuccess();
}

// EXPECT_ERROR_PARTS(build(text), "a.cfg:6:", "anchors", "has 3 values")
#define EXPECT_ERROR_PARTS(expr, ...) \
  EXPECT_TRUE(::mishnet::test::has_all(::mishnet::test::error_of([&] { expr; }), {__VA_ARGS__}))

}  // namespace mishnet::test

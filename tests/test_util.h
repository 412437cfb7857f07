// Helpers shared by the tests.
#pragma once
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>

#include "mishnet/error.h"

namespace mishnet::test {

// The public Darknet cfgs live beside the checkout in ../shared/darknet-cfg; tests that need
// them skip with a message when it is absent.
inline std::string shared_cfg_dir() {
  const char* env = std::getenv("MISHNET_SHARED_CFG");
  if (env) return env;
  return std::string(MISHNET_SOURCE_DIR) + "/../shared/darknet-cfg";
}

inline std::string shared_cfg(const std::string& name) { return shared_cfg_dir() + "/" + name; }

#define MISHNET_REQUIRE_SHARED_CFG(name)                                            \
  do {                                                                             \
    if (!std::filesystem::exists(::mishnet::test::shared_cfg(name)))               \
      GTEST_SKIP() << "../shared/darknet-cfg/" << name << " is absent; skipped";   \
  } while (0)

// A fresh seed each run (printed, so a failure can be replayed with MISHNET_TEST_SEED).
inline uint64_t test_seed() {
  static uint64_t seed = [] {
    const char* env = std::getenv("MISHNET_TEST_SEED");
    uint64_t s = env ? std::strtoull(env, nullptr, 10) : std::random_device{}();
    std::printf("[ seed     ] MISHNET_TEST_SEED=%llu\n", static_cast<unsigned long long>(s));
    return s;
  }();
  return seed;
}

// Asserts that `expr` throws mishnet::Error whose message contains `needle`.
#define EXPECT_ERROR_CONTAINS(expr, needle)                                          \
  do {                                                                               \
    try {                                                                            \
      expr;                                                                          \
      ADD_FAILURE() << "expected mishnet::Error containing '" << (needle) << "'";    \
    } catch (const ::mishnet::Error& e) {                                            \
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos)              \
          << "message: " << e.what();                                                \
    }                                                                                \
  } while (0)

// A scratch directory under the build tree, emptied for each test that asks for it.
inline std::string scratch_dir(const std::string& name) {
  auto dir = std::filesystem::path(MISHNET_BINARY_DIR) / "test-scratch" / name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir.string();
}

// A whole file's bytes ("" when it cannot be read).
inline std::string read_file_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

// Runs a shell command line; returns its exit status (-1 when it did not exit normally: killed
// by a signal, a crash) and stores its standard output in `out`.
inline int run_shell(const std::string& command, std::string& out) {
  FILE* p = popen(command.c_str(), "r");
  if (!p) return -1;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  const int status = pclose(p);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace mishnet::test

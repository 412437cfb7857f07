// The temporary file a whole-file write goes to before its rename onto `path`: beside it (the
// rename stays on one file system) and unique to the process and the call, so two processes
// saving the same file (two trainings started in one directory, both writing chart.png) never
// write into, or rename away, each other's half-written file.
#pragma once
#include <atomic>
#include <string>

#include <unistd.h>

namespace mishnet {

// `suffix` ends the name (".png" for writers that pick the format from the extension).
inline std::string temporary_path(const std::string& path, const std::string& suffix = "") {
  static std::atomic<unsigned> counter{0};
  return path + ".tmp" + std::to_string(::getpid()) + "-" + std::to_string(counter++) + suffix;
}

}  // namespace mishnet

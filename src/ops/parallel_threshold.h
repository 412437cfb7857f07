// Below this many element operations an OpenMP region costs more than it saves (thread wake-up
// and barrier, far worse on a loaded machine); the reference ops run such loops serially.
#pragma once

namespace mishnet::ops {

inline constexpr long kParallelMinWork = 1L << 15;

}  // namespace mishnet::ops

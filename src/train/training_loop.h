// The loop that `classifier train` and `detector train` share: one line per iteration, the
// chart and CSV log, checkpoints (_last, _N, _final), a metric every N iterations, and Ctrl-C
// (SIGINT/SIGTERM) saving _last so the same command resumes exactly.
#pragma once
#include <cstdint>
#include <functional>
#include <string>

#include "mishnet/network.h"
#include "mishnet/trainer.h"
#include "train/training_chart.h"

namespace mishnet {

// "12m05s", "1h02m".
std::string format_duration(double seconds);

// Copies the parameters of a training network into an inference copy built from the same cfg
// (for validation during training).
void copy_parameters(Network& from, Network& to);

struct TrainingLoopOptions {
  // Called after iteration i when i % eval_every == 0 and after the last one (eval_every > 0
  // and evaluate set); returns the metric drawn on the chart.
  int64_t eval_every = 0;
  std::function<double(int64_t iteration)> evaluate;
  // Optional text appended to each iteration's line (e.g. the detector's per-head figures).
  std::function<std::string()> iteration_note;
};

// Trains until trainer.done() or an interrupt. Returns true when training finished (then
// _final and _last were written), false when interrupted (_last written).
bool run_training_loop(Trainer& trainer, TrainingChart& chart, const TrainingLoopOptions& options);

}  // namespace mishnet

#include "train/training_loop.h"

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdio>

namespace mishnet {

namespace {

std::atomic<bool> g_interrupted{false};
extern "C" void on_interrupt(int) { g_interrupted = true; }

}  // namespace

std::string format_duration(double seconds) {
  char buf[32];
  long s = long(seconds);
  if (s >= 3600)
    std::snprintf(buf, sizeof(buf), "%ldh%02ldm", s / 3600, (s / 60) % 60);
  else
    std::snprintf(buf, sizeof(buf), "%ldm%02lds", s / 60, s % 60);
  return buf;
}

void copy_parameters(Network& from, Network& to) {
  std::copy(from.param_data(), from.param_data() + from.num_params(), to.param_data());
  to.seen = from.seen;
  to.parameters_changed();
}

bool run_training_loop(Trainer& trainer, TrainingChart& chart, const TrainingLoopOptions& options) {
  g_interrupted = false;
  std::signal(SIGINT, on_interrupt);
  std::signal(SIGTERM, on_interrupt);
  while (!trainer.done()) {
    IterationStats s = trainer.step();
    std::string note = options.iteration_note ? options.iteration_note() : std::string();
    std::printf("%lld: loss %.4f, avg %.4f, rate %.6f, %.1f img/s, %s elapsed, %s left%s\n",
                static_cast<long long>(s.iteration), s.loss, s.average_loss, s.learning_rate,
                s.images_per_second, format_duration(s.elapsed_seconds).c_str(),
                format_duration(s.eta_seconds).c_str(), note.c_str());
    chart.add_loss(s.iteration, s.loss, s.average_loss, s.learning_rate, s.images_per_second);
    for (const auto& p : trainer.save_due_checkpoints()) std::printf("Saved %s\n", p.c_str());
    if (options.evaluate && options.eval_every > 0 && (s.iteration % options.eval_every == 0 || trainer.done())) {
      trainer.sync_host();  // GPU training: the evaluation reads the host network's weights
      chart.add_metric(s.iteration, options.evaluate(s.iteration));
    }
    if (s.iteration % 10 == 0 || trainer.done()) chart.draw();
    std::fflush(stdout);
    if (g_interrupted) {
      std::string path = trainer.checkpoint_path("last");
      trainer.save(path);
      chart.draw();
      std::printf("Interrupted: saved %s (resume with the same command and this file)\n", path.c_str());
      return false;
    }
  }
  std::string final_path = trainer.checkpoint_path("final");
  trainer.save(final_path);
  trainer.save(trainer.checkpoint_path("last"));
  std::printf("Saved %s\n", final_path.c_str());
  return true;
}

}  // namespace mishnet

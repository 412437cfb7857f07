// mishnet classifier train DATA CFG [WEIGHTS] [-clear] [-dont_show] [-topk] [-seed N]
#include <atomic>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <random>

#include "cli/command.h"
#include "mishnet/classification_data.h"
#include "mishnet/classifier_eval.h"
#include "mishnet/data_file.h"
#include "mishnet/error.h"
#include "mishnet/trainer.h"
#include "mishnet/weights.h"
#include "train/training_chart.h"

namespace mishnet::cli {
namespace {

std::atomic<bool> g_interrupted{false};
extern "C" void on_interrupt(int) { g_interrupted = true; }

struct TrainArgs {
  std::string data, cfg, weights;
  bool clear = false, dont_show = false, topk = false;
  uint64_t seed = 0;
  bool seed_given = false;
  int64_t max_batches = 0;
  int eval_every = 0;
  int threads = 2;
  std::string chart = "chart.png";
  NetworkArgs net;
};

std::string format_duration(double seconds) {
  char buf[32];
  long s = long(seconds);
  if (s >= 3600)
    std::snprintf(buf, sizeof(buf), "%ldh%02ldm", s / 3600, (s / 60) % 60);
  else
    std::snprintf(buf, sizeof(buf), "%ldm%02lds", s / 60, s % 60);
  return buf;
}

void run_train(TrainArgs& a) {
  DataFile data = DataFile::parse_file(a.data);
  Cfg cfg = parse_cfg_file(a.cfg);
  NetConfig nc = NetConfig::parse(cfg.sections[0]);
  if (nc.batch % nc.subdivisions != 0)
    fail(a.cfg, ": [net] batch (", nc.batch, ") is not divisible by subdivisions (",
         nc.subdivisions, ")");
  NetworkOptions o;
  o.lenient = a.net.lenient;
  o.batch = nc.batch / nc.subdivisions;
  o.backend = a.net.force_reference ? BackendKind::reference : BackendKind::cpu;
  Network net = Network::from_cfg(cfg, o);

  if (!a.seed_given) a.seed = std::random_device{}();
  if (!a.weights.empty()) {
    int loaded = load_weights(net, a.weights);
    std::printf("Loaded %d layers from %s\n", loaded, a.weights.c_str());
  } else {
    init_weights(net, a.seed);
  }
  net.set_training(true);

  ClassificationList train_list = read_classification_list(data, "train");
  int classes = int(train_list.labels.size());
  if (net.truth_floats() != size_t(classes))
    fail(a.cfg, ": the network's loss expects ", net.truth_floats(), " classes, ", a.data,
         " has ", classes);
  ClassificationLoaderOptions lo;
  lo.batch = net.batch();
  lo.seed = a.seed;
  lo.threads = a.threads;
  ClassificationLoader loader(train_list, net.config(), lo);

  std::string backup = data.get_string("backup", "backup");
  std::filesystem::create_directories(backup);
  TrainerOptions to;
  to.backup_dir = backup;
  to.name = std::filesystem::path(a.cfg).stem().string();
  to.seed = a.seed;
  to.max_batches = a.max_batches;
  Trainer trainer(net, loader, to);
  if (!a.weights.empty()) {
    trainer.resume(a.weights, a.clear);
    loader.set_seed(trainer.seed());
  }

  // Validation during training: on the valid list, with an inference copy of the network.
  std::unique_ptr<Network> eval_net;
  std::unique_ptr<ClassificationList> valid_list;
  int k = data.get_int("top", 5);
  if (a.topk) {
    valid_list = std::make_unique<ClassificationList>(read_classification_list(data, "valid"));
    NetworkOptions eo = o;
    eo.batch = 100;
    eval_net = std::make_unique<Network>(Network::from_cfg(parse_cfg_file(a.cfg), eo));
  }
  const int64_t images_per_epoch = int64_t(train_list.images.size());
  const int64_t images_per_batch = int64_t(nc.batch);
  int eval_every = a.eval_every > 0 ? a.eval_every
                                    : int(std::max<int64_t>(1, images_per_epoch / images_per_batch));

  TrainingChart chart(a.chart, std::filesystem::path(backup) / (to.name + "_log.csv"),
                      trainer.max_batches(), a.topk ? "top-1" : "");
  std::printf("Training %s on %zu images (%d classes), batch %d = %d x %d, seed %llu, "
              "iterations %lld..%lld\n",
              a.cfg.c_str(), train_list.images.size(), classes, nc.batch, nc.subdivisions,
              net.batch(), static_cast<unsigned long long>(trainer.seed()),
              static_cast<long long>(trainer.iteration()),
              static_cast<long long>(trainer.max_batches()));
  std::signal(SIGINT, on_interrupt);
  std::signal(SIGTERM, on_interrupt);
  while (!trainer.done()) {
    IterationStats s = trainer.step();
    std::printf("%lld: loss %.4f, avg %.4f, rate %.6f, %.0f img/s, %s elapsed, %s left\n",
                static_cast<long long>(s.iteration), s.loss, s.average_loss, s.learning_rate,
                s.images_per_second, format_duration(s.elapsed_seconds).c_str(),
                format_duration(s.eta_seconds).c_str());
    chart.add_loss(s.iteration, s.loss, s.average_loss, s.learning_rate, s.images_per_second);
    for (const auto& p : trainer.save_due_checkpoints()) std::printf("Saved %s\n", p.c_str());
    if (eval_net && (s.iteration % eval_every == 0 || trainer.done())) {
      std::copy(net.param_data(), net.param_data() + net.num_params(), eval_net->param_data());
      eval_net->parameters_changed();
      ClassifierScore sc = evaluate_classifier(*eval_net, *valid_list, k);
      std::printf("%lld: top-1 %.2f%%, top-%d %.2f%% on %zu validation images\n",
                  static_cast<long long>(s.iteration), sc.top1() * 100, k, sc.topk() * 100,
                  sc.images);
      chart.add_metric(s.iteration, sc.top1());
    }
    if (s.iteration % 10 == 0 || trainer.done()) chart.draw();
    std::fflush(stdout);
    if (g_interrupted) {
      std::string path = trainer.checkpoint_path("last");
      trainer.save(path);
      std::printf("Interrupted: saved %s (resume with the same command and this file)\n",
                  path.c_str());
      return;
    }
  }
  std::string final_path = trainer.checkpoint_path("final");
  trainer.save(final_path);
  trainer.save(trainer.checkpoint_path("last"));
  std::printf("Saved %s\n", final_path.c_str());
  std::string summary = loader.skipped_summary();
  if (!summary.empty()) std::printf("%s\n", summary.c_str());
}

CommandRegistrar reg({"classifier", "train"}, "Train a classifier from a .data and a .cfg",
                     [](CLI::App& app) {
                       auto a = std::make_shared<TrainArgs>();
                       app.add_option("data", a->data, ".data file (train, valid, labels, backup)")->required();
                       app.add_option("cfg", a->cfg, "Network .cfg file")->required();
                       app.add_option("weights", a->weights, "Weights to start from or resume");
                       app.add_flag("--clear", a->clear, "Start the iteration count afresh (fine-tuning)");
                       app.add_flag("--dont_show", a->dont_show, "No window (mishnet never opens one while training; chart.png is written)");
                       app.add_flag("--topk", a->topk, "Measure top-1/top-k on the valid list every epoch");
                       app.add_option("--seed", a->seed, "Seed of the run (default: random, printed)")
                           ->each([a](const std::string&) { a->seed_given = true; });
                       app.add_option("--max_batches", a->max_batches, "Override [net] max_batches");
                       app.add_option("--eval_every", a->eval_every, "Iterations between validations (default: one epoch)");
                       app.add_option("--loader_threads", a->threads, "Data loader threads (default 2)");
                       app.add_option("--chart", a->chart, "Chart file (default chart.png)");
                       add_network_options(app, a->net);
                       app.callback([a] { run_train(*a); });
                     });

}  // namespace
}  // namespace mishnet::cli

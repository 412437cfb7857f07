// mishnet classifier train DATA CFG [WEIGHTS] [-clear] [-dont_show] [-topk] [-seed N]
#include <cstdio>
#include <filesystem>
#include <memory>
#include <random>

#include "cli/command.h"
#include "cli/training_setup.h"
#include "mishnet/classification_data.h"
#include "mishnet/classifier_eval.h"
#include "mishnet/data_file.h"
#include "mishnet/error.h"
#include "mishnet/trainer.h"
#include "mishnet/weights.h"
#include "train/training_chart.h"
#include "train/training_loop.h"

namespace mishnet::cli {
namespace {

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
  TrainingDeviceArgs device;
};

void run_train(TrainArgs& a) {
  const std::vector<int> gpus = check_training_device(a.device, a.net.force_reference);
  DataFile data = DataFile::parse_file(a.data);
  TrainingSetup setup = build_training_network(a.cfg, a.weights, a.net, a.seed, a.seed_given);
  Network& net = setup.net;
  a.seed = setup.seed;
  const NetConfig& nc = net.config();

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

  TrainerOptions to = trainer_options_for(data, a.cfg, a.seed, a.max_batches);
  const std::string backup = to.backup_dir;
  const std::unique_ptr<TrainingDevice> device = make_training_device(setup, a.cfg, gpus);
  to.device = device.get();
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
    NetworkOptions eo = setup.options;
    eo.batch = 100;
    eval_net = std::make_unique<Network>(Network::from_cfg(parse_cfg_file(a.cfg), eo));
  }
  const int64_t images_per_epoch = int64_t(train_list.images.size());
  const int64_t images_per_batch = int64_t(nc.batch);
  int eval_every = a.eval_every > 0 ? a.eval_every
                                    : int(std::max<int64_t>(1, images_per_epoch / images_per_batch));

  TrainingChart chart(a.chart, std::filesystem::path(backup) / (to.name + "_log.csv"),
                      trainer.max_batches(), a.topk ? "top-1" : "", trainer.iteration());
  std::printf("Training %s on %zu images (%d classes), batch %d = %d x %d, seed %llu, "
              "iterations %lld..%lld\n",
              a.cfg.c_str(), train_list.images.size(), classes, nc.batch, nc.subdivisions,
              net.batch(), static_cast<unsigned long long>(trainer.seed()),
              static_cast<long long>(trainer.iteration()),
              static_cast<long long>(trainer.max_batches()));
  TrainingLoopOptions loop;
  if (eval_net) {
    loop.eval_every = eval_every;
    loop.evaluate = [&](int64_t iteration) {
      copy_parameters(net, *eval_net);
      ClassifierScore sc = evaluate_classifier(*eval_net, *valid_list, k);
      std::printf("%lld: top-1 %.2f%%, top-%d %.2f%% on %zu validation images\n", static_cast<long long>(iteration),
                  sc.top1() * 100, k, sc.topk() * 100, sc.images);
      return sc.top1();
    };
  }
  if (!run_training_loop(trainer, chart, loop)) return;
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
                       add_training_device_options(app, a->device);
                       app.callback([a] { run_train(*a); });
                     });

}  // namespace
}  // namespace mishnet::cli

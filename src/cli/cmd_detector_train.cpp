// mishnet detector train DATA CFG [WEIGHTS] [-map] [-map_every N] [-dont_show] [-clear] [-seed N]
// [-max_batches N]: YOLO training from a Darknet .data file, with mAP@0.5 on the valid list and
// _best.weights under -map (docs/commands.md, docs/data.md).
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "cli/command.h"
#include "cli/training_setup.h"
#include "layers/yolo.h"
#include "mishnet/cfg.h"
#include "mishnet/data_file.h"
#include "mishnet/detection_data.h"
#include "mishnet/detection_eval.h"
#include "mishnet/error.h"
#include "mishnet/multi_scale.h"
#include "mishnet/trainer.h"
#include "train/training_chart.h"
#include "train/training_loop.h"

namespace mishnet::cli {
namespace {

struct DetectorTrainArgs {
  std::string data, cfg, weights;
  bool map = false, clear = false, dont_show = false;
  uint64_t seed = 0;
  bool seed_given = false;
  int64_t max_batches = 0;
  int64_t map_every = 0;
  int threads = 2;
  int show_problems = 20;
  std::string chart = "chart.png";
  NetworkArgs net;
  TrainingDeviceArgs device;
};

void run_detector_train(DetectorTrainArgs& a) {
  const std::vector<int> gpus = check_training_device(a.device, a.net.force_reference);
  DataFile data = DataFile::parse_file(a.data);
  TrainingSetup setup = build_training_network(a.cfg, a.weights, a.net, a.seed, a.seed_given);
  Network& net = setup.net;
  a.seed = setup.seed;
  const NetConfig& nc = net.config();

  const DetectionNetOptions head = detection_net_options(net);
  const int classes = data.get_int("classes", head.classes);
  if (classes != head.classes)
    fail(a.data, ": classes=", classes, " but the [yolo] layers of ", a.cfg, " have classes=", head.classes);
  const MultiScale multi_scale =
      MultiScale::from_network(net, a.max_batches > 0 ? a.max_batches : nc.max_batches);

  DetectionList train_list = read_detection_list(data.existing_file("train"), classes);
  std::printf("%s\n", train_list.summary().c_str());
  const int shown = std::min<int>(int(train_list.problems.size()), a.show_problems);
  for (int i = 0; i < shown; ++i) std::printf("  %s\n", train_list.problems[size_t(i)].c_str());
  if (shown < int(train_list.problems.size()))
    std::printf("  ... and %zu more problems\n", train_list.problems.size() - size_t(shown));
  const size_t train_images = train_list.images.size();

  DetectionLoaderOptions lo;
  lo.batch = net.batch();
  lo.seed = a.seed;
  lo.threads = a.threads;
  lo.multi_scale = multi_scale;
  lo.subdivisions = nc.subdivisions;
  DetectionLoader loader(std::move(train_list), nc, head, lo);

  TrainerOptions to = trainer_options_for(data, a.cfg, a.seed, a.max_batches);
  to.multi_scale = multi_scale;
  const Cfg cfg = parse_cfg_file(a.cfg);
  to.resize = [&cfg, &setup](Network& n, InputSize size) {
    resize_training_network(n, cfg, setup.options, size);
    std::printf("Resizing to %dx%d (multi-scale training)\n", size.width, size.height);
  };
  const std::unique_ptr<TrainingDevice> device = make_training_device(setup, a.cfg, gpus);
  to.device = device.get();
  Trainer trainer(net, loader, to);
  if (!a.weights.empty()) {
    trainer.resume(a.weights, a.clear);
    loader.set_seed(trainer.seed());
  }

  // mAP during training: an inference copy of the network (batch 1), as `detector map` runs.
  std::unique_ptr<Network> eval_net;
  std::string valid_path;
  double best_map = -1;
  TrainingLoopOptions loop;
  if (a.map) {
    valid_path = data.existing_file("valid");
    NetworkOptions eo = setup.options;
    eo.batch = 1;
    eval_net = std::make_unique<Network>(Network::from_cfg(parse_cfg_file(a.cfg), eo));
    // Darknet: every 4 epochs, at least every 100 iterations apart.
    loop.eval_every = a.map_every > 0 ? a.map_every
                                      : std::max<int64_t>(100, 4 * int64_t(train_images) / int64_t(nc.batch));
    loop.evaluate = [&](int64_t iteration) {
      copy_parameters(net, *eval_net);
      MapOptions mo;
      mo.coco = false;
      MapReport r = evaluate_map_on_list(*eval_net, valid_path, classes, mo);
      std::printf("%lld: mAP@0.50 = %.4f on %d validation images (precision %.3f, recall %.3f, F1 %.3f at thresh %.2f)",
                  static_cast<long long>(iteration), r.map, r.images, r.precision, r.recall, r.f1,
                  double(mo.thresh));
      if (r.map > best_map) {
        best_map = r.map;
        const std::string best = trainer.checkpoint_path("best");
        trainer.save(best);
        std::printf("; best so far: saved %s", best.c_str());
      }
      std::printf("\n");
      return r.map;
    };
  }

  // Darknet's per-head figures after each iteration's loss line: IoU, class, objectness at the
  // trained anchors, objectness elsewhere, recall at 0.5 and the anchors trained.
  // (Looked up each time: multi-scale training rebuilds the layers.)
  loop.iteration_note = [&net] {
    std::string note;
    char buf[160];
    for (int i = 0; i < net.num_layers(); ++i) {
      auto* y = dynamic_cast<const YoloLayer*>(&net.layer(i));
      if (!y) continue;
      const YoloStats& st = y->last_stats();
      std::snprintf(buf, sizeof(buf), "; [yolo %d] IoU %.3f class %.3f obj %.3f no-obj %.4f .5R %.3f count %d",
                    y->index, double(st.avg_iou), double(st.avg_class), double(st.avg_obj),
                    double(st.avg_no_obj), double(st.recall50), st.count);
      note += buf;
    }
    return note;
  };

  TrainingChart chart(a.chart, std::filesystem::path(to.backup_dir) / (to.name + "_log.csv"), trainer.max_batches(),
                      a.map ? "mAP@0.5" : "", trainer.iteration());
  std::printf("Training %s on %zu images (%d classes), %dx%d, batch %d = %d x %d, seed %llu, iterations %lld..%lld%s\n",
              a.cfg.c_str(), train_images, classes, nc.width, nc.height, nc.batch, nc.subdivisions, net.batch(),
              static_cast<unsigned long long>(trainer.seed()), static_cast<long long>(trainer.iteration()),
              static_cast<long long>(trainer.max_batches()),
              a.map ? (", mAP every " + std::to_string(loop.eval_every) + " iterations").c_str() : "");
  if (multi_scale.enabled()) {
    const InputSize largest = multi_scale.largest(), smallest = multi_scale.smallest();
    std::printf("Multi-scale training (random): %dx%d to %dx%d in steps of %d, a new size every %d iterations\n",
                smallest.width, smallest.height, largest.width, largest.height, multi_scale.resize_step,
                multi_scale.period);
  }
  std::fflush(stdout);
  const bool finished = run_training_loop(trainer, chart, loop);
  if (finished && best_map >= 0) std::printf("Best mAP@0.50 = %.4f\n", best_map);
  std::string summary = loader.skipped_summary();
  if (!summary.empty()) std::printf("%s\n", summary.c_str());
}

CommandRegistrar reg({"detector", "train"}, "Train a YOLO detector from a .data and a .cfg", [](CLI::App& app) {
  auto a = std::make_shared<DetectorTrainArgs>();
  app.add_option("data", a->data, ".data file (classes, train, valid, names, backup)")->required();
  app.add_option("cfg", a->cfg, "Network .cfg file")->required();
  app.add_option("weights", a->weights, "Weights to start from (e.g. a backbone) or a checkpoint to resume");
  app.add_flag("--map", a->map, "mAP@0.5 on the valid list every -map_every iterations; _best.weights, mAP on the chart");
  app.add_option("--map_every", a->map_every, "Iterations between mAP measurements (default: 4 epochs, at least 100)");
  app.add_flag("--clear", a->clear, "Start the iteration count afresh (fine-tuning)");
  app.add_flag("--dont_show", a->dont_show, "No window (mishnet never opens one while training; chart.png is written)");
  app.add_option("--seed", a->seed, "Seed of the run (default: random, printed)")
      ->each([a](const std::string&) { a->seed_given = true; });
  app.add_option("--max_batches", a->max_batches, "Override [net] max_batches");
  app.add_option("--loader_threads", a->threads, "Data loader threads (default 2)");
  app.add_option("--show_problems", a->show_problems, "Label problems listed at the start (default 20)");
  app.add_option("--chart", a->chart, "Chart file (default chart.png)");
  add_network_options(app, a->net);
  add_training_device_options(app, a->device);
  app.callback([a] { run_detector_train(*a); });
});

}  // namespace
}  // namespace mishnet::cli

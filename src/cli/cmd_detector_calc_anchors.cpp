// mishnet detector calc_anchors DATA -num_of_clusters N -width W -height H [-cfg CFG] [-seed S]
//
// Darknet's calc_anchors: the sizes of the training boxes (labels of the .data's train list,
// scaled to W x H) clustered by k-means with the distance 1 - IoU; prints the anchors (smallest
// first) and the average IoU of each box with its nearest anchor. With -cfg, the anchors= lines
// of the cfg's [yolo]/[region] sections are rewritten in place (their num= must equal N).
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>

#include "cli/command.h"
#include "mishnet/anchors.h"
#include "mishnet/data_file.h"
#include "mishnet/detection_labels.h"
#include "mishnet/error.h"

namespace mishnet::cli {
namespace {

struct CalcAnchorsArgs {
  std::string data, cfg;
  int clusters = 9, width = 0, height = 0;
  uint64_t seed = 1;
};

void run_calc_anchors(const CalcAnchorsArgs& a) {
  if (a.width <= 0 || a.height <= 0) fail("calc_anchors needs -width and -height (the network's input size)");
  DataFile data = DataFile::parse_file(a.data);
  const int classes = data.has("classes") ? data.get_int("classes", 0)
                                          : int(read_names_file(data.existing_file("names")).size());
  const std::vector<std::string> paths = read_image_list(data.existing_file("train"));
  std::printf("\n num_of_clusters = %d, width = %d, height = %d \n", a.clusters, a.width, a.height);
  std::vector<AnchorSize> sizes;
  std::vector<std::string> problems;
  for (const std::string& path : paths)
    for (const LabelBox& b : read_yolo_labels(label_path_for_image(path), classes, &problems))
      sizes.push_back({b.w * float(a.width), b.h * float(a.height)});
  for (size_t i = 0; i < problems.size() && i < 10; ++i) std::cerr << "warning: " << problems[i] << "\n";
  if (!problems.empty()) std::cerr << problems.size() << " label problems (bad lines skipped)\n";
  std::printf(" read %zu boxes from %zu images\n", sizes.size(), paths.size());
  AnchorClusters k = kmeans_anchors(sizes, a.clusters, a.seed);
  const bool decimals = a.width <= 32;  // [region] anchors in grid cells, as Darknet prints them
  std::printf(" k-means (IoU distance, seed %llu): %d iterations\n", static_cast<unsigned long long>(a.seed), k.iterations);
  std::printf(" avg IoU = %2.2f %% \n", k.avg_iou * 100);
  std::printf("anchors = %s\n", format_anchors(k.anchors, decimals).c_str());

  if (!a.cfg.empty()) {
    std::ifstream in(a.cfg, std::ios::binary);
    if (!in) fail(a.cfg, ": cannot open");
    std::stringstream text;
    text << in.rdbuf();
    in.close();
    std::vector<int> changed;
    std::string rewritten = rewrite_cfg_anchors(text.str(), a.cfg, k.anchors, &changed);
    std::ofstream out(a.cfg, std::ios::binary | std::ios::trunc);
    out << rewritten;
    out.flush();
    if (!out) fail(a.cfg, ": write failed");
    std::string lines;
    for (size_t i = 0; i < changed.size(); ++i) lines += (i ? ", " : "") + std::to_string(changed[i]);
    std::printf("rewrote anchors= on line%s %s of %s\n", changed.size() > 1 ? "s" : "", lines.c_str(), a.cfg.c_str());
  }
}

CommandRegistrar reg({"detector", "calc_anchors"}, "k-means anchors (IoU distance) from the training labels",
                     [](CLI::App& app) {
                       auto a = std::make_shared<CalcAnchorsArgs>();
                       app.add_option("data", a->data, ".data file (train=, classes= or names=)")->required();
                       app.add_option("--num_of_clusters", a->clusters, "Number of anchors (default 9)");
                       app.add_option("--width", a->width, "Network input width")->required();
                       app.add_option("--height", a->height, "Network input height")->required();
                       app.add_option("--cfg", a->cfg, "Rewrite the anchors= lines of this cfg");
                       app.add_option("--seed", a->seed, "Seed of the k-means++ draws (default 1)");
                       app.callback([a] { run_calc_anchors(*a); });
                     });

}  // namespace
}  // namespace mishnet::cli

// mishnet dataset coco2yolo INSTANCES.json IMAGES_DIR OUTDIR
// mishnet dataset yolo2coco DATA_OR_LIST NAMES OUT.json
//
// Converters between COCO's JSON and Darknet's YOLO layout (src/data/coco_convert.cpp).
#include <cstdio>
#include <iostream>
#include <memory>

#include "cli/command.h"
#include "mishnet/coco_convert.h"
#include "mishnet/data_file.h"
#include "mishnet/detection_labels.h"
#include "mishnet/error.h"

namespace mishnet::cli {
namespace {

void print_problems(const std::vector<std::string>& problems) {
  for (size_t i = 0; i < problems.size() && i < 10; ++i) std::cerr << "warning: " << problems[i] << "\n";
  if (problems.size() > 10) std::cerr << "warning: ... and " << problems.size() - 10 << " more\n";
}

struct Coco2YoloArgs {
  std::string instances, images_dir, out_dir;
};

void run_coco2yolo(const Coco2YoloArgs& a) {
  CocoToYoloReport rep = coco_to_yolo(a.instances, a.images_dir, a.out_dir);
  print_problems(rep.problems);
  std::printf("%d images, %d objects written (%d crowd regions and %d empty boxes skipped, %d images missing)\n",
              rep.images, rep.objects, rep.crowd_skipped, rep.invalid_skipped, rep.missing_images);
  std::printf("wrote %s, %s and %s\n", rep.list_path.c_str(), rep.names_path.c_str(), rep.data_path.c_str());
}

struct Yolo2CocoArgs {
  std::string list_or_data, names, out;
};

void run_yolo2coco(const Yolo2CocoArgs& a) {
  std::string list = a.list_or_data;
  if (list.size() > 5 && list.compare(list.size() - 5, 5, ".data") == 0)
    list = DataFile::parse_file(list).existing_file("valid");
  std::vector<std::string> problems;
  CocoGroundTruth gt = yolo_to_coco(read_image_list(list), read_names_file(a.names), &problems);
  print_problems(problems);
  write_coco_ground_truth(gt, a.out);
  std::printf("%zu images, %zu objects, %zu categories written to %s\n", gt.images.size(), gt.annotations.size(),
              gt.categories.size(), a.out.c_str());
}

CommandRegistrar coco2yolo({"dataset", "coco2yolo"}, "COCO instances JSON -> YOLO labels, list, names and .data",
                           [](CLI::App& app) {
                             auto a = std::make_shared<Coco2YoloArgs>();
                             app.add_option("instances", a->instances, "COCO instances JSON")->required();
                             app.add_option("images_dir", a->images_dir, "Directory of the JSON's file_name images")->required();
                             app.add_option("outdir", a->out_dir, "Where to write images/ (links), labels/, list.txt, obj.names, obj.data")->required();
                             app.callback([a] { run_coco2yolo(*a); });
                           });

CommandRegistrar yolo2coco({"dataset", "yolo2coco"}, "YOLO labels of a list -> COCO ground-truth JSON",
                           [](CLI::App& app) {
                             auto a = std::make_shared<Yolo2CocoArgs>();
                             app.add_option("list", a->list_or_data, "Image list, or a .data file (its valid= list)")->required();
                             app.add_option("names", a->names, ".names file (class names)")->required();
                             app.add_option("out", a->out, "Ground-truth JSON to write")->required();
                             app.callback([a] { run_yolo2coco(*a); });
                           });

}  // namespace
}  // namespace mishnet::cli

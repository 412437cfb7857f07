// mishnet dataset fashion-scenes OUTDIR: detection scenes composed from Fashion-MNIST items,
// with exact YOLO labels, a train/valid split and a .data file (docs/data.md).
#include <memory>

#include "cli/command.h"
#include "data/fashion_scenes.h"

namespace mishnet::cli {
namespace {

CommandRegistrar reg({"dataset", "fashion-scenes"},
                     "Compose detection scenes from Fashion-MNIST items (images, YOLO labels, lists, .data)",
                     [](CLI::App& app) {
                       auto a = std::make_shared<data::SceneDatasetOptions>();
                       app.add_option("outdir", a->out_dir, "Directory to write the dataset into")->required();
                       app.add_option("--source", a->source, "Directory of the IDX files (plain or .gz)")->capture_default_str();
                       app.add_option("--train", a->train, "Training scenes")->capture_default_str();
                       app.add_option("--valid", a->valid, "Validation scenes (from the test items)")->capture_default_str();
                       app.add_option("--size", a->scene.size, "Canvas side in pixels")->capture_default_str();
                       app.add_option("--min-item", a->scene.min_item, "Smallest item side in pixels")->capture_default_str();
                       app.add_option("--max-item", a->scene.max_item, "Largest item side (0: min(160, 45% of size))")->capture_default_str();
                       app.add_option("--max-items", a->scene.max_items, "Most items per scene")->capture_default_str();
                       app.add_option("--seed", a->seed, "Seed: the same seed writes the same files")->capture_default_str();
                       app.callback([a] { data::write_fashion_scene_dataset(*a); });
                     });

}  // namespace
}  // namespace mishnet::cli

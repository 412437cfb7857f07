// Detection scenes composed from Fashion-MNIST items: 1..6 items pasted at random positions and
// scales on a textured canvas, each labelled with the exact box of its non-zero pixels. They
// give the detector tests and the demo real, held-out data without a download
// (`mishnet dataset fashion-scenes`, docs/data.md).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "data/idx_file.h"
#include "mishnet/image.h"

namespace mishnet::data {

struct SceneOptions {
  int size = 256;          // canvas width and height, pixels
  int min_items = 1, max_items = 6;
  int min_item = 28;       // item side before the aspect jitter, pixels
  int max_item = 0;        // 0: min(160, 45% of size)
  float max_overlap = 0.1f;  // intersection / smaller box area allowed between two items
};

// A box in canvas pixels (continuous coordinates: the canvas spans [0, size]).
struct SceneBox {
  int class_id = 0;
  float left = 0, top = 0, right = 0, bottom = 0;
};

struct Scene {
  Image image;  // 3 channels
  std::vector<SceneBox> boxes;
};

// The tight box of the non-zero pixels of item `index` (28x28 in Fashion-MNIST), in item
// pixels [x0, x1) x [y0, y1); false when the item is blank.
bool item_tight_box(const IdxArray& items, size_t index, int& x0, int& y0, int& x1, int& y1);

// One scene, a function of (items, labels, options, seed) alone. Items are drawn uniformly from
// `items` (count x rows x cols unsigned bytes) with their class from `labels`.
Scene compose_scene(const IdxArray& items, const IdxArray& labels, const SceneOptions& options, uint64_t seed);

// Darknet label lines: "class x_centre y_centre width height", relative to the canvas, "%.6f".
std::string yolo_label_text(const Scene& scene);

struct SceneDatasetOptions {
  std::string source = "/usr/share/datasets/fashion-mnist";
  std::string out_dir;
  int train = 4000, valid = 500;
  uint64_t seed = 1;
  SceneOptions scene;
};

// Writes OUT/images/{train,valid}/NNNNNN.jpg, OUT/labels/{train,valid}/NNNNNN.txt (Darknet's
// label path rule), train.txt, valid.txt (absolute paths), fashion.names, scenes.data and
// backup/. Train scenes use the Fashion-MNIST training items, valid scenes the test items.
void write_fashion_scene_dataset(const SceneDatasetOptions& options);

}  // namespace mishnet::data

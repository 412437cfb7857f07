#include "data/fashion_scenes.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <numbers>

#include "data/augment.h"
#include "mishnet/error.h"
#include "mishnet/trainer.h"

namespace mishnet::data {

namespace fs = std::filesystem;

bool item_tight_box(const IdxArray& items, size_t index, int& x0, int& y0, int& x1, int& y1) {
  const int rows = int(items.dims[1]), cols = int(items.dims[2]);
  const uint8_t* px = items.values.data() + index * items.item_size();
  x0 = cols, y0 = rows, x1 = 0, y1 = 0;
  for (int y = 0; y < rows; ++y)
    for (int x = 0; x < cols; ++x)
      if (px[y * cols + x] != 0) {
        x0 = std::min(x0, x), y0 = std::min(y0, y);
        x1 = std::max(x1, x + 1), y1 = std::max(y1, y + 1);
      }
  return x1 > x0 && y1 > y0;
}

namespace {

// Dark, textured background: a base colour, three random gratings and pixel noise, so that
// the detector cannot find items by "anything non-black".
void paint_background(Image& im, Random& rng) {
  const int s = im.w;
  float base[3], amp[3][3], fx[3], fy[3], phase[3];
  for (float& b : base) b = rng.uniform(0.0f, 0.3f);
  for (int g = 0; g < 3; ++g) {
    const float period = rng.uniform(8.0f, float(s));
    const float angle = rng.uniform(0.0f, float(std::numbers::pi));
    fx[g] = std::cos(angle) * 2.0f * float(std::numbers::pi) / period;
    fy[g] = std::sin(angle) * 2.0f * float(std::numbers::pi) / period;
    phase[g] = rng.uniform(0.0f, 6.2832f);
    for (int c = 0; c < 3; ++c) amp[g][c] = rng.uniform(0.0f, 0.08f);
  }
  const float noise = rng.uniform(0.0f, 0.06f);
  for (int y = 0; y < s; ++y)
    for (int x = 0; x < s; ++x) {
      float wave[3];
      for (int g = 0; g < 3; ++g) wave[g] = std::sin(fx[g] * float(x) + fy[g] * float(y) + phase[g]);
      for (int c = 0; c < 3; ++c) {
        float v = base[c] + noise * rng.uniform(-1.0f, 1.0f);
        for (int g = 0; g < 3; ++g) v += amp[g][c] * wave[g];
        im.at(x, y, c) = std::clamp(v, 0.0f, 1.0f);
      }
    }
}

float item_pixel(const uint8_t* px, int cols, int rows, int x, int y) {
  if (x < 0 || y < 0 || x >= cols || y >= rows) return 0.0f;
  return float(px[y * cols + x]) / 255.0f;
}

// Pastes item pixels scaled to w x h at (left, top), tinted with `colour`; the item's
// intensity is its opacity. Bilinear with pixel centres at +0.5 (the item's continuous extent
// [0, cols] maps exactly onto [left, left + w]).
void paste_item(Image& im, const uint8_t* px, int cols, int rows, int left, int top, int w, int h,
                const float colour[3]) {
  const float sx = float(cols) / float(w), sy = float(rows) / float(h);
  for (int y = std::max(0, top); y < std::min(im.h, top + h); ++y)
    for (int x = std::max(0, left); x < std::min(im.w, left + w); ++x) {
      const float u = (float(x - left) + 0.5f) * sx - 0.5f, v = (float(y - top) + 0.5f) * sy - 0.5f;
      const int iu = int(std::floor(u)), iv = int(std::floor(v));
      const float du = u - float(iu), dv = v - float(iv);
      const float a = (1 - du) * (1 - dv) * item_pixel(px, cols, rows, iu, iv) +
                      du * (1 - dv) * item_pixel(px, cols, rows, iu + 1, iv) +
                      (1 - du) * dv * item_pixel(px, cols, rows, iu, iv + 1) +
                      du * dv * item_pixel(px, cols, rows, iu + 1, iv + 1);
      if (a <= 0.0f) continue;
      for (int c = 0; c < 3; ++c) im.at(x, y, c) = im.at(x, y, c) * (1 - a) + colour[c] * a;
    }
}

float overlap_of_smaller(const SceneBox& a, const SceneBox& b) {
  const float iw = std::min(a.right, b.right) - std::max(a.left, b.left);
  const float ih = std::min(a.bottom, b.bottom) - std::max(a.top, b.top);
  if (iw <= 0 || ih <= 0) return 0.0f;
  const float area_a = (a.right - a.left) * (a.bottom - a.top), area_b = (b.right - b.left) * (b.bottom - b.top);
  return iw * ih / std::min(area_a, area_b);
}

// "train-images-idx3-ubyte" or the same with ".gz".
std::string find_idx(const std::string& dir, const std::string& stem) {
  for (const std::string& name : {stem + ".gz", stem}) {
    fs::path p = fs::path(dir) / name;
    if (fs::exists(p)) return p.string();
  }
  fail(dir, ": has neither ", stem, ".gz nor ", stem,
       " (install Debian's dataset-fashion-mnist, or pass --source)");
}

void write_text(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) fail(path.string(), ": cannot create file");
  out << text;
  out.flush();
  if (!out) fail(path.string(), ": write error (disk full?)");
}

const char* const kFashionNames[] = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                     "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};

}  // namespace

Scene compose_scene(const IdxArray& items, const IdxArray& labels, const SceneOptions& o, uint64_t seed) {
  if (items.dims.size() != 3 || labels.count() != items.count() || items.count() == 0)
    fail("compose_scene: expected count x rows x cols items and as many labels");
  const int max_item = o.max_item > 0 ? o.max_item : std::min(160, int(float(o.size) * 0.45f));
  if (o.size < 32 || o.min_item < 4 || max_item < o.min_item || max_item > o.size || o.min_items < 0 ||
      o.max_items < o.min_items)
    fail("fashion scenes: bad geometry (size ", o.size, ", items ", o.min_item, "..", max_item, " px, ",
         o.min_items, "..", o.max_items, " per scene)");
  Random rng(seed);
  Scene scene;
  scene.image = Image(o.size, o.size, 3);
  paint_background(scene.image, rng);
  const int rows = int(items.dims[1]), cols = int(items.dims[2]);
  const int count = rng.integer(o.min_items, o.max_items);
  for (int n = 0; n < count; ++n) {
    // A few tries to find a place that does not cover the items already there.
    for (int attempt = 0; attempt < 50; ++attempt) {
      const size_t index = size_t(rng.integer(0, int(items.count()) - 1));
      int x0, y0, x1, y1;
      if (!item_tight_box(items, index, x0, y0, x1, y1)) continue;
      const int side = rng.integer(o.min_item, max_item);
      const float aspect = rng.uniform(0.85f, 1.15f);
      const int w = std::clamp(int(std::lround(float(side) * aspect)), 4, o.size);
      const int h = std::clamp(int(std::lround(float(side) / aspect)), 4, o.size);
      const int left = rng.integer(0, o.size - w), top = rng.integer(0, o.size - h);
      SceneBox box;
      box.class_id = int(labels.values[index]);
      box.left = float(left) + float(x0) * float(w) / float(cols);
      box.right = float(left) + float(x1) * float(w) / float(cols);
      box.top = float(top) + float(y0) * float(h) / float(rows);
      box.bottom = float(top) + float(y1) * float(h) / float(rows);
      bool clear = true;
      for (const SceneBox& other : scene.boxes) clear = clear && overlap_of_smaller(box, other) <= o.max_overlap;
      if (!clear) continue;
      float colour[3];
      for (float& c : colour) c = rng.uniform(0.45f, 1.0f);
      colour[rng.integer(0, 2)] = rng.uniform(0.85f, 1.0f);  // bright against the dark canvas
      paste_item(scene.image, items.values.data() + index * items.item_size(), cols, rows, left, top, w, h, colour);
      scene.boxes.push_back(box);
      break;
    }
  }
  return scene;
}

std::string yolo_label_text(const Scene& scene) {
  std::string text;
  const float w = float(scene.image.w), h = float(scene.image.h);
  for (const SceneBox& b : scene.boxes) {
    char line[128];
    std::snprintf(line, sizeof line, "%d %.6f %.6f %.6f %.6f\n", b.class_id, (b.left + b.right) / 2 / w,
                  (b.top + b.bottom) / 2 / h, (b.right - b.left) / w, (b.bottom - b.top) / h);
    text += line;
  }
  return text;
}

void write_fashion_scene_dataset(const SceneDatasetOptions& o) {
  if (o.train < 1 || o.valid < 1) fail("fashion scenes: --train and --valid must be at least 1");
  const fs::path out = fs::absolute(o.out_dir).lexically_normal();
  struct Split {
    const char* name;
    const char* idx_prefix;
    int count;
    uint64_t stream;
  };
  const Split splits[] = {{"train", "train", o.train, 1}, {"valid", "t10k", o.valid, 2}};
  for (const Split& split : splits) {
    IdxArray items = read_idx_file(find_idx(o.source, std::string(split.idx_prefix) + "-images-idx3-ubyte"));
    IdxArray labels = read_idx_file(find_idx(o.source, std::string(split.idx_prefix) + "-labels-idx1-ubyte"));
    if (items.dims.size() != 3 || labels.count() != items.count())
      fail(o.source, ": the ", split.idx_prefix, " images and labels do not match (", items.count(), " images, ",
           labels.count(), " labels)");
    const fs::path image_dir = out / "images" / split.name, label_dir = out / "labels" / split.name;
    fs::create_directories(image_dir);
    fs::create_directories(label_dir);
    std::string list;
    size_t boxes = 0;
    for (int i = 0; i < split.count; ++i) {
      Scene scene = compose_scene(items, labels, o.scene, derive_seed(derive_seed(o.seed, split.stream), uint64_t(i)));
      char stem[32];
      std::snprintf(stem, sizeof stem, "%06d", i);
      const fs::path image_path = image_dir / (std::string(stem) + ".jpg");
      save_image(scene.image, image_path.string());
      write_text(label_dir / (std::string(stem) + ".txt"), yolo_label_text(scene));
      list += image_path.string() + "\n";
      boxes += scene.boxes.size();
    }
    write_text(out / (std::string(split.name) + ".txt"), list);
    std::printf("%s: %d scenes (%dx%d), %zu items -> %s\n", split.name, split.count, o.scene.size, o.scene.size,
                boxes, image_dir.string().c_str());
  }
  std::string names;
  for (const char* n : kFashionNames) names += std::string(n) + "\n";
  write_text(out / "fashion.names", names);
  fs::create_directories(out / "backup");
  write_text(out / "scenes.data", "# Fashion-MNIST detection scenes, written by `mishnet dataset fashion-scenes`\n"
                                  "classes = 10\n"
                                  "train = " + (out / "train.txt").string() + "\n" +
                                  "valid = " + (out / "valid.txt").string() + "\n" +
                                  "names = " + (out / "fashion.names").string() + "\n" +
                                  "backup = " + (out / "backup").string() + "\n");
  std::printf("wrote %s\n", (out / "scenes.data").string().c_str());
}

}  // namespace mishnet::data

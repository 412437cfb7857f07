// Detection data: the list and its labels checked up front (bad lines reported file:line and
// skipped), the [yolo] truth a mini-batch carries, determinism of the loader (the content of
// mini-batch k depends only on the seed and k), and images that cannot be decoded.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>

#include "mishnet/detection_data.h"
#include "mishnet/image.h"
#include "test_util.h"

namespace mishnet {
namespace {

namespace fs = std::filesystem;

void write_text(const std::string& path, const std::string& text) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream out(path, std::ios::binary);
  out << text;
}

// images/<i>.png (64x48, a solid rectangle) with labels/<i>.txt; returns the list path.
std::string make_dataset(const std::string& dir, int count) {
  std::string list;
  for (int i = 0; i < count; ++i) {
    Image im(64, 48, 3, 0.1f);
    const int x0 = 4 + 3 * i, y0 = 6 + 2 * i;
    for (int y = y0; y < y0 + 20; ++y)
      for (int x = x0; x < x0 + 24; ++x) im.at(x, y, i % 3) = 1.0f;
    const std::string image = dir + "/images/" + std::to_string(i) + ".png";
    fs::create_directories(dir + "/images");
    save_image(im, image);
    char line[128];
    std::snprintf(line, sizeof line, "%d %.6f %.6f %.6f %.6f\n1 0.5 0.5 0.25 0.25\n", i % 3, (x0 + 12) / 64.0,
                  (y0 + 10) / 48.0, 24 / 64.0, 20 / 48.0);
    write_text(dir + "/labels/" + std::to_string(i) + ".txt", line);
    list += image + "\n";
  }
  write_text(dir + "/train.txt", list);
  return dir + "/train.txt";
}

NetConfig net_config(int w, int h) {
  NetConfig c;
  c.width = w, c.height = h, c.channels = 3;
  c.flip = false;
  return c;
}

DetectionNetOptions head(int max_boxes, float jitter = 0.0f) {
  DetectionNetOptions o;
  o.max_boxes = max_boxes;
  o.jitter = jitter;
  o.classes = 3;
  return o;
}

TEST(DetectionList, BadLabelsAreReportedWithFileAndLineAndSkipped) {
  const std::string dir = test::scratch_dir("detection_list_bad");
  std::string list_path = make_dataset(dir, 3);
  write_text(dir + "/labels/1.txt", "0 0.5 0.5 0.2 0.2\n7 0.5 0.5 0.2 0.2\n0 0.5 0.5\n1 0.5 0.5 0 0.1\n2 0.1 0.1 0.1 0.1\n");
  fs::remove(dir + "/labels/2.txt");
  write_text(list_path, dir + "/images/0.png\n" + dir + "/images/1.png\n\n" + dir + "/images/2.png\n" + dir +
                            "/images/missing.png\n");
  DetectionList list = read_detection_list(list_path, 3);
  ASSERT_EQ(list.images.size(), 3u);
  EXPECT_EQ(list.images[1].boxes.size(), 2u);  // lines 1 and 5
  EXPECT_EQ(list.images[1].boxes[1].line, 5);
  EXPECT_EQ(list.images[2].boxes.size(), 0u);
  EXPECT_EQ(list.bad_label_lines, 3);
  EXPECT_EQ(list.missing_label_files, 1);
  EXPECT_EQ(list.missing_images, 1);
  EXPECT_EQ(list.boxes, 4u);
  auto has = [&](const std::string& needle) {
    return std::any_of(list.problems.begin(), list.problems.end(),
                       [&](const std::string& p) { return p.find(needle) != std::string::npos; });
  };
  EXPECT_TRUE(has(dir + "/labels/1.txt:2:"));
  EXPECT_TRUE(has(dir + "/labels/1.txt:3:"));
  EXPECT_TRUE(has(dir + "/labels/1.txt:4:"));
  EXPECT_FALSE(has(dir + "/labels/1.txt:5:"));
  EXPECT_TRUE(has("missing.png: image file not found"));
  EXPECT_NE(list.summary().find("3 images, 4 boxes; 3 bad label lines skipped, 1 image without a label file, "
                                "1 missing image skipped"),
            std::string::npos)
      << list.summary();
  write_text(list_path, dir + "/images/missing.png\n");
  EXPECT_THROW(read_detection_list(list_path, 3), Error);
}

TEST(DetectionLoader, TruthHoldsTheLabelsInTheYoloLayout) {
  const std::string dir = test::scratch_dir("detection_loader_truth");
  DetectionList list = read_detection_list(make_dataset(dir, 3), 3);
  DetectionLoaderOptions o;
  o.batch = 2, o.augment = false, o.shuffle = false, o.threads = 0;
  const int max_boxes = 4;
  DetectionLoader loader(list, net_config(32, 32), head(max_boxes), o);
  ASSERT_EQ(loader.truth_floats(), size_t(max_boxes) * 5);
  std::vector<float> images(2 * loader.image_floats()), truth(2 * loader.truth_floats(), -1.0f);
  loader.fill(1, images.data(), truth.data());  // images 2 and 0 (list order, wrapping)
  for (int b = 0; b < 2; ++b) {
    const DetectionImage& expected = list.images[size_t(b == 0 ? 2 : 0)];
    const float* t = truth.data() + size_t(b) * loader.truth_floats();
    // The loader shuffles box order (Darknet's randomize_boxes): match by class.
    for (const LabelBox& l : expected.boxes) {
      bool found = false;
      for (int i = 0; i < 2; ++i) {
        const float* box = t + i * 5;
        if (int(box[4]) != l.class_id || std::fabs(box[0] - l.x) > 1e-5f) continue;
        found = true;
        EXPECT_NEAR(box[1], l.y, 1e-5f);
        EXPECT_NEAR(box[2], l.w, 1e-5f);
        EXPECT_NEAR(box[3], l.h, 1e-5f);
      }
      EXPECT_TRUE(found) << "class " << l.class_id << " x " << l.x;
    }
    for (int i = 10; i < max_boxes * 5; ++i) EXPECT_EQ(t[i], 0.0f) << "unused entries must be zero";
  }
}

std::vector<float> batch_bytes(DetectionLoader& loader, int64_t k, int batch) {
  std::vector<float> images(size_t(batch) * loader.image_floats()), truth(size_t(batch) * loader.truth_floats());
  loader.fill(k, images.data(), truth.data());
  images.insert(images.end(), truth.begin(), truth.end());
  return images;
}

TEST(DetectionLoader, MiniBatchDependsOnlyOnSeedAndIndex) {
  const std::string dir = test::scratch_dir("detection_loader_determinism");
  DetectionList list = read_detection_list(make_dataset(dir, 5), 3);
  NetConfig c = net_config(40, 32);
  c.flip = true, c.hue = 0.1f, c.saturation = 1.5f, c.exposure = 1.5f, c.mosaic = 1, c.blur = 1,
  c.gaussian_noise = 10;
  DetectionLoaderOptions o;
  o.batch = 3, o.seed = 11;
  o.threads = 0;
  DetectionLoader serial(list, c, head(6, 0.3f), o);
  o.threads = 3;
  DetectionLoader threaded(list, c, head(6, 0.3f), o);
  std::vector<std::vector<float>> expected;
  for (int64_t k = 0; k < 5; ++k) expected.push_back(batch_bytes(serial, k, 3));
  for (int64_t k = 4; k >= 0; --k)
    EXPECT_EQ(batch_bytes(threaded, k, 3), expected[size_t(k)]) << "mini-batch " << k << " asked for out of order";
  EXPECT_EQ(batch_bytes(threaded, 2, 3), expected[2]);
  EXPECT_NE(expected[0], expected[1]);
  threaded.set_seed(12);
  EXPECT_NE(batch_bytes(threaded, 0, 3), expected[0]) << "another seed, other batches";
  threaded.set_seed(11);
  EXPECT_EQ(batch_bytes(threaded, 3, 3), expected[3]);
}

TEST(DetectionLoader, UndecodableImagesAreReplacedAndReported) {
  const std::string dir = test::scratch_dir("detection_loader_broken");
  std::string list_path = make_dataset(dir, 3);
  write_text(dir + "/images/1.png", "not a png");
  DetectionList list = read_detection_list(list_path, 3);
  DetectionLoaderOptions o;
  o.batch = 3, o.augment = false, o.shuffle = false, o.threads = 0;
  DetectionLoader loader(list, net_config(32, 32), head(4), o);
  std::vector<float> a = batch_bytes(loader, 0, 3);
  const size_t per = loader.image_floats();
  // Image 1 is replaced by image 2.
  EXPECT_TRUE(std::equal(a.begin() + long(per), a.begin() + long(2 * per), a.begin() + long(2 * per)));
  EXPECT_NE(loader.skipped_summary().find("1 image could not be decoded"), std::string::npos)
      << loader.skipped_summary();
}

}  // namespace
}  // namespace mishnet

// Detection training data as Darknet lays it out: an image list, a YOLO label file per image
// (detection_labels.h), and DetectionLoader, which turns them into augmented mini-batches with
// the [yolo] truth layout for the Trainer. docs/data.md has the conventions, the augmentation
// options and the determinism rule.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "mishnet/detection_labels.h"
#include "mishnet/multi_scale.h"
#include "mishnet/network.h"
#include "mishnet/trainer.h"

namespace mishnet {

struct DetectionImage {
  std::string path;
  std::vector<LabelBox> boxes;  // valid lines of its label file
};

// A list with its labels read and checked up front.
struct DetectionList {
  std::string list_path;
  int classes = 0;
  std::vector<DetectionImage> images;  // images that exist
  // Every problem found, one line each ("labels/3.txt:2: class id 12 is outside 0..9 (line
  // skipped)", "img/4.jpg: image file not found (skipped)").
  std::vector<std::string> problems;
  size_t boxes = 0;
  int bad_label_lines = 0;
  int missing_label_files = 0;  // images taken as having no objects
  int missing_images = 0;       // left out of `images`

  // "train.txt: 4000 images, 13981 boxes; 2 bad label lines skipped, 0 images without a
  // label file, 1 missing image skipped"
  std::string summary() const;
};

// Reads the list (read_image_list) and each image's labels (label_path_for_image,
// read_yolo_labels). Bad label lines and missing images are recorded, not fatal; a list with no
// existing image is an error.
DetectionList read_detection_list(const std::string& list_path, int classes);

struct DetectionLoaderOptions {
  int batch = 1;         // images per mini-batch (the network's batch)
  uint64_t seed = 1;
  // true: Darknet's detector training augmentation from [net] and the last [yolo]. false: each
  // image resized (or letterboxed) to the network, boxes mapped, nothing random.
  bool augment = true;
  bool shuffle = true;   // a fresh permutation of the list per epoch (else list order)
  int threads = 2;       // loader threads; 0 builds each mini-batch inside fill()
  int prefetch = 3;      // mini-batches prepared ahead
  // Multi-scale training: mini-batch k is built at multi_scale.size_at(seed, k / subdivisions)
  // (the cfg's size when off).
  MultiScale multi_scale;
  int subdivisions = 1;
};

// The augmentation options of a network: [net] and the jitter, resize and `max` of its last
// [yolo] layer (Darknet takes them from there). Throws when the network has no [yolo] layer.
struct DetectionNetOptions {
  float jitter = 0.2f, resize = 1.0f;
  int max_boxes = 200;
  int classes = 0;
};
DetectionNetOptions detection_net_options(const Network& net);

// Mini-batches of (image, truth) for detection. Mini-batch k holds the images at global
// positions k*batch ... k*batch+batch-1; the image at position g, its mixing partners and all
// its random draws come from generators seeded from (seed, g) and (seed, epoch): the content
// depends only on the seed and k. Images that cannot be decoded are reported once on std::cerr
// and replaced by the next image in the list that loads.
class DetectionLoader : public BatchSource {
 public:
  DetectionLoader(DetectionList list, const NetConfig& net, const DetectionNetOptions& head,
                  DetectionLoaderOptions options);
  ~DetectionLoader() override;
  DetectionLoader(const DetectionLoader&) = delete;
  DetectionLoader& operator=(const DetectionLoader&) = delete;

  // images: batch x channels x height x width (the size of the mini-batch's iteration);
  // truth: batch x (max_boxes * 5).
  void fill(int64_t minibatch_index, float* images, float* truth) override;

  void set_seed(uint64_t seed);
  uint64_t seed() const;
  size_t image_floats() const;  // per image, at the cfg's size
  size_t truth_floats() const;  // per image
  const DetectionList& list() const;
  // "2 images could not be decoded and were replaced ... : a.jpg, b.jpg"; empty when none.
  std::string skipped_summary() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mishnet

// Classification training data as Darknet lays it out: a list file of image paths, a labels
// file of class labels, and the class of each image found as the label that its file name
// contains. ClassificationLoader turns them into augmented mini-batches for the Trainer.
// docs/data.md has the conventions, the augmentation options and the determinism rule.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "mishnet/data_file.h"
#include "mishnet/net_config.h"
#include "mishnet/trainer.h"

namespace mishnet {

// The labels images are matched against: the .data `labels` file, else its `names` file
// (Darknet's classifier reads `labels`; `names` is the display name list). When the .data has
// `classes`, the file must hold exactly that many labels.
std::vector<std::string> classification_labels(const DataFile& data);

// The class of an image path: the one label that its file name (the part after the last '/'
// or '\\') contains, as Darknet's fill_truth. When the file name contains none, the whole path
// is searched (images sorted into one folder per class). Returns -1 when no label matches and
// -2 when more than one does; `matches` (if given) receives the indices that matched.
int find_class_of_path(const std::string& path, const std::vector<std::string>& labels,
                       std::vector<int>* matches = nullptr);

struct LabelledImage {
  std::string path;  // as resolved (see read_classification_list)
  int class_id = 0;
  int line = 0;      // in the list file
};

struct ClassificationList {
  std::string list_path;
  std::vector<std::string> labels;
  std::vector<LabelledImage> images;
};

// Reads a list file: one image path per line, '\r' and surrounding spaces trimmed, blank lines
// skipped. A relative path is taken from the working directory (Darknet's convention) and,
// when no file is there, from the list file's directory (so a dataset directory can move).
// Each image must match exactly one label: "train.list:12: 'img/3_top_shirt.png' matches 2
// labels (shirt, top)" and "... matches no label" are errors. An empty list is an error.
ClassificationList read_classification_list(const std::string& list_path, std::vector<std::string> labels);
// The list named by .data key `key` ("train" or "valid") with classification_labels(data).
ClassificationList read_classification_list(const DataFile& data, const std::string& key);

struct ClassificationLoaderOptions {
  int batch = 1;          // images per mini-batch (the network's batch: [net] batch / subdivisions)
  uint64_t seed = 1;
  // true: Darknet's training data (load_data_augment): random crop/scale/rotation, flip, HSV,
  // mixup/cutmix/mosaic, blur and label smoothing from [net]. false: Darknet's load_data_old
  // (resize to the network, one-hot truth): for validation.
  bool augment = true;
  // true: every epoch visits the images in a fresh permutation drawn from the seed. false: list
  // order (mini-batch k holds images k*batch ... k*batch+batch-1, wrapping round the list).
  bool shuffle = true;
  int threads = 2;   // loader threads; 0 builds each mini-batch inside fill()
  int prefetch = 3;  // mini-batches prepared ahead of the one being trained on
};

// Mini-batches of (image, truth) for classification. Mini-batch k holds the images of global
// positions k*batch ... k*batch+batch-1; the image at position g and all its random draws come
// from generators seeded from (seed, g) and (seed, epoch), so the content depends only on the
// seed and k: not on the number of threads, their timing, or what was asked for before.
// Images that are missing or cannot be decoded are reported once on std::cerr, replaced by the
// next image in the list that loads, and counted (skipped_summary()).
class ClassificationLoader : public BatchSource {
 public:
  // `net` supplies width, height, channels and the augmentation options; the truth has one
  // float per label of `list`.
  ClassificationLoader(ClassificationList list, const NetConfig& net, ClassificationLoaderOptions options);
  ~ClassificationLoader() override;
  ClassificationLoader(const ClassificationLoader&) = delete;
  ClassificationLoader& operator=(const ClassificationLoader&) = delete;

  // images: batch x channels x height x width; truth: batch x classes. The caller checks that
  // classes() equals the network's truth_floats() and image_floats() its input size per image.
  void fill(int64_t minibatch_index, float* images, float* truth) override;

  // Changes the seed (a resumed run takes the one its checkpoint saved); drops prefetched work.
  void set_seed(uint64_t seed);
  uint64_t seed() const;

  int batch() const;
  int classes() const;
  size_t image_floats() const;  // per image
  size_t num_images() const;
  const ClassificationList& list() const;

  // Images that could not be loaded so far (each path once), and how many times one was
  // replaced (prefetched mini-batches included).
  std::vector<std::string> skipped_paths() const;
  int64_t replacements() const;
  // "2 images could not be loaded and were replaced by the next image in the list (14 times): a.png, b.png";
  // empty when every image loaded.
  std::string skipped_summary() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mishnet

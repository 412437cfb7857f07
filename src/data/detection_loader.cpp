// DetectionLoader: per-image augmentation (detection_augment.h) on prefetch threads
// (prefetch_window.h), with the determinism rule of the classification loader: position g of
// the training sequence is image perm_e[g mod N] of epoch e = g / N, and every random draw for
// it (window, flip, colour, blur, noise, mixing partners) comes from one generator seeded with
// (seed, g). Mini-batch k is therefore a function of (seed, k) alone.
#include <algorithm>
#include <cstring>
#include <iostream>
#include <mutex>
#include <sstream>

#include "data/detection_augment.h"
#include "data/epoch_order.h"
#include "data/prefetch_window.h"
#include "layers/yolo.h"
#include "mishnet/detection_data.h"
#include "mishnet/error.h"
#include "mishnet/image.h"

namespace mishnet {

namespace {

// Streams of the seed, apart from the trainer's derive_seed(seed, iteration) and from the
// classification loader's tags (~0-1, ~0-2).
constexpr uint64_t kPermutationStream = ~uint64_t(0) - 11;
constexpr uint64_t kAugmentStream = ~uint64_t(0) - 12;

}  // namespace

DetectionNetOptions detection_net_options(const Network& net) {
  const YoloLayer* last = nullptr;
  for (int i = 0; i < net.num_layers(); ++i)
    if (auto* y = dynamic_cast<const YoloLayer*>(&net.layer(i))) last = y;
  if (!last) fail(net.cfg_path(), ": detector training needs a [yolo] layer");
  DetectionNetOptions o;
  o.jitter = last->options().jitter;
  o.resize = last->options().resize;
  o.classes = last->options().classes;
  o.max_boxes = int(net.truth_floats() / 5);
  return o;
}

struct DetectionLoader::Impl {
  DetectionList list;
  data::DetectionAugmentSettings settings;
  DetectionLoaderOptions options;
  size_t image_floats = 0, truth_floats = 0;

  mutable std::mutex skip_mutex;
  std::vector<char> bad;
  std::vector<std::string> bad_paths;
  int64_t replacements = 0;

  // Which list entry each position reads (a seeded shuffle per epoch).
  std::unique_ptr<data::EpochOrder> order;

  std::unique_ptr<data::PrefetchWindow> window;

  // Image `index` or the next one that decodes, with its boxes in pixels (in random order, as
  // Darknet's randomize_boxes: which boxes survive `max` must not favour the first lines).
  Image load(size_t index, std::vector<data::PixelBox>& boxes, data::Random& rng) {
    const size_t n = list.images.size();
    for (size_t t = 0; t < n; ++t) {
      const size_t j = (index + t) % n;
      {
        std::lock_guard<std::mutex> lock(skip_mutex);
        if (bad[j]) continue;
      }
      try {
        Image im = load_image(list.images[j].path, settings.channels);
        if (t > 0) {
          std::lock_guard<std::mutex> lock(skip_mutex);
          ++replacements;
        }
        boxes.clear();
        for (const LabelBox& l : list.images[j].boxes) boxes.push_back(data::to_pixels(l, im.w, im.h));
        for (size_t i = boxes.size(); i > 1; --i) std::swap(boxes[i - 1], boxes[size_t(rng.integer(0, int(i - 1)))]);
        return im;
      } catch (const Error& e) {
        std::lock_guard<std::mutex> lock(skip_mutex);
        if (!bad[j]) {
          bad[j] = 1;
          bad_paths.push_back(list.images[j].path);
          std::cerr << "warning: " << list.list_path << ": skipping image: " << e.what()
                    << " (the next image in the list takes its place)\n";
        }
      }
    }
    fail(list.list_path, ": none of its ", n, " images could be loaded");
  }

  data::DetectionSample sample_of(size_t index, const data::DetectionAugmentSettings& at,
                                  data::Random& rng) {
    std::vector<data::PixelBox> boxes;
    Image decoded = load(index, boxes, rng);
    return data::augment_detection_image(decoded, boxes, at, options.augment, rng);
  }

  void make_sample(int64_t position, uint64_t seed, const data::DetectionAugmentSettings& at,
                   float* image_out, float* truth_out) {
    data::Random rng(derive_seed(derive_seed(seed, kAugmentStream), uint64_t(position)));
    data::DetectionSample sample = sample_of(order->image_at(position, seed), at, rng);
    if (options.augment && settings.mix != data::MixMode::none && rng.coin()) {
      data::MixMode mode = settings.mix;
      if (mode == data::MixMode::cutmix_or_mosaic) mode = data::MixMode(rng.integer(2, 3));
      const int count = mode == data::MixMode::mosaic ? 3 : 1;
      data::DetectionSample partners[3];
      for (int p = 0; p < count; ++p)
        partners[p] = sample_of(size_t(rng.integer(0, int(list.images.size()) - 1)), at, rng);
      data::mix_detection_samples(sample, partners, mode, rng);
    }
    std::copy(sample.image.data.begin(), sample.image.data.end(), image_out);
    data::fill_detection_truth(sample.boxes, at.width, at.height, at.max_boxes, truth_out);
  }

  // Mini-batch k belongs to iteration k / subdivisions, whose input size multi-scale training
  // chooses (the cfg's size when it is off).
  void build(int64_t k, uint64_t seed, data::BuiltBatch& out) {
    data::DetectionAugmentSettings at = settings;
    const InputSize size = options.multi_scale.size_at(seed, k / options.subdivisions);
    at.width = size.width;
    at.height = size.height;
    const size_t floats = size_t(at.width) * size_t(at.height) * size_t(at.channels);
    const int b = options.batch;
    out.images.resize(size_t(b) * floats);
    out.truth.resize(size_t(b) * truth_floats);
    for (int i = 0; i < b; ++i)
      make_sample(k * b + i, seed, at, out.images.data() + size_t(i) * floats,
                  out.truth.data() + size_t(i) * truth_floats);
  }
};

DetectionLoader::DetectionLoader(DetectionList list, const NetConfig& net, const DetectionNetOptions& head,
                                 DetectionLoaderOptions options)
    : impl_(std::make_unique<Impl>()) {
  Impl& d = *impl_;
  if (list.images.empty()) fail(list.list_path, ": the image list holds no images");
  if (options.batch < 1) fail("DetectionLoader: batch must be at least 1, got ", options.batch);
  if (options.threads < 0) fail("DetectionLoader: threads must not be negative, got ", options.threads);
  if (options.subdivisions < 1) fail("DetectionLoader: subdivisions must be at least 1, got ", options.subdivisions);
  if (list.images.size() > size_t(INT32_MAX)) fail(list.list_path, ": more than 2^31 images");
  if (head.classes > 0 && list.classes != head.classes)
    fail(list.list_path, ": read for ", list.classes, " classes, the network's [yolo] has classes=", head.classes);
  d.settings = data::DetectionAugmentSettings::from_net(net, head.jitter, head.resize, head.max_boxes);
  d.list = std::move(list);
  d.options = options;
  d.options.multi_scale.base = {d.settings.width, d.settings.height};  // the cfg's size
  d.image_floats = size_t(d.settings.width) * size_t(d.settings.height) * size_t(d.settings.channels);
  d.truth_floats = size_t(d.settings.max_boxes) * 5;
  d.bad.assign(d.list.images.size(), 0);
  d.order = std::make_unique<data::EpochOrder>(d.list.images.size(), kPermutationStream, d.options.shuffle);
  d.window = std::make_unique<data::PrefetchWindow>(
      [&d](int64_t k, uint64_t seed, data::BuiltBatch& out) { d.build(k, seed, out); }, options.threads,
      options.prefetch, options.seed);
}

DetectionLoader::~DetectionLoader() { impl_->window.reset(); }

void DetectionLoader::fill(int64_t minibatch_index, float* images, float* truth) {
  if (minibatch_index < 0) fail("DetectionLoader: mini-batch index ", minibatch_index, " is negative");
  data::BuiltBatch b = impl_->window->fetch(minibatch_index);
  std::memcpy(images, b.images.data(), b.images.size() * sizeof(float));
  std::memcpy(truth, b.truth.data(), b.truth.size() * sizeof(float));
}

void DetectionLoader::set_seed(uint64_t seed) { impl_->window->set_seed(seed); }
uint64_t DetectionLoader::seed() const { return impl_->window->seed(); }
size_t DetectionLoader::image_floats() const { return impl_->image_floats; }
size_t DetectionLoader::truth_floats() const { return impl_->truth_floats; }
const DetectionList& DetectionLoader::list() const { return impl_->list; }

std::string DetectionLoader::skipped_summary() const {
  std::lock_guard<std::mutex> lock(impl_->skip_mutex);
  if (impl_->bad_paths.empty()) return "";
  std::ostringstream s;
  const bool one = impl_->bad_paths.size() == 1;
  s << impl_->bad_paths.size() << (one ? " image" : " images") << " could not be decoded and "
    << (one ? "was" : "were") << " replaced by the next image in the list (" << impl_->replacements
    << (impl_->replacements == 1 ? " time" : " times") << "):";
  const size_t shown = std::min<size_t>(impl_->bad_paths.size(), 10);
  for (size_t i = 0; i < shown; ++i) s << (i ? ", " : " ") << impl_->bad_paths[i];
  if (shown < impl_->bad_paths.size()) s << ", ... (" << impl_->bad_paths.size() - shown << " more)";
  return s.str();
}

}  // namespace mishnet

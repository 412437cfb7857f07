// ClassificationLoader: loader threads (prefetch_window.h) build upcoming mini-batches (a bounded window of
// `prefetch` of them) while the trainer works on the current one.
//
// Determinism: mini-batch k holds the images at global positions g = k*batch + i. Which image
// sits at g comes from the permutation of epoch g / N (drawn from the seed and the epoch), and
// every augmentation draw for it from a generator seeded with derive_seed(augment seed, g).
// A worker therefore needs nothing but (seed, k) to build mini-batch k, so any number of
// threads, in any order, produce the same bytes; an out-of-order request (a resumed run) just
// restarts the window there.
#include <algorithm>
#include <cstring>
#include <iostream>
#include <mutex>
#include <sstream>

#include "data/augment.h"
#include "data/epoch_order.h"
#include "data/prefetch_window.h"
#include "mishnet/classification_data.h"
#include "mishnet/error.h"
#include "mishnet/image.h"

namespace mishnet {

namespace {

// Independent streams from one seed; the tags keep them apart from the trainer's own
// derive_seed(seed, iteration) generators, whose counters are small.
constexpr uint64_t kPermutationStream = ~uint64_t(0) - 1;
constexpr uint64_t kAugmentStream = ~uint64_t(0) - 2;

}  // namespace

struct ClassificationLoader::Impl {
  ClassificationList list;
  data::AugmentSettings settings;
  ClassificationLoaderOptions options;
  size_t image_floats = 0;
  size_t classes = 0;

  // Images that failed to load, each reported once.
  mutable std::mutex skip_mutex;
  std::vector<char> bad;
  std::vector<std::string> bad_paths;
  int64_t replacements = 0;

  // Which list entry each position reads (a seeded shuffle per epoch).
  std::unique_ptr<data::EpochOrder> order;

  // Mini-batches built ahead on the loader threads (prefetch_window.h).
  std::unique_ptr<data::PrefetchWindow> window;

  // Decodes image `index`, or the next one in the list that loads; `used` receives its index.
  Image load(size_t index, size_t& used) {
    const size_t n = list.images.size();
    for (size_t t = 0; t < n; ++t) {
      size_t j = (index + t) % n;
      {
        std::lock_guard<std::mutex> lock(skip_mutex);
        if (bad[j]) continue;
      }
      try {
        Image im = load_image(list.images[j].path, settings.channels);
        used = j;
        if (t > 0) {
          std::lock_guard<std::mutex> lock(skip_mutex);
          ++replacements;
        }
        return im;
      } catch (const Error& e) {
        std::lock_guard<std::mutex> lock(skip_mutex);
        if (!bad[j]) {
          bad[j] = 1;
          bad_paths.push_back(list.images[j].path);
          std::cerr << "warning: " << list.list_path << ":" << list.images[j].line << ": skipping image: " << e.what()
                    << " (the next image in the list takes its place)\n";
        }
      }
    }
    fail(list.list_path, ": none of its ", n, " images could be loaded");
  }

  void make_sample(int64_t position, uint64_t seed_value, float* image_out, float* truth_out) {
    size_t used = 0;
    Image decoded = load(order->image_at(position, seed_value), used);
    const int class_id = list.images[used].class_id;
    if (!options.augment) {
      // Darknet's load_data_old: the image resized to the network, plain one-hot truth.
      Image sized = resize_image(decoded, settings.width, settings.height);
      std::copy(sized.data.begin(), sized.data.end(), image_out);
      data::fill_smoothed_truth(truth_out, int(classes), class_id, 0.0f);
      return;
    }
    data::Random rng(derive_seed(derive_seed(seed_value, kAugmentStream), uint64_t(position)));
    data::Sample sample = data::augment_sample(decoded, class_id, settings, rng);
    if (settings.mix != data::MixMode::none && rng.coin()) {
      data::MixMode mode = settings.mix;
      if (mode == data::MixMode::cutmix_or_mosaic) mode = data::MixMode(rng.integer(2, 3));
      const int count = mode == data::MixMode::mosaic ? 3 : 1;
      data::Sample partners[3];
      for (int p = 0; p < count; ++p) {
        size_t other = size_t(rng.integer(0, int(list.images.size()) - 1));
        Image im = load(other, used);
        partners[p] = data::augment_sample(im, list.images[used].class_id, settings, rng);
      }
      data::mix_samples(sample, partners, mode, rng);
    }
    if (settings.blur && rng.integer(0, 3) == 0) data::gaussian_blur(sample.image, settings.blur == 1 ? 15 : settings.blur);
    std::copy(sample.image.data.begin(), sample.image.data.end(), image_out);
    std::copy(sample.truth.begin(), sample.truth.end(), truth_out);
  }

  void build(int64_t k, uint64_t seed_value, data::BuiltBatch& out) {
    const int b = options.batch;
    out.images.resize(size_t(b) * image_floats);
    out.truth.resize(size_t(b) * classes);
    for (int i = 0; i < b; ++i)
      make_sample(k * b + i, seed_value, out.images.data() + size_t(i) * image_floats,
                  out.truth.data() + size_t(i) * classes);
  }
};

ClassificationLoader::ClassificationLoader(ClassificationList list, const NetConfig& net,
                                           ClassificationLoaderOptions options)
    : impl_(std::make_unique<Impl>()) {
  Impl& d = *impl_;
  if (list.images.empty()) fail(list.list_path, ": the image list holds no images");
  if (options.batch < 1) fail("ClassificationLoader: batch must be at least 1, got ", options.batch);
  if (options.threads < 0) fail("ClassificationLoader: threads must not be negative, got ", options.threads);
  if (list.images.size() > size_t(INT32_MAX)) fail(list.list_path, ": more than 2^31 images");
  options.prefetch = std::max(options.prefetch, 1);
  d.settings = data::AugmentSettings::from_net(net, int(list.labels.size()));
  if (options.augment && net.gaussian_noise)
    std::cerr << "warning: [net] gaussian_noise is applied by detector training only (as in Darknet); "
                 "classifier training ignores it\n";
  d.list = std::move(list);
  d.options = options;
  d.image_floats = size_t(d.settings.width) * size_t(d.settings.height) * size_t(d.settings.channels);
  d.classes = d.list.labels.size();
  d.bad.assign(d.list.images.size(), 0);
  d.order = std::make_unique<data::EpochOrder>(d.list.images.size(), kPermutationStream, d.options.shuffle);
  d.window = std::make_unique<data::PrefetchWindow>(
      [&d](int64_t k, uint64_t seed, data::BuiltBatch& out) { d.build(k, seed, out); }, options.threads,
      options.prefetch, options.seed);
}

ClassificationLoader::~ClassificationLoader() { impl_->window.reset(); }

void ClassificationLoader::fill(int64_t minibatch_index, float* images, float* truth) {
  if (minibatch_index < 0) fail("ClassificationLoader: mini-batch index ", minibatch_index, " is negative");
  data::BuiltBatch built = impl_->window->fetch(minibatch_index);
  std::memcpy(images, built.images.data(), built.images.size() * sizeof(float));
  std::memcpy(truth, built.truth.data(), built.truth.size() * sizeof(float));
}

void ClassificationLoader::set_seed(uint64_t seed) { impl_->window->set_seed(seed); }

uint64_t ClassificationLoader::seed() const { return impl_->window->seed(); }

int ClassificationLoader::batch() const { return impl_->options.batch; }
int ClassificationLoader::classes() const { return int(impl_->classes); }
size_t ClassificationLoader::image_floats() const { return impl_->image_floats; }
size_t ClassificationLoader::num_images() const { return impl_->list.images.size(); }
const ClassificationList& ClassificationLoader::list() const { return impl_->list; }

std::vector<std::string> ClassificationLoader::skipped_paths() const {
  std::lock_guard<std::mutex> lock(impl_->skip_mutex);
  return impl_->bad_paths;
}

int64_t ClassificationLoader::replacements() const {
  std::lock_guard<std::mutex> lock(impl_->skip_mutex);
  return impl_->replacements;
}

std::string ClassificationLoader::skipped_summary() const {
  std::lock_guard<std::mutex> lock(impl_->skip_mutex);
  if (impl_->bad_paths.empty()) return "";
  std::ostringstream s;
  const bool one = impl_->bad_paths.size() == 1;
  s << impl_->bad_paths.size() << (one ? " image" : " images") << " could not be loaded and "
    << (one ? "was" : "were") << " replaced by the next image in the list (" << impl_->replacements
    << (impl_->replacements == 1 ? " time" : " times") << "):";
  const size_t shown = std::min<size_t>(impl_->bad_paths.size(), 10);
  for (size_t i = 0; i < shown; ++i) s << (i ? ", " : " ") << impl_->bad_paths[i];
  if (shown < impl_->bad_paths.size()) s << ", ... (" << impl_->bad_paths.size() - shown << " more)";
  return s.str();
}

}  // namespace mishnet

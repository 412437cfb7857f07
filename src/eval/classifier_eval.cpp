#include "mishnet/classifier_eval.h"

#include <algorithm>
#include <numeric>

#include "mishnet/error.h"
#include "mishnet/image.h"

namespace mishnet {

std::vector<int> top_k_indices(const float* scores, int n, int k) {
  std::vector<int> idx(static_cast<size_t>(n));
  std::iota(idx.begin(), idx.end(), 0);
  k = std::min(k, n);
  std::partial_sort(idx.begin(), idx.begin() + k, idx.end(), [&](int a, int b) {
    return scores[a] > scores[b] || (scores[a] == scores[b] && a < b);
  });
  idx.resize(size_t(k));
  return idx;
}

void classifier_input(const Image& im, int width, int height, int channels, float* out) {
  Image src = im;
  if (channels == 1 && src.c != 1) src = grayscale_image(src);
  if (src.w != width || src.h != height) {
    src = resize_min(src, width);
    src = centre_crop_image(src, width, height);
  }
  if (src.c != channels)
    fail("image has ", src.c, " channels, the network expects ", channels);
  std::copy(src.data.begin(), src.data.end(), out);
}

ClassifierScore evaluate_classifier(Network& net, const ClassificationList& list, int k,
                                    const std::function<void(size_t)>& progress) {
  ClassifierScore score;
  score.k = k;
  const Shape in = net.input_shape();
  const int batch = in.n;
  const int classes = int(list.labels.size());
  std::vector<float> input(in.size(), 0.0f);
  for (size_t start = 0; start < list.images.size(); start += size_t(batch)) {
    size_t count = std::min(size_t(batch), list.images.size() - start);
    for (size_t b = 0; b < count; ++b) {
      Image im = load_image(list.images[start + b].path, in.c);
      classifier_input(im, in.w, in.h, in.c, input.data() + b * in.per_image());
    }
    Tensor out = net.forward(input.data());
    if (int(out.shape.per_image()) != classes)
      fail(net.cfg_path(), ": the network outputs ", out.shape.per_image(), " values per image, the ",
           "labels list has ", classes, " classes");
    for (size_t b = 0; b < count; ++b) {
      const float* scores = out.image(int(b));
      std::vector<int> top = top_k_indices(scores, classes, k);
      int truth = list.images[start + b].class_id;
      score.images++;
      if (top[0] == truth) score.top1_correct++;
      if (std::find(top.begin(), top.end(), truth) != top.end()) score.topk_correct++;
    }
    if (progress) progress(start + count);
  }
  return score;
}

}  // namespace mishnet

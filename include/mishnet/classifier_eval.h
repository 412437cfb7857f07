// Top-1 / top-k accuracy of a classifier on a labelled list, as Darknet's `classifier valid`.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "mishnet/classification_data.h"
#include "mishnet/image.h"
#include "mishnet/network.h"

namespace mishnet {

struct ClassifierScore {
  size_t images = 0;
  size_t top1_correct = 0;
  size_t topk_correct = 0;
  int k = 1;
  double top1() const { return images ? double(top1_correct) / double(images) : 0.0; }
  double topk() const { return images ? double(topk_correct) / double(images) : 0.0; }
};

// Indices of the k largest scores, larger first; ties go to the lower class index, so results
// never depend on the sort implementation.
std::vector<int> top_k_indices(const float* scores, int n, int k);

// Classifier input as Darknet's validate_classifier_single: resize so the shorter side is the
// network width, centre crop to width x height; grayscale when the network has one channel.
void classifier_input(const Image& im, int width, int height, int channels, float* out);

// Runs every image of `list` through `net` (batched by the network's batch size) and counts
// top-1 and top-k hits. `progress` (optional) is called after each batch with images done.
ClassifierScore evaluate_classifier(Network& net, const ClassificationList& list, int k,
                                    const std::function<void(size_t)>& progress = {});

}  // namespace mishnet

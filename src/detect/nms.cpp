// Non-maximum suppression with Darknet's do_nms_sort / diounms_sort semantics.
#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <vector>

#include "kernels/box.h"
#include "mishnet/detection.h"
#include "mishnet/error.h"

namespace mishnet {

float box_iou(const Box& a, const Box& b) { return kernels::box_iou(a, b); }

void nms_sort(std::vector<Detection>& dets, float thresh, NmsKind kind, float beta) {
  if (dets.empty()) return;
  const size_t classes = dets.front().prob.size();
  for (const Detection& d : dets)
    if (d.prob.size() != classes)
      fail("nms_sort: detections have different numbers of class scores (", classes, " and ",
           d.prob.size(), ")");

  // Darknet first swaps every detection with objectness 0 to the back, then sorts the rest once
  // per class; ties keep their previous order (glibc's qsort is a merge sort), hence a stable
  // sort over the same sequence. Working on indices, the vector is permuted once at the end.
  std::vector<size_t> order(dets.size());
  std::iota(order.begin(), order.end(), size_t(0));
  long last = long(order.size()) - 1;
  for (long i = 0; i <= last; ++i) {
    if (dets[order[size_t(i)]].objectness == 0) {
      std::swap(order[size_t(i)], order[size_t(last)]);
      --last;
      --i;
    }
  }
  const size_t total = size_t(last + 1);

  auto suppresses = [&](const Box& a, const Box& b) {
    switch (kind) {
      case NmsKind::greedy: return kernels::box_iou(a, b) > thresh;
      case NmsKind::greedy_diou: return kernels::box_diou_nms(a, b, 0.6f) > thresh;
      case NmsKind::diou: return kernels::box_diou_nms(a, b, beta) > thresh;
    }
    return false;
  };

  for (size_t k = 0; k < classes; ++k) {
    // NaN scores sort last (Darknet's comparator would call them equal to anything).
    auto score = [&](size_t i) {
      float p = dets[i].prob[k];
      return std::isnan(p) ? -std::numeric_limits<float>::infinity() : p;
    };
    std::stable_sort(order.begin(), order.begin() + long(total),
                     [&](size_t a, size_t b) { return score(a) > score(b); });
    for (size_t i = 0; i < total; ++i) {
      const Detection& best = dets[order[i]];
      if (best.prob[k] == 0) continue;
      for (size_t j = i + 1; j < total; ++j) {
        Detection& other = dets[order[j]];
        if (other.prob[k] == 0) continue;  // already zero: nothing to suppress
        if (suppresses(best.box, other.box)) other.prob[k] = 0;
      }
    }
  }

  std::vector<Detection> sorted;
  sorted.reserve(dets.size());
  for (size_t i : order) sorted.push_back(std::move(dets[i]));
  dets = std::move(sorted);
}

}  // namespace mishnet

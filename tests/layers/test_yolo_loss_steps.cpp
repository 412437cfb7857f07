// The [yolo] loss as steps (kernels/yolo_loss_steps.h), driven by the CPU loss in the order of
// the CUDA kernels (per prediction, per image, per prediction with chunked sums), against the
// loss as it was computed image by image before (yolo_loss_reference.cpp, kept verbatim): the
// same deltas bit for bit on random heads for every option set, the same figures, and the same
// result for any thread count. The CUDA kernels call these steps one-to-one, so this is what CI
// can prove about the device loss without a device.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <tuple>
#include <vector>

#include "kernels/yolo_loss_steps.h"
#include "layers/yolo_loss.h"
#include "layers/yolo_loss_cases.h"
#include "layers/yolo_loss_reference.h"
#include "test_util.h"

#if defined(_OPENMP)
#include <omp.h>
#endif

namespace mishnet {
namespace {

struct Result {
  std::vector<float> delta;
  YoloStats stats;
};

Result run_steps(const test::YoloLossCase& c) {
  Result r;
  r.delta.assign(c.size(), 123.0f);  // every entry must be written
  r.stats = yolo_loss(c.o, c.g, c.in.data(), c.out.data(), c.truth.data(), c.truth_stride,
                      r.delta.data());
  return r;
}

Result run_reference(const test::YoloLossCase& c) {
  Result r;
  r.delta.assign(c.size(), 0.0f);
  r.stats = test::reference_yolo_loss(c.o, c.g, c.in.data(), c.out.data(), c.truth.data(),
                                      c.truth_stride, r.delta.data());
  return r;
}

// Bitwise, so -0 and +0 (and NaN payloads) count as different.
size_t bitwise_differences(const std::vector<float>& a, const std::vector<float>& b,
                           size_t* first) {
  size_t n = 0;
  for (size_t i = 0; i < a.size(); ++i)
    if (std::memcmp(&a[i], &b[i], sizeof(float)) != 0 && n++ == 0) *first = i;
  return n;
}

// Sums in another order may differ in the last bits of a double.
void expect_same_sum(double got, double want, const char* what, const std::string& variant) {
  EXPECT_NEAR(got, want, 1e-12 * (1 + std::fabs(want))) << what << " (" << variant << ")";
}

void expect_same_stats(const YoloStats& got, const YoloStats& want, const std::string& v) {
  EXPECT_EQ(got.images, want.images) << v;
  EXPECT_EQ(got.count, want.count) << v;
  EXPECT_EQ(got.rewritten_boxes, want.rewritten_boxes) << v;
  // Summed per image in truth order, as before: exact.
  EXPECT_EQ(got.avg_iou, want.avg_iou) << v;
  EXPECT_EQ(got.avg_class, want.avg_class) << v;
  EXPECT_EQ(got.avg_obj, want.avg_obj) << v;
  EXPECT_EQ(got.recall50, want.recall50) << v;
  EXPECT_EQ(got.recall75, want.recall75) << v;
  // Summed over predictions in chunks now.
  EXPECT_FLOAT_EQ(got.avg_no_obj, want.avg_no_obj) << v;
  expect_same_sum(got.loss, want.loss, "loss", v);
  expect_same_sum(got.box_loss, want.box_loss, "box_loss", v);
  expect_same_sum(got.obj_loss, want.obj_loss, "obj_loss", v);
  expect_same_sum(got.class_loss, want.class_loss, "class_loss", v);
  expect_same_sum(got.darknet_loss, want.darknet_loss, "darknet_loss", v);
}

TEST(YoloLossSteps, EveryOptionSetGivesThePreviousDeltasBitForBit) {
  int trained = 0, rewritten = 0;
  for (const std::string& v : test::yolo_loss_variants()) {
    for (uint64_t seed : {test::test_seed(), test::test_seed() + 1}) {
      const test::YoloLossCase c = test::make_yolo_loss_case(v, seed);
      const Result got = run_steps(c), want = run_reference(c);
      size_t first = 0;
      const size_t diffs = bitwise_differences(got.delta, want.delta, &first);
      EXPECT_EQ(diffs, 0u) << v << " seed " << seed << ": first at " << first << " got "
                           << got.delta[first] << " want " << want.delta[first];
      expect_same_stats(got.stats, want.stats, v);
      trained += got.stats.count;
      rewritten += got.stats.rewritten_boxes;
    }
  }
  // The cases reach the truth loop and the accumulation of two truths on one anchor.
  EXPECT_GT(trained, 100);
  EXPECT_GT(rewritten, 0);
}

// Several heads sizes: the last chunk of the sums is partial, or there is only one.
TEST(YoloLossSteps, ChunkBoundariesDoNotChangeTheResult) {
  for (const auto& [batch, w, h] : {std::tuple{1, 1, 1}, std::tuple{1, 3, 2}, std::tuple{2, 13, 11},
                                     std::tuple{5, 16, 16}}) {
    const test::YoloLossCase c = test::make_yolo_loss_case("everything", test::test_seed(), batch, w, h);
    const Result got = run_steps(c), want = run_reference(c);
    size_t first = 0;
    EXPECT_EQ(bitwise_differences(got.delta, want.delta, &first), 0u) << batch << " " << w << "x" << h;
    expect_same_stats(got.stats, want.stats, "everything");
  }
}

TEST(YoloLossSteps, TheResultDoesNotDependOnTheThreadCount) {
#if defined(_OPENMP)
  const test::YoloLossCase c = test::make_yolo_loss_case("iou_thresh_ciou", test::test_seed(), 6, 26, 26);
  const int threads = omp_get_max_threads();
  omp_set_num_threads(1);
  const Result one = run_steps(c);
  omp_set_num_threads(4);
  const Result four = run_steps(c);
  omp_set_num_threads(threads);
  size_t first = 0;
  EXPECT_EQ(bitwise_differences(one.delta, four.delta, &first), 0u);
  // The sums run in a fixed order: equal, not just close.
  EXPECT_EQ(one.stats.loss, four.stats.loss);
  EXPECT_EQ(one.stats.darknet_loss, four.stats.darknet_loss);
  EXPECT_EQ(one.stats.avg_no_obj, four.stats.avg_no_obj);
#else
  GTEST_SKIP() << "built without OpenMP";
#endif
}

// The steps one by one, in the kernels' order, as a second driver: what
// src/backend/cuda/yolo_loss_kernels.cu launches, written out here without the CPU loss's
// parallel loops.
TEST(YoloLossSteps, TheKernelOrderDriverGivesTheCpuLoss) {
  for (const std::string& v : {std::string("iou_thresh_ciou"), std::string("everything"),
                               std::string("focal"), std::string("new_coords")}) {
    const test::YoloLossCase c = test::make_yolo_loss_case(v, test::test_seed() + 7);
    const Result cpu = run_steps(c);

    const kernels::YoloLossParams p = yolo_loss_params(c.o, c.g);
    const kernels::YoloLossIndex ix(p);
    const size_t predictions = ix.predictions_per_image() * size_t(c.g.batch);
    std::vector<float> delta(c.size(), -5.0f), weight(c.size(), 9.0f), target(c.size(), 9.0f);
    std::vector<unsigned char> focal(c.size(), 1);
    std::vector<double> box_loss(predictions, 7.0);  // stale values: step A clears them
    kernels::YoloLossBuffers m;
    m.in = c.in.data();
    m.out = c.out.data();
    m.truth = c.truth.data();
    m.truth_stride = c.truth_stride;
    m.delta = delta.data();
    m.weight = weight.data();
    m.target = target.data();
    m.focal_true = focal.data();
    m.box_loss = box_loss.data();
    // Kernel A, threads in reverse order (any order gives the same).
    for (size_t q = predictions; q-- > 0;)
      kernels::yolo_prediction_step(p, m, int(q / ix.predictions_per_image()),
                                    int(q / ix.plane) % p.anchors, q % ix.plane);
    // Kernel B.
    std::vector<kernels::YoloImageSums> images(size_t(c.g.batch));
    for (int b = 0; b < c.g.batch; ++b) images[size_t(b)] = kernels::yolo_truth_step(p, m, b);
    // Kernel C: chunk sums as thread 0 of each block adds its threads' values.
    std::vector<kernels::YoloPredictionSums> chunks;
    for (size_t first = 0; first < predictions; first += kernels::kYoloSumChunk) {
      std::vector<kernels::YoloPredictionSums> threads;
      for (size_t q = first; q < std::min(predictions, first + kernels::kYoloSumChunk); ++q)
        threads.push_back(kernels::yolo_prediction_finish(p, m, int(q / ix.predictions_per_image()),
                                                          int(q / ix.plane) % p.anchors, q % ix.plane,
                                                          -c.o.delta_normalizer));
      kernels::YoloPredictionSums sum;
      for (const auto& s : threads) kernels::yolo_add(sum, s);
      chunks.push_back(sum);
    }
    // Kernel D.
    kernels::YoloLossTotals totals;
    for (const auto& s : images) kernels::yolo_add(totals.images, s);
    for (const auto& s : chunks) kernels::yolo_add(totals.predictions, s);
    const YoloStats st = yolo_stats(c.o, c.g, totals);

    size_t first = 0;
    EXPECT_EQ(bitwise_differences(delta, cpu.delta, &first), 0u) << v;
    EXPECT_EQ(st.loss, cpu.stats.loss) << v;
    EXPECT_EQ(st.darknet_loss, cpu.stats.darknet_loss) << v;
    EXPECT_EQ(st.avg_no_obj, cpu.stats.avg_no_obj) << v;
    EXPECT_EQ(st.avg_iou, cpu.stats.avg_iou) << v;
    EXPECT_EQ(st.count, cpu.stats.count) << v;
  }
}

TEST(YoloLossSteps, InvalidTruthsAreRefusedBeforeAnyStep) {
  test::YoloLossCase c = test::make_yolo_loss_case("mse", test::test_seed());
  c.truth[c.truth_stride * 2 + 5 + 4] = 4.0f;  // image 2, box 1: class 4 of classes=4
  EXPECT_ERROR_CONTAINS(check_yolo_truths(c.o, c.truth.data(), c.truth_stride, 3, 7),
                        "[yolo] layer 7: image 2 truth box 1 has class id 4");
  c.truth[c.truth_stride * 2 + 5 + 4] = 0.0f;
  c.truth[5] = 1.5f;  // image 0, box 1: x outside the image
  EXPECT_ERROR_CONTAINS(check_yolo_truths(c.o, c.truth.data(), c.truth_stride, 3, 7),
                        "image 0 truth box 1 (x=1.5");
  std::vector<float> delta(c.size());
  EXPECT_ERROR_CONTAINS(yolo_loss(c.o, c.g, c.in.data(), c.out.data(), c.truth.data(),
                                  c.truth_stride, delta.data()),
                        "is outside the image");
}

}  // namespace
}  // namespace mishnet

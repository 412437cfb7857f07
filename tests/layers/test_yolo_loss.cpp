// [yolo] training loss: deltas against finite differences of the reported loss (in double) where
// Darknet's deltas are a true gradient, against Darknet's formulas where they are not (IoU box
// losses, the focal true class), the anchor assignment, ignore_thresh, the statistics, and a
// small network that learns to find two boxes on one image.
#include <gtest/gtest.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "gradcheck_util.h"
#include "kernels/box.h"
#include "kernels/yolo_loss.h"
#include "layers/yolo.h"
#include "mishnet/detection.h"
#include "mishnet/error.h"
#include "mishnet/network.h"
#include "mishnet/trainer.h"
#include "mishnet/weights.h"
#include "test_util.h"

namespace mishnet {
namespace {

// A [yolo] head reading the network input: the input is the conv output z we make by hand.
// Network input size = grid size, so anchors are in grid cells here.
struct Head {
  int w = 6, h = 5, classes = 2, anchors = 2;
  std::string keys;
  int batch = 1;

  int channels() const { return anchors * (classes + 5); }
  size_t per_image() const { return size_t(channels()) * size_t(w * h); }
  size_t at(int b, int a, int e, int col, int row) const {
    return size_t(b) * per_image() + (size_t(a) * size_t(classes + 5) + size_t(e)) * size_t(w * h) +
           size_t(row * w + col);
  }
  Network build() const {
    std::string cfg = "[net]\nwidth=" + std::to_string(w) + "\nheight=" + std::to_string(h) +
                      "\nchannels=" + std::to_string(channels()) + "\n[yolo]\nclasses=" +
                      std::to_string(classes) + "\n" + keys;
    Network net = test::network_from_text(cfg, batch);
    net.set_training(true);
    return net;
  }
};

const YoloLayer& yolo(const Network& net) { return dynamic_cast<const YoloLayer&>(net.layer(0)); }

// Truth of `batch` images, each with the given boxes (x, y, w, h, class).
std::vector<float> make_truth(const Network& net, const std::vector<std::vector<float>>& boxes,
                              int batch = 1) {
  std::vector<float> t(net.truth_floats() * size_t(batch), 0.0f);
  for (int b = 0; b < batch; ++b)
    for (size_t k = 0; k < boxes.size(); ++k)
      std::copy(boxes[k].begin(), boxes[k].end(), t.begin() + long(b * net.truth_floats() + 5 * k));
  return t;
}

struct LossRun {
  double loss = 0;
  std::vector<float> delta;
  YoloStats stats;
};

LossRun run(Network& net, const std::vector<float>& in, const std::vector<float>& truth) {
  std::mt19937_64 rng(1);
  float cost = net.forward_backward(in.data(), truth.data(), rng);
  LossRun r;
  r.stats = yolo(net).last_stats();
  r.loss = r.stats.loss;
  r.delta = test::to_vector(net.delta(0));
  EXPECT_FLOAT_EQ(cost, float(r.loss));
  return r;
}

// Compares delta with central differences of the reported (double) loss for every input entry
// `check` accepts; returns how many were compared.
size_t expect_delta_is_gradient(Network& net, std::vector<float> in, const std::vector<float>& truth,
                                const std::function<bool(size_t)>& check, double step = 1e-3,
                                double tol = 2e-4) {
  const LossRun base = run(net, in, truth);
  size_t compared = 0;
  for (size_t k = 0; k < in.size(); ++k) {
    if (!check(k)) continue;
    const float z = in[k];
    const float zp = z + float(step), zm = z - float(step);
    in[k] = zp;
    const double lp = run(net, in, truth).loss;
    in[k] = zm;
    const double lm = run(net, in, truth).loss;
    in[k] = z;
    const double numeric = (lp - lm) / (double(zp) - double(zm));
    const double analytic = base.delta[k];
    EXPECT_NEAR(analytic, numeric, tol * (1 + std::fabs(numeric))) << "input entry " << k;
    ++compared;
  }
  return compared;
}

std::vector<float> random_input(size_t n, uint64_t seed, float lo, float hi) {
  std::mt19937_64 rng(seed);
  return test::random_values(n, rng, lo, hi);
}

// Two truths of different classes and shapes.
const std::vector<std::vector<float>> kTwoBoxes = {{0.31f, 0.42f, 0.30f, 0.45f, 1},
                                                   {0.74f, 0.66f, 0.40f, 0.26f, 0}};

bool is_box_entry(const Head& h, size_t k) {
  const size_t e = (k % size_t((h.classes + 5) * h.w * h.h)) / size_t(h.w * h.h);
  return e < 4;
}

TEST(YoloLoss, MseDeltasAreGradientsOfTheLoss) {
  Head h;
  h.batch = 2;
  h.keys = "mask=0,1\nnum=3\nanchors=1.2,2.1, 2.5,1.4, 4,4\nscale_x_y=1.1\nobj_normalizer=1.5\n"
           "label_smooth_eps=0.1\ncounters_per_class=30,10\ncls_normalizer=0.7\n"
           "delta_normalizer=0.8\nignore_thresh=0.6\n";
  Network net = h.build();
  const auto truth = make_truth(net, kTwoBoxes, h.batch);
  const auto in = random_input(h.per_image() * 2, 3, -2, 2);
  const LossRun r = run(net, in, truth);
  EXPECT_GT(r.stats.count, 0);
  EXPECT_GT(r.stats.box_loss, 0);
  EXPECT_GT(expect_delta_is_gradient(net, in, truth, [](size_t) { return true; }), 0u);
}

TEST(YoloLoss, NewCoordsDeltasAreGradientsOfTheLoss) {
  // Scaled-YOLOv4 heads: the conv applied the logistic, x,y scaled by 2, w = (2z)^2 * anchor.
  Head h;
  h.keys = "mask=0,1\nnum=2\nanchors=1.2,2.1, 2.5,1.4\nscale_x_y=2.0\nnew_coords=1\n"
           "iou_thresh=0.2\nlabel_smooth_eps=0.05\n";
  Network net = h.build();
  const auto truth = make_truth(net, kTwoBoxes);
  const auto in = random_input(h.per_image(), 5, 0.05f, 0.95f);
  const LossRun r = run(net, in, truth);
  EXPECT_GE(r.stats.count, 3) << "iou_thresh should add a second anchor";
  EXPECT_GT(expect_delta_is_gradient(net, in, truth, [](size_t) { return true; }), 0u);
}

TEST(YoloLoss, IouThreshTrainsSeveralAnchorsAndAveragesTheirBoxDeltas) {
  Head h;
  h.anchors = 3;
  h.keys = "mask=0,1,2\nnum=3\nanchors=1.8,2.5, 2.0,2.2, 4,1\niou_thresh=0.5\n"
           "iou_thresh_kind=giou\n";
  Network net = h.build();
  // One box: anchors 0 and 1 fit it well, anchor 2 does not.
  const auto truth = make_truth(net, {{0.5f, 0.5f, 0.32f, 0.46f, 1}});
  const auto in = random_input(h.per_image(), 7, -2, 2);
  const LossRun r = run(net, in, truth);
  EXPECT_EQ(r.stats.count, 2);
  const int col = 3, row = 2;
  for (int a = 0; a < 3; ++a) {
    const size_t obj = h.at(0, a, 4, col, row);
    const float p = 1 / (1 + std::exp(-in[obj]));
    if (a < 2) {
      EXPECT_NEAR(r.delta[obj], p - 1, 1e-6) << "anchor " << a << " trained";
      EXPECT_NE(r.delta[h.at(0, a, 0, col, row)], 0.0f);
    } else {
      EXPECT_EQ(r.delta[h.at(0, a, 0, col, row)], 0.0f) << "anchor 2 does not fit";
    }
  }
  EXPECT_GT(expect_delta_is_gradient(net, in, truth, [](size_t) { return true; }), 0u);
}

TEST(YoloLoss, FocalLossClassDeltas) {
  Head h;
  h.classes = 3;
  h.keys = "mask=0,1\nnum=2\nanchors=1.2,2.1, 2.5,1.4\nfocal_loss=1\n";
  Network net = h.build();
  const auto truth = make_truth(net, {{0.31f, 0.42f, 0.30f, 0.45f, 2}});
  const auto in = random_input(h.per_image(), 11, -2, 2);
  const LossRun r = run(net, in, truth);
  ASSERT_EQ(r.stats.count, 1);
  // The truth's cell (1, 2); its best anchor by shape is 0.
  const size_t true_class = h.at(0, 0, 5 + 2, 1, 2);
  // The true class: Darknet's delta is alpha * the exact focal-loss gradient (gamma 2).
  const double p = 1 / (1 + std::exp(-double(in[true_class])));
  const double focal_grad = (1 - p) * (1 - p) * (2 * p * std::log(p) + p - 1);
  EXPECT_NEAR(r.delta[true_class], 0.5 * focal_grad, 1e-6);
  const double fd_step = 1e-4;
  const double fd = (kernels::focal_with_logit(in[true_class] + fd_step) -
                     kernels::focal_with_logit(in[true_class] - fd_step)) / (2 * fd_step);
  EXPECT_NEAR(focal_grad, fd, 1e-7);
  // The other classes carry the focal factor as a constant weight: their deltas are partial
  // gradients of the loss; so is every other entry.
  EXPECT_GT(expect_delta_is_gradient(net, in, truth, [&](size_t k) { return k != true_class; }),
            0u);
}

// For the IoU losses the box deltas follow Darknet's formula (kernels::box_iou_ascent times
// exp(tw) for w, h, times iou_normalizer, clipped by max_delta); everything else is a gradient.
void check_iou_loss(const std::string& kind) {
  SCOPED_TRACE(kind);
  Head h;
  h.keys = "mask=0,1\nnum=2\nanchors=1.2,2.1, 2.5,1.4\niou_loss=" + kind +
           "\niou_normalizer=0.07\ndelta_normalizer=2\nmax_delta=0.03\n";
  Network net = h.build();
  const auto truth = make_truth(net, kTwoBoxes);
  const auto in = random_input(h.per_image(), 13, -1, 1);
  const LossRun r = run(net, in, truth);
  ASSERT_EQ(r.stats.count, 2);
  const auto out = test::to_vector(net.output(0));
  const kernels::IouFamily family = kind == "iou"    ? kernels::IouFamily::iou
                                    : kind == "giou" ? kernels::IouFamily::giou
                                    : kind == "diou" ? kernels::IouFamily::diou
                                                     : kernels::IouFamily::ciou;
  // Truth 0 at cell (1, 2) on anchor 0; truth 1 at cell (4, 3) on anchor 1.
  const struct { int col, row, a; float aw, ah; } cells[2] = {{1, 2, 0, 1.2f, 2.1f},
                                                              {4, 3, 1, 2.5f, 1.4f}};
  double expected_loss = 0;
  for (int t = 0; t < 2; ++t) {
    const auto& c = cells[t];
    auto v = [&](int e) { return out[h.at(0, c.a, e, c.col, c.row)]; };
    const Box pred = kernels::yolo_box(v(0), v(1), v(2), v(3), c.col, c.row, h.w, h.h, c.aw, c.ah,
                                       h.w, h.h, false);
    const Box tb{kTwoBoxes[size_t(t)][0], kTwoBoxes[size_t(t)][1], kTwoBoxes[size_t(t)][2],
                 kTwoBoxes[size_t(t)][3]};
    const kernels::BoxDelta up = kernels::box_iou_ascent(pred, tb, family);
    const float raw[4] = {up.x, up.y, float(up.w * std::exp(double(v(2)))),
                          float(up.h * std::exp(double(v(3))))};
    for (int e = 0; e < 4; ++e) {
      const float darknet = std::clamp(raw[e] * 0.07f, -0.03f, 0.03f);
      EXPECT_FLOAT_EQ(r.delta[h.at(0, c.a, e, c.col, c.row)], -2 * darknet) << "truth " << t << " e " << e;
    }
    expected_loss += 0.07 * (1 - kernels::box_iou_family(pred, tb, family));
  }
  EXPECT_NEAR(r.stats.box_loss, 2 * expected_loss, 1e-6);
  EXPECT_GT(expect_delta_is_gradient(net, in, truth, [&](size_t k) { return !is_box_entry(h, k); }),
            0u);
}

TEST(YoloLoss, IouBoxDeltasFollowDarknet) { check_iou_loss("iou"); }
TEST(YoloLoss, GiouBoxDeltasFollowDarknet) { check_iou_loss("giou"); }
TEST(YoloLoss, DiouBoxDeltasFollowDarknet) { check_iou_loss("diou"); }
TEST(YoloLoss, CiouBoxDeltasFollowDarknet) { check_iou_loss("ciou"); }

TEST(YoloLoss, BestAnchorOverAllHeadsPicksTheCellAndAnchor) {
  // Anchors 0..2; this head predicts anchors 2 and 0 (mask=2,0).
  Head h;
  h.keys = "mask=2,0\nnum=3\nanchors=1,1, 2,3, 3,2\n";
  Network net = h.build();
  // Truth A (3 x 2 cells) fits anchor 2 -> slot 0 of this head; truth B (2 x 3) fits anchor 1,
  // which another head predicts: nothing here.
  const auto truth = make_truth(net, {{0.75f, 0.5f, 3.f / 6, 2.f / 5, 0}, {0.2f, 0.3f, 2.f / 6, 3.f / 5, 1}});
  std::vector<float> in(h.per_image(), -4.0f);  // low objectness and classes everywhere
  const LossRun r = run(net, in, truth);
  EXPECT_EQ(r.stats.count, 1);
  const float p = 1 / (1 + std::exp(4.0f));
  for (int a = 0; a < 2; ++a)
    for (int row = 0; row < h.h; ++row)
      for (int col = 0; col < h.w; ++col) {
        const bool trained = a == 0 && col == 4 && row == 2;  // x .75*6 = 4.5, y .5*5 = 2.5
        EXPECT_NEAR(r.delta[h.at(0, a, 4, col, row)], trained ? p - 1 : p, 1e-6)
            << "anchor slot " << a << " cell " << col << "," << row;
        EXPECT_EQ(r.delta[h.at(0, a, 0, col, row)] != 0, trained);
        EXPECT_NEAR(r.delta[h.at(0, a, 5, col, row)], trained ? p - 1 : 0, 1e-6);
        EXPECT_NEAR(r.delta[h.at(0, a, 6, col, row)], trained ? p : 0, 1e-6);
      }
  // mse box deltas of the trained anchor: (2 - w*h) * 0.75 * (prediction - target).
  const float scale = 2 - 0.5f * 0.4f, norm = 0.75f;
  EXPECT_NEAR(r.delta[h.at(0, 0, 0, 4, 2)], scale * norm * (p - 0.5f), 1e-5);
  EXPECT_NEAR(r.delta[h.at(0, 0, 2, 4, 2)], scale * norm * (-4.0f - std::log(1.0f)), 1e-5);
}

TEST(YoloLoss, IgnoreThreshZeroesObjectnessOfGoodPredictions) {
  Head h;
  h.anchors = 1;
  h.keys = "mask=0\nnum=1\nanchors=2,2\nignore_thresh=0.5\n";
  Network net = h.build();
  const auto truth = make_truth(net, {{0.5f, 0.5f, 2.f / 6, 2.f / 5, 0}});  // cell (3, 2)
  std::vector<float> in(h.per_image(), -3.0f);
  // Cell (2, 2) predicts the truth's box shifted by 0.2 cells: IoU 3.6 / 4.4 = 0.82.
  auto set = [&](int e, float v) { in[h.at(0, 0, e, 2, 2)] = v; };
  set(0, std::log(0.8f / 0.2f));  // logistic 0.8: centre at 2.8 cells, the truth's at 3
  set(1, 0.0f);                   // centre row 2.5, as the truth's
  set(2, 0.0f);
  set(3, 0.0f);
  const float p = 1 / (1 + std::exp(3.0f));
  // No class above 0.25: Darknet does not ignore it.
  LossRun r = run(net, in, truth);
  EXPECT_NEAR(r.delta[h.at(0, 0, 4, 2, 2)], p, 1e-6) << "no class above 0.25";
  set(5, 2.0f);
  r = run(net, in, truth);
  EXPECT_EQ(r.delta[h.at(0, 0, 4, 2, 2)], 0.0f) << "IoU > ignore_thresh and a class > 0.25";
  EXPECT_NEAR(r.delta[h.at(0, 0, 4, 0, 0)], p, 1e-6);

  // objectness_smooth: the ignored prediction is pulled towards its IoU instead.
  Head hs = h;
  hs.keys += "objectness_smooth=1\n";
  Network smooth = hs.build();
  const LossRun rs = run(smooth, in, truth);
  const auto out = test::to_vector(smooth.output(0));
  const Box pred = kernels::yolo_box(out[h.at(0, 0, 0, 2, 2)], out[h.at(0, 0, 1, 2, 2)], 0, 0, 2, 2,
                                     6, 5, 2, 2, 6, 5, false);
  const float iou = kernels::box_iou(pred, Box{0.5f, 0.5f, 2.f / 6, 2.f / 5});
  ASSERT_GT(iou, 0.5f);
  EXPECT_NEAR(rs.delta[h.at(0, 0, 4, 2, 2)], p - iou, 1e-6);
}

TEST(YoloLoss, TruthThreshTrainsGoodPredictionsAsPositives) {
  Head h;
  h.anchors = 1;
  h.keys = "mask=0\nnum=1\nanchors=2,2\ntruth_thresh=0.6\n";
  Network net = h.build();
  const auto truth = make_truth(net, {{0.5f, 0.5f, 2.f / 6, 2.f / 5, 1}});  // cell (3, 2)
  std::vector<float> in(h.per_image(), -3.0f);
  auto set = [&](int e, float v) { in[h.at(0, 0, e, 2, 2)] = v; };
  set(0, std::log(0.8f / 0.2f));  // the truth's box shifted by 0.2 cells: IoU 0.82 > 0.6
  set(1, 0.0f);
  set(2, 0.0f);
  set(3, 0.0f);
  const LossRun r = run(net, in, truth);
  const float p = 1 / (1 + std::exp(3.0f));
  EXPECT_NEAR(r.delta[h.at(0, 0, 4, 2, 2)], p - 1, 1e-6);
  EXPECT_NEAR(r.delta[h.at(0, 0, 5 + 1, 2, 2)], p - 1, 1e-6);
  EXPECT_NEAR(r.delta[h.at(0, 0, 5 + 0, 2, 2)], p, 1e-6);
  // x target: the truth's centre is 1 cell right of this cell's origin; (2 - w*h) * 0.75.
  EXPECT_NEAR(r.delta[h.at(0, 0, 0, 2, 2)], (2 - 2.f / 6 * 2.f / 5) * 0.75f * (0.8f - 1.0f), 1e-5);
  EXPECT_EQ(r.stats.count, 1) << "only the truth's own anchor counts";
  EXPECT_GT(expect_delta_is_gradient(net, in, truth, [](size_t) { return true; }), 0u);
}

TEST(YoloLoss, StatisticsAndDarknetLoss) {
  Head h;
  h.keys = "mask=0,1\nnum=2\nanchors=1.2,2.1, 2.5,1.4\ndelta_normalizer=0.5\n";
  Network net = h.build();
  const auto truth = make_truth(net, kTwoBoxes);
  const auto in = random_input(h.per_image(), 17, -2, 2);
  const LossRun r = run(net, in, truth);
  const auto out = test::to_vector(net.output(0));
  const YoloStats& s = r.stats;
  EXPECT_EQ(s.images, 1);
  EXPECT_EQ(s.count, 2);
  // Class and Obj: the true class and objectness probabilities of the two trained anchors.
  const float cls = (out[h.at(0, 0, 5 + 1, 1, 2)] + out[h.at(0, 1, 5 + 0, 4, 3)]) / 2;
  const float obj = (out[h.at(0, 0, 4, 1, 2)] + out[h.at(0, 1, 4, 4, 3)]) / 2;
  EXPECT_NEAR(s.avg_class, cls, 1e-6);
  EXPECT_NEAR(s.avg_obj, obj, 1e-6);
  double any = 0;
  for (int a = 0; a < 2; ++a)
    for (int i = 0; i < h.w * h.h; ++i) any += out[h.at(0, a, 4, i % h.w, i / h.w)];
  EXPECT_NEAR(s.avg_no_obj, any / (2 * h.w * h.h), 1e-6);
  EXPECT_GE(s.avg_iou, 0.0f);
  EXPECT_LE(s.recall75, s.recall50);
  // Darknet's cost: the sum of its squared deltas (before delta_normalizer) for mse.
  double squared = 0;
  for (float d : r.delta) squared += double(d / 0.5f) * double(d / 0.5f);
  EXPECT_NEAR(s.darknet_loss, squared, 1e-4 * squared);
  EXPECT_NEAR(s.loss, s.box_loss + s.obj_loss + s.class_loss, 1e-9);
}

TEST(YoloLoss, BadTruthIsReported) {
  Head h;
  h.keys = "mask=0,1\nnum=2\nanchors=1.2,2.1, 2.5,1.4\n";
  Network net = h.build();
  const auto in = random_input(h.per_image(), 1, -1, 1);
  std::mt19937_64 rng(1);
  auto bad_class = make_truth(net, {{0.5f, 0.5f, 0.2f, 0.2f, 2}});
  EXPECT_THROW(net.forward_backward(in.data(), bad_class.data(), rng), Error);
  auto outside = make_truth(net, {{1.5f, 0.5f, 0.2f, 0.2f, 0}});
  EXPECT_THROW(net.forward_backward(in.data(), outside.data(), rng), Error);
  // The list ends at the first empty box: a box after it is not read.
  auto ended = make_truth(net, {{0.5f, 0.5f, 0.2f, 0.2f, 0}, {0, 0, 0, 0, 0}, {0.5f, 0.5f, 0.2f, 0.2f, 7}});
  EXPECT_NO_THROW(net.forward_backward(in.data(), ended.data(), rng));
}

// The public cfgs train: every head computes a finite loss, trains the truths its masks own, and
// the gradient reaches the first layer. yolov4-tiny (ciou, scale_x_y 1.05), yolov4-csp
// (new_coords, scale_x_y 2, iou_thresh 0.2).
void expect_cfg_trains(const std::string& name) {
  SCOPED_TRACE(name);
  NetworkOptions opt;
  opt.batch = 2;
  opt.width = opt.height = 128;
  Network net = Network::from_cfg_file(test::shared_cfg(name), opt);
  init_weights(net, 5);
  net.set_training(true);
  std::vector<float> image(net.input_shape().size());
  std::mt19937_64 rng(3);
  std::uniform_real_distribution<float> u(0, 1);
  for (float& v : image) v = u(rng);
  const auto truth = make_truth(net, {{0.3f, 0.4f, 0.1f, 0.15f, 3}, {0.6f, 0.5f, 0.5f, 0.6f, 7},
                                      {0.8f, 0.2f, 0.25f, 0.1f, 0}}, 2);
  const float loss = net.forward_backward(image.data(), truth.data(), rng);
  EXPECT_TRUE(std::isfinite(loss));
  int heads = 0, count = 0;
  for (int i = 0; i < net.num_layers(); ++i) {
    const auto* y = dynamic_cast<const YoloLayer*>(&net.layer(i));
    if (!y) continue;
    ++heads;
    count += y->last_stats().count;
    EXPECT_TRUE(std::isfinite(y->last_stats().loss));
  }
  EXPECT_GE(heads, 2);
  EXPECT_GE(count, 2 * 3) << "every truth trained by at least one head";
  double gradient = 0;
  for (float g : test::to_vector(net.delta(0))) gradient += std::fabs(g);
  EXPECT_GT(gradient, 0);
}

TEST(YoloLoss, PublicCfgsTrain) {
  MISHNET_REQUIRE_SHARED_CFG("yolov4-tiny.cfg");
  expect_cfg_trains("yolov4-tiny.cfg");
  expect_cfg_trains("yolov4-csp.cfg");
}

// One fixed 32x32 image with two coloured rectangles, learned by a small conv net.
class TwoBoxesImage final : public BatchSource {
 public:
  static constexpr int kSize = 32;
  explicit TwoBoxesImage(size_t truth_floats) : truth_floats_(truth_floats) {
    image_.assign(3 * kSize * kSize, 0.5f);
    std::mt19937_64 rng(4);
    std::uniform_real_distribution<float> noise(-0.05f, 0.05f);
    for (float& v : image_) v += noise(rng);
    paint(4, 6, 8, 8, {0.9f, 0.1f, 0.1f});     // class 0: 8x8 red square at centre (8, 10)
    paint(15, 17, 14, 10, {0.1f, 0.2f, 0.9f}); // class 1: 14x10 blue rectangle at (22, 22)
  }
  void fill(int64_t, float* images, float* truth) override {
    std::copy(image_.begin(), image_.end(), images);
    std::fill(truth, truth + truth_floats_, 0.0f);
    const float boxes[10] = {8.f / kSize, 10.f / kSize, 8.f / kSize, 8.f / kSize, 0,
                             22.f / kSize, 22.f / kSize, 14.f / kSize, 10.f / kSize, 1};
    std::copy(boxes, boxes + 10, truth);
  }
  const std::vector<float>& image() const { return image_; }

 private:
  void paint(int x0, int y0, int w, int h, std::vector<float> rgb) {
    for (int c = 0; c < 3; ++c)
      for (int y = y0; y < y0 + h; ++y)
        for (int x = x0; x < x0 + w; ++x) image_[size_t((c * kSize + y) * kSize + x)] = rgb[size_t(c)];
  }
  size_t truth_floats_;
  std::vector<float> image_;
};

TEST(YoloLoss, SmallNetworkLearnsTwoBoxes) {
  const std::string cfg =
      "[net]\nbatch=1\nsubdivisions=1\nwidth=32\nheight=32\nchannels=3\nlearning_rate=0.002\n"
      "adam=1\nmax_batches=1000\npolicy=steps\nsteps=600,850\nscales=0.2,0.2\n"
      "[convolutional]\nfilters=16\nsize=3\npad=1\nactivation=leaky\n"
      "[maxpool]\nsize=2\nstride=2\n"
      "[convolutional]\nfilters=32\nsize=3\npad=1\nactivation=leaky\n"
      "[maxpool]\nsize=2\nstride=2\n"
      "[convolutional]\nfilters=32\nsize=3\npad=1\nactivation=leaky\n"
      "[convolutional]\nfilters=14\nsize=1\nactivation=linear\n"
      "[yolo]\nmask=0,1\nanchors=8,8, 14,10\nclasses=2\nnum=2\n";
  Network net = test::network_from_text(cfg, 1);
  init_weights(net, 21);
  net.set_training(true);
  TwoBoxesImage data(net.truth_floats());
  TrainerOptions opt;
  opt.backup_dir = test::scratch_dir("yolo_overfit");
  opt.name = "overfit";
  opt.seed = 2;
  Trainer trainer(net, data, opt);
  const float first = trainer.step().loss;
  IterationStats last;
  while (!trainer.done()) last = trainer.step();
  EXPECT_LT(last.loss, 0.01f * first) << "first " << first << " last " << last.loss;
  const YoloStats& st = dynamic_cast<const YoloLayer&>(net.layer(net.num_layers() - 1)).last_stats();
  EXPECT_EQ(st.count, 2);
  EXPECT_GT(st.avg_iou, 0.9f);
  EXPECT_GT(st.avg_obj, 0.9f);
  EXPECT_LT(st.avg_no_obj, 0.05f);

  net.set_training(false);
  net.forward(data.image().data());
  std::vector<Detection> dets =
      get_detections(net, TwoBoxesImage::kSize, TwoBoxesImage::kSize, 0.5f, false);
  nms_sort(dets, 0.45f);
  const Box truths[2] = {{8.f / 32, 10.f / 32, 8.f / 32, 8.f / 32},
                         {22.f / 32, 22.f / 32, 14.f / 32, 10.f / 32}};
  for (int c = 0; c < 2; ++c) {
    int found = 0, wrong = 0;
    for (const Detection& d : dets) {
      if (d.prob[size_t(c)] <= 0.5f) continue;
      if (box_iou(d.box, truths[c]) > 0.8f) ++found;
      else ++wrong;
    }
    EXPECT_EQ(found, 1) << "class " << c;
    EXPECT_EQ(wrong, 0) << "class " << c;
  }
}

}  // namespace
}  // namespace mishnet

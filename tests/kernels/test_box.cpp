// Box arithmetic (src/kernels/box.h) against float64 references of the published formulas.
#include <algorithm>
#include <cmath>
#include <random>

#include "kernels/box.h"
#include "test_util.h"

namespace mishnet {
namespace {

struct Ref {
  double iou, giou, diou, ciou, diou_nms06;
  double iw, ih;  // intersection extents (negative: apart)
};

Ref reference(const Box& a, const Box& b) {
  auto l = [](const Box& x) { return double(x.x) - double(x.w) / 2; };
  auto r = [](const Box& x) { return double(x.x) + double(x.w) / 2; };
  auto t = [](const Box& x) { return double(x.y) - double(x.h) / 2; };
  auto bo = [](const Box& x) { return double(x.y) + double(x.h) / 2; };
  double iw = std::min(r(a), r(b)) - std::max(l(a), l(b));
  double ih = std::min(bo(a), bo(b)) - std::max(t(a), t(b));
  double inter = (iw < 0 || ih < 0) ? 0 : iw * ih;
  double uni = double(a.w) * a.h + double(b.w) * b.h - inter;
  double iou = inter / uni;
  double cw = std::max(r(a), r(b)) - std::min(l(a), l(b));
  double ch = std::max(bo(a), bo(b)) - std::min(t(a), t(b));
  double c2 = cw * cw + ch * ch;
  double d2 = std::pow(double(a.x) - b.x, 2) + std::pow(double(a.y) - b.y, 2);
  double v = 4 / (M_PI * M_PI) * std::pow(std::atan(double(b.w) / b.h) - std::atan(double(a.w) / a.h), 2);
  double alpha = v / (1 - iou + v + 1e-6);
  return {iou, iou - (cw * ch - uni) / (cw * ch), iou - d2 / c2, iou - (d2 / c2 + alpha * v),
          iou - std::pow(d2 / c2, 0.6), iw, ih};
}

TEST(BoxKernels, MatchFloat64FormulasOnRandomBoxes) {
  std::mt19937_64 rng(test::test_seed());
  std::uniform_real_distribution<float> pos(0, 1), size(0.01f, 0.6f);
  for (int i = 0; i < 2000; ++i) {
    Box a{pos(rng), pos(rng), size(rng), size(rng)};
    Box b{pos(rng), pos(rng), size(rng), size(rng)};
    if (i % 4 == 0) b = Box{a.x + 0.1f * (pos(rng) - 0.5f), a.y, a.w * 1.1f, a.h};  // overlapping
    Ref ref = reference(a, b);
    // float32 arithmetic on values <= ~1.5: 1e-5 absolute, plus the cancellation in the
    // intersection: its extents min(right) - max(left) carry an absolute error of up to ~2.5e-7
    // (two roundings of edges near 1), so a relative error of 2.5e-7 / extent, which IoU =
    // I / (A + B - I) passes on multiplied by IoU * (1 + IoU). Doubled for margin: a 0.01-wide
    // overlap of small boxes may differ by ~3e-5 from float64 (seed 112 did).
    double tol = 1e-5;
    if (ref.iw > 0 && ref.ih > 0) tol += ref.iou * (1 + ref.iou) * 5e-7 * (1 / ref.iw + 1 / ref.ih);
    ASSERT_NEAR(kernels::box_iou(a, b), ref.iou, tol) << i;
    ASSERT_NEAR(kernels::box_giou(a, b), ref.giou, tol) << i;
    ASSERT_NEAR(kernels::box_diou(a, b), ref.diou, tol) << i;
    ASSERT_NEAR(kernels::box_ciou(a, b), ref.ciou, tol) << i;
    ASSERT_NEAR(kernels::box_diou_nms(a, b, 0.6f), ref.diou_nms06, tol) << i;
    ASSERT_EQ(kernels::box_iou(a, b), kernels::box_iou(b, a)) << i;
  }
}

TEST(BoxKernels, HandValuesAndEdgeCases) {
  Box a{0.5f, 0.5f, 0.2f, 0.2f}, b{0.6f, 0.5f, 0.2f, 0.2f};
  EXPECT_NEAR(kernels::box_iou(a, b), 1.0 / 3, 1e-6);
  EXPECT_FLOAT_EQ(kernels::box_iou(a, a), 1.0f);
  EXPECT_FLOAT_EQ(kernels::box_giou(a, a), 1.0f);
  EXPECT_FLOAT_EQ(kernels::box_diou(a, a), 1.0f);
  EXPECT_FLOAT_EQ(kernels::box_ciou(a, a), 1.0f);
  // Touching and apart (exact binary fractions): IoU 0; GIoU and DIoU fall with distance.
  Box q{0.5f, 0.5f, 0.25f, 0.25f}, touching{0.75f, 0.5f, 0.25f, 0.25f}, far{1.0f, 0.5f, 0.25f, 0.25f};
  EXPECT_EQ(kernels::box_iou(q, touching), 0.0f);
  EXPECT_EQ(kernels::box_iou(q, far), 0.0f);
  EXPECT_LT(kernels::box_giou(q, far), kernels::box_giou(q, touching));
  EXPECT_LT(kernels::box_diou(q, far), kernels::box_diou(q, touching));
  EXPECT_LT(kernels::box_diou(q, far), 0.0f);
  // Empty boxes: no division by zero.
  Box empty{0.5f, 0.5f, 0, 0};
  EXPECT_EQ(kernels::box_iou(empty, empty), 0.0f);
  EXPECT_EQ(kernels::box_diou(empty, empty), 0.0f);
}

TEST(BoxKernels, CorrectBoxIsIdentityWithoutLetterboxAndInvertsLetterbox) {
  std::mt19937_64 rng(test::test_seed() + 7);
  std::uniform_real_distribution<float> u(0, 1);
  for (int i = 0; i < 200; ++i) {
    Box b{u(rng), u(rng), u(rng), u(rng)};
    int iw = 1 + int(rng() % 2000), ih = 1 + int(rng() % 2000);
    Box c = kernels::correct_box(b, iw, ih, 416, 320, false);
    EXPECT_EQ(c.x, b.x);
    EXPECT_EQ(c.y, b.y);
    EXPECT_EQ(c.w, b.w);
    EXPECT_EQ(c.h, b.h);
  }
  // 1000x500 into 416x416: scaled to 416x208 with 104 px bars above and below.
  Box in_net{0.5f, 104.0f / 416 + 0.25f * 208 / 416, 0.5f, 0.5f * 208 / 416};
  Box c = kernels::correct_box(in_net, 1000, 500, 416, 416, true);
  EXPECT_NEAR(c.x, 0.5, 1e-6);
  EXPECT_NEAR(c.y, 0.25, 1e-6);
  EXPECT_NEAR(c.w, 0.5, 1e-6);
  EXPECT_NEAR(c.h, 0.5, 1e-6);
}

TEST(BoxKernels, YoloAndRegionBoxes) {
  Box y = kernels::yolo_box(0.5f, 0.25f, 0.0f, std::log(2.0f), 3, 1, 13, 13, 10, 20, 416, 416,
                            false);
  EXPECT_NEAR(y.x, 3.5 / 13, 1e-6);
  EXPECT_NEAR(y.y, 1.25 / 13, 1e-6);
  EXPECT_NEAR(y.w, 10.0 / 416, 1e-7);
  EXPECT_NEAR(y.h, 40.0 / 416, 1e-7);
  Box n = kernels::yolo_box(0.5f, 0.5f, 0.5f, 1.0f, 0, 0, 2, 2, 10, 20, 100, 100, true);
  EXPECT_NEAR(n.w, 0.25 * 4 * 10 / 100, 1e-7);
  EXPECT_NEAR(n.h, 1.0 * 4 * 20 / 100, 1e-7);
  Box r = kernels::region_box(0.0f, 0.0f, 0.0f, 0.0f, 1, 2, 4, 5, 1.5f, 2.5f);
  EXPECT_NEAR(r.x, 1.5 / 4, 1e-6);
  EXPECT_NEAR(r.y, 2.5 / 5, 1e-6);
  EXPECT_NEAR(r.w, 1.5 / 4, 1e-6);
  EXPECT_NEAR(r.h, 2.5 / 5, 1e-6);
}

}  // namespace
}  // namespace mishnet

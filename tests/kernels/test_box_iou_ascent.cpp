// box_iou_ascent (Darknet's dx_box_iou): hand-derived values on one box pair, and its relation to
// finite differences of double-precision IoU/GIoU/DIoU/CIoU written here independently.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "kernels/box.h"

namespace mishnet {
namespace {

using kernels::IouFamily;

struct B {
  double x, y, w, h;
};

double inter(const B& a, const B& b) {
  const double iw = std::min(a.x + a.w / 2, b.x + b.w / 2) - std::max(a.x - a.w / 2, b.x - b.w / 2);
  const double ih = std::min(a.y + a.h / 2, b.y + b.h / 2) - std::max(a.y - a.h / 2, b.y - b.h / 2);
  return iw > 0 && ih > 0 ? iw * ih : 0;
}
double iou(const B& a, const B& b) {
  const double i = inter(a, b);
  return i / (a.w * a.h + b.w * b.h - i);
}
void enclosing(const B& a, const B& b, double& w, double& h) {
  w = std::max(a.x + a.w / 2, b.x + b.w / 2) - std::min(a.x - a.w / 2, b.x - b.w / 2);
  h = std::max(a.y + a.h / 2, b.y + b.h / 2) - std::min(a.y - a.h / 2, b.y - b.h / 2);
}
double giou(const B& a, const B& b) {
  double w, h;
  enclosing(a, b, w, h);
  const double u = a.w * a.h + b.w * b.h - inter(a, b);
  return iou(a, b) - (w * h - u) / (w * h);
}
// The DIoU penalty -d^2/c^2 alone.
double distance_term(const B& a, const B& b) {
  double w, h;
  enclosing(a, b, w, h);
  return -((a.x - b.x) * (a.x - b.x) + (a.y - b.y) * (a.y - b.y)) / (w * w + h * h);
}
// The DIoU penalty with the enclosing diagonal frozen at sqrt(c2).
double distance_term_fixed_c(const B& a, const B& b, double c2) {
  return -((a.x - b.x) * (a.x - b.x) + (a.y - b.y) * (a.y - b.y)) / c2;
}
// CIoU's -alpha*v with alpha frozen at `alpha`.
double aspect_term(const B& a, const B& b, double alpha) {
  const double pi = 3.14159265358979323846;
  const double d = std::atan(b.w / b.h) - std::atan(a.w / a.h);
  return -alpha * 4 / (pi * pi) * d * d;
}

// Central difference of f(pred) in coordinate k (0 x, 1 y, 2 w, 3 h).
template <class F>
double fd(F f, B p, int k, double h = 1e-6) {
  double* c[4] = {&p.x, &p.y, &p.w, &p.h};
  const double v = *c[k];
  *c[k] = v + h;
  const double fp = f(p);
  *c[k] = v - h;
  const double fm = f(p);
  return (fp - fm) / (2 * h);
}

Box to_box(const B& b) { return Box{float(b.x), float(b.y), float(b.w), float(b.h)}; }

TEST(BoxIouAscent, HandDerivedIouAndGiou) {
  // pred edges t,b,l,r = .3,.7,.3,.7; truth .45,.75,.4,.8: overlap 0.3 x 0.25, union 0.205,
  // enclosing 0.5 x 0.45. Edge derivatives of IoU: t .03/U^2, b .054/U^2, l .03/U^2, r .04/U^2.
  const Box pred{0.5f, 0.5f, 0.4f, 0.4f}, truth{0.6f, 0.6f, 0.4f, 0.3f};
  const double u2 = 0.205 * 0.205;
  const double t = 0.03 / u2, b = 0.054 / u2, l = 0.03 / u2, r = 0.04 / u2;
  kernels::BoxDelta d = kernels::box_iou_ascent(pred, truth, IouFamily::iou);
  EXPECT_NEAR(d.x, l + r, 2e-5);
  EXPECT_NEAR(d.y, t + b, 2e-5);
  EXPECT_NEAR(d.w, r - l, 2e-5);
  EXPECT_NEAR(d.h, b - t, 2e-5);
  // GIoU adds d(U/C) per edge: t .0125/C^2, b .0225/C^2, l .00225/C^2, r .03375/C^2.
  const double c2 = 0.225 * 0.225;
  const double gt = t + 0.0125 / c2, gb = b + 0.0225 / c2, gl = l + 0.00225 / c2,
               gr = r + 0.03375 / c2;
  d = kernels::box_iou_ascent(pred, truth, IouFamily::giou);
  EXPECT_NEAR(d.x, gl + gr, 2e-5);
  EXPECT_NEAR(d.y, gt + gb, 2e-5);
  EXPECT_NEAR(d.w, gr - gl, 2e-5);
  EXPECT_NEAR(d.h, gb - gt, 2e-5);
}

// Pairs that overlap with no tied edges.
const B kOverlapping[][2] = {
    {{0.50, 0.50, 0.40, 0.40}, {0.60, 0.60, 0.40, 0.30}},
    {{0.31, 0.62, 0.22, 0.35}, {0.36, 0.55, 0.30, 0.28}},
    {{0.70, 0.20, 0.50, 0.18}, {0.62, 0.26, 0.21, 0.33}},
};

TEST(BoxIouAscent, OverlappingXYAreExactGradientsWHAreDarknets) {
  for (const auto& pair : kOverlapping) {
    const B p = pair[0], g = pair[1];
    const Box pb = to_box(p), gb = to_box(g);
    auto f_iou = [&](const B& q) { return iou(q, g); };
    auto f_giou = [&](const B& q) { return giou(q, g); };
    auto f_dist = [&](const B& q) { return distance_term(q, g); };

    kernels::BoxDelta d = kernels::box_iou_ascent(pb, gb, IouFamily::iou);
    EXPECT_NEAR(d.x, fd(f_iou, p, 0), 1e-3);
    EXPECT_NEAR(d.y, fd(f_iou, p, 1), 1e-3);
    EXPECT_NEAR(d.w, 2 * fd(f_iou, p, 2), 1e-3) << "Darknet does not halve dw";
    EXPECT_NEAR(d.h, 2 * fd(f_iou, p, 3), 1e-3);

    d = kernels::box_iou_ascent(pb, gb, IouFamily::giou);
    EXPECT_NEAR(d.x, fd(f_giou, p, 0), 1e-3);
    EXPECT_NEAR(d.y, fd(f_giou, p, 1), 1e-3);
    EXPECT_NEAR(d.w, 2 * fd(f_giou, p, 2), 1e-3);
    EXPECT_NEAR(d.h, 2 * fd(f_giou, p, 3), 1e-3);

    // DIoU: Darknet's x, y derivative of the penalty -S/C is (-S'*C - S*C')/C^2, the exact one
    // (-S'*C + S*C')/C^2 with the sign of the enclosing-diagonal term flipped: 2*(-S'/C) - exact.
    double cw, ch;
    enclosing(p, g, cw, ch);
    auto f_frozen = [&](const B& q) { return distance_term_fixed_c(q, g, cw * cw + ch * ch); };
    d = kernels::box_iou_ascent(pb, gb, IouFamily::diou);
    EXPECT_NEAR(d.x, fd(f_iou, p, 0) + 2 * fd(f_frozen, p, 0) - fd(f_dist, p, 0), 1e-3);
    EXPECT_NEAR(d.y, fd(f_iou, p, 1) + 2 * fd(f_frozen, p, 1) - fd(f_dist, p, 1), 1e-3);
    EXPECT_NEAR(d.w, 2 * fd(f_iou, p, 2) + fd(f_dist, p, 2), 1e-3);
    EXPECT_NEAR(d.h, 2 * fd(f_iou, p, 3) + fd(f_dist, p, 3), 1e-3);

    // CIoU: x, y as DIoU (alpha held constant, v does not depend on x, y); w, h add the aspect
    // derivative without its 1/(w^2+h^2) factor.
    const kernels::BoxDelta dd = d;
    d = kernels::box_iou_ascent(pb, gb, IouFamily::ciou);
    const double pi = 3.14159265358979323846;
    const double dt = std::atan(g.w / g.h) - std::atan(p.w / p.h);
    const double v = 4 / (pi * pi) * dt * dt;
    const double alpha = v / (1 - iou(p, g) + v + 1e-6);
    auto f_aspect = [&](const B& q) { return aspect_term(q, g, alpha); };
    EXPECT_NEAR(d.x, dd.x, 1e-5);
    EXPECT_NEAR(d.y, dd.y, 1e-5);
    const double r2 = p.w * p.w + p.h * p.h;
    EXPECT_NEAR(d.w - dd.w, r2 * fd(f_aspect, p, 2), 1e-4);
    EXPECT_NEAR(d.h - dd.h, r2 * fd(f_aspect, p, 3), 1e-4);
  }
}

TEST(BoxIouAscent, ApartBoxesHandDerived) {
  // pred edges t,b,l,r = .2,.4,.1,.3; truth .5,.8,.575,.825. Darknet multiplies the two negative
  // overlaps (-.275, -.1) into an "intersection" of .0275, so U = .04 + .075 - .0275 = .0875;
  // the enclosing box is .725 x .6 (area .435, squared diagonal .885625), centres .5, .35 apart.
  const Box pred{0.2f, 0.3f, 0.2f, 0.2f}, truth{0.7f, 0.65f, 0.25f, 0.3f};
  // GIoU apart: only (C*dU - U*dC)/C^2 per edge, dU = (-.2, .475, -.2, .3),
  // dC = (-.725, 0, -.6, 0).
  const double c2 = 0.435 * 0.435;
  const double t = (0.435 * -0.2 - 0.0875 * -0.725) / c2, b = 0.435 * 0.475 / c2,
               l = (0.435 * -0.2 - 0.0875 * -0.6) / c2, r = 0.435 * 0.3 / c2;
  kernels::BoxDelta d = kernels::box_iou_ascent(pred, truth, IouFamily::giou);
  EXPECT_NEAR(d.x, l + r, 2e-5);
  EXPECT_NEAR(d.y, t + b, 2e-5);
  EXPECT_NEAR(d.w, r - l, 2e-5);
  EXPECT_NEAR(d.h, b - t, 2e-5);
  // DIoU apart: only the penalty: x = (2*.5*C - 2*.725*(-1)*S)/C^2 with C = .885625, S = .3725
  // (the exact derivative has -.725*... : the enclosing term's sign is flipped for x and y);
  // w = 2*.725*.5*S/C^2 (exact).
  const double c = 0.885625, s = 0.3725;
  d = kernels::box_iou_ascent(pred, truth, IouFamily::diou);
  EXPECT_NEAR(d.x, (2 * 0.5 * c + 2 * 0.725 * s) / (c * c), 2e-5);
  EXPECT_NEAR(d.y, (2 * 0.35 * c + 2 * 0.6 * s) / (c * c), 2e-5);
  EXPECT_NEAR(d.w, 2 * 0.725 * 0.5 * s / (c * c), 2e-5);
  EXPECT_NEAR(d.h, 2 * 0.6 * 0.5 * s / (c * c), 2e-5);
  const B p{0.2, 0.3, 0.2, 0.2}, g{0.7, 0.65, 0.25, 0.3};
  auto f_dist = [&](const B& q) { return distance_term(q, g); };
  EXPECT_NEAR(d.w, fd(f_dist, p, 2), 1e-5);
  EXPECT_NEAR(d.h, fd(f_dist, p, 3), 1e-5);
}

TEST(BoxIouAscent, StepsRaiseTheScore) {
  for (IouFamily kind : {IouFamily::iou, IouFamily::giou, IouFamily::diou, IouFamily::ciou})
    for (const auto& pair : kOverlapping) {
      const Box p = to_box(pair[0]), g = to_box(pair[1]);
      const kernels::BoxDelta d = kernels::box_iou_ascent(p, g, kind);
      const float step = 1e-3f;
      const Box q{p.x + step * d.x, p.y + step * d.y, p.w + step * d.w, p.h + step * d.h};
      EXPECT_GT(kernels::box_iou_family(q, g, kind), kernels::box_iou_family(p, g, kind));
    }
}

}  // namespace
}  // namespace mishnet

// COCO box evaluation following pycocotools' COCOeval (evaluate, accumulate, summarize) rule by
// rule, so that the numbers agree with it; tests/eval/test_coco_eval.cpp checks that they do.
#include "mishnet/coco_eval.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <map>
#include <numeric>

#include "mishnet/error.h"

namespace mishnet {

namespace {

constexpr int kIouThresholds = 10;
constexpr int kRecallPoints = 101;
constexpr int kAreaRanges = 4;  // all, small, medium, large
constexpr int kMaxDets[3] = {1, 10, 100};
constexpr double kAreaLo[kAreaRanges] = {0, 0, 32 * 32, 96 * 96};
constexpr double kAreaHi[kAreaRanges] = {1e10, 32 * 32, 96 * 96, 1e10};

// numpy.linspace's values: start + i * (stop - start) / (num - 1), the last one exactly stop.
std::array<double, kIouThresholds> iou_thresholds() {
  std::array<double, kIouThresholds> t{};
  const double step = (0.95 - 0.5) / 9;
  for (int i = 0; i < kIouThresholds; ++i) t[size_t(i)] = double(i) * step + 0.5;
  t[kIouThresholds - 1] = 0.95;
  return t;
}

std::array<double, kRecallPoints> recall_thresholds() {
  std::array<double, kRecallPoints> r{};
  const double step = 1.0 / 100;
  for (int i = 0; i < kRecallPoints; ++i) r[size_t(i)] = double(i) * step + 0.0;
  r[kRecallPoints - 1] = 1.0;
  return r;
}

// maskUtils.iou for boxes: a crowd truth is matched by intersection over the detection's area.
double box_iou_coco(const CocoBox& d, const CocoBox& g, bool crowd) {
  double w = std::min(d.x + d.w, g.x + g.w) - std::max(d.x, g.x);
  if (w <= 0) return 0;
  double h = std::min(d.y + d.h, g.y + g.h) - std::max(d.y, g.y);
  if (h <= 0) return 0;
  double inter = w * h;
  double da = d.w * d.h, ga = g.w * g.h;
  double uni = crowd ? da : da + ga - inter;
  return inter / uni;
}

// One (image, category, area range) as COCOeval.evaluateImg leaves it, for maxDet = 100.
struct ImageEval {
  std::vector<double> scores;               // detections, highest score first
  std::vector<std::vector<char>> matched;   // [t][d]
  std::vector<std::vector<char>> ignored;   // [t][d]
  int non_ignored_truth = 0;
};

struct Detection {
  double score = 0;
  double area = 0;
  CocoBox box;
};

}  // namespace

CocoStats coco_evaluate(const CocoGroundTruth& gt, const std::vector<CocoResult>& results) {
  const auto iou_thr = iou_thresholds();
  const auto rec_thr = recall_thresholds();

  // Images and categories sorted and unique (pycocotools: np.unique of the ids).
  std::vector<int64_t> image_ids, cat_ids;
  for (const CocoImage& im : gt.images) image_ids.push_back(im.id);
  for (const CocoCategory& c : gt.categories) cat_ids.push_back(c.id);
  std::sort(image_ids.begin(), image_ids.end());
  image_ids.erase(std::unique(image_ids.begin(), image_ids.end()), image_ids.end());
  std::sort(cat_ids.begin(), cat_ids.end());
  cat_ids.erase(std::unique(cat_ids.begin(), cat_ids.end()), cat_ids.end());
  std::map<int64_t, size_t> image_index, cat_index;
  for (size_t i = 0; i < image_ids.size(); ++i) image_index[image_ids[i]] = i;
  for (size_t k = 0; k < cat_ids.size(); ++k) cat_index[cat_ids[k]] = k;
  const size_t I = image_ids.size(), K = cat_ids.size();

  // Per (category, image): truths and detections in file order.
  std::vector<std::vector<const CocoAnnotation*>> truths(K * I);
  std::vector<std::vector<Detection>> dets(K * I);
  for (const CocoAnnotation& a : gt.annotations) {
    auto ii = image_index.find(a.image_id);
    auto kk = cat_index.find(a.category_id);
    if (ii == image_index.end() || kk == cat_index.end()) continue;
    truths[kk->second * I + ii->second].push_back(&a);
  }
  for (size_t r = 0; r < results.size(); ++r) {
    const CocoResult& res = results[r];
    auto ii = image_index.find(res.image_id);
    if (ii == image_index.end())
      fail("result ", r, ": image_id ", res.image_id, " is not an image of the ground truth");
    auto kk = cat_index.find(res.category_id);
    if (kk == cat_index.end()) continue;
    dets[kk->second * I + ii->second].push_back({res.score, res.bbox.w * res.bbox.h, res.bbox});
  }

  // evaluateImg for every (category, area, image); empty when there is neither truth nor detection.
  const int max_det = kMaxDets[2];
  std::vector<std::vector<ImageEval>> evals(K * kAreaRanges);
  std::vector<std::vector<char>> present(K * kAreaRanges);
  for (size_t k = 0; k < K; ++k) {
    for (int a = 0; a < kAreaRanges; ++a) {
      evals[k * kAreaRanges + size_t(a)].resize(I);
      present[k * kAreaRanges + size_t(a)].assign(I, 0);
    }
    for (size_t i = 0; i < I; ++i) {
      const auto& g_all = truths[k * I + i];
      std::vector<Detection> d_all = dets[k * I + i];
      if (g_all.empty() && d_all.empty()) continue;
      std::stable_sort(d_all.begin(), d_all.end(),
                       [](const Detection& x, const Detection& y) { return x.score > y.score; });
      if (int(d_all.size()) > max_det) d_all.resize(size_t(max_det));
      const size_t D = d_all.size();
      for (int a = 0; a < kAreaRanges; ++a) {
        // Truths outside the area range or crowds are ignored; ignored ones go last (stable).
        std::vector<const CocoAnnotation*> g = g_all;
        std::vector<char> g_ignore_of(g.size());
        for (size_t j = 0; j < g.size(); ++j)
          g_ignore_of[j] = g[j]->iscrowd || g[j]->area < kAreaLo[a] || g[j]->area > kAreaHi[a];
        std::vector<size_t> order(g.size());
        std::iota(order.begin(), order.end(), size_t(0));
        std::stable_sort(order.begin(), order.end(),
                         [&](size_t x, size_t y) { return g_ignore_of[x] < g_ignore_of[y]; });
        const size_t G = g.size();
        std::vector<const CocoAnnotation*> gs(G);
        std::vector<char> g_ignore(G);
        for (size_t j = 0; j < G; ++j) {
          gs[j] = g[order[j]];
          g_ignore[j] = g_ignore_of[order[j]];
        }
        std::vector<double> ious(D * G);
        for (size_t d = 0; d < D; ++d)
          for (size_t j = 0; j < G; ++j) ious[d * G + j] = box_iou_coco(d_all[d].box, gs[j]->bbox, gs[j]->iscrowd);

        ImageEval& e = evals[k * kAreaRanges + size_t(a)][i];
        present[k * kAreaRanges + size_t(a)][i] = 1;
        e.scores.resize(D);
        for (size_t d = 0; d < D; ++d) e.scores[d] = d_all[d].score;
        e.matched.assign(kIouThresholds, std::vector<char>(D, 0));
        e.ignored.assign(kIouThresholds, std::vector<char>(D, 0));
        e.non_ignored_truth = int(std::count(g_ignore.begin(), g_ignore.end(), 0));
        for (int t = 0; t < kIouThresholds; ++t) {
          std::vector<char> g_taken(G, 0);
          for (size_t d = 0; d < D; ++d) {
            double best = std::min(iou_thr[size_t(t)], 1 - 1e-10);
            long m = -1;
            for (size_t j = 0; j < G; ++j) {
              if (g_taken[j] && !gs[j]->iscrowd) continue;
              // Matched to a regular truth already: ignored truths (after it) cannot do better.
              if (m > -1 && !g_ignore[size_t(m)] && g_ignore[j]) break;
              if (ious[d * G + j] < best) continue;
              best = ious[d * G + j];
              m = long(j);
            }
            if (m == -1) continue;
            e.ignored[size_t(t)][d] = g_ignore[size_t(m)];
            e.matched[size_t(t)][d] = 1;
            g_taken[size_t(m)] = 1;
          }
          // Unmatched detections outside the area range are ignored too.
          for (size_t d = 0; d < D; ++d)
            if (!e.matched[size_t(t)][d] && (d_all[d].area < kAreaLo[a] || d_all[d].area > kAreaHi[a]))
              e.ignored[size_t(t)][d] = 1;
        }
      }
    }
  }

  // accumulate: precision[t][r][k][a][m] and recall[t][k][a][m], -1 where undefined.
  const size_t T = kIouThresholds, R = kRecallPoints, A = kAreaRanges, M = 3;
  std::vector<double> precision(T * R * K * A * M, -1.0), recall(T * K * A * M, -1.0);
  auto p_at = [&](size_t t, size_t r, size_t k, size_t a, size_t m) -> double& {
    return precision[(((t * R + r) * K + k) * A + a) * M + m];
  };
  auto r_at = [&](size_t t, size_t k, size_t a, size_t m) -> double& { return recall[((t * K + k) * A + a) * M + m]; };
  const double eps = 2.220446049250313e-16;  // np.spacing(1)
  for (size_t k = 0; k < K; ++k) {
    for (size_t a = 0; a < A; ++a) {
      const auto& E = evals[k * A + a];
      const auto& here = present[k * A + a];
      for (size_t m = 0; m < M; ++m) {
        const size_t max_d = size_t(kMaxDets[m]);
        // (score, image, position) of every kept detection, images in id order.
        struct Ranked {
          double score;
          size_t image, pos;
        };
        std::vector<Ranked> ranked;
        int npig = 0;
        bool any = false;
        for (size_t i = 0; i < I; ++i) {
          if (!here[i]) continue;
          any = true;
          npig += E[i].non_ignored_truth;
          for (size_t d = 0; d < std::min(max_d, E[i].scores.size()); ++d) ranked.push_back({E[i].scores[d], i, d});
        }
        if (!any || npig == 0) continue;
        std::stable_sort(ranked.begin(), ranked.end(), [](const Ranked& x, const Ranked& y) { return x.score > y.score; });
        const size_t nd = ranked.size();
        for (size_t t = 0; t < T; ++t) {
          std::vector<double> rc(nd), pr(nd);
          double tp = 0, fp = 0;
          for (size_t n = 0; n < nd; ++n) {
            const ImageEval& e = E[ranked[n].image];
            bool matched = e.matched[t][ranked[n].pos], ignored = e.ignored[t][ranked[n].pos];
            if (!ignored) (matched ? tp : fp) += 1;
            rc[n] = tp / npig;
            pr[n] = tp / (fp + tp + eps);
          }
          r_at(t, k, a, m) = nd ? rc[nd - 1] : 0;
          for (size_t n = nd; n-- > 1;)
            if (pr[n] > pr[n - 1]) pr[n - 1] = pr[n];
          for (size_t r = 0; r < R; ++r) {
            size_t idx = size_t(std::lower_bound(rc.begin(), rc.end(), rec_thr[r]) - rc.begin());
            if (idx >= nd) {
              for (size_t rr = r; rr < R; ++rr) p_at(t, rr, k, a, m) = 0;
              break;
            }
            p_at(t, r, k, a, m) = pr[idx];
          }
        }
      }
    }
  }

  // summarize: the mean of the defined values.
  auto mean_precision = [&](int t_only, size_t a, size_t m) {
    double sum = 0;
    size_t n = 0;
    for (size_t t = 0; t < T; ++t) {
      if (t_only >= 0 && t != size_t(t_only)) continue;
      for (size_t r = 0; r < R; ++r)
        for (size_t k = 0; k < K; ++k) {
          double v = p_at(t, r, k, a, m);
          if (v > -1) sum += v, ++n;
        }
    }
    return n ? sum / double(n) : -1.0;
  };
  auto mean_recall = [&](size_t a, size_t m) {
    double sum = 0;
    size_t n = 0;
    for (size_t t = 0; t < T; ++t)
      for (size_t k = 0; k < K; ++k) {
        double v = r_at(t, k, a, m);
        if (v > -1) sum += v, ++n;
      }
    return n ? sum / double(n) : -1.0;
  };
  CocoStats s;
  s.values[0] = mean_precision(-1, 0, 2);
  s.values[1] = mean_precision(0, 0, 2);
  s.values[2] = mean_precision(5, 0, 2);
  s.values[3] = mean_precision(-1, 1, 2);
  s.values[4] = mean_precision(-1, 2, 2);
  s.values[5] = mean_precision(-1, 3, 2);
  s.values[6] = mean_recall(0, 0);
  s.values[7] = mean_recall(0, 1);
  s.values[8] = mean_recall(0, 2);
  s.values[9] = mean_recall(1, 2);
  s.values[10] = mean_recall(2, 2);
  s.values[11] = mean_recall(3, 2);
  return s;
}

std::string coco_summary_lines(const CocoStats& stats) {
  struct Line {
    bool ap;
    const char* iou;
    const char* area;
    int max_dets;
  };
  static const Line lines[12] = {
      {true, "0.50:0.95", "all", 100},   {true, "0.50", "all", 100},      {true, "0.75", "all", 100},
      {true, "0.50:0.95", "small", 100}, {true, "0.50:0.95", "medium", 100}, {true, "0.50:0.95", "large", 100},
      {false, "0.50:0.95", "all", 1},    {false, "0.50:0.95", "all", 10},  {false, "0.50:0.95", "all", 100},
      {false, "0.50:0.95", "small", 100}, {false, "0.50:0.95", "medium", 100}, {false, "0.50:0.95", "large", 100},
  };
  std::string out;
  char buf[160];
  for (int i = 0; i < 12; ++i) {
    const Line& l = lines[i];
    // pycocotools: ' {:<18} {} @[ IoU={:<9} | area={:>6s} | maxDets={:>3d} ] = {:0.3f}'
    std::snprintf(buf, sizeof buf, " %-18s %s @[ IoU=%-9s | area=%6s | maxDets=%3d ] = %0.3f\n",
                  l.ap ? "Average Precision" : "Average Recall", l.ap ? "(AP)" : "(AR)", l.iou, l.area, l.max_dets,
                  stats.values[size_t(i)]);
    out += buf;
  }
  return out;
}

std::string coco_stats_json(const CocoStats& stats) {
  static const char* keys[12] = {"AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl"};
  std::string out = "{";
  char buf[64];
  for (int i = 0; i < 12; ++i) {
    std::snprintf(buf, sizeof buf, "%s\"%s\": %.10g", i ? ", " : "", keys[i], stats.values[size_t(i)]);
    out += buf;
  }
  return out + "}";
}

CocoBox coco_box_from_relative(double x, double y, double w, double h, int image_w, int image_h) {
  double x0 = std::clamp((x - w / 2) * image_w, 0.0, double(image_w));
  double x1 = std::clamp((x + w / 2) * image_w, 0.0, double(image_w));
  double y0 = std::clamp((y - h / 2) * image_h, 0.0, double(image_h));
  double y1 = std::clamp((y + h / 2) * image_h, 0.0, double(image_h));
  return {x0, y0, x1 - x0, y1 - y0};
}

std::vector<int64_t> coco_category_ids(int classes, bool coco_ids) {
  // COCO 2014/2017's 80 detection categories among ids 1..90.
  static const int64_t coco80[80] = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 13, 14, 15, 16, 17, 18, 19, 20, 21,
                                     22, 23, 24, 25, 27, 28, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44,
                                     46, 47, 48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 62, 63, 64, 65,
                                     67, 70, 72, 73, 74, 75, 76, 77, 78, 79, 80, 81, 82, 84, 85, 86, 87, 88, 89, 90};
  std::vector<int64_t> ids(size_t(std::max(classes, 0)));
  if (coco_ids && classes != 80) fail("COCO category ids need 80 classes, got ", classes);
  for (int c = 0; c < classes; ++c) ids[size_t(c)] = coco_ids ? coco80[c] : int64_t(c) + 1;
  return ids;
}

std::vector<int64_t> coco_image_ids(const std::vector<std::string>& image_paths) {
  std::vector<int64_t> ids;
  bool numeric = true;
  for (const std::string& path : image_paths) {
    size_t slash = path.find_last_of("/\\");
    std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
    size_t dot = name.find_last_of('.');
    std::string stem = dot == std::string::npos ? name : name.substr(0, dot);
    if (stem.empty() || stem.size() > 18 || stem.find_first_not_of("0123456789") != std::string::npos) {
      numeric = false;
      break;
    }
    ids.push_back(std::stoll(stem));
  }
  if (numeric) {
    std::vector<int64_t> sorted = ids;
    std::sort(sorted.begin(), sorted.end());
    numeric = std::adjacent_find(sorted.begin(), sorted.end()) == sorted.end();
  }
  if (!numeric) {
    ids.resize(image_paths.size());
    std::iota(ids.begin(), ids.end(), int64_t(0));
  }
  return ids;
}

}  // namespace mishnet

// Darknet's mAP at one IoU threshold (validate_detector_map), from detections and truth.
#include <algorithm>
#include <cstdio>
#include <numeric>

#include "mishnet/detection_eval.h"
#include "mishnet/error.h"

namespace mishnet {

double average_precision(const std::vector<double>& precision, const std::vector<double>& recall, int points) {
  const size_t n = precision.size();
  if (recall.size() != n) fail("average_precision: ", n, " precision values but ", recall.size(), " recall values");
  if (points != 0 && points < 2) fail("average_precision: points must be 0 (area) or at least 2, got ", points);
  double ap = 0;
  if (points == 0) {
    // Area under the monotone envelope: each rise of recall weighted by the best precision at
    // that rank or after it. From recall 0 (Darknet's loop starts one rank late; see the docs).
    double best = 0;
    for (size_t k = n; k-- > 0;) {
      best = std::max(best, precision[k]);
      double previous = k == 0 ? 0.0 : recall[k - 1];
      ap += (recall[k] - previous) * best;
    }
    return ap;
  }
  for (int p = 0; p < points; ++p) {
    double r = double(p) / double(points - 1);
    double best = 0;
    for (size_t k = 0; k < n; ++k)
      if (recall[k] >= r && precision[k] > best) best = precision[k];
    ap += best;
  }
  return ap / points;
}

void append_map_detections(const std::vector<Detection>& dets, int image, std::vector<MapDetection>& out) {
  for (const Detection& d : dets)
    for (int c = 0; c < int(d.prob.size()); ++c)
      if (d.prob[size_t(c)] > 0) out.push_back({image, c, d.box, d.prob[size_t(c)]});
}

MapReport compute_map(const std::vector<MapTruth>& truth, const std::vector<MapDetection>& detections, int classes,
                      int images, const MapOptions& opts) {
  if (classes <= 0) fail("compute_map: classes must be positive, got ", classes);
  if (opts.points != 0 && opts.points < 2) fail("mAP points must be 0, 11, 101 or another count >= 2, got ", opts.points);
  MapReport rep;
  rep.options = opts;
  rep.images = images;
  rep.classes.resize(size_t(classes));
  for (int c = 0; c < classes; ++c) rep.classes[size_t(c)].class_id = c;

  // Truth of each image, as indices into `truth`.
  std::vector<std::vector<int>> truth_of(size_t(std::max(images, 0)));
  for (size_t t = 0; t < truth.size(); ++t) {
    const MapTruth& m = truth[t];
    if (m.image < 0 || m.image >= images) fail("compute_map: truth ", t, " is on image ", m.image, " of ", images);
    if (m.class_id < 0 || m.class_id >= classes) fail("compute_map: truth ", t, " has class ", m.class_id);
    truth_of[size_t(m.image)].push_back(int(t));
    rep.classes[size_t(m.class_id)].truth++;
  }
  rep.truth = int(truth.size());

  // Each detection's best truth of its class with IoU > iou_thresh (the first of equals).
  struct Scored {
    int image, class_id, truth;
    float score, iou;
  };
  std::vector<Scored> kept;
  std::vector<double> iou_sum(static_cast<size_t>(classes), 0.0);
  // Truths taken so far by a detection of their image, in processing order (Darknet's rule at thresh).
  std::vector<char> claimed(truth.size(), 0);
  for (size_t i = 0; i < detections.size(); ++i) {
    const MapDetection& d = detections[i];
    if (d.image < 0 || d.image >= images) fail("compute_map: detection ", i, " is on image ", d.image, " of ", images);
    if (d.class_id < 0 || d.class_id >= classes) fail("compute_map: detection ", i, " has class ", d.class_id);
    if (!(d.score > opts.detect_thresh)) continue;
    int best = -1;
    float best_iou = 0;
    for (int t : truth_of[size_t(d.image)]) {
      if (truth[size_t(t)].class_id != d.class_id) continue;
      float iou = box_iou(d.box, truth[size_t(t)].box);
      if (iou > opts.iou_thresh && iou > best_iou) best_iou = iou, best = t;
    }
    // At `thresh`, Darknet's rule: a true positive unless an earlier detection of this image
    // (in processing order, whatever its score) took the same truth.
    if (d.score > opts.thresh) {
      bool taken = best >= 0 && claimed[size_t(best)];
      ClassAp& c = rep.classes[size_t(d.class_id)];
      if (best >= 0 && !taken) {
        ++c.tp, ++rep.tp;
        iou_sum[size_t(d.class_id)] += best_iou;
        rep.avg_iou += best_iou;
      } else {
        ++c.fp, ++rep.fp;
      }
    }
    if (best >= 0) claimed[size_t(best)] = 1;
    kept.push_back({d.image, d.class_id, best, d.score, best_iou});
    rep.classes[size_t(d.class_id)].detections++;
  }
  rep.detections = int(kept.size());

  // Global ranking by score (stable: list order among equals); a truth counts once.
  std::vector<size_t> order(kept.size());
  std::iota(order.begin(), order.end(), size_t(0));
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return kept[a].score > kept[b].score; });
  std::vector<char> truth_taken(truth.size(), 0);
  const size_t n_classes = size_t(classes);
  std::vector<std::vector<double>> precision(n_classes), recall(n_classes);
  std::vector<int> tp(n_classes, 0), fp(n_classes, 0);
  for (size_t r : order) {
    const Scored& d = kept[r];
    size_t c = size_t(d.class_id);
    if (d.truth >= 0 && !truth_taken[size_t(d.truth)]) {
      truth_taken[size_t(d.truth)] = 1;
      ++tp[c];
    } else {
      ++fp[c];
    }
    int n_truth = rep.classes[c].truth;
    precision[c].push_back(double(tp[c]) / double(tp[c] + fp[c]));
    recall[c].push_back(n_truth > 0 ? double(tp[c]) / double(n_truth) : 0.0);
  }

  double sum_with_truth = 0;
  double sum_all = 0;
  int with_truth = 0;
  for (int c = 0; c < classes; ++c) {
    ClassAp& ca = rep.classes[size_t(c)];
    ca.ap = ca.truth > 0 ? average_precision(precision[size_t(c)], recall[size_t(c)], opts.points) : 0.0;
    ca.avg_iou = ca.tp > 0 ? iou_sum[size_t(c)] / ca.tp : 0.0;
    sum_all += ca.ap;
    if (ca.truth > 0) {
      sum_with_truth += ca.ap;
      ++with_truth;
    } else {
      rep.classes_without_truth.push_back(c);
    }
  }
  rep.map = with_truth > 0 ? sum_with_truth / with_truth : 0.0;
  rep.map_all_classes = sum_all / classes;
  rep.fn = rep.truth - rep.tp;
  rep.precision = rep.tp + rep.fp > 0 ? double(rep.tp) / double(rep.tp + rep.fp) : 0.0;
  rep.recall = rep.truth > 0 ? double(rep.tp) / double(rep.truth) : 0.0;
  rep.f1 = rep.precision + rep.recall > 0 ? 2 * rep.precision * rep.recall / (rep.precision + rep.recall) : 0.0;
  rep.avg_iou = rep.tp > 0 ? rep.avg_iou / rep.tp : 0.0;
  return rep;
}

std::string format_map_report(const MapReport& rep, const std::vector<std::string>& names) {
  std::string out;
  char buf[512];
  auto name_of = [&](int c) { return c < int(names.size()) ? names[size_t(c)] : std::to_string(c); };
  std::snprintf(buf, sizeof buf, "\n detections_count = %d, unique_truth_count = %d, images = %d\n", rep.detections,
                rep.truth, rep.images);
  out += buf;
  for (const ClassAp& c : rep.classes) {
    if (c.truth > 0)
      std::snprintf(buf, sizeof buf, "class_id = %d, name = %s, ap = %2.2f%%   \t (TP = %d, FP = %d) \n", c.class_id,
                    name_of(c.class_id).c_str(), c.ap * 100, c.tp, c.fp);
    else
      std::snprintf(buf, sizeof buf, "class_id = %d, name = %s, ap = n/a (no ground truth) \t (TP = %d, FP = %d) \n",
                    c.class_id, name_of(c.class_id).c_str(), c.tp, c.fp);
    out += buf;
  }
  const MapOptions& o = rep.options;
  std::snprintf(buf, sizeof buf, "\n for conf_thresh = %1.2f, precision = %1.2f, recall = %1.2f, F1-score = %1.2f \n",
                o.thresh, rep.precision, rep.recall, rep.f1);
  out += buf;
  std::snprintf(buf, sizeof buf,
                " for conf_thresh = %0.2f, TP = %d, FP = %d, FN = %d, average IoU = %2.2f %% (of the true positives)\n",
                o.thresh, rep.tp, rep.fp, rep.fn, rep.avg_iou * 100);
  out += buf;
  std::snprintf(buf, sizeof buf, "\n IoU threshold = %2.0f %%, ", o.iou_thresh * 100);
  out += buf;
  if (o.points) {
    std::snprintf(buf, sizeof buf, "used %d Recall-points \n", o.points);
    out += buf;
  } else {
    out += "used Area-Under-Curve for each unique Recall \n";
  }
  std::snprintf(buf, sizeof buf, " mean average precision (mAP@%0.2f) = %f, or %2.2f %% \n", o.iou_thresh, rep.map,
                rep.map * 100);
  out += buf;
  if (!rep.classes_without_truth.empty()) {
    std::string list;
    for (size_t i = 0; i < rep.classes_without_truth.size(); ++i)
      list += (i ? ", " : "") + name_of(rep.classes_without_truth[i]);
    std::snprintf(buf, sizeof buf, " %zu of %zu classes have no ground truth and are not in the mean: ",
                  rep.classes_without_truth.size(), rep.classes.size());
    out += buf + list + "\n";
    std::snprintf(buf, sizeof buf, " (Darknet's mean over all %zu classes, those counted as 0: %f)\n", rep.classes.size(),
                  rep.map_all_classes);
    out += buf;
  }
  if (rep.has_coco) {
    out += "\n COCO figures (pycocotools' rules) from the same detections:\n";
    out += coco_summary_lines(rep.coco);
  }
  return out;
}

}  // namespace mishnet

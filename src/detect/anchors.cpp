// k-means anchors with the IoU distance (Darknet's calc_anchors), and writing them into a cfg.
#include "mishnet/anchors.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <random>
#include <sstream>

#include "core/text.h"
#include "mishnet/error.h"

namespace mishnet {

namespace {

// Nearest anchor (highest IoU; the first of equals) of a size.
size_t nearest(const AnchorSize& s, const std::vector<AnchorSize>& centres, float* iou_out = nullptr) {
  size_t best = 0;
  float best_iou = -1;
  for (size_t j = 0; j < centres.size(); ++j) {
    float iou = size_iou(s, centres[j]);
    if (iou > best_iou) best_iou = iou, best = j;
  }
  if (iou_out) *iou_out = best_iou;
  return best;
}

}  // namespace

float size_iou(const AnchorSize& a, const AnchorSize& b) {
  float inter = std::min(a.w, b.w) * std::min(a.h, b.h);
  float uni = a.w * a.h + b.w * b.h - inter;
  return uni > 0 ? inter / uni : 0.0f;
}

AnchorClusters kmeans_anchors(const std::vector<AnchorSize>& sizes, int clusters, uint64_t seed, int max_iterations) {
  if (clusters <= 0) fail("calc_anchors: the number of clusters must be positive, got ", clusters);
  if (int(sizes.size()) < clusters) fail("calc_anchors: ", sizes.size(), " boxes are fewer than the ", clusters, " clusters asked for");
  for (const AnchorSize& s : sizes)
    if (!(s.w > 0 && s.h > 0)) fail("calc_anchors: a box of size ", s.w, " x ", s.h, " (sizes must be positive)");
  std::mt19937_64 rng(seed);
  // Uniform doubles from the generator's bits, so that the draws do not depend on the library.
  auto uniform = [&] { return double(rng() >> 11) * (1.0 / 9007199254740992.0); };

  std::vector<AnchorSize> centres;
  centres.push_back(sizes[size_t(uniform() * double(sizes.size()))]);
  std::vector<double> d2(sizes.size());
  while (int(centres.size()) < clusters) {
    double total = 0;
    for (size_t i = 0; i < sizes.size(); ++i) {
      float iou;
      nearest(sizes[i], centres, &iou);
      double d = 1.0 - double(iou);
      d2[i] = d * d;
      total += d2[i];
    }
    size_t pick = 0;
    if (total > 0) {
      double r = uniform() * total;
      for (pick = 0; pick + 1 < sizes.size() && r >= d2[pick]; ++pick) r -= d2[pick];
    } else {
      pick = size_t(uniform() * double(sizes.size()));  // every box equals a centre already
    }
    centres.push_back(sizes[pick]);
  }

  std::vector<size_t> assignment(sizes.size(), std::numeric_limits<size_t>::max());
  AnchorClusters out;
  for (out.iterations = 0; out.iterations < max_iterations; ++out.iterations) {
    bool changed = false;
    for (size_t i = 0; i < sizes.size(); ++i) {
      size_t c = nearest(sizes[i], centres);
      if (c != assignment[i]) assignment[i] = c, changed = true;
    }
    if (!changed) break;
    std::vector<double> sw(centres.size(), 0.0), sh(centres.size(), 0.0);
    std::vector<size_t> n(centres.size(), 0);
    for (size_t i = 0; i < sizes.size(); ++i) {
      sw[assignment[i]] += sizes[i].w;
      sh[assignment[i]] += sizes[i].h;
      n[assignment[i]]++;
    }
    for (size_t c = 0; c < centres.size(); ++c)
      if (n[c]) centres[c] = {float(sw[c] / double(n[c])), float(sh[c] / double(n[c]))};
  }
  std::stable_sort(centres.begin(), centres.end(),
                   [](const AnchorSize& a, const AnchorSize& b) { return a.w * a.h < b.w * b.h; });
  double sum = 0;
  for (const AnchorSize& s : sizes) {
    float iou;
    nearest(s, centres, &iou);
    sum += iou;
  }
  out.anchors = centres;
  out.avg_iou = sum / double(sizes.size());
  return out;
}

std::string format_anchors(const std::vector<AnchorSize>& anchors, bool decimals) {
  std::string out;
  char buf[64];
  for (size_t i = 0; i < anchors.size(); ++i) {
    if (decimals) std::snprintf(buf, sizeof buf, "%.4f,%.4f", anchors[i].w, anchors[i].h);
    else std::snprintf(buf, sizeof buf, "%.0f,%.0f", anchors[i].w, anchors[i].h);
    out += (i ? ", " : "") + std::string(buf);
  }
  return out;
}

std::string rewrite_cfg_anchors(const std::string& cfg_text, const std::string& cfg_name,
                                const std::vector<AnchorSize>& anchors, std::vector<int>* changed) {
  // Lines kept as they are except the anchors= lines of [yolo]/[region] sections.
  std::vector<std::string> lines;
  {
    std::istringstream in(cfg_text);
    for (std::string l; std::getline(in, l);) lines.push_back(l);
  }
  std::string section;
  int section_num = -1, num_line = 0;
  std::vector<int> rewritten;
  auto close_section = [&](int) {
    if ((section == "yolo" || section == "region") && section_num >= 0 && section_num != int(anchors.size()))
      fail_at(cfg_name, num_line, "num=", section_num, " but ", anchors.size(),
              " anchors were computed: ask for -num_of_clusters ", section_num);
  };
  for (size_t i = 0; i < lines.size(); ++i) {
    std::string t = trim(lines[i]);
    if (!t.empty() && t[0] == '[') {
      close_section(int(i));
      size_t close = t.find(']');
      section = trim(t.substr(1, close == std::string::npos ? std::string::npos : close - 1));
      section_num = -1;
      continue;
    }
    if (section != "yolo" && section != "region") continue;
    size_t eq = t.find('=');
    if (eq == std::string::npos || t[0] == '#' || t[0] == ';') continue;
    std::string key = trim(t.substr(0, eq));
    if (key == "num") {
      section_num = std::atoi(trim(t.substr(eq + 1)).c_str());
      num_line = int(i) + 1;
    } else if (key == "anchors") {
      size_t indent = lines[i].find_first_not_of(" \t");
      // [region] anchors are in grid cells: keep their decimals.
      lines[i] = lines[i].substr(0, indent) + "anchors = " + format_anchors(anchors, section == "region");
      rewritten.push_back(int(i) + 1);
    }
  }
  close_section(int(lines.size()));
  if (rewritten.empty()) fail(cfg_name, ": no anchors= line in a [yolo] or [region] section");
  std::string out;
  for (const std::string& l : lines) out += l + "\n";
  if (!cfg_text.empty() && cfg_text.back() != '\n') out.pop_back();
  if (changed) *changed = rewritten;
  return out;
}

}  // namespace mishnet

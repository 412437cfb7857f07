// evaluate_map_on_list: a network's detections on a valid list, scored as Darknet's map and COCO.
#include <iostream>

#include "mishnet/detection_eval.h"
#include "mishnet/detection_labels.h"
#include "mishnet/error.h"
#include "mishnet/image.h"
#include "mishnet/network.h"

namespace mishnet {

std::vector<Detection> detect_for_evaluation(Network& net, const Image& im, float detect_thresh, float nms,
                                             int letter_box) {
  if (net.batch() != 1) fail("detect_for_evaluation: the network must have batch 1, it has ", net.batch());
  const Shape in = net.input_shape();
  const bool letterbox = letter_box >= 0 ? letter_box != 0 : net.config().letter_box != 0;
  Image sized = fit_image_to_network(im, in.w, in.h, letterbox);
  net.forward(sized.data.data());
  std::vector<Detection> dets = get_detections(net, im.w, im.h, detect_thresh, letterbox);
  if (nms > 0) {
    NmsKind kind;
    float beta;
    network_nms_settings(net, kind, beta);
    nms_sort(dets, nms, kind, beta);
  }
  return dets;
}

MapReport evaluate_map_on_list(Network& net, const std::string& valid_list, int classes, const MapOptions& opts) {
  if (net.batch() != 1) fail("evaluate_map_on_list: the network must have batch 1, it has ", net.batch());
  const std::vector<std::string> paths = read_image_list(valid_list);
  const Shape in = net.input_shape();

  std::vector<MapTruth> truth;
  std::vector<MapDetection> detections;
  std::vector<std::string> problems, skipped;
  CocoGroundTruth coco_gt;
  std::vector<CocoResult> coco_results;
  const std::vector<int64_t> image_ids = coco_image_ids(paths);
  const std::vector<int64_t> category_ids = coco_category_ids(classes, false);
  for (int c = 0; c < classes; ++c) coco_gt.categories.push_back({category_ids[size_t(c)], std::to_string(c)});

  for (size_t i = 0; i < paths.size(); ++i) {
    Image im;
    try {
      im = load_image(paths[i], in.c);
    } catch (const Error& e) {
      skipped.push_back(e.what());
      continue;
    }
    std::vector<Detection> dets = detect_for_evaluation(net, im, opts.detect_thresh, opts.nms, opts.letter_box);
    const size_t first = detections.size();
    append_map_detections(dets, int(i), detections);
    std::vector<LabelBox> labels = read_yolo_labels(label_path_for_image(paths[i]), classes, &problems);
    for (const LabelBox& b : labels) truth.push_back({int(i), b.class_id, Box{b.x, b.y, b.w, b.h}});

    if (opts.coco) {
      const int64_t id = image_ids[i];
      coco_gt.images.push_back({id, im.w, im.h, paths[i]});
      for (const LabelBox& b : labels) {
        CocoAnnotation a;
        a.id = int64_t(coco_gt.annotations.size()) + 1;
        a.image_id = id;
        a.category_id = category_ids[size_t(b.class_id)];
        a.bbox = coco_box_from_relative(b.x, b.y, b.w, b.h, im.w, im.h);
        a.area = a.bbox.w * a.bbox.h;
        coco_gt.annotations.push_back(a);
      }
      for (size_t k = first; k < detections.size(); ++k) {
        const MapDetection& d = detections[k];
        if (!(d.score > opts.detect_thresh)) continue;
        coco_results.push_back({id, category_ids[size_t(d.class_id)],
                                coco_box_from_relative(d.box.x, d.box.y, d.box.w, d.box.h, im.w, im.h), d.score});
      }
    }
  }
  MapReport rep = compute_map(truth, detections, classes, int(paths.size()), opts);
  rep.images = int(paths.size() - skipped.size());
  rep.label_problems = std::move(problems);
  rep.skipped_images = std::move(skipped);
  if (opts.coco) {
    rep.coco = coco_evaluate(coco_gt, coco_results);
    rep.has_coco = true;
  }
  return rep;
}

}  // namespace mishnet

#if MISHNET_HAVE_OPENCV
#include "demo/detector_frames.h"

#include "demo/detection_report.h"
#include "demo/frame_pixels.h"

namespace mishnet::demo {

DetectorFrames::DetectorFrames(Network net, std::vector<std::string> names, const std::string& names_path,
                               const DetectorFrameOptions& options)
    : net_(std::move(net)), names_(std::move(names)), options_(options) {
  check_class_names(names_, detector_classes(net_, net_.cfg_path()), names_path, net_.cfg_path());
  network_nms_settings(net_, nms_kind_, nms_beta_);
  letterbox_ = options.letterbox || net_.config().letter_box != 0;
}

size_t DetectorFrames::input_floats() const { return net_.input_shape().per_image(); }

void DetectorFrames::preprocess(const cv::Mat& bgr, float* input) const {
  const Shape in = net_.input_shape();
  frame_to_input(bgr, in.w, in.h, in.c, letterbox_ ? FrameFit::letterbox : FrameFit::stretch, input);
}

FrameAnnotation DetectorFrames::infer(const float* input, int frame_w, int frame_h, long long frame_id,
                                      const AnnotationParts& parts) {
  net_.forward(input);
  dets_ = get_detections(net_, frame_w, frame_h, options_.thresh, letterbox_);
  nms_sort(dets_, 0.45f, nms_kind_, nms_beta_);
  FrameAnnotation a;
  if (parts.draw || parts.text) {
    std::vector<ShownDetection> shown = shown_detections(dets_, names_, options_.thresh);
    if (parts.text) a.text = detection_lines(shown, names_, options_.thresh, options_.ext_output, frame_w, frame_h);
    if (parts.draw) a.boxes = labelled_boxes(std::move(shown), names_, options_.thresh, frame_w, frame_h);
  }
  if (parts.json) a.json = detections_json(dets_, names_, frame_id, options_.source_name, true);
  return a;
}

}  // namespace mishnet::demo
#endif

// The detector on video frames: Darknet's detector demo (NMS 0.45 with the cfg's nms_kind,
// detections above thresh, printed and drawn as `detector test` does).
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "demo/frame_model.h"
#include "mishnet/detection.h"
#include "mishnet/network.h"

namespace mishnet::demo {

struct DetectorFrameOptions {
  float thresh = 0.25f;
  bool letterbox = false;  // also on when the cfg's [net] letter_box=1
  bool ext_output = false;
  std::string source_name;  // the "filename" of the JSON objects
};

class DetectorFrames : public FrameModel {
 public:
  // Throws when the network has no detection layer or `names` has too few classes.
  DetectorFrames(Network net, std::vector<std::string> names, const std::string& names_path,
                 const DetectorFrameOptions& options);

  size_t input_floats() const override;
  void preprocess(const cv::Mat& bgr, float* input) const override;
  FrameAnnotation infer(const float* input, int frame_w, int frame_h, long long frame_id,
                        const AnnotationParts& parts) override;

  // The detections of the last infer() (after NMS), for tests and callers that want them.
  const std::vector<Detection>& last_detections() const { return dets_; }

 private:
  Network net_;
  std::vector<std::string> names_;
  DetectorFrameOptions options_;
  NmsKind nms_kind_ = NmsKind::greedy;
  float nms_beta_ = 0.6f;
  bool letterbox_ = false;
  std::vector<Detection> dets_;
};

}  // namespace mishnet::demo

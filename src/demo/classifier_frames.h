// The classifier on video frames: Darknet's classifier demo, the top classes of each frame
// printed ("87.32%: sneaker", as `classifier predict`), drawn at the top left and sent as JSON.
// Frames are centre-cropped as `classifier predict` crops images (Darknet's demo stretches them
// instead; a classifier evaluated on crops is better served by crops).
#pragma once
#include <string>
#include <vector>

#include "demo/frame_model.h"
#include "mishnet/network.h"

namespace mishnet::demo {

class ClassifierFrames : public FrameModel {
 public:
  // `top` classes per frame (at most the network's outputs). Throws when `names` has fewer
  // names than the network has outputs.
  ClassifierFrames(Network net, std::vector<std::string> names, const std::string& names_path, int top,
                   std::string source_name);

  size_t input_floats() const override;
  void preprocess(const cv::Mat& bgr, float* input) const override;
  FrameAnnotation infer(const float* input, int frame_w, int frame_h, long long frame_id,
                        const AnnotationParts& parts) override;

 private:
  Network net_;
  std::vector<std::string> names_;
  int outputs_ = 0;
  int top_ = 1;
  std::string source_name_;
};

}  // namespace mishnet::demo

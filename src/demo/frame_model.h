// What the demo pipeline runs on each frame: a network and how its output becomes annotations.
// The detector and the classifier are the two implementations (detector_frames.cpp,
// classifier_frames.cpp); the pipeline itself knows nothing about either.
#pragma once
#include <opencv2/core.hpp>
#include <string>
#include <vector>

#include "mishnet/image.h"

namespace mishnet::demo {

struct FrameAnnotation {
  std::vector<LabelledBox> boxes;          // drawn on the frame
  std::vector<std::string> overlay_lines;  // drawn at its top left
  std::string text;                        // printed for the frame
  std::string json;                        // one JSON object on one line (when asked for)
};

// Which parts of an annotation are wanted (the rest is left empty, to save the work).
struct AnnotationParts {
  bool draw = true;
  bool text = true;
  bool json = false;
};

class FrameModel {
 public:
  virtual ~FrameModel() = default;
  virtual size_t input_floats() const = 0;
  // The frame as the network's input. Called from the preprocessing thread while infer() runs
  // on another, so it must not touch the network.
  virtual void preprocess(const cv::Mat& bgr, float* input) const = 0;
  // One forward pass and its annotation for a frame_w x frame_h frame.
  virtual FrameAnnotation infer(const float* input, int frame_w, int frame_h, long long frame_id,
                                const AnnotationParts& parts) = 0;
};

}  // namespace mishnet::demo

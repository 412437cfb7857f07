#if MISHNET_HAVE_OPENCV
#include "demo/classifier_frames.h"

#include <algorithm>
#include <cstdio>
#include <numeric>

#include "demo/detection_report.h"
#include "demo/frame_pixels.h"
#include "mishnet/error.h"

namespace mishnet::demo {

ClassifierFrames::ClassifierFrames(Network net, std::vector<std::string> names, const std::string& names_path,
                                   int top, std::string source_name)
    : net_(std::move(net)), names_(std::move(names)), source_name_(std::move(source_name)) {
  outputs_ = int(net_.layer(net_.num_layers() - 1).output_shape.per_image());
  if (int(names_.size()) < outputs_)
    fail(names_path, ": has ", names_.size(), " names but the network has ", outputs_, " outputs");
  top_ = std::clamp(top, 1, outputs_);
}

size_t ClassifierFrames::input_floats() const { return net_.input_shape().per_image(); }

void ClassifierFrames::preprocess(const cv::Mat& bgr, float* input) const {
  const Shape in = net_.input_shape();
  frame_to_input(bgr, in.w, in.h, in.c, FrameFit::centre_crop, input);
}

FrameAnnotation ClassifierFrames::infer(const float* input, int, int, long long frame_id,
                                        const AnnotationParts& parts) {
  const float* scores = net_.forward(input).data;
  // The top classes, ties to the lower index (as Darknet's top_k).
  std::vector<int> order(static_cast<size_t>(outputs_));
  std::iota(order.begin(), order.end(), 0);
  std::partial_sort(order.begin(), order.begin() + top_, order.end(), [&](int a, int b) {
    return scores[a] > scores[b] || (scores[a] == scores[b] && a < b);
  });
  order.resize(size_t(top_));

  FrameAnnotation a;
  char buf[512];
  if (parts.json)
    a.json = "{\"frame_id\":" + std::to_string(frame_id) + ", \"filename\":\"" + json_escape(source_name_) +
             "\", \"predictions\": [";
  for (size_t i = 0; i < order.size(); ++i) {
    const int c = order[i];
    const std::string& name = names_[size_t(c)];
    std::snprintf(buf, sizeof buf, "%5.2f%%: %s", double(scores[c]) * 100.0, name.c_str());
    if (parts.text) a.text += std::string(buf) + "\n";
    if (parts.draw) a.overlay_lines.emplace_back(buf);
    if (parts.json) {
      std::snprintf(buf, sizeof buf, "%s{\"class_id\":%d, \"name\":\"%s\", \"confidence\":%f}", i ? ", " : "", c,
                    json_escape(name).c_str(), double(scores[c]));
      a.json += buf;
    }
  }
  if (parts.json) a.json += "]}";
  return a;
}

}  // namespace mishnet::demo
#endif

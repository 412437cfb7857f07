// [detection]: the YOLOv1 head. Darknet's parse_detection keys, forward_detection_layer
// (inference) and get_detection_detections.
//
// The input is flat per image (usually a [connected] output): side*side*classes class scores,
// then side*side*num box confidences, then side*side*num boxes of 4 coordinates.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "layers/detection_output.h"
#include "layers/option_checks.h"
#include "mishnet/error.h"
#include "ops/softmax_op.h"

#if defined(MISHNET_HAVE_CUDA)
#include "backend/cuda/cuda_ops.h"
#include "backend/cuda/device_memory.h"
#endif

namespace mishnet {

namespace {

using namespace option_checks;

class DetectionLayer final : public DetectionOutputLayer {
 public:
  explicit DetectionLayer(const BuildContext& ctx) {
    const CfgSection& s = ctx.section;
    input_shape = ctx.input;
    coords_ = s.get_int("coords", 1);
    classes_ = s.get_int("classes", 1);
    num_ = s.get_int("num", 1);
    side_ = s.get_int("side", 7);
    softmax_ = s.get_bool("softmax", false);
    sqrt_ = s.get_bool("sqrt", false);
    if (coords_ != 4)
      s.fail_key("coords", "only 4 is supported (Darknet's decoding reads 4 values per box)");
    if (classes_ < 1) s.fail_key("classes", "must be at least 1");
    if (num_ < 1) s.fail_key("num", "must be at least 1");
    if (side_ < 1) s.fail_key("side", "must be at least 1");
    // Training only.
    for (const char* k : {"rescore", "forced", "reorg"}) s.get_bool(k, false);
    if (s.get_int("max", 200) < 1) s.fail_key("max", "must be at least 1");
    for (const char* k : {"coord_scale", "object_scale", "noobject_scale", "class_scale"})
      require_non_negative(s, k, s.get_float(k, 1));
    require_non_negative(s, "jitter", s.get_float("jitter", 0.2f));
    require_positive(s, "resize", s.get_float("resize", 1.0f));
    require_non_negative(s, "random", s.get_float("random", 0.0f));

    const size_t need = size_t(side_) * size_t(side_) * size_t((1 + coords_) * num_ + classes_);
    if (input_shape.per_image() != need) {
      std::string from = ctx.index > 0 ? "layer " + std::to_string(ctx.index - 1)
                                       : std::string("the network input");
      fail_at(s.file, s.line, "layer ", ctx.index, " [", s.raw_type,
              "] expects side*side*((1+coords)*num+classes) = ", side_, "*", side_, "*((1+",
              coords_, ")*", num_, "+", classes_, ") = ", need, " values from ", from,
              ", which has ", input_shape.per_image(), " (", input_shape, ")");
    }
    output_shape = input_shape;
  }

  const char* type() const override { return "detection"; }
  int classes() const override { return classes_; }

  void forward(const ForwardContext& ctx, Tensor& out) override {
    const int locations = side_ * side_;
    const size_t per_image = out.shape.per_image();
    std::copy(ctx.input.data, ctx.input.data + per_image * size_t(out.shape.n), out.data);
    if (softmax_)
      ops::softmax_groups_reference(out.data, out.data, out.shape.n, int(per_image), locations,
                                    classes_, 1.0f);
  }

  // The same on the device: a copy, then one thread per location's class softmax
  // (CudaGather.DetectionSoftmaxBodyMatchesTheCpuLayer).
  bool has_cuda_forward() const override { return true; }
#if defined(MISHNET_HAVE_CUDA)
  void forward_cuda(const CudaForwardContext& ctx, Tensor& out) override {
    const size_t per_image = out.shape.per_image();
    if (out.data != ctx.input.data)
      cuda::copy_on_device(out.data, ctx.input.data, out.size() * sizeof(float), ctx.stream);
    if (softmax_)
      cuda::softmax_groups(ctx.input.data, out.data, out.shape.n, int(per_image), side_ * side_,
                           classes_, 1.0f, ctx.stream);
  }
#endif

  // Darknet multiplies these boxes by the image size, unlike every other head; mishnet keeps
  // them relative like the rest (and, as Darknet, applies no letterbox correction).
  void append_detections(const Tensor& output, int batch_index, const DetectionGeometry&,
                         float thresh, std::vector<Detection>& out) const override {
    const float* p = output.image(batch_index);
    const int locations = side_ * side_;
    for (int i = 0; i < locations; ++i) {
      const int row = i / side_, col = i % side_;
      for (int n = 0; n < num_; ++n) {
        const float scale = p[locations * classes_ + i * num_ + n];
        const float* b = p + locations * (classes_ + num_) + (i * num_ + n) * 4;
        Detection d;
        d.box.x = (b[0] + col) / side_;
        d.box.y = (b[1] + row) / side_;
        d.box.w = float(std::pow(b[2], sqrt_ ? 2 : 1));
        d.box.h = float(std::pow(b[3], sqrt_ ? 2 : 1));
        d.objectness = scale;
        d.classes = classes_;
        d.prob.resize(size_t(classes_));
        for (int c = 0; c < classes_; ++c) {
          float prob = scale * p[i * classes_ + c];
          d.prob[size_t(c)] = prob > thresh ? prob : 0;
        }
        out.push_back(std::move(d));
      }
    }
  }

 private:
  int coords_ = 4, classes_ = 1, num_ = 1, side_ = 7;
  bool softmax_ = false, sqrt_ = false;
};

}  // namespace

MISHNET_REGISTER_LAYER("detection", DetectionLayer);

}  // namespace mishnet

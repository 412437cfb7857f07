// [region]: the YOLOv2 detection head. Darknet's parse_region keys, forward_region_layer
// (inference) and custom_get_region_detections.
#include <string>
#include <vector>

#include "kernels/box.h"
#include "layers/detection_output.h"
#include "layers/option_checks.h"
#include "mishnet/error.h"
#include "ops/detection_heads.h"

#if defined(MISHNET_HAVE_CUDA)
#include "backend/cuda/cuda_ops.h"
#endif

namespace mishnet {

namespace {

using namespace option_checks;

struct RegionOptions {
  int coords = 4;
  int classes = 20;
  int num = 1;
  int max_boxes = 200;
  std::vector<float> anchors;  // 2*num values: w, h in grid cells
  bool softmax = false;
  // -1: objectness below 0.5 counts as 0 (inference too); 1, 2: class loss variants.
  int classfix = 0;
  // Training only
  int log = 0, sqrt = 0, absolute = 0;
  bool focal_loss = false, rescore = false, bias_match = false;
  float jitter = 0.2f, resize = 1.0f, random = 0.0f, thresh = 0.5f;
  float coord_scale = 1, object_scale = 1, noobject_scale = 1, mask_scale = 1, class_scale = 1;
};

RegionOptions parse_region_options(const CfgSection& s) {
  RegionOptions o;
  o.coords = s.get_int("coords", o.coords);
  if (o.coords != 4)
    s.fail_key("coords", "only 4 is supported (Darknet's region decoding assumes x,y,w,h)");
  o.classes = s.get_int("classes", o.classes);
  if (o.classes < 1) s.fail_key("classes", "must be at least 1");
  o.num = s.get_int("num", o.num);
  if (o.num < 1) s.fail_key("num", "must be at least 1");
  o.max_boxes = s.get_int("max", o.max_boxes);
  if (o.max_boxes < 1) s.fail_key("max", "must be at least 1");

  if (!s.has("anchors"))
    s.fail_key("", "missing 'anchors' (2*num = " + std::to_string(2 * o.num) +
                       " values: width,height of each anchor in grid cells)");
  o.anchors = s.get_floats("anchors");
  if (o.anchors.size() != size_t(2 * o.num))
    s.fail_key("anchors", "has " + std::to_string(o.anchors.size()) + " values; num=" +
                              std::to_string(o.num) + " needs " + std::to_string(2 * o.num));
  for (float a : o.anchors)
    if (!(a > 0)) s.fail_key("anchors", "anchor sizes must be positive, got " + number(a));

  o.softmax = s.get_bool("softmax", o.softmax);
  o.classfix = s.get_int("classfix", o.classfix);
  if (o.classfix < -1 || o.classfix > 2) s.fail_key("classfix", "must be -1, 0, 1 or 2");
  o.log = s.get_int("log", o.log);
  o.sqrt = s.get_int("sqrt", o.sqrt);
  o.absolute = s.get_int("absolute", o.absolute);
  o.focal_loss = s.get_bool("focal_loss", o.focal_loss);
  o.rescore = s.get_bool("rescore", o.rescore);
  o.bias_match = s.get_bool("bias_match", o.bias_match);
  o.jitter = s.get_float("jitter", o.jitter);
  require_non_negative(s, "jitter", o.jitter);
  o.resize = s.get_float("resize", o.resize);
  require_positive(s, "resize", o.resize);
  o.random = s.get_float("random", o.random);
  require_non_negative(s, "random", o.random);
  o.thresh = s.get_float("thresh", o.thresh);
  require_range(s, "thresh", o.thresh, 0, 1);
  for (auto [key, field] : {std::pair{"coord_scale", &o.coord_scale},
                            std::pair{"object_scale", &o.object_scale},
                            std::pair{"noobject_scale", &o.noobject_scale},
                            std::pair{"mask_scale", &o.mask_scale},
                            std::pair{"class_scale", &o.class_scale}}) {
    *field = s.get_float(key, *field);
    require_non_negative(s, key, *field);
  }
  if (s.has("tree"))
    s.fail_key("tree", "hierarchical softmax (YOLO9000) is not supported by mishnet");
  if (s.has("map")) s.fail_key("map", "class maps (YOLO9000) are not supported by mishnet");
  return o;
}

class RegionLayer final : public DetectionOutputLayer {
 public:
  explicit RegionLayer(const BuildContext& ctx) : o_(parse_region_options(ctx.section)) {
    const CfgSection& s = ctx.section;
    input_shape = ctx.input;
    const int need = o_.num * (o_.coords + o_.classes + 1);
    if (input_shape.c != need) {
      std::string from = ctx.index > 0 ? "layer " + std::to_string(ctx.index - 1)
                                       : std::string("the network input");
      fail_at(s.file, s.line, "layer ", ctx.index, " [", s.raw_type, "] expects (", o_.classes,
              "+", o_.coords, "+1)*", o_.num, " = ", need, " channels from ", from,
              ", which has ", input_shape.c, " (set filters=", need,
              " in the layer before it, or change classes= or num=)");
    }
    output_shape = input_shape;
  }

  const char* type() const override { return "region"; }
  int classes() const override { return o_.classes; }

  void forward(const ForwardContext& ctx, Tensor& out) override {
    ops::region_activate_reference(head_desc(out.shape), ctx.input.data, out.data, o_.softmax);
  }

  bool has_cuda_forward() const override { return true; }
#if defined(MISHNET_HAVE_CUDA)
  void forward_cuda(const CudaForwardContext& ctx, Tensor& out) override {
    cuda::region_activate(head_desc(out.shape), ctx.input.data, out.data, o_.softmax, ctx.stream);
  }
#endif

  void append_detections(const Tensor& output, int batch_index, const DetectionGeometry& g,
                         float thresh, std::vector<Detection>& out) const override {
    const int grid_w = output.shape.w, grid_h = output.shape.h;
    const size_t plane = size_t(grid_w) * size_t(grid_h);
    const size_t block = size_t(o_.coords + o_.classes + 1) * plane;
    const float* p = output.image(batch_index);
    for (size_t i = 0; i < plane; ++i) {
      const int row = int(i / size_t(grid_w)), col = int(i % size_t(grid_w));
      for (int n = 0; n < o_.num; ++n) {
        const float* entry = p + size_t(n) * block + i;
        float scale = entry[4 * plane];
        if (o_.classfix == -1 && scale < .5f) scale = 0;
        Box b = kernels::region_box(entry[0], entry[plane], entry[2 * plane], entry[3 * plane],
                                    col, row, grid_w, grid_h, o_.anchors[size_t(2 * n)],
                                    o_.anchors[size_t(2 * n + 1)]);
        Detection d;
        d.box = kernels::correct_box(b, g.image_w, g.image_h, g.net_w, g.net_h, g.letterbox);
        // Darknet keeps every region box with objectness 1; the scores carry the threshold.
        d.objectness = 1;
        d.classes = o_.classes;
        d.prob.resize(size_t(o_.classes));
        for (int c = 0; c < o_.classes; ++c) {
          float prob = scale * entry[size_t(5 + c) * plane];
          d.prob[size_t(c)] = prob > thresh ? prob : 0;
        }
        out.push_back(std::move(d));
      }
    }
  }

 private:
  // The head geometry of an output tensor, for the activation ops (CPU and CUDA).
  ops::HeadDesc head_desc(const Shape& out) const {
    ops::HeadDesc d;
    d.batch = out.n;
    d.anchors = o_.num;
    d.entries = o_.coords + o_.classes + 1;
    d.spatial = out.h * out.w;
    return d;
  }

  RegionOptions o_;
};

}  // namespace

MISHNET_REGISTER_LAYER("region", RegionLayer);

}  // namespace mishnet

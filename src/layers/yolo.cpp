// [yolo]: Darknet's parse_yolo keys, forward_yolo_layer (inference, and the loss in training via
// yolo_loss.cpp) and get_yolo_detections.
#include "layers/yolo.h"

#include <algorithm>
#include <string>

#include "kernels/box.h"
#include "layers/option_checks.h"
#include "layers/yolo_loss.h"
#include "mishnet/error.h"
#include "ops/detection_heads.h"

#if defined(MISHNET_HAVE_CUDA)
#include "backend/cuda/cuda_ops.h"
#include "backend/cuda/yolo_loss_kernels.h"
#endif

namespace mishnet {

using namespace option_checks;

YoloOptions parse_yolo_options(const CfgSection& s) {
  YoloOptions o;
  o.classes = s.get_int("classes", o.classes);
  if (o.classes < 1) s.fail_key("classes", "must be at least 1");
  o.num = s.get_int("num", o.num);
  if (o.num < 1) s.fail_key("num", "must be at least 1");

  if (!s.has("anchors"))
    s.fail_key("", "missing 'anchors' (2*num = " + std::to_string(2 * o.num) +
                       " values: width,height of each anchor in pixels)");
  o.anchors = s.get_floats("anchors");
  if (o.anchors.size() != size_t(2 * o.num))
    s.fail_key("anchors", "has " + std::to_string(o.anchors.size()) + " values; num=" +
                              std::to_string(o.num) + " needs " + std::to_string(2 * o.num) +
                              " (a width,height pair per anchor)");
  for (float a : o.anchors)
    if (!(a > 0)) s.fail_key("anchors", "anchor sizes must be positive, got " + number(a));

  o.mask = s.get_ints("mask");
  if (o.mask.empty())
    for (int i = 0; i < o.num; ++i) o.mask.push_back(i);
  for (int m : o.mask)
    if (m < 0 || m >= o.num)
      s.fail_key("mask", "anchor index " + std::to_string(m) + " is outside 0.." +
                             std::to_string(o.num - 1) + " (num=" + std::to_string(o.num) + ")");

  o.max_boxes = s.get_int("max", o.max_boxes);
  if (o.max_boxes < 1) s.fail_key("max", "must be at least 1");

  o.scale_x_y = s.get_float("scale_x_y", o.scale_x_y);
  require_positive(s, "scale_x_y", o.scale_x_y);
  o.new_coords = s.get_bool("new_coords", o.new_coords);
  o.beta_nms = s.get_float("beta_nms", o.beta_nms);
  require_positive(s, "beta_nms", o.beta_nms);
  o.nms_kind = parse_choice<NmsKind>(s, "nms_kind", "default",
                                     {{"default", NmsKind::greedy},
                                      {"greedynms", NmsKind::greedy_diou},
                                      {"diounms", NmsKind::diou},
                                      // Darknet's [yolo] parser maps cornersnms to the default.
                                      {"cornersnms", NmsKind::greedy}});

  o.ignore_thresh = s.get_float("ignore_thresh", o.ignore_thresh);
  require_range(s, "ignore_thresh", o.ignore_thresh, 0, 1);
  o.truth_thresh = s.get_float("truth_thresh", o.truth_thresh);
  require_range(s, "truth_thresh", o.truth_thresh, 0, 1);
  o.iou_thresh = s.get_float("iou_thresh", o.iou_thresh);
  require_range(s, "iou_thresh", o.iou_thresh, 0, 1);
  o.iou_thresh_kind = parse_choice<YoloIouKind>(s, "iou_thresh_kind", "iou",
                                                {{"iou", YoloIouKind::iou},
                                                 {"giou", YoloIouKind::giou},
                                                 {"diou", YoloIouKind::diou},
                                                 {"ciou", YoloIouKind::ciou}});
  o.iou_loss = parse_choice<YoloIouLoss>(s, "iou_loss", "mse",
                                         {{"mse", YoloIouLoss::mse},
                                          {"iou", YoloIouLoss::iou},
                                          {"giou", YoloIouLoss::giou},
                                          {"diou", YoloIouLoss::diou},
                                          {"ciou", YoloIouLoss::ciou}});
  for (auto [key, field] : {std::pair{"iou_normalizer", &o.iou_normalizer},
                            std::pair{"obj_normalizer", &o.obj_normalizer},
                            std::pair{"cls_normalizer", &o.cls_normalizer},
                            std::pair{"delta_normalizer", &o.delta_normalizer},
                            std::pair{"uc_normalizer", &o.uc_normalizer}}) {
    *field = s.get_float(key, *field);
    require_non_negative(s, key, *field);
  }
  o.max_delta = s.get_float("max_delta", o.max_delta);
  require_positive(s, "max_delta", o.max_delta);
  o.objectness_smooth = s.get_bool("objectness_smooth", o.objectness_smooth);
  o.label_smooth_eps = s.get_float("label_smooth_eps", o.label_smooth_eps);
  require_range(s, "label_smooth_eps", o.label_smooth_eps, 0, 1);
  o.focal_loss = s.get_bool("focal_loss", o.focal_loss);

  if (s.has("counters_per_class")) {
    o.counters_per_class = s.get_ints("counters_per_class");
    if (o.counters_per_class.size() != size_t(o.classes))
      s.fail_key("counters_per_class", "has " + std::to_string(o.counters_per_class.size()) +
                                           " values, classes=" + std::to_string(o.classes));
    // Darknet's get_classes_multipliers: rarer classes weigh more, up to max_delta.
    float max_counter = 0;
    for (int& c : o.counters_per_class) {
      if (c < 1) c = 1;
      max_counter = std::max(max_counter, float(c));
    }
    for (int c : o.counters_per_class)
      o.classes_multipliers.push_back(std::min(max_counter / float(c), o.max_delta));
  }

  o.jitter = s.get_float("jitter", o.jitter);
  require_non_negative(s, "jitter", o.jitter);
  o.resize = s.get_float("resize", o.resize);
  require_positive(s, "resize", o.resize);
  o.random = s.get_float("random", o.random);
  require_non_negative(s, "random", o.random);

  o.show_details = s.get_bool("show_details", o.show_details);
  o.track_history_size = s.get_int("track_history_size", o.track_history_size);
  o.sim_thresh = s.get_float("sim_thresh", o.sim_thresh);
  o.dets_for_track = s.get_int("dets_for_track", o.dets_for_track);
  o.dets_for_show = s.get_int("dets_for_show", o.dets_for_show);
  o.track_ciou_norm = s.get_float("track_ciou_norm", o.track_ciou_norm);
  o.beta1 = s.get_float("beta1", o.beta1);

  for (const char* k : {"embedding_layer", "map"})
    if (s.has(k))
      s.fail_key(k, "is not supported by mishnet (tracking embeddings and class maps)");
  return o;
}

YoloLayer::YoloLayer(const BuildContext& ctx) : options_(parse_yolo_options(ctx.section)) {
  const CfgSection& s = ctx.section;
  input_shape = ctx.input;
  const int per_anchor = options_.classes + 5;
  const int need = per_anchor * anchors_per_cell();
  if (input_shape.c != need) {
    std::string from = ctx.index > 0 ? "layer " + std::to_string(ctx.index - 1)
                                     : std::string("the network input");
    fail_at(s.file, s.line, "layer ", ctx.index, " [", s.raw_type, "] expects (",
            options_.classes, "+5)*", anchors_per_cell(), " = ", need, " channels from ", from,
            ", which has ", input_shape.c, " (set filters=", need,
            " in the layer before it, or change classes= or mask=)");
  }
  output_shape = input_shape;
  net_w_ = ctx.net.width;
  net_h_ = ctx.net.height;
}

ops::HeadDesc YoloLayer::head_desc(const Shape& out) const {
  ops::HeadDesc d;
  d.batch = out.n;
  d.anchors = anchors_per_cell();
  d.entries = options_.classes + 5;
  d.spatial = out.h * out.w;
  return d;
}

void YoloLayer::forward(const ForwardContext& ctx, Tensor& out) {
  const ops::HeadDesc d = head_desc(out.shape);
  ops::yolo_activate(d, ctx.input.data, out.data, options_.scale_x_y, options_.new_coords);
  if (!ctx.training || !ctx.truth) return;
  stats_ = yolo_loss(options_, loss_geometry(out.shape), ctx.input.data, out.data, ctx.truth,
                     truth_floats(), ctx.delta.data);
  cost = float(stats_.loss);
}

YoloLossGeometry YoloLayer::loss_geometry(const Shape& out) const {
  YoloLossGeometry g;
  g.batch = out.n;
  g.grid_w = out.w;
  g.grid_h = out.h;
  // The stride stays when a network is resized: scale the input size with the grid.
  g.net_w = out.w == input_shape.w ? net_w_ : net_w_ * out.w / input_shape.w;
  g.net_h = out.h == input_shape.h ? net_h_ : net_h_ * out.h / input_shape.h;
  g.layer_index = index;
  return g;
}

#if defined(MISHNET_HAVE_CUDA)
void YoloLayer::forward_cuda(const CudaForwardContext& ctx, Tensor& out) {
  const ops::HeadDesc d = head_desc(out.shape);
  cuda::yolo_activate(d, ctx.input.data, out.data, options_.scale_x_y, options_.new_coords,
                      ctx.stream);
}

namespace {

struct YoloCudaTraining final : CudaLayerTraining {
  YoloCudaTraining(const kernels::YoloLossParams& p, int batch, const Shape& out)
      : workspace(p, batch), shape(out) {}
  cuda::YoloLossWorkspace workspace;
  Shape shape;  // the output it was made for
};

}  // namespace

std::unique_ptr<CudaLayerTraining> YoloLayer::make_cuda_training(int batch, size_t) {
  Shape out = output_shape;
  out.n = batch;
  return std::make_unique<YoloCudaTraining>(yolo_loss_params(options_, loss_geometry(out)), batch,
                                            out);
}

void YoloLayer::forward_cuda_train(const CudaTrainContext& ctx, Tensor& out) {
  const ops::HeadDesc d = head_desc(out.shape);
  cuda::yolo_activate(d, ctx.input.data, out.data, options_.scale_x_y, options_.new_coords,
                      ctx.stream);
  if (!ctx.truth || !ctx.host_truth || !ctx.delta.data)
    fail("layer ", index, " [yolo]: GPU training forward without the truth or the gradient");
  if (!ctx.state) fail("layer ", index, " [yolo]: GPU training forward without its device state");
  auto& t = static_cast<YoloCudaTraining&>(*ctx.state);
  if (t.shape != out.shape)
    fail("layer ", index, " [yolo]: device loss made for output ", t.shape, " x ", t.shape.n,
         ", got ", out.shape, " x ", out.shape.n);
  const YoloLossGeometry g = loss_geometry(out.shape);
  // The kernels assume valid truths: the same errors as on the CPU, before any launch.
  check_yolo_truths(options_, ctx.host_truth, truth_floats(), g.batch, index);
  const kernels::YoloLossTotals totals =
      t.workspace.run(ctx.input.data, out.data, ctx.truth, truth_floats(), ctx.delta.data,
                      -options_.delta_normalizer, ctx.stream);
  stats_ = yolo_stats(options_, g, totals);
  cost = float(stats_.loss);
}

void YoloLayer::backward_cuda(const CudaBackwardContext& ctx) {
  if (!ctx.input_delta.data) return;
  cuda::accumulate(ctx.delta.data, ctx.delta.size(), ctx.input_delta.data, ctx.stream);
}
#endif

void YoloLayer::backward(const BackwardContext& ctx) {
  if (!ctx.input_delta.data) return;
  for (size_t i = 0; i < ctx.delta.size(); ++i) ctx.input_delta.data[i] += ctx.delta.data[i];
}

void YoloLayer::append_detections(const Tensor& output, int batch_index, const DetectionGeometry& g,
                                  float thresh, std::vector<Detection>& out) const {
  const int grid_w = output.shape.w, grid_h = output.shape.h;
  const size_t plane = size_t(grid_w) * size_t(grid_h);
  const size_t block = size_t(options_.classes + 5) * plane;
  const float* p = output.image(batch_index);
  for (size_t i = 0; i < plane; ++i) {
    const int row = int(i / size_t(grid_w)), col = int(i % size_t(grid_w));
    for (int a = 0; a < anchors_per_cell(); ++a) {
      const float* entry = p + size_t(a) * block + i;
      const float objectness = entry[4 * plane];
      if (!(objectness > thresh)) continue;  // NaN objectness is no detection, as in Darknet
      const int m = options_.mask[size_t(a)];
      Box b = kernels::yolo_box(entry[0], entry[plane], entry[2 * plane], entry[3 * plane], col,
                                row, grid_w, grid_h, options_.anchors[size_t(2 * m)],
                                options_.anchors[size_t(2 * m + 1)], g.net_w, g.net_h,
                                options_.new_coords);
      Detection d;
      d.box = kernels::correct_box(b, g.image_w, g.image_h, g.net_w, g.net_h, g.letterbox);
      d.objectness = objectness;
      d.classes = options_.classes;
      d.prob.resize(size_t(options_.classes));
      for (int c = 0; c < options_.classes; ++c) {
        float prob = objectness * entry[size_t(5 + c) * plane];
        d.prob[size_t(c)] = prob > thresh ? prob : 0;
      }
      out.push_back(std::move(d));
    }
  }
}

MISHNET_REGISTER_LAYER("yolo", YoloLayer);

}  // namespace mishnet

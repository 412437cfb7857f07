// [yolo]: the YOLOv3/v4 detection head. Inference applies Darknet's activations; training adds
// Darknet's (AlexeyAB) loss, see src/layers/yolo_loss.h and docs/yolo-loss.md.
#pragma once
#include <cfloat>
#include <vector>

#include "layers/detection_output.h"
#include "ops/detection_heads.h"

namespace mishnet {

struct YoloLossGeometry;

// iou_loss: how the box loss is computed (mse on tx..th, or a (G/D/C)IoU loss).
enum class YoloIouLoss { mse, iou, giou, diou, ciou };
// iou_thresh_kind: which overlap iou_thresh is compared with when assigning extra anchors.
enum class YoloIouKind { iou, giou, diou, ciou };

// Every key of Darknet's parse_yolo, with its default.
struct YoloOptions {
  int classes = 20;
  int num = 1;               // anchors listed in `anchors` (all heads share the list)
  std::vector<int> mask;     // the anchors this head predicts; 0..num-1 when absent
  std::vector<float> anchors;  // 2*num values: w, h in network-input pixels
  int max_boxes = 200;       // `max`: ground-truth boxes per image

  // Inference
  float scale_x_y = 1.0f;    // x,y = sigmoid*scale - (scale-1)/2: lets centres reach cell edges
  bool new_coords = false;   // the conv outputs are already logistic; w = (2*tw)^2 * anchor
  NmsKind nms_kind = NmsKind::greedy;
  float beta_nms = 0.6f;

  // Training: assignment and loss
  float ignore_thresh = 0.5f;
  float truth_thresh = 1.0f;
  float iou_thresh = 1.0f;   // < 1: also train anchors whose overlap with the truth exceeds it
  YoloIouKind iou_thresh_kind = YoloIouKind::iou;
  YoloIouLoss iou_loss = YoloIouLoss::mse;
  float iou_normalizer = 0.75f;
  float obj_normalizer = 1.0f;
  float cls_normalizer = 1.0f;
  float delta_normalizer = 1.0f;
  float max_delta = FLT_MAX;  // clip of the box-loss gradient
  bool objectness_smooth = false;
  float label_smooth_eps = 0.0f;
  bool focal_loss = false;
  std::vector<int> counters_per_class;     // objects per class in the training set, or empty
  std::vector<float> classes_multipliers;  // from counters_per_class: max/count, <= max_delta

  // Training: augmentation and multi-scale
  float jitter = 0.2f;
  float resize = 1.0f;
  float random = 0.0f;

  // Tracking and logging options Darknet reads; kept, unused by mishnet.
  bool show_details = true;
  int track_history_size = 5;
  float sim_thresh = 0.8f;
  int dets_for_track = 1;
  int dets_for_show = 1;
  float track_ciou_norm = 0.01f;
  // Keys found in public cfgs that Darknet's [yolo] does not read (Gaussian-YOLO options).
  float uc_normalizer = 1.0f;
  float beta1 = 0.6f;
};

// Parses and validates the options of a [yolo] section (file:line errors).
YoloOptions parse_yolo_options(const CfgSection& s);

// What the last training forward of one [yolo] layer measured: the figures Darknet prints per
// head ("Region 139 Avg (IOU: ..., Class, Obj, No Obj, .5R, .75R, count") and the loss split.
// Averages are over the batch; a head that trained no truth reports 0 averages (count 0).
struct YoloStats {
  int images = 0;
  int count = 0;              // truth/anchor pairs trained by this head (best anchor + iou_thresh)
  int class_count = 0;        // the pairs avg_class is over
  float avg_iou = 0;          // mean IoU of those anchors' predicted boxes with their truths
  float avg_class = 0;        // mean probability of the true class there ("Class")
  float avg_obj = 0;          // mean objectness there ("Obj")
  float avg_no_obj = 0;       // mean objectness over every anchor of every cell ("No Obj")
  float recall50 = 0;         // share of those pairs with IoU > 0.5 (".5R")
  float recall75 = 0;         // share with IoU > 0.75 (".75R")
  int rewritten_boxes = 0;    // box deltas written more than once (Darknet's rewritten_bbox)
  // The loss mishnet trains (Layer::cost, summed over the batch) and its parts; see
  // docs/yolo-loss.md for which of its gradients equal the deltas and which follow Darknet.
  double loss = 0, box_loss = 0, obj_loss = 0, class_loss = 0;
  // The figure Darknet stores in the layer cost (its "total_loss" times the batch): the sum of
  // squared deltas, or with an IoU loss iou_normalizer * mean(1 - IoU or GIoU) + obj_normalizer *
  // the squared objectness and class deltas.
  double darknet_loss = 0;
};

// The figures of a batch from those of its parts (several GPUs, each training a slice of the
// batch): counts and losses add; each average is weighted by what it averages over (avg_iou,
// avg_obj and the recalls by count, avg_class by class_count, avg_no_obj by images). Exact but
// for darknet_loss with an IoU box loss, whose IoU part is a mean per part: the parts' figures
// are added.
YoloStats combine_yolo_stats(const std::vector<YoloStats>& parts);

class YoloLayer final : public DetectionOutputLayer {
 public:
  explicit YoloLayer(const BuildContext& ctx);

  const char* type() const override { return "yolo"; }
  void forward(const ForwardContext& ctx, Tensor& out) override;
  // Head activations on the device; in GPU training the loss too (yolo_loss_kernels.h).
  bool has_cuda_forward() const override { return true; }
  bool has_cuda_backward() const override { return true; }
#if defined(MISHNET_HAVE_CUDA)
  void forward_cuda(const CudaForwardContext& ctx, Tensor& out) override;
  std::unique_ptr<CudaLayerTraining> make_cuda_training(int batch, size_t workspace_limit_bytes) override;
  // Activations, loss and gradient (into ctx.delta) on the device; the loss and the figures
  // come back to the host (last_stats, cost).
  void forward_cuda_train(const CudaTrainContext& ctx, Tensor& out) override;
  void backward_cuda(const CudaBackwardContext& ctx) override;
#endif

  int classes() const override { return options_.classes; }
  void append_detections(const Tensor& output, int batch_index, const DetectionGeometry& g,
                         float thresh, std::vector<Detection>& out) const override;
  NmsKind nms_kind() const override { return options_.nms_kind; }
  float beta_nms() const override { return options_.beta_nms; }

  const YoloOptions& options() const { return options_; }
  int anchors_per_cell() const { return int(options_.mask.size()); }

  // --- Training ---
  // Ground truth per image: max_boxes x (x, y, w, h, class_id), relative to the network input,
  // the list ending at the first box with w or h == 0.
  size_t truth_floats() const override { return size_t(options_.max_boxes) * 5; }
  // The loss writes dL/d(input) into ctx.delta during forward; backward adds it to the input.
  void backward(const BackwardContext& ctx) override;
  // Figures of the last training forward (zeros before the first).
  const YoloStats& last_stats() const { return stats_; }
  // Several GPUs: the figures of the whole batch, combined from the replicas' (gpu_training).
  void set_last_stats(const YoloStats& s) { stats_ = s; }

 private:
  // The head geometry of an output tensor, for the activation ops (CPU and CUDA).
  ops::HeadDesc head_desc(const Shape& out) const;
  // The loss geometry of an output tensor (CPU and CUDA).
  YoloLossGeometry loss_geometry(const Shape& out) const;

  YoloOptions options_;
  int net_w_ = 0, net_h_ = 0;  // network input size the layer was built for
  YoloStats stats_;
};

}  // namespace mishnet

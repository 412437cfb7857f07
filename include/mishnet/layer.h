// A layer: parses its cfg section, infers its output shape, declares its parameters in .weights
// order, and calls ops. It never touches oneDNN, CUDA or raw loops for heavy math: ops do.
#pragma once
#include <functional>
#include <map>
#include <random>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "mishnet/activation.h"
#include "mishnet/cfg.h"
#include "mishnet/net_config.h"
#include "mishnet/shape.h"

struct CUstream_st;  // cudaStream_t without the CUDA headers (backend/cuda/stream_handle.h)

namespace mishnet {

// Which implementation family runs the ops.
enum class BackendKind { reference, cpu, cuda };
const char* backend_name(BackendKind k);

// How a layer handles the nChw16c layout (Layer::blocked_support, src/core/layout_plan.h).
enum class BlockedSupport {
  none,     // reads and writes NCHW only
  any,      // reads either layout and writes either (a convolution reorders inside its op)
  follows,  // writes the layout it reads; all its inputs in the same one (route, pooling, ...)
};

// Channels [first, first + count) of layer `layer`'s output are channels [out_first, out_first +
// count) of this layer's output (Layer::channel_sources).
struct ChannelSource {
  int layer = -1;
  int first = 0, count = 0, out_first = 0;
};

// A block of parameters, in the order it appears in a .weights file.
struct Param {
  std::string name;  // "biases", "scales", "rolling_mean", "rolling_variance", "weights", ...
  size_t count = 0;
  float* data = nullptr;  // set by Network: one allocation holds every parameter
  float* grad = nullptr;  // training only: dL/d(data), accumulated over a batch
  // rolling statistics and similar are loaded/saved but never trained
  bool trainable = true;
  // scales/rolling_mean/rolling_variance: skipped by `dontloadscales`
  bool is_bn_scale = false;
  // How `mishnet init` fills it: uniform in +-sqrt(6/fan_in) when fan_in > 0 (He-uniform),
  // else the constant init_value (biases 0, BN scales 1, rolling variance 1, ...).
  size_t fan_in = 0;
  float init_value = 0.0f;
};

// What a layer sees while it is being built from its cfg section.
struct BuildContext {
  const CfgSection& section;
  const NetConfig& net;
  int index = 0;
  Shape input;                        // output shape of layer index-1, or the network input
  const std::vector<Shape>& outputs;  // output shapes of layers 0..index-1
  const CfgSection* previous_section = nullptr;  // cfg section of layer index-1, if any

  // Resolves a route/shortcut reference: negative = relative to this layer, else absolute.
  // Throws file:line when it points outside 0..index-1.
  int resolve_layer(int ref, const std::string& key) const;
};


// What a layer sees while it runs.
struct ForwardContext {
  Tensor input;                       // output of layer index-1 (or the network input)
  const std::vector<Tensor>& outputs; // outputs of every layer; earlier ones are valid
  bool training = false;
  // Training only: the batch's ground truth (truth_floats() per image, see Layer) for loss
  // layers, this layer's output gradient (loss layers write dL/d(output) into it during
  // forward), and the run's random generator (dropout, rrelu).
  const float* truth = nullptr;
  Tensor delta{};
  std::mt19937_64* rng = nullptr;
};

// What a layer's CUDA inference forward sees: device pointers throughout (docs/gpu.md).
struct CudaForwardContext {
  Tensor input;                        // device output of layer index-1 (or the network input)
  const std::vector<Tensor>& outputs;  // device outputs of every layer; earlier ones are valid
  const std::vector<float*>& params;   // device copies of cuda_parameters(), in that order
  CUstream_st* stream = nullptr;       // the network's stream: every launch goes on it
};

// Per-layer device state of GPU training (cuDNN descriptors, x_hat, batch statistics, argmax,
// dropout masks): made by Layer::make_cuda_training for one device and batch, owned by the GPU
// training network (one per GPU), passed back in the contexts below.
struct CudaLayerTraining {
  virtual ~CudaLayerTraining() = default;
};

// What a layer's CUDA training forward sees (docs/gpu.md, "Training on the GPU"): device
// pointers throughout. params/grads hold the device copies of Param::data/Param::grad in
// `params` order (raw, unfolded parameters: training never folds batch norm).
struct CudaTrainContext {
  Tensor input;                        // device output of layer index-1 (or the network input)
  const std::vector<Tensor>& outputs;  // device outputs of every layer; earlier ones are valid
  const std::vector<float*>& params;
  const std::vector<float*>& grads;
  CudaLayerTraining* state = nullptr;  // from make_cuda_training (null when it made none)
  CUstream_st* stream = nullptr;       // every launch goes on it
  std::mt19937_64* rng = nullptr;      // the host generator (dropout masks drawn on the host)
  // Loss layers ([yolo]): the batch's ground truth (truth_floats() per image, as
  // ForwardContext::truth) on the device and its host copy (checked on the host before a
  // launch), and this layer's output gradient, which the loss writes during forward.
  const float* truth = nullptr;
  const float* host_truth = nullptr;
  Tensor delta{};
};

// The device twin of BackwardContext: the same ADD-into-gradient rules, device pointers.
struct CudaBackwardContext {
  Tensor input, output, delta, input_delta;
  const std::vector<Tensor>& outputs;
  const std::vector<Tensor>& deltas;
  const std::vector<float*>& params;
  const std::vector<float*>& grads;
  CudaLayerTraining* state = nullptr;
  CUstream_st* stream = nullptr;
};

// What a layer sees in the backward pass. Gradients are true gradients dL/dx of a loss summed
// over the batch (Darknet sums; the optimizer divides by the batch size).
struct BackwardContext {
  Tensor input;        // what forward read as ctx.input
  Tensor output;       // this layer's output
  Tensor delta;        // dL/d(output); the layer may overwrite it (in-place activation grads)
  Tensor input_delta;  // dL/d(input): ADD into it; data == nullptr when nothing upstream learns
  const std::vector<Tensor>& outputs;  // every layer's output
  const std::vector<Tensor>& deltas;   // every layer's gradient: ADD into those of `inputs`;
                                       // an entry with data == nullptr needs no gradient
};

class Layer {
 public:
  virtual ~Layer() = default;

  virtual const char* type() const = 0;
  // Computes `out` (already sized to output_shape with batch) from the context.
  virtual void forward(const ForwardContext& ctx, Tensor& out) = 0;
  // Called after weights are loaded and before forward: fold batch norm, create primitives.
  virtual void prepare(BackendKind /*backend*/) {}
  // Billions of floating-point operations for one image, as Darknet counts them.
  virtual double bflops() const { return 0.0; }
  // The "filters" and "size/stride" columns of `mishnet summary`.
  virtual std::string summary_filters() const { return ""; }
  virtual std::string summary_geometry() const { return ""; }
  // The network output of this layer holds detections ([yolo], [region], [detection]).
  virtual bool is_detection_output() const { return false; }

  // --- CUDA inference (docs/gpu.md) ---
  // Whether forward_cuda() computes this layer's inference output with its options. False (the
  // default) makes a CUDA network run forward() on the host for this layer: a fallback, with
  // its inputs downloaded and its output uploaded. Needs no device; the same in every build.
  virtual bool has_cuda_forward() const { return false; }
  // Host blocks that forward_cuda() reads (folded weights, ...), valid after
  // prepare(BackendKind::cuda): the network uploads them once, into one device allocation.
  virtual std::vector<std::span<const float>> cuda_parameters() { return {}; }
  // Inference forward on the device, launched on ctx.stream. Called only when
  // has_cuda_forward(); the default throws.
  virtual void forward_cuda(const CudaForwardContext& ctx, Tensor& out);

  // --- Memory layout of inference tensors on the CPU backend (src/core/layout_plan.h) ---
  // Whether this layer can work on tensors in oneDNN's nChw16c layout ([n][c/16][h][w][16]:
  // channels in blocks of 16, innermost), which saves the convolutions' reorders. Only channel
  // counts that are multiples of 16 are ever kept blocked; a layer answers for its options.
  virtual BlockedSupport blocked_support() const { return BlockedSupport::none; }
  // Set by the network before prepare() (inference on the cpu backend; false otherwise): the
  // layout of ctx.input (and, for a `follows` layer, of every input) and of this layer's output.
  bool input_blocked = false;
  bool output_blocked = false;

  // --- Inference memory ---
  // A layer whose output is channel ranges of its inputs, unchanged ([route]), says where each
  // comes from; with batch 1 the network may then place an input inside the output (concat) or
  // the output inside its input (split) and the copy disappears (src/core/output_views.h).
  // The layer's forward must then skip copies whose source already is their destination.
  virtual std::vector<ChannelSource> channel_sources() const { return {}; }

  // --- CUDA training (docs/gpu.md, "Training on the GPU") ---
  // Whether forward_cuda_train/backward_cuda train this layer on the device with its options.
  // False (the default): the GPU training network runs forward()/backward() on the host for it
  // (inputs and gradients downloaded, results uploaded) when the layer has no trainable
  // parameters (loss layers: their loss and gradient come from the CPU code), and refuses the
  // network otherwise. Needs no device; the same in every build.
  virtual bool has_cuda_backward() const { return false; }
  // Device state for training `batch` images on the current device (null: none needed).
  virtual std::unique_ptr<CudaLayerTraining> make_cuda_training(int batch, size_t workspace_limit_bytes);
  // Training forward on the device: batch statistics, x_hat kept in the state, dropout masks
  // drawn from ctx.rng exactly as the CPU forward draws them. Default throws.
  virtual void forward_cuda_train(const CudaTrainContext& ctx, Tensor& out);
  // For a layer whose training forward is its inference forward_cuda and reads no parameters
  // (route, upsample, pooling, softmax): that forward, with the training context's tensors.
  void forward_cuda_as_inference(const CudaTrainContext& ctx, Tensor& out);
  // Backward on the device with the semantics of backward(): ADD into ctx.input_delta, the
  // deltas of `inputs` and ctx.grads. Default throws.
  virtual void backward_cuda(const CudaBackwardContext& ctx);

  // --- Training ---
  // Adds dL/d(input) to ctx.input_delta (and to the deltas of other `inputs`) and dL/d(param)
  // to each Param::grad. Layers without a backward throw.
  virtual void backward(const BackwardContext& ctx);
  // Called when the network switches to training with a batch size: allocate what backward
  // needs (batch statistics, masks). Default: nothing.
  virtual void set_training(bool /*on*/, int /*batch*/) {}
  // What backward reads besides gradients: the values of its inputs (ctx.input and the outputs
  // of `inputs`) and its own output. Training keeps an output alive through backward only when
  // some layer reads it there; the rest share memory as in inference. Defaults: both.
  virtual bool backward_reads_inputs() const { return true; }
  virtual bool backward_reads_output() const { return true; }
  // Training memory: an output that some backward step reads need not be kept from the forward
  // pass when the layer can rebuild it then (recompute_output), bit for bit: a convolution with
  // batch norm from its x_hat, which it keeps anyway; route, shortcut, upsample and maxpool by
  // running forward again on their (kept or themselves rebuilt) inputs. Defaults: cannot.
  virtual bool can_recompute_output() const { return false; }
  // Whether recompute_output reads this layer's `inputs` (false: only the layer's own state).
  virtual bool recompute_reads_inputs() const { return true; }
  // Writes the output of the last training forward into `out`; ctx as in that forward (its
  // inputs valid), without truth, gradient or generator. Default: throws.
  virtual void recompute_output(const ForwardContext& ctx, Tensor& out);
  // Ground-truth floats per image a loss layer reads from ForwardContext::truth (0: none).
  virtual size_t truth_floats() const { return 0; }
  // Loss of the last training forward (loss layers), summed over the batch.
  float cost = 0.0f;

  int index = 0;
  Shape input_shape;   // n = 1; the network sets the batch
  Shape output_shape;  // n = 1
  // Layers whose outputs this layer reads; index-1 (or -1 for the network input) by default.
  std::vector<int> inputs;
  std::vector<Param> params;

  // Options every layer accepts (DARKNET.md: "Any layer").
  bool stopbackward = false;
  bool dontload = false;
  bool dontloadscales = false;
  bool train_only_bn = false;
  bool dont_update = false;
  float learning_rate_scale = 1.0f;

  Param* find_param(const std::string& name);
  float* param(const std::string& name);  // throws when absent
  // Position of the block `name` in `params` (for CudaTrainContext::params); throws when absent.
  size_t param_slot(const std::string& name) const;

 protected:
  // Returns the declared block so the caller can set fan_in / init_value.
  Param& declare_param(const std::string& name, size_t count, bool trainable = true,
                       bool is_bn_scale = false);
  // biases, scales, rolling_mean, rolling_variance for `n` channels, in .weights order.
  void declare_batchnorm_params(size_t n);
};

// Layer types register themselves by section name; see MISHNET_REGISTER_LAYER.
using LayerFactory = std::function<std::unique_ptr<Layer>(const BuildContext&)>;
std::map<std::string, LayerFactory>& layer_registry();

struct LayerRegistrar {
  LayerRegistrar(const char* type, LayerFactory factory);
};

#define MISHNET_CONCAT_INNER(a, b) a##b
#define MISHNET_CONCAT(a, b) MISHNET_CONCAT_INNER(a, b)
// In a layer's .cpp: MISHNET_REGISTER_LAYER("maxpool", MaxpoolLayer); the class needs a
// constructor taking (const BuildContext&).
#define MISHNET_REGISTER_LAYER(type_name, Class)                                   \
  static ::mishnet::LayerRegistrar MISHNET_CONCAT(mishnet_registrar_, __LINE__)( \
      type_name, [](const ::mishnet::BuildContext& ctx) -> std::unique_ptr<::mishnet::Layer> { \
        return std::make_unique<Class>(ctx);                                       \
      })

// Reads the options every layer accepts into `layer`.
void parse_common_options(const CfgSection& s, Layer& layer);
// Reads `activation=` (default given) with a file:line error for unknown names.
Activation parse_activation_option(const CfgSection& s, const std::string& fallback);

}  // namespace mishnet

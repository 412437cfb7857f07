#include "mishnet/network.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <iostream>

#include "mishnet/error.h"

namespace mishnet {

Network::Network() = default;
Network::Network(Network&&) noexcept = default;
Network& Network::operator=(Network&&) noexcept = default;
Network::~Network() = default;

Network Network::from_cfg(const Cfg& cfg, const NetworkOptions& options) {
  Network net;
  net.cfg_path_ = cfg.path;
  net.backend_ = options.backend;
  net.device_ = options.device;
  const CfgSection& net_section = cfg.sections[0];
  net.config_ = NetConfig::parse(net_section);
  if (options.width > 0) net.config_.width = options.width;
  if (options.height > 0) net.config_.height = options.height;
  net.batch_ = options.batch > 0 ? options.batch : net.config_.batch;

  auto report_unused = [&](const CfgSection& s, const std::string& what) {
    for (const CfgOption& d : s.duplicates) {
      std::string msg = "[" + s.raw_type + "] duplicate key '" + d.key + "' (first set on line " +
                        std::to_string(s.find(d.key)->line) + ")";
      if (!options.lenient) fail_at(s.file, d.line, msg, " (use --lenient to keep the first)");
      std::cerr << "warning: " << s.file << ':' << d.line << ": " << msg << ", the first is used\n";
    }
    for (const CfgOption* o : s.unused()) {
      std::string msg = "[" + s.raw_type + "] key '" + o->key + "' is not known for " + what;
      if (!options.lenient) fail_at(s.file, o->line, msg, " (use --lenient to ignore)");
      std::cerr << "warning: " << s.file << ':' << o->line << ": " << msg << ", ignored\n";
    }
  };
  report_unused(net_section, "[net]");

  const NetConfig& c = net.config_;
  Shape input{1, c.channels, c.height, c.width};
  if (c.width == 0 && c.height == 0) input = Shape{1, c.inputs, 1, 1};
  if (input.per_image() == 0)
    fail_at(cfg.path, net_section.line, "[net] needs width, height and channels (or inputs)");

  std::vector<Shape> shapes;
  for (size_t i = 1; i < cfg.sections.size(); ++i) {
    const CfgSection& s = cfg.sections[i];
    int index = int(i) - 1;
    auto& registry = layer_registry();
    auto it = registry.find(s.type);
    if (it == registry.end()) {
      if (s.type == "net")
        fail_at(s.file, s.line, "[", s.raw_type, "] may only appear as the first section");
      fail_at(s.file, s.line, "unknown section [", s.raw_type, "]");
    }
    BuildContext ctx{s, net.config_, index, shapes.empty() ? input : shapes.back(), shapes,
                     i > 1 ? &cfg.sections[i - 1] : nullptr};
    std::unique_ptr<Layer> layer = it->second(ctx);
    layer->index = index;
    if (layer->inputs.empty()) layer->inputs.push_back(index - 1);
    parse_common_options(s, *layer);
    report_unused(s, "[" + s.type + "]");
    if (layer->output_shape.per_image() == 0)
      fail_at(s.file, s.line, "[", s.raw_type, "] layer ", index, " has an empty output (",
              layer->output_shape, ") for input ", layer->input_shape);
    shapes.push_back(layer->output_shape);
    net.layers_.push_back(std::move(layer));
  }
  if (net.layers_.empty()) fail_at(cfg.path, net_section.line, "the cfg has no layers after [net]");

  size_t total = 0;
  for (auto& l : net.layers_)
    for (auto& p : l->params) total += p.count;
  net.param_storage_.assign(total, 0.0f);
  size_t offset = 0;
  for (auto& l : net.layers_)
    for (auto& p : l->params) {
      p.data = net.param_storage_.data() + offset;
      offset += p.count;
    }
  return net;
}

Network Network::from_cfg_file(const std::string& path, const NetworkOptions& options) {
  return from_cfg(parse_cfg_file(path), options);
}

Shape Network::input_shape() const {
  Shape s = layers_.front()->input_shape;
  s.n = batch_;
  return s;
}

double Network::bflops() const {
  double total = 0;
  for (auto& l : layers_) total += l->bflops();
  return total;
}

void Network::keep_outputs(const std::vector<int>& layer_indices) {
  for (int i : layer_indices)
    if (i < 0 || i >= num_layers())
      fail("layer ", i, " does not exist: the network has layers 0..", num_layers() - 1);
  keep_ = layer_indices;
  planned_ = false;
}

// Greedy first-fit over lifetimes: an output lives from its layer until the last layer that
// reads it. Kept outputs live to the end. Reuse cuts inference memory several-fold on YOLOv4.
void Network::plan_arena() {
  int n = num_layers();
  std::vector<int> last_use(size_t(n), 0);
  for (int i = 0; i < n; ++i) last_use[size_t(i)] = i;
  for (int i = 0; i < n; ++i)
    for (int src : layers_[size_t(i)]->inputs)
      if (src >= 0) last_use[size_t(src)] = std::max(last_use[size_t(src)], i);
  // Training keeps the outputs that some backward step reads (a layer's own, or its inputs');
  // the others are free after their last forward reader, as in inference.
  output_kept_.assign(size_t(n), false);
  if (training_)
    for (int j = 0; j < n; ++j) {
      const Layer& l = *layers_[size_t(j)];
      if (l.backward_reads_output()) output_kept_[size_t(j)] = true;
      if (!l.backward_reads_inputs()) continue;
      if (j > 0) output_kept_[size_t(j - 1)] = true;  // ctx.input
      for (int src : l.inputs)
        if (src >= 0) output_kept_[size_t(src)] = true;
    }
  output_kept_[size_t(n - 1)] = true;
  for (int i = 0; i < n; ++i)
    if (layers_[size_t(i)]->is_detection_output()) output_kept_[size_t(i)] = true;
  for (int i : keep_) output_kept_[size_t(i)] = true;
  for (int i = 0; i < n; ++i)
    if (output_kept_[size_t(i)]) last_use[size_t(i)] = n;

  struct Block {
    size_t offset, size;
    int free_after;
  };
  std::vector<Block> blocks;
  output_offset_.assign(size_t(n), 0);
  size_t arena_size = 0;
  const size_t align = 16;  // floats: 64-byte alignment for vector loads
  for (int i = 0; i < n; ++i) {
    size_t need = (layers_[size_t(i)]->output_shape.per_image() * size_t(batch_) + align - 1) /
                  align * align;
    // Blocks whose owner's last reader ran before layer i are free. (A layer never writes
    // into its own input: the owner of a block read by layer i has last_use >= i.)
    int best = -1;
    for (size_t b = 0; b < blocks.size(); ++b)
      if (blocks[b].free_after < i && blocks[b].size >= need &&
          (best < 0 || blocks[b].size < blocks[size_t(best)].size))
        best = int(b);
    if (best >= 0) {
      blocks[size_t(best)].free_after = last_use[size_t(i)];
      output_offset_[size_t(i)] = blocks[size_t(best)].offset;
    } else {
      blocks.push_back({arena_size, need, last_use[size_t(i)]});
      output_offset_[size_t(i)] = arena_size;
      arena_size += need;
    }
  }
  arena_.assign(arena_size, 0.0f);
  outputs_.assign(size_t(n), Tensor{});
  for (int i = 0; i < n; ++i) {
    Shape s = layers_[size_t(i)]->output_shape;
    s.n = batch_;
    outputs_[size_t(i)] = Tensor{arena_.data() + output_offset_[size_t(i)], s};
  }
  deltas_.assign(size_t(n), Tensor{});
  delta_arena_.clear();
  zero_before_backward_.assign(size_t(n), {});
  zero_before_forward_.clear();
  delta_reused_.assign(size_t(n), false);
  if (training_) plan_delta_arena();
  planned_ = true;
}

// Gradients live from the first backward step that adds to them (the highest-index layer
// reading the output) until the backward step of their own layer; loss layers write theirs
// during forward, so theirs live throughout. Blocks are shared first-fit in backward order,
// as outputs are in forward order, and each gradient is zeroed when it goes live: for
// csdarknet53-omega at batch 8 this holds 769 MB of gradients in a fraction of that.
void Network::plan_delta_arena() {
  const int n = num_layers();
  // Backward step of layer j runs at time n-1-j; -1 is the forward pass.
  const size_t count = static_cast<size_t>(n);
  std::vector<int> start(count), end(count);
  for (int i = 0; i < n; ++i) {
    end[size_t(i)] = n - 1 - i;
    start[size_t(i)] = layers_[size_t(i)]->truth_floats() > 0 ? -1 : n - 1 - i;
  }
  for (int j = 0; j < n; ++j) {
    // A layer adds to the gradients of its inputs, and to that of layer j-1 through
    // BackwardContext::input_delta.
    std::vector<int> writes = layers_[size_t(j)]->inputs;
    if (j > 0) writes.push_back(j - 1);
    for (int src : writes)
      if (src >= 0) start[size_t(src)] = std::min(start[size_t(src)], n - 1 - j);
  }
  std::vector<int> order(count);
  for (int i = 0; i < n; ++i) order[size_t(i)] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](int a, int b) { return start[size_t(a)] < start[size_t(b)]; });
  struct Block {
    size_t offset, size;
    int free_after;
    int owner;
  };
  std::vector<Block> blocks;
  std::vector<size_t> offset(count, 0);
  size_t arena_size = 0;
  const size_t align = 16;
  for (int i : order) {
    const size_t need = (outputs_[size_t(i)].size() + align - 1) / align * align;
    int best = -1;
    for (size_t b = 0; b < blocks.size(); ++b)
      if (blocks[b].free_after < start[size_t(i)] && blocks[b].size >= need &&
          (best < 0 || blocks[b].size < blocks[size_t(best)].size))
        best = int(b);
    if (best >= 0) {
      delta_reused_[size_t(blocks[size_t(best)].owner)] = true;
      blocks[size_t(best)].free_after = end[size_t(i)];
      blocks[size_t(best)].owner = i;
      offset[size_t(i)] = blocks[size_t(best)].offset;
    } else {
      blocks.push_back({arena_size, need, end[size_t(i)], i});
      offset[size_t(i)] = arena_size;
      arena_size += need;
    }
    if (start[size_t(i)] < 0) zero_before_forward_.push_back(i);
    else zero_before_backward_[size_t(n - 1 - start[size_t(i)])].push_back(i);
  }
  delta_arena_.assign(arena_size, 0.0f);
  for (int i = 0; i < n; ++i)
    deltas_[size_t(i)] = Tensor{delta_arena_.data() + offset[size_t(i)], outputs_[size_t(i)].shape};
}

void Network::prepare() {
  if (backend_ == BackendKind::cuda && !training_) {
    prepare_cuda();
  } else {
    for (auto& l : layers_) l->prepare(backend_);
  }
  prepared_ = true;
}

Tensor Network::forward(const float* input) {
  // Training-mode layers hold batch-statistics state and no inference primitives.
  if (training_)
    fail("Network::forward: the network is in training mode; call set_training(false) first "
         "(or forward_backward to train)");
  if (!planned_) plan_arena();
  if (!prepared_) prepare();
  if (backend_ == BackendKind::cuda) return forward_cuda(input);
  Shape in_shape = input_shape();
  Tensor in{const_cast<float*>(input), in_shape};
  layer_times_ms_.assign(size_t(num_layers()), 0.0);
  for (int i = 0; i < num_layers(); ++i) {
    Layer& l = *layers_[size_t(i)];
    ForwardContext ctx{i == 0 ? in : outputs_[size_t(i - 1)], outputs_, false};
    auto t0 = std::chrono::steady_clock::now();
    l.forward(ctx, outputs_[size_t(i)]);
    if (profiling_)
      layer_times_ms_[size_t(i)] =
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  }
  return outputs_.back();
}

void Network::set_training(bool on) {
  if (on && backend_ == BackendKind::cuda)
    fail("training on the CUDA backend is not implemented yet (docs/gpu.md): train with the cpu "
         "backend");
  if (on && grad_storage_.size() != param_storage_.size()) {
    grad_storage_.assign(param_storage_.size(), 0.0f);
    size_t offset = 0;
    for (auto& l : layers_)
      for (auto& p : l->params) {
        p.grad = grad_storage_.data() + offset;
        offset += p.count;
      }
  }
  training_ = on;
  for (auto& l : layers_) l->set_training(on, batch_);
  planned_ = false;
  prepared_ = false;
}

size_t Network::truth_floats() const {
  size_t n = 0;
  for (auto& l : layers_) n = std::max(n, l->truth_floats());
  return n;
}

void Network::zero_grads() { std::fill(grad_storage_.begin(), grad_storage_.end(), 0.0f); }

float Network::forward_backward(const float* input, const float* truth, std::mt19937_64& rng) {
  if (!training_) fail("forward_backward() needs set_training(true) first");
  if (!planned_) plan_arena();
  if (!prepared_) prepare();
  auto zero = [this](const std::vector<int>& layers) {
    for (int i : layers) {
      const Tensor& d = deltas_[size_t(i)];
      std::fill(d.data, d.data + d.size(), 0.0f);
    }
  };
  zero(zero_before_forward_);
  Tensor in{const_cast<float*>(input), input_shape()};
  float loss = 0.0f;
  layer_times_ms_.assign(size_t(num_layers()), 0.0);
  layer_backward_times_ms_.assign(size_t(num_layers()), 0.0);
  using clock = std::chrono::steady_clock;
  auto ms_since = [](clock::time_point t0) {
    return std::chrono::duration<double, std::milli>(clock::now() - t0).count();
  };
  for (int i = 0; i < num_layers(); ++i) {
    Layer& l = *layers_[size_t(i)];
    // Only loss layers write their gradient during forward; other gradients are not live yet.
    ForwardContext ctx{i == 0 ? in : outputs_[size_t(i - 1)], outputs_, true, truth,
                       l.truth_floats() > 0 ? deltas_[size_t(i)] : Tensor{}, &rng};
    l.cost = 0.0f;
    auto t0 = clock::now();
    l.forward(ctx, outputs_[size_t(i)]);
    if (profiling_) layer_times_ms_[size_t(i)] = ms_since(t0);
    loss += l.cost;
  }
  for (int i = num_layers() - 1; i >= 0; --i) {
    Layer& l = *layers_[size_t(i)];
    if (l.stopbackward) break;
    BackwardContext ctx{i == 0 ? in : outputs_[size_t(i - 1)], outputs_[size_t(i)],
                        deltas_[size_t(i)], i == 0 ? Tensor{} : deltas_[size_t(i - 1)],
                        outputs_, deltas_};
    auto t0 = clock::now();
    zero(zero_before_backward_[size_t(i)]);
    l.backward(ctx);
    if (profiling_) layer_backward_times_ms_[size_t(i)] = ms_since(t0);
  }
  return loss;
}

Tensor Network::delta(int i) const {
  if (!training_ || i < 0 || i >= num_layers()) fail("delta(", i, "): not training or no such layer");
  if (delta_reused_[size_t(i)])
    fail("delta(", i, "): the gradient's memory was reused by an earlier layer's gradient");
  return deltas_[size_t(i)];
}

Tensor Network::output(int i) const {
  if (i < 0 || i >= num_layers())
    fail("layer ", i, " does not exist: the network has layers 0..", num_layers() - 1);
  if (!planned_) fail("output(", i, ") asked before any forward pass");
  if (!output_kept_[size_t(i)])
    fail("the output of layer ", i, " was not kept; call keep_outputs() before forward()");
  return outputs_[size_t(i)];
}

}  // namespace mishnet

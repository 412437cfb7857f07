#include "mishnet/network.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <functional>
#include <iostream>

#include "core/layout_plan.h"
#include "core/output_views.h"
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
  net.blocked_layout_ = options.blocked_layout;
  net.device_ = options.device;
  const CfgSection& net_section = cfg.sections[0];
  net.config_ = NetConfig::parse(net_section);
  if (options.width > 0) net.config_.width = options.width;
  if (options.height > 0) net.config_.height = options.height;
  if (options.optimized_memory >= 0) net.config_.optimized_memory = options.optimized_memory;
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
  // Training needs the outputs that some backward step reads (a layer's own, or its inputs').
  // Those a layer can rebuild then (Layer::can_recompute_output, from kept or rebuildable
  // inputs) are not kept: for csdarknet53-omega that is nearly all of them, half a gigabyte at
  // batch 8. The others are kept; the rest are free after their last forward reader, as in
  // inference.
  // lowest_reader: the lowest backward step reading each output (n: none; needed when < n).
  std::vector<int> lowest_reader(size_t(n), n);
  auto read_in_backward = [&](int src, int step) {
    if (src >= 0) lowest_reader[size_t(src)] = std::min(lowest_reader[size_t(src)], step);
  };
  if (training_)
    for (int j = 0; j < n; ++j) {
      const Layer& l = *layers_[size_t(j)];
      if (l.backward_reads_output()) read_in_backward(j, j);
      if (!l.backward_reads_inputs()) continue;
      if (j > 0) read_in_backward(j - 1, j);  // ctx.input
      for (int src : l.inputs) read_in_backward(src, j);
    }
  output_kept_.assign(size_t(n), false);
  output_kept_[size_t(n - 1)] = true;
  for (int i = 0; i < n; ++i)
    if (layers_[size_t(i)]->is_detection_output()) output_kept_[size_t(i)] = true;
  for (int i : keep_) output_kept_[size_t(i)] = true;
  // A layer that rebuilds from its inputs needs each of them kept or rebuildable from the
  // layer's own state (not from its inputs in turn): else a chain of shortcuts would rebuild,
  // and hold, the whole chain at once.
  std::vector<bool> from_own_state(size_t(n), false);
  for (int j = 0; j < n && training_; ++j) {
    const Layer& l = *layers_[size_t(j)];
    bool can = l.can_recompute_output();
    if (can && l.recompute_reads_inputs())
      for (int src : l.inputs)
        if (src >= 0 && !output_kept_[size_t(src)] && !from_own_state[size_t(src)]) can = false;
    from_own_state[size_t(j)] = can && !l.recompute_reads_inputs();
    if (lowest_reader[size_t(j)] < n && !can) output_kept_[size_t(j)] = true;
  }
  for (int i = 0; i < n; ++i)
    if (output_kept_[size_t(i)]) last_use[size_t(i)] = n;
  plan_layouts();

  struct Block {
    size_t offset, size;
    int free_after;
  };
  std::vector<Block> blocks;
  output_offset_.assign(size_t(n), 0);
  size_t arena_size = 0;
  const size_t align = 16;  // floats: 64-byte alignment for vector loads
  // Training puts the kept outputs after the rest, so that the backward pass finds the rest as
  // one free run (plan_backward_memory); inference lets them reuse blocks too.
  auto need_of = [&](int i) {
    return (layers_[size_t(i)]->output_shape.per_image() * size_t(batch_) + align - 1) / align * align;
  };
  // Routes copy nothing where their channels can be views (inference, batch 1, on the host:
  // the CUDA path keeps its own copies). Each storage root gets one block, live from its first
  // member's layer to the last reader of any member.
  std::vector<OutputPlace> place(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) place[size_t(i)] = {i, 0};
  if (!training_ && batch_ == 1 && backend_ != BackendKind::cuda) {
    std::vector<ViewNode> nodes(static_cast<size_t>(n));
    for (int i = 0; i < n; ++i) {
      const Layer& l = *layers_[size_t(i)];
      nodes[size_t(i)] = {l.channel_sources(), l.output_shape.c,
                          size_t(l.output_shape.h) * size_t(l.output_shape.w),
                          bool(output_kept_[size_t(i)])};
    }
    place = plan_output_views(nodes);
  }
  std::vector<int> start(size_t(n), n), end(size_t(n), -1), roots;
  for (int i = 0; i < n; ++i) {
    const int r = place[size_t(i)].root;
    start[size_t(r)] = std::min(start[size_t(r)], i);
    end[size_t(r)] = std::max(end[size_t(r)], last_use[size_t(i)]);
    if (r == i) roots.push_back(i);
  }
  std::stable_sort(roots.begin(), roots.end(),
                   [&](int a, int b) { return start[size_t(a)] < start[size_t(b)]; });
  for (int i : roots) {
    if (training_ && output_kept_[size_t(i)]) continue;
    size_t need = need_of(i);
    // Blocks whose owner's last reader ran before this storage's first writer are free. (A
    // layer never writes into its own input: the owner of a block read by layer i has
    // last_use >= i.)
    int best = -1;
    for (size_t b = 0; b < blocks.size(); ++b)
      if (blocks[b].free_after < start[size_t(i)] && blocks[b].size >= need &&
          (best < 0 || blocks[b].size < blocks[size_t(best)].size))
        best = int(b);
    if (best >= 0) {
      blocks[size_t(best)].free_after = end[size_t(i)];
      output_offset_[size_t(i)] = blocks[size_t(best)].offset;
    } else {
      blocks.push_back({arena_size, need, end[size_t(i)]});
      output_offset_[size_t(i)] = arena_size;
      arena_size += need;
    }
  }
  for (int i = 0; i < n; ++i)
    if (place[size_t(i)].root != i)
      output_offset_[size_t(i)] = output_offset_[size_t(place[size_t(i)].root)] + place[size_t(i)].offset;
  for (int i = 0; i < n && training_; ++i)
    if (output_kept_[size_t(i)]) {
      output_offset_[size_t(i)] = arena_size;
      arena_size += need_of(i);
    }
  deltas_.assign(size_t(n), Tensor{});
  zero_before_backward_.assign(size_t(n), {});
  zero_before_forward_.clear();
  delta_reused_.assign(size_t(n), false);
  rebuild_before_.assign(size_t(n), {});
  release_after_.assign(size_t(n), {});
  std::vector<size_t> delta_offset(size_t(n), 0);
  const size_t total = training_ ? plan_backward_memory(arena_size, lowest_reader, delta_offset) : arena_size;
  arena_.assign(total, 0.0f);
  outputs_.assign(size_t(n), Tensor{});
  for (int i = 0; i < n; ++i) {
    Shape s = layers_[size_t(i)]->output_shape;
    s.n = batch_;
    outputs_[size_t(i)] = Tensor{arena_.data() + output_offset_[size_t(i)], s};
    if (training_) deltas_[size_t(i)] = Tensor{arena_.data() + delta_offset[size_t(i)], s};
  }
  planned_ = true;
}

// Backward memory: gradients and rebuilt outputs in one plan over the backward pass (step of
// layer i at time n-1-i, the forward pass at -1). A gradient lives from the first backward step
// that adds to it (the highest-index layer reading the output) until its own layer's step; loss
// layers write theirs during forward. A rebuilt output lives from the step that first needs it
// until the lowest step reading it (forward_backward replays the schedule made here). Both go
// best-fit, in start order, first into the forward arena minus the kept outputs (free once the
// forward pass is done), then beyond it. Returns the floats of the whole arena; each gradient is
// zeroed when it goes live.
size_t Network::plan_backward_memory(size_t forward_floats, const std::vector<int>& lowest_reader,
                                     std::vector<size_t>& delta_offset) {
  const int n = num_layers();
  // (outputs_ is set up after this plan.)
  auto floats_of = [&](int i) { return layers_[size_t(i)]->output_shape.per_image() * size_t(batch_); };
  struct Item {
    int start, end;
    size_t floats;
    int delta_of, rebuilt;  // the layer whose gradient / output it holds, else -1
    size_t offset = 0;
  };
  std::vector<Item> items;
  for (int i = 0; i < n; ++i) {
    int start = layers_[size_t(i)]->truth_floats() > 0 ? -1 : n - 1 - i;
    // A layer adds to the gradients of its inputs, and to that of layer j-1 through
    // BackwardContext::input_delta.
    for (int j = i + 1; j < n; ++j) {
      const std::vector<int>& in = layers_[size_t(j)]->inputs;
      if (j == i + 1 || std::find(in.begin(), in.end(), i) != in.end()) start = std::min(start, n - 1 - j);
    }
    items.push_back({start, n - 1 - i, floats_of(i), i, -1});
  }
  // The rebuild schedule forward_backward replays: before step i, each output the step reads
  // that is not kept, after what it is rebuilt from; after step i, back to its forward place
  // when no lower step reads it. (An output rebuilt only as an input goes back at once and may
  // be rebuilt again later.)
  std::vector<int> live_item(size_t(n), -1), live;
  std::vector<std::pair<int, size_t>> scheduled;  // (step, item) of each rebuild, in order
  std::function<void(int, int)> rebuild = [&](int j, int i) {
    if (j < 0 || output_kept_[size_t(j)] || live_item[size_t(j)] >= 0) return;
    const Layer& l = *layers_[size_t(j)];
    if (!l.can_recompute_output())
      fail("layer ", j, " [", l.type(), "]: its output is read in backward but neither kept nor "
           "rebuildable (a planning error)");
    if (l.recompute_reads_inputs())
      for (int src : l.inputs) rebuild(src, i);
    live_item[size_t(j)] = int(items.size());
    scheduled.emplace_back(i, items.size());
    items.push_back({n - 1 - i, n - 1 - i, floats_of(j), -1, j});
    live.push_back(j);
  };
  for (int i = n - 1; i >= 0; --i) {
    const Layer& l = *layers_[size_t(i)];
    if (l.stopbackward) break;
    if (l.backward_reads_output()) rebuild(i, i);
    if (l.backward_reads_inputs()) {
      rebuild(i - 1, i);
      for (int src : l.inputs) rebuild(src, i);
    }
    for (size_t k = 0; k < live.size();) {
      const int j = live[k];
      if (lowest_reader[size_t(j)] < i) {
        ++k;
        continue;
      }
      items[size_t(live_item[size_t(j)])].end = n - 1 - i;
      release_after_[size_t(i)].push_back(j);
      live_item[size_t(j)] = -1;
      live[k] = live.back();
      live.pop_back();
    }
  }

  // Free space when the backward pass starts: the forward arena around the kept outputs.
  struct Block {
    size_t offset, size;
    int free_after;  // free for items starting after this time
  };
  std::vector<Block> blocks;
  const size_t align = 16;
  auto rounded = [&](size_t floats) { return (floats + align - 1) / align * align; };
  {
    std::vector<std::pair<size_t, size_t>> kept;
    for (int i = 0; i < n; ++i)
      if (output_kept_[size_t(i)])
        kept.emplace_back(output_offset_[size_t(i)], rounded(floats_of(i)));
    std::sort(kept.begin(), kept.end());
    size_t at = 0;
    for (auto [off, size] : kept) {
      if (off > at) blocks.push_back({at, off - at, -1});
      at = std::max(at, off + size);
    }
    if (forward_floats > at) blocks.push_back({at, forward_floats - at, -1});
  }
  std::vector<size_t> order(items.size());
  for (size_t k = 0; k < order.size(); ++k) order[k] = k;
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return items[a].start < items[b].start; });
  size_t total = forward_floats;
  for (size_t k : order) {
    Item& it = items[k];
    const size_t need = rounded(it.floats);
    // Neighbours both free at this start merge (starts only grow, so they stay free).
    for (size_t b = 0; b + 1 < blocks.size();) {
      Block &x = blocks[b], &y = blocks[b + 1];
      if (x.free_after < it.start && y.free_after < it.start && x.offset + x.size == y.offset) {
        x.size += y.size;
        x.free_after = std::max(x.free_after, y.free_after);
        blocks.erase(blocks.begin() + std::ptrdiff_t(b + 1));
      } else {
        ++b;
      }
    }
    int best = -1;
    for (size_t b = 0; b < blocks.size(); ++b)
      if (blocks[b].free_after < it.start && blocks[b].size >= need &&
          (best < 0 || blocks[b].size < blocks[size_t(best)].size))
        best = int(b);
    if (best < 0) {
      blocks.push_back({total, need, it.end});
      it.offset = total;
      total += need;
      continue;
    }
    Block& chosen = blocks[size_t(best)];
    it.offset = chosen.offset;
    if (chosen.size > need) {
      const Block rest{chosen.offset + need, chosen.size - need, chosen.free_after};
      chosen.size = need;
      chosen.free_after = it.end;
      blocks.insert(blocks.begin() + best + 1, rest);
    } else {
      chosen.free_after = it.end;
    }
  }

  for (auto [step, k] : scheduled) rebuild_before_[size_t(step)].push_back({items[k].rebuilt, items[k].offset});
  for (const Item& it : items) {
    if (it.rebuilt >= 0) continue;
    delta_offset[size_t(it.delta_of)] = it.offset;
    if (it.start < 0) zero_before_forward_.push_back(it.delta_of);
    else zero_before_backward_[size_t(n - 1 - it.start)].push_back(it.delta_of);
    // Gone after forward_backward when anything later took some of its memory.
    for (const Item& other : items)
      if (other.start > it.end && other.offset < it.offset + it.floats &&
          it.offset < other.offset + other.floats)
        delta_reused_[size_t(it.delta_of)] = true;
  }
  return total;
}

// Inference on the cpu backend keeps what it can in nChw16c (layout_plan.h); the layers learn
// their layouts before prepare(), which builds their primitives for them.
void Network::plan_layouts() {
  const int n = num_layers();
  std::vector<bool> blocked(size_t(n), false);
  if (blocked_layout_ && !training_ && backend_ == BackendKind::cpu) {
    std::vector<LayoutNode> nodes(static_cast<size_t>(n));
    for (int i = 0; i < n; ++i) {
      const Layer& l = *layers_[size_t(i)];
      nodes[size_t(i)] = {l.blocked_support(), l.inputs, l.output_shape.c, output_kept_[size_t(i)]};
    }
    blocked = plan_blocked_layouts(nodes);
  }
  for (int i = 0; i < n; ++i) {
    Layer& l = *layers_[size_t(i)];
    const bool in = !l.inputs.empty() && l.inputs[0] >= 0 && blocked[size_t(l.inputs[0])];
    if (l.output_blocked != blocked[size_t(i)] || l.input_blocked != in) prepared_ = false;
    l.output_blocked = blocked[size_t(i)];
    l.input_blocked = in;
  }
}

void Network::restore_output_places() {
  for (size_t i = 0; i < outputs_.size(); ++i) outputs_[i].data = arena_.data() + output_offset_[i];
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
  restore_output_places();  // after a backward pass that threw
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
    auto t0 = clock::now();
    // Outputs this step reads that were not kept (plan_backward_memory's schedule).
    for (const Rebuild& r : rebuild_before_[size_t(i)]) {
      const int j = r.layer;
      outputs_[size_t(j)].data = arena_.data() + r.offset;
      ForwardContext rebuild_ctx{j == 0 ? in : outputs_[size_t(j - 1)], outputs_, true};
      layers_[size_t(j)]->recompute_output(rebuild_ctx, outputs_[size_t(j)]);
    }
    BackwardContext ctx{i == 0 ? in : outputs_[size_t(i - 1)], outputs_[size_t(i)],
                        deltas_[size_t(i)], i == 0 ? Tensor{} : deltas_[size_t(i - 1)],
                        outputs_, deltas_};
    zero(zero_before_backward_[size_t(i)]);
    l.backward(ctx);
    for (int j : release_after_[size_t(i)])
      outputs_[size_t(j)].data = arena_.data() + output_offset_[size_t(j)];
    if (profiling_) layer_backward_times_ms_[size_t(i)] = ms_since(t0);
  }
  restore_output_places();
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

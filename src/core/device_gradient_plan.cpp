#include "core/device_gradient_plan.h"

#include <algorithm>
#include <numeric>

#include "mishnet/error.h"
#include "mishnet/network.h"

namespace mishnet {

GradientSchedule schedule_gradients(const std::vector<GradientUse>& layers) {
  const int n = int(layers.size());
  GradientSchedule s;
  s.last.resize(size_t(n));
  s.first.resize(size_t(n));
  for (int i = 0; i < n; ++i) {
    s.last[size_t(i)] = backward_step(i, n);
    s.first[size_t(i)] = layers[size_t(i)].written_in_forward ? forward_step(i) : backward_step(i, n);
  }
  // A backward step writes into the gradients of the layers it reads: the earliest such step
  // (the highest writing layer) starts the gradient's window.
  for (int j = 0; j < n; ++j)
    for (int src : layers[size_t(j)].adds_into) {
      if (src < 0 || src >= j) fail("gradient schedule: layer ", j, " adds into layer ", src);
      int& f = s.first[size_t(src)];
      f = std::min(f, backward_step(j, n));
    }
  s.zero_before.assign(size_t(2 * n), {});
  for (int i = 0; i < n; ++i) s.zero_before[size_t(s.first[size_t(i)])].push_back(i);
  return s;
}

std::vector<GradientUse> gradient_uses(const Network& net) {
  std::vector<GradientUse> uses(static_cast<size_t>(net.num_layers()));
  for (int i = 0; i < net.num_layers(); ++i) {
    const Layer& l = net.layer(i);
    GradientUse& u = uses[size_t(i)];
    if (i > 0) u.adds_into.push_back(i - 1);
    for (int src : l.inputs)
      if (src >= 0 && src != i - 1) u.adds_into.push_back(src);
    u.written_in_forward = l.truth_floats() > 0;
  }
  return uses;
}

GradientPlacement separate_gradients(const std::vector<size_t>& floats, size_t align) {
  if (align == 0) align = 1;
  GradientPlacement p;
  for (size_t f : floats) {
    p.offset.push_back(p.total);
    p.total += (f + align - 1) / align * align;
  }
  return p;
}

GradientPlacement place_gradients(const std::vector<size_t>& floats, const GradientSchedule& s,
                                  size_t align, bool reuse) {
  const size_t n = floats.size();
  if (s.first.size() != n || s.last.size() != n)
    fail("gradient placement: ", n, " gradients for a schedule of ", s.first.size());
  if (!reuse) return separate_gradients(floats, align);
  if (align == 0) align = 1;
  const auto rounded = [&](size_t f) { return (f + align - 1) / align * align; };
  GradientPlacement p;
  p.offset.assign(n, 0);
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), size_t(0));
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return s.first[a] < s.first[b]; });
  std::vector<size_t> placed;
  for (size_t i : order) {
    const size_t need = rounded(floats[i]);
    // Blocks whose windows overlap i's, by offset; take the first gap that fits.
    std::vector<std::pair<size_t, size_t>> busy;
    for (size_t k : placed)
      if (s.first[k] <= s.last[i] && s.first[i] <= s.last[k])
        busy.push_back({p.offset[k], p.offset[k] + rounded(floats[k])});
    std::sort(busy.begin(), busy.end());
    size_t at = 0;
    for (const auto& [begin, end] : busy) {
      if (need == 0 || at + need <= begin) break;
      at = std::max(at, end);
    }
    p.offset[i] = at;
    p.total = std::max(p.total, at + need);
    placed.push_back(i);
  }
  return p;
}

}  // namespace mishnet

#include "core/output_views.h"

#include <algorithm>

namespace mishnet {

std::vector<OutputPlace> plan_output_views(const std::vector<ViewNode>& nodes) {
  const int n = int(nodes.size());
  // parent[i] >= 0: output i lives at parent_offset[i] floats into output parent[i].
  std::vector<int> parent(size_t(n), -1);
  std::vector<size_t> parent_offset(size_t(n), 0);
  for (int i = 0; i < n; ++i) {
    const ViewNode& node = nodes[size_t(i)];
    if (node.sources.size() == 1) {
      const ChannelSource& s = node.sources[0];
      if (s.layer < 0 || s.layer >= i) continue;
      parent[size_t(i)] = s.layer;
      parent_offset[size_t(i)] = size_t(s.first) * nodes[size_t(s.layer)].spatial;
      continue;
    }
    for (const ChannelSource& s : node.sources) {
      if (s.layer < 0 || s.layer >= i) continue;
      const ViewNode& src = nodes[size_t(s.layer)];
      const auto named = std::count_if(node.sources.begin(), node.sources.end(),
                                       [&](const ChannelSource& o) { return o.layer == s.layer; });
      if (named != 1 || src.kept || parent[size_t(s.layer)] >= 0 || s.first != 0 ||
          s.count != src.channels || src.spatial != node.spatial)
        continue;
      parent[size_t(s.layer)] = i;
      parent_offset[size_t(s.layer)] = size_t(s.out_first) * node.spatial;
    }
  }
  std::vector<OutputPlace> place(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    int at = i;
    size_t offset = 0;
    while (parent[size_t(at)] >= 0) {
      offset += parent_offset[size_t(at)];
      at = parent[size_t(at)];
    }
    place[size_t(i)] = {at, offset};
  }
  return place;
}

}  // namespace mishnet

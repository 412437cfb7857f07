#include "core/layout_plan.h"

namespace mishnet {

std::vector<bool> plan_blocked_layouts(const std::vector<LayoutNode>& nodes) {
  const size_t n = nodes.size();
  std::vector<std::vector<int>> consumers(n);
  for (size_t j = 0; j < n; ++j)
    for (int src : nodes[j].inputs)
      if (src >= 0 && size_t(src) < n) consumers[size_t(src)].push_back(int(j));
  std::vector<bool> blocked(n, false);
  for (size_t i = 0; i < n; ++i)
    blocked[i] = nodes[i].support != BlockedSupport::none && !nodes[i].kept &&
                 nodes[i].channels > 0 && nodes[i].channels % kBlockedChannels == 0;
  // Each pass only unblocks, so this ends after at most n passes.
  for (bool changed = true; changed;) {
    changed = false;
    for (size_t i = 0; i < n; ++i) {
      if (!blocked[i]) continue;
      bool ok = true;
      for (int j : consumers[i]) {
        const BlockedSupport s = nodes[size_t(j)].support;
        if (s == BlockedSupport::none || (s == BlockedSupport::follows && !blocked[size_t(j)]))
          ok = false;
      }
      if (nodes[i].support == BlockedSupport::follows)
        for (int src : nodes[i].inputs)
          if (src < 0 || !blocked[size_t(src)]) ok = false;
      if (!ok) {
        blocked[i] = false;
        changed = true;
      }
    }
  }
  return blocked;
}

}  // namespace mishnet

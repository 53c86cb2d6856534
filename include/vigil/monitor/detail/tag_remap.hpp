// vigil — in-process monitoring of machine-learning models in C++ inference servers.
// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>
#include <vector>

namespace vigil {
namespace detail {

/// How one monitor's tag value ids read in another's (Monitor::merge): each replica numbers
/// the values of a tag in the order it saw them, so "h3" may be id 0 on one and id 2 on the
/// other. Per tag, by the first monitor's id (its "other" at max_values included), the
/// second's id; a value the second has no room for maps to its "other".
struct TagRemap {
  std::vector<std::vector<std::uint32_t>> ids;

  std::uint32_t operator()(std::uint32_t tag, std::uint32_t id) const {
    const std::vector<std::uint32_t>& m = ids[tag];
    return id < m.size() ? m[id] : m.back();
  }
  /// Whether every id maps to itself: nothing to move.
  bool identity() const {
    for (const auto& m : ids)
      for (std::uint32_t i = 0; i < m.size(); ++i)
        if (m[i] != i) return false;
    return true;
  }
};

/// Counters indexed by the value ids of one tag (`count` of them from `offset`), moved to
/// where `remap` puts each value; counters of values mapped together add.
template <class Counters>
void remap_counters(Counters& counters, std::size_t offset, std::size_t count, std::uint32_t tag, const TagRemap& remap) {
  std::vector<std::uint64_t> moved(count, 0);
  for (std::uint32_t id = 0; id < count; ++id) moved[remap(tag, id)] += counters[offset + id];
  for (std::size_t id = 0; id < count; ++id) counters[offset + id] = moved[id];
}

}  // namespace detail
}  // namespace vigil

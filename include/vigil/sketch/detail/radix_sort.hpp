// vigil — in-process monitoring of machine-learning models in C++ inference servers.
// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

namespace vigil {
namespace detail {

/// Sorts `n` unsigned keys ascending by least-significant-digit radix sort on bytes, using
/// `scratch` (room for n keys) as the second buffer. Returns whichever of the two buffers
/// holds the result. Byte positions where every key has the same digit are skipped, so keys
/// from a narrow range of doubles cost only the passes over their varying bytes.
/// O(n · bytes that vary + 256 · sizeof(Key)); no allocation.
template <class Key>
Key* radix_sort(Key* data, Key* scratch, std::size_t n) {
  static_assert(std::is_unsigned_v<Key>, "radix_sort: unsigned keys");
  constexpr int digits = sizeof(Key);
  std::uint32_t counts[digits][256];
  std::memset(counts, 0, sizeof counts);
  for (std::size_t i = 0; i < n; ++i) {
    const Key k = data[i];
    for (int d = 0; d < digits; ++d) ++counts[d][(k >> (8 * d)) & 0xff];
  }
  Key* from = data;
  Key* to = scratch;
  for (int d = 0; d < digits; ++d) {
    std::uint32_t* c = counts[d];
    if (c[(from[0] >> (8 * d)) & 0xff] == n) continue;  // every key has this digit
    std::uint32_t offset = 0;
    for (int b = 0; b < 256; ++b) {
      const std::uint32_t here = c[b];
      c[b] = offset;
      offset += here;
    }
    for (std::size_t i = 0; i < n; ++i) {
      const Key k = from[i];
      to[c[(k >> (8 * d)) & 0xff]++] = k;
    }
    Key* t = from;
    from = to;
    to = t;
  }
  return from;
}

}  // namespace detail
}  // namespace vigil

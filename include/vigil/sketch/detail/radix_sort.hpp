// vigil — in-process monitoring of machine-learning models in C++ inference servers.
// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

namespace vigil {
namespace detail {

inline int highest_bit(std::uint64_t v) {
  int bit = 0;
  while (v >>= 1) ++bit;
  return bit;
}

// Moves the n keys of `from` into `to` in ascending order of the 8-bit digit at `shift`,
// stably; `counts` holds the number of keys per digit value and is consumed.
template <class Key>
void radix_scatter(const Key* from, Key* to, std::size_t n, std::uint32_t* counts, int shift) {
  std::uint32_t offset = 0;
  for (int b = 0; b < 256; ++b) {
    const std::uint32_t here = counts[b];
    counts[b] = offset;
    offset += here;
  }
  for (std::size_t i = 0; i < n; ++i) {
    const Key k = from[i];
    to[counts[(k >> shift) & 0xff]++] = k;
  }
}

// Insertion sort of keys that are almost in order; past 16 moves per key it falls back to
// std::sort, so the worst case stays O(n log n).
template <class Key>
void finish_nearly_sorted(Key* keys, std::size_t n) {
  std::size_t moves = 0;
  const std::size_t budget = 16 * n;
  for (std::size_t i = 1; i < n; ++i) {
    const Key k = keys[i];
    std::size_t j = i;
    while (j > 0 && keys[j - 1] > k) {
      keys[j] = keys[j - 1];
      --j;
    }
    keys[j] = k;
    moves += i - j;
    if (moves > budget) {
      std::sort(keys, keys + n);
      return;
    }
  }
}

/// Sorts `n` unsigned keys ascending, using `scratch` (room for n keys) as a second buffer,
/// and returns whichever of the two buffers holds the result.
///
/// Least-significant-digit radix sort on the 24 highest bits in which the keys differ (three
/// 8-bit digits below their common prefix; a digit on which all keys agree is skipped),
/// finished by an insertion sort that orders keys agreeing on those bits. Keys that agree on
/// 24 varying bits are rare, so the finish is linear in practice; if it is not, the sort
/// falls back to std::sort, so the worst case stays O(n log n). No allocation.
template <class Key>
Key* radix_sort(Key* data, Key* scratch, std::size_t n) {
  static_assert(std::is_unsigned_v<Key>, "radix_sort: unsigned keys");
  if (n < 2) return data;
  Key lo = data[0];
  Key hi = data[0];
  for (std::size_t i = 1; i < n; ++i) {
    lo = std::min(lo, data[i]);
    hi = std::max(hi, data[i]);
  }
  if (lo == hi) return data;
  const int top = highest_bit(static_cast<std::uint64_t>(lo ^ hi)) + 1;  // bits that vary
  // Three digits ending at the highest varying bit; with fewer than 24 varying bits they
  // overlap, which costs a little work but keeps the sort exact.
  const int shifts[3] = {std::max(0, top - 24), std::max(0, top - 16), std::max(0, top - 8)};

  std::uint32_t counts[3][256];
  std::memset(counts, 0, sizeof counts);
  for (std::size_t i = 0; i < n; ++i) {
    const Key k = data[i];
    ++counts[0][(k >> shifts[0]) & 0xff];
    ++counts[1][(k >> shifts[1]) & 0xff];
    ++counts[2][(k >> shifts[2]) & 0xff];
  }
  Key* from = data;
  Key* to = scratch;
  for (int p = 0; p < 3; ++p) {
    if (p > 0 && shifts[p] == shifts[p - 1]) continue;             // the same digit again
    if (counts[p][(from[0] >> shifts[p]) & 0xff] == n) continue;  // every key has this digit
    radix_scatter(from, to, n, counts[p], shifts[p]);
    std::swap(from, to);
  }
  // Keys are ordered on their top varying bits; the rest, if any, by insertion.
  if (top > 24) finish_nearly_sorted(from, n);
  return from;
}

}  // namespace detail
}  // namespace vigil

// vigil — in-process monitoring of machine-learning models in C++ inference servers.
// SPDX-License-Identifier: Apache-2.0
//
// Building blocks of vigil::BasicLogHistogram: exact bucket indexing without a logarithm,
// the per-scale boundary tables, and counters that are plain or atomic.
#pragma once

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <mutex>
#include <type_traits>
#include <vector>

#include "vigil/config.hpp"

namespace vigil {
namespace detail {

inline constexpr int log_histogram_min_scale = -10;
inline constexpr int log_histogram_max_scale = 10;
inline constexpr std::uint64_t positive_infinity_bits = 0x7ff0000000000000ull;
inline constexpr std::uint64_t mantissa_mask = (std::uint64_t{1} << 52) - 1;

/// floor(value / 2^shift) for any sign, without relying on how >> treats negatives.
constexpr std::int64_t floor_shift(std::int64_t value, int shift) {
  return value >= 0 ? (value >> shift) : ~((~value) >> shift);
}

/// Whether m^(2^s) ≥ 2^e, decided exactly with big-integer squaring. Used only while building
/// a table, for the few boundaries that long double cannot place beyond doubt.
inline bool power_reaches_pow2(std::uint64_t m, int s, std::int64_t e) {
  std::int64_t shift = 0;
  while ((m & 1) == 0) {
    m >>= 1;
    ++shift;
  }
  std::vector<std::uint32_t> a{static_cast<std::uint32_t>(m), static_cast<std::uint32_t>(m >> 32)};
  if (a.back() == 0) a.pop_back();
  for (int round = 0; round < s; ++round) {
    const std::size_t n = a.size();
    std::vector<std::uint32_t> r(2 * n, 0);
    for (std::size_t i = 0; i < n; ++i) {
      std::uint64_t carry = 0;
      for (std::size_t j = 0; j < n; ++j) {
        const std::uint64_t t = std::uint64_t{a[i]} * a[j] + r[i + j] + carry;
        r[i + j] = static_cast<std::uint32_t>(t);
        carry = t >> 32;
      }
      r[i + n] = static_cast<std::uint32_t>(carry);
    }
    while (r.size() > 1 && r.back() == 0) r.pop_back();
    a.swap(r);
  }
  std::int64_t bits = 32 * static_cast<std::int64_t>(a.size() - 1);
  for (std::uint32_t top = a.back(); top != 0; top >>= 1) ++bits;
  // m^(2^s) = a · 2^(shift·2^s) and a has `bits` bits: it reaches 2^e when its top bit does.
  return bits - 1 + shift * (std::int64_t{1} << s) >= e;
}

/// Boundaries of the 2^s sub-buckets of one octave at scale s > 0. A double 2^e·(1 + m/2^52)
/// lies above boundary k, 2^(k/2^s), exactly when m > bound[k]; first_sub[j] counts the
/// boundaries below m for the smallest m whose top s + 1 bits are j. Because boundaries are
/// more than 2^(51−s) apart, at most one more boundary lies within that slice.
struct LogBucketTable {
  explicit LogBucketTable(int s) : first_sub(std::size_t{2} << s), bound((std::size_t{1} << s) + 1) {
    const std::uint64_t octave = std::uint64_t{1} << s;
    const std::uint64_t one = std::uint64_t{1} << 52;
    const std::int64_t e_base = 52 * static_cast<std::int64_t>(octave);
    bound[0] = 0;
    bound[octave] = ~std::uint64_t{0};
    for (std::uint64_t k = 1; k < octave; ++k) {
      const long double exact = std::exp2(static_cast<long double>(k) / static_cast<long double>(octave));
      const long double scaled = std::ldexp(exact, 52);
      const long double whole = std::floor(scaled);
      std::uint64_t m = static_cast<std::uint64_t>(whole);
      const long double fraction = scaled - whole;
      // x86 long double carries 11 bits beyond the 52 of the mantissa, so a boundary farther
      // than 2^-8 from a representable mantissa is placed right; closer ones are settled
      // exactly. Where long double is double, every boundary is settled exactly.
      const long double margin = std::ldexp(1.0L, 56 - std::numeric_limits<long double>::digits);
      if (fraction < margin || fraction > 1 - margin) {
        const std::int64_t e = e_base + static_cast<std::int64_t>(k);
        while (power_reaches_pow2(m, s, e)) --m;
        while (!power_reaches_pow2(m + 1, s, e)) ++m;
      }
      bound[k] = m - one;
    }
    const int slice_shift = 51 - s;
    std::uint64_t below = 0;
    for (std::uint64_t j = 0; j < first_sub.size(); ++j) {
      const std::uint64_t start = j << slice_shift;
      while (below + 1 < octave && bound[below + 1] < start) ++below;
      first_sub[j] = static_cast<std::uint16_t>(below);
    }
  }
  std::vector<std::uint16_t> first_sub;
  std::vector<std::uint64_t> bound;
};

/// The table of scale s, 1 ≤ s ≤ log_histogram_max_scale, built once on first use.
inline const LogBucketTable& log_bucket_table(int s) {
  static std::once_flag once[log_histogram_max_scale + 1];
  static std::unique_ptr<LogBucketTable> tables[log_histogram_max_scale + 1];
  std::call_once(once[s], [s] { tables[s] = std::make_unique<LogBucketTable>(s); });
  return *tables[s];
}

/// Maps the bits of a positive finite double to its bucket index at `scale`.
struct LogIndexer {
  int scale = 0;
  const std::uint16_t* first_sub = nullptr;
  const std::uint64_t* bound = nullptr;

  explicit LogIndexer(int s = 0) : scale(s) {
    if (s > 0) {
      const LogBucketTable& table = log_bucket_table(s);
      first_sub = table.first_sub.data();
      bound = table.bound.data();
    }
  }

  std::int64_t operator()(std::uint64_t bits) const {
    std::int64_t exponent = static_cast<std::int64_t>(bits >> 52);
    std::uint64_t mantissa = bits & mantissa_mask;
    if (VIGIL_UNLIKELY(exponent == 0)) normalize_subnormal(exponent, mantissa);
    exponent -= 1023;
    // An exact power of two 2^e is the top of bucket e·2^s − 1: (b^i, b^(i+1)] is upper-inclusive.
    const std::int64_t at_power = mantissa == 0 ? 1 : 0;
    if (scale > 0) {
      std::uint64_t sub = first_sub[mantissa >> (51 - scale)];
      sub += mantissa > bound[sub + 1] ? 1 : 0;
      return exponent * (std::int64_t{1} << scale) + static_cast<std::int64_t>(sub) - at_power;
    }
    return floor_shift(exponent - at_power, -scale);
  }

  // A subnormal m·2^-1074 written as 2^e·(1 + f) with f's 52 bits left-aligned.
  VIGIL_NOINLINE static void normalize_subnormal(std::int64_t& exponent, std::uint64_t& mantissa) {
    exponent = 1;
    while (mantissa < (std::uint64_t{1} << 52)) {
      mantissa <<= 1;
      --exponent;
    }
    mantissa &= mantissa_mask;
  }
};

/// b^index at `scale` in long double, whose range holds every edge of a double's bucket.
inline long double log_bucket_edge_long(int scale, std::int64_t index) {
  // Beyond ±2^13 octaves no double lives; clamping keeps the arithmetic in range.
  constexpr std::int64_t limit = 1 << 13;
  if (scale > 0) {
    const std::int64_t octave = floor_shift(index, scale);
    const std::int64_t k = index - octave * (std::int64_t{1} << scale);
    const long double mantissa = std::exp2(static_cast<long double>(k) / static_cast<long double>(1 << scale));
    return std::ldexp(mantissa, static_cast<int>(std::clamp(octave, -limit, limit)));
  }
  const std::int64_t clamped = std::clamp(index, -limit, limit);
  return std::ldexp(1.0L, static_cast<int>(std::clamp(clamped * (std::int64_t{1} << -scale), -limit, limit)));
}

/// b^index at `scale` as the nearest double (0 or +inf beyond the double range).
inline double log_bucket_edge(int scale, std::int64_t index) {
  return static_cast<double>(log_bucket_edge_long(scale, index));
}

/// A counter or accumulator: plain, or atomic with relaxed ordering (counts are exact under
/// contention; no ordering with other memory is implied).
template <class T, bool Atomic>
class Slot {
 public:
  Slot() = default;
  explicit Slot(T v) : v_(v) {}
  T load() const { return v_; }
  void store(T v) { v_ = v; }
  void add(T d) { v_ += d; }
  // Adds d unless the result would exceed `limit` (or is NaN); returns whether it added.
  bool add_within(T d, T limit) {
    const T next = v_ + d;
    if (!(next <= limit)) return false;
    v_ = next;
    return true;
  }
  void lower_to(T x) {
    if (x < v_) v_ = x;
  }
  void raise_to(T x) {
    if (x > v_) v_ = x;
  }

 private:
  T v_{};
};

template <class T>
class Slot<T, true> {
 public:
  Slot() = default;
  explicit Slot(T v) : v_(v) {}
  Slot(const Slot& other) : v_(other.load()) {}
  Slot& operator=(const Slot& other) {
    store(other.load());
    return *this;
  }
  T load() const { return v_.load(std::memory_order_relaxed); }
  void store(T v) { v_.store(v, std::memory_order_relaxed); }
  void add(T d) {
    if constexpr (std::is_integral_v<T>) {
      v_.fetch_add(d, std::memory_order_relaxed);
    } else {
      T current = load();
      while (!v_.compare_exchange_weak(current, current + d, std::memory_order_relaxed)) {
      }
    }
  }
  bool add_within(T d, T limit) {
    T current = load();
    for (;;) {
      const T next = current + d;
      if (!(next <= limit)) return false;
      if (v_.compare_exchange_weak(current, next, std::memory_order_relaxed)) return true;
    }
  }
  void lower_to(T x) {
    T current = load();
    while (x < current && !v_.compare_exchange_weak(current, x, std::memory_order_relaxed)) {
    }
  }
  void raise_to(T x) {
    T current = load();
    while (x > current && !v_.compare_exchange_weak(current, x, std::memory_order_relaxed)) {
    }
  }

 private:
  std::atomic<T> v_{};
};

}  // namespace detail
}  // namespace vigil

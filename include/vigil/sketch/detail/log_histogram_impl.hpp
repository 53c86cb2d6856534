// vigil — in-process monitoring of machine-learning models in C++ inference servers.
// SPDX-License-Identifier: Apache-2.0
//
// Bodies of vigil::BasicLogHistogram, included at the bottom of vigil/sketch/log_histogram.hpp.
#pragma once

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "vigil/io/binary.hpp"
#include "vigil/sketch/log_histogram.hpp"

namespace vigil {

namespace detail {
inline constexpr std::uint8_t log_histogram_format_version = 1;
inline constexpr std::uint16_t log_histogram_flag_concurrent = 1;
inline constexpr std::size_t log_histogram_min_buckets = 8;
inline constexpr std::size_t log_histogram_max_buckets = std::size_t{1} << 20;

// The reason `options` cannot configure a histogram, or an empty string.
inline std::string log_histogram_options_problem(const LogHistogramOptions& options) {
  if (options.scale < log_histogram_min_scale || options.scale > log_histogram_max_scale)
    return "scale " + std::to_string(options.scale) + " is outside [" + std::to_string(log_histogram_min_scale) +
           ", " + std::to_string(log_histogram_max_scale) + "]";
  if (!(options.zero_threshold >= 0) || !std::isfinite(options.zero_threshold))
    return "zero_threshold " + to_text(options.zero_threshold) + " is not a finite number >= 0";
  if (options.max_buckets < log_histogram_min_buckets || options.max_buckets > log_histogram_max_buckets)
    return "max_buckets " + std::to_string(options.max_buckets) + " is outside [8, 1048576]";
  if (!std::isnormal(options.lowest) || options.lowest < 0)
    return "lowest " + to_text(options.lowest) + " is not a positive normal number";
  return {};
}

inline std::uint64_t to_bits(double value) {
  std::uint64_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  return bits;
}

inline std::uint64_t zigzag(std::int64_t v) {
  return (static_cast<std::uint64_t>(v) << 1) ^ (v < 0 ? ~std::uint64_t{0} : 0);
}
inline std::int64_t unzigzag(std::uint64_t v) {
  return static_cast<std::int64_t>(v >> 1) ^ -static_cast<std::int64_t>(v & 1);
}
}  // namespace detail

template <class Counter>
BasicLogHistogram<Counter>::BasicLogHistogram(const LogHistogramOptions& options)
    : options_(options), zero_threshold_(options.zero_threshold + 0.0) {
  const std::string problem = detail::log_histogram_options_problem(options);
  if (!problem.empty()) detail::throw_invalid_argument("LogHistogram: " + problem);
  // A threshold of -0.0 is the threshold 0: its bits would give the zero bucket's upper
  // neighbour a negative double's index.
  options_.zero_threshold = zero_threshold_;
  set_scale(options.scale);
  min_.store(std::numeric_limits<double>::infinity());
  max_.store(-std::numeric_limits<double>::infinity());
  place_window();
}

template <class Counter>
BasicLogHistogram<Counter>::BasicLogHistogram(const BasicLogHistogram& other)
    : options_(other.options_),
      indexer_(other.indexer_),
      zero_threshold_(other.zero_threshold_),
      offset_(other.offset_),
      capacity_(other.capacity_),
      counts_(other.capacity_ > 0 ? new Slot<std::uint64_t>[other.capacity_]() : nullptr),
      count_(other.count_),
      sum_(other.sum_),
      min_(other.min_),
      max_(other.max_),
      zero_(other.zero_),
      negative_(other.negative_),
      not_finite_(other.not_finite_),
      underflow_(other.underflow_),
      overflow_(other.overflow_) {
  for (std::uint64_t i = 0; i < capacity_; ++i) counts_[i].store(other.counts_[i].load());
}

template <class Counter>
BasicLogHistogram<Counter>& BasicLogHistogram<Counter>::operator=(const BasicLogHistogram& other) {
  if (&other != this) {
    BasicLogHistogram copy(other);
    *this = std::move(copy);
  }
  return *this;
}

template <class Counter>
void BasicLogHistogram<Counter>::set_scale(int scale) {
  indexer_ = detail::LogIndexer(scale);
}

// The concurrent histogram's fixed window: max_buckets buckets at the configured scale from
// the first whose lower edge is at least `lowest`, downscaled to the current scale. A LogHistogram starts without buckets.
template <class Counter>
void BasicLogHistogram<Counter>::place_window() {
  counts_.reset();
  capacity_ = 0;
  offset_ = 0;
  if constexpr (concurrent) {
    const int shift = options_.scale - scale();
    const std::int64_t first = detail::LogIndexer(options_.scale)(detail::to_bits(options_.lowest)) + 1;
    const std::int64_t last = first + static_cast<std::int64_t>(options_.max_buckets) - 1;
    offset_ = detail::floor_shift(first, shift);
    capacity_ = static_cast<std::uint64_t>(detail::floor_shift(last, shift) - offset_ + 1);
    counts_.reset(new Slot<std::uint64_t>[capacity_]());
  }
}

template <class Counter>
void BasicLogHistogram<Counter>::record_outside(std::int64_t index, std::uint64_t n) {
  if constexpr (concurrent) {
    (index < offset_ ? underflow_ : overflow_).add(n);
  } else {
    const int before = scale();
    cover(index, index);
    index = detail::floor_shift(index, before - scale());
    counts_[static_cast<std::uint64_t>(index - offset_)].add(n);
  }
}

template <class Counter>
void BasicLogHistogram<Counter>::record_other(double value, std::uint64_t n) {
  if (n == 0) return;
  if (std::isnan(value) || std::isinf(value)) {
    not_finite_.add(n);
  } else if (value < 0) {
    negative_.add(n);
  } else {
    // 0 ≤ value ≤ zero_threshold (−0.0 included, stored as +0): the fast path takes every
    // larger value.
    value += 0.0;
    if (!sum_.add_within(value * static_cast<double>(n), std::numeric_limits<double>::max())) {
      not_finite_.add(n);
      return;
    }
    zero_.add(n);
    if constexpr (!concurrent) count_ += n;
    min_.lower_to(value);
    max_.raise_to(value);
  }
}

// Makes the window hold buckets lo..hi (LogHistogram only), downscaling first when the span of
// those and the buckets in use would exceed max_buckets.
template <class Counter>
void BasicLogHistogram<Counter>::cover(std::int64_t lo, std::int64_t hi) {
  std::int64_t used_lo;
  std::int64_t used_hi;
  if (used_range(used_lo, used_hi)) {
    lo = std::min(lo, used_lo);
    hi = std::max(hi, used_hi);
  }
  const auto limit = static_cast<std::int64_t>(options_.max_buckets);
  int k = 0;
  while (detail::floor_shift(hi, k) - detail::floor_shift(lo, k) + 1 > limit) ++k;
  if (k > 0) {
    downscale(k);
    lo = detail::floor_shift(lo, k);
    hi = detail::floor_shift(hi, k);
  }
  if (capacity_ > 0 && lo >= offset_ && hi < offset_ + static_cast<std::int64_t>(capacity_)) return;
  // Room for an octave (at least 8 buckets) on each side, so that a range swept in order
  // reallocates once per octave, never beyond max_buckets.
  const std::int64_t span = hi - lo + 1;
  const std::int64_t pad = std::min((limit - span) / 2, std::int64_t{1} << std::max(scale(), 3));
  const std::int64_t new_offset = lo - pad;
  const auto new_capacity = static_cast<std::uint64_t>(span + 2 * pad);
  std::unique_ptr<Slot<std::uint64_t>[]> fresh(new Slot<std::uint64_t>[new_capacity]());
  for (std::uint64_t i = 0; i < capacity_; ++i) {
    const std::uint64_t c = counts_[i].load();
    if (c != 0) fresh[static_cast<std::uint64_t>(offset_ + static_cast<std::int64_t>(i) - new_offset)].store(c);
  }
  counts_ = std::move(fresh);
  capacity_ = new_capacity;
  offset_ = new_offset;
}

template <class Counter>
void BasicLogHistogram<Counter>::add_at(std::int64_t index, std::uint64_t n) {
  const std::uint64_t slot = static_cast<std::uint64_t>(index - offset_);
  if (slot < capacity_) {
    counts_[slot].add(n);
  } else {
    record_outside(index, n);
  }
}

template <class Counter>
bool BasicLogHistogram<Counter>::used_range(std::int64_t& lo, std::int64_t& hi) const {
  std::uint64_t first = 0;
  while (first < capacity_ && counts_[first].load() == 0) ++first;
  if (first == capacity_) return false;
  std::uint64_t last = capacity_ - 1;
  while (counts_[last].load() == 0) --last;
  lo = offset_ + static_cast<std::int64_t>(first);
  hi = offset_ + static_cast<std::int64_t>(last);
  return true;
}

template <class Counter>
std::uint64_t BasicLogHistogram<Counter>::at(std::int64_t index) const {
  const std::uint64_t slot = static_cast<std::uint64_t>(index - offset_);
  return slot < capacity_ ? counts_[slot].load() : 0;
}

template <class Counter>
void BasicLogHistogram<Counter>::downscale(int k) {
  if (k < 0 || scale() - k < min_scale)
    detail::throw_invalid_argument("LogHistogram::downscale: " + std::to_string(k) + " steps from scale " +
                                   std::to_string(scale()) + " would leave [" + std::to_string(min_scale) + ", " +
                                   std::to_string(max_scale) + "]");
  if (k == 0) return;
  set_scale(scale() - k);
  if (capacity_ == 0) return;
  const std::int64_t new_offset = detail::floor_shift(offset_, k);
  const std::int64_t new_last = detail::floor_shift(offset_ + static_cast<std::int64_t>(capacity_) - 1, k);
  const auto new_capacity = static_cast<std::uint64_t>(new_last - new_offset + 1);
  std::unique_ptr<Slot<std::uint64_t>[]> fresh(new Slot<std::uint64_t>[new_capacity]());
  for (std::uint64_t i = 0; i < capacity_; ++i) {
    const std::uint64_t c = counts_[i].load();
    if (c != 0)
      fresh[static_cast<std::uint64_t>(detail::floor_shift(offset_ + static_cast<std::int64_t>(i), k) - new_offset)]
          .add(c);
  }
  counts_ = std::move(fresh);
  capacity_ = new_capacity;
  offset_ = new_offset;
}

template <class Counter>
template <class OtherCounter>
void BasicLogHistogram<Counter>::merge(const BasicLogHistogram<OtherCounter>& other) {
  if constexpr (std::is_same_v<OtherCounter, Counter>) {
    if (&other == this) {
      const BasicLogHistogram copy(*this);
      merge(copy);
      return;
    }
  }
  if (zero_threshold_ != other.zero_threshold_)
    detail::throw_invalid_argument("LogHistogram::merge: zero thresholds differ (" + detail::to_text(zero_threshold_) +
                                   " and " + detail::to_text(other.zero_threshold_) + ")");
  if (other.scale() < scale()) downscale(scale() - other.scale());
  std::uint64_t added = 0;
  std::int64_t lo;
  std::int64_t hi;
  if (other.used_range(lo, hi)) {
    if constexpr (!concurrent) {
      // One reallocation (and downscale, if needed) up front; then every bucket fits.
      const int shift = other.scale() - scale();
      cover(detail::floor_shift(lo, shift), detail::floor_shift(hi, shift));
    }
    const int shift = other.scale() - scale();
    for (std::uint64_t i = 0; i < other.capacity_; ++i) {
      const std::uint64_t c = other.counts_[i].load();
      if (c == 0) continue;
      add_at(detail::floor_shift(other.offset_ + static_cast<std::int64_t>(i), shift), c);
      added += c;
    }
  }
  const std::uint64_t zero = other.zero_.load();
  const std::uint64_t under = other.underflow_.load();
  const std::uint64_t over = other.overflow_.load();
  zero_.add(zero);
  underflow_.add(under);
  overflow_.add(over);
  negative_.add(other.negative_.load());
  not_finite_.add(other.not_finite_.load());
  if constexpr (!concurrent) count_ += added + zero + under + over;
  // Sums beyond the double range saturate rather than become infinite (only values near it
  // get there); counts stay exact and mean() stays within [min, max].
  const double sum = sum_.load() + other.sum_.load();
  sum_.store(std::isfinite(sum) ? sum : std::numeric_limits<double>::max());
  min_.lower_to(other.min_.load());
  max_.raise_to(other.max_.load());
}

template <class Counter>
std::uint64_t BasicLogHistogram<Counter>::count() const {
  if constexpr (concurrent) {
    std::uint64_t total = zero_.load() + underflow_.load() + overflow_.load();
    for (std::uint64_t i = 0; i < capacity_; ++i) total += counts_[i].load();
    return total;
  } else {
    return count_;
  }
}

template <class Counter>
double BasicLogHistogram<Counter>::mean() const {
  const std::uint64_t n = count();
  if (n == 0) return std::numeric_limits<double>::quiet_NaN();
  const double mean = sum() / static_cast<double>(n);
  const double lo = min_.load(), hi = max_.load();
  // The true mean lies in [min, max]; rounding, or a sum saturated by merge(), may not. (A
  // concurrent writer may not have published min and max yet.)
  return lo <= hi ? std::min(std::max(mean, lo), hi) : mean;
}

template <class Counter>
double BasicLogHistogram<Counter>::min() const {
  const double m = min_.load();
  return m == std::numeric_limits<double>::infinity() ? std::numeric_limits<double>::quiet_NaN() : m;
}

template <class Counter>
double BasicLogHistogram<Counter>::max() const {
  const double m = max_.load();
  return m == -std::numeric_limits<double>::infinity() ? std::numeric_limits<double>::quiet_NaN() : m;
}

template <class Counter>
double BasicLogHistogram<Counter>::quantile(double q) const {
  if (!(q >= 0 && q <= 1))
    detail::throw_invalid_argument("LogHistogram::quantile: q " + detail::to_text(q) + " is outside [0, 1]");
  const std::uint64_t below = zero_.load() + underflow_.load();
  const std::uint64_t above = overflow_.load();
  if constexpr (concurrent) {
    // Every counter read once, so that the rank and the walk see the same counts however
    // the writers move them meanwhile.
    std::vector<std::uint64_t> counts(capacity_);
    std::uint64_t n = below + above;
    for (std::uint64_t i = 0; i < capacity_; ++i) n += counts[i] = counts_[i].load();
    return quantile_of(q, n, below, above, [&](std::uint64_t i) { return counts[i]; });
  } else {
    return quantile_of(q, count_, below, above, [&](std::uint64_t i) { return counts_[i].load(); });
  }
}

// The quantile of n values: `below` in the zero bucket and the underflow, `above` in the
// overflow, count_at(i) in bucket offset_ + i.
template <class Counter>
template <class CountAt>
double BasicLogHistogram<Counter>::quantile_of(double q, std::uint64_t n, std::uint64_t below, std::uint64_t above,
                                               CountAt count_at) const {
  if (n == 0) return std::numeric_limits<double>::quiet_NaN();
  double lowest = min_.load();
  double highest = max_.load();
  // A concurrent writer may have counted its value but not yet published min and max.
  if (VIGIL_UNLIKELY(!(lowest <= highest))) bounds_from_buckets(lowest, highest);
  // The rank k = ⌈q·n⌉ (at least 1) of the value sought; long double keeps q·n exact enough.
  const long double exact_rank = std::ceil(static_cast<long double>(q) * static_cast<long double>(n));
  const std::uint64_t k = std::clamp<std::uint64_t>(static_cast<std::uint64_t>(exact_rank), 1, n);
  // The extreme order statistics are known exactly.
  if (k == 1) return lowest;
  if (k == n) return highest;
  const auto representative = [&](std::int64_t index) {
    // 2·lower·upper/(lower + upper): equal worst relative error at both edges of the bucket.
    const long double lower = detail::log_bucket_edge_long(scale(), index);
    const long double upper = detail::log_bucket_edge_long(scale(), index + 1);
    const auto point = static_cast<double>(2 * lower * upper / (lower + upper));
    // Not std::clamp: a racing writer may have counted a value before publishing min/max.
    return std::min(std::max(point, lowest), highest);
  };
  // Walk from the nearer end.
  if (k <= n / 2) {
    std::uint64_t seen = below;
    if (k <= seen) return lowest;
    for (std::uint64_t i = 0; i < capacity_; ++i) {
      seen += count_at(i);
      if (k <= seen) return representative(offset_ + static_cast<std::int64_t>(i));
    }
    return highest;
  }
  const std::uint64_t from_top = n - k + 1;
  std::uint64_t seen = above;
  if (from_top <= seen) return highest;
  for (std::uint64_t i = capacity_; i-- > 0;) {
    seen += count_at(i);
    if (from_top <= seen) return representative(offset_ + static_cast<std::int64_t>(i));
  }
  return lowest;
}

// The range the counted values lie in, from the buckets that hold them: what quantile()
// answers with before a concurrent writer has published its value as the min or max.
template <class Counter>
void BasicLogHistogram<Counter>::bounds_from_buckets(double& lowest, double& highest) const {
  lowest = 0;
  highest = std::numeric_limits<double>::max();
  std::uint64_t first = capacity_;
  std::uint64_t last = capacity_;
  for (std::uint64_t i = 0; i < capacity_; ++i) {
    if (counts_[i].load() == 0) continue;
    if (first == capacity_) first = i;
    last = i;
  }
  if (first == capacity_) return;
  if (zero_.load() + underflow_.load() == 0)
    lowest = static_cast<double>(detail::log_bucket_edge_long(scale(), offset_ + static_cast<std::int64_t>(first)));
  if (overflow_.load() == 0)
    highest = static_cast<double>(detail::log_bucket_edge_long(scale(), offset_ + static_cast<std::int64_t>(last) + 1));
}

template <class Counter>
std::int64_t BasicLogHistogram<Counter>::bucket_index(double value) const {
  if (!(value > 0) || std::isinf(value))
    detail::throw_invalid_argument("LogHistogram::bucket_index: " + detail::to_text(value) +
                                   " is not a positive finite number");
  return indexer_(detail::to_bits(value));
}

template <class Counter>
std::vector<typename BasicLogHistogram<Counter>::Bucket> BasicLogHistogram<Counter>::buckets() const {
  std::vector<Bucket> out;
  for (std::uint64_t i = 0; i < capacity_; ++i) {
    const std::uint64_t c = counts_[i].load();
    if (c == 0) continue;
    const std::int64_t index = offset_ + static_cast<std::int64_t>(i);
    out.push_back(Bucket{index, bucket_lower(index), bucket_upper(index), c});
  }
  return out;
}

template <class Counter>
std::vector<std::pair<double, std::uint64_t>> BasicLogHistogram<Counter>::cumulative_buckets(int coarse) const {
  if (coarse < min_scale || coarse > scale())
    detail::throw_invalid_argument("LogHistogram::cumulative_buckets: scale " + std::to_string(coarse) +
                                   " is outside [" + std::to_string(min_scale) + ", " + std::to_string(scale()) + "]");
  std::vector<std::pair<double, std::uint64_t>> out;
  const std::uint64_t zero = zero_.load();
  if (zero > 0) out.emplace_back(zero_threshold_, zero);
  std::uint64_t seen = zero + underflow_.load();
  std::int64_t lo;
  std::int64_t hi;
  if (used_range(lo, hi)) {
    const int shift = scale() - coarse;
    const std::int64_t first = detail::floor_shift(lo, shift);
    const std::int64_t last = detail::floor_shift(hi, shift);
    std::vector<std::uint64_t> coarse_counts(static_cast<std::size_t>(last - first + 1), 0);
    for (std::int64_t index = lo; index <= hi; ++index)
      coarse_counts[static_cast<std::size_t>(detail::floor_shift(index, shift) - first)] += at(index);
    for (std::size_t j = 0; j < coarse_counts.size(); ++j) {
      seen += coarse_counts[j];
      out.emplace_back(detail::log_bucket_edge(coarse, first + static_cast<std::int64_t>(j) + 1), seen);
    }
  }
  out.emplace_back(std::numeric_limits<double>::infinity(), seen + overflow_.load());
  return out;
}

template <class Counter>
void BasicLogHistogram<Counter>::clear() {
  if (scale() != options_.scale) {
    set_scale(options_.scale);
    place_window();
  } else {
    for (std::uint64_t i = 0; i < capacity_; ++i) counts_[i].store(0);
  }
  count_ = 0;
  sum_.store(0);
  min_.store(std::numeric_limits<double>::infinity());
  max_.store(-std::numeric_limits<double>::infinity());
  zero_.store(0);
  negative_.store(0);
  not_finite_.store(0);
  underflow_.store(0);
  overflow_.store(0);
}

template <class Counter>
template <class OtherCounter>
bool BasicLogHistogram<Counter>::operator==(const BasicLogHistogram<OtherCounter>& other) const {
  if (scale() != other.scale() || zero_threshold_ != other.zero_threshold_ || count() != other.count() ||
      zero_.load() != other.zero_.load() || underflow_.load() != other.underflow_.load() ||
      overflow_.load() != other.overflow_.load() || negative_.load() != other.negative_.load() ||
      not_finite_.load() != other.not_finite_.load() || sum_.load() != other.sum_.load() ||
      min_.load() != other.min_.load() || max_.load() != other.max_.load())
    return false;
  std::int64_t lo = 0;
  std::int64_t hi = -1;
  std::int64_t other_lo = 0;
  std::int64_t other_hi = -1;
  const bool any = used_range(lo, hi);
  const bool other_any = other.used_range(other_lo, other_hi);
  if (any != other_any || lo != other_lo || hi != other_hi) return false;
  for (std::int64_t index = lo; index <= hi; ++index)
    if (at(index) != other.at(index)) return false;
  return true;
}

// Format version 1 (docs/formats.md), after the common header (type log_histogram; flag 1
// marks bytes written by a ConcurrentLogHistogram, for information only):
//   u8 configured scale + 10, u8 current scale + 10, f64 zero_threshold, varint max_buckets,
//   f64 lowest, f64 sum, f64 min, f64 max (+inf and -inf when empty),
//   varint zero count, negative, not finite, underflow, overflow,
//   zigzag varint index of the first non-empty bucket, varint n,
//   n × varint count of the buckets from there to the last non-empty one (n = 0 when none).
template <class Counter>
std::vector<std::uint8_t> BasicLogHistogram<Counter>::serialize() const {
  std::vector<std::uint8_t> out;
  io::Writer w(out);
  w.header(io::TypeId::log_histogram, detail::log_histogram_format_version,
           concurrent ? detail::log_histogram_flag_concurrent : 0);
  w.u8(static_cast<std::uint8_t>(options_.scale - min_scale));
  w.u8(static_cast<std::uint8_t>(scale() - min_scale));
  w.f64(zero_threshold_);
  w.varint(options_.max_buckets);
  w.f64(options_.lowest);
  w.f64(sum_.load());
  w.f64(min_.load());
  w.f64(max_.load());
  w.varint(zero_.load());
  w.varint(negative_.load());
  w.varint(not_finite_.load());
  w.varint(underflow_.load());
  w.varint(overflow_.load());
  std::int64_t lo;
  std::int64_t hi;
  if (used_range(lo, hi)) {
    w.varint(detail::zigzag(lo));
    w.varint(static_cast<std::uint64_t>(hi - lo + 1));
    for (std::int64_t index = lo; index <= hi; ++index) w.varint(at(index));
  } else {
    w.varint(0);
    w.varint(0);
  }
  return out;
}

namespace detail {

// The counters and extremes of a serialized histogram, in the order they are written.
struct LogHistogramTotals {
  double sum;
  double min;
  double max;
  std::uint64_t zero;
  std::uint64_t negative;
  std::uint64_t not_finite;
  std::uint64_t underflow;
  std::uint64_t overflow;
};

// The options and, in `current`, the current scale, checked as the constructor would.
inline LogHistogramOptions read_log_histogram_options(io::Reader& r, int& current) {
  constexpr int min_scale = log_histogram_min_scale;
  LogHistogramOptions options;
  options.scale = static_cast<int>(r.u8()) + min_scale;
  current = static_cast<int>(r.u8()) + min_scale;
  options.zero_threshold = r.f64();
  const std::uint64_t max_buckets = r.varint();
  if (max_buckets > log_histogram_max_buckets) r.fail("max_buckets " + std::to_string(max_buckets) + " is too large");
  options.max_buckets = static_cast<std::size_t>(max_buckets);
  options.lowest = r.f64();
  const std::string problem = log_histogram_options_problem(options);
  if (!problem.empty()) r.fail(problem);
  if (current < min_scale || current > options.scale)
    r.fail("current scale " + std::to_string(current) + " is outside [" + std::to_string(min_scale) + ", " +
           std::to_string(options.scale) + "]");
  return options;
}

inline LogHistogramTotals read_log_histogram_totals(io::Reader& r) {
  LogHistogramTotals t{};
  t.sum = r.f64();
  t.min = r.f64();
  t.max = r.f64();
  t.zero = r.varint();
  t.negative = r.varint();
  t.not_finite = r.varint();
  t.underflow = r.varint();
  t.overflow = r.varint();
  return t;
}

// total + c, refusing a sum beyond 64 bits.
inline std::uint64_t add_count(io::Reader& r, std::uint64_t total, std::uint64_t c) {
  if (total + c < total) r.fail("counts overflow 64 bits");
  return total + c;
}

// Whether sum / count lies in [min, max] up to the rounding of a running sum of non-negative
// values (2^-10 relative: a sum rounds by at most 2^-53 per addition). A sum merge() saturated
// at the largest double says only that the values add up to at least that.
inline bool log_histogram_mean_in_range(const LogHistogramTotals& t, std::uint64_t count) {
  constexpr double tolerance = 0x1p-10;
  if (t.sum == std::numeric_limits<double>::max()) return t.max * static_cast<double>(count) >= t.sum;
  const double mean = t.sum / static_cast<double>(count);
  return mean >= t.min * (1 - tolerance) && mean <= t.max * (1 + tolerance);
}

// Most values a reader accepts in any counter: below it, merging two histograms never
// overflows 64 bits.
inline constexpr std::uint64_t log_histogram_max_count = std::uint64_t(1) << 62;

// Sum, min and max must describe `count` values: all unset when there are none.
inline void check_log_histogram_extremes(io::Reader& r, const LogHistogramTotals& t, std::uint64_t count) {
  if (count > log_histogram_max_count || t.negative > log_histogram_max_count ||
      t.not_finite > log_histogram_max_count)
    r.fail("count " + std::to_string(count) + ", negative " + std::to_string(t.negative) + " or not finite " +
           std::to_string(t.not_finite) + " is above 2^62");
  if (count == 0) {
    if (!(t.min == std::numeric_limits<double>::infinity() && t.max == -std::numeric_limits<double>::infinity() &&
          t.sum == 0))
      r.fail("an empty histogram with sum, min or max set");
  } else if (!(t.min >= 0 && t.min <= t.max && std::isfinite(t.max) && t.sum >= 0 && std::isfinite(t.sum))) {
    r.fail("min " + to_text(t.min) + ", max " + to_text(t.max) + " or sum " + to_text(t.sum) + " is invalid");
  } else if (count == 1 && t.min != t.max) {
    r.fail("one value with min " + to_text(t.min) + " and max " + to_text(t.max));
  } else if (!log_histogram_mean_in_range(t, count)) {
    r.fail("sum " + to_text(t.sum) + " of " + std::to_string(count) + " values is inconsistent with min " +
           to_text(t.min) + " and max " + to_text(t.max));
  }
}

}  // namespace detail

// Reads the bucket run (first index, count, counts) into this histogram, which is empty at
// the current scale; returns `total` plus the counts read.
template <class Counter>
std::uint64_t BasicLogHistogram<Counter>::read_buckets(io::Reader& r, std::uint64_t total) {
  const std::int64_t first = detail::unzigzag(r.varint());
  const std::size_t n = r.count(1);
  if (n > options_.max_buckets) r.fail(std::to_string(n) + " buckets exceed max_buckets");
  if (n == 0) return total;
  // Only buckets some finite value above the zero threshold reaches: a later record() or
  // merge() then always finds a scale at which they and any new value fit.
  const std::int64_t lowest = indexer_(detail::to_bits(zero_threshold_) + 1);
  const std::int64_t highest = indexer_(detail::to_bits(std::numeric_limits<double>::max()));
  if (first < lowest || first > highest || static_cast<std::int64_t>(n) - 1 > highest - first)
    r.fail("buckets from index " + std::to_string(first) + " (" + std::to_string(n) + " of them) lie outside " +
           std::to_string(lowest) + ".." + std::to_string(highest) + ", the buckets doubles reach at scale " +
           std::to_string(scale()));
  const std::int64_t last = first + static_cast<std::int64_t>(n) - 1;
  if constexpr (concurrent) {
    if (first < offset_ || last >= offset_ + static_cast<std::int64_t>(capacity_))
      r.fail("buckets " + std::to_string(first) + ".." + std::to_string(last) + " lie outside the window");
  } else {
    cover(first, last);  // n ≤ max_buckets: never downscales
  }
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint64_t c = r.varint();
    if ((i == 0 || i + 1 == n) && c == 0) r.fail("first or last bucket count is 0");
    total = detail::add_count(r, total, c);
    counts_[static_cast<std::uint64_t>(first + static_cast<std::int64_t>(i) - offset_)].store(c);
  }
  return total;
}

// Min and max must lie where the counts are: min in the zero bucket when it holds values,
// otherwise above the threshold; max above the threshold unless only the zero bucket holds
// values. Without underflow and overflow, min lies in the first non-empty bucket (unless in
// the zero bucket) and max in the last. Underflow and overflow keep no edges once merged
// (another histogram's window may lie anywhere), so with them min lies at or below the first
// bucket and max at or above the last. Called on a non-empty histogram with valid extremes.
template <class Counter>
void BasicLogHistogram<Counter>::check_extremes_at_buckets(io::Reader& r, const detail::LogHistogramTotals& t) const {
  std::int64_t lo = 0;  // set by used_range() when it returns true
  std::int64_t hi = 0;
  const bool any = used_range(lo, hi);
  const bool outside = t.underflow != 0 || t.overflow != 0;
  const std::string where = " with zero threshold " + detail::to_text(zero_threshold_) + ", zero count " +
                            std::to_string(t.zero) + ", underflow " + std::to_string(t.underflow) + ", overflow " +
                            std::to_string(t.overflow);
  if (t.zero != 0 ? !(t.min <= zero_threshold_) : !(t.min > zero_threshold_))
    r.fail("min " + detail::to_text(t.min) + where);
  if (any || outside ? !(t.max > zero_threshold_) : !(t.max <= zero_threshold_))
    r.fail("max " + detail::to_text(t.max) + where);
  if (!any) return;
  const std::int64_t at_min = t.zero != 0 ? lo : bucket_index(t.min);
  const std::int64_t at_max = bucket_index(t.max);
  if (outside ? at_min > lo : at_min != lo)
    r.fail("min " + detail::to_text(t.min) + " lies in bucket " + std::to_string(at_min) +
           ", the first non-empty bucket is " + std::to_string(lo));
  if (outside ? at_max < hi : at_max != hi)
    r.fail("max " + detail::to_text(t.max) + " lies in bucket " + std::to_string(at_max) +
           ", the last non-empty bucket is " + std::to_string(hi));
}

template <class Counter>
void BasicLogHistogram<Counter>::restore_totals(const detail::LogHistogramTotals& t, std::uint64_t count) {
  if constexpr (!concurrent) count_ = count;
  sum_.store(t.sum);
  min_.store(t.min);
  max_.store(t.max);
  zero_.store(t.zero);
  negative_.store(t.negative);
  not_finite_.store(t.not_finite);
  underflow_.store(t.underflow);
  overflow_.store(t.overflow);
}

template <class Counter>
BasicLogHistogram<Counter> BasicLogHistogram<Counter>::deserialize(const void* data, std::size_t size) {
  io::Reader r(data, size, "LogHistogram");
  std::uint16_t flags;
  r.header(io::TypeId::log_histogram, detail::log_histogram_format_version, flags);
  if ((flags & ~detail::log_histogram_flag_concurrent) != 0) r.fail("unknown flags " + std::to_string(flags));
  int current = 0;
  const LogHistogramOptions options = detail::read_log_histogram_options(r, current);
  const detail::LogHistogramTotals totals = detail::read_log_histogram_totals(r);
  BasicLogHistogram h(options);
  h.downscale(options.scale - current);
  std::uint64_t count = 0;
  for (const std::uint64_t c : {totals.zero, totals.underflow, totals.overflow}) count = detail::add_count(r, count, c);
  count = h.read_buckets(r, count);
  r.finish();
  detail::check_log_histogram_extremes(r, totals, count);
  if (count != 0) h.check_extremes_at_buckets(r, totals);
  h.restore_totals(totals, count);
  return h;
}

namespace detail {

/// What is wrong with a histogram that its queries rely on, or an empty string: the
/// invariants every histogram built by record(), merge() or deserialize() keeps, checked
/// through the public API. count() equals the buckets, zero bucket, underflow and overflow;
/// every bucket is one a finite value above the zero threshold reaches; sum() is finite with
/// sum()/count() in [min(), max()] (up to rounding); quantile(0) = min(), quantile(1) =
/// max(), quantiles monotone in between; and a copy records the smallest and largest
/// doubles without throwing. For tests and fuzzing: O(buckets) per query.
template <class Counter>
std::string log_histogram_invariant_violation(const BasicLogHistogram<Counter>& h) {
  std::uint64_t total = h.zero_count() + h.underflow() + h.overflow();
  const double above_zero = std::nextafter(h.zero_threshold(), std::numeric_limits<double>::infinity());
  const std::int64_t highest = h.bucket_index(std::numeric_limits<double>::max());
  const std::int64_t lowest = std::isinf(above_zero) ? highest + 1 : h.bucket_index(above_zero);
  for (const auto& b : h.buckets()) {
    if (b.index < lowest || b.index > highest) return "bucket " + std::to_string(b.index) + " is unreachable";
    total += b.count;
  }
  if (total != h.count()) return "count " + std::to_string(h.count()) + ", buckets " + std::to_string(total);
  if (!std::isfinite(h.sum()) || h.sum() < 0) return "sum " + to_text(h.sum());
  if (h.empty()) return std::isnan(h.min()) && std::isnan(h.max()) && h.sum() == 0 ? "" : "empty with extremes set";
  const double lo = h.min(), hi = h.max();
  if (!(lo >= 0 && lo <= hi && std::isfinite(hi))) return "min " + to_text(lo) + ", max " + to_text(hi);
  const LogHistogramTotals totals{h.sum(), lo, hi, 0, 0, 0, 0, 0};
  if (!log_histogram_mean_in_range(totals, h.count()) || (h.count() == 1 && lo != hi)) return "mean " + to_text(h.mean());
  if (h.quantile(0) != lo || h.quantile(1) != hi) return "quantile(0) or quantile(1) is not min or max";
  double previous = lo;
  for (int i = 0; i <= 256; ++i) {
    const double v = h.quantile(i / 256.0);
    if (!(v >= previous && v <= hi)) return "quantile(" + to_text(i / 256.0) + ") = " + to_text(v);
    previous = v;
  }
  BasicLogHistogram<Counter> copy(h);
  try {
    for (const double x : {std::numeric_limits<double>::max(), std::numeric_limits<double>::denorm_min(), 1e300})
      copy.record(x);
  } catch (const std::exception& e) {
    return std::string("recording an extreme value throws: ") + e.what();
  }
  return {};
}

}  // namespace detail

}  // namespace vigil

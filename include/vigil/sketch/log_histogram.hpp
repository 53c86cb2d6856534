// vigil — in-process monitoring of machine-learning models in C++ inference servers.
// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <type_traits>
#include <utility>
#include <vector>

#include "vigil/config.hpp"
#include "vigil/error.hpp"
#include "vigil/sketch/detail/log_histogram_detail.hpp"

namespace vigil {

namespace io {
class Reader;
}
namespace detail {
struct LogHistogramTotals;
}

/// Counter tag for BasicLogHistogram: every count, the sum, min and max are updated with
/// relaxed atomic operations, so many threads may record() into one histogram at once.
struct AtomicCounter {};

/// Configuration of a BasicLogHistogram.
struct LogHistogramOptions {
  /// Resolution: bucket base = 2^(2^-scale). Supported: -10 ≤ scale ≤ 10 (Prometheus native
  /// histograms use -4..8; OpenTelemetry allows up to 20, which this build refuses).
  int scale = 5;
  /// Values in [0, zero_threshold] are counted in the zero bucket. Finite and ≥ 0.
  double zero_threshold = 0;
  /// Most buckets held at once, 8 bytes each: the memory bound. 8 ≤ max_buckets ≤ 2^20.
  /// LogHistogram downscales (halves its resolution) rather than exceed it;
  /// ConcurrentLogHistogram holds exactly this many buckets from `lowest` upwards.
  std::size_t max_buckets = 1024;
  /// ConcurrentLogHistogram only: where its fixed window of max_buckets buckets starts, at
  /// the first bucket whose lower edge is ≥ lowest (lowest itself when it is a power of the
  /// base, as the default 2^-20). Values above zero_threshold up to that edge count in
  /// underflow(), values above the window's top edge (lowest·b^max_buckets, 2^12 with the
  /// defaults) in overflow(). A positive normal double.
  double lowest = 1.0 / (1 << 20);
};

/// The same configuration: every field equal.
inline bool operator==(const LogHistogramOptions& a, const LogHistogramOptions& b) {
  return a.scale == b.scale && a.zero_threshold == b.zero_threshold && a.max_buckets == b.max_buckets &&
         a.lowest == b.lowest;
}
inline bool operator!=(const LogHistogramOptions& a, const LogHistogramOptions& b) { return !(a == b); }

/// A histogram of non-negative values over exponentially growing buckets, with the bucket
/// layout of OpenTelemetry exponential histograms and Prometheus native histograms.
///
/// **Layout** (OpenTelemetry metrics data model, "ExponentialHistogram"; Prometheus native
/// histograms, "schema" = scale): at scale s the base is b = 2^(2^-s) and bucket i holds the
/// values in (b^i, b^(i+1)]; an exact power of the base belongs to the bucket below it. A zero
/// bucket holds [0, zero_threshold]. Indices are computed exactly, without a logarithm: the
/// exponent bits give i at scale 0 and, for s > 0, a table of the 2^s mantissa boundaries
/// (exact to the last bit, checked with integer arithmetic when built) gives the sub-bucket.
/// Subnormal values get their exact index like any other.
///
/// **Accuracy**: quantile(q) returns, for the bucket holding the ⌈q·n⌉-th smallest value, the
/// point 2·b^i·b^(i+1)/(b^i + b^(i+1)), whose relative error against any value of the bucket
/// is at most (b − 1)/(b + 1): 1.08 % at scale 5, 0.27 % at scale 7, 33 % at scale 0. The result
/// is clamped to [min(), max()], which are exact.
///
/// **Memory**: sizeof(*this) + 8·max_buckets bytes at most (8.3 KB with the defaults), plus
/// per scale s > 0 one table of 12·2^s + 8 bytes shared by all histograms of that scale.
/// LogHistogram holds only the span of buckets in use (rounded out by at most 2^s on each side;
/// docs/benchmarks.md gives examples). When a value would make the span exceed
/// max_buckets it downscales by the smallest k that fits (like OpenTelemetry's max_size): no
/// count is lost, resolution halves k times. ConcurrentLogHistogram never reallocates while
/// recording: its window is fixed at construction.
///
/// **Threads**: LogHistogram is a plain value; const members may run concurrently.
/// ConcurrentLogHistogram: record() may run on any number of threads together with const
/// members; counts are exact once the writers are done. merge, downscale, clear and
/// assignment need exclusive access. count() sums the buckets (O(max_buckets)) there.
///
/// **Bad input**: negative values are counted in negative(), NaN and ±inf in not_finite(),
/// neither is stored; −0.0 is zero. A value that would take sum() beyond the largest double
/// is counted in not_finite() too, so the sum and the mean never overflow. Configuration out of range, q
/// outside [0, 1] and merging
/// histograms with different zero thresholds throw vigil::invalid_argument.
///
/// ```cpp
/// vigil::LogHistogram latency;              // scale 5: buckets 2.2 % wide
/// for (double ms : samples) latency.record(ms);
/// double p99 = latency.quantile(0.99);      // within 1.08 % of the exact p99
/// ```
template <class Counter = std::uint64_t>
class BasicLogHistogram {
  static_assert(std::is_same_v<Counter, std::uint64_t> || std::is_same_v<Counter, AtomicCounter>,
                "BasicLogHistogram<Counter>: Counter is std::uint64_t or vigil::AtomicCounter");
  static constexpr bool concurrent = std::is_same_v<Counter, AtomicCounter>;
  template <class T>
  using Slot = detail::Slot<T, concurrent>;

 public:
  /// Smallest and largest supported scale.
  static constexpr int min_scale = detail::log_histogram_min_scale;
  static constexpr int max_scale = detail::log_histogram_max_scale;

  /// One bucket: its index at scale(), its edges (lower, upper] and its count.
  struct Bucket {
    std::int64_t index;
    double lower;
    double upper;
    std::uint64_t count;
  };

  /// An empty histogram at `scale`, other options at their defaults.
  /// Throws vigil::invalid_argument unless min_scale ≤ scale ≤ max_scale.
  explicit BasicLogHistogram(int scale = 5) : BasicLogHistogram(options_with_scale(scale)) {}
  /// An empty histogram. Throws vigil::invalid_argument for options out of range.
  explicit BasicLogHistogram(const LogHistogramOptions& options);
  /// The same data in a histogram with the other counter type (a snapshot of a concurrent
  /// histogram, for example). Exclusive access to `other` is not needed.
  template <class OtherCounter, class = std::enable_if_t<!std::is_same_v<OtherCounter, Counter>>>
  explicit BasicLogHistogram(const BasicLogHistogram<OtherCounter>& other)
      : BasicLogHistogram(other.options()) {
    merge(other);
  }
  BasicLogHistogram(const BasicLogHistogram& other);
  BasicLogHistogram(BasicLogHistogram&& other) noexcept = default;
  BasicLogHistogram& operator=(const BasicLogHistogram& other);
  BasicLogHistogram& operator=(BasicLogHistogram&& other) noexcept = default;
  ~BasicLogHistogram() = default;

  /// Counts `value` n times. Values in [0, zero_threshold()] go to the zero bucket, larger
  /// finite ones to their bucket; negative values are counted in negative(), NaN and ±inf in
  /// not_finite(), and so are values that would take sum() beyond the largest double. n = 0 does nothing. O(1): a few integer operations and two table reads;
  /// LogHistogram reallocates (and may downscale) only when a value falls outside its span.
  void record(double value, std::uint64_t n = 1) {
    std::uint64_t bits;
    std::memcpy(&bits, &value, sizeof bits);
    // Positive finite values above the threshold: the sign bit is clear and the exponent
    // field is not all ones (that is, bits < the pattern of +inf).
    if (VIGIL_LIKELY(bits < detail::positive_infinity_bits && value > zero_threshold_ && n != 0)) {
      // n = 1 skips the unsigned-to-double conversion, a multi-instruction sequence on x86-64.
      if (VIGIL_UNLIKELY(!sum_.add_within(n == 1 ? value : value * static_cast<double>(n), std::numeric_limits<double>::max()))) {
        not_finite_.add(n);
        return;
      }
      const std::int64_t index = indexer_(bits);
      const std::uint64_t slot = static_cast<std::uint64_t>(index - offset_);
      if (VIGIL_LIKELY(slot < capacity_)) {
        counts_[slot].add(n);
      } else {
        record_outside(index, n);
      }
      if constexpr (!concurrent) count_ += n;
      min_.lower_to(value);
      max_.raise_to(value);
    } else {
      record_other(value, n);
    }
  }

  /// Adds every count of `other`. Equal scales merge exactly; otherwise the finer histogram's
  /// buckets are downscaled exactly to the coarser scale (this one downscales if it is the
  /// finer). Throws vigil::invalid_argument when the zero thresholds differ. Sums that
  /// together exceed the largest double (possible only with values near it) saturate there.
  /// O(buckets of both).
  template <class OtherCounter>
  void merge(const BasicLogHistogram<OtherCounter>& other);

  /// Halves the resolution k times: scale() becomes scale() − k and each new bucket i holds
  /// old buckets i·2^k .. i·2^k + 2^k − 1 (index >> k). Exact. Throws vigil::invalid_argument
  /// when k < 0 or scale() − k < min_scale. O(buckets).
  void downscale(int k);

  /// The q-quantile for q in [0, 1] (the ⌈q·n⌉-th smallest value, the smallest for q = 0),
  /// within relative error (b − 1)/(b + 1) for values in buckets; exact for the smallest and
  /// the largest value; a rank in the zero bucket or the underflow gives min(), one in the
  /// overflow gives max(). NaN when empty.
  /// Throws vigil::invalid_argument for q outside [0, 1] or NaN. O(buckets).
  double quantile(double q) const;

  /// Values counted in buckets, the zero bucket, underflow and overflow (not the rejected).
  std::uint64_t count() const;
  /// Sum of the counted values (exact up to floating-point rounding). Always finite: record()
  /// refuses, counting it in not_finite(), a value that would take the sum beyond the largest
  /// double, and merge() saturates there when two sums together would exceed it.
  double sum() const { return sum_.load(); }
  /// Mean of the counted values, within [min(), max()]. NaN when empty.
  double mean() const;
  /// Smallest counted value, exact. NaN when empty.
  double min() const;
  /// Largest counted value, exact. NaN when empty.
  double max() const;
  bool empty() const { return count() == 0; }
  /// Values in the zero bucket [0, zero_threshold()].
  std::uint64_t zero_count() const { return zero_.load(); }
  /// Negative values refused.
  std::uint64_t negative() const { return negative_.load(); }
  /// NaN and infinite values refused, and values that would have taken sum() beyond the
  /// largest double.
  std::uint64_t not_finite() const { return not_finite_.load(); }
  /// All values refused: negative() + not_finite().
  std::uint64_t rejected() const { return negative() + not_finite(); }
  /// Values above the zero threshold below the bucket window (ConcurrentLogHistogram only,
  /// or merged from one); always 0 for a LogHistogram filled by record().
  std::uint64_t underflow() const { return underflow_.load(); }
  /// Values above the bucket window (as underflow()).
  std::uint64_t overflow() const { return overflow_.load(); }

  /// Current scale (below the configured one after downscaling).
  int scale() const { return indexer_.scale; }
  double zero_threshold() const { return zero_threshold_; }
  /// The options this histogram was built with (scale as configured, not as current).
  const LogHistogramOptions& options() const { return options_; }

  /// Bucket index at scale() of a positive finite value: the i with b^i < value ≤ b^(i+1).
  /// Throws vigil::invalid_argument for a value that is not positive and finite.
  std::int64_t bucket_index(double value) const;
  /// Lower edge b^i of bucket i at scale(), the double nearest to it (0 or inf beyond range).
  double bucket_lower(std::int64_t index) const { return detail::log_bucket_edge(scale(), index); }
  /// Upper edge b^(i+1) of bucket i at scale().
  double bucket_upper(std::int64_t index) const { return detail::log_bucket_edge(scale(), index + 1); }

  /// The non-empty buckets in ascending order (zero bucket, underflow and overflow excluded).
  std::vector<Bucket> buckets() const;
  /// Cumulative counts in the style of Prometheus classic buckets at a coarser or equal
  /// `scale`: (le, values ≤ le) pairs with le ascending. It starts with (zero_threshold(),
  /// zero_count()) when the zero bucket is not empty, then holds one pair per bucket at `scale`
  /// from the first to the last non-empty one (their upper edges; underflow counts in the
  /// first), and ends with (+inf, count()). Throws vigil::invalid_argument unless
  /// min_scale ≤ scale ≤ scale().
  std::vector<std::pair<double, std::uint64_t>> cumulative_buckets(int scale) const;

  /// Removes every value and returns to the configured scale; keeps the options.
  void clear();
  /// Bytes held by this histogram: the object and its bucket array (tables shared between
  /// histograms are not included).
  std::size_t memory_bytes() const { return sizeof(*this) + capacity_ * sizeof(Slot<std::uint64_t>); }

  /// The same data: scale, zero threshold, every bucket count, the zero, underflow, overflow
  /// and rejected counters, sum, min and max. Options and allocation do not matter.
  template <class OtherCounter>
  bool operator==(const BasicLogHistogram<OtherCounter>& other) const;
  template <class OtherCounter>
  bool operator!=(const BasicLogHistogram<OtherCounter>& other) const {
    return !(*this == other);
  }

  /// Binary form, format version 1 (docs/formats.md). Either
  /// counter type reads what the other wrote.
  std::vector<std::uint8_t> serialize() const;
  /// Reads serialize()'s output. Throws vigil::format_error on truncated, corrupt or
  /// inconsistent bytes, naming what is wrong.
  static BasicLogHistogram deserialize(const void* data, std::size_t size);
  static BasicLogHistogram deserialize(const std::vector<std::uint8_t>& bytes) {
    return deserialize(bytes.data(), bytes.size());
  }

 private:
  template <class OtherCounter>
  friend class BasicLogHistogram;

  static LogHistogramOptions options_with_scale(int scale) {
    LogHistogramOptions options;
    options.scale = scale;
    return options;
  }
  void record_outside(std::int64_t index, std::uint64_t n);
  void record_other(double value, std::uint64_t n);
  void set_scale(int scale);
  void place_window();
  void cover(std::int64_t lo, std::int64_t hi);
  void add_at(std::int64_t index, std::uint64_t n);
  bool used_range(std::int64_t& lo, std::int64_t& hi) const;
  void bounds_from_buckets(double& lowest, double& highest) const;
  template <class CountAt>
  double quantile_of(double q, std::uint64_t n, std::uint64_t below, std::uint64_t above, CountAt count_at) const;
  std::uint64_t at(std::int64_t index) const;
  std::uint64_t read_buckets(io::Reader& r, std::uint64_t total);
  void restore_totals(const detail::LogHistogramTotals& totals, std::uint64_t count);
  void check_extremes_at_buckets(io::Reader& r, const detail::LogHistogramTotals& totals) const;

  LogHistogramOptions options_;
  detail::LogIndexer indexer_;
  double zero_threshold_;
  std::int64_t offset_ = 0;      // bucket index of counts_[0]
  std::uint64_t capacity_ = 0;   // buckets allocated in counts_
  std::unique_ptr<Slot<std::uint64_t>[]> counts_;
  std::uint64_t count_ = 0;      // LogHistogram only; the concurrent one sums its counters
  Slot<double> sum_;
  Slot<double> min_;
  Slot<double> max_;
  Slot<std::uint64_t> zero_;
  Slot<std::uint64_t> negative_;
  Slot<std::uint64_t> not_finite_;
  Slot<std::uint64_t> underflow_;
  Slot<std::uint64_t> overflow_;
};

/// The single-threaded histogram of the contract: `vigil::LogHistogram h(5); h.record(x);`.
using LogHistogram = BasicLogHistogram<std::uint64_t>;
/// The histogram many threads record into at once (relaxed atomics, fixed bucket window).
using ConcurrentLogHistogram = BasicLogHistogram<AtomicCounter>;

}  // namespace vigil

#include "vigil/sketch/detail/log_histogram_impl.hpp"

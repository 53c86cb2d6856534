// vigil — in-process monitoring of machine-learning models in C++ inference servers.
// SPDX-License-Identifier: Apache-2.0
#pragma once

/// \file
/// Streaming moments: RunningStats (exact mean and variance of everything seen), Ewma
/// (exponentially weighted mean and variance over event time) and EventRate (events per
/// second over event time).
///
/// Time is event time in **seconds as a double** (Unix seconds for live traffic and for CSV
/// replay alike); the library never reads a clock. Half-lives are in the same unit.

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "vigil/error.hpp"
#include "vigil/io/binary.hpp"

namespace vigil {

/// Count, mean, variance, min and max of a stream, in O(1) memory, mergeable.
///
/// Updates follow Welford, "Note on a method for calculating corrected sums of squares and
/// products" (Technometrics, 1962), in the weighted form of West (CACM, 1979); merge() is the
/// pairwise update of Chan, Golub & LeVeque, "Updating formulae and a pairwise algorithm for
/// computing sample variances" (1979). Both avoid the cancellation of the textbook
/// Σx² − (Σx)²/n formula: for values around 10⁹ with unit variance the variance keeps a
/// relative error below 10⁻⁹ over 10⁶ values, whether added one by one or merged from many
/// parts (tests/sketch/rolling_test.cpp).
///
/// **Values near the double range.** The mean and M2 are kept in units of 2^e, e ≥ 0 an
/// exponent that grows only when a value's distance from the first one exceeds 2^448 or M2
/// would exceed 2^1000 (e stays 0 for ordinary data, and the results are then those of the
/// plain update). So no finite value overflows the state: ±1e308 together, 1e160 beside 1,
/// subnormals are all accepted; mean() stays within [min(), max()], stddev() is finite
/// whenever the standard deviation is representable, and variance() is +inf only when the
/// variance itself exceeds the largest double.
///
/// Weights are frequency weights: add(x, 3) is the same as adding x three times.
///
/// **Memory**: 64 bytes, whatever the stream. **Threads**: const members may run
/// concurrently; add, merge and clear need exclusive access.
///
/// **Bad input**: NaN and ±inf values are refused and counted in rejected(); a weight that
/// is not finite and positive, or that would make count() infinite, throws
/// vigil::invalid_argument.
///
/// ```cpp
/// vigil::RunningStats s;
/// for (double x : values) s.add(x);
/// double sd = s.stddev();
/// ```
class RunningStats {
 public:
  /// An empty summary.
  RunningStats() = default;

  /// Adds `x` with frequency weight `weight` (default 1). O(1). NaN/inf are counted in
  /// rejected() and ignored; a weight that is NaN, infinite or ≤ 0, or that would make the
  /// total weight infinite, throws vigil::invalid_argument before any state changes.
  /// Always inlined: callers on the request path (a canary's deviations) then pay for the
  /// common case only, and weight 1 folds away; the rare cases stay out of line.
  VIGIL_INLINE void add(double x, double weight = 1) {
    if (VIGIL_UNLIKELY(!(x - x == 0))) {
      ++rejected_;
      return;
    }
    if (VIGIL_UNLIKELY(!(weight > 0 && count_ + weight <= std::numeric_limits<double>::max())))
      bad_weight(weight, count_);
    if (VIGIL_UNLIKELY(count_ == 0)) shift_ = x;
    // Values are taken relative to the first one, so that the running mean is of the order
    // of the spread and keeps its low bits (Chan, Golub & LeVeque's "shifted data").
    const double y = x - shift_;
    if (VIGIL_LIKELY(exponent_ == 0 && std::fabs(y) <= spread_limit)) {
      const double total = count_ + weight;
      const double delta = y - mean_;
      const double mean = mean_ + delta * (weight / total);
      const double m2 = m2_ + m2_increment(weight, delta, y - mean, total);
      if (VIGIL_LIKELY(m2 <= m2_limit)) {
        count_ = total;
        mean_ = mean;
        m2_ = m2;
        extend_range(x);
        return;
      }
    }
    add_scaled(x, weight);
  }

  /// Adds everything `other` summarises (Chan, Golub & LeVeque 1979). O(1). The result
  /// equals one pass over both streams up to rounding; min, max, count and rejected() exactly.
  /// Throws vigil::invalid_argument, changing nothing, when the total weight would be infinite.
  void merge(const RunningStats& other);

  /// Total weight accepted (the number of values when every weight is 1).
  double count() const { return count_; }
  bool empty() const { return count_ == 0; }
  /// Sum of the accepted values, as mean() × count(). 0 when empty; ±inf when the sum
  /// exceeds the double range (the mean does not).
  double sum() const { return count_ > 0 ? mean() * count_ : 0; }
  /// Arithmetic mean, within [min(), max()]. NaN when empty.
  double mean() const;
  /// Sample variance Σw(x − mean)² / (count − 1), unbiased for frequency weights.
  /// NaN when count() ≤ 1; +inf when it exceeds the largest double.
  double variance() const { return count_ > 1 ? std::ldexp(m2_ / (count_ - 1), 2 * exponent_) : nan(); }
  /// Population variance Σw(x − mean)² / count. NaN when empty, 0 for a single value. At
  /// most ((max − min) / 2)² (Popoviciu's inequality), which also bounds its rounding when
  /// count() is below 1 and M2 / count() leaves the double range; +inf only when that
  /// bound itself exceeds the largest double.
  double population_variance() const;
  /// Square root of variance() (sample), finite whenever it is representable. NaN when
  /// count() ≤ 1.
  double stddev() const { return count_ > 1 ? std::ldexp(std::sqrt(m2_) / std::sqrt(count_ - 1), exponent_) : nan(); }
  /// Square root of population_variance(), always finite: at most half the range
  /// (max − min) / 2 (Popoviciu's inequality), which also bounds its rounding when count()
  /// is below 1 and M2 / count() leaves the double range.
  double population_stddev() const;
  /// Smallest accepted value. NaN when empty.
  double min() const { return count_ > 0 ? min_ : nan(); }
  /// Largest accepted value. NaN when empty.
  double max() const { return count_ > 0 ? max_ : nan(); }
  /// Number of NaN and infinite values refused.
  std::uint64_t rejected() const { return rejected_; }
  /// The exponent e of the units 2^e the mean and M2 are kept in: 0 unless values far apart
  /// (beyond 2^448) or huge weights required more. At most max_exponent.
  int exponent() const { return exponent_; }
  /// The largest exponent() any stream of finite values and weights can reach.
  static constexpr int max_exponent = 1200;

  /// Forgets every value and the rejected() count.
  void clear() { *this = RunningStats(); }

  /// Same state, bit for bit (two summaries of the same values added in another order can
  /// differ in the last bits of mean and variance).
  friend bool operator==(const RunningStats& a, const RunningStats& b) {
    return a.count_ == b.count_ && a.shift_ == b.shift_ && a.exponent_ == b.exponent_ && a.mean_ == b.mean_ &&
           a.m2_ == b.m2_ && a.rejected_ == b.rejected_ &&
           (a.count_ == 0 || (a.min_ == b.min_ && a.max_ == b.max_));
  }
  friend bool operator!=(const RunningStats& a, const RunningStats& b) { return !(a == b); }

  /// Binary form (docs/formats.md): format version 1 while exponent() is 0 (header, then
  /// count, shift, mean of the shifted values, M2, min, max as f64 and rejected as varint:
  /// 57 bytes for an empty summary), so that every ordinary summary stays readable by
  /// readers of version 1; version 2 otherwise, which adds the exponent after the shift.
  std::vector<std::uint8_t> serialize() const;
  /// Reads serialize()'s output of either version. Throws vigil::format_error on truncated,
  /// corrupt or inconsistent bytes (any state invariant_violation() finds fault with).
  static RunningStats deserialize(const void* data, std::size_t size);
  static RunningStats deserialize(const std::vector<std::uint8_t>& bytes) {
    return deserialize(bytes.data(), bytes.size());
  }

  /// What is wrong with this state, or an empty string when every invariant the queries
  /// rely on holds: count finite and ≥ 0; exponent in [0, max_exponent]; when empty, no mean
  /// or M2; otherwise shift, mean and M2 finite, M2 ≥ 0, min ≤ max finite, the shift (the
  /// first value) and the mean within [min, max] up to rounding, M2 within what values in
  /// [min, max] allow (count·(max − min)², four times Popoviciu's bound, for rounding
  /// and counts below 1). deserialize() refuses the
  /// states it reports; tests and fuzzers call it on states they build.
  std::string invariant_violation() const;

 private:
  // Largest distance from the first value, in units 2^e, and largest M2 in units 2^2e,
  // before the exponent grows: squares of distances and sums of them stay far from overflow.
  static constexpr double spread_limit = 0x1p448;
  static constexpr double m2_limit = 0x1p1000;

  static double nan() { return std::numeric_limits<double>::quiet_NaN(); }
  [[noreturn]] VIGIL_NOINLINE static inline void bad_weight(double weight, double count);
  inline void add_scaled(double x, double weight);
  // West's increment of M2, w·δ·(y − new mean), which equals w·δ²·count/total ≥ 0. A weight
  // far above the count rounds the new mean to either side of y: the product then has the
  // wrong sign (−inf once w·δ overflows), and the second form, never negative, is used.
  double m2_increment(double weight, double delta, double to_new_mean, double total) const {
    const double increment = weight * delta * to_new_mean;
    return increment >= 0 ? increment : delta * (count_ / total) * delta * weight;
  }
  void extend_range(double x) {
    if (x < min_) min_ = x;
    if (x > max_) max_ = x;
  }
  // (x − shift)·2^−e, computed without overflow when e > 0.
  double scaled_offset(double x) const {
    return exponent_ == 0 ? x - shift_ : std::ldexp(x, -exponent_) - std::ldexp(shift_, -exponent_);
  }
  void rescale(int exponent);
  static int rescale_step(double spread, double m2);
  void read_state(io::Reader& r, std::uint8_t version);
  std::string m2_violation() const;

  double count_ = 0;
  double shift_ = 0;  // the first value; mean_ is the mean of (x − shift_)·2^−exponent_
  double mean_ = 0;
  double m2_ = 0;  // Σ w·((x − shift_)·2^−exponent_ − mean_)²
  double min_ = std::numeric_limits<double>::infinity();
  double max_ = -std::numeric_limits<double>::infinity();
  std::uint64_t rejected_ = 0;
  int exponent_ = 0;
};

/// Exponentially weighted mean and variance over event time, for irregularly spaced events.
///
/// A value seen Δt seconds before the latest event carries weight w·2^(−Δt/half_life), so
/// the estimate is the weighted mean Σwᵢxᵢ / Σwᵢ of every value with those decayed weights —
/// normalised by the accumulated weight, so there is no start-up bias: the mean after the
/// first value is that value exactly, and a long silence does not pull the mean toward zero.
/// Decaying by elapsed time (rather than by a per-event factor α) makes the result
/// independent of how events are spaced; it is the exponentially time-decayed aggregate of
/// Cormode, Shkapenyuk, Srivastava & Xu, "Forward decay" (ICDE 2009). The variance uses
/// West's (1979) weighted update, all weights decayed by one factor before each new value.
///
/// **Out-of-order events** (time earlier than the latest seen) are given their exact decayed
/// weight relative to the latest time, so the result does not depend on arrival order; they
/// are counted in out_of_order() so a caller can see clock trouble. One so much older than
/// the latest time that its decayed weight is 0 (about 1075 half-lives or more) could change
/// nothing: it is refused and counted in rejected() as well, not in count(). So after one
/// event far in the future (a clock error), the average keeps that event's time and the
/// values that follow at the true time are counted in rejected() and out_of_order() until
/// event time reaches it — visible, never silently dropped.
///
/// **Memory**: 72 bytes. **Threads**: const members may run concurrently.
///
/// **Bad input**: NaN/inf values or times are refused and counted in rejected(), and so are
/// values beyond ±value_limit (2^448) and values whose weight would make Σw² or M2 exceed the
/// double range (weights beyond about 10^154). A weight that is not finite and positive
/// throws vigil::invalid_argument; so does a half-life outside [10⁻⁶, 10¹²] seconds
/// (detail::min_half_life, detail::max_half_life: within it weights and rates stay finite).
///
/// ```cpp
/// vigil::Ewma score(300);              // half-life 5 minutes
/// score.add(0.73, request_unix_seconds);
/// double recent_mean = score.mean();
/// ```
class Ewma {
 public:
  /// An empty average whose weights halve every `half_life` seconds of event time. Throws
  /// vigil::invalid_argument when `half_life` is outside [10⁻⁶, 10¹²].
  explicit Ewma(double half_life);

  /// Adds `x` observed at event time `time` (seconds) with weight `weight`. O(1).
  /// NaN/inf in `x` or `time`, |x| > value_limit and values that would overflow the state are
  /// counted in rejected(); a time earlier than the latest seen is applied with its decayed
  /// weight and counted in out_of_order() (and in rejected() when that weight is 0). A
  /// weight that is not finite and positive throws vigil::invalid_argument, and so does a
  /// value that would make count() overflow 64 bits (changing nothing).
  void add(double x, double time, double weight = 1);

  /// Combines two averages with the same half-life (for example, of two shards of one
  /// stream): the result is the weighted average over both streams' values, decayed to the
  /// later of the two latest times. Throws vigil::invalid_argument, changing nothing, when
  /// half-lives differ or the combined state would exceed the double range.
  void merge(const Ewma& other);

  /// Weighted mean. NaN when empty.
  double mean() const { return weight_ > 0 ? mean_ : nan(); }
  /// Weighted variance with the bias correction for reliability weights,
  /// Σw(x − mean)² / (W − Σw²/W). NaN until the effective count exceeds 1.
  double variance() const;
  /// Σw(x − mean)² / W, the variance of the weighted empirical distribution. NaN when empty.
  double population_variance() const { return weight_ > 0 ? m2_ / weight_ : nan(); }
  double stddev() const { return std::sqrt(variance()); }
  /// Total decayed weight W = Σwᵢ·2^(−(latest − tᵢ)/half_life) as of the latest time.
  /// With unit weights and a steady rate r it tends to r·half_life/ln 2.
  double weight() const { return weight_; }
  /// Kish's effective sample size W²/Σw²: how many equally weighted values the estimate is
  /// worth, at most count() and finite even when W² exceeds the double range. 0 when empty.
  double effective_count() const;
  /// Latest event time seen. NaN when empty.
  double latest_time() const { return count_ > 0 ? latest_ : nan(); }
  double half_life() const { return half_life_; }
  /// Number of values accepted (undecayed); refused ones are in rejected().
  std::uint64_t count() const { return count_; }
  bool empty() const { return count_ == 0; }
  /// Values whose time was earlier than the latest time already seen.
  std::uint64_t out_of_order() const { return out_of_order_; }
  /// Values refused: value or time NaN or infinite, |value| > value_limit, a result beyond
  /// the double range, or a decayed weight of 0.
  std::uint64_t rejected() const { return rejected_; }

  /// Forgets every value and counter; keeps the half-life.
  void clear() { *this = Ewma(half_life_); }

  /// Same half-life and state, bit for bit.
  friend bool operator==(const Ewma& a, const Ewma& b);
  friend bool operator!=(const Ewma& a, const Ewma& b) { return !(a == b); }

  /// Binary form, format version 1 (docs/formats.md): header, half-life, state, counters.
  std::vector<std::uint8_t> serialize() const;
  /// Reads serialize()'s output. Throws vigil::format_error on bad bytes.
  static Ewma deserialize(const void* data, std::size_t size);
  static Ewma deserialize(const std::vector<std::uint8_t>& bytes) { return deserialize(bytes.data(), bytes.size()); }

  /// What is wrong with this state, or an empty string when every invariant the queries
  /// rely on holds: half-life within [detail::min_half_life, detail::max_half_life]; W, Σw²
  /// and M2 finite and ≥ 0; mean and latest time finite; when empty, no state (latest time
  /// 0); otherwise W > 0, Σw² ≤ W² up to rounding, the effective count W²/Σw² at most
  /// count() (when W ≥ 2^−400), |mean| ≤ value_limit and M2/W ≤ 2^900 (values within
  /// ±value_limit spread less). deserialize() refuses the states it
  /// reports; tests and fuzzers call it on states they build.
  std::string invariant_violation() const;

  /// Values beyond ±value_limit (2^448) are refused and counted in rejected(): the squares
  /// of their distances from ordinary values would leave the double range.
  static constexpr double value_limit = 0x1p448;

 private:
  static double nan() { return std::numeric_limits<double>::quiet_NaN(); }
  void decay_to(double time);
  // Adds x with `weight` after decaying the state by `factor`; false, changing nothing, when
  // the result would leave the double range.
  bool accept(double x, double weight, double factor);
  void combine(const Ewma& decayed_to_same_time);
  std::string spread_violation() const;

  double half_life_;
  double weight_ = 0;   // W, as of latest_
  double weight2_ = 0;  // Σw², as of latest_
  double mean_ = 0;
  double m2_ = 0;       // Σw(x − mean)², as of latest_
  double latest_ = 0;
  std::uint64_t count_ = 0;
  std::uint64_t out_of_order_ = 0;
  std::uint64_t rejected_ = 0;
};

/// Events per second over event time, exponentially decayed: a stream that stops shows a
/// rate falling toward zero, not the last rate frozen.
///
/// **Estimator.** With events at times tᵢ and observation starting at t₀, the rate at time t
/// is C(t) / E(t), where C(t) = Σ 2^(−(t − tᵢ)/h) is the decayed event count and
/// E(t) = ∫ₜ₀ᵗ 2^(−(t − s)/h) ds = (h/ln 2)·(1 − 2^(−(t − t₀)/h)) the decayed exposure time.
/// For a Poisson stream of constant rate λ, E[C(t)] = λ·E(t), so the estimate is unbiased
/// from the first second on (no warm-up ramp), and its relative standard deviation tends to
/// √(ln 2 / (2·λ·h)) (0.76 % for λ = 100/s, h = 60 s). After a step change the estimate
/// moves to the new rate with half of the remaining gap closed every h seconds.
///
/// Observation starts at start() when given, else at the first event; in that case the first
/// event only marks t₀ and is not counted in C (by memorylessness the later arrivals are a
/// Poisson stream from t₀ on), which keeps the estimate unbiased. count() counts every event.
///
/// **Memory**: 64 bytes. **Bad input**: NaN/inf times are counted in rejected(); times
/// earlier than the latest one get their exact decayed weight and are counted in
/// out_of_order(); events before t₀ are counted in out_of_order() and placed at t₀. Events
/// so much older than the latest time that their decayed weight is 0 (about 1075
/// half-lives) are counted in out_of_order() and rejected(), not in count(): after one event
/// far in the future the estimator keeps that time, and the events that follow at the true
/// time are counted as refused until event time reaches it. A half-life outside
/// [10⁻⁶, 10¹²] seconds throws vigil::invalid_argument, as does a count() that would
/// overflow 64 bits.
///
/// ```cpp
/// vigil::EventRate requests(60);                 // half-life one minute
/// requests.add(now_unix_seconds);                // per request
/// double per_second = requests.rate(now_unix_seconds);
/// ```
class EventRate {
 public:
  /// An empty estimator whose memory halves every `half_life` seconds of event time. Throws
  /// vigil::invalid_argument when `half_life` is outside [10⁻⁶, 10¹²].
  explicit EventRate(double half_life);

  /// Starts observation at `time` if it has not started yet (e.g. at server start, so the
  /// first event counts too). Ignored once started or when `time` is not finite.
  void start(double time);

  /// Records `n` events at event time `time` (seconds). O(1). Throws
  /// vigil::invalid_argument when count() + n would overflow 64 bits.
  void add(double time, std::uint64_t n = 1);

  /// Combines estimators of disjoint events over the same period (shards of one stream):
  /// the rate of the union is the sum of the rates, t₀ the earlier start. An event that
  /// marked a shard's t₀ stays uncounted in C, a bias of one event per shard. Throws
  /// vigil::invalid_argument when half-lives differ or the counts would overflow 64 bits.
  void merge(const EventRate& other);

  /// Estimated events per second at time `time` (≥ the latest event: querying earlier uses
  /// the latest event time); always finite or NaN. NaN before any exposure (empty, or the
  /// exposure since t₀ below min_exposure).
  double rate(double time) const;
  /// rate() at the latest event time.
  double rate() const { return rate(latest_); }

  /// Decayed event count C at the latest event time.
  double decayed_count() const { return decayed_; }
  /// Start of observation t₀. NaN before it.
  double start_time() const { return started_ ? origin_ : nan(); }
  double latest_time() const { return started_ ? latest_ : nan(); }
  double half_life() const { return half_life_; }
  /// Every event recorded (undecayed).
  std::uint64_t count() const { return count_; }
  bool empty() const { return count_ == 0; }
  /// Events earlier than the latest time (accepted or refused).
  std::uint64_t out_of_order() const { return out_of_order_; }
  /// Events refused: at a NaN or infinite time, or with a decayed weight of 0.
  std::uint64_t rejected() const { return rejected_; }

  /// Forgets everything; keeps the half-life.
  void clear() { *this = EventRate(half_life_); }

  friend bool operator==(const EventRate& a, const EventRate& b);
  friend bool operator!=(const EventRate& a, const EventRate& b) { return !(a == b); }

  /// Binary form, format version 1 (docs/formats.md).
  std::vector<std::uint8_t> serialize() const;
  /// Reads serialize()'s output. Throws vigil::format_error on bad bytes.
  static EventRate deserialize(const void* data, std::size_t size);
  static EventRate deserialize(const std::vector<std::uint8_t>& bytes) {
    return deserialize(bytes.data(), bytes.size());
  }

  /// What is wrong with this state, or an empty string when every invariant the queries
  /// rely on holds: half-life within [detail::min_half_life, detail::max_half_life]; decayed
  /// count finite, ≥ 0 and at most count() (up to rounding); start and latest time finite,
  /// start ≤ latest; when not started, no events and both times 0. deserialize() refuses the
  /// states it reports; tests and fuzzers call it on states they build.
  std::string invariant_violation() const;

  /// Below this exposure (2^−900 s) rate() answers NaN: a decayed count (< 2^64) over it
  /// could exceed the double range.
  static constexpr double min_exposure = 0x1p-900;

 private:
  static double nan() { return std::numeric_limits<double>::quiet_NaN(); }

  double half_life_;
  double decayed_ = 0;  // C as of latest_ (an event that only marked t₀ is not in it)
  double origin_ = 0;
  double latest_ = 0;
  std::uint64_t count_ = 0;
  std::uint64_t out_of_order_ = 0;
  std::uint64_t rejected_ = 0;
  bool started_ = false;
};

// ---------------------------------------------------------------------------------------
// Implementation.

namespace detail {
inline constexpr std::uint8_t rolling_format_version = 1;
inline constexpr std::uint8_t running_stats_format_version = 2;

/// The half-lives Ewma and EventRate accept, in seconds: from a microsecond to about 31,700
/// years. Within them weights, exposures and rates stay finite and normal.
inline constexpr double min_half_life = 1e-6;
inline constexpr double max_half_life = 1e12;

inline bool valid_half_life(double half_life) { return half_life >= min_half_life && half_life <= max_half_life; }

inline std::string half_life_problem(double half_life) {
  return "half-life " + to_text(half_life) + " is outside [" + to_text(min_half_life) + ", " + to_text(max_half_life) + "] s";
}

inline void check_half_life(const char* type, double half_life) {
  if (!valid_half_life(half_life)) throw_invalid_argument(std::string(type) + ": " + half_life_problem(half_life));
}

inline void check_weight(const char* type, double weight) {
  if (VIGIL_UNLIKELY(!(weight > 0 && weight <= std::numeric_limits<double>::max())))
    throw_invalid_argument(std::string(type) + ": weight " + to_text(weight) + " is not finite and positive");
}

// 2^(−Δt/h) for Δt ≥ 0.
inline double decay_factor(double elapsed, double half_life) { return std::exp2(-elapsed / half_life); }

// A sum of squared weights decayed by `factor` (squared). Below 2^−500 the square of the
// factor underflows while the decayed sum need not (large weights, a long pause): then the
// factor is applied twice.
inline double decay_squared(double sum2, double factor) {
  return factor >= 0x1p-500 ? sum2 * (factor * factor) : sum2 * factor * factor;
}
}  // namespace detail

void RunningStats::bad_weight(double weight, double count) {
  if (weight > 0 && weight <= std::numeric_limits<double>::max())
    detail::throw_invalid_argument("RunningStats: weight " + detail::to_text(weight) + " would make the total weight " +
                                   detail::to_text(count) + " infinite");
  detail::throw_invalid_argument("RunningStats: weight " + detail::to_text(weight) + " is not finite and positive");
}

inline int RunningStats::rescale_step(double spread, double m2) {
  int step = 1;
  // An infinite spread is a difference of two values near the double range: halving both
  // makes it finite, and the next round sizes the step exactly.
  if (!std::isfinite(spread)) step = 2;
  else if (spread > spread_limit) step = std::ilogb(spread) - std::ilogb(spread_limit) + 1;
  if (!(m2 <= m2_limit)) {
    const int m2_step = std::isfinite(m2) ? (std::ilogb(m2) - std::ilogb(m2_limit)) / 2 + 1 : 64;
    if (m2_step > step) step = m2_step;
  }
  return step;
}

inline void RunningStats::rescale(int exponent) {
  if (exponent > max_exponent) exponent = max_exponent;
  const int step = exponent - exponent_;
  mean_ = std::ldexp(mean_, -step);
  m2_ = std::ldexp(m2_, -2 * step);
  exponent_ = exponent;
}

inline void RunningStats::add_scaled(double x, double weight) {
  // At max_exponent every finite value scales below 2^−176, so the loop ends there at the
  // latest; in practice one or two rounds.
  for (;;) {
    const double y = scaled_offset(x);
    const double total = count_ + weight;
    const double delta = y - mean_;
    const double mean = mean_ + delta * (weight / total);
    const double m2 = m2_ + m2_increment(weight, delta, y - mean, total);
    if ((std::fabs(y) <= spread_limit && m2 <= m2_limit) || exponent_ == max_exponent) {
      count_ = total;
      mean_ = mean;
      m2_ = m2;
      extend_range(x);
      return;
    }
    rescale(exponent_ + rescale_step(y, m2));
  }
}

inline double RunningStats::mean() const {
  if (!(count_ > 0)) return nan();
  double m = shift_ + mean_;
  if (exponent_ != 0) {
    const double offset = std::ldexp(mean_, exponent_);
    // The offset from the first value can exceed the double range (first value −1e308, mean
    // near 1e308); the sum in units of 2^e cannot.
    m = std::isfinite(offset) ? shift_ + offset
                              : std::ldexp(std::ldexp(shift_, -exponent_) + mean_, exponent_);
  }
  return m < min_ ? min_ : (m > max_ ? max_ : m);
}

inline double RunningStats::population_variance() const {
  if (!(count_ > 0)) return nan();
  const double variance = std::ldexp(m2_ / count_, 2 * exponent_);
  const double half_range = max_ / 2 - min_ / 2;
  const double bound = half_range * half_range;
  return variance < bound ? variance : bound;
}

inline double RunningStats::population_stddev() const {
  if (!(count_ > 0)) return nan();
  const double sd = std::ldexp(std::sqrt(m2_) / std::sqrt(count_), exponent_);
  const double half_range = max_ / 2 - min_ / 2;
  return sd < half_range ? sd : half_range;
}

inline void RunningStats::merge(const RunningStats& other) {
  if (other.count_ > 0 && !(count_ + other.count_ <= std::numeric_limits<double>::max()))
    detail::throw_invalid_argument("RunningStats::merge: total weight " + detail::to_text(count_) + " + " +
                                   detail::to_text(other.count_) + " is infinite");
  rejected_ += other.rejected_;
  if (other.count_ == 0) return;
  if (count_ == 0) {
    const std::uint64_t rejected = rejected_;
    *this = other;
    rejected_ = rejected;
    return;
  }
  RunningStats b = other;
  if (b.exponent_ > exponent_) rescale(b.exponent_);
  if (exponent_ > b.exponent_) b.rescale(exponent_);
  for (;;) {
    const double offset = scaled_offset(b.shift_);
    const double total = count_ + b.count_;
    const double delta = offset + (b.mean_ - mean_);
    const double share = b.count_ / total;
    const double mean = mean_ + delta * share;
    const double m2 = m2_ + (b.m2_ + delta * delta * count_ * share);
    if ((std::fabs(offset) <= spread_limit && m2 <= m2_limit) || exponent_ == max_exponent) {
      mean_ = mean;
      m2_ = m2;
      count_ = total;
      break;
    }
    rescale(exponent_ + rescale_step(offset, m2));
    b.rescale(exponent_);
  }
  extend_range(b.min_);
  extend_range(b.max_);
}

inline std::vector<std::uint8_t> RunningStats::serialize() const {
  std::vector<std::uint8_t> out;
  out.reserve(io::header_size + 50);
  io::Writer w(out);
  w.header(io::TypeId::running_stats, exponent_ == 0 ? 1 : detail::running_stats_format_version);
  w.f64(count_);
  w.f64(shift_);
  if (exponent_ != 0) w.varint(static_cast<std::uint64_t>(exponent_));
  w.f64(mean_);
  w.f64(m2_);
  w.f64(min());
  w.f64(max());
  w.varint(rejected_);
  return out;
}

inline void RunningStats::read_state(io::Reader& r, std::uint8_t version) {
  count_ = r.f64();
  shift_ = r.f64();
  if (version >= 2) {
    const std::uint64_t exponent = r.varint();
    // Version 1 holds the summaries of exponent 0; version 2 the others.
    if (exponent == 0 || exponent > static_cast<std::uint64_t>(max_exponent))
      r.fail("exponent " + std::to_string(exponent) + " is outside 1 … " + std::to_string(max_exponent));
    exponent_ = static_cast<int>(exponent);
  }
  mean_ = r.f64();
  m2_ = r.f64();
  min_ = r.f64();
  max_ = r.f64();
  rejected_ = r.varint();
  r.finish();
}

inline RunningStats RunningStats::deserialize(const void* data, std::size_t size) {
  io::Reader r(data, size, "RunningStats");
  std::uint16_t flags = 0;
  const std::uint8_t version = r.header(io::TypeId::running_stats, detail::running_stats_format_version, flags);
  if (flags != 0) r.fail("unknown flags " + std::to_string(flags));
  RunningStats s;
  s.read_state(r, version);
  const std::string problem = s.invariant_violation();
  if (!problem.empty()) r.fail(problem);
  if (s.count_ == 0) {
    // An empty summary writes NaN for its unset extremes.
    s.min_ = std::numeric_limits<double>::infinity();
    s.max_ = -std::numeric_limits<double>::infinity();
  }
  return s;
}

inline std::string RunningStats::invariant_violation() const {
  if (!(count_ >= 0) || !std::isfinite(count_)) return "count " + detail::to_text(count_) + " is invalid";
  if (exponent_ < 0 || exponent_ > max_exponent) return "exponent " + std::to_string(exponent_) + " is out of range";
  if (count_ == 0)
    return shift_ != 0 || mean_ != 0 || m2_ != 0 || exponent_ != 0 ? "an empty summary has a mean or M2" : "";
  if (!std::isfinite(shift_) || !std::isfinite(mean_) || !(m2_ >= 0) || !std::isfinite(m2_))
    return "mean " + detail::to_text(mean_) + " or M2 " + detail::to_text(m2_) + " is invalid";
  if (!(min_ <= max_) || !std::isfinite(min_) || !std::isfinite(max_))
    return "min " + detail::to_text(min_) + " and max " + detail::to_text(max_) + " are invalid";
  if (!(min_ <= shift_ && shift_ <= max_))
    return "first value " + detail::to_text(shift_) + " lies outside [min, max]";
  // add() and merge() keep M2 within m2_limit and the values within a few spread_limits of
  // the first one, in units of 2^e (merges of merges add one spread_limit a level): so
  // squares of offsets and sums of them stay finite.
  if (!(m2_ <= m2_limit * (1 + 0x1p-40)))
    return "M2 " + detail::to_text(m2_) + " exceeds 2^1000 in units of 2^" + std::to_string(2 * exponent_);
  if (!(std::fabs(scaled_offset(min_)) <= 0x1p500 && std::fabs(scaled_offset(max_)) <= 0x1p500))
    return "min " + detail::to_text(min_) + " or max " + detail::to_text(max_) + " lies beyond 2^500 units of 2^" +
           std::to_string(exponent_) + " from the first value " + detail::to_text(shift_);
  // The mean of values in [min, max], in units of 2^e relative to the first value, with room
  // for the rounding of the updates.
  const double lo = scaled_offset(min_);
  const double hi = scaled_offset(max_);
  const double slack = 0x1p-20 * (hi - lo) + 0x1p-44 * std::fmax(std::fabs(lo), std::fabs(hi)) +
                       4 * std::numeric_limits<double>::denorm_min();
  if (!(lo - slack <= mean_ && mean_ <= hi + slack))
    return "mean of the shifted values " + detail::to_text(mean_) + " lies outside [" + detail::to_text(min_) + ", " +
           detail::to_text(max_) + "]";
  return m2_violation();
}

inline std::string RunningStats::m2_violation() const {
  // Values within [min, max] spread at most (max − min)²/4 around their mean (Popoviciu's
  // inequality), so M2 ≤ count·(max − min)²/4. The bound is checked on square roots, four
  // times looser for rounding (count below 1 rounds the updates coarsely): an M2 beyond it
  // would make the variance infinite or the standard deviation exceed the range.
  const double range = std::ldexp(max_ / 2 - min_ / 2, 1 - exponent_);
  const double bound = 2 * range * std::sqrt(count_) + 0x1p-500;
  if (!(std::sqrt(m2_) <= bound))
    return "M2 " + detail::to_text(m2_) + " exceeds what " + detail::to_text(count_) + " values within [" +
           detail::to_text(min_) + ", " + detail::to_text(max_) + "] allow";
  return "";
}

inline Ewma::Ewma(double half_life) : half_life_(half_life) { detail::check_half_life("Ewma", half_life); }

inline void Ewma::decay_to(double time) {
  const double factor = detail::decay_factor(time - latest_, half_life_);
  weight_ *= factor;
  weight2_ = detail::decay_squared(weight2_, factor);
  m2_ *= factor;
  latest_ = time;
}

inline bool Ewma::accept(double x, double weight, double factor) {
  const double total = weight_ * factor + weight;
  const double total2 = detail::decay_squared(weight2_, factor) + weight * weight;
  const double delta = x - mean_;
  const double mean = mean_ + delta * (weight / total);
  double m2 = m2_ * factor + weight * delta * (x - mean);
  // With the old weight underflowed to zero the new value is the whole average.
  if (!(m2 >= 0)) m2 = 0;
  // A weight whose square, or a spread whose square, leaves the double range would make the
  // state infinite: the value is refused instead.
  if (!(total2 <= std::numeric_limits<double>::max() && m2 <= std::numeric_limits<double>::max() &&
        std::isfinite(mean)))
    return false;
  weight_ = total;
  weight2_ = total2;
  mean_ = mean;
  m2_ = m2;
  return true;
}

inline void Ewma::add(double x, double time, double weight) {
  if (VIGIL_UNLIKELY(!(x - x == 0) || !(time - time == 0) || std::fabs(x) > value_limit)) {
    ++rejected_;
    return;
  }
  detail::check_weight("Ewma", weight);
  if (VIGIL_UNLIKELY(count_ == std::numeric_limits<std::uint64_t>::max()))
    detail::throw_invalid_argument("Ewma::add: a value would overflow the count " + std::to_string(count_));
  double factor = 1;
  if (count_ > 0 && time >= latest_) {
    factor = detail::decay_factor(time - latest_, half_life_);
  } else if (count_ > 0) {
    ++out_of_order_;
    weight *= detail::decay_factor(latest_ - time, half_life_);
    // So much older than the latest time that its weight is 0: it could change nothing.
    if (!(weight > 0)) {
      ++rejected_;
      return;
    }
  }
  if (!accept(x, weight, factor)) {
    ++rejected_;
    return;
  }
  if (time > latest_ || count_ == 0) latest_ = time;
  ++count_;
}

inline void Ewma::combine(const Ewma& b) {
  if (!(b.weight_ > 0)) return;
  if (!(weight_ > 0)) {
    weight_ = b.weight_;
    weight2_ = b.weight2_;
    mean_ = b.mean_;
    m2_ = b.m2_;
    return;
  }
  const double total = weight_ + b.weight_;
  const double delta = b.mean_ - mean_;
  const double share = b.weight_ / total;
  mean_ += delta * share;
  m2_ += b.m2_ + delta * delta * weight_ * share;
  weight_ = total;
  weight2_ += b.weight2_;
}

inline void Ewma::merge(const Ewma& other) {
  if (other.half_life_ != half_life_)
    detail::throw_invalid_argument("Ewma::merge: half-lives differ (" + detail::to_text(half_life_) + " and " +
                                   detail::to_text(other.half_life_) + ")");
  if (count_ > std::numeric_limits<std::uint64_t>::max() - other.count_)
    detail::throw_invalid_argument("Ewma::merge: the value counts " + std::to_string(count_) + " and " +
                                   std::to_string(other.count_) + " overflow");
  if (other.count_ == 0 || count_ == 0) {
    Ewma merged = count_ == 0 ? other : *this;
    merged.rejected_ = rejected_ + other.rejected_;
    merged.out_of_order_ = out_of_order_ + other.out_of_order_;
    *this = merged;
    return;
  }
  Ewma a = *this;
  Ewma b = other;
  if (b.latest_ > a.latest_) a.decay_to(b.latest_);
  if (a.latest_ > b.latest_) b.decay_to(a.latest_);
  a.combine(b);
  if (!(a.weight2_ <= std::numeric_limits<double>::max() && a.m2_ <= std::numeric_limits<double>::max() &&
        std::isfinite(a.mean_)))
    detail::throw_invalid_argument("Ewma::merge: the combined weight or spread exceeds the double range");
  a.count_ += b.count_;
  a.rejected_ += b.rejected_;
  a.out_of_order_ += b.out_of_order_;
  *this = a;
}

inline double Ewma::effective_count() const {
  if (!(weight2_ > 0)) return 0;
  // W² itself can leave the double range while W²/Σw² (at most count(), Cauchy–Schwarz)
  // does not: divide first, by the factor that keeps the quotient in range.
  const double n = weight_ >= 1 ? (weight_ / weight2_) * weight_ : weight_ / (weight2_ / weight_);
  const double most = static_cast<double>(count_);
  return n < most ? n : most;
}

inline double Ewma::variance() const {
  if (!(weight_ > 0)) return nan();
  const double denominator = weight_ - weight2_ / weight_;
  // Effective count W²/Σw² ≤ 1 (up to rounding): no spread can be estimated.
  if (!(denominator > 1e-12 * weight_)) return nan();
  return m2_ / denominator;
}

inline bool operator==(const Ewma& a, const Ewma& b) {
  return a.half_life_ == b.half_life_ && a.weight_ == b.weight_ && a.weight2_ == b.weight2_ && a.mean_ == b.mean_ &&
         a.m2_ == b.m2_ && a.latest_ == b.latest_ && a.count_ == b.count_ && a.out_of_order_ == b.out_of_order_ &&
         a.rejected_ == b.rejected_;
}

inline std::vector<std::uint8_t> Ewma::serialize() const {
  std::vector<std::uint8_t> out;
  io::Writer w(out);
  w.header(io::TypeId::ewma, detail::rolling_format_version);
  w.f64(half_life_);
  w.f64(weight_);
  w.f64(weight2_);
  w.f64(mean_);
  w.f64(m2_);
  w.f64(latest_);
  w.varint(count_);
  w.varint(out_of_order_);
  w.varint(rejected_);
  return out;
}

inline Ewma Ewma::deserialize(const void* data, std::size_t size) {
  io::Reader r(data, size, "Ewma");
  std::uint16_t flags = 0;
  r.header(io::TypeId::ewma, detail::rolling_format_version, flags);
  if (flags != 0) r.fail("unknown flags " + std::to_string(flags));
  const double half_life = r.f64();
  if (!detail::valid_half_life(half_life)) r.fail(detail::half_life_problem(half_life));
  Ewma e(half_life);
  e.weight_ = r.f64();
  e.weight2_ = r.f64();
  e.mean_ = r.f64();
  e.m2_ = r.f64();
  e.latest_ = r.f64();
  e.count_ = r.varint();
  e.out_of_order_ = r.varint();
  e.rejected_ = r.varint();
  r.finish();
  const std::string problem = e.invariant_violation();
  if (!problem.empty()) r.fail(problem);
  return e;
}

inline std::string Ewma::invariant_violation() const {
  if (!detail::valid_half_life(half_life_)) return detail::half_life_problem(half_life_);
  for (double v : {weight_, weight2_, m2_})
    if (!(v >= 0) || !std::isfinite(v)) return "weight or M2 " + detail::to_text(v) + " is invalid";
  if (!std::isfinite(mean_) || !std::isfinite(latest_)) return "mean or time is not finite";
  if (count_ == 0)
    return weight_ != 0 || weight2_ != 0 || mean_ != 0 || m2_ != 0 || latest_ != 0 ? "an empty average has state" : "";
  if (!(weight_ > 0)) return "an average of " + std::to_string(count_) + " values has no weight";
  // Σw² ≤ (Σw)², so that the effective count is at least 1 and the variance's denominator
  // W − Σw²/W is not negative.
  const double square = weight_ * weight_;
  if (weight2_ > square * (1 + 0x1p-30))
    return "sum of squared weights " + detail::to_text(weight2_) + " exceeds the squared weight " + detail::to_text(square);
  return spread_violation();
}

inline std::string Ewma::spread_violation() const {
  const double events = static_cast<double>(count_);
  // Kish's effective count W²/Σw² is at most the number of values (Cauchy–Schwarz). Below
  // W = 2^−400 the squares underflow and the bound says nothing. Above it Σw² cannot be 0
  // (a stored −0 would make the quotient −inf and pass the bound).
  if (weight_ >= 0x1p-400 && !(weight2_ > 0 && (weight_ / weight2_) * weight_ <= events * (1 + 0x1p-30)))
    return "weight " + detail::to_text(weight_) + " and sum of squared weights " + detail::to_text(weight2_) +
           " give an effective count above the " + std::to_string(count_) + " values";
  // Values lie within ±value_limit: so does their mean, and their variance M2/W is at most
  // value_limit² (Popoviciu's inequality); the bounds leave room for rounding.
  if (!(std::fabs(mean_) <= value_limit * (1 + 0x1p-20)))
    return "mean " + detail::to_text(mean_) + " lies beyond the value limit";
  if (!(m2_ <= 0x1p900 * weight_))
    return "M2 " + detail::to_text(m2_) + " exceeds what values of weight " + detail::to_text(weight_) + " allow";
  return "";
}

inline EventRate::EventRate(double half_life) : half_life_(half_life) {
  detail::check_half_life("EventRate", half_life);
}

inline void EventRate::start(double time) {
  if (started_ || !std::isfinite(time)) return;
  started_ = true;
  origin_ = latest_ = time;
}

inline void EventRate::add(double time, std::uint64_t n) {
  if (VIGIL_UNLIKELY(!(time - time == 0))) {
    rejected_ += n;
    return;
  }
  if (n == 0) return;
  if (VIGIL_UNLIKELY(n > std::numeric_limits<std::uint64_t>::max() - count_))
    detail::throw_invalid_argument("EventRate::add: " + std::to_string(n) + " events would overflow the count " +
                                   std::to_string(count_));
  const double events = static_cast<double>(n);
  if (!started_) {
    // The first event marks t₀; it is not an arrival within the observed period.
    started_ = true;
    origin_ = latest_ = time;
    decayed_ += events - 1;
  } else if (time >= latest_) {
    decayed_ = decayed_ * detail::decay_factor(time - latest_, half_life_) + events;
    latest_ = time;
  } else {
    out_of_order_ += n;
    const double weight = events * detail::decay_factor(latest_ - (time < origin_ ? origin_ : time), half_life_);
    // So much older than the latest time that they weigh nothing: refused, not lost silently.
    if (!(weight > 0)) {
      rejected_ += n;
      return;
    }
    decayed_ += weight;
  }
  count_ += n;
}

inline void EventRate::merge(const EventRate& other) {
  if (other.half_life_ != half_life_)
    detail::throw_invalid_argument("EventRate::merge: half-lives differ (" + detail::to_text(half_life_) + " and " +
                                   detail::to_text(other.half_life_) + ")");
  if (count_ > std::numeric_limits<std::uint64_t>::max() - other.count_)
    detail::throw_invalid_argument("EventRate::merge: the event counts " + std::to_string(count_) + " and " +
                                   std::to_string(other.count_) + " overflow");
  rejected_ += other.rejected_;
  out_of_order_ += other.out_of_order_;
  count_ += other.count_;
  if (!other.started_) return;
  if (!started_) {
    started_ = true;
    origin_ = other.origin_;
    latest_ = other.latest_;
    decayed_ = other.decayed_;
    return;
  }
  const double latest = latest_ > other.latest_ ? latest_ : other.latest_;
  decayed_ = decayed_ * detail::decay_factor(latest - latest_, half_life_) +
             other.decayed_ * detail::decay_factor(latest - other.latest_, half_life_);
  latest_ = latest;
  if (other.origin_ < origin_) origin_ = other.origin_;
}

inline double EventRate::rate(double time) const {
  if (!started_ || !(time == time)) return nan();
  if (time < latest_) time = latest_;
  const double exposure = half_life_ / std::log(2.0) * -std::expm1(-(time - origin_) / half_life_ * std::log(2.0));
  // The decayed count is at most count() < 2^64, so from this exposure on the rate is finite.
  if (!(exposure >= min_exposure)) return nan();
  return decayed_ * detail::decay_factor(time - latest_, half_life_) / exposure;
}

inline bool operator==(const EventRate& a, const EventRate& b) {
  return a.half_life_ == b.half_life_ && a.decayed_ == b.decayed_ && a.started_ == b.started_ &&
         (!a.started_ || (a.origin_ == b.origin_ && a.latest_ == b.latest_)) && a.count_ == b.count_ &&
         a.out_of_order_ == b.out_of_order_ && a.rejected_ == b.rejected_;
}

inline std::vector<std::uint8_t> EventRate::serialize() const {
  std::vector<std::uint8_t> out;
  io::Writer w(out);
  w.header(io::TypeId::event_rate, detail::rolling_format_version, started_ ? 1 : 0);
  w.f64(half_life_);
  w.f64(decayed_);
  w.f64(started_ ? origin_ : 0);
  w.f64(started_ ? latest_ : 0);
  w.varint(count_);
  w.varint(out_of_order_);
  w.varint(rejected_);
  return out;
}

inline EventRate EventRate::deserialize(const void* data, std::size_t size) {
  io::Reader r(data, size, "EventRate");
  std::uint16_t flags = 0;
  r.header(io::TypeId::event_rate, detail::rolling_format_version, flags);
  if (flags > 1) r.fail("unknown flags " + std::to_string(flags));
  const double half_life = r.f64();
  if (!detail::valid_half_life(half_life)) r.fail(detail::half_life_problem(half_life));
  EventRate e(half_life);
  e.started_ = flags == 1;
  e.decayed_ = r.f64();
  e.origin_ = r.f64();
  e.latest_ = r.f64();
  e.count_ = r.varint();
  e.out_of_order_ = r.varint();
  e.rejected_ = r.varint();
  r.finish();
  const std::string problem = e.invariant_violation();
  if (!problem.empty()) r.fail(problem);
  return e;
}

inline std::string EventRate::invariant_violation() const {
  if (!detail::valid_half_life(half_life_)) return detail::half_life_problem(half_life_);
  if (!(decayed_ >= 0) || !std::isfinite(decayed_)) return "decayed count " + detail::to_text(decayed_) + " is invalid";
  // Every event adds at most 1 to the decayed count, which keeps rate() finite.
  const double events = static_cast<double>(count_);
  if (decayed_ > events * (1 + 0x1p-30))
    return "decayed count " + detail::to_text(decayed_) + " exceeds the " + std::to_string(count_) + " events";
  if (!std::isfinite(origin_) || !std::isfinite(latest_) || latest_ < origin_)
    return "start " + detail::to_text(origin_) + " and latest time " + detail::to_text(latest_) + " are invalid";
  if (!started_ && (decayed_ != 0 || count_ != 0 || origin_ != 0 || latest_ != 0)) return "an unstarted estimator has events";
  return "";
}

}  // namespace vigil

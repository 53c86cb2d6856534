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
/// Weights are frequency weights: add(x, 3) is the same as adding x three times.
///
/// **Memory**: 56 bytes, whatever the stream. **Threads**: const members may run
/// concurrently; add, merge and clear need exclusive access.
///
/// **Bad input**: NaN and ±inf values are refused and counted in rejected(); a weight that
/// is not finite and positive throws vigil::invalid_argument.
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
  /// rejected() and ignored; a weight that is NaN, infinite or ≤ 0 throws
  /// vigil::invalid_argument before any state changes.
  void add(double x, double weight = 1) {
    if (VIGIL_UNLIKELY(!(x - x == 0))) {
      ++rejected_;
      return;
    }
    if (VIGIL_UNLIKELY(!(weight > 0 && weight <= std::numeric_limits<double>::max()))) bad_weight(weight);
    if (VIGIL_UNLIKELY(count_ == 0)) shift_ = x;
    // Values are taken relative to the first one, so that the running mean is of the order
    // of the spread and keeps its low bits (Chan, Golub & LeVeque's "shifted data").
    const double y = x - shift_;
    count_ += weight;
    const double delta = y - mean_;
    mean_ += delta * (weight / count_);
    m2_ += weight * delta * (y - mean_);
    if (x < min_) min_ = x;
    if (x > max_) max_ = x;
  }

  /// Adds everything `other` summarises (Chan, Golub & LeVeque 1979). O(1). The result
  /// equals one pass over both streams up to rounding; min, max, count and rejected() exactly.
  void merge(const RunningStats& other);

  /// Total weight accepted (the number of values when every weight is 1).
  double count() const { return count_; }
  bool empty() const { return count_ == 0; }
  /// Sum of the accepted values, as mean() × count(). 0 when empty.
  double sum() const { return count_ > 0 ? mean() * count_ : 0; }
  /// Arithmetic mean. NaN when empty.
  double mean() const { return count_ > 0 ? shift_ + mean_ : nan(); }
  /// Sample variance Σw(x − mean)² / (count − 1), unbiased for frequency weights.
  /// NaN when count() ≤ 1.
  double variance() const { return count_ > 1 ? m2_ / (count_ - 1) : nan(); }
  /// Population variance Σw(x − mean)² / count. NaN when empty, 0 for a single value.
  double population_variance() const { return count_ > 0 ? m2_ / count_ : nan(); }
  /// Square root of variance() (sample). NaN when count() ≤ 1.
  double stddev() const { return std::sqrt(variance()); }
  /// Square root of population_variance().
  double population_stddev() const { return std::sqrt(population_variance()); }
  /// Smallest accepted value. NaN when empty.
  double min() const { return count_ > 0 ? min_ : nan(); }
  /// Largest accepted value. NaN when empty.
  double max() const { return count_ > 0 ? max_ : nan(); }
  /// Number of NaN and infinite values refused.
  std::uint64_t rejected() const { return rejected_; }

  /// Forgets every value and the rejected() count.
  void clear() { *this = RunningStats(); }

  /// Same state, bit for bit (two summaries of the same values added in another order can
  /// differ in the last bits of mean and variance).
  friend bool operator==(const RunningStats& a, const RunningStats& b) {
    return a.count_ == b.count_ && a.shift_ == b.shift_ && a.mean_ == b.mean_ && a.m2_ == b.m2_ &&
           a.rejected_ == b.rejected_ &&
           (a.count_ == 0 || (a.min_ == b.min_ && a.max_ == b.max_));
  }
  friend bool operator!=(const RunningStats& a, const RunningStats& b) { return !(a == b); }

  /// Binary form, format version 1 (docs/formats.md): header, then count, shift, mean of
  /// the shifted values, M2, min, max as f64 and rejected as varint (57 bytes for an empty
  /// summary).
  std::vector<std::uint8_t> serialize() const;
  /// Reads serialize()'s output. Throws vigil::format_error on truncated, corrupt or
  /// inconsistent bytes.
  static RunningStats deserialize(const void* data, std::size_t size);
  static RunningStats deserialize(const std::vector<std::uint8_t>& bytes) {
    return deserialize(bytes.data(), bytes.size());
  }

 private:
  static double nan() { return std::numeric_limits<double>::quiet_NaN(); }
  [[noreturn]] VIGIL_NOINLINE static void bad_weight(double weight) {
    detail::throw_invalid_argument("RunningStats: weight " + detail::to_text(weight) +
                                   " is not finite and positive");
  }

  double count_ = 0;
  double shift_ = 0;  // the first value; mean_ is the mean of x − shift_
  double mean_ = 0;
  double m2_ = 0;  // Σ w·(x − mean)²
  double min_ = std::numeric_limits<double>::infinity();
  double max_ = -std::numeric_limits<double>::infinity();
  std::uint64_t rejected_ = 0;
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
/// are counted in out_of_order() so a caller can see clock trouble.
///
/// **Memory**: 72 bytes. **Threads**: const members may run concurrently.
///
/// **Bad input**: NaN/inf values or times are refused and counted in rejected(); a weight
/// that is not finite and positive throws vigil::invalid_argument; so does a half-life that
/// is not finite and positive (in the constructor).
///
/// ```cpp
/// vigil::Ewma score(300);              // half-life 5 minutes
/// score.add(0.73, request_unix_seconds);
/// double recent_mean = score.mean();
/// ```
class Ewma {
 public:
  /// An empty average whose weights halve every `half_life` seconds of event time.
  explicit Ewma(double half_life);

  /// Adds `x` observed at event time `time` (seconds) with weight `weight`. O(1).
  /// NaN/inf in `x` or `time` are counted in rejected(); a time earlier than the latest
  /// seen is applied with its decayed weight and counted in out_of_order(). A weight that is
  /// not finite and positive throws vigil::invalid_argument.
  void add(double x, double time, double weight = 1);

  /// Combines two averages with the same half-life (for example, of two shards of one
  /// stream): the result is the weighted average over both streams' values, decayed to the
  /// later of the two latest times. Throws vigil::invalid_argument when half-lives differ.
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
  /// worth. 0 when empty.
  double effective_count() const { return weight2_ > 0 ? weight_ * weight_ / weight2_ : 0; }
  /// Latest event time seen. NaN when empty.
  double latest_time() const { return count_ > 0 ? latest_ : nan(); }
  double half_life() const { return half_life_; }
  /// Number of values accepted (undecayed).
  std::uint64_t count() const { return count_; }
  bool empty() const { return count_ == 0; }
  /// Values whose time was earlier than the latest time already seen.
  std::uint64_t out_of_order() const { return out_of_order_; }
  /// Values refused because the value or the time was NaN or infinite.
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

 private:
  static double nan() { return std::numeric_limits<double>::quiet_NaN(); }
  void decay_to(double time);
  void accept(double x, double weight);

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
/// out_of_order(); events before t₀ are counted in out_of_order() and placed at t₀.
/// A half-life that is not finite and positive throws vigil::invalid_argument.
///
/// ```cpp
/// vigil::EventRate requests(60);                 // half-life one minute
/// requests.add(now_unix_seconds);                // per request
/// double per_second = requests.rate(now_unix_seconds);
/// ```
class EventRate {
 public:
  /// An empty estimator whose memory halves every `half_life` seconds of event time.
  explicit EventRate(double half_life);

  /// Starts observation at `time` if it has not started yet (e.g. at server start, so the
  /// first event counts too). Ignored once started or when `time` is not finite.
  void start(double time);

  /// Records `n` events at event time `time` (seconds). O(1).
  void add(double time, std::uint64_t n = 1);

  /// Combines estimators of disjoint events over the same period (shards of one stream):
  /// the rate of the union is the sum of the rates, t₀ the earlier start. An event that
  /// marked a shard's t₀ stays uncounted in C, a bias of one event per shard. Throws vigil::invalid_argument when
  /// half-lives differ.
  void merge(const EventRate& other);

  /// Estimated events per second at time `time` (≥ the latest event: querying earlier uses
  /// the latest event time). NaN before any exposure (empty, or `time` equal to t₀).
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
  std::uint64_t out_of_order() const { return out_of_order_; }
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

inline void check_half_life(const char* type, double half_life) {
  if (!(half_life > 0 && half_life <= std::numeric_limits<double>::max()))
    throw_invalid_argument(std::string(type) + ": half-life " + to_text(half_life) + " is not finite and positive");
}

inline void check_weight(const char* type, double weight) {
  if (VIGIL_UNLIKELY(!(weight > 0 && weight <= std::numeric_limits<double>::max())))
    throw_invalid_argument(std::string(type) + ": weight " + to_text(weight) + " is not finite and positive");
}

// 2^(−Δt/h) for Δt ≥ 0.
inline double decay_factor(double elapsed, double half_life) { return std::exp2(-elapsed / half_life); }
}  // namespace detail

inline void RunningStats::merge(const RunningStats& other) {
  rejected_ += other.rejected_;
  if (other.count_ == 0) return;
  if (count_ == 0) {
    const std::uint64_t rejected = rejected_;
    *this = other;
    rejected_ = rejected;
    return;
  }
  const double total = count_ + other.count_;
  const double delta = (other.shift_ - shift_) + (other.mean_ - mean_);
  const double share = other.count_ / total;
  mean_ += delta * share;
  m2_ += other.m2_ + delta * delta * count_ * share;
  count_ = total;
  if (other.min_ < min_) min_ = other.min_;
  if (other.max_ > max_) max_ = other.max_;
}

inline std::vector<std::uint8_t> RunningStats::serialize() const {
  std::vector<std::uint8_t> out;
  out.reserve(io::header_size + 48);
  io::Writer w(out);
  w.header(io::TypeId::running_stats, detail::rolling_format_version);
  w.f64(count_);
  w.f64(shift_);
  w.f64(mean_);
  w.f64(m2_);
  w.f64(min());
  w.f64(max());
  w.varint(rejected_);
  return out;
}

inline RunningStats RunningStats::deserialize(const void* data, std::size_t size) {
  io::Reader r(data, size, "RunningStats");
  std::uint16_t flags = 0;
  r.header(io::TypeId::running_stats, detail::rolling_format_version, flags);
  if (flags != 0) r.fail("unknown flags " + std::to_string(flags));
  RunningStats s;
  s.count_ = r.f64();
  s.shift_ = r.f64();
  s.mean_ = r.f64();
  s.m2_ = r.f64();
  const double lo = r.f64();
  const double hi = r.f64();
  s.rejected_ = r.varint();
  r.finish();
  if (!(s.count_ >= 0) || !std::isfinite(s.count_)) r.fail("count " + detail::to_text(s.count_) + " is invalid");
  if (!std::isfinite(s.shift_) || !std::isfinite(s.mean_) || !(s.m2_ >= 0) || !std::isfinite(s.m2_))
    r.fail("mean " + detail::to_text(s.mean_) + " or M2 " + detail::to_text(s.m2_) + " is invalid");
  if (s.count_ > 0) {
    if (!(lo <= hi) || !std::isfinite(lo) || !std::isfinite(hi))
      r.fail("min " + detail::to_text(lo) + " and max " + detail::to_text(hi) + " are invalid");
    s.min_ = lo;
    s.max_ = hi;
  } else if (s.shift_ != 0 || s.mean_ != 0 || s.m2_ != 0) {
    r.fail("an empty summary has a mean or M2");
  }
  return s;
}

inline Ewma::Ewma(double half_life) : half_life_(half_life) { detail::check_half_life("Ewma", half_life); }

inline void Ewma::decay_to(double time) {
  const double factor = detail::decay_factor(time - latest_, half_life_);
  weight_ *= factor;
  weight2_ *= factor * factor;
  m2_ *= factor;
  latest_ = time;
}

inline void Ewma::accept(double x, double weight) {
  // A weight that underflowed to zero (a value far older than the latest) changes nothing.
  if (!(weight > 0)) return;
  weight_ += weight;
  weight2_ += weight * weight;
  const double delta = x - mean_;
  mean_ += delta * (weight / weight_);
  m2_ += weight * delta * (x - mean_);
  // With the old weight underflowed to zero the new value is the whole average.
  if (!(m2_ >= 0)) m2_ = 0;
}

inline void Ewma::add(double x, double time, double weight) {
  if (VIGIL_UNLIKELY(!(x - x == 0) || !(time - time == 0))) {
    ++rejected_;
    return;
  }
  detail::check_weight("Ewma", weight);
  if (count_ == 0) {
    latest_ = time;
  } else if (time >= latest_) {
    decay_to(time);
  } else {
    ++out_of_order_;
    weight *= detail::decay_factor(latest_ - time, half_life_);
  }
  ++count_;
  accept(x, weight);
}

inline void Ewma::merge(const Ewma& other) {
  if (other.half_life_ != half_life_)
    detail::throw_invalid_argument("Ewma::merge: half-lives differ (" + detail::to_text(half_life_) + " and " +
                                   detail::to_text(other.half_life_) + ")");
  rejected_ += other.rejected_;
  out_of_order_ += other.out_of_order_;
  if (other.count_ == 0) return;
  if (count_ == 0) {
    const std::uint64_t rejected = rejected_, late = out_of_order_;
    *this = other;
    rejected_ = rejected;
    out_of_order_ = late;
    return;
  }
  Ewma b = other;
  if (b.latest_ > latest_) decay_to(b.latest_);
  if (latest_ > b.latest_) b.decay_to(latest_);
  count_ += b.count_;
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
  if (!(half_life > 0) || !std::isfinite(half_life)) r.fail("half-life " + detail::to_text(half_life) + " is invalid");
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
  for (double v : {e.weight_, e.weight2_, e.m2_})
    if (!(v >= 0) || !std::isfinite(v)) r.fail("weight or M2 " + detail::to_text(v) + " is invalid");
  if (!std::isfinite(e.mean_) || !std::isfinite(e.latest_)) r.fail("mean or time is not finite");
  if (e.count_ == 0 && (e.weight_ != 0 || e.mean_ != 0 || e.m2_ != 0)) r.fail("an empty average has state");
  return e;
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
  count_ += n;
  const double events = static_cast<double>(n);
  if (!started_) {
    // The first event marks t₀; it is not an arrival within the observed period.
    started_ = true;
    origin_ = latest_ = time;
    decayed_ += events - 1;
    return;
  }
  if (time >= latest_) {
    decayed_ = decayed_ * detail::decay_factor(time - latest_, half_life_) + events;
    latest_ = time;
    return;
  }
  out_of_order_ += n;
  if (time < origin_) time = origin_;
  decayed_ += events * detail::decay_factor(latest_ - time, half_life_);
}

inline void EventRate::merge(const EventRate& other) {
  if (other.half_life_ != half_life_)
    detail::throw_invalid_argument("EventRate::merge: half-lives differ (" + detail::to_text(half_life_) + " and " +
                                   detail::to_text(other.half_life_) + ")");
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
  if (!(exposure > 0)) return nan();
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
  if (!(half_life > 0) || !std::isfinite(half_life)) r.fail("half-life " + detail::to_text(half_life) + " is invalid");
  EventRate e(half_life);
  e.started_ = flags == 1;
  e.decayed_ = r.f64();
  e.origin_ = r.f64();
  e.latest_ = r.f64();
  e.count_ = r.varint();
  e.out_of_order_ = r.varint();
  e.rejected_ = r.varint();
  r.finish();
  if (!(e.decayed_ >= 0) || !std::isfinite(e.decayed_)) r.fail("decayed count " + detail::to_text(e.decayed_) + " is invalid");
  if (!std::isfinite(e.origin_) || !std::isfinite(e.latest_) || e.latest_ < e.origin_)
    r.fail("start and latest times are invalid");
  if (!e.started_ && (e.decayed_ != 0 || e.count_ != 0)) r.fail("an unstarted estimator has events");
  return e;
}

}  // namespace vigil

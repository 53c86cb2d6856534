// vigil — in-process monitoring of machine-learning models in C++ inference servers.
// SPDX-License-Identifier: Apache-2.0
#pragma once

/// \file
/// Sequential change detectors: fed one number at a time (a model score, a 0/1 error
/// indicator, a per-feature loss contribution), each says as soon as it can whether the
/// stream's mean has moved, and in which direction.
///
/// | detector      | watches                         | state                  | reference              |
/// |---------------|---------------------------------|------------------------|------------------------|
/// | `Cusum`       | mean against a known/warm-up μ0 | O(1)                   | Page 1954              |
/// | `PageHinkley` | mean against the running mean   | O(1)                   | Page 1954, Hinkley 1971|
/// | `Adwin`       | mean of an adaptive window      | O(M·log W) buckets     | Bifet & Gavaldà 2007   |
///
/// All three share one vocabulary:
///
/// | expression        | meaning                                                          |
/// |-------------------|------------------------------------------------------------------|
/// | `d.update(x)`     | feeds x; returns a `Detection` (true when a change is signalled) |
/// | `d.reset()`       | back to the state right after construction, options kept         |
/// | `d.count()`       | finite values accepted since construction or reset()             |
/// | `d.detections()`  | changes signalled since construction or reset()                  |
/// | `d.rejected()`    | NaN and ±inf values refused (not counted, state unchanged)       |
/// | `d.options()`     | the validated options                                            |
///
/// Options are validated by the constructor, which throws vigil::invalid_argument naming
/// the offending value. update() never throws and never allocates in steady state (Adwin
/// allocates only when its window first reaches a new power of two).
///
/// Detectors are not mergeable: their state depends on the order of the stream. Keep one
/// per stream (per feature, per model output) and feed it from one thread at a time.

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "vigil/error.hpp"
#include "vigil/io/binary.hpp"

namespace vigil {
namespace detail {

// Enum values are checked because an options struct may be filled from configuration.
inline bool change_detector_watch_valid(unsigned w) {
  return w >= 1 && w <= 3;  // Watch::increase, decrease, both
}

[[noreturn]] VIGIL_NOINLINE inline void change_detector_bad_option(const char* detector,
                                                                   const char* name, double value,
                                                                   const char* requirement) {
  throw_invalid_argument(std::string("vigil::stats::") + detector + ": " + name + " = " +
                         to_text(value) + " " + requirement);
}

}  // namespace detail

namespace stats {

/// The direction of a signalled change in the mean.
enum class ChangeDirection : std::int8_t {
  none = 0,
  increase = 1,
  decrease = -1,
};

/// Which directions of change a detector signals.
enum class Watch : std::uint8_t {
  increase = 1,
  decrease = 2,
  both = 3,
};

/// What update() found: whether a change was signalled at this value, and which way.
/// Converts to `bool`, so `if (detector.update(x)) ...` reads naturally.
struct Detection {
  bool change = false;
  ChangeDirection direction = ChangeDirection::none;

  constexpr explicit operator bool() const { return change; }
  friend constexpr bool operator==(Detection a, Detection b) {
    return a.change == b.change && a.direction == b.direction;
  }
  friend constexpr bool operator!=(Detection a, Detection b) { return !(a == b); }
};

// ---------------------------------------------------------------------------------------
// CUSUM
// ---------------------------------------------------------------------------------------

/// Options of `Cusum`. Slack and threshold are in units of σ, so the defaults suit any
/// stream once μ0 and σ are right.
struct CusumOptions {
  /// In-control mean μ0. NaN (the default): estimated from the first `warmup` values.
  double target_mean = std::numeric_limits<double>::quiet_NaN();
  /// In-control standard deviation σ > 0. NaN (the default): estimated from the first
  /// `warmup` values (sample standard deviation, or the root mean square deviation from
  /// `target_mean` when that is given).
  double sigma = std::numeric_limits<double>::quiet_NaN();
  /// Values spent estimating μ0 and/or σ before monitoring starts; ignored when both are
  /// given. At least 1 when only μ0 is estimated, 2 when σ is. Default 100.
  std::uint64_t warmup = 100;
  /// Lower bound on an estimated σ (≥ 0). While the warm-up's estimate is 0 (all values
  /// equal) and this is 0, the warm-up continues. Default 0.
  double min_sigma = 0;
  /// Slack k (allowance) in units of σ, ≥ 0: about half the shift to detect fastest.
  /// Default 0.5.
  double slack = 0.5;
  /// Decision threshold h in units of σ, > 0. Default 5.
  double threshold = 5;
  /// Directions to signal. Default both.
  Watch watch = Watch::both;
};

/// Two-sided tabular CUSUM on standardised values (Page, "Continuous inspection schemes",
/// Biometrika 41, 1954; the tabular form of Montgomery, "Introduction to Statistical
/// Quality Control", §9.1).
///
/// Each value is standardised, z = (x − μ0)/σ, and two one-sided sums are updated:
/// S⁺ = max(0, S⁺ + z − k) and S⁻ = max(0, S⁻ − z − k). A change is signalled when S⁺ > h
/// (increase) or S⁻ > h (decrease); both sums then restart from 0, μ0 and σ are kept.
///
/// **Run lengths** for N(μ0, σ²) input with the defaults k = 0.5, h = 5 (average run
/// lengths from the integral equation, as in Montgomery's Table 9.3): a false alarm every
/// ≈ 465 values two-sided (≈ 931 per side), a 1σ shift detected after ≈ 10.4 values on
/// average. h = 8 gives ≈ 9 480 between false alarms two-sided and ≈ 16.4 for a 1σ shift.
/// tests/stats/change_detectors_test.cpp measures both (docs/statistics.md).
///
/// **Warm-up**: whichever of μ0 and σ is not given is estimated from the first `warmup`
/// values, which are not monitored.
///
/// **Bad input**: NaN and ±inf are counted in rejected() and change nothing. Options out
/// of range throw vigil::invalid_argument.
///
/// **Cost**: O(1) time and memory per value; warm-up included.
///
/// ```cpp
/// vigil::stats::Cusum score_shift({/*target_mean=*/0.31, /*sigma=*/0.12});
/// if (auto d = score_shift.update(score)) alert(d.direction);
/// ```
class Cusum {
 public:
  /// Throws vigil::invalid_argument for: σ given but not finite and > 0, μ0 given but
  /// infinite, slack not finite and ≥ 0, threshold not finite and > 0, min_sigma not finite
  /// and ≥ 0, a warm-up too short for what it must estimate, or an unknown `watch`.
  explicit Cusum(const CusumOptions& options = CusumOptions());

  /// Feeds x. During the warm-up, always no change.
  Detection update(double x) {
    if (VIGIL_UNLIKELY(!(x - x == 0))) {
      ++rejected_;
      return {};
    }
    ++count_;
    if (VIGIL_UNLIKELY(warming_up_)) {
      warm_up(x);
      return {};
    }
    const double z = (x - mean_) / sigma_;
    upper_ = std::fmax(0.0, upper_ + z - options_.slack);
    lower_ = std::fmax(0.0, lower_ - z - options_.slack);
    Detection found;
    if (upper_ > options_.threshold && watches(Watch::increase)) {
      found = {true, ChangeDirection::increase};
    } else if (lower_ > options_.threshold && watches(Watch::decrease)) {
      found = {true, ChangeDirection::decrease};
    }
    if (found.change) {
      ++detections_;
      upper_ = 0;
      lower_ = 0;
    }
    return found;
  }

  /// Back to the state right after construction: counters zero, estimates discarded.
  void reset();

  /// S⁺, in units of σ (0 during the warm-up).
  double increase_statistic() const { return upper_; }
  /// S⁻, in units of σ (0 during the warm-up).
  double decrease_statistic() const { return lower_; }
  /// μ0 in use: given, or estimated once the warm-up ends; NaN before.
  double target_mean() const { return warming_up_ ? options_.target_mean : mean_; }
  /// σ in use: given, or estimated once the warm-up ends; NaN before.
  double sigma() const { return warming_up_ ? options_.sigma : sigma_; }
  /// Whether values still go to estimating μ0 or σ rather than to monitoring.
  bool warming_up() const { return warming_up_; }

  std::uint64_t count() const { return count_; }
  std::uint64_t detections() const { return detections_; }
  std::uint64_t rejected() const { return rejected_; }
  const CusumOptions& options() const { return options_; }

  /// Writes what the detector learnt since construction, never its options: whether it is
  /// warming up, μ0 and σ in use, S⁺ and S⁻, the warm-up accumulators and the counters. A
  /// part of a larger object's state (a Monitor snapshot): no header of its own.
  void save(io::Writer& w) const;
  /// Reads save()'s output into a detector constructed with the same options, which then
  /// continues exactly as the saved one would. Throws vigil::format_error (through `r`) for
  /// a state these options cannot reach: a warm-up where μ0 and σ are given, μ0 or σ other
  /// than the given ones, sums that are negative, not finite or beyond a threshold they would
  /// have signalled at, counters that do not add up. On a throw the detector is left as it was.
  void load(io::Reader& r);

 private:
  bool watches(Watch w) const {
    return (static_cast<unsigned>(options_.watch) & static_cast<unsigned>(w)) != 0;
  }
  void warm_up(double x);
  // What is wrong with this state under options_, or empty (load()'s check).
  std::string state_violation() const;

  CusumOptions options_;
  bool warming_up_ = true;
  double mean_ = 0;
  double sigma_ = 1;
  double upper_ = 0;
  double lower_ = 0;
  // Warm-up accumulators (Welford): values seen, their mean and sum of squared deviations.
  std::uint64_t warm_count_ = 0;
  double warm_mean_ = 0;
  double warm_m2_ = 0;
  std::uint64_t count_ = 0;
  std::uint64_t detections_ = 0;
  std::uint64_t rejected_ = 0;
};

// ---------------------------------------------------------------------------------------
// Page-Hinkley
// ---------------------------------------------------------------------------------------

/// Options of `PageHinkley`. δ and λ are in the units of the values: scale them with the
/// stream (the defaults suit error rates and losses of order 1).
struct PageHinkleyOptions {
  /// Magnitude δ ≥ 0 of changes tolerated per value. Default 0.005.
  double delta = 0.005;
  /// Alarm threshold λ > 0. Default 50.
  double threshold = 50;
  /// Fading factor α in (0, 1] applied to the cumulative sum before each value; 1 is the
  /// classic test, α < 1 forgets old deviations (Gama et al. 2013 use 0.9999). Default 1.
  double alpha = 1;
  /// No change is signalled before this many values since construction, reset() or the
  /// last detection, while the running mean settles. Default 30.
  std::uint64_t min_count = 30;
  /// Directions to signal. Default both.
  Watch watch = Watch::both;
};

/// The Page-Hinkley test for a change in the mean (Page 1954; Hinkley, "Inference about
/// the change-point from cumulative sum tests", Biometrika 58, 1971), in the form of Gama,
/// Sebastião & Rodrigues, "On evaluating stream learning algorithms", Machine Learning 90,
/// 2013.
///
/// With x̄_T the running mean of the values since the last restart (x_T included), the
/// test for an increase accumulates m_T = Σ (x_t − x̄_t − δ) and signals when
/// m_T − min_t m_t > λ; the test for a decrease mirrors it with x̄_t − x_t − δ. Both
/// differences are kept directly through the equivalent recursion
/// g_T = max(0, α·g_{T−1} + x_T − x̄_T − δ), which stays bounded where m_T would drift.
/// After a detection the running mean and both statistics restart.
///
/// **Rates** (measured, tests/stats/change_detectors_test.cpp): on N(0, 1) with δ = 0.5,
/// λ = 8 it behaves like a CUSUM with k = 0.5, h = 8 whose μ0 is the running mean; see
/// docs/statistics.md for the detection delays and false alarm counts.
///
/// **Bad input**: NaN and ±inf are counted in rejected() and change nothing. Options out
/// of range throw vigil::invalid_argument.
///
/// **Cost**: O(1) time and memory per value.
class PageHinkley {
 public:
  /// Throws vigil::invalid_argument for: delta not finite and ≥ 0, threshold not finite
  /// and > 0, alpha outside (0, 1], or an unknown `watch`.
  explicit PageHinkley(const PageHinkleyOptions& options = PageHinkleyOptions());

  /// Feeds x.
  Detection update(double x) {
    if (VIGIL_UNLIKELY(!(x - x == 0))) {
      ++rejected_;
      return {};
    }
    ++count_;
    ++run_count_;
    mean_ += (x - mean_) / static_cast<double>(run_count_);
    const double deviation = x - mean_;
    upper_ = std::fmax(0.0, options_.alpha * upper_ + deviation - options_.delta);
    lower_ = std::fmax(0.0, options_.alpha * lower_ - deviation - options_.delta);
    if (run_count_ < options_.min_count) return {};
    Detection found;
    if (upper_ > options_.threshold && watches(Watch::increase)) {
      found = {true, ChangeDirection::increase};
    } else if (lower_ > options_.threshold && watches(Watch::decrease)) {
      found = {true, ChangeDirection::decrease};
    }
    if (found.change) {
      ++detections_;
      restart();
    }
    return found;
  }

  /// Back to the state right after construction.
  void reset();

  /// m_T − min m_t: evidence of an increase, in the units of the values.
  double increase_statistic() const { return upper_; }
  /// The mirrored statistic: evidence of a decrease.
  double decrease_statistic() const { return lower_; }
  /// Running mean since the last restart; NaN when no value was seen since.
  double mean() const { return run_count_ > 0 ? mean_ : std::numeric_limits<double>::quiet_NaN(); }
  /// Values since construction, reset() or the last detection.
  std::uint64_t count_since_restart() const { return run_count_; }

  std::uint64_t count() const { return count_; }
  std::uint64_t detections() const { return detections_; }
  std::uint64_t rejected() const { return rejected_; }
  const PageHinkleyOptions& options() const { return options_; }

 private:
  bool watches(Watch w) const {
    return (static_cast<unsigned>(options_.watch) & static_cast<unsigned>(w)) != 0;
  }
  void restart() {
    run_count_ = 0;
    mean_ = 0;
    upper_ = 0;
    lower_ = 0;
  }

  PageHinkleyOptions options_;
  std::uint64_t run_count_ = 0;
  double mean_ = 0;
  double upper_ = 0;
  double lower_ = 0;
  std::uint64_t count_ = 0;
  std::uint64_t detections_ = 0;
  std::uint64_t rejected_ = 0;
};

// ---------------------------------------------------------------------------------------
// ADWIN
// ---------------------------------------------------------------------------------------

/// Options of `Adwin`.
struct AdwinOptions {
  /// Confidence δ in (0, 1): the probability, per check, of cutting a window whose mean
  /// did not change is at most δ. Default 0.002.
  double delta = 0.002;
  /// Buckets M kept per size (row) of the exponential histogram, ≥ 2. More buckets place
  /// the candidate cut points more finely at the cost of memory and check time. Default 5.
  std::uint32_t max_buckets = 5;
  /// The window is checked for a cut every `clock` values (≥ 1); 1 checks every value.
  /// Default 32.
  std::uint32_t clock = 32;
  /// Fewest values on each side of a candidate cut (≥ 1). Default 5.
  std::uint32_t min_subwindow = 5;
  /// Width b > 0 of the interval the values lie in, scaling the range term of the bound
  /// (1 for error indicators and probabilities). Default 1.
  double value_range = 1;
};

/// ADWIN2, an adaptive sliding window that drops its oldest part whenever that part's mean
/// differs significantly from the rest (Bifet & Gavaldà, "Learning from time-changing data
/// with adaptive windowing", SIAM SDM 2007).
///
/// The window W is kept as an exponential histogram: rows of buckets of 2^r values, at
/// most M per row, each holding its mean and sum of squared deviations, so the window's
/// width, mean and variance are exact while memory stays logarithmic. Every `clock`
/// values, each bucket boundary splits W into an older W0 (n0 values, mean μ0) and a newer
/// W1 (n1, μ1) with n0, n1 ≥ `min_subwindow`; with m = 1/(1/n0 + 1/n1), δ' = δ/|W| and
/// σ²_W the variance of W, the split is a cut when
///
///     |μ1 − μ0| > ε_cut = sqrt(2/m · σ²_W · ln(2/δ')) + 2b/(3m) · ln(2/δ')
///
/// (the paper's variance-based bound, a Bernstein inequality, b the value range). On a cut
/// the oldest bucket is dropped and the check repeats until no split is a cut; update()
/// then signals one change, its direction the sign of μ1 − μ0 at the first cut.
///
/// **Assumptions**: the bound holds for independent values in an interval of width b
/// (`value_range`; the paper takes values in [0, 1], b = 1). For unbounded values (for
/// example Gaussian scores) the variance term dominates once both sides hold more than a
/// few dozen values, so the bound is approximately right with b set to a few standard
/// deviations. δ bounds false cuts per check by a union bound, so the real rate is well
/// below δ × checks (docs/statistics.md gives measured rates).
///
/// **Memory**: at most M·(⌊log2 W⌋ + 1) buckets of 16 bytes for a window of W values
/// (bucket_count()), e.g. ≤ 100 buckets (1.6 KB) for W ≤ 10^6 at M = 5. The bucket
/// storage grows by one row when the window first reaches a new power of two and is never
/// returned before reset().
///
/// **Cost**: O(1) amortised per value to insert; a check costs O(M·log W) per split
/// examined plus O(M·log W) per bucket dropped, so O(M·log W / clock) amortised.
///
/// **Bad input**: NaN and ±inf are counted in rejected() and change nothing. Options out
/// of range throw vigil::invalid_argument.
class Adwin {
 public:
  /// Throws vigil::invalid_argument for: delta outside (0, 1), max_buckets < 2, clock 0,
  /// min_subwindow 0, value_range not finite and > 0.
  explicit Adwin(const AdwinOptions& options = AdwinOptions());

  /// Feeds x; checks for a cut when the clock ticks.
  Detection update(double x) {
    if (VIGIL_UNLIKELY(!(x - x == 0))) {
      ++rejected_;
      return {};
    }
    ++count_;
    insert(x);
    if (++tick_ < options_.clock) return {};
    tick_ = 0;
    return check();
  }

  /// Back to the state right after construction (bucket storage released).
  void reset();

  /// Values in the window: those since the last cut, at most count().
  std::uint64_t width() const { return width_; }
  /// Mean of the window; NaN when empty.
  double mean() const { return width_ > 0 ? mean_ : std::numeric_limits<double>::quiet_NaN(); }
  /// Population variance of the window (sum of squared deviations / width); NaN when empty.
  double variance() const {
    return width_ > 0 ? m2_ / static_cast<double>(width_)
                      : std::numeric_limits<double>::quiet_NaN();
  }
  /// Buckets currently holding the window.
  std::size_t bucket_count() const;
  /// Bytes allocated for buckets.
  std::size_t memory_bytes() const {
    return buckets_.capacity() * sizeof(Bucket) + row_sizes_.capacity() * sizeof(std::uint32_t);
  }

  std::uint64_t count() const { return count_; }
  std::uint64_t detections() const { return detections_; }
  std::uint64_t rejected() const { return rejected_; }
  const AdwinOptions& options() const { return options_; }

 private:
  struct Bucket {
    double mean;
    double m2;  // sum of squared deviations from mean
  };

  // Row r holds row_sizes_[r] buckets of 2^r values, oldest first, at
  // buckets_[r * (max_buckets + 1) ...]; rows above the top one in use are empty.
  Bucket* row(std::size_t r) { return buckets_.data() + r * row_capacity(); }
  const Bucket* row(std::size_t r) const { return buckets_.data() + r * row_capacity(); }
  std::size_t row_capacity() const { return options_.max_buckets + std::size_t{1}; }

  void insert(double x) {
    if (VIGIL_UNLIKELY(rows_ == 0)) add_row();
    Bucket* first = row(0);
    first[row_sizes_[0]++] = {x, 0.0};
    ++width_;
    const double d = x - mean_;
    mean_ += d / static_cast<double>(width_);
    m2_ += d * (x - mean_);
    if (VIGIL_UNLIKELY(row_sizes_[0] > options_.max_buckets)) compress();
  }
  void add_row();
  void compress();
  Detection check();
  void drop_oldest();
  void recompute_totals();

  AdwinOptions options_;
  std::vector<Bucket> buckets_;
  std::vector<std::uint32_t> row_sizes_;
  std::size_t rows_ = 0;  // rows in use: the highest non-empty row + 1
  std::uint64_t width_ = 0;
  double mean_ = 0;
  double m2_ = 0;
  std::uint32_t tick_ = 0;
  std::uint64_t count_ = 0;
  std::uint64_t detections_ = 0;
  std::uint64_t rejected_ = 0;
};

// ---------------------------------------------------------------------------------------
// Implementation
// ---------------------------------------------------------------------------------------

inline Cusum::Cusum(const CusumOptions& options) : options_(options) {
  const bool estimate_mean = std::isnan(options.target_mean);
  const bool estimate_sigma = std::isnan(options.sigma);
  if (std::isinf(options.target_mean)) {
    vigil::detail::change_detector_bad_option("Cusum", "target_mean", options.target_mean,
                                              "is not finite (NaN means: estimate it)");
  }
  if (!estimate_sigma && !(std::isfinite(options.sigma) && options.sigma > 0)) {
    vigil::detail::change_detector_bad_option("Cusum", "sigma", options.sigma,
                                              "is not finite and > 0 (NaN means: estimate it)");
  }
  if (!(std::isfinite(options.slack) && options.slack >= 0)) {
    vigil::detail::change_detector_bad_option("Cusum", "slack", options.slack,
                                              "is not finite and >= 0");
  }
  if (!(std::isfinite(options.threshold) && options.threshold > 0)) {
    vigil::detail::change_detector_bad_option("Cusum", "threshold", options.threshold,
                                              "is not finite and > 0");
  }
  if (!(std::isfinite(options.min_sigma) && options.min_sigma >= 0)) {
    vigil::detail::change_detector_bad_option("Cusum", "min_sigma", options.min_sigma,
                                              "is not finite and >= 0");
  }
  const std::uint64_t needed = estimate_sigma ? 2 : (estimate_mean ? 1 : 0);
  if (options.warmup < needed) {
    vigil::detail::change_detector_bad_option(
        "Cusum", "warmup", static_cast<double>(options.warmup),
        estimate_sigma ? "is too short to estimate sigma (needs >= 2)"
                       : "is too short to estimate target_mean (needs >= 1)");
  }
  if (!vigil::detail::change_detector_watch_valid(static_cast<unsigned>(options.watch))) {
    vigil::detail::change_detector_bad_option("Cusum", "watch", static_cast<double>(options.watch),
                                              "is not increase (1), decrease (2) or both (3)");
  }
  reset();
}

inline void Cusum::reset() {
  const bool estimate = std::isnan(options_.target_mean) || std::isnan(options_.sigma);
  warming_up_ = estimate;
  mean_ = estimate ? 0 : options_.target_mean;
  sigma_ = estimate ? 1 : options_.sigma;
  upper_ = 0;
  lower_ = 0;
  warm_count_ = 0;
  warm_mean_ = 0;
  warm_m2_ = 0;
  count_ = 0;
  detections_ = 0;
  rejected_ = 0;
}

inline void Cusum::warm_up(double x) {
  ++warm_count_;
  const double d = x - warm_mean_;
  warm_mean_ += d / static_cast<double>(warm_count_);
  warm_m2_ += d * (x - warm_mean_);
  if (warm_count_ < options_.warmup) return;

  const bool mean_given = !std::isnan(options_.target_mean);
  const double mean = mean_given ? options_.target_mean : warm_mean_;
  double sigma = options_.sigma;
  if (std::isnan(sigma)) {
    const auto n = static_cast<double>(warm_count_);
    // With μ0 given, the mean square deviation from it; otherwise the sample variance.
    const double m2 =
        mean_given ? warm_m2_ + n * (warm_mean_ - mean) * (warm_mean_ - mean) : warm_m2_;
    sigma = std::sqrt(m2 / (mean_given ? n : n - 1));
    sigma = std::fmax(sigma, options_.min_sigma);
    if (!(sigma > 0) || !std::isfinite(sigma)) return;  // all equal so far: keep warming up
  }
  mean_ = mean;
  sigma_ = sigma;
  warming_up_ = false;
}

inline void Cusum::save(io::Writer& w) const {
  w.u8(warming_up_ ? 1 : 0);
  for (double v : {mean_, sigma_, upper_, lower_}) w.f64(v);
  w.varint(warm_count_);
  w.f64(warm_mean_);
  w.f64(warm_m2_);
  w.varint(count_);
  w.varint(detections_);
  w.varint(rejected_);
}

inline void Cusum::load(io::Reader& r) {
  Cusum s(*this);
  const std::uint8_t warming = r.u8();
  if (warming > 1) r.fail("CUSUM warm-up flag is " + std::to_string(warming) + ", not 0 or 1");
  s.warming_up_ = warming == 1;
  for (double* v : {&s.mean_, &s.sigma_, &s.upper_, &s.lower_}) *v = r.f64();
  s.warm_count_ = r.varint();
  s.warm_mean_ = r.f64();
  s.warm_m2_ = r.f64();
  s.count_ = r.varint();
  s.detections_ = r.varint();
  s.rejected_ = r.varint();
  const std::string problem = s.state_violation();
  if (!problem.empty()) r.fail("CUSUM: " + problem);
  *this = s;
}

inline std::string Cusum::state_violation() const {
  const bool mean_given = !std::isnan(options_.target_mean);
  const bool sigma_given = !std::isnan(options_.sigma);
  if (warming_up_) {
    if (mean_given && sigma_given) return "warming up although target_mean and sigma are given";
    if (mean_ != 0 || sigma_ != 1 || upper_ != 0 || lower_ != 0) return "monitoring figures set during the warm-up";
  } else {
    if (!std::isfinite(mean_) || (mean_given && mean_ != options_.target_mean))
      return "target mean " + vigil::detail::to_text(mean_) + " is not finite or not the one given";
    const bool sigma_ok = sigma_given ? sigma_ == options_.sigma : sigma_ > 0 && sigma_ >= options_.min_sigma;
    if (!sigma_ok || !std::isfinite(sigma_))
      return "sigma " + vigil::detail::to_text(sigma_) + " is not the one given, or not finite and at least min_sigma";
  }
  const auto sum_ok = [&](double v, Watch w) {
    return v >= 0 && std::isfinite(v) && !(v > options_.threshold && watches(w));
  };
  if (!sum_ok(upper_, Watch::increase) || !sum_ok(lower_, Watch::decrease))
    return "sums " + vigil::detail::to_text(upper_) + " and " + vigil::detail::to_text(lower_) +
           " are negative, not finite or beyond the threshold";
  if (!std::isfinite(warm_mean_) || !(warm_m2_ >= 0) || !std::isfinite(warm_m2_))
    return "warm-up mean or sum of squares is not finite";
  if (warm_count_ > count_ || detections_ > count_)
    return std::to_string(warm_count_) + " warm-up values and " + std::to_string(detections_) +
           " detections in " + std::to_string(count_) + " values";
  return "";
}

inline PageHinkley::PageHinkley(const PageHinkleyOptions& options) : options_(options) {
  if (!(std::isfinite(options.delta) && options.delta >= 0)) {
    vigil::detail::change_detector_bad_option("PageHinkley", "delta", options.delta,
                                              "is not finite and >= 0");
  }
  if (!(std::isfinite(options.threshold) && options.threshold > 0)) {
    vigil::detail::change_detector_bad_option("PageHinkley", "threshold", options.threshold,
                                              "is not finite and > 0");
  }
  if (!(options.alpha > 0 && options.alpha <= 1)) {
    vigil::detail::change_detector_bad_option("PageHinkley", "alpha", options.alpha,
                                              "is not in (0, 1]");
  }
  if (!vigil::detail::change_detector_watch_valid(static_cast<unsigned>(options.watch))) {
    vigil::detail::change_detector_bad_option("PageHinkley", "watch",
                                              static_cast<double>(options.watch),
                                              "is not increase (1), decrease (2) or both (3)");
  }
}

inline void PageHinkley::reset() {
  restart();
  count_ = 0;
  detections_ = 0;
  rejected_ = 0;
}

inline Adwin::Adwin(const AdwinOptions& options) : options_(options) {
  if (!(options.delta > 0 && options.delta < 1)) {
    vigil::detail::change_detector_bad_option("Adwin", "delta", options.delta, "is not in (0, 1)");
  }
  if (options.max_buckets < 2) {
    vigil::detail::change_detector_bad_option(
        "Adwin", "max_buckets", static_cast<double>(options.max_buckets), "is not >= 2");
  }
  if (options.clock < 1) {
    vigil::detail::change_detector_bad_option("Adwin", "clock", static_cast<double>(options.clock),
                                              "is not >= 1");
  }
  if (options.min_subwindow < 1) {
    vigil::detail::change_detector_bad_option(
        "Adwin", "min_subwindow", static_cast<double>(options.min_subwindow), "is not >= 1");
  }
  if (!(std::isfinite(options.value_range) && options.value_range > 0)) {
    vigil::detail::change_detector_bad_option("Adwin", "value_range", options.value_range,
                                              "is not finite and > 0");
  }
}

inline void Adwin::reset() {
  std::vector<Bucket>().swap(buckets_);
  std::vector<std::uint32_t>().swap(row_sizes_);
  rows_ = 0;
  width_ = 0;
  mean_ = 0;
  m2_ = 0;
  tick_ = 0;
  count_ = 0;
  detections_ = 0;
  rejected_ = 0;
}

inline std::size_t Adwin::bucket_count() const {
  std::size_t total = 0;
  for (std::size_t r = 0; r < rows_; ++r) total += row_sizes_[r];
  return total;
}

inline void Adwin::add_row() {
  if (rows_ == row_sizes_.size()) {
    // Grow by exactly one row: the window reaches each new power of two only once.
    row_sizes_.reserve(rows_ + 1);
    row_sizes_.push_back(0);
    buckets_.reserve(row_sizes_.size() * row_capacity());
    buckets_.resize(row_sizes_.size() * row_capacity());
  }
  row_sizes_[rows_] = 0;
  ++rows_;
}

inline void Adwin::compress() {
  // Only row 0 grows by one at a time, so each row overflows by exactly one bucket: merge
  // its two oldest into the newest bucket of the next row, whose buckets are all older.
  for (std::size_t r = 0; r < rows_ && row_sizes_[r] > options_.max_buckets; ++r) {
    Bucket* buckets = row(r);
    const Bucket a = buckets[0];
    const Bucket b = buckets[1];
    const double size = std::ldexp(1.0, static_cast<int>(r));  // each holds 2^r values
    const double difference = b.mean - a.mean;
    const Bucket merged = {a.mean + 0.5 * difference,
                           a.m2 + b.m2 + difference * difference * size * 0.5};
    for (std::uint32_t i = 2; i < row_sizes_[r]; ++i) buckets[i - 2] = buckets[i];
    row_sizes_[r] -= 2;
    if (r + 1 == rows_) add_row();
    row(r + 1)[row_sizes_[r + 1]++] = merged;
  }
}

inline Detection Adwin::check() {
  Detection found;
  const auto min_side = static_cast<std::uint64_t>(options_.min_subwindow);
  for (;;) {
    if (width_ < 2 * min_side) break;
    const auto n = static_cast<double>(width_);
    const double log_term = std::log(2.0 * n / options_.delta);  // ln(2/δ'), δ' = δ/n
    // ε_cut = sqrt(variance_term / m) + range_term / m, compared without a square root:
    // |Δμ| > ε  ⇔  |Δμ| − range_term/m > 0 and (|Δμ| − range_term/m)² > variance_term/m.
    const double variance_term = 2.0 * (m2_ / n) * log_term;
    const double range_term = 2.0 / 3.0 * options_.value_range * log_term;
    const double total = mean_ * n;
    std::uint64_t n0 = 0;
    double sum0 = 0;
    bool cut = false;
    bool exhausted = false;  // W1 became shorter than min_subwindow
    ChangeDirection direction = ChangeDirection::none;
    for (std::size_t r = rows_; r-- > 0 && !cut && !exhausted;) {
      const Bucket* buckets = row(r);
      const std::uint64_t size = std::uint64_t{1} << r;
      const double weight = static_cast<double>(size);
      for (std::uint32_t i = 0; i < row_sizes_[r]; ++i) {
        n0 += size;
        sum0 += weight * buckets[i].mean;
        const std::uint64_t n1 = width_ - n0;
        if (n1 < min_side) {
          exhausted = true;
          break;
        }
        if (n0 < min_side) continue;
        const double per_older = 1.0 / static_cast<double>(n0);
        const double per_newer = 1.0 / static_cast<double>(n1);
        const double difference = (total - sum0) * per_newer - sum0 * per_older;
        const double inverse_m = per_older + per_newer;
        const double excess = std::fabs(difference) - range_term * inverse_m;
        if (excess > 0 && excess * excess > variance_term * inverse_m) {
          cut = true;
          direction = difference > 0 ? ChangeDirection::increase : ChangeDirection::decrease;
          break;
        }
      }
    }
    if (!cut) break;
    if (!found.change) found = {true, direction};
    drop_oldest();
  }
  if (found.change) ++detections_;
  return found;
}

inline void Adwin::drop_oldest() {
  const std::size_t top = rows_ - 1;
  Bucket* buckets = row(top);
  for (std::uint32_t i = 1; i < row_sizes_[top]; ++i) buckets[i - 1] = buckets[i];
  --row_sizes_[top];
  while (rows_ > 0 && row_sizes_[rows_ - 1] == 0) --rows_;
  recompute_totals();
}

inline void Adwin::recompute_totals() {
  // Exact pairwise combination of the buckets (Chan et al.), so rounding from a long run
  // of incremental updates does not survive a cut.
  std::uint64_t n = 0;
  double mean = 0;
  double m2 = 0;
  for (std::size_t r = rows_; r-- > 0;) {
    const Bucket* buckets = row(r);
    const std::uint64_t size = std::uint64_t{1} << r;
    for (std::uint32_t i = 0; i < row_sizes_[r]; ++i) {
      const auto before = static_cast<double>(n);
      n += size;
      const double difference = buckets[i].mean - mean;
      const double share = static_cast<double>(size) / static_cast<double>(n);
      mean += difference * share;
      m2 += buckets[i].m2 + difference * difference * before * share;
    }
  }
  width_ = n;
  mean_ = n > 0 ? mean : 0;
  m2_ = n > 0 ? m2 : 0;
}

}  // namespace stats
}  // namespace vigil

// vigil — in-process monitoring of machine-learning models in C++ inference servers.
// SPDX-License-Identifier: Apache-2.0
#pragma once

/// \file
/// ArrivalDetector: surges and drops of a request stream's arrival rate, interval by
/// interval — the residuals of a RatePredictor, rescaled by their own robust spread, fed to
/// a two-sided CUSUM. The traffic monitor raises its `arrivals` alert from it.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "vigil/error.hpp"
#include "vigil/model/rate_predictor.hpp"
#include "vigil/stats/change_detectors.hpp"

namespace vigil {

/// Settings of an ArrivalDetector. The constructor checks every field and throws
/// vigil::invalid_argument naming the first invalid value.
struct ArrivalDetectorOptions {
  /// CUSUM allowance k, in robust residual standard deviations: about half the smallest
  /// sustained shift worth finding fast. Finite and ≥ 0.
  double slack = 3;
  /// CUSUM decision threshold h, in the same units. With the defaults k = 3 and h = 12 one
  /// interval signals alone beyond 15 deviations, two in a row beyond 9, three beyond 7,
  /// four beyond 6, six beyond 5; shifts under 3 deviations never do. Finite and > 0.
  double threshold = 12;
  /// Residuals whose median absolute value scales the next ones; 0 picks a week of
  /// intervals, between 48 and 2,016 (a week of 5-minute intervals).
  std::size_t scale_window = 0;
  /// Residuals needed before their spread is used (until then the scale is 1). ≥ 1.
  std::size_t min_scale_residuals = 30;
};

/// What the detector made of one interval.
struct ArrivalVerdict {
  /// The prediction for the interval, made from the intervals before it.
  RatePrediction prediction;
  /// The count judged (NaN when unknown).
  double count = std::numeric_limits<double>::quiet_NaN();
  /// prediction.z(count): the log-count residual in the model's standard deviations.
  double z = std::numeric_limits<double>::quiet_NaN();
  /// The robust spread of recent residuals that z was divided by (≥ 1).
  double scale = std::numeric_limits<double>::quiet_NaN();
  /// The CUSUM sums S⁺ (surge) and S⁻ (drop) after this interval, before any restart.
  double surge_statistic = 0;
  double drop_statistic = 0;
  /// Whether the interval was judged: a known count, predicted by a fitted regression
  /// (RateModel::recent or seasonal; the fall-back mean does not model the daily cycle).
  bool judged = false;
  /// increase (a surge) or decrease (a drop) when a change is signalled at this interval.
  stats::ChangeDirection direction = stats::ChangeDirection::none;

  bool signalled() const { return direction != stats::ChangeDirection::none; }
  /// Whether this interval alone crosses the threshold (a stop, a burst).
  bool single_interval(const ArrivalDetectorOptions& o) const {
    return judged && std::fabs(z / scale) > o.threshold + o.slack;
  }
};

/// Finds surges and drops of the arrival rate from interval counts.
///
/// **Method.** Each interval's count is judged against the one-step prediction of a
/// RatePredictor (a robust autoregression on log counts with daily and weekly lags), then
/// learnt. Its residual z = (log(n + 1) − predicted)/log_sd is divided by the robust spread
/// of the recent residuals, s = max(1, 1.4826·median|z|) over `scale_window` intervals (the
/// median absolute deviation, Hampel 1974: real traffic has heavier tails and a worse fit
/// than the model's own standard deviation admits, and the median ignores the anomalies
/// themselves). The rescaled residual u = z/s drives a two-sided tabular CUSUM (Page,
/// "Continuous inspection schemes", Biometrika 41, 1954; stats::Cusum):
/// S⁺ = max(0, S⁺ + u − k), S⁻ = max(0, S⁻ − u − k); a surge is signalled when S⁺ > h, a
/// drop when S⁻ > h, and both restart. One extreme interval (a stop, a burst) signals at
/// once; a moderate shift, such as a holiday's missing rush hour, after it has lasted a few
/// intervals. While a shift lasts, the sums fill again and signal again.
///
/// Scored as in the Numenta Anomaly Benchmark (Lavin & Ahmad, ICMLA 2015), with the
/// Monitor's rate options for 30-minute intervals and the defaults here, on NAB's
/// nyc_taxi file: docs/rate_predictor.md has the score beside the published detectors'.
///
/// **Memory.** The predictor's, plus 16 bytes per residual of the scale window (a ring and a
/// scratch copy for the median). **Time.** add(): the predictor's, plus O(scale_window) for
/// the median.
///
/// **Bad input.** Negative, NaN and infinite counts are refused by the predictor (counted
/// in predictor().bad()) and not judged. Invalid options throw vigil::invalid_argument.
class ArrivalDetector {
 public:
  /// A detector over a predictor with `rate` options. Throws vigil::invalid_argument for
  /// invalid options of either.
  explicit ArrivalDetector(RatePredictorOptions rate, ArrivalDetectorOptions options = {});

  /// Judges `count` arrivals in interval `interval_index` against the prediction from the
  /// intervals before it, then adds the count to the predictor (RatePredictor::add).
  /// Intervals come in order. Only the interval right after the newest is judged: one after
  /// a gap is learnt (the skipped intervals read as zero arrivals), not judged.
  ArrivalVerdict add(std::int64_t interval_index, double count);
  /// Declares the count of interval `interval_index` unknown (RatePredictor::add_unknown):
  /// nothing is judged and the CUSUM is left as it was.
  void add_unknown(std::int64_t interval_index) { predictor_.add_unknown(interval_index); }

  const RatePredictor& predictor() const { return predictor_; }
  const ArrivalDetectorOptions& options() const { return options_; }
  /// The spread the next residual will be divided by (1 until min_scale_residuals are held).
  double scale() const;
  /// Surges and drops signalled so far.
  std::uint64_t signals() const { return cusum_.detections(); }
  /// Bytes owned by the detector.
  std::size_t memory_bytes() const;

  /// Writes what the detector learnt since construction, never its options: its predictor's
  /// state (RatePredictor::save), its CUSUM's (stats::Cusum::save), and the residuals |z| of
  /// the scale window, oldest first.
  void save(io::Writer& w) const;
  /// Reads save()'s output into a detector constructed with the same options; its next
  /// predictions and verdicts are those the saved one would give. Throws vigil::format_error
  /// (through `r`) for what RatePredictor::load and stats::Cusum::load refuse, more residuals
  /// than the scale window holds, or a residual that is negative or not finite. On a throw
  /// the detector is left as constructed.
  void load(io::Reader& r);

 private:
  void remember(double z);
  void load_residuals(io::Reader& r);
  // Back to the state right after construction.
  void forget();

  RatePredictor predictor_;
  ArrivalDetectorOptions options_;
  stats::Cusum cusum_;
  std::vector<double> residuals_;  // |z| of judged intervals, a ring of scale_window
  std::size_t next_ = 0;           // where the next residual goes
  std::size_t held_ = 0;           // residuals in the ring
  mutable std::vector<double> scratch_;
};

// ---------------------------------------------------------------------------------------
// Implementation.

namespace detail {

inline ArrivalDetectorOptions resolve_arrival_options(ArrivalDetectorOptions o, double interval) {
  const auto fail = [](const std::string& what) { throw_invalid_argument("ArrivalDetector: " + what); };
  if (!(o.slack >= 0 && o.slack <= std::numeric_limits<double>::max()))
    fail("slack " + to_text(o.slack) + " is not finite and >= 0");
  if (!(o.threshold > 0 && o.threshold <= std::numeric_limits<double>::max()))
    fail("threshold " + to_text(o.threshold) + " is not finite and > 0");
  if (o.min_scale_residuals == 0) fail("min_scale_residuals is 0");
  if (o.scale_window == 0)
    o.scale_window = static_cast<std::size_t>(std::clamp(std::round(7 * 86400 / interval), 48.0, 2016.0));
  return o;
}

inline stats::CusumOptions arrival_cusum_options(const ArrivalDetectorOptions& o) {
  stats::CusumOptions c;
  c.target_mean = 0;
  c.sigma = 1;
  c.slack = o.slack;
  c.threshold = o.threshold;
  return c;
}

}  // namespace detail

inline ArrivalDetector::ArrivalDetector(RatePredictorOptions rate, ArrivalDetectorOptions options)
    : predictor_(std::move(rate)),
      options_(detail::resolve_arrival_options(options, predictor_.options().interval)),
      cusum_(detail::arrival_cusum_options(options_)) {
  residuals_.assign(options_.scale_window, 0.0);
  scratch_.reserve(options_.scale_window);
}

inline double ArrivalDetector::scale() const {
  if (held_ < options_.min_scale_residuals) return 1;
  scratch_.assign(residuals_.begin(), residuals_.begin() + static_cast<std::ptrdiff_t>(held_));
  const auto middle = scratch_.begin() + static_cast<std::ptrdiff_t>(held_ / 2);
  std::nth_element(scratch_.begin(), middle, scratch_.end());
  return std::max(1.0, 1.4826 * *middle);
}

inline void ArrivalDetector::remember(double z) {
  residuals_[next_] = std::fabs(z);
  next_ = next_ + 1 == residuals_.size() ? 0 : next_ + 1;
  held_ = std::min(held_ + 1, residuals_.size());
}

inline ArrivalVerdict ArrivalDetector::add(std::int64_t interval_index, double count) {
  ArrivalVerdict v;
  v.count = count;
  // Only the interval after the newest is judged: counts added to an interval already held
  // complete it, and after a gap the prediction would not see the zeros in between.
  const bool next = !predictor_.empty() && interval_index == predictor_.newest() + 1;
  if (next) v.prediction = predictor_.predict(interval_index);
  const bool modelled = v.prediction.model == RateModel::recent || v.prediction.model == RateModel::seasonal;
  v.z = v.prediction.z(count);
  predictor_.add(interval_index, count);
  if (!modelled || std::isnan(v.z)) return v;
  v.judged = true;
  v.scale = scale();
  const double u = v.z / v.scale;
  v.surge_statistic = std::max(0.0, cusum_.increase_statistic() + u - options_.slack);
  v.drop_statistic = std::max(0.0, cusum_.decrease_statistic() - u - options_.slack);
  v.direction = cusum_.update(u).direction;
  remember(v.z);
  return v;
}

inline void ArrivalDetector::save(io::Writer& w) const {
  predictor_.save(w);
  cusum_.save(w);
  w.varint(held_);
  // Oldest first: from the start of the ring until it is full, from next_ once it is.
  const std::size_t first = held_ < residuals_.size() ? 0 : next_;
  for (std::size_t i = 0; i < held_; ++i) w.f64(residuals_[(first + i) % residuals_.size()]);
}

inline void ArrivalDetector::load(io::Reader& r) {
  forget();
  try {
    predictor_.load(r);
    cusum_.load(r);
    load_residuals(r);
  } catch (...) {
    forget();
    throw;
  }
}

inline void ArrivalDetector::load_residuals(io::Reader& r) {
  const std::uint64_t held = r.varint();
  if (held > residuals_.size())
    r.fail("ArrivalDetector: " + std::to_string(held) + " residuals, more than the scale window " +
           std::to_string(residuals_.size()));
  for (std::size_t i = 0; i < held; ++i) {
    residuals_[i] = r.f64();
    if (!(residuals_[i] >= 0) || !std::isfinite(residuals_[i]))
      r.fail("ArrivalDetector: residual " + detail::to_text(residuals_[i]) + " is not finite and >= 0");
  }
  held_ = static_cast<std::size_t>(held);
  next_ = held_ == residuals_.size() ? 0 : held_;
}

inline void ArrivalDetector::forget() {
  predictor_.clear();
  cusum_.reset();
  std::fill(residuals_.begin(), residuals_.end(), 0.0);
  next_ = held_ = 0;
}

inline std::size_t ArrivalDetector::memory_bytes() const {
  return sizeof(*this) + predictor_.memory_bytes() - sizeof(predictor_) +
         (residuals_.capacity() + scratch_.capacity()) * sizeof(double);
}

}  // namespace vigil

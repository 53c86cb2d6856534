// vigil — in-process monitoring of machine-learning models in C++ inference servers.
// SPDX-License-Identifier: Apache-2.0
#pragma once

/// \file
/// RatePredictor: how many requests should arrive in an interval, from the counts of past
/// intervals — a least-squares autoregression on log counts with daily (and weekly)
/// seasonal lags, robust to the anomalies it is there to find. The traffic monitor compares
/// each closed interval's count with it, so a stream that stops is an alarm at any hour,
/// and a quiet night is not.
///
/// Needs Eigen 3.3 or later, which the CMake target vigil::vigil links (configuration fails
/// without it). The Monitor and the umbrella header vigil/vigil.hpp include this one.

#if defined(__has_include)
#if !__has_include(<Eigen/Core>)
#error "vigil/model/rate_predictor.hpp needs Eigen 3.3 or later (Debian: libeigen3-dev)"
#endif
#endif

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include <Eigen/Cholesky>
#include <Eigen/Core>

#include "vigil/error.hpp"
#include "vigil/io/binary.hpp"

namespace vigil {

/// Settings of a RatePredictor. The constructor checks every field and throws
/// vigil::invalid_argument naming the first invalid value.
struct RatePredictorOptions {
  /// Seconds per interval: each count given to add() is the number of arrivals in one
  /// interval. Finite and > 0.
  double interval = 60;
  /// Regress on the log counts of the last `recent_lags` intervals (t−1 … t−recent_lags).
  /// 0 leaves only the seasonal lags (and the mean while they are not covered).
  std::size_t recent_lags = 4;
  /// Seasonal lags in seconds: the same interval this long before. Each must be positive,
  /// a whole multiple of `interval` and longer than the recent lags; no two may overlap
  /// (see seasonal_window). The default is a day and two days, the regressors of Dunning &
  /// Friedman's model of Wikipedia traffic. Add a week (604800) for traffic with a weekly
  /// cycle. Empty: no seasonal model.
  std::vector<double> seasonal_lags = {86400, 172800};
  /// Consecutive intervals regressed on at each seasonal lag s: t−s, t−s−1, …,
  /// t−s−seasonal_window+1. With 2, the model can follow how the traffic changed from one
  /// interval to the next at the same time on the reference day (the morning ramp), which
  /// matters where that ramp is steep (docs/rate_predictor.md, NYC taxi data). ≥ 1.
  std::size_t seasonal_window = 1;
  /// Intervals retained: the ring buffer, which is also the fitting window. 0 picks the
  /// largest of 7 days of intervals, twice the longest lag, and the longest lag plus the
  /// rows the full model needs (min_fit_intervals). A non-zero value must cover that last
  /// figure, or the full model could never be fitted.
  std::size_t history = 0;
  /// Intervals added between automatic refits; 0 refits only when fit() is called.
  std::size_t refit_every = 60;
  /// Ridge penalty added to the diagonal of the regressors' correlation matrix. Keeps the
  /// fit defined when lags are (nearly) collinear, e.g. over a stretch of zeros; 10⁻⁶ moves
  /// coefficients by about that relative amount. Finite and ≥ 0 (0: ordinary least squares).
  double ridge = 1e-6;
  /// Robust filter: an interval whose log count is more than `outlier_z` standard
  /// deviations (RatePrediction::log_sd) from its one-step prediction is an outlier. It is
  /// left out of the fit, and where a later prediction uses it as a lag, it counts as its
  /// prediction ± outlier_z standard deviations — so an outage or a holiday is learnt only
  /// gradually and barely echoes one seasonal lag later. Finite and ≥ 0; 0: no filter.
  double outlier_z = 4;
  /// Fitted rows (intervals with a known, non-outlier count whose lags are held) that a
  /// regression needs before it replaces a simpler model; 0 means 10 per coefficient.
  /// Always at least the number of coefficients + 2.
  std::size_t min_fit_intervals = 0;
  /// Floor of RatePrediction::log_sd, so that a series the model fits exactly does not make
  /// every deviation infinitely surprising. Finite and ≥ 0.
  double min_log_sd = 0.01;

  /// Options whose lags suit intervals of `seconds` (the Monitor's choice unless told
  /// otherwise; docs/rate_predictor.md, "Lags that follow the interval"). With D the
  /// intervals in a day:
  /// - recent_lags: the intervals of the last four hours, between 1 and 4 (⌊D/6⌋ clamped);
  /// - intervals of 4 minutes or more, where 28 days fit in the 10,080 intervals that the
  ///   1-minute defaults hold: a day, a week and two weeks (weekends differ from weekdays),
  ///   seasonal_window 2 when the interval is an hour or shorter (the morning ramp spans
  ///   several intervals), else 1;
  /// - shorter intervals: a day and two days, window 1;
  /// - every seasonal lag rounded to whole intervals and kept only if longer than the
  ///   recent lags (so a daily interval keeps the weeks alone);
  /// - refit_every: a day of intervals, between 1 and 60; history 0 (resolved as usual).
  /// At 60 s this is exactly the defaults. Throws vigil::invalid_argument unless `seconds`
  /// is finite and > 0.
  static RatePredictorOptions for_interval(double seconds);
};

/// Which model produced a prediction. The predictor uses the richest one its history allows
/// and falls back to a simpler one, saying so, while history is short.
enum class RateModel : std::uint8_t {
  /// No known count held yet: nothing is predicted (rate and log_sd are NaN).
  none = 0,
  /// The mean and standard deviation of log(count + 1) over the known intervals held: the
  /// baseline until a regression has enough rows.
  mean = 1,
  /// Regression on the recent lags only: the history does not yet reach back over the
  /// seasonal lags with enough rows, or no seasonal lags are configured.
  recent = 2,
  /// The full model: recent and seasonal lags.
  seasonal = 3,
};

/// "none", "mean", "recent" or "seasonal".
inline const char* to_string(RateModel model) {
  switch (model) {
    case RateModel::none: return "none";
    case RateModel::mean: return "mean";
    case RateModel::recent: return "recent";
    case RateModel::seasonal: return "seasonal";
  }
  return "unknown";
}

/// A predicted count for one interval, with its uncertainty on the log scale.
///
/// The model treats y = log(count + 1) as normal with mean `log_rate` and standard
/// deviation `log_sd`, so `rate` = exp(log_rate) − 1 is the median of the predicted count
/// (its mean is larger by about a factor exp(log_sd²/2): under 0.5 % for log_sd ≤ 0.1).
struct RatePrediction {
  /// The interval predicted.
  std::int64_t interval_index = 0;
  /// Steps ahead of the newest interval held (1: the next interval); 0 for an interval
  /// already held, predicted from the intervals before it.
  std::size_t steps_ahead = 0;
  /// Predicted count of the interval, ≥ 0. NaN when model is RateModel::none.
  double rate = std::numeric_limits<double>::quiet_NaN();
  /// Predicted log(count + 1), ≥ 0. NaN when model is RateModel::none.
  double log_rate = std::numeric_limits<double>::quiet_NaN();
  /// Standard deviation of log(count + 1) around log_rate: the fit's residual standard
  /// deviation (outliers excluded), grown for forecasts more than one step ahead, and
  /// floored at RatePredictorOptions::min_log_sd and at the Poisson counting noise
  /// 1/√(rate + 1). NaN when model is RateModel::none.
  double log_sd = std::numeric_limits<double>::quiet_NaN();
  /// Which model produced the prediction.
  RateModel model = RateModel::none;
  /// Intervals the model was fitted on (for RateModel::mean, the known intervals averaged).
  std::size_t fitted_on = 0;

  /// Standardised surprise of an observed count: (log(observed + 1) − log_rate) / log_sd.
  /// Negative when fewer requests arrived than predicted; a stream that stops gives a large
  /// negative z whenever the predicted rate is well above zero. NaN when nothing is
  /// predicted or `observed_count` is negative or NaN.
  double z(double observed_count) const {
    if (!(observed_count >= 0) || !(log_sd > 0)) return std::numeric_limits<double>::quiet_NaN();
    return (std::log1p(observed_count) - log_rate) / log_sd;
  }

  /// Two-sided normal tail probability of z(observed_count): the chance, under the model,
  /// of a count at least this far from the prediction in either direction. Real traffic
  /// has heavier tails than the normal, so read it as a ranking, not a calibrated rate of
  /// false alarms. NaN when z is.
  double p_value(double observed_count) const {
    const double zz = z(observed_count);
    return std::isnan(zz) ? zz : std::erfc(std::fabs(zz) / std::sqrt(2.0));
  }
};

/// Predicts the number of request arrivals in an interval from the counts of past intervals.
///
/// **Model.** With y_t = log(count_t + 1) (defined for zero counts, and turning the daily
/// swing of traffic into an additive pattern), the prediction is the least-squares fit
///
///     y_t ≈ c + Σᵢ aᵢ·y_{t−i} (i = 1 … recent_lags) + Σ_s b_s·y_{t−s} (s ∈ seasonal lags)
///
/// over the retained history: the model of Wikipedia page traffic in Dunning & Friedman,
/// "Practical Machine Learning: A New Look at Anomaly Detection" (O'Reilly, 2014), whose
/// regressors are the last few intervals and the same interval one and two days earlier.
/// Forecasts further ahead iterate the model on its own predictions; their log_sd grows
/// with the model's impulse response ψ as σ·√(Σ_{j<h} ψ_j²), as for any autoregression.
///
/// **Fitting.** The normal equations: the regressors' cross-products, taken as dot products
/// of shifted slices of the history around the series' mean (no design matrix is built),
/// centred, scaled to a correlation matrix, regularised by `ridge` and solved with Eigen's
/// LDLT (Cholesky) factorisation, in O(history·k²) time for k = 1 + recent_lags +
/// seasonal lags·seasonal_window coefficients. Centring and scaling keep the condition
/// number that of the correlation matrix: a noiseless series generated by the model gives
/// back its coefficients to 10⁻⁹ (tests/model/rate_predictor_test.cpp), and the
/// coefficients agree with a column-pivoting QR of the design matrix more closely than the
/// textbook XᵀX of the raw design matrix does (docs/benchmarks.md, RatePredictor).
///
/// **Robust filter.** Each interval is compared with its one-step prediction as it
/// arrives; beyond `outlier_z` standard deviations it is an outlier: left out of the fit,
/// and clipped to its prediction ± outlier_z standard deviations wherever it serves as a
/// lag (the values used as lags form the "cleaned" series: a Huber-type robust filter in
/// the manner of Masreliez & Martin, "Robust Bayesian estimation for the linear model and
/// robustifying the Kalman filter", IEEE Trans. Automatic Control 22(3), 1977). Without
/// it the recent lags learn an outage within a few intervals, so a stream that stops soon
/// looks normal; with it, a busy stream that stops for two hours is flagged at once (z below
/// −50) and stays beyond −4 for at least 83 of the 120 minutes (at most 5 without the
/// filter), and the next days are undisturbed (tests/model/rate_predictor_test.cpp). Clipping
/// rather than replacing keeps the cleaned series tied to the data, so a real change of
/// level is learnt at up to outlier_z standard deviations per interval. Once the full
/// model is in use, a refit leaves out the intervals the filter marked as they arrived;
/// before that it fits the counts as observed (marks made by a simpler model are not
/// trusted, so that they cannot lock themselves in). It then re-runs the filter over the
/// history with the new coefficients, and fits once more if that changed the marks.
///
/// **Fallbacks.** While history is short the predictor uses a simpler model and says so in
/// RatePrediction::model: RateModel::none (nothing known), then RateModel::mean, then
/// RateModel::recent once min_fit_intervals rows have their recent lags, then
/// RateModel::seasonal once they also have their seasonal lags (with the defaults and 1-min
/// intervals: from 1, 54 and 2,950 intervals held).
///
/// **Refits.** After an add() that moves to a new interval, the model is refitted when
/// refit_every intervals were added since the last fit, when the history has just become
/// long enough for a richer model (a fallback is replaced at once), and, while no
/// regression is possible yet, at every new interval (the mean of what there is).
///
/// **Missing data.** A jump forward in interval index fills the skipped intervals with zero
/// counts: a silent stream is data, and an alarm. A count that is genuinely unknown (a
/// collector outage, a missing row in a log) is declared with add_unknown(): the interval is
/// left out of the fit, and where a prediction needs it as a lag, the model's prediction for
/// it stands in (recomputed at every refit).
///
/// **Memory.** memory_bytes() = sizeof(RatePredictor) + history·(16 + 1/8) bytes (two rings
/// of doubles, the log counts as observed and as cleaned, and an outlier bit per interval)
/// + O(k): 163 KB at the defaults (10,080 one-minute intervals). fit() allocates about
/// 4·history doubles and O(k²) more while it runs; predict() allocates O(h) for a forecast
/// h > 1 steps ahead.
///
/// **Threads.** const members may run concurrently; add, add_unknown, fit and clear need
/// exclusive access.
///
/// **Bad input.** Negative, NaN and infinite counts are refused and counted in bad(); a
/// count for an interval older than the retained history is counted in late(). Nothing is
/// thrown on the data path. Invalid options throw vigil::invalid_argument.
///
/// ```cpp
/// vigil::RatePredictor predictor;                    // 1-min intervals, default lags
/// // when interval t has closed with n arrivals:
/// const vigil::RatePrediction expected = predictor.predict(t);  // from the intervals before t
/// predictor.add(t, n);
/// if (expected.z(n) < -8) { /* far fewer arrivals than predicted */ }
/// ```
class RatePredictor {
 public:
  /// A predictor with the default options (1-min intervals, lags 1–4 min, 1 and 2 days).
  RatePredictor() : RatePredictor(RatePredictorOptions{}) {}
  /// A predictor with `options`. Throws vigil::invalid_argument naming the first invalid
  /// field (see RatePredictorOptions). O(history) to allocate the rings.
  explicit RatePredictor(RatePredictorOptions options);

  /// Adds `count` arrivals to interval `interval_index` (consecutive intervals have
  /// consecutive indices, e.g. ⌊unix_seconds / interval⌋). Intervals come in order: a
  /// higher index than the newest moves to it, filling skipped intervals with zero counts;
  /// the newest or an older retained index adds to that interval's count (and makes an
  /// unknown interval known); an index older than the history is counted in late().
  /// Negative, NaN or infinite counts are counted in bad() and ignored.
  /// O(k) plus O(k) per skipped interval, plus a refit when one is due (O(history·k²)).
  /// Add an interval's count once it has closed: a refit takes it as final.
  void add(std::int64_t interval_index, double count);

  /// Declares the count of interval `interval_index` unknown: it moves to that interval
  /// like add() (skipped intervals are zero), or marks an older retained interval unknown,
  /// discarding what was added to it. An unknown interval is left out of the fit and its
  /// prediction stands in for it as a lag. Older than the history: counted in late().
  void add_unknown(std::int64_t interval_index);

  /// The model's prediction for interval `interval_index`:
  /// - newer than the newest interval held: a forecast steps_ahead = index − newest
  ///   intervals ahead, iterating the model on its own predictions; O(steps·k);
  /// - the newest or an older interval held: the one-step prediction from the (cleaned)
  ///   intervals before it, with the current coefficients, to judge a count just added.
  /// With nothing known, model is RateModel::none and rate NaN. Throws
  /// vigil::invalid_argument when the index is more than `history` intervals ahead, or so
  /// old that its lags are no longer held.
  RatePrediction predict(std::int64_t interval_index) const;
  /// predict(newest() + 1): the next interval.
  RatePrediction predict() const { return predict(size_ == 0 ? 0 : newest_ + 1); }

  /// Refits the model now on the retained history, choosing the richest model it supports
  /// (see the class comment), and re-runs the robust filter. O(history·k²) time;
  /// allocates O(history) temporarily.
  void fit();

  /// The model in use (RateModel::none before any known count).
  RateModel model() const { return model_; }
  /// Coefficients of the model in use: [c, then one per lag in the order of lags()]. Lags
  /// the model in use does not have are 0; for RateModel::mean, c is the mean of
  /// log(count + 1) and the rest 0; all 0 for RateModel::none.
  const std::vector<double>& coefficients() const { return coefficients_; }
  /// The lag in intervals of each coefficient after the intercept: 1 … recent_lags, then
  /// the seasonal lags (each with its window) in increasing order.
  const std::vector<std::size_t>& lags() const { return lags_; }
  /// Residual standard deviation of log(count + 1) in the last fit, outliers excluded (for
  /// RateModel::mean, the standard deviation of the values), before any floor. NaN for
  /// RateModel::none.
  double residual_sd() const { return residual_sd_; }
  /// Rows (intervals) the last fit used.
  std::size_t fitted_on() const { return fitted_on_; }

  /// Intervals held, known or not (at most options().history).
  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  /// Intervals held whose count is unknown (add_unknown()).
  std::size_t unknown() const { return unknown_; }
  /// Intervals held that the robust filter marks as outliers.
  std::size_t outliers() const { return outliers_; }
  /// Whether a held interval is marked as an outlier.
  bool outlier_at(std::int64_t interval_index) const {
    return held(interval_index) && is_outlier(slot(interval_index));
  }
  /// Index of the newest interval held. Meaningless when empty().
  std::int64_t newest() const { return newest_; }
  /// Index of the oldest interval held. Meaningless when empty().
  std::int64_t oldest() const { return newest_ - static_cast<std::int64_t>(size_) + 1; }
  /// The count held for an interval (NaN when unknown or not held).
  double count_at(std::int64_t interval_index) const;
  /// Counts and add_unknown() calls refused because their interval was older than the
  /// retained history.
  std::uint64_t late() const { return late_; }
  /// Counts refused because they were negative, NaN or infinite.
  std::uint64_t bad() const { return bad_; }

  /// The options in force, with `history` resolved when it was given as 0.
  const RatePredictorOptions& options() const { return options_; }
  /// Bytes owned by this predictor (see the class comment for the bound).
  std::size_t memory_bytes() const;

  /// Forgets every interval, the model and the counters; keeps the options.
  void clear();

  /// Writes what the predictor learnt since construction, never its options: the intervals
  /// held, oldest first (per interval a flag byte — unknown, outlier, lag value apart — then
  /// its log count unless unknown, and the value its lags read where that is not the log
  /// count), the counters late() and bad(), the model in use with its coefficients, residual
  /// standard deviation and mean, and the refit schedule. About 9 bytes per interval held.
  void save(io::Writer& w) const;
  /// Reads save()'s output into a predictor constructed with the same options; it then
  /// predicts, filters and refits exactly as the saved one would. Throws vigil::format_error
  /// (through `r`) for more intervals than `history`, a log count or lag value that is
  /// negative or not finite, an outlier mark on an unknown interval, another number of
  /// coefficients or one that is not finite or belongs to a lag the model does not use, a
  /// residual standard deviation that does not go with the model, or fit counters beyond the
  /// intervals held. On a throw the predictor is left empty, as clear() leaves it.
  void load(io::Reader& r);

 private:
  std::size_t slot(std::int64_t index) const {
    const auto cap = static_cast<std::int64_t>(capacity_);
    const std::int64_t r = index % cap;
    return static_cast<std::size_t>(r < 0 ? r + cap : r);
  }
  bool held(std::int64_t index) const { return size_ > 0 && index <= newest_ && index >= oldest(); }
  bool is_outlier(std::size_t s) const { return (outlier_bits_[s >> 6] >> (s & 63)) & 1u; }
  void set_outlier(std::size_t s, bool outlier);
  // Moves the newest interval to `index` (> newest_): the new intervals are known zeros,
  // each filtered in turn except the newest, which the caller sets and filters.
  void advance_to(std::int64_t index);
  // Decides the cleaned value and the outlier mark of a held interval from its observed
  // value and its one-step prediction.
  void settle_at(std::size_t s, std::size_t position);
  void settle(std::int64_t index) { settle_at(slot(index), static_cast<std::size_t>(index - oldest())); }
  // Re-runs settle() over the history in time order; returns how many marks changed.
  std::size_t refilter();
  // One-step prediction of log(count + 1) for a held or the next interval, from the cleaned
  // values held; a lag older than the history uses the mean. The interval is at ring slot
  // `s`, `position` intervals after the oldest held.
  double one_step_at(std::size_t s, std::size_t position) const;
  double one_step(std::int64_t index) const {
    return one_step_at(slot(index), static_cast<std::size_t>(index - oldest()));
  }
  std::size_t lags_in_use() const;
  // Fills lags_ from the options (recent, then seasonal with their windows); returns
  // whether there are seasonal lags.
  bool build_lags();
  // Sets options_.history when it is 0 and checks it against what the model needs.
  void resolve_history();
  // The log rate `h` > 1 steps ahead of the newest interval, for a model with `m` lags;
  // `sd` receives its standard deviation.
  double forecast(std::size_t h, std::size_t m, double& sd) const;
  void maybe_refit();
  // One least-squares fit of the richest model up to `richest` that the history supports.
  void fit_once(bool robust, RateModel richest);
  void robust_refit();
  bool fit_regression(const Eigen::VectorXd& x, const Eigen::VectorXd& y, const Eigen::VectorXd& keep,
                      std::size_t lag_count, double shift);
  std::size_t rows_needed(std::size_t coefficients) const;
  // load()'s two halves: the intervals held, then the counters and the model.
  void load_intervals(io::Reader& r);
  void load_model(io::Reader& r);
  double floored_sd(double sd, double log_rate) const {
    // Poisson counting noise of log(count + 1) at rate λ is about 1/√(λ + 1) (the delta
    // method gives √λ/(λ + 1); this form is the more cautious near zero).
    return std::max({sd, options_.min_log_sd, std::exp(-0.5 * log_rate)});
  }

  RatePredictorOptions options_;
  std::vector<std::size_t> lags_;  // in intervals: 1 … recent, then seasonal ascending
  std::size_t capacity_ = 0;       // options_.history
  std::vector<double> observed_;   // log(count + 1) by slot; NaN when unknown
  std::vector<double> cleaned_;    // the value used as a lag: observed, clipped or predicted
  std::vector<std::uint64_t> outlier_bits_;  // beyond outlier_z from the one-step prediction
  std::int64_t newest_ = 0;
  std::size_t size_ = 0;
  std::size_t unknown_ = 0;
  std::size_t outliers_ = 0;
  std::uint64_t late_ = 0;
  std::uint64_t bad_ = 0;

  RateModel model_ = RateModel::none;
  std::vector<double> coefficients_;  // 1 + lags_.size()
  double residual_sd_ = std::numeric_limits<double>::quiet_NaN();
  double mean_y_ = 0;  // mean of the fitted values at the last fit
  std::size_t fitted_on_ = 0;
  std::size_t added_since_fit_ = 0;
  std::size_t size_at_fit_ = 0;
  std::size_t recent_threshold_ = 0;    // size() from which the recent model can be fitted
  std::size_t seasonal_threshold_ = 0;  // size() from which the seasonal model can be fitted
};

// ---------------------------------------------------------------------------------------
// Implementation.

namespace detail {

// At most this many intervals, so that the rings (16 bytes each) stay within 2 GiB.
inline constexpr std::size_t max_rate_history = std::size_t{1} << 27;

[[noreturn]] VIGIL_NOINLINE inline void throw_rate_option(const std::string& what) {
  throw_invalid_argument("RatePredictor: " + what);
}

// Least squares of y_t on x_{t−lag} (lag ∈ lags[0, m)) and an intercept, over the rows
// t ≥ lags[m − 1] with keep_t = 1. The series arrive shifted by `shift` (the mean of the
// kept targets, close to every column's mean since each column is the series lagged), y is
// 0 where keep is 0, and x has no gaps. Cross-products are masked dot products of shifted
// slices of x, so no design matrix is built; they are centred and scaled to a correlation
// matrix, so no large sums cancel and the ridge term does not depend on the scale of the
// counts.
struct LaggedFit {
  std::vector<double> coefficients;  // intercept, then one per lag, for the unshifted series
  double rss = 0;                    // residual sum of squares over the kept rows
  std::size_t rows = 0;
  std::size_t parameters = 0;        // intercept + regressors with variation
  bool ok = false;
};

// The rows of the regression as slices of the series: row r is t = longest + r, with
// target y_t, weight keep_t and regressor j equal to x_{t−lags[j]}.
struct LaggedRows {
  const Eigen::VectorXd& x;
  const Eigen::VectorXd& y;
  const Eigen::VectorXd& keep;
  const std::size_t* lags;
  std::size_t m;
  Eigen::Index longest;
  Eigen::Index rows;

  auto column(std::size_t j) const { return x.segment(longest - static_cast<Eigen::Index>(lags[j]), rows); }
  auto kept() const { return keep.segment(longest, rows); }
  auto target() const { return y.segment(longest, rows); }
};

// Masked cross-products of the m regressors and the target (index m) over the kept rows:
// the lower triangle of their Gram matrix and their means.
struct LaggedMoments {
  std::size_t w = 0;  // m + 1
  double count = 0;   // kept rows
  std::vector<double> gram;
  std::vector<double> means;

  double raw(std::size_t i, std::size_t j) const { return i >= j ? gram[i * w + j] : gram[j * w + i]; }
  // The cross-product of deviations from the means.
  double centred(std::size_t i, std::size_t j) const { return raw(i, j) - count * means[i] * means[j]; }
};

inline LaggedMoments lagged_moments(const LaggedRows& d, double count) {
  LaggedMoments mo;
  const std::size_t m = d.m;
  mo.w = m + 1;
  mo.count = count;
  mo.gram.assign(mo.w * mo.w, 0.0);
  mo.means.resize(mo.w);
  const auto kept = d.kept();
  const auto target = d.target();
  for (std::size_t i = 0; i < m; ++i) {
    const auto ci = d.column(i);
    mo.means[i] = kept.dot(ci) / count;
    for (std::size_t j = 0; j <= i; ++j) mo.gram[i * mo.w + j] = (kept.array() * ci.array() * d.column(j).array()).sum();
    mo.gram[m * mo.w + i] = target.dot(ci);
  }
  mo.means[m] = target.sum() / count;
  mo.gram[m * mo.w + m] = target.squaredNorm();
  return mo;
}

// The regressors with variation and their root sums of squares; a regressor without
// variation (a lag over a stretch of zeros) gets coefficient 0.
struct ActiveRegressors {
  std::vector<std::size_t> index;
  std::vector<double> scale;
};

inline ActiveRegressors active_regressors(const LaggedMoments& mo) {
  ActiveRegressors a;
  for (std::size_t j = 0; j + 1 < mo.w; ++j) {
    const double ss = mo.centred(j, j);
    if (ss > 0 && ss > 1e-11 * mo.gram[j * mo.w + j]) {
      a.index.push_back(j);
      a.scale.push_back(std::sqrt(ss));
    }
  }
  return a;
}

// Slopes of the active regressors from the ridge-regularised correlation matrix (LDLT);
// false when it is singular or ill-conditioned.
inline bool solve_slopes(const LaggedMoments& mo, const ActiveRegressors& act, double ridge, Eigen::VectorXd& beta) {
  const auto a = static_cast<Eigen::Index>(act.index.size());
  const std::size_t target = mo.w - 1;
  beta = Eigen::VectorXd::Zero(a);
  if (a == 0) return true;
  Eigen::MatrixXd corr(a, a);
  Eigen::VectorXd rhs(a);
  for (Eigen::Index i = 0; i < a; ++i) {
    const auto ui = static_cast<std::size_t>(i);
    for (Eigen::Index j = 0; j <= i; ++j) {
      const auto uj = static_cast<std::size_t>(j);
      const double v = mo.centred(act.index[ui], act.index[uj]) / (act.scale[ui] * act.scale[uj]);
      corr(i, j) = v;
      corr(j, i) = v;
    }
    corr(i, i) += ridge;
    rhs(i) = mo.centred(target, act.index[ui]) / act.scale[ui];
  }
  const Eigen::LDLT<Eigen::MatrixXd> ldlt(corr);
  if (ldlt.info() != Eigen::Success || !ldlt.isPositive() || !(ldlt.rcond() > 1e-13)) return false;
  beta = ldlt.solve(rhs);
  for (Eigen::Index i = 0; i < a; ++i) beta(i) /= act.scale[static_cast<std::size_t>(i)];
  return beta.allFinite();
}

// Intercept, slopes and residual sum of squares of the solved fit, for the unshifted series.
inline void complete_fit(LaggedFit& fit, const LaggedRows& d, const LaggedMoments& mo, const ActiveRegressors& act,
                         const Eigen::VectorXd& beta, double shift) {
  const auto a = static_cast<Eigen::Index>(act.index.size());
  fit.coefficients.assign(mo.w, 0.0);
  double intercept = mo.means[d.m];  // of the shifted series
  double slope_sum = 0;
  for (Eigen::Index i = 0; i < a; ++i) {
    const std::size_t j = act.index[static_cast<std::size_t>(i)];
    fit.coefficients[1 + j] = beta(i);
    intercept -= beta(i) * mo.means[j];
    slope_sum += beta(i);
  }
  // Residuals from the shifted series in a second pass: exact where the cross-product form
  // would cancel.
  Eigen::VectorXd fitted = Eigen::VectorXd::Constant(d.rows, intercept);
  for (Eigen::Index i = 0; i < a; ++i) fitted += beta(i) * d.column(act.index[static_cast<std::size_t>(i)]);
  fit.rss = (d.kept().array() * (d.target() - fitted).array()).square().sum();
  // y − s = α + Σβ(x − s)  ⇒  y = (α + s − s·Σβ) + Σβx.
  fit.coefficients[0] = intercept + shift - shift * slope_sum;
  fit.parameters = act.index.size() + 1;
}

inline LaggedFit fit_lagged(const Eigen::VectorXd& x, const Eigen::VectorXd& y, const Eigen::VectorXd& keep,
                            const std::size_t* lags, std::size_t m, double shift, double ridge, std::size_t min_rows) {
  LaggedFit fit;
  const auto longest = static_cast<Eigen::Index>(lags[m - 1]);
  if (x.size() <= longest) return fit;
  const LaggedRows d{x, y, keep, lags, m, longest, x.size() - longest};
  const double count = d.kept().sum();
  const auto n = static_cast<std::size_t>(std::llround(count));
  if (n < min_rows) return fit;
  const LaggedMoments mo = lagged_moments(d, count);
  const ActiveRegressors act = active_regressors(mo);
  Eigen::VectorXd beta;
  if (!solve_slopes(mo, act, ridge, beta)) return fit;
  complete_fit(fit, d, mo, act, beta, shift);
  fit.rows = n;
  fit.ok = true;
  return fit;
}

}  // namespace detail

namespace detail {

// Throws naming the first scalar option out of range (the lags are checked as they are built).
inline void check_rate_options(const RatePredictorOptions& o) {
  const double finite_max = std::numeric_limits<double>::max();
  if (!(o.interval > 0 && o.interval <= finite_max))
    throw_rate_option("interval " + to_text(o.interval) + " s is not finite and positive");
  if (o.recent_lags > max_rate_history)
    throw_rate_option("recent_lags " + std::to_string(o.recent_lags) + " is more than " +
                      std::to_string(max_rate_history));
  if (o.seasonal_window == 0 || o.seasonal_window > max_rate_history)
    throw_rate_option("seasonal_window " + std::to_string(o.seasonal_window) + " is not between 1 and " +
                      std::to_string(max_rate_history));
  if (!(o.ridge >= 0 && o.ridge <= finite_max))
    throw_rate_option("ridge " + to_text(o.ridge) + " is not finite and >= 0");
  if (!(o.outlier_z >= 0 && o.outlier_z <= finite_max))
    throw_rate_option("outlier_z " + to_text(o.outlier_z) + " is not finite and >= 0");
  if (!(o.min_log_sd >= 0 && o.min_log_sd <= finite_max))
    throw_rate_option("min_log_sd " + to_text(o.min_log_sd) + " is not finite and >= 0");
}

// The seasonal lags as (lag in intervals, seconds as given), ascending; throws for a lag
// that is not a whole number of intervals longer than the recent lags.
inline std::vector<std::pair<std::size_t, double>> seasonal_lag_steps(const RatePredictorOptions& o) {
  std::vector<std::pair<std::size_t, double>> seasonal;
  for (double seconds : o.seasonal_lags) {
    const double steps = seconds / o.interval;
    if (!(seconds > 0 && steps <= static_cast<double>(max_rate_history)))
      throw_rate_option("seasonal lag " + to_text(seconds) + " s is not positive, or is more than " +
                        std::to_string(max_rate_history) + " intervals");
    const double whole = std::round(steps);
    if (!(whole >= 1) || std::fabs(steps - whole) > 1e-9 * whole)
      throw_rate_option("seasonal lag " + to_text(seconds) + " s is not a whole multiple of the interval " +
                        to_text(o.interval) + " s");
    const auto lag = static_cast<std::size_t>(whole);
    if (lag <= o.recent_lags)
      throw_rate_option("seasonal lag " + to_text(seconds) + " s (" + std::to_string(lag) +
                        " intervals) is not longer than the recent lags (" + std::to_string(o.recent_lags) + ")");
    seasonal.emplace_back(lag, seconds);
  }
  std::sort(seasonal.begin(), seasonal.end());
  return seasonal;
}

}  // namespace detail

inline RatePredictorOptions RatePredictorOptions::for_interval(double seconds) {
  if (!(seconds > 0 && seconds <= std::numeric_limits<double>::max()))
    detail::throw_rate_option("interval " + detail::to_text(seconds) + " s is not finite and positive");
  constexpr double day = 86400;
  RatePredictorOptions o;
  o.interval = seconds;
  const double per_day = day / seconds;
  o.recent_lags = static_cast<std::size_t>(std::clamp(std::floor(per_day / 6), 1.0, 4.0));
  o.refit_every = static_cast<std::size_t>(std::clamp(std::round(per_day), 1.0, 60.0));
  // Weekly lags when four weeks of history (two weeks of lags, twice) fit within the
  // intervals the 1-minute defaults hold; below that, the daily lags alone.
  const bool weekly = 28 * per_day <= 10080;
  o.seasonal_lags.clear();
  for (double lag : weekly ? std::vector<double>{day, 7 * day, 14 * day} : std::vector<double>{day, 2 * day}) {
    const double whole = std::round(lag / seconds);
    if (whole > static_cast<double>(o.recent_lags)) o.seasonal_lags.push_back(whole * seconds);
  }
  o.seasonal_window = weekly && seconds <= 3600 ? 2 : 1;
  return o;
}

inline RatePredictor::RatePredictor(RatePredictorOptions options) : options_(std::move(options)) {
  detail::check_rate_options(options_);
  const bool seasonal = build_lags();
  const std::size_t p = options_.recent_lags;
  const std::size_t k = 1 + lags_.size();
  recent_threshold_ = p > 0 ? p + rows_needed(1 + p) : 0;
  seasonal_threshold_ = seasonal ? lags_.back() + rows_needed(k) : 0;
  resolve_history();
  capacity_ = options_.history;
  observed_.assign(capacity_, 0.0);
  cleaned_.assign(capacity_, 0.0);
  outlier_bits_.assign((capacity_ + 63) / 64, 0);
  coefficients_.assign(k, 0.0);
}

inline bool RatePredictor::build_lags() {
  for (std::size_t i = 1; i <= options_.recent_lags; ++i) lags_.push_back(i);
  const auto seasonal = detail::seasonal_lag_steps(options_);
  const std::size_t window = options_.seasonal_window;
  for (std::size_t i = 0; i < seasonal.size(); ++i) {
    if (i > 0 && seasonal[i].first < seasonal[i - 1].first + window)
      detail::throw_rate_option("seasonal lags " + detail::to_text(seasonal[i - 1].second) + " s and " +
                                detail::to_text(seasonal[i].second) + " s overlap (seasonal_window " +
                                std::to_string(window) + ")");
    for (std::size_t j = 0; j < window; ++j) lags_.push_back(seasonal[i].first + j);
  }
  return !seasonal.empty();
}

inline void RatePredictor::resolve_history() {
  using detail::throw_rate_option;
  const std::size_t longest = lags_.empty() ? 0 : lags_.back();
  const std::size_t needed = std::max({recent_threshold_, seasonal_threshold_, std::size_t{1}});
  if (options_.history == 0) {
    const double week = std::ceil(7 * 86400.0 / options_.interval);
    if (!(week <= static_cast<double>(detail::max_rate_history)))
      throw_rate_option("interval " + detail::to_text(options_.interval) + " s makes 7 days more than " +
                        std::to_string(detail::max_rate_history) + " intervals of history");
    options_.history = std::max({static_cast<std::size_t>(week), 2 * longest, needed});
  } else if (options_.history < needed) {
    throw_rate_option("history " + std::to_string(options_.history) + " intervals is too short: the model needs " +
                      std::to_string(needed));
  }
  if (options_.history > detail::max_rate_history)
    throw_rate_option("history " + std::to_string(options_.history) + " intervals is more than " +
                      std::to_string(detail::max_rate_history));
}

inline std::size_t RatePredictor::rows_needed(std::size_t coefficients) const {
  const std::size_t wanted = options_.min_fit_intervals != 0 ? options_.min_fit_intervals : 10 * coefficients;
  return std::max(wanted, coefficients + 2);
}

inline std::size_t RatePredictor::lags_in_use() const {
  switch (model_) {
    case RateModel::recent: return options_.recent_lags;
    case RateModel::seasonal: return lags_.size();
    default: return 0;
  }
}

inline void RatePredictor::set_outlier(std::size_t s, bool outlier) {
  if (is_outlier(s) == outlier) return;
  outlier_bits_[s >> 6] ^= std::uint64_t{1} << (s & 63);
  if (outlier)
    ++outliers_;
  else
    --outliers_;
}

inline double RatePredictor::count_at(std::int64_t interval_index) const {
  if (!held(interval_index)) return std::numeric_limits<double>::quiet_NaN();
  return std::expm1(observed_[slot(interval_index)]);  // NaN stays NaN
}

inline std::size_t RatePredictor::memory_bytes() const {
  return sizeof(*this) + (observed_.capacity() + cleaned_.capacity()) * sizeof(double) +
         outlier_bits_.capacity() * sizeof(std::uint64_t) + lags_.capacity() * sizeof(std::size_t) +
         coefficients_.capacity() * sizeof(double) + options_.seasonal_lags.capacity() * sizeof(double);
}

inline void RatePredictor::clear() {
  std::fill(observed_.begin(), observed_.end(), 0.0);
  std::fill(cleaned_.begin(), cleaned_.end(), 0.0);
  std::fill(outlier_bits_.begin(), outlier_bits_.end(), 0);
  std::fill(coefficients_.begin(), coefficients_.end(), 0.0);
  newest_ = 0;
  size_ = unknown_ = outliers_ = 0;
  late_ = bad_ = 0;
  model_ = RateModel::none;
  residual_sd_ = std::numeric_limits<double>::quiet_NaN();
  mean_y_ = 0;
  fitted_on_ = added_since_fit_ = size_at_fit_ = 0;
}

namespace detail {
// Flags of an interval in RatePredictor::save.
inline constexpr std::uint8_t rate_unknown = 1;   // its count is unknown: no log count follows
inline constexpr std::uint8_t rate_outlier = 2;   // the robust filter marks it
inline constexpr std::uint8_t rate_lag_value = 4;  // the value its lags read follows
inline bool same_bits(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; }
}  // namespace detail

inline void RatePredictor::save(io::Writer& w) const {
  w.varint(size_);
  if (size_ > 0) w.i64(newest_);
  std::size_t s = size_ == 0 ? 0 : slot(oldest());
  for (std::size_t i = 0; i < size_; ++i, s = s + 1 == capacity_ ? 0 : s + 1) {
    const bool unknown = std::isnan(observed_[s]);
    const bool apart = unknown || !detail::same_bits(observed_[s], cleaned_[s]);
    w.u8(static_cast<std::uint8_t>((unknown ? detail::rate_unknown : 0) | (is_outlier(s) ? detail::rate_outlier : 0) |
                                   (apart ? detail::rate_lag_value : 0)));
    if (!unknown) w.f64(observed_[s]);
    if (apart) w.f64(cleaned_[s]);
  }
  w.varint(late_);
  w.varint(bad_);
  w.u8(static_cast<std::uint8_t>(model_));
  w.varint(coefficients_.size());
  for (double c : coefficients_) w.f64(c);
  w.f64(residual_sd_);
  w.f64(mean_y_);
  w.varint(fitted_on_);
  w.varint(added_since_fit_);
  w.varint(size_at_fit_);
}

inline void RatePredictor::load(io::Reader& r) {
  clear();
  try {
    load_intervals(r);
    load_model(r);
  } catch (...) {
    clear();
    throw;
  }
}

inline void RatePredictor::load_intervals(io::Reader& r) {
  const std::uint64_t size = r.varint();
  if (size > capacity_)
    r.fail("RatePredictor: " + std::to_string(size) + " intervals held, more than the history " + std::to_string(capacity_));
  if (size == 0) return;
  const std::int64_t newest = r.i64();
  if (newest < std::numeric_limits<std::int64_t>::min() + static_cast<std::int64_t>(size - 1))
    r.fail("RatePredictor: the oldest of " + std::to_string(size) + " intervals before " + std::to_string(newest) +
           " is out of range");
  newest_ = newest;
  size_ = static_cast<std::size_t>(size);
  const auto value = [&r](const char* what) {
    const double v = r.f64();
    if (!(v >= 0) || !std::isfinite(v)) r.fail(std::string("RatePredictor: ") + what + " " + detail::to_text(v) + " is not finite and >= 0");
    return v;
  };
  std::size_t s = slot(oldest());
  for (std::size_t i = 0; i < size_; ++i, s = s + 1 == capacity_ ? 0 : s + 1) {
    const std::uint8_t flags = r.u8();
    const bool unknown = (flags & detail::rate_unknown) != 0;
    if (flags > 7 || (unknown && (flags & detail::rate_outlier)) || (unknown && !(flags & detail::rate_lag_value)))
      r.fail("RatePredictor: interval flags " + std::to_string(flags) + " are invalid");
    observed_[s] = unknown ? std::numeric_limits<double>::quiet_NaN() : value("log count");
    cleaned_[s] = (flags & detail::rate_lag_value) ? value("lag value") : observed_[s];
    if (!unknown && (flags & detail::rate_lag_value) && detail::same_bits(observed_[s], cleaned_[s]))
      r.fail("RatePredictor: a lag value written apart equals its log count");
    set_outlier(s, (flags & detail::rate_outlier) != 0);
    unknown_ += unknown ? 1 : 0;
  }
}

inline void RatePredictor::load_model(io::Reader& r) {
  late_ = r.varint();
  bad_ = r.varint();
  const std::uint8_t model = r.u8();
  if (model > static_cast<std::uint8_t>(RateModel::seasonal)) r.fail("RatePredictor: model " + std::to_string(model) + " is out of range");
  model_ = static_cast<RateModel>(model);
  if ((model_ == RateModel::recent && options_.recent_lags == 0) ||
      (model_ == RateModel::seasonal && lags_.size() <= options_.recent_lags))
    r.fail(std::string("RatePredictor: model ") + to_string(model_) + " without its lags");
  const std::uint64_t k = r.varint();
  if (k != coefficients_.size())
    r.fail("RatePredictor: " + std::to_string(k) + " coefficients, " + std::to_string(coefficients_.size()) + " expected");
  const std::size_t used = model_ == RateModel::none ? 0 : 1 + lags_in_use();
  for (std::size_t j = 0; j < coefficients_.size(); ++j) {
    coefficients_[j] = r.f64();
    if (!std::isfinite(coefficients_[j]) || (j >= used && coefficients_[j] != 0))
      r.fail("RatePredictor: coefficient " + std::to_string(j) + " is " + detail::to_text(coefficients_[j]));
  }
  residual_sd_ = r.f64();
  mean_y_ = r.f64();
  const bool none = model_ == RateModel::none;
  if (none ? !std::isnan(residual_sd_) || mean_y_ != 0 : !(residual_sd_ >= 0) || !std::isfinite(residual_sd_) || !std::isfinite(mean_y_))
    r.fail("RatePredictor: residual sd " + detail::to_text(residual_sd_) + " or mean " + detail::to_text(mean_y_) +
           " does not go with model " + to_string(model_));
  fitted_on_ = static_cast<std::size_t>(r.varint());
  added_since_fit_ = static_cast<std::size_t>(r.varint());
  size_at_fit_ = static_cast<std::size_t>(r.varint());
  if (size_at_fit_ > size_ || fitted_on_ > size_at_fit_ || (none && fitted_on_ != 0))
    r.fail("RatePredictor: fitted on " + std::to_string(fitted_on_) + " of " + std::to_string(size_at_fit_) +
           " intervals, with " + std::to_string(size_) + " held");
}

inline double RatePredictor::one_step_at(std::size_t s, std::size_t position) const {
  if (model_ == RateModel::none) return 0.0;
  const std::size_t m = lags_in_use();
  double mu = coefficients_[0];
  for (std::size_t j = 0; j < m; ++j) {
    const std::size_t lag = lags_[j];  // ≤ capacity_ by construction
    mu += coefficients_[j + 1] * (lag <= position ? cleaned_[s >= lag ? s - lag : s + capacity_ - lag] : mean_y_);
  }
  return std::max(mu, 0.0);
}

inline void RatePredictor::settle_at(std::size_t s, std::size_t position) {
  const double y = observed_[s];
  set_outlier(s, false);
  if (model_ == RateModel::none) {
    cleaned_[s] = std::isnan(y) ? 0.0 : y;
    return;
  }
  const double mu = one_step_at(s, position);
  if (std::isnan(y)) {
    cleaned_[s] = mu;
    return;
  }
  cleaned_[s] = y;
  // An interval whose lags are not all held cannot be judged by the model.
  const std::size_t m = lags_in_use();
  if (m > 0 && lags_[m - 1] > position) return;
  if (!(options_.outlier_z > 0)) return;
  // Most intervals are within the bound before the Poisson floor: no exp() for them.
  const double deviation = std::fabs(y - mu);
  if (deviation <= options_.outlier_z * std::max(residual_sd_, options_.min_log_sd)) return;
  const double bound = options_.outlier_z * floored_sd(residual_sd_, mu);
  if (deviation > bound) {
    // Clipped, not replaced by the prediction: a lag that ignored the data altogether would
    // let the cleaned series run free on the model's own forecasts and lose the data.
    cleaned_[s] = y > mu ? mu + bound : mu - bound;
    set_outlier(s, true);
  }
}

inline std::size_t RatePredictor::refilter() {
  std::size_t changed = 0;
  std::size_t s = size_ == 0 ? 0 : slot(oldest());
  for (std::size_t i = 0; i < size_; ++i) {
    const bool was = is_outlier(s);
    settle_at(s, i);
    changed += was != is_outlier(s);
    s = s + 1 == capacity_ ? 0 : s + 1;
  }
  return changed;
}

inline void RatePredictor::advance_to(std::int64_t index) {
  // index > newest_, so the difference fits in 64 unsigned bits across the whole range.
  const std::uint64_t gap = static_cast<std::uint64_t>(index) - static_cast<std::uint64_t>(newest_);
  const bool wraps = gap >= capacity_;
  const auto fill = static_cast<std::int64_t>(wraps ? capacity_ : gap);
  const auto cap = static_cast<std::int64_t>(capacity_);
  const std::int64_t old_first = oldest();
  if (wraps) {  // every interval held leaves the history
    unknown_ = outliers_ = 0;
    std::fill(outlier_bits_.begin(), outlier_bits_.end(), 0);
  }
  // Each new interval takes the slot of the interval `capacity_` before it.
  for (std::int64_t j = index - fill + 1; j <= index; ++j) {
    const std::size_t s = slot(j);
    if (!wraps && j - cap >= old_first) {
      if (std::isnan(observed_[s])) --unknown_;
      set_outlier(s, false);
    }
    observed_[s] = 0.0;
    cleaned_[s] = 0.0;
  }
  newest_ = index;
  size_ = static_cast<std::size_t>(std::min<std::uint64_t>(size_ + gap, capacity_));
  added_since_fit_ += static_cast<std::size_t>(std::min<std::uint64_t>(gap, capacity_));
  if (fill > 1) {
    for (std::int64_t j = index - fill + 1; j < index; ++j) settle(j);
  }
}

inline void RatePredictor::add(std::int64_t interval_index, double count) {
  if (VIGIL_UNLIKELY(!(count >= 0 && count <= std::numeric_limits<double>::max()))) {
    ++bad_;
    return;
  }
  if (size_ == 0) {
    newest_ = interval_index;
    size_ = 1;
    added_since_fit_ = 1;
  } else if (interval_index > newest_) {
    advance_to(interval_index);
  } else if (interval_index >= oldest()) {
    double& y = observed_[slot(interval_index)];
    if (std::isnan(y)) {
      y = std::log1p(count);
      --unknown_;
    } else {
      y = std::log1p(std::expm1(y) + count);
    }
    settle(interval_index);
    return;
  } else {
    ++late_;
    return;
  }
  observed_[slot(interval_index)] = std::log1p(count);
  settle(interval_index);
  maybe_refit();
}

inline void RatePredictor::add_unknown(std::int64_t interval_index) {
  bool moved = true;
  if (size_ == 0) {
    newest_ = interval_index;
    size_ = 1;
    added_since_fit_ = 1;
    observed_[slot(interval_index)] = 0.0;
  } else if (interval_index > newest_) {
    advance_to(interval_index);
  } else if (interval_index >= oldest()) {
    moved = false;
  } else {
    ++late_;
    return;
  }
  double& y = observed_[slot(interval_index)];
  if (!std::isnan(y)) {
    y = std::numeric_limits<double>::quiet_NaN();
    ++unknown_;
  }
  settle(interval_index);
  if (moved) maybe_refit();
}

inline void RatePredictor::maybe_refit() {
  const bool crossed = (size_at_fit_ < recent_threshold_ && recent_threshold_ <= size_) ||
                       (size_at_fit_ < seasonal_threshold_ && seasonal_threshold_ <= size_);
  const std::size_t first_regression = recent_threshold_ != 0 ? recent_threshold_ : seasonal_threshold_;
  const bool warming_up = model_ <= RateModel::mean && (first_regression == 0 ? model_ == RateModel::none
                                                                              : size_ < first_regression);
  const bool due = options_.refit_every != 0 && added_since_fit_ >= options_.refit_every;
  if (crossed || due || warming_up) fit();
}

inline RatePrediction RatePredictor::predict(std::int64_t interval_index) const {
  RatePrediction out;
  out.interval_index = interval_index;
  if (size_ > 0 && interval_index > newest_)
    out.steps_ahead = static_cast<std::size_t>(std::min<std::uint64_t>(
        static_cast<std::uint64_t>(interval_index) - static_cast<std::uint64_t>(newest_),
        std::numeric_limits<std::size_t>::max()));
  if (model_ == RateModel::none) return out;
  const std::size_t m = lags_in_use();
  out.model = model_;
  out.fitted_on = fitted_on_;
  double log_rate = 0;
  double sd = residual_sd_;
  if (interval_index <= newest_) {
    const std::int64_t needs = interval_index - static_cast<std::int64_t>(m == 0 ? 0 : lags_[m - 1]);
    if (needs < oldest())
      detail::throw_rate_option("interval_index " + std::to_string(interval_index) + " needs interval " +
                                std::to_string(needs) + ", older than the oldest held (" + std::to_string(oldest()) +
                                ")");
    log_rate = one_step(interval_index);
  } else {
    const std::size_t h = out.steps_ahead;
    if (h > capacity_)
      detail::throw_rate_option("interval_index " + std::to_string(interval_index) + " is " + std::to_string(h) +
                                " intervals ahead of the newest, more than the history (" +
                                std::to_string(capacity_) + ")");
    if (h == 1 || m == 0) {
      log_rate = one_step(interval_index);
    } else {
      log_rate = forecast(h, m, sd);
    }
  }
  out.log_rate = log_rate;
  out.rate = std::max(std::expm1(log_rate), 0.0);
  out.log_sd = floored_sd(sd, log_rate);
  return out;
}

// Iterates the model on its own predictions through the intervals between, and sums the
// squared impulse response ψ for the forecast variance σ²·Σ_{j<h} ψ_j².
inline double RatePredictor::forecast(std::size_t h, std::size_t m, double& sd) const {
  std::vector<double> path(h);
  std::vector<double> psi(h, 0.0);
  psi[0] = 1;
  double gain = 1;
  for (std::size_t s = 1; s <= h; ++s) {
    double mu = coefficients_[0];
    for (std::size_t j = 0; j < m; ++j) {
      const std::size_t lag = lags_[j];
      double value;
      if (lag < s) {
        value = path[s - lag - 1];
      } else {
        const std::int64_t at = newest_ + static_cast<std::int64_t>(s) - static_cast<std::int64_t>(lag);
        value = held(at) ? cleaned_[slot(at)] : mean_y_;
      }
      mu += coefficients_[j + 1] * value;
    }
    path[s - 1] = std::max(mu, 0.0);
    if (s < h) {
      double response = 0;
      for (std::size_t j = 0; j < m && lags_[j] <= s; ++j) response += coefficients_[j + 1] * psi[s - lags_[j]];
      psi[s] = response;
      gain += response * response;
    }
  }
  sd = residual_sd_ * std::sqrt(gain);
  return path[h - 1];
}

inline void RatePredictor::fit() {
  added_since_fit_ = 0;
  size_at_fit_ = size_;
  // Once the full model is in use, refit it without the intervals the filter marked as
  // they arrived. Otherwise, fit the counts as observed: that decides which model the
  // history supports, and marks made by a simpler model are not trusted, so that they
  // cannot lock themselves in. Then re-run the filter with the new coefficients, and if
  // that changed which intervals are outliers, fit once more on the new marks.
  const bool robust = options_.outlier_z > 0;
  const RateModel full = lags_.size() > options_.recent_lags ? RateModel::seasonal
                         : options_.recent_lags > 0        ? RateModel::recent
                                                           : RateModel::mean;
  if (robust && model_ == full && outliers_ > 0) {
    fit_once(true, full);
    if (model_ != full) fit_once(false, full);  // too few rows left without the outliers
  } else {
    fit_once(false, full);
  }
  if (refilter() > 0 && robust && model_ != RateModel::none) {
    robust_refit();
    refilter();
  }
}

inline void RatePredictor::robust_refit() {
  // Keeps the fit in use when too few rows remain for its model without the outliers.
  const RateModel tier = model_;
  std::vector<double> coefficients = coefficients_;
  const double residual_sd = residual_sd_, mean_y = mean_y_;
  const std::size_t fitted_on = fitted_on_;
  fit_once(true, tier);
  if (model_ != tier) {
    model_ = tier;
    coefficients_ = std::move(coefficients);
    residual_sd_ = residual_sd;
    mean_y_ = mean_y;
    fitted_on_ = fitted_on;
  }
}

inline void RatePredictor::fit_once(bool robust, RateModel richest) {
  // The history in time order: the values the lags read (as observed, or cleaned in a
  // robust fit; the stand-in when unknown) and the targets, kept unless unknown (or an
  // outlier in a robust fit). Both are then shifted by the mean of the kept targets.
  const auto size = static_cast<Eigen::Index>(size_);
  Eigen::VectorXd x(size), y(size), keep(size);
  double sum = 0;
  std::size_t known = 0;
  std::size_t s = size_ == 0 ? 0 : slot(oldest());
  for (Eigen::Index i = 0; i < size; ++i, s = s + 1 == capacity_ ? 0 : s + 1) {
    const double observed = observed_[s];
    x(i) = robust || std::isnan(observed) ? cleaned_[s] : observed;
    const bool kept = !std::isnan(observed) && !(robust && is_outlier(s));
    y(i) = kept ? observed : 0.0;
    keep(i) = kept ? 1.0 : 0.0;
    if (kept) {
      sum += observed;
      ++known;
    }
  }
  std::fill(coefficients_.begin(), coefficients_.end(), 0.0);
  if (known == 0) {
    model_ = RateModel::none;
    residual_sd_ = std::numeric_limits<double>::quiet_NaN();
    mean_y_ = 0;
    fitted_on_ = 0;
    return;
  }
  const double mean = sum / static_cast<double>(known);
  mean_y_ = mean;
  x.array() -= mean;
  y.array() = keep.array() * (y.array() - mean);
  const std::size_t p = options_.recent_lags;
  if (richest >= RateModel::seasonal && lags_.size() > p && size_ >= seasonal_threshold_ &&
      fit_regression(x, y, keep, lags_.size(), mean)) {
    model_ = RateModel::seasonal;
  } else if (richest >= RateModel::recent && p > 0 && size_ >= recent_threshold_ &&
             fit_regression(x, y, keep, p, mean)) {
    model_ = RateModel::recent;
  } else {
    model_ = RateModel::mean;
    coefficients_[0] = mean;
    residual_sd_ = known > 1 ? std::sqrt(y.squaredNorm() / static_cast<double>(known - 1)) : 0.0;
    fitted_on_ = known;
  }
}

inline bool RatePredictor::fit_regression(const Eigen::VectorXd& x, const Eigen::VectorXd& y, const Eigen::VectorXd& keep,
                                          std::size_t lag_count, double shift) {
  const detail::LaggedFit fit =
      detail::fit_lagged(x, y, keep, lags_.data(), lag_count, shift, options_.ridge, rows_needed(1 + lag_count));
  if (!fit.ok) return false;
  std::copy(fit.coefficients.begin(), fit.coefficients.end(), coefficients_.begin());
  residual_sd_ = std::sqrt(fit.rss / static_cast<double>(fit.rows - fit.parameters));
  fitted_on_ = fit.rows;
  return true;
}

}  // namespace vigil

// vigil — in-process monitoring of machine-learning models in C++ inference servers.
// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "vigil/error.hpp"
#include "vigil/io/binary.hpp"
#include "vigil/stats/detail/checks.hpp"
#include "vigil/stats/special_functions.hpp"
#include "vigil/stats/test_result.hpp"

/// Calibration of predicted probabilities: do events predicted with probability p happen a
/// share p of the time? Reliability bins with the expected calibration error and the
/// Hosmer–Lemeshow test, and an isotonic map from scores to calibrated probabilities.
namespace vigil::stats {

/// Running sums of one reliability bin: how many predictions fell in it, the sum of their
/// probabilities and the sum of their 0/1 labels. Kept as sums so that merging two windows
/// (or two replicas) is adding.
struct ReliabilitySums {
  double count = 0;
  double sum_predicted = 0;
  double sum_positive = 0;

  ReliabilitySums& operator+=(const ReliabilitySums& other) {
    count += other.count;
    sum_predicted += other.sum_predicted;
    sum_positive += other.sum_positive;
    return *this;
  }
};

/// One point of a reliability diagram: the bin's count, mean predicted probability and share
/// of positives (sklearn.calibration.calibration_curve's prob_pred and prob_true).
struct ReliabilityBin {
  double count;
  double mean_predicted;
  double fraction_positive;
};

namespace detail {

/// Throws unless 0 ≤ sum_predicted, sum_positive ≤ count (with room for rounding), all finite.
inline void check_reliability_sums(const char* function, const std::vector<ReliabilitySums>& sums) {
  for (std::size_t i = 0; i < sums.size(); ++i) {
    const ReliabilitySums& s = sums[i];
    const double room = s.count * (1 + 1e-9);
    const bool valid = std::isfinite(s.count) && s.count >= 0 && std::isfinite(s.sum_predicted) &&
                       s.sum_predicted >= 0 && s.sum_predicted <= room && std::isfinite(s.sum_positive) &&
                       s.sum_positive >= 0 && s.sum_positive <= room;
    if (VIGIL_UNLIKELY(!valid))
      throw_bad_argument(function, "sums[" + std::to_string(i) + "] = {count " + vigil::detail::to_text(s.count) +
                                       ", sum_predicted " + vigil::detail::to_text(s.sum_predicted) +
                                       ", sum_positive " + vigil::detail::to_text(s.sum_positive) +
                                       "} is not a valid bin (each sum in [0, count])");
  }
}

/// Throws unless the samples pair up, every probability is in [0, 1] and every label 0 or 1.
inline void check_probability_labels(const char* function, const std::vector<double>& probabilities,
                                     const std::vector<int>& labels) {
  check_same_size(function, "probabilities", probabilities.size(), "labels", labels.size());
  for (std::size_t i = 0; i < probabilities.size(); ++i) {
    const double p = probabilities[i];
    if (VIGIL_UNLIKELY(!(p >= 0 && p <= 1))) throw_bad_element(function, "probabilities", i, p, "is not in [0, 1]");
    if (VIGIL_UNLIKELY(labels[i] != 0 && labels[i] != 1))
      throw_bad_argument(function, "labels[" + std::to_string(i) + "] = " + std::to_string(labels[i]) +
                                       " is neither 0 nor 1");
  }
}

}  // namespace detail

/// The equal-width bin of [0, 1] that a probability falls in, among `bins`: bin i holds
/// (i/bins, (i + 1)/bins], bin 0 also 0 — the edges of numpy.linspace(0, 1, bins + 1) and
/// numpy.searchsorted as sklearn.calibration.calibration_curve(strategy="uniform") uses them,
/// so a probability on an inner edge goes to the bin below, exactly as there. Throws
/// vigil::invalid_argument when bins is 0 or the probability is not in [0, 1]. O(1).
inline std::size_t reliability_bin_index(double probability, std::size_t bins) {
  if (VIGIL_UNLIKELY(bins == 0)) detail::throw_bad_argument("reliability_bin_index", "bins = 0");
  if (VIGIL_UNLIKELY(!(probability >= 0 && probability <= 1)))
    detail::throw_bad_argument("reliability_bin_index",
                               "probability = " + vigil::detail::to_text(probability) + " is not in [0, 1]");
  const double step = 1.0 / static_cast<double>(bins);
  const auto edge = [step](std::size_t i) { return static_cast<double>(i) * step; };
  auto index = static_cast<std::size_t>(std::fmax(0.0, std::floor(probability * static_cast<double>(bins))));
  index = std::min(index, bins - 1);
  while (index > 0 && !(edge(index) < probability)) --index;
  while (index + 1 < bins && edge(index + 1) < probability) ++index;
  return index;
}

/// The running sums of `bins` equal-width bins on [0, 1] (reliability_bin_index), empty bins
/// included, so that the sums of two windows add bin by bin. Throws vigil::invalid_argument
/// when bins is 0, the sizes differ, a probability is not in [0, 1] or a label is not 0 or 1.
/// O(n + bins).
inline std::vector<ReliabilitySums> reliability_sums(const std::vector<double>& probabilities,
                                                     const std::vector<int>& labels, std::size_t bins = 10) {
  if (bins == 0) detail::throw_bad_argument("reliability_sums", "bins = 0");
  detail::check_probability_labels("reliability_sums", probabilities, labels);
  std::vector<ReliabilitySums> sums(bins);
  for (std::size_t i = 0; i < probabilities.size(); ++i) {
    ReliabilitySums& s = sums[reliability_bin_index(probabilities[i], bins)];
    s.count += 1;
    s.sum_predicted += probabilities[i];
    s.sum_positive += labels[i];
  }
  return sums;
}

/// The reliability diagram of running sums: one ReliabilityBin per bin of positive count, in
/// order; empty bins are left out, as sklearn.calibration.calibration_curve leaves them out.
/// Throws vigil::invalid_argument on invalid sums (a sum outside [0, count]). O(bins).
inline std::vector<ReliabilityBin> reliability_bins(const std::vector<ReliabilitySums>& sums) {
  detail::check_reliability_sums("reliability_bins", sums);
  std::vector<ReliabilityBin> out;
  for (const ReliabilitySums& s : sums) {
    if (s.count > 0) out.push_back(ReliabilityBin{s.count, s.sum_predicted / s.count, s.sum_positive / s.count});
  }
  return out;
}

/// reliability_bins(reliability_sums(probabilities, labels, bins)): the points of
/// sklearn.calibration.calibration_curve(labels, probabilities, n_bins=bins,
/// strategy="uniform"), with their counts. Throws as reliability_sums.
inline std::vector<ReliabilityBin> reliability_bins(const std::vector<double>& probabilities,
                                                    const std::vector<int>& labels, std::size_t bins = 10) {
  return reliability_bins(reliability_sums(probabilities, labels, bins));
}

/// Expected calibration error (Naeini, Cooper & Hauskrecht 2015): Σ_b (n_b / N) |fraction
/// positive_b − mean predicted_b| over the bins. NaN when every bin is empty. Throws
/// vigil::invalid_argument when a count is negative or not finite, or a mean is not in [0, 1].
/// O(bins).
inline double expected_calibration_error(const std::vector<ReliabilityBin>& bins) {
  detail::CompensatedSum weighted_gap;
  double total = 0;
  for (std::size_t i = 0; i < bins.size(); ++i) {
    const ReliabilityBin& b = bins[i];
    const bool valid = std::isfinite(b.count) && b.count >= 0 && b.mean_predicted >= 0 && b.mean_predicted <= 1 &&
                       b.fraction_positive >= 0 && b.fraction_positive <= 1;
    if (VIGIL_UNLIKELY(!valid))
      detail::throw_bad_argument("expected_calibration_error",
                                 "bins[" + std::to_string(i) + "] = {count " + vigil::detail::to_text(b.count) +
                                     ", mean_predicted " + vigil::detail::to_text(b.mean_predicted) +
                                     ", fraction_positive " + vigil::detail::to_text(b.fraction_positive) +
                                     "} is not a valid bin");
    weighted_gap.add(b.count * std::fabs(b.fraction_positive - b.mean_predicted));
    total += b.count;
  }
  return total > 0 ? weighted_gap.value() / total : std::numeric_limits<double>::quiet_NaN();
}

/// expected_calibration_error of running sums: Σ_b |Σy_b − Σp_b| / N. Throws as
/// reliability_bins.
inline double expected_calibration_error(const std::vector<ReliabilitySums>& sums) {
  return expected_calibration_error(reliability_bins(sums));
}

/// Hosmer–Lemeshow goodness-of-fit test of calibration on reliability bins (Hosmer &
/// Lemeshow 1980, the Ĥ statistic on fixed cut points): H = Σ_g (O_g − E_g)² / (E_g (1 −
/// E_g / n_g)) over the non-empty bins, with O_g = Σy, E_g = Σp, n_g the count; p-value from
/// chi-square with G − 2 degrees of freedom (G non-empty bins), as the original test on a
/// fitted logistic model. Use it on a holdout not used to fit the model's calibration, and
/// read it with the sample size in mind: with many labels any miscalibration is significant.
///
/// A bin whose predictions are all 0 or all 1 (E_g(1 − E_g/n_g) = 0) adds 0 when O_g = E_g and
/// makes H infinite otherwise. With G ≤ 2 the p-value is NaN. Throws as reliability_bins.
/// O(bins).
inline TestResult hosmer_lemeshow_test(const std::vector<ReliabilitySums>& sums) {
  detail::check_reliability_sums("hosmer_lemeshow_test", sums);
  detail::CompensatedSum statistic;
  double groups = 0;
  for (const ReliabilitySums& s : sums) {
    if (!(s.count > 0)) continue;
    groups += 1;
    const double gap = s.sum_positive - s.sum_predicted;
    const double variance = s.sum_predicted * (1 - s.sum_predicted / s.count);
    if (variance > 0) {
      statistic.add(gap * gap / variance);
    } else if (gap != 0) {
      statistic.add(std::numeric_limits<double>::infinity());
    }
  }
  const double h = statistic.value();
  const double df = groups - 2;
  const double p = df > 0 ? chi_square_sf(h, df) : std::numeric_limits<double>::quiet_NaN();
  return TestResult{h, p, df > 0 ? df : 0};
}

/// An increasing map from scores to calibrated probabilities, fitted by isotonic regression
/// with the pool-adjacent-violators algorithm (Ayer, Brunk, Ewing, Reid & Silverman 1955;
/// Barlow, Bartholomew, Bremner & Brunk 1972), as
/// sklearn.isotonic.IsotonicRegression(increasing=True, out_of_bounds="clip"): the fitted
/// points are interpolated linearly, and a score outside them takes the nearest end's value.
///
/// Bounded: it holds at most max_points points (at most the number of distinct scores).
/// With more distinct scores than that, fitting first pools consecutive scores into
/// max_points bins of equal weight (quantile bins), each at its weighted mean score, and runs
/// the regression on the bins; with fewer it is exactly scikit-learn's fit. A
/// default-constructed map is empty and maps every score to NaN.
class IsotonicCalibration {
 public:
  /// The most points a fitted map holds.
  static constexpr std::size_t max_points = 4096;
  /// The version byte serialize() writes first.
  static constexpr std::uint8_t format_version = 1;

  IsotonicCalibration() = default;

  /// Fits on scores and their 0/1 labels, each of weight 1. Throws vigil::invalid_argument
  /// when the sizes differ, there is no sample, a score is not finite or a label is not 0 or
  /// 1. O(n log n).
  static IsotonicCalibration fit(const std::vector<double>& scores, const std::vector<int>& labels);
  /// Fits on weighted samples; points of weight 0 are left out, as scikit-learn does. Throws
  /// as fit() and when a weight is negative or not finite, or all are 0.
  static IsotonicCalibration fit(const std::vector<double>& scores, const std::vector<int>& labels,
                                 const std::vector<double>& weights);
  /// Fits on bins: a score value, the total weight of its samples and the weighted sum of
  /// their labels (0 ≤ label_sum ≤ weight), in any order; equal score values are pooled.
  /// Throws vigil::invalid_argument when the sizes differ, a value is not finite, a weight is
  /// negative, a label sum is outside [0, weight], or all weights are 0. O(n log n).
  static IsotonicCalibration fit_binned(const std::vector<double>& score_values, const std::vector<double>& weights,
                                        const std::vector<double>& label_sums);

  /// The calibrated probability of a score: linear between the fitted points, clipped to the
  /// end values outside them; NaN for a NaN score or an empty map. O(log size()).
  double operator()(double score) const;

  bool empty() const { return scores_.empty(); }
  /// Number of fitted points, at most max_points.
  std::size_t size() const { return scores_.size(); }
  /// The fitted points' scores, strictly increasing.
  const std::vector<double>& scores() const { return scores_; }
  /// The fitted points' probabilities, non-decreasing, in [0, 1].
  const std::vector<double>& probabilities() const { return probabilities_; }

  /// Appends the map: version byte, varint point count, then per point the score and the
  /// probability as f64 (docs/statistics.md).
  void serialize(io::Writer& out) const;
  /// Reads serialize()'s output. Throws vigil::format_error on an unknown version, a count
  /// above max_points or beyond the remaining bytes (checked before allocating), or points
  /// that break the invariants (scores finite and strictly increasing, probabilities
  /// non-decreasing in [0, 1]).
  static IsotonicCalibration deserialize(io::Reader& in);

  friend bool operator==(const IsotonicCalibration& a, const IsotonicCalibration& b) {
    return a.scores_ == b.scores_ && a.probabilities_ == b.probabilities_;
  }
  friend bool operator!=(const IsotonicCalibration& a, const IsotonicCalibration& b) { return !(a == b); }

 private:
  struct Point {
    double score;
    double weight;
    double label_sum;
  };
  static IsotonicCalibration fit_points(std::vector<Point> points);
  static std::vector<Point> pool_equal_scores(std::vector<Point> points);
  static std::vector<Point> pool_to_quantile_bins(const std::vector<Point>& points);
  static IsotonicCalibration pool_adjacent_violators(const std::vector<Point>& points);

  std::vector<double> scores_;
  std::vector<double> probabilities_;
};

inline IsotonicCalibration IsotonicCalibration::fit(const std::vector<double>& scores,
                                                    const std::vector<int>& labels) {
  return fit(scores, labels, std::vector<double>(scores.size(), 1.0));
}

inline IsotonicCalibration IsotonicCalibration::fit(const std::vector<double>& scores,
                                                    const std::vector<int>& labels,
                                                    const std::vector<double>& weights) {
  const char* function = "IsotonicCalibration::fit";
  detail::check_same_size(function, "scores", scores.size(), "labels", labels.size());
  detail::check_same_size(function, "scores", scores.size(), "weights", weights.size());
  detail::check_finite(function, "scores", scores.data(), scores.size());
  detail::check_counts(function, "weights", weights.data(), weights.size());
  std::vector<Point> points;
  points.reserve(scores.size());
  for (std::size_t i = 0; i < scores.size(); ++i) {
    if (labels[i] != 0 && labels[i] != 1)
      detail::throw_bad_argument(function, "labels[" + std::to_string(i) + "] = " + std::to_string(labels[i]) +
                                               " is neither 0 nor 1");
    if (weights[i] > 0) points.push_back(Point{scores[i], weights[i], labels[i] * weights[i]});
  }
  return fit_points(std::move(points));
}

inline IsotonicCalibration IsotonicCalibration::fit_binned(const std::vector<double>& score_values,
                                                           const std::vector<double>& weights,
                                                           const std::vector<double>& label_sums) {
  const char* function = "IsotonicCalibration::fit_binned";
  detail::check_same_size(function, "score_values", score_values.size(), "weights", weights.size());
  detail::check_same_size(function, "score_values", score_values.size(), "label_sums", label_sums.size());
  detail::check_finite(function, "score_values", score_values.data(), score_values.size());
  detail::check_counts(function, "weights", weights.data(), weights.size());
  detail::check_counts(function, "label_sums", label_sums.data(), label_sums.size());
  std::vector<Point> points;
  points.reserve(score_values.size());
  for (std::size_t i = 0; i < score_values.size(); ++i) {
    if (label_sums[i] > weights[i] * (1 + 1e-12))
      detail::throw_bad_element(function, "label_sums", i, label_sums[i],
                                ("exceeds weights[" + std::to_string(i) + "] = " + vigil::detail::to_text(weights[i]))
                                    .c_str());
    if (weights[i] > 0) points.push_back(Point{score_values[i], weights[i], std::fmin(label_sums[i], weights[i])});
  }
  return fit_points(std::move(points));
}

inline IsotonicCalibration IsotonicCalibration::fit_points(std::vector<Point> points) {
  if (points.empty())
    detail::throw_bad_argument("IsotonicCalibration::fit", "there is no sample of positive weight to fit");
  std::sort(points.begin(), points.end(), [](const Point& a, const Point& b) { return a.score < b.score; });
  points = pool_equal_scores(std::move(points));
  if (points.size() > max_points) points = pool_equal_scores(pool_to_quantile_bins(points));
  return pool_adjacent_violators(points);
}

inline std::vector<IsotonicCalibration::Point> IsotonicCalibration::pool_equal_scores(std::vector<Point> points) {
  std::size_t kept = 0;
  for (std::size_t i = 0; i < points.size(); ++i) {
    if (kept > 0 && points[kept - 1].score == points[i].score) {
      points[kept - 1].weight += points[i].weight;
      points[kept - 1].label_sum += points[i].label_sum;
    } else {
      points[kept++] = points[i];
    }
  }
  points.resize(kept);
  return points;
}

inline std::vector<IsotonicCalibration::Point> IsotonicCalibration::pool_to_quantile_bins(
    const std::vector<Point>& points) {
  // Bin of a point: the share of the total weight before it, in max_points steps. Bins are
  // runs of consecutive scores, so the bins' mean scores increase as the scores do.
  double total = 0;
  for (const Point& p : points) total += p.weight;
  std::vector<Point> bins;
  std::vector<double> weighted_scores;
  double before = 0;
  std::size_t current = max_points;
  for (const Point& p : points) {
    const auto bin = std::min(max_points - 1, static_cast<std::size_t>(before / total * max_points));
    if (bin != current) {
      bins.push_back(Point{0, 0, 0});
      weighted_scores.push_back(0);
      current = bin;
    }
    bins.back().weight += p.weight;
    bins.back().label_sum += p.label_sum;
    weighted_scores.back() += p.weight * p.score;
    before += p.weight;
  }
  for (std::size_t b = 0; b < bins.size(); ++b) bins[b].score = weighted_scores[b] / bins[b].weight;
  return bins;
}

inline IsotonicCalibration IsotonicCalibration::pool_adjacent_violators(const std::vector<Point>& points) {
  // Blocks of consecutive points with their pooled sums; a block whose mean does not exceed
  // the previous one's violates monotonicity and is pooled with it.
  struct Block {
    std::size_t first;
    std::size_t last;
    double weight;
    double label_sum;
    double mean() const { return label_sum / weight; }
  };
  std::vector<Block> blocks;
  for (std::size_t i = 0; i < points.size(); ++i) {
    blocks.push_back(Block{i, i, points[i].weight, points[i].label_sum});
    while (blocks.size() > 1 && blocks[blocks.size() - 2].mean() >= blocks.back().mean()) {
      const Block top = blocks.back();
      blocks.pop_back();
      blocks.back().last = top.last;
      blocks.back().weight += top.weight;
      blocks.back().label_sum += top.label_sum;
    }
  }
  IsotonicCalibration map;
  for (const Block& b : blocks) {
    const double value = std::fmin(1.0, std::fmax(0.0, b.mean()));
    map.scores_.push_back(points[b.first].score);
    map.probabilities_.push_back(value);
    if (b.last != b.first) {
      map.scores_.push_back(points[b.last].score);
      map.probabilities_.push_back(value);
    }
  }
  return map;
}

inline double IsotonicCalibration::operator()(double score) const {
  if (scores_.empty() || std::isnan(score)) return std::numeric_limits<double>::quiet_NaN();
  if (score <= scores_.front()) return probabilities_.front();
  if (score >= scores_.back()) return probabilities_.back();
  // As scipy.interpolate.interp1d: the first point at or above the score, and the one before.
  const auto high = static_cast<std::size_t>(std::lower_bound(scores_.begin(), scores_.end(), score) - scores_.begin());
  const std::size_t low = high - 1;
  const double slope = (probabilities_[high] - probabilities_[low]) / (scores_[high] - scores_[low]);
  return slope * (score - scores_[low]) + probabilities_[low];
}

inline void IsotonicCalibration::serialize(io::Writer& out) const {
  out.u8(format_version);
  out.varint(scores_.size());
  for (std::size_t i = 0; i < scores_.size(); ++i) {
    out.f64(scores_[i]);
    out.f64(probabilities_[i]);
  }
}

inline IsotonicCalibration IsotonicCalibration::deserialize(io::Reader& in) {
  const std::uint8_t version = in.u8();
  if (version != format_version)
    in.fail("isotonic calibration version " + std::to_string(version) + " is not supported (this build reads " +
            std::to_string(format_version) + ")");
  const std::size_t n = in.count(16);
  if (n > max_points)
    in.fail("isotonic calibration has " + std::to_string(n) + " points, more than " + std::to_string(max_points));
  IsotonicCalibration map;
  map.scores_.resize(n);
  map.probabilities_.resize(n);
  for (std::size_t i = 0; i < n; ++i) {
    const double x = in.f64();
    const double y = in.f64();
    if (!std::isfinite(x) || (i > 0 && !(x > map.scores_[i - 1])))
      in.fail("isotonic calibration score " + vigil::detail::to_text(x) + " at point " + std::to_string(i) +
              " is not finite and above the previous one");
    if (!(y >= 0 && y <= 1) || (i > 0 && y < map.probabilities_[i - 1]))
      in.fail("isotonic calibration probability " + vigil::detail::to_text(y) + " at point " + std::to_string(i) +
              " is not in [0, 1] and at least the previous one");
    map.scores_[i] = x;
    map.probabilities_[i] = y;
  }
  return map;
}

}  // namespace vigil::stats

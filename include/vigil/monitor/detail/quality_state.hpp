// vigil — in-process monitoring of machine-learning models in C++ inference servers.
// SPDX-License-Identifier: Apache-2.0
//
// The quality family's plan (the labelled output, its score bins, the calibration map and
// the holdout baseline) and its state of one interval (requests with an id, and the scores
// per bin from which the label-free estimates are made).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "vigil/config.hpp"
#include "vigil/io/binary.hpp"
#include "vigil/monitor/detail/label_intake.hpp"
#include "vigil/monitor/detail/label_stats.hpp"
#include "vigil/monitor/detail/request.hpp"
#include "vigil/monitor/options.hpp"
#include "vigil/monitor/profile.hpp"
#include "vigil/monitor/schema.hpp"
#include "vigil/stats/calibration.hpp"
#include "vigil/stats/classification.hpp"

namespace vigil {
namespace detail {

/// Score bins of the labelled output: `bins` quantile bins of the profile's scores (fewer
/// when scores repeat), split at the threshold so that every bin lies on one side of it.
inline constexpr std::size_t quality_score_bins = 40;

/// Counts of a binary classifier's scores on the plan's bins, per class, from the t-digests
/// of a LabelStats: the input of ROC AUC with its DeLong variance.
struct ClassBins {
  std::vector<double> positive;
  std::vector<double> negative;
};

/// What the quality family derives once from the Schema, the Profile and the options.
struct QualityPlan {
  bool active = false;               // the schema has an output for labels to judge
  std::uint32_t output = 0;          // its index in the monitor's schema
  std::uint32_t profile_output = 0;  // its index in the profile's schema
  std::string name;
  LabelKind kind = LabelKind::regression;
  double threshold = 0;
  /// Interior edges of the score bins, increasing: bin b holds scores in [edge b − 1, edge b).
  std::vector<double> edges;
  // Read by the report only.
  LabelStats baseline{Profile::digest_compression};
  ClassBins baseline_bins;
  /// The map from score to probability of the positive class fitted on the holdout; used
  /// for estimates when `calibrate` (it lowered the calibration error there, or the scores
  /// are no probabilities).
  stats::IsotonicCalibration calibration;
  bool calibrate = false;
  bool estimates = false;  // a binary classifier with a labelled holdout: estimates are made
  std::vector<double> baseline_scored;  // holdout's labelled scores per bin (for the estimate's baseline)
  std::vector<double> baseline_means;   // their mean score per bin (from the digests' quantiles)

  std::size_t bins() const { return edges.size() + 1; }
  /// The bin of a finite score. O(log bins).
  VIGIL_INLINE std::size_t bin_of(double score) const {
    return static_cast<std::size_t>(std::upper_bound(edges.begin(), edges.end(), score) - edges.begin());
  }
  QualityPlan request_path() const;
  std::size_t memory_bytes() const;
};

/// The share of a digest's values strictly below `edge`: bins are [lo, hi), as
/// QualityPlan::bin_of files recent scores and `score ≥ threshold` decides, so a value equal
/// to an edge (a repeated score) falls above it. A t-digest's cdf gives half of a point mass
/// at x to each side; just below x it gives none of it.
inline double share_below(const TDigest<>& digest, double edge) {
  return digest.cdf(std::nextafter(edge, -std::numeric_limits<double>::infinity()));
}

/// Counts on bins from the class digests of `labels`: each digest's count between two edges.
inline ClassBins class_bins(const LabelStats& labels, const std::vector<double>& edges) {
  ClassBins out;
  const auto spread = [&](const TDigest<>& digest, std::vector<double>& counts) {
    counts.assign(edges.size() + 1, 0.0);
    if (digest.empty()) return;
    const double n = digest.count();
    double below = 0;
    for (std::size_t b = 0; b < edges.size(); ++b) {
      const double at = n * share_below(digest, edges[b]);
      counts[b] = std::max(0.0, at - below);
      below = std::max(below, at);
    }
    counts[edges.size()] = std::max(0.0, n - below);
  };
  spread(labels.positive_scores, out.positive);
  spread(labels.negative_scores, out.negative);
  return out;
}

/// The quality family's state of one interval and slot: requests with an id (the join's
/// denominator), and for a binary classifier the scores per bin — count and sum — from
/// which the label-free estimates come.
struct QualityState {
  static constexpr std::uint8_t format_version = 1;

  QualityState() = default;
  explicit QualityState(const QualityPlan& p) : counts(p.estimates ? p.bins() : 0, 0.0), sums(counts.size(), 0.0) {}

  std::uint64_t identified = 0;
  std::vector<double> counts;
  std::vector<double> sums;

  VIGIL_INLINE void apply(const QualityPlan& p, const Request& request) {
    const Observation& o = request.observation;
    identified += static_cast<std::uint64_t>(o.has_id());
    if (counts.empty() || !o.has_score(Output{p.output})) return;
    const double score = o.score(Output{p.output});
    if (!std::isfinite(score)) return;
    const std::size_t b = p.bin_of(score);
    counts[b] += 1;
    sums[b] += score;
  }
  void merge(const QualityState& other) {
    identified += other.identified;
    for (std::size_t b = 0; b < counts.size() && b < other.counts.size(); ++b) {
      counts[b] += other.counts[b];
      sums[b] += other.sums[b];
    }
  }
  void clear() {
    identified = 0;
    std::fill(counts.begin(), counts.end(), 0.0);
    std::fill(sums.begin(), sums.end(), 0.0);
  }
  void compact() {}
  friend bool operator==(const QualityState& a, const QualityState& b) {
    return a.identified == b.identified && a.counts == b.counts && a.sums == b.sums;
  }
  std::size_t memory_bytes() const { return (counts.capacity() + sums.capacity()) * sizeof(double); }
  void serialize(io::Writer& w) const {
    w.varint(identified);
    w.varint(counts.size());
    for (std::size_t b = 0; b < counts.size(); ++b) {
      w.f64(counts[b]);
      w.f64(sums[b]);
    }
  }
  /// Whether nothing was filed: the interval summary then leaves the state out.
  bool empty() const {
    return identified == 0 && std::all_of(counts.begin(), counts.end(), [](double c) { return c == 0; });
  }
  /// Reads serialize()'s output into a state shaped by `p`; throws vigil::format_error for
  /// another number of bins, counts that are not whole, not finite or negative, or a NaN sum.
  static QualityState deserialize(io::Reader& r, const QualityPlan& p);
  /// Refuses counts beyond the interval's requests.
  void check(const QualityPlan& p, std::uint64_t requests, const io::Reader& r) const;
};

inline QualityState QualityState::deserialize(io::Reader& r, const QualityPlan& p) {
  QualityState s(p);
  s.identified = r.varint();
  const std::uint64_t bins = r.varint();
  if (bins != s.counts.size())
    r.fail("quality state: " + std::to_string(bins) + " score bins where the plan has " + std::to_string(s.counts.size()));
  for (std::size_t b = 0; b < s.counts.size(); ++b) {
    s.counts[b] = r.f64();
    s.sums[b] = r.f64();
    // A sum may be infinite (scores near the double range, in the outermost bins), never NaN.
    if (!(s.counts[b] >= 0) || s.counts[b] != std::floor(s.counts[b]) || !std::isfinite(s.counts[b]) ||
        std::isnan(s.sums[b]))
      r.fail("quality state: bin " + std::to_string(b) + " holds " + to_text(s.counts[b]) + " scores summing to " +
             to_text(s.sums[b]));
  }
  return s;
}

inline void QualityState::check(const QualityPlan&, std::uint64_t requests, const io::Reader& r) const {
  double scored = 0;
  for (double c : counts) scored += c;
  if (identified > requests || scored > static_cast<double>(requests))
    r.fail("quality state: " + std::to_string(identified) + " requests with an id and " + to_text(scored) +
           " scores in an interval of " + std::to_string(requests) + " requests");
}

inline QualityPlan QualityPlan::request_path() const {
  QualityPlan p;
  p.active = active;
  p.output = output;
  p.kind = kind;
  p.threshold = threshold;
  p.edges = edges;
  p.estimates = estimates;
  return p;
}

inline std::size_t QualityPlan::memory_bytes() const {
  return sizeof(*this) + heap_bytes(name) + edges.capacity() * sizeof(double) + baseline.memory_bytes() +
         (baseline_bins.positive.capacity() + baseline_bins.negative.capacity() + baseline_scored.capacity() +
          baseline_means.capacity()) *
             sizeof(double) +
         calibration.size() * 2 * sizeof(double);
}

/// Interior bin edges: quantiles of the profile's scores of the output, and the threshold.
inline std::vector<double> quality_edges(const TDigest<>& scores, double threshold, bool binary) {
  std::vector<double> edges;
  if (!scores.empty())
    for (std::size_t k = 1; k < quality_score_bins; ++k)
      edges.push_back(scores.quantile(static_cast<double>(k) / static_cast<double>(quality_score_bins)));
  if (binary) edges.push_back(threshold);
  std::sort(edges.begin(), edges.end());
  edges.erase(std::unique(edges.begin(), edges.end()), edges.end());
  return edges;
}

/// The mean of a digest's values between two of its quantiles, by the midpoint rule over 16
/// points: exact for a point mass, close for a smooth spread.
inline double bin_mean(const TDigest<>& digest, double from, double to) {
  constexpr int points = 16;
  double sum = 0;
  for (int i = 0; i < points; ++i) sum += digest.quantile(from + (to - from) * (i + 0.5) / points);
  return sum / points;
}

/// The holdout's labelled scores on the bins, with the calibration map fitted on them. The
/// map is used when it lowers the calibration error of the holdout's bins, or when the scores
/// are not probabilities (some holdout score outside [0, 1]), as NannyML decides. The
/// comparison is made on the data the map was fitted on, so the map usually wins unless the
/// scores are calibrated already.
inline void fit_calibration(QualityPlan& p) {
  const ClassBins& c = p.baseline_bins;
  std::vector<double> values, weights, positives;
  p.baseline_scored.assign(p.bins(), 0.0);
  p.baseline_means.assign(p.bins(), 0.0);
  TDigest<> all = p.baseline.positive_scores;
  all.merge(p.baseline.negative_scores);
  all.flush();
  for (std::size_t b = 0; b < p.bins(); ++b) {
    const double n = c.positive[b] + c.negative[b];
    p.baseline_scored[b] = n;
    if (!(n > 0)) continue;
    const double from = b == 0 ? 0.0 : share_below(all, p.edges[b - 1]);
    const double to = b + 1 == p.bins() ? 1.0 : share_below(all, p.edges[b]);
    p.baseline_means[b] = bin_mean(all, from, to);
    values.push_back(p.baseline_means[b]);
    weights.push_back(n);
    positives.push_back(std::min(n, c.positive[b]));
  }
  if (values.empty()) return;
  p.calibration = stats::IsotonicCalibration::fit_binned(values, weights, positives);
  const LabelStats& l = p.baseline;
  const bool probabilities = l.log_loss.count() == l.true_positive + l.false_positive + l.false_negative + l.true_negative;
  double raw_gap = 0, fitted_gap = 0, total = 0;
  for (std::size_t i = 0; i < values.size(); ++i) {
    const double observed = positives[i] / weights[i];
    raw_gap += weights[i] * std::fabs(values[i] - observed);
    fitted_gap += weights[i] * std::fabs(p.calibration(values[i]) - observed);
    total += weights[i];
  }
  p.calibrate = !probabilities || fitted_gap < raw_gap;
  p.estimates = total > 0;
}

/// The quality family's plan for `schema` against `profile`'s labels.
inline QualityPlan make_quality_plan(const Schema& schema, const Profile& profile, const MonitorOptions& options) {
  QualityPlan p;
  if (schema.output_count() == 0) return p;
  const Output o = quality_output(schema, options);
  p.active = true;
  p.output = o.index;
  p.name = schema.name(o);
  p.profile_output = profile.schema().output(p.name).index;
  p.kind = label_kind(schema.options(o));
  p.threshold = schema.options(o).threshold;
  const Profile::OutputReference& ref = profile.output(Output{p.profile_output});
  p.baseline = ref.labels;
  p.baseline.compact();
  if (p.kind != LabelKind::binary) return p;
  p.edges = quality_edges(ref.digest, p.threshold, true);
  p.baseline_bins = class_bins(p.baseline, p.edges);
  fit_calibration(p);
  return p;
}

}  // namespace detail
}  // namespace vigil

// vigil — in-process monitoring of machine-learning models in C++ inference servers.
// SPDX-License-Identifier: Apache-2.0
#pragma once

/// \file
/// The quality family: late labels joined to their requests by id and credited to the
/// quality interval of the request, the realised metrics of the requests of the quality
/// window against the holdout baseline kept in the Profile, and estimates of the same
/// metrics from the scores alone (confidence-based performance estimation: with calibrated
/// probabilities, the expected confusion matrix follows from the scores) before any label
/// comes; and the evidence each gives the alert policy.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "vigil/error.hpp"
#include "vigil/io/binary.hpp"
#include "vigil/monitor/alerts.hpp"
#include "vigil/monitor/detail/comparisons.hpp"
#include "vigil/monitor/detail/corrections.hpp"
#include "vigil/monitor/detail/evaluation_context.hpp"
#include "vigil/monitor/detail/evidence_text.hpp"
#include "vigil/monitor/detail/label_intake.hpp"
#include "vigil/monitor/detail/pooling.hpp"
#include "vigil/monitor/detail/quality_state.hpp"
#include "vigil/monitor/options.hpp"
#include "vigil/monitor/report.hpp"
#include "vigil/monitor/subject.hpp"
#include "vigil/stats/calibration.hpp"
#include "vigil/stats/classification.hpp"
#include "vigil/stats/special_functions.hpp"

namespace vigil {
namespace detail {

/// Labels credited to the quality interval of their request, for one slot: a ring of the
/// last `length` quality intervals (enough to cover the labels' time-to-live).
class QualityLedger {
 public:
  /// Compression of the t-digests of a quality interval's label statistics.
  static constexpr double compression = 50;

  QualityLedger(double resolution, std::size_t length) : resolution_(resolution), length_(length) {}

  /// Credits a label to its request's interval; false when that interval is older than the
  /// ring keeps.
  bool add(const QualityPlan& p, const JoinedLabel& label);
  /// Calls fn(start, end, stats) for each kept interval within [from, to), oldest first.
  template <class Fn>
  void each(double from, double to, Fn&& fn) const;
  /// Whether no label was credited.
  bool empty() const { return newest_ == none; }
  /// Adds another replica's ledger of the same resolution and length (Monitor::merge),
  /// interval by interval, aligned by quality-interval index. The newest interval becomes
  /// the later of the two newest; the intervals that puts beyond the ring, here or in
  /// `other`, age out as they would had one ledger taken both replicas' labels. A kept
  /// interval held by both adds their label statistics (LabelStats::merge: counts and
  /// moments add, t-digests merge, so ROC AUC agrees with one ledger's within the digests'
  /// error); one held by one of them only is kept as it is. Throws vigil::invalid_argument
  /// for another resolution or length, changing nothing. O(length + centroids merged).
  void merge(const QualityLedger& other);
  std::size_t memory_bytes() const {
    std::size_t bytes = index_.capacity() * sizeof(std::int64_t) + stats_.capacity() * sizeof(LabelStats);
    for (const LabelStats& s : stats_) bytes += s.memory_bytes();
    return bytes;
  }

  /// Writes the quality intervals the ring holds: their number, then (when there are any)
  /// the newest interval, and per interval in ring order its index and its label statistics
  /// (LabelStats::serialize; its t-digests with their pending values merged in).
  void save(io::Writer& w) const;
  /// Reads save()'s output into an empty ledger of the same resolution and length. Throws
  /// vigil::format_error (through `r`) for more intervals than the ring holds, intervals out
  /// of ring order or not within its length of the newest, or label statistics that
  /// LabelStats::deserialize refuses, of digests of another compression, or of another kind
  /// of output than `kind`.
  void load(io::Reader& r, LabelKind kind);

 private:
  static constexpr std::int64_t none = std::numeric_limits<std::int64_t>::min();
  // Makes `newest` the newest interval and forgets those it puts beyond the ring.
  void age_out(std::int64_t newest);

  double resolution_;
  std::size_t length_;
  std::int64_t newest_ = none;
  std::vector<std::int64_t> index_;  // the quality interval in each place of the ring
  std::vector<LabelStats> stats_;
};

inline bool QualityLedger::add(const QualityPlan& p, const JoinedLabel& label) {
  const double position = std::floor(label.request.time / resolution_);
  if (!(std::fabs(position) < 0x1p62)) return false;
  const auto q = static_cast<std::int64_t>(position);
  if (newest_ != none && q <= newest_ - static_cast<std::int64_t>(length_)) return false;
  if (stats_.empty()) {
    index_.assign(length_, none);
    stats_.assign(length_, LabelStats(compression));
  }
  // Intervals the ring moves past are forgotten, even when no label came for years.
  if (newest_ == none || q > newest_) age_out(q);
  const std::size_t at = static_cast<std::size_t>(((q % static_cast<std::int64_t>(length_)) + static_cast<std::int64_t>(length_)) %
                                                  static_cast<std::int64_t>(length_));
  if (index_[at] != q) {
    index_[at] = q;
    stats_[at] = LabelStats(compression);
  }
  LabelStats& s = stats_[at];
  const PendingRequest& r = label.request;
  switch (p.kind) {
    case LabelKind::binary: s.add_binary(r.score, p.threshold, label.value.number); break;
    case LabelKind::multiclass: s.add_multiclass(r.predicted, label.value.class_index); break;
    case LabelKind::regression: s.add_regression(r.score, label.value.number); break;
  }
  return true;
}

template <class Fn>
void QualityLedger::each(double from, double to, Fn&& fn) const {
  if (stats_.empty()) return;
  std::vector<std::size_t> order;
  for (std::size_t i = 0; i < length_; ++i) {
    if (index_[i] == none) continue;
    const double start = static_cast<double>(index_[i]) * resolution_;
    if (start >= from && start < to) order.push_back(i);
  }
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return index_[a] < index_[b]; });
  for (std::size_t i : order) {
    const double start = static_cast<double>(index_[i]) * resolution_;
    fn(start, start + resolution_, stats_[i]);
  }
}

inline void QualityLedger::age_out(std::int64_t newest) {
  newest_ = newest;
  const std::int64_t oldest = newest - static_cast<std::int64_t>(length_);  // the last interval beyond the ring
  for (std::int64_t& q : index_)
    if (q != none && q <= oldest) q = none;
}

inline void QualityLedger::merge(const QualityLedger& other) {
  if (other.resolution_ != resolution_ || other.length_ != length_)
    throw_invalid_argument("QualityLedger::merge: a ring of " + std::to_string(other.length_) + " intervals of " +
                           to_text(other.resolution_) + " s into one of " + std::to_string(length_) + " intervals of " +
                           to_text(resolution_) + " s");
  if (other.empty()) return;
  if (stats_.empty()) {
    index_.assign(length_, none);
    stats_.assign(length_, LabelStats(compression));
  }
  age_out(std::max(newest_, other.newest_));
  const std::int64_t oldest = newest_ - static_cast<std::int64_t>(length_);
  // Within the ring each place holds one interval index: both rings hold the same one there, or one holds none.
  for (std::size_t at = 0; at < length_; ++at) {
    const std::int64_t q = other.index_[at];
    if (q == none || q <= oldest) continue;
    if (index_[at] == q) {
      stats_[at].merge(other.stats_[at]);
    } else {
      index_[at] = q;
      stats_[at] = other.stats_[at];
    }
  }
}

inline void QualityLedger::save(io::Writer& w) const {
  const auto held = static_cast<std::size_t>(std::count_if(index_.begin(), index_.end(), [](std::int64_t q) { return q != none; }));
  w.varint(held);
  if (held == 0) return;
  w.i64(newest_);
  for (std::size_t at = 0; at < index_.size(); ++at) {
    if (index_[at] == none) continue;
    w.i64(index_[at]);
    stats_[at].serialize(w);
  }
}

// Whether `s` holds no judgement of another kind of output than `kind`.
inline bool judged_as(const LabelStats& s, LabelKind kind) {
  const bool binary = s.true_positive + s.false_positive + s.false_negative + s.true_negative > 0 ||
                      !s.positive_scores.empty() || !s.negative_scores.empty();
  return (kind == LabelKind::binary || !binary) && (kind == LabelKind::multiclass || s.correct == 0) &&
         (kind == LabelKind::regression || s.error.empty());
}

inline void QualityLedger::load(io::Reader& r, LabelKind kind) {
  const std::uint64_t held = r.varint();
  if (held > length_) r.fail("quality ledger: " + std::to_string(held) + " intervals, the ring holds " + std::to_string(length_));
  if (held == 0) return;
  newest_ = r.i64();
  // Within the range add() takes, so that the ring's arithmetic cannot overflow.
  if (!(std::fabs(static_cast<double>(newest_)) < 0x1p62))
    r.fail("quality ledger: the newest interval " + std::to_string(newest_) + " is out of range");
  index_.assign(length_, none);
  stats_.assign(length_, LabelStats(compression));
  const auto length = static_cast<std::int64_t>(length_);
  std::size_t next = 0;  // the first place the next interval may take
  bool newest_seen = false;
  for (std::uint64_t i = 0; i < held; ++i) {
    const std::int64_t q = r.i64();
    if (q > newest_ || q <= newest_ - length) r.fail("quality ledger: interval " + std::to_string(q) + " is not within the ring");
    const auto at = static_cast<std::size_t>(((q % length) + length) % length);
    if (at < next) r.fail("quality ledger: interval " + std::to_string(q) + " is out of ring order");
    next = at + 1;
    newest_seen = newest_seen || q == newest_;
    index_[at] = q;
    stats_[at] = LabelStats::deserialize(r, compression);
    const LabelStats& s = stats_[at];
    if (s.positive_scores.compression() != compression || s.negative_scores.compression() != compression || !judged_as(s, kind))
      r.fail("quality ledger: the labels of interval " + std::to_string(q) + " are not those of this output");
  }
  if (!newest_seen) r.fail("quality ledger: the newest interval " + std::to_string(newest_) + " is not held");
}

/// Which way a metric gets worse, and how its effect is measured for severity.
enum class QualityDirection : std::uint8_t { drop, rise, change };

struct QualityFigure {
  QualityMetric metric;
  QualityDirection direction;
  double effect = FeatureReport::nan();  // drop, relative rise or change in baseline RMSEs
};

/// A metric from its recent and baseline values and its test.
inline QualityFigure quality_figure(std::string name, QualityDirection direction, double recent, double baseline,
                                    stats::TestResult test, double count) {
  QualityFigure f{QualityMetric{std::move(name), Status::ok, recent, baseline, test.p_value, count}, direction,
                  FeatureReport::nan()};
  if (direction == QualityDirection::drop) f.effect = baseline - recent;
  if (direction == QualityDirection::rise && baseline > 0) f.effect = (recent - baseline) / baseline;
  return f;
}

inline stats::ConfusionCounts confusion_of(const LabelStats& s) {
  return stats::ConfusionCounts{s.true_positive, s.false_positive, s.false_negative, s.true_negative};
}

/// Accuracy, precision, recall and F1 of a recent confusion matrix against the baseline's,
/// named with `prefix`: `rate(name, hits, total, baseline hits, baseline total)` makes the
/// figure of one rate (its test differs between realised and expected counts); F1 is tested
/// by the delta method. `count` is the requests the figures rest on.
template <class Rate>
void confusion_figures(const std::string& prefix, const stats::ConfusionCounts& r, const stats::ConfusionCounts& b,
                       double count, Rate&& rate, std::vector<QualityFigure>& out) {
  out.push_back(rate(prefix + "accuracy", r.true_positive + r.true_negative, stats::count(r),
                     b.true_positive + b.true_negative, stats::count(b)));
  out.push_back(rate(prefix + "precision", r.true_positive, r.true_positive + r.false_positive, b.true_positive,
                     b.true_positive + b.false_positive));
  out.push_back(rate(prefix + "recall", r.true_positive, r.true_positive + r.false_negative, b.true_positive,
                     b.true_positive + b.false_negative));
  out.push_back(quality_figure(prefix + "f1", QualityDirection::drop, stats::f1_score(r), stats::f1_score(b),
                               stats::f1_difference_test(r, b, stats::Alternative::less), count));
}

inline double share(double hits, double total) { return total > 0 ? hits / total : FeatureReport::nan(); }

/// A realised rate, tested as a proportion against the baseline's (two-proportion z-test).
inline QualityFigure proportion_figure(std::string name, double hits_r, double n_r, double hits_b, double n_b) {
  const stats::TestResult t = n_r > 0 && n_b > 0
                                  ? stats::two_proportion_test(hits_r, n_r, hits_b, n_b, stats::Alternative::less)
                                  : stats::TestResult{FeatureReport::nan(), FeatureReport::nan()};
  return quality_figure(std::move(name), QualityDirection::drop, share(hits_r, n_r), share(hits_b, n_b), t, n_r);
}

/// Whether the recent reliability curve departs from the holdout's: per reliability bin, the
/// recent positives against the holdout's share of positives in that bin, summed as a
/// chi-square statistic with one degree of freedom per bin compared (bins the holdout holds
/// only one class in, or that either side lacks, are left out). Unlike a test of the recent
/// bins against perfect calibration (Hosmer-Lemeshow), a model miscalibrated the same way as
/// on its holdout is no evidence.
inline stats::TestResult reliability_shift_test(const LabelStats& recent, const LabelStats& baseline) {
  double statistic = 0;
  double bins = 0;
  for (std::size_t i = 0; i < LabelStats::reliability_bins; ++i) {
    const stats::ReliabilitySums& r = recent.reliability[i];
    const stats::ReliabilitySums& b = baseline.reliability[i];
    if (!(r.count > 0 && b.count > 0)) continue;
    const double share = b.sum_positive / b.count;
    if (!(share > 0 && share < 1)) continue;
    const double expected = r.count * share;
    statistic += (r.sum_positive - expected) * (r.sum_positive - expected) / (expected * (1 - share));
    bins += 1;
  }
  if (!(bins > 0)) return stats::TestResult{FeatureReport::nan(), FeatureReport::nan()};
  return stats::TestResult{statistic, stats::chi_square_sf(statistic, bins)};
}

/// The realised figures of a binary classifier: the confusion rates, losses, ROC AUC on the
/// plan's bins (DeLong) and the expected calibration error (reliability_shift_test).
inline std::vector<QualityFigure> binary_figures(const QualityPlan& p, const LabelStats& r) {
  std::vector<QualityFigure> out;
  const LabelStats& b = p.baseline;
  const stats::ConfusionCounts cr = confusion_of(r);
  confusion_figures("", cr, confusion_of(b), stats::count(cr), proportion_figure, out);
  out.push_back(quality_figure("log_loss", QualityDirection::rise, r.log_loss.mean(), b.log_loss.mean(),
                               welch(r.log_loss, b.log_loss, stats::Alternative::greater), r.log_loss.count()));
  out.push_back(quality_figure("brier", QualityDirection::rise, r.brier.mean(), b.brier.mean(),
                               welch(r.brier, b.brier, stats::Alternative::greater), r.brier.count()));
  const ClassBins bins = class_bins(r, p.edges);
  const stats::AucEstimate auc_r = stats::roc_auc_binned(bins.positive, bins.negative);
  const stats::AucEstimate auc_b = stats::roc_auc_binned(p.baseline_bins.positive, p.baseline_bins.negative);
  out.push_back(quality_figure("roc_auc", QualityDirection::drop, auc_r.auc, auc_b.auc,
                               stats::auc_difference_test(auc_r, auc_b, stats::Alternative::less),
                               auc_r.positives + auc_r.negatives));
  const auto sums = [](const LabelStats& s) {
    return std::vector<stats::ReliabilitySums>(s.reliability.begin(), s.reliability.end());
  };
  const bool calibrated = r.log_loss.count() > 0 && b.log_loss.count() > 0;
  const double ece_r = calibrated ? stats::expected_calibration_error(sums(r)) : FeatureReport::nan();
  const double ece_b = calibrated ? stats::expected_calibration_error(sums(b)) : FeatureReport::nan();
  out.push_back(quality_figure("calibration_error", QualityDirection::rise, ece_r, ece_b,
                               reliability_shift_test(r, b), r.log_loss.count()));
  return out;
}

/// The realised figures of a regression: MAE, RMSE (Welch on squared errors) and the mean
/// error (bias, two-sided; its effect in baseline RMSEs).
inline std::vector<QualityFigure> regression_figures(const LabelStats& r, const LabelStats& b) {
  std::vector<QualityFigure> out;
  out.push_back(quality_figure("mae", QualityDirection::rise, r.absolute_error.mean(), b.absolute_error.mean(),
                               welch(r.absolute_error, b.absolute_error, stats::Alternative::greater),
                               r.absolute_error.count()));
  const auto root = [](const RunningStats& s) { return s.count() > 0 ? std::sqrt(s.mean()) : FeatureReport::nan(); };
  out.push_back(quality_figure("rmse", QualityDirection::rise, root(r.squared_error), root(b.squared_error),
                               welch(r.squared_error, b.squared_error, stats::Alternative::greater),
                               r.squared_error.count()));
  QualityFigure bias = quality_figure("bias", QualityDirection::change, r.error.mean(), b.error.mean(),
                                      welch(r.error, b.error, stats::Alternative::two_sided), r.error.count());
  const double rmse = root(b.squared_error);
  if (rmse > 0) bias.effect = std::fabs(r.error.mean() - b.error.mean()) / rmse;
  out.push_back(bias);
  return out;
}

/// The realised figures of a multi-class output: accuracy.
inline std::vector<QualityFigure> multiclass_figures(const LabelStats& r, const LabelStats& b) {
  return {proportion_figure("accuracy", r.correct, r.judged(), b.correct, b.judged())};
}

inline std::vector<QualityFigure> realised_figures(const QualityPlan& p, const LabelStats& recent) {
  switch (p.kind) {
    case LabelKind::binary: return binary_figures(p, recent);
    case LabelKind::multiclass: return multiclass_figures(recent, p.baseline);
    case LabelKind::regression: return regression_figures(recent, p.baseline);
  }
  return {};
}

/// The expected confusion matrix and class bins of scores binned as the plan bins them
/// (`counts` and `means` per bin): each bin's calibrated probability p counts p positive and
/// 1 − p negative, on the side of the threshold the bin lies on.
struct Expected {
  stats::ConfusionCounts confusion;
  ClassBins bins;
  double variance = 0;  // Σ p(1 − p): the variance of the number of correct answers
  double scored = 0;
};

inline Expected expected_counts(const QualityPlan& p, const std::vector<double>& counts, const std::vector<double>& means) {
  Expected e;
  e.bins.positive.assign(p.bins(), 0.0);
  e.bins.negative.assign(p.bins(), 0.0);
  for (std::size_t b = 0; b < p.bins() && b < counts.size(); ++b) {
    const double n = counts[b];
    if (!(n > 0)) continue;
    const double raw = means[b];
    const double q = p.calibrate ? p.calibration(raw) : std::min(1.0, std::max(0.0, raw));
    const bool positive = b > 0 && p.edges[b - 1] >= p.threshold;
    (positive ? e.confusion.true_positive : e.confusion.false_negative) += n * q;
    (positive ? e.confusion.false_positive : e.confusion.true_negative) += n * (1 - q);
    e.bins.positive[b] = n * q;
    e.bins.negative[b] = n * (1 - q);
    e.variance += n * q * (1 - q);
    e.scored += n;
  }
  return e;
}

/// z-test that an estimated rate fell: its binomial standard errors from the expected counts.
inline stats::TestResult estimate_drop_test(double recent, double n_recent, double baseline, double n_baseline) {
  if (!(n_recent > 0 && n_baseline > 0) || std::isnan(recent) || std::isnan(baseline))
    return stats::TestResult{FeatureReport::nan(), FeatureReport::nan()};
  const double variance = recent * (1 - recent) / n_recent + baseline * (1 - baseline) / n_baseline;
  if (!(variance > 0)) return stats::TestResult{0.0, 1.0};
  const double z = (recent - baseline) / std::sqrt(variance);
  return stats::TestResult{z, stats::normal_cdf(z)};
}

/// Label-free estimates of a binary classifier from the recent scores, against the same
/// estimates on the holdout's scores.
inline std::vector<QualityFigure> estimated_figures(const QualityPlan& p, const QualityState& recent) {
  std::vector<double> means(recent.counts.size(), 0.0);
  for (std::size_t b = 0; b < means.size(); ++b)
    means[b] = recent.counts[b] > 0 ? recent.sums[b] / recent.counts[b] : 0.0;
  const Expected r = expected_counts(p, recent.counts, means);
  const Expected b = expected_counts(p, p.baseline_scored, p.baseline_means);
  std::vector<QualityFigure> out;
  const auto rate = [&](std::string name, double hits_r, double n_r, double hits_b, double n_b) {
    const double vr = share(hits_r, n_r);
    const double vb = share(hits_b, n_b);
    return quality_figure(std::move(name), QualityDirection::drop, vr, vb, estimate_drop_test(vr, n_r, vb, n_b), r.scored);
  };
  confusion_figures("estimated_", r.confusion, b.confusion, r.scored, rate, out);
  const stats::AucEstimate auc_r = stats::roc_auc_binned(r.bins.positive, r.bins.negative);
  const stats::AucEstimate auc_b = stats::roc_auc_binned(b.bins.positive, b.bins.negative);
  out.push_back(quality_figure("estimated_roc_auc", QualityDirection::drop, auc_r.auc, auc_b.auc,
                               stats::auc_difference_test(auc_r, auc_b, stats::Alternative::less), r.scored));
  return out;
}

/// Evidence from one quality figure: significant after correction, on enough requests, and
/// worse than the baseline by at least the policy's effect.
inline void quality_evidence(const QualityFigure& f, double adjusted, const AlertPolicy& policy, Subject subject,
                             const std::string& output, std::vector<Evidence>& out) {
  if (!(f.metric.count >= static_cast<double>(policy.min_labels)) || !(adjusted < policy.p_value)) return;
  int level = 0;
  if (f.direction == QualityDirection::drop) level = severity_of(f.effect, policy.quality_drop_warn, policy.quality_drop_alert);
  else level = severity_of(f.effect, policy.quality_rise_warn, policy.quality_rise_alert);
  if (level == 0) return;
  const bool estimate = f.metric.name.rfind("estimated_", 0) == 0;
  out.push_back(Evidence{AlertKind::quality, std::move(subject), severity_at(level), f.metric.recent, adjusted,
                         std::string(estimate ? "Estimated " : "") + "quality of '" + output + "' fell: " +
                             f.metric.name + " " + fixed(f.metric.recent, 4) + " against " + fixed(f.metric.baseline, 4) +
                             " on the holdout, over " + fixed(f.metric.count, 0) +
                             (estimate ? " scored requests (from the scores alone)." : " labelled requests.")});
}


/// Subject indexes of the quality figures: a realised figure's place in
/// QualityReport::metrics, or estimated_index + its place in QualityReport::estimated.
inline constexpr std::uint32_t estimated_index = 64;

/// The quality family (docs/concepts.md, "Monitor family").
class QualityFamily {
 public:
  static constexpr Family id = Family::quality;
  static constexpr bool per_cohort = true;
  using Plan = QualityPlan;
  using State = QualityState;
  using Section = QualityReport;
  struct Tickets {
    std::vector<Corrections::Ticket> metrics, estimated;
  };

  static Plan make_plan(const Schema& schema, const Profile& profile, const MonitorOptions& options) {
    return make_quality_plan(schema, profile, options);
  }
  QualityFamily(const Plan& plan, const MonitorOptions& options);

  /// Slot 0 comes first: it takes the labels that arrived before the interval's end into
  /// every slot's ledger. Then the slot's realised figures over the quality window, its
  /// estimates over the recent interval(s) (pooled as the output family pools them), and
  /// for slot 0 the label counts.
  Section analyze(const History<State>& history, const EvaluationContext& context, const SlotContext& slot);
  /// Realised figures are corrected together, estimates together.
  Tickets tests(const Section& section, Corrections& corrections) const;
  void evidence(const Section& section, const Tickets& tickets, const Corrections& corrections,
                const EvaluationContext& context, const SlotContext& slot, std::vector<Evidence>& out) const;
  std::size_t memory_bytes() const;
  /// Adds another replica's labels (Monitor::merge): each of `other`'s slot ledgers merges
  /// into the ledger of slot `slot_of[s]` here (`other`'s slot s; several may map to one),
  /// made when absent, interval by interval as QualityLedger::merge does (label statistics
  /// of an interval held by both add; intervals the later newest one puts beyond the ring
  /// age out), and the labels credited beyond the window add. The figures of the latest
  /// analysis are scratch for one evaluation and are left as they are. Throws
  /// vigil::invalid_argument, changing nothing, for a family judging another kind of
  /// output, of another quality resolution or ring length, or a `slot_of` with fewer
  /// entries than `other` has ledgers.
  void merge(const QualityFamily& other, const std::vector<std::size_t>& slot_of);
  /// Credits every label still staged at once (counted in LabelCounts::applied_early).
  void take_overflow(LabelIntake& labels) {
    labels.take_overflow([&](const JoinedLabel& label, const std::uint32_t* slots) { credit(labels, label, slots); });
  }

  /// Writes what the family learnt since construction: the labels credited beyond the
  /// ledgers' window, then the number of slots with a ledger and each ledger
  /// (QualityLedger::save). The figures of the latest analysis are not written: they are
  /// the scratch between analyze() and evidence() of one evaluation, made afresh by the next.
  void save(io::Writer& w) const;
  /// Reads save()'s output into a family constructed from the same plan and options. Throws
  /// vigil::format_error (through `r`) for what QualityLedger::load refuses. On a throw the
  /// family is left as it was.
  void load(io::Reader& r);

  template <class Part>
  static void place(Section&& section, Part& part) {
    part.quality = std::move(section);
  }
  template <class Part>
  static void mark(const Subject& subject, Status status, Part& part) {
    if (subject.index >= estimated_index) raise_status(part.quality.estimated, subject.index - estimated_index, status);
    else raise_status(part.quality.metrics, subject.index, status);
    part.quality.status = worse(part.quality.status, status);
  }

 private:
  void take_labels(const EvaluationContext& context);
  void credit(const LabelIntake& labels, const JoinedLabel& label, const std::uint32_t* slots);
  void realised(const EvaluationContext& context, std::size_t slot, Section& section);
  void label_counts(const EvaluationContext& context, Section& section) const;
  QualityLedger& ledger(std::size_t slot);

  const Plan* plan_;
  const MonitorOptions* options_;
  double resolution_;
  std::size_t length_;
  std::vector<QualityLedger> ledgers_;  // per slot, made at its first label
  std::uint64_t beyond_window_ = 0;
  // Figures of the latest analysis, kept for the tests and evidence (QualityFigure carries
  // the direction and effect the report does not).
  std::vector<std::vector<QualityFigure>> figures_, estimates_;
};

inline QualityFamily::QualityFamily(const Plan& plan, const MonitorOptions& options)
    : plan_(&plan),
      options_(&options),
      resolution_(options.quality_resolution()),
      length_(static_cast<std::size_t>(std::ceil(options.label_time_to_live / options.quality_resolution())) + 1) {}

inline QualityLedger& QualityFamily::ledger(std::size_t slot) {
  while (ledgers_.size() <= slot) ledgers_.emplace_back(resolution_, length_);
  return ledgers_[slot];
}

inline void QualityFamily::take_labels(const EvaluationContext& context) {
  LabelIntake* labels = context.intake.labels();
  if (labels == nullptr || !plan_->active) return;
  const double end = context.window.recent_end;
  labels->expire(end);
  // The last interval of a finished log takes every label left: they came after the last
  // request, and no later interval will be evaluated.
  const double before = context.partial ? std::numeric_limits<double>::infinity() : end;
  labels->drain(before, [&](const JoinedLabel& label, const std::uint32_t* slots) { credit(*labels, label, slots); });
}

inline void QualityFamily::credit(const LabelIntake& labels, const JoinedLabel& label, const std::uint32_t* slots) {
  if (!ledger(0).add(*plan_, label)) {
    ++beyond_window_;
    return;
  }
  for (std::size_t c = 0; c < labels.cohort_count(); ++c)
    if (slots[c] != no_tag) ledger(slots[c]).add(*plan_, label);
}

inline void QualityFamily::realised(const EvaluationContext& context, std::size_t slot, Section& section) {
  const double end = context.window.recent_end;
  const double window = std::min(std::max(options_->quality_window, resolution_), options_->label_time_to_live);
  // The quality intervals that start within the window: ceil, so that a window of one
  // quality interval ending on a boundary holds that interval.
  const double from = std::ceil((end - window) / resolution_) * resolution_;
  section.window_start = std::min(from, end);
  section.window_end = end;
  LabelStats recent(50);
  if (slot < ledgers_.size())
    ledgers_[slot].each(section.window_start, end, [&](double start, double stop, const LabelStats& s) {
      recent.merge(s);
      section.intervals.push_back(QualityInterval{start, stop, 0, s.labelled});
    });
  section.labelled = recent.labelled;
  for (QualityFigure& f : realised_figures(*plan_, recent)) {
    figures_[slot].push_back(f);
    section.metrics.push_back(f.metric);
  }
}

inline QualityReport QualityFamily::analyze(const History<State>& history, const EvaluationContext& context,
                                            const SlotContext& slot) {
  if (slot.slot == 0) take_labels(context);
  if (figures_.size() <= slot.slot) {
    figures_.resize(slot.slot + 1);
    estimates_.resize(slot.slot + 1);
  }
  figures_[slot.slot].clear();
  estimates_[slot.slot].clear();
  Section section;
  if (!plan_->active) return section;
  section.output = plan_->name;
  realised(context, slot.slot, section);
  for (QualityInterval& q : section.intervals) {
    // Clipped to the evaluated interval, so that a late evaluation counts what an on-time one did.
    Merged<State> m = history(q.start, std::min(q.end, context.window.recent_end));
    q.identified = m.state.identified;
  }
  if (plan_->estimates) {
    // Pooled until the estimates rest on as many scored requests as a realised figure needs
    // labels (AlertPolicy::min_labels).
    const PooledSample<State> pooled = pool_recent(history, context.window, *options_, context.policy.min_labels);
    for (QualityFigure& f : estimated_figures(*plan_, pooled.recent.state)) {
      estimates_[slot.slot].push_back(f);
      section.estimated.push_back(f.metric);
    }
  }
  if (slot.slot == 0) label_counts(context, section);
  return section;
}

inline void QualityFamily::label_counts(const EvaluationContext& context, Section& section) const {
  section.labels_beyond_window = beyond_window_;
  const LabelIntake* labels = context.intake.labels();
  if (labels == nullptr) return;
  const LabelCounts c = labels->counts();
  section.labels = c.received;
  section.joined = c.joined;
  section.unknown_ids = c.unknown_ids;
  section.duplicate_labels = c.duplicates;
  section.late_labels = c.too_late;
  section.bad_labels = c.bad_labels;
  section.bad_label_times = c.bad_times;
  section.labels_before_request = c.before_request;
  section.labels_applied_early = c.applied_early;
  section.pending = labels->pending();
  section.evicted = labels->evicted();
  section.expired = labels->expired();
  section.duplicate_ids = labels->duplicate_ids();
  const AttributionCounts a = labels->attribution_counts();
  section.attributed_labels = a.labels;
  section.attributions_wrong_count = a.wrong_count;
  section.attribution_bad_values = a.bad_values;
  section.attributions_applied_early = a.applied_early;
}

inline QualityFamily::Tickets QualityFamily::tests(const Section& section, Corrections& corrections) const {
  Tickets t;
  for (const QualityMetric& m : section.metrics) t.metrics.push_back(corrections.add({id, 0}, m.p_value));
  for (const QualityMetric& m : section.estimated) t.estimated.push_back(corrections.add({id, 1}, m.p_value));
  return t;
}

inline void QualityFamily::evidence(const Section& section, const Tickets& tickets, const Corrections& corrections,
                                    const EvaluationContext& context, const SlotContext& slot,
                                    std::vector<Evidence>& out) const {
  const auto weigh = [&](const std::vector<QualityFigure>& figures, const std::vector<Corrections::Ticket>& t,
                         std::uint32_t base) {
    for (std::size_t i = 0; i < figures.size() && i < t.size(); ++i) {
      const Subject subject{id, base + static_cast<std::uint32_t>(i), figures[i].metric.name, slot.cohort, false};
      quality_evidence(figures[i], corrections.adjusted(t[i]), context.policy, subject, section.output, out);
    }
  };
  if (slot.slot >= figures_.size()) return;
  weigh(figures_[slot.slot], tickets.metrics, 0);
  weigh(estimates_[slot.slot], tickets.estimated, estimated_index);
}

inline void QualityFamily::save(io::Writer& w) const {
  w.varint(beyond_window_);
  w.varint(ledgers_.size());
  for (const QualityLedger& l : ledgers_) l.save(w);
}

inline void QualityFamily::load(io::Reader& r) {
  const std::uint64_t beyond_window = r.varint();
  const std::size_t slots = r.count(1);  // a ledger takes at least its count of intervals
  std::vector<QualityLedger> ledgers(slots, QualityLedger(resolution_, length_));
  for (QualityLedger& l : ledgers) l.load(r, plan_->kind);
  ledgers_ = std::move(ledgers);
  beyond_window_ = beyond_window;
}

inline void QualityFamily::merge(const QualityFamily& other, const std::vector<std::size_t>& slot_of) {
  if (other.plan_->active != plan_->active || other.plan_->kind != plan_->kind)
    throw_invalid_argument("QualityFamily::merge: the other family judges labels of another kind of output, or of none");
  if (other.resolution_ != resolution_ || other.length_ != length_)
    throw_invalid_argument("QualityFamily::merge: quality intervals of " + to_text(other.resolution_) + " s in a ring of " +
                           std::to_string(other.length_) + " into intervals of " + to_text(resolution_) +
                           " s in a ring of " + std::to_string(length_));
  if (slot_of.size() < other.ledgers_.size())
    throw_invalid_argument("QualityFamily::merge: " + std::to_string(slot_of.size()) + " slots mapped, the other family has " +
                           std::to_string(other.ledgers_.size()));
  for (std::size_t s = 0; s < other.ledgers_.size(); ++s)
    if (!other.ledgers_[s].empty()) ledger(slot_of[s]).merge(other.ledgers_[s]);
  beyond_window_ += other.beyond_window_;
}

inline std::size_t QualityFamily::memory_bytes() const {
  std::size_t bytes = sizeof(*this) + ledgers_.capacity() * sizeof(QualityLedger);
  for (const QualityLedger& l : ledgers_) bytes += l.memory_bytes();
  return bytes;
}

}  // namespace detail
}  // namespace vigil

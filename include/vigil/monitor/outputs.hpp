// vigil — in-process monitoring of machine-learning models in C++ inference servers.
// SPDX-License-Identifier: Apache-2.0
#pragma once

/// \file
/// The output family: the score distribution per interval (a t-digest and counts on the
/// training deciles) against the trailing background and against training — G-test on the
/// reference deciles and Kolmogorov-Smirnov from the digests — the frequencies of the
/// predicted classes, and the scores that are missing or not finite numbers, judged as the
/// feature family judges missing and bad values; and the evidence each gives the alert
/// policy.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "vigil/monitor/alerts.hpp"
#include "vigil/monitor/detail/comparisons.hpp"
#include "vigil/monitor/detail/corrections.hpp"
#include "vigil/monitor/detail/evaluation_context.hpp"
#include "vigil/monitor/detail/evidence_text.hpp"
#include "vigil/monitor/detail/missing_shares.hpp"
#include "vigil/monitor/detail/output_state.hpp"
#include "vigil/monitor/detail/pooling.hpp"
#include "vigil/monitor/options.hpp"
#include "vigil/monitor/report.hpp"
#include "vigil/monitor/subject.hpp"
#include "vigil/stats/goodness_of_fit.hpp"
#include "vigil/stats/sketch_comparisons.hpp"

namespace vigil {
namespace detail {

/// The shares of output `p`'s predicted classes recently, and their test against the
/// background (against training before there is a background). Classes are judged whatever
/// the score's reference.
inline void analyze_classes(const OutputPlan& p, const OutputState& recent, const OutputState& background,
                            OutputReport& r) {
  const std::size_t k = p.reference_class_share.size();
  if (k <= 1) return;
  r.classes = p.classes.names();
  r.classes.push_back("other");
  r.reference_class_share = p.reference_class_share;
  const std::vector<double> recent_classes = counts_of(recent.class_bins, p.class_offset, k);
  const double total = total_of(recent_classes);
  r.class_share.assign(k, FeatureReport::nan());
  if (!(total > 0)) return;
  for (std::size_t c = 0; c < k; ++c) r.class_share[c] = recent_classes[c] / total;
  const std::vector<double> background_classes = counts_of(background.class_bins, p.class_offset, k);
  stats::TestResult t{FeatureReport::nan(), FeatureReport::nan()};
  if (total_of(background_classes) > 0) {
    t = stats::g_test_independence(recent_classes, background_classes);
  } else if (total_of(p.reference_class_share) > 0) {
    t = g_test_against_shares(recent_classes, p.reference_class_share);
  }
  r.class_statistic = t.statistic;
  r.class_p_value = t.p_value;
}

/// Short-term figures of output `p`: the recent deciles against training and against the
/// background (against training again before there is a background), and the recent
/// digest's KS distance from training.
inline void score_shift(const OutputPlan& p, const OutputState& recent, const TDigest<>& recent_digest,
                        std::uint64_t recent_count, const OutputState& background, const TDigest<>& reference,
                        std::uint64_t reference_rows, OutputReport& r) {
  const std::size_t n = p.reference_share.size();
  const std::vector<double> recent_bins = counts_of(recent.score_bins, p.offset, n);
  const auto vs_profile = g_test_against_shares(recent_bins, p.reference_share);
  r.profile_statistic = vs_profile.statistic;
  r.profile_p_value = vs_profile.p_value;
  r.recent_ks_statistic = stats::ks_statistic(recent_digest, reference);
  r.recent_ks_p_value = ks_limit_p_value(r.recent_ks_statistic, reference_rows, recent_count);
  const std::vector<double> background_bins = counts_of(background.score_bins, p.offset, n);
  if (total_of(background_bins) > 0) {
    const auto shift = stats::g_test_independence(recent_bins, background_bins);
    r.shift_statistic = shift.statistic;
    r.shift_p_value = shift.p_value;
    r.shift_psi = psi_or_nan(background_bins, recent_bins);
  } else {
    r.shift_statistic = vs_profile.statistic;
    r.shift_p_value = vs_profile.p_value;
    r.shift_psi = psi_or_nan(p.reference_share, recent_bins);
  }
}

/// Long-term figures of output `p`: the horizon's deciles and digest against training.
inline void score_drift(const OutputPlan& p, const OutputState& horizon, const TDigest<>& horizon_digest,
                        std::uint64_t horizon_count, const TDigest<>& reference, std::uint64_t reference_rows,
                        OutputReport& r) {
  const std::vector<double> horizon_bins = counts_of(horizon.score_bins, p.offset, p.reference_share.size());
  r.psi = psi_or_nan(p.reference_share, horizon_bins);
  r.ks_statistic = stats::ks_statistic(horizon_digest, reference);
  r.ks_p_value = ks_limit_p_value(r.ks_statistic, reference_rows, horizon_count);
  if (p.reference_stddev > 0) r.wasserstein = stats::wasserstein_distance(horizon_digest, reference) / p.reference_stddev;
}

/// Output `p`'s recent requests without a usable score (absent, NaN or ±inf) and without a
/// class, and the share of the former against training and against the background.
inline void analyze_missing(const OutputPlan& p, const Merged<OutputState>& recent,
                            const Merged<OutputState>& background, OutputReport& r) {
  const OutputTotals rt = recent.state.totals(p, recent.requests);
  r.recent_requests = recent.requests;
  r.missing_scores = rt.missing;
  r.non_finite_scores = rt.non_finite;
  r.reference_missing_rate = p.reference_missing_rate;
  const bool has_classes = p.reference_class_share.size() > 1;
  if (has_classes) r.missing_classes = recent.requests - rt.classified;
  if (recent.requests == 0) return;
  const double requests = static_cast<double>(recent.requests);
  r.missing_rate = static_cast<double>(rt.unusable()) / requests;
  r.non_finite_rate = static_cast<double>(rt.non_finite) / requests;
  if (has_classes) r.class_missing_rate = static_cast<double>(r.missing_classes) / requests;
  r.missing_p_value = missing_share_test(rt.unusable(), recent.requests, p.reference_missing_rate).p_value;
  if (background.requests == 0) return;
  const OutputTotals bt = background.state.totals(p, background.requests);
  r.background_missing_rate = static_cast<double>(bt.unusable()) / static_cast<double>(background.requests);
  r.missing_shift_p_value =
      missing_share_shift(rt.unusable(), recent.requests, bt.unusable(), background.requests).p_value;
}

/// Every figure of output i (plan `p`); `reference` is the profile's digest of its scores.
inline OutputReport analyze_output(const OutputPlan& p, std::size_t i, const Merged<OutputState>& recent,
                                   const Merged<OutputState>& background, const Merged<OutputState>& horizon,
                                   const TDigest<>& reference, std::uint64_t reference_rows) {
  OutputReport r;
  r.name = p.name;
  const OutputTotals rt = recent.state.totals(p, recent.requests);
  const OutputTotals ht = horizon.state.totals(p, horizon.requests);
  r.recent_count = rt.count;
  r.horizon_count = ht.count;
  analyze_missing(p, recent, background, r);
  TDigest<> recent_digest = recent.state.scores[i];
  recent_digest.flush();
  TDigest<> horizon_digest = horizon.state.scores[i];
  horizon_digest.flush();
  if (rt.count > 0) {
    r.recent_p50 = recent_digest.quantile(0.5);
    r.recent_p90 = recent_digest.quantile(0.9);
    r.recent_p99 = recent_digest.quantile(0.99);
  }
  analyze_classes(p, recent.state, background.state, r);
  if (!p.has_reference) return r;
  r.reference_p50 = reference.quantile(0.5);
  if (ht.count > 0) score_drift(p, horizon.state, horizon_digest, ht.count, reference, reference_rows, r);
  if (rt.count > 0)
    score_shift(p, recent.state, recent_digest, rt.count, background.state, reference, reference_rows, r);
  return r;
}

/// Evidence from one output's figures; the adjusted p-values are its short-term, long-term
/// and class tests'.
inline void output_evidence(const OutputReport& r, double adjusted_shift, double adjusted_drift, double adjusted_class,
                            const AlertPolicy& policy, Subject subject, std::vector<Evidence>& out) {
  if (r.recent_count >= policy.min_requests && adjusted_shift < policy.p_value && r.profile_p_value < policy.p_value) {
    const int level = severity_of(r.shift_psi, policy.psi_warn, policy.psi_alert);
    if (level > 0)
      out.push_back(Evidence{AlertKind::score_drift, subject, severity_at(level), r.shift_psi, adjusted_shift,
                             "Output '" + r.name + "' changed: the latest scores differ from the trailing background (PSI " +
                                 fixed(r.shift_psi) + " on training deciles, median " + fixed(r.recent_p50, 3) + " vs " +
                                 fixed(r.reference_p50, 3) + " in training; KS against training " +
                                 fixed(r.recent_ks_statistic, 3) + ")."});
  }
  if (r.horizon_count >= policy.min_requests && adjusted_drift < policy.p_value) {
    const int level = std::max(severity_of(r.psi, policy.psi_warn, policy.psi_alert),
                               severity_of(r.wasserstein, policy.wasserstein_warn, policy.wasserstein_alert));
    Subject horizon = subject;
    horizon.horizon = true;
    if (level > 0)
      out.push_back(Evidence{AlertKind::score_drift, std::move(horizon), severity_at(level), r.psi, adjusted_drift,
                             "Output '" + r.name + "' has drifted from its training scores over the horizon (PSI " +
                                 fixed(r.psi) + ", KS " + fixed(r.ks_statistic, 3) + ", Wasserstein " +
                                 fixed(r.wasserstein) + " sd)."});
  }
  if (r.class_share.empty() || r.recent_count < policy.min_requests || !(adjusted_class < policy.p_value)) return;
  double largest = 0;
  std::size_t which = 0;
  for (std::size_t c = 0; c < r.class_share.size(); ++c) {
    const double change = std::fabs(r.class_share[c] - r.reference_class_share[c]);
    if (change > largest) {
      largest = change;
      which = c;
    }
  }
  const int level = severity_of(largest, policy.class_share_change, 2 * policy.class_share_change);
  if (level > 0)
    out.push_back(Evidence{AlertKind::class_drift, std::move(subject), severity_at(level), largest, adjusted_class,
                           "Output '" + r.name + "' predicts class '" + r.classes[which] + "' for " +
                               percent(r.class_share[which]) + " of recent requests, against " +
                               percent(r.reference_class_share[which]) + " in training."});
}

/// Missing scores: the share of recent requests without a usable score (absent, NaN or ±inf)
/// rose against training or against the trailing background, significantly (the adjusted
/// p-values of the two tests) and by as much as the feature family's missing-values rule
/// asks (missing_share_level()).
inline void output_missing_evidence(const OutputReport& r, double adjusted_profile, double adjusted_shift,
                                    const AlertPolicy& policy, const Subject& subject, std::vector<Evidence>& out) {
  if (r.recent_requests < policy.min_requests || std::isnan(r.missing_rate)) return;
  const int by_training =
      adjusted_profile < policy.p_value ? missing_share_level(r.missing_rate - r.reference_missing_rate, policy) : 0;
  const int by_background =
      adjusted_shift < policy.p_value ? missing_share_level(r.missing_rate - r.background_missing_rate, policy) : 0;
  const int level = std::max(by_training, by_background);
  if (level == 0) return;
  const double absent = static_cast<double>(r.missing_scores) / static_cast<double>(r.recent_requests);
  std::string against = percent(r.reference_missing_rate) + " in training";
  if (std::isnan(r.reference_missing_rate)) against = "no figure from training";
  if (!std::isnan(r.background_missing_rate))
    against += " and " + percent(r.background_missing_rate) + " in the trailing background";
  out.push_back(Evidence{AlertKind::missing_values, subject, severity_at(level), r.missing_rate,
                         by_training >= by_background ? adjusted_profile : adjusted_shift,
                         "Output '" + r.name + "' has no usable score in " + percent(r.missing_rate) +
                             " of recent requests (" + percent(r.non_finite_rate) + " NaN or infinite, " +
                             percent(absent) + " absent), against " + against + "."});
}

/// Schema problems of an output, as the feature family sees them in a feature: absent from
/// every recent request though training mostly had it (the model no longer returns it, or
/// under another name), or scores that are not finite numbers, against
/// AlertPolicy::bad_value_share of the scores given.
inline void output_schema_evidence(const OutputReport& r, const AlertPolicy& policy, const Subject& subject,
                                   std::vector<Evidence>& out) {
  if (r.recent_requests < policy.min_requests) return;
  if (r.missing_scores == r.recent_requests && r.reference_missing_rate < 0.5)
    out.push_back(Evidence{AlertKind::schema, subject, Severity::alert, 1.0, FeatureReport::nan(),
                           "Output '" + r.name + "' is absent from every recent request: the model may no longer "
                           "return it, or return it under another name."});
  non_finite_evidence(r.non_finite_scores, r.recent_requests - r.missing_scores, policy, subject, [&](double share) {
    return "Output '" + r.name + "' has " + percent(share) +
           " of recent scores that are not finite numbers (NaN or infinity).";
  }, out);
}

/// The output family (docs/concepts.md, "Monitor family").
class OutputFamily {
 public:
  static constexpr Family id = Family::outputs;
  static constexpr bool per_cohort = true;
  using Plan = OutputsPlan;
  using State = OutputState;
  using Section = std::vector<OutputReport>;
  struct Tickets {
    std::vector<Corrections::Ticket> shift, drift, classes, missing, missing_shift;
  };

  static Plan make_plan(const Schema& schema, const Profile& profile, const MonitorOptions&) {
    return make_outputs_plan(schema, profile);
  }
  OutputFamily(const Plan& plan, const MonitorOptions& options) : plan_(&plan), options_(&options) {}

  /// Every output's figures over the recent interval(s) (pooled with earlier ones while they
  /// hold too few requests: detail::pool_recent), the trailing background before them and
  /// the horizon. Without enough requests even pooled, every output's status is
  /// insufficient_data.
  Section analyze(const History<State>& history, const EvaluationContext& context, const SlotContext&) const {
    const EvaluationWindow& w = context.window;
    const PooledSample<State> pooled = pool_recent(history, w, *options_);
    const Merged<State>& recent = pooled.recent;
    const Merged<State>& background = pooled.background;
    const Merged<State> horizon = history(w.horizon_start, w.recent_end);
    const Profile& profile = context.profile;
    const std::uint64_t reference_rows = profile.rows();
    Section section;
    for (std::size_t i = 0; i < plan_->outputs.size(); ++i) {
      const OutputPlan& p = plan_->outputs[i];
      const TDigest<>& reference = profile.output(Output{p.profile_output}).digest;
      section.push_back(analyze_output(p, i, recent, background, horizon, reference, reference_rows));
      OutputReport& r = section.back();
      r.recent_intervals = pooled.intervals;
      if (!pooled.enough) r.status = Status::insufficient_data;
      if (too_small_for_g_test(pooled, *options_, r.recent_count, p.reference_share.size()))
        r.shift_statistic = r.shift_p_value = r.shift_psi = r.profile_statistic = r.profile_p_value = FeatureReport::nan();
      if (too_small_for_g_test(pooled, *options_, r.recent_count, p.reference_class_share.size()))
        r.class_statistic = r.class_p_value = FeatureReport::nan();
    }
    return section;
  }

  /// Short-term tests are corrected together, long-term ones (KS against training)
  /// together, the class tests together, and the tests of the missing share against
  /// training and against the background each together.
  Tickets tests(const Section& section, Corrections& corrections) const {
    Tickets t;
    for (const OutputReport& o : section) {
      t.shift.push_back(corrections.add({id, 0}, o.shift_p_value));
      t.drift.push_back(corrections.add({id, 1}, o.ks_p_value));
      t.classes.push_back(corrections.add({id, 2}, o.class_p_value));
      t.missing.push_back(corrections.add({id, 3}, o.missing_p_value));
      t.missing_shift.push_back(corrections.add({id, 4}, o.missing_shift_p_value));
    }
    return t;
  }

  void evidence(const Section& section, const Tickets& tickets, const Corrections& corrections,
                const EvaluationContext& context, const SlotContext& slot, std::vector<Evidence>& out) const {
    for (std::size_t i = 0; i < section.size(); ++i) {
      const OutputReport& r = section[i];
      const Subject subject{id, static_cast<std::uint32_t>(i), r.name, slot.cohort, false};
      output_evidence(r, corrections.adjusted(tickets.shift[i]), corrections.adjusted(tickets.drift[i]),
                      corrections.adjusted(tickets.classes[i]), context.policy, subject, out);
      output_missing_evidence(r, corrections.adjusted(tickets.missing[i]),
                              corrections.adjusted(tickets.missing_shift[i]), context.policy, subject, out);
      output_schema_evidence(r, context.policy, subject, out);
    }
  }

  std::size_t memory_bytes() const { return sizeof(*this); }

  template <class Part>
  static void place(Section&& section, Part& part) {
    part.outputs = std::move(section);
  }
  template <class Part>
  static void mark(const Subject& subject, Status status, Part& part) {
    raise_status(part.outputs, subject.index, status);
  }

 private:
  const Plan* plan_;
  const MonitorOptions* options_;
};

}  // namespace detail
}  // namespace vigil

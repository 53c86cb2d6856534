// vigil — in-process monitoring of machine-learning models in C++ inference servers.
// SPDX-License-Identifier: Apache-2.0
#pragma once

/// \file
/// The feature family: long-term drift of every input feature against the training profile,
/// short-term change against the trailing background, missing values, out-of-range values,
/// unseen categories and bad values; and the evidence each gives the alert policy.
///
/// Numeric features are compared on bins at the training profile's percentiles (50 by
/// default, equal edges merged, so a discrete feature gets a bin per training value); the
/// short-term G-tests group them into the reference's deciles, as Dunning proposes for
/// monitoring ("Ted Dunning & Ellen Friedman, Practical Machine Learning: A New Look at
/// Anomaly Detection", O'Reilly 2014): decile bins hold equal reference mass, so the test is
/// equally sensitive across the distribution.

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
#include "vigil/monitor/detail/exact_tests.hpp"
#include "vigil/monitor/detail/feature_plan.hpp"
#include "vigil/monitor/detail/feature_state.hpp"
#include "vigil/monitor/detail/missing_shares.hpp"
#include "vigil/monitor/detail/pooling.hpp"
#include "vigil/monitor/options.hpp"
#include "vigil/monitor/report.hpp"
#include "vigil/monitor/subject.hpp"
#include "vigil/stats/distances.hpp"
#include "vigil/stats/goodness_of_fit.hpp"
#include "vigil/stats/ks_test.hpp"

namespace vigil {
namespace detail {

/// Long-term figures of numeric feature `p`: the horizon's bins against the reference's.
/// The Wasserstein distance is in training standard deviations; it is not defined for a
/// constant feature, nor for one whose training minimum is the lowest double (its first edge
/// would be −∞).
inline void numeric_drift(const NumericPlan& p, const FeatureState& horizon, std::uint64_t horizon_count,
                          std::uint64_t reference_rows, FeatureReport& r) {
  if (horizon_count == 0) return;
  const std::vector<double> horizon_bins = counts_of(horizon.numeric_bins, p.offset, p.reference_share.size());
  r.psi = psi_or_nan(p.reference_share, horizon_bins);
  r.ks_statistic = stats::ks_statistic_binned(p.reference_share, horizon_bins);
  r.ks_p_value = ks_limit_p_value(r.ks_statistic, reference_rows, horizon_count);
  if (p.reference_stddev > 0 && std::isfinite(p.edges.front()))
    r.wasserstein = stats::wasserstein_distance_binned(p.reference_share, horizon_bins, p.edges, p.reference_min,
                                                       p.reference_max) /
                    p.reference_stddev;
}

/// Short-term figures of numeric feature `p`: the recent deciles against training and
/// against the background (against training again before there is a background).
inline void numeric_shift(const NumericPlan& p, const FeatureState& recent, const FeatureState& background,
                          FeatureReport& r) {
  const std::size_t n = p.reference_share.size();
  const std::vector<double> recent_groups = group(counts_of(recent.numeric_bins, p.offset, n), p.decile, p.decile_count);
  const std::vector<double> reference_groups = group(p.reference_share, p.decile, p.decile_count);
  const auto vs_profile = g_test_against_shares(recent_groups, reference_groups);
  r.profile_statistic = vs_profile.statistic;
  r.profile_p_value = vs_profile.p_value;
  if (background.binned(p) > 0) {
    const std::vector<double> background_groups =
        group(counts_of(background.numeric_bins, p.offset, n), p.decile, p.decile_count);
    const auto shift = stats::g_test_independence(recent_groups, background_groups);
    r.shift_statistic = shift.statistic;
    r.shift_p_value = shift.p_value;
    r.shift_psi = psi_or_nan(background_groups, recent_groups);
  } else {
    // No background yet (the first interval): training is the past.
    r.shift_statistic = vs_profile.statistic;
    r.shift_p_value = vs_profile.p_value;
    r.shift_psi = psi_or_nan(reference_groups, recent_groups);
  }
}

/// Every figure of numeric feature i (plan `p`).
inline FeatureReport analyze_numeric(const NumericPlan& p, std::size_t i, const FeatureState& recent,
                                     const FeatureState& background, const FeatureState& horizon,
                                     std::uint64_t reference_rows) {
  FeatureReport r;
  r.name = p.name;
  r.categorical = false;
  const NumericTotals rt = recent.numeric_totals(p, i);
  r.reference_mean = p.has_reference ? p.reference_mean : FeatureReport::nan();
  r.reference_missing_rate = p.reference_missing_rate;
  const std::uint64_t recent_count = recent.binned(p);
  r.horizon_count = horizon.binned(p);
  r.recent_count = recent_count;
  r.recent_requests = recent_count + rt.missing + rt.bad;
  r.bad_values = rt.bad;
  if (r.recent_requests > 0) r.missing_rate = static_cast<double>(rt.missing) / static_cast<double>(r.recent_requests);
  if (recent_count > 0) {
    r.out_of_range_rate = static_cast<double>(recent.out_of_range(p)) / static_cast<double>(recent_count);
    // Scaled back last: the mean distance plus the mean, both scaled, is in range whenever
    // the recent mean is (with a reference mean near one end of the range and values near
    // the other, the unscaled distance would not be).
    r.recent_mean = (rt.shifted_sum / static_cast<double>(recent_count) + p.reference_mean * shift_scale) / shift_scale;
  }
  if (!p.has_reference) return r;
  numeric_drift(p, horizon, r.horizon_count, reference_rows, r);
  if (recent_count > 0) numeric_shift(p, recent, background, r);
  return r;
}

/// Short-term figures of categorical feature `p`: the recent counts against training and
/// against the background (against training again before there is a background).
inline void categorical_shift(const CategoricalPlan& p, const std::vector<double>& recent_counts,
                              const Merged<FeatureState>& background, FeatureReport& r) {
  if (total_of(p.reference_share) > 0) {
    const auto vs_profile = g_test_against_shares(recent_counts, p.reference_share);
    r.profile_statistic = vs_profile.statistic;
    r.profile_p_value = vs_profile.p_value;
  }
  const CategoricalTotals bt = background.state.categorical_totals(p, background.requests);
  if (bt.count > 0) {
    const std::vector<double> background_counts =
        counts_of(background.state.categorical_bins, p.offset, p.reference_share.size());
    const auto shift = stats::g_test_independence(recent_counts, background_counts);
    r.shift_statistic = shift.statistic;
    r.shift_p_value = shift.p_value;
    r.shift_psi = psi_or_nan(background_counts, recent_counts);
  } else if (!std::isnan(r.profile_statistic)) {
    r.shift_statistic = r.profile_statistic;
    r.shift_p_value = r.profile_p_value;
    r.shift_psi = psi_or_nan(p.reference_share, recent_counts);
  }
}

/// Every figure of categorical feature i (plan `p`).
inline FeatureReport analyze_categorical(const CategoricalPlan& p, std::size_t i, const Merged<FeatureState>& recent,
                                         const Merged<FeatureState>& background, const Merged<FeatureState>& horizon) {
  FeatureReport r;
  r.name = p.name;
  r.categorical = true;
  const std::size_t n = p.reference_share.size();
  const CategoricalTotals rt = recent.state.categorical_totals(p, recent.requests);
  const CategoricalTotals ht = horizon.state.categorical_totals(p, horizon.requests);
  r.horizon_count = ht.count;
  r.recent_count = rt.count;
  r.reference_missing_rate = p.reference_missing_rate;
  r.recent_requests = rt.count + rt.missing;
  if (r.recent_requests > 0) r.missing_rate = static_cast<double>(rt.missing) / static_cast<double>(r.recent_requests);
  if (rt.count > 0) r.unseen_rate = static_cast<double>(rt.unseen) / static_cast<double>(rt.count);
  for (const auto& e : recent.state.unseen[i].top_k(5)) r.unseen_values.emplace_back(e.value, e.count);
  const std::vector<double> horizon_counts = counts_of(horizon.state.categorical_bins, p.offset, n);
  if (ht.count > 0 && total_of(p.reference_share) > 0) {
    r.psi = psi_or_nan(p.reference_share, horizon_counts);
    r.js_distance = stats::jensen_shannon_distance(p.reference_share, horizon_counts);
  }
  if (rt.count > 0) categorical_shift(p, counts_of(recent.state.categorical_bins, p.offset, n), background, r);
  return r;
}

/// Exact binomial p-values of the recent missing, out-of-range and unseen shares
/// (detail::beyond_tolerance_p_value): whether they lie further from training than the policy
/// tolerates (training has no value out of range or unseen), beyond what chance explains in a
/// sample of this size.
inline void exact_share_tests(FeatureReport& r, const AlertPolicy& policy) {
  const auto count_of = [](double share, std::uint64_t n) {
    return std::isnan(share) ? std::uint64_t{0} : static_cast<std::uint64_t>(std::llround(share * static_cast<double>(n)));
  };
  if (!std::isnan(r.missing_rate) && !std::isnan(r.reference_missing_rate))
    r.missing_p_value = beyond_tolerance_p_value(count_of(r.missing_rate, r.recent_requests), r.recent_requests,
                                                 r.reference_missing_rate, policy.missing_rate_change);
  if (!std::isnan(r.out_of_range_rate))
    r.out_of_range_p_value =
        beyond_tolerance_p_value(count_of(r.out_of_range_rate, r.recent_count), r.recent_count, 0, policy.out_of_range_share);
  if (!std::isnan(r.unseen_rate))
    r.unseen_p_value = beyond_tolerance_p_value(count_of(r.unseen_rate, r.recent_count), r.recent_count, 0, policy.unseen_share);
}

/// Sudden change: significant against the background and large (PSI on deciles). The recent
/// interval must also differ from training: once a fault is over, the background still holds
/// it, and a return to normal is no new change.
inline void sudden_change_evidence(const FeatureReport& r, double adjusted_shift, const AlertPolicy& policy,
                                   const Subject& subject, std::vector<Evidence>& out) {
  if (r.recent_count < policy.min_requests || !(adjusted_shift < policy.p_value) || !(r.profile_p_value < policy.p_value))
    return;
  const int level = severity_of(r.shift_psi, policy.psi_warn, policy.psi_alert);
  if (level == 0) return;
  const std::string what = r.categorical ? "category frequencies" : "distribution";
  std::string detail_text;
  if (!r.categorical && !std::isnan(r.recent_mean))
    detail_text = "; recent mean " + fixed(r.recent_mean, 4) + " vs " + fixed(r.reference_mean, 4) + " in training";
  out.push_back(Evidence{AlertKind::feature_shift, subject, severity_at(level), r.shift_psi, adjusted_shift,
                         "Feature '" + r.name + "' changed suddenly: its " + what +
                             " in the latest interval differs from the trailing background (PSI " + fixed(r.shift_psi) +
                             ", G = " + fixed(r.shift_statistic, 1) + ")" + detail_text + "."});
}

/// Long-term drift against training: significant over the horizon, and large by PSI or (for a
/// numeric feature) by the normalised Wasserstein distance.
inline void drift_evidence(const FeatureReport& r, double adjusted_drift, const AlertPolicy& policy,
                           const Subject& subject, std::vector<Evidence>& out) {
  if (r.horizon_count < policy.min_requests || !(adjusted_drift < policy.p_value)) return;
  const int by_psi = severity_of(r.psi, policy.psi_warn, policy.psi_alert);
  const int by_w = r.categorical ? 0 : severity_of(r.wasserstein, policy.wasserstein_warn, policy.wasserstein_alert);
  const int level = std::max(by_psi, by_w);
  if (level == 0) return;
  std::string figures = "PSI " + fixed(r.psi);
  if (!r.categorical) figures += ", KS " + fixed(r.ks_statistic, 3) + ", Wasserstein " + fixed(r.wasserstein) + " sd";
  out.push_back(Evidence{AlertKind::feature_drift, subject, severity_at(level), r.psi, adjusted_drift,
                         "Feature '" + r.name + "' has drifted from its training distribution over the horizon (" +
                             figures + "): consider retraining."});
}

/// Missing values: the share changed by more than the policy allows; a feature absent from
/// every request that training mostly had is a schema change.
inline void missing_evidence(const FeatureReport& r, const AlertPolicy& policy, const Subject& subject,
                             std::vector<Evidence>& out) {
  if (std::isnan(r.missing_rate) || std::isnan(r.reference_missing_rate) || r.recent_requests < policy.min_requests)
    return;
  const double change = r.missing_rate - r.reference_missing_rate;
  const int level = missing_share_level(std::fabs(change), policy);
  if (level > 0 && r.missing_p_value < policy.p_value)
    out.push_back(Evidence{AlertKind::missing_values, subject, severity_at(level), r.missing_rate, r.missing_p_value,
                           "Feature '" + r.name + "' is missing in " + percent(r.missing_rate) +
                               " of recent requests, against " + percent(r.reference_missing_rate) + " in training."});
  if (r.missing_rate >= 1 && r.reference_missing_rate < 0.5)
    out.push_back(Evidence{AlertKind::schema, subject, Severity::alert, 1.0, FeatureReport::nan(),
                           "Feature '" + r.name + "' is absent from every recent request: a column may have "
                           "been dropped or renamed upstream."});
}

/// Values outside the training range, values never seen in training, and values that are not
/// finite numbers, each against its share in the policy.
inline void value_evidence(const FeatureReport& r, const AlertPolicy& policy, const Subject& subject,
                           std::vector<Evidence>& out) {
  if (r.recent_count >= policy.min_requests && !std::isnan(r.out_of_range_rate)) {
    const int level = severity_of(r.out_of_range_rate, policy.out_of_range_share, 5 * policy.out_of_range_share);
    if (level > 0 && r.out_of_range_p_value < policy.p_value)
      out.push_back(Evidence{AlertKind::out_of_range, subject, severity_at(level), r.out_of_range_rate,
                             r.out_of_range_p_value,
                             "Feature '" + r.name + "' has " + percent(r.out_of_range_rate) +
                                 " of recent values outside its training range (a unit change?); recent mean " +
                                 fixed(r.recent_mean, 4) + " vs " + fixed(r.reference_mean, 4) + " in training."});
  }
  if (r.recent_count >= policy.min_requests && !std::isnan(r.unseen_rate)) {
    const int level = severity_of(r.unseen_rate, policy.unseen_share, 5 * policy.unseen_share);
    if (level > 0 && r.unseen_p_value < policy.p_value) {
      std::string examples;
      for (std::size_t k = 0; k < r.unseen_values.size() && k < 3; ++k)
        examples += (k ? ", '" : " (e.g. '") + r.unseen_values[k].first + "'";
      if (!examples.empty()) examples += ")";
      out.push_back(Evidence{AlertKind::unseen_category, subject, severity_at(level), r.unseen_rate, r.unseen_p_value,
                             "Feature '" + r.name + "' has " + percent(r.unseen_rate) +
                                 " of recent values never seen in training" + examples + "."});
    }
  }
  non_finite_evidence(r.bad_values, r.recent_count + r.bad_values, policy, subject, [&](double share) {
    return "Feature '" + r.name + "' has " + percent(share) +
           " of recent values that are not finite numbers (NaN, infinity or text).";
  }, out);
}

/// The feature family (docs/concepts.md, "Monitor family").
class FeatureFamily {
 public:
  static constexpr Family id = Family::features;
  static constexpr bool per_cohort = true;
  using Plan = FeaturePlan;
  using State = FeatureState;
  using Section = std::vector<FeatureReport>;
  /// Per feature, its short-term and long-term p-values' places among the corrections.
  struct Tickets {
    std::vector<Corrections::Ticket> shift;
    std::vector<Corrections::Ticket> drift;
  };

  static Plan make_plan(const Schema& schema, const Profile& profile, const MonitorOptions& options) {
    return make_feature_plan(schema, profile, options.numeric_bins);
  }
  FeatureFamily(const Plan& plan, const MonitorOptions& options) : plan_(&plan), options_(&options) {}

  /// Every feature's figures, numeric features first, over the recent interval(s) (pooled
  /// with earlier ones while they hold too few requests: detail::pool_recent), the trailing
  /// background before them and the horizon. Without enough requests even pooled, every
  /// feature's status is insufficient_data.
  Section analyze(const History<State>& history, const EvaluationContext& context, const SlotContext&) const {
    const EvaluationWindow& w = context.window;
    const PooledSample<State> pooled = pool_recent(history, w, *options_);
    const Merged<State>& recent = pooled.recent;
    const Merged<State>& background = pooled.background;
    const Merged<State> horizon = history(w.horizon_start, w.recent_end);
    const std::uint64_t reference_rows = context.profile.rows();
    Section section;
    for (std::size_t i = 0; i < plan_->numeric.size(); ++i)
      section.push_back(
          analyze_numeric(plan_->numeric[i], i, recent.state, background.state, horizon.state, reference_rows));
    for (std::size_t i = 0; i < plan_->categorical.size(); ++i)
      section.push_back(analyze_categorical(plan_->categorical[i], i, recent, background, horizon));
    for (std::size_t i = 0; i < section.size(); ++i) {
      FeatureReport& f = section[i];
      exact_share_tests(f, context.policy);
      f.recent_intervals = pooled.intervals;
      if (!pooled.enough) f.status = Status::insufficient_data;
      if (too_small_for_g_test(pooled, *options_, f.recent_count, groups_of(i))) forget_shift(f);
    }
    return section;
  }

  /// Short-term tests are corrected together, and long-term ones (KS for numeric features,
  /// the G-test against training for categorical ones) together.
  Tickets tests(const Section& section, Corrections& corrections) const {
    Tickets t;
    for (const FeatureReport& f : section) {
      t.shift.push_back(corrections.add({id, 0}, f.shift_p_value));
      t.drift.push_back(corrections.add({id, 1}, f.categorical ? f.profile_p_value : f.ks_p_value));
    }
    return t;
  }

  void evidence(const Section& section, const Tickets& tickets, const Corrections& corrections,
                const EvaluationContext& context, const SlotContext& slot, std::vector<Evidence>& out) const {
    const AlertPolicy& policy = context.policy;
    for (std::size_t i = 0; i < section.size(); ++i) {
      const FeatureReport& r = section[i];
      const Subject subject{id, static_cast<std::uint32_t>(i), r.name, slot.cohort, false};
      sudden_change_evidence(r, corrections.adjusted(tickets.shift[i]), policy, subject, out);
      drift_evidence(r, corrections.adjusted(tickets.drift[i]), policy, subject, out);
      missing_evidence(r, policy, subject, out);
      value_evidence(r, policy, subject, out);
    }
  }

  std::size_t memory_bytes() const { return sizeof(*this); }

  template <class Part>
  static void place(Section&& section, Part& part) {
    part.features = std::move(section);
  }
  template <class Part>
  static void mark(const Subject& subject, Status status, Part& part) {
    raise_status(part.features, subject.index, status);
  }

 private:
  // The groups of feature i's short-term G-tests: its deciles, or its categories.
  std::size_t groups_of(std::size_t i) const {
    const std::size_t numeric = plan_->numeric.size();
    return i < numeric ? plan_->numeric[i].decile_count : plan_->categorical[i - numeric].reference_share.size();
  }
  // A short-term comparison not judged: too few values for its test.
  static void forget_shift(FeatureReport& f) {
    f.shift_statistic = f.shift_p_value = f.shift_psi = FeatureReport::nan();
    f.profile_statistic = f.profile_p_value = FeatureReport::nan();
  }

  const Plan* plan_;
  const MonitorOptions* options_;
};

}  // namespace detail
}  // namespace vigil

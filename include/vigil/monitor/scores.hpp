// vigil — in-process monitoring of machine-learning models in C++ inference servers.
// SPDX-License-Identifier: Apache-2.0
#pragma once

/// \file
/// Output analyses of the Monitor: the score distribution per interval (a t-digest and counts
/// on the training deciles) against the trailing background and against training — G-test on
/// the reference deciles and Kolmogorov-Smirnov from the digests — and the frequencies of the
/// predicted classes.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "vigil/monitor/alerts.hpp"
#include "vigil/monitor/detail/summary.hpp"
#include "vigil/monitor/features.hpp"
#include "vigil/monitor/report.hpp"
#include "vigil/stats/goodness_of_fit.hpp"
#include "vigil/stats/ks_test.hpp"
#include "vigil/stats/sketch_comparisons.hpp"

namespace vigil {
namespace detail {

/// The KS statistic of two digests (stats::ks_statistic: the exact supremum of the gap
/// between their estimated CDFs), NaN when either is empty.
inline double digest_ks(const TDigest<>& a, const TDigest<>& b) {
  if (a.empty() || b.empty()) return FeatureReport::nan();
  return stats::ks_statistic(a, b);
}

/// Wasserstein-1 distance between two digests: the integral of the gap between their quantile
/// functions, on a grid of 1,000 quantiles.
inline double digest_wasserstein(const TDigest<>& a, const TDigest<>& b) {
  if (a.empty() || b.empty()) return FeatureReport::nan();
  constexpr int steps = 1000;
  std::vector<double> q(steps);
  for (int i = 0; i < steps; ++i) q[static_cast<std::size_t>(i)] = (i + 0.5) / steps;
  std::vector<double> qa(steps);
  std::vector<double> qb(steps);
  a.quantiles(q.data(), q.size(), qa.data());
  b.quantiles(q.data(), q.size(), qb.data());
  double sum = 0;
  for (std::size_t i = 0; i < q.size(); ++i) sum += std::fabs(qa[i] - qb[i]);
  return sum / steps;
}

inline void analyze_output(const MonitorPlan::OutputPlan& p, std::size_t i, const IntervalSummary& recent,
                           const IntervalSummary& background, const IntervalSummary& horizon,
                           const TDigest<>& reference, double reference_rows, OutputReport& r) {
  r.name = p.name;
  const OutputTotals rt = recent.output_totals(p);
  const OutputTotals ht = horizon.output_totals(p);
  r.recent_count = rt.count;
  r.horizon_count = ht.count;
  if (rt.count + rt.missing > 0) r.missing_rate = static_cast<double>(rt.missing) / static_cast<double>(rt.count + rt.missing);
  const std::size_t n = p.reference_share.size();
  TDigest<> recent_digest = recent.scores[i];
  recent_digest.flush();
  TDigest<> horizon_digest = horizon.scores[i];
  horizon_digest.flush();
  if (rt.count > 0) {
    r.recent_p50 = recent_digest.quantile(0.5);
    r.recent_p90 = recent_digest.quantile(0.9);
    r.recent_p99 = recent_digest.quantile(0.99);
  }
  // Classes, whatever the reference.
  const std::size_t k = p.reference_class_share.size();
  if (k > 1) {
    r.classes = p.classes.names();
    r.classes.push_back("other");
    r.reference_class_share = p.reference_class_share;
    const std::vector<double> recent_classes = counts_of(recent.class_bins, p.class_offset, k);
    const double total = total_of(recent_classes);
    r.class_share.assign(k, FeatureReport::nan());
    if (total > 0) {
      for (std::size_t c = 0; c < k; ++c) r.class_share[c] = recent_classes[c] / total;
      const std::vector<double> background_classes = counts_of(background.class_bins, p.class_offset, k);
      if (total_of(background_classes) > 0) {
        const auto t = stats::g_test_independence(recent_classes, background_classes);
        r.class_statistic = t.statistic;
        r.class_p_value = t.p_value;
      } else if (total_of(p.reference_class_share) > 0) {
        const auto t = g_test_against_shares(recent_classes, p.reference_class_share);
        r.class_statistic = t.statistic;
        r.class_p_value = t.p_value;
      }
    }
  }
  if (!p.has_reference) return;
  r.reference_p50 = reference.quantile(0.5);
  if (ht.count > 0) {
    const std::vector<double> horizon_bins = counts_of(horizon.score_bins, p.offset, n);
    r.psi = psi_or_nan(p.reference_share, horizon_bins);
    r.ks_statistic = digest_ks(horizon_digest, reference);
    r.ks_p_value = ks_limit_p_value(r.ks_statistic, reference_rows, static_cast<double>(ht.count));
    if (p.reference_stddev > 0) r.wasserstein = digest_wasserstein(horizon_digest, reference) / p.reference_stddev;
  }
  if (rt.count == 0) return;
  const std::vector<double> recent_bins = counts_of(recent.score_bins, p.offset, n);
  const auto vs_profile = g_test_against_shares(recent_bins, p.reference_share);
  r.profile_statistic = vs_profile.statistic;
  r.profile_p_value = vs_profile.p_value;
  r.recent_ks_statistic = digest_ks(recent_digest, reference);
  r.recent_ks_p_value = ks_limit_p_value(r.recent_ks_statistic, reference_rows, static_cast<double>(rt.count));
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

/// Evidence from output reports; the adjusted p-values are in the order of `reports`.
inline void output_evidence(const std::vector<OutputReport>& reports, const std::vector<double>& adjusted_shift,
                            const std::vector<double>& adjusted_drift, const std::vector<double>& adjusted_class,
                            const AlertPolicy& policy, const std::string& subject_prefix, std::vector<Evidence>& out) {
  for (std::size_t i = 0; i < reports.size(); ++i) {
    const OutputReport& r = reports[i];
    const std::string subject = subject_prefix + r.name;
    if (r.recent_count >= policy.min_requests && adjusted_shift[i] < policy.p_value &&
        r.profile_p_value < policy.p_value) {
      const int level = severity_of(r.shift_psi, policy.psi_warn, policy.psi_alert);
      if (level > 0)
        out.push_back(Evidence{AlertKind::score_drift, subject, level == 2 ? Severity::alert : Severity::warn,
                               r.shift_psi, adjusted_shift[i],
                               "Output '" + r.name + "' changed: the latest scores differ from the trailing background (PSI " +
                                   fixed(r.shift_psi) + " on training deciles, median " + fixed(r.recent_p50, 3) +
                                   " vs " + fixed(r.reference_p50, 3) + " in training; KS against training " +
                                   fixed(r.recent_ks_statistic, 3) + ")."});
    }
    if (r.horizon_count >= policy.min_requests && adjusted_drift[i] < policy.p_value) {
      const int level = std::max(severity_of(r.psi, policy.psi_warn, policy.psi_alert),
                                 severity_of(r.wasserstein, policy.wasserstein_warn, policy.wasserstein_alert));
      if (level > 0)
        out.push_back(Evidence{AlertKind::score_drift, subject + " (horizon)", level == 2 ? Severity::alert : Severity::warn,
                               r.psi, adjusted_drift[i],
                               "Output '" + r.name + "' has drifted from its training scores over the horizon (PSI " +
                                   fixed(r.psi) + ", KS " + fixed(r.ks_statistic, 3) + ", Wasserstein " +
                                   fixed(r.wasserstein) + " sd)."});
    }
    if (!r.class_share.empty() && r.recent_count >= policy.min_requests && adjusted_class[i] < policy.p_value) {
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
        out.push_back(Evidence{AlertKind::class_drift, subject, level == 2 ? Severity::alert : Severity::warn, largest,
                               adjusted_class[i],
                               "Output '" + r.name + "' predicts class '" + r.classes[which] + "' for " +
                                   percent(r.class_share[which]) + " of recent requests, against " +
                                   percent(r.reference_class_share[which]) + " in training."});
    }
  }
}

}  // namespace detail
}  // namespace vigil

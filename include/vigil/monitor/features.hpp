// vigil — in-process monitoring of machine-learning models in C++ inference servers.
// SPDX-License-Identifier: Apache-2.0
#pragma once

/// \file
/// Feature analyses of the Monitor: long-term drift against the training profile,
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
#include <cstdio>
#include <string>
#include <vector>

#include "vigil/monitor/alerts.hpp"
#include "vigil/monitor/detail/summary.hpp"
#include "vigil/monitor/report.hpp"
#include "vigil/stats/distances.hpp"
#include "vigil/stats/goodness_of_fit.hpp"
#include "vigil/stats/ks_test.hpp"
#include "vigil/stats/special_functions.hpp"

namespace vigil {
namespace detail {

/// p-value of a two-sample KS statistic from the limiting Kolmogorov distribution at the
/// effective size n₁n₂/(n₁ + n₂): O(1), where the finite-n distribution costs O(n). The
/// monitor's statistics come from bins or digests, so this limit is as exact as they are.
inline double ks_limit_p_value(double statistic, double n1, double n2) {
  if (!(n1 > 0) || !(n2 > 0) || std::isnan(statistic)) return FeatureReport::nan();
  return stats::kolmogorov_limit_sf(statistic * std::sqrt(n1 * n2 / (n1 + n2)));
}

/// Counts of `bins[offset .. offset + n)` as doubles.
template <class Bins>
std::vector<double> counts_of(const Bins& bins, std::size_t offset, std::size_t n) {
  std::vector<double> out(n);
  for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<double>(bins[offset + i]);
  return out;
}

inline double total_of(const std::vector<double>& v) {
  double t = 0;
  for (double x : v) t += x;
  return t;
}

/// Sums fine bins into their decile groups.
inline std::vector<double> group(const std::vector<double>& fine, const std::vector<std::uint32_t>& groups,
                                 std::size_t group_count) {
  std::vector<double> out(group_count, 0.0);
  for (std::size_t i = 0; i < fine.size(); ++i) out[groups[i]] += fine[i];
  return out;
}

/// G-test of `recent` counts against a reference given as shares, with the shares smoothed
/// (a share of 0 becomes 10⁻⁴) so that a value the reference never had gives a large, finite
/// statistic.
inline stats::TestResult g_test_against_shares(const std::vector<double>& recent, const std::vector<double>& shares) {
  std::vector<double> expected(shares.size());
  for (std::size_t i = 0; i < shares.size(); ++i) expected[i] = shares[i] + 1e-4;
  stats::GoodnessOfFitOptions options;
  options.rescale_expected = true;
  return stats::g_test(recent, expected, options);
}

/// PSI of `recent` against `reference` (counts or shares), 0 when either side is empty.
inline double psi_or_nan(const std::vector<double>& reference, const std::vector<double>& recent) {
  if (total_of(reference) <= 0 || total_of(recent) <= 0) return FeatureReport::nan();
  return stats::psi(reference, recent);
}

/// Largest gap between the cumulative shares of two binned distributions: the two-sample
/// KS statistic evaluated at the bin edges (a lower bound of the exact statistic, short of it
/// by at most the mass of one bin).
inline double binned_ks(const std::vector<double>& a, const std::vector<double>& b) {
  const double ta = total_of(a);
  const double tb = total_of(b);
  double ca = 0;
  double cb = 0;
  double d = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    ca += a[i] / ta;
    cb += b[i] / tb;
    d = std::max(d, std::fabs(ca - cb));
  }
  return std::min(d, 1.0);
}

/// Wasserstein-1 distance between two binned distributions on the same edges, each bin's
/// mass spread evenly between its edges (the open end bins between the reference's min and
/// max and the nearest edge), divided by `scale`.
inline double binned_wasserstein(const std::vector<double>& a, const std::vector<double>& b,
                                 const std::vector<double>& edges, double lowest, double highest, double scale) {
  if (!(scale > 0) || edges.empty()) return FeatureReport::nan();
  const double ta = total_of(a);
  const double tb = total_of(b);
  double ca = 0;
  double cb = 0;
  double area = 0;
  double left = std::min(lowest, edges.front());
  for (std::size_t i = 0; i < a.size(); ++i) {
    const double right = i < edges.size() ? edges[i] : std::max(highest, edges.back());
    const double width = std::max(0.0, right - left);
    // Within a bin both CDFs rise linearly, so |F − G| integrates in closed form.
    const double da0 = ca - cb;
    ca += a[i] / ta;
    cb += b[i] / tb;
    const double da1 = ca - cb;
    if (da0 * da1 >= 0) {
      area += width * (std::fabs(da0) + std::fabs(da1)) / 2;
    } else {
      const double t = std::fabs(da0) / (std::fabs(da0) + std::fabs(da1));
      area += width * (t * std::fabs(da0) + (1 - t) * std::fabs(da1)) / 2;
    }
    left = right;
  }
  return area / scale;
}

/// Long-term and short-term figures of numeric feature i.
inline void analyze_numeric(const MonitorPlan::NumericPlan& p, std::size_t i, const IntervalSummary& recent,
                            const IntervalSummary& background, const IntervalSummary& horizon, double reference_rows,
                            FeatureReport& r) {
  r.name = p.name;
  r.categorical = false;
  const std::size_t n = p.reference_share.size();
  const NumericTotals rt = recent.numeric_totals(p, i);
  r.reference_mean = p.has_reference ? p.reference_mean : FeatureReport::nan();
  r.reference_missing_rate = p.reference_missing_rate;
  const std::uint64_t recent_count = recent.binned(p);
  const std::uint64_t horizon_count = horizon.binned(p);
  r.horizon_count = horizon_count;
  r.recent_count = recent_count;
  r.recent_requests = recent_count + rt.missing + rt.bad;
  const double recent_requests = static_cast<double>(r.recent_requests);
  r.bad_values = rt.bad;
  if (recent_requests > 0) r.missing_rate = static_cast<double>(rt.missing) / recent_requests;
  if (recent_count > 0) {
    r.out_of_range_rate = static_cast<double>(recent.out_of_range(p)) / static_cast<double>(recent_count);
    r.recent_mean = p.reference_mean + rt.shifted_sum / static_cast<double>(recent_count);
  }
  if (!p.has_reference) return;

  const std::vector<double> horizon_bins = counts_of(horizon.numeric_bins, p.offset, n);
  if (horizon_count > 0) {
    r.psi = psi_or_nan(p.reference_share, horizon_bins);
    r.ks_statistic = binned_ks(p.reference_share, horizon_bins);
    r.ks_p_value = ks_limit_p_value(r.ks_statistic, reference_rows, static_cast<double>(horizon_count));
    r.wasserstein = binned_wasserstein(p.reference_share, horizon_bins, p.edges, p.reference_min, p.reference_max,
                                       p.reference_stddev);
  }
  if (recent_count == 0) return;
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

/// Long-term and short-term figures of categorical feature i.
inline void analyze_categorical(const MonitorPlan::CategoricalPlan& p, std::size_t i, const IntervalSummary& recent,
                                const IntervalSummary& background, const IntervalSummary& horizon, FeatureReport& r) {
  r.name = p.name;
  r.categorical = true;
  const std::size_t n = p.reference_share.size();
  const CategoricalTotals rt = recent.categorical_totals(p);
  const CategoricalTotals ht = horizon.categorical_totals(p);
  r.horizon_count = ht.count;
  r.recent_count = rt.count;
  r.reference_missing_rate = p.reference_missing_rate;
  r.recent_requests = rt.count + rt.missing;
  const double recent_requests = static_cast<double>(r.recent_requests);
  if (recent_requests > 0) r.missing_rate = static_cast<double>(rt.missing) / recent_requests;
  if (rt.count > 0) r.unseen_rate = static_cast<double>(rt.unseen) / static_cast<double>(rt.count);
  for (const auto& e : recent.unseen[i].top_k(5)) r.unseen_values.emplace_back(e.value, e.count);

  const std::vector<double> horizon_counts = counts_of(horizon.categorical_bins, p.offset, n);
  if (ht.count > 0 && total_of(p.reference_share) > 0) {
    r.psi = psi_or_nan(p.reference_share, horizon_counts);
    r.js_distance = stats::jensen_shannon_distance(p.reference_share, horizon_counts);
  }
  if (rt.count == 0) return;
  const std::vector<double> recent_counts = counts_of(recent.categorical_bins, p.offset, n);
  if (total_of(p.reference_share) > 0) {
    const auto vs_profile = g_test_against_shares(recent_counts, p.reference_share);
    r.profile_statistic = vs_profile.statistic;
    r.profile_p_value = vs_profile.p_value;
  }
  const CategoricalTotals bt = background.categorical_totals(p);
  if (bt.count > 0) {
    const std::vector<double> background_counts = counts_of(background.categorical_bins, p.offset, n);
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

/// Severity of an effect against warn/alert thresholds; 0 when below warn.
inline int severity_of(double effect, double warn, double alert) {
  if (!(effect >= warn)) return 0;
  return effect >= alert ? 2 : 1;
}

inline std::string fixed(double v, int digits = 2) {
  if (std::isnan(v)) return "n/a";
  char text[64];
  std::snprintf(text, sizeof text, "%.*f", digits, v);
  return text;
}

inline std::string percent(double share) { return fixed(100 * share, 1) + " %"; }

/// Evidence from feature reports. `adjusted_shift` and `adjusted_drift` are the
/// Benjamini-Hochberg adjusted shift and long-term p-values, in the order of `reports`.
inline void feature_evidence(const std::vector<FeatureReport>& reports, const std::vector<double>& adjusted_shift,
                             const std::vector<double>& adjusted_drift, const AlertPolicy& policy,
                             const std::string& subject_prefix, std::vector<Evidence>& out) {
  for (std::size_t i = 0; i < reports.size(); ++i) {
    const FeatureReport& r = reports[i];
    const std::string subject = subject_prefix + r.name;
    // Sudden change: significant against the background and large (PSI on deciles).
    // The recent interval must also differ from training: once a fault is over, the
    // background still holds it, and a return to normal is no new change.
    if (r.recent_count >= policy.min_requests && adjusted_shift[i] < policy.p_value &&
        r.profile_p_value < policy.p_value) {
      const int level = severity_of(r.shift_psi, policy.psi_warn, policy.psi_alert);
      if (level > 0) {
        std::string what = r.categorical ? "category frequencies" : "distribution";
        std::string detail_text;
        if (!r.categorical && !std::isnan(r.recent_mean))
          detail_text = "; recent mean " + fixed(r.recent_mean, 4) + " vs " + fixed(r.reference_mean, 4) + " in training";
        out.push_back(Evidence{AlertKind::feature_shift, subject, level == 2 ? Severity::alert : Severity::warn,
                               r.shift_psi, adjusted_shift[i],
                               "Feature '" + r.name + "' changed suddenly: its " + what +
                                   " in the latest interval differs from the trailing background (PSI " +
                                   fixed(r.shift_psi) + ", G = " + fixed(r.shift_statistic, 1) + ")" + detail_text +
                                   "."});
      }
    }
    // Long-term drift against training.
    if (r.horizon_count >= policy.min_requests && adjusted_drift[i] < policy.p_value) {
      const int by_psi = severity_of(r.psi, policy.psi_warn, policy.psi_alert);
      const int by_w = r.categorical ? 0 : severity_of(r.wasserstein, policy.wasserstein_warn, policy.wasserstein_alert);
      const int level = std::max(by_psi, by_w);
      if (level > 0) {
        std::string figures = "PSI " + fixed(r.psi);
        if (!r.categorical) figures += ", KS " + fixed(r.ks_statistic, 3) + ", Wasserstein " + fixed(r.wasserstein) + " sd";
        out.push_back(Evidence{AlertKind::feature_drift, subject, level == 2 ? Severity::alert : Severity::warn, r.psi,
                               adjusted_drift[i],
                               "Feature '" + r.name + "' has drifted from its training distribution over the horizon (" +
                                   figures + "): consider retraining."});
      }
    }
    // Missing values: the share changed by more than the policy allows.
    if (!std::isnan(r.missing_rate) && !std::isnan(r.reference_missing_rate)) {
      const double change = r.missing_rate - r.reference_missing_rate;
      if (r.recent_requests >= policy.min_requests) {
        const int level = severity_of(std::fabs(change), policy.missing_rate_change, 4 * policy.missing_rate_change);
        if (level > 0)
          out.push_back(Evidence{AlertKind::missing_values, subject, level == 2 ? Severity::alert : Severity::warn,
                                 r.missing_rate, FeatureReport::nan(),
                                 "Feature '" + r.name + "' is missing in " + percent(r.missing_rate) +
                                     " of recent requests, against " + percent(r.reference_missing_rate) +
                                     " in training."});
        if (r.missing_rate >= 1 && r.reference_missing_rate < 0.5)
          out.push_back(Evidence{AlertKind::schema, subject, Severity::alert, 1.0, FeatureReport::nan(),
                                 "Feature '" + r.name + "' is absent from every recent request: a column may have "
                                 "been dropped or renamed upstream."});
      }
    }
    if (r.recent_count >= policy.min_requests && !std::isnan(r.out_of_range_rate)) {
      const int level = severity_of(r.out_of_range_rate, policy.out_of_range_share, 5 * policy.out_of_range_share);
      if (level > 0)
        out.push_back(Evidence{AlertKind::out_of_range, subject, level == 2 ? Severity::alert : Severity::warn,
                               r.out_of_range_rate, FeatureReport::nan(),
                               "Feature '" + r.name + "' has " + percent(r.out_of_range_rate) +
                                   " of recent values outside its training range (a unit change?); recent mean " +
                                   fixed(r.recent_mean, 4) + " vs " + fixed(r.reference_mean, 4) + " in training."});
    }
    if (r.recent_count >= policy.min_requests && !std::isnan(r.unseen_rate)) {
      const int level = severity_of(r.unseen_rate, policy.unseen_share, 5 * policy.unseen_share);
      if (level > 0) {
        std::string examples;
        for (std::size_t k = 0; k < r.unseen_values.size() && k < 3; ++k)
          examples += (k ? ", '" : " (e.g. '") + r.unseen_values[k].first + "'";
        if (!examples.empty()) examples += ")";
        out.push_back(Evidence{AlertKind::unseen_category, subject, level == 2 ? Severity::alert : Severity::warn,
                               r.unseen_rate, FeatureReport::nan(),
                               "Feature '" + r.name + "' has " + percent(r.unseen_rate) +
                                   " of recent values never seen in training" + examples + "."});
      }
    }
    const double bad_share =
        static_cast<double>(r.bad_values) / std::max(1.0, static_cast<double>(r.recent_count + r.bad_values));
    if (r.recent_count + r.bad_values >= policy.min_requests) {
      const int level = severity_of(bad_share, policy.bad_value_share, 5 * policy.bad_value_share);
      if (level > 0)
        out.push_back(Evidence{AlertKind::schema, subject, level == 2 ? Severity::alert : Severity::warn, bad_share,
                               FeatureReport::nan(),
                               "Feature '" + r.name + "' has " + percent(bad_share) +
                                   " of recent values that are not finite numbers (NaN, infinity or text)."});
    }
  }
}

}  // namespace detail
}  // namespace vigil

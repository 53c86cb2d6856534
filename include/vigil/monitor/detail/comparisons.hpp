// vigil — in-process monitoring of machine-learning models in C++ inference servers.
// SPDX-License-Identifier: Apache-2.0
//
// The comparisons the monitor families share: bin counts as doubles, decile groups, the
// smoothed G-test and PSI the alert rules read, the KS p-value in the limit, and Welch's test
// of two streams' moments.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

#include "vigil/sketch/rolling.hpp"
#include "vigil/stats/classification.hpp"
#include "vigil/stats/distances.hpp"
#include "vigil/stats/goodness_of_fit.hpp"
#include "vigil/stats/ks_test.hpp"
#include "vigil/stats/test_result.hpp"

namespace vigil {
namespace detail {

/// Welch's test of the means of two streams' moments (`recent` above `baseline` for
/// `greater`): NaN, never an exception out of the evaluation, when either holds fewer than
/// two values or a moment is not finite (terms near the double range, an error of 1e200, can
/// make a variance infinite); a NaN p-value when neither varies.
inline stats::TestResult welch(const RunningStats& recent, const RunningStats& baseline, stats::Alternative alt) {
  const bool usable = recent.count() >= 2 && baseline.count() >= 2 && std::isfinite(recent.variance()) &&
                      std::isfinite(baseline.variance()) && std::isfinite(recent.mean()) && std::isfinite(baseline.mean());
  const double nan = std::numeric_limits<double>::quiet_NaN();
  if (!usable) return stats::TestResult{nan, nan};
  return stats::welch_t_test(recent.mean(), recent.variance(), recent.count(), baseline.mean(), baseline.variance(),
                             baseline.count(), alt);
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

/// PSI of `recent` against `reference` (counts or shares), NaN when either side is empty.
inline double psi_or_nan(const std::vector<double>& reference, const std::vector<double>& recent) {
  if (total_of(reference) <= 0 || total_of(recent) <= 0) return std::numeric_limits<double>::quiet_NaN();
  return stats::psi(reference, recent);
}

/// The two-sample KS p-value of a statistic between the training rows and `count` values
/// from the limiting Kolmogorov distribution: the monitor's statistics come from bins or
/// digests, so the finite-n distribution would be no more exact than they are.
inline double ks_limit_p_value(double statistic, std::uint64_t reference_rows, std::uint64_t count) {
  return stats::ks_p_value(statistic, reference_rows, count, stats::KsOptions{stats::KsMethod::limit}).p_value;
}

}  // namespace detail
}  // namespace vigil

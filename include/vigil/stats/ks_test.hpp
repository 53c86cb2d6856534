// vigil — in-process monitoring of machine-learning models in C++ inference servers.
// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <numeric>
#include <string>
#include <vector>

#include "vigil/stats/detail/checks.hpp"
#include "vigil/stats/detail/kolmogorov.hpp"
#include "vigil/stats/test_result.hpp"

namespace vigil::stats {

/// How ks_test turns its statistic into a p-value.
enum class KsMethod {
  /// As SciPy's `method='auto'`: exact when max(n₁, n₂) ≤ 10 000, asymptotic otherwise.
  automatic,
  /// The exact distribution of D under H₀ (Hodges 1958); falls back to asymptotic when
  /// lcm(n₁, n₂) ≥ 2³¹ − 1 or the computation fails, as SciPy does.
  exact,
  /// The one-sample Kolmogorov distribution at n = round(n₁n₂/(n₁ + n₂)) (Smirnov 1939),
  /// computed as scipy.stats.kstwo.sf.
  asymptotic,
  /// The limiting Kolmogorov distribution at the unrounded effective size n₁n₂/(n₁ + n₂):
  /// P(K > D·√(n₁n₂/(n₁ + n₂))), as scipy.stats.kstwobign.sf (Kolmogorov 1933). O(1) for
  /// every D and n, where `asymptotic` costs up to O(n); its error against the finite-n
  /// distribution shrinks like 1/√n. For a statistic that is itself approximate (from bins or
  /// t-digests), where the finite-n distribution buys no accuracy.
  limit,
};

/// Options of ks_test.
struct KsOptions {
  KsMethod method = KsMethod::automatic;
};

/// The largest sample size for which KsMethod::automatic chooses the exact distribution.
inline constexpr std::size_t ks_max_exact_auto = 10000;

/// p-value of the two-sided two-sample statistic `statistic` = D for samples of sizes n1 and
/// n2 — the part of ks_test that needs no data, so that sketches (t-digests, histograms)
/// that yield D from two CDFs get the same p-value as the samples would.
///
/// Returns the statistic actually tested with it: with the exact method D is first snapped
/// to the lattice h/lcm(n₁, n₂) it lives on (h = round(D·lcm)), as SciPy does.
/// Throws vigil::invalid_argument when n1 or n2 is 0 or D is outside [0, 1] or NaN.
/// Complexity: exact, O(n) for n₁ = n₂ and O(max(n₁, n₂) · band) otherwise (≤ 10^8 simple
/// steps at 10^4 × 10^4); asymptotic, O(1) to O(n) (see kolmogorov_sf); limit, O(1).
inline TestResult ks_p_value(double statistic, std::uint64_t n1, std::uint64_t n2, KsOptions options = {}) {
  if (n1 == 0 || n2 == 0) {
    detail::throw_bad_argument("ks_p_value", "sample sizes must be ≥ 1, got n1 = " + std::to_string(n1) +
                                                  " and n2 = " + std::to_string(n2));
  }
  if (!(statistic >= 0 && statistic <= 1)) {
    detail::throw_bad_argument("ks_p_value", "statistic = " + vigil::detail::to_text(statistic) + " is not in [0, 1]");
  }
  KsMethod method = options.method;
  if (method == KsMethod::limit) {
    const double size1 = static_cast<double>(n1);
    const double size2 = static_cast<double>(n2);
    return {statistic, detail::kolmogorov_limit_sf(statistic * std::sqrt(size1 * size2 / (size1 + size2))), 0};
  }
  const auto g = std::gcd(n1, n2);
  const std::uint64_t n1g = n1 / g;
  const std::uint64_t n2g = n2 / g;
  if (method == KsMethod::automatic) {
    method = std::max(n1, n2) <= ks_max_exact_auto ? KsMethod::exact : KsMethod::asymptotic;
  } else if (method == KsMethod::exact) {
    if (static_cast<double>(n1g) >= static_cast<double>(std::numeric_limits<std::int32_t>::max()) /
                                        static_cast<double>(n2g)) {
      method = KsMethod::asymptotic;
    }
  }
  if (method == KsMethod::exact) {
    const std::uint64_t lcm = n1g * n2;
    const double h_real = std::nearbyint(statistic * static_cast<double>(lcm));
    const auto h = static_cast<std::int64_t>(h_real);
    const double snapped = h_real / static_cast<double>(lcm);
    if (h == 0) return {snapped, 1.0, 0};
    const double p = n1 == n2 ? detail::ks_two_sample_sf_equal(static_cast<std::int64_t>(n1), h)
                              : detail::ks_two_sample_sf_unequal(static_cast<std::int64_t>(n1),
                                                                 static_cast<std::int64_t>(n2),
                                                                 static_cast<std::int64_t>(g), h);
    if (p >= 0 && p <= 1) return {snapped, p, 0};
    statistic = snapped;  // a failed exact computation keeps the snapped D, as SciPy does
  }
  const double m = static_cast<double>(std::max(n1, n2));
  const double n = static_cast<double>(std::min(n1, n2));
  // SciPy rounds n₁n₂/(n₁ + n₂) = ½ for two single values to 0 and returns NaN; 1 is used.
  const double effective_n = std::max(1.0, std::nearbyint(m * n / (m + n)));
  const double p = detail::kolmogorov_sf(static_cast<std::int64_t>(effective_n), statistic);
  return {statistic, std::clamp(p, 0.0, 1.0), 0};
}

/// The two-sample Kolmogorov-Smirnov statistic D = sup_x |F_a(x) − F_b(x)| of two samples
/// already sorted ascending, with ties handled as in SciPy (the ECDFs are compared after
/// every copy of a value, on both sides). O(n₁ + n₂). No checks beyond what ks_test does.
inline double ks_statistic_sorted(const double* a, std::size_t n1, const double* b, std::size_t n2) {
  const double size1 = static_cast<double>(n1);
  const double size2 = static_cast<double>(n2);
  double max_diff = 0;  // max of F_a − F_b, which is ≥ 0 after the last value
  double min_diff = 0;
  std::size_t i = 0, j = 0;
  while (i < n1 || j < n2) {
    const double x = (j == n2 || (i < n1 && a[i] <= b[j])) ? a[i] : b[j];
    while (i < n1 && a[i] == x) ++i;
    while (j < n2 && b[j] == x) ++j;
    const double diff = static_cast<double>(i) / size1 - static_cast<double>(j) / size2;
    max_diff = std::max(max_diff, diff);
    min_diff = std::min(min_diff, diff);
  }
  return std::max(max_diff, std::min(-min_diff, 1.0));
}

/// The two-sample Kolmogorov-Smirnov statistic of two binned distributions over the same
/// ascending bins: the largest gap between their cumulative shares,
/// D = max_i |Σ_{j≤i} a_j/A − Σ_{j≤i} b_j/B| with A = Σ a_j and B = Σ b_j, at most 1.
/// Counts or shares may be given (only proportions matter), and need not be whole numbers.
///
/// **Exactness.** D is the raw samples' statistic evaluated at the bins' upper edges only,
/// where both empirical CDFs are known: a lower bound of the raw D, short of it by at most
/// the largest share one bin holds on either side (inside a bin each CDF rises by no more). With
/// each bin's count placed as a point mass at one value per bin, D equals
/// scipy.stats.ks_2samp's statistic on those values (tested). For its p-value,
/// ks_p_value(D, n1, n2, {KsMethod::limit}) with the sample sizes behind the bins.
///
/// Throws vigil::invalid_argument for empty or mismatched rows, negative or non-finite
/// counts, and a row that sums to 0 (naming it). O(k). The shares are accumulated bin by
/// bin, so the last cumulative share may differ from 1 by a rounding.
inline double ks_statistic_binned(const double* counts_a, const double* counts_b, std::size_t bins) {
  detail::check_not_empty("ks_statistic_binned", "counts_a", bins);
  const double total_a = detail::check_counts("ks_statistic_binned", "counts_a", counts_a, bins);
  const double total_b = detail::check_counts("ks_statistic_binned", "counts_b", counts_b, bins);
  if (!(total_a > 0)) detail::throw_bad_argument("ks_statistic_binned", "counts_a sum to 0: no distribution");
  if (!(total_b > 0)) detail::throw_bad_argument("ks_statistic_binned", "counts_b sum to 0: no distribution");
  double cumulative_a = 0;
  double cumulative_b = 0;
  double largest = 0;
  for (std::size_t i = 0; i < bins; ++i) {
    cumulative_a += counts_a[i] / total_a;
    cumulative_b += counts_b[i] / total_b;
    largest = std::max(largest, std::fabs(cumulative_a - cumulative_b));
  }
  return std::min(largest, 1.0);
}

/// ks_statistic_binned on two vectors of equal length.
inline double ks_statistic_binned(const std::vector<double>& counts_a, const std::vector<double>& counts_b) {
  detail::check_same_size("ks_statistic_binned", "counts_a", counts_a.size(), "counts_b", counts_b.size());
  return ks_statistic_binned(counts_a.data(), counts_b.data(), counts_a.size());
}

/// Two-sample, two-sided Kolmogorov-Smirnov test: are `a` and `b` drawn from the same
/// continuous distribution? Statistic D = sup_x |F_a(x) − F_b(x)| and its p-value, equal
/// to scipy.stats.ks_2samp(a, b) (SciPy 1.10, method='auto' by default; see KsMethod).
///
/// With the exact method the statistic is reported on the lattice h/lcm(n₁, n₂), exactly
/// as SciPy reports it. Ties are allowed and treated as SciPy does (the test is then
/// conservative). Identical samples give D = 0, p = 1; disjoint samples D = 1 and a p-value
/// that may be tiny (2/C(2n, n) for equal sizes n) — or 0 with the asymptotic method once
/// n·D² ≥ 370, as in SciPy.
///
/// Precondition: both samples non-empty and free of NaN and ±inf; otherwise throws
/// vigil::invalid_argument naming the value. The inputs are copied and sorted:
/// O((n₁ + n₂) log(n₁ + n₂)) plus ks_p_value's cost.
/// Accuracy: D is SciPy's to the last bit; p within 1e-10 absolute or 1e-8 relative (the
/// golden-data tolerance; observed errors are far smaller).
/// References: Hodges (1958); Simard & L'Ecuyer (2011); Viehmann (2021).
inline TestResult ks_test(const double* a, std::size_t n1, const double* b, std::size_t n2, KsOptions options = {}) {
  detail::check_not_empty("ks_test", "a", n1);
  detail::check_not_empty("ks_test", "b", n2);
  detail::check_finite("ks_test", "a", a, n1);
  detail::check_finite("ks_test", "b", b, n2);
  std::vector<double> sorted_a(a, a + n1);
  std::vector<double> sorted_b(b, b + n2);
  std::sort(sorted_a.begin(), sorted_a.end());
  std::sort(sorted_b.begin(), sorted_b.end());
  const double d = ks_statistic_sorted(sorted_a.data(), n1, sorted_b.data(), n2);
  return ks_p_value(d, n1, n2, options);
}

/// ks_test on two vectors.
inline TestResult ks_test(const std::vector<double>& a, const std::vector<double>& b, KsOptions options = {}) {
  return ks_test(a.data(), a.size(), b.data(), b.size(), options);
}

}  // namespace vigil::stats

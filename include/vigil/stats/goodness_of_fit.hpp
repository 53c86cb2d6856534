// vigil — in-process monitoring of machine-learning models in C++ inference servers.
// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <string>
#include <vector>

#include "vigil/stats/detail/checks.hpp"
#include "vigil/stats/special_functions.hpp"
#include "vigil/stats/test_result.hpp"

/// Tests on binned counts: the G-test (log-likelihood ratio) and Pearson's chi-square test,
/// as goodness of fit against expected counts and as tests of independence of two rows of
/// counts (current against reference).
namespace vigil::stats {

/// Options of g_test and chi_square_test.
struct GoodnessOfFitOptions {
  /// "Delta degrees of freedom": the p-value uses k − 1 − ddof degrees of freedom, for
  /// expected counts fitted with ddof parameters (as scipy.stats.power_divergence's ddof).
  int ddof = 0;
  /// Scale `expected` to the total of `observed` first, so that it may be given as
  /// proportions or as counts from a sample of another size. When false (SciPy's rule)
  /// the two totals must agree to a relative 1e-8.
  bool rescale_expected = false;
};

namespace detail {

enum class Divergence { log_likelihood, pearson };

inline double divergence_term(Divergence kind, double observed, double expected) {
  if (kind == Divergence::pearson) {
    const double diff = observed - expected;
    return diff * diff / expected;
  }
  return observed == 0 ? 0.0 : 2.0 * (observed * std::log(observed / expected));
}

inline TestResult goodness_of_fit(const char* function, Divergence kind, const double* observed,
                                  const double* expected, std::size_t size, GoodnessOfFitOptions options) {
  check_not_empty(function, "observed", size);
  const double observed_total = check_counts(function, "observed", observed, size);
  double expected_total = check_counts(function, "expected", expected, size);
  if (!(observed_total > 0)) throw_bad_argument(function, "observed counts sum to 0");
  if (!(expected_total > 0)) throw_bad_argument(function, "expected counts sum to 0");
  const double scale = options.rescale_expected ? observed_total / expected_total : 1.0;
  if (!options.rescale_expected) {
    const double relative = std::fabs(observed_total - expected_total) / std::min(observed_total, expected_total);
    if (relative > 1e-8) {
      throw_bad_argument(function, "observed counts sum to " + vigil::detail::to_text(observed_total) +
                                       " but expected counts to " + vigil::detail::to_text(expected_total) +
                                       " (set rescale_expected to compare proportions)");
    }
  }
  CompensatedSum statistic;
  std::size_t bins = 0;
  for (std::size_t i = 0; i < size; ++i) {
    const double e = expected[i] * scale;
    if (observed[i] == 0 && e == 0) continue;  // an empty bin on both sides carries no information
    ++bins;
    if (e == 0) {
      statistic.add(std::numeric_limits<double>::infinity());
      continue;
    }
    statistic.add(divergence_term(kind, observed[i], e));
  }
  const double dof = static_cast<double>(bins) - 1 - options.ddof;
  const double value = statistic.value();
  if (dof <= 0) return {value, 1.0, std::max(dof, 0.0)};
  return {value, std::isinf(value) ? 0.0 : chi_square_sf(value, dof), dof};
}

inline TestResult independence(const char* function, Divergence kind, const double* counts_a, const double* counts_b,
                               std::size_t size) {
  check_not_empty(function, "counts_a", size);
  const double total_a = check_counts(function, "counts_a", counts_a, size);
  const double total_b = check_counts(function, "counts_b", counts_b, size);
  if (!(total_a > 0)) throw_bad_argument(function, "counts_a sum to 0: no observations to compare");
  if (!(total_b > 0)) throw_bad_argument(function, "counts_b sum to 0: no observations to compare");
  const double total = total_a + total_b;
  CompensatedSum statistic;
  std::size_t columns = 0;
  for (std::size_t j = 0; j < size; ++j) {
    const double column = counts_a[j] + counts_b[j];
    if (column == 0) continue;  // a category absent from both rows carries no information
    ++columns;
    statistic.add(divergence_term(kind, counts_a[j], total_a * column / total));
    statistic.add(divergence_term(kind, counts_b[j], total_b * column / total));
  }
  if (columns <= 1) return {0.0, 1.0, 0.0};
  const double dof = static_cast<double>(columns - 1);
  const double value = statistic.value();
  return {value, chi_square_sf(value, dof), dof};
}

}  // namespace detail

/// G-test of goodness of fit: do `observed` counts follow `expected`? Statistic
/// G = 2·Σ oᵢ·ln(oᵢ/eᵢ), p-value from χ²(k − 1 − ddof); equal to
/// scipy.stats.power_divergence(observed, expected, ddof, lambda_="log-likelihood").
///
/// Edge cases: bins with oᵢ = eᵢ = 0 are dropped and do not count towards k (SciPy returns
/// NaN for them); eᵢ = 0 < oᵢ gives G = +inf, p = 0 (as SciPy); k − 1 − ddof ≤ 0 (one bin)
/// gives p = 1 and degrees_of_freedom 0 (SciPy: NaN). Throws vigil::invalid_argument for
/// empty or mismatched inputs, negative or non-finite counts, totals of zero, and totals
/// that differ by more than 1e-8 relative unless options.rescale_expected.
/// O(k). Accuracy: G to ~1e-14 relative, p as chi_square_sf.
/// Reference: Sokal & Rohlf, Biometry (1995), §17.
inline TestResult g_test(const double* observed, const double* expected, std::size_t size,
                         GoodnessOfFitOptions options = {}) {
  return detail::goodness_of_fit("g_test", detail::Divergence::log_likelihood, observed, expected, size, options);
}

/// g_test on two vectors of equal length.
inline TestResult g_test(const std::vector<double>& observed, const std::vector<double>& expected,
                         GoodnessOfFitOptions options = {}) {
  detail::check_same_size("g_test", "observed", observed.size(), "expected", expected.size());
  return g_test(observed.data(), expected.data(), observed.size(), options);
}

/// Pearson's chi-square test of goodness of fit: X² = Σ (oᵢ − eᵢ)²/eᵢ, p from
/// χ²(k − 1 − ddof); equal to scipy.stats.chisquare(observed, expected, ddof).
/// Same edge cases, bad input, complexity and accuracy as g_test. Reference: Pearson (1900).
inline TestResult chi_square_test(const double* observed, const double* expected, std::size_t size,
                                  GoodnessOfFitOptions options = {}) {
  return detail::goodness_of_fit("chi_square_test", detail::Divergence::pearson, observed, expected, size, options);
}

/// chi_square_test on two vectors of equal length.
inline TestResult chi_square_test(const std::vector<double>& observed, const std::vector<double>& expected,
                                  GoodnessOfFitOptions options = {}) {
  detail::check_same_size("chi_square_test", "observed", observed.size(), "expected", expected.size());
  return chi_square_test(observed.data(), expected.data(), observed.size(), options);
}

/// G-test of independence on the 2 × k table whose rows are `counts_a` and `counts_b`
/// (e.g. current and reference counts per category): do both rows come from one
/// distribution? Expected cells are row total × column total / grand total; p from
/// χ²(k − 1). Equal to scipy.stats.chi2_contingency([counts_a, counts_b],
/// correction=False, lambda_="log-likelihood") after dropping the columns that are zero in
/// both rows — SciPy refuses those (zero expected count); here they carry no information
/// and each one dropped removes one degree of freedom. With one column left, G = 0 and
/// p = 1 (as SciPy for zero degrees of freedom).
///
/// Throws vigil::invalid_argument for empty or mismatched rows, negative or non-finite
/// counts, and a row that sums to 0. O(k).
inline TestResult g_test_independence(const double* counts_a, const double* counts_b, std::size_t size) {
  return detail::independence("g_test_independence", detail::Divergence::log_likelihood, counts_a, counts_b, size);
}

/// g_test_independence on two vectors of equal length.
inline TestResult g_test_independence(const std::vector<double>& counts_a, const std::vector<double>& counts_b) {
  detail::check_same_size("g_test_independence", "counts_a", counts_a.size(), "counts_b", counts_b.size());
  return g_test_independence(counts_a.data(), counts_b.data(), counts_a.size());
}

/// G-test of two proportions: `hits_a` of `total_a` against `hits_b` of `total_b` (an error
/// rate now against its background, say), as g_test_independence on the 2 × 2 table
/// [[hits_a, total_a − hits_a], [hits_b, total_b − hits_b]]: G with one degree of freedom,
/// no continuity correction. Equal to scipy.stats.power_divergence(table, expected,
/// ddof = 2, lambda_="log-likelihood") on the table's four cells with expected counts from
/// its margins (scipy.stats.contingency.expected_freq).
///
/// **Degenerate tables.** When no trial on either side is a hit (hits_a + hits_b = 0) or
/// every one is (hits_a + hits_b ≥ total_a + total_b), the table has an empty column and
/// nothing to compare: G = 0, p = 1, degrees_of_freedom 0 (SciPy: NaN).
///
/// Counts need not be whole numbers (weights). Throws vigil::invalid_argument, naming the
/// value, for a count that is negative or not finite, hits above their total, and a total of
/// 0 (a side without trials). O(1).
inline TestResult g_test_proportions(double hits_a, double total_a, double hits_b, double total_b) {
  const double counts[4] = {hits_a, total_a, hits_b, total_b};
  const char* const names[4] = {"hits_a", "total_a", "hits_b", "total_b"};
  for (int i = 0; i < 4; ++i) {
    if (!(counts[i] >= 0) || std::isinf(counts[i])) {
      detail::throw_bad_argument("g_test_proportions", std::string(names[i]) + " = " +
                                                           vigil::detail::to_text(counts[i]) + " must be finite and ≥ 0");
    }
  }
  if (!(hits_a <= total_a) || !(hits_b <= total_b)) {
    detail::throw_bad_argument("g_test_proportions", "hits above their total: hits_a = " +
                                                         vigil::detail::to_text(hits_a) + " of total_a = " +
                                                         vigil::detail::to_text(total_a) + ", hits_b = " +
                                                         vigil::detail::to_text(hits_b) + " of total_b = " +
                                                         vigil::detail::to_text(total_b));
  }
  if (!(total_a > 0)) detail::throw_bad_argument("g_test_proportions", "total_a = 0: no trials to compare");
  if (!(total_b > 0)) detail::throw_bad_argument("g_test_proportions", "total_b = 0: no trials to compare");
  if (hits_a + hits_b <= 0 || hits_a + hits_b >= total_a + total_b) return {0.0, 1.0, 0.0};
  return g_test_independence(std::vector<double>{hits_a, total_a - hits_a}, std::vector<double>{hits_b, total_b - hits_b});
}

/// Pearson's chi-square test of independence on the 2 × k table of `counts_a` and
/// `counts_b`: scipy.stats.chi2_contingency(table, correction=False) with all-zero columns
/// dropped. Same edge cases and bad input as g_test_independence.
inline TestResult chi_square_independence(const double* counts_a, const double* counts_b, std::size_t size) {
  return detail::independence("chi_square_independence", detail::Divergence::pearson, counts_a, counts_b, size);
}

/// chi_square_independence on two vectors of equal length.
inline TestResult chi_square_independence(const std::vector<double>& counts_a, const std::vector<double>& counts_b) {
  detail::check_same_size("chi_square_independence", "counts_a", counts_a.size(), "counts_b", counts_b.size());
  return chi_square_independence(counts_a.data(), counts_b.data(), counts_a.size());
}

}  // namespace vigil::stats

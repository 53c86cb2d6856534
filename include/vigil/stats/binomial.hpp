// vigil — in-process monitoring of machine-learning models in C++ inference servers.
// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cmath>
#include <cstdint>
#include <string>

#include "vigil/error.hpp"
#include "vigil/stats/detail/checks.hpp"
#include "vigil/stats/special_functions.hpp"
#include "vigil/stats/test_result.hpp"

/// Exact tests of a share: how surprising `successes` of `trials` are when each trial succeeds
/// with probability p. For the small samples a low-rate stream gives (a missing value in 9 of
/// 12 requests, an unseen category in 3 of 20) the asymptotic G and chi-square tests promise a
/// significance they do not have; these tails are exact.
namespace vigil::stats {

namespace detail {

/// The continued fraction of the regularized incomplete beta function I_x(a, b) (Abramowitz &
/// Stegun 26.5.8), evaluated by the modified Lentz method (Thompson & Barnett, J. Comput.
/// Phys. 64, 1986). Converges fast for x < (a + 1)/(a + b + 2), in O(√max(a, b)) terms.
inline double beta_continued_fraction(double a, double b, double x) {
  constexpr double tiny = 1e-300;
  constexpr double epsilon = 1e-16;
  double c = 1;
  double d = 1 - (a + b) * x / (a + 1);
  if (std::fabs(d) < tiny) d = tiny;
  d = 1 / d;
  double value = d;
  for (int m = 1; m <= 200000; ++m) {
    const double dm = static_cast<double>(m);
    const double even = dm * (b - dm) * x / ((a + 2 * dm - 1) * (a + 2 * dm));
    const double odd = -(a + dm) * (a + b + dm) * x / ((a + 2 * dm) * (a + 2 * dm + 1));
    for (const double coefficient : {even, odd}) {
      d = 1 + coefficient * d;
      if (std::fabs(d) < tiny) d = tiny;
      c = 1 + coefficient / c;
      if (std::fabs(c) < tiny) c = tiny;
      d = 1 / d;
      value *= c * d;
    }
    if (std::fabs(c * d - 1) < epsilon) break;
  }
  return value;
}

/// I_x(a, b) for a, b > 0 and 0 < x < 1: the continued fraction on whichever side converges,
/// so a tail far from the bulk keeps its relative accuracy (the other side is 1 minus it).
/// The prefactor x^a (1 − x)^b / B(a, b) is formed in logs.
inline double regularized_beta(double a, double b, double x) {
  const double log_front =
      a * std::log(x) + b * std::log1p(-x) - (log_gamma(a) + log_gamma(b) - log_gamma(a + b));
  if (x < (a + 1) / (a + b + 2)) return std::exp(log_front) * beta_continued_fraction(a, b, x) / a;
  return 1 - std::exp(log_front) * beta_continued_fraction(b, a, 1 - x) / b;
}

/// P(X ≥ k) for X ~ Binomial(n, p): I_p(k, n − k + 1).
inline double binomial_at_least(std::uint64_t k, std::uint64_t n, double p) {
  if (k == 0 || p >= 1) return 1;
  if (k > n || p <= 0) return 0;
  return regularized_beta(static_cast<double>(k), static_cast<double>(n - k + 1), p);
}

/// P(X ≤ k) for X ~ Binomial(n, p): I_(1−p)(n − k, k + 1).
inline double binomial_at_most(std::uint64_t k, std::uint64_t n, double p) {
  if (k >= n || p <= 0) return 1;
  if (p >= 1) return 0;
  return regularized_beta(static_cast<double>(n - k), static_cast<double>(k + 1), 1 - p);
}

}  // namespace detail

/// Exact one-sided binomial test: `successes` of `trials` against a success probability `p`.
/// Returns statistic = successes/trials (the observed share) and p_value = P(X ≥ successes)
/// for `greater`, P(X ≤ successes) for `less`, X ~ Binomial(trials, p) — as
/// scipy.stats.binomtest(successes, trials, p, alternative).
///
/// The tails are regularized incomplete beta functions (the binomial-beta relation), so the
/// cost is O(√trials) at most and a far tail keeps its relative accuracy (within 1e-9 of
/// SciPy for trials up to 10⁶; the log-gamma prefactor loses more beyond). p = 0 and p = 1 are the point
/// masses at 0 and at `trials`.
///
/// Throws vigil::invalid_argument when trials is 0, successes exceeds trials, p is not in
/// [0, 1], naming the value, or the alternative is `two_sided` (SciPy's two-sided tail sums
/// the outcomes no likelier than the observed one, which this function does not compute).
inline TestResult binomial_test(std::uint64_t successes, std::uint64_t trials, double p,
                                Alternative alternative = Alternative::greater) {
  if (trials == 0) detail::throw_bad_argument("binomial_test", "trials = 0: there is nothing to test");
  if (successes > trials)
    detail::throw_bad_argument("binomial_test", "successes = " + std::to_string(successes) + " exceeds trials = " +
                                                    std::to_string(trials));
  if (!(p >= 0 && p <= 1))
    detail::throw_bad_argument("binomial_test", "p = " + vigil::detail::to_text(p) + " is not in [0, 1]");
  if (alternative == Alternative::two_sided)
    detail::throw_bad_argument("binomial_test", "alternative two_sided is not supported: use less or greater");
  const double share = static_cast<double>(successes) / static_cast<double>(trials);
  const double tail = alternative == Alternative::greater ? detail::binomial_at_least(successes, trials, p)
                                                          : detail::binomial_at_most(successes, trials, p);
  return TestResult{share, std::fmin(1.0, std::fmax(0.0, tail))};
}

/// A two-sided interval for a share.
struct ShareInterval {
  double low;
  double high;
};

/// The Wilson score interval (Wilson, J. Am. Stat. Assoc. 22, 1927) of the success probability
/// from `successes` of `trials`, at `confidence`: the probabilities p whose score test
/// |share − p| / √(p(1 − p)/trials) stays below the normal quantile z of (1 + confidence)/2.
/// Unlike the Wald interval share ± z√(share(1 − share)/trials), it stays within [0, 1] and
/// does not collapse to a point at 0 or `trials` successes, which a low response rate gives
/// often. As scipy.stats.binomtest(successes, trials).proportion_ci(confidence, "wilson").
///
/// Throws vigil::invalid_argument when trials is 0, successes exceeds trials, or confidence is
/// not in (0, 1).
inline ShareInterval wilson_interval(std::uint64_t successes, std::uint64_t trials, double confidence = 0.95) {
  if (trials == 0) detail::throw_bad_argument("wilson_interval", "trials = 0: there is no share");
  if (successes > trials)
    detail::throw_bad_argument("wilson_interval", "successes = " + std::to_string(successes) + " exceeds trials = " +
                                                      std::to_string(trials));
  if (!(confidence > 0 && confidence < 1))
    detail::throw_bad_argument("wilson_interval", "confidence = " + vigil::detail::to_text(confidence) + " is not in (0, 1)");
  const double n = static_cast<double>(trials);
  const double share = static_cast<double>(successes) / n;
  const double z = normal_quantile(0.5 + confidence / 2);
  const double z2 = z * z;
  const double centre = (share + z2 / (2 * n)) / (1 + z2 / n);
  const double half = z / (1 + z2 / n) * std::sqrt(share * (1 - share) / n + z2 / (4 * n * n));
  // At 0 or `trials` successes one end is exactly the share; rounding must not move it past.
  const double low = successes == 0 ? 0.0 : std::fmax(0.0, centre - half);
  const double high = successes == trials ? 1.0 : std::fmin(1.0, centre + half);
  return ShareInterval{low, high};
}

}  // namespace vigil::stats

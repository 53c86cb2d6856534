// vigil — in-process monitoring of machine-learning models in C++ inference servers.
// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>

#include "vigil/stats/detail/checks.hpp"
#include "vigil/stats/special_functions.hpp"

/// Counts of events under a Poisson law: how surprising a count is for a predicted mean, and
/// the mean behind a prediction made on log counts. A request stream's arrivals per interval
/// are the usual case (Dunning & Friedman, "Practical Machine Learning: A New Look at Anomaly
/// Detection", O'Reilly 2014: a stopped stream is an alarm, not a quiet night).
namespace vigil::stats {

/// Two-sided p-value of `count` under X ~ Poisson(mean): twice the smaller tail,
/// min(1, 2·min(P(X ≤ count), P(X ≥ count))) — the "doubling" rule, which treats a
/// surprisingly low count (a stream that stopped) and a surprisingly high one alike. Equal to
/// min(1, 2·min(scipy.stats.poisson.cdf(count, mean), poisson.sf(count − 1, mean))).
///
/// The tails are regularized incomplete gamma functions, P(X ≤ k) = Q(k + 1, mean) and
/// P(X ≥ k) = P(k, mean) for k ≥ 1 (the Poisson-gamma relation), so large counts and means
/// cost O(√mean) at most and far tails keep their relative accuracy (~1e-13) down to 1e-300.
/// mean = 0 is the point mass at 0: p = 1 for count 0, else 0.
///
/// Throws vigil::invalid_argument for a count that is negative, not finite or not a whole
/// number, and a mean that is negative or not finite, naming the value.
inline double poisson_two_sided_p_value(double count, double mean) {
  if (!(count >= 0) || std::isinf(count) || count != std::floor(count)) {
    detail::throw_bad_argument("poisson_two_sided_p_value",
                               "count = " + vigil::detail::to_text(count) + " is not a whole number ≥ 0");
  }
  if (!(mean >= 0) || std::isinf(mean)) {
    detail::throw_bad_argument("poisson_two_sided_p_value",
                               "mean = " + vigil::detail::to_text(mean) + " must be finite and ≥ 0");
  }
  const double at_most = gamma_q(count + 1, mean);                // P(X ≤ count)
  const double at_least = count <= 0 ? 1.0 : gamma_p(count, mean);  // P(X ≥ count)
  return std::min(1.0, 2 * std::min(at_most, at_least));
}

namespace detail {

/// E[log(X + 1)] for X ~ Poisson(mean) and its derivative in the mean,
/// E[log(X + 2) − log(X + 1)].
struct PoissonLog1pMoments {
  double value;
  double slope;
};

/// Both moments at `mean` > 0, summed over the pmf within 12 standard deviations (plus 12) of
/// the mean, each term from the previous one (p(k + 1) = p(k)·mean/(k + 1)) with one log, and
/// divided by the summed mass, which cancels the rounding of the first term's exp.
inline PoissonLog1pMoments poisson_log1p_moments(double mean) {
  PoissonLog1pMoments moments{0, 0};
  double mass = 0;
  const double spread = 12 * std::sqrt(mean) + 12;
  const auto first = static_cast<std::int64_t>(std::max(0.0, std::floor(mean - spread)));
  const auto last = static_cast<std::int64_t>(std::ceil(mean + spread));
  const double first_k = static_cast<double>(first);
  double p = std::exp(first_k * std::log(mean) - mean - log_gamma(first_k + 1));
  double log_here = std::log1p(first_k);
  for (std::int64_t k = first; k <= last; ++k) {
    const double next_k = static_cast<double>(k) + 1;
    const double log_next = std::log1p(next_k);
    moments.value += p * log_here;
    moments.slope += p * (log_next - log_here);
    mass += p;
    p *= mean / next_k;
    log_here = log_next;
  }
  moments.value /= mass;
  moments.slope /= mass;
  return moments;
}

}  // namespace detail

/// The Poisson mean μ whose E[log(X + 1)] equals `mean_log1p`: the expected count behind a
/// prediction made on log counts (a regression on log(count + 1), say). exp(mean_log1p) − 1
/// falls short of it, since log is concave (Jensen's inequality).
///
/// **Method.** Newton's method from exp(mean_log1p) − 1, which lies below the root, on
/// E[log(X + 1)] and its slope summed over the pmf (detail::poisson_log1p_moments), until a
/// step is under 1e-10 of μ: 3 to 5 steps. E[log(X + 1)] is increasing and concave in μ, so
/// the steps rise to the root. Above a naive mean of 10⁴ the second-order expansion
/// E[log(X + 1)] ≈ log(μ + 1) − μ/(2(μ + 1)²) is inverted in closed form instead.
/// **Accuracy.** Against means whose E[log(X + 1)] was summed at 40 digits
/// (tests/stats/poisson_test.cpp): within 1e-13 relative for means of 10⁻³ … 10⁴; above,
/// the expansion's next term leaves the result 2/(3μ²) low (7e-9 relative at 10⁴, 7e-13 at
/// 10⁶).
/// **Cost.** O(√μ) per step up to μ = 10⁴, O(1) above.
///
/// 0 gives 0. A value so large that the mean overflows (above log(DBL_MAX) ≈ 709.78) gives
/// +inf. Throws vigil::invalid_argument for a negative value (no Poisson law has one) and for
/// NaN or ±inf, naming the value.
inline double poisson_mean_from_mean_log1p(double mean_log1p) {
  if (!(mean_log1p >= 0) || std::isinf(mean_log1p)) {
    detail::throw_bad_argument("poisson_mean_from_mean_log1p",
                               "mean_log1p = " + vigil::detail::to_text(mean_log1p) + " must be finite and ≥ 0");
  }
  if (mean_log1p == 0) return 0;
  const double naive = std::expm1(mean_log1p);
  if (std::isinf(naive)) return naive;
  if (naive > 1e4) return naive * std::exp(naive / (2 * (naive + 1) * (naive + 1)));
  double mean = naive;  // E[log(X + 1)] ≤ log(μ + 1): the root is at least this
  for (int i = 0; i < 100; ++i) {
    const auto moments = detail::poisson_log1p_moments(mean);
    if (!(moments.slope > 0)) break;
    const double step = (mean_log1p - moments.value) / moments.slope;
    mean += step;
    if (!(std::fabs(step) > 1e-10 * mean)) break;  // quadratic: the next step would be far smaller
  }
  return mean;
}

}  // namespace vigil::stats

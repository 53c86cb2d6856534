// vigil — in-process monitoring of machine-learning models in C++ inference servers.
// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>

#include "vigil/error.hpp"
#include "vigil/stats/detail/gamma.hpp"
#include "vigil/stats/detail/kolmogorov.hpp"

/// Special functions behind the p-values of vigil's tests: incomplete gamma and chi-square
/// tails, the normal distribution, and the Kolmogorov-Smirnov distributions.
///
/// **Accuracy**: checked against SciPy 1.10 on grids that reach the far tails
/// (tests/stats/special_functions_test.cpp, data from tests/stats/golden/generate.py).
/// Probabilities keep their relative accuracy down to the smallest normal double: a tail
/// probability of 1e-300 comes back as 1e-300 (to ~1e-12 relative), and 0 only when the
/// true value is below about 2.2e-308. Where a probability would underflow, the log_
/// variants return its logarithm instead.
///
/// **Bad input**: arguments outside a function's domain (a shape ≤ 0, a negative x where
/// x ≥ 0 is required, NaN, a probability outside [0, 1]) throw vigil::invalid_argument
/// naming the value.
namespace vigil::stats {

namespace detail {
[[noreturn]] VIGIL_NOINLINE inline void throw_domain(const char* function, const char* name, double value,
                                                     const char* requirement) {
  vigil::detail::throw_invalid_argument(std::string("vigil::stats::") + function + ": " + name + " = " +
                                        vigil::detail::to_text(value) + " " + requirement);
}

inline void check_gamma_arguments(const char* function, double a, double x) {
  if (!(a > 0) || std::isinf(a)) throw_domain(function, "a", a, "must be finite and > 0");
  if (!(x >= 0)) throw_domain(function, "x", x, "must be ≥ 0");
}
}  // namespace detail

/// log Γ(x) for x > 0 (lgamma_r where available, else std::lgamma; relative error a few
/// ulps). Safe to call from several threads at once on glibc and macOS.
inline double log_gamma(double x) {
  if (!(x > 0)) detail::throw_domain("log_gamma", "x", x, "must be > 0");
  return detail::log_gamma_positive(x);
}

/// log P(a, x), the logarithm of the regularized lower incomplete gamma function
/// P(a, x) = γ(a, x)/Γ(a) = 1/Γ(a) ∫₀ˣ t^(a−1) e^(−t) dt.
///
/// Series for x < a + 1, Lentz's continued fraction for Q otherwise (Press et al.,
/// Numerical Recipes §6.2), with the prefactor x^a e^(−x)/Γ(a) formed in log space via
/// Stirling's series so that large a loses no accuracy. O(√a) iterations near x ≈ a, fewer
/// elsewhere. Relative error ~1e-13. Requires a > 0 (finite) and x ≥ 0; x = +inf gives 0.
inline double log_gamma_p(double a, double x) {
  detail::check_gamma_arguments("log_gamma_p", a, x);
  if (x == 0) return -std::numeric_limits<double>::infinity();
  if (std::isinf(x)) return 0.0;
  if (x < a + 1) return detail::log_gamma_p_series(a, x);
  return std::log1p(-std::exp(detail::log_gamma_q_fraction(a, x)));
}

/// log Q(a, x), the logarithm of the regularized upper incomplete gamma function
/// Q(a, x) = 1 − P(a, x). Finite far beyond the point where Q itself underflows
/// (e.g. log Q(1, 1e6) = −1e6). Same method, domain and accuracy as log_gamma_p.
inline double log_gamma_q(double a, double x) {
  detail::check_gamma_arguments("log_gamma_q", a, x);
  if (x == 0) return 0.0;
  if (std::isinf(x)) return -std::numeric_limits<double>::infinity();
  if (x < a + 1) return std::log1p(-std::exp(detail::log_gamma_p_series(a, x)));
  return detail::log_gamma_q_fraction(a, x);
}

/// P(a, x), the regularized lower incomplete gamma function (scipy.special.gammainc).
/// Requires a > 0, x ≥ 0. Relative error ~1e-13 where P < ½; absolute 1e-16 near 1.
inline double gamma_p(double a, double x) {
  detail::check_gamma_arguments("gamma_p", a, x);
  if (x == 0) return 0.0;
  if (std::isinf(x)) return 1.0;
  if (x < a + 1) return std::exp(detail::log_gamma_p_series(a, x));
  return -std::expm1(detail::log_gamma_q_fraction(a, x));
}

/// Q(a, x) = 1 − P(a, x), the regularized upper incomplete gamma function
/// (scipy.special.gammaincc). Requires a > 0, x ≥ 0. Relative error ~1e-13 in the far
/// upper tail (Q(500, 5000) ≈ 1e-1400 underflows to 0; use log_gamma_q there).
inline double gamma_q(double a, double x) {
  detail::check_gamma_arguments("gamma_q", a, x);
  if (x == 0) return 1.0;
  if (std::isinf(x)) return 0.0;
  if (x < a + 1) return -std::expm1(detail::log_gamma_p_series(a, x));
  return std::exp(detail::log_gamma_q_fraction(a, x));
}

/// P(X > x) for X ~ χ²(k): Q(k/2, x/2) (scipy.stats.chi2.sf). 1 for x ≤ 0.
/// Requires k > 0 (non-integer k allowed) and x not NaN.
inline double chi_square_sf(double x, double k) {
  if (!(k > 0) || std::isinf(k)) detail::throw_domain("chi_square_sf", "k", k, "must be finite and > 0");
  if (std::isnan(x)) detail::throw_domain("chi_square_sf", "x", x, "must not be NaN");
  if (x <= 0) return 1.0;
  return gamma_q(k / 2, x / 2);
}

/// log P(X > x) for X ~ χ²(k) (scipy.stats.chi2.logsf); finite where chi_square_sf
/// underflows, e.g. log_chi_square_sf(1e5, 10) ≈ −49 965.
inline double log_chi_square_sf(double x, double k) {
  if (!(k > 0) || std::isinf(k)) detail::throw_domain("log_chi_square_sf", "k", k, "must be finite and > 0");
  if (std::isnan(x)) detail::throw_domain("log_chi_square_sf", "x", x, "must not be NaN");
  if (x <= 0) return 0.0;
  return log_gamma_q(k / 2, x / 2);
}

/// P(X ≤ x) for X ~ χ²(k): P(k/2, x/2) (scipy.stats.chi2.cdf). 0 for x ≤ 0.
inline double chi_square_cdf(double x, double k) {
  if (!(k > 0) || std::isinf(k)) detail::throw_domain("chi_square_cdf", "k", k, "must be finite and > 0");
  if (std::isnan(x)) detail::throw_domain("chi_square_cdf", "x", x, "must not be NaN");
  if (x <= 0) return 0.0;
  return gamma_p(k / 2, x / 2);
}

/// Φ(x), the standard normal CDF (scipy.special.ndtr), from std::erf / std::erfc so that
/// the lower tail keeps its relative accuracy down to Φ(−37.5) ≈ 5e-308. ±inf give 0 and
/// 1; NaN throws.
inline double normal_cdf(double x) {
  if (std::isnan(x)) detail::throw_domain("normal_cdf", "x", x, "must not be NaN");
  constexpr double inv_sqrt2 = 0.70710678118654752440;
  const double z = x * inv_sqrt2;
  if (z < -inv_sqrt2) return 0.5 * std::erfc(-z);
  if (z > inv_sqrt2) return 1 - 0.5 * std::erfc(z);
  return 0.5 + 0.5 * std::erf(z);
}

/// 1 − Φ(x) without cancellation (scipy.stats.norm.sf).
inline double normal_sf(double x) {
  if (std::isnan(x)) detail::throw_domain("normal_sf", "x", x, "must not be NaN");
  return normal_cdf(-x);
}

/// Φ⁻¹(p), the standard normal quantile (scipy.special.ndtri), for p in [0, 1]; 0 and 1
/// give −inf and +inf.
///
/// Acklam's rational approximation (relative error 1.2e-9) refined by one step of
/// Halley's method on Φ(x) − p, which makes it accurate to ~1e-15 relative. The upper half
/// is computed as −Φ⁻¹(1 − p) (1 − p is exact there), so quantiles near 1 keep full
/// accuracy too. Below p ≈ 1e-290, where Φ and φ approach the subnormal range, the step is
/// taken on log Φ with its asymptotic series, so even p = 5e-324 is inverted to ~1e-15.
/// Throws for p outside
/// [0, 1] or NaN. (Wichura's AS241 is the classic alternative of the same accuracy.)
inline double normal_quantile(double p) {
  if (!(p >= 0 && p <= 1)) detail::throw_domain("normal_quantile", "p", p, "must be in [0, 1]");
  if (p == 0) return -std::numeric_limits<double>::infinity();
  if (p == 1) return std::numeric_limits<double>::infinity();
  if (p > 0.5) return -normal_quantile(1 - p);
  constexpr double a[6] = {-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02,
                           1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00};
  constexpr double b[5] = {-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
                           6.680131188771972e+01, -1.328068155288572e+01};
  constexpr double c[6] = {-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
                           -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00};
  constexpr double d[4] = {7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
                           3.754408661907416e+00};
  double x;
  if (p < 0.02425) {
    const double q = std::sqrt(-2 * std::log(p));
    x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
        ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  } else {
    const double q = p - 0.5;
    const double r = q * q;
    x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
        (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
  }
  // Halley step: u = (Φ(x) − p)/φ(x), with φ(x) formed directly (no overflow in the tail).
  constexpr double inv_sqrt_two_pi = 0.39894228040143267794;
  const double density = inv_sqrt_two_pi * std::exp(-0.5 * x * x);
  if (density > 1e-290) {
    const double u = (normal_cdf(x) - p) / density;
    x -= u / (1 + 0.5 * x * u);
    return x;
  }
  // p below ~1e-290 (x < −36): Φ and φ are subnormal or zero, so refine in log space with
  // the asymptotic series Φ(x)/φ(x) = (1/|x|)·(1 − 1/x² + 3/x⁴ − 15/x⁶ + …) (Abramowitz &
  // Stegun 26.2.12), whose terms fall by ≥ 1/x² ≈ 1e-3 each: Newton on log Φ(x) = log p.
  const double log_p = std::log(p);
  for (int step = 0; step < 2; ++step) {
    const double r = 1 / (x * x);
    double series = 1, term = 1;
    for (int k = 1; k < 12; ++k) {
      term *= -(2.0 * k - 1) * r;
      series += term;
    }
    const double mills = series / -x;  // Φ(x)/φ(x)
    const double log_cdf = -0.5 * x * x - detail::kLogSqrtTwoPi + std::log(mills);
    x -= (log_cdf - log_p) * mills;
  }
  return x;
}

/// P(K > x) for the limiting Kolmogorov distribution, K = lim √n·D_n
/// (scipy.special.kolmogorov; Kolmogorov 1933). The theta-function series for x ≤ 0.82,
/// the alternating series 2·Σ(−1)^(k−1)e^(−2k²x²) above; 1 for x ≤ 0. Absolute error
/// ~1e-16, relative ~1e-14 in the upper tail. NaN throws.
inline double kolmogorov_limit_sf(double x) {
  if (std::isnan(x)) detail::throw_domain("kolmogorov_limit_sf", "x", x, "must not be NaN");
  return detail::kolmogorov_limit_sf(x);
}

/// P(D_n > x) for the two-sided one-sample Kolmogorov-Smirnov statistic with n values
/// (scipy.stats.kstwo.sf), exact or as accurate as SciPy's choice of method (Simard &
/// L'Ecuyer 2011): Ruben-Gambino closed forms, Durbin's matrix (Marsaglia, Tsang & Wang
/// 2003), the Birnbaum-Tingey one-sided formula, Pelz-Good's expansion. Requires n ≥ 1.
/// O(1) to O(n + (n·x)³ log n).
inline double kolmogorov_sf(std::int64_t n, double x) {
  if (n < 1) detail::throw_domain("kolmogorov_sf", "n", static_cast<double>(n), "must be ≥ 1");
  if (std::isnan(x)) detail::throw_domain("kolmogorov_sf", "x", x, "must not be NaN");
  return detail::kolmogorov_sf(n, x);
}

/// P(D⁺_n ≥ x) for the one-sided one-sample statistic (scipy.special.smirnov), exact by
/// the Birnbaum-Tingey (1951) sum in log space. Requires n ≥ 1. O(n·(1 − x)).
inline double smirnov_sf(std::int64_t n, double x) {
  if (n < 1) detail::throw_domain("smirnov_sf", "n", static_cast<double>(n), "must be ≥ 1");
  if (std::isnan(x)) detail::throw_domain("smirnov_sf", "x", x, "must not be NaN");
  return detail::smirnov_sf(n, x);
}

}  // namespace vigil::stats

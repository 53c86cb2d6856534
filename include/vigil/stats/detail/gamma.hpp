// vigil — in-process monitoring of machine-learning models in C++ inference servers.
// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cmath>
#include <limits>
#include <math.h>  // lgamma_r

// Platform switch: whether the C library has the reentrant lgamma_r.
#ifndef VIGIL_HAVE_LGAMMA_R
#if defined(__GLIBC__) || defined(__APPLE__)
#define VIGIL_HAVE_LGAMMA_R 1
#else
#define VIGIL_HAVE_LGAMMA_R 0
#endif
#endif

namespace vigil::stats::detail {

// Building blocks of the regularized incomplete gamma functions (Press et al., Numerical
// Recipes, 3rd ed., §6.2), arranged so that every result is formed in log space and large
// shape parameters keep full relative accuracy.

constexpr double kLogSqrtTwoPi = 0.91893853320467274178;  // log(√(2π))

/// log Γ(a) for a > 0. std::lgamma stores the sign of Γ in the global `signgam` on POSIX
/// systems, a data race when reports run on several threads; the reentrant lgamma_r
/// (glibc, macOS, BSDs) does not.
inline double log_gamma_positive(double a) {
#if VIGIL_HAVE_LGAMMA_R
  int sign;
  return ::lgamma_r(a, &sign);
#else
  return std::lgamma(a);
#endif
}

/// log(1 + d) − d without cancellation for small |d| (series in u = d / (2 + d), since
/// log(1 + d) = 2·atanh(u) and d − 2u = u·d).
inline double log1p_minus_x(double d) {
  if (std::fabs(d) > 0.5) return std::log1p(d) - d;
  const double u = d / (2 + d);
  const double u2 = u * u;
  double power = u * u2;
  double sum = 0;
  for (int k = 3; k < 200; k += 2) {
    const double term = power / k;
    sum += term;
    if (std::fabs(term) <= 1e-17 * std::fabs(sum)) break;
    power *= u2;
  }
  return -u * d + 2 * sum;
}

/// lgamma(a) − [(a − ½)·log a − a + log √(2π)], the error of Stirling's formula, for a > 0.
/// Asymptotic series (Bernoulli numbers) from a = 10, where its truncation error is < 1e-17.
inline double stirling_error(double a) {
  if (a < 10) return log_gamma_positive(a) - ((a - 0.5) * std::log(a) - a + kLogSqrtTwoPi);
  const double r = 1 / a;
  const double r2 = r * r;
  return r * (1.0 / 12 +
              r2 * (-1.0 / 360 +
                    r2 * (1.0 / 1260 +
                          r2 * (-1.0 / 1680 +
                                r2 * (1.0 / 1188 + r2 * (-691.0 / 360360 + r2 * (1.0 / 156 + r2 * (-3617.0 / 122400))))))));
}

/// log(x^a·e^(−x) / Γ(a)) for a > 0, x > 0. For a ≥ 10 it is written as
/// a·(log1p(d) − d) + ½·log(a/2π) − stirling_error(a) with d = (x − a)/a, which avoids
/// the cancellation of a·log x − x − lgamma(a) when a is large and x is near a.
inline double log_gamma_prefactor(double a, double x) {
  if (a < 10) return a * std::log(x) - x - log_gamma_positive(a);
  const double d = (x - a) / a;
  // Near x = a the series keeps a·(log(x/a) − (x − a)/a) exact; far from it log(x/a) is
  // better than log1p(d), whose argument 1 + d has lost the low bits of a small x/a.
  const double main = std::fabs(d) <= 0.5 ? a * log1p_minus_x(d) : a * std::log(x / a) - (x - a);
  return main + 0.5 * std::log(a) - kLogSqrtTwoPi - stirling_error(a);
}

/// log P(a, x) by the series P = prefactor · Σ_{n≥0} x^n / (a(a+1)…(a+n)); for x < a + 1.
inline double log_gamma_p_series(double a, double x) {
  double denominator = a;
  double term = 1 / a;
  double sum = term;
  for (int n = 0; n < 10000000; ++n) {
    denominator += 1;
    term *= x / denominator;
    sum += term;
    if (term < sum * 1e-17) break;
  }
  return log_gamma_prefactor(a, x) + std::log(sum);
}

/// log Q(a, x) by the continued fraction of Q, evaluated with the modified Lentz method
/// (Lentz 1976; Thompson & Barnett 1986); for x ≥ a + 1.
inline double log_gamma_q_fraction(double a, double x) {
  constexpr double tiny = 1e-300;
  double b = x + 1 - a;
  double c = 1 / tiny;
  double d = 1 / b;
  double h = d;
  for (int i = 1; i < 10000000; ++i) {
    const double an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (std::fabs(d) < tiny) d = tiny;
    c = b + an / c;
    if (std::fabs(c) < tiny) c = tiny;
    d = 1 / d;
    const double delta = d * c;
    h *= delta;
    if (std::fabs(delta - 1) < 1e-16) break;
  }
  return log_gamma_prefactor(a, x) + std::log(h);
}

}  // namespace vigil::stats::detail

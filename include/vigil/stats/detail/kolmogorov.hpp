// vigil — in-process monitoring of machine-learning models in C++ inference servers.
// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "vigil/stats/detail/gamma.hpp"

namespace vigil::stats::detail {

// Distributions of Kolmogorov-Smirnov statistics. The selection of algorithm by (n, x)
// follows Simard & L'Ecuyer (2011) in the variant SciPy's `kstwo` uses, so that p-values
// agree with scipy.stats.ks_2samp to far better than its reporting precision.

constexpr double kPi = 3.14159265358979323846;

/// Survival function of the limiting Kolmogorov distribution, P(K > x) (Kolmogorov 1933):
/// 1 − √(2π)/x · Σ exp(−(2k−1)²π²/(8x²)) for x ≤ 0.82 (converges fast for small x),
/// 2·Σ (−1)^(k−1) exp(−2k²x²) above.
inline double kolmogorov_limit_sf(double x) {
  if (!(x > 0)) return 1.0;
  if (x <= 0.82) {
    const double w = -kPi * kPi / (8 * x * x);
    double cdf = 0;
    for (int k = 1; k < 100; ++k) {
      const double odd = 2.0 * k - 1;
      const double term = std::exp(odd * odd * w);
      cdf += term;
      if (term <= 1e-18 * cdf) break;
    }
    return 1 - std::sqrt(2 * kPi) / x * cdf;
  }
  double sf = 0;
  for (int k = 1; k < 100; ++k) {
    const double term = std::exp(-2.0 * k * k * x * x);
    sf += (k % 2 == 1) ? term : -term;
    if (term <= 1e-18 * sf) break;
  }
  return std::min(1.0, 2 * sf);
}

/// P(D⁺_n ≥ x), the exact one-sided one-sample statistic (Birnbaum & Tingey 1951):
/// x · Σ_{j=0}^{⌊n(1−x)⌋} C(n, j) (1 − x − j/n)^(n−j) (x + j/n)^(j−1). Each term is formed
/// in log space with log C(n, j) from Stirling's series, grouped as
/// (n−j)·log1p(−x·n/(n−j)) + j·log1p(x·n/j) + small terms, so that no two large logarithms
/// cancel: relative error ~1e-13 even for n = 10^6.
inline double smirnov_sf(std::int64_t n, double x) {
  if (!(x > 0)) return 1.0;
  if (x >= 1) return 0.0;
  const double nd = static_cast<double>(n);
  const auto last = static_cast<std::int64_t>(std::floor(nd * (1 - x)));
  const double log_x = std::log(x);
  const double stirling_n = stirling_error(nd);
  double sum = std::exp(nd * std::log1p(-x));  // j = 0: (1 − x)^n
  double previous = sum;
  for (std::int64_t j = 1; j <= last && j < n; ++j) {
    const double jd = static_cast<double>(j);
    const double rest = nd - jd;
    const double log_term = rest * std::log1p(-x * nd / rest) + jd * std::log1p(x * nd / jd) -
                            std::log(x + jd / nd) + log_x + 0.5 * std::log(nd / (jd * rest)) - kLogSqrtTwoPi +
                            stirling_n - stirling_error(jd) - stirling_error(rest);
    const double term = std::exp(log_term);
    sum += term;
    if (term < previous && term < 1e-18 * sum) break;
    previous = term;
  }
  return std::clamp(sum, 0.0, 1.0);
}

/// The product of two square matrices of order m, row-major.
inline std::vector<double> matrix_product(const std::vector<double>& a, const std::vector<double>& b, std::size_t m) {
  std::vector<double> out(m * m, 0.0);
  for (std::size_t i = 0; i < m; ++i) {
    for (std::size_t l = 0; l < m; ++l) {
      const double ail = a[i * m + l];
      if (ail == 0) continue;
      for (std::size_t j = 0; j < m; ++j) out[i * m + j] += ail * b[l * m + j];
    }
  }
  return out;
}

/// Marsaglia, Tsang & Wang's matrix H of order m = 2k − 1 for k = ⌈nd⌉ and h = k − nd,
/// row-major.
inline std::vector<double> durbin_matrix(std::size_t k, double h) {
  const std::size_t m = 2 * k - 1;
  std::vector<double> v(m), w(m), H(m * m, 0.0);
  double factorial = 1;
  for (std::size_t j = 1; j <= m; ++j) {
    w[j - 1] = factorial;
    factorial /= static_cast<double>(j);
    v[j - 1] = (1 - std::pow(h, static_cast<double>(j))) * factorial;
  }
  const double corner = std::pow(std::max(2 * h - 1, 0.0), static_cast<double>(m)) - 2 * std::pow(h, static_cast<double>(m));
  v[m - 1] = (1 + corner) * factorial;
  for (std::size_t i = 1; i < m; ++i) {
    for (std::size_t r = i - 1; r < m; ++r) H[r * m + i] = w[r - (i - 1)];
  }
  for (std::size_t r = 0; r < m; ++r) H[r * m] = v[r];
  for (std::size_t c = 0; c < m; ++c) H[(m - 1) * m + c] = v[m - 1 - c];
  return H;
}

/// The power of two by which the Durbin computation rescales its numbers to stay in range.
inline constexpr int durbin_scale_exponent = 128;

/// Element (k − 1, k − 1) of H^n for H of order m, by repeated squaring; the power of two
/// taken out of it to keep it in range is added to `exponent`.
inline double durbin_power_element(std::vector<double> H, std::size_t m, std::size_t k, std::int64_t n, long& exponent) {
  const double scale_up = std::ldexp(1.0, durbin_scale_exponent);
  const double scale_down = std::ldexp(1.0, -durbin_scale_exponent);
  std::vector<double> power(m * m, 0.0);
  for (std::size_t i = 0; i < m; ++i) power[i * m + i] = 1;
  long h_exponent = 0;
  for (std::int64_t remaining = n; remaining > 0; remaining /= 2) {
    if (remaining % 2 != 0) {
      power = matrix_product(power, H, m);
      exponent += h_exponent;
    }
    H = matrix_product(H, H, m);
    h_exponent *= 2;
    if (std::fabs(H[(k - 1) * m + (k - 1)]) > scale_up) {
      for (double& x : H) x *= scale_down;
      h_exponent += durbin_scale_exponent;
    }
  }
  return power[(k - 1) * m + (k - 1)];
}

/// P(D_n ≤ d) by the Durbin matrix method as arranged by Marsaglia, Tsang & Wang (2003):
/// the k-th diagonal element of H^n, scaled by n!/n^n, with exponents tracked separately.
/// O(m³ log n) with m = 2⌈nd⌉ − 1.
inline double kolmogorov_cdf_durbin(std::int64_t n, double d) {
  if (d >= 1) return 1.0;
  const double nd = static_cast<double>(n) * d;
  if (nd <= 0.5) return 0.0;
  const auto k = static_cast<std::size_t>(std::ceil(nd));
  const double h = static_cast<double>(k) - nd;
  const std::size_t m = 2 * k - 1;
  long exponent = 0;
  double p = durbin_power_element(durbin_matrix(k, h), m, k, n, exponent);
  const double scale_up = std::ldexp(1.0, durbin_scale_exponent);
  const double scale_down = std::ldexp(1.0, -durbin_scale_exponent);
  const double n_real = static_cast<double>(n);
  for (std::int64_t i = 1; i <= n; ++i) {
    p = static_cast<double>(i) * p / n_real;
    if (std::fabs(p) < scale_down) {
      p *= scale_up;
      exponent -= durbin_scale_exponent;
    }
  }
  return std::ldexp(p, static_cast<int>(exponent));
}

/// P(D_n ≤ x) by the Pelz-Good (1976) asymptotic expansion to order n^(−3/2), with the
/// theta-function forms of its terms that converge for small √n·x.
inline double kolmogorov_cdf_pelz_good(std::int64_t n, double x) {
  if (x <= 0) return 0.0;
  if (x >= 1) return 1.0;
  const double nd = static_cast<double>(n);
  const double z = std::sqrt(nd) * x;
  const double z2 = z * z, z3 = z2 * z, z4 = z2 * z2, z6 = z4 * z2;
  const double pi2 = kPi * kPi, pi4 = pi2 * pi2, pi6 = pi4 * pi2;
  const double log_q = -pi2 / 8 / z2;
  if (log_q < -708) return 0.0;
  double q = std::exp(log_q);
  const double k1a = -z2, k1b = pi2 / 4;
  const double k2a = 6 * z6 + 2 * z4, k2b = (2 * z4 - 5 * z2) * pi2 / 4, k2c = pi4 * (1 - 2 * z2) / 16;
  const double k3d = pi6 * (5 - 30 * z2) / 64, k3c = pi4 * (-60 * z2 + 212 * z4) / 16,
               k3b = pi2 * (135 * z4 - 96 * z6) / 4, k3a = -30 * z6 - 90 * z4 * z4;
  double terms[4] = {0, 0, 0, 0};
  const auto max_k = static_cast<int>(std::ceil(16 * z / kPi));
  for (int k = max_k; k > 0; --k) {
    const double m = 2.0 * k - 1, m2 = m * m, m4 = m2 * m2, m6 = m4 * m2;
    const double q_power = std::pow(q, 8.0 * k);
    const double coefficients[4] = {1.0, k1a + k1b * m2, k2a + k2b * m2 + k2c * m4,
                                    k3a + k3b * m2 + k3c * m4 + k3d * m6};
    for (int i = 0; i < 4; ++i) terms[i] = terms[i] * q_power + coefficients[i];
  }
  const double sqrt_two_pi = std::sqrt(2 * kPi);
  const double divisors[4] = {z, 6 * z4, 72 * z6 * z, 6480 * z4 * z6};
  for (int i = 0; i < 4; ++i) terms[i] = terms[i] * q * sqrt_two_pi / divisors[i];
  q = std::exp(-pi2 / 2 / z2);
  double k2_extra = 0, k3_extra = 0;
  const double sqrt3z = std::sqrt(3.0) * z;
  for (int k = max_k; k > 0; --k) {
    const double kd = k, k2 = kd * kd, k_pi = kPi * kd;
    const double q_power = std::pow(q, k2);
    k2_extra += k2 * q_power;
    k3_extra += (sqrt3z + k_pi) * (sqrt3z - k_pi) * k2 * q_power;
  }
  terms[2] += k2_extra * pi2 * sqrt_two_pi / (-36 * z3);
  terms[3] += k3_extra * pi2 * sqrt_two_pi / (216 * z6);
  return terms[0] + terms[1] / std::sqrt(nd) + terms[2] / nd + terms[3] / (nd * std::sqrt(nd));
}

/// P(D_n > x) for the two-sided one-sample statistic with n values (SciPy's `kstwo.sf`):
/// Ruben-Gambino closed forms near the ends of the support, 2·smirnov_sf where the one-sided
/// tails do not overlap, Durbin's matrix for small n·x², Pelz-Good otherwise.
inline double kolmogorov_sf(std::int64_t n, double x) {
  if (!(x > 0)) return 1.0;
  if (x >= 1) return 0.0;
  const double nd = static_cast<double>(n);
  const double t = nd * x;
  if (t <= 1) {
    if (t <= 0.5) return 1.0;
    double cdf;
    if (n <= 140) {
      cdf = 1;
      for (std::int64_t i = 1; i <= n; ++i) cdf *= static_cast<double>(i) * (1.0 / nd) * (2 * t - 1);
    } else {
      const double r = 1 / nd;
      const double series = ((((((( -2.955065359477124183e-2 * r * r + 6.4102564102564102564e-3) * r * r -
                                   1.9175269175269175269e-3) * r * r + 8.4175084175084175084e-4) * r * r -
                                 5.952380952380952381e-4) * r * r + 7.9365079365079365079e-4) * r * r -
                               2.7777777777777777778e-3) * r * r + 8.3333333333333333333e-2);
      const double log_factorial_over_power = std::log(nd) / 2 - nd + std::log(2 * kPi) / 2 + r * series;
      cdf = std::exp(log_factorial_over_power + nd * std::log(2 * t - 1));
    }
    return std::clamp(1 - cdf, 0.0, 1.0);
  }
  if (t >= nd - 1) return std::clamp(2 * std::pow(1 - x, nd), 0.0, 1.0);
  if (x >= 0.5) return std::clamp(2 * smirnov_sf(n, x), 0.0, 1.0);
  const double n_x_squared = t * x;
  if (n <= 140) {
    // Durbin's method is exact here too; SciPy uses Pomeranz's recursion for
    // 0.754693 < n·x² ≤ 4, which agrees to rounding.
    if (n_x_squared <= 4) return std::clamp(1 - kolmogorov_cdf_durbin(n, x), 0.0, 1.0);
    return std::clamp(2 * smirnov_sf(n, x), 0.0, 1.0);
  }
  if (n_x_squared >= 370) return 0.0;
  if (n_x_squared >= 2.2) return std::clamp(2 * smirnov_sf(n, x), 0.0, 1.0);
  double cdf;
  if (n <= 100000 && nd * std::pow(x, 1.5) <= 1.4) {
    cdf = kolmogorov_cdf_durbin(n, x);
  } else {
    cdf = kolmogorov_cdf_pelz_good(n, x);
  }
  return std::clamp(1 - cdf, 0.0, 1.0);
}

/// P(D_{n,n} ≥ h/n) for two samples of equal size n, 0 < h ≤ n: the alternating sum
/// 2·Σ_k (−1)^(k−1) C(2n, n − kh) / C(2n, n), evaluated as nested products (Horner form)
/// so that no term cancels (Hodges 1958). O(n).
inline double ks_two_sample_sf_equal(std::int64_t n, std::int64_t h) {
  double p = 0;
  const double nd = static_cast<double>(n);
  for (std::int64_t k = n / h; k >= 0; --k) {
    double ratio = 1;
    const double kh = static_cast<double>(k * h);
    for (std::int64_t j = 0; j < h; ++j) {
      const double jd = static_cast<double>(j);
      ratio = (nd - kh - jd) * ratio / (nd + kh + jd + 1);
    }
    p = ratio * (1 - p);
  }
  return 2 * p;
}

/// P(D_{m,n} ≥ h/lcm(m, n)) for unequal sizes: the fraction of lattice paths from (0, 0)
/// to (m, n) that leave the band |x/m − y/n| < h/lcm, computed column by column as a
/// probability (not a count) so that it neither overflows nor loses small values to
/// cancellation (Hodges 1958, "inside" method; Viehmann 2021 for the complementary
/// recursion). O(m · band width) time, O(n) memory.
inline double ks_two_sample_sf_unequal(std::int64_t m, std::int64_t n, std::int64_t g, std::int64_t h) {
  if (m < n) std::swap(m, n);
  const std::int64_t mg = m / g;
  const std::int64_t ng = n / g;
  auto floor_div = [](std::int64_t a, std::int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); };
  auto ceil_div = [](std::int64_t a, std::int64_t b) { return a >= 0 ? (a + b - 1) / b : -((-a) / b); };
  std::int64_t min_j = 0;
  std::int64_t max_j = std::min(ceil_div(h, mg), n + 1);
  std::int64_t length = max_j - min_j;
  const auto size = static_cast<std::size_t>(std::min(2 * max_j + 2, n + 1));
  std::vector<double> column(size, 1.0);
  std::fill(column.begin() + min_j, column.begin() + max_j, 0.0);
  for (std::int64_t i = 1; i <= m; ++i) {
    const std::int64_t last_min_j = min_j;
    const std::int64_t last_length = length;
    min_j = std::min(std::max(floor_div(ng * i - h, mg) + 1, std::int64_t{0}), n);
    max_j = std::min(ceil_div(ng * i + h, mg), n + 1);
    if (max_j <= min_j) return 1.0;
    double value = min_j == 0 ? 0.0 : 1.0;
    const double id = static_cast<double>(i);
    for (std::int64_t jj = 0; jj < max_j - min_j; ++jj) {
      const double jd = static_cast<double>(jj + min_j);
      value = (column[static_cast<std::size_t>(jj + min_j - last_min_j)] * id + value * jd) / (id + jd);
      column[static_cast<std::size_t>(jj)] = value;
    }
    length = max_j - min_j;
    if (last_length > length) {
      std::fill(column.begin() + length, column.begin() + last_length, 1.0);
    }
  }
  return column[static_cast<std::size_t>(max_j - min_j - 1)];
}

}  // namespace vigil::stats::detail

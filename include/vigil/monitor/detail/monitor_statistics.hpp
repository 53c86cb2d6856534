// vigil — in-process monitoring of machine-learning models in C++ inference servers.
// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <vector>

#include "vigil/monitor/detail/bin_counts.hpp"
#include "vigil/sketch/log_histogram.hpp"
#include "vigil/sketch/tdigest.hpp"
#include "vigil/stats/goodness_of_fit.hpp"
#include "vigil/stats/ks_test.hpp"
#include "vigil/stats/sketch_comparisons.hpp"
#include "vigil/stats/special_functions.hpp"

namespace vigil {
namespace detail {

/// p-value of a two-sample KS statistic from the limiting Kolmogorov distribution at the
/// effective size n₁n₂/(n₁ + n₂): O(1), where the finite-n distribution costs O(n). The
/// monitor's statistics come from bins or digests, so this limit is as exact as they are.
inline double ks_limit_p_value(double statistic, double n1, double n2) {
  if (!(n1 > 0) || !(n2 > 0) || std::isnan(statistic)) return std::numeric_limits<double>::quiet_NaN();
  return stats::kolmogorov_limit_sf(statistic * std::sqrt(n1 * n2 / (n1 + n2)));
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
  if (!(scale > 0) || edges.empty()) return std::numeric_limits<double>::quiet_NaN();
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

/// The KS statistic of two digests (stats::ks_statistic: the exact supremum of the gap
/// between their estimated CDFs), NaN when either is empty.
inline double digest_ks(const TDigest<>& a, const TDigest<>& b) {
  if (a.empty() || b.empty()) return std::numeric_limits<double>::quiet_NaN();
  return stats::ks_statistic(a, b);
}

/// Wasserstein-1 distance between two digests: the integral of the gap between their quantile
/// functions, on a grid of 1,000 quantiles.
inline double digest_wasserstein(const TDigest<>& a, const TDigest<>& b) {
  if (a.empty() || b.empty()) return std::numeric_limits<double>::quiet_NaN();
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

/// Two-sided p-value of a count under Poisson(mean): twice the smaller tail, at most 1.
inline double poisson_two_sided(double count, double mean) {
  if (!(mean > 0) || std::isnan(count)) return std::numeric_limits<double>::quiet_NaN();
  const double at_most = stats::gamma_q(count + 1, mean);             // P(X ≤ count)
  const double at_least = count <= 0 ? 1.0 : stats::gamma_p(count, mean);  // P(X ≥ count)
  return std::min(1.0, 2 * std::min(at_most, at_least));
}

/// The Poisson mean μ whose E[log(X + 1)] is `log_mean`: the expected count behind a
/// predicted log count (exp(log_mean) − 1 falls short of it: log is concave). Newton's method
/// from exp(log_mean) − 1, on sums over the pmf within 12 standard deviations of the mean,
/// each term from the previous one (p(k + 1) = p(k)·μ/(k + 1)) with one log, divided by the
/// summed mass (which cancels the rounding of the first term's exp, ≈ 1e-11 at large means):
/// within 1e-13 relative in 3 to 5 steps. E[log(X + 1)] is increasing and concave in μ (its
/// second difference in k is negative), so in exact arithmetic the steps rise to the root
/// from below; the iteration stops once a step is under 1e-10 of μ. Above a mean of 10⁴ the
/// second-order correction suffices. Report time only.
inline double poisson_mean_of_log_mean(double log_mean) {
  if (!(log_mean > 0)) return 0;
  const double naive = std::expm1(log_mean);
  if (naive > 1e4) return naive * std::exp(naive / (2 * (naive + 1) * (naive + 1)));
  // E[log(X + 1)] and its derivative in μ, E[log(X + 2) − log(X + 1)].
  const auto moments = [](double mu, double& value, double& slope) {
    value = 0;
    slope = 0;
    double mass = 0;
    const double spread = 12 * std::sqrt(mu) + 12;
    const auto first = static_cast<std::int64_t>(std::max(0.0, std::floor(mu - spread)));
    const auto last = static_cast<std::int64_t>(std::ceil(mu + spread));
    const double k0 = static_cast<double>(first);
    double p = std::exp(k0 * std::log(mu) - mu - stats::log_gamma(k0 + 1));
    double log_here = std::log1p(k0);
    for (std::int64_t k = first; k <= last; ++k) {
      const double kk = static_cast<double>(k);
      const double log_next = std::log1p(kk + 1);
      value += p * log_here;
      slope += p * (log_next - log_here);
      mass += p;
      p *= mu / (kk + 1);
      log_here = log_next;
    }
    value /= mass;
    slope /= mass;
  };
  double mu = naive;  // E[log(X + 1)] ≤ log(μ + 1): the root is at least this
  for (int i = 0; i < 100; ++i) {
    double value = 0;
    double slope = 0;
    moments(mu, value, slope);
    if (!(slope > 0)) break;
    const double step = (log_mean - value) / slope;
    mu += step;
    if (!(std::fabs(step) > 1e-10 * mu)) break;  // quadratic: the next step would be far smaller
  }
  return mu;
}

/// G-test of a rate: `hits` of `total` recently against `background_hits` of
/// `background_total` (a 2×2 table). NaN without data on either side.
inline double rate_p_value(double hits, double total, double background_hits, double background_total) {
  if (!(total > 0) || !(background_total > 0)) return std::numeric_limits<double>::quiet_NaN();
  if (hits + background_hits <= 0 || hits + background_hits >= total + background_total) return 1.0;
  return stats::g_test_independence(std::vector<double>{hits, total - hits},
                                    std::vector<double>{background_hits, background_total - background_hits})
      .p_value;
}


/// Bucket counts of two latency histograms on common buckets: the histograms' buckets
/// coarsened to `scale` (4 buckets per doubling at scale 2, each ≈ 19 % wide), then adjacent
/// buckets pooled until the recent side expects at least 5 values in each, so that the G-test
/// has the χ² distribution it is judged by.
inline void pooled_latency_buckets(const LogHistogram& recent, const LogHistogram& background, int scale,
                                   std::vector<double>& recent_counts, std::vector<double>& background_counts) {
  std::map<std::int64_t, std::pair<double, double>> cells;
  const auto add = [&](const LogHistogram& h, bool is_recent) {
    const int shift = std::max(0, h.scale() - scale);
    if (h.zero_count() > 0) {
      auto& c = cells[std::numeric_limits<std::int64_t>::min()];
      (is_recent ? c.first : c.second) += static_cast<double>(h.zero_count());
    }
    for (const auto& b : h.buckets()) {
      // Floor division: negative indices (latencies below one second) round down too.
      const std::int64_t coarse = b.index >= 0 ? (b.index >> shift) : -((-b.index - 1) >> shift) - 1;
      auto& c = cells[coarse];
      (is_recent ? c.first : c.second) += static_cast<double>(b.count);
    }
  };
  add(recent, true);
  add(background, false);
  double recent_total = 0;
  double total = 0;
  for (const auto& [index, c] : cells) {
    recent_total += c.first;
    total += c.first + c.second;
  }
  recent_counts.clear();
  background_counts.clear();
  if (total <= 0) return;
  const double share = recent_total / total;
  double a = 0;
  double b = 0;
  for (const auto& [index, c] : cells) {
    a += c.first;
    b += c.second;
    if ((a + b) * share >= 5) {
      recent_counts.push_back(a);
      background_counts.push_back(b);
      a = b = 0;
    }
  }
  if (a + b > 0) {
    if (recent_counts.empty()) {
      recent_counts.push_back(a);
      background_counts.push_back(b);
    } else {
      recent_counts.back() += a;
      background_counts.back() += b;
    }
  }
}

}  // namespace detail
}  // namespace vigil

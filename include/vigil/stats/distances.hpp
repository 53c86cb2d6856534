// vigil — in-process monitoring of machine-learning models in C++ inference servers.
// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <numeric>
#include <string>
#include <utility>
#include <vector>

#include "vigil/stats/detail/checks.hpp"

/// Effect sizes: how far apart two distributions are, as opposed to whether a difference is
/// statistically detectable. Pair each test's p-value with one of these before alerting
/// (docs/statistics.md explains why).
///
/// Functions on binned distributions take counts (or any non-negative weights) and
/// normalise each side to proportions; functions on samples take raw values.
namespace vigil::stats {

// ---------------------------------------------------------------------------------------
// Population Stability Index

/// Options of psi.
struct PsiOptions {
  /// Stands in for a proportion of exactly 0 (and only for such a proportion) before the
  /// logarithm, so that a bin empty on one side contributes a large but finite term instead
  /// of +inf. Proportions above 0 are used as they are. Must be finite and > 0; keep it
  /// below the smallest proportion an occupied bin can have (1 / total count of a side), or
  /// an empty bin would count as more likely than a bin holding one value.
  double epsilon = 1e-4;
};

namespace detail {

/// A bin's proportion as PSI uses it: `count / total`, or `epsilon` for an empty bin.
inline double psi_proportion(double count, double total, double epsilon) {
  return count > 0 ? count / total : epsilon;
}

}  // namespace detail

/// Population Stability Index between two binned distributions, in its textbook form
/// PSI = Σ (cᵢ − rᵢ)·ln(cᵢ/rᵢ), where rᵢ and cᵢ are the proportions of the reference and
/// current counts in bin i. A proportion of exactly 0 is replaced by options.epsilon
/// (ε = 1e-4 by default); every other proportion is left as it is, and the proportions are
/// not renormalised afterwards. PSI is ≥ 0, symmetric, and 0 for identical proportions.
/// Common reading: < 0.1 stable, 0.1–0.25 moderate shift, > 0.25 major shift.
///
/// Edge cases: a single bin gives 0; a bin empty on both sides contributes 0; a bin empty
/// on one side only, with proportion p on the other, contributes (p − ε)·ln(p/ε). Throws
/// vigil::invalid_argument for empty or mismatched inputs, negative or non-finite counts,
/// a side whose counts sum to 0, and an ε that is not finite and positive. O(k).
/// Reference: Yurdakul & Naranjo, "Statistical properties of the population stability
/// index", J. Risk Model Validation 14(4), 2020.
inline double psi(const double* reference_counts, const double* current_counts, std::size_t size,
                  PsiOptions options = {}) {
  detail::check_not_empty("psi", "reference_counts", size);
  if (!(options.epsilon > 0) || std::isinf(options.epsilon)) {
    detail::throw_bad_argument("psi", "epsilon = " + vigil::detail::to_text(options.epsilon) + " must be finite and > 0");
  }
  const double reference_total = detail::check_counts("psi", "reference_counts", reference_counts, size);
  const double current_total = detail::check_counts("psi", "current_counts", current_counts, size);
  if (!(reference_total > 0)) detail::throw_bad_argument("psi", "reference_counts sum to 0");
  if (!(current_total > 0)) detail::throw_bad_argument("psi", "current_counts sum to 0");
  detail::CompensatedSum sum;
  for (std::size_t i = 0; i < size; ++i) {
    const double r = detail::psi_proportion(reference_counts[i], reference_total, options.epsilon);
    const double c = detail::psi_proportion(current_counts[i], current_total, options.epsilon);
    sum.add((c - r) * std::log(c / r));
  }
  return std::max(sum.value(), 0.0);
}

/// psi on two vectors of equal length.
inline double psi(const std::vector<double>& reference_counts, const std::vector<double>& current_counts,
                  PsiOptions options = {}) {
  detail::check_same_size("psi", "reference_counts", reference_counts.size(), "current_counts", current_counts.size());
  return psi(reference_counts.data(), current_counts.data(), reference_counts.size(), options);
}

/// The q-quantile of ascending `sorted` values by linear interpolation between order
/// statistics (numpy.quantile's default, Hyndman & Fan type 7). Requires a non-empty input
/// and q in [0, 1] (not checked). O(1).
inline double sorted_quantile(const double* sorted, std::size_t size, double q) {
  const double position = q * static_cast<double>(size - 1);
  const auto below = static_cast<std::size_t>(std::floor(position));
  if (below + 1 >= size) return sorted[size - 1];
  const double t = position - static_cast<double>(below);
  const double a = sorted[below];
  const double b = sorted[below + 1];
  const double diff = b - a;
  return t >= 0.5 ? b - diff * (1 - t) : a + diff * t;
}

/// Interior edges of `bins` equal-frequency bins of `reference_samples`: its quantiles at
/// 1/bins, …, (bins−1)/bins (as sorted_quantile), with repeated edges removed, so a
/// reference with few distinct values yields fewer bins. Bins are right-closed:
/// (−inf, e₁], (e₁, e₂], …, (e_last, +inf), which keeps a repeated value (an edge) in one
/// bin. A t-digest's quantiles give the same edges approximately, so sketch-based PSI reuses
/// bin_counts and psi unchanged.
///
/// Throws vigil::invalid_argument for an empty or non-finite sample and bins < 1.
/// O(n log n).
inline std::vector<double> quantile_bin_edges(const std::vector<double>& reference_samples, std::size_t bins = 10) {
  detail::check_not_empty("quantile_bin_edges", "reference_samples", reference_samples.size());
  detail::check_finite("quantile_bin_edges", "reference_samples", reference_samples.data(), reference_samples.size());
  if (bins < 1) detail::throw_bad_argument("quantile_bin_edges", "bins = 0 must be ≥ 1");
  std::vector<double> sorted = reference_samples;
  std::sort(sorted.begin(), sorted.end());
  std::vector<double> edges;
  edges.reserve(bins - 1);
  for (std::size_t k = 1; k < bins; ++k) {
    const double edge = sorted_quantile(sorted.data(), sorted.size(), static_cast<double>(k) / static_cast<double>(bins));
    if (edges.empty() || edge > edges.back()) edges.push_back(edge);
  }
  return edges;
}

/// Counts of `samples` in the right-closed bins defined by ascending interior `edges`
/// (edges.size() + 1 bins): a value x goes to the bin of the first edge ≥ x.
/// Throws vigil::invalid_argument for non-finite samples or edges not strictly ascending.
/// O(n log k).
inline std::vector<double> bin_counts(const std::vector<double>& samples, const std::vector<double>& edges) {
  detail::check_finite("bin_counts", "samples", samples.data(), samples.size());
  detail::check_finite("bin_counts", "edges", edges.data(), edges.size());
  for (std::size_t i = 1; i < edges.size(); ++i) {
    if (!(edges[i] > edges[i - 1])) detail::throw_bad_element("bin_counts", "edges", i, edges[i], "is not above the previous edge");
  }
  std::vector<double> counts(edges.size() + 1, 0.0);
  for (double x : samples) {
    counts[static_cast<std::size_t>(std::lower_bound(edges.begin(), edges.end(), x) - edges.begin())] += 1;
  }
  return counts;
}

/// PSI of raw samples on `bins` equal-frequency bins of the reference (the customary
/// "deciles" PSI for bins = 10): psi(bin_counts(reference, e), bin_counts(current, e))
/// with e = quantile_bin_edges(reference, bins). All-equal reference samples make a single
/// edge at their value, so the bins are "at most" and "above" it. Throws as its parts do
/// (empty samples included). O((n + m) log n).
inline double psi_on_quantile_bins(const std::vector<double>& reference_samples, const std::vector<double>& current_samples,
                                   std::size_t bins = 10, PsiOptions options = {}) {
  detail::check_not_empty("psi_on_quantile_bins", "current_samples", current_samples.size());
  const std::vector<double> edges = quantile_bin_edges(reference_samples, bins);
  return psi(bin_counts(reference_samples, edges), bin_counts(current_samples, edges), options);
}

// ---------------------------------------------------------------------------------------
// Wasserstein distance

namespace detail {

struct WeightedSample {
  std::vector<double> values;      // ascending
  std::vector<double> cumulative;  // cumulative[i] = weight of values[0..i]
  double total;
};

inline WeightedSample sort_weighted(const char* name_values, const char* name_weights, const double* values,
                                    const double* weights, std::size_t size) {
  check_not_empty("wasserstein_distance", name_values, size);
  check_finite("wasserstein_distance", name_values, values, size);
  WeightedSample out;
  if (weights == nullptr) {  // sort the values themselves: no index indirection
    out.values.assign(values, values + size);
    std::sort(out.values.begin(), out.values.end());
    out.cumulative.resize(size);
    for (std::size_t i = 0; i < size; ++i) out.cumulative[i] = static_cast<double>(i + 1);
    out.total = static_cast<double>(size);
    return out;
  }
  std::vector<std::size_t> order(size);
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::sort(order.begin(), order.end(), [values](std::size_t i, std::size_t j) { return values[i] < values[j]; });
  out.values.resize(size);
  out.cumulative.resize(size);
  const double total = check_counts("wasserstein_distance", name_weights, weights, size);
  if (!(total > 0)) throw_bad_argument("wasserstein_distance", std::string(name_weights) + " sum to 0");
  double running = 0;
  for (std::size_t i = 0; i < size; ++i) {
    out.values[i] = values[order[i]];
    running += weights[order[i]];
    out.cumulative[i] = running;
  }
  out.total = running;
  return out;
}

inline double wasserstein_sorted(const WeightedSample& u, const WeightedSample& v) {
  const std::size_t nu = u.values.size();
  const std::size_t nv = v.values.size();
  std::size_t i = 0, j = 0;
  CompensatedSum sum;
  // Walk the merged order; between consecutive values x < y the CDFs are constant.
  double x = std::min(u.values[0], v.values[0]);
  while (true) {
    while (i < nu && u.values[i] <= x) ++i;
    while (j < nv && v.values[j] <= x) ++j;
    if (i == nu && j == nv) break;
    const double y = (j == nv || (i < nu && u.values[i] <= v.values[j])) ? u.values[i] : v.values[j];
    const double cdf_u = i == 0 ? 0.0 : u.cumulative[i - 1] / u.total;
    const double cdf_v = j == 0 ? 0.0 : v.cumulative[j - 1] / v.total;
    sum.add(std::fabs(cdf_u - cdf_v) * (y - x));
    x = y;
  }
  return sum.value();
}

}  // namespace detail

/// The 1-Wasserstein (earth mover's) distance between the empirical distributions of `a`
/// and `b`, optionally weighted: ∫ |F_a(x) − F_b(x)| dx, in the units of the data. Equal
/// to scipy.stats.wasserstein_distance(a, b, a_weights, b_weights). Pass nullptr for
/// unweighted samples. 0 for identical samples, |μ_a − μ_b| for two point masses.
///
/// Throws vigil::invalid_argument for an empty sample, non-finite values, negative or
/// non-finite weights, or weights that sum to 0. O((n + m) log(n + m)).
/// Accuracy: ~1e-15 relative (compensated summation). Reference: Ramdas, García Trillos &
/// Cuturi, "On Wasserstein two-sample testing", Entropy 19(2), 2017.
inline double wasserstein_distance(const double* a, std::size_t size_a, const double* b, std::size_t size_b,
                                   const double* a_weights = nullptr, const double* b_weights = nullptr) {
  const auto u = detail::sort_weighted("a", "a_weights", a, a_weights, size_a);
  const auto v = detail::sort_weighted("b", "b_weights", b, b_weights, size_b);
  return detail::wasserstein_sorted(u, v);
}

/// wasserstein_distance on two vectors of samples.
inline double wasserstein_distance(const std::vector<double>& a, const std::vector<double>& b) {
  return wasserstein_distance(a.data(), a.size(), b.data(), b.size());
}

/// wasserstein_distance on two weighted samples; each weight vector matches its sample.
inline double wasserstein_distance(const std::vector<double>& a, const std::vector<double>& b,
                                   const std::vector<double>& a_weights, const std::vector<double>& b_weights) {
  detail::check_same_size("wasserstein_distance", "a", a.size(), "a_weights", a_weights.size());
  detail::check_same_size("wasserstein_distance", "b", b.size(), "b_weights", b_weights.size());
  return wasserstein_distance(a.data(), a.size(), b.data(), b.size(), a_weights.data(), b_weights.data());
}

/// Wasserstein distance divided by the reference's standard deviation (population form,
/// divisor n): a unit-free shift, e.g. 0.1 means the current distribution moved a tenth of
/// a reference standard deviation (for a pure location shift, exactly the shift in σ).
/// When the reference is constant (σ = 0) the result is 0 if the distance is 0 and +inf
/// otherwise. Throws as wasserstein_distance. O((n + m) log(n + m)).
inline double normalized_wasserstein_distance(const std::vector<double>& reference, const std::vector<double>& current) {
  const double distance = wasserstein_distance(reference, current);
  const double n = static_cast<double>(reference.size());
  detail::CompensatedSum sum;
  for (double x : reference) sum.add(x);
  const double mean = sum.value() / n;
  detail::CompensatedSum squares;
  for (double x : reference) squares.add((x - mean) * (x - mean));
  const double sd = std::sqrt(squares.value() / n);
  if (distance == 0) return 0.0;
  if (!(sd > 0)) return std::numeric_limits<double>::infinity();
  return distance / sd;
}

namespace detail {

// Throws unless the edges are finite and strictly ascending and both rows hold one count
// per bin (edges + 1); returns the rows' totals.
inline std::pair<double, double> check_binned_rows(const char* function, const std::vector<double>& counts_a,
                                                   const std::vector<double>& counts_b,
                                                   const std::vector<double>& edges) {
  check_finite(function, "edges", edges.data(), edges.size());
  for (std::size_t i = 1; i < edges.size(); ++i) {
    if (!(edges[i] > edges[i - 1])) throw_bad_element(function, "edges", i, edges[i], "is not above the previous edge");
  }
  check_same_size(function, "counts_a", counts_a.size(), "edges + 1", edges.size() + 1);
  check_same_size(function, "counts_b", counts_b.size(), "edges + 1", edges.size() + 1);
  const double total_a = check_counts(function, "counts_a", counts_a.data(), counts_a.size());
  const double total_b = check_counts(function, "counts_b", counts_b.data(), counts_b.size());
  if (!(total_a > 0)) throw_bad_argument(function, "counts_a sum to 0: no distribution");
  if (!(total_b > 0)) throw_bad_argument(function, "counts_b sum to 0: no distribution");
  return {total_a, total_b};
}

}  // namespace detail

/// The 1-Wasserstein distance ∫ |F_a(x) − F_b(x)| dx between two binned distributions on the
/// same right-closed bins (−inf, e₁], (e₁, e₂], …, (e_last, +inf) (as bin_counts makes them),
/// each bin's mass spread evenly between its edges; the open end bins are bounded by
/// `lowest` and `highest` (the smallest and largest value the data can hold, e.g. a
/// reference's min and max): the first bin spans [min(lowest, e₁), e₁], the last
/// [e_last, max(highest, e_last)], so a bound inside the edges makes that bin a point mass at
/// its edge. In the units of the data; divide by a reference standard deviation for a
/// unit-free shift. Counts or shares may be given (only proportions matter).
///
/// **Exactness.** Within a bin both CDFs rise linearly, so |F_a − F_b| is integrated in
/// closed form (split where the two cross): the result is the exact W₁ of the two
/// piecewise-uniform distributions, up to rounding (≤ 1e-14 relative against exact rational
/// integration in the tests). Against the raw samples behind the counts, when they lie
/// within [lowest, highest], it is off by at most Σᵢ (aᵢ/A + bᵢ/B)·wᵢ/2 for bin widths wᵢ:
/// spreading a bin's mass evenly moves it by at most half the bin's width on average.
///
/// A single bin (no edges) gives 0: both sides are the same uniform distribution.
/// Throws vigil::invalid_argument for edges not finite and strictly ascending, rows not of
/// edges.size() + 1 counts, negative or non-finite counts, a row that sums to 0, and
/// `lowest` or `highest` not finite. O(k).
inline double wasserstein_distance_binned(const std::vector<double>& counts_a, const std::vector<double>& counts_b,
                                          const std::vector<double>& edges, double lowest, double highest) {
  const auto [total_a, total_b] = detail::check_binned_rows("wasserstein_distance_binned", counts_a, counts_b, edges);
  if (!std::isfinite(lowest) || !std::isfinite(highest)) {
    detail::throw_bad_argument("wasserstein_distance_binned", "lowest = " + vigil::detail::to_text(lowest) +
                                                                  " and highest = " + vigil::detail::to_text(highest) +
                                                                  " must be finite");
  }
  if (edges.empty()) return 0.0;
  double cumulative_a = 0;
  double cumulative_b = 0;
  double area = 0;
  double left = std::min(lowest, edges.front());
  for (std::size_t i = 0; i < counts_a.size(); ++i) {
    const double right = i < edges.size() ? edges[i] : std::max(highest, edges.back());
    const double width = std::max(0.0, right - left);
    const double gap_left = cumulative_a - cumulative_b;
    cumulative_a += counts_a[i] / total_a;
    cumulative_b += counts_b[i] / total_b;
    const double gap_right = cumulative_a - cumulative_b;
    if (gap_left * gap_right >= 0) {
      area += width * (std::fabs(gap_left) + std::fabs(gap_right)) / 2;
    } else {
      // The gap changes sign inside the bin: two triangles, meeting where it is 0.
      const double t = std::fabs(gap_left) / (std::fabs(gap_left) + std::fabs(gap_right));
      area += width * (t * std::fabs(gap_left) + (1 - t) * std::fabs(gap_right)) / 2;
    }
    left = right;
  }
  return area;
}

// ---------------------------------------------------------------------------------------
// Distances between binned (categorical) distributions

namespace detail {

// Checks two count vectors and returns their totals.
inline std::pair<double, double> check_distributions(const char* function, const double* p, const double* q,
                                                     std::size_t size) {
  check_not_empty(function, "p", size);
  const double total_p = check_counts(function, "p", p, size);
  const double total_q = check_counts(function, "q", q, size);
  if (!(total_p > 0)) throw_bad_argument(function, "p sums to 0");
  if (!(total_q > 0)) throw_bad_argument(function, "q sums to 0");
  return {total_p, total_q};
}

inline double relative_entropy_term(double x, double y) { return x > 0 ? x * std::log(x / y) : 0.0; }

}  // namespace detail

/// Jensen-Shannon distance, the square root of the Jensen-Shannon divergence:
/// √(½·KL(p‖m) + ½·KL(q‖m)) with m = (p + q)/2, p and q normalised to sum to 1, logarithms
/// to `base` (natural by default, so the range is [0, √ln 2]; base 2 gives [0, 1]). Equal
/// to scipy.spatial.distance.jensenshannon(p, q, base). A metric; finite even when a bin is
/// empty on one side.
///
/// Throws vigil::invalid_argument for empty or mismatched inputs, negative or non-finite
/// values, a side that sums to 0, and a base that is not finite, > 0 and ≠ 1. O(k).
/// Reference: Endres & Schindelin, IEEE Trans. Inf. Theory 49(7), 2003.
inline double jensen_shannon_distance(const double* p, const double* q, std::size_t size, double base) {
  if (!(base > 0) || base == 1 || std::isinf(base)) {
    detail::throw_bad_argument("jensen_shannon_distance",
                               "base = " + vigil::detail::to_text(base) + " must be finite, > 0 and ≠ 1");
  }
  const auto [total_p, total_q] = detail::check_distributions("jensen_shannon_distance", p, q, size);
  detail::CompensatedSum left, right;
  for (std::size_t i = 0; i < size; ++i) {
    const double pi = p[i] / total_p;
    const double qi = q[i] / total_q;
    const double mi = (pi + qi) / 2.0;
    left.add(detail::relative_entropy_term(pi, mi));
    right.add(detail::relative_entropy_term(qi, mi));
  }
  double js = left.value() + right.value();
  js /= std::log(base);
  return std::sqrt(std::max(js / 2.0, 0.0));
}

/// jensen_shannon_distance with natural logarithms.
inline double jensen_shannon_distance(const double* p, const double* q, std::size_t size) {
  return jensen_shannon_distance(p, q, size, 2.71828182845904523536);
}

/// jensen_shannon_distance on two vectors of equal length, natural logarithms.
inline double jensen_shannon_distance(const std::vector<double>& p, const std::vector<double>& q) {
  detail::check_same_size("jensen_shannon_distance", "p", p.size(), "q", q.size());
  return jensen_shannon_distance(p.data(), q.data(), p.size());
}

/// jensen_shannon_distance on two vectors of equal length, logarithms to `base`.
inline double jensen_shannon_distance(const std::vector<double>& p, const std::vector<double>& q, double base) {
  detail::check_same_size("jensen_shannon_distance", "p", p.size(), "q", q.size());
  return jensen_shannon_distance(p.data(), q.data(), p.size(), base);
}

/// Hellinger distance √(½·Σ(√pᵢ − √qᵢ)²) between p and q normalised to sum to 1; in
/// [0, 1], 1 for disjoint supports. Same bad input as jensen_shannon_distance. O(k).
/// Reference: Hellinger (1909); Le Cam & Yang, Asymptotics in Statistics (2000).
inline double hellinger_distance(const std::vector<double>& p, const std::vector<double>& q) {
  detail::check_same_size("hellinger_distance", "p", p.size(), "q", q.size());
  const auto [total_p, total_q] = detail::check_distributions("hellinger_distance", p.data(), q.data(), p.size());
  detail::CompensatedSum sum;
  for (std::size_t i = 0; i < p.size(); ++i) {
    const double diff = std::sqrt(p[i] / total_p) - std::sqrt(q[i] / total_q);
    sum.add(diff * diff);
  }
  return std::min(std::sqrt(sum.value() / 2), 1.0);
}

/// Total variation distance ½·Σ|pᵢ − qᵢ| between p and q normalised to sum to 1: the
/// largest difference in probability the two give to any set of bins; in [0, 1].
/// Same bad input as jensen_shannon_distance. O(k).
inline double total_variation_distance(const std::vector<double>& p, const std::vector<double>& q) {
  detail::check_same_size("total_variation_distance", "p", p.size(), "q", q.size());
  const auto [total_p, total_q] = detail::check_distributions("total_variation_distance", p.data(), q.data(), p.size());
  detail::CompensatedSum sum;
  for (std::size_t i = 0; i < p.size(); ++i) sum.add(std::fabs(p[i] / total_p - q[i] / total_q));
  return std::min(sum.value() / 2, 1.0);
}

/// L-infinity distance max|pᵢ − qᵢ| between p and q normalised to sum to 1: the largest
/// change in any one category's frequency (TensorFlow Data Validation's comparator for
/// categorical features); in [0, 1]. Same bad input as jensen_shannon_distance. O(k).
inline double l_infinity_distance(const std::vector<double>& p, const std::vector<double>& q) {
  detail::check_same_size("l_infinity_distance", "p", p.size(), "q", q.size());
  const auto [total_p, total_q] = detail::check_distributions("l_infinity_distance", p.data(), q.data(), p.size());
  double largest = 0;
  for (std::size_t i = 0; i < p.size(); ++i) largest = std::max(largest, std::fabs(p[i] / total_p - q[i] / total_q));
  return largest;
}

}  // namespace vigil::stats

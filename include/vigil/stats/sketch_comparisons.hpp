// vigil — in-process monitoring of machine-learning models in C++ inference servers.
// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "vigil/sketch/category_counts.hpp"
#include "vigil/sketch/log_histogram.hpp"
#include "vigil/sketch/tdigest.hpp"
#include "vigil/stats/detail/checks.hpp"
#include "vigil/stats/distances.hpp"
#include "vigil/stats/goodness_of_fit.hpp"
#include "vigil/stats/ks_test.hpp"
#include "vigil/stats/test_result.hpp"

/// The tests and distances of ks_test.hpp, goodness_of_fit.hpp and distances.hpp on sketches
/// instead of raw samples or hand-made counts: a report() compares a window's sketch with the
/// profile's without ever holding the values.
///
/// | Sketches | Functions | Exact? |
/// |---|---|---|
/// | two `TDigest<Real>` | `ks_test`, `ks_statistic` | D within the digests' rank error (≈ 2e-3 at δ = 100) |
/// | | `wasserstein_distance` | within the digests' quantile error plus the midpoint rule's |
/// | two `BasicLogHistogram` | `g_test_independence`, `chi_square_independence`, `psi`, `jensen_shannon_distance`, `total_variation_distance`, `l_infinity_distance`, `ks_test` | on bucket counts: exact; KS a lower bound by ≤ one bucket's mass |
/// | | `g_test_independence_pooled` | exact on coarsened, pooled bucket counts |
/// | two `CategoryCounts` | `g_test_independence`, `chi_square_independence`, `psi`, `jensen_shannon_distance`, `total_variation_distance`, `l_infinity_distance` | exact while both summaries are exact() |
///
/// The histogram and category functions align the two sketches into one row of bins per side
/// and pass the rows to the function of the same name on counts (g_test_independence_pooled
/// to g_test_independence), so edge cases (bins empty on both sides, a single bin) behave as
/// documented there; the t-digest functions compare the digests' CDFs or quantile functions.
namespace vigil::stats {

// ---------------------------------------------------------------------------------------
// t-digests

/// Two-sample Kolmogorov-Smirnov test on two t-digests: D = sup_x |F_a(x) − F_b(x)| between
/// the digests' CDF estimates, and its p-value as ks_p_value(D, round(a.count()),
/// round(b.count()), options) (asymptotic by default).
///
/// **Definition.** Each digest's CDF is linear between consecutive knots (centroid means,
/// min and max) and may jump at a single-valued centroid, so the difference of the two is
/// linear between the union of both digests' knots. D is therefore the largest of
/// |F_a(x−) − F_b(x−)| and |F_a(x) − F_b(x)| over those knots, with (F(x−), F(x)) from
/// TDigest::rank_interval: the exact supremum of the difference of the two estimated CDFs.
///
/// **Approximation.** D carries both digests' rank errors: |D − D_raw| ≤ ε_a + ε_b where ε
/// is a digest's largest absolute rank error (≤ 2·10⁻³ at δ = 100 in the middle of the
/// distribution, far less in the tails; see TDigest). tests/stats/sketch_comparisons_test.cpp
/// holds |D − D_raw| ≤ 5·10⁻³ at δ = 100 for n = 10^4 … 10^5 (normal, shifted, rescaled,
/// lognormal against gamma, Poisson); the largest error measured is 1.5·10⁻³, at n = 10^4,
/// where the digest's interpolation smooths the empirical CDF and D comes out slightly low
/// (the p-value errs on the conservative side); at 10^5 … 10^6 it is ≤ 2.5·10⁻⁴, and 0 for
/// data with few distinct values (held exactly). The p-value treats D as if it were the
/// samples' statistic: once the critical value 1.63/√(n·m/(n + m)) at α = 0.01 nears the
/// rank error (n = m ≳ 10^6), the p-value is only as good as D — read it together with D
/// itself as an effect size.
/// With the default asymptotic method the p-value matches ks_test on the raw data to within
/// the effect of that error on D; KsMethod::exact first snaps D to the lattice h/lcm(n, m).
/// Digests with weighted values use their total weight, rounded, as n (at least 1).
///
/// **Bad input.** An empty digest throws vigil::invalid_argument naming it ("a" or "b").
/// Buffered values are included (each digest is flushed on a copy if needed; the arguments
/// are not changed).
/// **Complexity.** O((k_a + k_b) log(k_a + k_b)) for k centroids (about 180 each at δ = 100):
/// the knots are sorted and located in both digests in one pass (TDigest::rank_intervals).
/// The p-value adds
/// ks_p_value's cost, O(n) for 2.2 ≤ n·D² < 370 at large n (≈ 25 ms at n = m = 10^6).
/// **References.** Dunning & Ertl, "Computing extremely accurate quantiles using t-digests"
/// (2019); the Kolmogorov-Smirnov test on quantile sketches as in Apache DataSketches.
template <class Real>
TestResult ks_test(const TDigest<Real>& a, const TDigest<Real>& b, KsOptions options = KsOptions{KsMethod::asymptotic});

/// The statistic D of ks_test() on two t-digests, without the p-value (whose cost can be
/// O(n), see above): for a caller that judges D itself or computes its own p-value.
/// O((k_a + k_b) log(k_a + k_b)). Throws vigil::invalid_argument for an empty digest.
template <class Real>
double ks_statistic(const TDigest<Real>& a, const TDigest<Real>& b);

/// The 1-Wasserstein distance between two t-digests, ∫₀¹ |Q_a(q) − Q_b(q)| dq over their
/// quantile functions (equal to ∫ |F_a(x) − F_b(x)| dx), by the midpoint rule on `quantiles`
/// equal steps: the mean of |Q_a(q) − Q_b(q)| at q = (i + ½)/quantiles, i = 0 … quantiles − 1,
/// each digest's quantiles read in one pass (TDigest::quantiles). In the units of the data;
/// divide by a reference standard deviation for a unit-free shift.
///
/// **Approximation.** Two errors add up: each digest's quantile error (small in the tails,
/// where t-digests are most accurate, see TDigest) and the midpoint rule's, which stands in
/// for the outer 1/(2·quantiles) of each tail by its inner end, so heavy tails that differ
/// there are under-counted. tests/stats/sketch_comparisons_test.cpp holds the result within
/// 2 % + 10⁻³σ of the raw samples' wasserstein_distance for n = 10^4 … 10^5 at δ = 100
/// (equal, shifted and rescaled normals, lognormal against gamma, Poisson); the largest
/// difference measured is 1.4 % (2·10⁻⁴σ, two equal normals); see docs/statistics.md.
///
/// **Bad input.** An empty digest throws vigil::invalid_argument naming it ("a" or "b"), as
/// does quantiles = 0. Buffered values are included; the arguments are not changed.
/// **Complexity.** O(k_a + k_b + quantiles) after each digest's flush (on a copy if needed).
template <class Real>
double wasserstein_distance(const TDigest<Real>& a, const TDigest<Real>& b, std::size_t quantiles = 1000);

// ---------------------------------------------------------------------------------------
// Log histograms
//
// Two histograms are aligned bucket by bucket: when their scales differ, a copy of the finer
// one is downscaled to the coarser scale (exact: each coarse bucket is the union of 2^k fine
// ones). The bins are, in ascending order of value, the zero bucket, the underflow (values
// below a ConcurrentLogHistogram's window), every bucket that is non-empty on either side,
// and the overflow. Their zero thresholds must be equal, else the zero buckets cover
// different ranges and vigil::invalid_argument is thrown. Windows of ConcurrentLogHistograms
// should agree too: a value in one side's underflow but in a bucket on the other is compared
// as a different bin. An empty histogram throws vigil::invalid_argument naming it.
// Complexity: O(buckets of both), plus a copy of the finer histogram when scales differ.

/// G-test of independence on the aligned bucket counts of two log histograms: do both come
/// from one distribution over the buckets? Equal to g_test_independence on the two rows of
/// bucket counts (zero bucket included as its own bin; buckets empty on both sides dropped,
/// each removing one degree of freedom). Exact: the counts are the histograms' own.
/// Note that with ~700 buckets (scale 5 over 1 µs–100 s) and little data per bucket the χ²
/// approximation is poor; downscale both (they align at any common scale) for a coarser test.
template <class CounterA, class CounterB>
TestResult g_test_independence(const BasicLogHistogram<CounterA>& a, const BasicLogHistogram<CounterB>& b);

/// Pearson's chi-square test of independence on the aligned bucket counts (as
/// g_test_independence above, with chi_square_independence).
template <class CounterA, class CounterB>
TestResult chi_square_independence(const BasicLogHistogram<CounterA>& a, const BasicLogHistogram<CounterB>& b);

/// Population Stability Index over the aligned buckets: psi on the two rows of bucket counts.
/// Exact. Many fine buckets make PSI larger than on deciles (each sparse bin adds noise);
/// compare values only at one scale.
template <class CounterA, class CounterB>
double psi(const BasicLogHistogram<CounterA>& reference, const BasicLogHistogram<CounterB>& current,
           PsiOptions options = {});

/// Jensen-Shannon distance between the aligned bucket distributions, logarithms to `base`
/// (natural by default). Exact.
template <class CounterA, class CounterB>
double jensen_shannon_distance(const BasicLogHistogram<CounterA>& p, const BasicLogHistogram<CounterB>& q,
                               double base = 2.71828182845904523536);

/// Total variation distance between the aligned bucket distributions. Exact.
template <class CounterA, class CounterB>
double total_variation_distance(const BasicLogHistogram<CounterA>& p, const BasicLogHistogram<CounterB>& q);

/// L-infinity distance (largest change of one bucket's frequency). Exact.
template <class CounterA, class CounterB>
double l_infinity_distance(const BasicLogHistogram<CounterA>& p, const BasicLogHistogram<CounterB>& q);

/// Two-sample Kolmogorov-Smirnov test on two log histograms: D = the largest difference of
/// their cumulative bucket counts (as fractions) at every bucket boundary and at the zero
/// threshold, with its p-value from ks_p_value(D, a.count(), b.count(), options).
///
/// **Exactness.** At a bucket's upper edge both empirical CDFs are known exactly (a bucket is
/// (lower, upper]), so D is the raw samples' F_a − F_b at those points: a lower bound of the
/// raw statistic D_raw, and D_raw ≤ D + the largest single-bucket mass (as a fraction of its
/// side), since inside one bucket each CDF rises by at most that bucket's mass. D equals the
/// raw KS statistic of the samples with every value replaced by its bucket's upper edge, and
/// with the default KsMethod::automatic the p-value is that of ks_test on those samples.
/// Bad input and complexity: see above.
template <class CounterA, class CounterB>
TestResult ks_test(const BasicLogHistogram<CounterA>& a, const BasicLogHistogram<CounterB>& b,
                   KsOptions options = {});

/// Options of g_test_independence_pooled.
struct BucketPooling {
  /// The finest scale compared: both histograms are coarsened to min(scale, a.scale(),
  /// b.scale()), each coarse bucket the union of 2^k fine ones. At 2, four buckets per
  /// doubling, each about 19 % wide. At least BasicLogHistogram's min_scale.
  int scale = 2;
  /// Adjacent buckets are pooled, in ascending order of value, until the expected count of
  /// the first histogram in each pooled cell, cell total × a.count()/(a.count() + b.count()),
  /// is at least this (the customary 5 of the χ² approximation). Finite and ≥ 0.
  double min_expected = 5;
};

/// G-test of independence on two log histograms' bucket counts coarsened and pooled so that
/// the χ² approximation holds: g_test_independence on those cells (see BucketPooling). Where
/// g_test_independence(a, b) compares every bucket (hundreds at scale 5, most of them sparse
/// in a short window), this compares a few well-filled cells: the test for a short recent
/// window against a long background, as latency monitoring needs.
///
/// **Cells.** In ascending order of value: the zero bucket, the underflow (values below a
/// ConcurrentLogHistogram's window), every coarse bucket non-empty on either side, then the
/// overflow, each present only when non-empty. Walking them in that order, counts accumulate
/// until (a + b)·a.count()/(a.count() + b.count()) ≥ min_expected, then form a cell; what is
/// left at the end joins the last cell (or forms the only one). Only the first histogram's
/// expected counts are guarded: pass the smaller sample (the recent window) as `a`, and every
/// expected count is at least min_expected. One cell gives G = 0, p = 1 (nothing to compare).
///
/// **Bad input and complexity.** Empty histograms and different zero thresholds throw
/// vigil::invalid_argument, as for g_test_independence; so do a scale below min_scale and a
/// min_expected that is negative or not finite. O(B log B) for B non-empty buckets.
/// **Reference.** Cochran, "Some methods for strengthening the common χ² tests", Biometrics
/// 10 (1954), on pooling classes with small expected counts.
template <class CounterA, class CounterB>
TestResult g_test_independence_pooled(const BasicLogHistogram<CounterA>& a, const BasicLogHistogram<CounterB>& b,
                                      BucketPooling pooling = {});

// ---------------------------------------------------------------------------------------
// Category counts
//
// Two summaries are aligned by value: one bin per value tracked by either side (in
// ascending byte order), then an "other" bin and a "missing" bin per side (always last, in
// that order). A value tracked on one side only is a bin of its own — a category never seen
// in the reference is compared, never dropped — and on the side that does not track it the
// bin holds 0 while its occurrences (at most that side's error_bound()) stay in "other".
//
// **Counts.** A tracked value's bin holds its guaranteed count, count − error (Entry::lower());
// "other" holds other() = total() − Σ(count − error), and "missing" holds missing(). Each side's
// bins then sum to its count() exactly. While a summary is exact() (no more than capacity()
// distinct values ever seen) error = other() = 0 and the bins are the true counts, so every
// function equals the same function on hand-made counts.
//
// **Non-exact summaries (heavy hitters).** Once values were replaced, a tracked value's true
// count lies in [count − error, count], with error ≤ error_bound() ≤ total()/capacity().
// Its bin may therefore be up to error_bound() low, the missing weight sitting in "other"
// (itself at most Σ error + the untracked values' occurrences). Space-Saving's count, the
// upper end, would put that uncertain weight on the tracked values instead: it is not used
// because the values near the smallest counter churn, so their overestimates on one side
// face zeros on the other and inflate G and PSI under no change. Proportions of heavy
// hitters (true count ≫ total()/capacity()) are accurate to error_bound()/total() ≤
// 1/capacity(); the tests' p-values treat the bins as exact counts and become unreliable
// when Σ error is comparable to the differences being tested — size capacity() above the
// number of distinct values that matter.
//
// An empty summary (count() = 0) throws vigil::invalid_argument naming it. Complexity:
// O(k log k) for k = capacity() (each side's entries are sorted), plus the function's O(bins).

/// G-test of independence on the aligned category counts of `reference` and `current`.
inline TestResult g_test_independence(const CategoryCounts& reference, const CategoryCounts& current);

/// Pearson's chi-square test of independence on the aligned category counts.
inline TestResult chi_square_independence(const CategoryCounts& reference, const CategoryCounts& current);

/// Population Stability Index over the aligned categories.
inline double psi(const CategoryCounts& reference, const CategoryCounts& current, PsiOptions options = {});

/// Jensen-Shannon distance between the aligned category distributions, logarithms to `base`.
inline double jensen_shannon_distance(const CategoryCounts& p, const CategoryCounts& q, double base = 2.71828182845904523536);

/// Total variation distance between the aligned category distributions.
inline double total_variation_distance(const CategoryCounts& p, const CategoryCounts& q);

/// L-infinity distance, TensorFlow Data Validation's categorical comparator: the largest change
/// in any one category's frequency ("other" and "missing" included).
inline double l_infinity_distance(const CategoryCounts& p, const CategoryCounts& q);

// ---------------------------------------------------------------------------------------
// Implementation

namespace detail {

/// Two rows of counts over the same bins.
struct AlignedRows {
  std::vector<double> a;
  std::vector<double> b;
};

[[noreturn]] VIGIL_NOINLINE inline void throw_empty_sketch(const char* function, const char* name, const char* kind) {
  throw_bad_argument(function, std::string(kind) + " " + name + " is empty: no observations to compare");
}

template <class Real>
const TDigest<Real>& flushed(const TDigest<Real>& digest, std::optional<TDigest<Real>>& storage) {
  if (digest.buffered() == 0) return digest;
  storage.emplace(digest);
  storage->flush();
  return *storage;
}

inline std::uint64_t rounded_count(double weight) {
  return static_cast<std::uint64_t>(std::max(1.0, std::nearbyint(weight)));
}

// Throws unless both histograms hold values and share their zero threshold.
template <class CounterA, class CounterB>
void check_comparable(const char* function, const char* name_a, const BasicLogHistogram<CounterA>& a,
                      const char* name_b, const BasicLogHistogram<CounterB>& b) {
  if (a.count() == 0) throw_empty_sketch(function, name_a, "histogram");
  if (b.count() == 0) throw_empty_sketch(function, name_b, "histogram");
  if (!(a.zero_threshold() == b.zero_threshold())) {
    throw_bad_argument(function, std::string("zero thresholds differ (") + name_a + ": " +
                                     vigil::detail::to_text(a.zero_threshold()) + ", " + name_b + ": " +
                                     vigil::detail::to_text(b.zero_threshold()) +
                                     "): the zero buckets cover different ranges and cannot be aligned");
  }
}

// Bins of two histograms at a common scale: zero, underflow, buckets by index, overflow.
template <class CounterA, class CounterB>
AlignedRows align_histograms(const char* function, const char* name_a, const BasicLogHistogram<CounterA>& a,
                             const char* name_b, const BasicLogHistogram<CounterB>& b) {
  check_comparable(function, name_a, a, name_b, b);
  using BucketsA = std::vector<typename BasicLogHistogram<CounterA>::Bucket>;
  using BucketsB = std::vector<typename BasicLogHistogram<CounterB>::Bucket>;
  BucketsA buckets_a;
  BucketsB buckets_b;
  if (a.scale() > b.scale()) {
    BasicLogHistogram<CounterA> coarse(a);
    coarse.downscale(a.scale() - b.scale());
    buckets_a = coarse.buckets();
    buckets_b = b.buckets();
  } else if (b.scale() > a.scale()) {
    BasicLogHistogram<CounterB> coarse(b);
    coarse.downscale(b.scale() - a.scale());
    buckets_a = a.buckets();
    buckets_b = coarse.buckets();
  } else {
    buckets_a = a.buckets();
    buckets_b = b.buckets();
  }
  AlignedRows rows;
  const std::size_t most = buckets_a.size() + buckets_b.size() + 3;
  rows.a.reserve(most);
  rows.b.reserve(most);
  const auto push = [&rows](std::uint64_t x, std::uint64_t y) {
    rows.a.push_back(static_cast<double>(x));
    rows.b.push_back(static_cast<double>(y));
  };
  push(a.zero_count(), b.zero_count());
  if (a.underflow() != 0 || b.underflow() != 0) push(a.underflow(), b.underflow());
  std::size_t i = 0;
  std::size_t j = 0;
  while (i < buckets_a.size() || j < buckets_b.size()) {
    if (j == buckets_b.size() || (i < buckets_a.size() && buckets_a[i].index < buckets_b[j].index)) {
      push(buckets_a[i++].count, 0);
    } else if (i == buckets_a.size() || buckets_b[j].index < buckets_a[i].index) {
      push(0, buckets_b[j++].count);
    } else {
      push(buckets_a[i++].count, buckets_b[j++].count);
    }
  }
  if (a.overflow() != 0 || b.overflow() != 0) push(a.overflow(), b.overflow());
  return rows;
}

// Bins of two category summaries: tracked values in ascending byte order, other, missing.
inline AlignedRows align_categories(const char* function, const char* name_a, const CategoryCounts& a,
                                    const char* name_b, const CategoryCounts& b) {
  if (a.empty()) throw_empty_sketch(function, name_a, "category counts");
  if (b.empty()) throw_empty_sketch(function, name_b, "category counts");
  std::vector<CategoryCounts::Entry> entries_a = a.entries();
  std::vector<CategoryCounts::Entry> entries_b = b.entries();
  const auto by_value = [](const CategoryCounts::Entry& x, const CategoryCounts::Entry& y) { return x.value < y.value; };
  std::sort(entries_a.begin(), entries_a.end(), by_value);
  std::sort(entries_b.begin(), entries_b.end(), by_value);
  AlignedRows rows;
  const std::size_t most = entries_a.size() + entries_b.size() + 2;
  rows.a.reserve(most);
  rows.b.reserve(most);
  std::size_t i = 0;
  std::size_t j = 0;
  while (i < entries_a.size() || j < entries_b.size()) {
    if (j == entries_b.size() || (i < entries_a.size() && entries_a[i].value < entries_b[j].value)) {
      rows.a.push_back(static_cast<double>(entries_a[i++].lower()));
      rows.b.push_back(0);
    } else if (i == entries_a.size() || entries_b[j].value < entries_a[i].value) {
      rows.a.push_back(0);
      rows.b.push_back(static_cast<double>(entries_b[j++].lower()));
    } else {
      rows.a.push_back(static_cast<double>(entries_a[i++].lower()));
      rows.b.push_back(static_cast<double>(entries_b[j++].lower()));
    }
  }
  rows.a.push_back(static_cast<double>(a.other()));
  rows.b.push_back(static_cast<double>(b.other()));
  rows.a.push_back(static_cast<double>(a.missing()));
  rows.b.push_back(static_cast<double>(b.missing()));
  return rows;
}

// Cells of a histogram's counts at a coarser `scale`, keyed by coarse index, the zero bucket
// and underflow first and the overflow last; `first` or `second` of each cell by `side`.
using PooledCells = std::map<std::int64_t, std::pair<double, double>>;

template <class Counter>
void add_coarse_cells(const BasicLogHistogram<Counter>& h, int scale, bool first, PooledCells& cells) {
  const int shift = std::max(0, h.scale() - scale);
  const auto add = [&cells, first](std::int64_t key, std::uint64_t count) {
    auto& cell = cells[key];
    (first ? cell.first : cell.second) += static_cast<double>(count);
  };
  if (h.zero_count() > 0) add(std::numeric_limits<std::int64_t>::min(), h.zero_count());
  if (h.underflow() > 0) add(std::numeric_limits<std::int64_t>::min() + 1, h.underflow());
  for (const auto& bucket : h.buckets()) {
    // Floor division: negative indices (values below 1) round down too.
    const std::int64_t coarse = bucket.index >= 0 ? (bucket.index >> shift) : -((-bucket.index - 1) >> shift) - 1;
    add(coarse, bucket.count);
  }
  if (h.overflow() > 0) add(std::numeric_limits<std::int64_t>::max(), h.overflow());
}

// Adjacent cells pooled until the first row's expected count reaches min_expected; the
// remainder joins the last pooled cell.
inline AlignedRows pool_cells(const PooledCells& cells, double min_expected) {
  double first_total = 0;
  double total = 0;
  for (const auto& [index, cell] : cells) {
    first_total += cell.first;
    total += cell.first + cell.second;
  }
  AlignedRows rows;
  if (total <= 0) return rows;
  const double share = first_total / total;
  double a = 0;
  double b = 0;
  for (const auto& [index, cell] : cells) {
    a += cell.first;
    b += cell.second;
    if ((a + b) * share >= min_expected) {
      rows.a.push_back(a);
      rows.b.push_back(b);
      a = b = 0;
    }
  }
  if (a + b > 0) {
    if (rows.a.empty()) {
      rows.a.push_back(a);
      rows.b.push_back(b);
    } else {
      rows.a.back() += a;
      rows.b.back() += b;
    }
  }
  return rows;
}

}  // namespace detail

template <class Real>
TestResult ks_test(const TDigest<Real>& a, const TDigest<Real>& b, KsOptions options) {
  if (a.empty()) detail::throw_empty_sketch("ks_test", "a", "digest");
  if (b.empty()) detail::throw_empty_sketch("ks_test", "b", "digest");
  return ks_p_value(ks_statistic(a, b), detail::rounded_count(a.count()), detail::rounded_count(b.count()), options);
}

template <class Real>
double ks_statistic(const TDigest<Real>& a, const TDigest<Real>& b) {
  if (a.empty()) detail::throw_empty_sketch("ks_statistic", "a", "digest");
  if (b.empty()) detail::throw_empty_sketch("ks_statistic", "b", "digest");
  std::optional<TDigest<Real>> storage_a;
  std::optional<TDigest<Real>> storage_b;
  const TDigest<Real>& fa = detail::flushed(a, storage_a);
  const TDigest<Real>& fb = detail::flushed(b, storage_b);
  // Every knot of both digests, in ascending order, located in each digest in one pass.
  std::vector<double> knots;
  knots.reserve(fa.centroids().size() + fb.centroids().size() + 4);
  for (const TDigest<Real>* digest : {&fa, &fb}) {
    knots.push_back(digest->min());
    for (const auto& centroid : digest->centroids()) {
      // A mean that overflowed to NaN (values near ±1.8e308 merged) locates nowhere: skipped.
      if (!std::isnan(static_cast<double>(centroid.mean))) knots.push_back(static_cast<double>(centroid.mean));
    }
    knots.push_back(digest->max());
  }
  std::sort(knots.begin(), knots.end());
  std::vector<std::pair<double, double>> ranks_a(knots.size());
  std::vector<std::pair<double, double>> ranks_b(knots.size());
  fa.rank_intervals(knots.data(), knots.size(), ranks_a.data());
  fb.rank_intervals(knots.data(), knots.size(), ranks_b.data());
  double largest = 0;
  for (std::size_t i = 0; i < knots.size(); ++i)
    largest = std::max({largest, std::fabs(ranks_a[i].first - ranks_b[i].first),
                        std::fabs(ranks_a[i].second - ranks_b[i].second)});
  return std::min(largest, 1.0);
}

template <class Real>
double wasserstein_distance(const TDigest<Real>& a, const TDigest<Real>& b, std::size_t quantiles) {
  if (a.empty()) detail::throw_empty_sketch("wasserstein_distance", "a", "digest");
  if (b.empty()) detail::throw_empty_sketch("wasserstein_distance", "b", "digest");
  if (quantiles == 0) detail::throw_bad_argument("wasserstein_distance", "quantiles = 0 must be ≥ 1");
  const double steps = static_cast<double>(quantiles);
  std::vector<double> q(quantiles);
  for (std::size_t i = 0; i < quantiles; ++i) q[i] = (static_cast<double>(i) + 0.5) / steps;
  std::vector<double> quantiles_a(quantiles);
  std::vector<double> quantiles_b(quantiles);
  a.quantiles(q.data(), q.size(), quantiles_a.data());
  b.quantiles(q.data(), q.size(), quantiles_b.data());
  double sum = 0;
  for (std::size_t i = 0; i < quantiles; ++i) sum += std::fabs(quantiles_a[i] - quantiles_b[i]);
  return sum / steps;
}

template <class CounterA, class CounterB>
TestResult g_test_independence(const BasicLogHistogram<CounterA>& a, const BasicLogHistogram<CounterB>& b) {
  const auto rows = detail::align_histograms("g_test_independence", "a", a, "b", b);
  return g_test_independence(rows.a.data(), rows.b.data(), rows.a.size());
}

template <class CounterA, class CounterB>
TestResult chi_square_independence(const BasicLogHistogram<CounterA>& a, const BasicLogHistogram<CounterB>& b) {
  const auto rows = detail::align_histograms("chi_square_independence", "a", a, "b", b);
  return chi_square_independence(rows.a.data(), rows.b.data(), rows.a.size());
}

template <class CounterA, class CounterB>
double psi(const BasicLogHistogram<CounterA>& reference, const BasicLogHistogram<CounterB>& current, PsiOptions options) {
  const auto rows = detail::align_histograms("psi", "reference", reference, "current", current);
  return psi(rows.a.data(), rows.b.data(), rows.a.size(), options);
}

template <class CounterA, class CounterB>
double jensen_shannon_distance(const BasicLogHistogram<CounterA>& p, const BasicLogHistogram<CounterB>& q, double base) {
  const auto rows = detail::align_histograms("jensen_shannon_distance", "p", p, "q", q);
  return jensen_shannon_distance(rows.a.data(), rows.b.data(), rows.a.size(), base);
}

template <class CounterA, class CounterB>
double total_variation_distance(const BasicLogHistogram<CounterA>& p, const BasicLogHistogram<CounterB>& q) {
  const auto rows = detail::align_histograms("total_variation_distance", "p", p, "q", q);
  return total_variation_distance(rows.a, rows.b);
}

template <class CounterA, class CounterB>
double l_infinity_distance(const BasicLogHistogram<CounterA>& p, const BasicLogHistogram<CounterB>& q) {
  const auto rows = detail::align_histograms("l_infinity_distance", "p", p, "q", q);
  return l_infinity_distance(rows.a, rows.b);
}

template <class CounterA, class CounterB>
TestResult ks_test(const BasicLogHistogram<CounterA>& a, const BasicLogHistogram<CounterB>& b, KsOptions options) {
  const auto rows = detail::align_histograms("ks_test", "a", a, "b", b);
  // Counts are integers below 2^53, so the running sums are exact.
  double total_a = 0;
  double total_b = 0;
  for (std::size_t i = 0; i < rows.a.size(); ++i) {
    total_a += rows.a[i];
    total_b += rows.b[i];
  }
  double cumulative_a = 0;
  double cumulative_b = 0;
  double largest = 0;
  for (std::size_t i = 0; i < rows.a.size(); ++i) {
    cumulative_a += rows.a[i];
    cumulative_b += rows.b[i];
    largest = std::max(largest, std::fabs(cumulative_a / total_a - cumulative_b / total_b));
  }
  return ks_p_value(std::min(largest, 1.0), static_cast<std::uint64_t>(total_a), static_cast<std::uint64_t>(total_b),
                    options);
}

template <class CounterA, class CounterB>
TestResult g_test_independence_pooled(const BasicLogHistogram<CounterA>& a, const BasicLogHistogram<CounterB>& b,
                                      BucketPooling pooling) {
  const char* function = "g_test_independence_pooled";
  detail::check_comparable(function, "a", a, "b", b);
  if (pooling.scale < BasicLogHistogram<CounterA>::min_scale) {
    detail::throw_bad_argument(function, "pooling.scale = " + std::to_string(pooling.scale) + " is below " +
                                             std::to_string(BasicLogHistogram<CounterA>::min_scale));
  }
  if (!(pooling.min_expected >= 0) || std::isinf(pooling.min_expected)) {
    detail::throw_bad_argument(function, "pooling.min_expected = " + vigil::detail::to_text(pooling.min_expected) +
                                             " must be finite and ≥ 0");
  }
  const int scale = std::min({pooling.scale, a.scale(), b.scale()});
  detail::PooledCells cells;
  detail::add_coarse_cells(a, scale, true, cells);
  detail::add_coarse_cells(b, scale, false, cells);
  const auto rows = detail::pool_cells(cells, pooling.min_expected);
  return g_test_independence(rows.a, rows.b);
}

inline TestResult g_test_independence(const CategoryCounts& reference, const CategoryCounts& current) {
  const auto rows = detail::align_categories("g_test_independence", "reference", reference, "current", current);
  return g_test_independence(rows.a.data(), rows.b.data(), rows.a.size());
}

inline TestResult chi_square_independence(const CategoryCounts& reference, const CategoryCounts& current) {
  const auto rows = detail::align_categories("chi_square_independence", "reference", reference, "current", current);
  return chi_square_independence(rows.a.data(), rows.b.data(), rows.a.size());
}

inline double psi(const CategoryCounts& reference, const CategoryCounts& current, PsiOptions options) {
  const auto rows = detail::align_categories("psi", "reference", reference, "current", current);
  return psi(rows.a.data(), rows.b.data(), rows.a.size(), options);
}

inline double jensen_shannon_distance(const CategoryCounts& p, const CategoryCounts& q, double base) {
  const auto rows = detail::align_categories("jensen_shannon_distance", "p", p, "q", q);
  return jensen_shannon_distance(rows.a.data(), rows.b.data(), rows.a.size(), base);
}

inline double total_variation_distance(const CategoryCounts& p, const CategoryCounts& q) {
  const auto rows = detail::align_categories("total_variation_distance", "p", p, "q", q);
  return total_variation_distance(rows.a, rows.b);
}

inline double l_infinity_distance(const CategoryCounts& p, const CategoryCounts& q) {
  const auto rows = detail::align_categories("l_infinity_distance", "p", p, "q", q);
  return l_infinity_distance(rows.a, rows.b);
}

}  // namespace vigil::stats

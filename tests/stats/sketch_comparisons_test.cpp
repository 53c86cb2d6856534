#include <vigil/stats/sketch_comparisons.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <limits>
#include <map>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "vigil_test.hpp"

using namespace vigil::stats;

namespace {

// The message of the vigil::invalid_argument that `fn` throws, or "" if it throws none.
std::string invalid_argument_message(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const vigil::invalid_argument& e) {
    return e.what();
  }
  return "";
}

template <class Dist>
std::vector<double> draw(Dist dist, std::size_t n, unsigned seed) {
  std::mt19937_64 rng(seed);
  std::vector<double> out(n);
  for (double& x : out) x = static_cast<double>(dist(rng));
  return out;
}

vigil::TDigest<> digest_of(const std::vector<double>& values, bool flush = true) {
  vigil::TDigest<> digest(100);
  for (double x : values) digest.add(x);
  if (flush) digest.flush();
  return digest;
}

vigil::LogHistogram histogram_of(const std::vector<double>& values, int scale) {
  vigil::LogHistogram histogram(scale);
  for (double x : values) histogram.record(x);
  return histogram;
}

// D at which the asymptotic p-value crosses alpha, by bisection.
double critical_statistic(std::uint64_t n, std::uint64_t m, double alpha) {
  const KsOptions asymptotic{KsMethod::asymptotic};
  double lo = 0, hi = 1;
  for (int i = 0; i < 60; ++i) {
    const double mid = (lo + hi) / 2;
    (ks_p_value(mid, n, m, asymptotic).p_value > alpha ? lo : hi) = mid;
  }
  return (lo + hi) / 2;
}

// Bucket counts binned by hand: zero bucket first, then buckets by ascending index at `scale`.
struct HandBins {
  std::vector<double> a;
  std::vector<double> b;
};

HandBins bin_by_hand(const std::vector<double>& a, const std::vector<double>& b, int scale) {
  const vigil::LogHistogram layout(scale);
  std::map<std::int64_t, std::pair<double, double>> buckets;
  double zero_a = 0, zero_b = 0;
  for (double x : a) (x == 0 ? zero_a : buckets[layout.bucket_index(x)].first) += 1;
  for (double x : b) (x == 0 ? zero_b : buckets[layout.bucket_index(x)].second) += 1;
  HandBins out{{zero_a}, {zero_b}};
  for (const auto& [index, counts] : buckets) {
    out.a.push_back(counts.first);
    out.b.push_back(counts.second);
  }
  return out;
}

// Latencies in seconds: lognormal around `median`, with a share of exact zeros (cache hits).
std::vector<double> latencies(std::size_t n, double median, double sigma, double zero_share, unsigned seed) {
  std::mt19937_64 rng(seed);
  std::lognormal_distribution<double> body(std::log(median), sigma);
  std::uniform_real_distribution<double> unit(0, 1);
  std::vector<double> out(n);
  for (double& x : out) x = unit(rng) < zero_share ? 0.0 : body(rng);
  return out;
}

// Exact category counts (value order, then other, then missing) and the summary of the same.
struct Categories {
  std::map<std::string, double> counts;
  double missing = 0;
  vigil::CategoryCounts summary{256};
  void add(const std::string& value, std::uint64_t n = 1) {
    counts[value] += static_cast<double>(n);
    summary.add(value, n);
  }
  void add_missing(std::uint64_t n) {
    missing += static_cast<double>(n);
    summary.add_missing(n);
  }
};

HandBins rows_by_hand(const Categories& reference, const Categories& current) {
  std::map<std::string, std::pair<double, double>> joined;
  for (const auto& [value, n] : reference.counts) joined[value].first = n;
  for (const auto& [value, n] : current.counts) joined[value].second = n;
  HandBins out;
  for (const auto& [value, counts] : joined) {
    out.a.push_back(counts.first);
    out.b.push_back(counts.second);
  }
  out.a.push_back(0);  // other: nothing untracked while the summaries are exact
  out.b.push_back(0);
  out.a.push_back(reference.missing);
  out.b.push_back(current.missing);
  return out;
}

}  // namespace

// ---------------------------------------------------------------------------------------
// t-digests

TEST_CASE("sketch_comparisons: KS on one-value digests", "[stats][sketch_comparisons]") {
  const auto same = ks_test(digest_of({1.0}), digest_of({1.0}));
  CHECK(same.statistic == 0);
  CHECK(same.p_value == 1);
  const auto apart = ks_test(digest_of({1.0}), digest_of({2.0}));
  CHECK(apart.statistic == 1);
  CHECK(apart.p_value == ks_p_value(1.0, 1, 1, KsOptions{KsMethod::asymptotic}).p_value);
}

TEST_CASE("sketch_comparisons: KS on digests is within the rank error of the exact test",
          "[stats][sketch_comparisons]") {
  // Bound on |D_digest − D_raw| at δ = 100: each digest's CDF is within ≈ 2e-3 of its data's.
  const double bound = 5e-3;
  const double alpha = 0.01;
  struct Pair {
    const char* name;
    std::vector<double> a;
    std::vector<double> b;
  };
  const std::vector<Pair> pairs = {
      {"equal normals", draw(std::normal_distribution<double>(0, 1), 20000, 1),
       draw(std::normal_distribution<double>(0, 1), 20000, 2)},
      {"location shift 0.03 sd", draw(std::normal_distribution<double>(0, 1), 100000, 3),
       draw(std::normal_distribution<double>(0.03, 1), 60000, 4)},
      {"small location shift 0.02 sd", draw(std::normal_distribution<double>(0, 1), 10000, 5),
       draw(std::normal_distribution<double>(0.02, 1), 10000, 6)},
      {"scale change 1.1", draw(std::normal_distribution<double>(0, 1), 50000, 7),
       draw(std::normal_distribution<double>(0, 1.1), 30000, 8)},
      {"lognormal vs gamma", draw(std::lognormal_distribution<double>(0, 0.5), 40000, 9),
       draw(std::gamma_distribution<double>(4.5, 0.25), 40000, 10)},
      {"equal discrete (Poisson 3)", draw(std::poisson_distribution<int>(3.0), 30000, 11),
       draw(std::poisson_distribution<int>(3.0), 20000, 12)},
      {"discrete shift (Poisson 3 vs 3.1)", draw(std::poisson_distribution<int>(3.0), 50000, 13),
       draw(std::poisson_distribution<int>(3.1), 50000, 14)},
  };
  double worst = 0;
  for (const Pair& pair : pairs) {
    CAPTURE(pair.name);
    const auto exact = ks_test(pair.a, pair.b);
    const auto sketch = ks_test(digest_of(pair.a), digest_of(pair.b));
    const double error = std::fabs(sketch.statistic - exact.statistic);
    CAPTURE(exact.statistic, sketch.statistic, exact.p_value, sketch.p_value);
    CHECK(error <= bound);
    worst = std::max(worst, error);
    const double critical = critical_statistic(pair.a.size(), pair.b.size(), alpha);
    if (std::fabs(exact.statistic - critical) > bound) CHECK((sketch.p_value < alpha) == (exact.p_value < alpha));
  }
  INFO("largest |D_digest - D_exact| at delta = 100: " << worst);  // 1.3e-3 when written
  CHECK(worst > 0);
  // Buffered values are seen without flushing the caller's digests.
  const auto unflushed = ks_test(digest_of(pairs[0].a, false), digest_of(pairs[0].b, false));
  CHECK(unflushed.statistic == ks_test(digest_of(pairs[0].a), digest_of(pairs[0].b)).statistic);
}

TEST_CASE("sketch_comparisons: KS on digests handles point masses on both sides", "[stats][sketch_comparisons]") {
  // Few distinct values are held exactly, so D is exact: 0/1 flags with rates 0.3 and 0.35.
  std::vector<double> a(1000, 0.0), b(1000, 0.0);
  std::fill(a.begin(), a.begin() + 300, 1.0);
  std::fill(b.begin(), b.begin() + 350, 1.0);
  const auto exact = ks_test(a, b);
  const auto sketch = ks_test(digest_of(a), digest_of(b));
  CHECK(sketch.statistic == Approx(exact.statistic).margin(1e-12));
  CHECK(sketch.statistic == Approx(0.05).margin(1e-12));
  CHECK(vigil::stats::ks_statistic(digest_of(a), digest_of(b)) == sketch.statistic);
  CHECK(vigil::stats::ks_statistic(digest_of(b, false), digest_of(a, false)) == sketch.statistic);
}

TEST_CASE("sketch_comparisons: KS on digests of values near the double range answers", "[stats][sketch_comparisons]") {
  // Merging values near ±1.8e308 can overflow a centroid's mean to NaN; such a knot is
  // skipped, and D is still a number in [0, 1].
  std::mt19937_64 rng(1);
  std::uniform_real_distribution<double> unit(-1, 1);
  std::vector<double> huge(20000), small(1000);
  for (double& x : huge) x = unit(rng) * 1.7e308;
  for (double& x : small) x = unit(rng);
  const double d = vigil::stats::ks_statistic(digest_of(huge), digest_of(small));
  CHECK(d >= 0.5);
  CHECK(d <= 1.0);
}

TEST_CASE("sketch_comparisons: KS on digests refuses empty digests", "[stats][sketch_comparisons]") {
  const vigil::TDigest<> empty;
  const auto one = digest_of({1.0});
  CHECK_THROWS_AS(ks_test(empty, one), vigil::invalid_argument);
  CHECK(invalid_argument_message([&] { ks_test(empty, one); }).find("digest a is empty") != std::string::npos);
  CHECK(invalid_argument_message([&] { ks_test(one, empty); }).find("digest b is empty") != std::string::npos);
  CHECK(invalid_argument_message([&] { vigil::stats::ks_statistic(empty, one); }).find("digest a is empty") !=
        std::string::npos);
}

TEST_CASE("sketch_comparisons: Wasserstein on digests refuses empty digests", "[stats][sketch_comparisons]") {
  const vigil::TDigest<> empty;
  const auto one = digest_of({1.0});
  CHECK(invalid_argument_message([&] { wasserstein_distance(empty, one); }).find("digest a is empty") !=
        std::string::npos);
  CHECK(invalid_argument_message([&] { wasserstein_distance(one, empty); }).find("digest b is empty") !=
        std::string::npos);
}

TEST_CASE("sketch_comparisons: Wasserstein on one-value digests is the distance of the values",
          "[stats][sketch_comparisons]") {
  CHECK(wasserstein_distance(digest_of({2.0}), digest_of({5.5})) == 3.5);
  CHECK(wasserstein_distance(digest_of({2.0}), digest_of({2.0})) == 0);
  CHECK(wasserstein_distance(digest_of({-1.0}), digest_of({1.0}), 1) == 2);
}

TEST_CASE("sketch_comparisons: Wasserstein on digests is close to the raw samples' distance",
          "[stats][sketch_comparisons]") {
  struct Pair {
    const char* name;
    std::vector<double> a;
    std::vector<double> b;
  };
  const std::vector<Pair> pairs = {
      {"equal normals", draw(std::normal_distribution<double>(0, 1), 20000, 41),
       draw(std::normal_distribution<double>(0, 1), 20000, 42)},
      {"location shift 0.1 sd", draw(std::normal_distribution<double>(0, 1), 100000, 43),
       draw(std::normal_distribution<double>(0.1, 1), 60000, 44)},
      {"scale change 1.1", draw(std::normal_distribution<double>(0, 1), 50000, 45),
       draw(std::normal_distribution<double>(0, 1.1), 30000, 46)},
      {"lognormal vs gamma", draw(std::lognormal_distribution<double>(0, 0.5), 40000, 47),
       draw(std::gamma_distribution<double>(4.5, 0.25), 40000, 48)},
      {"Poisson 3 vs 3.1", draw(std::poisson_distribution<int>(3.0), 50000, 49),
       draw(std::poisson_distribution<int>(3.1), 10000, 50)},
      {"shift 2 sd", draw(std::normal_distribution<double>(0, 1), 10000, 51),
       draw(std::normal_distribution<double>(2, 1), 10000, 52)},
  };
  for (const Pair& pair : pairs) {
    CAPTURE(pair.name);
    double mean = 0, squares = 0;
    for (double x : pair.a) mean += x / static_cast<double>(pair.a.size());
    for (double x : pair.a) squares += (x - mean) * (x - mean) / static_cast<double>(pair.a.size());
    const double sd = std::sqrt(squares);
    const double raw = wasserstein_distance(pair.a, pair.b);
    const double sketch = wasserstein_distance(digest_of(pair.a), digest_of(pair.b));
    CAPTURE(raw / sd, sketch / sd);
    std::printf("wasserstein on digests, %-22s raw %.5f sd, digests %.5f sd\n", pair.name, raw / sd, sketch / sd);
    CHECK(std::fabs(sketch - raw) <= 0.02 * raw + 1e-3 * sd);
  }
  // Buffered values are seen, float digests answer alike, and the order does not matter.
  const auto& pair = pairs[1];
  const double flushed = wasserstein_distance(digest_of(pair.a), digest_of(pair.b));
  CHECK(wasserstein_distance(digest_of(pair.a, false), digest_of(pair.b, false)) == flushed);
  CHECK(wasserstein_distance(digest_of(pair.b), digest_of(pair.a)) == Approx(flushed).epsilon(1e-12));
  vigil::TDigest<float> fa(100), fb(100);
  for (double x : pair.a) fa.add(static_cast<float>(x));
  for (double x : pair.b) fb.add(static_cast<float>(x));
  CHECK(wasserstein_distance(fa, fb) == Approx(flushed).epsilon(1e-3));
  // More quantiles: the midpoint rule converges; the digests' error remains.
  CHECK(wasserstein_distance(digest_of(pair.a), digest_of(pair.b), 100000) == Approx(flushed).epsilon(1e-2));
}

TEST_CASE("sketch_comparisons: Wasserstein on digests refuses zero quantiles", "[stats][sketch_comparisons]") {
  const auto one = digest_of({1.0});
  CHECK(invalid_argument_message([&] { wasserstein_distance(one, one, 0); }).find("quantiles = 0") != std::string::npos);
}

// ---------------------------------------------------------------------------------------
// Log histograms

TEST_CASE("sketch_comparisons: histograms of one value", "[stats][sketch_comparisons]") {
  const auto a = histogram_of({0.5}, 5);
  const auto b = histogram_of({0.5}, 5);
  CHECK(g_test_independence(a, b).p_value == 1);
  CHECK(psi(a, b) == 0);
  CHECK(jensen_shannon_distance(a, b) == 0);
  CHECK(ks_test(a, b).statistic == 0);
  CHECK(ks_test(a, histogram_of({0.0}, 5)).statistic == 1);
}

TEST_CASE("sketch_comparisons: histogram statistics equal the count functions on their buckets",
          "[stats][sketch_comparisons]") {
  const auto raw_a = latencies(20000, 0.020, 0.8, 0.01, 21);
  const auto raw_b = latencies(15000, 0.022, 0.9, 0.02, 22);
  for (int scale_b : {5, 3}) {
    CAPTURE(scale_b);
    const auto a = histogram_of(raw_a, 5);
    const auto b = histogram_of(raw_b, scale_b);  // a is downscaled to b's scale on a copy
    const HandBins bins = bin_by_hand(raw_a, raw_b, std::min(5, scale_b));
    CHECK(g_test_independence(a, b).statistic == g_test_independence(bins.a, bins.b).statistic);
    CHECK(g_test_independence(a, b).p_value == g_test_independence(bins.a, bins.b).p_value);
    CHECK(g_test_independence(a, b).degrees_of_freedom == g_test_independence(bins.a, bins.b).degrees_of_freedom);
    CHECK(chi_square_independence(a, b).statistic == chi_square_independence(bins.a, bins.b).statistic);
    CHECK(psi(a, b) == psi(bins.a, bins.b));
    CHECK(psi(a, b, PsiOptions{1e-6}) == psi(bins.a, bins.b, PsiOptions{1e-6}));
    CHECK(jensen_shannon_distance(a, b) == jensen_shannon_distance(bins.a, bins.b));
    CHECK(jensen_shannon_distance(a, b, 2.0) == jensen_shannon_distance(bins.a, bins.b, 2.0));
    CHECK(total_variation_distance(a, b) == total_variation_distance(bins.a, bins.b));
    CHECK(l_infinity_distance(a, b) == l_infinity_distance(bins.a, bins.b));
    CHECK(a.scale() == 5);  // the arguments are unchanged
  }
  // A ConcurrentLogHistogram whose window holds every value compares like a LogHistogram.
  vigil::LogHistogramOptions options;
  options.lowest = 1e-6;
  vigil::ConcurrentLogHistogram concurrent(options);
  for (double x : raw_b) concurrent.record(x);
  const auto a = histogram_of(raw_a, 5);
  CHECK(g_test_independence(a, concurrent).statistic == g_test_independence(a, histogram_of(raw_b, 5)).statistic);
}

TEST_CASE("sketch_comparisons: KS on histograms is the raw test on bucket edges and bounds the raw statistic",
          "[stats][sketch_comparisons]") {
  struct Pair {
    const char* name;
    std::vector<double> a;
    std::vector<double> b;
  };
  const std::vector<Pair> pairs = {
      {"equal", latencies(8000, 0.02, 0.8, 0.01, 31), latencies(6000, 0.02, 0.8, 0.01, 32)},
      {"5 % slower", latencies(8000, 0.02, 0.8, 0.01, 33), latencies(8000, 0.021, 0.8, 0.01, 34)},
      {"wider", latencies(30000, 0.02, 0.8, 0.0, 35), latencies(20000, 0.02, 1.0, 0.0, 36)},
  };
  for (const Pair& pair : pairs) {
    CAPTURE(pair.name);
    for (int scale : {5, 2}) {
      CAPTURE(scale);
      const auto a = histogram_of(pair.a, scale);
      const auto b = histogram_of(pair.b, scale);
      const auto sketch = ks_test(a, b);
      // Every value replaced by its bucket's upper edge (zero by the zero threshold, 0).
      const auto to_edge = [&a](std::vector<double> values) {
        for (double& x : values) x = x == 0 ? 0.0 : a.bucket_upper(a.bucket_index(x));
        return values;
      };
      const auto on_edges = ks_test(to_edge(pair.a), to_edge(pair.b));
      CHECK(sketch.statistic == on_edges.statistic);
      CHECK(sketch.p_value == Approx(on_edges.p_value).margin(1e-12));
      // D ≤ D_raw ≤ D + the largest one-bucket mass.
      const double raw = ks_test(pair.a, pair.b).statistic;
      double largest_mass = 0;
      for (const auto* h : {&a, &b}) {
        const double n = static_cast<double>(h->count());
        largest_mass = std::max(largest_mass, static_cast<double>(h->zero_count()) / n);
        for (const auto& bucket : h->buckets()) largest_mass = std::max(largest_mass, static_cast<double>(bucket.count) / n);
      }
      CAPTURE(sketch.statistic, raw, largest_mass);
      CHECK(sketch.statistic <= raw + 1e-15);
      CHECK(raw <= sketch.statistic + largest_mass + 1e-15);
    }
  }
}

TEST_CASE("sketch_comparisons: histograms that cannot be compared", "[stats][sketch_comparisons]") {
  const vigil::LogHistogram empty(5);
  const auto one = histogram_of({0.5}, 5);
  CHECK_THROWS_AS(g_test_independence(empty, one), vigil::invalid_argument);
  CHECK(invalid_argument_message([&] { psi(empty, one); }).find("histogram reference is empty") != std::string::npos);
  CHECK(invalid_argument_message([&] { psi(one, empty); }).find("histogram current is empty") != std::string::npos);
  CHECK(invalid_argument_message([&] { ks_test(one, empty); }).find("histogram b is empty") != std::string::npos);
  vigil::LogHistogramOptions options;
  options.zero_threshold = 1e-3;
  vigil::LogHistogram thresholded(options);
  thresholded.record(0.5);
  for (const auto& message : {invalid_argument_message([&] { g_test_independence(one, thresholded); }),
                              invalid_argument_message([&] { jensen_shannon_distance(one, thresholded); }),
                              invalid_argument_message([&] { ks_test(thresholded, one); })}) {
    CHECK(message.find("zero thresholds differ") != std::string::npos);
  }
}

// Pooled G-test, by hand: each value's bucket at `scale` from a LogHistogram of that scale,
// the zero bucket first, then adjacent cells pooled until a's expected count reaches
// `min_expected`, the remainder joining the last cell.
HandBins pool_by_hand(const std::vector<double>& a, const std::vector<double>& b, int scale, double min_expected) {
  const HandBins bins = bin_by_hand(a, b, scale);
  double total_a = 0, total = 0;
  for (std::size_t i = 0; i < bins.a.size(); ++i) {
    total_a += bins.a[i];
    total += bins.a[i] + bins.b[i];
  }
  const double share = total_a / total;
  HandBins pooled;
  double x = 0, y = 0;
  for (std::size_t i = 0; i < bins.a.size(); ++i) {
    x += bins.a[i];
    y += bins.b[i];
    if (x + y > 0 && (x + y) * share >= min_expected) {
      pooled.a.push_back(x);
      pooled.b.push_back(y);
      x = y = 0;
    }
  }
  if (x + y > 0 && pooled.a.empty()) {
    pooled.a.push_back(x);
    pooled.b.push_back(y);
  } else if (x + y > 0) {
    pooled.a.back() += x;
    pooled.b.back() += y;
  }
  return pooled;
}

TEST_CASE("sketch_comparisons: pooled G-test refuses empty histograms", "[stats][sketch_comparisons]") {
  const vigil::LogHistogram empty(5);
  const auto one = histogram_of({0.5}, 5);
  CHECK(invalid_argument_message([&] { g_test_independence_pooled(empty, one); }).find("histogram a is empty") !=
        std::string::npos);
  CHECK(invalid_argument_message([&] { g_test_independence_pooled(one, empty); }).find("histogram b is empty") !=
        std::string::npos);
}

TEST_CASE("sketch_comparisons: pooled G-test of one value each has one cell", "[stats][sketch_comparisons]") {
  for (const auto& r : {g_test_independence_pooled(histogram_of({0.001}, 5), histogram_of({100.0}, 5)),
                        g_test_independence_pooled(histogram_of({0.0}, 5), histogram_of({0.5}, 3))}) {
    CHECK(r.statistic == 0);
    CHECK(r.p_value == 1);
    CHECK(r.degrees_of_freedom == 0);
  }
}

TEST_CASE("sketch_comparisons: pooled G-test equals the G-test on buckets pooled by hand", "[stats][sketch_comparisons]") {
  const auto background_values = latencies(40000, 0.020, 0.8, 0.01, 61);
  const auto background = histogram_of(background_values, 5);
  for (const auto& [n, median, zeros, seed] : std::vector<std::tuple<std::size_t, double, double, unsigned>>{
           {30, 0.02, 0.0, 62}, {300, 0.021, 0.02, 63}, {3000, 0.025, 0.01, 64}, {20000, 0.02, 0.05, 65}}) {
    const auto recent_values = latencies(n, median, 0.8, zeros, seed);
    for (const auto& [scale, recent_scale, min_expected] : std::vector<std::tuple<int, int, double>>{
             {2, 5, 5.0}, {2, 3, 5.0}, {0, 5, 20.0}, {-3, 1, 1.0}, {7, 5, 5.0}}) {
      CAPTURE(n, scale, recent_scale, min_expected);
      BucketPooling pooling;
      pooling.scale = scale;
      pooling.min_expected = min_expected;
      const auto recent = histogram_of(recent_values, recent_scale);
      const auto r = g_test_independence_pooled(recent, background, pooling);
      const HandBins cells = pool_by_hand(recent_values, background_values, std::min({scale, recent_scale, 5}), min_expected);
      const auto expected = g_test_independence(cells.a, cells.b);
      CHECK(r.statistic == expected.statistic);
      CHECK(r.p_value == expected.p_value);
      CHECK(r.degrees_of_freedom == expected.degrees_of_freedom);
      // Every cell but possibly the last expects min_expected of a; so does the last when
      // there is more than one (the remainder joined it).
      double total_a = 0, total = 0;
      for (std::size_t i = 0; i < cells.a.size(); ++i) {
        total_a += cells.a[i];
        total += cells.a[i] + cells.b[i];
      }
      for (std::size_t i = 0; i < cells.a.size() && cells.a.size() > 1; ++i) {
        CHECK((cells.a[i] + cells.b[i]) * total_a / total >= min_expected);
      }
    }
  }
  // Without pooling and at the histograms' own scale, the G-test on every bucket.
  const auto recent = histogram_of(latencies(5000, 0.022, 0.9, 0.02, 66), 5);
  BucketPooling none;
  none.scale = 5;
  none.min_expected = 0;
  CHECK(g_test_independence_pooled(recent, background, none).statistic == g_test_independence(recent, background).statistic);
  CHECK(g_test_independence_pooled(recent, background, none).p_value == g_test_independence(recent, background).p_value);
}

TEST_CASE("sketch_comparisons: pooled G-test holds its level and finds a slower window",
          "[stats][sketch_comparisons]") {
  // Short windows of latencies drawn like a long background: on pooled cells the χ²
  // approximation holds, so the false-alarm rate at α = 0.05 is near 5 %; sparse scale-5
  // buckets make the bucket-by-bucket test lose its power instead.
  const auto background = histogram_of(latencies(20000, 0.02, 0.8, 0.01, 70), 5);
  int alarms = 0;
  for (unsigned run = 0; run < 200; ++run) {
    const auto recent = histogram_of(latencies(100, 0.02, 0.8, 0.01, 1000 + run), 5);
    alarms += g_test_independence_pooled(recent, background).p_value < 0.05;
  }
  INFO("false alarms: " << alarms << " of 200");
  CHECK(alarms >= 3);
  CHECK(alarms <= 20);
  int pooled_found = 0, bucket_found = 0;
  for (unsigned run = 0; run < 50; ++run) {
    const auto slower = histogram_of(latencies(200, 0.026, 0.8, 0.01, 2000 + run), 5);
    pooled_found += g_test_independence_pooled(slower, background).p_value < 0.05;
    bucket_found += g_test_independence(slower, background).p_value < 0.05;
  }
  INFO("30 % slower found: pooled " << pooled_found << ", bucket by bucket " << bucket_found << " of 50");
  CHECK(pooled_found >= 35);
  CHECK(pooled_found > bucket_found + 10);
}

TEST_CASE("sketch_comparisons: pooled G-test refuses what cannot be compared", "[stats][sketch_comparisons]") {
  const auto one = histogram_of({0.5}, 5);
  vigil::LogHistogramOptions options;
  options.zero_threshold = 1e-3;
  vigil::LogHistogram thresholded(options);
  thresholded.record(0.5);
  CHECK(invalid_argument_message([&] { g_test_independence_pooled(one, thresholded); }).find("zero thresholds differ") !=
        std::string::npos);
  BucketPooling pooling;
  pooling.scale = -11;
  CHECK(invalid_argument_message([&] { g_test_independence_pooled(one, one, pooling); }).find("pooling.scale = -11") !=
        std::string::npos);
  pooling.scale = 2;
  pooling.min_expected = -1;
  CHECK(invalid_argument_message([&] { g_test_independence_pooled(one, one, pooling); })
            .find("pooling.min_expected = -1") != std::string::npos);
  pooling.min_expected = std::numeric_limits<double>::quiet_NaN();
  CHECK(invalid_argument_message([&] { g_test_independence_pooled(one, one, pooling); })
            .find("pooling.min_expected = nan") != std::string::npos);
}

// ---------------------------------------------------------------------------------------
// Category counts

TEST_CASE("sketch_comparisons: category counts of one value", "[stats][sketch_comparisons]") {
  Categories a, b;
  a.add("x");
  b.add("x", 5);
  CHECK(g_test_independence(a.summary, b.summary).p_value == 1);
  CHECK(psi(a.summary, b.summary) == 0);
  CHECK(l_infinity_distance(a.summary, b.summary) == 0);
  b.add_missing(5);  // half of the current observations are missing: a bin of its own
  CHECK(l_infinity_distance(a.summary, b.summary) == 0.5);
  CHECK(total_variation_distance(a.summary, b.summary) == 0.5);
}

TEST_CASE("sketch_comparisons: exact category counts equal the count functions", "[stats][sketch_comparisons]") {
  std::mt19937_64 rng(41);
  std::discrete_distribution<int> reference_mix({30, 20, 15, 10, 8, 6, 5, 3, 2, 1});
  std::discrete_distribution<int> current_mix({28, 22, 15, 9, 8, 6, 5, 4, 2, 1});
  Categories reference, current;
  for (int i = 0; i < 5000; ++i) reference.add("c" + std::to_string(reference_mix(rng)));
  for (int i = 0; i < 4000; ++i) current.add("c" + std::to_string(current_mix(rng)));
  reference.add_missing(40);
  current.add_missing(65);
  current.add("new label", 30);  // unseen in the reference
  REQUIRE(reference.summary.exact());
  REQUIRE(current.summary.exact());
  const HandBins rows = rows_by_hand(reference, current);
  const auto& r = reference.summary;
  const auto& c = current.summary;
  CHECK(g_test_independence(r, c).statistic == g_test_independence(rows.a, rows.b).statistic);
  CHECK(g_test_independence(r, c).p_value == g_test_independence(rows.a, rows.b).p_value);
  CHECK(g_test_independence(r, c).degrees_of_freedom == 11);  // 11 values and "missing"; "other" empty
  CHECK(chi_square_independence(r, c).statistic == chi_square_independence(rows.a, rows.b).statistic);
  CHECK(chi_square_independence(r, c).p_value == chi_square_independence(rows.a, rows.b).p_value);
  CHECK(psi(r, c) == psi(rows.a, rows.b));
  CHECK(jensen_shannon_distance(r, c) == jensen_shannon_distance(rows.a, rows.b));
  CHECK(jensen_shannon_distance(r, c, 2.0) == jensen_shannon_distance(rows.a, rows.b, 2.0));
  CHECK(total_variation_distance(r, c) == total_variation_distance(rows.a, rows.b));
  CHECK(l_infinity_distance(r, c) == l_infinity_distance(rows.a, rows.b));
}

TEST_CASE("sketch_comparisons: unseen categories are bins of their own, never dropped", "[stats][sketch_comparisons]") {
  Categories reference, current, current_plus_new;
  for (const char* value : {"a", "b", "c"}) {
    reference.add(value, 1000);
    current.add(value, 1000);
    current_plus_new.add(value, 1000);
  }
  current_plus_new.add("unseen", 60);
  CHECK(psi(reference.summary, current.summary) == 0);
  CHECK(g_test_independence(reference.summary, current.summary).statistic == 0);
  const double psi_new = psi(reference.summary, current_plus_new.summary);
  const auto g_new = g_test_independence(reference.summary, current_plus_new.summary);
  CHECK(psi_new > 0.05);  // 2 % of the current mass where the reference has none
  CHECK(g_new.p_value < 1e-10);
  CHECK(g_new.degrees_of_freedom == 3);  // a, b, c, unseen
  CHECK(l_infinity_distance(reference.summary, current_plus_new.summary) == Approx(60.0 / 3060).epsilon(1e-12));
  // The same in the other direction: a reference category absent from the current window.
  CHECK(psi(current_plus_new.summary, reference.summary) == Approx(psi_new).epsilon(1e-12));
}

TEST_CASE("sketch_comparisons: non-exact category counts use guaranteed counts and an other bin",
          "[stats][sketch_comparisons]") {
  // 400 Zipf-distributed labels into summaries of capacity 32: heavy hitters stay accurate.
  std::vector<double> weights(400);
  for (std::size_t i = 0; i < weights.size(); ++i) weights[i] = 1.0 / static_cast<double>(i + 1);
  std::discrete_distribution<int> zipf(weights.begin(), weights.end());
  std::mt19937_64 rng(51);
  vigil::CategoryCounts a(32), b(32), same(32);
  std::vector<std::string> stream;
  for (int i = 0; i < 20000; ++i) stream.push_back("v" + std::to_string(zipf(rng)));
  for (const auto& v : stream) a.add(v);
  for (const auto& v : stream) same.add(v);
  for (int i = 0; i < 20000; ++i) b.add("v" + std::to_string(zipf(rng)));
  REQUIRE(!a.exact());
  CHECK(psi(a, same) == 0);
  CHECK(g_test_independence(a, same).statistic == 0);
  // Rows by hand from the summaries' own entries: guaranteed counts, then other() and missing().
  std::map<std::string, std::pair<double, double>> joined;
  for (const auto& e : a.entries()) joined[e.value].first = static_cast<double>(e.lower());
  for (const auto& e : b.entries()) joined[e.value].second = static_cast<double>(e.lower());
  std::vector<double> row_a, row_b;
  for (const auto& [value, counts] : joined) {
    row_a.push_back(counts.first);
    row_b.push_back(counts.second);
  }
  row_a.push_back(static_cast<double>(a.other()));
  row_b.push_back(static_cast<double>(b.other()));
  row_a.push_back(0);
  row_b.push_back(0);
  CHECK(psi(a, b) == psi(row_a, row_b));
  CHECK(g_test_independence(a, b).statistic == g_test_independence(row_a, row_b).statistic);
  // Each side's bins hold all of its observations.
  double total_a = 0;
  for (double x : row_a) total_a += x;
  CHECK(total_a == static_cast<double>(a.count()));
  // Same distribution, two streams: the distance stays small despite the churning tail.
  CHECK(total_variation_distance(a, b) < 0.05);
}

TEST_CASE("sketch_comparisons: empty category counts are refused", "[stats][sketch_comparisons]") {
  const vigil::CategoryCounts empty(8);
  vigil::CategoryCounts one(8);
  one.add("x");
  CHECK_THROWS_AS(psi(empty, one), vigil::invalid_argument);
  CHECK(invalid_argument_message([&] { psi(empty, one); }).find("counts reference is empty") != std::string::npos);
  CHECK(invalid_argument_message([&] { g_test_independence(one, empty); }).find("counts current is empty") !=
        std::string::npos);
  CHECK(invalid_argument_message([&] { l_infinity_distance(one, empty); }).find("counts q is empty") !=
        std::string::npos);
  vigil::CategoryCounts only_missing(8);
  only_missing.add_missing(3);  // not empty: every observation is missing
  CHECK(l_infinity_distance(one, only_missing) == 1);
}

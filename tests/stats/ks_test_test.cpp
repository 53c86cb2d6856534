#include <vigil/stats/ks_test.hpp>
#include <vigil/stats/special_functions.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "stats/golden_data.hpp"
#include "vigil_test.hpp"

namespace golden = vigil_test::golden;
using vigil::stats::KsMethod;
using vigil::stats::ks_p_value;
using vigil::stats::ks_statistic_binned;
using vigil::stats::ks_test;

TEST_CASE("ks_test: empty sample throws", "[stats][ks_test]") {
  const std::vector<double> empty, some{1.0, 2.0};
  CHECK_THROWS_AS(ks_test(empty, some), vigil::invalid_argument);
  CHECK_THROWS_WITH(ks_test(some, empty), Catch::Matchers::Contains("b is empty"));
}

TEST_CASE("ks_test: one value each", "[stats][ks_test]") {
  const auto same = ks_test({3.0}, {3.0});
  CHECK(same.statistic == 0);
  CHECK(same.p_value == 1);
  const auto apart = ks_test({1.0}, {2.0});
  CHECK(apart.statistic == 1);
  CHECK(apart.p_value == 1);  // two values can't be more extreme: P(D ≥ 1) = 1 for n = 1
}

TEST_CASE("ks_test: many values agree with scipy.stats.ks_2samp", "[stats][ks_test]") {
  golden::ErrorLog statistic_errors, p_errors;
  std::size_t checked = 0;
  // Lines come in groups of methods for one pair of samples: the full ks_test runs on the
  // first, the forced methods reuse its sorted samples (the same code path after sorting).
  std::string spec_a, spec_b;
  std::vector<double> a, b;
  for (const auto& c : golden::read("ks_test.txt")) {
    if (c[0].rfind("binned", 0) == 0) continue;  // ks_statistic_binned's cases, below
    const double expected_p = golden::number(c[4]);
    if (std::isnan(expected_p)) continue;  // SciPy's asymptotic n = round(0.5) = 0 for 1 vs 1
    vigil::stats::KsOptions options;
    options.method = c[0] == "auto"    ? KsMethod::automatic
                     : c[0] == "exact" ? KsMethod::exact
                     : c[0] == "limit" ? KsMethod::limit
                                       : KsMethod::asymptotic;
    vigil::stats::TestResult r{};
    if (c[1] != spec_a || c[2] != spec_b) {
      spec_a = c[1];
      spec_b = c[2];
      a = golden::values(spec_a);
      b = golden::values(spec_b);
      r = ks_test(a, b, options);
      std::sort(a.begin(), a.end());
      std::sort(b.begin(), b.end());
    } else {
      const double d = vigil::stats::ks_statistic_sorted(a.data(), a.size(), b.data(), b.size());
      r = ks_p_value(d, a.size(), b.size(), options);
    }
    const double expected_d = golden::number(c[3]);
    INFO(c[0] << " " << c[1] << " " << c[2] << ": D " << r.statistic << " vs " << expected_d << ", p " << r.p_value
              << " vs " << expected_p);
    CHECK(golden::statistic_agrees(r.statistic, expected_d));
    CHECK(golden::p_value_agrees(r.p_value, expected_p));
    if (expected_p > 0 && expected_p < 1e-10) CHECK(std::fabs(r.p_value - expected_p) <= 1e-8 * expected_p);
    statistic_errors.add(r.statistic, expected_d);
    p_errors.add(r.p_value, expected_p);
    ++checked;
  }
  CHECK(checked > 200);
  std::printf("ks_test statistic max rel %.2e; p max rel %.2e, max abs %.2e\n", statistic_errors.max_relative,
              p_errors.max_relative, p_errors.max_absolute);
}

TEST_CASE("ks_test: disjoint equal samples have p = 2/C(2n, n)", "[stats][ks_test]") {
  // 2/C(2n, n) in log space: a far tail the exact method must keep (≈ 1.1e-119 at n = 200).
  const std::size_t n = 200;
  std::vector<double> a(n), b(n);
  for (std::size_t i = 0; i < n; ++i) {
    a[i] = static_cast<double>(i);
    b[i] = 1000.0 + static_cast<double>(i);
  }
  const double log_choose = std::lgamma(2.0 * n + 1) - 2 * std::lgamma(n + 1.0);
  const auto r = ks_test(a, b);
  CHECK(r.statistic == 1);
  CHECK(r.p_value == Approx(2 * std::exp(-log_choose)).epsilon(1e-9));
  CHECK(r.p_value < 1e-100);
}

TEST_CASE("ks_p_value: counts-only form matches the sample form", "[stats][ks_test]") {
  std::vector<double> a, b;
  for (int i = 0; i < 300; ++i) a.push_back(i * 0.37 - std::floor(i * 0.37));
  for (int i = 0; i < 200; ++i) b.push_back(0.1 + i * 0.61 - std::floor(i * 0.61));
  const auto from_samples = ks_test(a, b);
  const auto from_counts = ks_p_value(from_samples.statistic, 300, 200);
  CHECK(from_counts.p_value == from_samples.p_value);
  // The exact method snaps D to the lattice h/lcm; 1/1200 below one step rounds back.
  CHECK(ks_p_value(from_samples.statistic - 1.0 / 1200.0 / 3, 300, 200).statistic == from_samples.statistic);
}

TEST_CASE("ks_test: bad input throws naming the value", "[stats][ks_test]") {
  const std::vector<double> good{1.0, 2.0};
  CHECK_THROWS_WITH(ks_test(good, {1.0, std::nan("")}), Catch::Matchers::Contains("b[1] = nan"));
  CHECK_THROWS_AS(ks_test({std::numeric_limits<double>::infinity()}, good), vigil::invalid_argument);
  CHECK_THROWS_AS(ks_p_value(0.5, 0, 10), vigil::invalid_argument);
  CHECK_THROWS_AS(ks_p_value(1.5, 10, 10), vigil::invalid_argument);
}

// ---------------------------------------------------------------------------------------
// KsMethod::limit

TEST_CASE("ks_p_value limit: D = 0 and one value each", "[stats][ks_test]") {
  const vigil::stats::KsOptions limit{KsMethod::limit};
  CHECK(ks_p_value(0.0, 5, 7, limit).p_value == 1);
  // n₁ = n₂ = 1: the effective size ½ is kept, not rounded (SciPy's kstwo would take 0).
  const auto one_each = ks_p_value(1.0, 1, 1, limit);
  CHECK(one_each.statistic == 1);
  CHECK(one_each.p_value == vigil::stats::kolmogorov_limit_sf(std::sqrt(0.5)));
  CHECK(one_each.degrees_of_freedom == 0);
}

TEST_CASE("ks_p_value limit: many sizes follow the limiting distribution at n1 n2 / (n1 + n2)", "[stats][ks_test]") {
  // Against the closed form K(x) = 2 Σ (−1)^(k−1) exp(−2k²x²), summed here term by term
  // (x ≥ 0.82, where 4 terms reach 1e-16), at effective sizes that are not whole numbers.
  const vigil::stats::KsOptions limit{KsMethod::limit};
  for (const auto& [n1, n2, d] : std::vector<std::tuple<std::uint64_t, std::uint64_t, double>>{
           {3, 7, 0.6}, {10, 1, 0.9}, {1000, 333, 0.06}, {123456789, 987654321, 1e-4}, {5, 5, 0.8}}) {
    const double x = d * std::sqrt(static_cast<double>(n1) * static_cast<double>(n2) / static_cast<double>(n1 + n2));
    REQUIRE(x >= 0.82);
    double series = 0;
    for (int k = 1; k <= 20; ++k) series += 2 * (k % 2 ? 1 : -1) * std::exp(-2.0 * k * k * x * x);
    INFO(n1 << " vs " << n2 << " at D = " << d);
    CHECK(ks_p_value(d, n1, n2, limit).p_value == Approx(series).epsilon(1e-13));
  }
  // The limit lies above the finite-n asymptotic p-value where D is large for n (it is the
  // conservative one) and meets it as n grows.
  CHECK(ks_p_value(0.3, 40, 40, limit).p_value > ks_p_value(0.3, 40, 40, {KsMethod::asymptotic}).p_value);
  const double large_limit = ks_p_value(0.004, 200000, 200000, limit).p_value;
  CHECK(large_limit == Approx(ks_p_value(0.004, 200000, 200000, {KsMethod::asymptotic}).p_value).epsilon(1e-2));
}

TEST_CASE("ks_p_value limit: bad input throws naming the value", "[stats][ks_test]") {
  const vigil::stats::KsOptions limit{KsMethod::limit};
  CHECK_THROWS_WITH(ks_p_value(std::nan(""), 10, 10, limit), Catch::Matchers::Contains("statistic = nan"));
  CHECK_THROWS_WITH(ks_p_value(-0.1, 10, 10, limit), Catch::Matchers::Contains("statistic = -0.1"));
  CHECK_THROWS_WITH(ks_p_value(0.5, 0, 10, limit), Catch::Matchers::Contains("n1 = 0"));
}

// ---------------------------------------------------------------------------------------
// ks_statistic_binned

TEST_CASE("ks_statistic_binned: empty rows throw", "[stats][ks_test]") {
  const std::vector<double> empty;
  CHECK_THROWS_WITH(ks_statistic_binned(empty, empty), Catch::Matchers::Contains("counts_a is empty"));
}

TEST_CASE("ks_statistic_binned: one bin", "[stats][ks_test]") {
  CHECK(ks_statistic_binned({5.0}, {0.25}) == 0);
  // All mass in the first bin on one side, in the last on the other: D = 1.
  CHECK(ks_statistic_binned({4.0, 0.0}, {0.0, 3.0}) == 1);
}

TEST_CASE("ks_statistic_binned: many bins agree with ks_2samp on point masses and exact shares", "[stats][ks_test]") {
  golden::ErrorLog statistic_errors, p_errors;
  std::size_t checked = 0;
  for (const auto& c : golden::read("ks_test.txt")) {
    if (c[0] != "binned" && c[0] != "binned_exact") continue;
    const auto a = golden::values(c[1]);
    const auto b = golden::values(c[2]);
    const double d = ks_statistic_binned(a, b);
    const double expected_d = golden::number(c[3]);
    INFO(c[0] << " with " << a.size() << " bins: D " << d << " vs " << expected_d);
    // Shares are accumulated bin by bin: a rounding per bin, at most k·2⁻⁵³ absolute.
    CHECK(std::fabs(d - expected_d) <= static_cast<double>(a.size()) * 0x1p-53);
    statistic_errors.add(d, expected_d);
    if (c[0] == "binned") {
      // The limit p-value at the totals, as the Monitor tests a binned D.
      double total_a = 0, total_b = 0;
      for (double x : a) total_a += x;
      for (double x : b) total_b += x;
      const double p = ks_p_value(d, static_cast<std::uint64_t>(total_a), static_cast<std::uint64_t>(total_b),
                                  {KsMethod::limit})
                           .p_value;
      CHECK(golden::p_value_agrees(p, golden::number(c[4])));
      p_errors.add(p, golden::number(c[4]));
    }
    ++checked;
  }
  CHECK(checked >= 11);
  std::printf("ks_statistic_binned D max rel %.2e, max abs %.2e; limit p max rel %.2e\n", statistic_errors.max_relative,
              statistic_errors.max_absolute, p_errors.max_relative);
}

TEST_CASE("ks_statistic_binned: a lower bound of the raw statistic, short by at most one bin's share", "[stats][ks_test]") {
  std::mt19937_64 rng(17);
  std::normal_distribution<double> normal(0, 1);
  for (int round = 0; round < 20; ++round) {
    std::vector<double> a(500 + 37 * round), b(800 - 23 * round);
    for (double& x : a) x = normal(rng);
    for (double& x : b) x = 0.02 * round + (1 + 0.01 * round) * normal(rng);
    std::vector<double> edges;
    for (int i = 1; i < 8 + round; ++i) edges.push_back(-2.5 + 5.0 * i / (8 + round));
    std::vector<double> counts_a(edges.size() + 1, 0.0), counts_b(edges.size() + 1, 0.0);
    for (double x : a) counts_a[std::lower_bound(edges.begin(), edges.end(), x) - edges.begin()] += 1;
    for (double x : b) counts_b[std::lower_bound(edges.begin(), edges.end(), x) - edges.begin()] += 1;
    double largest_share = 0;
    for (std::size_t i = 0; i < counts_a.size(); ++i) {
      largest_share = std::max({largest_share, counts_a[i] / static_cast<double>(a.size()),
                                counts_b[i] / static_cast<double>(b.size())});
    }
    const double binned = ks_statistic_binned(counts_a, counts_b);
    const double raw = ks_test(a, b, {KsMethod::asymptotic}).statistic;
    INFO("round " << round << ": binned " << binned << ", raw " << raw);
    CHECK(binned <= raw + 1e-15);
    CHECK(raw <= binned + largest_share + 1e-15);
  }
}

TEST_CASE("ks_statistic_binned: bad input throws naming the value", "[stats][ks_test]") {
  CHECK_THROWS_WITH(ks_statistic_binned({1.0, -2.0}, {1.0, 1.0}), Catch::Matchers::Contains("counts_a[1] = -2"));
  CHECK_THROWS_WITH(ks_statistic_binned({1.0, 2.0}, {std::nan(""), 1.0}), Catch::Matchers::Contains("counts_b[0] = nan"));
  CHECK_THROWS_WITH(ks_statistic_binned({1.0, 2.0}, {1.0}), Catch::Matchers::Contains("has 2 values"));
  CHECK_THROWS_WITH(ks_statistic_binned({0.0, 0.0}, {1.0, 1.0}), Catch::Matchers::Contains("counts_a sum to 0"));
  CHECK_THROWS_WITH(ks_statistic_binned({1.0, 0.0}, {0.0, 0.0}), Catch::Matchers::Contains("counts_b sum to 0"));
}

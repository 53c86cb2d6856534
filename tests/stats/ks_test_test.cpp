#include <vigil/stats/ks_test.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <string>
#include <vector>

#include "stats/golden_data.hpp"
#include "vigil_test.hpp"

namespace golden = vigil_test::golden;
using vigil::stats::KsMethod;
using vigil::stats::ks_p_value;
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
    const double expected_p = golden::number(c[4]);
    if (std::isnan(expected_p)) continue;  // SciPy's asymptotic n = round(0.5) = 0 for 1 vs 1
    vigil::stats::KsOptions options;
    options.method = c[0] == "auto" ? KsMethod::automatic : c[0] == "exact" ? KsMethod::exact : KsMethod::asymptotic;
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
  CHECK(checked > 150);
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

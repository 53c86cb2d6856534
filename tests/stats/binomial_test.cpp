#include <vigil/stats/binomial.hpp>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>

#include "stats/golden_data.hpp"
#include "vigil_test.hpp"

namespace golden = vigil_test::golden;
using vigil::stats::Alternative;
using vigil::stats::binomial_test;

TEST_CASE("binomial: point masses at p = 0 and p = 1", "[stats][binomial]") {
  CHECK(binomial_test(0, 10, 0.0).p_value == 1);
  CHECK(binomial_test(1, 10, 0.0).p_value == 0);  // a success where none can happen
  CHECK(binomial_test(1, 10, 0.0, Alternative::less).p_value == 1);
  CHECK(binomial_test(10, 10, 1.0).p_value == 1);
  CHECK(binomial_test(9, 10, 1.0, Alternative::less).p_value == 0);
}

TEST_CASE("binomial: one trial, and closed forms", "[stats][binomial]") {
  CHECK(binomial_test(1, 1, 0.3).p_value == Approx(0.3).epsilon(1e-14));
  CHECK(binomial_test(0, 1, 0.3, Alternative::less).p_value == Approx(0.7).epsilon(1e-14));
  CHECK(binomial_test(1, 4, 0.25).statistic == 0.25);
  // Every trial a success: P(X ≥ n) = p^n; none: P(X ≤ 0) = (1 − p)^n.
  CHECK(binomial_test(12, 12, 0.2).p_value == Approx(std::pow(0.2, 12)).epsilon(1e-12));
  CHECK(binomial_test(0, 12, 0.2, Alternative::less).p_value == Approx(std::pow(0.8, 12)).epsilon(1e-12));
  // At least one of n: 1 − (1 − p)^n.
  CHECK(binomial_test(1, 30, 0.01).p_value == Approx(-std::expm1(30 * std::log1p(-0.01))).epsilon(1e-12));
}

TEST_CASE("binomial: many cases agree with scipy.stats.binomtest", "[stats][binomial]") {
  golden::ErrorLog errors;
  std::size_t cases = 0;
  for (const auto& c : golden::read("binomial.txt")) {
    const auto k = static_cast<std::uint64_t>(golden::number(c[1]));
    const auto n = static_cast<std::uint64_t>(golden::number(c[2]));
    const double p = golden::number(c[3]);
    const auto r = binomial_test(k, n, p, c[0] == "greater" ? Alternative::greater : Alternative::less);
    const double expected = golden::number(c[5]);
    INFO(c[0] << " " << k << " of " << n << " at p " << p << ": " << r.p_value << " vs " << expected);
    CHECK(r.statistic == golden::number(c[4]));
    CHECK(golden::p_value_agrees(r.p_value, expected));
    if (expected > 0 && expected < 1e-10) CHECK(std::fabs(r.p_value - expected) <= 1e-9 * expected);
    errors.add(r.p_value, expected);
    ++cases;
  }
  CHECK(cases >= 60);
  std::printf("binomial p max rel %.2e, max abs %.2e\n", errors.max_relative, errors.max_absolute);
}

TEST_CASE("binomial: the upper tail falls and the lower tail rises with the successes", "[stats][binomial]") {
  for (const std::uint64_t n : {7u, 60u, 2500u}) {
    double upper = 2, lower = -1;
    for (std::uint64_t k = 0; k <= n; ++k) {
      const double u = binomial_test(k, n, 0.13).p_value;
      const double l = binomial_test(k, n, 0.13, Alternative::less).p_value;
      CHECK(u <= upper);
      CHECK(l >= lower);
      // The two tails overlap at k: together they hold all the mass and the pmf at k once more.
      CHECK(u + l >= 1 - 1e-12);
      upper = u;
      lower = l;
    }
  }
}

TEST_CASE("binomial: bad arguments are refused, naming the value", "[stats][binomial]") {
  CHECK_THROWS_AS(binomial_test(0, 0, 0.5), vigil::invalid_argument);
  CHECK_THROWS_WITH(binomial_test(5, 4, 0.5), Catch::Contains("successes = 5"));
  CHECK_THROWS_WITH(binomial_test(1, 4, 1.5), Catch::Contains("p = 1.5"));
  CHECK_THROWS_AS(binomial_test(1, 4, std::nan("")), vigil::invalid_argument);
  CHECK_THROWS_AS(binomial_test(1, 4, -0.1), vigil::invalid_argument);
  CHECK_THROWS_WITH(binomial_test(1, 4, 0.5, Alternative::two_sided), Catch::Contains("two_sided"));
}

TEST_CASE("wilson: the score interval agrees with scipy's proportion_ci", "[stats][binomial]") {
  std::size_t cases = 0;
  for (const auto& c : golden::read("wilson.txt")) {
    const auto k = static_cast<std::uint64_t>(golden::number(c[0]));
    const auto n = static_cast<std::uint64_t>(golden::number(c[1]));
    const double confidence = golden::number(c[2]);
    const vigil::stats::ShareInterval i = vigil::stats::wilson_interval(k, n, confidence);
    INFO(k << " of " << n << " at " << confidence << ": [" << i.low << ", " << i.high << "]");
    CHECK(i.low == Approx(golden::number(c[3])).margin(1e-12).epsilon(1e-9));
    CHECK(i.high == Approx(golden::number(c[4])).margin(1e-12).epsilon(1e-9));
    CHECK(i.low <= static_cast<double>(k) / static_cast<double>(n));
    CHECK(i.high >= static_cast<double>(k) / static_cast<double>(n));
    ++cases;
  }
  CHECK(cases >= 60);
}

TEST_CASE("wilson: wider at a higher confidence, narrower with more trials, bad arguments refused",
          "[stats][binomial]") {
  const auto width = [](std::uint64_t k, std::uint64_t n, double c) {
    const vigil::stats::ShareInterval i = vigil::stats::wilson_interval(k, n, c);
    return i.high - i.low;
  };
  CHECK(width(30, 100, 0.99) > width(30, 100, 0.95));
  CHECK(width(300, 1000, 0.95) < width(30, 100, 0.95));
  CHECK(vigil::stats::wilson_interval(0, 50).low == 0);
  CHECK(vigil::stats::wilson_interval(50, 50).high == 1);
  CHECK(vigil::stats::wilson_interval(0, 50).high > 0);  // no collapse to a point at zero successes
  CHECK_THROWS_AS(vigil::stats::wilson_interval(0, 0), vigil::invalid_argument);
  CHECK_THROWS_WITH(vigil::stats::wilson_interval(6, 5), Catch::Contains("successes = 6"));
  CHECK_THROWS_WITH(vigil::stats::wilson_interval(1, 5, 1.0), Catch::Contains("confidence = 1"));
}

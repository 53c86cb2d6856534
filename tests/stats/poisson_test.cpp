#include <vigil/stats/poisson.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "stats/golden_data.hpp"
#include "vigil_test.hpp"

namespace golden = vigil_test::golden;
using vigil::stats::poisson_mean_from_mean_log1p;
using vigil::stats::poisson_two_sided_p_value;

TEST_CASE("poisson: a mean of 0 is the point mass at 0", "[stats][poisson]") {
  CHECK(poisson_two_sided_p_value(0, 0) == 1);
  CHECK(poisson_two_sided_p_value(1, 0) == 0);
  CHECK(poisson_two_sided_p_value(1e6, 0) == 0);
  CHECK(poisson_mean_from_mean_log1p(0) == 0);
}

TEST_CASE("poisson: one count and one mean with a closed form", "[stats][poisson]") {
  // P(X ≤ 0) = e^−μ, and P(X ≥ 0) = 1: the two-sided p-value doubles the lower tail.
  CHECK(poisson_two_sided_p_value(0, 5) == Approx(2 * std::exp(-5.0)).epsilon(1e-13));
  CHECK(poisson_two_sided_p_value(0, 0.1) == 1);  // 2·e^−0.1 > 1
  // P(X ≥ 1) = 1 − e^−μ for a small mean: one event where hardly any was expected.
  CHECK(poisson_two_sided_p_value(1, 1e-3) == Approx(-2 * std::expm1(-1e-3)).epsilon(1e-13));
  // P(X ≥ 10 | μ = 4) = 1 − Σ_{k<10} e^−4 4^k/k!, summed here.
  double below = 0;
  double term = std::exp(-4.0);
  for (int k = 0; k < 10; ++k) {
    below += term;
    term *= 4.0 / (k + 1);
  }
  CHECK(poisson_two_sided_p_value(10, 4) == Approx(2 * (1 - below)).epsilon(1e-12));
  // A tiny mean: E[log(X + 1)] = μ·log 2 + O(μ²), so the inverse of μ·log 2 is about μ.
  CHECK(poisson_mean_from_mean_log1p(1e-9 * std::log(2.0)) == Approx(1e-9).epsilon(1e-8));
}

TEST_CASE("poisson: many counts and means agree with SciPy and with exact sums", "[stats][poisson]") {
  golden::ErrorLog p_errors, mean_errors, large_mean_errors;
  std::size_t two_sided = 0, means = 0;
  for (const auto& c : golden::read("poisson.txt")) {
    if (c[0] == "two_sided") {
      const double p = poisson_two_sided_p_value(golden::number(c[1]), golden::number(c[2]));
      const double expected = golden::number(c[3]);
      INFO("count " << c[1] << ", mean " << c[2] << ": p " << p << " vs " << expected);
      CHECK(golden::p_value_agrees(p, expected));
      if (expected > 0 && expected < 1e-10) CHECK(std::fabs(p - expected) <= 1e-8 * expected);
      p_errors.add(p, expected);
      ++two_sided;
    } else {
      // The golden line holds μ and E[log(X + 1)] at μ: the inverse must give μ back.
      const double mu = golden::number(c[1]);
      const double mean = poisson_mean_from_mean_log1p(golden::number(c[2]));
      INFO("mean " << mu << ": " << mean);
      // Newton's method to ~1e-14; above 10⁴ the closed form, short by 2/(3μ²) relative.
      const bool newton = std::expm1(golden::number(c[2])) <= 1e4;
      CHECK(std::fabs(mean - mu) <= (newton ? 1e-13 : 0.7 / (mu * mu) + 1e-14) * mu);
      (newton ? mean_errors : large_mean_errors).add(mean, mu);
      ++means;
    }
  }
  CHECK(two_sided >= 20);
  CHECK(means >= 15);
  std::printf("poisson two-sided p max rel %.2e, max abs %.2e; mean (Newton) max rel %.2e, (closed form) %.2e\n",
              p_errors.max_relative, p_errors.max_absolute, mean_errors.max_relative, large_mean_errors.max_relative);
}

TEST_CASE("poisson: the p-value rises to 1 near the mean and falls away on either side", "[stats][poisson]") {
  for (const double mean : {0.7, 6.0, 250.0, 1e5}) {
    const double spread = 10 * std::sqrt(mean) + 10;
    std::vector<double> p;
    for (double k = std::max(0.0, std::floor(mean - spread)); k < mean + spread; ++k) {
      p.push_back(poisson_two_sided_p_value(k, mean));
    }
    const auto peak = std::max_element(p.begin(), p.end());
    INFO("mean " << mean);
    CHECK(*peak == 1);
    CHECK(std::is_sorted(p.begin(), peak + 1));
    CHECK(std::is_sorted(peak, p.end(), std::greater<double>()));
    CHECK(p.back() < 1e-12);
  }
}

TEST_CASE("poisson: bad input throws naming the value", "[stats][poisson]") {
  const double inf = std::numeric_limits<double>::infinity();
  CHECK_THROWS_WITH(poisson_two_sided_p_value(-1, 3), Catch::Matchers::Contains("count = -1"));
  CHECK_THROWS_WITH(poisson_two_sided_p_value(2.5, 3), Catch::Matchers::Contains("count = 2.5 is not a whole number"));
  CHECK_THROWS_WITH(poisson_two_sided_p_value(std::nan(""), 3), Catch::Matchers::Contains("count = nan"));
  CHECK_THROWS_AS(poisson_two_sided_p_value(inf, 3), vigil::invalid_argument);
  CHECK_THROWS_WITH(poisson_two_sided_p_value(2, -0.5), Catch::Matchers::Contains("mean = -0.5"));
  CHECK_THROWS_WITH(poisson_two_sided_p_value(2, inf), Catch::Matchers::Contains("mean = inf"));
  CHECK_THROWS_WITH(poisson_mean_from_mean_log1p(-0.25), Catch::Matchers::Contains("mean_log1p = -0.25"));
  CHECK_THROWS_WITH(poisson_mean_from_mean_log1p(std::nan("")), Catch::Matchers::Contains("mean_log1p = nan"));
  CHECK_THROWS_AS(poisson_mean_from_mean_log1p(inf), vigil::invalid_argument);
  // Not bad, but beyond double: a mean above DBL_MAX overflows to +inf.
  CHECK(poisson_mean_from_mean_log1p(710) == inf);
}

#include <vigil/stats/special_functions.hpp>

#include <cmath>
#include <cstdio>
#include <limits>
#include <map>
#include <string>

#include "stats/golden_data.hpp"
#include "vigil_test.hpp"

namespace golden = vigil_test::golden;
using namespace vigil::stats;

TEST_CASE("special functions: boundary arguments", "[stats][special_functions]") {
  CHECK(gamma_p(2.5, 0) == 0);
  CHECK(gamma_q(2.5, 0) == 1);
  CHECK(gamma_q(2.5, std::numeric_limits<double>::infinity()) == 0);
  CHECK(log_gamma_q(3, 0) == 0);
  CHECK(chi_square_sf(0, 4) == 1);
  CHECK(chi_square_sf(-1, 4) == 1);
  CHECK(chi_square_cdf(0, 4) == 0);
  CHECK(normal_quantile(0) == -std::numeric_limits<double>::infinity());
  CHECK(normal_quantile(1) == std::numeric_limits<double>::infinity());
  CHECK(normal_quantile(0.5) == 0);
  CHECK(kolmogorov_limit_sf(0) == 1);
  CHECK(kolmogorov_sf(10, 0) == 1);
  CHECK(kolmogorov_sf(10, 1) == 0);
  CHECK(smirnov_sf(10, 1) == 0);
}

TEST_CASE("special functions: one value with a closed form", "[stats][special_functions]") {
  CHECK(log_gamma(5) == Approx(std::log(24.0)).epsilon(1e-15));
  CHECK(log_gamma(0.5) == Approx(0.5 * std::log(3.14159265358979323846)).epsilon(1e-15));
  // Q(1, x) = e^-x; χ²(2) survival is e^(-x/2); Q(½, x) = erfc(√x).
  CHECK(gamma_q(1, 3) == Approx(std::exp(-3.0)).epsilon(1e-14));
  CHECK(chi_square_sf(10, 2) == Approx(std::exp(-5.0)).epsilon(1e-14));
  CHECK(gamma_q(0.5, 2) == Approx(std::erfc(std::sqrt(2.0))).epsilon(1e-14));
  // Far tails that underflow in linear space stay finite in log space.
  CHECK(log_gamma_q(1, 1e6) == Approx(-1e6).epsilon(1e-14));
  CHECK(log_chi_square_sf(2e6, 2) == Approx(-1e6).epsilon(1e-14));
  CHECK(gamma_q(1, 690) == Approx(std::exp(-690.0)).epsilon(1e-13));
  // Φ⁻¹ inverts Φ deep in the tail, to the conditioning of Φ there (x²·ε ≈ 1.5e-13).
  for (double p : {1e-300, 1e-250, 1e-20}) {
    CHECK(normal_cdf(normal_quantile(p)) == Approx(p).epsilon(1e-12));
  }
  // D_n's survival: 1 − 2(1 − x)^n region and the one-sided formula at n = 1.
  CHECK(smirnov_sf(1, 0.25) == Approx(0.75).epsilon(1e-15));
  CHECK(kolmogorov_sf(1, 0.75) == Approx(0.5).epsilon(1e-15));
}

TEST_CASE("special functions: many values agree with SciPy", "[stats][special_functions]") {
  std::map<std::string, golden::ErrorLog> errors;
  std::size_t checked = 0;
  for (const auto& c : golden::read("special_functions.txt")) {
    const std::string& f = c[0];
    double actual = 0;
    double expected = golden::number(c.back());
    if (f == "gammainc") {
      actual = gamma_p(golden::number(c[1]), golden::number(c[2]));
    } else if (f == "gammaincc") {
      actual = gamma_q(golden::number(c[1]), golden::number(c[2]));
    } else if (f == "chi2_sf") {
      actual = chi_square_sf(golden::number(c[1]), golden::number(c[2]));
    } else if (f == "chi2_logsf") {
      actual = log_chi_square_sf(golden::number(c[1]), golden::number(c[2]));
    } else if (f == "ndtr") {
      actual = normal_cdf(golden::number(c[1]));
    } else if (f == "ndtri") {
      actual = normal_quantile(golden::number(c[1]));
    } else if (f == "kolmogorov") {
      actual = kolmogorov_limit_sf(golden::number(c[1]));
    } else if (f == "kstwo_sf") {
      actual = kolmogorov_sf(std::stoll(c[1]), golden::number(c[2]));
    } else if (f == "smirnov") {
      actual = smirnov_sf(std::stoll(c[1]), golden::number(c[2]));
    } else {
      FAIL("unknown function " << f);
    }
    INFO(f << " " << c[1] << " " << (c.size() > 3 ? c[2] : "") << ": " << actual << " vs " << expected);
    errors[f].add(actual, expected);
    // Quantiles and logarithms are statistics; the others are probabilities.
    if (f == "ndtri" || f == "chi2_logsf") {
      CHECK(golden::statistic_agrees(actual, expected));
    } else {
      CHECK(golden::p_value_agrees(actual, expected));
      // Far tails: relative accuracy, not just an absolute bound.
      if (expected > 0 && expected < 1e-10) CHECK(std::fabs(actual - expected) <= 1e-8 * expected);
    }
    ++checked;
  }
  CHECK(checked > 500);
  for (const auto& [name, log] : errors) {
    std::printf("special_functions %-11s max rel %.2e  max abs %.2e\n", name.c_str(), log.max_relative, log.max_absolute);
  }
}

TEST_CASE("special functions: bad input throws naming the value", "[stats][special_functions]") {
  CHECK_THROWS_AS(log_gamma(0), vigil::invalid_argument);
  CHECK_THROWS_AS(gamma_p(0, 1), vigil::invalid_argument);
  CHECK_THROWS_AS(gamma_q(-1, 1), vigil::invalid_argument);
  CHECK_THROWS_AS(gamma_q(1, -1), vigil::invalid_argument);
  CHECK_THROWS_AS(gamma_q(std::nan(""), 1), vigil::invalid_argument);
  CHECK_THROWS_AS(chi_square_sf(1, 0), vigil::invalid_argument);
  CHECK_THROWS_AS(chi_square_sf(std::nan(""), 3), vigil::invalid_argument);
  CHECK_THROWS_AS(normal_cdf(std::nan("")), vigil::invalid_argument);
  CHECK_THROWS_AS(normal_quantile(1.5), vigil::invalid_argument);
  CHECK_THROWS_AS(kolmogorov_sf(0, 0.5), vigil::invalid_argument);
  CHECK_THROWS_WITH(normal_quantile(-0.25), Catch::Matchers::Contains("p = -0.25"));
  CHECK_THROWS_WITH(chi_square_sf(3, -2), Catch::Matchers::Contains("k = -2"));
}

#include <vigil/stats/goodness_of_fit.hpp>

#include <array>
#include <cmath>
#include <cstdio>
#include <limits>
#include <vector>

#include "stats/golden_data.hpp"
#include "vigil_test.hpp"

namespace golden = vigil_test::golden;
using namespace vigil::stats;

TEST_CASE("goodness_of_fit: empty input throws", "[stats][goodness_of_fit]") {
  const std::vector<double> empty;
  CHECK_THROWS_AS(g_test(empty, empty), vigil::invalid_argument);
  CHECK_THROWS_AS(chi_square_test(empty, empty), vigil::invalid_argument);
  CHECK_THROWS_AS(g_test_independence(empty, empty), vigil::invalid_argument);
}

TEST_CASE("goodness_of_fit: a single bin has no degrees of freedom", "[stats][goodness_of_fit]") {
  const auto g = g_test({5.0}, {5.0});
  CHECK(g.statistic == 0);
  CHECK(g.p_value == 1);
  CHECK(g.degrees_of_freedom == 0);
  const auto independence = chi_square_independence({4.0}, {9.0});
  CHECK(independence.statistic == 0);
  CHECK(independence.p_value == 1);
}

TEST_CASE("goodness_of_fit: many bins agree with SciPy", "[stats][goodness_of_fit]") {
  golden::ErrorLog statistic_errors, p_errors;
  std::size_t checked = 0;
  for (const auto& c : golden::read("goodness_of_fit.txt")) {
    const auto x = golden::values(c[2]);
    const auto y = golden::values(c[3]);
    GoodnessOfFitOptions options;
    options.ddof = std::stoi(c[1]);
    TestResult r{};
    if (c[0] == "g") {
      r = g_test(x, y, options);
    } else if (c[0] == "chi2") {
      r = chi_square_test(x, y, options);
    } else if (c[0] == "g_ind") {
      r = g_test_independence(x, y);
    } else if (c[0] == "g_prop") {
      r = g_test_proportions(x[0], x[1], y[0], y[1]);
    } else {
      r = chi_square_independence(x, y);
    }
    const double expected_statistic = golden::number(c[4]);
    const double expected_p = golden::number(c[5]);
    INFO(c[0] << " with " << x.size() << " bins: " << r.statistic << " vs " << expected_statistic << ", p "
              << r.p_value << " vs " << expected_p);
    CHECK(golden::statistic_agrees(r.statistic, expected_statistic));
    CHECK(golden::p_value_agrees(r.p_value, expected_p));
    if (expected_p > 0 && expected_p < 1e-10) CHECK(std::fabs(r.p_value - expected_p) <= 1e-8 * expected_p);
    CHECK(r.degrees_of_freedom == golden::number(c[6]));
    statistic_errors.add(r.statistic, expected_statistic);
    p_errors.add(r.p_value, expected_p);
    ++checked;
  }
  CHECK(checked >= 50);
  std::printf("goodness_of_fit statistic max rel %.2e; p max rel %.2e, max abs %.2e\n", statistic_errors.max_relative,
              p_errors.max_relative, p_errors.max_absolute);
}

TEST_CASE("goodness_of_fit: empty bins and zero expected counts", "[stats][goodness_of_fit]") {
  // A bin empty on both sides is dropped: same result as without it, one dof less.
  const auto with_empty = g_test({10.0, 0.0, 20.0, 30.0}, {15.0, 0.0, 15.0, 30.0});
  const auto without = g_test({10.0, 20.0, 30.0}, {15.0, 15.0, 30.0});
  CHECK(with_empty.statistic == without.statistic);
  CHECK(with_empty.p_value == without.p_value);
  CHECK(with_empty.degrees_of_freedom == 2);
  // Observed where nothing was expected: infinitely surprising, as in SciPy.
  const auto impossible = chi_square_test({1.0, 9.0}, {0.0, 10.0});
  CHECK(std::isinf(impossible.statistic));
  CHECK(impossible.p_value == 0);
  // Independence: an all-zero column is dropped and removes one degree of freedom.
  const auto a = g_test_independence({10.0, 0.0, 20.0}, {30.0, 0.0, 25.0});
  const auto b = g_test_independence({10.0, 20.0}, {30.0, 25.0});
  CHECK(a.statistic == b.statistic);
  CHECK(a.degrees_of_freedom == 1);
  // Proportions as expected values need rescale_expected.
  GoodnessOfFitOptions rescale;
  rescale.rescale_expected = true;
  const auto from_proportions = g_test({10.0, 20.0, 30.0}, {0.25, 0.25, 0.5}, rescale);
  const auto from_counts = g_test({10.0, 20.0, 30.0}, {15.0, 15.0, 30.0});
  CHECK(from_proportions.statistic == Approx(from_counts.statistic).epsilon(1e-14));
}

TEST_CASE("goodness_of_fit: bad input throws naming the value", "[stats][goodness_of_fit]") {
  CHECK_THROWS_WITH(g_test({1.0, -2.0}, {1.0, 1.0}), Catch::Matchers::Contains("observed[1] = -2"));
  CHECK_THROWS_WITH(chi_square_test({1.0, 2.0}, {1.0, std::nan("")}), Catch::Matchers::Contains("expected[1] = nan"));
  CHECK_THROWS_WITH(g_test({1.0, 2.0}, {1.0, 2.0, 3.0}), Catch::Matchers::Contains("has 2 values"));
  CHECK_THROWS_WITH(g_test({1.0, 2.0}, {1.0, 5.0}), Catch::Matchers::Contains("rescale_expected"));
  CHECK_THROWS_AS(g_test({0.0, 0.0}, {0.0, 0.0}), vigil::invalid_argument);
  CHECK_THROWS_WITH(g_test_independence({0.0, 0.0}, {1.0, 2.0}), Catch::Matchers::Contains("counts_a sum to 0"));
  CHECK_THROWS_AS(chi_square_independence({1.0}, {1.0, 2.0}), vigil::invalid_argument);
}

// ---------------------------------------------------------------------------------------
// g_test_proportions

TEST_CASE("g_test_proportions: no trials throw", "[stats][goodness_of_fit]") {
  CHECK_THROWS_WITH(g_test_proportions(0, 0, 1, 10), Catch::Matchers::Contains("total_a = 0: no trials"));
  CHECK_THROWS_WITH(g_test_proportions(1, 10, 0, 0), Catch::Matchers::Contains("total_b = 0: no trials"));
}

TEST_CASE("g_test_proportions: one trial each, and tables with an empty column", "[stats][goodness_of_fit]") {
  // One trial a side, a hit against a miss: G = 4 ln 2 by hand (every cell 1, expected ½).
  const auto one_each = g_test_proportions(1, 1, 0, 1);
  CHECK(one_each.statistic == Approx(4 * std::log(2.0)).epsilon(1e-15));
  CHECK(one_each.p_value == Approx(chi_square_sf(4 * std::log(2.0), 1)).epsilon(1e-15));
  CHECK(one_each.degrees_of_freedom == 1);
  // No hits anywhere, or nothing but hits: nothing to compare.
  for (const auto& r : {g_test_proportions(0, 10, 0, 20), g_test_proportions(10, 10, 20, 20)}) {
    CHECK(r.statistic == 0);
    CHECK(r.p_value == 1);
    CHECK(r.degrees_of_freedom == 0);
  }
}

TEST_CASE("g_test_proportions: many tables equal g_test_independence on the 2 x 2 table", "[stats][goodness_of_fit]") {
  // SciPy's values are checked in "many bins agree with SciPy"; here the identity itself.
  for (const auto& [hits_a, total_a, hits_b, total_b] : std::vector<std::array<double, 4>>{
           {3, 17, 9, 23}, {0, 5, 5, 5}, {40, 1000, 10, 4000}, {0.5, 2.25, 1.75, 3.0}, {1e6, 3e9, 2e5, 1e9}}) {
    const auto r = g_test_proportions(hits_a, total_a, hits_b, total_b);
    const auto table = g_test_independence({hits_a, total_a - hits_a}, {hits_b, total_b - hits_b});
    CHECK(r.statistic == table.statistic);
    CHECK(r.p_value == table.p_value);
    CHECK(r.degrees_of_freedom == 1);
    // Swapping the sides, or hits and misses, tests the same table.
    CHECK(g_test_proportions(hits_b, total_b, hits_a, total_a).statistic == Approx(r.statistic).epsilon(1e-13));
    CHECK(g_test_proportions(total_a - hits_a, total_a, total_b - hits_b, total_b).statistic ==
          Approx(r.statistic).epsilon(1e-13));
  }
}

TEST_CASE("g_test_proportions: bad input throws naming the value", "[stats][goodness_of_fit]") {
  CHECK_THROWS_WITH(g_test_proportions(-1, 10, 1, 10), Catch::Matchers::Contains("hits_a = -1"));
  CHECK_THROWS_WITH(g_test_proportions(1, std::nan(""), 1, 10), Catch::Matchers::Contains("total_a = nan"));
  CHECK_THROWS_WITH(g_test_proportions(1, 10, 1, std::numeric_limits<double>::infinity()),
                    Catch::Matchers::Contains("total_b = inf"));
  CHECK_THROWS_WITH(g_test_proportions(1, 10, 12, 10), Catch::Matchers::Contains("hits_b = 12 of total_b = 10"));
}

#include <vigil/stats/distances.hpp>

#include <cmath>
#include <cstdio>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "stats/golden_data.hpp"
#include "vigil_test.hpp"

namespace golden = vigil_test::golden;
using namespace vigil::stats;

TEST_CASE("distances: empty inputs throw", "[stats][distances]") {
  const std::vector<double> empty, one{1.0};
  CHECK_THROWS_AS(psi(empty, empty), vigil::invalid_argument);
  CHECK_THROWS_AS(wasserstein_distance(empty, one), vigil::invalid_argument);
  CHECK_THROWS_AS(jensen_shannon_distance(empty, empty), vigil::invalid_argument);
  CHECK_THROWS_AS(psi_on_quantile_bins(one, empty), vigil::invalid_argument);
  CHECK_THROWS_AS(hellinger_distance(empty, empty), vigil::invalid_argument);
}

TEST_CASE("distances: one value or one bin", "[stats][distances]") {
  CHECK(psi({7.0}, {3.0}) == 0);
  CHECK(jensen_shannon_distance({7.0}, {3.0}) == 0);
  CHECK(total_variation_distance({7.0}, {3.0}) == 0);
  CHECK(wasserstein_distance({1.0}, {3.5}) == 2.5);
  CHECK(normalized_wasserstein_distance({2.0, 2.0}, {2.0}) == 0);
  CHECK(std::isinf(normalized_wasserstein_distance({2.0, 2.0}, {3.0})));
  // All-equal reference samples make one edge at their value: "at most" and "above".
  CHECK(psi_on_quantile_bins({4.0, 4.0, 4.0}, {1.0, 4.0}) == 0);
  CHECK(psi_on_quantile_bins({4.0, 4.0, 4.0}, {1.0, 9.0}) > 1);
}

TEST_CASE("distances: many values agree with SciPy", "[stats][distances]") {
  std::map<std::string, golden::ErrorLog> errors;
  std::size_t checked = 0;
  for (const auto& c : golden::read("distances.txt")) {
    const std::string& f = c[0];
    const auto a = golden::values(c[1]);
    const auto b = golden::values(c[2]);
    double actual = 0;
    if (f == "psi") {
      actual = psi(a, b);
    } else if (f == "jensenshannon") {
      actual = jensen_shannon_distance(a, b);
    } else if (f == "jensenshannon2") {
      actual = jensen_shannon_distance(a, b, 2.0);
    } else if (f == "hellinger") {
      actual = hellinger_distance(a, b);
    } else if (f == "total_variation") {
      actual = total_variation_distance(a, b);
    } else if (f == "l_infinity") {
      actual = l_infinity_distance(a, b);
    } else if (f == "psi_quantile") {
      actual = psi_on_quantile_bins(a, b, std::stoul(c[3]));
    } else if (f == "wasserstein") {
      actual = wasserstein_distance(a, b);
    } else if (f == "wasserstein_weighted") {
      actual = wasserstein_distance(a, b, golden::values(c[3]), golden::values(c[4]));
    } else {
      FAIL("unknown function " << f);
    }
    const double expected = golden::number(c.back());
    INFO(f << " sizes " << a.size() << ", " << b.size() << ": " << actual << " vs " << expected);
    CHECK(golden::statistic_agrees(actual, expected));
    errors[f].add(actual, expected);
    ++checked;
  }
  CHECK(checked >= 50);
  for (const auto& [name, log] : errors) {
    std::printf("distances %-20s max rel %.2e\n", name.c_str(), log.max_relative);
  }
}

TEST_CASE("distances: known values and empty bins", "[stats][distances]") {
  // Disjoint supports: the metrics reach their maxima.
  CHECK(jensen_shannon_distance({1.0, 0.0}, {0.0, 1.0}, 2.0) == Approx(1.0).epsilon(1e-15));
  CHECK(hellinger_distance({1.0, 0.0}, {0.0, 1.0}) == 1.0);
  CHECK(total_variation_distance({1.0, 0.0}, {0.0, 1.0}) == 1.0);
  CHECK(l_infinity_distance({3.0, 1.0}, {1.0, 1.0}) == Approx(0.25));
  // PSI: a bin empty on one side is worth about p·ln(p/ε); both sides empty, nothing.
  const double eps = 1e-4;
  const double expected = (0.5 + eps - eps) * std::log((0.5 + eps) / eps) + (eps - (0.5 + eps)) * std::log(eps / (0.5 + eps));
  CHECK(psi({1.0, 1.0, 0.0}, {2.0, 0.0, 2.0}) == Approx(expected).epsilon(1e-14));
  CHECK(psi({1.0, 2.0, 0.0}, {2.0, 4.0, 0.0}) == 0);
  PsiOptions larger;
  larger.epsilon = 1e-2;
  CHECK(psi({1.0, 1.0, 0.0}, {2.0, 0.0, 2.0}, larger) < psi({1.0, 1.0, 0.0}, {2.0, 0.0, 2.0}));
  // Right-closed quantile bins keep a repeated value in one bin.
  const auto edges = quantile_bin_edges({0.0, 0.0, 0.0, 0.0, 1.0, 2.0, 3.0, 4.0}, 4);
  CHECK(edges == std::vector<double>{0.0, 0.5, 2.25});
  CHECK(bin_counts({0.0, 0.5, 1.5, 9.0, -1.0}, edges) == std::vector<double>{2.0, 1.0, 1.0, 1.0});
  // A pure location shift of 0.3σ reads 0.3 on the normalised scale.
  std::vector<double> reference, shifted;
  for (int i = 0; i < 1000; ++i) reference.push_back((i % 2 == 0) ? -1.0 : 1.0);
  for (double x : reference) shifted.push_back(x + 0.3);
  CHECK(normalized_wasserstein_distance(reference, shifted) == Approx(0.3).epsilon(1e-12));
}

TEST_CASE("distances: bad input throws naming the value", "[stats][distances]") {
  CHECK_THROWS_WITH(psi({1.0, -1.0}, {1.0, 1.0}), Catch::Matchers::Contains("reference_counts[1] = -1"));
  CHECK_THROWS_WITH(psi({1.0, 1.0}, {1.0}), Catch::Matchers::Contains("has 2 values"));
  CHECK_THROWS_AS(psi({0.0, 0.0}, {1.0, 1.0}), vigil::invalid_argument);
  PsiOptions zero;
  zero.epsilon = 0;
  CHECK_THROWS_AS(psi({1.0}, {1.0}, zero), vigil::invalid_argument);
  CHECK_THROWS_WITH(wasserstein_distance({1.0, std::nan("")}, {1.0}), Catch::Matchers::Contains("a[1] = nan"));
  CHECK_THROWS_AS(wasserstein_distance({1.0}, {1.0}, {-1.0}, {1.0}), vigil::invalid_argument);
  CHECK_THROWS_AS(wasserstein_distance({1.0}, {1.0}, {0.0}, {1.0}), vigil::invalid_argument);
  CHECK_THROWS_AS(jensen_shannon_distance({1.0, 2.0}, {1.0, 2.0}, 1.0), vigil::invalid_argument);
  CHECK_THROWS_AS(jensen_shannon_distance({0.0, 0.0}, {1.0, 2.0}), vigil::invalid_argument);
  CHECK_THROWS_AS(quantile_bin_edges({1.0}, 0), vigil::invalid_argument);
  CHECK_THROWS_AS(bin_counts({1.0}, {2.0, 1.0}), vigil::invalid_argument);
}

#include <vigil/stats/distances.hpp>

#include <cmath>
#include <cstdio>
#include <limits>
#include <map>
#include <random>
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
    } else if (f == "psi_epsilon") {
      PsiOptions options;
      options.epsilon = golden::number(c[3]);
      actual = psi(a, b, options);
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
    } else if (f == "wasserstein_binned") {
      actual = wasserstein_distance_binned(a, b, golden::values(c[3]), golden::number(c[4]), golden::number(c[5]));
    } else {
      FAIL("unknown function " << f);
    }
    const double expected = golden::number(c.back());
    INFO(f << " sizes " << a.size() << ", " << b.size() << ": " << actual << " vs " << expected);
    CHECK(golden::statistic_agrees(actual, expected));
    errors[f].add(actual, expected);
    ++checked;
  }
  CHECK(checked >= 60);
  CHECK(errors.count("wasserstein_binned") == 1);
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
  // PSI: ε stands in only for an empty bin's proportion, so a bin empty on one side is worth
  // (p − ε)·ln(p/ε), an occupied bin its textbook term, and a bin empty on both sides nothing.
  const double eps = 1e-4;
  const double expected = 2 * (0.5 - eps) * std::log(0.5 / eps);
  CHECK(psi({1.0, 1.0, 0.0}, {2.0, 0.0, 2.0}) == Approx(expected).epsilon(1e-14));
  CHECK(psi({1.0, 2.0, 0.0}, {2.0, 4.0, 0.0}) == 0);
  // No ε is added to occupied bins: two occupied bins give exactly the textbook value.
  CHECK(psi({1.0, 3.0}, {3.0, 1.0}) == Approx(2 * 0.5 * std::log(3.0)).epsilon(1e-15));
  PsiOptions larger;
  larger.epsilon = 1e-2;
  CHECK(psi({1.0, 1.0, 0.0}, {2.0, 0.0, 2.0}, larger) < psi({1.0, 1.0, 0.0}, {2.0, 0.0, 2.0}));
  CHECK(psi({1.0, 3.0}, {3.0, 1.0}, larger) == psi({1.0, 3.0}, {3.0, 1.0}));
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

// ---------------------------------------------------------------------------------------
// wasserstein_distance_binned

TEST_CASE("wasserstein_distance_binned: empty rows throw", "[stats][distances]") {
  const std::vector<double> empty;
  CHECK_THROWS_WITH(wasserstein_distance_binned(empty, empty, empty, 0, 1),
                    Catch::Matchers::Contains("counts_a has 0 values but edges + 1 has 1"));
}

TEST_CASE("wasserstein_distance_binned: one bin, and one edge", "[stats][distances]") {
  // A single bin: the same uniform distribution on both sides.
  CHECK(wasserstein_distance_binned({3.0}, {0.5}, {}, -1, 1) == 0);
  // Uniform on [-1, 0] against uniform on [0, 1]: a shift by 1.
  CHECK(wasserstein_distance_binned({1.0, 0.0}, {0.0, 1.0}, {0.0}, -1, 1) == 1);
  // Uniform on [-1, 1] against uniform on [0, 2]: a shift by 1, crossing inside a bin.
  CHECK(wasserstein_distance_binned({1.0, 1.0, 0.0}, {0.0, 1.0, 1.0}, {0.0, 1.0}, -1, 2) == Approx(1).epsilon(1e-15));
  // Bounds inside the edges give the end bins no width: point masses at the outer edges.
  CHECK(wasserstein_distance_binned({1.0, 0.0, 0.0}, {0.0, 0.0, 1.0}, {2.0, 5.0}, 4, 3) == 3);
}

TEST_CASE("wasserstein_distance_binned: within half a bin per unit of mass of the raw samples' distance",
          "[stats][distances]") {
  std::mt19937_64 rng(23);
  for (int round = 0; round < 20; ++round) {
    std::uniform_real_distribution<double> unit(0, 1);
    std::vector<double> a(400 + 50 * round), b(900 - 20 * round);
    for (double& x : a) x = 10 * unit(rng) * unit(rng);
    for (double& x : b) x = 0.3 * round + 10 * unit(rng) * unit(rng);
    std::vector<double> edges;
    for (int i = 1; i < 5 + round; ++i) edges.push_back(16.0 * i / (5 + round));
    const double lowest = std::min(*std::min_element(a.begin(), a.end()), *std::min_element(b.begin(), b.end()));
    const double highest = std::max(*std::max_element(a.begin(), a.end()), *std::max_element(b.begin(), b.end()));
    const auto counts_a = bin_counts(a, edges);
    const auto counts_b = bin_counts(b, edges);
    double bound = 0;
    for (std::size_t i = 0; i < counts_a.size(); ++i) {
      const double left = i == 0 ? std::min(lowest, edges.front()) : edges[i - 1];
      const double right = i < edges.size() ? edges[i] : std::max(highest, edges.back());
      const double share = counts_a[i] / static_cast<double>(a.size()) + counts_b[i] / static_cast<double>(b.size());
      bound += share * (right - left) / 2;
    }
    const double binned = wasserstein_distance_binned(counts_a, counts_b, edges, lowest, highest);
    const double raw = wasserstein_distance(a, b);
    INFO("round " << round << ": binned " << binned << ", raw " << raw << ", bound " << bound);
    CHECK(std::fabs(binned - raw) <= bound);
  }
}

TEST_CASE("wasserstein_distance_binned: bad input throws naming the value", "[stats][distances]") {
  const std::vector<double> two{1.0, 1.0};
  CHECK_THROWS_WITH(wasserstein_distance_binned(two, two, {std::nan("")}, 0, 1), Catch::Matchers::Contains("edges[0] = nan"));
  CHECK_THROWS_WITH(wasserstein_distance_binned({1.0, 1.0, 1.0}, {1.0, 1.0, 1.0}, {2.0, 2.0}, 0, 3),
                    Catch::Matchers::Contains("edges[1] = 2 is not above the previous edge"));
  CHECK_THROWS_WITH(wasserstein_distance_binned(two, {1.0}, {0.5}, 0, 1),
                    Catch::Matchers::Contains("counts_b has 1 values but edges + 1 has 2"));
  CHECK_THROWS_WITH(wasserstein_distance_binned({1.0, -3.0}, two, {0.5}, 0, 1), Catch::Matchers::Contains("counts_a[1] = -3"));
  CHECK_THROWS_WITH(wasserstein_distance_binned(two, {0.0, 0.0}, {0.5}, 0, 1), Catch::Matchers::Contains("counts_b sum to 0"));
  CHECK_THROWS_WITH(wasserstein_distance_binned(two, two, {0.5}, -std::numeric_limits<double>::infinity(), 1),
                    Catch::Matchers::Contains("lowest = -inf"));
  CHECK_THROWS_WITH(wasserstein_distance_binned(two, two, {0.5}, 0, std::nan("")), Catch::Matchers::Contains("highest = nan"));
}

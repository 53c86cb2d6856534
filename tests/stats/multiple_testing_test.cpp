#include <vigil/stats/multiple_testing.hpp>

#include <cmath>
#include <cstdio>
#include <vector>

#include "stats/golden_data.hpp"
#include "vigil_test.hpp"

namespace golden = vigil_test::golden;
using namespace vigil::stats;

TEST_CASE("multiple_testing: empty input gives empty output", "[stats][multiple_testing]") {
  CHECK(bonferroni({}).empty());
  CHECK(holm({}).empty());
  CHECK(benjamini_hochberg({}).empty());
}

TEST_CASE("multiple_testing: one p-value is unchanged", "[stats][multiple_testing]") {
  for (auto c : {Correction::bonferroni, Correction::holm, Correction::benjamini_hochberg}) {
    CHECK(adjust_p_values({0.03}, c) == std::vector<double>{0.03});
  }
}

TEST_CASE("multiple_testing: many p-values agree with statsmodels", "[stats][multiple_testing]") {
  golden::ErrorLog errors;
  std::size_t checked = 0;
  for (const auto& c : golden::read("multiple_testing.txt")) {
    const auto p = golden::values(c[1]);
    const auto expected = golden::values(c[2]);
    const Correction correction = c[0] == "bonferroni" ? Correction::bonferroni
                                  : c[0] == "holm"     ? Correction::holm
                                                       : Correction::benjamini_hochberg;
    const auto adjusted = adjust_p_values(p, correction);
    REQUIRE(adjusted.size() == expected.size());
    for (std::size_t i = 0; i < p.size(); ++i) {
      INFO(c[0] << " m = " << p.size() << " i = " << i);
      CHECK(golden::p_value_agrees(adjusted[i], expected[i]));
      errors.add(adjusted[i], expected[i]);
    }
    ++checked;
  }
  CHECK(checked == 18);
  std::printf("multiple_testing max rel %.2e, max abs %.2e\n", errors.max_relative, errors.max_absolute);
}

TEST_CASE("multiple_testing: orderings hold on a small family", "[stats][multiple_testing]") {
  const std::vector<double> p{0.01, 0.04, 0.03, 0.005};
  const auto b = bonferroni(p), h = holm(p), bh = benjamini_hochberg(p);
  CHECK(b == std::vector<double>{0.04, 0.16, 0.12, 0.02});
  CHECK(h == std::vector<double>{0.03, 0.06, 0.06, 0.02});
  CHECK(bh[0] == Approx(0.02));
  CHECK(bh[1] == Approx(0.04));
  for (std::size_t i = 0; i < p.size(); ++i) {
    CHECK(bh[i] <= h[i]);
    CHECK(h[i] <= b[i]);
  }
}

TEST_CASE("multiple_testing: bad input throws naming the value", "[stats][multiple_testing]") {
  CHECK_THROWS_WITH(holm({0.1, 1.5}), Catch::Matchers::Contains("p_values[1] = 1.5"));
  CHECK_THROWS_AS(bonferroni({std::nan("")}), vigil::invalid_argument);
  CHECK_THROWS_AS(benjamini_hochberg({-0.01}), vigil::invalid_argument);
}

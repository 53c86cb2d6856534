#include <vigil/monitor/detail/corrections.hpp>

#include <cmath>
#include <limits>
#include <vector>

#include "vigil_test.hpp"

using vigil::detail::Corrections;

TEST_CASE("Corrections: nothing added, nothing adjusted", "[corrections]") {
  Corrections c;
  c.adjust();
  CHECK(Corrections::adjust_finite({}).empty());
}

TEST_CASE("Corrections: each group is adjusted on its own, NaN stays NaN", "[corrections]") {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  Corrections c;
  const Corrections::Group shift{vigil::Family::features, 0};
  const Corrections::Group drift{vigil::Family::features, 1};
  const Corrections::Group latency{vigil::Family::latency, 0};
  const std::vector<double> shifts = {0.01, 0.04, nan, 0.03, 0.5};
  std::vector<Corrections::Ticket> tickets;
  for (double p : shifts) tickets.push_back(c.add(shift, p));
  const auto alone = c.add(drift, 0.01);  // one test: adjusted p = p
  const auto other = c.add(latency, 0.2);
  c.adjust();
  const std::vector<double> expected = vigil::stats::benjamini_hochberg({0.01, 0.04, 0.03, 0.5});
  CHECK(c.adjusted(tickets[0]) == expected[0]);
  CHECK(c.adjusted(tickets[1]) == expected[1]);
  CHECK(std::isnan(c.adjusted(tickets[2])));
  CHECK(c.adjusted(tickets[3]) == expected[2]);
  CHECK(c.adjusted(tickets[4]) == expected[3]);
  CHECK(c.adjusted(tickets[0]) == Approx(0.04));  // 0.01 · 4 / 1, the smallest of its kind
  CHECK(c.adjusted(alone) == 0.01);
  CHECK(c.adjusted(other) == 0.2);
}

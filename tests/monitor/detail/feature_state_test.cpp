#include <vigil/monitor/detail/feature_state.hpp>
#include <vigil/monitor/profile.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "vigil_test.hpp"

using vigil_test::reference_bin;

TEST_CASE("FeatureState: numeric bins and totals agree with lower_bound on the plan's edges", "[feature_state]") {
  vigil::Schema schema;
  const vigil::NumericFeature normal = schema.add_numeric("normal");
  const vigil::NumericFeature heavy = schema.add_numeric("heavy");        // Pareto tail: dense cells
  const vigil::NumericFeature discrete = schema.add_numeric("discrete");  // five values
  const vigil::NumericFeature untrained = schema.add_numeric("untrained");  // no reference
  std::vector<vigil::NumericFeature> features;
  for (int i = 0; i < 18; ++i) features.push_back(schema.add_numeric("f" + std::to_string(i)));  // a second block

  std::mt19937_64 rng(5);
  std::normal_distribution<double> gauss(3, 2);
  std::uniform_real_distribution<double> unit(0, 1);
  auto draw = [&](vigil::Observation& o) {
    o.set(normal, gauss(rng));
    o.set(heavy, 1 / std::pow(1 - unit(rng), 1.5));
    o.set(discrete, std::floor(unit(rng) * 5));
    for (std::size_t i = 0; i < features.size(); ++i) o.set(features[i], gauss(rng) * static_cast<double>(i + 1));
  };
  vigil::Profile profile(schema);
  for (int r = 0; r < 3000; ++r) {
    vigil::Observation o(schema);
    draw(o);
    profile.add(o);
  }
  const vigil::detail::FeaturePlan plan = vigil::detail::make_feature_plan(schema, profile, 50);
  vigil::detail::FeatureState summary(plan);
  std::uint64_t requests = 0;

  const std::size_t n = schema.numeric_count();
  std::vector<std::vector<std::uint64_t>> want(n);
  for (std::size_t i = 0; i < n; ++i) want[i].assign(plan.numeric[i].reference_share.size(), 0);
  std::vector<std::uint64_t> missing(n, 0), bad(n, 0);
  std::vector<double> shift(n, 0.0);
  const double specials[] = {std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::infinity(),
                             -std::numeric_limits<double>::infinity()};
  vigil::Observation o(schema);
  std::size_t all_finite = 0;
  for (int r = 0; r < 40000; ++r) {
    o.clear();
    draw(o);
    if (r < 20000) {
      if (r % 3 == 0) o.set(untrained, gauss(rng));
      for (std::size_t i = 0; i < n; ++i) {  // some values missing, some bad, some far out
        const vigil::NumericFeature f{static_cast<std::uint32_t>(i)};
        const double roll = unit(rng);
        if (roll < 0.05) o.clear(f);
        else if (roll < 0.08) o.set(f, specials[r % 3]);
        else if (roll < 0.10) o.set(f, (r % 2 ? 1 : -1) * 1e300);
      }
    } else {
      // Every value a number (the request path's shortcut): some far out, some exactly on
      // an edge or one ulp either side of it.
      o.set(untrained, gauss(rng));
      for (std::size_t i = 0; i < n; ++i) {
        const vigil::NumericFeature f{static_cast<std::uint32_t>(i)};
        const std::vector<double>& edges = plan.numeric[i].edges;
        const double roll = unit(rng);
        if (roll < 0.02) {
          o.set(f, (r % 2 ? 1 : -1) * 1e300);
        } else if (roll < 0.20 && !edges.empty()) {
          const double e = edges[static_cast<std::size_t>(unit(rng) * static_cast<double>(edges.size()))];
          o.set(f, r % 3 == 0 ? e : std::nextafter(e, r % 3 == 1 ? 1e308 : -1e308));
        }
      }
      all_finite += o.numeric_value_count() == n;
    }
    summary.apply(plan, vigil::detail::Request{o, nullptr, std::numeric_limits<double>::quiet_NaN()});
    ++requests;
    for (std::size_t i = 0; i < n; ++i) {
      const vigil::NumericFeature f{static_cast<std::uint32_t>(i)};
      if (o.state(f) == vigil::Observation::State::unset) {
        ++missing[i];
      } else if (o.state(f) == vigil::Observation::State::bad) {
        ++bad[i];
      } else {
        ++want[i][reference_bin(plan.numeric[i].edges, o.value(f))];
        shift[i] += o.value(f) - plan.numeric[i].reference_mean;
      }
    }
  }
  for (std::size_t i = 0; i < n; ++i) {
    const auto& p = plan.numeric[i];
    INFO(p.name);
    const std::vector<std::uint64_t> got(summary.numeric_bins.begin() + static_cast<std::ptrdiff_t>(p.offset),
                                         summary.numeric_bins.begin() + static_cast<std::ptrdiff_t>(p.offset + want[i].size()));
    CHECK(got == want[i]);
    const vigil::detail::NumericTotals t = summary.numeric_totals(p, i);
    CHECK(t.missing == missing[i]);
    CHECK(t.bad == bad[i]);
    CHECK(t.shifted_sum / vigil::detail::shift_scale == Approx(shift[i]).epsilon(1e-12));
    CHECK(summary.binned(p) + t.missing + t.bad == requests);
  }
  CHECK(missing[3] > 10000);  // `untrained` is set on a third of the first half's requests
  CHECK(all_finite == 20000);
}

TEST_CASE("FeatureState: sums of shifts near the double range are written in version 2, others in version 1",
          "[feature_state]") {
  vigil::Schema schema;
  const vigil::NumericFeature x = schema.add_numeric("x");
  vigil::Profile profile(schema);
  vigil::Observation o(schema);
  for (int i = 0; i < 100; ++i) profile.add(o.set(x, i));
  const vigil::detail::FeaturePlan plan = vigil::detail::make_feature_plan(schema, profile, 10);
  const auto round_trip = [&](const vigil::detail::FeatureState& s, std::uint8_t version) {
    std::vector<std::uint8_t> bytes;
    vigil::io::Writer w(bytes);
    s.serialize(w);
    vigil::io::Reader r(bytes.data(), bytes.size(), "feature state");
    return vigil::detail::FeatureState::deserialize(r, plan, version);
  };
  const auto apply = [&](vigil::detail::FeatureState& s, double value) {
    s.apply(plan, vigil::detail::Request{o.set(x, value), nullptr, std::numeric_limits<double>::quiet_NaN()});
  };

  vigil::detail::FeatureState ordinary(plan);
  for (double v : {3.5, -20.0, 1e6}) apply(ordinary, v);
  CHECK(ordinary.written_version() == 1);
  CHECK(round_trip(ordinary, 1) == ordinary);
  // Version 1 holds the unscaled sum, as its earlier writers did.
  std::vector<std::uint8_t> bytes;
  vigil::io::Writer w(bytes);
  ordinary.serialize(w);
  vigil::io::Reader r(bytes.data(), bytes.size(), "feature state");
  vigil::detail::FeatureState unscaled(plan);
  vigil::detail::read_counts(r, unscaled.numeric_bins, "bins");
  vigil::detail::read_values(r, unscaled.numeric_shift, "shifts");
  CHECK(unscaled.numeric_shift[0] == (3.5 - 49.5) + (-20.0 - 49.5) + (1e6 - 49.5));

  vigil::detail::FeatureState extreme(plan);
  apply(extreme, 1e308);
  apply(extreme, 1e308);
  CHECK(std::isfinite(extreme.numeric_shift[0]));
  CHECK(extreme.written_version() == 2);
  CHECK(round_trip(extreme, 2) == extreme);
}

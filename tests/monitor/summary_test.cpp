// The Monitor's per-interval internals: the O(1) bin locator against std::lower_bound, the
// SIMD step of the request path against its scalar loop, and the label dictionary.
#include <vigil/monitor/detail/summary.hpp>

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

namespace {

std::size_t reference_bin(const std::vector<double>& edges, double x) {
  return static_cast<std::size_t>(std::lower_bound(edges.begin(), edges.end(), x) - edges.begin());
}

// Every edge, its neighbours one ulp away, points between edges and far outside.
std::vector<double> probes(const std::vector<double>& edges, std::mt19937_64& rng) {
  std::vector<double> out = {0.0, -0.0, 1e308, -1e308, std::numeric_limits<double>::max(),
                             std::numeric_limits<double>::lowest(), std::numeric_limits<double>::denorm_min()};
  for (double e : edges) {
    out.push_back(e);
    out.push_back(std::nextafter(e, std::numeric_limits<double>::infinity()));
    out.push_back(std::nextafter(e, -std::numeric_limits<double>::infinity()));
  }
  if (!edges.empty()) {
    std::uniform_real_distribution<double> u(edges.front() - 1, edges.back() + 1);
    for (int i = 0; i < 2000; ++i) out.push_back(u(rng));
  }
  return out;
}

std::vector<double> distinct_sorted(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
  return v;
}

}  // namespace

TEST_CASE("BinLocator: no edges puts everything in bin 0", "[summary]") {
  const vigil::detail::BinLocator empty;
  CHECK(empty(-1e300) == 0);
  CHECK(empty(0) == 0);
  CHECK(empty(1e300) == 0);
  const vigil::detail::BinLocator none(std::vector<double>{});
  CHECK(none(42) == 0);
}

TEST_CASE("BinLocator: one edge splits at it, right-closed", "[summary]") {
  const vigil::detail::BinLocator one(std::vector<double>{2.5});
  CHECK(one(2.5) == 0);
  CHECK(one(std::nextafter(2.5, 3.0)) == 1);
  CHECK(one(-1e308) == 0);
  CHECK(one(1e308) == 1);
}

TEST_CASE("BinLocator: agrees with lower_bound on many edge sets", "[summary]") {
  std::mt19937_64 rng(7);
  std::vector<std::vector<double>> sets;
  std::normal_distribution<double> normal;
  std::lognormal_distribution<double> heavy(0, 3);
  for (std::size_t n : {2, 3, 4, 5, 11, 51, 52, 1001}) {
    std::vector<double> a, b;
    for (std::size_t i = 0; i < n; ++i) {
      a.push_back(normal(rng));
      b.push_back(heavy(rng));
    }
    sets.push_back(distinct_sorted(a));
    sets.push_back(distinct_sorted(b));
  }
  // Integers (a discrete feature), one enormous outlier edge, edges one ulp apart, and a
  // cluster far denser than the grid can resolve (the binary-search fallback).
  std::vector<double> integers;
  for (int i = 0; i < 30; ++i) integers.push_back(i);
  sets.push_back(integers);
  sets.push_back({-1, 0, 1, 2, 3, 1e300});
  std::vector<double> ulps = {1.0};
  for (int i = 0; i < 40; ++i) ulps.push_back(std::nextafter(ulps.back(), 2.0));
  ulps.push_back(5.0);
  sets.push_back(ulps);
  std::vector<double> cluster = {-1e6, 0};
  for (int i = 1; i < 200; ++i) cluster.push_back(i * 1e-9);
  cluster.push_back(1e6);
  sets.push_back(cluster);

  std::size_t checked = 0;
  for (const auto& edges : sets) {
    const vigil::detail::BinLocator locate(edges);
    CHECK(locate.edge_count() == edges.size());
    CHECK(locate.cell_count() <= 4096);
    for (double x : probes(edges, rng)) {
      const std::size_t expected = reference_bin(edges, x);
      if (locate(x) != expected) FAIL_CHECK("x = " << x << " bin " << locate(x) << " expected " << expected);
      ++checked;
    }
  }
  CHECK(checked > 30000);
}

TEST_CASE("BinLocator: memory grows with edges and cells only", "[summary]") {
  std::vector<double> edges;
  for (int i = 0; i < 51; ++i) edges.push_back(i * 0.1);
  const vigil::detail::BinLocator locate(edges);
  // 53 edge slots (2 of padding) and at most 4097 cell starts.
  CHECK(locate.memory_bytes() <= 53 * sizeof(double) + 4097 * sizeof(std::uint16_t));
  CHECK(locate.cell_count() >= 51);
}

namespace {

// Inputs for the request path's SIMD step: grids of several shapes, and values that are
// ordinary, on the grid's clamps, huge, tiny, NaN and ±inf.
struct GridCase {
  std::vector<double> low, scale, last_cell, spare_cell, mean, x;
  std::vector<std::int32_t> first_cell;
  vigil::detail::GridLanes lanes() const {
    return {low.data(), scale.data(), last_cell.data(), spare_cell.data(), first_cell.data(), mean.data()};
  }
};

// With `finite`, only the finite specials (the request path's case when every value is set).
GridCase grid_case(std::size_t n, std::mt19937_64& rng, bool finite) {
  const double specials[] = {std::numeric_limits<double>::max(),        std::numeric_limits<double>::lowest(),
                             std::numeric_limits<double>::denorm_min(), -0.0,
                             0.0,                                       std::numeric_limits<double>::quiet_NaN(),
                             std::numeric_limits<double>::infinity(),   -std::numeric_limits<double>::infinity()};
  std::uniform_real_distribution<double> u(-5, 5);
  std::uniform_int_distribution<int> pick(0, 9);
  GridCase g;
  for (std::size_t i = 0; i < n; ++i) {
    const double cells = static_cast<double>(4 << (i % 8));
    g.low.push_back(u(rng));
    g.scale.push_back(i % 5 == 4 ? 0.0 : cells / (0.5 + std::fabs(u(rng))));
    g.last_cell.push_back(cells - 1);
    g.spare_cell.push_back(cells + 1);
    g.first_cell.push_back(static_cast<std::int32_t>(1000 * i));
    g.mean.push_back(u(rng));
    const int k = pick(rng);
    g.x.push_back(k < 8 ? g.low.back() + u(rng) * 2 : specials[static_cast<std::size_t>(pick(rng)) % (finite ? 5 : 8)]);
  }
  return g;
}

}  // namespace

TEST_CASE("grid cells: the SIMD step computes exactly what the scalar loop does", "[summary]") {
  std::mt19937_64 rng(11);
  int all_finite = 0;
  for (std::size_t n : {1, 2, 3, 4, 5, 7, 8, 15, 16, 33}) {
    for (int round = 0; round < 200; ++round) {
      const GridCase g = grid_case(n, rng, round % 2 == 0);
      std::vector<std::int32_t> want_cell(n);
      std::vector<double> want_shift(n, 0.25);
      vigil::detail::grid_cells_scalar(g.lanes(), g.x.data(), want_cell.data(), want_shift.data(), n);
      for (std::size_t i = 0; i < n; ++i) {
        // The scalar loop itself: the spare cell exactly when not finite, else the cell of
        // the grid position; the shift only for finite values.
        const bool finite = std::isfinite(g.x[i]);
        const double position = vigil::detail::BinLocator::grid_position(g.low[i], g.scale[i], g.last_cell[i], g.x[i]);
        REQUIRE(want_cell[i] == g.first_cell[i] + static_cast<std::int32_t>(finite ? position : g.spare_cell[i]));
        REQUIRE(want_shift[i] == (finite ? 0.25 + (g.x[i] - g.mean[i]) : 0.25));
      }
      // Runs one variant of the step on fresh outputs and compares it with the scalar loop.
      const auto same_as_scalar = [&](auto step) {
        std::vector<std::int32_t> cell(n, -1);
        std::vector<double> shift(n, 0.25);
        step(g.lanes(), g.x.data(), cell.data(), shift.data(), n);
        REQUIRE(cell == want_cell);
        REQUIRE(shift == want_shift);
      };
      same_as_scalar(vigil::detail::grid_cells<false>);  // SSE2 on x86-64
      if (std::all_of(g.x.begin(), g.x.end(), [](double x) { return std::isfinite(x); })) {
        // The variant that skips the test for missing and bad values, in SIMD and scalar.
        same_as_scalar(vigil::detail::grid_cells<true>);
        same_as_scalar(vigil::detail::grid_cells_scalar<true>);
        ++all_finite;
      }
    }
  }
  CHECK(all_finite > 900);  // every other case, and some of the rest
}

TEST_CASE("IntervalSummary: numeric bins and totals agree with lower_bound on the plan's edges", "[summary]") {
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
  const vigil::detail::MonitorPlan plan = vigil::detail::make_plan(schema, profile, 50);
  vigil::detail::IntervalSummary summary(plan);

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
    summary.apply(plan, o, nullptr, std::numeric_limits<double>::quiet_NaN());
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
    CHECK(t.shifted_sum == Approx(shift[i]).epsilon(1e-12));
    CHECK(summary.binned(p) + t.missing + t.bad == summary.requests);
  }
  CHECK(missing[3] > 10000);  // `untrained` is set on a third of the first half's requests
  CHECK(all_finite == 20000);
}

TEST_CASE("StringIds: finds every name of any length and nothing else", "[summary]") {
  std::vector<std::string> names = {"", "a", "ab", "abc", "abcd", "abcdefg", "abcdefgh", "abcdefghi",
                                    "abcdefghijklmnop", "abcdefghijklmnopq", "abcdefghijklmnopqr" + std::string(30, 'z')};
  for (int i = 0; i < 300; ++i) names.push_back("value_" + std::to_string(i));
  names.push_back(std::string("nul\0byte", 8));
  const vigil::detail::StringIds ids(names);
  REQUIRE(ids.size() == names.size());
  for (std::uint32_t i = 0; i < names.size(); ++i) {
    INFO(names[i]);
    CHECK(ids.find(names[i]) == i);
    CHECK(ids.name(i) == names[i]);
  }
  // Names that share a prefix, the first 16 bytes, or the length of a known one.
  for (const std::string& absent : {std::string("b"), std::string("abcdefgi"), std::string("abcdefghijklmnopX"),
                                    "abcdefghijklmnopqr" + std::string(29, 'z') + "y", std::string("value_300"),
                                    std::string("value_"), std::string("nul\0bytf", 8), std::string("nul")}) {
    INFO(absent);
    CHECK(ids.find(absent) == vigil::detail::StringIds::none);
  }
  const vigil::detail::StringIds empty;
  CHECK(empty.find("") == vigil::detail::StringIds::none);
  const vigil::detail::StringIds only_empty(std::vector<std::string>{""});
  CHECK(only_empty.find("") == 0);
  // Moving copies: the source still has a table to probe.
  vigil::detail::StringIds source(std::vector<std::string>{"a", "b"});
  const vigil::detail::StringIds target(std::move(source));
  CHECK(target.find("b") == 1);
  CHECK(source.find("b") == 1);  // NOLINT(bugprone-use-after-move): the point of the check
  CHECK(source.find("c") == vigil::detail::StringIds::none);
  CHECK(only_empty.find("x") == vigil::detail::StringIds::none);
}

TEST_CASE("MonitorPlan: request_path() holds everything apply() reads, in less memory", "[monitor][summary]") {
  vigil::Schema schema;
  std::vector<vigil::NumericFeature> numeric;
  for (int i = 0; i < 20; ++i) numeric.push_back(schema.add_numeric("n" + std::to_string(i)));
  const auto colour = schema.add_categorical("colour");
  const auto size = schema.add_categorical("size");
  vigil::OutputOptions with_classes;
  with_classes.classes = {"cat", "dog", "bird"};
  const auto kind = schema.add_output("kind", with_classes);
  vigil::OutputOptions with_threshold;
  with_threshold.threshold = 0.5;
  const auto fraud = schema.add_output("fraud", with_threshold);
  vigil::TagOptions hosts;
  hosts.max_values = 4;
  const auto host = schema.add_tag("host", hosts);
  const auto version = schema.add_tag("version");

  std::mt19937_64 rng(17);
  std::normal_distribution<double> gauss(0, 1);
  std::uniform_real_distribution<double> unit(0, 1);
  const char* colours[] = {"red", "green", "blue", "a colour longer than sixteen bytes"};
  const char* classes[] = {"cat", "dog", "bird", "fish"};
  auto draw = [&](vigil::Observation& o, bool production) {
    for (std::size_t i = 0; i < numeric.size(); ++i) {
      if (production && unit(rng) < 0.05) continue;  // missing
      o.set(numeric[i], production && unit(rng) < 0.02 ? std::numeric_limits<double>::quiet_NaN()
                                                       : gauss(rng) * static_cast<double>(i + 1));
    }
    o.set(colour, colours[static_cast<int>(unit(rng) * (production ? 4 : 3))]);
    if (!production || unit(rng) < 0.9) o.set(size, production && unit(rng) < 0.1 ? "XXL" : (unit(rng) < 0.5 ? "S" : "M"));
    o.score(kind, unit(rng));
    o.predicted(kind, classes[static_cast<int>(unit(rng) * (production ? 4 : 3))]);
    o.score(fraud, production && unit(rng) < 0.01 ? std::numeric_limits<double>::infinity() : unit(rng));
  };
  vigil::Profile profile(schema);
  for (int r = 0; r < 2000; ++r) {
    vigil::Observation o(schema);
    draw(o, false);
    profile.add(o);
  }
  const vigil::detail::MonitorPlan plan = vigil::detail::make_plan(schema, profile, 50);
  const vigil::detail::MonitorPlan copy = plan.request_path();
  CHECK(copy.numeric.empty());
  CHECK(copy.memory_bytes() < plan.memory_bytes());
  CHECK(copy.lanes.edges == plan.lanes.edges);
  CHECK(copy.lanes.cells == plan.lanes.cells);
  CHECK(copy.tag_offset == plan.tag_offset);
  CHECK(copy.tag_max_values == plan.tag_max_values);
  // Summaries built from the copy have the whole plan's shape.
  CHECK(vigil::detail::IntervalSummary(copy).memory_bytes() == vigil::detail::IntervalSummary(plan).memory_bytes());

  vigil::detail::IntervalSummary whole(plan);
  vigil::detail::IntervalSummary from_copy(plan);
  vigil::Observation o(schema);
  std::uint32_t tag_ids[2];
  for (int r = 0; r < 5000; ++r) {
    o.clear();
    draw(o, true);
    o.latency(unit(rng) * 0.1);
    tag_ids[0] = static_cast<std::uint32_t>(r % 5);  // value 4 is "other"
    tag_ids[1] = r % 7 == 0 ? vigil::detail::IntervalSummary::no_tag : static_cast<std::uint32_t>(r % 3);
    whole.apply(plan, o, tag_ids, 0.05);
    from_copy.apply(copy, o, tag_ids, 0.05);
  }
  (void)host;
  (void)version;
  CHECK(from_copy.requests == whole.requests);
  CHECK(from_copy.numeric_bins == whole.numeric_bins);
  CHECK(from_copy.numeric_shift == whole.numeric_shift);
  CHECK(from_copy.numeric_bad == whole.numeric_bad);
  CHECK(from_copy.categorical_bins == whole.categorical_bins);
  CHECK(from_copy.score_bins == whole.score_bins);
  CHECK(from_copy.class_bins == whole.class_bins);
  CHECK(from_copy.tag_requests == whole.tag_requests);
  CHECK(from_copy.tag_slow == whole.tag_slow);
  CHECK(from_copy.slow == whole.slow);
  for (std::size_t i = 0; i < whole.unseen.size(); ++i) CHECK(from_copy.unseen[i].entries() == whole.unseen[i].entries());
  for (std::size_t i = 0; i < whole.scores.size(); ++i) {
    CHECK(from_copy.scores[i].count() == whole.scores[i].count());
    CHECK(from_copy.scores[i].quantile(0.5) == whole.scores[i].quantile(0.5));
  }
  // Something landed everywhere the comparison looks: unseen labels, bad values, classes.
  CHECK(whole.categorical_bins[plan.categorical[0].offset + plan.categorical[0].categories.size()] > 0);
  CHECK(std::accumulate(whole.numeric_bad.begin(), whole.numeric_bad.end(), std::uint64_t{0}) > 0);
  CHECK(std::accumulate(whole.class_bins.begin(), whole.class_bins.end(), std::uint64_t{0}) > 0);
  CHECK(std::accumulate(whole.tag_slow.begin(), whole.tag_slow.end(), std::uint64_t{0}) > 0);
}

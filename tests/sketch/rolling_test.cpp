#include <vigil/sketch/rolling.hpp>

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "vigil_test.hpp"

namespace {

struct Moments {
  long double mean;
  long double m2;  // Σ(x − mean)²
};

// Two-pass reference in long double.
Moments two_pass(const std::vector<double>& xs) {
  long double sum = 0;
  for (double x : xs) sum += x;
  const long double mean = sum / static_cast<long double>(xs.size());
  long double m2 = 0;
  for (double x : xs) m2 += (x - mean) * (x - mean);
  return {mean, m2};
}

double relative_error(double got, long double want) {
  return static_cast<double>(std::fabs((static_cast<long double>(got) - want) / want));
}

using vigil_test::truncated;

}  // namespace

TEST_CASE("RunningStats: empty summary answers NaN", "[rolling]") {
  vigil::RunningStats s;
  CHECK(s.empty());
  CHECK(s.count() == 0);
  CHECK(s.sum() == 0);
  CHECK(std::isnan(s.mean()));
  CHECK(std::isnan(s.variance()));
  CHECK(std::isnan(s.population_variance()));
  CHECK(std::isnan(s.min()));
  CHECK(std::isnan(s.max()));
  CHECK(vigil::RunningStats::deserialize(s.serialize()) == s);
}

TEST_CASE("RunningStats: one value", "[rolling]") {
  vigil::RunningStats s;
  s.add(-3.5);
  CHECK(s.count() == 1);
  CHECK(s.mean() == -3.5);
  CHECK(s.sum() == -3.5);
  CHECK(s.min() == -3.5);
  CHECK(s.max() == -3.5);
  CHECK(s.population_variance() == 0);
  CHECK(std::isnan(s.variance()));
}

TEST_CASE("RunningStats: small exact example and weights", "[rolling]") {
  vigil::RunningStats s;
  for (double x : {2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0}) s.add(x);
  CHECK(s.count() == 8);
  CHECK(s.mean() == 5);
  CHECK(s.population_variance() == Approx(4).epsilon(1e-15));
  CHECK(s.variance() == Approx(32.0 / 7).epsilon(1e-15));
  CHECK(s.population_stddev() == Approx(2).epsilon(1e-15));
  CHECK(s.min() == 2);
  CHECK(s.max() == 9);

  vigil::RunningStats w;  // frequency weights: same multiset
  w.add(2);
  w.add(4, 3);
  w.add(5, 2);
  w.add(7);
  w.add(9);
  CHECK(w.count() == 8);
  CHECK(w.mean() == Approx(5).epsilon(1e-15));
  CHECK(w.variance() == Approx(32.0 / 7).epsilon(1e-14));
}

TEST_CASE("RunningStats: values around 1e9 with unit variance keep 1e-9 relative error", "[rolling]") {
  std::mt19937_64 rng(42);
  std::normal_distribution<double> normal(1e9, 1.0);
  std::vector<double> xs(1000000);
  for (double& x : xs) x = normal(rng);
  const Moments ref = two_pass(xs);
  const auto n = static_cast<long double>(xs.size());

  vigil::RunningStats one;
  for (double x : xs) one.add(x);
  CHECK(one.count() == 1e6);
  CHECK(relative_error(one.mean(), ref.mean) <= 1e-15);
  CHECK(relative_error(one.variance(), ref.m2 / (n - 1)) <= 1e-9);
  CHECK(relative_error(one.population_variance(), ref.m2 / n) <= 1e-9);

  SECTION("merge of 1000 parts equals one pass") {
    vigil::RunningStats merged;
    for (std::size_t part = 0; part < 1000; ++part) {
      vigil::RunningStats p;
      for (std::size_t i = part * 1000; i < (part + 1) * 1000; ++i) p.add(xs[i]);
      merged.merge(p);
    }
    CHECK(merged.count() == one.count());
    CHECK(merged.min() == one.min());
    CHECK(merged.max() == one.max());
    CHECK(relative_error(merged.mean(), ref.mean) <= 1e-15);
    CHECK(relative_error(merged.variance(), ref.m2 / (n - 1)) <= 1e-9);
  }
  SECTION("pairwise tree merge of 1024 uneven parts") {
    std::vector<vigil::RunningStats> parts(1024);
    std::uniform_int_distribution<std::size_t> pick(0, parts.size() - 1);
    for (double x : xs) parts[pick(rng)].add(x);
    for (std::size_t width = 1; width < parts.size(); width *= 2)
      for (std::size_t i = 0; i + width < parts.size(); i += 2 * width) parts[i].merge(parts[i + width]);
    CHECK(parts[0].count() == 1e6);
    CHECK(relative_error(parts[0].variance(), ref.m2 / (n - 1)) <= 1e-9);
  }
}

TEST_CASE("RunningStats: merge with empty sides and serialization", "[rolling]") {
  vigil::RunningStats a, empty;
  for (int i = 1; i <= 10; ++i) a.add(i);
  vigil::RunningStats b = a;
  b.merge(empty);
  CHECK(b == a);
  vigil::RunningStats c;
  c.merge(a);
  CHECK(c == a);

  const auto bytes = a.serialize();
  CHECK(vigil::RunningStats::deserialize(bytes) == a);
  for (std::size_t n = 0; n < bytes.size(); ++n)
    CHECK_THROWS_AS(vigil::RunningStats::deserialize(truncated(bytes, n)), vigil::format_error);
  auto corrupt = bytes;
  corrupt[5] = static_cast<std::uint8_t>(vigil::io::TypeId::ewma);
  CHECK_THROWS_AS(vigil::RunningStats::deserialize(corrupt), vigil::format_error);
  corrupt = bytes;
  corrupt[4] = 2;  // a newer format version
  CHECK_THROWS_AS(vigil::RunningStats::deserialize(corrupt), vigil::format_error);
  corrupt = bytes;
  corrupt[8 + 7] = 0xff;  // count becomes NaN
  CHECK_THROWS_AS(vigil::RunningStats::deserialize(corrupt), vigil::format_error);
}

TEST_CASE("RunningStats: bad input is refused and counted", "[rolling]") {
  vigil::RunningStats s;
  s.add(1);
  s.add(std::numeric_limits<double>::quiet_NaN());
  s.add(std::numeric_limits<double>::infinity());
  s.add(-std::numeric_limits<double>::infinity());
  CHECK(s.rejected() == 3);
  CHECK(s.count() == 1);
  CHECK(s.mean() == 1);
  CHECK_THROWS_AS(s.add(2, 0), vigil::invalid_argument);
  CHECK_THROWS_AS(s.add(2, -1), vigil::invalid_argument);
  CHECK_THROWS_AS(s.add(2, std::numeric_limits<double>::quiet_NaN()), vigil::invalid_argument);
  CHECK_THROWS_AS(s.add(2, std::numeric_limits<double>::infinity()), vigil::invalid_argument);
  CHECK(s.count() == 1);
  vigil::RunningStats t;
  t.add(std::numeric_limits<double>::quiet_NaN());
  s.merge(t);
  CHECK(s.rejected() == 4);
}

namespace {

// Direct weighted reference: weights 2^(−(latest − tᵢ)/h)·wᵢ over every value.
struct WeightedReference {
  long double weight = 0, weight2 = 0, mean = 0, m2 = 0;
};

WeightedReference weighted_reference(const std::vector<double>& xs, const std::vector<double>& ts, double h) {
  double latest = -std::numeric_limits<double>::infinity();
  for (double t : ts) latest = std::max(latest, t);
  WeightedReference r;
  long double sum = 0;
  std::vector<long double> w(xs.size());
  for (std::size_t i = 0; i < xs.size(); ++i) {
    w[i] = std::exp2(-static_cast<long double>(latest - ts[i]) / h);
    r.weight += w[i];
    r.weight2 += w[i] * w[i];
    sum += w[i] * xs[i];
  }
  r.mean = sum / r.weight;
  for (std::size_t i = 0; i < xs.size(); ++i) r.m2 += w[i] * (xs[i] - r.mean) * (xs[i] - r.mean);
  return r;
}

}  // namespace

TEST_CASE("Ewma: empty average answers NaN", "[rolling]") {
  vigil::Ewma e(10);
  CHECK(e.empty());
  CHECK(std::isnan(e.mean()));
  CHECK(std::isnan(e.variance()));
  CHECK(std::isnan(e.latest_time()));
  CHECK(e.weight() == 0);
  CHECK(e.effective_count() == 0);
  CHECK(vigil::Ewma::deserialize(e.serialize()) == e);
}

TEST_CASE("Ewma: the first value's mean is exact (bias-corrected start)", "[rolling]") {
  vigil::Ewma e(60);
  e.add(123.25, 1.7e9);
  CHECK(e.mean() == 123.25);
  CHECK(e.weight() == 1);
  CHECK(e.population_variance() == 0);
  CHECK(std::isnan(e.variance()));
  // A long silence lowers the weight, not the mean.
  e.add(7, 1.7e9 + 600);  // ten half-lives later
  CHECK(e.mean() == Approx((123.25 / 1024 + 7) / (1.0 / 1024 + 1)).epsilon(1e-14));
  CHECK(e.weight() == Approx(1 + 1.0 / 1024).epsilon(1e-15));
}

TEST_CASE("Ewma: irregular times match a directly computed weighted reference", "[rolling]") {
  std::mt19937_64 rng(7);
  std::exponential_distribution<double> gap(2.0);  // mean 0.5 s, bursty
  std::lognormal_distribution<double> value(1.0, 0.8);
  const double h = 30;
  vigil::Ewma e(h);
  std::vector<double> xs, ts;
  double t = 1.7e9;
  for (int i = 0; i < 20000; ++i) {
    t += (i % 1000 == 999) ? 200.0 : gap(rng);  // occasional long silence
    xs.push_back(value(rng));
    ts.push_back(t);
    e.add(xs.back(), t);
  }
  const WeightedReference ref = weighted_reference(xs, ts, h);
  CHECK(e.count() == 20000);
  CHECK(relative_error(e.weight(), ref.weight) <= 1e-10);
  CHECK(relative_error(e.mean(), ref.mean) <= 1e-10);
  CHECK(relative_error(e.population_variance(), ref.m2 / ref.weight) <= 1e-9);
  CHECK(relative_error(e.variance(), ref.m2 / (ref.weight - ref.weight2 / ref.weight)) <= 1e-9);
  CHECK(relative_error(e.effective_count(), ref.weight * ref.weight / ref.weight2) <= 1e-10);
  CHECK(e.out_of_order() == 0);

  SECTION("shuffled arrival order gives the same average and counts out-of-order values") {
    std::vector<std::size_t> order(xs.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    // Local disorder: swap neighbours, as clocks of two hosts would.
    for (std::size_t i = 0; i + 1 < order.size(); i += 2) std::swap(order[i], order[i + 1]);
    vigil::Ewma shuffled(h);
    for (std::size_t i : order) shuffled.add(xs[i], ts[i]);
    CHECK(shuffled.out_of_order() == 10000);
    CHECK(relative_error(shuffled.mean(), ref.mean) <= 1e-10);
    CHECK(relative_error(shuffled.population_variance(), ref.m2 / ref.weight) <= 1e-9);
  }
  SECTION("merge of two shards equals the reference") {
    vigil::Ewma a(h), b(h);
    for (std::size_t i = 0; i < xs.size(); ++i) (i % 3 == 0 ? a : b).add(xs[i], ts[i]);
    a.merge(b);
    CHECK(a.count() == 20000);
    CHECK(relative_error(a.mean(), ref.mean) <= 1e-10);
    CHECK(relative_error(a.population_variance(), ref.m2 / ref.weight) <= 1e-9);
    CHECK(a.latest_time() == ts.back());
  }
  SECTION("serialization round-trip and truncation") {
    const auto bytes = e.serialize();
    CHECK(vigil::Ewma::deserialize(bytes) == e);
    for (std::size_t n = 0; n < bytes.size(); ++n)
      CHECK_THROWS_AS(vigil::Ewma::deserialize(truncated(bytes, n)), vigil::format_error);
    auto corrupt = bytes;
    corrupt[8 + 7] = 0xff;  // half-life NaN
    CHECK_THROWS_AS(vigil::Ewma::deserialize(corrupt), vigil::format_error);
  }
}

TEST_CASE("Ewma: bad input", "[rolling]") {
  CHECK_THROWS_AS(vigil::Ewma(0), vigil::invalid_argument);
  CHECK_THROWS_AS(vigil::Ewma(-1), vigil::invalid_argument);
  CHECK_THROWS_AS(vigil::Ewma(std::numeric_limits<double>::infinity()), vigil::invalid_argument);
  vigil::Ewma e(5);
  e.add(1, 100);
  e.add(std::numeric_limits<double>::quiet_NaN(), 101);
  e.add(1, std::numeric_limits<double>::quiet_NaN());
  e.add(std::numeric_limits<double>::infinity(), 102);
  CHECK(e.rejected() == 3);
  CHECK(e.count() == 1);
  CHECK(e.latest_time() == 100);
  CHECK_THROWS_AS(e.add(1, 103, 0), vigil::invalid_argument);
  CHECK(e.latest_time() == 100);
  // A value far older than the latest has a weight that underflows: accepted, no effect.
  e.add(1000, 100 - 1e6);
  CHECK(e.mean() == 1);
  CHECK(e.out_of_order() == 1);
  vigil::Ewma other(6);
  CHECK_THROWS_AS(e.merge(other), vigil::invalid_argument);
}

TEST_CASE("EventRate: empty estimator answers NaN", "[rolling]") {
  vigil::EventRate r(60);
  CHECK(r.empty());
  CHECK(std::isnan(r.rate(100)));
  CHECK(std::isnan(r.start_time()));
  CHECK(vigil::EventRate::deserialize(r.serialize()) == r);
}

TEST_CASE("EventRate: one event marks the start; with start() it counts", "[rolling]") {
  vigil::EventRate r(60);
  r.add(1000);
  CHECK(r.count() == 1);
  CHECK(r.start_time() == 1000);
  CHECK(std::isnan(r.rate()));          // no exposure yet
  CHECK(r.rate(1060) == 0);             // a minute without further events

  vigil::EventRate s(60);
  s.start(1000);
  s.add(1000);
  // One event in exposure E(t) = (h/ln 2)(1 − 2^(−Δ/h)), decayed by 2^(−Δ/h).
  const double h = 60, d = 30;
  const double exposure = h / std::log(2.0) * (1 - std::exp2(-d / h));
  CHECK(s.rate(1000 + d) == Approx(std::exp2(-d / h) / exposure).epsilon(1e-12));
}

TEST_CASE("EventRate: regular and Poisson streams at a known rate, then a rate change", "[rolling]") {
  SECTION("regular events every 10 ms read 100/s from the first second on") {
    vigil::EventRate r(60);
    for (int i = 0; i <= 100; ++i) r.add(1.7e9 + i * 0.01);
    CHECK(r.rate() == Approx(100).epsilon(0.01));
    for (int i = 101; i <= 60000; ++i) r.add(1.7e9 + i * 0.01);
    CHECK(r.rate() == Approx(100).epsilon(0.002));
  }
  SECTION("Poisson stream, 100/s, then 20/s") {
    const double h = 60;
    std::mt19937_64 rng(2026);
    vigil::EventRate r(h);
    double t = 1.7e9;
    const double change = t + 600;
    std::exponential_distribution<double> fast(100.0), slow(20.0);
    while (t < change) {
      r.add(t);
      t += fast(rng);
    }
    // Relative standard deviation √(ln 2 / (2λh)) = 0.76 %; allow four of them.
    CHECK(r.rate(change) == Approx(100).epsilon(4 * std::sqrt(std::log(2.0) / (2 * 100 * h))));
    // One half-life after the change half of the gap is closed: 20 + 80/2 = 60.
    const double one_half_life = change + h;
    while (t < one_half_life) {
      r.add(t);
      t += slow(rng);
    }
    CHECK(r.rate(one_half_life) == Approx(60).epsilon(0.05));
    const double later = change + 10 * h;
    while (t < later) {
      r.add(t);
      t += slow(rng);
    }
    CHECK(r.rate(later) == Approx(20 + 80.0 / 1024).epsilon(4 * std::sqrt(std::log(2.0) / (2 * 20 * h))));
    // A stream that stops: the rate decays, it does not freeze.
    CHECK(r.rate(later + 3 * h) == Approx(r.rate(later) / 8).epsilon(0.01));
  }
  SECTION("shards merged equal one estimator") {
    vigil::EventRate whole(30), a(30), b(30);
    whole.start(0);
    a.start(0);
    b.start(0);
    std::mt19937_64 rng(3);
    std::exponential_distribution<double> gap(50.0);
    double t = 0;
    for (int i = 0; i < 20000; ++i) {
      t += gap(rng);
      whole.add(t);
      (i % 2 ? a : b).add(t);
    }
    a.merge(b);
    CHECK(a.count() == whole.count());
    CHECK(a.rate(t + 1) == Approx(whole.rate(t + 1)).epsilon(1e-12));
    const auto bytes = a.serialize();
    CHECK(vigil::EventRate::deserialize(bytes) == a);
    for (std::size_t n = 0; n < bytes.size(); ++n)
      CHECK_THROWS_AS(vigil::EventRate::deserialize(truncated(bytes, n)), vigil::format_error);
  }
}

TEST_CASE("EventRate: bad input", "[rolling]") {
  CHECK_THROWS_AS(vigil::EventRate(0), vigil::invalid_argument);
  CHECK_THROWS_AS(vigil::EventRate(std::numeric_limits<double>::quiet_NaN()), vigil::invalid_argument);
  vigil::EventRate r(10);
  r.start(0);
  r.add(std::numeric_limits<double>::quiet_NaN());
  r.add(std::numeric_limits<double>::infinity(), 3);
  CHECK(r.rejected() == 4);
  CHECK(r.count() == 0);
  r.add(5);
  r.add(4);   // earlier: exact decayed weight
  r.add(-1);  // before the start: placed at the start
  CHECK(r.out_of_order() == 2);
  CHECK(r.count() == 3);
  CHECK(r.decayed_count() == Approx(1 + std::exp2(-0.1) + std::exp2(-0.5)).epsilon(1e-14));
  vigil::EventRate other(20);
  CHECK_THROWS_AS(r.merge(other), vigil::invalid_argument);
}

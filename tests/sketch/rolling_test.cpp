#include <vigil/sketch/rolling.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
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

TEST_CASE("EventRate: one event marks the start, with start() it counts", "[rolling]") {
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

namespace {

constexpr double least_subnormal = std::numeric_limits<double>::denorm_min();

/// Two-pass weighted moments in long double, whose range holds the squares of any double.
struct ExtremeReference {
  long double mean = 0;
  long double m2 = 0;
  double largest = 0;  // largest |value|
};

ExtremeReference extreme_reference(const std::vector<double>& xs) {
  ExtremeReference r;
  for (double x : xs) {
    r.mean += x;
    r.largest = std::max(r.largest, std::fabs(x));
  }
  r.mean /= static_cast<long double>(xs.size());
  for (double x : xs) r.m2 += (x - r.mean) * (x - r.mean);
  return r;
}

/// The data sets near the ends of the double range.
std::vector<std::vector<double>> extreme_data_sets() {
  std::vector<double> ordinary_and_huge;
  for (int i = 1; i <= 100; ++i) ordinary_and_huge.push_back(i);
  ordinary_and_huge.push_back(1e160);
  std::vector<double> both_ends = {1e308, -1e308};
  for (int i = 0; i < 50; ++i) both_ends.push_back(i % 2 ? 1e308 : -1e308);
  for (int i = 0; i < 20; ++i) both_ends.push_back(0.25 * i);
  std::vector<double> subnormals;
  for (int i = 1; i <= 50; ++i) subnormals.push_back(least_subnormal * i);
  return {
      {1e308, -1e308},
      ordinary_and_huge,
      both_ends,
      subnormals,
      {least_subnormal, 1e-300, 1, 1e160, -1e308, 3, 2.5e-310, -7},
      {-1e308, -1e308, -1e308},
  };
}

/// mean within 10⁻¹² of the largest |value| (plus one subnormal step), stddev within
/// 10⁻¹² relative wherever the squared deviations are normal doubles; variance +inf exactly
/// when the true variance exceeds the double range.
void check_against_reference(const vigil::RunningStats& s, const std::vector<double>& xs) {
  const ExtremeReference r = extreme_reference(xs);
  const double n = static_cast<double>(xs.size());
  CHECK(s.count() == n);
  CHECK(s.min() == *std::min_element(xs.begin(), xs.end()));
  CHECK(s.max() == *std::max_element(xs.begin(), xs.end()));
  CHECK(s.min() <= s.mean());
  CHECK(s.mean() <= s.max());
  CHECK(std::fabs(static_cast<long double>(s.mean()) - r.mean) <= 1e-12L * r.largest + least_subnormal);
  const long double variance = r.m2 / (n - 1);
  const long double sd = std::sqrt(variance);
  CHECK(std::isfinite(s.stddev()));
  if (variance > std::numeric_limits<double>::max()) {
    CHECK(s.variance() == std::numeric_limits<double>::infinity());
  } else if (variance >= std::numeric_limits<double>::min()) {
    CHECK(relative_error(s.variance(), variance) <= 1e-12);
  } else {
    CHECK(s.variance() <= std::numeric_limits<double>::min());
  }
  if (sd >= 0x1p-511L) {
    CHECK(relative_error(s.stddev(), sd) <= 1e-12);
    CHECK(relative_error(s.population_stddev(), std::sqrt(r.m2 / n)) <= 1e-12);
  }
}

/// Serialises, reads back and re-serialises: the same state and the same bytes, written in
/// version 1 when the exponent is 0 and version 2 otherwise.
void check_round_trip(const vigil::RunningStats& s) {
  const std::vector<std::uint8_t> bytes = s.serialize();
  const vigil::RunningStats back = vigil::RunningStats::deserialize(bytes);
  CHECK(back == s);
  CHECK(back.serialize() == bytes);
  CHECK(bytes[4] == (s.exponent() == 0 ? 1 : 2));
  CHECK(s.invariant_violation().empty());
  CHECK(back.mean() == s.mean());
  CHECK(back.stddev() == s.stddev());
}

/// `bytes` with the f64 at `offset` replaced by `value`.
std::vector<std::uint8_t> with_f64(std::vector<std::uint8_t> bytes, std::size_t offset, double value) {
  std::uint64_t bits = 0;
  std::memcpy(&bits, &value, sizeof bits);
  for (std::size_t i = 0; i < 8; ++i) bytes[offset + i] = static_cast<std::uint8_t>(bits >> (8 * i));
  return bytes;
}

}  // namespace

TEST_CASE("RunningStats: values near the double range never overflow its state", "[rolling][extremes]") {
  for (const std::vector<double>& xs : extreme_data_sets()) {
    INFO("first value " << xs.front() << ", " << xs.size() << " values");
    vigil::RunningStats s;
    for (double x : xs) s.add(x);
    CHECK(s.rejected() == 0);
    check_against_reference(s, xs);
    check_round_trip(s);
    // Merged from three parts: the same statistics within the same bounds.
    vigil::RunningStats parts[3];
    for (std::size_t i = 0; i < xs.size(); ++i) parts[i % 3].add(xs[i]);
    vigil::RunningStats merged = parts[2];
    merged.merge(parts[0]);
    merged.merge(parts[1]);
    check_against_reference(merged, xs);
    check_round_trip(merged);
  }
  // ±1e308 together: the mean is 0, the standard deviation √2·10³⁰⁸ is finite, the variance
  // 2·10⁶¹⁶ is not.
  vigil::RunningStats s;
  s.add(1e308);
  s.add(-1e308);
  CHECK(s.mean() == 0);
  CHECK(s.population_stddev() == Approx(1e308).epsilon(1e-15));
  CHECK(s.stddev() == Approx(std::sqrt(2.0) * 1e308).epsilon(1e-15));
  CHECK(s.variance() == std::numeric_limits<double>::infinity());
  CHECK(s.exponent() > 0);
  CHECK(s.exponent() <= vigil::RunningStats::max_exponent);
}

TEST_CASE("RunningStats: ordinary values keep exponent 0 and the version 1 format", "[rolling][extremes]") {
  vigil::RunningStats s;
  for (int i = 0; i < 1000; ++i) s.add(1e100 + 1e90 * i);
  CHECK(s.exponent() == 0);
  check_round_trip(s);
  // A scaled summary merged into an ordinary one scales it.
  vigil::RunningStats huge;
  huge.add(1e300);
  huge.add(-1e300);
  vigil::RunningStats both = s;
  both.merge(huge);
  CHECK(both.exponent() > 0);
  CHECK(both.count() == 1002);
  CHECK(both.min() == -1e300);
  CHECK(both.max() == 1e300);
  check_round_trip(both);
}

TEST_CASE("RunningStats: huge weights scale the state, a total weight beyond the range throws", "[rolling][extremes]") {
  vigil::RunningStats s;
  s.add(1e160, 1e300);
  s.add(-1e160, 1e300);
  CHECK(s.count() == 2e300);
  CHECK(s.mean() == 0);
  CHECK(s.population_stddev() == Approx(1e160).epsilon(1e-12));
  check_round_trip(s);
  vigil::RunningStats t;
  t.add(1, 1e308);
  const vigil::RunningStats before = t;
  CHECK_THROWS_AS(t.add(2, 1e308), vigil::invalid_argument);
  CHECK(t == before);
  CHECK_THROWS_AS(t.merge(before), vigil::invalid_argument);
  CHECK(t == before);
}

TEST_CASE("RunningStats: the reader refuses states the queries cannot rely on", "[rolling][extremes]") {
  vigil::RunningStats s;
  for (double x : {1.0, 2.0, 3.0}) s.add(x);
  const std::vector<std::uint8_t> v1 = s.serialize();
  REQUIRE(v1[4] == 1);
  // Layout after the header: count 8, first value 16, mean 24, M2 32, min 40, max 48.
  CHECK_THROWS_AS(vigil::RunningStats::deserialize(with_f64(v1, 24, 1e10)), vigil::format_error);   // mean > max
  CHECK_THROWS_AS(vigil::RunningStats::deserialize(with_f64(v1, 24, -1.5)), vigil::format_error);   // mean < min
  CHECK_THROWS_AS(vigil::RunningStats::deserialize(with_f64(v1, 16, 100)), vigil::format_error);    // first value > max
  CHECK_THROWS_AS(vigil::RunningStats::deserialize(with_f64(v1, 32, -1)), vigil::format_error);     // M2 < 0
  CHECK_THROWS_AS(vigil::RunningStats::deserialize(with_f64(v1, 40, 5)), vigil::format_error);      // min > max
  CHECK_THROWS_AS(vigil::RunningStats::deserialize(with_f64(v1, 8, -3)), vigil::format_error);      // count < 0
  auto flagged = v1;
  flagged[6] = 1;
  CHECK_THROWS_AS(vigil::RunningStats::deserialize(flagged), vigil::format_error);
  const std::vector<std::uint8_t> empty = vigil::RunningStats().serialize();
  CHECK_THROWS_AS(vigil::RunningStats::deserialize(with_f64(empty, 24, 1)), vigil::format_error);

  vigil::RunningStats scaled;
  scaled.add(1e308);
  scaled.add(-1e308);
  const std::vector<std::uint8_t> v2 = scaled.serialize();
  REQUIRE(v2[4] == 2);
  REQUIRE(v2.size() == v1.size() + 2);  // the exponent 577 as a two-byte varint at offset 24
  for (std::size_t n = 0; n < v2.size(); ++n)
    CHECK_THROWS_AS(vigil::RunningStats::deserialize(truncated(v2, n)), vigil::format_error);
  auto exponent = v2;
  exponent[24] = 0;
  exponent[25] = 0;  // exponent 0 is written as version 1; as version 2 it is malformed
  CHECK_THROWS_AS(vigil::RunningStats::deserialize(exponent), vigil::format_error);
  exponent[24] = 0xff;
  exponent[25] = 0x7f;  // 16383 > max_exponent
  CHECK_THROWS_AS(vigil::RunningStats::deserialize(exponent), vigil::format_error);
  auto newer = v2;
  newer[4] = 3;
  CHECK_THROWS_AS(vigil::RunningStats::deserialize(newer), vigil::format_error);
}

TEST_CASE("Ewma and EventRate: half-lives outside [1e-6, 1e12] s are refused", "[rolling][extremes]") {
  for (double h : {2e-308, 1e-7, 1e13, 1e308}) {
    INFO("half-life " << h);
    CHECK_THROWS_AS(vigil::Ewma(h), vigil::invalid_argument);
    CHECK_THROWS_AS(vigil::EventRate(h), vigil::invalid_argument);
    // Half-life is the first field after the header.
    CHECK_THROWS_AS(vigil::Ewma::deserialize(with_f64(vigil::Ewma(60).serialize(), 8, h)), vigil::format_error);
    CHECK_THROWS_AS(vigil::EventRate::deserialize(with_f64(vigil::EventRate(60).serialize(), 8, h)), vigil::format_error);
  }
  for (double h : {1e-6, 1e12}) {
    vigil::EventRate r(h);
    r.start(0);
    r.add(h);
    r.add(2 * h, 1000);
    CHECK(std::isfinite(r.rate()));
    CHECK(vigil::EventRate::deserialize(r.serialize()) == r);
    vigil::Ewma e(h);
    e.add(1, 0);
    e.add(2, h);
    CHECK(vigil::Ewma::deserialize(e.serialize()) == e);
  }
}

TEST_CASE("Ewma: values after one event far in the future are counted as refused, not lost", "[rolling][extremes]") {
  vigil::Ewma e(60);
  for (int i = 0; i < 10; ++i) e.add(10 + i, 1000 + i);
  e.add(500, 1000 + 1e9);  // a clock error: 10⁹ s ahead
  for (int i = 0; i < 5; ++i) e.add(20, 1010 + i);
  // The five later values weigh 2^(−10⁹/60) = 0 against the latest time: refused and
  // counted, not counted as accepted.
  CHECK(e.count() == 11);
  CHECK(e.rejected() == 5);
  CHECK(e.out_of_order() == 5);
  CHECK(e.mean() == 500);
  CHECK(e.latest_time() == 1000 + 1e9);
  // A value within the memory of the latest time is accepted: the estimator moves on.
  e.add(100, 1000 + 1e9 + 60);
  CHECK(e.count() == 12);
  CHECK(e.mean() == Approx((500 * 0.5 + 100) / 1.5).epsilon(1e-12));
  const vigil::Ewma back = vigil::Ewma::deserialize(e.serialize());
  CHECK(back == e);
}

TEST_CASE("EventRate: events after one event far in the future are counted as refused, not lost", "[rolling][extremes]") {
  vigil::EventRate r(60);
  r.start(0);
  for (int i = 1; i <= 10; ++i) r.add(i);
  r.add(1e9);
  for (int i = 11; i <= 15; ++i) r.add(i, 2);
  CHECK(r.count() == 11);
  CHECK(r.rejected() == 10);
  CHECK(r.out_of_order() == 10);
  CHECK(r.decayed_count() == 1);
  CHECK(std::isfinite(r.rate()));
  CHECK(vigil::EventRate::deserialize(r.serialize()) == r);
}

TEST_CASE("Ewma: values that would overflow its state are refused and counted", "[rolling][extremes]") {
  vigil::Ewma e(60);
  e.add(1, 100);
  e.add(1e308, 101);
  e.add(-1e308, 102);
  e.add(1e160, 103);
  e.add(2, 104, 1e200);  // Σw² would be infinite
  CHECK(e.rejected() == 4);
  CHECK(e.count() == 1);
  CHECK(e.mean() == 1);
  e.add(3, 105);
  CHECK(e.count() == 2);
  CHECK(std::isfinite(e.variance()));
  CHECK(e.invariant_violation().empty());
  CHECK(vigil::Ewma::deserialize(e.serialize()) == e);
}

TEST_CASE("Ewma: the reader refuses states the queries cannot rely on", "[rolling][extremes]") {
  vigil::Ewma e(30);
  e.add(1, 10);
  e.add(3, 20);
  const std::vector<std::uint8_t> bytes = e.serialize();
  // Layout after the header: half-life 8, W 16, Σw² 24, mean 32, M2 40, latest 48, varints.
  CHECK_THROWS_AS(vigil::Ewma::deserialize(with_f64(bytes, 24, 1e6)), vigil::format_error);  // Σw² > W²
  CHECK_THROWS_AS(vigil::Ewma::deserialize(with_f64(bytes, 16, 0)), vigil::format_error);    // values, no weight
  CHECK_THROWS_AS(vigil::Ewma::deserialize(with_f64(bytes, 40, -1)), vigil::format_error);   // M2 < 0
  // Σw² of −0 beside a weight: W²/Σw² is −inf, below any bound, yet no stream makes it.
  CHECK_THROWS_WITH(vigil::Ewma::deserialize(with_f64(bytes, 24, -0.0)), Catch::Contains("sum of squared weights -0"));
  CHECK_THROWS_AS(vigil::Ewma::deserialize(with_f64(bytes, 24, 0.0)), vigil::format_error);
  const std::vector<std::uint8_t> empty = vigil::Ewma(30).serialize();
  CHECK_THROWS_AS(vigil::Ewma::deserialize(with_f64(empty, 48, 5)), vigil::format_error);  // time without values
  CHECK_THROWS_AS(vigil::Ewma::deserialize(with_f64(empty, 24, 1)), vigil::format_error);
  auto flagged = bytes;
  flagged[7] = 0x80;
  CHECK_THROWS_AS(vigil::Ewma::deserialize(flagged), vigil::format_error);
}

TEST_CASE("EventRate: the reader refuses states the queries cannot rely on, rate() stays finite", "[rolling][extremes]") {
  vigil::EventRate r(60);
  r.start(0);
  r.add(1, 3);
  const std::vector<std::uint8_t> bytes = r.serialize();
  // Layout after the header: half-life 8, decayed count 16, start 24, latest 32, varints.
  CHECK_THROWS_AS(vigil::EventRate::deserialize(with_f64(bytes, 16, 1e300)), vigil::format_error);  // C > count
  CHECK_THROWS_AS(vigil::EventRate::deserialize(with_f64(bytes, 24, 5)), vigil::format_error);      // start > latest
  const std::vector<std::uint8_t> unstarted = vigil::EventRate(60).serialize();
  CHECK_THROWS_AS(vigil::EventRate::deserialize(with_f64(unstarted, 24, -5)), vigil::format_error);
  auto flagged = bytes;
  flagged[6] = 3;
  CHECK_THROWS_AS(vigil::EventRate::deserialize(flagged), vigil::format_error);

  // 10¹⁰ events 10⁻³⁰⁰ s after the start: no rate can be told from so little exposure.
  vigil::EventRate burst(60);
  burst.start(0);
  burst.add(1e-300, 10'000'000'000ULL);
  CHECK_FALSE(std::isinf(burst.rate()));
  CHECK(std::isfinite(burst.rate(1)));
  // A count that would wrap around 64 bits throws and changes nothing.
  vigil::EventRate full(60);
  full.add(0, std::numeric_limits<std::uint64_t>::max());
  CHECK_THROWS_AS(full.add(1), vigil::invalid_argument);
  CHECK(full.count() == std::numeric_limits<std::uint64_t>::max());
  CHECK_THROWS_AS(full.merge(r), vigil::invalid_argument);
}

TEST_CASE("RunningStats: the reader refuses an M2 the range of the values cannot hold", "[rolling][extremes]") {
  vigil::RunningStats s;
  s.add(0);
  s.add(1);
  const std::vector<std::uint8_t> bytes = s.serialize();
  // Layout after the header: count 8, first value 16, mean 24, M2 32, min 40, max 48.
  // Two values in [0, 1] have M2 ≤ 1/2; 10³⁰⁰ would give a variance of 10³⁰⁰.
  CHECK_THROWS_AS(vigil::RunningStats::deserialize(with_f64(bytes, 32, 1e300)), vigil::format_error);
  CHECK(vigil::RunningStats::deserialize(with_f64(bytes, 32, 0.5)).population_variance() == 0.25);
  // A weight of 10⁻³⁰⁰ in all: M2 = 1 over it is an infinite variance of values in [0, 1].
  CHECK_THROWS_AS(vigil::RunningStats::deserialize(with_f64(with_f64(bytes, 8, 1e-300), 32, 1)), vigil::format_error);

  // Values ±2^499 apart, at exponent 0: add() and merge() keep M2 ≤ 2^1000 (rescaling
  // beyond it); a larger one, whose updates would overflow, is refused.
  vigil::RunningStats wide;
  wide.add(-0x1p440);
  wide.add(0x1p440);
  REQUIRE(wide.exponent() == 0);
  const std::vector<std::uint8_t> wide_bytes = wide.serialize();
  CHECK(vigil::RunningStats::deserialize(wide_bytes) == wide);
  CHECK_THROWS_AS(vigil::RunningStats::deserialize(with_f64(wide_bytes, 32, 0x1p1010)), vigil::format_error);
  // A maximum 2^1010 from the first value at exponent 0 is no state add() or merge() makes.
  CHECK_THROWS_AS(vigil::RunningStats::deserialize(with_f64(wide_bytes, 48, 0x1p1010)), vigil::format_error);
}

TEST_CASE("RunningStats: a total weight below 1 keeps the standard deviation finite", "[rolling][extremes]") {
  vigil::RunningStats s;
  s.add(-1e300, 1e-300);
  s.add(1e300, 1e-300);
  REQUIRE(s.count() == 2e-300);
  // The variance 10⁶⁰⁰ exceeds the double range; its square root does not.
  CHECK(s.population_variance() == std::numeric_limits<double>::infinity());
  CHECK(s.population_stddev() == Approx(1e300).epsilon(1e-9));
  CHECK(s.invariant_violation().empty());
  CHECK(vigil::RunningStats::deserialize(s.serialize()) == s);
}

TEST_CASE("RunningStats: a subnormal total weight keeps the population variance within the range bound", "[rolling][extremes]") {
  // A state the reader accepts (found by fuzz/running_stats): a total weight of about
  // 1e-309, values in [2^266, 2^498] in units of 2^561. M2 / count leaves the double range
  // although the spread cannot exceed ((max − min) / 2)² ≈ 2^994.
  const std::vector<std::uint8_t> bytes = {
      0x56, 0x49, 0x47, 0x4c, 0x02, 0x03, 0x00, 0x00, 0x00, 0x05, 0x00, 0x00, 0x00, 0xf8, 0x00, 0x00,
      0x00, 0x00, 0x00, 0x2e, 0x35, 0x8d, 0x13, 0x5f, 0xb1, 0x04, 0x00, 0x00, 0x2e, 0x30, 0x8d, 0xd3,
      0xdb, 0x9b, 0x75, 0x00, 0x88, 0x3c, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x1a, 0xae, 0x2c,
      0x96, 0x50, 0x2e, 0x35, 0x8d, 0x2e, 0x35, 0x8d, 0x13, 0x5f, 0xff, 0xff, 0xff, 0xff, 0x5f};
  const vigil::RunningStats s = vigil::RunningStats::deserialize(bytes);
  REQUIRE(s.count() > 0);
  REQUIRE(s.count() < std::numeric_limits<double>::min());
  const double half_range = s.max() / 2 - s.min() / 2;
  CHECK(std::isfinite(s.population_variance()));
  CHECK(s.population_variance() <= half_range * half_range);
  CHECK(s.population_stddev() <= half_range);
  // A single value spreads nothing, whatever M2 rounding left.
  vigil::RunningStats one;
  one.add(3, 1e-310);
  CHECK(one.population_variance() == 0);
}

TEST_CASE("RunningStats: the population standard deviation stays within half the range", "[rolling][extremes]") {
  vigil::RunningStats s;
  s.add(0);
  s.add(1);
  // M2 = 2 for two values in [0, 1] (exactly 1/2), within the rounding room the reader
  // leaves: the standard deviation is still at most (max − min) / 2 (Popoviciu).
  const vigil::RunningStats loose = vigil::RunningStats::deserialize(with_f64(s.serialize(), 32, 2));
  CHECK(loose.population_stddev() == 0.5);
  CHECK(s.population_stddev() == 0.5);
}

TEST_CASE("Ewma: the effective count stays finite and within count()", "[rolling][extremes]") {
  vigil::Ewma e(30);
  for (int i = 0; i < 2000; ++i) e.add(1, 10);
  std::vector<std::uint8_t> bytes = e.serialize();
  // Layout after the header: half-life 8, W 16, Σw² 24, mean 32, M2 40, latest 48, then the
  // varints count, out of order, rejected.
  CHECK_THROWS_AS(vigil::Ewma::deserialize(with_f64(bytes, 24, 1)), vigil::format_error);  // 2000² / 1 > 2000
  // 2^61 values, W = 2^540 and Σw² = 2^1020: W² leaves the double range, W²/Σw² = 2^60
  // does not.
  bytes.resize(56);
  vigil::io::Writer w(bytes);
  w.varint(std::uint64_t{1} << 61);
  w.varint(0);
  w.varint(0);
  const vigil::Ewma big = vigil::Ewma::deserialize(with_f64(with_f64(bytes, 16, 0x1p540), 24, 0x1p1020));
  CHECK(big.effective_count() == 0x1p60);
  // An effective count above the number of values is no state add() or merge() makes.
  CHECK_THROWS_AS(vigil::Ewma::deserialize(with_f64(with_f64(bytes, 16, 0x1p540), 24, 0x1p1010)), vigil::format_error);
}

TEST_CASE("Ewma: the reader refuses a spread or a mean beyond the value limit", "[rolling][extremes]") {
  vigil::Ewma e(30);
  e.add(1, 10);
  const std::vector<std::uint8_t> bytes = e.serialize();
  // W = 10⁻³²⁰ and M2 = 1: a variance of 10³²⁰ from values within ±2^448.
  CHECK_THROWS_AS(vigil::Ewma::deserialize(with_f64(with_f64(with_f64(bytes, 16, 1e-320), 24, 0), 40, 1)),
                  vigil::format_error);
  CHECK_THROWS_AS(vigil::Ewma::deserialize(with_f64(bytes, 32, 1e300)), vigil::format_error);  // mean
}

TEST_CASE("Ewma: a value that would overflow count() throws and changes nothing", "[rolling][extremes]") {
  vigil::Ewma e(30);
  e.add(1, 10);
  std::vector<std::uint8_t> bytes = e.serialize();
  // The varints after latest time (offset 56): count, out of order, rejected.
  bytes.resize(56);
  vigil::io::Writer w(bytes);
  w.varint(std::numeric_limits<std::uint64_t>::max());
  w.varint(0);
  w.varint(0);
  vigil::Ewma full = vigil::Ewma::deserialize(bytes);
  const vigil::Ewma before = full;
  CHECK_THROWS_AS(full.add(2, 11), vigil::invalid_argument);
  CHECK(full == before);
  full.add(std::numeric_limits<double>::quiet_NaN(), 11);  // refused values are only counted
  CHECK(full.rejected() == 1);
  CHECK(full.count() == std::numeric_limits<std::uint64_t>::max());
}

TEST_CASE("RunningStats: a weight far above the count never makes M2 negative", "[rolling][extremes]") {
  vigil::RunningStats s;
  s.add(23);
  s.add(92);
  // With 10³⁰⁰ against 2 the new mean rounds past 5.8, and w·δ·(y − mean) came out negative.
  s.add(5.8, 1e300);
  CHECK(s.invariant_violation().empty());
  CHECK(s.population_variance() >= 0);
  CHECK(s.mean() == Approx(5.8));
  CHECK(vigil::RunningStats::deserialize(s.serialize()) == s);
}

TEST_CASE("Ewma: a long pause after large weights decays Σw² without underflow", "[rolling][extremes]") {
  vigil::Ewma e(1);
  e.add(1, 0, 1e150);
  // 600 half-lives: the factor 2^−600 squared underflows, the decayed Σw² (about 2^−204)
  // does not; the new value's 10⁻⁶⁰ squared is far below it.
  e.add(2, 600, 1e-60);
  CHECK(e.effective_count() <= 2);
  CHECK(e.effective_count() == Approx(1).epsilon(1e-6));
  CHECK(e.invariant_violation().empty());
  CHECK(vigil::Ewma::deserialize(e.serialize()) == e);
}

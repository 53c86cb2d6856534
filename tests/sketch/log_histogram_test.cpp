#include <vigil/sketch/log_histogram.hpp>
#include <vigil/sketch/tdigest.hpp>
#include <vigil/io/binary.hpp>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <thread>
#include <vector>

#include "vigil_test.hpp"

using vigil::ConcurrentLogHistogram;
using vigil::LogHistogram;
using vigil::LogHistogramOptions;

namespace {

constexpr double not_a_number = std::numeric_limits<double>::quiet_NaN();
constexpr double inf = std::numeric_limits<double>::infinity();

// The bucket index from the definition: the i with b^i < x ≤ b^(i+1), b = 2^(2^-s). x is split
// exactly into 2^e·m with m in [1, 2); log2 of m in long double places m among the 2^s
// irrational boundaries of its octave with 11 bits to spare.
std::int64_t reference_index(double x, int scale) {
  int e2;
  const double fraction = std::frexp(x, &e2);
  const std::int64_t e = e2 - 1;
  const long double m = 2.0L * fraction;
  std::int64_t at_scale_zero_or_more;
  const int s = std::max(scale, 0);
  if (m == 1) {
    at_scale_zero_or_more = e * (std::int64_t{1} << s) - 1;
  } else {
    const long double position = std::log2(m) * static_cast<long double>(std::int64_t{1} << s);
    at_scale_zero_or_more = e * (std::int64_t{1} << s) + static_cast<std::int64_t>(std::ceil(position)) - 1;
  }
  if (scale >= 0) return at_scale_zero_or_more;
  return static_cast<std::int64_t>(std::floor(static_cast<long double>(at_scale_zero_or_more) /
                                              static_cast<long double>(std::int64_t{1} << -scale)));
}

double relative_bound(int scale) {
  const long double base = std::exp2(std::exp2(-static_cast<long double>(scale)));
  return static_cast<double>((base - 1) / (base + 1));
}

std::vector<double> lognormal(std::size_t n, std::uint32_t seed) {
  std::mt19937_64 rng(seed);
  std::lognormal_distribution<double> dist(0.0, 1.5);
  std::vector<double> out(n);
  for (double& x : out) x = dist(rng);
  return out;
}

std::vector<double> pareto(std::size_t n, std::uint32_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::vector<double> out(n);
  for (double& x : out) x = 1e-3 / std::pow(1 - u(rng), 1 / 1.2);
  return out;
}

std::vector<double> bimodal(std::size_t n, std::uint32_t seed) {
  std::mt19937_64 rng(seed);
  std::lognormal_distribution<double> fast(std::log(2e-3), 0.2);
  std::lognormal_distribution<double> slow(std::log(0.3), 0.5);
  std::bernoulli_distribution pick(0.8);
  std::vector<double> out(n);
  for (double& x : out) x = pick(rng) ? fast(rng) : slow(rng);
  return out;
}

// The largest relative error of quantile(q) against the ⌈q·n⌉-th smallest value.
double worst_relative_error(const LogHistogram& h, std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const auto n = static_cast<long double>(values.size());
  double worst = 0;
  for (double q : {0.0, 1e-4, 1e-3, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 0.999, 0.9999, 1.0}) {
    const auto k = std::max<std::size_t>(1, static_cast<std::size_t>(std::ceil(q * n)));
    const double exact = values[k - 1];
    worst = std::max(worst, std::fabs(h.quantile(q) - exact) / exact);
  }
  return worst;
}

std::vector<double> log_uniform(std::size_t n, double lo, double hi, std::uint32_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(std::log(lo), std::log(hi));
  std::vector<double> out(n);
  for (double& x : out) x = std::exp(u(rng));
  return out;
}

template <class A, class B>
bool same_buckets(const A& a, const B& b) {
  const auto x = a.buckets();
  const auto y = b.buckets();
  if (x.size() != y.size() || a.count() != b.count() || a.zero_count() != b.zero_count()) return false;
  for (std::size_t i = 0; i < x.size(); ++i)
    if (x[i].index != y[i].index || x[i].count != y[i].count) return false;
  return true;
}

}  // namespace

TEST_CASE("LogHistogram: empty histogram", "[log_histogram]") {
  LogHistogram h;
  CHECK(h.empty());
  CHECK(h.count() == 0);
  CHECK(h.scale() == 5);
  CHECK(h.sum() == 0);
  CHECK(std::isnan(h.quantile(0.5)));
  CHECK(std::isnan(h.min()));
  CHECK(std::isnan(h.max()));
  CHECK(std::isnan(h.mean()));
  CHECK(h.buckets().empty());
  const auto cumulative = h.cumulative_buckets(5);
  REQUIRE(cumulative.size() == 1);
  CHECK(cumulative[0].first == inf);
  CHECK(cumulative[0].second == 0);
  CHECK(h.memory_bytes() == sizeof(LogHistogram));
  CHECK(h == LogHistogram());
}

TEST_CASE("LogHistogram: one value", "[log_histogram]") {
  LogHistogram h(5);
  h.record(0.125);
  CHECK(h.count() == 1);
  CHECK_FALSE(h.empty());
  CHECK(h.sum() == 0.125);
  CHECK(h.min() == 0.125);
  CHECK(h.max() == 0.125);
  // 0.125 = 2^-3 is an exact power of the base: the top of bucket -3·32 − 1.
  const auto buckets = h.buckets();
  REQUIRE(buckets.size() == 1);
  CHECK(buckets[0].index == -97);
  CHECK(buckets[0].upper == 0.125);
  CHECK(buckets[0].lower == Approx(0.125 / std::exp2(1.0 / 32)).epsilon(1e-15));
  CHECK(buckets[0].count == 1);
  // min and max are exact, and clamp every quantile.
  CHECK(h.quantile(0) == 0.125);
  CHECK(h.quantile(0.5) == 0.125);
  CHECK(h.quantile(1) == 0.125);
  h.record(0.2, 3);
  CHECK(h.count() == 4);
  CHECK(h.sum() == Approx(0.725));
  CHECK(h.zero_count() == 0);
}

TEST_CASE("LogHistogram: many values", "[log_histogram]") {
  LogHistogram h;
  std::vector<double> values = lognormal(20000, 1);
  for (double x : values) h.record(x);
  CHECK(h.count() == values.size());
  CHECK(h.min() == *std::min_element(values.begin(), values.end()));
  CHECK(h.max() == *std::max_element(values.begin(), values.end()));
  double total = 0;
  for (double x : values) total += x;
  CHECK(h.sum() == Approx(total).epsilon(1e-12));
  CHECK(h.mean() == Approx(total / values.size()).epsilon(1e-12));
  // Each value is in the bucket whose edges enclose it; the buckets account for every value.
  std::uint64_t in_buckets = 0;
  for (const auto& b : h.buckets()) {
    CHECK(b.count > 0);
    CHECK(b.upper == Approx(b.lower * std::exp2(1.0 / 32)).epsilon(1e-14));
    in_buckets += b.count;
  }
  CHECK(in_buckets == values.size());
  for (std::size_t i = 0; i < 200; ++i) {
    const double x = values[i];
    const std::int64_t index = h.bucket_index(x);
    CHECK(h.bucket_lower(index) < x);
    CHECK(x <= h.bucket_upper(index));
  }
}

TEST_CASE("LogHistogram: bad input is counted, never stored", "[log_histogram]") {
  LogHistogram h;
  h.record(not_a_number);
  h.record(inf, 2);
  h.record(-inf);
  h.record(-1.5, 4);
  h.record(-DBL_MIN);
  h.record(7.0, 0);  // n = 0: nothing
  CHECK(h.empty());
  CHECK(h.not_finite() == 4);
  CHECK(h.negative() == 5);
  CHECK(h.rejected() == 9);
  CHECK(std::isnan(h.min()));
  CHECK(h.sum() == 0);

  h.record(-0.0);
  h.record(0.0, 2);
  CHECK(h.zero_count() == 3);
  CHECK(h.count() == 3);
  CHECK(std::signbit(h.min()) == false);
  CHECK(h.quantile(0.5) == 0);

  CHECK_THROWS_AS(h.quantile(-0.01), vigil::invalid_argument);
  CHECK_THROWS_AS(h.quantile(1.01), vigil::invalid_argument);
  CHECK_THROWS_AS(h.quantile(not_a_number), vigil::invalid_argument);
  CHECK_THROWS_AS(h.bucket_index(0), vigil::invalid_argument);
  CHECK_THROWS_AS(h.bucket_index(-1), vigil::invalid_argument);
  CHECK_THROWS_AS(h.bucket_index(inf), vigil::invalid_argument);
  CHECK_THROWS_AS(h.cumulative_buckets(6), vigil::invalid_argument);
  CHECK_THROWS_AS(h.cumulative_buckets(-11), vigil::invalid_argument);
  CHECK_THROWS_AS(h.downscale(-1), vigil::invalid_argument);
  CHECK_THROWS_AS(h.downscale(16), vigil::invalid_argument);
  CHECK(h.scale() == 5);

  CHECK_THROWS_AS(LogHistogram(11), vigil::invalid_argument);
  CHECK_THROWS_AS(LogHistogram(-11), vigil::invalid_argument);
  CHECK_NOTHROW(LogHistogram(10));
  CHECK_NOTHROW(LogHistogram(-10));
  const auto with = [](auto change) {
    LogHistogramOptions options;
    change(options);
    return options;
  };
  CHECK_THROWS_AS(LogHistogram(with([](auto& o) { o.zero_threshold = -1; })), vigil::invalid_argument);
  CHECK_THROWS_AS(LogHistogram(with([](auto& o) { o.zero_threshold = not_a_number; })), vigil::invalid_argument);
  CHECK_THROWS_AS(LogHistogram(with([](auto& o) { o.zero_threshold = inf; })), vigil::invalid_argument);
  CHECK_THROWS_AS(LogHistogram(with([](auto& o) { o.max_buckets = 7; })), vigil::invalid_argument);
  CHECK_THROWS_AS(LogHistogram(with([](auto& o) { o.max_buckets = (1 << 20) + 1; })), vigil::invalid_argument);
  CHECK_THROWS_AS(ConcurrentLogHistogram(with([](auto& o) { o.lowest = 0; })), vigil::invalid_argument);
  CHECK_THROWS_AS(ConcurrentLogHistogram(with([](auto& o) { o.lowest = DBL_MIN / 4; })), vigil::invalid_argument);
  CHECK_THROWS_AS(ConcurrentLogHistogram(with([](auto& o) { o.lowest = not_a_number; })), vigil::invalid_argument);

  LogHistogram other(with([](auto& o) { o.zero_threshold = 1e-3; }));
  CHECK_THROWS_AS(h.merge(other), vigil::invalid_argument);
  CHECK(h.count() == 3);
}

TEST_CASE("LogHistogram: zero threshold", "[log_histogram]") {
  LogHistogramOptions options;
  options.zero_threshold = 1e-3;
  LogHistogram h(options);
  h.record(5e-4);
  h.record(1e-3);
  h.record(std::nextafter(1e-3, 1.0));
  h.record(4.9e-324);  // the smallest subnormal
  CHECK(h.zero_count() == 3);
  CHECK(h.count() == 4);
  REQUIRE(h.buckets().size() == 1);
  CHECK(h.buckets()[0].index == h.bucket_index(std::nextafter(1e-3, 1.0)));
  CHECK(h.quantile(0.5) == 4.9e-324);  // ranks in the zero bucket answer min()
  const auto cumulative = h.cumulative_buckets(2);
  CHECK(cumulative.front() == std::make_pair(1e-3, std::uint64_t{3}));
  CHECK(cumulative.back() == std::make_pair(inf, std::uint64_t{4}));
}

TEST_CASE("LogHistogram: boundary tables are exact", "[log_histogram]") {
  // bound[k] is the largest 52-bit mantissa m with 1 + m/2^52 < 2^(k/2^s), checked with
  // integer arithmetic: (2^52 + m)^(2^s) < 2^(52·2^s + k) ≤ (2^52 + m + 1)^(2^s).
  for (int s = 1; s <= 7; ++s) {
    const auto& table = vigil::detail::log_bucket_table(s);
    const std::int64_t octave = std::int64_t{1} << s;
    for (std::int64_t k = 1; k < octave; ++k) {
      const std::uint64_t m = (std::uint64_t{1} << 52) + table.bound[static_cast<std::size_t>(k)];
      const std::int64_t e = 52 * octave + k;
      INFO("scale " << s << " boundary " << k);
      CHECK_FALSE(vigil::detail::power_reaches_pow2(m, s, e));
      CHECK(vigil::detail::power_reaches_pow2(m + 1, s, e));
    }
  }
}

TEST_CASE("LogHistogram: index at and around every boundary", "[log_histogram]") {
  std::uint64_t checked = 0;
  for (int scale : {-10, -4, -1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 10}) {
    LogHistogram h(scale);
    const int s = std::max(scale, 0);
    const std::int64_t octave = std::int64_t{1} << s;
    for (int e : {-1074, -1060, -1022, -1021, -40, -1, 0, 1, 7, 300, 1023}) {
      for (std::int64_t k = 0; k < octave; ++k) {
        const double boundary =
            static_cast<double>(std::ldexp(std::exp2(static_cast<long double>(k) / octave), e));
        if (!(boundary > 0) || std::isinf(boundary)) continue;
        double below = boundary;
        double above = boundary;
        for (int step = 0; step < 3; ++step) {
          INFO("scale " << scale << " e " << e << " k " << k << " step " << step);
          if (below > 0) CHECK(h.bucket_index(below) == reference_index(below, scale));
          if (!std::isinf(above)) CHECK(h.bucket_index(above) == reference_index(above, scale));
          below = std::nextafter(below, 0.0);
          above = std::nextafter(above, inf);
          checked += 2;
        }
      }
    }
  }
  CHECK(checked > 100000);
}

TEST_CASE("LogHistogram: exact powers of two and subnormals", "[log_histogram]") {
  for (int scale : {-10, -3, 0, 1, 5, 8, 10}) {
    LogHistogram h(scale);
    for (int e = -1074; e <= 1023; ++e) {
      const double x = std::ldexp(1.0, e);
      // 2^e = b^(e·2^s) closes bucket e·2^s − 1 (floor-divided at negative scales).
      const std::int64_t expected =
          scale >= 0 ? std::int64_t{e} * (std::int64_t{1} << scale) - 1
                     : static_cast<std::int64_t>(std::floor((e - 1.0) / std::exp2(-scale)));
      INFO("scale " << scale << " 2^" << e);
      REQUIRE(h.bucket_index(x) == expected);
    }
    std::mt19937_64 rng(static_cast<std::uint64_t>(scale + 100));
    for (int i = 0; i < 20000; ++i) {
      // Random subnormals and random doubles of any exponent.
      const std::uint64_t subnormal_bits = rng() & ((std::uint64_t{1} << 52) - 1);
      const std::uint64_t any_bits = rng() % 0x7ff0000000000000ull;
      for (std::uint64_t bits : {subnormal_bits, any_bits}) {
        double x;
        std::memcpy(&x, &bits, sizeof x);
        if (x == 0) continue;
        INFO("scale " << scale << " x " << x);
        REQUIRE(h.bucket_index(x) == reference_index(x, scale));
      }
    }
  }
  LogHistogram h(5);
  h.record(4.9e-324);
  h.record(DBL_MIN);
  h.record(DBL_MAX);
  CHECK(h.count() == 3);
  CHECK(h.min() == 4.9e-324);
  CHECK(h.max() == DBL_MAX);
  CHECK(h.quantile(1) == DBL_MAX);
  CHECK(h.quantile(0) == 4.9e-324);
  CHECK(h.scale() < 5);  // 2098 octaves do not fit 1024 buckets at scale 5
  CHECK(h.buckets().size() == 3);
}

TEST_CASE("LogHistogram: quantiles within (b - 1)/(b + 1) of the exact order statistic", "[log_histogram]") {
  const std::size_t n = 100000;
  struct Data {
    const char* name;
    std::vector<double> values;
  };
  const Data data[] = {{"lognormal", lognormal(n, 7)}, {"pareto", pareto(n, 8)}, {"bimodal", bimodal(n, 9)}};
  for (const Data& d : data) {
    for (int scale : {0, 3, 5, 8}) {
      LogHistogramOptions options;
      options.scale = scale;
      options.max_buckets = 1 << 14;
      LogHistogram h(options);
      for (double x : d.values) h.record(x);
      REQUIRE(h.scale() == scale);
      const double worst = worst_relative_error(h, d.values);
      INFO(d.name << " at scale " << scale << ": worst relative error " << worst << ", bound "
                  << relative_bound(scale));
      CHECK(worst <= relative_bound(scale) * (1 + 1e-9));
      if (scale == 5) CHECK(relative_bound(scale) < 0.011);
    }
  }
}

TEST_CASE("LogHistogram: memory bound", "[log_histogram]") {
  SECTION("1 us to 100 s at scale 5 stays within 8 KB, in any order") {
    std::vector<double> values = log_uniform(200000, 1e-6, 100, 3);
    values.push_back(1e-6);
    values.push_back(100);
    LogHistogram random_order;
    for (double x : values) random_order.record(x);
    std::sort(values.begin(), values.end());
    LogHistogram ascending;
    for (double x : values) ascending.record(x);
    LogHistogram descending;
    for (auto it = values.rbegin(); it != values.rend(); ++it) descending.record(*it);
    for (const LogHistogram* h : {&random_order, &ascending, &descending}) {
      INFO("memory " << h->memory_bytes());
      CHECK(h->scale() == 5);
      CHECK(h->memory_bytes() <= 8192);
      CHECK(h->count() == values.size());
    }
    CHECK(same_buckets(random_order, ascending));
    CHECK(same_buckets(random_order, descending));
  }
  SECTION("any range stays within sizeof + 8 * max_buckets by downscaling") {
    LogHistogramOptions options;
    options.max_buckets = 64;
    LogHistogram h(options);
    const std::vector<double> values = log_uniform(50000, 1e-200, 1e200, 4);
    for (double x : values) h.record(x);
    CHECK(h.count() == values.size());
    CHECK(h.memory_bytes() <= sizeof(LogHistogram) + 8 * 64);
    CHECK(h.buckets().back().index - h.buckets().front().index < 64);
    // 1329 octaves over at most 64 buckets: scale -5 (32 octaves a bucket) is the finest fit.
    CHECK(h.scale() == -5);
    // Downscaled automatically, still exact: the same as recording at that scale.
    LogHistogram direct(-5);
    for (double x : values) direct.record(x);
    CHECK(same_buckets(h, direct));
  }
  SECTION("the concurrent window is fixed") {
    ConcurrentLogHistogram h;
    CHECK(h.memory_bytes() == sizeof(ConcurrentLogHistogram) + 8 * 1024);
    h.record(1e-9);
    h.record(1e9);
    h.record(1.0);
    CHECK(h.underflow() == 1);
    CHECK(h.overflow() == 1);
    CHECK(h.count() == 3);
    CHECK(h.quantile(0) == 1e-9);
    CHECK(h.quantile(1) == 1e9);
    CHECK(std::fabs(h.quantile(0.5) - 1.0) <= relative_bound(5));
    CHECK(h.memory_bytes() == sizeof(ConcurrentLogHistogram) + 8 * 1024);
  }
}

TEST_CASE("LogHistogram: downscale is exact", "[log_histogram]") {
  const std::vector<double> values = lognormal(50000, 21);
  LogHistogramOptions options;
  options.scale = 8;
  options.max_buckets = 1 << 14;  // room for every bucket at scale 8: no automatic downscale
  LogHistogram fine(options);
  for (double x : values) fine.record(x);
  REQUIRE(fine.scale() == 8);
  for (int k : {1, 3, 8, 12}) {
    LogHistogram down = fine;
    down.downscale(k);
    options.scale = 8 - k;
    LogHistogram direct(options);
    for (double x : values) direct.record(x);
    CHECK(down.scale() == 8 - k);
    CHECK(down.count() == direct.count());
    CHECK(down.buckets().size() == direct.buckets().size());
    CHECK(down == direct);
  }
}

TEST_CASE("LogHistogram: merge", "[log_histogram]") {
  const std::vector<double> a_values = lognormal(30000, 31);
  const std::vector<double> b_values = bimodal(20000, 32);
  SECTION("same scale: equal to one histogram fed everything") {
    LogHistogram a;
    LogHistogram b;
    LogHistogram all;
    for (double x : a_values) a.record(x), all.record(x);
    for (double x : b_values) b.record(x), all.record(x);
    b.record(-1);
    b.record(0.0);
    all.record(-1);
    all.record(0.0);
    a.merge(b);
    CHECK(a.count() == 50001);
    CHECK(a.negative() == 1);
    CHECK(a.zero_count() == 1);
    CHECK(a.min() == 0);
    CHECK(a.max() == all.max());
    CHECK(a.sum() == Approx(all.sum()).epsilon(1e-12));
    CHECK(same_buckets(a, all));
    for (double q : {0.01, 0.5, 0.99}) CHECK(a.quantile(q) == all.quantile(q));
  }
  SECTION("different scales: the finer is downscaled exactly") {
    LogHistogram fine(7);
    LogHistogram coarse(4);
    LogHistogram direct(4);
    for (double x : a_values) fine.record(x), direct.record(x);
    for (double x : b_values) coarse.record(x), direct.record(x);
    LogHistogram into_fine = fine;
    into_fine.merge(coarse);
    LogHistogram into_coarse = coarse;
    into_coarse.merge(fine);
    CHECK(into_fine.scale() == 4);
    CHECK(into_coarse.scale() == 4);
    CHECK(into_fine.count() == 50000);
    CHECK(same_buckets(into_fine, direct));
    CHECK(same_buckets(into_coarse, direct));
  }
  SECTION("with itself, and with an empty histogram") {
    LogHistogram a;
    for (double x : a_values) a.record(x);
    const LogHistogram before = a;
    a.merge(LogHistogram());
    CHECK(a == before);
    a.merge(a);
    CHECK(a.count() == 2 * before.count());
    CHECK(a.buckets().front().count == 2 * before.buckets().front().count);
  }
  SECTION("merging past max_buckets downscales") {
    LogHistogramOptions options;
    options.max_buckets = 100;
    LogHistogram low(options);
    LogHistogram high(options);
    low.record(1e-6);
    high.record(1e6);
    low.merge(high);
    CHECK(low.count() == 2);
    CHECK(low.scale() == 1);  // 40 octaves: 160 buckets at scale 2, 80 at scale 1
  }
}

TEST_CASE("LogHistogram: cumulative buckets at a coarser scale", "[log_histogram]") {
  std::vector<double> values = lognormal(20000, 41);
  LogHistogram h(5);
  for (double x : values) h.record(x);
  h.record(0.0, 5);
  values.insert(values.end(), 5, 0.0);
  for (int coarse : {5, 2, 0, -2}) {
    const auto cumulative = h.cumulative_buckets(coarse);
    REQUIRE(cumulative.size() >= 2);
    CHECK(cumulative.front() == std::make_pair(0.0, std::uint64_t{5}));
    CHECK(cumulative.back().first == inf);
    CHECK(cumulative.back().second == values.size());
    bool exact = true;
    for (std::size_t i = 1; i < cumulative.size(); ++i) {
      exact = exact && cumulative[i].first > cumulative[i - 1].first;
      const auto expected = static_cast<std::uint64_t>(
          std::count_if(values.begin(), values.end(), [&](double x) { return x <= cumulative[i].first; }));
      exact = exact && cumulative[i].second == expected;
    }
    INFO("scale " << coarse);
    CHECK(exact);
  }
  // Scale 0: the le bounds are powers of two.
  const auto powers = h.cumulative_buckets(0);
  CHECK(std::log2(powers[1].first) == std::round(std::log2(powers[1].first)));
}

TEST_CASE("LogHistogram: clear", "[log_histogram]") {
  LogHistogramOptions options;
  options.max_buckets = 16;
  LogHistogram h(options);
  for (double x : lognormal(1000, 5)) h.record(x);
  h.record(-1);
  CHECK(h.scale() < 5);
  h.clear();
  CHECK(h.empty());
  CHECK(h.scale() == 5);
  CHECK(h.rejected() == 0);
  CHECK(h == LogHistogram(options));
  h.record(2.0);
  CHECK(h.quantile(0.5) == 2.0);
}

TEST_CASE("LogHistogram: serialization round trip", "[log_histogram]") {
  LogHistogramOptions options;
  options.zero_threshold = 1e-4;
  LogHistogram h(options);
  for (double x : pareto(10000, 51)) h.record(x);
  h.record(not_a_number);
  h.record(-2);
  h.record(0, 3);
  const auto bytes = h.serialize();
  CHECK(bytes.size() < 2000);
  const LogHistogram back = LogHistogram::deserialize(bytes);
  CHECK(back == h);
  CHECK(back.count() == h.count());
  CHECK(back.zero_threshold() == 1e-4);
  CHECK(back.quantile(0.99) == h.quantile(0.99));
  CHECK(back.serialize() == bytes);

  const LogHistogram empty;
  CHECK(LogHistogram::deserialize(empty.serialize()) == empty);

  LogHistogram down = h;
  down.downscale(3);
  const LogHistogram down_back = LogHistogram::deserialize(down.serialize());
  CHECK(down_back == down);
  CHECK(down_back.scale() == 2);
  CHECK(down_back.options().scale == 5);

  // Concurrent and plain read each other's bytes.
  ConcurrentLogHistogram c;
  for (double x : lognormal(1000, 52)) c.record(x);
  const LogHistogram snapshot(c);
  CHECK(snapshot == c);
  CHECK(LogHistogram::deserialize(c.serialize()) == c);
  CHECK(ConcurrentLogHistogram::deserialize(snapshot.serialize()) == snapshot);
}

TEST_CASE("LogHistogram: truncated or corrupt bytes throw format_error", "[log_histogram]") {
  LogHistogram h;
  for (double x : lognormal(500, 61)) h.record(x);
  h.record(0.0);
  const auto bytes = h.serialize();
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    INFO("truncated to " << n);
    CHECK_THROWS_AS(LogHistogram::deserialize(bytes.data(), n), vigil::format_error);
  }
  const auto corrupt = [&](std::size_t at, std::uint8_t value) {
    auto copy = bytes;
    copy[at] = value;
    return copy;
  };
  CHECK_THROWS_AS(LogHistogram::deserialize(corrupt(0, 'X')), vigil::format_error);  // magic
  CHECK_THROWS_AS(LogHistogram::deserialize(corrupt(4, 2)), vigil::format_error);    // version
  CHECK_THROWS_AS(LogHistogram::deserialize(corrupt(5, 1)), vigil::format_error);    // type
  CHECK_THROWS_AS(LogHistogram::deserialize(corrupt(6, 4)), vigil::format_error);    // flags
  CHECK_THROWS_AS(LogHistogram::deserialize(corrupt(8, 21)), vigil::format_error);   // scale 11
  CHECK_THROWS_AS(LogHistogram::deserialize(corrupt(9, 16)), vigil::format_error);   // current > configured
  CHECK_THROWS_AS(LogHistogram::deserialize(corrupt(17, 0xff)), vigil::format_error);  // zero threshold NaN
  auto longer = bytes;
  longer.push_back(0);
  CHECK_THROWS_AS(LogHistogram::deserialize(longer), vigil::format_error);
  auto last_zero = bytes;
  last_zero.back() = 0;  // the last bucket count
  CHECK_THROWS_AS(LogHistogram::deserialize(last_zero), vigil::format_error);
  CHECK_THROWS_AS(vigil::TDigest<>::deserialize(bytes), vigil::format_error);

  // Any single corrupted byte either throws format_error or reads as a consistent histogram.
  std::uint64_t thrown = 0;
  for (std::size_t at = 0; at < bytes.size(); ++at) {
    for (std::uint8_t value : {std::uint8_t{0}, std::uint8_t{1}, std::uint8_t{0x7f}, std::uint8_t{0x80},
                               std::uint8_t{0xff}, static_cast<std::uint8_t>(bytes[at] ^ 0x10)}) {
      try {
        const LogHistogram read = LogHistogram::deserialize(corrupt(at, value));
        std::uint64_t total = read.zero_count() + read.underflow() + read.overflow();
        for (const auto& b : read.buckets()) total += b.count;
        CHECK(total == read.count());
        CHECK(read.memory_bytes() <= sizeof(LogHistogram) + 8 * read.options().max_buckets);
        if (!read.empty()) CHECK(read.quantile(0.5) >= read.min());
      } catch (const vigil::format_error&) {
        ++thrown;
      }
    }
  }
  CHECK(thrown > bytes.size());
}

TEST_CASE("LogHistogram: concurrent records are exact", "[log_histogram][concurrency]") {
  constexpr int threads = 4;
  constexpr int per_thread = 200000;
  ConcurrentLogHistogram shared;
  std::vector<std::vector<double>> inputs;
  for (int t = 0; t < threads; ++t) inputs.push_back(log_uniform(per_thread, 1e-7, 1e5, 70 + t));
  std::vector<std::thread> pool;
  std::atomic<bool> done{false};
  // A reader runs alongside the writers: every answer it sees stays within the final range.
  std::thread reader([&] {
    while (!done.load()) {
      const double median = shared.quantile(0.5);
      CHECK((std::isnan(median) || median > 0));
      (void)shared.count();
    }
  });
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&shared, &inputs, t] {
      for (double x : inputs[static_cast<std::size_t>(t)]) shared.record(x);
      shared.record(not_a_number);
      shared.record(0.0, 2);
    });
  for (auto& thread : pool) thread.join();
  done = true;
  reader.join();

  LogHistogramOptions wide;
  wide.max_buckets = 4096;
  LogHistogram expected(wide);
  for (const auto& input : inputs)
    for (double x : input) expected.record(x);
  CHECK(shared.count() == std::uint64_t{threads} * (per_thread + 2));
  CHECK(shared.not_finite() == threads);
  CHECK(shared.zero_count() == 2 * threads);
  CHECK(shared.min() == 0);
  CHECK(shared.max() == expected.max());
  CHECK(shared.sum() == Approx(expected.sum()).epsilon(1e-9));
  // Values outside the window [2^-20, 2^12) are counted, not lost.
  std::uint64_t below = 0;
  std::uint64_t above = 0;
  for (const auto& input : inputs)
    for (double x : input) below += x <= std::ldexp(1.0, -20), above += x > std::ldexp(1.0, 12);
  CHECK(shared.underflow() == below);
  CHECK(shared.overflow() == above);
  bool per_bucket = true;
  std::size_t compared = 0;
  for (const auto& b : shared.buckets()) {
    std::uint64_t want = 0;
    for (const auto& e : expected.buckets())
      if (e.index == b.index) want = e.count;
    per_bucket = per_bucket && want == b.count;
    ++compared;
  }
  CHECK(expected.scale() == 5);
  CHECK(per_bucket);
  CHECK(compared == 1024);
}

namespace {

// Version-1 bytes of a histogram with default options but `scale`, field by field, for states
// serialize() would never write.
std::vector<std::uint8_t> raw_histogram(int scale, double sum, double min, double max, std::int64_t first,
                                        const std::vector<std::uint64_t>& counts, std::uint64_t zero = 0) {
  std::vector<std::uint8_t> out;
  vigil::io::Writer w(out);
  w.header(vigil::io::TypeId::log_histogram, 1);
  w.u8(static_cast<std::uint8_t>(scale + 10));
  w.u8(static_cast<std::uint8_t>(scale + 10));
  w.f64(0);
  w.varint(1024);
  w.f64(1.0 / (1 << 20));
  w.f64(sum);
  w.f64(min);
  w.f64(max);
  for (std::uint64_t v : {zero, std::uint64_t{0}, std::uint64_t{0}, std::uint64_t{0}, std::uint64_t{0}}) w.varint(v);
  w.varint((static_cast<std::uint64_t>(first) << 1) ^ static_cast<std::uint64_t>(first >> 63));
  w.varint(counts.size());
  for (std::uint64_t c : counts) w.varint(c);
  return out;
}

// The largest double in bucket `index` of `h` (the bucket's rounded upper edge, or the double
// below it when that edge rounded up into the next bucket).
double largest_in(const LogHistogram& h, std::int64_t index) {
  const double upper = std::min(h.bucket_upper(index), DBL_MAX);
  return h.bucket_index(upper) > index ? std::nextafter(upper, 0.0) : upper;
}

}  // namespace

TEST_CASE("LogHistogram: deserialize refuses buckets no double reaches, so later records never throw",
          "[log_histogram]") {
  // At scale 0 bucket i holds (2^i, 2^(i+1)]: doubles reach -1075 (the least subnormal) to
  // 1023 (the largest double).
  LogHistogram probe(0);
  REQUIRE(probe.bucket_index(std::numeric_limits<double>::denorm_min()) == -1075);
  REQUIRE(probe.bucket_index(DBL_MAX) == 1023);
  const double inside = 3.0;  // bucket 1
  CHECK(vigil::detail::log_histogram_invariant_violation(
            LogHistogram::deserialize(raw_histogram(0, inside, inside, inside, 1, {1})))
            .empty());
  // A bucket far above every double: record(1e300) would need more downscaling than scales exist.
  CHECK_THROWS_WITH(LogHistogram::deserialize(raw_histogram(0, inside, inside, inside, std::int64_t{1} << 30, {1})),
                    Catch::Contains("the buckets doubles reach"));
  // Every first index around both ends, at several scales: refused, or usable afterwards.
  std::size_t refused = 0;
  std::size_t out_of_reach = 0;
  for (const int scale : {-10, -4, 0, 3, 10}) {
    LogHistogram at(scale);
    const std::int64_t lowest = at.bucket_index(std::numeric_limits<double>::denorm_min());
    const std::int64_t highest = at.bucket_index(DBL_MAX);
    for (const std::int64_t first : {lowest - 2, lowest - 1, lowest, lowest + 1, highest - 1, highest, highest + 1,
                                     highest + 2, highest + 5000}) {
      for (const std::size_t n : {std::size_t{1}, std::size_t{2}}) {
        INFO("scale " << scale << ", first " << first << ", " << n << " buckets");
        const std::int64_t last = first + static_cast<std::int64_t>(n) - 1;
        // Min in the first bucket, max in the last (where doubles exist there at all: among
        // the subnormals at fine scales a bucket can hold none).
        const double min = largest_in(at, std::clamp(first, lowest, highest));
        const double max = largest_in(at, std::clamp(last, lowest, highest));
        const bool reachable = first >= lowest && last <= highest && at.bucket_index(min) == first &&
                               at.bucket_index(max) == last;
        out_of_reach += reachable ? 0 : 1;
        const double sum = n == 1 ? min : std::min(min + max, DBL_MAX);
        const std::vector<std::uint64_t> counts(n, 1);
        try {
          LogHistogram h = LogHistogram::deserialize(raw_histogram(scale, sum, min, max, first, counts));
          CHECK(reachable);
          INFO(vigil::detail::log_histogram_invariant_violation(h));
          CHECK(vigil::detail::log_histogram_invariant_violation(h).empty());
          CHECK_NOTHROW(h.record(1e300));
          CHECK_NOTHROW(h.record(DBL_MAX));
          CHECK_NOTHROW(h.record(std::numeric_limits<double>::denorm_min()));
          CHECK(h.count() + h.not_finite() == n + 3);
          CHECK(vigil::detail::log_histogram_invariant_violation(h).empty());
        } catch (const vigil::format_error&) {
          ++refused;
          CHECK_FALSE(reachable);
        }
      }
    }
  }
  CHECK(out_of_reach > 0);
  CHECK(refused == out_of_reach);
}

TEST_CASE("LogHistogram: values near the double range keep the sum finite", "[log_histogram]") {
  LogHistogram h;
  for (int i = 0; i < 1000; ++i) h.record(1.7e308);
  h.record(DBL_MAX, 1000000);
  h.record(1e300, 1u << 30);
  h.record(2.5);
  // Values that would take the sum beyond the largest double are refused and counted.
  CHECK(std::isfinite(h.sum()));
  CHECK(h.not_finite() >= 999 + 1000000);
  CHECK(h.count() + h.not_finite() == 1000 + 1000000 + (1u << 30) + 1);
  CHECK(std::isfinite(h.mean()));
  CHECK(h.mean() >= h.min());
  CHECK(h.mean() <= h.max());
  CHECK(vigil::detail::log_histogram_invariant_violation(h).empty());
  const LogHistogram back = LogHistogram::deserialize(h.serialize());
  CHECK(back == h);
  // Merged sums near the range stay exact while they fit.
  LogHistogram part;
  part.record(0x1p1002, 2);
  LogHistogram fleet;
  for (int i = 0; i < 64; ++i) fleet.merge(part);
  CHECK(fleet.sum() == 0x1p1009);
  CHECK(vigil::detail::log_histogram_invariant_violation(fleet).empty());
  // Sums that together exceed the double range saturate; counts stay exact, the mean within
  // [min, max], and the result reads back.
  const LogHistogram huge = LogHistogram::deserialize(raw_histogram(0, 0x1.8p1023, 0x1.8p1023, 0x1.8p1023, 1023, {1}));
  LogHistogram twice = huge;
  twice.merge(huge);
  CHECK(twice.count() == 2);
  CHECK(twice.sum() == DBL_MAX);
  CHECK(twice.mean() == 0x1.8p1023);
  CHECK(vigil::detail::log_histogram_invariant_violation(twice).empty());
  CHECK(LogHistogram::deserialize(twice.serialize()) == twice);
  // The bytes: an infinite sum, or one that does not fit min and max, is refused.
  CHECK_THROWS_AS(LogHistogram::deserialize(raw_histogram(0, std::numeric_limits<double>::infinity(), 3, 3, 1, {1})),
                  vigil::format_error);
  CHECK_THROWS_AS(LogHistogram::deserialize(raw_histogram(0, 0, 3, 3, 1, {1})), vigil::format_error);
  CHECK_THROWS_AS(LogHistogram::deserialize(raw_histogram(0, 7.1, 3, 3.5, 1, {2})), vigil::format_error);
  CHECK(LogHistogram::deserialize(raw_histogram(0, 6.5, 3, 3.5, 1, {2})).mean() == 3.25);
  // One value has min = max.
  CHECK_THROWS_AS(LogHistogram::deserialize(raw_histogram(0, 3.5, 3, 3.5, 1, {1})), vigil::format_error);
}

TEST_CASE("LogHistogram: deserialize refuses min and max that lie apart from the counts", "[log_histogram]") {
  // Scale 0: 3.0 lies in bucket 1, (2, 4]; 6.0 in bucket 2, (4, 8].
  CHECK_NOTHROW(LogHistogram::deserialize(raw_histogram(0, 9.0, 3.0, 6.0, 1, {1, 1})));
  // A max far above the last counted bucket: quantile(1) would be a value no bucket holds.
  CHECK_THROWS_WITH(LogHistogram::deserialize(raw_histogram(0, 9.0, 3.0, 1e10, 1, {1, 1})),
                    Catch::Contains("the last non-empty bucket"));
  // A min below the first counted bucket.
  CHECK_THROWS_WITH(LogHistogram::deserialize(raw_histogram(0, 6.5, 0.5, 6.0, 1, {1, 1})),
                    Catch::Contains("the first non-empty bucket"));
  // Values only in the zero bucket, but a max above the zero threshold 0.
  CHECK_THROWS_WITH(LogHistogram::deserialize(raw_histogram(0, 2.0, 0.0, 2.0, 0, {}, 2)), Catch::Contains("max 2"));
  // The zero bucket holds values, but min is above the threshold.
  CHECK_THROWS_WITH(LogHistogram::deserialize(raw_histogram(0, 6.0, 3.0, 3.0, 1, {1}, 1)), Catch::Contains("min 3"));
}

TEST_CASE("LogHistogram: deserialize refuses counts whose merge would overflow 64 bits", "[log_histogram]") {
  const std::uint64_t limit = std::uint64_t{1} << 62;
  LogHistogram at_limit = LogHistogram::deserialize(raw_histogram(0, 0.0, 0.0, 0.0, 0, {}, limit));
  at_limit.merge(LogHistogram(at_limit));
  CHECK(at_limit.count() == 2 * limit);
  CHECK_THROWS_WITH(LogHistogram::deserialize(raw_histogram(0, 0.0, 0.0, 0.0, 0, {}, limit + 1)),
                    Catch::Contains("above 2^62"));
}

TEST_CASE("LogHistogram: a zero threshold of -0.0 is 0 and survives the bytes", "[log_histogram]") {
  LogHistogramOptions options;
  options.scale = -7;
  options.zero_threshold = -0.0;
  LogHistogram h(options);
  CHECK_FALSE(std::signbit(h.zero_threshold()));
  h.record(std::numeric_limits<double>::denorm_min());
  h.record(1e-310);
  const LogHistogram back = LogHistogram::deserialize(h.serialize());
  CHECK(back == h);
  CHECK(LogHistogram::deserialize(back.serialize()) == h);
}

TEST_CASE("LogHistogram: subnormal buckets at fine scales may have equal rounded edges", "[log_histogram]") {
  LogHistogramOptions options;
  options.scale = 5;
  options.max_buckets = std::size_t{1} << 20;
  LogHistogram h(options);
  h.record(std::numeric_limits<double>::denorm_min());
  const auto buckets = h.buckets();
  REQUIRE(buckets.size() == 1);
  // b^i and b^(i+1) both round to the least subnormal: edges ordered, not strictly.
  CHECK(buckets[0].lower <= buckets[0].upper);
  CHECK(buckets[0].upper == std::numeric_limits<double>::denorm_min());
  CHECK(vigil::detail::log_histogram_invariant_violation(h).empty());
}

TEST_CASE("LogHistogram: underflow and overflow merged from other windows read back wherever they lie",
          "[log_histogram]") {
  // A window starting at 1e3: 500 is underflow there, and lies above this histogram's bucket.
  LogHistogramOptions high;
  high.lowest = 1e3;
  ConcurrentLogHistogram windowed(high);
  windowed.record(500.0);
  LogHistogram h;
  h.record(1.0);
  h.merge(windowed);
  REQUIRE(h.underflow() == 1);
  REQUIRE(h.max() == 500.0);
  CHECK(LogHistogram::deserialize(h.serialize()) == h);
  // Default window (2^-20 .. 2^12): 1e6 is overflow, 1e-9 underflow, around a bucket at 5.
  ConcurrentLogHistogram around;
  around.record(1e6);
  around.record(1e-9);
  LogHistogram g;
  g.record(5.0);
  g.merge(around);
  CHECK(LogHistogram::deserialize(g.serialize()) == g);
  CHECK(ConcurrentLogHistogram::deserialize(around.serialize()) == around);
}

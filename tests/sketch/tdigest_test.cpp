#include <vigil/sketch/tdigest.hpp>
#include <vigil/sketch/detail/radix_sort.hpp>
#include <vigil/io/binary.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <limits>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "vigil_test.hpp"

namespace {

using vigil::TDigest;
using vigil_test::rank_interval;

// A small deterministic generator so the data sets are the same with every standard library.
class Source {
 public:
  explicit Source(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next() {  // splitmix64
    std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }  // [0, 1)
  double normal() {  // Box-Muller
    const double u = 1 - uniform();
    const double v = uniform();
    return std::sqrt(-2 * std::log(u)) * std::cos(2 * 3.14159265358979323846 * v);
  }

 private:
  std::uint64_t state_;
};

struct DataSet {
  std::string name;
  std::vector<double> values;
};

std::vector<DataSet> accuracy_data_sets(std::size_t n) {
  Source s(20261126);
  const auto make = [&](const std::string& name, const std::function<double()>& draw) {
    DataSet d{name, std::vector<double>(n)};
    for (double& x : d.values) x = draw();
    return d;
  };
  std::vector<DataSet> sets;
  sets.push_back(make("uniform", [&] { return s.uniform(); }));
  sets.push_back(make("normal", [&] { return s.normal(); }));
  sets.push_back(make("lognormal sigma 2", [&] { return std::exp(2 * s.normal()); }));
  sets.push_back(make("pareto alpha 1.2", [&] { return std::pow(1 - s.uniform(), -1 / 1.2); }));
  sets.push_back(make("exponential", [&] { return -std::log(1 - s.uniform()); }));
  sets.push_back(make("discrete 10 values", [&] { return std::floor(10 * s.uniform()); }));
  DataSet ascending = make("ascending normal", [&] { return s.normal(); });
  std::sort(ascending.values.begin(), ascending.values.end());
  sets.push_back(ascending);
  DataSet descending = make("descending normal", [&] { return s.normal(); });
  std::sort(descending.values.rbegin(), descending.values.rend());
  sets.push_back(descending);
  sets.push_back(make("99/1 mixture of far modes", [&] { return s.uniform() < 0.01 ? 1e6 + s.normal() : s.normal(); }));
  return sets;
}

struct Errors {
  double tail = 0;    // max rank error at q in {1e-4, 1e-3, 0.999, 0.9999}
  double middle = 0;  // max rank error on a grid of step 1e-4 strictly between
  bool monotone = true;
};

Errors rank_errors(const TDigest<>& digest, const std::vector<double>& sorted) {
  Errors e;
  for (double q : {1e-4, 1e-3, 0.999, 0.9999}) e.tail = std::max(e.tail, rank_interval(sorted, digest.quantile(q)).error(q));
  double previous = -std::numeric_limits<double>::infinity();
  for (int i = 2; i < 10000; ++i) {
    const double q = i * 1e-4;
    const double x = digest.quantile(q);
    e.middle = std::max(e.middle, rank_interval(sorted, x).error(q));
    e.monotone = e.monotone && x >= previous;
    previous = x;
  }
  return e;
}

}  // namespace

TEST_CASE("TDigest: empty digest", "[tdigest]") {
  TDigest<> d;
  CHECK(d.empty());
  CHECK(d.count() == 0);
  CHECK(d.compression() == 100);
  CHECK(d.scale_function() == vigil::ScaleFunction::k2);
  CHECK(std::isnan(d.quantile(0.5)));
  CHECK(std::isnan(d.quantile(0)));
  CHECK(std::isnan(d.cdf(1.0)));
  CHECK(std::isnan(d.min()));
  CHECK(std::isnan(d.max()));
  CHECK(std::isnan(d.mean()));
  CHECK(std::isnan(d.trimmed_mean(0.1, 0.9)));
  CHECK(d.centroids().empty());
  CHECK(d.rejected() == 0);
  CHECK(d == TDigest<>());
  // An empty digest allocates nothing until the first value.
  CHECK(d.memory_bytes() == sizeof(TDigest<>));
}

TEST_CASE("TDigest: one value", "[tdigest]") {
  TDigest<> d;
  d.add(3.5);
  CHECK_FALSE(d.empty());
  CHECK(d.count() == 1);
  for (double q : {0.0, 0.25, 0.5, 1.0}) CHECK(d.quantile(q) == 3.5);
  CHECK(d.cdf(3.4) == 0);
  CHECK(d.cdf(3.5) == 0.5);  // mid-rank rule: half the weight at x
  CHECK(d.cdf(3.6) == 1);
  CHECK(d.min() == 3.5);
  CHECK(d.max() == 3.5);
  CHECK(d.mean() == 3.5);
  CHECK(d.trimmed_mean(0, 1) == 3.5);
  d.flush();
  REQUIRE(d.centroids().size() == 1);
  CHECK(d.centroids()[0].mean == 3.5);
  CHECK(d.centroids()[0].weight == 1);
  CHECK(d.single_valued(0));
}

TEST_CASE("TDigest: small exact data and the tie rule", "[tdigest]") {
  TDigest<> d;
  for (double x : {1.0, 2.0, 2.0, 2.0, 3.0}) d.add(x);
  // Five values are five singletons or single-valued centroids: every answer is exact.
  CHECK(d.quantile(0) == 1);
  CHECK(d.quantile(0.1) == 1);
  CHECK(d.quantile(0.5) == 2);
  CHECK(d.quantile(0.79) == 2);
  CHECK(d.quantile(1) == 3);
  CHECK(d.cdf(2.0) == Approx(0.2 + 0.6 / 2).epsilon(1e-15));
  CHECK(d.cdf(1.0) == Approx(0.1).epsilon(1e-15));
  CHECK(d.cdf(1.5) == Approx(0.2).epsilon(1e-15));
  CHECK(d.count() == 5);
  CHECK(d.mean() == Approx(2.0));
}

TEST_CASE("TDigest: weighted values", "[tdigest]") {
  TDigest<> weighted;
  TDigest<> repeated;
  Source s(3);
  for (int i = 0; i < 20000; ++i) {
    const double x = std::floor(s.uniform() * 1000) / 10;
    const int w = 1 + static_cast<int>(s.uniform() * 4);
    weighted.add(x, w);
    for (int j = 0; j < w; ++j) repeated.add(x);
  }
  CHECK(weighted.count() == repeated.count());
  CHECK(weighted.min() == repeated.min());
  CHECK(weighted.max() == repeated.max());
  for (double q : {0.001, 0.1, 0.5, 0.9, 0.999}) {
    CHECK(weighted.quantile(q) == Approx(repeated.quantile(q)).margin(0.2));
  }
}

TEST_CASE("TDigest: accuracy against exact ranks at delta 100 on 10^6 values", "[tdigest][accuracy]") {
  constexpr std::size_t n = 1000000;
  for (const DataSet& data : accuracy_data_sets(n)) {
    SECTION(data.name) {
      TDigest<> whole(100);
      std::vector<TDigest<>> parts(64, TDigest<>(100));
      for (std::size_t i = 0; i < n; ++i) {
        whole.add(data.values[i]);
        parts[i % 64].add(data.values[i]);
      }
      TDigest<> merged(100);
      for (const TDigest<>& part : parts) merged.merge(part);
      whole.flush();
      merged.flush();

      std::vector<double> sorted = data.values;
      std::sort(sorted.begin(), sorted.end());
      const Errors single = rank_errors(whole, sorted);
      const Errors combined = rank_errors(merged, sorted);
      INFO(data.name << ": tail " << single.tail << " middle " << single.middle << "; merged tail "
                     << combined.tail << " middle " << combined.middle << "; centroids "
                     << whole.centroids().size());
      CHECK(single.tail <= 2e-5);
      CHECK(single.middle <= 2e-3);
      CHECK(combined.tail <= 4e-5);
      CHECK(combined.middle <= 4e-3);
      CHECK(single.monotone);
      CHECK(combined.monotone);
      CHECK(whole.min() == sorted.front());
      CHECK(whole.max() == sorted.back());
      CHECK(merged.min() == sorted.front());
      CHECK(merged.max() == sorted.back());
      CHECK(whole.quantile(0) == sorted.front());
      CHECK(whole.quantile(1) == sorted.back());
      CHECK(whole.count() == n);
      CHECK(merged.count() == n);
      CHECK(whole.centroids().size() <= whole.max_centroids());
      CHECK(merged.centroids().size() <= merged.max_centroids());

      // cdf is the inverse: at the exact quantiles it returns the exact mid-rank.
      double cdf_error = 0;
      for (int i = 1; i < 1000; ++i) {
        const double x = sorted[static_cast<std::size_t>(i * 1e-3 * n)];
        const auto rank = rank_interval(sorted, x);
        cdf_error = std::max(cdf_error, std::fabs(whole.cdf(x) - (rank.below + rank.at_most) / 2));
      }
      CHECK(cdf_error <= 2e-3);
    }
  }
}

TEST_CASE("TDigest: few distinct values are summarised exactly", "[tdigest]") {
  Source s(11);
  TDigest<> d(100);
  std::vector<double> values;
  for (int i = 0; i < 200000; ++i) {
    const double x = std::floor(7 * s.uniform()) * 0.5;
    d.add(x);
    values.push_back(x);
  }
  std::sort(values.begin(), values.end());
  for (double x = 0; x <= 3; x += 0.5) {
    const auto rank = rank_interval(values, x);
    CHECK(d.cdf(x) == Approx((rank.below + rank.at_most) / 2).epsilon(1e-12));
  }
  for (int i = 0; i <= 1000; ++i) {
    const double q = i / 1000.0;
    CHECK(rank_interval(values, d.quantile(q)).error(q) == 0);
  }
}

TEST_CASE("TDigest: serialized size stays under 2 KB for 10^7 values", "[tdigest][accuracy]") {
  Source s(5);
  TDigest<> d(100);
  for (int i = 0; i < 10000000; ++i) d.add(std::exp(s.normal()));
  const auto bytes = d.serialize();
  INFO("bytes " << bytes.size() << ", centroids " << (d.flush(), d.centroids().size()));
  CHECK(bytes.size() <= 2048);
  CHECK(d.centroids().size() <= d.max_centroids());
}

TEST_CASE("TDigest: merge", "[tdigest]") {
  Source s(9);
  TDigest<> a(100);
  TDigest<> b(200, vigil::ScaleFunction::k3);
  for (int i = 0; i < 30000; ++i) a.add(s.normal());
  for (int i = 0; i < 10000; ++i) b.add(5 + s.normal());
  b.add(std::numeric_limits<double>::quiet_NaN());

  TDigest<> sum = a;
  sum.merge(b);
  CHECK(sum.count() == 40000);
  CHECK(sum.rejected() == 1);
  CHECK(sum.min() == std::min(a.min(), b.min()));
  CHECK(sum.max() == std::max(a.max(), b.max()));
  CHECK(sum.compression() == 100);
  CHECK(sum.quantile(0.75) == Approx(b.quantile(0.0)).margin(2.0));  // the second mode starts near 3/4
  CHECK(sum.cdf(2.5) == Approx(0.75).margin(0.005));

  SECTION("with an empty digest changes nothing") {
    TDigest<> copy = a;
    copy.merge(TDigest<>(50));
    CHECK(copy == a);
    TDigest<> empty;
    empty.merge(a);
    CHECK(empty.count() == a.count());
    CHECK(empty.quantile(0.5) == Approx(a.quantile(0.5)).margin(0.01));
  }
  SECTION("with itself doubles every weight") {
    TDigest<> twice = a;
    twice.merge(twice);
    CHECK(twice.count() == 2 * a.count());
    CHECK(twice.min() == a.min());
    CHECK(twice.quantile(0.5) == Approx(a.quantile(0.5)).margin(0.01));
  }
}

TEST_CASE("TDigest: bounded memory on adversarial input", "[tdigest]") {
  // Ascending values, then many merges of small digests: neither grows past the bound.
  TDigest<> d(50);
  for (int i = 0; i < 300000; ++i) d.add(i);
  d.flush();
  CHECK(d.centroids().size() <= d.max_centroids());
  TDigest<> m(50);
  Source s(1);
  for (int part = 0; part < 300; ++part) {
    TDigest<> small(20);
    for (int i = 0; i < 1000; ++i) small.add(std::pow(10.0, 30 * s.uniform()));  // 30 decades
    m.merge(small);
  }
  m.flush();
  CHECK(m.centroids().size() <= m.max_centroids());
  CHECK(m.count() == 300000);
  // Values spaced ever wider apart exercise the gap guard, whose splits are budgeted.
  TDigest<> g(20);
  for (int i = 0; i < 2000; ++i) g.add(std::pow(1.5, i % 1500));
  g.flush();
  CHECK(g.centroids().size() <= g.max_centroids());
  const std::size_t before = m.memory_bytes();
  m.compact();
  CHECK(m.memory_bytes() < before);
  CHECK(m.buffered() == 0);
}

TEST_CASE("TDigest: trimmed mean", "[tdigest]") {
  Source s(17);
  TDigest<> d(100);
  std::vector<double> values;
  for (int i = 0; i < 100000; ++i) {
    const double x = std::exp(s.normal());
    d.add(x);
    values.push_back(x);
  }
  std::sort(values.begin(), values.end());
  double exact_sum = 0;
  for (double x : values) exact_sum += x;
  CHECK(d.trimmed_mean(0, 1) == Approx(exact_sum / values.size()).epsilon(1e-12));
  double trimmed = 0;
  for (std::size_t i = 10000; i < 90000; ++i) trimmed += values[i];
  CHECK(d.trimmed_mean(0.1, 0.9) == Approx(trimmed / 80000).epsilon(2e-3));
  CHECK(d.trimmed_mean(0.5, 0.5) == d.quantile(0.5));
}

TEST_CASE("TDigest: other scale functions and float values", "[tdigest]") {
  Source s(23);
  std::vector<double> values(200000);
  for (double& x : values) x = s.normal();
  std::vector<double> sorted = values;
  std::sort(sorted.begin(), sorted.end());
  for (auto scale : {vigil::ScaleFunction::k1, vigil::ScaleFunction::k3}) {
    TDigest<> d(100, scale);
    for (double x : values) d.add(x);
    const Errors e = rank_errors(d, sorted);
    CHECK(e.middle <= 2e-3);
    CHECK(e.tail <= (scale == vigil::ScaleFunction::k1 ? 5e-4 : 2e-5));
    CHECK(e.monotone);
  }
  TDigest<float> f(100);
  for (double x : values) f.add(static_cast<float>(x));
  CHECK(f.count() == values.size());
  CHECK(f.quantile(0.5) == Approx(sorted[100000]).margin(0.01));
  CHECK(f.min() == static_cast<float>(sorted.front()));
  const auto bytes = f.serialize();
  CHECK(TDigest<float>::deserialize(bytes) == f);
  CHECK_THROWS_AS(TDigest<double>::deserialize(bytes), vigil::format_error);
}

TEST_CASE("TDigest: bad input", "[tdigest]") {
  TDigest<> d;
  d.add(1);
  d.add(std::numeric_limits<double>::quiet_NaN());
  d.add(std::numeric_limits<double>::infinity());
  d.add(-std::numeric_limits<double>::infinity());
  d.add(std::numeric_limits<double>::quiet_NaN(), 2.0);
  CHECK(d.rejected() == 4);
  CHECK(d.count() == 1);
  CHECK(d.max() == 1);

  for (double w : {0.0, -1.0, std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::infinity()}) {
    CHECK_THROWS_AS(d.add(2, w), vigil::invalid_argument);
  }
  CHECK(d.count() == 1);
  CHECK_THROWS_WITH(d.add(2, -1), Catch::Contains("-1"));
  CHECK_THROWS_AS(d.add(2, 0), std::invalid_argument);  // also a standard exception
  // Two weights of 1e308: the second would make the total infinite (and every quantile NaN).
  TDigest<> heavy;
  heavy.add(1, 1e308);
  CHECK_THROWS_WITH(heavy.add(2, 1e308), Catch::Contains("infinite"));
  CHECK(heavy.count() == 1e308);
  CHECK(heavy.quantile(0.5) == 1);

  for (double q : {-0.1, 1.1, std::numeric_limits<double>::quiet_NaN()}) {
    CHECK_THROWS_AS(d.quantile(q), vigil::invalid_argument);
  }
  CHECK_THROWS_WITH(d.quantile(1.5), Catch::Contains("1.5"));
  CHECK(std::isnan(d.cdf(std::numeric_limits<double>::quiet_NaN())));
  CHECK(d.cdf(std::numeric_limits<double>::infinity()) == 1);
  CHECK(d.cdf(-std::numeric_limits<double>::infinity()) == 0);
  CHECK_THROWS_AS(d.trimmed_mean(0.6, 0.4), vigil::invalid_argument);
  CHECK_THROWS_AS(d.trimmed_mean(-0.1, 0.4), vigil::invalid_argument);
  CHECK_THROWS_AS(TDigest<>(5), vigil::invalid_argument);
  CHECK_THROWS_AS(TDigest<>(std::numeric_limits<double>::quiet_NaN()), vigil::invalid_argument);
  CHECK_THROWS_AS(TDigest<>(100, static_cast<vigil::ScaleFunction>(9)), vigil::invalid_argument);

  // A vigil error is catchable as vigil::error too.
  try {
    d.quantile(2);
    FAIL("no exception");
  } catch (const vigil::error& e) {
    CHECK(std::string(e.message()).find("quantile") != std::string::npos);
  }
}

TEST_CASE("TDigest: serialization round trip", "[tdigest][io]") {
  Source s(31);
  TDigest<> d(100);
  for (int i = 0; i < 50000; ++i) d.add(std::exp(s.normal()));
  for (int i = 0; i < 100; ++i) d.add(7.0, 2.5);  // non-integer weights use the f64 encoding
  d.add(std::numeric_limits<double>::quiet_NaN());
  const auto bytes = d.serialize();
  const TDigest<> back = TDigest<>::deserialize(bytes);
  CHECK(back == d);
  CHECK(back.rejected() == 1);
  CHECK(back.quantile(0.37) == d.quantile(0.37));
  CHECK(back.cdf(1.0) == d.cdf(1.0));
  CHECK(back.serialize() == bytes);

  TDigest<> empty(42, vigil::ScaleFunction::k1);
  const TDigest<> empty_back = TDigest<>::deserialize(empty.serialize());
  CHECK(empty_back == empty);
  CHECK(empty_back.compression() == 42);
  CHECK(empty_back.scale_function() == vigil::ScaleFunction::k1);

  // The header: magic, version 1, type id 1.
  REQUIRE(bytes.size() > 8);
  CHECK(bytes[0] == 'V');
  CHECK(bytes[3] == 'L');
  CHECK(bytes[4] == 1);
  CHECK(bytes[5] == 1);
}

TEST_CASE("TDigest: truncated or corrupt bytes throw, never misbehave", "[tdigest][io]") {
  Source s(37);
  TDigest<> d(30);
  for (int i = 0; i < 5000; ++i) d.add(s.normal());
  const auto bytes = d.serialize();
  for (std::size_t len = 0; len < bytes.size(); ++len) {
    CHECK_THROWS_AS(TDigest<>::deserialize(bytes.data(), len), vigil::format_error);
  }
  auto longer = bytes;
  longer.push_back(0);
  CHECK_THROWS_AS(TDigest<>::deserialize(longer), vigil::format_error);
  auto wrong_magic = bytes;
  wrong_magic[0] = 'X';
  CHECK_THROWS_WITH(TDigest<>::deserialize(wrong_magic), Catch::Contains("magic"));
  auto newer = bytes;
  newer[4] = 2;
  CHECK_THROWS_WITH(TDigest<>::deserialize(newer), Catch::Contains("version 2"));
  auto other_type = bytes;
  other_type[5] = 2;
  CHECK_THROWS_WITH(TDigest<>::deserialize(other_type), Catch::Contains("type"));
  // Every single-byte corruption either throws format_error or yields a consistent digest.
  for (std::size_t i = 8; i < bytes.size(); ++i) {
    auto corrupt = bytes;
    corrupt[i] = static_cast<std::uint8_t>(corrupt[i] ^ 0x5a);
    try {
      const TDigest<> t = TDigest<>::deserialize(corrupt);
      CHECK(t.centroids().size() <= bytes.size());
      if (!t.empty()) CHECK(t.quantile(0.5) >= t.min());
    } catch (const vigil::format_error&) {
    }
  }
}

TEST_CASE("TDigest: PostgreSQL tdigest text format", "[tdigest][io]") {
  Source s(41);
  TDigest<> d(100);
  for (int i = 0; i < 20000; ++i) d.add(std::round(s.normal() * 1000) / 8);
  const std::string text = d.to_postgres();
  // δ = 100 is written as the extension's compression 393 (5π/4·δ, tdigest.hpp).
  CHECK(text.rfind("flags 1 count 20000 compression 393 centroids ", 0) == 0);
  const TDigest<> back = TDigest<>::from_postgres(text);
  d.flush();
  REQUIRE(back.centroids().size() == d.centroids().size());
  for (std::size_t i = 0; i < d.centroids().size(); ++i) CHECK(back.centroids()[i] == d.centroids()[i]);
  CHECK(back.count() == 20000);
  CHECK(back.to_postgres() == text);
  for (double q : {0.01, 0.5, 0.99}) CHECK(back.quantile(q) == Approx(d.quantile(q)).margin(1.0));

  const TDigest<> hand = TDigest<>::from_postgres("flags 1 count 3 compression 100 centroids 2 (1.5, 2) (4, 1)");
  CHECK(hand.count() == 3);
  CHECK(hand.min() == 1.5);
  CHECK(hand.max() == 4);
  CHECK(hand.mean() == Approx((1.5 * 2 + 4) / 3));
  const TDigest<> sums = TDigest<>::from_postgres("flags 0 count 3 compression 100 centroids 2 (3, 2) (4, 1)");
  CHECK(sums.centroids()[0].mean == 1.5);

  for (const char* bad : {"", "flags 1", "flags 2 count 1 compression 100 centroids 1 (1, 1)",
                          "flags 1 count 2 compression 100 centroids 1 (1, 1)",
                          "flags 1 count 1 compression 5 centroids 1 (1, 1)",
                          "flags 1 count 1 compression 100 centroids 1 (1, 0)",
                          "flags 1 count 1 compression 100 centroids 1 (nan, 1)",
                          "flags 1 count 1 compression 100 centroids 1 (1, 1) trailing",
                          "flags 1 count 2 compression 100 centroids 2 (1, 1)"}) {
    CHECK_THROWS_AS(TDigest<>::from_postgres(bad), vigil::format_error);
  }
  CHECK_THROWS_AS(TDigest<>().to_postgres(), vigil::invalid_argument);
  TDigest<> fractional;
  fractional.add(1, 0.5);
  CHECK_THROWS_AS(fractional.to_postgres(), vigil::invalid_argument);
  // Counts that wrap a 64-bit sum around to the header's count are refused, not accepted.
  const char* wrapping =
      "flags 1 count 3 compression 100 centroids 3 (1.0, 9223372036854775807) (2.0, 9223372036854775807) (3.0, 5)";
  CHECK_THROWS_AS(TDigest<>::from_postgres(wrapping), vigil::format_error);
  CHECK_THROWS_WITH(TDigest<>::from_postgres(wrapping), Catch::Contains("exceed the header's count 3"));
}

TEST_CASE("TDigest: PostgreSQL text carries the compression in the extension's units", "[tdigest][io]") {
  const auto written = [](const TDigest<>& d) {
    const std::string text = d.to_postgres();
    const std::size_t at = text.find(" compression ") + 13;
    return std::stoll(text.substr(at, text.find(' ', at) - at));
  };
  TDigest<> one(100);
  one.add(1);
  CHECK(written(one) == 393);
  // The extension's own digests of compression 100 read as δ = 100/(5π/4) ≈ 25.5.
  CHECK(TDigest<>::from_postgres("flags 1 count 1 compression 100 centroids 1 (1, 1)").compression() ==
        Approx(100 / (1.25 * 3.14159265358979323846)));

  // Every compression the extension accepts reads and writes back unchanged, from 40 up; below
  // 40, δ = 10 (vigil's smallest) is read, and written as 40.
  for (long long c = 10; c <= 10000; ++c) {
    const std::string text = "flags 1 count 1 compression " + std::to_string(c) + " centroids 1 (1, 1)";
    const TDigest<> d = TDigest<>::from_postgres(text);
    CHECK(d.compression() >= 10);
    if (written(d) != std::max(c, 40LL)) FAIL("compression " << c << " written back as " << written(d));
  }

  // A digest read back keeps at least its δ and so every centroid, whatever δ; the extension's
  // cap, 10000, is reached at δ ≈ 2546.
  Source s(43);
  for (double delta : {10.0, 37.5, 100.0, 150.5, 1000.0, 2546.0}) {
    TDigest<> d(delta);
    for (int i = 0; i < 50000; ++i) d.add(std::exp(s.normal()));
    d.flush();
    const TDigest<> back = TDigest<>::from_postgres(d.to_postgres());
    CHECK(back.compression() >= delta);
    CHECK(back.compression() < delta + 0.3);
    REQUIRE(back.centroids().size() == d.centroids().size());
    for (std::size_t i = 0; i < d.centroids().size(); ++i) CHECK(back.centroids()[i] == d.centroids()[i]);
    CHECK(back.to_postgres() == d.to_postgres());
  }
  TDigest<> largest(1e5);
  largest.add(1);
  CHECK(written(largest) == 10000);
  CHECK(TDigest<>::from_postgres(largest.to_postgres()).compression() == Approx(10000 / (1.25 * 3.14159265358979323846)));
}

TEST_CASE("TDigest: clear and equality", "[tdigest]") {
  TDigest<> a;
  TDigest<> b;
  for (int i = 0; i < 1000; ++i) {
    a.add(i);
    b.add(i);
  }
  CHECK(a == b);
  b.add(1000);
  CHECK(a != b);
  b.clear();
  CHECK(b.empty());
  CHECK(b == TDigest<>());
  CHECK(b.rejected() == 0);
  CHECK(TDigest<>(100) != TDigest<>(200));
}

TEST_CASE("TDigest: concurrent readers see the same answers", "[tdigest][concurrency]") {
  // Queries on a digest with pending values work on private copies: no hidden mutation.
  TDigest<> d;
  for (int i = 0; i < 100000; ++i) d.add(i % 977);
  REQUIRE(d.buffered() > 0);
  const double expected_q = d.quantile(0.9);
  const double expected_c = d.cdf(500);
  std::vector<std::thread> threads;
  std::vector<int> agree(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) agree[t] += (d.quantile(0.9) == expected_q && d.cdf(500) == expected_c) ? 1 : 0;
    });
  }
  for (auto& t : threads) t.join();
  for (int count : agree) CHECK(count == 50);
  CHECK(d.buffered() > 0);
}

TEST_CASE("TDigest: rank interval separates the weight at a value", "[tdigest]") {
  TDigest<> d;
  for (int i = 0; i < 1000; ++i) d.add(i % 4);  // 0, 1, 2, 3 a quarter each
  const auto at_two = d.rank_interval(2);
  CHECK(at_two.first == Approx(0.5).epsilon(1e-12));
  CHECK(at_two.second == Approx(0.75).epsilon(1e-12));
  CHECK(d.cdf(2) == Approx(0.625).epsilon(1e-12));
  const auto between = d.rank_interval(2.5);
  CHECK(between.first == between.second);
  CHECK(d.rank_interval(-1).second == 0);
  CHECK(d.rank_interval(9).first == 1);
  CHECK(std::isnan(TDigest<>().rank_interval(1).first));
}

TEST_CASE("radix_sort: equals std::sort on keys of every shape and count", "[tdigest]") {
  std::mt19937_64 rng(17);
  std::size_t finished_by_insertion = 0;
  for (std::size_t n : {2, 3, 17, 255, 400, 800, 4096, 4097, 9000}) {
    for (int shape = 0; shape < 7; ++shape) {
      std::vector<std::uint64_t> keys(n);
      for (std::size_t i = 0; i < n; ++i) {
        const std::uint64_t r = rng();
        switch (shape) {
          case 0: keys[i] = r; break;                                  // all 64 bits vary
          case 1: keys[i] = 0x4000000000000000ull | (r >> 40); break;  // 24 low bits vary
          case 2: keys[i] = 1000 + (r % 7); break;                     // few values, many repeats
          case 3: keys[i] = (r >> 1) % 5 == 0 ? r : 12345 + (r & 0xffff); break;  // outliers stretch the range
          case 4: keys[i] = i; break;                                  // sorted
          case 5: keys[i] = n - i; break;                              // reversed
          default: keys[i] = (r & 0xfff) << 30 | (r >> 52); break;     // ties in the top bits
        }
      }
      std::vector<std::uint64_t> want = keys;
      std::sort(want.begin(), want.end());
      std::vector<std::uint64_t> scratch(n);
      const std::uint64_t* got = vigil::detail::radix_sort(keys.data(), scratch.data(), n);
      INFO("n = " << n << ", shape " << shape);
      REQUIRE(std::equal(want.begin(), want.end(), got));
      const std::uint64_t span = want.back() ^ want.front();
      if (span >> 24 != 0) ++finished_by_insertion;  // more varying bits than its three digits
    }
  }
  CHECK(finished_by_insertion > 20);
}

namespace {

// quantiles() and rank_intervals() against one quantile() or rank_interval() call per point:
// probabilities at both ends, on a fine grid and repeated; values outside the range, at min
// and max, at every centroid's mean (twice) and one step either side of it, and between.
template <class Real>
void check_batch_queries(const TDigest<Real>& d) {
  std::vector<double> q = {0.0, 0.0, 1.0};
  for (int i = 0; i <= 1000; ++i) q.push_back(i / 1000.0);
  std::sort(q.begin(), q.end());
  std::vector<double> got(q.size());
  d.quantiles(q.data(), q.size(), got.data());
  std::size_t same = 0;
  for (std::size_t i = 0; i < q.size(); ++i) same += got[i] == d.quantile(q[i]);
  CHECK(same == q.size());
  std::vector<double> x = {d.min() - 1, d.min(), d.max(), d.max() + 1, d.max() + 1};
  for (const auto& c : d.centroids()) {
    const Real m = c.mean;
    x.insert(x.end(), {m, m, std::nextafter(m, std::numeric_limits<Real>::lowest()),
                       std::nextafter(m, std::numeric_limits<Real>::max())});
  }
  for (int i = 0; i <= 200; ++i) x.push_back(d.min() + (d.max() - d.min()) * i / 200.0);
  std::sort(x.begin(), x.end());
  std::vector<std::pair<double, double>> ranks(x.size());
  d.rank_intervals(x.data(), x.size(), ranks.data());
  same = 0;
  for (std::size_t i = 0; i < x.size(); ++i) same += ranks[i] == d.rank_interval(x[i]);
  CHECK(same == x.size());
}

}  // namespace

TEST_CASE("TDigest: quantiles() and rank_intervals() equal one call per point", "[tdigest]") {
  std::mt19937_64 rng(41);
  std::normal_distribution<double> normal(5, 2);
  std::uniform_int_distribution<int> small(0, 4);
  std::vector<TDigest<>> digests;
  {
    TDigest<> d(100);  // continuous, flushed
    for (int i = 0; i < 20000; ++i) d.add(normal(rng));
    d.flush();
    digests.push_back(d);
  }
  {
    TDigest<> d(50);  // five values: single-valued centroids and ties
    for (int i = 0; i < 5000; ++i) d.add(small(rng));
    d.flush();
    digests.push_back(d);
  }
  {
    TDigest<> d(100);  // a few values, some still buffered
    for (double x : {3.0, 1.0, 4.0, 1.0, 5.0}) d.add(x);
    digests.push_back(d);
  }
  {
    TDigest<> a(100);  // merged, with weighted values pending and a buffer
    TDigest<> b(100);
    for (int i = 0; i < 3000; ++i) a.add(normal(rng));
    for (int i = 0; i < 3000; ++i) b.add(normal(rng) + 3);
    a.merge(b);
    for (int i = 0; i < 100; ++i) a.add(normal(rng));
    REQUIRE(a.buffered() > 0);
    digests.push_back(a);
  }
  for (std::size_t k = 0; k < digests.size(); ++k) {
    INFO("digest " << k);
    check_batch_queries(digests[k]);
  }
  {
    INFO("single precision, with weighted values");
    TDigest<float> f(60);
    for (int i = 0; i < 4000; ++i) f.add(normal(rng), 1 + i % 3);
    for (int i = 0; i < 50; ++i) f.add(static_cast<double>(small(rng)));
    check_batch_queries(f);
  }
  // Bad input: out of order, NaN, outside [0, 1]; an empty digest answers NaN.
  const TDigest<>& d = digests[0];
  double out[2];
  std::pair<double, double> pairs[2];
  const double descending[] = {0.6, 0.5};
  const double with_nan[] = {0.5, std::numeric_limits<double>::quiet_NaN()};
  const double above_one[] = {0.5, 1.5};
  CHECK_THROWS_AS(d.quantiles(descending, 2, out), vigil::invalid_argument);
  CHECK_THROWS_AS(d.quantiles(with_nan, 2, out), vigil::invalid_argument);
  CHECK_THROWS_AS(d.quantiles(above_one, 2, out), vigil::invalid_argument);
  CHECK_THROWS_AS(d.rank_intervals(descending, 2, pairs), vigil::invalid_argument);
  CHECK_THROWS_AS(d.rank_intervals(with_nan, 2, pairs), vigil::invalid_argument);
  const TDigest<> empty(100);
  const double points[] = {0.25, 0.75};
  empty.quantiles(points, 2, out);
  CHECK((std::isnan(out[0]) && std::isnan(out[1])));
  empty.rank_intervals(points, 2, pairs);
  CHECK((std::isnan(pairs[1].first) && std::isnan(pairs[1].second)));
}

TEST_CASE("TDigest: quantiles stay monotone and within [min, max] across values of very different size",
          "[tdigest]") {
  // Twenty values near -1e20, twenty near -5 and twenty near 3: interpolating between knots
  // of such different size must neither cancel to a value outside the knots (0 between
  // -1e20 and -5) nor come back down.
  std::vector<vigil::TDigest<>> digests;
  for (const double compression : {10.0, 20.0, 50.0}) {
    vigil::TDigest<> d(compression);
    std::mt19937_64 rng(7);
    std::uniform_real_distribution<double> jitter(-0.1, 0.1);
    for (int i = 0; i < 20; ++i) d.add(-1e20 * (1 + jitter(rng)));
    for (int i = 0; i < 20; ++i) d.add(-5 + jitter(rng));
    for (int i = 0; i < 20; ++i) d.add(3 + jitter(rng));
    digests.push_back(d);
    // Values at both ends of the double range: their difference overflows.
    vigil::TDigest<> wide(compression);
    for (int i = 0; i < 30; ++i) wide.add(-1e308 * (1 - 0.01 * jitter(rng)));
    for (int i = 0; i < 30; ++i) wide.add(1e308 * (1 - 0.01 * jitter(rng)));
    digests.push_back(wide);
  }
  for (const vigil::TDigest<>& d : digests) {
    std::vector<double> q;
    for (int i = 0; i <= 4800; ++i) q.push_back(i / 4800.0);
    std::vector<double> batch(q.size());
    d.quantiles(q.data(), q.size(), batch.data());
    double previous = -std::numeric_limits<double>::infinity();
    for (std::size_t i = 0; i < q.size(); ++i) {
      const double x = d.quantile(q[i]);
      INFO("q " << q[i] << " quantile " << x << " previous " << previous);
      REQUIRE(std::isfinite(x));
      REQUIRE(x >= previous);
      REQUIRE(x >= d.min());
      REQUIRE(x <= d.max());
      REQUIRE(batch[i] == x);
      previous = x;
    }
    CHECK(d.quantile(0) == d.min());
    CHECK(d.quantile(1) == d.max());
  }
}

namespace {

struct RawCentroid {
  double mean;
  double weight;
  bool single;
};

// Version-1 bytes of a double digest, field by field (f64 weights), for states serialize()
// would never write.
std::vector<std::uint8_t> raw_tdigest(double compression, double count, double sum, double min, double max,
                                      const std::vector<RawCentroid>& centroids, std::uint16_t flags = 0) {
  std::vector<std::uint8_t> out;
  vigil::io::Writer w(out);
  w.header(vigil::io::TypeId::tdigest, 1, flags);
  w.f64(compression);
  w.u8(2);
  w.f64(count);
  w.f64(sum);
  w.f64(min);
  w.f64(max);
  w.varint(0);
  w.varint(centroids.size());
  std::uint64_t previous = 0;
  for (const RawCentroid& c : centroids) {
    std::uint64_t bits;
    std::memcpy(&bits, &c.mean, sizeof bits);
    const std::uint64_t sign = std::uint64_t{1} << 63;
    const std::uint64_t key = (bits & sign) ? ~bits : (bits | sign);
    const auto delta = static_cast<std::int64_t>(key - previous);
    w.varint((static_cast<std::uint64_t>(delta) << 1) ^ static_cast<std::uint64_t>(delta >> 63));
    previous = key;
    w.f64(c.weight);
  }
  for (std::size_t i = 0; i < centroids.size(); i += 8) {
    std::uint8_t bits = 0;
    for (std::size_t j = i; j < std::min(i + 8, centroids.size()); ++j)
      if (centroids[j].single) bits = static_cast<std::uint8_t>(bits | (1u << (j - i)));
    w.u8(bits);
  }
  return out;
}

}  // namespace

TEST_CASE("TDigest: deserialize refuses extremes that are not finite, ordered and the end centroids",
          "[tdigest][io]") {
  const double infinity = std::numeric_limits<double>::infinity();
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const std::vector<RawCentroid> three = {{1, 1, true}, {2, 1, true}, {3, 1, true}};
  // The same bytes with consistent fields load, and are what serialize() writes.
  const auto good = raw_tdigest(100, 3, 6, 1, 3, three);
  const TDigest<> back = TDigest<>::deserialize(good);
  CHECK(vigil::detail::tdigest_invariant_violation(back).empty());
  CHECK(back.quantile(0) == 1);
  CHECK(back.quantile(1) == 3);
  for (const auto& [min, max] : std::vector<std::pair<double, double>>{
           {-infinity, 3}, {1, infinity}, {nan, 3}, {1, nan}, {0, 3}, {1, 4}, {3, 1}}) {
    INFO("min " << min << ", max " << max);
    CHECK_THROWS_AS(TDigest<>::deserialize(raw_tdigest(100, 3, 6, min, max, three)), vigil::format_error);
  }
  CHECK_THROWS_WITH(TDigest<>::deserialize(raw_tdigest(100, 3, 6, -infinity, 3, three)), Catch::Contains("min -inf"));
  // An empty digest has NaN extremes and sum 0.
  CHECK(TDigest<>::deserialize(raw_tdigest(100, 0, 0, nan, nan, {})).empty());
  CHECK_THROWS_AS(TDigest<>::deserialize(raw_tdigest(100, 0, 0, 1, 2, {})), vigil::format_error);
  CHECK_THROWS_AS(TDigest<>::deserialize(raw_tdigest(100, 0, 5, nan, nan, {})), vigil::format_error);
  // Unknown flag bits.
  CHECK_THROWS_WITH(TDigest<>::deserialize(raw_tdigest(100, 3, 6, 1, 3, three, 8)), Catch::Contains("unknown flags 8"));
  // A float digest's extremes must be floats: 1e300 would become infinite.
  const TDigest<float> f = TDigest<float>::from_postgres("flags 1 count 2 compression 100 centroids 2 (1, 1) (2, 1)");
  CHECK(vigil::detail::tdigest_invariant_violation(f).empty());
  CHECK_THROWS_AS(TDigest<float>::from_postgres("flags 1 count 2 compression 100 centroids 2 (1, 1) (1e300, 1)"),
                  vigil::format_error);
}

TEST_CASE("TDigest: deserialize refuses a sum inconsistent with the centroids", "[tdigest][io]") {
  // A digest holding 70.5 whose sum gives a mean of 3.9e-307.
  const std::vector<RawCentroid> one = {{70.5, 1, true}};
  CHECK(TDigest<>::deserialize(raw_tdigest(100, 1, 70.5, 70.5, 70.5, one)).mean() == 70.5);
  CHECK_THROWS_WITH(TDigest<>::deserialize(raw_tdigest(100, 1, 3.9e-307, 70.5, 70.5, one)),
                    Catch::Contains("sum 3.9e-307 is inconsistent"));
  CHECK_THROWS_AS(TDigest<>::deserialize(raw_tdigest(100, 1, 71, 70.5, 70.5, one)), vigil::format_error);
  CHECK_THROWS_AS(TDigest<>::deserialize(raw_tdigest(100, 1, std::numeric_limits<double>::infinity(), 70.5, 70.5, one)),
                  vigil::format_error);
  // Rounding of the running sum is tolerated: 10^5 additions of 0.1 give a sum that is not
  // the centroids' 10^4 exactly, and it loads.
  TDigest<> tenths(100);
  for (int i = 0; i < 100000; ++i) tenths.add(0.1);
  const TDigest<> back = TDigest<>::deserialize(tenths.serialize());
  CHECK(back == tenths);
  CHECK(vigil::detail::tdigest_invariant_violation(back).empty());
  // Every accepted digest answers within its extremes: random sums near the true one either
  // load with a mean in [min, max] or are refused.
  std::mt19937_64 rng(5);
  std::uniform_real_distribution<double> spread(-1e-3, 1e-3);
  const std::vector<RawCentroid> two = {{-3, 1, true}, {5, 2, false}, {9, 1, true}};
  std::size_t accepted = 0;
  for (int i = 0; i < 200; ++i) {
    try {
      const TDigest<> d = TDigest<>::deserialize(raw_tdigest(100, 4, 16 * (1 + spread(rng)), -3, 9, two));
      ++accepted;
      CHECK(vigil::detail::tdigest_invariant_violation(d).empty());
      CHECK(d.mean() == Approx(4).epsilon(1e-5));
    } catch (const vigil::format_error&) {
    }
  }
  CHECK(accepted < 200);
}

TEST_CASE("TDigest: values near the double range keep a finite mean that round-trips", "[tdigest][io]") {
  const double big = 1.7e308;
  TDigest<> d(100);
  for (int i = 0; i < 10; ++i) d.add(big);
  d.add(-big, 3);
  CHECK(d.mean() == Approx(big * (7.0 / 13)).epsilon(1e-12));
  CHECK(std::isfinite(d.mean()));
  const TDigest<> back = TDigest<>::deserialize(d.serialize());
  CHECK(back.mean() == d.mean());
  CHECK(vigil::detail::tdigest_invariant_violation(back).empty());
  // Opposite overflows merged: the running sum is NaN, the mean still comes from the centroids.
  TDigest<> low(100);
  for (int i = 0; i < 4; ++i) low.add(-big);
  TDigest<> both = d;
  both.merge(low);
  const TDigest<> both_back = TDigest<>::deserialize(both.serialize());
  CHECK(std::isfinite(both_back.mean()));
  CHECK(both_back.mean() == Approx(both.mean()).epsilon(1e-12));
  CHECK(vigil::detail::tdigest_invariant_violation(both_back).empty());
  // Equal values whose running sum rounds up: the mean stays within [min, max].
  TDigest<> tenths(100);
  for (int i = 0; i < 3; ++i) tenths.add(0.1);
  CHECK(tenths.mean() <= tenths.max());
}

TEST_CASE("TDigest: deserialize refuses more centroids than the compression allows and endpoints it cannot reach",
          "[tdigest][io]") {
  TDigest<> probe(10);
  const std::size_t most = probe.max_centroids();
  CHECK(most == 45);
  const auto digest_of = [](std::size_t n) {
    std::vector<RawCentroid> c;
    for (std::size_t i = 0; i < n; ++i) c.push_back({static_cast<double>(i), 1, true});
    const double n_d = static_cast<double>(n);
    return raw_tdigest(10, n_d, n_d * (n_d - 1) / 2, 0, n_d - 1, c);
  };
  CHECK(TDigest<>::deserialize(digest_of(most)).centroids().size() == most);
  CHECK_THROWS_WITH(TDigest<>::deserialize(digest_of(most + 1)), Catch::Contains("exceed max_centroids() 45"));
  // The last centroid weighs less than the rounding allowed on the count: the one before it
  // would reach rank count, and quantile(1) would not be max().
  const std::vector<RawCentroid> tiny_last = {{1, 1, true}, {2, 1e-12, true}};
  CHECK_THROWS_WITH(TDigest<>::deserialize(raw_tdigest(10, 1, 1, 1, 2, tiny_last)),
                    Catch::Contains("before the last"));
  // from_postgres keeps the bound too: the extension allows up to 10 times its compression
  // in centroids (compression 10 reads as vigil's smallest δ, 10).
  std::string text = "flags 1 count 100 compression 10 centroids 100";
  for (int i = 0; i < 100; ++i) text += " (" + std::to_string(i) + ", 1)";
  const TDigest<> pg = TDigest<>::from_postgres(text);
  CHECK(pg.centroids().size() <= most);
  CHECK(pg.count() == 100);
  CHECK(pg.min() == 0);
  CHECK(pg.max() == 99);
  CHECK(pg.mean() == 49.5);
  CHECK(vigil::detail::tdigest_invariant_violation(pg).empty());
  CHECK(TDigest<>::deserialize(pg.serialize()) == pg);
}

TEST_CASE("TDigest: every state deserialize accepts from corrupted bytes answers consistently", "[tdigest][io]") {
  std::mt19937_64 rng(13);
  std::normal_distribution<double> normal(0, 1);
  std::vector<std::vector<std::uint8_t>> seeds;
  {
    TDigest<> d(20);
    for (int i = 0; i < 3000; ++i) d.add(std::exp(4 * normal(rng)));
    seeds.push_back(d.serialize());
  }
  {
    TDigest<> d(10);
    for (int i = 0; i < 200; ++i) d.add(std::round(normal(rng)), 0.5 + (i % 3));
    seeds.push_back(d.serialize());
  }
  std::size_t accepted = 0;
  std::size_t tried = 0;
  for (const auto& bytes : seeds) {
    for (std::size_t i = 8; i < bytes.size(); ++i) {
      for (const std::uint8_t mask : {0x01, 0x10, 0x80, 0xff}) {
        auto corrupt = bytes;
        corrupt[i] = static_cast<std::uint8_t>(corrupt[i] ^ mask);
        ++tried;
        try {
          const TDigest<> d = TDigest<>::deserialize(corrupt);
          ++accepted;
          const std::string problem = vigil::detail::tdigest_invariant_violation(d);
          INFO("byte " << i << " ^ " << int(mask) << ": " << problem);
          CHECK(problem.empty());
        } catch (const vigil::format_error&) {
        }
      }
    }
  }
  CHECK(accepted < tried);
}

TEST_CASE("TDigest: a digest whose running sum overflowed to NaN equals its own bytes", "[tdigest]") {
  // Values near ±1e300 with weights of 2^61: the running sum is −inf + inf = NaN; the mean
  // comes from the centroids, and the data is the same after a round trip.
  const TDigest<> d = TDigest<>::from_postgres(
      "flags 1 count 4611686018427387904 compression 10 centroids 2 (1e300, 2305843009213693952) "
      "(-1e300, 2305843009213693952)");
  const TDigest<> back = TDigest<>::deserialize(d.serialize());
  CHECK(back.serialize() == d.serialize());
  CHECK(back == d);
  CHECK(d == d);
  TDigest<> added(10);
  added.add(-1e300, 0x1p61);
  added.add(1e300, 0x1p61);
  CHECK(TDigest<>::deserialize(added.serialize()) == added);
  CHECK(std::isfinite(added.mean()));
}

TEST_CASE("TDigest: quantile(1) is max() when the count is too large to absorb a unit weight", "[tdigest]") {
  // 2^63 + 1 rounds to 2^63: the last value's weight is lost from count(), and the knots
  // before it already reach the count.
  TDigest<> d(10);
  d.add(0.0, 0x1p62);
  d.add(5.0, 0x1p62);
  d.add(1e300);
  CHECK(d.max() == 1e300);
  CHECK(d.quantile(1) == 1e300);
  const std::vector<double> qs{0.0, 0.5, 1.0};
  std::vector<double> out(qs.size());
  d.quantiles(qs.data(), qs.size(), out.data());
  CHECK(out[2] == 1e300);
  CHECK(out[0] == d.quantile(0));
  CHECK(out[1] == d.quantile(0.5));
}

TEST_CASE("TDigest: a last weight lost in the rounding of a count beyond 2^53 reads back", "[tdigest]") {
  TDigest<> d(10);
  d.add(0.0, 0x1p62);
  d.add(5.0, 0x1p62);
  d.add(1e300);
  const TDigest<> back = TDigest<>::deserialize(d.serialize());
  CHECK(back == d);
  CHECK(back.quantile(1) == 1e300);
}

TEST_CASE("TDigest: centroids spanning most of the double range keep their exact means", "[tdigest]") {
  // Offsets from a centroid's first value overflow here; each mean must still be that of its
  // values, which lie on an even grid from -max to max, so the ranks a centroid covers fix it.
  const double big = std::numeric_limits<double>::max();
  constexpr int steps = 100;
  TDigest<double> wide_range_digest(10);
  for (int i = 0; i <= steps; ++i) wide_range_digest.add(big * (2.0 * i / steps - 1));
  wide_range_digest.flush();
  CHECK(vigil::detail::tdigest_invariant_violation(wide_range_digest).empty());
  double rank = 0;
  for (const auto& c : wide_range_digest.centroids()) {
    const double expected = big * (2 * (rank + (c.weight - 1) / 2) / steps - 1);
    CHECK(std::fabs(c.mean - expected) <= 1e-12 * big);
    rank += c.weight;
  }
  CHECK(rank == steps + 1);
}

TEST_CASE("TDigest: under io::ExactState the bytes carry the working state, and a copy read back continues bit for bit",
          "[sketch][tdigest]") {
  std::mt19937_64 random(5);
  std::lognormal_distribution<double> value(0, 1);
  for (const std::size_t first : {0, 1, 7, 399, 400, 401, 5000, 12345}) {
    CAPTURE(first);
    vigil::TDigest<> d(100);
    for (std::size_t i = 0; i < first; ++i) d.add(value(random));
    if (first % 2 == 1) d.add(2.5, 3.0);  // a weighted value waiting too
    std::vector<std::uint8_t> bytes;
    {
      const vigil::io::ExactState exact;
      bytes = d.serialize();
    }
    vigil::TDigest<> back = vigil::TDigest<>::deserialize(bytes);
    CHECK(back.count() == d.count());
    CHECK(back.buffered() == d.buffered());
    // The plain form settles what waits: another, shorter object.
    if (d.buffered() > 0) CHECK(d.serialize() != bytes);
    for (int i = 0; i < 3000; ++i) {
      const double x = value(random);
      d.add(x);
      back.add(x);
    }
    CHECK(back.serialize() == d.serialize());
    for (const double q : {0.001, 0.5, 0.99, 0.999}) CHECK(back.quantile(q) == d.quantile(q));
  }
  // Working state out of its bounds is refused.
  vigil::TDigest<> d(100);
  for (int i = 0; i < 10; ++i) d.add(i);
  std::vector<std::uint8_t> bytes;
  {
    const vigil::io::ExactState exact;
    bytes = d.serialize();
  }
  for (std::size_t n = 0; n < bytes.size(); ++n)
    CHECK_THROWS_AS(vigil::TDigest<>::deserialize(bytes.data(), n), vigil::format_error);
  std::vector<std::uint8_t> bad = bytes;
  bad[bad.size() - 8 * 10 - 2] = 2;  // the pass direction byte (10 keys and their count follow)
  CHECK_THROWS_AS(vigil::TDigest<>::deserialize(bad), vigil::format_error);
  bad = bytes;
  for (int k = 1; k <= 8; ++k) bad[bad.size() - static_cast<std::size_t>(k)] = 0xff;  // the last key: a NaN
  CHECK_THROWS_AS(vigil::TDigest<>::deserialize(bad), vigil::format_error);
}

#include <vigil/sketch/category_counts.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include "vigil_test.hpp"

namespace {

using Exact = std::unordered_map<std::string, std::uint64_t>;

// Draws ranks 1..n with P(r) ∝ r^(−s) by inverting the cumulative distribution.
class Zipf {
 public:
  Zipf(std::size_t n, double s) : cdf_(n) {
    double sum = 0;
    for (std::size_t r = 0; r < n; ++r) cdf_[r] = sum += std::pow(static_cast<double>(r + 1), -s);
    for (double& c : cdf_) c /= sum;
  }
  template <class Rng>
  std::size_t operator()(Rng& rng) {
    const double u = std::uniform_real_distribution<double>(0, 1)(rng);
    return static_cast<std::size_t>(std::lower_bound(cdf_.begin(), cdf_.end(), u) - cdf_.begin());
  }

 private:
  std::vector<double> cdf_;
};

std::string label(std::size_t rank) { return "v" + std::to_string(rank); }

// Every guarantee of the class comment, checked against exact counts.
void check_bounds(const vigil::CategoryCounts& c, const Exact& exact, std::uint64_t n) {
  REQUIRE(c.total() == n);
  CHECK(c.error_bound() <= n / c.capacity());
  CHECK(c.size() <= c.capacity());
  std::uint64_t attributed = 0;
  std::size_t violations = 0;
  for (const auto& e : c.entries()) {
    const auto it = exact.find(e.value);
    const std::uint64_t truth = it == exact.end() ? 0 : it->second;
    if (!(e.lower() <= truth && truth <= e.count && e.error <= c.error_bound())) ++violations;
    attributed += e.lower();
  }
  CHECK(violations == 0);
  CHECK(c.other() == n - attributed);
  std::size_t untracked_violations = 0;
  for (const auto& [value, truth] : exact) {
    const auto est = c.estimate(value);
    if (!est.tracked && truth > c.error_bound()) ++untracked_violations;
    if (!(est.lower() <= truth && truth <= est.count)) ++untracked_violations;
  }
  CHECK(untracked_violations == 0);
}

using vigil_test::truncated;

}  // namespace

TEST_CASE("CategoryCounts: load_le reads 0 to 8 bytes as a little-endian number", "[category_counts]") {
  // Every length at every offset of a buffer whose bytes all differ and use the high bit,
  // against the number assembled byte by byte; the bytes beyond n must not leak in.
  unsigned char bytes[24];
  for (int i = 0; i < 24; ++i) bytes[i] = static_cast<unsigned char>(0x80 | ((7 * i + 1) & 0x7f));
  const char* buffer = reinterpret_cast<const char*>(bytes);
  for (std::size_t offset = 0; offset < 16; ++offset) {
    for (std::size_t n = 0; n <= 8; ++n) {
      std::uint64_t expected = 0;
      for (std::size_t i = 0; i < n; ++i) expected |= std::uint64_t{bytes[offset + i]} << (8 * i);
      INFO("offset " << offset << ", " << n << " bytes");
      CHECK(vigil::detail::load_le(buffer + offset, n) == expected);
    }
  }
}

TEST_CASE("CategoryCounts: empty summary", "[category_counts]") {
  vigil::CategoryCounts c(8);
  CHECK(c.empty());
  CHECK(c.total() == 0);
  CHECK(c.size() == 0);
  CHECK(c.exact());
  CHECK(c.other() == 0);
  CHECK(c.top_k(3).empty());
  CHECK(std::isnan(c.missing_rate()));
  CHECK(c.memory_bytes() == 0);
  const auto est = c.estimate("anything");
  CHECK_FALSE(est.tracked);
  CHECK(est.count == 0);
  CHECK(vigil::CategoryCounts::deserialize(c.serialize()) == c);
}

TEST_CASE("CategoryCounts: one value, by string and by key", "[category_counts]") {
  vigil::CategoryCounts c(8);
  const vigil::CategoryCounts::Key fr("FR");
  c.add("FR");
  c.add(fr, 2);
  c.add_missing();
  CHECK(c.total() == 3);
  CHECK(c.missing() == 1);
  CHECK(c.count() == 4);
  CHECK(c.missing_rate() == 0.25);
  const auto top = c.top_k(5);
  REQUIRE(top.size() == 1);
  CHECK(top[0].value == "FR");
  CHECK(top[0].count == 3);
  CHECK(top[0].error == 0);
  CHECK(c.estimate(fr).count == 3);
  CHECK(c.estimate(fr).tracked);
  CHECK(fr.hash() == vigil::CategoryCounts::hash("FR"));
}

TEST_CASE("CategoryCounts: exact below capacity equals exact counts", "[category_counts]") {
  std::mt19937_64 rng(1);
  Zipf zipf(500, 1.1);
  vigil::CategoryCounts c(500), by_key(500);
  std::vector<vigil::CategoryCounts::Key> keys;
  for (std::size_t r = 0; r < 500; ++r) keys.emplace_back(label(r));
  Exact exact;
  for (int i = 0; i < 100000; ++i) {
    const std::size_t r = zipf(rng);
    c.add(keys[r].value());
    by_key.add(keys[r]);
    ++exact[keys[r].value()];
  }
  CHECK(c.exact());
  CHECK(c.other() == 0);
  CHECK(c.size() == exact.size());
  CHECK(c == by_key);
  std::size_t wrong = 0;
  for (const auto& [value, n] : exact) {
    const auto est = c.estimate(value);
    if (!(est.tracked && est.count == n && est.error == 0)) ++wrong;
  }
  CHECK(wrong == 0);
  const auto top = c.top_k(3);
  REQUIRE(top.size() == 3);
  CHECK(top[0].value == "v0");
  CHECK(top[1].value == "v1");
  CHECK(top[2].value == "v2");
  CHECK(top[0].count >= top[1].count);
}

TEST_CASE("CategoryCounts: Zipf stream over 10^6 possible values stays within its bounds", "[category_counts]") {
  const std::size_t capacity = 1000;
  const std::uint64_t n = 300000;
  std::mt19937_64 rng(2026);
  Zipf zipf(1000000, 1.1);
  std::vector<std::string> labels(n);
  for (auto& l : labels) l = label(zipf(rng));

  vigil::CategoryCounts c(capacity);
  Exact exact;
  for (const std::string& l : labels) {
    c.add(l);
    ++exact[l];
  }
  CHECK(exact.size() > 40000);  // far more distinct values than capacity
  CHECK_FALSE(c.exact());
  check_bounds(c, exact, n);
  // Memory: capacity slots of short values, no growth with the number of distinct values.
  CHECK(c.memory_bytes() <= capacity * 96);

  // The true top 10 are found, in order, and every value above N/capacity is tracked.
  std::vector<std::pair<std::uint64_t, std::string>> truth;
  for (const auto& [value, count] : exact) truth.emplace_back(count, value);
  std::sort(truth.rbegin(), truth.rend());
  const auto top = c.top_k(10);
  REQUIRE(top.size() == 10);
  for (std::size_t i = 0; i < 10; ++i) CHECK(top[i].value == truth[i].second);
  for (const auto& [count, value] : truth) {
    if (count <= n / capacity) break;
    CHECK(c.estimate(value).tracked);
  }

  {  // merge of four shards keeps the bounds
    std::vector<vigil::CategoryCounts> shards(4, vigil::CategoryCounts(capacity));
    for (std::size_t i = 0; i < labels.size(); ++i) shards[i % 4].add(labels[i]);
    shards[0].merge(shards[1]);
    shards[2].merge(shards[3]);
    shards[0].merge(shards[2]);
    check_bounds(shards[0], exact, n);
    const auto merged_top = shards[0].top_k(10);
    for (std::size_t i = 0; i < 10; ++i) CHECK(merged_top[i].value == truth[i].second);
  }
  {  // serialization round-trip
    const auto bytes = c.serialize();
    const auto back = vigil::CategoryCounts::deserialize(bytes);
    CHECK(back == c);
    CHECK(back.serialize() == bytes);
    CHECK(back.other() == c.other());
  }
}

TEST_CASE("CategoryCounts: merge of exact summaries is exact", "[category_counts]") {
  vigil::CategoryCounts a(4), b(4), whole(4);
  for (const char* v : {"x", "y", "x", ""}) {
    a.add(v);
    whole.add(v);
  }
  for (const char* v : {"y", "z", "z", "z"}) {
    b.add(v);
    whole.add(v);
  }
  b.add_missing(2);
  whole.add_missing(2);
  a.merge(b);
  CHECK(a == whole);
  CHECK(a.exact());
  CHECK(a.estimate("").count == 1);  // the empty string is a value like any other
  CHECK(a.estimate("z").count == 3);

  // Beyond capacity the union keeps the largest and raises the error bound.
  vigil::CategoryCounts c(2), d(2);
  c.add("p", 10);
  c.add("q", 5);
  d.add("r", 7);
  d.add("s", 1);
  c.merge(d);
  CHECK(c.size() == 2);
  CHECK(c.estimate("p").count == 10);
  CHECK(c.estimate("r").count == 7);
  CHECK(c.error_bound() == 5);
  CHECK(c.estimate("q").count == 5);  // untracked: at most the error bound
  CHECK_FALSE(c.estimate("q").tracked);
  CHECK(c.other() == 23 - 17);

  vigil::CategoryCounts small(1);
  CHECK_THROWS_AS(c.merge(small), vigil::invalid_argument);
  c.clear();
  CHECK(c.empty());
  CHECK(c.size() == 0);
  CHECK(c.exact());
}

TEST_CASE("CategoryCounts: bad input and bad bytes", "[category_counts]") {
  CHECK_THROWS_AS(vigil::CategoryCounts(0), vigil::invalid_argument);
  CHECK_THROWS_AS(vigil::CategoryCounts(std::size_t(1) << 27), vigil::invalid_argument);

  vigil::CategoryCounts c(3);
  for (const char* v : {"alpha", "beta", "gamma", "delta", "alpha", "a value longer than sixteen bytes"})
    c.add(v);
  c.add("", 0);  // zero occurrences change nothing
  c.add_missing(4);
  CHECK(c.total() == 6);
  const auto bytes = c.serialize();
  REQUIRE(vigil::CategoryCounts::deserialize(bytes) == c);
  for (std::size_t n = 0; n < bytes.size(); ++n)
    CHECK_THROWS_AS(vigil::CategoryCounts::deserialize(truncated(bytes, n)), vigil::format_error);
  auto corrupt = bytes;
  corrupt[0] = 'X';
  CHECK_THROWS_AS(vigil::CategoryCounts::deserialize(corrupt), vigil::format_error);
  corrupt = bytes;
  corrupt.push_back(0);
  CHECK_THROWS_AS(vigil::CategoryCounts::deserialize(corrupt), vigil::format_error);
  corrupt = bytes;
  corrupt[8] = 0;  // capacity 0
  CHECK_THROWS_AS(vigil::CategoryCounts::deserialize(corrupt), vigil::format_error);

  // Hand-made bytes: a value listed twice.
  std::vector<std::uint8_t> twice;
  vigil::io::Writer w(twice);
  w.header(vigil::io::TypeId::category_counts, 1);
  for (std::uint64_t v : {4, 5, 0, 0, 2}) w.varint(v);
  w.string("a");
  w.varint(3);
  w.varint(0);
  w.string("a");
  w.varint(2);
  w.varint(0);
  CHECK_THROWS_AS(vigil::CategoryCounts::deserialize(twice), vigil::format_error);
}

namespace {

struct RawEntry {
  const char* value;
  std::uint64_t count;
  std::uint64_t error;
};

std::vector<std::uint8_t> raw_counts(std::uint64_t capacity, std::uint64_t total, std::uint64_t error_bound,
                                     const std::vector<RawEntry>& entries, std::uint64_t missing = 0) {
  std::vector<std::uint8_t> out;
  vigil::io::Writer w(out);
  w.header(vigil::io::TypeId::category_counts, 1);
  for (std::uint64_t v : {capacity, total, missing, error_bound, std::uint64_t{entries.size()}}) w.varint(v);
  for (const RawEntry& e : entries) {
    w.string(e.value);
    w.varint(e.count);
    w.varint(e.error);
  }
  return out;
}

}  // namespace

TEST_CASE("CategoryCounts: deserialize refuses counts an exact or heavy-hitter summary cannot hold",
          "[category_counts]") {
  // Exact (error bound 0): the counts are the total.
  const auto good = vigil::CategoryCounts::deserialize(raw_counts(4, 5, 0, {{"a", 3, 0}, {"b", 2, 0}}));
  CHECK(good.exact());
  CHECK(good.other() == 0);
  CHECK(vigil::detail::category_counts_invariant_violation(good).empty());
  // A total but no entries, while exact: other() would be 5 and no value would hold it.
  CHECK_THROWS_WITH(vigil::CategoryCounts::deserialize(raw_counts(4, 5, 0, {})),
                    Catch::Contains("counts sum to 0, not the total 5"));
  CHECK_THROWS_AS(vigil::CategoryCounts::deserialize(raw_counts(4, 6, 0, {{"a", 3, 0}, {"b", 2, 0}})),
                  vigil::format_error);
  // A tracked value counted 0 times.
  CHECK_THROWS_AS(vigil::CategoryCounts::deserialize(raw_counts(4, 3, 0, {{"a", 3, 0}, {"b", 0, 0}})),
                  vigil::format_error);
  // Heavy hitters (capacity 2, error bound 2, total 8): Σ(count − 2) + 2·2 ≤ 8.
  const auto heavy = vigil::CategoryCounts::deserialize(raw_counts(2, 8, 2, {{"a", 4, 0}, {"b", 3, 2}}));
  CHECK(vigil::detail::category_counts_invariant_violation(heavy).empty());
  CHECK_THROWS_WITH(vigil::CategoryCounts::deserialize(raw_counts(2, 8, 2, {{"a", 5, 0}, {"b", 4, 2}})),
                    Catch::Contains("above the error bound"));
}

TEST_CASE("CategoryCounts: every summary add() and merge() build keeps its invariants through the bytes",
          "[category_counts]") {
  std::mt19937_64 rng(3);
  std::geometric_distribution<int> skewed(0.05);
  std::vector<vigil::CategoryCounts> parts;
  for (int p = 0; p < 6; ++p) {
    vigil::CategoryCounts c(8 + 4 * (p % 3));
    const int n = 50 + 400 * p;
    for (int i = 0; i < n; ++i) c.add("v" + std::to_string(skewed(rng) + 7 * p), 1 + (i % 3 == 0 ? 2 : 0));
    parts.push_back(c);
  }
  vigil::CategoryCounts fleet(8);
  for (const vigil::CategoryCounts& part : parts) {
    fleet.merge(part);
    for (const vigil::CategoryCounts* c : {&part, static_cast<const vigil::CategoryCounts*>(&fleet)}) {
      CHECK(vigil::detail::category_counts_invariant_violation(*c).empty());
      const auto back = vigil::CategoryCounts::deserialize(c->serialize());
      CHECK(back == *c);
      CHECK(vigil::detail::category_counts_invariant_violation(back).empty());
    }
  }
  CHECK_FALSE(fleet.exact());
}

TEST_CASE("CategoryCounts: deserialize refuses a total and missing count whose merge would overflow 64 bits",
          "[category_counts]") {
  const std::uint64_t limit = std::uint64_t{1} << 62;
  auto at_limit = vigil::CategoryCounts::deserialize(raw_counts(4, limit - 5, 0, {{"a", limit - 5, 0}}, 5));
  at_limit.merge(vigil::CategoryCounts(at_limit));
  CHECK(at_limit.count() == 2 * limit);
  CHECK(at_limit.missing_rate() >= 0);
  CHECK(at_limit.missing_rate() <= 1);
  // count() = total + missing would wrap 64 bits: a missing rate far above 1.
  CHECK_THROWS_WITH(vigil::CategoryCounts::deserialize(raw_counts(4, 1, 0, {{"a", 1, 0}}, ~std::uint64_t{0})),
                    Catch::Contains("more than 2^62"));
  CHECK_THROWS_WITH(vigil::CategoryCounts::deserialize(raw_counts(4, limit - 4, 0, {{"a", limit - 4, 0}}, 5)),
                    Catch::Contains("more than 2^62"));
}

#include <vigil/monitor/detail/label_store.hpp>

#include <algorithm>
#include <atomic>
#include <bitset>
#include <cmath>
#include <cstdint>
#include <deque>
#include <limits>
#include <ostream>
#include <random>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "vigil_test.hpp"

namespace {

using vigil::detail::LabelStore;
using vigil::detail::LabelStoreOptions;
using vigil::detail::PendingRequest;
using vigil::detail::request_key;
using Join = LabelStore::Join;

constexpr double infinity = std::numeric_limits<double>::infinity();
const double not_a_number = std::nan("");

LabelStoreOptions options(std::size_t capacity, double ttl = 1000, std::size_t partitions = 1, std::size_t extras = 0) {
  LabelStoreOptions o;
  o.capacity = capacity;
  o.time_to_live = ttl;
  o.partitions = partitions;
  o.extras = extras;
  return o;
}

PendingRequest request(double time, std::int64_t interval = 0, double score = 0.5,
                       std::uint32_t predicted = 1) {
  return PendingRequest{time, interval, score, predicted};
}

Join label(LabelStore& s, std::uint64_t key, double time) {
  PendingRequest out;
  return s.join(key, time, out, nullptr);
}

struct Counts {
  std::uint64_t held, pending, evicted, expired_unlabelled, duplicate_ids;
  bool operator==(const Counts& o) const {
    return held == o.held && pending == o.pending && evicted == o.evicted &&
           expired_unlabelled == o.expired_unlabelled && duplicate_ids == o.duplicate_ids;
  }
};

std::ostream& operator<<(std::ostream& out, const Counts& c) {
  return out << "{held " << c.held << ", pending " << c.pending << ", evicted " << c.evicted << ", expired_unlabelled "
             << c.expired_unlabelled << ", duplicate_ids " << c.duplicate_ids << "}";
}

Counts counts(const LabelStore& s) {
  return {s.held(), s.pending(), s.evicted(), s.expired_unlabelled(), s.duplicate_ids()};
}

/// What bytes_per_partition() allows for a last bucket partly used: 64 less 4, since the
/// index's 20 bytes a request make a multiple of 4.
constexpr std::size_t last_bucket_allowance = 60;

/// A store's memory for parts of `sizes` requests: each part a bytes_per_partition() less its
/// allowance for a last bucket, its requests, and its ⌈20 n / 64⌉ 64-byte buckets in place of
/// their 20 bytes each.
std::size_t memory_of(const std::vector<std::size_t>& sizes, std::size_t extras) {
  std::size_t bytes = 0;
  for (const std::size_t n : sizes)
    bytes += LabelStore::bytes_per_partition() - last_bucket_allowance + n * (LabelStore::bytes_per_request(extras) - 20) +
             64 * ((20 * n + 63) / 64);
  return bytes;
}

}  // namespace

TEST_CASE("LabelStore: an empty store holds nothing and knows no id", "[label_store]") {
  LabelStore s(options(8));
  CHECK(counts(s) == Counts{0, 0, 0, 0, 0});
  PendingRequest out = request(-1);
  CHECK(s.join(0, 0, out, nullptr) == Join::unknown);
  CHECK(s.join_conversion(request_key("a"), 0, out, nullptr) == Join::unknown);
  CHECK(out.time == -1);  // left as it was
  s.expire(1e12);
  CHECK(counts(s) == Counts{0, 0, 0, 0, 0});
  CHECK(s.capacity() == 8);
  // 8 requests: 160 bytes of index in three buckets (192), 32 more than their share.
  CHECK(s.memory_bytes() == 8 * LabelStore::bytes_per_request(0) + LabelStore::bytes_per_partition() -
                                last_bucket_allowance + 32);
}

TEST_CASE("LabelStore: a label joins its request once, a second is a duplicate", "[label_store]") {
  LabelStore s(options(8));
  const std::uint64_t key = 0;  // zero is a key like any other
  s.insert(key, request(100, 7, 0.25, 3), nullptr);
  CHECK(counts(s) == Counts{1, 1, 0, 0, 0});
  CHECK(label(s, 1, 101) == Join::unknown);
  PendingRequest out;
  REQUIRE(s.join(key, 150, out, nullptr) == Join::joined);
  CHECK(out.time == 100);
  CHECK(out.interval == 7);
  CHECK(out.score == 0.25);
  CHECK(out.predicted == 3);
  CHECK(counts(s) == Counts{1, 0, 0, 0, 0});  // labelled, still held
  out = PendingRequest{};
  CHECK(s.join(key, 160, out, nullptr) == Join::duplicate);
  CHECK(out.interval == 7);  // filled for a duplicate too
  CHECK(counts(s) == Counts{1, 0, 0, 0, 0});
}

TEST_CASE("LabelStore: a request is labelled once and converted once, independently", "[label_store]") {
  LabelStore s(options(8));
  const auto key = request_key("impression-1");
  s.insert(key, request(10), nullptr);
  PendingRequest out;
  CHECK(s.join_conversion(key, 20, out, nullptr) == Join::joined);
  CHECK(s.pending() == 1);  // a conversion is not a label
  CHECK(s.join_conversion(key, 21, out, nullptr) == Join::duplicate);
  CHECK(s.join(key, 22, out, nullptr) == Join::joined);
  CHECK(s.pending() == 0);
  CHECK(s.join(key, 23, out, nullptr) == Join::duplicate);
  CHECK(s.join_conversion(key, 24, out, nullptr) == Join::duplicate);
}

TEST_CASE("LabelStore: a label dated before its request is refused and changes nothing", "[label_store]") {
  LabelStore s(options(8));
  const auto key = request_key("r");
  s.insert(key, request(100), nullptr);
  PendingRequest out;
  CHECK(s.join(key, 99.5, out, nullptr) == Join::early);
  CHECK(out.time == 100);
  CHECK(s.pending() == 1);
  CHECK(s.join_conversion(key, 50, out, nullptr) == Join::early);
  CHECK(s.join(key, 100, out, nullptr) == Join::joined);  // at the request's own time it joins
  CHECK(s.pending() == 0);
}

TEST_CASE("LabelStore: the extras of a request come back with its join", "[label_store]") {
  LabelStore s(options(4, 1000, 1, 3));
  const std::uint32_t a[3] = {7, 8, 0xffffffffu}, b[3] = {1, 2, 3};
  s.insert(request_key(1), request(0), a);
  s.insert(request_key(2), request(0), b);
  std::uint32_t got[3] = {0, 0, 0};
  PendingRequest out;
  REQUIRE(s.join(request_key(1), 1, out, got) == Join::joined);
  CHECK(std::vector<std::uint32_t>(got, got + 3) == std::vector<std::uint32_t>{7, 8, 0xffffffffu});
  REQUIRE(s.join_conversion(request_key(2), 1, out, got) == Join::joined);
  CHECK(std::vector<std::uint32_t>(got, got + 3) == std::vector<std::uint32_t>{1, 2, 3});
  CHECK(s.join(request_key(2), 1, out, nullptr) == Join::joined);  // extras not wanted
  // 4 requests: 80 bytes of index in two buckets (128), 48 more than their share.
  CHECK(s.memory_bytes() == 4 * LabelStore::bytes_per_request(3) + LabelStore::bytes_per_partition() -
                                last_bucket_allowance + 48);
}

TEST_CASE("LabelStore: an id filed twice is counted, and the second request replaces the first",
          "[label_store]") {
  LabelStore s(options(3));
  s.insert(5, request(1, 1), nullptr);
  s.insert(5, request(2, 2), nullptr);
  CHECK(counts(s) == Counts{1, 1, 0, 0, 1});
  PendingRequest out;
  REQUIRE(s.join(5, 3, out, nullptr) == Join::joined);
  CHECK(out.interval == 2);
  // Filed again after its label: a new request, waiting for its own label.
  s.insert(5, request(4, 4), nullptr);
  CHECK(counts(s) == Counts{1, 1, 0, 0, 2});
  REQUIRE(s.join(5, 5, out, nullptr) == Join::joined);
  CHECK(out.interval == 4);
  // The replaced requests keep their ring positions (3 of 3) until the oldest end reaches
  // them: the next request frees the oldest, a dead one, and pushes out no live request.
  s.insert(6, request(6), nullptr);
  CHECK(counts(s) == Counts{2, 1, 0, 0, 2});
  s.insert(7, request(7), nullptr);  // frees the second dead position
  s.insert(8, request(8), nullptr);  // pushes out 5, labelled: not an eviction
  CHECK(counts(s) == Counts{3, 3, 0, 0, 2});
  CHECK(label(s, 5, 9) == Join::unknown);
}

TEST_CASE("LabelStore: a full store pushes out its oldest request, counted when unlabelled", "[label_store]") {
  LabelStore s(options(4));
  for (std::uint64_t k = 1; k <= 6; ++k) s.insert(k, request(static_cast<double>(k)), nullptr);
  CHECK(counts(s) == Counts{4, 4, 2, 0, 0});
  CHECK(label(s, 1, 7) == Join::unknown);
  CHECK(label(s, 2, 7) == Join::unknown);
  CHECK(label(s, 3, 7) == Join::joined);
  CHECK(counts(s) == Counts{4, 3, 2, 0, 0});
  s.insert(7, request(7), nullptr);  // pushes out 3, which had its label
  CHECK(counts(s) == Counts{4, 4, 2, 0, 0});
  s.insert(8, request(8), nullptr);  // pushes out 4, which had none
  CHECK(counts(s) == Counts{4, 4, 3, 0, 0});
  CHECK(label(s, 4, 9) == Join::unknown);
  for (std::uint64_t k = 5; k <= 8; ++k) CHECK(label(s, k, 9) == Join::joined);
  // Pushed out after its time-to-live: it aged out rather than being evicted.
  LabelStore t(options(2, 10));
  t.insert(1, request(0), nullptr);
  t.insert(2, request(5), nullptr);
  t.insert(3, request(10.5), nullptr);  // 1 is 10.5 s old
  t.insert(4, request(15), nullptr);    // 2 is 10 s old: within
  CHECK(counts(t) == Counts{2, 2, 1, 1, 0});
}

TEST_CASE("LabelStore: with partitions each one pushes out its own oldest requests", "[label_store]") {
  LabelStore s(options(8, 1000, 4));
  CHECK(s.partitions() == 4);
  std::vector<std::vector<std::uint64_t>> filed(4);
  for (std::uint64_t id = 0; id < 200; ++id) {
    const auto key = request_key(id);
    filed[s.partition(key)].push_back(key);
    s.insert(key, request(static_cast<double>(id)), nullptr);
  }
  std::uint64_t held = 0;
  for (const auto& part : filed) {
    REQUIRE(part.size() >= 2);
    for (std::size_t i = 0; i < part.size(); ++i)
      CHECK(label(s, part[i], 300) == (i + 2 < part.size() ? Join::unknown : Join::joined));
    held += 2;
  }
  CHECK(s.held() == held);
  CHECK(s.evicted() == 200 - held);
}

TEST_CASE("LabelStore: requests age out after their time-to-live", "[label_store]") {
  LabelStore s(options(8, 10));
  s.insert(1, request(0), nullptr);
  s.insert(2, request(5), nullptr);
  s.insert(3, request(12), nullptr);
  s.expire(10);  // 1 is exactly 10 s old: still within
  CHECK(counts(s) == Counts{3, 3, 0, 0, 0});
  CHECK(label(s, 1, 10) == Join::joined);
  s.expire(10.5);
  CHECK(counts(s) == Counts{2, 2, 0, 0, 0});  // 1 had its label: not counted
  CHECK(label(s, 1, 10.5) == Join::unknown);
  s.expire(21);  // 2 never had one
  CHECK(counts(s) == Counts{1, 1, 0, 1, 0});
  // Found out at the label: 3 is held but 12 s old.
  PendingRequest out;
  CHECK(s.join(3, 24, out, nullptr) == Join::expired);
  CHECK(out.time == 12);
  CHECK(counts(s) == Counts{1, 0, 0, 1, 0});  // its label came, late
  CHECK(label(s, 3, 25) == Join::expired);    // and every later one is late too
  s.expire(100);
  CHECK(counts(s) == Counts{0, 0, 0, 1, 0});
}

TEST_CASE("LabelStore: integer ids are keyed as their decimal text", "[label_store]") {
  CHECK(request_key(42) == request_key("42"));
  CHECK(request_key(42u) == request_key("42"));
  CHECK(request_key(42ll) == request_key(std::string("42")));
  CHECK(request_key(std::uint64_t{42}) == request_key("42"));
  CHECK(request_key(std::int64_t{42}) == request_key("42"));
  CHECK(request_key(0) == request_key("0"));
  CHECK(request_key(-5) == request_key("-5"));
  CHECK(request_key(std::numeric_limits<std::int64_t>::min()) == request_key("-9223372036854775808"));
  CHECK(request_key(std::numeric_limits<std::uint64_t>::max()) == request_key("18446744073709551615"));
  // Every number of digits, at both ends, and random values: as std::to_string writes them.
  std::mt19937_64 rng(7);
  std::vector<std::uint64_t> values{9, 10, 99, 100, 101};
  for (std::uint64_t p = 10; p <= 1000000000000000000ull; p *= 10) values.insert(values.end(), {p - 1, p, p + 1});
  for (int i = 0; i < 1000; ++i) values.push_back(rng() >> (i % 64));
  for (const std::uint64_t v : values) {
    INFO(v);
    CHECK(request_key(v) == request_key(std::to_string(v)));
    const auto negative = -static_cast<std::int64_t>(v >> 1);
    CHECK(request_key(negative) == request_key(std::to_string(negative)));
  }
  CHECK(request_key(42) != request_key("042"));
  CHECK(request_key(-5) != request_key(5));
  CHECK(request_key("") != request_key(std::string_view("\0", 1)));
  CHECK(request_key("a") != request_key(std::string_view("a\0", 2)));
}

TEST_CASE("LabelStore: keys of many ids are distinct and every bit is set about half the time",
          "[label_store]") {
  std::unordered_set<std::uint64_t> keys;
  std::vector<int> ones(64, 0);
  constexpr int n = 20000;
  for (int i = 0; i < n; ++i) {
    for (const std::uint64_t k : {request_key(i), request_key("req-" + std::to_string(i) + "-0000-4000-8000-abcdef")}) {
      keys.insert(k);
      for (int b = 0; b < 64; ++b) ones[b] += static_cast<int>((k >> b) & 1);
    }
  }
  CHECK(keys.size() == 2 * n);
  for (int b = 0; b < 64; ++b) {
    INFO("bit " << b);
    CHECK(std::abs(ones[b] - n) < 600);  // 2n fair coin flips: sd ≈ 100
  }
}

TEST_CASE("LabelStore: memory is what its bound says, full or not", "[label_store]") {
  CHECK(LabelStore::index_bytes_per_request == 20);
  CHECK(LabelStore::bytes_per_request(0) == 52);
  CHECK(LabelStore::bytes_per_request(2) == 60);
  LabelStore s(options(262144, 1e9, 4, 2));
  const std::size_t bound = 262144 * LabelStore::bytes_per_request(2) + 4 * LabelStore::bytes_per_partition();
  // Parts of a multiple of sixteen requests: the bound less the allowance for a last bucket.
  CHECK(s.memory_bytes() == bound - 4 * last_bucket_allowance);
  CHECK(s.memory_bytes() == memory_of({65536, 65536, 65536, 65536}, 2));
  CHECK(LabelStore::bytes_per_partition() <= 256);
  const std::uint32_t extras[2] = {1, 2};
  for (std::uint64_t id = 0; id < 2 * 262144; ++id)
    s.insert(request_key(id), request(static_cast<double>(id)), extras);
  CHECK(s.held() == 262144);
  CHECK(s.evicted() == 262144);
  CHECK(s.memory_bytes() == bound - 4 * last_bucket_allowance);
  // An uneven split: the remainder goes one each to the first parts; parts of 251 and 250
  // requests end on a bucket of which 28 and 8 bytes are their share.
  LabelStore t(options(1001, 10, 4, 1));
  CHECK(t.memory_bytes() == memory_of({251, 250, 250, 250}, 1));
  CHECK(t.memory_bytes() <= 1001 * LabelStore::bytes_per_request(1) + 4 * LabelStore::bytes_per_partition());
  for (const std::size_t n : {1, 2, 3, 5, 7, 13, 29}) {
    LabelStore u(options(n, 10, 1, 0));
    CHECK(u.memory_bytes() == memory_of({n}, 0));
    CHECK(u.memory_bytes() <= n * LabelStore::bytes_per_request(0) + LabelStore::bytes_per_partition());
  }
  // 13 more than a multiple of sixteen: a last bucket with 4 bytes in use, the bound reached.
  for (const std::size_t n : {13, 29, 1037}) {
    LabelStore u(options(n, 10, 1, 0));
    CHECK(u.memory_bytes() == n * LabelStore::bytes_per_request(0) + LabelStore::bytes_per_partition());
  }
}

namespace {

/// The store as a hash map and a queue of ring positions, each written the obvious way; a
/// request enters the map with the batch of LabelStore::index_batch it is filed in, or before
/// a join of its key, an expire or a read of the counts.
class ReferenceStore {
 public:
  ReferenceStore(std::size_t capacity, double ttl) : capacity_(capacity), ttl_(ttl) {}

  void insert(std::uint64_t key, const PendingRequest& r, std::uint32_t extra) {
    if (ring_.size() == capacity_) pop(r.time);
    const double time = std::isfinite(r.time) ? r.time : -infinity;
    ring_.push_back(Entry{key, PendingRequest{time, r.interval, r.score, r.predicted}, extra, true, false, false});
    ++c_.held;
    ++c_.pending;
    if (++waiting_ == LabelStore::index_batch) index_waiting();
  }
  Join join(std::uint64_t key, double time, bool conversion, PendingRequest& out, std::uint32_t& extra) {
    const std::uint64_t end = first_ + ring_.size();
    for (std::uint64_t sequence = std::max(end - waiting_, first_); sequence < end; ++sequence)
      if (ring_[sequence - first_].key == key) {
        index_waiting();
        break;
      }
    auto found = index_.find(key);
    if (found == index_.end()) return Join::unknown;
    Entry& e = ring_[found->second - first_];
    out = e.request;
    extra = e.extra;
    if (!std::isfinite(time)) return Join::expired;
    const bool late = time - e.request.time > ttl_;
    bool& mark = conversion ? e.converted : e.labelled;
    if (!late && mark) return Join::duplicate;
    if (time < e.request.time) return Join::early;
    if (!conversion && !mark) --c_.pending;
    mark = true;
    return late ? Join::expired : Join::joined;
  }
  void expire(double time) {
    index_waiting();
    while (!ring_.empty() && (!ring_.front().live || time - ring_.front().request.time > ttl_)) pop(time);
  }
  Counts counts() {
    index_waiting();
    return c_;
  }

 private:
  struct Entry {
    std::uint64_t key;
    PendingRequest request;
    std::uint32_t extra;
    bool live, labelled, converted;
  };
  // The requests filed since the last batch, those still held, in the order they were filed.
  void index_waiting() {
    const std::uint64_t end = first_ + ring_.size();
    for (std::uint64_t sequence = std::max(end - waiting_, first_); sequence < end; ++sequence) {
      const std::uint64_t key = ring_[sequence - first_].key;
      auto found = index_.find(key);
      if (found != index_.end()) {
        forget(ring_[found->second - first_], found->second);
        ++c_.duplicate_ids;
      }
      index_[key] = sequence;
    }
    waiting_ = 0;
  }
  void forget(Entry& e, std::uint64_t sequence) {
    // A request pushed out before its batch was never in the map, where an older request of
    // its key may still be.
    auto found = index_.find(e.key);
    if (found != index_.end() && found->second == sequence) index_.erase(found);
    --c_.held;
    if (!e.labelled) --c_.pending;
    e.live = false;
  }
  void pop(double now) {
    Entry& e = ring_.front();
    if (e.live) {
      if (!e.labelled) ++(now - e.request.time > ttl_ ? c_.expired_unlabelled : c_.evicted);
      forget(e, first_);
    }
    ring_.pop_front();
    ++first_;
  }
  std::size_t capacity_;
  double ttl_;
  std::deque<Entry> ring_;
  std::uint64_t first_ = 0;  // sequence number of ring_.front()
  std::unordered_map<std::uint64_t, std::uint64_t> index_;
  std::uint64_t waiting_ = 0;  // requests filed since the last batch
  Counts c_{0, 0, 0, 0, 0};
};

bool same(double a, double b) { return a == b || (std::isnan(a) && std::isnan(b)); }

/// Runs `steps` random operations on a store and the reference, comparing each result; keys
/// are drawn from `keys` when it is not empty.
void compare_with_reference(std::size_t capacity, std::uint64_t distinct_keys, int steps, std::uint64_t seed,
                            const std::vector<std::uint64_t>& keys = {},
                            std::uint32_t sweep_every = std::uint32_t{1} << 30) {
  const double ttl = 40;
  LabelStoreOptions o = options(capacity, ttl, 1, 1);
  o.sweep_every = sweep_every;
  LabelStore store(o);
  ReferenceStore reference(capacity, ttl);
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<std::uint64_t> pick(0, distinct_keys - 1);
  std::uniform_real_distribution<double> u(0, 1);
  double now = 0;
  for (int step = 0; step < steps; ++step) {
    // Keys 0…n−1 spread by a multiply, plus key 0 itself: neighbours in any bits.
    const std::uint64_t k = pick(rng);
    const std::uint64_t key = !keys.empty() ? keys[k % keys.size()] : k % 7 == 0 ? k : k * 0x9e3779b97f4a7c15ull;
    now += u(rng) * 0.2;
    const double r = u(rng);
    const double jitter = (u(rng) - 0.5) * 4;  // a little out of order, both ways
    if (r < 0.45) {
      const double time = r < 0.002 ? not_a_number : now + jitter;
      const PendingRequest p{time, step, u(rng), static_cast<std::uint32_t>(step % 5)};
      const std::uint32_t extra = static_cast<std::uint32_t>(step);
      store.insert(key, p, &extra);
      reference.insert(key, p, extra);
    } else if (r < 0.97) {
      const bool conversion = r > 0.8;
      const double time = r > 0.965 ? infinity : now + jitter * 10;
      PendingRequest got{}, want{};
      std::uint32_t got_extra = 0, want_extra = 0;
      const Join g = conversion ? store.join_conversion(key, time, got, &got_extra) : store.join(key, time, got, &got_extra);
      const Join w = reference.join(key, time, conversion, want, want_extra);
      INFO("step " << step << " key " << key);
      REQUIRE(g == w);
      REQUIRE(same(got.time, want.time));
      REQUIRE(same(got.score, want.score));
      REQUIRE((got.interval == want.interval && got.predicted == want.predicted));
      REQUIRE(got_extra == want_extra);
    } else {
      const double time = now - 10 * u(rng);
      store.expire(time);
      reference.expire(time);
    }
    // Read now and then, so that batches fill between reads (a read indexes what waits).
    if (step % 53 == 0 || step + 1 == steps) REQUIRE(counts(store) == reference.counts());
  }
}

}  // namespace

TEST_CASE("LabelStore: every result and count as a hash map and a queue give them", "[label_store]") {
  SECTION("64 requests, 300 ids") { compare_with_reference(64, 300, 200000, 1); }
  SECTION("100 requests, 120 ids: mostly duplicates") { compare_with_reference(100, 120, 100000, 2); }
  SECTION("1,000 requests, 3,000 ids: batches fill before their requests leave") {
    compare_with_reference(1000, 3000, 200000, 7);
  }
  SECTION("one request") { compare_with_reference(1, 4, 20000, 3); }
  SECTION("3 requests") { compare_with_reference(3, 10, 20000, 4); }
  SECTION("64 requests, stale slots swept at every expire() and every other batch") {
    // A sweep clears only slots that left the window and no spill mark still needed: it
    // changes no result, however often it runs.
    compare_with_reference(64, 300, 100000, 6, {}, 1);
  }
  SECTION("64 requests whose ids all start at the last of 20 buckets, of 7 slots each") {
    // They fill it and spill over into the first buckets, wrapping around the table.
    constexpr std::uint64_t buckets = (64 * LabelStore::index_bytes_per_request + 63) / 64;
    static_assert(buckets == 20, "a part of 64 requests has 20 buckets");
    std::vector<std::uint64_t> crowded;
    for (std::uint64_t k = 0; crowded.size() < 90; ++k) {
      const std::uint64_t low = vigil::detail::label_store_detail::avalanche(k) & 0xffffffffu;
      if (((low * buckets) >> 32) == buckets - 1) crowded.push_back(k);
    }
    compare_with_reference(64, 90, 200000, 5, crowded);
  }
}

TEST_CASE("LabelStore: intervals and predicted classes at the ends of their range come back as filed",
          "[label_store]") {
  // A request keeps its interval in 47 bits and its predicted class in 13, beside its marks.
  const std::int64_t top = LabelStore::max_interval, bottom = -LabelStore::max_interval - 1;
  const std::uint32_t last = LabelStore::max_predicted - 1, none = PendingRequest::no_class;
  const std::vector<PendingRequest> requests = {
      {10, top, 0.25, last}, {11, bottom, 0.5, 0}, {12, -1, 0.75, none}, {13, 0, not_a_number, 1}, {14, 123456789, 1, none}};
  LabelStore s(options(64));
  for (std::size_t i = 0; i < requests.size(); ++i) s.insert(100 + i, requests[i], nullptr);
  // Through a snapshot too: save() writes each request's values whole, and load() files them again.
  std::vector<std::uint8_t> bytes;
  vigil::io::Writer w(bytes);
  s.save(w);
  LabelStore restored(options(64));
  vigil::io::Reader r(bytes.data(), bytes.size(), "label store");
  restored.load(r);
  CHECK(r.remaining() == 0);
  for (LabelStore* store : {&s, &restored})
    for (std::size_t i = 0; i < requests.size(); ++i) {
      PendingRequest out;
      REQUIRE(store->join(100 + i, 20, out, nullptr) == Join::joined);
      CHECK(out.time == requests[i].time);
      CHECK(out.interval == requests[i].interval);
      CHECK(same(out.score, requests[i].score));
      CHECK(out.predicted == requests[i].predicted);
    }
}

TEST_CASE("LabelStore: refuses a request whose interval or predicted class it cannot hold, changing nothing",
          "[label_store]") {
  LabelStore s(options(8));
  s.insert(1, request(1), nullptr);
  CHECK_THROWS_WITH(s.insert(2, request(2, LabelStore::max_interval + 1), nullptr),
                    Catch::Contains("interval 70368744177664"));
  CHECK_THROWS_WITH(s.insert(2, request(2, -LabelStore::max_interval - 2), nullptr),
                    Catch::Contains("interval -70368744177665"));
  CHECK_THROWS_WITH(s.insert(2, request(2, 0, 0.5, LabelStore::max_predicted), nullptr),
                    Catch::Contains("predicted class 8191"));
  CHECK(counts(s) == Counts{1, 1, 0, 0, 0});
  CHECK(label(s, 2, 3) == Join::unknown);
  CHECK(label(s, 1, 3) == Join::joined);
}

TEST_CASE("LabelStore: refuses options it cannot work with", "[label_store]") {
  CHECK_THROWS_AS(LabelStore(options(0)), vigil::invalid_argument);
  CHECK_THROWS_WITH(LabelStore(options(8, 0)), Catch::Contains("time_to_live") && Catch::Contains("0"));
  CHECK_THROWS_AS(LabelStore(options(8, -1)), vigil::invalid_argument);
  CHECK_THROWS_WITH(LabelStore(options(8, not_a_number)), Catch::Contains("nan"));
  CHECK_THROWS_WITH(LabelStore(options(8, infinity)), Catch::Contains("inf"));
  CHECK_THROWS_WITH(LabelStore(options(8, 10, 3)), Catch::Contains("partitions") && Catch::Contains("3"));
  CHECK_THROWS_AS(LabelStore(options(8, 10, 0)), vigil::invalid_argument);
  CHECK_THROWS_WITH(LabelStore(options(8, 10, 16)), Catch::Contains("16"));
  CHECK_NOTHROW(LabelStore(options(8, 10, 8)));
  LabelStoreOptions never = options(8);
  never.sweep_every = 0;
  CHECK_THROWS_WITH(LabelStore(never), Catch::Contains("sweep_every"));
  LabelStoreOptions rarely = options(8);
  rarely.sweep_every = (std::uint32_t{1} << 30) + 1;
  CHECK_THROWS_AS(LabelStore(rarely), vigil::invalid_argument);
}

TEST_CASE("LabelStore: keys spread evenly over the parts, consecutive integers too", "[label_store]") {
  // Parts are chosen by bits of a multiple of the key: consecutive integer keys, as tests and
  // integer ids give, must not crowd one part (each holds only its share of the capacity).
  LabelStore s(options(4096, 1000, 8));
  std::vector<int> per_part(8, 0);
  for (std::uint64_t k = 0; k < 8000; ++k) ++per_part[s.partition(k)];
  for (int n : per_part) CHECK((n > 850 && n < 1150));
  std::vector<int> per_strided_part(8, 0);  // ids in steps of 8 (or 1024): no low bits vary
  for (std::uint64_t k = 0; k < 8000; ++k) ++per_strided_part[s.partition(k * 8)], ++per_strided_part[s.partition(k * 1024)];
  for (int n : per_strided_part) CHECK((n > 1700 && n < 2300));
  std::vector<int> per_text_part(8, 0);
  for (std::uint64_t k = 0; k < 8000; ++k) ++per_text_part[s.partition(request_key("req-" + std::to_string(k)))];
  for (int n : per_text_part) CHECK((n > 850 && n < 1150));
}

TEST_CASE("LabelStore: times that are not finite are never within the time-to-live", "[label_store]") {
  LabelStore s(options(8, 10));
  s.insert(1, request(not_a_number), nullptr);
  s.insert(2, request(infinity), nullptr);
  s.insert(3, request(-infinity), nullptr);
  s.insert(4, request(5), nullptr);
  CHECK(label(s, 1, 5) == Join::expired);
  CHECK(label(s, 2, 5) == Join::expired);
  CHECK(label(s, 4, not_a_number) == Join::expired);  // a label without a time changes nothing
  CHECK(label(s, 4, infinity) == Join::expired);
  CHECK(counts(s) == Counts{4, 2, 0, 0, 0});
  s.expire(not_a_number);  // removes nothing
  CHECK(s.held() == 4);
  s.expire(5);  // 1 and 2 had labels (late ones); 3 had none; 4 is new
  CHECK(counts(s) == Counts{1, 1, 0, 1, 0});
  CHECK(label(s, 4, 6) == Join::joined);
}

TEST_CASE("LabelStore: threads filing and labelling their own ids all join", "[label_store][concurrency]") {
  constexpr int threads = 4;
  constexpr std::uint64_t per_thread = 20000;
  LabelStore s(options(2 * threads * per_thread, 1e9, 8, 1));
  std::atomic<int> failures{0};
  std::atomic<bool> done{false};
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      const std::uint64_t first = static_cast<std::uint64_t>(t) * per_thread;
      for (std::uint64_t id = first; id < first + per_thread + 100; ++id) {
        if (id < first + per_thread) {
          const auto extra = static_cast<std::uint32_t>(id);
          s.insert(request_key(id), request(static_cast<double>(id)), &extra);
        }
        if (id < first + 100) continue;  // labels come 100 requests late
        PendingRequest out;
        std::uint32_t extra = 0;
        const std::uint64_t labelled = id - 100;
        if (s.join(request_key(labelled), static_cast<double>(id), out, &extra) != Join::joined ||
            extra != static_cast<std::uint32_t>(labelled) || out.time != static_cast<double>(labelled))
          ++failures;
      }
    });
  }
  std::uint64_t reads = 0;
  std::thread reader([&] {
    do reads += s.pending() <= s.capacity() ? 1 : 0;
    while (!done);
  });
  for (auto& w : workers) w.join();
  done = true;
  reader.join();
  CHECK(failures == 0);
  CHECK(reads > 0);
  CHECK(counts(s) == Counts{threads * per_thread, 0, 0, 0, 0});
}

TEST_CASE("LabelStore: a bucket's filter mask is the same four lanes at a time as one at a time", "[label_store]") {
  using vigil::detail::label_store_detail::tag_mask;
  using vigil::detail::label_store_detail::tag_mask_plain;
  std::mt19937_64 rng(11);
  const std::uint32_t tag = 0x80000000u | 0x1234567u;
  std::uint64_t matches_seen = 0;
  for (int round = 0; round < 20000; ++round) {
    std::uint32_t tags[7];
    for (int i = 0; i < 7; ++i) {
      const std::uint64_t r = rng();
      // Unused, the filter sought, one a bit away from it, or any other.
      tags[i] = r % 4 == 0 ? 0 : r % 4 == 1 ? tag : r % 4 == 2 ? tag ^ (1u << (r >> 59)) : (0x80000000u | static_cast<std::uint32_t>(r >> 33));
    }
    const unsigned fast = tag_mask(tags, tag);
    const unsigned plain = tag_mask_plain(tags, tag);
    REQUIRE(fast == plain);
    for (int i = 0; i < 7; ++i) REQUIRE(((plain >> i) & 1u) == static_cast<unsigned>(tags[i] == tag));
    matches_seen += std::bitset<7>(plain).count();
  }
  CHECK(matches_seen > 30000);  // about a quarter of 140,000 slots
}

TEST_CASE("LabelStore: a request pushed out before a later one of its key is indexed counts as evicted",
          "[label_store]") {
  // Requests are indexed in batches per part: the second request of key 1 waits for its
  // batch while the full ring pushes out the first, which then had no label: evicted, and the
  // second is no duplicate. Had a join of key 1 come between, the batch would have been
  // indexed then, and the first replaced.
  LabelStore s(options(4));
  for (std::uint64_t k = 1; k <= 4; ++k) s.insert(k, request(static_cast<double>(k)), nullptr);
  s.insert(1, request(5), nullptr);
  CHECK(counts(s) == Counts{4, 4, 1, 0, 0});
  PendingRequest out;
  REQUIRE(s.join(1, 6, out, nullptr) == Join::joined);
  CHECK(out.time == 5);

  LabelStore t(options(4));
  for (std::uint64_t k = 1; k <= 4; ++k) t.insert(k, request(static_cast<double>(k)), nullptr);
  CHECK(label(t, 2, 4.5) == Join::joined);  // indexes the four
  t.insert(1, request(5), nullptr);         // pushes out the first request of key 1: evicted
  t.insert(3, request(6), nullptr);         // pushes out 2 (labelled); waits, as does 1
  CHECK(label(t, 3, 7) == Join::joined);    // a waiting key: the batch is indexed first
  CHECK(counts(t) == Counts{3, 2, 1, 0, 1});
}

TEST_CASE("LabelStore: a batch of waiting requests is indexed when it is full", "[label_store]") {
  // A part of a batch's size n: key 7, n − 2 others, key 7 again. The nth insert indexes the
  // batch, where the second 7 replaces the first; the next then frees the dead position,
  // pushing out nothing. Were the batch not indexed until the counts are read, that insert
  // would push out the first 7 unlabelled (evicted) and the second 7 would be no duplicate.
  const std::uint64_t n = LabelStore::index_batch;
  LabelStore s(options(n));
  s.insert(7, request(0), nullptr);
  for (std::uint64_t k = 100; k < 100 + n - 2; ++k) s.insert(k, request(1), nullptr);
  s.insert(7, request(2), nullptr);
  s.insert(200, request(3), nullptr);
  CHECK(counts(s) == Counts{n, n, 0, 0, 1});
  PendingRequest out;
  REQUIRE(s.join(7, 4, out, nullptr) == Join::joined);
  CHECK(out.time == 2);
}

TEST_CASE("HugePageAllocator: large blocks start on a huge page, small ones on a cache line", "[label_store]") {
  using vigil::detail::HugePageAllocator;
  HugePageAllocator<std::uint64_t> a;
  const std::size_t large = vigil::detail::huge_page / sizeof(std::uint64_t) + 3;
  std::uint64_t* big = a.allocate(large);
  CHECK(reinterpret_cast<std::uintptr_t>(big) % vigil::detail::huge_page == 0);
  big[0] = 1;
  big[large - 1] = 2;  // the whole block is usable (AddressSanitizer checks the bounds)
  CHECK(big[0] + big[large - 1] == 3);
  a.deallocate(big, large);
  // A block of exactly a huge page is a huge one.
  HugePageAllocator<char> bytes;
  char* exact = bytes.allocate(vigil::detail::huge_page);
  CHECK(reinterpret_cast<std::uintptr_t>(exact) % vigil::detail::huge_page == 0);
  bytes.deallocate(exact, vigil::detail::huge_page);
  std::uint64_t* small = a.allocate(5);
  CHECK(reinterpret_cast<std::uintptr_t>(small) % vigil::detail::cache_line == 0);
  a.deallocate(small, 5);
  CHECK_THROWS_AS(a.allocate(std::numeric_limits<std::size_t>::max() / 4), std::bad_array_new_length);
  std::vector<int, HugePageAllocator<int>> v(1000, 7);
  v.resize(vigil::detail::huge_page);  // reallocates from a small block to a huge one
  CHECK(v[999] == 7);
  CHECK(reinterpret_cast<std::uintptr_t>(v.data()) % vigil::detail::huge_page == 0);
}

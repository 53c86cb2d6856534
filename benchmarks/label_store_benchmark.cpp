// vigil::detail::LabelStore next to the map a C++ server would otherwise keep its pending
// requests in: std::unordered_map<std::string, Entry> for text ids (and std::unordered_map<
// std::int64_t, Entry> for integer ids), a request erased when its label comes.
//
// The stream: 2^20 distinct ids, each filed once and labelled 131,072 requests later, so that
// half a store of 262,144 requests waits for its label at any time (the map holds the same
// 131,072). Text ids are random UUIDs (36 characters); integer ids are consecutive from 10^12.
// Each request keeps two extras (a cohort slot and an arm). Speed: ns per request, that is per
// insert plus its join; insert alone (a full store pushing out its oldest request each time)
// and join alone (of a full store) are measured apart; request_key is included in all of them.
#include <vigil/monitor/detail/label_store.hpp>

#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstdio>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

namespace {

using vigil::detail::LabelStore;
using vigil::detail::PendingRequest;

constexpr std::size_t capacity = 262144;
constexpr std::size_t lag = capacity / 2;
constexpr std::size_t stream_length = std::size_t{1} << 20;

const std::vector<std::string>& uuids() {
  static const std::vector<std::string> ids = [] {
    std::mt19937_64 rng(2026);
    std::vector<std::string> v;
    v.reserve(stream_length);
    for (std::size_t i = 0; i < stream_length; ++i) {
      const std::uint64_t a = rng(), b = rng();
      char text[40];
      std::snprintf(text, sizeof text, "%08x-%04x-4%03x-%04x-%012llx", static_cast<unsigned>(a >> 32),
                    static_cast<unsigned>(a >> 16) & 0xffffu, static_cast<unsigned>(a) & 0xfffu,
                    (static_cast<unsigned>(b >> 48) & 0x3fffu) | 0x8000u,
                    static_cast<unsigned long long>(b & 0xffffffffffffull));
      v.emplace_back(text);
    }
    return v;
  }();
  return ids;
}

std::int64_t integer_id(std::size_t i) { return 1000000000000 + static_cast<std::int64_t>(i); }

const std::string& text_id(std::size_t i) { return uuids()[i]; }

PendingRequest request_at(std::size_t i) {
  return PendingRequest{1.8e9 + static_cast<double>(i) * 1e-3, static_cast<std::int64_t>(i >> 16), 0.5, 1};
}

LabelStore make_store(std::size_t partitions) {
  vigil::detail::LabelStoreOptions o;
  o.capacity = capacity;
  o.time_to_live = 1e9;
  o.partitions = partitions;
  o.extras = 2;
  return LabelStore(o);
}

template <class Id>
void insert_join(benchmark::State& state, Id id) {
  LabelStore store = make_store(static_cast<std::size_t>(state.range(0)));
  const std::uint32_t extras[2] = {3, 4};
  std::uint32_t extras_out[2];
  PendingRequest out;
  for (std::size_t i = 0; i < lag; ++i) store.insert(vigil::detail::request_key(id(i)), request_at(i), extras);
  std::size_t i = lag;
  benchmark::IterationCount joined = 0;
  for (auto _ : state) {
    const std::size_t next = i & (stream_length - 1), labelled = (i - lag) & (stream_length - 1);
    store.insert(vigil::detail::request_key(id(next)), request_at(next), extras);
    joined += store.join(vigil::detail::request_key(id(labelled)), 2e9, out, extras_out) == LabelStore::Join::joined;
    ++i;
  }
  if (joined != state.iterations()) state.SkipWithError("a label did not join");
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
  state.counters["bytes"] = static_cast<double>(store.memory_bytes());
}

void BM_LabelStore_insert_join_string(benchmark::State& state) { insert_join(state, text_id); }
BENCHMARK(BM_LabelStore_insert_join_string)->Arg(1)->Arg(8);

void BM_LabelStore_insert_join_integer(benchmark::State& state) { insert_join(state, integer_id); }
BENCHMARK(BM_LabelStore_insert_join_integer)->Arg(1)->Arg(8);

template <class Id>
void insert_only(benchmark::State& state, Id id) {
  LabelStore store = make_store(1);
  const std::uint32_t extras[2] = {3, 4};
  std::size_t i = 0;
  for (auto _ : state) {
    const std::size_t next = i++ & (stream_length - 1);
    store.insert(vigil::detail::request_key(id(next)), request_at(next), extras);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}

void BM_LabelStore_insert_string(benchmark::State& state) { insert_only(state, text_id); }
BENCHMARK(BM_LabelStore_insert_string);

void BM_LabelStore_insert_integer(benchmark::State& state) { insert_only(state, integer_id); }
BENCHMARK(BM_LabelStore_insert_integer);

template <class Id>
void join_only(benchmark::State& state, Id id) {
  LabelStore store = make_store(1);
  const std::uint32_t extras[2] = {3, 4};
  std::uint32_t extras_out[2];
  PendingRequest out;
  for (std::size_t i = 0; i < capacity; ++i) store.insert(vigil::detail::request_key(id(i)), request_at(i), extras);
  // Keys in a scattered order, as labels come: consecutive ids are not neighbours in the ring.
  std::vector<std::size_t> order(capacity);
  for (std::size_t i = 0; i < capacity; ++i) order[i] = (i * 40503) & (capacity - 1);
  std::size_t i = 0;
  benchmark::IterationCount found = 0;
  for (auto _ : state) {
    const std::size_t k = order[i++ & (capacity - 1)];
    // The first pass joins, the later ones find duplicates: the same lookup.
    found += store.join(vigil::detail::request_key(id(k)), 2e9, out, extras_out) != LabelStore::Join::unknown;
  }
  if (found != state.iterations()) state.SkipWithError("a label found no request");
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}

void BM_LabelStore_join_string(benchmark::State& state) { join_only(state, text_id); }
BENCHMARK(BM_LabelStore_join_string);

void BM_LabelStore_join_integer(benchmark::State& state) { join_only(state, integer_id); }
BENCHMARK(BM_LabelStore_join_integer);

void BM_request_key_string(benchmark::State& state) {
  std::size_t i = 0;
  for (auto _ : state) benchmark::DoNotOptimize(vigil::detail::request_key(text_id(i++ & (stream_length - 1))));
}
BENCHMARK(BM_request_key_string);

void BM_request_key_integer(benchmark::State& state) {
  std::size_t i = 0;
  for (auto _ : state) benchmark::DoNotOptimize(vigil::detail::request_key(integer_id(i++)));
}
BENCHMARK(BM_request_key_integer);

/// What the peer keeps per request: the same as a LabelStore entry with two extras.
struct Entry {
  PendingRequest request;
  std::uint32_t extras[2];
};

template <class Map, class Id>
void map_insert_join(benchmark::State& state, Id id) {
  Map map;
  for (std::size_t i = 0; i < lag; ++i) map.emplace(id(i), Entry{request_at(i), {3, 4}});
  std::size_t i = lag;
  benchmark::IterationCount joined = 0;
  for (auto _ : state) {
    const std::size_t next = i & (stream_length - 1), labelled = (i - lag) & (stream_length - 1);
    map.emplace(id(next), Entry{request_at(next), {3, 4}});
    const auto found = map.find(id(labelled));
    if (found != map.end()) {
      benchmark::DoNotOptimize(found->second);
      map.erase(found);
      ++joined;
    }
    ++i;
  }
  if (joined != state.iterations()) state.SkipWithError("a label did not join");
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
  // Lower bound on its memory: one node (next pointer, key, entry, cached hash) per request
  // and a bucket pointer per bucket; a text key longer than 15 bytes adds its own block.
  using Key = typename Map::key_type;
  state.counters["bytes"] = static_cast<double>(map.size() * (8 + sizeof(Key) + sizeof(Entry) + 8) +
                                                map.bucket_count() * 8);
}

void BM_unordered_map_insert_join_string(benchmark::State& state) {
  map_insert_join<std::unordered_map<std::string, Entry>>(state, text_id);
}
BENCHMARK(BM_unordered_map_insert_join_string);

void BM_unordered_map_insert_join_integer(benchmark::State& state) {
  map_insert_join<std::unordered_map<std::int64_t, Entry>>(state, integer_id);
}
BENCHMARK(BM_unordered_map_insert_join_integer);

}  // namespace

BENCHMARK_MAIN();

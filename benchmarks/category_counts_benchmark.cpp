// vigil::CategoryCounts next to the counting a C++ server would otherwise write:
// std::unordered_map<std::string, std::uint64_t>. The stream is Zipf (s = 1.1) over 10^6
// distinct labels, so the map grows with the distinct values while CategoryCounts keeps
// `capacity` of them. Speed: ns per value added; memory as a counter.
#include <vigil/sketch/category_counts.hpp>

#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

namespace {

constexpr std::size_t distinct = 1000000;
constexpr std::size_t stream_length = 1 << 18;

struct Stream {
  std::vector<std::string> labels;               // one per draw
  std::vector<vigil::CategoryCounts::Key> keys;  // the same labels, resolved beforehand
};

const Stream& zipf_stream() {
  static const Stream stream = [] {
    std::vector<double> cdf(distinct);
    double sum = 0;
    for (std::size_t r = 0; r < distinct; ++r) cdf[r] = sum += std::pow(static_cast<double>(r + 1), -1.1);
    std::mt19937_64 rng(2026);
    std::uniform_real_distribution<double> u(0, sum);
    Stream s;
    for (std::size_t i = 0; i < stream_length; ++i) {
      const auto r = std::lower_bound(cdf.begin(), cdf.end(), u(rng)) - cdf.begin();
      s.labels.push_back("label-" + std::to_string(r));
      s.keys.emplace_back(s.labels.back());
    }
    return s;
  }();
  return stream;
}

void BM_CategoryCounts_add_string(benchmark::State& state) {
  const Stream& s = zipf_stream();
  vigil::CategoryCounts c(static_cast<std::size_t>(state.range(0)));
  for (auto _ : state) {
    c.clear();
    for (const std::string& label : s.labels) c.add(label);
    benchmark::DoNotOptimize(c);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * s.labels.size()));
  state.counters["bytes"] = static_cast<double>(c.memory_bytes());
  state.counters["error_bound"] = static_cast<double>(c.error_bound());
}
BENCHMARK(BM_CategoryCounts_add_string)->Arg(256)->Arg(1024)->Arg(4096);

void BM_CategoryCounts_add_key(benchmark::State& state) {
  const Stream& s = zipf_stream();
  vigil::CategoryCounts c(static_cast<std::size_t>(state.range(0)));
  for (auto _ : state) {
    c.clear();
    for (const vigil::CategoryCounts::Key& key : s.keys) c.add(key);
    benchmark::DoNotOptimize(c);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * s.keys.size()));
}
BENCHMARK(BM_CategoryCounts_add_key)->Arg(256)->Arg(1024)->Arg(4096);

void BM_unordered_map_count(benchmark::State& state) {
  const Stream& s = zipf_stream();
  std::size_t size = 0;
  for (auto _ : state) {
    std::unordered_map<std::string, std::uint64_t> counts;
    for (const std::string& label : s.labels) ++counts[label];
    size = counts.size();
    benchmark::DoNotOptimize(counts);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * s.labels.size()));
  // Lower bound on its memory: one node (key, count, next pointer, cached hash) per distinct value.
  state.counters["distinct"] = static_cast<double>(size);
  state.counters["bytes"] = static_cast<double>(size * (sizeof(std::string) + 8 + 8 + 8 + 8));
}
BENCHMARK(BM_unordered_map_count);

void BM_CategoryCounts_merge(benchmark::State& state) {
  const Stream& s = zipf_stream();
  vigil::CategoryCounts a(1024), b(1024);
  for (std::size_t i = 0; i < s.labels.size(); ++i) (i % 2 ? a : b).add(s.labels[i]);
  for (auto _ : state) {
    vigil::CategoryCounts c = a;
    c.merge(b);
    benchmark::DoNotOptimize(c);
  }
}
BENCHMARK(BM_CategoryCounts_merge);

}  // namespace

BENCHMARK_MAIN();

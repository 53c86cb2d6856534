// LogHistogram next to the histograms a C++ server would otherwise use: prometheus-cpp's
// classic Histogram and Boost.Histogram with a logarithmic axis. Every histogram sees the
// same latencies (lognormal, median 2 ms, in seconds) covering 1 µs to 100 s.
#include <benchmark/benchmark.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <random>
#include <vector>

#include "vigil/sketch/log_histogram.hpp"

#ifdef VIGIL_HAVE_PROMETHEUS_CPP
#include <prometheus/histogram.h>
#endif
#ifdef VIGIL_HAVE_BOOST
#include <boost/histogram.hpp>
#endif

namespace {

constexpr std::size_t value_count = 1 << 14;
constexpr std::size_t value_mask = value_count - 1;

const std::vector<double>& latencies() {
  static const std::vector<double> values = [] {
    std::mt19937_64 rng(42);
    std::lognormal_distribution<double> dist(std::log(2e-3), 1.5);
    std::vector<double> out(value_count);
    for (double& x : out) x = std::min(std::max(dist(rng), 1e-6), 100.0);
    out[0] = 1e-6;
    out[1] = 100.0;
    return out;
  }();
  return values;
}

// Upper bounds a Prometheus user would pick for the same range: powers of two (classic
// exponential buckets), and the 851 bounds of scale 5 (the same resolution as LogHistogram).
std::vector<double> classic_bounds(int scale) {
  std::vector<double> bounds;
  for (double le = std::ldexp(1.0, -20); le <= 128; le *= std::exp2(std::exp2(-scale))) bounds.push_back(le);
  return bounds;
}

void record_single(benchmark::State& state) {
  const auto& values = latencies();
  vigil::LogHistogram h(5);
  for (double x : values) h.record(x);  // the span is allocated before timing
  std::size_t i = 0;
  for (auto _ : state) {
    h.record(values[i++ & value_mask]);
  }
  benchmark::DoNotOptimize(h.count());
  state.counters["memory_bytes"] = static_cast<double>(h.memory_bytes());
  state.counters["buckets"] = static_cast<double>(h.buckets().size());
}
BENCHMARK(record_single)->Name("vigil::LogHistogram/record");

vigil::ConcurrentLogHistogram& shared_concurrent() {
  static vigil::ConcurrentLogHistogram h;
  return h;
}

void record_concurrent(benchmark::State& state) {
  const auto& values = latencies();
  vigil::ConcurrentLogHistogram& h = shared_concurrent();
  std::size_t i = static_cast<std::size_t>(state.thread_index()) * 7919;
  for (auto _ : state) {
    h.record(values[i++ & value_mask]);
  }
  if (state.thread_index() == 0) state.counters["memory_bytes"] = static_cast<double>(h.memory_bytes());
}
BENCHMARK(record_concurrent)->Name("vigil::ConcurrentLogHistogram/record")->Threads(1)->Threads(2);

void quantile(benchmark::State& state) {
  const auto& values = latencies();
  vigil::LogHistogram h(5);
  for (int round = 0; round < 8; ++round)
    for (double x : values) h.record(x);
  const double q = static_cast<double>(state.range(0)) / 1000;
  for (auto _ : state) {
    benchmark::DoNotOptimize(h.quantile(q));
  }
}
BENCHMARK(quantile)->Name("vigil::LogHistogram/quantile")->Arg(500)->Arg(990)->Arg(999);

void merge(benchmark::State& state) {
  const auto& values = latencies();
  vigil::LogHistogram a(5);
  vigil::LogHistogram b(5);
  for (std::size_t i = 0; i < value_count; ++i) (i % 2 == 0 ? a : b).record(values[i]);
  for (auto _ : state) {
    a.merge(b);
    benchmark::ClobberMemory();
  }
  state.counters["buckets"] = static_cast<double>(b.buckets().size());
}
BENCHMARK(merge)->Name("vigil::LogHistogram/merge");

#ifdef VIGIL_HAVE_PROMETHEUS_CPP
void prometheus_observe(benchmark::State& state) {
  const auto& values = latencies();
  prometheus::Histogram h(classic_bounds(static_cast<int>(state.range(0))));
  std::size_t i = 0;
  for (auto _ : state) {
    h.Observe(values[i++ & value_mask]);
  }
  state.counters["buckets"] = static_cast<double>(classic_bounds(static_cast<int>(state.range(0))).size() + 1);
}
BENCHMARK(prometheus_observe)->Name("prometheus::Histogram/Observe")->Arg(0)->Arg(5);

prometheus::Histogram& shared_prometheus() {
  static prometheus::Histogram h(classic_bounds(0));
  return h;
}

void prometheus_observe_concurrent(benchmark::State& state) {
  const auto& values = latencies();
  prometheus::Histogram& h = shared_prometheus();
  std::size_t i = static_cast<std::size_t>(state.thread_index()) * 7919;
  for (auto _ : state) {
    h.Observe(values[i++ & value_mask]);
  }
}
BENCHMARK(prometheus_observe_concurrent)->Name("prometheus::Histogram/Observe_pow2")->Threads(2);
#endif

#ifdef VIGIL_HAVE_BOOST
auto boost_axis() {
  // 851 bins over [1 µs, 100 s): the resolution of scale 5.
  return boost::histogram::axis::regular<double, boost::histogram::axis::transform::log>(851, 1e-6, 100.0);
}

void boost_fill(benchmark::State& state) {
  const auto& values = latencies();
  auto h = boost::histogram::make_histogram(boost_axis());
  std::size_t i = 0;
  for (auto _ : state) {
    h(values[i++ & value_mask]);
  }
  benchmark::DoNotOptimize(h.at(0));
}
BENCHMARK(boost_fill)->Name("boost::histogram(log axis)/fill");

auto& shared_boost() {
  using counter = boost::histogram::accumulators::thread_safe<std::uint64_t>;
  static auto h =
      boost::histogram::make_histogram_with(boost::histogram::dense_storage<counter>(), boost_axis());
  return h;
}

void boost_fill_concurrent(benchmark::State& state) {
  const auto& values = latencies();
  auto& h = shared_boost();
  std::size_t i = static_cast<std::size_t>(state.thread_index()) * 7919;
  for (auto _ : state) {
    h(values[i++ & value_mask]);
  }
}
BENCHMARK(boost_fill_concurrent)->Name("boost::histogram(log axis, thread_safe)/fill")->Threads(1)->Threads(2);
#endif

}  // namespace

BENCHMARK_MAIN();

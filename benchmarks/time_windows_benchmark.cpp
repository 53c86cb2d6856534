// vigil::TimeWindows: the cost of routing each event to its interval (rotation and roll-up
// into coarse intervals included) and of the merge a report runs over the last hour.
// The peer is a RunningStats without windows: the difference is what the windows cost.
#include <vigil/sketch/rolling.hpp>
#include <vigil/sketch/tdigest.hpp>
#include <vigil/sketch/time_windows.hpp>

#include <benchmark/benchmark.h>

#include <random>
#include <vector>

namespace {

constexpr std::size_t event_count = 1 << 16;

struct Events {
  std::vector<double> times;
  std::vector<double> values;
};

// 1000 events per second of event time: 65 s of traffic per pass.
const Events& events() {
  static const Events e = [] {
    std::mt19937_64 rng(2026);
    std::exponential_distribution<double> gap(1000.0);
    std::lognormal_distribution<double> value(3, 0.7);
    Events out;
    double t = 1.7e9;
    for (std::size_t i = 0; i < event_count; ++i) {
      out.times.push_back(t += gap(rng));
      out.values.push_back(value(rng));
    }
    return out;
  }();
  return e;
}

void BM_TimeWindows_RunningStats_add(benchmark::State& state) {
  const Events& e = events();
  vigil::TimeWindows<vigil::RunningStats> w;
  double shift = 0;
  for (auto _ : state) {
    // Each pass continues in event time, so minutes keep closing and rolling up.
    for (std::size_t i = 0; i < e.times.size(); ++i) w.add(e.times[i] + shift, e.values[i]);
    shift += 66;
    benchmark::DoNotOptimize(w);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * e.times.size()));
}
BENCHMARK(BM_TimeWindows_RunningStats_add);

void BM_RunningStats_add_no_windows(benchmark::State& state) {
  const Events& e = events();
  vigil::RunningStats s;
  for (auto _ : state) {
    for (double x : e.values) s.add(x);
    benchmark::DoNotOptimize(s);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * e.values.size()));
}
BENCHMARK(BM_RunningStats_add_no_windows);

template <class Sketch>
vigil::TimeWindows<Sketch> filled(Sketch prototype) {
  const Events& e = events();
  vigil::TimeWindows<Sketch> w(prototype);
  // Two hours: every fine interval and a few coarse ones hold data.
  for (int minute = 0; minute < 120; ++minute)
    for (std::size_t i = 0; i < 1000; ++i) w.add(1.7e9 + minute * 60 + i * 0.06, e.values[(minute * 1000 + i) % e.values.size()]);
  return w;
}

void BM_TimeWindows_RunningStats_merge_last_60(benchmark::State& state) {
  const auto w = filled(vigil::RunningStats());
  for (auto _ : state) benchmark::DoNotOptimize(w.merge_last(3600));
}
BENCHMARK(BM_TimeWindows_RunningStats_merge_last_60);

void BM_TimeWindows_TDigest_merge_last_60(benchmark::State& state) {
  auto w = filled(vigil::TDigest<>(100));
  for (auto _ : state) benchmark::DoNotOptimize(w.merge_last(3600));
}
BENCHMARK(BM_TimeWindows_TDigest_merge_last_60);

void BM_TimeWindows_TDigest_add(benchmark::State& state) {
  const Events& e = events();
  vigil::TimeWindows<vigil::TDigest<>> w(vigil::TDigest<>(100));
  double shift = 0;
  for (auto _ : state) {
    for (std::size_t i = 0; i < e.times.size(); ++i) w.add(e.times[i] + shift, e.values[i]);
    shift += 66;
    benchmark::DoNotOptimize(w);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * e.times.size()));
}
BENCHMARK(BM_TimeWindows_TDigest_add);

}  // namespace

BENCHMARK_MAIN();

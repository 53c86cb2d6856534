// update() cost of the sequential change detectors, per value, on the streams they are
// meant for: standardised scores (N(0,1)) and 0/1 error indicators (Bernoulli(0.2)).
// No Debian package offers these detectors in C++, so each runs next to the cheapest thing
// a user could write instead: an exponentially weighted mean compared with a fixed band.
#include <benchmark/benchmark.h>

#include <cstddef>
#include <random>
#include <vector>

#include <vigil/stats/change_detectors.hpp>

namespace {

// Pre-drawn values, so the generator's cost stays out of the loop. A power of two long.
const std::vector<double>& normal_values() {
  static const std::vector<double> values = [] {
    std::mt19937_64 rng(42);
    std::normal_distribution<double> noise(0.0, 1.0);
    std::vector<double> v(1 << 16);
    for (double& x : v) x = noise(rng);
    return v;
  }();
  return values;
}

const std::vector<double>& error_values() {
  static const std::vector<double> values = [] {
    std::mt19937_64 rng(42);
    std::bernoulli_distribution error(0.2);
    std::vector<double> v(1 << 16);
    for (double& x : v) x = error(rng) ? 1.0 : 0.0;
    return v;
  }();
  return values;
}

template <class Detector>
void run(benchmark::State& state, Detector detector, const std::vector<double>& values) {
  const std::size_t mask = values.size() - 1;
  std::size_t i = 0;
  std::size_t changes = 0;
  for (auto _ : state) {
    changes += detector.update(values[i++ & mask]).change ? 1 : 0;
  }
  benchmark::DoNotOptimize(changes);
  state.SetItemsProcessed(state.iterations());
  state.counters["detections"] = static_cast<double>(detector.detections());
}

void BM_Cusum(benchmark::State& state) {
  vigil::stats::CusumOptions options;
  options.target_mean = 0;
  options.sigma = 1;
  options.threshold = 8;
  run(state, vigil::stats::Cusum(options), normal_values());
}
BENCHMARK(BM_Cusum);

void BM_PageHinkley(benchmark::State& state) {
  vigil::stats::PageHinkleyOptions options;
  options.delta = 0.5;
  options.threshold = 8;
  run(state, vigil::stats::PageHinkley(options), normal_values());
}
BENCHMARK(BM_PageHinkley);

// clock = state.range(0): 32 is the default, 1 checks the window at every value.
void BM_Adwin(benchmark::State& state) {
  vigil::stats::AdwinOptions options;
  options.clock = static_cast<std::uint32_t>(state.range(0));
  run(state, vigil::stats::Adwin(options), error_values());
}
BENCHMARK(BM_Adwin)->Arg(32)->Arg(1);

// The hand-written alternative: an EWMA of the value against a fixed ±band.
struct EwmaBand {
  double mean = 0;
  std::size_t alarms = 0;
  vigil::stats::Detection update(double x) {
    mean += 0.01 * (x - mean);
    const bool out = mean > 0.3 || mean < -0.3;
    alarms += out ? 1 : 0;
    return {out, vigil::stats::ChangeDirection::none};
  }
  std::size_t detections() const { return alarms; }
};

void BM_EwmaBand(benchmark::State& state) { run(state, EwmaBand(), normal_values()); }
BENCHMARK(BM_EwmaBand);

}  // namespace

BENCHMARK_MAIN();

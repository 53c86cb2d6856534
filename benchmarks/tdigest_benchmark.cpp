// vigil::TDigest next to what a C++ server would otherwise use for latency quantiles:
// prometheus-cpp's Summary (CKMS targeted quantiles) and Boost.Accumulators' P² estimators.
// Speed: ns per value added, per query, per merge. Accuracy: the rank error of each at
// q = 0.5 / 0.99 / 0.999 on 10^6 lognormal values, reported as counters (×10⁻⁶).
#include <vigil/sketch/tdigest.hpp>

#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <random>
#include <vector>

#ifdef VIGIL_HAVE_PROMETHEUS_CPP
#include <prometheus/summary.h>
#endif
#ifdef VIGIL_HAVE_BOOST
#include <boost/accumulators/accumulators.hpp>
#include <boost/accumulators/statistics/extended_p_square.hpp>
#include <boost/accumulators/statistics/p_square_quantile.hpp>
#include <boost/accumulators/statistics/stats.hpp>
#endif

namespace {

const std::vector<double>& lognormal_values() {
  static const std::vector<double> values = [] {
    std::mt19937_64 rng(2026);
    std::lognormal_distribution<double> dist(0, 1);
    std::vector<double> v(1 << 20);
    for (double& x : v) x = dist(rng);
    return v;
  }();
  return values;
}

const std::vector<double>& sorted_values() {
  static const std::vector<double> sorted = [] {
    std::vector<double> v = lognormal_values();
    std::sort(v.begin(), v.end());
    return v;
  }();
  return sorted;
}

// Distance from q to the rank interval of x in the data, in units of 10⁻⁶.
double rank_error_ppm(double x, double q) {
  const auto& s = sorted_values();
  const double n = static_cast<double>(s.size());
  const double lo = static_cast<double>(std::lower_bound(s.begin(), s.end(), x) - s.begin()) / n;
  const double hi = static_cast<double>(std::upper_bound(s.begin(), s.end(), x) - s.begin()) / n;
  return 1e6 * (q < lo ? lo - q : (q > hi ? q - hi : 0.0));
}

void report_accuracy(benchmark::State& state, double p50, double p99, double p999) {
  state.counters["err_p50_ppm"] = rank_error_ppm(p50, 0.5);
  state.counters["err_p99_ppm"] = rank_error_ppm(p99, 0.99);
  state.counters["err_p999_ppm"] = rank_error_ppm(p999, 0.999);
}

void BM_TDigest_add(benchmark::State& state) {
  const auto& values = lognormal_values();
  const std::size_t mask = values.size() - 1;
  vigil::TDigest<> digest(static_cast<double>(state.range(0)));
  std::size_t i = 0;
  for (auto _ : state) {
    digest.add(values[i++ & mask]);
  }
  benchmark::DoNotOptimize(digest.count());
  state.SetItemsProcessed(state.iterations());
  // Accuracy on the full data set, from a fresh digest.
  vigil::TDigest<> full(static_cast<double>(state.range(0)));
  for (double x : values) full.add(x);
  report_accuracy(state, full.quantile(0.5), full.quantile(0.99), full.quantile(0.999));
  full.flush();
  state.counters["centroids"] = static_cast<double>(full.centroids().size());
  state.counters["bytes_serialized"] = static_cast<double>(full.serialize().size());
}
BENCHMARK(BM_TDigest_add)->Arg(100)->Arg(200);

void BM_TDigest_add_float(benchmark::State& state) {
  const auto& values = lognormal_values();
  const std::size_t mask = values.size() - 1;
  vigil::TDigest<float> digest(100);
  std::size_t i = 0;
  for (auto _ : state) {
    digest.add(static_cast<float>(values[i++ & mask]));
  }
  benchmark::DoNotOptimize(digest.count());
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_TDigest_add_float);

vigil::TDigest<> full_digest() {
  vigil::TDigest<> digest(100);
  for (double x : lognormal_values()) digest.add(x);
  digest.flush();
  return digest;
}

void BM_TDigest_quantile(benchmark::State& state) {
  const vigil::TDigest<> digest = full_digest();
  double q = 0.001;
  for (auto _ : state) {
    benchmark::DoNotOptimize(digest.quantile(q));
    q = q > 0.998 ? 0.001 : q + 0.001;
  }
}
BENCHMARK(BM_TDigest_quantile);

void BM_TDigest_cdf(benchmark::State& state) {
  const vigil::TDigest<> digest = full_digest();
  const auto& values = lognormal_values();
  std::size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(digest.cdf(values[i++ & 1023]));
  }
}
BENCHMARK(BM_TDigest_cdf);

void BM_TDigest_merge_100(benchmark::State& state) {
  std::vector<vigil::TDigest<>> parts;
  const auto& values = lognormal_values();
  for (int p = 0; p < 100; ++p) {
    vigil::TDigest<> part(100);
    for (int i = 0; i < 10000; ++i) part.add(values[static_cast<std::size_t>(p * 10000 + i)]);
    part.flush();
    parts.push_back(part);
  }
  for (auto _ : state) {
    vigil::TDigest<> all(100);
    for (const auto& part : parts) all.merge(part);
    all.flush();
    benchmark::DoNotOptimize(all.count());
  }
  state.SetItemsProcessed(state.iterations() * 100);
}
BENCHMARK(BM_TDigest_merge_100)->Unit(benchmark::kMicrosecond);

void BM_TDigest_serialize(benchmark::State& state) {
  const vigil::TDigest<> digest = full_digest();
  std::size_t bytes = 0;
  for (auto _ : state) {
    const auto out = digest.serialize();
    bytes = out.size();
    benchmark::DoNotOptimize(out.data());
  }
  state.counters["bytes"] = static_cast<double>(bytes);
}
BENCHMARK(BM_TDigest_serialize);

void BM_TDigest_deserialize(benchmark::State& state) {
  const auto bytes = full_digest().serialize();
  for (auto _ : state) {
    const auto digest = vigil::TDigest<>::deserialize(bytes);
    benchmark::DoNotOptimize(digest.count());
  }
}
BENCHMARK(BM_TDigest_deserialize);

#ifdef VIGIL_HAVE_PROMETHEUS_CPP
prometheus::Summary::Quantiles prometheus_quantiles() {
  return {{0.5, 0.05}, {0.99, 0.001}, {0.999, 0.0001}};
}

void BM_PrometheusSummary_observe(benchmark::State& state) {
  const auto& values = lognormal_values();
  const std::size_t mask = values.size() - 1;
  prometheus::Summary summary(prometheus_quantiles(), std::chrono::hours{1}, 1);
  std::size_t i = 0;
  for (auto _ : state) {
    summary.Observe(values[i++ & mask]);
  }
  state.SetItemsProcessed(state.iterations());
  prometheus::Summary full(prometheus_quantiles(), std::chrono::hours{1}, 1);
  for (double x : values) full.Observe(x);
  const auto metric = full.Collect();
  const auto& q = metric.summary.quantile;
  report_accuracy(state, q[0].value, q[1].value, q[2].value);
}
BENCHMARK(BM_PrometheusSummary_observe);

void BM_PrometheusSummary_collect(benchmark::State& state) {
  prometheus::Summary summary(prometheus_quantiles(), std::chrono::hours{1}, 1);
  for (double x : lognormal_values()) summary.Observe(x);
  for (auto _ : state) {
    benchmark::DoNotOptimize(summary.Collect());
  }
}
BENCHMARK(BM_PrometheusSummary_collect);
#endif

#ifdef VIGIL_HAVE_BOOST
namespace acc = boost::accumulators;
using ExtendedPSquare = acc::accumulator_set<double, acc::stats<acc::tag::extended_p_square>>;

void BM_BoostExtendedPSquare_add(benchmark::State& state) {
  const auto& values = lognormal_values();
  const std::size_t mask = values.size() - 1;
  const std::vector<double> probabilities = {0.5, 0.99, 0.999};
  ExtendedPSquare estimator(acc::tag::extended_p_square::probabilities = probabilities);
  std::size_t i = 0;
  for (auto _ : state) {
    estimator(values[i++ & mask]);
  }
  state.SetItemsProcessed(state.iterations());
  ExtendedPSquare full(acc::tag::extended_p_square::probabilities = probabilities);
  for (double x : values) full(x);
  const auto quantiles = acc::extended_p_square(full);
  report_accuracy(state, quantiles[0], quantiles[1], quantiles[2]);
}
BENCHMARK(BM_BoostExtendedPSquare_add);

void BM_BoostPSquare_single_quantile_add(benchmark::State& state) {
  const auto& values = lognormal_values();
  const std::size_t mask = values.size() - 1;
  acc::accumulator_set<double, acc::stats<acc::tag::p_square_quantile>> estimator(acc::quantile_probability = 0.99);
  std::size_t i = 0;
  for (auto _ : state) {
    estimator(values[i++ & mask]);
  }
  state.SetItemsProcessed(state.iterations());
  benchmark::DoNotOptimize(acc::p_square_quantile(estimator));
}
BENCHMARK(BM_BoostPSquare_single_quantile_add);
#endif

}  // namespace

BENCHMARK_MAIN();

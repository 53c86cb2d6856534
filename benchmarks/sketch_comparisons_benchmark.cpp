// Statistics on sketches (vigil/stats/sketch_comparisons.hpp) next to what a server would do
// without them: the same test on the raw samples (which it would have to keep) or on counts
// it binned itself. No Debian C++ library compares sketches; the raw-data functions of
// vigil::stats are the peer. Sizes are those a monitor's report() meets: digests of 10^6
// values at δ = 100, latency histograms at scale 5 over 1 µs–100 s, 1 000 categories.
#include <vigil/stats/sketch_comparisons.hpp>

#include <benchmark/benchmark.h>

#include <cmath>
#include <cstddef>
#include <random>
#include <string>
#include <vector>

namespace {

std::vector<double> normal_sample(std::size_t n, double shift, unsigned seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> dist(shift, 1.0);
  std::vector<double> v(n);
  for (double& x : v) x = dist(rng);
  return v;
}

vigil::TDigest<> digest_of(const std::vector<double>& values) {
  vigil::TDigest<> digest(100);
  for (double x : values) digest.add(x);
  digest.flush();
  return digest;
}

// Latencies spread log-uniformly over 1 µs … 100 s (every bucket of that span in use).
vigil::LogHistogram latency_histogram(std::size_t n, double tilt, unsigned seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> unit(0, 1);
  vigil::LogHistogram histogram(5);
  for (std::size_t i = 0; i < n; ++i) {
    const double u = std::pow(unit(rng), tilt);
    histogram.record(1e-6 * std::pow(1e8, u));
  }
  return histogram;
}

// 1 000 categories with Zipf frequencies, 10^6 observations, a capacity that keeps them exact.
vigil::CategoryCounts category_counts(double exponent, unsigned seed) {
  const std::size_t categories = 1000;
  std::vector<double> weights(categories);
  for (std::size_t i = 0; i < categories; ++i) weights[i] = std::pow(static_cast<double>(i + 1), -exponent);
  std::discrete_distribution<std::size_t> zipf(weights.begin(), weights.end());
  std::mt19937_64 rng(seed);
  std::vector<std::size_t> counts(categories, 0);
  for (int i = 0; i < 1000000; ++i) ++counts[zipf(rng)];
  vigil::CategoryCounts summary(1024);
  for (std::size_t i = 0; i < categories; ++i) {
    if (counts[i] > 0) summary.add("category-" + std::to_string(i), counts[i]);
  }
  summary.add_missing(1234);
  return summary;
}

void BM_KsTest_TDigest(benchmark::State& state) {
  const auto a = digest_of(normal_sample(1000000, 0.0, 1));
  const auto b = digest_of(normal_sample(1000000, 0.01, 2));
  for (auto _ : state) benchmark::DoNotOptimize(vigil::stats::ks_test(a, b));
  state.counters["centroids"] = static_cast<double>(a.centroids().size() + b.centroids().size());
}
BENCHMARK(BM_KsTest_TDigest)->Unit(benchmark::kMicrosecond);

// The p-value alone at the digests' D and sizes: 2.2 ≤ n·D² < 370, where the finite-n
// Kolmogorov tail is an O(n) sum (as SciPy's kstwo.sf).
void BM_KsPValue_Asymptotic(benchmark::State& state) {
  const auto a = digest_of(normal_sample(1000000, 0.0, 1));
  const auto b = digest_of(normal_sample(1000000, 0.01, 2));
  const double d = vigil::stats::ks_test(a, b).statistic;
  const vigil::stats::KsOptions asymptotic{vigil::stats::KsMethod::asymptotic};
  for (auto _ : state) benchmark::DoNotOptimize(vigil::stats::ks_p_value(d, 1000000, 1000000, asymptotic));
  state.counters["D"] = d;
}
BENCHMARK(BM_KsPValue_Asymptotic)->Unit(benchmark::kMicrosecond);

// A large shift (n·D² ≥ 370): the p-value is 0 at once, so this times the statistic alone.
void BM_KsTest_TDigest_StatisticOnly(benchmark::State& state) {
  const auto a = digest_of(normal_sample(1000000, 0.0, 1));
  const auto b = digest_of(normal_sample(1000000, 0.5, 2));
  for (auto _ : state) benchmark::DoNotOptimize(vigil::stats::ks_test(a, b));
}
BENCHMARK(BM_KsTest_TDigest_StatisticOnly)->Unit(benchmark::kMicrosecond);

void BM_KsTest_RawSamples(benchmark::State& state) {
  const auto a = normal_sample(1000000, 0.0, 1);
  const auto b = normal_sample(1000000, 0.01, 2);
  for (auto _ : state) benchmark::DoNotOptimize(vigil::stats::ks_test(a, b));
}
BENCHMARK(BM_KsTest_RawSamples)->Unit(benchmark::kMillisecond);

void BM_GTestIndependence_LogHistogram(benchmark::State& state) {
  const auto a = latency_histogram(1000000, 1.0, 3);
  const auto b = latency_histogram(1000000, 1.05, 4);
  for (auto _ : state) benchmark::DoNotOptimize(vigil::stats::g_test_independence(a, b));
  state.counters["buckets"] = static_cast<double>(a.buckets().size());
}
BENCHMARK(BM_GTestIndependence_LogHistogram)->Unit(benchmark::kMicrosecond);

void BM_GTestIndependence_LogHistogram_DifferentScales(benchmark::State& state) {
  const auto a = latency_histogram(1000000, 1.0, 3);
  auto b = latency_histogram(1000000, 1.05, 4);
  b.downscale(2);
  for (auto _ : state) benchmark::DoNotOptimize(vigil::stats::g_test_independence(a, b));
}
BENCHMARK(BM_GTestIndependence_LogHistogram_DifferentScales)->Unit(benchmark::kMicrosecond);

// The peer: the same test on two count vectors already aligned by the caller.
void BM_GTestIndependence_Counts(benchmark::State& state) {
  const auto a = latency_histogram(1000000, 1.0, 3);
  const auto b = latency_histogram(1000000, 1.05, 4);
  std::vector<double> row_a, row_b;
  const auto buckets_a = a.buckets();
  const auto buckets_b = b.buckets();
  for (std::size_t i = 0; i < buckets_a.size() && i < buckets_b.size(); ++i) {
    row_a.push_back(static_cast<double>(buckets_a[i].count));
    row_b.push_back(static_cast<double>(buckets_b[i].count));
  }
  for (auto _ : state) benchmark::DoNotOptimize(vigil::stats::g_test_independence(row_a, row_b));
  state.counters["bins"] = static_cast<double>(row_a.size());
}
BENCHMARK(BM_GTestIndependence_Counts)->Unit(benchmark::kMicrosecond);

void BM_Psi_LogHistogram(benchmark::State& state) {
  const auto a = latency_histogram(1000000, 1.0, 3);
  const auto b = latency_histogram(1000000, 1.05, 4);
  for (auto _ : state) benchmark::DoNotOptimize(vigil::stats::psi(a, b));
}
BENCHMARK(BM_Psi_LogHistogram)->Unit(benchmark::kMicrosecond);

void BM_JensenShannon_LogHistogram(benchmark::State& state) {
  const auto a = latency_histogram(1000000, 1.0, 3);
  const auto b = latency_histogram(1000000, 1.05, 4);
  for (auto _ : state) benchmark::DoNotOptimize(vigil::stats::jensen_shannon_distance(a, b));
}
BENCHMARK(BM_JensenShannon_LogHistogram)->Unit(benchmark::kMicrosecond);

void BM_KsTest_LogHistogram(benchmark::State& state) {
  const auto a = latency_histogram(1000000, 1.0, 3);
  const auto b = latency_histogram(1000000, 1.05, 4);
  for (auto _ : state) benchmark::DoNotOptimize(vigil::stats::ks_test(a, b));
}
BENCHMARK(BM_KsTest_LogHistogram)->Unit(benchmark::kMicrosecond);

void BM_GTestIndependence_CategoryCounts(benchmark::State& state) {
  const auto reference = category_counts(1.1, 5);
  const auto current = category_counts(1.0, 6);
  for (auto _ : state) benchmark::DoNotOptimize(vigil::stats::g_test_independence(reference, current));
}
BENCHMARK(BM_GTestIndependence_CategoryCounts)->Unit(benchmark::kMicrosecond);

void BM_ChiSquareIndependence_CategoryCounts(benchmark::State& state) {
  const auto reference = category_counts(1.1, 5);
  const auto current = category_counts(1.0, 6);
  for (auto _ : state) benchmark::DoNotOptimize(vigil::stats::chi_square_independence(reference, current));
}
BENCHMARK(BM_ChiSquareIndependence_CategoryCounts)->Unit(benchmark::kMicrosecond);

void BM_Psi_CategoryCounts(benchmark::State& state) {
  const auto reference = category_counts(1.1, 5);
  const auto current = category_counts(1.0, 6);
  for (auto _ : state) benchmark::DoNotOptimize(vigil::stats::psi(reference, current));
}
BENCHMARK(BM_Psi_CategoryCounts)->Unit(benchmark::kMicrosecond);

void BM_JensenShannon_CategoryCounts(benchmark::State& state) {
  const auto reference = category_counts(1.1, 5);
  const auto current = category_counts(1.0, 6);
  for (auto _ : state) benchmark::DoNotOptimize(vigil::stats::jensen_shannon_distance(reference, current));
}
BENCHMARK(BM_JensenShannon_CategoryCounts)->Unit(benchmark::kMicrosecond);

void BM_LInfinity_CategoryCounts(benchmark::State& state) {
  const auto reference = category_counts(1.1, 5);
  const auto current = category_counts(1.0, 6);
  for (auto _ : state) benchmark::DoNotOptimize(vigil::stats::l_infinity_distance(reference, current));
}
BENCHMARK(BM_LInfinity_CategoryCounts)->Unit(benchmark::kMicrosecond);

void BM_TotalVariation_CategoryCounts(benchmark::State& state) {
  const auto reference = category_counts(1.1, 5);
  const auto current = category_counts(1.0, 6);
  for (auto _ : state) benchmark::DoNotOptimize(vigil::stats::total_variation_distance(reference, current));
}
BENCHMARK(BM_TotalVariation_CategoryCounts)->Unit(benchmark::kMicrosecond);

// The peer: G-test on 1 002 count vectors the caller aligned beforehand.
void BM_GTestIndependence_CategoryRows(benchmark::State& state) {
  std::mt19937_64 rng(7);
  std::poisson_distribution<int> poisson(1000);
  std::vector<double> a(1002), b(1002);
  for (std::size_t i = 0; i < a.size(); ++i) {
    a[i] = poisson(rng);
    b[i] = poisson(rng);
  }
  for (auto _ : state) benchmark::DoNotOptimize(vigil::stats::g_test_independence(a, b));
}
BENCHMARK(BM_GTestIndependence_CategoryRows)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();

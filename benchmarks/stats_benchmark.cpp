// vigil::stats next to the peer a C++ server would otherwise use: Boost.Math for the
// chi-square tail (boost::math::gamma_q) inside the G-test, and for the incomplete gamma
// function itself. The two-sample KS test, PSI and the Wasserstein distance have no Debian
// C++ peer; they are timed alone at the sizes a monitor's report() meets.
#include <vigil/stats/distances.hpp>
#include <vigil/stats/goodness_of_fit.hpp>
#include <vigil/stats/ks_test.hpp>
#include <vigil/stats/special_functions.hpp>

#include <benchmark/benchmark.h>

#include <cmath>
#include <random>
#include <vector>

#ifdef VIGIL_HAVE_BOOST
#include <boost/math/special_functions/gamma.hpp>
#endif

namespace {

std::vector<double> normal_sample(std::size_t n, double shift, unsigned seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> dist(shift, 1.0);
  std::vector<double> v(n);
  for (double& x : v) x = dist(rng);
  return v;
}

std::vector<double> bin_counts_of(std::size_t bins, double total, double skew, unsigned seed) {
  std::mt19937_64 rng(seed);
  std::vector<double> weights(bins);
  double sum = 0;
  for (std::size_t i = 0; i < bins; ++i) {
    weights[i] = std::exp(skew * static_cast<double>(i) / static_cast<double>(bins));
    sum += weights[i];
  }
  std::vector<double> counts(bins);
  for (std::size_t i = 0; i < bins; ++i) {
    std::poisson_distribution<long> poisson(total * weights[i] / sum);
    counts[i] = static_cast<double>(poisson(rng)) + 1;
  }
  return counts;
}

void BM_ks_test(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  const auto a = normal_sample(n, 0.0, 1);
  const auto b = normal_sample(n, 0.01, 2);
  for (auto _ : state) benchmark::DoNotOptimize(vigil::stats::ks_test(a, b));
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * 2 * n));
}
BENCHMARK(BM_ks_test)->Arg(1000)->Arg(10000)->Arg(100000)->Unit(benchmark::kMillisecond);

// The exact distribution at the largest size 'auto' uses it for.
void BM_ks_p_value_exact(benchmark::State& state) {
  const auto n1 = static_cast<std::uint64_t>(state.range(0));
  for (auto _ : state) benchmark::DoNotOptimize(vigil::stats::ks_p_value(0.02, n1, n1 - 1));
}
BENCHMARK(BM_ks_p_value_exact)->Arg(1000)->Arg(10000)->Unit(benchmark::kMillisecond);

void BM_g_test(benchmark::State& state) {
  const auto bins = static_cast<std::size_t>(state.range(0));
  const auto observed = bin_counts_of(bins, 1e6, 0.1, 3);
  auto expected = bin_counts_of(bins, 1e6, 0.0, 4);
  double so = 0, se = 0;
  for (std::size_t i = 0; i < bins; ++i) {
    so += observed[i];
    se += expected[i];
  }
  for (double& e : expected) e *= so / se;
  for (auto _ : state) benchmark::DoNotOptimize(vigil::stats::g_test(observed, expected));
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * bins));
}
BENCHMARK(BM_g_test)->Arg(10)->Arg(1000)->Unit(benchmark::kMicrosecond);

void BM_g_test_independence(benchmark::State& state) {
  const auto bins = static_cast<std::size_t>(state.range(0));
  const auto a = bin_counts_of(bins, 1e6, 0.1, 5);
  const auto b = bin_counts_of(bins, 3e6, 0.0, 6);
  for (auto _ : state) benchmark::DoNotOptimize(vigil::stats::g_test_independence(a, b));
}
BENCHMARK(BM_g_test_independence)->Arg(1000)->Unit(benchmark::kMicrosecond);

#ifdef VIGIL_HAVE_BOOST
// The same G statistic with Boost.Math's gamma_q for the p-value: what a hand-written
// G-test on Boost would cost.
void BM_g_test_boost_gamma_q(benchmark::State& state) {
  const auto bins = static_cast<std::size_t>(state.range(0));
  const auto observed = bin_counts_of(bins, 1e6, 0.1, 3);
  auto expected = bin_counts_of(bins, 1e6, 0.0, 4);
  double so = 0, se = 0;
  for (std::size_t i = 0; i < bins; ++i) {
    so += observed[i];
    se += expected[i];
  }
  for (double& e : expected) e *= so / se;
  for (auto _ : state) {
    double g = 0;
    for (std::size_t i = 0; i < bins; ++i) g += observed[i] > 0 ? 2 * observed[i] * std::log(observed[i] / expected[i]) : 0;
    benchmark::DoNotOptimize(boost::math::gamma_q((static_cast<double>(bins) - 1) / 2, g / 2));
  }
}
BENCHMARK(BM_g_test_boost_gamma_q)->Arg(10)->Arg(1000)->Unit(benchmark::kMicrosecond);
#endif

void BM_chi_square_sf(benchmark::State& state) {
  const double dof = static_cast<double>(state.range(0));
  double x = dof * 1.2;
  for (auto _ : state) {
    benchmark::DoNotOptimize(vigil::stats::chi_square_sf(x, dof));
    x = x == dof * 1.2 ? dof * 1.21 : dof * 1.2;
  }
}
BENCHMARK(BM_chi_square_sf)->Arg(9)->Arg(999);

#ifdef VIGIL_HAVE_BOOST
void BM_chi_square_sf_boost(benchmark::State& state) {
  const double dof = static_cast<double>(state.range(0));
  double x = dof * 1.2;
  for (auto _ : state) {
    benchmark::DoNotOptimize(boost::math::gamma_q(dof / 2, x / 2));
    x = x == dof * 1.2 ? dof * 1.21 : dof * 1.2;
  }
}
BENCHMARK(BM_chi_square_sf_boost)->Arg(9)->Arg(999);
#endif

void BM_psi(benchmark::State& state) {
  const auto bins = static_cast<std::size_t>(state.range(0));
  const auto reference = bin_counts_of(bins, 1e6, 0.0, 7);
  const auto current = bin_counts_of(bins, 1e5, 0.2, 8);
  for (auto _ : state) benchmark::DoNotOptimize(vigil::stats::psi(reference, current));
}
BENCHMARK(BM_psi)->Arg(10)->Arg(1000)->Unit(benchmark::kMicrosecond);

void BM_psi_on_quantile_bins(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  const auto reference = normal_sample(n, 0.0, 9);
  const auto current = normal_sample(n, 0.05, 10);
  for (auto _ : state) benchmark::DoNotOptimize(vigil::stats::psi_on_quantile_bins(reference, current, 10));
}
BENCHMARK(BM_psi_on_quantile_bins)->Arg(100000)->Unit(benchmark::kMillisecond);

void BM_wasserstein_distance(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  const auto a = normal_sample(n, 0.0, 11);
  const auto b = normal_sample(n, 0.05, 12);
  for (auto _ : state) benchmark::DoNotOptimize(vigil::stats::wasserstein_distance(a, b));
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * 2 * n));
}
BENCHMARK(BM_wasserstein_distance)->Arg(100000)->Unit(benchmark::kMillisecond);

void BM_jensen_shannon_distance(benchmark::State& state) {
  const auto bins = static_cast<std::size_t>(state.range(0));
  const auto p = bin_counts_of(bins, 1e6, 0.0, 13);
  const auto q = bin_counts_of(bins, 1e5, 0.2, 14);
  for (auto _ : state) benchmark::DoNotOptimize(vigil::stats::jensen_shannon_distance(p, q));
}
BENCHMARK(BM_jensen_shannon_distance)->Arg(1000)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();

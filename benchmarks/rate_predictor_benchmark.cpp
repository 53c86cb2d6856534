// vigil::RatePredictor next to the least-squares fit a user would otherwise write with Eigen:
// the design matrix of the same regression (intercept, lags 1–4, 1 day, 2 days on log
// counts) built from a vector of log counts and solved by ColPivHouseholderQR (rank-
// revealing, the careful choice), or by LDLT of XᵀX formed from that matrix (the quick
// choice). RatePredictor::fit() also re-runs its robust filter over the history.
// Data: 7 days of 1-min Poisson arrival counts with a daily cycle (10,080 counts, the
// default history). Speed: time per fit and per prediction. Accuracy: the largest
// coefficient difference between RatePredictor (filter off, no ridge) and the QR fit,
// reported as a counter.
#include <vigil/model/rate_predictor.hpp>

#include <benchmark/benchmark.h>

#include <Eigen/Cholesky>
#include <Eigen/Core>
#include <Eigen/QR>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

namespace {

constexpr int minutes = 7 * 1440;

const std::vector<double>& counts() {
  static const std::vector<double> values = [] {
    std::mt19937_64 rng(2026);
    std::vector<double> v(minutes);
    for (int t = 0; t < minutes; ++t) {
      const double rate = 200 * (1 + 0.8 * std::sin(2 * 3.141592653589793 * (t % 1440) / 1440.0));
      v[static_cast<std::size_t>(t)] = std::poisson_distribution<int>(rate)(rng);
    }
    return v;
  }();
  return values;
}

vigil::RatePredictor filled(vigil::RatePredictorOptions options) {
  options.refit_every = 0;  // fit only when the benchmark says so
  vigil::RatePredictor p(options);
  const auto& v = counts();
  for (int t = 0; t < minutes; ++t) p.add(t, v[static_cast<std::size_t>(t)]);
  return p;
}

vigil::RatePredictorOptions plain_options() {
  vigil::RatePredictorOptions o;
  o.outlier_z = 0;
  o.ridge = 0;
  return o;
}

// The peer keeps log(count + 1) per minute, as RatePredictor does.
const std::vector<double>& log_counts() {
  static const std::vector<double> values = [] {
    std::vector<double> v;
    for (double c : counts()) v.push_back(std::log1p(c));
    return v;
  }();
  return values;
}

// The design matrix of the default model over the whole history: one row per minute whose
// lags are all inside it.
void design(Eigen::MatrixXd& x, Eigen::VectorXd& y) {
  static const int lags[] = {1, 2, 3, 4, 1440, 2880};
  const auto& v = log_counts();
  const int first = 2880;
  const int rows = minutes - first;
  x.resize(rows, 7);
  y.resize(rows);
  for (int r = 0; r < rows; ++r) {
    const int t = first + r;
    y(r) = v[static_cast<std::size_t>(t)];
    x(r, 0) = 1;
    for (int j = 0; j < 6; ++j) x(r, j + 1) = v[static_cast<std::size_t>(t - lags[j])];
  }
}

Eigen::VectorXd qr_coefficients() {
  Eigen::MatrixXd x;
  Eigen::VectorXd y;
  design(x, y);
  return x.colPivHouseholderQr().solve(y);
}

void BM_RatePredictor_fit(benchmark::State& state) {
  vigil::RatePredictor p = filled(vigil::RatePredictorOptions{});
  for (auto _ : state) {
    p.fit();
    benchmark::DoNotOptimize(p.coefficients().data());
  }
  state.counters["fitted_rows"] = static_cast<double>(p.fitted_on());
  state.counters["outliers"] = static_cast<double>(p.outliers());
}
BENCHMARK(BM_RatePredictor_fit)->Unit(benchmark::kMicrosecond);

void BM_RatePredictor_fit_no_filter(benchmark::State& state) {
  vigil::RatePredictor p = filled(plain_options());
  for (auto _ : state) {
    p.fit();
    benchmark::DoNotOptimize(p.coefficients().data());
  }
  const Eigen::VectorXd qr = qr_coefficients();
  double worst = 0;
  for (int j = 0; j < 7; ++j)
    worst = std::max(worst, std::fabs(p.coefficients()[static_cast<std::size_t>(j)] - qr(j)));
  state.counters["max_coef_diff_vs_qr"] = worst;
}
BENCHMARK(BM_RatePredictor_fit_no_filter)->Unit(benchmark::kMicrosecond);

void BM_Eigen_ColPivHouseholderQR_fit(benchmark::State& state) {
  Eigen::MatrixXd x;
  Eigen::VectorXd y;
  for (auto _ : state) {
    design(x, y);
    Eigen::VectorXd beta = x.colPivHouseholderQr().solve(y);
    benchmark::DoNotOptimize(beta.data());
  }
}
BENCHMARK(BM_Eigen_ColPivHouseholderQR_fit)->Unit(benchmark::kMicrosecond);

void BM_Eigen_normal_equations_LDLT_fit(benchmark::State& state) {
  Eigen::MatrixXd x;
  Eigen::VectorXd y;
  Eigen::VectorXd beta;
  for (auto _ : state) {
    design(x, y);
    const Eigen::MatrixXd gram = x.transpose() * x;
    beta = gram.ldlt().solve(x.transpose() * y);
    benchmark::DoNotOptimize(beta.data());
  }
  const Eigen::VectorXd qr = qr_coefficients();
  state.counters["max_coef_diff_vs_qr"] = (beta - qr).cwiseAbs().maxCoeff();
}
BENCHMARK(BM_Eigen_normal_equations_LDLT_fit)->Unit(benchmark::kMicrosecond);

void BM_RatePredictor_predict_next(benchmark::State& state) {
  vigil::RatePredictor p = filled(vigil::RatePredictorOptions{});
  p.fit();
  for (auto _ : state) {
    const vigil::RatePrediction r = p.predict();
    benchmark::DoNotOptimize(r.rate);
  }
}
BENCHMARK(BM_RatePredictor_predict_next);

void BM_RatePredictor_predict_60_ahead(benchmark::State& state) {
  vigil::RatePredictor p = filled(vigil::RatePredictorOptions{});
  p.fit();
  for (auto _ : state) {
    const vigil::RatePrediction r = p.predict(p.newest() + 60);
    benchmark::DoNotOptimize(r.rate);
  }
}
BENCHMARK(BM_RatePredictor_predict_60_ahead);

// A whole interval's work in steady state: predict, add, and a refit every 60 intervals
// (the default), amortised.
void BM_RatePredictor_add_with_refits(benchmark::State& state) {
  vigil::RatePredictor p;
  const auto& v = counts();
  std::int64_t t = 0;
  for (; t < minutes; ++t) p.add(t, v[static_cast<std::size_t>(t)]);
  for (auto _ : state) {
    const double count = v[static_cast<std::size_t>(t % minutes)];
    const vigil::RatePrediction r = p.predict(t);
    benchmark::DoNotOptimize(r.z(count));
    p.add(t, count);
    ++t;
  }
  state.counters["memory_bytes"] = static_cast<double>(p.memory_bytes());
}
BENCHMARK(BM_RatePredictor_add_with_refits);

}  // namespace

BENCHMARK_MAIN();

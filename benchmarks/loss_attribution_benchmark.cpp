// vigil::LossAttribution::attribute(): time to share one request's loss among its features,
// for squared loss (closed form) and log loss (exact up to exact_features features, Owen's
// multilinear extension beyond), at d features and n background rows.
// No peer: Debian packages no library of Shapley values, for C++ or otherwise; a server
// without vigil would call an explainer in another language or go without.
// Data: weights N(0, 4/d) (margins of standard deviation about 2), features and background
// rows standard normal; the answer alternates between 0 and 1.
#include <vigil/model/loss_attribution.hpp>

#include <benchmark/benchmark.h>

#include <cmath>
#include <cstddef>
#include <random>
#include <vector>

namespace {

void attribute(benchmark::State& state, vigil::LinkFunction link) {
  const auto d = static_cast<std::size_t>(state.range(0));
  const auto n = static_cast<std::size_t>(state.range(1));
  std::mt19937_64 rng(2026);
  std::normal_distribution<double> normal;
  vigil::LinearModel model;
  model.link = link;
  for (std::size_t j = 0; j < d; ++j) model.weights.push_back(normal(rng) * 2 / std::sqrt(static_cast<double>(d)));
  model.intercept = normal(rng);
  std::vector<double> background(n * d), requests(16 * d), phi(d);
  for (double& v : background) v = normal(rng);
  for (double& v : requests) v = normal(rng);
  const vigil::LossAttribution shares(model, background);
  std::size_t i = 0;
  for (auto _ : state) {
    const std::size_t request = i++ % 16;
    benchmark::DoNotOptimize(shares.attribute(&requests[request * d], static_cast<double>(request % 2), phi.data()));
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}

void squared_loss(benchmark::State& state) { attribute(state, vigil::LinkFunction::identity); }
void log_loss(benchmark::State& state) { attribute(state, vigil::LinkFunction::logistic); }

void sizes(benchmark::internal::Benchmark* b) {
  b->ArgNames({"d", "n"});
  for (int d : {8, 32, 96})
    for (int n : {32, 128}) b->Args({d, n});
}

// Log loss also either side of exact_features (12): the dearest exact case and the
// cheapest approximate one.
void log_sizes(benchmark::internal::Benchmark* b) {
  sizes(b);
  for (int d : {12, 13})
    for (int n : {32, 128}) b->Args({d, n});
}

}  // namespace

BENCHMARK(squared_loss)->Apply(sizes);
BENCHMARK(log_loss)->Apply(log_sizes)->Unit(benchmark::kMicrosecond);

BENCHMARK_MAIN();

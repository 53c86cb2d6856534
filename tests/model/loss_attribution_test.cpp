// LossAttribution: Shapley values of a request's loss, checked against a reference that
// enumerates every coalition of every background row.
#include <vigil/model/loss_attribution.hpp>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include "vigil_test.hpp"

namespace {

using vigil::LinkFunction;
using vigil::LinearModel;
using vigil::LossAttribution;

// The loss of a margin by definition. The log loss is −log p for y = 1 and −log(1 − p) for
// y = 0, p = 1/(1 + e^−m): log(1 + e^∓m), written so that 1 − p is never formed (it loses
// every digit beyond |m| ≈ 37) and e^t never overflows.
double reference_loss(LinkFunction link, double margin, double y) {
  if (link == LinkFunction::identity) return (margin - y) * (margin - y);
  const double t = y == 1 ? -margin : margin;
  return t > 40 ? t + std::exp(-t) : std::log1p(std::exp(t));
}

double margin_of(const LinearModel& model, const double* x) {
  double m = model.intercept;
  for (std::size_t j = 0; j < model.weights.size(); ++j) m += model.weights[j] * x[j];
  return m;
}

// Shapley values by definition: for each background row z, the loss of every coalition S
// (x on S, z elsewhere), then each feature's marginal contributions weighted by
// |S|!(d − |S| − 1)!/d!, averaged over the rows.
std::vector<double> brute_force(const LinearModel& model, const std::vector<double>& background,
                                const std::vector<double>& x, double y) {
  const std::size_t d = x.size(), rows = background.size() / d, subsets = std::size_t{1} << d;
  std::vector<double> weight(d);  // weight[s] = s!(d − s − 1)!/d!
  for (std::size_t s = 0; s < d; ++s) {
    weight[s] = 1.0 / static_cast<double>(d);
    for (std::size_t i = 1; i <= s; ++i) weight[s] *= static_cast<double>(i) / static_cast<double>(d - i);
  }
  std::vector<double> phi(d, 0.0), loss(subsets);
  for (std::size_t r = 0; r < rows; ++r) {
    for (std::size_t set = 0; set < subsets; ++set) {
      std::vector<double> mixed(&background[r * d], &background[r * d] + d);
      for (std::size_t j = 0; j < d; ++j)
        if ((set >> j) & 1u) mixed[j] = x[j];
      loss[set] = reference_loss(model.link, margin_of(model, mixed.data()), y);
    }
    for (std::size_t set = 0; set < subsets; ++set) {
      std::size_t size = 0;
      for (std::size_t bits = set; bits != 0; bits &= bits - 1) ++size;
      for (std::size_t j = 0; j < d; ++j)
        if (!((set >> j) & 1u))
          phi[j] += weight[size] * (loss[set | (std::size_t{1} << j)] - loss[set]) / static_cast<double>(rows);
    }
  }
  return phi;
}

// loss(x, y) − mean over the background of loss(z, y): what the shares add up to.
double loss_difference(const LinearModel& model, const std::vector<double>& background, const std::vector<double>& x,
                       double y) {
  const std::size_t d = x.size(), rows = background.size() / d;
  double difference = reference_loss(model.link, margin_of(model, x.data()), y);
  for (std::size_t r = 0; r < rows; ++r)
    difference -= reference_loss(model.link, margin_of(model, &background[r * d]), y) / static_cast<double>(rows);
  return difference;
}

// A model of `d` features with weights N(0, spread²/d) and intercept N(0, 1): on standard
// normal features its margin has standard deviation about `spread`.
LinearModel random_model(vigil_test::Random& random, std::size_t d, double spread, LinkFunction link) {
  LinearModel model;
  for (std::size_t j = 0; j < d; ++j)
    model.weights.push_back(random.normal() * spread / std::sqrt(static_cast<double>(d)));
  model.intercept = random.normal();
  model.link = link;
  return model;
}

std::vector<double> normals(vigil_test::Random& random, std::size_t count) {
  std::vector<double> values(count);
  for (double& v : values) v = random.normal();
  return values;
}

std::vector<double> shares_of(const LossAttribution& shares, const std::vector<double>& x, double y) {
  std::vector<double> phi(x.size());
  REQUIRE(shares.attribute(x.data(), y, phi.data()));
  return phi;
}

double share_sum(const std::vector<double>& values) {
  double total = 0;
  for (double v : values) total += v;
  return total;
}

double share_magnitude(const std::vector<double>& values) {
  double total = 0;
  for (double v : values) total += std::fabs(v);
  return total;
}

// The largest |got_j − want_j|, relative to Σ_j |want_j|.
double relative_error(const std::vector<double>& got, const std::vector<double>& want) {
  double largest = 0;
  for (std::size_t j = 0; j < want.size(); ++j) largest = std::fmax(largest, std::fabs(got[j] - want[j]));
  return largest / share_magnitude(want);
}

std::string construction_error(const std::function<void()>& f) {
  try {
    f();
  } catch (const vigil::invalid_argument& e) {
    return e.what();
  }
  return "(nothing thrown)";
}

void check_contains(const std::string& message, const std::string& part) {
  INFO("message: " << message);
  CHECK(message.find(part) != std::string::npos);
}

}  // namespace

// ----- empty, one value, many values -----

TEST_CASE("LossAttribution: a request equal to its only background row shares nothing", "[loss_attribution]") {
  const std::vector<double> row = {0.5, -1.25, 2};
  for (LinkFunction link : {LinkFunction::identity, LinkFunction::logistic}) {
    INFO(vigil::to_string(link));
    const LossAttribution shares({{0.3, -0.7, 1.1}, 0.2, link}, row);
    CHECK(shares.features() == 3);
    CHECK(shares.background_rows() == 1);
    CHECK(shares.model().weights == std::vector<double>{0.3, -0.7, 1.1});
    CHECK(shares.model().link == link);
    CHECK(shares.background() == row);
    CHECK(shares.memory_bytes() >= sizeof(LossAttribution) + (3 + 3 + 2 * 3 + 1) * sizeof(double));
    CHECK(shares.memory_bytes() <= sizeof(LossAttribution) + (3 + 3 + 2 * 3 + 1) * sizeof(double) + 64);
    CHECK(shares_of(shares, row, 1) == std::vector<double>(3, 0.0));
  }
}

TEST_CASE("LossAttribution: one feature takes the whole loss difference", "[loss_attribution]") {
  const std::vector<double> background = {-1, 0.5, 2, 3};
  for (LinkFunction link : {LinkFunction::identity, LinkFunction::logistic}) {
    INFO(vigil::to_string(link));
    const LinearModel model{{0.8}, -0.3, link};
    const LossAttribution shares(model, background);
    CHECK(shares.background_rows() == 4);
    for (double y : {0.0, 1.0}) {
      const std::vector<double> x = {1.7};
      CHECK(shares_of(shares, x, y)[0] == Approx(loss_difference(model, background, x, y)).epsilon(1e-12));
    }
  }
}

TEST_CASE("LossAttribution: squared loss shares match enumeration of every coalition", "[loss_attribution]") {
  vigil_test::Random random(41);
  for (std::size_t d : {2, 3, 5, 8, 10}) {
    for (std::size_t rows : {1, 7}) {
      INFO("d = " << d << ", rows = " << rows);
      const LinearModel model = random_model(random, d, 2, LinkFunction::identity);
      const std::vector<double> background = normals(random, rows * d), x = normals(random, d);
      const double y = 3 * random.normal();
      const LossAttribution shares(model, background);
      CHECK(relative_error(shares_of(shares, x, y), brute_force(model, background, x, y)) <= 1e-9);
    }
  }
}

TEST_CASE("LossAttribution: exact log loss shares match enumeration of every coalition", "[loss_attribution]") {
  vigil_test::Random random(43);
  for (std::size_t d = 1; d <= LossAttribution::exact_features; ++d) {
    for (double spread : {0.5, 4.0}) {
      INFO("d = " << d << ", spread = " << spread);
      const LinearModel model = random_model(random, d, spread, LinkFunction::logistic);
      const std::vector<double> background = normals(random, 5 * d);
      std::vector<double> x = normals(random, d);
      x[0] = background[0];  // feature 0 sits out the game of row 0, not the others
      const double y = d % 2 == 0 ? 1 : 0;
      const LossAttribution shares(model, background);
      CHECK(relative_error(shares_of(shares, x, y), brute_force(model, background, x, y)) <= 1e-9);
    }
  }
}

TEST_CASE("LossAttribution: Owen's path stays within its stated error", "[loss_attribution]") {
  // The class comment's bound at margins' spread 0.5 is 2·10⁻⁴ of Σ|φ|, 2·10⁻⁵ on
  // average; these models measure 5·10⁻⁵ at most, 1.6·10⁻⁵ on average. Without the
  // Bernoulli variance q(1 − q)·Σδ² in the normal approximation, they measure 6·10⁻³ at
  // most and 1.7·10⁻³ on average: both checks below fail.
  vigil_test::Random random(47);
  double largest = 0, total = 0;
  const int trials = 6;
  for (std::size_t d : {13, 14}) {
    for (int trial = 0; trial < trials; ++trial) {
      const LinearModel model = random_model(random, d, 0.5, LinkFunction::logistic);
      const std::vector<double> background = normals(random, 8 * d), x = normals(random, d);
      const double y = trial % 2;
      const LossAttribution shares(model, background);
      const double error = relative_error(shares_of(shares, x, y), brute_force(model, background, x, y));
      INFO("d = " << d << ", trial " << trial);
      CHECK(error <= 5e-4);
      largest = std::fmax(largest, error);
      total += error;
    }
  }
  CHECK(total / (2 * trials) <= 1e-4);
  CHECK(largest > 0);  // d > exact_features: the approximation is in use
}

TEST_CASE("LossAttribution: shares add up to the loss difference", "[loss_attribution]") {
  vigil_test::Random random(53);
  for (LinkFunction link : {LinkFunction::identity, LinkFunction::logistic}) {
    for (std::size_t d : {4, 12, 13, 30, 96}) {  // exact and Owen's path
      INFO(vigil::to_string(link) << ", d = " << d);
      const LinearModel model = random_model(random, d, 3, link);
      const std::vector<double> background = normals(random, 32 * d), x = normals(random, d);
      const LossAttribution shares(model, background);
      for (double y : {0.0, 1.0}) {
        const double want = loss_difference(model, background, x, y);
        const double scale = reference_loss(link, margin_of(model, x.data()), y) + std::fabs(want);
        CHECK(std::fabs(share_sum(shares_of(shares, x, y)) - want) <= 1e-9 * scale);
      }
    }
  }
}

TEST_CASE("LossAttribution: symmetric, dummy and unchanged features", "[loss_attribution]") {
  // Features 0 and 1 have the same weight and the same values everywhere; feature 2 has
  // weight zero; feature 3 equals every background row's value.
  vigil_test::Random random(59);
  for (LinkFunction link : {LinkFunction::identity, LinkFunction::logistic}) {
    for (std::size_t d : {6, 20}) {
      INFO(vigil::to_string(link) << ", d = " << d);
      LinearModel model = random_model(random, d, 2, link);
      model.weights[1] = model.weights[0];
      model.weights[2] = 0;
      const std::size_t rows = 16;
      std::vector<double> background = normals(random, rows * d), x = normals(random, d);
      x[1] = x[0];
      for (std::size_t r = 0; r < rows; ++r) {
        background[r * d + 1] = background[r * d];
        background[r * d + 3] = x[3];
      }
      const std::vector<double> phi = shares_of(LossAttribution(model, background), x, 1);
      CHECK(std::fabs(phi[0] - phi[1]) <= 1e-12 * share_magnitude(phi));
      CHECK(phi[0] != 0);
      CHECK(phi[2] == 0);
      CHECK(phi[3] == 0);
    }
  }
}

TEST_CASE("LossAttribution: margins of ±800 give finite shares", "[loss_attribution]") {
  // The margin of ±800 comes from all features evenly, or from the first alone (a change
  // of the margin beyond what e^δ can hold, which takes another road in both paths).
  vigil_test::Random random(61);
  for (LinkFunction link : {LinkFunction::identity, LinkFunction::logistic}) {
    for (std::size_t d : {3, 20}) {
      for (double sign : {1.0, -1.0}) {
        for (bool evenly : {true, false}) {
          INFO(vigil::to_string(link) << ", d = " << d << ", margin " << sign * 800 << (evenly ? " evenly" : " from one"));
          const LinearModel model{std::vector<double>(d, 1.0), 0, link};
          const std::vector<double> background = normals(random, 8 * d);
          std::vector<double> x(d, evenly ? sign * 800 / static_cast<double>(d) : 0.0);
          x[0] = evenly ? x[0] : sign * 800;
          const double y = sign > 0 ? 0 : 1;  // the wrong answer, with full confidence
          const std::vector<double> phi = shares_of(LossAttribution(model, background), x, y);
          for (double share : phi) CHECK(std::isfinite(share));
          const double want = loss_difference(model, background, x, y);
          const double scale = link == LinkFunction::identity ? 800.0 * 800 : 800.0;
          CHECK(std::fabs(share_sum(phi) - want) <= 1e-9 * scale);
          CHECK(phi[0] > 0);  // moved the margin the wrong way
          if (evenly)
            for (double share : phi) CHECK(share > 0);
        }
      }
    }
  }
}

TEST_CASE("LossAttribution: quadrature rules are exact for polynomials of degree < 2N", "[loss_attribution]") {
  const auto legendre = vigil::detail::gauss_legendre_unit<LossAttribution::probability_nodes>();
  for (int k = 0; k < 2 * static_cast<int>(LossAttribution::probability_nodes); ++k) {
    double integral = 0;
    for (std::size_t i = 0; i < legendre.nodes.size(); ++i) integral += legendre.weights[i] * std::pow(legendre.nodes[i], k);
    CHECK(integral == Approx(1.0 / (k + 1)).epsilon(1e-14));
  }
  const auto hermite = vigil::detail::gauss_hermite_normal<LossAttribution::normal_nodes>();
  double double_factorial = 1;  // E Z^k = (k − 1)!! for even k, 0 for odd k
  for (int k = 0; k < 2 * static_cast<int>(LossAttribution::normal_nodes); ++k) {
    double moment = 0;
    for (std::size_t i = 0; i < hermite.nodes.size(); ++i) moment += hermite.weights[i] * std::pow(hermite.nodes[i], k);
    if (k % 2 == 1) {
      CHECK(std::fabs(moment) <= 1e-12 * double_factorial * k);
      double_factorial *= k;
    } else {
      CHECK(moment == Approx(double_factorial).epsilon(1e-13));
    }
  }
}

TEST_CASE("LossAttribution: threads share one object", "[loss_attribution][concurrency]") {
  vigil_test::Random random(67);
  for (std::size_t d : {8, 24}) {
    const LinearModel model = random_model(random, d, 2, LinkFunction::logistic);
    const LossAttribution shares(model, normals(random, 16 * d));
    const std::vector<double> x = normals(random, d), want = shares_of(shares, x, 1);
    std::vector<int> agree(4, 0);
    std::vector<std::thread> threads;
    for (std::size_t t = 0; t < agree.size(); ++t)
      threads.emplace_back([&, t] {
        std::vector<double> phi(d);
        for (int i = 0; i < 20; ++i) agree[t] += shares.attribute(x.data(), 1, phi.data()) && phi == want ? 1 : 0;
      });
    for (auto& thread : threads) thread.join();
    for (int count : agree) CHECK(count == 20);
  }
}

// ----- bad input -----

TEST_CASE("LossAttribution: an invalid model or background throws naming the value", "[loss_attribution]") {
  const double nan = std::numeric_limits<double>::quiet_NaN(), inf = std::numeric_limits<double>::infinity();
  auto with = [](LinearModel model, std::vector<double> background) {
    return construction_error([&] { LossAttribution shares(std::move(model), std::move(background)); });
  };
  const LinearModel two{{1, 2}, 0, LinkFunction::logistic};
  check_contains(with({{}, 0, LinkFunction::identity}, {1}), "no weights");
  check_contains(with({{1, nan}, 0, LinkFunction::identity}, {1, 2}), "weights[1] = nan");
  check_contains(with({{-inf, 1}, 0, LinkFunction::identity}, {1, 2}), "weights[0] = -inf");
  check_contains(with({{1, 2}, inf, LinkFunction::identity}, {1, 2}), "intercept = inf");
  check_contains(with({{1, 2}, 0, static_cast<LinkFunction>(7)}, {1, 2}), "link = 7");
  check_contains(with(two, {}), "background of 0 values is not a positive multiple of 2 features");
  check_contains(with(two, {1, 2, 3}), "background of 3 values is not a positive multiple of 2 features");
  check_contains(with(two, std::vector<double>(2 * 1025, 0.0)), "1025 rows is more than max_background = 1024");
  check_contains(with(two, {1, 2, 3, nan}), "background[3] = nan (row 1, feature 1)");
  check_contains(with(two, {1, 2, -inf, 4}), "background[2] = -inf (row 1, feature 0)");
  check_contains(with({{1e300, 1e300}, 0, LinkFunction::identity}, {0, 0, 1e10, 1e10}),
                 "margin of background row 1 is inf");
  CHECK(with(two, std::vector<double>(2 * 1024, 0.0)) == "(nothing thrown)");
}

TEST_CASE("LossAttribution: a bad request is refused with NaN shares", "[loss_attribution]") {
  const double nan = std::numeric_limits<double>::quiet_NaN(), inf = std::numeric_limits<double>::infinity();
  for (std::size_t d : {3, 16}) {  // exact and Owen's path
    for (LinkFunction link : {LinkFunction::identity, LinkFunction::logistic}) {
      INFO(vigil::to_string(link) << ", d = " << d);
      const LossAttribution shares({std::vector<double>(d, 1e300), 0, link}, std::vector<double>(2 * d, 0.0));
      auto refused = [&](std::vector<double> x, double y) {
        std::vector<double> phi(d, 1.0);
        const bool accepted = shares.attribute(x.data(), y, phi.data());
        bool all_nan = true;
        for (double share : phi) all_nan = all_nan && std::isnan(share);
        return !accepted && all_nan;
      };
      std::vector<double> x(d, 0.0);
      CHECK(!refused(x, 1));
      x[d - 1] = nan;
      CHECK(refused(x, 1));
      x[d - 1] = inf;
      CHECK(refused(x, 1));
      CHECK(refused(std::vector<double>(d, 1e10), 1));  // the margin overflows
      CHECK(refused(std::vector<double>(d, 0.0), nan));
      CHECK(refused(std::vector<double>(d, 0.0), -inf));
      CHECK(refused(std::vector<double>(d, 0.0), 0.5) == (link == LinkFunction::logistic));
      CHECK(refused(std::vector<double>(d, 0.0), 2) == (link == LinkFunction::logistic));
    }
  }
}

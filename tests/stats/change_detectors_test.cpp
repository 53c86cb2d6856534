#include <vigil/stats/change_detectors.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "vigil_test.hpp"

using vigil::stats::Adwin;
using vigil::stats::AdwinOptions;
using vigil::stats::ChangeDirection;
using vigil::stats::Cusum;
using vigil::stats::CusumOptions;
using vigil::stats::Detection;
using vigil::stats::PageHinkley;
using vigil::stats::PageHinkleyOptions;
using vigil::stats::Watch;

namespace {

constexpr double nan_value = std::numeric_limits<double>::quiet_NaN();
constexpr double inf_value = std::numeric_limits<double>::infinity();

/// Detection delays after a step: each run feeds `change_at` in-control values and then
/// out-of-control ones (both from `draw(rng, after_change)`) until the first detection at or
/// after the step, at most `horizon` values. The delay counts the post-change values fed,
/// the detecting one included (the ARL1 convention); a missed step counts as horizon + 1.
struct DelayStats {
  std::vector<int> delays;  // sorted
  int missed = 0;
  int wrong_direction = 0;
  double mean() const {
    double sum = 0;
    for (int d : delays) sum += d;
    return sum / static_cast<double>(delays.size());
  }
  int within(int limit) const {
    return static_cast<int>(std::upper_bound(delays.begin(), delays.end(), limit) - delays.begin());
  }
};

template <class Detector, class Draw>
DelayStats step_delays(const Detector& prototype, Draw draw, int runs, int change_at, int horizon,
                       ChangeDirection expected) {
  DelayStats stats;
  for (int seed = 1; seed <= runs; ++seed) {
    Detector detector = prototype;
    std::mt19937_64 rng(static_cast<std::uint64_t>(seed));
    int delay = horizon + 1;
    for (int t = 0; t < change_at + horizon; ++t) {
      const Detection found = detector.update(draw(rng, t >= change_at));
      if (found && t >= change_at) {
        delay = t - change_at + 1;
        if (found.direction != expected) ++stats.wrong_direction;
        break;
      }
    }
    if (delay > horizon) ++stats.missed;
    stats.delays.push_back(delay);
  }
  std::sort(stats.delays.begin(), stats.delays.end());
  return stats;
}

double normal_step(std::mt19937_64& rng, bool after_change) {
  std::normal_distribution<double> noise(after_change ? 1.0 : 0.0, 1.0);
  return noise(rng);
}

double bernoulli_step(std::mt19937_64& rng, bool after_change) {
  std::bernoulli_distribution error(after_change ? 0.5 : 0.2);
  return error(rng) ? 1.0 : 0.0;
}

/// 10^6 N(0,1) values from `seed`, drawn once per seed and shared by the tests.
const std::vector<double>& stationary_normal(std::uint64_t seed) {
  static std::vector<std::vector<double>> streams(4);
  std::vector<double>& values = streams.at(seed);
  if (values.empty()) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<double> noise(0.0, 1.0);
    values.resize(1000000);
    for (double& x : values) x = noise(rng);
  }
  return values;
}

template <class Detector>
std::uint64_t stationary_normal_detections(Detector detector, std::uint64_t seed) {
  for (double x : stationary_normal(seed)) detector.update(x);
  return detector.detections();
}

CusumOptions standard_cusum(double threshold) {
  CusumOptions options;
  options.target_mean = 0;
  options.sigma = 1;
  options.threshold = threshold;
  return options;
}

}  // namespace

// ---------------------------------------------------------------------------------------
// CUSUM
// ---------------------------------------------------------------------------------------

TEST_CASE("Cusum: initial state", "[change_detectors][stats]") {
  const Cusum estimating;
  CHECK(estimating.warming_up());
  CHECK(std::isnan(estimating.target_mean()));
  CHECK(std::isnan(estimating.sigma()));
  CHECK(estimating.count() == 0);
  CHECK(estimating.detections() == 0);
  CHECK(estimating.rejected() == 0);
  CHECK(estimating.increase_statistic() == 0);
  CHECK(estimating.decrease_statistic() == 0);
  CHECK(estimating.options().slack == 0.5);
  CHECK(estimating.options().threshold == 5);

  const Cusum given(standard_cusum(5));
  CHECK_FALSE(given.warming_up());
  CHECK(given.target_mean() == 0);
  CHECK(given.sigma() == 1);
}

TEST_CASE("Cusum: one value", "[change_detectors][stats]") {
  CusumOptions options;
  options.target_mean = 10;
  options.sigma = 2;
  Cusum cusum(options);
  // z = (16 - 10) / 2 = 3: S+ = 3 - 0.5, S- = max(0, -3 - 0.5).
  CHECK_FALSE(cusum.update(16));
  CHECK(cusum.increase_statistic() == 2.5);
  CHECK(cusum.decrease_statistic() == 0);
  CHECK(cusum.count() == 1);

  // A single value beyond h + k standard deviations signals at once, with its side.
  Cusum down(options);
  const Detection found = down.update(10 - 2 * 5.6);
  CHECK(found.change);
  CHECK(found.direction == ChangeDirection::decrease);
  CHECK(down.detections() == 1);
  CHECK(down.decrease_statistic() == 0);  // restarted

  // During a warm-up the first value only feeds the estimates.
  Cusum warming;
  CHECK(warming.update(1e6) == Detection{});
  CHECK(warming.warming_up());
  CHECK(warming.count() == 1);
}

TEST_CASE("Cusum: many values follow the reference recursion", "[change_detectors][stats]") {
  // Reference: S+_T = C_T - min_{t<=T} C_t with C the walk of (z - k) since the last
  // alarm (and S- likewise), the form of Page 1954, not the max(0, ...) recursion.
  std::mt19937_64 rng(7);
  std::normal_distribution<double> noise(0.0, 1.0);
  const CusumOptions options = standard_cusum(4);
  Cusum cusum(options);
  double walk_up = 0, min_up = 0, walk_down = 0, min_down = 0;
  int increases = 0, decreases = 0;
  for (int i = 0; i < 20000; ++i) {
    const double shift = (i / 2000) % 3 == 1 ? 0.8 : ((i / 2000) % 3 == 2 ? -0.8 : 0.0);
    const double x = noise(rng) + shift;
    walk_up += x - options.slack;
    min_up = std::min(min_up, walk_up);
    walk_down += -x - options.slack;
    min_down = std::min(min_down, walk_down);
    const double up = walk_up - min_up, down = walk_down - min_down;
    Detection expected;
    if (up > options.threshold)
      expected = {true, ChangeDirection::increase};
    else if (down > options.threshold)
      expected = {true, ChangeDirection::decrease};
    const Detection found = cusum.update(x);
    REQUIRE(found == expected);
    if (found) {
      walk_up = min_up = walk_down = min_down = 0;
      (found.direction == ChangeDirection::increase ? increases : decreases) += 1;
    } else {
      REQUIRE(cusum.increase_statistic() == Approx(up).margin(1e-9));
      REQUIRE(cusum.decrease_statistic() == Approx(down).margin(1e-9));
    }
  }
  CHECK(cusum.count() == 20000);
  CHECK(cusum.detections() == static_cast<std::uint64_t>(increases + decreases));
  CHECK(increases > 20);  // shifted segments up and down both produce their own side
  CHECK(decreases > 20);
}

TEST_CASE("Cusum: warm-up estimates the mean and standard deviation", "[change_detectors][stats]") {
  std::mt19937_64 rng(3);
  std::normal_distribution<double> noise(50.0, 4.0);
  CusumOptions options;
  options.warmup = 200;
  Cusum cusum(options);
  std::vector<double> warm;
  for (int i = 0; i < 200; ++i) {
    warm.push_back(noise(rng));
    CHECK_FALSE(cusum.update(warm.back()));
  }
  double mean = 0, m2 = 0;
  for (double x : warm) mean += x / 200;
  for (double x : warm) m2 += (x - mean) * (x - mean);
  CHECK_FALSE(cusum.warming_up());
  CHECK(cusum.target_mean() == Approx(mean).epsilon(1e-12));
  CHECK(cusum.sigma() == Approx(std::sqrt(m2 / 199)).epsilon(1e-12));

  // Given μ0, σ is the root mean square deviation from it.
  options.target_mean = 49;
  Cusum known_mean(options);
  double square = 0;
  for (double x : warm) {
    known_mean.update(x);
    square += (x - 49) * (x - 49);
  }
  CHECK(known_mean.sigma() == Approx(std::sqrt(square / 200)).epsilon(1e-12));

  // All-equal warm-up values: σ would be 0, so the warm-up goes on; min_sigma ends it.
  CusumOptions flat;
  flat.warmup = 10;
  Cusum waiting(flat);
  for (int i = 0; i < 50; ++i) waiting.update(0.0);
  CHECK(waiting.warming_up());
  waiting.update(1.0);
  CHECK_FALSE(waiting.warming_up());
  flat.min_sigma = 0.1;
  Cusum floored(flat);
  for (int i = 0; i < 10; ++i) floored.update(0.0);
  CHECK_FALSE(floored.warming_up());
  CHECK(floored.sigma() == 0.1);

  waiting.reset();
  CHECK(waiting.warming_up());
  CHECK(waiting.count() == 0);
}

TEST_CASE("Cusum: detection delay after a 1 sigma step at h = 5", "[change_detectors][stats]") {
  // N(0,1), mean +1σ from t = 5000, 200 seeded runs, k = 0.5, h = 5. Exact ARL1 (integral
  // equation) for a zero start: 10.38; starting from the stationary statistic it is
  // slightly shorter. Measured: mean 10.2, 199/200 within 30.
  const DelayStats h5 = step_delays(Cusum(standard_cusum(5)), normal_step, 200, 5000, 2000,
                                    ChangeDirection::increase);
  CHECK(h5.missed == 0);
  CHECK(h5.wrong_direction == 0);
  CHECK(h5.within(30) >= 190);
  CHECK(h5.mean() > 8.0);
  CHECK(h5.mean() < 12.0);
}

TEST_CASE("Cusum: detection delay at h = 8, with a warm-up, and downwards",
          "[change_detectors][stats]") {
  // Same step, h = 8: exact ARL1 16.37; measured mean 16.0, 199/200 within 40.
  const DelayStats h8 = step_delays(Cusum(standard_cusum(8)), normal_step, 200, 5000, 2000,
                                    ChangeDirection::increase);
  CHECK(h8.missed == 0);
  CHECK(h8.within(40) >= 190);
  CHECK(h8.mean() > 13.5);
  CHECK(h8.mean() < 19.0);

  // Estimating μ0 and σ from the default 100-value warm-up costs little (step at t = 1000):
  // measured 10.5.
  const DelayStats warm =
      step_delays(Cusum(), normal_step, 200, 1000, 2000, ChangeDirection::increase);
  CHECK(warm.within(30) >= 190);
  CHECK(warm.mean() < 13.0);

  // A downward step is signalled as a decrease.
  const DelayStats down = step_delays(
      Cusum(standard_cusum(5)),
      [](std::mt19937_64& rng, bool after) { return -normal_step(rng, after); }, 50, 1000, 2000,
      ChangeDirection::decrease);
  CHECK(down.wrong_direction == 0);
  CHECK(down.within(30) >= 47);
}

TEST_CASE("Cusum: false alarms on a stationary stream", "[change_detectors][stats]") {
  // Two-sided in-control ARL0 at k = 0.5 (exact integral equation, halved for two sides):
  // 465 at h = 5, 9 483 at h = 8, so 10^6 N(0,1) values should give about 2 150 and
  // 105 false alarms. Measured with seeds 1..3: 2 166, 2 210, 2 088 and 113, 118, 120.
  const std::uint64_t h5 = stationary_normal_detections(Cusum(standard_cusum(5)), 1);
  CHECK(h5 > 1900);
  CHECK(h5 < 2400);
  const std::uint64_t h8 = stationary_normal_detections(Cusum(standard_cusum(8)), 2);
  CHECK(h8 > 70);
  CHECK(h8 < 150);
  // One side only: half the false alarms at h = 8 (ARL0 18 966 per side).
  CusumOptions upward = standard_cusum(8);
  upward.watch = Watch::increase;
  const std::uint64_t one_side = stationary_normal_detections(Cusum(upward), 2);
  CHECK(one_side > 30);
  CHECK(one_side < 80);
}

TEST_CASE("Cusum: bad input", "[change_detectors][stats]") {
  Cusum cusum(standard_cusum(5));
  cusum.update(2.0);
  const double before = cusum.increase_statistic();
  for (double x : {nan_value, inf_value, -inf_value}) CHECK_FALSE(cusum.update(x));
  CHECK(cusum.rejected() == 3);
  CHECK(cusum.count() == 1);
  CHECK(cusum.increase_statistic() == before);

  CusumOptions bad = standard_cusum(5);
  bad.threshold = -1;
  CHECK_THROWS_AS(Cusum(bad), vigil::invalid_argument);
  CHECK_THROWS_WITH(Cusum(bad), Catch::Contains("threshold = -1"));
  bad = standard_cusum(5);
  bad.slack = nan_value;
  CHECK_THROWS_WITH(Cusum(bad), Catch::Contains("slack = nan"));
  bad = standard_cusum(5);
  bad.sigma = 0;
  CHECK_THROWS_WITH(Cusum(bad), Catch::Contains("sigma = 0"));
  bad = standard_cusum(5);
  bad.target_mean = inf_value;
  CHECK_THROWS_WITH(Cusum(bad), Catch::Contains("target_mean = inf"));
  bad = CusumOptions();
  bad.warmup = 1;
  CHECK_THROWS_WITH(Cusum(bad), Catch::Contains("warmup = 1"));
  bad.target_mean = 0;
  bad.sigma = 1;
  CHECK_NOTHROW(Cusum(bad));  // nothing to estimate: the warm-up is not used
  bad = standard_cusum(5);
  bad.min_sigma = -0.5;
  CHECK_THROWS_WITH(Cusum(bad), Catch::Contains("min_sigma = -0.5"));
  bad = standard_cusum(5);
  bad.watch = static_cast<Watch>(0);
  CHECK_THROWS_WITH(Cusum(bad), Catch::Contains("watch = 0"));
}

// ---------------------------------------------------------------------------------------
// Page-Hinkley
// ---------------------------------------------------------------------------------------

namespace {

PageHinkleyOptions standard_page_hinkley(double threshold) {
  PageHinkleyOptions options;
  options.delta = 0.5;
  options.threshold = threshold;
  return options;
}

}  // namespace

TEST_CASE("PageHinkley: initial state", "[change_detectors][stats]") {
  const PageHinkley ph;
  CHECK(ph.count() == 0);
  CHECK(ph.count_since_restart() == 0);
  CHECK(ph.detections() == 0);
  CHECK(ph.rejected() == 0);
  CHECK(std::isnan(ph.mean()));
  CHECK(ph.increase_statistic() == 0);
  CHECK(ph.decrease_statistic() == 0);
  CHECK(ph.options().delta == 0.005);
  CHECK(ph.options().threshold == 50);
}

TEST_CASE("PageHinkley: one value", "[change_detectors][stats]") {
  PageHinkleyOptions options = standard_page_hinkley(1e-3);
  options.min_count = 1;
  PageHinkley ph(options);
  // The running mean includes the value itself, so one value deviates by nothing.
  CHECK_FALSE(ph.update(1000));
  CHECK(ph.mean() == 1000);
  CHECK(ph.increase_statistic() == 0);
  CHECK(ph.decrease_statistic() == 0);
  // A second value: mean 1001, deviation 1 - δ = 0.5 on the increase side.
  const Detection found = ph.update(1002);
  CHECK(found.change);
  CHECK(found.direction == ChangeDirection::increase);
  CHECK(ph.count_since_restart() == 0);
  CHECK(ph.count() == 2);
}

TEST_CASE("PageHinkley: many values follow the cumulative-sum definition",
          "[change_detectors][stats]") {
  // Reference: m_T = Σ (x_t − x̄_t − δ), PH = m_T − min(0, min m_t) (Gama et al. 2013), and
  // the mirrored sum for decreases, restarted after each detection.
  std::mt19937_64 rng(11);
  std::normal_distribution<double> noise(0.0, 1.0);
  PageHinkleyOptions options = standard_page_hinkley(6);
  PageHinkley ph(options);
  double m_up = 0, min_up = 0, m_down = 0, min_down = 0, sum = 0;
  std::uint64_t n = 0;
  int increases = 0, decreases = 0;
  for (int i = 0; i < 20000; ++i) {
    const double shift = (i / 1500) % 3 == 1 ? 1.0 : ((i / 1500) % 3 == 2 ? -1.0 : 0.0);
    const double x = noise(rng) + shift;
    ++n;
    sum += x;
    const double mean = sum / static_cast<double>(n);
    m_up += x - mean - options.delta;
    min_up = std::min(min_up, m_up);
    m_down += mean - x - options.delta;
    min_down = std::min(min_down, m_down);
    const double up = m_up - min_up, down = m_down - min_down;
    Detection expected;
    if (n >= options.min_count && up > options.threshold) {
      expected = {true, ChangeDirection::increase};
    } else if (n >= options.min_count && down > options.threshold) {
      expected = {true, ChangeDirection::decrease};
    }
    const Detection found = ph.update(x);
    REQUIRE(found == expected);
    if (found) {
      m_up = min_up = m_down = min_down = sum = 0;
      n = 0;
      (found.direction == ChangeDirection::increase ? increases : decreases) += 1;
    } else {
      REQUIRE(ph.increase_statistic() == Approx(up).margin(1e-8));
      REQUIRE(ph.decrease_statistic() == Approx(down).margin(1e-8));
      REQUIRE(ph.mean() == Approx(mean).margin(1e-12));
    }
  }
  CHECK(increases > 3);
  CHECK(decreases > 3);

  // Fading: α < 1 shrinks accumulated evidence, so the statistic never exceeds the
  // classic one on the same values.
  PageHinkleyOptions fading = options;
  fading.alpha = 0.99;
  fading.threshold = 1e9;
  options.threshold = 1e9;
  PageHinkley faded(fading), classic(options);
  std::mt19937_64 again(12);
  for (int i = 0; i < 2000; ++i) {
    const double x = noise(again) + (i >= 1000 ? 1.0 : 0.0);
    faded.update(x);
    classic.update(x);
    REQUIRE(faded.increase_statistic() <= classic.increase_statistic() + 1e-12);
  }
  CHECK(faded.increase_statistic() < 0.5 * classic.increase_statistic());
}

TEST_CASE("PageHinkley: detection delay after a step", "[change_detectors][stats]") {
  // N(0,1), +1σ from t = 5000, δ = 0.5, λ = 8 (200 runs): like a CUSUM with k = 0.5,
  // h = 8 (ARL1 16.4) against the running mean. Measured: mean 16.4, 95 % within 32.
  const DelayStats normal = step_delays(PageHinkley(standard_page_hinkley(8)), normal_step, 200,
                                        5000, 2000, ChangeDirection::increase);
  CHECK(normal.missed == 0);
  CHECK(normal.wrong_direction == 0);
  CHECK(normal.within(40) >= 190);
  CHECK(normal.mean() > 13.5);
  CHECK(normal.mean() < 19.5);

  // Defaults (δ = 0.005, λ = 50) on 0/1 errors, p = 0.2 → 0.5 at t = 5000 (200 runs).
  // Measured: mean 135, 95 % within 199, all within 280.
  const DelayStats errors =
      step_delays(PageHinkley(), bernoulli_step, 200, 5000, 2000, ChangeDirection::increase);
  CHECK(errors.missed == 0);
  CHECK(errors.wrong_direction == 0);
  CHECK(errors.within(250) >= 190);
  CHECK(errors.mean() > 100);
  CHECK(errors.mean() < 170);
}

TEST_CASE("PageHinkley: false alarms on a stationary stream", "[change_detectors][stats]") {
  // δ = 0.5, λ = 8 on 10^6 N(0,1) values: the CUSUM k = 0.5, h = 8 rate (≈ 105) plus a
  // little for the running mean restarting after each alarm. Measured (seeds 1..3): 107,
  // 122, 121.
  constexpr int n = 1000000;
  const std::uint64_t normal =
      stationary_normal_detections(PageHinkley(standard_page_hinkley(8)), 1);
  CHECK(normal > 70);
  CHECK(normal < 160);

  // Defaults on Bernoulli(0.2) errors: σ = 0.4, so δ/σ = 0.0125 and λ/σ = 125, an ARL0
  // near 3·10^4 two-sided by Siegmund's approximation. Measured (seeds 1..3): 39, 34, 30.
  PageHinkley ph;
  std::mt19937_64 rng(1);
  std::bernoulli_distribution error(0.2);
  for (int i = 0; i < n; ++i) ph.update(error(rng) ? 1.0 : 0.0);
  CHECK(ph.detections() > 10);
  CHECK(ph.detections() < 70);
}

TEST_CASE("PageHinkley: bad input", "[change_detectors][stats]") {
  PageHinkley ph;
  ph.update(0.5);
  for (double x : {nan_value, inf_value, -inf_value}) CHECK_FALSE(ph.update(x));
  CHECK(ph.rejected() == 3);
  CHECK(ph.count() == 1);
  CHECK(ph.mean() == 0.5);

  PageHinkleyOptions bad;
  bad.threshold = 0;
  CHECK_THROWS_AS(PageHinkley(bad), vigil::invalid_argument);
  CHECK_THROWS_WITH(PageHinkley(bad), Catch::Contains("threshold = 0"));
  bad = PageHinkleyOptions();
  bad.delta = -0.1;
  CHECK_THROWS_WITH(PageHinkley(bad), Catch::Contains("delta = -0.1"));
  bad = PageHinkleyOptions();
  bad.alpha = 1.5;
  CHECK_THROWS_WITH(PageHinkley(bad), Catch::Contains("alpha = 1.5"));
  bad.alpha = 0;
  CHECK_THROWS_WITH(PageHinkley(bad), Catch::Contains("alpha = 0"));
  bad = PageHinkleyOptions();
  bad.watch = static_cast<Watch>(7);
  CHECK_THROWS_WITH(PageHinkley(bad), Catch::Contains("watch = 7"));

  // Only the watched direction is signalled.
  PageHinkleyOptions up_only = standard_page_hinkley(8);
  up_only.watch = Watch::increase;
  const DelayStats ignored = step_delays(
      PageHinkley(up_only),
      [](std::mt19937_64& rng, bool after) { return after ? -5.0 : normal_step(rng, false); }, 5,
      1000, 500, ChangeDirection::increase);
  CHECK(ignored.missed == 5);
}

// ---------------------------------------------------------------------------------------
// ADWIN
// ---------------------------------------------------------------------------------------

namespace {

/// ADWIN over an explicit window, testing every split point (Bifet & Gavaldà's ADWIN0):
/// the buckets of ADWIN2 offer a subset of these splits, so ADWIN2 never cuts earlier.
bool exhaustive_cut(const std::vector<double>& window, const AdwinOptions& options) {
  const auto n = static_cast<double>(window.size());
  if (window.size() < 2 * options.min_subwindow) return false;
  double total = 0;
  for (double x : window) total += x;
  const double mean = total / n;
  double m2 = 0;
  for (double x : window) m2 += (x - mean) * (x - mean);
  const double variance = m2 / n;
  const double log_term = std::log(2 * n / options.delta);
  double sum0 = 0;
  for (std::size_t n0 = 1; n0 < window.size(); ++n0) {
    sum0 += window[n0 - 1];
    const std::size_t n1 = window.size() - n0;
    if (n0 < options.min_subwindow || n1 < options.min_subwindow) continue;
    const double m = 1.0 / (1.0 / static_cast<double>(n0) + 1.0 / static_cast<double>(n1));
    const double epsilon =
        std::sqrt(2 / m * variance * log_term) + 2 * options.value_range / (3 * m) * log_term;
    const double difference =
        (total - sum0) / static_cast<double>(n1) - sum0 / static_cast<double>(n0);
    if (std::fabs(difference) > epsilon) return true;
  }
  return false;
}

}  // namespace

TEST_CASE("Adwin: initial state", "[change_detectors][stats]") {
  const Adwin adwin;
  CHECK(adwin.width() == 0);
  CHECK(std::isnan(adwin.mean()));
  CHECK(std::isnan(adwin.variance()));
  CHECK(adwin.bucket_count() == 0);
  CHECK(adwin.memory_bytes() == 0);
  CHECK(adwin.count() == 0);
  CHECK(adwin.detections() == 0);
  CHECK(adwin.rejected() == 0);
  CHECK(adwin.options().delta == 0.002);
  CHECK(adwin.options().max_buckets == 5);
  CHECK(adwin.options().clock == 32);
}

TEST_CASE("Adwin: one value", "[change_detectors][stats]") {
  AdwinOptions options;
  options.clock = 1;
  Adwin adwin(options);
  CHECK_FALSE(adwin.update(0.25));
  CHECK(adwin.width() == 1);
  CHECK(adwin.mean() == 0.25);
  CHECK(adwin.variance() == 0);
  CHECK(adwin.bucket_count() == 1);
  CHECK(adwin.count() == 1);
}

TEST_CASE("Adwin: window statistics are exact and memory is logarithmic",
          "[change_detectors][stats]") {
  // The window is always the most recent width() values, whatever was cut: its mean and
  // variance must equal those computed directly from them.
  std::mt19937_64 rng(5);
  std::normal_distribution<double> noise(0.0, 1.0);
  AdwinOptions options;
  options.value_range = 6;
  for (std::uint32_t buckets : {2u, 5u, 9u}) {
    options.max_buckets = buckets;
    Adwin adwin(options);
    std::vector<double> seen;
    for (int i = 0; i < 30000; ++i) {
      const double level = (i / 6000) % 2 == 0 ? 0.0 : 3.0;
      seen.push_back(noise(rng) + level);
      adwin.update(seen.back());
      if (i % 997 != 0 && i != 29999) continue;
      const std::size_t w = static_cast<std::size_t>(adwin.width());
      REQUIRE(w >= 1);
      REQUIRE(w <= seen.size());
      double mean = 0, m2 = 0;
      for (std::size_t j = seen.size() - w; j < seen.size(); ++j) mean += seen[j];
      mean /= static_cast<double>(w);
      for (std::size_t j = seen.size() - w; j < seen.size(); ++j) {
        m2 += (seen[j] - mean) * (seen[j] - mean);
      }
      REQUIRE(adwin.mean() == Approx(mean).margin(1e-9));
      REQUIRE(adwin.variance() == Approx(m2 / static_cast<double>(w)).margin(1e-9));
      const double rows = std::floor(std::log2(static_cast<double>(w))) + 1;
      REQUIRE(static_cast<double>(adwin.bucket_count()) <= buckets * rows);
    }
    // Four level shifts of 3σ: each is found, and the window then covers the last level
    // (6000 values) and at most a few dozen older ones left at the cut bucket's boundary.
    CHECK(adwin.detections() >= 4);
    CHECK(adwin.width() >= 5000);
    CHECK(adwin.width() <= 6100);
    CHECK(adwin.mean() == Approx(0.0).margin(0.1));
  }

  // Without change the window keeps everything in about M·log2(W) buckets.
  Adwin steady;
  std::bernoulli_distribution coin(0.2);
  for (int i = 0; i < 100000; ++i) steady.update(coin(rng) ? 1.0 : 0.0);
  CHECK(steady.width() == 100000);
  CHECK(steady.bucket_count() <= 5 * 17);
  CHECK(steady.memory_bytes() <= 17 * 6 * 16 + 17 * 4 + 64);
}

TEST_CASE("Adwin: first cut agrees with the exhaustive split test", "[change_detectors][stats]") {
  // Checking every value (clock 1), ADWIN2 cuts no earlier than ADWIN0 over all splits
  // and at most a bucket's granularity later. Measured (seeds 1..10): ADWIN0 cuts 60 to
  // 123 values after the step, ADWIN2 0 to 24 values later, 104 in total.
  AdwinOptions options;
  options.clock = 1;
  int total_lag = 0;
  for (std::uint64_t seed = 1; seed <= 10; ++seed) {
    std::mt19937_64 rng(seed);
    Adwin adwin(options);
    std::vector<double> window;
    int reference_at = -1, adwin_at = -1;
    for (int t = 0; t < 1500 && adwin_at < 0; ++t) {
      const double x = bernoulli_step(rng, t >= 1000);
      window.push_back(x);
      if (reference_at < 0 && exhaustive_cut(window, options)) reference_at = t;
      if (adwin.update(x)) adwin_at = t;
    }
    REQUIRE(reference_at >= 1000);
    REQUIRE(adwin_at >= reference_at);
    REQUIRE(adwin_at - reference_at <= 64);
    total_lag += adwin_at - reference_at;
  }
  CHECK(total_lag <= 200);
}

TEST_CASE("Adwin: detection delay after a step in an error rate", "[change_detectors][stats]") {
  // 0/1 errors, p = 0.2 → 0.5 at t = 5000, defaults (δ = 0.002, M = 5, clock 32), 200 runs.
  // The bound predicts a cut after about 100 to 160 new values. Measured: mean 137,
  // 95 % within 216, all within 280.
  const DelayStats errors =
      step_delays(Adwin(), bernoulli_step, 200, 5000, 2000, ChangeDirection::increase);
  CHECK(errors.missed == 0);
  CHECK(errors.wrong_direction == 0);
  CHECK(errors.within(300) == 200);
  CHECK(errors.mean() > 100);
  CHECK(errors.mean() < 180);

  // A decrease back to 0.2 is signalled as such.
  const DelayStats back = step_delays(
      Adwin(), [](std::mt19937_64& rng, bool after) { return bernoulli_step(rng, !after); }, 30,
      5000, 2000, ChangeDirection::decrease);
  CHECK(back.missed == 0);
  CHECK(back.wrong_direction == 0);
}

TEST_CASE("Adwin: false alarms on a stationary error stream", "[change_detectors][stats]") {
  // δ = 0.002 bounds the false cuts per check: 20 runs × 10^5 values × 1/32 checks allow
  // at most 125 by the union bound. Measured: 0 (also 0 in 5·10^6 values, and 0 on 3·10^6
  // N(0,1) values with value_range 6).
  constexpr int n = 100000;
  std::uint64_t false_alarms = 0, checks = 0;
  for (std::uint64_t seed = 1; seed <= 20; ++seed) {
    Adwin adwin;
    std::mt19937_64 rng(seed);
    std::bernoulli_distribution error(0.2);
    for (int i = 0; i < n; ++i) adwin.update(error(rng) ? 1.0 : 0.0);
    false_alarms += adwin.detections();
    checks += n / adwin.options().clock;
    CHECK(adwin.width() >= n / 2);
  }
  CHECK(static_cast<double>(false_alarms) <= 0.002 * static_cast<double>(checks));
  CHECK(false_alarms <= 2);
}

TEST_CASE("Adwin: bad input", "[change_detectors][stats]") {
  AdwinOptions every;
  every.clock = 2;
  Adwin adwin(every);
  adwin.update(1.0);
  for (double x : {nan_value, inf_value, -inf_value}) CHECK_FALSE(adwin.update(x));
  CHECK(adwin.rejected() == 3);
  CHECK(adwin.count() == 1);
  CHECK(adwin.width() == 1);
  CHECK(adwin.mean() == 1.0);

  AdwinOptions bad;
  bad.delta = 0;
  CHECK_THROWS_AS(Adwin(bad), vigil::invalid_argument);
  CHECK_THROWS_WITH(Adwin(bad), Catch::Contains("delta = 0"));
  bad.delta = 1;
  CHECK_THROWS_WITH(Adwin(bad), Catch::Contains("delta = 1"));
  bad = AdwinOptions();
  bad.max_buckets = 1;
  CHECK_THROWS_WITH(Adwin(bad), Catch::Contains("max_buckets = 1"));
  bad = AdwinOptions();
  bad.clock = 0;
  CHECK_THROWS_WITH(Adwin(bad), Catch::Contains("clock = 0"));
  bad = AdwinOptions();
  bad.min_subwindow = 0;
  CHECK_THROWS_WITH(Adwin(bad), Catch::Contains("min_subwindow = 0"));
  bad = AdwinOptions();
  bad.value_range = -inf_value;
  CHECK_THROWS_WITH(Adwin(bad), Catch::Contains("value_range = -inf"));

  adwin.reset();
  CHECK(adwin.width() == 0);
  CHECK(adwin.rejected() == 0);
  CHECK(adwin.memory_bytes() == 0);
}

// ArrivalDetector: surges and drops of the arrival rate from interval counts. Its scores on
// real and synthetic series, through the Monitor's alert rule, are in
// tests/monitor/traffic_test.cpp.
#include <vigil/model/arrival_detector.hpp>

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "vigil_test.hpp"

namespace {

// Options for tests that need no seasonal model: 1-s intervals, recent lags only.
vigil::RatePredictorOptions recent_only() {
  vigil::RatePredictorOptions o;
  o.interval = 1;
  o.seasonal_lags = {};
  o.history = 600;
  return o;
}

// Counts of a Poisson-like stream around `level`, deterministic: level ± a few percent.
double steady(double level, std::int64_t t) { return level * (1 + 0.03 * std::sin(0.7 * static_cast<double>(t))); }

std::string thrown_message(const vigil::ArrivalDetectorOptions& o) {
  try {
    vigil::ArrivalDetector d(recent_only(), o);
  } catch (const vigil::invalid_argument& e) {
    return e.what();
  }
  return "(nothing thrown)";
}

}  // namespace

TEST_CASE("ArrivalDetector: an empty detector has judged nothing", "[arrival_detector]") {
  const vigil::ArrivalDetector d(recent_only());
  CHECK(d.predictor().empty());
  CHECK(d.signals() == 0);
  CHECK(d.scale() == 1);
  CHECK(d.options().scale_window == 2016);  // a week of 1-s intervals, capped
  CHECK(d.memory_bytes() > d.predictor().memory_bytes());
}

TEST_CASE("ArrivalDetector: the first counts are learnt, not judged, until a regression predicts", "[arrival_detector]") {
  vigil::ArrivalDetector d(recent_only());
  const vigil::ArrivalVerdict first = d.add(0, 100);
  CHECK_FALSE(first.judged);
  CHECK(first.prediction.model == vigil::RateModel::none);
  CHECK(std::isnan(first.z));
  // The fall-back mean does not model the stream: even a stop is not judged by it.
  const vigil::ArrivalVerdict second = d.add(1, 0);
  CHECK(second.prediction.model == vigil::RateModel::mean);
  CHECK(second.z < -4);
  CHECK_FALSE(second.judged);
  CHECK_FALSE(second.signalled());
}

TEST_CASE("ArrivalDetector: a stop and a burst signal at once, in their direction", "[arrival_detector]") {
  vigil::ArrivalDetector d(recent_only());
  std::int64_t t = 0;
  for (; t < 200; ++t) CHECK_FALSE(d.add(t, steady(300, t)).signalled());
  const vigil::ArrivalVerdict stop = d.add(t++, 0);
  CHECK(stop.judged);
  CHECK(stop.prediction.model == vigil::RateModel::recent);
  CHECK(stop.direction == vigil::stats::ChangeDirection::decrease);
  CHECK(stop.single_interval(d.options()));
  CHECK(stop.drop_statistic == Approx(-stop.z / stop.scale - d.options().slack));
  for (; t < 400; ++t) d.add(t, steady(300, t));
  const vigil::ArrivalVerdict burst = d.add(t++, 25 * 300);
  CHECK(burst.direction == vigil::stats::ChangeDirection::increase);
  CHECK(burst.surge_statistic > d.options().threshold);
  CHECK(d.signals() == 2);
}

TEST_CASE("ArrivalDetector: a moderate sustained drop signals after it has lasted", "[arrival_detector]") {
  vigil::RatePredictorOptions o = recent_only();
  o.min_log_sd = 0.05;  // residuals of 5 % at least, so a 30 % drop is z of about −7
  vigil::ArrivalDetector d(o);
  std::int64_t t = 0;
  for (; t < 300; ++t) d.add(t, steady(1000, t));
  int intervals = 0;
  vigil::ArrivalVerdict v;
  while (intervals < 20 && !(v = d.add(t, 0.7 * steady(1000, t))).signalled()) {
    ++t;
    ++intervals;
    CHECK(v.drop_statistic > 0);
  }
  // Not in one interval (z −7 is below h + k). The recent lags follow the drop by up to
  // the robust filter's 4 deviations an interval, so z shrinks towards −k while S⁻ adds
  // |z| − k: it signals at the eighth interval (measured).
  CHECK(intervals >= 1);
  CHECK(intervals <= 8);
  CHECK(v.direction == vigil::stats::ChangeDirection::decrease);
}

TEST_CASE("ArrivalDetector: the robust scale widens the band on noisy streams", "[arrival_detector]") {
  // A stream that turns ten times noisier than the fitted model admits (no refit after the
  // first): its residuals grow tenfold, and so does their median absolute value, so after
  // a short while its ordinary swings stop signalling.
  vigil::RatePredictorOptions o = recent_only();
  o.outlier_z = 0;
  o.refit_every = 0;
  o.min_log_sd = 0;
  vigil::ArrivalDetector d(o);
  vigil_test::Random random(3);
  std::int64_t t = 0;
  for (; t < 100; ++t) d.add(t, std::exp(7 + 0.02 * random.normal()));
  const double quiet_scale = d.scale();
  std::uint64_t late_signals = 0;
  for (; t < 600; ++t) {
    const vigil::ArrivalVerdict v = d.add(t, std::exp(7 + 0.2 * random.normal()));
    if (t >= 300) late_signals += v.signalled();
  }
  CHECK(quiet_scale < 1.5);
  CHECK(d.scale() > 5);
  CHECK(late_signals == 0);
}

TEST_CASE("ArrivalDetector: unknown and bad counts are not judged", "[arrival_detector]") {
  vigil::ArrivalDetector d(recent_only());
  for (std::int64_t t = 0; t < 100; ++t) d.add(t, steady(300, t));
  d.add_unknown(100);
  CHECK(d.predictor().unknown() == 1);
  const vigil::ArrivalVerdict bad = d.add(101, std::numeric_limits<double>::quiet_NaN());
  CHECK_FALSE(bad.judged);
  CHECK(d.predictor().bad() == 1);
  // After a gap the interval is learnt, not judged: the zeros between are unseen by its
  // prediction.
  const vigil::ArrivalVerdict after_gap = d.add(110, 300);
  CHECK_FALSE(after_gap.judged);
  CHECK(d.add(111, 300).judged);
}

TEST_CASE("ArrivalDetector: bad options throw naming the value", "[arrival_detector]") {
  vigil::ArrivalDetectorOptions o;
  o.slack = -1;
  CHECK(thrown_message(o).find("slack -1") != std::string::npos);
  o = {};
  o.threshold = 0;
  CHECK(thrown_message(o).find("threshold 0") != std::string::npos);
  o = {};
  o.threshold = std::numeric_limits<double>::infinity();
  CHECK(thrown_message(o).find("threshold inf") != std::string::npos);
  o = {};
  o.min_scale_residuals = 0;
  CHECK(thrown_message(o).find("min_scale_residuals") != std::string::npos);
  CHECK(thrown_message({}) == "(nothing thrown)");
}

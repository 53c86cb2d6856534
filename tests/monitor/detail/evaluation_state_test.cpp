// The state the evaluation side of a Monitor learns, saved and loaded (save()/load()): the
// arrival detector with its rate predictor and CUSUM, the traffic, quality, conversions and
// attribution families, the alert tracker and the alert log. A state loaded into an object
// constructed alike saves the same bytes again and continues exactly as the object it was
// saved from; every truncation, a count beyond the construction and an enum out of range are
// refused with vigil::format_error.
#include <vigil/io/binary.hpp>
#include <vigil/model/arrival_detector.hpp>
#include <vigil/model/rate_predictor.hpp>
#include <vigil/monitor/attribution.hpp>
#include <vigil/monitor/conversions.hpp>
#include <vigil/monitor/detail/alert_log.hpp>
#include <vigil/monitor/detail/alert_tracker.hpp>
#include <vigil/monitor/detail/state_codec.hpp>
#include <vigil/monitor/detail/tag_dictionary.hpp>
#include <vigil/monitor/quality.hpp>
#include <vigil/monitor/traffic.hpp>
#include <vigil/stats/change_detectors.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "vigil_test.hpp"

namespace evaluation_state_test {  // named: the files of a tests/ folder may compile as one unit
namespace {

using Bytes = std::vector<std::uint8_t>;
using vigil::detail::IntervalClock;
constexpr double start_time = 1767225600;  // 2026-01-01T00:00:00Z
const double nan = std::numeric_limits<double>::quiet_NaN();

template <class T>
Bytes saved(const T& object) {
  Bytes bytes;
  vigil::io::Writer w(bytes);
  object.save(w);
  return bytes;
}

// Loads `bytes` into `object`; every byte must be read.
template <class T>
void load(T& object, const Bytes& bytes) {
  vigil::io::Reader r(bytes.data(), bytes.size(), "evaluation state");
  object.load(r);
  r.finish();
}

// Every prefix of `bytes` (every stride-th one when there are more than 1500) is refused by a
// fresh object from make().
template <class Make>
void check_truncations(const Bytes& bytes, Make&& make) {
  const std::size_t stride = std::max<std::size_t>(1, bytes.size() / 1500);
  std::size_t refused = 0;
  for (std::size_t n = 0; n < bytes.size(); n += stride) {
    auto fresh = make();
    try {
      load(*fresh, vigil_test::truncated(bytes, n));
    } catch (const vigil::format_error&) {
      ++refused;
    }
  }
  CHECK(refused == (bytes.size() + stride - 1) / stride);
}

// The message load() throws, or "(nothing thrown)".
template <class T>
std::string refusal(T& object, const Bytes& bytes) {
  try {
    load(object, bytes);
  } catch (const vigil::format_error& e) {
    return e.what();
  }
  return "(nothing thrown)";
}

std::uint64_t bits(double v) {
  std::uint64_t b;
  std::memcpy(&b, &v, sizeof b);
  return b;
}

// Text of figures for exact comparison: doubles as their bit patterns (NaN included).
class Text {
 public:
  Text& operator<<(double v) {
    out_ << std::hex << bits(v) << std::dec << ' ';
    return *this;
  }
  Text& operator<<(const std::string& s) {
    out_ << '[' << s << "] ";
    return *this;
  }
  Text& operator<<(const char* s) { return *this << std::string(s); }
  Text& operator<<(std::uint64_t v) {
    out_ << v << ' ';
    return *this;
  }
  Text& operator<<(std::int64_t v) {
    out_ << v << ' ';
    return *this;
  }
  Text& operator<<(int v) { return *this << static_cast<std::int64_t>(v); }
  Text& operator<<(bool v) { return *this << static_cast<std::int64_t>(v); }
  std::string str() const { return out_.str(); }

 private:
  std::ostringstream out_;
};

std::string text(const vigil::RatePrediction& p) {
  Text t;
  t << static_cast<std::int64_t>(p.interval_index) << static_cast<std::uint64_t>(p.steps_ahead) << p.rate << p.log_rate
    << p.log_sd << vigil::to_string(p.model) << static_cast<std::uint64_t>(p.fitted_on);
  return t.str();
}

std::string text(const vigil::ArrivalVerdict& v) {
  Text t;
  t << text(v.prediction) << v.count << v.z << v.scale << v.surge_statistic << v.drop_statistic << v.judged
    << static_cast<int>(v.direction);
  return t.str();
}

std::string text(const vigil::Evidence& e) {
  Text t;
  t << vigil::to_string(e.kind) << vigil::to_string(e.subject) << vigil::to_string(e.severity) << e.statistic << e.p_value
    << e.message << e.immediate;
  return t.str();
}

std::string text(const vigil::Alert& a) {
  Text t;
  t << a.time << vigil::to_string(a.kind) << vigil::to_string(a.subject) << static_cast<int>(a.subject.family)
    << static_cast<std::uint64_t>(a.subject.index) << vigil::to_string(a.severity) << a.statistic << a.p_value << a.message
    << vigil::to_string(a.transition) << a.sequence;
  return t.str();
}

std::string text(const vigil::QualityMetric& m);
std::string text(const vigil::QualityInterval& q);
std::string text(const vigil::QualityReport& q);
std::string text(const vigil::ConversionArm& a);
std::string text(const vigil::AttributionReport& a);
std::string text(const vigil::ArrivalVerdict& v);

template <class T>
std::string text(const std::vector<T>& items) {
  std::string out;
  for (const T& item : items) out += text(item) + "\n";
  return out;
}

// What a predictor tells of itself beyond its predictions.
std::string text(const vigil::RatePredictor& p) {
  Text t;
  t << vigil::to_string(p.model()) << p.residual_sd() << static_cast<std::uint64_t>(p.fitted_on())
    << static_cast<std::uint64_t>(p.size()) << static_cast<std::uint64_t>(p.unknown())
    << static_cast<std::uint64_t>(p.outliers()) << p.late() << p.bad();
  for (double c : p.coefficients()) t << c;
  if (!p.empty())
    for (std::int64_t i = p.oldest(); i <= p.newest(); ++i) t << p.count_at(i) << p.outlier_at(i);
  return t.str();
}

// ---------------------------------------------------------------------------------------
// Rate predictor, arrival detector, CUSUM.

// 1-s intervals with a 24-interval "day": recent lags 1–2, seasonal lags 24–25, a history
// of 200 intervals refitted every 10.
vigil::RatePredictorOptions daily_options() {
  vigil::RatePredictorOptions o;
  o.interval = 1;
  o.recent_lags = 2;
  o.seasonal_lags = {24};
  o.seasonal_window = 2;
  o.history = 200;
  o.refit_every = 10;
  return o;
}

vigil::ArrivalDetectorOptions small_window() {
  vigil::ArrivalDetectorOptions o;
  o.scale_window = 40;
  o.min_scale_residuals = 10;
  return o;
}

// The count of interval t: a daily cycle with noise drawn from `random`, a stop at 130–132
// and a burst at 340.
double daily_count(std::int64_t t, vigil_test::Random& random) {
  if (t >= 130 && t < 133) return 0;
  const double level = 200 * (1.3 + std::sin(2 * 3.14159265358979 * static_cast<double>(t) / 24));
  return std::round(level * (1 + 0.05 * random.normal()) * (t == 340 ? 20 : 1));
}

// One interval of the script both copies follow: some intervals are skipped (a gap, read as
// zero arrivals), declared unknown, preceded by a bad count, or followed by a late addition
// to an interval already held. `add` judges (or learns) a count, `unknown` declares one.
template <class Add, class Unknown>
void script(std::int64_t t, vigil_test::Random& random, Add&& add, Unknown&& unknown) {
  const double count = daily_count(t, random);
  if (t % 61 == 7) return;
  if (t % 97 == 50) {
    unknown(t);
    return;
  }
  if (t % 89 == 3) add(t, -1.0);
  add(t, count);
  if (t % 53 == 11) add(t - 3, 5.0);
}

}  // namespace

TEST_CASE("RatePredictor: a loaded state saves the same bytes and predicts as the saved one", "[evaluation_state]") {
  for (const std::int64_t stop : {0, 1, 40, 150, 260}) {
    CAPTURE(stop);
    vigil::RatePredictor original(daily_options());
    vigil_test::Random random(3);
    const auto add = [&](vigil::RatePredictor& p) {
      return [&p](std::int64_t t, double n) { p.add(t, n); };
    };
    const auto unknown = [](vigil::RatePredictor& p) {
      return [&p](std::int64_t t) { p.add_unknown(t); };
    };
    for (std::int64_t t = 0; t < stop; ++t) script(t, random, add(original), unknown(original));
    const Bytes bytes = saved(original);
    vigil::RatePredictor restored(daily_options());
    load(restored, bytes);
    CHECK(saved(restored) == bytes);
    REQUIRE(text(restored) == text(original));
    vigil_test::Random again = random;
    for (std::int64_t t = stop; t < stop + 60; ++t) {
      if (!original.empty()) {
        for (std::int64_t ahead = 1; ahead <= 3; ++ahead)
          REQUIRE(text(restored.predict(original.newest() + ahead)) == text(original.predict(original.newest() + ahead)));
      }
      script(t, random, add(original), unknown(original));
      script(t, again, add(restored), unknown(restored));
      REQUIRE(text(restored) == text(original));
    }
    CHECK(saved(restored) == saved(original));
  }
}

TEST_CASE("RatePredictor: truncated or inconsistent states are refused, leaving it empty", "[evaluation_state][bad_input]") {
  vigil::RatePredictor original(daily_options());
  vigil_test::Random random(3);
  for (std::int64_t t = 0; t < 260; ++t)
    script(t, random, [&](std::int64_t i, double n) { original.add(i, n); }, [&](std::int64_t i) { original.add_unknown(i); });
  REQUIRE(original.model() == vigil::RateModel::seasonal);
  REQUIRE(original.outliers() > 0);
  const Bytes bytes = saved(original);
  check_truncations(bytes, [] { return std::make_unique<vigil::RatePredictor>(daily_options()); });

  vigil::RatePredictor p(daily_options());
  // More intervals than the history holds.
  Bytes too_many;
  vigil::io::Writer(too_many).varint(201);
  CHECK(refusal(p, too_many).find("more than the history 200") != std::string::npos);
  // An empty state: size 0, late 0, bad 0, then the model byte and the coefficients' count.
  const Bytes empty = saved(vigil::RatePredictor(daily_options()));
  REQUIRE(empty[3] == 0);
  Bytes model = empty;
  model[3] = 4;
  CHECK(refusal(p, model).find("model 4 is out of range") != std::string::npos);
  Bytes coefficients = empty;
  coefficients[4] = 6;
  CHECK(refusal(p, coefficients).find("6 coefficients, 5 expected") != std::string::npos);
  // One interval: its flags follow the newest index; 8 is no flag, an outlier cannot be unknown.
  vigil::RatePredictor one(daily_options());
  one.add(5, 10);
  const Bytes single = saved(one);
  for (const std::uint8_t flags : {std::uint8_t{8}, std::uint8_t{3}, std::uint8_t{1}}) {
    Bytes bad = single;
    bad[9] = flags;
    CHECK(refusal(p, bad).find("interval flags") != std::string::npos);
  }
  // A negative log count.
  Bytes negative = single;
  const double minus = -1;
  std::memcpy(&negative[10], &minus, 8);
  CHECK(refusal(p, negative).find("log count -1 is not finite") != std::string::npos);
  // A state refused midway leaves the predictor empty.
  load(p, bytes);
  CHECK_THROWS_AS(load(p, vigil_test::truncated(bytes, bytes.size() - 1)), vigil::format_error);
  CHECK(p.empty());
  CHECK(p.model() == vigil::RateModel::none);
  CHECK(saved(p) == empty);
}

TEST_CASE("ArrivalDetector: a loaded state gives the saved one's verdicts", "[evaluation_state]") {
  for (const std::int64_t stop : {0, 35, 150, 300}) {
    CAPTURE(stop);
    vigil::ArrivalDetector original(daily_options(), small_window());
    vigil_test::Random random(5);
    std::vector<vigil::ArrivalVerdict> verdicts;
    const auto add = [&](vigil::ArrivalDetector& d, std::vector<vigil::ArrivalVerdict>& out) {
      return [&d, &out](std::int64_t t, double n) { out.push_back(d.add(t, n)); };
    };
    const auto unknown = [](vigil::ArrivalDetector& d) {
      return [&d](std::int64_t t) { d.add_unknown(t); };
    };
    for (std::int64_t t = 0; t < stop; ++t) script(t, random, add(original, verdicts), unknown(original));
    const Bytes bytes = saved(original);
    vigil::ArrivalDetector restored(daily_options(), small_window());
    load(restored, bytes);
    CHECK(saved(restored) == bytes);
    CHECK(restored.scale() == original.scale());
    CHECK(restored.signals() == original.signals());
    vigil_test::Random again = random;
    std::vector<vigil::ArrivalVerdict> expected, found;
    for (std::int64_t t = stop; t < stop + 60; ++t) {
      script(t, random, add(original, expected), unknown(original));
      script(t, again, add(restored, found), unknown(restored));
    }
    CHECK(text(found) == text(expected));
    CHECK(restored.signals() == original.signals());
    CHECK(saved(restored) == saved(original));
  }
}

TEST_CASE("ArrivalDetector: the verdicts after a restore include surges and drops", "[evaluation_state]") {
  vigil::ArrivalDetector original(daily_options(), small_window());
  vigil_test::Random random(5);
  std::vector<vigil::ArrivalVerdict> verdicts;
  for (std::int64_t t = 0; t < 120; ++t)
    script(t, random, [&](std::int64_t i, double n) { verdicts.push_back(original.add(i, n)); },
           [&](std::int64_t i) { original.add_unknown(i); });
  vigil::ArrivalDetector restored(daily_options(), small_window());
  load(restored, saved(original));
  vigil_test::Random again = random;
  std::vector<vigil::ArrivalVerdict> expected, found;
  for (std::int64_t t = 120; t < 360; ++t) {
    script(t, random, [&](std::int64_t i, double n) { expected.push_back(original.add(i, n)); },
           [&](std::int64_t i) { original.add_unknown(i); });
    script(t, again, [&](std::int64_t i, double n) { found.push_back(restored.add(i, n)); },
           [&](std::int64_t i) { restored.add_unknown(i); });
  }
  // The stop at 130 and the burst at 340 both signal, after the restore.
  const auto signalled = [](const std::vector<vigil::ArrivalVerdict>& v, vigil::stats::ChangeDirection d) {
    return std::count_if(v.begin(), v.end(), [d](const vigil::ArrivalVerdict& x) { return x.direction == d; });
  };
  CHECK(signalled(expected, vigil::stats::ChangeDirection::decrease) > 0);
  CHECK(signalled(expected, vigil::stats::ChangeDirection::increase) > 0);
  CHECK(text(found) == text(expected));
}

TEST_CASE("ArrivalDetector: truncated states and residuals beyond the window are refused", "[evaluation_state][bad_input]") {
  vigil::ArrivalDetector original(daily_options(), small_window());
  vigil_test::Random random(5);
  for (std::int64_t t = 0; t < 300; ++t)
    script(t, random, [&](std::int64_t i, double n) { original.add(i, n); }, [&](std::int64_t i) { original.add_unknown(i); });
  const Bytes bytes = saved(original);
  check_truncations(bytes, [] { return std::make_unique<vigil::ArrivalDetector>(daily_options(), small_window()); });

  const vigil::ArrivalDetector fresh(daily_options(), small_window());
  const Bytes empty = saved(fresh);
  REQUIRE(empty.back() == 0);  // no residual held
  Bytes too_many(empty.begin(), empty.end() - 1);
  vigil::io::Writer(too_many).varint(41);
  vigil::ArrivalDetector d(daily_options(), small_window());
  CHECK(refusal(d, too_many).find("41 residuals, more than the scale window 40") != std::string::npos);
  Bytes negative(empty.begin(), empty.end() - 1);
  vigil::io::Writer w(negative);
  w.varint(1);
  w.f64(-0.5);
  CHECK(refusal(d, negative).find("residual -0.5") != std::string::npos);
  // The CUSUM follows the predictor: its warm-up flag is a 0 or a 1.
  const std::size_t cusum_at = saved(vigil::RatePredictor(daily_options())).size();
  Bytes flag = empty;
  flag[cusum_at] = 2;
  CHECK(refusal(d, flag).find("warm-up flag is 2") != std::string::npos);
  // Refused midway, the detector is as constructed.
  load(d, bytes);
  CHECK_THROWS_AS(load(d, vigil_test::truncated(bytes, bytes.size() - 3)), vigil::format_error);
  CHECK(saved(d) == empty);
}

TEST_CASE("Cusum: a loaded state, warming up or monitoring, continues as the saved one", "[evaluation_state]") {
  for (const int stop : {0, 40, 150}) {
    CAPTURE(stop);
    vigil::stats::CusumOptions options;  // μ0 and σ estimated from 100 values
    vigil::stats::Cusum original(options);
    vigil_test::Random random(9);
    const auto value = [](vigil_test::Random& r, int i) { return (i > 300 ? 1.5 : 0.0) + r.normal(); };
    for (int i = 0; i < stop; ++i) original.update(value(random, i));
    original.update(nan);
    vigil::stats::Cusum restored(options);
    load(restored, saved(original));
    CHECK(saved(restored) == saved(original));
    vigil_test::Random again = random;
    for (int i = stop; i < 600; ++i) {
      const vigil::stats::Detection a = original.update(value(random, i));
      const vigil::stats::Detection b = restored.update(value(again, i));
      REQUIRE(a == b);
      REQUIRE(bits(restored.increase_statistic()) == bits(original.increase_statistic()));
      REQUIRE(bits(restored.decrease_statistic()) == bits(original.decrease_statistic()));
    }
    CHECK(original.detections() > 0);
    CHECK(restored.detections() == original.detections());
    CHECK(restored.rejected() == 1);
    CHECK(saved(restored) == saved(original));
  }
}

TEST_CASE("Cusum: states its options cannot reach are refused", "[evaluation_state][bad_input]") {
  vigil::stats::CusumOptions given;
  given.target_mean = 0;
  given.sigma = 1;
  given.threshold = 5;
  vigil::stats::Cusum warm;  // estimates μ0 and σ
  const Bytes warming = saved(warm);
  vigil::stats::Cusum c(given);
  CHECK(refusal(c, warming).find("warming up although") != std::string::npos);
  check_truncations(saved(c), [&] { return std::make_unique<vigil::stats::Cusum>(given); });
  // S⁺ beyond the threshold it would have signalled at (bytes: flag, μ0, σ, S⁺, S⁻, ...).
  Bytes beyond = saved(c);
  const double six = 6;
  std::memcpy(&beyond[17], &six, 8);
  CHECK(refusal(c, beyond).find("beyond the threshold") != std::string::npos);
  Bytes sigma = saved(c);
  const double two = 2;
  std::memcpy(&sigma[9], &two, 8);
  CHECK(refusal(c, sigma).find("sigma 2 is not the one given") != std::string::npos);
}

// ---------------------------------------------------------------------------------------
// Alert tracker and log.

namespace {

vigil::Subject subject(vigil::Family family, std::uint32_t index, const std::string& name, bool cohort = false,
                       bool horizon = false) {
  vigil::Cohort c;
  if (cohort) c = vigil::Cohort{0, 1, "region", "eu"};
  return vigil::Subject{family, index, name, c, horizon};
}

// The evidence of interval i: a few subjects seen now and then, some at severity alert, a
// traffic drop that opens at once.
std::vector<vigil::Evidence> evidence_at(int i, vigil_test::Random& random) {
  const vigil::Subject subjects[] = {subject(vigil::Family::features, 0, "x"), subject(vigil::Family::features, 1, "y", true),
                                     subject(vigil::Family::outputs, 0, "score", false, true),
                                     subject(vigil::Family::quality, 2, "recall")};
  const vigil::AlertKind kinds[] = {vigil::AlertKind::feature_shift, vigil::AlertKind::feature_drift,
                                    vigil::AlertKind::score_drift, vigil::AlertKind::quality};
  std::vector<vigil::Evidence> out;
  const double busy = (i / 20) % 2 == 0 ? 0.7 : 0.1;  // spells of evidence and of calm
  for (std::size_t s = 0; s < 4; ++s) {
    if (random.uniform() >= busy) continue;
    const vigil::Severity severity = random.uniform() < 0.3 ? vigil::Severity::alert : vigil::Severity::warn;
    out.push_back(vigil::Evidence{kinds[s], subjects[s], severity, random.normal(), random.uniform(),
                                  "seen at " + std::to_string(i)});
  }
  if (i % 45 == 30) {
    vigil::Evidence drop{vigil::AlertKind::traffic, subject(vigil::Family::traffic, 0, "arrivals"), vigil::Severity::alert,
                         -20, 1e-9, "drop at " + std::to_string(i)};
    drop.immediate = true;
    out.push_back(drop);
  }
  return out;
}

// Interval i of both trackers' script: its evidence, and a silence judged between intervals.
std::string step(vigil::detail::AlertTracker& tracker, int i, vigil_test::Random& random) {
  const double time = start_time + 60.0 * i;
  std::string out = text(tracker.update(time, evidence_at(i, random)));
  if (i % 33 == 20) {
    vigil::Evidence silence{vigil::AlertKind::traffic, subject(vigil::Family::traffic, 0, "arrivals"), vigil::Severity::warn,
                            8, 3e-4, "silence"};
    silence.immediate = true;
    out += text(tracker.raise_now(time + 30, silence));
  }
  return out + "open:\n" + text(tracker.open_alerts(time));
}

}  // namespace

TEST_CASE("AlertTracker: a loaded state makes the saved one's transitions, numbered alike", "[evaluation_state]") {
  vigil::AlertPolicy policy;
  policy.cool_down = 600;  // ten intervals
  for (const int stop : {0, 37, 100}) {
    CAPTURE(stop);
    vigil::detail::AlertTracker original(policy);
    vigil_test::Random random(13);
    for (int i = 0; i < stop; ++i) step(original, i, random);
    const Bytes bytes = saved(original);
    vigil::detail::AlertTracker restored(policy);
    load(restored, bytes);
    CHECK(saved(restored) == bytes);
    const double now = start_time + 60.0 * stop;
    CHECK(text(restored.open_alerts(now)) == text(original.open_alerts(now)));
    vigil_test::Random again = random;
    std::string expected, found;
    for (int i = stop; i < stop + 150; ++i) {
      expected += step(original, i, random);
      found += step(restored, i, again);
    }
    CHECK(found == expected);
    CHECK(expected.find("[resolved]") != std::string::npos);
    CHECK(expected.find("[escalated]") != std::string::npos);
    CHECK(saved(restored) == saved(original));
  }
}

TEST_CASE("AlertTracker: truncated states, histories beyond the window and unknown enums are refused",
          "[evaluation_state][bad_input]") {
  vigil::AlertPolicy policy;
  vigil::detail::AlertTracker original(policy);
  vigil_test::Random random(13);
  for (int i = 0; i < 60; ++i) step(original, i, random);
  const Bytes bytes = saved(original);
  check_truncations(bytes, [&] { return std::make_unique<vigil::detail::AlertTracker>(policy); });

  // A history of 5 intervals read by a tracker whose window is 3.
  vigil::AlertPolicy wide = policy;
  wide.window = 5;
  vigil::detail::AlertTracker five(wide);
  for (int i = 0; i < 5; ++i)
    five.update(start_time + 60.0 * i,
                {vigil::Evidence{vigil::AlertKind::feature_shift, subject(vigil::Family::features, 0, "x"), vigil::Severity::warn,
                                 1, 0.001, "x"}});
  vigil::detail::AlertTracker three(policy);
  CHECK(refusal(three, saved(five)).find("longer than the window") != std::string::npos);

  // One state of feature "x": sequence, count, then the kind and the subject's family.
  vigil::detail::AlertTracker one(policy);
  one.update(start_time, {vigil::Evidence{vigil::AlertKind::feature_shift, subject(vigil::Family::features, 0, "x"),
                                          vigil::Severity::warn, 1, 0.001, "x"}});
  const Bytes single = saved(one);
  REQUIRE(single[1] == 1);
  Bytes kind = single;
  kind[2] = 13;
  CHECK(refusal(three, kind).find("alert kind 13 is out of range") != std::string::npos);
  Bytes family = single;
  family[3] = 8;
  CHECK(refusal(three, family).find("subject family 8 is out of range") != std::string::npos);
  // A severity neither warn nor alert, written by evidence that carried one.
  vigil::detail::AlertTracker odd(policy);
  odd.update(start_time, {vigil::Evidence{vigil::AlertKind::feature_shift, subject(vigil::Family::features, 0, "x"),
                                          static_cast<vigil::Severity>(3), 1, 0.001, "x"}});
  CHECK(refusal(three, saved(odd)).find("evidence severity 3 is neither warn nor alert") != std::string::npos);
  // Two states in the wrong order: the count says 2, the same state is written twice.
  Bytes twice(single.begin(), single.end());
  twice[1] = 2;
  twice.insert(twice.end(), single.begin() + 2, single.end());
  CHECK(refusal(three, twice).find("out of order or repeated") != std::string::npos);
  // Refused midway, the tracker keeps what it had.
  load(three, bytes);
  CHECK_THROWS_AS(load(three, vigil_test::truncated(single, single.size() - 1)), vigil::format_error);
  CHECK(saved(three) == bytes);
}

namespace {
vigil::Alert numbered(std::uint64_t sequence) {
  vigil::Alert a;
  a.time = start_time + 60.0 * static_cast<double>(sequence);
  a.kind = vigil::AlertKind::latency;
  a.subject = subject(vigil::Family::latency, 0, "requests");
  a.severity = sequence % 2 ? vigil::Severity::warn : vigil::Severity::alert;
  a.statistic = 1.5 * static_cast<double>(sequence);
  a.message = "transition " + std::to_string(sequence);
  a.transition = static_cast<vigil::Alert::Transition>(sequence % 3);
  a.sequence = sequence;
  return a;
}
}  // namespace

TEST_CASE("AlertLog: a loaded log keeps the saved entries in order, within its capacity", "[evaluation_state]") {
  for (const std::uint64_t added : {0, 3, 9}) {
    CAPTURE(added);
    vigil::detail::AlertLog original(5);
    for (std::uint64_t s = 1; s <= added; ++s) original.add(numbered(s));
    const Bytes bytes = saved(original);
    vigil::detail::AlertLog restored(5);
    load(restored, bytes);
    CHECK(saved(restored) == bytes);
    CHECK(text(restored.entries()) == text(original.entries()));
    for (std::uint64_t s = added + 1; s <= added + 4; ++s) {
      original.add(numbered(s));
      restored.add(numbered(s));
    }
    CHECK(text(restored.entries()) == text(original.entries()));
  }
}

TEST_CASE("AlertLog: more entries than the capacity, numbers out of order and unknown enums are refused",
          "[evaluation_state][bad_input]") {
  vigil::detail::AlertLog five(5);
  for (std::uint64_t s = 1; s <= 5; ++s) five.add(numbered(s));
  const Bytes bytes = saved(five);
  check_truncations(bytes, [] { return std::make_unique<vigil::detail::AlertLog>(5); });
  vigil::detail::AlertLog three(3);
  CHECK(refusal(three, bytes).find("5 transitions, the capacity is 3") != std::string::npos);
  vigil::detail::AlertLog none(0);
  CHECK(refusal(none, bytes).find("the capacity is 0") != std::string::npos);
  vigil::detail::AlertLog backwards(5);
  backwards.add(numbered(4));
  backwards.add(numbered(2));
  vigil::detail::AlertLog log(5);
  CHECK(refusal(log, saved(backwards)).find("transition 2 does not follow") != std::string::npos);
  vigil::detail::AlertLog zero(5);
  zero.add(numbered(0));
  CHECK(refusal(log, saved(zero)).find("transition 0 does not follow") != std::string::npos);
  vigil::detail::AlertLog odd(5);
  vigil::Alert a = numbered(1);
  a.transition = static_cast<vigil::Alert::Transition>(3);
  odd.add(a);
  CHECK(refusal(log, saved(odd)).find("alert transition 3 is out of range") != std::string::npos);
  // Refused midway, the log keeps what it had.
  load(log, bytes);
  CHECK_THROWS_AS(load(log, saved(backwards)), vigil::format_error);
  CHECK(saved(log) == bytes);
}

// ---------------------------------------------------------------------------------------
// The families, each analysing the intervals of a small world through the evaluation's
// interfaces (History, EvaluationContext, IntakeAccess, LabelIntake), as the Evaluator does.

namespace {

using vigil::detail::EvaluationContext;
using vigil::detail::EvaluationWindow;
using vigil::detail::History;
using vigil::detail::Merged;
using vigil::detail::SlotContext;

// The spans of the evaluation of interval k (those the families read).
EvaluationWindow window(std::int64_t k, const vigil::MonitorOptions& o) {
  const IntervalClock clock{o.interval};
  EvaluationWindow w;
  w.interval = k;
  w.recent_end = clock.start(k + 1);
  w.recent_start = clock.start(k + 1 - static_cast<std::int64_t>(o.recent_intervals));
  w.background_start = w.recent_start - o.background;
  w.horizon_start = w.recent_end - o.long_horizon;
  w.latency_start = w.recent_start;
  w.latency_background_start = w.background_start;
  return w;
}

// The intake's live figures: arrivals per interval, and the label path.
class FakeIntake : public vigil::detail::IntakeAccess {
 public:
  std::map<std::int64_t, double> arrivals;  // an interval missing here is no longer held
  double last = nan;
  vigil::detail::LabelIntake* label_intake = nullptr;

  bool explicit_arrivals() const override { return true; }
  std::int64_t in_flight() const override { return 3; }
  double arrivals_in(std::int64_t k) const override {
    const auto it = arrivals.find(k);
    return it == arrivals.end() ? nan : it->second;
  }
  double last_arrival() const override { return last; }
  void set_slow_threshold(double) override {}
  double slow_threshold() const override { return nan; }
  vigil::detail::LabelIntake* labels() override { return label_intake; }
  vigil::LogHistogram latency_since_start() const override { return vigil::LogHistogram(); }
};

// One slot's retained intervals of a family's state.
template <class State>
struct Retained {
  double interval = 60;
  State empty;
  std::map<std::int64_t, Merged<State>> intervals;

  Merged<State>& at(std::int64_t k) { return intervals.emplace(k, Merged<State>{0, 0, empty}).first->second; }
  template <class Fn>
  void each_within(double start, double end, Fn&& fn) const {
    for (const auto& [k, m] : intervals) {
      const double t = static_cast<double>(k) * interval;
      if (t >= start && t < end) fn(m);
    }
  }
  History<State> view() const {
    History<State> h;
    h.merged = [this](double start, double end) {
      Merged<State> out{0, 0, empty};
      each_within(start, end, [&](const Merged<State>& m) {
        out.requests += m.requests;
        out.arrivals += m.arrivals;
        out.state.merge(m.state);
      });
      return out;
    };
    h.each = [this](double start, double end, const std::function<void(std::uint64_t, const State&)>& fn) {
      each_within(start, end, [&](const Merged<State>& m) { fn(m.requests, m.state); });
    };
    h.requests = [this](double start, double end) {
      std::uint64_t n = 0;
      each_within(start, end, [&](const Merged<State>& m) { n += m.requests; });
      return n;
    };
    return h;
  }
};

std::string text(const vigil::QualityMetric& m) {
  Text t;
  t << m.name << vigil::to_string(m.status) << m.recent << m.baseline << m.p_value << m.count;
  return t.str();
}

std::string text(const vigil::QualityInterval& q) {
  Text t;
  t << q.start << q.end << q.identified << q.labelled;
  return t.str();
}

std::string text(const vigil::QualityReport& q) {
  Text t;
  t << q.output << vigil::to_string(q.status) << q.window_start << q.window_end << q.labelled;
  for (std::uint64_t n : {q.labels, q.joined, q.pending, q.evicted, q.expired, q.unknown_ids, q.duplicate_labels,
                          q.duplicate_ids, q.late_labels, q.bad_labels, q.bad_label_times, q.labels_before_request,
                          q.labels_beyond_window, q.labels_applied_early, q.attributed_labels, q.attributions_wrong_count,
                          q.attribution_bad_values, q.attributions_applied_early})
    t << n;
  return t.str() + "\n" + text(q.metrics) + text(q.estimated) + text(q.intervals);
}

std::string text(const vigil::ConversionArm& a) {
  Text t;
  t << a.arm << a.impressions << a.conversions << a.naive_rate << a.impressions_at_delay << a.conversions_at_delay
    << a.rate_at_delay << a.low << a.high;
  return t.str();
}

std::string text(const vigil::ConversionReport& c) {
  Text t;
  t << c.arm_tag << c.share << c.delay << c.horizon << c.eventual_rate << c.confidence << c.best_arm << c.naive_best_arm;
  for (std::uint64_t n : {c.impressions_without_arm, c.received, c.joined, c.unknown_ids, c.duplicates, c.too_late,
                          c.before_impression, c.bad_times, c.beyond_window, c.applied_early})
    t << n;
  return t.str() + "\n" + text(c.arms);
}

std::string text(const vigil::AttributionReport& a) {
  Text t;
  t << a.feature << vigil::to_string(a.status) << a.recent_count << a.recent_mean << a.background_count
    << a.background_mean << a.reference_count << a.reference_mean << a.p_value << a.reference_p_value << a.effect
    << a.reference_effect << a.cusum;
  return t.str();
}

std::string text(const vigil::TrafficReport& r) {
  Text t;
  t << r.arrivals_source << r.recent_arrivals << r.recent_completions << r.predicted_arrivals << r.arrival_z
    << r.arrival_p_value << r.rate_model << r.rate_history << r.last_arrival << r.silence << r.expected_in_silence
    << r.silence_p_value << r.in_flight << r.completion_ratio << r.background_completion_ratio << r.completion_p_value
    << r.error_rate << r.background_error_rate << r.error_p_value << r.timeout_rate << r.background_timeout_rate
    << r.timeout_p_value;
  return t.str();
}

// ---- traffic

// 1-min intervals whose "day" is 24 of them; the rate predictor of daily_options() at that scale.
vigil::MonitorOptions traffic_options() {
  vigil::MonitorOptions o;
  o.interval = 60;
  o.background = 1800;
  o.rate.recent_lags = 2;
  o.rate.seasonal_lags = {1440};
  o.rate.seasonal_window = 2;
  o.rate.history = 200;
  o.rate.refit_every = 10;
  return o;
}

const std::int64_t first_interval = IntervalClock{60}.of(start_time);

// A traffic family fed the arrivals of daily_count() (interval k of the script is
// first_interval + t), with intervals no longer held now and then.
struct TrafficRig {
  const vigil::MonitorOptions& options;
  const vigil::Profile& profile;
  vigil::detail::TrafficPlan plan;
  FakeIntake intake;
  Retained<vigil::detail::TrafficState> history;
  std::unique_ptr<vigil::detail::TrafficFamily> family;

  TrafficRig(const vigil::MonitorOptions& o, const vigil::Profile& p) : options(o), profile(p), family(make()) {
    vigil_test::Random random(21);
    for (std::int64_t t = 0; t < 420; ++t) {
      const double count = daily_count(t, random);
      const std::int64_t k = first_interval + t;
      if (t % 71 != 13) intake.arrivals[k] = count;
      Merged<vigil::detail::TrafficState>& m = history.at(k);
      m.arrivals = m.requests = static_cast<std::uint64_t>(count);
      const auto errors = static_cast<std::uint64_t>(t >= 250 && t < 262 ? count / 5 : count / 100);
      m.state.status_counts[0] = m.requests - errors;
      m.state.status_counts[static_cast<int>(vigil::RequestStatus::error)] = errors;
    }
  }
  std::unique_ptr<vigil::detail::TrafficFamily> make() const {
    return std::make_unique<vigil::detail::TrafficFamily>(plan, options);
  }
  // Interval t of the script: evaluated (unless skipped: the next evaluation feeds it), and a
  // silence judged within it now and then.
  std::string evaluate(std::int64_t t, bool partial = false) {
    const std::int64_t k = first_interval + t;
    const EvaluationWindow w = window(k, options);
    intake.last = w.recent_end - (t % 29 == 0 ? 900 : 1);
    std::string out;
    if (t % 37 != 5 || partial) {
      const std::vector<std::string> names;
      const std::vector<std::vector<std::string>> values;
      const EvaluationContext context{w, profile, options.alerts, intake, names, values, partial};
      const vigil::detail::TrafficSection s = family->analyze(history.view(), context, SlotContext{});
      std::vector<vigil::Evidence> evidence;
      family->evidence(s, {}, vigil::detail::Corrections(), context, SlotContext{}, evidence);
      out += text(s.report) + text(s.verdict) + "\n" + text(evidence);
    }
    vigil::Report report;
    std::vector<vigil::Evidence> silence;
    family->silence(w.recent_end + 20, intake, options.alerts, report, silence);
    return out + text(report.traffic) + "\n" + text(silence);
  }
};

}  // namespace

TEST_CASE("TrafficFamily: a loaded state judges the next intervals as the saved one", "[evaluation_state]") {
  const vigil::MonitorOptions options = traffic_options();
  const vigil::Schema schema;
  const vigil::Profile profile(schema);
  for (const std::int64_t stop : {0, 1, 60, 220}) {
    CAPTURE(stop);
    TrafficRig original(options, profile), restored(options, profile);
    for (std::int64_t t = 0; t < stop; ++t) CHECK(restored.evaluate(t) == original.evaluate(t));
    const Bytes bytes = saved(*original.family);
    CHECK(saved(*restored.family) == bytes);
    restored.family = restored.make();
    load(*restored.family, bytes);
    CHECK(saved(*restored.family) == bytes);
    std::string expected, found;
    for (std::int64_t t = stop; t < stop + 140; ++t) {
      expected += original.evaluate(t, t == stop + 139);
      found += restored.evaluate(t, t == stop + 139);
    }
    CHECK(found == expected);
    CHECK(saved(*restored.family) == saved(*original.family));
  }
}

TEST_CASE("TrafficFamily: truncated states and a detector beyond the intervals fed are refused",
          "[evaluation_state][bad_input]") {
  const vigil::MonitorOptions options = traffic_options();
  const vigil::Schema schema;
  const vigil::Profile profile(schema);
  TrafficRig rig(options, profile);
  std::string evidence;
  for (std::int64_t t = 0; t < 240; ++t) evidence += rig.evaluate(t);
  REQUIRE(evidence.find("[traffic] [arrivals]") != std::string::npos);  // the stop at 130 was judged
  const Bytes bytes = saved(*rig.family);
  check_truncations(bytes, [&] { return rig.make(); });
  auto fresh = rig.make();
  Bytes none = bytes;
  const std::int64_t never = IntervalClock::none;
  std::memcpy(none.data(), &never, 8);
  CHECK(refusal(*fresh, none).find("while none was fed") != std::string::npos);
  Bytes behind = bytes;
  const std::int64_t earlier = first_interval + 100;
  std::memcpy(behind.data(), &earlier, 8);
  CHECK(refusal(*fresh, behind).find("beyond the last fed") != std::string::npos);
  // Refused, the family is as it was.
  CHECK(saved(*fresh) == saved(*rig.make()));
}

// ---- quality, conversions and attribution

namespace {

double sigmoid(double z) { return 1 / (1 + std::exp(-z)); }

// One event of the labelled world: a request, its label (with its loss attributions), or a
// response to it.
struct Event {
  enum Kind { request, label, response } kind;
  double time;
  std::uint64_t id;
  std::array<double, 3> values;  // the request's features, or the label's attributions
  double answer;                 // the label
  std::uint32_t region, arm;
};

// A binary classifier of three features, with a cohort tag (region) and an experiment's arm:
// `per_minute` requests with ids; each labelled two to four minutes later, with the loss
// attributed to the features; a third of them answered within a quarter of an hour. From
// minute 100 on, the labels contradict the model more often and feature 0 takes more of the
// loss.
struct LabelWorld {
  vigil::Schema schema;
  std::array<vigil::NumericFeature, 3> x;
  vigil::Output score;
  vigil::Tag region, arm;
  vigil::MonitorOptions options;
  std::unique_ptr<vigil::Profile> profile;
  vigil::detail::QualityPlan quality_plan;
  vigil::detail::ConversionPlan conversion_plan;
  vigil::detail::AttributionPlan attribution_plan;
  std::vector<Event> events;  // in time order

  explicit LabelWorld(int per_minute, int minutes = 200) {
    for (std::size_t j = 0; j < 3; ++j) x[j] = schema.add_numeric("x" + std::to_string(j));
    vigil::OutputOptions binary;
    binary.threshold = 0.5;
    score = schema.add_output("score", binary);
    vigil::TagOptions cohort;
    cohort.cohort = true;
    cohort.max_values = 4;
    region = schema.add_tag("region", cohort);
    vigil::TagOptions arms;
    arms.max_values = 3;
    arm = schema.add_tag("arm", arms);
    options.interval = 60;
    options.quality_interval = 300;
    options.label_time_to_live = 3600;
    options.quality_window = 1800;
    options.attribution_background = 3600;
    options.conversion_arm = "arm";
    options.alerts.min_labels = 50;
    profile = std::make_unique<vigil::Profile>(holdout());
    quality_plan = vigil::detail::QualityFamily::make_plan(schema, *profile, options);
    conversion_plan = vigil::detail::ConversionFamily::make_plan(schema, *profile, options);
    attribution_plan = vigil::detail::AttributionFamily::make_plan(schema, *profile, options);
    make_events(per_minute, minutes);
  }
  static double score_of(const std::array<double, 3>& v) { return sigmoid(2 * v[0] + 0.5 * v[1]); }
  vigil::Profile holdout() const {
    vigil::Profile p(schema);
    vigil_test::Random random(7);
    vigil::Observation o(schema);
    for (int i = 0; i < 3000; ++i) {
      const std::array<double, 3> v{random.normal(), random.normal(), random.normal()};
      o.clear();
      for (std::size_t j = 0; j < 3; ++j) o.set(x[j], v[j]);
      o.score(score, score_of(v));
      p.add_labelled(o, score, random.uniform() < score_of(v) ? 1.0 : 0.0);
      p.add_attributions({0.1 * v[0] + 0.05 * random.normal(), 0.05 * random.normal(), 0.02 * random.normal()});
    }
    return p;
  }
  void make_events(int per_minute, int minutes) {
    vigil_test::Random random(11);
    std::uint64_t id = 0;
    for (int m = 0; m < minutes; ++m)
      for (int i = 0; i < per_minute; ++i, ++id) {
        const double t = start_time + 60.0 * m + 60.0 * (i + 0.5) / per_minute;
        const std::array<double, 3> v{random.normal(), random.normal(), random.normal()};
        const auto region_id = static_cast<std::uint32_t>(id % 3);
        const std::uint32_t arm_id = id % 5 == 4 ? vigil::detail::no_tag : static_cast<std::uint32_t>(id % 4);
        events.push_back(Event{Event::request, t, id, v, 0, region_id, arm_id});
        double y = random.uniform() < score_of(v) ? 1 : 0;
        if (m >= 100 && random.uniform() < 0.35) y = 1 - y;
        const std::array<double, 3> phi{0.1 * v[0] + (m >= 95 ? 0.4 : 0.0) + 0.05 * random.normal(), 0.05 * random.normal(),
                                        0.02 * random.normal()};
        events.push_back(Event{Event::label, t + 120 + 17.0 * static_cast<double>(id % 7), id, phi, y, 0, 0});
        if (random.uniform() < 0.2 + 0.1 * static_cast<double>(id % 4))
          events.push_back(Event{Event::response, t + 30 + 900 * random.uniform(), id, {}, 0, 0, 0});
      }
    std::stable_sort(events.begin(), events.end(), [](const Event& a, const Event& b) { return a.time < b.time; });
  }
};

// The quality, conversions and attribution families of a LabelWorld, with its label path and
// retained states; the families are replaceable (a restore).
struct LabelRig {
  const LabelWorld& world;
  vigil::detail::TagDictionary tags;
  vigil::detail::LabelIntake labels;
  FakeIntake intake;
  std::vector<Retained<vigil::detail::QualityState>> quality_history;  // per slot: every request, then regions 0…
  Retained<vigil::detail::ConversionState> conversion_history;
  std::unique_ptr<vigil::detail::QualityFamily> quality;
  std::unique_ptr<vigil::detail::ConversionFamily> conversions;
  std::unique_ptr<vigil::detail::AttributionFamily> attribution;
  std::size_t next = 0;  // the next event of the world
  std::vector<std::uint32_t> scratch;
  // A replica's share of the world: the requests it takes (with their labels and responses),
  // and the ids its dictionary gave the world's regions and arms ("other", 3, stays).
  std::function<bool(std::uint64_t)> takes = [](std::uint64_t) { return true; };
  std::array<std::uint32_t, 3> region_ids{{0, 1, 2}};
  std::array<std::uint32_t, 4> arm_ids{{0, 1, 2, 3}};

  explicit LabelRig(const LabelWorld& w)
      : world(w), tags(w.schema), labels(w.schema, w.options, tags.cohorts(), 1, true), quality(make_quality()),
        conversions(make_conversions()), attribution(make_attribution()) {
    intake.label_intake = &labels;
    quality_history.resize(4);
    for (auto& h : quality_history) h.empty = vigil::detail::QualityState(w.quality_plan);
    conversion_history.empty = vigil::detail::ConversionState(w.conversion_plan);
    scratch.resize(labels.extras());
  }
  std::unique_ptr<vigil::detail::QualityFamily> make_quality() const {
    return std::make_unique<vigil::detail::QualityFamily>(world.quality_plan, world.options);
  }
  std::unique_ptr<vigil::detail::ConversionFamily> make_conversions() const {
    return std::make_unique<vigil::detail::ConversionFamily>(world.conversion_plan, world.options);
  }
  std::unique_ptr<vigil::detail::AttributionFamily> make_attribution() const {
    return std::make_unique<vigil::detail::AttributionFamily>(world.attribution_plan, world.options);
  }

  void file(const Event& e) {
    vigil::Observation o(world.schema);
    o.at(e.time).id(e.id);
    for (std::size_t j = 0; j < 3; ++j) o.set(world.x[j], e.values[j]);
    const double s = LabelWorld::score_of(e.values);
    o.score(world.score, s);
    const std::uint32_t region = region_ids[e.region];
    const std::uint32_t arm = e.arm < arm_ids.size() ? arm_ids[e.arm] : e.arm;
    const std::uint32_t tag_ids[2] = {region, arm};
    const std::int64_t k = IntervalClock{60}.of(e.time);
    labels.file(o, vigil::detail::LabelIntake::key_of(o), k, e.time, tag_ids, scratch.data());
    const vigil::detail::QualityPlan& p = world.quality_plan;
    for (const std::size_t slot : {std::size_t{0}, std::size_t{1} + region}) {
      Merged<vigil::detail::QualityState>& m = quality_history[slot].at(k);
      ++m.requests;
      ++m.state.identified;
      m.state.counts[p.bin_of(s)] += 1;
      m.state.sums[p.bin_of(s)] += s;
    }
    Merged<vigil::detail::ConversionState>& c = conversion_history.at(k);
    ++c.requests;
    ++c.state.impressions[arm < world.conversion_plan.arms ? arm : world.conversion_plan.arms];
  }
  void feed(double before) {
    for (; next < world.events.size() && world.events[next].time < before; ++next) {
      const Event& e = world.events[next];
      if (!takes(e.id)) continue;
      const std::string id = std::to_string(e.id);
      if (e.kind == Event::request) file(e);
      if (e.kind == Event::label) labels.label(id, e.answer, e.time, e.values.data(), e.values.size());
      if (e.kind == Event::response) labels.conversion(id, e.time);
    }
  }
  // Evaluates interval m of the world (minute m), as the Evaluator does: every family over
  // every slot, the p-values corrected, the evidence weighed.
  std::string evaluate(int m, bool partial = false);
};

SlotContext slot_context(std::size_t slot) {
  if (slot == 0) return SlotContext{};
  return SlotContext{slot, vigil::Cohort{0, static_cast<std::uint32_t>(slot - 1), "region", std::to_string(slot - 1)}};
}

std::string LabelRig::evaluate(int m, bool partial) {
  const EvaluationWindow w = window(first_interval + m, world.options);
  feed(w.recent_end);
  const std::vector<std::string> names{"region", "arm"};
  const std::vector<std::vector<std::string>> values{{"0", "1", "2", "", "other"}, {"a", "b", "c", "other"}};
  const EvaluationContext context{w, *world.profile, world.options.alerts, intake, names, values, partial};
  vigil::detail::Corrections corrections;
  std::vector<vigil::QualityReport> q;
  std::vector<vigil::detail::QualityFamily::Tickets> q_tickets;
  for (std::size_t slot = 0; slot < 4; ++slot)
    q.push_back(quality->analyze(quality_history[slot].view(), context, slot_context(slot)));
  for (const auto& section : q) q_tickets.push_back(quality->tests(section, corrections));
  const vigil::ConversionReport c = conversions->analyze(conversion_history.view(), context, SlotContext{});
  std::vector<std::vector<vigil::AttributionReport>> a;
  std::vector<vigil::detail::AttributionFamily::Tickets> a_tickets;
  for (std::size_t slot = 0; slot < 4; ++slot) a.push_back(attribution->analyze({}, context, slot_context(slot)));
  for (const auto& section : a) a_tickets.push_back(attribution->tests(section, corrections));
  corrections.adjust();
  std::vector<vigil::Evidence> evidence;
  for (std::size_t slot = 0; slot < 4; ++slot)
    quality->evidence(q[slot], q_tickets[slot], corrections, context, slot_context(slot), evidence);
  for (std::size_t slot = 0; slot < 4; ++slot)
    attribution->evidence(a[slot], a_tickets[slot], corrections, context, slot_context(slot), evidence);
  std::string out = text(q) + text(c) + "\n";
  for (const auto& section : a) out += text(section);
  return out + text(evidence);
}

// The families' bytes, in the order quality, conversions, attribution.
std::array<Bytes, 3> saved_families(const LabelRig& rig) {
  return {saved(*rig.quality), saved(*rig.conversions), saved(*rig.attribution)};
}

// Runs `original` and `restored` over minutes [0, stop) alike, loads the original's families
// into fresh ones in `restored`, then runs both to minute `end` (the last one partial, as at
// the end of a log); returns what each evaluated after the restore.
std::pair<std::string, std::string> restore_at(LabelRig& original, LabelRig& restored, int stop, int end) {
  for (int m = 0; m < stop; ++m)
    if (m % 41 != 40) CHECK(restored.evaluate(m) == original.evaluate(m));  // skipped now and then
  const std::array<Bytes, 3> bytes = saved_families(original);
  CHECK(saved_families(restored) == bytes);
  restored.quality = restored.make_quality();
  restored.conversions = restored.make_conversions();
  restored.attribution = restored.make_attribution();
  load(*restored.quality, bytes[0]);
  load(*restored.conversions, bytes[1]);
  load(*restored.attribution, bytes[2]);
  CHECK(saved_families(restored) == bytes);
  std::string expected, found;
  for (int m = stop; m < end; ++m) {
    if (m % 41 == 40) continue;
    expected += original.evaluate(m, m + 1 == end);
    found += restored.evaluate(m, m + 1 == end);
  }
  return {expected, found};
}

// The double whose bits Text wrote as the `field`-th word of `line`.
double field(const std::string& line, std::size_t field) {
  std::istringstream in(line);
  std::string word;
  for (std::size_t i = 0; i <= field; ++i) in >> word;
  const std::uint64_t b = std::stoull(word, nullptr, 16);
  double v;
  std::memcpy(&v, &b, sizeof v);
  return v;
}

}  // namespace

TEST_CASE("Quality, conversions and attribution: loaded states continue as the saved ones", "[evaluation_state]") {
  // Six labels a minute: a quality interval's digests hold its scores as they came (see the
  // next case for busier intervals).
  const LabelWorld world(6);
  for (const int stop : {0, 3, 90, 130}) {
    CAPTURE(stop);
    LabelRig original(world), restored(world);
    const auto [expected, found] = restore_at(original, restored, stop, 200);
    CHECK(found == expected);
    CHECK(saved_families(restored) == saved_families(original));
    if (stop < 100) {
      CHECK(expected.find("[quality] [recall]") != std::string::npos);            // the labels' shift is found
      CHECK(expected.find("[attribution] [x0 (horizon)]") != std::string::npos);  // and feature 0's rise
    }
    CHECK(expected.find("[quality] [region=1: accuracy]") != std::string::npos);
  }
}

TEST_CASE("QualityFamily: in busier quality intervals ROC AUC may differ slightly after a restore", "[evaluation_state]") {
  // A quality interval's t-digests are saved with their pending scores merged in (TDigest's
  // format has no place for them, nor for the direction of its next merge pass), so the
  // centroids the window's ROC AUC is computed from may be grouped otherwise after a
  // restore. Every other figure is exact; ROC AUC stays within the digests' error.
  const LabelWorld world(40, 130);
  LabelRig original(world), restored(world);
  const auto [expected, found] = restore_at(original, restored, 90, 130);
  std::istringstream e(expected), f(found);
  std::string a, b;
  int auc = 0, other = 0;
  double largest = 0;
  while (std::getline(e, a) && std::getline(f, b)) {
    if (a == b) continue;
    if (a.rfind("[roc_auc]", 0) == 0) {
      ++auc;
      largest = std::max(largest, std::fabs(field(a, 2) - field(b, 2)));
    } else if (a.find("roc_auc") == std::string::npos) {
      ++other;
      FAIL_CHECK("a figure other than ROC AUC differs:\n" << a << "\n" << b);
    }
  }
  INFO("largest difference of ROC AUC after a restore: " << largest << " over " << auc << " figures");
  CHECK(!std::getline(f, b));
  CHECK(other == 0);
  CHECK(auc > 0);
  CHECK(largest < 2e-3);
  // The ledgers' digests are the only difference in the saved bytes.
  CHECK(saved(*restored.conversions) == saved(*original.conversions));
  CHECK(saved(*restored.attribution) == saved(*original.attribution));
}

TEST_CASE("QualityFamily: truncated states, more intervals than the ring and another kind are refused",
          "[evaluation_state][bad_input]") {
  const LabelWorld world(6, 60);
  LabelRig rig(world);
  for (int m = 0; m < 60; ++m) rig.evaluate(m);
  const Bytes bytes = saved(*rig.quality);
  check_truncations(bytes, [&] { return rig.make_quality(); });
  auto fresh = rig.make_quality();
  Bytes too_many;
  vigil::io::Writer w(too_many);
  w.varint(0);   // labels beyond the window
  w.varint(1);   // one slot
  w.varint(14);  // its intervals: the ring holds 3600 / 300 + 1
  CHECK(refusal(*fresh, too_many).find("14 intervals, the ring holds 13") != std::string::npos);
  vigil::detail::QualityPlan regression = world.quality_plan;
  regression.kind = vigil::detail::LabelKind::regression;
  vigil::detail::QualityFamily other(regression, world.options);
  CHECK(refusal(other, bytes).find("not those of this output") != std::string::npos);
  // Refused, the family is as it was.
  CHECK(saved(*fresh) == saved(*rig.make_quality()));
}

TEST_CASE("ConversionFamily: truncated states, more rows or arms than the plan has are refused",
          "[evaluation_state][bad_input]") {
  const LabelWorld world(6, 60);
  LabelRig rig(world);
  for (int m = 0; m < 60; ++m) rig.evaluate(m);
  const Bytes bytes = saved(*rig.conversions);
  check_truncations(bytes, [&] { return rig.make_conversions(); });
  auto fresh = rig.make_conversions();
  const vigil::detail::ConversionPlan& p = world.conversion_plan;
  const auto header = [](Bytes& b, std::uint64_t rows) {
    vigil::io::Writer w(b);
    w.i64(first_interval);  // fed through
    w.varint(0);            // beyond the window
    w.varint(rows);
  };
  Bytes rows;
  header(rows, p.length + 1);
  CHECK(refusal(*fresh, rows).find("rows, the ring holds " + std::to_string(p.length)) != std::string::npos);
  Bytes arms;
  header(arms, 1);
  vigil::io::Writer w(arms);
  w.i64(5);  // newest conversion interval
  w.i64(5);  // its row
  for (std::size_t a = 0; a <= p.arms; ++a) w.varint(1);
  w.varint(p.arms + 1);
  CHECK(refusal(*fresh, arms).find("arms with responses, the plan has " + std::to_string(p.arms)) != std::string::npos);
  Bytes twice = arms;
  twice.resize(twice.size() - 1);
  vigil::io::Writer t(twice);
  t.varint(2);  // arms with responses: arm 1 twice
  for (int i = 0; i < 2; ++i) {
    t.varint(1);
    for (std::size_t j = 0; j < p.delays.size(); ++j) t.varint(0);
  }
  CHECK(refusal(*fresh, twice).find("arm 1 is out of order or range") != std::string::npos);
  CHECK(saved(*fresh) == saved(*rig.make_conversions()));
}

TEST_CASE("AttributionFamily: truncated states, other feature counts and a negative CUSUM are refused",
          "[evaluation_state][bad_input]") {
  const LabelWorld world(6, 60);
  LabelRig rig(world);
  for (int m = 0; m < 60; ++m) rig.evaluate(m);
  const Bytes bytes = saved(*rig.attribution);
  check_truncations(bytes, [&] { return rig.make_attribution(); });
  auto fresh = rig.make_attribution();
  Bytes features;
  vigil::io::Writer w(features);
  w.varint(0);  // no ledger
  w.varint(4);  // batch features: the schema has 3
  CHECK(refusal(*fresh, features).find("attribution batch features: 4 written, 3 expected") != std::string::npos);
  Bytes negative;
  vigil::io::Writer n(negative);
  n.varint(0);
  n.varint(3);
  for (int j = 0; j < 3; ++j) vigil::detail::save_nested(n, vigil::RunningStats());
  n.varint(3);
  for (const double c : {0.0, -1.0, 0.0}) n.f64(c);
  CHECK(refusal(*fresh, negative).find("attribution CUSUM -1 is negative") != std::string::npos);
  Bytes infinite = negative;
  const double inf = std::numeric_limits<double>::infinity();
  std::memcpy(&infinite[infinite.size() - 16], &inf, 8);
  CHECK(refusal(*fresh, infinite).find("attribution CUSUM is not finite") != std::string::npos);
  CHECK(saved(*fresh) == saved(*rig.make_attribution()));
}


// ---- merging replicas (Monitor::merge): the label-derived state adds

namespace {

// The sections of minute m analysed again as evaluate() made them, with nothing more fed:
// the figures of what the rig's ledgers hold.
struct Sections {
  std::vector<vigil::QualityReport> quality;
  vigil::ConversionReport conversions;
  std::vector<std::vector<vigil::AttributionReport>> attribution;
};

Sections analyze_again(LabelRig& rig, int m) {
  const EvaluationWindow w = window(first_interval + m, rig.world.options);
  const std::vector<std::string> names{"region", "arm"};
  const std::vector<std::vector<std::string>> values{{"0", "1", "2", "", "other"}, {"a", "b", "c", "other"}};
  const EvaluationContext context{w, *rig.world.profile, rig.world.options.alerts, rig.intake, names, values, false};
  Sections s;
  for (std::size_t slot = 0; slot < 4; ++slot) {
    s.quality.push_back(rig.quality->analyze(rig.quality_history[slot].view(), context, slot_context(slot)));
    s.attribution.push_back(rig.attribution->analyze({}, context, slot_context(slot)));
  }
  s.conversions = rig.conversions->analyze(rig.conversion_history.view(), context, SlotContext{});
  return s;
}

// Gives the world's regions and arms their ids in the rig's dictionary, in the world's order
// or the opposite one.
void name_values(LabelRig& rig, bool reversed) {
  const std::array<std::string, 3> regions{{"0", "1", "2"}}, arms{{"a", "b", "c"}};
  for (std::uint32_t i = 0; i < 3; ++i) {
    const std::uint32_t v = reversed ? 2 - i : i;
    rig.region_ids[v] = rig.tags.id(rig.world.region.index, regions[v]);
    rig.arm_ids[v] = rig.tags.id(rig.world.arm.index, arms[v]);
  }
}

// Merges replica `from`'s label-derived state into `into`, as Monitor::merge does.
void merge_into(LabelRig& into, const LabelRig& from) {
  const vigil::detail::TagRemap remap = into.tags.merge(from.tags);
  std::vector<std::size_t> slot_of(from.tags.slot_count());
  for (std::size_t s = 0; s < slot_of.size(); ++s) slot_of[s] = into.tags.slot_of(s, remap);
  into.quality->merge(*from.quality, slot_of);
  into.attribution->merge(*from.attribution, slot_of);
  into.attribution->restart();
  into.conversions->merge(*from.conversions, remap, from.labels.arm_tag());
  into.labels.add_counts(from.labels);
}

// Whether a and b agree within `relative` of the larger magnitude (NaN agrees with NaN).
bool close(double a, double b, double relative) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
  return std::fabs(a - b) <= relative * std::max(std::fabs(a), std::fabs(b));
}

// Realised figures of the merged rig against those of the rig fed everything: counts
// exactly, means of sums (losses, calibration) to 1e-12, tests to 1e-9; ROC AUC comes from
// merged t-digests, its largest difference goes to `auc_gap`.
void check_metrics(const std::vector<vigil::QualityMetric>& merged, const std::vector<vigil::QualityMetric>& all,
                   double& auc_gap) {
  REQUIRE(merged.size() == all.size());
  for (std::size_t i = 0; i < all.size(); ++i) {
    const vigil::QualityMetric &m = merged[i], &a = all[i];
    CAPTURE(a.name, a.recent, m.recent, a.p_value, m.p_value);
    CHECK(m.name == a.name);
    CHECK(bits(m.baseline) == bits(a.baseline));
    if (a.name == "roc_auc") {
      auc_gap = std::max(auc_gap, std::fabs(m.recent - a.recent));
      CHECK(close(m.count, a.count, 1e-12));
      CHECK(std::fabs(m.p_value - a.p_value) < 0.05);
      continue;
    }
    CHECK(m.count == a.count);
    CHECK(close(m.recent, a.recent, 1e-12));
    CHECK(close(m.p_value, a.p_value, 1e-9));
  }
}

// Attribution figures: counts exactly, means to 1e-12, tests and effects to 1e-9; the
// merged CUSUM restarted.
void check_attribution(const std::vector<vigil::AttributionReport>& merged, const std::vector<vigil::AttributionReport>& all) {
  REQUIRE(merged.size() == all.size());
  for (std::size_t j = 0; j < all.size(); ++j) {
    const vigil::AttributionReport &m = merged[j], &a = all[j];
    CAPTURE(a.feature);
    CHECK(m.feature == a.feature);
    CHECK(m.status == a.status);
    CHECK(m.recent_count == a.recent_count);
    CHECK(m.background_count == a.background_count);
    CHECK(m.reference_count == a.reference_count);
    CHECK(close(m.recent_mean, a.recent_mean, 1e-12));
    CHECK(close(m.background_mean, a.background_mean, 1e-12));
    for (const auto& [x, y] : {std::pair{m.p_value, a.p_value}, std::pair{m.reference_p_value, a.reference_p_value},
                               std::pair{m.effect, a.effect}, std::pair{m.reference_effect, a.reference_effect}})
      CHECK(close(x, y, 1e-9));
    CHECK(m.cusum == 0);
  }
}

// A quality section but for its realised figures, and for its pending requests (they stay
// with their replica).
std::string counts_text(vigil::QualityReport q) {
  q.metrics.clear();
  q.pending = 0;
  return text(q);
}

// Rig `all` takes every request of `world`, two replicas each a share of them (blocks of
// seven ids in turn, with their labels and responses), the second replica's dictionary
// having seen the tag values in the opposite order when `reversed`. All three evaluate
// minutes [0, end); both replicas are merged into a fresh rig holding `all`'s interval
// history (the intake's merge), whose figures of minute end − 1 are checked against
// `all`'s. Returns the largest difference of ROC AUC.
double check_merge(const LabelWorld& world, int end, bool reversed) {
  LabelRig all(world), first(world), second(world), merged(world);
  first.takes = [](std::uint64_t id) { return (id / 7) % 2 == 0; };
  second.takes = [](std::uint64_t id) { return (id / 7) % 2 == 1; };
  for (LabelRig* rig : {&all, &first, &merged}) name_values(*rig, false);
  name_values(second, reversed);
  for (int m = 0; m < end; ++m) {
    all.evaluate(m);
    first.evaluate(m);
    second.evaluate(m);
  }
  merge_into(merged, first);
  merge_into(merged, second);
  merged.quality_history = all.quality_history;
  merged.conversion_history = all.conversion_history;
  const Sections e = analyze_again(all, end - 1), f = analyze_again(merged, end - 1);
  double auc_gap = 0;
  for (std::size_t slot = 0; slot < 4; ++slot) {
    CAPTURE(slot);
    REQUIRE(e.quality[slot].labelled > 0);
    CHECK(counts_text(f.quality[slot]) == counts_text(e.quality[slot]));
    check_metrics(f.quality[slot].metrics, e.quality[slot].metrics, auc_gap);
    REQUIRE(!e.attribution[slot].empty());
    check_attribution(f.attribution[slot], e.attribution[slot]);
  }
  CHECK(e.quality[0].pending == first.labels.pending() + second.labels.pending());
  CHECK(f.quality[0].pending == 0);  // the fresh rig filed no request
  REQUIRE(e.conversions.arms.size() == 4);
  CHECK(text(f.conversions) == text(e.conversions));
  return auc_gap;
}

template <class Fn>
std::string invalid(Fn&& fn) {
  try {
    fn();
  } catch (const vigil::invalid_argument& e) {
    return e.what();
  }
  return "(nothing thrown)";
}

// Replica a holds intervals 0 … L − 3 of a ring of L, replica b L − 5 … L + 1: merged, the
// newest is L + 1, a's 0 and 1 age out, L − 5 … L − 3 add; `one` takes both replicas' items,
// as one ledger would. Then a ledger whose intervals 0 … 2 all fall beyond the ring of the
// other's newest (L + 5 … L + 6): merged, it keeps the other's only, and saves what load()
// reads.
std::array<std::pair<std::int64_t, std::int64_t>, 4> merge_spans(std::size_t length) {
  const auto l = static_cast<std::int64_t>(length);
  return {{{0, l - 3}, {l - 5, l + 1}, {0, 2}, {l + 5, l + 6}}};
}

}  // namespace

TEST_CASE("QualityLedger merged: intervals held by both add, those beyond the ring after the later newest age out",
          "[evaluation_state][merge]") {
  const LabelWorld world(1, 1);
  const double inf = std::numeric_limits<double>::infinity();
  using vigil::detail::QualityLedger;
  const double r = world.options.quality_resolution();
  const std::size_t length = 13;
  const auto fill = [&](QualityLedger& l, std::pair<std::int64_t, std::int64_t> span, double score) {
    for (std::int64_t q = span.first; q <= span.second; ++q)
      for (int i = 0; i < 3; ++i) {
        vigil::detail::JoinedLabel label{0, vigil::detail::PendingRequest{}, vigil::detail::LabelValue{}};
        label.request.time = (static_cast<double>(q) + 0.25 * i) * r;
        label.request.score = score + 0.01 * static_cast<double>(q);
        label.value.number = i % 2;
        REQUIRE(l.add(world.quality_plan, label));
      }
  };
  const auto held = [&](const QualityLedger& l) {
    Text t;
    l.each(-inf, inf, [&](double start, double, const vigil::detail::LabelStats& s) {
      t << start << s.labelled << s.true_positive << s.false_positive << s.false_negative << s.true_negative
        << s.brier.count() << s.positive_scores.count() << s.negative_scores.count();
    });
    return t.str();
  };
  const auto s = merge_spans(length);
  QualityLedger a(r, length), b(r, length), one(r, length), stale(r, length), ahead(r, length);
  fill(a, s[0], 0.7);
  fill(b, s[1], 0.2);
  fill(one, s[0], 0.7);
  fill(one, s[1], 0.2);
  a.merge(b);
  CHECK(held(a) == held(one));
  std::size_t kept = 0;
  a.each(-inf, inf, [&](double start, double, const vigil::detail::LabelStats&) { CHECK(start == (kept++ + 2) * r); });
  CHECK(kept == length);  // 2 … length + 1
  fill(stale, s[2], 0.7);
  fill(ahead, s[3], 0.2);
  stale.merge(ahead);
  CHECK(held(stale) == held(ahead));
  const Bytes bytes = saved(stale);
  QualityLedger loaded(r, length);
  vigil::io::Reader reader(bytes.data(), bytes.size(), "quality ledger");
  loaded.load(reader, world.quality_plan.kind);
  CHECK(saved(loaded) == bytes);
  CHECK(invalid([&] { a.merge(QualityLedger(r, length + 1)); }).find("a ring of 14 intervals of 300 s") !=
        std::string::npos);
}

TEST_CASE("AttributionLedger merged: intervals held by both add, those beyond the ring after the later newest age out",
          "[evaluation_state][merge]") {
  const LabelWorld world(1, 1);
  using vigil::detail::AttributionLedger;
  const double r = world.options.quality_resolution();
  const std::size_t length = 13;
  const auto fill = [&](AttributionLedger& l, std::pair<std::int64_t, std::int64_t> span, double shift) {
    for (std::int64_t q = span.first; q <= span.second; ++q)
      for (int i = 0; i < 3; ++i) {
        const double values[3] = {shift + 0.1 * i, -0.3 * static_cast<double>(q), i == 1 ? nan : 1.5};
        REQUIRE(l.add((static_cast<double>(q) + 0.25 * i) * r, values));
      }
  };
  // Per interval in [−2, length + 8), every feature's count and mean.
  const auto held = [&](const AttributionLedger& l) {
    std::vector<double> out;
    for (std::int64_t q = -2; q < static_cast<std::int64_t>(length) + 8; ++q) {
      std::vector<vigil::RunningStats> sums;
      l.sum(static_cast<double>(q) * r, static_cast<double>(q + 1) * r, sums);
      for (const vigil::RunningStats& f : sums) out.insert(out.end(), {f.count(), f.mean()});
    }
    return out;
  };
  const auto same = [](const std::vector<double>& x, const std::vector<double>& y) {
    REQUIRE(x.size() == y.size());
    for (std::size_t i = 0; i < x.size(); ++i) {
      CAPTURE(i, x[i], y[i]);
      CHECK(close(x[i], y[i], 1e-12));
    }
  };
  const auto s = merge_spans(length);
  AttributionLedger a(r, length, 3), b(r, length, 3), one(r, length, 3), stale(r, length, 3), ahead(r, length, 3);
  fill(a, s[0], 0.5);
  fill(b, s[1], -0.25);
  fill(one, s[0], 0.5);
  fill(one, s[1], -0.25);
  a.merge(b);
  same(held(a), held(one));
  fill(stale, s[2], 0.5);
  fill(ahead, s[3], -0.25);
  stale.merge(ahead);
  same(held(stale), held(ahead));
  const Bytes bytes = saved(stale);
  AttributionLedger loaded(r, length, 3);
  vigil::io::Reader reader(bytes.data(), bytes.size(), "attribution ledger");
  loaded.load(reader);
  CHECK(saved(loaded) == bytes);
  CHECK(invalid([&] { a.merge(AttributionLedger(r, length, 2)); }).find("and 2 features into") != std::string::npos);
}

TEST_CASE("ConversionLedger merged: rows held by both add, those beyond the ring after the later newest age out",
          "[evaluation_state][merge]") {
  const LabelWorld world(1, 1);
  using vigil::detail::ConversionLedger;
  const vigil::detail::ConversionPlan& p = world.conversion_plan;
  const auto fill = [&](ConversionLedger& l, std::pair<std::int64_t, std::int64_t> span, std::uint64_t base) {
    for (std::int64_t q = span.first; q <= span.second; ++q) {
      const double start = static_cast<double>(q) * p.resolution;
      vigil::detail::ConversionState impressions(p);
      for (std::size_t a = 0; a <= p.arms; ++a) impressions.impressions[a] = base + a + static_cast<std::uint64_t>(q);
      REQUIRE(l.add_impressions(start, impressions));
      for (const std::uint32_t arm : {0u, 2u, 2u, vigil::detail::no_tag}) {
        const double delay = arm == vigil::detail::no_tag ? 50 : 100.0 * arm + 4;
        REQUIRE(l.add_conversion(vigil::detail::JoinedConversion{start + 1 + delay, start + 1, arm}));
      }
    }
  };
  const auto held = [&](const ConversionLedger& l) {
    Text t;
    l.each([&](double start, const std::uint64_t* row, const auto& delays) {
      t << start;
      for (std::size_t a = 0; a <= p.arms; ++a) t << row[a];
      for (std::size_t a = 0; a < p.arms; ++a)
        if (const std::uint64_t* d = delays(a))
          for (std::size_t j = 0; j < p.delays.size(); ++j) t << d[j];
    });
    return t.str();
  };
  const vigil::detail::TagRemap identity{{{0, 1, 2, 3, 4}, {0, 1, 2, 3}}};
  const auto s = merge_spans(p.length);
  ConversionLedger a(p), b(p), one(p), stale(p), ahead(p);
  fill(a, s[0], 10);
  fill(b, s[1], 1000);
  fill(one, s[0], 10);
  fill(one, s[1], 1000);
  a.merge(b, identity);
  CHECK(held(a) == held(one));
  fill(stale, s[2], 10);
  fill(ahead, s[3], 1000);
  stale.merge(ahead, identity);
  CHECK(held(stale) == held(ahead));
  const Bytes bytes = saved(stale);
  ConversionLedger loaded(p);
  vigil::io::Reader reader(bytes.data(), bytes.size(), "conversion ledger");
  loaded.load(reader);
  CHECK(saved(loaded) == bytes);
}

TEST_CASE("Quality, conversions and attribution: replicas merged give the figures of one fed everything",
          "[evaluation_state][merge]") {
  // Forty requests a minute: the quality intervals' t-digests compress their scores, so ROC
  // AUC from merged digests may differ slightly from one digest's; every count is exact.
  const LabelWorld world(40, 70);
  const double auc_gap = check_merge(world, 70, false);
  INFO("largest difference of ROC AUC after the merge: " << auc_gap);
  CHECK(auc_gap < 2e-3);
}

TEST_CASE("Quality, conversions and attribution: a replica that numbered regions and arms otherwise merges by value",
          "[evaluation_state][merge]") {
  // The second replica gave ids to regions and arms in the opposite order: its slot ledgers
  // and arm columns land on this monitor's by the dictionaries' remap.
  const LabelWorld world(6, 120);
  const double auc_gap = check_merge(world, 120, true);
  INFO("largest difference of ROC AUC after the merge: " << auc_gap);
  CHECK(auc_gap < 2e-3);
}

TEST_CASE("Quality, conversions and attribution: merges of another shape are refused, changing nothing",
          "[evaluation_state][merge][bad_input]") {
  const LabelWorld world(6, 40);
  LabelRig rig(world), other(world);
  for (int m = 0; m < 40; ++m) {
    rig.evaluate(m);
    other.evaluate(m);
  }
  const std::array<Bytes, 3> before = saved_families(rig);
  const std::vector<std::size_t> slots{0, 1, 2, 3, 4, 5};
  vigil::detail::QualityPlan regression = world.quality_plan;
  regression.kind = vigil::detail::LabelKind::regression;
  const vigil::detail::QualityFamily regressions(regression, world.options);
  CHECK(invalid([&] { rig.quality->merge(regressions, slots); }).find("another kind") != std::string::npos);
  vigil::MonitorOptions coarse = world.options;
  coarse.quality_interval = 600;
  const vigil::detail::QualityFamily coarser(world.quality_plan, coarse);
  CHECK(invalid([&] { rig.quality->merge(coarser, slots); }).find("intervals of 600 s in a ring of 7") != std::string::npos);
  CHECK(invalid([&] { rig.quality->merge(*other.quality, {0, 1}); }).find("2 slots mapped, the other family has 4") !=
        std::string::npos);

  vigil::detail::AttributionPlan two = world.attribution_plan;
  two.features.pop_back();
  two.reference.pop_back();
  const vigil::detail::AttributionFamily fewer(two, world.options);
  CHECK(invalid([&] { rig.attribution->merge(fewer, slots); }).find("2 features") != std::string::npos);
  CHECK(invalid([&] { rig.attribution->merge(*other.attribution, {}); }).find("0 slots mapped") != std::string::npos);

  const vigil::detail::TagRemap same = rig.tags.merge(other.tags);
  vigil::detail::ConversionPlan five = world.conversion_plan;
  five.arms = 5;
  const vigil::detail::ConversionFamily wider(five, world.options);
  CHECK(invalid([&] { rig.conversions->merge(wider, same, 1); }).find("5 arms") != std::string::npos);
  CHECK(invalid([&] { rig.conversions->merge(*other.conversions, same, 0); }).find("arm tag 0, the plan's is 1") !=
        std::string::npos);
  CHECK(invalid([&] { rig.conversions->merge(*other.conversions, vigil::detail::TagRemap{}, 1); })
            .find("no ids of arm tag 1") != std::string::npos);
  vigil::detail::TagRemap beyond = same;
  beyond.ids[1].back() = 4;
  CHECK(invalid([&] { rig.conversions->merge(*other.conversions, beyond, 1); }).find("arm id 4 of 4 arms") !=
        std::string::npos);
  CHECK(saved_families(rig) == before);
}

}  // namespace evaluation_state_test

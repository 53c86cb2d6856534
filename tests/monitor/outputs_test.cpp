#include <vigil/monitor/monitor.hpp>
#include <vigil/monitor/outputs.hpp>

#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "vigil_test.hpp"

namespace outputs_test {  // named: the files of a tests/ folder may compile as one unit
namespace {

using vigil::Alert;
using vigil::AlertKind;

constexpr double outputs_start = 1767225600;  // 2026-01-01T00:00:00Z, long before the wall clock
constexpr int per_minute = 200;

// A model of one numeric feature and one score with a threshold. `training_absent` of the
// training rows have no score.
struct Scenario {
  vigil::Schema schema;
  vigil::NumericFeature x;
  vigil::Output score;

  Scenario() {
    x = schema.add_numeric("x");
    vigil::OutputOptions options;
    options.threshold = 0.5;
    score = schema.add_output("score", options);
  }
  static double model(double x) { return 1 / (1 + std::exp(-x)); }

  vigil::Profile profile(double training_absent = 0) const {
    vigil::Profile p(schema);
    vigil_test::Random random(99);
    vigil::Observation o(schema);
    for (int i = 0; i < 20000; ++i) {
      o.clear();
      const double value = random.normal();
      o.set(x, value);
      if (random.uniform() >= training_absent) o.score(score, model(value));
      p.add(o);
    }
    return p;
  }
};

vigil::MonitorOptions replay_options() {
  vigil::MonitorOptions options;
  options.evaluate_in_observe = true;
  options.shards = 1;
  return options;
}

// What the model returns at `minute`: `score(minute, model score)` as the score, or no score
// at all where `absent(minute, a uniform draw)` says so.
struct Traffic {
  std::function<double(double minute, double model_score)> score = [](double, double s) { return s; };
  std::function<bool(double minute, double uniform)> absent = [](double, double) { return false; };
};

// Streams `minutes` of traffic and returns every alert transition.
std::vector<Alert> run(const Scenario& sc, vigil::Monitor& monitor, int minutes, const Traffic& traffic) {
  std::vector<Alert> alerts;
  monitor.on_alert([&](const Alert& a) { alerts.push_back(a); });
  vigil_test::Random random(7);
  vigil::Observation o(sc.schema);
  for (int m = 0; m < minutes; ++m) {
    for (int i = 0; i < per_minute; ++i) {
      const double minute = m + (i + 0.5) / per_minute;
      o.clear();
      const double value = random.normal();
      o.set(sc.x, value);
      if (!traffic.absent(minute, random.uniform())) o.score(sc.score, traffic.score(minute, Scenario::model(value)));
      o.at(outputs_start + 60 * minute);
      monitor.observe(o);
    }
  }
  monitor.report(outputs_start + 60.0 * minutes);
  return alerts;
}

// Minutes after the start at which an alert of `kind` on `subject` was first raised, or -1.
double first_raised(const std::vector<Alert>& alerts, AlertKind kind, const std::string& subject) {
  for (const Alert& a : alerts)
    if (a.kind == kind && vigil::to_string(a.subject) == subject && a.transition == Alert::Transition::raised)
      return (a.time - outputs_start) / 60;
  return -1;
}

bool open(const vigil::Report& r, AlertKind kind, const std::string& subject) {
  for (const Alert& a : r.open_alerts)
    if (a.kind == kind && vigil::to_string(a.subject) == subject) return true;
  return false;
}

std::string describe(const std::vector<Alert>& alerts) {
  std::string text;
  for (const Alert& a : alerts)
    text += std::to_string((a.time - outputs_start) / 60) + " " + vigil::to_string(a.transition) + " " +
            vigil::to_string(a.kind) + " " + vigil::to_string(a.subject) + ": " + a.message + "\n";
  return text;
}

}  // namespace

TEST_CASE("OutputFamily: clean traffic raises nothing, against a training share of missing scores too",
          "[outputs][scenario]") {
  Scenario sc;
  for (const double training_absent : {0.0, 0.1}) {
    INFO("training without a score: " << training_absent);
    vigil::Monitor monitor(sc.schema, sc.profile(training_absent), replay_options());
    Traffic traffic;
    traffic.absent = [training_absent](double, double u) { return u < training_absent; };
    const auto alerts = run(sc, monitor, 180, traffic);
    INFO(describe(alerts));
    CHECK(alerts.empty());
    const vigil::Report r = monitor.report();
    REQUIRE(r.outputs.size() == 1);
    const vigil::OutputReport& o = r.outputs[0];
    CHECK(o.status == vigil::Status::ok);
    CHECK(o.recent_requests == per_minute);
    CHECK(o.non_finite_scores == 0);
    CHECK(o.non_finite_rate == 0);
    CHECK(o.reference_missing_rate == Approx(training_absent).margin(0.01));
    CHECK(o.missing_rate == Approx(training_absent).margin(0.06));
    CHECK(o.background_missing_rate == Approx(training_absent).margin(0.02));
    CHECK(o.missing_p_value > 1e-4);
    CHECK(o.missing_shift_p_value > 1e-4);
    CHECK(o.missing_classes == o.missing_scores);  // the threshold's class comes from the score
  }
}

TEST_CASE("OutputFamily: 30 minutes of NaN scores raise missing_values on the output", "[outputs][scenario]") {
  Scenario sc;
  vigil::Monitor monitor(sc.schema, sc.profile(), replay_options());
  Traffic traffic;
  traffic.score = [](double minute, double s) { return minute >= 60 ? std::numeric_limits<double>::quiet_NaN() : s; };
  const auto alerts = run(sc, monitor, 90, traffic);
  INFO(describe(alerts));
  const double missing = first_raised(alerts, AlertKind::missing_values, "score");
  CHECK(missing >= 61);
  CHECK(missing <= 62);
  const double schema = first_raised(alerts, AlertKind::schema, "score");  // NaN is no number
  CHECK(schema >= 61);
  CHECK(schema <= 62);
  CHECK(first_raised(alerts, AlertKind::missing_values, "x") == -1);

  const vigil::Report r = monitor.report();
  CHECK(open(r, AlertKind::missing_values, "score"));
  CHECK(r.status == vigil::Status::alert);
  REQUIRE(r.outputs.size() == 1);
  const vigil::OutputReport& o = r.outputs[0];
  CHECK(o.status == vigil::Status::alert);
  CHECK(o.missing_rate == 1);
  CHECK(o.non_finite_rate == 1);
  CHECK(o.non_finite_scores == per_minute);
  CHECK(o.missing_scores == 0);
  CHECK(o.recent_count == 0);
  CHECK(o.reference_missing_rate == 0);
  CHECK(o.missing_p_value < 1e-10);
  for (const Alert& a : r.open_alerts)
    if (a.kind == AlertKind::missing_values) {
      CHECK(a.severity == vigil::Severity::alert);
      CHECK(a.statistic == 1);
      CHECK(a.p_value < 0.01);
      CHECK_THAT(a.message, Catch::Contains("100.0 % NaN or infinite"));
    }
}

TEST_CASE("OutputFamily: infinite scores are counted as not finite", "[outputs][scenario]") {
  Scenario sc;
  vigil::Monitor monitor(sc.schema, sc.profile(), replay_options());
  Traffic traffic;
  // From minute 60, a fifth of the scores are +inf or -inf.
  traffic.score = [](double minute, double s) {
    const double inf = std::numeric_limits<double>::infinity();
    if (minute < 60 || s < 0.4 || s >= 0.6) return s;
    return s < 0.5 ? -inf : inf;
  };
  const auto alerts = run(sc, monitor, 75, traffic);
  INFO(describe(alerts));
  CHECK(first_raised(alerts, AlertKind::missing_values, "score") >= 61);
  CHECK(first_raised(alerts, AlertKind::missing_values, "score") <= 62);
  CHECK(first_raised(alerts, AlertKind::schema, "score") >= 61);
  const vigil::Report r = monitor.report();
  const vigil::OutputReport& o = r.outputs[0];
  CHECK(o.non_finite_scores > 0);
  CHECK(o.missing_scores == 0);
  CHECK(o.non_finite_scores + o.recent_count == o.recent_requests);
  CHECK(o.non_finite_rate == Approx(0.2).margin(0.08));
  CHECK(o.missing_rate == o.non_finite_rate);
  CHECK(o.background_missing_rate < o.missing_rate);
}

TEST_CASE("OutputFamily: an output that stops arriving is a schema problem", "[outputs][scenario]") {
  Scenario sc;
  vigil::Monitor monitor(sc.schema, sc.profile(), replay_options());
  Traffic traffic;
  traffic.absent = [](double minute, double) { return minute >= 60 && minute < 70; };
  const auto alerts = run(sc, monitor, 100, traffic);
  INFO(describe(alerts));
  const double gone = first_raised(alerts, AlertKind::schema, "score");
  CHECK(gone >= 61);
  CHECK(gone <= 62);
  CHECK(first_raised(alerts, AlertKind::missing_values, "score") >= 61);
  bool schema_resolved = false;
  for (const Alert& a : alerts)
    schema_resolved = schema_resolved || (a.kind == AlertKind::schema && a.transition == Alert::Transition::resolved);
  CHECK(schema_resolved);  // scores came back at minute 70
  for (const Alert& a : alerts)
    if (a.kind == AlertKind::schema && a.transition == Alert::Transition::raised)
      CHECK_THAT(a.message, Catch::Contains("absent from every recent request"));
}

TEST_CASE("OutputFamily: without training figures, a rise against the background is judged", "[outputs][scenario]") {
  Scenario sc;
  vigil::Monitor monitor(sc.schema, vigil::Profile(sc.schema), replay_options());
  Traffic traffic;
  traffic.absent = [](double minute, double u) { return minute >= 60 && u < 0.5; };
  const auto alerts = run(sc, monitor, 70, traffic);
  INFO(describe(alerts));
  const double missing = first_raised(alerts, AlertKind::missing_values, "score");
  CHECK(missing >= 61);
  CHECK(missing <= 62);
  CHECK(first_raised(alerts, AlertKind::schema, "score") == -1);  // half the scores still arrive
  const vigil::Report report = monitor.report();
  const vigil::OutputReport& o = report.outputs[0];
  CHECK(std::isnan(o.reference_missing_rate));
  CHECK(std::isnan(o.missing_p_value));
  CHECK(o.missing_shift_p_value < 1e-10);
}

TEST_CASE("OutputFamily: missing-score evidence needs significance, effect and enough requests", "[outputs]") {
  vigil::AlertPolicy policy;
  vigil::OutputReport r;
  r.name = "score";
  r.recent_requests = 100;
  r.missing_scores = 10;
  r.non_finite_scores = 10;
  r.missing_rate = 0.2;
  r.non_finite_rate = 0.1;
  r.reference_missing_rate = 0.05;
  r.background_missing_rate = 0.19;
  const vigil::Subject subject{vigil::Family::outputs, 0, "score", {}, false};
  std::vector<vigil::Evidence> out;
  vigil::detail::output_missing_evidence(r, 1e-5, 0.5, policy, subject, out);
  REQUIRE(out.size() == 1);
  CHECK(out[0].kind == AlertKind::missing_values);
  CHECK(out[0].severity == vigil::Severity::warn);  // a rise of 0.15: above 0.05, below 0.2
  CHECK(out[0].p_value == 1e-5);
  out.clear();
  vigil::detail::output_missing_evidence(r, 0.02, 0.5, policy, subject, out);  // not significant
  CHECK(out.empty());
  r.reference_missing_rate = 0.4;  // a fall against training is no evidence
  vigil::detail::output_missing_evidence(r, 1e-5, 0.5, policy, subject, out);
  CHECK(out.empty());
  r.background_missing_rate = 0;  // but a rise against the background is
  vigil::detail::output_missing_evidence(r, 1e-5, 1e-5, policy, subject, out);
  REQUIRE(out.size() == 1);
  CHECK(out[0].severity == vigil::Severity::alert);
  out.clear();
  r.recent_requests = policy.min_requests - 1;
  vigil::detail::output_missing_evidence(r, 1e-9, 1e-9, policy, subject, out);
  vigil::detail::output_schema_evidence(r, policy, subject, out);
  CHECK(out.empty());
}

}  // namespace outputs_test

// Reports for the export tests: one from a real Monitor fed traffic with faults, and
// hand-built ones for edge cases.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "vigil/monitor/monitor.hpp"

namespace vigil_test {

/// What a monitored replay leaves behind: the last report, every alert transition in order,
/// and every per-interval report's time (the history is built by the caller if needed).
struct MonitoredRun {
  vigil::Report report;
  std::vector<vigil::Alert> alerts;
  std::vector<vigil::Report> reports;  // one per interval
};

/// A model with two numeric features, a categorical one, a scored output with a threshold
/// and a cohort tag, trained on 3000 rows, then 40 one-minute intervals of 120 requests: the
/// first 25 like training, then `age` arrives in months instead of years, 40 % of `income` is
/// missing, and `region` gains an unseen value "EU " (trailing space) in cohort model=v2.
inline MonitoredRun monitored_run() {
  vigil::Schema schema;
  const auto age = schema.add_numeric("age");
  const auto income = schema.add_numeric("income");
  const auto region = schema.add_categorical("region");
  const auto score = schema.add_output("fraud_score", {{}, 0.5});
  vigil::TagOptions cohort;
  cohort.cohort = true;
  cohort.max_values = 4;
  const auto model = schema.add_tag("model", cohort);

  std::mt19937_64 rng(7);
  std::normal_distribution<double> age_dist(40, 10);
  std::lognormal_distribution<double> income_dist(10, 0.5);
  std::uniform_real_distribution<double> unit(0, 1);
  const char* regions[] = {"eu", "us", "apac"};

  vigil::Profile profile(schema);
  vigil::Observation row(schema);
  for (int i = 0; i < 3000; ++i) {
    row.clear();
    row.set(age, age_dist(rng)).set(income, income_dist(rng)).set(region, regions[i % 3]);
    row.score(score, unit(rng) * unit(rng));
    profile.add(row);
  }

  vigil::MonitorOptions options;
  options.interval = 60;
  options.fine_intervals = 60;
  options.background = 1200;
  options.shards = 2;
  vigil::Monitor monitor(schema, profile, options);
  MonitoredRun run;
  monitor.on_alert([&run](const vigil::Alert& a) { run.alerts.push_back(a); });

  const double start = 1793606400;  // 2026-11-02T08:00:00Z
  vigil::Observation o(schema);
  for (int minute = 0; minute < 40; ++minute) {
    const bool fault = minute >= 25;
    for (int i = 0; i < 120; ++i) {
      o.clear();
      o.at(start + minute * 60 + i * 0.5);
      o.set(age, age_dist(rng) * (fault ? 12 : 1));
      if (!(fault && unit(rng) < 0.4)) o.set(income, income_dist(rng));
      const bool v2 = i % 2 == 1;
      o.set(region, fault && v2 && i % 4 == 1 ? "EU " : regions[i % 3]);
      o.score(score, fault ? 0.2 + 0.8 * unit(rng) : unit(rng) * unit(rng));
      o.tag(model, v2 ? "v2" : "v1");
      monitor.observe(o);
    }
    if (minute > 0) run.reports.push_back(monitor.report(start + minute * 60));
  }
  run.report = monitor.report(start + 40 * 60);
  run.reports.push_back(run.report);
  return run;
}

/// monitored_run(), computed once per test process.
inline const MonitoredRun& shared_run() {
  static const MonitoredRun run = monitored_run();
  return run;
}

/// A report whose every figure is NaN or empty and whose names need escaping everywhere.
inline vigil::Report awkward_report() {
  vigil::Report r;
  r.time = 1793606400.25;
  r.recent_start = 1793606340;
  r.recent_end = 1793606400;
  r.horizon_start = std::numeric_limits<double>::quiet_NaN();
  r.status = vigil::Status::warn;
  r.counters.observed = 18446744073709551615ull;
  r.counters.bad_time = 3;
  vigil::FeatureReport f;
  f.name = "say \"hi\"\\\n<script>alert(1)</script>\t\x01 caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80 bad\xFF";
  f.psi = 0.1;
  f.wasserstein = std::numeric_limits<double>::infinity();
  f.status = vigil::Status::warn;
  f.unseen_values = {{"new \"one\"", 7}};
  r.features.push_back(f);
  vigil::OutputReport o;
  o.name = "score\nline";
  o.classes = {"a\"b", "c"};
  o.class_share = {0.25, std::numeric_limits<double>::quiet_NaN()};
  o.reference_class_share = {0.5, 0.5};
  r.outputs.push_back(o);
  vigil::CohortReport c;
  c.tag = "host";
  c.value = "web-1\"";
  c.features.push_back(f);
  r.cohorts.push_back(c);
  vigil::Alert a;
  a.time = 1793606400;
  a.kind = vigil::AlertKind::feature_shift;
  a.subject.name = f.name;
  a.severity = vigil::Severity::warn;
  a.statistic = 0.125;
  a.message = "Line one\nline \"two\" <b>bold</b>";
  r.open_alerts.push_back(a);
  vigil::SlowAttribution slow;
  slow.tag = "host";
  slow.value = "web-1\"\n\xFF";
  slow.requests = 9;
  r.latency.attribution.push_back(slow);
  return r;
}

/// A report whose traffic and latency sections hold distinctive values, with NaN figures
/// (no background p99.9 or timeout rate yet; an attribution without p-value) and a tag value,
/// `h"3<`, that needs escaping in every export. Latencies in seconds; every share is exact in
/// binary so that the exports can be compared digit for digit.
inline vigil::Report operations_report() {
  vigil::Report r;
  r.time = 1793606400;
  r.recent_start = 1793606340;
  r.recent_end = 1793606400;
  r.horizon_start = 1793520000;
  r.status = vigil::Status::alert;
  r.recent_requests = 1164;
  r.horizon_requests = 96000;
  r.counters.observed = 4321;
  r.counters.bad_arrival_time = 5;

  vigil::TrafficReport& t = r.traffic;
  t.status = vigil::Status::warn;
  t.arrivals_source = "arrivals";
  t.recent_arrivals = 1180;
  t.recent_completions = 1164;
  t.predicted_arrivals = 1425.5;
  t.arrival_z = -2.75;
  t.arrival_p_value = 0.0061;
  t.rate_model = "seasonal";
  t.rate_history = 1440;
  t.last_arrival = 1793606395.5;
  t.silence = 4.5;
  t.expected_in_silence = 0.875;
  t.silence_p_value = 0.4168;
  t.in_flight = 16;
  t.completion_ratio = 0.98644;
  t.background_completion_ratio = 0.998;
  t.completion_p_value = 0.0031;
  t.error_rate = 0.015;
  t.background_error_rate = 0.002;
  t.error_p_value = 3.5e-7;
  t.timeout_rate = 0.004;  // background_timeout_rate and timeout_p_value stay NaN

  vigil::LatencyReport& l = r.latency;
  l.subject = "requests";
  l.status = vigil::Status::alert;
  l.recent_count = 1000;
  l.background_count = 48000;
  l.recent_p50 = 0.0125;
  l.recent_p99 = 0.375;
  l.recent_p999 = 1.5;
  l.background_p50 = 0.0118;
  l.background_p99 = 0.125;  // background_p999 and p999_ratio stay NaN
  l.p99_ratio = 3;
  l.statistic = 85.5;
  l.p_value = 2.5e-15;
  l.slow_threshold = 0.25;
  l.slow = 64;
  vigil::SlowAttribution host;
  host.tag = "host";
  host.value = "h\"3<";
  host.requests = 250;
  host.slow = 39;
  host.share_of_slow = 0.609375;  // 39 / 64
  host.share_of_all = 0.25;
  host.lift = 2.4375;
  host.p_value = 1.5e-9;
  l.attribution.push_back(host);
  vigil::SlowAttribution model;
  model.tag = "model";
  model.value = "v2";
  model.requests = 500;
  model.slow = 20;
  model.share_of_slow = 0.3125;
  model.share_of_all = 0.5;
  model.lift = 0.625;  // p_value stays NaN
  l.attribution.push_back(model);

  vigil::CohortReport c;
  c.tag = "host";
  c.value = "h\"3<";
  c.status = vigil::Status::alert;
  c.requests = 24000;
  c.latency.subject = "host=h\"3<";
  c.latency.status = vigil::Status::alert;
  c.latency.recent_count = 250;
  c.latency.background_count = 12000;
  c.latency.recent_p50 = 0.0375;
  c.latency.recent_p99 = 0.875;
  c.latency.recent_p999 = 2.25;
  c.latency.background_p50 = 0.0119;
  c.latency.background_p99 = 0.1;
  c.latency.background_p999 = 0.3;
  c.latency.p99_ratio = 8.75;
  c.latency.p999_ratio = 7.5;
  c.latency.statistic = 140.5;
  c.latency.p_value = 1e-30;
  c.latency.slow_threshold = 0.25;
  c.latency.slow = 39;
  r.cohorts.push_back(c);
  vigil::CohortReport quiet;  // a cohort without latencies: every figure NaN
  quiet.tag = "model";
  quiet.value = "v1";
  quiet.requests = 12;
  quiet.latency.subject = "model=v1";
  r.cohorts.push_back(quiet);
  return r;
}

}  // namespace vigil_test

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
/// Quality of a binary classifier: realised figures over a day of labelled requests (accuracy
/// in alert), estimates from the recent scores, two hours of labels, and labels refused.
inline void add_quality(vigil::Report& r) {
  vigil::QualityReport& q = r.quality;
  q.output = "fraud_score";
  q.status = vigil::Status::alert;
  q.window_start = 1793523600;
  q.window_end = 1793606400;
  q.labelled = 5210;
  q.pending = 812;
  q.evicted = 3;
  q.metrics = {{"accuracy", vigil::Status::alert, 0.861, 0.934, 2.5e-41, 5210},
               {"precision", vigil::Status::ok, 0.52, 0.55, 0.21, 640},
               {"recall", vigil::Status::ok, 0.61, 0.6, 0.62, 540},
               {"f1", vigil::Status::ok, 0.5614, 0.5741, 0.38, 5210},
               {"log_loss", vigil::Status::warn, 0.31, 0.24, 1.2e-6, 5210},
               {"brier", vigil::Status::ok, 0.101, 0.093, 0.04, 5210},
               {"roc_auc", vigil::Status::ok, 0.9, 0.91, 0.2, 5210},
               {"calibration_error", vigil::Status::ok, 0.031, 0.012, vigil::FeatureReport::nan(), 5210}};
  q.estimated = {{"estimated_accuracy", vigil::Status::ok, 0.93, 0.935, 0.4, 1164},
                 {"estimated_roc_auc", vigil::Status::ok, 0.905, 0.91, 0.3, 1164}};
  q.intervals = {{1793595600, 1793599200, 4100, 3600}, {1793599200, 1793602800, 4000, 1610}};
  q.labels = 5240;
  q.joined = 5210;
  q.expired = 41;
  q.unknown_ids = 12;
  q.duplicate_labels = 9;
  q.duplicate_ids = 1;
  q.late_labels = 2;
  q.bad_labels = 4;
  q.bad_label_times = 1;
  q.labels_before_request = 2;
}

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
  r.counters.truncated_values = 7;

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
  add_quality(r);
  return r;
}

/// A report with several outputs and two cohorts, each with its own features, outputs and
/// latency (one with slow-request attribution), for comparing whole exports byte for byte:
/// a categorical feature with more unseen values than the HTML page lists, an output with
/// classes, one without and one with fewer shares than classes, open alerts and an alert log.
inline vigil::Report cohorts_report() {
  vigil::Report r;
  r.time = 1793610000;
  r.recent_start = 1793609940;
  r.recent_end = 1793610000;
  r.horizon_start = 1793523600;
  r.status = vigil::Status::alert;
  r.recent_requests = 240;
  r.horizon_requests = 345600;
  r.counters.observed = 345700;
  r.counters.late = 2;
  r.counters.future = 4;
  r.counters.clock_changes = 1;
  r.counters.bad_latency = 1;
  r.counters.skipped_evaluations = 3;

  vigil::FeatureReport age;
  age.name = "age";
  age.status = vigil::Status::alert;
  age.horizon_count = 345000;
  age.psi = 0.3125;
  age.ks_statistic = 0.25;
  age.ks_p_value = 1e-40;
  age.wasserstein = 0.15;
  age.recent_count = 238;
  age.recent_requests = 240;
  age.shift_statistic = 41.5;
  age.shift_p_value = 2.5e-6;
  age.shift_psi = 0.125;
  age.profile_statistic = 55.25;
  age.profile_p_value = 1.25e-8;
  age.recent_mean = 480.5;
  age.reference_mean = 40.25;
  age.missing_rate = 0.0083;
  age.reference_missing_rate = 0.001;
  age.out_of_range_rate = 0.75;
  age.bad_values = 2;
  r.features.push_back(age);

  vigil::FeatureReport region;
  region.name = "region";
  region.categorical = true;
  region.status = vigil::Status::warn;
  region.horizon_count = 345600;
  region.psi = 0.0625;
  region.js_distance = 0.046875;
  region.recent_count = 240;
  region.recent_requests = 240;
  region.shift_statistic = 12.75;
  region.shift_p_value = 0.0017;
  region.shift_psi = 0.03125;
  region.missing_rate = 0;
  region.reference_missing_rate = 0;
  region.unseen_rate = 0.0375;
  region.unseen_values = {{"EU ", 4}, {"eu-west", 2}, {"n/a", 1}, {"?", 1}, {"AP", 1}, {"latam", 1}};
  r.features.push_back(region);

  vigil::OutputReport fraud;
  fraud.name = "fraud_score";
  fraud.status = vigil::Status::alert;
  fraud.horizon_count = 345600;
  fraud.psi = 0.40625;
  fraud.ks_statistic = 0.3;
  fraud.ks_p_value = 4e-120;
  fraud.wasserstein = 0.5;
  fraud.recent_count = 240;
  fraud.shift_statistic = 88.5;
  fraud.shift_p_value = 3e-15;
  fraud.shift_psi = 0.21875;
  fraud.profile_statistic = 90.25;
  fraud.profile_p_value = 1e-15;
  fraud.recent_ks_statistic = 0.375;
  fraud.recent_ks_p_value = 5e-30;
  fraud.recent_p50 = 0.5625;
  fraud.recent_p90 = 0.875;
  fraud.recent_p99 = 0.984375;
  fraud.reference_p50 = 0.1875;
  fraud.recent_requests = 240;
  fraud.missing_rate = 0;
  fraud.non_finite_rate = 0;
  fraud.reference_missing_rate = 0;
  fraud.missing_p_value = 1;
  fraud.class_missing_rate = 0;
  fraud.classes = {"negative", "positive"};
  fraud.class_share = {0.4375, 0.5625};
  fraud.reference_class_share = {0.875, 0.125};
  fraud.class_statistic = 61.5;
  fraud.class_p_value = 2e-14;
  r.outputs.push_back(fraud);

  vigil::OutputReport eta;  // a regression output: no classes
  eta.name = "eta_seconds";
  eta.horizon_count = 345600;
  eta.psi = 0.015625;
  eta.ks_statistic = 0.0125;
  eta.ks_p_value = 0.4;
  eta.wasserstein = 0.03125;
  eta.recent_count = 236;
  eta.shift_psi = 0.0078125;
  eta.shift_p_value = 0.62;
  eta.recent_p50 = 310.5;
  eta.recent_p90 = 905;
  eta.recent_p99 = 2400.25;
  eta.reference_p50 = 300;
  eta.recent_requests = 240;
  eta.missing_scores = 1;
  eta.non_finite_scores = 3;
  eta.missing_rate = 0.0166;
  eta.non_finite_rate = 0.0125;
  eta.reference_missing_rate = 0.001;
  eta.background_missing_rate = 0.0041;
  eta.missing_p_value = 0.004;
  eta.missing_shift_p_value = 0.09;
  r.outputs.push_back(eta);

  vigil::OutputReport tier;  // classes, but training shares for only the first
  tier.name = "tier";
  tier.status = vigil::Status::warn;
  tier.recent_count = 240;
  tier.classes = {"gold", "silver", "bronze"};
  tier.class_share = {0.25, 0.5, 0.25};
  tier.reference_class_share = {0.125};
  r.outputs.push_back(tier);

  r.traffic.status = vigil::Status::ok;
  r.traffic.recent_arrivals = 240;
  r.traffic.recent_completions = 240;
  r.traffic.predicted_arrivals = 236.5;
  r.traffic.arrival_z = 0.25;
  r.traffic.arrival_p_value = 0.83;
  r.traffic.rate_model = "recent";
  r.traffic.rate_history = 1;
  r.traffic.last_arrival = 1793609999.75;
  r.traffic.silence = 0.25;
  r.traffic.expected_in_silence = 0.984375;
  r.traffic.silence_p_value = 0.375;
  r.traffic.completion_ratio = 1;
  r.traffic.background_completion_ratio = 1;
  r.traffic.error_rate = 0;
  r.traffic.background_error_rate = 0.0005;
  r.traffic.error_p_value = 1;
  r.traffic.timeout_rate = 0;
  r.traffic.background_timeout_rate = 0;

  vigil::LatencyReport& l = r.latency;
  l.subject = "requests";
  l.status = vigil::Status::warn;
  l.recent_count = 240;
  l.background_count = 69000;
  l.recent_p50 = 0.0625;
  l.recent_p99 = 0.25;
  l.recent_p999 = 0.5;
  l.background_p50 = 0.0625;
  l.background_p99 = 0.125;
  l.background_p999 = 0.25;
  l.p99_ratio = 2;
  l.p999_ratio = 2;
  l.statistic = 30.5;
  l.p_value = 4e-5;
  l.slow_threshold = 0.125;
  l.slow = 12;
  vigil::SlowAttribution slow;
  slow.tag = "region";
  slow.value = "us";
  slow.requests = 120;
  slow.slow = 10;
  slow.share_of_slow = 0.8125;
  slow.share_of_all = 0.5;
  slow.lift = 1.625;
  slow.background_lift = 1.0625;
  slow.p_value = 0.0039;
  l.attribution.push_back(slow);

  vigil::CohortReport eu;  // everything ok: no subject listed as not ok
  eu.tag = "region";
  eu.value = "eu";
  eu.requests = 172800;
  age.status = vigil::Status::ok;
  age.psi = 0.03125;
  age.out_of_range_rate = 0;
  eu.features = {age, region};
  eu.features[1].status = vigil::Status::ok;
  eu.features[1].unseen_values.clear();
  eu.outputs = {eta};
  eu.latency.subject = "region=eu";
  eu.latency.recent_count = 120;
  eu.latency.background_count = 34500;
  eu.latency.recent_p50 = 0.0625;
  eu.latency.recent_p99 = 0.125;
  eu.latency.background_p50 = 0.0625;
  eu.latency.background_p99 = 0.125;
  eu.latency.p99_ratio = 1;
  eu.latency.statistic = 2.5;
  eu.latency.p_value = 0.77;
  eu.latency.slow_threshold = 0.125;
  eu.latency.slow = 2;
  r.cohorts.push_back(eu);

  vigil::CohortReport us;
  us.tag = "region";
  us.value = "us";
  us.status = vigil::Status::alert;
  us.requests = 172800;
  us.features = {r.features[0], r.features[1]};
  us.outputs = {fraud, tier};
  us.latency = l;
  us.latency.subject = "region=us";
  us.latency.recent_count = 120;
  us.latency.slow = 10;
  us.latency.attribution[0].tag = "host";
  us.latency.attribution[0].value = "h7";
  r.cohorts.push_back(us);

  vigil::Alert drift;
  drift.time = 1793609880;
  drift.kind = vigil::AlertKind::out_of_range;
  drift.subject = vigil::Subject{vigil::Family::features, 0, "age", vigil::Cohort{}, false};
  drift.severity = vigil::Severity::alert;
  drift.statistic = 0.75;
  drift.message = "Feature 'age' has 75.0 % of recent values outside its training range.";
  drift.sequence = 39;
  r.open_alerts.push_back(drift);
  vigil::Alert classes;
  classes.time = 1793609940;
  classes.kind = vigil::AlertKind::class_drift;
  vigil::Cohort us_cohort;
  us_cohort.tag = 0;
  us_cohort.value = 1;
  us_cohort.tag_name = "region";
  us_cohort.value_name = "us";
  classes.subject = vigil::Subject{vigil::Family::outputs, 1, "fraud_score", us_cohort, false};
  classes.severity = vigil::Severity::warn;
  classes.statistic = 61.5;
  classes.p_value = 2e-14;
  classes.message = "Output 'fraud_score' predicts class 'positive' for 56.2 % of recent requests.";
  classes.sequence = 41;
  r.open_alerts.push_back(classes);
  r.alert_log.push_back(classes);
  vigil::Alert resolved = drift;
  resolved.time = 1793610000;
  resolved.kind = vigil::AlertKind::latency;
  resolved.subject = vigil::Subject{vigil::Family::latency, 0, "requests", vigil::Cohort{}, false};
  resolved.severity = vigil::Severity::warn;
  resolved.statistic = 1.5;
  resolved.p_value = 0.001;
  resolved.message = "Resolved: no evidence in the last 5 intervals.";
  resolved.transition = vigil::Alert::Transition::resolved;
  resolved.sequence = 42;
  r.alert_log.push_back(resolved);
  return r;
}

/// Five reports one minute apart ending with cohorts_report(), for the history charts: the
/// status steps from ok to alert, `region` has no shift PSI in the second report (a gap in
/// its line), and `income` appears only in the first two.
inline std::vector<vigil::Report> cohorts_reports() {
  std::vector<vigil::Report> reports;
  const vigil::Report last = cohorts_report();
  for (int k = 0; k < 5; ++k) {
    vigil::Report r = last;
    r.time = last.time - 60.0 * (4 - k);
    r.status = k < 2 ? vigil::Status::ok : k < 4 ? vigil::Status::warn : vigil::Status::alert;
    r.recent_requests = static_cast<std::uint64_t>(200 + 10 * k);
    r.features[0].shift_psi = 0.03125 * (k + 1);
    r.features[0].psi = 0.0625 * k;
    r.features[0].missing_rate = k == 3 ? 0.25 : 0.0083;
    if (k == 1) r.features[1].shift_psi = std::numeric_limits<double>::quiet_NaN();
    if (k < 2) {
      vigil::FeatureReport income;
      income.name = "income";
      income.shift_psi = 0.5 - 0.125 * k;
      income.psi = 0.25;
      income.missing_rate = 0.0625;
      r.features.push_back(income);
    }
    r.outputs[0].recent_p50 = 0.1875 + 0.09375 * k;
    r.outputs[0].shift_psi = 0.046875 * k;
    reports.push_back(r);
  }
  reports.back() = last;
  return reports;
}

}  // namespace vigil_test

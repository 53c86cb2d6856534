// vigil — in-process monitoring of machine-learning models in C++ inference servers.
// SPDX-License-Identifier: Apache-2.0
#pragma once

// Report as Prometheus text exposition format 0.0.4, the body of a /metrics endpoint.
// Metric names follow the Prometheus naming practice (and OpenMetrics): base units,
// `_ratio` for shares in [0, 1], `_total` for counters, `_seconds` for times. docs/report.md
// lists every family with its type, labels and meaning.

#include <cmath>
#include <cstdint>
#include <iterator>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "vigil/export/detail/text.hpp"
#include "vigil/monitor/alerts.hpp"
#include "vigil/monitor/report.hpp"

namespace vigil {

/// The Content-Type header of a response carrying to_prometheus() output.
inline constexpr std::string_view prometheus_content_type = "text/plain; version=0.0.4; charset=utf-8";

/// The report in Prometheus text exposition format 0.0.4:
///
/// ```text
/// # HELP vigil_feature_psi Population stability index of the feature over the horizon against training.
/// # TYPE vigil_feature_psi gauge
/// vigil_feature_psi{feature="age"} 0.0123
/// vigil_feature_psi{feature="age",cohort_tag="region",cohort_value="eu"} 0.0311
/// ```
///
/// Every family has one HELP and one TYPE line followed by all its samples; a family with no
/// sample is left out. Labels are bounded by the schema: `feature`, `output`, `class`,
/// `quantile`, `kind`, `severity`, `reason`, `cohort_tag`, `cohort_value` (cohort values are
/// bounded by TagOptions::max_values), `tag`, `value` (the tag values a slow-request
/// attribution names, bounded the same way), `arrivals_source` and `rate_model` (a few fixed
/// words). Label values are escaped (backslash, double quote,
/// line feed) and invalid UTF-8 bytes become U+FFFD. A figure that is NaN (not computed) is
/// omitted rather than written as `NaN`, so that "no data" reads as an absent series and
/// never compares true in a PromQL alert; infinities are written `+Inf` / `-Inf`. Samples
/// carry no timestamp: the scrape time applies, and `vigil_report_time_seconds` says which
/// event time the figures describe.
///
/// Latencies, thresholds and silences are in seconds, rates in [0, 1], as in the Report.
///
/// Complexity: O(families × (features + outputs + attributions) × (1 + cohorts)).
inline std::string to_prometheus(const Report& report);

/// Appends the same text to `out`, e.g. after a server's own metrics.
inline void append_prometheus(std::string& out, const Report& report);

namespace detail {

/// Buffers the samples of one metric family, then writes HELP, TYPE and the samples, or
/// nothing when the family had no sample.
class PrometheusWriter {
 public:
  explicit PrometheusWriter(std::string& out) : out_(out) {}

  void begin(std::string_view name, std::string_view type, std::string_view help) {
    name_ = name;
    type_ = type;
    help_ = help;
    samples_.clear();
  }
  /// One sample; NaN is skipped. `labels` is the text between the braces (may be empty).
  void sample(std::string_view labels, double value) {
    if (std::isnan(value)) return;
    start_sample(labels);
    if (std::isinf(value)) {
      samples_ += value > 0 ? "+Inf" : "-Inf";
    } else {
      append_number(samples_, value);
    }
    samples_ += '\n';
  }
  void sample(std::string_view labels, std::uint64_t value) {
    start_sample(labels);
    fmt::format_to(std::back_inserter(samples_), "{}\n", value);
  }
  void sample(std::string_view labels, std::int64_t value) {
    start_sample(labels);
    fmt::format_to(std::back_inserter(samples_), "{}\n", value);
  }
  void end() {
    if (samples_.empty()) return;
    // HELP text escapes backslash and line feed only.
    fmt::format_to(std::back_inserter(out_), "# HELP {} ", name_);
    for (char c : help_) {
      if (c == '\\') {
        out_ += "\\\\";
      } else if (c == '\n') {
        out_ += "\\n";
      } else {
        out_ += c;
      }
    }
    fmt::format_to(std::back_inserter(out_), "\n# TYPE {} {}\n", name_, type_);
    out_ += samples_;
  }

 private:
  void start_sample(std::string_view labels) {
    samples_ += name_;
    if (!labels.empty()) {
      samples_ += '{';
      samples_ += labels;
      samples_ += '}';
    }
    samples_ += ' ';
  }

  std::string& out_;
  std::string_view name_;
  std::string_view type_;
  std::string_view help_;
  std::string samples_;
};

/// Appends `name="value"` to a label list, with a comma when the list is not empty.
inline void add_label(std::string& labels, std::string_view name, std::string_view value) {
  if (!labels.empty()) labels += ',';
  labels += name;
  labels += "=\"";
  append_label_value(labels, value);
  labels += '"';
}

inline double status_value(Status s) { return static_cast<double>(static_cast<int>(s)); }

struct FeatureMetric {
  const char* name;
  const char* help;
  double (*figure)(const FeatureReport&);
};

struct OutputMetric {
  const char* name;
  const char* help;
  double (*figure)(const OutputReport&);
};

struct LatencyMetric {
  const char* name;
  const char* help;
  double (*figure)(const LatencyReport&);
};

struct AttributionFamily {
  const char* name;
  const char* help;
  double (*figure)(const SlowAttribution&);
};

// clang-format off
inline const FeatureMetric feature_families[] = {
  {"vigil_feature_status", "Status of the feature: 0 ok, 1 warn, 2 alert (worst open alert about it).",
   [](const FeatureReport& f) { return status_value(f.status); }},
  {"vigil_feature_horizon_values", "Values of the feature in the long-term horizon.",
   [](const FeatureReport& f) { return static_cast<double>(f.horizon_count); }},
  {"vigil_feature_psi", "Population stability index of the feature over the horizon against training.",
   [](const FeatureReport& f) { return f.psi; }},
  {"vigil_feature_ks_statistic", "Kolmogorov-Smirnov statistic of the numeric feature over the horizon against training.",
   [](const FeatureReport& f) { return f.ks_statistic; }},
  {"vigil_feature_ks_p_value", "P-value of the Kolmogorov-Smirnov test over the horizon against training.",
   [](const FeatureReport& f) { return f.ks_p_value; }},
  {"vigil_feature_wasserstein_normalized", "Wasserstein distance of the numeric feature over the horizon against training, in training standard deviations.",
   [](const FeatureReport& f) { return f.wasserstein; }},
  {"vigil_feature_js_distance", "Jensen-Shannon distance of the categorical feature's frequencies over the horizon against training.",
   [](const FeatureReport& f) { return f.js_distance; }},
  {"vigil_feature_recent_values", "Values of the feature in the recent interval(s).",
   [](const FeatureReport& f) { return static_cast<double>(f.recent_count); }},
  {"vigil_feature_shift_g_statistic", "G statistic of the recent interval(s) against the trailing background, on training deciles.",
   [](const FeatureReport& f) { return f.shift_statistic; }},
  {"vigil_feature_shift_p_value", "P-value of the G test of the recent interval(s) against the trailing background.",
   [](const FeatureReport& f) { return f.shift_p_value; }},
  {"vigil_feature_shift_psi", "Population stability index of the recent interval(s) against the trailing background.",
   [](const FeatureReport& f) { return f.shift_psi; }},
  {"vigil_feature_profile_g_statistic", "G statistic of the recent interval(s) against training, on training deciles.",
   [](const FeatureReport& f) { return f.profile_statistic; }},
  {"vigil_feature_profile_p_value", "P-value of the G test of the recent interval(s) against training.",
   [](const FeatureReport& f) { return f.profile_p_value; }},
  {"vigil_feature_recent_mean", "Mean of the numeric feature in the recent interval(s), in the feature's unit.",
   [](const FeatureReport& f) { return f.recent_mean; }},
  {"vigil_feature_reference_mean", "Mean of the numeric feature in training, in the feature's unit.",
   [](const FeatureReport& f) { return f.reference_mean; }},
  {"vigil_feature_missing_ratio", "Share of recent requests without the feature.",
   [](const FeatureReport& f) { return f.missing_rate; }},
  {"vigil_feature_reference_missing_ratio", "Share of training rows without the feature.",
   [](const FeatureReport& f) { return f.reference_missing_rate; }},
  {"vigil_feature_out_of_range_ratio", "Share of recent values of the numeric feature outside the training minimum and maximum.",
   [](const FeatureReport& f) { return f.out_of_range_rate; }},
  {"vigil_feature_unseen_ratio", "Share of recent values of the categorical feature never seen in training.",
   [](const FeatureReport& f) { return f.unseen_rate; }},
  {"vigil_feature_bad_values", "Recent values of the feature that were NaN, infinite or unparsable.",
   [](const FeatureReport& f) { return static_cast<double>(f.bad_values); }},
};

inline const OutputMetric output_families[] = {
  {"vigil_output_status", "Status of the model output: 0 ok, 1 warn, 2 alert (worst open alert about it).",
   [](const OutputReport& o) { return status_value(o.status); }},
  {"vigil_output_horizon_scores", "Scores of the output in the long-term horizon.",
   [](const OutputReport& o) { return static_cast<double>(o.horizon_count); }},
  {"vigil_output_psi", "Population stability index of the scores over the horizon against training, on training deciles.",
   [](const OutputReport& o) { return o.psi; }},
  {"vigil_output_ks_statistic", "Kolmogorov-Smirnov statistic of the scores over the horizon against training.",
   [](const OutputReport& o) { return o.ks_statistic; }},
  {"vigil_output_ks_p_value", "P-value of the Kolmogorov-Smirnov test of the scores over the horizon against training.",
   [](const OutputReport& o) { return o.ks_p_value; }},
  {"vigil_output_wasserstein_normalized", "Wasserstein distance of the scores over the horizon against training, in training standard deviations.",
   [](const OutputReport& o) { return o.wasserstein; }},
  {"vigil_output_recent_scores", "Scores of the output in the recent interval(s).",
   [](const OutputReport& o) { return static_cast<double>(o.recent_count); }},
  {"vigil_output_shift_g_statistic", "G statistic of the recent scores against the trailing background, on training deciles.",
   [](const OutputReport& o) { return o.shift_statistic; }},
  {"vigil_output_shift_p_value", "P-value of the G test of the recent scores against the trailing background.",
   [](const OutputReport& o) { return o.shift_p_value; }},
  {"vigil_output_shift_psi", "Population stability index of the recent scores against the trailing background.",
   [](const OutputReport& o) { return o.shift_psi; }},
  {"vigil_output_profile_g_statistic", "G statistic of the recent scores against training, on training deciles.",
   [](const OutputReport& o) { return o.profile_statistic; }},
  {"vigil_output_profile_p_value", "P-value of the G test of the recent scores against training.",
   [](const OutputReport& o) { return o.profile_p_value; }},
  {"vigil_output_recent_ks_statistic", "Kolmogorov-Smirnov statistic of the recent scores against training.",
   [](const OutputReport& o) { return o.recent_ks_statistic; }},
  {"vigil_output_recent_ks_p_value", "P-value of the Kolmogorov-Smirnov test of the recent scores against training.",
   [](const OutputReport& o) { return o.recent_ks_p_value; }},
  {"vigil_output_missing_ratio", "Share of recent requests without a score for the output.",
   [](const OutputReport& o) { return o.missing_rate; }},
  {"vigil_output_class_g_statistic", "G statistic of the recent predicted-class counts against the trailing background.",
   [](const OutputReport& o) { return o.class_statistic; }},
  {"vigil_output_class_p_value", "P-value of the G test of the recent predicted-class counts against the trailing background.",
   [](const OutputReport& o) { return o.class_p_value; }},
};

inline const LatencyMetric latency_families[] = {
  {"vigil_latency_status", "Status of the request latency: 0 ok, 1 warn, 2 alert (worst open alert about it).",
   [](const LatencyReport& l) { return status_value(l.status); }},
  {"vigil_latency_recent_requests", "Latencies recorded in the latency window.",
   [](const LatencyReport& l) { return static_cast<double>(l.recent_count); }},
  {"vigil_latency_background_requests", "Latencies in the trailing background the latency window is compared with.",
   [](const LatencyReport& l) { return static_cast<double>(l.background_count); }},
  {"vigil_latency_shift_g_statistic", "G statistic of the latency window's log-scale bucket counts against the trailing background.",
   [](const LatencyReport& l) { return l.statistic; }},
  {"vigil_latency_shift_p_value", "P-value of the G test of the latency window against the trailing background.",
   [](const LatencyReport& l) { return l.p_value; }},
  {"vigil_latency_slow_threshold_seconds", "Latency above which a request counted as slow in the latency window, in seconds.",
   [](const LatencyReport& l) { return l.slow_threshold; }},
  {"vigil_latency_slow_requests", "Requests in the latency window slower than the slow threshold.",
   [](const LatencyReport& l) { return static_cast<double>(l.slow); }},
};

inline const AttributionFamily attribution_families[] = {
  {"vigil_latency_attribution_requests", "Requests in the latency window with the tag value.",
   [](const SlowAttribution& a) { return static_cast<double>(a.requests); }},
  {"vigil_latency_attribution_slow_requests", "Requests in the latency window with the tag value that were slow.",
   [](const SlowAttribution& a) { return static_cast<double>(a.slow); }},
  {"vigil_latency_attribution_share_of_slow_ratio", "Share of the slow requests in the latency window that carry the tag value.",
   [](const SlowAttribution& a) { return a.share_of_slow; }},
  {"vigil_latency_attribution_share_of_all_ratio", "Share of all requests in the latency window that carry the tag value.",
   [](const SlowAttribution& a) { return a.share_of_all; }},
  {"vigil_latency_attribution_lift", "Share of the slow requests divided by share of all requests carrying the tag value (1 = not over-represented).",
   [](const SlowAttribution& a) { return a.lift; }},
  {"vigil_latency_attribution_p_value", "P-value of the G test of slow against not slow requests, the tag value against the others.",
   [](const SlowAttribution& a) { return a.p_value; }},
};
// clang-format on

/// The latency report of the whole model (no labels), then of each cohort (`cohort_tag`,
/// `cohort_value`), with their label lists.
struct PrometheusLatencies {
  std::vector<const LatencyReport*> latencies;
  std::vector<std::string> labels;

  explicit PrometheusLatencies(const Report& report) {
    latencies.push_back(&report.latency);
    labels.emplace_back();
    for (const CohortReport& c : report.cohorts) {
      std::string cohort;
      add_label(cohort, "cohort_tag", c.tag);
      add_label(cohort, "cohort_value", c.value);
      latencies.push_back(&c.latency);
      labels.push_back(std::move(cohort));
    }
  }
};

/// The label lists of every feature or output, overall (no cohort labels) then per cohort.
struct PrometheusSubjects {
  std::vector<const FeatureReport*> features;
  std::vector<std::string> feature_labels;
  std::vector<const OutputReport*> outputs;
  std::vector<std::string> output_labels;

  explicit PrometheusSubjects(const Report& report) {
    add(report.features, report.outputs, "", "", false);
    for (const CohortReport& c : report.cohorts) add(c.features, c.outputs, c.tag, c.value, true);
  }

 private:
  void add(const std::vector<FeatureReport>& fs, const std::vector<OutputReport>& os, std::string_view tag,
           std::string_view value, bool cohort) {
    for (const FeatureReport& f : fs) {
      std::string labels;
      add_label(labels, "feature", f.name);
      if (cohort) {
        add_label(labels, "cohort_tag", tag);
        add_label(labels, "cohort_value", value);
      }
      features.push_back(&f);
      feature_labels.push_back(std::move(labels));
    }
    for (const OutputReport& o : os) {
      std::string labels;
      add_label(labels, "output", o.name);
      if (cohort) {
        add_label(labels, "cohort_tag", tag);
        add_label(labels, "cohort_value", value);
      }
      outputs.push_back(&o);
      output_labels.push_back(std::move(labels));
    }
  }
};

}  // namespace detail

inline void append_prometheus(std::string& out, const Report& report) {
  detail::PrometheusWriter w(out);
  const auto scalar = [&w](std::string_view name, std::string_view type, std::string_view help, auto value) {
    w.begin(name, type, help);
    w.sample("", value);
    w.end();
  };
  scalar("vigil_status", "gauge", "Health of the model: 0 ok, 1 warn, 2 alert (worst open alert).",
         detail::status_value(report.status));
  scalar("vigil_report_time_seconds", "gauge",
         "Event time the report describes (end of the latest evaluated interval), Unix seconds.", report.time);
  scalar("vigil_recent_requests", "gauge", "Requests in the recent interval(s) judged for short-term change.",
         report.recent_requests);
  scalar("vigil_horizon_requests", "gauge", "Requests in the long-term horizon judged for drift.",
         report.horizon_requests);
  scalar("vigil_requests_total", "counter", "Requests the monitor accepted.", report.counters.observed);

  w.begin("vigil_input_dropped_total", "counter", "Requests dropped, by reason: bad_time (NaN or infinite event time) or late (older than the lateness tolerance).");
  w.sample("reason=\"bad_time\"", report.counters.bad_time);
  w.sample("reason=\"late\"", report.counters.late);
  w.end();
  scalar("vigil_bad_latency_total", "counter", "Requests whose latency was negative or NaN and was not recorded.",
         report.counters.bad_latency);
  scalar("vigil_skipped_evaluations_total", "counter",
         "Intervals that passed out of fine retention before they were evaluated.",
         report.counters.skipped_evaluations);
  scalar("vigil_bad_arrival_time_total", "counter",
         "Arrivals reported with a NaN or infinite event time and dropped.", report.counters.bad_arrival_time);

  // Every (kind, severity) pair, zero included, so that an alert rule sees 0 rather than
  // an absent series.
  w.begin("vigil_alerts_open", "gauge", "Alerts currently open, by kind and severity.");
  std::string labels;
  for (int k = 0; k <= static_cast<int>(AlertKind::attribution); ++k) {
    const auto kind = static_cast<AlertKind>(k);
    for (const Severity severity : {Severity::warn, Severity::alert}) {
      std::uint64_t open = 0;
      for (const Alert& a : report.open_alerts) open += a.kind == kind && a.severity == severity ? 1 : 0;
      labels.clear();
      detail::add_label(labels, "kind", to_string(kind));
      detail::add_label(labels, "severity", to_string(severity));
      w.sample(labels, open);
    }
  }
  w.end();

  std::vector<std::string> cohort_labels;
  for (const CohortReport& c : report.cohorts) {
    labels.clear();
    detail::add_label(labels, "cohort_tag", c.tag);
    detail::add_label(labels, "cohort_value", c.value);
    cohort_labels.push_back(labels);
  }
  w.begin("vigil_cohort_status", "gauge", "Status of the cohort: 0 ok, 1 warn, 2 alert (worst of its features and outputs).");
  for (std::size_t i = 0; i < report.cohorts.size(); ++i)
    w.sample(cohort_labels[i], detail::status_value(report.cohorts[i].status));
  w.end();
  w.begin("vigil_cohort_horizon_requests", "gauge", "Requests of the cohort in the long-term horizon.");
  for (std::size_t i = 0; i < report.cohorts.size(); ++i) w.sample(cohort_labels[i], report.cohorts[i].requests);
  w.end();

  const detail::PrometheusSubjects subjects(report);
  for (const detail::FeatureMetric& family : detail::feature_families) {
    w.begin(family.name, "gauge", family.help);
    for (std::size_t i = 0; i < subjects.features.size(); ++i)
      w.sample(subjects.feature_labels[i], family.figure(*subjects.features[i]));
    w.end();
  }
  for (const detail::OutputMetric& family : detail::output_families) {
    w.begin(family.name, "gauge", family.help);
    for (std::size_t i = 0; i < subjects.outputs.size(); ++i)
      w.sample(subjects.output_labels[i], family.figure(*subjects.outputs[i]));
    w.end();
  }

  w.begin("vigil_output_score_quantile", "gauge", "Quantile of the output's scores in the recent interval(s).");
  for (std::size_t i = 0; i < subjects.outputs.size(); ++i) {
    const OutputReport& o = *subjects.outputs[i];
    const std::pair<const char*, double> quantiles[] = {{"0.5", o.recent_p50}, {"0.9", o.recent_p90}, {"0.99", o.recent_p99}};
    for (const auto& [q, value] : quantiles) {
      labels = subjects.output_labels[i];
      detail::add_label(labels, "quantile", q);
      w.sample(labels, value);
    }
  }
  w.end();
  w.begin("vigil_output_reference_score_quantile", "gauge", "Quantile of the output's scores in training.");
  for (std::size_t i = 0; i < subjects.outputs.size(); ++i) {
    labels = subjects.output_labels[i];
    detail::add_label(labels, "quantile", "0.5");
    w.sample(labels, subjects.outputs[i]->reference_p50);
  }
  w.end();

  const auto class_family = [&](const char* name, const char* help, const std::vector<double> OutputReport::*shares) {
    w.begin(name, "gauge", help);
    for (std::size_t i = 0; i < subjects.outputs.size(); ++i) {
      const OutputReport& o = *subjects.outputs[i];
      const std::vector<double>& share = o.*shares;
      for (std::size_t c = 0; c < o.classes.size() && c < share.size(); ++c) {
        labels = subjects.output_labels[i];
        detail::add_label(labels, "class", o.classes[c]);
        w.sample(labels, share[c]);
      }
    }
    w.end();
  };
  class_family("vigil_output_class_ratio", "Share of recent requests for which the model predicted the class.",
               &OutputReport::class_share);
  class_family("vigil_output_reference_class_ratio", "Share of training rows for which the model predicted the class.",
               &OutputReport::reference_class_share);

  const TrafficReport& traffic = report.traffic;
  scalar("vigil_traffic_status", "gauge",
         "Status of the request traffic: 0 ok, 1 warn, 2 alert (worst open alert about it).",
         detail::status_value(traffic.status));
  w.begin("vigil_traffic_info", "gauge",
          "Always 1; arrivals_source says whether arrivals are reported (arrivals) or taken from completions, "
          "rate_model which predictor gave the predicted arrivals (none, mean, recent or seasonal).");
  labels.clear();
  detail::add_label(labels, "arrivals_source", traffic.arrivals_source);
  detail::add_label(labels, "rate_model", traffic.rate_model);
  w.sample(labels, std::uint64_t{1});
  w.end();
  scalar("vigil_traffic_recent_arrivals", "gauge", "Arrivals in the recent interval(s).", traffic.recent_arrivals);
  scalar("vigil_traffic_recent_completions", "gauge", "Completed requests in the recent interval(s).",
         traffic.recent_completions);
  scalar("vigil_traffic_predicted_arrivals", "gauge", "Arrivals the rate predictor expected in the recent interval(s).",
         traffic.predicted_arrivals);
  scalar("vigil_traffic_arrival_z", "gauge",
         "Surprise of the recent arrival count against the prediction: standardised difference of log counts.",
         traffic.arrival_z);
  scalar("vigil_traffic_arrival_p_value", "gauge",
         "Two-sided Poisson p-value of the recent arrival count given the predicted arrivals.", traffic.arrival_p_value);
  scalar("vigil_traffic_rate_history_intervals", "gauge", "Intervals the arrival rate predictor was fitted on.",
         traffic.rate_history);
  scalar("vigil_traffic_last_arrival_time_seconds", "gauge", "Event time of the latest arrival, Unix seconds.",
         traffic.last_arrival);
  scalar("vigil_traffic_silence_seconds", "gauge", "Seconds from the latest arrival to the report time.",
         traffic.silence);
  scalar("vigil_traffic_silence_expected_arrivals", "gauge",
         "Arrivals the predicted rate expected during the current silence.", traffic.expected_in_silence);
  scalar("vigil_traffic_silence_p_value", "gauge",
         "Chance of a silence this long at the predicted rate: exp(-expected arrivals).", traffic.silence_p_value);
  scalar("vigil_traffic_in_flight", "gauge", "Requests that arrived and have not completed (arrivals minus completions).",
         traffic.in_flight);
  scalar("vigil_traffic_completion_ratio", "gauge", "Completions per arrival in the recent interval(s).",
         traffic.completion_ratio);
  scalar("vigil_traffic_background_completion_ratio", "gauge", "Completions per arrival in the trailing background.",
         traffic.background_completion_ratio);
  scalar("vigil_traffic_completion_p_value", "gauge",
         "G-test p-value of completions per arrival, recent against the background.", traffic.completion_p_value);
  scalar("vigil_traffic_error_ratio", "gauge", "Share of recent requests that ended in an error.", traffic.error_rate);
  scalar("vigil_traffic_background_error_ratio", "gauge",
         "Share of requests in the trailing background that ended in an error.", traffic.background_error_rate);
  scalar("vigil_traffic_error_p_value", "gauge", "P-value of the G test of the recent error rate against the background.",
         traffic.error_p_value);
  scalar("vigil_traffic_timeout_ratio", "gauge", "Share of recent requests that timed out.", traffic.timeout_rate);
  scalar("vigil_traffic_background_timeout_ratio", "gauge",
         "Share of requests in the trailing background that timed out.", traffic.background_timeout_rate);
  scalar("vigil_traffic_timeout_p_value", "gauge",
         "P-value of the G test of the recent timeout rate against the background.", traffic.timeout_p_value);

  const detail::PrometheusLatencies latencies(report);
  for (const detail::LatencyMetric& family : detail::latency_families) {
    w.begin(family.name, "gauge", family.help);
    for (std::size_t i = 0; i < latencies.latencies.size(); ++i)
      w.sample(latencies.labels[i], family.figure(*latencies.latencies[i]));
    w.end();
  }
  const auto quantile_family = [&](const char* name, const char* help, const char* const* quantiles,
                                   std::size_t n, double (*figure)(const LatencyReport&, std::size_t)) {
    w.begin(name, "gauge", help);
    for (std::size_t i = 0; i < latencies.latencies.size(); ++i) {
      for (std::size_t q = 0; q < n; ++q) {
        labels = latencies.labels[i];
        detail::add_label(labels, "quantile", quantiles[q]);
        w.sample(labels, figure(*latencies.latencies[i], q));
      }
    }
    w.end();
  };
  static const char* const all_quantiles[] = {"0.5", "0.99", "0.999"};
  static const char* const tail_quantiles[] = {"0.99", "0.999"};
  quantile_family("vigil_latency_quantile_seconds", "Latency quantile in the latency window, in seconds.",
                  all_quantiles, 3, [](const LatencyReport& l, std::size_t q) {
                    return q == 0 ? l.recent_p50 : q == 1 ? l.recent_p99 : l.recent_p999;
                  });
  quantile_family("vigil_latency_background_quantile_seconds",
                  "Latency quantile in the trailing background, in seconds.", all_quantiles, 3,
                  [](const LatencyReport& l, std::size_t q) {
                    return q == 0 ? l.background_p50 : q == 1 ? l.background_p99 : l.background_p999;
                  });
  quantile_family("vigil_latency_quantile_factor",
                  "Latency quantile in the latency window divided by the same quantile in the background (1 = unchanged).",
                  tail_quantiles, 2,
                  [](const LatencyReport& l, std::size_t q) { return q == 0 ? l.p99_ratio : l.p999_ratio; });

  for (const detail::AttributionFamily& family : detail::attribution_families) {
    w.begin(family.name, "gauge", family.help);
    for (std::size_t i = 0; i < latencies.latencies.size(); ++i) {
      for (const SlowAttribution& a : latencies.latencies[i]->attribution) {
        labels.clear();
        detail::add_label(labels, "tag", a.tag);
        detail::add_label(labels, "value", a.value);
        if (!latencies.labels[i].empty()) labels += ',' + latencies.labels[i];
        w.sample(labels, family.figure(a));
      }
    }
    w.end();
  }
}

inline std::string to_prometheus(const Report& report) {
  std::string out;
  out.reserve(8192 + 1500 * (report.features.size() + report.outputs.size() + 1) * (1 + report.cohorts.size()));
  append_prometheus(out, report);
  return out;
}

}  // namespace vigil

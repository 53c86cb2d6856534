// vigil — in-process monitoring of machine-learning models in C++ inference servers.
// SPDX-License-Identifier: Apache-2.0
#pragma once

// Report as Prometheus text exposition format 0.0.4, the body of a /metrics endpoint.
// Metric names follow the Prometheus naming practice (and OpenMetrics): base units,
// `_ratio` for shares in [0, 1], `_total` for counters, `_seconds` for times. docs/report.md
// lists every family with its type, labels and meaning.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "vigil/error.hpp"
#include "vigil/export/detail/text.hpp"
#include "vigil/monitor/alerts.hpp"
#include "vigil/monitor/report.hpp"
#include "vigil/sketch/log_histogram.hpp"

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
/// `q`, `kind`, `severity`, `reason`, `cohort_tag`, `cohort_value` (cohort values are
/// bounded by TagOptions::max_values), `tag`, `value` (the tag values a slow-request
/// attribution names, bounded the same way), `arrivals_source` and `rate_model` (a few fixed
/// words). Label values are escaped (backslash, double quote,
/// line feed) and invalid UTF-8 bytes become U+FFFD; a value that held such bytes is followed
/// by `~` and 16 hex digits of a hash of its bytes (detail::append_label_value), so values
/// that differ only there stay apart. No two samples of a family carry the same labels: a
/// cohort, feature, output, class or attribution whose labels still equal an earlier one's
/// (a hash collision, or a valid value spelled like a repaired one) is left out and counted
/// in `vigil_prometheus_refused_series`, written only when not 0. A figure that is NaN (not computed) is
/// omitted rather than written as `NaN`, so that "no data" reads as an absent series and
/// never compares true in a PromQL alert; infinities are written `+Inf` / `-Inf`. Samples
/// carry no timestamp: the scrape time applies, and `vigil_report_time_seconds` says which
/// event time the figures describe.
///
/// The text passes `promtool check metrics`: quantiles of the report are gauges, so their
/// label is `q` (Prometheus reserves `quantile` for summaries, whose quantiles come with a
/// cumulative `_count` and `_sum` that a window of the report does not have).
///
/// Latencies, thresholds and silences are in seconds, rates in [0, 1], as in the Report.
///
/// Once the monitor has seen latencies, the text also holds the histogram
/// `vigil_request_latency_seconds` of every latency since the monitor started
/// (LatencyReport::since_start), written by append_prometheus_histogram() with its default
/// edges: counters that only grow, whose buckets add up across replicas with
/// `sum by (le)` (docs/fleet.md).
///
/// Complexity: O(families × (features + outputs + attributions) × (1 + cohorts)).
inline std::string to_prometheus(const Report& report);

/// Appends the same text to `out`, e.g. after a server's own metrics.
inline void append_prometheus(std::string& out, const Report& report);

/// How append_prometheus_histogram() writes a histogram: its name, its labels and the `le`
/// edges of its buckets.
struct PrometheusHistogramOptions {
  /// The family; its series are `<name>_bucket`, `<name>_sum` and `<name>_count`.
  /// A Prometheus metric name, [a-zA-Z_:][a-zA-Z0-9_:]*.
  std::string name = "vigil_request_latency_seconds";
  std::string help = "Latency of the requests served since the process started, in seconds.";
  /// Labels of every series besides `le`, as (name, value); values are escaped as
  /// to_prometheus() escapes them. Names are [a-zA-Z_][a-zA-Z0-9_]*, not `le`, not `__*`.
  std::vector<std::pair<std::string, std::string>> labels;
  /// The `le` edges are the bucket boundaries of a Prometheus native histogram (an
  /// OpenTelemetry exponential histogram) of this schema: 2^(k·2^-schema) for integers k.
  /// −4 ≤ schema ≤ 8, the schemas Prometheus accepts.
  int schema = 2;
  /// The smallest and the largest finite `le`: the boundaries at or below `lowest` and at or
  /// above `highest`. 0 < lowest ≤ highest, finite; at most 4096 edges between them.
  double lowest = 1.0 / 4096;
  double highest = 64;
};

/// Appends `histogram` to `out` as a Prometheus histogram family of text format 0.0.4: a
/// cumulative `<name>_bucket` per `le` edge (options.schema's boundaries from options.lowest
/// to options.highest, then `+Inf`), `<name>_sum` and `<name>_count`:
///
/// ```text
/// # HELP vigil_request_latency_seconds Latency of the requests served since the process started, in seconds.
/// # TYPE vigil_request_latency_seconds histogram
/// vigil_request_latency_seconds_bucket{le="0.000244140625"} 0
/// ...
/// vigil_request_latency_seconds_bucket{le="0.011048543456039806"} 2385
/// vigil_request_latency_seconds_bucket{le="0.013139006488339289"} 3512
/// vigil_request_latency_seconds_bucket{le="0.015625"} 4526
/// ...
/// vigil_request_latency_seconds_bucket{le="64"} 5856
/// vigil_request_latency_seconds_bucket{le="+Inf"} 5856
/// vigil_request_latency_seconds_sum 75.78998999999997
/// vigil_request_latency_seconds_count 5856
/// ```
///
/// Prometheus counters must only grow, so give it a histogram that only grows: one that
/// records every request since the process started (a ConcurrentLogHistogram the request
/// threads record into, for example), never an interval's. The edges depend on the options
/// alone, never on the data, so every replica writes the same `le` values, and
/// `sum by (le) (...)` adds their buckets exactly (docs/fleet.md). Since the edges are native
/// boundaries, a native histogram of the same data at options.schema or finer has every `le`
/// among its boundaries: reduced to options.schema, it holds these buckets.
///
/// Each bucket counts the values ≤ its `le`, exactly when histogram.scale() ≥ options.schema
/// (the histogram's boundaries include every edge); from a coarser histogram an edge between
/// two of its boundaries counts the values up to the boundary below it. Values in the zero
/// bucket count from the first edge ≥ the histogram's zero threshold on; values below
/// options.lowest in the first bucket, values above options.highest only in `+Inf`.
/// `_count` is the `+Inf` bucket and `_sum` the histogram's sum(). While other threads record,
/// the buckets come from one pass over the counters, so they stay cumulative in `le` and grow
/// from scrape to scrape; `_sum` is read just after them.
///
/// Throws vigil::invalid_argument for options out of range (naming the value).
/// Complexity: O(edges + histogram buckets).
template <class Counter>
void append_prometheus_histogram(std::string& out, const BasicLogHistogram<Counter>& histogram,
                                 const PrometheusHistogramOptions& options = {});

namespace detail {

/// Writes metric families. A family's HELP and TYPE lines go out just before its first
/// sample, so a family whose figures are all NaN leaves no trace; families never interleave.
class PrometheusWriter {
 public:
  explicit PrometheusWriter(std::string& out) : out_(out) {}

  /// Starts the family `name` of `type` ("gauge", "counter" or "histogram"); the samples
  /// that follow belong to it.
  void family(std::string_view name, std::string_view type, std::string_view help) {
    name_ = name;
    type_ = type;
    help_ = help;
    suffix_ = {};
    header_written_ = false;
  }
  /// The samples that follow are of the family's series `<name><suffix>`: a histogram's
  /// `_bucket`, `_sum` and `_count`.
  void series(std::string_view suffix) { suffix_ = suffix; }
  /// One sample; NaN is skipped. `labels` is the text between the braces (may be empty).
  void sample(std::string_view labels, double value) {
    if (std::isnan(value)) return;
    start_sample(labels);
    if (std::isinf(value)) {
      out_ += value > 0 ? "+Inf" : "-Inf";
    } else {
      append_number(out_, value);
    }
    out_ += '\n';
  }
  void sample(std::string_view labels, std::uint64_t value) {
    start_sample(labels);
    fmt::format_to(std::back_inserter(out_), "{}\n", value);
  }
  void sample(std::string_view labels, std::int64_t value) {
    start_sample(labels);
    fmt::format_to(std::back_inserter(out_), "{}\n", value);
  }
  /// One sample with `labels` and one more label `name="value"`, e.g. `q="0.99"`.
  void sample(std::string_view labels, std::string_view name, std::string_view value, double figure);
  /// Counts `n` series left out because their labels repeat an earlier series' labels.
  void refuse(std::size_t n) { refused_ += n; }
  std::size_t refused() const { return refused_; }
  /// A gauge or counter family of one sample without labels.
  template <class T>
  void gauge(std::string_view name, std::string_view help, T value) {
    family(name, "gauge", help);
    sample("", value);
  }
  template <class T>
  void counter(std::string_view name, std::string_view help, T value) {
    family(name, "counter", help);
    sample("", value);
  }

 private:
  void start_sample(std::string_view labels) {
    if (!header_written_) write_header();
    out_ += name_;
    out_ += suffix_;
    if (!labels.empty()) {
      out_ += '{';
      out_ += labels;
      out_ += '}';
    }
    out_ += ' ';
  }
  void write_header();

  std::string& out_;
  std::string_view name_;
  std::string_view type_;
  std::string_view help_;
  std::string_view suffix_;
  bool header_written_ = false;
  std::string labels_;  // reused by the sample with one more label
  std::size_t refused_ = 0;
};

/// Keeps the first of the entries of `entries` whose `labels_of(entry)` are equal and removes
/// the others, in order. Returns how many were removed. O(n log n).
template <class Entry, class LabelsOf>
std::size_t remove_repeated_labels(std::vector<Entry>& entries, LabelsOf&& labels_of) {
  std::vector<std::size_t> order(entries.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return labels_of(entries[a]) < labels_of(entries[b]); });
  std::vector<bool> repeated(entries.size(), false);
  for (std::size_t k = 1; k < order.size(); ++k)
    repeated[order[k]] = labels_of(entries[order[k]]) == labels_of(entries[order[k - 1]]);
  std::size_t kept = 0;
  for (std::size_t i = 0; i < entries.size(); ++i) {
    if (repeated[i]) continue;
    if (kept != i) entries[kept] = std::move(entries[i]);
    ++kept;
  }
  const std::size_t removed = entries.size() - kept;
  entries.erase(entries.begin() + static_cast<std::ptrdiff_t>(kept), entries.end());
  return removed;
}

/// Appends `name="value"` to a label list, with a comma when the list is not empty.
inline void add_label(std::string& labels, std::string_view name, std::string_view value) {
  if (!labels.empty()) labels += ',';
  labels += name;
  labels += "=\"";
  append_label_value(labels, value);
  labels += '"';
}

inline void PrometheusWriter::sample(std::string_view labels, std::string_view name, std::string_view value,
                                     double figure) {
  labels_.assign(labels.data(), labels.size());
  add_label(labels_, name, value);
  sample(labels_, figure);
}

inline void PrometheusWriter::write_header() {
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
  header_written_ = true;
}

/// A status as a gauge value: 0 ok, 1 warn, 2 alert, and −1 for insufficient_data, below ok
/// so that a rule on `> 0` pages no one for it and `== 0` does not read it as ok.
inline double status_value(Status s) {
  return s == Status::insufficient_data ? -1.0 : static_cast<double>(static_cast<int>(s));
}

/// What the figures of a series describe: the whole model (no label) or one cohort
/// (`cohort_tag`, `cohort_value`). Every feature, output and latency family repeats its
/// series over the scopes, the model's first.
struct PrometheusScope {
  const CohortReport* cohort;  // null for the whole model
  std::string labels;
  const std::vector<FeatureReport>* features;
  const std::vector<OutputReport>* outputs;
  const LatencyReport* latency;
  const QualityReport* quality;
  const std::vector<CanaryReport>* canary;
  const std::vector<AttributionReport>* attribution;
};

inline std::vector<PrometheusScope> prometheus_scopes(const Report& report) {
  std::vector<PrometheusScope> scopes;
  scopes.push_back({nullptr, {}, &report.features, &report.outputs, &report.latency, &report.quality, &report.canary,
                    &report.attribution});
  for (const CohortReport& c : report.cohorts) {
    std::string labels;
    add_label(labels, "cohort_tag", c.tag);
    add_label(labels, "cohort_value", c.value);
    scopes.push_back({&c, std::move(labels), &c.features, &c.outputs, &c.latency, &c.quality, &c.canary, &c.attribution});
  }
  return scopes;
}

/// One series of a family: the figures of `item`, under `labels`.
template <class Item>
struct PrometheusSeries {
  const Item* item;
  std::string labels;
};

template <class Item>
const std::string& labels_of(const PrometheusSeries<Item>& series) {
  return series.labels;
}

/// The labels of an item in a scope: its own, then the scope's.
inline std::string scoped_labels(std::string labels, const PrometheusScope& scope) {
  if (!scope.labels.empty()) {
    if (!labels.empty()) labels += ',';
    labels += scope.labels;
  }
  return labels;
}

/// Every feature or output (`items` of each scope) as a series labelled `label` = its name.
template <class Item>
std::vector<PrometheusSeries<Item>> named_series(const std::vector<PrometheusScope>& scopes,
                                                 const std::vector<Item>* PrometheusScope::*items,
                                                 std::string_view label) {
  std::vector<PrometheusSeries<Item>> series;
  for (const PrometheusScope& scope : scopes) {
    for (const Item& item : *(scope.*items)) {
      std::string labels;
      add_label(labels, label, item.name);
      series.push_back({&item, scoped_labels(std::move(labels), scope)});
    }
  }
  return series;
}

inline std::vector<PrometheusSeries<LatencyReport>> latency_series(const std::vector<PrometheusScope>& scopes) {
  std::vector<PrometheusSeries<LatencyReport>> series;
  for (const PrometheusScope& scope : scopes) series.push_back({scope.latency, scope.labels});
  return series;
}

/// Every tag value of every scope's slow-request attribution, labelled `tag` and `value`.
inline std::vector<PrometheusSeries<SlowAttribution>> attribution_series(const std::vector<PrometheusScope>& scopes) {
  std::vector<PrometheusSeries<SlowAttribution>> series;
  for (const PrometheusScope& scope : scopes) {
    for (const SlowAttribution& a : scope.latency->attribution) {
      std::string labels;
      add_label(labels, "tag", a.tag);
      add_label(labels, "value", a.value);
      series.push_back({&a, scoped_labels(std::move(labels), scope)});
    }
  }
  return series;
}

/// A gauge family with one figure per series.
template <class Item>
struct PrometheusGauge {
  const char* name;
  const char* help;
  double (*figure)(const Item&);
};

template <class Item, std::size_t N>
void write_gauges(PrometheusWriter& w, const PrometheusGauge<Item> (&gauges)[N],
                  const std::vector<PrometheusSeries<Item>>& series) {
  for (const PrometheusGauge<Item>& gauge : gauges) {
    w.family(gauge.name, "gauge", gauge.help);
    for (const auto& [item, labels] : series) w.sample(labels, gauge.figure(*item));
  }
}

/// A figure of a quantile family, labelled `q` (see to_prometheus on why not `quantile`).
struct PrometheusQuantile {
  const char* quantile;
  double value;
};

template <std::size_t N>
void write_quantiles(PrometheusWriter& w, std::string_view labels, const PrometheusQuantile (&quantiles)[N]) {
  for (const PrometheusQuantile& q : quantiles) w.sample(labels, "q", q.quantile, q.value);
}

// clang-format off
inline const PrometheusGauge<FeatureReport> feature_gauges[] = {
  {"vigil_feature_status", "Status of the feature: 0 ok, 1 warn, 2 alert, -1 insufficient data: too few recent requests, even pooled (else the worst open alert about it).",
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
  {"vigil_feature_recent_requests", "Requests in the recent interval(s), with or without the feature.",
   [](const FeatureReport& f) { return static_cast<double>(f.recent_requests); }},
  {"vigil_feature_recent_intervals", "Intervals in the recent sample, pooled back while they held too few requests.",
   [](const FeatureReport& f) { return static_cast<double>(f.recent_intervals); }},
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

inline const PrometheusGauge<OutputReport> output_gauges[] = {
  {"vigil_output_status", "Status of the model output: 0 ok, 1 warn, 2 alert, -1 insufficient data: too few recent requests, even pooled (else the worst open alert about it).",
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
  {"vigil_output_recent_requests", "Requests in the recent interval(s), with or without a score.",
   [](const OutputReport& o) { return static_cast<double>(o.recent_requests); }},
  {"vigil_output_recent_intervals", "Intervals in the recent sample, pooled back while they held too few requests.",
   [](const OutputReport& o) { return static_cast<double>(o.recent_intervals); }},
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
  {"vigil_output_missing_ratio", "Share of recent requests without a finite score for the output (absent, NaN or infinite).",
   [](const OutputReport& o) { return o.missing_rate; }},
  {"vigil_output_missing_scores", "Recent requests without a score for the output.",
   [](const OutputReport& o) { return static_cast<double>(o.missing_scores); }},
  {"vigil_output_non_finite_scores", "Recent scores of the output that were NaN or infinite.",
   [](const OutputReport& o) { return static_cast<double>(o.non_finite_scores); }},
  {"vigil_output_non_finite_ratio", "Share of recent requests whose score for the output was NaN or infinite.",
   [](const OutputReport& o) { return o.non_finite_rate; }},
  {"vigil_output_reference_missing_ratio", "Share of training rows without a finite score for the output.",
   [](const OutputReport& o) { return o.reference_missing_rate; }},
  {"vigil_output_background_missing_ratio", "Share of requests in the trailing background without a finite score for the output.",
   [](const OutputReport& o) { return o.background_missing_rate; }},
  {"vigil_output_missing_p_value", "P-value of the G test of the recent share without a finite score against training.",
   [](const OutputReport& o) { return o.missing_p_value; }},
  {"vigil_output_missing_shift_p_value", "P-value of the G test of the recent share without a finite score against the trailing background.",
   [](const OutputReport& o) { return o.missing_shift_p_value; }},
  {"vigil_output_missing_classes", "Recent requests without a class for the output (outputs with classes).",
   [](const OutputReport& o) { return static_cast<double>(o.missing_classes); }},
  {"vigil_output_class_g_statistic", "G statistic of the recent predicted-class counts against the trailing background.",
   [](const OutputReport& o) { return o.class_statistic; }},
  {"vigil_output_class_p_value", "P-value of the G test of the recent predicted-class counts against the trailing background.",
   [](const OutputReport& o) { return o.class_p_value; }},
};

inline const PrometheusGauge<LatencyReport> latency_gauges[] = {
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

inline const PrometheusGauge<SlowAttribution> attribution_gauges[] = {
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

/// Health, report time and the requests judged.
inline void append_model_metrics(PrometheusWriter& w, const Report& report) {
  w.gauge("vigil_status", "Health of the model: 0 ok, 1 warn, 2 alert (worst open alert); without an open alert, -1 when a feature or output could not be judged.",
          status_value(report.status));
  w.gauge("vigil_report_time_seconds",
          "Event time the report describes (end of the latest evaluated interval), Unix seconds.", report.time);
  w.gauge("vigil_recent_requests", "Requests in the recent interval(s) judged for short-term change.",
          report.recent_requests);
  w.gauge("vigil_horizon_requests", "Requests in the long-term horizon judged for drift.", report.horizon_requests);
}

inline void append_input_counters(PrometheusWriter& w, const InputCounters& counters) {
  w.counter("vigil_requests_total", "Requests the monitor accepted.", counters.observed);
  w.family("vigil_input_dropped_total", "counter",
           "Requests dropped, by reason: bad_time (NaN or infinite event time), late (older than the lateness "
           "tolerance) or future (dated too far ahead of the monitor's clock).");
  w.sample("reason=\"bad_time\"", counters.bad_time);
  w.sample("reason=\"late\"", counters.late);
  w.sample("reason=\"future\"", counters.future);
  w.counter("vigil_bad_latency_total", "Requests whose latency was negative or NaN and was not recorded.",
            counters.bad_latency);
  w.counter("vigil_clock_changes_total",
            "Times the monitor's clock moved ahead to events dated beyond it, on the evidence of several in a row.",
            counters.clock_changes);
  w.counter("vigil_skipped_evaluations_total",
            "Intervals that passed out of fine retention before they were evaluated.", counters.skipped_evaluations);
  w.counter("vigil_bad_arrival_time_total", "Arrivals reported with a NaN or infinite event time and dropped.",
            counters.bad_arrival_time);
  w.counter("vigil_truncated_values_total",
            "Category values, tag values and predicted classes longer than the longest kept, cut to it.",
            counters.truncated_values);
}

/// Every (kind, severity) pair, zero included, so that an alert rule sees 0 rather than an
/// absent series.
inline void append_open_alerts(PrometheusWriter& w, const std::vector<Alert>& open_alerts) {
  w.family("vigil_alerts_open", "gauge", "Alerts currently open, by kind and severity.");
  std::string labels;
  for (int k = 0; k <= static_cast<int>(AlertKind::attribution); ++k) {
    const auto kind = static_cast<AlertKind>(k);
    for (const Severity severity : {Severity::warn, Severity::alert}) {
      std::uint64_t open = 0;
      for (const Alert& a : open_alerts) open += a.kind == kind && a.severity == severity ? 1 : 0;
      labels.clear();
      add_label(labels, "kind", to_string(kind));
      add_label(labels, "severity", to_string(severity));
      w.sample(labels, open);
    }
  }
}

inline void append_cohort_metrics(PrometheusWriter& w, const std::vector<PrometheusScope>& scopes) {
  w.family("vigil_cohort_status", "gauge",
           "Status of the cohort: 0 ok, 1 warn, 2 alert (worst of its features, outputs and latency); without an open alert, -1 when a feature or output could not be judged.");
  for (const PrometheusScope& scope : scopes)
    if (scope.cohort != nullptr) w.sample(scope.labels, status_value(scope.cohort->status));
  w.family("vigil_cohort_horizon_requests", "gauge", "Requests of the cohort in the long-term horizon.");
  for (const PrometheusScope& scope : scopes)
    if (scope.cohort != nullptr) w.sample(scope.labels, scope.cohort->requests);
}

inline void append_feature_metrics(PrometheusWriter& w, const std::vector<PrometheusScope>& scopes) {
  auto features = named_series(scopes, &PrometheusScope::features, "feature");
  w.refuse(remove_repeated_labels(features, labels_of<FeatureReport>));
  write_gauges(w, feature_gauges, features);
}

/// One predicted class of an output, labelled `class` after the output's labels.
struct PrometheusClass {
  const OutputReport* output;
  std::size_t index;  // in output->classes
  std::string labels;
};

inline const std::string& labels_of_class(const PrometheusClass& c) { return c.labels; }

/// Every class of every output series; a class whose labels repeat an earlier one's is
/// refused.
inline std::vector<PrometheusClass> class_series(PrometheusWriter& w,
                                                 const std::vector<PrometheusSeries<OutputReport>>& outputs) {
  std::vector<PrometheusClass> classes;
  for (const auto& [o, labels] : outputs) {
    for (std::size_t c = 0; c < o->classes.size(); ++c) {
      std::string with_class = labels;
      add_label(with_class, "class", o->classes[c]);
      classes.push_back({o, c, std::move(with_class)});
    }
  }
  w.refuse(remove_repeated_labels(classes, labels_of_class));
  return classes;
}

/// The share of requests per predicted class, recent or in training (`shares`).
inline void append_class_ratios(PrometheusWriter& w, const char* name, const char* help,
                                const std::vector<PrometheusClass>& classes,
                                const std::vector<double> OutputReport::*shares) {
  w.family(name, "gauge", help);
  for (const PrometheusClass& c : classes) {
    const std::vector<double>& share = c.output->*shares;
    if (c.index < share.size()) w.sample(c.labels, share[c.index]);
  }
}

inline void append_output_metrics(PrometheusWriter& w, const std::vector<PrometheusScope>& scopes) {
  auto outputs = named_series(scopes, &PrometheusScope::outputs, "output");
  w.refuse(remove_repeated_labels(outputs, labels_of<OutputReport>));
  write_gauges(w, output_gauges, outputs);
  w.family("vigil_output_score_quantile", "gauge", "Quantile of the output's scores in the recent interval(s).");
  for (const auto& [o, labels] : outputs)
    write_quantiles(w, labels, {{"0.5", o->recent_p50}, {"0.9", o->recent_p90}, {"0.99", o->recent_p99}});
  w.family("vigil_output_reference_score_quantile", "gauge", "Quantile of the output's scores in training.");
  for (const auto& [o, labels] : outputs) write_quantiles(w, labels, {{"0.5", o->reference_p50}});
  const std::vector<PrometheusClass> classes = class_series(w, outputs);
  append_class_ratios(w, "vigil_output_class_ratio",
                      "Share of recent requests for which the model predicted the class.", classes,
                      &OutputReport::class_share);
  append_class_ratios(w, "vigil_output_reference_class_ratio",
                      "Share of training rows for which the model predicted the class.", classes,
                      &OutputReport::reference_class_share);
}

/// Arrivals against the predicted rate, and the silence since the latest arrival.
inline void append_arrival_metrics(PrometheusWriter& w, const TrafficReport& traffic) {
  w.family("vigil_traffic_info", "gauge",
           "Always 1; arrivals_source says whether arrivals are reported (arrivals) or taken from completions, "
           "rate_model which predictor gave the predicted arrivals (none, mean, recent or seasonal).");
  std::string labels;
  add_label(labels, "arrivals_source", traffic.arrivals_source);
  add_label(labels, "rate_model", traffic.rate_model);
  w.sample(labels, std::uint64_t{1});
  w.gauge("vigil_traffic_recent_arrivals", "Arrivals in the recent interval(s).", traffic.recent_arrivals);
  w.gauge("vigil_traffic_recent_completions", "Completed requests in the recent interval(s).",
          traffic.recent_completions);
  w.gauge("vigil_traffic_predicted_arrivals", "Arrivals the rate predictor expected in the recent interval(s).",
          traffic.predicted_arrivals);
  w.gauge("vigil_traffic_arrival_z",
          "Surprise of the recent arrival count against the prediction: standardised difference of log counts.",
          traffic.arrival_z);
  w.gauge("vigil_traffic_arrival_p_value",
          "Two-sided Poisson p-value of the recent arrival count given the predicted arrivals.",
          traffic.arrival_p_value);
  w.gauge("vigil_traffic_rate_history_intervals", "Intervals the arrival rate predictor was fitted on.",
          traffic.rate_history);
  w.gauge("vigil_traffic_last_arrival_time_seconds", "Event time of the latest arrival, Unix seconds.",
          traffic.last_arrival);
  w.gauge("vigil_traffic_silence_seconds", "Seconds from the latest arrival to the report time.", traffic.silence);
  w.gauge("vigil_traffic_silence_expected_arrivals", "Arrivals the predicted rate expected during the current silence.",
          traffic.expected_in_silence);
  w.gauge("vigil_traffic_silence_p_value",
          "Chance of a silence this long at the predicted rate: exp(-expected arrivals).", traffic.silence_p_value);
}

/// Requests in flight, and completions, errors and timeouts against the background.
inline void append_outcome_metrics(PrometheusWriter& w, const TrafficReport& traffic) {
  w.gauge("vigil_traffic_in_flight", "Requests that arrived and have not completed (arrivals minus completions).",
          traffic.in_flight);
  w.gauge("vigil_traffic_completion_ratio", "Completions per arrival in the recent interval(s).",
          traffic.completion_ratio);
  w.gauge("vigil_traffic_background_completion_ratio", "Completions per arrival in the trailing background.",
          traffic.background_completion_ratio);
  w.gauge("vigil_traffic_completion_p_value",
          "G-test p-value of completions per arrival, recent against the background.", traffic.completion_p_value);
  w.gauge("vigil_traffic_error_ratio", "Share of recent requests that ended in an error.", traffic.error_rate);
  w.gauge("vigil_traffic_background_error_ratio",
          "Share of requests in the trailing background that ended in an error.", traffic.background_error_rate);
  w.gauge("vigil_traffic_error_p_value", "P-value of the G test of the recent error rate against the background.",
          traffic.error_p_value);
  w.gauge("vigil_traffic_timeout_ratio", "Share of recent requests that timed out.", traffic.timeout_rate);
  w.gauge("vigil_traffic_background_timeout_ratio", "Share of requests in the trailing background that timed out.",
          traffic.background_timeout_rate);
  w.gauge("vigil_traffic_timeout_p_value", "P-value of the G test of the recent timeout rate against the background.",
          traffic.timeout_p_value);
}

inline void append_traffic_metrics(PrometheusWriter& w, const TrafficReport& traffic) {
  w.gauge("vigil_traffic_status", "Status of the request traffic: 0 ok, 1 warn, 2 alert (worst open alert about it).",
          status_value(traffic.status));
  append_arrival_metrics(w, traffic);
  append_outcome_metrics(w, traffic);
}

inline void append_latency_quantiles(PrometheusWriter& w,
                                     const std::vector<PrometheusSeries<LatencyReport>>& latencies) {
  w.family("vigil_latency_quantile_seconds", "gauge", "Latency quantile in the latency window, in seconds.");
  for (const auto& [l, labels] : latencies)
    write_quantiles(w, labels, {{"0.5", l->recent_p50}, {"0.99", l->recent_p99}, {"0.999", l->recent_p999}});
  w.family("vigil_latency_background_quantile_seconds", "gauge",
           "Latency quantile in the trailing background, in seconds.");
  for (const auto& [l, labels] : latencies)
    write_quantiles(w, labels,
                    {{"0.5", l->background_p50}, {"0.99", l->background_p99}, {"0.999", l->background_p999}});
  w.family("vigil_latency_quantile_factor", "gauge",
           "Latency quantile in the latency window divided by the same quantile in the background (1 = unchanged).");
  for (const auto& [l, labels] : latencies)
    write_quantiles(w, labels, {{"0.99", l->p99_ratio}, {"0.999", l->p999_ratio}});
}

inline void append_latency_metrics(PrometheusWriter& w, const std::vector<PrometheusScope>& scopes) {
  const auto latencies = latency_series(scopes);
  write_gauges(w, latency_gauges, latencies);
  append_latency_quantiles(w, latencies);
  auto attributions = attribution_series(scopes);
  w.refuse(remove_repeated_labels(attributions, labels_of<SlowAttribution>));
  write_gauges(w, attribution_gauges, attributions);
}

/// Series refused because their labels repeated an earlier series' (see to_prometheus).
inline void append_refused_series(PrometheusWriter& w) {
  if (w.refused() == 0) return;
  w.gauge("vigil_prometheus_refused_series",
          "Cohorts, features, outputs, classes and slow-request attributions left out of this exposition: their "
          "labels, invalid UTF-8 repaired, equal an earlier one's.",
          static_cast<std::uint64_t>(w.refused()));
}

/// Every quality figure of every scope, labelled `metric` (realised figures and estimates,
/// whose names start with "estimated_").
inline std::vector<PrometheusSeries<QualityMetric>> quality_series(const std::vector<PrometheusScope>& scopes) {
  std::vector<PrometheusSeries<QualityMetric>> series;
  for (const PrometheusScope& scope : scopes) {
    for (const auto* list : {&scope.quality->metrics, &scope.quality->estimated}) {
      for (const QualityMetric& m : *list) {
        std::string labels;
        add_label(labels, "metric", m.name);
        series.push_back({&m, scoped_labels(std::move(labels), scope)});
      }
    }
  }
  return series;
}

// clang-format off
inline const PrometheusGauge<QualityMetric> quality_gauges[] = {
  {"vigil_quality_metric", "Quality of the labelled output over the quality window (estimated_*: from the scores of the recent interval(s)).",
   [](const QualityMetric& m) { return m.recent; }},
  {"vigil_quality_baseline", "The same figure on the labelled holdout of the training profile.",
   [](const QualityMetric& m) { return m.baseline; }},
  {"vigil_quality_p_value", "P-value of the test that the figure is worse than the baseline.",
   [](const QualityMetric& m) { return m.p_value; }},
  {"vigil_quality_status", "Status of the figure: 0 ok, 1 warn, 2 alert (worst open alert about it).",
   [](const QualityMetric& m) { return status_value(m.status); }},
  {"vigil_quality_requests", "Requests the figure rests on: labelled ones, or scored ones for an estimate.",
   [](const QualityMetric& m) { return m.count; }},
};
// clang-format on

/// Quality figures per scope, and what became of the labels (the whole model's).
inline void append_quality_metrics(PrometheusWriter& w, const std::vector<PrometheusScope>& scopes, const QualityReport& q) {
  auto series = quality_series(scopes);
  w.refuse(remove_repeated_labels(series, labels_of<QualityMetric>));
  write_gauges(w, quality_gauges, series);
  w.gauge("vigil_quality_labelled_requests", "Requests of the quality window with their label joined so far.", q.labelled);
  w.gauge("vigil_label_pending_requests", "Requests with an id waiting for their label.", q.pending);
  w.family("vigil_labels_total", "counter",
           "Labels received, by outcome: joined, unknown_id, duplicate, too_late, bad_label (wrong type), bad_time, "
           "before_request.");
  w.sample("outcome=\"joined\"", q.joined);
  w.sample("outcome=\"unknown_id\"", q.unknown_ids);
  w.sample("outcome=\"duplicate\"", q.duplicate_labels);
  w.sample("outcome=\"too_late\"", q.late_labels);
  w.sample("outcome=\"bad_label\"", q.bad_labels);
  w.sample("outcome=\"bad_time\"", q.bad_label_times);
  w.sample("outcome=\"before_request\"", q.labels_before_request);
  w.counter("vigil_label_requests_evicted_total", "Requests pushed out of the label store by its capacity before a label came.",
            q.evicted);
  w.counter("vigil_label_requests_expired_total", "Requests never labelled within the labels' time-to-live.", q.expired);
  w.counter("vigil_label_duplicate_ids_total", "Requests filed with an id already waiting.", q.duplicate_ids);
  w.counter("vigil_labels_beyond_window_total", "Labels joined for requests older than the quality intervals kept.",
            q.labels_beyond_window);
  w.counter("vigil_labels_applied_early_total", "Labels credited before the evaluation of the interval they came in.",
            q.labels_applied_early);
  w.family("vigil_label_attributions_total", "counter",
           "Loss attributions given with labels, by outcome: attributed (a joined label's, credited), wrong_count "
           "(not one per input feature: left out), bad_value (NaN or infinite values, left out of their feature), "
           "applied_early (credited before their interval's evaluation).");
  w.sample("outcome=\"attributed\"", q.attributed_labels);
  w.sample("outcome=\"wrong_count\"", q.attributions_wrong_count);
  w.sample("outcome=\"bad_value\"", q.attribution_bad_values);
  w.sample("outcome=\"applied_early\"", q.attributions_applied_early);
}

// clang-format off
inline const PrometheusGauge<ConversionArm> conversion_gauges[] = {
  {"vigil_conversion_impressions", "Requests with an id of the arm in the impressions kept (one label time-to-live).",
   [](const ConversionArm& a) { return static_cast<double>(a.impressions); }},
  {"vigil_conversion_responses", "Responses joined to the arm's kept impressions so far, at any delay.",
   [](const ConversionArm& a) { return static_cast<double>(a.conversions); }},
  {"vigil_conversion_naive_rate", "Responses over impressions whatever their age (favours arms with older traffic).",
   [](const ConversionArm& a) { return a.naive_rate; }},
  {"vigil_conversion_rate_at_delay", "Response rate within vigil_conversion_delay_seconds, of the impressions at least that old.",
   [](const ConversionArm& a) { return a.rate_at_delay; }},
  {"vigil_conversion_rate_low", "Lower end of the Wilson interval of the rate at the delay (all arms' intervals hold together).",
   [](const ConversionArm& a) { return a.low; }},
  {"vigil_conversion_rate_high", "Upper end of the same interval.",
   [](const ConversionArm& a) { return a.high; }},
};
// clang-format on

/// Conversions per arm, the delay they are compared at, and what became of the responses;
/// nothing when conversions are not tracked.
inline void append_conversion_metrics(PrometheusWriter& w, const ConversionReport& c) {
  if (c.arm_tag.empty()) return;
  std::vector<PrometheusSeries<ConversionArm>> series;
  for (const ConversionArm& a : c.arms) {
    std::string labels;
    add_label(labels, "arm", a.arm);
    series.push_back({&a, std::move(labels)});
  }
  w.refuse(remove_repeated_labels(series, labels_of<ConversionArm>));
  write_gauges(w, conversion_gauges, series);
  w.gauge("vigil_conversion_delay_seconds",
          "Delay since the impression by which the configured share of the eventual responses has come (NaN until known).",
          c.delay);
  w.gauge("vigil_conversion_eventual_rate", "Response rate of all arms at the horizon delay.", c.eventual_rate);
  w.family("vigil_conversions_total", "counter",
           "Responses received, by outcome: joined, unknown_id, duplicate, too_late, bad_time, before_impression.");
  w.sample("outcome=\"joined\"", c.joined);
  w.sample("outcome=\"unknown_id\"", c.unknown_ids);
  w.sample("outcome=\"duplicate\"", c.duplicates);
  w.sample("outcome=\"too_late\"", c.too_late);
  w.sample("outcome=\"bad_time\"", c.bad_times);
  w.sample("outcome=\"before_impression\"", c.before_impression);
}

// clang-format off
inline const PrometheusGauge<CanaryReport> canary_gauges[] = {
  {"vigil_canary_mean_abs_deviation", "Mean |shadow score - champion score| over the recent interval(s).",
   [](const CanaryReport& c) { return c.mean_abs_deviation; }},
  {"vigil_canary_background_mean_abs_deviation", "The same over the trailing background.",
   [](const CanaryReport& c) { return c.background_mean_abs_deviation; }},
  {"vigil_canary_p99_abs_deviation", "99th percentile of |shadow score - champion score| over the recent interval(s).",
   [](const CanaryReport& c) { return c.p99_abs_deviation; }},
  {"vigil_canary_disagreement_rate", "Share of recent requests whose predicted classes differ between shadow and champion.",
   [](const CanaryReport& c) { return c.disagreement_rate; }},
  {"vigil_canary_background_disagreement_rate", "The same over the trailing background.",
   [](const CanaryReport& c) { return c.background_disagreement_rate; }},
  {"vigil_canary_p_value", "P-value of the tests that the deviation rose above the background's (Bonferroni of two).",
   [](const CanaryReport& c) { return c.p_value; }},
  {"vigil_canary_missing_rate", "Share of recent requests the champion scored without a usable shadow score.",
   [](const CanaryReport& c) { return c.missing_rate; }},
  {"vigil_canary_mean_abs_deviation_from_canary", "A challenger's mean |challenger - canary| over the recent interval(s).",
   [](const CanaryReport& c) { return c.mean_abs_deviation_from_canary; }},
  {"vigil_canary_compared_requests", "Recent requests with finite scores from both shadow and champion.",
   [](const CanaryReport& c) { return static_cast<double>(c.recent_count); }},
  {"vigil_canary_status", "Status of the shadow: 0 ok, 1 warn, 2 alert, -1 insufficient data.",
   [](const CanaryReport& c) { return status_value(c.status); }},
};
// clang-format on

/// Every shadow output of every scope, labelled `output` (the shadow), `role` and `of` (the
/// champion); nothing without shadow outputs.
inline void append_canary_metrics(PrometheusWriter& w, const std::vector<PrometheusScope>& scopes) {
  std::vector<PrometheusSeries<CanaryReport>> series;
  for (const PrometheusScope& scope : scopes) {
    for (const CanaryReport& c : *scope.canary) {
      std::string labels;
      add_label(labels, "output", c.name);
      add_label(labels, "role", to_string(c.role));
      add_label(labels, "of", c.of);
      series.push_back({&c, scoped_labels(std::move(labels), scope)});
    }
  }
  if (series.empty()) return;
  w.refuse(remove_repeated_labels(series, labels_of<CanaryReport>));
  write_gauges(w, canary_gauges, series);
}

// clang-format off
inline const PrometheusGauge<AttributionReport> loss_attribution_gauges[] = {
  {"vigil_loss_attribution_mean", "Mean loss attribution of the feature over the requests of the quality window (positive: raises the loss).",
   [](const AttributionReport& a) { return a.recent_mean; }},
  {"vigil_loss_attribution_background_mean", "The same over the attribution background before the window.",
   [](const AttributionReport& a) { return a.background_mean; }},
  {"vigil_loss_attribution_reference_mean", "The same on the labelled holdout of the training profile.",
   [](const AttributionReport& a) { return a.reference_mean; }},
  {"vigil_loss_attribution_p_value", "P-value of Welch's one-sided test that the window's mean is above the background's.",
   [](const AttributionReport& a) { return a.p_value; }},
  {"vigil_loss_attribution_reference_p_value", "P-value of Welch's one-sided test that the window's mean is above the holdout's.",
   [](const AttributionReport& a) { return a.reference_p_value; }},
  {"vigil_loss_attribution_cusum", "One-sided CUSUM of the labels' mean attribution against the holdout's, in holdout standard deviations.",
   [](const AttributionReport& a) { return a.cusum; }},
  {"vigil_loss_attribution_labels", "Attributions in the quality window.",
   [](const AttributionReport& a) { return a.recent_count; }},
  {"vigil_loss_attribution_status", "Status of the feature's attribution: 0 ok, 1 warn, 2 alert, -1 insufficient data.",
   [](const AttributionReport& a) { return status_value(a.status); }},
};
// clang-format on

/// Every feature's loss attribution in every scope, labelled `feature`; nothing before a
/// label carried attributions.
inline void append_attribution_metrics(PrometheusWriter& w, const std::vector<PrometheusScope>& scopes) {
  std::vector<PrometheusSeries<AttributionReport>> series;
  for (const PrometheusScope& scope : scopes) {
    for (const AttributionReport& a : *scope.attribution) {
      std::string labels;
      add_label(labels, "feature", a.feature);
      series.push_back({&a, scoped_labels(std::move(labels), scope)});
    }
  }
  if (series.empty()) return;
  w.refuse(remove_repeated_labels(series, labels_of<AttributionReport>));
  write_gauges(w, loss_attribution_gauges, series);
}

/// Whether `s` matches [a-zA-Z_][a-zA-Z0-9_]*, with `:` allowed too for a metric name.
inline bool is_prometheus_name(std::string_view s, bool metric) {
  if (s.empty()) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    const bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (metric && c == ':');
    if (!letter && !(i > 0 && c >= '0' && c <= '9')) return false;
  }
  return true;
}

/// The indices k at options.schema of the first and the last `le` edge 2^(k·2^-schema) of
/// append_prometheus_histogram(). Throws vigil::invalid_argument for options out of range.
inline std::pair<std::int64_t, std::int64_t> prometheus_histogram_edges(const PrometheusHistogramOptions& options) {
  const char* what = "append_prometheus_histogram: ";
  if (!is_prometheus_name(options.name, true))
    throw_invalid_argument(std::string(what) + "'" + options.name + "' is not a metric name");
  for (const auto& label : options.labels) {
    if (!is_prometheus_name(label.first, false) || label.first == "le" || label.first.rfind("__", 0) == 0)
      throw_invalid_argument(std::string(what) + "'" + label.first + "' is not a label name it may use");
  }
  if (options.schema < -4 || options.schema > 8)
    throw_invalid_argument(std::string(what) + "schema " + std::to_string(options.schema) + " is outside [-4, 8]");
  if (!(options.lowest > 0) || !(options.lowest <= options.highest) || std::isinf(options.highest))
    throw_invalid_argument(std::string(what) + "edges from " + to_text(options.lowest) + " to " +
                           to_text(options.highest) + ": need 0 < lowest <= highest, finite");
  // index(x) is the k with b^k < x <= b^(k+1).
  const LogIndexer index(options.schema);
  const std::int64_t below = index(to_bits(options.lowest));
  const std::int64_t first = log_bucket_edge(options.schema, below + 1) <= options.lowest ? below + 1 : below;
  const std::int64_t last = index(to_bits(options.highest)) + 1;
  if (last - first + 1 > 4096)
    throw_invalid_argument(std::string(what) + std::to_string(last - first + 1) + " edges from " +
                           to_text(options.lowest) + " to " + to_text(options.highest) + " at schema " +
                           std::to_string(options.schema) + ": at most 4096");
  return {first, last};
}

}  // namespace detail

template <class Counter>
void append_prometheus_histogram(std::string& out, const BasicLogHistogram<Counter>& histogram,
                                 const PrometheusHistogramOptions& options) {
  const auto [first, last] = detail::prometheus_histogram_edges(options);
  std::string labels;
  for (const auto& [name, value] : options.labels) detail::add_label(labels, name, value);
  // One pass over the buckets: the counts below stay cumulative while other threads record.
  const auto cumulative = histogram.cumulative_buckets(std::min(options.schema, histogram.scale()));
  detail::PrometheusWriter w(out);
  w.family(options.name, "histogram", options.help);
  w.series("_bucket");
  std::string bucket_labels;
  std::string edge;
  std::size_t next = 0;
  std::uint64_t below = 0;
  for (std::int64_t k = first; k <= last; ++k) {
    const double le = detail::log_bucket_edge(options.schema, k);
    while (next < cumulative.size() && cumulative[next].first <= le) below = cumulative[next++].second;
    edge.clear();
    detail::append_number(edge, le);
    bucket_labels = labels;
    detail::add_label(bucket_labels, "le", edge);
    w.sample(bucket_labels, below);
  }
  const std::uint64_t count = cumulative.back().second;
  bucket_labels = labels;
  detail::add_label(bucket_labels, "le", "+Inf");
  w.sample(bucket_labels, count);
  w.series("_sum");
  w.sample(labels, histogram.sum());
  w.series("_count");
  w.sample(labels, count);
}

inline void append_prometheus(std::string& out, const Report& report) {
  detail::PrometheusWriter w(out);
  std::vector<detail::PrometheusScope> scopes = detail::prometheus_scopes(report);
  w.refuse(detail::remove_repeated_labels(scopes, [](const detail::PrometheusScope& s) -> const std::string& {
    return s.labels;
  }));
  detail::append_model_metrics(w, report);
  detail::append_input_counters(w, report.counters);
  detail::append_open_alerts(w, report.open_alerts);
  detail::append_cohort_metrics(w, scopes);
  detail::append_feature_metrics(w, scopes);
  detail::append_output_metrics(w, scopes);
  detail::append_traffic_metrics(w, report.traffic);
  detail::append_latency_metrics(w, scopes);
  if (report.latency.since_start.count() > 0) {
    PrometheusHistogramOptions since_start;
    since_start.help = "Latency of the requests since the monitor started (intervals closed so far), in seconds.";
    append_prometheus_histogram(out, report.latency.since_start, since_start);
  }
  detail::append_quality_metrics(w, scopes, report.quality);
  detail::append_conversion_metrics(w, report.conversions);
  detail::append_canary_metrics(w, scopes);
  detail::append_attribution_metrics(w, scopes);
  detail::append_refused_series(w);
}

inline std::string to_prometheus(const Report& report) {
  std::string out;
  out.reserve(8192 + 1500 * (report.features.size() + report.outputs.size() + 1) * (1 + report.cohorts.size()));
  append_prometheus(out, report);
  return out;
}

}  // namespace vigil

// vigil — in-process monitoring of machine-learning models in C++ inference servers.
// SPDX-License-Identifier: Apache-2.0
#pragma once

// Report and Alert as JSON (RFC 8259). The schema is documented field by field in
// docs/report.md; `json_schema_version` changes whenever a field is renamed, removed or
// changes meaning (adding a field does not change it).

#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "vigil/export/detail/text.hpp"
#include "vigil/monitor/alerts.hpp"
#include "vigil/monitor/report.hpp"

namespace vigil {

/// Version of the Report JSON schema, written as its `schema_version` field.
inline constexpr int json_schema_version = 2;

/// How to_json(const Report&) lays out its text.
struct JsonOptions {
  /// Spaces per nesting level; 0 writes the whole report on one line without spaces.
  int indent = 0;
};

/// The report as one JSON object:
///
/// ```json
/// {"schema_version":2,"time":1793606400,"time_iso":"2026-11-02T08:00:00.000Z","status":"warn",
///  "recent":{...},"horizon":{...},"counters":{...},"features":[...],"outputs":[...],
///  "cohorts":[...],"traffic":{...},"latency":{...},"quality":{...},"conversions":{...},"samples":{...},
///  "canary":[...],"attribution":[...],"open_alerts":[...],
///  "alert_log":[...]}
/// ```
///
/// Keys are the snake_case names of the Report fields, in the order docs/report.md lists them. NaN and
/// infinite figures are written as `null`; numbers are the shortest text that reads back as
/// the same double; strings are escaped per RFC 8259 with valid UTF-8 passed through and
/// invalid bytes replaced by U+FFFD. Times are Unix seconds, each with an ISO-8601 twin
/// (`*_iso`, null when the time is not finite). Latencies, thresholds and silences are in
/// seconds, rates and shares in [0, 1], as in the Report.
///
/// Complexity: O(size of the report); allocates the returned string and small temporaries.
inline std::string to_json(const Report& report, const JsonOptions& options = {});

/// One line of alerts.jsonl (DESIGN.md), without the line feed, keys in this order:
///
/// ```json
/// {"time": "2026-11-02T08:00:00.000Z", "kind": "feature_shift", "subject": "age", "severity": "alert", "statistic": 0.41, "p_value": 1.2e-09, "message": "..."}
/// ```
///
/// `time` is the event time that decided the alert, in ISO-8601 UTC with milliseconds (null
/// when not finite); `statistic` and `p_value` are null when NaN or infinite. O(message).
inline std::string to_json(const Alert& alert);

/// The lines of samples.jsonl (docs/cli.md) for one interval's samples to label: one JSON
/// object per sample, each ended by a line feed, lowest_confidence first, then
/// highest_confidence, then near_threshold, each list in its report order:
///
/// ```json
/// {"interval_end": 1793606400, "kind": "lowest_confidence", "id": "req-42", "score": 0.51}
/// ```
///
/// Empty when the interval has no sample. O(samples).
inline std::string to_json_lines(const LabelSamples& samples);

/// `2026-11-02T08:00:00.000Z`: Unix seconds in UTC, rounded to the millisecond, proleptic
/// Gregorian calendar. Empty for NaN, infinities and times outside years 0000 to 9999. O(1).
inline std::string to_iso8601(double unix_seconds) { return detail::iso8601(unix_seconds); }

namespace detail {

/// Streams JSON into a string: commas, key/value separators and (optionally) indentation.
/// With `indent` > 0 each member and item goes on its own line; otherwise all is on one line,
/// tight, or with `spaced` a space after each colon and comma (the alerts.jsonl layout). The
/// caller nests begin/end calls correctly; nothing is checked.
class JsonWriter {
 public:
  JsonWriter(std::string& out, int indent, bool spaced = false)
      : out_(out), indent_(indent > 0 ? indent : 0), spaced_(spaced) {}

  void begin_object() { open('{'); }
  void end_object() { close('}'); }
  void begin_array() { open('['); }
  void end_array() { close(']'); }

  void key(std::string_view name) {
    prefix();
    append_json_string(out_, name);
    out_ += indent_ > 0 || spaced_ ? ": " : ":";
    after_key_ = true;
  }
  void value(double v) {
    prefix();
    if (std::isfinite(v)) {
      append_number(out_, v);
    } else {
      out_ += "null";
    }
  }
  void value(std::uint64_t v) {
    prefix();
    fmt::format_to(std::back_inserter(out_), "{}", v);
  }
  void value(std::int64_t v) {
    prefix();
    fmt::format_to(std::back_inserter(out_), "{}", v);
  }
  void value(int v) {
    prefix();
    fmt::format_to(std::back_inserter(out_), "{}", v);
  }
  void value(bool v) {
    prefix();
    out_ += v ? "true" : "false";
  }
  void value(std::string_view v) {
    prefix();
    append_json_string(out_, v);
  }
  void value(const char* v) { value(std::string_view(v)); }
  void value(const std::string& v) { value(std::string_view(v)); }
  void null() {
    prefix();
    out_ += "null";
  }

  template <class T>
  void member(std::string_view name, const T& v) {
    key(name);
    value(v);
  }
  /// The time as ISO-8601 text, or null when it has none.
  void iso_time(double t) {
    const std::string iso = iso8601(t);
    if (iso.empty()) {
      null();
    } else {
      value(iso);
    }
  }
  /// The time as Unix seconds under `name` and as ISO-8601 under `name_iso`.
  void time_members(std::string_view name, std::string_view name_iso, double t) {
    member(name, t);
    key(name_iso);
    iso_time(t);
  }

 private:
  void prefix() {
    if (after_key_) {
      after_key_ = false;
      return;
    }
    if (first_.empty()) return;
    if (!first_.back()) out_ += spaced_ ? ", " : ",";
    first_.back() = false;
    newline();
  }
  void newline() {
    if (indent_ == 0) return;
    out_ += '\n';
    out_.append(static_cast<std::size_t>(indent_) * first_.size(), ' ');
  }
  void open(char bracket) {
    prefix();
    out_ += bracket;
    first_.push_back(true);
  }
  void close(char bracket) {
    const bool empty = first_.back();
    first_.pop_back();
    if (!empty) newline();
    out_ += bracket;
  }

  std::string& out_;
  int indent_;
  bool spaced_;
  std::vector<bool> first_;  // per open container: nothing written in it yet
  bool after_key_ = false;
};

inline void write_json(JsonWriter& w, const FeatureReport& f) {
  w.begin_object();
  w.member("name", f.name);
  w.member("categorical", f.categorical);
  w.member("status", to_string(f.status));
  w.member("horizon_count", f.horizon_count);
  w.member("psi", f.psi);
  w.member("ks_statistic", f.ks_statistic);
  w.member("ks_p_value", f.ks_p_value);
  w.member("wasserstein", f.wasserstein);
  w.member("js_distance", f.js_distance);
  w.member("recent_count", f.recent_count);
  w.member("recent_requests", f.recent_requests);
  w.member("recent_intervals", f.recent_intervals);
  w.member("shift_statistic", f.shift_statistic);
  w.member("shift_p_value", f.shift_p_value);
  w.member("shift_psi", f.shift_psi);
  w.member("profile_statistic", f.profile_statistic);
  w.member("profile_p_value", f.profile_p_value);
  w.member("recent_mean", f.recent_mean);
  w.member("reference_mean", f.reference_mean);
  w.member("missing_rate", f.missing_rate);
  w.member("reference_missing_rate", f.reference_missing_rate);
  w.member("out_of_range_rate", f.out_of_range_rate);
  w.member("unseen_rate", f.unseen_rate);
  w.member("missing_p_value", f.missing_p_value);
  w.member("out_of_range_p_value", f.out_of_range_p_value);
  w.member("unseen_p_value", f.unseen_p_value);
  w.key("unseen_values");
  w.begin_array();
  for (const auto& [value, count] : f.unseen_values) {
    w.begin_object();
    w.member("value", value);
    w.member("count", count);
    w.end_object();
  }
  w.end_array();
  w.member("bad_values", f.bad_values);
  w.end_object();
}

/// An array of numbers or strings under `name`.
template <class T>
void write_json_values(JsonWriter& w, std::string_view name, const std::vector<T>& values) {
  w.key(name);
  w.begin_array();
  for (const T& v : values) w.value(v);
  w.end_array();
}

inline void write_json(JsonWriter& w, const OutputReport& o) {
  w.begin_object();
  w.member("name", o.name);
  w.member("status", to_string(o.status));
  w.member("horizon_count", o.horizon_count);
  w.member("psi", o.psi);
  w.member("ks_statistic", o.ks_statistic);
  w.member("ks_p_value", o.ks_p_value);
  w.member("wasserstein", o.wasserstein);
  w.member("recent_count", o.recent_count);
  w.member("recent_requests", o.recent_requests);
  w.member("recent_intervals", o.recent_intervals);
  w.member("shift_statistic", o.shift_statistic);
  w.member("shift_p_value", o.shift_p_value);
  w.member("shift_psi", o.shift_psi);
  w.member("profile_statistic", o.profile_statistic);
  w.member("profile_p_value", o.profile_p_value);
  w.member("recent_ks_statistic", o.recent_ks_statistic);
  w.member("recent_ks_p_value", o.recent_ks_p_value);
  w.member("recent_p50", o.recent_p50);
  w.member("recent_p90", o.recent_p90);
  w.member("recent_p99", o.recent_p99);
  w.member("reference_p50", o.reference_p50);
  w.member("missing_scores", o.missing_scores);
  w.member("non_finite_scores", o.non_finite_scores);
  w.member("missing_rate", o.missing_rate);
  w.member("non_finite_rate", o.non_finite_rate);
  w.member("reference_missing_rate", o.reference_missing_rate);
  w.member("background_missing_rate", o.background_missing_rate);
  w.member("missing_p_value", o.missing_p_value);
  w.member("missing_shift_p_value", o.missing_shift_p_value);
  w.member("missing_classes", o.missing_classes);
  w.member("class_missing_rate", o.class_missing_rate);
  write_json_values(w, "classes", o.classes);
  write_json_values(w, "class_share", o.class_share);
  write_json_values(w, "reference_class_share", o.reference_class_share);
  w.member("class_statistic", o.class_statistic);
  w.member("class_p_value", o.class_p_value);
  w.end_object();
}

/// What the report's alerts and the lines of alerts.jsonl both say, after the time.
inline void write_json_alert_members(JsonWriter& w, const Alert& a) {
  w.member("kind", to_string(a.kind));
  w.member("subject", to_string(a.subject));
  w.member("severity", to_string(a.severity));
  w.member("statistic", a.statistic);
  w.member("p_value", a.p_value);
  w.member("message", a.message);
}

inline void write_json(JsonWriter& w, const Alert& a) {
  w.begin_object();
  w.time_members("time", "time_iso", a.time);
  write_json_alert_members(w, a);
  w.member("transition", to_string(a.transition));
  w.member("sequence", a.sequence);
  w.end_object();
}

template <class T>
void write_json_array(JsonWriter& w, std::string_view name, const std::vector<T>& items) {
  w.key(name);
  w.begin_array();
  for (const T& item : items) write_json(w, item);
  w.end_array();
}

inline void write_json(JsonWriter& w, const SlowAttribution& a) {
  w.begin_object();
  w.member("tag", a.tag);
  w.member("value", a.value);
  w.member("requests", a.requests);
  w.member("slow", a.slow);
  w.member("share_of_slow", a.share_of_slow);
  w.member("share_of_all", a.share_of_all);
  w.member("lift", a.lift);
  w.member("background_lift", a.background_lift);
  w.member("p_value", a.p_value);
  w.end_object();
}

inline void write_json(JsonWriter& w, const LatencyReport& l) {
  w.begin_object();
  w.member("subject", l.subject);
  w.member("status", to_string(l.status));
  w.member("recent_count", l.recent_count);
  w.member("background_count", l.background_count);
  w.member("recent_p50", l.recent_p50);
  w.member("recent_p99", l.recent_p99);
  w.member("recent_p999", l.recent_p999);
  w.member("background_p50", l.background_p50);
  w.member("background_p99", l.background_p99);
  w.member("background_p999", l.background_p999);
  w.member("p99_ratio", l.p99_ratio);
  w.member("p999_ratio", l.p999_ratio);
  w.member("statistic", l.statistic);
  w.member("p_value", l.p_value);
  w.member("slow_threshold", l.slow_threshold);
  w.member("slow", l.slow);
  write_json_array(w, "attribution", l.attribution);
  w.end_object();
}

inline void write_json(JsonWriter& w, const TrafficReport& t) {
  w.begin_object();
  w.member("status", to_string(t.status));
  w.member("arrivals_source", t.arrivals_source);
  w.member("recent_arrivals", t.recent_arrivals);
  w.member("recent_completions", t.recent_completions);
  w.member("predicted_arrivals", t.predicted_arrivals);
  w.member("arrival_z", t.arrival_z);
  w.member("arrival_p_value", t.arrival_p_value);
  w.member("rate_model", t.rate_model);
  w.member("rate_history", t.rate_history);
  w.time_members("last_arrival", "last_arrival_iso", t.last_arrival);
  w.member("silence", t.silence);
  w.member("expected_in_silence", t.expected_in_silence);
  w.member("silence_p_value", t.silence_p_value);
  w.member("in_flight", t.in_flight);
  w.member("completion_ratio", t.completion_ratio);
  w.member("background_completion_ratio", t.background_completion_ratio);
  w.member("completion_p_value", t.completion_p_value);
  w.member("error_rate", t.error_rate);
  w.member("background_error_rate", t.background_error_rate);
  w.member("error_p_value", t.error_p_value);
  w.member("timeout_rate", t.timeout_rate);
  w.member("background_timeout_rate", t.background_timeout_rate);
  w.member("timeout_p_value", t.timeout_p_value);
  w.end_object();
}

/// A span of event time [start, end) and the requests in it.
inline void write_json_window(JsonWriter& w, std::string_view name, double start, double end,
                              std::uint64_t requests) {
  w.key(name);
  w.begin_object();
  w.time_members("start", "start_iso", start);
  w.time_members("end", "end_iso", end);
  w.member("requests", requests);
  w.end_object();
}

inline void write_json(JsonWriter& w, const InputCounters& c) {
  w.begin_object();
  w.member("observed", c.observed);
  w.member("bad_time", c.bad_time);
  w.member("late", c.late);
  w.member("future", c.future);
  w.member("clock_changes", c.clock_changes);
  w.member("bad_latency", c.bad_latency);
  w.member("skipped_evaluations", c.skipped_evaluations);
  w.member("bad_arrival_time", c.bad_arrival_time);
  w.member("truncated_values", c.truncated_values);
  w.end_object();
}

/// Quality metrics as an object keyed by name: {"accuracy":{"recent":..,"baseline":..,...}}.
inline void write_json_metrics(JsonWriter& w, std::string_view name, const std::vector<QualityMetric>& metrics) {
  w.key(name);
  w.begin_object();
  for (const QualityMetric& m : metrics) {
    w.key(m.name);
    w.begin_object();
    w.member("status", to_string(m.status));
    w.member("recent", m.recent);
    w.member("baseline", m.baseline);
    w.member("p_value", m.p_value);
    w.member("count", m.count);
    w.end_object();
  }
  w.end_object();
}

inline void write_json(JsonWriter& w, const QualityInterval& q) {
  w.begin_object();
  w.time_members("start", "start_iso", q.start);
  w.time_members("end", "end_iso", q.end);
  w.member("identified", q.identified);
  w.member("labelled", q.labelled);
  w.end_object();
}

inline void write_json(JsonWriter& w, const QualityReport& q) {
  w.begin_object();
  w.member("output", q.output);
  w.member("status", to_string(q.status));
  w.time_members("window_start", "window_start_iso", q.window_start);
  w.time_members("window_end", "window_end_iso", q.window_end);
  w.member("labelled", q.labelled);
  w.member("pending", q.pending);
  w.member("evicted", q.evicted);
  write_json_metrics(w, "metrics", q.metrics);
  write_json_metrics(w, "estimated", q.estimated);
  write_json_array(w, "intervals", q.intervals);
  w.member("labels", q.labels);
  w.member("joined", q.joined);
  w.member("expired", q.expired);
  w.member("unknown_ids", q.unknown_ids);
  w.member("duplicate_labels", q.duplicate_labels);
  w.member("duplicate_ids", q.duplicate_ids);
  w.member("late_labels", q.late_labels);
  w.member("bad_labels", q.bad_labels);
  w.member("bad_label_times", q.bad_label_times);
  w.member("labels_before_request", q.labels_before_request);
  w.member("labels_beyond_window", q.labels_beyond_window);
  w.member("labels_applied_early", q.labels_applied_early);
  w.member("attributed_labels", q.attributed_labels);
  w.member("attributions_wrong_count", q.attributions_wrong_count);
  w.member("attribution_bad_values", q.attribution_bad_values);
  w.member("attributions_applied_early", q.attributions_applied_early);
  w.end_object();
}

inline void write_json(JsonWriter& w, const ConversionArm& a) {
  w.begin_object();
  w.member("arm", a.arm);
  w.member("impressions", a.impressions);
  w.member("conversions", a.conversions);
  w.member("naive_rate", a.naive_rate);
  w.member("impressions_at_delay", a.impressions_at_delay);
  w.member("conversions_at_delay", a.conversions_at_delay);
  w.member("rate_at_delay", a.rate_at_delay);
  w.member("low", a.low);
  w.member("high", a.high);
  w.end_object();
}

/// A name, or null when empty (no arm separated yet).
inline void write_json_name_or_null(JsonWriter& w, std::string_view key, const std::string& name) {
  w.key(key);
  if (name.empty()) w.null();
  else w.value(name);
}

inline void write_json(JsonWriter& w, const ConversionReport& c) {
  w.begin_object();
  w.member("arm_tag", c.arm_tag);
  w.member("delay", c.delay);
  w.member("share", c.share);
  w.member("horizon", c.horizon);
  w.member("eventual_rate", c.eventual_rate);
  w.member("confidence", c.confidence);
  write_json_array(w, "arms", c.arms);
  write_json_name_or_null(w, "best_arm", c.best_arm);
  write_json_name_or_null(w, "naive_best_arm", c.naive_best_arm);
  w.member("impressions_without_arm", c.impressions_without_arm);
  w.member("received", c.received);
  w.member("joined", c.joined);
  w.member("unknown_ids", c.unknown_ids);
  w.member("duplicates", c.duplicates);
  w.member("too_late", c.too_late);
  w.member("before_impression", c.before_impression);
  w.member("bad_times", c.bad_times);
  w.member("beyond_window", c.beyond_window);
  w.member("applied_early", c.applied_early);
  w.end_object();
}

inline void write_json(JsonWriter& w, const LabelSample& s) {
  w.begin_object();
  w.member("id", s.id);
  w.member("score", s.score);
  w.end_object();
}

inline void write_json(JsonWriter& w, const LabelSamples& s) {
  w.begin_object();
  w.time_members("interval_end", "interval_end_iso", s.interval_end);
  write_json_array(w, "lowest_confidence", s.lowest_confidence);
  write_json_array(w, "highest_confidence", s.highest_confidence);
  write_json_array(w, "near_threshold", s.near_threshold);
  w.end_object();
}

inline void write_json(JsonWriter& w, const CanaryRequest& r) {
  w.begin_object();
  write_json_name_or_null(w, "id", r.id);
  w.time_members("time", "time_iso", r.time);
  w.member("champion", r.champion);
  w.member("other", r.other);
  w.member("deviation", r.deviation);
  w.end_object();
}

inline void write_json(JsonWriter& w, const CanaryReport& c) {
  w.begin_object();
  w.member("name", c.name);
  w.member("role", to_string(c.role));
  w.member("of", c.of);
  w.member("status", to_string(c.status));
  w.member("recent_count", c.recent_count);
  w.member("background_count", c.background_count);
  w.member("recent_requests", c.recent_requests);
  w.member("recent_intervals", c.recent_intervals);
  w.member("mean_abs_deviation", c.mean_abs_deviation);
  w.member("background_mean_abs_deviation", c.background_mean_abs_deviation);
  w.member("p99_abs_deviation", c.p99_abs_deviation);
  w.member("background_p99_abs_deviation", c.background_p99_abs_deviation);
  w.member("deviation_p_value", c.deviation_p_value);
  w.member("classified", c.classified);
  w.member("disagreement_rate", c.disagreement_rate);
  w.member("background_disagreement_rate", c.background_disagreement_rate);
  w.member("disagreement_p_value", c.disagreement_p_value);
  w.member("p_value", c.p_value);
  w.member("typical_abs_deviation", c.typical_abs_deviation);
  w.member("typical_disagreement_rate", c.typical_disagreement_rate);
  w.member("rise", c.rise);
  w.member("missing", c.missing);
  w.member("non_finite", c.non_finite);
  w.member("champion_missing", c.champion_missing);
  w.member("missing_rate", c.missing_rate);
  write_json_name_or_null(w, "canary", c.canary);
  w.member("mean_abs_deviation_from_canary", c.mean_abs_deviation_from_canary);
  write_json_array(w, "top", c.top);
  w.end_object();
}

inline void write_json(JsonWriter& w, const AttributionReport& a) {
  w.begin_object();
  w.member("feature", a.feature);
  w.member("status", to_string(a.status));
  w.member("recent_count", a.recent_count);
  w.member("recent_mean", a.recent_mean);
  w.member("background_count", a.background_count);
  w.member("background_mean", a.background_mean);
  w.member("reference_count", a.reference_count);
  w.member("reference_mean", a.reference_mean);
  w.member("p_value", a.p_value);
  w.member("reference_p_value", a.reference_p_value);
  w.member("effect", a.effect);
  w.member("reference_effect", a.reference_effect);
  w.member("cusum", a.cusum);
  w.end_object();
}

/// The alerts open now and the latest transitions.
inline void write_json_alerts(JsonWriter& w, const Report& report) {
  write_json_array(w, "open_alerts", report.open_alerts);
  write_json_array(w, "alert_log", report.alert_log);
}

inline void write_json(JsonWriter& w, const CohortReport& c) {
  w.begin_object();
  w.member("tag", c.tag);
  w.member("value", c.value);
  w.member("status", to_string(c.status));
  w.member("requests", c.requests);
  write_json_array(w, "features", c.features);
  write_json_array(w, "outputs", c.outputs);
  w.key("latency");
  write_json(w, c.latency);
  w.key("quality");
  write_json(w, c.quality);
  write_json_array(w, "canary", c.canary);
  write_json_array(w, "attribution", c.attribution);
  w.end_object();
}

}  // namespace detail

inline std::string to_json(const Report& report, const JsonOptions& options) {
  std::string out;
  out.reserve(2048 + 600 * (report.features.size() + report.outputs.size()) + 600 * report.cohorts.size());
  detail::JsonWriter w(out, options.indent);
  w.begin_object();
  w.member("schema_version", json_schema_version);
  w.time_members("time", "time_iso", report.time);
  w.member("status", to_string(report.status));
  detail::write_json_window(w, "recent", report.recent_start, report.recent_end, report.recent_requests);
  detail::write_json_window(w, "horizon", report.horizon_start, report.recent_end, report.horizon_requests);
  w.key("counters");
  detail::write_json(w, report.counters);
  detail::write_json_array(w, "features", report.features);
  detail::write_json_array(w, "outputs", report.outputs);
  detail::write_json_array(w, "cohorts", report.cohorts);
  w.key("traffic");
  detail::write_json(w, report.traffic);
  w.key("latency");
  detail::write_json(w, report.latency);
  w.key("quality");
  detail::write_json(w, report.quality);
  w.key("conversions");
  detail::write_json(w, report.conversions);
  w.key("samples");
  detail::write_json(w, report.samples);
  detail::write_json_array(w, "canary", report.canary);
  detail::write_json_array(w, "attribution", report.attribution);
  detail::write_json_alerts(w, report);
  w.end_object();
  if (options.indent > 0) out += '\n';
  return out;
}

inline std::string to_json_lines(const LabelSamples& samples) {
  std::string out;
  const auto lines = [&](const char* kind, const std::vector<LabelSample>& list) {
    for (const LabelSample& s : list) {
      detail::JsonWriter w(out, 0, true);
      w.begin_object();
      w.member("interval_end", samples.interval_end);
      w.member("kind", kind);
      w.member("id", s.id);
      w.member("score", s.score);
      w.end_object();
      out += '\n';
    }
  };
  lines("lowest_confidence", samples.lowest_confidence);
  lines("highest_confidence", samples.highest_confidence);
  lines("near_threshold", samples.near_threshold);
  return out;
}

inline std::string to_json(const Alert& alert) {
  std::string out;
  out.reserve(192 + alert.message.size());
  detail::JsonWriter w(out, 0, true);
  w.begin_object();
  w.key("time");
  w.iso_time(alert.time);
  detail::write_json_alert_members(w, alert);
  w.end_object();
  return out;
}

}  // namespace vigil

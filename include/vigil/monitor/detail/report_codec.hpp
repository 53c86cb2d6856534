// vigil — in-process monitoring of machine-learning models in C++ inference servers.
// SPDX-License-Identifier: Apache-2.0
//
// The latest report a monitor keeps, as its snapshot writes it (docs/formats.md, "Monitor
// snapshot"). Every member of Report and of each struct inside it, in one list per struct
// (ReportFields) that both directions walk, so that a member cannot be written and not read.
// No header of its own: the snapshot frames it.
//
// A member added to Report, or to a struct inside it, must be added to its struct's list
// below; tests/monitor/detail/report_codec_test.cpp counts each struct's members against
// its list and fails on one left out.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "vigil/io/binary.hpp"
#include "vigil/monitor/alerts.hpp"
#include "vigil/monitor/detail/state_codec.hpp"
#include "vigil/monitor/report.hpp"
#include "vigil/monitor/schema.hpp"
#include "vigil/sketch/log_histogram.hpp"

namespace vigil {
namespace detail {

/// Writes a report, the members in the order of ReportFields. Doubles keep their bit
/// patterns (NaN payloads included). O(size of the report).
inline void save_report(io::Writer& w, const Report& r);

/// Reads save_report()'s bytes. Throws vigil::format_error (Reader::fail) on truncated
/// bytes, an enum or flag out of range, or a count larger than the bytes left could hold;
/// nothing is allocated before its count is checked against the bytes left. O(bytes).
inline Report load_report(io::Reader& r);

/// `ReportFields<Section>::visit(v, s)` calls `v(members...)` with every member of `s` (a
/// Section, const or not), in the order they are written. The visitor receives each member
/// once; a struct member is visited through its own ReportFields.
template <class Section>
struct ReportFields;

template <>
struct ReportFields<FeatureReport> {
  template <class V, class F>
  static void visit(V& v, F& f) {
    v(f.name, f.categorical, f.status);
    v(f.horizon_count, f.psi, f.ks_statistic, f.ks_p_value, f.wasserstein, f.js_distance);
    v(f.recent_count, f.recent_requests, f.recent_intervals, f.shift_statistic, f.shift_p_value, f.shift_psi,
      f.profile_statistic, f.profile_p_value, f.recent_mean, f.reference_mean);
    v(f.missing_rate, f.reference_missing_rate, f.out_of_range_rate, f.unseen_rate, f.unseen_values, f.bad_values);
    v(f.missing_p_value, f.out_of_range_p_value, f.unseen_p_value);
  }
};

template <>
struct ReportFields<OutputReport> {
  template <class V, class O>
  static void visit(V& v, O& o) {
    v(o.name, o.status, o.horizon_count, o.psi, o.ks_statistic, o.ks_p_value, o.wasserstein);
    v(o.recent_count, o.recent_requests, o.recent_intervals, o.shift_statistic, o.shift_p_value, o.shift_psi,
      o.profile_statistic, o.profile_p_value, o.recent_ks_statistic, o.recent_ks_p_value);
    v(o.recent_p50, o.recent_p90, o.recent_p99, o.reference_p50);
    v(o.missing_scores, o.non_finite_scores, o.missing_rate, o.non_finite_rate, o.reference_missing_rate,
      o.background_missing_rate, o.missing_p_value, o.missing_shift_p_value, o.missing_classes, o.class_missing_rate);
    v(o.classes, o.class_share, o.reference_class_share, o.class_statistic, o.class_p_value);
  }
};

template <>
struct ReportFields<SlowAttribution> {
  template <class V, class S>
  static void visit(V& v, S& s) {
    v(s.tag, s.value, s.requests, s.slow, s.share_of_slow, s.share_of_all, s.lift, s.background_lift, s.p_value);
  }
};

template <>
struct ReportFields<LatencyReport> {
  template <class V, class L>
  static void visit(V& v, L& l) {
    v(l.subject, l.status, l.recent_count, l.background_count);
    v(l.recent_p50, l.recent_p99, l.recent_p999, l.background_p50, l.background_p99, l.background_p999);
    v(l.p99_ratio, l.p999_ratio, l.statistic, l.p_value, l.slow_threshold, l.slow, l.attribution, l.since_start);
  }
};

template <>
struct ReportFields<TrafficReport> {
  template <class V, class T>
  static void visit(V& v, T& t) {
    v(t.status, t.arrivals_source, t.recent_arrivals, t.recent_completions);
    v(t.predicted_arrivals, t.arrival_z, t.arrival_p_value, t.rate_model, t.rate_history);
    v(t.last_arrival, t.silence, t.expected_in_silence, t.silence_p_value, t.in_flight);
    v(t.completion_ratio, t.background_completion_ratio, t.completion_p_value);
    v(t.error_rate, t.background_error_rate, t.error_p_value);
    v(t.timeout_rate, t.background_timeout_rate, t.timeout_p_value);
  }
};

template <>
struct ReportFields<QualityMetric> {
  template <class V, class M>
  static void visit(V& v, M& m) {
    v(m.name, m.status, m.recent, m.baseline, m.p_value, m.count);
  }
};

template <>
struct ReportFields<QualityInterval> {
  template <class V, class I>
  static void visit(V& v, I& i) {
    v(i.start, i.end, i.identified, i.labelled);
  }
};

template <>
struct ReportFields<QualityReport> {
  template <class V, class Q>
  static void visit(V& v, Q& q) {
    v(q.output, q.status, q.window_start, q.window_end, q.labelled, q.metrics, q.estimated, q.intervals);
    v(q.labels, q.joined, q.pending, q.evicted, q.expired, q.unknown_ids, q.duplicate_labels, q.duplicate_ids);
    v(q.late_labels, q.bad_labels, q.bad_label_times, q.labels_before_request, q.labels_beyond_window,
      q.labels_applied_early);
    v(q.attributed_labels, q.attributions_wrong_count, q.attribution_bad_values, q.attributions_applied_early);
  }
};

template <>
struct ReportFields<ConversionArm> {
  template <class V, class A>
  static void visit(V& v, A& a) {
    v(a.arm, a.impressions, a.conversions, a.naive_rate);
    v(a.impressions_at_delay, a.conversions_at_delay, a.rate_at_delay, a.low, a.high);
  }
};

template <>
struct ReportFields<ConversionReport> {
  template <class V, class C>
  static void visit(V& v, C& c) {
    v(c.arm_tag, c.share, c.delay, c.horizon, c.eventual_rate, c.confidence, c.arms);
    v(c.best_arm, c.naive_best_arm, c.impressions_without_arm);
    v(c.received, c.joined, c.unknown_ids, c.duplicates, c.too_late, c.before_impression, c.bad_times);
    v(c.beyond_window, c.applied_early);
  }
};

template <>
struct ReportFields<LabelSample> {
  template <class V, class S>
  static void visit(V& v, S& s) {
    v(s.id, s.score);
  }
};

template <>
struct ReportFields<LabelSamples> {
  template <class V, class S>
  static void visit(V& v, S& s) {
    v(s.interval_end, s.lowest_confidence, s.highest_confidence, s.near_threshold);
  }
};

template <>
struct ReportFields<CanaryRequest> {
  template <class V, class R>
  static void visit(V& v, R& r) {
    v(r.id, r.time, r.champion, r.other, r.deviation);
  }
};

template <>
struct ReportFields<CanaryReport> {
  template <class V, class C>
  static void visit(V& v, C& c) {
    v(c.name, c.role, c.of, c.status, c.recent_count, c.background_count, c.recent_requests, c.recent_intervals);
    v(c.mean_abs_deviation, c.background_mean_abs_deviation, c.p99_abs_deviation, c.background_p99_abs_deviation,
      c.deviation_p_value);
    v(c.classified, c.disagreement_rate, c.background_disagreement_rate, c.disagreement_p_value, c.p_value);
    v(c.typical_abs_deviation, c.typical_disagreement_rate, c.rise);
    v(c.missing, c.non_finite, c.champion_missing, c.missing_rate);
    v(c.canary, c.mean_abs_deviation_from_canary, c.top);
  }
};

template <>
struct ReportFields<AttributionReport> {
  template <class V, class A>
  static void visit(V& v, A& a) {
    v(a.feature, a.status, a.recent_count, a.recent_mean, a.background_count, a.background_mean);
    v(a.reference_count, a.reference_mean, a.p_value, a.reference_p_value, a.effect, a.reference_effect, a.cusum);
  }
};

template <>
struct ReportFields<CohortReport> {
  template <class V, class C>
  static void visit(V& v, C& c) {
    v(c.tag, c.value, c.status, c.requests, c.features, c.outputs, c.latency, c.quality, c.canary, c.attribution);
  }
};

template <>
struct ReportFields<InputCounters> {
  template <class V, class C>
  static void visit(V& v, C& c) {
    v(c.observed, c.bad_time, c.late, c.future, c.clock_changes, c.bad_latency, c.skipped_evaluations);
    v(c.bad_arrival_time, c.truncated_values);
  }
};

template <>
struct ReportFields<Report> {
  template <class V, class R>
  static void visit(V& v, R& r) {
    v(r.time, r.recent_start, r.recent_end, r.horizon_start, r.status, r.recent_requests, r.horizon_requests);
    v(r.counters, r.features, r.outputs, r.cohorts, r.traffic, r.latency, r.quality, r.conversions, r.samples);
    v(r.canary, r.attribution, r.open_alerts, r.alert_log);
  }
};

/// Writes the members it is given. A vector is its size, then its elements; a pair its two
/// halves; a struct its ReportFields; a sketch is nested (save_nested).
class ReportWriter {
 public:
  explicit ReportWriter(io::Writer& w) : w_(w) {}

  template <class... Members>
  void operator()(const Members&... members) {
    (write(members), ...);
  }

 private:
  void write(double x) { w_.f64(x); }
  void write(std::uint64_t n) { w_.varint(n); }
  void write(std::int64_t n) { w_.i64(n); }
  void write(bool b) { save_bool(w_, b); }
  void write(const std::string& s) { w_.string(s); }
  void write(Status s) { save_enum(w_, s); }
  void write(OutputRole role) { save_enum(w_, role); }
  void write(const Alert& a) { save_alert(w_, a); }
  void write(const LogHistogram& h) { save_nested(w_, h); }
  template <class First, class Second>
  void write(const std::pair<First, Second>& p) {
    write(p.first);
    write(p.second);
  }
  template <class T>
  void write(const std::vector<T>& items) {
    w_.varint(items.size());
    for (const T& item : items) write(item);
  }
  template <class Section>
  void write(const Section& s) {
    ReportFields<Section>::visit(*this, s);
  }

  io::Writer& w_;
};

/// Adds up the fewest bytes ReportWriter can write for the members it is given: the bound
/// that Reader::count checks a vector's count against before its elements are allocated.
class MinimumSize {
 public:
  std::size_t bytes = 0;

  template <class... Members>
  void operator()(const Members&... members) {
    (add(members), ...);
  }

 private:
  void add(double) { bytes += 8; }
  void add(std::int64_t) { bytes += 8; }
  void add(std::uint64_t) { bytes += 1; }  // a varint
  void add(bool) { bytes += 1; }
  void add(const std::string&) { bytes += 1; }  // its length, a varint
  void add(Status) { bytes += 1; }
  void add(OutputRole) { bytes += 1; }
  void add(const LogHistogram&) { bytes += 1; }  // its length, a varint
  void add(const Alert&) {
    // Its members are numbers of fixed size and strings, which are shortest when empty.
    std::vector<std::uint8_t> empty;
    io::Writer w(empty);
    save_alert(w, Alert{});
    bytes += empty.size();
  }
  template <class First, class Second>
  void add(const std::pair<First, Second>& p) {
    add(p.first);
    add(p.second);
  }
  template <class T>
  void add(const std::vector<T>&) {
    bytes += 1;  // its size, a varint
  }
  template <class Section>
  void add(const Section& s) {
    ReportFields<Section>::visit(*this, s);
  }
};

/// MinimumSize of a T, computed once.
template <class T>
std::size_t minimum_size() {
  static const std::size_t bytes = [] {
    MinimumSize m;
    m(T{});
    return m.bytes;
  }();
  return bytes;
}

/// Reads the members it is given, as ReportWriter wrote them.
class ReportReader {
 public:
  explicit ReportReader(io::Reader& r) : r_(r) {}

  template <class... Members>
  void operator()(Members&... members) {
    (read(members), ...);
  }

 private:
  void read(double& x) { x = r_.f64(); }
  void read(std::uint64_t& n) { n = r_.varint(); }
  void read(std::int64_t& n) { n = r_.i64(); }
  void read(bool& b) { b = load_bool(r_, "report flag"); }
  void read(std::string& s) { s = r_.string(); }
  void read(Status& s) { s = load_enum(r_, Status::insufficient_data, "report status"); }
  void read(OutputRole& role) { role = load_enum(r_, OutputRole::challenger, "report output role"); }
  void read(Alert& a) { a = load_alert(r_); }
  void read(LogHistogram& h) { h = load_nested<LogHistogram>(r_); }
  template <class First, class Second>
  void read(std::pair<First, Second>& p) {
    read(p.first);
    read(p.second);
  }
  template <class T>
  void read(std::vector<T>& items) {
    const std::size_t n = r_.count(minimum_size<T>());
    items.clear();
    items.reserve(n);
    for (std::size_t i = 0; i < n; ++i) read(items.emplace_back());
  }
  template <class Section>
  void read(Section& s) {
    ReportFields<Section>::visit(*this, s);
  }

  io::Reader& r_;
};

inline void save_report(io::Writer& w, const Report& r) {
  ReportWriter writer(w);
  writer(r);
}

inline Report load_report(io::Reader& r) {
  Report report;
  ReportReader reader(r);
  reader(report);
  return report;
}

}  // namespace detail
}  // namespace vigil

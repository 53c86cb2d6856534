// vigil — in-process monitoring of machine-learning models in C++ inference servers.
// SPDX-License-Identifier: Apache-2.0
//
// Figures, tables, the replay summary and the per-interval CSV declared in summary.hpp.
#include "summary.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <utility>

#include "options.hpp"
#include "vigil/error.hpp"
#include "vigil/monitor/schema.hpp"

namespace vigil::tools {

std::string format(const char* pattern, double value) {
  char text[64];
  std::snprintf(text, sizeof text, pattern, value);
  return text;
}

std::string percent(double share) { return std::isnan(share) ? "-" : format("%.1f %%", 100 * share); }

std::string figure(double value, const char* pattern) { return std::isnan(value) ? "-" : format(pattern, value); }

std::string time_or_dash(double unix_seconds) {
  return std::isnan(unix_seconds) ? std::string("-") : format_time(unix_seconds);
}

std::string milliseconds(double seconds) {
  if (std::isnan(seconds)) return "-";
  const double ms = 1000 * seconds;
  return format(ms < 10 ? "%.2f" : (ms < 100 ? "%.1f" : "%.0f"), ms);
}

void print_table(std::ostream& out, const std::vector<std::vector<std::string>>& rows, const char* indent) {
  std::vector<std::size_t> widths;
  for (const auto& row : rows)
    for (std::size_t i = 0; i < row.size(); ++i) {
      if (widths.size() <= i) widths.push_back(0);
      widths[i] = std::max(widths[i], row[i].size());
    }
  for (const auto& row : rows) {
    std::string line = indent;
    for (std::size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line.append(widths[i] + 2 - row[i].size(), ' ');  // the next column's start
    }
    out << line << '\n';
  }
}

void write_intervals(std::ostream& out, const Report& report) {
  if (report.features.empty() && report.outputs.empty()) return;
  const std::string end = format_time(report.recent_end);
  const auto number = [](double v) { return std::isnan(v) ? std::string() : vigil::detail::to_text(v); };
  for (const FeatureReport& f : report.features)
    out << end << ',' << f.name << ',' << (f.categorical ? "categorical" : "numeric") << ',' << to_string(f.status) << ','
        << f.recent_count << ',' << number(f.missing_rate) << ',' << number(f.out_of_range_rate) << ','
        << number(f.unseen_rate) << ',' << f.bad_values << ',' << number(f.shift_psi) << ',' << number(f.shift_p_value)
        << ',' << number(f.profile_p_value) << ',' << f.horizon_count << ',' << number(f.psi) << ','
        << number(f.ks_statistic) << ',' << number(f.ks_p_value) << ',' << number(f.wasserstein) << '\n';
  for (const OutputReport& o : report.outputs)
    out << end << ',' << o.name << ",output," << to_string(o.status) << ',' << o.recent_count << ','
        << number(o.missing_rate) << ",,," << o.non_finite_scores << ',' << number(o.shift_psi) << ','
        << number(o.shift_p_value) << ',' << number(o.profile_p_value) << ',' << o.horizon_count << ','
        << number(o.psi) << ',' << number(o.ks_statistic) << ',' << number(o.ks_p_value) << ','
        << number(o.wasserstein) << '\n';
}

namespace {

// The first lines: the span replayed and its speed, then the rows monitored and skipped.
void print_rows(std::ostream& out, const ReplayTally& t, const Report& report) {
  const double cells = static_cast<double>(t.rows) * static_cast<double>(t.columns);
  out << "replayed " << t.input << ": " << t.rows << " rows, " << time_or_dash(t.first_time) << " to "
      << time_or_dash(t.last_time) << format(" (%.2f s", t.seconds)
      << format(", %.2f M cells/s)\n", cells / std::max(t.seconds, 1e-9) / 1e6);
  const std::uint64_t late = report.counters.late;
  const std::uint64_t future = report.counters.future;
  out << "  rows monitored: " << report.counters.observed
      << "; skipped: " << (t.missing_time + t.bad_time + late + future) << " (" << t.missing_time
      << " without a time, " << t.bad_time << " with an unreadable time, " << late
      << " late, beyond the monitor's lateness, " << future << " dated too far ahead)";
  if (report.counters.clock_changes > 0)
    out << "; the log's clock jumped ahead " << report.counters.clock_changes << " times";
  if (t.ragged_rows > 0) out << "; " << t.ragged_rows << " rows with the wrong number of fields left out";
  if (t.quote_errors > 0) out << "; " << t.quote_errors << " fields with text after their closing quote, kept literally";
  if (t.unanswered > 0) out << "; " << t.unanswered << " arrived without a completion time (never answered)";
  if (t.restored_rows > 0) out << "; " << t.restored_rows << " rows the restored snapshot had already counted passed over";
  if (report.counters.truncated_values > 0)
    out << "; " << report.counters.truncated_values << " category or tag values longer than "
        << vigil::Schema::max_value_bytes << " bytes cut to that length";
  out << '\n';
}

// How the time column was read, when any of it was a Unix number: "times in 'ts': 17568 as
// Unix milliseconds", or the count of each format when the column mixes them.
void print_time_formats(std::ostream& out, const ReplayTally& t) {
  const auto& f = t.time_formats;
  if (f[1] + f[2] + f[3] + f[4] == 0) return;
  static const char* const names[] = {"ISO-8601", "Unix seconds", "Unix milliseconds", "Unix microseconds",
                                      "Unix nanoseconds"};
  std::vector<std::string> read;
  for (std::size_t i = 0; i < f.size(); ++i)
    if (f[i] > 0) read.push_back(std::to_string(f[i]) + " as " + names[i]);
  out << "  times in '" << t.time_column << "': ";
  for (std::size_t i = 0; i < read.size(); ++i) out << (i ? ", " : "") << read[i];
  if (t.time_unit) out << " (--time-unit " << to_string(*t.time_unit) << ")";
  else out << " (unit told by magnitude; name it with --time-unit)";
  out << '\n';
}

void print_bad_cells(std::ostream& out, const ReplayTally& t) {
  std::vector<std::vector<std::string>> bad_cells;
  for (std::size_t i = 0; i < t.tracked.size(); ++i)
    if (t.cells[i].bad > 0) bad_cells.push_back({t.tracked[i], std::to_string(t.cells[i].bad)});
  if (bad_cells.empty()) {
    out << "  unreadable cells: none\n";
    return;
  }
  out << "  unreadable cells (counted as bad values):\n";
  print_table(out, bad_cells, "    ");
}

void print_accuracy(std::ostream& out, const ReplayTally& t) {
  if (t.accuracy.empty()) return;
  out << "  accuracy of '" << t.predicted_column << "' against '" << t.label_column << "' by hour:";
  for (const auto& [hour, a] : t.accuracy)
    out << ' ' << format_time(static_cast<double>(hour) * 3600).substr(11, 5) << ' '
        << figure(static_cast<double>(a.correct) / static_cast<double>(a.total), "%.3f");
  out << '\n';
}

// Where arrivals come from, the replay's totals, and the last interval judged: its arrivals
// against the prediction and its error and timeout rates.
void print_traffic(std::ostream& out, const Report& report, const ReplayTally& t) {
  const TrafficReport& traffic = report.traffic;
  out << "  traffic: arrivals "
      << (t.arrival_column.empty() ? std::string("are the rows' times (no --arrival-column)")
                                   : "from column '" + t.arrival_column + "'")
      << "; " << t.arrivals << " arrivals / " << t.completions << " completions";
  if (!t.arrival_column.empty()) out << ", " << traffic.in_flight << " in flight at the end";
  out << "; interval to "
      << (std::isnan(report.recent_end) ? std::string("-") : format_time(report.recent_end).substr(11, 5)) << ": "
      << traffic.recent_arrivals << " arrivals / " << traffic.recent_completions << " completions vs "
      << figure(traffic.predicted_arrivals, "%.1f") << " predicted (" << traffic.rate_model << " model on "
      << traffic.rate_history << " intervals); errors " << percent(traffic.error_rate) << " (background "
      << percent(traffic.background_error_rate) << "), timeouts " << percent(traffic.timeout_rate) << " (background "
      << percent(traffic.background_timeout_rate) << ")\n";
}

// p50/p99/p99.9 of the latency window against the background, the slow threshold and the tag
// value most over-represented among the slow requests.
void print_latency(std::ostream& out, const LatencyReport& l) {
  out << "  latency (ms): p50/p99/p99.9 " << milliseconds(l.recent_p50) << " / " << milliseconds(l.recent_p99) << " / "
      << milliseconds(l.recent_p999) << " recent (" << l.recent_count << " requests) vs "
      << milliseconds(l.background_p50) << " / " << milliseconds(l.background_p99) << " / "
      << milliseconds(l.background_p999) << " background; " << l.slow << " slow (above "
      << milliseconds(l.slow_threshold) << " ms)";
  if (!l.attribution.empty()) {
    const SlowAttribution& a = l.attribution.front();
    out << "; " << a.tag << '=' << a.value << " carries " << format("%.0f %%", 100 * a.share_of_slow)
        << " of slow requests vs " << format("%.0f %%", 100 * a.share_of_all) << " of all requests";
  }
  out << '\n';
}

// The labels file: rows read, skipped before the monitor, given to it and joined; then the
// reasons the monitor gave for the labels it did not join, each only when it happened.
void print_labels(std::ostream& out, const LabelTally& l, const QualityReport& q) {
  out << "\nlabels from " << l.path << ": " << l.rows << " rows, " << l.given << " given to the monitor, " << l.joined
      << " joined; skipped: " << (l.missing_time + l.bad_time + l.missing_id + l.missing_label) << " ("
      << l.missing_time << " without a time, " << l.bad_time << " with an unreadable time, " << l.missing_id
      << " without an id, " << l.missing_label << " with an empty label)";
  if (l.restored > 0) out << "; " << l.restored << " rows the restored snapshot had already had passed over";
  if (l.ragged_rows > 0) out << "; " << l.ragged_rows << " rows with the wrong number of fields left out";
  out << '\n';
  const std::pair<std::uint64_t, const char*> refused[] = {
      {q.unknown_ids, "unknown ids"},
      {q.duplicate_labels, "duplicates"},
      {q.bad_labels, "bad labels (not of the output's type)"},
      {q.labels_before_request, "dated before their request"},
      {q.late_labels, "late (after the request's time-to-live)"},
      {q.bad_label_times, "with a time that is not finite"}};
  std::vector<std::string> reasons;
  for (const auto& [count, reason] : refused)
    if (count > 0) reasons.push_back(std::to_string(count) + " " + reason);
  if (!reasons.empty()) out << "  not joined: " << join(reasons) << '\n';
  std::vector<std::string> requests;
  if (q.duplicate_ids > 0) requests.push_back(std::to_string(q.duplicate_ids) + " filed with an id already held");
  if (q.evicted > 0) requests.push_back(std::to_string(q.evicted) + " pushed out unlabelled by the store's capacity");
  if (q.expired > 0) requests.push_back(std::to_string(q.expired) + " never labelled within the time-to-live");
  if (q.labels_beyond_window > 0)
    requests.push_back(std::to_string(q.labels_beyond_window) + " labelled after their interval left the window");
  out << "  requests with an id: " << q.pending << " still waiting for a label";
  for (const std::string& r : requests) out << ", " << r;
  out << '\n';
}

// The quality figures of the labelled output: realised (recent window against the holdout
// baseline) and estimated from the scores alone.
void print_quality(std::ostream& out, const QualityReport& q) {
  out << "quality of '" << q.output << "': " << to_string(q.status) << "; realised over " << time_or_dash(q.window_start)
      << " to " << time_or_dash(q.window_end) << " from " << figure(q.labelled, "%.0f") << " labels\n";
  std::vector<std::vector<std::string>> table{{"metric", "status", "recent", "baseline", "p-value", "count"}};
  for (const auto* metrics : {&q.metrics, &q.estimated})
    for (const QualityMetric& m : *metrics)
      table.push_back({m.name, to_string(m.status), figure(m.recent, "%.4f"), figure(m.baseline, "%.4f"),
                       figure(m.p_value, "%.3g"), figure(m.count, "%.0f")});
  if (table.size() > 1) print_table(out, table);
}

// The responses file and what the monitor made of the responses, then the arms compared at
// the delay by which the share of eventual responses came.
void print_conversions(std::ostream& out, const LabelTally& l, const ConversionReport& c) {
  out << "\nresponses from " << l.path << ": " << l.rows << " rows, " << l.given << " given to the monitor, " << l.joined
      << " joined; skipped: " << (l.missing_time + l.bad_time + l.missing_id) << " (" << l.missing_time
      << " without a time, " << l.bad_time << " with an unreadable time, " << l.missing_id << " without an id)\n";
  const std::pair<std::uint64_t, const char*> refused[] = {{c.unknown_ids, "unknown ids"},
                                                           {c.duplicates, "duplicates"},
                                                           {c.before_impression, "dated before their impression"},
                                                           {c.too_late, "late (after the request's time-to-live)"},
                                                           {c.bad_times, "with a time that is not finite"}};
  std::vector<std::string> reasons;
  for (const auto& [count, reason] : refused)
    if (count > 0) reasons.push_back(std::to_string(count) + " " + reason);
  if (!reasons.empty()) out << "  not joined: " << join(reasons) << '\n';
  out << "conversions by '" << c.arm_tag << "': compared at " << figure(c.delay, "%.0f") << " s after the impression, by which "
      << percent(c.share) << " of the eventual responses came (" << percent(c.eventual_rate) << " at "
      << figure(c.horizon, "%.0f") << " s)\n";
  std::vector<std::vector<std::string>> table{
      {"arm", "impressions", "responses", "naive rate", "old enough", "in time", "rate at delay", "interval"}};
  for (const ConversionArm& a : c.arms)
    table.push_back({a.arm, std::to_string(a.impressions), std::to_string(a.conversions), percent(a.naive_rate),
                     std::to_string(a.impressions_at_delay), std::to_string(a.conversions_at_delay),
                     percent(a.rate_at_delay), percent(a.low) + " - " + percent(a.high)});
  if (table.size() > 1) print_table(out, table);
  out << "  best arm: " << (c.best_arm.empty() ? "none separated yet" : c.best_arm);
  if (!c.naive_best_arm.empty() && c.naive_best_arm != c.best_arm)
    out << "; a naive responses/impressions ratio would pick " << c.naive_best_arm;
  out << '\n';
}

// Each shadow output against its champion, and the requests it deviates most on.
void print_canary(std::ostream& out, const std::vector<CanaryReport>& shadows) {
  out << "\ncanary and challengers (recent interval against the background):\n";
  std::vector<std::vector<std::string>> table{
      {"shadow", "role", "of", "status", "mean |diff|", "background", "disagree", "background", "p", "missing"}};
  for (const CanaryReport& c : shadows)
    table.push_back({c.name, to_string(c.role), c.of, to_string(c.status), figure(c.mean_abs_deviation, "%.4f"),
                     figure(c.background_mean_abs_deviation, "%.4f"), percent(c.disagreement_rate),
                     percent(c.background_disagreement_rate), figure(c.p_value, "%.2g"), percent(c.missing_rate)});
  print_table(out, table);
  for (const CanaryReport& c : shadows) {
    if (c.top.empty()) continue;
    out << "  most deviating requests of " << c.name << ":";
    for (std::size_t i = 0; i < c.top.size() && i < 3; ++i)
      out << (i ? ", " : " ") << (c.top[i].id.empty() ? std::string("(no id)") : c.top[i].id) << " ("
          << figure(c.top[i].champion, "%.3f") << " vs " << figure(c.top[i].other, "%.3f") << ")";
    out << '\n';
  }
}

// Every transition in time order; messages are cut to fit a terminal line.
void print_alerts(std::ostream& out, const std::vector<Alert>& alerts, const std::string& alerts_path) {
  std::size_t raised = 0;
  for (const Alert& a : alerts) raised += a.transition != Alert::Transition::resolved;
  out << "\nalerts: " << raised << " raised or escalated (written to " << alerts_path << "), "
      << (alerts.size() - raised) << " resolved\n";
  if (alerts.empty()) return;
  std::vector<std::vector<std::string>> table{{"time", "kind", "subject", "severity", "message"}};
  for (const Alert& a : alerts) {
    std::string message = a.message;
    if (message.size() > 100) message = message.substr(0, 97) + "...";
    table.push_back({format_time(a.time), to_string(a.kind), to_string(a.subject),
                     a.transition == Alert::Transition::resolved ? "resolved" : to_string(a.severity), message});
  }
  print_table(out, table);
}

void print_status(std::ostream& out, const Report& report) {
  out << "\nstatus at " << time_or_dash(report.time) << ": " << to_string(report.status) << '\n';
  std::vector<std::vector<std::string>> table{
      {"feature", "kind", "status", "drift PSI", "KS", "missing", "out of range", "unseen", "bad"}};
  for (const FeatureReport& f : report.features)
    table.push_back({f.name, f.categorical ? "categorical" : "numeric", to_string(f.status), figure(f.psi),
                     figure(f.ks_statistic), percent(f.missing_rate), percent(f.out_of_range_rate),
                     percent(f.unseen_rate), std::to_string(f.bad_values)});
  for (const OutputReport& o : report.outputs)
    table.push_back({o.name, "output", to_string(o.status), figure(o.psi), figure(o.ks_statistic),
                     percent(o.missing_rate), "", "", std::to_string(o.non_finite_scores)});
  print_table(out, table);
}

}  // namespace

void print_replay_summary(std::ostream& out, const ReplayTally& tally, const Report& report,
                          const std::vector<Alert>& alerts) {
  print_rows(out, tally, report);
  print_time_formats(out, tally);
  print_bad_cells(out, tally);
  print_accuracy(out, tally);
  print_traffic(out, report, tally);
  if (tally.latency) print_latency(out, report.latency);
  if (tally.labels) {
    print_labels(out, *tally.labels, report.quality);
    print_quality(out, report.quality);
  }
  if (tally.conversions) print_conversions(out, *tally.conversions, report.conversions);
  if (!report.canary.empty()) print_canary(out, report.canary);
  print_alerts(out, alerts, tally.alerts_path);
  print_status(out, report);
}

}  // namespace vigil::tools

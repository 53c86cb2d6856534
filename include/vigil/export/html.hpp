// vigil — in-process monitoring of machine-learning models in C++ inference servers.
// SPDX-License-Identifier: Apache-2.0
#pragma once

// Report as one self-contained HTML page: inline CSS and inline SVG charts, no script and
// no network fetch, so it can be mailed, archived or opened from disk. docs/report.md shows
// what each section holds.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "vigil/config.hpp"
#include "vigil/export/detail/text.hpp"
#include "vigil/monitor/alerts.hpp"
#include "vigil/monitor/report.hpp"

namespace vigil {

/// Small per-interval figures of successive reports, for the charts of to_html(). Keeps, per
/// report: the time, the status, the recent request count, per feature its shift PSI,
/// horizon PSI and missing rate, per output its recent median score and shift PSI, and per
/// quality figure (realised or estimated) its recent value (cohorts are not kept). A subject
/// absent from a report gets NaN at that time.
///
/// **Memory**: 8 bytes per point per series: (3 + 3 × features + 2 × outputs + quality
/// figures) series of at most `max_points` points. Adding a point to a full history first
/// halves it, merging neighbouring pairs (the later time; the larger value for status and PSI
/// and missing rate, so spikes stay visible; the mean for requests, scores and quality
/// figures, whose bad direction depends on the figure), so the whole span stays covered at
/// coarser resolution.
///
/// ```cpp
/// vigil::ReportHistory history;
/// for (...) history.add(monitor.report(t));          // once per interval
/// std::string page = vigil::to_html(monitor.report(), alerts, &history);
/// ```
class ReportHistory {
 public:
  /// Names of the figures kept, as passed to series().
  static constexpr std::string_view status = "status";
  static constexpr std::string_view recent_requests = "recent_requests";
  static constexpr std::string_view feature_shift_psi = "feature_shift_psi";
  static constexpr std::string_view feature_psi = "feature_psi";
  static constexpr std::string_view feature_missing_rate = "feature_missing_rate";
  static constexpr std::string_view output_recent_p50 = "output_recent_p50";
  static constexpr std::string_view output_shift_psi = "output_shift_psi";
  static constexpr std::string_view quality_recent = "quality_recent";

  /// `max_points` ≥ 2 bounds the points per series; smaller values are raised to 2.
  explicit ReportHistory(std::size_t max_points = 4096) : max_points_(std::max<std::size_t>(2, max_points)) {}

  /// Appends the figures of `report` at `report.time`. Amortised O(features + outputs +
  /// quality figures).
  void add(const Report& report);

  /// Report times (Unix seconds), oldest first.
  const std::vector<double>& times() const { return times_; }
  std::size_t size() const { return times_.size(); }
  bool empty() const { return times_.empty(); }
  /// Per subject (feature or output name; "" for the whole model), the values of `figure`
  /// aligned with times(). Empty for an unknown figure.
  const std::map<std::string, std::vector<double>>& series(std::string_view figure) const {
    static const std::map<std::string, std::vector<double>> none;
    const auto it = figures_.find(figure);
    return it == figures_.end() ? none : it->second;
  }

 private:
  void put(std::string_view figure, const std::string& subject, double value);
  void halve();
  static bool keeps_peaks(std::string_view figure) {
    return figure != recent_requests && figure != output_recent_p50 && figure != quality_recent;
  }

  std::size_t max_points_;
  std::vector<double> times_;
  std::map<std::string, std::map<std::string, std::vector<double>>, std::less<>> figures_;
};

/// What to_html() shows.
struct HtmlOptions {
  std::string title = "vigil report";
  /// The alerts table shows at most this many, the newest; the page says how many it left out.
  std::size_t max_alerts = 1000;
  /// Lines per chart: the subjects with the largest peak values.
  std::size_t max_chart_lines = 8;
  /// PSI and Wasserstein cells are shaded warn / alert from these thresholds.
  AlertPolicy policy;
};

/// One self-contained HTML page describing `latest`:
/// - a header coloured by status with the report time, the recent interval and the horizon;
/// - the open alerts of `latest`, then `alerts` (e.g. every transition of a replay, in the
///   order given): time, transition, kind, subject, severity, statistic, p-value, message;
/// - charts over `history`, when given and holding at least two reports: model status and
///   requests, feature shift PSI, feature PSI, missing rate, output median score, quality
///   figures;
/// - per feature: status, PSI, KS, Wasserstein, Jensen-Shannon, shift PSI and p-value, means,
///   missing, out-of-range, unseen (with the most frequent unseen values), bad values;
/// - per output: status, PSI, KS, score quantiles against training, class shares;
/// - quality, when the report or a cohort has a labelled output: the realised figures and the
///   estimates against the holdout baseline (recent, baseline, difference, p-value, count,
///   status), labels and coverage per quality interval, the label counters that are not zero
///   with their meaning, and per cohort its figures with data;
/// - traffic: arrivals against the predicted rate, the silence since the latest arrival,
///   requests in flight, completions per arrival, error and timeout rates against the
///   background;
/// - latency, for all requests and per cohort: p50, p99 and p99.9 in the latency window
///   against the background with their ratios, the G-test, the slow threshold and the slow
///   requests; then the tag values over-represented among the slow requests;
/// - per cohort: status, requests, and the features and outputs that are not ok;
/// - the input counters.
///
/// All text from the report is HTML-escaped. NaN figures show as "–".
///
/// Complexity: O(alerts shown + features + outputs + cohorts × (features + outputs) +
/// history points × chart lines).
inline std::string to_html(const Report& latest, const std::vector<Alert>& alerts, const ReportHistory* history = nullptr,
                    const HtmlOptions& options = {});

// ---------------------------------------------------------------------------------------

inline void ReportHistory::put(std::string_view figure, const std::string& subject, double value) {
  auto fit = figures_.find(figure);
  if (fit == figures_.end()) fit = figures_.emplace(std::string(figure), std::map<std::string, std::vector<double>>{}).first;
  std::vector<double>& values = fit->second[subject];
  values.resize(times_.size() - 1, FeatureReport::nan());  // a subject new in this report
  values.push_back(value);
}

inline void ReportHistory::halve() {
  const std::size_t n = times_.size();
  const std::size_t half = (n + 1) / 2;
  const auto merge_pair = [n](std::vector<double>& v, std::size_t i, bool peaks) {
    const double a = v[2 * i];
    if (2 * i + 1 >= n) return a;
    const double b = v[2 * i + 1];
    if (std::isnan(a)) return b;
    if (std::isnan(b)) return a;
    return peaks ? std::max(a, b) : (a + b) / 2;
  };
  for (std::size_t i = 0; i < half; ++i) times_[i] = times_[std::min(2 * i + 1, n - 1)];
  times_.resize(half);
  for (auto& [figure, subjects] : figures_) {
    const bool peaks = keeps_peaks(figure);
    for (auto& [subject, values] : subjects) {
      for (std::size_t i = 0; i < half; ++i) values[i] = merge_pair(values, i, peaks);
      values.resize(half);
    }
  }
}

inline void ReportHistory::add(const Report& report) {
  if (times_.size() >= max_points_) halve();
  times_.push_back(report.time);
  static const std::string model;
  put(status, model, report.status == Status::insufficient_data ? -1.0 : static_cast<double>(static_cast<int>(report.status)));
  put(recent_requests, model, static_cast<double>(report.recent_requests));
  for (const FeatureReport& f : report.features) {
    put(feature_shift_psi, f.name, f.shift_psi);
    put(feature_psi, f.name, f.psi);
    put(feature_missing_rate, f.name, f.missing_rate);
  }
  for (const OutputReport& o : report.outputs) {
    put(output_recent_p50, o.name, o.recent_p50);
    put(output_shift_psi, o.name, o.shift_psi);
  }
  for (const QualityMetric& m : report.quality.metrics) put(quality_recent, m.name, m.recent);
  for (const QualityMetric& m : report.quality.estimated) put(quality_recent, m.name, m.recent);
  // Subjects missing from this report.
  for (auto& [figure, subjects] : figures_)
    for (auto& [subject, values] : subjects) values.resize(times_.size(), FeatureReport::nan());
}

namespace detail {

/// Appends HTML-escaped text; shorthand for the page builder.
class HtmlPage {
 public:
  explicit HtmlPage(std::string& out) : out_(out) {}
  HtmlPage& raw(std::string_view markup) {
    out_ += markup;
    return *this;
  }
  HtmlPage& text(std::string_view s) {
    append_html_escaped(out_, s);
    return *this;
  }
  template <class... Args>
  HtmlPage& format(fmt::format_string<Args...> f, Args&&... args) {
    fmt::format_to(std::back_inserter(out_), f, std::forward<Args>(args)...);
    return *this;
  }
  std::string& out() { return out_; }

 private:
  std::string& out_;
};

inline constexpr std::string_view html_dash = "\xE2\x80\x93";  // en dash: "not computed"

inline std::string html_number(double v) {
  if (std::isnan(v)) return std::string(html_dash);
  if (std::isinf(v)) return v > 0 ? "\xE2\x88\x9E" : "\xE2\x88\x92\xE2\x88\x9E";
  if (v == 0) return "0";
  const double magnitude = std::abs(v);
  if (magnitude < 1e-3 || magnitude >= 1e7) return fmt::format("{:.3g}", v);
  // Three significant digits in plain notation ("29812", "471", "1.42", "0.0212").
  const int decimals = std::max(0, 2 - static_cast<int>(std::floor(std::log10(magnitude))));
  std::string text = fmt::format("{:.{}f}", v, decimals);
  if (text.find('.') != std::string::npos) {
    while (text.back() == '0') text.pop_back();
    if (text.back() == '.') text.pop_back();
  }
  return text;
}

inline std::string html_p_value(double p) {
  if (std::isnan(p)) return std::string(html_dash);
  if (p < 1e-300) return "&lt;1e-300";
  return fmt::format("{:.2g}", p);
}

inline std::string html_percent(double rate) {
  if (std::isnan(rate)) return std::string(html_dash);
  if (rate == 0) return "0%";
  const double percent = rate * 100;
  return percent < 0.1 ? fmt::format("{:.2g}%", percent) : fmt::format("{:.1f}%", percent);
}

/// A duration for people, in the unit that keeps it readable: "45 µs", "12.5 ms", "4.5 s",
/// "12 min", "3.2 h".
inline std::string html_duration(double seconds) {
  if (std::isnan(seconds) || std::isinf(seconds)) return html_number(seconds);
  const double magnitude = std::abs(seconds);
  if (magnitude == 0) return "0 s";
  if (magnitude < 1e-3) return html_number(seconds * 1e6) + " \xC2\xB5s";
  if (magnitude < 1) return html_number(seconds * 1e3) + " ms";
  if (magnitude < 120) return html_number(seconds) + " s";
  if (magnitude < 7200) return html_number(seconds / 60) + " min";
  return html_number(seconds / 3600) + " h";
}

/// A multiple such as a recent quantile over its background: "3.2&times;".
inline std::string html_factor(double ratio) {
  if (std::isnan(ratio)) return std::string(html_dash);
  return html_number(ratio) + "&times;";
}

inline std::string html_time(double t) {
  const std::string iso = iso8601(t);
  if (iso.empty()) return std::string(html_dash);
  // "2026-11-02 08:00:00Z": milliseconds are noise on a page a person reads.
  return iso.substr(0, 10) + " " + iso.substr(11, 8) + "Z";
}

/// CSS class of a cell whose figure crosses the warn or alert threshold.
inline const char* html_level(double v, double warn, double alert) {
  if (!(v >= warn)) return "";
  return v >= alert ? " class=\"lv-alert\"" : " class=\"lv-warn\"";
}

/// A test statistic with its p-value below it.
inline void html_test_cell(HtmlPage& p, double statistic, double p_value) {
  p.format("<td>{}", html_number(statistic));
  if (!std::isnan(p_value)) p.format("<br><span class=\"muted\">p {}</span>", html_p_value(p_value));
  p.raw("</td>");
}

/// A coloured word: a status or a severity.
inline void html_badge(HtmlPage& p, std::string_view word) {
  p.format("<span class=\"badge st-{0}\">{0}</span>", word);
}

inline void html_status(HtmlPage& p, Status s) { html_badge(p, to_string(s)); }

/// A recent count, and the intervals pooled into it when there were more than one.
inline void html_recent_count(HtmlPage& p, std::uint64_t count, std::uint64_t intervals) {
  p.format("{}", count);
  if (intervals > 1) p.format("<br><span class=\"muted\">{} intervals</span>", intervals);
}

/// A number, shaded when it crosses the warn or alert threshold.
inline void html_shaded_cell(HtmlPage& p, double v, double warn, double alert) {
  p.format("<td{}>{}</td>", html_level(v, warn, alert), html_number(v));
}

/// Opens a section with its heading (markup), and after it the status badge when given.
inline void html_section_start(HtmlPage& p, std::string_view id, std::string_view heading) {
  p.format("<section id=\"{}\">\n<h2>{}</h2>\n", id, heading);
}
inline void html_section_start(HtmlPage& p, std::string_view id, std::string_view heading, Status status) {
  p.format("<section id=\"{}\">\n<h2>{} ", id, heading);
  html_status(p, status);
  p.raw("</h2>\n");
}
inline void html_section_end(HtmlPage& p) { p.raw("</section>\n"); }

/// A paragraph of explanation (markup) under a table, or in place of an empty one.
inline void html_note(HtmlPage& p, std::string_view markup) { p.raw("<p class=\"note\">").raw(markup).raw("</p>\n"); }

inline void html_table_end(HtmlPage& p) { p.raw("</tbody></table>\n"); }

inline constexpr std::string_view html_style = R"css(
:root{--ok:#2e7d32;--warn:#b26a00;--alert:#c62828;--line:#d9dde3;--muted:#5f6b7a}
*{box-sizing:border-box}
body{font:14px/1.45 -apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:#1d2430;margin:0;background:#f5f6f8}
header{padding:18px 28px;color:#fff;background:var(--ok)}
header.st-warn{background:var(--warn)}header.st-alert{background:var(--alert)}header.st-insufficient_data{background:var(--muted)}
header h1{margin:0 0 4px;font-size:22px;font-weight:600}
header p{margin:2px 0;opacity:.95}
nav{margin-top:8px}nav a{color:#fff;margin-right:16px;font-weight:600;text-decoration:none;border-bottom:1px solid rgba(255,255,255,.5)}
main{padding:8px 28px 28px}
section{background:#fff;border:1px solid var(--line);border-radius:6px;margin:16px 0;padding:12px 16px;overflow-x:auto}
h2{font-size:17px;margin:2px 0 10px}
h3{font-size:14px;margin:12px 0 6px}
table{border-collapse:collapse;width:100%;font-variant-numeric:tabular-nums}
th,td{border-bottom:1px solid var(--line);padding:4px 8px;text-align:right;vertical-align:top;white-space:nowrap}
th{background:#eef0f3;font-weight:600;position:sticky;top:0}
td.l,th.l{text-align:left}
td.msg{text-align:left;white-space:normal;min-width:320px}
tr:hover td{background:#fafbfc}
.badge{display:inline-block;min-width:44px;text-align:center;padding:1px 7px;border-radius:10px;color:#fff;font-size:12px;font-weight:600;text-transform:uppercase}
.st-ok{background:var(--ok)}.st-warn{background:var(--warn)}.st-alert{background:var(--alert)}.st-insufficient_data{background:var(--muted)}
header .badge{background:rgba(255,255,255,.22);font-size:14px;padding:2px 10px}
td.lv-warn{background:#fff3cd}td.lv-alert{background:#f8d7da}
.muted{color:var(--muted)}
.note{color:var(--muted);font-size:13px;margin:6px 0}
.charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(560px,1fr));gap:14px}
figure{margin:0}
figcaption{font-weight:600;margin-bottom:4px}
svg{width:100%;height:auto;display:block}
svg text{font:11px sans-serif;fill:#5f6b7a}
.legend{list-style:none;margin:4px 0 0;padding:0;font-size:12px}
.legend li{display:inline-block;margin-right:12px}
.legend i{display:inline-block;width:14px;height:3px;margin-right:4px;vertical-align:middle}
footer{color:var(--muted);font-size:12px;padding:0 28px 20px}
)css";

inline constexpr const char* chart_colours[] = {"#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
                                                "#b8860b", "#b07aa1", "#ff9da7", "#9c755f", "#6b6b6b"};

/// A tick step of 1, 2 or 5 × 10^k giving about `target` ticks over `span`.
inline double nice_step(double span, int target) {
  const double raw = span / target;
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  const double r = raw / magnitude;
  return (r < 1.5 ? 1 : r < 3.5 ? 2 : r < 7.5 ? 5 : 10) * magnitude;
}

/// The colour of the `i`-th line of a chart, the same in the chart and in its legend.
inline const char* chart_colour(std::size_t i) { return chart_colours[i % std::size(chart_colours)]; }

/// One line of a chart: a subject's values, aligned with the chart's times.
struct ChartLine {
  std::string name;
  const std::vector<double>* values;
};

/// A horizontal reference line of a chart, e.g. a PSI threshold.
struct ChartMark {
  double value;
  const char* label;
};

/// Where a chart draws: the SVG's size and margins, the time span on x and the value range on
/// y (rounded out to ticks of `ystep`, and from 0 or below).
struct ChartScale {
  static constexpr double width = 640, height = 220, left = 52, right = 12, top = 10, bottom = 28;
  double t0, t1, y0, y1, ystep;

  double x(double t) const { return left + (t - t0) / (t1 - t0) * (width - left - right); }
  double y(double v) const { return top + (y1 - v) / (y1 - y0) * (height - top - bottom); }
};

/// The scale that shows every finite value of `lines` over the finite `times` and reaches
/// above every mark; none when no value is finite or the times span no time.
inline std::optional<ChartScale> chart_scale(const std::vector<double>& times, const std::vector<ChartLine>& lines,
                                             const std::vector<ChartMark>& marks) {
  double t0 = std::numeric_limits<double>::infinity(), t1 = -t0, y0 = 0, y1 = -t0;
  for (double t : times)
    if (std::isfinite(t)) t0 = std::min(t0, t), t1 = std::max(t1, t);
  bool any = false;
  for (const ChartLine& line : lines)
    for (double v : *line.values)
      if (std::isfinite(v)) y0 = std::min(y0, v), y1 = std::max(y1, v), any = true;
  if (!any || !(t1 > t0)) return std::nullopt;
  for (const ChartMark& mark : marks) y1 = std::max(y1, mark.value * 1.1);
  if (!(y1 > y0)) y1 = y0 + 1;
  const double ystep = nice_step(y1 - y0, 4);
  return ChartScale{t0, t1, std::floor(y0 / ystep) * ystep, std::ceil(y1 / ystep) * ystep, ystep};
}

/// Horizontal grid lines at every tick of the value axis, labelled on the left.
inline void html_chart_grid(HtmlPage& p, const ChartScale& s) {
  for (double v = s.y0; v <= s.y1 + s.ystep / 2; v += s.ystep) {
    const double y = s.y(v);
    p.format("<line x1=\"{}\" x2=\"{}\" y1=\"{:.1f}\" y2=\"{:.1f}\" stroke=\"#e6e8eb\"/>", s.left,
             s.width - s.right, y, y);
    p.format("<text x=\"{}\" y=\"{:.1f}\" text-anchor=\"end\">{}</text>", s.left - 5, y + 4,
             std::abs(v) < s.ystep / 1e6 ? std::string("0") : fmt::format("{:.3g}", v));
  }
}

/// Dashed reference lines at the marks within the value range, labelled on the right.
inline void html_chart_marks(HtmlPage& p, const ChartScale& s, const std::vector<ChartMark>& marks) {
  double previous_label_y = -100;
  double label_x = s.width - s.right - 2;
  for (const auto& [value, label] : marks) {
    if (!(value >= s.y0 && value <= s.y1)) continue;
    const double y = s.y(value);
    // Labels of close lines side by side rather than on top of each other.
    label_x = std::abs(y - previous_label_y) < 12 ? label_x - 36 : s.width - s.right - 2;
    previous_label_y = y;
    p.format("<line x1=\"{}\" x2=\"{}\" y1=\"{:.1f}\" y2=\"{:.1f}\" stroke=\"#c62828\" stroke-dasharray=\"4 3\" stroke-width=\"1\"/>",
             s.left, s.width - s.right, y, y);
    p.format("<text x=\"{}\" y=\"{:.1f}\" text-anchor=\"end\" style=\"fill:#c62828\">{}</text>", label_x, y - 3,
             label);
  }
}

/// Both axes, and the start, middle and end times under the time axis.
inline void html_chart_axes(HtmlPage& p, const ChartScale& s) {
  p.format("<line x1=\"{0}\" x2=\"{0}\" y1=\"{1}\" y2=\"{2}\" stroke=\"#9aa3ad\"/>", s.left, s.top,
           s.height - s.bottom);
  p.format("<line x1=\"{0}\" x2=\"{1}\" y1=\"{2}\" y2=\"{2}\" stroke=\"#9aa3ad\"/>", s.left, s.width - s.right,
           s.height - s.bottom);
  const std::pair<double, const char*> x_labels[] = {{s.t0, "start"}, {(s.t0 + s.t1) / 2, "middle"}, {s.t1, "end"}};
  for (const auto& [t, anchor] : x_labels)
    p.format("<text x=\"{:.1f}\" y=\"{}\" text-anchor=\"{}\">", s.x(t), s.height - 8, anchor)
        .text(html_time(t))
        .raw("</text>");
}

/// One line as polylines: a value or time that is not finite breaks it. With `step`, each
/// value holds until the next time (a staircase), as a status does.
inline void html_chart_line(HtmlPage& p, const ChartScale& s, const std::vector<double>& times,
                            const std::vector<double>& values, const char* colour, bool step) {
  std::string points;
  double last_y = 0;
  const auto flush = [&] {
    if (points.empty()) return;
    p.format("<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"1.6\" points=\"{}\"/>", colour, points);
    points.clear();
  };
  for (std::size_t k = 0; k < values.size() && k < times.size(); ++k) {
    if (!std::isfinite(values[k]) || !std::isfinite(times[k])) {
      flush();
      continue;
    }
    const double x = s.x(times[k]);
    const double y = s.y(values[k]);
    if (step && !points.empty()) fmt::format_to(std::back_inserter(points), "{:.1f},{:.1f} ", x, last_y);
    fmt::format_to(std::back_inserter(points), "{:.1f},{:.1f} ", x, y);
    last_y = y;
  }
  flush();
}

/// The names of the lines in their colours; none for a single unnamed line.
inline void html_chart_legend(HtmlPage& p, const std::vector<ChartLine>& lines) {
  if (lines.size() > 1 || (lines.size() == 1 && !lines[0].name.empty())) {
    p.raw("<ul class=\"legend\">");
    for (std::size_t i = 0; i < lines.size(); ++i) {
      p.format("<li><i style=\"background:{}\"></i>", chart_colour(i));
      p.text(lines[i].name).raw("</li>");
    }
    p.raw("</ul>");
  }
}

/// An SVG line chart of `lines` over `times`, with horizontal reference lines at `marks`
/// (e.g. the PSI thresholds), or nothing when there is nothing to draw. NaN values break a
/// line.
inline void html_chart(HtmlPage& p, std::string_view caption, const std::vector<double>& times,
                       const std::vector<ChartLine>& lines, const std::vector<ChartMark>& marks, bool step = false) {
  const std::optional<ChartScale> scale = chart_scale(times, lines, marks);
  if (!scale) return;
  p.raw("<figure><figcaption>").text(caption).raw("</figcaption>");
  p.format("<svg viewBox=\"0 0 {} {}\" role=\"img\" aria-label=\"", ChartScale::width, ChartScale::height)
      .text(caption)
      .raw("\">");
  html_chart_grid(p, *scale);
  html_chart_marks(p, *scale, marks);
  html_chart_axes(p, *scale);
  for (std::size_t i = 0; i < lines.size(); ++i)
    html_chart_line(p, *scale, times, *lines[i].values, chart_colour(i), step);
  p.raw("</svg>");
  html_chart_legend(p, lines);
  p.raw("</figure>");
}

/// The subjects of a history series with the largest peaks, at most `limit`, named.
inline std::vector<ChartLine> top_lines(const std::map<std::string, std::vector<double>>& series, std::size_t limit,
                                        std::size_t& left_out) {
  std::vector<std::pair<double, const std::pair<const std::string, std::vector<double>>*>> ranked;
  for (const auto& entry : series) {
    double peak = -std::numeric_limits<double>::infinity();
    for (double v : entry.second)
      if (std::isfinite(v)) peak = std::max(peak, v);
    if (std::isfinite(peak)) ranked.emplace_back(peak, &entry);
  }
  std::stable_sort(ranked.begin(), ranked.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  left_out = ranked.size() > limit ? ranked.size() - limit : 0;
  std::vector<ChartLine> lines;
  for (std::size_t i = 0; i < ranked.size() && i < limit; ++i)
    lines.push_back(ChartLine{ranked[i].second->first, &ranked[i].second->second});
  return lines;
}

/// A chart of one figure of the whole model, e.g. its status.
inline void html_model_chart(HtmlPage& p, const ReportHistory& history, std::string_view figure,
                             std::string_view caption, bool step) {
  const auto& series = history.series(figure);
  const auto it = series.find("");
  if (it == series.end()) return;
  html_chart(p, caption, history.times(), {ChartLine{"", &it->second}}, {}, step);
}

/// A chart of one figure of the features or outputs: the `max_lines` subjects with the
/// largest peaks, the caption saying how many were left out.
inline void html_subject_chart(HtmlPage& p, const ReportHistory& history, std::string_view figure,
                               std::string_view caption, const std::vector<ChartMark>& marks, std::size_t max_lines) {
  std::size_t left_out = 0;
  const auto lines = top_lines(history.series(figure), max_lines, left_out);
  if (lines.empty()) return;
  std::string title(caption);
  if (left_out > 0) title += fmt::format(" (largest {} of {})", lines.size(), lines.size() + left_out);
  html_chart(p, title, history.times(), lines, marks);
}

/// Charts over the history: the model's status and requests, then the features' and outputs'
/// figures, PSI with the policy's thresholds.
inline void html_history(HtmlPage& p, const ReportHistory& history, const HtmlOptions& options) {
  const std::vector<ChartMark> psi_marks{{options.policy.psi_warn, "warn"}, {options.policy.psi_alert, "alert"}};
  const std::size_t max_lines = options.max_chart_lines;
  html_section_start(p, "history", "History");
  p.raw("<div class=\"charts\">\n");
  html_model_chart(p, history, ReportHistory::status, "Model status (0 ok, 1 warn, 2 alert, -1 insufficient data)", true);
  html_model_chart(p, history, ReportHistory::recent_requests, "Requests per recent interval", false);
  html_subject_chart(p, history, ReportHistory::feature_shift_psi, "Feature shift PSI (recent vs background)",
                     psi_marks, max_lines);
  html_subject_chart(p, history, ReportHistory::feature_psi, "Feature PSI (horizon vs training)", psi_marks, max_lines);
  html_subject_chart(p, history, ReportHistory::feature_missing_rate, "Feature missing rate", {}, max_lines);
  html_subject_chart(p, history, ReportHistory::output_recent_p50, "Output median score (recent)", {}, max_lines);
  html_subject_chart(p, history, ReportHistory::output_shift_psi, "Output shift PSI (recent vs background)",
                     psi_marks, max_lines);
  html_subject_chart(p, history, ReportHistory::quality_recent, "Quality figures (realised and estimated)", {},
                     max_lines);
  p.raw("</div>\n");
  html_section_end(p);
}

/// One row of an alert table; `transition` adds the transition column of the alert log.
inline void html_alert_row(HtmlPage& p, const Alert& a, bool transition) {
  p.raw("<tr><td class=\"l\">").text(html_time(a.time)).raw("</td>");
  if (transition) p.raw("<td class=\"l\">").text(to_string(a.transition)).raw("</td>");
  p.raw("<td class=\"l\">").text(to_string(a.kind)).raw("</td><td class=\"l\">").text(to_string(a.subject)).raw("</td><td>");
  html_badge(p, to_string(a.severity));
  p.format("</td><td>{}</td><td>{}</td><td class=\"msg\">", html_number(a.statistic), html_p_value(a.p_value));
  p.text(a.message).raw("</td></tr>\n");
}

/// The alerts from index `first` on.
inline void html_alert_table(HtmlPage& p, const std::vector<Alert>& alerts, std::size_t first, bool transitions) {
  p.raw("<table><thead><tr><th class=\"l\">Time (UTC)</th>");
  if (transitions) p.raw("<th class=\"l\">Transition</th>");
  p.raw("<th class=\"l\">Kind</th><th class=\"l\">Subject</th><th>Severity</th><th>Statistic</th><th>p-value</th>"
        "<th class=\"l\">Message</th></tr></thead><tbody>\n");
  for (std::size_t i = first; i < alerts.size(); ++i) html_alert_row(p, alerts[i], transitions);
  html_table_end(p);
}

inline void html_open_alerts(HtmlPage& p, const std::vector<Alert>& open_alerts) {
  html_section_start(p, "open-alerts", "Open alerts");
  if (open_alerts.empty()) {
    html_note(p, "No alert is open.");
  } else {
    html_alert_table(p, open_alerts, 0, false);
  }
  html_section_end(p);
}

/// `alerts` in the order given, the newest `max_alerts` of them.
inline void html_alert_log(HtmlPage& p, const std::vector<Alert>& alerts, std::size_t max_alerts) {
  html_section_start(p, "alerts", fmt::format("Alert log ({})", alerts.size()));
  if (alerts.empty()) {
    html_note(p, "No alert was raised.");
  } else {
    const std::size_t first = alerts.size() > max_alerts ? alerts.size() - max_alerts : 0;
    if (first > 0) html_note(p, fmt::format("The {} earliest alerts are not shown.", first));
    html_alert_table(p, alerts, first, true);
  }
  html_section_end(p);
}

/// PSI, KS with its p-value and Wasserstein over the horizon against training, of a feature
/// or an output, shaded from the policy's thresholds.
template <class Subject>
void html_drift_cells(HtmlPage& p, const Subject& s, const AlertPolicy& policy) {
  html_shaded_cell(p, s.psi, policy.psi_warn, policy.psi_alert);
  html_test_cell(p, s.ks_statistic, s.ks_p_value);
  html_shaded_cell(p, s.wasserstein, policy.wasserstein_warn, policy.wasserstein_alert);
}

/// The most frequent unseen values of a categorical feature (five at most) with their counts.
inline void html_unseen_values(HtmlPage& p, const std::vector<std::pair<std::string, std::uint64_t>>& unseen) {
  if (unseen.empty()) return;
  p.raw("<br><span class=\"muted\">");
  const std::size_t shown = std::min<std::size_t>(unseen.size(), 5);
  for (std::size_t i = 0; i < shown; ++i) {
    if (i > 0) p.raw(", ");
    p.raw("&ldquo;").text(unseen[i].first).format("&rdquo; {}", unseen[i].second);
  }
  if (shown < unseen.size()) p.raw(", &hellip;");
  p.raw("</span>");
}

inline void html_feature_row(HtmlPage& p, const FeatureReport& f, const AlertPolicy& policy) {
  p.raw("<tr><td class=\"l\">").text(f.name).raw("</td>");
  p.format("<td class=\"l\">{}</td><td>", f.categorical ? "categorical" : "numeric");
  html_status(p, f.status);
  p.format("</td><td>{}</td>", f.horizon_count);
  html_drift_cells(p, f, policy);
  p.format("<td>{}</td><td>", html_number(f.js_distance));
  html_recent_count(p, f.recent_count, f.recent_intervals);
  p.raw("</td>");
  html_shaded_cell(p, f.shift_psi, policy.psi_warn, policy.psi_alert);
  p.format("<td>{}</td><td>{} / {}</td>", html_p_value(f.shift_p_value), html_number(f.recent_mean),
           html_number(f.reference_mean));
  const double missing_change = std::abs(f.missing_rate - f.reference_missing_rate);
  p.format("<td{}>{} / {}</td>",
           html_level(missing_change, policy.missing_rate_change, 4 * policy.missing_rate_change),
           html_percent(f.missing_rate), html_percent(f.reference_missing_rate));
  p.format("<td{}>{}</td>", html_level(f.out_of_range_rate, policy.out_of_range_share, 5 * policy.out_of_range_share),
           html_percent(f.out_of_range_rate));
  p.format("<td{}>{}", html_level(f.unseen_rate, policy.unseen_share, 5 * policy.unseen_share),
           html_percent(f.unseen_rate));
  html_unseen_values(p, f.unseen_values);
  p.format("</td><td>{}</td></tr>\n", f.bad_values);
}

inline void html_features(HtmlPage& p, const std::vector<FeatureReport>& features, const AlertPolicy& policy) {
  html_section_start(p, "features", fmt::format("Features ({})", features.size()));
  if (features.empty()) {
    html_note(p, "No feature in this report.");
    html_section_end(p);
    return;
  }
  p.raw("<table><thead><tr><th class=\"l\">Feature</th><th class=\"l\">Kind</th><th>Status</th><th>Horizon n</th>"
        "<th>PSI</th><th>KS (p)</th><th>Wasserstein &sigma;</th><th>JS</th><th>Recent n</th><th>Shift PSI</th>"
        "<th>Shift p</th><th>Mean recent / training</th><th>Missing recent / training</th><th>Out of range</th>"
        "<th>Unseen</th><th>Bad values</th></tr></thead><tbody>\n");
  for (const FeatureReport& f : features) html_feature_row(p, f, policy);
  html_table_end(p);
  html_note(p, "PSI, KS, Wasserstein (in training standard deviations) and JS compare the horizon with "
               "training; shift PSI and p compare the recent interval with the trailing background; missing, "
               "out-of-range and unseen shares are over the recent interval. Shaded cells cross the warn or alert "
               "threshold.");
  html_section_end(p);
}

/// Each predicted class's share of recent requests against training, then the G-test's p-value.
inline void html_class_shares(HtmlPage& p, const OutputReport& o) {
  for (std::size_t c = 0; c < o.classes.size(); ++c) {
    if (c > 0) p.raw("<br>");
    const double recent = c < o.class_share.size() ? o.class_share[c] : FeatureReport::nan();
    const double reference = c < o.reference_class_share.size() ? o.reference_class_share[c] : FeatureReport::nan();
    p.text(o.classes[c]).format(": {} / {}", html_percent(recent), html_percent(reference));
  }
  if (!o.classes.empty() && !std::isnan(o.class_p_value))
    p.format("<br><span class=\"muted\">G p {}</span>", html_p_value(o.class_p_value));
}

inline void html_output_row(HtmlPage& p, const OutputReport& o, const AlertPolicy& policy) {
  p.raw("<tr><td class=\"l\">").text(o.name).raw("</td><td>");
  html_status(p, o.status);
  p.format("</td><td>{}</td>", o.horizon_count);
  html_drift_cells(p, o, policy);
  p.raw("<td>");
  html_recent_count(p, o.recent_count, o.recent_intervals);
  p.raw("</td>");
  html_shaded_cell(p, o.shift_psi, policy.psi_warn, policy.psi_alert);
  p.format("<td>{}</td>", html_p_value(o.shift_p_value));
  p.format("<td>{}</td><td>{}</td><td>{}</td><td>{}</td>", html_number(o.recent_p50), html_number(o.recent_p90),
           html_number(o.recent_p99), html_number(o.reference_p50));
  // Shaded as the missing-values rule judges it: a rise against training.
  const double missing_rise = o.missing_rate - o.reference_missing_rate;
  p.format("<td{}>{} / {}</td><td>{}</td><td class=\"l\">",
           html_level(missing_rise, policy.missing_rate_change, 4 * policy.missing_rate_change),
           html_percent(o.missing_rate), html_percent(o.reference_missing_rate), o.non_finite_scores);
  html_class_shares(p, o);
  p.raw("</td></tr>\n");
}

inline void html_outputs(HtmlPage& p, const std::vector<OutputReport>& outputs, const AlertPolicy& policy) {
  html_section_start(p, "outputs", fmt::format("Outputs ({})", outputs.size()));
  if (outputs.empty()) {
    html_note(p, "No model output in this report.");
    html_section_end(p);
    return;
  }
  p.raw("<table><thead><tr><th class=\"l\">Output</th><th>Status</th><th>Horizon n</th><th>PSI</th><th>KS (p)</th>"
        "<th>Wasserstein &sigma;</th><th>Recent n</th><th>Shift PSI</th><th>Shift p</th>"
        "<th>p50</th><th>p90</th><th>p99</th><th>p50 training</th><th>Missing recent / training</th>"
        "<th>Not finite</th><th class=\"l\">Class share: recent / training</th></tr></thead><tbody>\n");
  for (const OutputReport& o : outputs) html_output_row(p, o, policy);
  html_table_end(p);
  html_note(p, "Missing counts the recent requests without a finite score: absent, NaN or infinite; not finite "
               "counts the NaN and infinite scores among them.");
  html_section_end(p);
}

/// A count that may be fractional (labels can be weighted): whole numbers in full, others as
/// figures.
inline std::string html_count(double v) {
  if (std::isfinite(v) && v == std::floor(v) && std::abs(v) < 1e15) return fmt::format("{:.0f}", v);
  return html_number(v);
}

/// A difference with its sign: "+0.07", "-0.073", "0".
inline std::string html_signed(double v) {
  return v > 0 && !std::isinf(v) ? "+" + html_number(v) : html_number(v);
}

/// CSS class of a cell shaded as its subject's status: warn or alert.
inline const char* html_status_level(Status s) {
  if (s == Status::alert) return " class=\"lv-alert\"";
  return s == Status::warn ? " class=\"lv-warn\"" : "";
}

inline bool has_data(const QualityMetric& m) { return !std::isnan(m.recent); }

inline void html_quality_metric_row(HtmlPage& p, const QualityMetric& m) {
  p.raw("<tr><td class=\"l\">").text(m.name).raw("</td><td>");
  html_status(p, m.status);
  p.format("</td><td>{}</td><td>{}</td><td{}>{}</td><td>{}</td><td>{}</td></tr>\n", html_number(m.recent),
           html_number(m.baseline), html_status_level(m.status), html_signed(m.recent - m.baseline),
           html_p_value(m.p_value), html_count(m.count));
}

/// Realised or estimated quality figures against the holdout baseline; `count_heading` names
/// what their counts are (labelled or scored requests).
inline void html_quality_metrics(HtmlPage& p, const std::vector<QualityMetric>& metrics, std::string_view count_heading) {
  p.raw("<table><thead><tr><th class=\"l\">Metric</th><th>Status</th><th>Recent</th><th>Baseline</th>"
        "<th>Difference</th><th>p-value</th>");
  p.format("<th>{}</th></tr></thead><tbody>\n", count_heading);
  for (const QualityMetric& m : metrics) html_quality_metric_row(p, m);
  html_table_end(p);
}

/// A bar of `share` (0 to 1) of a small track, then the share as a percentage.
inline void html_share_bar(HtmlPage& p, double share) {
  if (!std::isnan(share)) {
    const double width = std::clamp(share, 0.0, 1.0) * 100;
    p.format("<span style=\"display:inline-block;width:80px;height:8px;margin-right:6px;background:#eef0f3\">"
             "<span style=\"display:block;height:8px;width:{:.1f}%;background:#4e79a7\"></span></span>",
             width);
  }
  p.raw(html_percent(share));
}

/// The quality intervals of the window: requests with an id, labels joined to them so far,
/// and the share of those requests labelled.
inline void html_quality_intervals(HtmlPage& p, const std::vector<QualityInterval>& intervals) {
  p.raw("<table><thead><tr><th class=\"l\">Interval start (UTC)</th><th>Requests with an id</th><th>Labelled</th>"
        "<th class=\"l\">Coverage</th></tr></thead><tbody>\n");
  for (const QualityInterval& q : intervals) {
    const double coverage = q.identified > 0 ? q.labelled / static_cast<double>(q.identified) : FeatureReport::nan();
    p.format("<tr><td class=\"l\">{}</td><td>{}</td><td>{}</td><td class=\"l\">", html_time(q.start), q.identified,
             html_count(q.labelled));
    html_share_bar(p, coverage);
    p.raw("</td></tr>\n");
  }
  html_table_end(p);
}

/// The label counters that are not zero, one line each with what it means.
/// The counts that are not zero, as a list of {count, name, meaning}; `none` when all are.
template <std::size_t N>
void html_nonzero_counts(HtmlPage& p, const std::tuple<const char*, std::uint64_t, const char*> (&rows)[N],
                         std::string_view none) {
  bool any = false;
  for (const auto& [name, value, meaning] : rows) {
    if (value == 0) continue;
    if (!any) p.raw("<ul>\n");
    any = true;
    p.format("<li><b>{}</b> {}: {}</li>\n", value, name, meaning);
  }
  if (any) p.raw("</ul>\n");
  else html_note(p, none);
}

inline void html_label_counts(HtmlPage& p, const QualityReport& q) {
  p.format("<p>{} label{} received, {} joined to their request; {} request{} with an id waiting for a label.</p>\n",
           q.labels, q.labels == 1 ? "" : "s", q.joined, q.pending, q.pending == 1 ? "" : "s");
  const std::tuple<const char*, std::uint64_t, const char*> rows[] = {
      {"unknown ids", q.unknown_ids, "labels naming no request held (never seen, or pushed out): dropped"},
      {"duplicate labels", q.duplicate_labels, "a second label for a request: dropped, the first kept"},
      {"duplicate ids", q.duplicate_ids, "requests filed with an id already waiting: the newer replaces the older"},
      {"late labels", q.late_labels, "labels after their request's time-to-live: dropped"},
      {"bad labels", q.bad_labels, "labels of the wrong type for the output: dropped"},
      {"bad label times", q.bad_label_times, "labels with a NaN or infinite time: dropped"},
      {"before request", q.labels_before_request, "labels dated before their request: refused, the request waits on"},
      {"pushed out", q.evicted, "requests pushed out of the label store (label capacity) before their label came"},
      {"never labelled", q.expired, "requests with an id not labelled within the label time-to-live"},
      {"beyond window", q.labels_beyond_window, "labels for requests older than the quality intervals kept"},
      {"applied early", q.labels_applied_early, "labels credited before their interval was evaluated (store full)"},
  };
  html_nonzero_counts(p, rows, "No label was refused, repeated or lost, and no request went unlabelled.");
}

/// The quality figures with data, one line each: name, recent / baseline, a badge when not ok.
inline void html_metric_lines(HtmlPage& p, const std::vector<QualityMetric>& metrics) {
  bool first = true;
  for (const QualityMetric& m : metrics) {
    if (!has_data(m)) continue;
    if (!first) p.raw("<br>");
    first = false;
    p.text(m.name).format(" {} / {}", html_number(m.recent), html_number(m.baseline));
    if (!std::isnan(m.p_value)) p.format(" <span class=\"muted\">p {}</span>", html_p_value(m.p_value));
    if (m.status != Status::ok) {
      p.raw(" ");
      html_status(p, m.status);
    }
  }
  if (first) p.raw("<span class=\"muted\">&ndash;</span>");
}

/// A cohort's quality is shown when it has an output and a figure computed.
inline bool shows_quality(const CohortReport& c) {
  const auto any = [](const std::vector<QualityMetric>& metrics) {
    return std::any_of(metrics.begin(), metrics.end(), has_data);
  };
  return !c.quality.output.empty() && (any(c.quality.metrics) || any(c.quality.estimated));
}

/// One line per cohort with quality figures: status, labels, realised and estimated figures.
inline void html_cohort_quality(HtmlPage& p, const std::vector<CohortReport>& cohorts) {
  if (std::none_of(cohorts.begin(), cohorts.end(), [](const CohortReport& c) { return shows_quality(c); })) return;
  p.raw("<h3>Per cohort</h3>\n<table><thead><tr><th class=\"l\">Cohort</th><th>Status</th><th>Labelled</th>"
        "<th class=\"l\">Realised: recent / baseline</th><th class=\"l\">Estimated: recent / baseline</th>"
        "</tr></thead><tbody>\n");
  for (const CohortReport& c : cohorts) {
    if (!shows_quality(c)) continue;
    p.raw("<tr><td class=\"l\">").text(c.tag).raw("=").text(c.value).raw("</td><td>");
    html_status(p, c.quality.status);
    p.format("</td><td>{}</td><td class=\"l\">", html_count(c.quality.labelled));
    html_metric_lines(p, c.quality.metrics);
    p.raw("</td><td class=\"l\">");
    html_metric_lines(p, c.quality.estimated);
    p.raw("</td></tr>\n");
  }
  html_table_end(p);
}

/// Whether the page has a quality section: the report or a cohort has a labelled output.
inline bool shows_quality(const Report& r) {
  return !r.quality.output.empty() ||
         std::any_of(r.cohorts.begin(), r.cohorts.end(), [](const CohortReport& c) { return shows_quality(c); });
}

/// The realised figures with their window, the estimates, the labels per interval and what
/// became of the labels.
inline void html_quality_figures(HtmlPage& p, const QualityReport& q) {
  p.format("<h3>Realised from labels</h3>\n<p>Requests of {} &ndash; {}: {} labelled so far.</p>\n",
           html_time(q.window_start), html_time(q.window_end), html_count(q.labelled));
  if (q.metrics.empty()) html_note(p, "No realised figure yet.");
  else html_quality_metrics(p, q.metrics, "Labelled");
  p.raw("<h3>Estimated from scores</h3>\n");
  if (q.estimated.empty()) html_note(p, "No estimate: it needs a binary classifier with a labelled holdout.");
  else html_quality_metrics(p, q.estimated, "Scored");
  if (!q.intervals.empty()) {
    p.raw("<h3>Labels per quality interval</h3>\n");
    html_quality_intervals(p, q.intervals);
  }
  p.raw("<h3>What became of the labels</h3>\n");
  html_label_counts(p, q);
}

/// The quality of the labelled output over all requests, then per cohort.
inline void html_quality(HtmlPage& p, const Report& r) {
  const QualityReport& q = r.quality;
  std::string heading = "Quality";
  if (!q.output.empty()) {
    heading += " of ";
    append_html_escaped(heading, q.output);
  }
  html_section_start(p, "quality", heading, q.status);
  if (!q.output.empty()) html_quality_figures(p, q);
  html_cohort_quality(p, r.cohorts);
  html_note(p, "Each figure is compared with the labelled holdout of the training profile; the p-value tests that "
               "recent is worse than baseline (for bias, that it differs). Estimates come from the scores alone through the calibration map "
               "fitted on the holdout: they miss a change in how labels follow the inputs (concept drift), which "
               "only the realised figures show.");
  html_section_end(p);
}

/// One row per arm: impressions, responses, the naive rate and the rate at the delay with
/// its interval.
inline void html_conversion_arms(HtmlPage& p, const ConversionReport& c) {
  p.raw("<table><thead><tr><th class=\"l\">Arm</th><th>Impressions</th><th>Responses</th><th>Naive rate</th>"
        "<th>Old enough</th><th>Responded in time</th><th>Rate at delay</th><th>Interval</th></tr></thead><tbody>\n");
  for (const ConversionArm& a : c.arms) {
    p.raw("<tr><td class=\"l\">").text(a.arm);
    if (a.arm == c.best_arm) p.raw(" <b>best</b>");
    p.format("</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{} &ndash; {}</td></tr>\n",
             a.impressions, a.conversions, html_percent(a.naive_rate), a.impressions_at_delay, a.conversions_at_delay,
             html_percent(a.rate_at_delay), html_percent(a.low), html_percent(a.high));
  }
  html_table_end(p);
}

/// What became of the responses.
inline void html_conversion_counts(HtmlPage& p, const ConversionReport& c) {
  p.format("<p>{} response{} received, {} joined to their impression.</p>\n", c.received, c.received == 1 ? "" : "s",
           c.joined);
  const std::tuple<const char*, std::uint64_t, const char*> rows[] = {
      {"unknown ids", c.unknown_ids, "responses naming no impression held (never seen, or pushed out): dropped"},
      {"duplicates", c.duplicates, "a second response to one impression: dropped, the first kept"},
      {"too late", c.too_late, "responses after their impression's time-to-live: dropped"},
      {"before impression", c.before_impression, "responses dated before their impression: refused"},
      {"bad times", c.bad_times, "responses with a NaN or infinite time: dropped"},
      {"beyond window", c.beyond_window, "responses to impressions older than the intervals kept"},
      {"applied early", c.applied_early, "responses credited before their interval was evaluated (store full)"},
      {"without arm", c.impressions_without_arm, "impressions without the arm tag: in no arm"},
  };
  html_nonzero_counts(p, rows, "No response was refused, repeated or lost.");
}

/// Conversions per arm, compared at the delay by which most responses have come.
inline void html_conversions(HtmlPage& p, const ConversionReport& c) {
  std::string heading = "Conversions by ";
  append_html_escaped(heading, c.arm_tag);
  html_section_start(p, "conversions", heading);
  if (std::isnan(c.delay)) {
    html_note(p, "No delay yet: it needs impressions old enough, and responses to them.");
  } else {
    p.format("<p>Arms compared at <b>{}</b> after the impression, by which {} of the eventual responses came "
             "(eventual: {} at {}). ",
             html_duration(c.delay), html_percent(c.share), html_percent(c.eventual_rate), html_duration(c.horizon));
    if (c.best_arm.empty()) p.raw("No arm is separated from the others yet.");
    else p.raw("Best arm: <b>").text(c.best_arm).raw("</b>.");
    if (!c.naive_best_arm.empty() && c.naive_best_arm != c.best_arm && !c.best_arm.empty())
      p.raw(" A naive ratio of responses to impressions would prefer <b>").text(c.naive_best_arm).raw("</b>.");
    p.raw("</p>\n");
  }
  if (!c.arms.empty()) html_conversion_arms(p, c);
  html_conversion_counts(p, c);
  html_note(p, "A rate at the delay counts only impressions at least that old, and their responses within it; the "
               "naive rate counts every impression, so it favours arms whose traffic is older. Intervals are Wilson "
               "score intervals that hold for all arms together.");
  html_section_end(p);
}

/// One row per shadow output: its deviation and disagreement against the background.
inline void html_canary_row(HtmlPage& p, const CanaryReport& c, const AlertPolicy& policy) {
  p.raw("<tr><td class=\"l\">").text(c.name).raw("</td><td class=\"l\">").text(to_string(c.role));
  p.raw("</td><td class=\"l\">").text(c.of).raw("</td><td>");
  html_status(p, c.status);
  p.format("</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>", c.recent_count,
           html_number(c.mean_abs_deviation), html_number(c.background_mean_abs_deviation),
           html_number(c.p99_abs_deviation), html_percent(c.disagreement_rate));
  p.format("<td>{}</td>", html_percent(c.background_disagreement_rate));
  html_shaded_cell(p, c.rise, policy.canary_rise_warn, policy.canary_rise_alert);
  p.format("<td>{}</td><td>{}</td><td>{}</td></tr>\n", html_p_value(c.p_value), html_percent(c.missing_rate),
           html_number(c.mean_abs_deviation_from_canary));
}

/// The requests of largest deviation of one shadow, for inspection.
inline void html_canary_top(HtmlPage& p, const CanaryReport& c) {
  if (c.top.empty()) return;
  p.raw("<h3>").text(c.name).raw(" against ").text(c.of).raw(": the requests that deviate most</h3>\n");
  p.raw("<table><thead><tr><th class=\"l\">Request id</th><th class=\"l\">Time</th><th>Champion</th><th>Shadow</th>"
        "<th>|Difference|</th></tr></thead><tbody>\n");
  for (const CanaryRequest& r : c.top) {
    p.raw("<tr><td class=\"l\">").text(r.id.empty() ? std::string("(no id)") : r.id).raw("</td>");
    p.format("<td class=\"l\">{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n", html_time(r.time),
             html_number(r.champion), html_number(r.other), html_number(r.deviation));
  }
  html_table_end(p);
}

/// Shadow outputs (canary, challengers) against their champions.
inline void html_canary(HtmlPage& p, const std::vector<CanaryReport>& shadows, const AlertPolicy& policy) {
  Status worst = Status::ok;
  for (const CanaryReport& c : shadows) worst = worse(worst, c.status);
  html_section_start(p, "canary", "Canary and challengers", worst);
  p.raw("<table><thead><tr><th class=\"l\">Shadow</th><th class=\"l\">Role</th><th class=\"l\">Of</th>"
        "<th>Status</th><th>Compared</th><th>Mean |diff|</th><th>Background</th><th>p99 |diff|</th>"
        "<th>Disagree</th><th>Background</th><th>Rise</th><th>p</th><th>Missing</th><th>|diff| to canary</th>"
        "</tr></thead><tbody>\n");
  for (const CanaryReport& c : shadows) html_canary_row(p, c, policy);
  html_table_end(p);
  for (const CanaryReport& c : shadows) html_canary_top(p, c);
  html_note(p, "Every request scored by the champion is scored by each shadow too. A canary is a stable older model: "
               "its deviation from the champion stays the same, so a rise means the champion changed. A challenger's "
               "largest deviations are the requests to inspect before it replaces the champion. The p-value tests "
               "that the recent mean |difference| or disagreement rate is above the trailing background's.");
  html_section_end(p);
}

/// Every feature's share of the loss: recent, background and holdout means, most harmful first.
inline void html_attribution(HtmlPage& p, const std::vector<AttributionReport>& features, const AlertPolicy& policy) {
  Status worst = Status::ok;
  for (const AttributionReport& a : features) worst = worse(worst, a.status);
  html_section_start(p, "attribution", "Loss attribution", worst);
  std::vector<const AttributionReport*> order;
  for (const AttributionReport& a : features) order.push_back(&a);
  std::stable_sort(order.begin(), order.end(), [](const AttributionReport* a, const AttributionReport* b) {
    return (std::isnan(a->recent_mean) ? -HUGE_VAL : a->recent_mean) > (std::isnan(b->recent_mean) ? -HUGE_VAL : b->recent_mean);
  });
  p.raw("<table><thead><tr><th class=\"l\">Feature</th><th>Status</th><th>Labels</th><th>Recent mean</th>"
        "<th>Background</th><th>Holdout</th><th>Effect</th><th>p</th><th>Effect vs holdout</th><th>p</th>"
        "<th>CUSUM</th></tr></thead><tbody>\n");
  for (const AttributionReport* a : order) {
    p.raw("<tr><td class=\"l\">").text(a->feature).raw("</td><td>");
    html_status(p, a->status);
    p.format("</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>", html_count(a->recent_count), html_number(a->recent_mean),
             html_number(a->background_mean), html_number(a->reference_mean));
    html_shaded_cell(p, std::fabs(a->effect), policy.attribution_effect_warn, policy.attribution_effect_alert);
    p.format("<td>{}</td>", html_p_value(a->p_value));
    html_shaded_cell(p, std::fabs(a->reference_effect), policy.attribution_effect_warn, policy.attribution_effect_alert);
    p.format("<td>{}</td><td>{}</td></tr>\n", html_p_value(a->reference_p_value), html_number(a->cusum));
  }
  html_table_end(p);
  html_note(p, "Each label may carry its request's loss attributed to the input features (e.g. SHAP values of the "
               "log-loss). A positive mean raises the loss, a negative one lowers it; the features that hurt most come "
               "first. Effects are in standard deviations of the background's or the holdout's attributions; the CUSUM "
               "accumulates rises against the holdout.");
  html_section_end(p);
}

/// Arrivals against the predicted rate, with the model that predicted them.
inline void html_arrivals_row(HtmlPage& p, const TrafficReport& t) {
  p.format("<tr><td class=\"l\">Arrivals</td><td>{}</td><td>{}</td><td>{}</td><td class=\"l\">", t.recent_arrivals,
           html_number(t.predicted_arrivals), html_p_value(t.arrival_p_value));
  p.format("z {} &middot; rate model ", html_number(t.arrival_z)).text(t.rate_model);
  p.format(" on {} interval{} &middot; counted from ", t.rate_history, t.rate_history == 1 ? "" : "s");
  p.text(t.arrivals_source).raw("</td></tr>\n");
}

inline void html_in_flight_row(HtmlPage& p, const TrafficReport& t) {
  // Without reported arrivals every request is its own arrival: nothing is known in flight.
  if (t.arrivals_source == "arrivals") {
    p.format("<tr><td class=\"l\">In flight</td><td>{}</td><td>{}</td><td>{}</td>"
             "<td class=\"l\">arrived and not yet completed</td></tr>\n",
             t.in_flight, html_dash, html_dash);
  } else {
    p.format("<tr><td class=\"l\">In flight</td><td>{0}</td><td>{0}</td><td>{0}</td>"
             "<td class=\"l\">not measured: arrivals are not reported</td></tr>\n",
             html_dash);
  }
}

inline void html_traffic(HtmlPage& p, const TrafficReport& t) {
  html_section_start(p, "traffic", "Traffic", t.status);
  p.raw("<table><thead><tr><th class=\"l\">Figure</th><th>Recent</th><th>Expected or background</th>"
        "<th>p-value</th><th class=\"l\">Detail</th></tr></thead><tbody>\n");
  html_arrivals_row(p, t);
  p.format("<tr><td class=\"l\">Silence</td><td>{}</td><td>{} arrivals</td><td>{}</td>", html_duration(t.silence),
           html_number(t.expected_in_silence), html_p_value(t.silence_p_value));
  p.format("<td class=\"l\">since the latest arrival at {}</td></tr>\n", html_time(t.last_arrival));
  html_in_flight_row(p, t);
  p.format("<tr><td class=\"l\">Completions per arrival</td><td>{}</td><td>{}</td><td>{}</td>"
           "<td class=\"l\">{} completions</td></tr>\n",
           html_percent(t.completion_ratio), html_percent(t.background_completion_ratio),
           html_p_value(t.completion_p_value), t.recent_completions);
  p.format("<tr><td class=\"l\">Errors</td><td>{}</td><td>{}</td><td>{}</td><td class=\"l\">share of requests</td></tr>\n",
           html_percent(t.error_rate), html_percent(t.background_error_rate), html_p_value(t.error_p_value));
  p.format("<tr><td class=\"l\">Timeouts</td><td>{}</td><td>{}</td><td>{}</td><td class=\"l\">share of requests</td></tr>\n",
           html_percent(t.timeout_rate), html_percent(t.background_timeout_rate), html_p_value(t.timeout_p_value));
  html_table_end(p);
  html_note(p, "Arrivals are judged against the predicted rate (p-value: two-sided Poisson); a silence against the "
               "arrivals the rate expected in it (p = e<sup>&minus;expected</sup>); completion, error and timeout "
               "rates compare the recent interval with the trailing background.");
  html_section_end(p);
}

inline void html_latency_row(HtmlPage& p, std::string_view tag, std::string_view value, const LatencyReport& l) {
  p.raw("<tr><td class=\"l\">").text(tag);
  if (!value.empty()) p.raw("=").text(value);
  p.raw("</td><td>");
  html_status(p, l.status);
  p.format("</td><td>{}</td><td>{}</td>", l.recent_count, l.background_count);
  p.format("<td>{} / {}</td>", html_duration(l.recent_p50), html_duration(l.background_p50));
  p.format("<td>{} / {}</td><td>{}</td>", html_duration(l.recent_p99), html_duration(l.background_p99),
           html_factor(l.p99_ratio));
  p.format("<td>{} / {}</td><td>{}</td>", html_duration(l.recent_p999), html_duration(l.background_p999),
           html_factor(l.p999_ratio));
  html_test_cell(p, l.statistic, l.p_value);
  p.format("<td>{}</td><td>{}", html_duration(l.slow_threshold), l.slow);
  if (l.recent_count > 0) {
    const double slow_share = static_cast<double>(l.slow) / static_cast<double>(l.recent_count);
    p.format("<br><span class=\"muted\">{}</span>", html_percent(slow_share));
  }
  p.raw("</td></tr>\n");
}

/// The latency of all requests, then of each cohort.
inline void html_latency_table(HtmlPage& p, const Report& r) {
  p.raw("<table><thead><tr><th class=\"l\">Subject</th><th>Status</th><th>Window n</th><th>Background n</th>"
        "<th>p50 window / background</th><th>p99 window / background</th><th>p99 ratio</th>"
        "<th>p99.9 window / background</th><th>p99.9 ratio</th><th>G (p)</th><th>Slow threshold</th><th>Slow</th>"
        "</tr></thead><tbody>\n");
  html_latency_row(p, "all requests", "", r.latency);
  for (const CohortReport& c : r.cohorts) html_latency_row(p, c.tag, c.value, c.latency);
  html_table_end(p);
  html_note(p, "The latency window against the trailing background on log-scale buckets; the G-test compares their "
               "bucket counts. A request is slow above the slow threshold.");
}

inline void html_attribution_table(HtmlPage& p, const std::vector<SlowAttribution>& attribution) {
  p.raw("<table><thead><tr><th class=\"l\">Tag</th><th class=\"l\">Value</th><th>Requests</th><th>Slow</th>"
        "<th>Share of slow</th><th>Share of all</th><th>Lift</th><th>p-value</th><th class=\"l\">Reading</th>"
        "</tr></thead><tbody>\n");
  for (const SlowAttribution& a : attribution) {
    p.raw("<tr><td class=\"l\">").text(a.tag).raw("</td><td class=\"l\">").text(a.value).raw("</td>");
    p.format("<td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>", a.requests, a.slow,
             html_percent(a.share_of_slow), html_percent(a.share_of_all), html_factor(a.lift), html_p_value(a.p_value));
    p.raw("<td class=\"msg\"><b>").text(a.tag).raw("=").text(a.value);
    p.format("</b> carries {} of slow requests vs {} of all requests</td></tr>\n", html_percent(a.share_of_slow),
             html_percent(a.share_of_all));
  }
  html_table_end(p);
}

/// The tag values over-represented among the slow requests of all requests, then of each
/// cohort that has any.
inline void html_attributions(HtmlPage& p, const Report& r) {
  p.raw("<h3>Slow requests by tag value</h3>\n");
  if (r.latency.attribution.empty()) {
    html_note(p, "No tag value is attributed a share of the slow requests.");
  } else {
    html_attribution_table(p, r.latency.attribution);
  }
  for (const CohortReport& c : r.cohorts) {
    if (c.latency.attribution.empty()) continue;
    p.raw("<h3>Slow requests of ").text(c.tag).raw("=").text(c.value).raw(" by tag value</h3>\n");
    html_attribution_table(p, c.latency.attribution);
  }
  html_note(p, "Lift is the share of slow requests divided by the share of all requests; the p-value is a G-test "
               "of slow against not slow, this value against the others.");
}

inline bool has_latency(const LatencyReport& l) {
  return l.recent_count > 0 || l.background_count > 0 || !l.attribution.empty();
}

inline void html_latency(HtmlPage& p, const Report& r) {
  html_section_start(p, "latency", "Latency", r.latency.status);
  bool any = has_latency(r.latency);
  for (const CohortReport& c : r.cohorts) any = any || has_latency(c.latency);
  if (any) {
    html_latency_table(p, r);
    html_attributions(p, r);
  } else {
    html_note(p, "No latency was recorded.");
  }
  html_section_end(p);
}

/// The cohort's features and outputs that are not ok, with their status, or a dash.
inline void html_not_ok(HtmlPage& p, const CohortReport& c) {
  bool first = true;
  const auto list = [&](const std::string& name, Status s) {
    if (s == Status::ok) return;
    if (!first) p.raw(", ");
    first = false;
    p.text(name).raw(" ");
    html_status(p, s);
  };
  for (const FeatureReport& f : c.features) list(f.name, f.status);
  for (const OutputReport& o : c.outputs) list(o.name, o.status);
  if (first) p.raw("<span class=\"muted\">&ndash;</span>");
}

inline void html_cohorts(HtmlPage& p, const std::vector<CohortReport>& cohorts) {
  html_section_start(p, "cohorts", fmt::format("Cohorts ({})", cohorts.size()));
  p.raw("<table><thead><tr><th class=\"l\">Tag</th><th class=\"l\">Value</th><th>Status</th><th>Horizon requests</th>"
        "<th class=\"l\">Not ok</th></tr></thead><tbody>\n");
  for (const CohortReport& c : cohorts) {
    p.raw("<tr><td class=\"l\">").text(c.tag).raw("</td><td class=\"l\">").text(c.value).raw("</td><td>");
    html_status(p, c.status);
    p.format("</td><td>{}</td><td class=\"msg\">", c.requests);
    html_not_ok(p, c);
    p.raw("</td></tr>\n");
  }
  html_table_end(p);
  html_section_end(p);
}

inline void html_counters(HtmlPage& p, const InputCounters& counters) {
  html_section_start(p, "counters", "Input counters");
  p.raw("<table><thead><tr><th class=\"l\">Counter</th><th>Value</th><th class=\"l\">Meaning</th></tr></thead>"
        "<tbody>\n");
  const std::tuple<const char*, std::uint64_t, const char*> rows[] = {
      {"observed", counters.observed, "requests accepted"},
      {"bad_time", counters.bad_time, "NaN or infinite event time: dropped"},
      {"late", counters.late, "older than the lateness tolerance: dropped"},
      {"future", counters.future, "dated too far ahead of the monitor's clock: dropped"},
      {"clock_changes", counters.clock_changes, "times the clock moved ahead on the evidence of events beyond it"},
      {"bad_latency", counters.bad_latency, "negative or NaN latency: latency not recorded"},
      {"skipped_evaluations", counters.skipped_evaluations, "intervals that left retention unevaluated"},
      {"bad_arrival_time", counters.bad_arrival_time, "on_arrival() with a NaN or infinite time: dropped"},
      {"truncated_values", counters.truncated_values, "category, tag or class values too long: cut, request kept"},
  };
  for (const auto& [name, value, meaning] : rows)
    p.format("<tr><td class=\"l\">{}</td><td>{}</td><td class=\"l\">{}</td></tr>\n", name, value, meaning);
  html_table_end(p);
  html_section_end(p);
}

/// From the doctype to the opening body tag, with the style sheet.
inline void html_head(HtmlPage& p, std::string_view title, Status status) {
  p.raw("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>");
  p.text(title).format(" \xE2\x80\x94 {}</title>\n<style>", to_string(status));
  p.raw(html_style).raw("</style>\n</head>\n<body>\n");
}

/// Links to the sections on the page, in their order: those the report has.
inline void html_nav(HtmlPage& p, const Report& r, bool history) {
  const std::tuple<const char*, const char*, bool> links[] = {
      {"open-alerts", "Open alerts", true},
      {"history", "History", history},
      {"features", "Features", true},
      {"outputs", "Outputs", true},
      {"quality", "Quality", shows_quality(r)},
      {"conversions", "Conversions", !r.conversions.arm_tag.empty()},
      {"canary", "Canary", !r.canary.empty()},
      {"attribution", "Loss attribution", !r.attribution.empty()},
      {"traffic", "Traffic", true},
      {"latency", "Latency", true},
      {"cohorts", "Cohorts", !r.cohorts.empty()},
      {"alerts", "Alert log", true},
      {"counters", "Input counters", true},
  };
  p.raw("<nav>");
  for (const auto& [id, name, shown] : links)
    if (shown) p.format("<a href=\"#{}\">{}</a>", id, name);
  p.raw("</nav>\n");
}

/// The banner coloured by status: the report time, the recent interval, the horizon and the
/// links to the sections; then the page's main part opens.
inline void html_header(HtmlPage& p, const Report& r, std::string_view title, bool history) {
  p.format("<header class=\"st-{}\">\n<h1>", to_string(r.status)).text(title).raw(" ");
  html_status(p, r.status);
  p.raw("</h1>\n");
  p.format("<p>Report at <b>{}</b> &middot; recent interval {} &ndash; {} ({} requests)</p>\n", html_time(r.time),
           html_time(r.recent_start), html_time(r.recent_end), r.recent_requests);
  p.format("<p>Horizon {} &ndash; {} ({} requests) &middot; {} open alert{} &middot; {} requests observed</p>\n",
           html_time(r.horizon_start), html_time(r.recent_end), r.horizon_requests, r.open_alerts.size(),
           r.open_alerts.size() == 1 ? "" : "s", r.counters.observed);
  html_nav(p, r, history);
  p.raw("</header>\n<main>\n");
}

inline void html_footer(HtmlPage& p) {
  p.raw("</main>\n");
  p.format("<footer>vigil {}.{}.{} &middot; times in UTC</footer>\n</body>\n</html>\n", VIGIL_VERSION_MAJOR,
           VIGIL_VERSION_MINOR, VIGIL_VERSION_PATCH);
}

}  // namespace detail

inline std::string to_html(const Report& latest, const std::vector<Alert>& alerts, const ReportHistory* history,
                           const HtmlOptions& options) {
  std::string out;
  out.reserve(16384 + 1200 * (latest.features.size() + latest.outputs.size()) + 400 * latest.cohorts.size() +
              400 * std::min(alerts.size(), options.max_alerts));
  detail::HtmlPage p(out);
  const bool charts = history != nullptr && history->size() >= 2;
  detail::html_head(p, options.title, latest.status);
  detail::html_header(p, latest, options.title, charts);
  detail::html_open_alerts(p, latest.open_alerts);
  if (charts) detail::html_history(p, *history, options);
  detail::html_features(p, latest.features, options.policy);
  detail::html_outputs(p, latest.outputs, options.policy);
  if (detail::shows_quality(latest)) detail::html_quality(p, latest);
  if (!latest.conversions.arm_tag.empty()) detail::html_conversions(p, latest.conversions);
  if (!latest.canary.empty()) detail::html_canary(p, latest.canary, options.policy);
  if (!latest.attribution.empty()) detail::html_attribution(p, latest.attribution, options.policy);
  detail::html_traffic(p, latest.traffic);
  detail::html_latency(p, latest);
  if (!latest.cohorts.empty()) detail::html_cohorts(p, latest.cohorts);
  detail::html_alert_log(p, alerts, options.max_alerts);
  detail::html_counters(p, latest.counters);
  detail::html_footer(p);
  return out;
}

}  // namespace vigil

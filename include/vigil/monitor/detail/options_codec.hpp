// vigil — in-process monitoring of machine-learning models in C++ inference servers.
// SPDX-License-Identifier: Apache-2.0
//
// MonitorOptions by name: every field as text ("interval" = "60", "alerts.p_value" = "0.01"),
// read back exactly (doubles as 17 significant digits), and whether it shapes a monitor's
// state. A monitor snapshot carries its options this way, so that it restores on its own and
// a restore under other options names the option that differs.
#pragma once

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <algorithm>
#include <functional>
#include <limits>
#include <type_traits>
#include <string>
#include <vector>

#include "vigil/monitor/options.hpp"

namespace vigil {
namespace detail {

/// One field of MonitorOptions: its name, whether it shapes the state (a snapshot restores
/// only under the same value), and its value as text both ways.
struct OptionField {
  const char* name;
  bool shaping;
  std::function<std::string(const MonitorOptions&)> get;
  std::function<bool(MonitorOptions&, const std::string&)> set;  // false: not a value of the field
};

inline std::string option_text(double v) {
  char text[32];
  std::snprintf(text, sizeof text, "%.17g", v);
  return text;
}
template <class U, std::enable_if_t<std::is_unsigned_v<U> && !std::is_same_v<U, bool>, int> = 0>
std::string option_text(U v) {
  return std::to_string(v);
}
inline std::string option_text(int v) { return std::to_string(v); }
inline std::string option_text(bool v) { return v ? "1" : "0"; }
inline std::string option_text(const std::string& v) { return v; }
inline std::string option_text(EventClock v) { return std::to_string(static_cast<int>(v)); }
inline std::string option_text(const std::vector<double>& v) {
  std::string text;
  for (double x : v) text += (text.empty() ? "" : ",") + option_text(x);
  return text;
}

inline bool option_parse(const std::string& s, double& v) {
  if (s.empty()) return false;
  char* end = nullptr;
  errno = 0;
  v = std::strtod(s.c_str(), &end);
  return *end == '\0';
}
template <class U, std::enable_if_t<std::is_unsigned_v<U> && !std::is_same_v<U, bool>, int> = 0>
bool option_parse(const std::string& s, U& v) {
  if (s.empty() || s[0] == '-') return false;
  char* end = nullptr;
  errno = 0;
  const unsigned long long x = std::strtoull(s.c_str(), &end, 10);
  if (*end != '\0' || errno != 0 || x > std::numeric_limits<U>::max()) return false;
  v = static_cast<U>(x);
  return true;
}
inline bool option_parse(const std::string& s, int& v) {
  char* end = nullptr;
  errno = 0;
  const long x = std::strtol(s.c_str(), &end, 10);
  if (s.empty() || *end != '\0' || errno != 0 || x < -2147483647L - 1 || x > 2147483647L) return false;
  v = static_cast<int>(x);
  return true;
}
inline bool option_parse(const std::string& s, bool& v) {
  if (s != "0" && s != "1") return false;
  v = s == "1";
  return true;
}
inline bool option_parse(const std::string& s, std::string& v) {
  v = s;
  return true;
}
inline bool option_parse(const std::string& s, EventClock& v) {
  int x = 0;
  if (!option_parse(s, x) || x < 0 || x > static_cast<int>(EventClock::stream)) return false;
  v = static_cast<EventClock>(x);
  return true;
}
inline bool option_parse(const std::string& s, std::vector<double>& v) {
  v.clear();
  std::size_t at = 0;
  while (at < s.size()) {
    const std::size_t comma = std::min(s.find(',', at), s.size());
    double x = 0;
    if (!option_parse(s.substr(at, comma - at), x)) return false;
    v.push_back(x);
    at = comma + 1;
  }
  return true;
}

template <class T>
OptionField option_field(const char* name, bool shaping, T MonitorOptions::*member) {
  return OptionField{name, shaping, [member](const MonitorOptions& o) { return option_text(o.*member); },
                     [member](MonitorOptions& o, const std::string& s) { return option_parse(s, o.*member); }};
}
template <class Part, class T>
OptionField option_field(const char* name, bool shaping, Part MonitorOptions::*part, T Part::*member) {
  return OptionField{name, shaping, [part, member](const MonitorOptions& o) { return option_text((o.*part).*member); },
                     [part, member](MonitorOptions& o, const std::string& s) { return option_parse(s, (o.*part).*member); }};
}

// MonitorOptions' own fields.
inline std::vector<OptionField> monitor_option_fields() {
  using O = MonitorOptions;
  return {
      option_field("interval", true, &O::interval), option_field("fine_intervals", true, &O::fine_intervals),
      option_field("coarse_interval", true, &O::coarse_interval),
      option_field("coarse_intervals", true, &O::coarse_intervals),
      option_field("recent_intervals", false, &O::recent_intervals), option_field("background", false, &O::background),
      option_field("long_horizon", false, &O::long_horizon), option_field("lateness", false, &O::lateness),
      option_field("event_clock", false, &O::event_clock), option_field("future_tolerance", false, &O::future_tolerance),
      option_field("clock_skew", false, &O::clock_skew),
      option_field("clock_change_evidence", true, &O::clock_change_evidence),
      option_field("numeric_bins", true, &O::numeric_bins), option_field("shards", false, &O::shards),
      option_field("evaluate_in_observe", false, &O::evaluate_in_observe),
      option_field("latency_window", false, &O::latency_window),
      option_field("latency_background", false, &O::latency_background),
      option_field("slow_threshold", false, &O::slow_threshold), option_field("alert_log", false, &O::alert_log),
      option_field("quality_output", true, &O::quality_output), option_field("label_capacity", true, &O::label_capacity),
      option_field("label_time_to_live", true, &O::label_time_to_live),
      option_field("quality_interval", true, &O::quality_interval),
      option_field("quality_window", true, &O::quality_window), option_field("conversion_arm", true, &O::conversion_arm),
      option_field("conversion_share", false, &O::conversion_share),
      option_field("conversion_horizon", false, &O::conversion_horizon),
      option_field("conversion_confidence", false, &O::conversion_confidence),
      option_field("conversion_interval", true, &O::conversion_interval),
      option_field("label_samples", true, &O::label_samples), option_field("canary_top", true, &O::canary_top),
      option_field("attribution_background", true, &O::attribution_background),
  };
}

// MonitorOptions::rate, the arrival-rate predictor: every field shapes its history.
inline std::vector<OptionField> rate_option_fields() {
  using O = MonitorOptions;
  using R = RatePredictorOptions;
  return {
      option_field("rate.interval", true, &O::rate, &R::interval),
      option_field("rate.recent_lags", true, &O::rate, &R::recent_lags),
      option_field("rate.seasonal_lags", true, &O::rate, &R::seasonal_lags),
      option_field("rate.seasonal_window", true, &O::rate, &R::seasonal_window),
      option_field("rate.history", true, &O::rate, &R::history),
      option_field("rate.refit_every", true, &O::rate, &R::refit_every),
      option_field("rate.ridge", true, &O::rate, &R::ridge), option_field("rate.outlier_z", true, &O::rate, &R::outlier_z),
      option_field("rate.min_fit_intervals", true, &O::rate, &R::min_fit_intervals),
      option_field("rate.min_log_sd", true, &O::rate, &R::min_log_sd),
  };
}

// MonitorOptions::alerts, the alert policy: every field judges.
inline std::vector<OptionField> alert_option_fields() {
  using O = MonitorOptions;
  using A = AlertPolicy;
  return {
      option_field("alerts.p_value", false, &O::alerts, &A::p_value),
      option_field("alerts.psi_alert", false, &O::alerts, &A::psi_alert),
      option_field("alerts.psi_warn", false, &O::alerts, &A::psi_warn),
      option_field("alerts.wasserstein_alert", false, &O::alerts, &A::wasserstein_alert),
      option_field("alerts.wasserstein_warn", false, &O::alerts, &A::wasserstein_warn),
      option_field("alerts.missing_rate_change", false, &O::alerts, &A::missing_rate_change),
      option_field("alerts.out_of_range_share", false, &O::alerts, &A::out_of_range_share),
      option_field("alerts.unseen_share", false, &O::alerts, &A::unseen_share),
      option_field("alerts.bad_value_share", false, &O::alerts, &A::bad_value_share),
      option_field("alerts.class_share_change", false, &O::alerts, &A::class_share_change),
      option_field("alerts.min_requests", false, &O::alerts, &A::min_requests),
      option_field("alerts.traffic_slack", false, &O::alerts, &A::traffic_slack),
      option_field("alerts.traffic_threshold", false, &O::alerts, &A::traffic_threshold),
      option_field("alerts.silence_arrivals", false, &O::alerts, &A::silence_arrivals),
      option_field("alerts.silence_alert_arrivals", false, &O::alerts, &A::silence_alert_arrivals),
      option_field("alerts.min_silence", false, &O::alerts, &A::min_silence),
      option_field("alerts.error_rate_change", false, &O::alerts, &A::error_rate_change),
      option_field("alerts.completion_drop", false, &O::alerts, &A::completion_drop),
      option_field("alerts.latency_p99_warn", false, &O::alerts, &A::latency_p99_warn),
      option_field("alerts.latency_p99_alert", false, &O::alerts, &A::latency_p99_alert),
      option_field("alerts.latency_p999_warn", false, &O::alerts, &A::latency_p999_warn),
      option_field("alerts.latency_p999_alert", false, &O::alerts, &A::latency_p999_alert),
      option_field("alerts.slow_lift_warn", false, &O::alerts, &A::slow_lift_warn),
      option_field("alerts.slow_lift_alert", false, &O::alerts, &A::slow_lift_alert),
      option_field("alerts.min_slow_requests", false, &O::alerts, &A::min_slow_requests),
      option_field("alerts.quality_drop_warn", false, &O::alerts, &A::quality_drop_warn),
      option_field("alerts.quality_drop_alert", false, &O::alerts, &A::quality_drop_alert),
      option_field("alerts.quality_rise_warn", false, &O::alerts, &A::quality_rise_warn),
      option_field("alerts.quality_rise_alert", false, &O::alerts, &A::quality_rise_alert),
      option_field("alerts.min_labels", false, &O::alerts, &A::min_labels),
      option_field("alerts.canary_rise_warn", false, &O::alerts, &A::canary_rise_warn),
      option_field("alerts.canary_rise_alert", false, &O::alerts, &A::canary_rise_alert),
      option_field("alerts.attribution_effect_warn", false, &O::alerts, &A::attribution_effect_warn),
      option_field("alerts.attribution_effect_alert", false, &O::alerts, &A::attribution_effect_alert),
      option_field("alerts.attribution_cusum_limit", false, &O::alerts, &A::attribution_cusum_limit),
      option_field("alerts.persistence", false, &O::alerts, &A::persistence),
      option_field("alerts.window", false, &O::alerts, &A::window),
      option_field("alerts.recovery", false, &O::alerts, &A::recovery),
      option_field("alerts.cool_down", false, &O::alerts, &A::cool_down),
  };
}

/// Every field of MonitorOptions, in declaration order. Shaping fields set the retained
/// windows, bins, the label store, the quality, conversion and attribution resolutions, the
/// samples, the canary's kept requests and the rate predictor; the others judge or schedule
/// (the alert policy, the windows compared, lateness and event time, shards, the alert log,
/// evaluate_in_observe, the conversions' comparison) and may change across a restart.
inline const std::vector<OptionField>& option_fields() {
  static const std::vector<OptionField> fields = [] {
    std::vector<OptionField> all = monitor_option_fields();
    for (auto part : {rate_option_fields(), alert_option_fields()}) all.insert(all.end(), part.begin(), part.end());
    return all;
  }();
  return fields;
}

}  // namespace detail
}  // namespace vigil

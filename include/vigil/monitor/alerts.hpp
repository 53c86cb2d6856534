// vigil — in-process monitoring of machine-learning models in C++ inference servers.
// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "vigil/error.hpp"
#include "vigil/monitor/subject.hpp"

namespace vigil {

/// What an alert is about (the `kind` field of alerts.jsonl).
enum class AlertKind : std::uint8_t {
  feature_drift,    // a feature's distribution over the long horizon differs from training
  feature_shift,    // a feature changed suddenly: the latest interval against the recent past
  missing_values,   // a feature is missing far more (or less) often than in training; an output's score more often
  out_of_range,     // values outside the training minimum and maximum
  unseen_category,  // categories never seen in training
  schema,           // bad values (NaN, text in a numeric column, a NaN score) or a feature or output gone entirely
  score_drift,      // the model's score distribution changed
  class_drift,      // the predicted class frequencies changed
  traffic,
  latency,
  quality,
  canary,
  attribution,
};

inline const char* to_string(AlertKind kind) {
  switch (kind) {
    case AlertKind::feature_drift: return "feature_drift";
    case AlertKind::feature_shift: return "feature_shift";
    case AlertKind::missing_values: return "missing_values";
    case AlertKind::out_of_range: return "out_of_range";
    case AlertKind::unseen_category: return "unseen_category";
    case AlertKind::schema: return "schema";
    case AlertKind::score_drift: return "score_drift";
    case AlertKind::class_drift: return "class_drift";
    case AlertKind::traffic: return "traffic";
    case AlertKind::latency: return "latency";
    case AlertKind::quality: return "quality";
    case AlertKind::canary: return "canary";
    case AlertKind::attribution: return "attribution";
  }
  return "unknown";
}

enum class Severity : std::uint8_t { warn = 1, alert = 2 };
inline const char* to_string(Severity s) { return s == Severity::alert ? "alert" : "warn"; }

/// Health of a monitored thing, and of the whole model. `insufficient_data`: the recent
/// requests, pooled back over the whole background, are still fewer than the alert policy's
/// `min_requests`, so the short-term rules could not judge it. It pages no one and never reads
/// as ok: from least to most urgent, ok < insufficient_data < warn < alert (status_rank).
/// The numeric values are stable (ok 0, warn 1, alert 2, insufficient_data 3); compare
/// urgency with status_rank() or worse(), not with <.
enum class Status : std::uint8_t { ok = 0, warn = 1, alert = 2, insufficient_data = 3 };
inline const char* to_string(Status s) {
  switch (s) {
    case Status::ok: return "ok";
    case Status::warn: return "warn";
    case Status::alert: return "alert";
    case Status::insufficient_data: return "insufficient_data";
  }
  return "unknown";
}
/// Urgency of a status: ok 0, insufficient_data 1, warn 2, alert 3.
inline int status_rank(Status s) {
  switch (s) {
    case Status::ok: return 0;
    case Status::insufficient_data: return 1;
    case Status::warn: return 2;
    case Status::alert: return 3;
  }
  return 0;
}
/// The more urgent of two statuses.
inline Status worse(Status a, Status b) { return status_rank(b) > status_rank(a) ? b : a; }

/// An alert transition: raised (opened), escalated (warn → alert while open) or resolved.
struct Alert {
  enum class Transition : std::uint8_t { raised, escalated, resolved };
  /// Event time (Unix seconds) that decided a transition: the end of the interval evaluated,
  /// or the time a silence was judged at. For an open alert in a report, the report's time.
  double time = 0;
  AlertKind kind = AlertKind::feature_drift;
  Subject subject;      // the feature, output, signal or tag value; to_string() for people
  Severity severity = Severity::warn;
  double statistic = 0;  // the effect size or test statistic named in the message
  double p_value = std::numeric_limits<double>::quiet_NaN();  // NaN when the rule has none
  std::string message;   // one sentence for a person
  Transition transition = Transition::raised;
  /// The transition's number in the monitor's life, from 1 (for an alert in
  /// Report::open_alerts, the number of the transition that raised or escalated it). A
  /// reader that remembers the last number it saw finds the newer transitions in
  /// Report::alert_log.
  std::uint64_t sequence = 0;
};

inline const char* to_string(Alert::Transition t) {
  switch (t) {
    case Alert::Transition::raised: return "raised";
    case Alert::Transition::escalated: return "escalated";
    case Alert::Transition::resolved: return "resolved";
  }
  return "unknown";
}

/// When evidence becomes an alert. Defaults follow the common practice for drift monitoring:
/// an effect that matters (PSI ≥ 0.2 is a major shift, 0.1 a moderate one; normalised
/// Wasserstein ≥ 0.1 standard deviations) *and* significance after Benjamini-Hochberg
/// correction across features (p < 0.01), seen in `persistence` of the last `window`
/// intervals. An open alert stays open, without firing again, until `recovery` intervals in a
/// row show no evidence; a resolved alert cannot reopen for `cool_down` seconds.
struct AlertPolicy {
  double p_value = 0.01;              // adjusted significance needed
  double psi_alert = 0.2;             // PSI for severity alert
  double psi_warn = 0.1;              // PSI for severity warn
  double wasserstein_alert = 0.2;     // normalised Wasserstein (in reference std devs)
  double wasserstein_warn = 0.1;
  double missing_rate_change = 0.05;  // absolute change in missing rate (warn; 4× is alert)
  double out_of_range_share = 0.01;   // share outside the training range (warn; 5× is alert)
  double unseen_share = 0.01;         // share of unseen categories (warn; 5× is alert)
  double bad_value_share = 0.01;      // share of NaN/unparsable values (warn; 5× is alert)
  double class_share_change = 0.05;   // largest change of a class share (warn; 2× is alert)
  std::uint64_t min_requests = 30;    // an interval with fewer values is not judged
  // Operations (docs/guide.md, "Traffic and latency").
  // Surges and drops of arrivals (ArrivalDetector): a two-sided CUSUM of the log-count
  // residuals in robust sds, with this allowance k and threshold h; a signal opens at once.
  double traffic_slack = 3;
  double traffic_threshold = 12;
  double silence_arrivals = 4;        // arrivals expected during a silence (warn) ...
  double silence_alert_arrivals = 12; // ... and for severity alert
  double min_silence = 10;            // seconds: shorter silences are never judged
  double error_rate_change = 0.01;    // rise of the error or timeout rate (warn; 5× is alert)
  double completion_drop = 0.1;       // fall of completions per arrival (warn; 3× is alert)
  double latency_p99_warn = 1.5;      // recent p99 / background p99 (with a significant G-test)
  double latency_p99_alert = 3;
  double latency_p999_warn = 2;       // the same for p99.9
  double latency_p999_alert = 4;
  double slow_lift_warn = 1.25;       // share of slow / share of all requests of a tag value
  double slow_lift_alert = 2.5;
  std::uint64_t min_slow_requests = 10;  // a tag value with fewer slow requests is not judged
  // Quality (docs/guide.md, "Is it right?"): a metric significantly worse than the holdout
  // baseline by at least these effects. Accuracy, precision, recall, F1 and ROC AUC: the
  // absolute drop; log-loss, Brier score, expected calibration error, MAE and RMSE: the
  // relative rise; a regression's mean error: its change in baseline RMSEs.
  double quality_drop_warn = 0.02;
  double quality_drop_alert = 0.05;
  double quality_rise_warn = 0.1;
  double quality_rise_alert = 0.25;
  std::uint64_t min_labels = 100;     // fewer labelled (or, for an estimate, scored) requests are not judged
  // Canary and challengers (docs/guide.md, "Canary and challengers"): a shadow's mean
  // |shadow − champion|, or its rate of disagreeing classes, significantly above its trailing
  // background by at least this relative rise (0.5: half as large again).
  double canary_rise_warn = 0.5;
  double canary_rise_alert = 1.0;
  // Loss attribution (docs/guide.md, "Why is it wrong?"): a feature's mean attribution moved
  // by at least this many standard deviations of its attributions, significantly, against
  // the background or the holdout; or its CUSUM against the holdout (allowance half of
  // attribution_effect_warn per batch of min_labels labels) passed attribution_cusum_limit.
  double attribution_effect_warn = 0.2;
  double attribution_effect_alert = 0.5;
  double attribution_cusum_limit = 4;
  int persistence = 2;                // evidence in this many ...
  int window = 3;                     // ... of the last this many intervals opens an alert
  int recovery = 5;                   // clean intervals in a row that close it
  double cool_down = 1800;            // seconds before a resolved alert may open again

  void validate() const {
    if (!(p_value > 0 && p_value < 1)) detail::throw_invalid_argument("AlertPolicy: p_value " + detail::to_text(p_value) + " is not in (0, 1)");
    if (persistence < 1 || window < persistence || window > 64)
      detail::throw_invalid_argument("AlertPolicy: need 1 <= persistence <= window <= 64, got " +
                                     std::to_string(persistence) + " of " + std::to_string(window));
    if (recovery < 1) detail::throw_invalid_argument("AlertPolicy: recovery must be at least 1");
    if (!(traffic_slack >= 0 && std::isfinite(traffic_slack)))
      detail::throw_invalid_argument("AlertPolicy: traffic_slack " + detail::to_text(traffic_slack) + " is not finite and >= 0");
    if (!(traffic_threshold > 0 && std::isfinite(traffic_threshold)))
      detail::throw_invalid_argument("AlertPolicy: traffic_threshold " + detail::to_text(traffic_threshold) +
                                     " is not finite and > 0");
    if (!(cool_down >= 0)) detail::throw_invalid_argument("AlertPolicy: cool_down " + detail::to_text(cool_down) + " is negative");
  }
};

/// One interval's evidence for a (kind, subject): significant and large enough.
struct Evidence {
  AlertKind kind;
  Subject subject;
  Severity severity;
  double statistic;
  double p_value;
  std::string message;
  bool immediate = false;  // opens without waiting for persistence (a silence)
};

}  // namespace vigil

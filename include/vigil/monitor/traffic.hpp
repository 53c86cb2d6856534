// vigil — in-process monitoring of machine-learning models in C++ inference servers.
// SPDX-License-Identifier: Apache-2.0
#pragma once

/// \file
/// The traffic family, after Dunning & Friedman ("Practical Machine Learning: A New Look at
/// Anomaly Detection", O'Reilly 2014): is the model being asked (arrivals against a predicted
/// rate, and the Poisson surprise of a silence: a stopped stream is an alarm, not a quiet
/// night), does it answer (completions against arrivals), and does it answer well (error and
/// timeout rates against the background).

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "vigil/error.hpp"
#include "vigil/io/binary.hpp"
#include "vigil/model/arrival_detector.hpp"
#include "vigil/model/rate_predictor.hpp"
#include "vigil/monitor/alerts.hpp"
#include "vigil/monitor/detail/corrections.hpp"
#include "vigil/monitor/detail/evaluation_context.hpp"
#include "vigil/monitor/detail/evidence_text.hpp"
#include "vigil/monitor/detail/interval_clock.hpp"
#include "vigil/monitor/detail/traffic_state.hpp"
#include "vigil/monitor/options.hpp"
#include "vigil/monitor/report.hpp"
#include "vigil/monitor/subject.hpp"
#include "vigil/stats/goodness_of_fit.hpp"
#include "vigil/stats/poisson.hpp"

namespace vigil {
namespace detail {

/// The traffic family's subjects (Subject::index). `event_time`: requests dated too far ahead
/// of the monitor's clock (a schema alert, raised by the intake's evidence, detail/event_time.hpp).
enum class TrafficSignal : std::uint32_t { arrivals, completions, errors, timeouts, event_time };

inline const char* to_string(TrafficSignal s) {
  switch (s) {
    case TrafficSignal::arrivals: return "arrivals";
    case TrafficSignal::completions: return "completions";
    case TrafficSignal::errors: return "errors";
    case TrafficSignal::timeouts: return "timeouts";
    case TrafficSignal::event_time: return "event_time";
  }
  return "unknown";
}

/// The p-value of `hits` of `total` recently against `background_hits` of `background_total`
/// (a G-test of the 2×2 table); NaN without trials on either side.
inline double rate_p_value(double hits, double total, double background_hits, double background_total) {
  if (!(total > 0) || !(background_total > 0)) return FeatureReport::nan();
  return stats::g_test_proportions(hits, total, background_hits, background_total).p_value;
}

/// The expected count of a Poisson stream whose log(count + 1) is predicted to be
/// `log_rate` (0 for a prediction of none).
inline double expected_count(double log_rate) {
  return log_rate > 0 ? stats::poisson_mean_from_mean_log1p(log_rate) : 0.0;
}

inline Subject traffic_subject(TrafficSignal s) {
  return Subject{Family::traffic, static_cast<std::uint32_t>(s), to_string(s), Cohort{}, false};
}

/// Completions against arrivals of the recent interval(s) and of the background, when the
/// server reports arrivals.
inline void analyze_completions(const Merged<TrafficState>& recent, const Merged<TrafficState>& background,
                                TrafficReport& r) {
  const auto arrived = static_cast<double>(recent.arrivals);
  const auto background_arrived = static_cast<double>(background.arrivals);
  if (arrived > 0) r.completion_ratio = static_cast<double>(recent.requests) / arrived;
  if (background_arrived > 0)
    r.background_completion_ratio = static_cast<double>(background.requests) / background_arrived;
  // Completions of an interval may answer arrivals of the one before; the test caps them at
  // the arrivals so that the table stays a table.
  r.completion_p_value =
      rate_p_value(std::min(static_cast<double>(recent.requests), arrived), arrived,
                   std::min(static_cast<double>(background.requests), background_arrived), background_arrived);
}

/// Arrivals, completions, errors and timeouts of the recent interval(s) against the
/// background. The prediction figures are the family's to fill.
inline TrafficReport analyze_traffic(const Merged<TrafficState>& recent, const Merged<TrafficState>& background,
                                     bool explicit_arrivals) {
  TrafficReport r;
  r.arrivals_source = explicit_arrivals ? "arrivals" : "completions";
  r.recent_completions = recent.requests;
  r.recent_arrivals = explicit_arrivals ? recent.arrivals : recent.requests;
  if (explicit_arrivals) analyze_completions(recent, background, r);
  const auto n = static_cast<double>(recent.requests);
  const auto bn = static_cast<double>(background.requests);
  const auto status = [](const Merged<TrafficState>& s, RequestStatus st) { return static_cast<double>(s.state.count(st)); };
  if (n > 0) {
    r.error_rate = status(recent, RequestStatus::error) / n;
    r.timeout_rate = status(recent, RequestStatus::timeout) / n;
  }
  if (bn > 0) {
    r.background_error_rate = status(background, RequestStatus::error) / bn;
    r.background_timeout_rate = status(background, RequestStatus::timeout) / bn;
  }
  r.error_p_value = rate_p_value(status(recent, RequestStatus::error), n, status(background, RequestStatus::error), bn);
  r.timeout_p_value =
      rate_p_value(status(recent, RequestStatus::timeout), n, status(background, RequestStatus::timeout), bn);
  return r;
}

/// The silence from the last arrival to `now`, judged by the predicted rate (arrivals per
/// second): the chance of no arrival in a Poisson stream over that time is exp(−expected).
inline void analyze_silence(double now, double last_arrival, double rate_per_second, TrafficReport& r) {
  r.last_arrival = last_arrival;
  if (!std::isfinite(last_arrival) || !std::isfinite(now)) return;
  r.silence = std::max(0.0, now - last_arrival);
  if (!(rate_per_second >= 0)) return;
  r.expected_in_silence = rate_per_second * r.silence;
  r.silence_p_value = std::exp(-r.expected_in_silence);
}

/// Evidence of a silence: at least `silence_arrivals` expected arrivals missed (warn;
/// `silence_alert_arrivals` for alert), never for a silence shorter than `min_silence`.
/// Opens at once: a silence is itself the accumulated evidence.
inline void silence_evidence(const TrafficReport& r, const AlertPolicy& policy, std::vector<Evidence>& out) {
  if (!(r.silence >= policy.min_silence) || !(r.expected_in_silence >= policy.silence_arrivals)) return;
  const bool alert = r.expected_in_silence >= policy.silence_alert_arrivals;
  Evidence e{AlertKind::traffic, traffic_subject(TrafficSignal::arrivals), alert ? Severity::alert : Severity::warn,
             r.expected_in_silence, r.silence_p_value,
             "No request for " + fixed(r.silence, 0) + " s, where the predicted rate expects " +
                 fixed(r.expected_in_silence, 1) + " (chance " + chance(r.silence_p_value) + ")."};
  e.immediate = true;
  out.push_back(std::move(e));
}

/// The arrival detector's settings from the alert policy.
inline ArrivalDetectorOptions arrival_detector_options(const AlertPolicy& policy) {
  ArrivalDetectorOptions o;
  o.slack = policy.traffic_slack;
  o.threshold = policy.traffic_threshold;
  return o;
}

/// Evidence of a surge or a drop of arrivals: the interval at which the ArrivalDetector
/// signals one (docs/rate_predictor.md, "Surges and drops"). It opens an alert at once (the
/// CUSUM has already weighed the persistence); severity alert when the interval alone
/// crossed the threshold (a stop, a burst), else warn.
inline void arrival_evidence(const ArrivalVerdict& v, const AlertPolicy& policy, std::vector<Evidence>& out) {
  if (!v.signalled()) return;
  const bool surge = v.direction == stats::ChangeDirection::increase;
  const bool single = v.single_interval(arrival_detector_options(policy));
  const double statistic = surge ? v.surge_statistic : v.drop_statistic;
  const double expected = expected_count(v.prediction.log_rate);
  Evidence e{AlertKind::traffic, traffic_subject(TrafficSignal::arrivals), single ? Severity::alert : Severity::warn,
             v.z, v.prediction.log_rate > 0 ? stats::poisson_two_sided_p_value(v.count, expected) : FeatureReport::nan(),
             std::string(surge ? "Surge" : "Drop") + " of requests: " + fixed(v.count, 0) + " vs " + fixed(expected, 1) +
                 " expected (z " + fixed(v.z) + ", CUSUM " + fixed(statistic, 1) + " over " +
                 fixed(policy.traffic_threshold, 1) + ", " + to_string(v.prediction.model) + " model)."};
  e.immediate = true;
  out.push_back(std::move(e));
}

/// Evidence of completions falling behind arrivals.
inline void completion_evidence(const TrafficReport& r, const AlertPolicy& policy, std::vector<Evidence>& out) {
  if (std::isnan(r.completion_ratio) || std::isnan(r.background_completion_ratio) ||
      r.recent_arrivals < policy.min_requests)
    return;
  const double drop = std::min(1.0, r.background_completion_ratio) - r.completion_ratio;
  const int level = severity_of(drop, policy.completion_drop, 3 * policy.completion_drop);
  if (level == 0 || !(r.completion_p_value < policy.p_value)) return;
  out.push_back(Evidence{AlertKind::traffic, traffic_subject(TrafficSignal::completions), severity_at(level), drop,
                         r.completion_p_value,
                         "Requests go unanswered: " + std::to_string(r.recent_completions) + " completed of " +
                             std::to_string(r.recent_arrivals) + " arrived (" + percent(r.completion_ratio) + " vs " +
                             percent(r.background_completion_ratio) + " in the background); " +
                             std::to_string(r.in_flight) + " in flight."});
}

/// Evidence of an error or timeout rate rising significantly above the background's.
inline void rate_rise_evidence(const TrafficReport& r, TrafficSignal signal, double rate, double background_rate,
                               double p, const char* what, const AlertPolicy& policy, std::vector<Evidence>& out) {
  if (std::isnan(rate) || std::isnan(background_rate) || !(p < policy.p_value) ||
      r.recent_completions < policy.min_requests)
    return;
  const double rise = rate - background_rate;
  const int level = severity_of(rise, policy.error_rate_change, 5 * policy.error_rate_change);
  if (level > 0)
    out.push_back(Evidence{AlertKind::traffic, traffic_subject(signal), severity_at(level), rise, p,
                           std::string(what) + " rose to " + percent(rate) + " of requests from " +
                               percent(background_rate) + " in the background."});
}

/// Evidence from the interval figures: a surge or drop of arrivals signalled in `verdict`
/// (unless `judge_arrivals` is false: a finished log's partial last interval), completions
/// falling behind arrivals, error or timeout rates rising significantly.
inline void traffic_evidence(const TrafficReport& r, const ArrivalVerdict& verdict, const AlertPolicy& policy,
                             bool judge_arrivals, std::vector<Evidence>& out) {
  if (judge_arrivals) arrival_evidence(verdict, policy, out);
  completion_evidence(r, policy, out);
  rate_rise_evidence(r, TrafficSignal::errors, r.error_rate, r.background_error_rate, r.error_p_value, "Errors",
                     policy, out);
  rate_rise_evidence(r, TrafficSignal::timeouts, r.timeout_rate, r.background_timeout_rate, r.timeout_p_value,
                     "Timeouts", policy, out);
}

/// The traffic family's figures of an interval, and what the arrival detector made of it.
struct TrafficSection {
  TrafficReport report;
  ArrivalVerdict verdict;
};

/// The Monitor's rate options: `options.rate` with the Monitor's interval, and, when its lag
/// settings (recent_lags, seasonal_lags, seasonal_window, history, refit_every) are all left
/// at their defaults, those of RatePredictorOptions::for_interval(options.interval).
inline RatePredictorOptions monitor_rate_options(const MonitorOptions& options) {
  RatePredictorOptions r = options.rate;
  r.interval = options.interval;
  const RatePredictorOptions defaults;
  const bool lags_left = r.recent_lags == defaults.recent_lags && r.seasonal_lags == defaults.seasonal_lags &&
                         r.seasonal_window == defaults.seasonal_window && r.history == defaults.history &&
                         r.refit_every == defaults.refit_every;
  if (!lags_left) return r;
  const RatePredictorOptions chosen = RatePredictorOptions::for_interval(options.interval);
  r.recent_lags = chosen.recent_lags;
  r.seasonal_lags = chosen.seasonal_lags;
  r.seasonal_window = chosen.seasonal_window;
  r.history = chosen.history;
  r.refit_every = chosen.refit_every;
  return r;
}

/// The traffic family (docs/concepts.md, "Monitor family"). It alone keeps state across
/// evaluations: the arrival detector and its rate predictor, fed each evaluated interval's
/// arrivals, so each interval is analysed once.
class TrafficFamily {
 public:
  static constexpr Family id = Family::traffic;
  static constexpr bool per_cohort = false;
  using Plan = TrafficPlan;
  using State = TrafficState;
  using Section = TrafficSection;
  struct Tickets {};

  static Plan make_plan(const Schema&, const Profile&, const MonitorOptions&) { return Plan{}; }
  TrafficFamily(const Plan&, const MonitorOptions& options)
      : interval_(options.interval),
        recent_intervals_(options.recent_intervals),
        arrivals_(monitor_rate_options(options), arrival_detector_options(options.alerts)) {}

  /// The recent interval(s) against the background, and the newest interval's arrivals
  /// judged by the arrival detector against the rate predicted from the intervals before
  /// them, then learnt (a finished log's partial last interval is neither).
  Section analyze(const History<State>& history, const EvaluationContext& context, const SlotContext&) {
    const EvaluationWindow& w = context.window;
    const bool explicit_arrivals = context.intake.explicit_arrivals();
    Section s;
    s.report = analyze_traffic(history(w.recent_start, w.recent_end), history(w.background_start, w.recent_start),
                               explicit_arrivals);
    s.report.in_flight = context.intake.in_flight();
    const std::int64_t k = w.interval;
    feed(k - 1, context.intake);
    const double count = context.partial ? std::numeric_limits<double>::quiet_NaN() : context.intake.arrivals_in(k);
    if (std::isnan(count)) {
      s.verdict.prediction = predict(k);
      arrivals_.add_unknown(k);
    } else {
      s.verdict = arrivals_.add(k, count);
    }
    fed_through_ = k;
    judge_arrivals(s.verdict.prediction, s.report);
    return s;
  }
  Tickets tests(const Section&, Corrections&) const { return {}; }
  void evidence(const Section& section, const Tickets&, const Corrections&, const EvaluationContext& context,
                const SlotContext&, std::vector<Evidence>& out) const {
    traffic_evidence(section.report, section.verdict, context.policy, !context.partial, out);
  }

  /// A silence noticed between interval ends (a health check asking at `now` while no
  /// request comes), judged at once against the rate predicted for the open interval: its
  /// figures go to `report`'s traffic section, the evidence (if any) to `out`. Nothing is
  /// judged before the first interval was evaluated.
  void silence(double now, const IntakeAccess& intake, const AlertPolicy& policy, Report& report,
               std::vector<Evidence>& out) const {
    if (!std::isfinite(now) || arrivals_.predictor().empty()) return;
    const RatePrediction prediction = predict(IntervalClock{interval_}.of(now));
    if (prediction.model == RateModel::none) return;
    TrafficReport& r = report.traffic;
    analyze_silence(now, intake.last_arrival(), expected_count(prediction.log_rate) / interval_, r);
    silence_evidence(r, policy, out);
  }

  /// Bytes of the family's state: the arrival detector and its rate predictor's history.
  std::size_t memory_bytes() const { return sizeof(*this) + arrivals_.memory_bytes() - sizeof(arrivals_); }

  /// Writes what the family learnt since construction: the last interval given to the
  /// arrival detector (IntervalClock::none before the first), then the detector's state
  /// (ArrivalDetector::save: the rate predictor's history and model, the CUSUM, the
  /// residuals of the scale window).
  void save(io::Writer& w) const {
    w.i64(fed_through_);
    arrivals_.save(w);
  }
  /// Reads save()'s output into a family constructed from the same options. Throws
  /// vigil::format_error (through `r`) for what ArrivalDetector::load refuses, or a detector
  /// holding intervals while none was fed, or beyond the last one fed. On a throw the family
  /// is left as it was.
  void load(io::Reader& r);

  static void place(Section&& section, Report& report) { report.traffic = std::move(section.report); }
  static void mark(const Subject&, Status status, Report& report) {
    report.traffic.status = worse(report.traffic.status, status);
  }

 private:
  // Intervals up to k never given to the detector (evaluations skipped) are given now, or
  // declared unknown when retention no longer holds them at fine resolution. The first
  // interval judged starts the series.
  void feed(std::int64_t k, const IntakeAccess& intake) {
    if (fed_through_ == IntervalClock::none) return;
    std::int64_t from = fed_through_ + 1;
    const auto history = static_cast<std::int64_t>(arrivals_.predictor().options().history);
    if (k - from > history) from = k - history;
    for (std::int64_t j = from; j <= k; ++j) {
      const double count = intake.arrivals_in(j);
      if (std::isnan(count)) arrivals_.add_unknown(j);
      else arrivals_.add(j, count);
    }
    fed_through_ = std::max(fed_through_, k);
  }
  // The prediction for k, made from the intervals before it; none when the lags of k are no
  // longer held.
  RatePrediction predict(std::int64_t k) const {
    if (arrivals_.predictor().empty()) return RatePrediction{};
    try {
      return arrivals_.predictor().predict(k);
    } catch (const vigil::error&) {
      return RatePrediction{};
    }
  }
  void judge_arrivals(const RatePrediction& prediction, TrafficReport& r) const {
    r.rate_model = to_string(prediction.model);
    r.rate_history = prediction.fitted_on;
    if (prediction.model == RateModel::none || recent_intervals_ != 1) return;
    const auto arrived = static_cast<double>(r.recent_arrivals);
    r.predicted_arrivals = expected_count(prediction.log_rate);
    r.arrival_z = prediction.z(arrived);
    if (r.predicted_arrivals > 0 && std::isfinite(r.predicted_arrivals))
      r.arrival_p_value = stats::poisson_two_sided_p_value(arrived, r.predicted_arrivals);
  }

  double interval_;
  std::size_t recent_intervals_;
  ArrivalDetector arrivals_;
  std::int64_t fed_through_ = IntervalClock::none;  // last interval given to arrivals_
};

inline void TrafficFamily::load(io::Reader& r) {
  const std::int64_t fed_through = r.i64();
  ArrivalDetector arrivals(arrivals_.predictor().options(), arrivals_.options());
  arrivals.load(r);
  const RatePredictor& p = arrivals.predictor();
  if (!p.empty() && (fed_through == IntervalClock::none || p.newest() > fed_through))
    r.fail("traffic: the arrival detector holds interval " + std::to_string(p.newest()) +
           (fed_through == IntervalClock::none ? " while none was fed" : " beyond the last fed, " + std::to_string(fed_through)));
  arrivals_ = std::move(arrivals);
  fed_through_ = fed_through;
}

}  // namespace detail
}  // namespace vigil

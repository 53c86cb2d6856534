// vigil — in-process monitoring of machine-learning models in C++ inference servers.
// SPDX-License-Identifier: Apache-2.0
#pragma once

/// \file
/// Traffic analyses of the Monitor, after Dunning & Friedman ("Practical Machine Learning: A
/// New Look at Anomaly Detection", O'Reilly 2014): is the model being asked (arrivals against
/// a predicted rate, and the Poisson surprise of a silence: a stopped stream is an alarm, not
/// a quiet night), does it answer (completions against arrivals), and does it answer well
/// (error and timeout rates against the background).

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "vigil/monitor/alerts.hpp"
#include "vigil/monitor/detail/summary.hpp"
#include "vigil/monitor/features.hpp"
#include "vigil/monitor/report.hpp"
#include "vigil/stats/goodness_of_fit.hpp"
#include "vigil/stats/special_functions.hpp"

namespace vigil {
namespace detail {

/// Two-sided p-value of a count under Poisson(mean): twice the smaller tail, at most 1.
inline double poisson_two_sided(double count, double mean) {
  if (!(mean > 0) || std::isnan(count)) return FeatureReport::nan();
  const double at_most = stats::gamma_q(count + 1, mean);             // P(X ≤ count)
  const double at_least = count <= 0 ? 1.0 : stats::gamma_p(count, mean);  // P(X ≥ count)
  return std::min(1.0, 2 * std::min(at_most, at_least));
}

/// The Poisson mean μ whose E[log(X + 1)] is `log_mean`: the expected count behind a
/// predicted log count (exp(log_mean) − 1 falls short of it: log is concave). Newton's method
/// from exp(log_mean) − 1, on sums over the pmf within 12 standard deviations of the mean,
/// each term from the previous one (p(k + 1) = p(k)·μ/(k + 1)) with one log, divided by the
/// summed mass (which cancels the rounding of the first term's exp, ≈ 1e-11 at large means):
/// within 1e-13 relative in 3 to 5 steps. E[log(X + 1)] is increasing and concave in μ (its
/// second difference in k is negative), so in exact arithmetic the steps rise to the root
/// from below; the iteration stops once a step is under 1e-10 of μ. Above a mean of 10⁴ the
/// second-order correction suffices. Report time only.
inline double poisson_mean_of_log_mean(double log_mean) {
  if (!(log_mean > 0)) return 0;
  const double naive = std::expm1(log_mean);
  if (naive > 1e4) return naive * std::exp(naive / (2 * (naive + 1) * (naive + 1)));
  // E[log(X + 1)] and its derivative in μ, E[log(X + 2) − log(X + 1)].
  const auto moments = [](double mu, double& value, double& slope) {
    value = 0;
    slope = 0;
    double mass = 0;
    const double spread = 12 * std::sqrt(mu) + 12;
    const auto first = static_cast<std::int64_t>(std::max(0.0, std::floor(mu - spread)));
    const auto last = static_cast<std::int64_t>(std::ceil(mu + spread));
    const double k0 = static_cast<double>(first);
    double p = std::exp(k0 * std::log(mu) - mu - stats::log_gamma(k0 + 1));
    double log_here = std::log1p(k0);
    for (std::int64_t k = first; k <= last; ++k) {
      const double kk = static_cast<double>(k);
      const double log_next = std::log1p(kk + 1);
      value += p * log_here;
      slope += p * (log_next - log_here);
      mass += p;
      p *= mu / (kk + 1);
      log_here = log_next;
    }
    value /= mass;
    slope /= mass;
  };
  double mu = naive;  // E[log(X + 1)] ≤ log(μ + 1): the root is at least this
  for (int i = 0; i < 100; ++i) {
    double value = 0;
    double slope = 0;
    moments(mu, value, slope);
    if (!(slope > 0)) break;
    const double step = (log_mean - value) / slope;
    mu += step;
    if (!(std::fabs(step) > 1e-10 * mu)) break;  // quadratic: the next step would be far smaller
  }
  return mu;
}

/// G-test of a rate: `hits` of `total` recently against `background_hits` of
/// `background_total` (a 2×2 table). NaN without data on either side.
inline double rate_p_value(double hits, double total, double background_hits, double background_total) {
  if (!(total > 0) || !(background_total > 0)) return FeatureReport::nan();
  if (hits + background_hits <= 0 || hits + background_hits >= total + background_total) return 1.0;
  return stats::g_test_independence(std::vector<double>{hits, total - hits},
                                    std::vector<double>{background_hits, background_total - background_hits})
      .p_value;
}

/// Arrivals, completions, errors and timeouts of the recent interval(s) against the
/// background. The prediction figures are filled by the Monitor.
inline void analyze_traffic(const IntervalSummary& recent, const IntervalSummary& background, bool explicit_arrivals,
                            TrafficReport& r) {
  r.arrivals_source = explicit_arrivals ? "arrivals" : "completions";
  r.recent_completions = recent.requests;
  r.recent_arrivals = explicit_arrivals ? recent.arrivals : recent.requests;
  if (explicit_arrivals) {
    const auto arrived = static_cast<double>(recent.arrivals);
    const auto background_arrived = static_cast<double>(background.arrivals);
    if (arrived > 0) r.completion_ratio = static_cast<double>(recent.requests) / arrived;
    if (background_arrived > 0)
      r.background_completion_ratio = static_cast<double>(background.requests) / background_arrived;
    // Completions of an interval may answer arrivals of the one before; the test caps them
    // at the arrivals so that the table stays a table.
    r.completion_p_value =
        rate_p_value(std::min(static_cast<double>(recent.requests), arrived), arrived,
                     std::min(static_cast<double>(background.requests), background_arrived), background_arrived);
  }
  const auto n = static_cast<double>(recent.requests);
  const auto bn = static_cast<double>(background.requests);
  const auto status = [](const IntervalSummary& s, RequestStatus st) {
    return static_cast<double>(s.status_counts[static_cast<int>(st)]);
  };
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

/// A small probability for a sentence: "0.67 %", "4.5e-05".
inline std::string chance(double p) {
  if (!(p >= 1e-3)) {
    char buffer[32];
    std::snprintf(buffer, sizeof buffer, "%.1e", p);
    return buffer;
  }
  return percent(p);
}

/// Evidence of a silence: at least `silence_arrivals` expected arrivals missed (warn;
/// `silence_alert_arrivals` for alert), never for a silence shorter than `min_silence`.
/// Opens at once: a silence is itself the accumulated evidence.
inline void silence_evidence(const TrafficReport& r, const AlertPolicy& policy, std::vector<Evidence>& out) {
  if (!(r.silence >= policy.min_silence) || !(r.expected_in_silence >= policy.silence_arrivals)) return;
  const bool alert = r.expected_in_silence >= policy.silence_alert_arrivals;
  Evidence e{AlertKind::traffic, "arrivals", alert ? Severity::alert : Severity::warn, r.expected_in_silence,
             r.silence_p_value,
             "No request for " + fixed(r.silence, 0) + " s, where the predicted rate expects " +
                 fixed(r.expected_in_silence, 1) + " (chance " + chance(r.silence_p_value) + ")."};
  e.immediate = true;
  out.push_back(std::move(e));
}

/// Evidence from the interval figures: arrivals far from prediction (|z| ≥ traffic_z and a
/// significant Poisson test), completions falling behind arrivals, error or timeout rates
/// rising significantly.
inline void traffic_evidence(const TrafficReport& r, const AlertPolicy& policy, bool judge_arrivals,
                             std::vector<Evidence>& out) {
  // The rule validated on real traffic (docs/rate_predictor.md): |z| ≥ traffic_z in
  // consecutive intervals (persistence), or ≥ traffic_z_alert in one, which opens at once;
  // only once the predictor models the stream (not while it falls back to a mean).
  const bool modelled = r.rate_model == "recent" || r.rate_model == "seasonal";
  if (judge_arrivals && modelled && !std::isnan(r.arrival_z) && r.arrival_p_value < policy.p_value) {
    const int level = severity_of(std::fabs(r.arrival_z), policy.traffic_z, policy.traffic_z_alert);
    if (level > 0) {
      Evidence e{AlertKind::traffic, "arrivals", level == 2 ? Severity::alert : Severity::warn, r.arrival_z,
                 r.arrival_p_value,
                 std::string(r.arrival_z > 0 ? "More" : "Fewer") + " requests than predicted: " +
                     std::to_string(r.recent_arrivals) + " vs " + fixed(r.predicted_arrivals, 1) + " expected (z " +
                     fixed(r.arrival_z) + ", " + r.rate_model + " model)."};
      e.immediate = level == 2;
      out.push_back(std::move(e));
    }
  }
  if (!std::isnan(r.completion_ratio) && !std::isnan(r.background_completion_ratio) &&
      r.recent_arrivals >= policy.min_requests) {
    const double drop = std::min(1.0, r.background_completion_ratio) - r.completion_ratio;
    const double p = r.completion_p_value;
    const int level = severity_of(drop, policy.completion_drop, 3 * policy.completion_drop);
    if (level > 0 && p < policy.p_value)
      out.push_back(Evidence{AlertKind::traffic, "completions", level == 2 ? Severity::alert : Severity::warn, drop, p,
                             "Requests go unanswered: " + std::to_string(r.recent_completions) + " completed of " +
                                 std::to_string(r.recent_arrivals) + " arrived (" + percent(r.completion_ratio) +
                                 " vs " + percent(r.background_completion_ratio) + " in the background); " +
                                 std::to_string(r.in_flight) + " in flight."});
  }
  const auto rate_evidence = [&](const char* subject, double rate, double background_rate, double p, const char* what) {
    if (std::isnan(rate) || std::isnan(background_rate) || !(p < policy.p_value) ||
        r.recent_completions < policy.min_requests)
      return;
    const double rise = rate - background_rate;
    const int level = severity_of(rise, policy.error_rate_change, 5 * policy.error_rate_change);
    if (level > 0)
      out.push_back(Evidence{AlertKind::traffic, subject, level == 2 ? Severity::alert : Severity::warn, rise, p,
                             std::string(what) + " rose to " + percent(rate) + " of requests from " +
                                 percent(background_rate) + " in the background."});
  };
  rate_evidence("errors", r.error_rate, r.background_error_rate, r.error_p_value, "Errors");
  rate_evidence("timeouts", r.timeout_rate, r.background_timeout_rate, r.timeout_p_value, "Timeouts");
}

}  // namespace detail
}  // namespace vigil

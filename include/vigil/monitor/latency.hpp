// vigil — in-process monitoring of machine-learning models in C++ inference servers.
// SPDX-License-Identifier: Apache-2.0
#pragma once

/// \file
/// The latency family: the latencies of the latency window against a long trailing
/// background on log-scale buckets (a G-test on the bucket counts and the shift of p99 and
/// p99.9), and slow-request attribution — which tag values the requests above the slow
/// threshold come from, by a G-test on the slow/not-slow × value table and the lift
/// share-of-slow / share-of-all. Dunning & Friedman ("Practical Machine Learning: A New Look
/// at Anomaly Detection", O'Reilly 2014, ch. 9) monitor latency this way: compare the recent
/// histogram with the long-run one on log buckets rather than watch one percentile.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "vigil/monitor/alerts.hpp"
#include "vigil/monitor/detail/corrections.hpp"
#include "vigil/monitor/detail/evaluation_context.hpp"
#include "vigil/monitor/detail/evidence_text.hpp"
#include "vigil/monitor/detail/latency_state.hpp"
#include "vigil/monitor/options.hpp"
#include "vigil/monitor/report.hpp"
#include "vigil/monitor/subject.hpp"
#include "vigil/sketch/log_histogram.hpp"
#include "vigil/stats/goodness_of_fit.hpp"
#include "vigil/stats/sketch_comparisons.hpp"

namespace vigil {
namespace detail {

/// Quantiles and the G-test of `recent` against `background` latencies.
inline void analyze_latency(const LogHistogram& recent, const LogHistogram& background, LatencyReport& r) {
  r.recent_count = recent.count();
  r.background_count = background.count();
  if (!recent.empty()) {
    r.recent_p50 = recent.quantile(0.5);
    r.recent_p99 = recent.quantile(0.99);
    r.recent_p999 = recent.quantile(0.999);
  }
  if (!background.empty()) {
    r.background_p50 = background.quantile(0.5);
    r.background_p99 = background.quantile(0.99);
    r.background_p999 = background.quantile(0.999);
  }
  if (recent.empty() || background.empty()) return;
  if (r.background_p99 > 0) r.p99_ratio = r.recent_p99 / r.background_p99;
  if (r.background_p999 > 0) r.p999_ratio = r.recent_p999 / r.background_p999;
  const stats::TestResult g = stats::g_test_independence_pooled(recent, background);
  r.statistic = g.statistic;
  r.p_value = g.p_value;
}

/// The values of one tag the slow requests come from: per value v its requests and slow
/// requests (`requests[v]`, `slow[v]`, names in `values`), each tested by a G-test of
/// value × slow/not-slow against all the other values. Returns, in value order, each value
/// with at least one slow request and a name, with its index in `values`.
inline std::vector<std::pair<std::size_t, SlowAttribution>> slow_attributions(
    const std::string& tag, const std::vector<std::string>& values, const std::vector<std::uint64_t>& requests,
    const std::vector<std::uint64_t>& slow) {
  std::vector<std::pair<std::size_t, SlowAttribution>> out;
  double all = 0;
  double all_slow = 0;
  for (std::size_t v = 0; v < values.size(); ++v) {
    all += static_cast<double>(requests[v]);
    all_slow += static_cast<double>(slow[v]);
  }
  if (all <= 0 || all_slow <= 0) return out;
  for (std::size_t v = 0; v < values.size(); ++v) {
    if (slow[v] == 0 || values[v].empty()) continue;
    SlowAttribution a;
    a.tag = tag;
    a.value = values[v];
    a.requests = requests[v];
    a.slow = slow[v];
    a.share_of_slow = static_cast<double>(slow[v]) / all_slow;
    a.share_of_all = static_cast<double>(requests[v]) / all;
    a.lift = a.share_of_all > 0 ? a.share_of_slow / a.share_of_all : FeatureReport::nan();
    const double here_slow = static_cast<double>(slow[v]);
    const double here_fast = static_cast<double>(requests[v]) - here_slow;
    const double rest_slow = all_slow - here_slow;
    const double rest_fast = (all - all_slow) - here_fast;
    if (here_fast + rest_fast > 0 && here_slow + here_fast < all)
      a.p_value = stats::g_test_independence(std::vector<double>{here_slow, here_fast},
                                             std::vector<double>{rest_slow, rest_fast})
                      .p_value;
    out.emplace_back(v, std::move(a));
  }
  return out;
}

/// Orders attributions most over-represented first (NaN lifts as 0), keeping the order of
/// equal ones.
template <class T, class Lift>
void by_lift(std::vector<T>& items, Lift lift) {
  std::stable_sort(items.begin(), items.end(), [&](const T& a, const T& b) {
    const double x = lift(a);
    const double y = lift(b);
    return (std::isnan(x) ? 0 : x) > (std::isnan(y) ? 0 : y);
  });
}

/// Evidence that latency rose: a significant change of the bucket counts together with a
/// p99 (or p99.9) that moved by the policy's ratio.
inline void latency_rise_evidence(const LatencyReport& r, double adjusted_p, const AlertPolicy& policy,
                                  const Subject& subject, std::vector<Evidence>& out) {
  if (r.recent_count < policy.min_requests || !(adjusted_p < policy.p_value)) return;
  const int level = std::max(severity_of(r.p99_ratio, policy.latency_p99_warn, policy.latency_p99_alert),
                             severity_of(r.p999_ratio, policy.latency_p999_warn, policy.latency_p999_alert));
  if (level == 0) return;
  const Cohort& c = subject.cohort;
  const std::string whose = c.everyone() ? "requests" : "requests with " + c.tag_name + "=" + c.value_name;
  const std::string worst =
      r.attribution.empty() ? std::string()
                            : " Slow requests come most from " + r.attribution.front().tag + "=" +
                                  r.attribution.front().value + " (" + percent(r.attribution.front().share_of_slow) +
                                  " of slow vs " + percent(r.attribution.front().share_of_all) + " of all requests).";
  out.push_back(Evidence{AlertKind::latency, subject, severity_at(level), r.p99_ratio, adjusted_p,
                         "Latency of " + whose + " rose: p99 " + fixed(1000 * r.recent_p99, 1) + " ms vs " +
                             fixed(1000 * r.background_p99, 1) + " ms in the background (×" + fixed(r.p99_ratio) +
                             "), p99.9 " + fixed(1000 * r.recent_p999, 1) + " ms vs " +
                             fixed(1000 * r.background_p999, 1) + " ms." + worst});
}

/// Evidence that one tag value carries more of the slow requests than of all requests, and
/// more than it did in the background: a host that is always a little slower is its normal,
/// not news.
inline void slow_value_evidence(const SlowAttribution& a, double slow_threshold, double adjusted_p,
                                const AlertPolicy& policy, const Subject& subject, std::vector<Evidence>& out) {
  if (a.slow < policy.min_slow_requests || !(adjusted_p < policy.p_value)) return;
  const double relative = a.background_lift > 0 ? a.lift / a.background_lift : a.lift;
  if (!(relative >= policy.slow_lift_warn)) return;
  const int level = severity_of(a.lift, policy.slow_lift_warn, policy.slow_lift_alert);
  if (level == 0) return;
  out.push_back(Evidence{AlertKind::latency, subject, severity_at(level), a.lift, adjusted_p,
                         a.tag + "=" + a.value + " carries " + percent(a.share_of_slow) + " of slow requests (above " +
                             fixed(1000 * slow_threshold, 1) + " ms) vs " + percent(a.share_of_all) +
                             " of all requests (lift " + fixed(a.lift) + ")."});
}

/// The latency family's figures of one slot: the report, per attribution its subject index
/// (1 + the tag value's counter in LatencyPlan), and (for all requests) the latencies refused
/// over the horizon.
struct LatencySection {
  LatencyReport report;
  std::vector<std::uint32_t> attribution_index;
  std::uint64_t horizon_bad_latency = 0;
};

/// The latency family (docs/concepts.md, "Monitor family").
class LatencyFamily {
 public:
  static constexpr Family id = Family::latency;
  static constexpr bool per_cohort = true;
  using Plan = LatencyPlan;
  using State = LatencyState;
  using Section = LatencySection;
  struct Tickets {
    Corrections::Ticket latency;
    std::vector<Corrections::Ticket> attribution;
  };

  static Plan make_plan(const Schema& schema, const Profile&, const MonitorOptions&) { return make_latency_plan(schema); }
  LatencyFamily(const Plan& plan, const MonitorOptions& options) : plan_(&plan), automatic_(std::isnan(options.slow_threshold)) {}

  /// The latency window against the latency background, with slow-request attribution by
  /// every tag.
  Section analyze(const History<State>& history, const EvaluationContext& context, const SlotContext& slot) const {
    const EvaluationWindow& w = context.window;
    const Merged<State> recent = history(w.latency_start, w.recent_end);
    const Merged<State> background = history(w.latency_background_start, w.latency_start);
    Section s;
    s.report.subject = to_string(requests_subject(slot.cohort));
    analyze_latency(recent.state.latency, background.state.latency, s.report);
    s.report.slow_threshold = context.intake.slow_threshold();
    s.report.slow = recent.state.slow;
    attribute(recent.state, background.state, context.tag_values, context.tag_names, s);
    if (slot.cohort.everyone()) {  // the report's counters hold all requests' only
      history.each(w.horizon_start, w.recent_end,
                   [&](std::uint64_t, const State& interval) { s.horizon_bad_latency += interval.bad_latency; });
      s.report.since_start = context.intake.latency_since_start();
    }
    return s;
  }

  /// Once every slot was judged: what counts as slow from now on is the background's p99 of
  /// all requests (slot 0, the first section), unless the options set a threshold.
  void conclude(const std::vector<Section>& sections, const EvaluationContext& context) {
    if (!automatic_ || sections.empty()) return;
    const LatencyReport& all = sections.front().report;
    if (all.background_count >= context.policy.min_requests) context.intake.set_slow_threshold(all.background_p99);
  }

  /// The latency tests of all slots are corrected together, and the attributions together.
  Tickets tests(const Section& section, Corrections& corrections) const {
    Tickets t;
    t.latency = corrections.add({id, 0}, section.report.p_value);
    for (const SlowAttribution& a : section.report.attribution) t.attribution.push_back(corrections.add({id, 1}, a.p_value));
    return t;
  }

  void evidence(const Section& section, const Tickets& tickets, const Corrections& corrections,
                const EvaluationContext& context, const SlotContext& slot, std::vector<Evidence>& out) const {
    const LatencyReport& r = section.report;
    latency_rise_evidence(r, corrections.adjusted(tickets.latency), context.policy, requests_subject(slot.cohort), out);
    for (std::size_t i = 0; i < r.attribution.size(); ++i) {
      const SlowAttribution& a = r.attribution[i];
      const Subject subject{id, section.attribution_index[i], a.tag + "=" + a.value, slot.cohort, false};
      slow_value_evidence(a, r.slow_threshold, corrections.adjusted(tickets.attribution[i]), context.policy, subject, out);
    }
  }

  std::size_t memory_bytes() const { return sizeof(*this); }

  static void place(Section&& section, Report& report) {
    report.latency = std::move(section.report);
    report.counters.bad_latency = section.horizon_bad_latency;
  }
  static void place(Section&& section, CohortReport& cohort) { cohort.latency = std::move(section.report); }
  template <class Part>
  static void mark(const Subject&, Status status, Part& part) {
    part.latency.status = worse(part.latency.status, status);
  }

 private:
  static Subject requests_subject(const Cohort& cohort) { return Subject{id, 0, "requests", cohort, false}; }

  // Per tag, which values the slow requests of the window come from, each with its lift in
  // the background beside it; most over-represented first.
  void attribute(const State& recent, const State& background, const std::vector<std::vector<std::string>>& tag_values,
                 const std::vector<std::string>& tag_names, Section& s) const {
    std::vector<std::pair<std::uint32_t, SlowAttribution>> all;
    for (std::uint32_t t = 0; t < plan_->tag_offset.size(); ++t) {
      const std::size_t first = plan_->tag_offset[t];
      const std::size_t n = plan_->tag_max_values[t] + 1;
      const auto part = [&](const LineVector<std::uint64_t>& v) {
        return std::vector<std::uint64_t>(v.begin() + static_cast<std::ptrdiff_t>(first),
                                          v.begin() + static_cast<std::ptrdiff_t>(first + n));
      };
      auto now = slow_attributions(tag_names[t], tag_values[t], part(recent.tag_requests), part(recent.tag_slow));
      const auto past =
          slow_attributions(tag_names[t], tag_values[t], part(background.tag_requests), part(background.tag_slow));
      for (auto& [value, a] : now) {
        for (const auto& [past_value, p] : past)
          if (past_value == value) a.background_lift = p.lift;
        all.emplace_back(static_cast<std::uint32_t>(1 + first + value), std::move(a));
      }
    }
    by_lift(all, [](const std::pair<std::uint32_t, SlowAttribution>& e) { return e.second.lift; });
    for (auto& [index, a] : all) {
      s.attribution_index.push_back(index);
      s.report.attribution.push_back(std::move(a));
    }
  }

  const Plan* plan_;
  bool automatic_;
};

}  // namespace detail
}  // namespace vigil

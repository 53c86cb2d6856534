// vigil — in-process monitoring of machine-learning models in C++ inference servers.
// SPDX-License-Identifier: Apache-2.0
#pragma once

/// \file
/// The canary family: every request scored by the champion and by shadow models (a stable
/// older canary, candidate challengers), the deviation between them compared with its own
/// trailing background. A canary's deviation is stable by construction, so a rise means the
/// champion broke; the requests of largest deviation are kept for inspection (T. Dunning and
/// E. Friedman, "Machine Learning Logistics", O'Reilly 2017, ch. 5–6: the canary model and
/// the rendezvous of challengers).

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "vigil/monitor/alerts.hpp"
#include "vigil/monitor/detail/canary_state.hpp"
#include "vigil/monitor/detail/corrections.hpp"
#include "vigil/monitor/detail/evaluation_context.hpp"
#include "vigil/monitor/detail/evidence_text.hpp"
#include "vigil/monitor/detail/pooling.hpp"
#include "vigil/monitor/options.hpp"
#include "vigil/monitor/report.hpp"
#include "vigil/monitor/subject.hpp"
#include "vigil/stats/classification.hpp"

namespace vigil {
namespace detail {

/// (recent − background) / background, +∞ for a rise from 0, 0 for no rise; NaN when either
/// is NaN.
inline double relative_rise(double recent, double background) {
  if (std::isnan(recent) || std::isnan(background)) return FeatureReport::nan();
  if (!(recent > background)) return 0;
  return background > 0 ? (recent - background) / background : std::numeric_limits<double>::infinity();
}

/// Whether the mean of `recent` lies above the mean of `background` (Welch, one-sided). Two
/// samples without spread (a canary identical to its champion deviates by exactly 0) differ
/// for certain when their means do.
inline stats::TestResult deviation_rise_test(const RunningStats& recent, const RunningStats& background) {
  const auto nan = FeatureReport::nan();
  if (!(recent.count() >= 2 && background.count() >= 2)) return stats::TestResult{nan, nan};
  const double vr = recent.variance(), vb = background.variance();
  if (!std::isfinite(vr) || !std::isfinite(vb) || !std::isfinite(recent.mean()) || !std::isfinite(background.mean()))
    return stats::TestResult{nan, nan};
  if (vr == 0 && vb == 0) {
    const bool above = recent.mean() > background.mean();
    return stats::TestResult{above ? std::numeric_limits<double>::infinity() : 0.0, above ? 0.0 : 1.0};
  }
  return stats::welch_t_test(recent.mean(), vr, recent.count(), background.mean(), vb, background.count(),
                             stats::Alternative::greater);
}

/// One shadow's figures over the recent sample against the background.
inline CanaryReport canary_report(const ShadowPlan& p, const ShadowState& r, const ShadowState& b) {
  CanaryReport c;
  c.name = p.name;
  c.role = p.role;
  c.of = p.champion_name;
  c.canary = p.canary_name;
  c.recent_count = r.compared;
  c.background_count = b.compared;
  c.mean_abs_deviation = r.compared > 0 ? r.deviation.mean() : FeatureReport::nan();
  c.background_mean_abs_deviation = b.compared > 0 ? b.deviation.mean() : FeatureReport::nan();
  c.p99_abs_deviation = r.digest.quantile(0.99);
  c.background_p99_abs_deviation = b.digest.quantile(0.99);
  c.deviation_p_value = deviation_rise_test(r.deviation, b.deviation).p_value;
  c.classified = r.classified;
  const auto rate = [](const ShadowState& s) {
    return s.classified > 0 ? static_cast<double>(s.disagreements) / static_cast<double>(s.classified) : FeatureReport::nan();
  };
  c.disagreement_rate = rate(r);
  c.background_disagreement_rate = rate(b);
  if (r.classified > 0 && b.classified > 0)
    c.disagreement_p_value = stats::two_proportion_test(static_cast<double>(r.disagreements), static_cast<double>(r.classified),
                                                        static_cast<double>(b.disagreements), static_cast<double>(b.classified),
                                                        stats::Alternative::greater)
                                 .p_value;
  const double tests[2] = {c.deviation_p_value, c.disagreement_p_value};
  double smallest = FeatureReport::nan();
  int tested = 0;
  for (double t : tests)
    if (!std::isnan(t)) smallest = tested++ == 0 ? t : std::min(smallest, t);
  c.p_value = tested == 0 ? smallest : std::min(1.0, tested * smallest);
  c.rise = std::fmax(relative_rise(c.mean_abs_deviation, c.background_mean_abs_deviation),
                     relative_rise(c.disagreement_rate, c.background_disagreement_rate));
  c.missing = r.missing;
  c.non_finite = r.non_finite;
  c.champion_missing = r.champion_missing;
  const std::uint64_t scored = r.compared + r.missing + r.non_finite;
  if (scored > 0) c.missing_rate = static_cast<double>(r.missing + r.non_finite) / static_cast<double>(scored);
  if (r.from_canary.count() > 0) c.mean_abs_deviation_from_canary = r.from_canary.mean();
  for (const Deviation& d : r.top.sorted())
    c.top.push_back(CanaryRequest{std::string(d.id_view()), d.time, d.champion, d.other, d.deviation});
  return c;
}

/// Evidence from one shadow: its deviation significantly above the background (after
/// correction) on enough requests on both sides, by at least the policy's relative rise.
inline void canary_evidence(const CanaryReport& r, double adjusted, const AlertPolicy& policy, Subject subject,
                            std::vector<Evidence>& out) {
  if (r.recent_count < policy.min_requests || r.background_count < policy.min_requests) return;
  if (!(adjusted < policy.p_value)) return;
  const int level = severity_of(r.rise, policy.canary_rise_warn, policy.canary_rise_alert);
  if (level == 0) return;
  std::string message = std::string(r.role == OutputRole::canary ? "Canary '" : "Challenger '") + r.name +
                        "' deviates more from '" + r.of + "' than in the background: mean |difference| " +
                        fixed(r.mean_abs_deviation, 4) + " against " + fixed(r.background_mean_abs_deviation, 4);
  if (!std::isnan(r.disagreement_rate))
    message += ", classes disagree on " + percent(r.disagreement_rate) + " of requests against " +
               percent(r.background_disagreement_rate);
  message += r.role == OutputRole::canary ? " (the canary is stable: the champion changed)." : ".";
  out.push_back(Evidence{AlertKind::canary, std::move(subject), severity_at(level), r.mean_abs_deviation, adjusted,
                         std::move(message)});
}

/// The canary family (docs/concepts.md, "Monitor family").
class CanaryFamily {
 public:
  static constexpr Family id = Family::canary;
  static constexpr bool per_cohort = true;
  using Plan = CanaryPlan;
  using State = CanaryState;
  using Section = std::vector<CanaryReport>;
  struct Tickets {
    std::vector<Corrections::Ticket> shadows;
  };

  static Plan make_plan(const Schema& schema, const Profile&, const MonitorOptions& options) {
    return make_canary_plan(schema, options);
  }
  CanaryFamily(const Plan& plan, const MonitorOptions& options) : plan_(&plan), options_(&options) {}

  /// Every shadow over the recent interval(s), pooled as the output family pools them,
  /// against the trailing background.
  Section analyze(const History<State>& history, const EvaluationContext& context, const SlotContext&) const {
    Section section;
    if (plan_->shadows.empty()) return section;
    const PooledSample<State> pooled = pool_recent(history, context.window, *options_);
    for (std::size_t i = 0; i < plan_->shadows.size(); ++i) {
      section.push_back(canary_report(plan_->shadows[i], pooled.recent.state.shadows[i], pooled.background.state.shadows[i]));
      CanaryReport& r = section.back();
      r.recent_requests = pooled.recent.requests;
      r.recent_intervals = pooled.intervals;
      if (!pooled.enough) r.status = Status::insufficient_data;
    }
    return section;
  }

  /// Every shadow's test in one group, across cohorts.
  Tickets tests(const Section& section, Corrections& corrections) const {
    Tickets t;
    for (const CanaryReport& r : section) t.shadows.push_back(corrections.add({id, 0}, r.p_value));
    return t;
  }

  void evidence(const Section& section, const Tickets& tickets, const Corrections& corrections,
                const EvaluationContext& context, const SlotContext& slot, std::vector<Evidence>& out) const {
    for (std::size_t i = 0; i < section.size() && i < tickets.shadows.size(); ++i) {
      const Subject subject{id, static_cast<std::uint32_t>(i), section[i].name, slot.cohort, false};
      canary_evidence(section[i], corrections.adjusted(tickets.shadows[i]), context.policy, subject, out);
    }
  }

  std::size_t memory_bytes() const { return sizeof(*this); }

  template <class Part>
  static void place(Section&& section, Part& part) {
    part.canary = std::move(section);
  }
  template <class Part>
  static void mark(const Subject& subject, Status status, Part& part) {
    raise_status(part.canary, subject.index, status);
  }

 private:
  const Plan* plan_;
  const MonitorOptions* options_;
};

}  // namespace detail
}  // namespace vigil

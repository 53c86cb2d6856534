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
#include "vigil/monitor/detail/comparisons.hpp"
#include "vigil/monitor/detail/corrections.hpp"
#include "vigil/monitor/detail/evaluation_context.hpp"
#include "vigil/monitor/detail/evidence_text.hpp"
#include "vigil/monitor/detail/pooling.hpp"
#include "vigil/monitor/options.hpp"
#include "vigil/monitor/report.hpp"
#include "vigil/monitor/subject.hpp"
#include "vigil/stats/binomial.hpp"
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
inline stats::TestResult welch_rise_test(const RunningStats& recent, const RunningStats& background) {
  const bool still = recent.count() >= 2 && background.count() >= 2 && recent.variance() == 0 && background.variance() == 0;
  if (!still) return welch(recent, background, stats::Alternative::greater);
  const bool above = recent.mean() > background.mean();
  return stats::TestResult{above ? std::numeric_limits<double>::infinity() : 0.0, above ? 0.0 : 1.0};
}

/// Whether the mean of `recent` lies above `level` (one-sample t-test, one-sided). A sample
/// without spread (a canary identical to its champion deviates by exactly 0) lies above it
/// for certain when its mean does.
inline stats::TestResult deviation_rise_test(const RunningStats& recent, double level) {
  const auto nan = FeatureReport::nan();
  if (!(recent.count() >= 2) || std::isnan(level)) return stats::TestResult{nan, nan};
  const double sd = recent.stddev(), mean = recent.mean();
  if (!std::isfinite(sd) || !std::isfinite(mean)) return stats::TestResult{nan, nan};
  if (sd == 0) {
    const bool above = mean > level;
    return stats::TestResult{above ? std::numeric_limits<double>::infinity() : 0.0, above ? 0.0 : 1.0};
  }
  const double t = (mean - level) / (sd / std::sqrt(recent.count()));
  return stats::TestResult{t, stats::detail::student_t_sf(t, recent.count() - 1)};
}

/// The median of `values` (NaN when empty); reorders them.
inline double median_of(std::vector<double>& values) {
  if (values.empty()) return FeatureReport::nan();
  const auto mid = values.begin() + static_cast<std::ptrdiff_t>(values.size() / 2);
  std::nth_element(values.begin(), mid, values.end());
  if (values.size() % 2 == 1) return *mid;
  return (*mid + *std::max_element(values.begin(), mid)) / 2;
}

/// Per shadow, the typical level of the background: its intervals taken in time order and
/// pooled into chunks of at least `grain` requests (the recent sample's), and the median over
/// the chunks of their mean deviation and of their disagreement rate. A stretch where the two
/// models agree unusually well (both saturated on inputs far outside training) lowers the
/// background's pooled mean, but hardly its median chunk; chunks as large as the recent
/// sample keep rare disagreements from making the median rate 0 on a low-rate stream.
struct TypicalBackground {
  std::vector<double> deviation, disagreement;
};

inline TypicalBackground typical_background(const History<CanaryState>& history, double start, double end,
                                            std::size_t shadows, std::uint64_t grain) {
  std::vector<std::vector<double>> deviation(shadows), disagreement(shadows);
  std::vector<ShadowState> chunk(shadows);
  std::uint64_t requests = 0;
  const auto close = [&] {
    for (std::size_t i = 0; i < shadows; ++i) {
      const ShadowState& s = chunk[i];
      if (s.compared > 0) deviation[i].push_back(s.deviation.mean());
      if (s.classified > 0)
        disagreement[i].push_back(static_cast<double>(s.disagreements) / static_cast<double>(s.classified));
      chunk[i] = ShadowState();
    }
    requests = 0;
  };
  history.each(start, end, [&](std::uint64_t n, const CanaryState& state) {
    for (std::size_t i = 0; i < shadows && i < state.shadows.size(); ++i) {
      const ShadowState& s = state.shadows[i];
      chunk[i].compared += s.compared;
      chunk[i].classified += s.classified;
      chunk[i].disagreements += s.disagreements;
      chunk[i].deviation.merge(s.deviation);
    }
    requests += n;
    if (requests >= grain) close();
  });
  // A last chunk short of the grain counts only when the background holds no full one.
  const bool full = std::any_of(deviation.begin(), deviation.end(), [](const std::vector<double>& d) { return !d.empty(); });
  if (requests > 0 && !full) close();
  TypicalBackground t;
  for (std::size_t i = 0; i < shadows; ++i) {
    t.deviation.push_back(median_of(deviation[i]));
    t.disagreement.push_back(median_of(disagreement[i]));
  }
  return t;
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
  c.p99_abs_deviation = r.histogram.quantile(0.99);
  c.background_p99_abs_deviation = b.histogram.quantile(0.99);
  c.classified = r.classified;
  const auto rate = [](const ShadowState& s) {
    return s.classified > 0 ? static_cast<double>(s.disagreements) / static_cast<double>(s.classified) : FeatureReport::nan();
  };
  c.disagreement_rate = rate(r);
  c.background_disagreement_rate = rate(b);
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

/// The tests of the recent sample: its mean deviation and its disagreements above both the
/// pooled background (Welch; two proportions: they weigh the background's own uncertainty)
/// and the typical background chunk (one-sample t; exact binomial: a contaminated stretch
/// cannot lower it much). Each figure's p-value is the larger of its two (it must be above
/// both); the two figures are combined by Bonferroni. The rise is measured from the larger of
/// the pooled and the typical level.
inline void canary_tests(CanaryReport& c, const ShadowState& recent, const ShadowState& background) {
  using stats::Alternative;
  const auto larger = [](double a, double b) { return std::isnan(a) || std::isnan(b) ? FeatureReport::nan() : std::max(a, b); };
  c.deviation_p_value = larger(deviation_rise_test(recent.deviation, c.typical_abs_deviation).p_value,
                               welch_rise_test(recent.deviation, background.deviation).p_value);
  if (recent.classified > 0 && background.classified > 0 && c.typical_disagreement_rate >= 0 &&
      c.typical_disagreement_rate <= 1) {
    const auto k = static_cast<double>(recent.disagreements), n = static_cast<double>(recent.classified);
    const auto kb = static_cast<double>(background.disagreements), nb = static_cast<double>(background.classified);
    c.disagreement_p_value =
        larger(stats::binomial_test(recent.disagreements, recent.classified, c.typical_disagreement_rate).p_value,
               stats::two_proportion_test(k, n, kb, nb, Alternative::greater).p_value);
  }
  double smallest = FeatureReport::nan();
  int tested = 0;
  for (double t : {c.deviation_p_value, c.disagreement_p_value})
    if (!std::isnan(t)) smallest = tested++ == 0 ? t : std::min(smallest, t);
  c.p_value = tested == 0 ? smallest : std::min(1.0, tested * smallest);
  c.rise = std::fmax(relative_rise(c.mean_abs_deviation, std::fmax(c.typical_abs_deviation, c.background_mean_abs_deviation)),
                     relative_rise(c.disagreement_rate, std::fmax(c.typical_disagreement_rate, c.background_disagreement_rate)));
}

/// Evidence from one shadow: its deviation significantly above the background (after
/// correction) on enough requests on both sides, by at least the policy's relative rise over
/// the typical background interval (TypicalBackground).
inline void canary_evidence(const CanaryReport& r, double adjusted, const AlertPolicy& policy, Subject subject,
                            std::vector<Evidence>& out) {
  if (r.recent_count < policy.min_requests || r.background_count < policy.min_requests) return;
  if (!(adjusted < policy.p_value)) return;
  const int level = severity_of(r.rise, policy.canary_rise_warn, policy.canary_rise_alert);
  if (level == 0) return;
  std::string message = std::string(r.role == OutputRole::canary ? "Canary '" : "Challenger '") + r.name +
                        "' deviates more from '" + r.of + "' than in the background: mean |difference| " +
                        fixed(r.mean_abs_deviation, 4) + " against " +
                        fixed(std::fmax(r.typical_abs_deviation, r.background_mean_abs_deviation), 4) + " in the background";
  if (!std::isnan(r.disagreement_rate))
    message += ", classes disagree on " + percent(r.disagreement_rate) + " of requests against " +
               percent(std::fmax(r.typical_disagreement_rate, r.background_disagreement_rate));
  message += r.role == OutputRole::canary ? " (a canary's deviation is stable: the champion or its inputs changed)." : ".";
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
    const TypicalBackground typical = typical_background(history, pooled.background_start, pooled.start,
                                                         plan_->shadows.size(), std::max<std::uint64_t>(pooled.recent.requests, 1));
    for (std::size_t i = 0; i < plan_->shadows.size(); ++i) {
      section.push_back(canary_report(plan_->shadows[i], pooled.recent.state.shadows[i], pooled.background.state.shadows[i]));
      CanaryReport& r = section.back();
      r.typical_abs_deviation = typical.deviation[i];
      r.typical_disagreement_rate = typical.disagreement[i];
      canary_tests(r, pooled.recent.state.shadows[i], pooled.background.state.shadows[i]);
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

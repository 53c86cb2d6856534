// vigil — in-process monitoring of machine-learning models in C++ inference servers.
// SPDX-License-Identifier: Apache-2.0
#pragma once

/// \file
/// The conversions family: responses (Monitor::on_conversion) joined by request id to their
/// impressions (requests with an id, each with an arm: a tag's value), and the arms compared
/// by their response rate at the delay by which most of the eventual responses have come.
///
/// Older impressions have had more time to convert, so a ratio of all responses to all
/// impressions favours the arm whose traffic is older, and waiting until nearly every
/// response is in takes far longer than deciding on most of them. The rate at delay d is
/// therefore taken over the impressions at least d old only, and arms are compared at the
/// delay d* by which a share (0.6 by default) of the eventual responses has come. On delayed
/// feedback and why a naive ratio misleads: Chapelle, "Modeling Delayed Feedback in Display
/// Advertising", KDD 2014.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "vigil/error.hpp"
#include "vigil/io/binary.hpp"
#include "vigil/monitor/detail/conversion_state.hpp"
#include "vigil/monitor/detail/corrections.hpp"
#include "vigil/monitor/detail/evaluation_context.hpp"
#include "vigil/monitor/detail/interval_clock.hpp"
#include "vigil/monitor/detail/label_intake.hpp"
#include "vigil/monitor/detail/tag_remap.hpp"
#include "vigil/monitor/options.hpp"
#include "vigil/monitor/report.hpp"
#include "vigil/monitor/subject.hpp"
#include "vigil/stats/binomial.hpp"

namespace vigil {
namespace detail {

/// Per arm seen, its impressions and responses in total, and per delay bucket j the
/// impressions at least upper(j) old and their responses within less than upper(j).
struct ConversionCurves {
  std::vector<std::uint32_t> arms;  // arm ids with an impression or a response, increasing
  std::vector<std::uint64_t> impressions, conversions;        // per entry of `arms`
  std::vector<std::vector<std::uint64_t>> eligible, converted;  // per entry of `arms`, per bucket
  std::uint64_t without_arm = 0;
};

/// The curves of the ledger's impressions as of `now`: a row's impressions are all at least
/// now − (its end, or now) old, so they count for the delays up to that age, with their
/// responses below each delay — every one of which has come by `now`.
inline ConversionCurves conversion_curves(const ConversionPlan& p, const ConversionLedger& ledger, double now) {
  ConversionCurves c;
  const std::size_t buckets = p.delays.size();
  std::vector<std::uint64_t> impressions(p.arms, 0), conversions(p.arms, 0);
  ledger.each([&](double, const std::uint64_t* row, const auto& delays) {
    for (std::size_t a = 0; a < p.arms; ++a) {
      impressions[a] += row[a];
      if (const std::uint64_t* d = delays(a)) conversions[a] += std::accumulate(d, d + buckets, std::uint64_t{0});
    }
    c.without_arm += row[p.arms];
  });
  for (std::size_t a = 0; a < p.arms; ++a) {
    if (impressions[a] == 0 && conversions[a] == 0) continue;
    c.arms.push_back(static_cast<std::uint32_t>(a));
    c.impressions.push_back(impressions[a]);
    c.conversions.push_back(conversions[a]);
  }
  c.eligible.assign(c.arms.size(), std::vector<std::uint64_t>(buckets, 0));
  c.converted = c.eligible;
  ledger.each([&](double start, const std::uint64_t* row, const auto& delays) {
    const double age = now - std::min(start + p.resolution, now);
    for (std::size_t i = 0; i < c.arms.size(); ++i) {
      const std::uint64_t* d = delays(c.arms[i]);
      std::uint64_t responded = 0;
      for (std::size_t j = 0; j < buckets && p.delays.upper(j) <= age; ++j) {
        if (d != nullptr) responded += d[j];
        c.eligible[i][j] += row[c.arms[i]];
        c.converted[i][j] += responded;
      }
    }
  });
  return c;
}

/// The bucket whose upper edge is the horizon: the largest edge at most the configured
/// horizon, or (horizon 0) at most the time-to-live and outlived by at least half of the
/// impressions. `buckets` when there is none.
inline std::size_t horizon_bucket(const ConversionPlan& p, const std::vector<std::uint64_t>& eligible,
                                  std::uint64_t impressions) {
  std::size_t found = p.delays.size();
  for (std::size_t j = 0; j < p.delays.size(); ++j) {
    const double edge = p.delays.upper(j);
    if (p.horizon > 0) {
      if (edge <= p.horizon && eligible[j] > 0) found = j;
    } else if (edge <= p.time_to_live && eligible[j] > 0 && 2 * eligible[j] >= impressions) {
      found = j;
    }
  }
  return found;
}

/// Each arm's rate at bucket j's edge with its Wilson interval, every arm's at the
/// confidence that holds for all of them together (Bonferroni).
inline void rates_at(const ConversionPlan& p, const ConversionCurves& c, std::size_t j, ConversionReport& r) {
  std::size_t judged = 0;
  for (std::size_t i = 0; i < c.arms.size(); ++i) judged += c.eligible[i][j] > 0 ? 1 : 0;
  const double each = 1 - (1 - p.confidence) / static_cast<double>(std::max<std::size_t>(judged, 1));
  for (std::size_t i = 0; i < c.arms.size(); ++i) {
    ConversionArm& arm = r.arms[i];
    arm.impressions_at_delay = c.eligible[i][j];
    arm.conversions_at_delay = c.converted[i][j];
    if (arm.impressions_at_delay == 0) continue;
    arm.rate_at_delay = static_cast<double>(arm.conversions_at_delay) / static_cast<double>(arm.impressions_at_delay);
    const stats::ShareInterval ci = stats::wilson_interval(arm.conversions_at_delay, arm.impressions_at_delay, each);
    arm.low = ci.low;
    arm.high = ci.high;
  }
}

/// The arm whose interval lies above every other judged arm's, or empty.
inline std::string separated_best(const std::vector<ConversionArm>& arms) {
  const ConversionArm* leader = nullptr;
  std::size_t judged = 0;
  for (const ConversionArm& a : arms) {
    if (std::isnan(a.rate_at_delay)) continue;
    ++judged;
    if (leader == nullptr || a.rate_at_delay > leader->rate_at_delay) leader = &a;
  }
  if (judged < 2) return "";
  for (const ConversionArm& a : arms)
    if (&a != leader && !std::isnan(a.rate_at_delay) && !(leader->low > a.high)) return "";
  return leader->arm;
}

/// The arm of the highest naive rate (responses over impressions, whatever their age), or
/// empty when no arm has had a response.
inline std::string naive_best(const std::vector<ConversionArm>& arms) {
  const ConversionArm* best = nullptr;
  for (const ConversionArm& a : arms)
    if (a.naive_rate > 0 && (best == nullptr || a.naive_rate > best->naive_rate)) best = &a;
  return best == nullptr ? "" : best->arm;
}

/// The conversions section from the curves: arms named by `names` (the arm tag's value
/// names by id), the horizon and its eventual rate, the delay d* at which the pooled rate
/// first reaches `share` of it, and each arm's rate there.
inline ConversionReport compare_arms(const ConversionPlan& p, const ConversionCurves& c,
                                     const std::vector<std::string>& names) {
  ConversionReport r;
  r.arm_tag = p.arm_name;
  r.share = p.share;
  r.confidence = p.confidence;
  r.impressions_without_arm = c.without_arm;
  std::uint64_t impressions = 0;
  for (std::size_t i = 0; i < c.arms.size(); ++i) {
    ConversionArm arm;
    arm.arm = c.arms[i] < names.size() ? names[c.arms[i]] : std::to_string(c.arms[i]);
    arm.impressions = c.impressions[i];
    arm.conversions = c.conversions[i];
    if (arm.impressions > 0) arm.naive_rate = static_cast<double>(arm.conversions) / static_cast<double>(arm.impressions);
    impressions += arm.impressions;
    r.arms.push_back(std::move(arm));
  }
  r.naive_best_arm = naive_best(r.arms);
  const std::size_t buckets = p.delays.size();
  std::vector<std::uint64_t> eligible(buckets, 0), converted(buckets, 0);
  for (std::size_t i = 0; i < c.arms.size(); ++i)
    for (std::size_t j = 0; j < buckets; ++j) {
      eligible[j] += c.eligible[i][j];
      converted[j] += c.converted[i][j];
    }
  const std::size_t h = horizon_bucket(p, eligible, impressions);
  if (h == buckets) return r;
  r.horizon = p.delays.upper(h);
  r.eventual_rate = static_cast<double>(converted[h]) / static_cast<double>(eligible[h]);
  if (!(r.eventual_rate > 0)) return r;
  std::size_t at = h;
  for (std::size_t j = 0; j <= h; ++j) {
    const double target = p.share * r.eventual_rate * static_cast<double>(eligible[j]);
    if (eligible[j] > 0 && static_cast<double>(converted[j]) >= target * (1 - 1e-12)) {
      at = j;
      break;
    }
  }
  r.delay = p.delays.upper(at);
  rates_at(p, c, at, r);
  r.best_arm = separated_best(r.arms);
  return r;
}

/// The conversions family (docs/concepts.md, "Monitor family"). It keeps state across
/// evaluations: the ledger of impressions (fed each evaluated fine interval's, once) and of
/// the responses that came by each interval's end. Its section compares arms; it raises no
/// alert (a better arm is a finding for the people who run the experiment, not a fault).
class ConversionFamily {
 public:
  static constexpr Family id = Family::conversions;
  static constexpr bool per_cohort = false;
  using Plan = ConversionPlan;
  using State = ConversionState;
  using Section = ConversionReport;
  struct Tickets {};

  static Plan make_plan(const Schema& schema, const Profile& profile, const MonitorOptions& options) {
    return make_conversion_plan(schema, profile, options);
  }
  ConversionFamily(const Plan& plan, const MonitorOptions& options)
      : plan_(&plan), clock_{options.interval}, fine_intervals_(options.fine_intervals), ledger_(plan) {}

  /// Feeds the impressions of the fine intervals evaluated since the last time (at most
  /// those still held at fine resolution), takes the responses that came before the
  /// interval's end (all of them at the end of a finished log), and compares the arms.
  Section analyze(const History<State>& history, const EvaluationContext& context, const SlotContext&) {
    if (!plan_->active) return Section{};
    feed(history, context.window.interval);
    if (LabelIntake* labels = context.intake.labels()) {
      const double before = context.partial ? std::numeric_limits<double>::infinity() : context.window.recent_end;
      labels->drain_conversions(before, [&](const JoinedConversion& c) { credit(c); });
    }
    Section s = compare_arms(*plan_, conversion_curves(*plan_, ledger_, context.window.recent_end),
                             context.tag_values[plan_->arm_tag]);
    counts(context, s);
    return s;
  }
  Tickets tests(const Section&, Corrections&) const { return {}; }
  void evidence(const Section&, const Tickets&, const Corrections&, const EvaluationContext&, const SlotContext&,
                std::vector<Evidence>&) const {}
  /// Adds another replica's impressions and responses (Monitor::merge): the ledgers merge
  /// row by row as ConversionLedger::merge does (a row held by both adds, arm by arm, once
  /// `remap(arm_tag, id)` has moved `other`'s arm ids to this monitor's; rows the later
  /// newest interval puts beyond the ring age out), the responses credited beyond the
  /// window add, and the last fine interval fed becomes the later of the two. Replicas are
  /// expected to have evaluated the same intervals: the impressions of intervals that one
  /// had fed and the other had not are in the ledger for the first only (never twice; the
  /// next feed starts after the later). Throws vigil::invalid_argument, changing nothing,
  /// for a family of another plan shape (tracking or not, arms, delay buckets, resolution,
  /// rows), an `arm_tag` that is not the plan's, or a `remap` ConversionLedger::merge refuses.
  void merge(const ConversionFamily& other, const TagRemap& remap, std::uint32_t arm_tag) {
    if (other.plan_->active != plan_->active)
      throw_invalid_argument(std::string("ConversionFamily::merge: the other family ") +
                             (other.plan_->active ? "tracks" : "does not track") + " conversions, this one " +
                             (plan_->active ? "does" : "does not"));
    if (!plan_->active) return;
    if (arm_tag != plan_->arm_tag)
      throw_invalid_argument("ConversionFamily::merge: arm tag " + std::to_string(arm_tag) + ", the plan's is " +
                             std::to_string(plan_->arm_tag));
    ledger_.merge(other.ledger_, remap);
    beyond_window_ += other.beyond_window_;
    fed_through_ = std::max(fed_through_, other.fed_through_);  // IntervalClock::none is the lowest
  }
  /// Credits every response still staged at once (ConversionReport::applied_early).
  void take_overflow(LabelIntake& labels) {
    labels.take_conversion_overflow([&](const JoinedConversion& c) { credit(c); });
  }
  std::size_t memory_bytes() const { return sizeof(*this) + ledger_.memory_bytes(); }

  /// Writes what the family learnt since construction: the last fine interval whose
  /// impressions were fed (IntervalClock::none before the first), the responses credited
  /// beyond the ledger's window, and the ledger (ConversionLedger::save).
  void save(io::Writer& w) const {
    w.i64(fed_through_);
    w.varint(beyond_window_);
    ledger_.save(w);
  }
  /// Reads save()'s output into a family constructed from the same plan and options. Throws
  /// vigil::format_error (through `r`) for what ConversionLedger::load refuses. On a throw the
  /// family is left as it was.
  void load(io::Reader& r) {
    const std::int64_t fed_through = r.i64();
    const std::uint64_t beyond_window = r.varint();
    ConversionLedger ledger(*plan_);
    ledger.load(r);
    ledger_ = std::move(ledger);
    fed_through_ = fed_through;
    beyond_window_ = beyond_window;
  }

  static void place(Section&& section, Report& report) { report.conversions = std::move(section); }
  static void mark(const Subject&, Status, Report&) {}

 private:
  void feed(const History<State>& history, std::int64_t k) {
    std::int64_t from = fed_through_ == IntervalClock::none ? k : fed_through_ + 1;
    const auto held = static_cast<std::int64_t>(fine_intervals_);
    if (k - from >= held) from = k - held + 1;
    for (std::int64_t j = from; j <= k; ++j) {
      const double start = clock_.start(j);
      // An interval older than the ledger keeps (evaluation fell a time-to-live behind) has no
      // impression a response can still name: nothing of it is needed.
      ledger_.add_impressions(start, history(start, clock_.start(j + 1)).state);
    }
    fed_through_ = std::max(fed_through_ == IntervalClock::none ? k : fed_through_, k);
  }
  void credit(const JoinedConversion& c) {
    if (!ledger_.add_conversion(c)) ++beyond_window_;
  }
  void counts(const EvaluationContext& context, Section& s) const {
    s.beyond_window = beyond_window_;
    const LabelIntake* labels = context.intake.labels();
    if (labels == nullptr) return;
    const ConversionCounts c = labels->conversion_counts();
    s.received = c.received;
    s.joined = c.joined;
    s.unknown_ids = c.unknown_ids;
    s.duplicates = c.duplicates;
    s.too_late = c.too_late;
    s.before_impression = c.before_impression;
    s.bad_times = c.bad_times;
    s.applied_early = c.applied_early;
  }

  const Plan* plan_;
  IntervalClock clock_;
  std::size_t fine_intervals_;
  ConversionLedger ledger_;
  std::int64_t fed_through_ = IntervalClock::none;
  std::uint64_t beyond_window_ = 0;
};

}  // namespace detail
}  // namespace vigil

// vigil — in-process monitoring of machine-learning models in C++ inference servers.
// SPDX-License-Identifier: Apache-2.0
#pragma once

/// \file
/// The attribution family: each label may carry its request's loss attributed to the input
/// features (e.g. SHAP values of the log-loss); per feature, the mean attribution of the
/// requests of the quality window is compared with the trailing background and with the
/// holdout, and a one-sided CUSUM watches it rise slowly. Monitoring a model by the
/// attributions of its loss finds what the overall loss hides: two swapped category labels,
/// a corrupted input, a feature whose usefulness fades (S. M. Lundberg et al., "From local
/// explanations to global understanding with explainable AI for trees", Nature Machine
/// Intelligence 2, 2020, §"Local explanations that enable model monitoring").

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "vigil/error.hpp"
#include "vigil/io/binary.hpp"
#include "vigil/monitor/alerts.hpp"
#include "vigil/monitor/detail/comparisons.hpp"
#include "vigil/monitor/detail/corrections.hpp"
#include "vigil/monitor/detail/evaluation_context.hpp"
#include "vigil/monitor/detail/evidence_text.hpp"
#include "vigil/monitor/detail/label_intake.hpp"
#include "vigil/monitor/detail/state_codec.hpp"
#include "vigil/monitor/detail/request.hpp"
#include "vigil/monitor/options.hpp"
#include "vigil/monitor/profile.hpp"
#include "vigil/monitor/report.hpp"
#include "vigil/monitor/subject.hpp"
#include "vigil/sketch/rolling.hpp"
#include "vigil/stats/classification.hpp"

namespace vigil {
namespace detail {

/// The attribution family's plan: the input features' names and the holdout's attribution
/// moments (empty without them). Nothing of it is read on the request path.
struct AttributionPlan {
  std::vector<std::string> features;  // numeric first, then categorical
  std::vector<RunningStats> reference;

  AttributionPlan request_path() const { return AttributionPlan{}; }
  std::size_t memory_bytes() const {
    std::size_t bytes = sizeof(*this) + features.capacity() * sizeof(std::string) + reference.capacity() * sizeof(RunningStats);
    for (const std::string& f : features) bytes += f.capacity() + 1;
    return bytes;
  }
};

/// The features in the monitor's schema order, and the holdout's moments of each, found by
/// name: the profile's schema may declare the features in another order.
inline AttributionPlan make_attribution_plan(const Schema& schema, const Profile& profile) {
  AttributionPlan p;
  for (std::uint32_t i = 0; i < schema.numeric_count(); ++i) p.features.push_back(schema.name(NumericFeature{i}));
  for (std::uint32_t i = 0; i < schema.categorical_count(); ++i) p.features.push_back(schema.name(CategoricalFeature{i}));
  const std::vector<RunningStats>& held = profile.attributions();
  const Schema& trained = profile.schema();
  if (held.size() != trained.numeric_count() + trained.categorical_count() || held.size() != p.features.size()) return p;
  for (const std::string& name : p.features) {
    const auto numeric = trained.find_numeric(name);
    const std::size_t at = numeric ? numeric->index : trained.numeric_count() + trained.categorical(name).index;
    p.reference.push_back(held[at]);
  }
  return p;
}

/// The family's state of one interval: nothing. Attributions come with labels, after their
/// interval closed; the family object keeps them (AttributionLedger).
struct AttributionState {
  static constexpr std::uint8_t format_version = 1;
  AttributionState() = default;
  explicit AttributionState(const AttributionPlan&) {}
  VIGIL_INLINE void apply(const AttributionPlan&, const Request&) {}
  void merge(const AttributionState&) {}
  void clear() {}
  void compact() {}
  bool empty() const { return true; }
  friend bool operator==(const AttributionState&, const AttributionState&) { return true; }
  std::size_t memory_bytes() const { return 0; }
  void serialize(io::Writer&) const {}
  static AttributionState deserialize(io::Reader&, const AttributionPlan&) { return AttributionState{}; }
  void check(const AttributionPlan&, std::uint64_t, const io::Reader&) const {}
};

/// Attributions credited to the quality interval of their request, for one slot: a ring of
/// the last `length` quality intervals, each with the moments of every feature's attributions.
/// Memory: length × features × sizeof(RunningStats) (64 bytes), allocated at the first
/// attribution; length covers label_time_to_live, the quality window and
/// attribution_background (122 quality intervals by default).
class AttributionLedger {
 public:
  AttributionLedger(double resolution, std::size_t length, std::size_t features)
      : resolution_(resolution), length_(length), features_(features) {}

  /// Credits one request's attributions (features values; NaN ones left out) to its
  /// interval; false when that interval is older than the ring keeps.
  bool add(double request_time, const double* values);
  /// Adds every feature's moments over the kept intervals that start within [from, to) to `out`.
  void sum(double from, double to, std::vector<RunningStats>& out) const;
  bool empty() const { return stats_.empty(); }
  std::size_t memory_bytes() const { return index_.capacity() * sizeof(std::int64_t) + stats_.capacity() * sizeof(RunningStats); }
  /// Adds another replica's ledger of the same resolution, length and features
  /// (Monitor::merge), interval by interval, aligned by quality-interval index. The newest
  /// interval becomes the later of the two newest; the intervals that puts beyond the ring,
  /// here or in `other`, age out as they would had one ledger taken both replicas'
  /// attributions. A kept interval held by both adds every feature's moments
  /// (RunningStats::merge: counts add, means and variances combine exactly up to rounding);
  /// one held by one of them only is kept as it is. Throws vigil::invalid_argument for
  /// another resolution, length or number of features, changing nothing.
  /// O(length × features).
  void merge(const AttributionLedger& other);

  /// Writes the quality intervals the ring holds: their number, then (when there are any)
  /// the newest interval, and per interval in ring order its index and every feature's
  /// moments (nested RunningStats).
  void save(io::Writer& w) const;
  /// Reads save()'s output into an empty ledger of the same resolution, length and features.
  /// Throws vigil::format_error (through `r`) for more intervals than the ring holds,
  /// intervals out of ring order or not within its length of the newest, or moments that
  /// RunningStats::deserialize refuses.
  void load(io::Reader& r);

 private:
  static constexpr std::int64_t none = std::numeric_limits<std::int64_t>::min();
  // Makes `newest` the newest interval and forgets those it puts beyond the ring.
  void age_out(std::int64_t newest);

  double resolution_;
  std::size_t length_, features_;
  std::int64_t newest_ = none;
  std::vector<std::int64_t> index_;  // the quality interval in each place of the ring
  std::vector<RunningStats> stats_;  // features_ per place
};

inline bool AttributionLedger::add(double request_time, const double* values) {
  const double position = std::floor(request_time / resolution_);
  if (!(std::fabs(position) < 0x1p62)) return false;
  const auto q = static_cast<std::int64_t>(position);
  const auto length = static_cast<std::int64_t>(length_);
  if (newest_ != none && q <= newest_ - length) return false;
  if (stats_.empty()) {
    index_.assign(length_, none);
    stats_.assign(length_ * features_, RunningStats());
  }
  // Intervals the ring moves past are forgotten, even when no label came for years.
  if (newest_ == none || q > newest_) age_out(q);
  const auto at = static_cast<std::size_t>(((q % length) + length) % length);
  RunningStats* s = stats_.data() + at * features_;
  if (index_[at] != q) {
    index_[at] = q;
    std::fill(s, s + features_, RunningStats());
  }
  for (std::size_t j = 0; j < features_; ++j)
    if (std::isfinite(values[j])) s[j].add(values[j]);
  return true;
}

inline void AttributionLedger::sum(double from, double to, std::vector<RunningStats>& out) const {
  out.resize(features_);
  for (std::size_t i = 0; i < index_.size(); ++i) {
    if (index_[i] == none) continue;
    const double start = static_cast<double>(index_[i]) * resolution_;
    if (!(start >= from && start < to)) continue;
    for (std::size_t j = 0; j < features_; ++j) out[j].merge(stats_[i * features_ + j]);
  }
}

inline void AttributionLedger::age_out(std::int64_t newest) {
  newest_ = newest;
  const std::int64_t oldest = newest - static_cast<std::int64_t>(length_);  // the last interval beyond the ring
  for (std::int64_t& q : index_)
    if (q != none && q <= oldest) q = none;
}

inline void AttributionLedger::merge(const AttributionLedger& other) {
  if (other.resolution_ != resolution_ || other.length_ != length_ || other.features_ != features_)
    throw_invalid_argument("AttributionLedger::merge: a ring of " + std::to_string(other.length_) + " intervals of " +
                           to_text(other.resolution_) + " s and " + std::to_string(other.features_) +
                           " features into one of " + std::to_string(length_) + " intervals of " + to_text(resolution_) +
                           " s and " + std::to_string(features_) + " features");
  if (other.empty()) return;
  if (stats_.empty()) {
    index_.assign(length_, none);
    stats_.assign(length_ * features_, RunningStats());
  }
  age_out(std::max(newest_, other.newest_));
  const std::int64_t oldest = newest_ - static_cast<std::int64_t>(length_);
  // Within the ring each place holds one interval index: both rings hold the same one there, or one holds none.
  for (std::size_t at = 0; at < length_; ++at) {
    const std::int64_t q = other.index_[at];
    if (q == none || q <= oldest) continue;
    RunningStats* mine = stats_.data() + at * features_;
    const RunningStats* theirs = other.stats_.data() + at * features_;
    if (index_[at] != q) {
      index_[at] = q;
      std::copy(theirs, theirs + features_, mine);
      continue;
    }
    for (std::size_t j = 0; j < features_; ++j) mine[j].merge(theirs[j]);
  }
}

inline void AttributionLedger::save(io::Writer& w) const {
  const auto held = static_cast<std::size_t>(std::count_if(index_.begin(), index_.end(), [](std::int64_t q) { return q != none; }));
  w.varint(held);
  if (held == 0) return;
  w.i64(newest_);
  for (std::size_t at = 0; at < index_.size(); ++at) {
    if (index_[at] == none) continue;
    w.i64(index_[at]);
    for (std::size_t j = 0; j < features_; ++j) save_nested(w, stats_[at * features_ + j]);
  }
}

inline void AttributionLedger::load(io::Reader& r) {
  const std::uint64_t held = r.varint();
  if (held > length_) r.fail("attribution ledger: " + std::to_string(held) + " intervals, the ring holds " + std::to_string(length_));
  if (held == 0) return;
  newest_ = r.i64();
  // Within the range add() takes, so that the ring's arithmetic cannot overflow.
  if (!(std::fabs(static_cast<double>(newest_)) < 0x1p62))
    r.fail("attribution ledger: the newest interval " + std::to_string(newest_) + " is out of range");
  index_.assign(length_, none);
  stats_.assign(length_ * features_, RunningStats());
  const auto length = static_cast<std::int64_t>(length_);
  std::size_t next = 0;  // the first place the next interval may take
  bool newest_seen = false;
  for (std::uint64_t i = 0; i < held; ++i) {
    const std::int64_t q = r.i64();
    if (q > newest_ || q <= newest_ - length) r.fail("attribution ledger: interval " + std::to_string(q) + " is not within the ring");
    const auto at = static_cast<std::size_t>(((q % length) + length) % length);
    if (at < next) r.fail("attribution ledger: interval " + std::to_string(q) + " is out of ring order");
    next = at + 1;
    newest_seen = newest_seen || q == newest_;
    index_[at] = q;
    for (std::size_t j = 0; j < features_; ++j) stats_[at * features_ + j] = load_nested<RunningStats>(r);
  }
  if (!newest_seen) r.fail("attribution ledger: the newest interval " + std::to_string(newest_) + " is not held");
}

/// (recent mean − base mean) / base standard deviation; NaN without a spread.
inline double attribution_effect(const RunningStats& recent, const RunningStats& base) {
  if (!(recent.count() > 0 && base.count() >= 2)) return FeatureReport::nan();
  const double sd = base.stddev();
  return sd > 0 && std::isfinite(sd) ? (recent.mean() - base.mean()) / sd : FeatureReport::nan();
}

/// How a feature's share of the loss moved, for people: "now raises the loss", "lowers the
/// loss less", ...
inline std::string attribution_direction(double recent, double before) {
  if (recent > before) return recent > 0 && !(before > 0) ? "now raises the loss" : recent > 0 ? "raises the loss more" : "lowers the loss less";
  return recent < 0 && !(before < 0) ? "now lowers the loss" : recent < 0 ? "lowers the loss more" : "raises the loss less";
}

inline void attribution_evidence_of(const AttributionReport& r, double effect, double before, const char* against,
                                    double adjusted, const AlertPolicy& policy, Subject subject,
                                    std::vector<Evidence>& out) {
  // Only a rise is evidence: a feature that takes less of the loss than before is no fault
  // (and a fault's end would otherwise echo for as long as the background holds the fault).
  const int level = effect > 0 ? severity_of(effect, policy.attribution_effect_warn, policy.attribution_effect_alert) : 0;
  if (adjusted < policy.p_value && level > 0) {
    out.push_back(Evidence{AlertKind::attribution, std::move(subject), severity_at(level), effect, adjusted,
                           "Feature '" + r.feature + "' " + attribution_direction(r.recent_mean, before) +
                               ": mean loss attribution " + fixed(r.recent_mean, 4) + " against " + fixed(before, 4) +
                               " in the " + against + " (" + fixed(effect, 2) + " standard deviations), over " +
                               fixed(r.recent_count, 0) + " labelled requests."});
    return;
  }
  if (!subject.horizon || !(r.cusum >= policy.attribution_cusum_limit)) return;
  out.push_back(Evidence{AlertKind::attribution, std::move(subject), Severity::warn, r.cusum, FeatureReport::nan(),
                         "Feature '" + r.feature + "' has raised the loss little by little: the CUSUM of its mean " +
                             "loss attribution against the holdout's is " + fixed(r.cusum, 1) + " standard deviations (limit " +
                             fixed(policy.attribution_cusum_limit, 1) + "); now " + fixed(r.recent_mean, 4) +
                             " against " + fixed(before, 4) + "."});
}

/// The attribution family (docs/concepts.md, "Monitor family").
class AttributionFamily {
 public:
  static constexpr Family id = Family::attribution;
  static constexpr bool per_cohort = true;
  using Plan = AttributionPlan;
  using State = AttributionState;
  using Section = std::vector<AttributionReport>;
  struct Tickets {
    std::vector<Corrections::Ticket> background, reference;
  };

  static Plan make_plan(const Schema& schema, const Profile& profile, const MonitorOptions&) {
    return make_attribution_plan(schema, profile);
  }
  AttributionFamily(const Plan& plan, const MonitorOptions& options);

  /// Slot 0 comes first: it takes the attributions whose labels arrived before the interval's
  /// end into every slot's ledger and feeds the CUSUM. Then each feature's figures: the
  /// quality window against the attribution background before it and against the holdout.
  /// Empty until a label carried attributions.
  Section analyze(const History<State>& history, const EvaluationContext& context, const SlotContext& slot);
  Tickets tests(const Section& section, Corrections& corrections) const;
  void evidence(const Section& section, const Tickets& tickets, const Corrections& corrections,
                const EvaluationContext& context, const SlotContext& slot, std::vector<Evidence>& out) const;
  std::size_t memory_bytes() const;
  /// Adds another replica's attributions (Monitor::merge): each of `other`'s slot ledgers
  /// merges into the ledger of slot `slot_of[s]` here (`other`'s slot s; several may map to
  /// one), made when absent, interval by interval as AttributionLedger::merge does (the
  /// moments of an interval held by both add; intervals the later newest one puts beyond
  /// the ring age out). The CUSUM and the batch of attributions since its last step are
  /// not merged (a CUSUM's path is no sum of its replicas' paths): call restart() next.
  /// Throws vigil::invalid_argument, changing nothing, for a family of another number of
  /// features, quality resolution or ring length, or a `slot_of` with fewer entries than
  /// `other` has ledgers.
  void merge(const AttributionFamily& other, const std::vector<std::size_t>& slot_of);
  /// Restarts the change detector, as at construction: the batch of attributions since the
  /// CUSUM's last step is forgotten and every feature's CUSUM is 0. Monitor::merge calls it
  /// once the ledgers are merged: the CUSUM then watches the merged traffic from its next
  /// batch on, and a slow rise the replicas' CUSUMs had partly accumulated is accumulated
  /// again (its evidence comes as many batches later as it took the first time). The
  /// ledgers, and so every figure but the CUSUM, are kept.
  void restart() {
    batch_.assign(plan_->features.size(), RunningStats());
    cusum_.assign(plan_->features.size(), 0.0);
  }
  /// Credits every attribution still staged at once (AttributionCounts::applied_early).
  void take_overflow(LabelIntake& labels) {
    labels.take_attribution_overflow(
        [&](const JoinedAttribution& a, const double* values, const std::uint32_t* slots) { credit(labels, a, values, slots); });
  }

  /// Writes what the family learnt since construction: the number of slots with a ledger
  /// and each ledger (AttributionLedger::save), then per feature the moments of the
  /// attributions since the CUSUM's last step (nested RunningStats) and the CUSUM itself.
  void save(io::Writer& w) const;
  /// Reads save()'s output into a family constructed from the same plan and options. Throws
  /// vigil::format_error (through `r`) for what AttributionLedger::load refuses, another
  /// number of features, moments RunningStats::deserialize refuses, or a CUSUM that is
  /// negative or not finite. On a throw the family is left as it was.
  void load(io::Reader& r);

  template <class Part>
  static void place(Section&& section, Part& part) {
    part.attribution = std::move(section);
  }
  template <class Part>
  static void mark(const Subject& subject, Status status, Part& part) {
    raise_status(part.attribution, subject.index, status);
  }

 private:
  void take_attributions(const EvaluationContext& context);
  void credit(const LabelIntake& labels, const JoinedAttribution& a, const double* values, const std::uint32_t* slots);
  void feed_cusum(const AlertPolicy& policy);
  AttributionLedger& ledger(std::size_t slot);

  const Plan* plan_;
  const MonitorOptions* options_;
  double resolution_;
  std::size_t length_;
  std::vector<AttributionLedger> ledgers_;  // per slot, made at its first attribution
  std::vector<RunningStats> batch_;         // slot 0's attributions since the CUSUM's last step
  std::vector<double> cusum_;
};

inline AttributionFamily::AttributionFamily(const Plan& plan, const MonitorOptions& options)
    : plan_(&plan),
      options_(&options),
      resolution_(options.quality_resolution()),
      length_(static_cast<std::size_t>(std::ceil(
                  (options.label_time_to_live + std::min(options.quality_window, options.label_time_to_live) +
                   options.attribution_background) /
                  options.quality_resolution())) +
              2),
      batch_(plan.features.size()),
      cusum_(plan.features.size(), 0.0) {}

inline AttributionLedger& AttributionFamily::ledger(std::size_t slot) {
  while (ledgers_.size() <= slot) ledgers_.emplace_back(resolution_, length_, plan_->features.size());
  return ledgers_[slot];
}

inline void AttributionFamily::credit(const LabelIntake& labels, const JoinedAttribution& a, const double* values,
                                      const std::uint32_t* slots) {
  if (!ledger(0).add(a.request_time, values)) return;
  for (std::size_t j = 0; j < batch_.size(); ++j)
    if (std::isfinite(values[j])) batch_[j].add(values[j]);
  for (std::size_t c = 0; c < labels.cohort_count(); ++c)
    if (slots[c] != no_tag) ledger(slots[c]).add(a.request_time, values);
}

inline void AttributionFamily::take_attributions(const EvaluationContext& context) {
  LabelIntake* labels = context.intake.labels();
  if (labels == nullptr || plan_->features.empty()) return;
  const double before = context.partial ? std::numeric_limits<double>::infinity() : context.window.recent_end;
  labels->drain_attributions(before, [&](const JoinedAttribution& a, const double* values, const std::uint32_t* slots) {
    credit(*labels, a, values, slots);
  });
  feed_cusum(context.policy);
}

// Page's CUSUM on batches of at least min_labels attributions per feature: the batch's mean
// against the holdout's, in holdout standard deviations, less an allowance of half the
// warning effect (E. S. Page, "Continuous inspection schemes", Biometrika 41, 1954), capped
// at 1.25 times its limit.
inline void AttributionFamily::feed_cusum(const AlertPolicy& policy) {
  if (plan_->reference.empty()) return;
  const double allowance = policy.attribution_effect_warn / 2;
  for (std::size_t j = 0; j < batch_.size(); ++j) {
    if (batch_[j].count() < static_cast<double>(std::max<std::uint64_t>(policy.min_labels, 2))) continue;
    const double z = attribution_effect(batch_[j], plan_->reference[j]);
    // Capped a quarter above the limit, so that it falls below it within a few batches of
    // the feature's return, as the alert's recovery asks, however long the fault lasted.
    if (std::isfinite(z)) cusum_[j] = std::min(1.25 * policy.attribution_cusum_limit, std::max(0.0, cusum_[j] + z - allowance));
    batch_[j] = RunningStats();
  }
}

inline std::vector<AttributionReport> AttributionFamily::analyze(const History<State>&, const EvaluationContext& context,
                                                                 const SlotContext& slot) {
  if (slot.slot == 0) take_attributions(context);
  Section section;
  if (slot.slot >= ledgers_.size() || ledgers_[slot.slot].empty()) return section;
  const double end = context.window.recent_end;
  const double window = std::min(std::max(options_->quality_window, resolution_), options_->label_time_to_live);
  const double from = std::min(std::ceil((end - window) / resolution_) * resolution_, end);
  std::vector<RunningStats> recent, background;
  ledgers_[slot.slot].sum(from, end, recent);
  ledgers_[slot.slot].sum(from - options_->attribution_background, from, background);
  for (std::size_t j = 0; j < plan_->features.size(); ++j) {
    AttributionReport r;
    r.feature = plan_->features[j];
    r.recent_count = recent[j].count();
    r.recent_mean = recent[j].mean();
    r.background_count = background[j].count();
    r.background_mean = background[j].mean();
    r.p_value = welch(recent[j], background[j], stats::Alternative::greater).p_value;
    r.effect = attribution_effect(recent[j], background[j]);
    if (!plan_->reference.empty()) {
      const RunningStats& ref = plan_->reference[j];
      r.reference_count = ref.count();
      r.reference_mean = ref.mean();
      r.reference_p_value = welch(recent[j], ref, stats::Alternative::greater).p_value;
      r.reference_effect = attribution_effect(recent[j], ref);
      if (slot.slot == 0) r.cusum = cusum_[j];
    }
    if (r.recent_count < static_cast<double>(context.policy.min_labels)) r.status = Status::insufficient_data;
    section.push_back(std::move(r));
  }
  return section;
}

inline AttributionFamily::Tickets AttributionFamily::tests(const Section& section, Corrections& corrections) const {
  Tickets t;
  for (const AttributionReport& r : section) {
    t.background.push_back(corrections.add({id, 0}, r.p_value));
    t.reference.push_back(corrections.add({id, 1}, r.reference_p_value));
  }
  return t;
}

inline void AttributionFamily::evidence(const Section& section, const Tickets& tickets, const Corrections& corrections,
                                        const EvaluationContext& context, const SlotContext& slot,
                                        std::vector<Evidence>& out) const {
  const AlertPolicy& policy = context.policy;
  for (std::size_t j = 0; j < section.size() && j < tickets.background.size(); ++j) {
    const AttributionReport& r = section[j];
    if (r.recent_count < static_cast<double>(policy.min_labels)) continue;
    const auto index = static_cast<std::uint32_t>(j);
    if (r.background_count >= static_cast<double>(policy.min_labels))
      attribution_evidence_of(r, r.effect, r.background_mean, "background", corrections.adjusted(tickets.background[j]),
                              policy, Subject{id, index, r.feature, slot.cohort, false}, out);
    if (!plan_->reference.empty())
      attribution_evidence_of(r, r.reference_effect, r.reference_mean, "holdout", corrections.adjusted(tickets.reference[j]),
                              policy, Subject{id, index, r.feature, slot.cohort, true}, out);
  }
}

inline void AttributionFamily::save(io::Writer& w) const {
  w.varint(ledgers_.size());
  for (const AttributionLedger& l : ledgers_) l.save(w);
  w.varint(batch_.size());
  for (const RunningStats& b : batch_) save_nested(w, b);
  w.varint(cusum_.size());
  for (double c : cusum_) w.f64(c);
}

inline void AttributionFamily::load(io::Reader& r) {
  const std::size_t slots = r.count(1);  // a ledger takes at least its count of intervals
  std::vector<AttributionLedger> ledgers(slots, AttributionLedger(resolution_, length_, plan_->features.size()));
  for (AttributionLedger& l : ledgers) l.load(r);
  load_expected(r, batch_.size(), "attribution batch features");
  std::vector<RunningStats> batch(batch_.size());
  for (RunningStats& b : batch) b = load_nested<RunningStats>(r);
  load_expected(r, cusum_.size(), "attribution CUSUM features");
  std::vector<double> cusum(cusum_.size());
  for (double& c : cusum) {
    c = load_finite(r, "attribution CUSUM");
    if (c < 0) r.fail("attribution CUSUM " + to_text(c) + " is negative");
  }
  ledgers_ = std::move(ledgers);
  batch_ = std::move(batch);
  cusum_ = std::move(cusum);
}

inline void AttributionFamily::merge(const AttributionFamily& other, const std::vector<std::size_t>& slot_of) {
  if (other.plan_->features.size() != plan_->features.size() || other.resolution_ != resolution_ ||
      other.length_ != length_)
    throw_invalid_argument("AttributionFamily::merge: " + std::to_string(other.plan_->features.size()) +
                           " features in quality intervals of " + to_text(other.resolution_) + " s, a ring of " +
                           std::to_string(other.length_) + ", into " + std::to_string(plan_->features.size()) +
                           " features in intervals of " + to_text(resolution_) + " s, a ring of " +
                           std::to_string(length_));
  if (slot_of.size() < other.ledgers_.size())
    throw_invalid_argument("AttributionFamily::merge: " + std::to_string(slot_of.size()) +
                           " slots mapped, the other family has " + std::to_string(other.ledgers_.size()));
  for (std::size_t s = 0; s < other.ledgers_.size(); ++s)
    if (!other.ledgers_[s].empty()) ledger(slot_of[s]).merge(other.ledgers_[s]);
}

inline std::size_t AttributionFamily::memory_bytes() const {
  std::size_t bytes = sizeof(*this) + ledgers_.capacity() * sizeof(AttributionLedger) +
                      (batch_.capacity()) * sizeof(RunningStats) + cusum_.capacity() * sizeof(double);
  for (const AttributionLedger& l : ledgers_) bytes += l.memory_bytes();
  return bytes;
}

}  // namespace detail
}  // namespace vigil

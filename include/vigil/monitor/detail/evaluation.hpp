// vigil — in-process monitoring of machine-learning models in C++ inference servers.
// SPDX-License-Identifier: Apache-2.0
//
// The evaluation side of a Monitor: each closed interval is analysed by every family, the
// p-values corrected across families (Benjamini-Hochberg), the evidence fed to the alert
// state machine, and the result stored for report() to read.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <mutex>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "vigil/monitor/alerts.hpp"
#include "vigil/monitor/detail/alert_log.hpp"
#include "vigil/monitor/detail/alert_tracker.hpp"
#include "vigil/monitor/detail/corrections.hpp"
#include "vigil/monitor/detail/delivery.hpp"
#include "vigil/monitor/detail/evaluation_context.hpp"
#include "vigil/monitor/detail/intake.hpp"
#include "vigil/monitor/detail/monitor_families.hpp"
#include "vigil/monitor/detail/report_codec.hpp"
#include "vigil/monitor/detail/state_codec.hpp"
#include "vigil/monitor/options.hpp"
#include "vigil/monitor/profile.hpp"
#include "vigil/monitor/report.hpp"
#include "vigil/monitor/schema.hpp"

namespace vigil {
namespace detail {

/// Whether family F wants to see all its sections once every slot was analysed.
template <class F, class = void>
struct has_conclude : std::false_type {};
template <class F>
struct has_conclude<F, std::void_t<decltype(std::declval<F&>().conclude(
                           std::declval<const std::vector<typename F::Section>&>(),
                           std::declval<const EvaluationContext&>()))>> : std::true_type {};

/// Whether family F learns state over time that a snapshot must carry (F::save, F::load).
template <class F, class = void>
struct has_saved_state : std::false_type {};
template <class F>
struct has_saved_state<F, std::void_t<decltype(std::declval<const F&>().save(std::declval<io::Writer&>())),
                                      decltype(std::declval<F&>().load(std::declval<io::Reader&>()))>>
    : std::true_type {};

/// One family's work in one evaluation: its section and tickets per analysed slot.
template <class F>
struct FamilyRun {
  using family_type = F;
  std::vector<std::size_t> slots;
  std::vector<typename F::Section> sections;
  std::vector<typename F::Tickets> tickets;
};

template <class List>
struct FamilyRuns;
template <class... Families>
struct FamilyRuns<FamilyList<Families...>> {
  using Objects = std::tuple<Families...>;
  using Runs = std::tuple<FamilyRun<Families>...>;
};

/// The spans of event time that the evaluation of interval k compares.
inline EvaluationWindow window_of(std::int64_t k, const MonitorOptions& o) {
  const IntervalClock clock{o.interval};
  EvaluationWindow w;
  w.interval = k;
  w.recent_end = clock.start(k + 1);
  w.recent_start = clock.start(k + 1 - static_cast<std::int64_t>(o.recent_intervals));
  const double retention = o.coarse_interval * static_cast<double>(o.coarse_intervals) +
                           o.interval * static_cast<double>(o.fine_intervals);
  w.horizon_start = w.recent_end - std::min(o.long_horizon, retention);
  w.background_start = w.recent_start - o.background;
  const double window =
      static_cast<double>(std::max<std::int64_t>(1, std::llround(o.latency_window / o.interval))) * o.interval;
  w.latency_start = w.recent_end - window;
  w.latency_background_start = w.latency_start - std::min(o.latency_background, retention - window);
  return w;
}

/// Runs the evaluations of a Monitor and keeps their result. Thread-safe: one evaluation at
/// a time. Callbacks run after the evaluation, without its lock (detail::Delivery).
class Evaluator {
 public:
  Evaluator(const Schema& schema, const Profile& profile, const MonitorPlan& plan, const MonitorOptions& options,
            Intake& intake);

  void on_alert(Delivery::AlertCallback callback) { delivery_.on_alert(std::move(callback)); }
  void on_interval(Delivery::IntervalCallback callback) { delivery_.on_interval(std::move(callback)); }

  /// Evaluates, in event-time order, every interval that ended at or before `now` and was
  /// not evaluated yet (each interval is evaluated once); with `live`, then judges the
  /// silence since the last arrival at `now`. Then delivers to the callbacks.
  void run(double now, bool live);
  /// Declares interval k the partial last interval of a finished log: its arrivals are not
  /// judged against the rate, nor learnt.
  void set_partial(std::int64_t k) {
    std::lock_guard<std::mutex> lock(mutex_);
    partial_ = k;
  }
  /// The result of the latest evaluation, with the alerts open then and the alert log, and
  /// the intake's counters as of now. Changes nothing.
  Report report() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return read();
  }
  /// Credits the labels still waiting for evaluation to the quality family at once, when
  /// their staging is full (Monitor::on_label).
  void take_overflow() {
    std::lock_guard<std::mutex> lock(mutex_);
    if (LabelIntake* labels = intake_.labels()) {
      std::get<QualityFamily>(families_).take_overflow(*labels);
      std::get<ConversionFamily>(families_).take_overflow(*labels);
      std::get<AttributionFamily>(families_).take_overflow(*labels);
    }
  }
  /// Bytes of the evaluation's state: the family objects (the rate predictor), the alert
  /// states and log.
  std::size_t memory_bytes() const;

  /// The monitor's state after its frame (docs/formats.md, "Monitor snapshot"): the intake's,
  /// then each family's that learns (in MonitorFamilies order, each after its Family id), the
  /// alert states and log, which intervals were evaluated, and the latest report. Waits for
  /// an evaluation under way; requests filed meanwhile wait for the shards' locks.
  void save(io::Writer& w);
  /// Reads save()'s bytes into an evaluator (and its intake) just constructed for the same
  /// schema, plan and options.
  void load(io::Reader& r, const MonitorPlan& plan, const Schema& schema);
  /// Adds another replica's evaluator and intake (Monitor::merge; `other` is private to the
  /// caller): the intake's data and the label ledgers add; the alert states, the alert log,
  /// the latest report, the arrival detector and the attribution CUSUM start again, and the
  /// next run() evaluates the intervals retained at fine resolution afresh.
  void merge(Evaluator& other, const MonitorPlan& plan);

 private:
  using Families = FamilyRuns<MonitorFamilies>::Objects;
  using Runs = FamilyRuns<MonitorFamilies>::Runs;

  void evaluate_interval(std::int64_t k);
  template <class F>
  void analyze(F& family, const EvaluationContext& context, const TagDictionary::Snapshot& tags, FamilyRun<F>& run,
               Corrections& corrections);
  template <class F>
  void weigh(const F& family, const FamilyRun<F>& run, const Corrections& corrections, const EvaluationContext& context,
             const TagDictionary::Snapshot& tags, std::vector<Evidence>& evidence) const;
  template <class F>
  History<typename F::State> history_of(std::size_t slot) const;
  Report assemble(const EvaluationWindow& w, const TagDictionary::Snapshot& tags, Runs& runs);
  void judge_silence(double now);
  void log_transitions(std::vector<Alert> transitions);
  Report read() const;
  void mark(const Alert& alert, Report& report) const;
  void mark_insufficient(Report& report) const;

  const Profile& profile_;
  const MonitorOptions& options_;
  Intake& intake_;
  std::vector<std::string> tag_names_;

  mutable std::mutex mutex_;  // guards everything below; never taken under a shard lock
  Families families_;
  AlertTracker tracker_;
  AlertLog log_;
  std::int64_t evaluated_through_ = IntervalClock::none;  // last interval evaluated
  std::int64_t partial_ = IntervalClock::none;            // where a finished log ended
  std::uint64_t skipped_ = 0;
  Report latest_;  // the latest evaluation's figures (statuses ok, or insufficient_data where not judged)
  std::vector<Cohort> latest_cohorts_;  // the cohort of each of latest_.cohorts

  Delivery delivery_;  // its own lock, taken under mutex_ (to queue) or alone (to deliver)
};

template <class... Families, class Plan>
std::tuple<Families...> make_families(const Plan& plan, const MonitorOptions& options, std::tuple<Families...>*) {
  return std::tuple<Families...>(Families(plan.template of<Families>(), options)...);
}

inline Evaluator::Evaluator(const Schema& schema, const Profile& profile, const MonitorPlan& plan,
                            const MonitorOptions& options, Intake& intake)
    : profile_(profile),
      options_(options),
      intake_(intake),
      families_(make_families(plan, options, static_cast<Families*>(nullptr))),
      tracker_(options.alerts),
      log_(options.alert_log) {
  for (std::uint32_t t = 0; t < schema.tag_count(); ++t) tag_names_.push_back(schema.name(Tag{t}));
}

inline void Evaluator::run(double now, bool live) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    const IntervalClock& clock = intake_.clock();
    if (!clock.usable(now)) return;
    const std::int64_t last_closed = intake_.close_through(now);
    // From the first event's interval on: each interval is evaluated once, whoever asks first.
    std::int64_t first = evaluated_through_ != IntervalClock::none ? evaluated_through_ + 1 : intake_.first_interval();
    if (first == IntervalClock::none) first = last_closed + 1;  // nothing taken yet
    const std::int64_t oldest_fine = last_closed - static_cast<std::int64_t>(options_.fine_intervals) + 2;
    if (first < oldest_fine) {
      skipped_ += static_cast<std::uint64_t>(oldest_fine - first);
      first = oldest_fine;
    }
    for (std::int64_t k = first; k <= last_closed; ++k) {
      evaluate_interval(k);
      evaluated_through_ = k;  // per interval: if a later one throws, these are not evaluated again
    }
    if (live) judge_silence(now);
  }
  delivery_.deliver();
}

// mutex_ held. Analysis of every family over every slot it covers, correction, evidence,
// the alert state machine; the report is stored, and queued for on_interval callbacks.
inline void Evaluator::evaluate_interval(std::int64_t k) {
  const EvaluationWindow w = window_of(k, options_);
  const TagDictionary::Snapshot tags = intake_.tags();
  const EvaluationContext context{w, profile_, options_.alerts, intake_, tag_names_, tags.values, k == partial_};
  Runs runs;
  Corrections corrections;
  MonitorFamilies::for_each(families_, [&](auto& family) {
    using F = std::decay_t<decltype(family)>;
    analyze(family, context, tags, std::get<FamilyRun<F>>(runs), corrections);
  });
  corrections.adjust();
  std::vector<Evidence> evidence;
  MonitorFamilies::for_each(families_, [&](const auto& family) {
    using F = std::decay_t<decltype(family)>;
    weigh(family, std::get<FamilyRun<F>>(runs), corrections, context, tags, evidence);
  });
  std::uint64_t requests = 0;
  intake_.visit(0, w.recent_end - options_.interval, w.recent_end, [&](const IntervalSummary& s) { requests += s.requests; });
  event_time_evidence(intake_.future_in(k), requests, options_.alerts, evidence);
  latest_ = assemble(w, tags, runs);
  latest_.samples = intake_.samples_of(k, w.recent_end);
  std::vector<Alert> transitions = tracker_.update(w.recent_end, evidence);
  if (delivery_.wants_intervals()) {
    for (const Alert& a : transitions) log_.add(a);  // the interval's report shows its own transitions
    delivery_.queue(read());
    for (Alert& a : transitions) delivery_.queue(std::move(a));
  } else {
    log_transitions(std::move(transitions));
  }
}

// One slot's retained intervals as family F sees them.
template <class F>
History<typename F::State> Evaluator::history_of(std::size_t slot) const {
  History<typename F::State> h;
  h.merged = [this, slot](double start, double end) { return intake_.template merged<F>(slot, start, end); };
  h.each = [this, slot](double start, double end,
                        const std::function<void(std::uint64_t, const typename F::State&)>& fn) {
    intake_.visit(slot, start, end, [&](const IntervalSummary& s) { fn(s.requests, s.template state<F>()); });
  };
  h.requests = [this, slot](double start, double end) {
    std::uint64_t n = 0;
    intake_.visit(slot, start, end, [&](const IntervalSummary& s) { n += s.requests; });
    return n;
  };
  return h;
}

// Analyses every slot the family covers (all requests; every cohort value seen, for a
// family analysed per cohort), then registers the sections' p-values for correction.
template <class F>
void Evaluator::analyze(F& family, const EvaluationContext& context, const TagDictionary::Snapshot& tags,
                        FamilyRun<F>& run, Corrections& corrections) {
  for (std::size_t slot = 0; slot < tags.slots.size(); ++slot) {
    if (slot > 0 && (!F::per_cohort || !tags.in_use[slot])) continue;
    run.slots.push_back(slot);
    run.sections.push_back(family.analyze(history_of<F>(slot), context, SlotContext{slot, tags.slots[slot]}));
  }
  if constexpr (has_conclude<F>::value) family.conclude(run.sections, context);
  for (const auto& section : run.sections) run.tickets.push_back(family.tests(section, corrections));
}

template <class F>
void Evaluator::weigh(const F& family, const FamilyRun<F>& run, const Corrections& corrections,
                      const EvaluationContext& context, const TagDictionary::Snapshot& tags,
                      std::vector<Evidence>& evidence) const {
  for (std::size_t i = 0; i < run.slots.size(); ++i)
    family.evidence(run.sections[i], run.tickets[i], corrections, context, SlotContext{run.slots[i], tags.slots[run.slots[i]]},
                    evidence);
}

// The report of interval w.interval: slot 0's sections in the report itself, each cohort
// value's in a CohortReport of its own, in slot order.
inline Report Evaluator::assemble(const EvaluationWindow& w, const TagDictionary::Snapshot& tags, Runs& runs) {
  Report r;
  r.time = w.recent_end;
  r.recent_start = w.recent_start;
  r.recent_end = w.recent_end;
  r.horizon_start = w.horizon_start;
  intake_.visit(0, w.recent_start, w.recent_end, [&](const IntervalSummary& s) { r.recent_requests += s.requests; });
  intake_.visit(0, w.horizon_start, w.recent_end, [&](const IntervalSummary& s) { r.horizon_requests += s.requests; });
  latest_cohorts_.clear();
  std::vector<std::size_t> cohort_of_slot(tags.slots.size(), 0);
  for (std::size_t slot = 1; slot < tags.slots.size(); ++slot) {
    if (!tags.in_use[slot]) continue;
    cohort_of_slot[slot] = r.cohorts.size();
    CohortReport c;
    c.tag = tags.slots[slot].tag_name;
    c.value = tags.slots[slot].value_name;
    intake_.visit(slot, w.horizon_start, w.recent_end, [&](const IntervalSummary& s) { c.requests += s.requests; });
    r.cohorts.push_back(std::move(c));
    latest_cohorts_.push_back(tags.slots[slot]);
  }
  MonitorFamilies::for_each(families_, [&](const auto& family) {
    using F = std::decay_t<decltype(family)>;
    FamilyRun<F>& run = std::get<FamilyRun<F>>(runs);
    for (std::size_t i = 0; i < run.slots.size(); ++i) {
      if (run.slots[i] == 0) {
        F::place(std::move(run.sections[i]), r);
      } else if constexpr (F::per_cohort) {
        F::place(std::move(run.sections[i]), r.cohorts[cohort_of_slot[run.slots[i]]]);
      }
    }
  });
  return r;
}

// mutex_ held. Transitions go to the alert log and to the on_alert callbacks.
inline void Evaluator::log_transitions(std::vector<Alert> transitions) {
  for (Alert& a : transitions) {
    log_.add(a);
    delivery_.queue(std::move(a));
  }
}

// mutex_ held. A silence noticed between interval ends (a health check asking at `now`
// while no request comes): its figures go to the stored report's traffic section, its
// evidence opens or escalates an alert at once.
inline void Evaluator::judge_silence(double now) {
  std::vector<Evidence> evidence;
  std::get<TrafficFamily>(families_).silence(now, intake_, options_.alerts, latest_, evidence);
  for (const Evidence& e : evidence) log_transitions(tracker_.raise_now(now, e));
}

// mutex_ held. The stored figures with the alerts open now, the alert log, every figure's
// status from the open alerts, and the intake's counters.
inline Report Evaluator::read() const {
  Report r = latest_;
  if (std::isnan(r.time)) r.time = intake_.latest_time();  // nothing evaluated yet
  const std::uint64_t bad_latency = r.counters.bad_latency;
  r.counters = intake_.counters();
  r.counters.bad_latency = bad_latency;
  r.counters.skipped_evaluations = skipped_;
  r.traffic.in_flight = intake_.in_flight();
  r.open_alerts = tracker_.open_alerts(r.time);
  r.alert_log = log_.entries();
  for (const Alert& a : r.open_alerts) mark(a, r);
  mark_insufficient(r);
  return r;
}

// A report (or cohort) with no open alert whose features or outputs could not be judged
// reads insufficient_data, not ok: it pages no one, and says that nothing was judged.
template <class Part>
Status insufficient_status(const Part& part, Status status) {
  const auto unjudged = [](const auto& entries) {
    return std::any_of(entries.begin(), entries.end(),
                       [](const auto& e) { return e.status == Status::insufficient_data; });
  };
  if (unjudged(part.features) || unjudged(part.outputs)) return worse(status, Status::insufficient_data);
  return status;
}

inline void Evaluator::mark_insufficient(Report& r) const {
  r.status = insufficient_status(r, r.status);
  for (CohortReport& c : r.cohorts) c.status = insufficient_status(c, c.status);
}

// The status an open alert gives: to the whole report, to the entry of its subject, and to
// its cohort.
inline void Evaluator::mark(const Alert& alert, Report& r) const {
  const Status status = alert.severity == Severity::alert ? Status::alert : Status::warn;
  r.status = worse(r.status, status);
  const Subject& s = alert.subject;
  CohortReport* cohort = nullptr;
  for (std::size_t i = 0; i < latest_cohorts_.size() && i < r.cohorts.size(); ++i)
    if (latest_cohorts_[i] == s.cohort) cohort = &r.cohorts[i];
  if (!s.cohort.everyone() && cohort == nullptr) return;  // a cohort not in this report
  if (cohort != nullptr) cohort->status = worse(cohort->status, status);
  MonitorFamilies::for_each(families_, [&](const auto& family) {
    using F = std::decay_t<decltype(family)>;
    if (F::id != s.family) return;
    if (cohort == nullptr) {
      F::mark(s, status, r);
    } else if constexpr (F::per_cohort) {
      F::mark(s, status, *cohort);
    }
  });
}

inline void Evaluator::save(io::Writer& w) {
  std::lock_guard<std::mutex> lock(mutex_);
  intake_.save(w);
  MonitorFamilies::for_each(families_, [&](const auto& family) {
    using F = std::decay_t<decltype(family)>;
    if constexpr (has_saved_state<F>::value) {
      save_enum(w, F::id);
      family.save(w);
    }
  });
  tracker_.save(w);
  log_.save(w);
  w.i64(evaluated_through_);
  w.i64(partial_);
  w.varint(skipped_);
  save_report(w, latest_);
  w.varint(latest_cohorts_.size());
  for (const Cohort& c : latest_cohorts_) save_cohort(w, c);
}

inline void Evaluator::load(io::Reader& r, const MonitorPlan& plan, const Schema& schema) {
  std::lock_guard<std::mutex> lock(mutex_);
  intake_.load(r, plan, schema);
  MonitorFamilies::for_each(families_, [&](auto& family) {
    using F = std::decay_t<decltype(family)>;
    if constexpr (has_saved_state<F>::value) {
      if (load_enum(r, Family::attribution, "family") != F::id)
        r.fail(std::string("the state of family '") + to_string(F::id) + "' was expected");
      family.load(r);
    }
  });
  tracker_.load(r);
  log_.load(r);
  evaluated_through_ = r.i64();
  partial_ = r.i64();
  skipped_ = r.varint();
  if (evaluated_through_ != IntervalClock::none && intake_.first_interval() == IntervalClock::none)
    r.fail("interval " + std::to_string(evaluated_through_) + " was evaluated before any event");
  latest_ = load_report(r);
  latest_cohorts_.clear();
  const std::size_t cohorts = r.count(10);
  if (cohorts != latest_.cohorts.size()) r.fail("the latest report's cohorts and their identities differ in number");
  for (std::size_t i = 0; i < cohorts; ++i) latest_cohorts_.push_back(load_cohort(r));
}

inline void Evaluator::merge(Evaluator& other, const MonitorPlan& plan) {
  std::lock_guard<std::mutex> lock(mutex_);
  const TagRemap remap = intake_.merge(other.intake_, plan);
  std::vector<std::size_t> slot_of;
  for (std::size_t slot = 0; slot < intake_.tags().slots.size(); ++slot) slot_of.push_back(intake_.slot_of(slot, remap));
  std::get<QualityFamily>(families_).merge(std::get<QualityFamily>(other.families_), slot_of);
  std::get<AttributionFamily>(families_).merge(std::get<AttributionFamily>(other.families_), slot_of);
  std::get<AttributionFamily>(families_).restart();
  const ConversionPlan& arms = plan.of<ConversionFamily>();
  if (arms.active) std::get<ConversionFamily>(families_).merge(std::get<ConversionFamily>(other.families_), remap, arms.arm_tag);
  if (intake_.labels() && other.intake_.labels()) intake_.labels()->add_counts(*other.intake_.labels());
  std::get<TrafficFamily>(families_) = TrafficFamily(plan.of<TrafficFamily>(), options_);
  tracker_ = AlertTracker(options_.alerts);
  log_ = AlertLog(options_.alert_log);
  latest_ = Report{};
  latest_cohorts_.clear();
  partial_ = IntervalClock::none;
  // The intervals still at fine resolution are evaluated again, oldest first, by the next
  // run(); the older ones were evaluated by the replicas and are not counted as skipped.
  evaluated_through_ = IntervalClock::none;
  const std::int64_t first = intake_.first_interval();
  const double latest = intake_.latest_time();
  if (first != IntervalClock::none && !std::isnan(latest)) {
    const std::int64_t oldest_fine = intake_.clock().of(latest) - static_cast<std::int64_t>(options_.fine_intervals) + 1;
    evaluated_through_ = std::max(first, oldest_fine) - 1;
  }
}

inline std::size_t Evaluator::memory_bytes() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::size_t bytes = sizeof(*this) - sizeof(tracker_) - sizeof(families_) + tracker_.memory_bytes() + log_.memory_bytes();
  MonitorFamilies::for_each(families_, [&](const auto& family) { bytes += family.memory_bytes(); });
  return bytes;
}

}  // namespace detail
}  // namespace vigil

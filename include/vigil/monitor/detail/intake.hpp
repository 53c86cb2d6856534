// vigil — in-process monitoring of machine-learning models in C++ inference servers.
// SPDX-License-Identifier: Apache-2.0
//
// The request side of a Monitor: shards and their locks, event time (ahead and late), the
// hand-over of closed intervals to retention, and the retained windows the evaluation reads.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "vigil/config.hpp"
#include "vigil/monitor/detail/cache_line.hpp"
#include "vigil/monitor/detail/evaluation_context.hpp"
#include "vigil/monitor/detail/event_time.hpp"
#include "vigil/monitor/detail/interval_clock.hpp"
#include "vigil/monitor/detail/label_intake.hpp"
#include "vigil/monitor/detail/label_samples.hpp"
#include "vigil/monitor/detail/monitor_families.hpp"
#include "vigil/monitor/detail/request.hpp"
#include "vigil/monitor/detail/shard.hpp"
#include "vigil/monitor/detail/spin_lock.hpp"
#include "vigil/monitor/detail/state_codec.hpp"
#include "vigil/monitor/detail/tag_dictionary.hpp"
#include "vigil/monitor/observation.hpp"
#include "vigil/monitor/options.hpp"
#include "vigil/monitor/report.hpp"
#include "vigil/sketch/category_counts.hpp"
#include "vigil/sketch/time_windows.hpp"

namespace vigil {
namespace detail {

/// Takes requests and arrivals from any number of threads into per-thread shards, hands
/// each closed interval to retention (fine, then rolled-up intervals, per summary slot), and
/// answers the evaluation's questions about what it holds.
class Intake final : public IntakeAccess {
 public:
  Intake(const Schema& schema, const MonitorPlan& plan, const MonitorOptions& options);

  /// Files one request. Returns the interval the request opened as the newest one (its
  /// first event), or IntervalClock::none. A request dated too far ahead is held, then
  /// refused or, with the evidence of a clock change, filed with the others held
  /// (EventTimeGuard): the newest interval those opened is returned then.
  std::int64_t observe(const Observation& o);
  /// Counts one arrival at `t`; returns as observe().
  std::int64_t arrive(double t);
  /// Refuses the events held as possible evidence of a clock change (the end of a log: no
  /// more evidence comes). They are counted as future.
  void refuse_held();
  /// Events refused as too far ahead while interval k was the newest (0 for intervals long
  /// past).
  std::uint64_t future_in(std::int64_t k) const;

  /// Moves event time forward to `t` without an event (ignored unless usable and later).
  void advance_time(double t);
  /// Latest event time seen (of a request or of an arrival) or advanced to; NaN before
  /// either.
  double latest_time() const;
  /// Hands every interval that ended at or before `now` to retention and moves retention's
  /// clock there, so quiet intervals exist. Returns the last interval closed.
  std::int64_t close_through(double now);
  const IntervalClock& clock() const { return clock_; }
  /// The interval of the first event taken, or IntervalClock::none.
  std::int64_t first_interval() const { return first_interval_.load(std::memory_order_relaxed); }

  /// Calls fn(const IntervalSummary&) for each of slot `slot`'s retained intervals lying
  /// within [start, end), oldest first, under the retention lock.
  template <class Fn>
  void visit(std::size_t slot, double start, double end, Fn&& fn) const;
  /// Family F's state merged over slot `slot`'s retained intervals within [start, end).
  template <class F>
  Merged<typename F::State> merged(std::size_t slot, double start, double end) const;
  TagDictionary::Snapshot tags() const { return tags_.snapshot(); }

  std::uint64_t observed() const;
  InputCounters counters() const;
  std::size_t memory_bytes() const;

  /// The snapshot's part (docs/formats.md, "Monitor snapshot"): the clock and counters, the
  /// tag dictionary, the open interval of every shard merged into one, every slot's retained
  /// windows, the latency histogram since start, the held events, the label store and the
  /// samples waiting. Takes every lock of the intake (the evaluation's must be held).
  /// Adds another replica's intake (of the same schema, plan and options; Monitor::merge):
  /// its open interval is handed over to its retention first; then its tag values get ids
  /// here, its retained windows (cohort slots and tag-value counters moved to this
  /// dictionary's ids) merge into this one's interval by interval, and its counters and
  /// clocks add. Returns the remapping of its tag value ids, for the label side.
  TagRemap merge(Intake& other, const MonitorPlan& plan);
  /// The slot here of another replica's slot `slot`, by merge()'s remapping.
  std::size_t slot_of(std::size_t slot, const TagRemap& remap) const { return tags_.slot_of(slot, remap); }

  /// A shard still holding an interval older than the newest hands it over first, as the
  /// request that began the newest is about to make it do.
  void save(io::Writer& w);
  /// Reads save()'s bytes into an intake constructed for the same schema, plan and options,
  /// before its first event. The open interval goes to the shard of the calling thread, as if
  /// it had taken those requests itself.
  void load(io::Reader& r, const MonitorPlan& plan, const Schema& schema);

  bool explicit_arrivals() const override { return explicit_arrivals_.load(std::memory_order_relaxed); }
  std::int64_t in_flight() const override;
  double arrivals_in(std::int64_t k) const override;
  double last_arrival() const override;
  void set_slow_threshold(double seconds) override { slow_threshold_.store(seconds, std::memory_order_relaxed); }
  double slow_threshold() const override { return slow_threshold_.load(std::memory_order_relaxed); }
  LabelIntake* labels() override { return labels_.get(); }
  const LabelIntake* labels() const { return labels_.get(); }
  LogHistogram latency_since_start() const override {
    std::lock_guard<std::mutex> lock(retained_mutex_);
    return since_start_;
  }
  /// The samples to label of interval k (ending at `end`), once it closed; forgets them and
  /// those of older intervals (LabelSampler::take). Empty lists when sampling is off.
  LabelSamples samples_of(std::int64_t k, double end) {
    return samples_ ? samples_->take(k, end) : LabelSamples{end, {}, {}, {}};
  }

 private:
  static std::size_t& shard_hint();
  Shard& lock_shard();
  bool enter(double t, std::int64_t& k, bool& crossed, std::atomic<std::uint64_t>& bad_counter);
  bool screened(double t) const {
    return !(t <= future_bound_.load(std::memory_order_relaxed)) || holding_.load(std::memory_order_relaxed);
  }
  std::int64_t screen(double t, const Observation* request);
  std::int64_t adopt_held();
  double refresh_bound();
  double stream_time() const;
  std::int64_t take(const Observation& o, double t);
  std::int64_t take_arrival(double t);
  template <class Current, class HandedOver>
  void record(std::int64_t k, Current&& current, HandedOver&& handed_over);
  template <class SummaryAt>
  void apply(Shard& shard, const Observation& o, double t, SummaryAt&& at);
  std::uint32_t cached_tag_id(Shard& shard, std::uint32_t tag, std::string_view value);
  void cache_all_values(Shard& shard, std::uint32_t tag);
  void resolve_tags(Shard& shard, const Observation& o);
  void flush_shard(Shard& shard);  // shard lock held
  void flush_all(std::int64_t before);
  void init_shards(const MonitorPlan& plan, const Schema& schema, std::size_t shards);
  void merge_clock(const Intake& other);
  void save_clock(io::Writer& w) const;
  void load_clock(io::Reader& r);
  void save_open(io::Writer& w);  // every shard's lock held
  void load_open(io::Reader& r, const MonitorPlan& plan);
  void save_retained(io::Writer& w) const;  // retained_mutex_ held
  void load_retained(io::Reader& r, const MonitorPlan& plan);
  void init_retention(const MonitorPlan& plan, const MonitorOptions& options);

  IntervalClock clock_;
  double lateness_;
  TagDictionary tags_;
  std::vector<TagDictionary::CohortTag> cohorts_;  // the dictionary's, read by every request
  bool arms_ = false;  // conversions are tracked: a request with an id needs its arm's tag id
  std::unique_ptr<LabelIntake> labels_;            // requests with an id wait here for their label
  std::unique_ptr<LabelSampler> samples_;          // null unless samples to label are picked
  std::unique_ptr<Shard[]> shards_;
  std::size_t shard_mask_ = 0;

  mutable std::mutex retained_mutex_;  // guards retained_ and since_start_; taken after a shard lock, never before
  std::vector<TimeWindows<IntervalSummary>> retained_;
  LogHistogram since_start_;  // every latency retention took in slot 0 (all requests)

  // Read by every request and written about once per interval: a cache line of their own,
  // so that the writes below (counters of rare events) never take it away from the cores
  // that read it.
  alignas(cache_line) std::atomic<std::int64_t> global_interval_{IntervalClock::none};
  std::atomic<bool> explicit_arrivals_{false};
  std::atomic<double> slow_threshold_{std::numeric_limits<double>::quiet_NaN()};
  // Events up to this time pass without a look at the clocks: the guard's bound as last
  // computed. The clocks only move on, so a stale value mostly costs an extra look; -inf
  // until the first finite bound.
  std::atomic<double> future_bound_{-std::numeric_limits<double>::infinity()};
  std::atomic<bool> holding_{false};  // events are held: every event goes through screen()

  // Shared counters touched only by rare events; per-request figures live in the shards so
  // that threads do not bounce a cache line.
  alignas(cache_line) std::atomic<std::uint64_t> bad_time_{0};
  std::atomic<std::uint64_t> late_{0};
  std::atomic<std::uint64_t> bad_arrival_time_{0};
  std::atomic<std::uint64_t> truncated_values_{0};
  std::atomic<double> advanced_time_{-std::numeric_limits<double>::infinity()};
  std::atomic<std::int64_t> first_interval_{IntervalClock::none};

  mutable std::mutex guard_mutex_;  // guards guard_; taken before a shard lock, never after
  EventTimeGuard guard_;
};

inline Intake::Intake(const Schema& schema, const MonitorPlan& plan, const MonitorOptions& options)
    : clock_{options.interval},
      lateness_(options.lateness),
      tags_(schema),
      cohorts_(tags_.cohorts()),
      since_start_(plan.of<LatencyFamily>().latency_scale),
      guard_(options) {
  slow_threshold_.store(options.slow_threshold);
  std::size_t shards = options.shards;
  if (shards == 0) shards = std::max<std::size_t>(1, std::thread::hardware_concurrency());
  if (schema.output_count() > 0 || !options.conversion_arm.empty()) {
    const bool labelled = plan.of<QualityFamily>().baseline.labelled > 0;
    labels_ = std::make_unique<LabelIntake>(schema, options, cohorts_, shards, labelled);
    arms_ = labels_->arm_tag() != no_tag;
  }
  auto sampler = std::make_unique<LabelSampler>(schema, options);
  if (sampler->enabled()) samples_ = std::move(sampler);
  init_shards(plan, schema, shards);
  init_retention(plan, options);
}

inline void Intake::init_shards(const MonitorPlan& plan, const Schema& schema, std::size_t shards) {
  std::size_t pow2 = 1;
  while (pow2 < shards) pow2 *= 2;
  shards_.reset(new Shard[pow2]);
  shard_mask_ = pow2 - 1;
  const IntervalSummary prototype(plan);
  for (std::size_t s = 0; s < pow2; ++s) {
    Shard& shard = shards_[s];
    shard.summaries.assign(tags_.slot_count(), prototype);
    shard.plan = plan.request_path();
    shard.tag_cache.resize(schema.tag_count());
    for (std::uint32_t t = 0; t < schema.tag_count(); ++t) shard.tag_cache[t].reserve(tags_.max_values(t));
    shard.tag_complete.assign(schema.tag_count(), 0);
    for (std::uint32_t t = 0; t < schema.tag_count(); ++t)
      shard.tag_other.push_back(static_cast<std::uint32_t>(tags_.max_values(t)));
    shard.tag_ids.assign(schema.tag_count(), no_tag);
    shard.label_slots.assign(labels_ ? labels_->extras() : 0, no_tag);
  }
}

inline void Intake::init_retention(const MonitorPlan& plan, const MonitorOptions& options) {
  TimeWindowsOptions windows;
  windows.fine_width = options.interval;
  windows.fine_count = options.fine_intervals;
  windows.coarse_width = options.coarse_interval;
  windows.coarse_count = options.coarse_intervals;
  // Shards hand over an interval when the next one starts, so retention accepts any fine
  // interval; the intake applies its own lateness to incoming events.
  windows.lateness = options.interval * static_cast<double>(options.fine_intervals - 1);
  const IntervalSummary prototype(plan);
  retained_.reserve(tags_.slot_count());
  for (std::size_t s = 0; s < tags_.slot_count(); ++s) retained_.emplace_back(prototype, windows);
}

// The shard this thread used last: a hint shared by every Monitor, starting the threads of a
// process on different shards.
inline std::size_t& Intake::shard_hint() {
  static std::atomic<std::size_t> next{0};
  thread_local std::size_t hint = next.fetch_add(1, std::memory_order_relaxed);
  return hint;
}

// Locks a shard for this thread: its own if free, else the next free one, which becomes its
// own when another request held the first, so two threads that happen to share a shard part
// after one collision. A shard held by the monitor's upkeep is free again in microseconds:
// the thread borrows another for this request and keeps its own (moving would make two
// threads trade shards, and their data between cores, at every hand-over).
inline Shard& Intake::lock_shard() {
  std::size_t& hint = shard_hint();
  for (std::size_t k = 0; k <= shard_mask_; ++k) {
    Shard& s = shards_[(hint + k) & shard_mask_];
    if (s.mutex.try_lock()) {
      if (k != 0 && !shards_[hint & shard_mask_].maintained.load(std::memory_order_relaxed)) hint += k;
      return s;
    }
  }
  Shard& s = shards_[hint & shard_mask_];
  s.mutex.lock();
  return s;
}

// Event time `t` enters: bad and late times are counted (false); the first event of an
// interval hands every shard's older interval to retention (crossed), so no shard holds data
// for long.
inline bool Intake::enter(double t, std::int64_t& k, bool& crossed, std::atomic<std::uint64_t>& bad_counter) {
  if (VIGIL_UNLIKELY(!clock_.usable(t))) {
    bad_counter.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  k = clock_.of(t);
  std::int64_t global = global_interval_.load(std::memory_order_relaxed);
  // Late: older than the tolerance before the start of the newest interval.
  if (VIGIL_UNLIKELY(global != IntervalClock::none && t < clock_.start(global) - lateness_)) {
    late_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  crossed = false;
  while (k > global) {
    if (global_interval_.compare_exchange_weak(global, k, std::memory_order_relaxed)) {
      crossed = global != IntervalClock::none;
      if (VIGIL_UNLIKELY(!crossed)) first_interval_.store(k, std::memory_order_relaxed);
      break;
    }
  }
  if (crossed) flush_all(k);
  return true;
}

// Records an event of interval k in this thread's shard: `current(shard)` when k is the
// shard's open interval (an older one it held goes to retention first), else
// `handed_over(shard)` under the retention lock, for an event of an interval the shard
// already handed over.
template <class Current, class HandedOver>
void Intake::record(std::int64_t k, Current&& current, HandedOver&& handed_over) {
  Shard& shard = lock_shard();
  std::lock_guard<SpinLock> lock(shard.mutex, std::adopt_lock);
  if (shard.interval == IntervalClock::none) shard.interval = k;
  if (k > shard.interval) {
    flush_shard(shard);
    shard.interval = k;
  }
  if (k == shard.interval) {
    current(shard);
  } else {
    std::lock_guard<std::mutex> retained_lock(retained_mutex_);
    handed_over(shard);
  }
}

// Files a request into the summary of every slot it belongs to: `at(slot)` gives the
// summary (the shard's open interval, or a retained one), or nullptr. Tag ids serve latency
// attribution, cohorts and the arms of conversions (requests with an id) only.
template <class SummaryAt>
void Intake::apply(Shard& shard, const Observation& o, double t, SummaryAt&& at) {
  const double slow = slow_threshold_.load(std::memory_order_relaxed);
  if (!shard.tag_ids.empty() && (o.has_latency() || !cohorts_.empty() || (arms_ && o.has_id()))) resolve_tags(shard, o);
  at(0)->apply(shard.plan, o, shard.tag_ids.data(), slow, t);
  for (const TagDictionary::CohortTag& c : cohorts_) {
    const std::uint32_t id = shard.tag_ids[c.tag];
    if (id == no_tag) continue;
    if (IntervalSummary* s = at(c.first_slot + id)) s->apply(shard.plan, o, shard.tag_ids.data(), slow, t);
  }
}

inline std::int64_t Intake::observe(const Observation& o) {
  if (VIGIL_UNLIKELY(o.cut_values() > 0)) truncated_values_.fetch_add(o.cut_values(), std::memory_order_relaxed);
  const double t = o.has_time() ? o.time() : wall_clock_now();
  if (VIGIL_UNLIKELY(screened(t))) return screen(t, &o);
  return take(o, t);
}

inline std::int64_t Intake::arrive(double t) {
  if (VIGIL_UNLIKELY(screened(t))) return screen(t, nullptr);
  return take_arrival(t);
}

// The end of the monitor's newest interval, or NaN before the first event.
inline double Intake::stream_time() const {
  const std::int64_t global = global_interval_.load(std::memory_order_relaxed);
  return global == IntervalClock::none ? std::numeric_limits<double>::quiet_NaN() : clock_.start(global + 1);
}

// An event beyond the cached bound, or any event while events are held: checked against the
// guard's bound as of now. Within it, the event is taken (and contradicts what is held);
// beyond it, the event is held, and the held events are filed once they prove a clock change.
inline std::int64_t Intake::screen(double t, const Observation* request) {
  {
    std::lock_guard<std::mutex> lock(guard_mutex_);
    const double bound = refresh_bound();
    if (!(t <= bound) && clock_.usable(t)) {
      if (!guard_.hold(t, request, global_interval_.load(std::memory_order_relaxed))) {
        holding_.store(true, std::memory_order_relaxed);
        return IntervalClock::none;
      }
      return adopt_held();
    }
    if (guard_.holding() && clock_.usable(t)) {
      // Counted in the interval of the event that contradicts them, the one being evaluated
      // when they are (unless it is late).
      guard_.refuse_held(std::max(global_interval_.load(std::memory_order_relaxed), clock_.of(t)));
      holding_.store(false, std::memory_order_relaxed);
    }
  }
  return request != nullptr ? take(*request, t) : take_arrival(t);
}

// guard_mutex_ held. Files the held events of an adopted clock change, oldest first; returns
// the newest interval they opened.
inline std::int64_t Intake::adopt_held() {
  std::int64_t opened = IntervalClock::none;
  for (const HeldEvent& e : guard_.adopt(wall_clock_now()))
    opened = std::max(opened, e.request ? take(*e.request, e.time) : take_arrival(e.time));
  holding_.store(false, std::memory_order_relaxed);
  refresh_bound();
  return opened;
}

// guard_mutex_ held. The guard's bound as of now, cached for the request path once the stream
// has begun (before, the first event of a replay may set the bound anywhere).
inline double Intake::refresh_bound() {
  const double stream = stream_time();
  const double bound = guard_.bound(wall_clock_now(), stream);
  if (!std::isnan(stream) || std::isfinite(bound)) future_bound_.store(bound, std::memory_order_relaxed);
  return bound;
}

inline void Intake::refuse_held() {
  std::lock_guard<std::mutex> lock(guard_mutex_);
  guard_.refuse_held(global_interval_.load(std::memory_order_relaxed));
  holding_.store(false, std::memory_order_relaxed);
}

inline std::uint64_t Intake::future_in(std::int64_t k) const {
  std::lock_guard<std::mutex> lock(guard_mutex_);
  return guard_.future_in(k);
}

inline std::int64_t Intake::take(const Observation& o, double t) {
  std::int64_t k = 0;
  bool crossed = false;
  if (!enter(t, k, crossed, bad_time_)) return IntervalClock::none;
  const std::uint64_t answered = explicit_arrivals_.load(std::memory_order_relaxed) ? 1 : 0;
  const bool identified = o.has_id() && labels_;
  const std::uint64_t key = identified ? LabelIntake::key_of(o) : 0;
  record(
      k,
      [&](Shard& shard) {
        ++shard.observed;
        shard.answered += answered;
        shard.latest = std::max(shard.latest, t);
        apply(shard, o, t, [&](std::size_t slot) { return &shard.summaries[slot]; });
        if (identified) labels_->file(o, key, k, t, shard.tag_ids.data(), shard.label_slots.data());
        if (o.has_id() && samples_) samples_->offer(shard.samples, o);
      },
      [&](Shard& shard) {
        shard.latest = std::max(shard.latest, t);
        if (retained_[0].at(t) == nullptr) {
          late_.fetch_add(1, std::memory_order_relaxed);
          return;
        }
        ++shard.observed;
        shard.answered += answered;
        apply(shard, o, t, [&](std::size_t slot) { return retained_[slot].at(t); });
        // As LatencyState records it: a refused latency lands in the histogram's own counts.
        if (o.has_latency()) since_start_.record(o.latency());
        if (identified) labels_->file(o, key, k, t, shard.tag_ids.data(), shard.label_slots.data());
        if (o.has_id() && samples_) samples_->offer_late(o, k);
      });
  return crossed ? k : IntervalClock::none;
}

inline std::int64_t Intake::take_arrival(double t) {
  std::int64_t k = 0;
  bool crossed = false;
  if (!enter(t, k, crossed, bad_arrival_time_)) return IntervalClock::none;
  if (VIGIL_UNLIKELY(!explicit_arrivals_.load(std::memory_order_relaxed)))
    explicit_arrivals_.store(true, std::memory_order_relaxed);
  record(
      k,
      [&](Shard& shard) {
        ++shard.arrived;
        shard.last_arrival = std::max(shard.last_arrival, t);
        ++shard.summaries[0].arrivals;
      },
      [&](Shard& shard) {
        shard.last_arrival = std::max(shard.last_arrival, t);
        if (IntervalSummary* target = retained_[0].at(t)) {
          ++shard.arrived;
          ++target->arrivals;
        } else {
          late_.fetch_add(1, std::memory_order_relaxed);
        }
      });
  return crossed ? k : IntervalClock::none;
}

inline std::uint32_t Intake::cached_tag_id(Shard& shard, std::uint32_t tag, std::string_view value) {
  auto& cache = shard.tag_cache[tag];
  const std::uint64_t h = CategoryCounts::hash(value);
  for (const auto& c : cache)
    if (c.hash == h && c.value == value) return c.id;
  const std::uint32_t other = shard.tag_other[tag];
  if (shard.tag_complete[tag]) return other;
  const std::uint32_t id = tags_.id(tag, value);
  if (id != other) {
    cache.push_back(Shard::CachedValue{h, id, std::string(value)});
  } else {
    cache_all_values(shard, tag);
  }
  return id;
}

// The tag's dictionary is full: cache all of it, after which unknown values need no lock.
inline void Intake::cache_all_values(Shard& shard, std::uint32_t tag) {
  auto& cache = shard.tag_cache[tag];
  const std::vector<std::string> values = tags_.values(tag);
  for (std::uint32_t i = 0; i < values.size(); ++i) {
    bool cached = false;
    for (const auto& c : cache) cached = cached || c.id == i;
    if (!cached) cache.push_back(Shard::CachedValue{CategoryCounts::hash(values[i]), i, values[i]});
  }
  shard.tag_complete[tag] = 1;
}

inline void Intake::resolve_tags(Shard& shard, const Observation& o) {
  for (std::uint32_t t = 0; t < shard.tag_ids.size(); ++t)
    shard.tag_ids[t] = o.has(Tag{t}) ? cached_tag_id(shard, t, o.value(Tag{t})) : no_tag;
}

inline void Intake::flush_shard(Shard& shard) {
  if (shard.interval == IntervalClock::none) return;
  if (samples_) samples_->hand_over(shard.samples, shard.interval);
  const double start = clock_.start(shard.interval);
  bool any = false;
  for (const auto& s : shard.summaries) any = any || !s.empty();
  if (!any) return;
  std::lock_guard<std::mutex> lock(retained_mutex_);
  for (std::size_t slot = 0; slot < shard.summaries.size(); ++slot) {
    IntervalSummary& s = shard.summaries[slot];
    if (s.empty()) continue;
    if (IntervalSummary* target = retained_[slot].at(start)) {
      target->merge(s);
      target->compact();  // retained intervals are merged into, never added to
      if (slot == 0) since_start_.merge(s.state<LatencyFamily>().latency);
    } else {
      late_.fetch_add(s.requests, std::memory_order_relaxed);
    }
    s.clear();
  }
}

inline void Intake::flush_all(std::int64_t before) {
  for (std::size_t i = 0; i <= shard_mask_; ++i) {
    Shard& shard = shards_[i];
    const Maintenance lock(shard);
    if (shard.interval != IntervalClock::none && shard.interval < before) {
      flush_shard(shard);
      shard.interval = before;
    }
  }
}

inline void Intake::advance_time(double t) {
  if (!clock_.usable(t)) return;
  double seen = advanced_time_.load(std::memory_order_relaxed);
  while (t > seen && !advanced_time_.compare_exchange_weak(seen, t, std::memory_order_relaxed)) {
  }
}

inline double Intake::latest_time() const {
  double t = advanced_time_.load(std::memory_order_relaxed);
  for (std::size_t i = 0; i <= shard_mask_; ++i) {
    const Maintenance lock(shards_[i]);
    t = std::max({t, shards_[i].latest, shards_[i].last_arrival});  // arrivals are events too
  }
  return t == -std::numeric_limits<double>::infinity() ? std::numeric_limits<double>::quiet_NaN() : t;
}

inline std::int64_t Intake::close_through(double now) {
  const std::int64_t last_closed = clock_.of(now) - 1;
  flush_all(last_closed + 1);
  std::lock_guard<std::mutex> lock(retained_mutex_);
  for (auto& w : retained_) w.advance(clock_.start(last_closed + 1));
  return last_closed;
}

template <class Fn>
void Intake::visit(std::size_t slot, double start, double end, Fn&& fn) const {
  std::lock_guard<std::mutex> lock(retained_mutex_);
  retained_[slot].for_each([&](const auto& interval) {
    if (interval.start >= start && interval.end <= end && interval.start < interval.end) fn(*interval.sketch);
  });
}

template <class F>
Merged<typename F::State> Intake::merged(std::size_t slot, double start, double end) const {
  Merged<typename F::State> out{0, 0, retained_[slot].prototype().template state<F>()};
  visit(slot, start, end, [&](const IntervalSummary& s) {
    out.requests += s.requests;
    out.arrivals += s.arrivals;
    out.state.merge(s.template state<F>());
  });
  return out;
}

inline std::uint64_t Intake::observed() const {
  std::uint64_t n = 0;
  for (std::size_t i = 0; i <= shard_mask_; ++i) {
    const Maintenance lock(shards_[i]);
    n += shards_[i].observed;
  }
  return n;
}

inline InputCounters Intake::counters() const {
  InputCounters c;
  c.observed = observed();
  c.bad_time = bad_time_.load(std::memory_order_relaxed);
  c.late = late_.load(std::memory_order_relaxed);
  {
    std::lock_guard<std::mutex> lock(guard_mutex_);
    c.future = guard_.future();
    c.clock_changes = guard_.clock_changes();
  }
  c.bad_arrival_time = bad_arrival_time_.load(std::memory_order_relaxed);
  c.truncated_values = truncated_values_.load(std::memory_order_relaxed);
  return c;
}

inline double Intake::last_arrival() const {
  const bool arrivals = explicit_arrivals();
  double t = -std::numeric_limits<double>::infinity();
  for (std::size_t i = 0; i <= shard_mask_; ++i) {
    const Maintenance lock(shards_[i]);
    t = std::max(t, arrivals ? shards_[i].last_arrival : shards_[i].latest);
  }
  return std::isfinite(t) ? t : std::numeric_limits<double>::quiet_NaN();
}

inline std::int64_t Intake::in_flight() const {
  if (!explicit_arrivals()) return 0;
  std::int64_t n = 0;
  for (std::size_t i = 0; i <= shard_mask_; ++i) {
    const Maintenance lock(shards_[i]);
    n += static_cast<std::int64_t>(shards_[i].arrived) - static_cast<std::int64_t>(shards_[i].answered);
  }
  return n;
}

inline double Intake::arrivals_in(std::int64_t k) const {
  const bool arrivals = explicit_arrivals();
  const double start = clock_.start(k);
  double count = std::numeric_limits<double>::quiet_NaN();
  std::lock_guard<std::mutex> lock(retained_mutex_);
  retained_[0].for_each([&](const auto& interval) {
    if (interval.start == start && interval.end - interval.start <= clock_.width * 1.5)
      count = static_cast<double>(arrivals ? interval.sketch->arrivals : interval.sketch->requests);
  });
  return count;
}

inline std::size_t Intake::memory_bytes() const {
  std::size_t bytes = sizeof(*this) + tags_.memory_bytes() - sizeof(tags_);
  if (labels_) bytes += sizeof(LabelIntake) + labels_->memory_bytes();
  if (samples_) bytes += sizeof(LabelSampler) + samples_->memory_bytes();
  for (std::size_t i = 0; i <= shard_mask_; ++i) {
    const Shard& shard = shards_[i];
    const Maintenance lock(shard);
    bytes += sizeof(Shard) - sizeof(shard.plan) + shard.plan.memory_bytes() +
             shard.label_slots.capacity() * sizeof(std::uint32_t) + shard.samples.memory_bytes();
    for (const auto& s : shard.summaries) bytes += s.memory_bytes();
  }
  {
    std::lock_guard<std::mutex> guard_lock(guard_mutex_);
    bytes += guard_.memory_bytes() - sizeof(guard_);
  }
  std::lock_guard<std::mutex> lock(retained_mutex_);
  bytes += since_start_.memory_bytes() - sizeof(since_start_);
  for (const auto& w : retained_) {
    // Every interval exists from the start as a copy of the prototype; those in use may hold
    // more (digests grow).
    const std::size_t base = w.prototype().memory_bytes();
    bytes += base * w.sketch_count();
    w.for_each([&](const auto& interval) {
      const std::size_t used = interval.sketch->memory_bytes();
      if (used > base) bytes += used - base;
    });
  }
  return bytes;
}

inline TagRemap Intake::merge(Intake& other, const MonitorPlan& plan) {
  const std::int64_t theirs = other.global_interval_.load(std::memory_order_relaxed);
  if (theirs != IntervalClock::none) other.flush_all(theirs + 1);
  const TagRemap remap = tags_.merge(other.tags_);
  const bool moved = !remap.identity();
  {
    const Maintenance lock(shards_[0]);
    Shard& mine = shards_[0];
    for (std::size_t i = 0; i <= other.shard_mask_; ++i) {
      const Maintenance their_lock(other.shards_[i]);
      const Shard& s = other.shards_[i];
      mine.observed += s.observed, mine.arrived += s.arrived, mine.answered += s.answered;
      mine.latest = std::max(mine.latest, s.latest), mine.last_arrival = std::max(mine.last_arrival, s.last_arrival);
    }
  }
  {
    std::lock_guard<std::mutex> lock(retained_mutex_);
    std::lock_guard<std::mutex> their_lock(other.retained_mutex_);
    for (std::size_t slot = 0; slot < other.retained_.size(); ++slot) {
      retained_[tags_.slot_of(slot, remap)].merge(other.retained_[slot], [&](IntervalSummary& into, const IntervalSummary& from) {
        if (from.empty()) return;
        if (!moved) {
          into.merge(from);
        } else {
          IntervalSummary copy = from;
          copy.remap(plan, remap);
          into.merge(copy);
        }
        into.compact();
      });
    }
    since_start_.merge(other.since_start_);
  }
  merge_clock(other);
  return remap;
}

inline void Intake::merge_clock(const Intake& other) {
  const auto later = [](auto& mine, const auto& theirs) {
    const auto t = theirs.load(std::memory_order_relaxed);
    if (t > mine.load(std::memory_order_relaxed)) mine.store(t, std::memory_order_relaxed);
  };
  later(global_interval_, other.global_interval_);
  later(advanced_time_, other.advanced_time_);
  const std::int64_t first = other.first_interval();
  if (first != IntervalClock::none && (first_interval() == IntervalClock::none || first < first_interval()))
    first_interval_.store(first, std::memory_order_relaxed);
  if (other.explicit_arrivals()) explicit_arrivals_.store(true, std::memory_order_relaxed);
  for (auto [mine, theirs] : {std::pair{&bad_time_, &other.bad_time_}, std::pair{&late_, &other.late_},
                              std::pair{&bad_arrival_time_, &other.bad_arrival_time_},
                              std::pair{&truncated_values_, &other.truncated_values_}})
    mine->fetch_add(theirs->load(std::memory_order_relaxed), std::memory_order_relaxed);
  std::lock_guard<std::mutex> lock(guard_mutex_);
  std::lock_guard<std::mutex> their_lock(other.guard_mutex_);
  guard_.add_counts(other.guard_);
}

inline void Intake::save_clock(io::Writer& w) const {
  w.i64(global_interval_.load(std::memory_order_relaxed));
  w.i64(first_interval_.load(std::memory_order_relaxed));
  save_bool(w, explicit_arrivals_.load(std::memory_order_relaxed));
  w.f64(slow_threshold_.load(std::memory_order_relaxed));
  w.f64(advanced_time_.load(std::memory_order_relaxed));
  for (const auto* c : {&bad_time_, &late_, &bad_arrival_time_, &truncated_values_})
    w.varint(c->load(std::memory_order_relaxed));
}

inline void Intake::load_clock(io::Reader& r) {
  const std::int64_t global = r.i64(), first = r.i64();
  if ((global == IntervalClock::none) != (first == IntervalClock::none) || first > global)
    r.fail("the first interval (" + std::to_string(first) + ") is after the newest (" + std::to_string(global) + ")");
  if (global != IntervalClock::none && !clock_.usable(clock_.start(global)))
    r.fail("the newest interval " + std::to_string(global) + " is outside the usable time");
  global_interval_.store(global, std::memory_order_relaxed);
  first_interval_.store(first, std::memory_order_relaxed);
  explicit_arrivals_.store(load_bool(r, "explicit arrivals"), std::memory_order_relaxed);
  const double slow = r.f64();
  if (!(std::isnan(slow) || slow >= 0)) r.fail("the slow-request threshold is negative");
  slow_threshold_.store(slow, std::memory_order_relaxed);
  const double advanced = r.f64();
  if (std::isnan(advanced) || advanced == std::numeric_limits<double>::infinity())
    r.fail("the time advanced to is not a time");
  advanced_time_.store(advanced, std::memory_order_relaxed);
  for (auto* c : {&bad_time_, &late_, &bad_arrival_time_, &truncated_values_}) c->store(r.varint(), std::memory_order_relaxed);
}

// Every shard's lock held. The shards' counters add up; their open intervals (all the
// newest interval once it began: an older one is handed over first) merge into one.
inline void Intake::save_open(io::Writer& w) {
  std::uint64_t observed = 0, arrived = 0, answered = 0;
  double latest = -std::numeric_limits<double>::infinity(), last_arrival = latest;
  std::int64_t open = IntervalClock::none;
  for (std::size_t i = 0; i <= shard_mask_; ++i) open = std::max(open, shards_[i].interval);
  for (std::size_t i = 0; i <= shard_mask_; ++i) {
    Shard& shard = shards_[i];
    if (shard.interval != IntervalClock::none && shard.interval < open) {
      flush_shard(shard);
      shard.interval = open;
    }
    observed += shard.observed, arrived += shard.arrived, answered += shard.answered;
    latest = std::max(latest, shard.latest), last_arrival = std::max(last_arrival, shard.last_arrival);
  }
  w.u64(observed), w.u64(arrived), w.u64(answered), w.f64(latest), w.f64(last_arrival), w.i64(open);
  const std::size_t slots = tags_.slot_count();
  w.varint(slots);
  for (std::size_t slot = 0; slot < slots; ++slot) {
    // One shard's summary as it is (its digests continue bit for bit); several merged.
    std::vector<const IntervalSummary*> held;
    for (std::size_t i = 0; i <= shard_mask_; ++i)
      if (shards_[i].interval == open && !shards_[i].summaries[slot].empty()) held.push_back(&shards_[i].summaries[slot]);
    save_bool(w, !held.empty());
    if (held.size() == 1) save_nested(w, *held[0]);
    if (held.size() < 2) continue;
    IntervalSummary merged = *held[0];
    for (std::size_t k = 1; k < held.size(); ++k) merged.merge(*held[k]);
    save_nested(w, merged);
  }
  save_bool(w, samples_ != nullptr);
  if (!samples_) return;
  IntervalSamples samples;
  for (std::size_t i = 0; i <= shard_mask_; ++i)
    if (shards_[i].interval == open && shards_[i].samples.allocated()) {
      if (!samples.allocated()) samples = shards_[i].samples;
      else samples.merge(shards_[i].samples);
    }
  samples.save(w);
}

inline void Intake::load_open(io::Reader& r, const MonitorPlan& plan) {
  Shard& shard = shards_[shard_hint() & shard_mask_];
  const Maintenance lock(shard);
  shard.observed = r.u64(), shard.arrived = r.u64(), shard.answered = r.u64();
  shard.latest = r.f64(), shard.last_arrival = r.f64();
  if (std::isnan(shard.latest) || std::isnan(shard.last_arrival)) r.fail("the latest event time is NaN");
  // Answers may outnumber arrivals (requests observed before arrivals were counted, arrivals
  // refused as late): the counters are not compared. The open interval may lie past the
  // newest event's, where report(now) or finish() moved the shards on.
  shard.interval = r.i64();
  const double known = std::max({advanced_time_.load(std::memory_order_relaxed), shard.latest, shard.last_arrival});
  const std::int64_t newest = std::max(global_interval_.load(std::memory_order_relaxed),
                                       clock_.usable(known) ? clock_.of(known) : IntervalClock::none);
  if (shard.interval > newest) r.fail("the open interval is after the latest time the monitor knows");
  load_expected(r, tags_.slot_count(), "open interval's slots");
  for (std::size_t slot = 0; slot < shard.summaries.size(); ++slot) {
    if (!load_bool(r, "open slot")) continue;
    if (shard.interval == IntervalClock::none) r.fail("data in an open interval that never began");
    shard.summaries[slot] = load_nested(r, [&](const void* p, std::size_t n) { return IntervalSummary::deserialize(p, n, plan); });
  }
  if (load_bool(r, "samples to label") != (samples_ != nullptr))
    r.fail("samples to label are picked on one side only (MonitorOptions::label_samples or the schema's outputs differ)");
  if (samples_) shard.samples.load(r, samples_->rule());
}

inline void Intake::save_retained(io::Writer& w) const {
  w.varint(retained_.size());
  for (const auto& windows : retained_) save_nested(w, windows);
  save_nested(w, since_start_);
}

inline void Intake::load_retained(io::Reader& r, const MonitorPlan& plan) {
  load_expected(r, retained_.size(), "retained slots");
  const auto read = [&](const void* p, std::size_t n) { return IntervalSummary::deserialize(p, n, plan); };
  for (auto& windows : retained_) {
    auto loaded = load_nested(r, [&](const void* p, std::size_t n) {
      return TimeWindows<IntervalSummary>::deserialize(p, n, read);
    });
    const TimeWindowsOptions &a = loaded.options(), &b = windows.options();
    if (a.fine_width != b.fine_width || a.fine_count != b.fine_count || a.coarse_width != b.coarse_width ||
        a.coarse_count != b.coarse_count || a.lateness != b.lateness)
      r.fail("retained windows of other widths or counts than the options give");
    windows = std::move(loaded);
  }
  LogHistogram since = load_nested<LogHistogram>(r);
  if (!(since.options() == since_start_.options())) r.fail("the latency histogram since start has other options");
  since_start_ = std::move(since);
}

inline void Intake::save(io::Writer& w) {
  std::lock_guard<std::mutex> guard_lock(guard_mutex_);
  save_clock(w);
  tags_.save(w);
  guard_.save(w);
  std::vector<std::unique_ptr<Maintenance>> locks;
  for (std::size_t i = 0; i <= shard_mask_; ++i) locks.push_back(std::make_unique<Maintenance>(shards_[i]));
  save_open(w);
  save_bool(w, labels_ != nullptr);
  if (labels_) labels_->save(w);
  if (samples_) samples_->save(w);
  std::lock_guard<std::mutex> lock(retained_mutex_);
  save_retained(w);
}

inline void Intake::load(io::Reader& r, const MonitorPlan& plan, const Schema& schema) {
  std::lock_guard<std::mutex> guard_lock(guard_mutex_);
  load_clock(r);
  tags_.load(r);
  guard_.load(r, schema);
  holding_.store(guard_.holding(), std::memory_order_relaxed);
  load_open(r, plan);
  if (load_bool(r, "label store") != (labels_ != nullptr))
    r.fail("labels are joined on one side only (the schema's outputs or MonitorOptions::conversion_arm differ)");
  if (labels_) labels_->load(r);
  if (samples_) samples_->load(r);
  std::lock_guard<std::mutex> lock(retained_mutex_);
  load_retained(r, plan);
}

}  // namespace detail
}  // namespace vigil

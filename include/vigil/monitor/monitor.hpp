// vigil — in-process monitoring of machine-learning models in C++ inference servers.
// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "vigil/error.hpp"
#include "vigil/model/rate_predictor.hpp"
#include "vigil/monitor/alerts.hpp"
#include "vigil/monitor/detail/summary.hpp"
#include "vigil/monitor/features.hpp"
#include "vigil/monitor/latency.hpp"
#include "vigil/monitor/observation.hpp"
#include "vigil/monitor/profile.hpp"
#include "vigil/monitor/report.hpp"
#include "vigil/monitor/schema.hpp"
#include "vigil/monitor/scores.hpp"
#include "vigil/monitor/traffic.hpp"
#include "vigil/sketch/time_windows.hpp"
#include "vigil/stats/multiple_testing.hpp"

namespace vigil {
namespace detail {
/// The lock of a Monitor shard: an atomic exchange to take, a store to release. A shard is
/// held for one request's worth of work (a fraction of a microsecond), and threads rarely
/// meet on one (they move to a free shard), so spinning, then yielding, beats a futex.
class SpinLock {
 public:
  void lock() noexcept {
    int spins = 0;
    while (locked_.exchange(true, std::memory_order_acquire)) {
      while (locked_.load(std::memory_order_relaxed))
        if (++spins > 100) std::this_thread::yield();
    }
  }
  bool try_lock() noexcept {
    return !locked_.load(std::memory_order_relaxed) && !locked_.exchange(true, std::memory_order_acquire);
  }
  void unlock() noexcept { locked_.store(false, std::memory_order_release); }

 private:
  std::atomic<bool> locked_{false};
};
}  // namespace detail

/// How a Monitor cuts time and judges it. Times are in seconds.
struct MonitorOptions {
  /// Length of an interval: the unit of short-term comparison and of alert persistence.
  double interval = 60;
  /// Fine intervals retained (the trailing background lives here): one hour by default.
  std::size_t fine_intervals = 60;
  /// Roll-up interval for older history, a whole multiple of `interval`.
  double coarse_interval = 3600;
  /// Coarse intervals retained: 7 days by default.
  std::size_t coarse_intervals = 168;
  /// The latest this many intervals are "recent", compared with the background.
  std::size_t recent_intervals = 1;
  /// The trailing background: this many seconds before the recent intervals.
  double background = 3600;
  /// Long-term drift is judged over this many seconds (capped by retention).
  double long_horizon = 24 * 3600;
  /// Events older than this many seconds before the start of the newest interval are
  /// counted late, not used.
  double lateness = 120;
  /// Bins per numeric feature, at the training profile's percentiles.
  std::size_t numeric_bins = 50;
  /// Shards of per-thread state; 0 picks the next power of two ≥ hardware threads.
  std::size_t shards = 0;
  /// Evaluate closed intervals (and fire alert callbacks) inside observe() as soon as event
  /// time passes their end, rather than at the next report(). Right for log replay; a server
  /// usually leaves this off so that no request pays for an evaluation.
  bool evaluate_in_observe = false;
  /// Latency: the latest this many seconds (whole intervals, at least one) are compared with
  /// the `latency_background` seconds before them (capped by retention).
  double latency_window = 300;
  double latency_background = 24 * 3600;
  /// Latency in seconds above which a request counts as slow for attribution; NaN: the
  /// background's p99 as of the latest evaluation (before the first, nothing is slow).
  double slow_threshold = std::numeric_limits<double>::quiet_NaN();
  /// The arrival-rate predictor (its interval is set to `interval`).
  RatePredictorOptions rate;
  AlertPolicy alerts;
};

/// Watches a model in production: call observe() once per request, inline, from any number
/// of server threads; poll report() from the health check.
///
/// observe() files the request into the current interval of its thread's shard: bins at the
/// training percentiles per numeric feature, counts per category, a t-digest per output,
/// latency and status. Shards are merged into retained intervals (fine, then rolled up) when
/// event time passes an interval's end. report() evaluates every interval closed since the
/// last call, in event-time order — statistics, Benjamini-Hochberg correction, the alert
/// state machine — and returns a Report that owns its data.
///
/// **Threads**: observe() takes a shard's lock (a spin lock; a thread whose shard is busy
/// moves to a free one and stays there) and, once per interval, the retention lock; report() takes each shard's lock
/// briefly, then works on copies. Alert callbacks run on the thread that evaluates.
///
/// **Memory**: per retained interval (fine_intervals + coarse_intervals + 2, per cohort value
/// too) 8 bytes per bin (numeric_bins + 2 per numeric feature, one per training category + 1
/// per categorical feature, 10 per output, classes + 1 per output) plus 16 bytes per numeric
/// feature, a t-digest at δ = 50 per output (≈ 1.6 KB), a latency histogram and 16 bytes
/// per tag value (max_values + 1 per tag); the same again per shard; the plan derived from
/// the profile, once (≈ 4 KB per numeric feature at 50 bins: edges, reference shares and a
/// bin locator of 0.5–8 KB, ≈ 1.2 KB typical), plus per shard a copy of what the request
/// path reads (edges and grid cells, 8 and 4 bytes each: ≈ 1.1 KB per numeric feature); and
/// the rate predictor (16 bytes per interval of its history: 163 KB for 7 days of minutes).
/// 96 numeric + 4 categorical features and a score at the defaults, one shard: ≈ 12.9 MB.
///
/// **Bad input**: observations of another schema throw vigil::invalid_argument; NaN event
/// times, late events, NaN feature values and negative latencies are counted (see
/// Report::counters and FeatureReport), never thrown.
class Monitor {
 public:
  using AlertCallback = std::function<void(const Alert&)>;

  Monitor(Schema schema, Profile profile, MonitorOptions options = {});
  Monitor(const Monitor&) = delete;
  Monitor& operator=(const Monitor&) = delete;

  /// Files one request. Thread-safe; no heap allocation in steady state.
  void observe(const Observation& observation);

  /// Counts a request's arrival, before the model answers it, at event time `unix_seconds`
  /// (or now). Once a monitor has seen an arrival, the traffic report compares arrivals with
  /// their predicted rate and completions (observe()) with arrivals, so a server that stops
  /// answering is told apart from one that is not asked; until then every observed request
  /// counts as its own arrival. Thread-safe, no allocation. A NaN or infinite time is
  /// counted (InputCounters::bad_arrival_time), a late one in InputCounters::late.
  void on_arrival(double unix_seconds);
  void on_arrival();

  /// Evaluates every interval that ended at or before the latest event time and returns the
  /// report as of then.
  Report report();
  /// The same, with event time advanced to `now` first (a quiet stream still closes its
  /// intervals).
  Report report(double now);
  /// The end of a recorded stream (a log replay): evaluates every interval up to and including
  /// the one holding the latest event, as if time had moved on to its end, and returns the
  /// report then. Unlike report(now), the time after the last event is not judged as a
  /// silence: the log ended, not the traffic.
  Report finish();
  /// Evaluates closed intervals (firing callbacks) without building a report.
  void evaluate();
  void evaluate(double now);

  /// Called with every alert transition (raised, escalated, resolved), in event-time order.
  void on_alert(AlertCallback callback) {
    std::lock_guard<std::mutex> lock(evaluation_mutex_);
    callbacks_.push_back(std::move(callback));
  }

  /// Called with the report of every interval as it is evaluated, in event-time order, on the
  /// thread that evaluates (inside observe() when MonitorOptions::evaluate_in_observe is set).
  using IntervalCallback = std::function<void(const Report&)>;
  void on_interval(IntervalCallback callback) {
    std::lock_guard<std::mutex> lock(evaluation_mutex_);
    interval_callbacks_.push_back(std::move(callback));
  }

  const Schema& schema() const { return schema_; }
  const Profile& profile() const { return profile_; }
  const MonitorOptions& options() const { return options_; }
  /// Bytes allocated by the monitor's summaries: every shard's open interval and every
  /// retained interval (the bound in the class comment). O(intervals); takes the locks.
  std::size_t memory_bytes() const;

  /// Requests accepted so far.
  std::uint64_t observed() const;
  /// Latest event time seen, or passed to report(now) (NaN before either).
  double latest_time() const;

 private:
  static constexpr std::int64_t no_interval = std::numeric_limits<std::int64_t>::min();

  // A shard fills whole 128-byte blocks and ends with a line no one touches. A core that
  // reads the last line it uses of its shard makes the hardware prefetch the next line (and
  // on Intel the other line of the 128-byte pair); that must not be the next shard's first
  // line, which another thread writes on every request (docs/benchmarks.md has the figures).
  // The 64 guard bytes after the last member, with the size rounded up to 128, always leave
  // at least one whole line untouched at the end, and the next shard starts a new pair.
  struct alignas(2 * detail::cache_line) Shard {
    mutable detail::SpinLock mutex;
    // Set while the monitor's own upkeep (hand-over, counters, report) holds `mutex`.
    mutable std::atomic<bool> maintained{false};
    std::int64_t interval = no_interval;
    std::uint64_t observed = 0;
    double latest = -std::numeric_limits<double>::infinity();
    std::uint64_t arrived = 0;
    std::uint64_t answered = 0;  // completions since the monitor first saw an arrival
    double last_arrival = -std::numeric_limits<double>::infinity();
    detail::LineVector<detail::IntervalSummary> summaries;  // slot 0: everything; then cohort values
    // Per tag, the values this shard has resolved to ids (at most max_values), so the request
    // path takes no global lock for a known value; `complete` once the tag's dictionary is
    // full and every value of it is cached (any other value is then "other").
    struct CachedValue {
      std::uint64_t hash;
      std::uint32_t id;
      std::string value;
    };
    std::vector<std::vector<CachedValue>> tag_cache;
    std::vector<std::uint8_t> tag_complete;
    std::vector<std::uint32_t> tag_ids;  // scratch: the current request's value ids
    // This shard's copy of what the request path reads (MonitorPlan::request_path()), so
    // that each core reads lines of its own: two threads reading one shared plan scaled
    // markedly worse in the benchmark (docs/benchmarks.md).
    detail::MonitorPlan plan;
    unsigned char guard[detail::cache_line];  // never read or written (see above)
  };
  struct CohortTag {
    std::uint32_t tag;
    std::size_t first_slot;  // slot of value 0; values beyond max_values share the last slot
  };

  std::int64_t interval_of(double t) const { return static_cast<std::int64_t>(std::floor(t / options_.interval)); }
  // Finite, and few enough intervals from the epoch to number them: NaN, ±inf and absurd
  // times (say 1e300) are bad times, not undefined behaviour.
  bool usable_time(double t) const { return std::fabs(t / options_.interval) < 1e15; }
  double start_of(std::int64_t k) const { return static_cast<double>(k) * options_.interval; }
  // The shard this thread used last: a hint shared by every Monitor, starting the threads
  // of a process on different shards.
  static std::size_t& shard_hint() {
    static std::atomic<std::size_t> next{0};
    thread_local std::size_t hint = next.fetch_add(1, std::memory_order_relaxed);
    return hint;
  }
  // Locks a shard for this thread: its own if free, else the next free one, which becomes
  // its own when another request held the first, so two threads that happen to share a
  // shard part after one collision. A shard held by the monitor's upkeep is free again in
  // microseconds: the thread borrows another for this request and keeps its own (moving
  // would make two threads trade shards, and their data between cores, at every hand-over).
  Shard& lock_shard() {
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
  // A shard's lock held for upkeep rather than a request (see lock_shard).
  class Maintenance {
   public:
    explicit Maintenance(const Shard& shard) : shard_(shard) {
      shard_.mutex.lock();
      shard_.maintained.store(true, std::memory_order_relaxed);
    }
    ~Maintenance() {
      shard_.maintained.store(false, std::memory_order_relaxed);
      shard_.mutex.unlock();
    }
    Maintenance(const Maintenance&) = delete;
    Maintenance& operator=(const Maintenance&) = delete;

   private:
    const Shard& shard_;
  };
  void check_shape(const Observation& o) const;
  // Event time `t` enters: bad and late times are counted (false); the first event of an
  // interval hands the older ones to retention (crossed). Returns the interval.
  bool enter(double t, std::int64_t& k, bool& crossed, std::atomic<std::uint64_t>& bad_counter);
  // Records an event of interval k (from enter()) in this thread's shard: `current(shard)`
  // when k is the shard's open interval (an older one it held goes to retention first),
  // else `handed_over(shard)` under the retention lock, for an event of an interval the
  // shard already handed over. Then evaluates what the event closed, if it crossed.
  template <class Current, class HandedOver>
  void record(std::int64_t k, bool crossed, Current&& current, HandedOver&& handed_over);
  std::uint32_t tag_id(std::uint32_t tag, std::string_view value);  // takes tag_mutex_
  std::uint32_t cached_tag_id(Shard& shard, std::uint32_t tag, std::string_view value);
  void resolve_tags(Shard& shard, const Observation& o);
  void apply(Shard& shard, const Observation& o);
  void flush_shard(Shard& shard);  // shard lock held
  void flush_all(std::int64_t before);
  void advance_time(double t);
  void run_evaluations(double now, Report* report, bool live = true);
  // Counters, open alerts and every section's status, as of report->time.
  void describe_alerts(Report* report, const TrafficReport& silence);
  std::vector<Alert> evaluate_interval(std::int64_t k, Report* report, bool update_alerts);
  void analyze(std::size_t slot, double recent_start, double recent_end, double horizon_start, double background_start,
               std::vector<FeatureReport>& features, std::vector<OutputReport>& outputs, std::uint64_t& recent_requests,
               std::uint64_t& horizon_requests, std::uint64_t& horizon_bad_latency,
               TrafficReport* traffic = nullptr) const;
  // The latency figures of one slot over [window_start, end) against [background_start,
  // window_start), with slow-request attribution by every tag.
  void analyze_latency(std::size_t slot, double background_start, double window_start, double end,
                       const std::vector<std::vector<std::string>>& tag_values, LatencyReport& r) const;
  // Arrivals of fine interval k from retention, or NaN when it is no longer held at fine
  // resolution.
  double arrivals_in(std::int64_t k) const;
  void feed_rate(std::int64_t k);  // intervals not yet given to the predictor, through k
  double last_arrival() const;
  std::int64_t in_flight() const;

  Schema schema_;
  Profile profile_;
  MonitorOptions options_;
  detail::MonitorPlan plan_;
  std::vector<CohortTag> cohorts_;
  std::vector<std::vector<std::string>> tag_values_;  // per tag, interned values; tag_mutex_
  std::vector<std::size_t> cohort_of_tag_;            // per tag, its cohort or npos
  std::size_t slot_count_ = 1;
  std::vector<std::string> slot_names_;  // "tag=value" per slot (slot 0: "")
  std::unique_ptr<Shard[]> shards_;
  std::size_t shard_mask_ = 0;

  // On a line after the fields above, which every request reads.
  alignas(64) std::mutex tag_mutex_;  // guards tag_values_ and slot_names_
  mutable std::mutex retained_mutex_;  // guards retained_; taken after a shard lock, never before
  std::vector<TimeWindows<detail::IntervalSummary>> retained_;

  // Read by every request and written about once per interval: a cache line of their own,
  // so that the writes below (counters of rare events, locks) never take it away from the
  // cores that read it.
  alignas(64) std::atomic<std::int64_t> global_interval_{no_interval};
  std::atomic<bool> explicit_arrivals_{false};
  std::atomic<double> slow_threshold_{std::numeric_limits<double>::quiet_NaN()};

  // Shared counters touched only by rare events; per-request figures live in the shards so
  // that threads do not bounce a cache line.
  alignas(64) std::atomic<std::uint64_t> bad_time_{0};
  std::atomic<std::uint64_t> late_{0};
  std::atomic<std::uint64_t> bad_arrival_time_{0};
  std::atomic<double> advanced_time_{-std::numeric_limits<double>::infinity()};

  std::mutex evaluation_mutex_;  // guards everything below; never taken under a shard lock
  detail::AlertTracker tracker_;
  std::vector<AlertCallback> callbacks_;
  std::vector<IntervalCallback> interval_callbacks_;
  std::int64_t evaluated_through_ = no_interval;  // last interval evaluated
  std::uint64_t skipped_evaluations_ = 0;
  std::vector<Alert> pending_transitions_;
  RatePredictor rate_;
  std::int64_t rate_fed_through_ = no_interval;  // last interval given to rate_
  std::int64_t partial_interval_ = no_interval;  // where a finished log ended
  TrafficReport traffic_;                       // figures of the latest evaluated interval
};

inline Monitor::Monitor(Schema schema, Profile profile, MonitorOptions options)
    : schema_(std::move(schema)),
      profile_(std::move(profile)),
      options_(options),
      tracker_(options.alerts),
      rate_([&] {
        RatePredictorOptions r = options.rate;
        r.interval = options.interval;
        return r;
      }()) {
  profile_.check(schema_);
  profile_.compact();
  const auto fail = [](const std::string& what) { detail::throw_invalid_argument("MonitorOptions: " + what); };
  if (!(options_.interval > 0) || !std::isfinite(options_.interval)) fail("interval must be positive");
  if (options_.fine_intervals < 2) fail("fine_intervals must be at least 2");
  if (options_.recent_intervals < 1 || options_.recent_intervals >= options_.fine_intervals)
    fail("recent_intervals must be at least 1 and below fine_intervals");
  if (!(options_.background >= 0)) fail("background must not be negative");
  if (options_.numeric_bins < 2 || options_.numeric_bins > 1000) fail("numeric_bins must be in [2, 1000]");
  if (!(options_.lateness >= 0) || options_.lateness > options_.interval * static_cast<double>(options_.fine_intervals - 1))
    fail("lateness must be in [0, (fine_intervals - 1) * interval]");
  if (!(options_.latency_window > 0) || !(options_.latency_background > 0))
    fail("latency_window and latency_background must be positive");
  if (!std::isnan(options_.slow_threshold) && !(options_.slow_threshold >= 0 && std::isfinite(options_.slow_threshold)))
    fail("slow_threshold must be NaN (automatic) or a non-negative number of seconds");
  plan_ = detail::make_plan(schema_, profile_, options_.numeric_bins);

  slot_names_.push_back("");
  tag_values_.resize(schema_.tag_count());
  cohort_of_tag_.assign(schema_.tag_count(), static_cast<std::size_t>(-1));
  for (std::uint32_t t = 0; t < schema_.tag_count(); ++t) {
    const TagOptions& to = schema_.options(Tag{t});
    tag_values_[t].reserve(to.max_values);
    if (!to.cohort) continue;
    cohort_of_tag_[t] = cohorts_.size();
    cohorts_.push_back(CohortTag{t, slot_count_});
    slot_count_ += to.max_values + 1;  // the last one is "other"
    for (std::size_t v = 0; v <= to.max_values; ++v) slot_names_.push_back("");
  }
  slow_threshold_.store(options_.slow_threshold);

  std::size_t shards = options_.shards;
  if (shards == 0) shards = std::max<std::size_t>(1, std::thread::hardware_concurrency());
  std::size_t pow2 = 1;
  while (pow2 < shards) pow2 *= 2;
  shards_.reset(new Shard[pow2]);
  shard_mask_ = pow2 - 1;
  const detail::IntervalSummary prototype(plan_);
  for (std::size_t s = 0; s < pow2; ++s) {
    shards_[s].summaries.assign(slot_count_, prototype);
    shards_[s].plan = plan_.request_path();
    shards_[s].tag_cache.resize(schema_.tag_count());
    for (std::uint32_t t = 0; t < schema_.tag_count(); ++t)
      shards_[s].tag_cache[t].reserve(schema_.options(Tag{t}).max_values);
    shards_[s].tag_complete.assign(schema_.tag_count(), 0);
    shards_[s].tag_ids.assign(schema_.tag_count(), detail::IntervalSummary::no_tag);
  }

  TimeWindowsOptions windows;
  windows.fine_width = options_.interval;
  windows.fine_count = options_.fine_intervals;
  windows.coarse_width = options_.coarse_interval;
  windows.coarse_count = options_.coarse_intervals;
  // Shards hand over an interval when the next one starts, so retention accepts any fine
  // interval; the Monitor applies its own lateness to incoming events.
  windows.lateness = options_.interval * static_cast<double>(options_.fine_intervals - 1);
  retained_.reserve(slot_count_);
  for (std::size_t s = 0; s < slot_count_; ++s) retained_.emplace_back(prototype, windows);
}

inline void Monitor::check_shape(const Observation& o) const {
  const Schema& s = o.schema();
  if (VIGIL_UNLIKELY(&s != &schema_ &&
                     (s.numeric_count() != schema_.numeric_count() || s.categorical_count() != schema_.categorical_count() ||
                      s.output_count() != schema_.output_count() || s.tag_count() != schema_.tag_count())))
    detail::throw_invalid_argument("Monitor::observe: the observation was made for another schema");
}

inline std::uint32_t Monitor::tag_id(std::uint32_t tag, std::string_view value) {
  std::lock_guard<std::mutex> lock(tag_mutex_);
  auto& values = tag_values_[tag];
  const std::size_t max_values = plan_.tag_max_values[tag];
  const std::size_t cohort = cohort_of_tag_[tag];
  for (std::size_t i = 0; i < values.size(); ++i)
    if (values[i] == value) return static_cast<std::uint32_t>(i);
  if (values.size() < max_values) {
    values.emplace_back(value);
    if (cohort != static_cast<std::size_t>(-1))
      slot_names_[cohorts_[cohort].first_slot + values.size() - 1] = schema_.name(Tag{tag}) + "=" + std::string(value);
    return static_cast<std::uint32_t>(values.size() - 1);
  }
  if (cohort != static_cast<std::size_t>(-1)) {
    std::string& other = slot_names_[cohorts_[cohort].first_slot + max_values];
    if (other.empty()) other = schema_.name(Tag{tag}) + "=other";  // named once, not per request
  }
  return static_cast<std::uint32_t>(max_values);
}

inline std::uint32_t Monitor::cached_tag_id(Shard& shard, std::uint32_t tag, std::string_view value) {
  auto& cache = shard.tag_cache[tag];
  const std::uint64_t h = CategoryCounts::hash(value);
  for (const auto& c : cache)
    if (c.hash == h && c.value == value) return c.id;
  const auto other = static_cast<std::uint32_t>(shard.plan.tag_max_values[tag]);
  if (shard.tag_complete[tag]) return other;
  const std::uint32_t id = tag_id(tag, value);
  if (id != other) {
    cache.push_back(Shard::CachedValue{h, id, std::string(value)});
  } else {
    // The dictionary is full: cache all of it, after which unknown values need no lock.
    std::lock_guard<std::mutex> lock(tag_mutex_);
    const auto& values = tag_values_[tag];
    for (std::uint32_t i = 0; i < values.size(); ++i) {
      bool cached = false;
      for (const auto& c : cache) cached = cached || c.id == i;
      if (!cached) cache.push_back(Shard::CachedValue{CategoryCounts::hash(values[i]), i, values[i]});
    }
    shard.tag_complete[tag] = 1;
  }
  return id;
}

inline void Monitor::resolve_tags(Shard& shard, const Observation& o) {
  for (std::uint32_t t = 0; t < shard.tag_ids.size(); ++t)
    shard.tag_ids[t] = o.has(Tag{t}) ? cached_tag_id(shard, t, o.value(Tag{t})) : detail::IntervalSummary::no_tag;
}

inline void Monitor::apply(Shard& shard, const Observation& o) {
  const double slow = slow_threshold_.load(std::memory_order_relaxed);
  // Tag ids serve latency attribution and cohorts only.
  if (!shard.tag_ids.empty() && (o.has_latency() || !cohorts_.empty())) resolve_tags(shard, o);
  shard.summaries[0].apply(shard.plan, o, shard.tag_ids.data(), slow);
  for (const CohortTag& c : cohorts_) {
    const std::uint32_t id = shard.tag_ids[c.tag];
    if (id != detail::IntervalSummary::no_tag)
      shard.summaries[c.first_slot + id].apply(shard.plan, o, shard.tag_ids.data(), slow);
  }
}

inline void Monitor::flush_shard(Shard& shard) {
  if (shard.interval == no_interval) return;
  const double start = start_of(shard.interval);
  bool any = false;
  for (const auto& s : shard.summaries) any = any || !s.empty();
  if (!any) return;
  std::lock_guard<std::mutex> lock(retained_mutex_);
  for (std::size_t slot = 0; slot < slot_count_; ++slot) {
    detail::IntervalSummary& s = shard.summaries[slot];
    if (s.empty()) continue;
    if (detail::IntervalSummary* target = retained_[slot].at(start)) {
      target->merge(s);
      target->compact();  // retained intervals are merged into, never added to
    } else {
      late_.fetch_add(s.requests, std::memory_order_relaxed);
    }
    s.clear();
  }
}

inline std::size_t Monitor::memory_bytes() const {
  std::size_t bytes = sizeof(*this) + plan_.memory_bytes() - sizeof(plan_);
  for (std::size_t i = 0; i <= shard_mask_; ++i) {
    Shard& shard = shards_[i];
    const Maintenance lock(shard);
    bytes += sizeof(Shard) + shard.plan.memory_bytes() - sizeof(shard.plan);
    for (const auto& s : shard.summaries) bytes += s.memory_bytes();
  }
  std::lock_guard<std::mutex> lock(retained_mutex_);
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

inline void Monitor::flush_all(std::int64_t before) {
  for (std::size_t i = 0; i <= shard_mask_; ++i) {
    Shard& shard = shards_[i];
    const Maintenance lock(shard);
    if (shard.interval != no_interval && shard.interval < before) {
      flush_shard(shard);
      shard.interval = before;
    }
  }
}

inline void Monitor::advance_time(double t) {
  if (!usable_time(t)) return;
  double seen = advanced_time_.load(std::memory_order_relaxed);
  while (t > seen && !advanced_time_.compare_exchange_weak(seen, t, std::memory_order_relaxed)) {
  }
}

inline std::uint64_t Monitor::observed() const {
  std::uint64_t n = 0;
  for (std::size_t i = 0; i <= shard_mask_; ++i) {
    const Maintenance lock(shards_[i]);
    n += shards_[i].observed;
  }
  return n;
}

inline double Monitor::latest_time() const {
  double t = advanced_time_.load(std::memory_order_relaxed);
  for (std::size_t i = 0; i <= shard_mask_; ++i) {
    const Maintenance lock(shards_[i]);
    t = std::max(t, shards_[i].latest);
  }
  return t == -std::numeric_limits<double>::infinity() ? std::numeric_limits<double>::quiet_NaN() : t;
}

inline bool Monitor::enter(double t, std::int64_t& k, bool& crossed, std::atomic<std::uint64_t>& bad_counter) {
  if (VIGIL_UNLIKELY(!usable_time(t))) {
    bad_counter.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  k = interval_of(t);
  std::int64_t global = global_interval_.load(std::memory_order_relaxed);
  // Late: older than the tolerance before the start of the newest interval.
  if (VIGIL_UNLIKELY(global != no_interval && t < start_of(global) - options_.lateness)) {
    late_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  // The first event of a new interval hands every shard's older interval to retention, so
  // no shard holds data for long, then (optionally) evaluates what just closed.
  crossed = false;
  while (k > global) {
    if (global_interval_.compare_exchange_weak(global, k, std::memory_order_relaxed)) {
      crossed = global != no_interval;
      break;
    }
  }
  if (crossed) flush_all(k);
  return true;
}

template <class Current, class HandedOver>
void Monitor::record(std::int64_t k, bool crossed, Current&& current, HandedOver&& handed_over) {
  Shard& shard = lock_shard();
  {
    std::lock_guard<detail::SpinLock> lock(shard.mutex, std::adopt_lock);
    if (shard.interval == no_interval) shard.interval = k;
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
  if (crossed && options_.evaluate_in_observe) evaluate(start_of(k));
}

inline void Monitor::observe(const Observation& o) {
  check_shape(o);
  const double t = o.has_time() ? o.time()
                                : std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  std::int64_t k = 0;
  bool crossed = false;
  if (!enter(t, k, crossed, bad_time_)) return;
  const std::uint64_t answered = explicit_arrivals_.load(std::memory_order_relaxed) ? 1 : 0;
  record(
      k, crossed,
      [&](Shard& shard) {
        ++shard.observed;
        shard.answered += answered;
        shard.latest = std::max(shard.latest, t);
        apply(shard, o);
      },
      [&](Shard& shard) {
        shard.latest = std::max(shard.latest, t);
        detail::IntervalSummary* target = retained_[0].at(t);
        if (target == nullptr) {
          late_.fetch_add(1, std::memory_order_relaxed);
          return;
        }
        ++shard.observed;
        shard.answered += answered;
        const double slow = slow_threshold_.load(std::memory_order_relaxed);
        if (!shard.tag_ids.empty()) resolve_tags(shard, o);
        target->apply(plan_, o, shard.tag_ids.data(), slow);
        for (const CohortTag& c : cohorts_) {
          const std::uint32_t id = shard.tag_ids[c.tag];
          if (id == detail::IntervalSummary::no_tag) continue;
          if (detail::IntervalSummary* ct = retained_[c.first_slot + id].at(t))
            ct->apply(plan_, o, shard.tag_ids.data(), slow);
        }
      });
}

inline void Monitor::on_arrival() {
  on_arrival(std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count());
}

inline void Monitor::on_arrival(double t) {
  std::int64_t k = 0;
  bool crossed = false;
  if (!enter(t, k, crossed, bad_arrival_time_)) return;
  if (VIGIL_UNLIKELY(!explicit_arrivals_.load(std::memory_order_relaxed)))
    explicit_arrivals_.store(true, std::memory_order_relaxed);
  record(
      k, crossed,
      [&](Shard& shard) {
        ++shard.arrived;
        shard.last_arrival = std::max(shard.last_arrival, t);
        ++shard.summaries[0].arrivals;
      },
      [&](Shard& shard) {
        shard.last_arrival = std::max(shard.last_arrival, t);
        if (detail::IntervalSummary* target = retained_[0].at(t)) {
          ++shard.arrived;
          ++target->arrivals;
        } else {
          late_.fetch_add(1, std::memory_order_relaxed);
        }
      });
}

inline double Monitor::last_arrival() const {
  const bool explicit_arrivals = explicit_arrivals_.load(std::memory_order_relaxed);
  double t = -std::numeric_limits<double>::infinity();
  for (std::size_t i = 0; i <= shard_mask_; ++i) {
    const Maintenance lock(shards_[i]);
    t = std::max(t, explicit_arrivals ? shards_[i].last_arrival : shards_[i].latest);
  }
  return std::isfinite(t) ? t : std::numeric_limits<double>::quiet_NaN();
}

inline std::int64_t Monitor::in_flight() const {
  if (!explicit_arrivals_.load(std::memory_order_relaxed)) return 0;
  std::int64_t n = 0;
  for (std::size_t i = 0; i <= shard_mask_; ++i) {
    const Maintenance lock(shards_[i]);
    n += static_cast<std::int64_t>(shards_[i].arrived) - static_cast<std::int64_t>(shards_[i].answered);
  }
  return n;
}

inline void Monitor::evaluate() { run_evaluations(latest_time(), nullptr); }
inline void Monitor::evaluate(double now) {
  advance_time(now);
  run_evaluations(latest_time(), nullptr);
}

inline Report Monitor::report() {
  Report r;
  run_evaluations(latest_time(), &r);
  return r;
}

inline Report Monitor::report(double now) {
  advance_time(now);
  Report r;
  run_evaluations(latest_time(), &r);
  return r;
}

inline Report Monitor::finish() {
  Report r;
  const double latest = latest_time();
  if (std::isnan(latest)) return report();
  // Half an interval past the end, so that rounding of start_of() cannot leave the last
  // interval open.
  const double end = start_of(interval_of(latest) + 1) + options_.interval / 2;
  advance_time(end);
  {
    // The log may end inside its last interval: that interval's arrival count is partial
    // and is not judged against the rate (its data is analysed as usual).
    std::lock_guard<std::mutex> lock(evaluation_mutex_);
    partial_interval_ = interval_of(latest);
  }
  run_evaluations(end, &r, false);
  return r;
}

inline void Monitor::run_evaluations(double now, Report* report, bool live) {
  std::lock_guard<std::mutex> lock(evaluation_mutex_);
  if (!usable_time(now)) now = std::numeric_limits<double>::quiet_NaN();
  std::int64_t last_closed = no_interval;
  if (std::isfinite(now)) {
    // Intervals that ended at or before `now` are complete.
    last_closed = interval_of(now) - 1;
    flush_all(last_closed + 1);
    // Keep retention's clock in step with event time, so quiet intervals exist.
    std::lock_guard<std::mutex> retained_lock(retained_mutex_);
    for (auto& w : retained_) w.advance(start_of(last_closed + 1));
  }
  std::vector<Alert> transitions;
  if (last_closed != no_interval) {
    std::int64_t first = evaluated_through_ == no_interval ? last_closed : evaluated_through_ + 1;
    const std::int64_t oldest_fine = last_closed - static_cast<std::int64_t>(options_.fine_intervals) + 2;
    if (first < oldest_fine) {
      skipped_evaluations_ += static_cast<std::uint64_t>(oldest_fine - first);
      first = oldest_fine;
    }
    for (std::int64_t k = first; k <= last_closed; ++k) {
      if (interval_callbacks_.empty()) {
        std::vector<Alert> t = evaluate_interval(k, k == last_closed ? report : nullptr, true);
        transitions.insert(transitions.end(), t.begin(), t.end());
        continue;
      }
      Report closed;
      std::vector<Alert> t = evaluate_interval(k, &closed, true);
      if (k == last_closed && report != nullptr) *report = closed;
      closed.transitions = t;
      describe_alerts(&closed, TrafficReport{});
      for (const auto& cb : interval_callbacks_) cb(closed);
      transitions.insert(transitions.end(), t.begin(), t.end());
    }
    if (first <= last_closed) {
      evaluated_through_ = last_closed;
    } else if (report != nullptr) {
      // Nothing new closed: describe the latest closed interval again, without feeding the
      // alert state machine twice.
      evaluate_interval(last_closed, report, false);
    }
  }
  // A silence noticed between interval ends (a health check calling report(now) while no
  // request comes): judged at once against the rate predicted for the open interval.
  TrafficReport silence;
  if (live && std::isfinite(now) && !rate_.empty()) {
    RatePrediction prediction;
    try {
      prediction = rate_.predict(interval_of(now));
    } catch (const vigil::error&) {
      prediction = RatePrediction{};
    }
    if (prediction.model != RateModel::none) {
      detail::analyze_silence(now, last_arrival(),
                              detail::poisson_mean_of_log_mean(prediction.log_rate) / options_.interval, silence);
      std::vector<Evidence> evidence;
      detail::silence_evidence(silence, tracker_.policy(), evidence);
      for (const Evidence& e : evidence) {
        std::vector<Alert> t = tracker_.raise_now(now, e);
        transitions.insert(transitions.end(), t.begin(), t.end());
      }
    }
  }
  for (const Alert& a : transitions)
    for (const auto& cb : callbacks_) cb(a);
  pending_transitions_.insert(pending_transitions_.end(), transitions.begin(), transitions.end());
  if (report != nullptr) {
    if (std::isnan(report->time)) {
      // Nothing closed yet: describe the open interval so far.
      report->time = now;
    }
    report->transitions.swap(pending_transitions_);
    pending_transitions_.clear();
    describe_alerts(report, silence);
  }
}

inline void Monitor::describe_alerts(Report* report, const TrafficReport& silence) {
  report->counters.observed = observed();
  report->counters.bad_time = bad_time_.load(std::memory_order_relaxed);
  report->counters.late = late_.load(std::memory_order_relaxed);
  report->counters.skipped_evaluations = skipped_evaluations_;
  report->counters.bad_arrival_time = bad_arrival_time_.load(std::memory_order_relaxed);
  report->open_alerts = tracker_.open_alerts(report->time);
  Status worst = Status::ok;
  for (const Alert& a : report->open_alerts)
    worst = std::max(worst, a.severity == Severity::alert ? Status::alert : Status::warn);
  report->status = worst;
  const auto status_of = [&](const std::string& subject) {
    Status s = Status::ok;
    for (const Alert& a : report->open_alerts)
      if (a.subject == subject || a.subject == subject + " (horizon)")
        s = std::max(s, a.severity == Severity::alert ? Status::alert : Status::warn);
    return s;
  };
  if (!std::isnan(silence.silence)) {
    report->traffic.last_arrival = silence.last_arrival;
    report->traffic.silence = silence.silence;
    report->traffic.expected_in_silence = silence.expected_in_silence;
    report->traffic.silence_p_value = silence.silence_p_value;
  }
  report->traffic.in_flight = in_flight();
  for (auto& f : report->features) f.status = status_of(f.name);
  for (auto& o : report->outputs) o.status = status_of(o.name);
  for (const Alert& a : report->open_alerts) {
    const Status s = a.severity == Severity::alert ? Status::alert : Status::warn;
    if (a.kind == AlertKind::traffic) report->traffic.status = std::max(report->traffic.status, s);
    if (a.kind == AlertKind::latency) {
      bool cohort = false;
      for (auto& c : report->cohorts) {
        const std::string prefix = c.tag + "=" + c.value + ": ";
        if (a.subject.compare(0, prefix.size(), prefix) == 0) {
          c.latency.status = std::max(c.latency.status, s);
          c.status = std::max(c.status, s);
          cohort = true;
        }
      }
      // The latency of all requests, or a tag value over-represented among the slow ones.
      if (!cohort) report->latency.status = std::max(report->latency.status, s);
    }
  }
  for (auto& c : report->cohorts) {
    const std::string prefix = c.tag + "=" + c.value + ": ";
    for (auto& f : c.features) {
      f.status = status_of(prefix + f.name);
      c.status = std::max(c.status, f.status);
    }
    for (auto& o : c.outputs) {
      o.status = status_of(prefix + o.name);
      c.status = std::max(c.status, o.status);
    }
  }
}

inline void Monitor::analyze(std::size_t slot, double recent_start, double recent_end, double horizon_start,
                             double background_start, std::vector<FeatureReport>& features,
                             std::vector<OutputReport>& outputs, std::uint64_t& recent_requests,
                             std::uint64_t& horizon_requests, std::uint64_t& horizon_bad_latency,
                             TrafficReport* traffic) const {
  detail::IntervalSummary recent;
  detail::IntervalSummary background;
  detail::IntervalSummary horizon;
  {
    std::lock_guard<std::mutex> lock(retained_mutex_);
    const auto& w = retained_[slot];
    recent = w.merge_range(recent_start, recent_end);
    background = w.merge_range(background_start, recent_start);
    horizon = w.merge_range(horizon_start, recent_end);
  }
  recent_requests = recent.requests;
  horizon_requests = horizon.requests;
  if (traffic != nullptr)
    detail::analyze_traffic(recent, background, explicit_arrivals_.load(std::memory_order_relaxed), *traffic);
  horizon_bad_latency = horizon.bad_latency;
  const double reference_rows = static_cast<double>(profile_.rows());
  features.clear();
  for (std::size_t i = 0; i < plan_.numeric.size(); ++i) {
    FeatureReport r;
    detail::analyze_numeric(plan_.numeric[i], i, recent, background, horizon, reference_rows, r);
    features.push_back(std::move(r));
  }
  for (std::size_t i = 0; i < plan_.categorical.size(); ++i) {
    FeatureReport r;
    detail::analyze_categorical(plan_.categorical[i], i, recent, background, horizon, r);
    features.push_back(std::move(r));
  }
  outputs.clear();
  for (std::size_t i = 0; i < plan_.outputs.size(); ++i) {
    OutputReport r;
    const TDigest<>& reference = profile_.output(profile_.schema().output(plan_.outputs[i].name)).digest;
    detail::analyze_output(plan_.outputs[i], i, recent, background, horizon, reference, reference_rows, r);
    outputs.push_back(std::move(r));
  }
}

inline void Monitor::analyze_latency(std::size_t slot, double background_start, double window_start, double end,
                                     const std::vector<std::vector<std::string>>& tag_values, LatencyReport& r) const {
  LogHistogram recent(plan_.latency_scale);
  LogHistogram background(plan_.latency_scale);
  std::vector<std::uint64_t> tag_requests(plan_.tag_slots, 0);
  std::vector<std::uint64_t> tag_slow(plan_.tag_slots, 0);
  std::vector<std::uint64_t> background_requests(plan_.tag_slots, 0);
  std::vector<std::uint64_t> background_slow(plan_.tag_slots, 0);
  std::uint64_t slow = 0;
  {
    std::lock_guard<std::mutex> lock(retained_mutex_);
    retained_[slot].for_each([&](const auto& interval) {
      const detail::IntervalSummary& s = *interval.sketch;
      if (interval.start >= window_start && interval.end <= end) {
        if (!s.latency.empty()) recent.merge(s.latency);
        slow += s.slow;
        for (std::size_t i = 0; i < tag_requests.size(); ++i) {
          tag_requests[i] += s.tag_requests[i];
          tag_slow[i] += s.tag_slow[i];
        }
      } else if (interval.start >= background_start && interval.end <= window_start) {
        if (!s.latency.empty()) background.merge(s.latency);
        for (std::size_t i = 0; i < background_requests.size(); ++i) {
          background_requests[i] += s.tag_requests[i];
          background_slow[i] += s.tag_slow[i];
        }
      }
    });
  }
  detail::analyze_latency(recent, background, r);
  r.slow_threshold = slow_threshold_.load(std::memory_order_relaxed);
  r.slow = slow;
  const auto part = [](const std::vector<std::uint64_t>& v, std::size_t first, std::size_t n) {
    return std::vector<std::uint64_t>(v.begin() + static_cast<std::ptrdiff_t>(first),
                                      v.begin() + static_cast<std::ptrdiff_t>(first + n));
  };
  for (std::uint32_t t = 0; t < plan_.tag_offset.size(); ++t) {
    const std::size_t first = plan_.tag_offset[t];
    const std::size_t n = plan_.tag_max_values[t] + 1;
    const std::size_t before = r.attribution.size();
    detail::attribute_slow(schema_.name(Tag{t}), tag_values[t], part(tag_requests, first, n), part(tag_slow, first, n),
                           r.attribution);
    std::vector<SlowAttribution> past;
    detail::attribute_slow(schema_.name(Tag{t}), tag_values[t], part(background_requests, first, n),
                           part(background_slow, first, n), past);
    for (std::size_t i = before; i < r.attribution.size(); ++i)
      for (const SlowAttribution& p : past)
        if (p.value == r.attribution[i].value) r.attribution[i].background_lift = p.lift;
  }
  std::stable_sort(r.attribution.begin(), r.attribution.end(), [](const SlowAttribution& a, const SlowAttribution& b) {
    return (std::isnan(a.lift) ? 0 : a.lift) > (std::isnan(b.lift) ? 0 : b.lift);
  });
}

inline double Monitor::arrivals_in(std::int64_t k) const {
  const bool explicit_arrivals = explicit_arrivals_.load(std::memory_order_relaxed);
  const double start = start_of(k);
  double count = std::numeric_limits<double>::quiet_NaN();
  std::lock_guard<std::mutex> lock(retained_mutex_);
  retained_[0].for_each([&](const auto& interval) {
    if (interval.start == start && interval.end - interval.start <= options_.interval * 1.5)
      count = static_cast<double>(explicit_arrivals ? interval.sketch->arrivals : interval.sketch->requests);
  });
  return count;
}

inline void Monitor::feed_rate(std::int64_t k) {
  // Intervals up to k that were never given to the predictor (skipped evaluations) are
  // given now, or declared unknown when retention no longer holds them at fine resolution.
  if (rate_fed_through_ == no_interval) return;  // the first interval judged starts the series
  std::int64_t from = rate_fed_through_ + 1;
  if (k - from > static_cast<std::int64_t>(rate_.options().history)) from = k - static_cast<std::int64_t>(rate_.options().history);
  for (std::int64_t j = from; j <= k; ++j) {
    const double count = arrivals_in(j);
    if (std::isnan(count)) rate_.add_unknown(j);
    else rate_.add(j, count);
  }
  rate_fed_through_ = std::max(rate_fed_through_, k);
}

namespace detail {
/// Benjamini-Hochberg over the finite p-values of `p`; NaN entries stay NaN (never significant).
inline std::vector<double> adjust_finite(const std::vector<double>& p) {
  std::vector<double> finite;
  for (double v : p)
    if (!std::isnan(v)) finite.push_back(v);
  std::vector<double> out(p.size(), std::numeric_limits<double>::quiet_NaN());
  if (finite.empty()) return out;
  const std::vector<double> adjusted = stats::benjamini_hochberg(finite);
  std::size_t j = 0;
  for (std::size_t i = 0; i < p.size(); ++i)
    if (!std::isnan(p[i])) out[i] = adjusted[j++];
  return out;
}
}  // namespace detail

inline std::vector<Alert> Monitor::evaluate_interval(std::int64_t k, Report* report, bool update_alerts) {
  const double recent_end = start_of(k + 1);
  const double recent_start = start_of(k + 1 - static_cast<std::int64_t>(options_.recent_intervals));
  const double retention = options_.coarse_interval * static_cast<double>(options_.coarse_intervals) +
                           options_.interval * static_cast<double>(options_.fine_intervals);
  const double horizon_start = recent_end - std::min(options_.long_horizon, retention);
  const double background_start = recent_start - options_.background;

  std::vector<Evidence> evidence;
  std::vector<double> shift_p;
  std::vector<double> drift_p;
  std::vector<double> output_shift_p;
  std::vector<double> output_drift_p;
  std::vector<double> class_p;
  struct SlotResult {
    std::vector<FeatureReport> features;
    std::vector<OutputReport> outputs;
    std::uint64_t recent = 0;
    std::uint64_t horizon = 0;
    std::uint64_t bad_latency = 0;
  };
  std::vector<SlotResult> results(slot_count_);
  TrafficReport traffic;  // filled with slot 0's analysis
  std::vector<std::string> names;
  std::vector<std::vector<std::string>> tag_names;
  {
    std::lock_guard<std::mutex> lock(tag_mutex_);
    names = slot_names_;
    tag_names = tag_values_;
  }
  for (std::uint32_t t = 0; t < tag_names.size(); ++t) {
    tag_names[t].resize(plan_.tag_max_values[t]);  // values not seen yet stay empty
    tag_names[t].push_back("other");
  }
  for (std::size_t slot = 0; slot < slot_count_; ++slot) {
    if (slot > 0 && names[slot].empty()) continue;  // a cohort value not seen yet
    SlotResult& s = results[slot];
    analyze(slot, recent_start, recent_end, horizon_start, background_start, s.features, s.outputs, s.recent, s.horizon,
            s.bad_latency, slot == 0 ? &traffic : nullptr);
    for (const auto& f : s.features) {
      shift_p.push_back(f.shift_p_value);
      // Long-term significance: KS for numeric features, the G-test for categorical ones.
      drift_p.push_back(f.categorical ? f.profile_p_value : f.ks_p_value);
    }
    for (const auto& o : s.outputs) {
      output_shift_p.push_back(o.shift_p_value);
      output_drift_p.push_back(o.ks_p_value);
      class_p.push_back(o.class_p_value);
    }
  }
  // Traffic: the interval's arrivals against the prediction made without them.
  {
    traffic.in_flight = in_flight();
    // The prediction for k is made from the intervals before it, before k is added (and
    // refitted on); a report describing k again asks the predictor for the same.
    if (update_alerts) feed_rate(k - 1);
    RatePrediction prediction;
    if (!rate_.empty()) {
      try {
        prediction = rate_.predict(k);
      } catch (const vigil::error&) {
        prediction = RatePrediction{};  // lags of k no longer held
      }
    }
    if (update_alerts) {
      // A finished log's partial last interval is no count to learn from.
      const double count = k == partial_interval_ ? std::numeric_limits<double>::quiet_NaN() : arrivals_in(k);
      if (std::isnan(count)) rate_.add_unknown(k);
      else rate_.add(k, count);
      rate_fed_through_ = k;
    }
    {
      const auto arrived = static_cast<double>(traffic.recent_arrivals);
      traffic.rate_model = to_string(prediction.model);
      traffic.rate_history = prediction.fitted_on;
      if (prediction.model != RateModel::none && options_.recent_intervals == 1) {
        traffic.predicted_arrivals = detail::poisson_mean_of_log_mean(prediction.log_rate);
        traffic.arrival_z = prediction.z(arrived);
        traffic.arrival_p_value = detail::poisson_two_sided(arrived, traffic.predicted_arrivals);
      }
    }
    // A silence is judged live, at report(now) (run_evaluations); here the interval's count
    // speaks for itself.
    detail::traffic_evidence(traffic, tracker_.policy(), k != partial_interval_, evidence);
  }

  // Latency of every slot over the latency window against the long background.
  const std::int64_t window_intervals =
      std::max<std::int64_t>(1, static_cast<std::int64_t>(std::llround(options_.latency_window / options_.interval)));
  const double latency_start = recent_end - static_cast<double>(window_intervals) * options_.interval;
  const double latency_background_start =
      latency_start - std::min(options_.latency_background, retention - static_cast<double>(window_intervals) * options_.interval);
  std::vector<LatencyReport> latency(slot_count_);
  std::vector<double> latency_p;
  std::vector<double> attribution_p;
  for (std::size_t slot = 0; slot < slot_count_; ++slot) {
    if (slot > 0 && names[slot].empty()) continue;
    LatencyReport& l = latency[slot];
    l.subject = slot == 0 ? "requests" : names[slot] + ": requests";
    analyze_latency(slot, latency_background_start, latency_start, recent_end, tag_names, l);
    latency_p.push_back(l.p_value);
    for (const auto& a : l.attribution) attribution_p.push_back(a.p_value);
  }
  {
    const auto adjusted_latency = detail::adjust_finite(latency_p);
    const auto adjusted_attribution = detail::adjust_finite(attribution_p);
    std::size_t li = 0;
    std::size_t ai = 0;
    for (std::size_t slot = 0; slot < slot_count_; ++slot) {
      if (slot > 0 && names[slot].empty()) continue;
      const LatencyReport& l = latency[slot];
      const std::size_t n = l.attribution.size();
      detail::latency_evidence(l, adjusted_latency[li++],
                               std::vector<double>(adjusted_attribution.begin() + static_cast<std::ptrdiff_t>(ai),
                                                   adjusted_attribution.begin() + static_cast<std::ptrdiff_t>(ai + n)),
                               tracker_.policy(), slot == 0 ? std::string() : names[slot] + ": ", evidence);
      ai += n;
    }
  }
  if (update_alerts && std::isnan(options_.slow_threshold) && latency[0].background_count >= tracker_.policy().min_requests) {
    // What counts as slow from now on: the background's p99 (fixed when the user set one).
    slow_threshold_.store(latency[0].background_p99, std::memory_order_relaxed);
  }

  // Corrected across every feature (and cohort) judged in this interval.
  const auto adjusted_shift = detail::adjust_finite(shift_p);
  const auto adjusted_drift = detail::adjust_finite(drift_p);
  const auto adjusted_output_shift = detail::adjust_finite(output_shift_p);
  const auto adjusted_output_drift = detail::adjust_finite(output_drift_p);
  const auto adjusted_class = detail::adjust_finite(class_p);
  std::size_t fi = 0;
  std::size_t oi = 0;
  for (std::size_t slot = 0; slot < slot_count_; ++slot) {
    if (slot > 0 && names[slot].empty()) continue;
    const SlotResult& s = results[slot];
    const std::string prefix = slot == 0 ? "" : names[slot] + ": ";
    const std::size_t nf = s.features.size();
    const std::size_t no = s.outputs.size();
    detail::feature_evidence(s.features,
                             std::vector<double>(adjusted_shift.begin() + static_cast<std::ptrdiff_t>(fi),
                                                 adjusted_shift.begin() + static_cast<std::ptrdiff_t>(fi + nf)),
                             std::vector<double>(adjusted_drift.begin() + static_cast<std::ptrdiff_t>(fi),
                                                 adjusted_drift.begin() + static_cast<std::ptrdiff_t>(fi + nf)),
                             tracker_.policy(), prefix, evidence);
    detail::output_evidence(s.outputs,
                            std::vector<double>(adjusted_output_shift.begin() + static_cast<std::ptrdiff_t>(oi),
                                                adjusted_output_shift.begin() + static_cast<std::ptrdiff_t>(oi + no)),
                            std::vector<double>(adjusted_output_drift.begin() + static_cast<std::ptrdiff_t>(oi),
                                                adjusted_output_drift.begin() + static_cast<std::ptrdiff_t>(oi + no)),
                            std::vector<double>(adjusted_class.begin() + static_cast<std::ptrdiff_t>(oi),
                                                adjusted_class.begin() + static_cast<std::ptrdiff_t>(oi + no)),
                            tracker_.policy(), prefix, evidence);
    fi += nf;
    oi += no;
  }
  std::vector<Alert> transitions;
  if (update_alerts) transitions = tracker_.update(recent_end, evidence);

  if (update_alerts) traffic_ = traffic;
  if (report != nullptr) {
    report->traffic = traffic;
    report->latency = std::move(latency[0]);
    report->time = recent_end;
    report->recent_start = recent_start;
    report->recent_end = recent_end;
    report->horizon_start = horizon_start;
    report->recent_requests = results[0].recent;
    report->horizon_requests = results[0].horizon;
    report->counters.bad_latency = results[0].bad_latency;
    report->features = std::move(results[0].features);
    report->outputs = std::move(results[0].outputs);
    for (std::size_t slot = 1; slot < slot_count_; ++slot) {
      if (names[slot].empty()) continue;
      CohortReport c;
      const auto eq = names[slot].find('=');
      c.tag = names[slot].substr(0, eq);
      c.value = names[slot].substr(eq + 1);
      c.requests = results[slot].horizon;
      c.features = std::move(results[slot].features);
      c.outputs = std::move(results[slot].outputs);
      c.latency = std::move(latency[slot]);
      report->cohorts.push_back(std::move(c));
    }
  }
  return transitions;
}

}  // namespace vigil

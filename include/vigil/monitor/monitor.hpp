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
#include "vigil/monitor/alerts.hpp"
#include "vigil/monitor/detail/summary.hpp"
#include "vigil/monitor/features.hpp"
#include "vigil/monitor/observation.hpp"
#include "vigil/monitor/profile.hpp"
#include "vigil/monitor/report.hpp"
#include "vigil/monitor/schema.hpp"
#include "vigil/monitor/scores.hpp"
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
/// too) 8 bytes per bin (numeric_bins per numeric feature, one per training category + 1 per
/// categorical feature, 10 per output, classes + 1 per output) plus 56 bytes per numeric
/// feature, a t-digest at δ = 50 per output (≈ 1.6 KB) and a latency histogram; the same
/// again per shard. 100 numeric features at the defaults: ≈ 10 MB.
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

  /// Evaluates every interval that ended at or before the latest event time and returns the
  /// report as of then.
  Report report();
  /// The same, with event time advanced to `now` first (a quiet stream still closes its
  /// intervals).
  Report report(double now);
  /// Evaluates closed intervals (firing callbacks) without building a report.
  void evaluate();
  void evaluate(double now);

  /// Called with every alert transition (raised, escalated, resolved), in event-time order.
  void on_alert(AlertCallback callback) {
    std::lock_guard<std::mutex> lock(evaluation_mutex_);
    callbacks_.push_back(std::move(callback));
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

  struct alignas(64) Shard {
    mutable detail::SpinLock mutex;
    std::int64_t interval = no_interval;
    std::uint64_t observed = 0;
    double latest = -std::numeric_limits<double>::infinity();
    std::vector<detail::IntervalSummary> summaries;  // slot 0: everything; then cohort values
    // Per cohort tag, values this shard has resolved to slots (bounded), so the request path
    // takes no global lock for a known value.
    std::vector<std::vector<std::pair<std::string, std::size_t>>> cohort_cache;
  };
  struct CohortTag {
    std::uint32_t tag;
    std::size_t first_slot;  // slot of value 0; values beyond max_values share the last slot
    std::size_t max_values;
    std::vector<std::string> values;  // interned values, guarded by cohort_mutex_
  };

  std::int64_t interval_of(double t) const { return static_cast<std::int64_t>(std::floor(t / options_.interval)); }
  double start_of(std::int64_t k) const { return static_cast<double>(k) * options_.interval; }
  // The shard this thread used last: a hint shared by every Monitor, starting the threads
  // of a process on different shards.
  static std::size_t& shard_hint() {
    static std::atomic<std::size_t> next{0};
    thread_local std::size_t hint = next.fetch_add(1, std::memory_order_relaxed);
    return hint;
  }
  // Locks a shard for this thread: its own if free, else the next free one (which becomes
  // its own), so two threads that happen to share a shard part after one collision.
  Shard& lock_shard() {
    std::size_t& hint = shard_hint();
    for (std::size_t k = 0; k <= shard_mask_; ++k) {
      Shard& s = shards_[(hint + k) & shard_mask_];
      if (s.mutex.try_lock()) {
        hint += k;
        return s;
      }
    }
    Shard& s = shards_[hint & shard_mask_];
    s.mutex.lock();
    return s;
  }
  void check_shape(const Observation& o) const;
  std::size_t cohort_slot(CohortTag& c, std::string_view value);
  std::size_t cached_cohort_slot(Shard& shard, std::size_t cohort, std::string_view value);
  void apply(Shard& shard, const Observation& o);
  void flush_shard(Shard& shard);  // shard lock held
  void flush_all(std::int64_t before);
  void advance_time(double t);
  void run_evaluations(double now, Report* report);
  std::vector<Alert> evaluate_interval(std::int64_t k, Report* report, bool update_alerts);
  void analyze(std::size_t slot, double recent_start, double recent_end, double horizon_start, double background_start,
               std::vector<FeatureReport>& features, std::vector<OutputReport>& outputs, std::uint64_t& recent_requests,
               std::uint64_t& horizon_requests, std::uint64_t& horizon_bad_latency) const;

  Schema schema_;
  Profile profile_;
  MonitorOptions options_;
  detail::MonitorPlan plan_;
  std::vector<CohortTag> cohorts_;
  std::size_t slot_count_ = 1;
  std::vector<std::string> slot_names_;  // "tag=value" per slot (slot 0: "")
  std::unique_ptr<Shard[]> shards_;
  std::size_t shard_mask_ = 0;

  std::mutex cohort_mutex_;
  mutable std::mutex retained_mutex_;  // guards retained_; taken after a shard lock, never before
  std::vector<TimeWindows<detail::IntervalSummary>> retained_;

  // Shared counters touched only by rare events; per-request figures live in the shards so
  // that threads do not bounce a cache line.
  std::atomic<std::uint64_t> bad_time_{0};
  std::atomic<std::uint64_t> late_{0};
  std::atomic<double> advanced_time_{-std::numeric_limits<double>::infinity()};
  std::atomic<std::int64_t> global_interval_{no_interval};

  std::mutex evaluation_mutex_;  // guards everything below; never taken under a shard lock
  detail::AlertTracker tracker_;
  std::vector<AlertCallback> callbacks_;
  std::int64_t evaluated_through_ = no_interval;  // last interval evaluated
  std::uint64_t skipped_evaluations_ = 0;
  std::vector<Alert> pending_transitions_;
};

inline Monitor::Monitor(Schema schema, Profile profile, MonitorOptions options)
    : schema_(std::move(schema)), profile_(std::move(profile)), options_(options), tracker_(options.alerts) {
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
  plan_ = detail::make_plan(schema_, profile_, options_.numeric_bins);

  slot_names_.push_back("");
  for (std::uint32_t t = 0; t < schema_.tag_count(); ++t) {
    const TagOptions& to = schema_.options(Tag{t});
    if (!to.cohort) continue;
    cohorts_.push_back(CohortTag{t, slot_count_, to.max_values, {}});
    slot_count_ += to.max_values + 1;  // the last one is "other"
    for (std::size_t v = 0; v <= to.max_values; ++v) slot_names_.push_back("");
  }

  std::size_t shards = options_.shards;
  if (shards == 0) shards = std::max<std::size_t>(1, std::thread::hardware_concurrency());
  std::size_t pow2 = 1;
  while (pow2 < shards) pow2 *= 2;
  shards_.reset(new Shard[pow2]);
  shard_mask_ = pow2 - 1;
  const detail::IntervalSummary prototype(plan_);
  for (std::size_t s = 0; s < pow2; ++s) {
    shards_[s].summaries.assign(slot_count_, prototype);
    shards_[s].cohort_cache.resize(cohorts_.size());
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

inline std::size_t Monitor::cohort_slot(CohortTag& c, std::string_view value) {
  std::lock_guard<std::mutex> lock(cohort_mutex_);
  auto& values = c.values;
  for (std::size_t i = 0; i < values.size(); ++i)
    if (values[i] == value) return c.first_slot + i;
  if (values.size() < c.max_values) {
    values.emplace_back(value);
    slot_names_[c.first_slot + values.size() - 1] = schema_.name(Tag{c.tag}) + "=" + std::string(value);
    return c.first_slot + values.size() - 1;
  }
  std::string& other = slot_names_[c.first_slot + c.max_values];
  if (other.empty()) other = schema_.name(Tag{c.tag}) + "=other";  // named once, not per request
  return c.first_slot + c.max_values;
}

inline std::size_t Monitor::cached_cohort_slot(Shard& shard, std::size_t cohort, std::string_view value) {
  auto& cache = shard.cohort_cache[cohort];
  for (const auto& [known, slot] : cache)
    if (known == value) return slot;
  const std::size_t slot = cohort_slot(cohorts_[cohort], value);
  if (cache.size() < 2 * cohorts_[cohort].max_values) cache.emplace_back(std::string(value), slot);
  return slot;
}

inline void Monitor::apply(Shard& shard, const Observation& o) {
  shard.summaries[0].apply(plan_, o);
  for (std::size_t c = 0; c < cohorts_.size(); ++c) {
    const Tag tag{cohorts_[c].tag};
    if (!o.has(tag)) continue;
    shard.summaries[cached_cohort_slot(shard, c, o.value(tag))].apply(plan_, o);
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
  std::size_t bytes = sizeof(*this);
  for (std::size_t i = 0; i <= shard_mask_; ++i) {
    Shard& shard = shards_[i];
    std::lock_guard<detail::SpinLock> lock(shard.mutex);
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
    std::lock_guard<detail::SpinLock> lock(shard.mutex);
    if (shard.interval != no_interval && shard.interval < before) {
      flush_shard(shard);
      shard.interval = before;
    }
  }
}

inline void Monitor::advance_time(double t) {
  double seen = advanced_time_.load(std::memory_order_relaxed);
  while (t > seen && !advanced_time_.compare_exchange_weak(seen, t, std::memory_order_relaxed)) {
  }
}

inline std::uint64_t Monitor::observed() const {
  std::uint64_t n = 0;
  for (std::size_t i = 0; i <= shard_mask_; ++i) {
    std::lock_guard<detail::SpinLock> lock(shards_[i].mutex);
    n += shards_[i].observed;
  }
  return n;
}

inline double Monitor::latest_time() const {
  double t = advanced_time_.load(std::memory_order_relaxed);
  for (std::size_t i = 0; i <= shard_mask_; ++i) {
    std::lock_guard<detail::SpinLock> lock(shards_[i].mutex);
    t = std::max(t, shards_[i].latest);
  }
  return t == -std::numeric_limits<double>::infinity() ? std::numeric_limits<double>::quiet_NaN() : t;
}

inline void Monitor::observe(const Observation& o) {
  check_shape(o);
  const double t = o.has_time() ? o.time()
                                : std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  if (VIGIL_UNLIKELY(!std::isfinite(t))) {
    bad_time_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  const std::int64_t k = interval_of(t);
  std::int64_t global = global_interval_.load(std::memory_order_relaxed);
  // Late: older than the tolerance before the start of the newest interval.
  if (VIGIL_UNLIKELY(global != no_interval && t < start_of(global) - options_.lateness)) {
    late_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  // The first event of a new interval hands every shard's older interval to retention, so
  // no shard holds data for long, then (optionally) evaluates what just closed.
  bool crossed = false;
  while (k > global) {
    if (global_interval_.compare_exchange_weak(global, k, std::memory_order_relaxed)) {
      crossed = global != no_interval;
      break;
    }
  }
  if (crossed) flush_all(k);

  Shard& shard = lock_shard();
  {
    std::lock_guard<detail::SpinLock> lock(shard.mutex, std::adopt_lock);
    if (shard.interval == no_interval) shard.interval = k;
    if (k > shard.interval) {
      flush_shard(shard);
      shard.interval = k;
    }
    ++shard.observed;
    shard.latest = std::max(shard.latest, t);
    if (k == shard.interval) {
      apply(shard, o);
    } else {
      // An event of an interval this shard already handed over: straight into retention.
      std::lock_guard<std::mutex> retained_lock(retained_mutex_);
      detail::IntervalSummary* target = retained_[0].at(t);
      if (target == nullptr) {
        --shard.observed;
        late_.fetch_add(1, std::memory_order_relaxed);
        return;
      }
      target->apply(plan_, o);
      for (CohortTag& c : cohorts_) {
        if (!o.has(Tag{c.tag})) continue;
        if (detail::IntervalSummary* ct = retained_[cohort_slot(c, o.value(Tag{c.tag}))].at(t)) ct->apply(plan_, o);
      }
    }
  }
  if (crossed && options_.evaluate_in_observe) evaluate(start_of(k));
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

inline void Monitor::run_evaluations(double now, Report* report) {
  std::lock_guard<std::mutex> lock(evaluation_mutex_);
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
      std::vector<Alert> t = evaluate_interval(k, k == last_closed ? report : nullptr, true);
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
  for (const Alert& a : transitions)
    for (const auto& cb : callbacks_) cb(a);
  pending_transitions_.insert(pending_transitions_.end(), transitions.begin(), transitions.end());
  if (report != nullptr) {
    if (std::isnan(report->time)) {
      // Nothing closed yet: describe the open interval so far.
      report->time = now;
    }
    report->counters.observed = observed();
    report->counters.bad_time = bad_time_.load(std::memory_order_relaxed);
    report->counters.late = late_.load(std::memory_order_relaxed);
    report->counters.skipped_evaluations = skipped_evaluations_;
    report->open_alerts = tracker_.open_alerts(report->time);
    report->transitions.swap(pending_transitions_);
    pending_transitions_.clear();
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
    for (auto& f : report->features) f.status = status_of(f.name);
    for (auto& o : report->outputs) o.status = status_of(o.name);
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
}

inline void Monitor::analyze(std::size_t slot, double recent_start, double recent_end, double horizon_start,
                             double background_start, std::vector<FeatureReport>& features,
                             std::vector<OutputReport>& outputs, std::uint64_t& recent_requests,
                             std::uint64_t& horizon_requests, std::uint64_t& horizon_bad_latency) const {
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
  std::vector<std::string> names;
  {
    std::lock_guard<std::mutex> lock(cohort_mutex_);
    names = slot_names_;
  }
  for (std::size_t slot = 0; slot < slot_count_; ++slot) {
    if (slot > 0 && names[slot].empty()) continue;  // a cohort value not seen yet
    SlotResult& s = results[slot];
    analyze(slot, recent_start, recent_end, horizon_start, background_start, s.features, s.outputs, s.recent, s.horizon,
            s.bad_latency);
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

  if (report != nullptr) {
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
      report->cohorts.push_back(std::move(c));
    }
  }
  return transitions;
}

}  // namespace vigil

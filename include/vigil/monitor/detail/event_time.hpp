// vigil — in-process monitoring of machine-learning models in C++ inference servers.
// SPDX-License-Identifier: Apache-2.0
//
// Event time ahead of the monitor's clock: the bound an event must not pass, the events held
// while the monitor weighs whether the time ahead is a genuine clock change, and the count of
// those refused.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "vigil/io/binary.hpp"
#include "vigil/monitor/alerts.hpp"
#include "vigil/monitor/detail/evidence_text.hpp"
#include "vigil/monitor/detail/interval_clock.hpp"
#include "vigil/monitor/detail/observation_codec.hpp"
#include "vigil/monitor/detail/state_codec.hpp"
#include "vigil/monitor/observation.hpp"
#include "vigil/monitor/options.hpp"
#include "vigil/monitor/subject.hpp"
#include "vigil/monitor/traffic.hpp"

namespace vigil {
namespace detail {

/// An event refused as too far ahead, kept as possible evidence of a clock change: a request
/// (a copy of its observation) or an arrival (no observation).
struct HeldEvent {
  double time = 0;
  std::unique_ptr<Observation> request;
};

/// Decides which event times are too far ahead (MonitorOptions::event_clock,
/// future_tolerance, clock_skew), holds the refused ones until they either prove a clock
/// change (clock_change_evidence of them in a row, consistent with each other) or are
/// contradicted by an event within the bound, and counts the refused ones per interval of
/// the monitor's clock. Not thread-safe: the intake guards it with a lock taken only for
/// events beyond the bound, which are rare.
///
/// Snapshot (save/load): the offset (f64), whether the stream is the reference for good
/// (bool), the earliest and latest time held (f64 each, kept after the held events go), the
/// events refused and the clock changes adopted (varints); the refusals per interval (a
/// count, then interval i64 and refusals varint of each not empty, in the order of their
/// slots); the held events (a count, then each: time f64, whether it is a request (bool) and
/// its observation, save_observation()). The options are the construction's.
class EventTimeGuard {
 public:
  explicit EventTimeGuard(const MonitorOptions& options)
      : mode_(options.event_clock),
        tolerance_(options.future_tolerance),
        skew_(options.clock_skew),
        evidence_(options.clock_change_evidence) {}

  /// The latest acceptable event time when the wall clock reads `wall` and the monitor's
  /// newest interval ends at `stream` (NaN before the first event). +inf: anything goes (the
  /// first event of a replay starts its stream).
  double bound(double wall, double stream) const;
  /// Whether events are held now.
  bool holding() const { return !held_.empty(); }

  /// Holds an event refused at `t` (a request when `request` is not null, else an arrival),
  /// while the monitor's newest interval is `interval`. An event inconsistent with the events
  /// held first refuses those (counted). Returns whether the held events now prove a clock
  /// change: then adopt() hands them over.
  bool hold(double t, const Observation* request, std::int64_t interval);
  /// Refuses the held events (an event within the bound contradicted them): counted as
  /// future in `interval`.
  void refuse_held(std::int64_t interval);
  /// Adopts the clock change the held events prove: returns them, oldest first, for the
  /// intake to file. With the wall clock as reference, it is offset to their time; in
  /// automatic mode, a change ahead of the wall clock makes the stream the reference for good.
  std::vector<HeldEvent> adopt(double wall);

  /// Events refused as too far ahead so far.
  std::uint64_t future() const { return future_; }
  /// Of them, those refused while interval k was the monitor's newest (0 once k is 64
  /// intervals behind a later refusal).
  std::uint64_t future_in(std::int64_t k) const {
    const Tally& tally = recent_[index_of(k)];
    return tally.interval == k ? tally.count : 0;
  }
  /// Clock changes adopted so far.
  std::uint64_t clock_changes() const { return changes_; }
  /// Bytes of the guard and its held events (at most clock_change_evidence observations; the
  /// observations' own value buffers are not counted).
  std::size_t memory_bytes() const;

  /// Adds another replica's refusals and clock changes (Monitor::merge): per interval of the
  /// alert window, the later interval's tally wins a slot, equal ones add. Its held events
  /// stay with it: they are evidence about its own clock.
  void add_counts(const EventTimeGuard& other) {
    future_ += other.future_;
    changes_ += other.changes_;
    for (std::size_t i = 0; i < recent_.size(); ++i) {
      Tally& mine = recent_[i];
      const Tally& theirs = other.recent_[i];
      if (theirs.interval == IntervalClock::none) continue;
      if (theirs.interval == mine.interval) {
        mine.count += theirs.count;
      } else if (mine.interval == IntervalClock::none || theirs.interval > mine.interval) {
        mine = theirs;
      }
    }
  }
  /// Writes what the guard learnt (see the class comment).
  void save(io::Writer& w) const;
  /// Reads save()'s bytes into a guard constructed from the same options, its held requests
  /// made observations of `schema`, replacing its state (on a throw it keeps its state). Throws
  /// vigil::format_error for an offset that the clock mode cannot have (negative, not
  /// finite, or other than 0 in a mode other than EventClock::wall), a replay not in
  /// automatic mode, more held events than clock_change_evidence, a time that is not
  /// finite, earliest and latest held times that are not those of the events held,
  /// refusals per interval that are empty, in another interval's slot, or more than
  /// the events refused, or an observation load_observation() refuses. The held requests
  /// share one copy of `schema`.
  void load(io::Reader& r, const Schema& schema);

 private:
  struct Tally {
    std::int64_t interval = IntervalClock::none;
    std::uint64_t count = 0;
  };
  static std::size_t index_of(std::int64_t k) { return static_cast<std::size_t>(static_cast<std::uint64_t>(k) % 64); }
  bool live(double wall, double stream) const;
  bool consistent(double t) const { return t >= held_first_ - tolerance_ && t <= held_last_ + tolerance_; }
  void count(std::uint64_t n, std::int64_t interval);
  void load_flags(io::Reader& r, double& offset, bool& replay) const;
  static void load_tallies(io::Reader& r, std::uint64_t future, std::array<Tally, 64>& recent);
  std::vector<HeldEvent> load_held(io::Reader& r, const Schema& schema) const;

  EventClock mode_;
  double tolerance_;
  double skew_;
  std::size_t evidence_;
  double offset_ = 0;  // added to the wall clock once a change was adopted against it
  bool replay_ = false;  // automatic: a change was adopted ahead of the wall clock
  std::vector<HeldEvent> held_;
  double held_first_ = 0;  // earliest and latest time held
  double held_last_ = 0;
  std::uint64_t future_ = 0;
  std::uint64_t changes_ = 0;
  std::array<Tally, 64> recent_{};  // refusals per interval, for the alert policy's window
};

/// Evidence that `future` of the `requests` + `future` events of an interval were dated too far
/// ahead and refused: warn, alert when their share reaches 5 × bad_value_share. Kind schema (the
/// time column is wrong for some source, whose requests the monitor does not see), on the
/// traffic family's `event_time` subject. The alert policy's persistence keeps a single stray
/// event from raising it.
inline void event_time_evidence(std::uint64_t future, std::uint64_t requests, const AlertPolicy& policy,
                                std::vector<Evidence>& out) {
  if (future == 0) return;
  const double share = static_cast<double>(future) / static_cast<double>(requests + future);
  const Severity severity = share >= 5 * policy.bad_value_share ? Severity::alert : Severity::warn;
  out.push_back(Evidence{AlertKind::schema, traffic_subject(TrafficSignal::event_time), severity, static_cast<double>(future),
                         std::numeric_limits<double>::quiet_NaN(),
                         std::to_string(future) + " event" + (future == 1 ? " was" : "s were") +
                             " dated too far ahead of the monitor's clock and refused (" + percent(share) +
                             " of the interval's events)."});
}

inline bool EventTimeGuard::live(double wall, double stream) const {
  if (mode_ != EventClock::automatic) return mode_ == EventClock::wall;
  if (replay_) return false;
  const double lag = wall - stream;
  return lag >= -skew_ && lag <= tolerance_;
}

inline double EventTimeGuard::bound(double wall, double stream) const {
  if (mode_ == EventClock::wall) return wall + offset_ + skew_;
  if (std::isnan(stream)) return std::numeric_limits<double>::infinity();
  return live(wall, stream) ? wall + skew_ : stream + tolerance_;
}

inline bool EventTimeGuard::hold(double t, const Observation* request, std::int64_t interval) {
  if (!held_.empty() && !consistent(t)) refuse_held(interval);
  if (held_.empty()) {
    held_first_ = t;
    held_last_ = t;
  }
  held_first_ = std::min(held_first_, t);
  held_last_ = std::max(held_last_, t);
  HeldEvent e;
  e.time = t;
  if (request != nullptr) e.request = std::make_unique<Observation>(*request);
  held_.push_back(std::move(e));
  return held_.size() >= evidence_;
}

inline void EventTimeGuard::refuse_held(std::int64_t interval) {
  count(held_.size(), interval);
  held_.clear();
}

inline std::vector<HeldEvent> EventTimeGuard::adopt(double wall) {
  if (mode_ == EventClock::wall) offset_ = std::max(offset_, held_last_ - wall);
  // A stream that ran ahead of the wall clock and kept going is a replay (of a synthetic
  // future, or a live reading taken for one): its own time is the reference from now on.
  if (mode_ == EventClock::automatic && held_last_ > wall + skew_) replay_ = true;
  ++changes_;
  std::vector<HeldEvent> out;
  out.swap(held_);
  return out;
}

inline void EventTimeGuard::count(std::uint64_t n, std::int64_t interval) {
  if (n == 0) return;
  future_ += n;
  Tally& tally = recent_[index_of(interval)];
  if (tally.interval != interval) tally = Tally{interval, 0};
  tally.count += n;
}

inline void EventTimeGuard::save(io::Writer& w) const {
  w.f64(offset_);
  save_bool(w, replay_);
  w.f64(held_first_);
  w.f64(held_last_);
  w.varint(future_);
  w.varint(changes_);
  // Refusals before the monitor's first interval are tallied under IntervalClock::none.
  const auto used = std::count_if(recent_.begin(), recent_.end(), [](const Tally& t) { return t.count != 0; });
  w.varint(static_cast<std::uint64_t>(used));
  for (const Tally& t : recent_) {
    if (t.count == 0) continue;
    w.i64(t.interval);
    w.varint(t.count);
  }
  w.varint(held_.size());
  for (const HeldEvent& e : held_) {
    w.f64(e.time);
    save_bool(w, e.request != nullptr);
    if (e.request) save_observation(w, *e.request);
  }
}

// The offset and the replay flag, checked against the clock mode: only the wall clock is
// offset (forward), only automatic mode turns to the stream.
inline void EventTimeGuard::load_flags(io::Reader& r, double& offset, bool& replay) const {
  offset = r.f64();
  if (!(std::isfinite(offset) && offset >= 0) || (offset != 0 && mode_ != EventClock::wall))
    r.fail("event time: an offset of the wall clock (" + std::to_string(offset) + ") this clock mode cannot have");
  replay = load_bool(r, "event time replay");
  if (replay && mode_ != EventClock::automatic) r.fail("event time: a replay's stream clock outside automatic mode");
}

inline void EventTimeGuard::load_tallies(io::Reader& r, std::uint64_t future, std::array<Tally, 64>& recent) {
  const std::size_t n = r.count(9);
  if (n > recent.size()) r.fail("event time: refusals of " + std::to_string(n) + " intervals, at most 64");
  std::uint64_t total = 0;
  for (std::size_t i = 0; i < n; ++i) {
    Tally t;
    t.interval = r.i64();
    t.count = r.varint();
    if (t.count == 0) r.fail("event time: an empty tally of refusals");
    Tally& slot = recent[index_of(t.interval)];
    if (slot.count != 0) r.fail("event time: two tallies of refusals in one slot");
    if (t.count > future - total) r.fail("event time: more refusals per interval than refusals");
    total += t.count;
    slot = t;
  }
}

inline std::vector<HeldEvent> EventTimeGuard::load_held(io::Reader& r, const Schema& schema) const {
  const std::size_t n = r.count(9);
  const std::size_t most = std::max<std::size_t>(evidence_, 1);
  if (n > most) r.fail("event time: " + std::to_string(n) + " events held, at most " + std::to_string(most));
  std::vector<HeldEvent> held(n);
  std::shared_ptr<const Schema> shared;
  for (HeldEvent& e : held) {
    e.time = load_finite(r, "held event time");
    if (!load_bool(r, "held request")) continue;
    if (!shared) shared = std::make_shared<const Schema>(schema);
    e.request = std::make_unique<Observation>(load_observation(r, shared));
  }
  return held;
}

inline void EventTimeGuard::load(io::Reader& r, const Schema& schema) {
  double offset = 0;
  bool replay = false;
  load_flags(r, offset, replay);
  const double held_first = load_finite(r, "earliest held time"), held_last = load_finite(r, "latest held time");
  const std::uint64_t future = r.varint(), changes = r.varint();
  std::array<Tally, 64> recent{};
  load_tallies(r, future, recent);
  std::vector<HeldEvent> held = load_held(r, schema);
  if (!held.empty()) {
    double first = held.front().time, last = first;
    for (const HeldEvent& e : held) first = std::min(first, e.time), last = std::max(last, e.time);
    if (first != held_first || last != held_last)
      r.fail("event time: the earliest and latest held times are not those of the events held");
  }
  offset_ = offset, replay_ = replay;
  held_first_ = held_first, held_last_ = held_last;
  future_ = future, changes_ = changes;
  recent_ = recent;
  held_ = std::move(held);
}

inline std::size_t EventTimeGuard::memory_bytes() const {
  std::size_t bytes = sizeof(*this) + held_.capacity() * sizeof(HeldEvent);
  for (const HeldEvent& e : held_)
    if (e.request) bytes += sizeof(Observation);
  return bytes;
}

}  // namespace detail
}  // namespace vigil

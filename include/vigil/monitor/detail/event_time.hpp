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

#include "vigil/monitor/alerts.hpp"
#include "vigil/monitor/detail/evidence_text.hpp"
#include "vigil/monitor/detail/interval_clock.hpp"
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

 private:
  struct Tally {
    std::int64_t interval = IntervalClock::none;
    std::uint64_t count = 0;
  };
  static std::size_t index_of(std::int64_t k) { return static_cast<std::size_t>(static_cast<std::uint64_t>(k) % 64); }
  bool live(double wall, double stream) const;
  bool consistent(double t) const { return t >= held_first_ - tolerance_ && t <= held_last_ + tolerance_; }
  void count(std::uint64_t n, std::int64_t interval);

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

inline std::size_t EventTimeGuard::memory_bytes() const {
  std::size_t bytes = sizeof(*this) + held_.capacity() * sizeof(HeldEvent);
  for (const HeldEvent& e : held_)
    if (e.request) bytes += sizeof(Observation);
  return bytes;
}

}  // namespace detail
}  // namespace vigil

// vigil — in-process monitoring of machine-learning models in C++ inference servers.
// SPDX-License-Identifier: Apache-2.0
//
// What a monitor family's analysis reads: the spans of event time an evaluation compares,
// the merged state of a span of retained intervals, and the few live figures of the intake.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "vigil/monitor/alerts.hpp"
#include "vigil/monitor/profile.hpp"
#include "vigil/monitor/subject.hpp"
#include "vigil/sketch/log_histogram.hpp"

namespace vigil {
namespace detail {

class LabelIntake;

/// The spans of event time one evaluation of interval `interval` compares, each [start, end).
struct EvaluationWindow {
  std::int64_t interval = 0;
  double recent_start = 0;  // the recent interval(s), to recent_end
  double recent_end = 0;
  double background_start = 0;  // the trailing background, to recent_start
  double horizon_start = 0;     // the long-term horizon, to recent_end
  double latency_start = 0;     // the latency window, to recent_end
  double latency_background_start = 0;  // the latency background, to latency_start
};

/// A family's states merged over the retained intervals of a span of time, with the requests
/// (observe() calls) and arrivals (on_arrival() calls) counted in them.
template <class State>
struct Merged {
  std::uint64_t requests = 0;
  std::uint64_t arrivals = 0;
  State state;
};

/// A family's view of the retained intervals of the slot being analysed: those lying within
/// [start, end), merged, or one by one, or only their requests counted.
template <class State>
struct History {
  std::function<Merged<State>(double start, double end)> merged;
  std::function<void(double start, double end, const std::function<void(std::uint64_t requests, const State&)>&)> each;
  std::function<std::uint64_t(double start, double end)> requests;

  Merged<State> operator()(double start, double end) const { return merged(start, end); }
};

/// The intake's live figures an evaluation may read, and the one setting of the request path
/// it writes (the latency family's slow threshold: a family that needs another live setting
/// adds it here and to Request).
class IntakeAccess {
 public:
  virtual ~IntakeAccess() = default;
  /// Whether the server reports arrivals (Monitor::on_arrival) apart from completions.
  virtual bool explicit_arrivals() const = 0;
  /// Arrivals minus completions since the first arrival.
  virtual std::int64_t in_flight() const = 0;
  /// Arrivals of fine interval k (completions without explicit arrivals), or NaN when
  /// retention no longer holds k at fine resolution.
  virtual double arrivals_in(std::int64_t k) const = 0;
  /// Event time of the latest arrival, or NaN.
  virtual double last_arrival() const = 0;
  /// What counts as a slow request from now on (NaN: nothing).
  virtual void set_slow_threshold(double seconds) = 0;
  virtual double slow_threshold() const = 0;
  /// The label path: labels joined and waiting for evaluation (the quality family).
  virtual LabelIntake* labels() = 0;
  /// Every latency of all requests in the intervals handed to retention so far, since the
  /// monitor started (LatencyReport::since_start).
  virtual LogHistogram latency_since_start() const = 0;
};

/// What every family's analysis of one interval shares.
struct EvaluationContext {
  const EvaluationWindow& window;
  const Profile& profile;
  const AlertPolicy& policy;
  IntakeAccess& intake;
  /// Per tag of the schema, its name.
  const std::vector<std::string>& tag_names;
  /// Per tag, its value names by id ("" for ids not given yet, "other" last).
  const std::vector<std::vector<std::string>>& tag_values;
  /// Whether the interval is the partial last one of a finished log.
  bool partial = false;
};

/// Raises the status of entry `index` of a report section's entries (a feature, an output) to
/// at least `status`; an index beyond them (a report of fewer entries) changes nothing.
template <class Entries>
void raise_status(Entries& entries, std::uint32_t index, Status status) {
  if (index < entries.size()) entries[index].status = worse(entries[index].status, status);
}

/// The requests a family analyses: every request (slot 0) or a cohort's.
struct SlotContext {
  std::size_t slot = 0;
  Cohort cohort;
};

}  // namespace detail
}  // namespace vigil

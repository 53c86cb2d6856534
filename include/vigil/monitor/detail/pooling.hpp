// vigil — in-process monitoring of machine-learning models in C++ inference servers.
// SPDX-License-Identifier: Apache-2.0
//
// The recent sample a family judges on a low-rate stream: when the recent interval(s) hold
// too few requests for the alert policy, earlier intervals join them, newest first.
#pragma once

#include <cmath>
#include <cstdint>

#include "vigil/monitor/detail/evaluation_context.hpp"
#include "vigil/monitor/options.hpp"

namespace vigil {
namespace detail {

/// The recent sample of one evaluation and the background it is compared with, merged.
template <class State>
struct PooledSample {
  Merged<State> recent;       // the pooled intervals, merged
  double start = 0;           // the pooled span: [start, window.recent_end)
  std::uint64_t intervals = 0;  // intervals of MonitorOptions::interval in it
  double background_start = 0;  // the background: [background_start, start)
  Merged<State> background;     // its intervals, merged
  /// Whether the pooled span holds the requests the policy needs (AlertPolicy::min_requests).
  bool enough = false;
};

/// The recent interval(s) of window `w`, pooled with earlier intervals, newest first, until
/// they hold `need` requests (by default `options.alerts.min_requests`) or reach back a whole background
/// (`options.background`; retention bounds it too, since only retained intervals count). The
/// background keeps its length behind the pooled span. When the recent interval(s) are
/// enough, this is exactly the unpooled window.
///
/// The shortest enough span is found by bisection over its length in intervals: a few counts
/// of the retained requests, and one merge of the states.
template <class State>
PooledSample<State> pool_recent(const History<State>& history, const EvaluationWindow& w, const MonitorOptions& options,
                                std::uint64_t need) {
  const auto recent = static_cast<std::uint64_t>(options.recent_intervals);
  const auto most = recent + static_cast<std::uint64_t>(std::floor(options.background / options.interval));
  const auto start_of = [&](std::uint64_t n) { return w.recent_end - static_cast<double>(n) * options.interval; };
  std::uint64_t length = recent;
  if (history.requests(start_of(recent), w.recent_end) < need) {
    length = most;
    if (history.requests(start_of(most), w.recent_end) >= need) {
      std::uint64_t low = recent;  // too few requests
      while (length - low > 1) {
        const std::uint64_t mid = low + (length - low) / 2;
        (history.requests(start_of(mid), w.recent_end) >= need ? length : low) = mid;
      }
    }
  }
  PooledSample<State> s;
  s.start = length == recent ? w.recent_start : start_of(length);
  s.intervals = length;
  s.background_start = s.start - options.background;
  s.recent = history(s.start, w.recent_end);
  s.background = history(s.background_start, s.start);
  s.enough = s.recent.requests >= need;
  return s;
}

template <class State>
PooledSample<State> pool_recent(const History<State>& history, const EvaluationWindow& w, const MonitorOptions& options) {
  return pool_recent(history, w, options, options.alerts.min_requests);
}

/// Whether a sample of `count` values is too small for a G-test over `groups` groups when it
/// was pooled: the chi-square approximation wants about 5 values expected per group (Cochran,
/// "Some methods for strengthening the common chi-square tests", Biometrics 10, 1954), and the
/// pooled spans of consecutive evaluations overlap, so persistence does not make up for a
/// test that is too eager. A sample of the recent interval(s) alone is judged as before.
template <class State>
bool too_small_for_g_test(const PooledSample<State>& s, const MonitorOptions& options, std::uint64_t count,
                          std::size_t groups) {
  return s.intervals > options.recent_intervals && count < 5 * static_cast<std::uint64_t>(groups);
}

}  // namespace detail
}  // namespace vigil

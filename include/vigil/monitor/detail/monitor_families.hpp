// vigil — in-process monitoring of machine-learning models in C++ inference servers.
// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "vigil/monitor/detail/interval_summary.hpp"
#include "vigil/monitor/features.hpp"
#include "vigil/monitor/latency.hpp"
#include "vigil/monitor/outputs.hpp"
#include "vigil/monitor/traffic.hpp"

namespace vigil {
namespace detail {

/// The families a Monitor composes (docs/concepts.md, "Monitor family"), in the order the
/// request path files a request into them and evaluation analyses them; the report does not
/// depend on it. The request path's order is the one the compiler turns into the fewest
/// instructions (checked with benchmarks/observe_count.cpp). A new family is one header
/// defining the concept's members, and one entry here.
template <class... Families>
struct FamilyList {
  using Plan = BasicMonitorPlan<Families...>;
  using Summary = BasicIntervalSummary<Families...>;
  /// Calls fn(family) for each of `families` (a tuple of family objects), in order.
  template <class Tuple, class Fn>
  static void for_each(Tuple& families, Fn&& fn) {
    (fn(std::get<Families>(families)), ...);
  }
};

using MonitorFamilies = FamilyList<TrafficFamily, LatencyFamily, FeatureFamily, OutputFamily>;
using MonitorPlan = MonitorFamilies::Plan;
using IntervalSummary = MonitorFamilies::Summary;

}  // namespace detail
}  // namespace vigil

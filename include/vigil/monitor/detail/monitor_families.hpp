// vigil — in-process monitoring of machine-learning models in C++ inference servers.
// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "vigil/monitor/attribution.hpp"
#include "vigil/monitor/canary.hpp"
#include "vigil/monitor/conversions.hpp"
#include "vigil/monitor/detail/interval_summary.hpp"
#include "vigil/monitor/features.hpp"
#include "vigil/monitor/latency.hpp"
#include "vigil/monitor/outputs.hpp"
#include "vigil/monitor/quality.hpp"
#include "vigil/monitor/traffic.hpp"

namespace vigil {
namespace detail {

/// The families a Monitor composes (docs/concepts.md, "Monitor family"), in the order the
/// request path files a request into them and evaluation analyses them. Neither the report
/// nor the interval summary's format depends on the order (summaries name each family's
/// state by its vigil::Family id), so it is the order that gives the request path the fewest
/// instructions (benchmarks/observe_count.cpp counts them). A new family is its header, an
/// entry here, a vigil::Family value, and its section's place in Report and the exports.
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

using MonitorFamilies =
    FamilyList<TrafficFamily, LatencyFamily, FeatureFamily, OutputFamily, QualityFamily, ConversionFamily, CanaryFamily,
               AttributionFamily>;
using MonitorPlan = MonitorFamilies::Plan;
using IntervalSummary = MonitorFamilies::Summary;

}  // namespace detail
}  // namespace vigil

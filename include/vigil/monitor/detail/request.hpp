// vigil — in-process monitoring of machine-learning models in C++ inference servers.
// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>
#include <limits>

#include "vigil/monitor/observation.hpp"

namespace vigil {
namespace detail {

/// A tag value's id in a request: none when the request has no value for the tag.
inline constexpr std::uint32_t no_tag = 0xffffffffu;

/// One request as the monitor families' interval states take it: the observation and what
/// the intake resolved for it once, for every family.
struct Request {
  const Observation& observation;
  /// Per tag of the schema, its value's id in the monitor's dictionary, or no_tag.
  const std::uint32_t* tag_ids;
  /// Latency in seconds above which the request counts as slow (NaN: nothing is slow).
  double slow_threshold;
  /// The request's event time as the intake placed it (NaN: Observation::time()).
  double time = std::numeric_limits<double>::quiet_NaN();
};

}  // namespace detail
}  // namespace vigil

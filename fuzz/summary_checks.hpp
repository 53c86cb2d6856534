// vigil — in-process monitoring of machine-learning models in C++ inference servers.
// SPDX-License-Identifier: Apache-2.0
//
// The checks of the interval summary fuzz targets: a summary read against a plan round-trips
// byte for byte, keeps its counts within the documented bound, and merged into a copy of
// itself still serialises and reads back.
#pragma once

#include <cmath>
#include <optional>
#include <vector>

#include "fuzz_checks.hpp"
#include "io/fixtures/fixture_inputs.hpp"

namespace vigil_fuzz {

using Summary = vigil::detail::IntervalSummary;

/// Whether a feature's shift is NaN: version 1 of the feature state may hold one (its
/// writers left a sum that values near the double range overflowed, and the reader keeps
/// it, as documented), and NaN compares unequal to itself.
inline bool has_nan_shift(const Summary& s) {
  for (const double shift : s.state<vigil::detail::FeatureFamily>().numeric_shift)
    if (std::isnan(shift)) return true;
  return false;
}

/// The byte-exact round trip against `plan`; the objects are compared too unless a NaN
/// shift makes operator== false for any copy.
inline void check_summary_round_trip(const Summary& s, const vigil::detail::MonitorPlan& plan) {
  const auto read = [&](const std::vector<std::uint8_t>& bytes) { return Summary::deserialize(bytes, plan); };
  if (!has_nan_shift(s)) return check_round_trip(s, read);
  std::vector<std::uint8_t> bytes;
  must_not_throw("serialize()", [&] { bytes = s.serialize(); });
  must_not_throw("deserialize(serialize())", [&] {
    require(read(bytes).serialize() == bytes, "serialize -> deserialize -> serialize changed the bytes");
  });
}

/// Counts within the documented bound, and a summary merged into a copy of itself still
/// serialises and reads back (a merge of two replicas' intervals is what the Monitor does).
inline void check_summary(const Summary& s, const vigil::detail::MonitorPlan& plan) {
  require(s.requests <= Summary::max_count && s.arrivals <= Summary::max_count,
          "interval summary: a count above the documented bound");
  check_summary_round_trip(s, plan);
  must_not_throw("interval summary: merge with itself", [&] {
    Summary m = s;
    m.merge(s);
    require(m.requests == 2 * s.requests, "interval summary: merge lost requests");
    m.compact();
    // A reader accepts counts up to 2^62 (docs/formats.md): the merge of two summaries near
    // that bound (which no interval of real traffic approaches) is exact but beyond it.
    if (m.requests <= Summary::max_count && m.arrivals <= Summary::max_count) check_summary_round_trip(m, plan);
  });
}

/// One fuzz input read against `plan`, checked when it is accepted.
inline int fuzz_summary(const std::uint8_t* data, std::size_t size, const vigil::detail::MonitorPlan& plan) {
  std::optional<Summary> s;
  if (!accepted("IntervalSummary::deserialize", [&] { s.emplace(Summary::deserialize(data, size, plan)); })) return 0;
  check_summary(*s, plan);
  return 0;
}

}  // namespace vigil_fuzz

// vigil — in-process monitoring of machine-learning models in C++ inference servers.
// SPDX-License-Identifier: Apache-2.0
//
// Fuzz target: detail::IntervalSummary::deserialize, the state of one interval of every
// monitor family, read against the plan of the frozen fixtures (tests/io/fixtures: the
// Profile fixture's schema at 10 bins per numeric feature), the plan the seeds were made for.
#include <cmath>
#include <optional>
#include <vector>

#include "fuzz_checks.hpp"
#include "io/fixtures/fixture_inputs.hpp"

namespace {

using Summary = vigil::detail::IntervalSummary;

const vigil::detail::MonitorPlan& plan() {
  static const vigil::detail::MonitorPlan p = vigil_fixtures::summary_plan();
  return p;
}

Summary read_summary(const std::vector<std::uint8_t>& bytes) { return Summary::deserialize(bytes, plan()); }

/// Whether a feature's shift is NaN: version 1 of the feature state may hold one (its
/// writers left a sum that values near the double range overflowed, and the reader keeps
/// it, as documented), and NaN compares unequal to itself.
bool has_nan_shift(const Summary& s) {
  for (const double shift : s.state<vigil::detail::FeatureFamily>().numeric_shift)
    if (std::isnan(shift)) return true;
  return false;
}

/// The byte-exact round trip; the objects are compared too unless a NaN shift makes
/// operator== false for any copy.
void check_summary_round_trip(const Summary& s) {
  if (!has_nan_shift(s)) return vigil_fuzz::check_round_trip(s, read_summary);
  std::vector<std::uint8_t> bytes;
  vigil_fuzz::must_not_throw("serialize()", [&] { bytes = s.serialize(); });
  vigil_fuzz::must_not_throw("deserialize(serialize())", [&] {
    vigil_fuzz::require(read_summary(bytes).serialize() == bytes, "serialize -> deserialize -> serialize changed the bytes");
  });
}

/// Counts within the documented bound, and a summary merged into a copy of itself still
/// serialises and reads back (a merge of two replicas' intervals is what the Monitor does).
void check_summary(const Summary& s) {
  vigil_fuzz::require(s.requests <= Summary::max_count && s.arrivals <= Summary::max_count,
                      "interval summary: a count above the documented bound");
  check_summary_round_trip(s);
  vigil_fuzz::must_not_throw("interval summary: merge with itself", [&] {
    Summary m = s;
    m.merge(s);
    vigil_fuzz::require(m.requests == 2 * s.requests, "interval summary: merge lost requests");
    m.compact();
    // A reader accepts counts up to 2^62 (docs/formats.md): the merge of two summaries near
    // that bound (which no interval of real traffic approaches) is exact but beyond it.
    if (m.requests <= Summary::max_count && m.arrivals <= Summary::max_count) check_summary_round_trip(m);
  });
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  plan();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::optional<Summary> s;
  if (!vigil_fuzz::accepted("IntervalSummary::deserialize", [&] { s.emplace(Summary::deserialize(data, size, plan())); }))
    return 0;
  check_summary(*s);
  return 0;
}

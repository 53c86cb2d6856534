// vigil — in-process monitoring of machine-learning models in C++ inference servers.
// SPDX-License-Identifier: Apache-2.0
//
// Fuzz target: detail::IntervalSummary::deserialize, the state of one interval of every
// monitor family, read against the plan of the frozen fixtures (tests/io/fixtures: the
// Profile fixture's schema at 10 bins per numeric feature), the plan the seeds were made for.
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

/// Counts within the documented bound, and a summary merged into a copy of itself still
/// serialises and reads back (a merge of two replicas' intervals is what the Monitor does).
void check_summary(const Summary& s) {
  vigil_fuzz::require(s.requests <= Summary::max_count && s.arrivals <= Summary::max_count,
                      "interval summary: a count above the documented bound");
  vigil_fuzz::check_round_trip(s, read_summary);
  vigil_fuzz::must_not_throw("interval summary: merge with itself", [&] {
    Summary m = s;
    m.merge(s);
    vigil_fuzz::require(m.requests == 2 * s.requests, "interval summary: merge lost requests");
    m.compact();
    vigil_fuzz::check_round_trip(m, read_summary);
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

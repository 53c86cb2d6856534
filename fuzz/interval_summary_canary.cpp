// vigil — in-process monitoring of machine-learning models in C++ inference servers.
// SPDX-License-Identifier: Apache-2.0
//
// Fuzz target: detail::IntervalSummary::deserialize with shadow outputs, read against the plan
// of the canary fixture (tests/io/fixtures: the fixture schema with a canary and a challenger,
// four deviating requests kept), so that the canary state's reader is reached.
#include "summary_checks.hpp"

namespace {

const vigil::detail::MonitorPlan& plan() {
  static const vigil::detail::MonitorPlan p = vigil_fixtures::canary_summary_plan();
  return p;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  plan();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return vigil_fuzz::fuzz_summary(data, size, plan());
}

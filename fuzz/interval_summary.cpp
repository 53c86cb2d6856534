// vigil — in-process monitoring of machine-learning models in C++ inference servers.
// SPDX-License-Identifier: Apache-2.0
//
// Fuzz target: detail::IntervalSummary::deserialize, the state of one interval of every
// monitor family, read against the plan of the frozen fixtures (tests/io/fixtures: the
// Profile fixture's schema at 10 bins per numeric feature), the plan the seeds were made for.
#include "summary_checks.hpp"

namespace {

const vigil::detail::MonitorPlan& plan() {
  static const vigil::detail::MonitorPlan p = vigil_fixtures::summary_plan();
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

// vigil — in-process monitoring of machine-learning models in C++ inference servers.
// SPDX-License-Identifier: Apache-2.0
#pragma once

namespace vigil::stats {

/// What a hypothesis test returns: its statistic and p-value, the probability under the null
/// hypothesis of a statistic at least as extreme. `TestResult{statistic, p_value}` builds
/// one; degrees_of_freedom is filled by the tests whose null distribution has them
/// (chi-square and G-tests) and is 0 otherwise.
struct TestResult {
  double statistic;
  double p_value;
  double degrees_of_freedom = 0;
};

}  // namespace vigil::stats

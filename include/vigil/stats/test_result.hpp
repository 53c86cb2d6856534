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

/// Which difference a test looks for. `greater` asks whether the first quantity (the share
/// of binomial_test, sample a of a two-sample test) exceeds the second, `less` whether it
/// falls below, `two_sided` whether they differ either way. The one-sided values keep their
/// numbers (0 and 1) so that code written before `two_sided` existed reads the same.
enum class Alternative : unsigned char { less, greater, two_sided };

}  // namespace vigil::stats

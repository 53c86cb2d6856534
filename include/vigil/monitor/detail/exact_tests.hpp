// vigil — in-process monitoring of machine-learning models in C++ inference servers.
// SPDX-License-Identifier: Apache-2.0
//
// Exact tests of the shares the data-quality rules judge (missing, out-of-range and unseen
// values): on the small samples of a low-rate stream an effect size alone is mostly noise.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

#include "vigil/stats/binomial.hpp"

namespace vigil {
namespace detail {

/// Whether `count` of `trials` lies further from a share `expected` than `tolerance` allows,
/// beyond chance: the exact one-sided binomial p-value of the null hypothesis that the true
/// share is within [expected − tolerance, expected + tolerance], taken at the bound on the
/// side of the observed share (P(X ≥ count) at expected + tolerance above it, P(X ≤ count) at
/// expected − tolerance below). 1 when the observed share is within the tolerance; NaN
/// without trials or without an expected share.
///
/// The tolerance makes the test judge the effect the policy cares about: against the bare
/// expected share, a single unseen category among 24 values would be significant when
/// training had none.
inline double beyond_tolerance_p_value(std::uint64_t count, std::uint64_t trials, double expected, double tolerance) {
  if (trials == 0 || std::isnan(expected)) return std::numeric_limits<double>::quiet_NaN();
  const double share = static_cast<double>(count) / static_cast<double>(trials);
  if (share > expected + tolerance)
    return stats::binomial_test(count, trials, std::min(1.0, expected + tolerance), stats::Alternative::greater).p_value;
  if (share < expected - tolerance)
    return stats::binomial_test(count, trials, std::max(0.0, expected - tolerance), stats::Alternative::less).p_value;
  return 1;
}

}  // namespace detail
}  // namespace vigil

// vigil — in-process monitoring of machine-learning models in C++ inference servers.
// SPDX-License-Identifier: Apache-2.0
//
// The missing-values rule the families share: how much a share of requests without a usable
// value may change before it is evidence, and the tests of that share against training and
// against the trailing background.
#pragma once

#include <cstdint>
#include <limits>
#include <vector>

#include "vigil/monitor/alerts.hpp"
#include "vigil/monitor/detail/comparisons.hpp"
#include "vigil/monitor/detail/evidence_text.hpp"
#include "vigil/monitor/subject.hpp"
#include "vigil/stats/binomial.hpp"
#include "vigil/stats/goodness_of_fit.hpp"
#include "vigil/stats/test_result.hpp"

namespace vigil {
namespace detail {

/// Severity of a change of a missing share (a difference of two shares): warn from
/// AlertPolicy::missing_rate_change, alert from four times it; 0 below, for a fall (a
/// negative change) and for NaN.
inline int missing_share_level(double change, const AlertPolicy& policy) {
  return severity_of(change, policy.missing_rate_change, 4 * policy.missing_rate_change);
}

/// Exact one-sided binomial test that `missing` of `requests` exceed a training share of
/// `reference_share` (stats::binomial_test, alternative greater): exact on the few requests
/// of a low-rate stream, and only a rise is evidence of a problem. NaN when there are no
/// requests or no training share.
inline stats::TestResult missing_share_test(std::uint64_t missing, std::uint64_t requests, double reference_share) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  if (requests == 0 || !(reference_share >= 0 && reference_share <= 1)) return {nan, nan};
  return stats::binomial_test(missing, requests, reference_share, stats::Alternative::greater);
}

/// G-test of `missing` of `requests` against `background_missing` of `background_requests`
/// (stats::g_test_proportions). NaN when either side has no requests.
inline stats::TestResult missing_share_shift(std::uint64_t missing, std::uint64_t requests,
                                             std::uint64_t background_missing, std::uint64_t background_requests) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  if (requests == 0 || background_requests == 0) return {nan, nan};
  return stats::g_test_proportions(static_cast<double>(missing), static_cast<double>(requests),
                                   static_cast<double>(background_missing), static_cast<double>(background_requests));
}

/// Schema evidence from values that arrived but are not finite numbers: `bad` of `given`,
/// warn from AlertPolicy::bad_value_share and alert from five times it; nothing while fewer
/// than AlertPolicy::min_requests values were given. `message(share)` makes the sentence.
template <class Message>
void non_finite_evidence(std::uint64_t bad, std::uint64_t given, const AlertPolicy& policy, const Subject& subject,
                         Message message, std::vector<Evidence>& out) {
  if (given == 0 || given < policy.min_requests) return;
  const double share = static_cast<double>(bad) / static_cast<double>(given);
  const int level = severity_of(share, policy.bad_value_share, 5 * policy.bad_value_share);
  if (level > 0)
    out.push_back(Evidence{AlertKind::schema, subject, severity_at(level), share,
                           std::numeric_limits<double>::quiet_NaN(), message(share)});
}

}  // namespace detail
}  // namespace vigil

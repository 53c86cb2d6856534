// vigil — in-process monitoring of machine-learning models in C++ inference servers.
// SPDX-License-Identifier: Apache-2.0
//
// `vigil replay` (docs/cli.md): a CSV log of requests through a Monitor in event time.
#pragma once

#include <ostream>

#include "options.hpp"

namespace vigil::tools {

/// Feeds every row of the input to a vigil::Monitor built on the reference's schema (plus the
/// tag columns), evaluating each interval as event time passes its end; writes every alert
/// raised or escalated to the alerts file, and the optional outputs (--intervals, --html,
/// --json, --prometheus), none of which changes what is detected; prints the summary.
/// Returns exit_ok; a bad option, file or column throws a Failure.
int run_replay(const Options& options, std::ostream& out, std::ostream& err);

}  // namespace vigil::tools

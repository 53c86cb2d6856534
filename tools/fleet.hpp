// vigil — in-process monitoring of machine-learning models in C++ inference servers.
// SPDX-License-Identifier: Apache-2.0
//
// `vigil merge` and `vigil report` (docs/cli.md): the snapshots of a monitor's replicas added
// up, and a snapshot reported on its own.
#pragma once

#include <ostream>

#include "options.hpp"

namespace vigil::tools {

int run_merge(const Options& options, std::ostream& out, std::ostream& err);
int run_report(const Options& options, std::ostream& out, std::ostream& err);

}  // namespace vigil::tools

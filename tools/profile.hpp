// vigil — in-process monitoring of machine-learning models in C++ inference servers.
// SPDX-License-Identifier: Apache-2.0
//
// `vigil profile` (docs/cli.md): the training reference of a model from a CSV file.
#pragma once

#include <ostream>

#include "options.hpp"

namespace vigil::tools {

/// Reads the training rows twice — once to decide each column's role (options first, then
/// numbers, text or times), once to add every row to a vigil::Profile — saves the profile and
/// prints one line per column. Notes go to `err`. Returns exit_ok; a bad option, file or
/// column throws a Failure.
int run_profile(const Options& options, std::ostream& out, std::ostream& err);

}  // namespace vigil::tools

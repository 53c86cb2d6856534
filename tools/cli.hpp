// vigil — in-process monitoring of machine-learning models in C++ inference servers.
// SPDX-License-Identifier: Apache-2.0
//
// The `vigil` command-line program (docs/cli.md): `vigil profile` builds a training reference
// from a CSV file, `vigil replay` feeds a CSV log of requests through a Monitor in event time
// and writes the alerts. run_cli() is the whole program, so that tests call it in-process;
// tools/vigil.cpp is only its main().
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "options.hpp"  // the exit codes

namespace vigil::tools {

/// Runs `vigil <command> [options]` with `args` (args[0] is the program name) and returns
/// the exit code. Results go to `out`; errors, notes and progress to `err`. Progress is shown
/// only when `err` is std::cerr and standard error is a terminal.
int run_cli(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

/// The same for main()'s arguments.
int run_cli(int argc, char** argv, std::ostream& out, std::ostream& err);

}  // namespace vigil::tools

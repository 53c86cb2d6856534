// vigil — in-process monitoring of machine-learning models in C++ inference servers.
// SPDX-License-Identifier: Apache-2.0
//
// The `vigil` command-line program; docs/cli.md describes its commands, and the vigil_tools
// library holds all of it (cli.hpp).
#include <iostream>

#include "cli.hpp"

int main(int argc, char** argv) {
  std::ios::sync_with_stdio(false);
  return vigil::tools::run_cli(argc, argv, std::cout, std::cerr);
}

// vigil — in-process monitoring of machine-learning models in C++ inference servers.
// SPDX-License-Identifier: Apache-2.0
//
// Fuzz target: CategoryCounts::deserialize.
#include "sketch_checks.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  vigil_fuzz::fuzz_sketch<vigil::CategoryCounts>("vigil::CategoryCounts::deserialize", [&] { return vigil::CategoryCounts::deserialize(data, size); });
  return 0;
}

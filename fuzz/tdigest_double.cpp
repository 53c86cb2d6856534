// vigil — in-process monitoring of machine-learning models in C++ inference servers.
// SPDX-License-Identifier: Apache-2.0
//
// Fuzz target: TDigest<double>::deserialize.
#include "sketch_checks.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  vigil_fuzz::fuzz_sketch<vigil::TDigest<double>>("vigil::TDigest<double>::deserialize", [&] { return vigil::TDigest<double>::deserialize(data, size); });
  return 0;
}

// vigil — in-process monitoring of machine-learning models in C++ inference servers.
// SPDX-License-Identifier: Apache-2.0
//
// Fuzz target: TimeWindows<TDigest<double>>::deserialize.
#include "time_windows_checks.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  vigil_fuzz::fuzz_windows<vigil::TDigest<>>("TimeWindows<TDigest<double>>::deserialize", data, size,
                                     [](vigil::TDigest<>& s, double x) { s.add(x); });
  return 0;
}

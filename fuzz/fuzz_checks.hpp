// vigil — in-process monitoring of machine-learning models in C++ inference servers.
// SPDX-License-Identifier: Apache-2.0
//
// What every fuzz target shares: how a refusal is told from a finding, and the byte-level
// round trip an accepted object must survive. A violated invariant prints what was violated
// and stops the process with a trap, which libFuzzer records as a crash with its input.
#pragma once

#include <cmath>
#include <cstdint>
#include <cxxabi.h>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <limits>
#include <string>
#include <typeinfo>
#include <vector>

#include <vigil/error.hpp>

namespace vigil_fuzz {

/// The step under way (a must_not_throw() stage), named in a finding's message.
inline const char*& current_stage() {
  static const char* stage = "decoding";
  return stage;
}

[[noreturn]] inline void violated(const char* what) {
  std::fprintf(stderr, "vigil fuzz: invariant violated: %s (while: %s)\n", what, current_stage());
  std::fflush(stderr);
  __builtin_trap();
}

inline void require(bool ok, const char* what) {
  if (!ok) violated(what);
}

[[noreturn]] inline void unexpected_exception(const char* stage, const char* type, const char* what) {
  int status = 0;
  char* readable = abi::__cxa_demangle(type, nullptr, nullptr, &status);
  std::fprintf(stderr, "vigil fuzz: %s threw %s: %s\n", stage, status == 0 ? readable : type, what);
  std::fflush(stderr);
  __builtin_trap();
}

/// Runs `decode`; true when it returned, false when it refused the input with
/// vigil::format_error, the one refusal a deserializer documents. Any other exception
/// (std::bad_alloc, std::length_error, vigil::invalid_argument, ...) is a finding.
template <class Decode>
bool accepted(const char* stage, Decode&& decode) {
  try {
    decode();
    return true;
  } catch (const vigil::format_error&) {
    return false;
  } catch (const std::exception& e) {
    unexpected_exception(stage, typeid(e).name(), e.what());
  } catch (...) {
    unexpected_exception(stage, "a non-standard exception", "");
  }
}

/// Runs a step on an accepted object that must not throw at all.
template <class Step>
void must_not_throw(const char* stage, Step&& step) {
  const char* outer = current_stage();
  current_stage() = stage;
  try {
    step();
    current_stage() = outer;
  } catch (const std::exception& e) {
    unexpected_exception(stage, typeid(e).name(), e.what());
  } catch (...) {
    unexpected_exception(stage, "a non-standard exception", "");
  }
}

inline std::vector<double> probe_values_for(const char* extremes) {
  const bool large = extremes == nullptr || std::string(extremes) != "0";
  std::vector<double> all = {
      0.0, -0.0, 1.0, -1.0, 0.5, 3.0, 1e-300, -1e-300, 4.9e-324,
      1e160, -1e160, 1e300, -1e300,
      std::numeric_limits<double>::max(), -std::numeric_limits<double>::max(),
      std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::infinity(),
      -std::numeric_limits<double>::infinity()};
  std::vector<double> kept;
  for (double x : all)
    if (large || !(std::fabs(x) >= 1e160 && std::isfinite(x))) kept.push_back(x);
  return kept;
}

/// Finite values and the extremes of the double range, for adding to an accepted object:
/// none of them may throw or leave a non-finite state behind. NaN and infinities are
/// refused and counted by every sketch.
///
/// With VIGIL_FUZZ_EXTREMES=0 in the environment the values of magnitude 1e160 and above
/// are left out: a defect the extremes trigger on every input would otherwise stop each run
/// at once, hiding whatever else a run could find.
inline const std::vector<double>& probe_values() {
  static const std::vector<double> values = probe_values_for(std::getenv("VIGIL_FUZZ_EXTREMES"));
  return values;
}

/// Probabilities at which quantiles are compared, in ascending order, both ends included.
inline const std::vector<double>& probe_probabilities() {
  static const std::vector<double> q = {0.0,  1e-12, 1e-6, 0.001, 0.01, 0.05, 0.1,   0.25, 1.0 / 3, 0.4333,
                                        0.4375, 0.5, 0.6, 0.75, 0.9, 0.95, 0.99, 0.999, 1 - 1e-9, 1.0};
  return q;
}

/// `value` lies in [lo, hi], allowing the rounding of a mean computed as sum / count.
inline bool within(double value, double lo, double hi) {
  const double slack = 1e-9 * std::fmax(std::fabs(lo), std::fabs(hi));
  return value >= lo - slack && value <= hi + slack;
}

/// Serialises `object`, reads the bytes back with `read` and serialises again: the object
/// must read its own bytes, the copy must equal it, and its bytes must be the same.
template <class T, class Read>
void check_round_trip(const T& object, Read&& read) {
  std::vector<std::uint8_t> bytes;
  must_not_throw("serialize()", [&] { bytes = object.serialize(); });
  must_not_throw("deserialize(serialize())", [&] {
    const T again = read(bytes);
    require(again.serialize() == bytes, "serialize -> deserialize -> serialize changed the bytes");
    require(again == object, "deserialize(serialize(x)) != x");
  });
}

}  // namespace vigil_fuzz

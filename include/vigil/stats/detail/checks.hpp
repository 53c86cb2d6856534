// vigil — in-process monitoring of machine-learning models in C++ inference servers.
// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cmath>
#include <cstddef>
#include <string>

#include "vigil/error.hpp"

namespace vigil::stats::detail {

// Input checks shared by the statistics headers. Each names the function, the argument and
// the offending element, so that a caller can find the bad value in its own data.

[[noreturn]] VIGIL_NOINLINE inline void throw_bad_element(const char* function, const char* name,
                                                          std::size_t index, double value,
                                                          const char* why) {
  vigil::detail::throw_invalid_argument(std::string("vigil::stats::") + function + ": " + name + "[" +
                                        std::to_string(index) + "] = " + vigil::detail::to_text(value) +
                                        " " + why);
}

[[noreturn]] VIGIL_NOINLINE inline void throw_bad_argument(const char* function, const std::string& what) {
  vigil::detail::throw_invalid_argument(std::string("vigil::stats::") + function + ": " + what);
}

/// Throws unless every value is finite.
inline void check_finite(const char* function, const char* name, const double* values, std::size_t size) {
  for (std::size_t i = 0; i < size; ++i) {
    if (VIGIL_UNLIKELY(!std::isfinite(values[i]))) throw_bad_element(function, name, i, values[i], "is not finite");
  }
}

/// Throws unless every value is finite and ≥ 0; returns their sum.
inline double check_counts(const char* function, const char* name, const double* values, std::size_t size) {
  double sum = 0;
  for (std::size_t i = 0; i < size; ++i) {
    const double v = values[i];
    if (VIGIL_UNLIKELY(!std::isfinite(v))) throw_bad_element(function, name, i, v, "is not finite");
    if (VIGIL_UNLIKELY(v < 0)) throw_bad_element(function, name, i, v, "is negative");
    sum += v;
  }
  return sum;
}

/// Throws when a sample is empty.
inline void check_not_empty(const char* function, const char* name, std::size_t size) {
  if (VIGIL_UNLIKELY(size == 0)) throw_bad_argument(function, std::string(name) + " is empty");
}

/// Throws when two arrays that pair up element by element differ in length.
inline void check_same_size(const char* function, const char* name_a, std::size_t size_a, const char* name_b,
                            std::size_t size_b) {
  if (VIGIL_UNLIKELY(size_a != size_b)) {
    throw_bad_argument(function, std::string(name_a) + " has " + std::to_string(size_a) + " values but " + name_b +
                                     " has " + std::to_string(size_b));
  }
}

/// Sum with Neumaier's compensation: the error does not grow with the number of terms, so
/// sums of 10^5 terms agree with NumPy's pairwise sums to about one rounding.
class CompensatedSum {
 public:
  void add(double x) {
    if (VIGIL_UNLIKELY(!std::isfinite(x))) {
      special_ += x;
      return;
    }
    const double t = sum_ + x;
    if (std::fabs(sum_) >= std::fabs(x)) {
      compensation_ += (sum_ - t) + x;
    } else {
      compensation_ += (x - t) + sum_;
    }
    sum_ = t;
  }
  double value() const { return special_ != 0 ? special_ : sum_ + compensation_; }

 private:
  double special_ = 0;  // sum of the infinite terms (NaN if they disagree), kept apart
  double sum_ = 0;
  double compensation_ = 0;
};

}  // namespace vigil::stats::detail

// vigil — in-process monitoring of machine-learning models in C++ inference servers.
// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <chrono>
#include <cmath>
#include <cstdint>
#include <limits>

namespace vigil {
namespace detail {

/// Interval numbers: interval k covers [k·width, (k + 1)·width) of Unix seconds.
struct IntervalClock {
  static constexpr std::int64_t none = std::numeric_limits<std::int64_t>::min();
  double width;

  std::int64_t of(double t) const { return static_cast<std::int64_t>(std::floor(t / width)); }
  double start(std::int64_t k) const { return static_cast<double>(k) * width; }
  // Finite, and fewer than 2^46 intervals from the epoch (a minute's intervals reach past
  // the year 10^8): NaN, ±inf and absurd times (say 1e300) are bad times, not undefined
  // behaviour, and every interval number fits the 47 bits a waiting request keeps of it
  // (LabelStore::max_interval).
  bool usable(double t) const { return std::fabs(t / width) < max_intervals; }
  static constexpr double max_intervals = 70368744177664.0;  // 2^46
};

/// Seconds since the Unix epoch, now.
inline double wall_clock_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace detail
}  // namespace vigil

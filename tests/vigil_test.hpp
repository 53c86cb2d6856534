// Test-suite helpers shared by every test file: Catch2 v2 or v3, data paths, exact references.
#pragma once

#ifdef VIGIL_CATCH3
#include <catch2/catch_all.hpp>
using Catch::Approx;
#else
#include <catch2/catch.hpp>
#endif

#include <algorithm>
#include <cstddef>
#include <string>
#include <vector>

namespace vigil_test {

/// Absolute path of a file under tests/ (golden data and the like).
inline std::string data_path(const std::string& relative) { return std::string(VIGIL_TEST_DATA_DIR) + "/" + relative; }

/// Absolute path of a file in the source tree (bundled datasets under data/).
inline std::string source_path(const std::string& relative) { return std::string(VIGIL_SOURCE_DIR) + "/" + relative; }

/// The rank interval [F(x-), F(x)] of `x` in `sorted`: the fractions of values strictly below
/// and at most `x`. An estimate x of the q-quantile is exact when q lies in this interval.
struct RankInterval {
  double below;
  double at_most;
  /// Distance from q to the interval; zero when x is a correct q-quantile.
  double error(double q) const { return q < below ? below - q : (q > at_most ? q - at_most : 0.0); }
};

inline RankInterval rank_interval(const std::vector<double>& sorted, double x) {
  const auto n = static_cast<double>(sorted.size());
  const auto lo = std::lower_bound(sorted.begin(), sorted.end(), x) - sorted.begin();
  const auto hi = std::upper_bound(sorted.begin(), sorted.end(), x) - sorted.begin();
  return {static_cast<double>(lo) / n, static_cast<double>(hi) / n};
}

}  // namespace vigil_test

// Test-suite helpers shared by every test file: Catch2 v2 or v3, data paths, exact references.
#pragma once

#ifdef VIGIL_CATCH3
#include <catch2/catch_all.hpp>
using Catch::Approx;
#else
#include <catch2/catch.hpp>
#endif

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <string>
#include <vector>

namespace vigil_test {

/// The message of the exception `fn()` throws, or "(nothing thrown)": for checks of what an
/// error says, the same under Catch2 v2 and v3.
template <class Fn>
std::string thrown_message(Fn&& fn) {
  try {
    fn();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "(nothing thrown)";
}

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


/// The first `n` bytes of `bytes`: a serialised summary cut short, for load() error tests.
inline std::vector<std::uint8_t> truncated(const std::vector<std::uint8_t>& bytes, std::size_t n) {
  return std::vector<std::uint8_t>(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(n));
}

/// A small, fast, seeded generator (SplitMix64) for scenario tests that draw millions of
/// values: the same seed gives the same stream on every platform, unlike <random>'s
/// distributions.
class Random {
 public:
  explicit Random(std::uint64_t seed) : state_(seed) {}
  /// Uniform on [0, 1).
  double uniform() {
    std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return static_cast<double>((z ^ (z >> 31)) >> 11) * 0x1.0p-53;
  }
  /// Standard normal (Box-Muller).
  double normal() {
    const double u = 1 - uniform();
    return std::sqrt(-2 * std::log(u)) * std::cos(2 * 3.14159265358979323846 * uniform());
  }
  /// Time to the next arrival of a Poisson stream with `rate` per second.
  double gap(double rate) { return -std::log(1 - uniform()) / rate; }

 private:
  std::uint64_t state_;
};

/// The bin of x among sorted edges as std::lower_bound counts it: edges strictly below x.
inline std::size_t reference_bin(const std::vector<double>& edges, double x) {
  return static_cast<std::size_t>(std::lower_bound(edges.begin(), edges.end(), x) - edges.begin());
}

}  // namespace vigil_test

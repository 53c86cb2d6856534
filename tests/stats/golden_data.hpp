// Reader for the golden data written by tests/stats/golden/generate.py, and the tolerance
// every statistics test asserts against SciPy.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "vigil_test.hpp"

namespace vigil_test::golden {

/// One line of a golden file, split at spaces; `#` lines are skipped by read().
using Case = std::vector<std::string>;

inline std::vector<Case> read(const std::string& file) {
  std::ifstream in(data_path("stats/golden/" + file));
  if (!in) throw std::runtime_error("cannot open golden file " + file);
  std::vector<Case> cases;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream fields(line);
    Case c;
    for (std::string field; fields >> field;) c.push_back(field);
    cases.push_back(c);
  }
  return cases;
}

inline double number(const std::string& text) {
  if (text == "nan") return std::nan("");
  if (text == "inf") return HUGE_VAL;
  if (text == "-inf") return -HUGE_VAL;
  return std::strtod(text.c_str(), nullptr);
}

/// splitmix64, the generator generate.py uses for its `gen:` samples.
class SplitMix64 {
 public:
  explicit SplitMix64(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }

 private:
  std::uint64_t state_;
};

/// The values a `list:` or `gen:kind:n:seed:shift` field stands for.
inline std::vector<double> values(const std::string& spec) {
  std::vector<double> out;
  if (spec.rfind("list:", 0) == 0) {
    std::istringstream items(spec.substr(5));
    for (std::string item; std::getline(items, item, ',');) out.push_back(number(item));
    return out;
  }
  if (spec.rfind("gen:", 0) != 0) throw std::runtime_error("bad sample spec " + spec);
  std::istringstream parts(spec.substr(4));
  std::string kind, n, seed, shift;
  std::getline(parts, kind, ':');
  std::getline(parts, n, ':');
  std::getline(parts, seed, ':');
  std::getline(parts, shift, ':');
  SplitMix64 rng(std::stoull(seed));
  const double offset = number(shift);
  const auto count = std::stoull(n);
  if (kind != "u" && kind[0] != 'd' && kind[0] != 's') throw std::runtime_error("bad sample kind " + kind);
  const double levels = kind[0] == 'd' ? std::stod(kind.substr(1)) : 0.0;
  const double scale = kind[0] == 's' ? std::ldexp(1.0, std::stoi(kind.substr(1))) : 0.0;
  out.reserve(count);
  for (std::uint64_t i = 0; i < count; ++i) {
    const double u = static_cast<double>(rng.next() >> 11) * 0x1p-53;
    double v = u;
    if (kind[0] == 'd') v = std::floor(u * levels);
    if (kind[0] == 's') v = std::floor(u * scale) / scale;
    out.push_back(v + offset);
  }
  return out;
}

/// A scored sample of classification.txt and calibration.txt (generate.py): labels from a
/// spec, and score = (s + sep·y) / (1 + sep) for the values s of the scores spec.
struct ScoredSample {
  std::vector<double> scores;
  std::vector<int> labels;
};

inline ScoredSample scored(const std::string& scores_spec, const std::string& labels_spec, const std::string& sep) {
  const std::vector<double> s = values(scores_spec);
  const std::vector<double> y = values(labels_spec);
  const double separation = number(sep);
  ScoredSample out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    out.labels.push_back(static_cast<int>(y[i]));
    out.scores.push_back((s[i] + separation * y[i]) / (1 + separation));
  }
  return out;
}

/// Largest errors seen by a test, printed at its end so that reports can quote them.
struct ErrorLog {
  double max_relative = 0;
  double max_absolute = 0;
  void add(double actual, double expected) {
    if (std::isinf(expected) || std::isnan(expected) || actual == expected) return;
    const double absolute = std::fabs(actual - expected);
    max_absolute = std::max(max_absolute, absolute);
    if (expected != 0) max_relative = std::max(max_relative, absolute / std::fabs(expected));
  }
};

/// A statistic agrees with SciPy: within 1e-12 relative (or exactly, at 0).
inline bool statistic_agrees(double actual, double expected) {
  if (std::isnan(expected)) return std::isnan(actual);
  if (std::isinf(expected)) return actual == expected;
  return std::fabs(actual - expected) <= 1e-12 * std::fabs(expected) ||
         std::fabs(actual - expected) <= 1e-300;
}

/// A p-value agrees with SciPy: within 1e-10 absolute or 1e-8 relative, whichever is looser.
inline bool p_value_agrees(double actual, double expected) {
  if (std::isnan(expected)) return std::isnan(actual);
  const double error = std::fabs(actual - expected);
  return error <= 1e-10 || error <= 1e-8 * std::fabs(expected);
}

}  // namespace vigil_test::golden

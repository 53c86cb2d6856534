// The Numenta Anomaly Benchmark's score of one detector on one labelled file, written from the
// rules of Lavin & Ahmad, "Evaluating Real-time Anomaly Detection Algorithms – the Numenta
// Anomaly Benchmark", IEEE ICMLA 2015 (as summarised in data/nyc_taxi/README.md), so that the
// traffic detector's figures can be set beside the published ones for the same file.
#pragma once

#include <cmath>
#include <cstddef>
#include <vector>

namespace vigil_test {

/// A labelled anomaly window: the rows first … last of the file, both included.
struct NabWindow {
  std::size_t first = 0;
  std::size_t last = 0;
  std::size_t rows() const { return last - first + 1; }
};

/// The weights of a NAB application profile: a true positive at the start of a window earns
/// `tp`, a false positive costs up to `fp`, a window without detection costs `fn`.
struct NabProfile {
  double tp = 1;
  double fp = 0.11;
  double fn = 1;
};

inline NabProfile nab_standard() { return {1, 0.11, 1}; }
inline NabProfile nab_reward_low_fp() { return {1, 0.22, 1}; }
inline NabProfile nab_reward_low_fn() { return {1, 0.11, 2}; }

/// NAB's scaled sigmoid S(y) = 2/(1 + e^{5y}) − 1: +0.987 at y = −1 (the start of a window,
/// measured back from its end), 0 at its end, towards −1 well after it.
inline double nab_sigmoid(double y) { return 2 / (1 + std::exp(5 * y)) - 1; }

/// A file's score under a profile, with what made it up.
struct NabScore {
  double raw = 0;          // Σ true-positive scores + Σ false-positive scores − fn·missed
  double normalised = 0;   // 100·(raw − null)/(perfect − null)
  std::size_t detected = 0;         // windows with a detection
  std::size_t false_positives = 0;  // scored detections outside every window
  double true_positive_sum = 0;
  double false_positive_sum = 0;    // ≤ 0
};

/// The probationary rows of a file of `rows` rows: the first 15 %, at most 750, are not scored.
inline std::size_t nab_probation(std::size_t rows) {
  const auto fifteen_percent = static_cast<std::size_t>(std::floor(0.15 * static_cast<double>(rows)));
  return fifteen_percent < 750 ? fifteen_percent : 750;
}

namespace nab_detail {

// The window holding `row`, or nullptr.
inline const NabWindow* window_of(std::size_t row, const std::vector<NabWindow>& windows) {
  for (const NabWindow& w : windows)
    if (row >= w.first && row <= w.last) return &w;
  return nullptr;
}

// The latest window that ended before `row`, or nullptr.
inline const NabWindow* window_before(std::size_t row, const std::vector<NabWindow>& windows) {
  const NabWindow* before = nullptr;
  for (const NabWindow& w : windows)
    if (w.last < row && (before == nullptr || w.last > before->last)) before = &w;
  return before;
}

// A detection outside every window: −1 before the first window, else S of its distance past
// the previous window's end in units of that window's length.
inline double false_positive_weight(std::size_t row, const std::vector<NabWindow>& windows) {
  const NabWindow* before = window_before(row, windows);
  if (before == nullptr) return -1;
  const double distance = static_cast<double>(row - before->last) / static_cast<double>(before->rows() - 1);
  return nab_sigmoid(distance);
}

}  // namespace nab_detail

/// The NAB score of a detector that fired at the rows `detections` (in any order) of a file of
/// `rows` rows labelled with `windows` (disjoint, in row order). Rows in the probation are not
/// scored; in each window only the earliest detection counts, scoring
/// tp·S(−(last − i + 1)/rows)/S(−1); each detection outside the windows scores fp·S(d).
inline NabScore nab_score(const std::vector<std::size_t>& detections, std::size_t rows,
                          const std::vector<NabWindow>& windows, NabProfile profile) {
  const std::size_t probation = nab_probation(rows);
  std::vector<std::size_t> earliest(windows.size(), rows);
  NabScore s;
  for (std::size_t row : detections) {
    if (row < probation || row >= rows) continue;
    if (const NabWindow* w = nab_detail::window_of(row, windows)) {
      std::size_t& first = earliest[static_cast<std::size_t>(w - windows.data())];
      if (row < first) first = row;
      continue;
    }
    s.false_positive_sum += profile.fp * nab_detail::false_positive_weight(row, windows);
    ++s.false_positives;
  }
  std::size_t missed = 0;
  for (std::size_t k = 0; k < windows.size(); ++k) {
    if (earliest[k] == rows) {
      ++missed;
      continue;
    }
    const double position = -static_cast<double>(windows[k].last - earliest[k] + 1) / static_cast<double>(windows[k].rows());
    s.true_positive_sum += profile.tp * nab_sigmoid(position) / nab_sigmoid(-1);
    ++s.detected;
  }
  s.raw = s.true_positive_sum + s.false_positive_sum - profile.fn * static_cast<double>(missed);
  const double null_score = -profile.fn * static_cast<double>(windows.size());
  const double perfect = profile.tp * static_cast<double>(windows.size());
  s.normalised = perfect > null_score ? 100 * (s.raw - null_score) / (perfect - null_score) : 0;
  return s;
}

}  // namespace vigil_test

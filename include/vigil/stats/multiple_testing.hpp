// vigil — in-process monitoring of machine-learning models in C++ inference servers.
// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <numeric>
#include <vector>

#include "vigil/stats/detail/checks.hpp"

/// Adjusted p-values for many simultaneous tests (one per feature, per cohort, ...), so that
/// "p < α" keeps its meaning over the whole family. Each function returns the adjusted
/// p-values in the input order, equal to statsmodels
/// `multipletests(p, method=...)[1]` (statsmodels 0.13).
///
/// Bad input: a p-value that is NaN or outside [0, 1] throws vigil::invalid_argument naming
/// it. An empty input gives an empty output.
namespace vigil::stats {

/// Which family-wise or false-discovery correction adjust_p_values applies.
enum class Correction {
  bonferroni,          ///< controls the family-wise error rate, any dependence
  holm,                ///< FWER, any dependence; uniformly more powerful than Bonferroni
  benjamini_hochberg,  ///< controls the false discovery rate; independent or positively dependent tests
};

namespace detail {

inline void check_p_values(const char* function, const std::vector<double>& p_values) {
  for (std::size_t i = 0; i < p_values.size(); ++i) {
    const double p = p_values[i];
    if (!(p >= 0 && p <= 1)) throw_bad_element(function, "p_values", i, p, "is not a probability in [0, 1]");
  }
}

inline std::vector<std::size_t> ascending_order(const std::vector<double>& values) {
  std::vector<std::size_t> order(values.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](std::size_t i, std::size_t j) { return values[i] < values[j]; });
  return order;
}

}  // namespace detail

/// Bonferroni adjustment: min(1, m·pᵢ) for m tests. O(m).
/// Reference: Dunn, "Multiple comparisons among means", JASA 56, 1961.
inline std::vector<double> bonferroni(const std::vector<double>& p_values) {
  detail::check_p_values("bonferroni", p_values);
  const double m = static_cast<double>(p_values.size());
  std::vector<double> adjusted(p_values.size());
  for (std::size_t i = 0; i < p_values.size(); ++i) adjusted[i] = std::min(p_values[i] * m, 1.0);
  return adjusted;
}

/// Holm's step-down adjustment: with p₍₁₎ ≤ … ≤ p₍ₘ₎, the i-th smallest becomes
/// min(1, max_{j ≤ i} (m − j + 1)·p₍ⱼ₎). O(m log m).
/// Reference: Holm, "A simple sequentially rejective multiple test procedure",
/// Scand. J. Statist. 6, 1979.
inline std::vector<double> holm(const std::vector<double>& p_values) {
  detail::check_p_values("holm", p_values);
  const std::size_t m = p_values.size();
  const auto order = detail::ascending_order(p_values);
  std::vector<double> adjusted(m);
  double running = 0;
  for (std::size_t rank = 0; rank < m; ++rank) {
    running = std::max(running, p_values[order[rank]] * static_cast<double>(m - rank));
    adjusted[order[rank]] = std::min(running, 1.0);
  }
  return adjusted;
}

/// Benjamini-Hochberg step-up adjustment (FDR): with p₍₁₎ ≤ … ≤ p₍ₘ₎, the i-th smallest
/// becomes min(1, min_{j ≥ i} p₍ⱼ₎ / (j/m)). O(m log m).
/// Reference: Benjamini & Hochberg, "Controlling the false discovery rate", JRSS B 57, 1995.
inline std::vector<double> benjamini_hochberg(const std::vector<double>& p_values) {
  detail::check_p_values("benjamini_hochberg", p_values);
  const std::size_t m = p_values.size();
  const auto order = detail::ascending_order(p_values);
  std::vector<double> adjusted(m);
  double running = 1;
  for (std::size_t rank = m; rank-- > 0;) {
    const double fraction = static_cast<double>(rank + 1) / static_cast<double>(m);
    running = std::min(running, p_values[order[rank]] / fraction);
    adjusted[order[rank]] = running;
  }
  return adjusted;
}

/// The adjustment named by `correction`.
inline std::vector<double> adjust_p_values(const std::vector<double>& p_values, Correction correction) {
  switch (correction) {
    case Correction::bonferroni:
      return bonferroni(p_values);
    case Correction::holm:
      return holm(p_values);
    case Correction::benjamini_hochberg:
      break;
  }
  return benjamini_hochberg(p_values);
}

}  // namespace vigil::stats

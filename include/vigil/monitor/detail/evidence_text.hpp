// vigil — in-process monitoring of machine-learning models in C++ inference servers.
// SPDX-License-Identifier: Apache-2.0
//
// Severity levels and the small number formats of the sentences alerts carry.
#pragma once

#include <cmath>
#include <cstdio>
#include <string>

#include "vigil/monitor/alerts.hpp"

namespace vigil {
namespace detail {

/// Severity of an effect against warn/alert thresholds; 0 when below warn.
inline int severity_of(double effect, double warn, double alert) {
  if (!(effect >= warn)) return 0;
  return effect >= alert ? 2 : 1;
}

/// The Severity of a level from severity_of() (1 or 2).
inline Severity severity_at(int level) { return level == 2 ? Severity::alert : Severity::warn; }

/// A number with `digits` decimals, "n/a" for NaN.
inline std::string fixed(double v, int digits = 2) {
  if (std::isnan(v)) return "n/a";
  char text[64];
  std::snprintf(text, sizeof text, "%.*f", digits, v);
  return text;
}

/// A share as a percentage with one decimal: "12.5 %".
inline std::string percent(double share) { return fixed(100 * share, 1) + " %"; }

/// A small probability for a sentence: "0.67 %", "4.5e-05".
inline std::string chance(double p) {
  if (!(p >= 1e-3)) {
    char buffer[32];
    std::snprintf(buffer, sizeof buffer, "%.1e", p);
    return buffer;
  }
  return percent(p);
}

}  // namespace detail
}  // namespace vigil

// vigil — in-process monitoring of machine-learning models in C++ inference servers.
// SPDX-License-Identifier: Apache-2.0
//
// Checks of a decoded TimeWindows<Sketch>: its intervals are contiguous, each sketch inside
// passes its own checks, merges over them and further events keep every invariant, and the
// bytes round-trip. `Add` files a value into a sketch (add or record).
#pragma once

#include <cmath>
#include <cstdint>
#include <optional>
#include <vector>

#include <vigil/sketch/time_windows.hpp>

#include "sketch_checks.hpp"

namespace vigil_fuzz {

template <class Sketch>
void check_windows_state(const vigil::TimeWindows<Sketch>& w) {
  const vigil::TimeWindowsOptions& o = w.options();
  require(w.sketch_count() == o.fine_count + o.coarse_count + 1, "TimeWindows: sketch_count() differs from the options");
  check_state(w.prototype());
  if (w.empty()) return;
  require(std::isfinite(w.current_start()) && std::isfinite(w.watermark()), "TimeWindows: clock not finite");
  std::optional<double> previous_end;
  w.for_each([&](const auto& interval) {
    require(std::isfinite(interval.start) && interval.start < interval.end, "TimeWindows: an interval not finite and ordered");
    require(!previous_end || *previous_end == interval.start, "TimeWindows: intervals not contiguous");
    previous_end = interval.end;
    check_state(*interval.sketch);
  });
  check_state(w.merge_last(o.fine_width * static_cast<double>(o.fine_count)));
  check_state(w.merge_last(std::numeric_limits<double>::max()));
}

template <class Sketch>
vigil::TimeWindows<Sketch> read_windows(const std::vector<std::uint8_t>& bytes) {
  return vigil::TimeWindows<Sketch>::deserialize(bytes);
}

/// Events at the watermark, one interval on, too late, at a NaN time and far in the future.
template <class Sketch, class Add>
void check_windows_use(const vigil::TimeWindows<Sketch>& w, Add&& add) {
  check_round_trip(w, read_windows<Sketch>);
  must_not_throw("TimeWindows: further events", [&] {
    vigil::TimeWindows<Sketch> a = w;
    const vigil::TimeWindowsOptions& o = w.options();
    const double t = w.empty() ? 1.7e9 : w.watermark();
    for (double time : {t, t + o.fine_width, t - 2 * o.lateness - o.fine_width, std::nan(""), t + 3 * o.coarse_width}) {
      if (Sketch* s = a.at(time)) add(*s, 1.5);
    }
    a.advance(t + 5 * o.coarse_width);
    check_windows_state(a);
    check_round_trip(a, read_windows<Sketch>);
  });
}

template <class Sketch, class Add>
void fuzz_windows(const char* what, const std::uint8_t* data, std::size_t size, Add&& add) {
  std::optional<vigil::TimeWindows<Sketch>> w;
  if (!accepted(what, [&] { w.emplace(vigil::TimeWindows<Sketch>::deserialize(data, size)); })) return;
  must_not_throw("queries of the decoded windows", [&] { check_windows_state(*w); });
  check_windows_use(*w, add);
}

}  // namespace vigil_fuzz

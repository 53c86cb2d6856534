// vigil — in-process monitoring of machine-learning models in C++ inference servers.
// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include "vigil/config.hpp"
#include "vigil/monitor/detail/request.hpp"
#include "vigil/monitor/detail/state_arrays.hpp"

namespace vigil {
namespace detail {

/// The traffic family's plan: nothing to derive from the profile.
struct TrafficPlan {
  TrafficPlan request_path() const { return *this; }
  std::size_t memory_bytes() const { return sizeof(*this); }
};

/// The traffic family's state of one interval: requests by how they ended. (Arrivals and
/// completions are the interval summary's own counts, kept by the intake.)
struct TrafficState {
  static constexpr std::uint8_t format_version = 1;
  std::array<std::uint64_t, 3> status_counts{};  // by RequestStatus

  TrafficState() = default;
  explicit TrafficState(const TrafficPlan&) {}

  VIGIL_INLINE void apply(const TrafficPlan&, const Request& request) {
    ++status_counts[static_cast<int>(request.observation.status())];
  }
  std::uint64_t count(RequestStatus status) const { return status_counts[static_cast<int>(status)]; }

  void merge(const TrafficState& o) { add_all(status_counts, o.status_counts); }
  void clear() { status_counts.fill(0); }
  void compact() {}
  std::size_t memory_bytes() const { return 0; }
  friend bool operator==(const TrafficState& a, const TrafficState& b) { return a.status_counts == b.status_counts; }

  /// Payload of format version 1 (docs/formats.md).
  void serialize(io::Writer& w) const { write_counts(w, status_counts); }
  static TrafficState deserialize(io::Reader& r, const TrafficPlan&) {
    TrafficState s;
    read_counts(r, s.status_counts, "request statuses");
    return s;
  }
  /// Throws vigil::format_error (through `r`) unless the statuses add up to `requests`.
  void check(const TrafficPlan&, std::uint64_t requests, const io::Reader& r) const {
    if (sum_of(status_counts, 0, status_counts.size()) != requests) r.fail("request statuses do not add up to the requests");
  }
};

}  // namespace detail
}  // namespace vigil

// vigil — in-process monitoring of machine-learning models in C++ inference servers.
// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <utility>
#include <vector>

#include "vigil/io/binary.hpp"
#include "vigil/monitor/alerts.hpp"
#include "vigil/monitor/detail/state_codec.hpp"

namespace vigil {
namespace detail {

/// The latest alert transitions (numbered by the AlertTracker): the log keeps the last
/// `capacity` of them, so that any number of readers — a health check, a metrics scrape, a
/// dashboard — each see every transition that happened since they last looked, as long as
/// they look before `capacity` more have happened.
/// Memory: `capacity` alerts (their messages are a sentence each).
class AlertLog {
 public:
  explicit AlertLog(std::size_t capacity) : capacity_(capacity) {}

  /// Keeps `alert`, dropping the oldest entry beyond the capacity.
  void add(const Alert& alert) {
    if (capacity_ == 0) return;
    if (entries_.size() == capacity_) entries_.pop_front();
    entries_.push_back(alert);
  }
  /// The kept transitions, oldest first.
  std::vector<Alert> entries() const { return std::vector<Alert>(entries_.begin(), entries_.end()); }
  /// Writes the kept transitions, oldest first: their number, then each (save_alert).
  void save(io::Writer& w) const {
    w.varint(entries_.size());
    for (const Alert& a : entries_) save_alert(w, a);
  }
  /// Reads save()'s output into a log of the same capacity. Throws vigil::format_error
  /// (through `r`) for more transitions than the capacity, or transitions whose numbers do
  /// not increase from 1. On a throw the log is left as it was.
  void load(io::Reader& r) {
    const std::uint64_t n = r.varint();
    if (n > capacity_) r.fail("alert log: " + std::to_string(n) + " transitions, the capacity is " + std::to_string(capacity_));
    std::deque<Alert> entries;
    for (std::uint64_t i = 0; i < n; ++i) {
      Alert a = load_alert(r);
      if (a.sequence <= (entries.empty() ? 0 : entries.back().sequence))
        r.fail("alert log: transition " + std::to_string(a.sequence) + " does not follow the one before");
      entries.push_back(std::move(a));
    }
    entries_ = std::move(entries);
  }
  /// Bytes of the kept alerts, their text included.
  std::size_t memory_bytes() const {
    std::size_t bytes = entries_.size() * sizeof(Alert);
    for (const Alert& a : entries_) bytes += a.message.capacity() + a.subject.name.capacity();
    return bytes;
  }

 private:
  std::size_t capacity_;
  std::deque<Alert> entries_;
};

}  // namespace detail
}  // namespace vigil

// vigil — in-process monitoring of machine-learning models in C++ inference servers.
// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <vector>

#include "vigil/monitor/alerts.hpp"

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

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

/// The latest alert transitions, numbered: every transition gets the next sequence number
/// (from 1) and the log keeps the last `capacity` of them, so that any number of readers —
/// a health check, a metrics scrape, a dashboard — each see every transition that happened
/// since they last looked, as long as they look before `capacity` more have happened.
/// Memory: `capacity` alerts (their messages are a sentence each).
class AlertLog {
 public:
  explicit AlertLog(std::size_t capacity) : capacity_(capacity) {}

  /// Numbers `alert` and keeps it, dropping the oldest entry beyond the capacity.
  void add(Alert alert) {
    alert.sequence = ++last_sequence_;
    if (capacity_ == 0) return;
    if (entries_.size() == capacity_) entries_.pop_front();
    entries_.push_back(std::move(alert));
  }
  /// The kept transitions, oldest first.
  std::vector<Alert> entries() const { return std::vector<Alert>(entries_.begin(), entries_.end()); }
  /// The number of the latest transition (0 before the first).
  std::uint64_t last_sequence() const { return last_sequence_; }
  std::size_t capacity() const { return capacity_; }

 private:
  std::size_t capacity_;
  std::uint64_t last_sequence_ = 0;
  std::deque<Alert> entries_;
};

}  // namespace detail
}  // namespace vigil

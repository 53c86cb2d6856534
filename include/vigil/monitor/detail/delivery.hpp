// vigil — in-process monitoring of machine-learning models in C++ inference servers.
// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <atomic>
#include <deque>
#include <exception>
#include <functional>
#include <mutex>
#include <utility>
#include <variant>
#include <vector>

#include "vigil/monitor/alerts.hpp"
#include "vigil/monitor/report.hpp"

namespace vigil {
namespace detail {

/// Hands evaluated intervals' reports and alert transitions to the user's callbacks, one at a
/// time and in the order they were queued, with no lock of the monitor held: a callback may
/// read the monitor, evaluate it or register callbacks. One thread delivers at a time; what
/// other threads (or a callback, through a nested evaluation) queue meanwhile is delivered by
/// the same loop, after the callback that is running returns. Every callback sees every
/// event, even when another callback throws: the first exception leaves deliver() once the
/// queue is empty.
/// Memory: the queued events, until delivered.
class Delivery {
 public:
  using AlertCallback = std::function<void(const Alert&)>;
  using IntervalCallback = std::function<void(const Report&)>;

  void on_alert(AlertCallback callback) {
    std::lock_guard<std::mutex> lock(mutex_);
    alert_callbacks_.push_back(std::move(callback));
  }
  void on_interval(IntervalCallback callback) {
    std::lock_guard<std::mutex> lock(mutex_);
    interval_callbacks_.push_back(std::move(callback));
    wants_intervals_.store(true, std::memory_order_relaxed);
  }
  /// Whether anyone wants each interval's report (so that the evaluation builds it).
  bool wants_intervals() const { return wants_intervals_.load(std::memory_order_relaxed); }

  void queue(Report report) {
    std::lock_guard<std::mutex> lock(mutex_);
    queue_.emplace_back(std::move(report));
  }
  void queue(Alert alert) {
    std::lock_guard<std::mutex> lock(mutex_);
    queue_.emplace_back(std::move(alert));
  }

  /// Delivers what is queued, unless a delivery is under way (on this thread, further up the
  /// stack, or on another), which will. Rethrows the first exception a callback threw, after
  /// every event was delivered to every callback.
  void deliver() {
    std::unique_lock<std::mutex> lock(mutex_);
    if (delivering_) return;
    delivering_ = true;
    std::exception_ptr failure;
    while (!queue_.empty()) {
      Event event = std::move(queue_.front());
      queue_.pop_front();
      // Copies, so that a callback may register more callbacks meanwhile.
      const std::vector<AlertCallback> alerts = alert_callbacks_;
      const std::vector<IntervalCallback> intervals = interval_callbacks_;
      lock.unlock();
      if (const Alert* a = std::get_if<Alert>(&event)) {
        for (const auto& cb : alerts) call(cb, *a, failure);
      } else {
        for (const auto& cb : intervals) call(cb, std::get<Report>(event), failure);
      }
      lock.lock();
    }
    delivering_ = false;
    lock.unlock();
    if (failure) std::rethrow_exception(failure);
  }

 private:
  using Event = std::variant<Report, Alert>;
  template <class Callback, class Argument>
  static void call(const Callback& callback, const Argument& argument, std::exception_ptr& failure) {
    try {
      callback(argument);
    } catch (...) {
      if (!failure) failure = std::current_exception();
    }
  }
  std::mutex mutex_;
  std::deque<Event> queue_;
  std::vector<AlertCallback> alert_callbacks_;
  std::vector<IntervalCallback> interval_callbacks_;
  bool delivering_ = false;
  std::atomic<bool> wants_intervals_{false};
};

}  // namespace detail
}  // namespace vigil

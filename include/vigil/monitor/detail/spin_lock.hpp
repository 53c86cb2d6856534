// vigil — in-process monitoring of machine-learning models in C++ inference servers.
// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <atomic>
#include <thread>

namespace vigil {
namespace detail {

/// The lock of a Monitor shard: an atomic exchange to take, a store to release. A shard is
/// held for one request's worth of work, and threads rarely meet on one (they move to a free
/// shard), so spinning, then yielding, beats a futex.
class SpinLock {
 public:
  void lock() noexcept {
    if (!locked_.exchange(true, std::memory_order_acquire)) return;  // the usual case, inline
    wait();
  }
  bool try_lock() noexcept {
    return !locked_.load(std::memory_order_relaxed) && !locked_.exchange(true, std::memory_order_acquire);
  }
  void unlock() noexcept { locked_.store(false, std::memory_order_release); }

 private:
  void wait() noexcept {
    int spins = 0;
    do {
      while (locked_.load(std::memory_order_relaxed))
        if (++spins > 100) std::this_thread::yield();
    } while (locked_.exchange(true, std::memory_order_acquire));
  }

  std::atomic<bool> locked_{false};
};

}  // namespace detail
}  // namespace vigil

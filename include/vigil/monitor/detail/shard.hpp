// vigil — in-process monitoring of machine-learning models in C++ inference servers.
// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <atomic>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "vigil/monitor/detail/cache_line.hpp"
#include "vigil/monitor/detail/interval_clock.hpp"
#include "vigil/monitor/detail/label_samples.hpp"
#include "vigil/monitor/detail/monitor_families.hpp"
#include "vigil/monitor/detail/spin_lock.hpp"

namespace vigil {
namespace detail {

/// One thread's share of the open interval, behind its own lock. A shard fills whole 128-byte
/// blocks and ends with a line no one touches: a core that reads the last line it uses of
/// its shard makes the hardware prefetch the next line (and on Intel the other line of the
/// 128-byte pair), which must not be the next shard's first line, written by another thread
/// on every request. The 64 guard bytes after the last member, with the size rounded up to
/// 128, always leave one whole line untouched at the end, and the next shard starts a pair.
struct alignas(2 * cache_line) Shard {
  mutable SpinLock mutex;
  // Set while the monitor's own upkeep (hand-over, counters, report) holds `mutex`.
  mutable std::atomic<bool> maintained{false};
  std::int64_t interval = IntervalClock::none;
  std::uint64_t observed = 0;
  double latest = -std::numeric_limits<double>::infinity();
  std::uint64_t arrived = 0;
  std::uint64_t answered = 0;  // completions since the monitor first saw an arrival
  double last_arrival = -std::numeric_limits<double>::infinity();
  LineVector<IntervalSummary> summaries;  // slot 0: everything; then cohort values
  // Per tag, the values this shard has resolved to ids (at most max_values), so the request
  // path takes no global lock for a known value; `complete` once the tag's dictionary is
  // full and every value of it is cached (any other value is then "other").
  struct CachedValue {
    std::uint64_t hash;
    std::uint32_t id;
    std::string value;
  };
  std::vector<std::vector<CachedValue>> tag_cache;
  std::vector<std::uint8_t> tag_complete;
  std::vector<std::uint32_t> tag_other;  // per tag, the id of "other": its max_values
  std::vector<std::uint32_t> tag_ids;  // scratch: the current request's value ids
  std::vector<std::uint32_t> label_slots;  // scratch: its cohort slots, for the label store
  IntervalSamples samples;  // the open interval's candidates to label (LabelSampler::offer)
  // This shard's copy of what the request path reads (MonitorPlan::request_path()), so that
  // each core reads lines of its own.
  MonitorPlan plan;
  unsigned char guard[cache_line];  // never read or written (see above)
};

/// A shard's lock held for upkeep rather than a request (see Intake::lock_shard).
class Maintenance {
 public:
  explicit Maintenance(const Shard& shard) : shard_(shard) {
    shard_.mutex.lock();
    shard_.maintained.store(true, std::memory_order_relaxed);
  }
  ~Maintenance() {
    shard_.maintained.store(false, std::memory_order_relaxed);
    shard_.mutex.unlock();
  }
  Maintenance(const Maintenance&) = delete;
  Maintenance& operator=(const Maintenance&) = delete;

 private:
  const Shard& shard_;
};

}  // namespace detail
}  // namespace vigil

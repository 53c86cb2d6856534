// vigil — in-process monitoring of machine-learning models in C++ inference servers.
// SPDX-License-Identifier: Apache-2.0
//
// Samples to label: per interval, the request ids a labelling queue wants first — the answers
// the model is least sure of (uncertainty sampling, Lewis & Gale 1994, "A sequential algorithm
// for training text classifiers"), those it is surest of (where a wrong answer is the most
// instructive, negative mining), and those nearest the decision threshold. Each shard keeps
// bounded candidate sets of its open interval; a closed interval's sets are merged and wait
// for its evaluation only, never in the retained history.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <mutex>
#include <string_view>
#include <utility>
#include <vector>

#include "vigil/config.hpp"
#include "vigil/monitor/detail/interval_clock.hpp"
#include "vigil/monitor/detail/label_intake.hpp"
#include "vigil/monitor/detail/label_stats.hpp"
#include "vigil/monitor/observation.hpp"
#include "vigil/monitor/options.hpp"
#include "vigil/monitor/report.hpp"
#include "vigil/monitor/schema.hpp"

namespace vigil {
namespace detail {

/// One candidate: its key (smaller is wanted more), its score and its id in a fixed buffer,
/// so that keeping a candidate never allocates.
struct SampleCandidate {
  double key = 0;
  double score = 0;
  std::uint16_t length = 0;
  char id[Observation::max_id_bytes];

  std::string_view id_view() const { return std::string_view(id, length); }
};

/// Whether candidate (key, id, score) comes before `c`: by key, then id (bytes), then score.
/// A total order, so that the set kept does not depend on the order requests come in.
inline bool sample_before(double key, std::string_view id, double score, const SampleCandidate& c) {
  if (key != c.key) return key < c.key;
  const int order = id.compare(c.id_view());
  if (order != 0) return order < 0;
  return score < c.score;
}

/// The `capacity` candidates of smallest (key, id, score) among those offered: a max-heap of
/// indexes into fixed candidate slots, its top the worst candidate kept.
///
/// offer() is O(1) for a candidate no better than the worst kept (one comparison of keys in
/// almost every case) and O(log capacity) otherwise; it never allocates. Memory:
/// bytes_per_sample per unit of capacity, allocated by the constructor.
class LabelSampleSet {
 public:
  static constexpr std::size_t bytes_per_sample = sizeof(SampleCandidate) + sizeof(std::uint16_t);

  explicit LabelSampleSet(std::size_t capacity = 0) : slots_(capacity) {
    heap_.reserve(capacity);
    update_bar();
  }

  std::size_t capacity() const { return slots_.size(); }
  std::size_t size() const { return heap_.size(); }
  bool empty() const { return heap_.empty(); }

  /// Keeps the candidate if it is among the best `capacity` seen. The key and score are
  /// finite; an id longer than Observation::max_id_bytes is cut. Returns whether it was kept.
  /// Inline, so that the request path pays one comparison for the candidates that cannot
  /// enter (all but about capacity × ln(n / capacity) of an interval's n).
  bool offer(double key, double score, std::string_view id) {
    return key <= bar_ && admit(key, score, id);
  }
  /// Offers every candidate of `other`.
  void merge(const LabelSampleSet& other);
  void clear() {
    heap_.clear();
    update_bar();
  }
  /// The largest key that offer() may keep (see update_bar).
  double bar() const { return bar_; }
  /// The candidates kept, best first.
  std::vector<LabelSample> sorted() const;
  std::size_t memory_bytes() const {
    return slots_.capacity() * sizeof(SampleCandidate) + heap_.capacity() * sizeof(std::uint16_t);
  }

 private:
  // The heap's order: a before b puts b nearer the top.
  struct Before {
    const std::vector<SampleCandidate>* slots;
    bool operator()(std::uint16_t a, std::uint16_t b) const {
      const SampleCandidate& x = (*slots)[a];
      return sample_before(x.key, x.id_view(), x.score, (*slots)[b]);
    }
  };
  void write(std::uint16_t slot, double key, double score, std::string_view id) {
    SampleCandidate& c = slots_[slot];
    c.key = key;
    c.score = score;
    c.length = static_cast<std::uint16_t>(std::min(id.size(), Observation::max_id_bytes));
    std::memcpy(c.id, id.data(), c.length);
  }

  bool admit(double key, double score, std::string_view id);
  // The largest key a candidate may have and still be kept: +∞ until the set is full, then
  // the worst key kept (a tie is decided by admit()); −∞ for capacity 0.
  void update_bar() {
    if (slots_.empty())
      bar_ = -std::numeric_limits<double>::infinity();
    else
      bar_ = heap_.size() < slots_.size() ? std::numeric_limits<double>::infinity() : slots_[heap_.front()].key;
  }

  std::vector<SampleCandidate> slots_;
  std::vector<std::uint16_t> heap_;  // indexes of the slots in use
  double bar_ = 0;
};

inline bool LabelSampleSet::admit(double key, double score, std::string_view id) {
  const Before before{&slots_};
  if (heap_.size() < slots_.size()) {
    const auto slot = static_cast<std::uint16_t>(heap_.size());
    write(slot, key, score, id);
    heap_.push_back(slot);
    std::push_heap(heap_.begin(), heap_.end(), before);
    update_bar();
    return true;
  }
  if (heap_.empty()) return false;  // capacity 0
  const SampleCandidate& worst = slots_[heap_.front()];
  if (!sample_before(key, id, score, worst)) return false;
  std::pop_heap(heap_.begin(), heap_.end(), before);
  write(heap_.back(), key, score, id);
  std::push_heap(heap_.begin(), heap_.end(), before);
  update_bar();
  return true;
}

inline void LabelSampleSet::merge(const LabelSampleSet& other) {
  for (const std::uint16_t slot : other.heap_) {
    const SampleCandidate& c = other.slots_[slot];
    offer(c.key, c.score, c.id_view());
  }
}

inline std::vector<LabelSample> LabelSampleSet::sorted() const {
  std::vector<std::uint16_t> order = heap_;
  std::sort(order.begin(), order.end(), Before{&slots_});
  std::vector<LabelSample> out;
  out.reserve(order.size());
  for (const std::uint16_t slot : order)
    out.push_back(LabelSample{std::string(slots_[slot].id_view()), slots_[slot].score});
  return out;
}

/// How requests are ranked: the quality output's kind, threshold and index, and k per kind.
/// A regression has no confidence: nothing is sampled.
struct SampleRule {
  LabelKind kind = LabelKind::regression;
  double threshold = 0;
  std::uint32_t output = 0;
  std::size_t per_kind = 0;

  bool enabled() const { return per_kind > 0 && kind != LabelKind::regression; }
  bool binary() const { return kind == LabelKind::binary; }
};

/// The three candidate sets of one interval: keys confidence (lowest first), −confidence
/// (highest first) and |score − threshold| (binary classifiers only).
class IntervalSamples {
 public:
  IntervalSamples() = default;
  explicit IntervalSamples(const SampleRule& rule)
      : lowest_(rule.per_kind), highest_(rule.per_kind), near_(rule.binary() ? rule.per_kind : 0) {}

  /// Offers one request's finite score (a NaN or infinite one is no candidate). The three
  /// keys are compared with the sets' bars at once, so that the request path takes one branch
  /// for the requests no set wants.
  VIGIL_INLINE void offer(const SampleRule& rule, double score, std::string_view id) {
    const bool binary = rule.binary();
    const double confidence = binary ? std::max(score, 1 - score) : score;
    const double near = binary ? std::fabs(score - rule.threshold) : std::numeric_limits<double>::infinity();
    const unsigned wanted = static_cast<unsigned>(confidence <= lowest_.bar()) |
                            static_cast<unsigned>(-confidence <= highest_.bar()) |
                            static_cast<unsigned>(near <= near_.bar());
    if (VIGIL_LIKELY(wanted == 0) || !std::isfinite(score)) return;
    keep(binary, confidence, near, score, id);
  }
  void merge(const IntervalSamples& other) {
    lowest_.merge(other.lowest_);
    highest_.merge(other.highest_);
    near_.merge(other.near_);
  }
  void clear() {
    lowest_.clear();
    highest_.clear();
    near_.clear();
  }
  bool empty() const { return lowest_.empty() && highest_.empty() && near_.empty(); }
  bool allocated() const { return lowest_.capacity() > 0; }
  /// The report section of the interval ending at `interval_end`.
  LabelSamples sorted(double interval_end) const {
    return LabelSamples{interval_end, lowest_.sorted(), highest_.sorted(), near_.sorted()};
  }
  std::size_t memory_bytes() const { return lowest_.memory_bytes() + highest_.memory_bytes() + near_.memory_bytes(); }

  std::int64_t interval = IntervalClock::none;  // of a closed interval waiting for evaluation

 private:
  // Out of line: few requests get here, and the request path keeps offer()'s test inline.
  VIGIL_NOINLINE void keep(bool binary, double confidence, double near, double score, std::string_view id) {
    lowest_.offer(confidence, score, id);
    highest_.offer(-confidence, score, id);
    if (binary) near_.offer(near, score, id);
  }

  LabelSampleSet lowest_, highest_, near_;
};

/// The samples of a Monitor: ranks requests into their shard's IntervalSamples, takes each
/// shard's sets when it hands its interval over, and keeps the merged sets of closed intervals
/// until their evaluation takes them.
///
/// **Memory**: per shard, from its first request with an id, 2k or 3k candidates
/// (k = MonitorOptions::label_samples, 3k for a binary classifier) of
/// LabelSampleSet::bytes_per_sample bytes; the same per interval closed
/// and not yet evaluated, at most MonitorOptions::fine_intervals of them (one or two while
/// evaluation keeps up; older ones could not be evaluated and are dropped).
///
/// **Threads**: offer() runs under the caller's shard lock and touches only that shard's
/// sets; hand_over(), offer_late() and take() take the sampler's lock, after any shard or
/// retention lock, never before.
class LabelSampler {
 public:
  LabelSampler(const Schema& schema, const MonitorOptions& options);

  bool enabled() const { return rule_.enabled(); }
  /// Empty candidate sets of the rule's capacity.
  IntervalSamples make_set() const { return IntervalSamples(rule_); }
  /// Ranks a request (of the shard's open interval) into the shard's sets, which are
  /// allocated at the shard's first request with an id; no allocation after that.
  void offer(IntervalSamples& shard_set, const Observation& o) const {
    const Output out{rule_.output};
    if (!o.has_id() || o.schema().output_count() <= rule_.output || !o.has_score(out)) return;
    if (VIGIL_UNLIKELY(!shard_set.allocated())) shard_set = make_set();
    shard_set.offer(rule_, o.score(out), o.id());
  }
  /// Ranks a request of an interval its shard already handed over, while it waits for
  /// evaluation; dropped once evaluated.
  void offer_late(const Observation& o, std::int64_t interval);
  /// Merges a shard's sets of `interval` into that interval's, and empties them.
  void hand_over(IntervalSamples& shard_set, std::int64_t interval);
  /// The samples of `interval` (ending at `interval_end`), sorted; forgets them and those of
  /// older intervals.
  LabelSamples take(std::int64_t interval, double interval_end);
  std::size_t memory_bytes() const;

 private:
  IntervalSamples* waiting(std::int64_t interval);  // mutex_ held
  static constexpr std::size_t max_spares = 2;

  SampleRule rule_;
  std::size_t max_waiting_;
  mutable std::mutex mutex_;
  std::vector<IntervalSamples> waiting_;  // closed intervals not yet evaluated
  std::vector<IntervalSamples> spare_;    // emptied sets, reused
  std::int64_t taken_through_ = IntervalClock::none;
};

inline LabelSampler::LabelSampler(const Schema& schema, const MonitorOptions& options)
    : max_waiting_(options.fine_intervals) {
  if (schema.output_count() == 0) return;
  const Output o = quality_output(schema, options);
  rule_.output = o.index;
  rule_.kind = label_kind(schema.options(o));
  rule_.threshold = schema.options(o).threshold;
  rule_.per_kind = options.label_samples;
}

inline IntervalSamples* LabelSampler::waiting(std::int64_t interval) {
  if (taken_through_ != IntervalClock::none && interval <= taken_through_) return nullptr;
  for (IntervalSamples& s : waiting_)
    if (s.interval == interval) return &s;
  if (waiting_.size() >= max_waiting_) {
    // The oldest could no longer be evaluated (it left fine retention).
    auto oldest = std::min_element(waiting_.begin(), waiting_.end(),
                                   [](const IntervalSamples& a, const IntervalSamples& b) { return a.interval < b.interval; });
    if (oldest->interval > interval) return nullptr;
    oldest->clear();
    oldest->interval = interval;
    return &*oldest;
  }
  if (spare_.empty()) {
    waiting_.push_back(make_set());
  } else {
    waiting_.push_back(std::move(spare_.back()));
    spare_.pop_back();
  }
  waiting_.back().interval = interval;
  return &waiting_.back();
}

inline void LabelSampler::offer_late(const Observation& o, std::int64_t interval) {
  const Output out{rule_.output};
  if (!o.has_id() || o.schema().output_count() <= rule_.output || !o.has_score(out) || !std::isfinite(o.score(out)))
    return;
  std::lock_guard<std::mutex> lock(mutex_);
  if (IntervalSamples* s = waiting(interval)) s->offer(rule_, o.score(out), o.id());
}

inline void LabelSampler::hand_over(IntervalSamples& shard_set, std::int64_t interval) {
  if (shard_set.empty()) return;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (IntervalSamples* s = waiting(interval)) s->merge(shard_set);
  }
  shard_set.clear();
}

inline LabelSamples LabelSampler::take(std::int64_t interval, double interval_end) {
  std::lock_guard<std::mutex> lock(mutex_);
  LabelSamples out{interval_end, {}, {}, {}};
  for (std::size_t i = 0; i < waiting_.size();) {
    IntervalSamples& s = waiting_[i];
    if (s.interval > interval) {
      ++i;
      continue;
    }
    if (s.interval == interval) out = s.sorted(interval_end);
    s.clear();
    s.interval = IntervalClock::none;
    // Two spares serve an evaluation that keeps up; more were a backlog, given back.
    if (spare_.size() < max_spares) spare_.push_back(std::move(s));
    if (i + 1 != waiting_.size()) waiting_[i] = std::move(waiting_.back());
    waiting_.pop_back();
  }
  if (taken_through_ == IntervalClock::none || interval > taken_through_) taken_through_ = interval;
  return out;
}

inline std::size_t LabelSampler::memory_bytes() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::size_t bytes = (waiting_.capacity() + spare_.capacity()) * sizeof(IntervalSamples);
  for (const IntervalSamples& s : waiting_) bytes += s.memory_bytes();
  for (const IntervalSamples& s : spare_) bytes += s.memory_bytes();
  return bytes;
}

}  // namespace detail
}  // namespace vigil

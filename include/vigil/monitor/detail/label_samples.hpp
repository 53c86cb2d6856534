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
#include "vigil/io/binary.hpp"
#include "vigil/monitor/detail/interval_clock.hpp"
#include "vigil/monitor/detail/label_intake.hpp"
#include "vigil/monitor/detail/label_stats.hpp"
#include "vigil/monitor/detail/state_codec.hpp"
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
///
/// Snapshot (save/load): the number of candidates kept, then each, best first: key f64,
/// score f64, id (a varint length and its bytes). The capacity is the construction's.
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
  /// Whether every candidate's key is key_of(its score).
  template <class KeyOf>
  bool keyed_by(KeyOf&& key_of) const {
    for (const std::uint16_t slot : heap_)
      if (!(slots_[slot].key == key_of(slots_[slot].score))) return false;
    return true;
  }

  /// Writes the candidates kept (see the class comment).
  void save(io::Writer& w) const;
  /// Reads save()'s bytes into a set of the same capacity, replacing what it keeps (on a
  /// throw it keeps what it kept). Throws vigil::format_error for more candidates than the
  /// capacity, a key or score that is not finite, an id longer than
  /// Observation::max_id_bytes, or candidates out of their order.
  void load(io::Reader& r);

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

inline void LabelSampleSet::save(io::Writer& w) const {
  std::vector<std::uint16_t> order = heap_;
  std::sort(order.begin(), order.end(), Before{&slots_});
  w.varint(order.size());
  for (const std::uint16_t slot : order) {
    w.f64(slots_[slot].key);
    w.f64(slots_[slot].score);
    w.string(slots_[slot].id_view());
  }
}

inline void LabelSampleSet::load(io::Reader& r) {
  const std::size_t n = r.count(17);
  if (n > capacity())
    r.fail("samples to label: " + std::to_string(n) + " candidates, at most " + std::to_string(capacity()));
  LabelSampleSet loaded(capacity());
  for (std::size_t i = 0; i < n; ++i) {
    const double key = load_finite(r, "sample key");
    const double score = load_finite(r, "sample score");
    std::string id = r.string();
    if (id.size() > Observation::max_id_bytes)
      r.fail("samples to label: an id of " + std::to_string(id.size()) + " bytes, at most " +
             std::to_string(Observation::max_id_bytes));
    if (i > 0 && sample_before(key, id, score, loaded.slots_[loaded.heap_.back()]))
      r.fail("samples to label: candidates out of order");
    loaded.write(static_cast<std::uint16_t>(i), key, score, id);
    loaded.heap_.push_back(static_cast<std::uint16_t>(i));
  }
  // Read best first; the heap's top is the worst.
  std::make_heap(loaded.heap_.begin(), loaded.heap_.end(), Before{&loaded.slots_});
  loaded.update_bar();
  *this = std::move(loaded);
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
///
/// Snapshot (save/load): whether the sets are allocated (a bool), `interval` (i64), and when
/// allocated the three sets (LabelSampleSet::save), lowest confidence first.
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

  /// Writes the candidates and `interval` (see the class comment).
  void save(io::Writer& w) const;
  /// Reads save()'s bytes, replacing these sets with sets of `rule`'s capacity (or none when
  /// not allocated). Throws vigil::format_error when `rule` allocates none, or for a set
  /// LabelSampleSet::load refuses, or a key that is not what `rule` makes of its score.
  void load(io::Reader& r, const SampleRule& rule);

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

inline void IntervalSamples::save(io::Writer& w) const {
  save_bool(w, allocated());
  w.i64(interval);
  if (!allocated()) return;
  lowest_.save(w);
  highest_.save(w);
  near_.save(w);
}

inline void IntervalSamples::load(io::Reader& r, const SampleRule& rule) {
  const bool allocated = load_bool(r, "samples allocated");
  const std::int64_t at = r.i64();
  IntervalSamples loaded = allocated ? IntervalSamples(rule) : IntervalSamples();
  if (allocated && !loaded.allocated()) r.fail("samples to label where the options pick none");
  if (allocated) {
    loaded.lowest_.load(r);
    loaded.highest_.load(r);
    loaded.near_.load(r);
    const bool binary = rule.binary();
    const auto confidence = [binary](double score) { return binary ? std::max(score, 1 - score) : score; };
    if (!loaded.lowest_.keyed_by(confidence) || !loaded.highest_.keyed_by([&](double s) { return -confidence(s); }) ||
        !loaded.near_.keyed_by([&](double s) { return std::fabs(s - rule.threshold); }))
      r.fail("samples to label: a key is not the one its score gives");
  }
  loaded.interval = at;
  *this = std::move(loaded);
}

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
/// **Snapshot** (save/load): taken_through (i64), the number of closed intervals waiting,
/// then each one's IntervalSamples (save), in the sampler's order. The shards' open sets are
/// the intake's to save (IntervalSamples::save, loaded with rule()).
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
  /// How requests are ranked: what a shard's sets are loaded with.
  const SampleRule& rule() const { return rule_; }

  /// Writes the closed intervals' samples and what was taken (see the class comment), under
  /// the sampler's lock.
  void save(io::Writer& w) const;
  /// Reads save()'s bytes into a sampler of the same schema and options, replacing its
  /// waiting samples. Throws vigil::format_error for more intervals than fine_intervals, an
  /// interval twice, none, or already taken, or samples IntervalSamples::load refuses (then
  /// it keeps what it held). The sets are allocated anew; the spare ones are not kept.
  void load(io::Reader& r);

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

inline void LabelSampler::save(io::Writer& w) const {
  std::lock_guard<std::mutex> lock(mutex_);
  w.i64(taken_through_);
  w.varint(waiting_.size());
  for (const IntervalSamples& s : waiting_) s.save(w);
}

inline void LabelSampler::load(io::Reader& r) {
  const std::int64_t taken_through = r.i64();
  const std::size_t n = r.count(9);
  if (n > max_waiting_)
    r.fail(std::to_string(n) + " intervals' samples waiting, at most " + std::to_string(max_waiting_));
  std::vector<IntervalSamples> waiting(n);
  for (std::size_t i = 0; i < n; ++i) {
    IntervalSamples& s = waiting[i];
    s.load(r, rule_);
    if (s.allocated() != (rule_.per_kind > 0)) r.fail("samples waiting without the rule's sets");
    if (s.interval == IntervalClock::none || (taken_through != IntervalClock::none && s.interval <= taken_through))
      r.fail("samples waiting for interval " + std::to_string(s.interval) + ", taken already or none");
    for (std::size_t j = 0; j < i; ++j)
      if (waiting[j].interval == s.interval) r.fail("samples of interval " + std::to_string(s.interval) + " twice");
  }
  std::lock_guard<std::mutex> lock(mutex_);
  waiting_ = std::move(waiting);
  spare_.clear();
  taken_through_ = taken_through;
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

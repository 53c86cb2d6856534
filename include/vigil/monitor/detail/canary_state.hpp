// vigil — in-process monitoring of machine-learning models in C++ inference servers.
// SPDX-License-Identifier: Apache-2.0
//
// The canary family's plan (the shadow outputs and the champions they shadow) and its state of
// one interval: per shadow, the distribution of its deviation from the champion, how often
// their predicted classes disagree, and the requests on which they deviate most.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "vigil/config.hpp"
#include "vigil/io/binary.hpp"
#include "vigil/monitor/detail/request.hpp"
#include "vigil/monitor/detail/state_arrays.hpp"
#include "vigil/monitor/observation.hpp"
#include "vigil/monitor/options.hpp"
#include "vigil/monitor/report.hpp"
#include "vigil/monitor/schema.hpp"
#include "vigil/sketch/detail/category_counts_impl.hpp"
#include "vigil/sketch/log_histogram.hpp"
#include "vigil/sketch/rolling.hpp"
#include "vigil/sketch/tdigest.hpp"

namespace vigil {
namespace detail {

/// One shadow output (Schema::add_canary, Schema::add_challenger) and its champion.
struct ShadowPlan {
  static constexpr std::uint32_t none = 0xffffffffu;
  std::string name;
  std::string champion_name;
  std::uint32_t output = 0;    // the shadow's index in the schema
  std::uint32_t champion = 0;  // the champion's index in the schema
  OutputRole role = OutputRole::canary;
  /// For a challenger: the schema index of the first canary of the same champion, whose
  /// deviation from the challenger is measured too (Dunning's risk view); none without one.
  std::uint32_t canary = none;
  std::string canary_name;
  bool has_threshold = false;  // predicted classes by the threshold; else by Observation::predicted
  double threshold = 0;
};

/// The canary family's plan.
struct CanaryPlan {
  std::vector<ShadowPlan> shadows;
  std::size_t top = 20;  // MonitorOptions::canary_top
  /// Of the deviations' histograms: buckets 4.4 % wide (a quantile within 2.2 %) over a span
  /// of 2^16 (say 10^-5 … 0.65) in 2 KB at most; a wider span halves the resolution.
  LogHistogramOptions histogram = deviation_histogram_options();

  static LogHistogramOptions deviation_histogram_options() {
    LogHistogramOptions o;
    o.scale = 4;
    o.max_buckets = 256;
    return o;
  }

  CanaryPlan request_path() const { return *this; }
  std::size_t memory_bytes() const {
    std::size_t bytes = sizeof(*this) + shadows.capacity() * sizeof(ShadowPlan);
    for (const ShadowPlan& s : shadows) bytes += heap_bytes(s.name) + heap_bytes(s.champion_name) + heap_bytes(s.canary_name);
    return bytes;
  }
};

inline CanaryPlan make_canary_plan(const Schema& schema, const MonitorOptions& options) {
  CanaryPlan plan;
  plan.top = options.canary_top;
  for (std::uint32_t i = 0; i < schema.output_count(); ++i) {
    const Output o{i};
    if (schema.role(o) == OutputRole::model) continue;
    ShadowPlan s;
    s.name = schema.name(o);
    s.output = i;
    s.champion = schema.champion(o).index;
    s.champion_name = schema.name(schema.champion(o));
    s.role = schema.role(o);
    s.threshold = schema.options(o).threshold;
    s.has_threshold = !std::isnan(s.threshold);
    plan.shadows.push_back(std::move(s));
  }
  for (ShadowPlan& s : plan.shadows) {
    if (s.role != OutputRole::challenger) continue;
    for (const ShadowPlan& c : plan.shadows)
      if (c.role == OutputRole::canary && c.champion == s.champion) {
        s.canary = c.output;
        s.canary_name = c.name;
        break;
      }
  }
  return plan;
}

/// A request on which a shadow deviated from its champion: |other − champion|, when, both
/// scores, and the request's id in a fixed buffer (empty without one), so that keeping it
/// never allocates.
struct Deviation {
  double deviation = 0;
  double time = 0;
  double champion = 0;
  double other = 0;
  std::uint16_t length = 0;
  char id[Observation::max_id_bytes];

  std::string_view id_view() const { return std::string_view(id, length); }
  friend bool operator==(const Deviation& a, const Deviation& b) {
    return a.deviation == b.deviation && a.time == b.time && a.champion == b.champion && a.other == b.other &&
           a.id_view() == b.id_view();
  }
};

/// |shadow − champion| of two finite scores; the largest double when that overflows, so that
/// every compared request has a finite deviation.
inline double deviation_of(double champion, double shadow) {
  return std::min(std::fabs(shadow - champion), std::numeric_limits<double>::max());
}

/// Whether `a` deviates more than `b`: by deviation, then the earlier (a NaN time after every
/// other, two NaN times alike), then by id and scores. A total order on requests with finite
/// scores, so that the requests kept do not depend on the order shards merge.
inline bool deviates_more(const Deviation& a, const Deviation& b) {
  if (a.deviation != b.deviation) return a.deviation > b.deviation;
  const bool a_timed = !std::isnan(a.time), b_timed = !std::isnan(b.time);
  if (a_timed != b_timed) return a_timed;
  if (a_timed && a.time != b.time) return a.time < b.time;
  const int order = a.id_view().compare(b.id_view());
  if (order != 0) return order < 0;
  if (a.champion != b.champion) return a.champion < b.champion;
  return a.other < b.other;
}

/// The `capacity` requests that deviate most among those offered: a heap whose front is the
/// least deviating request kept.
///
/// offer() is one comparison for a request that deviates less than every request kept once
/// the set is full, O(log capacity) otherwise. Memory: sizeof(Deviation) (296 bytes)
/// per request kept, at most `capacity`; the storage grows with the first requests of an
/// interval and is kept by clear(), so a shard's set stops allocating once it has filled.
class TopDeviations {
 public:
  explicit TopDeviations(std::size_t capacity = 0) : capacity_(capacity) { update_bar(); }

  std::size_t capacity() const { return capacity_; }
  std::size_t size() const { return kept_.size(); }
  bool empty() const { return kept_.empty(); }

  VIGIL_INLINE void offer(double deviation, double time, double champion, double other, std::string_view id) {
    if (deviation >= bar_) admit(make(deviation, time, champion, other, id));
  }
  void merge(const TopDeviations& o) {
    if (&o == this) {  // admit() may grow kept_ while it is read
      const TopDeviations copy = o;
      return merge(copy);
    }
    for (const Deviation& d : o.kept_) admit(d);
  }
  void clear() {
    kept_.clear();
    update_bar();
  }
  void compact() { kept_.shrink_to_fit(); }
  /// The requests kept, most deviating first.
  std::vector<Deviation> sorted() const {
    std::vector<Deviation> out = kept_;
    std::sort(out.begin(), out.end(), deviates_more);
    return out;
  }
  std::size_t memory_bytes() const { return kept_.capacity() * sizeof(Deviation); }
  friend bool operator==(const TopDeviations& a, const TopDeviations& b) {
    return a.capacity_ == b.capacity_ && a.sorted() == b.sorted();
  }

  void serialize(io::Writer& w) const;
  /// Reads serialize()'s output into a set of `capacity` (of a state written under a larger
  /// capacity, the `capacity` most deviating); throws vigil::format_error for scores that are
  /// not finite, an id longer than
  /// Observation::max_id_bytes, or requests not in serialize()'s order (most deviating first).
  /// The deviations are recomputed from the scores.
  static TopDeviations deserialize(io::Reader& r, std::size_t capacity);

 private:
  friend struct CanaryState;
  struct Less {  // the heap's order: the least deviating at the front
    bool operator()(const Deviation& a, const Deviation& b) const { return deviates_more(a, b); }
  };
  static Deviation make(double deviation, double time, double champion, double other, std::string_view id);
  void admit(const Deviation& d);
  void update_bar() {
    if (capacity_ == 0) bar_ = std::numeric_limits<double>::infinity();
    else bar_ = kept_.size() < capacity_ ? -std::numeric_limits<double>::infinity() : kept_.front().deviation;
  }

  std::size_t capacity_ = 0;
  std::vector<Deviation> kept_;
  double bar_ = 0;  // the smallest deviation offer() may keep: -∞ until full; +∞ for capacity 0
};

inline Deviation TopDeviations::make(double deviation, double time, double champion, double other, std::string_view id) {
  Deviation d;
  d.deviation = deviation;
  d.time = time;
  d.champion = champion;
  d.other = other;
  d.length = static_cast<std::uint16_t>(std::min(id.size(), Observation::max_id_bytes));
  if (d.length > 0) std::memcpy(d.id, id.data(), d.length);
  return d;
}

inline void TopDeviations::admit(const Deviation& d) {
  if (capacity_ == 0) return;
  if (kept_.size() < capacity_) {
    kept_.push_back(d);
    std::push_heap(kept_.begin(), kept_.end(), Less{});
  } else {
    if (!deviates_more(d, kept_.front())) return;
    std::pop_heap(kept_.begin(), kept_.end(), Less{});
    kept_.back() = d;
    std::push_heap(kept_.begin(), kept_.end(), Less{});
  }
  update_bar();
}

inline void TopDeviations::serialize(io::Writer& w) const {
  const std::vector<Deviation> order = sorted();
  w.varint(order.size());
  for (const Deviation& d : order) {
    w.f64(d.time);
    w.f64(d.champion);
    w.f64(d.other);
    w.string(std::string(d.id_view()));
  }
}

inline TopDeviations TopDeviations::deserialize(io::Reader& r, std::size_t capacity) {
  TopDeviations t(capacity);
  // A state written under a larger canary_top keeps its `capacity` most deviating requests,
  // the first ones written.
  const std::size_t n = r.count(3 * 8 + 1);
  Deviation previous;
  for (std::size_t i = 0; i < n; ++i) {
    const double time = r.f64();
    const double champion = r.f64();
    const double other = r.f64();
    const std::string id = r.string();
    // A request filed outside the Monitor may have no finite time; its scores are finite.
    if (!std::isfinite(champion) || !std::isfinite(other) || id.size() > Observation::max_id_bytes)
      r.fail("canary state: a deviating request with scores " + to_text(champion) + " and " + to_text(other) +
             " and an id of " + std::to_string(id.size()) + " bytes");
    const Deviation d = make(deviation_of(champion, other), time, champion, other, id);
    // serialize() writes them most deviating first (two identical requests, each kept, side
    // by side): any other order is not its bytes.
    if (i > 0 && deviates_more(d, previous)) r.fail("canary state: deviating requests out of order");
    if (i < capacity) t.admit(d);
    previous = d;
  }
  return t;
}

/// One shadow's figures in an interval.
///
/// The distribution of the deviations is a LogHistogram rather than a t-digest: recording a
/// value there is a bucket index and an increment where a digest, every 400 values, sorts
/// and merges its buffer, which on the request path costs ten times more per value; and
/// histograms add exactly across shards and replicas. Its quantiles are within 2.2 % of the
/// exact ones (CanaryPlan::histogram), deviations of exactly 0 (a canary identical to its
/// champion) counted apart in its zero bucket.
///
/// Memory: sizeof(ShadowState) (about 600 bytes), the histogram's buckets (at most 2 KB),
/// and the requests kept (TopDeviations).
struct ShadowState {
  std::uint64_t compared = 0;        // requests with finite scores of both
  std::uint64_t classified = 0;      // of them with a class from both (by threshold or predicted)
  std::uint64_t disagreements = 0;   // of those, with different classes
  std::uint64_t missing = 0;         // the champion scored, the shadow not: absent
  std::uint64_t non_finite = 0;      // the champion scored, the shadow's score NaN or ±inf
  std::uint64_t champion_missing = 0;  // the shadow scored, the champion not (or not finite)
  RunningStats deviation;            // of |shadow − champion|
  RunningStats from_canary;          // a challenger's |challenger − canary|, when both are finite
  /// Of |shadow − champion|; a deviation that would take its sum beyond the largest double
  /// (scores near ±10^308) is counted in its not_finite() rather than in a bucket.
  LogHistogram histogram{CanaryPlan::deviation_histogram_options()};
  TopDeviations top;

  ShadowState() = default;
  ShadowState(const CanaryPlan& plan) : histogram(plan.histogram), top(plan.top) {}
  friend bool operator==(const ShadowState& a, const ShadowState& b) {
    return a.compared == b.compared && a.classified == b.classified && a.disagreements == b.disagreements &&
           a.missing == b.missing && a.non_finite == b.non_finite && a.champion_missing == b.champion_missing &&
           a.deviation == b.deviation && a.from_canary == b.from_canary && a.histogram == b.histogram && a.top == b.top;
  }
};

/// Whether a request's two scores fall on different sides of `threshold`, or, without one,
/// whether both predicted classes are given and differ. Returns 0 or 1, or −1 when there is
/// no class to compare.
inline int disagree(const ShadowPlan& p, const Observation& o, double champion, double shadow) {
  if (p.has_threshold) return (champion >= p.threshold) != (shadow >= p.threshold) ? 1 : 0;
  const Output c{p.champion}, s{p.output};
  if (!o.has_predicted(c) || !o.has_predicted(s)) return -1;
  return o.predicted(c) == o.predicted(s) ? 0 : 1;
}

/// The canary family's state of one interval: one ShadowState per shadow output.
struct CanaryState {
  /// Version 2 holds the deviations in a LogHistogram; version 1 held them in a t-digest
  /// (δ = 50), which the reader still decodes (read_v1_digest).
  static constexpr std::uint8_t format_version = 2;
  std::vector<ShadowState> shadows;

  CanaryState() = default;
  explicit CanaryState(const CanaryPlan& plan) : shadows(plan.shadows.size(), ShadowState(plan)) {}

  /// Compares each shadow's score with its champion's. A shadow without a usable score is
  /// counted (missing or non_finite) when the champion has one; a champion without one is
  /// counted in champion_missing. Nothing is thrown, nothing allocated once the sets of the
  /// requests kept have filled.
  VIGIL_INLINE void apply(const CanaryPlan& plan, const Request& request) {
    for (std::size_t i = 0; i < shadows.size(); ++i) apply_one(plan.shadows[i], shadows[i], request);
  }
  void merge(const CanaryState& o);
  void clear();
  void compact() {
    for (ShadowState& s : shadows) s.top.compact();
  }
  bool empty() const {
    for (const ShadowState& s : shadows)
      if (s.compared + s.missing + s.non_finite + s.champion_missing > 0) return false;
    return true;
  }
  friend bool operator==(const CanaryState& a, const CanaryState& b) { return a.shadows == b.shadows; }
  std::size_t memory_bytes() const;
  void serialize(io::Writer& w) const;
  /// Reads the payload of format `version` (1 or 2) into a state shaped by `plan`. Throws
  /// vigil::format_error for another number of shadows, a histogram of other options (a
  /// version 1 digest of another compression), or counts that contradict each other: a
  /// histogram or moments that count other than `compared` or a negative deviation, more
  /// classified than compared (other than compared with a threshold), more disagreements
  /// than classified, deviations from a canary the shadow has not, more kept requests than
  /// compared, or one deviating beyond the largest.
  static CanaryState deserialize(io::Reader& r, const CanaryPlan& plan, std::uint8_t version = format_version);
  /// Refuses counts beyond the interval's requests.
  void check(const CanaryPlan& plan, std::uint64_t requests, const io::Reader& r) const;

 private:
  static void check_shadow(const io::Reader& r, const ShadowPlan& p, const ShadowState& s, std::size_t top);
  static LogHistogram read_v1_digest(io::Reader& r, const CanaryPlan& plan, const std::string& name);
  VIGIL_INLINE static void apply_one(const ShadowPlan& p, ShadowState& s, const Request& request) {
    const Observation& o = request.observation;
    const Output champion{p.champion}, shadow{p.output};
    const bool has_champion = o.has_score(champion) && std::isfinite(o.score(champion));
    if (!o.has_score(shadow)) {
      s.missing += has_champion ? 1 : 0;
      return;
    }
    const double v = o.score(shadow);
    if (!std::isfinite(v)) {
      s.non_finite += has_champion ? 1 : 0;
      return;
    }
    if (!has_champion) {
      ++s.champion_missing;
      return;
    }
    const double c = o.score(champion);
    const double d = deviation_of(c, v);
    ++s.compared;
    s.deviation.add(d);
    s.histogram.record(d);
    const int differs = disagree(p, o, c, v);
    s.classified += differs >= 0 ? 1 : 0;
    s.disagreements += differs > 0 ? 1 : 0;
    if (p.canary != ShadowPlan::none && o.has_score(Output{p.canary})) {
      const double k = o.score(Output{p.canary});
      if (std::isfinite(k)) s.from_canary.add(deviation_of(k, v));
    }
    const double t = std::isnan(request.time) ? o.time() : request.time;
    s.top.offer(d, t, c, v, o.has_id() ? std::string_view(o.id()) : std::string_view());
  }
};

inline void CanaryState::merge(const CanaryState& o) {
  for (std::size_t i = 0; i < shadows.size() && i < o.shadows.size(); ++i) {
    ShadowState& s = shadows[i];
    const ShadowState& t = o.shadows[i];
    s.compared += t.compared;
    s.classified += t.classified;
    s.disagreements += t.disagreements;
    s.missing += t.missing;
    s.non_finite += t.non_finite;
    s.champion_missing += t.champion_missing;
    s.deviation.merge(t.deviation);
    s.from_canary.merge(t.from_canary);
    s.histogram.merge(t.histogram);
    s.top.merge(t.top);
  }
}

inline void CanaryState::clear() {
  for (ShadowState& s : shadows) {
    s.compared = s.classified = s.disagreements = s.missing = s.non_finite = s.champion_missing = 0;
    s.deviation = RunningStats();
    s.from_canary = RunningStats();
    s.histogram.clear();
    s.top.clear();
  }
}

inline std::size_t CanaryState::memory_bytes() const {
  std::size_t bytes = shadows.capacity() * sizeof(ShadowState);
  for (const ShadowState& s : shadows) bytes += s.histogram.memory_bytes() - sizeof(s.histogram) + s.top.memory_bytes();
  return bytes;
}

inline void CanaryState::serialize(io::Writer& w) const {
  w.varint(shadows.size());
  for (const ShadowState& s : shadows) {
    w.varint(s.compared);
    w.varint(s.classified);
    w.varint(s.disagreements);
    w.varint(s.missing);
    w.varint(s.non_finite);
    w.varint(s.champion_missing);
    write_sketch(w, s.deviation);
    write_sketch(w, s.from_canary);
    write_sketch(w, s.histogram);
    s.top.serialize(w);
  }
}

// A version 1 state's t-digest of the deviations, as a histogram: each centroid's weight at
// its mean. Its first and last centroids are single values, so the smallest and the largest
// deviation stay exact; a quantile between them is within the digest's error and a bucket's.
inline LogHistogram CanaryState::read_v1_digest(io::Reader& r, const CanaryPlan& plan, const std::string& name) {
  const TDigest<> digest = read_sketch<TDigest<>>(r);
  if (digest.compression() != 50) r.fail("shadow '" + name + "': a digest of another compression");
  LogHistogram histogram(plan.histogram);
  for (const TDigest<>::Centroid& c : digest.centroids()) {
    // A digest of unit weights holds whole counts; any other weight is not apply()'s.
    if (!(c.weight >= 1 && c.weight <= 9007199254740992.0 && c.weight == std::floor(c.weight)))
      r.fail("shadow '" + name + "': a deviation weighted " + to_text(c.weight));
    histogram.record(c.mean, static_cast<std::uint64_t>(c.weight));
  }
  if (digest.rejected() > 0) r.fail("shadow '" + name + "': a digest that refused deviations");
  return histogram;
}

inline CanaryState CanaryState::deserialize(io::Reader& r, const CanaryPlan& plan, std::uint8_t version) {
  CanaryState state(plan);
  read_length(r, state.shadows.size(), "shadow outputs");
  for (std::size_t i = 0; i < state.shadows.size(); ++i) {
    ShadowState& s = state.shadows[i];
    const std::string& name = plan.shadows[i].name;
    s.compared = r.varint();
    s.classified = r.varint();
    s.disagreements = r.varint();
    s.missing = r.varint();
    s.non_finite = r.varint();
    s.champion_missing = r.varint();
    s.deviation = read_sketch<RunningStats>(r);
    s.from_canary = read_sketch<RunningStats>(r);
    if (version == 1) {
      s.histogram = read_v1_digest(r, plan, name);
    } else {
      s.histogram = read_sketch<LogHistogram>(r);
      const LogHistogramOptions& o = s.histogram.options();
      if (o != plan.histogram || s.histogram.scale() > o.scale)
        r.fail("shadow '" + name + "': a histogram of other options");
    }
    s.top = TopDeviations::deserialize(r, plan.top);
    check_shadow(r, plan.shadows[i], s, plan.top);
  }
  return state;
}

// The invariants apply_one() and merge() keep: every compared request is in the moments and
// the histogram (in a bucket, or refused as too large for its sum), with a deviation ≥ 0; a
// threshold classifies each; only a challenger with a canary measures from it; every
// compared request was offered to the kept ones.
inline void CanaryState::check_shadow(const io::Reader& r, const ShadowPlan& p, const ShadowState& s, std::size_t top) {
  const auto compared = static_cast<double>(s.compared);
  const LogHistogram& h = s.histogram;
  const bool counted = h.negative() == 0 && h.underflow() == 0 && h.overflow() == 0 &&
                       saturating_add(h.count(), h.not_finite()) == s.compared && s.deviation.count() == compared &&
                       s.deviation.rejected() == 0 && s.from_canary.count() <= compared && s.from_canary.rejected() == 0;
  const bool signs = s.compared == 0 || (!(h.min() < 0) && s.deviation.min() >= 0 &&
                                         (s.from_canary.count() == 0 || s.from_canary.min() >= 0));
  const bool classes = s.classified <= s.compared && s.disagreements <= s.classified &&
                       (!p.has_threshold || s.classified == s.compared);
  const bool canary = p.canary != ShadowPlan::none || s.from_canary.count() == 0;
  // At most min(compared, canary_top): fewer when written under a smaller canary_top.
  bool kept = s.top.size() <= std::min<std::uint64_t>(s.compared, top);
  for (const Deviation& d : s.top.kept_) kept = kept && d.deviation <= s.deviation.max();
  if (!(counted && signs && classes && canary && kept))
    r.fail("shadow '" + p.name + "': " + std::to_string(s.compared) + " requests compared, " +
           std::to_string(s.classified) + " classified, " + std::to_string(s.disagreements) + " disagreeing, deviations counted " +
           std::to_string(h.count() + h.not_finite()) + " and " + to_text(s.deviation.count()) + " times from " + to_text(s.deviation.min()) +
           ", " + to_text(s.from_canary.count()) + " from a canary, " + std::to_string(s.top.size()) + " kept");
}

inline void CanaryState::check(const CanaryPlan& plan, std::uint64_t requests, const io::Reader& r) const {
  for (std::size_t i = 0; i < shadows.size(); ++i) {
    const ShadowState& s = shadows[i];
    std::uint64_t seen = s.compared;
    for (std::uint64_t n : {s.missing, s.non_finite, s.champion_missing}) seen = saturating_add(seen, n);
    if (seen > requests)
      r.fail("shadow '" + plan.shadows[i].name + "': " + std::to_string(seen) + " requests in an interval of " +
             std::to_string(requests));
  }
}

}  // namespace detail
}  // namespace vigil

// vigil — in-process monitoring of machine-learning models in C++ inference servers.
// SPDX-License-Identifier: Apache-2.0
//
// The conversions family's plan (the arm tag, the delay buckets, the options), its state of
// one interval (impressions per arm) and the ledger of impressions and responses per arm and
// conversion interval that the evaluation keeps.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <numeric>
#include <string>
#include <vector>

#include "vigil/config.hpp"
#include "vigil/error.hpp"
#include "vigil/io/binary.hpp"
#include "vigil/monitor/detail/label_intake.hpp"
#include "vigil/monitor/detail/request.hpp"
#include "vigil/monitor/detail/tag_remap.hpp"
#include "vigil/monitor/options.hpp"
#include "vigil/monitor/profile.hpp"
#include "vigil/monitor/schema.hpp"

namespace vigil {
namespace detail {

/// Buckets of the delay from an impression to its response: [0, 1 s), then ten per decade,
/// [10^((j − 1)/10), 10^(j/10)) seconds, up to the first edge at or above the longest delay
/// a response can have (the labels' time-to-live), and one open bucket above it. A delay is
/// known to within a factor of 10^0.1 ≈ 1.26, finer than the spread of response delays.
class DelayBuckets {
 public:
  DelayBuckets() : DelayBuckets(1) {}
  explicit DelayBuckets(double longest) {
    const double top = longest > 1 ? std::ceil(10 * std::log10(longest)) : 0;
    for (double j = 0; j <= top; ++j) upper_.push_back(std::pow(10.0, j / 10));
    upper_.push_back(std::numeric_limits<double>::infinity());
  }
  std::size_t size() const { return upper_.size(); }
  /// Delays in bucket j are below upper(j) and at least upper(j − 1) (0 for j = 0).
  double upper(std::size_t j) const { return upper_[j]; }
  /// The bucket of a delay ≥ 0 (by the stored edges, whatever the rounding of the logarithm).
  std::size_t of(double delay) const {
    if (!(delay >= 1)) return 0;
    const double guess = std::floor(10 * std::log10(delay)) + 1;
    std::size_t j = static_cast<std::size_t>(std::min(guess, static_cast<double>(upper_.size() - 1)));
    while (j + 1 < upper_.size() && delay >= upper_[j]) ++j;
    while (j > 0 && delay < upper_[j - 1]) --j;
    return j;
  }
  std::size_t memory_bytes() const { return upper_.capacity() * sizeof(double); }

 private:
  std::vector<double> upper_;
};

/// What the conversions family derives once from the Schema and the options.
struct ConversionPlan {
  bool active = false;       // MonitorOptions::conversion_arm names a tag
  std::uint32_t arm_tag = 0;
  std::string arm_name;
  std::size_t arms = 0;      // the tag's max_values + 1 ("other"): arm ids 0 … arms − 1
  double share = 0.6;
  double horizon = 0;
  double confidence = 0.95;
  double resolution = 600;   // impressions are grouped by MonitorOptions::conversion_resolution()
  double time_to_live = 86400;
  std::size_t length = 0;    // conversion intervals the ledger keeps: those of one time-to-live and the newest
  DelayBuckets delays;

  ConversionPlan request_path() const {
    ConversionPlan p;
    p.active = active;
    p.arm_tag = arm_tag;
    p.arms = arms;
    return p;
  }
  std::size_t memory_bytes() const { return sizeof(*this) + heap_bytes(arm_name) + delays.memory_bytes(); }
};

inline ConversionPlan make_conversion_plan(const Schema& schema, const Profile&, const MonitorOptions& options) {
  ConversionPlan p;
  const auto arm = conversion_arm(schema, options);
  if (!arm) return p;
  p.active = true;
  p.arm_tag = arm->index;
  p.arm_name = schema.name(*arm);
  p.arms = schema.options(*arm).max_values + 1;
  p.share = options.conversion_share;
  p.horizon = options.conversion_horizon;
  p.confidence = options.conversion_confidence;
  p.resolution = options.conversion_resolution();
  p.time_to_live = options.label_time_to_live;
  p.length = static_cast<std::size_t>(std::ceil(options.label_time_to_live / p.resolution)) + 1;
  p.delays = DelayBuckets(options.label_time_to_live);
  return p;
}

/// The conversions family's state of one interval: per arm id the requests with an id
/// (impressions, which a response can name), and last those without the arm tag.
/// Memory: 8 bytes per arm id and one, when conversions are tracked; none otherwise.
struct ConversionState {
  static constexpr std::uint8_t format_version = 1;

  ConversionState() = default;
  explicit ConversionState(const ConversionPlan& p) : impressions(p.active ? p.arms + 1 : 0, 0) {}

  std::vector<std::uint64_t> impressions;

  VIGIL_INLINE void apply(const ConversionPlan& p, const Request& request) {
    if (impressions.empty() || !request.observation.has_id()) return;
    const std::uint32_t arm = request.tag_ids[p.arm_tag];
    ++impressions[arm < p.arms ? arm : p.arms];
  }
  void merge(const ConversionState& other) {
    for (std::size_t a = 0; a < impressions.size() && a < other.impressions.size(); ++a)
      impressions[a] += other.impressions[a];
  }
  /// Moves the impressions to the arm ids `remap` gives (merging replicas).
  void remap(const ConversionPlan& p, const TagRemap& ids) {
    if (!impressions.empty()) remap_counters(impressions, 0, p.arms, p.arm_tag, ids);
  }
  void clear() { std::fill(impressions.begin(), impressions.end(), 0); }
  void compact() {}
  friend bool operator==(const ConversionState& a, const ConversionState& b) { return a.impressions == b.impressions; }
  std::size_t memory_bytes() const { return impressions.capacity() * sizeof(std::uint64_t); }
  /// Whether no impression was filed: the interval summary then leaves the state out.
  bool empty() const {
    return std::all_of(impressions.begin(), impressions.end(), [](std::uint64_t n) { return n == 0; });
  }
  void serialize(io::Writer& w) const {
    w.varint(impressions.size());
    for (std::uint64_t n : impressions) w.varint(n);
  }
  /// Reads serialize()'s output into a state shaped by `p`; throws vigil::format_error for
  /// another number of arms.
  static ConversionState deserialize(io::Reader& r, const ConversionPlan& p) {
    ConversionState s(p);
    const std::uint64_t arms = r.varint();
    if (arms != s.impressions.size())
      r.fail("conversion state: " + std::to_string(arms) + " arms where the plan has " +
             std::to_string(s.impressions.size()));
    for (std::uint64_t& n : s.impressions) n = r.varint();
    return s;
  }
  /// Refuses more impressions than the interval's requests.
  void check(const ConversionPlan&, std::uint64_t requests, const io::Reader& r) const {
    std::uint64_t total = 0;
    for (std::uint64_t n : impressions) {
      if (n > requests - total) r.fail("conversion state: more impressions than the interval's " +
                                       std::to_string(requests) + " requests");
      total += n;
    }
  }
};

/// Impressions and responses per arm and conversion interval of the impression, for the
/// conversion intervals of one time-to-live: a ring of ConversionPlan::length rows, each with
/// the impressions per arm (and those without an arm) and, per arm that has had a response,
/// the responses per delay bucket.
/// Memory: length × 8 × (arms + 1) bytes, and length × 8 × delay buckets per arm that has
/// had a response.
class ConversionLedger {
 public:
  explicit ConversionLedger(const ConversionPlan& p) : plan_(&p) {}

  /// Adds the impressions of a fine interval starting at `start`; false when its conversion
  /// interval is older than the ring keeps.
  bool add_impressions(double start, const ConversionState& s);
  /// Adds a response; false when its impression's conversion interval is older than the ring keeps.
  bool add_conversion(const JoinedConversion& c);

  /// Calls fn(start, impressions, delays) for each kept row: `impressions` has arms + 1
  /// values, `delays(arm)` the arm's responses per delay bucket or null when it has none.
  template <class Fn>
  void each(Fn&& fn) const;
  std::size_t memory_bytes() const;

  /// Adds another replica's ledger of a plan of the same shape (Monitor::merge), row by
  /// row, aligned by conversion-interval index. The newest interval becomes the later of
  /// the two newest; the rows that puts beyond the ring, here or in `other`, age out as
  /// they would had one ledger taken both replicas' traffic. In a kept row, `other`'s
  /// impressions and responses per delay bucket of arm id a add to those of arm id
  /// `remap(arm_tag, a)` here (arm ids mapped together add; "other" maps to "other"), and
  /// its impressions without an arm to those without an arm. Throws
  /// vigil::invalid_argument, changing nothing, for a plan of another number of arms, delay
  /// buckets, resolution or length, or a `remap` without the arm tag's ids or with ids
  /// beyond the arms. O(length × (arms + arms with responses × delay buckets)).
  void merge(const ConversionLedger& other, const TagRemap& remap);

  /// Writes the rows the ring holds: their number, then (when there are any) the newest
  /// conversion interval, per row in ring order its interval and impressions per arm (arms +
  /// 1 values), and per arm that has had a response (their number, then each arm's id) the
  /// responses per delay bucket of every row, in the same order.
  void save(io::Writer& w) const;
  /// Reads save()'s output into an empty ledger of the same plan. Throws vigil::format_error
  /// (through `r`) for more rows than the ring holds, rows out of ring order or not within
  /// its length of the newest, more arms with responses than the plan has, or arm ids out of
  /// order or range.
  void load(io::Reader& r);

 private:
  static constexpr std::int64_t none = std::numeric_limits<std::int64_t>::min();
  std::uint64_t* row(double time);  // the row of the conversion interval of `time`, made current; null if too old
  void allocate();                  // the ring's rows, all unused
  void clear_row(std::size_t at);   // zero impressions and responses in row `at`
  void age_out(std::int64_t newest);  // `newest` the newest interval; rows beyond the ring unused
  void check_merge(const ConversionLedger& other, const TagRemap& remap) const;
  void add_row(const ConversionLedger& other, std::size_t at, const TagRemap& remap);  // other's row `at`, remapped
  void load_rows(io::Reader& r, std::uint64_t rows);  // load()'s first part: the newest interval and the rows
  std::size_t place(std::int64_t q) const {
    const auto n = static_cast<std::int64_t>(plan_->length);
    return static_cast<std::size_t>(((q % n) + n) % n);
  }

  const ConversionPlan* plan_;
  std::int64_t newest_ = none;
  std::vector<std::int64_t> index_;         // the conversion interval of each row
  std::vector<std::uint64_t> impressions_;  // length × (arms + 1)
  std::vector<std::vector<std::uint64_t>> delays_;  // per arm: length × buckets, made at its first response
};

inline std::uint64_t* ConversionLedger::row(double time) {
  const double position = std::floor(time / plan_->resolution);
  if (!(std::fabs(position) < 0x1p62)) return nullptr;
  const auto q = static_cast<std::int64_t>(position);
  const auto length = static_cast<std::int64_t>(plan_->length);
  if (newest_ != none && q <= newest_ - length) return nullptr;
  if (index_.empty()) allocate();
  // Rows the ring moves past are forgotten, even when no impression came for years.
  if (newest_ == none || q > newest_) age_out(q);
  const std::size_t at = place(q);
  if (index_[at] != q) {
    index_[at] = q;
    clear_row(at);
  }
  return impressions_.data() + at * (plan_->arms + 1);
}

inline void ConversionLedger::allocate() {
  index_.assign(plan_->length, none);
  impressions_.assign(plan_->length * (plan_->arms + 1), 0);
  delays_.resize(plan_->arms);
}

inline void ConversionLedger::clear_row(std::size_t at) {
  const std::size_t width = plan_->arms + 1;
  std::fill_n(impressions_.begin() + static_cast<std::ptrdiff_t>(at * width), width, 0);
  const std::size_t buckets = plan_->delays.size();
  for (std::vector<std::uint64_t>& d : delays_)
    if (!d.empty()) std::fill_n(d.begin() + static_cast<std::ptrdiff_t>(at * buckets), buckets, 0);
}

inline void ConversionLedger::age_out(std::int64_t newest) {
  newest_ = newest;
  const std::int64_t oldest = newest - static_cast<std::int64_t>(plan_->length);  // the last interval beyond the ring
  for (std::int64_t& q : index_)
    if (q != none && q <= oldest) q = none;
}

inline void ConversionLedger::check_merge(const ConversionLedger& other, const TagRemap& remap) const {
  const ConversionPlan &p = *plan_, &o = *other.plan_;
  if (o.arms != p.arms || o.delays.size() != p.delays.size() || o.resolution != p.resolution || o.length != p.length)
    throw_invalid_argument("ConversionLedger::merge: " + std::to_string(o.arms) + " arms, " + std::to_string(o.delays.size()) +
                           " delay buckets, " + std::to_string(o.length) + " rows of " + to_text(o.resolution) +
                           " s into " + std::to_string(p.arms) + " arms, " + std::to_string(p.delays.size()) +
                           " delay buckets, " + std::to_string(p.length) + " rows of " + to_text(p.resolution) + " s");
  if (p.arms == 0) return;
  if (p.arm_tag >= remap.ids.size() || remap.ids[p.arm_tag].size() != p.arms)
    throw_invalid_argument("ConversionLedger::merge: the remap has no ids of arm tag " + std::to_string(p.arm_tag) +
                           " for its " + std::to_string(p.arms) + " arms");
  for (const std::uint32_t id : remap.ids[p.arm_tag])
    if (id >= p.arms)
      throw_invalid_argument("ConversionLedger::merge: the remap gives arm id " + std::to_string(id) + " of " +
                             std::to_string(p.arms) + " arms");
}

inline void ConversionLedger::merge(const ConversionLedger& other, const TagRemap& remap) {
  check_merge(other, remap);
  if (other.newest_ == none) return;
  if (index_.empty()) allocate();
  age_out(std::max(newest_, other.newest_));
  const std::int64_t oldest = newest_ - static_cast<std::int64_t>(plan_->length);
  // Within the ring each place holds one interval index: both rings hold the same one there, or one holds none.
  for (std::size_t at = 0; at < plan_->length; ++at) {
    const std::int64_t q = other.index_[at];
    if (q == none || q <= oldest) continue;
    if (index_[at] != q) {
      index_[at] = q;
      clear_row(at);
    }
    add_row(other, at, remap);
  }
}

inline void ConversionLedger::add_row(const ConversionLedger& other, std::size_t at, const TagRemap& remap) {
  const std::size_t arms = plan_->arms, width = arms + 1, buckets = plan_->delays.size();
  const std::uint64_t* theirs = other.impressions_.data() + at * width;
  std::uint64_t* mine = impressions_.data() + at * width;
  for (std::uint32_t a = 0; a < arms; ++a) mine[remap(plan_->arm_tag, a)] += theirs[a];
  mine[arms] += theirs[arms];  // without an arm
  for (std::uint32_t a = 0; a < arms; ++a) {
    const std::vector<std::uint64_t>& from = other.delays_[a];
    if (from.empty()) continue;
    std::vector<std::uint64_t>& to = delays_[remap(plan_->arm_tag, a)];
    if (to.empty()) to.assign(plan_->length * buckets, 0);
    for (std::size_t j = 0; j < buckets; ++j) to[at * buckets + j] += from[at * buckets + j];
  }
}

inline bool ConversionLedger::add_impressions(double start, const ConversionState& s) {
  if (s.empty()) return true;
  std::uint64_t* r = row(start);
  if (r == nullptr) return false;
  for (std::size_t a = 0; a <= plan_->arms && a < s.impressions.size(); ++a) r[a] += s.impressions[a];
  return true;
}

inline bool ConversionLedger::add_conversion(const JoinedConversion& c) {
  if (row(c.request_time) == nullptr) return false;
  if (c.arm >= plan_->arms) return true;  // an impression without an arm: joined, in no arm
  std::vector<std::uint64_t>& d = delays_[c.arm];
  const std::size_t buckets = plan_->delays.size();
  if (d.empty()) d.assign(plan_->length * buckets, 0);
  const std::size_t at = place(static_cast<std::int64_t>(std::floor(c.request_time / plan_->resolution)));
  ++d[at * buckets + plan_->delays.of(c.time - c.request_time)];
  return true;
}

template <class Fn>
void ConversionLedger::each(Fn&& fn) const {
  const std::size_t width = plan_->arms + 1;
  const std::size_t buckets = plan_->delays.size();
  for (std::size_t at = 0; at < index_.size(); ++at) {
    if (index_[at] == none) continue;
    const auto delays = [&](std::size_t arm) -> const std::uint64_t* {
      return delays_[arm].empty() ? nullptr : delays_[arm].data() + at * buckets;
    };
    fn(static_cast<double>(index_[at]) * plan_->resolution, impressions_.data() + at * width, delays);
  }
}

inline void ConversionLedger::save(io::Writer& w) const {
  const auto rows = static_cast<std::size_t>(std::count_if(index_.begin(), index_.end(), [](std::int64_t q) { return q != none; }));
  w.varint(rows);
  if (rows == 0) return;
  w.i64(newest_);
  const std::size_t width = plan_->arms + 1;
  for (std::size_t at = 0; at < index_.size(); ++at) {
    if (index_[at] == none) continue;
    w.i64(index_[at]);
    for (std::size_t a = 0; a < width; ++a) w.varint(impressions_[at * width + a]);
  }
  const std::size_t buckets = plan_->delays.size();
  w.varint(static_cast<std::uint64_t>(std::count_if(delays_.begin(), delays_.end(), [](const auto& d) { return !d.empty(); })));
  for (std::size_t arm = 0; arm < delays_.size(); ++arm) {
    if (delays_[arm].empty()) continue;
    w.varint(arm);
    for (std::size_t at = 0; at < index_.size(); ++at)
      if (index_[at] != none)
        for (std::size_t j = 0; j < buckets; ++j) w.varint(delays_[arm][at * buckets + j]);
  }
}

inline void ConversionLedger::load(io::Reader& r) {
  const std::uint64_t rows = r.varint();
  if (rows > plan_->length)
    r.fail("conversion ledger: " + std::to_string(rows) + " rows, the ring holds " + std::to_string(plan_->length));
  if (rows == 0) return;
  load_rows(r, rows);
  const std::uint64_t arms = r.varint();
  if (arms > plan_->arms)
    r.fail("conversion ledger: " + std::to_string(arms) + " arms with responses, the plan has " + std::to_string(plan_->arms));
  const std::size_t buckets = plan_->delays.size();
  std::size_t next = 0;  // the lowest id the next arm may have
  for (std::uint64_t i = 0; i < arms; ++i) {
    const std::uint64_t arm = r.varint();
    if (arm < next || arm >= plan_->arms) r.fail("conversion ledger: arm " + std::to_string(arm) + " is out of order or range");
    next = static_cast<std::size_t>(arm) + 1;
    std::vector<std::uint64_t>& d = delays_[arm];
    d.assign(plan_->length * buckets, 0);
    for (std::size_t at = 0; at < index_.size(); ++at)
      if (index_[at] != none)
        for (std::size_t j = 0; j < buckets; ++j) d[at * buckets + j] = r.varint();
  }
}

inline void ConversionLedger::load_rows(io::Reader& r, std::uint64_t rows) {
  newest_ = r.i64();
  // Within the range row() takes, so that the ring's arithmetic cannot overflow.
  if (!(std::fabs(static_cast<double>(newest_)) < 0x1p62))
    r.fail("conversion ledger: the newest interval " + std::to_string(newest_) + " is out of range");
  index_.assign(plan_->length, none);
  impressions_.assign(plan_->length * (plan_->arms + 1), 0);
  delays_.assign(plan_->arms, {});
  const auto length = static_cast<std::int64_t>(plan_->length);
  const std::size_t width = plan_->arms + 1;
  std::size_t next = 0;  // the first place the next row may take
  bool newest_seen = false;
  for (std::uint64_t i = 0; i < rows; ++i) {
    const std::int64_t q = r.i64();
    if (q > newest_ || q <= newest_ - length) r.fail("conversion ledger: interval " + std::to_string(q) + " is not within the ring");
    const std::size_t at = place(q);
    if (at < next) r.fail("conversion ledger: interval " + std::to_string(q) + " is out of ring order");
    next = at + 1;
    newest_seen = newest_seen || q == newest_;
    index_[at] = q;
    for (std::size_t a = 0; a < width; ++a) impressions_[at * width + a] = r.varint();
  }
  if (!newest_seen) r.fail("conversion ledger: the newest interval " + std::to_string(newest_) + " is not held");
}

inline std::size_t ConversionLedger::memory_bytes() const {
  std::size_t bytes = index_.capacity() * sizeof(std::int64_t) + impressions_.capacity() * sizeof(std::uint64_t) +
                      delays_.capacity() * sizeof(std::vector<std::uint64_t>);
  for (const std::vector<std::uint64_t>& d : delays_) bytes += d.capacity() * sizeof(std::uint64_t);
  return bytes;
}

}  // namespace detail
}  // namespace vigil

// vigil — in-process monitoring of machine-learning models in C++ inference servers.
// SPDX-License-Identifier: Apache-2.0
//
// Where late labels meet their requests: the store of requests waiting for a label (filed by
// observe() for every request with an id), the join of each label by request id, and the
// labels joined but not yet evaluated, kept in the order they came so that each interval's
// evaluation sees exactly the labels that had arrived by its end, however late it runs.
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "vigil/io/binary.hpp"
#include "vigil/monitor/detail/label_stats.hpp"
#include "vigil/monitor/detail/interval_clock.hpp"
#include "vigil/monitor/detail/label_store.hpp"
#include "vigil/monitor/detail/request.hpp"
#include "vigil/monitor/detail/state_codec.hpp"
#include "vigil/monitor/detail/string_ids.hpp"
#include "vigil/monitor/detail/tag_dictionary.hpp"
#include "vigil/monitor/observation.hpp"
#include "vigil/monitor/options.hpp"
#include "vigil/monitor/schema.hpp"

namespace vigil {
namespace detail {

/// The output labels judge: MonitorOptions::quality_output, or the schema's first output.
/// Throws vigil::invalid_argument for a name that is no output. The schema has an output.
inline Output quality_output(const Schema& schema, const MonitorOptions& options) {
  if (options.quality_output.empty()) return Output{0};
  const auto found = schema.find_output(options.quality_output);
  if (!found)
    throw_invalid_argument("MonitorOptions: quality_output '" + options.quality_output + "' is no output of the schema");
  if (schema.role(*found) != OutputRole::model)
    throw_invalid_argument("MonitorOptions: quality_output '" + options.quality_output + "' is a " +
                           to_string(schema.role(*found)) + ", not a model output");
  return *found;
}

/// The tag of MonitorOptions::conversion_arm, or none when conversions are not tracked.
/// Throws vigil::invalid_argument for a name that is no tag, or a tag of more values than
/// Schema::max_cohort_values (each value is an arm, counted in every interval summary).
inline std::optional<Tag> conversion_arm(const Schema& schema, const MonitorOptions& options) {
  if (options.conversion_arm.empty()) return std::nullopt;
  const auto found = schema.find_tag(options.conversion_arm);
  if (!found)
    throw_invalid_argument("MonitorOptions: conversion_arm '" + options.conversion_arm + "' is no tag of the schema");
  const std::size_t values = schema.options(*found).max_values;
  if (values > Schema::max_cohort_values)
    throw_invalid_argument("MonitorOptions: conversion_arm '" + options.conversion_arm + "' has max_values " +
                           std::to_string(values) + ", above Schema::max_cohort_values " +
                           std::to_string(Schema::max_cohort_values));
  return found;
}

/// The output labels judge, as the request path and the join read it.
struct LabelTarget {
  std::uint32_t output = 0;  // index in the schema
  std::string name;
  LabelKind kind = LabelKind::regression;
  double threshold = 0;
  std::vector<std::string> classes;  // declared classes
  StringIds class_ids;               // id of a predicted class among them

  LabelTarget() = default;
  LabelTarget(const Schema& schema, const MonitorOptions& options);
};

/// A label joined to its request, waiting for the evaluation of the interval it arrived in.
struct JoinedLabel {
  double time;                  // when the label arrived
  PendingRequest request;
  LabelValue value;
};

/// The loss attributions of a label joined to its request (Monitor::on_label with
/// attributions), waiting for the evaluation of the interval the label arrived in.
struct JoinedAttribution {
  double time;          // when the label arrived
  double request_time;  // when its request was made
};

/// What became of the attributions given with labels, since the monitor started.
struct AttributionCounts {
  std::uint64_t labels = 0;          // joined labels that carried attributions
  std::uint64_t wrong_count = 0;     // labels whose attributions were not one per input feature: left out
  std::uint64_t bad_values = 0;      // NaN or infinite values: left out of their feature
  std::uint64_t applied_early = 0;   // credited before their interval was evaluated (staging full)
};

/// A response joined to its impression, waiting for the evaluation of the interval it
/// arrived in.
struct JoinedConversion {
  double time;          // when the response came
  double request_time;  // when its impression was made
  std::uint32_t arm;    // the impression's arm tag id, or no_tag
};

/// What became of the responses given to Monitor::on_conversion, since the monitor started.
struct ConversionCounts {
  std::uint64_t received = 0;           // on_conversion() calls
  std::uint64_t joined = 0;             // joined to the impression they name
  std::uint64_t unknown_ids = 0;        // no request with that id is held
  std::uint64_t duplicates = 0;         // the impression already had its response
  std::uint64_t too_late = 0;           // the impression is older than the time-to-live
  std::uint64_t bad_times = 0;          // NaN or infinite time
  std::uint64_t before_impression = 0;  // dated before their impression: refused
  std::uint64_t applied_early = 0;      // applied before their interval was evaluated
};

/// What became of the labels given to Monitor::on_label, counted since the monitor started.
struct LabelCounts {
  std::uint64_t received = 0;        // on_label() calls
  std::uint64_t joined = 0;          // joined to the request they name
  std::uint64_t unknown_ids = 0;     // no request with that id is held (never seen, or pushed out)
  std::uint64_t duplicates = 0;      // the request already had its label
  std::uint64_t too_late = 0;        // the request is older than the labels' time-to-live
  std::uint64_t bad_labels = 0;      // of the wrong type for the output (LabelKind)
  std::uint64_t bad_times = 0;       // NaN or infinite label time
  std::uint64_t before_request = 0;  // dated before the request they name: refused, the request keeps waiting
  std::uint64_t applied_early = 0;   // applied before their interval was evaluated, the staging being full
};

/// The label path of a Monitor (docs/guide.md, "Is it right?"), and the response path of its
/// conversions (one store serves both: a request can have a label and a response).
///
/// **Memory**: the store (MonitorOptions::label_capacity requests, LabelStore's
/// bytes_per_request with one extra per cohort tag and one for the arm when conversions are
/// tracked), allocated with the monitor when its profile has labels or it tracks
/// conversions, else at the first request with an id; at most label_capacity labels staged
/// for evaluation (sizeof(JoinedLabel) plus 4 bytes per cohort tag each) and at most
/// label_capacity responses (sizeof(JoinedConversion) each).
///
/// **Snapshot** (save/load): whether the store was made (a bool), and then its requests
/// (LabelStore::save); the staged labels (a count, then each: time, request time, interval
/// i64, score, predicted class u32, label number f64, label class u32, cohort slots u32
/// each); the staged responses (a count, then each: time, impression time, arm u32); the
/// staged attributions (a count, then each: time, request time, features() values f64, cohort
/// slots u32 each); then the counts as varints: AttributionCounts (applied_early, labels,
/// wrong_count, bad_values), LabelCounts (applied_early, joined, unknown_ids, duplicates,
/// too_late, bad_labels, bad_times, before_request, received), ConversionCounts
/// (applied_early, joined, unknown_ids, duplicates, too_late, bad_times, before_impression,
/// received). Times and scores are f64, counts of a list varints.
///
/// **Threads**: file() runs under a shard's lock and takes one of the store's partition
/// locks; label() takes a partition lock, then the staging lock; drain() the staging lock.
/// No path takes a shard lock after these.
class LabelIntake {
 public:
  /// `eager`: allocate the store now (a monitor whose profile has labels, or that tracks
  /// conversions, will see ids), not at the first request with an id, under a shard's lock.
  LabelIntake(const Schema& schema, const MonitorOptions& options, std::vector<TagDictionary::CohortTag> cohorts,
              std::size_t shards, bool eager);

  const LabelTarget& target() const { return target_; }
  std::size_t cohort_count() const { return cohorts_.size(); }
  /// Values file() writes into its scratch: the cohort slots, then the arm's tag id.
  std::size_t extras() const { return store_options_.extras; }
  /// The arm tag (MonitorOptions::conversion_arm), or no_tag when conversions are not tracked.
  std::uint32_t arm_tag() const { return arm_tag_; }

  /// Files a request with an id, whose request_key is `key` (of fine interval `interval`, at
  /// event time `t`), to wait for its label. `tag_ids` are the request's resolved tag ids, for
  /// its cohort slots; `scratch` has room for extras() values (the shard's, so that nothing
  /// allocates).
  void file(const Observation& o, std::uint64_t key, std::int64_t interval, double t,
            const std::uint32_t* tag_ids, std::uint32_t* scratch);

  /// The request_key of the request's id: computed before the shard's lock is taken.
  static std::uint64_t key_of(const Observation& o) { return request_key(std::string_view(o.id())); }

  /// Joins a label given as a number or as text, with the loss attributions of its request
  /// when `attributions` is not null (`count` values, one per input feature: else counted in
  /// AttributionCounts::wrong_count and left out, the label still joined). Returns whether
  /// the label was staged for evaluation.
  bool label(std::string_view id, double label, double t, const double* attributions = nullptr, std::size_t count = 0);
  bool label(std::string_view id, std::string_view label, double t, const double* attributions = nullptr,
             std::size_t count = 0);
  /// Input features: the number of attributions a label carries.
  std::size_t features() const { return features_; }
  /// Joins a response (a conversion) to the impression it names. Returns whether it was
  /// staged for evaluation.
  bool conversion(std::string_view id, double t);

  /// Calls fn(label, slots) for every staged label that arrived before `before`, in the order
  /// they arrived, and forgets them: `slots` are its request's cohort slots (cohort_count()
  /// values, no_tag for none).
  template <class Fn>
  std::size_t drain(double before, Fn&& fn);
  /// Calls fn(conversion) for every staged response that arrived before `before`, in the
  /// order they arrived, and forgets them.
  template <class Fn>
  std::size_t drain_conversions(double before, Fn&& fn);
  /// Calls fn(attribution, values, slots) for every staged attribution whose label arrived
  /// before `before`, in the order they came, and forgets them: `values` are features()
  /// values, `slots` its request's cohort slots.
  template <class Fn>
  std::size_t drain_attributions(double before, Fn&& fn);
  /// Whether a staging is full: the caller evaluates the closed intervals (which drains
  /// it), and take_overflow(), take_conversion_overflow() and take_attribution_overflow()
  /// then apply what is left.
  bool staging_full() const {
    return staged_count_.load(std::memory_order_relaxed) >= staging_capacity_ ||
           conversions_staged_.load(std::memory_order_relaxed) >= staging_capacity_ ||
           attributions_staged_.load(std::memory_order_relaxed) >= attribution_capacity_;
  }
  template <class Fn>
  void take_attribution_overflow(Fn&& fn);
  AttributionCounts attribution_counts() const;
  /// Attributed labels staged at most: label_capacity, and no more than 2^22 values in all.
  std::size_t attribution_capacity() const { return attribution_capacity_; }
  template <class Fn>
  void take_overflow(Fn&& fn);
  template <class Fn>
  void take_conversion_overflow(Fn&& fn);

  LabelCounts counts() const;
  ConversionCounts conversion_counts() const;
  /// Requests held that wait for their label, pushed out by capacity unlabelled, and aged
  /// out unlabelled (ids never labelled).
  std::uint64_t pending() const { return store() ? store()->pending() : 0; }
  std::uint64_t evicted() const { return store() ? store()->evicted() : 0; }
  std::uint64_t expired() const { return store() ? store()->expired_unlabelled() : 0; }
  /// Requests filed with an id already held.
  std::uint64_t duplicate_ids() const { return store() ? store()->duplicate_ids() : 0; }
  /// Ages out requests older than the time-to-live at `time`.
  void expire(double time) {
    if (LabelStore* s = store()) s->expire(time);
  }
  std::size_t memory_bytes() const;

  /// Adds another replica's counts (Monitor::merge): every counter behind counts(),
  /// conversion_counts() and attribution_counts(), and the store's evicted(), expired() and
  /// duplicate_ids() (LabelStore::add_counts; the store is made here when `other`'s has
  /// counted any). Nothing else moves: the requests still waiting in `other`'s store and the
  /// labels, responses and attributions it has staged stay with that replica (a label for
  /// one of its requests joins there only), and pending() counts this intake's requests.
  /// Totals are added before the outcomes they bound, so that a save() racing the merge
  /// writes counts load() accepts. Throws vigil::invalid_argument, changing nothing, for an
  /// intake of another label kind, number of cohort tags or input features, or arm tag.
  void add_counts(const LabelIntake& other);

  /// Writes what the intake learnt (the class comment's **Snapshot**), taking the store's
  /// partition locks, then the staging lock. Each count is read before those it cannot
  /// exceed, so that a save racing labels still writes counts that load() accepts.
  void save(io::Writer& w) const;
  /// Reads save()'s bytes into an intake constructed from the same schema, options and
  /// cohorts (of any shard count: see LabelStore::load), replacing its store, staging and
  /// counts. Throws vigil::format_error for a staging longer than the construction allows,
  /// a label no output of this kind takes, a predicted class, cohort slot or arm beyond the
  /// schema's, a time that is not finite, or counts that do not add up; the store keeps
  /// what it read before the throw (a valid store), the staging and counts are left as they
  /// were. The staging is read into new lists before the old ones go: for a moment, twice
  /// its memory.
  void load(io::Reader& r);

 private:
  // The staging as load() reads it, before it replaces the intake's.
  struct Staging {
    std::vector<JoinedLabel> labels;
    std::vector<std::uint32_t> label_slots;
    std::vector<JoinedConversion> conversions;
    std::vector<JoinedAttribution> attributions;
    std::vector<double> attribution_values;
    std::vector<std::uint32_t> attribution_slots;
  };
  void save_staging(io::Writer& w) const;  // staged_mutex_ held
  void save_counts(io::Writer& w) const;
  // The counts in the order a snapshot holds them, each before those it cannot exceed:
  // AttributionCounts, LabelCounts, ConversionCounts, each ending with its total.
  template <class Self>
  static auto snapshot_counts(Self& self) {
    return std::array<decltype(&self.received_), 21>{
        &self.attributions_applied_early_, &self.attributed_, &self.attribution_wrong_count_,
        &self.attribution_bad_values_, &self.applied_early_, &self.joined_, &self.unknown_, &self.duplicates_,
        &self.too_late_, &self.bad_labels_, &self.bad_times_, &self.before_request_, &self.received_,
        &self.conversions_applied_early_, &self.conversions_joined_, &self.conversions_unknown_,
        &self.conversions_duplicate_, &self.conversions_too_late_, &self.conversions_bad_times_,
        &self.conversions_early_, &self.conversions_received_};
  }
  static void check_within(io::Reader& r, std::initializer_list<std::uint64_t> parts, std::uint64_t total,
                           const char* what);
  static void save_request(io::Writer& w, const PendingRequest& request);
  PendingRequest load_request(io::Reader& r) const;
  LabelValue load_value(io::Reader& r) const;
  void load_slots(io::Reader& r, std::vector<std::uint32_t>& out) const;
  void load_labels(io::Reader& r, Staging& s) const;
  void load_conversions(io::Reader& r, Staging& s) const;
  void load_attributions(io::Reader& r, Staging& s) const;
  void load_counts(io::Reader& r);
  void replace_staging(Staging&& s);
  void empty_store();
  template <class Read>
  bool join(std::string_view id, double t, Read&& read, const double* attributions, std::size_t given);
  void stage_attributions(const JoinedLabel& joined, const std::vector<std::uint32_t>& slots, const double* values);
  LabelStore* store() const { return store_.load(std::memory_order_acquire); }
  LabelStore& make_store();
  void count(std::atomic<std::uint64_t>& counter) { counter.fetch_add(1, std::memory_order_relaxed); }
  // The request's id was cut to Observation::max_id_bytes before it was filed: so is the
  // label's or response's.
  static std::string_view cut(std::string_view id) { return id.substr(0, std::min(id.size(), Observation::max_id_bytes)); }

  LabelTarget target_;
  std::vector<TagDictionary::CohortTag> cohorts_;
  std::uint32_t arm_tag_ = no_tag;
  LabelStoreOptions store_options_;
  LabelStoreLimits limits_;  // the predicted classes and extras a request can have
  std::size_t staging_capacity_;

  std::mutex make_mutex_;
  std::atomic<LabelStore*> store_{nullptr};
  std::unique_ptr<LabelStore> owned_store_;

  mutable std::mutex staged_mutex_;
  std::vector<JoinedLabel> staged_;          // in arrival order
  std::vector<std::uint32_t> staged_slots_;  // cohort_count() per staged label
  std::atomic<std::size_t> staged_count_{0};
  std::vector<JoinedConversion> staged_conversions_;  // in arrival order, under staged_mutex_
  std::atomic<std::size_t> conversions_staged_{0};
  std::size_t features_ = 0;
  std::size_t attribution_capacity_ = 1;
  std::vector<JoinedAttribution> staged_attributions_;  // in arrival order, under staged_mutex_
  std::vector<double> staged_attribution_values_;       // features_ per staged attribution
  std::vector<std::uint32_t> staged_attribution_slots_; // cohort_count() per staged attribution
  std::atomic<std::size_t> attributions_staged_{0};
  std::atomic<std::uint64_t> attributed_{0}, attribution_wrong_count_{0}, attribution_bad_values_{0},
      attributions_applied_early_{0};

  std::atomic<std::uint64_t> received_{0}, joined_{0}, unknown_{0}, duplicates_{0}, too_late_{0}, bad_labels_{0},
      bad_times_{0}, before_request_{0}, applied_early_{0};
  std::atomic<std::uint64_t> conversions_received_{0}, conversions_joined_{0}, conversions_unknown_{0},
      conversions_duplicate_{0}, conversions_too_late_{0}, conversions_bad_times_{0}, conversions_early_{0},
      conversions_applied_early_{0};
};

inline LabelTarget::LabelTarget(const Schema& schema, const MonitorOptions& options) {
  if (schema.output_count() == 0) return;
  const Output o = quality_output(schema, options);
  output = o.index;
  name = schema.name(o);
  const OutputOptions& oo = schema.options(o);
  kind = label_kind(oo);
  threshold = oo.threshold;
  classes = oo.classes;
  class_ids = StringIds(classes);
}

inline LabelIntake::LabelIntake(const Schema& schema, const MonitorOptions& options,
                                std::vector<TagDictionary::CohortTag> cohorts, std::size_t shards, bool eager)
    : target_(schema, options), cohorts_(std::move(cohorts)), staging_capacity_(options.label_capacity) {
  store_options_.capacity = options.label_capacity;
  store_options_.time_to_live = options.label_time_to_live;
  std::size_t partitions = 1;
  while (partitions < shards && partitions * 2 <= options.label_capacity) partitions *= 2;
  store_options_.partitions = partitions;
  if (const auto arm = conversion_arm(schema, options)) arm_tag_ = arm->index;
  store_options_.extras = cohorts_.size() + (arm_tag_ != no_tag ? 1 : 0);
  features_ = schema.numeric_count() + schema.categorical_count();
  const std::size_t most_values = std::size_t(1) << 22;
  attribution_capacity_ = std::max<std::size_t>(1, std::min(options.label_capacity, most_values / std::max<std::size_t>(1, features_)));
  // Slots are first_slot + a value id up to max_values ("other"); an arm is a value id.
  limits_.classes = target_.kind == LabelKind::multiclass ? static_cast<std::uint32_t>(target_.classes.size()) : 0;
  for (const TagDictionary::CohortTag& c : cohorts_)
    limits_.extras.push_back(static_cast<std::uint32_t>(c.first_slot + schema.options(Tag{c.tag}).max_values + 1));
  if (arm_tag_ != no_tag) limits_.extras.push_back(static_cast<std::uint32_t>(schema.options(Tag{arm_tag_}).max_values + 1));
  if (eager || arm_tag_ != no_tag) make_store();
}

inline LabelStore& LabelIntake::make_store() {
  std::lock_guard<std::mutex> lock(make_mutex_);
  if (LabelStore* s = store()) return *s;
  owned_store_ = std::make_unique<LabelStore>(store_options_);
  store_.store(owned_store_.get(), std::memory_order_release);
  return *owned_store_;
}

static_assert(Schema::max_classes < LabelStore::max_predicted, "a predicted class fits a waiting request");
static_assert(IntervalClock::max_intervals - 1 <= static_cast<double>(LabelStore::max_interval),
              "an interval number fits a waiting request");

// Inlined into the request path's two callers, where the call itself is a share of what an id adds.
VIGIL_INLINE void LabelIntake::file(const Observation& o, std::uint64_t key, std::int64_t interval, double t,
                              const std::uint32_t* tag_ids, std::uint32_t* slots) {
  LabelStore* s = store();
  if (VIGIL_UNLIKELY(s == nullptr)) s = &make_store();
  PendingRequest r;
  r.time = t;
  r.interval = interval;
  const Output out{target_.output};
  if (o.schema().output_count() > target_.output) {
    if (o.has_score(out)) r.score = o.score(out);
    if (target_.kind == LabelKind::multiclass && o.has_predicted(out)) r.predicted = target_.class_ids.find(o.predicted(out));
  }
  for (std::size_t c = 0; c < cohorts_.size(); ++c) {
    const std::uint32_t id = tag_ids[cohorts_[c].tag];
    slots[c] = id == no_tag ? no_tag : static_cast<std::uint32_t>(cohorts_[c].first_slot + id);
  }
  if (arm_tag_ != no_tag) slots[cohorts_.size()] = tag_ids[arm_tag_];
  s->insert(key, r, slots);
}

inline bool LabelIntake::label(std::string_view id, double value, double t, const double* attributions,
                               std::size_t count) {
  return join(
      id, t, [&](LabelValue& v) { return read_label(target_.kind, value, target_.classes.size(), v); }, attributions,
      count);
}

inline bool LabelIntake::label(std::string_view id, std::string_view value, double t, const double* attributions,
                               std::size_t count) {
  return join(
      id, t, [&](LabelValue& v) { return read_label(target_.kind, value, target_.classes, v); }, attributions, count);
}

template <class Read>
bool LabelIntake::join(std::string_view id, double t, Read&& read, const double* attributions, std::size_t given) {
  count(received_);
  if (!std::isfinite(t)) return count(bad_times_), false;
  JoinedLabel joined{t, PendingRequest{}, LabelValue{}};
  if (!read(joined.value)) return count(bad_labels_), false;
  LabelStore* s = store();
  if (s == nullptr) return count(unknown_), false;
  thread_local std::vector<std::uint32_t> slots;
  slots.resize(extras());
  switch (s->join(request_key(cut(id)), t, joined.request, slots.data())) {
    case LabelStore::Join::unknown: return count(unknown_), false;
    case LabelStore::Join::duplicate: return count(duplicates_), false;
    case LabelStore::Join::expired: return count(too_late_), false;
    case LabelStore::Join::early: return count(before_request_), false;
    case LabelStore::Join::joined: break;
  }
  count(joined_);
  const bool attributed = attributions != nullptr && given == features_ && features_ > 0;
  if (attributions != nullptr && !attributed) count(attribution_wrong_count_);
  std::lock_guard<std::mutex> lock(staged_mutex_);
  staged_.push_back(joined);
  staged_slots_.insert(staged_slots_.end(), slots.begin(), slots.begin() + static_cast<std::ptrdiff_t>(cohorts_.size()));
  staged_count_.store(staged_.size(), std::memory_order_relaxed);
  if (attributed) stage_attributions(joined, slots, attributions);
  return true;
}

// staged_mutex_ held.
inline void LabelIntake::stage_attributions(const JoinedLabel& joined, const std::vector<std::uint32_t>& slots,
                                            const double* values) {
  count(attributed_);
  std::uint64_t bad = 0;
  for (std::size_t j = 0; j < features_; ++j) bad += std::isfinite(values[j]) ? 0 : 1;
  if (bad > 0) attribution_bad_values_.fetch_add(bad, std::memory_order_relaxed);
  staged_attributions_.push_back(JoinedAttribution{joined.time, joined.request.time});
  staged_attribution_values_.insert(staged_attribution_values_.end(), values, values + features_);
  staged_attribution_slots_.insert(staged_attribution_slots_.end(), slots.begin(),
                                   slots.begin() + static_cast<std::ptrdiff_t>(cohorts_.size()));
  attributions_staged_.store(staged_attributions_.size(), std::memory_order_relaxed);
}

template <class Fn>
std::size_t LabelIntake::drain_attributions(double before, Fn&& fn) {
  std::lock_guard<std::mutex> lock(staged_mutex_);
  std::size_t kept = 0;
  const std::size_t k = cohorts_.size(), d = features_;
  for (std::size_t i = 0; i < staged_attributions_.size(); ++i) {
    if (staged_attributions_[i].time < before) {
      fn(staged_attributions_[i], staged_attribution_values_.data() + i * d, staged_attribution_slots_.data() + i * k);
      continue;
    }
    if (kept != i) {
      staged_attributions_[kept] = staged_attributions_[i];
      std::copy_n(staged_attribution_values_.begin() + static_cast<std::ptrdiff_t>(i * d), d,
                  staged_attribution_values_.begin() + static_cast<std::ptrdiff_t>(kept * d));
      std::copy_n(staged_attribution_slots_.begin() + static_cast<std::ptrdiff_t>(i * k), k,
                  staged_attribution_slots_.begin() + static_cast<std::ptrdiff_t>(kept * k));
    }
    ++kept;
  }
  const std::size_t drained = staged_attributions_.size() - kept;
  staged_attributions_.resize(kept);
  staged_attribution_values_.resize(kept * d);
  staged_attribution_slots_.resize(kept * k);
  attributions_staged_.store(kept, std::memory_order_relaxed);
  return drained;
}

template <class Fn>
void LabelIntake::take_attribution_overflow(Fn&& fn) {
  if (attributions_staged_.load(std::memory_order_relaxed) < attribution_capacity_) return;
  const std::size_t taken = drain_attributions(std::numeric_limits<double>::infinity(), std::forward<Fn>(fn));
  attributions_applied_early_.fetch_add(taken, std::memory_order_relaxed);
}

inline AttributionCounts LabelIntake::attribution_counts() const {
  AttributionCounts c;
  c.labels = attributed_.load(std::memory_order_relaxed);
  c.wrong_count = attribution_wrong_count_.load(std::memory_order_relaxed);
  c.bad_values = attribution_bad_values_.load(std::memory_order_relaxed);
  c.applied_early = attributions_applied_early_.load(std::memory_order_relaxed);
  return c;
}

inline bool LabelIntake::conversion(std::string_view id, double t) {
  count(conversions_received_);
  if (!std::isfinite(t)) return count(conversions_bad_times_), false;
  LabelStore* s = store();
  if (s == nullptr) return count(conversions_unknown_), false;
  thread_local std::vector<std::uint32_t> extras_of;
  extras_of.resize(extras());
  PendingRequest request;
  switch (s->join_conversion(request_key(cut(id)), t, request, extras_of.data())) {
    case LabelStore::Join::unknown: return count(conversions_unknown_), false;
    case LabelStore::Join::duplicate: return count(conversions_duplicate_), false;
    case LabelStore::Join::expired: return count(conversions_too_late_), false;
    case LabelStore::Join::early: return count(conversions_early_), false;
    case LabelStore::Join::joined: break;
  }
  count(conversions_joined_);
  const std::uint32_t arm = arm_tag_ == no_tag ? no_tag : extras_of[cohorts_.size()];
  std::lock_guard<std::mutex> lock(staged_mutex_);
  staged_conversions_.push_back(JoinedConversion{t, request.time, arm});
  conversions_staged_.store(staged_conversions_.size(), std::memory_order_relaxed);
  return true;
}

template <class Fn>
std::size_t LabelIntake::drain_conversions(double before, Fn&& fn) {
  std::lock_guard<std::mutex> lock(staged_mutex_);
  std::size_t kept = 0;
  for (const JoinedConversion& c : staged_conversions_) {
    if (c.time < before) fn(c);
    else staged_conversions_[kept++] = c;
  }
  const std::size_t drained = staged_conversions_.size() - kept;
  staged_conversions_.resize(kept);
  conversions_staged_.store(kept, std::memory_order_relaxed);
  return drained;
}

template <class Fn>
void LabelIntake::take_conversion_overflow(Fn&& fn) {
  if (conversions_staged_.load(std::memory_order_relaxed) < staging_capacity_) return;
  const std::size_t taken = drain_conversions(std::numeric_limits<double>::infinity(), std::forward<Fn>(fn));
  conversions_applied_early_.fetch_add(taken, std::memory_order_relaxed);
}

template <class Fn>
std::size_t LabelIntake::drain(double before, Fn&& fn) {
  std::lock_guard<std::mutex> lock(staged_mutex_);
  // Labels arrive in about their time order; the evaluation takes those before its end and
  // keeps the rest in order.
  std::size_t kept = 0;
  const std::size_t k = cohorts_.size();
  for (std::size_t i = 0; i < staged_.size(); ++i) {
    if (staged_[i].time < before) {
      fn(staged_[i], staged_slots_.data() + i * k);
      continue;
    }
    if (kept != i) {
      staged_[kept] = staged_[i];
      std::copy_n(staged_slots_.begin() + static_cast<std::ptrdiff_t>(i * k), k,
                  staged_slots_.begin() + static_cast<std::ptrdiff_t>(kept * k));
    }
    ++kept;
  }
  const std::size_t drained = staged_.size() - kept;
  staged_.resize(kept);
  staged_slots_.resize(kept * k);
  staged_count_.store(kept, std::memory_order_relaxed);
  return drained;
}

template <class Fn>
void LabelIntake::take_overflow(Fn&& fn) {
  if (staged_count_.load(std::memory_order_relaxed) < staging_capacity_) return;
  const std::size_t taken = drain(std::numeric_limits<double>::infinity(), std::forward<Fn>(fn));
  applied_early_.fetch_add(taken, std::memory_order_relaxed);
}

inline LabelCounts LabelIntake::counts() const {
  LabelCounts c;
  c.received = received_.load(std::memory_order_relaxed);
  c.joined = joined_.load(std::memory_order_relaxed);
  c.unknown_ids = unknown_.load(std::memory_order_relaxed);
  c.duplicates = duplicates_.load(std::memory_order_relaxed);
  c.too_late = too_late_.load(std::memory_order_relaxed);
  c.bad_labels = bad_labels_.load(std::memory_order_relaxed);
  c.bad_times = bad_times_.load(std::memory_order_relaxed);
  c.before_request = before_request_.load(std::memory_order_relaxed);
  c.applied_early = applied_early_.load(std::memory_order_relaxed);
  return c;
}

inline ConversionCounts LabelIntake::conversion_counts() const {
  const auto read = [](const std::atomic<std::uint64_t>& a) { return a.load(std::memory_order_relaxed); };
  ConversionCounts c;
  c.received = read(conversions_received_);
  c.joined = read(conversions_joined_);
  c.unknown_ids = read(conversions_unknown_);
  c.duplicates = read(conversions_duplicate_);
  c.too_late = read(conversions_too_late_);
  c.bad_times = read(conversions_bad_times_);
  c.before_impression = read(conversions_early_);
  c.applied_early = read(conversions_applied_early_);
  return c;
}

inline void LabelIntake::add_counts(const LabelIntake& other) {
  if (other.target_.kind != target_.kind || other.cohorts_.size() != cohorts_.size() || other.features_ != features_ ||
      other.arm_tag_ != arm_tag_)
    throw_invalid_argument("LabelIntake::add_counts: an intake of " + std::to_string(other.cohorts_.size()) +
                           " cohort tags, " + std::to_string(other.features_) + " features and arm tag " +
                           std::to_string(other.arm_tag_) + " (or labels of another kind) into one of " +
                           std::to_string(cohorts_.size()) + ", " + std::to_string(features_) + " and " +
                           std::to_string(arm_tag_));
  const auto mine = snapshot_counts(*this);
  const auto theirs = snapshot_counts(other);
  // A snapshot lists each count before those it cannot exceed: added from the last.
  for (std::size_t i = mine.size(); i-- > 0;)
    mine[i]->fetch_add(theirs[i]->load(std::memory_order_relaxed), std::memory_order_relaxed);
  const LabelStore* s = other.store();
  if (s != nullptr && s->evicted() + s->expired_unlabelled() + s->duplicate_ids() > 0) make_store().add_counts(*s);
}

inline std::size_t LabelIntake::memory_bytes() const {
  std::lock_guard<std::mutex> lock(staged_mutex_);
  std::size_t bytes = target_.class_ids.memory_bytes() + cohorts_.capacity() * sizeof(TagDictionary::CohortTag) +
                      staged_.capacity() * sizeof(JoinedLabel) + staged_slots_.capacity() * sizeof(std::uint32_t) +
                      staged_conversions_.capacity() * sizeof(JoinedConversion) +
                      staged_attributions_.capacity() * sizeof(JoinedAttribution) +
                      staged_attribution_values_.capacity() * sizeof(double) +
                      staged_attribution_slots_.capacity() * sizeof(std::uint32_t);
  if (const LabelStore* s = store()) bytes += s->memory_bytes();
  return bytes;
}

// ---------------------------------------------------------------------------------------
// Snapshots

inline void LabelIntake::save_request(io::Writer& w, const PendingRequest& request) {
  w.f64(request.time);
  w.i64(request.interval);
  w.f64(request.score);
  w.u32(request.predicted);
}

// staged_mutex_ held.
inline void LabelIntake::save_staging(io::Writer& w) const {
  const std::size_t k = cohorts_.size(), d = features_;
  w.varint(staged_.size());
  for (std::size_t i = 0; i < staged_.size(); ++i) {
    w.f64(staged_[i].time);
    save_request(w, staged_[i].request);
    w.f64(staged_[i].value.number);
    w.u32(staged_[i].value.class_index);
    for (std::size_t c = 0; c < k; ++c) w.u32(staged_slots_[i * k + c]);
  }
  w.varint(staged_conversions_.size());
  for (const JoinedConversion& c : staged_conversions_) {
    w.f64(c.time);
    w.f64(c.request_time);
    w.u32(c.arm);
  }
  w.varint(staged_attributions_.size());
  for (std::size_t i = 0; i < staged_attributions_.size(); ++i) {
    w.f64(staged_attributions_[i].time);
    w.f64(staged_attributions_[i].request_time);
    for (std::size_t j = 0; j < d; ++j) w.f64(staged_attribution_values_[i * d + j]);
    for (std::size_t c = 0; c < k; ++c) w.u32(staged_attribution_slots_[i * k + c]);
  }
}

inline void LabelIntake::save_counts(io::Writer& w) const {
  for (const std::atomic<std::uint64_t>* c : snapshot_counts(*this)) w.varint(c->load(std::memory_order_relaxed));
}

inline void LabelIntake::save(io::Writer& w) const {
  const LabelStore* s = store();
  save_bool(w, s != nullptr);
  if (s != nullptr) s->save(w);
  {
    std::lock_guard<std::mutex> lock(staged_mutex_);
    save_staging(w);
  }
  save_counts(w);
}

inline PendingRequest LabelIntake::load_request(io::Reader& r) const {
  PendingRequest request;
  request.time = load_finite(r, "staged request time");
  request.interval = r.i64();
  request.score = r.f64();
  request.predicted = r.u32();
  if (request.predicted != PendingRequest::no_class && request.predicted >= limits_.classes)
    r.fail("staged request: predicted class " + std::to_string(request.predicted) + " of " +
           std::to_string(limits_.classes) + " classes");
  return request;
}

// A label as read_label() makes them for the target's kind.
inline LabelValue LabelIntake::load_value(io::Reader& r) const {
  LabelValue v;
  v.number = r.f64();
  v.class_index = r.u32();
  bool valid = false;
  switch (target_.kind) {
    case LabelKind::binary: valid = (v.number == 0 || v.number == 1) && v.class_index == LabelValue::no_class; break;
    case LabelKind::regression: valid = std::isfinite(v.number) && v.class_index == LabelValue::no_class; break;
    case LabelKind::multiclass: valid = std::isnan(v.number) && v.class_index < target_.classes.size(); break;
  }
  if (!valid) r.fail("staged label: no label of output '" + target_.name + "' (" + to_text(v.number) + ", class " +
                     std::to_string(v.class_index) + ")");
  return v;
}

// Appends a request's cohort slots, each no_tag or a slot of its cohort tag.
inline void LabelIntake::load_slots(io::Reader& r, std::vector<std::uint32_t>& out) const {
  for (std::size_t c = 0; c < cohorts_.size(); ++c) {
    const std::uint32_t slot = r.u32();
    if (slot != no_tag && (slot < cohorts_[c].first_slot || slot >= limits_.extras[c]))
      r.fail("staged cohort slot " + std::to_string(slot) + " is not one of cohort tag " + std::to_string(cohorts_[c].tag));
    out.push_back(slot);
  }
}

inline void LabelIntake::load_labels(io::Reader& r, Staging& s) const {
  const std::size_t n = r.count(48 + 4 * cohorts_.size());
  if (n > staging_capacity_)
    r.fail(std::to_string(n) + " staged labels, at most " + std::to_string(staging_capacity_));
  for (std::size_t i = 0; i < n; ++i) {
    JoinedLabel label{load_finite(r, "staged label time"), PendingRequest{}, LabelValue{}};
    label.request = load_request(r);
    label.value = load_value(r);
    s.labels.push_back(label);
    load_slots(r, s.label_slots);
  }
}

inline void LabelIntake::load_conversions(io::Reader& r, Staging& s) const {
  const std::size_t n = r.count(20);
  if (n > staging_capacity_)
    r.fail(std::to_string(n) + " staged responses, at most " + std::to_string(staging_capacity_));
  const std::uint32_t arms = arm_tag_ == no_tag ? 0 : limits_.extras.back();
  for (std::size_t i = 0; i < n; ++i) {
    JoinedConversion c{load_finite(r, "staged response time"), load_finite(r, "staged impression time"), r.u32()};
    if (c.arm != no_tag && c.arm >= arms) r.fail("staged response: arm " + std::to_string(c.arm) + " of " + std::to_string(arms));
    s.conversions.push_back(c);
  }
}

inline void LabelIntake::load_attributions(io::Reader& r, Staging& s) const {
  const std::size_t n = r.count(16 + 8 * features_ + 4 * cohorts_.size());
  if (n > attribution_capacity_ || (n > 0 && features_ == 0))
    r.fail(std::to_string(n) + " staged attributions, at most " + std::to_string(features_ == 0 ? 0 : attribution_capacity_));
  for (std::size_t i = 0; i < n; ++i) {
    const double time = load_finite(r, "staged attribution time");
    s.attributions.push_back(JoinedAttribution{time, load_finite(r, "staged attribution request time")});
    for (std::size_t j = 0; j < features_; ++j) s.attribution_values.push_back(r.f64());
    load_slots(r, s.attribution_slots);
  }
}

inline void LabelIntake::check_within(io::Reader& r, std::initializer_list<std::uint64_t> parts, std::uint64_t total,
                                      const char* what) {
  std::uint64_t left = total;
  for (const std::uint64_t part : parts) {
    if (part > left) r.fail(std::string(what) + " add up to more than " + std::to_string(total));
    left -= part;
  }
}

inline void LabelIntake::load_counts(io::Reader& r) {
  const auto targets = snapshot_counts(*this);
  std::array<std::uint64_t, std::tuple_size<decltype(targets)>::value> v;
  for (std::uint64_t& x : v) x = r.varint();
  const std::uint64_t *a = v.data(), *l = a + 4, *c = l + 9;  // attributions, labels, responses
  check_within(r, {a[0]}, a[1], "attributions applied early");
  check_within(r, {a[1], a[2]}, l[1], "attributed labels and labels of the wrong attribution count");
  check_within(r, {l[0]}, l[1], "labels applied early");
  check_within(r, {l[1], l[2], l[3], l[4], l[5], l[6], l[7]}, l[8], "the outcomes of the labels received");
  check_within(r, {c[0]}, c[1], "responses applied early");
  check_within(r, {c[1], c[2], c[3], c[4], c[5], c[6]}, c[7], "the outcomes of the responses received");
  for (std::size_t i = 0; i < v.size(); ++i) targets[i]->store(v[i], std::memory_order_relaxed);
}

inline void LabelIntake::replace_staging(Staging&& s) {
  std::lock_guard<std::mutex> lock(staged_mutex_);
  staged_ = std::move(s.labels);
  staged_slots_ = std::move(s.label_slots);
  staged_conversions_ = std::move(s.conversions);
  staged_attributions_ = std::move(s.attributions);
  staged_attribution_values_ = std::move(s.attribution_values);
  staged_attribution_slots_ = std::move(s.attribution_slots);
  staged_count_.store(staged_.size(), std::memory_order_relaxed);
  conversions_staged_.store(staged_conversions_.size(), std::memory_order_relaxed);
  attributions_staged_.store(staged_attributions_.size(), std::memory_order_relaxed);
}

// A store made before a snapshot that had none is replaced by an empty one (not a path that
// runs while requests are filed).
inline void LabelIntake::empty_store() {
  std::lock_guard<std::mutex> lock(make_mutex_);
  if (store() == nullptr) return;
  auto fresh = std::make_unique<LabelStore>(store_options_);
  store_.store(fresh.get(), std::memory_order_release);
  owned_store_ = std::move(fresh);
}

inline void LabelIntake::load(io::Reader& r) {
  if (load_bool(r, "label store made"))
    make_store().load(r, limits_);
  else
    empty_store();
  Staging staging;
  load_labels(r, staging);
  load_conversions(r, staging);
  load_attributions(r, staging);
  load_counts(r);
  replace_staging(std::move(staging));
}

}  // namespace detail
}  // namespace vigil

// vigil — in-process monitoring of machine-learning models in C++ inference servers.
// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "vigil/io/binary.hpp"
#include "vigil/monitor/detail/state_codec.hpp"
#include "vigil/monitor/detail/tag_remap.hpp"
#include "vigil/monitor/schema.hpp"
#include "vigil/monitor/subject.hpp"

namespace vigil {
namespace detail {

/// The values of a Monitor's tags, numbered in the order they first came (at most
/// TagOptions::max_values per tag; later values are all "other", id max_values), and the
/// summary slots of cohort tags: slot 0 holds every request, then each cohort tag has one
/// slot per value id, "other" last. Thread-safe: ids are given under a mutex, which the
/// request path takes only for a value its shard has not cached yet.
/// Memory: the values (max_values per tag at most, each at most Schema::max_value_bytes long:
/// an Observation cuts longer ones) and one Cohort per slot.
class TagDictionary {
 public:
  /// A cohort tag and the slot of its value 0.
  struct CohortTag {
    std::uint32_t tag;
    std::size_t first_slot;
  };
  /// What the evaluation reads: every tag's value names by id ("" for ids not given yet,
  /// "other" at max_values) and every slot's cohort, with whether it has been used.
  struct Snapshot {
    std::vector<std::vector<std::string>> values;
    std::vector<Cohort> slots;
    std::vector<bool> in_use;
  };

  explicit TagDictionary(const Schema& schema) : schema_(&schema) {
    const std::uint32_t tags = schema.tag_count();
    values_.resize(tags);
    cohort_of_tag_.assign(tags, none);
    slots_.push_back(SlotState{Cohort{}, true});
    for (std::uint32_t t = 0; t < tags; ++t) {
      const TagOptions& options = schema.options(Tag{t});
      values_[t].reserve(options.max_values);
      if (!options.cohort) continue;
      cohort_of_tag_[t] = cohorts_.size();
      cohorts_.push_back(CohortTag{t, slots_.size()});
      for (std::size_t v = 0; v <= options.max_values; ++v) {
        Cohort c;
        c.tag = t;
        c.value = static_cast<std::uint32_t>(v);
        c.tag_name = schema.name(Tag{t});
        slots_.push_back(SlotState{std::move(c), false});
      }
    }
  }

  /// Summary slots: 1 + (max_values + 1) per cohort tag.
  std::size_t slot_count() const { return slots_.size(); }
  const std::vector<CohortTag>& cohorts() const { return cohorts_; }
  std::size_t max_values(std::uint32_t tag) const { return schema_->options(Tag{tag}).max_values; }

  /// The id of `value` of `tag`, given now if the tag has room, else max_values ("other").
  std::uint32_t id(std::uint32_t tag, std::string_view value) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto& values = values_[tag];
    const std::size_t max = max_values(tag);
    for (std::size_t i = 0; i < values.size(); ++i)
      if (values[i] == value) return static_cast<std::uint32_t>(i);
    if (values.size() < max) {
      values.emplace_back(value);
      use_slot(tag, values.size() - 1, values.back());
      return static_cast<std::uint32_t>(values.size() - 1);
    }
    use_slot(tag, max, "other");
    return static_cast<std::uint32_t>(max);
  }
  /// The values of `tag` given ids so far, by id.
  std::vector<std::string> values(std::uint32_t tag) const {
    std::lock_guard<std::mutex> lock(mutex_);
    return values_[tag];
  }
  Snapshot snapshot() const {
    Snapshot s;
    std::lock_guard<std::mutex> lock(mutex_);
    s.values = values_;
    for (std::uint32_t t = 0; t < s.values.size(); ++t) {
      s.values[t].resize(max_values(t));  // ids not given yet stay empty
      s.values[t].push_back("other");
    }
    for (const SlotState& slot : slots_) {
      s.slots.push_back(slot.cohort);
      s.in_use.push_back(slot.in_use);
    }
    return s;
  }
  /// Gives ids to `other`'s values (another replica's dictionary of the same schema), in
  /// its id order, and marks the slots `other` used; returns where each of its ids reads
  /// here (a value with no room here reads as "other").
  TagRemap merge(const TagDictionary& other) {
    TagRemap remap;
    const Snapshot theirs = other.snapshot();
    for (std::uint32_t t = 0; t < values_.size(); ++t) {
      const std::size_t max = max_values(t);
      std::vector<std::uint32_t> ids(max + 1, static_cast<std::uint32_t>(max));
      const std::size_t given = other.values(t).size();
      for (std::size_t i = 0; i < given; ++i) ids[i] = id(t, theirs.values[t][i]);
      remap.ids.push_back(std::move(ids));
    }
    std::lock_guard<std::mutex> lock(mutex_);
    for (std::size_t slot = 1; slot < theirs.slots.size(); ++slot) {
      const Cohort& c = theirs.slots[slot];
      if (theirs.in_use[slot] && c.value == max_values(c.tag)) use_slot(c.tag, max_values(c.tag), "other");
    }
    return remap;
  }
  /// The slot here of `other`'s slot `slot`, by `remap` (merge()'s).
  std::size_t slot_of(std::size_t slot, const TagRemap& remap) const {
    if (slot == 0) return 0;
    const Cohort& c = slots_[slot].cohort;
    return slot - c.value + remap(c.tag, c.value);
  }

  /// The snapshot's part (docs/formats.md, "Monitor snapshot"): per tag its values by id,
  /// then per slot whether it is in use. Slot names follow from the values.
  void save(io::Writer& w) const {
    std::lock_guard<std::mutex> lock(mutex_);
    w.varint(values_.size());
    for (const auto& values : values_) {
      w.varint(values.size());
      for (const std::string& v : values) w.string(v);
    }
    w.varint(slots_.size());
    for (const SlotState& slot : slots_) save_bool(w, slot.in_use);
  }
  /// Reads save()'s bytes into a dictionary of the same schema, as constructed: at most
  /// max_values values per tag, no value twice, each slot in use only for a value given
  /// (or "other").
  void load(io::Reader& r) {
    std::lock_guard<std::mutex> lock(mutex_);
    load_expected(r, values_.size(), "tags");
    for (std::uint32_t t = 0; t < values_.size(); ++t) {
      const std::size_t n = r.count(1);
      if (n > max_values(t)) r.fail("tag " + std::to_string(t) + " has " + std::to_string(n) + " values, at most " + std::to_string(max_values(t)));
      values_[t].clear();
      for (std::size_t i = 0; i < n; ++i) {
        std::string v = r.string();
        if (std::find(values_[t].begin(), values_[t].end(), v) != values_[t].end()) r.fail("tag " + std::to_string(t) + " has a value twice");
        values_[t].push_back(std::move(v));
      }
    }
    load_expected(r, slots_.size(), "summary slots");
    for (std::size_t slot = 0; slot < slots_.size(); ++slot) {
      const bool in_use = load_bool(r, "slot in use");
      if (slot == 0) {
        if (!in_use) r.fail("slot 0 (every request) is not in use");
        continue;
      }
      SlotState& state = slots_[slot];
      const std::uint32_t tag = state.cohort.tag;
      const std::size_t id = state.cohort.value;
      state.in_use = false;
      state.cohort.value_name.clear();
      if (!in_use) continue;
      if (id < values_[tag].size()) {
        use_slot(tag, id, values_[tag][id]);
      } else if (id == max_values(tag) && values_[tag].size() == id) {
        use_slot(tag, id, "other");
      } else {
        r.fail("slot " + std::to_string(slot) + " is in use without a value");
      }
    }
  }
  std::size_t memory_bytes() const {
    std::lock_guard<std::mutex> lock(mutex_);
    std::size_t bytes = sizeof(*this) + slots_.capacity() * sizeof(SlotState);
    for (const auto& values : values_)
      for (const auto& v : values) bytes += sizeof(v) + v.capacity();
    return bytes;
  }

 private:
  static constexpr std::size_t none = static_cast<std::size_t>(-1);
  struct SlotState {
    Cohort cohort;
    bool in_use;
  };
  // mutex_ held. A cohort tag's value gets its name in its slot once.
  void use_slot(std::uint32_t tag, std::size_t id, const std::string& name) {
    const std::size_t cohort = cohort_of_tag_[tag];
    if (cohort == none) return;
    SlotState& slot = slots_[cohorts_[cohort].first_slot + id];
    if (slot.in_use) return;
    slot.cohort.value_name = name;
    slot.in_use = true;
  }

  const Schema* schema_;
  mutable std::mutex mutex_;
  std::vector<std::vector<std::string>> values_;  // per tag, by id
  std::vector<std::size_t> cohort_of_tag_;        // per tag, its index in cohorts_ or none
  std::vector<CohortTag> cohorts_;
  std::vector<SlotState> slots_;
};

}  // namespace detail
}  // namespace vigil

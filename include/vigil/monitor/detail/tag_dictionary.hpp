// vigil — in-process monitoring of machine-learning models in C++ inference servers.
// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

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

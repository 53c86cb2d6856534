// vigil — in-process monitoring of machine-learning models in C++ inference servers.
// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "vigil/error.hpp"

namespace vigil {

/// Handle of a numeric input feature, resolved once from its name. Indexes are dense from 0
/// in declaration order.
struct NumericFeature {
  std::uint32_t index;
};
/// Handle of a categorical input feature.
struct CategoricalFeature {
  std::uint32_t index;
};
/// Handle of a model output (a score, optionally with a predicted class).
struct Output {
  std::uint32_t index;
};
/// Handle of a tag: a dimension of the request such as host, model version or cohort.
struct Tag {
  std::uint32_t index;
};

/// How a model output is read.
struct OutputOptions {
  /// Names of the classes the model predicts, when the observation reports a predicted class
  /// for this output (`Observation::predicted`). Empty: no class labels. At most
  /// Schema::max_classes names, each of at most Schema::max_value_bytes bytes.
  std::vector<std::string> classes;
  /// Decision threshold on the score: when set (not NaN), the predicted class is "positive"
  /// for score ≥ threshold and "negative" below, and its frequency is monitored.
  double threshold = std::numeric_limits<double>::quiet_NaN();
};

/// What a model output is to the monitor: the model's own answer (the champion), or a shadow
/// answer to the same request by another model, compared with the champion request by request
/// (docs/guide.md, "Canary and challengers").
enum class OutputRole : std::uint8_t {
  model = 0,       // the champion's answer: its distribution, classes and quality are watched
  canary = 1,      // a stable older model: its deviation from the champion is stable, so a rise means the champion broke
  challenger = 2,  // a candidate model: its disagreements with the champion are the requests to inspect before a roll-out
};

inline const char* to_string(OutputRole role) {
  switch (role) {
    case OutputRole::model: return "model";
    case OutputRole::canary: return "canary";
    case OutputRole::challenger: return "challenger";
  }
  return "unknown";
}

/// How a tag is kept.
struct TagOptions {
  /// Distinct values tracked; later values are counted under "other". Bounds memory. At most
  /// Schema::max_tag_values, and Schema::max_cohort_values for a cohort tag.
  std::size_t max_values = 32;
  /// Whether the report repeats every feature and output analysis per value of this tag.
  /// Each cohort value costs one more set of interval summaries.
  bool cohort = false;
};

/// What a deployment's requests look like: the model's inputs, outputs and tags, each with a
/// name. Built once at start-up; `Observation`, `Profile` and `Monitor` take it and resolve
/// names to handles, so the request path never looks up a string for a numeric feature.
///
/// Names are unique across all kinds and non-empty; a duplicate or empty name throws
/// vigil::invalid_argument.
///
/// A schema is a value: an `Observation` keeps its own copy, so it stays valid after the
/// schema (or the `Monitor`) it was made from is gone.
///
/// **Bounds.** Whatever a request or a file holds, the memory of an interval stays bounded:
/// category values, tag values and predicted classes longer than max_value_bytes are cut to
/// it (Observation; Report::counters.truncated_values counts them), and the capacities below
/// are capped, beyond which add_tag() and add_output() throw vigil::invalid_argument naming
/// the value (docs/guide.md, "Bounds").
///
/// ```cpp
/// vigil::Schema schema;
/// auto age    = schema.add_numeric("age");
/// auto region = schema.add_categorical("region");
/// auto score  = schema.add_output("fraud_score", {{}, 0.5});
/// auto host   = schema.add_tag("host");
/// auto canary = schema.add_canary("fraud_score_v1", score);  // the previous model, scored on every request
/// ```
class Schema {
 public:
  enum class Kind : std::uint8_t { numeric = 0, categorical = 1, output = 2, tag = 3 };

  /// Longest category value, tag value or predicted class kept, in bytes: an Observation
  /// cuts a longer one to this length on a UTF-8 character boundary.
  static constexpr std::size_t max_value_bytes = 256;
  /// Largest TagOptions::max_values of a tag: each value costs a latency counter per
  /// retained interval.
  static constexpr std::size_t max_tag_values = 4096;
  /// Largest TagOptions::max_values of a cohort tag: each value costs a whole set of interval
  /// summaries per retained interval.
  static constexpr std::size_t max_cohort_values = 256;
  /// Most classes an output declares (OutputOptions::classes).
  static constexpr std::size_t max_classes = 4096;

  NumericFeature add_numeric(std::string name) {
    add_name(name, Kind::numeric);
    numeric_.push_back(std::move(name));
    return NumericFeature{static_cast<std::uint32_t>(numeric_.size() - 1)};
  }
  CategoricalFeature add_categorical(std::string name) {
    add_name(name, Kind::categorical);
    categorical_.push_back(std::move(name));
    return CategoricalFeature{static_cast<std::uint32_t>(categorical_.size() - 1)};
  }
  Output add_output(std::string name, OutputOptions options = {}) {
    if (!std::isnan(options.threshold) && !std::isfinite(options.threshold))
      detail::throw_invalid_argument("Schema: output '" + name + "' has threshold " + detail::to_text(options.threshold));
    check_classes(name, options.classes);
    add_name(name, Kind::output);
    const auto index = static_cast<std::uint32_t>(outputs_.size());
    outputs_.push_back(OutputSpec{std::move(name), std::move(options), OutputRole::model, index});
    return Output{static_cast<std::uint32_t>(outputs_.size() - 1)};
  }
  /// A shadow output: the score (and predicted class) of another model for the same request,
  /// set with Observation::score like any output and compared with output `of`, the champion
  /// it shadows, request by request (the canary family). A shadow takes the champion's
  /// classes and threshold, needs no reference in the Profile, and is left out of the output
  /// and quality families. Throws vigil::invalid_argument for a name in use or an `of` that
  /// is not one of this schema's model outputs (a shadow shadows no shadow).
  Output add_canary(std::string name, Output of) { return add_shadow(std::move(name), of, OutputRole::canary); }
  Output add_canary(std::string name, std::string_view of) { return add_canary(std::move(name), output(of)); }
  Output add_challenger(std::string name, Output of) { return add_shadow(std::move(name), of, OutputRole::challenger); }
  Output add_challenger(std::string name, std::string_view of) { return add_challenger(std::move(name), output(of)); }
  Tag add_tag(std::string name, TagOptions options = {}) {
    check_max_values(name, options);
    add_name(name, Kind::tag);
    tags_.push_back(TagSpec{std::move(name), options});
    return Tag{static_cast<std::uint32_t>(tags_.size() - 1)};
  }

  /// Identifies this schema's content: a copy has the same id, every add_* call gives a new
  /// one, and schemas built separately have different ids even when they are equal. A Monitor
  /// compares ids to accept, in O(1), an Observation made from its schema or a copy of it.
  std::uint64_t id() const { return id_; }

  std::size_t numeric_count() const { return numeric_.size(); }
  std::size_t categorical_count() const { return categorical_.size(); }
  std::size_t output_count() const { return outputs_.size(); }
  std::size_t tag_count() const { return tags_.size(); }

  const std::string& name(NumericFeature f) const { return numeric_.at(f.index); }
  const std::string& name(CategoricalFeature f) const { return categorical_.at(f.index); }
  const std::string& name(Output o) const { return outputs_.at(o.index).name; }
  const std::string& name(Tag t) const { return tags_.at(t.index).name; }
  const OutputOptions& options(Output o) const { return outputs_.at(o.index).options; }
  const TagOptions& options(Tag t) const { return tags_.at(t.index).options; }
  /// The output's role, and the model output a shadow compares with (the output itself for a
  /// model output).
  OutputRole role(Output o) const { return outputs_.at(o.index).role; }
  Output champion(Output o) const { return Output{outputs_.at(o.index).of}; }
  /// Model outputs only: what a Profile has references for and the output family watches.
  std::size_t model_output_count() const {
    return static_cast<std::size_t>(std::count_if(outputs_.begin(), outputs_.end(),
                                                  [](const OutputSpec& o) { return o.role == OutputRole::model; }));
  }

  /// Handles by name; empty when the schema has no such name of that kind. O(log names).
  std::optional<NumericFeature> find_numeric(std::string_view name) const { return find<NumericFeature>(name, Kind::numeric); }
  std::optional<CategoricalFeature> find_categorical(std::string_view name) const {
    return find<CategoricalFeature>(name, Kind::categorical);
  }
  std::optional<Output> find_output(std::string_view name) const { return find<Output>(name, Kind::output); }
  std::optional<Tag> find_tag(std::string_view name) const { return find<Tag>(name, Kind::tag); }
  /// Handle by name, throwing vigil::invalid_argument naming the missing feature.
  NumericFeature numeric(std::string_view name) const { return require(find_numeric(name), name, "numeric feature"); }
  CategoricalFeature categorical(std::string_view name) const {
    return require(find_categorical(name), name, "categorical feature");
  }
  Output output(std::string_view name) const { return require(find_output(name), name, "output"); }
  Tag tag(std::string_view name) const { return require(find_tag(name), name, "tag"); }

  /// The kind of a name, if the schema has it. O(log names).
  std::optional<Kind> kind_of(std::string_view name) const {
    const auto it = index_.find(name);
    if (it == index_.end()) return std::nullopt;
    return it->second.kind;
  }

  /// Every way `other` differs from this schema, one sentence each (empty when they agree):
  /// a name absent from one side, a name of another kind, another class list or threshold.
  /// O(names · log names).
  /// With `include_tags` false, tags and shadow outputs (add_canary, add_challenger) present
  /// on only one side are not differences (a training profile has no hosts and no canary; a
  /// server adds them), nor are roles.
  std::vector<std::string> differences(const Schema& other, bool include_tags = true) const;

  /// Whether every handle of this schema names the same thing in `other`: the same numeric
  /// features, categorical features, outputs and tags, with the same names at the same
  /// indexes. An Observation made for one can be filed by a Monitor of the other. O(names).
  bool same_layout(const Schema& other) const {
    if (!same_columns(other) || tags_.size() != other.tags_.size()) return false;
    for (std::size_t i = 0; i < tags_.size(); ++i)
      if (tags_[i].name != other.tags_[i].name) return false;
    return true;
  }

  /// Like same_layout, tags aside: the same numeric features, categorical features and
  /// outputs, with the same names at the same indexes. A training row made for one can be
  /// added to a Profile of the other (a training profile has no tags). O(1) for a copy, else
  /// O(names).
  bool same_columns(const Schema& other) const {
    if (numeric_.size() != other.numeric_.size() || categorical_.size() != other.categorical_.size() ||
        outputs_.size() != other.outputs_.size())
      return false;
    if (id_ == other.id_) return true;
    if (numeric_ != other.numeric_ || categorical_ != other.categorical_) return false;
    for (std::size_t i = 0; i < outputs_.size(); ++i)
      if (outputs_[i].name != other.outputs_[i].name) return false;
    return true;
  }

  friend bool operator==(const Schema& a, const Schema& b) { return a.differences(b).empty(); }
  friend bool operator!=(const Schema& a, const Schema& b) { return !(a == b); }

  static const char* kind_name(Kind kind) {
    switch (kind) {
      case Kind::numeric: return "numeric feature";
      case Kind::categorical: return "categorical feature";
      case Kind::output: return "output";
      case Kind::tag: return "tag";
    }
    return "name";
  }

 private:
  struct OutputSpec {
    std::string name;
    OutputOptions options;
    OutputRole role = OutputRole::model;
    std::uint32_t of = 0;  // the champion's index; its own for a model output
  };

  Output add_shadow(std::string name, Output of, OutputRole role) {
    if (of.index >= outputs_.size() || outputs_[of.index].role != OutputRole::model)
      detail::throw_invalid_argument("Schema: " + std::string(to_string(role)) + " '" + name +
                                     "' must shadow a model output of this schema (output index " +
                                     std::to_string(of.index) + ")");
    OutputOptions options = outputs_[of.index].options;
    add_name(name, Kind::output);
    outputs_.push_back(OutputSpec{std::move(name), std::move(options), role, of.index});
    return Output{static_cast<std::uint32_t>(outputs_.size() - 1)};
  }
  // A shadow output on one side only is not a difference when tags are not either.
  bool serving_only(const std::string& name, Kind kind) const {
    if (kind == Kind::tag) return true;
    if (kind != Kind::output) return false;
    const auto o = find_output(name);
    return o && role(*o) != OutputRole::model;
  }
  struct TagSpec {
    std::string name;
    TagOptions options;
  };

  static void check_max_values(const std::string& name, const TagOptions& options) {
    const std::size_t most = options.cohort ? max_cohort_values : max_tag_values;
    if (options.max_values == 0 || options.max_values > most)
      detail::throw_invalid_argument("Schema: tag '" + name + "' has max_values " + std::to_string(options.max_values) +
                                     ", outside [1, " + std::to_string(most) + "]" +
                                     (options.cohort ? " for a cohort tag" : ""));
  }
  // Class names are matched against predicted classes, which are cut to max_value_bytes: a
  // longer name could never match. Duplicates are found in O(n log n).
  static void check_classes(const std::string& name, const std::vector<std::string>& classes) {
    if (classes.size() > max_classes)
      detail::throw_invalid_argument("Schema: output '" + name + "' lists " + std::to_string(classes.size()) +
                                     " classes, more than " + std::to_string(max_classes));
    for (const std::string& c : classes)
      if (c.size() > max_value_bytes)
        detail::throw_invalid_argument("Schema: output '" + name + "' has a class name of " + std::to_string(c.size()) +
                                       " bytes, longer than " + std::to_string(max_value_bytes));
    std::vector<std::string_view> sorted(classes.begin(), classes.end());
    std::sort(sorted.begin(), sorted.end());
    const auto twice = std::adjacent_find(sorted.begin(), sorted.end());
    if (twice != sorted.end())
      detail::throw_invalid_argument("Schema: output '" + name + "' lists class '" + std::string(*twice) + "' twice");
  }

  // Where a name is declared: its kind and its index among the names of that kind.
  struct Entry {
    Kind kind;
    std::uint32_t index;
  };

  // O(log names): a schema read from a file may hold hundreds of thousands of names, and
  // checking each against all before it would make loading quadratic.
  void add_name(const std::string& name, Kind kind) {
    if (name.empty()) detail::throw_invalid_argument(std::string("Schema: a ") + kind_name(kind) + " needs a name");
    const auto [it, added] = index_.try_emplace(name, Entry{kind, static_cast<std::uint32_t>(count_of(kind))});
    if (!added) detail::throw_invalid_argument("Schema: '" + name + "' is already a " + kind_name(it->second.kind));
    names_.emplace_back(name, kind);
    id_ = next_id();
  }
  std::size_t count_of(Kind kind) const {
    switch (kind) {
      case Kind::numeric: return numeric_.size();
      case Kind::categorical: return categorical_.size();
      case Kind::output: return outputs_.size();
      case Kind::tag: return tags_.size();
    }
    return 0;
  }
  static std::uint64_t next_id() {
    static std::atomic<std::uint64_t> last{0};
    return last.fetch_add(1, std::memory_order_relaxed) + 1;
  }
  template <class Handle>
  std::optional<Handle> find(std::string_view name, Kind kind) const {
    const auto it = index_.find(name);
    if (it == index_.end() || it->second.kind != kind) return std::nullopt;
    return Handle{it->second.index};
  }
  template <class Handle>
  static Handle require(const std::optional<Handle>& h, std::string_view name, const char* what) {
    if (!h) detail::throw_invalid_argument("Schema: no " + std::string(what) + " named '" + std::string(name) + "'");
    return *h;
  }

  std::vector<std::pair<std::string, Kind>> names_;  // in declaration order
  std::map<std::string, Entry, std::less<>> index_;
  std::vector<std::string> numeric_;
  std::vector<std::string> categorical_;
  std::vector<OutputSpec> outputs_;
  std::vector<TagSpec> tags_;
  std::uint64_t id_ = next_id();
};

inline std::vector<std::string> Schema::differences(const Schema& other, bool include_tags) const {
  std::vector<std::string> out;
  for (const auto& [name, kind] : names_) {
    const auto theirs = other.kind_of(name);
    if (!theirs) {
      if (!include_tags && serving_only(name, kind)) continue;
      out.push_back(std::string(kind_name(kind)) + " '" + name + "' is missing from the other schema");
    } else if (*theirs != kind) {
      out.push_back("'" + name + "' is a " + kind_name(kind) + " here but a " + kind_name(*theirs) + " in the other schema");
    }
  }
  for (const auto& [name, kind] : other.names_)
    if (!kind_of(name) && (include_tags || !other.serving_only(name, kind))) out.push_back(std::string(kind_name(kind)) + " '" + name + "' is new in the other schema");
  for (const OutputSpec& mine : outputs_) {
    const auto theirs = other.find_output(mine.name);
    if (!theirs) continue;
    const OutputOptions& o = other.options(*theirs);
    if (o.classes != mine.options.classes) out.push_back("output '" + mine.name + "' has other classes in the other schema");
    const bool same_threshold = (std::isnan(o.threshold) && std::isnan(mine.options.threshold)) ||
                                o.threshold == mine.options.threshold;
    if (!same_threshold) out.push_back("output '" + mine.name + "' has another threshold in the other schema");
    if (include_tags && (other.role(*theirs) != mine.role ||
                         (mine.role != OutputRole::model && other.name(other.champion(*theirs)) != outputs_[mine.of].name)))
      out.push_back("output '" + mine.name + "' has another role in the other schema");
  }
  return out;
}

}  // namespace vigil

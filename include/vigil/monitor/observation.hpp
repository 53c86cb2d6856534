// vigil — in-process monitoring of machine-learning models in C++ inference servers.
// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "vigil/error.hpp"
#include "vigil/monitor/detail/value_length.hpp"
#include "vigil/monitor/schema.hpp"

namespace vigil {

/// How a request ended.
enum class RequestStatus : std::uint8_t { ok = 0, error = 1, timeout = 2 };

/// One request as the monitor sees it: event time, request id, feature values, model outputs,
/// tags, latency and status. A server keeps one Observation per worker thread and reuses it
/// (`clear()` between requests): after the first few requests nothing allocates.
///
/// A feature that is never set is *missing* for that request (the report compares missing
/// rates with the training profile). Setting NaN or ±inf records a *bad value*, counted
/// separately. Setters take handles from the Schema; the name-based overloads look the name
/// up (O(names)) and are meant for tools and tests.
///
/// Event time is Unix seconds; without `at(...)`, observe() stamps the request with the
/// system clock.
///
/// A category value, tag value or predicted class longer than Schema::max_value_bytes is cut
/// to that length on a UTF-8 character boundary, so what the monitor keeps of a request is
/// bounded whatever it holds; cut_values() says how many of the values set are cut, and a
/// Monitor counts them (Report::counters.truncated_values). Values that agree on their first
/// max_value_bytes bytes are one value to the monitor.
///
/// An Observation keeps its own copy of the schema (made once, when it is constructed), so
/// it never reads a schema that is gone: a `thread_local` Observation may outlive the Monitor
/// whose schema it was made from, e.g. when a server reloads its model. A Monitor files only
/// observations made for its schema (`Schema::same_layout`) and throws
/// vigil::invalid_argument for any other (docs/guide.md, "Reloading the model").
class Observation {
 public:
  explicit Observation(const Schema& schema) : Observation(std::make_shared<const Schema>(schema)) {}
  /// Shares `schema` instead of copying it (observations of one schema may share one copy).
  /// Throws vigil::invalid_argument for a null pointer.
  explicit Observation(std::shared_ptr<const Schema> schema)
      : schema_(checked(schema.get())),
        numeric_(schema_->numeric_count(), unset()),
        categorical_set_(schema_->categorical_count(), 0),
        categorical_(schema_->categorical_count()),
        scores_(schema_->output_count(), unset()),
        score_set_(schema_->output_count(), 0),
        predicted_set_(schema_->output_count(), 0),
        numeric_state_(schema_->numeric_count(), State::unset),
        predicted_(schema_->output_count()),
        tags_(schema_->tag_count()),
        tag_set_(schema_->tag_count(), 0),
        owned_schema_(std::move(schema)) {}

  /// Sets the event time (Unix seconds). NaN or ±inf make observe() count the request as
  /// having a bad time and drop it.
  Observation& at(double unix_seconds) {
    time_ = unix_seconds;
    time_set_ = true;
    return *this;
  }
  Observation& at(std::chrono::system_clock::time_point t) {
    return at(std::chrono::duration<double>(t.time_since_epoch()).count());
  }
  /// The request id, which late labels and conversions name to be joined to this request
  /// (Monitor::on_label), and which samples to label report. At most max_id_bytes bytes are
  /// kept (a longer id is cut, and counted as cut_values() counts values). An integer id is
  /// kept as its decimal text: `id(42)` and a label for `"42"` join.
  Observation& id(std::string_view id) {
    const bool too_long = id.size() > max_id_bytes;
    if (too_long) id = id.substr(0, max_id_bytes);
    cut_values_ += static_cast<std::size_t>(too_long) - static_cast<std::size_t>(id_cut_);
    id_cut_ = too_long;
    // A server sets an id per request, mostly of one length: copying over the bytes held
    // skips std::string's general replace. memmove, for an id that views this one's text.
    const std::size_t n = id.size();
    if (n <= request_id_.size()) {
      std::memmove(request_id_.data(), id.data(), n);
      if (n != request_id_.size()) request_id_.resize(n);
    } else if (n <= request_id_.capacity()) {
      request_id_.resize(n);  // longer than the text held: not a view of it
      std::memcpy(request_id_.data(), id.data(), n);
    } else {
      request_id_.assign(id.data(), n);
    }
    return *this;
  }
  template <class Integer, std::enable_if_t<std::is_integral_v<Integer> && !std::is_same_v<Integer, bool>, int> = 0>
  Observation& id(Integer value) {
    char text[24];
    const auto written = std::to_chars(text, text + sizeof text, value);
    return id(std::string_view(text, static_cast<std::size_t>(written.ptr - text)));
  }
  /// The same as id().
  Observation& request_id(std::string_view value) { return id(value); }
  /// The longest request id kept, in bytes.
  static constexpr std::size_t max_id_bytes = 256;

  Observation& set(NumericFeature f, double value) {
    check(f.index, numeric_.size(), "numeric feature");
    const bool finite = std::isfinite(value);
    numeric_bad_ += static_cast<std::size_t>(!finite) - static_cast<std::size_t>(numeric_state_[f.index] == State::bad);
    numeric_values_ += static_cast<std::size_t>(finite) - static_cast<std::size_t>(numeric_state_[f.index] == State::value);
    numeric_[f.index] = value;
    numeric_state_[f.index] = finite ? State::value : State::bad;
    return *this;
  }
  Observation& set(CategoricalFeature f, std::string_view value) {
    check(f.index, categorical_.size(), "categorical feature");
    store(categorical_[f.index], categorical_set_[f.index], value);
    return *this;
  }
  /// The model's score for an output.
  Observation& score(Output o, double value) {
    check(o.index, scores_.size(), "output");
    scores_[o.index] = value;
    score_set_[o.index] = 1;
    return *this;
  }
  /// The class the model predicted for an output declared with classes.
  Observation& predicted(Output o, std::string_view class_name) {
    check(o.index, predicted_.size(), "output");
    store(predicted_[o.index], predicted_set_[o.index], class_name);
    return *this;
  }
  Observation& tag(Tag t, std::string_view value) {
    check(t.index, tags_.size(), "tag");
    store(tags_[t.index], tag_set_[t.index], value);
    return *this;
  }
  /// Time from arrival to response, in seconds. Negative or NaN values are counted as bad.
  Observation& latency(double seconds) {
    latency_ = seconds;
    latency_set_ = true;
    return *this;
  }
  Observation& status(RequestStatus s) {
    status_ = s;
    return *this;
  }

  /// Name-based setters for tools and tests; throw vigil::invalid_argument for an unknown
  /// name or a name of another kind.
  Observation& set(std::string_view name, double value) { return set(schema_->numeric(name), value); }
  Observation& set(std::string_view name, std::string_view value) { return set(schema_->categorical(name), value); }
  Observation& set(std::string_view name, const char* value) { return set(name, std::string_view(value)); }

  /// Marks a previously set value missing again.
  Observation& clear(NumericFeature f) {
    check(f.index, numeric_.size(), "numeric feature");
    numeric_bad_ -= static_cast<std::size_t>(numeric_state_[f.index] == State::bad);
    numeric_values_ -= static_cast<std::size_t>(numeric_state_[f.index] == State::value);
    numeric_[f.index] = unset();
    numeric_state_[f.index] = State::unset;
    return *this;
  }
  Observation& clear(CategoricalFeature f) {
    check(f.index, categorical_.size(), "categorical feature");
    cut_values_ -= static_cast<std::size_t>(categorical_set_[f.index] == cut);
    categorical_set_[f.index] = 0;
    return *this;
  }

  /// Forgets every value, keeping allocated capacity for the next request.
  void clear() {
    std::fill(numeric_.begin(), numeric_.end(), unset());
    std::fill(numeric_state_.begin(), numeric_state_.end(), State::unset);
    numeric_bad_ = 0;
    numeric_values_ = 0;
    std::fill(categorical_set_.begin(), categorical_set_.end(), 0);
    std::fill(score_set_.begin(), score_set_.end(), 0);
    std::fill(predicted_set_.begin(), predicted_set_.end(), 0);
    std::fill(tag_set_.begin(), tag_set_.end(), 0);
    cut_values_ = 0;
    request_id_.clear();
    id_cut_ = false;
    time_set_ = false;
    latency_set_ = false;
    status_ = RequestStatus::ok;
  }

  // Reading (for the monitor and the profile).
  enum class State : std::uint8_t { unset = 0, value = 1, bad = 2 };
  /// The observation's own copy of the schema it was made for.
  const Schema& schema() const { return *schema_; }
  bool has_time() const { return time_set_; }
  double time() const { return time_; }
  const std::string& request_id() const { return request_id_; }
  /// The request id (empty when none was set).
  const std::string& id() const { return request_id_; }
  bool has_id() const { return !request_id_.empty(); }
  State state(NumericFeature f) const { return numeric_state_[f.index]; }
  /// Every numeric value and its state, indexed by NumericFeature::index (schema order), for
  /// loops over all features. A value is finite exactly when its state is `value` (unset
  /// ones are NaN).
  const double* numeric_values() const { return numeric_.data(); }
  const State* numeric_states() const { return numeric_state_.data(); }
  /// Numeric features whose state is `bad`.
  std::size_t numeric_bad_count() const { return numeric_bad_; }
  /// Numeric features whose state is `value` (a finite number): all of them on most requests,
  /// which lets the request path skip its handling of missing and bad values.
  std::size_t numeric_value_count() const { return numeric_values_; }
  double value(NumericFeature f) const { return numeric_[f.index]; }
  bool has(CategoricalFeature f) const { return categorical_set_[f.index] != 0; }
  std::string_view value(CategoricalFeature f) const { return categorical_[f.index]; }
  bool has_score(Output o) const { return score_set_[o.index] != 0; }
  double score(Output o) const { return scores_[o.index]; }
  bool has_predicted(Output o) const { return predicted_set_[o.index] != 0; }
  std::string_view predicted(Output o) const { return predicted_[o.index]; }
  bool has(Tag t) const { return tag_set_[t.index] != 0; }
  std::string_view value(Tag t) const { return tags_[t.index]; }
  /// Category values, tag values and predicted classes now set whose value was longer than
  /// Schema::max_value_bytes and is kept cut to it.
  std::size_t cut_values() const { return cut_values_; }
  bool has_latency() const { return latency_set_; }
  double latency() const { return latency_; }
  RequestStatus status() const { return status_; }

 private:
  // A value's flag: 0 unset, set (kept whole) or cut (kept cut to Schema::max_value_bytes).
  static constexpr std::uint8_t set_whole = 1;
  static constexpr std::uint8_t cut = 2;

  static double unset() { return std::numeric_limits<double>::quiet_NaN(); }
  // Keeps `value` in `slot`, cut to Schema::max_value_bytes, and marks `flag` accordingly.
  void store(std::string& slot, std::uint8_t& flag, std::string_view value) {
    const std::string_view kept = detail::cut_value(value, Schema::max_value_bytes);
    slot.assign(kept.data(), kept.size());
    const std::uint8_t now = kept.size() < value.size() ? cut : set_whole;
    cut_values_ += static_cast<std::size_t>(now == cut);
    cut_values_ -= static_cast<std::size_t>(flag == cut);
    flag = now;
  }
  static const Schema* checked(const Schema* schema) {
    if (schema == nullptr) detail::throw_invalid_argument("Observation: the schema pointer is null");
    return schema;
  }
  static void check(std::uint32_t index, std::size_t size, const char* what) {
    if (VIGIL_UNLIKELY(index >= size))
      detail::throw_invalid_argument(std::string("Observation: ") + what + " handle " + std::to_string(index) +
                                     " does not belong to this schema");
  }

  // What observe() reads of every request comes first, in three cache lines.
  double time_ = 0;
  const Schema* schema_;  // owned_schema_, read without touching its reference count
  std::size_t numeric_bad_ = 0;     // features in state bad
  std::size_t numeric_values_ = 0;  // features in state value
  std::size_t cut_values_ = 0;      // values whose flag is `cut`
  bool time_set_ = false;
  bool latency_set_ = false;
  RequestStatus status_ = RequestStatus::ok;
  std::vector<double> numeric_;
  std::vector<std::uint8_t> categorical_set_;  // bytes, not vector<bool>: read on the request path
  std::vector<std::string> categorical_;
  std::vector<double> scores_;
  std::vector<std::uint8_t> score_set_;
  std::vector<std::uint8_t> predicted_set_;
  double latency_ = 0;
  // Read when a request has bad values, classes, tags.
  std::vector<State> numeric_state_;
  std::vector<std::string> predicted_;
  std::vector<std::string> tags_;
  std::vector<std::uint8_t> tag_set_;
  std::string request_id_;
  bool id_cut_ = false;
  std::shared_ptr<const Schema> owned_schema_;  // keeps schema_ alive as long as this observation
};

}  // namespace vigil

// vigil — in-process monitoring of machine-learning models in C++ inference servers.
// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <iterator>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "vigil/error.hpp"
#include "vigil/io/binary.hpp"
#include "vigil/io/file.hpp"
#include "vigil/model/loss_attribution.hpp"
#include "vigil/monitor/detail/label_stats.hpp"
#include "vigil/monitor/observation.hpp"
#include "vigil/monitor/schema.hpp"
#include "vigil/sketch/category_counts.hpp"
#include "vigil/sketch/rolling.hpp"
#include "vigil/sketch/tdigest.hpp"

namespace vigil {

/// The training-time reference a Monitor compares production with: per numeric feature a
/// t-digest, moments, min/max and missing rate; per categorical feature the category counts;
/// per output the score digest and class frequencies.
///
/// Build it from the training rows through add() (or with `vigil profile` from a CSV), save
/// it next to the model, and load it in the server. Loading checks it against the server's
/// Schema and says exactly what differs.
///
/// **Memory** (memory_bytes(); docs/benchmarks.md gives measured figures): per numeric
/// feature and output one TDigest at δ = 200 (≈ 6 KB once it holds many values, less for
/// fewer) and under 0.5 KB of counts and moments; per categorical feature a CategoryCounts
/// of at most `category_capacity` values. While building, each digest also buffers the values
/// it has not merged yet, 8 bytes each in a buffer that doubles from 16 as rows arrive, and
/// add() merges and releases those buffers every `rows_per_compaction` (512) rows: whatever
/// the number of rows, a feature stays within twice the figure above while building.
///
/// **Bad input**: NaN/inf feature values are counted as bad, not added; rows of another
/// schema throw vigil::invalid_argument.
class Profile {
 public:
  /// Reference of one numeric feature.
  struct Numeric {
    TDigest<> digest{digest_compression};
    RunningStats stats;
    std::uint64_t missing = 0;  // rows without a value
    std::uint64_t bad = 0;      // rows with NaN or ±inf
  };
  /// Reference of one categorical feature (missing values are counted inside `counts`).
  struct Categorical {
    CategoryCounts counts;
  };
  /// Reference of one model output.
  struct OutputReference {
    TDigest<> digest{digest_compression};
    RunningStats stats;
    CategoryCounts classes{64};  // predicted classes (or positive/negative by threshold)
    std::uint64_t missing = 0;
    /// The quality baseline: what the labels of the holdout rows given to add_labelled()
    /// add up to (detail::LabelStats: confusion counts, losses, reliability bins, the scores
    /// of each class), against which the Monitor judges the labels of production.
    detail::LabelStats labels{digest_compression};
    /// Labels add_labelled() refused: of a wrong type for the output (a class the output does
    /// not declare, a number other than 0 or 1 for a binary classifier, text that is no
    /// number for a regression) or not finite.
    std::uint64_t bad_labels = 0;
  };

  /// An empty profile for `schema`. `category_capacity` bounds the distinct categories kept
  /// exactly per categorical feature (more are kept as heavy hitters, see CategoryCounts).
  /// Throws vigil::invalid_argument for a schema with shadow outputs (Schema::add_canary,
  /// add_challenger): those describe serving, not training, and a profile's format keeps no
  /// roles; build the profile from the training schema (the Monitor's may add shadows).
  explicit Profile(Schema schema, std::size_t category_capacity = 1024)
      : schema_(without_shadows(std::move(schema))),
        numeric_(schema_.numeric_count()),
        categorical_(schema_.categorical_count(), Categorical{CategoryCounts(category_capacity)}),
        outputs_(schema_.output_count()) {}

  /// Adds one training row. Its schema must name the same features and outputs at the same
  /// indexes as this profile's (Schema::same_columns; tags are ignored): a row of another
  /// schema, even one of the same shape with two names swapped, throws
  /// vigil::invalid_argument.
  void add(const Observation& row) {
    if (!row.schema().same_columns(schema_))
      detail::throw_invalid_argument(
          "Profile::add: the row was made for another schema (other feature or output names, or "
          "the same names at other indexes): make rows from the profile's schema()");
    for (std::uint32_t i = 0; i < numeric_.size(); ++i) {
      const NumericFeature f{i};
      Numeric& n = numeric_[i];
      switch (row.state(f)) {
        case Observation::State::unset: ++n.missing; break;
        case Observation::State::bad: ++n.bad; break;
        case Observation::State::value:
          n.digest.add(row.value(f));
          n.stats.add(row.value(f));
          break;
      }
    }
    for (std::uint32_t i = 0; i < categorical_.size(); ++i) {
      const CategoricalFeature f{i};
      if (row.has(f)) {
        categorical_[i].counts.add(row.value(f));
      } else {
        categorical_[i].counts.add_missing();
      }
    }
    for (std::uint32_t i = 0; i < outputs_.size(); ++i) {
      const Output o{i};
      OutputReference& r = outputs_[i];
      const OutputOptions& options = schema_.options(o);
      if (!row.has_score(o) || !std::isfinite(row.score(o))) {
        ++r.missing;
      } else {
        r.digest.add(row.score(o));
        r.stats.add(row.score(o));
        if (!std::isnan(options.threshold)) r.classes.add(row.score(o) >= options.threshold ? "positive" : "negative");
      }
      if (row.has_predicted(o)) r.classes.add(row.predicted(o));
    }
    // A profile may have hundreds of thousands of digests: merging their buffers every
    // rows_per_compaction rows keeps each one near the size of its centroids.
    if (++rows_ % rows_per_compaction == 0) compact();
  }

  /// Adds one holdout row (as add()) with the true answer for output `o`: a number (0 or 1 for
  /// a binary classifier, the true value for a regression) or a class name (a declared class
  /// of a multi-class output; "1"/"0", "true"/"false", "positive"/"negative" or the second
  /// and first of two declared classes for a binary classifier). The labels of these rows are
  /// the quality baseline (OutputReference::labels): give rows the model did not train on.
  /// Returns false, with the row added and the label counted in
  /// OutputReference::bad_labels, for a label of the wrong type; throws
  /// vigil::invalid_argument for an output of another schema.
  template <class Label>
  bool add_labelled(const Observation& row, Output o, const Label& label) {
    check_output_handle(o);
    add(row);
    return add_label(row, o, label);
  }
  /// Adds the true answer of output `o` for a row already given to add() or add_labelled()
  /// (another output's label): the same rules as add_labelled().
  bool add_label(const Observation& row, Output o, double label) {
    return label_row(row, o, [&](detail::LabelKind kind, detail::LabelValue& value) {
      return detail::read_label(kind, label, schema_.options(o).classes.size(), value);
    });
  }
  bool add_label(const Observation& row, Output o, std::string_view label) {
    return label_row(row, o, [&](detail::LabelKind kind, detail::LabelValue& value) {
      return detail::read_label(kind, label, schema_.options(o).classes, value);
    });
  }
  bool add_label(const Observation& row, Output o, const char* label) { return add_label(row, o, std::string_view(label)); }
  bool add_label(const Observation& row, Output o, const std::string& label) {
    return add_label(row, o, std::string_view(label));
  }
  /// Whether some output has labelled rows.
  bool has_labels() const {
    for (const OutputReference& r : outputs_)
      if (r.labels.labelled > 0 || r.bad_labels > 0) return true;
    return false;
  }

  /// Adds the loss attributions of one holdout row (docs/guide.md, "Why is it wrong?"): one
  /// value per input feature, numeric features first, then categorical ones, in schema order
  /// (each feature's share of the row's loss, e.g. SHAP values of the log-loss). They are the
  /// reference the Monitor compares production's attributions with. A NaN or infinite value
  /// is left out of its feature's moments and counted in attribution_bad_values(). Throws
  /// vigil::invalid_argument for another number of values. O(features).
  void add_attributions(const double* values, std::size_t count) {
    const std::size_t features = numeric_.size() + categorical_.size();
    if (count != features)
      detail::throw_invalid_argument("Profile::add_attributions: " + std::to_string(count) +
                                     " values for a schema of " + std::to_string(features) + " input features");
    if (attributions_.empty()) attributions_.assign(features, RunningStats());
    for (std::size_t j = 0; j < count; ++j) {
      if (std::isfinite(values[j])) attributions_[j].add(values[j]);
      else ++attribution_bad_values_;
    }
  }
  void add_attributions(const std::vector<double>& values) { add_attributions(values.data(), values.size()); }
  /// The moments of each feature's holdout attributions (numeric features first); empty when
  /// none were added.
  const std::vector<RunningStats>& attributions() const { return attributions_; }
  bool has_attributions() const { return !attributions_.empty(); }
  std::uint64_t attribution_bad_values() const { return attribution_bad_values_; }

  /// Keeps a linear or logistic model of the numeric features (LinkFunction::identity for a
  /// regression scored by its squared error, logistic for a binary classifier scored by its
  /// log-loss) and a background sample of requests (`n` rows of numeric_count() values,
  /// row-major): the Monitor then attributes each label's loss to the features itself
  /// (Monitor::on_label with the request), and every holdout label added after this call
  /// (add_labelled, add_label with a number or a binary class) adds its row's attributions
  /// (add_attributions; categorical features get 0). Exact interventional Shapley values
  /// (vigil::LossAttribution, which states the cost per label). Throws
  /// vigil::invalid_argument for a model of another number of weights than numeric
  /// features, and for what LossAttribution refuses.
  void set_loss_model(LinearModel model, std::vector<double> background) {
    if (model.weights.size() != numeric_.size())
      detail::throw_invalid_argument("Profile::set_loss_model: " + std::to_string(model.weights.size()) +
                                     " weights for a schema of " + std::to_string(numeric_.size()) + " numeric features");
    loss_model_.emplace(std::move(model), std::move(background));
  }
  /// The model set_loss_model() kept, if any.
  const std::optional<LossAttribution>& loss_model() const { return loss_model_; }
  /// Writes a request's attributions by the loss model into `out` (one per input feature,
  /// numeric first; categorical ones 0); returns false, writing NaN, without a loss model,
  /// for a request whose numeric features are not all finite, or a label the model's loss
  /// refuses (LossAttribution::attribute). `out` has room for every input feature.
  bool loss_attributions(const Observation& request, double label, double* out) const;

  /// Rows between two compact() calls made by add(): each digest buffers at most this many
  /// values, 8 bytes each.
  static constexpr std::uint64_t rows_per_compaction = 512;

  /// Adds every row of another profile of the same schema (e.g. built in parallel).
  void merge(const Profile& other) {
    const auto diff = schema_.differences(other.schema_);
    if (!diff.empty()) detail::throw_invalid_argument("Profile::merge: schemas differ: " + diff.front());
    for (std::size_t i = 0; i < numeric_.size(); ++i) {
      numeric_[i].digest.merge(other.numeric_[i].digest);
      numeric_[i].stats.merge(other.numeric_[i].stats);
      numeric_[i].missing += other.numeric_[i].missing;
      numeric_[i].bad += other.numeric_[i].bad;
    }
    for (std::size_t i = 0; i < categorical_.size(); ++i) categorical_[i].counts.merge(other.categorical_[i].counts);
    for (std::size_t i = 0; i < outputs_.size(); ++i) {
      outputs_[i].digest.merge(other.outputs_[i].digest);
      outputs_[i].stats.merge(other.outputs_[i].stats);
      outputs_[i].classes.merge(other.outputs_[i].classes);
      outputs_[i].missing += other.outputs_[i].missing;
      outputs_[i].labels.merge(other.outputs_[i].labels);
      outputs_[i].bad_labels += other.outputs_[i].bad_labels;
    }
    if (!other.attributions_.empty()) {
      if (attributions_.empty()) attributions_.assign(other.attributions_.size(), RunningStats());
      for (std::size_t j = 0; j < attributions_.size(); ++j) attributions_[j].merge(other.attributions_[j]);
    }
    attribution_bad_values_ += other.attribution_bad_values_;
    if (!loss_model_ && other.loss_model_) loss_model_ = other.loss_model_;
    rows_ += other.rows_;
  }

  /// Merges pending values into every digest and releases their buffers, so that queries
  /// on the profile are cheap and never copy. The Monitor calls it on its copy.
  void compact() {
    for (Numeric& n : numeric_) n.digest.compact();
    for (OutputReference& o : outputs_) {
      o.digest.compact();
      o.labels.compact();
    }
  }

  const Schema& schema() const { return schema_; }
  /// Training rows added.
  std::uint64_t rows() const { return rows_; }
  /// Bytes held by the references (the schema apart): every digest, its buffers included,
  /// moments, counts and category counts. O(features).
  std::size_t memory_bytes() const;
  const Numeric& numeric(NumericFeature f) const { return numeric_.at(f.index); }
  const Categorical& categorical(CategoricalFeature f) const { return categorical_.at(f.index); }
  const OutputReference& output(Output o) const { return outputs_.at(o.index); }
  /// Fraction of training rows without a usable value of f (missing or bad).
  double missing_rate(NumericFeature f) const {
    const Numeric& n = numeric(f);
    return rows_ > 0 ? static_cast<double>(n.missing + n.bad) / static_cast<double>(rows_) : 0.0;
  }

  /// Throws vigil::invalid_argument listing every difference between this profile's schema
  /// and `schema` in features and outputs ("numeric feature 'age' is missing from the other
  /// schema; ..."). Tags may differ: they describe serving, not training.
  void check(const Schema& schema) const {
    const auto diff = schema_.differences(schema, false);
    if (diff.empty()) return;
    std::string text = "the profile does not match the schema: ";
    for (std::size_t i = 0; i < diff.size(); ++i) text += (i ? "; " : "") + diff[i];
    detail::throw_invalid_argument(text);
  }

  /// Binary form (docs/formats.md): the schema, then every reference, sealed by a CRC-32C
  /// checksum (io::seal()); format version 2, or 3 with holdout labels, or 4 with
  /// attributions or a loss model: the oldest version that holds the profile.
  std::vector<std::uint8_t> serialize() const;
  /// Reads serialize()'s output, of format version 1 to 4. Throws vigil::format_error on bad
  /// bytes: a checksum that does not match (version 2), truncated or trailing bytes, unknown
  /// flags, sizes beyond what the bytes can hold (checked before anything is allocated for
  /// them), and references that contradict each other (more missing and bad values than
  /// rows, digests and moments that do not count the rows with a value, category counts that
  /// do not count every row). O(size + names · log names).
  static Profile deserialize(const void* data, std::size_t size);
  static Profile deserialize(const std::vector<std::uint8_t>& bytes) { return deserialize(bytes.data(), bytes.size()); }

  /// Writes serialize() to a file, crash-safely (io::write_file(), docs/formats.md "Files"):
  /// whenever the process dies, the file holds the previous reference or the new one in full,
  /// never a mix, and once save() returns the new one is on the disk. A file replaced keeps its
  /// permissions; a symbolic link is followed. A save killed midway leaves a temporary
  /// `<path>.tmp.<pid>.<n>` beside the file, which io::remove_temporaries(path) removes.
  /// Throws vigil::format_error naming the file, the step and the system's reason when it
  /// cannot write it (missing directory, no permission, full disk); the file is then as it
  /// was, unless only the last step, the sync of its directory, failed (the message says so).
  void save(const std::string& path) const {
    const auto bytes = serialize();
    try {
      io::write_file(path, bytes);
    } catch (const io_error& e) {
      detail::throw_format_error(e.what());
    }
  }
  /// Reads a file written by save(); throws vigil::format_error naming the file (and the
  /// checksum when the file is corrupt).
  static Profile load(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) detail::throw_format_error("cannot open profile file '" + path + "'");
    const std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    try {
      return deserialize(bytes);
    } catch (const format_error& e) {
      detail::throw_format_error("profile file '" + path + "': " + e.what());
    }
  }

  /// The compression of every digest of a profile; a reader refuses any other.
  static constexpr double digest_compression = 200;

 private:

  static Schema without_shadows(Schema schema) {
    if (schema.model_output_count() != schema.output_count())
      detail::throw_invalid_argument(
          "Profile: the schema has shadow outputs (canary or challenger), which describe serving: build the profile "
          "from the training schema, before the shadows are added");
    return schema;
  }
  void check_output_handle(Output o) const {
    if (o.index >= outputs_.size())
      detail::throw_invalid_argument("Profile: output index " + std::to_string(o.index) + " of a schema with " +
                                     std::to_string(outputs_.size()) + " outputs");
  }
  template <class Read>
  bool label_row(const Observation& row, Output o, Read&& read);
  void read_references(io::Reader& r);
  void read_labels(io::Reader& r);
  void read_attributions(io::Reader& r);
  void read_attribution_moments(io::Reader& r);
  void check_labels(const io::Reader& r, std::size_t i) const;
  void check_numeric(const io::Reader& r, std::size_t i) const;
  void check_output(const io::Reader& r, std::size_t i) const;
  void check_references(const io::Reader& r) const;

  Schema schema_;
  std::vector<Numeric> numeric_;
  std::vector<Categorical> categorical_;
  std::vector<OutputReference> outputs_;
  std::uint64_t rows_ = 0;
  std::vector<RunningStats> attributions_;  // per input feature, numeric first; empty without any
  std::uint64_t attribution_bad_values_ = 0;
  std::optional<LossAttribution> loss_model_;
};

namespace detail {
inline constexpr std::uint8_t profile_format_version = 4;
// Version 4 added the holdout's loss attributions; a profile without them is written as 3 or 2.
inline constexpr std::uint8_t profile_first_attributed_version = 4;
// Version 3 added the labels of holdout rows; a profile without them is still written as 2.
inline constexpr std::uint8_t profile_unlabelled_version = 2;
inline constexpr std::uint8_t profile_first_labelled_version = 3;
// Version 1 had no checksum; every later version is sealed (io::seal()).
inline constexpr std::uint8_t profile_first_sealed_version = 2;
// The fewest bytes a blob takes: its length and an object header.
inline constexpr std::size_t min_blob_bytes = 1 + io::header_size;

inline void write_blob(io::Writer& w, const std::vector<std::uint8_t>& bytes) {
  w.varint(bytes.size());
  w.bytes(bytes.data(), bytes.size());
}
template <class Sketch>
Sketch read_blob(io::Reader& r) {
  const std::size_t n = r.count(1);
  std::vector<std::uint8_t> bytes(n);
  for (std::size_t i = 0; i < n; ++i) bytes[i] = r.u8();
  return Sketch::deserialize(bytes);
}

// The loss model of a profile (version 4): u8 link, varint d, d × f64 weight, f64 intercept,
// varint n, n × d × f64 background.
inline void write_loss_model(io::Writer& w, const LossAttribution& m) {
  w.u8(static_cast<std::uint8_t>(m.model().link));
  w.varint(m.features());
  for (double x : m.model().weights) w.f64(x);
  w.f64(m.model().intercept);
  w.varint(m.background_rows());
  for (double x : m.background()) w.f64(x);
}

// Reads write_loss_model()'s bytes for a schema of `numeric` features; sizes are checked
// against the bytes left before anything is allocated, values by LossAttribution.
inline LossAttribution read_loss_model(io::Reader& r, std::size_t numeric) {
  LinearModel model;
  const std::uint8_t link = r.u8();
  if (link > 1) r.fail("loss model link " + std::to_string(link));
  model.link = static_cast<LinkFunction>(link);
  const std::size_t d = r.count(8);
  if (d != numeric) r.fail("a loss model of " + std::to_string(d) + " weights for " + std::to_string(numeric) + " numeric features");
  model.weights.resize(d);
  for (double& x : model.weights) x = r.f64();
  model.intercept = r.f64();
  const std::size_t n = r.count(8 * std::max<std::size_t>(d, 1));
  if (n > LossAttribution::max_background) r.fail("a background of " + std::to_string(n) + " rows");
  std::vector<double> background(n * d);
  for (double& x : background) x = r.f64();
  return LossAttribution(std::move(model), std::move(background));
}

// With `roles` (a monitor snapshot), each output is followed by its role and champion, so
// that canaries and challengers read back as such; a profile's schema has model outputs only.
inline void write_schema(io::Writer& w, const Schema& s, bool roles = false) {
  w.varint(s.numeric_count());
  for (std::uint32_t i = 0; i < s.numeric_count(); ++i) w.string(s.name(NumericFeature{i}));
  w.varint(s.categorical_count());
  for (std::uint32_t i = 0; i < s.categorical_count(); ++i) w.string(s.name(CategoricalFeature{i}));
  w.varint(s.output_count());
  for (std::uint32_t i = 0; i < s.output_count(); ++i) {
    const Output o{i};
    w.string(s.name(o));
    w.f64(s.options(o).threshold);
    w.varint(s.options(o).classes.size());
    for (const std::string& c : s.options(o).classes) w.string(c);
    if (roles) {
      w.u8(static_cast<std::uint8_t>(s.role(o)));
      w.varint(s.champion(o).index);
    }
  }
  w.varint(s.tag_count());
  for (std::uint32_t i = 0; i < s.tag_count(); ++i) {
    const Tag t{i};
    w.string(s.name(t));
    w.varint(s.options(t).max_values);
    w.u8(s.options(t).cohort ? 1 : 0);
  }
}

inline Schema read_schema(io::Reader& r, bool roles = false) {
  Schema s;
  try {
    for (std::size_t i = 0, n = r.count(1); i < n; ++i) s.add_numeric(r.string());
    for (std::size_t i = 0, n = r.count(1); i < n; ++i) s.add_categorical(r.string());
    for (std::size_t i = 0, n = r.count(1); i < n; ++i) {
      std::string name = r.string();
      OutputOptions options;
      options.threshold = r.f64();
      for (std::size_t c = 0, k = r.count(1); c < k; ++c) options.classes.push_back(r.string());
      const std::uint8_t role = roles ? r.u8() : 0;
      const std::uint64_t of = roles ? r.varint() : i;
      if (role == static_cast<std::uint8_t>(OutputRole::model) && of == i) {
        s.add_output(std::move(name), std::move(options));
      } else if (role > static_cast<std::uint8_t>(OutputRole::challenger) || role == 0 || of >= i) {
        r.fail("output '" + name + "' has role " + std::to_string(role) + " and champion " + std::to_string(of));
      } else if (role == static_cast<std::uint8_t>(OutputRole::canary)) {
        s.add_canary(std::move(name), Output{static_cast<std::uint32_t>(of)});
      } else {
        s.add_challenger(std::move(name), Output{static_cast<std::uint32_t>(of)});
      }
    }
    for (std::size_t i = 0, n = r.count(1); i < n; ++i) {
      std::string name = r.string();
      TagOptions options;
      options.max_values = static_cast<std::size_t>(r.varint());
      options.cohort = r.u8() != 0;
      s.add_tag(std::move(name), options);
    }
  } catch (const invalid_argument& e) {
    r.fail(std::string("invalid schema: ") + e.what());
  }
  return s;
}
}  // namespace detail

inline std::vector<std::uint8_t> Profile::serialize() const {
  std::vector<std::uint8_t> out;
  io::Writer w(out);
  // A profile without labels is written as version 2, byte for byte as before labels
  // existed, so that older readers still load it.
  const bool attributed = has_attributions() || loss_model_.has_value();
  const bool labelled = has_labels() || attributed;
  w.header(io::TypeId::profile, attributed ? detail::profile_first_attributed_version
                                : labelled ? detail::profile_first_labelled_version
                                           : detail::profile_unlabelled_version);
  detail::write_schema(w, schema_);
  w.varint(rows_);
  for (const Numeric& n : numeric_) {
    detail::write_blob(w, n.digest.serialize());
    detail::write_blob(w, n.stats.serialize());
    w.varint(n.missing);
    w.varint(n.bad);
  }
  for (const Categorical& c : categorical_) detail::write_blob(w, c.counts.serialize());
  for (const OutputReference& o : outputs_) {
    detail::write_blob(w, o.digest.serialize());
    detail::write_blob(w, o.stats.serialize());
    detail::write_blob(w, o.classes.serialize());
    w.varint(o.missing);
  }
  if (labelled) {
    for (const OutputReference& o : outputs_) {
      w.varint(o.bad_labels);
      o.labels.serialize(w);
    }
  }
  if (attributed) {
    w.u8(static_cast<std::uint8_t>((has_attributions() ? 1 : 0) | (loss_model_ ? 2 : 0)));
    if (has_attributions()) {
      w.varint(attribution_bad_values_);
      w.varint(attributions_.size());
      for (const RunningStats& a : attributions_) detail::write_blob(w, a.serialize());
    }
    if (loss_model_) detail::write_loss_model(w, *loss_model_);
  }
  io::seal(out);
  return out;
}

inline std::size_t Profile::memory_bytes() const {
  std::size_t bytes = sizeof(Profile) + numeric_.capacity() * sizeof(Numeric) +
                      categorical_.capacity() * sizeof(Categorical) + outputs_.capacity() * sizeof(OutputReference);
  // A digest counts itself in its memory_bytes(), and the vectors above count it already.
  for (const Numeric& n : numeric_) bytes += n.digest.memory_bytes() - sizeof(TDigest<>);
  for (const Categorical& c : categorical_) bytes += c.counts.memory_bytes();
  for (const OutputReference& o : outputs_)
    bytes += o.digest.memory_bytes() - sizeof(TDigest<>) + o.classes.memory_bytes() + o.labels.memory_bytes();
  return bytes;
}

namespace detail {
// Reads the header of a profile of any supported version; refuses unknown flags.
inline std::uint8_t read_profile_header(io::Reader& r) {
  std::uint16_t flags = 0;
  const std::uint8_t version = r.header(io::TypeId::profile, profile_format_version, flags);
  if (version >= profile_first_sealed_version) {
    if ((flags & io::sealed_flag) == 0) r.fail("format version " + std::to_string(version) + " without its checksum");
    flags = static_cast<std::uint16_t>(flags & ~io::sealed_flag);
  }
  if (flags != 0) r.fail("unknown flags " + std::to_string(flags));
  return version;
}

// Refuses a schema whose references cannot fit in the remaining bytes, before a profile of
// its shape is allocated (a feature's reference in memory is far larger than its name).
inline void check_room(const io::Reader& r, const Schema& s) {
  const std::size_t per_numeric = 2 * min_blob_bytes + 2;
  const std::size_t per_output = 3 * min_blob_bytes + 1;
  const std::size_t left = r.remaining();
  if (s.numeric_count() > left / per_numeric || s.categorical_count() > left / min_blob_bytes ||
      s.output_count() > left / per_output ||
      s.numeric_count() * per_numeric + s.categorical_count() * min_blob_bytes + s.output_count() * per_output > left)
    r.fail("the schema declares " + std::to_string(s.numeric_count()) + " numeric features, " +
           std::to_string(s.categorical_count()) + " categorical features and " + std::to_string(s.output_count()) +
           " outputs, more than the remaining " + std::to_string(left) + " bytes can hold");
}
}  // namespace detail

inline Profile Profile::deserialize(const void* data, std::size_t size) {
  const std::size_t content = io::unseal(data, size, detail::profile_first_sealed_version, "Profile");
  io::Reader r(data, content, "Profile");
  const std::uint8_t version = detail::read_profile_header(r);
  Schema schema = detail::read_schema(r);
  detail::check_room(r, schema);
  Profile p(std::move(schema));
  p.read_references(r);
  if (version >= detail::profile_first_labelled_version) p.read_labels(r);
  if (version >= detail::profile_first_attributed_version) p.read_attributions(r);
  r.finish();
  p.check_references(r);
  return p;
}

inline void Profile::read_references(io::Reader& r) {
  rows_ = r.varint();
  for (Numeric& n : numeric_) {
    n.digest = detail::read_blob<TDigest<>>(r);
    n.stats = detail::read_blob<RunningStats>(r);
    n.missing = r.varint();
    n.bad = r.varint();
  }
  for (Categorical& c : categorical_) c.counts = detail::read_blob<CategoryCounts>(r);
  for (OutputReference& o : outputs_) {
    o.digest = detail::read_blob<TDigest<>>(r);
    o.stats = detail::read_blob<RunningStats>(r);
    o.classes = detail::read_blob<CategoryCounts>(r);
    o.missing = r.varint();
  }
}

inline void Profile::read_labels(io::Reader& r) {
  for (OutputReference& o : outputs_) {
    o.bad_labels = r.varint();
    o.labels = detail::LabelStats::deserialize(r, digest_compression);
  }
}

// Version 4: what it holds (bit 0 the attributions, bit 1 the loss model), then each.
inline void Profile::read_attributions(io::Reader& r) {
  const std::uint8_t parts = r.u8();
  if (parts == 0 || parts > 3) r.fail("attribution parts " + std::to_string(parts) + " (1: attributions, 2: a loss model)");
  if (parts & 1) read_attribution_moments(r);
  if (parts & 2) {
    try {
      loss_model_.emplace(detail::read_loss_model(r, numeric_.size()));
    } catch (const invalid_argument& e) {
      r.fail(std::string("loss model: ") + e.what());
    }
  }
}

// Every input feature's attribution moments (of finite values only).
inline void Profile::read_attribution_moments(io::Reader& r) {
  attribution_bad_values_ = r.varint();
  const std::size_t features = numeric_.size() + categorical_.size();
  const std::size_t n = r.count(detail::min_blob_bytes);
  if (n != features || n == 0)
    r.fail("attributions of " + std::to_string(n) + " features in a profile of " + std::to_string(features) + " input features");
  attributions_.assign(n, RunningStats());
  for (RunningStats& a : attributions_) {
    a = detail::read_blob<RunningStats>(r);
    if (a.rejected() > 0) r.fail("attribution moments that counted " + std::to_string(a.rejected()) + " non-finite values");
  }
}

template <class Read>
bool Profile::label_row(const Observation& row, Output o, Read&& read) {
  check_output_handle(o);
  if (!row.schema().same_columns(schema_))
    detail::throw_invalid_argument("Profile::add_label: the row was made for another schema");
  OutputReference& r = outputs_[o.index];
  if (r.labels.labelled + static_cast<double>(r.bad_labels) >= static_cast<double>(rows_))
    detail::throw_invalid_argument("Profile::add_label: output '" + schema_.name(o) + "' already has a label for each of the " +
                                   std::to_string(rows_) + " rows added");
  const OutputOptions& options = schema_.options(o);
  const detail::LabelKind kind = detail::label_kind(options);
  detail::LabelValue value;
  if (!read(kind, value)) {
    ++r.bad_labels;
    return false;
  }
  const double score = row.has_score(o) ? row.score(o) : std::numeric_limits<double>::quiet_NaN();
  if (loss_model_ && kind != detail::LabelKind::multiclass) {
    std::vector<double> shares(numeric_.size() + categorical_.size());
    loss_attributions(row, value.number, shares.data());
    add_attributions(shares);
  }
  switch (kind) {
    case detail::LabelKind::binary: r.labels.add_binary(score, options.threshold, value.number); break;
    case detail::LabelKind::regression: r.labels.add_regression(score, value.number); break;
    case detail::LabelKind::multiclass: {
      std::uint32_t predicted = detail::LabelValue::no_class;
      if (row.has_predicted(o)) {
        const auto& classes = options.classes;
        const auto it = std::find(classes.begin(), classes.end(), row.predicted(o));
        if (it != classes.end()) predicted = static_cast<std::uint32_t>(it - classes.begin());
      }
      r.labels.add_multiclass(predicted, value.class_index);
      break;
    }
  }
  return true;
}

inline bool Profile::loss_attributions(const Observation& request, double label, double* out) const {
  const std::size_t features = numeric_.size() + categorical_.size();
  std::fill(out, out + features, 0.0);
  bool usable = loss_model_.has_value();
  for (std::uint32_t i = 0; usable && i < numeric_.size(); ++i)
    usable = request.state(NumericFeature{i}) == Observation::State::value;
  if (usable) {
    thread_local std::vector<double> x;
    x.resize(numeric_.size());
    for (std::uint32_t i = 0; i < numeric_.size(); ++i) x[i] = request.value(NumericFeature{i});
    usable = loss_model_->attribute(x.data(), label, out);
  }
  if (!usable) std::fill(out, out + features, std::numeric_limits<double>::quiet_NaN());
  return usable;
}

namespace detail {
// Whether a digest and the moments beside it summarise exactly `values` values, as add()
// and merge() leave them: every value in both (or refused and counted by the moments).
inline bool counts_values(const TDigest<>& digest, const RunningStats& stats, std::uint64_t values) {
  const auto expected = static_cast<double>(values);
  return digest.count() == expected && stats.count() + static_cast<double>(stats.rejected()) == expected;
}
}  // namespace detail

inline void Profile::check_numeric(const io::Reader& r, std::size_t i) const {
  const Numeric& n = numeric_[i];
  const std::string name = "numeric feature '" + schema_.name(NumericFeature{static_cast<std::uint32_t>(i)}) + "'";
  if (n.missing > rows_ || n.bad > rows_ - n.missing)
    r.fail(name + " has " + std::to_string(n.missing) + " missing and " + std::to_string(n.bad) +
           " bad values, more than the " + std::to_string(rows_) + " rows");
  if (n.digest.compression() != digest_compression)
    r.fail(name + " has a digest of compression " + detail::to_text(n.digest.compression()));
  if (!detail::counts_values(n.digest, n.stats, rows_ - n.missing - n.bad))
    r.fail(name + ": its digest (" + detail::to_text(n.digest.count()) + " values) and moments (" +
           detail::to_text(n.stats.count()) + ") do not count the " + std::to_string(rows_ - n.missing - n.bad) +
           " rows with a value");
}

inline void Profile::check_output(const io::Reader& r, std::size_t i) const {
  const OutputReference& o = outputs_[i];
  const Output handle{static_cast<std::uint32_t>(i)};
  const std::string name = "output '" + schema_.name(handle) + "'";
  if (o.missing > rows_)
    r.fail(name + " has " + std::to_string(o.missing) + " missing scores, more than the " + std::to_string(rows_) + " rows");
  if (o.digest.compression() != digest_compression)
    r.fail(name + " has a digest of compression " + detail::to_text(o.digest.compression()));
  const std::uint64_t scored = rows_ - o.missing;
  if (!detail::counts_values(o.digest, o.stats, scored))
    r.fail(name + ": its digest (" + detail::to_text(o.digest.count()) + " scores) and moments (" +
           detail::to_text(o.stats.count()) + ") do not count the " + std::to_string(scored) + " rows with a score");
  // A row adds at most its predicted class, and a scored row its side of the threshold.
  const bool thresholded = !std::isnan(schema_.options(handle).threshold);
  const std::uint64_t most = thresholded ? rows_ + scored : rows_;
  if (o.classes.missing() != 0 || o.classes.total() < scored * thresholded || o.classes.total() - scored * thresholded > rows_)
    r.fail(name + " counts " + std::to_string(o.classes.total()) + " classes (" + std::to_string(o.classes.missing()) +
           " missing) for " + std::to_string(rows_) + " rows, " + std::to_string(scored) + " scored; at most " +
           std::to_string(most) + " are possible");
}

inline void Profile::check_references(const io::Reader& r) const {
  for (std::size_t i = 0; i < numeric_.size(); ++i) check_numeric(r, i);
  for (std::size_t i = 0; i < categorical_.size(); ++i) {
    const CategoryCounts& c = categorical_[i].counts;
    if (c.count() != rows_)
      r.fail("categorical feature '" + schema_.name(CategoricalFeature{static_cast<std::uint32_t>(i)}) + "' counts " +
             std::to_string(c.total()) + " values and " + std::to_string(c.missing()) + " missing ones, not the " +
             std::to_string(rows_) + " rows");
  }
  for (std::size_t i = 0; i < outputs_.size(); ++i) {
    check_output(r, i);
    check_labels(r, i);
  }
}

// Every labelled row is a row, and its labels are of the output's kind.
inline void Profile::check_labels(const io::Reader& r, std::size_t i) const {
  const OutputReference& o = outputs_[i];
  const Output handle{static_cast<std::uint32_t>(i)};
  const std::string name = "output '" + schema_.name(handle) + "'";
  if (o.bad_labels > rows_ || o.labels.labelled > static_cast<double>(rows_ - o.bad_labels))
    r.fail(name + " has " + detail::to_text(o.labels.labelled) + " labels and " + std::to_string(o.bad_labels) +
           " bad ones, more than the " + std::to_string(rows_) + " rows");
  if (o.labels.positive_scores.compression() != digest_compression ||
      o.labels.negative_scores.compression() != digest_compression)
    r.fail(name + " has label digests of another compression than " + detail::to_text(digest_compression));
  const detail::LabelKind kind = detail::label_kind(schema_.options(handle));
  const detail::LabelStats& l = o.labels;
  const bool binary = l.true_positive + l.false_positive + l.false_negative + l.true_negative > 0;
  if ((binary && kind != detail::LabelKind::binary) || (l.correct > 0 && kind != detail::LabelKind::multiclass) ||
      (l.error.count() > 0 && kind != detail::LabelKind::regression))
    r.fail(name + " has labels of another kind of output than its options declare");
}

}  // namespace vigil

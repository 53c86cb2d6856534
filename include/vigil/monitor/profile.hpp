// vigil — in-process monitoring of machine-learning models in C++ inference servers.
// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "vigil/error.hpp"
#include "vigil/io/binary.hpp"
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
/// **Memory**: per numeric feature and output one TDigest at δ = 200 (≈ 6 KB) and 80 bytes;
/// per categorical feature a CategoryCounts of `category_capacity` values.
///
/// **Bad input**: NaN/inf feature values are counted as bad, not added; rows of another
/// schema throw vigil::invalid_argument.
class Profile {
 public:
  /// Reference of one numeric feature.
  struct Numeric {
    TDigest<> digest{200};
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
    TDigest<> digest{200};
    RunningStats stats;
    CategoryCounts classes{64};  // predicted classes (or positive/negative by threshold)
    std::uint64_t missing = 0;
  };

  /// An empty profile for `schema`. `category_capacity` bounds the distinct categories kept
  /// exactly per categorical feature (more are kept as heavy hitters, see CategoryCounts).
  explicit Profile(Schema schema, std::size_t category_capacity = 1024)
      : schema_(std::move(schema)),
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
    ++rows_;
  }

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
    }
    rows_ += other.rows_;
  }

  /// Merges pending values into every digest and releases their buffers, so that queries
  /// on the profile are cheap and never copy. The Monitor calls it on its copy.
  void compact() {
    for (Numeric& n : numeric_) n.digest.compact();
    for (OutputReference& o : outputs_) o.digest.compact();
  }

  const Schema& schema() const { return schema_; }
  /// Training rows added.
  std::uint64_t rows() const { return rows_; }
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

  /// Binary form, format version 1 (docs/formats.md): the schema, then every reference.
  std::vector<std::uint8_t> serialize() const;
  /// Reads serialize()'s output; throws vigil::format_error on bad bytes.
  static Profile deserialize(const void* data, std::size_t size);
  static Profile deserialize(const std::vector<std::uint8_t>& bytes) { return deserialize(bytes.data(), bytes.size()); }

  /// Writes serialize() to a file; throws vigil::format_error when it cannot.
  void save(const std::string& path) const {
    const auto bytes = serialize();
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    if (!out) detail::throw_format_error("cannot write profile file '" + path + "'");
  }
  /// Reads a file written by save(); throws vigil::format_error naming the file.
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

 private:
  Schema schema_;
  std::vector<Numeric> numeric_;
  std::vector<Categorical> categorical_;
  std::vector<OutputReference> outputs_;
  std::uint64_t rows_ = 0;
};

namespace detail {
inline constexpr std::uint8_t profile_format_version = 1;

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

inline void write_schema(io::Writer& w, const Schema& s) {
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
  }
  w.varint(s.tag_count());
  for (std::uint32_t i = 0; i < s.tag_count(); ++i) {
    const Tag t{i};
    w.string(s.name(t));
    w.varint(s.options(t).max_values);
    w.u8(s.options(t).cohort ? 1 : 0);
  }
}

inline Schema read_schema(io::Reader& r) {
  Schema s;
  try {
    for (std::size_t i = 0, n = r.count(1); i < n; ++i) s.add_numeric(r.string());
    for (std::size_t i = 0, n = r.count(1); i < n; ++i) s.add_categorical(r.string());
    for (std::size_t i = 0, n = r.count(1); i < n; ++i) {
      std::string name = r.string();
      OutputOptions options;
      options.threshold = r.f64();
      for (std::size_t c = 0, k = r.count(1); c < k; ++c) options.classes.push_back(r.string());
      s.add_output(std::move(name), std::move(options));
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
  w.header(io::TypeId::profile, detail::profile_format_version);
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
  return out;
}

inline Profile Profile::deserialize(const void* data, std::size_t size) {
  io::Reader r(data, size, "Profile");
  std::uint16_t flags = 0;
  r.header(io::TypeId::profile, detail::profile_format_version, flags);
  if (flags != 0) r.fail("unknown flags " + std::to_string(flags));
  Profile p(detail::read_schema(r));
  p.rows_ = r.varint();
  for (Numeric& n : p.numeric_) {
    n.digest = detail::read_blob<TDigest<>>(r);
    n.stats = detail::read_blob<RunningStats>(r);
    n.missing = r.varint();
    n.bad = r.varint();
  }
  for (Categorical& c : p.categorical_) c.counts = detail::read_blob<CategoryCounts>(r);
  for (OutputReference& o : p.outputs_) {
    o.digest = detail::read_blob<TDigest<>>(r);
    o.stats = detail::read_blob<RunningStats>(r);
    o.classes = detail::read_blob<CategoryCounts>(r);
    o.missing = r.varint();
  }
  r.finish();
  return p;
}

}  // namespace vigil

// vigil — in-process monitoring of machine-learning models in C++ inference servers.
// SPDX-License-Identifier: Apache-2.0
//
// An Observation in a monitor snapshot (the requests the event-time guard holds): written
// whole and read back, for the same schema, as an observation no reader can tell apart from
// the one written, down to the values a cleared slot still keeps and which values were cut.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "vigil/io/binary.hpp"
#include "vigil/monitor/detail/state_codec.hpp"
#include "vigil/monitor/observation.hpp"
#include "vigil/monitor/schema.hpp"

namespace vigil {
namespace detail {

namespace observation_codec_detail {

/// How a text value is set: not (its slot keeps whatever it held), whole, or cut to
/// Schema::max_value_bytes (Observation::cut_values counts it).
enum class TextFlag : std::uint8_t { unset = 0, whole = 1, cut = 2 };

/// Whether a value the observation holds was cut when it was set: `reset()` sets it again
/// from its own text (or clears it) on `probe`, a copy of the observation, which takes one
/// off probe.cut_values() exactly when it was cut.
template <class Reset>
bool was_cut(const Observation& probe, Reset&& reset) {
  const std::size_t before = probe.cut_values();
  reset();
  return probe.cut_values() < before;
}

inline void save_text(io::Writer& w, bool set, bool cut, std::string_view value) {
  save_enum(w, !set ? TextFlag::unset : cut ? TextFlag::cut : TextFlag::whole);
  w.string(value);
}

/// A text that Observation cuts (cut_value) to `kept`, which a cut left between
/// max_value_bytes − 3 and max_value_bytes bytes long: `kept`, a byte that starts no UTF-8
/// sequence just past it, and continuation bytes up to one past max_value_bytes, so that
/// the cut steps back over them to exactly where `kept` ends.
inline std::string uncut(const std::string& kept) {
  std::string value = kept;
  value += 'x';
  value.append(Schema::max_value_bytes - kept.size(), '\x80');
  return value;
}

/// One text value as written: its flag and its text, checked against what a setter keeps.
struct Text {
  TextFlag flag = TextFlag::unset;
  std::string value;

  void read(io::Reader& r, const char* what) {
    flag = load_enum(r, TextFlag::cut, what);
    value = r.string();
    const std::size_t n = value.size(), most = Schema::max_value_bytes;
    if (n > most) r.fail(std::string(what) + " of " + std::to_string(n) + " bytes, at most " + std::to_string(most));
    if (flag == TextFlag::cut && n + 3 < most)
      r.fail(std::string(what) + " cut to " + std::to_string(n) + " bytes, where a cut keeps at least " +
             std::to_string(most - 3));
  }
  bool set() const { return flag != TextFlag::unset; }
  /// The text to give the setter for the value it keeps now.
  std::string given() const { return flag == TextFlag::cut ? uncut(value) : value; }
};

/// Every field of an observation as written, before it is applied.
struct Fields {
  std::vector<Observation::State> states;
  std::vector<double> numeric;
  std::vector<Text> categorical, predicted, tags;
  std::vector<std::uint8_t> scored;
  std::vector<double> scores;
  std::string id;
  bool id_cut = false, has_time = false, has_latency = false;
  double time = 0, latency = 0;
  RequestStatus status = RequestStatus::ok;
};

inline void save_numeric(io::Writer& w, const Observation& o) {
  const std::size_t n = o.schema().numeric_count();
  w.varint(n);
  for (std::size_t i = 0; i < n; ++i) {
    const NumericFeature f{static_cast<std::uint32_t>(i)};
    save_enum(w, o.state(f));
    if (o.state(f) != Observation::State::unset) w.f64(o.value(f));
  }
}

inline void save_texts(io::Writer& w, const Observation& o, Observation& probe) {
  const Schema& schema = o.schema();
  w.varint(schema.categorical_count());
  for (std::uint32_t i = 0; i < schema.categorical_count(); ++i) {
    const CategoricalFeature f{i};
    const bool cut = o.has(f) && was_cut(probe, [&] { probe.clear(f); });
    save_text(w, o.has(f), cut, o.value(f));
  }
  w.varint(schema.output_count());
  for (std::uint32_t i = 0; i < schema.output_count(); ++i) {
    const Output out{i};
    save_bool(w, o.has_score(out));
    w.f64(o.score(out));
    const bool cut = o.has_predicted(out) && was_cut(probe, [&] { probe.predicted(out, std::string(o.predicted(out))); });
    save_text(w, o.has_predicted(out), cut, o.predicted(out));
  }
  w.varint(schema.tag_count());
  for (std::uint32_t i = 0; i < schema.tag_count(); ++i) {
    const Tag t{i};
    const bool cut = o.has(t) && was_cut(probe, [&] { probe.tag(t, std::string(o.value(t))); });
    save_text(w, o.has(t), cut, o.value(t));
  }
}

inline void read_numeric(io::Reader& r, const Schema& schema, Fields& f) {
  load_expected(r, schema.numeric_count(), "observation's numeric features");
  f.states.resize(schema.numeric_count());
  f.numeric.resize(schema.numeric_count());
  for (std::size_t i = 0; i < f.states.size(); ++i) {
    f.states[i] = load_enum(r, Observation::State::bad, "numeric value state");
    if (f.states[i] == Observation::State::unset) continue;
    f.numeric[i] = r.f64();
    if (std::isfinite(f.numeric[i]) != (f.states[i] == Observation::State::value))
      r.fail("numeric feature " + std::to_string(i) + ": a " + (std::isfinite(f.numeric[i]) ? "finite" : "non-finite") +
             " value in state " + std::to_string(static_cast<int>(f.states[i])));
  }
}

inline void read_texts(io::Reader& r, const Schema& schema, Fields& f) {
  load_expected(r, schema.categorical_count(), "observation's categorical features");
  f.categorical.resize(schema.categorical_count());
  for (Text& t : f.categorical) t.read(r, "category value");
  load_expected(r, schema.output_count(), "observation's outputs");
  f.scored.resize(schema.output_count());
  f.scores.resize(schema.output_count());
  f.predicted.resize(schema.output_count());
  for (std::size_t i = 0; i < schema.output_count(); ++i) {
    f.scored[i] = load_bool(r, "score set");
    f.scores[i] = r.f64();
    f.predicted[i].read(r, "predicted class");
  }
  load_expected(r, schema.tag_count(), "observation's tags");
  f.tags.resize(schema.tag_count());
  for (Text& t : f.tags) t.read(r, "tag value");
}

inline void read_rest(io::Reader& r, Fields& f) {
  f.id = r.string();
  if (f.id.size() > Observation::max_id_bytes)
    r.fail("request id of " + std::to_string(f.id.size()) + " bytes, at most " + std::to_string(Observation::max_id_bytes));
  f.id_cut = load_bool(r, "request id cut");
  if (f.id_cut && f.id.size() != Observation::max_id_bytes)
    r.fail("request id cut to " + std::to_string(f.id.size()) + " bytes, not " + std::to_string(Observation::max_id_bytes));
  f.has_time = load_bool(r, "time set");
  f.time = r.f64();
  f.has_latency = load_bool(r, "latency set");
  f.latency = r.f64();
  f.status = load_enum(r, RequestStatus::timeout, "request status");
}

/// Gives `o` (fresh) every field of `f`: first every value a slot holds, set or not, then a
/// clear() that keeps them but unsets them all, then the values set, through the setters.
inline void apply(const Fields& f, Observation& o) {
  for (std::uint32_t i = 0; i < f.categorical.size(); ++i) o.set(CategoricalFeature{i}, f.categorical[i].value);
  for (std::uint32_t i = 0; i < f.scores.size(); ++i)
    o.score(Output{i}, f.scores[i]).predicted(Output{i}, f.predicted[i].value);
  for (std::uint32_t i = 0; i < f.tags.size(); ++i) o.tag(Tag{i}, f.tags[i].value);
  o.at(f.time).latency(f.latency).clear();
  for (std::uint32_t i = 0; i < f.states.size(); ++i)
    if (f.states[i] != Observation::State::unset) o.set(NumericFeature{i}, f.numeric[i]);
  for (std::uint32_t i = 0; i < f.categorical.size(); ++i)
    if (f.categorical[i].set()) o.set(CategoricalFeature{i}, f.categorical[i].given());
  for (std::uint32_t i = 0; i < f.scores.size(); ++i) {
    if (f.scored[i]) o.score(Output{i}, f.scores[i]);
    if (f.predicted[i].set()) o.predicted(Output{i}, f.predicted[i].given());
  }
  for (std::uint32_t i = 0; i < f.tags.size(); ++i)
    if (f.tags[i].set()) o.tag(Tag{i}, f.tags[i].given());
  if (!f.id.empty()) o.id(f.id_cut ? f.id + 'x' : f.id);
  if (f.has_time) o.at(f.time);
  if (f.has_latency) o.latency(f.latency);
  o.status(f.status);
}

}  // namespace observation_codec_detail

/// Writes every field of `o`, in its schema's order: per numeric feature its state (u8: 0
/// unset, 1 value, 2 bad) and, unless unset, its value (f64); per categorical feature a text;
/// per output whether a score is set (bool), the score slot (f64) and the predicted class as a
/// text; per tag a text; the request id (a string) and whether it was cut (bool); whether a
/// time is set (bool) and the time slot (f64); the same for the latency; the status (u8).
/// A text is its flag (u8: 0 unset, 1 whole, 2 cut to Schema::max_value_bytes) and the text
/// its slot holds (a varint length and the bytes), set or not: a cleared slot keeps its last
/// value, as the score, time and latency slots do. Each count is written as a varint first.
/// O(fields); copies `o` once, to find which values were cut.
inline void save_observation(io::Writer& w, const Observation& o) {
  Observation probe(o);
  observation_codec_detail::save_numeric(w, o);
  observation_codec_detail::save_texts(w, o, probe);
  w.string(o.id());
  save_bool(w, o.has_id() && observation_codec_detail::was_cut(probe, [&] { probe.id(std::string(o.id())); }));
  save_bool(w, o.has_time());
  w.f64(o.time());
  save_bool(w, o.has_latency());
  w.f64(o.latency());
  save_enum(w, o.status());
}

/// Reads save_observation()'s bytes into an observation of `schema` (which it shares):
/// every accessor gives what it gave on the observation written, cut_values() included.
/// Throws vigil::format_error for counts other than the schema's, a state or flag out of
/// range, a finite value in state bad or a non-finite one in state value, a text longer than
/// Schema::max_value_bytes (or one cut shorter than a cut leaves it), an id longer than
/// Observation::max_id_bytes (or one cut to another length), or an unknown status.
inline Observation load_observation(io::Reader& r, std::shared_ptr<const Schema> schema) {
  observation_codec_detail::Fields f;
  observation_codec_detail::read_numeric(r, *schema, f);
  observation_codec_detail::read_texts(r, *schema, f);
  observation_codec_detail::read_rest(r, f);
  Observation o(std::move(schema));
  observation_codec_detail::apply(f, o);
  return o;
}

/// As above, with a copy of `schema` of the observation's own.
inline Observation load_observation(io::Reader& r, const Schema& schema) {
  return load_observation(r, std::make_shared<const Schema>(schema));
}

}  // namespace detail
}  // namespace vigil

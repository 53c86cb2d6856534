// vigil — in-process monitoring of machine-learning models in C++ inference servers.
// SPDX-License-Identifier: Apache-2.0
//
// The pieces a monitor snapshot (docs/formats.md, "Monitor snapshot") is written with, below
// the objects that save their own state: checked enums, lists of numbers, sketches nested as
// length-prefixed objects, and the alert vocabulary (Cohort, Subject, Alert).
//
// The convention of every stateful part of a Monitor: `void save(io::Writer&) const` writes
// what it learnt, never what its construction from the schema, profile and options gives;
// `void load(io::Reader&)` reads it back into an object constructed from the same schema,
// profile and options, checking every size against that construction before it allocates and
// every invariant after, and throws vigil::format_error (Reader::fail) on anything else.
#pragma once

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "vigil/io/binary.hpp"
#include "vigil/monitor/alerts.hpp"
#include "vigil/monitor/subject.hpp"

namespace vigil {
namespace detail {

/// An enum written as one byte; read back only when at most `last`.
template <class Enum>
void save_enum(io::Writer& w, Enum e) {
  w.u8(static_cast<std::uint8_t>(e));
}
template <class Enum>
Enum load_enum(io::Reader& r, Enum last, const char* what) {
  const std::uint8_t v = r.u8();
  if (v > static_cast<std::uint8_t>(last)) r.fail(std::string(what) + " " + std::to_string(v) + " is out of range");
  return static_cast<Enum>(v);
}

inline void save_bool(io::Writer& w, bool b) { w.u8(b ? 1 : 0); }
inline bool load_bool(io::Reader& r, const char* what) {
  const std::uint8_t v = r.u8();
  if (v > 1) r.fail(std::string(what) + " is " + std::to_string(v) + ", not 0 or 1");
  return v == 1;
}

/// A count that must equal what the reader's construction expects (a feature count, a
/// number of slots): a snapshot of another shape is refused before anything is allocated.
inline void load_expected(io::Reader& r, std::uint64_t expected, const std::string& what) {
  const std::uint64_t n = r.varint();
  if (n != expected) r.fail(what + ": " + std::to_string(n) + " written, " + std::to_string(expected) + " expected");
}

inline void save_doubles(io::Writer& w, const std::vector<double>& v) {
  w.varint(v.size());
  for (double x : v) w.f64(x);
}
/// At most `max` values (a bound of the reader's construction), each 8 bytes.
inline std::vector<double> load_doubles(io::Reader& r, std::size_t max, const char* what) {
  const std::size_t n = r.count(8);
  if (n > max) r.fail(std::string(what) + ": " + std::to_string(n) + " values, at most " + std::to_string(max));
  std::vector<double> v(n);
  for (double& x : v) x = r.f64();
  return v;
}
/// A double that must be finite, or NaN where `nan_allowed`.
inline double load_finite(io::Reader& r, const char* what, bool nan_allowed = false) {
  const double x = r.f64();
  if (!(std::isfinite(x) || (nan_allowed && std::isnan(x)))) r.fail(std::string(what) + " is not finite");
  return x;
}

/// A serialized sketch (any type with serialize()/deserialize()) nested as a length-prefixed
/// object: its own header, version and checks travel with it.
template <class Sketch>
void save_nested(io::Writer& w, const Sketch& s) {
  const std::vector<std::uint8_t> bytes = s.serialize();
  w.varint(bytes.size());
  w.bytes(bytes.data(), bytes.size());
}
/// Reads save_nested()'s bytes with `read(const void*, std::size_t)`.
template <class Read>
auto load_nested(io::Reader& r, Read&& read) {
  const std::size_t n = r.count(1);
  const std::uint8_t* p = r.skip(n);
  return read(p, n);
}
template <class Sketch>
Sketch load_nested(io::Reader& r) {
  return load_nested(r, [](const void* p, std::size_t n) { return Sketch::deserialize(p, n); });
}

inline void save_cohort(io::Writer& w, const Cohort& c) {
  w.u32(c.tag);
  w.u32(c.value);
  w.string(c.tag_name);
  w.string(c.value_name);
}
inline Cohort load_cohort(io::Reader& r) {
  Cohort c;
  c.tag = r.u32();
  c.value = r.u32();
  c.tag_name = r.string();
  c.value_name = r.string();
  return c;
}

inline void save_subject(io::Writer& w, const Subject& s) {
  save_enum(w, s.family);
  w.u32(s.index);
  w.string(s.name);
  save_cohort(w, s.cohort);
  save_bool(w, s.horizon);
}
inline Subject load_subject(io::Reader& r) {
  Subject s;
  s.family = load_enum(r, Family::attribution, "subject family");
  s.index = r.u32();
  s.name = r.string();
  s.cohort = load_cohort(r);
  s.horizon = load_bool(r, "subject horizon");
  return s;
}

inline void save_alert(io::Writer& w, const Alert& a) {
  w.f64(a.time);
  save_enum(w, a.kind);
  save_subject(w, a.subject);
  save_enum(w, a.severity);
  w.f64(a.statistic);
  w.f64(a.p_value);
  w.string(a.message);
  save_enum(w, a.transition);
  w.u64(a.sequence);
}
inline Alert load_alert(io::Reader& r) {
  Alert a;
  a.time = r.f64();
  a.kind = load_enum(r, AlertKind::attribution, "alert kind");
  a.subject = load_subject(r);
  const std::uint8_t severity = r.u8();
  if (severity != static_cast<std::uint8_t>(Severity::warn) && severity != static_cast<std::uint8_t>(Severity::alert))
    r.fail("alert severity " + std::to_string(severity) + " is neither warn nor alert");
  a.severity = static_cast<Severity>(severity);
  a.statistic = r.f64();
  a.p_value = r.f64();
  a.message = r.string();
  a.transition = load_enum(r, Alert::Transition::resolved, "alert transition");
  a.sequence = r.u64();
  return a;
}

}  // namespace detail
}  // namespace vigil

// vigil — in-process monitoring of machine-learning models in C++ inference servers.
// SPDX-License-Identifier: Apache-2.0
//
// The arrays inside a monitor family's interval state: adding them up, and their encoding
// (docs/formats.md, "Interval summary"): every array is written with its length and read
// back only into an array of the length the plan gives, so bytes of another plan are refused
// before anything is allocated.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "vigil/io/binary.hpp"

namespace vigil {
namespace detail {

/// Writes counters as a varint length and one varint each.
template <class Counts>
void write_counts(io::Writer& w, const Counts& counts) {
  w.varint(counts.size());
  for (const auto c : counts) w.varint(c);
}

/// Writes doubles as a varint length and one f64 each.
template <class Values>
void write_values(io::Writer& w, const Values& values) {
  w.varint(values.size());
  for (const double v : values) w.f64(v);
}

/// Reads a length and checks it is `expected` (the plan's), naming `what` otherwise.
inline void read_length(io::Reader& r, std::size_t expected, const char* what) {
  const std::uint64_t n = r.varint();
  if (n != expected)
    r.fail(std::string(what) + ": " + std::to_string(n) + " entries where the plan has " + std::to_string(expected));
}

/// Reads counters written by write_counts() into `counts`, whose size the plan fixed.
template <class Counts>
void read_counts(io::Reader& r, Counts& counts, const char* what) {
  read_length(r, counts.size(), what);
  for (auto& c : counts) c = r.varint();
}

/// Reads doubles written by write_values() into `values`, whose size the plan fixed.
template <class Values>
void read_values(io::Reader& r, Values& values, const char* what) {
  read_length(r, values.size(), what);
  for (auto& v : values) v = r.f64();
}

/// Writes a sketch as its own serialized object, length-prefixed.
template <class Sketch>
void write_sketch(io::Writer& w, const Sketch& sketch) {
  const std::vector<std::uint8_t> bytes = sketch.serialize();
  w.varint(bytes.size());
  w.bytes(bytes.data(), bytes.size());
}

/// Reads a sketch written by write_sketch(); the sketch's own reader checks its bytes.
template <class Sketch>
Sketch read_sketch(io::Reader& r) {
  const std::size_t n = r.count(1);
  std::vector<std::uint8_t> bytes(n);
  for (std::size_t i = 0; i < n; ++i) bytes[i] = r.u8();
  return Sketch::deserialize(bytes);
}

/// a[i] += b[i] for every i (arrays of one plan: the same length).
template <class Array>
void add_all(Array& a, const Array& b) {
  for (std::size_t i = 0; i < a.size(); ++i) a[i] += b[i];
}

/// a + b, or the largest count when that overflows (so that corrupt counts read from bytes
/// can never wrap around into plausible ones).
inline std::uint64_t saturating_add(std::uint64_t a, std::uint64_t b) {
  return a + b < a ? std::numeric_limits<std::uint64_t>::max() : a + b;
}

/// Sum of a range of counters (saturating).
template <class Counts>
std::uint64_t sum_of(const Counts& counts, std::size_t first, std::size_t n) {
  std::uint64_t total = 0;
  for (std::size_t i = 0; i < n; ++i) total = saturating_add(total, counts[first + i]);
  return total;
}

}  // namespace detail
}  // namespace vigil

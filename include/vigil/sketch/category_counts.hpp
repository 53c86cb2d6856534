// vigil — in-process monitoring of machine-learning models in C++ inference servers.
// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "vigil/error.hpp"

namespace vigil {

/// Counts of a categorical value: exact while there are at most `capacity()` distinct values,
/// then the heavy hitters with bounded error and an "other" mass.
///
/// Implements Space-Saving, Metwally, Agrawal & El Abbadi, "Efficient computation of frequent
/// and top-k elements in data streams" (ICDT 2005): `capacity` counters; a value not tracked
/// when the table is full replaces the value with the smallest counter and inherits that
/// counter (plus its own weight) as an overestimate. Until the first replacement every count
/// is exact; exact() says so.
///
/// **Error bound.** With N = total() and k = capacity(), every tracked count c and its
/// error e satisfy c − e ≤ true count ≤ c and e ≤ error_bound() ≤ N/k; a value that is not
/// tracked occurred at most error_bound() times, so every value occurring more than N/k
/// times is tracked. The invariant behind it, Σ(cᵢ − f) + k·f ≤ N with f = error_bound(),
/// also survives merge() (below), so the bound N/k holds for any tree of merges with N the
/// combined total.
///
/// **Merge.** In the manner of Agarwal, Cormode, Huang, Phillips, Wei & Yi, "Mergeable
/// summaries" (PODS 2012), carried over to Space-Saving: a value's merged count is the sum of its counts in both summaries, a summary that
/// does not track it contributing its error_bound() (which bounds the value's count there);
/// the k largest are kept and the largest dropped count raises error_bound(). Exact
/// summaries merge exactly as long as the union has at most k values.
///
/// **Memory**: at most capacity() tracked values, each `sizeof(std::string) + 36` bytes
/// plus its characters beyond the string's in-place buffer (15 with libstdc++), and a hash
/// table of at most 4 bytes × the power of two ≥ 2·capacity(); about 90 bytes per tracked
/// short value, allocated as values arrive. memory_bytes() reports the current figure.
///
/// **Hot path.** add(std::string_view) hashes the value once and allocates nothing once the
/// table has grown (a replaced value reuses its slot's string buffer when it fits). A server
/// that knows its labels resolves each once into a Key, which carries the hash; add(Key)
/// then only probes and compares. Keys are not tied to one object, so the same Key serves
/// every interval of a TimeWindows and every shard.
///
/// **Values**: any byte string, including the empty string, which is a value like any other;
/// a value that is absent is recorded with add_missing(), counted apart from total().
/// Counts are 64-bit and not checked for overflow.
///
/// ```cpp
/// vigil::CategoryCounts country(256);
/// static const vigil::CategoryCounts::Key fr("FR");
/// country.add(fr);                         // hot path: no hashing
/// country.add(request.header("country"));  // any string_view
/// for (const auto& e : country.top_k(10)) std::printf("%s %llu ± %llu\n", ...);
/// ```
class CategoryCounts {
 public:
  /// A value with its hash computed once, for add(const Key&) on the hot path.
  class Key {
   public:
    explicit Key(std::string_view value);
    const std::string& value() const { return value_; }
    std::uint64_t hash() const { return hash_; }

   private:
    std::string value_;
    std::uint64_t hash_;
  };

  /// A tracked value and its count: the true count lies in [count − error, count].
  struct Entry {
    std::string value;
    std::uint64_t count;
    std::uint64_t error;
    std::uint64_t lower() const { return count - error; }
    friend bool operator==(const Entry& a, const Entry& b) {
      return a.value == b.value && a.count == b.count && a.error == b.error;
    }
  };

  /// What is known about one value's count: the true count lies in [count − error, count].
  /// For a value that is not tracked, count = error = error_bound().
  struct Estimate {
    std::uint64_t count;
    std::uint64_t error;
    bool tracked;
    std::uint64_t lower() const { return count - error; }
  };

  /// An empty summary that tracks up to `capacity` distinct values (1 ≤ capacity ≤ 2^26,
  /// else vigil::invalid_argument). Allocates nothing until the first value.
  explicit CategoryCounts(std::size_t capacity = 256);

  /// Counts `n` occurrences of `value`. O(1) expected plus O(log capacity) to keep the
  /// smallest counter at hand.
  void add(std::string_view value, std::uint64_t n = 1) { add_hashed(value, hash(value), n); }
  /// Counts `n` occurrences of a value whose hash was computed once. Same result as
  /// add(key.value(), n).
  void add(const Key& key, std::uint64_t n = 1) { add_hashed(key.value(), key.hash(), n); }
  /// Counts `n` observations where the value is absent.
  void add_missing(std::uint64_t n = 1) { missing_ += n; }

  /// Adds another summary (see the class comment for the bound). Throws
  /// vigil::invalid_argument when other.capacity() < capacity(): its error could exceed
  /// this one's bound. O(k log k) for k = capacity().
  void merge(const CategoryCounts& other);

  /// The `k` values with the largest counts, in decreasing count (ties by value), at most
  /// size() of them. O(size() + k log k).
  std::vector<Entry> top_k(std::size_t k) const;
  /// Every tracked value, as top_k(size()).
  std::vector<Entry> entries() const { return top_k(size()); }
  /// What is known about `value`'s count. O(1) expected.
  Estimate estimate(std::string_view value) const { return estimate_hashed(value, hash(value)); }
  Estimate estimate(const Key& key) const { return estimate_hashed(key.value(), key.hash()); }

  /// Occurrences of present values (missing ones excluded).
  std::uint64_t total() const { return total_; }
  /// Observations recorded with add_missing().
  std::uint64_t missing() const { return missing_; }
  /// Every observation: total() + missing().
  std::uint64_t count() const { return total_ + missing_; }
  bool empty() const { return count() == 0; }
  /// missing() / count(); NaN when empty.
  double missing_rate() const;
  /// Weight not attributed with certainty to a tracked value: total() − Σ(count − error).
  /// It bounds from above the occurrences of values that are not tracked. 0 while exact().
  std::uint64_t other() const { return total_ - attributed_; }
  /// The largest possible overestimate of any count, and the most a value that is not
  /// tracked can have occurred. 0 while exact(); never above total() / capacity().
  std::uint64_t error_bound() const { return floor_; }
  /// True while every count is exact (no value was ever replaced).
  bool exact() const { return floor_ == 0; }
  /// Distinct values tracked.
  std::size_t size() const { return slots_.size(); }
  std::size_t capacity() const { return capacity_; }
  /// Bytes allocated by this summary.
  std::size_t memory_bytes() const;

  /// Forgets every value and count; keeps the capacity and the allocated memory.
  void clear();

  /// Same capacity, counters and tracked values with the same counts and errors (the order
  /// in which values arrived does not matter).
  friend bool operator==(const CategoryCounts& a, const CategoryCounts& b) { return a.equals(b); }
  friend bool operator!=(const CategoryCounts& a, const CategoryCounts& b) { return !a.equals(b); }

  /// Binary form, format version 1 (docs/formats.md): capacity, total, missing, error bound
  /// and the tracked values in decreasing count, so equal summaries give equal bytes.
  std::vector<std::uint8_t> serialize() const;
  /// Reads serialize()'s output. Throws vigil::format_error on truncated, corrupt or
  /// inconsistent bytes (duplicate values, counts below their error, ...).
  static CategoryCounts deserialize(const void* data, std::size_t size);
  static CategoryCounts deserialize(const std::vector<std::uint8_t>& bytes) {
    return deserialize(bytes.data(), bytes.size());
  }

  /// The 64-bit hash used for values (stable across processes and builds).
  static std::uint64_t hash(std::string_view value);

 private:
  static constexpr std::uint32_t empty_cell = 0xffffffffu;
  struct Slot {
    std::string value;
    std::uint64_t hash;
    std::uint64_t count;
    std::uint64_t error;
    std::uint32_t heap_pos;
  };

  void add_hashed(std::string_view value, std::uint64_t h, std::uint64_t n);
  Estimate estimate_hashed(std::string_view value, std::uint64_t h) const;
  std::uint32_t find(std::string_view value, std::uint64_t h) const;
  void table_insert(std::uint64_t h, std::uint32_t slot);
  void table_erase(std::uint64_t h, std::uint32_t slot);
  void grow_table();
  void sift_down(std::uint32_t pos);
  void sift_up(std::uint32_t pos);
  void rebuild(std::vector<Entry>&& entries);
  bool equals(const CategoryCounts& other) const;

  std::size_t capacity_;
  std::uint64_t total_ = 0;
  std::uint64_t missing_ = 0;
  std::uint64_t floor_ = 0;       // error_bound()
  std::uint64_t attributed_ = 0;  // Σ(count − error) over tracked values
  std::vector<Slot> slots_;
  std::vector<std::uint32_t> heap_;   // slot indices, min-heap on count
  std::vector<std::uint32_t> table_;  // open addressing, linear probing, slot indices
};

}  // namespace vigil

#include "vigil/sketch/detail/category_counts_impl.hpp"

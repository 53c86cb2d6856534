// vigil — in-process monitoring of machine-learning models in C++ inference servers.
// SPDX-License-Identifier: Apache-2.0
//
// Bodies of vigil::CategoryCounts, included at the bottom of vigil/sketch/category_counts.hpp.
#pragma once

#include <algorithm>
#include <cstring>
#include <limits>
#include <string>
#include <string_view>
#include <utility>

#include "vigil/io/binary.hpp"
#include "vigil/sketch/category_counts.hpp"

namespace vigil {

namespace detail {
inline constexpr std::uint8_t category_counts_format_version = 1;
inline constexpr std::size_t category_counts_max_capacity = std::size_t(1) << 26;

/// Bytes a string holds on the heap: none while it fits in the object itself.
inline std::size_t heap_bytes(const std::string& s) {
  return s.capacity() > std::string().capacity() ? s.capacity() + 1 : 0;
}

inline std::uint64_t mix64(std::uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebull;
  x ^= x >> 31;
  return x;
}

/// The first n ≤ 8 bytes at p as a little-endian number (the bytes beyond n are zero).
inline std::uint64_t load_le(const char* p, std::size_t n) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  // Two overlapping loads: the bytes they share are the same, so OR-ing them is exact. One
  // path for 4 to 8 bytes: labels of 7 and 8 bytes ("value_7", "value_12") mix in real
  // traffic, and a branch on the length would be mispredicted as often as they alternate.
  if (n >= 4) {
    std::uint32_t head;
    std::uint32_t tail;
    std::memcpy(&head, p, 4);
    std::memcpy(&tail, p + n - 4, 4);
    return head | (static_cast<std::uint64_t>(tail) << (8 * (n - 4)));
  }
#endif
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < n; ++i) v |= static_cast<std::uint64_t>(static_cast<unsigned char>(p[i])) << (8 * i);
  return v;
}

// Entries ordered by decreasing count, then by value, for output and deterministic merges.
inline bool before(const CategoryCounts::Entry& a, const CategoryCounts::Entry& b) {
  return a.count != b.count ? a.count > b.count : a.value < b.value;
}
}  // namespace detail

// Eight bytes at a time, each folded in with a multiply and the length mixed in last; the
// finaliser is SplitMix64's. Byte order is fixed, so hashes agree across platforms.
inline std::uint64_t CategoryCounts::hash(std::string_view value) {
  const char* p = value.data();
  std::size_t n = value.size();
  std::uint64_t h = 0x9e3779b97f4a7c15ull;
  while (n >= 8) {
    h = (h ^ detail::load_le(p, 8)) * 0xff51afd7ed558ccdull;
    h ^= h >> 32;
    p += 8;
    n -= 8;
  }
  if (n > 0) h = (h ^ detail::load_le(p, n)) * 0xc4ceb9fe1a85ec53ull;
  return detail::mix64(h ^ value.size());
}

inline CategoryCounts::Key::Key(std::string_view value) : value_(value), hash_(CategoryCounts::hash(value)) {}

inline CategoryCounts::CategoryCounts(std::size_t capacity) : capacity_(capacity) {
  if (capacity < 1 || capacity > detail::category_counts_max_capacity)
    detail::throw_invalid_argument("CategoryCounts: capacity " + std::to_string(capacity) +
                                   " is outside [1, 67108864]");
}

inline std::uint32_t CategoryCounts::find(std::string_view value, std::uint64_t h) const {
  if (table_.empty()) return empty_cell;
  const std::size_t mask = table_.size() - 1;
  for (std::size_t i = static_cast<std::size_t>(h) & mask;; i = (i + 1) & mask) {
    const std::uint32_t s = table_[i];
    if (s == empty_cell) return empty_cell;
    if (slots_[s].hash == h && slots_[s].value == value) return s;
  }
}

inline void CategoryCounts::table_insert(std::uint64_t h, std::uint32_t slot) {
  const std::size_t mask = table_.size() - 1;
  std::size_t i = static_cast<std::size_t>(h) & mask;
  while (table_[i] != empty_cell) i = (i + 1) & mask;
  table_[i] = slot;
}

// Backward-shift deletion keeps every probe sequence unbroken without tombstones.
inline void CategoryCounts::table_erase(std::uint64_t h, std::uint32_t slot) {
  const std::size_t mask = table_.size() - 1;
  std::size_t hole = static_cast<std::size_t>(h) & mask;
  while (table_[hole] != slot) hole = (hole + 1) & mask;
  for (std::size_t j = (hole + 1) & mask; table_[j] != empty_cell; j = (j + 1) & mask) {
    const std::size_t home = static_cast<std::size_t>(slots_[table_[j]].hash) & mask;
    // Move j into the hole unless its home lies cyclically in (hole, j].
    const bool stays = hole <= j ? (hole < home && home <= j) : (hole < home || home <= j);
    if (!stays) {
      table_[hole] = table_[j];
      hole = j;
    }
  }
  table_[hole] = empty_cell;
}

inline void CategoryCounts::grow_table() {
  std::size_t cells = table_.empty() ? 16 : table_.size() * 2;
  table_.assign(cells, empty_cell);
  for (std::uint32_t s = 0; s < slots_.size(); ++s) table_insert(slots_[s].hash, s);
}

inline void CategoryCounts::sift_down(std::uint32_t pos) {
  const std::uint32_t n = static_cast<std::uint32_t>(heap_.size());
  const std::uint32_t moving = heap_[pos];
  const std::uint64_t count = slots_[moving].count;
  for (;;) {
    std::uint32_t child = 2 * pos + 1;
    if (child >= n) break;
    if (child + 1 < n && slots_[heap_[child + 1]].count < slots_[heap_[child]].count) ++child;
    if (slots_[heap_[child]].count >= count) break;
    heap_[pos] = heap_[child];
    slots_[heap_[pos]].heap_pos = pos;
    pos = child;
  }
  heap_[pos] = moving;
  slots_[moving].heap_pos = pos;
}

inline void CategoryCounts::sift_up(std::uint32_t pos) {
  const std::uint32_t moving = heap_[pos];
  const std::uint64_t count = slots_[moving].count;
  while (pos > 0) {
    const std::uint32_t parent = (pos - 1) / 2;
    if (slots_[heap_[parent]].count <= count) break;
    heap_[pos] = heap_[parent];
    slots_[heap_[pos]].heap_pos = pos;
    pos = parent;
  }
  heap_[pos] = moving;
  slots_[moving].heap_pos = pos;
}

inline void CategoryCounts::add_hashed(std::string_view value, std::uint64_t h, std::uint64_t n) {
  if (n == 0) return;
  total_ += n;
  attributed_ += n;
  const std::uint32_t found = find(value, h);
  if (VIGIL_LIKELY(found != empty_cell)) {
    slots_[found].count += n;
    sift_down(slots_[found].heap_pos);
    return;
  }
  if (slots_.size() < capacity_) {
    if (2 * (slots_.size() + 1) > table_.size()) grow_table();
    const auto s = static_cast<std::uint32_t>(slots_.size());
    slots_.push_back(Slot{std::string(value), h, floor_ + n, floor_, static_cast<std::uint32_t>(heap_.size())});
    heap_.push_back(s);
    table_insert(h, s);
    sift_up(slots_[s].heap_pos);
    return;
  }
  // Space-Saving replacement: the smallest counter goes to the new value.
  const std::uint32_t s = heap_[0];
  Slot& slot = slots_[s];
  table_erase(slot.hash, s);
  if (slot.count > floor_) floor_ = slot.count;
  attributed_ -= slot.count - slot.error;
  slot.value.assign(value.data(), value.size());
  slot.hash = h;
  slot.count = floor_ + n;
  slot.error = floor_;
  table_insert(h, s);
  sift_down(0);
}

inline CategoryCounts::Estimate CategoryCounts::estimate_hashed(std::string_view value, std::uint64_t h) const {
  const std::uint32_t s = find(value, h);
  if (s == empty_cell) return Estimate{floor_, floor_, false};
  return Estimate{slots_[s].count, slots_[s].error, true};
}

inline double CategoryCounts::missing_rate() const {
  if (empty()) return std::numeric_limits<double>::quiet_NaN();
  return static_cast<double>(missing_) / static_cast<double>(count());
}

inline std::vector<CategoryCounts::Entry> CategoryCounts::top_k(std::size_t k) const {
  std::vector<Entry> all;
  all.reserve(slots_.size());
  for (const Slot& s : slots_) all.push_back(Entry{s.value, s.count, s.error});
  k = std::min(k, all.size());
  std::partial_sort(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(k), all.end(), detail::before);
  all.resize(k);
  return all;
}

inline std::size_t CategoryCounts::memory_bytes() const {
  std::size_t bytes = slots_.capacity() * sizeof(Slot) + heap_.capacity() * sizeof(std::uint32_t) +
                      table_.capacity() * sizeof(std::uint32_t);
  for (const Slot& s : slots_) bytes += detail::heap_bytes(s.value);
  return bytes;
}

inline void CategoryCounts::clear() {
  slots_.clear();
  heap_.clear();
  std::fill(table_.begin(), table_.end(), empty_cell);
  total_ = missing_ = floor_ = attributed_ = 0;
}

inline void CategoryCounts::rebuild(std::vector<Entry>&& entries) {
  slots_.clear();
  heap_.clear();
  std::size_t cells = 16;
  while (cells < 2 * entries.size()) cells *= 2;
  table_.assign(cells, empty_cell);
  slots_.reserve(entries.size());
  heap_.reserve(entries.size());
  attributed_ = 0;
  for (Entry& e : entries) {
    const auto s = static_cast<std::uint32_t>(slots_.size());
    const std::uint64_t h = hash(e.value);
    slots_.push_back(Slot{std::move(e.value), h, e.count, e.error, s});
    heap_.push_back(s);
    table_insert(h, s);
    attributed_ += e.count - e.error;
  }
  for (std::size_t i = heap_.size() / 2; i-- > 0;) sift_down(static_cast<std::uint32_t>(i));
}

inline void CategoryCounts::merge(const CategoryCounts& other) {
  if (other.capacity_ < capacity_)
    detail::throw_invalid_argument("CategoryCounts::merge: the other summary's capacity " +
                                   std::to_string(other.capacity_) + " is below this one's " +
                                   std::to_string(capacity_));
  // A summary that does not track a value contributes its error bound, the most that value
  // can have occurred there, as both count and error.
  const std::uint64_t fa = floor_, fb = other.floor_;
  std::vector<Entry> merged;
  merged.reserve(slots_.size() + other.slots_.size());
  for (const Slot& s : slots_) {
    const std::uint32_t o = other.find(s.value, s.hash);
    const std::uint64_t cb = o == empty_cell ? fb : other.slots_[o].count;
    const std::uint64_t eb = o == empty_cell ? fb : other.slots_[o].error;
    merged.push_back(Entry{s.value, s.count + cb, s.error + eb});
  }
  for (const Slot& s : other.slots_)
    if (find(s.value, s.hash) == empty_cell) merged.push_back(Entry{s.value, s.count + fa, s.error + fa});
  std::uint64_t floor = fa + fb;
  if (merged.size() > capacity_) {
    const auto keep = static_cast<std::ptrdiff_t>(capacity_);
    std::nth_element(merged.begin(), merged.begin() + keep, merged.end(), detail::before);
    // Everything from `keep` on is dropped; the largest of them bounds every dropped value.
    floor = std::max(floor, merged[capacity_].count);
    merged.resize(capacity_);
  }
  total_ += other.total_;
  missing_ += other.missing_;
  floor_ = floor;
  rebuild(std::move(merged));
}

inline bool CategoryCounts::equals(const CategoryCounts& other) const {
  if (capacity_ != other.capacity_ || total_ != other.total_ || missing_ != other.missing_ ||
      floor_ != other.floor_ || slots_.size() != other.slots_.size())
    return false;
  for (const Slot& s : slots_) {
    const std::uint32_t o = other.find(s.value, s.hash);
    if (o == empty_cell || other.slots_[o].count != s.count || other.slots_[o].error != s.error) return false;
  }
  return true;
}

inline std::vector<std::uint8_t> CategoryCounts::serialize() const {
  const std::vector<Entry> entries = top_k(slots_.size());
  std::vector<std::uint8_t> out;
  std::size_t bytes = io::header_size + 40;
  for (const Entry& e : entries) bytes += e.value.size() + 12;
  out.reserve(bytes);
  io::Writer w(out);
  w.header(io::TypeId::category_counts, detail::category_counts_format_version);
  w.varint(capacity_);
  w.varint(total_);
  w.varint(missing_);
  w.varint(floor_);
  w.varint(entries.size());
  for (const Entry& e : entries) {
    w.string(e.value);
    w.varint(e.count);
    w.varint(e.error);
  }
  return out;
}

namespace detail {

// The tracked values of a serialized summary, each checked against the error bound `floor`
// and the order; the running Σ(count − error) and Σ(count − floor) + capacity·floor must stay
// within the total (the invariant behind the error bound, see the class comment).
inline std::vector<CategoryCounts::Entry> read_category_entries(io::Reader& r, std::size_t n, std::uint64_t total,
                                                                std::uint64_t floor, std::uint64_t capacity) {
  std::vector<CategoryCounts::Entry> entries;
  entries.reserve(n);
  std::uint64_t attributed = 0;
  std::uint64_t above_floor = capacity * floor;  // ≤ total, checked by the caller
  for (std::size_t i = 0; i < n; ++i) {
    CategoryCounts::Entry e{r.string(), 0, 0};
    e.count = r.varint();
    e.error = r.varint();
    if (e.count == 0 || e.error > e.count || e.error > floor || e.count < floor)
      r.fail("value " + std::to_string(i) + " has count " + std::to_string(e.count) + " and error " +
             std::to_string(e.error) + ", inconsistent with the error bound " + std::to_string(floor));
    if (i > 0 && !before(entries.back(), e)) r.fail("values are not in canonical order at " + std::to_string(i));
    // Each term is at most the total once the sums so far are, so neither sum overflows.
    attributed += e.count - e.error;
    if (attributed > total) r.fail("counts exceed the total " + std::to_string(total));
    above_floor += e.count - floor;
    if (above_floor > total)
      r.fail("counts above the error bound exceed what the total " + std::to_string(total) + " leaves");
    entries.push_back(std::move(e));
  }
  if (floor == 0 && attributed != total)
    r.fail("an exact summary's counts sum to " + std::to_string(attributed) + ", not the total " +
           std::to_string(total));
  return entries;
}

inline void check_distinct_values(io::Reader& r, const std::vector<CategoryCounts::Entry>& entries) {
  std::vector<std::string_view> values;
  values.reserve(entries.size());
  for (const CategoryCounts::Entry& e : entries) values.push_back(e.value);
  std::sort(values.begin(), values.end());
  if (std::adjacent_find(values.begin(), values.end()) != values.end()) r.fail("a value appears twice");
}

}  // namespace detail

inline CategoryCounts CategoryCounts::deserialize(const void* data, std::size_t size) {
  io::Reader r(data, size, "CategoryCounts");
  std::uint16_t flags = 0;
  r.header(io::TypeId::category_counts, detail::category_counts_format_version, flags);
  if (flags != 0) r.fail("unknown flags " + std::to_string(flags));
  const std::uint64_t capacity = r.varint();
  if (capacity < 1 || capacity > detail::category_counts_max_capacity)
    r.fail("capacity " + std::to_string(capacity) + " is outside [1, 67108864]");
  CategoryCounts c(static_cast<std::size_t>(capacity));
  c.total_ = r.varint();
  c.missing_ = r.varint();
  // Below 2^62 observations, count() and the counts of a merge never wrap 64 bits.
  constexpr std::uint64_t max_observations = std::uint64_t(1) << 62;
  if (c.total_ > max_observations || c.missing_ > max_observations - c.total_)
    r.fail("total " + std::to_string(c.total_) + " and missing " + std::to_string(c.missing_) +
           " add up to more than 2^62");
  c.floor_ = r.varint();
  if (c.floor_ > c.total_ / capacity) r.fail("error bound " + std::to_string(c.floor_) + " exceeds total/capacity");
  const std::size_t n = r.count(3);  // an empty value and two one-byte varints at least
  if (n > capacity) r.fail(std::to_string(n) + " values exceed the capacity " + std::to_string(capacity));
  std::vector<Entry> entries = detail::read_category_entries(r, n, c.total_, c.floor_, capacity);
  r.finish();
  detail::check_distinct_values(r, entries);
  c.rebuild(std::move(entries));
  return c;
}

namespace detail {

/// What is wrong with a summary that its queries rely on, or an empty string: the invariants
/// every summary built by add(), merge() or deserialize() keeps, checked through the public
/// API. Every tracked count is positive with error ≤ error_bound() ≤ count and estimate()
/// agrees with it; error_bound() ≤ total()/capacity(); Σ(count − error_bound()) +
/// capacity()·error_bound() ≤ total(); other() ≤ total(); an exact summary's counts sum to
/// total() with errors 0. For tests and fuzzing: O(size() log size()).
inline std::string category_counts_invariant_violation(const CategoryCounts& counts) {
  const std::uint64_t floor = counts.error_bound();
  const std::uint64_t total = counts.total();
  if (counts.size() > counts.capacity()) return "more values than the capacity";
  if (floor > total / counts.capacity()) return "error bound " + std::to_string(floor) + " above total/capacity";
  std::uint64_t attributed = 0;
  std::uint64_t above_floor = counts.capacity() * floor;
  for (const CategoryCounts::Entry& e : counts.entries()) {
    if (e.count == 0 || e.error > e.count || e.error > floor || e.count < floor)
      return "value '" + e.value + "' has count " + std::to_string(e.count) + ", error " + std::to_string(e.error);
    const CategoryCounts::Estimate estimate = counts.estimate(e.value);
    if (!estimate.tracked || estimate.count != e.count || estimate.error != e.error)
      return "estimate of '" + e.value + "' disagrees with its entry";
    attributed += e.count - e.error;
    above_floor += e.count - floor;
    if (attributed > total || above_floor > total) return "counts exceed the total";
  }
  if (attributed != total - counts.other()) return "other() disagrees with the counts";
  if (counts.exact() && attributed != total) return "an exact summary's counts do not sum to the total";
  return {};
}

}  // namespace detail

}  // namespace vigil

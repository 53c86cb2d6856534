// vigil — in-process monitoring of machine-learning models in C++ inference servers.
// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "vigil/config.hpp"
#include "vigil/monitor/detail/cache_line.hpp"
#include "vigil/sketch/category_counts.hpp"

namespace vigil {
namespace detail {

/// An immutable map from strings to dense ids, built once; lookups never allocate and may
/// run on many threads at once. Open addressing; each cell holds the first 16 bytes and the
/// length of its string, so a label of up to 16 bytes (the usual case) is found by comparing
/// words in the cell, without reading the string itself, and is hashed with three multiplies.
class StringIds {
 public:
  static constexpr std::uint32_t none = 0xffffffffu;

  StringIds() : StringIds(std::vector<std::string>{}) {}
  // Copies only (no move): every StringIds, even one whose contents went elsewhere, keeps a
  // table of at least 8 cells, which find() relies on. Built once per plan; copies are cheap.
  StringIds(const StringIds&) = default;
  StringIds& operator=(const StringIds&) = default;
  explicit StringIds(const std::vector<std::string>& names) : names_(names) {
    std::size_t size = 8;
    int bits = 3;
    while (size < 2 * names.size()) {
      size *= 2;
      ++bits;
    }
    shift_ = 64 - bits;
    mask_ = size - 1;
    cells_.assign(size, Cell{});
    for (std::uint32_t id = 0; id < names.size(); ++id) {
      Cell key = key_of(names[id]);
      key.id = id;
      std::size_t i = slot_of(key);
      while (cells_[i].id != none) i = (i + 1) & (size - 1);
      cells_[i] = key;
    }
  }
  VIGIL_INLINE std::uint32_t find(std::string_view name) const {
    const Cell key = key_of(name);
    const Cell* cells = cells_.data();  // at least 8, one of them empty
    for (std::size_t i = slot_of(key);; i = (i + 1) & mask_) {
      const Cell& c = cells[i];
      // An empty cell ends the probe: the name is absent, whether or not its words match.
      if (c.head == key.head && c.tail == key.tail && c.size == key.size &&
          (key.size <= 16 || c.id == none || names_[c.id] == name))
        return c.id;
      if (c.id == none) return none;
    }
  }
  std::size_t size() const { return names_.size(); }
  /// Bytes on the heap: the names and the table (a power of two of 24-byte cells, 2 to 4 per
  /// name, at least 8).
  std::size_t memory_bytes() const {
    std::size_t bytes = allocated_bytes(cells_) + names_.capacity() * sizeof(std::string);
    for (const auto& n : names_) bytes += heap_bytes(n);
    return bytes;
  }
  const std::string& name(std::uint32_t id) const { return names_[id]; }
  const std::vector<std::string>& names() const { return names_; }

 private:
  struct Cell {
    std::uint64_t head = 0;  // bytes 0–7 of the string, little-endian, zero beyond its end
    std::uint64_t tail = 0;  // bytes 8–15
    std::uint32_t size = 0;
    std::uint32_t id = none;
  };
  VIGIL_INLINE static Cell key_of(std::string_view s) {
    Cell c;
    const std::size_t n = s.size();
    c.head = load_le(s.data(), n < 8 ? n : 8);
    if (n > 8) c.tail = load_le(s.data() + 8, n < 16 ? n - 8 : 8);
    c.size = static_cast<std::uint32_t>(n);  // longer strings compare whole: the size is a hint
    return c;
  }
  VIGIL_INLINE std::size_t slot_of(const Cell& key) const {
    // Multiply-shift on the words and the length (Dietzfelbinger et al., 1997).
    const std::uint64_t h = (key.head * 0x9e3779b97f4a7c15ull) ^ (key.tail * 0xc2b2ae3d27d4eb4full) ^ key.size;
    return static_cast<std::size_t>((h * 0xff51afd7ed558ccdull) >> shift_);
  }
  std::vector<std::string> names_;
  LineVector<Cell> cells_;  // read by every request on every core: lines of its own
  std::size_t mask_ = 0;  // cells_.size() − 1
  int shift_ = 61;
};

}  // namespace detail
}  // namespace vigil

// vigil — in-process monitoring of machine-learning models in C++ inference servers.
// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <algorithm>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "vigil/config.hpp"
#include "vigil/error.hpp"
#include "vigil/monitor/detail/cache_line.hpp"

namespace vigil {
namespace detail {

/// The bin of a value among sorted, distinct edges (the number of edges below it, as
/// std::lower_bound) in O(1): a uniform grid over the inner edges maps the value to a cell,
/// the cell says how many edges lie below it, and two compares finish the count. A
/// binary search is a chain of dependent loads, one per halving; this is a few
/// independent ones, so the features of a request overlap in the pipeline.
///
/// The grid is refined (up to 4096 cells) until no cell holds more than two edges; a cell
/// that still does (edges packed far closer than the inner range, e.g. extreme tails) is
/// flagged and searched by bisection. Cells are computed by the same monotone arithmetic for
/// edges and values, so the count is exact whatever the rounding.
/// Memory: 8 bytes per edge (+ 2 of padding) and 2 bytes per cell: 0.5–8 KB for 50 bins.
class BinLocator {
 public:
  /// Edges are compared in windows of this many; the edge array is padded with +inf.
  static constexpr std::size_t window = 2;
  static constexpr std::size_t max_cells = 4096;
  static constexpr std::size_t max_edges = 0x7fff;
  /// Flag of a cell holding more than `window` edges.
  static constexpr std::uint16_t dense = 0x8000;

  BinLocator() : BinLocator(std::vector<double>{}) {}
  /// Edges must be sorted, distinct, finite and fewer than 32,768.
  explicit BinLocator(const std::vector<double>& edges) : count_(edges.size()) {
    const std::size_t n = edges.size();
    if (n > max_edges) throw_invalid_argument("BinLocator: " + std::to_string(n) + " edges, at most 32767");
    edges_.assign(edges.begin(), edges.end());
    edges_.insert(edges_.end(), window, std::numeric_limits<double>::infinity());
    // The grid spans the inner edges; the outer ones (often far out in a tail) sit in the
    // clamped end cells.
    low_ = n >= 4 ? edges[1] : (n > 0 ? edges[0] : 0.0);
    const double high = n >= 4 ? edges[n - 2] : (n > 0 ? edges[n - 1] : 0.0);
    std::size_t cells = 4;
    while (cells < 2 * n) cells *= 2;
    for (;; cells *= 2) {
      last_cell_ = static_cast<double>(cells - 1);
      scale_ = high > low_ ? static_cast<double>(cells) / (high - low_) : 0.0;
      if (build(cells) || cells >= max_cells) break;
    }
  }

  /// Number of edges strictly below x; x must not be NaN.
  std::size_t operator()(double x) const { return locate(edges_.data(), cells_.data(), low_, scale_, last_cell_, x); }

  /// The lookup on raw arrays, for callers that keep many locators' arrays side by side.
  static std::size_t locate(const double* edges, const std::uint16_t* cells, double low, double scale,
                            double last_cell, double x) {
    return locate_in_cell(edges, cells, cell_of(low, scale, last_cell, x), x);
  }
  /// The grid position of x, in [0, last_cell]: its integer part is x's cell. Arithmetic
  /// only (no branch), so that callers can run it in SIMD lanes; NaN gives 0.
  static double grid_position(double low, double scale, double last_cell, double x) {
    return clamp_cell((x - low) * scale, last_cell);
  }
  /// The bin of x given its grid cell. `Cell` is std::uint16_t for one locator's cells(), or
  /// a wider unsigned type for cells that index a shared array of many locators' edges; its
  /// top bit is the `dense` flag.
  template <class Cell>
  static std::size_t locate_in_cell(const double* edges, const Cell* cells, std::size_t c, double x) {
    constexpr Cell flag = static_cast<Cell>(Cell{1} << (8 * sizeof(Cell) - 1));
    const Cell first = cells[c];
    if (VIGIL_UNLIKELY(first & flag))
      return bisect(edges, first & static_cast<Cell>(~flag), cells[c + 1] & static_cast<Cell>(~flag), x);
    const double* e = edges + first;
    return first + static_cast<std::size_t>(e[0] < x) + static_cast<std::size_t>(e[1] < x);
  }

  std::size_t edge_count() const { return count_; }
  std::size_t cell_count() const { return cells_.size() - 1; }
  /// The edges followed by `window` × +inf.
  const LineVector<double>& padded_edges() const { return edges_; }
  /// Per cell the number of edges in earlier cells, with `dense` set where the cell holds
  /// more than `window`; then the edge count.
  const LineVector<std::uint16_t>& cells() const { return cells_; }
  double low() const { return low_; }
  double scale() const { return scale_; }
  double last_cell() const { return last_cell_; }
  std::size_t memory_bytes() const { return allocated_bytes(edges_) + allocated_bytes(cells_); }

 private:
  VIGIL_NOINLINE static std::size_t bisect(const double* edges, std::size_t first, std::size_t last, double x) {
    return static_cast<std::size_t>(std::lower_bound(edges + first, edges + last, x) - edges);
  }
  // Returns whether no cell holds more than `window` edges.
  bool build(std::size_t cells) {
    cells_.assign(cells + 1, 0);
    std::size_t e = 0;
    for (std::size_t c = 0; c <= cells; ++c) {
      while (e < count_ && locate_cell(edges_[e]) < c) ++e;
      cells_[c] = static_cast<std::uint16_t>(e);
    }
    bool sparse = true;
    for (std::size_t c = 0; c < cells; ++c) {
      if (cells_[c + 1] - cells_[c] > static_cast<int>(window)) {
        sparse = false;
        cells_[c] = static_cast<std::uint16_t>(cells_[c] | dense);
      }
    }
    return sparse;
  }
  std::size_t locate_cell(double x) const { return cell_of(low_, scale_, last_cell_, x); }
  // Monotone in x: a subtraction, a multiplication by a positive constant and clamps.
  static std::size_t cell_of(double low, double scale, double last_cell, double x) {
    return static_cast<std::size_t>(static_cast<std::int32_t>(grid_position(low, scale, last_cell, x)));
  }
  // v clamped to [0, last_cell], NaN to 0 and +inf to last_cell, so the conversion to an
  // integer is always defined.
  static double clamp_cell(double v, double last_cell) {
    const double w = v > 0.0 ? v : 0.0;
    return last_cell < w ? last_cell : w;
  }

  LineVector<double> edges_;
  LineVector<std::uint16_t> cells_;
  std::size_t count_ = 0;
  double low_ = 0;
  double scale_ = 0;
  double last_cell_ = 0;
};

}  // namespace detail
}  // namespace vigil

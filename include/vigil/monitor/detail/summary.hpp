// vigil — in-process monitoring of machine-learning models in C++ inference servers.
// SPDX-License-Identifier: Apache-2.0
//
// The Monitor's per-interval accumulators and the immutable plan they follow.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#if (defined(__GNUC__) || defined(__clang__)) && (defined(__x86_64__) || defined(_M_X64))
#include <emmintrin.h>  // SSE2, which every x86-64 CPU has
#define VIGIL_GRID_X86 1  // the request path's SSE2 steps
#endif

#include "vigil/config.hpp"
#include "vigil/monitor/detail/cache_line.hpp"
#include "vigil/monitor/observation.hpp"
#include "vigil/monitor/profile.hpp"
#include "vigil/monitor/schema.hpp"
#include "vigil/sketch/category_counts.hpp"
#include "vigil/sketch/log_histogram.hpp"
#include "vigil/sketch/tdigest.hpp"

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
  std::uint32_t find(std::string_view name) const {
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
  static Cell key_of(std::string_view s) {
    Cell c;
    const std::size_t n = s.size();
    c.head = load_le(s.data(), n < 8 ? n : 8);
    if (n > 8) c.tail = load_le(s.data() + 8, n < 16 ? n - 8 : 8);
    c.size = static_cast<std::uint32_t>(n);  // longer strings compare whole: the size is a hint
    return c;
  }
  std::size_t slot_of(const Cell& key) const {
    // Multiply-shift on the words and the length (Dietzfelbinger et al., 1997).
    const std::uint64_t h = (key.head * 0x9e3779b97f4a7c15ull) ^ (key.tail * 0xc2b2ae3d27d4eb4full) ^ key.size;
    return static_cast<std::size_t>((h * 0xff51afd7ed558ccdull) >> shift_);
  }
  std::vector<std::string> names_;
  LineVector<Cell> cells_;  // read by every request on every core: lines of its own
  std::size_t mask_ = 0;  // cells_.size() − 1
  int shift_ = 61;
};

/// The bin of a value among sorted, distinct edges (the number of edges below it, as
/// std::lower_bound) in O(1): a uniform grid over the inner edges maps the value to a cell,
/// the cell says how many edges lie below it, and two compares finish the count. A
/// binary search is a chain of dependent loads (≈ 60 cycles for 50 edges); this is a few
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

/// What the Monitor derives from the Profile once: bin edges, reference shares, dictionaries.
struct MonitorPlan {
  struct NumericPlan {
    std::string name;
    // Bin i holds (edges[i-1], edges[i]]; the last bin is above all. With a reference the
    // first edge lies just below the training minimum and the last is the maximum, so the
    // first and last bins count the values outside the training range.
    std::vector<double> edges;
    BinLocator locate;                    // the bin of a value among `edges`, in O(1)
    std::vector<double> reference_share;  // per bin, from the profile's digest
    std::vector<std::uint32_t> decile;    // per bin: which reference decile group it belongs to
    std::size_t decile_count = 0;
    // First bin in IntervalSummary::numeric_bins, of edges + 3: the bins, the spare bin
    // (missing and bad values) and one unused.
    std::size_t offset = 0;
    std::size_t spare = 0;                // the spare bin: offset + reference_share.size()
    double reference_min = 0;
    double reference_max = 0;
    double reference_mean = 0;
    double reference_stddev = 0;
    double reference_missing_rate = 0;
    bool has_reference = false;
  };
  struct CategoricalPlan {
    std::string name;
    StringIds categories;                 // reference categories; id = bin
    std::vector<double> reference_share;  // per category, then one for "unseen" (0)
    std::size_t offset = 0;               // first bin in IntervalSummary::categorical_bins
    double reference_missing_rate = 0;
  };
  struct OutputPlan {
    std::string name;
    std::vector<double> edges;            // decile edges of the reference scores
    BinLocator locate;
    std::vector<double> reference_share;  // per decile bin
    std::size_t offset = 0;               // first bin in IntervalSummary::score_bins
    StringIds classes;                    // declared classes or positive/negative
    std::vector<double> reference_class_share;  // per class, then "other"
    std::size_t class_offset = 0;
    double threshold = 0;
    bool has_threshold = false;
    bool has_reference = false;
    double reference_mean = 0;
    double reference_stddev = 0;
  };
  /// What the request path reads per numeric feature, one array per field so that the
  /// grid arithmetic of many features runs in SIMD lanes. Every feature's edges sit side by
  /// side in `edges`, followed by three +inf, and its bins at the same offsets of
  /// IntervalSummary::numeric_bins (NumericPlan::offset), so that an index into `edges`
  /// found by the locator is also the index of the bin. After a feature's grid cells comes
  /// its `spare` cell, which sends a missing or bad value to the spare bin after the bins
  /// (its edges, +inf, are below no value): the loop has no branch on the value's state.
  struct NumericLanes {
    /// Flag of a cell in `cells` holding more than BinLocator::window edges: the top bit, as
    /// BinLocator::locate_in_cell reads it in cells of any width.
    static constexpr std::uint32_t dense = std::uint32_t{1} << 31;
    LineVector<double> low;
    LineVector<double> scale;
    LineVector<double> last_cell;
    LineVector<double> spare_cell;  // position of the spare cell relative to the first
    LineVector<double> reference_mean;
    LineVector<std::int32_t> first_cell;  // of the feature's grid in `cells`
    LineVector<double> edges;
    /// Per grid cell of every feature, the index in `edges` of the feature's first edge
    /// above the cell's start (BinLocator::cells() plus NumericPlan::offset), with `dense`
    /// set where the cell holds more than BinLocator::window edges. Absolute indices spare
    /// the request path a per-feature offset: 4 bytes a cell (0.5 KB for 50 bins).
    LineVector<std::uint32_t> cells;

    /// Bytes of the arrays.
    std::size_t memory_bytes() const {
      return allocated_bytes(low) + allocated_bytes(scale) + allocated_bytes(last_cell) + allocated_bytes(spare_cell) +
             allocated_bytes(reference_mean) + allocated_bytes(first_cell) + allocated_bytes(edges) +
             allocated_bytes(cells);
    }
  };
  std::vector<NumericPlan> numeric;
  NumericLanes lanes;
  LineVector<CategoricalPlan> categorical;
  LineVector<OutputPlan> outputs;
  /// Per tag, where its values' counters start in IntervalSummary::tag_requests and how
  /// many values it keeps (the last counter, max_values, is "other").
  LineVector<std::size_t> tag_offset;
  std::vector<std::size_t> tag_max_values;
  std::size_t tag_slots = 0;
  std::size_t numeric_bins = 0;
  std::size_t categorical_bins = 0;
  std::size_t score_bins = 0;
  std::size_t class_bins = 0;
  double score_compression = 50;
  int latency_scale = 4;

  /// A copy of what IntervalSummary::apply() reads — everything but the per-feature numeric
  /// plans the report reads (`numeric` is left empty): what the Monitor gives each shard, so
  /// that every core reads lines of its own. An IntervalSummary built from it has the shape
  /// of one built from the whole plan.
  MonitorPlan request_path() const {
    MonitorPlan p = *this;
    std::vector<NumericPlan>().swap(p.numeric);  // and its memory
    return p;
  }

  /// Bytes of this plan, itself included.
  std::size_t memory_bytes() const {
    std::size_t bytes = sizeof(*this) + numeric.capacity() * sizeof(NumericPlan) + lanes.memory_bytes() +
                        allocated_bytes(categorical) + allocated_bytes(outputs) + allocated_bytes(tag_offset) +
                        tag_max_values.capacity() * sizeof(std::size_t);
    for (const NumericPlan& p : numeric)
      bytes += heap_bytes(p.name) + p.edges.capacity() * sizeof(double) + p.locate.memory_bytes() +
               p.reference_share.capacity() * sizeof(double) + p.decile.capacity() * sizeof(std::uint32_t);
    for (const CategoricalPlan& p : categorical)
      bytes += heap_bytes(p.name) + p.categories.memory_bytes() + p.reference_share.capacity() * sizeof(double);
    for (const OutputPlan& p : outputs)
      bytes += heap_bytes(p.name) + p.edges.capacity() * sizeof(double) + p.locate.memory_bytes() +
               p.reference_share.capacity() * sizeof(double) + p.classes.memory_bytes() +
               p.reference_class_share.capacity() * sizeof(double);
    return bytes;
  }
};

/// Reference edges at the profile's quantiles i/bins, equal ones merged, so a discrete
/// feature gets one bin per value it took in training.
inline std::vector<double> quantile_edges(const TDigest<>& reference, std::size_t bins) {
  std::vector<double> edges;
  if (reference.empty()) return edges;
  for (std::size_t i = 1; i < bins; ++i) {
    const double e = reference.quantile(static_cast<double>(i) / static_cast<double>(bins));
    if (edges.empty() || e > edges.back()) edges.push_back(e);
  }
  if (edges.empty() || reference.max() > edges.back()) edges.push_back(reference.max());
  return edges;
}

/// Share of the reference in each bin (edges.size() + 1 bins: the last is above every edge).
inline std::vector<double> reference_shares(const TDigest<>& reference, const std::vector<double>& edges) {
  std::vector<double> share(edges.size() + 1, 0.0);
  double previous = 0;
  for (std::size_t i = 0; i < edges.size(); ++i) {
    const double at_most = reference.rank_interval(edges[i]).second;
    share[i] = std::max(0.0, at_most - previous);
    previous = std::max(previous, at_most);
  }
  share.back() = std::max(0.0, 1 - previous);
  return share;
}

inline MonitorPlan make_plan(const Schema& schema, const Profile& profile, std::size_t bins) {
  MonitorPlan plan;
  for (std::uint32_t i = 0; i < schema.numeric_count(); ++i) {
    MonitorPlan::NumericPlan p;
    p.name = schema.name(NumericFeature{i});
    const auto& ref = profile.numeric(profile.schema().numeric(p.name));
    p.has_reference = !ref.digest.empty();
    if (p.has_reference) {
      p.edges = quantile_edges(ref.digest, bins);
      // x ≤ the largest double below the minimum ⇔ x < minimum.
      p.edges.insert(p.edges.begin(), std::nextafter(ref.digest.min(), -std::numeric_limits<double>::infinity()));
      p.reference_share = reference_shares(ref.digest, p.edges);
      p.reference_min = ref.digest.min();
      p.reference_max = ref.digest.max();
      p.reference_mean = ref.stats.mean();
      p.reference_stddev = ref.stats.count() > 1 ? ref.stats.stddev() : 0.0;
      // Decile groups: consecutive bins until a tenth of the reference is covered.
      double covered = 0;
      std::uint32_t group = 0;
      for (double share : p.reference_share) {
        p.decile.push_back(group);
        covered += share;
        if (covered >= 0.1 * (group + 1) - 1e-9 && group < 9) ++group;
      }
      p.decile_count = p.decile.empty() ? 0 : p.decile.back() + 1;
    } else {
      p.reference_share = {1.0};
      p.decile = {0};
      p.decile_count = 1;
    }
    p.reference_missing_rate = profile.missing_rate(profile.schema().numeric(p.name));
    p.locate = BinLocator(p.edges);
    MonitorPlan::NumericLanes& l = plan.lanes;
    // A feature's bins (edges + 1), spare bin and an unused one sit at the offsets of its
    // edges and three +inf.
    p.offset = l.edges.size();
    p.spare = p.offset + p.reference_share.size();
    if (l.cells.size() + p.locate.cells().size() + 1 > static_cast<std::size_t>(std::numeric_limits<std::int32_t>::max()) ||
        p.spare + 1 >= MonitorPlan::NumericLanes::dense)
      throw_invalid_argument("Monitor: too many numeric bins in all");
    l.low.push_back(p.locate.low());
    l.scale.push_back(p.locate.scale());
    l.last_cell.push_back(p.locate.last_cell());
    l.spare_cell.push_back(static_cast<double>(p.locate.cells().size()));
    l.reference_mean.push_back(p.reference_mean);
    l.first_cell.push_back(static_cast<std::int32_t>(l.cells.size()));
    for (const std::uint16_t c : p.locate.cells()) {
      const auto first = static_cast<std::uint32_t>(p.offset + (c & (BinLocator::dense - 1u)));
      l.cells.push_back((c & BinLocator::dense) != 0 ? first | MonitorPlan::NumericLanes::dense : first);
    }
    l.cells.push_back(static_cast<std::uint32_t>(p.spare));
    l.edges.insert(l.edges.end(), p.edges.begin(), p.edges.end());
    l.edges.insert(l.edges.end(), 3, std::numeric_limits<double>::infinity());
    plan.numeric.push_back(std::move(p));
  }
  plan.numeric_bins = plan.lanes.edges.size();
  for (std::uint32_t i = 0; i < schema.categorical_count(); ++i) {
    MonitorPlan::CategoricalPlan p;
    p.name = schema.name(CategoricalFeature{i});
    const auto& ref = profile.categorical(profile.schema().categorical(p.name)).counts;
    std::vector<std::string> names;
    for (const auto& entry : ref.entries()) names.push_back(entry.value);
    p.categories = StringIds(names);
    const double total = static_cast<double>(ref.total());
    for (const auto& entry : ref.entries())
      p.reference_share.push_back(total > 0 ? static_cast<double>(entry.count) / total : 0.0);
    p.reference_share.push_back(0.0);  // unseen
    p.reference_missing_rate = ref.missing_rate();
    p.offset = plan.categorical_bins;
    plan.categorical_bins += p.reference_share.size();
    plan.categorical.push_back(std::move(p));
  }
  for (std::uint32_t i = 0; i < schema.output_count(); ++i) {
    MonitorPlan::OutputPlan p;
    const Output o{i};
    p.name = schema.name(o);
    const auto& ref = profile.output(profile.schema().output(p.name));
    p.has_reference = !ref.digest.empty();
    if (p.has_reference) {
      p.edges = quantile_edges(ref.digest, 10);
      p.reference_share = reference_shares(ref.digest, p.edges);
      p.reference_mean = ref.stats.mean();
      p.reference_stddev = ref.stats.count() > 1 ? ref.stats.stddev() : 0.0;
    } else {
      p.reference_share = {1.0};
    }
    p.locate = BinLocator(p.edges);
    p.offset = plan.score_bins;
    plan.score_bins += p.reference_share.size();
    const OutputOptions& options = schema.options(o);
    p.has_threshold = !std::isnan(options.threshold);
    p.threshold = options.threshold;
    std::vector<std::string> classes = options.classes;
    if (p.has_threshold && classes.empty()) classes = {"negative", "positive"};
    p.classes = StringIds(classes);
    const double total = static_cast<double>(ref.classes.total());
    for (const std::string& c : classes)
      p.reference_class_share.push_back(total > 0 ? static_cast<double>(ref.classes.estimate(c).count) / total : 0.0);
    p.reference_class_share.push_back(0.0);  // other
    p.class_offset = plan.class_bins;
    plan.class_bins += p.reference_class_share.size();
    plan.outputs.push_back(std::move(p));
  }
  for (std::uint32_t t = 0; t < schema.tag_count(); ++t) {
    plan.tag_offset.push_back(plan.tag_slots);
    plan.tag_max_values.push_back(schema.options(Tag{t}).max_values);
    plan.tag_slots += schema.options(Tag{t}).max_values + 1;
  }
  return plan;
}

/// The per-feature arrays the request path's SIMD step reads (MonitorPlan::NumericLanes),
/// from one feature on.
struct GridLanes {
  const double* low;
  const double* scale;
  const double* last_cell;
  const double* spare_cell;
  const std::int32_t* first_cell;
  const double* mean;
};

/// The request path's SIMD step for n numeric values x: each one's grid cell in `cell` (its
/// feature's spare cell unless finite) and, added to `shift`, each finite one's distance from
/// its reference mean. With `AllFinite` the caller knows every value is finite (the usual
/// request) and the step skips the test. Both variants compute the same numbers with the
/// same operations (no fused multiply-add), so results do not depend on the CPU. Scalar:
template <bool AllFinite = false>
VIGIL_INLINE void grid_cells_scalar(const GridLanes& lanes, const double* x, std::int32_t* cell, double* shift, std::size_t n) {
  const GridLanes g = lanes;  // a local copy: the stores below cannot change its pointers
  for (std::size_t j = 0; j < n; ++j) {
    const bool finite = AllFinite || std::fabs(x[j]) <= std::numeric_limits<double>::max();  // state `value`
    const double position = BinLocator::grid_position(g.low[j], g.scale[j], g.last_cell[j], x[j]);
    cell[j] = g.first_cell[j] + static_cast<std::int32_t>(finite ? position : g.spare_cell[j]);
    shift[j] += (finite ? x[j] : g.mean[j]) - g.mean[j];  // adds 0 unless finite
  }
}

/// The request path's second step: adds each value x[j] to its bin, given its grid cell from
/// the first (an index into MonitorPlan::NumericLanes::cells). Scalar:
VIGIL_INLINE void count_bins_scalar(const double* edges, const std::uint32_t* cells, const std::int32_t* cell, const double* x,
                              std::uint64_t* bins, std::size_t n) {
  for (std::size_t j = 0; j < n; ++j)
    ++bins[BinLocator::locate_in_cell(edges, cells, static_cast<std::size_t>(cell[j]), x[j])];
}

#ifdef VIGIL_GRID_X86
/// SSE2, which every x86-64 CPU has: two values at a time.
template <bool AllFinite = false>
VIGIL_INLINE void grid_cells_sse2(const GridLanes& lanes, const double* x, std::int32_t* cell, double* shift, std::size_t n) {
  const GridLanes g = lanes;  // a local copy: the stores below cannot change its pointers
  const __m128d largest = _mm_set1_pd(std::numeric_limits<double>::max());
  const __m128d magnitude = _mm_castsi128_pd(_mm_set1_epi64x(0x7fffffffffffffffLL));
  const __m128d zero = _mm_setzero_pd();
  std::size_t j = 0;
  for (; j + 2 <= n; j += 2) {
    const __m128d v = _mm_loadu_pd(x + j);
    // As BinLocator::grid_position: max and min return their second operand for NaN.
    __m128d p = _mm_mul_pd(_mm_sub_pd(v, _mm_loadu_pd(g.low + j)), _mm_loadu_pd(g.scale + j));
    p = _mm_min_pd(_mm_max_pd(p, zero), _mm_loadu_pd(g.last_cell + j));
    __m128d shifted = _mm_sub_pd(v, _mm_loadu_pd(g.mean + j));
    if constexpr (!AllFinite) {
      const __m128d finite = _mm_cmple_pd(_mm_and_pd(v, magnitude), largest);
      p = _mm_or_pd(_mm_and_pd(finite, p), _mm_andnot_pd(finite, _mm_loadu_pd(g.spare_cell + j)));
      shifted = _mm_and_pd(finite, shifted);  // +0 unless finite (as the scalar loop's mean − mean)
    }
    __m128i c = _mm_cvttpd_epi32(p);
    c = _mm_add_epi32(c, _mm_loadl_epi64(reinterpret_cast<const __m128i*>(g.first_cell + j)));
    _mm_storel_epi64(reinterpret_cast<__m128i*>(cell + j), c);
    _mm_storeu_pd(shift + j, _mm_add_pd(_mm_loadu_pd(shift + j), shifted));
  }
  if (j < n) {
    const GridLanes rest{g.low + j, g.scale + j, g.last_cell + j, g.spare_cell + j, g.first_cell + j, g.mean + j};
    grid_cells_scalar<AllFinite>(rest, x + j, cell + j, shift + j, n - j);
  }
}

/// Two values at a time: their two pairs of edges are compared with the pair of values in
/// two SIMD compares, and each compare's all-ones lanes (−1) subtract from the bins'
/// indices. A pair with a dense cell goes to the scalar lookup.
VIGIL_INLINE void count_bins_sse2(const double* edges, const std::uint32_t* cells, const std::int32_t* cell, const double* x,
                            std::uint64_t* bins, std::size_t n) {
  std::size_t j = 0;
  for (; j + 2 <= n; j += 2) {
    const std::uint32_t a = cells[cell[j]];
    const std::uint32_t b = cells[cell[j + 1]];
    if (VIGIL_UNLIKELY(((a | b) & MonitorPlan::NumericLanes::dense) != 0)) {
      count_bins_scalar(edges, cells, cell + j, x + j, bins, 2);
      continue;
    }
    const __m128d ea = _mm_loadu_pd(edges + a);
    const __m128d eb = _mm_loadu_pd(edges + b);
    const __m128d v = _mm_loadu_pd(x + j);
    const __m128i below = _mm_add_epi64(_mm_castpd_si128(_mm_cmplt_pd(_mm_unpacklo_pd(ea, eb), v)),
                                        _mm_castpd_si128(_mm_cmplt_pd(_mm_unpackhi_pd(ea, eb), v)));
    const __m128i bin = _mm_sub_epi64(_mm_set_epi64x(static_cast<long long>(b), static_cast<long long>(a)), below);
    ++bins[static_cast<std::size_t>(_mm_cvtsi128_si64(bin))];
    ++bins[static_cast<std::size_t>(_mm_cvtsi128_si64(_mm_unpackhi_epi64(bin, bin)))];
  }
  if (j < n) count_bins_scalar(edges, cells, cell + j, x + j, bins, n - j);
}

#endif

/// The request path's SIMD steps: SSE2 on x86-64, else the scalar loops (which compilers
/// vectorise at -O3). Wider AVX variants measured slower on the request path: their short
/// bursts between scalar code cost more (frequency and state transitions) than they save.
template <bool AllFinite = false>
VIGIL_INLINE void grid_cells(const GridLanes& g, const double* x, std::int32_t* cell, double* shift, std::size_t n) {
#ifdef VIGIL_GRID_X86
  grid_cells_sse2<AllFinite>(g, x, cell, shift, n);
#else
  grid_cells_scalar<AllFinite>(g, x, cell, shift, n);
#endif
}
VIGIL_INLINE void count_bins(const double* edges, const std::uint32_t* cells, const std::int32_t* cell, const double* x,
                       std::uint64_t* bins, std::size_t n) {
#ifdef VIGIL_GRID_X86
  count_bins_sse2(edges, cells, cell, x, bins, n);
#else
  count_bins_scalar(edges, cells, cell, x, bins, n);
#endif
}

/// Totals of one numeric feature in an interval (IntervalSummary::numeric_totals()). The
/// values binned, and those outside the training range, are read off the bins (see
/// MonitorPlan::NumericPlan::edges), and the missing ones are the requests neither binned nor
/// bad, so the request path counts each value once.
struct NumericTotals {
  std::uint64_t missing = 0;  // requests without the feature
  std::uint64_t bad = 0;      // NaN, ±inf or unparsable values
  double shifted_sum = 0;     // Σ (x − reference mean): the mean without cancellation
};

/// Totals of one categorical feature (IntervalSummary::categorical_totals()), read off its
/// bins: every value present lands in one, unseen ones in the last.
struct CategoricalTotals {
  std::uint64_t count = 0;
  std::uint64_t missing = 0;
  std::uint64_t unseen = 0;
};

/// Totals of one output (IntervalSummary::output_totals()), read off its score bins.
struct OutputTotals {
  std::uint64_t count = 0;
  std::uint64_t missing = 0;  // requests without a finite score
};

/// Everything the Monitor accumulates for one interval (and, merged, for any span of them).
/// Memory: 8 bytes per bin (numeric, categorical, score and class bins of the plan; a numeric
/// feature has two more bins than edges), 16 per numeric feature, a CategoryCounts of 8 unseen labels per categorical feature, a TDigest
/// per output (δ = 50), a latency LogHistogram and 16 bytes per tag value.
struct IntervalSummary {
  /// A tag value's id in a request: none when the request has no value for the tag.
  static constexpr std::uint32_t no_tag = 0xffffffffu;

  std::uint64_t requests = 0;  // completions: observed requests
  std::uint64_t arrivals = 0;  // Monitor::on_arrival() calls
  std::uint64_t status_counts[3] = {0, 0, 0};
  // Written by one thread per request: cache lines of their own (detail::LineVector), shared
  // with nothing another thread writes.
  LineVector<std::uint64_t> numeric_bins;
  LineVector<double> numeric_shift;       // per numeric feature: Σ (x − reference mean)
  LineVector<std::uint64_t> numeric_bad;  // per numeric feature: NaN or ±inf values
  LineVector<std::uint64_t> categorical_bins;
  std::vector<CategoryCounts> unseen;  // which unseen labels, per categorical feature
  LineVector<std::uint64_t> score_bins;
  LineVector<std::uint64_t> class_bins;
  LineVector<TDigest<>> scores;
  LogHistogram latency;
  std::uint64_t bad_latency = 0;
  std::uint64_t slow = 0;                   // latencies above the slow threshold
  LineVector<std::uint64_t> tag_requests;  // per tag value (MonitorPlan::tag_offset): latencies
  LineVector<std::uint64_t> tag_slow;      // ... and slow ones among them

  IntervalSummary() = default;
  explicit IntervalSummary(const MonitorPlan& plan)
      : numeric_bins(plan.numeric_bins, 0),
        numeric_shift(plan.lanes.low.size(), 0.0),  // lanes: a request_path() copy has no `numeric`
        numeric_bad(plan.lanes.low.size(), 0),
        categorical_bins(plan.categorical_bins, 0),
        unseen(plan.categorical.size(), CategoryCounts(8)),
        score_bins(plan.score_bins, 0),
        class_bins(plan.class_bins, 0),
        scores(plan.outputs.size(), TDigest<>(plan.score_compression)),
        latency(plan.latency_scale),
        tag_requests(plan.tag_slots, 0),
        tag_slow(plan.tag_slots, 0) {}

  bool empty() const { return requests == 0 && arrivals == 0; }

  void merge(const IntervalSummary& o) {
    requests += o.requests;
    arrivals += o.arrivals;
    for (int i = 0; i < 3; ++i) status_counts[i] += o.status_counts[i];
    add_all(numeric_bins, o.numeric_bins);
    add_all(numeric_bad, o.numeric_bad);
    add_all(numeric_shift, o.numeric_shift);
    add_all(categorical_bins, o.categorical_bins);
    for (std::size_t i = 0; i < unseen.size(); ++i)
      if (!o.unseen[i].empty()) unseen[i].merge(o.unseen[i]);
    add_all(score_bins, o.score_bins);
    add_all(class_bins, o.class_bins);
    for (std::size_t i = 0; i < scores.size(); ++i)
      if (!o.scores[i].empty()) scores[i].merge(o.scores[i]);
    if (!o.latency.empty()) latency.merge(o.latency);
    bad_latency += o.bad_latency;
    slow += o.slow;
    add_all(tag_requests, o.tag_requests);
    add_all(tag_slow, o.tag_slow);
  }

  void clear() {
    requests = 0;
    arrivals = 0;
    for (auto& c : status_counts) c = 0;
    std::fill(numeric_bins.begin(), numeric_bins.end(), 0);
    std::fill(numeric_shift.begin(), numeric_shift.end(), 0.0);
    std::fill(numeric_bad.begin(), numeric_bad.end(), 0);
    std::fill(categorical_bins.begin(), categorical_bins.end(), 0);
    for (auto& u : unseen)
      if (!u.empty()) u.clear();
    std::fill(score_bins.begin(), score_bins.end(), 0);
    std::fill(class_bins.begin(), class_bins.end(), 0);
    for (auto& s : scores)
      if (!s.empty()) s.clear();
    if (!latency.empty()) latency.clear();
    bad_latency = 0;
    slow = 0;
    std::fill(tag_requests.begin(), tag_requests.end(), 0);
    std::fill(tag_slow.begin(), tag_slow.end(), 0);
  }

  /// Releases the scratch memory of sketches that will not be added to again.
  void compact() {
    for (auto& s : scores) s.compact();
  }

  /// Bytes allocated by this summary.
  std::size_t memory_bytes() const {
    std::size_t bytes = sizeof(*this) + allocated_bytes(numeric_bins) + allocated_bytes(numeric_shift) +
                        allocated_bytes(numeric_bad) + allocated_bytes(categorical_bins) + allocated_bytes(score_bins) +
                        allocated_bytes(class_bins) + allocated_bytes(tag_requests) + allocated_bytes(tag_slow) +
                        allocated_bytes(scores) + latency.memory_bytes() - sizeof(latency);
    for (const auto& u : unseen) bytes += u.memory_bytes();
    for (const auto& d : scores) bytes += d.memory_bytes() - sizeof(d);  // the objects are in `scores`
    return bytes;
  }

  /// Adds one request whose tag values have the ids `tag_ids` (one per tag of the plan, or
  /// no_tag), counting its latency as slow above `slow_threshold` (NaN: nothing is slow).
  /// No allocation once every sketch has reached its working size.
  void apply(const MonitorPlan& plan, const Observation& obs, const std::uint32_t* tag_ids, double slow_threshold) {
    ++requests;
    ++status_counts[static_cast<int>(obs.status())];
    if (obs.has_latency()) {
      const double l = obs.latency();
      if (std::isfinite(l) && l >= 0) {
        latency.record(l);
        const bool is_slow = l > slow_threshold;
        slow += is_slow;
        for (std::size_t t = 0; t < plan.tag_offset.size(); ++t) {
          if (tag_ids[t] == no_tag) continue;
          ++tag_requests[plan.tag_offset[t] + tag_ids[t]];
          tag_slow[plan.tag_offset[t] + tag_ids[t]] += is_slow;
        }
      } else {
        ++bad_latency;
      }
    }
    // The hot loop, in blocks of features: first, in SIMD lanes, the grid cell of every value
    // (the spare cell for a missing or bad one) and the sum of the finite values' shifts;
    // then per feature one cell load, two edge compares and a bin increment. No branch
    // depends on a value; one, per request, skips the test for missing and bad values when
    // every value is a number.
    const MonitorPlan::NumericLanes& l = plan.lanes;
    const double* values = obs.numeric_values();
    const std::size_t numeric_count = l.low.size();
    const bool all_finite = obs.numeric_value_count() == numeric_count;
    constexpr std::size_t block = 16;
    for (std::size_t base = 0; base < numeric_count; base += block) {
      const std::size_t m = std::min(block, numeric_count - base);
      const double* x = values + base;
      const GridLanes g{l.low.data() + base,        l.scale.data() + base,      l.last_cell.data() + base,
                        l.spare_cell.data() + base, l.first_cell.data() + base, l.reference_mean.data() + base};
      std::int32_t cell[block];
      if (all_finite) {
        grid_cells<true>(g, x, cell, numeric_shift.data() + base, m);
      } else {
        grid_cells<false>(g, x, cell, numeric_shift.data() + base, m);
      }
      count_bins(l.edges.data(), l.cells.data(), cell, x, numeric_bins.data(), m);
    }
    if (VIGIL_UNLIKELY(obs.numeric_bad_count() > 0)) {
      const Observation::State* states = obs.numeric_states();
      for (std::size_t i = 0; i < numeric_count; ++i) numeric_bad[i] += states[i] == Observation::State::bad;
    }
    // Sizes and arrays in locals: the compiler cannot tell that the calls in the loops leave
    // the vectors' pointers alone.
    const std::uint32_t categorical_count = static_cast<std::uint32_t>(plan.categorical.size());
    const MonitorPlan::CategoricalPlan* categorical = plan.categorical.data();
    std::uint64_t* category_bins = categorical_bins.data();
    for (std::uint32_t i = 0; i < categorical_count; ++i) {
      const CategoricalFeature f{i};
      if (!obs.has(f)) continue;  // missing: the requests not counted in a bin
      const MonitorPlan::CategoricalPlan& p = categorical[i];
      const std::string_view v = obs.value(f);
      const std::uint32_t id = p.categories.find(v);
      if (VIGIL_UNLIKELY(id == StringIds::none)) {
        ++category_bins[p.offset + p.categories.size()];
        unseen[i].add(v);
      } else {
        ++category_bins[p.offset + id];
      }
    }
    const std::uint32_t output_count = static_cast<std::uint32_t>(plan.outputs.size());
    for (std::uint32_t i = 0; i < output_count; ++i) {
      const MonitorPlan::OutputPlan& p = plan.outputs[i];
      const Output o{i};
      if (obs.has_score(o) && std::isfinite(obs.score(o))) {  // else missing: in no score bin
        const double s = obs.score(o);
        scores[i].add(s);
        ++score_bins[p.offset + p.locate(s)];
        if (p.has_threshold && !obs.has_predicted(o)) ++class_bins[p.class_offset + (s >= p.threshold ? 1 : 0)];
      }
      if (obs.has_predicted(o)) {
        const std::uint32_t id = p.classes.find(obs.predicted(o));
        ++class_bins[p.class_offset + (id == StringIds::none ? p.classes.size() : id)];
      }
    }
  }

  /// Totals of numeric feature i (plan `p`) in this summary.
  NumericTotals numeric_totals(const MonitorPlan::NumericPlan& p, std::size_t i) const {
    NumericTotals t;
    t.bad = numeric_bad[i];
    t.missing = numeric_bins[p.spare] - t.bad;
    t.shifted_sum = numeric_shift[i];
    return t;
  }
  /// Totals of categorical feature i (plan `p`) in this summary.
  CategoricalTotals categorical_totals(const MonitorPlan::CategoricalPlan& p) const {
    CategoricalTotals t;
    for (std::size_t b = 0; b < p.reference_share.size(); ++b) t.count += categorical_bins[p.offset + b];
    t.missing = requests - t.count;
    t.unseen = categorical_bins[p.offset + p.categories.size()];
    return t;
  }
  /// Totals of output `p` in this summary.
  OutputTotals output_totals(const MonitorPlan::OutputPlan& p) const {
    OutputTotals t;
    for (std::size_t b = 0; b < p.reference_share.size(); ++b) t.count += score_bins[p.offset + b];
    t.missing = requests - t.count;
    return t;
  }
  /// Values of numeric feature `p` binned in this summary.
  std::uint64_t binned(const MonitorPlan::NumericPlan& p) const {
    std::uint64_t n = 0;
    for (std::size_t b = 0; b < p.reference_share.size(); ++b) n += numeric_bins[p.offset + b];
    return n;
  }
  /// Values of numeric feature `p` outside the training range (0 without a reference).
  std::uint64_t out_of_range(const MonitorPlan::NumericPlan& p) const {
    if (!p.has_reference) return 0;
    return numeric_bins[p.offset] + numeric_bins[p.offset + p.reference_share.size() - 1];
  }

 private:
  template <class T>
  static void add_all(LineVector<T>& a, const LineVector<T>& b) {
    for (std::size_t i = 0; i < a.size(); ++i) a[i] += b[i];
  }
};

}  // namespace detail
}  // namespace vigil

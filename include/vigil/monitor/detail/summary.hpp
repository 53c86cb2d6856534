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

#include "vigil/config.hpp"
#include "vigil/monitor/observation.hpp"
#include "vigil/monitor/profile.hpp"
#include "vigil/monitor/schema.hpp"
#include "vigil/sketch/category_counts.hpp"
#include "vigil/sketch/log_histogram.hpp"
#include "vigil/sketch/tdigest.hpp"

namespace vigil {
namespace detail {

/// An immutable map from strings to dense ids, built once; lookups never allocate and may
/// run on many threads at once. Open addressing on CategoryCounts::hash.
class StringIds {
 public:
  static constexpr std::uint32_t none = 0xffffffffu;

  StringIds() = default;
  explicit StringIds(const std::vector<std::string>& names) : names_(names) {
    std::size_t size = 8;
    while (size < 2 * names.size()) size *= 2;
    cells_.assign(size, Cell{0, none});
    for (std::uint32_t id = 0; id < names.size(); ++id) {
      const std::uint64_t h = CategoryCounts::hash(names[id]);
      std::size_t i = h & (size - 1);
      while (cells_[i].id != none) i = (i + 1) & (size - 1);
      cells_[i] = Cell{h, id};
    }
  }
  std::uint32_t find(std::string_view name) const {
    if (cells_.empty()) return none;
    const std::uint64_t h = CategoryCounts::hash(name);
    const std::size_t mask = cells_.size() - 1;
    for (std::size_t i = h & mask;; i = (i + 1) & mask) {
      const Cell& c = cells_[i];
      if (c.id == none) return none;
      if (c.hash == h && equal(names_[c.id], name)) return c.id;
    }
  }
  std::size_t size() const { return names_.size(); }
  const std::string& name(std::uint32_t id) const { return names_[id]; }
  const std::vector<std::string>& names() const { return names_; }

 private:
  struct Cell {
    std::uint64_t hash;
    std::uint32_t id;
  };
  // Labels are short: up to 16 bytes compare as two words, without a call to memcmp.
  static bool equal(const std::string& a, std::string_view b) {
    const std::size_t n = a.size();
    if (n != b.size()) return false;
    if (n <= 8) return load_le(a.data(), n) == load_le(b.data(), n);
    if (n <= 16)
      return load_le(a.data(), 8) == load_le(b.data(), 8) && load_le(a.data() + 8, n - 8) == load_le(b.data() + 8, n - 8);
    return std::memcmp(a.data(), b.data(), n) == 0;
  }
  std::vector<std::string> names_;
  std::vector<Cell> cells_;
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
    edges_ = edges;
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
  /// The grid cells of n values, each with its own grid: arithmetic only, so that the
  /// compiler can run it in SIMD lanes. Any input (NaN, ±inf) gives a cell in range.
  static void cells_of(const double* low, const double* scale, const double* last_cell, const double* x,
                       std::int32_t* cell, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) cell[i] = static_cast<std::int32_t>(clamp_cell((x[i] - low[i]) * scale[i], last_cell[i]));
  }
  /// The bin of x given its grid cell.
  static std::size_t locate_in_cell(const double* edges, const std::uint16_t* cells, std::size_t c, double x) {
    const std::uint16_t first = cells[c];
    if (VIGIL_UNLIKELY(first & dense)) return bisect(edges, first & ~dense, cells[c + 1] & ~dense, x);
    const double* e = edges + first;
    return first + static_cast<std::size_t>(e[0] < x) + static_cast<std::size_t>(e[1] < x);
  }

  std::size_t edge_count() const { return count_; }
  std::size_t cell_count() const { return cells_.size() - 1; }
  /// The edges followed by `window` × +inf.
  const std::vector<double>& padded_edges() const { return edges_; }
  /// Per cell the number of edges in earlier cells, with `dense` set where the cell holds
  /// more than `window`; then the edge count.
  const std::vector<std::uint16_t>& cells() const { return cells_; }
  double low() const { return low_; }
  double scale() const { return scale_; }
  double last_cell() const { return last_cell_; }
  std::size_t memory_bytes() const { return edges_.capacity() * sizeof(double) + cells_.capacity() * sizeof(std::uint16_t); }

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
    return static_cast<std::size_t>(static_cast<std::int32_t>(clamp_cell((x - low) * scale, last_cell)));
  }
  // v clamped to [0, last_cell], NaN to 0 and +inf to last_cell, so the conversion to an
  // integer is always defined.
  static double clamp_cell(double v, double last_cell) {
    const double w = v > 0.0 ? v : 0.0;
    return last_cell < w ? last_cell : w;
  }

  std::vector<double> edges_;
  std::vector<std::uint16_t> cells_;
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
    std::size_t offset = 0;               // first bin in IntervalSummary::numeric_bins
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
  /// grid arithmetic of many features runs in SIMD lanes; every feature's locator arrays sit
  /// side by side in `edges` and `cells`.
  struct NumericLanes {
    std::vector<double> low;
    std::vector<double> scale;
    std::vector<double> last_cell;
    std::vector<double> reference_mean;
    std::vector<std::uint32_t> first_edge;  // of the feature's padded edges in `edges`
    std::vector<std::uint32_t> first_cell;  // of its cells in `cells`
    std::vector<std::uint32_t> first_bin;   // of its bins in IntervalSummary::numeric_bins
    std::vector<double> edges;
    std::vector<std::uint16_t> cells;
  };
  std::vector<NumericPlan> numeric;
  NumericLanes lanes;
  std::vector<CategoricalPlan> categorical;
  std::vector<OutputPlan> outputs;
  /// Per tag, where its values' counters start in IntervalSummary::tag_requests and how
  /// many values it keeps (the last counter, max_values, is "other").
  std::vector<std::size_t> tag_offset;
  std::vector<std::size_t> tag_max_values;
  std::size_t tag_slots = 0;
  std::size_t numeric_bins = 0;
  std::size_t categorical_bins = 0;
  std::size_t score_bins = 0;
  std::size_t class_bins = 0;
  double score_compression = 50;
  int latency_scale = 4;
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
    p.offset = plan.numeric_bins;
    plan.numeric_bins += p.reference_share.size();
    MonitorPlan::NumericLanes& l = plan.lanes;
    l.low.push_back(p.locate.low());
    l.scale.push_back(p.locate.scale());
    l.last_cell.push_back(p.locate.last_cell());
    l.reference_mean.push_back(p.reference_mean);
    l.first_edge.push_back(static_cast<std::uint32_t>(l.edges.size()));
    l.first_cell.push_back(static_cast<std::uint32_t>(l.cells.size()));
    l.first_bin.push_back(static_cast<std::uint32_t>(p.offset));
    l.edges.insert(l.edges.end(), p.locate.padded_edges().begin(), p.locate.padded_edges().end());
    l.cells.insert(l.cells.end(), p.locate.cells().begin(), p.locate.cells().end());
    plan.numeric.push_back(std::move(p));
  }
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

/// Totals of one numeric feature in an interval. The values binned, and those outside the
/// training range, are read off the bins (see MonitorPlan::NumericPlan::edges), so the
/// request path does not count them twice.
struct NumericTotals {
  std::uint64_t missing = 0;  // requests without the feature
  std::uint64_t bad = 0;      // NaN, ±inf or unparsable values
  double shifted_sum = 0;     // Σ (x − reference mean): the mean without cancellation
};

struct CategoricalTotals {
  std::uint64_t count = 0;
  std::uint64_t missing = 0;
  std::uint64_t unseen = 0;
};

struct OutputTotals {
  std::uint64_t count = 0;
  std::uint64_t missing = 0;  // requests without a finite score
};

/// Everything the Monitor accumulates for one interval (and, merged, for any span of them).
/// Memory: 8 bytes per bin (numeric, categorical, score and class bins of the plan), 24 per
/// numeric feature, a CategoryCounts of 8 unseen labels per categorical feature, a TDigest
/// per output (δ = 50), a latency LogHistogram and 16 bytes per tag value.
struct IntervalSummary {
  /// A tag value's id in a request: none when the request has no value for the tag.
  static constexpr std::uint32_t no_tag = 0xffffffffu;

  std::uint64_t requests = 0;  // completions: observed requests
  std::uint64_t arrivals = 0;  // Monitor::on_arrival() calls
  std::uint64_t status_counts[3] = {0, 0, 0};
  std::vector<std::uint64_t> numeric_bins;
  std::vector<NumericTotals> numeric;
  std::vector<std::uint64_t> categorical_bins;
  std::vector<CategoricalTotals> categorical;
  std::vector<CategoryCounts> unseen;  // which unseen labels, per categorical feature
  std::vector<std::uint64_t> score_bins;
  std::vector<std::uint64_t> class_bins;
  std::vector<OutputTotals> outputs;
  std::vector<TDigest<>> scores;
  LogHistogram latency;
  std::uint64_t bad_latency = 0;
  std::uint64_t slow = 0;                   // latencies above the slow threshold
  std::vector<std::uint64_t> tag_requests;  // per tag value (MonitorPlan::tag_offset): latencies
  std::vector<std::uint64_t> tag_slow;      // ... and slow ones among them

  IntervalSummary() = default;
  explicit IntervalSummary(const MonitorPlan& plan)
      : numeric_bins(plan.numeric_bins, 0),
        numeric(plan.numeric.size()),
        categorical_bins(plan.categorical_bins, 0),
        categorical(plan.categorical.size()),
        unseen(plan.categorical.size(), CategoryCounts(8)),
        score_bins(plan.score_bins, 0),
        class_bins(plan.class_bins, 0),
        outputs(plan.outputs.size()),
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
    for (std::size_t i = 0; i < numeric.size(); ++i) {
      NumericTotals& a = numeric[i];
      const NumericTotals& b = o.numeric[i];
      a.missing += b.missing;
      a.bad += b.bad;
      a.shifted_sum += b.shifted_sum;
    }
    add_all(categorical_bins, o.categorical_bins);
    for (std::size_t i = 0; i < categorical.size(); ++i) {
      categorical[i].count += o.categorical[i].count;
      categorical[i].missing += o.categorical[i].missing;
      categorical[i].unseen += o.categorical[i].unseen;
      if (!o.unseen[i].empty()) unseen[i].merge(o.unseen[i]);
    }
    add_all(score_bins, o.score_bins);
    add_all(class_bins, o.class_bins);
    for (std::size_t i = 0; i < outputs.size(); ++i) {
      outputs[i].count += o.outputs[i].count;
      outputs[i].missing += o.outputs[i].missing;
      if (!o.scores[i].empty()) scores[i].merge(o.scores[i]);
    }
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
    std::fill(numeric.begin(), numeric.end(), NumericTotals{});
    std::fill(categorical_bins.begin(), categorical_bins.end(), 0);
    std::fill(categorical.begin(), categorical.end(), CategoricalTotals{});
    for (auto& u : unseen)
      if (!u.empty()) u.clear();
    std::fill(score_bins.begin(), score_bins.end(), 0);
    std::fill(class_bins.begin(), class_bins.end(), 0);
    std::fill(outputs.begin(), outputs.end(), OutputTotals{});
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
    std::size_t bytes = sizeof(*this) + (numeric_bins.capacity() + categorical_bins.capacity() + score_bins.capacity() +
                                         class_bins.capacity()) * sizeof(std::uint64_t) +
                        numeric.capacity() * sizeof(NumericTotals) + categorical.capacity() * sizeof(CategoricalTotals) +
                        outputs.capacity() * sizeof(OutputTotals) + latency.memory_bytes() - sizeof(latency) +
                        (tag_requests.capacity() + tag_slow.capacity()) * sizeof(std::uint64_t);
    for (const auto& u : unseen) bytes += u.memory_bytes();
    for (const auto& d : scores) bytes += d.memory_bytes();
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
    // The hot loop, in blocks of features: first the grid cell of every value (arithmetic
    // only, which the compiler runs in SIMD lanes), then per feature two compares and two
    // adds. No branch depends on a value.
    const MonitorPlan::NumericLanes& l = plan.lanes;
    const double* values = obs.numeric_values();
    const Observation::State* states = obs.numeric_states();
    std::uint64_t* bins = numeric_bins.data();
    NumericTotals* totals = numeric.data();
    const std::size_t numeric_count = l.low.size();
    constexpr std::size_t block = 16;
    for (std::size_t base = 0; base < numeric_count; base += block) {
      const std::size_t m = std::min(block, numeric_count - base);
      const double* x = values + base;
      std::int32_t cell[block];
      BinLocator::cells_of(l.low.data() + base, l.scale.data() + base, l.last_cell.data() + base, x, cell, m);
      for (std::size_t j = 0; j < m; ++j) {
        const std::size_t i = base + j;
        NumericTotals& t = totals[i];
        if (VIGIL_UNLIKELY(states[i] != Observation::State::value)) {
          ++(states[i] == Observation::State::unset ? t.missing : t.bad);
          continue;
        }
        ++bins[l.first_bin[i] + BinLocator::locate_in_cell(l.edges.data() + l.first_edge[i],
                                                          l.cells.data() + l.first_cell[i], cell[j], x[j])];
        t.shifted_sum += x[j] - l.reference_mean[i];
      }
    }
    for (std::uint32_t i = 0; i < plan.categorical.size(); ++i) {
      const MonitorPlan::CategoricalPlan& p = plan.categorical[i];
      CategoricalTotals& t = categorical[i];
      const CategoricalFeature f{i};
      if (!obs.has(f)) {
        ++t.missing;
        continue;
      }
      ++t.count;
      const std::string_view v = obs.value(f);
      const std::uint32_t id = p.categories.find(v);
      if (id == StringIds::none) {
        ++t.unseen;
        ++categorical_bins[p.offset + p.categories.size()];
        unseen[i].add(v);
      } else {
        ++categorical_bins[p.offset + id];
      }
    }
    for (std::uint32_t i = 0; i < plan.outputs.size(); ++i) {
      const MonitorPlan::OutputPlan& p = plan.outputs[i];
      const Output o{i};
      OutputTotals& t = outputs[i];
      const bool scored = obs.has_score(o) && std::isfinite(obs.score(o));
      if (!scored) {
        ++t.missing;
      } else {
        const double s = obs.score(o);
        ++t.count;
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
  static void add_all(std::vector<std::uint64_t>& a, const std::vector<std::uint64_t>& b) {
    for (std::size_t i = 0; i < a.size(); ++i) a[i] += b[i];
  }
};

}  // namespace detail
}  // namespace vigil

// vigil — in-process monitoring of machine-learning models in C++ inference servers.
// SPDX-License-Identifier: Apache-2.0
//
// What the feature family derives once from the Schema and the training Profile: bins at
// the training percentiles per numeric feature (with the arrays the request path reads),
// and the training categories per categorical feature.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "vigil/error.hpp"
#include "vigil/monitor/detail/bin_locator.hpp"
#include "vigil/monitor/detail/bin_steps.hpp"
#include "vigil/monitor/detail/cache_line.hpp"
#include "vigil/monitor/detail/string_ids.hpp"
#include "vigil/monitor/profile.hpp"
#include "vigil/monitor/schema.hpp"
#include "vigil/sketch/tdigest.hpp"

namespace vigil {
namespace detail {

/// One numeric feature's bins and reference.
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
  // First bin in FeatureState::numeric_bins, of edges + 3: the bins, the spare bin (missing
  // and bad values) and one unused.
  std::size_t offset = 0;
  std::size_t spare = 0;                // the spare bin: offset + reference_share.size()
  double reference_min = 0;
  double reference_max = 0;
  double reference_mean = 0;
  double reference_stddev = 0;
  double reference_missing_rate = 0;
  bool has_reference = false;
};

/// One categorical feature's training categories.
struct CategoricalPlan {
  std::string name;
  StringIds categories;                 // reference categories; id = bin
  std::vector<double> reference_share;  // per category, then one for "unseen" (0)
  std::size_t offset = 0;               // first bin in FeatureState::categorical_bins
  double reference_missing_rate = 0;
};

/// What the request path reads per numeric feature, one array per field so that the grid
/// arithmetic of many features runs in SIMD lanes. Every feature's edges sit side by side in
/// `edges`, followed by three +inf, and its bins at the same offsets of
/// FeatureState::numeric_bins (NumericPlan::offset), so that an index into `edges` found by
/// the locator is also the index of the bin. After a feature's grid cells comes its `spare`
/// cell, which sends a missing or bad value to the spare bin after the bins (its edges, +inf,
/// are below no value): the loop has no branch on the value's state.
struct NumericLanes {
  static constexpr std::uint32_t dense = dense_cell;
  LineVector<double> low;
  LineVector<double> scale;
  LineVector<double> last_cell;
  LineVector<double> spare_cell;  // position of the spare cell relative to the first
  LineVector<double> reference_mean;  // times shift_scale, as the sums of shifts hold it
  LineVector<std::int32_t> first_cell;  // of the feature's grid in `cells`
  LineVector<double> edges;
  /// Per grid cell of every feature, the index in `edges` of the feature's first edge above
  /// the cell's start (BinLocator::cells() plus NumericPlan::offset), with `dense` set where
  /// the cell holds more than BinLocator::window edges. Absolute indices spare the request
  /// path a per-feature offset.
  LineVector<std::uint32_t> cells;

  /// The lanes from feature `first` on, for the SIMD step.
  GridLanes from(std::size_t first) const {
    return GridLanes{low.data() + first,        scale.data() + first,      last_cell.data() + first,
                     spare_cell.data() + first, first_cell.data() + first, reference_mean.data() + first};
  }
  /// Appends a feature whose bins start at `offset` and whose spare bin is `spare`.
  void add(const BinLocator& locate, const std::vector<double>& feature_edges, std::size_t offset, std::size_t spare,
           double mean) {
    low.push_back(locate.low());
    scale.push_back(locate.scale());
    last_cell.push_back(locate.last_cell());
    spare_cell.push_back(static_cast<double>(locate.cells().size()));
    reference_mean.push_back(mean * shift_scale);
    first_cell.push_back(static_cast<std::int32_t>(cells.size()));
    for (const std::uint16_t c : locate.cells()) {
      const auto first = static_cast<std::uint32_t>(offset + (c & (BinLocator::dense - 1u)));
      cells.push_back((c & BinLocator::dense) != 0 ? first | dense : first);
    }
    cells.push_back(static_cast<std::uint32_t>(spare));
    edges.insert(edges.end(), feature_edges.begin(), feature_edges.end());
    edges.insert(edges.end(), 3, std::numeric_limits<double>::infinity());
  }
  /// Bytes of the arrays.
  std::size_t memory_bytes() const {
    return allocated_bytes(low) + allocated_bytes(scale) + allocated_bytes(last_cell) + allocated_bytes(spare_cell) +
           allocated_bytes(reference_mean) + allocated_bytes(first_cell) + allocated_bytes(edges) +
           allocated_bytes(cells);
  }
};

/// The feature family's plan.
struct FeaturePlan {
  std::vector<NumericPlan> numeric;  // what the report reads; empty in a request_path() copy
  NumericLanes lanes;
  LineVector<CategoricalPlan> categorical;
  std::size_t numeric_bins = 0;      // numeric bins of all features (FeatureState::numeric_bins)
  std::size_t categorical_bins = 0;  // categories + 1 (unseen) of all categorical features

  std::size_t numeric_count() const { return lanes.low.size(); }
  /// A copy of what FeatureState::apply() reads: all but the per-feature numeric plans.
  FeaturePlan request_path() const {
    FeaturePlan p = *this;
    std::vector<NumericPlan>().swap(p.numeric);  // and its memory
    return p;
  }
  /// Bytes of this plan, itself included.
  std::size_t memory_bytes() const {
    std::size_t bytes = sizeof(*this) + numeric.capacity() * sizeof(NumericPlan) + lanes.memory_bytes() +
                        allocated_bytes(categorical);
    for (const NumericPlan& p : numeric)
      bytes += heap_bytes(p.name) + p.edges.capacity() * sizeof(double) + p.locate.memory_bytes() +
               p.reference_share.capacity() * sizeof(double) + p.decile.capacity() * sizeof(std::uint32_t);
    for (const CategoricalPlan& p : categorical)
      bytes += heap_bytes(p.name) + p.categories.memory_bytes() + p.reference_share.capacity() * sizeof(double);
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

/// Decile groups of a feature's bins: consecutive bins until a tenth of the reference is
/// covered, so that the short-term tests compare groups of equal reference mass.
inline void group_deciles(NumericPlan& p) {
  double covered = 0;
  std::uint32_t group = 0;
  for (double share : p.reference_share) {
    p.decile.push_back(group);
    covered += share;
    if (covered >= 0.1 * (group + 1) - 1e-9 && group < 9) ++group;
  }
  p.decile_count = p.decile.empty() ? 0 : p.decile.back() + 1;
}

/// A numeric feature's bins and reference figures from the profile (one bin, no reference,
/// for a feature the profile never saw a value of).
inline NumericPlan numeric_plan(const std::string& name, const Profile& profile, std::size_t bins) {
  NumericPlan p;
  p.name = name;
  const NumericFeature feature = profile.schema().numeric(name);
  const auto& ref = profile.numeric(feature);
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
    group_deciles(p);
  } else {
    p.reference_share = {1.0};
    p.decile = {0};
    p.decile_count = 1;
  }
  p.reference_missing_rate = profile.missing_rate(feature);
  p.locate = BinLocator(p.edges);
  return p;
}

/// A categorical feature's training categories and their shares.
inline CategoricalPlan categorical_plan(const std::string& name, const Profile& profile) {
  CategoricalPlan p;
  p.name = name;
  const auto& ref = profile.categorical(profile.schema().categorical(name)).counts;
  std::vector<std::string> names;
  for (const auto& entry : ref.entries()) names.push_back(entry.value);
  p.categories = StringIds(names);
  const double total = static_cast<double>(ref.total());
  for (const auto& entry : ref.entries())
    p.reference_share.push_back(total > 0 ? static_cast<double>(entry.count) / total : 0.0);
  p.reference_share.push_back(0.0);  // unseen
  p.reference_missing_rate = ref.missing_rate();
  return p;
}

/// The feature family's plan for `schema`, with `bins` bins per numeric feature at the
/// profile's percentiles. Throws vigil::invalid_argument when the bins of all features
/// together exceed what the request path's 32-bit cells address.
inline FeaturePlan make_feature_plan(const Schema& schema, const Profile& profile, std::size_t bins) {
  FeaturePlan plan;
  for (std::uint32_t i = 0; i < schema.numeric_count(); ++i) {
    NumericPlan p = numeric_plan(schema.name(NumericFeature{i}), profile, bins);
    NumericLanes& l = plan.lanes;
    // A feature's bins (edges + 1), spare bin and an unused one sit at the offsets of its
    // edges and three +inf.
    p.offset = l.edges.size();
    p.spare = p.offset + p.reference_share.size();
    if (l.cells.size() + p.locate.cells().size() + 1 > static_cast<std::size_t>(std::numeric_limits<std::int32_t>::max()) ||
        p.spare + 1 >= NumericLanes::dense)
      throw_invalid_argument("Monitor: too many numeric bins in all");
    l.add(p.locate, p.edges, p.offset, p.spare, p.reference_mean);
    plan.numeric.push_back(std::move(p));
  }
  plan.numeric_bins = plan.lanes.edges.size();
  for (std::uint32_t i = 0; i < schema.categorical_count(); ++i) {
    CategoricalPlan p = categorical_plan(schema.name(CategoricalFeature{i}), profile);
    p.offset = plan.categorical_bins;
    plan.categorical_bins += p.reference_share.size();
    plan.categorical.push_back(std::move(p));
  }
  return plan;
}

}  // namespace detail
}  // namespace vigil

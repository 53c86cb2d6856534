// vigil — in-process monitoring of machine-learning models in C++ inference servers.
// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "vigil/config.hpp"
#include "vigil/monitor/detail/bin_steps.hpp"
#include "vigil/monitor/detail/cache_line.hpp"
#include "vigil/monitor/detail/feature_plan.hpp"
#include "vigil/monitor/detail/request.hpp"
#include "vigil/monitor/detail/state_arrays.hpp"
#include "vigil/monitor/observation.hpp"
#include "vigil/sketch/category_counts.hpp"

namespace vigil {
namespace detail {

/// Totals of one numeric feature in an interval (FeatureState::numeric_totals()). The values
/// binned, and those outside the training range, are read off the bins (see
/// NumericPlan::edges), and the missing ones are the requests neither binned nor bad, so the
/// request path counts each value once.
struct NumericTotals {
  std::uint64_t missing = 0;  // requests without the feature
  std::uint64_t bad = 0;      // NaN, ±inf or unparsable values
  double shifted_sum = 0;     // Σ (x − reference mean) × shift_scale: the mean without cancellation or overflow
};

/// Totals of one categorical feature (FeatureState::categorical_totals()), read off its
/// bins: every value present lands in one, unseen ones in the last.
struct CategoricalTotals {
  std::uint64_t count = 0;
  std::uint64_t missing = 0;
  std::uint64_t unseen = 0;
};

/// The feature family's state of one interval: per numeric feature its bins (with a spare
/// bin for missing and bad values), Σ (x − reference mean) × shift_scale and bad values;
/// per categorical feature a count per training category plus one for unseen values, and
/// which unseen values came most.
/// Memory: 8 bytes per bin (a numeric feature has three more bins than edges), 16 per
/// numeric feature, and per categorical feature 8 bytes per training category plus a
/// CategoryCounts of 8 values, each at most Schema::max_value_bytes long (an Observation cuts
/// longer ones), so at most 8 × (sizeof(std::string) + 36 + max_value_bytes + 1) bytes of
/// unseen values whatever the requests hold (docs/guide.md, "Bounds").
struct FeatureState {
  static constexpr std::uint8_t format_version = 2;
  /// Unseen category values kept per categorical feature and interval.
  static constexpr std::size_t unseen_capacity = 8;
  // Written by one thread per request: cache lines of their own (detail::LineVector), shared
  // with nothing another thread writes.
  LineVector<std::uint64_t> numeric_bins;
  LineVector<double> numeric_shift;       // per numeric feature: Σ (x − reference mean) × shift_scale
  LineVector<std::uint64_t> numeric_bad;  // per numeric feature: NaN or ±inf values
  LineVector<std::uint64_t> categorical_bins;
  std::vector<CategoryCounts> unseen;     // which unseen labels, per categorical feature

  FeatureState() = default;
  explicit FeatureState(const FeaturePlan& plan)
      : numeric_bins(plan.numeric_bins, 0),
        numeric_shift(plan.numeric_count(), 0.0),  // lanes: a request_path() copy has no `numeric`
        numeric_bad(plan.numeric_count(), 0),
        categorical_bins(plan.categorical_bins, 0),
        unseen(plan.categorical.size(), CategoryCounts(unseen_capacity)) {}

  /// Adds one request. No allocation once the unseen-value counters reached their size.
  VIGIL_INLINE void apply(const FeaturePlan& plan, const Request& request) {
    apply_numeric(plan.lanes, request.observation);
    apply_categorical(plan, request.observation);
  }

  void merge(const FeatureState& o) {
    add_all(numeric_bins, o.numeric_bins);
    add_all(numeric_bad, o.numeric_bad);
    add_all(numeric_shift, o.numeric_shift);
    add_all(categorical_bins, o.categorical_bins);
    for (std::size_t i = 0; i < unseen.size(); ++i)
      if (!o.unseen[i].empty()) unseen[i].merge(o.unseen[i]);
  }
  void clear() {
    std::fill(numeric_bins.begin(), numeric_bins.end(), 0);
    std::fill(numeric_shift.begin(), numeric_shift.end(), 0.0);
    std::fill(numeric_bad.begin(), numeric_bad.end(), 0);
    std::fill(categorical_bins.begin(), categorical_bins.end(), 0);
    for (auto& u : unseen)
      if (!u.empty()) u.clear();
  }
  void compact() {}
  std::size_t memory_bytes() const {
    std::size_t bytes = allocated_bytes(numeric_bins) + allocated_bytes(numeric_shift) + allocated_bytes(numeric_bad) +
                        allocated_bytes(categorical_bins);
    for (const auto& u : unseen) bytes += u.memory_bytes();
    return bytes;
  }
  friend bool operator==(const FeatureState& a, const FeatureState& b) {
    return a.numeric_bins == b.numeric_bins && a.numeric_shift == b.numeric_shift && a.numeric_bad == b.numeric_bad &&
           a.categorical_bins == b.categorical_bins && a.unseen == b.unseen;
  }

  /// The format version serialize() writes: 1, whose shifts are unscaled sums, unless a sum
  /// would overflow unscaled (values near the double range), then 2, whose are scaled. Most
  /// states thus keep the bytes, and the readers, of version 1.
  std::uint8_t written_version() const {
    for (const double shift : numeric_shift)
      if (std::isfinite(shift) && !std::isfinite(shift / shift_scale)) return 2;
    return 1;
  }
  /// Payload of format version written_version() (docs/formats.md).
  void serialize(io::Writer& w) const {
    write_counts(w, numeric_bins);
    if (written_version() == 1) {
      w.varint(numeric_shift.size());
      for (const double shift : numeric_shift) w.f64(shift / shift_scale);  // exact: a power of two
    } else {
      write_values(w, numeric_shift);
    }
    write_counts(w, numeric_bad);
    write_counts(w, categorical_bins);
    w.varint(unseen.size());
    for (const auto& u : unseen) write_sketch(w, u);
  }
  /// Reads serialize()'s payload into a state shaped by `plan`; throws vigil::format_error
  /// when the sizes differ from the plan's or the unseen values were kept at another
  /// capacity.
  /// `version` is the one the payload was written in (1 or 2).
  static FeatureState deserialize(io::Reader& r, const FeaturePlan& plan, std::uint8_t version = format_version) {
    FeatureState s(plan);
    read_counts(r, s.numeric_bins, "feature bins");
    // Version 1 may hold ±inf or NaN, as its writers left a sum that values near the double
    // range overflowed.
    read_values(r, s.numeric_shift, "feature shifts");
    if (version == 1)
      for (double& shift : s.numeric_shift) shift *= shift_scale;
    read_counts(r, s.numeric_bad, "bad feature values");
    read_counts(r, s.categorical_bins, "category bins");
    read_length(r, s.unseen.size(), "unseen categories");
    for (auto& u : s.unseen) {
      u = read_sketch<CategoryCounts>(r);
      if (u.capacity() != unseen_capacity) r.fail("unseen categories kept " + std::to_string(u.capacity()) + " values");
    }
    return s;
  }
  /// Throws vigil::format_error (through `r`) unless the counts fit an interval of `requests`
  /// requests: a numeric feature's bins, its spare bin included, hold every request once, with
  /// no more bad values than the spare bin holds; no categorical feature has more values than
  /// requests.
  void check(const FeaturePlan& plan, std::uint64_t requests, const io::Reader& r) const {
    for (std::size_t i = 0; i < plan.numeric.size(); ++i) {
      const NumericPlan& p = plan.numeric[i];
      if (saturating_add(binned(p), numeric_bins[p.spare]) != requests)
        r.fail("feature '" + p.name + "' does not count every request once");
      if (numeric_bad[i] > numeric_bins[p.spare]) r.fail("feature '" + p.name + "' has more bad values than its spare bin");
    }
    for (const CategoricalPlan& p : plan.categorical)
      if (sum_of(categorical_bins, p.offset, p.reference_share.size()) > requests)
        r.fail("feature '" + p.name + "' has more values than requests");
  }

  /// Totals of numeric feature i (plan `p`) in this state.
  NumericTotals numeric_totals(const NumericPlan& p, std::size_t i) const {
    NumericTotals t;
    t.bad = numeric_bad[i];
    t.missing = numeric_bins[p.spare] - t.bad;
    t.shifted_sum = numeric_shift[i];
    return t;
  }
  /// Totals of categorical feature `p` in this state, of `requests` requests.
  CategoricalTotals categorical_totals(const CategoricalPlan& p, std::uint64_t requests) const {
    CategoricalTotals t;
    t.count = sum_of(categorical_bins, p.offset, p.reference_share.size());
    t.missing = requests - t.count;
    t.unseen = categorical_bins[p.offset + p.categories.size()];
    return t;
  }
  /// Values of numeric feature `p` binned in this state.
  std::uint64_t binned(const NumericPlan& p) const { return sum_of(numeric_bins, p.offset, p.reference_share.size()); }
  /// Values of numeric feature `p` outside the training range (0 without a reference).
  std::uint64_t out_of_range(const NumericPlan& p) const {
    if (!p.has_reference) return 0;
    return numeric_bins[p.offset] + numeric_bins[p.offset + p.reference_share.size() - 1];
  }

 private:
  // The hot loop, in blocks of features: first, in SIMD lanes, the grid cell of every value
  // (the spare cell for a missing or bad one) and the sum of the finite values' shifts; then
  // per feature one cell load, two edge compares and a bin increment. No branch depends on a
  // value; one, per request, skips the test for missing and bad values when every value is
  // a number.
  VIGIL_INLINE void apply_numeric(const NumericLanes& l, const Observation& obs) {
    const double* values = obs.numeric_values();
    const std::size_t numeric_count = l.low.size();
    const bool all_finite = obs.numeric_value_count() == numeric_count;
    constexpr std::size_t block = 16;
    for (std::size_t base = 0; base < numeric_count; base += block) {
      const std::size_t m = std::min(block, numeric_count - base);
      const double* x = values + base;
      const GridLanes g = l.from(base);
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
  }
  // Sizes and arrays in locals: the compiler cannot tell that the calls in the loop leave the
  // vectors' pointers alone.
  VIGIL_INLINE void apply_categorical(const FeaturePlan& plan, const Observation& obs) {
    const std::uint32_t categorical_count = static_cast<std::uint32_t>(plan.categorical.size());
    const CategoricalPlan* categorical = plan.categorical.data();
    std::uint64_t* category_bins = categorical_bins.data();
    for (std::uint32_t i = 0; i < categorical_count; ++i) {
      const CategoricalFeature f{i};
      if (!obs.has(f)) continue;  // missing: the requests not counted in a bin
      const CategoricalPlan& p = categorical[i];
      const std::string_view v = obs.value(f);
      const std::uint32_t id = p.categories.find(v);
      if (VIGIL_UNLIKELY(id == StringIds::none)) {
        ++category_bins[p.offset + p.categories.size()];
        unseen[i].add(v);
      } else {
        ++category_bins[p.offset + id];
      }
    }
  }
};

}  // namespace detail
}  // namespace vigil

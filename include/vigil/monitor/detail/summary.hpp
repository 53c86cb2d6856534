// vigil — in-process monitoring of machine-learning models in C++ inference servers.
// SPDX-License-Identifier: Apache-2.0
//
// The Monitor's per-interval accumulators and the immutable plan they follow.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

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
      if (c.hash == h && names_[c.id] == name) return c.id;
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
  std::vector<std::string> names_;
  std::vector<Cell> cells_;
};

/// Index of the first edge not below x (std::lower_bound) without data-dependent branches:
/// on the request path a mispredicted branch per halving costs more than the whole search.
inline std::size_t bin_of(const std::vector<double>& edges, double x) {
  std::size_t len = edges.size();
  if (len == 0) return 0;
  const double* base = edges.data();
  while (len > 1) {
    const std::size_t half = len / 2;
    base = base[half - 1] < x ? base + half : base;
    len -= half;
  }
  return static_cast<std::size_t>(base - edges.data()) + (*base < x ? 1 : 0);
}

/// What the Monitor derives from the Profile once: bin edges, reference shares, dictionaries.
struct MonitorPlan {
  struct NumericPlan {
    std::string name;
    std::vector<double> edges;            // bin i holds (edges[i-1], edges[i]]; last bin above all
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
  std::vector<NumericPlan> numeric;
  std::vector<CategoricalPlan> categorical;
  std::vector<OutputPlan> outputs;
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
    p.offset = plan.numeric_bins;
    plan.numeric_bins += p.reference_share.size();
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
  return plan;
}

/// Totals of one numeric feature in an interval.
struct NumericTotals {
  std::uint64_t count = 0;    // values binned
  std::uint64_t missing = 0;  // requests without the feature
  std::uint64_t bad = 0;      // NaN, ±inf or unparsable values
  std::uint64_t below = 0;    // values under the training minimum
  std::uint64_t above = 0;    // values over the training maximum
  double shifted_sum = 0;     // Σ (x − reference mean)
  double shifted_square_sum = 0;
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
/// Memory: 8 bytes per bin (numeric, categorical, score and class bins of the plan), 56 per
/// numeric feature, a CategoryCounts of 8 unseen labels per categorical feature, a TDigest
/// per output (δ = 50) and a latency LogHistogram.
struct IntervalSummary {
  std::uint64_t requests = 0;
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
        latency(plan.latency_scale) {}

  bool empty() const { return requests == 0; }

  void merge(const IntervalSummary& o) {
    requests += o.requests;
    for (int i = 0; i < 3; ++i) status_counts[i] += o.status_counts[i];
    add_all(numeric_bins, o.numeric_bins);
    for (std::size_t i = 0; i < numeric.size(); ++i) {
      NumericTotals& a = numeric[i];
      const NumericTotals& b = o.numeric[i];
      a.count += b.count;
      a.missing += b.missing;
      a.bad += b.bad;
      a.below += b.below;
      a.above += b.above;
      a.shifted_sum += b.shifted_sum;
      a.shifted_square_sum += b.shifted_square_sum;
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
  }

  void clear() {
    requests = 0;
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
                        outputs.capacity() * sizeof(OutputTotals) + latency.memory_bytes() - sizeof(latency);
    for (const auto& u : unseen) bytes += u.memory_bytes();
    for (const auto& d : scores) bytes += d.memory_bytes();
    return bytes;
  }

  /// Adds one request. No allocation once every sketch has reached its working size.
  void apply(const MonitorPlan& plan, const Observation& obs) {
    ++requests;
    ++status_counts[static_cast<int>(obs.status())];
    if (obs.has_latency()) {
      const double l = obs.latency();
      if (std::isfinite(l) && l >= 0) {
        latency.record(l);
      } else {
        ++bad_latency;
      }
    }
    for (std::uint32_t i = 0; i < plan.numeric.size(); ++i) {
      const MonitorPlan::NumericPlan& p = plan.numeric[i];
      NumericTotals& t = numeric[i];
      const NumericFeature f{i};
      const auto state = obs.state(f);
      if (state != Observation::State::value) {
        ++(state == Observation::State::unset ? t.missing : t.bad);
        continue;
      }
      const double x = obs.value(f);
      // Bins are right-closed: the first edge not below x.
      const std::size_t bin = bin_of(p.edges, x);
      ++numeric_bins[p.offset + bin];
      ++t.count;
      if (p.has_reference) {
        t.below += x < p.reference_min;
        t.above += x > p.reference_max;
      }
      const double d = x - p.reference_mean;
      t.shifted_sum += d;
      t.shifted_square_sum += d * d;
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
        const std::size_t bin = bin_of(p.edges, s);
        ++score_bins[p.offset + bin];
        if (p.has_threshold && !obs.has_predicted(o)) ++class_bins[p.class_offset + (s >= p.threshold ? 1 : 0)];
      }
      if (obs.has_predicted(o)) {
        const std::uint32_t id = p.classes.find(obs.predicted(o));
        ++class_bins[p.class_offset + (id == StringIds::none ? p.classes.size() : id)];
      }
    }
  }

 private:
  static void add_all(std::vector<std::uint64_t>& a, const std::vector<std::uint64_t>& b) {
    for (std::size_t i = 0; i < a.size(); ++i) a[i] += b[i];
  }
};

}  // namespace detail
}  // namespace vigil

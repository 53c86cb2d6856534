// vigil — in-process monitoring of machine-learning models in C++ inference servers.
// SPDX-License-Identifier: Apache-2.0
//
// The output family's plan (training deciles and classes per model output) and its state of
// one interval (a t-digest of the scores, counts on the deciles, counts per class, scores
// that were not finite numbers).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "vigil/config.hpp"
#include "vigil/monitor/detail/bin_locator.hpp"
#include "vigil/monitor/detail/cache_line.hpp"
#include "vigil/monitor/detail/feature_plan.hpp"
#include "vigil/monitor/detail/request.hpp"
#include "vigil/monitor/detail/state_arrays.hpp"
#include "vigil/monitor/detail/string_ids.hpp"
#include "vigil/monitor/profile.hpp"
#include "vigil/monitor/schema.hpp"
#include "vigil/sketch/tdigest.hpp"

namespace vigil {
namespace detail {

/// One output's deciles, classes and reference.
struct OutputPlan {
  std::string name;
  std::uint32_t index = 0;              // the output's index in the monitor's schema
  std::uint32_t profile_output = 0;     // the output's index in the profile's schema
  std::vector<double> edges;            // decile edges of the reference scores
  BinLocator locate;
  std::vector<double> reference_share;  // per decile bin
  std::size_t offset = 0;               // first bin in OutputState::score_bins
  StringIds classes;                    // declared classes or positive/negative
  std::vector<double> reference_class_share;  // per class, then "other"
  std::size_t class_offset = 0;
  double threshold = 0;
  bool has_threshold = false;
  bool has_reference = false;
  double reference_mean = 0;
  double reference_stddev = 0;
  /// Share of training rows without a finite score (absent, NaN or ±inf); NaN for a profile
  /// without rows, which says nothing about it.
  double reference_missing_rate = std::numeric_limits<double>::quiet_NaN();
};

/// The output family's plan.
struct OutputsPlan {
  LineVector<OutputPlan> outputs;
  std::size_t score_bins = 0;  // decile bins of all outputs
  std::size_t class_bins = 0;  // classes + 1 ("other") of all outputs
  double score_compression = 50;

  OutputsPlan request_path() const { return *this; }
  std::size_t memory_bytes() const {
    std::size_t bytes = sizeof(*this) + allocated_bytes(outputs);
    for (const OutputPlan& p : outputs)
      bytes += heap_bytes(p.name) + p.edges.capacity() * sizeof(double) + p.locate.memory_bytes() +
               p.reference_share.capacity() * sizeof(double) + p.classes.memory_bytes() +
               p.reference_class_share.capacity() * sizeof(double);
    return bytes;
  }
};

/// Output `o`'s deciles from the profile's scores, and its classes: the schema's, or
/// negative/positive for a threshold without declared classes.
inline OutputPlan output_plan(const Schema& schema, Output o, const Profile& profile) {
  OutputPlan p;
  p.name = schema.name(o);
  p.index = o.index;
  p.profile_output = profile.schema().output(p.name).index;
  const auto& ref = profile.output(Output{p.profile_output});
  p.has_reference = !ref.digest.empty();
  if (p.has_reference) {
    p.edges = quantile_edges(ref.digest, 10);
    p.reference_share = reference_shares(ref.digest, p.edges);
    p.reference_mean = ref.stats.mean();
    p.reference_stddev = ref.stats.count() > 1 ? ref.stats.stddev() : 0.0;
  } else {
    p.reference_share = {1.0};
  }
  const std::uint64_t rows = profile.rows();
  if (rows > 0) p.reference_missing_rate = static_cast<double>(ref.missing) / static_cast<double>(rows);
  p.locate = BinLocator(p.edges);
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
  return p;
}

/// The model outputs' plans; shadow outputs (OutputRole canary and challenger) are the canary
/// family's.
inline OutputsPlan make_outputs_plan(const Schema& schema, const Profile& profile) {
  OutputsPlan plan;
  for (std::uint32_t i = 0; i < schema.output_count(); ++i) {
    if (schema.role(Output{i}) != OutputRole::model) continue;
    OutputPlan p = output_plan(schema, Output{i}, profile);
    p.offset = plan.score_bins;
    plan.score_bins += p.reference_share.size();
    p.class_offset = plan.class_bins;
    plan.class_bins += p.reference_class_share.size();
    plan.outputs.push_back(std::move(p));
  }
  return plan;
}

/// Totals of one output in an interval (OutputState::totals()): every request counts once in
/// `count`, `non_finite` or `missing`.
struct OutputTotals {
  std::uint64_t count = 0;       // finite scores, read off the decile bins
  std::uint64_t non_finite = 0;  // scores given as NaN or ±inf
  std::uint64_t missing = 0;     // requests without a score
  std::uint64_t classified = 0;  // requests with a class, predicted or implied by the threshold
  /// Requests without a usable score: missing or not finite.
  std::uint64_t unusable() const { return missing + non_finite; }
};

/// The output family's state of one interval.
/// Memory: 8 bytes per decile and class bin and per output, and a t-digest per output at
/// OutputsPlan::score_compression (δ = 50: at most about 1.6 KB).
struct OutputState {
  /// Version 2 added the counts of scores that were not finite; version 1 counted them as
  /// missing, and reads so.
  static constexpr std::uint8_t format_version = 2;
  LineVector<std::uint64_t> score_bins;
  LineVector<std::uint64_t> class_bins;
  LineVector<TDigest<>> scores;
  LineVector<std::uint64_t> non_finite;  // per output: scores given as NaN or ±inf

  OutputState() = default;
  explicit OutputState(const OutputsPlan& plan)
      : score_bins(plan.score_bins, 0),
        class_bins(plan.class_bins, 0),
        scores(plan.outputs.size(), TDigest<>(plan.score_compression)),
        non_finite(plan.outputs.size(), 0) {}

  /// Adds one request: a finite score to its output's digest and decile bin (and, with a
  /// threshold and no predicted class, to the class it implies), a NaN or infinite one to
  /// the output's non-finite count; a predicted class to its class bin ("other" when
  /// undeclared).
  VIGIL_INLINE void apply(const OutputsPlan& plan, const Request& request) {
    const Observation& obs = request.observation;
    const std::uint32_t output_count = static_cast<std::uint32_t>(plan.outputs.size());
    for (std::uint32_t i = 0; i < output_count; ++i) {
      const OutputPlan& p = plan.outputs[i];
      const Output o{p.index};
      if (obs.has_score(o)) {  // else missing: counted nowhere
        const double s = obs.score(o);
        if (VIGIL_LIKELY(std::isfinite(s))) {
          scores[i].add(s);
          ++score_bins[p.offset + p.locate(s)];
          if (p.has_threshold && !obs.has_predicted(o)) ++class_bins[p.class_offset + (s >= p.threshold ? 1 : 0)];
        } else {
          ++non_finite[i];
        }
      }
      if (obs.has_predicted(o)) {
        const std::uint32_t id = p.classes.find(obs.predicted(o));
        ++class_bins[p.class_offset + (id == StringIds::none ? p.classes.size() : id)];
      }
    }
  }

  void merge(const OutputState& o) {
    add_all(score_bins, o.score_bins);
    add_all(class_bins, o.class_bins);
    add_all(non_finite, o.non_finite);
    for (std::size_t i = 0; i < scores.size(); ++i)
      if (!o.scores[i].empty()) scores[i].merge(o.scores[i]);
  }
  void clear() {
    std::fill(score_bins.begin(), score_bins.end(), 0);
    std::fill(class_bins.begin(), class_bins.end(), 0);
    std::fill(non_finite.begin(), non_finite.end(), 0);
    for (auto& s : scores)
      if (!s.empty()) s.clear();
  }
  /// Releases the scratch memory of digests that will not be added to again.
  void compact() {
    for (auto& s : scores) s.compact();
  }
  std::size_t memory_bytes() const {
    std::size_t bytes = allocated_bytes(score_bins) + allocated_bytes(class_bins) + allocated_bytes(scores) +
                        allocated_bytes(non_finite);
    for (const auto& d : scores) bytes += d.memory_bytes() - sizeof(d);  // the objects are in `scores`
    return bytes;
  }
  friend bool operator==(const OutputState& a, const OutputState& b) {
    return a.score_bins == b.score_bins && a.class_bins == b.class_bins && a.scores == b.scores &&
           a.non_finite == b.non_finite;
  }

  /// Payload of format version 2 (docs/formats.md): version 1's, then the non-finite counts.
  void serialize(io::Writer& w) const {
    write_counts(w, score_bins);
    write_counts(w, class_bins);
    w.varint(scores.size());
    for (const auto& d : scores) write_sketch(w, d);
    write_counts(w, non_finite);
  }
  /// Reads the payload of format `version` (1 or 2) into a state shaped by `plan`; a
  /// version 1 payload has no non-finite counts, and its non-finite scores stay counted as
  /// missing. Throws vigil::format_error when the sizes differ from the plan's or a digest
  /// has another compression.
  static OutputState deserialize(io::Reader& r, const OutputsPlan& plan, std::uint8_t version = format_version) {
    OutputState s(plan);
    read_counts(r, s.score_bins, "score bins");
    read_counts(r, s.class_bins, "class bins");
    read_length(r, s.scores.size(), "score digests");
    for (std::size_t i = 0; i < s.scores.size(); ++i) {
      s.scores[i] = read_sketch<TDigest<>>(r);
      const OutputPlan& p = plan.outputs[i];
      if (s.scores[i].compression() != plan.score_compression)
        r.fail("output '" + p.name + "': a digest of another compression");
    }
    if (version >= 2) read_counts(r, s.non_finite, "non-finite scores");
    return s;
  }
  /// Throws vigil::format_error (through `r`) unless the counts fit an interval of `requests`
  /// requests: per output, its digest counts as many scores as its decile bins, its finite
  /// and non-finite scores together do not outnumber the requests, nor do its classes.
  void check(const OutputsPlan& plan, std::uint64_t requests, const io::Reader& r) const {
    for (std::size_t i = 0; i < plan.outputs.size(); ++i) {
      const OutputPlan& p = plan.outputs[i];
      const std::uint64_t scored = sum_of(score_bins, p.offset, p.reference_share.size());
      if (scores[i].count() != static_cast<double>(scored))
        r.fail("output '" + p.name + "': its digest and its decile bins count different scores");
      if (scored > requests || non_finite[i] > requests - scored ||
          sum_of(class_bins, p.class_offset, p.reference_class_share.size()) > requests)
        r.fail("output '" + p.name + "' has more scores or classes than requests");
    }
  }

  /// Totals of output `p` in this state, of `requests` requests.
  OutputTotals totals(const OutputPlan& p, std::uint64_t requests) const {
    OutputTotals t;
    t.count = sum_of(score_bins, p.offset, p.reference_share.size());
    t.non_finite = non_finite[p.index];
    t.missing = requests - t.count - t.non_finite;
    t.classified = sum_of(class_bins, p.class_offset, p.reference_class_share.size());
    return t;
  }
};

}  // namespace detail
}  // namespace vigil

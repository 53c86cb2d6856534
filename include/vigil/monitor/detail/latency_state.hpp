// vigil — in-process monitoring of machine-learning models in C++ inference servers.
// SPDX-License-Identifier: Apache-2.0
//
// The latency family's plan (which tags, how many values each) and its state of one interval
// (a log-bucket histogram of latencies, and per tag value its requests and slow requests).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "vigil/config.hpp"
#include "vigil/monitor/detail/cache_line.hpp"
#include "vigil/monitor/detail/request.hpp"
#include "vigil/monitor/detail/tag_remap.hpp"
#include "vigil/monitor/detail/state_arrays.hpp"
#include "vigil/monitor/schema.hpp"
#include "vigil/sketch/log_histogram.hpp"

namespace vigil {
namespace detail {

/// The latency family's plan: per tag, where its values' counters start in
/// LatencyState::tag_requests and how many values it keeps (the last counter, max_values,
/// is "other").
struct LatencyPlan {
  LineVector<std::size_t> tag_offset;
  std::vector<std::size_t> tag_max_values;
  std::size_t tag_counters = 0;
  int latency_scale = 4;

  LatencyPlan request_path() const { return *this; }
  std::size_t memory_bytes() const {
    return sizeof(*this) + allocated_bytes(tag_offset) + tag_max_values.capacity() * sizeof(std::size_t);
  }
};

inline LatencyPlan make_latency_plan(const Schema& schema) {
  LatencyPlan plan;
  for (std::uint32_t t = 0; t < schema.tag_count(); ++t) {
    plan.tag_offset.push_back(plan.tag_counters);
    plan.tag_max_values.push_back(schema.options(Tag{t}).max_values);
    plan.tag_counters += schema.options(Tag{t}).max_values + 1;
  }
  return plan;
}

/// The latency family's state of one interval.
/// Memory: a LogHistogram at LatencyPlan::latency_scale and 16 bytes per tag value.
struct LatencyState {
  static constexpr std::uint8_t format_version = 1;
  LogHistogram latency;
  std::uint64_t bad_latency = 0;           // negative, NaN or infinite latencies: not recorded
  std::uint64_t slow = 0;                  // latencies above the slow threshold
  LineVector<std::uint64_t> tag_requests;  // per tag value (LatencyPlan::tag_offset): latencies
  LineVector<std::uint64_t> tag_slow;      // ... and slow ones among them

  LatencyState() = default;
  explicit LatencyState(const LatencyPlan& plan)
      : latency(plan.latency_scale), tag_requests(plan.tag_counters, 0), tag_slow(plan.tag_counters, 0) {}

  /// Adds the request's latency, if it has one, counting it as slow above the request's slow
  /// threshold, for every tag value of the request.
  VIGIL_INLINE void apply(const LatencyPlan& plan, const Request& request) {
    const Observation& obs = request.observation;
    if (!obs.has_latency()) return;
    const double l = obs.latency();
    if (!(std::isfinite(l) && l >= 0)) {
      ++bad_latency;
      return;
    }
    latency.record(l);
    const bool is_slow = l > request.slow_threshold;
    slow += is_slow;
    for (std::size_t t = 0; t < plan.tag_offset.size(); ++t) {
      if (request.tag_ids[t] == no_tag) continue;
      ++tag_requests[plan.tag_offset[t] + request.tag_ids[t]];
      tag_slow[plan.tag_offset[t] + request.tag_ids[t]] += is_slow;
    }
  }

  void merge(const LatencyState& o) {
    if (!o.latency.empty()) latency.merge(o.latency);
    bad_latency += o.bad_latency;
    slow += o.slow;
    add_all(tag_requests, o.tag_requests);
    add_all(tag_slow, o.tag_slow);
  }
  /// Moves the per-tag-value counters to the ids `remap` gives (merging replicas).
  void remap(const LatencyPlan& plan, const TagRemap& ids) {
    for (std::uint32_t t = 0; t < plan.tag_offset.size(); ++t) {
      remap_counters(tag_requests, plan.tag_offset[t], plan.tag_max_values[t] + 1, t, ids);
      remap_counters(tag_slow, plan.tag_offset[t], plan.tag_max_values[t] + 1, t, ids);
    }
  }
  void clear() {
    if (!latency.empty()) latency.clear();
    bad_latency = 0;
    slow = 0;
    std::fill(tag_requests.begin(), tag_requests.end(), 0);
    std::fill(tag_slow.begin(), tag_slow.end(), 0);
  }
  void compact() {}
  std::size_t memory_bytes() const {
    return latency.memory_bytes() - sizeof(latency) + allocated_bytes(tag_requests) + allocated_bytes(tag_slow);
  }
  friend bool operator==(const LatencyState& a, const LatencyState& b) {
    return a.latency == b.latency && a.bad_latency == b.bad_latency && a.slow == b.slow &&
           a.tag_requests == b.tag_requests && a.tag_slow == b.tag_slow;
  }

  /// Payload of format version 1 (docs/formats.md).
  void serialize(io::Writer& w) const {
    write_sketch(w, latency);
    w.varint(bad_latency);
    w.varint(slow);
    write_counts(w, tag_requests);
    write_counts(w, tag_slow);
  }
  /// Reads serialize()'s payload into a state shaped by `plan`; throws vigil::format_error
  /// when the sizes differ from the plan's or the histogram has other options.
  static LatencyState deserialize(io::Reader& r, const LatencyPlan& plan) {
    LatencyState s(plan);
    s.latency = read_sketch<LogHistogram>(r);
    const LogHistogramOptions& o = s.latency.options();
    if (o.zero_threshold != 0 || o.max_buckets != LogHistogramOptions{}.max_buckets || s.latency.scale() > plan.latency_scale)
      r.fail("a latency histogram of other options");
    s.bad_latency = r.varint();
    s.slow = r.varint();
    read_counts(r, s.tag_requests, "latency tag counts");
    read_counts(r, s.tag_slow, "slow tag counts");
    return s;
  }
  /// Throws vigil::format_error (through `r`) unless the counts fit an interval of `requests`
  /// requests and each other: slow ≤ latencies recorded ≤ requests, bad latencies ≤ the
  /// requests left, per tag value slow ≤ its requests, per tag its values' requests ≤ the
  /// latencies recorded.
  void check(const LatencyPlan& plan, std::uint64_t requests, const io::Reader& r) const {
    const std::uint64_t recorded = latency.count();
    if (slow > recorded) r.fail("more slow requests than latencies");
    if (recorded > requests || bad_latency > requests - recorded) r.fail("more latencies than requests");
    for (std::size_t i = 0; i < tag_slow.size(); ++i)
      if (tag_slow[i] > tag_requests[i]) r.fail("a tag value has more slow requests than requests");
    for (std::size_t t = 0; t < plan.tag_offset.size(); ++t)
      if (sum_of(tag_requests, plan.tag_offset[t], plan.tag_max_values[t] + 1) > recorded)
        r.fail("a tag's values have more latencies than the histogram");
  }
};

}  // namespace detail
}  // namespace vigil

// vigil — in-process monitoring of machine-learning models in C++ inference servers.
// SPDX-License-Identifier: Apache-2.0
//
// The composition of monitor families (docs/concepts.md, "Monitor family"): one plan made of
// every family's plan, and one interval summary made of every family's interval state.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <tuple>
#include <vector>

#include "vigil/config.hpp"
#include "vigil/io/binary.hpp"
#include "vigil/monitor/detail/request.hpp"
#include "vigil/monitor/detail/tag_remap.hpp"
#include "vigil/monitor/options.hpp"
#include "vigil/monitor/profile.hpp"
#include "vigil/monitor/schema.hpp"

namespace vigil {
namespace detail {

/// Every family's plan, derived once from the Schema, the Profile and the options.
template <class... Families>
struct BasicMonitorPlan {
  std::tuple<typename Families::Plan...> plans;

  static BasicMonitorPlan make(const Schema& schema, const Profile& profile, const MonitorOptions& options) {
    return BasicMonitorPlan{std::make_tuple(Families::make_plan(schema, profile, options)...)};
  }
  template <class F>
  const typename F::Plan& of() const {
    return std::get<typename F::Plan>(plans);
  }
  /// A copy of what the request path reads, for one shard.
  BasicMonitorPlan request_path() const { return BasicMonitorPlan{std::make_tuple(of<Families>().request_path()...)}; }
  /// Bytes of the plans, themselves included.
  std::size_t memory_bytes() const { return (of<Families>().memory_bytes() + ... + std::size_t{0}); }
};

template <class State, class Plan, class = void>
struct has_remap : std::false_type {};
template <class State, class Plan>
struct has_remap<State, Plan, std::void_t<decltype(std::declval<State&>().remap(std::declval<const Plan&>(),
                                                                                 std::declval<const TagRemap&>()))>>
    : std::true_type {};
// Only the states that count by tag value have ids to move.
template <class State, class Plan>
void remap_state(State& state, const Plan& plan, const TagRemap& ids) {
  if constexpr (has_remap<State, Plan>::value) state.remap(plan, ids);
}

/// Everything the Monitor accumulates for one interval (and, merged, for any span of them):
/// the requests and arrivals the intake counted, and every family's state.
/// Memory: 16 bytes and the families' states (see each State).
template <class... Families>
struct BasicIntervalSummary {
  using Plan = BasicMonitorPlan<Families...>;
  /// Format version of serialize() (docs/formats.md, "Interval summary").
  static constexpr std::uint8_t format_version = 1;

  std::uint64_t requests = 0;  // completions: observe() calls filed here
  std::uint64_t arrivals = 0;  // Monitor::on_arrival() calls
  std::tuple<typename Families::State...> states;

  BasicIntervalSummary() = default;
  explicit BasicIntervalSummary(const Plan& plan) : states(typename Families::State(plan.template of<Families>())...) {}

  template <class F>
  typename F::State& state() {
    return std::get<typename F::State>(states);
  }
  template <class F>
  const typename F::State& state() const {
    return std::get<typename F::State>(states);
  }

  bool empty() const { return requests == 0 && arrivals == 0; }

  /// Files one request into every family's state: `tag_ids` holds per tag of the schema
  /// its value's id (or no_tag), and a latency above `slow_threshold` is slow. No allocation
  /// once every state has reached its working size. `time` is the event time the intake
  /// placed the request at (NaN: the observation's own).
  void apply(const Plan& plan, const Observation& observation, const std::uint32_t* tag_ids, double slow_threshold,
             double time = std::numeric_limits<double>::quiet_NaN()) {
    ++requests;
    const Request request{observation, tag_ids, slow_threshold, time};
    (state<Families>().apply(plan.template of<Families>(), request), ...);
  }
  void merge(const BasicIntervalSummary& o) {
    requests += o.requests;
    arrivals += o.arrivals;
    (state<Families>().merge(o.template state<Families>()), ...);
  }
  /// Moves every tag-value-indexed counter to the ids `remap` gives: a replica's summary
  /// made to read as this monitor's (Monitor::merge).
  void remap(const Plan& plan, const TagRemap& ids) {
    (remap_state(state<Families>(), plan.template of<Families>(), ids), ...);
  }
  void clear() {
    requests = 0;
    arrivals = 0;
    (state<Families>().clear(), ...);
  }
  /// Releases scratch memory of sketches that will not be added to again.
  void compact() { (state<Families>().compact(), ...); }
  /// Bytes of this summary, itself included.
  std::size_t memory_bytes() const { return sizeof(*this) + (state<Families>().memory_bytes() + ... + std::size_t{0}); }
  friend bool operator==(const BasicIntervalSummary& a, const BasicIntervalSummary& b) {
    return a.requests == b.requests && a.arrivals == b.arrivals && a.states == b.states;
  }
  friend bool operator!=(const BasicIntervalSummary& a, const BasicIntervalSummary& b) { return !(a == b); }

  /// The summary in format version 1: the counts, then per family its id (vigil::Family), its
  /// state's format version and its state's bytes, length-prefixed.
  std::vector<std::uint8_t> serialize() const {
    std::vector<std::uint8_t> out;
    io::Writer w(out);
    w.header(io::TypeId::interval_summary, format_version);
    w.varint(requests);
    w.varint(arrivals);
    // A family whose state is empty and says so (a state with empty(): the quality family,
    // added after the format) is left out, so that summaries without its data keep the bytes
    // they had before it; a reader leaves it empty.
    w.varint((std::size_t{0} + ... + static_cast<std::size_t>(written(state<Families>(), 0))));
    (write_family<Families>(w), ...);
    return out;
  }
  /// Reads serialize()'s output into a summary shaped by `plan`. Families may come in any
  /// order; one the bytes do not hold stays empty (bytes written before it existed), which
  /// must fit the interval's requests as any state must. Throws vigil::format_error for
  /// bytes of another type, version or plan, an unknown or repeated family, counts above 2^62
  /// (no interval holds that many requests; below it, merging never overflows) and counts
  /// that contradict each other.
  static BasicIntervalSummary deserialize(const void* data, std::size_t size, const Plan& plan) {
    io::Reader r(data, size, "interval summary");
    std::uint16_t flags = 0;
    r.header(io::TypeId::interval_summary, format_version, flags);
    if (flags != 0) r.fail("unknown flags " + std::to_string(flags));
    BasicIntervalSummary s(plan);
    s.requests = r.varint();
    s.arrivals = r.varint();
    if (s.requests > max_count || s.arrivals > max_count) r.fail("a count above 2^62");
    const std::size_t families = r.count(3);
    std::uint64_t seen = 0;  // bit per family id
    for (std::size_t i = 0; i < families; ++i) {
      const std::uint8_t id = r.u8();
      if (id >= 64 || (seen >> id & 1u) != 0) r.fail("family " + std::to_string(id) + " repeated or out of range");
      seen |= std::uint64_t{1} << id;
      bool known = false;
      ((known = known || s.read_family<Families>(id, r, plan)), ...);
      if (!known) r.fail("unknown monitor family " + std::to_string(id));
    }
    r.finish();
    (s.state<Families>().check(plan.template of<Families>(), s.requests, r), ...);
    return s;
  }
  /// The largest count deserialize() accepts.
  static constexpr std::uint64_t max_count = std::uint64_t{1} << 62;
  static BasicIntervalSummary deserialize(const std::vector<std::uint8_t>& bytes, const Plan& plan) {
    return deserialize(bytes.data(), bytes.size(), plan);
  }

 private:
  template <class State>
  static auto written(const State& s, int) -> decltype(s.empty()) {
    return !s.empty();
  }
  template <class State>
  static bool written(const State&, long) {
    return true;
  }
  template <class F>
  void write_family(io::Writer& w) const {
    if (!written(state<F>(), 0)) return;
    std::vector<std::uint8_t> payload;
    io::Writer p(payload);
    state<F>().serialize(p);
    w.u8(static_cast<std::uint8_t>(F::id));
    w.u8(written_version(state<F>(), 0));
    w.varint(payload.size());
    w.bytes(payload.data(), payload.size());
  }
  // The version a state's serialize() wrote: its format_version, unless it chooses
  // (FeatureState writes the oldest version that holds it).
  template <class State>
  static auto written_version(const State& s, int) -> decltype(s.written_version()) {
    return s.written_version();
  }
  template <class State>
  static std::uint8_t written_version(const State&, long) {
    return State::format_version;
  }
  // A state whose format has had more than one version reads the version it was written in.
  template <class State, class StatePlan>
  static State read_state(io::Reader& r, const StatePlan& plan, std::uint8_t version) {
    if constexpr (State::format_version > 1) {
      return State::deserialize(r, plan, version);
    } else {
      return State::deserialize(r, plan);
    }
  }
  // Reads family F's state if `id` is F's; returns whether it was.
  template <class F>
  bool read_family(std::uint8_t id, io::Reader& r, const Plan& plan) {
    if (id != static_cast<std::uint8_t>(F::id)) return false;
    const std::uint8_t version = r.u8();
    if (version == 0 || version > F::State::format_version)
      r.fail("state format version " + std::to_string(version) + " of a family is not supported");
    std::vector<std::uint8_t> payload(r.count(1));
    for (auto& b : payload) b = r.u8();
    io::Reader p(payload.data(), payload.size(), "interval summary");
    state<F>() = read_state<typename F::State>(p, plan.template of<F>(), version);
    p.finish();
    return true;
  }
};

}  // namespace detail
}  // namespace vigil

// Snapshots of the label side of the request path and of the event-time guard: each object
// filled, saved, loaded into a fresh one built the same way, saved again to the same bytes,
// and then fed the same further input as the original, with the same results.
#include <vigil/monitor/detail/event_time.hpp>
#include <vigil/monitor/detail/label_intake.hpp>
#include <vigil/monitor/detail/label_samples.hpp>
#include <vigil/monitor/detail/label_store.hpp>
#include <vigil/monitor/detail/observation_codec.hpp>
#include <vigil/monitor/detail/tag_dictionary.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "vigil_test.hpp"

namespace label_state_test {  // named: the files of a tests/ folder may compile as one unit
namespace {

using Bytes = std::vector<std::uint8_t>;
using Log = std::vector<std::uint64_t>;
using vigil::detail::EventTimeGuard;
using vigil::detail::IntervalSamples;
using vigil::detail::LabelIntake;
using vigil::detail::LabelSampler;
using vigil::detail::LabelSampleSet;
using vigil::detail::LabelStore;
using vigil::detail::LabelStoreOptions;
using vigil::detail::PendingRequest;
using vigil::detail::request_key;

const double not_a_number = std::numeric_limits<double>::quiet_NaN();
constexpr std::uint32_t no_tag = vigil::detail::no_tag;

std::uint64_t bits(double x) {
  std::uint64_t b;
  std::memcpy(&b, &x, sizeof b);
  return b;
}

template <class T>
Bytes saved(const T& object) {
  Bytes bytes;
  vigil::io::Writer w(bytes);
  object.save(w);
  return bytes;
}

// Reads `bytes` with load(reader), which must read every byte.
template <class Load>
void load_all(const Bytes& bytes, Load&& load) {
  vigil::io::Reader r(bytes.data(), bytes.size(), "test snapshot");
  load(r);
  r.finish();
}

// Every `stride`-th prefix of `bytes`, and the longest, is refused with vigil::format_error.
template <class Load>
void refuses_prefixes(const Bytes& bytes, std::size_t stride, Load&& load) {
  REQUIRE(!bytes.empty());
  const auto refused = [&](std::size_t n) {
    const Bytes cut = vigil_test::truncated(bytes, n);
    vigil::io::Reader r(cut.data(), cut.size(), "test snapshot");
    CHECK_THROWS_AS(load(r), vigil::format_error);
  };
  for (std::size_t n = 0; n < bytes.size(); n += stride) refused(n);
  refused(bytes.size() - 1);
}

template <class Load>
std::string refusal(const Bytes& bytes, Load&& load) {
  return vigil_test::thrown_message([&] { load_all(bytes, load); });
}

bool says(const std::string& message, const char* part) { return message.find(part) != std::string::npos; }

// ---------------------------------------------------------------------------------------
// LabelStore

LabelStoreOptions store_options(std::size_t capacity, std::size_t partitions) {
  LabelStoreOptions o;
  o.capacity = capacity;
  o.time_to_live = 100;
  o.partitions = partitions;
  o.extras = 2;
  return o;
}

// What a request of id `id` filed at `t` holds: every field varies with the id.
PendingRequest request_of(std::uint64_t id, double t) {
  const double score = id % 10 == 0 ? not_a_number : static_cast<double>(id % 100) / 100;
  const std::uint32_t predicted = id % 4 == 0 ? PendingRequest::no_class : static_cast<std::uint32_t>(id % 3);
  const std::int64_t interval = std::isfinite(t) ? static_cast<std::int64_t>(std::floor(t / 10)) : -1;
  return PendingRequest{t, interval, score, predicted};
}

void log_join(LabelStore::Join result, const PendingRequest& out, const std::uint32_t* extras, Log& log) {
  log.push_back(static_cast<std::uint64_t>(result));
  log.insert(log.end(), {bits(out.time), static_cast<std::uint64_t>(out.interval), bits(out.score), out.predicted,
                         extras[0], extras[1]});
}

void log_counts(const LabelStore& s, Log& log) {
  log.insert(log.end(), {s.held(), s.pending(), s.evicted(), s.expired_unlabelled(), s.duplicate_ids()});
}

// A store's stream of operations from `seed`: requests of ids first_id on, filed at times
// from `start` on (every tenth with an id filed before, and with `bad_times` some at NaN),
// labels and conversions of recent, old and unknown ids (some dated before their request,
// some at NaN), and expiries. Every result, and the counts at the end, go to `log`. Returns
// the next id not filed.
std::uint64_t drive_store(LabelStore& s, std::uint64_t seed, std::uint64_t first_id, int steps, double start, bool bad_times,
                 Log& log) {
  std::mt19937_64 rng(seed);
  std::uint64_t next = first_id;
  for (int step = 0; step < steps; ++step) {
    const double t = start + 0.5 * step;
    const unsigned op = rng() % 100;
    const std::uint64_t recent = next - std::min<std::uint64_t>(next, rng() % 160);
    if (op < 45) {
      const std::uint64_t id = op < 5 && next > 0 ? recent : next++;
      const std::uint32_t extras[2] = {static_cast<std::uint32_t>(id % 7), id % 3 == 0 ? no_tag : static_cast<std::uint32_t>(id % 5)};
      s.insert(request_key(id), request_of(id, bad_times && op == 44 ? not_a_number : t), extras);
    } else if (op < 90) {
      const double when = bad_times && op == 89 ? not_a_number : rng() % 4 == 0 ? t - 40 : t;
      PendingRequest out{-1, -1, -1, 7};
      std::uint32_t extras[2] = {99, 99};
      const std::uint64_t key = request_key(recent + rng() % 3);
      log_join(op < 70 ? s.join(key, when, out, extras) : s.join_conversion(key, when, out, extras), out, extras, log);
    } else if (op < 95) {
      s.expire(t);
    }
  }
  log_counts(s, log);
  return next;
}

// The requests of a store's snapshot (of two extras) that wait for their part's batch.
std::size_t waiting_in(const Bytes& bytes) {
  vigil::io::Reader r(bytes.data(), bytes.size(), "label store");
  for (int i = 0; i < 4; ++i) r.varint();  // extras, counts
  const std::size_t n = r.count(45);
  std::size_t waiting = 0;
  for (std::size_t i = 0; i < n; ++i) {
    r.skip(36);
    waiting += (r.u8() & 8) != 0;
    r.skip(8);
  }
  return waiting;
}

// ---------------------------------------------------------------------------------------
// LabelIntake

// A model with two numeric features and a category (three attributions per label), a
// binary score, a cohort tag `region` and the arm tag `arm`.
struct IntakeWorld {
  vigil::Schema schema;
  vigil::Output score;
  vigil::Tag region, arm;
  vigil::MonitorOptions options;

  explicit IntakeWorld(std::size_t capacity, std::size_t region_values = 3, bool arms = true) {
    schema.add_numeric("x");
    schema.add_numeric("y");
    schema.add_categorical("c");
    vigil::OutputOptions binary;
    binary.threshold = 0.5;
    score = schema.add_output("score", binary);
    vigil::TagOptions cohort;
    cohort.max_values = region_values;
    cohort.cohort = true;
    region = schema.add_tag("region", cohort);
    vigil::TagOptions two;
    two.max_values = 2;
    arm = schema.add_tag("arm", two);
    options.label_capacity = capacity;
    options.label_time_to_live = 100;
    if (arms) options.conversion_arm = "arm";
  }
  LabelIntake intake(std::size_t shards, bool eager = false) const {
    return LabelIntake(schema, options, vigil::detail::TagDictionary(schema).cohorts(), shards, eager);
  }
};

// Files request `id` at `t` as the Intake does: tag ids as a dictionary gives them (values 0…4
// of the region, "other" beyond its max_values; arms 0…2).
void file(LabelIntake& in, const IntakeWorld& w, vigil::Observation& o, std::uint64_t id, double t) {
  o.clear();
  o.id(id);
  if (id % 9 != 0) o.score(w.score, static_cast<double>(id % 97) / 97);
  const std::size_t region_values = w.schema.options(w.region).max_values;
  std::vector<std::uint32_t> tag_ids(w.schema.tag_count(), no_tag);
  if (id % 6 != 0) tag_ids[w.region.index] = static_cast<std::uint32_t>(std::min<std::size_t>(id % 5, region_values));
  tag_ids[w.arm.index] = static_cast<std::uint32_t>(id % 3);
  std::vector<std::uint32_t> scratch(in.extras());
  in.file(o, LabelIntake::key_of(o), static_cast<std::int64_t>(std::floor(t / 10)), t, tag_ids.data(), scratch.data());
}

void log_slots(const std::uint32_t* slots, std::size_t n, Log& log) { log.insert(log.end(), slots, slots + n); }

// Drains what arrived before `before` (everything when infinite), each item into `log`.
void drain(LabelIntake& in, double before, Log& log) {
  const std::size_t k = in.cohort_count(), d = in.features();
  in.drain(before, [&](const vigil::detail::JoinedLabel& l, const std::uint32_t* slots) {
    log.insert(log.end(), {bits(l.time), bits(l.request.time), static_cast<std::uint64_t>(l.request.interval),
                           bits(l.request.score), l.request.predicted, bits(l.value.number), l.value.class_index});
    log_slots(slots, k, log);
  });
  in.drain_conversions(before, [&](const vigil::detail::JoinedConversion& c) {
    log.insert(log.end(), {bits(c.time), bits(c.request_time), c.arm});
  });
  in.drain_attributions(before, [&](const vigil::detail::JoinedAttribution& a, const double* values, const std::uint32_t* slots) {
    log.insert(log.end(), {bits(a.time), bits(a.request_time)});
    for (std::size_t j = 0; j < d; ++j) log.push_back(bits(values[j]));
    log_slots(slots, k, log);
  });
}

// What the monitor does when a staging is full: applies what is left at once.
void take_overflow(LabelIntake& in, Log& log) {
  if (!in.staging_full()) return;
  log.push_back(0xfull);
  in.take_overflow([&](const vigil::detail::JoinedLabel& l, const std::uint32_t*) { log.push_back(bits(l.time)); });
  in.take_conversion_overflow([&](const vigil::detail::JoinedConversion& c) { log.push_back(bits(c.time)); });
  in.take_attribution_overflow([&](const vigil::detail::JoinedAttribution& a, const double*, const std::uint32_t*) {
    log.push_back(bits(a.time));
  });
}

void log_intake_counts(const LabelIntake& in, Log& log) {
  const vigil::detail::LabelCounts l = in.counts();
  const vigil::detail::ConversionCounts c = in.conversion_counts();
  const vigil::detail::AttributionCounts a = in.attribution_counts();
  log.insert(log.end(), {l.received, l.joined, l.unknown_ids, l.duplicates, l.too_late, l.bad_labels, l.bad_times,
                         l.before_request, l.applied_early});
  log.insert(log.end(), {c.received, c.joined, c.unknown_ids, c.duplicates, c.too_late, c.bad_times, c.before_impression,
                         c.applied_early});
  log.insert(log.end(), {a.labels, a.wrong_count, a.bad_values, a.applied_early});
  log.insert(log.end(), {in.pending(), in.evicted(), in.expired(), in.duplicate_ids()});
}

// Labels `id` at `t` in one of its many ways: a number, a text, a bad label or time, with
// attributions of the right or wrong count, some not finite.
bool give_label(LabelIntake& in, std::uint64_t id, double t, unsigned way) {
  const std::string name = std::to_string(id);
  const double right[3] = {0.5, -0.25, way % 7 == 0 ? not_a_number : 1.0};
  const double* attributions = way % 3 == 0 ? right : nullptr;
  const std::size_t count = way % 10 == 1 ? (attributions = right, 2) : 3;
  switch (way % 5) {
    case 0: return in.label(name, 1.0, t, attributions, count);
    case 1: return in.label(name, "negative", t, attributions, count);
    case 2: return in.label(name, way % 4 == 0 ? "maybe" : "true", t, attributions, count);
    case 3: return in.label(name, way % 4 == 0 ? not_a_number : 0.0, t, attributions, count);
    default: return in.label(name, 1.0, way % 8 == 0 ? not_a_number : t, attributions, count);
  }
}

// Files 30 requests at `t`, each labelled (with attributions) and converted at once: the
// stagings fill up and are applied early.
void burst(LabelIntake& in, const IntakeWorld& w, vigil::Observation& o, std::uint64_t& next, double t, Log& log) {
  const double attributions[3] = {0.25, 0.5, -1};
  for (int i = 0; i < 30; ++i, ++next) {
    file(in, w, o, next, t);
    log.push_back(in.label(std::to_string(next), "true", t, attributions, 3));
    take_overflow(in, log);
    if (in.arm_tag() != no_tag) log.push_back(in.conversion(std::to_string(next), t));
    take_overflow(in, log);
  }
}

// An intake's stream of operations from `seed`, as drive_store's, with labels of every kind,
// responses, drains of what arrived a minute before, expiries and bursts. Results and counts
// go to `log`. Returns the next id not filed.
std::uint64_t drive_intake(LabelIntake& in, const IntakeWorld& w, std::uint64_t seed, std::uint64_t first_id, int steps,
                  double start, Log& log) {
  std::mt19937_64 rng(seed);
  vigil::Observation o(w.schema);
  std::uint64_t next = first_id;
  for (int step = 0; step < steps; ++step) {
    const double t = start + 0.5 * step;
    const unsigned op = static_cast<unsigned>(rng() % 100);
    const std::uint64_t recent = next - std::min<std::uint64_t>(next, rng() % 60) + rng() % 3;
    const double when = rng() % 5 == 0 ? t - 30 : t;
    if (op < 40) {
      file(in, w, o, op < 4 && next > 0 ? recent : next++, t);
    } else if (op < 65) {
      log.push_back(give_label(in, recent, when, static_cast<unsigned>(rng() % 1000)));
    } else if (op < 80 && in.arm_tag() != no_tag) {
      log.push_back(in.conversion(std::to_string(recent), op == 79 ? not_a_number : when));
    } else if (op < 82) {
      drain(in, t - 60, log);
    } else if (op < 86) {
      in.expire(t);
    } else if (op < 87) {
      burst(in, w, o, next, t, log);
    }
    take_overflow(in, log);
  }
  log_intake_counts(in, log);
  return next;
}

// ---------------------------------------------------------------------------------------
// Samples to label

struct SampleWorld {
  vigil::Schema schema;
  vigil::Output score;
  vigil::MonitorOptions options;

  explicit SampleWorld(double threshold = 0.3, std::size_t intervals = 4) {
    schema.add_numeric("x");
    vigil::OutputOptions binary;
    binary.threshold = threshold;
    score = schema.add_output("score", binary);
    options.label_samples = 3;
    options.fine_intervals = intervals;
  }
};

// Offers requests first…first+n−1 (scores spread over [0, 1], some without a score).
void offer(const LabelSampler& sampler, IntervalSamples& set, const SampleWorld& w, int first, int n) {
  vigil::Observation o(w.schema);
  for (int i = first; i < first + n; ++i) {
    o.clear();
    o.id("r" + std::to_string(i));
    if (i % 11 != 0) o.score(w.score, static_cast<double>((i * 37) % 101) / 100);
    sampler.offer(set, o);
  }
}

void offer_late(LabelSampler& sampler, const SampleWorld& w, std::int64_t interval, int first, int n) {
  vigil::Observation o(w.schema);
  for (int i = first; i < first + n; ++i) {
    o.clear();
    o.id("late" + std::to_string(i));
    o.score(w.score, static_cast<double>((i * 53) % 101) / 100);
    sampler.offer_late(o, interval);
  }
}

void log_samples(const vigil::LabelSamples& s, Log& log) {
  log.push_back(bits(s.interval_end));
  for (const auto* list : {&s.lowest_confidence, &s.highest_confidence, &s.near_threshold}) {
    log.push_back(list->size());
    for (const vigil::LabelSample& x : *list) {
      log.push_back(bits(x.score));
      for (char c : x.id) log.push_back(static_cast<unsigned char>(c));
    }
  }
}

// ---------------------------------------------------------------------------------------
// Observations and the event-time guard

// Every accessor of `a` and `b` gives the same, doubles to the bit.
void check_same(const vigil::Observation& a, const vigil::Observation& b) {
  const vigil::Schema& s = a.schema();
  REQUIRE(b.schema().numeric_count() == s.numeric_count());
  REQUIRE(b.schema().categorical_count() == s.categorical_count());
  REQUIRE(b.schema().output_count() == s.output_count());
  REQUIRE(b.schema().tag_count() == s.tag_count());
  for (std::uint32_t i = 0; i < s.numeric_count(); ++i) {
    CHECK(a.state(vigil::NumericFeature{i}) == b.state(vigil::NumericFeature{i}));
    CHECK(bits(a.value(vigil::NumericFeature{i})) == bits(b.value(vigil::NumericFeature{i})));
  }
  for (std::uint32_t i = 0; i < s.categorical_count(); ++i) {
    CHECK(a.has(vigil::CategoricalFeature{i}) == b.has(vigil::CategoricalFeature{i}));
    CHECK(a.value(vigil::CategoricalFeature{i}) == b.value(vigil::CategoricalFeature{i}));
  }
  for (std::uint32_t i = 0; i < s.output_count(); ++i) {
    const vigil::Output out{i};
    CHECK(a.has_score(out) == b.has_score(out));
    CHECK(bits(a.score(out)) == bits(b.score(out)));
    CHECK(a.has_predicted(out) == b.has_predicted(out));
    CHECK(a.predicted(out) == b.predicted(out));
  }
  for (std::uint32_t i = 0; i < s.tag_count(); ++i) {
    CHECK(a.has(vigil::Tag{i}) == b.has(vigil::Tag{i}));
    CHECK(a.value(vigil::Tag{i}) == b.value(vigil::Tag{i}));
  }
  CHECK(a.numeric_bad_count() == b.numeric_bad_count());
  CHECK(a.numeric_value_count() == b.numeric_value_count());
  CHECK(a.cut_values() == b.cut_values());
  CHECK(a.has_id() == b.has_id());
  CHECK(a.id() == b.id());
  CHECK(a.has_time() == b.has_time());
  CHECK(bits(a.time()) == bits(b.time()));
  CHECK(a.has_latency() == b.has_latency());
  CHECK(bits(a.latency()) == bits(b.latency()));
  CHECK(a.status() == b.status());
}

Bytes observation_bytes(const vigil::Observation& o) {
  Bytes bytes;
  vigil::io::Writer w(bytes);
  vigil::detail::save_observation(w, o);
  return bytes;
}

vigil::Observation observation_from(const Bytes& bytes, const vigil::Schema& schema) {
  vigil::io::Reader r(bytes.data(), bytes.size(), "observation");
  vigil::Observation o = vigil::detail::load_observation(r, schema);
  r.finish();
  return o;
}

// Numeric, categorical, a model output with classes and its canary, two tags.
struct ObservationWorld {
  vigil::Schema schema;
  vigil::NumericFeature a, b, c, d;
  vigil::CategoricalFeature k1, k2, k3;
  vigil::Output score, canary;
  vigil::Tag host, region;

  ObservationWorld() {
    a = schema.add_numeric("a");
    b = schema.add_numeric("b");
    c = schema.add_numeric("c");
    d = schema.add_numeric("d");
    k1 = schema.add_categorical("k1");
    k2 = schema.add_categorical("k2");
    k3 = schema.add_categorical("k3");
    vigil::OutputOptions classes;
    classes.classes = {"cat", "dog"};
    score = schema.add_output("score", classes);
    canary = schema.add_canary("score_v1", score);
    host = schema.add_tag("host");
    region = schema.add_tag("region");
  }

  // An observation with every kind of field: values, bad values (one a NaN with a payload),
  // a missing one, values kept whole and values cut (to the full length, and one and three
  // bytes short of it, on UTF-8 boundaries), slots cleared that keep their last value, a
  // cut id, a time and a status.
  vigil::Observation full() const {
    vigil::Observation o(schema);
    o.set(k3, "stale").predicted(canary, "old").tag(region, "r-old").score(canary, 0.9).latency(0.5).at(123);
    o.clear();
    std::string euros, emoji = "a", long_id(300, 'i');
    for (int i = 0; i < 100; ++i) euros += "\xE2\x82\xAC";
    for (int i = 0; i < 80; ++i) emoji += "\xF0\x9F\x98\x80";
    double payload = not_a_number;
    std::uint64_t word = bits(payload) | 0x1234;
    std::memcpy(&payload, &word, sizeof payload);
    o.set(a, 1.5).set(b, std::numeric_limits<double>::infinity()).set(c, payload);
    o.set(k1, "red").set(k2, euros).set(k3, "fresh").clear(k3);
    o.score(score, 0.25).predicted(score, "dog").predicted(canary, std::string(300, 'p'));
    o.tag(host, "h1").tag(region, emoji).id(long_id).at(1700000000.25).status(vigil::RequestStatus::timeout);
    return o;
  }
};

vigil::MonitorOptions clock_options(vigil::EventClock clock, std::size_t evidence = 3) {
  vigil::MonitorOptions o;
  o.event_clock = clock;
  o.future_tolerance = 1000;
  o.clock_skew = 10;
  o.clock_change_evidence = evidence;
  return o;
}

void log_guard(const EventTimeGuard& g, Log& log) {
  log.insert(log.end(), {g.future(), g.clock_changes(), g.holding() ? 1u : 0u});
  for (std::int64_t k = 0; k < 80; ++k) log.push_back(g.future_in(k));
  for (const double wall : {5000.0, 2e6, 4e6})
    for (const double stream : {not_a_number, 4000.0, 2e6 - 100})
      log.push_back(bits(g.bound(wall, stream)));
}

// Holds events at `times` (requests on even places, arrivals on odd ones) in `interval`;
// logs whether each proved a clock change, and adopts when one does.
void hold_all(EventTimeGuard& g, const vigil::Observation& o, const std::vector<double>& times, std::int64_t interval,
              double wall, Log& log, std::vector<vigil::detail::HeldEvent>* adopted = nullptr) {
  for (std::size_t i = 0; i < times.size(); ++i) {
    const bool proved = g.hold(times[i], i % 2 == 0 ? &o : nullptr, interval);
    log.push_back(proved);
    if (!proved) continue;
    std::vector<vigil::detail::HeldEvent> events = g.adopt(wall);
    for (auto& e : events) {
      log.push_back(bits(e.time));
      if (adopted != nullptr) adopted->push_back(std::move(e));
    }
  }
}

}  // namespace

// ---------------------------------------------------------------------------------------

TEST_CASE("Label store snapshot: an empty store round-trips and still joins", "[label_state]") {
  LabelStore original(store_options(16, 2));
  const Bytes bytes = saved(original);
  LabelStore restored(store_options(16, 2));
  load_all(bytes, [&](vigil::io::Reader& r) { restored.load(r); });
  CHECK(saved(restored) == bytes);
  Log a, b;
  drive_store(original, 1, 0, 200, 1000, true, a);
  drive_store(restored, 1, 0, 200, 1000, true, b);
  CHECK(a == b);
}

TEST_CASE("Label store snapshot: the same partitions continue exactly", "[label_state]") {
  // Small and busy: requests pushed out by capacity, aged out, replaced by a later one of
  // their id, labelled, converted; some at NaN; a batch waits to be indexed at the save.
  LabelStore original(store_options(64, 4));
  Log fill;
  const std::uint64_t next = drive_store(original, 7, 0, 700, 1000, true, fill);
  const std::uint32_t extras[2] = {1, 2};
  // Waiting for their batch: ids new, filed twice, or held already.
  for (std::uint64_t id : {next, next + 1, next, next - 1, next + 2, next - 2, next + 1})
    original.insert(request_key(id), request_of(id, 1350), extras);
  const Bytes bytes = saved(original);
  CHECK(waiting_in(bytes) == 7);
  LabelStore restored(store_options(64, 4));
  load_all(bytes, [&](vigil::io::Reader& r) { restored.load(r); });
  CHECK(saved(restored) == bytes);
  CHECK(saved(original) == bytes);  // saving changes nothing
  std::uint64_t from = next + 3;
  double start = 1351;
  for (std::uint64_t seed : {11u, 12u}) {
    Log a, b;
    const std::uint64_t after = drive_store(original, seed, from, 600, start, true, a);
    drive_store(restored, seed, from, 600, start, true, b);
    CHECK(a == b);
    from = after, start += 300;
  }
}

TEST_CASE("Label store snapshot: parts smaller than a batch continue exactly", "[label_state]") {
  // A part of 6 requests pushes out requests that wait for their batch: how many were filed
  // since the last batch decides when the next one comes.
  for (std::size_t partitions : {1u, 2u}) {
    LabelStore original(store_options(6 * partitions, partitions));
    Log fill;
    const std::uint64_t next = drive_store(original, 41, 0, 200, 1000, true, fill);
    const std::uint32_t extras[2] = {5, 6};
    for (std::uint64_t i = 0; i < 11; ++i) {
      const std::uint64_t id = i % 4 == 3 ? next + i - 2 : next + i;
      original.insert(request_key(id), request_of(id, 1100), extras);
    }
    const Bytes bytes = saved(original);
    LabelStore restored(store_options(6 * partitions, partitions));
    load_all(bytes, [&](vigil::io::Reader& r) { restored.load(r); });
    CHECK(saved(restored) == bytes);
    Log a, b;
    drive_store(original, 42, next + 11, 300, 1100.5, true, a);
    drive_store(restored, 42, next + 11, 300, 1100.5, true, b);
    CHECK(a == b);
  }
}

TEST_CASE("Label store snapshot: another partition count joins, ages and counts the same", "[label_state]") {
  LabelStore original(store_options(4096, 4));
  Log fill;
  const std::uint64_t next = drive_store(original, 21, 0, 500, 1000, false, fill);
  const std::uint32_t extras[2] = {3, 4};
  for (std::uint64_t id : {next, next + 1, next - 1, next + 2, next})  // duplicate ids waiting in a batch
    original.insert(request_key(id), request_of(id, 1250), extras);
  const Bytes bytes = saved(original);
  CHECK(waiting_in(bytes) == 5);
  for (std::size_t partitions : {1u, 2u, 8u, 16u}) {
    LabelStore restored(store_options(4096, partitions));
    load_all(bytes, [&](vigil::io::Reader& r) { restored.load(r); });
    CHECK(restored.partitions() == partitions);
    Log a, b;
    log_counts(original, a);
    log_counts(restored, b);
    drive_store(original, 22, next + 3, 500, 1251, false, a);
    drive_store(restored, 22, next + 3, 500, 1251, false, b);
    CHECK(a == b);
    // The original went on too: start the next partition count from its state.
    load_all(bytes, [&](vigil::io::Reader& r) { original.load(r); });
  }
}

TEST_CASE("Label store snapshot: parts smaller than what they are given push out their oldest, counted",
          "[label_state]") {
  LabelStore original(store_options(64, 1));
  const std::uint32_t extras[2] = {0, 0};
  for (std::uint64_t id = 0; id < 64; ++id) original.insert(request_key(id), request_of(id, 1000 + 0.5 * static_cast<double>(id)), extras);
  PendingRequest out;
  for (std::uint64_t id = 0; id < 64; id += 5) REQUIRE(original.join(request_key(id), 1040, out, nullptr) == LabelStore::Join::joined);
  const Bytes bytes = saved(original);
  LabelStore restored(store_options(64, 8));  // 8 requests a part, and the keys are not spread evenly
  load_all(bytes, [&](vigil::io::Reader& r) { restored.load(r); });
  CHECK(restored.held() <= original.held());
  // Every unlabelled request is still waiting, or was counted as pushed out.
  CHECK(restored.pending() + restored.evicted() + restored.expired_unlabelled() == original.pending());
  // The newest requests of every part are still there, with their label marks.
  std::size_t joined = 0, duplicates = 0;
  for (std::uint64_t id = 56; id < 64; ++id) {
    const LabelStore::Join j = restored.join(request_key(id), 1040, out, nullptr);
    joined += j == LabelStore::Join::joined;
    duplicates += j == LabelStore::Join::duplicate;
  }
  CHECK(joined == 7);
  CHECK(duplicates == 1);  // id 60 was labelled before the save
}

TEST_CASE("Label store snapshot: bad bytes are refused and change nothing", "[label_state]") {
  LabelStore original(store_options(32, 2));
  Log fill;
  drive_store(original, 31, 0, 120, 1000, true, fill);
  const Bytes bytes = saved(original);
  LabelStore target(store_options(32, 2));
  Log before;
  drive_store(target, 32, 0, 50, 500, false, before);
  const Bytes kept = saved(target);
  refuses_prefixes(bytes, 1, [&](vigil::io::Reader& r) { target.load(r); });
  CHECK(saved(target) == kept);

  SECTION("more requests than the capacity") {
    LabelStore big(store_options(128, 2));
    Log l;
    drive_store(big, 33, 0, 300, 1000, false, l);
    REQUIRE(big.held() > 32);
    CHECK(says(refusal(saved(big), [&](vigil::io::Reader& r) { target.load(r); }), "more than its capacity 32"));
    CHECK(saved(target) == kept);
  }
  SECTION("another number of extras") {
    LabelStoreOptions three = store_options(32, 2);
    three.extras = 3;
    LabelStore other(three);
    CHECK(says(refusal(bytes, [&](vigil::io::Reader& r) { other.load(r); }), "2 extras per request written, 3 expected"));
  }
  SECTION("marks, times and values no request can have") {
    const auto one = [](std::uint8_t marks, double time, std::uint32_t predicted, std::uint32_t extra,
                        std::int64_t interval = 3) {
      Bytes b;
      vigil::io::Writer w(b);
      for (std::uint64_t v : {2u, 0u, 0u, 0u, 1u}) w.varint(v);  // extras, counts, one request
      w.u64(42), w.f64(time), w.i64(interval), w.f64(0.5), w.u32(predicted), w.u8(marks), w.u32(extra), w.u32(no_tag);
      w.varint(1), w.varint(0);  // one part, no batch waiting
      return b;
    };
    vigil::detail::LabelStoreLimits limits;
    limits.classes = 3;
    limits.extras = {5, 2};
    const auto load = [&](vigil::io::Reader& r) { target.load(r, limits); };
    load_all(one(1 | 2 | 4, 1000, 2, 4), load);  // held, labelled, converted: fine
    CHECK(target.held() == 1);
    CHECK(says(refusal(one(2, 1000, 2, 4), load), "a replaced request has marks"));
    CHECK(says(refusal(one(1 | 2 | 8, 1000, 2, 4), load), "waiting for its batch is labelled"));
    CHECK(says(refusal(one(16, 1000, 2, 4), load), "out of range"));
    CHECK(says(refusal(one(1, not_a_number, 2, 4), load), "NaN or +inf"));
    CHECK(says(refusal(one(1, 1000, 3, 4), load), "predicted class 3"));
    load_all(one(1, 1000, 2, 4, -LabelStore::max_interval - 1), load);  // the ends of the intervals a request holds
    load_all(one(1, 1000, 2, 4, LabelStore::max_interval), load);
    CHECK(says(refusal(one(1, 1000, 2, 4, LabelStore::max_interval + 1), load), "interval 70368744177664"));
    CHECK(says(refusal(one(1, 1000, 2, 4, std::numeric_limits<std::int64_t>::min()), load), "beyond what a request can hold"));
    CHECK(says(refusal(one(1, 1000, 2, 5), load), "extra 0"));
    Bytes batch = one(1, 1000, 2, 4);
    static_assert(LabelStore::index_batch < 128, "one varint byte");
    // Requests of the part filed since its last batch: one too many.
    batch.back() = static_cast<std::uint8_t>(LabelStore::index_batch);
    const std::string batch_size = std::to_string(LabelStore::index_batch);
    CHECK(says(refusal(batch, load), (batch_size + " requests waiting for a batch of " + batch_size).c_str()));
    batch.pop_back();
    batch.back() = 0;  // no part
    CHECK(says(refusal(batch, load), "no partitions"));
    // A request filed at a time that is not finite is kept at −∞: never within its time-to-live.
    load_all(one(1, -std::numeric_limits<double>::infinity(), PendingRequest::no_class, no_tag), load);
    PendingRequest out;
    CHECK(target.join(42, 1000, out, nullptr) == LabelStore::Join::expired);
  }
}

// ---------------------------------------------------------------------------------------

TEST_CASE("Label intake snapshot: a busy intake continues exactly", "[label_state]") {
  // A small store and staging: requests pushed out, staging full and applied early.
  const IntakeWorld w(48);
  LabelIntake original = w.intake(4);
  Log fill;
  const std::uint64_t next = drive_intake(original, w, 3, 0, 600, 1000, fill);
  vigil::Observation o(w.schema);
  for (std::uint64_t id : {next, next + 1, next - 1}) file(original, w, o, id, 1300);  // waiting for their batch
  const Bytes bytes = saved(original);
  LabelIntake restored = w.intake(4);
  load_all(bytes, [&](vigil::io::Reader& r) { restored.load(r); });
  CHECK(saved(restored) == bytes);
  CHECK(saved(original) == bytes);
  {
    // The snapshot holds staged labels, responses and attributions.
    LabelIntake probe = w.intake(4);
    load_all(bytes, [&](vigil::io::Reader& r) { probe.load(r); });
    std::size_t labels = 0, conversions = 0, attributions = 0;
    const double all = std::numeric_limits<double>::infinity();
    probe.drain(all, [&](const vigil::detail::JoinedLabel&, const std::uint32_t*) { ++labels; });
    probe.drain_conversions(all, [&](const vigil::detail::JoinedConversion&) { ++conversions; });
    probe.drain_attributions(all, [&](const vigil::detail::JoinedAttribution&, const double*, const std::uint32_t*) { ++attributions; });
    CHECK(labels > 0);
    CHECK(conversions > 0);
    CHECK(attributions > 0);
  }
  Log a, b;
  drive_intake(original, w, 4, next + 2, 600, 1300.5, a);
  drive_intake(restored, w, 4, next + 2, 600, 1300.5, b);
  CHECK(a == b);
  CHECK(original.counts().applied_early > 0);
}

TEST_CASE("Label intake snapshot: another shard count joins and counts the same", "[label_state]") {
  const IntakeWorld w(2048);
  LabelIntake original = w.intake(4);
  Log fill;
  const std::uint64_t next = drive_intake(original, w, 5, 0, 400, 1000, fill);
  vigil::Observation o(w.schema);
  for (std::uint64_t id : {next, next + 1, next - 1}) file(original, w, o, id, 1200);
  const Bytes bytes = saved(original);
  for (std::size_t shards : {1u, 16u}) {
    LabelIntake restored = w.intake(shards);
    load_all(bytes, [&](vigil::io::Reader& r) { restored.load(r); });
    Log a, b;
    drive_intake(original, w, 6, next + 2, 400, 1200.5, a);
    drive_intake(restored, w, 6, next + 2, 400, 1200.5, b);
    CHECK(a == b);
    load_all(bytes, [&](vigil::io::Reader& r) { original.load(r); });
  }
}

TEST_CASE("Label intake snapshot: a store not made yet is made at the first id after the load", "[label_state]") {
  const IntakeWorld w(64, 3, false);
  LabelIntake original = w.intake(2);
  const Bytes bytes = saved(original);
  CHECK(bytes.front() == 0);  // no store
  LabelIntake restored = w.intake(2);
  load_all(bytes, [&](vigil::io::Reader& r) { restored.load(r); });
  CHECK(restored.memory_bytes() == original.memory_bytes());
  CHECK(saved(restored) == bytes);
  // An intake that made its store at once takes the snapshot as an empty store.
  LabelIntake eager = w.intake(2, true);
  vigil::Observation o(w.schema);
  file(eager, w, o, 1, 1000);
  load_all(bytes, [&](vigil::io::Reader& r) { eager.load(r); });
  CHECK(eager.pending() == 0);
  CHECK_FALSE(eager.label("1", 1.0, 1001));
  Log a, b, c;
  drive_intake(original, w, 8, 0, 300, 1000, a);
  drive_intake(restored, w, 8, 0, 300, 1000, b);
  CHECK(a == b);
  CHECK(original.memory_bytes() > saved(original).size() / 64);  // the store is made now
}

TEST_CASE("Label intake: another replica's counts add, its requests and staged labels stay there", "[label_state][merge]") {
  // Small stores and stagings: requests pushed out, duplicate ids, stagings applied early.
  const IntakeWorld w(48);
  LabelIntake a = w.intake(4), b = w.intake(2);
  Log fill;
  drive_intake(a, w, 21, 0, 500, 1000, fill);
  drive_intake(b, w, 22, 0, 700, 1000, fill);
  Log before_a, before_b, after;
  log_intake_counts(a, before_a);
  log_intake_counts(b, before_b);
  const Bytes staged_a = saved(a), staged_b = saved(b);
  a.add_counts(b);
  log_intake_counts(a, after);
  CHECK(saved(b) == staged_b);  // `other` is only read
  REQUIRE(after.size() == 25);
  constexpr std::size_t pending = 21;  // log_intake_counts: 9 label, 8 response, 4 attribution counts, then pending
  for (std::size_t i = 0; i < after.size(); ++i) {
    CAPTURE(i);
    CHECK(after[i] == (i == pending ? before_a[i] : before_a[i] + before_b[i]));
  }
  for (const std::size_t i : {0u, 1u, 8u, 9u, 10u, 17u, 20u, 22u, 24u}) {
    CAPTURE(i);
    CHECK(before_b[i] > 0);  // received, joined, applied early, evicted, duplicate ids, …
  }
  // The staged labels, responses and attributions of each are its own still: each drains
  // what a copy loaded from its bytes before the merge drains.
  const std::array<std::pair<LabelIntake*, const Bytes*>, 2> replicas{{{&a, &staged_a}, {&b, &staged_b}}};
  for (const auto& [intake, bytes] : replicas) {
    LabelIntake copy = w.intake(4);
    load_all(*bytes, [&](vigil::io::Reader& r) { copy.load(r); });
    Log drained, expected;
    drain(*intake, std::numeric_limits<double>::infinity(), drained);
    drain(copy, std::numeric_limits<double>::infinity(), expected);
    CHECK(drained == expected);
    CHECK(!drained.empty());
  }
}

TEST_CASE("Label intake: counts add into a store not made yet, and another shape is refused", "[label_state][merge]") {
  const IntakeWorld lazy(48, 3, false);
  LabelIntake made = lazy.intake(2), fresh = lazy.intake(2);
  Log fill;
  drive_intake(made, lazy, 23, 0, 400, 1000, fill);
  REQUIRE(made.evicted() > 0);
  REQUIRE(fresh.memory_bytes() < made.memory_bytes());  // no store yet
  fresh.add_counts(made);
  CHECK(fresh.evicted() == made.evicted());
  CHECK(fresh.expired() == made.expired());
  CHECK(fresh.duplicate_ids() == made.duplicate_ids());
  CHECK(fresh.pending() == 0);
  CHECK(fresh.counts().joined == made.counts().joined);
  const IntakeWorld arms(48);
  LabelIntake other = arms.intake(2);
  const Bytes before = saved(fresh);
  CHECK(says(vigil_test::thrown_message([&] { fresh.add_counts(other); }), "arm tag 1"));
  CHECK_THROWS_AS(fresh.add_counts(other), vigil::invalid_argument);
  CHECK(saved(fresh) == before);
}

TEST_CASE("Label intake snapshot: bad bytes are refused", "[label_state]") {
  const IntakeWorld w(48);
  LabelIntake original = w.intake(4);
  Log fill;
  drive_intake(original, w, 9, 0, 300, 1000, fill);
  const Bytes bytes = saved(original);
  LabelIntake target = w.intake(4);
  refuses_prefixes(bytes, 7, [&](vigil::io::Reader& r) { target.load(r); });

  SECTION("more staged labels than the staging holds") {
    LabelIntake full = w.intake(4);
    vigil::Observation o(w.schema);
    for (std::uint64_t id = 0; id < 10; ++id) file(full, w, o, id, 1000);
    for (std::uint64_t id = 0; id < 10; ++id) REQUIRE(full.label(std::to_string(id), "true", 1001));
    full.expire(1e9);  // the store is empty, the labels wait for their evaluation
    REQUIRE(full.pending() == 0);
    const IntakeWorld small(8);
    LabelIntake other = small.intake(4);
    CHECK(says(refusal(saved(full), [&](vigil::io::Reader& r) { other.load(r); }), "10 staged labels, at most 8"));
  }
  SECTION("cohort slots beyond the schema's") {
    const IntakeWorld narrow(48, 1);  // region keeps one value (and "other")
    LabelIntake other = narrow.intake(4);
    CHECK(says(refusal(bytes, [&](vigil::io::Reader& r) { other.load(r); }), "extra 0 of a request"));
  }
  SECTION("counts that do not add up") {
    const IntakeWorld lazy(48, 3, false);
    LabelIntake other = lazy.intake(4);
    const auto counts = [](std::uint64_t joined, std::uint64_t received) {
      Bytes b;
      vigil::io::Writer wr(b);
      for (int i = 0; i < 4; ++i) wr.varint(0);  // no store, no staging
      for (int i = 0; i < 4; ++i) wr.varint(0);  // attributions
      for (std::uint64_t v : {std::uint64_t{0}, joined, std::uint64_t{0}, std::uint64_t{0}, std::uint64_t{0},
                              std::uint64_t{0}, std::uint64_t{0}, std::uint64_t{0}, received})
        wr.varint(v);
      for (int i = 0; i < 8; ++i) wr.varint(0);  // responses
      return b;
    };
    load_all(counts(2, 3), [&](vigil::io::Reader& r) { other.load(r); });
    CHECK(other.counts().joined == 2);
    CHECK(other.counts().received == 3);
    CHECK(says(refusal(counts(4, 3), [&](vigil::io::Reader& r) { other.load(r); }), "outcomes of the labels received"));
  }
}

// ---------------------------------------------------------------------------------------

TEST_CASE("Samples snapshot: a shard's sets come back and keep taking the same candidates", "[label_state]") {
  const SampleWorld w;
  const LabelSampler sampler(w.schema, w.options);
  IntervalSamples original;  // not allocated before a request with an id
  IntervalSamples restored;
  load_all(saved(original), [&](vigil::io::Reader& r) { restored.load(r, sampler.rule()); });
  CHECK_FALSE(restored.allocated());
  CHECK(saved(restored) == saved(original));
  offer(sampler, original, w, 0, 40);
  original.interval = 17;
  const Bytes bytes = saved(original);
  load_all(bytes, [&](vigil::io::Reader& r) { restored.load(r, sampler.rule()); });
  CHECK(restored.allocated());
  CHECK(restored.interval == 17);
  CHECK(saved(restored) == bytes);
  Log a, b;
  log_samples(original.sorted(60), a);
  log_samples(restored.sorted(60), b);
  offer(sampler, original, w, 40, 60);
  offer(sampler, restored, w, 40, 60);
  log_samples(original.sorted(70), a);
  log_samples(restored.sorted(70), b);
  IntervalSamples merged_a = sampler.make_set(), merged_b = sampler.make_set();
  offer(sampler, merged_a, w, 200, 30);
  offer(sampler, merged_b, w, 200, 30);
  merged_a.merge(original);
  merged_b.merge(restored);
  log_samples(merged_a.sorted(80), a);
  log_samples(merged_b.sorted(80), b);
  CHECK(a == b);
  CHECK(a.size() > 40);
}

TEST_CASE("Samples snapshot: closed intervals waiting come back and are taken the same", "[label_state]") {
  const SampleWorld w;
  LabelSampler original(w.schema, w.options);
  const auto hand_over = [&](LabelSampler& s, std::int64_t k, int first) {
    IntervalSamples set = s.make_set();
    offer(s, set, w, first, 30);
    s.hand_over(set, k);
  };
  for (std::int64_t k = 5; k <= 7; ++k) hand_over(original, k, static_cast<int>(k) * 100);
  offer_late(original, w, 6, 0, 10);
  Log fill;
  log_samples(original.take(5, 50), fill);
  const Bytes bytes = saved(original);
  LabelSampler restored(w.schema, w.options);
  load_all(bytes, [&](vigil::io::Reader& r) { restored.load(r); });
  CHECK(saved(restored) == bytes);
  Log a, b;
  for (LabelSampler* s : {&original, &restored}) {
    Log& log = s == &original ? a : b;
    offer_late(*s, w, 7, 10, 10);
    offer_late(*s, w, 5, 10, 10);  // taken already: dropped
    hand_over(*s, 8, 900);
    for (std::int64_t k : {4, 6, 7, 8}) log_samples(s->take(k, static_cast<double>(k) * 10), log);
  }
  CHECK(a == b);
}

TEST_CASE("Samples snapshot: bad bytes are refused", "[label_state]") {
  const SampleWorld w;
  LabelSampler original(w.schema, w.options);
  for (std::int64_t k = 5; k <= 8; ++k) {
    IntervalSamples set = original.make_set();
    offer(original, set, w, static_cast<int>(k) * 10, 20);
    original.hand_over(set, k);
  }
  const Bytes bytes = saved(original);
  LabelSampler target(w.schema, w.options);
  refuses_prefixes(bytes, 1, [&](vigil::io::Reader& r) { target.load(r); });
  CHECK(saved(target) == saved(LabelSampler(w.schema, w.options)));  // unchanged by the refusals

  const SampleWorld two(0.3, 2);
  LabelSampler fewer(two.schema, two.options);
  CHECK(says(refusal(bytes, [&](vigil::io::Reader& r) { fewer.load(r); }), "4 intervals' samples waiting, at most 2"));

  IntervalSamples set = original.make_set();
  offer(original, set, w, 0, 30);
  const SampleWorld other_threshold(0.5);
  const LabelSampler other(other_threshold.schema, other_threshold.options);
  IntervalSamples into;
  CHECK(says(refusal(saved(set), [&](vigil::io::Reader& r) { into.load(r, other.rule()); }), "not the one its score gives"));
  CHECK(says(refusal(saved(set), [&](vigil::io::Reader& r) { into.load(r, vigil::detail::SampleRule{}); }),
             "where the options pick none"));

  LabelSampleSet five(5), three(3);
  for (int i = 0; i < 5; ++i) five.offer(i, 0.5, "id" + std::to_string(i));
  CHECK(says(refusal(saved(five), [&](vigil::io::Reader& r) { three.load(r); }), "5 candidates, at most 3"));
  const auto candidates = [](double first_key, double second_key) {
    Bytes b;
    vigil::io::Writer wr(b);
    wr.varint(2);
    wr.f64(first_key), wr.f64(0.5), wr.string("a");
    wr.f64(second_key), wr.f64(0.5), wr.string("b");
    return b;
  };
  load_all(candidates(1, 2), [&](vigil::io::Reader& r) { three.load(r); });
  CHECK(three.size() == 2);
  CHECK(three.bar() == std::numeric_limits<double>::infinity());
  CHECK(says(refusal(candidates(2, 1), [&](vigil::io::Reader& r) { three.load(r); }), "out of order"));
  CHECK(says(refusal(candidates(1, not_a_number), [&](vigil::io::Reader& r) { three.load(r); }), "not finite"));
  CHECK(three.size() == 2);
}

// ---------------------------------------------------------------------------------------

TEST_CASE("Observation snapshot: every field comes back", "[label_state]") {
  const ObservationWorld ow;
  const vigil::Observation full = ow.full();
  REQUIRE(full.cut_values() == 4);  // the second category, the canary's class, the region, the id
  REQUIRE(full.value(ow.k2).size() == vigil::Schema::max_value_bytes - 1);
  REQUIRE(full.value(ow.region).size() == vigil::Schema::max_value_bytes - 3);
  REQUIRE(full.value(ow.k3) == "fresh");  // cleared, but its slot keeps it
  REQUIRE(full.score(ow.canary) == 0.9);
  const Bytes bytes = observation_bytes(full);
  const vigil::Observation loaded = observation_from(bytes, ow.schema);
  check_same(full, loaded);
  CHECK(observation_bytes(loaded) == bytes);

  const vigil::Observation empty(ow.schema);
  check_same(empty, observation_from(observation_bytes(empty), ow.schema));

  // Values exactly as long as what is kept: whole, not cut.
  vigil::Observation longest(ow.schema);
  longest.set(ow.k1, std::string(vigil::Schema::max_value_bytes, 'k')).id(std::string(vigil::Observation::max_id_bytes, 'i'));
  longest.latency(-1).status(vigil::RequestStatus::error);
  REQUIRE(longest.cut_values() == 0);
  const vigil::Observation longest_loaded = observation_from(observation_bytes(longest), ow.schema);
  check_same(longest, longest_loaded);

  // The overload that shares a schema.
  const auto shared = std::make_shared<const vigil::Schema>(ow.schema);
  vigil::io::Reader r(bytes.data(), bytes.size(), "observation");
  const vigil::Observation sharing = vigil::detail::load_observation(r, shared);
  CHECK(&sharing.schema() == shared.get());
  check_same(full, sharing);
}

TEST_CASE("Observation snapshot: bad bytes are refused", "[label_state]") {
  const ObservationWorld ow;
  const Bytes bytes = observation_bytes(ow.full());
  refuses_prefixes(bytes, 1, [&](vigil::io::Reader& r) { vigil::detail::load_observation(r, ow.schema); });
  vigil::Schema other;
  other.add_numeric("a");
  CHECK(says(vigil_test::thrown_message([&] { observation_from(bytes, other); }), "observation's numeric features: 4 written, 1 expected"));

  vigil::Schema one;
  one.add_numeric("x");
  one.add_categorical("k");
  const auto crafted = [](std::uint8_t state, double value, std::uint8_t flag, const std::string& text) {
    Bytes b;
    vigil::io::Writer w(b);
    w.varint(1), w.u8(state), w.f64(value);
    w.varint(1), w.u8(flag), w.string(text);
    w.varint(0), w.varint(0);  // no output, no tag
    w.string(""), w.u8(0), w.u8(0), w.f64(0), w.u8(0), w.f64(0), w.u8(0);
    return b;
  };
  check_same(observation_from(crafted(1, 2.5, 1, "v"), one), observation_from(crafted(1, 2.5, 1, "v"), one));
  const auto refused = [&](const Bytes& b) { return vigil_test::thrown_message([&] { observation_from(b, one); }); };
  CHECK(says(refused(crafted(1, not_a_number, 1, "v")), "a non-finite value in state 1"));
  CHECK(says(refused(crafted(2, 2.5, 1, "v")), "a finite value in state 2"));
  CHECK(says(refused(crafted(3, 2.5, 1, "v")), "numeric value state 3 is out of range"));
  CHECK(says(refused(crafted(1, 2.5, 2, "short")), "category value cut to 5 bytes"));
  CHECK(says(refused(crafted(1, 2.5, 3, "v")), "category value 3 is out of range"));
  CHECK(says(refused(crafted(1, 2.5, 0, std::string(300, 'v'))), "category value of 300 bytes"));
}

// ---------------------------------------------------------------------------------------

TEST_CASE("Event-time guard snapshot: held events, refusals and adopted changes continue exactly", "[label_state]") {
  const ObservationWorld ow;
  const vigil::Observation o = ow.full();
  for (const vigil::EventClock clock : {vigil::EventClock::stream, vigil::EventClock::wall, vigil::EventClock::automatic}) {
    EventTimeGuard original(clock_options(clock));
    Log fill;
    hold_all(original, o, {1e6, 1e6 + 5}, 7, 5000, fill);
    original.refuse_held(7);
    hold_all(original, o, {2e6, 3e6, 3e6 + 100, 3e6 + 200}, 8, 5000, fill);  // 3e6 refuses 2e6, then a change
    hold_all(original, o, {1e7, 2e6}, 71, 5000, fill);                        // 2e6 refuses 1e7
    hold_all(original, o, {4e6, 4e6 + 1}, 9, 5000, fill);                     // held at the save
    REQUIRE(original.clock_changes() == 1);
    const Bytes bytes = saved(original);
    EventTimeGuard restored(clock_options(clock));
    load_all(bytes, [&](vigil::io::Reader& r) { restored.load(r, ow.schema); });
    CHECK(saved(restored) == bytes);
    Log a, b;
    std::vector<vigil::detail::HeldEvent> from_a, from_b;
    for (EventTimeGuard* g : {&original, &restored}) {
      Log& log = g == &original ? a : b;
      log_guard(*g, log);
      hold_all(*g, o, {4e6 + 2}, 9, 6000, log, g == &original ? &from_a : &from_b);
      hold_all(*g, o, {5e6, 9e6}, 10, 6000, log);
      g->refuse_held(12);
      log_guard(*g, log);
    }
    CHECK(a == b);
    REQUIRE(from_a.size() == 3);
    REQUIRE(from_b.size() == 3);
    for (std::size_t i = 0; i < 3; ++i) {
      CHECK(bits(from_a[i].time) == bits(from_b[i].time));
      REQUIRE((from_a[i].request != nullptr) == (from_b[i].request != nullptr));
      if (from_a[i].request) check_same(*from_a[i].request, *from_b[i].request);
    }
  }
}

TEST_CASE("Event-time guard snapshot: bad bytes are refused", "[label_state]") {
  const ObservationWorld ow;
  const vigil::Observation o = ow.full();
  EventTimeGuard automatic(clock_options(vigil::EventClock::automatic));
  EventTimeGuard wall(clock_options(vigil::EventClock::wall));
  Log fill;
  for (EventTimeGuard* g : {&automatic, &wall}) {
    hold_all(*g, o, {1e6, 1e6 + 1, 1e6 + 2}, 3, 5000, fill);  // adopted: a replay, or an offset
    hold_all(*g, o, {2e6, 2e6 + 1}, 4, 5000, fill);
  }
  const Bytes bytes = saved(automatic);
  EventTimeGuard target(clock_options(vigil::EventClock::automatic));
  hold_all(target, o, {7e6}, 1, 5000, fill);
  const Bytes kept = saved(target);
  refuses_prefixes(bytes, 1, [&](vigil::io::Reader& r) { target.load(r, ow.schema); });
  CHECK(saved(target) == kept);

  EventTimeGuard stream(clock_options(vigil::EventClock::stream));
  CHECK(says(refusal(bytes, [&](vigil::io::Reader& r) { stream.load(r, ow.schema); }), "outside automatic mode"));
  CHECK(says(refusal(saved(wall), [&](vigil::io::Reader& r) { target.load(r, ow.schema); }), "this clock mode cannot have"));
  EventTimeGuard three(clock_options(vigil::EventClock::stream));
  for (double t : {1e6, 1e6 + 1, 1e6 + 2}) three.hold(t, nullptr, 1);  // proved, not adopted
  EventTimeGuard two(clock_options(vigil::EventClock::stream, 2));
  CHECK(says(refusal(saved(three), [&](vigil::io::Reader& r) { two.load(r, ow.schema); }), "3 events held, at most 2"));

  const auto crafted = [](double first, double last, std::uint64_t future, std::uint64_t tally) {
    Bytes b;
    vigil::io::Writer w(b);
    w.f64(0), w.u8(0), w.f64(first), w.f64(last), w.varint(future), w.varint(0);
    w.varint(1), w.i64(3), w.varint(tally);
    w.varint(1), w.f64(15), w.u8(0);
    return b;
  };
  const auto load = [&](vigil::io::Reader& r) { stream.load(r, ow.schema); };
  load_all(crafted(15, 15, 2, 2), load);
  CHECK(stream.future_in(3) == 2);
  CHECK(stream.holding());
  CHECK(says(refusal(crafted(10, 20, 2, 2), load), "earliest and latest held times"));
  CHECK(says(refusal(crafted(15, 15, 1, 2), load), "more refusals per interval than refusals"));
  CHECK(says(refusal(crafted(15, 15, 1, 0), load), "an empty tally"));
}

TEST_CASE("Event-time guard snapshot: refusals before the first interval come back", "[label_state]") {
  constexpr std::int64_t none = vigil::detail::IntervalClock::none;
  EventTimeGuard original(clock_options(vigil::EventClock::wall));
  original.hold(1e6, nullptr, none);
  original.refuse_held(none);
  original.hold(2e6, nullptr, 64);
  REQUIRE(original.future_in(none) == 1);
  EventTimeGuard restored(clock_options(vigil::EventClock::wall));
  const vigil::Schema schema;
  const Bytes bytes = saved(original);
  load_all(bytes, [&](vigil::io::Reader& r) { restored.load(r, schema); });
  CHECK(saved(restored) == bytes);
  Log a, b;
  for (EventTimeGuard* g : {&original, &restored}) {
    Log& log = g == &original ? a : b;
    log.push_back(g->future_in(none));
    g->refuse_held(64);  // the slot of interval none
    log_guard(*g, log);
    log.push_back(g->future_in(none));
  }
  CHECK(a == b);
}

}  // namespace label_state_test

#include <vigil/monitor/detail/monitor_families.hpp>
#include <vigil/monitor/profile.hpp>
#include <vigil/sketch/time_windows.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "vigil_test.hpp"

namespace {

// A model with every kind of input and output, and requests that exercise every bin: missing
// and bad values, unseen categories and classes, infinite scores, latencies and tags.
struct Model {
  vigil::Schema schema;
  std::vector<vigil::NumericFeature> numeric;
  vigil::CategoricalFeature colour{0}, size{0};
  vigil::Output kind{0}, fraud{0};
  vigil::Tag host{0}, version{0};
  std::mt19937_64 rng{17};
  std::uint64_t requests = 0;  // filed so far, which decides each request's tag values

  Model() {
    for (int i = 0; i < 20; ++i) numeric.push_back(schema.add_numeric("n" + std::to_string(i)));
    colour = schema.add_categorical("colour");
    size = schema.add_categorical("size");
    vigil::OutputOptions with_classes;
    with_classes.classes = {"cat", "dog", "bird"};
    kind = schema.add_output("kind", with_classes);
    vigil::OutputOptions with_threshold;
    with_threshold.threshold = 0.5;
    fraud = schema.add_output("fraud", with_threshold);
    vigil::TagOptions hosts;
    hosts.max_values = 4;
    host = schema.add_tag("host", hosts);
    version = schema.add_tag("version");
  }
  void draw(vigil::Observation& o, bool production) {
    std::normal_distribution<double> gauss(0, 1);
    std::uniform_real_distribution<double> unit(0, 1);
    const char* colours[] = {"red", "green", "blue", "a colour longer than sixteen bytes"};
    const char* classes[] = {"cat", "dog", "bird", "fish"};
    for (std::size_t i = 0; i < numeric.size(); ++i) {
      if (production && unit(rng) < 0.05) continue;  // missing
      o.set(numeric[i], production && unit(rng) < 0.02 ? std::numeric_limits<double>::quiet_NaN()
                                                       : gauss(rng) * static_cast<double>(i + 1));
    }
    o.set(colour, colours[static_cast<int>(unit(rng) * (production ? 4 : 3))]);
    if (!production || unit(rng) < 0.9) o.set(size, production && unit(rng) < 0.1 ? "XXL" : (unit(rng) < 0.5 ? "S" : "M"));
    o.score(kind, unit(rng));
    o.predicted(kind, classes[static_cast<int>(unit(rng) * (production ? 4 : 3))]);
    o.score(fraud, production && unit(rng) < 0.01 ? std::numeric_limits<double>::infinity() : unit(rng));
    if (production) o.latency(unit(rng) < 0.01 ? -1.0 : unit(rng) * 0.1);
  }
  vigil::Profile profile() {
    vigil::Profile p(schema);
    for (int r = 0; r < 2000; ++r) {
      vigil::Observation o(schema);
      draw(o, false);
      p.add(o);
    }
    return p;
  }
  // Files `n` production requests into `summary`, with tag ids as the intake would give them.
  void fill(vigil::detail::IntervalSummary& summary, const vigil::detail::MonitorPlan& plan, int n) {
    vigil::Observation o(schema);
    std::uint32_t tag_ids[2];
    for (int i = 0; i < n; ++i) {
      o.clear();
      draw(o, true);
      const std::uint64_t r = requests++;
      tag_ids[0] = static_cast<std::uint32_t>(r % 5);  // value 4 is "other"
      tag_ids[1] = r % 7 == 0 ? vigil::detail::no_tag : static_cast<std::uint32_t>(r % 3);
      summary.apply(plan, o, tag_ids, 0.05);
    }
  }
};

// A serialized summary taken apart: its counts and its families' sections, to put back
// together in another order or with sections dropped or repeated.
struct Parts {
  std::uint64_t requests = 0, arrivals = 0;
  struct Section {
    std::uint8_t id, version;
    std::vector<std::uint8_t> payload;
  };
  std::vector<Section> sections;

  explicit Parts(const std::vector<std::uint8_t>& bytes) {
    vigil::io::Reader r(bytes.data(), bytes.size(), "test");
    std::uint16_t flags = 0;
    r.header(vigil::io::TypeId::interval_summary, 1, flags);
    requests = r.varint();
    arrivals = r.varint();
    for (std::size_t n = r.count(3), i = 0; i < n; ++i) {
      Section section{r.u8(), r.u8(), {}};
      section.payload.resize(r.count(1));
      for (auto& b : section.payload) b = r.u8();
      sections.push_back(std::move(section));
    }
  }
  std::vector<std::uint8_t> bytes() const {
    std::vector<std::uint8_t> out;
    vigil::io::Writer w(out);
    w.header(vigil::io::TypeId::interval_summary, 1);
    w.varint(requests);
    w.varint(arrivals);
    w.varint(sections.size());
    for (const Section& section : sections) {
      w.u8(section.id);
      w.u8(section.version);
      w.varint(section.payload.size());
      w.bytes(section.payload.data(), section.payload.size());
    }
    return out;
  }
};

using vigil::detail::FeatureFamily;
using vigil::detail::IntervalSummary;
using vigil::detail::LatencyFamily;
using vigil::detail::MonitorPlan;
using vigil::detail::OutputFamily;
using vigil::detail::TrafficFamily;

}  // namespace

TEST_CASE("IntervalSummary: empty, then every family's state filled", "[interval_summary]") {
  Model m;
  const MonitorPlan plan = MonitorPlan::make(m.schema, m.profile(), vigil::MonitorOptions{});
  IntervalSummary s(plan);
  CHECK(s.empty());
  CHECK(s == IntervalSummary(plan));
  m.fill(s, plan, 3000);
  CHECK(!s.empty());
  CHECK(s.requests == 3000);
  const auto& traffic = s.state<TrafficFamily>();
  CHECK(traffic.count(vigil::RequestStatus::ok) == 3000);
  const auto& latency = s.state<LatencyFamily>();
  CHECK(latency.latency.count() + latency.bad_latency == 3000);
  CHECK(latency.bad_latency > 0);
  const auto& features = s.state<FeatureFamily>();
  const auto& fp = plan.of<FeatureFamily>();
  for (std::size_t i = 0; i < fp.numeric.size(); ++i)
    CHECK(features.binned(fp.numeric[i]) + features.numeric_bins[fp.numeric[i].spare] == 3000);
  const auto& outputs = s.state<OutputFamily>();
  CHECK(outputs.scores[0].count() == 3000);
  const auto fraud = outputs.totals(plan.of<OutputFamily>().outputs[1], s.requests);
  CHECK(fraud.non_finite > 0);  // infinite fraud scores
  CHECK(fraud.missing == 0);
  s.clear();
  CHECK(s == IntervalSummary(plan));
}

TEST_CASE("IntervalSummary: merged halves count what one summary of everything counts", "[interval_summary]") {
  Model m;
  const MonitorPlan plan = MonitorPlan::make(m.schema, m.profile(), vigil::MonitorOptions{});
  Model replay;  // the same requests again, drawn by a twin generator
  replay.profile();
  IntervalSummary first(plan), second(plan), all(plan);
  m.fill(first, plan, 1500);
  m.fill(second, plan, 1500);
  replay.fill(all, plan, 3000);
  first.merge(second);
  CHECK(first.requests == all.requests);
  CHECK(first.state<FeatureFamily>().numeric_bins == all.state<FeatureFamily>().numeric_bins);
  CHECK(first.state<FeatureFamily>().numeric_bad == all.state<FeatureFamily>().numeric_bad);
  CHECK(first.state<FeatureFamily>().categorical_bins == all.state<FeatureFamily>().categorical_bins);
  CHECK(first.state<OutputFamily>().score_bins == all.state<OutputFamily>().score_bins);
  CHECK(first.state<OutputFamily>().class_bins == all.state<OutputFamily>().class_bins);
  CHECK(first.state<LatencyFamily>().tag_requests == all.state<LatencyFamily>().tag_requests);
  CHECK(first.state<LatencyFamily>().tag_slow == all.state<LatencyFamily>().tag_slow);
  // Latency buckets add up exactly (their running sums may differ in the last bits).
  const vigil::LogHistogram& merged = first.state<LatencyFamily>().latency;
  const vigil::LogHistogram& direct = all.state<LatencyFamily>().latency;
  CHECK(merged.count() == direct.count());
  for (double q : {0.1, 0.5, 0.9, 0.99}) CHECK(merged.quantile(q) == direct.quantile(q));
  CHECK(first.state<TrafficFamily>() == all.state<TrafficFamily>());
  for (std::size_t i = 0; i < 2; ++i)
    CHECK(first.state<OutputFamily>().scores[i].count() == all.state<OutputFamily>().scores[i].count());
}

TEST_CASE("IntervalSummary: serialize and deserialize give the same summary and the same bytes", "[interval_summary]") {
  Model m;
  const MonitorPlan plan = MonitorPlan::make(m.schema, m.profile(), vigil::MonitorOptions{});
  for (int n : {0, 1, 2500}) {
    INFO(n << " requests");
    IntervalSummary s(plan);
    m.fill(s, plan, n);
    ++s.arrivals;
    s.compact();
    const std::vector<std::uint8_t> bytes = s.serialize();
    const IntervalSummary back = IntervalSummary::deserialize(bytes, plan);
    CHECK(back == s);
    CHECK(back.serialize() == bytes);
  }
}

TEST_CASE("IntervalSummary: a monitor's retention of summaries reads back with the monitor's plan", "[interval_summary]") {
  Model m;
  const vigil::Profile profile = m.profile();
  const MonitorPlan plan = MonitorPlan::make(m.schema, profile, vigil::MonitorOptions{});
  vigil::TimeWindowsOptions o;
  o.fine_width = 60;
  o.fine_count = 4;
  o.coarse_width = 120;
  o.coarse_count = 2;
  o.lateness = 180;
  vigil::TimeWindows<IntervalSummary> retained(IntervalSummary(plan), o);
  for (int minute = 0; minute < 9; ++minute) {  // more than the fine ring: some roll up
    IntervalSummary s(plan);
    m.fill(s, plan, 40 + 10 * minute);
    s.arrivals = static_cast<std::uint64_t>(minute);
    IntervalSummary* at = retained.at(1.8e9 + 60.0 * minute + 1);
    REQUIRE(at != nullptr);
    at->merge(s);
  }
  const std::vector<std::uint8_t> bytes = retained.serialize();
  std::size_t reads = 0;
  const auto read = [&](const void* data, std::size_t size) {
    ++reads;
    return IntervalSummary::deserialize(data, size, plan);
  };
  const auto back = vigil::TimeWindows<IntervalSummary>::deserialize(bytes.data(), bytes.size(), read);
  CHECK(back == retained);
  CHECK(back.serialize() == bytes);
  CHECK(reads == 1 + o.fine_count + o.coarse_count);  // the prototype and every interval
  // Read with another plan, the summaries are refused, and the message says where.
  vigil::MonitorOptions coarse;
  coarse.numeric_bins = 10;
  const MonitorPlan other = MonitorPlan::make(m.schema, profile, coarse);
  const auto read_other = [&](const void* data, std::size_t size) { return IntervalSummary::deserialize(data, size, other); };
  CHECK_THROWS_WITH(vigil::TimeWindows<IntervalSummary>::deserialize(bytes.data(), bytes.size(), read_other),
                    Catch::Contains("an interval's sketch") && Catch::Contains("feature bins"));
}

TEST_CASE("IntervalSummary: bad bytes are refused", "[interval_summary]") {
  Model m;
  const vigil::Profile profile = m.profile();
  const MonitorPlan plan = MonitorPlan::make(m.schema, profile, vigil::MonitorOptions{});
  IntervalSummary s(plan);
  m.fill(s, plan, 200);
  const std::vector<std::uint8_t> bytes = s.serialize();
  for (std::size_t n = 0; n < bytes.size(); ++n)
    CHECK_THROWS_AS(IntervalSummary::deserialize(vigil_test::truncated(bytes, n), plan), vigil::format_error);
  // The bytes of another plan: fewer bins per numeric feature.
  vigil::MonitorOptions coarse;
  coarse.numeric_bins = 10;
  CHECK_THROWS_WITH(IntervalSummary::deserialize(bytes, MonitorPlan::make(m.schema, profile, coarse)),
                    Catch::Contains("feature bins"));
  // One request more than the families counted.
  IntervalSummary inflated = s;
  ++inflated.requests;
  CHECK_THROWS_WITH(IntervalSummary::deserialize(inflated.serialize(), plan), Catch::Contains("requests"));
  // A state of a format version this build does not know.
  std::vector<std::uint8_t> future = bytes;
  // After the header, the counts 200 (two bytes) and 0, and the family count: the first
  // family's id, then its state's version.
  const std::size_t version = vigil::io::header_size + 2 + 1 + 1 + 1;
  REQUIRE(future[version] == 1);
  future[version] = 9;
  CHECK_THROWS_WITH(IntervalSummary::deserialize(future, plan), Catch::Contains("version 9"));
}

TEST_CASE("MonitorPlan: request_path() holds everything apply() reads, in less memory", "[interval_summary]") {
  Model m;
  const MonitorPlan plan = MonitorPlan::make(m.schema, m.profile(), vigil::MonitorOptions{});
  const MonitorPlan copy = plan.request_path();
  CHECK(copy.of<FeatureFamily>().numeric.empty());
  CHECK(copy.memory_bytes() < plan.memory_bytes());
  CHECK(copy.of<FeatureFamily>().lanes.edges == plan.of<FeatureFamily>().lanes.edges);
  CHECK(copy.of<FeatureFamily>().lanes.cells == plan.of<FeatureFamily>().lanes.cells);
  CHECK(copy.of<LatencyFamily>().tag_offset == plan.of<LatencyFamily>().tag_offset);
  CHECK(copy.of<LatencyFamily>().tag_max_values == plan.of<LatencyFamily>().tag_max_values);
  // Summaries built from the copy have the whole plan's shape, and file requests the same.
  CHECK(IntervalSummary(copy).memory_bytes() == IntervalSummary(plan).memory_bytes());
  Model twin;
  twin.profile();
  IntervalSummary whole(plan), from_copy(copy);
  m.fill(whole, plan, 5000);
  twin.fill(from_copy, copy, 5000);
  CHECK(from_copy == whole);
  // Something landed everywhere the comparison looks: unseen labels, bad values, classes.
  const auto& f = whole.state<FeatureFamily>();
  const auto& c0 = plan.of<FeatureFamily>().categorical[0];
  CHECK(f.categorical_bins[c0.offset + c0.categories.size()] > 0);
  CHECK(std::accumulate(f.numeric_bad.begin(), f.numeric_bad.end(), std::uint64_t{0}) > 0);
  const auto& classes = whole.state<OutputFamily>().class_bins;
  CHECK(std::accumulate(classes.begin(), classes.end(), std::uint64_t{0}) > 0);
  const auto& slow = whole.state<LatencyFamily>().tag_slow;
  CHECK(std::accumulate(slow.begin(), slow.end(), std::uint64_t{0}) > 0);
}

TEST_CASE("IntervalSummary: families in any order, an absent one stays empty, an unknown or repeated one is refused",
          "[interval_summary]") {
  Model m;
  const MonitorPlan plan = MonitorPlan::make(m.schema, m.profile(), vigil::MonitorOptions{});
  IntervalSummary s(plan);
  m.fill(s, plan, 500);
  s.compact();
  const Parts parts(s.serialize());
  REQUIRE(parts.sections.size() == 4);
  Parts reversed = parts;
  std::reverse(reversed.sections.begin(), reversed.sections.end());
  CHECK(IntervalSummary::deserialize(reversed.bytes(), plan) == s);
  // Bytes of an interval without requests, written before the latency family existed.
  Parts older = parts;
  older.requests = 0;
  older.arrivals = 3;
  older.sections.clear();
  for (const auto& section : parts.sections)
    if (section.id == static_cast<std::uint8_t>(vigil::Family::traffic)) older.sections.push_back(section);
  older.sections.back().payload = {3, 0, 0, 0};  // no request of any status
  const IntervalSummary quiet = IntervalSummary::deserialize(older.bytes(), plan);
  CHECK(quiet.arrivals == 3);
  CHECK(quiet.state<LatencyFamily>() == IntervalSummary(plan).state<LatencyFamily>());
  // Requests the families would have counted, without the families: refused.
  Parts without = parts;
  without.sections.erase(std::remove_if(without.sections.begin(), without.sections.end(),
                                        [](const Parts::Section& section) {
                                          return section.id == static_cast<std::uint8_t>(vigil::Family::features);
                                        }),
                         without.sections.end());
  REQUIRE(without.sections.size() == 3);
  CHECK_THROWS_WITH(IntervalSummary::deserialize(without.bytes(), plan), Catch::Contains("does not count every request once"));
  Parts repeated = parts;
  repeated.sections.push_back(parts.sections.front());
  CHECK_THROWS_WITH(IntervalSummary::deserialize(repeated.bytes(), plan), Catch::Contains("repeated"));
  Parts unknown = parts;
  unknown.sections.back().id = 17;
  CHECK_THROWS_WITH(IntervalSummary::deserialize(unknown.bytes(), plan), Catch::Contains("unknown monitor family 17"));
  Parts huge = parts;
  huge.requests = (std::uint64_t{1} << 62) + 1;
  CHECK_THROWS_WITH(IntervalSummary::deserialize(huge.bytes(), plan), Catch::Contains("2^62"));
}

TEST_CASE("IntervalSummary: sketches of other options than the plan's are refused", "[interval_summary]") {
  Model m;
  const MonitorPlan plan = MonitorPlan::make(m.schema, m.profile(), vigil::MonitorOptions{});
  IntervalSummary s(plan);
  m.fill(s, plan, 300);
  s.compact();
  // Unseen values kept with another capacity: a later merge would throw.
  IntervalSummary wider = s;
  wider.state<FeatureFamily>().unseen[0] = vigil::CategoryCounts(64);
  CHECK_THROWS_WITH(IntervalSummary::deserialize(wider.serialize(), plan), Catch::Contains("unseen categories"));
  // A score digest of another compression.
  IntervalSummary finer = s;
  vigil::TDigest<> digest(200);
  for (int i = 0; i < 300; ++i) digest.add(0.5);
  finer.state<OutputFamily>().scores[0] = digest;
  CHECK_THROWS_WITH(IntervalSummary::deserialize(finer.serialize(), plan), Catch::Contains("another compression"));
  // A latency histogram with a zero bucket.
  IntervalSummary zeroed = s;
  vigil::LogHistogramOptions options;
  options.zero_threshold = 0.001;
  options.scale = 4;
  vigil::LogHistogram latency(options);
  latency.record(0.02, s.state<LatencyFamily>().latency.count());  // the same count, so only the options differ
  zeroed.state<LatencyFamily>().latency = latency;
  CHECK_THROWS_WITH(IntervalSummary::deserialize(zeroed.serialize(), plan), Catch::Contains("other options"));
}

TEST_CASE("IntervalSummary: what the request path and merges make is read back", "[interval_summary]") {
  Model m;
  const MonitorPlan plan = MonitorPlan::make(m.schema, m.profile(), vigil::MonitorOptions{});
  // Two hundred intervals merged, as a coarse roll-up holds them.
  IntervalSummary rolled(plan);
  for (int i = 0; i < 200; ++i) {
    IntervalSummary one(plan);
    m.fill(one, plan, 50);
    rolled.merge(one);
  }
  rolled.compact();
  CHECK(IntervalSummary::deserialize(rolled.serialize(), plan) == rolled);
  // Latencies over seventy octaves: the histogram downscales below the plan's scale.
  IntervalSummary wide(plan);
  vigil::Observation o(m.schema);
  const std::uint32_t tags[2] = {vigil::detail::no_tag, vigil::detail::no_tag};
  for (int i = 0; i < 2000; ++i) {
    o.clear();
    o.latency(std::ldexp(1.0, i % 70 - 30));
    wide.apply(plan, o, tags, 0.05);
  }
  REQUIRE(wide.state<LatencyFamily>().latency.scale() < plan.of<LatencyFamily>().latency_scale);
  CHECK(IntervalSummary::deserialize(wide.serialize(), plan) == wide);
  // Values near the double range: a feature's sum of shifts, scaled, stays finite, and the
  // summary, holding it in the feature state's version 2, reads back the same.
  IntervalSummary huge(plan);
  for (int i = 0; i < 3; ++i) {
    o.clear();
    o.set(m.numeric[0], 1.5e308);
    huge.apply(plan, o, tags, 0.05);
  }
  REQUIRE(std::isfinite(huge.state<FeatureFamily>().numeric_shift[0]));
  CHECK(huge.state<FeatureFamily>().written_version() == 2);
  const IntervalSummary back = IntervalSummary::deserialize(huge.serialize(), plan);
  CHECK(back == huge);
  CHECK(back.requests == 3);
}

// The bad-input matrix of docs/bad_input.md, one test per row: each kind of bad input a
// caller or a file can give the library, and what happens to it (the exception it throws or
// the counter that counts it). A row's test is named after the row, so the document cites it.
#include <vigil/vigil.hpp>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "vigil_test.hpp"

namespace {

constexpr double bad_input_t0 = 1767225600;  // 2026-01-01T00:00:00Z, an interval boundary
constexpr double bad_input_inf = std::numeric_limits<double>::infinity();

// A model with one numeric feature, one categorical feature, a scored output with classes
// and a tag, trained on 200 rows: amount 0..99, channel web/app, score 0..0.9, class a/b.
struct BadInputModel {
  vigil::Schema schema;
  vigil::NumericFeature amount;
  vigil::CategoricalFeature channel;
  vigil::Output score;
  vigil::Tag host;

  BadInputModel() {
    amount = schema.add_numeric("amount");
    channel = schema.add_categorical("channel");
    vigil::OutputOptions classes;
    classes.classes = {"a", "b"};
    score = schema.add_output("score", classes);
    host = schema.add_tag("host");
  }

  // A valid request: every field set.
  void fill(vigil::Observation& o, int i) const {
    o.clear();
    o.set(amount, static_cast<double>(i % 100));
    o.set(channel, i % 2 ? "web" : "app");
    o.score(score, (i % 10) / 10.0);
    o.predicted(score, i % 2 ? "a" : "b");
    o.tag(host, "h1");
  }

  vigil::Profile profile() const {
    vigil::Profile p(schema);
    vigil::Observation o(schema);
    for (int i = 0; i < 200; ++i) {
      fill(o, i);
      p.add(o);
    }
    return p;
  }

  // Options judged by the stream's own time, so that tests do not depend on the wall clock.
  static vigil::MonitorOptions options() {
    vigil::MonitorOptions options;
    options.event_clock = vigil::EventClock::stream;
    return options;
  }
};

// The report of one interval [t0, t0 + 60) of `requests` valid requests, where `edit(o, i)`
// alters request i after it was filled.
vigil::Report bad_input_interval(int requests, const std::function<void(vigil::Observation&, int)>& edit) {
  const BadInputModel m;
  vigil::Monitor monitor(m.schema, m.profile(), BadInputModel::options());
  vigil::Observation o(m.schema);
  for (int i = 0; i < requests; ++i) {
    m.fill(o, i);
    o.at(bad_input_t0 + 1 + i * 0.1);
    edit(o, i);
    monitor.observe(o);
  }
  return monitor.finish();
}

// A valid serialized object of every type that has a binary format, with its name.
std::vector<std::pair<std::string, std::vector<std::uint8_t>>> bad_input_valid_objects() {
  vigil::TDigest<> digest(100);
  vigil::TDigest<float> float_digest(100);
  vigil::LogHistogram histogram;
  vigil::RunningStats stats;
  vigil::Ewma ewma(60);
  vigil::EventRate rate(60);
  vigil::CategoryCounts counts(4);
  vigil::TimeWindows<vigil::TDigest<>> windows(vigil::TDigest<>(50));
  for (int i = 0; i < 100; ++i) {
    digest.add(i * 0.5);
    float_digest.add(static_cast<float>(i));
    histogram.record(0.001 * (i + 1));
    stats.add(i);
    ewma.add(i, bad_input_t0 + i);
    rate.add(bad_input_t0 + i);
    counts.add(std::string(1, static_cast<char>('a' + i % 7)));
    windows.add(bad_input_t0 + i * 10, i);
  }
  return {{"TDigest<double>", digest.serialize()},   {"TDigest<float>", float_digest.serialize()},
          {"LogHistogram", histogram.serialize()},   {"RunningStats", stats.serialize()},
          {"Ewma", ewma.serialize()},                {"EventRate", rate.serialize()},
          {"CategoryCounts", counts.serialize()},    {"TimeWindows<TDigest>", windows.serialize()},
          {"Profile", BadInputModel().profile().serialize()}};
}

// Reads `bytes` as the object type named `type`, as its deserialize() does.
void bad_input_read(const std::string& type, const std::vector<std::uint8_t>& bytes) {
  if (type == "TDigest<double>") (void)vigil::TDigest<>::deserialize(bytes);
  else if (type == "TDigest<float>") (void)vigil::TDigest<float>::deserialize(bytes);
  else if (type == "LogHistogram") (void)vigil::LogHistogram::deserialize(bytes);
  else if (type == "RunningStats") (void)vigil::RunningStats::deserialize(bytes);
  else if (type == "Ewma") (void)vigil::Ewma::deserialize(bytes);
  else if (type == "EventRate") (void)vigil::EventRate::deserialize(bytes);
  else if (type == "CategoryCounts") (void)vigil::CategoryCounts::deserialize(bytes);
  else if (type == "TimeWindows<TDigest>") (void)vigil::TimeWindows<vigil::TDigest<>>::deserialize(bytes);
  else if (type == "Profile") (void)vigil::Profile::deserialize(bytes);
  else FAIL("no reader for " << type);
}

// The message of the format_error that reading `bytes` as `type` throws; fails the test when
// it throws nothing or anything else.
std::string bad_input_format_error(const std::string& type, const std::vector<std::uint8_t>& bytes) {
  try {
    bad_input_read(type, bytes);
  } catch (const vigil::format_error& e) {
    return e.what();
  } catch (const std::exception& e) {
    FAIL(type << " threw another exception: " << e.what());
  }
  FAIL(type << " accepted the bytes");
  return "";
}

// A scratch file removed at the end of the test.
class BadInputFile {
 public:
  explicit BadInputFile(const std::string& name) {
    std::random_device seed;
    path_ = (std::filesystem::temp_directory_path() / ("vigil-bad-input-" + std::to_string(seed()) + "-" + name)).string();
  }
  ~BadInputFile() {
    std::error_code ignored;
    std::filesystem::remove(path_, ignored);
  }
  BadInputFile(const BadInputFile&) = delete;
  BadInputFile& operator=(const BadInputFile&) = delete;
  const std::string& path() const { return path_; }
  void write(const std::vector<std::uint8_t>& bytes) const {
    std::ofstream out(path_, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  }

 private:
  std::string path_;
};

}  // namespace

// --- Feature values given to Observation and observe() -----------------------------------

TEST_CASE("bad input: a NaN or infinite numeric feature value is counted in bad_values, not as a value",
          "[bad_input]") {
  const vigil::Report r = bad_input_interval(20, [](vigil::Observation& o, int i) {
    const BadInputModel m;
    if (i == 0) o.set(m.amount, std::nan(""));
    if (i == 1) o.set(m.amount, bad_input_inf);
    if (i == 2) o.set(m.amount, -bad_input_inf);
  });
  const vigil::FeatureReport& f = r.features.at(0);
  REQUIRE(f.name == "amount");
  CHECK(f.bad_values == 3);
  CHECK(f.recent_requests == 20);
  CHECK(f.recent_count == 17);
  CHECK(f.missing_rate == 0.0);
  CHECK(r.counters.observed == 20);
}

TEST_CASE("bad input: a subnormal numeric feature value is an ordinary value", "[bad_input]") {
  const vigil::Report r = bad_input_interval(20, [](vigil::Observation& o, int i) {
    if (i < 5) o.set(BadInputModel().amount, 5e-324);
  });
  const vigil::FeatureReport& f = r.features.at(0);
  CHECK(f.bad_values == 0);
  CHECK(f.recent_count == 20);
  CHECK(f.out_of_range_rate == 0.0);  // training's range is [0, 99]
}

TEST_CASE("bad input: a numeric feature value outside training's range is counted in out_of_range_rate",
          "[bad_input]") {
  const vigil::Report r = bad_input_interval(20, [](vigil::Observation& o, int i) {
    if (i < 4) o.set(BadInputModel().amount, 1e6);
  });
  const vigil::FeatureReport& f = r.features.at(0);
  CHECK(f.bad_values == 0);
  CHECK(f.recent_count == 20);
  CHECK(f.out_of_range_rate == Approx(0.2));
}

TEST_CASE("bad input: a feature never set or cleared is counted in missing_rate", "[bad_input]") {
  const vigil::Report r = bad_input_interval(20, [](vigil::Observation& o, int i) {
    const BadInputModel m;
    if (i < 5) o.clear(m.amount);
    if (i < 2) o.clear(m.channel);
  });
  CHECK(r.features.at(0).missing_rate == Approx(0.25));
  CHECK(r.features.at(0).recent_count == 15);
  CHECK(r.features.at(0).bad_values == 0);
  CHECK(r.features.at(1).missing_rate == Approx(0.1));
  CHECK(r.features.at(1).recent_count == 18);
}

TEST_CASE("bad input: an unknown feature name in a name-based setter throws invalid_argument", "[bad_input]") {
  const BadInputModel m;
  vigil::Observation o(m.schema);
  CHECK_THROWS_AS(o.set("amont", 1.0), vigil::invalid_argument);
  CHECK_THROWS_WITH(o.set("amont", 1.0), "Schema: no numeric feature named 'amont'");
  CHECK_THROWS_WITH(o.set("chanel", "web"), "Schema: no categorical feature named 'chanel'");
  CHECK(o.state(m.amount) == vigil::Observation::State::unset);
}

TEST_CASE("bad input: a value of the wrong type for a feature throws invalid_argument", "[bad_input]") {
  const BadInputModel m;
  vigil::Observation o(m.schema);
  CHECK_THROWS_AS(o.set("channel", 1.0), vigil::invalid_argument);
  CHECK_THROWS_WITH(o.set("channel", 1.0), "Schema: no numeric feature named 'channel'");
  CHECK_THROWS_WITH(o.set("amount", "12"), "Schema: no categorical feature named 'amount'");
  CHECK_FALSE(o.has(m.channel));
}

TEST_CASE("bad input: a handle of another schema throws invalid_argument", "[bad_input]") {
  const BadInputModel m;
  vigil::Observation o(m.schema);
  CHECK_THROWS_AS(o.set(vigil::NumericFeature{7}, 1.0), vigil::invalid_argument);
  CHECK_THROWS_WITH(o.set(vigil::NumericFeature{7}, 1.0),
                    "Observation: numeric feature handle 7 does not belong to this schema");
  CHECK_THROWS_AS(o.tag(vigil::Tag{3}, "h1"), vigil::invalid_argument);
  CHECK_THROWS_AS(o.score(vigil::Output{1}, 0.5), vigil::invalid_argument);
}

TEST_CASE("bad input: a category never seen in training is counted in unseen_rate and unseen_values",
          "[bad_input]") {
  const vigil::Report r = bad_input_interval(20, [](vigil::Observation& o, int i) {
    if (i < 3) o.set(BadInputModel().channel, "kiosk");
  });
  const vigil::FeatureReport& f = r.features.at(1);
  REQUIRE(f.name == "channel");
  CHECK(f.recent_count == 20);
  CHECK(f.unseen_rate == Approx(0.15));
  REQUIRE(f.unseen_values.size() == 1);
  CHECK(f.unseen_values[0] == std::make_pair(std::string("kiosk"), std::uint64_t{3}));
}

TEST_CASE("bad input: an observation made for another schema throws invalid_argument", "[bad_input]") {
  const BadInputModel m;
  vigil::Monitor monitor(m.schema, m.profile(), BadInputModel::options());
  // Same shape, names swapped: its handles would file values under the wrong features.
  vigil::Schema swapped;
  swapped.add_numeric("amount");
  swapped.add_categorical("channel");
  swapped.add_output("score");
  swapped.add_tag("region");
  vigil::Observation o(swapped);
  o.at(bad_input_t0 + 1).set(vigil::NumericFeature{0}, 1.0);
  CHECK_THROWS_AS(monitor.observe(o), vigil::invalid_argument);
  CHECK_THROWS_WITH(monitor.observe(o), Catch::Contains("another schema"));
  vigil::Schema other;
  other.add_numeric("x");
  CHECK_THROWS_AS(monitor.observe(vigil::Observation(other)), vigil::invalid_argument);
  CHECK(monitor.observed() == 0);
}

// --- Event times ---------------------------------------------------------------------------

TEST_CASE("bad input: a NaN or infinite event time is counted in counters.bad_time and dropped", "[bad_input]") {
  const vigil::Report r = bad_input_interval(20, [](vigil::Observation& o, int i) {
    if (i == 3) o.at(std::nan(""));
    if (i == 4) o.at(bad_input_inf);
    if (i == 5) o.at(-bad_input_inf);
  });
  CHECK(r.counters.bad_time == 3);
  CHECK(r.counters.observed == 17);
  CHECK(r.recent_requests == 17);
}

TEST_CASE("bad input: an event time 2^46 intervals or more from the epoch is counted in counters.bad_time, its id never filed",
          "[bad_input]") {
  const BadInputModel m;
  vigil::Monitor monitor(m.schema, m.profile(), BadInputModel::options());  // intervals of 60 s
  vigil::Observation o(m.schema);
  const double beyond = 60 * 70368744177664.0;  // 2^46 intervals
  m.fill(o, 0);
  monitor.observe(o.at(bad_input_t0).id("kept"));
  m.fill(o, 1);
  monitor.observe(o.at(beyond).id("far"));
  m.fill(o, 2);
  monitor.observe(o.at(-beyond).id("far back"));
  m.fill(o, 3);
  monitor.observe(o.at(1e300).id("absurd"));
  CHECK_FALSE(monitor.on_label("far", 1.0, bad_input_t0 + 1));
  CHECK_FALSE(monitor.on_label("absurd", 1.0, bad_input_t0 + 1));
  CHECK(monitor.on_label("kept", 1.0, bad_input_t0 + 1));
  const vigil::Report r = monitor.finish();
  CHECK(r.counters.bad_time == 3);
  CHECK(r.counters.observed == 1);
  CHECK(r.quality.unknown_ids == 2);
}

TEST_CASE("bad input: an event older than the lateness tolerance is counted in counters.late and dropped",
          "[bad_input]") {
  const BadInputModel m;
  vigil::Monitor monitor(m.schema, m.profile(), BadInputModel::options());  // lateness 120 s
  vigil::Observation o(m.schema);
  m.fill(o, 0);
  monitor.observe(o.at(bad_input_t0 + 600));
  monitor.observe(o.at(bad_input_t0 + 550));  // within the tolerance: filed in its own interval
  monitor.observe(o.at(bad_input_t0 + 100));  // 500 s before the newest interval's start
  const vigil::Report r = monitor.finish();
  CHECK(r.counters.late == 1);
  CHECK(r.counters.observed == 2);
}

TEST_CASE("bad input: an event dated beyond the future bound is counted in counters.future and never moves the clock",
          "[bad_input]") {
  const BadInputModel m;
  vigil::Monitor monitor(m.schema, m.profile(), BadInputModel::options());
  vigil::Observation o(m.schema);
  m.fill(o, 0);
  monitor.observe(o.at(bad_input_t0 + 1));
  monitor.observe(o.at(bad_input_t0 + 365 * 86400.0));  // a year ahead: held, then refused
  monitor.observe(o.at(bad_input_t0 + 2));              // on time: still accepted
  const vigil::Report r = monitor.finish();
  CHECK(r.counters.future == 1);
  CHECK(r.counters.late == 0);
  CHECK(r.counters.observed == 2);
  CHECK(r.recent_end == bad_input_t0 + 60);
}

TEST_CASE("bad input: a clock that jumps ahead for clock_change_evidence events in a row is a clock change, counted",
          "[bad_input]") {
  const BadInputModel m;
  vigil::MonitorOptions options = BadInputModel::options();
  options.clock_change_evidence = 4;
  vigil::Monitor monitor(m.schema, m.profile(), options);
  vigil::Observation o(m.schema);
  m.fill(o, 0);
  monitor.observe(o.at(bad_input_t0 + 1));
  const double jump = bad_input_t0 + 10 * 86400.0;
  for (int i = 0; i < 4; ++i) monitor.observe(o.at(jump + i));
  const vigil::Report r = monitor.finish();
  CHECK(r.counters.clock_changes == 1);
  CHECK(r.counters.future == 0);
  CHECK(r.counters.observed == 5);
  CHECK(r.recent_start == bad_input_t0 + 10 * 86400.0);
}

// --- Latency, arrivals, outputs -------------------------------------------------------------

TEST_CASE("bad input: a negative, NaN or infinite latency is counted in counters.bad_latency, the request kept",
          "[bad_input]") {
  const vigil::Report r = bad_input_interval(20, [](vigil::Observation& o, int i) {
    if (i == 0) o.latency(-0.5);
    if (i == 1) o.latency(std::nan(""));
    if (i == 2) o.latency(bad_input_inf);
    if (i >= 3) o.latency(0.01);
  });
  CHECK(r.counters.bad_latency == 3);
  CHECK(r.counters.observed == 20);
  CHECK(r.latency.recent_count == 17);
}

TEST_CASE("bad input: on_arrival() with a NaN or infinite time is counted in counters.bad_arrival_time",
          "[bad_input]") {
  const BadInputModel m;
  vigil::Monitor monitor(m.schema, m.profile(), BadInputModel::options());
  vigil::Observation o(m.schema);
  m.fill(o, 0);
  monitor.on_arrival(bad_input_t0 + 1);
  monitor.on_arrival(std::nan(""));
  monitor.on_arrival(bad_input_inf);
  monitor.on_arrival(-bad_input_inf);
  monitor.observe(o.at(bad_input_t0 + 2));
  const vigil::Report r = monitor.finish();
  CHECK(r.counters.bad_arrival_time == 3);
  CHECK(r.traffic.recent_arrivals == 1);
}

TEST_CASE("bad input: a late on_arrival() is counted in counters.late", "[bad_input]") {
  const BadInputModel m;
  vigil::Monitor monitor(m.schema, m.profile(), BadInputModel::options());
  vigil::Observation o(m.schema);
  m.fill(o, 0);
  monitor.on_arrival(bad_input_t0 + 600);
  monitor.on_arrival(bad_input_t0 + 100);  // 500 s before the newest interval's start
  monitor.observe(o.at(bad_input_t0 + 601));
  const vigil::Report r = monitor.finish();
  CHECK(r.counters.late == 1);
  CHECK(r.traffic.recent_arrivals == 1);
}

TEST_CASE("bad input: arrivals without completions are counted in traffic.in_flight and completion_ratio",
          "[bad_input]") {
  const BadInputModel m;
  vigil::Monitor monitor(m.schema, m.profile(), BadInputModel::options());
  vigil::Observation o(m.schema);
  for (int i = 0; i < 10; ++i) monitor.on_arrival(bad_input_t0 + 1 + i);
  for (int i = 0; i < 4; ++i) {
    m.fill(o, i);
    monitor.observe(o.at(bad_input_t0 + 2 + i));
  }
  const vigil::Report r = monitor.finish();
  CHECK(r.traffic.arrivals_source == "arrivals");
  CHECK(r.traffic.recent_arrivals == 10);
  CHECK(r.traffic.recent_completions == 4);
  CHECK(r.traffic.in_flight == 6);
  CHECK(r.traffic.completion_ratio == Approx(0.4));
}

TEST_CASE("bad input: a NaN or infinite score is counted in non_finite_scores, an absent one in missing_scores",
          "[bad_input]") {
  const BadInputModel m;
  vigil::Monitor monitor(m.schema, m.profile(), BadInputModel::options());
  vigil::Observation o(m.schema);
  for (int i = 0; i < 20; ++i) {
    m.fill(o, i);
    if (i == 0) o.score(m.score, std::nan(""));
    if (i == 1) o.score(m.score, bad_input_inf);
    if (i == 2) o.score(m.score, -bad_input_inf);
    if (i == 3) {  // no score at all: a fresh request without one
      o.clear();
      o.set(m.amount, 1.0).set(m.channel, "web").predicted(m.score, "a");
    }
    monitor.observe(o.at(bad_input_t0 + 1 + i));
  }
  const vigil::Report report = monitor.finish();
  const vigil::OutputReport& out = report.outputs.at(0);
  CHECK(out.non_finite_scores == 3);
  CHECK(out.missing_scores == 1);
  CHECK(out.recent_count == 16);
  CHECK(out.missing_rate == Approx(0.2));
}

TEST_CASE("bad input: a finite score outside [0, 1] is an ordinary score", "[bad_input]") {
  const vigil::Report r = bad_input_interval(20, [](vigil::Observation& o, int) { o.score(BadInputModel().score, 7.0); });
  const vigil::OutputReport& out = r.outputs.at(0);
  CHECK(out.non_finite_scores == 0);
  CHECK(out.missing_scores == 0);
  CHECK(out.recent_count == 20);
  CHECK(out.recent_p50 == 7.0);
}

TEST_CASE("bad input: a predicted class not declared in the schema is counted under the class 'other'",
          "[bad_input]") {
  const vigil::Report r = bad_input_interval(20, [](vigil::Observation& o, int i) {
    if (i < 5) o.predicted(BadInputModel().score, "c");
  });
  const vigil::OutputReport& out = r.outputs.at(0);
  REQUIRE(out.classes == std::vector<std::string>{"a", "b", "other"});
  CHECK(out.class_share.at(2) == Approx(0.25));
  CHECK(out.reference_class_share.at(2) == 0.0);
  CHECK(out.missing_classes == 0);
}

// --- Schema, options, Profile -------------------------------------------------------------

TEST_CASE("bad input: a duplicate or empty name in a Schema throws invalid_argument", "[bad_input]") {
  vigil::Schema schema;
  schema.add_numeric("amount");
  CHECK_THROWS_AS(schema.add_numeric("amount"), vigil::invalid_argument);
  CHECK_THROWS_WITH(schema.add_tag("amount"), "Schema: 'amount' is already a numeric feature");
  CHECK_THROWS_WITH(schema.add_categorical(""), "Schema: a categorical feature needs a name");
  vigil::OutputOptions twice;
  twice.classes = {"a", "a"};
  CHECK_THROWS_WITH(schema.add_output("score", twice), "Schema: output 'score' lists class 'a' twice");
  CHECK(schema.numeric_count() == 1);
  CHECK(schema.output_count() == 0);
  CHECK(schema.tag_count() == 0);
}

TEST_CASE("bad input: an infinite output threshold or a tag max_values of 0 throws invalid_argument",
          "[bad_input]") {
  vigil::Schema schema;
  vigil::OutputOptions infinite;
  infinite.threshold = bad_input_inf;
  CHECK_THROWS_AS(schema.add_output("score", infinite), vigil::invalid_argument);
  CHECK_THROWS_WITH(schema.add_output("score", infinite), "Schema: output 'score' has threshold inf");
  vigil::TagOptions none;
  none.max_values = 0;
  CHECK_THROWS_WITH(schema.add_tag("host", none), "Schema: tag 'host' has max_values 0, outside [1, 4096]");
  CHECK(schema.output_count() == 0);
}

TEST_CASE("bad input: MonitorOptions out of range throw invalid_argument naming the option", "[bad_input]") {
  const BadInputModel m;
  const vigil::Profile profile = m.profile();
  const std::vector<std::pair<std::function<void(vigil::MonitorOptions&)>, std::string>> cases{
      {[](vigil::MonitorOptions& o) { o.interval = 0; }, "interval must be positive"},
      {[](vigil::MonitorOptions& o) { o.interval = std::nan(""); }, "interval must be positive"},
      {[](vigil::MonitorOptions& o) { o.lateness = -1; }, "lateness must be in"},
      {[](vigil::MonitorOptions& o) { o.future_tolerance = 0; }, "future_tolerance must be positive"},
      {[](vigil::MonitorOptions& o) { o.clock_skew = -1; }, "future_tolerance must be positive and clock_skew not negative"},
      {[](vigil::MonitorOptions& o) { o.fine_intervals = 1; }, "fine_intervals must be at least 2"},
      {[](vigil::MonitorOptions& o) { o.recent_intervals = 0; }, "recent_intervals must be at least 1"},
      {[](vigil::MonitorOptions& o) { o.numeric_bins = 1; }, "numeric_bins must be in [2, 1000]"},
      {[](vigil::MonitorOptions& o) { o.clock_change_evidence = 0; }, "clock_change_evidence must be in [1, 4096]"},
      {[](vigil::MonitorOptions& o) { o.latency_window = -5; }, "latency_window and latency_background must be positive"},
      {[](vigil::MonitorOptions& o) { o.slow_threshold = -1; }, "slow_threshold must be NaN"},
  };
  for (const auto& [edit, message] : cases) {
    vigil::MonitorOptions options;
    edit(options);
    INFO(message);
    CHECK_THROWS_AS(vigil::Monitor(m.schema, profile, options), vigil::invalid_argument);
    CHECK_THROWS_WITH(vigil::Monitor(m.schema, profile, options), Catch::StartsWith("MonitorOptions: " + message));
  }
}

TEST_CASE("bad input: a Monitor given a Profile of another schema throws invalid_argument naming the difference",
          "[bad_input]") {
  const BadInputModel m;
  vigil::Schema serving;
  serving.add_numeric("amount");
  serving.add_categorical("channel");
  serving.add_output("score", m.schema.options(m.score));
  serving.add_numeric("age");
  CHECK_THROWS_AS(vigil::Monitor(serving, m.profile()), vigil::invalid_argument);
  CHECK_THROWS_WITH(vigil::Monitor(serving, m.profile()), Catch::Contains("numeric feature 'age' is new in the other schema"));
}

TEST_CASE("bad input: a NaN or infinite training value is counted in Profile::Numeric::bad, not added",
          "[bad_input]") {
  const BadInputModel m;
  vigil::Profile profile(m.schema);
  vigil::Observation o(m.schema);
  for (int i = 0; i < 10; ++i) {
    m.fill(o, i);
    if (i == 0) o.set(m.amount, std::nan(""));
    if (i == 1) o.set(m.amount, -bad_input_inf);
    if (i == 2) o.clear(m.amount);
    profile.add(o);
  }
  CHECK(profile.numeric(m.amount).bad == 2);
  CHECK(profile.numeric(m.amount).missing == 1);
  CHECK(profile.numeric(m.amount).digest.count() == 7);
  CHECK(profile.missing_rate(m.amount) == Approx(0.3));
}

TEST_CASE("bad input: a training row of another shape throws invalid_argument", "[bad_input]") {
  const BadInputModel m;
  vigil::Profile profile(m.schema);
  vigil::Schema other;
  other.add_numeric("amount");
  CHECK_THROWS_AS(profile.add(vigil::Observation(other)), vigil::invalid_argument);
  CHECK_THROWS_WITH(profile.add(vigil::Observation(other)), Catch::StartsWith("Profile::add: the row was made for another schema"));
  CHECK(profile.rows() == 0);
}

// --- Sketches given bad values directly ---------------------------------------------------

TEST_CASE("bad input: NaN and infinite values given to a sketch are counted in rejected(), never stored",
          "[bad_input]") {
  vigil::TDigest<> digest;
  vigil::RunningStats stats;
  vigil::LogHistogram histogram;
  for (double v : {std::nan(""), bad_input_inf, -bad_input_inf}) {
    digest.add(v);
    stats.add(v);
    histogram.record(v);
  }
  digest.add(1);
  stats.add(1);
  histogram.record(1);
  CHECK(digest.rejected() == 3);
  CHECK(digest.count() == 1);
  CHECK(stats.rejected() == 3);
  CHECK(stats.count() == 1);
  CHECK(histogram.not_finite() == 3);
  CHECK(histogram.count() == 1);
}

TEST_CASE("bad input: a NaN, infinite or non-positive weight throws invalid_argument", "[bad_input]") {
  vigil::TDigest<> digest;
  vigil::RunningStats stats;
  for (double w : {0.0, -1.0, std::nan(""), bad_input_inf}) {
    CHECK_THROWS_AS(digest.add(1, w), vigil::invalid_argument);
    CHECK_THROWS_AS(stats.add(1, w), vigil::invalid_argument);
  }
  CHECK(digest.empty());
  CHECK(stats.count() == 0);
}

// --- Files and bytes ----------------------------------------------------------------------

TEST_CASE("bad input: truncated bytes of any sketch or Profile throw format_error", "[bad_input]") {
  for (const auto& [type, bytes] : bad_input_valid_objects()) {
    INFO(type);
    REQUIRE_NOTHROW(bad_input_read(type, bytes));
    for (std::size_t n = 0; n < bytes.size(); ++n) {
      const std::vector<std::uint8_t> cut(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(n));
      INFO(n << " of " << bytes.size() << " bytes");
      CHECK_THAT(bad_input_format_error(type, cut), Catch::StartsWith("cannot read "));
    }
  }
}

TEST_CASE("bad input: bytes with trailing garbage throw format_error", "[bad_input]") {
  for (auto [type, bytes] : bad_input_valid_objects()) {
    INFO(type);
    bytes.push_back(0);
    // A sealed object (Profile) ends with its checksum: a byte after it makes the trailer wrong.
    CHECK_THAT(bad_input_format_error(type, bytes),
               Catch::Contains(type == "Profile" ? "checksum mismatch" : "1 unexpected trailing bytes"));
  }
}

TEST_CASE("bad input: bytes that are not a vigil object (bad magic) throw format_error", "[bad_input]") {
  for (auto [type, bytes] : bad_input_valid_objects()) {
    INFO(type);
    bytes[0] = 'X';
    CHECK_THAT(bad_input_format_error(type, bytes), Catch::Contains("not a vigil object (bad magic bytes)"));
  }
}

TEST_CASE("bad input: bytes of another object type throw format_error", "[bad_input]") {
  const auto objects = bad_input_valid_objects();
  const std::vector<std::uint8_t> histogram = objects.at(2).second;
  for (const auto& [type, bytes] : objects) {
    if (type == "LogHistogram") continue;
    INFO(type);
    CHECK_THAT(bad_input_format_error(type, histogram), Catch::Contains("wrong object type 2"));
  }
  CHECK_THAT(bad_input_format_error("LogHistogram", objects.at(0).second), Catch::Contains("wrong object type 1"));
  // A digest of float means read as one of doubles.
  CHECK_THAT(bad_input_format_error("TDigest<double>", objects.at(1).second),
             Catch::Contains("read it as TDigest<float>"));
}

TEST_CASE("bad input: a format version 0 or newer than this build reads throws format_error", "[bad_input]") {
  for (auto [type, bytes] : bad_input_valid_objects()) {
    INFO(type);
    // A sealed object's version byte is covered by its checksum, which is checked first.
    const std::string sealed = "checksum mismatch";
    bytes[4] = 0;
    CHECK_THAT(bad_input_format_error(type, bytes),
               Catch::Contains(type == "Profile" ? sealed : "format version 0 is not supported"));
    bytes[4] = 255;
    CHECK_THAT(bad_input_format_error(type, bytes),
               Catch::Contains(type == "Profile" ? sealed : "format version 255 is not supported"));
  }
}

TEST_CASE("bad input: unknown flag bits in the header throw format_error", "[bad_input]") {
  for (auto [type, bytes] : bad_input_valid_objects()) {
    INFO(type);
    bytes[7] |= 0x40;  // flag bit 14, which no type defines (bit 15 marks a sealed object)
    CHECK_THAT(bad_input_format_error(type, bytes),
               Catch::Contains(type == "Profile" ? "checksum mismatch" : "unknown flags"));
    if (type == "Profile") {  // sealed again over the unknown bit: the reader itself refuses it
      bytes.resize(bytes.size() - vigil::io::trailer_size);
      vigil::io::seal(bytes);
      CHECK_THAT(bad_input_format_error(type, bytes), Catch::Contains("unknown flags"));
    }
  }
}

TEST_CASE("bad input: a stored number out of its range throws format_error naming it", "[bad_input]") {
  auto objects = bad_input_valid_objects();
  // RunningStats: count, shift, mean, M2 follow the 8-byte header, 8 bytes each.
  std::vector<std::uint8_t> stats = objects.at(3).second;
  const double nan = std::nan("");
  std::memcpy(&stats[8 + 16], &nan, sizeof nan);
  CHECK_THAT(bad_input_format_error("RunningStats", stats), Catch::Contains("mean nan or M2"));
  // TDigest: the compression follows the header.
  std::vector<std::uint8_t> digest = objects.at(0).second;
  const double zero = 0;
  std::memcpy(&digest[8], &zero, sizeof zero);
  CHECK_THAT(bad_input_format_error("TDigest<double>", digest), Catch::Contains("compression 0 is outside [10, 100000]"));
}

TEST_CASE("bad input: Profile::load of a missing, empty or foreign file throws format_error naming the file",
          "[bad_input]") {
  const BadInputFile file("reference.vigil");
  CHECK_THROWS_AS(vigil::Profile::load(file.path()), vigil::format_error);
  CHECK_THROWS_WITH(vigil::Profile::load(file.path()), "cannot open profile file '" + file.path() + "'");
  file.write({});
  CHECK_THROWS_WITH(vigil::Profile::load(file.path()),
                    Catch::StartsWith("profile file '" + file.path() + "': cannot read Profile: truncated"));
  file.write(vigil::TDigest<>().serialize());
  CHECK_THROWS_WITH(vigil::Profile::load(file.path()), Catch::Contains("wrong object type 1, expected 32"));
  const std::vector<std::uint8_t> text{'a', ',', 'b', '\n', '1', ',', '2', '\n', '3', ',', '4', '\n'};
  file.write(text);
  CHECK_THROWS_WITH(vigil::Profile::load(file.path()), Catch::Contains("not a vigil object"));
}

TEST_CASE("bad input: TDigest::from_postgres of malformed text throws format_error", "[bad_input]") {
  for (const char* text : {"", "not a digest", "flags 0 count 3", "{"}) {
    INFO(text);
    CHECK_THROWS_AS(vigil::TDigest<>::from_postgres(text), vigil::format_error);
  }
}

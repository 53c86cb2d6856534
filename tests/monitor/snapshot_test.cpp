// Monitor::snapshot() and Monitor::restore(): a monitor restored from a snapshot continues
// as the monitor that wrote it, and a snapshot of another monitor is refused.
#include <vigil/export/json.hpp>
#include <vigil/io/file.hpp>
#include <vigil/monitor/monitor.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "kill_writers.hpp"
#include "scratch_dir.hpp"
#include "vigil_test.hpp"

// A named namespace, not an anonymous one: the monitor tests may be compiled as one unit.
namespace snapshot_test {

// Deterministic randomness for the stream.
class Source {
 public:
  explicit Source(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  double normal() {
    const double u = 1 - uniform();
    return std::sqrt(-2 * std::log(u)) * std::cos(2 * 3.14159265358979323846 * uniform());
  }

 private:
  std::uint64_t state_;
};

constexpr double start_time = 1767225600;  // 2026-01-01T00:00:00Z

// A model whose stream touches every family: features, a score with a canary, arrivals,
// latency by host, a region cohort, ids with late labels carrying loss attributions, and
// conversions by arm.
struct Stream {
  vigil::Schema schema;
  vigil::NumericFeature x, y;
  vigil::CategoricalFeature channel;
  vigil::Output score, canary;
  vigil::Tag region, host, arm;

  vigil::Schema training;  // the model's inputs and output: what the profile describes

  Stream() {
    x = schema.add_numeric("x");
    y = schema.add_numeric("y");
    channel = schema.add_categorical("channel");
    vigil::OutputOptions binary;
    binary.threshold = 0.5;
    score = schema.add_output("score", binary);
    training = schema;
    canary = schema.add_canary("score_v0", score);
    vigil::TagOptions cohort;
    cohort.cohort = true;
    cohort.max_values = 4;
    region = schema.add_tag("region", cohort);
    vigil::TagOptions hosts;
    hosts.max_values = 4;
    host = schema.add_tag("host", hosts);
    arm = schema.add_tag("arm", hosts);
  }

  static double model(double x, double y) { return 1 / (1 + std::exp(-(x + 0.3 * (y - 1)))); }

  // Row i of the stream, at minute `m`: x in the wrong unit from minute 220, host h3 slow
  // from minute 200.
  void fill(vigil::Observation& o, Source& s, double m, std::uint64_t i, bool serving = true) const {
    o.clear();
    double xv = s.normal();
    const double yv = std::exp(0.5 * s.normal());
    const double u = s.uniform();
    const double p = model(xv, yv);
    if (m >= 220) xv *= 100;
    o.set(x, xv).set(y, yv).set(channel, u < 0.6 ? "web" : (u < 0.9 ? "app" : "store"));
    o.score(score, p);
    const double shadow = std::min(1.0, std::max(0.0, p + 0.02 * s.normal()));
    const std::string where = s.uniform() < 0.5 ? "eu" : "us";
    const int h = static_cast<int>(s.next() % 4);
    if (!serving) return;
    o.score(canary, shadow).tag(region, where);
    o.tag(host, "h" + std::to_string(h)).tag(arm, i % 2 == 0 ? "a" : "b");
    o.latency(std::exp(-3 + 0.4 * s.normal()) * (h == 3 && m >= 200 ? 4 : 1));
    o.id("r" + std::to_string(i));
  }

  vigil::Profile profile() const {
    vigil::Profile p(training);
    Source s(99);
    vigil::Observation o(training);
    for (std::uint64_t i = 0; i < 20000; ++i) {
      fill(o, s, 0, i, false);
      p.add(o);
    }
    return p;
  }

  static vigil::MonitorOptions options() {
    vigil::MonitorOptions o;
    o.evaluate_in_observe = true;
    o.shards = 1;
    o.coarse_intervals = 24;
    o.long_horizon = 6 * 3600;
    o.label_capacity = 8192;
    o.label_time_to_live = 3600;
    o.quality_interval = 600;
    o.quality_window = 3600;
    o.attribution_background = 7200;
    o.conversion_arm = "arm";
    o.label_samples = 3;
    return o;
  }
};

// One event of the replay: a request (its arrival first), its label five minutes later or a
// conversion two minutes later.
struct Event {
  double time;
  enum Kind { request, label, conversion } kind;
  std::uint64_t index;
};

std::vector<Event> events(int minutes, int per_minute) {
  std::vector<Event> e;
  for (int m = 0; m < minutes; ++m)
    for (int i = 0; i < per_minute; ++i) {
      const std::uint64_t n = static_cast<std::uint64_t>(m) * per_minute + i;
      const double t = start_time + 60 * (m + (i + 0.5) / per_minute);
      e.push_back(Event{t, Event::request, n});
      if (n % 3 == 0) e.push_back(Event{t + 300, Event::label, n});
      if (n % 5 == 0) e.push_back(Event{t + 120, Event::conversion, n});
    }
  std::stable_sort(e.begin(), e.end(), [](const Event& a, const Event& b) { return a.time < b.time; });
  return e;
}

// What a monitor said while it was fed: each interval's report as JSON, each transition.
struct Transcript {
  std::map<double, std::string> intervals;
  std::vector<vigil::Alert> alerts;
  void attach(vigil::Monitor& m) {
    m.on_interval([this](const vigil::Report& r) { intervals[r.time] = vigil::to_json(r); });
    m.on_alert([this](const vigil::Alert& a) { alerts.push_back(a); });
  }
};

// The request of event `ev` in `o`, drawn from its own seed so that any part of the replay
// can be fed alone; `s` goes on to draw its label.
void request_of(const Stream& st, const Event& ev, vigil::Observation& o, Source& s) {
  const double minute = std::floor((ev.time - start_time) / 60);
  st.fill(o, s, ev.kind == Event::request ? minute : minute - (ev.kind == Event::label ? 5 : 2), ev.index);
}

// Feeds event `ev` to `m`: the request (its arrival first), its label with attributions, or
// a conversion.
void feed_one(const Stream& st, vigil::Monitor& m, const Event& ev, vigil::Observation& o) {
  Source s(ev.index * 7919 + 1);
  request_of(st, ev, o, s);
  const std::string id = "r" + std::to_string(ev.index);
  if (ev.kind == Event::request) {
    m.on_arrival(ev.time);
    o.at(ev.time);
    m.observe(o);
  } else if (ev.kind == Event::label) {
    const double truth = s.uniform() < Stream::model(o.value(st.x), o.value(st.y)) ? 1 : 0;
    const std::vector<double> attributions = {0.1 * s.normal(), 0.05 * s.normal(), 0.01};
    m.on_label(id, truth, ev.time, attributions);
  } else {
    m.on_conversion(id, ev.time);
  }
}

// Feeds events [from, to) of the replay.
void feed(const Stream& st, vigil::Monitor& m, const std::vector<Event>& e, std::size_t from, std::size_t to) {
  vigil::Observation o(st.schema);
  for (std::size_t k = from; k < to; ++k) feed_one(st, m, e[k], o);
}

std::string describe(const vigil::Alert& a) {
  return std::to_string(static_cast<long long>(a.time - start_time)) + " #" + std::to_string(a.sequence) + " " +
         vigil::to_string(a.transition) + " " + vigil::to_string(a.kind) + " " + vigil::to_string(a.subject) + " " +
         vigil::to_string(a.severity);
}


TEST_CASE("Monitor::restore continues where the snapshot was taken: the same alerts and figures", "[monitor][snapshot]") {
  const Stream st;
  const vigil::Profile profile = st.profile();
  const std::vector<Event> e = events(300, 30);

  vigil::Monitor whole(st.schema, profile, Stream::options());
  Transcript all;
  all.attach(whole);
  feed(st, whole, e, 0, e.size());
  const vigil::Report final_report = whole.finish();
  REQUIRE(all.alerts.size() >= 3);  // the unit bug and the slow host, after every cut below

  // Cut points: in the first hour, in the middle of an interval, just after the unit bug.
  for (const double cut_minute : {47.3, 150.5, 223.2}) {
    CAPTURE(cut_minute);
    const auto cut = static_cast<std::size_t>(
        std::lower_bound(e.begin(), e.end(), start_time + 60 * cut_minute,
                         [](const Event& ev, double t) { return ev.time < t; }) - e.begin());
    vigil::Monitor first(st.schema, profile, Stream::options());
    Transcript before;
    before.attach(first);
    feed(st, first, e, 0, cut);
    const std::vector<std::uint8_t> bytes = first.snapshot();

    vigil::Monitor restored = vigil::Monitor::restore(bytes, st.schema, profile, Stream::options());
    // Nothing new came: the restored monitor reports what the first one does, bit for bit.
    CHECK(vigil::to_json(restored.report()) == vigil::to_json(first.report()));
    CHECK(restored.observed() == first.observed());
    CHECK(restored.snapshot() == first.snapshot());

    Transcript after;
    after.attach(restored);
    feed(st, restored, e, cut, e.size());
    const vigil::Report end = restored.finish();

    // Every transition after the cut, as the monitor that never stopped made it.
    std::vector<vigil::Alert> expected(all.alerts.begin() + static_cast<std::ptrdiff_t>(before.alerts.size()),
                                       all.alerts.end());
    REQUIRE(after.alerts.size() == expected.size());
    for (std::size_t i = 0; i < expected.size(); ++i) {
      CHECK(describe(after.alerts[i]) == describe(expected[i]));
      CHECK(vigil::to_json(after.alerts[i]) == vigil::to_json(expected[i]));
    }
    // Every interval evaluated after the cut, with the same figures, to the last bit.
    std::size_t compared = 0;
    for (const auto& [time, json] : after.intervals) {
      const auto it = all.intervals.find(time);
      REQUIRE(it != all.intervals.end());
      CHECK(json == it->second);
      ++compared;
    }
    CHECK(compared + before.intervals.size() == all.intervals.size());
    CHECK(vigil::to_json(end) == vigil::to_json(final_report));
    CHECK(end.quality.joined > 0);
  }
}

TEST_CASE("Monitor::snapshot changes nothing: the monitor that wrote it goes on as if it had not", "[monitor][snapshot]") {
  const Stream st;
  const vigil::Profile profile = st.profile();
  const std::vector<Event> e = events(90, 20);
  vigil::Monitor plain(st.schema, profile, Stream::options());
  vigil::Monitor snapped(st.schema, profile, Stream::options());
  for (std::size_t from = 0; from < e.size(); from += 311) {
    const std::size_t to = std::min(e.size(), from + 311);
    feed(st, plain, e, from, to);
    feed(st, snapped, e, from, to);
    (void)snapped.snapshot();
  }
  CHECK(vigil::to_json(snapped.finish()) == vigil::to_json(plain.finish()));
}

TEST_CASE("Monitor::restore refuses a snapshot of another schema, profile, options or format, naming it",
          "[monitor][snapshot]") {
  const Stream st;
  const vigil::Profile profile = st.profile();
  vigil::Monitor m(st.schema, profile, Stream::options());
  feed(st, m, events(10, 10), 0, 150);
  const std::vector<std::uint8_t> bytes = m.snapshot();
  REQUIRE_NOTHROW(vigil::Monitor::restore(bytes, st.schema, profile, Stream::options()));

  const auto refused = [&](const vigil::Schema& schema, const vigil::Profile& p, const vigil::MonitorOptions& o,
                           const std::string& message, const std::vector<std::uint8_t>& b) {
    CHECK_THROWS_AS(vigil::Monitor::restore(b, schema, p, o), vigil::format_error);
    const std::string said = vigil_test::thrown_message([&] { vigil::Monitor::restore(b, schema, p, o); });
    INFO(said);
    CHECK(said.find(message) != std::string::npos);
  };
  vigil::Schema more = st.schema;
  more.add_tag("zone");
  refused(more, profile, Stream::options(), "the snapshot is of another schema: ", bytes);
  vigil::Schema more_hosts;
  {
    vigil::Schema s;
    s.add_numeric("x");
    s.add_numeric("y");
    s.add_categorical("channel");
    vigil::OutputOptions binary;
    binary.threshold = 0.5;
    const vigil::Output score = s.add_output("score", binary);
    s.add_canary("score_v0", score);
    vigil::TagOptions cohort;
    cohort.cohort = true;
    cohort.max_values = 4;
    s.add_tag("region", cohort);
    vigil::TagOptions hosts;
    hosts.max_values = 8;
    s.add_tag("host", hosts);
    hosts.max_values = 4;
    s.add_tag("arm", hosts);
    more_hosts = s;
  }
  refused(more_hosts, profile, Stream::options(), "tag 'host' has max_values 4 in the snapshot and 8 here", bytes);

  vigil::Profile smaller(st.training);
  {
    vigil::Observation o(st.training);
    Source s(5);
    for (std::uint64_t i = 0; i < 500; ++i) {
      st.fill(o, s, 0, i, false);
      smaller.add(o);
    }
  }
  refused(st.schema, smaller, Stream::options(), "another profile", bytes);

  vigil::MonitorOptions shorter = Stream::options();
  shorter.interval = 30;
  refused(st.schema, profile, shorter, "MonitorOptions::interval is 60 in the snapshot and 30 here", bytes);
  vigil::MonitorOptions policy = Stream::options();
  policy.alerts.p_value = 0.001;  // judging, not shaping: accepted
  CHECK_NOTHROW(vigil::Monitor::restore(bytes, st.schema, profile, policy));

  std::vector<std::uint8_t> corrupt = bytes;
  corrupt[corrupt.size() / 2] ^= 0x10;
  refused(st.schema, profile, Stream::options(), "checksum", corrupt);
  std::vector<std::uint8_t> newer = bytes;
  newer[4] = 2;  // the format version, resealed so that only the version is wrong
  newer.resize(newer.size() - 4);
  newer[7] = static_cast<std::uint8_t>(newer[7] & 0x7f);
  vigil::io::seal(newer);
  refused(st.schema, profile, Stream::options(), "format version 2 is not supported", newer);
  for (std::size_t n = 0; n < bytes.size(); n += 1 + bytes.size() / 97)
    CHECK_THROWS_AS(vigil::Monitor::restore(bytes.data(), n, st.schema, profile, Stream::options()),
                    vigil::format_error);
}

TEST_CASE("Monitor::save and Monitor::load: a snapshot file, written crash-safely", "[monitor][snapshot]") {
  const Stream st;
  const vigil::Profile profile = st.profile();
  vigil::Monitor m(st.schema, profile, Stream::options());
  feed(st, m, events(20, 10), 0, 260);
  const vigil_test::ScratchDir dir;
  const std::string path = dir / "state.vigil";
  m.save(path);
  vigil::Monitor back = vigil::Monitor::load(path, st.schema, profile, Stream::options());
  CHECK(back.snapshot() == m.snapshot());
  CHECK_THROWS_AS(vigil::Monitor::load(dir / "missing.vigil", st.schema, profile, Stream::options()), vigil::io_error);
  vigil::MonitorOptions other = Stream::options();
  other.numeric_bins = 20;
  CHECK_THROWS_AS(vigil::Monitor::load(path, st.schema, profile, other), vigil::format_error);
  const std::string said = vigil_test::thrown_message([&] { vigil::Monitor::load(path, st.schema, profile, other); });
  CHECK(said.find("state.vigil") != std::string::npos);
  CHECK(said.find("MonitorOptions::numeric_bins is 50 in the snapshot and 20 here") != std::string::npos);
}

TEST_CASE("Monitor::save killed with SIGKILL at random points leaves the old or the new snapshot, whole",
          "[monitor][snapshot]") {
  // Two monitors of one stream, the second further on; children save one over the other's
  // file and are killed after random delays (tests/kill_writers.hpp). Every round must leave
  // a file whose checksum verifies and which is one of the two snapshots, both must occur, and
  // what is left must load into a monitor that writes the same snapshot.
  const Stream st;
  const vigil::Profile profile = st.profile();
  vigil::Monitor earlier(st.schema, profile, Stream::options());
  vigil::Monitor later(st.schema, profile, Stream::options());
  const std::vector<Event> e = events(20, 10);
  feed(st, earlier, e, 0, 150);
  feed(st, later, e, 0, 260);
  const std::array<std::vector<std::uint8_t>, 2> versions = {earlier.snapshot(), later.snapshot()};
  REQUIRE(versions[0] != versions[1]);
  const vigil_test::ScratchDir dir;
  const int rounds = 40;
  const vigil_test::KillTally tally = vigil_test::kill_writers(
      dir,
      [&](const std::string& path, const std::vector<std::uint8_t>& bytes) {
        (bytes == versions[0] ? earlier : later).save(path);
      },
      versions, rounds, 20261207u);
  INFO("old " << tally.old_content << ", new " << tally.new_content << " (writer finished " << tally.completed
              << "), killed mid-write " << tally.mid_write);
  CHECK(tally.torn == 0);
  CHECK(tally.old_content + tally.new_content == rounds);
  CHECK(tally.old_content > 0);
  CHECK(tally.new_content > 0);
  CHECK(tally.leftovers == 0);
  const std::string path = dir / "state.vigil";
  const std::vector<std::uint8_t> left = vigil::io::read_file(path);
  CHECK((left == versions[0] || left == versions[1]));
  CHECK(vigil::Monitor::load(path, st.schema, profile, Stream::options()).snapshot() == left);
}

TEST_CASE("Monitor::merge: replicas fed shares of one stream add up to one monitor fed all of it", "[monitor][snapshot]") {
  // Each replica serves the requests of its own hosts (h0 and h3, h1, h2), with their labels
  // and conversions, so each numbers the hosts, and the arms, in its own order.
  const Stream st;
  const vigil::Profile profile = st.profile();
  vigil::MonitorOptions options = Stream::options();
  options.slow_threshold = 0.08;  // fixed: a learnt threshold would differ between the replicas
  const std::vector<Event> e = events(240, 30);
  vigil::Monitor whole(st.schema, profile, options);
  std::vector<std::unique_ptr<vigil::Monitor>> replicas;
  for (int r = 0; r < 3; ++r) replicas.emplace_back(new vigil::Monitor(st.schema, profile, options));
  vigil::Observation o(st.schema);
  for (const Event& ev : e) {
    feed_one(st, whole, ev, o);
    Source s(ev.index * 7919 + 1);
    request_of(st, ev, o, s);
    const std::string host(o.value(st.host));
    feed_one(st, *replicas[static_cast<std::size_t>(host[1] - '0') % 3], ev, o);
  }
  vigil::Monitor fleet(st.schema, profile, options);
  for (const auto& r : replicas) fleet.merge(*r);
  const vigil::Report want = whole.finish(), got = fleet.finish();

  CHECK(got.counters.observed == want.counters.observed);
  CHECK(got.recent_requests == want.recent_requests);
  CHECK(got.horizon_requests == want.horizon_requests);
  REQUIRE(got.features.size() == want.features.size());
  for (std::size_t f = 0; f < want.features.size(); ++f) {
    const vigil::FeatureReport &g = got.features[f], &w = want.features[f];
    CAPTURE(w.name);
    const auto same = [](double a, double b) { return a == b || (std::isnan(a) && std::isnan(b)); };
    CHECK(g.horizon_count == w.horizon_count);
    CHECK(g.recent_count == w.recent_count);
    CHECK(same(g.psi, w.psi));  // bins add exactly
    CHECK(same(g.ks_statistic, w.ks_statistic));
    CHECK(same(g.shift_statistic, w.shift_statistic));
    CHECK(same(g.missing_rate, w.missing_rate));
    CHECK(same(g.out_of_range_rate, w.out_of_range_rate));
    CHECK(same(g.unseen_rate, w.unseen_rate));
    if (!std::isnan(w.recent_mean)) CHECK(g.recent_mean == Approx(w.recent_mean).epsilon(1e-12));
  }
  // Latency: histograms add exactly, slow requests by host too (matched by name).
  const vigil::LogHistogram &gs = got.latency.since_start, &ws = want.latency.since_start;
  CHECK(gs.count() == 240 * 30);
  CHECK(gs.count() == ws.count());
  for (const double q : {0.0, 0.5, 0.9, 0.99, 0.999, 1.0}) CHECK(gs.quantile(q) == ws.quantile(q));
  CHECK(gs.sum() == Approx(ws.sum()).epsilon(1e-12));  // the same buckets; the sum up to its order of additions
  CHECK(got.latency.recent_p99 == want.latency.recent_p99);
  CHECK(got.latency.background_p999 == want.latency.background_p999);
  CHECK(got.latency.slow == want.latency.slow);
  REQUIRE(got.latency.attribution.size() == want.latency.attribution.size());
  for (std::size_t i = 0; i < want.latency.attribution.size(); ++i) {
    CHECK(got.latency.attribution[i].value == want.latency.attribution[i].value);
    CHECK(got.latency.attribution[i].slow == want.latency.attribution[i].slow);
  }
  // Cohorts by region, in whatever order the replicas met them.
  REQUIRE(got.cohorts.size() == want.cohorts.size());
  for (const vigil::CohortReport& w : want.cohorts) {
    const auto g = std::find_if(got.cohorts.begin(), got.cohorts.end(),
                                [&](const vigil::CohortReport& c) { return c.tag == w.tag && c.value == w.value; });
    REQUIRE(g != got.cohorts.end());
    CHECK(g->requests == w.requests);
  }
  // Outputs: counts exactly, digest figures within their error bound (δ = 50: 1 % of the
  // ranks around the median, less in the tails), decile figures exactly.
  REQUIRE(got.outputs.size() == want.outputs.size());
  for (std::size_t i = 0; i < want.outputs.size(); ++i) {
    const vigil::OutputReport &g = got.outputs[i], &w = want.outputs[i];
    CHECK(g.horizon_count == w.horizon_count);
    CHECK(g.recent_count == w.recent_count);
    CHECK(g.psi == w.psi);
    CHECK(g.recent_p50 == Approx(w.recent_p50).margin(0.01));
    CHECK(g.recent_p99 == Approx(w.recent_p99).margin(0.01));
    CHECK(g.ks_statistic == Approx(w.ks_statistic).margin(0.01));
  }
  // Labels: counts add, figures from the ledgers agree.
  CHECK(got.quality.labels == want.quality.labels);
  CHECK(got.quality.joined == want.quality.joined);
  CHECK(got.traffic.recent_arrivals == want.traffic.recent_arrivals);
  // The fleet's evaluation is its own: it saw the unit bug.
  bool drift = false;
  for (const vigil::Alert& a : got.alert_log) drift = drift || a.subject.name == "x";
  CHECK(drift);
}

TEST_CASE("Monitor::snapshot after labels stopped for longer than their ledgers hold restores", "[monitor][snapshot]") {
  // Labels, conversions and attributions for twenty minutes, nothing for three days, then
  // twenty minutes more: the ledgers' rings move past the old intervals, which must not be
  // written as if still held.
  const Stream st;
  const vigil::Profile profile = st.profile();
  vigil::Monitor m(st.schema, profile, Stream::options());
  std::vector<Event> e = events(20, 10);
  const std::size_t first = e.size();
  for (Event ev : events(20, 10)) {
    ev.time += 3 * 86400;
    ev.index += 1000000;
    e.push_back(ev);
  }
  feed(st, m, e, 0, first);
  (void)m.report();
  feed(st, m, e, first, e.size());
  const std::vector<std::uint8_t> bytes = m.snapshot();
  vigil::Monitor back = vigil::Monitor::restore(bytes, st.schema, profile, Stream::options());
  CHECK(back.snapshot() == bytes);
  CHECK(vigil::to_json(back.finish()) == vigil::to_json(m.finish()));
}

}  // namespace snapshot_test

namespace snapshot_test {

TEST_CASE("Monitor::snapshot after finish(), report(now) or answers without arrivals restores", "[monitor][snapshot]") {
  // States the public calls reach: the shards moved past the newest event by finish() or a
  // scrape's report(now), and more answers than arrivals (requests observed before arrivals
  // were counted).
  vigil::Schema s;
  const vigil::NumericFeature x = s.add_numeric("x");
  vigil::Profile p(s);
  vigil::Observation row(s);
  for (int i = 0; i < 24; ++i) p.add(row.set(x, i));
  vigil::MonitorOptions o;
  o.shards = 1;
  vigil::Monitor finished(s, p, o);
  finished.observe(row.at(start_time + 10));
  (void)finished.finish();
  CHECK(vigil::Monitor::restore(finished.snapshot()).snapshot() == finished.snapshot());
  vigil::Monitor scraped(s, p, o);
  scraped.observe(row.at(start_time + 10));
  (void)scraped.report(start_time + 500);
  CHECK(vigil::Monitor::restore(scraped.snapshot()).snapshot() == scraped.snapshot());
  vigil::Monitor answered(s, p, o);
  answered.observe(row.at(start_time + 5));
  answered.on_arrival(start_time + 6);
  answered.observe(row.at(start_time + 20));
  answered.observe(row.at(start_time + 21));
  CHECK(vigil::Monitor::restore(answered.snapshot()).snapshot() == answered.snapshot());
  CHECK(vigil::to_json(vigil::Monitor::restore(answered.snapshot()).report()) == vigil::to_json(answered.report()));
}

}  // namespace snapshot_test

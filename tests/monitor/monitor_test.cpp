#include <vigil/monitor/monitor.hpp>

#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <new>
#include <string>
#include <thread>
#include <vector>

#include "vigil_test.hpp"

// The replacement operators below pair malloc with free; g++ cannot see that and warns.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

// Counts heap allocations made by the current thread while counting is switched on, to prove
// that observe() does not allocate in steady state.
namespace {
thread_local bool counting_allocations = false;
thread_local std::uint64_t allocations = 0;
}  // namespace

void* operator new(std::size_t size) {
  if (counting_allocations) ++allocations;
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t size) {
  if (counting_allocations) ++allocations;
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
void* operator new(std::size_t size, const std::nothrow_t&) noexcept {
  if (counting_allocations) ++allocations;
  return std::malloc(size == 0 ? 1 : size);
}
void* operator new[](std::size_t size, const std::nothrow_t&) noexcept {
  if (counting_allocations) ++allocations;
  return std::malloc(size == 0 ? 1 : size);
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }

namespace {

using vigil::Alert;
using vigil::AlertKind;

// Deterministic source of the scenario's randomness.
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

// A model with two numeric features, one categorical feature, a score and a region tag.
struct Scenario {
  vigil::Schema schema;
  vigil::NumericFeature x;
  vigil::NumericFeature y;
  vigil::CategoricalFeature channel;
  vigil::Output score;
  vigil::Tag region;

  Scenario() {
    x = schema.add_numeric("x");
    y = schema.add_numeric("y");
    channel = schema.add_categorical("channel");
    vigil::OutputOptions options;
    options.threshold = 0.5;
    score = schema.add_output("score", options);
    vigil::TagOptions cohort;
    cohort.cohort = true;
    cohort.max_values = 4;
    region = schema.add_tag("region", cohort);
  }

  struct Row {
    double x;
    double y;
    std::string channel;
    std::string region;
  };

  static Row draw(Source& s) {
    Row r;
    r.x = s.normal();
    r.y = std::exp(0.5 * s.normal());
    const double u = s.uniform();
    r.channel = u < 0.6 ? "web" : (u < 0.9 ? "app" : "store");
    r.region = s.uniform() < 0.5 ? "eu" : "us";
    return r;
  }

  static double model(double x, double y) { return 1 / (1 + std::exp(-(x + 0.3 * (y - 1)))); }

  void fill(vigil::Observation& o, const Row& r) const {
    o.clear();
    if (!std::isnan(r.x)) o.set(x, r.x);
    if (!std::isnan(r.y)) o.set(y, r.y);
    if (!r.channel.empty()) o.set(channel, r.channel);
    o.score(score, model(std::isnan(r.x) ? 0 : r.x, std::isnan(r.y) ? 1 : r.y));
    o.tag(region, r.region);
  }

  vigil::Profile profile(std::size_t rows = 20000) const {
    vigil::Profile p(schema);
    Source s(99);
    vigil::Observation o(schema);
    for (std::size_t i = 0; i < rows; ++i) {
      fill(o, draw(s));
      p.add(o);
    }
    return p;
  }
};

constexpr double start_time = 1767225600;  // 2026-01-01T00:00:00Z, long before the wall clock

// Streams `minutes` of traffic at `per_minute` requests, letting `fault` alter each row, and
// returns every alert transition.
std::vector<Alert> run(const Scenario& sc, vigil::Monitor& monitor, int minutes, int per_minute,
                       const std::function<void(double minute, Scenario::Row&)>& fault, std::uint64_t seed = 7) {
  std::vector<Alert> alerts;
  monitor.on_alert([&](const Alert& a) { alerts.push_back(a); });
  Source s(seed);
  vigil::Observation o(sc.schema);
  for (int m = 0; m < minutes; ++m) {
    for (int i = 0; i < per_minute; ++i) {
      const double minute = m + (i + 0.5) / per_minute;
      Scenario::Row r = Scenario::draw(s);
      fault(minute, r);
      sc.fill(o, r);
      o.at(start_time + 60 * minute);
      monitor.observe(o);
    }
  }
  monitor.report(start_time + 60.0 * minutes);
  return alerts;
}

vigil::MonitorOptions replay_options() {
  vigil::MonitorOptions options;
  options.evaluate_in_observe = true;
  options.shards = 1;
  return options;
}

// Minutes after the scenario start at which an alert of `kind` on `subject` was first raised,
// or -1.
double first_raised(const std::vector<Alert>& alerts, AlertKind kind, const std::string& subject) {
  for (const Alert& a : alerts)
    if (a.kind == kind && vigil::to_string(a.subject) == subject && a.transition == Alert::Transition::raised)
      return (a.time - start_time) / 60;
  return -1;
}

std::string describe(const std::vector<Alert>& alerts) {
  std::string text;
  for (const Alert& a : alerts)
    text += std::to_string((a.time - start_time) / 60) + " " + vigil::to_string(a.transition) + " " +
            vigil::to_string(a.kind) + " " + vigil::to_string(a.subject) + ": " + a.message + "\n";
  return text;
}

}  // namespace

TEST_CASE("Monitor: empty monitor reports ok", "[monitor]") {
  Scenario sc;
  vigil::Monitor monitor(sc.schema, sc.profile(2000));
  const vigil::Report r = monitor.report();
  CHECK(r.status == vigil::Status::ok);
  CHECK(r.counters.observed == 0);
  CHECK(r.open_alerts.empty());
  CHECK(std::isnan(monitor.latest_time()));
}

TEST_CASE("Monitor: one request", "[monitor]") {
  Scenario sc;
  vigil::Monitor monitor(sc.schema, sc.profile(2000));
  vigil::Observation o(monitor.schema());
  Source s(1);
  sc.fill(o, Scenario::draw(s));
  o.at(start_time + 5);
  monitor.observe(o);
  CHECK(monitor.observed() == 1);
  CHECK(monitor.latest_time() == start_time + 5);
  const vigil::Report r = monitor.report(start_time + 60);
  CHECK(r.counters.observed == 1);
  CHECK(r.recent_requests == 1);
  REQUIRE(r.features.size() == 3);
  CHECK(r.features[0].name == "x");
  CHECK(r.features[2].name == "channel");
  CHECK(r.features[2].categorical);
  CHECK(r.features[0].recent_count == 1);
  // One request is never enough evidence, and the report says so rather than ok.
  CHECK(r.status == vigil::Status::insufficient_data);
  REQUIRE(r.cohorts.size() == 1);
  CHECK(r.cohorts[0].tag == "region");
}

TEST_CASE("Monitor: a long stable stream raises nothing", "[monitor][scenario]") {
  Scenario sc;
  vigil::Monitor monitor(sc.schema, sc.profile(), replay_options());
  // 10^6 requests over about 28 hours.
  const auto alerts = run(sc, monitor, 1667, 600, [](double, Scenario::Row&) {});
  INFO(describe(alerts));
  CHECK(alerts.empty());
  const vigil::Report r = monitor.report();
  CHECK(r.counters.observed == 1667 * 600);
  CHECK(r.status == vigil::Status::ok);
  CHECK(r.counters.late == 0);
  REQUIRE(r.features.size() == 3);
  REQUIRE(r.outputs.size() == 1);
  // Long-term figures are small for an unchanged stream.
  CHECK(r.features[0].psi < 0.01);
  CHECK(r.features[0].wasserstein < 0.05);
  CHECK(r.outputs[0].psi < 0.01);
}

TEST_CASE("Monitor: faults are caught within two intervals", "[monitor][scenario]") {
  Scenario sc;
  vigil::Monitor monitor(sc.schema, sc.profile(), replay_options());
  // One hour of clean traffic, then a fault for 20 minutes from minute 60, 120, 180, 240.
  const auto alerts = run(sc, monitor, 300, 300, [](double minute, Scenario::Row& r) {
    if (minute >= 60 && minute < 80) r.x *= 1000;                          // unit change
    if (minute >= 120 && minute < 140) r.channel = r.channel == "web" ? "app" : (r.channel == "app" ? "web" : r.channel);
    if (minute >= 180 && minute < 190) r.y = std::nan("");                // missing burst
    if (minute >= 240 && minute < 250) r.channel = "kiosk";               // a new category
  });
  INFO(describe(alerts));
  const double unit = first_raised(alerts, AlertKind::out_of_range, "x");
  CHECK(unit >= 61);
  CHECK(unit <= 62);
  const double shift = first_raised(alerts, AlertKind::feature_shift, "x");
  CHECK(shift >= 61);
  CHECK(shift <= 62);
  const double swapped = first_raised(alerts, AlertKind::feature_shift, "channel");
  CHECK(swapped >= 121);
  CHECK(swapped <= 122);
  const double missing = first_raised(alerts, AlertKind::missing_values, "y");
  CHECK(missing >= 181);
  CHECK(missing <= 182);
  const double unseen = first_raised(alerts, AlertKind::unseen_category, "channel");
  CHECK(unseen >= 241);
  CHECK(unseen <= 242);
  const double scores = first_raised(alerts, AlertKind::score_drift, "score");
  CHECK(scores >= 61);
  CHECK(scores <= 62);
  // Each fault raises its alert once and resolves it after the fault: no flapping.
  int raised_out_of_range = 0;
  for (const Alert& a : alerts)
    if (a.kind == AlertKind::out_of_range && vigil::to_string(a.subject) == "x" && a.transition == Alert::Transition::raised)
      ++raised_out_of_range;
  CHECK(raised_out_of_range == 1);
  bool resolved = false;
  for (const Alert& a : alerts)
    if (a.kind == AlertKind::out_of_range && vigil::to_string(a.subject) == "x" && a.transition == Alert::Transition::resolved)
      resolved = (a.time - start_time) / 60 <= 88;
  CHECK(resolved);
  // Alerts carry a sentence and a severity.
  for (const Alert& a : alerts) {
    CHECK_FALSE(a.message.empty());
    CHECK((a.severity == vigil::Severity::warn || a.severity == vigil::Severity::alert));
  }
}

TEST_CASE("Monitor: a column gone and bad values are schema problems", "[monitor][scenario]") {
  Scenario sc;
  vigil::Monitor monitor(sc.schema, sc.profile(), replay_options());
  std::uint64_t bad_values = 0;
  const auto alerts = run(sc, monitor, 120, 300, [](double minute, Scenario::Row& r) {
    if (minute >= 60 && minute < 70) r.x = std::nan("");  // absent from every request
  });
  INFO(describe(alerts));
  const double gone = first_raised(alerts, AlertKind::schema, "x");
  CHECK(gone >= 61);
  CHECK(gone <= 62);

  vigil::Monitor second(sc.schema, sc.profile(), replay_options());
  std::vector<Alert> more;
  second.on_alert([&](const Alert& a) { more.push_back(a); });
  vigil::Observation o(sc.schema);
  Source s(3);
  for (int i = 0; i < 300 * 90; ++i) {
    const double minute = i / 300.0;
    sc.fill(o, Scenario::draw(s));
    if (minute >= 60 && i % 10 == 0) {
      o.set(sc.y, std::numeric_limits<double>::infinity());  // 10 % not finite
      ++bad_values;
    }
    o.at(start_time + 60 * minute);
    second.observe(o);
  }
  const vigil::Report r = second.report(start_time + 90 * 60);
  INFO(describe(more));
  const double bad = first_raised(more, AlertKind::schema, "y");
  CHECK(bad >= 61);
  CHECK(bad <= 62);
  CHECK(r.features[1].bad_values == 30);  // the last minute: every tenth of 300 requests
  CHECK(bad_values == 300 * 30 / 10);
}

TEST_CASE("Monitor: slow drift raises long-term drift, not a sudden change", "[monitor][scenario]") {
  Scenario sc;
  vigil::MonitorOptions options = replay_options();
  options.long_horizon = 3 * 3600;
  vigil::Monitor monitor(sc.schema, sc.profile(), options);
  // y's scale grows by 0.3 % a minute for five hours: 1.8 % within any background hour.
  const auto alerts = run(sc, monitor, 300, 300, [](double minute, Scenario::Row& r) { r.y *= 1 + 0.003 * minute; });
  INFO(describe(alerts));
  const double drift = first_raised(alerts, AlertKind::feature_drift, "y");
  CHECK(drift > 0);
  CHECK(drift < 240);
  CHECK(first_raised(alerts, AlertKind::feature_shift, "y") < 0);
}

TEST_CASE("Monitor: cohorts locate a fault in one region", "[monitor][scenario]") {
  Scenario sc;
  vigil::Monitor monitor(sc.schema, sc.profile(), replay_options());
  const auto alerts = run(sc, monitor, 100, 600, [](double minute, Scenario::Row& r) {
    if (minute >= 60 && r.region == "eu") r.x += 3;
  });
  INFO(describe(alerts));
  const double eu = first_raised(alerts, AlertKind::feature_shift, "region=eu: x");
  CHECK(eu >= 61);
  CHECK(eu <= 62);
  CHECK(first_raised(alerts, AlertKind::feature_shift, "region=us: x") < 0);
  const vigil::Report r = monitor.report();
  REQUIRE(r.cohorts.size() == 2);
  for (const auto& c : r.cohorts) {
    CHECK(c.tag == "region");
    CHECK(c.features.size() == 3);
    CHECK(c.status == (c.value == "eu" ? vigil::Status::alert : vigil::Status::ok));
  }
}

TEST_CASE("Monitor: late and timeless events are counted, not lost silently", "[monitor]") {
  Scenario sc;
  vigil::MonitorOptions options;
  options.lateness = 120;
  vigil::Monitor monitor(sc.schema, sc.profile(2000), options);
  vigil::Observation o(sc.schema);
  Source s(5);
  sc.fill(o, Scenario::draw(s));
  o.at(start_time + 600);
  monitor.observe(o);
  o.at(start_time + 550);  // within tolerance: accepted into its own interval
  monitor.observe(o);
  o.at(start_time + 100);  // too late
  monitor.observe(o);
  o.at(std::nan(""));
  monitor.observe(o);
  o.at(start_time + 601).latency(-0.5);  // a negative latency: the request counts, its latency not
  monitor.observe(o);
  const vigil::Report r = monitor.report(start_time + 660);
  CHECK(r.counters.bad_latency == 1);
  CHECK(r.counters.observed == 3);
  CHECK(r.counters.late == 1);
  CHECK(r.counters.bad_time == 1);
  CHECK(r.horizon_requests == 3);
}

TEST_CASE("Monitor: bad input", "[monitor]") {
  Scenario sc;
  const vigil::Profile profile = sc.profile(1000);
  vigil::Schema other;
  other.add_numeric("x");
  CHECK_THROWS_AS(vigil::Monitor(other, profile), vigil::invalid_argument);
  CHECK_THROWS_WITH(vigil::Monitor(other, profile), Catch::Contains("'y'"));
  vigil::MonitorOptions bad;
  bad.interval = 0;
  CHECK_THROWS_AS(vigil::Monitor(sc.schema, profile, bad), vigil::invalid_argument);
  bad = {};
  bad.recent_intervals = 60;
  CHECK_THROWS_AS(vigil::Monitor(sc.schema, profile, bad), vigil::invalid_argument);
  bad = {};
  bad.alerts.persistence = 4;
  CHECK_THROWS_AS(vigil::Monitor(sc.schema, profile, bad), vigil::invalid_argument);

  vigil::Monitor monitor(sc.schema, profile);
  vigil::Observation foreign(other);
  CHECK_THROWS_AS(monitor.observe(foreign), vigil::invalid_argument);
  // Tags may differ between training and serving.
  vigil::Schema serving = sc.schema;
  serving.add_tag("host");
  CHECK_NOTHROW(vigil::Monitor(serving, profile));
}

TEST_CASE("Monitor: observe() does not allocate in steady state", "[monitor]") {
  Scenario sc;
  vigil::Monitor monitor(sc.schema, sc.profile(2000));
  vigil::Observation o(monitor.schema());
  Source s(11);
  std::vector<Scenario::Row> rows;
  for (int i = 0; i < 4000; ++i) rows.push_back(Scenario::draw(s));
  // Warm up within one interval: buffers reach their working size.
  for (int i = 0; i < 2000; ++i) {
    sc.fill(o, rows[i]);
    o.at(start_time + 1 + i * 0.01);
    monitor.observe(o);
  }
  allocations = 0;
  counting_allocations = true;
  for (int i = 2000; i < 4000; ++i) {
    sc.fill(o, rows[i]);
    o.at(start_time + 1 + i * 0.01);
    monitor.observe(o);
  }
  counting_allocations = false;
  CHECK(allocations == 0);
  CHECK(monitor.observed() == 4000);
}

TEST_CASE("Monitor: many threads observe while another reports", "[monitor][concurrency]") {
  Scenario sc;
  vigil::MonitorOptions options;
  options.shards = 4;
  options.lateness = 600;  // a descheduled thread may fall minutes of event time behind
  vigil::Monitor monitor(sc.schema, sc.profile(2000), options);
  std::atomic<int> clock{0};
  constexpr int threads = 4;
  constexpr int per_thread = 6000;
  std::atomic<bool> done{false};
  std::atomic<int> reports{0};
  // Callbacks that read the monitor, while the reporter thread evaluates.
  std::vector<double> evaluated;  // only the delivering thread writes it, one callback at a time
  monitor.on_interval([&](const vigil::Report& r) {
    evaluated.push_back(r.recent_end);
    CHECK(monitor.report().counters.observed <= threads * per_thread);
  });
  std::thread reporter([&] {
    while (!done.load()) {
      const vigil::Report r = monitor.report();
      CHECK(r.counters.observed <= threads * per_thread);
      reports.fetch_add(1);
    }
  });
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      vigil::Observation o(monitor.schema());
      Source s(100 + t);
      for (int i = 0; i < per_thread; ++i) {
        sc.fill(o, Scenario::draw(s));
        const double at = start_time + clock.fetch_add(1) * 0.0125;  // 5 minutes of traffic, shared clock
        monitor.on_arrival(at);
        o.at(at + 0.005).latency(0.005);
        monitor.observe(o);
      }
    });
  }
  for (auto& w : workers) w.join();
  done.store(true);
  reporter.join();
  const vigil::Report r = monitor.report(start_time + 600);
  CHECK(r.counters.observed == threads * per_thread);
  CHECK(r.counters.late == 0);
  CHECK(r.horizon_requests == threads * per_thread);
  // Each interval evaluated once, in order: minutes 0 to 9 (the last five quiet).
  REQUIRE(evaluated.size() == 10);
  for (std::size_t i = 0; i < evaluated.size(); ++i) CHECK(evaluated[i] == start_time + 60.0 * (i + 1));
  std::uint64_t per_cohort = 0;
  for (const auto& c : r.cohorts) per_cohort += c.requests;
  CHECK(per_cohort == threads * per_thread);
  CHECK(reports.load() > 0);
  // Every arrival was answered, and every one was counted where it belongs.
  CHECK(r.traffic.arrivals_source == "arrivals");
  CHECK(r.traffic.in_flight == 0);
  CHECK(r.counters.bad_arrival_time == 0);
}

namespace {

// Streams `minutes` of the scenario without evaluating, x ten times larger from `fault_from`
// on; the health check (report()) then evaluates.
void stream(const Scenario& sc, vigil::Monitor& monitor, int from_minute, int minutes, int fault_from) {
  Source s(11 + static_cast<std::uint64_t>(from_minute));
  vigil::Observation o(sc.schema);
  for (int m = from_minute; m < from_minute + minutes; ++m) {
    for (int i = 0; i < 200; ++i) {
      Scenario::Row r = Scenario::draw(s);
      if (m >= fault_from) r.x *= 10;
      sc.fill(o, r);
      o.at(start_time + 60 * m + 0.3 * i);
      monitor.observe(o);
    }
  }
}

// The figures two reports of the same state share, as text, for comparison.
std::string summary_of(const vigil::Report& r) {
  std::string text = std::to_string(r.time) + " " + vigil::to_string(r.status) + " " + std::to_string(r.counters.observed);
  for (const auto& f : r.features) text += " " + f.name + ":" + vigil::to_string(f.status) + ":" + std::to_string(f.psi);
  for (const auto& c : r.cohorts) text += " " + c.tag + "=" + c.value + ":" + vigil::to_string(c.status);
  for (const auto& a : r.open_alerts) text += std::string(" open ") + vigil::to_string(a.kind) + " " + vigil::to_string(a.subject) + " #" + std::to_string(a.sequence);
  for (const auto& a : r.alert_log) text += " log #" + std::to_string(a.sequence) + " " + vigil::to_string(a.transition);
  return text;
}

}  // namespace

TEST_CASE("Monitor: report() consumes nothing: every reader sees the same report and every transition", "[monitor]") {
  Scenario sc;
  vigil::Monitor monitor(sc.schema, sc.profile(5000));
  std::vector<Alert> seen;
  monitor.on_alert([&](const Alert& a) { seen.push_back(a); });
  stream(sc, monitor, 0, 40, 20);
  const vigil::Report first = monitor.report();   // evaluates the 39 closed intervals
  const vigil::Report second = monitor.report();  // a second reader: nothing new to evaluate
  CHECK(summary_of(first) == summary_of(second));
  REQUIRE_FALSE(seen.empty());
  // The alert log holds every transition the callback saw, numbered 1, 2, ... in order.
  REQUIRE(first.alert_log.size() == seen.size());
  for (std::size_t i = 0; i < seen.size(); ++i) {
    CHECK(seen[i].sequence == i + 1);
    CHECK(first.alert_log[i].sequence == seen[i].sequence);
    CHECK(first.alert_log[i].kind == seen[i].kind);
    CHECK(first.alert_log[i].subject == seen[i].subject);
    CHECK(first.alert_log[i].transition == seen[i].transition);
  }
  // An open alert carries the number of the transition that raised (or escalated) it.
  REQUIRE_FALSE(first.open_alerts.empty());
  for (const Alert& open : first.open_alerts) {
    bool found = false;
    for (const Alert& t : seen)
      found = found || (t.sequence == open.sequence && t.kind == open.kind && t.subject == open.subject &&
                        t.transition != Alert::Transition::resolved);
    CHECK(found);
  }
  // A reader that remembers the last number it saw finds exactly what came after.
  const std::uint64_t last_seen = first.alert_log.back().sequence;
  stream(sc, monitor, 40, 20, 1000);  // the fault is over: alerts resolve
  const vigil::Report later = monitor.report();
  std::size_t newer = 0;
  for (const Alert& a : later.alert_log) newer += a.sequence > last_seen;
  CHECK(newer == seen.size() - first.alert_log.size());
  CHECK(newer > 0);
}

TEST_CASE("Monitor: the alert log keeps the latest MonitorOptions::alert_log transitions", "[monitor]") {
  Scenario sc;
  vigil::MonitorOptions options;
  options.alert_log = 3;
  vigil::Monitor monitor(sc.schema, sc.profile(5000), options);
  std::vector<Alert> seen;
  monitor.on_alert([&](const Alert& a) { seen.push_back(a); });
  stream(sc, monitor, 0, 40, 20);
  stream(sc, monitor, 40, 20, 1000);
  const vigil::Report r = monitor.report();
  REQUIRE(seen.size() > 3);
  REQUIRE(r.alert_log.size() == 3);
  for (std::size_t i = 0; i < 3; ++i) CHECK(r.alert_log[i].sequence == seen[seen.size() - 3 + i].sequence);
}

TEST_CASE("Monitor: on_interval reports each evaluated interval once, in order, without changing what is detected",
          "[monitor]") {
  Scenario sc;
  vigil::Monitor plain(sc.schema, sc.profile(5000), replay_options());
  vigil::Monitor watched(sc.schema, sc.profile(5000), replay_options());
  std::vector<Alert> plain_alerts;
  std::vector<Alert> watched_alerts;
  std::vector<vigil::Report> intervals;
  plain.on_alert([&](const Alert& a) { plain_alerts.push_back(a); });
  watched.on_interval([&](const vigil::Report& r) { intervals.push_back(r); });
  watched.on_alert([&](const Alert& a) {
    watched_alerts.push_back(a);
    // A callback may read the monitor: the evaluation's lock is released by then.
    CHECK(watched.report().alert_log.back().sequence >= a.sequence);
  });
  stream(sc, plain, 0, 30, 15);
  stream(sc, watched, 0, 30, 15);
  plain.finish();
  watched.finish();
  REQUIRE(plain_alerts.size() == watched_alerts.size());
  for (std::size_t i = 0; i < plain_alerts.size(); ++i) {
    CHECK(plain_alerts[i].subject == watched_alerts[i].subject);
    CHECK(plain_alerts[i].time == watched_alerts[i].time);
  }
  REQUIRE(intervals.size() == 30);  // minutes 0 to 29, the last closed by finish()
  for (std::size_t i = 0; i < intervals.size(); ++i) CHECK(intervals[i].recent_end == start_time + 60.0 * (i + 1));
  // Each interval's report holds that interval's figures: x is ten times larger from minute
  // 15 on, so its spread (out-of-range share) jumps there.
  CHECK(intervals[10].features[0].out_of_range_rate < 0.01);
  CHECK(intervals[20].features[0].out_of_range_rate > 0.2);
}

TEST_CASE("Monitor: statuses follow typed subjects: a feature named like a latency subject keeps its own", "[monitor]") {
  vigil::Schema schema;
  const auto requests = schema.add_numeric("requests");  // the name of the latency family's subject
  const auto host = schema.add_tag("host");
  vigil::Profile profile(schema);
  Source s(3);
  vigil::Observation o(schema);
  for (int i = 0; i < 2000; ++i) {
    o.clear();
    o.set(requests, s.normal());
    profile.add(o);
  }
  vigil::MonitorOptions options;
  options.shards = 1;
  options.evaluate_in_observe = true;
  vigil::Monitor monitor(schema, profile, options);
  for (int m = 0; m < 65; ++m) {
    for (int i = 0; i < 100; ++i) {
      o.clear();
      o.set(requests, s.normal());
      o.tag(host, i % 2 ? "a" : "b");
      // From minute 60, requests take ten times as long.
      o.latency((m >= 60 ? 0.2 : 0.02) * std::exp(0.2 * s.normal()));
      o.at(start_time + 60 * m + 0.5 * i);
      monitor.observe(o);
    }
  }
  const vigil::Report r = monitor.report(start_time + 65 * 60);
  bool latency_alert = false;
  for (const Alert& a : r.open_alerts)
    latency_alert = latency_alert || (a.kind == AlertKind::latency && vigil::to_string(a.subject) == "requests");
  REQUIRE(latency_alert);
  CHECK(r.latency.status != vigil::Status::ok);
  REQUIRE(r.features.size() == 1);
  CHECK(r.features[0].name == "requests");
  CHECK(r.features[0].status == vigil::Status::ok);
}

// Event time ahead of the monitor's clock (MonitorOptions::event_clock; docs/guide.md, "Event
// time"). These streams replay last month, far behind the wall clock, so that the automatic
// reference is the stream's own time whatever day the tests run on.
namespace {

constexpr double year = 365 * 86400.0;

// Midnight thirty days before now.
double last_month() { return std::floor(vigil::detail::wall_clock_now() / 86400) * 86400 - 30 * 86400; }

// What a fault may do to one row of a replay: alter its values, or its event time (NaN: the
// row does not exist). `n` numbers the rows from 0.
using RowFault = std::function<void(std::uint64_t n, double minute, Scenario::Row& row, double& time)>;

// Feeds minutes [from, to) after `start` at `per_minute` rows; returns the rows fed.
std::uint64_t feed(const Scenario& sc, vigil::Monitor& monitor, Source& s, double start, int from, int to,
                   int per_minute, const RowFault& fault, std::uint64_t n = 0) {
  vigil::Observation o(sc.schema);
  std::uint64_t fed = 0;
  for (int m = from; m < to; ++m) {
    for (int i = 0; i < per_minute; ++i, ++n) {
      const double minute = m + (i + 0.5) / per_minute;
      Scenario::Row r = Scenario::draw(s);
      double t = start + 60 * minute;
      fault(n, minute, r, t);
      if (std::isnan(t)) continue;
      sc.fill(o, r);
      o.at(t);
      monitor.observe(o);
      ++fed;
    }
  }
  return fed;
}

// Minutes after `start` at which an alert of `kind` on `subject` was first raised, or -1.
double raised_at(const std::vector<Alert>& alerts, double start, AlertKind kind, const std::string& subject) {
  for (const Alert& a : alerts)
    if (a.kind == kind && vigil::to_string(a.subject) == subject && a.transition == Alert::Transition::raised)
      return (a.time - start) / 60;
  return -1;
}

}  // namespace

TEST_CASE("Monitor: one request dated a year ahead is refused and counted, and nothing else is lost",
          "[monitor][event_time]") {
  Scenario sc;
  vigil::MonitorOptions options;  // a server's defaults, evaluated by its health check
  options.shards = 1;
  vigil::Monitor monitor(sc.schema, sc.profile(5000), options);
  const double start = last_month();
  Source s(21);
  const std::uint64_t fed = feed(sc, monitor, s, start, 0, 20, 200, [](std::uint64_t n, double, Scenario::Row&, double& t) {
    if (n == 2000) t += year;
  });
  CHECK(fed == 4000);
  CHECK(monitor.latest_time() < start + 20 * 60);  // the clock never went ahead
  const vigil::Report r = monitor.report(start + 20 * 60);
  CHECK(r.counters.future == 1);
  CHECK(r.counters.late == 0);
  CHECK(r.counters.clock_changes == 0);
  CHECK(r.counters.observed == 3999);
  CHECK(r.horizon_requests == 3999);
  CHECK(r.recent_requests == 200);
  CHECK(r.time == start + 20 * 60);
  CHECK(r.status == vigil::Status::ok);  // one stray event is no persistent problem
  CHECK(r.open_alerts.empty());
}

TEST_CASE("Monitor: a replay with a row dated a year ahead still catches every fault after it",
          "[monitor][event_time][scenario]") {
  Scenario sc;
  vigil::Monitor monitor(sc.schema, sc.profile(), replay_options());
  std::vector<Alert> alerts;
  monitor.on_alert([&](const Alert& a) { alerts.push_back(a); });
  const double start = last_month();
  Source s(23);
  feed(sc, monitor, s, start, 0, 200, 300, [](std::uint64_t n, double minute, Scenario::Row& r, double& t) {
    if (n == 30 * 300 + 7) t += year;                        // minute 30: one row a year ahead
    if (minute >= 60 && minute < 80) r.x *= 1000;            // a unit change
    if (minute >= 100 && minute < 110) r.x = std::nan("");   // a column gone
    if (minute >= 150 && minute < 160) t = std::nan("");     // the traffic stops
  });
  const vigil::Report r = monitor.finish();
  INFO(describe(alerts));
  CHECK(r.counters.future == 1);
  CHECK(r.counters.late == 0);
  CHECK(r.counters.observed == 200 * 300 - 10 * 300 - 1);
  const double unit = raised_at(alerts, start, AlertKind::out_of_range, "x");
  CHECK(unit >= 61);
  CHECK(unit <= 62);
  const double gone = raised_at(alerts, start, AlertKind::schema, "x");
  CHECK(gone >= 101);
  CHECK(gone <= 102);
  const double stop = raised_at(alerts, start, AlertKind::traffic, "arrivals");
  CHECK(stop >= 150);
  CHECK(stop <= 152);
  CHECK(raised_at(alerts, start, AlertKind::schema, "event_time") < 0);
}

TEST_CASE("Monitor: a clock change is adopted after clock_change_evidence events in a row, and they are used",
          "[monitor][event_time]") {
  Scenario sc;
  const vigil::Profile profile = sc.profile();
  const double start = last_month();
  SECTION("a log that jumps ahead after a gap longer than future_tolerance") {
    vigil::Monitor monitor(sc.schema, profile, replay_options());
    std::vector<Alert> alerts;
    monitor.on_alert([&](const Alert& a) { alerts.push_back(a); });
    Source s(25);
    const auto clean = [](std::uint64_t, double, Scenario::Row&, double&) {};
    feed(sc, monitor, s, start, 0, 60, 100, clean);
    // Three days later (tolerance: one day) the log goes on; x changes unit from its minute 30.
    const double later = start + 3 * 86400;
    feed(sc, monitor, s, later, 0, 60, 100, [](std::uint64_t, double minute, Scenario::Row& r, double&) {
      if (minute >= 30) r.x *= 1000;
    });
    const vigil::Report r = monitor.finish();
    CHECK(r.counters.clock_changes == 1);
    CHECK(r.counters.future == 0);  // the held rows were used
    CHECK(r.counters.late == 0);
    CHECK(r.counters.observed == 120 * 100);
    CHECK(r.time == later + 3600);
    CHECK(r.recent_requests == 100);
    const double unit = raised_at(alerts, later, AlertKind::out_of_range, "x");
    CHECK(unit >= 31);
    CHECK(unit <= 32);
  }
  SECTION("one event short of the evidence is refused; the full evidence is adopted") {
    vigil::MonitorOptions options = replay_options();
    REQUIRE(options.clock_change_evidence == 16);  // the documented default
    vigil::Monitor monitor(sc.schema, profile, options);
    Source s(27);
    std::uint64_t n = 0;
    const auto clean = [](std::uint64_t, double, Scenario::Row&, double&) {};
    // 15 rows a year ahead, then one on time: the 15 are refused.
    n += feed(sc, monitor, s, start, 0, 10, 100, clean, n);
    n += feed(sc, monitor, s, start + year, 10, 11, 15, clean, n);
    n += feed(sc, monitor, s, start, 11, 12, 1, clean, n);
    vigil::Report r = monitor.report();
    CHECK(r.counters.future == 15);
    CHECK(r.counters.clock_changes == 0);
    CHECK(monitor.latest_time() < start + 12 * 60);
    // 16 rows in a row a year ahead: the clock moves there, and all 16 count.
    feed(sc, monitor, s, start + year, 12, 13, 16, clean, n);
    r = monitor.report();
    CHECK(r.counters.future == 15);
    CHECK(r.counters.clock_changes == 1);
    CHECK(r.counters.observed == 10 * 100 + 1 + 16);
    CHECK(monitor.latest_time() > start + year);
  }
  SECTION("against the wall clock, a consistent offset is adopted and the held requests count") {
    vigil::MonitorOptions options;
    options.event_clock = vigil::EventClock::wall;
    options.shards = 1;
    vigil::Monitor monitor(sc.schema, profile, options);
    vigil::Observation o(sc.schema);
    Source s(29);
    const double now = vigil::detail::wall_clock_now();
    sc.fill(o, Scenario::draw(s));
    o.at(now + 3600);  // a source an hour ahead of this host
    for (int i = 0; i < 15; ++i) monitor.observe(o);
    CHECK(monitor.observed() == 0);  // held: not yet evidence
    for (int i = 0; i < 5; ++i) monitor.observe(o);
    CHECK(monitor.observed() == 20);
    const vigil::Report r = monitor.report();
    CHECK(r.counters.future == 0);
    CHECK(r.counters.clock_changes == 1);
  }
  SECTION("held events at the end of a log are refused and counted") {
    vigil::Monitor monitor(sc.schema, profile, replay_options());
    Source s(31);
    const auto clean = [](std::uint64_t, double, Scenario::Row&, double&) {};
    feed(sc, monitor, s, start, 0, 10, 100, clean);
    feed(sc, monitor, s, start + year, 10, 11, 5, clean);
    const vigil::Report r = monitor.finish();
    CHECK(r.counters.future == 5);
    CHECK(r.counters.observed == 1000);
    CHECK(r.time == start + 600);
  }
}

TEST_CASE("Monitor: a source dated ahead for minutes raises a schema alert on event_time, after persistence",
          "[monitor][event_time][scenario]") {
  Scenario sc;
  vigil::Monitor monitor(sc.schema, sc.profile(), replay_options());
  std::vector<Alert> alerts;
  monitor.on_alert([&](const Alert& a) { alerts.push_back(a); });
  const double start = last_month();
  Source s(33);
  // From minute 60 to 80, one request in 20 comes from a server whose clock is a year ahead:
  // never 16 in a row, so never adopted.
  feed(sc, monitor, s, start, 0, 80, 300, [](std::uint64_t n, double minute, Scenario::Row&, double& t) {
    if (minute >= 60 && n % 20 == 0) t += year;
  });
  vigil::Report r = monitor.report();
  INFO(describe(alerts));
  CHECK(r.counters.future == 20 * 15);
  CHECK(r.counters.clock_changes == 0);
  CHECK(r.counters.late == 0);
  // Evidence in minutes 60 and 61: raised at the end of minute 61 (persistence 2 of 3).
  CHECK(raised_at(alerts, start, AlertKind::schema, "event_time") == 62);
  bool open = false;
  for (const Alert& a : r.open_alerts) {
    if (a.kind != AlertKind::schema || vigil::to_string(a.subject) != "event_time") continue;
    open = true;
    CHECK(a.severity == vigil::Severity::alert);  // 5 % of the requests: 5 × bad_value_share
    CHECK(a.subject.family == vigil::Family::traffic);
    CHECK(a.message.find("ahead") != std::string::npos);
  }
  CHECK(open);
  CHECK(r.traffic.status == vigil::Status::alert);
  // The source is fixed: the alert resolves after `recovery` clean intervals, and only once.
  feed(sc, monitor, s, start, 80, 100, 300, [](std::uint64_t, double, Scenario::Row&, double&) {});
  r = monitor.report();
  int raised = 0;
  int resolved = 0;
  for (const Alert& a : alerts) {
    if (a.kind != AlertKind::schema || vigil::to_string(a.subject) != "event_time") continue;
    raised += a.transition == Alert::Transition::raised;
    resolved += a.transition == Alert::Transition::resolved;
  }
  CHECK(raised == 1);
  CHECK(resolved == 1);
  CHECK(r.traffic.status == vigil::Status::ok);
}

TEST_CASE("Monitor: threads whose requests are sometimes dated a year ahead lose only those", "[monitor][event_time][concurrency]") {
  Scenario sc;
  vigil::MonitorOptions options;
  options.shards = 4;
  options.lateness = 600;  // a descheduled thread may fall minutes of event time behind
  vigil::Monitor monitor(sc.schema, sc.profile(2000), options);
  const double start = last_month();
  std::atomic<int> clock{0};
  constexpr int threads = 4;
  constexpr int per_thread = 5000;
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      vigil::Observation o(monitor.schema());
      Source s(200 + t);
      for (int i = 0; i < per_thread; ++i) {
        sc.fill(o, Scenario::draw(s));
        const double at = start + clock.fetch_add(1) * 0.01;
        o.at(i % 50 == 49 ? at + year : at);  // one request in 50 from a clock a year ahead
        monitor.observe(o);
      }
    });
  }
  for (auto& w : workers) w.join();
  CHECK(monitor.latest_time() < start + threads * per_thread * 0.01);  // the clock never went ahead
  const vigil::Report r = monitor.finish();
  CHECK(r.counters.future == threads * per_thread / 50);
  CHECK(r.counters.observed == threads * per_thread * 49 / 50);
  CHECK(r.counters.late == 0);
  CHECK(r.counters.clock_changes == 0);
}

namespace {

// A monitor of one categorical feature trained on "a" and "b", served with a cohort tag of
// four values, fed `intervals` one-minute intervals of eight unseen values each (value i
// made by `value(i)`) and tag values from `tag(j)`.
struct LongValues {
  static constexpr std::size_t tag_values = 4;
  vigil::Schema training;
  vigil::Schema serving;
  LongValues() {
    training.add_categorical("color");
    serving = training;
    vigil::TagOptions cohort;
    cohort.cohort = true;
    cohort.max_values = tag_values;
    serving.add_tag("host", cohort);
  }
  vigil::Profile profile() const {
    vigil::Profile p(training);
    vigil::Observation row(training);
    for (int i = 0; i < 100; ++i) {
      row.set("color", i % 2 == 0 ? "a" : "b");
      p.add(row);
    }
    return p;
  }
  template <class Value>
  std::size_t feed(vigil::Monitor& monitor, int intervals, Value&& value) const {
    vigil::Observation o(serving);
    const auto color = serving.categorical("color");
    const auto host = serving.tag("host");
    for (int k = 0; k < intervals; ++k) {
      for (int i = 0; i < 16; ++i) {
        o.set(color, value(i % 8));
        o.tag(host, value(i % static_cast<int>(tag_values)));
        o.at(start_time + 60.0 * k + i);
        monitor.observe(o);
      }
    }
    monitor.report(start_time + 60.0 * intervals);
    return monitor.memory_bytes();
  }
};

}  // namespace

TEST_CASE("Monitor: values of 1 MB cost no more per interval than values of Schema::max_value_bytes",
          "[monitor][bounds]") {
  const LongValues setup;
  const vigil::Profile profile = setup.profile();
  vigil::MonitorOptions options;
  options.shards = 1;
  constexpr int intervals = 20;
  vigil::Monitor short_values(setup.serving, profile, options);
  const std::size_t short_bytes =
      setup.feed(short_values, intervals, [](int i) { return std::string("u") + std::to_string(i); });
  std::string big(std::size_t(1) << 20, 'x');
  vigil::Monitor long_values(setup.serving, profile, options);
  const std::size_t long_bytes = setup.feed(long_values, intervals, [&](int i) {
    big[0] = static_cast<char>('0' + i);
    return std::string_view(big);
  });
  // The documented figures (FeatureState, TagDictionary): per categorical feature, summary
  // slot and interval at most unseen_capacity values, each of at most max_value_bytes + 1
  // bytes on the heap; per tag at most max_values values in the dictionary and in each
  // shard's cache. Short values live inside their std::string.
  const std::size_t value_bytes = vigil::Schema::max_value_bytes + 1;
  const std::size_t slots = 1 + LongValues::tag_values;  // every request, then each cohort value
  const std::size_t held_intervals = intervals + 1;      // retained, and the shard's open one
  const std::size_t bound = short_bytes + slots * held_intervals * vigil::detail::FeatureState::unseen_capacity * value_bytes +
                            2 * LongValues::tag_values * value_bytes;
  INFO("short values: " << short_bytes << " bytes, long values: " << long_bytes << ", bound " << bound);
  CHECK(long_bytes <= bound);
  CHECK(long_bytes < 16 * 1024 * 1024);

  const vigil::Report r = long_values.report(start_time + 60.0 * intervals);
  CHECK(r.counters.truncated_values == 2u * 16 * intervals);  // the category and the tag of each request
  CHECK(r.counters.observed == 16u * intervals);
  CHECK(short_values.report(start_time + 60.0 * intervals).counters.truncated_values == 0);
  // The cut values are still told apart by their first bytes: eight unseen values per
  // interval, four cohorts.
  REQUIRE(r.cohorts.size() == LongValues::tag_values);
  for (const vigil::CohortReport& c : r.cohorts) CHECK(c.value.size() == vigil::Schema::max_value_bytes);
}

TEST_CASE("Monitor: a value of exactly Schema::max_value_bytes is kept whole, one byte more is cut and counted",
          "[monitor][bounds]") {
  vigil::Schema schema;
  const auto color = schema.add_categorical("color");
  vigil::Profile profile(schema);
  vigil::Monitor monitor(schema, profile);
  vigil::Observation o(schema);
  o.at(start_time).set(color, std::string(vigil::Schema::max_value_bytes, 'a'));
  monitor.observe(o);
  CHECK(monitor.report(start_time + 1).counters.truncated_values == 0);
  o.at(start_time + 1).set(color, std::string(vigil::Schema::max_value_bytes + 1, 'a'));
  monitor.observe(o);
  const vigil::Report r = monitor.report(start_time + 2);
  CHECK(r.counters.truncated_values == 1);
  CHECK(r.counters.observed == 2);
}

TEST_CASE("MonitorOptions: retention, shards and the alert log are accepted up to their maximum, refused beyond",
          "[monitor][bounds]") {
  const auto refused = [](auto set, const std::string& text) {
    vigil::MonitorOptions o;
    set(o);
    CHECK_THROWS_AS(o.validate(), vigil::invalid_argument);
    CHECK_THROWS_WITH(o.validate(), Catch::Contains(text));
  };
  const auto accepted = [](auto set) {
    vigil::MonitorOptions o;
    set(o);
    CHECK_NOTHROW(o.validate());
  };
  const std::size_t retained = vigil::MonitorOptions::max_retained_intervals;
  CHECK(retained == 65536);
  accepted([&](vigil::MonitorOptions& o) { o.fine_intervals = retained; });
  refused([&](vigil::MonitorOptions& o) { o.fine_intervals = retained + 1; }, "fine_intervals 65537");
  accepted([&](vigil::MonitorOptions& o) { o.coarse_intervals = retained; });
  refused([&](vigil::MonitorOptions& o) { o.coarse_intervals = retained + 1; }, "coarse_intervals 65537");
  refused([&](vigil::MonitorOptions& o) { o.coarse_intervals = std::size_t(1) << 40; }, "coarse_intervals 1099511627776");
  accepted([&](vigil::MonitorOptions& o) { o.shards = vigil::MonitorOptions::max_shards; });
  refused([&](vigil::MonitorOptions& o) { o.shards = vigil::MonitorOptions::max_shards + 1; }, "shards 1025");
  accepted([&](vigil::MonitorOptions& o) { o.alert_log = vigil::MonitorOptions::max_alert_log; });
  refused([&](vigil::MonitorOptions& o) { o.alert_log = vigil::MonitorOptions::max_alert_log + 1; }, "alert_log 65537");
}

// Every closed interval is evaluated once, in order, whoever asks and however rarely
// (docs/guide.md, "Ask for the report"); what left fine retention unevaluated is counted.
namespace {

// An alert transition as text, every field that reaches a callback or the alert log.
std::string transition_text(const Alert& a) {
  return std::to_string(a.sequence) + " " + std::to_string(a.time) + " " + vigil::to_string(a.transition) + " " +
         vigil::to_string(a.kind) + " " + vigil::to_string(a.subject) + " " + vigil::to_string(a.severity) + " " +
         std::to_string(a.statistic) + " " + std::to_string(a.p_value) + " " + a.message;
}

// Twenty minutes of the scenario, x shifted by 1.5 from minute 5 on, into a monitor with a
// server's defaults; `every` > 0 asks report() after each `every` minutes, and finish() ends
// the stream. Returns the callbacks' transitions, then the final alert log's, as text.
std::vector<std::string> drift_alerts(int every) {
  Scenario sc;
  vigil::MonitorOptions options;
  options.shards = 1;
  vigil::Monitor monitor(sc.schema, sc.profile(5000), options);
  std::vector<std::string> seen;
  monitor.on_alert([&](const Alert& a) { seen.push_back(transition_text(a)); });
  Source s(31);
  const auto shift = [](std::uint64_t, double minute, Scenario::Row& r, double&) {
    if (minute >= 5) r.x += 1.5;
  };
  for (int m = 0; m < 20; ++m) {
    feed(sc, monitor, s, start_time, m, m + 1, 200, shift, static_cast<std::uint64_t>(m) * 200);
    if (every > 0 && (m + 1) % every == 0) monitor.report();
  }
  const vigil::Report r = monitor.finish();
  CHECK(r.counters.skipped_evaluations == 0);
  seen.emplace_back("log");
  for (const Alert& a : r.alert_log) seen.push_back(transition_text(a));
  return seen;
}

}  // namespace

TEST_CASE("Monitor: a drift judged only by finish() raises the alerts that reporting every minute raises",
          "[monitor][evaluation]") {
  const std::vector<std::string> every_minute = drift_alerts(1);
  const std::vector<std::string> only_finish = drift_alerts(0);
  const std::vector<std::string> every_seven = drift_alerts(7);
  std::string text;
  for (const std::string& line : every_minute) text += line + "\n";
  INFO(text);
  std::size_t raised = 0;
  for (const std::string& line : every_minute) raised += line.find(" raised ") != std::string::npos ? 1 : 0;
  CHECK(raised >= 3 * 2);  // feature_shift, feature_drift and score_drift at least, in callbacks and log
  CHECK(only_finish == every_minute);
  CHECK(every_seven == every_minute);
}

TEST_CASE("Monitor: intervals that left fine retention before anyone asked are counted as skipped, exactly",
          "[monitor][evaluation]") {
  Scenario sc;
  vigil::MonitorOptions options;
  options.shards = 1;
  vigil::Monitor monitor(sc.schema, sc.profile(2000), options);
  std::vector<double> evaluated;
  monitor.on_interval([&](const vigil::Report& r) { evaluated.push_back(r.recent_end); });
  Source s(41);
  const auto clean = [](std::uint64_t, double, Scenario::Row&, double&) {};
  // 150 minutes, then one report(): minutes 0 to 148 have closed; the 59 that fine retention
  // (60 intervals, the open one included) still holds are evaluated, the other 90 counted.
  feed(sc, monitor, s, start_time, 0, 150, 20, clean);
  vigil::Report r = monitor.report();
  CHECK(r.counters.skipped_evaluations == 90);
  REQUIRE(evaluated.size() == 59);
  CHECK(evaluated.front() == start_time + 60.0 * 91);  // minute 90 judged first
  CHECK(evaluated.back() == start_time + 60.0 * 149);
  // Ten more minutes, then a scrape at minute 340: minutes 149 to 339 have closed since, the
  // last 59 evaluated (281 to 339), 132 counted.
  feed(sc, monitor, s, start_time, 150, 160, 20, clean);
  r = monitor.report(start_time + 60.0 * 340);
  CHECK(r.counters.skipped_evaluations == 90 + 132);
  REQUIRE(evaluated.size() == 59 + 59);
  CHECK(evaluated[59] == start_time + 60.0 * 282);
  CHECK(evaluated.back() == start_time + 60.0 * 340);
  // Every interval from the first event's to the last closed is evaluated or skipped, once.
  CHECK(r.counters.skipped_evaluations + evaluated.size() == 340);
  for (std::size_t i = 1; i < evaluated.size(); ++i) CHECK(evaluated[i] > evaluated[i - 1]);
  // Asking again evaluates and counts nothing more.
  r = monitor.report(start_time + 60.0 * 340);
  CHECK(r.counters.skipped_evaluations == 222);
  CHECK(evaluated.size() == 118);
}

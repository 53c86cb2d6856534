#include <vigil/io/binary.hpp>
#include <vigil/monitor/conversions.hpp>
#include <vigil/monitor/detail/monitor_families.hpp>
#include <vigil/monitor/monitor.hpp>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include "vigil_test.hpp"

namespace conversions_test {  // named: the files of a tests/ folder may compile as one unit
namespace {

constexpr double start_time = 1767225600;  // 2026-01-01T00:00:00Z, long before the wall clock

struct Model {
  vigil::Schema schema;
  vigil::NumericFeature x;
  vigil::Tag arm;

  explicit Model(std::size_t arms = 8) {
    x = schema.add_numeric("x");
    vigil::TagOptions tag;
    tag.max_values = arms;
    arm = schema.add_tag("arm", tag);
  }
  vigil::Profile profile() const {
    vigil::Profile p(schema);
    vigil::Observation o(schema);
    for (int i = 0; i < 500; ++i) {
      o.clear();
      o.set(x, i * 0.002);
      p.add(o);
    }
    return p;
  }
};

vigil::MonitorOptions conversion_options() {
  vigil::MonitorOptions o;
  o.conversion_arm = "arm";
  o.quality_interval = 600;
  o.label_time_to_live = 6 * 3600;
  o.evaluate_in_observe = true;
  return o;
}

// One impression with its arm and, when it converts, the delay of its response.
struct Impression {
  double time;
  std::string arm;  // empty: no arm tag
  double delay;     // NaN: never converts
};

std::string id_of(std::size_t i) { return "req-" + std::to_string(i); }

// Files the impressions and their responses in event-time order (responses up to the last
// impression: the log ends there), then finishes the log.
vigil::Report replay(vigil::Monitor& m, const Model& model, const std::vector<Impression>& impressions) {
  struct Event {
    double time;
    bool response;
    std::size_t index;
  };
  std::vector<Event> events;
  for (std::size_t i = 0; i < impressions.size(); ++i) {
    events.push_back({impressions[i].time, false, i});
    if (!std::isnan(impressions[i].delay)) events.push_back({impressions[i].time + impressions[i].delay, true, i});
  }
  std::stable_sort(events.begin(), events.end(), [](const Event& a, const Event& b) { return a.time < b.time; });
  double last = -std::numeric_limits<double>::infinity();
  for (const Impression& i : impressions) last = std::max(last, i.time);
  vigil::Observation o(model.schema);
  for (const Event& e : events) {
    if (e.time > last) break;
    if (e.response) {
      m.on_conversion(id_of(e.index), e.time);
      continue;
    }
    o.clear();
    o.at(e.time).set(model.x, 0.5).id(id_of(e.index));
    if (!impressions[e.index].arm.empty()) o.tag(model.arm, impressions[e.index].arm);
    m.observe(o);
  }
  return m.finish();
}

const vigil::ConversionArm* arm_named(const vigil::ConversionReport& r, const std::string& name) {
  for (const vigil::ConversionArm& a : r.arms)
    if (a.arm == name) return &a;
  return nullptr;
}

// The impressions at least `delay` old at `now` (whole quality intervals: an interval's
// impressions count once its end, or `now`, is `delay` before now) and their responses
// within less than `delay`, counted directly from the events.
struct Counted {
  std::uint64_t eligible = 0, converted = 0;
};
Counted count_at(const std::vector<Impression>& impressions, const std::string& arm, double delay, double now,
                 double resolution) {
  Counted c;
  for (const Impression& i : impressions) {
    if (i.arm != arm || i.time >= now) continue;
    const double end = std::min((std::floor(i.time / resolution) + 1) * resolution, now);
    if (!(now - end >= delay)) continue;
    ++c.eligible;
    if (!std::isnan(i.delay) && i.delay < delay) ++c.converted;
  }
  return c;
}

TEST_CASE("conversions: each arm's counts at the delay are those of the impressions old enough", "[conversions]") {
  const Model model;
  vigil::Monitor m(model.schema, model.profile(), conversion_options());
  vigil_test::Random random(3);
  std::vector<Impression> impressions;
  const char* arms[] = {"a", "b", "c"};
  const double mean_delay[] = {120, 600, 1800};
  const double rate[] = {0.3, 0.2, 0.25};
  for (int i = 0; i < 12000; ++i) {
    const int k = static_cast<int>(random.uniform() * 3) % 3;
    const double t = start_time + 4 * 3600.0 * i / 12000;
    const bool converts = random.uniform() < rate[k];
    const double delay = converts ? -mean_delay[k] * std::log(1 - random.uniform()) : std::nan("");
    impressions.push_back({t, arms[k], delay < 6 * 3600 ? delay : std::nan("")});
  }
  const vigil::Report r = replay(m, model, impressions);
  const vigil::ConversionReport& c = r.conversions;
  REQUIRE(c.arm_tag == "arm");
  REQUIRE(std::isfinite(c.delay));
  REQUIRE(c.arms.size() == 3);
  const double last = impressions.back().time;
  const auto responded = [&](const Impression& i) { return !std::isnan(i.delay) && i.time + i.delay <= last; };
  std::uint64_t responses = 0;
  for (const Impression& i : impressions) responses += responded(i) ? 1 : 0;
  CHECK(c.received == responses);
  CHECK(c.joined == responses);
  const double now = r.recent_end;
  for (const char* name : arms) {
    const vigil::ConversionArm* a = arm_named(c, name);
    REQUIRE(a != nullptr);
    const Counted at = count_at(impressions, name, c.delay, now, 600);
    INFO(name << " at " << c.delay << " s");
    CHECK(a->impressions_at_delay == at.eligible);
    CHECK(a->conversions_at_delay == at.converted);
    CHECK(a->low <= a->rate_at_delay);
    CHECK(a->high >= a->rate_at_delay);
    std::uint64_t total = 0, converted = 0;
    for (const Impression& i : impressions)
      if (i.arm == name) {
        ++total;
        converted += responded(i) ? 1 : 0;
      }
    CHECK(a->impressions == total);
    CHECK(a->conversions == converted);
  }
  // d* is the first bucket edge at which the pooled rate reaches the share of the eventual rate.
  const auto pooled = [&](double delay) {
    Counted all;
    for (const char* name : arms) {
      const Counted one = count_at(impressions, name, delay, now, 600);
      all.eligible += one.eligible;
      all.converted += one.converted;
    }
    return static_cast<double>(all.converted) / static_cast<double>(all.eligible);
  };
  CHECK(pooled(c.horizon) == Approx(c.eventual_rate).epsilon(1e-12));
  CHECK(pooled(c.delay) >= c.share * c.eventual_rate * (1 - 1e-12));
  CHECK(pooled(c.delay / std::pow(10.0, 0.1)) < c.share * c.eventual_rate);
}

TEST_CASE("conversions: the delay is where the share of eventual responses has come", "[conversions]") {
  // Exponential delays of mean 600 s: 60 % of the responses come by −600 ln 0.4 ≈ 550 s.
  const Model model;
  vigil::MonitorOptions options = conversion_options();
  options.conversion_horizon = 3 * 3600;  // about every response of a mean-600-s delay
  vigil::Monitor m(model.schema, model.profile(), options);
  vigil_test::Random random(5);
  std::vector<Impression> impressions;
  for (int i = 0; i < 40000; ++i) {
    const double t = start_time + 6 * 3600.0 * i / 40000;
    const bool converts = random.uniform() < 0.4;
    impressions.push_back({t, i % 2 ? "x" : "y", converts ? -600 * std::log(1 - random.uniform()) : std::nan("")});
  }
  const vigil::ConversionReport c = replay(m, model, impressions).conversions;
  const double expected = -600 * std::log(0.4);
  // The delay is a bucket edge: the first at or above the true quantile, a factor 10^0.1 apart.
  CHECK(c.delay >= expected / std::pow(10.0, 0.1) * 0.98);
  CHECK(c.delay <= expected * std::pow(10.0, 0.1) * 1.02);
  CHECK(c.horizon <= 3 * 3600);
  CHECK(c.horizon > 3 * 3600 / std::pow(10.0, 0.1));
  CHECK(c.eventual_rate == Approx(0.4 * (1 - std::exp(-c.horizon / 600))).margin(0.015));
  CHECK(c.share == 0.6);
}

TEST_CASE("conversions: a naive ratio prefers the arm with older traffic, the rate at the delay does not",
          "[conversions]") {
  // Arm "new" converts more (30 % against 20 %, the same delays of mean one hour), but it
  // was launched an hour ago: its responses have not come yet.
  const Model model;
  vigil::Monitor m(model.schema, model.profile(), conversion_options());
  vigil_test::Random random(9);
  std::vector<Impression> impressions;
  const double span = 5 * 3600.0;
  for (int i = 0; i < 30000; ++i) {
    const double t = start_time + span * i / 30000;
    const bool late = t > start_time + span - 3600;
    const bool is_new = random.uniform() < (late ? 0.8 : 0.02);
    const bool converts = random.uniform() < (is_new ? 0.3 : 0.2);
    const double delay = converts ? -3600 * std::log(1 - random.uniform()) : std::nan("");
    impressions.push_back({t, is_new ? "new" : "old", delay});
  }
  const vigil::ConversionReport c = replay(m, model, impressions).conversions;
  const vigil::ConversionArm* fresh = arm_named(c, "new");
  const vigil::ConversionArm* old = arm_named(c, "old");
  REQUIRE(fresh != nullptr);
  REQUIRE(old != nullptr);
  CHECK(fresh->naive_rate < old->naive_rate);
  CHECK(c.naive_best_arm == "old");
  CHECK(fresh->rate_at_delay > old->rate_at_delay);
  CHECK(c.best_arm == "new");
  CHECK(fresh->low > old->high);
}

TEST_CASE("conversions: no arm is named best while the intervals overlap", "[conversions]") {
  const Model model;
  vigil::Monitor m(model.schema, model.profile(), conversion_options());
  vigil_test::Random random(13);
  std::vector<Impression> impressions;
  for (int i = 0; i < 600; ++i) {
    const double t = start_time + 3 * 3600.0 * i / 600;
    const bool converts = random.uniform() < (i % 2 ? 0.22 : 0.2);
    impressions.push_back({t, i % 2 ? "p" : "q", converts ? 30 + 60 * random.uniform() : std::nan("")});
  }
  const vigil::ConversionReport c = replay(m, model, impressions).conversions;
  REQUIRE(std::isfinite(c.delay));
  CHECK(c.best_arm.empty());
  const vigil::ConversionArm* p = arm_named(c, "p");
  const vigil::ConversionArm* q = arm_named(c, "q");
  REQUIRE(p != nullptr);
  REQUIRE(q != nullptr);
  CHECK(p->low <= q->high);
  CHECK(q->low <= p->high);
}

TEST_CASE("conversions: bad responses are counted, never lost or thrown", "[conversions]") {
  const Model model;
  vigil::MonitorOptions options = conversion_options();
  options.label_time_to_live = 3600;
  options.evaluate_in_observe = false;
  vigil::Monitor m(model.schema, model.profile(), options);
  vigil::Observation o(model.schema);
  o.at(start_time).set(model.x, 0.5).id("one").tag(model.arm, "a");
  m.observe(o);
  o.clear();
  o.at(start_time + 1).set(model.x, 0.5).id("bare");  // no arm tag
  m.observe(o);
  CHECK_FALSE(m.on_conversion("one", start_time - 5));                  // before its impression
  CHECK_FALSE(m.on_conversion("nobody", start_time + 10));              // unknown id
  CHECK_FALSE(m.on_conversion("one", std::nan("")));                    // bad time
  CHECK_FALSE(m.on_conversion("one", std::numeric_limits<double>::infinity()));
  CHECK(m.on_conversion("one", start_time + 20));                       // the impression waited
  CHECK_FALSE(m.on_conversion("one", start_time + 30));                 // a second response
  CHECK(m.on_conversion("bare", start_time + 40));                      // joined, in no arm
  o.clear();
  o.at(start_time + 50).set(model.x, 0.5).id("old").tag(model.arm, "b");
  m.observe(o);
  CHECK_FALSE(m.on_conversion("old", start_time + 50 + 3601));          // after the time-to-live
  const vigil::ConversionReport c = m.finish().conversions;
  CHECK(c.received == 8);
  CHECK(c.joined == 2);
  CHECK(c.before_impression == 1);
  CHECK(c.unknown_ids == 1);
  CHECK(c.bad_times == 2);
  CHECK(c.duplicates == 1);
  CHECK(c.too_late == 1);
  CHECK(c.impressions_without_arm == 1);
  const vigil::ConversionArm* a = arm_named(c, "a");
  REQUIRE(a != nullptr);
  CHECK(a->impressions == 1);
  CHECK(a->conversions == 1);
  REQUIRE(arm_named(c, "b") != nullptr);
  CHECK(arm_named(c, "b")->conversions == 0);
  CHECK(c.received == c.joined + c.before_impression + c.unknown_ids + c.bad_times + c.duplicates + c.too_late);
}

TEST_CASE("conversions: misuse and options out of range are refused, naming the value", "[conversions]") {
  const Model model;
  vigil::Monitor plain(model.schema, model.profile());
  CHECK_THROWS_WITH(plain.on_conversion("x", start_time), Catch::Contains("conversion_arm"));
  CHECK(plain.report().conversions.arm_tag.empty());
  vigil::MonitorOptions o = conversion_options();
  o.conversion_arm = "variant";
  CHECK_THROWS_WITH(vigil::Monitor(model.schema, model.profile(), o), Catch::Contains("'variant' is no tag"));
  Model wide(vigil::Schema::max_cohort_values + 1);
  CHECK_THROWS_WITH(vigil::Monitor(wide.schema, wide.profile(), conversion_options()), Catch::Contains("max_values"));
  const auto refused = [&](auto change, const char* what) {
    vigil::MonitorOptions bad = conversion_options();
    change(bad);
    CHECK_THROWS_WITH(bad.validate(), Catch::Contains(what));
  };
  refused([](vigil::MonitorOptions& b) { b.conversion_share = 0; }, "conversion_share");
  refused([](vigil::MonitorOptions& b) { b.conversion_share = 1.5; }, "conversion_share");
  refused([](vigil::MonitorOptions& b) { b.conversion_horizon = b.label_time_to_live * 2; }, "conversion_horizon");
  refused([](vigil::MonitorOptions& b) { b.conversion_horizon = std::nan(""); }, "conversion_horizon");
  refused([](vigil::MonitorOptions& b) { b.conversion_confidence = 1; }, "conversion_confidence");
  refused([](vigil::MonitorOptions& b) { b.conversion_interval = 90; }, "conversion_interval");
  vigil::MonitorOptions fine = conversion_options();
  fine.conversion_interval = 120;
  CHECK_NOTHROW(fine.validate());
  CHECK(fine.conversion_resolution() == 120);
  CHECK(conversion_options().conversion_resolution() == 600);
}

TEST_CASE("conversions: responses beyond the staging are applied early, not lost", "[conversions]") {
  const Model model;
  vigil::MonitorOptions options = conversion_options();
  options.label_capacity = 64;
  options.shards = 1;  // one part of the store: it holds exactly label_capacity requests
  options.evaluate_in_observe = false;
  vigil::Monitor m(model.schema, model.profile(), options);
  vigil::Observation o(model.schema);
  for (int i = 0; i < 60; ++i) {
    o.clear();
    o.at(start_time + i).set(model.x, 0.5).id(id_of(static_cast<std::size_t>(i))).tag(model.arm, "a");
    m.observe(o);
  }
  // All in the open interval: nothing is evaluated until the staging fills.
  for (int i = 0; i < 60; ++i) CHECK(m.on_conversion(id_of(static_cast<std::size_t>(i)), start_time + 61 + i * 0.1));
  const vigil::ConversionReport c = m.finish().conversions;
  CHECK(c.joined == 60);
  REQUIRE(arm_named(c, "a") != nullptr);
  CHECK(arm_named(c, "a")->conversions == 60);
  CHECK(c.applied_early == 0);  // 60 < 64: all waited for their interval
  vigil::Monitor small(model.schema, model.profile(), options);
  for (int i = 0; i < 64; ++i) {
    o.clear();
    o.at(start_time + i * 0.5).set(model.x, 0.5).id(id_of(static_cast<std::size_t>(i))).tag(model.arm, "a");
    small.observe(o);
  }
  for (int i = 0; i < 64; ++i) small.on_conversion(id_of(static_cast<std::size_t>(i)), start_time + 40);
  const vigil::ConversionReport d = small.finish().conversions;
  CHECK(d.applied_early == 64);
  REQUIRE(arm_named(d, "a") != nullptr);
  CHECK(arm_named(d, "a")->conversions == 64);
}

TEST_CASE("conversions: the interval summary keeps impressions per arm and validates them", "[conversions]") {
  const Model model;
  const vigil::detail::MonitorPlan plan =
      vigil::detail::MonitorPlan::make(model.schema, model.profile(), conversion_options());
  const auto& p = plan.of<vigil::detail::ConversionFamily>();
  REQUIRE(p.active);
  CHECK(p.arms == 9);  // max_values 8 and "other"
  vigil::detail::IntervalSummary s(plan);
  vigil::Observation o(model.schema);
  const std::uint32_t tags[] = {2};
  o.at(start_time).set(model.x, 0.5).id("r").tag(model.arm, "c");
  s.apply(plan, o, tags, std::nan(""));
  const std::uint32_t none[] = {vigil::detail::no_tag};
  s.apply(plan, o, none, std::nan(""));
  o.clear();
  o.at(start_time).set(model.x, 0.5);  // no id: no impression
  s.apply(plan, o, tags, std::nan(""));
  const auto& state = s.state<vigil::detail::ConversionFamily>();
  CHECK(state.impressions[2] == 1);
  CHECK(state.impressions[9] == 1);
  const auto bytes = s.serialize();
  CHECK(vigil::detail::IntervalSummary::deserialize(bytes, plan) == s);
  // A summary claiming more impressions than requests is refused.
  vigil::detail::IntervalSummary bad = s;
  bad.state<vigil::detail::ConversionFamily>().impressions[0] = 5;
  CHECK_THROWS_AS(vigil::detail::IntervalSummary::deserialize(bad.serialize(), plan), vigil::format_error);
  // A plan without conversions writes no state and reads none.
  const vigil::detail::MonitorPlan bare = vigil::detail::MonitorPlan::make(model.schema, model.profile(), {});
  vigil::detail::IntervalSummary b(bare);
  b.apply(bare, o, tags, std::nan(""));
  CHECK(b.state<vigil::detail::ConversionFamily>().impressions.empty());
  CHECK_THROWS_AS(vigil::detail::IntervalSummary::deserialize(bytes, bare), vigil::format_error);
}

TEST_CASE("conversions: delay buckets hold a delay between their edges", "[conversions]") {
  const vigil::detail::DelayBuckets b(86400);
  CHECK(b.upper(0) == 1);
  CHECK(b.size() == 51 + 1);  // edges 10^0 … 10^5 by tenths up to 86400, and the open bucket
  CHECK(b.upper(b.size() - 2) >= 86400);
  CHECK(std::isinf(b.upper(b.size() - 1)));
  vigil_test::Random random(17);
  for (int i = 0; i < 20000; ++i) {
    const double d = std::pow(10.0, 6 * random.uniform() - 1);
    const std::size_t j = b.of(d);
    CHECK(d < b.upper(j));
    if (j > 0) CHECK(d >= b.upper(j - 1));
  }
  for (std::size_t j = 0; j + 1 < b.size(); ++j) CHECK(b.of(b.upper(j)) == j + 1);  // an edge opens its bucket
  CHECK(b.of(0) == 0);
}

TEST_CASE("conversions: the ledger's memory is as documented", "[conversions]") {
  vigil::detail::ConversionPlan p;
  p.active = true;
  p.arms = 5;
  p.resolution = 600;
  p.length = 11;
  p.delays = vigil::detail::DelayBuckets(6000);
  vigil::detail::ConversionLedger ledger(p);
  vigil::detail::ConversionState s(p);
  s.impressions[1] = 3;
  ledger.add_impressions(start_time, s);
  ledger.add_conversion({start_time + 30, start_time, 1});
  ledger.add_conversion({start_time + 30, start_time, 3});
  const std::size_t rows = p.length * 8 * (p.arms + 1);
  const std::size_t delays = 2 * p.length * 8 * p.delays.size();
  CHECK(ledger.memory_bytes() >= rows + delays);
  CHECK(ledger.memory_bytes() <= rows + delays + p.length * 8 + p.arms * sizeof(std::vector<std::uint64_t>) + 64);
  // A response to an impression older than the ring keeps is refused.
  ledger.add_impressions(start_time + 20 * 600, s);
  CHECK_FALSE(ledger.add_conversion({start_time + 20 * 600, start_time, 1}));
}

TEST_CASE("conversions: impressions and responses from several threads add up", "[conversions][concurrency]") {
  const Model model;
  vigil::MonitorOptions options = conversion_options();
  options.evaluate_in_observe = false;
  options.shards = 4;
  vigil::Monitor m(model.schema, model.profile(), options);
  constexpr int threads = 4;
  constexpr int each = 3000;
  std::atomic<int> joined{0};
  std::vector<std::thread> workers;
  for (int w = 0; w < threads; ++w)
    workers.emplace_back([&, w] {
      vigil::Observation o(model.schema);
      for (int i = 0; i < each; ++i) {
        const std::size_t n = static_cast<std::size_t>(w * each + i);
        o.clear();
        // Within one interval and the next, so that no thread's requests are late for another's.
        o.at(start_time + 100 + (i % 50)).set(model.x, 0.5).id(id_of(n)).tag(model.arm, w % 2 ? "a" : "b");
        m.observe(o);
        if (i >= 10 && i % 3 == 0 && m.on_conversion(id_of(n - 10), start_time + 200)) ++joined;
      }
    });
  for (std::thread& t : workers) t.join();
  const vigil::ConversionReport c = m.finish().conversions;
  CHECK(c.joined == static_cast<std::uint64_t>(joined.load()));
  std::uint64_t impressions = 0, conversions = 0;
  for (const vigil::ConversionArm& a : c.arms) {
    impressions += a.impressions;
    conversions += a.conversions;
  }
  CHECK(impressions == threads * each);
  CHECK(conversions == c.joined);
  int named = 0;
  for (int i = 10; i < each; ++i) named += i % 3 == 0 ? 1 : 0;
  CHECK(c.joined == static_cast<std::uint64_t>(threads * named));  // every response named a held impression
}

}  // namespace
}  // namespace conversions_test

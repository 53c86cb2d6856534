// Latency monitoring: log-bucket G-test of recent against background latencies, p99 shifts,
// and slow-request attribution to tag values; detail functions first, then a scenario.
#include <vigil/export/prometheus.hpp>
#include <vigil/monitor/monitor.hpp>

#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "vigil_test.hpp"

namespace {

using vigil_test::Random;

constexpr double latency_start = 1767225600;  // 2026-01-01T00:00:00Z, long before the wall clock

// Whether two histograms hold the same buckets with the same counts (their sums may differ in
// the last bits, added in another order).
bool same_buckets(const vigil::LogHistogram& a, const vigil::LogHistogram& b) {
  const auto x = a.buckets(), y = b.buckets();
  if (x.size() != y.size()) return false;
  for (std::size_t i = 0; i < x.size(); ++i)
    if (x[i].index != y[i].index || x[i].count != y[i].count) return false;
  return true;
}

}  // namespace

TEST_CASE("latency: no latencies give no figures", "[latency]") {
  vigil::LatencyReport r;
  vigil::detail::analyze_latency(vigil::LogHistogram(4), vigil::LogHistogram(4), r);
  CHECK(r.recent_count == 0);
  CHECK(std::isnan(r.recent_p99));
  CHECK(std::isnan(r.p_value));
  CHECK(vigil::detail::slow_attributions("host", {"a", "b"}, {0, 0}, {0, 0}).empty());
}

TEST_CASE("latency: the same distribution is not a change, a slower one is", "[latency]") {
  Random random(3);
  vigil::LogHistogram background(4);
  vigil::LogHistogram same(4);
  vigil::LogHistogram slower(4);
  for (int i = 0; i < 200000; ++i) background.record(0.02 * std::exp(0.3 * random.normal()));
  for (int i = 0; i < 5000; ++i) same.record(0.02 * std::exp(0.3 * random.normal()));
  for (int i = 0; i < 5000; ++i) slower.record(0.04 * std::exp(0.3 * random.normal()));
  vigil::LatencyReport a;
  vigil::detail::analyze_latency(same, background, a);
  CHECK(a.p_value > 0.001);
  CHECK(a.p99_ratio == Approx(1).epsilon(0.1));
  // Quantiles within the histogram's relative error (scale 4: 2.2 %) of the exact ones.
  CHECK(a.background_p50 == Approx(0.02).epsilon(0.03));
  CHECK(a.background_p99 == Approx(0.02 * std::exp(0.3 * 2.3263)).epsilon(0.04));
  vigil::LatencyReport b;
  vigil::detail::analyze_latency(slower, background, b);
  CHECK(b.p_value < 1e-12);
  CHECK(b.p99_ratio == Approx(2).epsilon(0.1));

}

TEST_CASE("latency: attribution shares, lift and the G-test against the other values", "[latency]") {
  // 4 hosts with 1000 requests each; h3 has 61 of the 100 slow ones.
  auto found = vigil::detail::slow_attributions("host", {"h1", "h2", "h3", "h4"}, {1000, 1000, 1000, 1000}, {13, 13, 61, 13});
  REQUIRE(found.size() == 4);
  CHECK(found[2].first == 2);  // in value order, with each value's index
  vigil::detail::by_lift(found, [](const auto& e) { return e.second.lift; });
  std::vector<vigil::SlowAttribution> out;
  for (auto& e : found) out.push_back(e.second);
  CHECK(out[0].value == "h3");
  CHECK(out[0].share_of_slow == Approx(0.61));
  CHECK(out[0].share_of_all == Approx(0.25));
  CHECK(out[0].lift == Approx(2.44));
  // The 2×2 table h3 vs the rest, slow vs not: G = 2 Σ O ln(O/E).
  const double o[4] = {61, 939, 39, 2961};
  const double e[4] = {25, 975, 75, 2925};
  double g = 0;
  for (int i = 0; i < 4; ++i) g += 2 * o[i] * std::log(o[i] / e[i]);
  CHECK(out[0].p_value == Approx(vigil::stats::chi_square_sf(g, 1)).epsilon(1e-9));
  CHECK(out[1].lift < 1);
}

TEST_CASE("latency: 1 % of one host's requests ten times slower is caught and attributed to it",
          "[latency][monitor]") {
  vigil::Schema schema;
  const auto x = schema.add_numeric("x");
  const auto host = schema.add_tag("host");
  Random random(11);
  vigil::Profile profile(schema);
  vigil::Observation row(schema);
  for (int i = 0; i < 2000; ++i) profile.add(row.set(x, random.normal()));
  vigil::MonitorOptions options;
  options.shards = 1;
  options.evaluate_in_observe = true;
  vigil::Monitor monitor(schema, profile, options);
  std::vector<vigil::Alert> alerts;
  monitor.on_alert([&](const vigil::Alert& a) { alerts.push_back(a); });

  const char* hosts[] = {"h0", "h1", "h2", "h3"};
  const double fault = latency_start + 1.5 * 3600;
  vigil::Observation request(schema);
  for (double t = latency_start; t < fault + 1200; t += 0.02) {  // 50 requests a second
    const int h = static_cast<int>(random.uniform() * 4);
    double latency = 0.02 * std::exp(0.3 * random.normal());
    if (t >= fault && h == 3 && random.uniform() < 0.01) latency *= 10;
    request.clear();
    request.at(t).set(x, random.normal()).tag(host, hosts[h]).latency(latency);
    monitor.observe(request);
  }
  const vigil::Report r = monitor.report();
  REQUIRE_FALSE(r.latency.attribution.empty());
  CHECK(r.latency.attribution.front().tag == "host");
  CHECK(r.latency.attribution.front().value == "h3");
  CHECK(r.latency.attribution.front().lift > 1.3);  // 1.6 expected: (1 % + 1 %) / (4 % + 1 %) / 25 %
  CHECK(r.latency.slow_threshold == Approx(0.02 * std::exp(0.3 * 2.3263)).epsilon(0.05));
  CHECK(r.latency.p999_ratio > 2);
  double first = 0;
  bool before_fault = false;
  for (const auto& a : alerts) {
    before_fault = before_fault || a.time <= fault;
    if (a.kind == vigil::AlertKind::latency && vigil::to_string(a.subject) == "host=h3" && first == 0) first = a.time;
  }
  CHECK_FALSE(before_fault);
  REQUIRE(first > 0);
  CHECK(first - fault <= 10 * 60);  // within ten one-minute intervals
}

TEST_CASE("latency: the histogram since start holds every latency evaluated, and replicas' add up to one monitor's",
          "[latency][monitor]") {
  vigil::Schema schema;
  const auto x = schema.add_numeric("x");
  vigil::TagOptions cohort;
  cohort.cohort = true;
  const auto host = schema.add_tag("host", cohort);
  Random random(5);
  vigil::Profile profile(schema);
  vigil::Observation row(schema);
  for (int i = 0; i < 500; ++i) profile.add(row.set(x, random.normal()));
  vigil::MonitorOptions options;
  options.shards = 1;
  options.evaluate_in_observe = true;
  vigil::Monitor all(schema, profile, options);
  std::vector<std::unique_ptr<vigil::Monitor>> replicas;
  for (int k = 0; k < 3; ++k) replicas.push_back(std::make_unique<vigil::Monitor>(schema, profile, options));
  vigil::LogHistogram exact(4);  // every latency of the intervals evaluated at the check below
  vigil::LogHistogram first_hour(4);
  vigil::Observation request(schema);
  const char* hosts[] = {"a", "b"};
  std::uint64_t since_first = 0;
  int i = 0;
  // Two hours and a half at 5 requests a second, a quiet hour in the middle: the evaluations
  // after it take in several intervals at once.
  for (double t = latency_start; t < latency_start + 2.5 * 3600; t += 0.2, ++i) {
    if (t >= latency_start + 3600 && t < latency_start + 7200) continue;
    const double latency = 0.015 * std::exp(0.5 * random.normal());
    request.clear();
    request.at(t).set(x, random.normal()).tag(host, hosts[i % 2]).latency(latency);
    all.observe(request);
    replicas[static_cast<std::size_t>(i % 3)]->observe(request);
    exact.record(latency);
    if (t < latency_start + 3600) {
      first_hour.record(latency);
    } else if (since_first == 0) {
      // At the first request after the silence, every interval of the first hour has closed,
      // even those older than the fine intervals kept, whose evaluation is skipped.
      const vigil::Report r = all.report();
      since_first = r.latency.since_start.count();
      CHECK(r.counters.skipped_evaluations > 0);
      CHECK(r.latency.since_start.buckets().size() == first_hour.buckets().size());
    }
  }
  CHECK(since_first == first_hour.count());
  const vigil::Report r = all.finish();
  // finish() evaluates every interval: all the latencies, bucket for bucket (the sums may
  // differ in their last bits, added in another order).
  CHECK(r.latency.since_start.count() == exact.count());
  CHECK(same_buckets(r.latency.since_start, exact));
  CHECK(r.latency.since_start.sum() == Approx(exact.sum()).epsilon(1e-12));
  CHECK(r.latency.since_start.quantile(0.99) == Approx(exact.quantile(0.99)));
  // A cohort's report leaves it empty: the fleet counts each request once.
  REQUIRE_FALSE(r.cohorts.empty());
  for (const vigil::CohortReport& c : r.cohorts) CHECK(c.latency.since_start.count() == 0);
  // Three replicas, each fed a third: their histograms add up to the one of everything.
  vigil::LogHistogram merged(4);
  for (auto& m : replicas) merged.merge(m->finish().latency.since_start);
  CHECK(merged.count() == exact.count());
  CHECK(same_buckets(merged, exact));
  // And the Prometheus text holds it.
  const std::string text = vigil::to_prometheus(r);
  CHECK(text.find("# TYPE vigil_request_latency_seconds histogram") != std::string::npos);
  CHECK(text.find("vigil_request_latency_seconds_count " + std::to_string(exact.count()) + "\n") != std::string::npos);
}

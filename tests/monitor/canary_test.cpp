#include <vigil/export/json.hpp>
#include <vigil/export/prometheus.hpp>
#include <vigil/io/binary.hpp>
#include <vigil/monitor/canary.hpp>
#include <vigil/monitor/detail/monitor_families.hpp>
#include <vigil/monitor/monitor.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "vigil_test.hpp"

namespace canary_test {  // named: the files of a tests/ folder may compile as one unit
namespace {

constexpr double start_time = 1767225600;  // 2026-01-01T00:00:00Z

struct Model {
  vigil::Schema schema;
  vigil::NumericFeature x;
  vigil::Output score, canary, challenger;

  Model() {
    x = schema.add_numeric("x");
    score = schema.add_output("score", {{}, 0.5});
    canary = schema.add_canary("score_canary", score);
    challenger = schema.add_challenger("score_challenger", "score");
  }
  // The training profile knows nothing of the shadows.
  vigil::Profile profile() const {
    vigil::Schema training;
    const auto tx = training.add_numeric("x");
    const auto ts = training.add_output("score", {{}, 0.5});
    vigil::Profile p(training);
    vigil::Observation o(training);
    std::mt19937_64 rng(3);
    std::uniform_real_distribution<double> u(0, 1);
    for (int i = 0; i < 2000; ++i) {
      o.clear();
      const double v = u(rng);
      o.set(tx, v);
      o.score(ts, v);
      p.add(o);
    }
    return p;
  }
};

vigil::MonitorOptions canary_options() {
  vigil::MonitorOptions o;
  o.evaluate_in_observe = true;
  o.background = 1800;
  o.canary_top = 5;
  return o;
}

// `minutes` of traffic, `per_minute` requests a minute: the champion scores x, the canary
// x + noise (or, from minute `broken_from`, the champion scores 1 − x), the challenger x + a
// larger noise. Every request has an id "r<n>".
struct Traffic {
  int minutes = 60;
  int per_minute = 200;
  int broken_from = 1 << 30;
  double canary_noise = 0.02;
  double challenger_noise = 0.1;
  bool canary_missing_every_tenth = false;
  int agree_from = -1, agree_to = -1;  // minutes in which the canary equals the champion exactly
  std::function<void(vigil::Monitor&, vigil::Observation&)> before_finish;
};

vigil::Report replay(vigil::Monitor& m, const Model& model, const Traffic& t, std::vector<vigil::Alert>* alerts = nullptr) {
  if (alerts) m.on_alert([alerts](const vigil::Alert& a) { alerts->push_back(a); });
  std::mt19937_64 rng(11);
  std::uniform_real_distribution<double> u(0, 1);
  std::normal_distribution<double> n(0, 1);
  vigil::Observation o(model.schema);
  int k = 0;
  for (int minute = 0; minute < t.minutes; ++minute) {
    for (int i = 0; i < t.per_minute; ++i, ++k) {
      o.clear();
      const double x = u(rng);
      const double noise = t.canary_noise * n(rng);
      const double c = minute >= t.agree_from && minute < t.agree_to ? x : std::clamp(x + noise, 0.0, 1.0);
      const double ch = std::clamp(x + t.challenger_noise * n(rng), 0.0, 1.0);
      o.at(start_time + minute * 60 + i * (60.0 / t.per_minute));
      o.set(model.x, x);
      o.score(model.score, minute >= t.broken_from ? 1 - x : x);
      if (!(t.canary_missing_every_tenth && k % 10 == 0)) o.score(model.canary, c);
      o.score(model.challenger, ch);
      o.id("r" + std::to_string(k));
      m.observe(o);
    }
  }
  if (t.before_finish) t.before_finish(m, o);
  return m.finish();
}

}  // namespace

TEST_CASE("Schema: shadow outputs name a model output, take its classes and are serving-only", "[canary][schema]") {
  Model model;
  CHECK(model.schema.role(model.score) == vigil::OutputRole::model);
  CHECK(model.schema.role(model.canary) == vigil::OutputRole::canary);
  CHECK(model.schema.role(model.challenger) == vigil::OutputRole::challenger);
  CHECK(model.schema.champion(model.canary).index == model.score.index);
  CHECK(model.schema.champion(model.score).index == model.score.index);
  CHECK(model.schema.options(model.canary).threshold == 0.5);
  CHECK(model.schema.model_output_count() == 1);
  CHECK(vigil_test::thrown_message([&] { model.schema.add_canary("c2", model.canary); }).find("must shadow a model output") != std::string::npos);
  CHECK(vigil_test::thrown_message([&] { model.schema.add_challenger("c3", vigil::Output{17}); }).find("must shadow a model output") != std::string::npos);
  CHECK(vigil_test::thrown_message([&] { model.schema.add_canary("c4", "nothing"); }).find("no output named 'nothing'") != std::string::npos);
  CHECK(vigil_test::thrown_message([&] { model.schema.add_canary("x", model.score); }).find("already") != std::string::npos);
  // A profile without the shadows fits the serving schema; another role does not make an
  // equal schema.
  CHECK(model.profile().schema().differences(model.schema, false).empty());
  vigil::Schema plain = model.schema;
  vigil::Schema other;
  other.add_numeric("x");
  const auto s = other.add_output("score", {{}, 0.5});
  other.add_challenger("score_canary", s);
  other.add_challenger("score_challenger", s);
  CHECK(other.differences(plain).size() == 1);
  CHECK(other.differences(plain, false).empty());
  CHECK(vigil_test::thrown_message([&] { vigil::Profile p(model.schema); }).find("shadow outputs") != std::string::npos);
  vigil::MonitorOptions quality_on_shadow;
  quality_on_shadow.quality_output = "score_canary";
  CHECK(vigil_test::thrown_message([&] { vigil::Monitor(model.schema, model.profile(), quality_on_shadow); }).find("is a canary") != std::string::npos);
}

TEST_CASE("Canary family: a stable canary stays quiet, the report lists both shadows", "[canary]") {
  Model model;
  vigil::Monitor m(model.schema, model.profile(), canary_options());
  std::vector<vigil::Alert> alerts;
  const vigil::Report r = replay(m, model, Traffic{}, &alerts);
  CHECK(alerts.empty());
  REQUIRE(r.canary.size() == 2);
  CHECK(r.outputs.size() == 1);  // the shadows are not outputs of the output family
  const vigil::CanaryReport& c = r.canary[0];
  CHECK(c.name == "score_canary");
  CHECK(c.role == vigil::OutputRole::canary);
  CHECK(c.of == "score");
  CHECK(c.status == vigil::Status::ok);
  CHECK(c.recent_count == 200);
  // E|N(0, 0.02)| = 0.02·√(2/π) ≈ 0.016 (less where the clamp cuts it).
  CHECK(c.mean_abs_deviation == Approx(0.016).margin(0.003));
  CHECK(c.background_mean_abs_deviation == Approx(0.016).margin(0.002));
  CHECK(c.background_count == 30 * 200);
  CHECK(c.disagreement_rate < 0.05);
  CHECK(c.p_value > 0.001);
  REQUIRE(c.top.size() == 5);
  for (std::size_t i = 1; i < c.top.size(); ++i) CHECK(c.top[i - 1].deviation >= c.top[i].deviation);
  for (const vigil::CanaryRequest& q : c.top) {
    CHECK(q.id.rfind("r", 0) == 0);
    CHECK(q.deviation == Approx(std::fabs(q.other - q.champion)));
    CHECK(q.time >= start_time + 59 * 60);
    CHECK(q.time < start_time + 60 * 60);
  }
  const vigil::CanaryReport& ch = r.canary[1];
  CHECK(ch.role == vigil::OutputRole::challenger);
  CHECK(ch.canary == "score_canary");
  // Challenger and canary both sit near the champion: |ch − c| is about the challenger's own noise.
  CHECK(ch.mean_abs_deviation_from_canary == Approx(ch.mean_abs_deviation).epsilon(0.2));
  CHECK(ch.mean_abs_deviation > c.mean_abs_deviation * 4);
}

TEST_CASE("Canary family: a stretch of exact agreement in the background is no baseline for a rise", "[canary]") {
  Model model;
  vigil::Monitor m(model.schema, model.profile(), canary_options());
  std::vector<vigil::Alert> alerts;
  Traffic t;
  t.agree_from = 20;  // ten minutes in which both models answer alike (both saturated, say)
  t.agree_to = 30;
  const vigil::Report r = replay(m, model, t, &alerts);
  // The pooled background mean is two thirds of the usual deviation for the next half hour;
  // the typical background interval is not.
  for (const vigil::Alert& a : alerts) INFO(a.message << " at minute " << (a.time - start_time) / 60);
  CHECK(alerts.empty());
  if (!alerts.empty()) FAIL_CHECK(alerts.front().message << " at minute " << (alerts.front().time - start_time) / 60);
  const vigil::CanaryReport& c = r.canary[0];
  CHECK(c.typical_abs_deviation == Approx(0.016).margin(0.003));
  CHECK(c.rise < 0.5);
}

TEST_CASE("Canary family: a steady canary on a low-rate stream stays quiet", "[canary]") {
  Model model;
  vigil::Monitor m(model.schema, model.profile(), canary_options());
  std::vector<vigil::Alert> alerts;
  Traffic t;
  t.minutes = 480;  // eight hours of five requests a minute: a few disagreements an hour
  t.per_minute = 5;
  t.canary_noise = 0.05;
  const vigil::Report r = replay(m, model, t, &alerts);
  // Pooled recent samples of consecutive evaluations overlap, and the background holds a few
  // disagreements only: one chance alert in eight hours is the most the policy's p-value
  // lets through across two shadows; a level estimated from single five-request intervals (a
  // disagreement rate of 0) raised several.
  const auto raised = std::count_if(alerts.begin(), alerts.end(), [](const vigil::Alert& a) {
    return a.kind == vigil::AlertKind::canary && a.transition == vigil::Alert::Transition::raised;
  });
  CHECK(raised <= 1);
  CHECK(r.canary[0].disagreement_rate >= 0);
  CHECK(r.canary[0].recent_intervals > 1);  // pooled up to min_requests
}

TEST_CASE("Canary family: a broken champion raises a canary alert naming the canary", "[canary]") {
  Model model;
  vigil::Monitor m(model.schema, model.profile(), canary_options());
  std::vector<vigil::Alert> alerts;
  Traffic t;
  t.broken_from = 50;
  const vigil::Report r = replay(m, model, t, &alerts);
  const auto raised = std::find_if(alerts.begin(), alerts.end(), [](const vigil::Alert& a) {
    return a.kind == vigil::AlertKind::canary && a.subject.name == "score_canary";
  });
  REQUIRE(raised != alerts.end());
  CHECK(raised->time >= start_time + 50 * 60);
  CHECK(raised->time <= start_time + 53 * 60);
  CHECK(raised->severity == vigil::Severity::alert);
  CHECK(raised->subject.family == vigil::Family::canary);
  const vigil::CanaryReport& c = r.canary[0];
  CHECK(c.status == vigil::Status::alert);
  CHECK(c.mean_abs_deviation > 0.3);  // E|1 − 2x| = 0.5
  CHECK(c.disagreement_rate > 0.9);
  CHECK(c.p_value < 1e-10);
  CHECK(c.top.front().deviation > 0.9);
  // The challenger, which followed the old champion too, deviates as much.
  CHECK(std::any_of(alerts.begin(), alerts.end(), [](const vigil::Alert& a) {
    return a.kind == vigil::AlertKind::canary && a.subject.name == "score_challenger";
  }));
}

TEST_CASE("Canary family: missing and bad shadow scores are counted, never compared", "[canary][bad_input]") {
  Model model;
  vigil::Monitor m(model.schema, model.profile(), canary_options());
  Traffic t;
  t.minutes = 3;
  t.canary_missing_every_tenth = true;
  t.before_finish = [&](vigil::Monitor& monitor, vigil::Observation& o) {
    const double at = start_time + 2 * 60 + 30;  // within the last minute
    o.clear();
    o.at(at).score(model.score, 0.4).score(model.canary, std::numeric_limits<double>::quiet_NaN());
    monitor.observe(o);
    o.clear();
    o.at(at + 1).score(model.canary, 0.3);  // no champion score
    monitor.observe(o);
    o.clear();
    o.at(at + 2).score(model.score, -1e308).score(model.canary, 1e308);  // the difference overflows
    monitor.observe(o);
  };
  const vigil::Report r = replay(m, model, t);
  const vigil::CanaryReport& c = r.canary[0];
  CHECK(c.recent_requests == 203);
  CHECK(c.missing == 20);  // every tenth request of the minute
  CHECK(c.non_finite == 1);
  CHECK(c.champion_missing == 1);
  CHECK(c.recent_count == 181);
  CHECK(c.p99_abs_deviation < 1);  // one deviation in 181 is the largest double
  CHECK(c.top.front().deviation == std::numeric_limits<double>::max());
  CHECK(c.missing_rate == Approx(21.0 / 202));
  const std::string json = vigil::to_json(r);
  CHECK(json.find("\"canary\":[{\"name\":\"score_canary\",\"role\":\"canary\",\"of\":\"score\"") != std::string::npos);
  const std::string prom = vigil::to_prometheus(r);
  CHECK(prom.find("vigil_canary_missing_rate{output=\"score_canary\",role=\"canary\",of=\"score\"} 0.1039") != std::string::npos);
}

TEST_CASE("CanaryState: the p99 deviation is within the histogram's bound of the exact one", "[canary]") {
  Model model;
  const vigil::detail::CanaryPlan plan = vigil::detail::make_canary_plan(model.schema, vigil::MonitorOptions());
  vigil::detail::CanaryState state(plan);
  vigil::Observation o(model.schema);
  std::mt19937_64 rng(17);
  std::lognormal_distribution<double> spread(-4, 1.0);  // deviations over about three decades
  std::vector<double> deviations;
  for (int i = 0; i < 20000; ++i) {
    const double champion = 0.5, canary = i % 10 == 0 ? champion : champion + spread(rng);
    o.clear();
    o.at(start_time + i * 0.01).score(model.score, champion).score(model.canary, canary);
    state.apply(plan, vigil::detail::Request{o, nullptr, 0.0});
    deviations.push_back(std::fabs(canary - champion));
  }
  std::sort(deviations.begin(), deviations.end());
  const double exact = deviations[static_cast<std::size_t>(std::ceil(0.99 * 20000)) - 1];
  const vigil::CanaryReport r = vigil::detail::canary_report(plan.shadows[0], state.shadows[0], state.shadows[0]);
  // Scale 4 (base 2^(1/16)): within (b − 1)/(b + 1) = 2.17 % of the exact value.
  const double b = std::exp2(1.0 / 16);
  CHECK(std::fabs(r.p99_abs_deviation - exact) <= exact * (b - 1) / (b + 1));
  CHECK(state.shadows[0].histogram.zero_count() == 2000);  // a tenth identical to the champion
  CHECK(state.shadows[0].histogram.scale() == 4);          // three decades fit without downscaling
  CHECK(r.mean_abs_deviation == Approx(std::accumulate(deviations.begin(), deviations.end(), 0.0) / 20000).epsilon(1e-12));
}

TEST_CASE("CanaryState: merge equals one state fed everything, and the bytes read back", "[canary][format]") {
  Model model;
  vigil::MonitorOptions options;
  options.canary_top = 3;
  const vigil::detail::CanaryPlan plan = vigil::detail::make_canary_plan(model.schema, options);
  REQUIRE(plan.shadows.size() == 2);
  CHECK(plan.shadows[1].canary == model.canary.index);
  vigil::detail::CanaryState a(plan), b(plan), all(plan);
  CHECK(all.empty());
  vigil::Observation o(model.schema);
  for (int i = 0; i < 40; ++i) {
    o.clear();
    o.at(start_time + i).score(model.score, i / 40.0).score(model.canary, i / 40.0 + (i % 7) * 0.01);
    o.score(model.challenger, 1 - i / 40.0).id("q" + std::to_string(i));
    const vigil::detail::Request req{o, nullptr, 0.0};
    (i % 3 == 0 ? a : b).apply(plan, req);
    all.apply(plan, req);
  }
  CHECK_FALSE(all.empty());
  a.merge(b);
  for (std::size_t i = 0; i < 2; ++i) {  // moments merge to the same up to rounding, histograms exactly
    const vigil::detail::ShadowState &x = a.shadows[i], &y = all.shadows[i];
    CHECK(x.compared == y.compared);
    CHECK(x.classified == y.classified);
    CHECK(x.disagreements == y.disagreements);
    CHECK(x.deviation.mean() == Approx(y.deviation.mean()));
    CHECK(x.from_canary.count() == y.from_canary.count());
    CHECK(x.histogram == y.histogram);
    CHECK(x.histogram.count() == x.compared);
    CHECK(x.top == y.top);
  }
  REQUIRE(all.shadows[1].top.size() == 3);
  const auto top = all.shadows[1].top.sorted();
  CHECK(top[0].deviation == Approx(1.0));  // i = 0: |1 − 0|
  CHECK(top[0].id_view() == "q0");
  CHECK(all.shadows[0].disagreements <= all.shadows[0].classified);
  std::vector<std::uint8_t> bytes;
  vigil::io::Writer w(bytes);
  all.serialize(w);
  vigil::io::Reader r(bytes.data(), bytes.size(), "canary state");
  const vigil::detail::CanaryState back = vigil::detail::CanaryState::deserialize(r, plan);
  r.finish();
  CHECK(back == all);
  back.check(plan, 40, r);
  CHECK_THROWS_AS(back.check(plan, 39, r), vigil::format_error);
  // Bytes that claim more compared requests than the moments count are refused.
  vigil::detail::CanaryState bad = all;
  bad.shadows[0].compared += 1;
  std::vector<std::uint8_t> worse;
  vigil::io::Writer wb(worse);
  bad.serialize(wb);
  vigil::io::Reader rb(worse.data(), worse.size(), "canary state");
  CHECK(vigil_test::thrown_message([&] { vigil::detail::CanaryState::deserialize(rb, plan); }).find("shadow 'score_canary'") != std::string::npos);
  // States that apply() and merge() never make are refused: a canary measured from a canary,
  // kept requests other than min(compared, canary_top), a negative deviation, counts that
  // wrap around when added.
  const auto refused = [&](const vigil::detail::CanaryState& state) {
    std::vector<std::uint8_t> written;
    vigil::io::Writer wr(written);
    state.serialize(wr);
    vigil::io::Reader rr(written.data(), written.size(), "canary state");
    return vigil_test::thrown_message([&] { vigil::detail::CanaryState::deserialize(rr, plan); });
  };
  vigil::detail::CanaryState odd = all;
  odd.shadows[0].from_canary.add(0.1);
  CHECK(refused(odd).find("1 from a canary") != std::string::npos);
  odd = all;
  odd.shadows[0].top.offer(1e6, start_time, 0, 1e6, "beyond the largest");
  CHECK(refused(odd).find("3 kept") != std::string::npos);
  // A state written under another canary_top reads back with the reader's: its most deviating.
  vigil::MonitorOptions fewer = options;
  fewer.canary_top = 2;
  const vigil::detail::CanaryPlan small = vigil::detail::make_canary_plan(model.schema, fewer);
  vigil::io::Reader rs(bytes.data(), bytes.size(), "canary state");
  const vigil::detail::CanaryState cut = vigil::detail::CanaryState::deserialize(rs, small);
  REQUIRE(cut.shadows[1].top.size() == 2);
  CHECK(cut.shadows[1].top.sorted()[0] == all.shadows[1].top.sorted()[0]);
  CHECK(cut.shadows[1].top.sorted()[1] == all.shadows[1].top.sorted()[1]);
  vigil::MonitorOptions more = options;
  more.canary_top = 10;
  const vigil::detail::CanaryPlan large = vigil::detail::make_canary_plan(model.schema, more);
  vigil::io::Reader rl(bytes.data(), bytes.size(), "canary state");
  CHECK(vigil::detail::CanaryState::deserialize(rl, large).shadows[1].top.size() == 3);
  // A state merged into itself keeps its counts doubled and its kept requests.
  vigil::detail::CanaryState twice = all;
  twice.merge(twice);
  CHECK(twice.shadows[0].compared == 2 * all.shadows[0].compared);
  CHECK(twice.shadows[1].top.size() == 3);
  odd = all;
  odd.shadows[0].deviation.add(-1);
  odd.shadows[0].histogram.record(-1);
  ++odd.shadows[0].compared;
  ++odd.shadows[0].classified;
  CHECK(refused(odd).find("shadow 'score_canary'") != std::string::npos);
  odd = all;
  odd.shadows[0].missing = odd.shadows[0].non_finite = std::uint64_t{1} << 63;
  CHECK_THROWS_AS(odd.check(plan, 100, r), vigil::format_error);
  // Every truncation is refused.
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    vigil::io::Reader rt(bytes.data(), n, "canary state");
    CHECK_THROWS_AS(vigil::detail::CanaryState::deserialize(rt, plan).shadows.size() + (rt.finish(), 0), vigil::format_error);
  }
}

TEST_CASE("MonitorOptions: canary_top is bounded", "[canary][bad_input]") {
  vigil::MonitorOptions o;
  o.canary_top = vigil::MonitorOptions::max_canary_top + 1;
  CHECK(vigil_test::thrown_message([&] { o.validate(); }).find("canary_top 257 is above its maximum 256") != std::string::npos);
}

}  // namespace canary_test

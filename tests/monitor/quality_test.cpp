#include <vigil/monitor/monitor.hpp>
#include <vigil/monitor/quality.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include "vigil_test.hpp"

namespace quality_test {  // named: the files of a tests/ folder may compile as one unit
namespace {

constexpr double quality_start = 1767225600;  // 2026-01-01T00:00:00Z, long before the wall clock

double sigmoid(double z) { return 1 / (1 + std::exp(-z)); }

// A binary classifier of one feature: score sigmoid(2x), threshold 0.5, labels drawn with
// the score's probability (a calibrated model).
struct Model {
  vigil::Schema schema;
  vigil::NumericFeature x;
  vigil::Output score;
  vigil::Tag region;

  explicit Model(bool cohorts = false) {
    x = schema.add_numeric("x");
    vigil::OutputOptions options;
    options.threshold = 0.5;
    score = schema.add_output("score", options);
    if (cohorts) {
      vigil::TagOptions tag;
      tag.cohort = true;
      tag.max_values = 4;
      region = schema.add_tag("region", tag);
    }
  }

  vigil::Profile holdout(int rows = 20000) const {
    vigil::Profile p(schema);
    vigil_test::Random random(7);
    vigil::Observation o(schema);
    for (int i = 0; i < rows; ++i) {
      o.clear();
      const double value = random.normal();
      const double s = sigmoid(2 * value);
      o.set(x, value).score(score, s);
      p.add_labelled(o, score, random.uniform() < s ? 1.0 : 0.0);
    }
    return p;
  }
};

// One event of a replay: a request, or the label of request `id`.
struct Event {
  double time;
  bool label;
  std::uint64_t id;
  double x;
  double value;  // the label
  int region;
};

// Requests at `per_minute` for `minutes`, feature values from `feature(minute, random)`;
// each gets its label `delay` seconds later, drawn from its score and flipped with
// probability `flip(minute)`.
std::vector<Event> traffic(int minutes, int per_minute, double delay, const std::function<double(int, vigil_test::Random&)>& feature,
                           const std::function<double(int)>& flip) {
  vigil_test::Random random(11);
  std::vector<Event> events;
  std::uint64_t id = 0;
  for (int m = 0; m < minutes; ++m) {
    for (int i = 0; i < per_minute; ++i) {
      const double t = quality_start + 60.0 * m + 60.0 * (i + 0.5) / per_minute;
      const double value = feature(m, random);
      double y = random.uniform() < sigmoid(2 * value) ? 1 : 0;
      if (random.uniform() < flip(m)) y = 1 - y;
      const int region = static_cast<int>(id % 3);
      events.push_back(Event{t, false, id, value, 0, region});
      if (std::isfinite(delay)) events.push_back(Event{t + delay, true, id, value, y, region});
      ++id;
    }
  }
  std::stable_sort(events.begin(), events.end(), [](const Event& a, const Event& b) { return a.time < b.time; });
  return events;
}

void replay(vigil::Monitor& monitor, const Model& model, const std::vector<Event>& events) {
  vigil::Observation o(model.schema);
  const char* regions[3] = {"eu", "us", "asia"};
  for (const Event& e : events) {
    if (e.label) {
      monitor.on_label(std::to_string(e.id), e.value, e.time);
      continue;
    }
    o.clear();
    o.at(e.time).id(e.id).set(model.x, e.x).score(model.score, sigmoid(2 * e.x));
    if (model.schema.tag_count() > 0) o.tag(model.region, regions[e.region]);
    monitor.observe(o);
  }
}

vigil::MonitorOptions replay_options() {
  vigil::MonitorOptions options;
  options.evaluate_in_observe = true;
  options.shards = 1;
  return options;
}

const vigil::QualityMetric* metric(const vigil::QualityReport& q, const std::string& name) {
  for (const auto* list : {&q.metrics, &q.estimated})
    for (const vigil::QualityMetric& m : *list)
      if (m.name == name) return &m;
  return nullptr;
}

std::vector<vigil::Alert> quality_alerts(const vigil::Report& r) {
  std::vector<vigil::Alert> out;
  for (const vigil::Alert& a : r.alert_log)
    if (a.kind == vigil::AlertKind::quality && a.transition == vigil::Alert::Transition::raised) out.push_back(a);
  return out;
}

double normal(vigil_test::Random& r) { return r.normal(); }

}  // namespace

TEST_CASE("QualityFamily: without labels, no realised figure, estimates come from the scores", "[quality]") {
  const Model model;
  vigil::Monitor monitor(model.schema, model.holdout(), replay_options());
  const double never = std::numeric_limits<double>::infinity();
  replay(monitor, model, traffic(120, 200, never, [](int, vigil_test::Random& r) { return normal(r); }, [](int) { return 0.0; }));
  const vigil::Report r = monitor.finish();
  const vigil::QualityReport& q = r.quality;
  CHECK(q.output == "score");
  CHECK(q.labelled == 0);
  REQUIRE(metric(q, "accuracy") != nullptr);
  CHECK(std::isnan(metric(q, "accuracy")->recent));
  CHECK(metric(q, "accuracy")->baseline == Approx(0.77).margin(0.02));
  // The estimate of a calibrated model on its own distribution is its holdout accuracy.
  REQUIRE(metric(q, "estimated_accuracy") != nullptr);
  CHECK(metric(q, "estimated_accuracy")->recent == Approx(metric(q, "estimated_accuracy")->baseline).margin(0.03));
  CHECK(metric(q, "estimated_accuracy")->baseline == Approx(metric(q, "accuracy")->baseline).margin(0.02));
  CHECK(q.pending == 120 * 200);
  CHECK(metric(q, "estimated_accuracy")->count >= 200);
  CHECK(quality_alerts(r).empty());
}

TEST_CASE("QualityFamily: realised figures equal a direct computation over the labels joined", "[quality]") {
  const Model model;
  vigil::Monitor monitor(model.schema, model.holdout(), replay_options());
  const std::vector<Event> events =
      traffic(90, 40, 600, [](int, vigil_test::Random& r) { return normal(r); }, [](int) { return 0.0; });
  replay(monitor, model, events);
  const vigil::Report r = monitor.finish();
  double correct = 0, n = 0, loss = 0, tp = 0, predicted = 0;
  for (const Event& e : events) {
    if (!e.label) continue;
    const double s = sigmoid(2 * e.x);
    correct += (s >= 0.5) == (e.value == 1);
    tp += s >= 0.5 && e.value == 1;
    predicted += s >= 0.5;
    loss += e.value == 1 ? -std::log(s) : -std::log(1 - s);
    ++n;
  }
  const vigil::QualityReport& q = r.quality;
  CHECK(q.labelled == n);
  CHECK(q.joined == static_cast<std::uint64_t>(n));
  CHECK(q.pending == 0);
  CHECK(metric(q, "accuracy")->recent == Approx(correct / n).epsilon(1e-12));
  CHECK(metric(q, "accuracy")->count == n);
  CHECK(metric(q, "precision")->recent == Approx(tp / predicted).epsilon(1e-12));
  CHECK(metric(q, "log_loss")->recent == Approx(loss / n).epsilon(1e-9));
  CHECK(metric(q, "roc_auc")->recent == Approx(metric(q, "roc_auc")->baseline).margin(0.03));
  // Labels are credited to their request's hour: 60 minutes of requests, then 30.
  REQUIRE(q.intervals.size() == 2);
  CHECK(q.intervals[0].labelled == 60 * 40);
  CHECK(q.intervals[0].identified == 60 * 40);
  CHECK(q.intervals[1].labelled == 30 * 40);
  CHECK(quality_alerts(r).empty());
}

TEST_CASE("QualityFamily: labels that contradict the model raise an accuracy alert, the estimate stays",
          "[quality][scenario]") {
  const Model model;
  vigil::Monitor monitor(model.schema, model.holdout(), replay_options());
  // Concept drift after three hours: 40 % of the labels flipped; the scores look as always.
  replay(monitor, model,
         traffic(360, 40, 300, [](int, vigil_test::Random& r) { return normal(r); },
                 [](int m) { return m >= 180 ? 0.4 : 0.0; }));
  const vigil::Report r = monitor.finish();
  const std::vector<vigil::Alert> alerts = quality_alerts(r);
  const auto raised = [&](const std::string& subject) {
    return std::any_of(alerts.begin(), alerts.end(), [&](const vigil::Alert& a) { return a.subject.name == subject; });
  };
  CHECK(raised("accuracy"));
  CHECK(raised("log_loss"));
  CHECK_FALSE(raised("estimated_accuracy"));
  for (const vigil::Alert& a : alerts) CHECK(a.time >= quality_start + 180 * 60);
  CHECK(metric(r.quality, "accuracy")->recent < metric(r.quality, "accuracy")->baseline - 0.05);
  CHECK(metric(r.quality, "accuracy")->status != vigil::Status::ok);
}

TEST_CASE("QualityFamily: a covariate shift lowers the estimate before the labels come", "[quality][scenario]") {
  const Model model;
  vigil::Monitor monitor(model.schema, model.holdout(), replay_options());
  // After two hours the inputs crowd near the threshold: the model is right less often, and
  // its scores say so at once; the labels take three hours to come.
  replay(monitor, model,
         traffic(360, 40, 3 * 3600, [](int m, vigil_test::Random& r) { return m >= 120 ? 0.2 * r.normal() : r.normal(); },
                 [](int) { return 0.0; }));
  const vigil::Report r = monitor.finish();
  double estimated = std::numeric_limits<double>::infinity();
  double realised = std::numeric_limits<double>::infinity();
  for (const vigil::Alert& a : quality_alerts(r)) {
    if (a.subject.name == "estimated_accuracy") estimated = std::min(estimated, a.time);
    if (a.subject.name == "accuracy") realised = std::min(realised, a.time);
  }
  REQUIRE(std::isfinite(estimated));
  CHECK(estimated >= quality_start + 120 * 60);
  CHECK(estimated < quality_start + 150 * 60);
  CHECK(estimated < realised);
  CHECK(metric(r.quality, "estimated_accuracy")->recent < 0.65);
}

TEST_CASE("QualityFamily: bad labels are counted, never credited", "[quality][bad_input]") {
  const Model model;
  vigil::MonitorOptions options = replay_options();
  options.label_time_to_live = 3600;
  vigil::Monitor monitor(model.schema, model.holdout(2000), options);
  vigil::Observation o(model.schema);
  const double t = quality_start + 30;
  o.at(t).id("a").set(model.x, 1.0).score(model.score, 0.9);
  monitor.observe(o);
  o.clear();
  o.at(t + 1).id(7).set(model.x, -1.0).score(model.score, 0.1);
  monitor.observe(o);
  CHECK_FALSE(monitor.on_label("zz", 1.0, t + 5));                    // unknown id
  CHECK_FALSE(monitor.on_label("a", 0.5, t + 5));                     // not 0 or 1
  CHECK_FALSE(monitor.on_label("a", "perhaps", t + 5));               // not a class
  CHECK_FALSE(monitor.on_label("a", 1.0, std::nan("")));              // bad time
  CHECK_FALSE(monitor.on_label("a", 1.0, t - 10));                    // before its request
  CHECK(monitor.on_label("a", "positive", t + 6));
  CHECK_FALSE(monitor.on_label("a", 1.0, t + 7));                     // a second label
  CHECK_FALSE(monitor.on_label("7", 0.0, t + 1 + 3600 + 1));          // after the time-to-live
  const vigil::Report r = monitor.finish();
  const vigil::QualityReport& q = r.quality;
  CHECK(q.labels == 8);
  CHECK(q.joined == 1);
  CHECK(q.unknown_ids == 1);
  CHECK(q.bad_labels == 2);
  CHECK(q.bad_label_times == 1);
  CHECK(q.labels_before_request == 1);
  CHECK(q.duplicate_labels == 1);
  CHECK(q.late_labels == 1);
  CHECK(q.labelled == 1);
  CHECK(metric(q, "accuracy")->recent == 1);
}

TEST_CASE("QualityFamily: requests pushed out by the label capacity are counted", "[quality][bad_input]") {
  const Model model;
  vigil::MonitorOptions options = replay_options();
  options.label_capacity = 100;
  vigil::Monitor monitor(model.schema, model.holdout(2000), options);
  vigil::Observation o(model.schema);
  for (int i = 0; i < 250; ++i) {
    o.clear();
    o.at(quality_start + i).id(i).set(model.x, 0.0).score(model.score, 0.5);
    monitor.observe(o);
  }
  CHECK_FALSE(monitor.on_label("3", 1.0, quality_start + 300));  // pushed out
  CHECK(monitor.on_label("200", 1.0, quality_start + 300));
  const vigil::Report r = monitor.finish();
  CHECK(r.quality.evicted == 150);
  CHECK(r.quality.pending == 99);
  CHECK(r.quality.unknown_ids == 1);
  CHECK(monitor.memory_bytes() > vigil::detail::LabelStore::bytes_per_request(0) * 100);
}

TEST_CASE("QualityFamily: evaluating every minute or once at the end gives the same quality", "[quality]") {
  const Model model(true);
  const vigil::Profile holdout = model.holdout();
  const std::vector<Event> events = traffic(
      240, 30, 900, [](int, vigil_test::Random& r) { return normal(r); }, [](int m) { return m >= 120 ? 0.5 : 0.0; });
  vigil::MonitorOptions lazy_options = replay_options();
  lazy_options.evaluate_in_observe = false;
  lazy_options.fine_intervals = 300;  // every interval still fine when finish() evaluates
  vigil::MonitorOptions eager_options = replay_options();
  eager_options.fine_intervals = 300;
  vigil::Monitor lazy(model.schema, holdout, lazy_options);
  vigil::Monitor eager300(model.schema, holdout, eager_options);
  replay(lazy, model, events);
  replay(eager300, model, events);
  const vigil::Report a = eager300.finish();
  const vigil::Report b = lazy.finish();
  REQUIRE(a.quality.metrics.size() == b.quality.metrics.size());
  for (std::size_t i = 0; i < a.quality.metrics.size(); ++i) {
    CHECK(a.quality.metrics[i].recent == b.quality.metrics[i].recent);
    CHECK(a.quality.metrics[i].p_value == b.quality.metrics[i].p_value);
  }
  const std::vector<vigil::Alert> alerts_a = quality_alerts(a);
  const std::vector<vigil::Alert> alerts_b = quality_alerts(b);
  REQUIRE(alerts_a.size() == alerts_b.size());
  CHECK_FALSE(alerts_a.empty());
  for (std::size_t i = 0; i < alerts_a.size(); ++i) {
    CHECK(alerts_a[i].subject.name == alerts_b[i].subject.name);
    CHECK(alerts_a[i].time == alerts_b[i].time);
  }
  // Each region's cohort has its own quality: a third of the labels each.
  REQUIRE(a.cohorts.size() == 3);
  double labelled = 0;
  for (const vigil::CohortReport& c : a.cohorts) labelled += c.quality.labelled;
  CHECK(labelled == a.quality.labelled);
}

TEST_CASE("QualityFamily: a regression is judged by MAE, RMSE and bias, a multi-class output by accuracy",
          "[quality]") {
  vigil::Schema schema;
  schema.add_numeric("x");
  const vigil::Output amount = schema.add_output("amount");
  vigil::OutputOptions kinds;
  kinds.classes = {"cat", "dog", "eel"};
  const vigil::Output kind = schema.add_output("kind", kinds);
  vigil::Profile holdout(schema);
  vigil_test::Random random(5);
  vigil::Observation o(schema);
  for (int i = 0; i < 3000; ++i) {
    o.clear();
    const double truth = 100 * random.uniform();
    o.score(amount, truth + random.normal()).predicted(kind, kinds.classes[static_cast<std::size_t>(i % 3)]);
    holdout.add_labelled(o, amount, truth);
    holdout.add_label(o, kind, kinds.classes[static_cast<std::size_t>(i % 3 == 0 ? 1 : i % 3)]);  // 2/3 right
  }
  for (const char* output : {"amount", "kind"}) {
    vigil::MonitorOptions options = replay_options();
    options.quality_output = output;
    vigil::Monitor monitor(schema, holdout, options);
    double abs_error = 0, bias = 0;
    int n = 0;
    for (int i = 0; i < 600; ++i) {
      const double t = quality_start + i;
      const double truth = 100 * random.uniform();
      const double predicted = truth + 5 + random.normal();  // biased by 5 after deployment
      o.clear();
      o.at(t).id(i).score(amount, predicted).predicted(kind, "cat");
      monitor.observe(o);
      if (std::string(output) == "amount") {
        monitor.on_label(std::to_string(i), truth, t + 30);
        abs_error += std::fabs(predicted - truth);
        bias += predicted - truth;
      } else {
        monitor.on_label(std::to_string(i), i % 2 == 0 ? "cat" : "eel", t + 30);
      }
      ++n;
    }
    const vigil::Report r = monitor.finish();
    CHECK(r.quality.output == output);
    CHECK(r.quality.estimated.empty());
    if (std::string(output) == "amount") {
      REQUIRE(r.quality.metrics.size() == 3);
      CHECK(metric(r.quality, "mae")->recent == Approx(abs_error / n).epsilon(1e-9));
      CHECK(metric(r.quality, "bias")->recent == Approx(bias / n).epsilon(1e-9));
      CHECK(metric(r.quality, "bias")->baseline == Approx(0).margin(0.1));
      CHECK(metric(r.quality, "bias")->p_value < 1e-10);
      CHECK(metric(r.quality, "rmse")->recent > 4.9);
    } else {
      REQUIRE(r.quality.metrics.size() == 1);
      CHECK(metric(r.quality, "accuracy")->recent == 0.5);
      CHECK(metric(r.quality, "accuracy")->baseline == Approx(2.0 / 3).epsilon(1e-12));
      CHECK(metric(r.quality, "accuracy")->p_value < 1e-10);
    }
  }
  vigil::MonitorOptions unknown;
  unknown.quality_output = "nope";
  CHECK_THROWS_AS(vigil::Monitor(schema, holdout, unknown), vigil::invalid_argument);
}

TEST_CASE("QualityFamily: errors near the double range leave the figures untested, never throw", "[quality][bad_input]") {
  vigil::Schema schema;
  const vigil::Output amount = schema.add_output("amount");
  vigil::Profile holdout(schema);
  vigil::Observation o(schema);
  for (int i = 0; i < 200; ++i) {
    o.clear();
    o.score(amount, i);
    holdout.add_labelled(o, amount, i % 2 == 0 ? 1e200 : 1.0);  // squared errors overflow
  }
  vigil::Monitor monitor(schema, holdout, replay_options());
  for (int i = 0; i < 400; ++i) {
    o.clear();
    o.at(quality_start + i).id(i).score(amount, 1e160 * (i % 3));
    CHECK_NOTHROW(monitor.observe(o));
    CHECK_NOTHROW(monitor.on_label(std::to_string(i), -1e160, quality_start + i + 1));
  }
  vigil::Report r;
  CHECK_NOTHROW(r = monitor.finish());
  CHECK(r.quality.labelled == 400);
  CHECK(std::isnan(metric(r.quality, "rmse")->p_value));
}

TEST_CASE("QualityFamily: a window of one quality interval holds that interval", "[quality]") {
  const Model model;
  vigil::MonitorOptions options = replay_options();
  options.quality_interval = 600;
  options.quality_window = 600;
  vigil::Monitor monitor(model.schema, model.holdout(2000), options);
  replay(monitor, model, traffic(20, 50, 5, [](int, vigil_test::Random& r) { return normal(r); }, [](int) { return 0.0; }));
  const vigil::Report r = monitor.finish();
  // The last evaluated interval ends on a quality-interval boundary (20 minutes = 2 × 600 s):
  // its window is the second quality interval, whose 500 requests have their labels.
  REQUIRE(r.quality.intervals.size() == 1);
  CHECK(r.quality.window_end - r.quality.window_start == 600);
  CHECK(r.quality.labelled == 500);
  CHECK(r.quality.intervals[0].identified == 500);
}

TEST_CASE("QualityFamily: a model with repeated scores, miscalibrated as on its holdout, raises nothing", "[quality]") {
  vigil::Schema schema;
  vigil::OutputOptions options;
  options.threshold = 0.5;
  const vigil::Output score = schema.add_output("score", options);
  // Three score values; the positive share at each differs from the score (miscalibrated),
  // the same way in the holdout and in production.
  const double values[3] = {0.2, 0.5, 0.8};
  const double positive[3] = {0.3, 0.45, 0.9};
  const auto row = [&](vigil_test::Random& random, vigil::Observation& o) {
    const int k = static_cast<int>(random.uniform() * 3);
    o.score(score, values[k]);
    return random.uniform() < positive[k] ? 1.0 : 0.0;
  };
  vigil::Profile holdout(schema);
  vigil_test::Random random(9);
  vigil::Observation o(schema);
  for (int i = 0; i < 9000; ++i) {
    o.clear();
    const double y = row(random, o);
    holdout.add_labelled(o, score, y);
  }
  vigil::Monitor monitor(schema, holdout, replay_options());
  for (int i = 0; i < 12000; ++i) {
    o.clear();
    const double y = row(random, o);
    const double t = quality_start + i * 0.75;
    o.at(t).id(i);
    monitor.observe(o);
    monitor.on_label(std::to_string(i), y, t + 1);
  }
  const vigil::Report r = monitor.finish();
  CHECK(quality_alerts(r).empty());
  CHECK(metric(r.quality, "estimated_precision")->recent ==
        Approx(metric(r.quality, "estimated_precision")->baseline).margin(0.03));
  CHECK(metric(r.quality, "estimated_recall")->baseline == Approx(metric(r.quality, "recall")->baseline).margin(0.02));
  CHECK(metric(r.quality, "calibration_error")->p_value > 0.001);
}

TEST_CASE("QualityFamily: an id longer than the bytes kept joins its label", "[quality][bad_input]") {
  const Model model;
  vigil::Monitor monitor(model.schema, model.holdout(2000), replay_options());
  const std::string id(300, 'k');
  vigil::Observation o(model.schema);
  o.at(quality_start).id(id).set(model.x, 0.0).score(model.score, 0.6);
  monitor.observe(o);
  CHECK(monitor.on_label(id, 1.0, quality_start + 1));
  CHECK(monitor.finish().quality.joined == 1);
}

TEST_CASE("QualityFamily: requests and labels from many threads, with reports between them", "[quality][concurrency]") {
  const Model model;
  vigil::MonitorOptions options;
  options.shards = 4;
  vigil::Monitor monitor(model.schema, model.holdout(2000), options);
  constexpr int threads = 4;
  constexpr int per_thread = 3000;
  std::vector<std::thread> workers;
  for (int w = 0; w < threads; ++w) {
    workers.emplace_back([&, w] {
      vigil::Observation o(model.schema);
      for (int i = 0; i < per_thread; ++i) {
        const int id = w * per_thread + i;
        o.clear();
        o.at(quality_start + i * 0.01).id(id).set(model.x, 0.5).score(model.score, 0.7);
        monitor.observe(o);
      }
    });
  }
  for (std::thread& t : workers) t.join();
  workers.clear();
  for (int w = 0; w < threads; ++w) {
    workers.emplace_back([&, w] {
      for (int i = 0; i < per_thread; ++i) {
        monitor.on_label(std::to_string(w * per_thread + i), (i % 4 == 0) ? 0.0 : 1.0, quality_start + 200 + i * 0.05);
        if (i % 500 == 0) (void)monitor.report();
      }
    });
  }
  for (std::thread& t : workers) t.join();
  const vigil::Report r = monitor.finish();
  CHECK(r.quality.joined == threads * per_thread);
  CHECK(r.quality.labelled == threads * per_thread);
  CHECK(r.quality.pending == 0);
  CHECK(metric(r.quality, "accuracy")->recent == 0.75);
}

}  // namespace quality_test

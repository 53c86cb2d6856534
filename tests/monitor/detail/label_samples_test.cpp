#include <vigil/monitor/detail/label_samples.hpp>
#include <vigil/monitor/monitor.hpp>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "vigil_test.hpp"

namespace label_samples_test {  // named: the files of a tests/ folder may compile as one unit
namespace {

constexpr double start = 1767225600;  // 2026-01-01T00:00:00Z, an interval boundary

// A request as the test keeps it: its interval, id and score.
struct Request {
  std::int64_t interval;
  std::string id;
  double score;
};

using Sample = std::pair<std::string, double>;

// The k best of `requests` by (key, id, score): what a sample list must hold, in its order.
template <class Key>
std::vector<Sample> brute_force(const std::vector<Request>& requests, std::size_t k, Key&& key) {
  std::vector<std::tuple<double, std::string, double>> all;
  for (const Request& r : requests)
    if (std::isfinite(r.score)) all.emplace_back(key(r.score), r.id, r.score);
  std::sort(all.begin(), all.end());
  std::vector<Sample> out;
  for (std::size_t i = 0; i < std::min(k, all.size()); ++i) out.emplace_back(std::get<1>(all[i]), std::get<2>(all[i]));
  return out;
}

std::vector<Sample> as_pairs(const std::vector<vigil::LabelSample>& list) {
  std::vector<Sample> out;
  for (const vigil::LabelSample& s : list) out.emplace_back(s.id, s.score);
  return out;
}

double confidence(double p) { return std::max(p, 1 - p); }

// Checks one interval's samples of a binary classifier with threshold t against brute force.
void check_binary(const vigil::LabelSamples& s, const std::vector<Request>& requests, std::size_t k, double t) {
  CHECK(as_pairs(s.lowest_confidence) == brute_force(requests, k, [](double p) { return confidence(p); }));
  CHECK(as_pairs(s.highest_confidence) == brute_force(requests, k, [](double p) { return -confidence(p); }));
  CHECK(as_pairs(s.near_threshold) == brute_force(requests, k, [t](double p) { return std::fabs(p - t); }));
}

struct Model {
  vigil::Schema schema;
  vigil::NumericFeature x;
  vigil::Output score;

  explicit Model(double threshold = 0.3) {
    x = schema.add_numeric("x");
    vigil::OutputOptions options;
    options.threshold = threshold;
    score = schema.add_output("score", options);
  }
  vigil::Profile profile() const {
    vigil::Profile p(schema);
    vigil::Observation o(schema);
    for (int i = 0; i < 200; ++i) {
      o.clear();
      o.set(x, i * 0.01).score(score, (i % 100) / 100.0);
      p.add(o);
    }
    return p;
  }
};

// Scores with ties (two decimals), ids with collisions of prefix, and a few requests with
// no id, no score, a NaN or an infinite score.
Request draw(vigil_test::Random& random, std::int64_t interval, int n) {
  const double u = random.uniform();
  double score = std::floor(random.uniform() * 100) / 100;
  if (u < 0.02) score = std::numeric_limits<double>::quiet_NaN();
  else if (u < 0.03) score = std::numeric_limits<double>::infinity();
  else if (u < 0.05) score = -1;  // no score
  const std::string id = random.uniform() < 0.05 ? std::string() : "r" + std::to_string(n % 997) + "-" + std::to_string(n);
  return Request{interval, id, score};
}

void observe(vigil::Monitor& monitor, vigil::Observation& o, const Model& m, const Request& r, double t) {
  o.clear();
  o.at(t).set(m.x, 0.5);
  if (!r.id.empty()) o.id(r.id);
  if (r.score != -1) o.score(m.score, r.score);
  monitor.observe(o);
}

// The requests that count: with an id and a score.
std::vector<Request> candidates(const std::vector<Request>& requests, std::int64_t interval) {
  std::vector<Request> out;
  for (const Request& r : requests)
    if (r.interval == interval && !r.id.empty() && r.score != -1) out.push_back(r);
  return out;
}

}  // namespace

TEST_CASE("LabelSampleSet: empty, one, many against a sorted reference", "[samples]") {
  vigil::detail::LabelSampleSet none(0);
  CHECK_FALSE(none.offer(0.5, 0.5, "a"));
  CHECK(none.sorted().empty());

  vigil::detail::LabelSampleSet set(5);
  CHECK(set.empty());
  CHECK(set.offer(0.2, 0.8, "one"));
  REQUIRE(set.sorted().size() == 1);
  CHECK(set.sorted()[0].id == "one");

  vigil_test::Random random(3);
  vigil::detail::LabelSampleSet a(5), b(5), all(5);
  std::vector<Request> offered{{0, "one", 0.8}};
  for (int i = 0; i < 2000; ++i) {
    const double s = std::floor(random.uniform() * 50) / 50;
    const std::string id = "id" + std::to_string(i % 37);  // repeated ids and keys: ties
    offered.push_back({0, id, s});
    set.offer(s, s, id);
    (i % 2 ? a : b).offer(s, s, id);
    all.offer(s, s, id);
  }
  const auto expected = brute_force(offered, 5, [](double s) { return s; });
  CHECK(as_pairs(set.sorted()) == expected);
  CHECK(set.size() == 5);
  a.merge(b);
  a.offer(0.8, 0.8, "one");
  CHECK(as_pairs(a.sorted()) == expected);
  CHECK(set.memory_bytes() == 5 * vigil::detail::LabelSampleSet::bytes_per_sample);
}

TEST_CASE("LabelSampleSet: ids longer than the cut are kept cut", "[samples]") {
  vigil::detail::LabelSampleSet set(2);
  const std::string long_id(vigil::Observation::max_id_bytes + 40, 'x');
  set.offer(0.1, 0.1, long_id);
  REQUIRE(set.sorted().size() == 1);
  CHECK(set.sorted()[0].id == long_id.substr(0, vigil::Observation::max_id_bytes));
}

TEST_CASE("Monitor samples: exact sets per interval from several threads and shards", "[samples][concurrency]") {
  const Model model(0.3);
  vigil::MonitorOptions options;
  options.shards = 4;
  options.label_samples = 7;
  vigil::Monitor monitor(model.schema, model.profile(), options);
  std::map<double, vigil::LabelSamples> seen;
  monitor.on_interval([&](const vigil::Report& r) { seen[r.samples.interval_end] = r.samples; });
  constexpr int intervals = 4, threads = 4, per_thread = 400;
  std::vector<Request> requests;
  for (int m = 0; m < intervals; ++m) {
    std::vector<std::vector<Request>> drawn(threads);
    for (int w = 0; w < threads; ++w) {
      vigil_test::Random random(100 * m + w);
      for (int i = 0; i < per_thread; ++i) drawn[w].push_back(draw(random, m, (m * threads + w) * per_thread + i));
      requests.insert(requests.end(), drawn[w].begin(), drawn[w].end());
    }
    std::atomic<bool> done{false};
    std::thread reader([&] {
      while (!done.load()) (void)monitor.report();  // evaluates the intervals already closed meanwhile
    });
    std::vector<std::thread> workers;
    for (int w = 0; w < threads; ++w)
      workers.emplace_back([&, w] {
        vigil::Observation o(model.schema);
        for (int i = 0; i < per_thread; ++i) observe(monitor, o, model, drawn[w][i], start + 60 * m + 59.0 * i / per_thread);
      });
    for (std::thread& t : workers) t.join();
    done = true;
    reader.join();
  }
  const vigil::Report last = monitor.finish();
  REQUIRE(seen.size() == intervals);
  for (int m = 0; m < intervals; ++m) {
    const vigil::LabelSamples& s = seen.at(start + 60 * (m + 1));
    CHECK(s.lowest_confidence.size() == 7);
    check_binary(s, candidates(requests, m), 7, 0.3);
  }
  CHECK(as_pairs(last.samples.near_threshold) == as_pairs(seen.at(start + 240).near_threshold));
}

TEST_CASE("Monitor samples: a request belongs to its interval's samples", "[samples]") {
  const Model model(0.5);
  vigil::MonitorOptions options;
  options.shards = 1;
  options.label_samples = 2;
  vigil::Monitor monitor(model.schema, model.profile(), options);
  std::map<double, vigil::LabelSamples> seen;
  monitor.on_interval([&](const vigil::Report& r) { seen[r.samples.interval_end] = r.samples; });
  vigil::Observation o(model.schema);
  std::vector<Request> requests{{0, "a0", 0.50}, {0, "b0", 0.99}, {0, "c0", 0.45}, {1, "a1", 0.51}, {1, "b1", 0.02},
                                {0, "late0", 0.5}, {1, "c1", 0.7}};
  // The last request of the first interval comes after the first of the next (the shard
  // handed its interval over): it still counts in its own interval, at its boundary.
  const double times[] = {start, start + 30, start + 59.999, start + 60, start + 61, start + 59.5, start + 119.999};
  for (std::size_t i = 0; i < requests.size(); ++i) observe(monitor, o, model, requests[i], times[i]);
  (void)monitor.report(start + 121);
  // Evaluated: a request of the first interval that comes now is in no samples.
  observe(monitor, o, model, Request{0, "after", 0.5}, start + 1);
  (void)monitor.finish();
  REQUIRE(seen.count(start + 60) == 1);
  REQUIRE(seen.count(start + 120) == 1);
  check_binary(seen[start + 60], candidates(requests, 0), 2, 0.5);
  check_binary(seen[start + 120], candidates(requests, 1), 2, 0.5);
  CHECK(as_pairs(seen[start + 60].lowest_confidence) == std::vector<Sample>{{"a0", 0.5}, {"late0", 0.5}});
  CHECK(as_pairs(seen[start + 120].highest_confidence) == std::vector<Sample>{{"b1", 0.02}, {"c1", 0.7}});
}

TEST_CASE("Monitor samples: k bound, off, and above the maximum", "[samples]") {
  const Model model;
  vigil::MonitorOptions options;
  options.label_samples = vigil::MonitorOptions::max_label_samples + 1;
  CHECK_THROWS_AS(vigil::Monitor(model.schema, model.profile(), options), vigil::invalid_argument);
  for (const std::size_t k : {std::size_t(0), std::size_t(3)}) {
    options.label_samples = k;
    vigil::Monitor monitor(model.schema, model.profile(), options);
    vigil::Observation o(model.schema);
    for (int i = 0; i < 100; ++i) observe(monitor, o, model, Request{0, "r" + std::to_string(i), i / 100.0}, start + i * 0.5);
    const vigil::Report r = monitor.finish();
    CHECK(r.samples.interval_end == start + 60);
    CHECK(r.samples.lowest_confidence.size() == k);
    CHECK(r.samples.highest_confidence.size() == k);
    CHECK(r.samples.near_threshold.size() == k);
  }
}

TEST_CASE("Monitor samples: requests without id or finite score are ignored", "[samples]") {
  const Model model;
  vigil::Monitor monitor(model.schema, model.profile());
  vigil::Observation o(model.schema);
  observe(monitor, o, model, Request{0, "", 0.3}, start);  // no id
  observe(monitor, o, model, Request{0, "noscore", -1}, start + 1);
  observe(monitor, o, model, Request{0, "nan", std::numeric_limits<double>::quiet_NaN()}, start + 2);
  observe(monitor, o, model, Request{0, "inf", -std::numeric_limits<double>::infinity()}, start + 3);
  observe(monitor, o, model, Request{0, "kept", 0.9}, start + 4);
  const vigil::Report r = monitor.finish();
  CHECK(as_pairs(r.samples.lowest_confidence) == std::vector<Sample>{{"kept", 0.9}});
  CHECK(as_pairs(r.samples.near_threshold) == std::vector<Sample>{{"kept", 0.9}});
}

TEST_CASE("Monitor samples: multi-class by the score, regression none", "[samples]") {
  vigil::Schema multi;
  vigil::OutputOptions classes;
  classes.classes = {"cat", "dog", "eel"};
  const vigil::Output out = multi.add_output("animal", classes);
  vigil::Schema regression;
  const vigil::Output value = regression.add_output("price");
  for (const bool is_multi : {true, false}) {
    const vigil::Schema& schema = is_multi ? multi : regression;
    const vigil::Output o_out = is_multi ? out : value;
    vigil::Monitor monitor(schema, vigil::Profile(schema));
    vigil::Observation o(schema);
    for (int i = 0; i < 30; ++i) {
      o.clear();
      o.at(start + i).id("r" + std::to_string(i)).score(o_out, 0.4 + i / 50.0);
      monitor.observe(o);
    }
    const vigil::Report r = monitor.finish();
    CHECK(r.samples.near_threshold.empty());
    if (!is_multi) {
      CHECK(r.samples.lowest_confidence.empty());
      continue;
    }
    REQUIRE(r.samples.lowest_confidence.size() == 20);
    CHECK(r.samples.lowest_confidence.front().id == "r0");
    CHECK(r.samples.highest_confidence.front().id == "r29");
  }
}

TEST_CASE("Monitor samples: memory per shard and per interval waiting, at capacity", "[samples]") {
  const Model model;
  vigil::MonitorOptions options;
  options.shards = 1;
  options.label_samples = 0;
  vigil::Monitor off(model.schema, model.profile(), options);
  options.label_samples = vigil::MonitorOptions::max_label_samples;
  vigil::Monitor on(model.schema, model.profile(), options);
  const std::size_t per_set = 3 * options.label_samples * vigil::detail::LabelSampleSet::bytes_per_sample;
  const std::size_t sampler = sizeof(vigil::detail::LabelSampler);
  const std::size_t most_waiting = options.fine_intervals * sizeof(vigil::detail::IntervalSamples);
  CHECK(on.memory_bytes() == off.memory_bytes() + sampler);  // nothing before a request with an id
  // Nine intervals close before an evaluation: each waits with its candidate sets.
  vigil::Observation o(model.schema);
  for (int i = 0; i < 10 * 600; ++i) {
    const Request r{0, "r" + std::to_string(i), (i % 997) / 997.0};
    observe(on, o, model, r, start + i * 0.1);
    observe(off, o, model, r, start + i * 0.1);
  }
  const std::size_t waiting = on.memory_bytes() - off.memory_bytes();
  CHECK(waiting >= sampler + per_set + 9 * per_set);
  CHECK(waiting <= sampler + per_set + 9 * per_set + most_waiting);
  // Evaluated: two emptied sets are kept for the next intervals, the rest given back.
  (void)on.report();
  (void)off.report();
  CHECK(on.memory_bytes() - off.memory_bytes() <= sampler + per_set + 2 * per_set + most_waiting);
}

}  // namespace label_samples_test

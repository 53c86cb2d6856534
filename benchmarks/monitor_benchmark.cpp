// The Monitor's cost on a server: observe() per request for a model with 32 numeric and
// 4 categorical features and one score, on one and two threads; what a request id, a late
// label, a canary output and a label's loss attributions add; the evaluation of an interval
// and report() for 100 features with 7 days of history retained, the memory of that
// configuration, and the size and time of its snapshot() and restore().
#include <vigil/monitor/monitor.hpp>

#include <benchmark/benchmark.h>

#include "monitor_model.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace {

constexpr double start_time = 1798761600;  // 2027-01-01T00:00:00Z

using vigil_bench::Model;

// Moves a shared event-time clock forward to t (never back); returns its time after.
double advance_clock(std::atomic<double>& clock, double t) {
  double seen = clock.load();
  while (t > seen && !clock.compare_exchange_weak(seen, t)) {
  }
  return std::max(t, seen);
}

// The chunks of an interleaved benchmark, in ns per request: each pair is a chunk without the
// thing measured and one with it, run in the same few milliseconds, so that the host's drift
// in speed cancels in their difference. The counters are medians over the pairs.
class ChunkPairs {
 public:
  using clock = std::chrono::steady_clock;

  static double ns_per_request(clock::duration d, int requests) {
    return std::chrono::duration<double, std::nano>(d).count() / requests;
  }
  void add(double without, double with) {
    without_.push_back(without);
    with_.push_back(with);
    difference_.push_back(with - without);
  }
  /// Counters `without_name`, `with_name` and `adds`; returns `adds`.
  double report(benchmark::State& state, const char* without_name, const char* with_name) {
    state.counters[without_name] = median(without_);
    state.counters[with_name] = median(with_);
    const double adds = median(difference_);
    state.counters["adds"] = adds;
    return adds;
  }

 private:
  static double median(std::vector<double>& v) {
    std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(v.size() / 2), v.end());
    return v[v.size() / 2];
  }
  std::vector<double> without_, with_, difference_;
};

struct ObserveFixture {
  Model model{32, 4};
  std::unique_ptr<vigil::Monitor> monitor;
  // Event time carries on from one run to the next (Google Benchmark runs the function
  // several times), so that no run replays times the monitor has already closed.
  std::atomic<double> clock{start_time};

  ObserveFixture() {
    vigil::MonitorOptions options;
    options.shards = 2;
    monitor = std::make_unique<vigil::Monitor>(model.schema, model.profile(5000), options);
  }
};

ObserveFixture& observe_fixture() {
  static ObserveFixture f;
  return f;
}

// 32 numeric + 4 categorical features + 1 score; event time advances 1 ms per request per
// thread, so intervals close at a realistic rate (every 60,000 requests per thread). Each
// thread cycles through 256 prepared requests of its own (≈ 150 KB, in L2): a server calls
// observe() on a request it has just filled, so its data is in cache too.
//
// Threads share one clock, as a server's threads share the wall clock: every 256 requests a
// thread publishes its time and catches up with the latest. On private clocks the threads'
// event times drift apart with their speeds (minutes within a second of running), and the
// slower thread's requests land in intervals the faster one has already closed — the
// retention path, or late and dropped — which no server sees.
// The timed loop of the observe() benchmarks: a fixture's requests at advancing times.
template <class Fixture>
void observe_loop(benchmark::State& state, Fixture& f) {
  std::vector<std::unique_ptr<vigil::Observation>> pool = f.model.requests(256, 10 + state.thread_index());
  double t = f.clock.load();
  std::size_t i = 0;
  for (auto _ : state) {
    if ((i & 255) == 0) t = advance_clock(f.clock, t);
    vigil::Observation& o = *pool[i++ & 255];
    o.at(t);
    t += 0.001;
    f.monitor->observe(o);
  }
  advance_clock(f.clock, t);
  state.SetItemsProcessed(state.iterations());
}

void BM_Monitor_observe(benchmark::State& state) { observe_loop(state, observe_fixture()); }
BENCHMARK(BM_Monitor_observe)->Threads(1)->UseRealTime();
BENCHMARK(BM_Monitor_observe)->Threads(2)->UseRealTime();

// What late labels add to the request path: the same model and requests with a labelled
// holdout, so that the quality family bins every score for its estimates
// (BM_Monitor_observe_labelled), and each request with a text id ("req-" and 12 digits, set
// per request as a server does) filed into the label store (capacity 2^18: full after the
// first 262,144 requests, so each also pushes out the oldest). The ids come from
// vigil_bench::RequestIds, already text: formatting them is the server's work, not observe()'s.
struct LabelledFixture {
  Model model{32, 4};
  std::unique_ptr<vigil::Monitor> monitor;
  std::atomic<double> clock{start_time};
  std::atomic<std::uint64_t> next_id{0};

  LabelledFixture() {
    vigil::MonitorOptions options;
    options.shards = 2;
    monitor = std::make_unique<vigil::Monitor>(model.schema, model.labelled_profile(5000), options);
  }
};

LabelledFixture& labelled_fixture() {
  static LabelledFixture f;
  return f;
}

void BM_Monitor_observe_labelled(benchmark::State& state) { observe_loop(state, labelled_fixture()); }
BENCHMARK(BM_Monitor_observe_labelled)->Threads(1)->UseRealTime();

void BM_Monitor_observe_with_id(benchmark::State& state) {
  LabelledFixture& f = labelled_fixture();
  std::vector<std::unique_ptr<vigil::Observation>> pool = f.model.requests(256, 10 + state.thread_index());
  double t = f.clock.load();
  vigil_bench::RequestIds ids(f.next_id.fetch_add(std::uint64_t{1} << 32));
  std::size_t i = 0;
  for (auto _ : state) {
    if ((i & 255) == 0) t = advance_clock(f.clock, t);
    vigil::Observation& o = *pool[i++ & 255];
    o.at(t).id(ids.next());
    t += 0.001;
    f.monitor->observe(o);
  }
  advance_clock(f.clock, t);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Monitor_observe_with_id)->Threads(1)->UseRealTime();

// The id's cost split between the store's code and its memory: the same requests with ids,
// into a store of `range(0)` requests (1,024: in cache; 262,144: the default, 16.8 MB), each
// run on a monitor of its own after 300,000 requests, so that the store is full.
void BM_Monitor_observe_with_id_store(benchmark::State& state) {
  vigil_bench::Model model{32, 4};
  vigil::MonitorOptions options;
  options.shards = 2;
  options.label_capacity = static_cast<std::size_t>(state.range(0));
  vigil::Monitor monitor(model.schema, model.labelled_profile(5000), options);
  std::vector<std::unique_ptr<vigil::Observation>> pool = model.requests(256, 10);
  vigil_bench::RequestIds ids(0);
  double t = start_time;
  std::size_t i = 0;
  for (; i < 300000; ++i, t += 0.001) monitor.observe(pool[i & 255]->at(t).id(ids.next()));
  for (auto _ : state) {
    monitor.observe(pool[i++ & 255]->at(t).id(ids.next()));
    t += 0.001;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Monitor_observe_with_id_store)->Arg(1024)->Arg(262144);

// What the id adds, measured so that the host's drift in speed cancels: one monitor (the
// labelled profile, a full store of 2^18 requests) takes chunks of 2,048 requests without an
// id and chunks of the same requests with one, in turn; each pair of chunks gives a
// difference, and the counters are medians over the pairs (ns per request): `plain`,
// `with_id`, and `adds`, the median of the differences.
void BM_Monitor_id_cost_interleaved(benchmark::State& state) {
  Model model{32, 4};
  vigil::MonitorOptions options;
  options.shards = 2;
  vigil::Monitor monitor(model.schema, model.labelled_profile(5000), options);
  std::vector<std::unique_ptr<vigil::Observation>> plain = model.requests(256, 10);
  std::vector<std::unique_ptr<vigil::Observation>> identified = model.requests(256, 10);
  vigil_bench::RequestIds ids(0);
  double t = start_time;
  for (std::size_t i = 0; i < 300000; ++i, t += 0.001) monitor.observe(identified[i & 255]->at(t).id(ids.next()));
  constexpr int chunk = 2048;
  using clock = ChunkPairs::clock;
  ChunkPairs pairs;
  for (auto _ : state) {
    const clock::time_point start = clock::now();
    for (int k = 0; k < chunk; ++k, t += 0.001) monitor.observe(plain[k & 255]->at(t));
    const clock::time_point middle = clock::now();
    for (int k = 0; k < chunk; ++k, t += 0.001) monitor.observe(identified[k & 255]->at(t).id(ids.next()));
    const clock::time_point end = clock::now();
    pairs.add(ChunkPairs::ns_per_request(middle - start, chunk), ChunkPairs::ns_per_request(end - middle, chunk));
  }
  pairs.report(state, "plain", "with_id");
  state.SetItemsProcessed(state.iterations() * 2 * chunk);
}
BENCHMARK(BM_Monitor_id_cost_interleaved)->Iterations(1000)->Unit(benchmark::kMicrosecond);

// on_label() for requests filed a minute of event time before, in the order they came: the
// join in the store and the staging for the next evaluation (evaluated in the loop as event
// time passes interval ends, as a server's report() would).
void BM_Monitor_on_label(benchmark::State& state) {
  LabelledFixture& f = labelled_fixture();
  std::vector<std::unique_ptr<vigil::Observation>> pool = f.model.requests(256, 30);
  constexpr std::uint64_t batch = 4096;
  const std::uint64_t first = f.next_id.fetch_add(std::uint64_t{1} << 32);
  vigil_bench::RequestIds requests(first), labels(first);
  double t = f.clock.load();
  std::uint64_t labelled = 0;
  for (auto _ : state) {
    if (labelled % batch == 0) {
      state.PauseTiming();
      for (std::uint64_t k = 0; k < batch; ++k) {
        vigil::Observation& o = *pool[k & 255];
        o.at(t).id(requests.next());
        t += 0.001;
        f.monitor->observe(o);
      }
      f.monitor->evaluate();
      state.ResumeTiming();
    }
    benchmark::DoNotOptimize(f.monitor->on_label(labels.next(), 1.0, t));
    ++labelled;
  }
  advance_clock(f.clock, t);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Monitor_on_label)->Threads(1)->UseRealTime();

// What one canary output adds to observe(), measured so that the host's drift cancels: two
// monitors of the benchmark's model with the same training profile (which knows no canary),
// the second's schema with a canary shadowing the score, set on every request (the score plus
// noise, prepared with the pool: no random numbers are drawn in the loop). Both take the same
// 256 requests at the same event times, a chunk of 2,048 to one and then the same chunk to
// the other, in turn; the counters are medians over the pairs of chunks (ns per request):
// `plain`, `with_canary`, and `adds`, the median of the differences. Each chunk follows the
// other monitor's chunk, so both start on caches the other has refilled (swapping the order
// in every other pair would start one chunk of each pair warm). The two monitors' places in
// memory change from run to run, and with them `adds` by several ns: take the median of
// several runs (--benchmark_repetitions makes new monitors each time).
void BM_Monitor_canary_cost_interleaved(benchmark::State& state) {
  const Model model{32, 4}, shadowed{32, 4, true};
  vigil::MonitorOptions options;
  options.shards = 2;
  vigil::Monitor plain_monitor(model.schema, model.profile(5000), options);
  vigil::Monitor canary_monitor(shadowed.schema, shadowed.profile(5000), options);
  std::vector<std::unique_ptr<vigil::Observation>> plain = model.requests(256, 10);
  std::vector<std::unique_ptr<vigil::Observation>> with_canary = shadowed.requests(256, 10);
  double t = start_time;
  for (std::size_t i = 0; i < 300000; ++i, t += 0.001) {
    plain_monitor.observe(plain[i & 255]->at(t));
    canary_monitor.observe(with_canary[i & 255]->at(t));
  }
  constexpr int chunk = 2048;
  using clock = ChunkPairs::clock;
  // One chunk of the pool into `monitor`, from event time t on; ns per request.
  const auto timed_chunk = [&](vigil::Monitor& monitor, std::vector<std::unique_ptr<vigil::Observation>>& pool) {
    double u = t;
    const clock::time_point start = clock::now();
    for (int k = 0; k < chunk; ++k, u += 0.001) monitor.observe(pool[k & 255]->at(u));
    return ChunkPairs::ns_per_request(clock::now() - start, chunk);
  };
  ChunkPairs pairs;
  for (auto _ : state) {
    const double without = timed_chunk(plain_monitor, plain);
    pairs.add(without, timed_chunk(canary_monitor, with_canary));
    t += chunk * 0.001;
  }
  pairs.report(state, "plain", "with_canary");
  state.counters["compared"] = static_cast<double>(canary_monitor.report(t).canary.at(0).recent_count);
  state.SetItemsProcessed(state.iterations() * 2 * chunk);
}
BENCHMARK(BM_Monitor_canary_cost_interleaved)->Iterations(1000)->Unit(benchmark::kMicrosecond);

// What a label's loss attributions add to on_label(), in turn with labels without them so that
// the host's drift cancels: one monitor (the labelled profile with the holdout's attributions,
// a full store of 2^18 requests). Each iteration files 4,096 requests with ids and evaluates
// (as BM_Monitor_on_label; untimed by the counters), then labels 2,048 of them without
// attributions and the next 2,048 with one value per input feature (36, prepared), the order
// swapped at every iteration so that neither kind always comes first after the evaluation.
// The labels wait in the staging until their interval is evaluated, a minute of event time,
// as on a server. Counters, medians over the pairs (ns per label): `plain`, `attributed`,
// `adds`, and `adds_per_feature`.
void BM_Monitor_attribution_cost_interleaved(benchmark::State& state) {
  const Model model{32, 4};
  vigil::MonitorOptions options;
  options.shards = 2;
  vigil::Monitor monitor(model.schema, model.attributed_profile(5000), options);
  std::vector<std::unique_ptr<vigil::Observation>> pool = model.requests(256, 30);
  const std::size_t features = model.feature_count();
  const std::vector<double> shares = model.attributions(256, 31);
  vigil_bench::RequestIds requests(0);
  double t = start_time;
  for (std::size_t i = 0; i < 300000; ++i, t += 0.001) monitor.observe(pool[i & 255]->at(t).id(requests.next()));
  vigil_bench::RequestIds labels = requests;
  constexpr int chunk = 2048;
  using clock = ChunkPairs::clock;
  const auto plain_chunk = [&] {
    const clock::time_point start = clock::now();
    for (int k = 0; k < chunk; ++k) benchmark::DoNotOptimize(monitor.on_label(labels.next(), 1.0, t));
    return ChunkPairs::ns_per_request(clock::now() - start, chunk);
  };
  const auto attributed_chunk = [&] {
    const clock::time_point start = clock::now();
    for (int k = 0; k < chunk; ++k)
      benchmark::DoNotOptimize(monitor.on_label(labels.next(), 1.0, t, &shares[(k & 255) * features], features));
    return ChunkPairs::ns_per_request(clock::now() - start, chunk);
  };
  ChunkPairs pairs;
  bool attributed_first = false;
  for (auto _ : state) {
    for (int k = 0; k < 2 * chunk; ++k, t += 0.001) monitor.observe(pool[k & 255]->at(t).id(requests.next()));
    monitor.evaluate();
    if (attributed_first) {
      const double with = attributed_chunk();
      pairs.add(plain_chunk(), with);
    } else {
      const double without = plain_chunk();
      pairs.add(without, attributed_chunk());
    }
    attributed_first = !attributed_first;
  }
  const double adds = pairs.report(state, "plain", "attributed");
  state.counters["adds_per_feature"] = adds / static_cast<double>(features);
  state.counters["attributed_labels"] = static_cast<double>(monitor.report().quality.attributed_labels);
  state.SetItemsProcessed(state.iterations() * 2 * chunk);
}
BENCHMARK(BM_Monitor_attribution_cost_interleaved)->Iterations(1000)->Unit(benchmark::kMicrosecond);

// The health check's share of a label's attributions: the evaluation credits each one to its
// request's interval, feature by feature. Two monitors as above take the same minute of
// requests with ids (60,000) and a label per request for the request filed 4,096 before, one
// monitor's labels without attributions and the other's with them (untimed); then each
// evaluates the minute just closed, at its end, timed, the order swapped every minute. The
// counters, medians over the minutes, are in ns per label of the minute: `plain`,
// `attributed`, `adds` and `adds_per_feature`.
void BM_Monitor_attribution_evaluation_interleaved(benchmark::State& state) {
  const Model model{32, 4};
  vigil::MonitorOptions options;
  options.shards = 2;
  const vigil::Profile profile = model.attributed_profile(5000);
  vigil::Monitor plain(model.schema, profile, options), attributed(model.schema, profile, options);
  std::vector<std::unique_ptr<vigil::Observation>> pool = model.requests(256, 30);
  const std::size_t features = model.feature_count();
  const std::vector<double> shares = model.attributions(256, 31);
  constexpr std::uint64_t minute = 60000, lag = 4096;
  vigil_bench::RequestIds requests(0), labels(0);
  std::uint64_t filed = 0;
  double t = start_time;
  // One minute of traffic into both monitors; t ends at the minute's end, exactly (times are
  // counts of milliseconds divided by 1,000, not sums of 0.001), so that evaluate(t) closes it.
  const auto fill_minute = [&] {
    for (std::uint64_t k = 0; k < minute; ++k, ++filed) {
      t = start_time + static_cast<double>(filed) / 1000;
      vigil::Observation& o = pool[k & 255]->at(t).id(requests.next());
      plain.observe(o);
      attributed.observe(o);
      if (filed < lag) continue;
      const std::string_view id = labels.next();
      benchmark::DoNotOptimize(plain.on_label(id, 1.0, t));
      benchmark::DoNotOptimize(attributed.on_label(id, 1.0, t, &shares[(k & 255) * features], features));
    }
    t = start_time + static_cast<double>(filed) / 1000;
  };
  for (int m = 0; m < 5; ++m) {
    fill_minute();
    plain.evaluate(t);
    attributed.evaluate(t);
  }
  using clock = ChunkPairs::clock;
  const auto timed_evaluation = [&](vigil::Monitor& monitor) {
    const clock::time_point start = clock::now();
    monitor.evaluate(t);
    return ChunkPairs::ns_per_request(clock::now() - start, static_cast<int>(minute));
  };
  ChunkPairs pairs;
  bool attributed_first = false;
  for (auto _ : state) {
    state.PauseTiming();
    fill_minute();
    state.ResumeTiming();
    if (attributed_first) {
      const double with = timed_evaluation(attributed);
      pairs.add(timed_evaluation(plain), with);
    } else {
      const double without = timed_evaluation(plain);
      pairs.add(without, timed_evaluation(attributed));
    }
    attributed_first = !attributed_first;
  }
  const double adds = pairs.report(state, "plain", "attributed");
  state.counters["adds_per_feature"] = adds / static_cast<double>(features);
  const vigil::QualityReport q = attributed.report().quality;
  state.counters["attributed_labels"] = static_cast<double>(q.attributed_labels);
  state.counters["applied_early"] = static_cast<double>(q.attributions_applied_early);
}
BENCHMARK(BM_Monitor_attribution_evaluation_interleaved)->Iterations(30)->Unit(benchmark::kMillisecond);

// What the operational monitors add: the same model and requests, each also with a latency,
// a status and two tags (host of 8 values, model version of 2), and an on_arrival() call.
struct OperationsFixture {
  Model model{32, 4};
  vigil::Tag host{0};
  vigil::Tag version{0};
  std::unique_ptr<vigil::Monitor> monitor;
  std::atomic<double> clock{start_time};

  OperationsFixture() {
    host = model.schema.add_tag("host");
    version = model.schema.add_tag("model_version");
    vigil::MonitorOptions options;
    options.shards = 2;
    monitor = std::make_unique<vigil::Monitor>(model.schema, model.profile(5000), options);
  }
};

OperationsFixture& operations_fixture() {
  static OperationsFixture f;
  return f;
}

void BM_Monitor_observe_with_operations(benchmark::State& state) {
  OperationsFixture& f = operations_fixture();
  std::vector<std::unique_ptr<vigil::Observation>> pool = f.model.requests(256, 20 + state.thread_index());
  vigil_bench::add_operations(pool, f.host, f.version);
  double t = f.clock.load();
  std::size_t i = 0;
  for (auto _ : state) {
    vigil::Observation& o = *pool[i++ & 255];
    f.monitor->on_arrival(t);
    o.at(t);
    t += 0.001;
    f.monitor->observe(o);
  }
  advance_clock(f.clock, t);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Monitor_observe_with_operations)->Threads(1)->UseRealTime();

// A monitor of 96 numeric + 4 categorical features and a score whose 7 days of retention are
// full: 60 one-minute intervals and 168 hourly ones, five requests a minute.
struct ReportFixture {
  Model model{96, 4};
  std::unique_ptr<vigil::Monitor> monitor;
  std::vector<std::unique_ptr<vigil::Observation>> pool = model.requests(512, 3);
  std::size_t next = 0;
  int minutes = 7 * 24 * 60;

  ReportFixture() {
    vigil::MonitorOptions options;
    options.shards = 1;
    monitor = std::make_unique<vigil::Monitor>(model.schema, model.profile(5000), options);
    for (int m = 0; m < minutes; ++m) fill_minute(m);
    monitor->report(start_time + 60.0 * minutes);
  }
  void fill_minute(int m) {
    for (int r = 0; r < 5; ++r) {
      vigil::Observation& o = *pool[next++ % pool.size()];
      o.at(start_time + 60.0 * m + 12.0 * r);
      monitor->observe(o);
    }
  }
};

// The evaluation of one closed interval, what a health check pays once a minute: every family
// over every slot (the horizon merged over the 7 days), correction, alerts, the stored report;
// with the five requests that fill the interval.
void BM_Monitor_evaluate_interval_100_features_7_days(benchmark::State& state) {
  ReportFixture f;
  for (auto _ : state) {
    f.fill_minute(f.minutes);
    ++f.minutes;
    f.monitor->evaluate(start_time + 60.0 * f.minutes);
  }
  state.counters["memory_MB"] = static_cast<double>(f.monitor->memory_bytes()) / 1e6;
  state.counters["features"] = 100;
}
BENCHMARK(BM_Monitor_evaluate_interval_100_features_7_days)->Unit(benchmark::kMillisecond)->Iterations(20);

// report() once the interval is evaluated: a copy of the stored result with the live counters.
void BM_Monitor_report_100_features_7_days(benchmark::State& state) {
  ReportFixture f;
  for (auto _ : state) {
    vigil::Report report = f.monitor->report();
    benchmark::DoNotOptimize(report.features.data());
  }
  state.counters["memory_MB"] = static_cast<double>(f.monitor->memory_bytes()) / 1e6;
  state.counters["features"] = 100;
}
BENCHMARK(BM_Monitor_report_100_features_7_days)->Unit(benchmark::kMillisecond)->Iterations(20);

// One such monitor shared by the snapshot benchmarks, which leave it as it is: its week of
// traffic is fed once, then the requests of the next minute, whose interval stays open (a
// server's snapshot is taken while requests come in).
struct WeekFixture : ReportFixture {
  WeekFixture() { fill_minute(minutes); }
};

ReportFixture& week_fixture() {
  static WeekFixture f;
  return f;
}

void snapshot_counters(benchmark::State& state, const vigil::Monitor& m, std::size_t bytes) {
  state.counters["bytes"] = static_cast<double>(bytes);
  state.counters["profile_bytes"] = static_cast<double>(m.profile().serialize().size());
  state.counters["memory_MB"] = static_cast<double>(m.memory_bytes()) / 1e6;
}

// Monitor::snapshot() of the monitor of 100 features with 7 days retained: its schema, profile
// and options, every retained interval summary, the learnt state and the latest report.
// Counter `empty_bytes`: the snapshot of the same monitor before its first request.
void BM_Monitor_snapshot(benchmark::State& state) {
  ReportFixture& f = week_fixture();
  std::size_t bytes = 0;
  for (auto _ : state) {
    const std::vector<std::uint8_t> snapshot = f.monitor->snapshot();
    bytes = snapshot.size();
    benchmark::DoNotOptimize(snapshot.data());
  }
  snapshot_counters(state, *f.monitor, bytes);
  vigil::Monitor empty(f.monitor->schema(), f.monitor->profile(), f.monitor->options());
  state.counters["empty_bytes"] = static_cast<double>(empty.snapshot().size());
}
BENCHMARK(BM_Monitor_snapshot)->Unit(benchmark::kMillisecond);

// Monitor::restore() of that snapshot, given the schema, profile and options as a server
// holds them (moved in; their copies are made untimed), and the destruction untimed: the
// monitor's construction (the plan from the profile) and the reading of its state.
void BM_Monitor_restore(benchmark::State& state) {
  ReportFixture& f = week_fixture();
  const std::vector<std::uint8_t> snapshot = f.monitor->snapshot();
  for (auto _ : state) {
    state.PauseTiming();
    vigil::Schema schema = f.monitor->schema();
    vigil::Profile profile = f.monitor->profile();
    state.ResumeTiming();
    std::unique_ptr<vigil::Monitor> restored(new vigil::Monitor(
        vigil::Monitor::restore(snapshot, std::move(schema), std::move(profile), f.monitor->options())));
    state.PauseTiming();
    restored.reset();
    state.ResumeTiming();
  }
  snapshot_counters(state, *f.monitor, snapshot.size());
}
BENCHMARK(BM_Monitor_restore)->Unit(benchmark::kMillisecond);

// The same from the snapshot alone (Monitor::restore(bytes): `vigil report --snapshot`): the
// schema, profile and options read from it too.
void BM_Monitor_restore_on_its_own(benchmark::State& state) {
  ReportFixture& f = week_fixture();
  const std::vector<std::uint8_t> snapshot = f.monitor->snapshot();
  for (auto _ : state) {
    std::unique_ptr<vigil::Monitor> restored(new vigil::Monitor(vigil::Monitor::restore(snapshot)));
    state.PauseTiming();
    restored.reset();
    state.ResumeTiming();
  }
  snapshot_counters(state, *f.monitor, snapshot.size());
}
BENCHMARK(BM_Monitor_restore_on_its_own)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();

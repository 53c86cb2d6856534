// A driver for instruction counts of Monitor::observe() (valgrind --tool=callgrind), which do
// not depend on what else the machine is doing: `observe_count N` files N requests of the
// monitor benchmark's model (32 numeric + 4 categorical features + 1 score, two tags in the
// schema, one shard) after a warm-up of 300,000. A second argument names a variant:
//   ops       the operational signals (latency, status, the two tags, an on_arrival() per request);
//   labelled  a profile with labels (the quality family bins every score for its estimates);
//   id        that profile, and a text id per request ("req-" and 12 digits, counted up as
//             benchmarks/monitor_model.hpp's RequestIds: no formatting), filed in the label
//             store (capacity 2^18, full after the warm-up: each request pushes out the oldest);
//   label     as id, and an on_label() per request for the request filed 60,000 requests (one
//             minute of event time) before;
//   attributed_label
//             as label, with the holdout's loss attributions in the profile and one value per
//             input feature (36, prepared) with every label;
//   canary    a canary output in the schema (Schema::add_canary), its score set on every
//             request; the profile knows the champion only, as a training profile does.
// In the labelled variants evaluate() runs at each minute's end, as a health check would, so
// that staged labels are drained: after the minute's last request, which evaluates the minute
// before it; in `attributed_label` a second (1,000 requests) into the next minute, which
// evaluates the minute just ended. Labels wait for the evaluation of the minute they came
// in, and attributed labels are staged up to 2^22 values (116,508 labels of 36 features):
// two minutes of them, at one label per request, would fill that, and the evaluation would
// run inside the on_label() that fills it.
// Run it for two values of N: the difference of the totals divided by the difference of N is
// the cost of one request, without set-up; `id` minus `labelled` is what an id adds, `canary`
// minus the plain run what a canary output adds. The calls are made by functions kept out of
// line (observe_one, label_one, attributed_label_one, evaluate_minute), so that
// callgrind_annotate --inclusive=yes gives each one's cost apart: observe_one is what the
// request path pays (setting the id included), label_one and attributed_label_one what
// on_label() costs its caller, evaluate_minute the health check's share (the labels' evaluation
// included).
#include <vigil/monitor/monitor.hpp>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "monitor_model.hpp"

namespace {

enum class Variant { plain, ops, labelled, id, label, attributed_label, canary };

Variant variant_of(const char* name) {
  if (name == nullptr) return Variant::plain;
  const std::string v = name;
  if (v == "ops") return Variant::ops;
  if (v == "labelled") return Variant::labelled;
  if (v == "id") return Variant::id;
  if (v == "label") return Variant::label;
  if (v == "attributed_label") return Variant::attributed_label;
  if (v == "canary") return Variant::canary;
  std::fprintf(stderr, "observe_count: unknown variant '%s' (ops, labelled, id, label, attributed_label, canary)\n",
               name);
  std::exit(2);
}

// Sets the request's time (and id) and observes it: the request path.
__attribute__((noinline)) void observe_one(vigil::Monitor& monitor, vigil::Observation& o, double t,
                                           vigil_bench::RequestIds* ids) {
  o.at(t);
  if (ids != nullptr) o.id(ids->next());
  monitor.observe(o);
}

__attribute__((noinline)) void label_one(vigil::Monitor& monitor, vigil_bench::RequestIds& labels, double t) {
  monitor.on_label(labels.next(), 1.0, t);
}

__attribute__((noinline)) void attributed_label_one(vigil::Monitor& monitor, vigil_bench::RequestIds& labels, double t,
                                                    const double* attributions, std::size_t count) {
  monitor.on_label(labels.next(), 1.0, t, attributions, count);
}

__attribute__((noinline)) void evaluate_minute(vigil::Monitor& monitor) { monitor.evaluate(); }

}  // namespace

int main(int argc, char** argv) {
  const long n = argc > 1 ? std::atol(argv[1]) : 100000;
  const Variant variant = variant_of(argc > 2 ? argv[2] : nullptr);
  const bool labels_come = variant == Variant::label || variant == Variant::attributed_label;
  const bool identified = variant == Variant::id || labels_come;
  const bool labelled = variant == Variant::labelled || identified;
  vigil_bench::Model model(32, 4, variant == Variant::canary);
  const vigil::Tag host = model.schema.add_tag("host");
  const vigil::Tag version = model.schema.add_tag("model_version");
  vigil::MonitorOptions options;
  options.shards = 1;
  vigil::Monitor monitor(model.schema,
                         variant == Variant::attributed_label ? model.attributed_profile(5000)
                         : labelled                           ? model.labelled_profile(5000)
                                                              : model.profile(5000),
                         options);
  auto pool = model.requests(256, 10);
  if (variant == Variant::ops) vigil_bench::add_operations(pool, host, version);
  const std::size_t features = model.feature_count();
  const std::vector<double> shares = model.attributions(256, 31);
  constexpr long minute = 60000;  // requests per minute of event time
  vigil_bench::RequestIds ids(0), labels(0);
  double t = 1798761600;  // 2027-01-01T00:00:00Z
  const long total = 300000 + n;
  const long evaluate_at = variant == Variant::attributed_label ? 1000 : minute - 1;  // request of the minute
  for (long i = 0; i < total; ++i) {
    vigil::Observation& o = *pool[static_cast<std::size_t>(i) & 255];
    if (variant == Variant::ops) monitor.on_arrival(t);
    observe_one(monitor, o, t, identified ? &ids : nullptr);
    t += 0.001;
    if (variant == Variant::label && i >= minute) label_one(monitor, labels, t);
    if (variant == Variant::attributed_label && i >= minute)
      attributed_label_one(monitor, labels, t, &shares[(static_cast<std::size_t>(i) & 255) * features], features);
    if (labelled && i % minute == evaluate_at) evaluate_minute(monitor);
  }
  const vigil::Report report = monitor.report();
  const vigil::QualityReport& q = report.quality;
  std::printf("observed %llu; labels joined %llu (with attributions %llu), requests pending %llu, evicted %llu",
              static_cast<unsigned long long>(monitor.observed()), static_cast<unsigned long long>(q.joined),
              static_cast<unsigned long long>(q.attributed_labels), static_cast<unsigned long long>(q.pending),
              static_cast<unsigned long long>(q.evicted));
  if (!report.canary.empty())
    std::printf("; canary compared recently %llu", static_cast<unsigned long long>(report.canary.front().recent_count));
  std::printf("\n");
  return 0;
}

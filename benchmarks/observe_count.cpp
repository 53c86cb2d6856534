// A driver for instruction counts of Monitor::observe() (valgrind --tool=callgrind), which do
// not depend on what else the machine is doing: `observe_count N` files N requests of the
// monitor benchmark's model (32 numeric + 4 categorical features + 1 score, two tags in the
// schema, one shard) after a warm-up of 200,000, and `observe_count N ops` adds the
// operational signals (latency, status, the two tags, an on_arrival() per request). Run it for
// two values of N: the difference of the totals divided by the difference of N is the cost of
// one request, without set-up.
#include <vigil/monitor/monitor.hpp>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "monitor_model.hpp"

int main(int argc, char** argv) {
  const long n = argc > 1 ? std::atol(argv[1]) : 100000;
  const bool operations = argc > 2 && std::strcmp(argv[2], "ops") == 0;
  vigil_bench::Model model(32, 4);
  const vigil::Tag host = model.schema.add_tag("host");
  const vigil::Tag version = model.schema.add_tag("model_version");
  vigil::MonitorOptions options;
  options.shards = 1;
  vigil::Monitor monitor(model.schema, model.profile(5000), options);
  auto pool = model.requests(256, 10);
  if (operations) vigil_bench::add_operations(pool, host, version);
  double t = 1798761600;  // 2027-01-01T00:00:00Z
  const long total = 200000 + n;
  for (long i = 0; i < total; ++i) {
    vigil::Observation& o = *pool[static_cast<std::size_t>(i) & 255];
    if (operations) monitor.on_arrival(t);
    o.at(t);
    t += 0.001;
    monitor.observe(o);
  }
  std::printf("observed %llu\n", static_cast<unsigned long long>(monitor.observed()));
  return 0;
}

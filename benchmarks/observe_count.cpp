// A driver for instruction counts of Monitor::observe() (valgrind --tool=callgrind), which do
// not depend on what else the machine is doing: `observe_count N` files N requests of the
// monitor benchmark's model (32 numeric + 4 categorical features + 1 score, one shard) after
// a warm-up of 200,000, and `observe_count N ops` adds the operational signals (latency,
// status, two tags, an on_arrival() per request). Run it for two values of N: the difference
// of the totals divided by the difference of N is the cost of one request, without set-up.
#include <vigil/monitor/monitor.hpp>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

int main(int argc, char** argv) {
  const long n = argc > 1 ? std::atol(argv[1]) : 100000;
  const bool operations = argc > 2 && std::strcmp(argv[2], "ops") == 0;
  vigil::Schema schema;
  std::vector<vigil::NumericFeature> numeric;
  std::vector<vigil::CategoricalFeature> categorical;
  for (int i = 0; i < 32; ++i) numeric.push_back(schema.add_numeric("n" + std::to_string(i)));
  for (int i = 0; i < 4; ++i) categorical.push_back(schema.add_categorical("c" + std::to_string(i)));
  vigil::OutputOptions output_options;
  output_options.threshold = 0.5;
  const vigil::Output score = schema.add_output("score", output_options);
  const vigil::Tag host = schema.add_tag("host");
  const vigil::Tag version = schema.add_tag("model_version");

  const auto make = [&](std::size_t count, std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<double> normal;
    std::uniform_int_distribution<int> category(0, 19);
    std::lognormal_distribution<double> latency(std::log(0.02), 0.3);
    std::vector<std::unique_ptr<vigil::Observation>> out;
    for (std::size_t r = 0; r < count; ++r) {
      auto o = std::make_unique<vigil::Observation>(schema);
      double sum = 0;
      for (std::size_t i = 0; i < numeric.size(); ++i) {
        const double x = normal(rng) * (1 + static_cast<double>(i));
        o->set(numeric[i], x);
        sum += x / (1 + static_cast<double>(i));
      }
      for (const auto& c : categorical) o->set(c, "value_" + std::to_string(category(rng)));
      o->score(score, 1 / (1 + std::exp(-sum / 6)));
      if (operations) {
        o->tag(host, "host-" + std::to_string(r % 8)).tag(version, r % 5 == 0 ? "v2" : "v1");
        o->latency(latency(rng)).status(vigil::RequestStatus::ok);
      }
      out.push_back(std::move(o));
    }
    return out;
  };
  vigil::Profile profile(schema);
  for (auto& o : make(5000, 1)) profile.add(*o);
  vigil::MonitorOptions options;
  options.shards = 1;
  vigil::Monitor monitor(schema, profile, options);
  auto pool = make(256, 10);
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

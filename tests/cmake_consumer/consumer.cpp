// A program that uses vigil the way a server does — a Schema, a training Profile, a Monitor
// fed a few hundred requests, its report exported as JSON and Prometheus text — built by
// the consumer projects, which link vigil::vigil and nothing else. It exits non-zero when
// a result is not what the requests imply, so a build that links but misbehaves fails too.
#include <vigil/vigil.hpp>

#include <cstdio>
#include <string>

namespace {

int failures = 0;

void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "consumer: %s\n", what);
    ++failures;
  }
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// Deterministic values in [0, 1), so the program needs no seed and behaves the same anywhere.
double unit_value(int i) { return static_cast<double>((i * 7919) % 1000) / 1000.0; }

}  // namespace

int main() {
  vigil::Schema schema;
  const auto amount = schema.add_numeric("amount");
  const auto channel = schema.add_categorical("channel");
  const auto score = schema.add_output("fraud_score");
  const char* channels[] = {"web", "app", "store"};

  vigil::Profile profile(schema);
  vigil::Observation row(schema);
  for (int i = 0; i < 1000; ++i) {
    row.clear();
    row.set(amount, 10 + 90 * unit_value(i)).set(channel, channels[i % 3]).score(score, unit_value(i + 1));
    profile.add(row);
  }

  // Three one-minute intervals of requests, then a health check as the last one closes.
  const double start = 1700000040;  // a whole minute, where an interval begins
  vigil::Monitor monitor(schema, profile);
  vigil::Observation obs(monitor.schema());
  for (int i = 0; i < 600; ++i) {
    obs.clear();
    obs.at(start + 0.3 * i).set(amount, 10 + 90 * unit_value(i + 17)).set(channel, channels[i % 3]);
    obs.score(score, unit_value(i + 5));
    monitor.observe(obs);
  }
  const vigil::Report report = monitor.report(start + 180);

  check(report.features.size() == 2, "the report does not have the schema's two features");
  check(!report.features.empty() && report.features.front().name == "amount", "the first feature is not 'amount'");
  check(report.horizon_requests == 600, "the horizon does not hold the 600 requests observed");
  check(report.status == vigil::Status::ok, "requests drawn like the training rows raised an alert");

  const std::string json = vigil::to_json(report);
  check(contains(json, "\"amount\"") && contains(json, "\"channel\""), "the JSON does not name both features");
  const std::string metrics = vigil::to_prometheus(report);
  check(contains(metrics, "vigil_feature_psi{feature=\"amount\"}"), "the metrics have no PSI of 'amount'");

  std::printf("consumer: %zu features, %llu requests in the horizon, %zu bytes of JSON, %zu of metrics\n",
              report.features.size(), static_cast<unsigned long long>(report.horizon_requests), json.size(),
              metrics.size());
  return failures == 0 ? 0 : 1;
}

// Quickstart: summarise a stream of request latencies with a t-digest, merge the digests of
// two server threads, and ship one to another process in vigil's binary format.
#include <vigil/vigil.hpp>

#include <cmath>
#include <cstdio>
#include <random>

int main() {
  std::mt19937_64 rng(7);
  std::lognormal_distribution<double> latency_ms(std::log(20.0), 0.5);

  // One digest per worker thread: add() is amortised O(1) and never locks.
  vigil::TDigest<> worker_a(100);
  vigil::TDigest<> worker_b(100);
  for (int i = 0; i < 50000; ++i) {
    worker_a.add(latency_ms(rng));
    worker_b.add(latency_ms(rng));
  }
  worker_a.add(std::nan(""));  // refused and counted, never stored

  // The thread that reports (e.g. a /metrics handler) merges them and asks for the tail.
  vigil::TDigest<> all(100);
  all.merge(worker_a);
  all.merge(worker_b);
  const double p50 = all.quantile(0.5);
  const double p99 = all.quantile(0.99);
  std::printf("requests %.0f  p50 %.2f ms  p99 %.2f ms  rejected %llu\n", all.count(), p50, p99,
              static_cast<unsigned long long>(all.rejected()));
  std::printf("share of requests at or under 50 ms: %.4f\n", all.cdf(50.0));

  // Serialize, e.g. to send to an aggregator, and read back.
  const std::vector<std::uint8_t> bytes = all.serialize();
  const vigil::TDigest<> copy = vigil::TDigest<>::deserialize(bytes);
  std::printf("serialized in %zu bytes; round trip %s\n", bytes.size(), copy == all ? "exact" : "DIFFERS");

  // Self-check against the lognormal's true quantiles: median 20 ms, p99 = 20·e^{0.5·2.326}.
  const double true_p99 = 20.0 * std::exp(0.5 * 2.3263478740408408);
  const bool ok = std::fabs(p50 - 20.0) < 0.5 && std::fabs(p99 - true_p99) < 0.02 * true_p99 &&
                  all.rejected() == 1 && copy == all;
  return ok ? 0 : 1;
}

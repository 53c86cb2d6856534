// One replica of an inference server, for tests/fleet/prometheus_test.sh: it replays its share
// of a request log (the requests whose 0-based row number is `replica` modulo `replicas`) into a
// Monitor, then serves the Monitor's report at GET /metrics in Prometheus text format on
// 127.0.0.1, as a server's metrics endpoint would, until SIGTERM, SIGINT or GET /quit. The
// report holds the histogram of every latency since the Monitor started
// (vigil_request_latency_seconds, LatencyReport::since_start).
//
//   vigil_prometheus_replica --train train.csv --traffic traffic.csv --replica 0 --replicas 3
//                            --ready DIR/replica0.port --histogram DIR/replica0.hist
//                            [--accept-log DIR/replica0.accept]
//
// Once its share is in, it writes the report's latency histogram (LogHistogram::serialize) to
// --histogram, then binds a free port and writes it to --ready (through a rename, so a reader
// never sees half of it): a test that waits for the file finds the server listening and every
// count final. --accept-log records the Accept header of each scrape, one per line.
#include <csignal>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <iostream>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <pthread.h>

#include <vigil/vigil.hpp>

// After vigil: httplib.h brings <resolv.h>, whose macro _res breaks Eigen's headers.
#include <httplib.h>

#include "../../tools/csv.hpp"

namespace {

struct Arguments {
  std::string train;
  std::string traffic;
  std::size_t replica = 0;
  std::size_t replicas = 1;
  std::string ready;
  std::string histogram;
  std::string accept_log;
};

[[noreturn]] void usage(const std::string& why) {
  std::cerr << "vigil_prometheus_replica: " << why
            << "\nusage: vigil_prometheus_replica --train CSV --traffic CSV --replica K --replicas N"
               " --ready FILE --histogram FILE [--accept-log FILE]\n";
  std::exit(2);
}

Arguments parse_arguments(int argc, char** argv) {
  Arguments a;
  for (int i = 1; i < argc; ++i) {
    const std::string_view flag = argv[i];
    if (i + 1 >= argc) usage(std::string(flag) + " needs a value");
    const std::string value = argv[++i];
    if (flag == "--train") {
      a.train = value;
    } else if (flag == "--traffic") {
      a.traffic = value;
    } else if (flag == "--replica") {
      a.replica = std::stoul(value);
    } else if (flag == "--replicas") {
      a.replicas = std::stoul(value);
    } else if (flag == "--ready") {
      a.ready = value;
    } else if (flag == "--histogram") {
      a.histogram = value;
    } else if (flag == "--accept-log") {
      a.accept_log = value;
    } else {
      usage("unknown option " + std::string(flag));
    }
  }
  if (a.train.empty() || a.traffic.empty() || a.ready.empty() || a.histogram.empty()) usage("an option is missing");
  if (a.replicas == 0 || a.replica >= a.replicas) usage("need 0 <= replica < replicas");
  return a;
}

/// What the replica watches: one input feature, the model's score and the host tag.
struct Model {
  vigil::Schema schema;
  vigil::NumericFeature f01;
  vigil::Output score;
  vigil::Tag host;
  Model() : f01(schema.add_numeric("f01")), score(schema.add_output("score")), host(schema.add_tag("host")) {}
};

/// The training reference: f01 and the score of every training row.
vigil::Profile training_profile(const Model& m, const std::string& path) {
  vigil::Profile profile(m.schema);
  auto csv = vigil::tools::CsvReader::open(path);
  const std::size_t f01 = csv.column("f01");
  const std::size_t score = csv.column("score");
  vigil::Observation row(m.schema);
  while (csv.next()) {
    row.clear();
    double x;
    if (vigil::tools::parse_number(csv.field(f01), x) == vigil::tools::CellStatus::value) row.set(m.f01, x);
    if (vigil::tools::parse_number(csv.field(score), x) == vigil::tools::CellStatus::value) row.score(m.score, x);
    profile.add(row);
  }
  return profile;
}

/// Observes this replica's share of the log. Returns the requests observed.
std::size_t replay_share(const Model& m, const Arguments& a, vigil::Monitor& monitor) {
  auto csv = vigil::tools::CsvReader::open(a.traffic);
  const std::size_t ts = csv.column("ts");
  const std::size_t f01 = csv.column("f01");
  const std::size_t score = csv.column("score");
  const std::size_t host = csv.column("host");
  const std::size_t latency_ms = csv.column("latency_ms");
  vigil::Observation obs(m.schema);
  std::size_t row = 0;
  std::size_t observed = 0;
  for (; csv.next(); ++row) {
    if (row % a.replicas != a.replica) continue;
    double t;
    if (vigil::tools::parse_time(csv.field(ts), t) != vigil::tools::CellStatus::value) continue;
    obs.clear();
    obs.at(t).tag(m.host, csv.field(host));
    double x;
    if (vigil::tools::parse_number(csv.field(f01), x) == vigil::tools::CellStatus::value) obs.set(m.f01, x);
    if (vigil::tools::parse_number(csv.field(score), x) == vigil::tools::CellStatus::value) obs.score(m.score, x);
    if (vigil::tools::parse_number(csv.field(latency_ms), x) == vigil::tools::CellStatus::value) obs.latency(x / 1000);
    monitor.observe(obs);
    ++observed;
  }
  monitor.finish();
  return observed;
}

int run(const Arguments& a) {
  const Model model;
  vigil::MonitorOptions options;
  options.evaluate_in_observe = true;  // a replay: every interval evaluated as it closes
  vigil::Monitor monitor(model.schema, training_profile(model, a.train), options);
  const std::size_t observed = replay_share(model, a, monitor);
  // finish() evaluated every interval: the histogram since start holds every latency.
  const vigil::LogHistogram latency = monitor.report().latency.since_start;
  vigil::io::write_file(a.histogram, latency.serialize());

  // SIGTERM and SIGINT go to one thread that stops the server: blocked here, before the
  // server starts its threads, so that they inherit the mask.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  httplib::Server server;
  std::mutex accept_mutex;
  std::ofstream accept_log;
  if (!a.accept_log.empty()) accept_log.open(a.accept_log, std::ios::app);
  server.Get("/metrics", [&](const httplib::Request& request, httplib::Response& response) {
    if (accept_log.is_open()) {
      const std::lock_guard<std::mutex> lock(accept_mutex);
      accept_log << request.get_header_value("Accept") << '\n' << std::flush;
    }
    response.set_content(vigil::to_prometheus(monitor.report()), std::string(vigil::prometheus_content_type));
  });
  server.Get("/quit", [&](const httplib::Request&, httplib::Response& response) {
    response.set_content("stopping\n", "text/plain");
    server.stop();
  });
  const int port = server.bind_to_any_port("127.0.0.1");
  if (port <= 0) throw std::runtime_error("cannot bind a port on 127.0.0.1");

  std::thread stopper([&server, stop_signals] {
    int signal = 0;
    sigwait(&stop_signals, &signal);
    server.stop();
  });

  vigil::io::write_file(a.ready, std::to_string(port) + "\n");
  std::cerr << "replica " << a.replica << " of " << a.replicas << ": " << observed << " requests, "
            << latency.count() << " latencies; serving http://127.0.0.1:" << port << "/metrics\n";
  server.listen_after_bind();
  // Stopped by GET /quit, the stopper still waits: wake it (a signal for a thread that has
  // stopped already stays pending, blocked, and goes with it).
  pthread_kill(stopper.native_handle(), SIGTERM);
  stopper.join();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(parse_arguments(argc, argv));
  } catch (const std::exception& e) {
    std::cerr << "vigil_prometheus_replica: " << e.what() << "\n";
    return 1;
  }
}

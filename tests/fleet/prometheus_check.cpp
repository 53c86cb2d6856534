// The client side of tests/fleet/prometheus_test.sh: asks a real Prometheus server, over its
// HTTP API, what it scraped from the replicas (tests/fleet/prometheus_replica.cpp) and
// compares it with vigil's own merge of the replicas' latency histograms.
//
//   vigil_prometheus_check free-port
//       prints a TCP port of 127.0.0.1 that was free a moment ago
//   vigil_prometheus_check ready --prometheus 127.0.0.1:PORT --timeout SECONDS
//       waits until the server answers GET /-/ready
//   vigil_prometheus_check compare --prometheus 127.0.0.1:PORT --job JOB --histograms A,B,C
//       --traffic traffic.csv --timeout SECONDS [--accept-logs A,B,C]
//       waits until every replica is up and scraped with all its requests, then checks:
//       - the replicas' histograms merged (LogHistogram::merge) hold the latencies of the
//         whole log, bucket for bucket;
//       - sum(_count) is the number of requests, exactly; sum(_sum) their total latency;
//       - sum by (le) (_bucket) is, edge by edge, the exposition of the merged histogram;
//       - histogram_quantile(q, sum by (le) (_bucket)) for q = 0.5, 0.9, 0.99, 0.999 lies
//         within one bucket of vigil's quantile of the merged histogram: between the `le`
//         edges (the native-histogram boundaries at the exported schema) of the bucket that
//         holds vigil's quantile, ends included; and it equals the linear interpolation
//         PromQL is documented to do inside that bucket, computed here from the merged
//         histogram, to 1e-12;
//       - with --accept-logs (Prometheus run with --enable-feature=native-histograms): every
//         scrape asked for the protobuf format first, and no native histogram was stored (the
//         text format cannot carry one).
//       Exits 1 on the first failed check, naming it, or when the scrapes are not in within
//       the timeout.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <httplib.h>

#include <vigil/export/prometheus.hpp>
#include <vigil/sketch/log_histogram.hpp>

#include "../../tools/csv.hpp"

namespace {

using Clock = std::chrono::steady_clock;

struct Failure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// ---------------------------------------------------------------------------------------------
// JSON, as far as the Prometheus HTTP API needs it
// ---------------------------------------------------------------------------------------------

struct Json {
  enum class Type { null, boolean, number, string, array, object } type = Type::null;
  std::string text;  // a string's value, a number's digits
  std::vector<Json> items;
  std::vector<std::pair<std::string, Json>> members;

  const Json& operator[](std::string_view key) const {
    for (const auto& [k, v] : members)
      if (k == key) return v;
    throw Failure("the API answer has no \"" + std::string(key) + "\"");
  }
};

class JsonReader {
 public:
  explicit JsonReader(std::string_view text) : s_(text) {}
  Json document() {
    Json v = value();
    blank();
    if (i_ != s_.size()) fail("text after the value");
    return v;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw Failure("bad JSON from the API (" + what + ") at byte " + std::to_string(i_));
  }
  void blank() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\n' || s_[i_] == '\r' || s_[i_] == '\t')) ++i_;
  }
  bool take(char c) {
    blank();
    if (i_ < s_.size() && s_[i_] == c) {
      ++i_;
      return true;
    }
    return false;
  }
  void need(char c) {
    if (!take(c)) fail(std::string("expected ") + c);
  }
  bool word(std::string_view w) {
    if (s_.substr(i_, w.size()) != w) return false;
    i_ += w.size();
    return true;
  }
  std::string string() {
    need('"');
    std::string out;
    while (i_ < s_.size() && s_[i_] != '"') {
      char c = s_[i_++];
      if (c == '\\') {
        if (i_ >= s_.size()) fail("cut escape");
        c = s_[i_++];
        switch (c) {
          case 'n': c = '\n'; break;
          case 't': c = '\t'; break;
          case 'r': c = '\r'; break;
          case 'b': c = '\b'; break;
          case 'f': c = '\f'; break;
          case 'u':  // the API escapes only control characters and <, >, &: ASCII
            if (i_ + 4 > s_.size()) fail("cut \\u escape");
            c = static_cast<char>(std::stoi(std::string(s_.substr(i_, 4)), nullptr, 16));
            i_ += 4;
            break;
          default: break;  // \" \\ \/
        }
      }
      out += c;
    }
    need('"');
    return out;
  }
  Json value() {
    blank();
    Json v;
    if (i_ >= s_.size()) fail("unexpected end");
    if (s_[i_] == '{') {
      ++i_;
      v.type = Json::Type::object;
      if (take('}')) return v;
      do {
        blank();
        std::string key = string();
        need(':');
        v.members.emplace_back(std::move(key), value());
      } while (take(','));
      need('}');
    } else if (s_[i_] == '[') {
      ++i_;
      v.type = Json::Type::array;
      if (take(']')) return v;
      do v.items.push_back(value());
      while (take(','));
      need(']');
    } else if (s_[i_] == '"') {
      v.type = Json::Type::string;
      v.text = string();
    } else if (word("null")) {
      v.type = Json::Type::null;
    } else if (word("true")) {
      v.type = Json::Type::boolean;
      v.text = "true";
    } else if (word("false")) {
      v.type = Json::Type::boolean;
      v.text = "false";
    } else {
      const std::size_t start = i_;
      while (i_ < s_.size() && std::string_view("+-.eE0123456789").find(s_[i_]) != std::string_view::npos) ++i_;
      if (i_ == start) fail("unexpected character");
      v.type = Json::Type::number;
      v.text = std::string(s_.substr(start, i_ - start));
    }
    return v;
  }

  std::string_view s_;
  std::size_t i_ = 0;
};

// ---------------------------------------------------------------------------------------------
// The Prometheus HTTP API
// ---------------------------------------------------------------------------------------------

/// One sample of an instant vector: its labels and its value as the API wrote it.
struct VectorSample {
  std::map<std::string, std::string> labels;
  std::string value;
  double number() const { return std::strtod(value.c_str(), nullptr); }  // "NaN", "+Inf" too
};

class Prometheus {
 public:
  explicit Prometheus(const std::string& address) : client_("http://" + address) {
    client_.set_connection_timeout(std::chrono::seconds(2));
    client_.set_read_timeout(std::chrono::seconds(10));
  }

  /// GET `path`: its status, 0 when the server does not answer.
  int status(const std::string& path) {
    const auto r = client_.Get(path);
    return r ? r->status : 0;
  }

  /// The instant vector of `promql` at the server's now (POST /api/v1/query).
  std::vector<VectorSample> query(const std::string& promql) {
    const auto r = client_.Post("/api/v1/query", httplib::Params{{"query", promql}});
    if (!r) throw Failure("no answer to the query " + promql + ": " + httplib::to_string(r.error()));
    if (r->status != 200) throw Failure("HTTP " + std::to_string(r->status) + " for " + promql + ": " + r->body);
    const Json answer = JsonReader(r->body).document();
    if (answer["status"].text != "success") throw Failure("query " + promql + " failed: " + r->body);
    const Json& data = answer["data"];
    if (data["resultType"].text != "vector") throw Failure("query " + promql + " is not an instant vector");
    std::vector<VectorSample> out;
    for (const Json& item : data["result"].items) {
      VectorSample s;
      for (const auto& [name, value] : item["metric"].members) s.labels[name] = value.text;
      const Json& pair = item["value"];
      if (pair.items.size() != 2) throw Failure("a sample of " + promql + " is not [time, value]");
      s.value = pair.items[1].text;
      out.push_back(std::move(s));
    }
    return out;
  }

  /// The value of a query that gives one sample without labels; NaN when it gives none.
  double scalar(const std::string& promql) {
    const auto v = query(promql);
    if (v.empty()) return std::nan("");
    if (v.size() != 1) throw Failure(promql + " gives " + std::to_string(v.size()) + " samples, not one");
    return v[0].number();
  }

 private:
  httplib::Client client_;
};

// ---------------------------------------------------------------------------------------------
// Checks
// ---------------------------------------------------------------------------------------------

void require(bool ok, const std::string& what) {
  if (!ok) throw Failure(what);
}

std::string fixed(double x, int digits) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.*f", digits, x);
  return buffer;
}

std::vector<std::string> split(const std::string& list) {
  std::vector<std::string> out;
  std::stringstream in(list);
  std::string item;
  while (std::getline(in, item, ',')) out.push_back(item);
  return out;
}

std::vector<std::uint8_t> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Failure("cannot read " + path);
  return std::vector<std::uint8_t>(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

/// The latencies of the whole log in seconds, as the replicas read them.
std::vector<double> log_latencies(const std::string& traffic) {
  auto csv = vigil::tools::CsvReader::open(traffic);
  const std::size_t ts = csv.column("ts");
  const std::size_t latency_ms = csv.column("latency_ms");
  std::vector<double> out;
  while (csv.next()) {
    double t;
    double ms;
    if (vigil::tools::parse_time(csv.field(ts), t) != vigil::tools::CellStatus::value) continue;
    if (vigil::tools::parse_number(csv.field(latency_ms), ms) == vigil::tools::CellStatus::value) out.push_back(ms / 1000);
  }
  return out;
}

/// The `le` edges and cumulative counts of append_prometheus_histogram(h), read back from its
/// text: what each replica's buckets, summed, must come to.
std::vector<std::pair<std::string, std::uint64_t>> exported_buckets(const vigil::LogHistogram& h,
                                                                    const vigil::PrometheusHistogramOptions& options) {
  std::string text;
  vigil::append_prometheus_histogram(text, h, options);
  std::vector<std::pair<std::string, std::uint64_t>> out;
  const std::string start = options.name + "_bucket{le=\"";
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(start, 0) != 0) continue;
    const std::size_t quote = line.find('"', start.size());
    out.emplace_back(line.substr(start.size(), quote - start.size()), std::stoull(line.substr(line.rfind(' ') + 1)));
  }
  return out;
}

/// What PromQL's histogram_quantile computes from cumulative buckets (Prometheus 2.42,
/// promql/quantile.go): the bucket where the count reaches q·n, and within it linear
/// interpolation between its lower and upper edge (0 below the first).
double interpolated_quantile(double q, const std::vector<std::pair<std::string, std::uint64_t>>& buckets) {
  const double n = static_cast<double>(buckets.back().second);
  double rank = q * n;
  std::size_t b = 0;
  while (b + 1 < buckets.size() && static_cast<double>(buckets[b].second) < rank) ++b;
  if (b + 1 == buckets.size()) return std::stod(buckets[b - 1].first);
  double start = 0;
  double count = static_cast<double>(buckets[b].second);
  if (b > 0) {
    start = std::stod(buckets[b - 1].first);
    count -= static_cast<double>(buckets[b - 1].second);
    rank -= static_cast<double>(buckets[b - 1].second);
  }
  const double end = std::stod(buckets[b].first);
  return start + (end - start) * (rank / count);
}

struct CompareOptions {
  std::string prometheus;
  std::string job = "vigil";
  std::vector<std::string> histograms;
  std::string traffic;
  std::vector<std::string> accept_logs;
  double timeout = 30;
};

/// The merged histogram of the replicas, checked against one fed the whole log.
vigil::LogHistogram merged_histogram(const CompareOptions& o) {
  vigil::LogHistogram merged(4);
  for (const std::string& path : o.histograms) merged.merge(vigil::LogHistogram::deserialize(read_bytes(path)));
  const std::vector<double> all = log_latencies(o.traffic);
  vigil::LogHistogram whole(4);
  for (double x : all) whole.record(x);
  require(merged.count() == all.size(), "the replicas' histograms hold " + std::to_string(merged.count()) +
                                             " latencies, the log " + std::to_string(all.size()));
  require(merged.buckets().size() == whole.buckets().size(), "the merged histogram has other buckets than the log's");
  for (std::size_t i = 0; i < whole.buckets().size(); ++i) {
    const auto a = merged.buckets()[i];
    const auto b = whole.buckets()[i];
    require(a.index == b.index && a.count == b.count, "bucket " + std::to_string(b.index) + " of the merged histogram differs");
  }
  require(merged.min() == whole.min() && merged.max() == whole.max(), "min or max of the merged histogram differs");
  std::cout << "merged histogram of " << o.histograms.size() << " replicas = histogram of the whole log: "
            << merged.count() << " latencies, " << merged.buckets().size() << " buckets at scale " << merged.scale()
            << "\n";
  return merged;
}

/// Waits until every replica is up and Prometheus holds all `expected` latencies.
void wait_for_scrapes(Prometheus& prometheus, const CompareOptions& o, std::uint64_t expected, const std::string& name) {
  const auto deadline = Clock::now() + std::chrono::duration<double>(o.timeout);
  const std::string up = "count(up{job=\"" + o.job + "\"} == 1)";
  const std::string count = "sum(" + name + "_count{job=\"" + o.job + "\"})";
  double targets_up = 0;
  double counted = 0;
  for (;;) {
    targets_up = prometheus.scalar(up);
    counted = prometheus.scalar(count);
    if (targets_up == static_cast<double>(o.histograms.size()) && counted == static_cast<double>(expected)) break;
    if (Clock::now() > deadline)
      throw Failure("after " + fixed(o.timeout, 0) + " s: " + up + " = " + fixed(targets_up, 0) + ", " + count + " = " +
                    fixed(counted, 0) + " (expected " + std::to_string(o.histograms.size()) + " and " +
                    std::to_string(expected) + ")");
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  std::cout << up << " = " << targets_up << "\n" << count << " = " << fixed(counted, 0) << " (requests in the log: " << expected
            << ")\n";
}

void compare_buckets(Prometheus& prometheus, const std::string& selector,
                     const std::vector<std::pair<std::string, std::uint64_t>>& expected) {
  const auto summed = prometheus.query("sum by (le) (" + selector + ")");
  std::map<std::string, std::string> by_le;
  for (const VectorSample& s : summed) by_le[s.labels.at("le")] = s.value;
  require(by_le.size() == expected.size(), "sum by (le) gives " + std::to_string(by_le.size()) + " edges, the exposition " +
                                               std::to_string(expected.size()));
  for (const auto& [le, count] : expected) {
    const auto found = by_le.find(le);
    require(found != by_le.end(), "sum by (le) has no le=\"" + le + "\"");
    require(found->second == std::to_string(count),
            "sum by (le) at le=\"" + le + "\" is " + found->second + ", the merged histogram's " + std::to_string(count));
  }
  std::cout << "sum by (le) (" << selector << "): " << expected.size() << " edges, each equal to the merged histogram's\n";
}

void compare_quantiles(Prometheus& prometheus, const std::string& selector, const vigil::LogHistogram& merged,
                       const std::vector<std::pair<std::string, std::uint64_t>>& buckets,
                       const std::vector<double>& sorted, int schema) {
  const vigil::LogHistogram grid(schema);
  std::cout << "q      exact (log)     vigil merged    PromQL          bucket of vigil's quantile (le edges)      "
               "PromQL - interpolation\n";
  for (double q : {0.5, 0.9, 0.99, 0.999}) {
    const std::string promql = "histogram_quantile(" + fixed(q, 3) + ", sum by (le) (" + selector + "))";
    const double from_prometheus = prometheus.scalar(promql);
    const double from_vigil = merged.quantile(q);
    const auto rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(sorted.size())));
    const double exact = sorted[std::max<std::size_t>(rank, 1) - 1];
    const std::int64_t k = grid.bucket_index(from_vigil);
    const double lower = grid.bucket_lower(k);
    const double upper = grid.bucket_upper(k);
    const double interpolated = interpolated_quantile(q, buckets);
    std::cout << fixed(q, 3) << "  " << fixed(exact * 1000, 4) << " ms  " << fixed(from_vigil * 1000, 4) << " ms  "
              << fixed(from_prometheus * 1000, 4) << " ms  (" << fixed(lower * 1000, 4) << ", " << fixed(upper * 1000, 4)
              << "] ms, +" << fixed(100 * (upper / lower - 1), 1) << " %   " << (from_prometheus - interpolated) << "\n";
    require(lower <= from_prometheus && from_prometheus <= upper,
            promql + " = " + std::to_string(from_prometheus) + " lies outside the bucket (" + std::to_string(lower) + ", " +
                std::to_string(upper) + "] of vigil's quantile " + std::to_string(from_vigil));
    require(std::abs(from_prometheus - interpolated) <= 1e-12 * interpolated,
            promql + " = " + std::to_string(from_prometheus) + ", the interpolation in the merged buckets " +
                std::to_string(interpolated));
  }
}

/// Prometheus 2.42 with --enable-feature=native-histograms: each scrape asks for protobuf
/// first; the text it gets carries no native histogram, so none is stored.
void check_native_histograms(Prometheus& prometheus, const CompareOptions& o, const std::string& name) {
  const std::string protobuf = "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily";
  std::size_t scrapes = 0;
  std::string example;
  for (const std::string& path : o.accept_logs) {
    std::ifstream in(path);
    std::string line;
    std::size_t here = 0;
    while (std::getline(in, line)) {
      require(line.rfind(protobuf, 0) == 0, path + ": a scrape did not ask for protobuf first: Accept: " + line);
      example = line;
      ++here;
    }
    require(here > 0, path + ": no scrape recorded");
    scrapes += here;
  }
  require(prometheus.query(name + "{job=\"" + o.job + "\"}").empty(),
          "a native histogram " + name + " was stored from the text format");
  require(!prometheus.query(name + "_bucket{job=\"" + o.job + "\"}").empty(), "no classic buckets were stored");
  std::cout << "native histograms enabled: " << scrapes << " scrapes, each with Accept: " << example
            << "\n  the replicas answered text format 0.0.4; stored: classic " << name << "_bucket series, no native "
            << name << "\n";
}

int compare(const CompareOptions& o) {
  const vigil::PrometheusHistogramOptions exported;  // what the replicas write
  const vigil::LogHistogram merged = merged_histogram(o);
  std::vector<double> sorted = log_latencies(o.traffic);
  std::sort(sorted.begin(), sorted.end());
  Prometheus prometheus(o.prometheus);
  const auto started = Clock::now();
  wait_for_scrapes(prometheus, o, merged.count(), exported.name);
  std::cout << "all replicas scraped " << fixed(std::chrono::duration<double>(Clock::now() - started).count(), 1)
            << " s after the first query\n";
  const std::string selector = exported.name + "_bucket{job=\"" + o.job + "\"}";
  const auto buckets = exported_buckets(merged, exported);
  compare_buckets(prometheus, selector, buckets);
  const double sum = prometheus.scalar("sum(" + exported.name + "_sum{job=\"" + o.job + "\"})");
  require(std::abs(sum - merged.sum()) <= 1e-9 * merged.sum(),
          "sum(_sum) = " + std::to_string(sum) + ", the merged histogram's " + std::to_string(merged.sum()));
  std::cout << "sum(" << exported.name << "_sum) = " << fixed(sum, 6) << " s (merged: " << fixed(merged.sum(), 6) << " s)\n";
  compare_quantiles(prometheus, selector, merged, buckets, sorted, exported.schema);
  if (!o.accept_logs.empty()) check_native_histograms(prometheus, o, exported.name);
  return 0;
}

/// A port of 127.0.0.1 nobody listened on when asked (the kernel's choice for port 0).
int free_port() {
  const int s = ::socket(AF_INET, SOCK_STREAM, 0);
  require(s >= 0, "socket() failed");
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  socklen_t size = sizeof address;
  const bool ok = ::bind(s, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 &&
                  ::getsockname(s, reinterpret_cast<sockaddr*>(&address), &size) == 0;
  ::close(s);
  require(ok, "cannot bind a port of 127.0.0.1");
  std::cout << ntohs(address.sin_port) << "\n";
  return 0;
}

int ready(const std::string& address, double timeout) {
  Prometheus prometheus(address);
  const auto deadline = Clock::now() + std::chrono::duration<double>(timeout);
  while (prometheus.status("/-/ready") != 200) {
    if (Clock::now() > deadline) throw Failure(address + " is not ready after " + fixed(timeout, 0) + " s");
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return 0;
}

[[noreturn]] void usage(const std::string& why) {
  std::cerr << "vigil_prometheus_check: " << why
            << "\nusage: vigil_prometheus_check free-port\n"
               "       vigil_prometheus_check ready --prometheus HOST:PORT --timeout S\n"
               "       vigil_prometheus_check compare --prometheus HOST:PORT --job JOB --histograms A,B,...\n"
               "                              --traffic CSV --timeout S [--accept-logs A,B,...]\n";
  std::exit(2);
}

int run(int argc, char** argv) {
  if (argc < 2) usage("no command");
  const std::string_view command = argv[1];
  if (command == "free-port") return free_port();
  CompareOptions o;
  for (int i = 2; i < argc; ++i) {
    const std::string_view flag = argv[i];
    if (i + 1 >= argc) usage(std::string(flag) + " needs a value");
    const std::string value = argv[++i];
    if (flag == "--prometheus") {
      o.prometheus = value;
    } else if (flag == "--job") {
      o.job = value;
    } else if (flag == "--histograms") {
      o.histograms = split(value);
    } else if (flag == "--traffic") {
      o.traffic = value;
    } else if (flag == "--accept-logs") {
      o.accept_logs = split(value);
    } else if (flag == "--timeout") {
      o.timeout = std::stod(value);
    } else {
      usage("unknown option " + std::string(flag));
    }
  }
  if (o.prometheus.empty()) usage("--prometheus is missing");
  if (command == "ready") return ready(o.prometheus, o.timeout);
  if (command != "compare") usage("unknown command " + std::string(command));
  if (o.histograms.empty() || o.traffic.empty()) usage("compare needs --histograms and --traffic");
  return compare(o);
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const Failure& e) {
    std::cerr << "FAILED: " << e.what() << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "vigil_prometheus_check: " << e.what() << "\n";
    return 1;
  }
}

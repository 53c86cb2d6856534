// vigil — in-process monitoring of machine-learning models in C++ inference servers.
// SPDX-License-Identifier: Apache-2.0
//
// Writes the data of the PostgreSQL fleet test (tests/fleet/postgres_test.sh, docs/fleet.md):
// the values two model outputs took on 8 replicas over an hour of 4 fifteen-minute intervals,
// the TDigest (δ = 100) of each output, replica and interval as to_postgres() text, and
// vigil's own merges of those same digests.
//
//   vigil_postgres_digests DIR [--seed S] [--intervals I] [--values N]
//
//   DIR/values.csv   output,replica,interval_start,value     every value (for the exact
//                    quantiles and the extension's own digests)
//   DIR/digests.csv  output,replica,interval_start,digest    to_postgres() text
//   DIR/vigil.csv    output,interval_start,q,value           vigil's merge over the replicas of
//                    each interval, and over all intervals (interval_start empty)
//
// The values are lognormal, a model output's usual right tail (a price, a waiting time), with
// a location that drifts from one interval to the next. They come from splitmix64 streams
// (Steele, Lea & Flood 2014) through Box-Muller (1958) from a fixed seed, so every machine
// writes the same files; other seeds (--seed) measure the spread, and --intervals (1 to 48)
// and --values (per replica and interval, 1 to 10^6; 12,500 by default) other layouts. Each
// digest is read back with from_postgres() and must hold the same centroids as the digest
// written: what PostgreSQL stores is what vigil merges.
#include <vigil/sketch/tdigest.hpp>

#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <stdexcept>
#include <string>
#include <utility>

namespace {

constexpr int replicas = 8;
constexpr double compression = 100;

struct Layout {
  std::uint64_t seed = 20260302;
  int intervals = 4;
  int values_per_digest = 12500;
};
constexpr double quantiles[] = {0.5, 0.9, 0.99, 0.999};

struct Output {
  const char* name;
  double log_location;  // of the first interval
  double log_drift;     // added per interval
  double log_scale;
};
constexpr Output outputs[] = {{"price", 3.0, 0.05, 1.0}, {"wait_minutes", 1.0, 0.02, 0.5}};

class Source {
 public:
  explicit Source(std::uint64_t seed) : state_(seed) {}
  double normal() {
    const double u = 1 - uniform();  // (0, 1]: its log is finite
    const double v = uniform();
    return std::sqrt(-2 * std::log(u)) * std::cos(2 * 3.14159265358979323846 * v);
  }

 private:
  std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  std::uint64_t state_;
};

std::string interval_start(int interval) {
  char text[32];
  std::snprintf(text, sizeof text, "2026-03-02T%02d:%02d:00Z", 10 + interval / 4, 15 * (interval % 4));
  return text;
}

std::string number(double x) {
  char text[32];
  std::snprintf(text, sizeof text, "%.17g", x);
  return text;
}

class CsvFile {
 public:
  explicit CsvFile(std::string path) : path_(std::move(path)), out_(path_) {
    if (!out_) throw std::runtime_error("cannot write " + path_);
  }
  void line(const std::string& text) {
    out_ << text << '\n';
    if (!out_) throw std::runtime_error("cannot write " + path_);
  }
  void close() {
    out_.close();
    if (!out_) throw std::runtime_error("cannot write " + path_);
  }

 private:
  std::string path_;
  std::ofstream out_;
};

// The digest stored for one output, replica and interval, as PostgreSQL will read it, after
// checking that vigil reads the same digest back from that text.
vigil::TDigest<> stored(const vigil::TDigest<>& digest, std::string& text) {
  text = digest.to_postgres();
  vigil::TDigest<> back = vigil::TDigest<>::from_postgres(text);
  if (back.count() != digest.count() || back.centroids().size() != digest.centroids().size())
    throw std::runtime_error("from_postgres(to_postgres()) changed the digest: " + text);
  for (std::size_t i = 0; i < digest.centroids().size(); ++i) {
    if (!(back.centroids()[i] == digest.centroids()[i]))
      throw std::runtime_error("from_postgres(to_postgres()) changed centroid " + std::to_string(i) + ": " + text);
  }
  return back;
}

void write_merge(CsvFile& file, const Output& output, const std::string& start, const vigil::TDigest<>& merged) {
  for (double q : quantiles)
    file.line(std::string(output.name) + "," + start + "," + std::to_string(q) + "," + number(merged.quantile(q)));
}

// One output: its values, its digests, and vigil's merges per interval and over all of them.
void write_output(const Output& output, const Layout& layout, std::uint64_t seed, CsvFile& values, CsvFile& digests,
                  CsvFile& merges) {
  vigil::TDigest<> all_intervals(compression);
  for (int interval = 0; interval < layout.intervals; ++interval) {
    const std::string start = interval_start(interval);
    vigil::TDigest<> over_replicas(compression);
    for (int replica = 0; replica < replicas; ++replica) {
      Source source(seed + static_cast<std::uint64_t>(1000 * interval + replica));
      const std::string key = std::string(output.name) + ",replica-" + std::to_string(replica) + "," + start;
      vigil::TDigest<> digest(compression);
      const double log_location = output.log_location + output.log_drift * interval;
      for (int i = 0; i < layout.values_per_digest; ++i) {
        const double x = std::exp(log_location + output.log_scale * source.normal());
        digest.add(x);
        values.line(key + "," + number(x));
      }
      digest.flush();  // centroids() then holds every value
      std::string text;
      const vigil::TDigest<> read_back = stored(digest, text);
      digests.line(key + ",\"" + text + "\"");
      over_replicas.merge(read_back);
      all_intervals.merge(read_back);
    }
    write_merge(merges, output, start, over_replicas);
  }
  write_merge(merges, output, "", all_intervals);
}

// Reads `--name value` into `out` when it is a whole number in [low, high].
bool read_option(const char* text, unsigned long long low, unsigned long long high, unsigned long long& out) {
  char* end = nullptr;
  errno = 0;
  out = std::strtoull(text, &end, 10);
  return end != text && *end == '\0' && errno == 0 && text[0] != '-' && out >= low && out <= high;
}

bool parse(int argc, char** argv, std::string& dir, Layout& layout) {
  if (argc < 2 || argc % 2 != 0) return false;
  dir = argv[1];
  for (int i = 2; i < argc; i += 2) {
    const std::string name = argv[i];
    unsigned long long v = 0;
    if (name == "--seed" && read_option(argv[i + 1], 0, ~0ULL, v)) {
      layout.seed = v;
    } else if (name == "--intervals" && read_option(argv[i + 1], 1, 48, v)) {
      layout.intervals = static_cast<int>(v);
    } else if (name == "--values" && read_option(argv[i + 1], 1, 1000000, v)) {
      layout.values_per_digest = static_cast<int>(v);
    } else {
      return false;
    }
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir;
  Layout layout;
  if (!parse(argc, argv, dir, layout)) {
    std::fprintf(stderr,
                 "usage: vigil_postgres_digests DIR [--seed S] [--intervals 1..48] [--values 1..1000000]\n");
    return 2;
  }
  try {
    CsvFile values(dir + "/values.csv");
    CsvFile digests(dir + "/digests.csv");
    CsvFile merges(dir + "/vigil.csv");
    std::uint64_t seed = layout.seed;
    for (const Output& output : outputs) {
      write_output(output, layout, seed, values, digests, merges);
      seed += 1000000;
    }
    values.close();
    digests.close();
    merges.close();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "vigil_postgres_digests: %s\n", e.what());
    return 1;
  }
  return 0;
}

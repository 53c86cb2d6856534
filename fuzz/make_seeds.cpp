// vigil — in-process monitoring of machine-learning models in C++ inference servers.
// SPDX-License-Identifier: Apache-2.0
//
// Writes the seed corpora of the fuzz targets: for each target, a few small valid objects
// (the frozen fixtures' objects from tests/io/fixtures/fixture_inputs.hpp, and smaller ones)
// and edge cases (empty objects, single values, the extremes of the double range); for the
// monitor snapshot, snapshots of a small monitor after a few minutes of traffic.
//
//   fuzz_seeds DIR            writes DIR/<target>/<seed> for every seed
//   fuzz_seeds --compare DIR  writes nothing; exits with 1 when a seed differs or is missing
//
// Seeds are inputs, not fixtures: regenerating them after a format change is expected.
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <string>
#include <vector>

#include <vigil/monitor/monitor.hpp>
#include <vigil/sketch/time_windows.hpp>

#include "io/fixtures/fixture_inputs.hpp"
#include "snapshot_monitor.hpp"

namespace {

namespace fx = vigil_fixtures;
using Bytes = std::vector<std::uint8_t>;

struct Seed {
  std::string target;
  std::string name;
  Bytes bytes;
};

constexpr double largest = std::numeric_limits<double>::max();

Bytes text(const std::string& s) { return Bytes(s.begin(), s.end()); }

template <class Real>
Bytes digest_of(std::initializer_list<double> values, double compression = 100) {
  vigil::TDigest<Real> d(compression);
  for (double x : values) d.add(static_cast<Real>(x));
  return d.serialize();
}

void add_digests(std::vector<Seed>& out) {
  out.push_back({"tdigest_double", "fixture_unit", fx::build_digest<double>(fx::double_unit_spec).serialize()});
  out.push_back({"tdigest_double", "fixture_weighted", fx::build_digest<double>(fx::double_weighted_spec).serialize()});
  out.push_back({"tdigest_double", "empty", fx::build_empty_digest().serialize()});
  out.push_back({"tdigest_double", "one_value", digest_of<double>({3.5})});
  out.push_back({"tdigest_double", "extremes", digest_of<double>({-largest, -1e-300, 0, 1e160, largest}, 10)});
  vigil::TDigest<> weighted(20);
  for (int i = 0; i < 50; ++i) weighted.add(i * 0.5, 0.25 + (i % 3));
  out.push_back({"tdigest_double", "fractional_weights", weighted.serialize()});
  out.push_back({"tdigest_float", "fixture_unit", fx::build_digest<float>(fx::float_unit_spec).serialize()});
  out.push_back({"tdigest_float", "fixture_weighted", fx::build_digest<float>(fx::float_weighted_spec).serialize()});
  out.push_back({"tdigest_float", "empty", vigil::TDigest<float>().serialize()});
  out.push_back({"tdigest_float", "one_value", digest_of<float>({-2.25})});
  out.push_back({"tdigest_float", "extremes", digest_of<float>({-3e38, 1e-40, 0, 3e38}, 10)});
}

void add_postgres(std::vector<Seed>& out) {
  vigil::TDigest<> small(10);
  for (int i = 1; i <= 40; ++i) small.add(i * i * 0.125);
  out.push_back({"tdigest_postgres", "means", text(small.to_postgres())});
  vigil::TDigest<> one(100);
  one.add(-7);
  out.push_back({"tdigest_postgres", "one_value", text(one.to_postgres())});
  out.push_back({"tdigest_postgres", "sums", text("flags 0 count 6 compression 100 centroids 3 (3.0, 2) (12.5, 3) (-4, 1)")});
  out.push_back({"tdigest_postgres", "large_counts",
                 text("flags 1 count 4611686018427387904 compression 10 centroids 2 (1e300, 2305843009213693952) "
                      "(-1e300, 2305843009213693952)")});
}

void add_histograms(std::vector<Seed>& out) {
  out.push_back({"log_histogram", "fixture", fx::build_histogram().serialize()});
  out.push_back({"log_histogram", "empty", vigil::LogHistogram().serialize()});
  vigil::LogHistogram edges(8);
  for (double x : {0.0, 1e-300, 4.9e-324, 1.0, 1e300, largest, -1.0}) edges.record(x, 2);
  out.push_back({"log_histogram", "extremes", edges.serialize()});
  out.push_back({"log_histogram", "from_concurrent", fx::build_concurrent_histogram().serialize()});
  out.push_back({"concurrent_log_histogram", "fixture", fx::build_concurrent_histogram().serialize()});
  out.push_back({"concurrent_log_histogram", "empty", vigil::ConcurrentLogHistogram(fx::concurrent_histogram_options()).serialize()});
  vigil::ConcurrentLogHistogram wide;
  for (double x : {0.0, 1e-9, 0.5, 2.0, 1e9, largest}) wide.record(x, 3);
  out.push_back({"concurrent_log_histogram", "extremes", wide.serialize()});
}

void add_rolling(std::vector<Seed>& out) {
  out.push_back({"running_stats", "fixture", fx::build_running_stats().serialize()});
  out.push_back({"running_stats", "empty", fx::build_empty_running_stats().serialize()});
  vigil::RunningStats one;
  one.add(-12.5, 3);
  out.push_back({"running_stats", "one_value", one.serialize()});
  vigil::RunningStats big;
  big.add(1e150);
  big.add(-1e150);
  out.push_back({"running_stats", "large", big.serialize()});
  out.push_back({"ewma", "fixture", fx::build_ewma().serialize()});
  out.push_back({"ewma", "empty", vigil::Ewma(1).serialize()});
  vigil::Ewma one_event(1e6);
  one_event.add(4, 1.7e9);
  out.push_back({"ewma", "one_event", one_event.serialize()});
  out.push_back({"event_rate", "fixture", fx::build_event_rate().serialize()});
  out.push_back({"event_rate", "unstarted", fx::build_unstarted_event_rate().serialize()});
  vigil::EventRate started(0.5);
  started.start(-100);
  started.add(-99.5, 7);
  out.push_back({"event_rate", "short_half_life", started.serialize()});
}

void add_categories(std::vector<Seed>& out) {
  out.push_back({"category_counts", "fixture_exact", fx::build_exact_categories().serialize()});
  out.push_back({"category_counts", "fixture_heavy_hitters", fx::build_heavy_categories().serialize()});
  out.push_back({"category_counts", "empty", vigil::CategoryCounts(1).serialize()});
  vigil::CategoryCounts missing(2);
  missing.add_missing(5);
  missing.add(std::string("\0\xff", 2), 1);
  out.push_back({"category_counts", "missing_and_binary", missing.serialize()});
}

void add_windows(std::vector<Seed>& out) {
  out.push_back({"time_windows_tdigest", "fixture", fx::build_windows().serialize()});
  vigil::TimeWindowsOptions small;
  small.fine_width = 10;
  small.fine_count = 2;
  small.coarse_width = 20;
  small.coarse_count = 1;
  small.lateness = 5;
  out.push_back({"time_windows_tdigest", "empty", vigil::TimeWindows<vigil::TDigest<>>(vigil::TDigest<>(10), small).serialize()});
  vigil::TimeWindows<vigil::TDigest<>> negative(vigil::TDigest<>(10), small);
  negative.add(-95, 1.0);
  negative.add(-71, 2.0);
  out.push_back({"time_windows_tdigest", "negative_time", negative.serialize()});
  vigil::TimeWindows<vigil::LogHistogram> latencies(vigil::LogHistogram(3), fx::window_options());
  for (const fx::Timed& t : fx::window_events())
    if (vigil::LogHistogram* h = latencies.at(t.time)) h->record(t.value);
  out.push_back({"time_windows_log_histogram", "window_events", latencies.serialize()});
  out.push_back({"time_windows_log_histogram", "empty",
                 vigil::TimeWindows<vigil::LogHistogram>(vigil::LogHistogram(0), small).serialize()});
  vigil::TimeWindows<vigil::LogHistogram> one(vigil::LogHistogram(2), small);
  one.at(1.7e9)->record(0.25, 4);
  out.push_back({"time_windows_log_histogram", "one_interval", one.serialize()});
}

void add_monitor(std::vector<Seed>& out) {
  out.push_back({"interval_summary", "fixture", fx::build_summary().serialize()});
  out.push_back({"interval_summary", "fixture_non_finite", fx::build_non_finite_summary().serialize()});
  out.push_back({"interval_summary", "empty", vigil::detail::IntervalSummary(fx::summary_plan()).serialize()});
  vigil::detail::IntervalSummary impressions = fx::build_summary();
  auto& per_arm = impressions.state<vigil::detail::ConversionFamily>().impressions;
  for (std::size_t a = 0; a < per_arm.size(); ++a) per_arm[a] = a + 1;  // 55 of the 120 requests
  out.push_back({"interval_summary", "conversions", impressions.serialize()});
  out.push_back({"interval_summary_canary", "fixture", fx::build_canary_summary().serialize()});
  out.push_back({"interval_summary_canary", "empty", vigil::detail::IntervalSummary(fx::canary_summary_plan()).serialize()});
  out.push_back({"profile", "fixture", fx::build_profile().serialize()});
  out.push_back({"profile", "attributed", fx::build_attributed_profile().serialize()});
  out.push_back({"profile", "labelled", fx::build_labelled_profile().serialize()});
  out.push_back({"profile", "empty", vigil::Profile(fx::profile_schema(), 4).serialize()});
  vigil::Schema one_column;
  one_column.add_numeric("x");
  vigil::Profile tiny(one_column, 4);
  vigil::Observation row(one_column);
  row.set(vigil::NumericFeature{0}, 1e160);
  tiny.add(row);
  out.push_back({"profile", "one_row", tiny.serialize()});
}

// The target's monitor (snapshot_monitor.hpp), with options that judge rather than shape set
// for the seeds.
vigil::MonitorOptions snapshot_options() {
  vigil::MonitorOptions o = vigil_fuzz::snapshot_options();
  // Options that judge rather than shape (a restore may change them): the stream's own clock,
  // so that no seed depends on the day it was written, and alerts from a few requests.
  o.event_clock = vigil::EventClock::stream;
  o.alerts.min_requests = 3;
  o.alerts.min_labels = 2;
  o.alerts.persistence = 1;
  return o;
}

constexpr double snapshot_start = 1767225600;  // 2026-01-01T00:00:00Z

// Minutes [from, to) of traffic, 3 requests a minute, each with an arrival, an id, an arm, a
// latency and, when the schema has a second tag (a cohort), a value of it; x moves by 10 from
// minute 5. Every second request is labelled two minutes later (with loss attributions),
// every third converts after one. The monitor reports at the end of each minute but the last,
// whose interval is left open.
void feed_snapshot_monitor(vigil::Monitor& m, int from, int to) {
  static const char* const channels[3] = {"web", "app", "store"};
  const vigil::Schema& s = m.schema();
  vigil::Observation o(s);
  for (int minute = from; minute < to; ++minute) {
    for (int r = 0; r < 3; ++r) {
      const int i = minute * 3 + r;
      const double t = snapshot_start + 60 * minute + 20 * r;
      o.clear();
      o.set(vigil::NumericFeature{0}, (i % 8) * 0.5 - 2 + (minute >= 5 ? 10 : 0));
      o.set(vigil::NumericFeature{1}, 1 + (i % 5));
      o.set(vigil::CategoricalFeature{0}, channels[i % 3]).score(vigil::Output{0}, (i % 10) / 10.0);
      o.tag(vigil::Tag{0}, i % 3 == 0 ? "a" : "b");
      if (s.tag_count() > 1) o.tag(vigil::Tag{1}, i % 2 == 0 ? "eu" : "us");
      o.latency(0.01 + 0.001 * (i % 7)).id("r" + std::to_string(i)).at(t);
      m.on_arrival(t);
      m.observe(o);
      const int labelled = i - 6;  // two minutes before
      if (labelled >= from * 3 && labelled % 2 == 0)
        m.on_label("r" + std::to_string(labelled), labelled % 4 == 0 ? 1.0 : 0.0, t,
                   std::vector<double>{0.1, -0.05, 0.02});
      const int converted = i - 3;  // one minute before
      if (converted >= from * 3 && converted % 3 == 0) m.on_conversion("r" + std::to_string(converted), t);
    }
    if (minute + 1 < to) m.report(snapshot_start + 60 * (minute + 1));
  }
}

void add_monitor_snapshots(std::vector<Seed>& out) {
  const vigil::Schema schema = vigil_fuzz::snapshot_schema();
  const vigil::Profile profile = vigil_fuzz::snapshot_profile(schema);
  vigil::Monitor empty(schema, profile, snapshot_options());
  out.push_back({"monitor_snapshot", "empty", empty.snapshot()});
  // Eight minutes: fine intervals rolled up into coarse ones, labels, conversions, alerts.
  vigil::Monitor minutes(schema, profile, snapshot_options());
  feed_snapshot_monitor(minutes, 0, 8);
  out.push_back({"monitor_snapshot", "eight_minutes", minutes.snapshot()});
  // Two minutes, then a request two days ahead: held as evidence of a clock change, with an
  // interval still open.
  vigil::Monitor held(schema, profile, snapshot_options());
  feed_snapshot_monitor(held, 0, 2);
  vigil::Observation ahead(schema);
  ahead.set(vigil::NumericFeature{0}, 1).score(vigil::Output{0}, 0.9).id("ahead").at(snapshot_start + 2 * 86400);
  held.observe(ahead);
  out.push_back({"monitor_snapshot", "held_event", held.snapshot()});
  // A cohort tag of one value and "other" (a slot of retained windows each): restores on its
  // own only.
  vigil::Schema regions = schema;
  vigil::TagOptions cohort;
  cohort.cohort = true;
  cohort.max_values = 1;
  regions.add_tag("region", cohort);
  vigil::Monitor by_region(regions, vigil_fuzz::snapshot_profile(regions), snapshot_options());
  feed_snapshot_monitor(by_region, 0, 2);
  out.push_back({"monitor_snapshot", "cohort", by_region.snapshot()});
}

void add_csv(std::vector<Seed>& out) {
  // The first byte selects the options (csv_reader.cpp): 0 = ',' skipping ragged rows,
  // 0x05 = ';' keeping them, 0x48 = ',' with 7-byte chunks and ragged rows an error.
  out.push_back({"csv_reader", "times_and_numbers",
                 text(std::string(1, '\0') + "ts,x,country\n2026-11-02T08:00:00Z,1.5,FR\n1793606400.353,-2e10,\"D,E\"\n"
                                             "1793606400353,nan,\n2026-11-02 08:00,,\"a\"\"b\"\n")});
  out.push_back({"csv_reader", "crlf_bom_quotes",
                 text(std::string("\x05\xef\xbb\xbf") + "a;b\r\n\"x\ny\";2026-02-29T23:59:59.999+05:30\r\n\"q\"z;1e308\r\n;\r\n1;2;3\r\n")});
  out.push_back({"csv_reader", "small_chunks",
                 text(std::string(1, '\x48') + "time,value\n2026-11-02t08:00:00,0.25\n0000-01-01,4.9e-324\n9999-12-31T23:59:59.9999,1\n")});
}

std::vector<Seed> seeds() {
  std::vector<Seed> out;
  add_digests(out);
  add_postgres(out);
  add_histograms(out);
  add_rolling(out);
  add_categories(out);
  add_windows(out);
  add_monitor(out);
  add_monitor_snapshots(out);
  add_csv(out);
  return out;
}

bool read_file(const std::filesystem::path& path, Bytes& bytes) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  return true;
}

bool write_file(const std::filesystem::path& path, const Bytes& bytes) {
  std::filesystem::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  return static_cast<bool>(out);
}

}  // namespace

int main(int argc, char** argv) {
  const bool compare = argc == 3 && std::strcmp(argv[1], "--compare") == 0;
  if (argc != 2 && !compare) {
    std::fprintf(stderr, "usage: fuzz_seeds [--compare] DIR\n");
    return 2;
  }
  const std::filesystem::path dir = argv[argc - 1];
  bool ok = true;
  for (const Seed& seed : seeds()) {
    const std::filesystem::path path = dir / seed.target / seed.name;
    if (compare) {
      Bytes existing;
      const bool same = read_file(path, existing) && existing == seed.bytes;
      std::printf("%-50s %s\n", (seed.target + "/" + seed.name).c_str(), same ? "same" : "differs");
      ok = ok && same;
    } else if (!write_file(path, seed.bytes)) {
      std::fprintf(stderr, "cannot write %s\n", path.string().c_str());
      ok = false;
    }
  }
  return ok ? 0 : 1;
}

// Tests of tools/replay.hpp: `vigil replay` on generated traffic with faults, on the bundled
// demo, and with every output option against none.
#include "../../tools/replay.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <iterator>
#include <random>
#include <regex>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "../../tools/csv.hpp"
#include "../../tools/summary.hpp"
#include "../../tools/time_column.hpp"
#include "monitor/tag_reference.hpp"
#include "tools/cli_fixture.hpp"
#include "vigil/monitor/profile.hpp"

using vigil_test::AlertLine;
using vigil_test::at;
using vigil_test::describe;
using vigil_test::first_alert;
using vigil_test::profile_args;
using vigil_test::read_alerts;
using vigil_test::replay_args;
using vigil_test::replay_with;
using vigil_test::rewrite_rows;
using vigil_test::Run;
using vigil_test::TempDir;
using vigil_test::traffic_start;
using vigil_test::vigil_cli;
using vigil_test::write_rows;

TEST_CASE("vigil replay: a unit change is caught within minutes, every line in the alerts format", "[cli]") {
  TempDir dir("unit-change");
  write_rows(dir / "train.csv", 4000, 1, false, 0, 0);
  // One hour of traffic; x in milli-units from minute 30 to minute 40.
  write_rows(dir / "traffic.csv", 14400, 2, true, 30 * 60, 40 * 60);
  REQUIRE(vigil_cli(profile_args(dir)).code == 0);
  const Run run = vigil_cli(replay_args(dir));
  INFO(run.err);
  REQUIRE(run.code == 0);
  const auto alerts = read_alerts(dir / "alerts.jsonl");
  INFO(describe(alerts));
  // Persistence 2 of 3 one-minute intervals: raised at the end of the fault's second minute,
  // decided by the first event of its third; allowed: 3 minutes.
  const double fault = traffic_start + 30 * 60;
  const AlertLine* caught = first_alert(alerts, "out_of_range", "x", fault, fault + 180);
  REQUIRE(caught != nullptr);
  CHECK(caught->severity == "alert");
  CHECK(first_alert(alerts, "feature_shift", "x", fault, fault + 180) != nullptr);
  // Nothing on the features that did not change.
  for (const AlertLine& a : alerts) CHECK(a.subject != "y");
  CHECK(run.out.find("rows monitored: 14400; skipped: 0") != std::string::npos);
}

TEST_CASE("vigil replay: a stable stream raises no alert", "[cli]") {
  TempDir dir("stable");
  write_rows(dir / "train.csv", 4000, 1, false, 0, 0);
  write_rows(dir / "traffic.csv", 14400, 3, true, 0, 0);
  REQUIRE(vigil_cli(profile_args(dir)).code == 0);
  const Run run = vigil_cli(replay_args(dir));
  REQUIRE(run.code == 0);
  const auto alerts = read_alerts(dir / "alerts.jsonl");
  INFO(describe(alerts));
  CHECK(alerts.empty());
  CHECK(run.out.find("alerts: 0 raised or escalated") != std::string::npos);
}

TEST_CASE("vigil replay: unreadable cells and times are counted, unsorted rows go to the monitor", "[cli]") {
  TempDir dir("bad-cells");
  write_rows(dir / "train.csv", 2000, 1, false, 0, 0);
  {
    std::ofstream out(dir / "traffic.csv");
    out << "ts,x,y,color,score,predicted,latency_ms\n"
        << "2026-01-05T00:00:10Z,10,100,red,0.5,yes,12\n"
        << "2026-01-05T00:00:11Z,n/a,100,red,0.5,yes,12\n"
        << "2027-01-05T00:00:12Z,10,100,red,0.5,yes,12\n"  // a year ahead
        << "yesterday,10,100,red,0.5,yes,12\n"
        << ",10,100,red,0.5,yes,12\n"
        << "1767571212,10,,,0.5,yes,slow\n"
        << "2026-01-05T00:10:00Z,10,100,red,0.5,yes,12\n"
        << "2026-01-05T00:00:30Z,10,100,red,0.5,yes,12\n";  // 9.5 minutes late
  }
  REQUIRE(vigil_cli(profile_args(dir)).code == 0);
  const Run run = vigil_cli(replay_with(dir, {"--latency-column", "latency_ms"}));
  INFO(run.out << run.err);
  REQUIRE(run.code == 0);
  CHECK(run.out.find("8 rows") != std::string::npos);
  CHECK(run.out.find("rows monitored: 4; skipped: 4 (1 without a time, 1 with an unreadable time, 1 late, beyond "
                     "the monitor's lateness, 1 dated too far ahead)") != std::string::npos);
  CHECK(std::regex_search(run.out, std::regex(R"(\n\s+x\s+1\n)")));
  CHECK(std::regex_search(run.out, std::regex(R"(\n\s+latency_ms\s+1\n)")));
}

TEST_CASE("vigil replay --status-column: errors and timeouts, HTTP codes, bad cells counted", "[cli]") {
  TempDir dir("status");
  write_rows(dir / "train.csv", 2000, 1, false, 0, 0);
  REQUIRE(vigil_cli(profile_args(dir)).code == 0);
  // 30 minutes at 4 requests a second; from minute 20, one request in ten fails.
  write_rows(dir / "traffic.csv", 7200, 4, true, 0, 0);
  rewrite_rows(dir / "traffic.csv", "ts,host,x,y,color,score,predicted,label,status",
               [](std::size_t i, double t, std::vector<std::string> fields) {
                 static const char* const fine[] = {"ok", "OK", " Ok ", "200", "204", "302"};
                 std::string status = fine[i % 6];
                 if (t >= 20 * 60 && i % 10 == 0) status = i % 20 == 0 ? "500" : "Error";
                 if (i == 7) status = "404";      // an error
                 if (i == 11) status = "TIMEOUT";
                 if (i == 13) status = "504";     // a timeout
                 if (i == 17) status = "408";     // a timeout
                 if (i == 19) status = "";        // missing: taken as ok
                 if (i == 23) status = "maybe";   // bad
                 if (i == 29) status = "101";     // bad: not an outcome
                 if (i == 31) status = "2000";    // bad
                 fields.push_back(status);
                 return fields;
               });
  const Run run = vigil_cli(replay_with(dir, {"--status-column", "status"}));
  INFO(run.out << run.err);
  REQUIRE(run.code == 0);
  CHECK(std::regex_search(run.out, std::regex(R"(\n\s+status\s+3\n)")));
  CHECK(run.out.find("rows monitored: 7200; skipped: 0") != std::string::npos);
  CHECK(run.out.find("traffic: arrivals are the rows' times (no --arrival-column); 7200 arrivals / 7200 completions") !=
        std::string::npos);
  // The last interval against a background that holds the fault's first nine minutes.
  CHECK(std::regex_search(run.out, std::regex(R"(errors 10\.0 % \(background [1-9][0-9.]* %\), timeouts 0\.0 %)")));
  const auto alerts = read_alerts(dir / "alerts.jsonl");
  INFO(describe(alerts));
  const double start = traffic_start + 20 * 60;
  const AlertLine* errors = first_alert(alerts, "traffic", "errors", start, start + 180);
  REQUIRE(errors != nullptr);
  CHECK(errors->severity == "alert");
  // The four early errors and timeouts are too few to judge; nothing else is raised.
  for (const AlertLine& a : alerts) CHECK((a.kind == "traffic" && a.subject == "errors"));
}

TEST_CASE("vigil replay --arrival-column: requests never answered are in flight and raise a completions alert",
          "[cli]") {
  TempDir dir("arrivals");
  write_rows(dir / "train.csv", 2000, 1, false, 0, 0);
  REQUIRE(vigil_cli(profile_args(dir)).code == 0);
  // 30 minutes at 4 requests a second, each answered 80 ms after it arrived; from minute 20
  // every other request gets no answer: its completion time is empty.
  write_rows(dir / "traffic.csv", 7200, 5, true, 0, 0);
  std::size_t unanswered = 0;
  rewrite_rows(dir / "traffic.csv", "arrived,ts,host,x,y,color,score,predicted,label",
               [&](std::size_t i, double t, std::vector<std::string> fields) {
                 std::vector<std::string> out{vigil::tools::format_time(traffic_start + t)};
                 out.insert(out.end(), fields.begin(), fields.end());
                 out[1] = vigil::tools::format_time(traffic_start + t + 0.08);
                 if (t >= 20 * 60 && i % 2 == 1) {
                   out[1].clear();
                   ++unanswered;
                 }
                 if (i == 3) out[0] = "soon";  // unreadable: counted, arrives when it completes
                 return out;
               });
  const Run run = vigil_cli(replay_with(dir, {"--arrival-column", "arrived"}));
  INFO(run.out << run.err);
  REQUIRE(run.code == 0);
  CHECK(std::regex_search(run.out, std::regex(R"(\n\s+arrived\s+1\n)")));
  const std::string monitored = "rows monitored: " + std::to_string(7200 - unanswered) + "; skipped: 0";
  CHECK(run.out.find(monitored) != std::string::npos);
  CHECK(run.out.find(std::to_string(unanswered) + " arrived without a completion time (never answered)") !=
        std::string::npos);
  CHECK(run.out.find("traffic: arrivals from column 'arrived'; 7200 arrivals / " + std::to_string(7200 - unanswered) +
                     " completions, " + std::to_string(unanswered) + " in flight at the end") != std::string::npos);
  const auto alerts = read_alerts(dir / "alerts.jsonl");
  INFO(describe(alerts));
  const double start = traffic_start + 20 * 60;
  const AlertLine* dropped = first_alert(alerts, "traffic", "completions", start, start + 180);
  REQUIRE(dropped != nullptr);
  CHECK(dropped->severity == "alert");
  // Arrivals kept their pace: no alert on them, nor before the fault.
  CHECK(first_alert(alerts, "traffic", "arrivals", traffic_start, start + 600) == nullptr);
  for (const AlertLine& a : alerts) CHECK(a.time >= start);
}

namespace {


/// The bundled demo, profiled and replayed once for the tests below.
struct Demo {
  Run profile;
  Run replay;
  std::vector<AlertLine> alerts;
};

const Demo& demo() {
  static const Demo result = [] {
    TempDir dir("demo");
    Demo d;
    d.profile = vigil_cli({"profile", "--input", vigil_test::source_path("data/insects_demo/train.csv"), "--output",
                           dir / "reference.vigil", "--categorical", "band", "--score-column", "score",
                           "--predicted-column", "predicted", "--label-column", "species"});
    d.replay = vigil_cli({"replay", "--reference", dir / "reference.vigil", "--input",
                          vigil_test::source_path("data/insects_demo/traffic.csv"), "--alerts", dir / "alerts.jsonl",
                          "--tag-columns", "host,model_version", "--latency-column", "latency_ms", "--label-column",
                          "species"});
    if (d.replay.code == 0) d.alerts = read_alerts(dir / "alerts.jsonl");
    return d;
  }();
  return result;
}

}  // namespace

TEST_CASE("vigil demo: every fault of FAULTS.md is caught", "[cli]") {
  const Demo& d = demo();
  REQUIRE(d.profile.code == 0);
  INFO(d.replay.err);
  REQUIRE(d.replay.code == 0);
  const auto& alerts = d.alerts;
  INFO(describe(alerts));

  SECTION("the 12 n/a cells of f04 are counted, and raise no drift of their own") {
    CHECK(d.replay.out.find("rows monitored: 17568; skipped: 0") != std::string::npos);
    CHECK(std::regex_search(d.replay.out, std::regex(R"(\n\s+f04\s+12\n)")));
  }
  SECTION("fault 2: f07 x 1000 from 09:20") {
    const double start = at("2026-11-02T09:20:00Z");
    const bool caught = first_alert(alerts, "out_of_range", "f07", start, start + 180) != nullptr ||
                        first_alert(alerts, "feature_shift", "f07", start, start + 180) != nullptr;
    CHECK(caught);
  }
  SECTION("fault 4: band's low and high swapped from 09:55") {
    const double start = at("2026-11-02T09:55:00Z");
    CHECK(first_alert(alerts, "feature_shift", "band", start, start + 180) != nullptr);
  }
  SECTION("fault 5: every f09 cell empty from 10:15") {
    const double start = at("2026-11-02T10:15:00Z");
    CHECK(first_alert(alerts, "missing_values", "f09", start, start + 180) != nullptr);
  }
  SECTION("fault 6: host h3 slow for one request in ten from 08:45") {
    const double start = at("2026-11-02T08:45:00Z");
    const AlertLine* caught = first_alert(alerts, "latency", "host=h3", start, start + 420);
    REQUIRE(caught != nullptr);
    CHECK(caught->severity == "alert");
    CHECK(first_alert(alerts, "latency", "requests", start, at("2026-11-02T09:00:00Z") + 120) != nullptr);
  }
  SECTION("fault 7: no request from 10:26 to 10:31") {
    const double start = at("2026-11-02T10:26:00Z");
    const AlertLine* caught = first_alert(alerts, "traffic", "arrivals", start, start + 180);
    REQUIRE(caught != nullptr);
    CHECK(caught->severity == "alert");
  }
  SECTION("no traffic or latency alert outside faults 6 and 7") {
    for (const AlertLine& a : alerts) {
      if (a.kind == "latency") CHECK((a.time >= at("2026-11-02T08:45:00Z") && a.time <= at("2026-11-02T09:05:00Z")));
      if (a.kind == "traffic") CHECK((a.time >= at("2026-11-02T10:26:00Z") && a.time <= at("2026-11-02T10:32:00Z")));
    }
  }
  SECTION("fault 1: the real drift from 09:05 shows as feature_drift against training") {
    const double start = at("2026-11-02T09:05:00Z");
    std::set<std::string> drifted;
    for (const AlertLine& a : alerts)
      if (a.kind == "feature_drift" && a.time >= start && a.subject != "f07") drifted.insert(a.subject);
    CHECK(drifted.size() >= 3);
    // The short-term view sees it within minutes: sudden shifts on several features.
    std::set<std::string> shifted;
    for (const AlertLine& a : alerts)
      if (a.kind == "feature_shift" && a.time >= start && a.time <= start + 300) shifted.insert(a.subject);
    CHECK(shifted.size() >= 3);
  }
}

namespace {

std::string file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

/// Replays with `args` (a replay command line without --alerts) once without an output option,
/// once with each of --intervals, --json, --html and --prometheus, and once with all four, and
/// checks that each wrote the same alerts.jsonl, byte for byte, and that the final JSON report
/// does not depend on the other outputs either. Returns the alerts.
std::string alerts_with_each_output(const TempDir& dir, const std::vector<std::string>& args) {
  const std::vector<std::vector<std::string>> outputs{
      {},
      {"--intervals", dir / "intervals.csv"},
      {"--json", dir / "report.json"},
      {"--html", dir / "report.html"},
      {"--prometheus", dir / "metrics.prom"},
      {"--intervals", dir / "all.csv", "--json", dir / "all.json", "--html", dir / "all.html", "--prometheus",
       dir / "all.prom"}};
  std::string plain;
  for (std::size_t i = 0; i < outputs.size(); ++i) {
    const std::string alerts_path = dir / ("alerts" + std::to_string(i) + ".jsonl");
    std::vector<std::string> run_args = args;
    run_args.insert(run_args.end(), {"--alerts", alerts_path});
    run_args.insert(run_args.end(), outputs[i].begin(), outputs[i].end());
    const Run run = vigil_cli(run_args);
    INFO(run.err);
    REQUIRE(run.code == 0);
    if (i == 0) {
      plain = file_bytes(alerts_path);
      continue;
    }
    INFO("with " << outputs[i][0] << (outputs[i].size() > 2 ? " and the others" : ""));
    CHECK(file_bytes(alerts_path) == plain);
  }
  CHECK(file_bytes(dir / "all.json") == file_bytes(dir / "report.json"));
  CHECK(file_bytes(dir / "all.csv") == file_bytes(dir / "intervals.csv"));
  return plain;
}

/// The end times of the intervals in a --intervals file, each once, in file order.
std::vector<double> interval_ends(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  REQUIRE(std::getline(in, line));
  CHECK(line == vigil::tools::interval_header);
  std::vector<double> ends;
  while (std::getline(in, line)) {
    double end = 0;
    REQUIRE(vigil::tools::parse_time(line.substr(0, line.find(',')), end) == vigil::tools::CellStatus::value);
    if (ends.empty() || ends.back() != end) ends.push_back(end);
  }
  return ends;
}

/// Whether `ends` steps by exactly `interval` seconds: every interval, none twice.
bool every_interval(const std::vector<double>& ends, double interval) {
  for (std::size_t i = 1; i < ends.size(); ++i)
    if (ends[i] - ends[i - 1] != interval) return false;
  return !ends.empty();
}

/// A week of sparse traffic from traffic_start: Poisson arrivals at 100 an hour, and none from
/// 02:00 to 05:00 every night.
void write_sparse_week(const std::string& path) {
  vigil_test::RequestGenerator requests(11);
  std::mt19937_64 random(12);
  std::exponential_distribution<double> gap(100.0 / 3600);
  std::ofstream out(path);
  out << "ts,x,y,color,score,predicted,label\n";
  for (double t = gap(random); t < 7 * 86400; t += gap(random)) {
    const double hour = std::fmod(t, 86400) / 3600;
    if (hour >= 2 && hour < 5) continue;
    out << vigil::tools::format_time(traffic_start + t) << ',' << requests.cells() << '\n';
  }
}

}  // namespace

TEST_CASE("vigil replay: no output option changes the alerts, on the demo", "[cli]") {
  TempDir dir("outputs-demo");
  REQUIRE(vigil_cli({"profile", "--input", vigil_test::source_path("data/insects_demo/train.csv"), "--output",
                     dir / "reference.vigil", "--categorical", "band", "--score-column", "score",
                     "--predicted-column", "predicted", "--label-column", "species"})
              .code == 0);
  const std::string alerts = alerts_with_each_output(
      dir, {"replay", "--reference", dir / "reference.vigil", "--input",
            vigil_test::source_path("data/insects_demo/traffic.csv"), "--tag-columns", "host,model_version",
            "--latency-column", "latency_ms", "--label-column", "species"});
  // f03's horizon PSI sits at psi_alert (0.2) around 10:33: 0.1997 with the reference digests
  // merged every Profile::rows_per_compaction rows as they are built, so it stays a warning
  // (0.201, an alert, when each digest merged once per 1,600 values).
  CHECK(std::count(alerts.begin(), alerts.end(), '\n') == 41);
  // Every interval from the first row's to the last row's, the five without a request
  // (10:26-10:31) included.
  const std::vector<double> ends = interval_ends(dir / "intervals.csv");
  CHECK(every_interval(ends, 60));
  CHECK(ends.front() == at("2026-11-02T08:01:00Z"));
  CHECK(ends.back() == at("2026-11-02T10:33:00Z"));
}

TEST_CASE("vigil replay: no output option changes the alerts, on a sparse week with quiet hours", "[cli]") {
  TempDir dir("outputs-sparse");
  write_rows(dir / "train.csv", 4000, 1, false, 0, 0);
  write_sparse_week(dir / "traffic.csv");
  REQUIRE(vigil_cli(profile_args(dir)).code == 0);
  // Five-minute intervals: about eight requests each, and 36 empty ones a night.
  alerts_with_each_output(dir, {"replay", "--reference", dir / "reference.vigil", "--input", dir / "traffic.csv",
                                "--label-column", "label", "--interval", "300"});
  const std::vector<double> ends = interval_ends(dir / "intervals.csv");
  CHECK(every_interval(ends, 300));
  CHECK(ends.size() >= 2000);
}

namespace {

/// Rewrites the `ts` of a write_rows traffic file (its rows 0.25 s apart from traffic_start)
/// with `write(milliseconds since 1970)`.
template <class Write>
void rewrite_times(const std::string& path, Write write) {
  rewrite_rows(path, "ts,host,x,y,color,score,predicted,label",
               [&](std::size_t i, double, std::vector<std::string> fields) {
                 fields[0] = write(static_cast<std::int64_t>(traffic_start) * 1000 + static_cast<std::int64_t>(i) * 250);
                 return fields;
               });
}

/// ISO-8601 of `ms` shifted by `offset_hours`, written with `separator` and `zone`.
std::string local_time(std::int64_t ms, int offset_hours, char separator, const std::string& zone) {
  std::string text = vigil::tools::format_time(static_cast<double>(ms) / 1000 + offset_hours * 3600.0);
  text[10] = separator;
  text.pop_back();  // the Z
  return text + zone;
}

}  // namespace

TEST_CASE("vigil replay: the same traffic with times in any accepted format raises the same alerts", "[cli]") {
  TempDir dir("time-formats");
  write_rows(dir / "train.csv", 4000, 1, false, 0, 0);
  REQUIRE(vigil_cli(profile_args(dir)).code == 0);
  write_rows(dir / "traffic.csv", 14400, 2, true, 30 * 60, 40 * 60);
  const Run iso = vigil_cli(replay_args(dir));
  REQUIRE(iso.code == 0);
  const std::string expected = file_bytes(dir / "alerts.jsonl");
  REQUIRE(!expected.empty());
  CHECK(iso.out.find("times in 'ts'") == std::string::npos);  // said only for Unix numbers

  using Write = std::string (*)(std::int64_t);
  const std::vector<std::tuple<const char*, Write, const char*>> formats{
      {"Unix seconds",
       [](std::int64_t ms) { return std::to_string(ms / 1000) + "." + std::to_string(1000 + ms % 1000).substr(1); },
       "14400 as Unix seconds"},
      {"Unix milliseconds", [](std::int64_t ms) { return std::to_string(ms); }, "14400 as Unix milliseconds"},
      {"Unix microseconds", [](std::int64_t ms) { return std::to_string(ms) + "000"; }, "14400 as Unix microseconds"},
      {"Unix nanoseconds", [](std::int64_t ms) { return std::to_string(ms) + "000000"; }, "14400 as Unix nanoseconds"},
      {"ISO-8601 +01:00, space", [](std::int64_t ms) { return local_time(ms, 1, ' ', "+01:00"); }, nullptr},
      {"ISO-8601 -0500", [](std::int64_t ms) { return local_time(ms, -5, 'T', "-0500"); }, nullptr},
      {"ISO-8601, no zone", [](std::int64_t ms) { return local_time(ms, 0, 'T', ""); }, nullptr},
  };
  for (const auto& [name, write, summary] : formats) {
    INFO(name);
    rewrite_times(dir / "traffic.csv", write);
    const Run run = vigil_cli(replay_args(dir));
    INFO(run.err);
    REQUIRE(run.code == 0);
    CHECK(file_bytes(dir / "alerts.jsonl") == expected);
    CHECK(run.out.find("rows monitored: 14400; skipped: 0") != std::string::npos);
    CHECK(run.out.find("14400 rows, 2026-01-05T00:00:00.000Z to 2026-01-05T00:59:59.750Z") != std::string::npos);
    if (summary)
      CHECK(run.out.find(std::string("  times in 'ts': ") + summary +
                         " (unit told by magnitude; name it with --time-unit)\n") != std::string::npos);
  }

  // The unit named: the same.
  rewrite_times(dir / "traffic.csv", [](std::int64_t ms) { return std::to_string(ms); });
  auto args = replay_args(dir);
  args.insert(args.end(), {"--time-unit", "ms"});
  const Run named = vigil_cli(args);
  REQUIRE(named.code == 0);
  CHECK(file_bytes(dir / "alerts.jsonl") == expected);
  CHECK(named.out.find("  times in 'ts': 14400 as Unix milliseconds (--time-unit ms)\n") != std::string::npos);
}

TEST_CASE("vigil replay --time-unit: milliseconds the magnitude would read as seconds", "[cli]") {
  TempDir dir("time-unit");
  write_rows(dir / "train.csv", 2000, 1, false, 0, 0);
  REQUIRE(vigil_cli(profile_args(dir)).code == 0);
  write_rows(dir / "traffic.csv", 20, 2, true, 0, 0);
  // Milliseconds from 1970-01-02: below 10^11, so seconds by magnitude (1972-09-27).
  rewrite_rows(dir / "traffic.csv", "ts,host,x,y,color,score,predicted,label",
               [](std::size_t i, double, std::vector<std::string> fields) {
                 fields[0] = std::to_string(86400000 + 250 * i);
                 return fields;
               });
  Run run = vigil_cli(replay_with(dir, {"--time-unit", "ms"}));
  INFO(run.err);
  REQUIRE(run.code == 0);
  CHECK(run.out.find("20 rows, 1970-01-02T00:00:00.000Z to 1970-01-02T00:00:04.750Z") != std::string::npos);
  CHECK(run.out.find("times in 'ts': 20 as Unix milliseconds (--time-unit ms)") != std::string::npos);
  run = vigil_cli(replay_with(dir, {}));
  REQUIRE(run.code == 0);
  CHECK(run.out.find("20 rows, 1972-09-27T00:00:00.000Z to 1972-09-27T01:19:10.000Z") != std::string::npos);

  // Named wrongly: every time falls outside years 0000-9999.
  rewrite_rows(dir / "traffic.csv", "ts,host,x,y,color,score,predicted,label",
               [](std::size_t i, double, std::vector<std::string> fields) {
                 fields[0] = std::to_string(1767571200000 + 250 * static_cast<std::int64_t>(i));
                 return fields;
               });
  run = vigil_cli(replay_with(dir, {"--time-unit", "s"}));
  CHECK(run.code == 2);
  CHECK(run.err.rfind("vigil: " + (dir / "traffic.csv") +
                          ", row 1 (line 2), column 'ts': '1767571200000' is not a time in seconds (--time-unit s); "
                          "accepted, in years 0000-9999: ",
                      0) == 0);
  CHECK(run.err.find("(no row of 20 has a readable time)\n") != std::string::npos);
}

TEST_CASE("vigil replay: an unreadable time names its value, row, line, column and the accepted formats", "[cli]") {
  TempDir dir("bad-times");
  write_rows(dir / "train.csv", 2000, 1, false, 0, 0);
  REQUIRE(vigil_cli(profile_args(dir)).code == 0);
  {
    std::ofstream out(dir / "traffic.csv");
    out << "x,y,color,score,predicted,ts\n"
        << "10,100,red,0.5,yes,2026-01-05T00:00:10Z\n"
        << "10,100,red,0.5,yes,05/01/2026 00:00:11\n"
        << "10,100,red,0.5,yes,2026-01-05T00:00:12Z\n"
        << "10,100,red,0.5,yes,tomorrow\n";
  }
  Run run = vigil_cli(replay_with(dir, {}));
  INFO(run.err);
  REQUIRE(run.code == 0);
  CHECK(run.out.find("rows monitored: 2; skipped: 2 (0 without a time, 2 with an unreadable time") !=
        std::string::npos);
  // The first one, in a note.
  const std::string first = "note: " + (dir / "traffic.csv") +
                            ", row 2 (line 3), column 'ts': '05/01/2026 00:00:11' is not a time; accepted, in years "
                            "0000-9999: " + vigil::tools::accepted_time_formats() +
                            "; rows with an unreadable time are counted and skipped\n";
  CHECK(run.err.find(first) != std::string::npos);
  CHECK(run.err.find("tomorrow") == std::string::npos);

  // No readable time at all: an error, exit code 2.
  {
    std::ofstream out(dir / "traffic.csv");
    out << "x,y,color,score,predicted,ts\n"
        << "10,100,red,0.5,yes,\n"
        << "10,100,red,0.5,yes,1e9\n"
        << "10,100,red,0.5,yes,noon\n";
  }
  run = vigil_cli(replay_with(dir, {}));
  CHECK(run.code == 2);
  CHECK(run.err == "vigil: " + (dir / "traffic.csv") + ", row 2 (line 3), column 'ts': '1e9' is not a time; " +
                       "accepted, in years 0000-9999: " + vigil::tools::accepted_time_formats() +
                       " (no row of 3 has a readable time)\n");
  for (const char* example : {"2026-11-02T08:00:00Z", "1793606400.353", "1793606400353", "1793606400353000000"})
    CHECK(run.err.find(example) != std::string::npos);
}

TEST_CASE("vigil profile and replay find a 'datetime' or 'timestamp' column the same way", "[cli]") {
  TempDir dir("datetime");
  write_rows(dir / "train.csv", 2000, 1, false, 0, 0);
  write_rows(dir / "traffic.csv", 2400, 2, true, 0, 0);
  // Training rows with a time column named datetime; traffic with the same column.
  rewrite_rows(dir / "train.csv", "datetime,x,y,color,score,predicted,label",
               [](std::size_t i, double t, std::vector<std::string> fields) {
                 fields.insert(fields.begin(), vigil::tools::format_time(traffic_start - 86400 + t + (i % 2)));
                 return fields;
               });
  rewrite_rows(dir / "traffic.csv", "datetime,host,x,y,color,score,predicted,label",
               [](std::size_t, double, std::vector<std::string> fields) { return fields; });
  Run run = vigil_cli(profile_args(dir));
  INFO(run.err);
  REQUIRE(run.code == 0);
  CHECK(run.err.find("note: column 'datetime' is taken as the time column and left out") != std::string::npos);
  CHECK_FALSE(vigil::Profile::load(dir / "reference.vigil").schema().kind_of("datetime"));
  run = vigil_cli(replay_args(dir));
  INFO(run.err);
  REQUIRE(run.code == 0);
  CHECK(run.err.find("note: column 'datetime' is taken as the time column (name another with --time-column)") !=
        std::string::npos);
  CHECK(run.out.find("rows monitored: 2400; skipped: 0") != std::string::npos);

  // Unix milliseconds in a column named timestamp: left out of the profile, read by replay.
  rewrite_rows(dir / "train.csv", "timestamp,x,y,color,score,predicted,label",
               [](std::size_t i, double, std::vector<std::string> fields) {
                 fields[0] = std::to_string(1767484800000 + 250 * static_cast<std::int64_t>(i));
                 return fields;
               });
  rewrite_times(dir / "traffic.csv", [](std::int64_t ms) { return std::to_string(ms); });
  rewrite_rows(dir / "traffic.csv", "timestamp,host,x,y,color,score,predicted,label",
               [](std::size_t, double, std::vector<std::string> fields) { return fields; });
  run = vigil_cli(profile_args(dir));
  REQUIRE(run.code == 0);
  const vigil::Schema schema = vigil::Profile::load(dir / "reference.vigil").schema();
  CHECK_FALSE(schema.kind_of("timestamp"));
  CHECK(schema.numeric_count() == 2);
  run = vigil_cli(replay_args(dir));
  INFO(run.err);
  REQUIRE(run.code == 0);
  CHECK(run.out.find("times in 'timestamp': 2400 as Unix milliseconds") != std::string::npos);

  // --time-column names another; none found: the error says what was looked for.
  run = vigil_cli(replay_with(dir, {"--time-column", "host"}));
  CHECK(run.code == 2);
  CHECK(run.err.find(", row 1 (line 2), column 'host': 'h0' is not a time;") != std::string::npos);
  rewrite_rows(dir / "traffic.csv", "when,host,x,y,color,score,predicted,label",
               [](std::size_t, double, std::vector<std::string> fields) { return fields; });
  run = vigil_cli(replay_args(dir));
  CHECK(run.code == 2);
  CHECK(run.err == "vigil: " + vigil::tools::no_time_column_message(vigil::tools::CsvReader::open(dir / "traffic.csv"),
                                                                     dir / "traffic.csv") +
                       "\n");
}

namespace {

/// `minutes` of traffic at one request every `gap` seconds from traffic_start (columns of
/// write_rows); x in milli-units from `fault_start` to `fault_end` seconds into it.
void write_slow_traffic(const std::string& path, double gap, int minutes, double fault_start, double fault_end) {
  vigil_test::RequestGenerator requests(21);
  std::ofstream out(path);
  out << "ts,host,x,y,color,score,predicted,label\n";
  for (double t = 0; t < minutes * 60.0; t += gap)
    out << vigil::tools::format_time(traffic_start + t) << ",h0,"
        << requests.cells(t >= fault_start && t < fault_end ? 1000 : 1) << '\n';
}

}  // namespace

TEST_CASE("vigil replay --min-requests: a low-rate replay judges each interval on its own instead of pooling", "[cli]") {
  TempDir dir("min-requests");
  write_rows(dir / "train.csv", 4000, 1, false, 0, 0);
  REQUIRE(vigil_cli(profile_args(dir)).code == 0);
  // Ten requests a minute; x in milli-units from minute 30 to minute 40.
  write_slow_traffic(dir / "traffic.csv", 6, 60, 30 * 60, 40 * 60);
  const double fault = traffic_start + 30 * 60;

  Run run = vigil_cli(replay_args(dir));
  REQUIRE(run.code == 0);
  auto alerts = read_alerts(dir / "alerts.jsonl");
  INFO(describe(alerts));
  // Ten values an interval, fewer than AlertPolicy::min_requests (30): judged only once three
  // intervals are pooled, the first of them after the fault began.
  const AlertLine* pooled = first_alert(alerts, "out_of_range", "x", traffic_start, traffic_start + 3600);
  REQUIRE(pooled != nullptr);
  const double pooled_time = pooled->time;
  CHECK(pooled_time >= fault + 120);
  // A pooled sample of 30 values is too small for the G-test of x's shape.
  CHECK(first_alert(alerts, "feature_shift", "x", traffic_start, traffic_start + 3600) == nullptr);

  auto args = replay_args(dir);
  args.insert(args.end(), {"--min-requests", "5"});
  run = vigil_cli(args);
  INFO(run.err);
  REQUIRE(run.code == 0);
  alerts = read_alerts(dir / "alerts.jsonl");
  INFO(describe(alerts));
  const AlertLine* caught = first_alert(alerts, "out_of_range", "x", fault, fault + 180);
  REQUIRE(caught != nullptr);
  CHECK(caught->severity == "alert");
  CHECK(caught->time <= pooled_time);
  // Each interval of ten judged on its own, by the G-test too.
  CHECK(first_alert(alerts, "feature_shift", "x", fault, fault + 180) != nullptr);
}

TEST_CASE("vigil replay --cool-down: a fault that comes back within the cool-down opens again only without it",
          "[cli]") {
  TempDir dir("cool-down");
  write_rows(dir / "train.csv", 4000, 1, false, 0, 0);
  REQUIRE(vigil_cli(profile_args(dir)).code == 0);
  // x in milli-units from minute 10 to 15 and again from minute 30 to 35.
  write_rows(dir / "traffic.csv", 14400, 2, true, 10 * 60, 15 * 60);
  rewrite_rows(dir / "traffic.csv", "ts,host,x,y,color,score,predicted,label",
               [](std::size_t, double t, std::vector<std::string> fields) {
                 if (t >= 30 * 60 && t < 35 * 60) fields[2] = std::to_string(std::stod(fields[2]) * 1000);
                 return fields;
               });
  const auto raised = [&](const std::vector<std::string>& extra) {
    auto args = replay_args(dir);
    args.insert(args.end(), extra.begin(), extra.end());
    const Run run = vigil_cli(args);
    INFO(run.err);
    REQUIRE(run.code == 0);
    const auto alerts = read_alerts(dir / "alerts.jsonl");
    INFO(describe(alerts));
    CHECK(first_alert(alerts, "out_of_range", "x", traffic_start + 600, traffic_start + 780) != nullptr);
    return first_alert(alerts, "out_of_range", "x", traffic_start + 1800, traffic_start + 1980) != nullptr;
  };
  CHECK_FALSE(raised({}));  // AlertPolicy::cool_down: 1800 s
  CHECK(raised({"--cool-down", "0"}));
  CHECK_FALSE(raised({"--cool-down", "1200"}));
}

TEST_CASE("vigil replay --background: the span the latest interval is compared with", "[cli]") {
  TempDir dir("background");
  write_rows(dir / "train.csv", 2000, 1, false, 0, 0);
  REQUIRE(vigil_cli(profile_args(dir)).code == 0);
  // 30 minutes at 4 requests a second; from minute 20, one request in ten fails.
  write_rows(dir / "traffic.csv", 7200, 4, true, 0, 0);
  rewrite_rows(dir / "traffic.csv", "ts,host,x,y,color,score,predicted,label,status",
               [](std::size_t i, double t, std::vector<std::string> fields) {
                 fields.push_back(t >= 20 * 60 && i % 10 == 0 ? "error" : "ok");
                 return fields;
               });
  // The last interval, 00:29-00:30, against the hour before it (nine of its minutes failing)
  // or against the five minutes before it (all failing).
  Run run = vigil_cli(replay_with(dir, {"--status-column", "status"}));
  REQUIRE(run.code == 0);
  CHECK(run.out.find("errors 10.0 % (background 3.1 %)") != std::string::npos);
  run = vigil_cli(replay_with(dir, {"--status-column", "status", "--background", "300"}));
  INFO(run.err);
  REQUIRE(run.code == 0);
  CHECK(run.out.find("errors 10.0 % (background 10.0 %)") != std::string::npos);
}

TEST_CASE("vigil replay: hourly intervals with the low-rate options, and intervals of a second", "[cli]") {
  TempDir dir("hourly");
  write_rows(dir / "train.csv", 4000, 1, false, 0, 0);
  write_sparse_week(dir / "traffic.csv");
  REQUIRE(vigil_cli(profile_args(dir)).code == 0);
  Run run = vigil_cli(replay_with(dir, {"--label-column", "label", "--interval", "3600", "--background", "7200",
                                        "--min-requests", "5", "--cool-down", "86400", "--intervals",
                                        dir / "intervals.csv"}));
  INFO(run.err);
  REQUIRE(run.code == 0);
  const std::vector<double> ends = interval_ends(dir / "intervals.csv");
  CHECK(every_interval(ends, 3600));
  CHECK(ends.size() == 7 * 24);

  // One-second intervals: the rows may come late by 59 seconds, what 60 retained intervals span.
  write_rows(dir / "traffic.csv", 480, 2, true, 0, 0);
  run = vigil_cli(replay_with(dir, {"--interval", "1", "--intervals", dir / "intervals.csv"}));
  INFO(run.err);
  REQUIRE(run.code == 0);
  CHECK(every_interval(interval_ends(dir / "intervals.csv"), 1));
}

TEST_CASE("vigil replay --arrival-column: requests that all arrived and none completed", "[cli]") {
  TempDir dir("arrivals-only");
  write_rows(dir / "train.csv", 2000, 1, false, 0, 0);
  REQUIRE(vigil_cli(profile_args(dir)).code == 0);
  {
    std::ofstream out(dir / "traffic.csv");
    out << "arrived,ts,x,y,color,score,predicted\n"
        << "2026-01-05T00:00:10Z,,10,100,red,0.5,yes\n"
        << "1767571211000,,10,100,red,0.5,yes\n";
  }
  // The monitor has no completion, but arrivals are events: the log ends with the interval
  // of its last arrival, which is judged.
  const Run run = vigil_cli(replay_with(dir, {"--arrival-column", "arrived"}));
  INFO(run.err);
  CHECK(run.code == 0);
  CHECK(run.out.find("2 rows, 2026-01-05T00:00:10.000Z to 2026-01-05T00:00:11.000Z") != std::string::npos);
  CHECK(run.out.find("2 arrived without a completion time (never answered)") != std::string::npos);
  CHECK(run.out.find("\nstatus at 2026-01-05T00:01:00.000Z: ") != std::string::npos);
}

TEST_CASE("vigil replay: a reference declaring a tag of 2^40 values is refused with exit code 2, naming the value",
          "[cli][bounds]") {
  TempDir dir("huge-tag");
  const std::vector<std::uint8_t> reference = vigil_test::reference_with_tag(std::uint64_t(1) << 40);
  REQUIRE(reference.size() < 1024);
  std::ofstream(dir / "reference.vigil", std::ios::binary)
      .write(reinterpret_cast<const char*>(reference.data()), static_cast<std::streamsize>(reference.size()));
  std::ofstream(dir / "traffic.csv") << "ts,x,host\n1767225600,1.5,a\n1767225601,2.5,b\n";
  const Run run = vigil_cli(replay_with(dir, {"--tag-columns", "host"}));
  INFO(run.err);
  CHECK(run.code == 2);
  CHECK(run.err.find("max_values 1099511627776") != std::string::npos);
  CHECK(run.err.find("internal error") == std::string::npos);
  CHECK(run.err.find("out of memory") == std::string::npos);
}

TEST_CASE("vigil replay: category and tag values longer than 256 bytes are cut and the summary says how many",
          "[cli][bounds]") {
  TempDir dir("long-values");
  write_rows(dir / "train.csv", 400, 1, false, 0, 0);
  write_rows(dir / "traffic.csv", 400, 2, true, 0, 0);
  // Every tenth row: a host of 257 bytes and a colour of 1 MB; the 256-byte hosts are whole.
  rewrite_rows(dir / "traffic.csv", "ts,host,x,y,color,score,predicted,label",
               [](std::size_t i, double, std::vector<std::string> fields) {
                 if (i % 10 == 0) {
                   fields[1] = std::string(257, 'h');
                   fields[4] = std::string(std::size_t(1) << 20, 'c');
                 } else if (i % 10 == 5) {
                   fields[1] = std::string(256, 'h');
                 }
                 return fields;
               });
  REQUIRE(vigil_cli(profile_args(dir)).code == 0);
  const Run run = vigil_cli(replay_args(dir));
  INFO(run.err);
  REQUIRE(run.code == 0);
  INFO(run.out);
  CHECK(run.out.find("rows monitored: 400;") != std::string::npos);
  CHECK(run.out.find("; 80 category or tag values longer than 256 bytes cut to that length") != std::string::npos);
}

namespace replay_labels_test {  // named: the files of a tests/ folder may compile as one unit

double sigmoid(double z) { return 1 / (1 + std::exp(-z)); }

/// A calibrated binary classifier of one feature: score sigmoid(2x), label drawn with the
/// score's probability. The holdout has a request_id column too, which the profile ignores.
void write_holdout(const std::string& path, int rows) {
  std::mt19937_64 random(21);
  std::normal_distribution<double> normal(0, 1);
  std::uniform_real_distribution<double> uniform(0, 1);
  std::ofstream out(path);
  out << "request_id,x,score,y\n";
  for (int i = 0; i < rows; ++i) {
    const double x = normal(random);
    const double score = sigmoid(2 * x);
    out << "h" << i << ',' << x << ',' << score << ',' << (uniform(random) < score ? 1 : 0) << '\n';
  }
}

/// One row of a labels file, as written: `request_id,ts,y`.
struct LabelRow {
  double time;
  std::string id;
  std::string label;
  std::string time_text;  // written instead of `time` when not empty ("-" for an empty cell)
};

/// Requests of the classifier from traffic_start, `per_minute` a minute for `minutes`, with ids
/// "r0", "r1", ...; returns each request's label `delay` seconds after it, in time order,
/// flipped with probability `flip` from minute `flip_from` on (concept drift: the scores look
/// as always, the answers change).
std::vector<LabelRow> write_labelled_traffic(const std::string& path, int minutes, int per_minute, double delay,
                                             int flip_from, double flip) {
  std::mt19937_64 random(22);
  std::normal_distribution<double> normal(0, 1);
  std::uniform_real_distribution<double> uniform(0, 1);
  std::ofstream out(path);
  out << "ts,request_id,x,score\n";
  std::vector<LabelRow> labels;
  for (int m = 0; m < minutes; ++m)
    for (int i = 0; i < per_minute; ++i) {
      const double t = traffic_start + 60.0 * m + 60.0 * (i + 0.5) / per_minute;
      const double x = normal(random);
      const std::string id = "r" + std::to_string(m * per_minute + i);
      bool y = uniform(random) < sigmoid(2 * x);
      if (m >= flip_from && uniform(random) < flip) y = !y;
      out << vigil::tools::format_time(t) << ',' << id << ',' << x << ',' << sigmoid(2 * x) << '\n';
      labels.push_back({t + delay, id, y ? "1" : "0", ""});
    }
  std::stable_sort(labels.begin(), labels.end(), [](const LabelRow& a, const LabelRow& b) { return a.time < b.time; });
  return labels;
}

void write_labels(const std::string& path, const std::vector<LabelRow>& rows) {
  std::ofstream out(path);
  out << "request_id,ts,y\n";
  for (const LabelRow& r : rows)
    out << r.id << ',' << (r.time_text.empty() ? vigil::tools::format_time(r.time) : r.time_text == "-" ? "" : r.time_text)
        << ',' << r.label << '\n';
}

std::vector<std::string> profile_labelled(const TempDir& dir) {
  return {"profile",       "--input", dir / "holdout.csv", "--output",    dir / "reference.vigil", "--score-column",
          "score",         "--label-column", "y",           "--threshold", "0.5",                   "--ignore",
          "request_id"};
}

/// The number after `"key": ` in a JSON report written with --json (the first one).
double json_number(const std::string& json, const std::string& key) {
  std::smatch m;
  REQUIRE(std::regex_search(json, m, std::regex("\"" + key + "\": (-?[0-9.eE+-]+)")));
  return std::stod(m[1].str());
}

/// Where `row` goes among labels in time order, keeping the order of equal times.
void insert_in_order(std::vector<LabelRow>& rows, const LabelRow& row) {
  rows.insert(std::upper_bound(rows.begin(), rows.end(), row,
                               [](const LabelRow& a, const LabelRow& b) { return a.time < b.time; }),
              row);
}

}  // namespace replay_labels_test

TEST_CASE("vigil replay --labels: labels that contradict the scores raise a quality alert on accuracy",
          "[cli][labels]") {
  using namespace replay_labels_test;
  TempDir dir("labels-drift");
  write_holdout(dir / "holdout.csv", 8000);
  const Run profile = vigil_cli(profile_labelled(dir));
  INFO(profile.err);
  REQUIRE(profile.code == 0);
  CHECK(vigil::Profile::load(dir / "reference.vigil").schema().numeric_count() == 1);  // request_id left out
  // Six hours at 40 requests a minute, each labelled 5 minutes later; after three hours 40 %
  // of the labels are flipped.
  const std::vector<LabelRow> labels = write_labelled_traffic(dir / "traffic.csv", 360, 40, 300, 180, 0.4);
  write_labels(dir / "labels.csv", labels);
  const Run run = vigil_cli(replay_with(dir, {"--id-column", "request_id", "--labels", dir / "labels.csv",
                                              "--label-column", "y", "--json", dir / "report.json"}));
  INFO(run.out << run.err);
  REQUIRE(run.code == 0);
  const auto alerts = read_alerts(dir / "alerts.jsonl");
  INFO(describe(alerts));
  const double drift = traffic_start + 180 * 60;
  const AlertLine* accuracy = first_alert(alerts, "quality", "accuracy", drift, drift + 6 * 3600);
  REQUIRE(accuracy != nullptr);
  for (const AlertLine& a : alerts) {
    // The labels changed, not the scores: nothing before the drift, no label-free estimate.
    if (a.kind == "quality") CHECK(a.time >= drift);
    CHECK(a.subject.rfind("estimated_", 0) != 0);
  }
  // Every label names a request: all joined, the last five minutes' by finish().
  const std::string json = file_bytes(dir / "report.json");
  CHECK(json_number(json, "labels") == 360 * 40);
  CHECK(json_number(json, "joined") == 360 * 40);
  CHECK(json_number(json, "pending") == 0);
  CHECK(json_number(json, "unknown_ids") == 0);
  CHECK(run.out.find("\nlabels from " + dir / "labels.csv" +
                     ": 14400 rows, 14400 given to the monitor, 14400 joined; skipped: 0 (") != std::string::npos);
  CHECK(run.out.find("not joined:") == std::string::npos);
  CHECK(std::regex_search(run.out, std::regex(R"(\nquality of 'score': (warn|alert); realised over )")));
  CHECK(std::regex_search(run.out, std::regex(R"(\n\s+accuracy\s+(warn|alert)\s+0\.[0-6]\d{3}\s+0\.7\d{3}\s)")));
  CHECK(std::regex_search(run.out, std::regex(R"(\n\s+estimated_accuracy\s+ok\s+0\.\d{4}\s+0\.7\d{3}\s)")));
}

TEST_CASE("vigil replay --labels: rows without a time, an id or a label, unknown ids, duplicates, bad labels and "
          "labels dated before their request are counted exactly",
          "[cli][labels][bad_input]") {
  using namespace replay_labels_test;
  TempDir dir("labels-bad");
  write_holdout(dir / "holdout.csv", 4000);
  REQUIRE(vigil_cli(profile_labelled(dir)).code == 0);
  // An hour at 20 requests a minute, labelled 2 minutes later.
  std::vector<LabelRow> rows = write_labelled_traffic(dir / "traffic.csv", 60, 20, 120, 60, 0);
  const auto row_of = [&](const std::string& id) -> LabelRow& {
    return *std::find_if(rows.begin(), rows.end(), [&](const LabelRow& r) { return r.id == id; });
  };
  for (const char* id : {"r100", "r101", "r102", "r103"}) row_of(id).label = "";  // 4 empty labels
  row_of("r200").label = "maybe";                                                    // 1 bad label
  // 2 labels dated before their request, found in the file where their request's label would be.
  for (const char* id : {"r400", "r401"}) row_of(id).time_text = vigil::tools::format_time(row_of(id).time - 150);
  for (const char* id : {"r300", "r301"}) insert_in_order(rows, {row_of(id).time + 10, id, "0", ""});  // 2 duplicates
  for (int i = 0; i < 3; ++i) insert_in_order(rows, {traffic_start + 600 + i, "ghost" + std::to_string(i), "1", ""});
  insert_in_order(rows, {traffic_start + 900, "", "1", ""});    // no id
  rows.insert(rows.begin() + 50, {0, "r7", "1", "soon"});       // unreadable time
  rows.insert(rows.begin() + 60, {0, "r8", "1", "yesterday"});  // unreadable time
  rows.insert(rows.begin() + 70, {0, "r9", "1", "-"});          // empty time
  write_labels(dir / "labels.csv", rows);
  REQUIRE(rows.size() == 1200 + 2 + 3 + 3 + 1);

  const std::vector<std::string> args{"replay", "--reference", dir / "reference.vigil", "--input", dir / "traffic.csv",
                                      "--id-column", "request_id", "--labels", dir / "labels.csv", "--label-column", "y"};
  // The labels change no output's alerts; the per-interval file keeps its format.
  alerts_with_each_output(dir, args);
  CHECK(every_interval(interval_ends(dir / "intervals.csv"), 60));
  std::vector<std::string> summary_args = args;
  summary_args.insert(summary_args.end(), {"--alerts", dir / "alerts.jsonl"});
  const Run run = vigil_cli(summary_args);
  INFO(run.out << run.err);
  REQUIRE(run.code == 0);
  const std::string json = file_bytes(dir / "report.json");
  // 1209 rows: 8 skipped here; of the 1201 given, 1193 joined (1200 requests less 4 without a
  // label, 1 with a bad one and 2 dated before their request).
  CHECK(run.out.find(": 1209 rows, 1201 given to the monitor, 1193 joined; skipped: 8 (1 without a time, 2 with an "
                     "unreadable time, 1 without an id, 4 with an empty label)") != std::string::npos);
  CHECK(run.out.find("  not joined: 3 unknown ids, 2 duplicates, 1 bad labels (not of the output's type), 2 dated "
                     "before their request\n") != std::string::npos);
  CHECK(run.out.find("  requests with an id: 7 still waiting for a label\n") != std::string::npos);
  CHECK(run.err.find("labels.csv, row 51 (line 52), column 'ts': 'soon' is not a time") != std::string::npos);
  CHECK(json_number(json, "labels") == 1201);
  CHECK(json_number(json, "joined") == 1193);
  CHECK(json_number(json, "labelled") == 1193);
  CHECK(json_number(json, "pending") == 7);
  CHECK(json_number(json, "unknown_ids") == 3);
  CHECK(json_number(json, "duplicate_labels") == 2);
  CHECK(json_number(json, "bad_labels") == 1);
  CHECK(json_number(json, "labels_before_request") == 2);
  CHECK(json_number(json, "late_labels") == 0);
}

TEST_CASE("vigil replay --id-column alone: every request waits for a label, nothing else changes", "[cli][labels]") {
  using namespace replay_labels_test;
  TempDir dir("labels-ids");
  write_holdout(dir / "holdout.csv", 2000);
  REQUIRE(vigil_cli(profile_labelled(dir)).code == 0);
  write_labelled_traffic(dir / "traffic.csv", 30, 20, 60, 30, 0);
  const Run plain = vigil_cli(replay_with(dir, {"--json", dir / "plain.json"}));
  REQUIRE(plain.code == 0);
  const std::string plain_alerts = file_bytes(dir / "alerts.jsonl");
  const Run run = vigil_cli(replay_with(dir, {"--id-column", "request_id", "--json", dir / "ids.json"}));
  INFO(run.out << run.err);
  REQUIRE(run.code == 0);
  CHECK(file_bytes(dir / "alerts.jsonl") == plain_alerts);
  CHECK(json_number(file_bytes(dir / "plain.json"), "pending") == 0);
  CHECK(json_number(file_bytes(dir / "ids.json"), "pending") == 600);
  CHECK(run.out.find("labels from") == std::string::npos);
}

TEST_CASE("vigil replay --labels: usage errors name the option and the file", "[cli][labels]") {
  using namespace replay_labels_test;
  TempDir dir("labels-usage");
  write_holdout(dir / "holdout.csv", 500);
  REQUIRE(vigil_cli(profile_labelled(dir)).code == 0);
  const std::vector<LabelRow> rows = write_labelled_traffic(dir / "traffic.csv", 5, 10, 60, 5, 0);
  write_labels(dir / "labels.csv", rows);
  const std::string labels = dir / "labels.csv";
  const auto fails = [&](std::initializer_list<std::string> extra, const std::string& message) {
    const Run run = vigil_cli(replay_with(dir, extra));
    INFO(run.err);
    CHECK(run.code == 2);
    CHECK(run.err.find(message) != std::string::npos);
    CHECK(run.err.find("internal error") == std::string::npos);
    return run;
  };
  CHECK(fails({"--labels", labels, "--label-column", "y"}, "vigil: --labels needs --id-column").err.find(
            "usage: vigil replay") != std::string::npos);
  fails({"--labels", labels, "--id-column", "request_id"}, "vigil: --labels needs --label-column: the column of " + labels);
  fails({"--labels", dir / "none.csv", "--id-column", "request_id", "--label-column", "y"}, "none.csv");
  fails({"--labels", labels, "--id-column", "request_id", "--label-column", "label"},
        "column 'label' (--label-column) not found in " + labels + "; columns are: request_id, ts, y");
  std::ofstream(dir / "when.csv") << "request_id,when,y\nr1,2026-01-05T00:01:00Z,1\n";
  fails({"--labels", dir / "when.csv", "--id-column", "request_id", "--label-column", "y", "--time-column", "ts"},
        "column 'ts' (--time-column) not found in " + dir / "when.csv");
  // The id column must be in both files, and cannot be a feature of the reference.
  fails({"--id-column", "id"}, "column 'id' (--id-column) not found in " + dir / "traffic.csv");
  fails({"--id-column", "x"}, "column 'x' (--id-column) is a numeric feature of the reference; profile the training "
                              "file with --ignore x");
  std::ofstream(dir / "other.csv") << "id,ts,y\nr1,2026-01-05T00:01:00Z,1\n";
  fails({"--labels", dir / "other.csv", "--id-column", "request_id", "--label-column", "y"},
        "column 'request_id' (--id-column) not found in " + dir / "other.csv");
  std::ofstream(dir / "untimed.csv") << "request_id,y\nr1,1\n";
  fails({"--labels", dir / "untimed.csv", "--id-column", "request_id", "--label-column", "y"},
        "no time column in " + dir / "untimed.csv");
  // A reference without a model output has nothing for labels to judge.
  std::ofstream(dir / "features.csv") << "x\n1\n2\n3\n";
  REQUIRE(vigil_cli({"profile", "--input", dir / "features.csv", "--output", dir / "reference.vigil"}).code == 0);
  fails({"--labels", labels, "--id-column", "request_id", "--label-column", "y"}, "has no model output for the labels");
}

namespace replay_conversions_test {  // named: the files of a tests/ folder may compile as one unit

/// Four hours of requests of arms "old" and "new" (ids "c0", "c1", ...), 30 a minute; "new" is
/// launched in the last hour and converts 30 % of the time against 20 %, with delays of mean
/// 40 minutes. Writes the traffic and the responses that came before the log's end, and a few
/// bad response rows; returns the responses written that name a request.
std::size_t write_arms(const std::string& traffic, const std::string& responses) {
  std::mt19937_64 random(31);
  std::uniform_real_distribution<double> uniform(0, 1);
  std::ofstream out(traffic);
  out << "ts,request_id,x,arm\n";
  struct Response {
    double time;
    std::string id;
  };
  std::vector<Response> rows;
  const double end = traffic_start + 4 * 3600;
  for (int i = 0; i < 4 * 60 * 30; ++i) {
    const double t = traffic_start + 2.0 * i;
    const bool fresh = t >= end - 3600 && uniform(random) < 0.8;
    const std::string id = "c" + std::to_string(i);
    out << vigil::tools::format_time(t) << ',' << id << ',' << uniform(random) << ',' << (fresh ? "new" : "old") << '\n';
    if (uniform(random) < (fresh ? 0.3 : 0.2)) {
      const double at = t - 2400 * std::log(1 - uniform(random));
      if (at < end) rows.push_back({at, id});
    }
  }
  std::sort(rows.begin(), rows.end(), [](const Response& a, const Response& b) { return a.time < b.time; });
  std::ofstream r(responses);
  r << "request_id,ts\n";
  for (const Response& row : rows) r << row.id << ',' << vigil::tools::format_time(row.time) << '\n';
  r << "nobody," << vigil::tools::format_time(end - 10) << '\n';           // unknown id
  r << "," << vigil::tools::format_time(end - 9) << '\n';                  // no id
  r << "c7000," << vigil::tools::format_time(traffic_start + 60) << '\n';  // before its impression
  return rows.size();
}

}  // namespace replay_conversions_test

TEST_CASE("vigil replay --conversions: arms compared at the delay, where a naive ratio picks the wrong one",
          "[cli][conversions]") {
  using namespace replay_conversions_test;
  TempDir dir("conversions");
  std::ofstream(dir / "train.csv") << "x\n0.1\n0.5\n0.9\n0.3\n0.7\n0.2\n0.8\n0.4\n0.6\n";
  REQUIRE(vigil_cli({"profile", "--input", dir / "train.csv", "--output", dir / "reference.vigil"}).code == 0);
  const std::size_t joined = write_arms(dir / "traffic.csv", dir / "conversions.csv");
  const Run run = vigil_cli({"replay", "--reference", dir / "reference.vigil", "--input", dir / "traffic.csv",
                             "--alerts", dir / "alerts.jsonl", "--id-column", "request_id", "--conversions",
                             dir / "conversions.csv", "--arm-column", "arm", "--json", dir / "report.json"});
  INFO(run.out << run.err);
  REQUIRE(run.code == 0);
  CHECK(run.out.find("\nresponses from " + dir / "conversions.csv" + ": " + std::to_string(joined + 3) + " rows, " +
                     std::to_string(joined + 2) + " given to the monitor, " + std::to_string(joined) +
                     " joined; skipped: 1 (0 without a time, 0 with an unreadable time, 1 without an id)\n") !=
        std::string::npos);
  CHECK(run.out.find("  not joined: 1 unknown ids, 1 dated before their impression\n") != std::string::npos);
  CHECK(run.out.find("  best arm: new; a naive responses/impressions ratio would pick old\n") != std::string::npos);
  const std::string json = file_bytes(dir / "report.json");
  CHECK(json.find(R"("best_arm": "new")") != std::string::npos);
  CHECK(json.find(R"("naive_best_arm": "old")") != std::string::npos);
  CHECK(json.find(R"("share": 0.6)") != std::string::npos);
  // The arm column is a tag, not a feature: no drift is judged on it.
  CHECK(json.find(R"("name": "arm")") == std::string::npos);
}

TEST_CASE("vigil replay --conversions: misuse is refused with a usage message", "[cli][conversions][bad_input]") {
  using namespace replay_conversions_test;
  TempDir dir("conversions-usage");
  std::ofstream(dir / "train.csv") << "x\n0.1\n0.5\n0.9\n";
  REQUIRE(vigil_cli({"profile", "--input", dir / "train.csv", "--output", dir / "reference.vigil"}).code == 0);
  write_arms(dir / "traffic.csv", dir / "conversions.csv");
  const auto fails = [&](std::initializer_list<std::string> extra, const std::string& message) {
    const Run run = vigil_cli(replay_with(dir, extra));
    INFO(run.err);
    CHECK(run.code == 2);
    CHECK(run.err.find(message) != std::string::npos);
  };
  fails({"--conversions", dir / "conversions.csv", "--arm-column", "arm"}, "--conversions needs --id-column");
  fails({"--conversions", dir / "conversions.csv", "--id-column", "request_id"}, "--conversions needs --arm-column");
  fails({"--arm-column", "arm"}, "--arm-column needs --conversions");
  fails({"--conversions", dir / "conversions.csv", "--id-column", "request_id", "--arm-column", "variant"},
        "column 'variant' (--arm-column) not found in " + dir / "traffic.csv");
}

#include "../../tools/cli.hpp"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <random>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "vigil_test.hpp"

namespace {

namespace fs = std::filesystem;

/// A scratch directory, removed with everything in it at the end of the test.
class TempDir {
 public:
  explicit TempDir(const std::string& name) {
    std::random_device seed;
    path_ = fs::temp_directory_path() / ("vigil-cli-" + name + "-" + std::to_string(seed()));
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string operator/(const std::string& file) const { return (path_ / file).string(); }

 private:
  fs::path path_;
};

struct Run {
  int code;
  std::string out;
  std::string err;
};

Run vigil_cli(std::vector<std::string> args) {
  args.insert(args.begin(), "vigil");
  std::ostringstream out, err;
  const int code = vigil::tools::run_cli(args, out, err);
  return {code, out.str(), err.str()};
}

/// One alerts.jsonl line, read back with the format's regular expression.
struct AlertLine {
  double time;
  std::string kind;
  std::string subject;
  std::string severity;
};

const std::regex& line_format() {
  static const std::regex format(
      R"re(^\{"time": "(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z)", )re"
      R"re("kind": "(feature_drift|feature_shift|missing_values|out_of_range|unseen_category|schema|score_drift|)re"
      R"re(class_drift|traffic|latency|quality|canary|attribution)", )re"
      R"re("subject": "((?:[^"\\]|\\.)*)", "severity": "(warn|alert)", )re"
      R"re("statistic": (-?\d+(\.\d+)?([eE][+-]?\d+)?|null), "p_value": (-?\d+(\.\d+)?([eE][+-]?\d+)?|null), )re"
      R"re("message": "((?:[^"\\]|\\.)*)"\}$)re");
  return format;
}

/// Every line of an alerts.jsonl file; each must match the format.
std::vector<AlertLine> read_alerts(const std::string& path) {
  std::vector<AlertLine> alerts;
  std::ifstream in(path);
  REQUIRE(in);
  std::string line;
  while (std::getline(in, line)) {
    std::smatch m;
    INFO(line);
    REQUIRE(std::regex_match(line, m, line_format()));
    double t = 0;
    REQUIRE(vigil::tools::parse_time(m[1].str(), t) == vigil::tools::CellStatus::value);
    alerts.push_back({t, m[2].str(), m[3].str(), m[4].str()});
  }
  return alerts;
}

double at(const char* iso) {
  double t = 0;
  REQUIRE(vigil::tools::parse_time(iso, t) == vigil::tools::CellStatus::value);
  return t;
}

/// The first alert of `kind` on `subject` raised in [from, to], if any.
const AlertLine* first_alert(const std::vector<AlertLine>& alerts, const std::string& kind, const std::string& subject,
                             double from, double to) {
  for (const AlertLine& a : alerts)
    if (a.kind == kind && a.subject == subject && a.time >= from && a.time <= to) return &a;
  return nullptr;
}

std::string describe(const std::vector<AlertLine>& alerts) {
  std::string text;
  for (const AlertLine& a : alerts)
    text += vigil::tools::format_time(a.time) + " " + a.kind + " " + a.subject + " " + a.severity + "\n";
  return text;
}

// A model with two numeric features, one categorical, a score and a predicted class.
// Traffic arrives at 4 requests a second from 2026-01-05T00:00:00Z; from `fault_start` to
// `fault_end` seconds into it, x is reported in milli-units (x 1000).
constexpr double traffic_start = 1767571200;  // 2026-01-05T00:00:00Z

void write_rows(const std::string& path, std::size_t rows, std::uint32_t seed, bool traffic, double fault_start,
                double fault_end) {
  std::mt19937_64 random(seed);
  std::normal_distribution<double> normal(0, 1);
  std::uniform_real_distribution<double> uniform(0, 1);
  std::ofstream out(path);
  out << (traffic ? "ts,host," : "") << "x,y,color,score,predicted,label\n";
  for (std::size_t i = 0; i < rows; ++i) {
    const double t = static_cast<double>(i) * 0.25;
    double x = 10 + 2 * normal(random);
    const double y = 100 + 15 * normal(random);
    const double u = uniform(random);
    const char* color = u < 0.5 ? "red" : (u < 0.8 ? "green" : "blue");
    const double score = 1 / (1 + std::exp(-(x - 10) / 2 - 0.5 * normal(random)));
    const bool label = uniform(random) < score;
    if (traffic && t >= fault_start && t < fault_end) x *= 1000;
    char line[256];
    if (traffic)
      std::snprintf(line, sizeof line, "%s,h%d,", vigil::tools::format_time(traffic_start + t).c_str(),
                    static_cast<int>(i % 3));
    else
      line[0] = '\0';
    out << line;
    std::snprintf(line, sizeof line, "%.4f,%.3f,%s,%.4f,%s,%s\n", x, y, color, score, score >= 0.5 ? "yes" : "no",
                  label ? "yes" : "no");
    out << line;
  }
}

std::vector<std::string> profile_args(const TempDir& dir) {
  return {"profile",      "--input",     dir / "train.csv", "--output",           dir / "reference.vigil",
          "--categorical", "color",      "--score-column",  "score",              "--predicted-column",
          "predicted",    "--label-column", "label"};
}

// `vigil replay` of traffic.csv against reference.vigil into alerts.jsonl, with `extra` options.
std::vector<std::string> replay_with(const TempDir& dir, std::initializer_list<std::string> extra) {
  std::vector<std::string> args{"replay", "--reference", dir / "reference.vigil", "--input", dir / "traffic.csv",
                                "--alerts", dir / "alerts.jsonl"};
  args.insert(args.end(), extra);
  return args;
}

std::vector<std::string> replay_args(const TempDir& dir) {
  return {"replay",       "--reference", dir / "reference.vigil", "--input",        dir / "traffic.csv",
          "--alerts",     dir / "alerts.jsonl", "--tag-columns", "host",         "--label-column",
          "label"};
}

}  // namespace

TEST_CASE("vigil --help and usage errors", "[cli]") {
  Run run = vigil_cli({"--help"});
  CHECK(run.code == 0);
  CHECK(run.out.find("usage: vigil <command>") != std::string::npos);
  run = vigil_cli({"profile", "--help"});
  CHECK(run.code == 0);
  CHECK(run.out.find("--categorical") != std::string::npos);
  run = vigil_cli({"replay", "--help"});
  CHECK(run.code == 0);
  CHECK(run.out.find("--tag-columns") != std::string::npos);

  run = vigil_cli({});
  CHECK(run.code == 2);
  CHECK(run.err.find("no command") != std::string::npos);
  run = vigil_cli({"frobnicate"});
  CHECK(run.code == 2);
  CHECK(run.err.find("unknown command 'frobnicate'") != std::string::npos);
  run = vigil_cli({"replay", "--bogus", "1"});
  CHECK(run.code == 2);
  CHECK(run.err.rfind("vigil: unknown option '--bogus' for 'vigil replay'\n", 0) == 0);
  CHECK(run.err.find("usage: vigil replay") != std::string::npos);
  run = vigil_cli({"profile", "--input"});
  CHECK(run.code == 2);
  CHECK(run.err.find("option '--input' needs a value") != std::string::npos);
  run = vigil_cli({"profile", "--input", "a.csv"});
  CHECK(run.code == 2);
  CHECK(run.err.find("needs --output") != std::string::npos);
  run = vigil_cli({"replay", "--reference", "r", "--input", "i", "--alerts", "a", "--latency-unit", "h"});
  CHECK(run.code == 2);
  CHECK(run.err.find("--latency-unit must be s, ms or us") != std::string::npos);
}

TEST_CASE("vigil: missing files and columns are one-line errors with exit code 2", "[cli]") {
  TempDir dir("errors");
  Run run = vigil_cli({"profile", "--input", dir / "absent.csv", "--output", dir / "r.vigil"});
  CHECK(run.code == 2);
  CHECK(run.err == "vigil: cannot open '" + (dir / "absent.csv") + "': No such file or directory\n");

  write_rows(dir / "train.csv", 600, 1, false, 0, 0);
  run = vigil_cli({"profile", "--input", dir / "train.csv", "--output", dir / "r.vigil", "--categorical", "colour"});
  CHECK(run.code == 2);
  CHECK(run.err == "vigil: column 'colour' (--categorical) not found in " + (dir / "train.csv") +
                       "; columns are: x, y, color, score, predicted, label\n");

  auto args = profile_args(dir);
  run = vigil_cli(args);
  REQUIRE(run.code == 0);

  run = vigil_cli({"replay", "--reference", dir / "absent.vigil", "--input", dir / "train.csv", "--alerts",
                   dir / "alerts.jsonl"});
  CHECK(run.code == 2);
  CHECK(run.err.find("cannot open profile file") != std::string::npos);

  // The training file has no time column.
  run = vigil_cli({"replay", "--reference", dir / "reference.vigil", "--input", dir / "train.csv", "--alerts",
                   dir / "alerts.jsonl"});
  CHECK(run.code == 2);
  CHECK(run.err == "vigil: column 'ts' not found in " + (dir / "train.csv") +
                       "; name the time column with --time-column; columns are: x, y, color, score, predicted, label\n");
  run = vigil_cli({"replay", "--reference", dir / "reference.vigil", "--input", dir / "train.csv", "--alerts",
                   dir / "alerts.jsonl", "--time-column", "when"});
  CHECK(run.code == 2);
  CHECK(run.err.rfind("vigil: column 'when' (--time-column) not found in ", 0) == 0);

  // Traffic without two of the reference's features.
  {
    std::ofstream out(dir / "traffic.csv");
    out << "ts,x,score,predicted\n2026-01-05T00:00:00Z,1,0.5,yes\n";
  }
  run = vigil_cli(replay_args(dir));
  CHECK(run.code == 2);
  CHECK(run.err.find("the reference's features y, color are not in " + (dir / "traffic.csv")) != std::string::npos);
  CHECK(std::count(run.err.begin(), run.err.end(), '\n') == 1);
}

TEST_CASE("vigil profile: roles of columns, text detected as categorical, bad numbers counted", "[cli]") {
  TempDir dir("profile");
  {
    std::ofstream out(dir / "train.csv");
    out << "id,ts,size,city,score\n";
    for (int i = 0; i < 100; ++i)
      out << i << ",2026-01-05T00:00:" << (i % 60 < 10 ? "0" : "") << i % 60 << "Z," << (i == 7 ? "n/a" : std::to_string(i))
          << "," << (i % 2 ? "Paris" : "Lyon") << "," << (i % 10) / 10.0 << "\n";
  }
  const Run run = vigil_cli({"profile", "--input", dir / "train.csv", "--output", dir / "r.vigil", "--ignore", "id",
                             "--score-column", "score"});
  REQUIRE(run.code == 0);
  CHECK(run.err.find("column 'ts' is taken as the time column") != std::string::npos);
  CHECK(run.err.find("column 'city' is mostly text") != std::string::npos);
  const vigil::Profile profile = vigil::Profile::load(dir / "r.vigil");
  CHECK(profile.rows() == 100);
  const vigil::Schema& schema = profile.schema();
  CHECK(schema.numeric_count() == 1);
  CHECK(schema.find_numeric("size"));
  CHECK(schema.find_categorical("city"));
  CHECK(schema.find_output("score"));
  CHECK(profile.numeric(schema.numeric("size")).bad == 1);
  CHECK(std::regex_search(run.out, std::regex(R"(size\s+numeric\s+0\.0 %\s+1\s)")));
}

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
  CHECK(run.out.find("7 rows") != std::string::npos);
  CHECK(run.out.find("rows monitored: 4; skipped: 3 (1 without a time, 1 with an unreadable time, 1 late") !=
        std::string::npos);
  CHECK(std::regex_search(run.out, std::regex(R"(\n\s+x\s+1\n)")));
  CHECK(std::regex_search(run.out, std::regex(R"(\n\s+latency_ms\s+1\n)")));
}

namespace {

/// Rewrites a traffic file of write_rows: `edit(row, seconds into the traffic, fields)` gets
/// each data row's fields (ts first) and returns the fields to write; `header` is the new
/// header row.
template <class Edit>
void rewrite_rows(const std::string& path, const std::string& header, Edit edit) {
  std::vector<std::string> lines;
  {
    std::ifstream in(path);
    std::string line;
    std::getline(in, line);
    while (std::getline(in, line)) lines.push_back(line);
  }
  std::ofstream out(path, std::ios::trunc);
  out << header << '\n';
  for (std::size_t i = 0; i < lines.size(); ++i) {
    std::vector<std::string> fields;
    std::stringstream split(lines[i]);
    for (std::string f; std::getline(split, f, ',');) fields.push_back(f);
    fields = edit(i, static_cast<double>(i) * 0.25, fields);
    for (std::size_t f = 0; f < fields.size(); ++f) out << (f ? "," : "") << fields[f];
    out << '\n';
  }
}

}  // namespace

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

// Helpers for the tests of the `vigil` program: scratch directories, in-process runs, the
// alerts.jsonl format read back, and generated training and traffic files.
#pragma once

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <random>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "../../tools/cli.hpp"
#include "../../tools/csv.hpp"
#include "vigil_test.hpp"

namespace vigil_test {

/// A scratch directory, removed with everything in it at the end of the test.
class TempDir {
 public:
  explicit TempDir(const std::string& name) {
    std::random_device seed;
    path_ = std::filesystem::temp_directory_path() / ("vigil-cli-" + name + "-" + std::to_string(seed()));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string operator/(const std::string& file) const { return (path_ / file).string(); }

 private:
  std::filesystem::path path_;
};

/// What a run of the program returned and printed.
struct Run {
  int code;
  std::string out;
  std::string err;
};

/// Runs `vigil args...` in-process.
inline Run vigil_cli(std::vector<std::string> args) {
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

inline const std::regex& line_format() {
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
inline std::vector<AlertLine> read_alerts(const std::string& path) {
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

inline double at(const char* iso) {
  double t = 0;
  REQUIRE(vigil::tools::parse_time(iso, t) == vigil::tools::CellStatus::value);
  return t;
}

/// The first alert of `kind` on `subject` raised in [from, to], if any.
inline const AlertLine* first_alert(const std::vector<AlertLine>& alerts, const std::string& kind,
                                    const std::string& subject, double from, double to) {
  for (const AlertLine& a : alerts)
    if (a.kind == kind && a.subject == subject && a.time >= from && a.time <= to) return &a;
  return nullptr;
}

inline std::string describe(const std::vector<AlertLine>& alerts) {
  std::string text;
  for (const AlertLine& a : alerts)
    text += vigil::tools::format_time(a.time) + " " + a.kind + " " + a.subject + " " + a.severity + "\n";
  return text;
}

/// Requests of a model with two numeric features (x, y), one categorical (color), a score and
/// a predicted class, and the true label: the CSV cells `x,y,color,score,predicted,label`.
class RequestGenerator {
 public:
  explicit RequestGenerator(std::uint32_t seed) : random_(seed) {}

  /// The next request's cells, without a line break; x is multiplied by `x_factor` after the
  /// model has scored it, as a unit change upstream of the monitor would.
  std::string cells(double x_factor = 1) {
    const double x = 10 + 2 * normal_(random_);
    const double y = 100 + 15 * normal_(random_);
    const double u = uniform_(random_);
    const char* color = u < 0.5 ? "red" : (u < 0.8 ? "green" : "blue");
    const double score = 1 / (1 + std::exp(-(x - 10) / 2 - 0.5 * normal_(random_)));
    const bool label = uniform_(random_) < score;
    char line[256];
    std::snprintf(line, sizeof line, "%.4f,%.3f,%s,%.4f,%s,%s", x * x_factor, y, color, score,
                  score >= 0.5 ? "yes" : "no", label ? "yes" : "no");
    return line;
  }

 private:
  std::mt19937_64 random_;
  std::normal_distribution<double> normal_{0, 1};
  std::uniform_real_distribution<double> uniform_{0, 1};
};

/// Traffic starts at 2026-01-05T00:00:00Z.
inline constexpr double traffic_start = 1767571200;

/// Training rows of RequestGenerator, or traffic (with `ts` and `host` first) at 4 requests a
/// second from traffic_start; from `fault_start` to `fault_end` seconds into the traffic, x is
/// reported in milli-units (x 1000).
inline void write_rows(const std::string& path, std::size_t rows, std::uint32_t seed, bool traffic, double fault_start,
                       double fault_end) {
  RequestGenerator requests(seed);
  std::ofstream out(path);
  out << (traffic ? "ts,host," : "") << "x,y,color,score,predicted,label\n";
  for (std::size_t i = 0; i < rows; ++i) {
    const double t = static_cast<double>(i) * 0.25;
    if (traffic) out << vigil::tools::format_time(traffic_start + t) << ",h" << i % 3 << ',';
    out << requests.cells(traffic && t >= fault_start && t < fault_end ? 1000 : 1) << '\n';
  }
}

/// `vigil profile` of train.csv into reference.vigil.
inline std::vector<std::string> profile_args(const TempDir& dir) {
  return {"profile",      "--input",     dir / "train.csv", "--output",           dir / "reference.vigil",
          "--categorical", "color",      "--score-column",  "score",              "--predicted-column",
          "predicted",    "--label-column", "label"};
}

/// `vigil replay` of traffic.csv against reference.vigil into alerts.jsonl, with `extra` options.
inline std::vector<std::string> replay_with(const TempDir& dir, std::initializer_list<std::string> extra) {
  std::vector<std::string> args{"replay", "--reference", dir / "reference.vigil", "--input", dir / "traffic.csv",
                                "--alerts", dir / "alerts.jsonl"};
  args.insert(args.end(), extra);
  return args;
}

/// `vigil replay` of traffic.csv with its host tag and labels.
inline std::vector<std::string> replay_args(const TempDir& dir) {
  return {"replay",       "--reference", dir / "reference.vigil", "--input",        dir / "traffic.csv",
          "--alerts",     dir / "alerts.jsonl", "--tag-columns", "host",         "--label-column",
          "label"};
}

/// Rewrites a traffic file of write_rows: `edit(row, seconds into the traffic, fields)` gets
/// each data row's fields (ts first) and returns the fields to write; `header` is the new
/// header row.
template <class Edit>
inline void rewrite_rows(const std::string& path, const std::string& header, Edit edit) {
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


}  // namespace vigil_test

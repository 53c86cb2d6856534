// Tests of `vigil replay --samples` (the ids to label of every interval, as JSON lines) and
// of the thresholds `vigil profile --label-column` suggests on the holdout.
#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <random>
#include <regex>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "../../tools/csv.hpp"
#include "../../tools/summary.hpp"
#include "tools/cli_fixture.hpp"
#include "vigil/export/detail/text.hpp"
#include "vigil/stats/classification.hpp"

namespace samples_cli_test {  // named: the files of a tests/ folder may compile as one unit
namespace {

// A holdout of a binary classifier: score sigmoid(2x) written with 4 decimals, label drawn
// with the score's probability. Returns the (score, label) pairs as the profile reads them.
std::pair<std::vector<double>, std::vector<int>> write_holdout(const std::string& path, int rows) {
  std::mt19937_64 random(31);
  std::normal_distribution<double> normal(0, 1);
  std::uniform_real_distribution<double> uniform(0, 1);
  std::ofstream out(path);
  out << "x,score,y\n";
  std::vector<double> scores;
  std::vector<int> labels;
  for (int i = 0; i < rows; ++i) {
    const double x = normal(random);
    char score[32];
    std::snprintf(score, sizeof score, "%.4f", 1 / (1 + std::exp(-2 * x)));
    const int y = uniform(random) < std::stod(score) ? 1 : 0;
    out << x << ',' << score << ',' << y << '\n';
    scores.push_back(std::stod(score));
    labels.push_back(y);
  }
  return {scores, labels};
}

std::vector<std::string> profile_holdout(const vigil_test::TempDir& dir, std::vector<std::string> extra) {
  std::vector<std::string> args{"profile",        dir / "holdout.csv", "--output", dir / "reference.vigil",
                                "--score-column", "score",             "--label-column", "y"};
  args.insert(args.begin() + 1, "--input");
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

// A request of the traffic: its minute, id (empty: none) and score text.
struct Request {
  int minute;
  std::string id;
  std::string score;
};

// `minutes` minutes of `per_minute` requests from traffic_start; one in 10 has no id, one in
// 25 no score; scores with 2 decimals, so that ties are many.
std::vector<Request> write_traffic(const std::string& path, int minutes, int per_minute) {
  std::mt19937_64 random(32);
  std::uniform_int_distribution<int> percent(0, 99);
  std::ofstream out(path);
  out << "ts,request_id,x,score\n";
  std::vector<Request> requests;
  for (int m = 0; m < minutes; ++m)
    for (int i = 0; i < per_minute; ++i) {
      const double t = vigil_test::traffic_start + 60.0 * m + 60.0 * (i + 0.5) / per_minute;
      Request r{m, i % 10 == 3 ? "" : "q" + std::to_string(m * per_minute + i), ""};
      if (i % 25 != 7) r.score = "0." + std::to_string(10 + percent(random) % 90);
      out << vigil::tools::format_time(t) << ',' << r.id << ",0.5," << r.score << '\n';
      requests.push_back(r);
    }
  return requests;
}

using Line = std::tuple<double, std::string, std::string, double>;  // interval_end, kind, id, score

// Every line of a samples.jsonl file; each must have exactly the documented keys, in order.
std::vector<Line> read_samples(const std::string& path) {
  static const std::regex format(
      R"re(^\{"interval_end": (\d+(\.\d+)?), "kind": "(lowest_confidence|highest_confidence|near_threshold)", )re"
      R"re("id": "([^"\\]*)", "score": (-?\d+(\.\d+)?([eE][+-]?\d+)?)\}$)re");
  std::ifstream in(path);
  REQUIRE(in);
  std::vector<Line> lines;
  std::string text;
  while (std::getline(in, text)) {
    std::smatch m;
    INFO(text);
    REQUIRE(std::regex_match(text, m, format));
    lines.emplace_back(std::stod(m[1].str()), m[3].str(), m[4].str(), std::stod(m[5].str()));
  }
  return lines;
}

// The lines a kind must have for one minute of requests, by brute force over all of them.
template <class Key>
std::vector<Line> expected(const std::vector<Request>& requests, int minute, const char* kind, Key&& key) {
  std::vector<std::tuple<double, std::string, double>> all;
  for (const Request& r : requests)
    if (r.minute == minute && !r.id.empty() && !r.score.empty())
      all.emplace_back(key(std::stod(r.score)), r.id, std::stod(r.score));
  std::sort(all.begin(), all.end());
  std::vector<Line> out;
  const double end = vigil_test::traffic_start + 60.0 * (minute + 1);
  for (std::size_t i = 0; i < std::min<std::size_t>(20, all.size()); ++i)
    out.emplace_back(end, kind, std::get<1>(all[i]), std::get<2>(all[i]));
  return out;
}

// The figures of one row of the thresholds table: threshold, precision, recall, F1 as text.
std::vector<std::string> threshold_row(const std::string& out, const std::string& rule) {
  std::smatch m;
  const std::regex row("\n  " + rule + " +(\\S+) +(\\S+) +(\\S+) +(\\S+)\n");
  if (!std::regex_search(out, m, row)) return {};
  return {m[1].str(), m[2].str(), m[3].str(), m[4].str()};
}

std::vector<std::string> as_row(const vigil::stats::ThresholdChoice& c) {
  return {vigil::detail::to_text(c.threshold), vigil::tools::figure(c.precision, "%.4f"),
          vigil::tools::figure(c.recall, "%.4f"), vigil::tools::figure(c.f1, "%.4f")};
}

}  // namespace

TEST_CASE("vigil replay --samples: every interval's ids to label, each kind as brute force picks it", "[cli][samples]") {
  vigil_test::TempDir dir("samples");
  write_holdout(dir / "holdout.csv", 1000);
  REQUIRE(vigil_test::vigil_cli(profile_holdout(dir, {"--threshold", "0.3"})).code == 0);
  const std::vector<Request> requests = write_traffic(dir / "traffic.csv", 3, 150);
  const vigil_test::Run run = vigil_test::vigil_cli(
      vigil_test::replay_with(dir, {"--id-column", "request_id", "--samples", dir / "samples.jsonl"}));
  INFO(run.err);
  REQUIRE(run.code == 0);
  const std::vector<Line> lines = read_samples(dir / "samples.jsonl");
  std::vector<Line> want;
  for (int m = 0; m < 3; ++m) {
    const auto add = [&](std::vector<Line> part) { want.insert(want.end(), part.begin(), part.end()); };
    add(expected(requests, m, "lowest_confidence", [](double p) { return std::max(p, 1 - p); }));
    add(expected(requests, m, "highest_confidence", [](double p) { return -std::max(p, 1 - p); }));
    add(expected(requests, m, "near_threshold", [](double p) { return std::fabs(p - 0.3); }));
  }
  CHECK(lines.size() == 3 * 3 * 20);
  CHECK(lines == want);
}

TEST_CASE("vigil replay --samples: needs --id-column, a regression writes nothing and says why", "[cli][samples]") {
  vigil_test::TempDir dir("samples-usage");
  write_holdout(dir / "holdout.csv", 200);
  REQUIRE(vigil_test::vigil_cli(profile_holdout(dir, {})).code == 0);  // no threshold: a regression
  write_traffic(dir / "traffic.csv", 2, 50);
  const vigil_test::Run usage = vigil_test::vigil_cli(vigil_test::replay_with(dir, {"--samples", dir / "s.jsonl"}));
  CHECK(usage.code == 2);
  CHECK(usage.err.find("vigil: --samples needs --id-column: a sample to label is a request id, read from that "
                       "column of " + dir / "traffic.csv") != std::string::npos);
  const vigil_test::Run regression = vigil_test::vigil_cli(
      vigil_test::replay_with(dir, {"--id-column", "request_id", "--samples", dir / "s.jsonl"}));
  INFO(regression.err);
  REQUIRE(regression.code == 0);
  CHECK(regression.err.find("note: output 'score' is a regression (no --threshold, no classes): it has no confidence "
                            "to rank requests by, and " + dir / "s.jsonl" + " stays empty") != std::string::npos);
  CHECK(read_samples(dir / "s.jsonl").empty());
}

TEST_CASE("vigil profile --label-column: the thresholds of max F1, Youden's J and a target precision", "[cli][samples]") {
  vigil_test::TempDir dir("thresholds");
  const auto [scores, labels] = write_holdout(dir / "holdout.csv", 3000);
  for (const double target : {0.9, 0.8}) {
    std::vector<std::string> extra{"--threshold", "0.5"};
    if (target != 0.9) extra.insert(extra.end(), {"--target-precision", "0.8"});
    const vigil_test::Run run = vigil_test::vigil_cli(profile_holdout(dir, extra));
    INFO(run.out << run.err);
    REQUIRE(run.code == 0);
    CHECK(run.out.find("thresholds the holdout suggests (positive at and above; 3000 labelled rows with a score):") !=
          std::string::npos);
    CHECK(threshold_row(run.out, "max F1") == as_row(vigil::stats::max_f1_threshold(scores, labels)));
    CHECK(threshold_row(run.out, "Youden's J") == as_row(vigil::stats::youden_threshold(scores, labels)));
    const std::string rule = "precision >= " + vigil::detail::to_text(target);
    CHECK(threshold_row(run.out, rule) == as_row(vigil::stats::precision_threshold(scores, labels, target)));
  }
  // Without --threshold the labels are still 0/1: the same suggestions.
  const vigil_test::Run plain = vigil_test::vigil_cli(profile_holdout(dir, {}));
  CHECK(threshold_row(plain.out, "max F1") == as_row(vigil::stats::max_f1_threshold(scores, labels)));
  const auto usage = [&](std::vector<std::string> extra, const std::string& message) {
    const vigil_test::Run run = vigil_test::vigil_cli(extra);
    CHECK(run.code == 2);
    CHECK(run.err.find(message) != std::string::npos);
  };
  usage(profile_holdout(dir, {"--target-precision", "1.5"}), "--target-precision takes a precision in (0, 1], not '1.5'");
  usage({"profile", "--input", dir / "holdout.csv", "--output", dir / "r.vigil", "--target-precision", "0.8"},
        "--target-precision needs --label-column");
}

}  // namespace samples_cli_test

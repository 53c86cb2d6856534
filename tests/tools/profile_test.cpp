// Tests of tools/profile.hpp: `vigil profile`.
#include "../../tools/profile.hpp"

#include <fstream>
#include <regex>
#include <string>

#include "tools/cli_fixture.hpp"
#include "vigil/monitor/profile.hpp"

using vigil_test::Run;
using vigil_test::TempDir;
using vigil_test::vigil_cli;

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

TEST_CASE("vigil profile: the time column is found as vigil replay finds it, and left out", "[cli]") {
  TempDir dir("profile-time");
  {
    std::ofstream out(dir / "train.csv");
    out << "size,timestamp,when\n";
    for (int i = 0; i < 100; ++i)
      out << i << "," << 1767571200000 + 1000 * i << ",2026-01-05T00:00:" << (i % 60 < 10 ? "0" : "") << i % 60
          << "Z\n";
  }
  Run run = vigil_cli({"profile", "--input", dir / "train.csv", "--output", dir / "r.vigil"});
  INFO(run.err);
  REQUIRE(run.code == 0);
  // Unix milliseconds under a time name; the other column of times is left out too.
  CHECK(run.err.find("note: column 'timestamp' is taken as the time column and left out") != std::string::npos);
  CHECK(run.err.find("note: column 'when' holds times; left out") != std::string::npos);
  CHECK(std::regex_search(run.out, std::regex(R"(timestamp\s+time \(not a feature\))")));
  vigil::Profile profile = vigil::Profile::load(dir / "r.vigil");
  CHECK(profile.schema().numeric_count() == 1);
  CHECK(profile.schema().find_numeric("size"));

  // --time-column names it; then `timestamp` is an ordinary number.
  run = vigil_cli({"profile", "--input", dir / "train.csv", "--output", dir / "r.vigil", "--time-column", "when"});
  REQUIRE(run.code == 0);
  CHECK(run.err.find("is taken as the time column") == std::string::npos);
  profile = vigil::Profile::load(dir / "r.vigil");
  CHECK(profile.schema().find_numeric("timestamp"));
}

TEST_CASE("vigil profile: --label-column and --threshold make the holdout's labels the quality baseline", "[cli][labels]") {
  TempDir dir("profile-labels");
  double tp = 0, fp = 0, fn = 0, tn = 0;
  {
    std::ofstream out(dir / "holdout.csv");
    out << "x,score,y\n";
    for (int i = 0; i < 200; ++i) {
      const double score = (i % 20) / 20.0;
      const int y = (i % 20 >= 12) != (i % 7 == 0) ? 1 : 0;
      // Every 50th row has no label, every 61st a label that is not 0 or 1.
      const std::string label = i % 50 == 0 ? "" : i % 61 == 0 ? "maybe" : std::to_string(y);
      out << i << "," << score << "," << label << "\n";
      if (i % 50 == 0 || i % 61 == 0) continue;
      const bool predicted = score >= 0.3;
      tp += predicted && y == 1;
      fp += predicted && y == 0;
      fn += !predicted && y == 1;
      tn += !predicted && y == 0;
    }
  }
  const Run run = vigil_cli({"profile", "--input", dir / "holdout.csv", "--output", dir / "r.vigil", "--score-column",
                             "score", "--label-column", "y", "--threshold", "0.3"});
  INFO(run.err);
  REQUIRE(run.code == 0);
  const vigil::Profile profile = vigil::Profile::load(dir / "r.vigil");
  CHECK(profile.rows() == 200);
  CHECK(profile.schema().numeric_count() == 1);  // the label is no feature
  const vigil::Output score = profile.schema().output("score");
  CHECK(profile.schema().options(score).threshold == 0.3);
  const auto& ref = profile.output(score);
  CHECK(ref.bad_labels == 3);  // rows 61, 122 and 183
  CHECK(ref.labels.labelled == 200 - 4 - 3);
  CHECK(ref.labels.true_positive == tp);
  CHECK(ref.labels.false_positive == fp);
  CHECK(ref.labels.false_negative == fn);
  CHECK(ref.labels.true_negative == tn);
  CHECK(run.out.find("quality baseline of 'score': 193 labelled rows, 3 labels that do not fit the output") !=
        std::string::npos);
  CHECK(std::regex_search(run.out, std::regex(R"(accuracy \d+\.\d %, precision \d+\.\d %, recall \d+\.\d %, log-loss)")));

  const Run no_score = vigil_cli({"profile", "--input", dir / "holdout.csv", "--output", dir / "s.vigil", "--label-column", "y"});
  CHECK(no_score.code != 0);
  CHECK(no_score.err.find("--label-column needs --score-column") != std::string::npos);
  const Run bad_threshold = vigil_cli({"profile", "--input", dir / "holdout.csv", "--output", dir / "s.vigil",
                                       "--score-column", "score", "--threshold", "high"});
  CHECK(bad_threshold.code != 0);
  CHECK(bad_threshold.err.find("--threshold takes a finite number") != std::string::npos);
}

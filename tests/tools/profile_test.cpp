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

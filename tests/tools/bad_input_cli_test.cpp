// The rows of the bad-input matrix (docs/bad_input.md) about the `vigil` program: bad CSV
// files and bad reference files given to `vigil profile` and `vigil replay`. Each test is
// named after its row.
#include <algorithm>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "tools/cli_fixture.hpp"

namespace {

using vigil_test::Run;
using vigil_test::TempDir;
using vigil_test::vigil_cli;

// reference.vigil in `dir`, profiled from 2000 rows of the fixture's training data.
void bad_input_cli_reference(const TempDir& dir) {
  vigil_test::write_rows(dir / "train.csv", 2000, 1, false, 0, 0);
  REQUIRE(vigil_cli(vigil_test::profile_args(dir)).code == 0);
}

void bad_input_cli_write(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

// `vigil replay` of `traffic` (the text of traffic.csv) against reference.vigil.
Run bad_input_cli_replay(const TempDir& dir, const std::string& traffic) {
  bad_input_cli_write(dir / "traffic.csv", traffic);
  return vigil_cli(vigil_test::replay_with(dir, {}));
}

// `vigil profile` of `training` (the text of t.csv) into r.vigil.
Run bad_input_cli_profile(const TempDir& dir, const std::string& training) {
  bad_input_cli_write(dir / "t.csv", training);
  return vigil_cli({"profile", "--input", dir / "t.csv", "--output", dir / "r.vigil"});
}

const char* const bad_input_cli_header = "ts,x,y,color,score,predicted\n";

}  // namespace

TEST_CASE("bad input: vigil profile or replay of an empty CSV file exits with code 2", "[bad_input][cli]") {
  TempDir dir("bad-input-empty");
  bad_input_cli_reference(dir);
  Run run = bad_input_cli_replay(dir, "");
  CHECK(run.code == 2);
  CHECK(run.err == "vigil: " + (dir / "traffic.csv") + ": no header row (the input is empty)\n");
  run = bad_input_cli_profile(dir, "");
  CHECK(run.code == 2);
  CHECK(run.err == "vigil: " + (dir / "t.csv") + ": no header row (the input is empty)\n");
}

TEST_CASE("bad input: vigil profile or replay of a CSV file with a header and no rows exits with code 2",
          "[bad_input][cli]") {
  TempDir dir("bad-input-header-only");
  bad_input_cli_reference(dir);
  Run run = bad_input_cli_replay(dir, bad_input_cli_header);
  CHECK(run.code == 2);
  CHECK(run.err == "vigil: " + (dir / "traffic.csv") + " has no row with a time in column 'ts' (0 rows read)\n");
  run = bad_input_cli_profile(dir, "x,y\n");
  CHECK(run.code == 2);
  CHECK(run.err.find("vigil: " + (dir / "t.csv") + " has no data rows\n") != std::string::npos);
}

TEST_CASE("bad input: CSV rows with more or fewer fields than the header are left out and counted",
          "[bad_input][cli]") {
  TempDir dir("bad-input-ragged");
  bad_input_cli_reference(dir);
  Run run = bad_input_cli_replay(dir, std::string(bad_input_cli_header) +
                                          "2026-01-05T00:00:01Z,10,100,red,0.5,yes\n"
                                          "2026-01-05T00:00:02Z,10,100,red\n"
                                          "2026-01-05T00:00:03Z,10,100,red,0.5,yes,extra\n"
                                          "2026-01-05T00:00:04Z,10,100,red,0.5,yes\n");
  INFO(run.out << run.err);
  REQUIRE(run.code == 0);
  CHECK(run.out.find("rows monitored: 2;") != std::string::npos);
  CHECK(run.out.find("; 2 rows with the wrong number of fields left out\n") != std::string::npos);
  run = bad_input_cli_profile(dir, "x,y\n1,2\n3\n4,5,6\n7,8\n");
  REQUIRE(run.code == 0);
  CHECK(run.out.find(": 2 rows -> ") != std::string::npos);
  CHECK(run.out.find("  skipped 2 rows whose field count differs from the header's\n") != std::string::npos);
}

TEST_CASE("bad input: a CSV quoted field never closed exits with code 2 naming the line and column",
          "[bad_input][cli]") {
  TempDir dir("bad-input-quote");
  bad_input_cli_reference(dir);
  const Run run = bad_input_cli_replay(dir, std::string(bad_input_cli_header) +
                                                "2026-01-05T00:00:01Z,10,100,red,0.5,yes\n"
                                                "2026-01-05T00:00:02Z,10,\"100,red,0.5,yes\n"
                                                "2026-01-05T00:00:03Z,10,100,red,0.5,yes\n");
  CHECK(run.code == 2);
  CHECK(run.err == "vigil: " + (dir / "traffic.csv") + ":3: quoted field in column 3 is never closed\n");
}

TEST_CASE("bad input: a CSV number cell that is infinite or overflows is counted as a bad value", "[bad_input][cli]") {
  TempDir dir("bad-input-numbers");
  bad_input_cli_reference(dir);
  const Run run = bad_input_cli_replay(dir, std::string(bad_input_cli_header) +
                                                "2026-01-05T00:00:01Z,inf,100,red,0.5,yes\n"
                                                "2026-01-05T00:00:02Z,1e999,100,red,0.5,yes\n"
                                                "2026-01-05T00:00:03Z,-inf,100,red,0.5,yes\n"
                                                "2026-01-05T00:00:04Z,0x10,100,red,0.5,yes\n"
                                                "2026-01-05T00:00:05Z,10,100,red,0.5,yes\n");
  INFO(run.out << run.err);
  REQUIRE(run.code == 0);
  CHECK(run.out.find("rows monitored: 5;") != std::string::npos);
  CHECK(run.out.find("unreadable cells (counted as bad values):\n    x  4\n") != std::string::npos);
}

TEST_CASE("bad input: a training CSV with a duplicate or empty column name exits with code 2", "[bad_input][cli]") {
  TempDir dir("bad-input-names");
  Run run = bad_input_cli_profile(dir, "x,x,y\n1,2,3\n4,5,6\n");
  CHECK(run.code == 2);
  CHECK(run.err == "vigil: " + (dir / "t.csv") + ": column 'x' appears twice in the header (columns 1 and 2); rename one\n");
  run = bad_input_cli_profile(dir, "x,,y\n1,2,3\n4,5,6\n");
  CHECK(run.code == 2);
  CHECK(run.err == "vigil: " + (dir / "t.csv") + ": Schema: a numeric feature needs a name\n");
}

TEST_CASE("bad input: vigil replay of a truncated or foreign reference file exits with code 2", "[bad_input][cli]") {
  TempDir dir("bad-input-reference");
  bad_input_cli_reference(dir);
  bad_input_cli_write(dir / "traffic.csv",
                      std::string(bad_input_cli_header) + "2026-01-05T00:00:01Z,10,100,red,0.5,yes\n");
  std::string bytes;
  {
    std::ifstream in(dir / "reference.vigil", std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  REQUIRE(bytes.size() > 64);
  bad_input_cli_write(dir / "reference.vigil", bytes.substr(0, bytes.size() / 2));
  Run run = vigil_cli(vigil_test::replay_with(dir, {}));
  CHECK(run.code == 2);
  CHECK(run.err.rfind("vigil: profile file '" + (dir / "reference.vigil") + "': cannot read Profile: ", 0) == 0);
  CHECK(std::count(run.err.begin(), run.err.end(), '\n') == 1);
  bad_input_cli_write(dir / "reference.vigil", bytes.substr(0, 5));
  run = vigil_cli(vigil_test::replay_with(dir, {}));
  CHECK(run.code == 2);
  CHECK(run.err.find("cannot read Profile: truncated") != std::string::npos);
  run = vigil_cli({"replay", "--reference", dir / "traffic.csv", "--input", dir / "traffic.csv", "--alerts",
                   dir / "alerts.jsonl"});
  CHECK(run.code == 2);
  CHECK(run.err == "vigil: profile file '" + (dir / "traffic.csv") +
                       "': cannot read Profile: not a vigil object (bad magic bytes)\n");
}

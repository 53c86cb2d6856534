// Tests of tools/cli.hpp: the program's commands, usage and exit codes, run in-process.
#include "../../tools/cli.hpp"

#include <algorithm>
#include <fstream>
#include <string>

#include "tools/cli_fixture.hpp"

using vigil_test::profile_args;
using vigil_test::replay_args;
using vigil_test::Run;
using vigil_test::TempDir;
using vigil_test::vigil_cli;
using vigil_test::write_rows;

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

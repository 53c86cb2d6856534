// Tests of tools/cli.hpp: the program's commands, usage and exit codes, run in-process.
#include "../../tools/cli.hpp"

#include <algorithm>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

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
  CHECK(run.err == "vigil: no time column in " + (dir / "train.csv") +
                       ": looked for a column named 'ts', then one named time, timestamp, datetime, date, event_time "
                       "(any case) whose cells are mostly times, then one whose cells are mostly ISO-8601 times, in "
                       "the first 1000 rows; name it with --time-column; columns are: x, y, color, score, predicted, "
                       "label\n");
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

TEST_CASE("vigil replay: bad option values are usage errors with exit code 2 that name the value", "[cli]") {
  const std::vector<std::string> files{"replay", "--reference", "r.vigil", "--input", "t.csv", "--alerts", "a.jsonl"};
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases{
      {{"--time-unit", "sec"}, "--time-unit must be s, ms, us or ns, not 'sec'"},
      {{"--interval", "0"}, "--interval must be a number of seconds, at least 0.001, not '0'"},
      {{"--interval", "1e-300"}, "--interval must be a number of seconds, at least 0.001, not '1e-300'"},
      {{"--interval", "inf"}, "--interval must be a number of seconds, at least 0.001, not 'inf'"},
      {{"--horizon", "-5"}, "--horizon must be a positive number of seconds, not '-5'"},
      {{"--background", "30"}, "--background must be a number of seconds, at least one interval (60), not '30'"},
      {{"--interval", "300", "--background", "299"},
       "--background must be a number of seconds, at least one interval (300), not '299'"},
      {{"--min-requests", "0"}, "--min-requests must be a whole number of requests, at least 1, not '0'"},
      {{"--min-requests", "2.5"}, "--min-requests must be a whole number of requests, at least 1, not '2.5'"},
      {{"--min-requests", "-3"}, "--min-requests must be a whole number of requests, at least 1, not '-3'"},
      {{"--min-requests", "99999999999999999999999"},
       "--min-requests must be a whole number of requests, at least 1, not '99999999999999999999999'"},
      {{"--cool-down", "-1"}, "--cool-down must be a number of seconds, 0 or more, not '-1'"},
      {{"--cool-down", "soon"}, "--cool-down must be a number of seconds, 0 or more, not 'soon'"},
  };
  for (const auto& [options, message] : cases) {
    std::vector<std::string> args = files;
    args.insert(args.end(), options.begin(), options.end());
    const Run run = vigil_cli(args);
    INFO(message);
    CHECK(run.code == 2);
    CHECK(run.err.rfind("vigil: " + message + "\n\nusage: vigil replay", 0) == 0);
  }
}

TEST_CASE("vigil: exit code 0 when done, 2 for bad input, never 1", "[cli]") {
  TempDir dir("exit-codes");
  write_rows(dir / "train.csv", 2000, 1, false, 0, 0);
  REQUIRE(vigil_cli(profile_args(dir)).code == 0);
  // Unix milliseconds and times outside years 0000-9999 used to reach the summary, which
  // could not print them and ended with exit code 1.
  {
    std::ofstream out(dir / "traffic.csv");
    out << "ts,x,y,color,score,predicted\n"
        << "1767571200000,10,100,red,0.5,yes\n"
        << "1767571201000,10,100,red,0.5,yes\n"
        << "-99999999999,10,100,red,0.5,yes\n";
  }
  const std::vector<std::string> replay{"replay", "--reference", dir / "reference.vigil", "--input",
                                        dir / "traffic.csv", "--alerts", dir / "alerts.jsonl"};
  Run run = vigil_cli(replay);
  INFO(run.err);
  CHECK(run.code == 0);
  CHECK(run.out.find("3 rows, 2026-01-05T00:00:00.000Z to 2026-01-05T00:00:01.000Z") != std::string::npos);
  CHECK(run.err.find("'-99999999999' is not a time") != std::string::npos);

  // Bad input of each kind: exit code 2, one line (and the usage for the command line).
  std::vector<std::vector<std::string>> bad{
      {"replay", "--reference", dir / "train.csv", "--input", dir / "traffic.csv", "--alerts", dir / "a.jsonl"},
      {"replay", "--reference", dir / "reference.vigil", "--input", dir / "absent.csv", "--alerts", dir / "a.jsonl"},
      {"replay", "--reference", dir / "reference.vigil", "--input", dir / "traffic.csv", "--alerts",
       dir / "absent/a.jsonl"},
      {"replay", "--reference", dir / "reference.vigil", "--input", dir / "traffic.csv", "--alerts", dir / "a.jsonl",
       "--time-unit", "s", "--time-column", "color"},
      {"profile", "--input", dir / "traffic.csv", "--output", dir / "absent/r.vigil"},
  };
  for (const auto& args : bad) {
    run = vigil_cli(args);
    INFO(args[0] << " " << args[2] << " " << args[4]);
    INFO(run.err);
    CHECK(run.code == 2);
    // Notes may come first; the error is the last line.
    const std::size_t last = run.err.rfind('\n', run.err.size() - 2);
    CHECK(run.err.compare(last == std::string::npos ? 0 : last + 1, 7, "vigil: ") == 0);
    CHECK(run.err.find("internal error") == std::string::npos);
  }
}

TEST_CASE("vigil profile and replay refuse a header that names a column twice", "[cli]") {
  TempDir dir("duplicate-columns");
  write_rows(dir / "train.csv", 2000, 1, false, 0, 0);
  REQUIRE(vigil_cli(profile_args(dir)).code == 0);
  {
    std::ofstream out(dir / "traffic.csv");
    out << "ts,x,y,x,color,score,predicted\n"
        << "1767571200,10,100,99,red,0.5,yes\n"
        << "1767571201,10,100,99,red,0.5,yes\n";
  }
  const char* message = "traffic.csv: column 'x' appears twice in the header (columns 2 and 4); rename one";
  Run run = vigil_cli({"replay", "--reference", dir / "reference.vigil", "--input", dir / "traffic.csv", "--alerts",
                       dir / "alerts.jsonl"});
  INFO(run.err);
  CHECK(run.code == 2);
  CHECK(run.err.find(message) != std::string::npos);
  // The same check refuses it in `vigil profile`, even for a column it would ignore.
  run = vigil_cli({"profile", "--input", dir / "traffic.csv", "--output", dir / "r.vigil", "--ignore", "y"});
  INFO(run.err);
  CHECK(run.code == 2);
  CHECK(run.err.find(message) != std::string::npos);
}

TEST_CASE("vigil profile and replay report text after a closing quote, with its first line and column", "[cli]") {
  TempDir dir("quote-errors");
  {
    std::ofstream out(dir / "train.csv");
    out << "x,color\n";
    for (int i = 0; i < 200; ++i) out << i << ',' << (i == 3 || i == 9 ? "\"red\"x" : "red") << '\n';
  }
  Run run = vigil_cli({"profile", "--input", dir / "train.csv", "--output", dir / "reference.vigil", "--categorical",
                       "color"});
  INFO(run.err);
  CHECK(run.code == 0);
  CHECK(run.out.find("read 2 fields with text after their closing quote, kept literally") != std::string::npos);
  CHECK(run.err.find("warning: " + (dir / "train.csv") +
                     ": 2 fields have text after the closing quote, kept literally (\"red\"x reads as redx); the "
                     "first at line 5, column 'color'") != std::string::npos);
  {
    std::ofstream out(dir / "traffic.csv");
    out << "ts,x,color\n"
        << "1767571200,1,red\n"
        << "1767571201,2,\"red\"x\n";
  }
  run = vigil_cli({"replay", "--reference", dir / "reference.vigil", "--input", dir / "traffic.csv", "--alerts",
                   dir / "alerts.jsonl"});
  INFO(run.err);
  CHECK(run.code == 0);
  CHECK(run.out.find("; 1 fields with text after their closing quote, kept literally") != std::string::npos);
  CHECK(run.err.find("1 field has text after the closing quote, kept literally (\"red\"x reads as redx); the first "
                     "at line 3, column 'color'") != std::string::npos);
}

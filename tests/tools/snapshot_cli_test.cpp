// Tests of `vigil replay --snapshot/--snapshot-every/--restore`, `vigil merge` and
// `vigil report --snapshot` (docs/cli.md).
#include <fstream>
#include <string>
#include <vector>

#include "cli_fixture.hpp"

using vigil_test::read_alerts;
using vigil_test::replay_with;
using vigil_test::Run;
using vigil_test::TempDir;
using vigil_test::vigil_cli;
using vigil_test::write_rows;

// A named namespace, not an anonymous one: the tools tests may be compiled as one unit.
namespace snapshot_cli_test {

// The lines of a file.
std::vector<std::string> lines_of(const std::string& path) {
  std::vector<std::string> lines;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// Writes rows [from, to) of traffic.csv (its header first) to `path`.
void slice(const TempDir& dir, const std::string& path, std::size_t from, std::size_t to) {
  const std::vector<std::string> lines = lines_of(dir / "traffic.csv");
  std::ofstream out(path);
  out << lines[0] << '\n';
  for (std::size_t i = from; i < to && i + 1 < lines.size(); ++i) out << lines[i + 1] << '\n';
}

std::vector<std::string> with(std::vector<std::string> args, std::initializer_list<std::string> extra) {
  args.insert(args.end(), extra);
  return args;
}


TEST_CASE("vigil replay --snapshot then --restore raises the alerts of one replay of the whole log", "[cli][snapshot]") {
  TempDir dir("snapshot");
  write_rows(dir / "train.csv", 4000, 1, false, 0, 0);
  write_rows(dir / "traffic.csv", 14400, 2, true, 30 * 60, 40 * 60);  // an hour; x in milli-units in minutes 30–40
  REQUIRE(vigil_cli(vigil_test::profile_args(dir)).code == 0);
  const Run whole = vigil_cli(with(replay_with(dir, {}), {"--tag-columns", "host", "--json", dir / "whole.json"}));
  REQUIRE(whole.code == 0);
  const std::vector<std::string> all = lines_of(dir / "alerts.jsonl");
  REQUIRE(all.size() >= 2);

  // The first 33 minutes and a half, snapshotted every 10 minutes of event time and at the end.
  slice(dir, dir / "first.csv", 0, 8040);
  slice(dir, dir / "second.csv", 8040, 14400);
  const Run first = vigil_cli({"replay", "--reference", dir / "reference.vigil", "--input", dir / "first.csv",
                               "--alerts", dir / "first.jsonl", "--tag-columns", "host", "--snapshot",
                               dir / "state.vigil", "--snapshot-every", "600"});
  INFO(first.err);
  REQUIRE(first.code == 0);
  CHECK(first.out.find("snapshot: " + dir / "state.vigil" + " (4 written;") != std::string::npos);
  // The rest, continued from the snapshot, with the whole file given: its first part is
  // passed over as counted.
  const Run second = vigil_cli({"replay", "--reference", dir / "reference.vigil", "--input", dir / "traffic.csv",
                                "--alerts", dir / "second.jsonl", "--tag-columns", "host", "--restore",
                                dir / "state.vigil", "--json", dir / "second.json"});
  INFO(second.err);
  REQUIRE(second.code == 0);
  CHECK(second.out.find("rows monitored: 14400") != std::string::npos);
  CHECK(second.out.find("8040 rows the restored snapshot had already counted passed over") != std::string::npos);
  std::vector<std::string> joined = lines_of(dir / "first.jsonl");
  for (const std::string& line : lines_of(dir / "second.jsonl")) joined.push_back(line);
  CHECK(joined == all);
  // The end report of the continued replay is the whole replay's, byte for byte.
  CHECK(lines_of(dir / "second.json") == lines_of(dir / "whole.json"));

  // A snapshot restored under another interval is refused, naming the option.
  const Run other = vigil_cli({"replay", "--reference", dir / "reference.vigil", "--input", dir / "second.csv",
                               "--alerts", dir / "other.jsonl", "--tag-columns", "host", "--restore",
                               dir / "state.vigil", "--interval", "30"});
  CHECK(other.code == 2);
  CHECK(other.err.find("MonitorOptions::interval is 60 in the snapshot and 30 here") != std::string::npos);
  const Run missing = vigil_cli(with(replay_with(dir, {}), {"--restore", dir / "missing.vigil"}));
  CHECK(missing.code == 2);
  CHECK(missing.err.find("missing.vigil") != std::string::npos);
  const Run lonely = vigil_cli(with(replay_with(dir, {}), {"--snapshot-every", "60"}));
  CHECK(lonely.code == 2);
  CHECK(lonely.err.find("--snapshot-every needs --snapshot") != std::string::npos);
}

TEST_CASE("vigil merge adds up replicas' snapshots, vigil report reports a snapshot on its own", "[cli][snapshot]") {
  TempDir dir("merge");
  write_rows(dir / "train.csv", 4000, 1, false, 0, 0);
  write_rows(dir / "traffic.csv", 7200, 2, true, 20 * 60, 30 * 60);
  REQUIRE(vigil_cli(vigil_test::profile_args(dir)).code == 0);
  // Two replicas: alternate rows (each sees every host and every minute).
  const std::vector<std::string> lines = lines_of(dir / "traffic.csv");
  for (int r = 0; r < 2; ++r) {
    std::ofstream out(dir / ("replica" + std::to_string(r) + ".csv"));
    out << lines[0] << '\n';
    for (std::size_t i = 1 + static_cast<std::size_t>(r); i < lines.size(); i += 2) out << lines[i] << '\n';
  }
  for (int r = 0; r < 2; ++r) {
    const std::string n = std::to_string(r);
    const Run run = vigil_cli({"replay", "--reference", dir / "reference.vigil", "--input", dir / ("replica" + n + ".csv"),
                               "--alerts", dir / ("alerts" + n + ".jsonl"), "--tag-columns", "host", "--snapshot",
                               dir / ("replica" + n + ".vigil")});
    INFO(run.err);
    REQUIRE(run.code == 0);
  }
  const Run merged = vigil_cli({"merge", "--output", dir / "fleet.vigil", dir / "replica0.vigil", dir / "replica1.vigil"});
  INFO(merged.err);
  REQUIRE(merged.code == 0);
  CHECK(merged.out.find("merged 2 snapshots into " + dir / "fleet.vigil" + ": 7200 requests") != std::string::npos);
  const Run report = vigil_cli({"report", "--snapshot", dir / "fleet.vigil", "--json", dir / "fleet.json",
                                "--prometheus", dir / "fleet.prom"});
  INFO(report.err);
  REQUIRE(report.code == 0);
  CHECK(report.out.find(": 7200 requests to ") != std::string::npos);
  const std::vector<std::string> json = lines_of(dir / "fleet.json");
  REQUIRE(!json.empty());
  std::string text;
  for (const std::string& l : json) text += l + "\n";
  CHECK(text.find("\"observed\": 7200") != std::string::npos);
  CHECK(text.find("\"name\": \"x\"") != std::string::npos);
  // The fleet saw the unit change of minutes 20 to 30.
  CHECK(text.find("\"kind\": \"out_of_range\"") != std::string::npos);
  const std::vector<std::string> prom = lines_of(dir / "fleet.prom");
  CHECK(!prom.empty());

  // Bad input: no snapshot, a file that is not one, a snapshot of another reference.
  CHECK(vigil_cli({"merge", "--output", dir / "x.vigil"}).code == 2);
  const Run foreign = vigil_cli({"report", "--snapshot", dir / "train.csv"});
  CHECK(foreign.code == 2);
  CHECK(foreign.err.find("train.csv is not a monitor snapshot vigil can read") != std::string::npos);
  write_rows(dir / "train2.csv", 3000, 9, false, 0, 0);
  REQUIRE(vigil_cli({"profile", "--input", dir / "train2.csv", "--output", dir / "reference2.vigil", "--categorical",
                     "color", "--score-column", "score", "--predicted-column", "predicted", "--label-column", "label"})
              .code == 0);
  REQUIRE(vigil_cli({"replay", "--reference", dir / "reference2.vigil", "--input", dir / "replica0.csv", "--alerts",
                     dir / "a2.jsonl", "--tag-columns", "host", "--snapshot", dir / "other.vigil"})
              .code == 0);
  const Run mixed = vigil_cli({"merge", "--output", dir / "mixed.vigil", dir / "replica0.vigil", dir / "other.vigil"});
  CHECK(mixed.code == 2);
  CHECK(mixed.err.find("another profile") != std::string::npos);
}

}  // namespace snapshot_cli_test

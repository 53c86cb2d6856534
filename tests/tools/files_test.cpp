// Tests of tools/files.hpp: files and columns named on the command line.
#include "../../tools/files.hpp"

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "../../tools/options.hpp"
#include "tools/cli_fixture.hpp"

using vigil_test::TempDir;

TEST_CASE("open_csv and require_column: failures name the file and the column", "[cli]") {
  TempDir dir("files");
  const std::string absent = dir / "absent.csv";
  CHECK_THROWS_WITH(vigil::tools::open_csv(absent), "cannot open '" + absent + "': No such file or directory");
  {
    std::ofstream out(dir / "traffic.csv");
    out << "ts,x\n1,2\n";
  }
  const vigil::tools::CsvReader csv = vigil::tools::open_csv(dir / "traffic.csv");
  CHECK(vigil::tools::require_column(csv, "x", "--score-column", "traffic.csv") == 1);
  CHECK_THROWS_WITH(vigil::tools::require_column(csv, "y", "--score-column", "traffic.csv"),
                    "column 'y' (--score-column) not found in traffic.csv; columns are: ts, x");
  CHECK_THROWS_WITH(vigil::tools::require_column(csv, "y", "", "traffic.csv"),
                    "column 'y' not found in traffic.csv; columns are: ts, x");
  CHECK_THROWS_AS(vigil::tools::require_column(csv, "y", "", "traffic.csv"), vigil::tools::Failure);
}

TEST_CASE("create_file, finish_file and write_file", "[cli]") {
  TempDir dir("files");
  const std::string path = dir / "report.txt";
  vigil::tools::write_file(path, "old text, longer\n");
  vigil::tools::write_file(path, "text\n");
  {
    std::ifstream in(path);
    CHECK(std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()) == "text\n");
  }
  std::ofstream file = vigil::tools::create_file(path);
  file << "lines\n";
  vigil::tools::finish_file(file, path);
  {
    std::ifstream in(path);
    CHECK(std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()) == "lines\n");
  }
  // A device is written through, not replaced (io::write_file refuses it).
  vigil::tools::write_file("/dev/null", "text\n");
  CHECK(std::filesystem::is_character_file("/dev/null"));
  const std::string nowhere = dir / "absent/report.txt";
  CHECK_THROWS_WITH(vigil::tools::create_file(nowhere), "cannot write '" + nowhere + "'");
  CHECK_THROWS_WITH(vigil::tools::write_file(nowhere, "text"),
                    Catch::StartsWith("cannot write '" + nowhere + "': ") &&
                        Catch::EndsWith(": No such file or directory"));
}

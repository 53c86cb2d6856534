// Tests of tools/summary.hpp: figures, tables and the per-interval CSV.
#include "../../tools/summary.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "vigil_test.hpp"

TEST_CASE("figures: percent, figure, milliseconds", "[cli]") {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  CHECK(vigil::tools::percent(nan) == "-");
  CHECK(vigil::tools::percent(0) == "0.0 %");
  CHECK(vigil::tools::percent(0.1234) == "12.3 %");
  CHECK(vigil::tools::figure(nan) == "-");
  CHECK(vigil::tools::figure(1.23456) == "1.235");
  CHECK(vigil::tools::figure(120.24, "%.1f") == "120.2");
  CHECK(vigil::tools::milliseconds(nan) == "-");
  CHECK(vigil::tools::milliseconds(0.001234) == "1.23");
  CHECK(vigil::tools::milliseconds(0.01234) == "12.3");
  CHECK(vigil::tools::milliseconds(0.2504) == "250");
}

TEST_CASE("print_table: left-aligned columns two spaces apart", "[cli]") {
  std::ostringstream out;
  vigil::tools::print_table(out, {});
  CHECK(out.str().empty());
  vigil::tools::print_table(out, {{"feature", "status"}, {"f1", "ok"}, {"longer_name", "alert", "extra"}}, "> ");
  CHECK(out.str() ==
        "> feature      status\n"
        "> f1           ok\n"
        "> longer_name  alert   extra\n");  // "status" sets the second column's width
}

TEST_CASE("write_intervals: one line per feature and output, in the header's columns", "[cli]") {
  std::ostringstream out;
  vigil::Report report;
  report.recent_end = 1793606460;  // 2026-11-02T08:01:00Z
  vigil::tools::write_intervals(out, report);
  CHECK(out.str().empty());  // no feature, no output

  vigil::FeatureReport x;
  x.name = "x";
  x.status = vigil::Status::warn;
  x.recent_count = 120;
  x.missing_rate = 0.25;
  x.bad_values = 3;
  x.horizon_count = 7200;
  x.psi = 0.5;
  vigil::FeatureReport color;
  color.name = "color";
  color.categorical = true;
  vigil::OutputReport score;
  score.name = "score";
  score.recent_count = 120;
  score.ks_statistic = 0.125;
  score.non_finite_scores = 4;  // in the bad-values column
  report.features = {x, color};
  report.outputs = {score};
  vigil::tools::write_intervals(out, report);
  CHECK(out.str() ==
        "2026-11-02T08:01:00.000Z,x,numeric,warn,120,0.25,,,3,,,,7200,0.5,,,\n"
        "2026-11-02T08:01:00.000Z,color,categorical,ok,0,,,,0,,,,0,,,,\n"
        "2026-11-02T08:01:00.000Z,score,output,ok,120,,,,4,,,,0,,0.125,,\n");
  const std::string header = vigil::tools::interval_header;
  const auto fields = [](const std::string& line) { return std::count(line.begin(), line.end(), ',') + 1; };
  std::istringstream lines(out.str());
  for (std::string line; std::getline(lines, line);) CHECK(fields(line) == fields(header));
}

TEST_CASE("time_or_dash", "[cli]") {
  CHECK(vigil::tools::time_or_dash(std::numeric_limits<double>::quiet_NaN()) == "-");
  CHECK(vigil::tools::time_or_dash(1793606400.0) == "2026-11-02T08:00:00.000Z");
}

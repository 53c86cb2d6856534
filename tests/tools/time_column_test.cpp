// Tests of tools/time_column.hpp: which column holds the event time, and the messages.
#include "../../tools/time_column.hpp"

#include <optional>
#include <string>
#include <vector>

#include "../../tools/options.hpp"
#include "vigil_test.hpp"

using vigil::tools::CsvReader;
using vigil::tools::TimeColumnRule;
using vigil::tools::TimeSurvey;

namespace {

TimeSurvey survey_of(const std::string& text) {
  CsvReader csv = CsvReader::from_string(text, "t.csv");
  TimeSurvey survey(csv.columns().size());
  while (csv.next()) survey.add(csv);
  return survey;
}

// detect_time_column on `text` with every column a candidate unless `candidates` says.
std::optional<vigil::tools::TimeColumn> detect(const std::string& text, std::optional<std::string> option = {},
                                               std::vector<bool> candidates = {}, int* surveys = nullptr) {
  const CsvReader csv = CsvReader::from_string(text, "t.csv");
  if (candidates.empty()) candidates.assign(csv.columns().size(), true);
  return vigil::tools::detect_time_column(csv, option, candidates, "t.csv", [&] {
    if (surveys) ++*surveys;
    return survey_of(text);
  });
}

}  // namespace

TEST_CASE("TimeSurvey: ISO-8601 times, Unix numbers and text per column", "[cli]") {
  const TimeSurvey empty = survey_of("a,b\n");
  CHECK_FALSE(empty.mostly_times(0));
  CHECK_FALSE(empty.mostly_iso(0));
  CHECK_FALSE(empty.mostly_iso(7));  // no such column

  const TimeSurvey survey = survey_of(
      "iso,unix,text,half\n"
      "2026-11-02T08:00:00Z,1793606400123,red,2026-11-02\n"
      "2026-11-02 08:00:01,1793606401123,blue,x\n"
      ",,,\n");
  CHECK(survey.mostly_iso(0));
  CHECK(survey.mostly_times(0));
  CHECK_FALSE(survey.mostly_iso(1));
  CHECK(survey.mostly_times(1));
  CHECK_FALSE(survey.mostly_times(2));
  CHECK_FALSE(survey.mostly_times(3));  // one of two non-empty cells is not more than half

  // Only the first rows count.
  std::string text = "t\n";
  for (std::uint64_t i = 0; i < vigil::tools::time_survey_rows; ++i) text += "2026-11-02\n";
  for (std::uint64_t i = 0; i < 2 * vigil::tools::time_survey_rows; ++i) text += "later\n";
  const TimeSurvey first_rows = survey_of(text);
  CHECK(first_rows.mostly_iso(0));
}

TEST_CASE("detect_time_column: the option, 'ts', a time name, ISO-8601 content, in that order", "[cli]") {
  int surveys = 0;
  auto found = detect("a,ts,datetime\n1,2,2026-11-02\n", std::nullopt, {}, &surveys);
  REQUIRE(found);
  CHECK(found->index == 1);
  CHECK(found->rule == TimeColumnRule::ts);
  CHECK(surveys == 0);  // the name settles it without reading rows

  found = detect("a,ts,datetime\n1,2,2026-11-02\n", std::string("a"));
  REQUIRE(found);
  CHECK(found->index == 0);
  CHECK(found->rule == TimeColumnRule::option);
  CHECK_THROWS_WITH(detect("a,ts\n1,2\n", std::string("when")),
                    "column 'when' (--time-column) not found in t.csv; columns are: a, ts");

  // A time name holding Unix milliseconds comes before a column of ISO-8601 text.
  found = detect("when,x,Timestamp\n2026-11-02T08:00:00Z,1,1793606400123\n");
  REQUIRE(found);
  CHECK(found->index == 2);
  CHECK(found->rule == TimeColumnRule::name);
  found = detect("x,datetime\n1,2026-11-02T08:00:00Z\n");
  REQUIRE(found);
  CHECK(found->index == 1);
  CHECK(found->rule == TimeColumnRule::name);

  // A time name whose cells are not times is passed over; ISO-8601 content decides.
  found = detect("time,x,when\nslow,1,2026-11-02T08:00:00Z\n");
  REQUIRE(found);
  CHECK(found->index == 2);
  CHECK(found->rule == TimeColumnRule::content);

  // Unix numbers under another name are numbers, not times.
  CHECK_FALSE(detect("x,y\n1793606400,2\n"));
  CHECK_FALSE(detect("x,y\n1,2\n"));

  // Columns with another role are not candidates.
  CHECK_FALSE(detect("ts,x\n2026-11-02,1\n", std::nullopt, {false, true}));
  found = detect("ts,date\n2026-11-02,2026-11-03\n", std::nullopt, {false, true});
  REQUIRE(found);
  CHECK(found->index == 1);
}

TEST_CASE("no_time_column_message and bad_time_message: what was looked for, the value, where, and the formats",
          "[cli]") {
  const CsvReader csv = CsvReader::from_string("x,y\n1,2\n", "t.csv");
  const std::string none = vigil::tools::no_time_column_message(csv, "traffic.csv");
  CHECK(none ==
        "no time column in traffic.csv: looked for a column named 'ts', then one named time, timestamp, datetime, "
        "date, event_time (any case) whose cells are mostly times, then one whose cells are mostly ISO-8601 times, "
        "in the first 1000 rows; name it with --time-column; columns are: x, y");

  const std::string bad = vigil::tools::bad_time_message("yesterday", "traffic.csv", 3, 4, "ts", std::nullopt);
  CHECK(bad.rfind("traffic.csv, row 3 (line 4), column 'ts': 'yesterday' is not a time; accepted, in years "
                  "0000-9999: ISO-8601",
                  0) == 0);
  CHECK(bad.find(vigil::tools::accepted_time_formats()) != std::string::npos);
  const std::string in_unit =
      vigil::tools::bad_time_message("1793606400123", "traffic.csv", 1, 2, "ts", vigil::tools::TimeUnit::seconds);
  CHECK(in_unit.find("'1793606400123' is not a time in seconds (--time-unit s); accepted") != std::string::npos);
}

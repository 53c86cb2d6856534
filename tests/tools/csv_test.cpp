#include "../../tools/csv.hpp"

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <functional>
#include <limits>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "vigil_test.hpp"

using vigil::tools::CellStatus;
using vigil::tools::CsvOptions;
using vigil::tools::CsvReader;
using vigil::tools::RaggedRows;

namespace {

using Rows = std::vector<std::vector<std::string>>;

// Every data row as strings.
Rows read_all(CsvReader& csv) {
  Rows rows;
  while (csv.next()) {
    std::vector<std::string> row;
    for (std::size_t i = 0; i < csv.size(); ++i) row.emplace_back(csv.field(i));
    rows.push_back(row);
  }
  return rows;
}

Rows read_string(const std::string& text, const CsvOptions& options = {}) {
  auto csv = CsvReader::from_string(text, "t.csv", options);
  return read_all(csv);
}

// The same text through a stream in chunks of `chunk` bytes, so that every row and field
// boundary falls at the end of a buffer for some chunk size.
Rows read_chunked(const std::string& text, std::size_t chunk, RaggedRows ragged = RaggedRows::skip) {
  std::istringstream input(text);
  CsvOptions options;
  options.chunk_size = chunk;
  options.ragged = ragged;
  auto csv = CsvReader::from_stream(input, "t.csv", options);
  return read_all(csv);
}

std::string error_of(const std::function<void()>& action) {
  try {
    action();
  } catch (const vigil::format_error& e) {
    return e.what();
  }
  return "(no error)";
}

CellStatus number(const std::string& text, double& value) { return vigil::tools::parse_number(text, value); }

double time_of(const std::string& text) {
  double value = std::numeric_limits<double>::quiet_NaN();
  const CellStatus status = vigil::tools::parse_time(text, value);
  INFO(text);
  REQUIRE(status == CellStatus::value);
  return value;
}

CellStatus time_status(const std::string& text) {
  double value = 0;
  return vigil::tools::parse_time(text, value);
}

}  // namespace

TEST_CASE("CsvReader: empty input has no header", "[csv]") {
  CHECK(error_of([] { CsvReader::from_string("", "empty.csv"); }) == "empty.csv: no header row (the input is empty)");
  CHECK(error_of([] { CsvReader::from_string("\n\r\n", "blank.csv"); }) ==
        "blank.csv: no header row (the input is empty)");
  std::istringstream input("");
  CHECK_THROWS_AS(CsvReader::from_stream(input), vigil::format_error);
}

TEST_CASE("CsvReader: header only", "[csv]") {
  for (const std::string text : {"ts,x,y", "ts,x,y\n", "ts,x,y\r\n\r\n"}) {
    auto csv = CsvReader::from_string(text);
    CHECK(csv.columns() == std::vector<std::string>{"ts", "x", "y"});
    CHECK(csv.column("x") == 1);
    CHECK_FALSE(csv.next());
    CHECK_FALSE(csv.next());
    CHECK(csv.rows() == 0);
    CHECK(csv.size() == 0);
  }
}

TEST_CASE("CsvReader: one row", "[csv]") {
  auto csv = CsvReader::from_string("ts,x,label\n2026-11-02T08:00:00Z,1.5,cat\n");
  REQUIRE(csv.next());
  CHECK(csv.size() == 3);
  CHECK(csv.field(0) == "2026-11-02T08:00:00Z");
  CHECK(csv.field(1) == "1.5");
  CHECK(csv.field(2) == "cat");
  CHECK(csv.field(3).empty());
  CHECK(csv.line() == 2);
  CHECK(csv.rows() == 1);
  CHECK_FALSE(csv.next());
}

TEST_CASE("CsvReader: many rows, with and without a final line break", "[csv]") {
  std::string text = "a,b\n";
  for (int i = 0; i < 1000; ++i) text += std::to_string(i) + "," + std::to_string(2 * i) + "\n";
  for (const bool final_break : {true, false}) {
    const std::string input = final_break ? text : text.substr(0, text.size() - 1);
    auto csv = CsvReader::from_string(input);
    int count = 0;
    while (csv.next()) {
      CHECK(csv.field(0) == std::to_string(count));
      CHECK(csv.field(1) == std::to_string(2 * count));
      CHECK(csv.line() == static_cast<std::uint64_t>(count) + 2);
      ++count;
    }
    CHECK(count == 1000);
  }
}

TEST_CASE("CsvReader: empty cells", "[csv]") {
  CHECK(read_string("a,b,c\n,,\n1,,\n,,3\n") ==
        Rows{{"", "", ""}, {"1", "", ""}, {"", "", "3"}});
  CHECK(read_string("a\n\n\nx\n") == Rows{{"x"}});  // blank lines are skipped
}

TEST_CASE("CsvReader: quoting", "[csv]") {
  SECTION("delimiters, quotes and line breaks inside quotes") {
    const std::string text =
        "id,text,n\n"
        "1,\"a,b\",2\n"
        "2,\"say \"\"hi\"\"\",3\n"
        "3,\"two\nlines\",4\n"
        "4,\"\",5\n"
        "5,\"\"\"\",6\n"
        "6,\"crlf\r\ninside\",7\n"
        "7,plain,\"8\"\n";
    auto csv = CsvReader::from_string(text);
    CHECK(read_all(csv) == Rows{{"1", "a,b", "2"},
                                {"2", "say \"hi\"", "3"},
                                {"3", "two\nlines", "4"},
                                {"4", "", "5"},
                                {"5", "\"", "6"},
                                {"6", "crlf\r\ninside", "7"},
                                {"7", "plain", "8"}});
    CHECK(csv.quote_errors() == 0);
  }
  SECTION("line numbers count the breaks inside quotes") {
    auto csv = CsvReader::from_string("a,b\n\"x\ny\nz\",1\nlast,2\n");
    REQUIRE(csv.next());
    CHECK(csv.line() == 2);
    REQUIRE(csv.next());
    CHECK(csv.line() == 5);
  }
  SECTION("a quote inside an unquoted field is an ordinary character") {
    CHECK(read_string("a,b\n5\" pipe,x\"y\n") == Rows{{"5\" pipe", "x\"y"}});
  }
  SECTION("text after a closing quote is kept and counted") {
    auto csv = CsvReader::from_string("a,b\n\"ab\"c,\"x\"\"y\"z\"w\n");
    CHECK(read_all(csv) == Rows{{"abc", "x\"yz\"w"}});
    CHECK(csv.quote_errors() == 2);
  }
  SECTION("quoted header names") {
    auto csv = CsvReader::from_string("\"a,1\",\"b\"\"2\"\nx,y\n");
    CHECK(csv.columns() == std::vector<std::string>{"a,1", "b\"2"});
    CHECK(csv.column("b\"2") == 1);
  }
  SECTION("a quoted field never closed is an error naming file, line and column") {
    CHECK(error_of([] { read_string("a,b\n1,2\n3,\"open\n4,5\n"); }) ==
          "t.csv:3: quoted field in column 2 is never closed");
    CHECK(error_of([] { read_chunked("a,b\n1,2\n3,\"open\n4,5\n", 3); }) ==
          "t.csv:3: quoted field in column 2 is never closed");
  }
}

TEST_CASE("CsvReader: line ends LF, CRLF and CR", "[csv]") {
  const Rows want{{"1", "2"}, {"3", "4"}};
  CHECK(read_string("a,b\n1,2\n3,4\n") == want);
  CHECK(read_string("a,b\r\n1,2\r\n3,4\r\n") == want);
  CHECK(read_string("a,b\r\n1,2\r\n3,4") == want);
  CHECK(read_string("a,b\r1,2\r3,4\r") == want);
  auto csv = CsvReader::from_string("a,b\r\n1,2\r\n\r\n3,4\r\n");
  REQUIRE(csv.next());
  CHECK(csv.line() == 2);
  REQUIRE(csv.next());
  CHECK(csv.line() == 4);
  CHECK(csv.columns() == std::vector<std::string>{"a", "b"});
}

TEST_CASE("CsvReader: trailing delimiter makes an empty last field", "[csv]") {
  CHECK(read_string("a,b,\n1,2,\n") == Rows{{"1", "2", ""}});
  CHECK(read_string("a,b,\n1,2,") == Rows{{"1", "2", ""}});
}

TEST_CASE("CsvReader: byte-order mark and other delimiters", "[csv]") {
  auto csv = CsvReader::from_string("\xEF\xBB\xBFts,x\n1,2\n");
  CHECK(csv.columns().front() == "ts");
  CsvOptions semicolons;
  semicolons.delimiter = ';';
  CHECK(read_string("a;b\n1,5;\"x;y\"\n", semicolons) == Rows{{"1,5", "x;y"}});
  CsvOptions tabs;
  tabs.delimiter = '\t';
  CHECK(read_string("a\tb\n1\t\n", tabs) == Rows{{"1", ""}});
  CsvOptions quote;
  quote.delimiter = '"';
  CHECK_THROWS_AS(CsvReader::from_string("a\n", "q", quote), vigil::invalid_argument);
}

TEST_CASE("CsvReader: ragged rows", "[csv]") {
  const std::string text = "a,b,c\n1,2,3\n4,5\n6,7,8,9\n10,11,12\n";
  SECTION("skipped and counted by default") {
    auto csv = CsvReader::from_string(text);
    CHECK(read_all(csv) == Rows{{"1", "2", "3"}, {"10", "11", "12"}});
    CHECK(csv.ragged_rows() == 2);
    CHECK(csv.rows() == 2);
  }
  SECTION("kept and counted") {
    CsvOptions options;
    options.ragged = RaggedRows::keep;
    auto csv = CsvReader::from_string(text, "t.csv", options);
    REQUIRE(csv.next());
    REQUIRE(csv.next());
    CHECK(csv.size() == 2);
    CHECK(csv.field(2).empty());
    REQUIRE(csv.next());
    CHECK(csv.size() == 4);
    CHECK(csv.field(3) == "9");
    REQUIRE(csv.next());
    CHECK_FALSE(csv.next());
    CHECK(csv.ragged_rows() == 2);
    CHECK(csv.rows() == 4);
  }
  SECTION("an error") {
    CsvOptions options;
    options.ragged = RaggedRows::error;
    CHECK(error_of([&] {
            auto csv = CsvReader::from_string(text, "log.csv", options);
            read_all(csv);
          }) == "log.csv:3: row has 2 fields, the header has 3");
  }
}

TEST_CASE("CsvReader: column lookup", "[csv]") {
  auto csv = CsvReader::from_string("time,f01,band,f01\n", "traffic.csv");
  CHECK(csv.column("band") == 2);
  CHECK(csv.find("time") == std::optional<std::size_t>(0));
  CHECK_FALSE(csv.find("ts").has_value());
  CHECK(error_of([&] { csv.column("ts"); }) == "traffic.csv: column 'ts' not found; columns are: time, f01, band, f01");
  CHECK(error_of([&] { csv.column("f01"); }) == "traffic.csv: column 'f01' is ambiguous; it names columns 2, 4");
  CHECK_THROWS_AS(csv.column("ts"), vigil::error);
}

TEST_CASE("CsvReader: files", "[csv]") {
  CHECK(error_of([] { CsvReader::open("/nonexistent/dir/traffic.csv"); }) ==
        "cannot open '/nonexistent/dir/traffic.csv': No such file or directory");
  const std::string directory = vigil_test::source_path("tools");
  CHECK(error_of([&] { CsvReader::open(directory); }) == directory + ": read error after line 1: Is a directory");
  const std::string path = "csv_test_file.csv";
  {
    std::ofstream out(path, std::ios::binary);
    out << "ts,x\r\n2026-11-02T08:00:00Z,1\r\n2026-11-02T08:00:01Z,\"2\"\r\n";
  }
  auto csv = CsvReader::open(path);
  CHECK(csv.name() == path);
  CHECK(read_all(csv) == Rows{{"2026-11-02T08:00:00Z", "1"}, {"2026-11-02T08:00:01Z", "2"}});
  std::remove(path.c_str());
}

TEST_CASE("CsvReader: reading in chunks gives the same rows for every chunk size", "[csv]") {
  const std::string text =
      "\xEF\xBB\xBF"
      "id,\"quoted \"\"name\"\"\",x\r\n"
      "1,\"a,b\",\"\"\r\n"
      "\r\n"
      "2,\"line\r\nbreak\",\"q\"\"\"\r\n"
      "3,plain,tail\"s\r"
      "4,\"ab\"cd,\r\n"
      "5,,\"\"\"\"\"\"\n"
      "6,x,";
  const Rows want = read_string(text);
  REQUIRE(want.size() == 6);
  CHECK(want[1] == std::vector<std::string>{"2", "line\r\nbreak", "q\""});
  CHECK(want[3] == std::vector<std::string>{"4", "abcd", ""});
  CHECK(want[4] == std::vector<std::string>{"5", "", "\"\""});
  for (std::size_t chunk = 1; chunk <= text.size() + 1; ++chunk) {
    INFO("chunk size " << chunk);
    CHECK(read_chunked(text, chunk) == want);
  }
}

TEST_CASE("CsvReader: a large generated input", "[csv]") {
  constexpr int rows = 100000, columns = 20;
  std::mt19937_64 random(42);
  std::uniform_int_distribution<int> values(-1000000, 1000000);
  std::string text;
  for (int c = 0; c < columns; ++c) text += (c ? ",c" : "c") + std::to_string(c);
  text += "\n";
  std::vector<double> sums(columns, 0.0);
  std::int64_t quoted = 0;
  for (int r = 0; r < rows; ++r) {
    for (int c = 0; c < columns; ++c) {
      const int value = values(random);
      sums[static_cast<std::size_t>(c)] += value / 1000.0;
      const std::string cell = std::to_string(value / 1000) + "." + std::to_string(std::abs(value % 1000) + 1000).substr(1);
      const std::string signed_cell = (value < 0 && value > -1000 ? "-" : "") + cell;
      if (c) text += ',';
      if (value % 97 == 0) {
        text += "\"" + signed_cell + "\"";
        ++quoted;
      } else {
        text += signed_cell;
      }
    }
    text += (r % 2) ? "\r\n" : "\n";
  }
  REQUIRE(quoted > 100);
  for (const std::size_t chunk : {std::size_t{4096}, std::size_t{1} << 20}) {
    std::istringstream input(text);
    CsvOptions options;
    options.chunk_size = chunk;
    auto csv = CsvReader::from_stream(input, "big.csv", options);
    REQUIRE(csv.columns().size() == columns);
    std::vector<double> got(columns, 0.0);
    vigil::tools::CellCounts cells;
    while (csv.next()) {
      for (std::size_t c = 0; c < columns; ++c) {
        double value = 0;
        const CellStatus status = vigil::tools::parse_number(csv.field(c), value);
        cells.add(status);
        got[c] += value;
      }
    }
    CHECK(csv.rows() == rows);
    CHECK(csv.ragged_rows() == 0);
    CHECK(cells.values == std::uint64_t{rows} * columns);
    CHECK(cells.total() == cells.values);
    for (std::size_t c = 0; c < columns; ++c) CHECK(got[c] == Approx(sums[c]).margin(1e-6));
  }
}

TEST_CASE("parse_number", "[csv]") {
  double x = 0;
  SECTION("values") {
    const std::vector<std::pair<std::string, double>> cases = {
        {"0", 0.0},          {"42", 42.0},          {"-17", -17.0},       {"+3", 3.0},
        {"3.25", 3.25},      {"-0.5", -0.5},        {".5", 0.5},          {"5.", 5.0},
        {"6.02e23", 6.02e23}, {"1E-3", 1e-3},       {"-2.5e+2", -250.0},  {" 7 ", 7.0},
        {"\t8\t", 8.0},      {"1e-310", 1e-310},   {"1793606400", 1793606400.0},
        {"0.1", 0.1},        {"123456789012345678", 123456789012345678.0}};
    for (const auto& [text, want] : cases) {
      INFO(text);
      REQUIRE(number(text, x) == CellStatus::value);
      CHECK(x == want);
    }
  }
  SECTION("underflow is a signed zero") {
    REQUIRE(number("1e-400", x) == CellStatus::value);
    CHECK(x == 0.0);
    REQUIRE(number("-1e-400", x) == CellStatus::value);
    CHECK(x == 0.0);
    CHECK(std::signbit(x));
  }
  SECTION("missing") {
    for (const std::string text : {"", " ", "\t", "nan", "NaN", "NAN", "-nan", "+nan", " nan "}) {
      x = 99;
      INFO(text);
      CHECK(number(text, x) == CellStatus::missing);
      CHECK(x == 99);
    }
  }
  SECTION("bad") {
    for (const std::string text : {"n/a", "NA", "abc", "1.2.3", "1,5", "1e", "e5", "--1", "+-1", "++1", "+",
                                   "-", ".", "0x10", "1.5kg", "1 2", "inf", "-inf", "Infinity", "1e400",
                                   "-1e400", "nanx", "#VALUE!"}) {
      x = 99;
      INFO(text);
      CHECK(number(text, x) == CellStatus::bad);
      CHECK(x == 99);
    }
  }
  SECTION("tally") {
    vigil::tools::CellCounts counts;
    for (const std::string text : {"1", "", "n/a", "2", "nan"}) counts.add(number(text, x));
    CHECK(counts.values == 2);
    CHECK(counts.missing == 2);
    CHECK(counts.bad == 1);
    CHECK(counts.total() == 5);
  }
}

TEST_CASE("parse_time: ISO-8601 against known Unix times", "[csv]") {
  // Reference values from `date -u -d <time> +%s` and well-known epochs.
  CHECK(time_of("1970-01-01T00:00:00Z") == 0.0);
  CHECK(time_of("2000-01-01T00:00:00Z") == 946684800.0);
  CHECK(time_of("2038-01-19T03:14:08Z") == 2147483648.0);    // 2^31
  CHECK(time_of("1969-07-20T20:17:40Z") == -14182940.0);     // before the epoch
  CHECK(time_of("2024-02-29T23:59:59Z") == 1709251199.0);    // leap day
  CHECK(time_of("1900-03-01T00:00:00Z") == -2203891200.0);   // 1900 is not a leap year
  CHECK(time_of("2100-03-01T12:30:00Z") == 4107587400.0);    // nor is 2100
  CHECK(time_of("0000-01-01T00:00:00Z") == -62167219200.0);
  CHECK(time_of("0000-02-29T00:00:00Z") == -62167219200.0 + 59 * 86400.0);  // year 0 is a leap year
  CHECK(time_of("2000-02-29T00:00:00Z") == 951782400.0);
  CHECK(time_of("9999-12-31T23:59:59Z") == 253402300799.0);

  const double t = 1793606400.0;  // 2026-11-02T08:00:00Z
  CHECK(time_of("2026-11-02T08:00:00Z") == t);
  CHECK(time_of("2026-11-02t08:00:00z") == t);
  CHECK(time_of("2026-11-02 08:00:00Z") == t);
  CHECK(time_of("2026-11-02T08:00:00") == t);  // no zone: UTC
  CHECK(time_of("2026-11-02 08:00:00") == t);
  CHECK(time_of("2026-11-02T08:00Z") == t);
  CHECK(time_of("2026-11-02T08:00") == t);
  CHECK(time_of("2026-11-02") == t - 8 * 3600);
  CHECK(time_of("2026-11-02T09:30:00+01:30") == t);
  CHECK(time_of("2026-11-02T09:30:00+0130") == t);
  CHECK(time_of("2026-11-02T10:00:00+02") == t);
  CHECK(time_of("2026-11-02T03:00:00-05:00") == t);
  CHECK(time_of("2026-11-01T20:00:00-12:00") == t);
  CHECK(time_of("2026-11-02T08:00:00+00:00") == t);
  CHECK(time_of("  2026-11-02T08:00:00Z ") == t);
  CHECK(time_of("2026-11-02T08:00:00.353Z") == t + 0.353);
  CHECK(time_of("2026-11-02T08:00:00,5Z") == t + 0.5);
  CHECK(time_of("2026-11-02T08:00:00.123456789Z") == t + 0.123456789);
  CHECK(time_of("2026-11-02T08:00:00.1234567891234Z") == t + 0.123456789);
  CHECK(time_of("2026-11-02T08:00:00.250+01:00") == t - 3600 + 0.25);
  CHECK(time_of("2016-12-31T23:59:60Z") == 1483228800.0);  // a leap second reads as the next one
}

TEST_CASE("parse_time: Unix seconds", "[csv]") {
  CHECK(time_of("1793606400") == 1793606400.0);
  CHECK(time_of("1793606400.353") == 1793606400.353);
  CHECK(time_of("-14182940") == -14182940.0);
  CHECK(time_of("0") == 0.0);
  CHECK(time_of(" 12.5 ") == 12.5);
}

TEST_CASE("parse_time: Unix milliseconds, microseconds and nanoseconds, told by magnitude", "[csv]") {
  using vigil::tools::TimeUnit;
  const double t = 1793606400.0;  // 2026-11-02T08:00:00Z
  CHECK(time_of("1793606400123") == t + 0.123);
  CHECK(time_of("1793606400123456") == t + 0.123456);
  // Beyond 2^53: the whole seconds and the rest are converted apart, so the digits survive.
  CHECK(time_of("1793606400123456789") == t + 0.123456789);
  CHECK(vigil::tools::format_time(time_of("1793606400999999999")) == "2026-11-02T08:00:01.000Z");
  CHECK(std::fabs(time_of("1793606400123.5") - (t + 0.1235)) < 1e-6);
  CHECK(time_of("+1793606400123") == t + 0.123);
  CHECK(time_of("-14182940000") == -14182940000.0);  // below 1e11: seconds, year 1520
  CHECK(time_of("-141829400000") == -141829400.0);    // milliseconds, 1965

  // The boundaries: each unit starts where the previous one would pass year 5138.
  CHECK(vigil::tools::unix_time_unit(0) == TimeUnit::seconds);
  CHECK(vigil::tools::unix_time_unit(99999999999.9) == TimeUnit::seconds);
  CHECK(vigil::tools::unix_time_unit(1e11) == TimeUnit::milliseconds);
  CHECK(vigil::tools::unix_time_unit(-1e11) == TimeUnit::milliseconds);
  CHECK(vigil::tools::unix_time_unit(99999999999999.0) == TimeUnit::milliseconds);
  CHECK(vigil::tools::unix_time_unit(1e14) == TimeUnit::microseconds);
  CHECK(vigil::tools::unix_time_unit(1e17) == TimeUnit::nanoseconds);
  CHECK(vigil::tools::unix_time_unit(1e25) == TimeUnit::nanoseconds);
  CHECK(time_of("99999999999") == 99999999999.0);     // 5138-11-16T09:46:39Z
  CHECK(time_of("100000000000") == 100000000.0);      // 1973-03-03T09:46:40Z, in milliseconds
  CHECK(time_of("100000000000000") == 100000000.0);   // in microseconds
  CHECK(time_of("100000000000000000") == 100000000.0);  // in nanoseconds
  CHECK(time_of("100000000000000000000") == 100000000000.0);  // beyond int64: read as a double

  // How each was read.
  CHECK_FALSE(vigil::tools::read_time("2026-11-02T08:00:00Z").unix_unit);
  CHECK(vigil::tools::read_time("1793606400").unix_unit == TimeUnit::seconds);
  CHECK(vigil::tools::read_time("1793606400123").unix_unit == TimeUnit::milliseconds);
  CHECK(vigil::tools::read_time("1793606400123456").unix_unit == TimeUnit::microseconds);
  CHECK(vigil::tools::read_time("1793606400123456789").unix_unit == TimeUnit::nanoseconds);
  CHECK(vigil::tools::read_time("").status == CellStatus::missing);
}

TEST_CASE("parse_time: a named unit overrides the magnitude", "[csv]") {
  using vigil::tools::TimeUnit;
  double out = 0;
  CHECK(vigil::tools::parse_time("86400000", out, TimeUnit::milliseconds) == CellStatus::value);
  CHECK(out == 86400.0);  // 1970-01-02, which the magnitude alone reads as seconds
  CHECK(time_of("86400000") == 86400000.0);
  CHECK(vigil::tools::parse_time("1793606400", out, TimeUnit::seconds) == CellStatus::value);
  CHECK(out == 1793606400.0);
  CHECK(vigil::tools::parse_time("1793606400123456", out, TimeUnit::microseconds) == CellStatus::value);
  CHECK(out == 1793606400.123456);
  CHECK(vigil::tools::parse_time("1793606400", out, TimeUnit::nanoseconds) == CellStatus::value);
  CHECK(std::fabs(out - 1.7936064) < 1e-12);
  CHECK(vigil::tools::read_time("1793606400", TimeUnit::nanoseconds).unix_unit == TimeUnit::nanoseconds);
  // ISO-8601 text has no unit to name.
  CHECK(vigil::tools::parse_time("2026-11-02T08:00:00Z", out, TimeUnit::milliseconds) == CellStatus::value);
  CHECK(out == 1793606400.0);
  // Milliseconds read as seconds fall after year 9999.
  out = 5;
  CHECK(vigil::tools::parse_time("1793606400123", out, TimeUnit::seconds) == CellStatus::bad);
  CHECK(out == 5);

  CHECK(vigil::tools::parse_time_unit("s") == TimeUnit::seconds);
  CHECK(vigil::tools::parse_time_unit("ms") == TimeUnit::milliseconds);
  CHECK(vigil::tools::parse_time_unit("us") == TimeUnit::microseconds);
  CHECK(vigil::tools::parse_time_unit("ns") == TimeUnit::nanoseconds);
  CHECK_FALSE(vigil::tools::parse_time_unit("sec"));
  CHECK_FALSE(vigil::tools::parse_time_unit("MS"));
  CHECK_FALSE(vigil::tools::parse_time_unit(""));
  CHECK(std::string(vigil::tools::unit_name(TimeUnit::microseconds)) == "microseconds");
}

TEST_CASE("parse_time: times outside years 0000-9999 are bad", "[csv]") {
  // format_time could not write them: each would end a replay in its summary.
  CHECK(time_status("-62167219201") == CellStatus::bad);
  CHECK(time_of("-62167219200") == -62167219200.0);
  CHECK(time_status("9999-12-31T23:59:59.9996Z") == CellStatus::bad);  // rounds into year 10000
  CHECK(time_of("9999-12-31T23:59:59.999Z") == 253402300799.999);
  CHECK(time_status("999999999999999999999") == CellStatus::bad);  // nanoseconds, year 33658
}

TEST_CASE("accepted_time_formats: an example of each format", "[csv]") {
  const std::string text = vigil::tools::accepted_time_formats();
  for (const char* example : {"2026-11-02T08:00:00Z", "2026-11-02 09:00:00.353+01:00", "2026-11-02T08:00:00-0500",
                              "2026-11-02)", "seconds (1793606400.353)", "milliseconds (1793606400353)",
                              "microseconds (1793606400353000)", "nanoseconds (1793606400353000000)", "--time-unit"}) {
    INFO(example);
    CHECK(text.find(example) != std::string::npos);
  }
  // Each example reads as the time it stands for.
  CHECK(time_of("2026-11-02 09:00:00.353+01:00") == 1793606400.0 + 0.353);
  CHECK(time_of("1793606400353000") == 1793606400.0 + 0.353);
  CHECK(time_of("1793606400353000000") == 1793606400.0 + 0.353);
}

TEST_CASE("parse_time: missing and bad", "[csv]") {
  CHECK(time_status("") == CellStatus::missing);
  CHECK(time_status("   ") == CellStatus::missing);
  for (const std::string text :
       {"2026-13-01T00:00:00Z", "2026-00-01", "2026-02-29", "2024-02-30", "2026-04-31", "2026-11-00", "2026-11-32",
        "1900-02-29", "2100-02-29", "2026-11-02T24:00:00Z",
        "2026-11-02T08:60:00Z", "2026-11-02T08:00:61Z", "2026-11-02T08Z", "2026-11-02T08:00:00Q",
        "2026-11-02T08:00:00+1", "2026-11-02T08:00:00+24:00", "2026-11-02T08:00:00+01:60",
        "2026-11-02T08:00:00.Z", "2026-11-02T08:00:00ZZ", "2026/11/02", "26-11-02", "2026-1-2",
        "yesterday", "nan", "1e9", "1.7e9", "n/a", "12:00", "0x10", "2026-11-02x"}) {
    INFO(text);
    CHECK(time_status(text) == CellStatus::bad);
  }
}

TEST_CASE("format_time", "[csv]") {
  using vigil::tools::format_time;
  CHECK(format_time(1793606400.0) == "2026-11-02T08:00:00.000Z");
  CHECK(format_time(1793606400.353) == "2026-11-02T08:00:00.353Z");
  CHECK(format_time(0.0) == "1970-01-01T00:00:00.000Z");
  CHECK(format_time(-0.001) == "1969-12-31T23:59:59.999Z");
  CHECK(format_time(-14182940.0) == "1969-07-20T20:17:40.000Z");
  CHECK(format_time(1709251199.0) == "2024-02-29T23:59:59.000Z");
  CHECK(format_time(946684799.9996) == "2000-01-01T00:00:00.000Z");  // rounds to the millisecond
  CHECK(format_time(946684799.9994) == "1999-12-31T23:59:59.999Z");
  CHECK(format_time(-62167219200.0) == "0000-01-01T00:00:00.000Z");
  CHECK(format_time(253402300799.999) == "9999-12-31T23:59:59.999Z");
  char text[vigil::tools::iso_time_length];
  CHECK(format_time(2147483648.0, text) == vigil::tools::iso_time_length);
  CHECK(std::string(text, sizeof text) == "2038-01-19T03:14:08.000Z");
  CHECK_THROWS_AS(format_time(std::numeric_limits<double>::quiet_NaN()), vigil::invalid_argument);
  CHECK_THROWS_AS(format_time(std::numeric_limits<double>::infinity()), vigil::invalid_argument);
  CHECK_THROWS_AS(format_time(253402300800.0), vigil::invalid_argument);
  CHECK_THROWS_AS(format_time(-62167219201.0), vigil::invalid_argument);
}

TEST_CASE("format_time and parse_time round-trip", "[csv]") {
  std::mt19937_64 random(7);
  // Milliseconds over years 0000-9999, and a dense stretch around the epoch and 2026.
  std::uniform_int_distribution<std::int64_t> anywhere(-62167219200000, 253402300799999);
  std::uniform_int_distribution<std::int64_t> near(-400LL * 86400000, 400LL * 86400000);
  for (int i = 0; i < 20000; ++i) {
    const std::int64_t ms = i % 2 ? anywhere(random) : near(random) + (i % 4 ? 0 : 1793606400000);
    const double seconds = static_cast<double>(ms) / 1000.0;
    const std::string text = vigil::tools::format_time(seconds);
    double back = 0;
    INFO(ms << " " << text);
    REQUIRE(vigil::tools::parse_time(text, back) == CellStatus::value);
    CHECK(std::llround(back * 1000.0) == ms);
    CHECK(vigil::tools::format_time(back) == text);
  }
}

// vigil — in-process monitoring of machine-learning models in C++ inference servers.
// SPDX-License-Identifier: Apache-2.0
//
// Which column of a CSV file holds the event time. `vigil profile` leaves that column out of
// the features and `vigil replay` reads its times; both decide with detect_time_column(), so
// that a file profiled with a time column found by itself replays with the same column.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "csv.hpp"

namespace vigil::tools {

/// Rows at the start of a file whose cells decide a time column by content.
inline constexpr std::uint64_t time_survey_rows = 1000;

/// What the first `time_survey_rows` rows of a file hold, per column: non-empty cells, cells
/// that read as ISO-8601 times, and cells that read as times of any format (Unix numbers too).
class TimeSurvey {
 public:
  explicit TimeSurvey(std::size_t columns = 0) : columns_(columns) {}

  /// Surveys the current row of `csv`; rows after the first `time_survey_rows` are ignored.
  /// O(bytes of the row).
  void add(const CsvReader& csv);
  /// Whether `time_survey_rows` rows have been surveyed.
  bool full() const noexcept { return rows_ >= time_survey_rows; }
  /// Whether more than half of column `i`'s non-empty cells are ISO-8601 times.
  bool mostly_iso(std::size_t i) const noexcept;
  /// Whether more than half of column `i`'s non-empty cells read as times, Unix numbers
  /// included.
  bool mostly_times(std::size_t i) const noexcept;

 private:
  struct Counts {
    std::uint64_t non_empty = 0;
    std::uint64_t iso = 0;
    std::uint64_t times = 0;
  };
  std::vector<Counts> columns_;
  std::uint64_t rows_ = 0;
};

/// The first rows of the file at `path`, surveyed; fails (exit code 2) naming the file when it
/// cannot be read.
TimeSurvey survey_file(const std::string& path);

/// How detect_time_column chose the time column.
enum class TimeColumnRule : unsigned char {
  option,   ///< `--time-column` named it
  ts,       ///< the column named `ts`
  name,     ///< a column named like a time (`time_column_names`) whose cells read as times
  content,  ///< the first column whose cells are mostly ISO-8601 times
};

/// The time column and the rule that chose it.
struct TimeColumn {
  std::size_t index;
  TimeColumnRule rule;
};

/// Names, in any case, that make a column the time column when its cells read as times.
const std::vector<std::string>& time_column_names();

/// What detect_time_column looks for without `--time-column`, as a phrase for messages: "a
/// column named 'ts', then one named time, timestamp, ... whose cells read as times, then ...".
std::string time_column_rules();

/// The event-time column of `csv`: the column `option` names (a Failure naming it when there
/// is none), else among the `candidates` (columns with no other role; `candidates[i]` for
/// column i) the one named `ts`, else the first whose name is in `time_column_names()` and
/// whose surveyed cells are mostly times, else the first whose surveyed cells are mostly
/// ISO-8601 times; nothing when none is. `survey` is called only when the names do not
/// settle it. O(columns) besides the survey.
std::optional<TimeColumn> detect_time_column(const CsvReader& csv, const std::optional<std::string>& option,
                                             const std::vector<bool>& candidates, const std::string& file,
                                             const std::function<TimeSurvey()>& survey);

/// "no time column in traffic.csv: looked for ...; name it with --time-column; columns are:
/// ...", for a command that cannot go without one.
std::string no_time_column_message(const CsvReader& csv, const std::string& file);

/// The error for an unreadable time: the value, its file, row (and line), and column,
/// and the accepted formats with an example of each; with `unit`, the unit it was read in.
std::string bad_time_message(std::string_view value, const std::string& file, std::uint64_t row, std::uint64_t line,
                             const std::string& column, const std::optional<TimeUnit>& unit);

}  // namespace vigil::tools

// vigil — in-process monitoring of machine-learning models in C++ inference servers.
// SPDX-License-Identifier: Apache-2.0
//
// The time column of a CSV file, declared in time_column.hpp.
#include "time_column.hpp"

#include "files.hpp"
#include "options.hpp"

namespace vigil::tools {

namespace {

bool same_name_any_case(const std::string& a, const std::string& b) noexcept {
  if (a.size() != b.size()) return false;
  const auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
  for (std::size_t i = 0; i < a.size(); ++i)
    if (lower(a[i]) != lower(b[i])) return false;
  return true;
}

bool is_time_name(const std::string& name) {
  for (const std::string& n : time_column_names())
    if (same_name_any_case(name, n)) return true;
  return false;
}

// Among the candidates, the first whose name `matches` and whose survey `holds` times.
template <class Matches, class Holds>
std::optional<std::size_t> first_column(const std::vector<std::string>& names, const std::vector<bool>& candidates,
                                        Matches matches, Holds holds) {
  for (std::size_t i = 0; i < names.size() && i < candidates.size(); ++i)
    if (candidates[i] && matches(names[i]) && holds(i)) return i;
  return std::nullopt;
}

}  // namespace

void TimeSurvey::add(const CsvReader& csv) {
  if (full()) return;
  ++rows_;
  for (std::size_t i = 0; i < columns_.size(); ++i) {
    if (detail::trim_blanks(csv.field(i)).empty()) continue;
    const TimeCell cell = read_time(csv.field(i));
    Counts& c = columns_[i];
    ++c.non_empty;
    if (cell.status != CellStatus::value) continue;
    ++c.times;
    if (!cell.unix_unit) ++c.iso;
  }
}

bool TimeSurvey::mostly_iso(std::size_t i) const noexcept {
  return i < columns_.size() && 2 * columns_[i].iso > columns_[i].non_empty;
}

bool TimeSurvey::mostly_times(std::size_t i) const noexcept {
  return i < columns_.size() && 2 * columns_[i].times > columns_[i].non_empty;
}

TimeSurvey survey_file(const std::string& path) {
  CsvReader csv = open_csv(path);
  TimeSurvey survey(csv.columns().size());
  try {
    while (!survey.full() && csv.next()) survey.add(csv);
  } catch (const format_error& e) {
    fail(e.what());
  }
  return survey;
}

const std::vector<std::string>& time_column_names() {
  static const std::vector<std::string> names{"time", "timestamp", "datetime", "date", "event_time"};
  return names;
}

std::string time_column_rules() {
  return "a column named 'ts', then one named " + join(time_column_names(), ", ") +
         " (any case) whose cells are mostly times, then one whose cells are mostly ISO-8601 times, in the first " +
         std::to_string(time_survey_rows) + " rows";
}

std::optional<TimeColumn> detect_time_column(const CsvReader& csv, const std::optional<std::string>& option,
                                             const std::vector<bool>& candidates, const std::string& file,
                                             const std::function<TimeSurvey()>& survey) {
  if (option) return TimeColumn{require_column(csv, *option, "--time-column", file), TimeColumnRule::option};
  const std::vector<std::string>& names = csv.columns();
  const auto anything = [](std::size_t) { return true; };
  if (auto ts = first_column(names, candidates, [](const std::string& n) { return n == "ts"; }, anything))
    return TimeColumn{*ts, TimeColumnRule::ts};
  const TimeSurvey cells = survey();
  const auto times = [&](std::size_t i) { return cells.mostly_times(i); };
  if (auto named = first_column(names, candidates, is_time_name, times)) return TimeColumn{*named, TimeColumnRule::name};
  const auto iso = [&](std::size_t i) { return cells.mostly_iso(i); };
  if (auto held = first_column(names, candidates, [](const std::string&) { return true; }, iso))
    return TimeColumn{*held, TimeColumnRule::content};
  return std::nullopt;
}

std::string no_time_column_message(const CsvReader& csv, const std::string& file) {
  return "no time column in " + file + ": looked for " + time_column_rules() +
         "; name it with --time-column; columns are: " + join(csv.columns());
}

std::string bad_time_message(std::string_view value, const std::string& file, std::uint64_t row, std::uint64_t line,
                             const std::string& column, const std::optional<TimeUnit>& unit) {
  std::string message = file + ", row " + std::to_string(row) + " (line " + std::to_string(line) + "), column '" +
                        column + "': '" + std::string(value) + "' is not a time";
  if (unit) message += std::string(" in ") + unit_name(*unit) + " (--time-unit " + to_string(*unit) + ")";
  return message + "; accepted, in years 0000-9999: " + accepted_time_formats();
}

}  // namespace vigil::tools

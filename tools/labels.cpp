// vigil — in-process monitoring of machine-learning models in C++ inference servers.
// SPDX-License-Identifier: Apache-2.0
//
// The labels file of `vigil replay --labels`, declared in labels.hpp.
#include "labels.hpp"

#include <limits>
#include <string_view>
#include <vector>

#include "files.hpp"
#include "options.hpp"
#include "time_column.hpp"
#include "vigil/error.hpp"

namespace vigil::tools {

namespace {

// The time column of a labels file: the one --time-column names, else the one found as the
// traffic's is among the columns that are neither the id nor the label.
std::size_t find_label_time(const CsvReader& csv, const std::optional<std::string>& option, std::size_t id,
                            std::optional<std::size_t> label, const std::string& path, std::ostream& err) {
  std::vector<bool> candidates(csv.columns().size(), true);
  candidates[id] = false;
  if (label) candidates[*label] = false;
  const auto time = detect_time_column(csv, option, candidates, path, [&] { return survey_file(path); });
  if (!time) fail(no_time_column_message(csv, path));
  const std::string& name = csv.columns()[time->index];
  if (time->index == id || time->index == label)
    usage_error("--time-column '" + name + "' is the " + (time->index == id ? "--id-column" : "--label-column") +
                " of " + path);
  if (time->rule == TimeColumnRule::name || time->rule == TimeColumnRule::content)
    err << "note: column '" << name << "' of " << path << " is taken as the time of the " << (label ? "labels" : "responses")
        << " (name another with --time-column)\n";
  return time->index;
}

}  // namespace

LabelFeed::LabelFeed(const std::string& path, const LabelColumns& columns, std::optional<TimeUnit> unit,
                     Monitor& monitor, std::ostream& err)
    : csv_(open_csv(path)), unit_(unit), monitor_(monitor) {
  require_unique_columns(csv_, path);
  tally_.path = path;
  id_ = require_column(csv_, columns.id, "--id-column", path);
  if (!columns.label.empty()) label_ = require_column(csv_, columns.label, "--label-column", path);
  if (id_ == label_) usage_error("--id-column and --label-column both name column '" + columns.id + "' of " + path);
  time_ = find_label_time(csv_, columns.time, id_, label_, path, err);
  tally_.time_column = csv_.columns()[time_];
  held_ = advance();
}

bool LabelFeed::advance() {
  try {
    while (csv_.next()) {
      ++tally_.rows;
      const TimeCell time = read_time(csv_.field(time_), unit_);
      if (time.status == CellStatus::value) {
        held_time_ = time.seconds;
        return true;
      }
      if (time.status == CellStatus::missing) {
        ++tally_.missing_time;
        continue;
      }
      ++tally_.bad_time;
      if (tally_.first_bad_time.empty())
        tally_.first_bad_time = bad_time_message(detail::trim_blanks(csv_.field(time_)), tally_.path, csv_.rows(),
                                                 csv_.line(), tally_.time_column, unit_);
    }
  } catch (const format_error& e) {
    fail(e.what());
  }
  return false;
}

void LabelFeed::give() {
  const std::string_view id = detail::trim_blanks(csv_.field(id_));
  if (!label_) {
    if (id.empty()) {
      ++tally_.missing_id;
      return;
    }
    ++tally_.given;
    tally_.joined += monitor_.on_conversion(id, held_time_) ? 1 : 0;
    return;
  }
  const std::string_view label = detail::trim_blanks(csv_.field(*label_));
  if (id.empty()) {
    ++tally_.missing_id;
  } else if (label.empty()) {
    ++tally_.missing_label;
  } else {
    ++tally_.given;
    tally_.joined += monitor_.on_label(id, label, held_time_) ? 1 : 0;
  }
}

void LabelFeed::feed_before(double t) {
  while (held_ && held_time_ < t) {
    give();
    held_ = advance();
  }
}

void LabelFeed::feed_rest(std::ostream& err) {
  feed_before(std::numeric_limits<double>::infinity());
  tally_.ragged_rows = csv_.ragged_rows();
  if (!tally_.first_bad_time.empty())
    err << "note: " << tally_.first_bad_time << "; labels with an unreadable time are counted and skipped\n";
  warn_quote_errors(csv_, err);
}

}  // namespace vigil::tools

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
                            std::optional<std::size_t> label, const std::vector<std::size_t>& attributions,
                            const std::string& path, std::ostream& err) {
  std::vector<bool> candidates(csv.columns().size(), true);
  candidates[id] = false;
  if (label) candidates[*label] = false;
  for (std::size_t a : attributions) candidates[a] = false;
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

// The columns `<prefix><feature>` of every input feature, numeric ones first (the order
// Monitor::on_label takes attributions in).
std::vector<std::size_t> attribution_columns(const CsvReader& csv, const std::string& prefix, const Schema& schema,
                                             const std::string& path) {
  std::vector<std::string> names;
  for (std::uint32_t i = 0; i < schema.numeric_count(); ++i) names.push_back(prefix + schema.name(NumericFeature{i}));
  for (std::uint32_t i = 0; i < schema.categorical_count(); ++i) names.push_back(prefix + schema.name(CategoricalFeature{i}));
  std::vector<std::size_t> columns;
  std::vector<std::string> absent;
  for (const std::string& name : names) {
    if (auto c = csv.find(name)) columns.push_back(*c);
    else absent.push_back(name);
  }
  if (!absent.empty())
    usage_error("--attribution-prefix '" + prefix + "': " + path + " has no column " + join(absent) +
                " (one per input feature of the reference)");
  return columns;
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
  if (!columns.attribution_prefix.empty()) {
    attributions_ = attribution_columns(csv_, columns.attribution_prefix, monitor.schema(), path);
    values_.resize(attributions_.size());
  }
  time_ = find_label_time(csv_, columns.time, id_, label_, attributions_, path, err);
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
    tally_.joined += (attributions_.empty() ? monitor_.on_label(id, label, held_time_) : give_attributed(id, label)) ? 1 : 0;
  }
}

// An empty or unreadable attribution cell is NaN: the monitor counts it and leaves it out.
bool LabelFeed::give_attributed(std::string_view id, std::string_view label) {
  for (std::size_t j = 0; j < attributions_.size(); ++j) {
    double x = 0;
    values_[j] = parse_number(csv_.field(attributions_[j]), x) == CellStatus::value ? x : std::numeric_limits<double>::quiet_NaN();
  }
  return monitor_.on_label(id, label, held_time_, values_.data(), values_.size());
}

void LabelFeed::feed_before(double t) {
  while (held_ && held_time_ < t) {
    give();
    held_ = advance();
  }
}

void LabelFeed::skip_before(double t) {
  while (held_ && held_time_ < t) {
    ++tally_.restored;
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

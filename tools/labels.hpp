// vigil — in-process monitoring of machine-learning models in C++ inference servers.
// SPDX-License-Identifier: Apache-2.0
//
// The late labels of `vigil replay --labels` (docs/cli.md): a CSV file of (request id, time,
// label) rows, each given to Monitor::on_label at its time, merged with the requests in
// event time; and in the same way the responses of `--conversions`, (request id, time) rows
// given to Monitor::on_conversion.
#pragma once

#include <cstddef>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "csv.hpp"
#include "summary.hpp"
#include "vigil/monitor/monitor.hpp"

namespace vigil::tools {

/// The columns that `vigil replay --labels` reads from its labels file, by the names the
/// options give: the request id (`--id-column`), the label (`--label-column`), and the time
/// (`--time-column`, or when it is not given the column found as the traffic's is,
/// time_column.hpp, among the columns that are neither the id nor the label). A responses
/// file has no label column (`label` empty).
struct LabelColumns {
  std::string id;
  std::string label;  // empty: the rows are responses (Monitor::on_conversion)
  std::optional<std::string> time;
  /// `--attribution-prefix`: the file has a column `<prefix><feature>` for each input
  /// feature of the monitor's schema, the label's loss attributed to it; empty: none.
  std::string attribution_prefix;
};

/// Reads a labels file row by row and gives each label to a Monitor when the requests reach
/// its time: feed_before(t) before each request at t, so that a request goes first when a
/// label has the same time, then feed_rest() after the last request. The file is read in its
/// order, as the requests are: a label dated before the one above it goes with it, and the
/// monitor judges it (a label dated before its request is refused and counted there).
///
/// A row with an empty or unreadable time, an empty id or an empty label is skipped and
/// counted in tally(); the label cell goes to Monitor::on_label as text, without its blanks,
/// for the monitor to read as the output's kind asks (a number, a class, 0/1/true/false). A
/// response row goes to Monitor::on_conversion.
/// Memory: one row of the file at a time.
class LabelFeed {
 public:
  /// Opens `path`; fails (a Failure naming the option, the column and the file) when one of
  /// the columns is absent, or when no time column is found. `err` gets a note naming a time
  /// column found by its name or content.
  LabelFeed(const std::string& path, const LabelColumns& columns, std::optional<TimeUnit> unit, Monitor& monitor,
            std::ostream& err);

  /// Gives the monitor the labels of the rows ahead, in file order, up to the first one dated
  /// at or after `t`. A NaN `t` gives nothing.
  void feed_before(double t);
  /// Passes over the rows ahead dated before `t` without giving them, counting them in
  /// LabelTally::restored: a monitor restored from a snapshot had them.
  void skip_before(double t);
  /// Gives the monitor every label left, then notes on `err` the first unreadable time and
  /// text after closing quotes.
  void feed_rest(std::ostream& err);

  const LabelTally& tally() const { return tally_; }

 private:
  // Moves to the next row with a readable time, counting the rows skipped; false at the end.
  bool advance();
  // Gives the current row's label to the monitor, or counts why it is skipped.
  void give();
  bool give_attributed(std::string_view id, std::string_view label);

  CsvReader csv_;
  std::size_t id_ = 0;
  std::optional<std::size_t> label_;  // none for responses
  std::vector<std::size_t> attributions_;  // the attribution columns, in the order of the input features
  std::vector<double> values_;             // one row's attributions
  std::size_t time_ = 0;
  std::optional<TimeUnit> unit_;
  Monitor& monitor_;
  LabelTally tally_;
  bool held_ = false;  // the current row has a time and waits for the requests to reach it
  double held_time_ = 0;
};

}  // namespace vigil::tools

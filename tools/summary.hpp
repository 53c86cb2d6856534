// vigil — in-process monitoring of machine-learning models in C++ inference servers.
// SPDX-License-Identifier: Apache-2.0
//
// What the `vigil` program prints: figures and aligned tables, the summary that ends a
// replay (rows, unreadable cells, accuracy, traffic, latency, alerts, the status of every
// feature), and the per-interval CSV of `vigil replay --intervals`.
#pragma once

#include <array>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "csv.hpp"
#include "vigil/monitor/alerts.hpp"
#include "vigil/monitor/report.hpp"

namespace vigil::tools {

/// `value` through a printf pattern with one double ("%.2f").
std::string format(const char* pattern, double value);
/// A share as "12.3 %", or "-" when it is not defined (NaN).
std::string percent(double share);
/// A figure through `pattern`, or "-" for NaN.
std::string figure(double value, const char* pattern = "%.3f");
/// Seconds as milliseconds with about three significant figures: "12.3", "250", or "-".
std::string milliseconds(double seconds);

/// A time as `format_time` writes it, or "-" for a time not known (NaN): a replay whose rows
/// all arrived without completing has no report time.
std::string time_or_dash(double unix_seconds);

/// Writes rows as left-aligned columns separated by two spaces, each line after `indent`.
void print_table(std::ostream& out, const std::vector<std::vector<std::string>>& rows, const char* indent = "  ");

/// The header row of `vigil replay --intervals`.
inline constexpr const char* interval_header =
    "end,subject,kind,status,recent_count,missing_rate,out_of_range_rate,unseen_rate,bad_values,shift_psi,"
    "shift_p_value,profile_p_value,horizon_count,psi,ks_statistic,ks_p_value,wasserstein";

/// One CSV line per feature and output of an interval's report: the figures the alert rules
/// read (`interval_header` names them). Nothing for a report without features and outputs.
void write_intervals(std::ostream& out, const Report& report);

/// One hour's accuracy of the predicted class against the label.
struct Accuracy {
  std::uint64_t correct = 0;
  std::uint64_t total = 0;
};

/// What a replay read of its late labels (`--labels`), for its summary: rows read, rows
/// skipped before the monitor (no time, no id, no label), and what the monitor made of the
/// rest (its QualityReport counts why a label was not joined).
struct LabelTally {
  std::string path;                ///< the labels file
  std::string time_column;         ///< its time column
  std::uint64_t rows = 0;          ///< data rows read
  std::uint64_t missing_time = 0;  ///< rows with an empty time cell: skipped
  std::uint64_t bad_time = 0;      ///< rows with an unreadable time: skipped
  std::uint64_t missing_id = 0;    ///< rows with an empty id cell: skipped
  std::uint64_t missing_label = 0;  ///< rows with an empty label cell: skipped
  std::uint64_t given = 0;         ///< rows given to Monitor::on_label
  std::uint64_t joined = 0;        ///< of them, joined to their request
  std::uint64_t restored = 0;      ///< --restore: rows dated before the snapshot's latest event, skipped
  std::uint64_t ragged_rows = 0;   ///< rows left out for their field count
  std::string first_bad_time;      ///< bad_time_message() of the first unreadable time, if any
};

/// What a replay read and counted, for its summary.
struct ReplayTally {
  std::string input;          ///< the requests file
  std::size_t columns = 0;    ///< its columns
  std::uint64_t rows = 0;     ///< data rows read
  std::uint64_t missing_time = 0;
  std::uint64_t bad_time = 0;
  std::uint64_t ragged_rows = 0;  ///< rows left out for their field count
  std::uint64_t quote_errors = 0;  ///< fields with text after their closing quote, kept literally
  std::uint64_t arrivals = 0;
  std::uint64_t completions = 0;
  std::uint64_t unanswered = 0;  ///< rows with an arrival and no completion time
  std::uint64_t restored_rows = 0;  ///< --restore: rows dated at or before the snapshot's latest event, skipped
  std::uint64_t snapshots = 0;      ///< --snapshot: snapshots written
  double first_time = std::numeric_limits<double>::infinity();
  double last_time = -std::numeric_limits<double>::infinity();
  double seconds = 0;                  ///< wall-clock time of the replay
  std::vector<std::string> tracked;    ///< columns whose cells are tallied
  std::vector<CellCounts> cells;       ///< per tracked column
  std::map<std::int64_t, Accuracy> accuracy;  ///< per hour of event time
  std::string time_column;
  /// Times read in the time column: as ISO-8601, then as Unix seconds, milliseconds,
  /// microseconds and nanoseconds.
  std::array<std::uint64_t, 5> time_formats{};
  std::optional<TimeUnit> time_unit;  ///< --time-unit, if given
  std::string first_bad_time;         ///< bad_time_message() of the first unreadable time, if any
  std::string predicted_column;  ///< empty when the class is not replayed
  std::string label_column;      ///< empty without --label-column
  std::string arrival_column;    ///< empty without --arrival-column
  bool latency = false;          ///< --latency-column was given
  std::string alerts_path;
  std::optional<LabelTally> labels;  ///< with --labels
  std::optional<LabelTally> conversions;  ///< with --conversions

  /// Counts a time of the time column read as ISO-8601 (no unit) or as a Unix number.
  void read_as(const std::optional<TimeUnit>& unix_unit) {
    ++time_formats[unix_unit ? 1 + static_cast<std::size_t>(*unix_unit) : 0];
  }
  /// Widens the replayed span to include event time `t`.
  void saw(double t) {
    if (t < first_time) first_time = t;
    if (t > last_time) last_time = t;
  }
};

/// The summary of a replay: what was read and skipped, the accuracy by hour, the traffic and
/// latency of the last interval, with `--labels` what became of the labels and the quality
/// figures, every alert transition and the final status per feature and output (docs/cli.md
/// shows one).
void print_replay_summary(std::ostream& out, const ReplayTally& tally, const Report& report,
                          const std::vector<Alert>& alerts);

}  // namespace vigil::tools

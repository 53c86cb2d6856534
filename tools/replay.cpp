// vigil — in-process monitoring of machine-learning models in C++ inference servers.
// SPDX-License-Identifier: Apache-2.0
//
// `vigil replay`, declared in replay.hpp: the settings, where each value is among the input's
// columns, the row loop, and what the replay writes.
#include "replay.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <iostream>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#if defined(__unix__) || defined(__APPLE__)
#include <unistd.h>
#define VIGIL_CLI_HAS_ISATTY 1
#else
#define VIGIL_CLI_HAS_ISATTY 0
#endif

#include "csv.hpp"
#include "files.hpp"
#include "labels.hpp"
#include "summary.hpp"
#include "time_column.hpp"
#include "vigil/error.hpp"
#include "vigil/export/detail/text.hpp"
#include "vigil/export/html.hpp"
#include "vigil/export/json.hpp"
#include "vigil/export/prometheus.hpp"
#include "vigil/monitor/monitor.hpp"
#include "vigil/monitor/observation.hpp"
#include "vigil/monitor/profile.hpp"
#include "vigil/monitor/report.hpp"
#include "vigil/monitor/schema.hpp"

namespace vigil::tools {

namespace {

// ---------------------------------------------------------------------------------------------
// Settings
// ---------------------------------------------------------------------------------------------

struct ReplaySettings {
  std::string reference_path;
  std::string input;
  std::string alerts_path;
  double interval = 60;
  double horizon = MonitorOptions{}.long_horizon;
  std::optional<double> background;  // default: an hour, or two intervals when longer
  double latency_scale = 1e-3;       // latency column units to seconds
  std::optional<TimeUnit> time_unit;  // default: told by magnitude
  std::optional<std::string> labels;  // --labels: the late labels file
  std::optional<std::string> conversions;  // --conversions: the responses file
  std::optional<std::string> arm;          // --arm-column: the tag whose values are the arms
  std::optional<std::string> snapshot;     // --snapshot: where the monitor's state is written
  std::optional<double> snapshot_every;    // --snapshot-every: event seconds between snapshots
  std::optional<std::string> restore;      // --restore: the snapshot the replay continues from
  AlertPolicy policy;
};

// The shortest interval: an event time divided by it stays far inside the range of the
// monitor's 64-bit interval numbers.
constexpr double min_interval = 1e-3;

// A number of seconds at least `least` (`strict`: above it), or nothing when not given; a
// usage Failure saying it must be `what` otherwise.
std::optional<double> seconds_option(const Options& options, const std::string& name, double least, bool strict,
                                     const std::string& what) {
  const auto v = options.get(name);
  if (!v) return std::nullopt;
  double seconds = 0;
  const bool read = parse_number(*v, seconds) == CellStatus::value;
  if (!read || (strict ? !(seconds > least) : !(seconds >= least)))
    usage_error("--" + name + " must be " + what + ", not '" + *v + "'");
  return seconds;
}

// --min-requests: a whole number of requests, at least one.
std::optional<std::uint64_t> count_option(const Options& options, const std::string& name) {
  const auto v = options.get(name);
  if (!v) return std::nullopt;
  const std::string_view text = detail::trim_blanks(*v);
  std::uint64_t count = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), count);
  if (text.empty() || end != text.data() + text.size() || error != std::errc() || count < 1)
    usage_error("--" + name + " must be a whole number of requests, at least 1, not '" + *v + "'");
  return count;
}

// --latency-unit: its scale to seconds.
double latency_scale(const Options& options) {
  const auto u = options.get("latency-unit");
  if (!u || *u == "ms") return 1e-3;
  if (*u == "s") return 1;
  if (*u == "us") return 1e-6;
  usage_error("--latency-unit must be s, ms or us, not '" + *u + "'");
}

// --interval, --horizon, --background, --min-requests and --cool-down.
void read_monitoring(const Options& options, ReplaySettings& s) {
  s.interval = seconds_option(options, "interval", min_interval, false, "a number of seconds, at least 0.001")
                   .value_or(s.interval);
  s.horizon = seconds_option(options, "horizon", 0, true, "a positive number of seconds").value_or(s.horizon);
  s.background = seconds_option(options, "background", s.interval, false,
                                "a number of seconds, at least one interval (" + vigil::detail::to_text(s.interval) +
                                    ")");
  s.policy.min_requests = count_option(options, "min-requests").value_or(s.policy.min_requests);
  s.policy.cool_down = seconds_option(options, "cool-down", 0, false, "a number of seconds, 0 or more")
                           .value_or(s.policy.cool_down);
}

// --labels: a label names its request by id, and its file has a label column.
void read_labels(const Options& options, ReplaySettings& s) {
  s.labels = options.get("labels");
  if (!s.labels) {
    if (options.has("attribution-prefix"))
      usage_error("--attribution-prefix needs --labels: the attributions are columns of the labels file");
    return;
  }
  if (!options.has("id-column"))
    usage_error("--labels needs --id-column: each label of " + *s.labels + " names its request by the id in that "
                "column of " + s.input + " and of " + *s.labels);
  if (!options.has("label-column"))
    usage_error("--labels needs --label-column: the column of " + *s.labels + " that holds the labels");
}

// --conversions: a response names its impression by id; impressions have an arm.
void read_conversions(const Options& options, ReplaySettings& s) {
  s.conversions = options.get("conversions");
  s.arm = options.get("arm-column");
  if (!s.conversions) {
    if (s.arm) usage_error("--arm-column needs --conversions: the arms are compared by their responses");
    return;
  }
  if (!options.has("id-column"))
    usage_error("--conversions needs --id-column: each response of " + *s.conversions +
                " names its impression by the id in that column of " + s.input + " and of " + *s.conversions);
  if (!s.arm) usage_error("--conversions needs --arm-column: the column of " + s.input + " that names each request's arm");
}

// --samples: a sample to label is a request id.
void check_samples(const Options& options, const ReplaySettings& s) {
  if (options.has("samples") && !options.has("id-column"))
    usage_error("--samples needs --id-column: a sample to label is a request id, read from that column of " + s.input);
}

ReplaySettings read_settings(const Options& options) {
  ReplaySettings s;
  s.reference_path = options.required("reference");
  s.input = options.required("input");
  s.alerts_path = options.required("alerts");
  read_monitoring(options, s);
  read_labels(options, s);
  read_conversions(options, s);
  check_samples(options, s);
  s.latency_scale = latency_scale(options);
  s.snapshot = options.get("snapshot");
  s.restore = options.get("restore");
  s.snapshot_every = seconds_option(options, "snapshot-every", 0, true, "a positive number of seconds");
  if (s.snapshot_every && !s.snapshot) usage_error("--snapshot-every needs --snapshot, the file to write");
  if (auto u = options.get("time-unit")) {
    s.time_unit = parse_time_unit(*u);
    if (!s.time_unit) usage_error("--time-unit must be s, ms, us or ns, not '" + *u + "'");
  }
  return s;
}

Profile load_reference(const std::string& path) {
  try {
    return Profile::load(path);
  } catch (const format_error& e) {
    fail(e.what());
  }
}

// ---------------------------------------------------------------------------------------------
// Columns
// ---------------------------------------------------------------------------------------------

// A column of the input, where its value goes, and its tally among ColumnMap::tracked.
struct NumericColumn {
  std::size_t column;
  NumericFeature feature;
  std::size_t counts;
};
struct TextColumn {
  std::size_t column;
  std::uint32_t handle;
  std::size_t counts;
};
struct TalliedColumn {
  std::size_t column;
  std::size_t counts;
};

// Where the replay finds each value among the input's columns.
struct ColumnMap {
  std::size_t time = 0;
  std::vector<NumericColumn> numeric;
  std::vector<TextColumn> categorical;
  std::optional<TextColumn> score;
  std::optional<TextColumn> predicted;
  std::optional<std::size_t> label;
  std::optional<std::size_t> id;
  std::optional<TalliedColumn> latency;
  std::optional<TalliedColumn> arrival;
  std::optional<TalliedColumn> status;
  std::vector<TextColumn> tags;
  std::vector<TextColumn> shadows;  // canary and challenger scores of the output
  std::vector<std::string> tracked;  // columns whose unreadable cells are counted, by tally

  // Adds a tally for column `name`; returns its index.
  std::size_t tally(const std::string& name) {
    tracked.push_back(name);
    return tracked.size() - 1;
  }
};

// The time column, found as `vigil profile` finds it (time_column.hpp) among the columns that
// are not the reference's features or output nor the request id; a note names one found by
// its name or content.
std::size_t find_time_column(const Options& options, const Schema& trained, const CsvReader& csv,
                             const std::string& input, std::ostream& err) {
  const std::optional<std::string> id = options.get("id-column");
  std::vector<std::string> shadows = options.list("canary-columns");
  for (std::string& name : options.list("challenger-columns")) shadows.push_back(std::move(name));
  std::vector<bool> candidates;
  for (const std::string& name : csv.columns())
    candidates.push_back(!trained.kind_of(name) && name != id &&
                         std::find(shadows.begin(), shadows.end(), name) == shadows.end());
  const auto time =
      detect_time_column(csv, options.get("time-column"), candidates, input, [&] { return survey_file(input); });
  if (!time) fail(no_time_column_message(csv, input));
  if (time->rule == TimeColumnRule::name || time->rule == TimeColumnRule::content)
    err << "note: column '" << csv.columns()[time->index]
        << "' is taken as the time column (name another with --time-column)\n";
  return time->index;
}

// Every feature of the reference must be a column of the input.
void map_features(const Schema& trained, const CsvReader& csv, const std::string& input, ColumnMap& map) {
  std::vector<std::string> absent;
  for (std::uint32_t i = 0; i < trained.numeric_count(); ++i) {
    const std::string& name = trained.name(NumericFeature{i});
    if (auto c = csv.find(name)) map.numeric.push_back({*c, NumericFeature{i}, map.tally(name)});
    else absent.push_back(name);
  }
  for (std::uint32_t i = 0; i < trained.categorical_count(); ++i) {
    const std::string& name = trained.name(CategoricalFeature{i});
    if (auto c = csv.find(name)) map.categorical.push_back({*c, i, map.tally(name)});
    else absent.push_back(name);
  }
  if (!absent.empty())
    fail("the reference's feature" + std::string(absent.size() > 1 ? "s " : " ") + join(absent) +
         (absent.size() > 1 ? " are" : " is") + " not in " + input + "; columns are: " + join(csv.columns()));
}

// The predicted class of the reference's output: --predicted-column, else a column named
// `predicted`, else (with a note) none.
void map_predicted(const Options& options, const CsvReader& csv, const std::string& input, std::ostream& err,
                   const std::string& output_name, ColumnMap& map) {
  const std::uint32_t output = map.score->handle;
  if (auto p = options.get("predicted-column")) {
    const std::size_t column = require_column(csv, *p, "--predicted-column", input);
    map.predicted = TextColumn{column, output, map.tally(*p)};
  } else if (auto c = csv.find("predicted")) {
    map.predicted = TextColumn{*c, output, map.tally("predicted")};
  } else {
    err << "note: the reference's output '" << output_name << "' has classes but " << input
        << " has no column 'predicted' and no --predicted-column was given; class frequencies are not monitored\n";
  }
}

// The reference's first output: its score column, and its predicted class when it has classes.
void map_output(const Options& options, const Schema& trained, const CsvReader& csv, const ReplaySettings& settings,
                std::ostream& err, ColumnMap& map) {
  if (trained.output_count() == 0) {
    if (options.has("score-column"))
      fail("the reference " + settings.reference_path + " has no model output; profile it with --score-column");
    if (options.has("predicted-column"))
      fail("the reference " + settings.reference_path + " has no model output for --predicted-column");
    return;
  }
  const Output output{0};
  const std::string& name = trained.name(output);
  const std::string column = options.get("score-column").value_or(name);
  const std::size_t index = require_column(
      csv, column, options.has("score-column") ? "--score-column" : "the reference's output", settings.input);
  map.score = TextColumn{index, output.index, map.tally(column)};
  if (!trained.options(output).classes.empty()) map_predicted(options, csv, settings.input, err, name, map);
  if (trained.output_count() > 1)
    err << "note: the reference has " << trained.output_count() << " outputs; only '" << name << "' is replayed\n";
}

// The request id column: none of the reference's features or outputs (a profile of a file
// with ids leaves them out with --ignore), and not the time column.
void map_id(const Options& options, const Schema& trained, const CsvReader& csv, const std::string& input,
            ColumnMap& map) {
  const auto name = options.get("id-column");
  if (!name) return;
  const std::size_t column = require_column(csv, *name, "--id-column", input);
  if (auto kind = trained.kind_of(*name))
    fail("column '" + *name + "' (--id-column) is a " + Schema::kind_name(*kind) +
         " of the reference; profile the training file with --ignore " + *name);
  if (column == map.time) usage_error("--id-column '" + *name + "' is the time column of " + input);
  map.id = column;
}

// Latency, label, arrival and status columns, each when its option names it; with --labels,
// --label-column names a column of the labels file, not of the input.
void map_operations(const Options& options, const CsvReader& csv, const std::string& input, ColumnMap& map) {
  const auto tallied = [&](const std::string& name, const char* option) {
    const std::size_t column = require_column(csv, name, option, input);
    return TalliedColumn{column, map.tally(name)};
  };
  if (auto l = options.get("latency-column")) map.latency = tallied(*l, "--latency-column");
  const auto y = options.get("label-column");
  if (y && !options.has("labels")) map.label = require_column(csv, *y, "--label-column", input);
  if (auto a = options.get("arrival-column")) {
    map.arrival = tallied(*a, "--arrival-column");
    if (map.arrival->column == map.time) usage_error("--arrival-column '" + *a + "' is the time column");
  }
  if (auto s = options.get("status-column")) map.status = tallied(*s, "--status-column");
}

ColumnMap map_columns(const Options& options, const Schema& trained, const CsvReader& csv,
                      const ReplaySettings& settings, std::ostream& err) {
  require_unique_columns(csv, settings.input);
  ColumnMap map;
  map.time = find_time_column(options, trained, csv, settings.input, err);
  map_id(options, trained, csv, settings.input, map);
  map_features(trained, csv, settings.input, map);
  map_output(options, trained, csv, settings, err, map);
  map_operations(options, csv, settings.input, map);
  return map;
}

// The reference's schema with the tag columns added (a tag the reference already has is
// reused; a feature or output cannot be a tag).
Schema add_tags(const Options& options, const Schema& trained, const CsvReader& csv, const std::string& input,
                ColumnMap& map) {
  Schema schema = trained;
  std::vector<std::string> names = options.list("tag-columns");
  // The arm column is a tag too (of at most Schema::max_cohort_values arms), listed or not.
  const auto arm = options.get("arm-column");
  if (arm && std::find(names.begin(), names.end(), *arm) == names.end()) names.push_back(*arm);
  for (const std::string& name : names) {
    const std::size_t c = require_column(csv, name, arm && name == *arm ? "--arm-column" : "--tag-columns", input);
    if (auto existing = schema.kind_of(name)) {
      if (*existing != Schema::Kind::tag)
        usage_error("column '" + name + "' is a " + Schema::kind_name(*existing) + " of the reference; it cannot be a tag");
    } else {
      TagOptions tag;
      if (arm && name == *arm) tag.max_values = Schema::max_cohort_values;
      schema.add_tag(name, tag);
    }
    map.tags.push_back({c, schema.tag(name).index, 0});
  }
  return schema;
}

// The shadow scores of the output (--canary-columns, --challenger-columns): each a column of
// the input, named as no feature, output or tag of the schema.
void add_shadows(const Options& options, Schema& schema, const CsvReader& csv, const std::string& input,
                 ColumnMap& map) {
  const std::pair<const char*, OutputRole> kinds[] = {{"canary-columns", OutputRole::canary},
                                                      {"challenger-columns", OutputRole::challenger}};
  for (const auto& [option, role] : kinds) {
    for (const std::string& name : options.list(option)) {
      const std::string flag = std::string("--") + option;
      if (!map.score) usage_error(flag + " needs a model output: profile the training file with --score-column");
      const std::size_t c = require_column(csv, name, flag.c_str(), input);
      if (auto existing = schema.kind_of(name))
        usage_error("column '" + name + "' (" + flag + ") is already a " + Schema::kind_name(*existing));
      if (map.id && c == *map.id) usage_error("column '" + name + "' (" + flag + ") is the --id-column");
      const Output champion{map.score->handle};
      const Output shadow = role == OutputRole::canary ? schema.add_canary(name, champion) : schema.add_challenger(name, champion);
      map.shadows.push_back(TextColumn{c, shadow.index, map.tally(name)});
    }
  }
}

std::unique_ptr<Monitor> build_monitor(const Schema& schema, const Profile& reference, const ReplaySettings& s) {
  MonitorOptions options;
  options.interval = s.interval;
  // Roll-ups stay about an hour long, a whole number of intervals.
  options.coarse_interval = s.interval * std::max(1.0, std::round(3600 / s.interval));
  options.background = s.background.value_or(std::max(options.background, 2 * s.interval));
  options.long_horizon = s.horizon;
  // Rows may come late by up to two minutes, or by what the retained intervals span when
  // they are shorter.
  options.lateness = std::min(options.lateness, s.interval * static_cast<double>(options.fine_intervals - 1));
  options.alerts = s.policy;
  if (s.arm) options.conversion_arm = *s.arm;
  options.shards = 1;
  options.evaluate_in_observe = true;
  if (s.restore) {
    try {
      return std::unique_ptr<Monitor>(new Monitor(Monitor::load(*s.restore, schema, reference, options)));
    } catch (const format_error& e) {
      fail("cannot continue from " + *s.restore + " (--restore): " + e.message() +
           "; give the reference and the options of the replay that wrote it");
    } catch (const io_error& e) {
      fail(std::string("--restore: ") + e.what());
    }
  }
  try {
    return std::make_unique<Monitor>(schema, reference, options);
  } catch (const vigil::error& e) {
    using vigil::detail::to_text;
    fail("cannot build the monitor with --interval " + to_text(s.interval) + ", --horizon " + to_text(s.horizon) +
         ", --background " + to_text(options.background) + ": " + e.message());
  }
}

// ---------------------------------------------------------------------------------------------
// Rows
// ---------------------------------------------------------------------------------------------

/// A request's status cell: `ok`, `error` or `timeout` in any case, or an HTTP status code
/// (2xx and 3xx ok; 408 and 504 timeout; any other 4xx or 5xx error). An empty cell is
/// missing; anything else, 1xx codes included, is bad. O(cell length), no allocation.
CellStatus parse_status(std::string_view cell, RequestStatus& out) noexcept {
  const std::string_view text = detail::trim_blanks(cell);
  if (text.empty()) return CellStatus::missing;
  const auto is = [&](std::string_view word) {
    if (text.size() != word.size()) return false;
    for (std::size_t i = 0; i < word.size(); ++i) {
      const char c = text[i] >= 'A' && text[i] <= 'Z' ? static_cast<char>(text[i] - 'A' + 'a') : text[i];
      if (c != word[i]) return false;
    }
    return true;
  };
  if (is("ok")) out = RequestStatus::ok;
  else if (is("error")) out = RequestStatus::error;
  else if (is("timeout")) out = RequestStatus::timeout;
  else if (text.size() == 3 && detail::is_digit(text[0]) && detail::is_digit(text[1]) && detail::is_digit(text[2])) {
    const int code = (text[0] - '0') * 100 + (text[1] - '0') * 10 + (text[2] - '0');
    if (code >= 200 && code < 400) out = RequestStatus::ok;
    else if (code == 408 || code == 504) out = RequestStatus::timeout;
    else if (code >= 400 && code < 600) out = RequestStatus::error;
    else return CellStatus::bad;
  } else {
    return CellStatus::bad;
  }
  return CellStatus::value;
}

// Feeds the input's rows to the monitor: an arrival per row (with --arrival-column), an
// Observation per completed request, and before each row the labels dated before it (with
// --labels); counts what it reads in a ReplayTally, and keeps the message of the first
// unreadable time of each time column.
class RowFeeder {
 public:
  RowFeeder(const ColumnMap& columns, Monitor& monitor, const ReplaySettings& settings, ReplayTally& tally,
            std::array<LabelFeed*, 2> feeds)
      : columns_(columns), monitor_(monitor), request_(monitor.schema()), latency_scale_(settings.latency_scale),
        time_unit_(settings.time_unit), tally_(tally), feeds_(feeds), snapshot_(settings.snapshot),
        snapshot_every_(settings.snapshot_every) {
    // A restored monitor counted the rows up to its latest event, and the labels before it.
    if (settings.restore) skip_through_ = monitor.latest_time();
    for (LabelFeed* feed : feeds_)
      if (feed && !std::isnan(skip_through_)) feed->skip_before(skip_through_);
  }

  // One row: returns its event time, or NaN for a row skipped for its time.
  double feed(const CsvReader& csv);
  // bad_time_message() of the first unreadable arrival time; empty if none.
  const std::string& first_bad_arrival() const { return first_bad_arrival_; }

 private:
  void observe(const CsvReader& csv, double t);
  void set_features(const CsvReader& csv);
  void set_output(const CsvReader& csv, double t);
  void set_operations(const CsvReader& csv);
  TimeCell read_time_cell(const CsvReader& csv, std::size_t column, std::string& first_bad);
  CellStatus parse_number_cell(const CsvReader& csv, std::size_t column, std::size_t counts, double& x) {
    const CellStatus status = parse_number(csv.field(column), x);
    tally_.cells[counts].add(status);
    return status;
  }
  std::string_view text_cell(const CsvReader& csv, std::size_t column, std::size_t counts) {
    const std::string_view v = detail::trim_blanks(csv.field(column));
    tally_.cells[counts].add(v.empty() ? CellStatus::missing : CellStatus::value);
    return v;
  }

  const ColumnMap& columns_;
  Monitor& monitor_;
  Observation request_;
  double latency_scale_;
  std::optional<TimeUnit> time_unit_;
  ReplayTally& tally_;
  std::array<LabelFeed*, 2> feeds_;  // labels and responses; nullptr without --labels, --conversions
  std::string first_bad_arrival_;
  std::optional<std::string> snapshot_;
  std::optional<double> snapshot_every_;
  double next_snapshot_ = std::numeric_limits<double>::quiet_NaN();  // event time of the next --snapshot-every
  double skip_through_ = std::numeric_limits<double>::quiet_NaN();   // --restore: rows up to it were counted

  // --snapshot-every: the state before the first row at or past each multiple of the period.
  void checkpoint(double t);
};

// Writes the monitor's state, crash-safely; a Failure names the file when it cannot.
void write_snapshot(const Monitor& monitor, const std::string& path) {
  try {
    monitor.save(path);
  } catch (const io_error& e) {
    fail(std::string("--snapshot: ") + e.what());
  }
}

void RowFeeder::checkpoint(double t) {
  if (!snapshot_every_) return;
  const double period = *snapshot_every_;
  if (!std::isnan(next_snapshot_) && t >= next_snapshot_) {
    write_snapshot(monitor_, *snapshot_);
    ++tally_.snapshots;
  }
  if (std::isnan(next_snapshot_) || t >= next_snapshot_) next_snapshot_ = (std::floor(t / period) + 1) * period;
}

// A time cell in the replay's unit; the message of the column's first unreadable one is kept
// in `first_bad`.
TimeCell RowFeeder::read_time_cell(const CsvReader& csv, std::size_t column, std::string& first_bad) {
  const TimeCell time = read_time(csv.field(column), time_unit_);
  if (time.status == CellStatus::bad && first_bad.empty()) {
    first_bad = bad_time_message(detail::trim_blanks(csv.field(column)), tally_.input, csv.rows(), csv.line(),
                                 csv.columns()[column], time_unit_);
  }
  return time;
}

double RowFeeder::feed(const CsvReader& csv) {
  ++tally_.rows;
  const TimeCell time = read_time_cell(csv, columns_.time, tally_.first_bad_time);
  const TimeCell arrival =
      columns_.arrival ? read_time_cell(csv, columns_.arrival->column, first_bad_arrival_) : TimeCell{};
  // With arrival times, a row without a completion time is a request never answered.
  const bool arrived_only = time.status == CellStatus::missing && arrival.status == CellStatus::value;
  if (time.status != CellStatus::value && !arrived_only) {
    ++(time.status == CellStatus::missing ? tally_.missing_time : tally_.bad_time);
    return std::numeric_limits<double>::quiet_NaN();
  }
  const double row_time = arrived_only ? arrival.seconds : time.seconds;
  if (row_time <= skip_through_) {
    ++tally_.restored_rows;
    return std::numeric_limits<double>::quiet_NaN();
  }
  checkpoint(row_time);
  // The row's events go after the labels and responses dated before it, before those dated with it.
  for (LabelFeed* feed : feeds_)
    if (feed) feed->feed_before(row_time);
  if (columns_.arrival) tally_.cells[columns_.arrival->counts].add(arrival.status);
  if (arrived_only) {
    monitor_.on_arrival(arrival.seconds);
    ++tally_.arrivals;
    ++tally_.unanswered;
    tally_.saw(arrival.seconds);
    return arrival.seconds;
  }
  tally_.read_as(time.unix_unit);
  const double t = time.seconds;
  if (columns_.arrival) {
    // An unreadable or missing arrival is counted above; the request still arrived, at the
    // latest when it completed.
    const double arrived = arrival.status == CellStatus::value ? arrival.seconds : t;
    monitor_.on_arrival(arrived);
    tally_.first_time = std::min(tally_.first_time, arrived);
  }
  ++tally_.arrivals;
  observe(csv, t);
  return t;
}

void RowFeeder::observe(const CsvReader& csv, double t) {
  request_.clear();
  request_.at(t);
  set_features(csv);
  set_output(csv, t);
  set_operations(csv);
  monitor_.observe(request_);
  ++tally_.completions;
  tally_.saw(t);
}

void RowFeeder::set_features(const CsvReader& csv) {
  for (const NumericColumn& n : columns_.numeric) {
    double x = 0;
    const CellStatus status = parse_number_cell(csv, n.column, n.counts, x);
    if (status == CellStatus::value) request_.set(n.feature, x);
    else if (status == CellStatus::bad) request_.set(n.feature, std::numeric_limits<double>::quiet_NaN());
  }
  for (const TextColumn& c : columns_.categorical) {
    const std::string_view v = text_cell(csv, c.column, c.counts);
    if (!v.empty()) request_.set(CategoricalFeature{c.handle}, v);
  }
}

// The score and predicted class; the predicted class against the label, for the accuracy
// by hour of the summary.
void RowFeeder::set_output(const CsvReader& csv, double t) {
  if (const auto& score = columns_.score) {
    double x = 0;
    if (parse_number_cell(csv, score->column, score->counts, x) == CellStatus::value)
      request_.score(Output{score->handle}, x);
  }
  for (const TextColumn& shadow : columns_.shadows) {
    double x = 0;
    const CellStatus status = parse_number_cell(csv, shadow.column, shadow.counts, x);
    if (status == CellStatus::value) request_.score(Output{shadow.handle}, x);
    else if (status == CellStatus::bad) request_.score(Output{shadow.handle}, std::numeric_limits<double>::quiet_NaN());
  }
  const auto& predicted = columns_.predicted;
  if (!predicted) return;
  const std::string_view v = text_cell(csv, predicted->column, predicted->counts);
  if (!v.empty()) request_.predicted(Output{predicted->handle}, v);
  if (!columns_.label) return;
  const std::string_view y = detail::trim_blanks(csv.field(*columns_.label));
  if (y.empty() || v.empty()) return;
  Accuracy& a = tally_.accuracy[static_cast<std::int64_t>(std::floor(t / 3600))];
  ++a.total;
  a.correct += y == v;
}

// Tags, latency, status and the request id.
void RowFeeder::set_operations(const CsvReader& csv) {
  if (columns_.id) {
    const std::string_view id = detail::trim_blanks(csv.field(*columns_.id));
    if (!id.empty()) request_.id(id);
  }
  for (const TextColumn& g : columns_.tags) {
    const std::string_view v = detail::trim_blanks(csv.field(g.column));
    if (!v.empty()) request_.tag(Tag{g.handle}, v);
  }
  if (const auto& latency = columns_.latency) {
    double x = 0;
    const CellStatus status = parse_number_cell(csv, latency->column, latency->counts, x);
    if (status == CellStatus::value) request_.latency(x * latency_scale_);
    else if (status == CellStatus::bad) request_.latency(std::numeric_limits<double>::quiet_NaN());
  }
  if (const auto& status_column = columns_.status) {
    // A missing or unreadable status is counted; the request is taken as answered.
    RequestStatus ended = RequestStatus::ok;
    tally_.cells[status_column->counts].add(parse_status(csv.field(status_column->column), ended));
    request_.status(ended);
  }
}

// Shows "rows read" on a terminal, at most a few times a second; silent otherwise.
class Progress {
 public:
  explicit Progress(std::ostream& err) : err_(&err) {
#if VIGIL_CLI_HAS_ISATTY
    enabled_ = &err == &std::cerr && isatty(STDERR_FILENO) == 1;
#endif
  }
  void update(std::uint64_t rows, double time) {
    if (!enabled_ || (rows & 0x3fff) != 0) return;
    const auto now = std::chrono::steady_clock::now();
    if (now - last_ < std::chrono::milliseconds(250)) return;
    last_ = now;
    *err_ << "\r  " << rows << " rows, at " << (std::isfinite(time) ? format_time(time) : std::string("-")) << "   "
          << std::flush;
    shown_ = true;
  }
  void done() {
    if (shown_) *err_ << "\r" << std::string(60, ' ') << "\r" << std::flush;
    shown_ = false;
  }

 private:
  std::ostream* err_;
  bool enabled_ = false;
  bool shown_ = false;
  std::chrono::steady_clock::time_point last_{};
};

// The row loop: every row of `csv` through `feeder`, with progress on a terminal. Fails when
// no row has a time; otherwise a note names the first unreadable time of each column.
void feed_rows(CsvReader& csv, RowFeeder& feeder, ReplayTally& tally, std::ostream& err) {
  Progress progress(err);
  try {
    while (csv.next()) {
      const double t = feeder.feed(csv);
      if (!std::isnan(t)) progress.update(tally.rows, t);
    }
  } catch (const format_error& e) {
    progress.done();
    fail(e.what());
  }
  progress.done();
  if (!std::isfinite(tally.last_time)) {
    if (!tally.first_bad_time.empty())
      fail(tally.first_bad_time + " (no row of " + std::to_string(tally.rows) + " has a readable time)");
    fail(tally.input + " has no row with a time in column '" + tally.time_column + "' (" +
         std::to_string(tally.rows) + " rows read)");
  }
  if (!tally.first_bad_time.empty())
    err << "note: " << tally.first_bad_time << "; rows with an unreadable time are counted and skipped\n";
  if (!feeder.first_bad_arrival().empty())
    err << "note: " << feeder.first_bad_arrival()
        << "; requests with an unreadable arrival are counted and taken to arrive when they completed\n";
}

ReplayTally start_tally(const ReplaySettings& settings, const CsvReader& csv, const ColumnMap& map) {
  const std::vector<std::string>& names = csv.columns();
  ReplayTally tally;
  tally.input = settings.input;
  tally.alerts_path = settings.alerts_path;
  tally.columns = names.size();
  tally.tracked = map.tracked;
  tally.cells.resize(map.tracked.size());
  tally.time_column = names[map.time];
  tally.time_unit = settings.time_unit;
  if (map.predicted) tally.predicted_column = names[map.predicted->column];
  if (map.label) tally.label_column = names[*map.label];
  if (map.arrival) tally.arrival_column = names[map.arrival->column];
  tally.latency = map.latency.has_value();
  return tally;
}

// The labels file of --labels, read along the input; nothing without it.
std::unique_ptr<LabelFeed> open_labels(const Options& options, const ReplaySettings& settings, Monitor& monitor,
                                       std::ostream& err) {
  if (!settings.labels) return nullptr;
  if (monitor.schema().output_count() == 0)
    fail("the reference " + settings.reference_path + " has no model output for the labels of " + *settings.labels +
         " to judge; profile it with --score-column");
  const LabelColumns columns{*options.get("id-column"), *options.get("label-column"), options.get("time-column"),
                             options.get("attribution-prefix").value_or("")};
  return std::make_unique<LabelFeed>(*settings.labels, columns, settings.time_unit, monitor, err);
}

// The responses file of --conversions, read along the input; nothing without it.
std::unique_ptr<LabelFeed> open_conversions(const Options& options, const ReplaySettings& settings, Monitor& monitor,
                                            std::ostream& err) {
  if (!settings.conversions) return nullptr;
  const LabelColumns columns{*options.get("id-column"), "", options.get("time-column"), ""};
  return std::make_unique<LabelFeed>(*settings.conversions, columns, settings.time_unit, monitor, err);
}

// --samples: ids ranked by the scores of the output labels judge; a regression has no
// confidence to rank by, which the user is told.
void check_sample_output(const Options& options, const ReplaySettings& settings, const Monitor& monitor,
                         std::ostream& err) {
  const auto path = options.get("samples");
  if (!path) return;
  const Schema& schema = monitor.schema();
  if (schema.output_count() == 0)
    fail("the reference " + settings.reference_path + " has no model output whose scores rank the samples of " + *path +
         "; profile it with --score-column");
  const Output out = vigil::detail::quality_output(schema, monitor.options());
  if (vigil::detail::label_kind(schema.options(out)) == vigil::detail::LabelKind::regression)
    err << "note: output '" << schema.name(out) << "' is a regression (no --threshold, no classes): it has no "
        << "confidence to rank requests by, and " << *path << " stays empty\n";
}

// ---------------------------------------------------------------------------------------------
// Outputs
// ---------------------------------------------------------------------------------------------

// What a replay writes: alerts.jsonl as alerts are raised, the figures of each interval as it
// is evaluated (--intervals, and the history of the HTML report), and the final reports.
// Everything comes from the monitor's callbacks, so that no output changes what is detected.
class ReplayOutputs {
 public:
  ReplayOutputs(const Options& options, const std::string& alerts_path);
  ReplayOutputs(const ReplayOutputs&) = delete;  // the monitor's callbacks hold `this`
  ReplayOutputs& operator=(const ReplayOutputs&) = delete;

  void attach(Monitor& monitor);
  // Completes the files: the last figures, the reports of the end, the alerts.
  void finish(const Report& report, const std::string& input);
  // Every transition, in event-time order.
  const std::vector<Alert>& alerts() const { return alerts_; }

 private:
  const Options& options_;
  std::string alerts_path_;
  std::ofstream alerts_file_;
  std::ofstream intervals_file_;
  std::ofstream samples_file_;
  std::optional<ReportHistory> history_;
  std::vector<Alert> alerts_;
};

ReplayOutputs::ReplayOutputs(const Options& options, const std::string& alerts_path)
    : options_(options), alerts_path_(alerts_path), alerts_file_(create_file(alerts_path)) {
  if (auto path = options.get("intervals")) {
    intervals_file_ = create_file(*path);
    intervals_file_ << interval_header << '\n';
  }
  if (options.has("html")) history_.emplace();
  if (auto path = options.get("samples")) samples_file_ = create_file(*path);
}

void ReplayOutputs::attach(Monitor& monitor) {
  monitor.on_alert([this](const Alert& a) {
    alerts_.push_back(a);
    if (a.transition != Alert::Transition::resolved) alerts_file_ << to_json(a) << '\n';
  });
  // A plain replay asks for no per-interval report, which the monitor would build for nothing.
  if (!intervals_file_.is_open() && !samples_file_.is_open() && !history_) return;
  monitor.on_interval([this](const Report& r) {
    if (intervals_file_.is_open()) write_intervals(intervals_file_, r);
    if (samples_file_.is_open()) samples_file_ << to_json_lines(r.samples);
    if (history_) history_->add(r);
  });
}

void ReplayOutputs::finish(const Report& report, const std::string& input) {
  if (intervals_file_.is_open()) finish_file(intervals_file_, *options_.get("intervals"));
  if (samples_file_.is_open()) finish_file(samples_file_, *options_.get("samples"));
  if (history_) {
    HtmlOptions html;
    html.title = "vigil replay of " + input;
    write_file(*options_.get("html"), to_html(report, alerts_, &*history_, html));
  }
  if (auto path = options_.get("json")) write_file(*path, to_json(report, JsonOptions{2}) + "\n");
  if (auto path = options_.get("prometheus")) write_file(*path, to_prometheus(report));
  finish_file(alerts_file_, alerts_path_);
}

}  // namespace

int run_replay(const Options& options, std::ostream& out, std::ostream& err) {
  const ReplaySettings settings = read_settings(options);
  const Profile reference = load_reference(settings.reference_path);
  CsvReader csv = open_csv(settings.input);
  ColumnMap columns = map_columns(options, reference.schema(), csv, settings, err);
  Schema schema = add_tags(options, reference.schema(), csv, settings.input, columns);
  add_shadows(options, schema, csv, settings.input, columns);
  const std::unique_ptr<Monitor> monitor = build_monitor(schema, reference, settings);
  ReplayTally tally = start_tally(settings, csv, columns);
  check_sample_output(options, settings, *monitor, err);
  const std::unique_ptr<LabelFeed> labels = open_labels(options, settings, *monitor, err);
  const std::unique_ptr<LabelFeed> conversions = open_conversions(options, settings, *monitor, err);
  RowFeeder feeder(columns, *monitor, settings, tally, {labels.get(), conversions.get()});
  ReplayOutputs outputs(options, settings.alerts_path);
  outputs.attach(*monitor);

  const auto started = std::chrono::steady_clock::now();
  feed_rows(csv, feeder, tally, err);
  // Labels and responses after the last request; finish() credits them.
  if (labels) {
    labels->feed_rest(err);
    tally.labels = labels->tally();
  }
  if (conversions) {
    conversions->feed_rest(err);
    tally.conversions = conversions->tally();
  }
  // The state at the end of the log, before finish() closes its last interval: a replay of
  // the next log continues from it.
  if (settings.snapshot) {
    write_snapshot(*monitor, *settings.snapshot);
    ++tally.snapshots;
  }
  // The log ends here; the time after its last row is not a silence of the traffic.
  const Report report = monitor->finish();
  outputs.finish(report, settings.input);
  tally.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  tally.ragged_rows = csv.ragged_rows();
  tally.quote_errors = csv.quote_errors();
  warn_quote_errors(csv, err);
  print_replay_summary(out, tally, report, outputs.alerts());
  if (settings.snapshot)
    out << "\nsnapshot: " << *settings.snapshot << " (" << tally.snapshots << " written; 'vigil replay --restore' "
        << "continues from the last)\n";
  return exit_ok;
}

}  // namespace vigil::tools

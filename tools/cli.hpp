// vigil — in-process monitoring of machine-learning models in C++ inference servers.
// SPDX-License-Identifier: Apache-2.0
//
// The `vigil` command-line program (docs/cli.md): `vigil profile` builds a training reference
// from a CSV file, `vigil replay` feeds a CSV log of requests through a Monitor in event
// time and writes the alerts. Everything lives here, behind run_cli(), so that tests call
// the program in-process; tools/vigil.cpp is only its main().
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <ostream>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#if defined(__unix__) || defined(__APPLE__)
#include <unistd.h>
#define VIGIL_CLI_HAS_ISATTY 1
#else
#define VIGIL_CLI_HAS_ISATTY 0
#endif

#include "alert_json.hpp"
#include "csv.hpp"
#include "vigil/error.hpp"
#include "vigil/io/binary.hpp"
#include "vigil/monitor/monitor.hpp"
#include "vigil/monitor/observation.hpp"
#include "vigil/monitor/profile.hpp"
#include "vigil/monitor/report.hpp"
#include "vigil/monitor/schema.hpp"

// The report exports need {fmt}; without it the program still replays and writes alerts.
#if __has_include(<fmt/format.h>) && __has_include("vigil/export/json.hpp")
#include "vigil/export/html.hpp"
#include "vigil/export/json.hpp"
#include "vigil/export/prometheus.hpp"
#define VIGIL_CLI_HAS_EXPORT 1
#else
#define VIGIL_CLI_HAS_EXPORT 0
#endif

namespace vigil::tools {

/// Exit codes of the program.
inline constexpr int exit_ok = 0;        ///< done (alerts or not)
inline constexpr int exit_internal = 1;  ///< an unexpected failure inside the library
inline constexpr int exit_input = 2;     ///< bad options, unreadable or missing files, missing columns

/// Runs `vigil <command> [options]` with `args` (args[0] is the program name) and returns
/// the exit code. Results go to `out`; errors, notes and progress to `err`. Progress is shown
/// only when `err` is std::cerr and standard error is a terminal.
int run_cli(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

/// The same for main()'s arguments.
inline int run_cli(int argc, char** argv, std::ostream& out, std::ostream& err) {
  std::vector<std::string> args;
  for (int i = 0; i < argc; ++i) args.emplace_back(argv[i]);
  return run_cli(args, out, err);
}

namespace cli {

// ---------------------------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------------------------

/// A failure reported to the user as one line, with exit code 2; `usage` adds the command's
/// usage text.
class Failure : public std::runtime_error {
 public:
  Failure(const std::string& what, bool usage) : std::runtime_error(what), usage_(usage) {}
  bool usage() const { return usage_; }

 private:
  bool usage_;
};

[[noreturn]] inline void fail(const std::string& what) { throw Failure(what, false); }
[[noreturn]] inline void usage_error(const std::string& what) { throw Failure(what, true); }

struct OptionSpec {
  const char* name;
  const char* value;  // what the value is, for the usage text; nullptr for a flag
  const char* help;
};

struct Command {
  const char* name;
  const char* synopsis;
  const char* summary;
  std::vector<OptionSpec> options;
};

inline const Command& profile_command() {
  static const Command command{
      "profile",
      "vigil profile --input train.csv --output reference.vigil [--categorical a,b] [--score-column s]\n"
      "              [--predicted-column p] [--label-column y] [--ignore a,b] [--time-column ts]",
      "Builds the training reference of a model from a CSV file with a header row: every column is a\n"
      "numeric feature unless an option gives it another role; text columns are detected and made\n"
      "categorical.",
      {
          {"input", "FILE", "training rows, CSV with a header row (required)"},
          {"output", "FILE", "where to write the reference (required)"},
          {"categorical", "A,B", "columns that are categorical features"},
          {"score-column", "S", "the model's score: a model output, not a feature"},
          {"predicted-column", "P", "the predicted class; its distinct values become the output's classes "
                                    "(needs --score-column)"},
          {"label-column", "Y", "the true label: not a feature (kept for quality monitoring)"},
          {"ignore", "A,B", "columns to leave out"},
          {"time-column", "TS", "a time column to leave out (default: 'ts' if present)"},
          {"help", nullptr, "this text"},
      }};
  return command;
}

inline const Command& replay_command() {
  static const Command command{
      "replay",
      "vigil replay --reference reference.vigil --input traffic.csv --alerts alerts.jsonl\n"
      "             [--time-column ts] [--score-column s] [--latency-column latency_ms]\n"
      "             [--tag-columns host,model] [--label-column y] [--html report.html]\n"
      "             [--arrival-column a] [--status-column s]",
      "Replays a CSV log of requests through the monitor in event time, against a reference written\n"
      "by 'vigil profile', and writes every alert raised or escalated to a JSON-lines file.",
      {
          {"reference", "FILE", "the reference written by 'vigil profile' (required)"},
          {"input", "FILE", "the requests, CSV with a header row (required)"},
          {"alerts", "FILE", "where to write alerts, one JSON object per line (required)"},
          {"time-column", "TS", "event time, ISO-8601 or Unix seconds (default: 'ts'); with --arrival-column, "
                                "the completion time (empty: the request was never answered)"},
          {"arrival-column", "A", "the request's arrival time, ISO-8601 or Unix seconds (default: each row "
                                  "arrives at its time)"},
          {"status-column", "S", "how the request ended: ok, error or timeout, or an HTTP status (2xx, 3xx ok; "
                                 "408, 504 timeout; other 4xx, 5xx error)"},
          {"score-column", "S", "the model's score (default: the reference's output name)"},
          {"predicted-column", "P", "the predicted class (default: 'predicted' if the reference has classes)"},
          {"latency-column", "L", "request latency"},
          {"latency-unit", "s|ms|us", "unit of the latency column (default: ms)"},
          {"tag-columns", "A,B", "request tags such as host or model version"},
          {"label-column", "Y", "the true label: not a feature; accuracy against --predicted-column is shown"},
          {"interval", "SECONDS", "length of a monitoring interval (default: 60)"},
          {"horizon", "SECONDS", "span of the long-term drift comparison with training (default: 86400)"},
          {"intervals", "FILE", "write every interval's figures per feature and output as CSV"},
          {"html", "FILE", "write the final report as HTML"},
          {"json", "FILE", "write the final report as JSON"},
          {"prometheus", "FILE", "write the final report in the Prometheus text format"},
          {"help", nullptr, "this text"},
      }};
  return command;
}

inline std::string general_usage() {
  return "usage: vigil <command> [options]\n"
         "\n"
         "commands:\n"
         "  profile   build a training reference from a CSV file\n"
         "  replay    replay a CSV log of requests through the monitor and write the alerts\n"
         "\n"
         "Run 'vigil <command> --help' for the options of a command.\n";
}

inline std::string usage_of(const Command& command) {
  std::string text = "usage: " + std::string(command.synopsis) + "\n\n" + command.summary + "\n\noptions:\n";
  for (const OptionSpec& o : command.options) {
    std::string left = "  --" + std::string(o.name);
    if (o.value) left += " " + std::string(o.value);
    if (left.size() < 28) left.resize(28, ' ');
    else left += "  ";
    text += left + o.help + "\n";
  }
  return text;
}

/// Parsed options of one command: `--name value` or `--name=value`.
class Options {
 public:
  Options(const Command& command, const std::vector<std::string>& args, std::size_t first) : command_(&command) {
    for (std::size_t i = first; i < args.size(); ++i) {
      const std::string& arg = args[i];
      if (arg == "-h") {
        values_["help"] = "";
        continue;
      }
      if (arg.size() < 3 || arg.compare(0, 2, "--") != 0)
        usage_error("unexpected argument '" + arg + "' for 'vigil " + command.name + "'");
      std::string name = arg.substr(2);
      std::optional<std::string> value;
      if (const auto eq = name.find('='); eq != std::string::npos) {
        value = name.substr(eq + 1);
        name.resize(eq);
      }
      const OptionSpec* spec = nullptr;
      for (const OptionSpec& o : command.options)
        if (name == o.name) spec = &o;
      if (spec == nullptr) usage_error("unknown option '--" + name + "' for 'vigil " + command.name + "'");
      if (spec->value == nullptr) {
        if (value) usage_error("option '--" + name + "' takes no value");
        values_[name] = "";
        continue;
      }
      if (!value) {
        if (i + 1 >= args.size() || args[i + 1].compare(0, 2, "--") == 0)
          usage_error("option '--" + name + "' needs a value (" + spec->value + ")");
        value = args[++i];
      }
      if (values_.count(name)) usage_error("option '--" + name + "' is given twice");
      values_[name] = *value;
    }
  }

  bool has(const std::string& name) const { return values_.count(name) != 0; }
  std::optional<std::string> get(const std::string& name) const {
    const auto it = values_.find(name);
    if (it == values_.end()) return std::nullopt;
    return it->second;
  }
  std::string required(const std::string& name) const {
    const auto it = values_.find(name);
    if (it == values_.end() || it->second.empty())
      usage_error("'vigil " + std::string(command_->name) + "' needs --" + name);
    return it->second;
  }
  /// A comma-separated list; blanks around names are dropped, as are empty names.
  std::vector<std::string> list(const std::string& name) const {
    std::vector<std::string> out;
    const auto v = get(name);
    if (!v) return out;
    std::size_t start = 0;
    while (start <= v->size()) {
      std::size_t end = v->find(',', start);
      if (end == std::string::npos) end = v->size();
      const std::string_view item = detail::trim_blanks(std::string_view(*v).substr(start, end - start));
      if (!item.empty()) out.emplace_back(item);
      start = end + 1;
    }
    return out;
  }

 private:
  const Command* command_;
  std::map<std::string, std::string> values_;
};

// ---------------------------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------------------------

inline std::string join(const std::vector<std::string>& items, const char* separator = ", ") {
  std::string out;
  for (std::size_t i = 0; i < items.size(); ++i) out += (i ? separator : "") + items[i];
  return out;
}

inline std::string format(const char* pattern, double value) {
  char text[64];
  std::snprintf(text, sizeof text, pattern, value);
  return text;
}

/// A share as "12.3 %", or "-" when it is not defined.
inline std::string percent(double share) { return std::isnan(share) ? "-" : format("%.1f %%", 100 * share); }
inline std::string figure(double v, const char* pattern = "%.3f") { return std::isnan(v) ? "-" : format(pattern, v); }

inline std::string padded(std::string text, std::size_t width) {
  if (text.size() < width) text.resize(width, ' ');
  return text;
}

/// Writes rows as left-aligned columns separated by two spaces.
inline void print_table(std::ostream& out, const std::vector<std::vector<std::string>>& rows, const char* indent = "  ") {
  std::vector<std::size_t> widths;
  for (const auto& row : rows)
    for (std::size_t i = 0; i < row.size(); ++i) {
      if (widths.size() <= i) widths.push_back(0);
      widths[i] = std::max(widths[i], row[i].size());
    }
  for (const auto& row : rows) {
    std::string line = indent;
    for (std::size_t i = 0; i < row.size(); ++i) line += i + 1 < row.size() ? padded(row[i], widths[i] + 2) : row[i];
    out << line << '\n';
  }
}

/// One alerts.jsonl line, without the line break.
inline std::string alert_line(const Alert& alert) {
#if VIGIL_CLI_HAS_EXPORT
  return vigil::to_json(alert);
#else
  return alert_json_line(alert);
#endif
}

/// Writes `text` to a file, or fails naming it.
inline void write_file(const std::string& path, const std::string& text) {
  std::ofstream file(path, std::ios::binary | std::ios::trunc);
  file << text;
  file.flush();
  if (!file) fail("cannot write '" + path + "'");
}

inline CsvReader open_csv(const std::string& path) {
  try {
    return CsvReader::open(path);
  } catch (const format_error& e) {
    fail(e.what());
  }
}

/// "column 'ts' (--time-column) not found in traffic.csv; columns are: a, b".
[[noreturn]] inline void missing_column(const std::string& column, const std::string& option, const std::string& file,
                                        const std::vector<std::string>& columns) {
  fail("column '" + column + "'" + (option.empty() ? "" : " (" + option + ")") + " not found in " + file +
       "; columns are: " + join(columns));
}

inline std::size_t require_column(const CsvReader& csv, const std::string& column, const std::string& option,
                                  const std::string& file) {
  const auto index = csv.find(column);
  if (!index) missing_column(column, option, file, csv.columns());
  return *index;
}

/// Shows "rows read" on a terminal, at most a few times a second; silent otherwise.
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

// ---------------------------------------------------------------------------------------------
// vigil profile
// ---------------------------------------------------------------------------------------------

enum class Role : unsigned char { undecided, numeric, categorical, score, predicted, label, ignored, time };

inline const char* role_option(Role role) {
  switch (role) {
    case Role::categorical: return "--categorical";
    case Role::score: return "--score-column";
    case Role::predicted: return "--predicted-column";
    case Role::label: return "--label-column";
    case Role::ignored: return "--ignore";
    case Role::time: return "--time-column";
    default: return "";
  }
}

/// What the first pass learns about a column whose role no option gave.
struct ColumnSurvey {
  std::uint64_t non_empty = 0;
  std::uint64_t numbers = 0;
  std::uint64_t times = 0;  // ISO-8601 text
};

inline int run_profile(const Options& options, std::ostream& out, std::ostream& err) {
  const std::string input = options.required("input");
  const std::string output = options.required("output");
  if (options.has("predicted-column") && !options.has("score-column"))
    usage_error("--predicted-column needs --score-column: the predicted class belongs to the model's output");

  CsvReader csv = open_csv(input);
  const std::vector<std::string> columns = csv.columns();
  std::vector<Role> roles(columns.size(), Role::undecided);
  const auto assign = [&](const std::string& column, Role role) {
    const std::size_t i = require_column(csv, column, role_option(role), input);
    if (roles[i] != Role::undecided)
      usage_error("column '" + column + "' is given to both " + role_option(roles[i]) + " and " + role_option(role));
    roles[i] = role;
  };
  for (const std::string& c : options.list("categorical")) assign(c, Role::categorical);
  if (auto s = options.get("score-column")) assign(*s, Role::score);
  if (auto p = options.get("predicted-column")) assign(*p, Role::predicted);
  if (auto y = options.get("label-column")) assign(*y, Role::label);
  for (const std::string& c : options.list("ignore")) assign(c, Role::ignored);
  if (auto t = options.get("time-column")) {
    assign(*t, Role::time);
  } else if (const auto ts = csv.find("ts"); ts && roles[*ts] == Role::undecided) {
    roles[*ts] = Role::time;
    err << "note: column 'ts' is taken as the time column and left out (name another with --time-column)\n";
  }

  // First pass: the type of every undeclared column, and the predicted classes.
  std::vector<ColumnSurvey> survey(columns.size());
  std::set<std::string> classes;
  const auto predicted_column = std::find(roles.begin(), roles.end(), Role::predicted) - roles.begin();
  try {
    while (csv.next()) {
      for (std::size_t i = 0; i < columns.size(); ++i) {
        if (roles[i] == Role::undecided) {
          const std::string_view cell = csv.field(i);
          double x;
          const CellStatus number = parse_number(cell, x);
          if (number == CellStatus::missing) continue;
          ++survey[i].non_empty;
          if (number == CellStatus::value) {
            ++survey[i].numbers;
          } else if (cell.size() >= 10 && cell[4] == '-' && parse_time(cell, x) == CellStatus::value) {
            ++survey[i].times;
          }
        } else if (roles[i] == Role::predicted) {
          const std::string_view cell = detail::trim_blanks(csv.field(i));
          if (!cell.empty() && classes.size() <= 1000) classes.emplace(cell);
        }
      }
    }
  } catch (const format_error& e) {
    fail(e.what());
  }
  if (classes.size() > 1000)
    fail("column '" + columns[static_cast<std::size_t>(predicted_column)] + "' (--predicted-column) has more than " +
         "1000 distinct values; is it the predicted class?");
  for (std::size_t i = 0; i < columns.size(); ++i) {
    if (roles[i] != Role::undecided) continue;
    const ColumnSurvey& s = survey[i];
    const std::uint64_t text = s.non_empty - s.numbers;
    if (s.non_empty > 0 && 2 * s.times > s.non_empty) {
      roles[i] = Role::time;
      err << "note: column '" << columns[i] << "' holds times; left out (declare it with --time-column)\n";
    } else if (2 * text > s.non_empty) {
      roles[i] = Role::categorical;
      err << "note: column '" << columns[i] << "' is mostly text (" << text << " of " << s.non_empty
          << " non-empty cells are not numbers); profiled as categorical (declare it with --categorical, or --ignore it)\n";
    } else {
      roles[i] = Role::numeric;
      if (s.non_empty == 0) err << "note: column '" << columns[i] << "' is empty in every row; profiled as numeric\n";
    }
  }

  // Schema in column order.
  Schema schema;
  std::vector<std::uint32_t> handle(columns.size(), 0);
  try {
    for (std::size_t i = 0; i < columns.size(); ++i) {
      if (roles[i] == Role::numeric) handle[i] = schema.add_numeric(columns[i]).index;
      if (roles[i] == Role::categorical) handle[i] = schema.add_categorical(columns[i]).index;
      if (roles[i] == Role::score) {
        OutputOptions output_options;
        output_options.classes.assign(classes.begin(), classes.end());
        handle[i] = schema.add_output(columns[i], output_options).index;
      }
    }
  } catch (const invalid_argument& e) {
    fail(input + ": " + e.what());
  }
  const auto score_column = std::find(roles.begin(), roles.end(), Role::score) - roles.begin();

  // Second pass: every row into the profile.
  Profile profile(schema);
  Observation row(schema);
  std::vector<CellCounts> cells(columns.size());
  CsvReader data = open_csv(input);
  try {
    while (data.next()) {
      row.clear();
      for (std::size_t i = 0; i < columns.size(); ++i) {
        const std::string_view cell = data.field(i);
        switch (roles[i]) {
          case Role::numeric: {
            double x = 0;
            const CellStatus status = parse_number(cell, x);
            cells[i].add(status);
            if (status == CellStatus::value) row.set(NumericFeature{handle[i]}, x);
            else if (status == CellStatus::bad) row.set(NumericFeature{handle[i]}, std::numeric_limits<double>::quiet_NaN());
            break;
          }
          case Role::categorical: {
            const std::string_view v = detail::trim_blanks(cell);
            cells[i].add(v.empty() ? CellStatus::missing : CellStatus::value);
            if (!v.empty()) row.set(CategoricalFeature{handle[i]}, v);
            break;
          }
          case Role::score: {
            double x = 0;
            const CellStatus status = parse_number(cell, x);
            cells[i].add(status);
            if (status == CellStatus::value) row.score(Output{handle[i]}, x);
            break;
          }
          case Role::predicted: {
            const std::string_view v = detail::trim_blanks(cell);
            cells[i].add(v.empty() ? CellStatus::missing : CellStatus::value);
            if (!v.empty()) row.predicted(Output{handle[static_cast<std::size_t>(score_column)]}, v);
            break;
          }
          default: break;
        }
      }
      profile.add(row);
    }
  } catch (const format_error& e) {
    fail(e.what());
  }
  if (profile.rows() == 0) fail(input + " has no data rows");
  try {
    profile.save(output);
  } catch (const format_error& e) {
    fail(e.what());
  }

  out << "profiled " << input << ": " << profile.rows() << " rows -> " << output << '\n';
  if (data.ragged_rows() > 0)
    out << "  skipped " << data.ragged_rows() << " rows whose field count differs from the header's\n";
  std::vector<std::vector<std::string>> table{{"column", "role", "missing", "bad", "training range / categories"}};
  for (std::size_t i = 0; i < columns.size(); ++i) {
    const CellCounts& c = cells[i];
    const double total = static_cast<double>(std::max<std::uint64_t>(1, c.total()));
    std::string role, detail_text;
    switch (roles[i]) {
      case Role::numeric: {
        role = "numeric";
        const auto& ref = profile.numeric(NumericFeature{handle[i]});
        if (!ref.digest.empty())
          detail_text = vigil::detail::to_text(ref.digest.min()) + " .. " + vigil::detail::to_text(ref.digest.max());
        break;
      }
      case Role::categorical: {
        role = "categorical";
        const auto& counts = profile.categorical(CategoricalFeature{handle[i]}).counts;
        detail_text = std::to_string(counts.entries().size()) + " categories";
        break;
      }
      case Role::score:
        role = "output";
        if (!classes.empty()) detail_text = std::to_string(classes.size()) + " classes";
        break;
      case Role::predicted: role = "predicted class"; break;
      case Role::label: role = "label (not a feature)"; break;
      case Role::ignored: role = "ignored"; break;
      case Role::time: role = "time (not a feature)"; break;
      case Role::undecided: break;
    }
    const bool counted = c.total() > 0;
    table.push_back({columns[i], role, counted ? percent(static_cast<double>(c.missing) / total) : "",
                     counted ? std::to_string(c.bad) : "", detail_text});
  }
  print_table(out, table);
  return exit_ok;
}

// ---------------------------------------------------------------------------------------------
// vigil replay
// ---------------------------------------------------------------------------------------------

struct NumericColumn {
  std::size_t column;
  NumericFeature feature;
  std::size_t counts;  // index into the per-column tallies
};
struct TextColumn {
  std::size_t column;
  std::uint32_t handle;
  std::size_t counts;
};

/// One interval's label accuracy, for the summary.
struct Accuracy {
  std::uint64_t correct = 0;
  std::uint64_t total = 0;
};

/// A request's status cell: `ok`, `error` or `timeout` in any case, or an HTTP status code
/// (2xx and 3xx ok; 408 and 504 timeout; any other 4xx or 5xx error). An empty cell is
/// missing; anything else, 1xx codes included, is bad. O(cell length), no allocation.
inline CellStatus parse_status(std::string_view cell, RequestStatus& out) noexcept {
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

/// Milliseconds with three significant figures or so: "12.3", "250", "-".
inline std::string milliseconds(double seconds) {
  if (std::isnan(seconds)) return "-";
  const double ms = 1000 * seconds;
  return format(ms < 10 ? "%.2f" : (ms < 100 ? "%.1f" : "%.0f"), ms);
}

/// The summary's traffic line: where arrivals come from, the replay's totals, and the last
/// interval judged: its arrivals against the prediction and its error and timeout rates.
inline void print_traffic(std::ostream& out, const Report& report, const std::string& arrival_column,
                          std::uint64_t arrivals, std::uint64_t completions) {
  const TrafficReport& t = report.traffic;
  out << "  traffic: arrivals "
      << (arrival_column.empty() ? std::string("are the rows' times (no --arrival-column)")
                                 : "from column '" + arrival_column + "'")
      << "; " << arrivals << " arrivals / " << completions << " completions";
  if (!arrival_column.empty()) out << ", " << t.in_flight << " in flight at the end";
  out << "; interval to " << (std::isnan(report.recent_end) ? std::string("-") : format_time(report.recent_end).substr(11, 5))
      << ": " << t.recent_arrivals << " arrivals / " << t.recent_completions << " completions vs "
      << figure(t.predicted_arrivals, "%.1f") << " predicted (" << t.rate_model << " model on " << t.rate_history
      << " intervals); errors " << percent(t.error_rate) << " (background " << percent(t.background_error_rate)
      << "), timeouts " << percent(t.timeout_rate) << " (background " << percent(t.background_timeout_rate) << ")\n";
}

/// The summary's latency line: p50/p99/p99.9 of the latency window against the background,
/// the slow threshold and the tag value most over-represented among the slow requests.
inline void print_latency(std::ostream& out, const LatencyReport& l) {
  out << "  latency (ms): p50/p99/p99.9 " << milliseconds(l.recent_p50) << " / " << milliseconds(l.recent_p99) << " / "
      << milliseconds(l.recent_p999) << " recent (" << l.recent_count << " requests) vs "
      << milliseconds(l.background_p50) << " / " << milliseconds(l.background_p99) << " / "
      << milliseconds(l.background_p999) << " background; " << l.slow << " slow (above "
      << milliseconds(l.slow_threshold) << " ms)";
  if (!l.attribution.empty()) {
    const SlowAttribution& a = l.attribution.front();
    out << "; " << a.tag << '=' << a.value << " carries " << format("%.0f %%", 100 * a.share_of_slow)
        << " of slow requests vs " << format("%.0f %%", 100 * a.share_of_all) << " of all requests";
  }
  out << '\n';
}

inline constexpr const char* interval_header =
    "end,subject,kind,status,recent_count,missing_rate,out_of_range_rate,unseen_rate,bad_values,shift_psi,"
    "shift_p_value,profile_p_value,horizon_count,psi,ks_statistic,ks_p_value,wasserstein";

/// One CSV line per feature and output of a report: the figures the alert rules read.
inline void write_intervals(std::ostream& out, const Report& report) {
  if (report.features.empty() && report.outputs.empty()) return;
  const std::string end = format_time(report.recent_end);
  const auto number = [](double v) { return std::isnan(v) ? std::string() : vigil::detail::to_text(v); };
  for (const FeatureReport& f : report.features)
    out << end << ',' << f.name << ',' << (f.categorical ? "categorical" : "numeric") << ',' << to_string(f.status) << ','
        << f.recent_count << ',' << number(f.missing_rate) << ',' << number(f.out_of_range_rate) << ','
        << number(f.unseen_rate) << ',' << f.bad_values << ',' << number(f.shift_psi) << ',' << number(f.shift_p_value)
        << ',' << number(f.profile_p_value) << ',' << f.horizon_count << ',' << number(f.psi) << ','
        << number(f.ks_statistic) << ',' << number(f.ks_p_value) << ',' << number(f.wasserstein) << '\n';
  for (const OutputReport& o : report.outputs)
    out << end << ',' << o.name << ",output," << to_string(o.status) << ',' << o.recent_count << ','
        << number(o.missing_rate) << ",,,0," << number(o.shift_psi) << ',' << number(o.shift_p_value) << ','
        << number(o.profile_p_value) << ',' << o.horizon_count << ',' << number(o.psi) << ',' << number(o.ks_statistic)
        << ',' << number(o.ks_p_value) << ',' << number(o.wasserstein) << '\n';
}

inline int run_replay(const Options& options, std::ostream& out, std::ostream& err) {
  const std::string reference_path = options.required("reference");
  const std::string input = options.required("input");
  const std::string alerts_path = options.required("alerts");
  double interval = 60;
  if (auto v = options.get("interval")) {
    if (parse_number(*v, interval) != CellStatus::value || !(interval > 0))
      usage_error("--interval must be a positive number of seconds, not '" + *v + "'");
  }
  double horizon = MonitorOptions{}.long_horizon;
  if (auto v = options.get("horizon")) {
    if (parse_number(*v, horizon) != CellStatus::value || !(horizon > 0))
      usage_error("--horizon must be a positive number of seconds, not '" + *v + "'");
  }
  double latency_scale = 1e-3;
  if (auto u = options.get("latency-unit")) {
    if (*u == "s") latency_scale = 1;
    else if (*u == "ms") latency_scale = 1e-3;
    else if (*u == "us") latency_scale = 1e-6;
    else usage_error("--latency-unit must be s, ms or us, not '" + *u + "'");
  }

  Profile reference = [&] {
    try {
      return Profile::load(reference_path);
    } catch (const format_error& e) {
      fail(e.what());
    }
  }();
  const Schema& trained = reference.schema();
  CsvReader csv = open_csv(input);
  const std::vector<std::string>& columns = csv.columns();

  // Columns. Every one the reference knows must be present.
  std::size_t time_column = 0;
  if (auto t = options.get("time-column")) {
    time_column = require_column(csv, *t, "--time-column", input);
  } else if (auto ts = csv.find("ts")) {
    time_column = *ts;
  } else {
    fail("column 'ts' not found in " + input + "; name the time column with --time-column; columns are: " + join(columns));
  }
  std::vector<std::string> absent;
  std::vector<std::string> tracked;  // names of the columns with per-column tallies
  std::vector<NumericColumn> numeric;
  std::vector<TextColumn> categorical;
  for (std::uint32_t i = 0; i < trained.numeric_count(); ++i) {
    const std::string& name = trained.name(NumericFeature{i});
    if (auto c = csv.find(name)) {
      numeric.push_back({*c, NumericFeature{i}, tracked.size()});
      tracked.push_back(name);
    } else {
      absent.push_back(name);
    }
  }
  for (std::uint32_t i = 0; i < trained.categorical_count(); ++i) {
    const std::string& name = trained.name(CategoricalFeature{i});
    if (auto c = csv.find(name)) {
      categorical.push_back({*c, i, tracked.size()});
      tracked.push_back(name);
    } else {
      absent.push_back(name);
    }
  }
  if (!absent.empty())
    fail("the reference's feature" + std::string(absent.size() > 1 ? "s " : " ") + join(absent) +
         (absent.size() > 1 ? " are" : " is") + " not in " + input + "; columns are: " + join(columns));

  std::optional<TextColumn> score;
  std::optional<TextColumn> predicted;
  if (trained.output_count() > 0) {
    const Output output{0};
    const std::string& name = trained.name(output);
    const std::string column = options.get("score-column").value_or(name);
    score = TextColumn{require_column(csv, column, options.has("score-column") ? "--score-column" : "the reference's output",
                                      input),
                       output.index, tracked.size()};
    tracked.push_back(column);
    if (!trained.options(output).classes.empty()) {
      if (auto p = options.get("predicted-column")) {
        predicted = TextColumn{require_column(csv, *p, "--predicted-column", input), output.index, tracked.size()};
        tracked.push_back(*p);
      } else if (auto c = csv.find("predicted")) {
        predicted = TextColumn{*c, output.index, tracked.size()};
        tracked.push_back("predicted");
      } else {
        err << "note: the reference's output '" << name << "' has classes but " << input
            << " has no column 'predicted' and no --predicted-column was given; class frequencies are not monitored\n";
      }
    }
    if (trained.output_count() > 1)
      err << "note: the reference has " << trained.output_count() << " outputs; only '" << name << "' is replayed\n";
  } else if (options.has("score-column")) {
    fail("the reference " + reference_path + " has no model output; profile it with --score-column");
  } else if (options.has("predicted-column")) {
    fail("the reference " + reference_path + " has no model output for --predicted-column");
  }
  // An optional column whose unreadable cells are counted per row: its index, and where its
  // counters start among the tracked columns.
  const auto track = [&](const std::string& name, const char* flag, std::optional<std::size_t>& column,
                         std::size_t& counts) {
    column = require_column(csv, name, flag, input);
    counts = tracked.size();
    tracked.push_back(name);
  };
  std::optional<std::size_t> latency_column;
  std::size_t latency_counts = 0;
  if (auto l = options.get("latency-column")) track(*l, "--latency-column", latency_column, latency_counts);
  std::optional<std::size_t> label_column;
  if (auto y = options.get("label-column")) label_column = require_column(csv, *y, "--label-column", input);
  std::optional<std::size_t> arrival_column;
  std::size_t arrival_counts = 0;
  if (auto a = options.get("arrival-column")) {
    track(*a, "--arrival-column", arrival_column, arrival_counts);
    if (*arrival_column == time_column) usage_error("--arrival-column '" + *a + "' is the time column");
  }
  std::optional<std::size_t> status_column;
  std::size_t status_counts = 0;
  if (auto st = options.get("status-column")) track(*st, "--status-column", status_column, status_counts);

  Schema schema = trained;
  std::vector<TextColumn> tags;
  for (const std::string& name : options.list("tag-columns")) {
    const std::size_t c = require_column(csv, name, "--tag-columns", input);
    if (auto existing = schema.kind_of(name)) {
      if (*existing != Schema::Kind::tag)
        usage_error("column '" + name + "' is a " + Schema::kind_name(*existing) + " of the reference; it cannot be a tag");
    } else {
      schema.add_tag(name);
    }
    tags.push_back({c, schema.tag(name).index, 0});
  }

  MonitorOptions monitor_options;
  monitor_options.interval = interval;
  // Roll-ups stay about an hour long, a whole number of intervals.
  monitor_options.coarse_interval = interval * std::max(1.0, std::round(3600 / interval));
  monitor_options.background = std::max(monitor_options.background, 2 * interval);
  monitor_options.long_horizon = horizon;
  monitor_options.shards = 1;
  monitor_options.evaluate_in_observe = true;
  std::unique_ptr<Monitor> monitor;
  try {
    monitor = std::make_unique<Monitor>(schema, reference, monitor_options);
  } catch (const vigil::error& e) {
    fail(std::string("cannot build the monitor: ") + e.message());
  }

  std::ofstream alerts_file(alerts_path, std::ios::trunc);
  if (!alerts_file) fail("cannot write '" + alerts_path + "'");
  std::ofstream intervals_file;
  if (auto path = options.get("intervals")) {
    intervals_file.open(*path, std::ios::trunc);
    if (!intervals_file) fail("cannot write '" + *path + "'");
    intervals_file << interval_header << '\n';
  }
#if VIGIL_CLI_HAS_EXPORT
  ReportHistory history;
  const bool keep_history = options.has("html");
#else
  if (options.has("html") || options.has("json") || options.has("prometheus")) fail("this build of vigil cannot write reports: it was built without {fmt}");
  const bool keep_history = false;
#endif
  const bool report_each_interval = keep_history || intervals_file.is_open();
  std::vector<Alert> alerts;  // every transition, in event-time order
  monitor->on_alert([&](const Alert& a) {
    alerts.push_back(a);
    if (a.transition != Alert::Transition::resolved) alerts_file << alert_line(a) << '\n';
  });

  // The row loop: the hot path of the program.
  const Schema& monitored = monitor->schema();
  Observation request(monitored);
  std::vector<CellCounts> cells(tracked.size());
  std::uint64_t rows = 0, missing_time = 0, bad_time = 0;
  std::uint64_t arrivals = 0, completions = 0, unanswered = 0;
  double first_time = std::numeric_limits<double>::infinity();
  double last_time = -std::numeric_limits<double>::infinity();
  std::map<std::int64_t, Accuracy> accuracy;  // per hour of event time
  std::int64_t current_interval = std::numeric_limits<std::int64_t>::min();
  Progress progress(err);
  const auto started = std::chrono::steady_clock::now();
  try {
    while (csv.next()) {
      ++rows;
      double t = 0;
      const CellStatus time_status = parse_time(csv.field(time_column), t);
      double arrival = 0;
      const CellStatus arrival_status =
          arrival_column ? parse_time(csv.field(*arrival_column), arrival) : CellStatus::missing;
      // With arrival times, a row without a completion time is a request never answered.
      const bool arrived_only = time_status == CellStatus::missing && arrival_status == CellStatus::value;
      if (time_status != CellStatus::value && !arrived_only) {
        ++(time_status == CellStatus::missing ? missing_time : bad_time);
        continue;
      }
      if (arrival_column) cells[arrival_counts].add(arrival_status);
      if (report_each_interval) {
        // Evaluate each interval as it closes, so that its figures can be kept; the
        // alerts are the ones observe() would decide at the same event time.
        const auto k = static_cast<std::int64_t>(std::floor((arrived_only ? arrival : t) / interval));
        if (k > current_interval && current_interval != std::numeric_limits<std::int64_t>::min()) {
          const Report closed = monitor->report(static_cast<double>(k) * interval);
          if (intervals_file.is_open()) write_intervals(intervals_file, closed);
#if VIGIL_CLI_HAS_EXPORT
          if (keep_history) history.add(closed);
#endif
        }
        current_interval = std::max(current_interval, k);
      }
      if (arrived_only) {
        monitor->on_arrival(arrival);
        ++arrivals;
        ++unanswered;
        first_time = std::min(first_time, arrival);
        last_time = std::max(last_time, arrival);
        progress.update(rows, arrival);
        continue;
      }
      if (arrival_column) {
        // An unreadable or missing arrival is counted above; the request still arrived, at
        // the latest when it completed.
        const double arrived = arrival_status == CellStatus::value ? arrival : t;
        monitor->on_arrival(arrived);
        first_time = std::min(first_time, arrived);
      }
      ++arrivals;
      request.clear();
      request.at(t);
      for (const NumericColumn& n : numeric) {
        double x = 0;
        const CellStatus status = parse_number(csv.field(n.column), x);
        cells[n.counts].add(status);
        if (status == CellStatus::value) request.set(n.feature, x);
        else if (status == CellStatus::bad) request.set(n.feature, std::numeric_limits<double>::quiet_NaN());
      }
      for (const TextColumn& c : categorical) {
        const std::string_view v = detail::trim_blanks(csv.field(c.column));
        cells[c.counts].add(v.empty() ? CellStatus::missing : CellStatus::value);
        if (!v.empty()) request.set(CategoricalFeature{c.handle}, v);
      }
      if (score) {
        double x = 0;
        const CellStatus status = parse_number(csv.field(score->column), x);
        cells[score->counts].add(status);
        if (status == CellStatus::value) request.score(Output{score->handle}, x);
      }
      if (predicted) {
        const std::string_view v = detail::trim_blanks(csv.field(predicted->column));
        cells[predicted->counts].add(v.empty() ? CellStatus::missing : CellStatus::value);
        if (!v.empty()) request.predicted(Output{predicted->handle}, v);
        if (label_column) {
          const std::string_view y = detail::trim_blanks(csv.field(*label_column));
          if (!y.empty() && !v.empty()) {
            Accuracy& a = accuracy[static_cast<std::int64_t>(std::floor(t / 3600))];
            ++a.total;
            a.correct += y == v;
          }
        }
      }
      for (const TextColumn& g : tags) {
        const std::string_view v = detail::trim_blanks(csv.field(g.column));
        if (!v.empty()) request.tag(Tag{g.handle}, v);
      }
      if (latency_column) {
        double x = 0;
        const CellStatus status = parse_number(csv.field(*latency_column), x);
        cells[latency_counts].add(status);
        if (status == CellStatus::value) request.latency(x * latency_scale);
        else if (status == CellStatus::bad) request.latency(std::numeric_limits<double>::quiet_NaN());
      }
      if (status_column) {
        // A missing or unreadable status is counted; the request is taken as answered.
        RequestStatus ended = RequestStatus::ok;
        const CellStatus status = parse_status(csv.field(*status_column), ended);
        cells[status_counts].add(status);
        request.status(ended);
      }
      monitor->observe(request);
      ++completions;
      first_time = std::min(first_time, t);
      last_time = std::max(last_time, t);
      progress.update(rows, t);
    }
  } catch (const format_error& e) {
    progress.done();
    fail(e.what());
  }
  progress.done();
  if (!std::isfinite(last_time))
    fail(input + " has no row with a valid time in column '" + columns[time_column] + "' (" + std::to_string(rows) +
         " rows read)");
  // The log ends here; the time after its last row is not a silence of the traffic.
  const Report report = monitor->finish();
  if (intervals_file.is_open()) {
    write_intervals(intervals_file, report);
    intervals_file.flush();
    if (!intervals_file) fail("cannot write '" + *options.get("intervals") + "'");
  }
#if VIGIL_CLI_HAS_EXPORT
  if (keep_history) {
    history.add(report);
    HtmlOptions html;
    html.title = "vigil replay of " + input;
    write_file(*options.get("html"), to_html(report, alerts, &history, html));
  }
  if (auto path = options.get("json")) write_file(*path, to_json(report, JsonOptions{2}) + "\n");
  if (auto path = options.get("prometheus")) write_file(*path, to_prometheus(report));
#endif
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  alerts_file.flush();
  if (!alerts_file) fail("cannot write '" + alerts_path + "'");

  // Summary.
  const std::uint64_t late = report.counters.late;
  out << "replayed " << input << ": " << rows << " rows, " << format_time(first_time) << " to " << format_time(last_time)
      << format(" (%.2f s", seconds) << format(", %.2f M cells/s)\n", static_cast<double>(rows) *
                                                                          static_cast<double>(columns.size()) /
                                                                          std::max(seconds, 1e-9) / 1e6);
  out << "  rows monitored: " << report.counters.observed << "; skipped: " << (missing_time + bad_time + late) << " ("
      << missing_time << " without a time, " << bad_time << " with an unreadable time, " << late
      << " late, beyond the monitor's lateness)";
  if (csv.ragged_rows() > 0) out << "; " << csv.ragged_rows() << " rows with the wrong number of fields left out";
  if (unanswered > 0) out << "; " << unanswered << " arrived without a completion time (never answered)";
  out << '\n';
  std::vector<std::vector<std::string>> bad_cells;
  for (std::size_t i = 0; i < tracked.size(); ++i)
    if (cells[i].bad > 0) bad_cells.push_back({tracked[i], std::to_string(cells[i].bad)});
  if (bad_cells.empty()) {
    out << "  unreadable cells: none\n";
  } else {
    out << "  unreadable cells (counted as bad values):\n";
    print_table(out, bad_cells, "    ");
  }
  if (!accuracy.empty()) {
    out << "  accuracy of '" << columns[predicted->column] << "' against '" << columns[*label_column] << "' by hour:";
    for (const auto& [hour, a] : accuracy)
      out << ' ' << format_time(static_cast<double>(hour) * 3600).substr(11, 5) << ' '
          << figure(static_cast<double>(a.correct) / static_cast<double>(a.total), "%.3f");
    out << '\n';
  }
  print_traffic(out, report, arrival_column ? columns[*arrival_column] : std::string(), arrivals, completions);
  if (latency_column) print_latency(out, report.latency);

  std::size_t raised = 0;
  for (const Alert& a : alerts) raised += a.transition != Alert::Transition::resolved;
  out << "\nalerts: " << raised << " raised or escalated (written to " << alerts_path << "), "
      << (alerts.size() - raised) << " resolved\n";
  if (!alerts.empty()) {
    std::vector<std::vector<std::string>> table{{"time", "kind", "subject", "severity", "message"}};
    for (const Alert& a : alerts) {
      std::string message = a.message;
      if (message.size() > 100) message = message.substr(0, 97) + "...";
      table.push_back({format_time(a.time), to_string(a.kind), to_string(a.subject),
                       a.transition == Alert::Transition::resolved ? "resolved" : to_string(a.severity), message});
    }
    print_table(out, table);
  }

  out << "\nstatus at " << format_time(report.time) << ": " << to_string(report.status) << '\n';
  std::vector<std::vector<std::string>> table{
      {"feature", "kind", "status", "drift PSI", "KS", "missing", "out of range", "unseen", "bad"}};
  for (const FeatureReport& f : report.features)
    table.push_back({f.name, f.categorical ? "categorical" : "numeric", to_string(f.status), figure(f.psi),
                     figure(f.ks_statistic), percent(f.missing_rate), percent(f.out_of_range_rate),
                     percent(f.unseen_rate), std::to_string(f.bad_values)});
  for (const OutputReport& o : report.outputs)
    table.push_back({o.name, "output", to_string(o.status), figure(o.psi), figure(o.ks_statistic),
                     percent(o.missing_rate), "", "", ""});
  print_table(out, table);
  return exit_ok;
}

}  // namespace cli

inline int run_cli(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  const cli::Command* command = nullptr;
  try {
    if (args.size() < 2) cli::usage_error("no command given");
    const std::string& name = args[1];
    if (name == "--help" || name == "-h" || name == "help") {
      out << cli::general_usage();
      return exit_ok;
    }
    if (name == "profile") command = &cli::profile_command();
    else if (name == "replay") command = &cli::replay_command();
    else cli::usage_error("unknown command '" + name + "'");
    const cli::Options options(*command, args, 2);
    if (options.has("help")) {
      out << cli::usage_of(*command);
      return exit_ok;
    }
    return command == &cli::profile_command() ? cli::run_profile(options, out, err) : cli::run_replay(options, out, err);
  } catch (const cli::Failure& e) {
    err << "vigil: " << e.what() << '\n';
    if (e.usage()) err << '\n' << (command ? cli::usage_of(*command) : cli::general_usage());
    return exit_input;
  } catch (const vigil::error& e) {
    err << "vigil: " << e.message() << '\n';
    return exit_internal;
  } catch (const std::exception& e) {
    err << "vigil: unexpected error: " << e.what() << '\n';
    return exit_internal;
  }
}

}  // namespace vigil::tools

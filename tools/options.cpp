// vigil — in-process monitoring of machine-learning models in C++ inference servers.
// SPDX-License-Identifier: Apache-2.0
//
// The command table, usage texts and option parsing declared in options.hpp.
#include "options.hpp"

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include "csv.hpp"

namespace vigil::tools {

void fail(const std::string& what) { throw Failure(what, false); }
void usage_error(const std::string& what) { throw Failure(what, true); }

const Command& profile_command() {
  static const Command command{
      "profile",
      "vigil profile --input train.csv --output reference.vigil [--categorical a,b] [--score-column s]\n"
      "              [--predicted-column p] [--label-column y] [--threshold t] [--ignore a,b]\n"
      "              [--time-column ts] [--target-precision 0.9] [--attribution-prefix shap_]",
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
          {"label-column", "Y", "the true label of the score column's output: rows with one are the quality "
                                "baseline (give holdout rows the model did not train on; needs --score-column)"},
          {"threshold", "T", "decision threshold on the score: a binary classifier predicting positive at and above "
                             "it (labels 0/1)"},
          {"target-precision", "P", "with --label-column, the precision in (0, 1] of the third threshold suggested "
                                    "besides those of max F1 and Youden's J (default: 0.9)"},
          {"ignore", "A,B", "columns to leave out"},
          {"attribution-prefix", "P", "columns P<feature>, one per input feature, hold each holdout row's loss "
                                      "attributed to the feature (e.g. SHAP values of the log-loss): the reference "
                                      "'vigil replay --attribution-prefix' compares production's with"},
          {"time-column", "TS", "the time column, left out (default: 'ts', else a column named time, timestamp, "
                                "datetime, date or event_time holding times, else one of ISO-8601 times)"},
          {"help", nullptr, "this text"},
      }};
  return command;
}

namespace {

// The options of the late events and second opinions of `vigil replay`: request ids, labels,
// responses, samples, attributions and shadow scores.
std::vector<OptionSpec> replay_label_options() {
  return {
          {"id-column", "ID", "the request id, which late labels name (not a feature; an empty cell: no id)"},
          {"labels", "FILE", "late labels, CSV with the --id-column, time and --label-column columns: each row is "
                             "joined to its request at its time, merged with the requests in event time"},
          {"conversions", "FILE", "responses (clicks, purchases), CSV with the --id-column and time columns: each "
                                  "row is joined to its impression (request) at its time; needs --arm-column"},
          {"arm-column", "ARM", "the arm each request is an impression of (a tag: model, offer, variant); arms are "
                                "compared by their response rate at the delay by which 60% of the responses came"},
          {"samples", "FILE", "write the request ids to label of every interval, one JSON object per line: the "
                              "20 least confident, the 20 most confident and the 20 nearest the threshold "
                              "(needs --id-column)"},
          {"attribution-prefix", "P", "the labels file has a column P<feature> for each input feature: the "
                                      "label's loss attributed to it (e.g. SHAP values of the log-loss); each "
                                      "feature's mean attribution is compared with the past and the holdout"},
          {"canary-columns", "C,D", "scores of the output by stable older models, for every request: their "
                                    "deviation from the score is compared with its background (a rise means the "
                                    "model broke), and the most deviating requests are listed"},
          {"challenger-columns", "C,D", "scores of the output by candidate models: compared as canaries are, and "
                                        "with the first canary"},
  };
}

}  // namespace

const Command& replay_command() {
  static const Command command = [] {
    Command c{
        "replay",
      "vigil replay --reference reference.vigil --input traffic.csv --alerts alerts.jsonl\n"
      "             [--time-column ts] [--score-column s] [--latency-column latency_ms]\n"
      "             [--tag-columns host,model] [--label-column y] [--html report.html]\n"
      "             [--arrival-column a] [--status-column s] [--time-unit s|ms|us|ns]\n"
      "             [--interval 60] [--min-requests 30] [--background 3600] [--cool-down 1800]\n"
      "             [--id-column request_id --labels labels.csv --label-column y]\n"
      "             [--conversions conversions.csv --arm-column arm] [--samples samples.jsonl]\n"
      "             [--attribution-prefix shap_] [--canary-columns c] [--challenger-columns ch]\n"
      "             [--snapshot state.vigil [--snapshot-every 3600]] [--restore state.vigil]",
      "Replays a CSV log of requests through the monitor in event time, against a reference written\n"
      "by 'vigil profile', and writes every alert raised or escalated to a JSON-lines file.",
        {
          {"reference", "FILE", "the reference written by 'vigil profile' (required)"},
          {"input", "FILE", "the requests, CSV with a header row (required)"},
          {"alerts", "FILE", "where to write alerts, one JSON object per line (required)"},
          {"time-column", "TS", "event time, ISO-8601 or Unix time (default: found as 'vigil profile' finds it: "
                                "'ts', else a column named time, timestamp, datetime, date or event_time holding "
                                "times, else one of ISO-8601 times); with --arrival-column, the completion time "
                                "(empty: the request was never answered)"},
          {"time-unit", "s|ms|us|ns", "unit of Unix times in the time and arrival columns (default: told by "
                                      "magnitude: below 1e11 s, 1e14 ms, 1e17 us, else ns)"},
          {"arrival-column", "A", "the request's arrival time, ISO-8601 or Unix time (default: each row "
                                  "arrives at its time)"},
          {"status-column", "S", "how the request ended: ok, error or timeout, or an HTTP status (2xx, 3xx ok; "
                                 "408, 504 timeout; other 4xx, 5xx error)"},
          {"score-column", "S", "the model's score (default: the reference's output name)"},
          {"predicted-column", "P", "the predicted class (default: 'predicted' if the reference has classes)"},
          {"latency-column", "L", "request latency"},
          {"latency-unit", "s|ms|us", "unit of the latency column (default: ms)"},
          {"tag-columns", "A,B", "request tags such as host or model version"},
          {"label-column", "Y", "the true label: not a feature; accuracy against --predicted-column is shown "
                                "(with --labels: the label column of the labels file)"},
          {"interval", "SECONDS", "length of a monitoring interval (default: 60)"},
          {"horizon", "SECONDS", "span of the long-term drift comparison with training (default: 86400)"},
          {"background", "SECONDS", "span of the trailing background the latest interval is compared with, "
                                    "at least one interval (default: 3600, or two intervals when longer)"},
          {"min-requests", "N", "an interval with fewer requests (or values of a feature) is not judged "
                                "(default: 30)"},
          {"cool-down", "SECONDS", "a resolved alert cannot open again for this long (default: 1800)"},
          {"snapshot", "FILE", "write the monitor's state at the end of the log (before its last interval is "
                               "closed), crash-safely: 'vigil replay --restore' continues from it"},
          {"snapshot-every", "SECONDS", "with --snapshot, also write it whenever event time passes a multiple of "
                                        "SECONDS (before the first row past it)"},
          {"restore", "FILE", "continue from a snapshot of a replay with the same reference and options: rows "
                              "dated at or before its latest event are skipped (it counted them)"},
          {"intervals", "FILE", "write every interval's figures per feature and output as CSV"},
          {"html", "FILE", "write the final report as HTML"},
          {"json", "FILE", "write the final report as JSON"},
          {"prometheus", "FILE", "write the final report in the Prometheus text format"},
          {"help", nullptr, "this text"},
        }};
    const std::vector<OptionSpec> labels = replay_label_options();
    const auto at = std::find_if(c.options.begin(), c.options.end(),
                                 [](const OptionSpec& o) { return std::string(o.name) == "interval"; });
    c.options.insert(at, labels.begin(), labels.end());
    return c;
  }();
  return command;
}

const Command& merge_command() {
  static const Command command{
      "merge",
      "vigil merge --output fleet.vigil a.vigil b.vigil ...",
      "Adds up the snapshots of replicas of one monitor (vigil replay --snapshot, Monitor::save): the same\n"
      "schema, reference and options. Counts, bins and histograms add exactly, digests within their error;\n"
      "the alerts are evaluated again on the merged data (docs/fleet.md).",
      {
          {"output", "FILE", "where to write the merged snapshot (required; written crash-safely)"},
          {"help", nullptr, "this text"},
      },
      "SNAPSHOT..."};
  return command;
}

const Command& report_command() {
  static const Command command{
      "report",
      "vigil report --snapshot state.vigil [--json F] [--prometheus F] [--html F]",
      "Reports a monitor's snapshot on its own (it carries its schema, reference and options): the\n"
      "intervals closed and not yet evaluated are evaluated first.",
      {
          {"snapshot", "FILE", "a snapshot (vigil replay --snapshot, vigil merge, Monitor::save) (required)"},
          {"json", "FILE", "write the report as JSON"},
          {"prometheus", "FILE", "write the report in the Prometheus text format"},
          {"html", "FILE", "write the report as HTML"},
          {"help", nullptr, "this text"},
      }};
  return command;
}

const Command* find_command(const std::string& name) {
  for (const Command* command : {&profile_command(), &replay_command(), &merge_command(), &report_command()})
    if (name == command->name) return command;
  return nullptr;
}

std::string general_usage() {
  return "usage: vigil <command> [options]\n"
         "\n"
         "commands:\n"
         "  profile   build a training reference from a CSV file\n"
         "  replay    replay a CSV log of requests through the monitor and write the alerts\n"
         "  merge     add up the snapshots of a monitor's replicas\n"
         "  report    report a monitor's snapshot\n"
         "\n"
         "Run 'vigil <command> --help' for the options of a command.\n";
}

std::string usage_of(const Command& command) {
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

Options::Options(const Command& command, const std::vector<std::string>& args, std::size_t first)
    : command_(&command) {
  for (std::size_t i = first; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "-h") {
      values_["help"] = "";
      continue;
    }
    if (arg.size() < 3 || arg.compare(0, 2, "--") != 0) {
      if (command.operands == nullptr) usage_error("unexpected argument '" + arg + "' for 'vigil " + command.name + "'");
      operands_.push_back(arg);
      continue;
    }
    std::string name = arg.substr(2);
    std::optional<std::string> value;
    if (const auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name.resize(eq);
    }
    const OptionSpec& spec = spec_of(name);
    if (spec.value == nullptr) {
      if (value) usage_error("option '--" + name + "' takes no value");
      values_[name] = "";
      continue;
    }
    if (!value) {
      if (i + 1 >= args.size() || args[i + 1].compare(0, 2, "--") == 0)
        usage_error("option '--" + name + "' needs a value (" + spec.value + ")");
      value = args[++i];
    }
    set(name, *value);
  }
}

const OptionSpec& Options::spec_of(const std::string& name) const {
  const OptionSpec* spec = nullptr;
  for (const OptionSpec& o : command_->options)
    if (name == o.name) spec = &o;
  if (spec == nullptr) usage_error("unknown option '--" + name + "' for 'vigil " + command_->name + "'");
  return *spec;
}

void Options::set(const std::string& name, const std::string& value) {
  if (values_.count(name)) usage_error("option '--" + name + "' is given twice");
  values_[name] = value;
}

std::optional<std::string> Options::get(const std::string& name) const {
  const auto it = values_.find(name);
  if (it == values_.end()) return std::nullopt;
  return it->second;
}

std::string Options::required(const std::string& name) const {
  const auto it = values_.find(name);
  if (it == values_.end() || it->second.empty())
    usage_error("'vigil " + std::string(command_->name) + "' needs --" + name);
  return it->second;
}

std::vector<std::string> Options::list(const std::string& name) const {
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

std::string join(const std::vector<std::string>& items, const char* separator) {
  std::string out;
  for (std::size_t i = 0; i < items.size(); ++i) out += (i ? separator : "") + items[i];
  return out;
}

}  // namespace vigil::tools

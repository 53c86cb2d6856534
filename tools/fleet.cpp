// vigil — in-process monitoring of machine-learning models in C++ inference servers.
// SPDX-License-Identifier: Apache-2.0
//
// `vigil merge` and `vigil report`, declared in fleet.hpp.
#include "fleet.hpp"

#include <cstdint>
#include <string>
#include <vector>

#include "files.hpp"
#include "summary.hpp"
#include "vigil/error.hpp"
#include "vigil/export/html.hpp"
#include "vigil/export/json.hpp"
#include "vigil/export/prometheus.hpp"
#include "vigil/io/file.hpp"
#include "vigil/monitor/monitor.hpp"

namespace vigil::tools {

namespace {

// A snapshot file's bytes; a Failure names the file when it cannot be read.
std::vector<std::uint8_t> read_snapshot(const std::string& path) {
  try {
    return io::read_file(path, Monitor::max_snapshot_bytes);
  } catch (const io_error& e) {
    fail(e.what());
  }
}

// The monitor a snapshot file holds, on its own.
Monitor restore_file(const std::string& path) {
  const std::vector<std::uint8_t> bytes = read_snapshot(path);
  try {
    return Monitor::restore(bytes);
  } catch (const format_error& e) {
    fail(path + " is not a monitor snapshot vigil can read: " + e.message());
  } catch (const invalid_argument& e) {
    fail(path + " holds a monitor vigil cannot rebuild: " + e.message());
  }
}

// One line on the state a report describes: requests, span, status and open alerts.
void print_state(std::ostream& out, const std::string& what, const Monitor& monitor, const Report& report) {
  out << what << ": " << monitor.observed() << " requests to " << to_iso8601(monitor.latest_time()) << ", status "
      << to_string(report.status) << ", " << report.open_alerts.size() << " open alerts\n";
  for (const Alert& a : report.open_alerts)
    out << "  " << to_string(a.severity) << " " << to_string(a.kind) << " " << to_string(a.subject) << ": " << a.message
        << '\n';
}

}  // namespace

int run_merge(const Options& options, std::ostream& out, std::ostream&) {
  const std::string output = options.required("output");
  const std::vector<std::string>& inputs = options.operands();
  if (inputs.empty()) usage_error("'vigil merge' needs the snapshots to merge");
  Monitor fleet = restore_file(inputs.front());
  for (std::size_t i = 1; i < inputs.size(); ++i) {
    const std::vector<std::uint8_t> bytes = read_snapshot(inputs[i]);
    try {
      fleet.merge(bytes);
    } catch (const vigil::error& e) {
      fail("cannot merge " + inputs[i] + " into " + inputs.front() + ": " + e.message());
    }
  }
  try {
    fleet.save(output);
  } catch (const io_error& e) {
    fail(std::string("--output: ") + e.what());
  }
  out << "merged " << inputs.size() << " snapshots into " << output << ": " << fleet.observed() << " requests, to "
      << to_iso8601(fleet.latest_time()) << '\n';
  return exit_ok;
}

int run_report(const Options& options, std::ostream& out, std::ostream&) {
  const std::string path = options.required("snapshot");
  Monitor monitor = restore_file(path);
  const Report report = monitor.report();
  if (auto file = options.get("json")) write_file(*file, to_json(report, JsonOptions{2}) + "\n");
  if (auto file = options.get("prometheus")) write_file(*file, to_prometheus(report));
  if (auto file = options.get("html")) {
    HtmlOptions html;
    html.title = "vigil report of " + path;
    write_file(*file, to_html(report, report.alert_log, nullptr, html));
  }
  print_state(out, path, monitor, report);
  return exit_ok;
}

}  // namespace vigil::tools

// vigil — in-process monitoring of machine-learning models in C++ inference servers.
// SPDX-License-Identifier: Apache-2.0
//
// One alerts.jsonl line per alert, in the format of docs/cli.md:
// {"time": "...", "kind": "...", "subject": "...", "severity": "warn"|"alert",
//  "statistic": <number>, "p_value": <number or null>, "message": "..."}
#pragma once

#include <cmath>
#include <cstdio>
#include <string>
#include <string_view>

#include "csv.hpp"
#include "vigil/error.hpp"
#include "vigil/monitor/alerts.hpp"

namespace vigil::tools {

/// Appends `text` as a JSON string literal: quotes, backslashes and control characters are
/// escaped; other bytes (UTF-8 included) are copied. O(length).
inline void append_json_string(std::string& out, std::string_view text) {
  out += '"';
  for (const char c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char escaped[8];
          std::snprintf(escaped, sizeof escaped, "\\u%04x", static_cast<unsigned>(static_cast<unsigned char>(c)));
          out += escaped;
        } else {
          out += c;
        }
    }
  }
  out += '"';
}

/// Appends a number as the shortest text that reads back as the same double; JSON has no
/// NaN or infinity, so those are written as `null`.
inline void append_json_number(std::string& out, double value) {
  if (!std::isfinite(value)) {
    out += "null";
    return;
  }
  out += vigil::detail::to_text(value);
}

/// The alerts.jsonl line of an alert (without the line break). `time` is the event time
/// that decided it, as ISO-8601 UTC with milliseconds.
inline std::string alert_json_line(const Alert& alert) {
  std::string line;
  line.reserve(160 + alert.message.size());
  line += "{\"time\": \"";
  line += format_time(alert.time);
  line += "\", \"kind\": ";
  append_json_string(line, to_string(alert.kind));
  line += ", \"subject\": ";
  append_json_string(line, to_string(alert.subject));
  line += ", \"severity\": ";
  append_json_string(line, to_string(alert.severity));
  line += ", \"statistic\": ";
  append_json_number(line, alert.statistic);
  line += ", \"p_value\": ";
  append_json_number(line, alert.p_value);
  line += ", \"message\": ";
  append_json_string(line, alert.message);
  line += '}';
  return line;
}

}  // namespace vigil::tools

// vigil — in-process monitoring of machine-learning models in C++ inference servers.
// SPDX-License-Identifier: Apache-2.0
#pragma once

// Text helpers shared by the exporters and the `vigil` program: UTF-8 checking, escaping for
// JSON, HTML and Prometheus label values, shortest round-trip numbers, civil dates and
// ISO-8601 times.

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <string>
#include <string_view>

#include <fmt/format.h>

namespace vigil {
namespace detail {

/// Length of the well-formed UTF-8 sequence starting at `s[i]` (1 to 4), or 0 when the bytes
/// there are not one (stray continuation byte, overlong form, surrogate, beyond U+10FFFF,
/// truncated). RFC 3629, table 3-7 of the Unicode standard. O(1).
inline std::size_t utf8_length(std::string_view s, std::size_t i) {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char b0 = byte(i);
  if (b0 < 0x80) return 1;
  const std::size_t left = s.size() - i;
  const auto cont = [&](std::size_t k) { return (byte(k) & 0xC0u) == 0x80u; };
  if (b0 >= 0xC2 && b0 <= 0xDF) return left >= 2 && cont(i + 1) ? 2 : 0;
  if (b0 >= 0xE0 && b0 <= 0xEF) {
    if (left < 3 || !cont(i + 1) || !cont(i + 2)) return 0;
    const unsigned char b1 = byte(i + 1);
    if (b0 == 0xE0 && b1 < 0xA0) return 0;  // overlong
    if (b0 == 0xED && b1 > 0x9F) return 0;  // UTF-16 surrogate
    return 3;
  }
  if (b0 >= 0xF0 && b0 <= 0xF4) {
    if (left < 4 || !cont(i + 1) || !cont(i + 2) || !cont(i + 3)) return 0;
    const unsigned char b1 = byte(i + 1);
    if (b0 == 0xF0 && b1 < 0x90) return 0;  // overlong
    if (b0 == 0xF4 && b1 > 0x8F) return 0;  // beyond U+10FFFF
    return 4;
  }
  return 0;
}

/// U+FFFD REPLACEMENT CHARACTER, written for each byte that is not part of valid UTF-8.
inline constexpr std::string_view replacement_character = "\xEF\xBF\xBD";

/// Appends `s` as a JSON string literal (RFC 8259 §7): quotes, backslash and control
/// characters escaped, valid UTF-8 passed through, invalid bytes replaced by U+FFFD. O(n).
inline void append_json_string(std::string& out, std::string_view s) {
  out += '"';
  for (std::size_t i = 0; i < s.size();) {
    const char c = s[i];
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x80) {
      const std::size_t n = utf8_length(s, i);
      if (n == 0) {
        out += replacement_character;
        ++i;
      } else {
        out.append(s.data() + i, n);
        i += n;
      }
      continue;
    }
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (u < 0x20) {
          fmt::format_to(std::back_inserter(out), "\\u{:04x}", static_cast<unsigned>(u));
        } else {
          out += c;
        }
    }
    ++i;
  }
  out += '"';
}

/// Appends `s` with `&`, `<`, `>`, `"` and `'` as HTML character references, so it is safe
/// both as element text and inside a quoted attribute; control characters other than tab,
/// newline and carriage return become U+FFFD, as do invalid UTF-8 bytes. O(n).
inline void append_html_escaped(std::string& out, std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    const char c = s[i];
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x80) {
      const std::size_t n = utf8_length(s, i);
      if (n == 0) {
        out += replacement_character;
        ++i;
      } else {
        out.append(s.data() + i, n);
        i += n;
      }
      continue;
    }
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default:
        if ((u < 0x20 && c != '\t' && c != '\n' && c != '\r') || u == 0x7F) {
          out += replacement_character;
        } else {
          out += c;
        }
    }
    ++i;
  }
}

/// The 64-bit FNV-1a hash of `s` (Fowler, Noll & Vo; IETF draft-eastlake-fnv): a fixed
/// function of the bytes, the same in every process and on every platform. Not collision
/// resistant. O(n).
inline std::uint64_t fnv1a_64(std::string_view s) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (const char c : s) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ULL;
  }
  return h;
}

/// Appends `s` escaped as a Prometheus label value (text exposition format 0.0.4): backslash,
/// double quote and line feed escaped; invalid UTF-8 bytes replaced by U+FFFD. A value that
/// held invalid bytes is followed by `~` and the 16 lowercase hex digits of fnv1a_64(s), so
/// that values differing only in those bytes stay apart ("host\xFE" and "host\xFF" would
/// both read "host\uFFFD") and each keeps the same label in every scrape and on every
/// replica. Valid UTF-8 is written unchanged. O(n).
inline void append_label_value(std::string& out, std::string_view s) {
  bool repaired = false;
  for (std::size_t i = 0; i < s.size();) {
    const char c = s[i];
    if (static_cast<unsigned char>(c) >= 0x80) {
      const std::size_t n = utf8_length(s, i);
      if (n == 0) {
        out += replacement_character;
        repaired = true;
        ++i;
      } else {
        out.append(s.data() + i, n);
        i += n;
      }
      continue;
    }
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
    ++i;
  }
  if (repaired) fmt::format_to(std::back_inserter(out), "~{:016x}", fnv1a_64(s));
}

/// Appends the shortest decimal text that reads back as exactly `value` ("0.1", "3",
/// "1e+21"). The caller handles NaN and infinities. O(1).
inline void append_number(std::string& out, double value) {
  fmt::format_to(std::back_inserter(out), "{}", value);
}

/// Days since 1970-01-01 of the proleptic Gregorian date (year, month 1-12, day 1-31), and
/// back. Eras of 400 years (146097 days) make both exact for every int64 day count that fits.
/// The year is counted from March, so that the leap day ends it (H. Hinnant, "chrono-Compatible
/// Low-Level Date Algorithms", 2013).
struct CivilDate {
  std::int64_t year;
  unsigned month;
  unsigned day;
};

inline CivilDate civil_from_days(std::int64_t days) {
  // Shift the epoch to 0000-03-01, so that the leap day is the last day of the year.
  const std::int64_t shifted = days + 719468;
  const std::int64_t era = (shifted >= 0 ? shifted : shifted - 146096) / 146097;
  const auto day_of_era = static_cast<std::uint64_t>(shifted - era * 146097);                // [0, 146096]
  const std::uint64_t year_of_era =
      (day_of_era - day_of_era / 1460 + day_of_era / 36524 - day_of_era / 146096) / 365;      // [0, 399]
  const std::uint64_t day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);  // [0, 365]
  const std::uint64_t month_index = (5 * day_of_year + 2) / 153;                               // March = 0
  const auto day = static_cast<unsigned>(day_of_year - (153 * month_index + 2) / 5 + 1);
  const auto month = static_cast<unsigned>(month_index < 10 ? month_index + 3 : month_index - 9);
  const std::int64_t year = static_cast<std::int64_t>(year_of_era) + era * 400 + (month <= 2 ? 1 : 0);
  return CivilDate{year, month, day};
}

/// Days since 1970-01-01 of the date `year`-`month`-`day`, the inverse of civil_from_days().
/// `month` must be 1-12 and `day` at least 1; `day` is not checked against the month's length
/// (February 30 counts on into March), so a parser validates a date by converting it back. O(1).
inline std::int64_t days_from_civil(std::int64_t year, unsigned month, unsigned day) {
  const std::int64_t march_year = year - (month <= 2 ? 1 : 0);
  const std::int64_t era = (march_year >= 0 ? march_year : march_year - 399) / 400;
  const auto year_of_era = static_cast<std::uint64_t>(march_year - era * 400);                   // [0, 399]
  const std::uint64_t month_index = month > 2 ? month - 3 : month + 9;                            // March = 0
  const std::uint64_t day_of_year = (153 * month_index + 2) / 5 + day - 1;                        // [0, 365]
  const std::uint64_t day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
  return era * 146097 + static_cast<std::int64_t>(day_of_era) - 719468;  // 719,468 days from 0000-03-01
}

/// First and one-past-last Unix seconds that format as a four-digit year: 0000-01-01 and
/// 10000-01-01 (ISO 8601 counts a year 0000, the proleptic Gregorian 1 BC).
inline constexpr double iso8601_min_seconds = -62167219200.0;
inline constexpr double iso8601_end_seconds = 253402300800.0;

/// `2026-11-02T08:00:00.000Z`: Unix seconds in UTC, rounded to the millisecond. Empty for
/// NaN, infinities and times outside years 0000-9999. O(1).
inline std::string iso8601(double unix_seconds) {
  if (!(unix_seconds >= iso8601_min_seconds && unix_seconds < iso8601_end_seconds)) return {};
  // Half a millisecond rounds up (towards the future), for negative times too. The product
  // is rounded on its own: fused into the addition (clang contracts within one expression,
  // and folds such constants fused), -0.0005 s would round down.
  const double scaled = unix_seconds * 1000.0;
  const auto millis = static_cast<std::int64_t>(std::floor(scaled + 0.5));
  constexpr std::int64_t millis_per_day = 86400000;
  std::int64_t days = millis / millis_per_day;
  std::int64_t in_day = millis % millis_per_day;
  if (in_day < 0) {
    in_day += millis_per_day;
    --days;
  }
  const CivilDate date = civil_from_days(days);
  if (date.year > 9999) return {};  // 9999-12-31T23:59:59.9996 rounds up into year 10000
  const std::int64_t ms = in_day % 1000;
  const std::int64_t seconds = in_day / 1000;
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", date.year, date.month, date.day, seconds / 3600,
                     seconds / 60 % 60, seconds % 60, ms);
}

}  // namespace detail
}  // namespace vigil

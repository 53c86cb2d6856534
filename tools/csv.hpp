// vigil — in-process monitoring of machine-learning models in C++ inference servers.
// SPDX-License-Identifier: Apache-2.0
//
// CSV input for the `vigil` command-line program: a streaming RFC 4180 reader, number and
// timestamp parsing that reports missing and bad cells instead of throwing, and ISO-8601
// formatting of event times.
#pragma once

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <istream>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "vigil/error.hpp"

namespace vigil::tools {

// ---------------------------------------------------------------------------------------------
// Cells
// ---------------------------------------------------------------------------------------------

/// What a cell held, as read by `parse_number` or `parse_time`.
enum class CellStatus : unsigned char {
  value,    ///< a usable value was stored in the output argument
  missing,  ///< empty, blank, or the text "nan" in any case: the value is absent
  bad,      ///< text that is not a finite value of the expected kind ("n/a", "1.2.3", "inf")
};

/// Per-column tally of cell outcomes, for the "bad numbers in column f04: 12" kind of report.
struct CellCounts {
  std::uint64_t values = 0;
  std::uint64_t missing = 0;
  std::uint64_t bad = 0;

  /// Counts one outcome. O(1).
  void add(CellStatus status) noexcept {
    if (status == CellStatus::value) ++values;
    else if (status == CellStatus::missing) ++missing;
    else ++bad;
  }
  std::uint64_t total() const noexcept { return values + missing + bad; }
};

/// Parses a decimal number such as `12`, `-0.5`, `+3`, `.25`, `6.02e23`; spaces and tabs around
/// it are ignored.
///
/// Empty or blank text and "nan" (any case, optionally signed; exporters write it for absent
/// values) are `missing`. Infinities, overflow beyond the double range, hexadecimal, and text
/// with anything left over (`1.5kg`, `n/a`) are `bad`. Subnormal values are kept; underflow below
/// them yields a signed zero `value`. On anything but `value`, `out` is left unchanged.
/// Uses `std::from_chars`, so it is locale-independent and correctly rounded. O(length).
inline CellStatus parse_number(std::string_view cell, double& out) noexcept;

/// Parses an event time into Unix seconds (seconds since 1970-01-01T00:00:00Z, fractional).
///
/// Accepts ISO-8601 / RFC 3339 text — `2026-11-02T08:00:00Z`, a space or `t` instead of `T`,
/// fractional seconds with `.` or `,` (any number of digits; beyond nanoseconds they are
/// dropped), a zone `Z`, `+hh:mm`, `+hhmm` or `+hh` (no zone means UTC), minutes without
/// seconds (`2026-11-02T08:00`), or a date alone (midnight UTC) — and plain Unix seconds,
/// integer or fractional (`1793606400`, `1793606400.353`). Years 0000–9999.
/// Empty or blank text is `missing`; out-of-range fields (month 13, 31 April, hour 24) and any
/// other text are `bad`. On anything but `value`, `out` is left unchanged. O(length).
inline CellStatus parse_time(std::string_view cell, double& out) noexcept;

/// Characters `format_time` writes: `YYYY-MM-DDThh:mm:ss.sssZ`.
inline constexpr std::size_t iso_time_length = 24;

/// Writes Unix seconds as ISO-8601 UTC with milliseconds, `2026-11-02T08:00:00.000Z`, into
/// `out` (at least `iso_time_length` characters; no terminating zero is written).
///
/// Rounds to the nearest millisecond. Precondition: `unix_seconds` is finite and falls in years
/// 0000–9999; otherwise throws `vigil::invalid_argument` naming the value. O(1).
inline std::size_t format_time(double unix_seconds, char* out);

/// The same, returned as a string.
inline std::string format_time(double unix_seconds);

// ---------------------------------------------------------------------------------------------
// Reader
// ---------------------------------------------------------------------------------------------

/// What the reader does with a row whose field count differs from the header's.
enum class RaggedRows : unsigned char {
  skip,   ///< count it in `ragged_rows()` and go on to the next row (the default: its cells
          ///< cannot be trusted to be in their columns)
  keep,   ///< count it and return it; `field(i)` past its end is an empty (missing) cell
  error,  ///< throw `vigil::format_error` naming the file and line
};

/// Options of a `CsvReader`.
struct CsvOptions {
  char delimiter = ',';
  RaggedRows ragged = RaggedRows::skip;
  /// Bytes read from the input at a time; the buffer grows when one row is longer.
  std::size_t chunk_size = std::size_t{1} << 20;
};

/// Streaming CSV reader with a header row (RFC 4180).
///
/// ```cpp
/// auto csv = vigil::tools::CsvReader::open("traffic.csv");
/// const std::size_t ts = csv.column("ts"), f04 = csv.column("f04");
/// vigil::tools::CellCounts f04_cells;
/// while (csv.next()) {
///   double t, x;
///   if (parse_time(csv.field(ts), t) != vigil::tools::CellStatus::value) continue;
///   f04_cells.add(parse_number(csv.field(f04), x));
/// }
/// ```
///
/// Format: fields separated by the delimiter; rows end in LF, CRLF or a lone CR; a field that
/// starts with `"` is quoted and may hold delimiters, line breaks and `""` for a quote. Text
/// after a closing quote (`"ab"c`) is kept literally (`abc`) and counted in `quote_errors()`;
/// a quote inside an unquoted field is an ordinary character. A UTF-8 byte-order mark before
/// the header is dropped. Blank lines are skipped (so a one-column file cannot express an empty
/// cell by a blank line). An empty cell is a missing value; that is the caller's reading.
///
/// Errors: `vigil::format_error` naming the source, line and column for a file that cannot be
/// opened or read, an input without a header row, a quoted field never closed, an unknown or
/// ambiguous column name, and ragged rows under `RaggedRows::error`.
///
/// Memory: one buffer of about `chunk_size` bytes (larger only for a longer row) and one
/// offset pair per field; `next()` allocates nothing once these have grown. Fields are views
/// into the buffer, valid until the next call to `next()`.
/// Complexity: O(bytes) for the whole input.
class CsvReader {
 public:
  /// Opens a file. Throws `vigil::format_error` ("cannot open 'x.csv': No such file or
  /// directory") if it cannot be opened, or as `next()` for a bad header.
  static CsvReader open(const std::string& path, const CsvOptions& options = {});
  /// Reads from a stream the caller keeps alive while reading; `name` appears in errors.
  static CsvReader from_stream(std::istream& input, std::string name = "<stream>",
                               const CsvOptions& options = {});
  /// Reads from text held in memory (copied once).
  static CsvReader from_string(std::string text, std::string name = "<string>",
                               const CsvOptions& options = {});

  /// Name of the input as used in error messages.
  const std::string& name() const noexcept { return name_; }
  /// Column names from the header, in order.
  const std::vector<std::string>& columns() const noexcept { return columns_; }
  /// Index of a column, or nothing if no column has this exact name. O(columns).
  std::optional<std::size_t> find(std::string_view column_name) const noexcept;
  /// Index of a column. Throws `vigil::format_error` ("traffic.csv: column 'ts' not found;
  /// columns are: a, b") if it is absent or names more than one column. O(columns).
  std::size_t column(std::string_view column_name) const;

  /// Moves to the next data row; false at the end of the input. Throws `vigil::format_error`
  /// for a read failure, a quoted field never closed, or a ragged row under
  /// `RaggedRows::error`. Amortised O(bytes of the row).
  bool next();
  /// Number of fields in the current row (the header's count unless ragged rows are kept).
  std::size_t size() const noexcept { return fields_.size(); }
  /// Field `index` of the current row, unquoted; empty when `index >= size()`. O(1).
  std::string_view field(std::size_t index) const noexcept {
    if (index >= fields_.size()) return {};
    return {buffer_.data() + fields_[index].begin, fields_[index].size};
  }
  /// Line of the input (from 1, the header's first line) where the current row starts.
  std::uint64_t line() const noexcept { return line_; }
  /// Data rows returned by `next()` so far.
  std::uint64_t rows() const noexcept { return rows_; }
  /// Rows whose field count differed from the header's, returned or not.
  std::uint64_t ragged_rows() const noexcept { return ragged_rows_; }
  /// Fields with text after their closing quote, read leniently.
  std::uint64_t quote_errors() const noexcept { return quote_errors_; }

 private:
  struct Span {
    std::size_t begin;
    std::size_t size;
  };
  // A quoted field whose text is not one contiguous run of the buffer: it holds `""` escapes
  // or text after the closing quote. Fixed in place once the whole row is in the buffer.
  struct Fixup {
    std::size_t field;
    std::size_t close;  // offset of the closing quote
    std::size_t end;    // end of the field's text after the closing quote
  };
  enum class Scan : unsigned char { row, need_more, end_of_input };

  CsvReader(std::string name, const CsvOptions& options);
  void read_header();
  bool read_row();
  Scan scan_row();
  bool refill();
  void apply_fixups();
  [[noreturn]] void fail(const std::string& what, std::uint64_t line) const;

  std::string name_;
  CsvOptions options_;
  std::unique_ptr<std::istream> owned_input_;
  std::istream* input_ = nullptr;
  bool input_done_ = false;

  // The input text, followed by one line break that is not part of it: unquoted fields are
  // scanned without a bounds check, stopping at the delimiter or a line break.
  std::vector<char> buffer_;
  std::size_t position_ = 0;  // start of the unread text in buffer_
  std::size_t end_ = 0;       // end of the valid text in buffer_; buffer_[end_] is the sentinel
  bool stops_[256] = {};      // the delimiter, '\n' and '\r'

  std::vector<std::string> columns_;
  std::vector<Span> fields_;
  std::vector<Fixup> fixups_;
  std::uint64_t line_ = 0;
  std::uint64_t next_line_ = 1;
  std::uint64_t rows_ = 0;
  std::uint64_t ragged_rows_ = 0;
  std::uint64_t quote_errors_ = 0;
};

// =============================================================================================
// Implementation
// =============================================================================================

namespace detail {

inline std::string_view trim_blanks(std::string_view text) noexcept {
  std::size_t first = 0, last = text.size();
  while (first < last && (text[first] == ' ' || text[first] == '\t')) ++first;
  while (last > first && (text[last - 1] == ' ' || text[last - 1] == '\t')) --last;
  return text.substr(first, last - first);
}

// Whether decimal text whose value is outside the double range is too small (rather than too
// large): a negative exponent decides, else a mantissa below one.
inline bool is_underflow_text(std::string_view text) noexcept {
  const std::size_t exponent = text.find_first_of("eE");
  if (exponent != std::string_view::npos)
    return exponent + 1 < text.size() && text[exponent + 1] == '-';
  if (!text.empty() && text[0] == '-') text.remove_prefix(1);
  return text.empty() || text[0] == '0' || text[0] == '.';
}

inline bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }

// Reads exactly `count` digits at `text[at]` into `out`; false if any is not a digit.
inline bool read_digits(std::string_view text, std::size_t at, std::size_t count, int& out) noexcept {
  if (at + count > text.size()) return false;
  int value = 0;
  for (std::size_t i = at; i < at + count; ++i) {
    if (!is_digit(text[i])) return false;
    value = value * 10 + (text[i] - '0');
  }
  out = value;
  return true;
}

inline bool is_leap_year(int year) noexcept { return year % 4 == 0 && (year % 100 != 0 || year % 400 == 0); }

inline int days_in_month(int year, int month) noexcept {
  static constexpr int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return month == 2 && is_leap_year(year) ? 29 : days[month - 1];
}

// Days from 1970-01-01 to a date of the proleptic Gregorian calendar. The year is counted from
// March so that the leap day ends it, and split into 400-year cycles of 146,097 days.
inline std::int64_t days_from_civil(int year, int month, int day) noexcept {
  const std::int64_t march_year = year - (month <= 2 ? 1 : 0);
  const std::int64_t cycle = (march_year >= 0 ? march_year : march_year - 399) / 400;
  const std::int64_t year_of_cycle = march_year - cycle * 400;                   // [0, 399]
  const std::int64_t month_from_march = month > 2 ? month - 3 : month + 9;       // [0, 11]
  const std::int64_t day_of_year = (153 * month_from_march + 2) / 5 + day - 1;   // [0, 365]
  const std::int64_t day_of_cycle =
      year_of_cycle * 365 + year_of_cycle / 4 - year_of_cycle / 100 + day_of_year;  // [0, 146096]
  return cycle * 146097 + day_of_cycle - 719468;  // 719,468 days from 0000-03-01 to 1970-01-01
}

// The inverse of days_from_civil.
inline void civil_from_days(std::int64_t days, int& year, int& month, int& day) noexcept {
  const std::int64_t shifted = days + 719468;
  const std::int64_t cycle = (shifted >= 0 ? shifted : shifted - 146096) / 146097;
  const std::int64_t day_of_cycle = shifted - cycle * 146097;
  const std::int64_t year_of_cycle =
      (day_of_cycle - day_of_cycle / 1460 + day_of_cycle / 36524 - day_of_cycle / 146096) / 365;
  const std::int64_t day_of_year = day_of_cycle - (365 * year_of_cycle + year_of_cycle / 4 - year_of_cycle / 100);
  const std::int64_t month_from_march = (5 * day_of_year + 2) / 153;
  day = static_cast<int>(day_of_year - (153 * month_from_march + 2) / 5 + 1);
  month = static_cast<int>(month_from_march < 10 ? month_from_march + 3 : month_from_march - 9);
  year = static_cast<int>(year_of_cycle + cycle * 400 + (month <= 2 ? 1 : 0));
}

inline CellStatus parse_iso_time(std::string_view text, double& out) noexcept {
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  if (!read_digits(text, 0, 4, year) || text.size() < 10 || text[4] != '-' ||
      !read_digits(text, 5, 2, month) || text[7] != '-' || !read_digits(text, 8, 2, day))
    return CellStatus::bad;
  if (month < 1 || month > 12 || day < 1 || day > days_in_month(year, month)) return CellStatus::bad;
  std::size_t at = 10;
  double fraction = 0;
  if (at < text.size() && (text[at] == 'T' || text[at] == 't' || text[at] == ' ')) {
    if (!read_digits(text, at + 1, 2, hour) || at + 3 >= text.size() || text[at + 3] != ':' ||
        !read_digits(text, at + 4, 2, minute))
      return CellStatus::bad;
    at += 6;
    if (at < text.size() && text[at] == ':') {
      if (!read_digits(text, at + 1, 2, second)) return CellStatus::bad;
      at += 3;
      if (at < text.size() && (text[at] == '.' || text[at] == ',')) {
        ++at;
        const std::size_t first = at;
        std::int64_t digits = 0, scale = 1;
        while (at < text.size() && is_digit(text[at])) {
          if (scale < 1000000000) {
            digits = digits * 10 + (text[at] - '0');
            scale *= 10;
          }
          ++at;
        }
        if (at == first) return CellStatus::bad;
        fraction = static_cast<double>(digits) / static_cast<double>(scale);
      }
    }
    // 60 is a leap second; it reads as the first second of the next minute.
    if (hour > 23 || minute > 59 || second > 60) return CellStatus::bad;
  }
  int offset_seconds = 0;
  if (at < text.size()) {
    const char zone = text[at];
    if ((zone == 'Z' || zone == 'z') && at + 1 == text.size()) {
      at += 1;
    } else if (zone == '+' || zone == '-') {
      int offset_hours = 0, offset_minutes = 0;
      if (!read_digits(text, at + 1, 2, offset_hours)) return CellStatus::bad;
      at += 3;
      if (at < text.size()) {
        if (text[at] == ':') ++at;
        if (!read_digits(text, at, 2, offset_minutes)) return CellStatus::bad;
        at += 2;
      }
      if (at != text.size() || offset_hours > 23 || offset_minutes > 59) return CellStatus::bad;
      offset_seconds = (zone == '+' ? 1 : -1) * (offset_hours * 3600 + offset_minutes * 60);
    } else {
      return CellStatus::bad;
    }
  }
  const std::int64_t whole = days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second -
                             offset_seconds;
  out = static_cast<double>(whole) + fraction;
  return CellStatus::value;
}

inline void write_digits(char* out, int value, int count) noexcept {
  for (int i = count - 1; i >= 0; --i) {
    out[i] = static_cast<char>('0' + value % 10);
    value /= 10;
  }
}

[[noreturn]] VIGIL_NOINLINE inline void throw_bad_time(double unix_seconds) {
  vigil::detail::throw_invalid_argument("format_time: " + vigil::detail::to_text(unix_seconds) +
                                        " is not a Unix time in years 0000-9999");
}

}  // namespace detail

inline CellStatus parse_number(std::string_view cell, double& out) noexcept {
  std::string_view text = detail::trim_blanks(cell);
  if (text.empty()) return CellStatus::missing;
  if (text[0] == '+') {
    text.remove_prefix(1);
    if (text.empty() || text[0] == '-' || text[0] == '+') return CellStatus::bad;
  }
  double value = 0;
  const char* const last = text.data() + text.size();
  const auto [end, error] = std::from_chars(text.data(), last, value);
  if (end != last) return CellStatus::bad;
  if (error == std::errc::result_out_of_range) {
    // from_chars reports underflow and overflow alike, and leaves value alone.
    if (!detail::is_underflow_text(text)) return CellStatus::bad;
    value = text[0] == '-' ? -0.0 : 0.0;
  } else if (error != std::errc()) {
    return CellStatus::bad;
  }
  if (std::isnan(value)) return CellStatus::missing;
  if (std::isinf(value)) return CellStatus::bad;
  out = value;
  return CellStatus::value;
}

inline CellStatus parse_time(std::string_view cell, double& out) noexcept {
  const std::string_view text = detail::trim_blanks(cell);
  if (text.empty()) return CellStatus::missing;
  if (text.size() >= 10 && text[4] == '-') return detail::parse_iso_time(text, out);
  for (const char c : text)
    if (!detail::is_digit(c) && c != '.' && c != '-' && c != '+') return CellStatus::bad;
  double value = 0;
  const CellStatus status = parse_number(text, value);
  if (status != CellStatus::value) return CellStatus::bad;
  out = value;
  return CellStatus::value;
}

inline std::size_t format_time(double unix_seconds, char* out) {
  // -62167219200 is 0000-01-01T00:00:00Z; 253402300800 is 10000-01-01T00:00:00Z.
  if (!(unix_seconds >= -62167219200.0 && unix_seconds < 253402300799.9995)) detail::throw_bad_time(unix_seconds);
  const auto milliseconds = static_cast<std::int64_t>(std::llround(unix_seconds * 1000.0));
  std::int64_t seconds = milliseconds / 1000;
  std::int64_t millis = milliseconds % 1000;
  if (millis < 0) {
    millis += 1000;
    seconds -= 1;
  }
  std::int64_t days = seconds / 86400;
  std::int64_t second_of_day = seconds % 86400;
  if (second_of_day < 0) {
    second_of_day += 86400;
    days -= 1;
  }
  int year = 0, month = 0, day = 0;
  detail::civil_from_days(days, year, month, day);
  const int hour = static_cast<int>(second_of_day / 3600);
  const int minute = static_cast<int>(second_of_day / 60 % 60);
  const int second = static_cast<int>(second_of_day % 60);
  // YYYY-MM-DDThh:mm:ss.sssZ
  detail::write_digits(out, year, 4);
  out[4] = '-';
  detail::write_digits(out + 5, month, 2);
  out[7] = '-';
  detail::write_digits(out + 8, day, 2);
  out[10] = 'T';
  detail::write_digits(out + 11, hour, 2);
  out[13] = ':';
  detail::write_digits(out + 14, minute, 2);
  out[16] = ':';
  detail::write_digits(out + 17, second, 2);
  out[19] = '.';
  detail::write_digits(out + 20, static_cast<int>(millis), 3);
  out[23] = 'Z';
  return iso_time_length;
}

inline std::string format_time(double unix_seconds) {
  char text[iso_time_length];
  format_time(unix_seconds, text);
  return std::string(text, iso_time_length);
}

// --- CsvReader -------------------------------------------------------------------------------

inline CsvReader::CsvReader(std::string name, const CsvOptions& options)
    : name_(std::move(name)), options_(options) {
  if (options_.chunk_size == 0) options_.chunk_size = 1;
  if (options_.delimiter == '"' || options_.delimiter == '\n' || options_.delimiter == '\r')
    vigil::detail::throw_invalid_argument("CsvReader: the delimiter cannot be a quote or a line break");
  stops_[static_cast<unsigned char>(options_.delimiter)] = true;
  stops_[static_cast<unsigned char>('\n')] = true;
  stops_[static_cast<unsigned char>('\r')] = true;
  buffer_.assign(1, '\n');
}

inline CsvReader CsvReader::open(const std::string& path, const CsvOptions& options) {
  CsvReader reader(path, options);
  errno = 0;
  auto file = std::make_unique<std::ifstream>(path, std::ios::binary);
  if (!file->is_open()) {
    const int code = errno;
    vigil::detail::throw_format_error("cannot open '" + path + "': " +
                                      (code != 0 ? std::string(std::strerror(code)) : std::string("open failed")));
  }
  reader.input_ = file.get();
  reader.owned_input_ = std::move(file);
  reader.read_header();
  return reader;
}

inline CsvReader CsvReader::from_stream(std::istream& input, std::string name, const CsvOptions& options) {
  CsvReader reader(std::move(name), options);
  reader.input_ = &input;
  reader.read_header();
  return reader;
}

inline CsvReader CsvReader::from_string(std::string text, std::string name, const CsvOptions& options) {
  CsvReader reader(std::move(name), options);
  text.push_back('\n');
  reader.buffer_.assign(text.begin(), text.end());
  reader.end_ = reader.buffer_.size() - 1;
  reader.input_done_ = true;
  reader.read_header();
  return reader;
}

inline std::optional<std::size_t> CsvReader::find(std::string_view column_name) const noexcept {
  for (std::size_t i = 0; i < columns_.size(); ++i)
    if (columns_[i] == column_name) return i;
  return std::nullopt;
}

inline std::size_t CsvReader::column(std::string_view column_name) const {
  std::vector<std::size_t> matches;
  for (std::size_t i = 0; i < columns_.size(); ++i)
    if (columns_[i] == column_name) matches.push_back(i);
  if (matches.size() == 1) return matches[0];
  std::string message = name_ + ": column '" + std::string(column_name) + "' ";
  if (matches.empty()) {
    message += "not found; columns are: ";
    for (std::size_t i = 0; i < columns_.size(); ++i) message += (i ? ", " : "") + columns_[i];
  } else {
    message += "is ambiguous; it names columns";
    for (std::size_t i = 0; i < matches.size(); ++i) message += (i ? ", " : " ") + std::to_string(matches[i] + 1);
  }
  vigil::detail::throw_format_error(message);
}

inline void CsvReader::fail(const std::string& what, std::uint64_t line) const {
  vigil::detail::throw_format_error(name_ + ":" + std::to_string(line) + ": " + what);
}

inline void CsvReader::read_header() {
  while (end_ - position_ < 3 && refill()) {
  }
  if (end_ - position_ >= 3 && std::memcmp(buffer_.data() + position_, "\xEF\xBB\xBF", 3) == 0) position_ += 3;
  if (!read_row()) vigil::detail::throw_format_error(name_ + ": no header row (the input is empty)");
  columns_.reserve(fields_.size());
  for (std::size_t i = 0; i < fields_.size(); ++i) columns_.emplace_back(field(i));
}

inline bool CsvReader::next() {
  while (read_row()) {
    if (fields_.size() == columns_.size()) {
      ++rows_;
      return true;
    }
    ++ragged_rows_;
    if (options_.ragged == RaggedRows::error)
      fail("row has " + std::to_string(fields_.size()) + " fields, the header has " + std::to_string(columns_.size()),
           line_);
    if (options_.ragged == RaggedRows::keep) {
      ++rows_;
      return true;
    }
  }
  fields_.clear();
  return false;
}

// Moves the unread text to the front of the buffer and appends the next chunk of input.
// False when the input has nothing more.
inline bool CsvReader::refill() {
  if (input_done_) return false;
  const std::size_t unread = end_ - position_;
  if (position_ > 0 && unread > 0) std::memmove(buffer_.data(), buffer_.data() + position_, unread);
  position_ = 0;
  end_ = unread;
  const std::size_t wanted = std::max(options_.chunk_size, unread);  // doubles for a long row
  if (buffer_.size() < unread + wanted + 1) buffer_.resize(unread + wanted + 1);
  errno = 0;
  input_->read(buffer_.data() + end_, static_cast<std::streamsize>(wanted));
  const auto got = static_cast<std::size_t>(input_->gcount());
  end_ += got;
  buffer_[end_] = '\n';
  if (input_->bad()) {
    const int code = errno;
    vigil::detail::throw_format_error(name_ + ": read error after line " + std::to_string(next_line_) +
                                      (code != 0 ? ": " + std::string(std::strerror(code)) : std::string()));
  }
  if (got < wanted) input_done_ = true;
  return got > 0;
}

inline bool CsvReader::read_row() {
  for (;;) {
    switch (scan_row()) {
      case Scan::row:
        apply_fixups();
        return true;
      case Scan::end_of_input:
        fields_.clear();
        return false;
      case Scan::need_more:
        refill();
        break;
    }
  }
}

// Splits the row at position_ into fields_. On `row`, consumes it and sets line_; on
// `need_more` (the row may continue past the buffer), consumes nothing.
inline CsvReader::Scan CsvReader::scan_row() {
  const char delimiter = options_.delimiter;
  const bool* const stops = stops_;
  char* const data = buffer_.data();
  const char* const end = data + end_;
  const bool final_chunk = input_done_;
  const char* p = data + position_;
  std::uint64_t skipped_lines = 0;
  // Blank lines before the row.
  while (p < end && (*p == '\n' || *p == '\r')) {
    if (*p == '\r' && p + 1 == end && !final_chunk) return Scan::need_more;
    if (*p == '\r' && p + 1 < end && p[1] == '\n') ++p;
    ++p;
    ++skipped_lines;
  }
  if (p == end) {
    if (!final_chunk) {
      position_ = static_cast<std::size_t>(p - data);
      next_line_ += skipped_lines;
      return Scan::need_more;
    }
    position_ = static_cast<std::size_t>(p - data);
    next_line_ += skipped_lines;
    return Scan::end_of_input;
  }
  const std::uint64_t row_line = next_line_ + skipped_lines;
  fields_.clear();
  fixups_.clear();
  std::uint64_t breaks = 0;  // line breaks inside quoted fields
  for (;;) {
    // One field starts at p.
    if (*p != '"') {
      const char* const begin = p;
      while (!stops[static_cast<unsigned char>(*p)]) ++p;  // the sentinel stops it at the end
      fields_.push_back({static_cast<std::size_t>(begin - data), static_cast<std::size_t>(p - begin)});
    } else {
      const char* const begin = ++p;
      const char* close = nullptr;
      bool escaped = false;
      while (close == nullptr) {
        while (p < end && *p != '"') {
          if (*p == '\n' || (*p == '\r' && (p + 1 == end || p[1] != '\n'))) ++breaks;
          ++p;
        }
        if (p == end) {
          if (!final_chunk) return Scan::need_more;
          fail("quoted field in column " + std::to_string(fields_.size() + 1) + " is never closed", row_line);
        }
        if (p + 1 == end && !final_chunk) return Scan::need_more;
        if (p + 1 < end && p[1] == '"') {
          escaped = true;
          p += 2;
        } else {
          close = p++;
        }
      }
      const char* const after = p;
      while (!stops[static_cast<unsigned char>(*p)]) ++p;
      const std::size_t field_index = fields_.size();
      fields_.push_back({static_cast<std::size_t>(begin - data), static_cast<std::size_t>(close - begin)});
      if (escaped || p != after) {
        if (p == end && !final_chunk) return Scan::need_more;
        fixups_.push_back({field_index, static_cast<std::size_t>(close - data), static_cast<std::size_t>(p - data)});
      }
    }
    // p is at a delimiter, a line break or the end of the buffer.
    if (p == end) {
      if (!final_chunk) return Scan::need_more;
      break;
    }
    if (*p == delimiter) {
      ++p;
      if (p == end && !final_chunk) return Scan::need_more;
      if (p == end || *p == '\n' || *p == '\r') {
        // A delimiter right before the line end: one more, empty field.
        fields_.push_back({static_cast<std::size_t>(p - data), 0});
        if (p == end) break;
      } else {
        continue;
      }
    }
    // A line break: LF, CRLF or CR.
    if (*p == '\r') {
      if (p + 1 == end && !final_chunk) return Scan::need_more;
      if (p + 1 < end && p[1] == '\n') ++p;
    }
    ++p;
    ++breaks;
    break;
  }
  line_ = row_line;
  next_line_ = row_line + breaks;
  position_ = static_cast<std::size_t>(p - data);
  return Scan::row;
}

// Rewrites quoted fields that are not contiguous in the buffer: `""` becomes `"`, and text
// after the closing quote is appended. The result is never longer, so it fits in place.
inline void CsvReader::apply_fixups() {
  char* const data = buffer_.data();
  for (const Fixup& fix : fixups_) {
    Span& span = fields_[fix.field];
    char* out = data + span.begin;
    const char* in = data + span.begin;
    const char* const close = data + fix.close;
    while (in < close) {
      const char c = *in++;
      *out++ = c;
      if (c == '"') ++in;  // the second quote of a "" pair
    }
    const char* const after = close + 1;
    const char* const stop = data + fix.end;
    if (after != stop) {
      ++quote_errors_;
      for (in = after; in < stop;) *out++ = *in++;
    }
    span.size = static_cast<std::size_t>(out - (data + span.begin));
  }
}

}  // namespace vigil::tools

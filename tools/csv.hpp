// vigil — in-process monitoring of machine-learning models in C++ inference servers.
// SPDX-License-Identifier: Apache-2.0
//
// CSV input for the `vigil` command-line program: a streaming RFC 4180 reader, number and
// timestamp parsing that reports missing and bad cells instead of throwing, and ISO-8601
// formatting of event times. The bodies are in csv.cpp.
#pragma once

#include <cstddef>
#include <cstdint>
#include <istream>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "vigil/error.hpp"  // the errors thrown: vigil::format_error, vigil::invalid_argument

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
CellStatus parse_number(std::string_view cell, double& out) noexcept;

/// The unit of a Unix time written as a number.
enum class TimeUnit : unsigned char { seconds, milliseconds, microseconds, nanoseconds };

/// `s`, `ms`, `us` or `ns`: the unit as `--time-unit` names it.
const char* to_string(TimeUnit unit) noexcept;
/// `seconds`, `milliseconds`, `microseconds` or `nanoseconds`.
const char* unit_name(TimeUnit unit) noexcept;
/// The unit named `s`, `ms`, `us` or `ns`; nothing for any other text. O(length).
std::optional<TimeUnit> parse_time_unit(std::string_view text) noexcept;

/// The unit of a Unix time told by its magnitude: below 10^11 seconds, below 10^14
/// milliseconds, below 10^17 microseconds, otherwise nanoseconds (|value| decides).
///
/// Each unit thereby covers the times from 1973-03-03T09:46:40Z (10^8 s) to year 5138
/// (10^11 s); seconds also cover everything earlier, back to year 0000. A time before
/// 1973-03-03 in milliseconds, microseconds or nanoseconds reads as a smaller unit: such a
/// column needs its unit named (`parse_time`'s `unit`). O(1).
TimeUnit unix_time_unit(double value) noexcept;

/// An event time as read from a cell: its outcome, its value and how it was written.
struct TimeCell {
  CellStatus status = CellStatus::missing;
  double seconds = 0;                ///< Unix seconds; set when `status` is `value`
  std::optional<TimeUnit> unix_unit; ///< the unit of a Unix number; nothing for ISO-8601 text
};

/// Reads an event time into Unix seconds (seconds since 1970-01-01T00:00:00Z, fractional).
///
/// Accepts ISO-8601 / RFC 3339 text — `2026-11-02T08:00:00Z`, a space or `t` instead of `T`,
/// fractional seconds with `.` or `,` (any number of digits; beyond nanoseconds they are
/// dropped), a zone `Z`, `+hh:mm`, `+hhmm` or `+hh` (no zone means UTC), minutes without
/// seconds (`2026-11-02T08:00`), or a date alone (midnight UTC) — and Unix time as a plain
/// decimal number, integer or fractional, without an exponent (`1793606400`,
/// `1793606400.353`, `1793606400353`), in `unit`, or without one in the unit its magnitude
/// tells (`unix_time_unit`). Integers are divided exactly, so nanoseconds keep their digits.
/// The time must fall in years 0000–9999 (what `format_time` writes).
/// Empty or blank text is `missing`; out-of-range fields (month 13, 31 April, hour 24), times
/// outside years 0000–9999 and any other text are `bad`. O(length).
TimeCell read_time(std::string_view cell, std::optional<TimeUnit> unit = std::nullopt) noexcept;

/// `read_time` into `out`, which is left unchanged on anything but `value`.
CellStatus parse_time(std::string_view cell, double& out, std::optional<TimeUnit> unit = std::nullopt) noexcept;

/// The accepted time formats, one example of each, for error messages: "ISO-8601 with or
/// without a zone (2026-11-02T08:00:00Z, ...), or Unix seconds (1793606400.353), ...".
std::string accepted_time_formats();

/// Characters `format_time` writes: `YYYY-MM-DDThh:mm:ss.sssZ`.
inline constexpr std::size_t iso_time_length = 24;

/// Writes Unix seconds as ISO-8601 UTC with milliseconds, `2026-11-02T08:00:00.000Z`, into
/// `out` (at least `iso_time_length` characters; no terminating zero is written).
///
/// Rounds to the nearest millisecond, as the report exports do (vigil::to_iso8601).
/// Precondition: `unix_seconds` is finite and falls in years 0000–9999; otherwise throws
/// `vigil::invalid_argument` naming the value. O(1).
std::size_t format_time(double unix_seconds, char* out);

/// The same, returned as a string.
std::string format_time(double unix_seconds);

namespace detail {

/// `text` without the spaces and tabs around it. O(length).
inline std::string_view trim_blanks(std::string_view text) noexcept {
  std::size_t first = 0, last = text.size();
  while (first < last && (text[first] == ' ' || text[first] == '\t')) ++first;
  while (last > first && (text[last - 1] == ' ' || text[last - 1] == '\t')) --last;
  return text.substr(first, last - first);
}

inline bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }

}  // namespace detail

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
  /// Line (from 1) and column index of the first such field; 0 and 0 while there is none.
  std::uint64_t first_quote_error_line() const noexcept { return first_quote_error_line_; }
  std::size_t first_quote_error_column() const noexcept { return first_quote_error_column_; }

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
  // Where a field's scan stopped: before the row's next field, after its end, or at the end
  // of the buffer of an input that has more.
  enum class FieldEnd : unsigned char { next_field, row_end, need_more };

  CsvReader(std::string name, const CsvOptions& options);
  void read_header();
  bool read_row();
  Scan scan_row();
  Scan skip_blank_lines(const char*& p, std::uint64_t& skipped);
  bool scan_quoted(const char*& p, std::uint64_t& breaks, std::uint64_t row_line);
  FieldEnd end_field(const char*& p, std::uint64_t& breaks);
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
  std::uint64_t first_quote_error_line_ = 0;
  std::size_t first_quote_error_column_ = 0;
};

}  // namespace vigil::tools

// vigil — in-process monitoring of machine-learning models in C++ inference servers.
// SPDX-License-Identifier: Apache-2.0
//
// Cell parsing, event-time formatting and the streaming CSV reader declared in csv.hpp.
#include "csv.hpp"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <fstream>
#include <system_error>
#include <utility>

#include "vigil/error.hpp"
#include "vigil/export/detail/text.hpp"

namespace vigil::tools {

namespace {

// Whether decimal text whose value is outside the double range is too small (rather than too
// large): a negative exponent decides, else a mantissa below one.
bool is_underflow_text(std::string_view text) noexcept {
  const std::size_t exponent = text.find_first_of("eE");
  if (exponent != std::string_view::npos) return exponent + 1 < text.size() && text[exponent + 1] == '-';
  if (!text.empty() && text[0] == '-') text.remove_prefix(1);
  return text.empty() || text[0] == '0' || text[0] == '.';
}

// Reads exactly `count` digits at `text[at]` into `out`; false if any is not a digit.
bool read_digits(std::string_view text, std::size_t at, std::size_t count, int& out) noexcept {
  if (at + count > text.size()) return false;
  int value = 0;
  for (std::size_t i = at; i < at + count; ++i) {
    if (!detail::is_digit(text[i])) return false;
    value = value * 10 + (text[i] - '0');
  }
  out = value;
  return true;
}

// `YYYY-MM-DD` at the start of `text`, as days since 1970-01-01; false for a date that does
// not exist (month 13, 31 April, 29 February of a common year).
bool read_date(std::string_view text, std::int64_t& days) noexcept {
  int year = 0, month = 0, day = 0;
  if (!read_digits(text, 0, 4, year) || text.size() < 10 || text[4] != '-' || !read_digits(text, 5, 2, month) ||
      text[7] != '-' || !read_digits(text, 8, 2, day))
    return false;
  if (month < 1 || month > 12 || day < 1 || day > 31) return false;
  days = vigil::detail::days_from_civil(year, static_cast<unsigned>(month), static_cast<unsigned>(day));
  // A day past the month's end counts on into the next month; converted back, it shows.
  const vigil::detail::CivilDate back = vigil::detail::civil_from_days(days);
  return back.day == static_cast<unsigned>(day);
}

// Fractional seconds after the `.` or `,` at `text[at]`: at least one digit, any number of
// them (those beyond nanoseconds are dropped). Moves `at` past them.
bool read_fraction(std::string_view text, std::size_t& at, double& fraction) noexcept {
  const std::size_t first = ++at;
  std::int64_t digits = 0, scale = 1;
  while (at < text.size() && detail::is_digit(text[at])) {
    if (scale < 1000000000) {
      digits = digits * 10 + (text[at] - '0');
      scale *= 10;
    }
    ++at;
  }
  if (at == first) return false;
  fraction = static_cast<double>(digits) / static_cast<double>(scale);
  return true;
}

// The time of day `hh:mm[:ss[.fff]]` after the separator at `text[at]`, in seconds. Moves `at`
// past it.
bool read_clock(std::string_view text, std::size_t& at, std::int64_t& seconds, double& fraction) noexcept {
  int hour = 0, minute = 0, second = 0;
  if (!read_digits(text, at + 1, 2, hour) || at + 3 >= text.size() || text[at + 3] != ':' ||
      !read_digits(text, at + 4, 2, minute))
    return false;
  at += 6;
  if (at < text.size() && text[at] == ':') {
    if (!read_digits(text, at + 1, 2, second)) return false;
    at += 3;
    if (at < text.size() && (text[at] == '.' || text[at] == ',') && !read_fraction(text, at, fraction)) return false;
  }
  // 60 is a leap second; it reads as the first second of the next minute.
  if (hour > 23 || minute > 59 || second > 60) return false;
  seconds = hour * 3600 + minute * 60 + second;
  return true;
}

// The zone from `text[at]` to the end: nothing (UTC), `Z`, `+hh:mm`, `+hhmm` or `+hh`, as
// seconds east of UTC.
bool read_zone(std::string_view text, std::size_t at, int& offset_seconds) noexcept {
  offset_seconds = 0;
  if (at == text.size()) return true;
  const char zone = text[at];
  if (zone == 'Z' || zone == 'z') return at + 1 == text.size();
  if (zone != '+' && zone != '-') return false;
  int hours = 0, minutes = 0;
  if (!read_digits(text, at + 1, 2, hours)) return false;
  at += 3;
  if (at < text.size()) {
    if (text[at] == ':') ++at;
    if (!read_digits(text, at, 2, minutes)) return false;
    at += 2;
  }
  if (at != text.size() || hours > 23 || minutes > 59) return false;
  offset_seconds = (zone == '+' ? 1 : -1) * (hours * 3600 + minutes * 60);
  return true;
}

CellStatus parse_iso_time(std::string_view text, double& out) noexcept {
  std::int64_t days = 0;
  if (!read_date(text, days)) return CellStatus::bad;
  std::size_t at = 10;
  std::int64_t seconds = 0;
  double fraction = 0;
  if (at < text.size() && (text[at] == 'T' || text[at] == 't' || text[at] == ' ') &&
      !read_clock(text, at, seconds, fraction))
    return CellStatus::bad;
  int offset_seconds = 0;
  if (!read_zone(text, at, offset_seconds)) return CellStatus::bad;
  out = static_cast<double>(days * 86400 + seconds - offset_seconds) + fraction;
  return CellStatus::value;
}

// Units of a Unix time per second, indexed by TimeUnit.
constexpr std::int64_t units_per_second[] = {1, 1000, 1000000, 1000000000};

std::int64_t per_second(TimeUnit unit) noexcept { return units_per_second[static_cast<int>(unit)]; }

// Whether `seconds` is a time that format_time can write: years 0000-9999, once rounded to
// the millisecond.
bool in_time_range(double seconds) noexcept {
  return seconds >= vigil::detail::iso8601_min_seconds && seconds < vigil::detail::iso8601_end_seconds - 0.0005;
}

// An integer count of `unit` as seconds: whole seconds and the remainder are converted apart,
// so that a count beyond 2^53 (nanoseconds since 1970) keeps its last digits.
double integer_seconds(std::int64_t count, TimeUnit unit) noexcept {
  const std::int64_t per = per_second(unit);
  return static_cast<double>(count / per) + static_cast<double>(count % per) / static_cast<double>(per);
}

// A Unix time: digits with an optional sign and fraction, no exponent.
TimeCell read_unix_time(std::string_view text, std::optional<TimeUnit> unit) noexcept {
  TimeCell cell;
  cell.status = CellStatus::bad;
  for (const char c : text)
    if (!detail::is_digit(c) && c != '.' && c != '-' && c != '+') return cell;
  double value = 0;
  if (parse_number(text, value) != CellStatus::value) return cell;
  const TimeUnit read_as = unit ? *unit : unix_time_unit(value);
  std::string_view digits = text;
  if (!digits.empty() && digits[0] == '+') digits.remove_prefix(1);
  std::int64_t count = 0;
  const char* const last = digits.data() + digits.size();
  const auto [end, error] = std::from_chars(digits.data(), last, count);
  const double seconds = end == last && error == std::errc() ? integer_seconds(count, read_as)
                                                             : value / static_cast<double>(per_second(read_as));
  if (!in_time_range(seconds)) return cell;
  cell.status = CellStatus::value;
  cell.seconds = seconds;
  cell.unix_unit = read_as;
  return cell;
}

[[noreturn]] VIGIL_NOINLINE void throw_bad_time(double unix_seconds) {
  vigil::detail::throw_invalid_argument("format_time: " + vigil::detail::to_text(unix_seconds) +
                                        " is not a Unix time in years 0000-9999");
}

}  // namespace

CellStatus parse_number(std::string_view cell, double& out) noexcept {
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
    if (!is_underflow_text(text)) return CellStatus::bad;
    value = text[0] == '-' ? -0.0 : 0.0;
  } else if (error != std::errc()) {
    return CellStatus::bad;
  }
  if (std::isnan(value)) return CellStatus::missing;
  if (std::isinf(value)) return CellStatus::bad;
  out = value;
  return CellStatus::value;
}

const char* to_string(TimeUnit unit) noexcept {
  static const char* const names[] = {"s", "ms", "us", "ns"};
  return names[static_cast<int>(unit)];
}

const char* unit_name(TimeUnit unit) noexcept {
  static const char* const names[] = {"seconds", "milliseconds", "microseconds", "nanoseconds"};
  return names[static_cast<int>(unit)];
}

std::optional<TimeUnit> parse_time_unit(std::string_view text) noexcept {
  for (const TimeUnit unit : {TimeUnit::seconds, TimeUnit::milliseconds, TimeUnit::microseconds, TimeUnit::nanoseconds})
    if (text == to_string(unit)) return unit;
  return std::nullopt;
}

TimeUnit unix_time_unit(double value) noexcept {
  const double magnitude = std::fabs(value);
  if (magnitude < 1e11) return TimeUnit::seconds;
  if (magnitude < 1e14) return TimeUnit::milliseconds;
  if (magnitude < 1e17) return TimeUnit::microseconds;
  return TimeUnit::nanoseconds;
}

TimeCell read_time(std::string_view cell, std::optional<TimeUnit> unit) noexcept {
  const std::string_view text = detail::trim_blanks(cell);
  if (text.empty()) return {};
  if (text.size() < 10 || text[4] != '-') return read_unix_time(text, unit);
  TimeCell iso;
  iso.status = parse_iso_time(text, iso.seconds);
  if (iso.status == CellStatus::value && !in_time_range(iso.seconds)) iso.status = CellStatus::bad;
  return iso;
}

CellStatus parse_time(std::string_view cell, double& out, std::optional<TimeUnit> unit) noexcept {
  const TimeCell time = read_time(cell, unit);
  if (time.status == CellStatus::value) out = time.seconds;
  return time.status;
}

std::string accepted_time_formats() {
  return "ISO-8601 with or without a zone (2026-11-02T08:00:00Z, 2026-11-02 09:00:00.353+01:00, "
         "2026-11-02T08:00:00-0500, 2026-11-02T08:00, 2026-11-02), or Unix time in seconds (1793606400.353), "
         "milliseconds (1793606400353), microseconds (1793606400353000) or nanoseconds (1793606400353000000), "
         "told apart by magnitude unless --time-unit names the unit";
}

std::size_t format_time(double unix_seconds, char* out) {
  const std::string text = format_time(unix_seconds);
  text.copy(out, iso_time_length);
  return iso_time_length;
}

std::string format_time(double unix_seconds) {
  std::string text = vigil::detail::iso8601(unix_seconds);
  if (text.empty()) throw_bad_time(unix_seconds);
  return text;
}

// --- CsvReader -------------------------------------------------------------------------------

CsvReader::CsvReader(std::string name, const CsvOptions& options) : name_(std::move(name)), options_(options) {
  if (options_.chunk_size == 0) options_.chunk_size = 1;
  if (options_.delimiter == '"' || options_.delimiter == '\n' || options_.delimiter == '\r')
    vigil::detail::throw_invalid_argument("CsvReader: the delimiter cannot be a quote or a line break");
  stops_[static_cast<unsigned char>(options_.delimiter)] = true;
  stops_[static_cast<unsigned char>('\n')] = true;
  stops_[static_cast<unsigned char>('\r')] = true;
  buffer_.assign(1, '\n');
}

CsvReader CsvReader::open(const std::string& path, const CsvOptions& options) {
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

CsvReader CsvReader::from_stream(std::istream& input, std::string name, const CsvOptions& options) {
  CsvReader reader(std::move(name), options);
  reader.input_ = &input;
  reader.read_header();
  return reader;
}

CsvReader CsvReader::from_string(std::string text, std::string name, const CsvOptions& options) {
  CsvReader reader(std::move(name), options);
  text.push_back('\n');
  reader.buffer_.assign(text.begin(), text.end());
  reader.end_ = reader.buffer_.size() - 1;
  reader.input_done_ = true;
  reader.read_header();
  return reader;
}

std::optional<std::size_t> CsvReader::find(std::string_view column_name) const noexcept {
  for (std::size_t i = 0; i < columns_.size(); ++i)
    if (columns_[i] == column_name) return i;
  return std::nullopt;
}

std::size_t CsvReader::column(std::string_view column_name) const {
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

void CsvReader::fail(const std::string& what, std::uint64_t line) const {
  vigil::detail::throw_format_error(name_ + ":" + std::to_string(line) + ": " + what);
}

void CsvReader::read_header() {
  while (end_ - position_ < 3 && refill()) {
  }
  if (end_ - position_ >= 3 && std::memcmp(buffer_.data() + position_, "\xEF\xBB\xBF", 3) == 0) position_ += 3;
  if (!read_row()) vigil::detail::throw_format_error(name_ + ": no header row (the input is empty)");
  columns_.reserve(fields_.size());
  for (std::size_t i = 0; i < fields_.size(); ++i) columns_.emplace_back(field(i));
}

bool CsvReader::next() {
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
bool CsvReader::refill() {
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

bool CsvReader::read_row() {
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
CsvReader::Scan CsvReader::scan_row() {
  const char* p = nullptr;
  std::uint64_t skipped_lines = 0;
  const Scan blank = skip_blank_lines(p, skipped_lines);
  if (blank != Scan::row) return blank;
  const std::uint64_t row_line = next_line_ + skipped_lines;
  char* const data = buffer_.data();
  const bool* const stops = stops_;
  fields_.clear();
  fixups_.clear();
  std::uint64_t breaks = 0;  // line breaks inside quoted fields, then the row's own
  for (;;) {
    if (*p != '"') {
      const char* const begin = p;
      while (!stops[static_cast<unsigned char>(*p)]) ++p;  // the sentinel stops it at the end
      fields_.push_back({static_cast<std::size_t>(begin - data), static_cast<std::size_t>(p - begin)});
    } else if (!scan_quoted(p, breaks, row_line)) {
      return Scan::need_more;
    }
    const FieldEnd next = end_field(p, breaks);
    if (next == FieldEnd::need_more) return Scan::need_more;
    if (next == FieldEnd::row_end) break;
  }
  line_ = row_line;
  next_line_ = row_line + breaks;
  position_ = static_cast<std::size_t>(p - data);
  return Scan::row;
}

// Moves `p` from position_ past the blank lines there, counting them in `skipped`. Returns
// `row` when a row starts at `p`; otherwise the blank lines are consumed, unless a lone CR at
// the end of the buffer may be half of a CRLF.
CsvReader::Scan CsvReader::skip_blank_lines(const char*& p, std::uint64_t& skipped) {
  const char* const data = buffer_.data();
  const char* const end = data + end_;
  p = data + position_;
  while (p < end && (*p == '\n' || *p == '\r')) {
    if (*p == '\r' && p + 1 == end && !input_done_) return Scan::need_more;
    if (*p == '\r' && p + 1 < end && p[1] == '\n') ++p;
    ++p;
    ++skipped;
  }
  if (p < end) return Scan::row;
  position_ = static_cast<std::size_t>(p - data);
  next_line_ += skipped;
  return input_done_ ? Scan::end_of_input : Scan::need_more;
}

// Reads the quoted field whose opening quote is at `p`, and any text after its closing quote,
// up to the delimiter or line break where `p` stops. False when the field may continue past
// the buffer. Counts the line breaks inside it in `breaks`.
bool CsvReader::scan_quoted(const char*& p, std::uint64_t& breaks, std::uint64_t row_line) {
  const char* const data = buffer_.data();
  const char* const end = data + end_;
  const char* const begin = ++p;
  const char* close = nullptr;
  bool escaped = false;
  while (close == nullptr) {
    while (p < end && *p != '"') {
      if (*p == '\n' || (*p == '\r' && (p + 1 == end || p[1] != '\n'))) ++breaks;
      ++p;
    }
    if (p == end) {
      if (!input_done_) return false;
      fail("quoted field in column " + std::to_string(fields_.size() + 1) + " is never closed", row_line);
    }
    if (p + 1 == end && !input_done_) return false;  // the next byte may be a second quote
    if (p + 1 < end && p[1] == '"') {
      escaped = true;
      p += 2;
    } else {
      close = p++;
    }
  }
  const char* const after = p;
  while (!stops_[static_cast<unsigned char>(*p)]) ++p;
  const std::size_t field_index = fields_.size();
  fields_.push_back({static_cast<std::size_t>(begin - data), static_cast<std::size_t>(close - begin)});
  if (escaped || p != after) {
    if (p == end && !input_done_) return false;
    fixups_.push_back({field_index, static_cast<std::size_t>(close - data), static_cast<std::size_t>(p - data)});
  }
  return true;
}

// After a field, `p` is at a delimiter, a line break or the end of the buffer: moves it past
// the delimiter (`next_field`) or the row's line break (`row_end`, counted in `breaks`). A
// delimiter right before the line end makes one more, empty field.
CsvReader::FieldEnd CsvReader::end_field(const char*& p, std::uint64_t& breaks) {
  const char* const data = buffer_.data();
  const char* const end = data + end_;
  if (p == end) return input_done_ ? FieldEnd::row_end : FieldEnd::need_more;
  if (*p == options_.delimiter) {
    ++p;
    if (p == end && !input_done_) return FieldEnd::need_more;
    if (p != end && *p != '\n' && *p != '\r') return FieldEnd::next_field;
    fields_.push_back({static_cast<std::size_t>(p - data), 0});
    if (p == end) return FieldEnd::row_end;
  }
  // A line break: LF, CRLF or CR.
  if (*p == '\r') {
    if (p + 1 == end && !input_done_) return FieldEnd::need_more;
    if (p + 1 < end && p[1] == '\n') ++p;
  }
  ++p;
  ++breaks;
  return FieldEnd::row_end;
}

// Rewrites quoted fields that are not contiguous in the buffer: `""` becomes `"`, and text
// after the closing quote is appended. The result is never longer, so it fits in place.
void CsvReader::apply_fixups() {
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
      if (quote_errors_++ == 0) {
        first_quote_error_line_ = line_;
        first_quote_error_column_ = fix.field;
      }
      for (in = after; in < stop;) *out++ = *in++;
    }
    span.size = static_cast<std::size_t>(out - (data + span.begin));
  }
}

}  // namespace vigil::tools

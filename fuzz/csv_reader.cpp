// vigil — in-process monitoring of machine-learning models in C++ inference servers.
// SPDX-License-Identifier: Apache-2.0
//
// Fuzz target: the command line's CSV reader (tools/csv.hpp) and its cell parsers. The first
// byte chooses the delimiter, the handling of ragged rows and a small chunk size (so rows
// cross buffer refills); the rest is the text. The reader may refuse the text only with
// vigil::format_error; what it returns must be consistent, and every number and time it
// parses must be finite, a time formatting and reading back to itself.
#include <cmath>
#include <optional>
#include <string>
#include <string_view>

#include "csv.hpp"
#include "fuzz_checks.hpp"

namespace {

using vigil::tools::CellStatus;
using vigil_fuzz::require;

vigil::tools::CsvOptions options_from(std::uint8_t selector) {
  static const char delimiters[4] = {',', ';', '\t', '|'};
  static const vigil::tools::RaggedRows ragged[3] = {vigil::tools::RaggedRows::skip, vigil::tools::RaggedRows::keep,
                                                     vigil::tools::RaggedRows::error};
  vigil::tools::CsvOptions o;
  o.delimiter = delimiters[selector & 3];
  o.ragged = ragged[(selector >> 2) % 3];
  if (selector & 0x40) o.chunk_size = 7;
  return o;
}

/// A cell read as a number and as a time: values are finite, and a time survives
/// format_time -> read_time up to the millisecond format_time rounds to (and the last
/// bits of a double that large).
void check_cell(std::string_view cell) {
  double number = 0;
  if (vigil::tools::parse_number(cell, number) == CellStatus::value) require(std::isfinite(number), "parse_number: a value not finite");
  const vigil::tools::TimeCell time = vigil::tools::read_time(cell);
  if (time.status != CellStatus::value) return;
  require(std::isfinite(time.seconds), "read_time: a time not finite");
  std::string text;
  vigil_fuzz::must_not_throw("format_time of a time read_time accepted", [&] { text = vigil::tools::format_time(time.seconds); });
  const vigil::tools::TimeCell again = vigil::tools::read_time(text);
  require(again.status == CellStatus::value && std::fabs(again.seconds - time.seconds) <= 0.0005 + 1e-15 * std::fabs(time.seconds),
          "read_time(format_time(t)) is not t to the millisecond");
}

void check_row(const vigil::tools::CsvReader& csv, const vigil::tools::CsvOptions& options) {
  if (options.ragged != vigil::tools::RaggedRows::keep)
    require(csv.size() == csv.columns().size(), "CsvReader: a row of another width than the header returned");
  for (std::size_t i = 0; i < csv.size(); ++i) check_cell(csv.field(i));
  require(csv.field(csv.size()).empty(), "CsvReader: a field past the end is not empty");
}

/// Reads every row; false when the reader refused the text (with format_error).
bool read_all(const std::string& text, const vigil::tools::CsvOptions& options) {
  std::optional<vigil::tools::CsvReader> csv;
  return vigil_fuzz::accepted("CsvReader", [&] {
    csv.emplace(vigil::tools::CsvReader::from_string(text, "fuzz.csv", options));
    for (const std::string& name : csv->columns()) {
      const std::optional<std::size_t> index = csv->find(name);
      require(index && csv->columns()[*index] == name, "CsvReader: find() misses a header column");
    }
    std::uint64_t rows = 0;
    while (csv->next()) {
      require(csv->rows() == ++rows, "CsvReader: rows() does not count the rows returned");
      check_row(*csv, options);
    }
  });
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const vigil::tools::CsvOptions options = options_from(data[0]);
  const std::string text(reinterpret_cast<const char*>(data) + 1, size - 1);
  read_all(text, options);
  return 0;
}

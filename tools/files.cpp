// vigil — in-process monitoring of machine-learning models in C++ inference servers.
// SPDX-License-Identifier: Apache-2.0
//
// Files and columns named on the command line, declared in files.hpp.
#include "files.hpp"

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <numeric>
#include <string>
#include <vector>

#include "options.hpp"
#include "vigil/error.hpp"
#include "vigil/io/file.hpp"

namespace vigil::tools {

void require_unique_columns(const CsvReader& csv, const std::string& file) {
  const std::vector<std::string>& names = csv.columns();
  std::vector<std::size_t> order(names.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return names[a] < names[b]; });
  for (std::size_t i = 1; i < order.size(); ++i)
    if (names[order[i - 1]] == names[order[i]])
      fail(file + ": column '" + names[order[i]] + "' appears twice in the header (columns " +
           std::to_string(order[i - 1] + 1) + " and " + std::to_string(order[i] + 1) + "); rename one");
}

void warn_quote_errors(const CsvReader& csv, std::ostream& err) {
  const std::uint64_t n = csv.quote_errors();
  if (n == 0) return;
  const std::size_t column = csv.first_quote_error_column();
  err << "warning: " << csv.name() << ": " << n << (n == 1 ? " field has" : " fields have")
      << " text after the closing quote, kept literally (\"red\"x reads as redx); the first at line "
      << csv.first_quote_error_line() << ", ";
  if (column < csv.columns().size()) {
    err << "column '" << csv.columns()[column] << "'\n";
  } else {
    err << "field " << column + 1 << " (past the header's columns)\n";
  }
}

CsvReader open_csv(const std::string& path) {
  try {
    return CsvReader::open(path);
  } catch (const format_error& e) {
    fail(e.what());
  }
}

std::size_t require_column(const CsvReader& csv, const std::string& column, const std::string& option,
                           const std::string& file) {
  const auto index = csv.find(column);
  if (!index)
    fail("column '" + column + "'" + (option.empty() ? "" : " (" + option + ")") + " not found in " + file +
         "; columns are: " + join(csv.columns()));
  return *index;
}

std::ofstream create_file(const std::string& path) {
  std::ofstream file(path, std::ios::trunc);
  if (!file) fail("cannot write '" + path + "'");
  return file;
}

void finish_file(std::ofstream& file, const std::string& path) {
  file.flush();
  if (!file) fail("cannot write '" + path + "'");
}

void write_file(const std::string& path, const std::string& text) {
  std::error_code ec;
  const std::filesystem::file_status status = std::filesystem::status(path, ec);
  if (!ec && std::filesystem::exists(status) && !std::filesystem::is_regular_file(status) &&
      !std::filesystem::is_directory(status)) {
    // A device or a pipe (/dev/stdout) cannot be replaced by a rename: it is written through.
    std::ofstream file(path, std::ios::binary | std::ios::trunc);
    file << text;
    finish_file(file, path);
    return;
  }
  try {
    io::write_file(path, text);
  } catch (const io_error& e) {
    fail(e.what());
  }
}

}  // namespace vigil::tools

// vigil — in-process monitoring of machine-learning models in C++ inference servers.
// SPDX-License-Identifier: Apache-2.0
//
// Files and columns named on the command line, declared in files.hpp.
#include "files.hpp"

#include "options.hpp"
#include "vigil/error.hpp"

namespace vigil::tools {

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
  std::ofstream file(path, std::ios::binary | std::ios::trunc);
  file << text;
  finish_file(file, path);
}

}  // namespace vigil::tools

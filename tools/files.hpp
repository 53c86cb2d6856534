// vigil — in-process monitoring of machine-learning models in C++ inference servers.
// SPDX-License-Identifier: Apache-2.0
//
// The files and columns named on the `vigil` command line: opened, found and written, or a
// one-line Failure (options.hpp) that names them.
#pragma once

#include <cstddef>
#include <fstream>
#include <string>

#include "csv.hpp"

namespace vigil::tools {

/// Opens a CSV file and reads its header; fails with the reader's message ("cannot open
/// 'x.csv': No such file or directory").
CsvReader open_csv(const std::string& path);

/// The index of `column` in `csv`; fails with "column 'ts' (--time-column) not found in
/// traffic.csv; columns are: a, b", where `option` (may be empty) says who named the column.
std::size_t require_column(const CsvReader& csv, const std::string& column, const std::string& option,
                           const std::string& file);

/// Opens `path` for writing, emptied; fails naming it.
std::ofstream create_file(const std::string& path);

/// Flushes a file opened by create_file() and fails, naming `path`, if anything written to it
/// was lost.
void finish_file(std::ofstream& file, const std::string& path);

/// Writes `text` to a file, replacing it, or fails naming it.
void write_file(const std::string& path, const std::string& text);

}  // namespace vigil::tools

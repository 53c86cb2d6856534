// vigil — in-process monitoring of machine-learning models in C++ inference servers.
// SPDX-License-Identifier: Apache-2.0
//
// The files and columns named on the `vigil` command line: opened, found and written, or a
// one-line Failure (options.hpp) that names them.
#pragma once

#include <cstddef>
#include <fstream>
#include <ostream>
#include <string>

#include "csv.hpp"

namespace vigil::tools {

/// Opens a CSV file and reads its header; fails with the reader's message ("cannot open
/// 'x.csv': No such file or directory").
CsvReader open_csv(const std::string& path);

/// Fails with "traffic.csv: column 'x' appears twice in the header (columns 2 and 5); rename
/// one" when two columns of `csv` have the same name, which no option or feature could tell
/// apart. O(n log n) in the columns.
void require_unique_columns(const CsvReader& csv, const std::string& file);

/// When `csv` read fields with text after their closing quote (`"red"x`, kept as `redx`),
/// writes one line to `err`: "warning: traffic.csv: 3 fields have text after their closing
/// quote, kept literally (the first at line 7, column 'color')". Nothing otherwise.
void warn_quote_errors(const CsvReader& csv, std::ostream& err);

/// The index of `column` in `csv`; fails with "column 'ts' (--time-column) not found in
/// traffic.csv; columns are: a, b", where `option` (may be empty) says who named the column.
std::size_t require_column(const CsvReader& csv, const std::string& column, const std::string& option,
                           const std::string& file);

/// Opens `path` for writing, emptied; fails naming it.
std::ofstream create_file(const std::string& path);

/// Flushes a file opened by create_file() and fails, naming `path`, if anything written to it
/// was lost.
void finish_file(std::ofstream& file, const std::string& path);

/// Writes `text` to a file, replacing it crash-safely (vigil::io::write_file(): whenever the
/// program dies, the file holds its old content or the new one, never a mix), or fails naming
/// it and the reason. A device or a pipe (`--json /dev/stdout`) is written through instead.
void write_file(const std::string& path, const std::string& text);

}  // namespace vigil::tools

// vigil — in-process monitoring of machine-learning models in C++ inference servers.
// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <system_error>

#include "vigil/config.hpp"

namespace vigil {

/// Base of every exception vigil throws: `catch (const vigil::error& e)` catches them all,
/// and `e.message()` says what was wrong, naming the offending value.
///
/// Each concrete error also derives from the standard exception that fits, so code that
/// already catches `std::invalid_argument` or `std::runtime_error` keeps working.
class error {
 public:
  virtual ~error() = default;
  /// The same text as `what()`.
  virtual const char* message() const noexcept = 0;
};

/// A precondition the caller violated: a weight of zero, a quantile outside [0, 1], a
/// mismatched length. Thrown before any state changes.
class invalid_argument : public std::invalid_argument, public error {
 public:
  explicit invalid_argument(const std::string& what) : std::invalid_argument(what) {}
  const char* message() const noexcept override { return what(); }
};

/// Bytes or text that cannot be decoded: truncated, corrupt, of another type, or of a newer
/// format version than this build reads.
class format_error : public std::runtime_error, public error {
 public:
  explicit format_error(const std::string& what) : std::runtime_error(what) {}
  const char* message() const noexcept override { return what(); }
};

/// A file that cannot be read or written: missing, a directory, not permitted, a full disk
/// (vigil/io/file.hpp). The message names the path and the system's reason; code() holds the
/// error number (std::generic_category(), so `e.code() == std::errc::no_such_file_or_directory`
/// compares as expected).
class io_error : public std::runtime_error, public error {
 public:
  io_error(const std::string& what, std::error_code code) : std::runtime_error(what), code_(code) {}
  const char* message() const noexcept override { return what(); }
  /// The system's error: errno of the call that failed.
  std::error_code code() const noexcept { return code_; }

 private:
  std::error_code code_;
};

namespace detail {

/// Shortest text that reads back as the same double ("nan", "inf" and "-inf" included).
inline std::string to_text(double value) {
  if (std::isnan(value)) return "nan";
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  char text[32];
  for (int precision = 6; precision <= 17; ++precision) {
    std::snprintf(text, sizeof text, "%.*g", precision, value);
    if (std::strtod(text, nullptr) == value) break;
  }
  return text;
}

[[noreturn]] VIGIL_NOINLINE inline void throw_invalid_argument(const std::string& what) {
  throw invalid_argument(what);
}

[[noreturn]] VIGIL_NOINLINE inline void throw_format_error(const std::string& what) {
  throw format_error(what);
}

/// Throws io_error with `what`, then ": " and the system's text for `error_number` (an errno).
[[noreturn]] VIGIL_NOINLINE inline void throw_io_error(const std::string& what, int error_number) {
  const std::error_code code(error_number, std::generic_category());
  throw io_error(what + ": " + code.message(), code);
}

}  // namespace detail
}  // namespace vigil

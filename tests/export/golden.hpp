// Whole exports compared byte for byte with the files in tests/export/golden/, so that a
// change of layout in any section of any exporter shows up, not only in the figures the other
// tests look for.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>

#include <fmt/format.h>

#include "vigil/config.hpp"
#include "vigil_test.hpp"

namespace vigil_test {

/// The page footer names the library version; golden pages hold `VERSION` instead, so that a
/// release does not rewrite them.
inline std::string without_version(std::string html) {
  const std::string version =
      fmt::format("vigil {}.{}.{} &middot;", VIGIL_VERSION_MAJOR, VIGIL_VERSION_MINOR, VIGIL_VERSION_PATCH);
  const std::size_t at = html.rfind(version);
  if (at != std::string::npos) html.replace(at, version.size(), "vigil VERSION &middot;");
  return html;
}

/// Checks that `text` equals tests/export/golden/`name` and names the first line that
/// differs. When VIGIL_EXPORT_SAMPLES names a directory, `text` is also written there under
/// `name` (after the comparison), to review a deliberate change of format and copy it here.
inline void check_golden(const std::string& name, const std::string& text) {
  const std::string path = data_path("export/golden/" + name);
  std::ifstream in(path, std::ios::binary);
  const std::string expected((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (const char* dir = std::getenv("VIGIL_EXPORT_SAMPLES"))
    std::ofstream(std::string(dir) + "/" + name, std::ios::binary) << text;
  INFO(path);
  REQUIRE_FALSE(expected.empty());
  const auto differ = std::mismatch(text.begin(), text.end(), expected.begin(), expected.end());
  const auto at = static_cast<std::size_t>(differ.first - text.begin());
  const std::size_t line_start = text.rfind('\n', at == 0 ? 0 : at - 1);
  const std::size_t from = line_start == std::string::npos || at == 0 ? 0 : line_start + 1;
  INFO("first difference at byte " << at << ", line "
                                   << 1 + std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(at), '\n'));
  INFO("written:  " << text.substr(from, text.find('\n', from) - from));
  INFO("expected: " << expected.substr(from, expected.find('\n', from) - from));
  CHECK(text.size() == expected.size());
  CHECK(at == text.size());
}

}  // namespace vigil_test

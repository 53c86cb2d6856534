// vigil — in-process monitoring of machine-learning models in C++ inference servers.
// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstddef>
#include <string_view>

namespace vigil {
namespace detail {

/// The longest prefix of `value` of at most `max_bytes` bytes that does not end inside a
/// UTF-8 sequence: a cut never leaves the first bytes of a multi-byte character behind, so a
/// valid UTF-8 value stays valid in every export. Bytes that are not UTF-8 are cut where they
/// fall, after at most three continuation bytes are given back. O(1).
inline std::string_view cut_value(std::string_view value, std::size_t max_bytes) {
  if (value.size() <= max_bytes) return value;
  std::size_t end = max_bytes;
  // value[end] is the first byte dropped: while it continues a character, so does the cut.
  for (int back = 0; back < 3 && end > 0; ++back) {
    const auto byte = static_cast<unsigned char>(value[end]);
    if ((byte & 0xC0u) != 0x80u) break;
    --end;
  }
  return value.substr(0, end);
}

}  // namespace detail
}  // namespace vigil

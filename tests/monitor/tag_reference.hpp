// A reference file written byte by byte in profile format version 1, so that it can declare
// what the Schema API refuses: a numeric feature "x" with no rows and a tag "host" of any
// max_values.
#pragma once

#include <cstdint>
#include <vector>

#include <vigil/io/binary.hpp>
#include <vigil/monitor/profile.hpp>

namespace vigil_test {

inline std::vector<std::uint8_t> reference_with_tag(std::uint64_t max_values) {
  std::vector<std::uint8_t> bytes;
  vigil::io::Writer w(bytes);
  w.header(vigil::io::TypeId::profile, 1);
  w.varint(1);  // numeric features
  w.string("x");
  w.varint(0);  // categorical features
  w.varint(0);  // outputs
  w.varint(1);  // tags
  w.string("host");
  w.varint(max_values);
  w.u8(0);      // not a cohort
  w.varint(0);  // rows
  vigil::detail::write_blob(w, vigil::TDigest<>(vigil::Profile::digest_compression).serialize());
  vigil::detail::write_blob(w, vigil::RunningStats().serialize());
  w.varint(0);  // missing
  w.varint(0);  // bad
  return bytes;
}

}  // namespace vigil_test

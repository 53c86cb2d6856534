// vigil — in-process monitoring of machine-learning models in C++ inference servers.
// SPDX-License-Identifier: Apache-2.0
//
// Fuzz target: TDigest::from_postgres, the PostgreSQL `tdigest` text format. What it accepts
// must pass the digest's checks and write text that reads back to the same text.
#include <optional>
#include <string>
#include <string_view>

#include "sketch_checks.hpp"

namespace {

/// to_postgres() of a parsed digest is accepted by from_postgres() and stable from then on.
void check_text_round_trip(const vigil::TDigest<>& d) {
  if (d.empty()) return;
  std::string text;
  vigil_fuzz::must_not_throw("to_postgres() of a parsed digest", [&] { text = d.to_postgres(); });
  vigil_fuzz::must_not_throw("from_postgres(to_postgres())", [&] {
    const vigil::TDigest<> again = vigil::TDigest<>::from_postgres(text);
    vigil_fuzz::require(again.count() == d.count(), "from_postgres(to_postgres()) changed count()");
    vigil_fuzz::require(again.to_postgres() == text, "from_postgres -> to_postgres changed the text");
  });
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  std::optional<vigil::TDigest<>> d;
  if (!vigil_fuzz::accepted("TDigest::from_postgres", [&] { d.emplace(vigil::TDigest<>::from_postgres(text)); })) return 0;
  vigil_fuzz::must_not_throw("queries of the parsed digest", [&] { vigil_fuzz::check_state(*d); });
  check_text_round_trip(*d);
  vigil_fuzz::check_use(*d);
  return 0;
}

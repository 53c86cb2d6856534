// vigil — in-process monitoring of machine-learning models in C++ inference servers.
// SPDX-License-Identifier: Apache-2.0
//
// Fuzz target: the reference loader, Profile::deserialize (what Profile::load reads from the
// file), on the input as it is and re-sealed with the checksum of its body (else nearly every
// mutation stops at the CRC-32C). A profile that loads must hold sketches that pass their own
// checks, consistent counts, bytes that read back the same, and it must be able to start a
// monitor.
#include <algorithm>
#include <cstring>
#include <optional>
#include <vector>

#include <vigil/monitor/detail/monitor_families.hpp>
#include <vigil/monitor/profile.hpp>

#include "sketch_checks.hpp"

namespace {

using vigil_fuzz::check_state;
using vigil_fuzz::require;

void check_numeric(const vigil::Profile& p) {
  for (std::uint32_t i = 0; i < p.schema().numeric_count(); ++i) {
    const vigil::NumericFeature f{i};
    const vigil::Profile::Numeric& n = p.numeric(f);
    check_state(n.digest);
    check_state(n.stats);
    require(n.digest.count() == n.stats.count(), "Profile: a feature's digest and moments count differently");
    require(n.missing <= p.rows() && n.bad <= p.rows() - n.missing, "Profile: more missing and bad values than rows");
    const double rate = p.missing_rate(f);
    require(rate >= 0 && rate <= 1, "Profile: a missing rate outside [0, 1]");
  }
}

void check_outputs(const vigil::Profile& p) {
  for (std::uint32_t i = 0; i < p.schema().output_count(); ++i) {
    const vigil::Profile::OutputReference& o = p.output(vigil::Output{i});
    check_state(o.digest);
    check_state(o.stats);
    check_state(o.classes);
    require(o.digest.count() == o.stats.count(), "Profile: an output's digest and moments count differently");
    require(o.missing <= p.rows(), "Profile: more missing scores than rows");
  }
}

void check_profile(const vigil::Profile& p) {
  check_numeric(p);
  for (std::uint32_t i = 0; i < p.schema().categorical_count(); ++i) check_state(p.categorical(vigil::CategoricalFeature{i}).counts);
  check_outputs(p);
  p.check(p.schema());
  const auto plan = vigil::detail::MonitorPlan::make(p.schema(), p, vigil::MonitorOptions{});
  require(plan.memory_bytes() > 0, "Profile: an empty monitor plan");
}

/// Profile has no equality: the bytes of what is read back must be the bytes read.
void check_bytes_round_trip(const vigil::Profile& p) {
  const std::vector<std::uint8_t> bytes = p.serialize();
  const vigil::Profile again = vigil::Profile::deserialize(bytes);
  require(again.serialize() == bytes, "Profile: serialize -> deserialize -> serialize changed the bytes");
}

void fuzz_profile(const std::uint8_t* data, std::size_t size) {
  std::optional<vigil::Profile> p;
  if (!vigil_fuzz::accepted("Profile::deserialize", [&] { p.emplace(vigil::Profile::deserialize(data, size)); })) return;
  vigil_fuzz::must_not_throw("checks of the loaded profile", [&] { check_profile(*p); });
  vigil_fuzz::must_not_throw("profile round trip", [&] { check_bytes_round_trip(*p); });
}

/// The input with its last 4 bytes (a sealed profile's checksum) replaced by the checksum of
/// the rest, so that a mutation of the body reaches the reader instead of stopping at the
/// CRC-32C. Empty when the input does not start with a vigil header.
std::vector<std::uint8_t> resealed(const std::uint8_t* data, std::size_t size) {
  if (size < vigil::io::header_size + vigil::io::trailer_size ||
      std::memcmp(data, vigil::io::magic, sizeof vigil::io::magic) != 0)
    return {};
  std::vector<std::uint8_t> bytes(data, data + size - vigil::io::trailer_size);
  vigil::io::seal(bytes);
  return bytes;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz_profile(data, size);
  const std::vector<std::uint8_t> again = resealed(data, size);
  if (!again.empty() && !std::equal(again.begin(), again.end(), data, data + size)) fuzz_profile(again.data(), again.size());
  return 0;
}

// vigil — in-process monitoring of machine-learning models in C++ inference servers.
// SPDX-License-Identifier: Apache-2.0
//
// Fuzz target: Monitor::restore, a monitor's whole state read back from Monitor::snapshot()'s
// bytes (what Monitor::load reads from a file): on its own, with the schema, profile and
// options the snapshot carries, and into a monitor of the fixed schema, profile and options of
// the seeds (make_seeds.cpp), on the input as it is and re-sealed with the checksum of its
// body (else nearly every mutation stops at the CRC-32C). A monitor that restores must take
// requests, labels and conversions, report, and write a snapshot that restores to the same
// bytes.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include <vigil/monitor/monitor.hpp>

#include "fuzz_checks.hpp"
#include "snapshot_monitor.hpp"

namespace {

using vigil_fuzz::require;
using Bytes = std::vector<std::uint8_t>;

struct Fixed {
  vigil::Schema schema = vigil_fuzz::snapshot_schema();
  vigil::Profile profile = vigil_fuzz::snapshot_profile(schema);
  vigil::MonitorOptions options = vigil_fuzz::snapshot_options();
};

const Fixed& fixed() {
  static const Fixed f;
  return f;
}

// A restored monitor, held by pointer: Monitor neither copies nor moves.
using Held = std::unique_ptr<vigil::Monitor>;

Held restore_on_its_own(const std::uint8_t* data, std::size_t size) {
  try {
    return Held(new vigil::Monitor(vigil::Monitor::restore(data, size)));
  } catch (const vigil::format_error&) {
  } catch (const std::exception& e) {
    vigil_fuzz::unexpected_exception("Monitor::restore(bytes)", typeid(e).name(), e.what());
  } catch (...) {
    vigil_fuzz::unexpected_exception("Monitor::restore(bytes)", "a non-standard exception", "");
  }
  return nullptr;
}

Held restore_into_fixed(const std::uint8_t* data, std::size_t size) {
  Held m;
  vigil_fuzz::accepted("Monitor::restore(bytes, schema, profile, options)", [&] {
    const Fixed& f = fixed();
    m.reset(new vigil::Monitor(vigil::Monitor::restore(data, size, f.schema, f.profile, f.options)));
  });
  return m;
}

// One request of the monitor's schema, whatever it is: every feature, score and tag set.
void fill(vigil::Observation& o, const vigil::Schema& s, int k, double t) {
  o.clear();
  for (std::uint32_t i = 0; i < s.numeric_count(); ++i) o.set(vigil::NumericFeature{i}, k == 2 ? 1e6 : 0.25 * k - 1);
  for (std::uint32_t i = 0; i < s.categorical_count(); ++i)
    o.set(vigil::CategoricalFeature{i}, k == 1 ? "web" : "unseen");
  for (std::uint32_t i = 0; i < s.output_count(); ++i) {
    const vigil::Output out{i};
    o.score(out, 0.3 * k);
    const std::vector<std::string>& classes = s.options(out).classes;
    if (!classes.empty()) o.predicted(out, classes[static_cast<std::size_t>(k) % classes.size()]);
  }
  for (std::uint32_t i = 0; i < s.tag_count(); ++i) o.tag(vigil::Tag{i}, k == 0 ? "a" : "b");
  o.latency(0.01 * (k + 1));
  o.id("fuzz-" + std::to_string(k));
  o.at(t);
}

// Requests in the interval of the monitor's latest time and the next one (so that one closes
// and is evaluated), the last without a counted arrival (a server may count arrivals for some
// requests only, and an arrival can be late where its answer is not), a label and a
// conversion for the first, then report() and report(now).
void exercise(vigil::Monitor& m) {
  const double latest = m.latest_time();
  const double step = m.options().interval;
  const double t = std::isfinite(latest) && std::fabs(latest) < 1e12 ? latest : 1.7e9;
  vigil::Observation o(m.schema());
  for (int k = 0; k < 3; ++k) {
    const double at = t + step * k * 0.6;
    if (k < 2) m.on_arrival(at);
    fill(o, m.schema(), k, at);
    m.observe(o);
  }
  if (m.schema().output_count() > 0) {
    const std::vector<double> attributions(m.schema().numeric_count() + m.schema().categorical_count(), 0.125);
    m.on_label("fuzz-0", 1.0, t + step, attributions);
    m.on_label("fuzz-1", "0", t + step);
  }
  if (!m.options().conversion_arm.empty()) m.on_conversion("fuzz-0", t + step);
  (void)m.report();
  (void)m.report(t + 2 * step);
}

// A monitor that restored: it takes further events and reports; its snapshot then restores,
// on its own and into a monitor of its schema, profile and options, to the same bytes.
void check_restored(vigil::Monitor& m) {
  vigil_fuzz::must_not_throw("snapshot() of the restored monitor", [&] { (void)m.snapshot(); });
  vigil_fuzz::must_not_throw("requests, labels and report() after restore()", [&] { exercise(m); });
  Bytes bytes;
  vigil_fuzz::must_not_throw("snapshot() after further events", [&] { bytes = m.snapshot(); });
  vigil_fuzz::must_not_throw("restore(snapshot()) on its own", [&] {
    vigil::Monitor again = vigil::Monitor::restore(bytes);
    require(again.snapshot() == bytes, "Monitor: snapshot -> restore -> snapshot changed the bytes");
    require(again.observed() == m.observed(), "Monitor: restore(snapshot()) observed another number of requests");
  });
  vigil_fuzz::must_not_throw("restore(snapshot(), schema, profile, options)", [&] {
    vigil::Monitor again = vigil::Monitor::restore(bytes, m.schema(), m.profile(), m.options());
    require(again.snapshot() == bytes,
            "Monitor: snapshot -> restore into its own monitor -> snapshot changed the bytes");
  });
}

void fuzz_snapshot(const std::uint8_t* data, std::size_t size) {
  if (Held m = restore_on_its_own(data, size)) check_restored(*m);
  if (Held m = restore_into_fixed(data, size)) check_restored(*m);
}

// The input with its last 4 bytes (a sealed snapshot's checksum) replaced by the checksum of
// the rest, so that a mutation of the body reaches the reader instead of stopping at the
// CRC-32C. Empty when the input does not start with a vigil header.
Bytes resealed(const std::uint8_t* data, std::size_t size) {
  if (size < vigil::io::header_size + vigil::io::trailer_size ||
      std::memcmp(data, vigil::io::magic, sizeof vigil::io::magic) != 0)
    return {};
  Bytes bytes(data, data + size - vigil::io::trailer_size);
  vigil::io::seal(bytes);
  return bytes;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fixed();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz_snapshot(data, size);
  const Bytes again = resealed(data, size);
  if (!again.empty() && !std::equal(again.begin(), again.end(), data, data + size)) fuzz_snapshot(again.data(), again.size());
  return 0;
}

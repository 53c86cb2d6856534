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

namespace {

using vigil_fuzz::require;
using Bytes = std::vector<std::uint8_t>;

// The seeds' monitor: make_seeds.cpp builds the same (add_monitor_snapshots), and a seed
// restores into this monitor only while the two agree.
vigil::Schema fixed_schema() {
  vigil::Schema s;
  s.add_numeric("x");
  s.add_numeric("y");
  s.add_categorical("channel");
  vigil::OutputOptions binary;
  binary.threshold = 0.5;
  s.add_output("score", binary);
  vigil::TagOptions arm;
  arm.max_values = 2;
  s.add_tag("arm", arm);
  return s;
}

vigil::Profile fixed_profile(const vigil::Schema& schema) {
  static const char* const channels[3] = {"web", "app", "store"};
  vigil::Profile p(schema, 8);
  vigil::Observation row(schema);
  for (int i = 0; i < 24; ++i) {
    row.set(vigil::NumericFeature{0}, (i % 8) * 0.5 - 2).set(vigil::NumericFeature{1}, 1 + (i % 5));
    row.set(vigil::CategoricalFeature{0}, channels[i % 3]).score(vigil::Output{0}, (i % 10) / 10.0);
    p.add(row);
  }
  return p;
}

// Small retention (4 one-minute intervals, 2 of three minutes), 4 bins, a store of 16 labels.
vigil::MonitorOptions fixed_options() {
  vigil::MonitorOptions o;
  o.shards = 1;
  o.fine_intervals = 3;
  o.coarse_interval = 180;
  o.coarse_intervals = 2;
  o.numeric_bins = 4;
  o.clock_change_evidence = 2;
  o.alert_log = 8;
  o.label_capacity = 16;
  o.label_time_to_live = 600;
  o.quality_window = 600;
  o.attribution_background = 600;
  o.conversion_arm = "arm";
  o.label_samples = 2;
  o.canary_top = 2;
  return o;
}

struct Fixed {
  vigil::Schema schema = fixed_schema();
  vigil::Profile profile = fixed_profile(schema);
  vigil::MonitorOptions options = fixed_options();
};

const Fixed& fixed() {
  static const Fixed f;
  return f;
}

// A restored monitor, held by pointer: Monitor neither copies nor moves.
using Held = std::unique_ptr<vigil::Monitor>;

// The snapshot's own schema, profile and options, read as Monitor::restore(bytes) reads them;
// false when restore() would refuse them with format_error before a monitor is built.
bool embedded_frame(const std::uint8_t* data, std::size_t size, vigil::Schema& schema, Bytes& profile,
                    vigil::MonitorOptions& options) {
  try {
    const std::size_t body = vigil::io::unseal(data, size, 1, "monitor snapshot");
    vigil::io::Reader r(data, body, "monitor snapshot");
    std::uint16_t flags = 0;
    r.header(vigil::io::TypeId::monitor_snapshot, vigil::detail::monitor_snapshot_version, flags);
    vigil::detail::SnapshotFrame f = vigil::detail::load_frame(r);
    options = f.monitor_options(r);
    schema = std::move(f.schema);
    profile = std::move(f.profile);
    return true;
  } catch (const vigil::format_error&) {
    return false;
  }
}

// Monitor::restore(bytes) builds a monitor from the schema, profile and options the snapshot
// carries, and the constructor refuses those with vigil::invalid_argument (a profile of
// another schema, options out of range, a conversion arm that is no tag): that refusal is the
// constructor's documented one. Any other invalid_argument comes from reading the state and
// is a finding.
void check_invalid_argument(const std::uint8_t* data, std::size_t size, const char* what) {
  vigil::Schema schema;
  Bytes profile_bytes;
  vigil::MonitorOptions options;
  bool refused = false;
  if (embedded_frame(data, size, schema, profile_bytes, options)) {
    try {
      vigil::Profile profile = vigil::Profile::deserialize(profile_bytes);
      vigil::Monitor fresh(std::move(schema), std::move(profile), options);
    } catch (const vigil::invalid_argument&) {
      refused = true;
    } catch (const std::exception&) {
    }
  }
  if (!refused)
    vigil_fuzz::unexpected_exception("Monitor::restore(bytes)",
                                     "vigil::invalid_argument, not a refusal of the snapshot's own frame", what);
}

Held restore_on_its_own(const std::uint8_t* data, std::size_t size) {
  try {
    return Held(new vigil::Monitor(vigil::Monitor::restore(data, size)));
  } catch (const vigil::format_error&) {
  } catch (const vigil::invalid_argument& e) {
    check_invalid_argument(data, size, e.what());
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

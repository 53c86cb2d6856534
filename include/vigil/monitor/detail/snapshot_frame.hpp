// vigil — in-process monitoring of machine-learning models in C++ inference servers.
// SPDX-License-Identifier: Apache-2.0
//
// What a monitor snapshot says about the monitor it came from, ahead of its state: the
// schema (with its tags and shadow outputs), the profile and every option, so that a snapshot
// restores on its own (vigil report --snapshot, vigil merge) and a restore into another
// monitor is refused with the difference named (docs/formats.md, "Monitor snapshot").
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "vigil/io/binary.hpp"
#include "vigil/monitor/detail/options_codec.hpp"
#include "vigil/monitor/detail/state_codec.hpp"
#include "vigil/monitor/options.hpp"
#include "vigil/monitor/profile.hpp"
#include "vigil/monitor/schema.hpp"

namespace vigil {
namespace detail {

/// The snapshot's format version; a monitor reads versions up to it.
inline constexpr std::uint8_t monitor_snapshot_version = 1;

/// What a snapshot says of the monitor that wrote it.
struct SnapshotFrame {
  std::string version;  // vigil's, for people
  Schema schema;
  std::vector<std::uint8_t> profile;  // Profile::serialize() of the monitor's (compacted) profile
  std::vector<std::pair<std::string, std::string>> options;  // every option_fields() entry, by name

  /// The options written, over the defaults (a field this build does not know is refused).
  MonitorOptions monitor_options(io::Reader& r) const {
    MonitorOptions o;
    for (const auto& [name, value] : options) {
      const OptionField* field = find(name);
      if (field == nullptr) r.fail("unknown option '" + name + "' (written by vigil " + version + ")");
      if (!field->set(o, value)) r.fail("option '" + name + "' has the value '" + value + "'");
    }
    return o;
  }
  static const OptionField* find(const std::string& name) {
    for (const OptionField& f : option_fields())
      if (name == f.name) return &f;
    return nullptr;
  }
};

/// Writes what identifies the monitor: vigil's version, the schema with its tags and roles,
/// the profile and every option.
inline void save_frame(io::Writer& w, const Schema& schema, const Profile& profile, const MonitorOptions& options) {
  w.string(std::to_string(VIGIL_VERSION_MAJOR) + "." + std::to_string(VIGIL_VERSION_MINOR) + "." +
           std::to_string(VIGIL_VERSION_PATCH));
  write_schema(w, schema, true);
  const std::vector<std::uint8_t> p = profile.serialize();
  w.varint(p.size());
  w.bytes(p.data(), p.size());
  w.varint(option_fields().size());
  for (const OptionField& f : option_fields()) {
    w.string(f.name);
    w.string(f.get(options));
  }
}

inline SnapshotFrame load_frame(io::Reader& r) {
  SnapshotFrame f;
  f.version = r.string();
  f.schema = read_schema(r, true);
  const std::size_t n = r.count(1);
  const std::uint8_t* p = r.skip(n);
  f.profile.assign(p, p + n);
  const std::size_t options = r.count(2);
  for (std::size_t i = 0; i < options; ++i) {
    std::string name = r.string();
    f.options.emplace_back(std::move(name), r.string());
  }
  return f;
}

// The first difference between the snapshot's schema and the monitor's, or "".
inline std::string schema_difference(const Schema& written, const Schema& here) {
  const std::vector<std::string> d = written.differences(here);
  if (!d.empty()) return d.front();
  for (std::uint32_t t = 0; t < here.tag_count(); ++t) {
    const TagOptions &a = written.options(Tag{t}), &b = here.options(Tag{t});
    if (a.max_values != b.max_values || a.cohort != b.cohort)
      return "tag '" + here.name(Tag{t}) + "' has max_values " + std::to_string(a.max_values) +
             (a.cohort ? ", a cohort" : "") + " in the snapshot and " + std::to_string(b.max_values) +
             (b.cohort ? ", a cohort" : "") + " here";
  }
  if (!written.same_layout(here)) return "the features, outputs or tags come in another order";
  return "";
}

/// The first difference between the snapshot's schema, profile and shaping options and the
/// monitor's, as a sentence; empty when there is none.
inline std::string frame_difference(const SnapshotFrame& f, const Schema& schema, const Profile& profile,
                                    const MonitorOptions& options) {
  const std::string schema_diff = schema_difference(f.schema, schema);
  if (!schema_diff.empty()) return "the snapshot is of another schema: " + schema_diff;
  const std::vector<std::uint8_t> here = profile.serialize();
  if (here != f.profile) {
    char text[160];
    std::snprintf(text, sizeof text,
                  "the snapshot was taken with another profile (CRC-32C 0x%08X of %zu bytes; this profile: 0x%08X of "
                  "%zu bytes)",
                  static_cast<unsigned>(io::crc32c(f.profile.data(), f.profile.size())), f.profile.size(),
                  static_cast<unsigned>(io::crc32c(here.data(), here.size())), here.size());
    return text;
  }
  for (const auto& [name, value] : f.options) {
    const OptionField* field = SnapshotFrame::find(name);
    if (field == nullptr) return "unknown option '" + name + "' (written by vigil " + f.version + ")";
    const std::string now = field->get(options);
    if (field->shaping && now != value)
      return "MonitorOptions::" + name + " is " + (value.empty() ? "empty" : value) + " in the snapshot and " +
             (now.empty() ? "empty" : now) + " here";
  }
  return "";
}

/// Refuses (Reader::fail) a snapshot of another schema, profile or shaping option than the
/// monitor's, naming the first difference.
inline void check_frame(io::Reader& r, const SnapshotFrame& f, const Schema& schema, const Profile& profile,
                        const MonitorOptions& options) {
  const std::string difference = frame_difference(f, schema, profile, options);
  if (!difference.empty()) r.fail(difference);
}

}  // namespace detail
}  // namespace vigil

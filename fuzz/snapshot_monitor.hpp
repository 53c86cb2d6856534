// vigil — in-process monitoring of machine-learning models in C++ inference servers.
// SPDX-License-Identifier: Apache-2.0
//
// The monitor of the monitor_snapshot target and its seeds (make_seeds.cpp): 2 numeric
// features, a categorical one, a score with a threshold and a tag of 2 values, the arm of
// conversions; retention, bins and the label store small, so that a snapshot is a few KB (the
// options' names and values, the profile and an empty interval summary per slot take most of
// them). A seed restores into the target's fixed monitor because both build it here.
#pragma once

#include <vigil/monitor/options.hpp>
#include <vigil/monitor/profile.hpp>
#include <vigil/monitor/schema.hpp>

namespace vigil_fuzz {

inline vigil::Schema snapshot_schema() {
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

inline vigil::Profile snapshot_profile(const vigil::Schema& schema) {
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

/// The options that shape the state (4 one-minute intervals, 2 of three minutes, 4 bins, a
/// store of 16 labels); the seeds set some that judge on top.
inline vigil::MonitorOptions snapshot_options() {
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

}  // namespace vigil_fuzz

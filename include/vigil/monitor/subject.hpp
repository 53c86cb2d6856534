// vigil — in-process monitoring of machine-learning models in C++ inference servers.
// SPDX-License-Identifier: Apache-2.0
#pragma once

/// \file
/// What an alert is about, as a value: the monitor family that judged it, the thing within
/// the family (a feature, an output, a traffic signal, a tag value), the cohort of requests
/// and whether the judgement is the long-term one. The Monitor finds report entries and
/// alert states by these fields; text is made only for people (to_string, the exports).

#include <cstdint>
#include <string>
#include <tuple>
#include <utility>

namespace vigil {

/// The monitor families: each watches one aspect of the model and its service
/// (docs/concepts.md, "Monitor family"). The values are part of the interval summary's
/// format (docs/formats.md): never renumber, only append.
enum class Family : std::uint8_t {
  features = 0,  // input features against training and against the recent past
  outputs = 1,   // score distributions and predicted classes
  traffic = 2,   // arrivals, completions, errors and timeouts
  latency = 3,   // latency distributions and the tag values of slow requests
  quality = 4,   // late labels joined to their requests, and estimates from the scores
  conversions = 5,  // responses joined to their impressions, compared per arm at a delay
  canary = 6,       // shadow outputs (canary, challengers) compared with their champion request by request
  attribution = 7,  // the labels' loss attributed to the input features
};

inline const char* to_string(Family family) {
  switch (family) {
    case Family::features: return "features";
    case Family::outputs: return "outputs";
    case Family::traffic: return "traffic";
    case Family::latency: return "latency";
    case Family::quality: return "quality";
    case Family::conversions: return "conversions";
    case Family::canary: return "canary";
    case Family::attribution: return "attribution";
  }
  return "unknown";
}

/// The requests a judgement covers: all of them, or those with one value of a cohort tag
/// (vigil::TagOptions::cohort).
struct Cohort {
  /// `tag` of the cohort of every request.
  static constexpr std::uint32_t all = 0xffffffffu;
  std::uint32_t tag = all;  // the tag's index in the Schema, or `all`
  std::uint32_t value = 0;  // the value's id in the Monitor (TagOptions::max_values is "other")
  std::string tag_name;     // for people: "region"
  std::string value_name;   // for people: "eu", or "other"

  bool everyone() const { return tag == all; }
  friend bool operator==(const Cohort& a, const Cohort& b) { return a.tag == b.tag && a.value == b.value; }
  friend bool operator!=(const Cohort& a, const Cohort& b) { return !(a == b); }
  /// Every request first, then by tag and value.
  friend bool operator<(const Cohort& a, const Cohort& b) {
    const auto key = [](const Cohort& c) {
      return std::make_pair(c.everyone() ? std::uint64_t{0} : std::uint64_t{c.tag} + 1, c.value);
    };
    return key(a) < key(b);
  }
};

/// What an alert is about. Two subjects are the same when family, index, cohort and horizon
/// agree; `name` only says for people what `index` designates.
struct Subject {
  Family family = Family::features;
  /// Within the family: the feature (numeric features first, then categorical ones, as in
  /// Report::features), the output, the traffic signal (TrafficSignal), or for latency 0
  /// (all requests) and 1 + the tag value's slot (a tag value the slow requests come from).
  std::uint32_t index = 0;
  std::string name;       // "f07", "score", "arrivals", "requests", "host=h3"
  Cohort cohort;          // every request, or one cohort value
  bool horizon = false;   // the long-term comparison with training (an output's drift)

  friend bool operator==(const Subject& a, const Subject& b) {
    return a.family == b.family && a.index == b.index && a.cohort == b.cohort && a.horizon == b.horizon;
  }
  friend bool operator!=(const Subject& a, const Subject& b) { return !(a == b); }
  friend bool operator<(const Subject& a, const Subject& b) {
    return std::tie(a.cohort, a.family, a.index, a.horizon) < std::tie(b.cohort, b.family, b.index, b.horizon);
  }
};

/// The subject as people read it, and as alerts.jsonl writes it: the name, prefixed by the
/// cohort ("region=eu: income") and followed by " (horizon)" for a long-term judgement.
inline std::string to_string(const Subject& s) {
  std::string text;
  if (!s.cohort.everyone()) text = s.cohort.tag_name + "=" + s.cohort.value_name + ": ";
  text += s.name;
  if (s.horizon) text += " (horizon)";
  return text;
}

}  // namespace vigil

// vigil — in-process monitoring of machine-learning models in C++ inference servers.
// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "vigil/monitor/alerts.hpp"

namespace vigil {
namespace detail {

/// The alert state machine per (kind, subject): persistence to open, recovery to close,
/// cool-down against flapping. Each transition is reported exactly once, numbered from 1
/// (Alert::sequence).
class AlertTracker {
 public:
  explicit AlertTracker(AlertPolicy policy = {}) : policy_(policy) { policy_.validate(); }

  /// Feeds one evaluated interval ending at `time`: `evidence` lists what was seen; every
  /// other tracked key counts as clean. Returns the transitions, in a stable order.
  std::vector<Alert> update(double time, const std::vector<Evidence>& evidence) {
    std::vector<Alert> out;
    for (auto& [key, state] : states_) state.seen_this_round = false;
    for (const Evidence& e : evidence) {
      State& s = states_[Key{e.kind, e.subject}];
      s.seen_this_round = true;
      s.last = e;
    }
    const std::uint64_t mask = policy_.window >= 64 ? ~0ull : ((1ull << policy_.window) - 1);
    for (auto it = states_.begin(); it != states_.end();) {
      State& s = it->second;
      s.history = ((s.history << 1) | (s.seen_this_round ? 1u : 0u)) & mask;
      if (s.seen_this_round) {
        s.clean_streak = 0;
        if (s.last.severity == Severity::alert) s.alert_hits = ((s.alert_hits << 1) | 1u) & mask;
        else s.alert_hits = (s.alert_hits << 1) & mask;
      } else {
        ++s.clean_streak;
        s.alert_hits = (s.alert_hits << 1) & mask;
      }
      const int hits = popcount(s.history);
      const int needed = s.seen_this_round && s.last.immediate ? 1 : policy_.persistence;
      if (!s.open) {
        const bool cooled = time - s.closed_at >= policy_.cool_down;  // closed_at starts at -inf
        if (hits >= needed && s.seen_this_round && cooled) {
          s.open = true;
          s.severity = popcount(s.alert_hits) >= needed ? Severity::alert : Severity::warn;
          out.push_back(transition(time, s, Alert::Transition::raised));
        }
      } else if (s.seen_this_round && s.severity == Severity::warn && popcount(s.alert_hits) >= needed) {
        s.severity = Severity::alert;
        out.push_back(transition(time, s, Alert::Transition::escalated));
      } else if (s.clean_streak >= policy_.recovery) {
        s.open = false;
        s.closed_at = time;
        out.push_back(transition(time, s, Alert::Transition::resolved));
      }
      // Forget keys that are closed, clean and cooled down, so the map stays bounded by
      // what is currently happening.
      if (!s.open && s.history == 0 && time - s.closed_at >= policy_.cool_down) {
        it = states_.erase(it);
      } else {
        ++it;
      }
    }
    return out;
  }

  /// Feeds evidence seen between interval evaluations (a silence noticed at report time)
  /// that opens or escalates an alert at once; other keys, and this key's history, are left
  /// for the next update(). Returns the transitions.
  std::vector<Alert> raise_now(double time, const Evidence& e) {
    std::vector<Alert> out;
    State& s = states_[Key{e.kind, e.subject}];
    s.last = e;
    if (!s.open) {
      if (time - s.closed_at < policy_.cool_down) return out;
      s.open = true;
      s.clean_streak = 0;
      s.severity = e.severity;
      out.push_back(transition(time, s, Alert::Transition::raised));
    } else {
      // Still silent: the alert stays open however the interval counts read meanwhile.
      s.clean_streak = 0;
      if (s.severity == Severity::warn && e.severity == Severity::alert) {
        s.severity = Severity::alert;
        out.push_back(transition(time, s, Alert::Transition::escalated));
      }
    }
    s.history |= 1u;
    return out;
  }

  /// Alerts currently open, as last raised or escalated (message and figures of the latest
  /// evidence, the sequence number of the transition that raised or escalated them).
  std::vector<Alert> open_alerts(double time) const {
    std::vector<Alert> out;
    for (const auto& [key, s] : states_) {
      if (!s.open) continue;
      out.push_back(make(time, s, Alert::Transition::raised));
      out.back().sequence = s.sequence;
    }
    return out;
  }
  /// The number of the latest transition (0 before the first).
  std::uint64_t last_sequence() const { return sequence_; }

  const AlertPolicy& policy() const { return policy_; }

 private:
  // Alerts are told apart by kind and subject; transitions of one interval come in the
  // order people read them: by kind, then by the subject's text.
  struct Key {
    AlertKind kind;
    Subject subject;
    std::string text;  // to_string(subject)
    Key(AlertKind k, const Subject& s) : kind(k), subject(s), text(to_string(s)) {}
    friend bool operator<(const Key& a, const Key& b) {
      if (a.kind != b.kind) return a.kind < b.kind;
      if (a.text != b.text) return a.text < b.text;
      return a.subject < b.subject;
    }
  };
  struct State {
    std::uint64_t history = 0;     // bit i: evidence i intervals ago
    std::uint64_t alert_hits = 0;  // bit i: evidence of severity alert i intervals ago
    int clean_streak = 0;
    bool open = false;
    bool seen_this_round = false;
    Severity severity = Severity::warn;
    double closed_at = -std::numeric_limits<double>::infinity();
    std::uint64_t sequence = 0;  // of the transition that last raised or escalated it
    Evidence last{AlertKind::feature_drift, Subject{}, Severity::warn, 0, 0, ""};
  };
  static int popcount(std::uint64_t v) {
    int n = 0;
    for (; v; v &= v - 1) ++n;
    return n;
  }
  // A transition of `s`, numbered.
  Alert transition(double time, State& s, Alert::Transition t) {
    Alert a = make(time, s, t);
    a.sequence = ++sequence_;
    if (t != Alert::Transition::resolved) s.sequence = a.sequence;
    return a;
  }
  static Alert make(double time, const State& s, Alert::Transition t) {
    Alert a;
    a.time = time;
    a.kind = s.last.kind;
    a.subject = s.last.subject;
    a.severity = s.severity;
    a.statistic = s.last.statistic;
    a.p_value = s.last.p_value;
    a.message = t == Alert::Transition::resolved
                    ? "Resolved: no evidence in the last " + std::to_string(s.clean_streak) +
                          " intervals. Last evidence: " + s.last.message
                    : s.last.message;
    a.transition = t;
    return a;
  }

  AlertPolicy policy_;
  std::map<Key, State> states_;
  std::uint64_t sequence_ = 0;  // transitions so far
};

}  // namespace detail
}  // namespace vigil

// vigil — in-process monitoring of machine-learning models in C++ inference servers.
// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <algorithm>
#include <utility>
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
  /// other tracked key counts as clean. Returns the transitions in the order people read
  /// them — by kind, then by the subject's text — numbered in that order.
  std::vector<Alert> update(double time, const std::vector<Evidence>& evidence) {
    for (auto& [key, state] : states_) state.seen_this_round = false;
    for (const Evidence& e : evidence) {
      State& s = states_[Key{e.kind, e.subject}];
      s.seen_this_round = true;
      s.last = e;
    }
    std::vector<State*> changed;
    for (auto it = states_.begin(); it != states_.end();) {
      State& s = it->second;
      if (step(time, s)) changed.push_back(&s);
      // Forget keys that are closed, clean and cooled down, so the map stays bounded by
      // what is currently happening.
      if (!s.open && s.history == 0 && time - s.closed_at >= policy_.cool_down && !s.pending) {
        it = states_.erase(it);
      } else {
        ++it;
      }
    }
    return number(time, changed);
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
  /// evidence, the sequence number of the transition that raised or escalated them), by kind
  /// and subject text.
  std::vector<Alert> open_alerts(double time) const {
    std::vector<std::pair<std::string, Alert>> open;
    for (const auto& [key, s] : states_) {
      if (!s.open) continue;
      open.emplace_back(to_string(key.subject), make(time, s, Alert::Transition::raised));
      open.back().second.sequence = s.sequence;
    }
    std::stable_sort(open.begin(), open.end(), [](const auto& a, const auto& b) {
      return a.second.kind != b.second.kind ? a.second.kind < b.second.kind : a.first < b.first;
    });
    std::vector<Alert> out;
    for (auto& [text, alert] : open) out.push_back(std::move(alert));
    return out;
  }
  /// Bytes of the alert states (a bound: the number of subjects with recent evidence).
  std::size_t memory_bytes() const {
    std::size_t bytes = sizeof(*this);
    for (const auto& [key, s] : states_)
      bytes += sizeof(key) + sizeof(s) + 64 + key.subject.name.capacity() + s.last.message.capacity() +
               s.last.subject.name.capacity();  // 64: a map node's links
    return bytes;
  }

  const AlertPolicy& policy() const { return policy_; }

 private:
  // Alerts are told apart by kind and subject.
  struct Key {
    AlertKind kind;
    Subject subject;
    friend bool operator<(const Key& a, const Key& b) {
      return a.kind != b.kind ? a.kind < b.kind : a.subject < b.subject;
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
    std::optional<Alert::Transition> pending;  // due in this update
    Evidence last{AlertKind::feature_drift, Subject{}, Severity::warn, 0, 0, ""};
  };
  // One interval of state `s`: its evidence (or not) shifted into its history, then whether it
  // opens, escalates or resolves. Returns whether a transition is due (s.pending says which).
  bool step(double time, State& s) {
    const std::uint64_t mask = policy_.window >= 64 ? ~0ull : ((1ull << policy_.window) - 1);
    s.history = ((s.history << 1) | (s.seen_this_round ? 1u : 0u)) & mask;
    const bool alert_seen = s.seen_this_round && s.last.severity == Severity::alert;
    s.alert_hits = ((s.alert_hits << 1) | (alert_seen ? 1u : 0u)) & mask;
    s.clean_streak = s.seen_this_round ? 0 : s.clean_streak + 1;
    const int needed = s.seen_this_round && s.last.immediate ? 1 : policy_.persistence;
    if (!s.open) {
      const bool cooled = time - s.closed_at >= policy_.cool_down;  // closed_at starts at -inf
      if (popcount(s.history) >= needed && s.seen_this_round && cooled) {
        s.open = true;
        s.severity = popcount(s.alert_hits) >= needed ? Severity::alert : Severity::warn;
        s.pending = Alert::Transition::raised;
      }
    } else if (s.seen_this_round && s.severity == Severity::warn && popcount(s.alert_hits) >= needed) {
      s.severity = Severity::alert;
      s.pending = Alert::Transition::escalated;
    } else if (s.clean_streak >= policy_.recovery) {
      s.open = false;
      s.closed_at = time;
      s.pending = Alert::Transition::resolved;
    }
    return s.pending.has_value();
  }
  // The due transitions of `changed`, ordered by kind and subject text, numbered.
  std::vector<Alert> number(double time, std::vector<State*>& changed) {
    std::vector<std::pair<std::string, State*>> order;
    for (State* s : changed) order.emplace_back(to_string(s->last.subject), s);
    std::stable_sort(order.begin(), order.end(), [](const auto& a, const auto& b) {
      return a.second->last.kind != b.second->last.kind ? a.second->last.kind < b.second->last.kind : a.first < b.first;
    });
    std::vector<Alert> out;
    for (auto& [text, s] : order) {
      out.push_back(transition(time, *s, *s->pending));
      s->pending.reset();
    }
    return out;
  }
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

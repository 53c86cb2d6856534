// vigil — in-process monitoring of machine-learning models in C++ inference servers.
// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <algorithm>
#include <utility>
#include <string>
#include <vector>

#include "vigil/io/binary.hpp"
#include "vigil/monitor/alerts.hpp"
#include "vigil/monitor/detail/state_codec.hpp"

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

  /// Writes the transitions numbered so far, then every tracked state in key order: its
  /// kind and subject, its history of evidence and of evidence of severity alert (a bit per
  /// interval), its clean streak, whether it is open and at which severity, when it last
  /// closed, the number of the transition that last raised or escalated it, and its latest
  /// evidence (subject, severity, figures, message, whether immediate).
  void save(io::Writer& w) const;
  /// Reads save()'s output into a tracker constructed with the same policy; it then makes
  /// the same transitions, numbered alike, as the saved one would. Throws vigil::format_error
  /// (through `r`) for states out of key order or twice, histories longer than the policy's
  /// window, evidence of severity alert in an interval without evidence, an unknown kind,
  /// family or severity, latest evidence about another subject than its state's, a closing
  /// time that is NaN or +inf, or a transition number beyond those made. On a throw the
  /// tracker is left as it was.
  void load(io::Reader& r);

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

  void save_state(io::Writer& w, const Key& key, const State& s) const;
  State load_state(io::Reader& r, const Key& key) const;

  AlertPolicy policy_;
  std::map<Key, State> states_;
  std::uint64_t sequence_ = 0;  // transitions so far
};

inline void AlertTracker::save(io::Writer& w) const {
  w.varint(sequence_);
  w.varint(states_.size());
  for (const auto& [key, s] : states_) save_state(w, key, s);
}

inline void AlertTracker::save_state(io::Writer& w, const Key& key, const State& s) const {
  save_enum(w, key.kind);
  save_subject(w, key.subject);
  w.u64(s.history);
  w.u64(s.alert_hits);
  w.varint(static_cast<std::uint64_t>(s.clean_streak));
  save_bool(w, s.open);
  save_enum(w, s.severity);
  w.f64(s.closed_at);
  w.varint(s.sequence);
  save_subject(w, s.last.subject);
  save_enum(w, s.last.severity);
  w.f64(s.last.statistic);
  w.f64(s.last.p_value);
  w.string(s.last.message);
  save_bool(w, s.last.immediate);
}

inline void AlertTracker::load(io::Reader& r) {
  const std::uint64_t sequence = r.varint();
  // A state takes at least 64 bytes: kind, two subjects, histories, closing time, figures.
  const std::size_t n = r.count(64);
  std::map<Key, State> states;
  for (std::size_t i = 0; i < n; ++i) {
    Key key{load_enum(r, AlertKind::attribution, "alert kind"), load_subject(r)};
    if (!states.empty() && !(states.rbegin()->first < key)) r.fail("alert states are out of order or repeated");
    State s = load_state(r, key);
    if (s.sequence > sequence)
      r.fail("an alert state was raised by transition " + std::to_string(s.sequence) + " of " + std::to_string(sequence));
    states.emplace_hint(states.end(), std::move(key), std::move(s));
  }
  states_ = std::move(states);
  sequence_ = sequence;
}

inline AlertTracker::State AlertTracker::load_state(io::Reader& r, const Key& key) const {
  const auto severity = [&r](const char* what) {
    const std::uint8_t v = r.u8();
    if (v != static_cast<std::uint8_t>(Severity::warn) && v != static_cast<std::uint8_t>(Severity::alert))
      r.fail(std::string(what) + " " + std::to_string(v) + " is neither warn nor alert");
    return static_cast<Severity>(v);
  };
  State s;
  s.history = r.u64();
  s.alert_hits = r.u64();
  const std::uint64_t mask = policy_.window >= 64 ? ~0ull : ((1ull << policy_.window) - 1);
  if ((s.history & ~mask) != 0 || (s.alert_hits & ~s.history) != 0)
    r.fail("an alert's history is longer than the window, or has alert evidence in an interval without evidence");
  const std::uint64_t streak = r.varint();
  if (streak > static_cast<std::uint64_t>(std::numeric_limits<int>::max())) r.fail("an alert's clean streak is out of range");
  s.clean_streak = static_cast<int>(streak);
  s.open = load_bool(r, "alert open");
  s.severity = severity("alert severity");
  s.closed_at = r.f64();
  if (std::isnan(s.closed_at) || s.closed_at == std::numeric_limits<double>::infinity())
    r.fail("an alert closed at " + to_text(s.closed_at));
  s.sequence = r.varint();
  if (s.open && s.sequence == 0) r.fail("an open alert was raised by no transition");
  Subject subject = load_subject(r);
  if (subject != key.subject) r.fail("an alert's latest evidence is about another subject");
  const Severity evidence_severity = severity("evidence severity");
  const double statistic = r.f64();
  const double p_value = r.f64();
  s.last = Evidence{key.kind, std::move(subject), evidence_severity, statistic, p_value, r.string()};
  s.last.immediate = load_bool(r, "evidence immediate");
  return s;
}

}  // namespace detail
}  // namespace vigil

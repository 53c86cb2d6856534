#include <vigil/monitor/detail/alert_tracker.hpp>

#include <string>
#include <vector>

#include "vigil_test.hpp"

namespace {
using vigil::Alert;
using vigil::AlertKind;
using vigil::Evidence;
using vigil::Severity;

// A feature's subject: "x" is feature 0, "y" feature 1.
vigil::Subject feature(const std::string& name) {
  return vigil::Subject{vigil::Family::features, name == "x" ? 0u : 1u, name, vigil::Cohort{}, false};
}

Evidence evidence(Severity severity = Severity::warn, const std::string& subject = "x") {
  return Evidence{AlertKind::feature_shift, feature(subject), severity, 0.3, 1e-5, "x moved"};
}

// Feeds `pattern` (one character per interval: '.' nothing, 'w' warn, 'a' alert evidence)
// and returns "minute:transition" for every transition.
std::vector<std::string> feed(vigil::detail::AlertTracker& tracker, const std::string& pattern) {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    std::vector<Evidence> seen;
    if (pattern[i] != '.') seen.push_back(evidence(pattern[i] == 'a' ? Severity::alert : Severity::warn));
    for (const Alert& a : tracker.update(60.0 * static_cast<double>(i), seen))
      out.push_back(std::to_string(i) + ":" + vigil::to_string(a.transition) + ":" + vigil::to_string(a.severity));
  }
  return out;
}
}  // namespace

TEST_CASE("AlertTracker: nothing seen, nothing raised", "[alerts]") {
  vigil::detail::AlertTracker tracker;
  CHECK(feed(tracker, "..........").empty());
  CHECK(tracker.open_alerts(0).empty());
}

TEST_CASE("AlertTracker: one interval of evidence is not enough", "[alerts]") {
  vigil::detail::AlertTracker tracker;
  CHECK(feed(tracker, ".w...w...w..").empty());  // never 2 of 3
}

TEST_CASE("AlertTracker: persistence opens once, recovery closes, cool-down holds", "[alerts]") {
  vigil::AlertPolicy policy;  // 2 of 3, recovery 5, cool-down 30 min
  vigil::detail::AlertTracker tracker(policy);
  const auto t = feed(tracker, "ww.ww.w.....ww");
  // Opens at the second evidence, stays open through the gaps (no re-firing), closes after
  // five clean intervals; the new evidence 1 minute later is within the cool-down.
  REQUIRE(t.size() == 2);
  CHECK(t[0] == "1:raised:warn");
  CHECK(t[1] == "11:resolved:warn");
  // After the cool-down the same evidence raises again.
  vigil::detail::AlertTracker again(policy);
  const auto u = feed(again, "ww" + std::string(5, '.') + std::string(30, '.') + "ww");
  REQUIRE(u.size() == 3);
  CHECK(u[2] == "38:raised:warn");
}

TEST_CASE("AlertTracker: escalation is reported once", "[alerts]") {
  vigil::detail::AlertTracker tracker;
  const auto t = feed(tracker, "wwaaaaa");
  REQUIRE(t.size() == 2);
  CHECK(t[0] == "1:raised:warn");
  CHECK(t[1] == "3:escalated:alert");
  REQUIRE(tracker.open_alerts(0).size() == 1);
  CHECK(tracker.open_alerts(0)[0].severity == Severity::alert);
}

TEST_CASE("AlertTracker: subjects are independent", "[alerts]") {
  vigil::detail::AlertTracker tracker;
  std::vector<Alert> all;
  for (int i = 0; i < 3; ++i) {
    auto out = tracker.update(i * 60.0, {evidence(Severity::warn, "x"), evidence(Severity::alert, "y")});
    all.insert(all.end(), out.begin(), out.end());
  }
  REQUIRE(all.size() == 2);
  CHECK(all[0].subject == feature("x"));
  CHECK(all[1].subject == feature("y"));
  CHECK(all[1].severity == Severity::alert);
  CHECK(all[0].message == "x moved");
}

TEST_CASE("AlertPolicy: bad input", "[alerts]") {
  vigil::AlertPolicy p;
  p.persistence = 0;
  CHECK_THROWS_AS(vigil::detail::AlertTracker(p), vigil::invalid_argument);
  p = {};
  p.window = 65;
  CHECK_THROWS_AS(vigil::detail::AlertTracker(p), vigil::invalid_argument);
  p = {};
  p.p_value = 1.5;
  CHECK_THROWS_WITH(vigil::detail::AlertTracker(p), Catch::Contains("1.5"));
  p = {};
  p.cool_down = -1;
  CHECK_THROWS_AS(vigil::detail::AlertTracker(p), vigil::invalid_argument);
}

TEST_CASE("AlertTracker: transitions are numbered in the order people read them, by kind and subject text",
          "[alerts]") {
  vigil::detail::AlertTracker tracker;
  // Feature 0 is named "b" and feature 1 "a": text order differs from index order.
  const vigil::Subject b{vigil::Family::features, 0, "b", vigil::Cohort{}, false};
  const vigil::Subject a{vigil::Family::features, 1, "a", vigil::Cohort{}, false};
  const auto seen = [&](const vigil::Subject& s, AlertKind kind) {
    return Evidence{kind, s, Severity::warn, 0.3, 1e-5, vigil::to_string(s) + " moved"};
  };
  const std::vector<Evidence> round = {seen(b, AlertKind::feature_shift), seen(a, AlertKind::feature_shift),
                                       seen(b, AlertKind::feature_drift)};
  tracker.update(0, round);
  const auto raised = tracker.update(60, round);
  REQUIRE(raised.size() == 3);
  CHECK(raised[0].kind == AlertKind::feature_drift);  // kinds in their declared order first
  CHECK(raised[1].subject == a);                      // then "a" before "b"
  CHECK(raised[2].subject == b);
  for (std::size_t i = 0; i < raised.size(); ++i) CHECK(raised[i].sequence == i + 1);
  const auto open = tracker.open_alerts(60);
  REQUIRE(open.size() == 3);
  CHECK(open[1].subject == a);
  CHECK(open[1].sequence == 2);
  CHECK(open[2].sequence == 3);
}

TEST_CASE("AlertTracker: without a cool-down, a resolved alert is reported and then forgotten", "[alerts]") {
  vigil::AlertPolicy policy;
  policy.cool_down = 0;
  vigil::detail::AlertTracker tracker(policy);
  const auto t = feed(tracker, "ww.....w");
  // Raised at 1, resolved after 5 clean intervals at 6; the state then goes (its history is
  // clean), and one interval of evidence is not enough to raise it again.
  CHECK(t == std::vector<std::string>{"1:raised:warn", "6:resolved:warn"});
  CHECK(tracker.open_alerts(480).empty());
}

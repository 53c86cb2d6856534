#include <vigil/monitor/detail/event_time.hpp>

#include <cmath>
#include <limits>
#include <vector>

#include "vigil_test.hpp"

namespace {

using vigil::EventClock;
using vigil::detail::EventTimeGuard;

vigil::MonitorOptions with_clock(EventClock clock) {
  vigil::MonitorOptions o;
  o.event_clock = clock;
  o.future_tolerance = 1000;
  o.clock_skew = 10;
  o.clock_change_evidence = 3;
  return o;
}

constexpr double no_interval_yet = std::numeric_limits<double>::quiet_NaN();
constexpr double inf = std::numeric_limits<double>::infinity();

}  // namespace

TEST_CASE("EventTimeGuard: before any event", "[event_time]") {
  const EventTimeGuard automatic(with_clock(EventClock::automatic));
  const EventTimeGuard stream(with_clock(EventClock::stream));
  const EventTimeGuard wall(with_clock(EventClock::wall));
  // The first event of a replay starts its stream; a live monitor knows the wall clock.
  CHECK(automatic.bound(5000, no_interval_yet) == inf);
  CHECK(stream.bound(5000, no_interval_yet) == inf);
  CHECK(wall.bound(5000, no_interval_yet) == 5010);
  CHECK_FALSE(automatic.holding());
  CHECK(automatic.future() == 0);
  CHECK(automatic.clock_changes() == 0);
  CHECK(automatic.future_in(0) == 0);
}

TEST_CASE("EventTimeGuard: the reference clock", "[event_time]") {
  const EventTimeGuard automatic(with_clock(EventClock::automatic));
  // Live: the stream keeps up with the wall clock, which is the reference.
  CHECK(automatic.bound(5000, 5000) == 5010);
  CHECK(automatic.bound(5000, 4000) == 5010);  // 1000 s behind: a quiet server, still live
  CHECK(automatic.bound(5000, 5010) == 5010);
  // A replay: the stream lies far behind (or ahead of) the wall clock, and is the reference.
  CHECK(automatic.bound(5000, 3999) == 4999);
  CHECK(automatic.bound(5000, 5011) == 6011);
  CHECK(automatic.bound(1e9, 100) == 1100);
  const EventTimeGuard stream(with_clock(EventClock::stream));
  CHECK(stream.bound(5000, 5000) == 6000);
  const EventTimeGuard wall(with_clock(EventClock::wall));
  CHECK(wall.bound(5000, 100) == 5010);
}

TEST_CASE("EventTimeGuard: held events are refused when contradicted, adopted on evidence", "[event_time]") {
  EventTimeGuard guard(with_clock(EventClock::stream));
  vigil::Schema schema;
  const auto x = schema.add_numeric("x");
  vigil::Observation o(schema);
  o.set(x, 1.5);
  // Two events far ahead, then an event within the bound: both refused, counted in interval 7.
  CHECK_FALSE(guard.hold(1e6, &o, 7));
  CHECK_FALSE(guard.hold(1e6 + 5, nullptr, 7));
  CHECK(guard.holding());
  CHECK(guard.future() == 0);  // held, not refused yet
  guard.refuse_held(7);
  CHECK_FALSE(guard.holding());
  CHECK(guard.future() == 2);
  CHECK(guard.future_in(7) == 2);
  CHECK(guard.future_in(8) == 0);
  // An event inconsistent with those held (beyond future_tolerance of them) refuses them.
  CHECK_FALSE(guard.hold(2e6, &o, 8));
  CHECK_FALSE(guard.hold(3e6, &o, 8));
  CHECK(guard.future() == 3);
  CHECK(guard.future_in(8) == 1);
  // Three consistent events in a row are the evidence: adopted, in the order they came.
  CHECK_FALSE(guard.hold(3e6 + 100, nullptr, 8));
  CHECK(guard.hold(3e6 + 50, &o, 8));
  const std::vector<vigil::detail::HeldEvent> held = guard.adopt(0);
  REQUIRE(held.size() == 3);
  CHECK(held[0].time == 3e6);
  CHECK(held[1].time == 3e6 + 100);
  CHECK(held[1].request == nullptr);  // an arrival
  REQUIRE(held[2].request != nullptr);
  CHECK(held[2].request->value(x) == 1.5);
  CHECK_FALSE(guard.holding());
  CHECK(guard.clock_changes() == 1);
  CHECK(guard.future() == 3);
  // Per-interval counts are kept for 64 intervals.
  guard.hold(1e7, nullptr, 8 + 64);
  guard.refuse_held(8 + 64);
  CHECK(guard.future_in(8) == 0);
  CHECK(guard.future_in(72) == 1);
}

TEST_CASE("EventTimeGuard: automatic, a change adopted ahead of the wall clock makes the stream the reference",
          "[event_time]") {
  EventTimeGuard guard(with_clock(EventClock::automatic));
  CHECK(guard.bound(5000, 5000) == 5010);  // live
  CHECK_FALSE(guard.hold(6000, nullptr, 0));
  CHECK_FALSE(guard.hold(6001, nullptr, 0));
  CHECK(guard.hold(6002, nullptr, 0));
  guard.adopt(5000);
  CHECK(guard.bound(5000, 6060) == 7060);
  CHECK(guard.bound(6060, 6060) == 7060);  // even once the wall clock catches up
}

TEST_CASE("EventTimeGuard: against the wall clock, an adopted change offsets it", "[event_time]") {
  EventTimeGuard guard(with_clock(EventClock::wall));
  CHECK_FALSE(guard.hold(8000, nullptr, 0));
  CHECK_FALSE(guard.hold(8001, nullptr, 0));
  CHECK(guard.hold(8002, nullptr, 0));
  guard.adopt(5000);
  CHECK(guard.bound(5000, 8002) == 8012);
  CHECK(guard.bound(5100, 8002) == 8112);
}

TEST_CASE("event_time_evidence: warn, alert from 5 x bad_value_share, nothing without refusals", "[event_time]") {
  const vigil::AlertPolicy policy;
  std::vector<vigil::Evidence> out;
  vigil::detail::event_time_evidence(0, 300, policy, out);
  CHECK(out.empty());
  vigil::detail::event_time_evidence(1, 299, policy, out);
  REQUIRE(out.size() == 1);
  CHECK(out[0].kind == vigil::AlertKind::schema);
  CHECK(out[0].severity == vigil::Severity::warn);
  CHECK(out[0].statistic == 1);
  CHECK(std::isnan(out[0].p_value));
  CHECK(out[0].subject.family == vigil::Family::traffic);
  CHECK(vigil::to_string(out[0].subject) == "event_time");
  CHECK_FALSE(out[0].immediate);
  vigil::detail::event_time_evidence(5, 95, policy, out);
  REQUIRE(out.size() == 2);
  CHECK(out[1].severity == vigil::Severity::alert);
  CHECK(out[1].message.find("5 events were") != std::string::npos);
}

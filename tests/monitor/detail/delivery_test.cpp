#include <vigil/monitor/detail/delivery.hpp>

#include <atomic>
#include <stdexcept>
#include <thread>
#include <string>
#include <vector>

#include "vigil_test.hpp"

namespace {

vigil::Alert numbered(std::uint64_t sequence) {
  vigil::Alert a;
  a.sequence = sequence;
  return a;
}

}  // namespace

TEST_CASE("Delivery: nothing queued, nothing called", "[delivery]") {
  vigil::detail::Delivery d;
  int calls = 0;
  d.on_alert([&](const vigil::Alert&) { ++calls; });
  d.deliver();
  CHECK(calls == 0);
  CHECK_FALSE(d.wants_intervals());
}

TEST_CASE("Delivery: events in the order queued, what a callback queues comes after it", "[delivery]") {
  vigil::detail::Delivery d;
  std::vector<std::string> seen;
  d.on_interval([&](const vigil::Report& r) { seen.push_back("interval " + std::to_string(r.recent_requests)); });
  CHECK(d.wants_intervals());
  d.on_alert([&](const vigil::Alert& a) {
    seen.push_back("alert " + std::to_string(a.sequence));
    if (a.sequence == 1) {
      // A nested evaluation queues and delivers: the outer loop delivers it, in order.
      d.queue(numbered(3));
      d.deliver();
      seen.push_back("back in 1");
    }
  });
  vigil::Report r;
  r.recent_requests = 7;
  d.queue(r);
  d.queue(numbered(1));
  d.queue(numbered(2));
  d.deliver();
  CHECK(seen == std::vector<std::string>{"interval 7", "alert 1", "back in 1", "alert 2", "alert 3"});
}

TEST_CASE("Delivery: a callback that throws keeps no other callback from any event", "[delivery]") {
  vigil::detail::Delivery d;
  std::vector<std::uint64_t> first, second;
  d.on_alert([&](const vigil::Alert& a) {
    first.push_back(a.sequence);
    if (a.sequence == 1) throw std::runtime_error("callback failed");
  });
  d.on_alert([&](const vigil::Alert& a) { second.push_back(a.sequence); });
  d.queue(numbered(1));
  d.queue(numbered(2));
  CHECK_THROWS_WITH(d.deliver(), "callback failed");
  CHECK(first == std::vector<std::uint64_t>{1, 2});
  CHECK(second == std::vector<std::uint64_t>{1, 2});
  d.queue(numbered(3));
  d.deliver();  // delivering again works: the failed delivery left nothing behind
  CHECK(second == std::vector<std::uint64_t>{1, 2, 3});
}

TEST_CASE("Delivery: what another thread queues during a delivery is delivered by it, in order",
          "[delivery][concurrency]") {
  vigil::detail::Delivery d;
  std::vector<std::uint64_t> seen;
  std::atomic<bool> inside{false};
  std::atomic<bool> queued{false};
  d.on_alert([&](const vigil::Alert& a) {
    seen.push_back(a.sequence);
    if (a.sequence != 1) return;
    inside = true;
    while (!queued) std::this_thread::yield();  // the other thread queues meanwhile
  });
  d.queue(numbered(1));
  std::thread other([&] {
    while (!inside) std::this_thread::yield();
    d.queue(numbered(2));
    d.deliver();  // a delivery is under way: it returns, leaving 2 to it
    queued = true;
  });
  d.deliver();
  other.join();
  CHECK(seen == std::vector<std::uint64_t>{1, 2});
}

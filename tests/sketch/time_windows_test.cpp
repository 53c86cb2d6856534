#include <vigil/sketch/time_windows.hpp>

#include <vigil/sketch/category_counts.hpp>
#include <vigil/sketch/log_histogram.hpp>
#include <vigil/sketch/rolling.hpp>
#include <vigil/sketch/tdigest.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "vigil_test.hpp"

namespace {

struct Event {
  double time;
  double value;
};

// Events in [t0, t1), directly.
std::vector<double> values_in(const std::vector<Event>& events, double t0, double t1) {
  std::vector<double> out;
  for (const Event& e : events)
    if (e.time >= t0 && e.time < t1) out.push_back(e.value);
  return out;
}

void check_same(const vigil::RunningStats& got, const std::vector<double>& want) {
  vigil::RunningStats direct;
  for (double x : want) direct.add(x);
  REQUIRE(got.count() == direct.count());
  if (want.empty()) return;
  CHECK(got.min() == direct.min());
  CHECK(got.max() == direct.max());
  CHECK(got.mean() == Approx(direct.mean()).epsilon(1e-12));
  if (want.size() > 1) CHECK(got.variance() == Approx(direct.variance()).epsilon(1e-10));
}

// Intervals are contiguous, ordered and aligned to their widths.
template <class Sketch>
void check_layout(const vigil::TimeWindows<Sketch>& w) {
  const auto intervals = w.intervals();
  for (std::size_t i = 1; i < intervals.size(); ++i) {
    CHECK(intervals[i].start == intervals[i - 1].end);
    CHECK(intervals[i].start < intervals[i].end);
  }
  for (const auto& interval : intervals)
    if (!interval.coarse) CHECK(interval.end - interval.start == w.options().fine_width);
}

vigil::TimeWindowsOptions small_options() {
  vigil::TimeWindowsOptions o;
  o.fine_width = 60;
  o.fine_count = 10;
  o.coarse_width = 600;
  o.coarse_count = 6;
  o.lateness = 120;
  return o;
}

}  // namespace

TEST_CASE("TimeWindows: empty", "[time_windows]") {
  vigil::TimeWindows<vigil::RunningStats> w;
  CHECK(w.empty());
  CHECK(w.intervals().empty());
  CHECK(w.merge_last(3600).empty());
  CHECK(std::isnan(w.watermark()));
  CHECK(std::isnan(w.current_start()));
  CHECK(w.sketch_count() == 60 + 168 + 1);
  w.advance(1e9);  // nothing to advance before the first event
  CHECK(w.empty());
}

TEST_CASE("TimeWindows: one event", "[time_windows]") {
  vigil::TimeWindows<vigil::RunningStats> w;
  REQUIRE(w.add(1700000125.5, 4.0));
  const auto intervals = w.intervals();
  REQUIRE(intervals.size() == 1);
  CHECK(intervals[0].start == 1700000100);
  CHECK(intervals[0].end == 1700000160);
  CHECK_FALSE(intervals[0].coarse);
  CHECK(intervals[0].sketch->mean() == 4);
  CHECK(w.current_start() == 1700000100);
  CHECK(w.watermark() == 1700000125.5);
  CHECK(w.merge_last(60).count() == 1);
  CHECK(w.merge_range(1700000100, 1700000160).count() == 1);
  CHECK(w.merge_range(1700000101, 1700000160).count() == 0);  // straddles t0: left out
}

TEST_CASE("TimeWindows: merged ranges equal a direct computation", "[time_windows]") {
  const vigil::TimeWindowsOptions o = small_options();
  vigil::TimeWindows<vigil::RunningStats> w(vigil::RunningStats(), o);
  std::mt19937_64 rng(11);
  std::exponential_distribution<double> gap(2.0);
  std::normal_distribution<double> value(50, 10);
  std::vector<Event> events;
  const double t0 = 1699999200;  // a multiple of 600
  for (double t = t0; t < t0 + 3 * 3600 + 17; t += gap(rng)) {
    events.push_back({t, value(rng)});
    REQUIRE(w.add(t, events.back().value));
  }
  check_layout(w);
  const auto intervals = w.intervals();
  // Ten fine minutes; the coarse intervals hold everything older, six of them at most.
  std::size_t fine = 0, coarse = 0;
  for (const auto& interval : intervals) (interval.coarse ? coarse : fine) += 1;
  CHECK(fine == 10);
  CHECK(coarse == 6);
  CHECK(intervals.front().start == t0 + 3 * 3600 - 3600);  // the oldest whole coarse interval kept
  double total = 0;
  for (const auto& interval : intervals) total += interval.sketch->count();
  CHECK(total == static_cast<double>(values_in(events, intervals.front().start, 1e18).size()));

  const double now_end = w.current_start() + 60;
  check_same(w.merge_last(600), values_in(events, now_end - 600, now_end));
  check_same(w.merge_last(300), values_in(events, now_end - 300, now_end));
  const double coarse_start = t0 + 2 * 3600 + 1200;
  check_same(w.merge_range(coarse_start, coarse_start + 1200), values_in(events, coarse_start, coarse_start + 1200));
  // A range spanning coarse and fine intervals.
  const double fine_start = intervals[coarse].start;
  const double from = intervals[coarse - 2].start;  // a whole coarse interval and a partial one
  CHECK(fine_start - from > 600);
  check_same(w.merge_range(from, fine_start + 240), values_in(events, from, fine_start + 240));
  // Straddled intervals are left out: [from + 1, ...) starts inside a coarse interval.
  check_same(w.merge_range(from + 1, fine_start + 240), values_in(events, intervals[coarse - 1].start, fine_start + 240));
  CHECK(w.late() == 0);
}

TEST_CASE("TimeWindows: with TDigest, merged quantiles match the events of the range", "[time_windows]") {
  vigil::TimeWindows<vigil::TDigest<>> w(vigil::TDigest<>(200), small_options());
  std::mt19937_64 rng(5);
  std::lognormal_distribution<double> latency(3, 0.7);
  std::vector<Event> events;
  const double t0 = 1699999200;
  for (int i = 0; i < 60000; ++i) {
    const double t = t0 + i * 0.1;  // 100 minutes
    events.push_back({t, latency(rng)});
    w.add(t, events.back().value);
  }
  check_layout(w);
  CHECK(w.merge_last(600).compression() == 200);  // the prototype's compression is kept
  const double now_end = w.current_start() + 60;
  for (double span : {600.0, 3000.0}) {
    const vigil::TDigest<> merged = span <= 600 ? w.merge_last(span) : w.merge_range(now_end - span, now_end);
    std::vector<double> want = values_in(events, now_end - span, now_end);
    std::sort(want.begin(), want.end());
    REQUIRE(merged.count() == static_cast<double>(want.size()));
    CHECK(merged.min() == want.front());
    CHECK(merged.max() == want.back());
    for (double q : {0.01, 0.5, 0.9, 0.99}) CHECK(vigil_test::rank_interval(want, merged.quantile(q)).error(q) <= 0.005);
  }
}

TEST_CASE("TimeWindows: gaps are empty intervals, late events are counted", "[time_windows]") {
  const vigil::TimeWindowsOptions o = small_options();
  vigil::TimeWindows<vigil::RunningStats> w(vigil::RunningStats(), o);
  const double t0 = 1699999200;
  w.add(t0 + 1, 1.0);
  w.add(t0 + 301, 2.0);  // five minutes later: four empty minutes between
  auto intervals = w.intervals();
  REQUIRE(intervals.size() == 6);
  for (std::size_t i = 1; i < 5; ++i) CHECK(intervals[i].sketch->empty());
  CHECK(intervals[0].sketch->count() == 1);

  SECTION("a late event within the lateness goes to its own interval") {
    REQUIRE(w.add(t0 + 200, 3.0));  // 101 s behind the watermark, lateness 120 s
    intervals = w.intervals();
    CHECK(intervals[3].sketch->mean() == 3);
    CHECK(w.late() == 0);
    CHECK(w.watermark() == t0 + 301);
  }
  SECTION("an event beyond the lateness is counted, not added") {
    CHECK_FALSE(w.add(t0 + 100, 3.0));
    CHECK(w.late() == 1);
    CHECK(w.merge_last(1e9).count() == 2);
  }
  SECTION("bad times are rejected") {
    CHECK(w.at(std::numeric_limits<double>::quiet_NaN()) == nullptr);
    CHECK(w.at(std::numeric_limits<double>::infinity()) == nullptr);
    CHECK(w.at(1e300) == nullptr);
    CHECK(w.rejected() == 3);
    CHECK(w.watermark() == t0 + 301);
  }
  SECTION("a jump beyond all retention keeps only empty history") {
    w.add(t0 + 30 * 86400, 5.0);
    intervals = w.intervals();
    CHECK(intervals.size() == 10 + 6);
    check_layout(w);
    CHECK(w.merge_last(1e9).count() == 1);
    std::size_t empty = 0;
    for (const auto& interval : intervals) empty += interval.sketch->empty() ? 1 : 0;
    CHECK(empty == 15);
  }
  SECTION("advance() closes intervals without an event") {
    w.advance(t0 + 3600);
    CHECK(w.current().empty());
    CHECK(w.merge_last(600).count() == 0);  // a stopped stream: the last ten minutes are empty
    CHECK(w.merge_last(3600).count() == 0);  // the hour from t0 + 60 on
    CHECK(w.merge_last(3660).count() == 2);
    check_layout(w);
  }
}

TEST_CASE("TimeWindows: events at interval boundaries land where floor(t / width) says", "[time_windows]") {
  vigil::TimeWindowsOptions o;
  o.fine_width = 0.1;  // not exact in binary: k × width and the true boundaries differ
  o.fine_count = 1000;
  o.coarse_width = 1;
  o.coarse_count = 0;
  o.lateness = 0;
  vigil::TimeWindows<vigil::RunningStats> w(vigil::RunningStats(), o);
  std::size_t misplaced = 0;
  for (int k = 17000000; k < 17000500; ++k) {
    const double boundary = k * 0.1;
    for (double t : {std::nextafter(boundary, 0.0), boundary, std::nextafter(boundary, 1e300)}) {
      if (t < w.watermark()) continue;
      vigil::RunningStats* s = w.at(t);
      REQUIRE(s != nullptr);
      s->add(std::floor(t / 0.1));
    }
  }
  for (const auto& interval : w.intervals()) {
    if (interval.sketch->empty()) continue;
    if (interval.sketch->min() != interval.sketch->max()) ++misplaced;
    if (interval.start != interval.sketch->min() * 0.1) ++misplaced;
  }
  CHECK(misplaced == 0);
}

TEST_CASE("TimeWindows: other sketches and clear", "[time_windows]") {
  vigil::TimeWindowsOptions o = small_options();
  o.coarse_count = 0;
  vigil::TimeWindows<vigil::CategoryCounts> w(vigil::CategoryCounts(4), o);
  const double t0 = 1699999200;
  for (int i = 0; i < 1200; ++i) w.add(t0 + i, i % 3 == 0 ? "a" : "b");
  const auto last = w.merge_last(600);
  CHECK(last.capacity() == 4);
  CHECK(last.total() == 600);
  CHECK(last.estimate("a").count == 200);
  CHECK(w.intervals().size() == 10);  // no coarse history
  w.clear();
  CHECK(w.empty());
  CHECK(w.intervals().empty());

  vigil::TimeWindows<vigil::Ewma> ewma(vigil::Ewma(60), small_options());
  ewma.add(t0, 2.0, t0);
  CHECK(ewma.merge_last(60).mean() == 2);
  CHECK(ewma.merge_last(60).half_life() == 60);
}

TEST_CASE("TimeWindows: serialization round-trip and bad bytes", "[time_windows]") {
  vigil::TimeWindows<vigil::RunningStats> empty(vigil::RunningStats(), small_options());
  CHECK(vigil::TimeWindows<vigil::RunningStats>::deserialize(empty.serialize()) == empty);

  vigil::TimeWindows<vigil::TDigest<>> w(vigil::TDigest<>(50), small_options());
  const double t0 = 1699999200;
  for (int i = 0; i < 5000; ++i) w.add(t0 + i * 0.9, std::sin(i) * 10);
  w.at(t0);  // late
  const auto bytes = w.serialize();
  auto back = vigil::TimeWindows<vigil::TDigest<>>::deserialize(bytes);
  CHECK(back == w);
  CHECK(back.late() == 1);
  CHECK(back.prototype().compression() == 50);
  // The copy keeps working like the original (digests compare equal only up to the order of
  // their merge passes, so compare what they summarise).
  w.add(t0 + 5000, 1.0);
  back.add(t0 + 5000, 1.0);
  CHECK(back.intervals().size() == w.intervals().size());
  CHECK(back.merge_last(1e9).count() == w.merge_last(1e9).count());
  CHECK(back.merge_last(1e9).quantile(0.5) == Approx(w.merge_last(1e9).quantile(0.5)).margin(0.5));

  std::size_t not_thrown = 0;
  for (std::size_t n = 0; n < bytes.size(); n += 31) {
    try {
      vigil::TimeWindows<vigil::TDigest<>>::deserialize(bytes.data(), n);
      ++not_thrown;
    } catch (const vigil::format_error&) {
    }
  }
  CHECK(not_thrown == 0);
  auto corrupt = bytes;
  corrupt[15] ^= 0x80;  // fine width −60
  CHECK_THROWS_AS(vigil::TimeWindows<vigil::TDigest<>>::deserialize(corrupt), vigil::format_error);
  corrupt = bytes;
  corrupt[8 + 8 + 1 + 8 + 1 + 8] ^= 0x01;  // current interval index
  CHECK_THROWS_AS(vigil::TimeWindows<vigil::TDigest<>>::deserialize(corrupt), vigil::format_error);
  // The first interval's index at the least int64: refused before the span from it to the
  // current one is computed (that difference would overflow).
  corrupt = bytes;
  const std::size_t first_index = 8 + 8 + 1 + 8 + 1 + 8 + 8;
  for (std::size_t i = 0; i < 8; ++i) corrupt[first_index + i] = i == 7 ? 0x80 : 0x00;
  CHECK_THROWS_AS(vigil::TimeWindows<vigil::TDigest<>>::deserialize(corrupt), vigil::format_error);
}

namespace {

// A sketch that counts its copies and its live instances, to see what deserialize() builds.
// Serialized as one byte, its value.
struct ProbeSketch {
  static inline std::size_t copies = 0;
  static inline std::size_t live = 0;
  static inline std::size_t peak = 0;
  static void reset_counters() { copies = 0, peak = live; }
  std::uint8_t value = 0;

  ProbeSketch() { born(); }
  ProbeSketch(const ProbeSketch& other) : value(other.value) {
    ++copies;
    born();
  }
  ProbeSketch(ProbeSketch&& other) noexcept : value(other.value) { born(); }
  ProbeSketch& operator=(const ProbeSketch& other) {
    ++copies;
    value = other.value;
    return *this;
  }
  ProbeSketch& operator=(ProbeSketch&& other) noexcept {
    value = other.value;
    return *this;
  }
  ~ProbeSketch() { --live; }
  void add(std::uint8_t v) { value = v; }
  void merge(const ProbeSketch& other) { value = std::max(value, other.value); }
  void clear() { value = 0; }
  bool operator==(const ProbeSketch& other) const { return value == other.value; }
  std::vector<std::uint8_t> serialize() const { return {value}; }
  static ProbeSketch deserialize(const void* data, std::size_t size) {
    if (size != 1) throw vigil::format_error("ProbeSketch: not one byte");
    ProbeSketch s;
    s.value = *static_cast<const std::uint8_t*>(data);
    return s;
  }

 private:
  static void born() { peak = std::max(peak, ++live); }
};

}  // namespace

TEST_CASE("TimeWindows: deserialize builds each interval as it reads it, copying no prototype", "[time_windows]") {
  vigil::TimeWindowsOptions o = small_options();
  o.fine_count = 3000;
  o.coarse_count = 500;
  std::vector<std::uint8_t> bytes;
  {
    vigil::TimeWindows<ProbeSketch> w(ProbeSketch(), o);
    w.add(1000.0, std::uint8_t{7});
    bytes = w.serialize();
  }
  REQUIRE(ProbeSketch::live == 0);
  ProbeSketch::reset_counters();
  const auto back = vigil::TimeWindows<ProbeSketch>::deserialize(bytes);
  // One sketch per interval and the prototype, each from its own bytes: no copies, and never
  // more alive than what the result holds plus the few moved along the way.
  CHECK(ProbeSketch::copies == 0);
  CHECK(ProbeSketch::live == o.fine_count + o.coarse_count + 1);
  CHECK(ProbeSketch::peak <= 2 * (o.fine_count + o.coarse_count) + 4);
  CHECK(back.current().value == 7);
  CHECK(back.sketch_count() == o.fine_count + o.coarse_count + 1);
}

TEST_CASE("TimeWindows: deserialize refuses declared interval counts the input cannot hold", "[time_windows]") {
  vigil::TimeWindows<ProbeSketch> w(ProbeSketch(), small_options());
  const std::vector<std::uint8_t> bytes = w.serialize();
  // The fine count is the varint after the header and the fine width.
  const std::size_t at = 8 + 8;
  REQUIRE(bytes[at] == 10);
  const auto with_fine_count = [&](std::uint64_t count) {
    std::vector<std::uint8_t> out(bytes.begin(), bytes.begin() + at);
    vigil::io::Writer(out).varint(count);
    out.insert(out.end(), bytes.begin() + at + 1, bytes.end());
    return out;
  };
  for (const std::uint64_t count : {std::uint64_t{1} << 40, std::uint64_t{1} << 30, std::uint64_t{1} << 20,
                                    std::uint64_t{bytes.size()}, std::uint64_t{20}}) {
    ProbeSketch::reset_counters();
    const std::size_t live_before = ProbeSketch::live;
    CHECK_THROWS_AS(vigil::TimeWindows<ProbeSketch>::deserialize(with_fine_count(count)), vigil::format_error);
    // Nothing beyond the sketches present in the input (17 of them) was ever built.
    CHECK(ProbeSketch::peak - live_before <= 20);
    CHECK(ProbeSketch::copies == 0);
  }
  // The message names the count and what was left.
  try {
    vigil::TimeWindows<ProbeSketch>::deserialize(with_fine_count(std::uint64_t{1} << 40));
    FAIL("accepted");
  } catch (const vigil::format_error& e) {
    CHECK(std::string(e.what()).find("1099511627776") != std::string::npos);
  }
  CHECK(vigil::TimeWindows<ProbeSketch>::deserialize(with_fine_count(10)) == w);
}

TEST_CASE("TimeWindows: bad options", "[time_windows]") {
  using W = vigil::TimeWindows<vigil::RunningStats>;
  vigil::TimeWindowsOptions o;
  o.fine_width = 0;
  CHECK_THROWS_AS(W(vigil::RunningStats(), o), vigil::invalid_argument);
  o = {};
  o.coarse_width = 90;  // not a multiple of 60
  CHECK_THROWS_AS(W(vigil::RunningStats(), o), vigil::invalid_argument);
  // A ratio of 1.6e10 that is no whole number (found by fuzz/time_windows_tdigest): coarse
  // boundaries would fall between fine ones, and a coarse interval end before it starts.
  o.fine_width = 5.2516180724197463;
  o.coarse_width = 85899345920;
  o.lateness = 5;
  CHECK_THROWS_AS(W(vigil::RunningStats(), o), vigil::invalid_argument);
  // Whole multiples up to the rounding of the widths are fine: 0.1 s and an hour, 1/3 s and 1 s.
  o.fine_width = 0.1;
  o.coarse_width = 3600;
  CHECK_NOTHROW(W(vigil::RunningStats(), o));
  o.fine_width = 1.0 / 3;
  o.coarse_width = 1;
  o.lateness = 0.5;
  CHECK_NOTHROW(W(vigil::RunningStats(), o));
  o.fine_width = 7;
  o.coarse_width = 7e11;
  CHECK_NOTHROW(W(vigil::RunningStats(), o));
  o = {};
  o.fine_count = 0;
  CHECK_THROWS_AS(W(vigil::RunningStats(), o), vigil::invalid_argument);
  o = {};
  o.lateness = 60 * 60;  // more than 59 fine intervals
  CHECK_THROWS_AS(W(vigil::RunningStats(), o), vigil::invalid_argument);
  o.lateness = -1;
  CHECK_THROWS_AS(W(vigil::RunningStats(), o), vigil::invalid_argument);
  o.lateness = std::numeric_limits<double>::quiet_NaN();
  CHECK_THROWS_AS(W(vigil::RunningStats(), o), vigil::invalid_argument);
}

TEST_CASE("TimeWindows: deserialize refuses an interval sketch with options other than the prototype's",
          "[time_windows]") {
  vigil::LogHistogramOptions plain;
  vigil::LogHistogramOptions other = plain;
  other.zero_threshold = 1e-3;
  const std::vector<std::uint8_t> plain_bytes = vigil::LogHistogram(plain).serialize();
  const std::vector<std::uint8_t> other_bytes = vigil::LogHistogram(other).serialize();
  REQUIRE(plain_bytes.size() == other_bytes.size());
  vigil::TimeWindows<vigil::LogHistogram> w(vigil::LogHistogram(plain), small_options());
  w.at(1000.0)->record(2.0);
  std::vector<std::uint8_t> bytes = w.serialize();
  CHECK(vigil::TimeWindows<vigil::LogHistogram>::deserialize(bytes).merge_last(600).count() == 1);
  // The prototype comes first, then the fine intervals: the first empty interval after the
  // prototype gets a histogram with another zero threshold, which no merge would accept.
  const auto prototype = std::search(bytes.begin(), bytes.end(), plain_bytes.begin(), plain_bytes.end());
  REQUIRE(prototype != bytes.end());
  const auto interval = std::search(prototype + 1, bytes.end(), plain_bytes.begin(), plain_bytes.end());
  REQUIRE(interval != bytes.end());
  std::copy(other_bytes.begin(), other_bytes.end(), interval);
  CHECK_THROWS_WITH(vigil::TimeWindows<vigil::LogHistogram>::deserialize(bytes),
                    Catch::Contains("options other than the prototype's"));
}

TEST_CASE("TimeWindows::merge: replicas' windows add up to the windows of the whole stream", "[sketch][time_windows]") {
  // Streams split at random between two replicas, which start, stop and jump at other
  // times: the merge must equal one window fed everything, interval by interval (a
  // histogram's counts are exact), whichever replica is ahead.
  std::mt19937_64 random(17);
  for (int round = 0; round < 40; ++round) {
    CAPTURE(round);
    const vigil::LogHistogram prototype(4);
    vigil::TimeWindows<vigil::LogHistogram> whole(prototype, small_options()), a(prototype, small_options()),
        b(prototype, small_options());
    std::uniform_real_distribution<double> gap(0, round % 3 == 0 ? 900 : 40);
    std::uniform_real_distribution<double> value(0.001, 10);
    double t = 1.7e9 + 600 * static_cast<double>(random() % 50);
    const double b_from = t + gap(random) * 10, b_to = b_from + (round % 2 == 0 ? 1e9 : 3000);
    for (int i = 0; i < 400; ++i) {
      t += gap(random);
      const double x = value(random);
      whole.at(t)->record(x);
      const bool to_b = t >= b_from && t < b_to && random() % 2 == 0;
      (to_b ? b : a).at(t)->record(x);
    }
    vigil::TimeWindows<vigil::LogHistogram> ab = a, ba = b;
    ab.merge(b);
    ba.merge(a);
    for (const auto* merged : {&ab, &ba}) {
      check_layout(*merged);
      const auto got = merged->intervals(), want = whole.intervals();
      REQUIRE(got.size() == want.size());
      for (std::size_t k = 0; k < got.size(); ++k) {
        CHECK(got[k].start == want[k].start);
        CHECK(got[k].end == want[k].end);
        // The same buckets; the sum only up to the order of its additions.
        const vigil::LogHistogram &g = *got[k].sketch, &w = *want[k].sketch;
        CHECK(g.count() == w.count());
        if (w.count() == 0) continue;
        CHECK(g.min() == w.min());
        CHECK(g.max() == w.max());
        CHECK(g.sum() == Approx(w.sum()).epsilon(1e-12));
        for (const double q : {0.01, 0.25, 0.5, 0.9, 0.99, 1.0}) CHECK(g.quantile(q) == w.quantile(q));
      }
      CHECK(merged->current_start() == whole.current_start());
      CHECK(merged->watermark() == whole.watermark());
      CHECK(merged->late() == whole.late());
    }
  }
  vigil::TimeWindowsOptions other = small_options();
  other.fine_count = 11;
  vigil::TimeWindows<vigil::LogHistogram> x(vigil::LogHistogram(4), small_options()), y(vigil::LogHistogram(4), other);
  CHECK_THROWS_AS(x.merge(y), vigil::invalid_argument);
}

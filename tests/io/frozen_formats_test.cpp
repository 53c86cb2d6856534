// Frozen formats: every fixture in tests/io/fixtures/ decodes to what it was built from and
// re-encodes to the same bytes. A fixture changes only with a format version bump
// (docs/formats.md); a failure here means the format changed.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <map>
#include <set>
#include <string>
#include <type_traits>
#include <vector>

#include "io/fixtures/fixture_inputs.hpp"
#include "vigil_test.hpp"

using namespace vigil_fixtures;

namespace {

std::vector<std::uint8_t> read_fixture(const std::string& file) {
  std::ifstream in(vigil_test::data_path("io/fixtures/" + file), std::ios::binary);
  if (!in) FAIL("cannot open fixture " << file);
  return std::vector<std::uint8_t>(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

/// Decodes a fixture, checks that it re-encodes byte for byte, and returns the object.
template <class T>
T decode(const std::string& file) {
  const std::vector<std::uint8_t> bytes = read_fixture(file);
  T object = T::deserialize(bytes);
  INFO("re-encoding " << file);
  CHECK(object.serialize() == bytes);
  return object;
}

bool relatively_close(double actual, double expected, double relative) {
  return std::fabs(actual - expected) <= relative * std::fabs(expected);
}

/// The finite values of a weighted sample in ascending order, and its total weight: the
/// exact distribution a sketch of it estimates.
struct Exact {
  std::vector<Weighted> sorted;
  double weight = 0;

  explicit Exact(std::vector<Weighted> values) {
    for (const Weighted& w : values)
      if (std::isfinite(w.value)) sorted.push_back(w);
    std::stable_sort(sorted.begin(), sorted.end(), [](const Weighted& a, const Weighted& b) { return a.value < b.value; });
    for (const Weighted& w : sorted) weight += w.weight;
  }
  /// Distance from q to the rank interval [F(x−), F(x)] of x.
  double rank_error(double x, double q) const {
    double below = 0;
    double at_most = 0;
    for (const Weighted& w : sorted) {
      if (w.value < x) below += w.weight;
      if (w.value <= x) at_most += w.weight;
    }
    below /= weight;
    at_most /= weight;
    return q < below ? below - q : (q > at_most ? q - at_most : 0.0);
  }
  double sum() const {
    double s = 0;
    for (const Weighted& w : sorted) s += w.value * w.weight;
    return s;
  }
};

/// The values a digest spec was built from, rounded as `Real` stores them.
template <class Real>
std::vector<Weighted> digest_input(const DigestSpec& spec) {
  std::vector<Weighted> out;
  if (spec.fractional) {
    out = weighted_digest_values();
  } else {
    for (double x : digest_values()) out.push_back({x, 1});
  }
  for (Weighted& w : out) w.value = static_cast<double>(static_cast<Real>(w.value));
  return out;
}

/// The flags of a fixture's header.
std::uint16_t flags_of(const std::string& file) {
  const std::vector<std::uint8_t> bytes = read_fixture(file);
  REQUIRE(bytes.size() >= vigil::io::header_size);
  return static_cast<std::uint16_t>(bytes[6] | bytes[7] << 8);
}

template <class Real>
void check_digest(const std::string& file, const DigestSpec& spec, std::size_t centroids) {
  const auto d = decode<vigil::TDigest<Real>>(file);
  // Flag 1: float means; flag 2: integer weights, stored as varints.
  CHECK(flags_of(file) == (std::is_same_v<Real, float> ? 1 : 0) + (spec.fractional ? 0 : 2));
  const Exact exact(digest_input<Real>(spec));
  CHECK(d.compression() == spec.compression);
  CHECK(d.scale_function() == spec.scale);
  CHECK(d.buffered() == 0);
  CHECK(d.count() == exact.weight);
  CHECK(d.rejected() == 3);
  CHECK(d.min() == -1000);
  CHECK(d.max() == 1e6);
  CHECK(relatively_close(d.mean(), exact.sum() / exact.weight, 1e-12));
  REQUIRE(d.centroids().size() == centroids);
  double total = 0;
  for (std::size_t i = 0; i < centroids; ++i) {
    total += d.centroids()[i].weight;
    if (i > 0) CHECK(d.centroids()[i - 1].mean <= d.centroids()[i].mean);
  }
  CHECK(relatively_close(total, d.count(), 1e-12));
  // The extremes are singleton centroids holding their one value with its weight.
  CHECK(d.centroids()[0].mean == -1000);
  CHECK(d.centroids()[0].weight == exact.sorted.front().weight);
  CHECK(d.single_valued(0));
  CHECK(d.centroids()[centroids - 1].mean == 1e6);
  CHECK(d.centroids()[centroids - 1].weight == exact.sorted.back().weight);
  CHECK(d.single_valued(centroids - 1));
  // No centroid holds more than 2/δ of the weight unless it holds one value, so no
  // interpolated quantile is further than that in rank.
  for (double q : {0.001, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 0.999}) {
    INFO("q = " << q);
    CHECK(exact.rank_error(d.quantile(q), q) <= 2 / spec.compression);
  }
  CHECK(d.quantile(0) == -1000);
  CHECK(d.quantile(1) == 1e6);
}

}  // namespace

TEST_CASE("frozen formats: every fixture is the version of its type its name says, and every file is tested", "[io][fixtures]") {
  const std::map<std::string, vigil::io::TypeId> prefixes = {
      {"tdigest_", vigil::io::TypeId::tdigest},          {"log_histogram_", vigil::io::TypeId::log_histogram},
      {"running_stats_", vigil::io::TypeId::running_stats}, {"ewma_", vigil::io::TypeId::ewma},
      {"event_rate_", vigil::io::TypeId::event_rate},    {"category_counts_", vigil::io::TypeId::category_counts},
      {"time_windows_", vigil::io::TypeId::time_windows}, {"profile_", vigil::io::TypeId::profile},
      {"interval_summary_", vigil::io::TypeId::interval_summary},
  };
  std::set<std::string> listed;
  for (const Fixture& f : fixtures()) {
    INFO(f.file);
    listed.insert(f.file);
    const std::vector<std::uint8_t> bytes = read_fixture(f.file);
    REQUIRE(bytes.size() >= vigil::io::header_size);
    CHECK(std::string(bytes.begin(), bytes.begin() + 4) == "VIGL");
    // "<type>_v<version>_...": the version of the object itself (a nested state's version
    // may follow as "_<state>_v<version>").
    const std::string file = f.file;
    const std::size_t mark = file.find("_v");
    REQUIRE(mark != std::string::npos);
    CHECK(bytes[4] == std::stoi(file.substr(mark + 2)));
    bool typed = false;
    for (const auto& [prefix, type] : prefixes)
      if (std::string(f.file).rfind(prefix, 0) == 0) {
        CHECK(bytes[5] == static_cast<std::uint8_t>(type));
        typed = true;
      }
    CHECK(typed);
  }
  std::set<std::string> present;
  for (const auto& entry : std::filesystem::directory_iterator(vigil_test::data_path("io/fixtures")))
    if (entry.path().extension() == ".vigil") present.insert(entry.path().filename().string());
  CHECK(present == listed);
}

TEST_CASE("frozen formats: TDigest<double>, integer weights, pending values merged", "[io][fixtures]") {
  check_digest<double>("tdigest_v1_double_unit.vigil", double_unit_spec, 61);
  const auto d = vigil::TDigest<double>::deserialize(read_fixture("tdigest_v1_double_unit.vigil"));
  // The 100 copies of 2.5 stayed one single-valued centroid: an exact point mass.
  bool found = false;
  for (std::size_t i = 0; i < d.centroids().size(); ++i)
    if (d.centroids()[i].mean == 2.5) {
      found = true;
      CHECK(d.centroids()[i].weight == 100);
      CHECK(d.single_valued(i));
    }
  CHECK(found);
  const Exact exact(digest_input<double>(double_unit_spec));
  const auto [below, at_most] = d.rank_interval(2.5);
  CHECK(exact.rank_error(2.5, below) == 0);
  CHECK(exact.rank_error(2.5, at_most) == 0);
  CHECK(at_most - below == Approx(100 / exact.weight));
}

TEST_CASE("frozen formats: TDigest<double>, fractional weights", "[io][fixtures]") {
  check_digest<double>("tdigest_v1_double_weighted.vigil", double_weighted_spec, 22);
}

TEST_CASE("frozen formats: TDigest<float>, integer weights", "[io][fixtures]") {
  check_digest<float>("tdigest_v1_float_unit.vigil", float_unit_spec, 63);
  // A float digest is not read as a double one.
  CHECK_THROWS_AS(vigil::TDigest<double>::deserialize(read_fixture("tdigest_v1_float_unit.vigil")), vigil::format_error);
}

TEST_CASE("frozen formats: TDigest<float>, fractional weights", "[io][fixtures]") {
  check_digest<float>("tdigest_v1_float_weighted.vigil", float_weighted_spec, 26);
}

TEST_CASE("frozen formats: an empty TDigest", "[io][fixtures]") {
  const auto d = decode<vigil::TDigest<>>("tdigest_v1_empty.vigil");
  CHECK(d.empty());
  CHECK(d.compression() == 100);
  CHECK(d.scale_function() == vigil::ScaleFunction::k2);
  CHECK(d.rejected() == 2);
  CHECK(d.centroids().empty());
  CHECK(std::isnan(d.min()));
  CHECK(std::isnan(d.quantile(0.5)));
}

namespace {

/// The values a histogram counts in buckets or its zero bucket, each repeated as recorded,
/// ascending.
std::vector<double> counted_values(const std::vector<Recorded>& recorded) {
  std::vector<double> out;
  for (const Recorded& r : recorded)
    if (std::isfinite(r.value) && !(r.value < 0))
      for (std::uint64_t i = 0; i < r.count; ++i) out.push_back(r.value);
  std::sort(out.begin(), out.end());
  return out;
}

/// Every bucket holds exactly the recorded values in (lower, upper].
template <class Histogram>
void check_buckets(const Histogram& h, const std::vector<double>& values) {
  for (const auto& b : h.buckets()) {
    const auto in = std::count_if(values.begin(), values.end(), [&](double v) { return v > b.lower && v <= b.upper; });
    INFO("bucket " << b.index);
    CHECK(static_cast<std::uint64_t>(in) == b.count);
  }
}

}  // namespace

TEST_CASE("frozen formats: LogHistogram, downscaled, with zero, negative and non-finite values", "[io][fixtures]") {
  const auto h = decode<vigil::LogHistogram>("log_histogram_v1.vigil");
  CHECK(flags_of("log_histogram_v1.vigil") == 0);
  const vigil::LogHistogramOptions o = histogram_options();
  CHECK(h.options().scale == o.scale);
  CHECK(h.options().zero_threshold == o.zero_threshold);
  CHECK(h.options().max_buckets == o.max_buckets);
  CHECK(h.options().lowest == o.lowest);
  // 20 octaves do not fit in 64 buckets at scale 4 (16 per octave), nor at 3 or 2: at 1 they do.
  CHECK(h.scale() == 1);
  const std::vector<double> values = counted_values(histogram_values());
  CHECK(h.count() == values.size());
  CHECK(h.zero_count() == 7);  // 0 four times, 5e-4 twice, -0.0 once
  CHECK(h.negative() == 3);
  CHECK(h.not_finite() == 4);
  CHECK(h.underflow() == 0);
  CHECK(h.overflow() == 0);
  CHECK(h.min() == 0);
  CHECK(h.max() == values.back());
  double sum = 0;
  for (double v : values) sum += v;
  CHECK(relatively_close(h.sum(), sum, 1e-12));
  check_buckets(h, values);
  CHECK(h.buckets().size() == 40);
  const double b = std::exp2(std::exp2(-h.scale()));
  for (double q : {0.05, 0.25, 0.5, 0.9, 0.99}) {
    const double x = values[static_cast<std::size_t>(std::ceil(q * static_cast<double>(values.size()))) - 1];
    INFO("q = " << q);
    CHECK(std::fabs(h.quantile(q) - x) <= x * (b - 1) / (b + 1));
  }
}

TEST_CASE("frozen formats: ConcurrentLogHistogram, with underflow and overflow", "[io][fixtures]") {
  const auto h = decode<vigil::ConcurrentLogHistogram>("log_histogram_v1_concurrent.vigil");
  CHECK(flags_of("log_histogram_v1_concurrent.vigil") == 1);
  CHECK(h.options().scale == 2);
  CHECK(h.options().max_buckets == 16);
  CHECK(h.options().lowest == 0.0625);
  CHECK(h.scale() == 2);
  const std::vector<double> values = counted_values(concurrent_histogram_values());
  const auto under = std::count_if(values.begin(), values.end(), [](double v) { return v <= 0.0625; });
  const auto over = std::count_if(values.begin(), values.end(), [](double v) { return v > 1; });
  CHECK(h.count() == values.size());
  CHECK(h.underflow() == static_cast<std::uint64_t>(under));
  CHECK(h.overflow() == static_cast<std::uint64_t>(over));
  CHECK(under > 0);
  CHECK(over > 0);
  CHECK(h.min() == values.front());
  CHECK(h.max() == values.back());
  check_buckets(h, values);
  // The other counter type reads it too, as the same data.
  const auto plain = vigil::LogHistogram::deserialize(read_fixture("log_histogram_v1_concurrent.vigil"));
  CHECK(plain == h);
}

TEST_CASE("frozen formats: an empty LogHistogram with the default options", "[io][fixtures]") {
  const auto h = decode<vigil::LogHistogram>("log_histogram_v1_empty.vigil");
  CHECK(h.empty());
  CHECK(h.scale() == 5);
  CHECK(h.options().max_buckets == 1024);
  CHECK(h.zero_threshold() == 0);
  CHECK(h.rejected() == 0);
  CHECK(h.buckets().empty());
  CHECK(std::isnan(h.min()));
  CHECK(std::isnan(h.quantile(0.5)));
}

TEST_CASE("frozen formats: RunningStats of weighted values around 1e9", "[io][fixtures]") {
  const auto r = decode<vigil::RunningStats>("running_stats_v1.vigil");
  const Exact exact(running_stats_values());
  long double mean = 0;
  for (const Weighted& w : exact.sorted) mean += static_cast<long double>(w.value) * w.weight;
  mean /= exact.weight;
  long double m2 = 0;
  for (const Weighted& w : exact.sorted) m2 += w.weight * (w.value - mean) * (w.value - mean);
  CHECK(r.count() == exact.weight);
  CHECK(r.rejected() == 1);
  CHECK(r.min() == exact.sorted.front().value);
  CHECK(r.max() == exact.sorted.back().value);
  CHECK(relatively_close(r.mean(), static_cast<double>(mean), 1e-15));
  CHECK(relatively_close(r.variance(), static_cast<double>(m2 / (exact.weight - 1)), 1e-9));
}

TEST_CASE("frozen formats: an empty RunningStats", "[io][fixtures]") {
  const auto r = decode<vigil::RunningStats>("running_stats_v1_empty.vigil");
  CHECK(r.empty());
  CHECK(r.rejected() == 1);
  CHECK(std::isnan(r.mean()));
  CHECK(std::isnan(r.min()));
  CHECK(std::isnan(r.max()));
}

TEST_CASE("frozen formats: RunningStats version 2, values at both ends of the double range", "[io][fixtures]") {
  const auto r = decode<vigil::RunningStats>("running_stats_v2_scaled.vigil");
  CHECK(flags_of("running_stats_v2_scaled.vigil") == 0);
  const Exact exact(scaled_running_stats_values());
  long double mean = 0;
  double largest = 0;
  for (const Weighted& w : exact.sorted) {
    mean += static_cast<long double>(w.value) * w.weight;
    largest = std::max(largest, std::fabs(w.value));
  }
  mean /= exact.weight;
  long double m2 = 0;
  for (const Weighted& w : exact.sorted) m2 += w.weight * (w.value - mean) * (w.value - mean);
  CHECK(r.exponent() > 0);
  CHECK(r.count() == exact.weight);
  CHECK(r.rejected() == 1);
  CHECK(r.min() == -1e308);
  CHECK(r.max() == 1e308);
  CHECK(std::fabs(r.mean() - static_cast<double>(mean)) <= 1e-12 * largest);
  CHECK(relatively_close(r.stddev(), static_cast<double>(std::sqrt(m2 / (exact.weight - 1))), 1e-12));
  CHECK(r.variance() == std::numeric_limits<double>::infinity());
}

TEST_CASE("frozen formats: Ewma with out-of-order and refused values", "[io][fixtures]") {
  const auto e = decode<vigil::Ewma>("ewma_v1.vigil");
  std::vector<Timed> accepted;
  for (const Timed& t : ewma_events())
    if (std::isfinite(t.value) && std::isfinite(t.time)) accepted.push_back(t);
  double latest = accepted.front().time;
  std::uint64_t out_of_order = 0;
  for (const Timed& t : accepted) {
    if (t.time < latest) ++out_of_order;
    latest = std::max(latest, t.time);
  }
  // Every value with its weight decayed to the latest time.
  double w = 0, w2 = 0, wx = 0;
  for (const Timed& t : accepted) {
    const double decayed = t.weight * std::exp2(-(latest - t.time) / ewma_half_life);
    w += decayed;
    w2 += decayed * decayed;
    wx += decayed * t.value;
  }
  const double mean = wx / w;
  double m2 = 0;
  for (const Timed& t : accepted) m2 += t.weight * std::exp2(-(latest - t.time) / ewma_half_life) * (t.value - mean) * (t.value - mean);
  CHECK(e.half_life() == ewma_half_life);
  CHECK(e.count() == accepted.size());
  CHECK(e.out_of_order() == out_of_order);
  CHECK(out_of_order == 75);
  CHECK(e.rejected() == 2);
  CHECK(e.latest_time() == latest);
  CHECK(relatively_close(e.weight(), w, 1e-12));
  CHECK(relatively_close(e.mean(), mean, 1e-12));
  CHECK(relatively_close(e.effective_count(), w * w / w2, 1e-12));
  CHECK(relatively_close(e.population_variance(), m2 / w, 1e-9));
}

TEST_CASE("frozen formats: EventRate started before its events, with late and refused ones", "[io][fixtures]") {
  const auto r = decode<vigil::EventRate>("event_rate_v1.vigil");
  CHECK(flags_of("event_rate_v1.vigil") == 1);  // started
  double latest = event_rate_start;
  std::uint64_t count = 0, out_of_order = 0;
  for (const Timed& t : event_rate_events()) {
    if (!std::isfinite(t.time)) continue;
    count += static_cast<std::uint64_t>(t.weight);
    if (t.time < latest) out_of_order += static_cast<std::uint64_t>(t.weight);
    latest = std::max(latest, t.time);
  }
  // Every event decayed to the latest time; events before the start count at the start.
  double decayed = 0;
  for (const Timed& t : event_rate_events())
    if (std::isfinite(t.time))
      decayed += t.weight * std::exp2(-(latest - std::max(t.time, event_rate_start)) / event_rate_half_life);
  const double exposure = event_rate_half_life / std::log(2.0) * (1 - std::exp2(-(latest - event_rate_start) / event_rate_half_life));
  CHECK(r.half_life() == event_rate_half_life);
  CHECK(r.start_time() == event_rate_start);
  CHECK(r.latest_time() == latest);
  CHECK(r.count() == count);
  CHECK(r.out_of_order() == out_of_order);
  CHECK(r.rejected() == 2);
  CHECK(relatively_close(r.decayed_count(), decayed, 1e-12));
  CHECK(relatively_close(r.rate(), decayed / exposure, 1e-12));
}

TEST_CASE("frozen formats: an EventRate that never started", "[io][fixtures]") {
  const auto r = decode<vigil::EventRate>("event_rate_v1_unstarted.vigil");
  CHECK(flags_of("event_rate_v1_unstarted.vigil") == 0);
  CHECK(r.half_life() == event_rate_half_life);
  CHECK(r.empty());
  CHECK(r.rejected() == 3);
  CHECK(std::isnan(r.start_time()));
  CHECK(std::isnan(r.rate()));
}

namespace {

std::map<std::string, std::uint64_t> true_counts(const std::vector<Label>& labels) {
  std::map<std::string, std::uint64_t> counts;
  for (const Label& l : labels) counts[l.value] += l.count;
  return counts;
}

}  // namespace

TEST_CASE("frozen formats: CategoryCounts, exact", "[io][fixtures]") {
  const auto c = decode<vigil::CategoryCounts>("category_counts_v1_exact.vigil");
  const auto truth = true_counts(exact_labels());
  // Canonical order: decreasing count, ties by value.
  std::vector<vigil::CategoryCounts::Entry> expected;
  for (const auto& [value, count] : truth) expected.push_back({value, count, 0});
  std::stable_sort(expected.begin(), expected.end(), [](const auto& a, const auto& b) { return a.count > b.count; });
  CHECK(c.capacity() == exact_category_capacity);
  CHECK(c.exact());
  CHECK(c.error_bound() == 0);
  CHECK(c.missing() == exact_category_missing);
  CHECK(c.total() == 16);
  CHECK(c.entries() == expected);
  CHECK(c.entries().front().value == "red");
  CHECK(c.estimate("").count == 2);
  CHECK(c.estimate("caf\xc3\xa9").count == 4);
  CHECK_FALSE(c.estimate("purple").tracked);
}

TEST_CASE("frozen formats: CategoryCounts, heavy hitters after replacements", "[io][fixtures]") {
  const auto c = decode<vigil::CategoryCounts>("category_counts_v1_heavy_hitters.vigil");
  const auto truth = true_counts(heavy_labels());
  CHECK(c.capacity() == heavy_category_capacity);
  CHECK_FALSE(c.exact());
  CHECK(c.total() == 400);
  CHECK(c.missing() == heavy_category_missing);
  CHECK(c.size() == heavy_category_capacity);
  CHECK(c.error_bound() == 94);
  CHECK(c.error_bound() <= c.total() / c.capacity());
  std::uint64_t attributed = 0;
  for (const auto& e : c.entries()) {
    INFO(e.value);
    REQUIRE(truth.count(e.value) == 1);
    CHECK(e.lower() <= truth.at(e.value));
    CHECK(truth.at(e.value) <= e.count);
    CHECK(e.error <= c.error_bound());
    attributed += e.lower();
  }
  CHECK(c.other() == c.total() - attributed);
  // Every value that occurred more often than the error bound is tracked.
  for (const auto& [value, count] : truth)
    if (count > c.error_bound()) CHECK(c.estimate(value).tracked);
  CHECK(c.entries().front().value == "k0");
}

TEST_CASE("frozen formats: TimeWindows<TDigest<>> with roll-ups, an empty interval, late and refused events", "[io][fixtures]") {
  using Windows = vigil::TimeWindows<vigil::TDigest<>>;
  const auto w = decode<Windows>("time_windows_v1_tdigest.vigil");
  const vigil::TimeWindowsOptions o = window_options();
  CHECK(w.options().fine_width == o.fine_width);
  CHECK(w.options().fine_count == o.fine_count);
  CHECK(w.options().coarse_width == o.coarse_width);
  CHECK(w.options().coarse_count == o.coarse_count);
  CHECK(w.options().lateness == o.lateness);
  CHECK(w.prototype().compression() == window_compression);
  CHECK(w.prototype().empty());
  CHECK(w.watermark() == 1987);
  CHECK(w.current_start() == 1980);
  CHECK(w.late() == 1);
  CHECK(w.rejected() == 1);
  struct Expected {
    double start;
    double end;
    bool coarse;
  };
  const std::vector<Expected> layout = {
      {1620, 1800, true}, {1800, 1860, true}, {1860, 1920, false}, {1920, 1980, false}, {1980, 2040, false}};
  const auto intervals = w.intervals();
  REQUIRE(intervals.size() == layout.size());
  for (std::size_t i = 0; i < layout.size(); ++i) {
    INFO("interval from " << layout[i].start);
    CHECK(intervals[i].start == layout[i].start);
    CHECK(intervals[i].end == layout[i].end);
    CHECK(intervals[i].coarse == layout[i].coarse);
    std::vector<double> in;
    for (const Timed& t : window_events())
      if (std::isfinite(t.time) && t.value != late_window_value && t.time >= layout[i].start && t.time < layout[i].end)
        in.push_back(t.value);
    const vigil::TDigest<>& d = *intervals[i].sketch;
    CHECK(d.count() == static_cast<double>(in.size()));
    CHECK(d.compression() == window_compression);
    if (in.empty()) continue;
    CHECK(d.min() == *std::min_element(in.begin(), in.end()));
    CHECK(d.max() == *std::max_element(in.begin(), in.end()));
  }
  CHECK(intervals[2].sketch->empty());
  CHECK(intervals[3].sketch->min() == -1);  // the event taken 30 s late
  CHECK(w.merge_last(180).count() == intervals[2].sketch->count() + intervals[3].sketch->count() +
                                         intervals[4].sketch->count());
}

namespace {
/// Checks a decoded Profile fixture against the rows it was built from.
void check_profile(const vigil::Profile& p) {
  const vigil::Schema schema = profile_schema();
  CHECK(p.schema() == schema);
  const vigil::Output fraud{0}, segment{1};
  CHECK(p.schema().options(fraud).threshold == 0.5);
  CHECK(std::isnan(p.schema().options(segment).threshold));
  CHECK(p.schema().options(segment).classes == std::vector<std::string>{"a", "b", "c"});
  CHECK(p.schema().options(vigil::Tag{0}).max_values == 8);
  CHECK(p.schema().options(vigil::Tag{0}).cohort);
  CHECK(p.rows() == static_cast<std::uint64_t>(profile_rows));

  // The rows again, from the same inputs.
  std::vector<double> age, income, fraud_scores, segment_scores;
  std::uint64_t income_missing = 0, income_bad = 0, country_missing = 0, positive = 0;
  std::map<std::string, std::uint64_t> countries, classes;
  Stream s(9);
  for (int i = 0; i < profile_rows; ++i) {
    const vigil::Observation row = profile_row(schema, i, s);
    age.push_back(row.value(vigil::NumericFeature{0}));
    switch (row.state(vigil::NumericFeature{1})) {
      case vigil::Observation::State::value: income.push_back(row.value(vigil::NumericFeature{1})); break;
      case vigil::Observation::State::bad: ++income_bad; break;
      case vigil::Observation::State::unset: ++income_missing; break;
    }
    if (row.has(vigil::CategoricalFeature{0})) {
      ++countries[std::string(row.value(vigil::CategoricalFeature{0}))];
    } else {
      ++country_missing;
    }
    if (row.has_score(fraud)) {
      fraud_scores.push_back(row.score(fraud));
      positive += row.score(fraud) >= 0.5;
    }
    segment_scores.push_back(row.score(segment));
    ++classes[std::string(row.predicted(segment))];
  }
  CHECK(income_bad == 11);
  CHECK(income_missing == 14);

  const auto check_numeric = [](const vigil::TDigest<>& digest, const vigil::RunningStats& stats, std::vector<double> values) {
    std::sort(values.begin(), values.end());
    double sum = 0;
    for (double v : values) sum += v;
    CHECK(digest.count() == static_cast<double>(values.size()));
    CHECK(digest.compression() == 200);
    CHECK(digest.min() == values.front());
    CHECK(digest.max() == values.back());
    CHECK(stats.count() == static_cast<double>(values.size()));
    CHECK(relatively_close(stats.mean(), sum / static_cast<double>(values.size()), 1e-12));
    std::vector<Weighted> weighted;
    for (double v : values) weighted.push_back({v, 1});
    CHECK(Exact(weighted).rank_error(digest.quantile(0.5), 0.5) <= 0.01);
  };
  const auto& a = p.numeric(vigil::NumericFeature{0});
  CHECK(a.missing == 0);
  CHECK(a.bad == 0);
  check_numeric(a.digest, a.stats, age);
  const auto& b = p.numeric(vigil::NumericFeature{1});
  CHECK(b.missing == income_missing);
  CHECK(b.bad == income_bad);
  check_numeric(b.digest, b.stats, income);

  const vigil::CategoryCounts& country = p.categorical(vigil::CategoricalFeature{0}).counts;
  CHECK(country.capacity() == profile_category_capacity);
  CHECK(country.exact());
  CHECK(country.missing() == country_missing);
  CHECK(country.size() == countries.size());
  for (const auto& [value, count] : countries) CHECK(country.estimate(value).count == count);

  const auto& f = p.output(fraud);
  CHECK(f.missing == static_cast<std::uint64_t>(profile_rows) - fraud_scores.size());
  check_numeric(f.digest, f.stats, fraud_scores);
  CHECK(f.classes.capacity() == 64);
  CHECK(f.classes.estimate("positive").count == positive);
  CHECK(f.classes.estimate("negative").count == fraud_scores.size() - positive);
  const auto& g = p.output(segment);
  CHECK(g.missing == 0);
  check_numeric(g.digest, g.stats, segment_scores);
  CHECK(g.classes.size() == 3);
  for (const auto& [value, count] : classes) CHECK(g.classes.estimate(value).count == count);
}
}  // namespace

TEST_CASE("frozen formats: Profile of every kind of feature and output, version 1 (no checksum)", "[io][fixtures]") {
  // Version 2 writes the same content, sealed: decoding and re-encoding gives the version 2
  // fixture, not these bytes.
  const auto p = vigil::Profile::deserialize(read_fixture("profile_v1.vigil"));
  CHECK(flags_of("profile_v1.vigil") == 0);
  check_profile(p);
  CHECK(p.serialize() == read_fixture("profile_v2.vigil"));
}

TEST_CASE("frozen formats: Profile of every kind of feature and output, version 2 (sealed by a CRC-32C)", "[io][fixtures]") {
  const auto p = decode<vigil::Profile>("profile_v2.vigil");
  check_profile(p);
  CHECK(flags_of("profile_v2.vigil") == vigil::io::sealed_flag);
  const std::vector<std::uint8_t> bytes = read_fixture("profile_v2.vigil");
  const std::vector<std::uint8_t> v1 = read_fixture("profile_v1.vigil");
  // The content of version 1 after the header, then the checksum of everything before it.
  REQUIRE(bytes.size() == v1.size() + vigil::io::trailer_size);
  CHECK(std::equal(v1.begin() + vigil::io::header_size, v1.end(), bytes.begin() + vigil::io::header_size));
  const std::size_t body = v1.size();
  const std::uint32_t crc = vigil::io::crc32c(bytes.data(), body);
  CHECK((bytes[body] | bytes[body + 1] << 8 | bytes[body + 2] << 16 | std::uint32_t{bytes[body + 3]} << 24) == crc);
}

TEST_CASE("frozen formats: Profile with the labels of a holdout, version 3", "[io][fixtures]") {
  const auto p = decode<vigil::Profile>("profile_v3_labelled.vigil");
  check_profile(p);
  CHECK(flags_of("profile_v3_labelled.vigil") == vigil::io::sealed_flag);
  CHECK(read_fixture("profile_v3_labelled.vigil")[4] == 3);  // the format version
  // The labels, counted again from the fixture's recipe.
  const vigil::Schema schema = profile_schema();
  Stream s(9);
  double tp = 0, fp = 0, fn = 0, tn = 0, unscored = 0, fraud = 0, segment = 0, correct = 0;
  std::uint64_t bad = 0;
  static const char* const classes[3] = {"a", "b", "c"};
  for (int i = 0; i < profile_rows; ++i) {
    const vigil::Observation row = profile_row(schema, i, s);
    if (i % 4 == 0) {
      ++segment;
      correct += row.predicted(vigil::Output{1}) == classes[(i / 4) % 3];
    }
    if (i % 29 == 0) {
      ++bad;
      continue;
    }
    if (i % 19 == 0) continue;
    ++fraud;
    if (!row.has_score(vigil::Output{0})) {
      ++unscored;
      continue;
    }
    const bool predicted = row.score(vigil::Output{0}) >= 0.5;
    const bool actual = fraud_label(row, i) == 1;
    tp += predicted && actual;
    fp += predicted && !actual;
    fn += !predicted && actual;
    tn += !predicted && !actual;
  }
  const vigil::detail::LabelStats& f = p.output(vigil::Output{0}).labels;
  CHECK(p.output(vigil::Output{0}).bad_labels == bad);
  CHECK(f.labelled == fraud);
  CHECK(f.unscored == unscored);
  CHECK(f.true_positive == tp);
  CHECK(f.false_positive == fp);
  CHECK(f.false_negative == fn);
  CHECK(f.true_negative == tn);
  CHECK(f.positive_scores.count() == tp + fn);
  CHECK(f.log_loss.count() == tp + fp + fn + tn);
  const vigil::detail::LabelStats& g = p.output(vigil::Output{1}).labels;
  CHECK(g.labelled == segment);
  CHECK(g.correct == correct);
  CHECK(p.serialize() == read_fixture("profile_v3_labelled.vigil"));
}

namespace {
/// Each input feature's attributions of the holdout, as build_attributed_profile() adds them:
/// the finite values per feature (numeric features first), and the bad ones of all.
struct HoldoutAttributions {
  std::vector<std::vector<double>> finite;
  std::uint64_t bad = 0;
  std::uint64_t rows = 0;

  HoldoutAttributions() : finite(3) {
    const vigil::Schema schema = profile_schema();
    Stream rows_stream(9), shares(10);
    for (int i = 0; i < profile_rows; ++i) {
      const vigil::Observation row = profile_row(schema, i, rows_stream);
      if (!attributed_row(i)) continue;
      ++rows;
      const std::vector<double> v = holdout_attributions(row, i, shares);
      for (std::size_t j = 0; j < v.size(); ++j) {
        if (std::isfinite(v[j])) finite[j].push_back(v[j]);
        else ++bad;
      }
    }
  }
};

/// softplus(m) − y·m: the log-loss of a logistic margin m for the label y.
double logistic_loss(double margin, double y) {
  return (margin > 0 ? margin : 0.0) + std::log1p(std::exp(-std::fabs(margin))) - y * margin;
}
}  // namespace

TEST_CASE("frozen formats: Profile with a holdout's loss attributions and a loss model, version 4", "[io][fixtures]") {
  const std::string file = "profile_v4_attributed.vigil";
  const auto p = decode<vigil::Profile>(file);
  check_profile(p);
  const std::vector<std::uint8_t> bytes = read_fixture(file);
  CHECK(flags_of(file) == vigil::io::sealed_flag);
  CHECK(bytes[4] == 4);  // the format version
  // The content of the labelled profile of version 3, byte for byte, then what version 4 adds
  // (what it holds: 1 the attributions + 2 a loss model), then the checksum of all before it.
  const std::vector<std::uint8_t> v3 = read_fixture("profile_v3_labelled.vigil");
  const std::size_t labelled = v3.size() - vigil::io::trailer_size;
  REQUIRE(bytes.size() > v3.size());
  CHECK(std::equal(v3.begin() + vigil::io::header_size, v3.begin() + static_cast<std::ptrdiff_t>(labelled),
                   bytes.begin() + vigil::io::header_size));
  CHECK(bytes[labelled] == 3);
  const std::size_t body = bytes.size() - vigil::io::trailer_size;
  CHECK((bytes[body] | bytes[body + 1] << 8 | bytes[body + 2] << 16 | std::uint32_t{bytes[body + 3]} << 24) ==
        vigil::io::crc32c(bytes.data(), body));
  const auto labelled_profile = vigil::Profile::deserialize(v3);
  for (std::uint32_t o = 0; o < 2; ++o) {
    CHECK(p.output(vigil::Output{o}).bad_labels == labelled_profile.output(vigil::Output{o}).bad_labels);
    CHECK(p.output(vigil::Output{o}).labels == labelled_profile.output(vigil::Output{o}).labels);
  }
  CHECK_FALSE(labelled_profile.has_attributions());
  CHECK_FALSE(labelled_profile.loss_model().has_value());

  // The attributions again, from the same inputs: set after the labels, the loss model added none.
  const HoldoutAttributions expected;
  CHECK(expected.rows == 219);
  CHECK(expected.bad == 77);  // 24 rows without an income, 3 values each, and 5 incomes' −inf
  REQUIRE(p.has_attributions());
  CHECK(p.attribution_bad_values() == expected.bad);
  REQUIRE(p.attributions().size() == 3);
  for (std::size_t j = 0; j < 3; ++j) {
    INFO("feature " << j);
    const vigil::RunningStats& a = p.attributions()[j];
    const std::vector<double>& values = expected.finite[j];
    // Multiples of 1/256 below 1 in size: their sums are exact.
    double sum = 0, squares = 0;
    for (double v : values) sum += v;
    const double mean = sum / static_cast<double>(values.size());
    for (double v : values) squares += (v - mean) * (v - mean);
    CHECK(a.count() == static_cast<double>(values.size()));
    CHECK(values.size() == expected.rows - 24 - (j == 1 ? 5 : 0));
    CHECK(a.rejected() == 0);
    CHECK(a.min() == *std::min_element(values.begin(), values.end()));
    CHECK(a.max() == *std::max_element(values.begin(), values.end()));
    CHECK(std::fabs(a.mean() - mean) <= 1e-15);
    CHECK(relatively_close(a.variance(), squares / static_cast<double>(values.size() - 1), 1e-12));
  }

  // The loss model, exactly as set.
  REQUIRE(p.loss_model().has_value());
  const vigil::LossAttribution& model = *p.loss_model();
  CHECK(model.model().link == vigil::LinkFunction::logistic);
  CHECK(model.model().weights == holdout_loss_model().weights);
  CHECK(model.model().intercept == holdout_loss_model().intercept);
  CHECK(model.background() == loss_background());
  CHECK(model.background_rows() == 4);
  // It attributes as a loss model: a row's shares add up to its loss minus the background's
  // mean loss, and a categorical feature gets 0.
  const vigil::Schema schema = profile_schema();
  vigil::Observation row(schema);
  row.set(vigil::NumericFeature{0}, 40);
  row.set(vigil::NumericFeature{1}, 8192);
  row.set(vigil::CategoricalFeature{0}, "FR");
  double shares[3];
  REQUIRE(p.loss_attributions(row, 1, shares));
  double background_loss = 0;
  for (std::size_t r = 0; r < 4; ++r)
    background_loss += logistic_loss(-0.75 + loss_background()[2 * r] / 64 - loss_background()[2 * r + 1] / 65536, 1) / 4;
  CHECK(shares[0] + shares[1] == Approx(logistic_loss(-0.25, 1) - background_loss).epsilon(1e-12));
  CHECK(shares[2] == 0);
}

TEST_CASE("frozen formats: an interval summary of every monitor family", "[io][fixtures]") {
  using vigil::detail::FeatureFamily;
  using vigil::detail::LatencyFamily;
  using vigil::detail::OutputFamily;
  using vigil::detail::TrafficFamily;
  const std::vector<std::uint8_t> bytes = read_fixture("interval_summary_v1.vigil");
  const vigil::detail::MonitorPlan plan = summary_plan();
  const auto s = vigil::detail::IntervalSummary::deserialize(bytes, plan);
  // Its output state is of format version 1, re-encoded in the current version: the same
  // summary as the inputs give today (they have no NaN or infinite score).
  CHECK(s == build_summary());
  CHECK(s.serialize() == build_summary().serialize());
  CHECK(s.requests == static_cast<std::uint64_t>(summary_requests));
  CHECK(s.arrivals == summary_arrivals);

  // The requests again, from the same inputs.
  const vigil::Schema schema = profile_schema();
  std::uint64_t errors = 0, timeouts = 0, latencies = 0, bad_latencies = 0, slow = 0, unseen = 0, scored = 0;
  std::uint64_t host_requests[3] = {0, 0, 0}, host_slow[3] = {0, 0, 0};
  Stream stream(21);
  for (int i = 0; i < summary_requests; ++i) {
    const SummaryRequest r = summary_request(schema, i, stream);
    const vigil::Observation& o = r.observation;
    errors += o.status() == vigil::RequestStatus::error;
    timeouts += o.status() == vigil::RequestStatus::timeout;
    unseen += o.has(vigil::CategoricalFeature{0}) && o.value(vigil::CategoricalFeature{0}) == "XX";
    scored += o.has_score(vigil::Output{0});
    if (!o.has_latency()) continue;
    if (o.latency() < 0) {
      ++bad_latencies;
      continue;
    }
    ++latencies;
    slow += o.latency() > summary_slow;
    if (r.host == vigil::detail::no_tag) continue;
    ++host_requests[r.host];
    host_slow[r.host] += o.latency() > summary_slow;
  }
  const auto& traffic = s.state<TrafficFamily>();
  CHECK(traffic.count(vigil::RequestStatus::error) == errors);
  CHECK(traffic.count(vigil::RequestStatus::timeout) == timeouts);
  CHECK(traffic.count(vigil::RequestStatus::ok) == summary_requests - errors - timeouts);
  const auto& latency = s.state<LatencyFamily>();
  CHECK(latency.latency.count() == latencies);
  CHECK(latency.bad_latency == bad_latencies);
  CHECK(latency.slow == slow);
  CHECK(latency.latency.min() == 0.010);
  CHECK(latency.latency.max() == 0.049);
  for (std::uint32_t h = 0; h < 3; ++h) {
    CHECK(latency.tag_requests[h] == host_requests[h]);
    CHECK(latency.tag_slow[h] == host_slow[h]);
  }
  const auto& features = s.state<FeatureFamily>();
  const auto& fp = plan.of<FeatureFamily>();
  REQUIRE(fp.numeric.size() == 2);
  CHECK(features.binned(fp.numeric[0]) == static_cast<std::uint64_t>(summary_requests));  // age: always set
  CHECK(features.numeric_totals(fp.numeric[1], 1).bad == 6);                             // income: NaN every 23rd
  const auto country = features.categorical_totals(fp.categorical[0], s.requests);
  CHECK(country.unseen == unseen);
  REQUIRE_FALSE(features.unseen[0].entries().empty());
  CHECK(features.unseen[0].entries()[0].value == "XX");
  const auto& outputs = s.state<OutputFamily>();
  CHECK(outputs.scores[0].count() == static_cast<double>(scored));
  CHECK(outputs.scores[1].count() == summary_requests);
  CHECK(outputs.totals(plan.of<OutputFamily>().outputs[0], s.requests).missing == summary_requests - scored);
}

TEST_CASE("frozen formats: an interval summary whose output state is of format version 2", "[io][fixtures]") {
  using vigil::detail::OutputFamily;
  const std::vector<std::uint8_t> bytes = read_fixture("interval_summary_v1_output_state_v2.vigil");
  const vigil::detail::MonitorPlan plan = summary_plan();
  const auto s = vigil::detail::IntervalSummary::deserialize(bytes, plan);
  CHECK(s.serialize() == bytes);
  CHECK(s.requests == static_cast<std::uint64_t>(summary_requests));

  const vigil::Schema schema = profile_schema();
  std::uint64_t finite = 0, non_finite = 0, absent = 0;
  Stream stream(21);
  for (int i = 0; i < summary_requests; ++i) {
    const vigil::Observation& o = non_finite_summary_request(schema, i, stream).observation;
    const vigil::Output fraud{0};
    if (!o.has_score(fraud)) {
      ++absent;
    } else if (std::isfinite(o.score(fraud))) {
      ++finite;
    } else {
      ++non_finite;
    }
  }
  CHECK(non_finite == 14);  // 7 NaN, 4 +inf and 3 -inf
  const auto& outputs = s.state<OutputFamily>();
  const auto fraud = outputs.totals(plan.of<OutputFamily>().outputs[0], s.requests);
  CHECK(fraud.count == finite);
  CHECK(fraud.non_finite == non_finite);
  CHECK(fraud.missing == absent);
  CHECK(outputs.non_finite[1] == 0);
  CHECK(outputs.scores[0].count() == static_cast<double>(finite));
}

namespace {
/// The (family id, state version) pairs of a serialised interval summary, in their order.
std::vector<std::pair<int, int>> summary_families(const std::vector<std::uint8_t>& bytes) {
  vigil::io::Reader r(bytes.data(), bytes.size(), "interval summary");
  std::uint16_t flags = 0;
  r.header(vigil::io::TypeId::interval_summary, 1, flags);
  r.varint();  // requests
  r.varint();  // arrivals
  std::vector<std::pair<int, int>> families;
  for (std::size_t i = 0, m = r.count(3); i < m; ++i) {
    const int id = r.u8();
    const int version = r.u8();
    families.emplace_back(id, version);
    for (std::size_t n = r.count(1); n > 0; --n) r.u8();
  }
  r.finish();
  return families;
}

/// What one shadow of the canary summary should hold, from its inputs, and the requests it
/// should keep, ordered as detail::deviates_more orders them (here written again).
struct ExpectedShadow {
  struct Kept {
    double deviation, time, champion, other;
    std::string id;
  };
  std::uint64_t compared = 0, disagreements = 0, missing = 0, non_finite = 0, champion_missing = 0;
  std::vector<double> deviations, from_canary;
  std::vector<Kept> offered;

  void add(const vigil::Observation& o, vigil::Output shadow, double time) {
    const vigil::Output fraud{0}, canary{2};
    const bool has_champion = o.has_score(fraud) && std::isfinite(o.score(fraud));
    if (!o.has_score(shadow)) {
      missing += has_champion;
    } else if (!std::isfinite(o.score(shadow))) {
      non_finite += has_champion;
    } else if (!has_champion) {
      ++champion_missing;
    } else {
      const double c = o.score(fraud), v = o.score(shadow);
      ++compared;
      disagreements += (c >= 0.5) != (v >= 0.5);
      deviations.push_back(std::fabs(v - c));
      if (shadow.index == 3 /* the challenger */ && o.has_score(canary) && std::isfinite(o.score(canary)))
        from_canary.push_back(std::fabs(v - o.score(canary)));
      offered.push_back({std::fabs(v - c), time, c, v, o.has_id() ? o.id() : std::string()});
    }
  }
  std::vector<Kept> top(std::size_t k) const {
    std::vector<Kept> sorted = offered;
    std::sort(sorted.begin(), sorted.end(), [](const Kept& a, const Kept& b) {
      if (a.deviation != b.deviation) return a.deviation > b.deviation;
      if (a.time != b.time) return a.time < b.time;
      if (a.id != b.id) return a.id < b.id;
      if (a.champion != b.champion) return a.champion < b.champion;
      return a.other < b.other;
    });
    sorted.resize(std::min(k, sorted.size()));
    return sorted;
  }
};

void check_shadow(const vigil::detail::ShadowState& s, const ExpectedShadow& e) {
  CHECK(s.compared == e.compared);
  CHECK(s.classified == e.compared);  // by the threshold: every compared request has classes
  CHECK(s.disagreements == e.disagreements);
  CHECK(s.missing == e.missing);
  CHECK(s.non_finite == e.non_finite);
  CHECK(s.champion_missing == e.champion_missing);
  const auto [low, high] = std::minmax_element(e.deviations.begin(), e.deviations.end());
  CHECK(s.deviation.count() == static_cast<double>(e.compared));
  CHECK(s.deviation.min() == *low);
  CHECK(s.deviation.max() == *high);
  double sum = 0;
  for (double d : e.deviations) sum += d;
  CHECK(relatively_close(s.deviation.mean(), sum / static_cast<double>(e.compared), 1e-12));
  CHECK(s.histogram.options() == vigil::detail::CanaryPlan::deviation_histogram_options());
  CHECK(s.histogram.count() == e.compared);
  CHECK(s.histogram.min() == *low);
  CHECK(s.histogram.max() == *high);
  CHECK(s.from_canary.count() == static_cast<double>(e.from_canary.size()));
  if (!e.from_canary.empty())
    CHECK(s.from_canary.max() == *std::max_element(e.from_canary.begin(), e.from_canary.end()));
  // More requests compared than kept: the most deviating, ties to the earlier.
  CHECK(s.top.capacity() == canary_summary_top);
  const std::vector<ExpectedShadow::Kept> top = e.top(canary_summary_top);
  const std::vector<vigil::detail::Deviation> kept = s.top.sorted();
  REQUIRE(kept.size() == canary_summary_top);
  REQUIRE(top.size() == canary_summary_top);
  bool with_id = false, without_id = false;
  for (std::size_t k = 0; k < kept.size(); ++k) {
    INFO("kept request " << k);
    CHECK(kept[k].deviation == top[k].deviation);
    CHECK(kept[k].time == top[k].time);
    CHECK(kept[k].champion == top[k].champion);
    CHECK(kept[k].other == top[k].other);
    CHECK(kept[k].id_view() == top[k].id);
    with_id = with_id || kept[k].length > 0;
    without_id = without_id || kept[k].length == 0;
  }
  CHECK(with_id);
  CHECK(without_id);
}

// The canary summary's state as read from `file` (either version of the canary state), checked
// against the requests it was built from.
void check_canary_summary(const std::string& file) {
  using vigil::detail::CanaryFamily;
  using vigil::detail::ConversionFamily;
  using vigil::detail::OutputFamily;
  using vigil::detail::QualityFamily;
  const std::vector<std::uint8_t> bytes = read_fixture(file);
  const vigil::detail::MonitorPlan plan = canary_summary_plan();
  const auto s = vigil::detail::IntervalSummary::deserialize(bytes, plan);
  CHECK(s.requests == static_cast<std::uint64_t>(summary_requests));
  CHECK(s.arrivals == summary_arrivals);

  // The requests again, from the same inputs.
  const vigil::Schema schema = canary_schema();
  ExpectedShadow canary, challenger;
  std::uint64_t identified = 0, champion_not_finite = 0;
  std::vector<std::uint64_t> impressions(10, 0);  // host values 0 … 7, "other", then no host
  Stream stream(21), shadows(22);
  for (int i = 0; i < summary_requests; ++i) {
    const SummaryRequest r = canary_summary_request(schema, i, stream, shadows);
    const vigil::Observation& o = r.observation;
    canary.add(o, vigil::Output{2}, canary_request_time(i));
    challenger.add(o, vigil::Output{3}, canary_request_time(i));
    champion_not_finite += o.has_score(vigil::Output{0}) && !std::isfinite(o.score(vigil::Output{0}));
    if (!o.has_id()) continue;
    ++identified;
    ++impressions[r.host == vigil::detail::no_tag ? 9 : r.host];
  }
  const auto& state = s.state<CanaryFamily>();
  REQUIRE(state.shadows.size() == 2);
  const auto& canary_plan = plan.of<CanaryFamily>();
  REQUIRE(canary_plan.shadows.size() == 2);
  CHECK(canary_plan.shadows[0].name == "fraud_canary");
  CHECK(canary_plan.shadows[1].name == "fraud_challenger");
  CHECK(canary_plan.shadows[1].canary == 2);  // a challenger is measured against the canary too
  {
    INFO("canary");
    check_shadow(state.shadows[0], canary);
    CHECK(canary.compared == 86);
    CHECK(canary.disagreements == 8);
    CHECK(canary.missing == 10);
    CHECK(canary.non_finite == 11);
    CHECK(canary.champion_missing == 12);
    CHECK(canary.from_canary.empty());
    // Five spikes of about 1/2, more than are kept; the id of 256 bytes is among those kept.
    bool long_id = false;
    for (const vigil::detail::Deviation& d : state.shadows[0].top.sorted())
      long_id = long_id || d.length == vigil::Observation::max_id_bytes;
    CHECK(long_id);
  }
  {
    INFO("challenger");
    check_shadow(state.shadows[1], challenger);
    CHECK(challenger.compared == 82);
    CHECK(challenger.disagreements == 16);
    CHECK(challenger.missing == 16);
    CHECK(challenger.non_finite == 9);
    CHECK(challenger.champion_missing == 12);
    CHECK(challenger.from_canary.size() == 66);
  }
  // The shadows are left out of the output family; the champion's NaN scores are counted there.
  const auto& outputs = s.state<OutputFamily>();
  CHECK(outputs.scores.size() == 2);
  CHECK(champion_not_finite == 3);
  CHECK(outputs.non_finite[0] == champion_not_finite);
  // The ids fill the quality state and the conversions state (impressions per host value).
  CHECK(identified == 80);
  CHECK(s.state<QualityFamily>().identified == identified);
  CHECK(s.state<ConversionFamily>().impressions == impressions);
}
}  // namespace

TEST_CASE("frozen formats: an interval summary with the canary state of a canary and a challenger", "[io][fixtures]") {
  const std::string file = "interval_summary_v1_canary_state_v2.vigil";
  const std::vector<std::uint8_t> bytes = read_fixture(file);
  const auto s = vigil::detail::IntervalSummary::deserialize(bytes, canary_summary_plan());
  CHECK(s.serialize() == bytes);
  CHECK(s == build_canary_summary());
  CHECK(flags_of(file) == 0);
  CHECK(bytes[4] == 1);  // the format version
  // Every family's state but the attribution family's (7), which keeps none in an interval:
  // traffic, latency, features, outputs (version 2), then quality and conversions (requests
  // with ids) in version 1, and canary in version 2.
  const std::vector<std::pair<int, int>> families = {{2, 1}, {3, 1}, {0, 1}, {1, 2}, {4, 1}, {5, 1}, {6, 2}};
  CHECK(summary_families(bytes) == families);
  check_canary_summary(file);
}

TEST_CASE("frozen formats: the canary state of version 1 (deviations in a t-digest) still reads", "[io][fixtures]") {
  using vigil::detail::CanaryFamily;
  const std::string file = "interval_summary_v1_canary_state_v1.vigil";
  const std::vector<std::uint8_t> bytes = read_fixture(file);
  const std::vector<std::pair<int, int>> families = {{2, 1}, {3, 1}, {0, 1}, {1, 2}, {4, 1}, {5, 1}, {6, 1}};
  CHECK(summary_families(bytes) == families);
  check_canary_summary(file);
  // The digest's centroids become the histogram: every figure but the histogram's buckets is
  // what the requests give today, and a centroid of several deviations lies within their range,
  // so each quantile stays within the histogram's own bound of today's, widened by the
  // centroids' spread (a fixture of 86 and 82 deviations, whose middle centroids hold two or
  // three).
  auto s = vigil::detail::IntervalSummary::deserialize(bytes, canary_summary_plan());
  const auto today = build_canary_summary();
  const auto& read = s.state<CanaryFamily>().shadows;
  const auto& built = today.state<CanaryFamily>().shadows;
  REQUIRE(read.size() == built.size());
  for (std::size_t i = 0; i < read.size(); ++i) {
    INFO("shadow " << i);
    CHECK(read[i].histogram.count() == built[i].histogram.count());
    CHECK(read[i].histogram.zero_count() == built[i].histogram.zero_count());
    CHECK(read[i].histogram.sum() == Approx(built[i].histogram.sum()).epsilon(1e-12));
    for (double q : {0.0, 0.5, 0.9, 1.0}) CHECK(read[i].histogram.quantile(q) == Approx(built[i].histogram.quantile(q)).epsilon(0.1));
  }
  // Written again, it is version 2 and the same summary once the histograms are today's.
  for (std::size_t i = 0; i < read.size(); ++i) s.state<CanaryFamily>().shadows[i].histogram = built[i].histogram;
  CHECK(s == today);
  CHECK(summary_families(s.serialize()).back() == std::make_pair(6, 2));
}

TEST_CASE("frozen formats: every truncation of the version 4 Profile and of the canary summary is refused", "[io][fixtures]") {
  const std::vector<std::uint8_t> profile = read_fixture("profile_v4_attributed.vigil");
  for (std::size_t n = 0; n < profile.size(); ++n) {
    INFO(n << " of " << profile.size() << " bytes");
    CHECK_THROWS_AS(vigil::Profile::deserialize(profile.data(), n), vigil::format_error);
  }
  // Sealed again once cut, so that the reader, not only the checksum, meets the end early.
  for (std::size_t n = vigil::io::header_size; n < profile.size() - vigil::io::trailer_size; ++n) {
    INFO(n << " of " << profile.size() << " bytes, sealed again");
    std::vector<std::uint8_t> cut(profile.begin(), profile.begin() + static_cast<std::ptrdiff_t>(n));
    vigil::io::seal(cut);
    CHECK_THROWS_AS(vigil::Profile::deserialize(cut), vigil::format_error);
  }
  const vigil::detail::MonitorPlan plan = canary_summary_plan();
  for (const char* file : {"interval_summary_v1_canary_state_v1.vigil", "interval_summary_v1_canary_state_v2.vigil"}) {
    const std::vector<std::uint8_t> summary = read_fixture(file);
    for (std::size_t n = 0; n < summary.size(); ++n) {
      INFO(file << ": " << n << " of " << summary.size() << " bytes");
      CHECK_THROWS_AS(vigil::detail::IntervalSummary::deserialize(summary.data(), n, plan), vigil::format_error);
    }
  }
}

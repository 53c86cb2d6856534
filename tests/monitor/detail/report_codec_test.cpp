#include "vigil/monitor/detail/report_codec.hpp"

#include <vigil/export/json.hpp>
#include <vigil/io/binary.hpp>
#include <vigil/monitor/monitor.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <map>
#include <set>
#include <string>
#include <type_traits>
#include <typeindex>
#include <typeinfo>
#include <utility>
#include <vector>

#include "export/report_fixture.hpp"
#include "vigil_test.hpp"

namespace report_codec_test {  // named: the files of a tests/ folder may compile as one unit
namespace {

using Bytes = std::vector<std::uint8_t>;

// ---- Members counted: each struct's list against the struct itself -------------------------

// Stands for any member in an aggregate initialisation: T{AnyMember{}, ...} compiles while
// there are at most as many initialisers as T has members.
struct AnyMember {
  template <class T>
  operator T() const;
};

template <class T, class Indices, class = void>
struct BracesFit : std::false_type {};
template <class T, std::size_t... I>
struct BracesFit<T, std::index_sequence<I...>, std::void_t<decltype(T{(static_cast<void>(I), AnyMember{})...})>>
    : std::true_type {};

// The number of members of an aggregate: the most initialisers its braces take.
template <class T, std::size_t N = 0>
constexpr std::size_t member_count() {
  if constexpr (BracesFit<T, std::make_index_sequence<N + 1>>::value) {
    return member_count<T, N + 1>();
  } else {
    return N;
  }
}

struct Three {
  double a = 1;
  std::string b;
  std::vector<std::pair<std::string, std::uint64_t>> c;
};
struct HoldsThree {
  Three three;  // initialised by one AnyMember: no brace elision into its members
  std::uint64_t n = 0;
};
static_assert(member_count<Three>() == 3, "member_count counts an aggregate's members");
static_assert(member_count<HoldsThree>() == 2, "member_count counts a struct member once");

// Whether T is a struct with a member list (ReportFields<T> is defined).
template <class T, class = void>
struct HasList : std::false_type {};
template <class T>
struct HasList<T, std::void_t<decltype(sizeof(vigil::detail::ReportFields<T>))>> : std::true_type {};

struct CountMembers {
  std::size_t count = 0;
  template <class... Members>
  void operator()(const Members&...) {
    count += sizeof...(Members);
  }
};

// Walks a default Report down through every struct it holds (the element type of each
// vector too), checking that each struct's list names as many members as the struct has.
class ListChecker {
 public:
  std::set<std::type_index> checked;

  template <class... Members>
  void operator()(const Members&... members) {
    (check(members), ...);
  }

 private:
  template <class T>
  void check(const std::vector<T>&) {
    check(T{});
  }
  template <class T>
  void check(const T& section) {
    if constexpr (HasList<T>::value) {
      CountMembers listed;
      vigil::detail::ReportFields<T>::visit(listed, section);
      INFO("struct " << typeid(T).name());
      CHECK(listed.count == member_count<T>());
      checked.insert(typeid(T));
      vigil::detail::ReportFields<T>::visit(*this, section);
    }
  }
};

// ---- Round trips ------------------------------------------------------------------------------

Bytes saved(const vigil::Report& report) {
  Bytes bytes;
  vigil::io::Writer w(bytes);
  vigil::detail::save_report(w, report);
  return bytes;
}

vigil::Report loaded(const Bytes& bytes, std::size_t size) {
  vigil::io::Reader r(bytes.data(), size, "report");
  vigil::Report report = vigil::detail::load_report(r);
  CHECK(r.remaining() == 0);
  return report;
}

bool same_bits(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; }

// What the JSON leaves out of an alert: its subject's family, index, cohort numbers and
// names, and whether it is a horizon judgement (JSON has only the subject's text).
void check_subjects(const std::vector<vigil::Alert>& copy, const std::vector<vigil::Alert>& original) {
  REQUIRE(copy.size() == original.size());
  for (std::size_t i = 0; i < copy.size(); ++i) {
    const vigil::Subject& a = copy[i].subject;
    const vigil::Subject& b = original[i].subject;
    CHECK(a == b);
    CHECK(a.name == b.name);
    CHECK(a.cohort.tag_name == b.cohort.tag_name);
    CHECK(a.cohort.value_name == b.cohort.value_name);
  }
}

// Loads what save_report wrote and checks that nothing was lost: the same JSON, the same
// bytes when saved again (every double to the bit), and the members JSON does not show.
void check_round_trip(const vigil::Report& original) {
  const Bytes bytes = saved(original);
  const vigil::Report copy = loaded(bytes, bytes.size());
  CHECK(vigil::to_json(copy) == vigil::to_json(original));
  CHECK(saved(copy) == bytes);
  CHECK(copy.latency.since_start == original.latency.since_start);
  REQUIRE(copy.cohorts.size() == original.cohorts.size());
  for (std::size_t i = 0; i < copy.cohorts.size(); ++i)
    CHECK(copy.cohorts[i].latency.since_start == original.cohorts[i].latency.since_start);
  check_subjects(copy.open_alerts, original.open_alerts);
  check_subjects(copy.alert_log, original.alert_log);
}

// ---- A rich report from a real Monitor ------------------------------------------------------

constexpr double start_time = 1767225600;  // 2026-01-01T00:00:00Z, long before the wall clock

double sigmoid(double z) { return 1 / (1 + std::exp(-z)); }

// A binary classifier of two numeric features and a categorical one, with a canary and a
// challenger scored beside it, a cohort tag (host) and the tag of an experiment's arms.
struct Shop {
  vigil::Schema schema;
  vigil::NumericFeature amount, age;
  vigil::CategoricalFeature channel{0};
  vigil::Output score, canary, challenger;
  vigil::Tag host, arm;

  Shop() {
    amount = schema.add_numeric("amount");
    age = schema.add_numeric("age");
    channel = schema.add_categorical("channel");
    score = schema.add_output("score", {{}, 0.5});
    canary = schema.add_canary("score_v1", score);
    challenger = schema.add_challenger("score_v3", score);
    vigil::TagOptions cohort;
    cohort.cohort = true;
    cohort.max_values = 4;
    host = schema.add_tag("host", cohort);
    vigil::TagOptions arms;
    arms.max_values = 4;
    arm = schema.add_tag("arm", arms);
  }

  static double probability(double amount, double age, bool web) {
    return sigmoid((amount - 100) / 40 + (age - 40) / 20 + (web ? 0.5 : -0.5));
  }
  // Each feature's share of the log-loss of label y (numeric features first, then channel).
  static std::vector<double> attributions(double amount, double age, double p, double y) {
    return {(amount - 100) / 40 * (p - y), (age - 40) / 20 * (p - y), 0.25 * (p - y)};
  }

  // A labelled holdout with its attributions; the training schema has no shadows or tags.
  vigil::Profile profile() const {
    vigil::Schema training;
    const auto t_amount = training.add_numeric("amount");
    const auto t_age = training.add_numeric("age");
    const auto t_channel = training.add_categorical("channel");
    const auto t_score = training.add_output("score", {{}, 0.5});
    vigil::Profile p(training);
    vigil::Observation o(training);
    vigil_test::Random random(5);
    for (int i = 0; i < 4000; ++i) {
      const double a = 100 + 40 * random.normal(), g = 40 + 20 * random.normal();
      const bool web = i % 2 == 0;
      const double s = probability(a, g, web);
      const double y = random.uniform() < s ? 1 : 0;
      o.clear();
      o.set(t_amount, a).set(t_age, g).set(t_channel, web ? "web" : "app").score(t_score, s);
      p.add_labelled(o, t_score, y);
      p.add_attributions(attributions(a, g, s, y));
    }
    return p;
  }
};

vigil::MonitorOptions shop_options() {
  vigil::MonitorOptions o;
  o.evaluate_in_observe = true;
  o.shards = 2;
  o.background = 1800;
  o.latency_window = 300;
  o.latency_background = 3600;
  o.quality_interval = 60;
  o.quality_window = 600;
  o.label_time_to_live = 900;
  o.attribution_background = 1800;
  o.conversion_arm = "arm";
  o.conversion_interval = 60;
  o.label_samples = 4;
  o.canary_top = 4;
  o.alert_log = 64;
  o.alerts.min_labels = 50;
  return o;
}

// What the shop's replay leaves: a report every ten minutes and the last one.
struct ShopRun {
  std::vector<vigil::Report> reports;
  vigil::Report last;
};

// A label (with attributions) or a response to an impression, due at its time.
struct Late {
  std::string id;
  double y;  // NaN: a conversion
  std::vector<double> attributions;
};

// Delivers what is due by `t`: labels and conversions in time order.
void deliver(vigil::Monitor& m, std::multimap<double, Late>& due, double t) {
  while (!due.empty() && due.begin()->first <= t) {
    const double when = due.begin()->first;
    const Late& late = due.begin()->second;
    if (std::isnan(late.y)) m.on_conversion(late.id, when);
    else m.on_label(late.id, late.y, when, late.attributions);
    due.erase(due.begin());
  }
}

// Minutes 30 to 40: amount arrives in cents and channel gains an unseen value; from
// minute 30 host h3 is ten times slower; from minute 40 the champion turns (1 − p) while
// its canary does not, so labels judge it worse. Nine requests in ten are labelled 30 s
// later, one in four converts (arm B more often).
void replay_minute(vigil::Monitor& m, const Shop& shop, int minute, vigil_test::Random& random,
                   std::multimap<double, Late>& due) {
  const char* hosts[] = {"h1", "h2", "h3"};
  vigil::Observation o(shop.schema);
  for (int i = 0; i < 120; ++i) {
    const double t = start_time + minute * 60 + i * 0.5;
    deliver(m, due, t);
    const double a = 100 + 40 * random.normal(), g = 40 + 20 * random.normal();
    const bool web = i % 3 != 0;
    const double p = Shop::probability(a, g, web);
    const double y = random.uniform() < p ? 1 : 0;
    const bool units = minute >= 30 && minute < 40;
    const double champion = minute >= 40 ? 1 - p : p;
    const std::string id = "m" + std::to_string(minute) + "-" + std::to_string(i);
    const bool slow = minute >= 30 && i % 3 == 2;
    o.clear();
    o.at(t).id(id).set(shop.amount, units ? 100 * a : a).set(shop.age, g);
    o.set(shop.channel, units && i % 5 == 0 ? "kiosk" : (web ? "web" : "app"));
    o.score(shop.score, champion).score(shop.canary, std::clamp(p + 0.02 * random.normal(), 0.0, 1.0));
    o.score(shop.challenger, std::clamp(p + 0.1 * random.normal(), 0.0, 1.0));
    o.tag(shop.host, hosts[i % 3]).tag(shop.arm, i % 2 == 0 ? "A" : "B");
    o.latency((slow ? 10 : 1) * 0.02 * (1 + random.uniform()));
    m.observe(o);
    if (i % 10 != 9) due.emplace(t + 30, Late{id, y, Shop::attributions(a, g, champion, y)});
    if (random.uniform() < (i % 2 == 0 ? 0.2 : 0.3))
      due.emplace(t + 20 + 200 * random.uniform(), Late{id, std::nan(""), {}});
  }
}

ShopRun shop_run() {
  const Shop shop;
  vigil::Monitor m(shop.schema, shop.profile(), shop_options());
  ShopRun run;
  int evaluated = 0;
  m.on_interval([&](const vigil::Report& r) {
    if (++evaluated % 10 == 0) run.reports.push_back(r);
  });
  vigil_test::Random random(17);
  std::multimap<double, Late> due;
  for (int minute = 0; minute < 60; ++minute) replay_minute(m, shop, minute, random, due);
  m.on_label("never-seen", 1.0, start_time + 3599);
  deliver(m, due, start_time + 3600);
  run.last = m.report(start_time + 3600);
  run.reports.push_back(run.last);
  return run;
}

const ShopRun& shared_shop_run() {
  static const ShopRun run = shop_run();
  return run;
}

// A report of default members only, each vector holding default elements: every element
// at its shortest, so each count is checked against exactly the bytes its elements take.
vigil::Report shortest_elements() {
  vigil::Report r;
  r.features.resize(2);
  r.outputs.resize(1);
  r.outputs[0].classes.resize(2);
  r.outputs[0].class_share.resize(2);
  r.cohorts.resize(2);
  r.cohorts[1].features.resize(1);
  r.cohorts[1].canary.resize(1);
  r.latency.attribution.resize(1);
  r.quality.metrics.resize(1);
  r.quality.intervals.resize(1);
  r.conversions.arms.resize(1);
  r.samples.near_threshold.resize(1);
  r.canary.resize(1);
  r.canary[0].top.resize(2);
  r.attribution.resize(1);
  r.open_alerts.resize(1);
  r.alert_log.resize(3);
  return r;
}

// The offset of the first byte at which the saved forms of two reports differ.
std::size_t first_difference(const vigil::Report& a, const vigil::Report& b) {
  const Bytes x = saved(a), y = saved(b);
  const auto where = std::mismatch(x.begin(), x.end(), y.begin(), y.end());
  REQUIRE(where.first != x.end());
  return static_cast<std::size_t>(where.first - x.begin());
}

// The message load_report throws for `bytes`, or "(nothing thrown)".
std::string refusal(const Bytes& bytes) {
  try {
    loaded(bytes, bytes.size());
  } catch (const vigil::format_error& e) {
    return e.what();
  }
  return "(nothing thrown)";
}

}  // namespace

TEST_CASE("report codec: every member of every struct of a Report is in its struct's list", "[report_codec]") {
  ListChecker checker;
  checker(vigil::Report{});
  CHECK(checker.checked.count(typeid(vigil::Report)) == 1);
  CHECK(checker.checked.count(typeid(vigil::CanaryRequest)) == 1);  // Report → canary → top
  CHECK(checker.checked.count(typeid(vigil::QualityInterval)) == 1);  // Report → cohorts → quality → intervals
  CHECK(checker.checked.count(typeid(vigil::LabelSample)) == 1);
}

TEST_CASE("report codec: an empty report round-trips", "[report_codec]") {
  check_round_trip(vigil::Report{});
  check_round_trip(shortest_elements());
}

TEST_CASE("report codec: the reports of a real Monitor with every section round-trip", "[report_codec]") {
  const ShopRun& run = shared_shop_run();
  const vigil::Report& r = run.last;
  // Every section holds something, so that a member read or written wrongly shows.
  REQUIRE(r.features.size() == 3);
  REQUIRE(r.cohorts.size() == 3);
  REQUIRE_FALSE(r.cohorts[0].quality.metrics.empty());
  REQUIRE(r.cohorts[0].canary.size() == 2);
  REQUIRE_FALSE(r.cohorts[0].attribution.empty());
  REQUIRE_FALSE(r.open_alerts.empty());
  REQUIRE(std::any_of(r.alert_log.begin(), r.alert_log.end(), [](const vigil::Alert& a) {
    return a.transition == vigil::Alert::Transition::resolved;
  }));
  REQUIRE(std::any_of(r.alert_log.begin(), r.alert_log.end(), [](const vigil::Alert& a) { return !a.subject.cohort.everyone(); }));
  REQUIRE_FALSE(r.latency.attribution.empty());
  REQUIRE(r.latency.since_start.count() == 60 * 120);
  REQUIRE_FALSE(r.quality.metrics.empty());
  REQUIRE_FALSE(r.quality.estimated.empty());
  REQUIRE_FALSE(r.quality.intervals.empty());
  REQUIRE(r.quality.unknown_ids == 1);
  REQUIRE(r.canary.size() == 2);
  REQUIRE_FALSE(r.canary[0].top.empty());
  REQUIRE(r.canary[1].canary == "score_v1");
  REQUIRE(r.attribution.size() == 3);
  REQUIRE(r.conversions.arms.size() == 2);
  REQUIRE(r.conversions.joined > 0);
  REQUIRE_FALSE(r.samples.lowest_confidence.empty());
  REQUIRE_FALSE(r.samples.near_threshold.empty());
  REQUIRE(run.reports.size() == 7);
  const vigil::Report& fault = run.reports[3];  // of minute 39, the last with amount in cents
  REQUIRE(std::any_of(fault.features.begin(), fault.features.end(), [](const vigil::FeatureReport& f) {
    return !f.unseen_values.empty();
  }));
  for (const vigil::Report& report : run.reports) check_round_trip(report);
}

TEST_CASE("report codec: the export tests' reports round-trip", "[report_codec]") {
  for (const vigil::Report& report : vigil_test::shared_run().reports) check_round_trip(report);
  check_round_trip(vigil_test::awkward_report());
  check_round_trip(vigil_test::operations_report());
  check_round_trip(vigil_test::cohorts_report());
}

TEST_CASE("report codec: doubles keep their bits: NaN payloads, signed zeros, infinities, subnormals", "[report_codec]") {
  const auto from_bits = [](std::uint64_t bits) {
    double x;
    std::memcpy(&x, &bits, sizeof x);
    return x;
  };
  vigil::Report r = shortest_elements();
  r.time = from_bits(0x7ff8000000000123ull);            // a quiet NaN with a payload
  r.recent_start = from_bits(0xfff8000000000000ull);    // a negative NaN
  r.recent_end = -0.0;
  r.horizon_start = std::numeric_limits<double>::denorm_min();
  r.features[0].psi = -std::numeric_limits<double>::infinity();
  r.features[1].psi = std::numeric_limits<double>::max();
  r.cohorts[1].canary[0].rise = from_bits(0x7ff4000000000001ull);  // a signalling NaN
  r.counters.observed = std::numeric_limits<std::uint64_t>::max();
  r.traffic.in_flight = std::numeric_limits<std::int64_t>::min();
  const Bytes bytes = saved(r);
  const vigil::Report copy = loaded(bytes, bytes.size());
  CHECK(same_bits(copy.time, r.time));
  CHECK(same_bits(copy.recent_start, r.recent_start));
  CHECK(same_bits(copy.recent_end, r.recent_end));
  CHECK(same_bits(copy.horizon_start, r.horizon_start));
  CHECK(same_bits(copy.features[0].psi, r.features[0].psi));
  CHECK(same_bits(copy.features[1].psi, r.features[1].psi));
  CHECK(same_bits(copy.cohorts[1].canary[0].rise, r.cohorts[1].canary[0].rise));
  CHECK(copy.counters.observed == r.counters.observed);
  CHECK(copy.traffic.in_flight == r.traffic.in_flight);
  CHECK(saved(copy) == bytes);
}

TEST_CASE("report codec: every truncation is refused with a format_error", "[report_codec]") {
  const Bytes bytes = saved(shared_shop_run().last);
  // Every length up to 4096 bytes and within 4096 of the end; a stride between them.
  const std::size_t stride = std::max<std::size_t>(1, bytes.size() / 1000);
  std::vector<std::size_t> accepted;
  for (std::size_t n = 0; n < bytes.size(); n += (n < 4096 || n + 4096 >= bytes.size()) ? 1 : stride) {
    try {
      loaded(bytes, n);
      accepted.push_back(n);
    } catch (const vigil::format_error&) {
    }
  }
  INFO(bytes.size() << " bytes");
  CHECK(accepted.empty());
}

TEST_CASE("report codec: an enum or flag out of range is refused", "[report_codec]") {
  vigil::Report base = shortest_elements();
  vigil::Report other = base;
  other.status = vigil::Status::alert;
  Bytes bytes = saved(base);
  const std::size_t status = first_difference(base, other);
  bytes[status] = 3;
  CHECK(loaded(bytes, bytes.size()).status == vigil::Status::insufficient_data);
  bytes[status] = 4;
  CHECK(refusal(bytes).find("report status 4 is out of range") != std::string::npos);

  other = base;
  other.canary[0].role = vigil::OutputRole::challenger;
  bytes = saved(base);
  const std::size_t role = first_difference(base, other);
  bytes[role] = 3;
  CHECK(refusal(bytes).find("report output role 3 is out of range") != std::string::npos);

  other = base;
  other.features[1].categorical = true;
  bytes = saved(base);
  bytes[first_difference(base, other)] = 2;
  CHECK(refusal(bytes).find("is 2, not 0 or 1") != std::string::npos);
}

TEST_CASE("report codec: a count beyond the bytes left is refused before anything is allocated", "[report_codec]") {
  const vigil::Report base = shortest_elements();
  vigil::Report other = base;
  other.alert_log.pop_back();
  const Bytes bytes = saved(base);
  const std::size_t count = first_difference(base, other);  // the alert log's count, 3
  REQUIRE(bytes[count] == 3);
  for (const std::uint64_t n : {std::uint64_t{4}, std::uint64_t{1} << 40, ~std::uint64_t{0}}) {
    Bytes changed(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(count));
    vigil::io::Writer(changed).varint(n);
    changed.insert(changed.end(), bytes.begin() + static_cast<std::ptrdiff_t>(count) + 1, bytes.end());
    INFO("count " << n);
    CHECK(refusal(changed).find("element count " + std::to_string(n) + " exceeds") != std::string::npos);
  }
}

}  // namespace report_codec_test

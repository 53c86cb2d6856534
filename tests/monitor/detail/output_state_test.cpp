#include <vigil/monitor/detail/output_state.hpp>
#include <vigil/monitor/profile.hpp>

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "vigil_test.hpp"

namespace output_state_test {  // named: the files of a tests/ folder may compile as one unit
namespace {

using vigil::detail::OutputState;
using vigil::detail::OutputsPlan;
using vigil::detail::OutputTotals;

constexpr double nan_score = std::numeric_limits<double>::quiet_NaN();
constexpr double inf_score = std::numeric_limits<double>::infinity();

// An output with a threshold ("fraud") and one with declared classes ("kind"), trained on
// 1,000 rows of which every tenth has no fraud score.
struct Model {
  vigil::Schema schema;
  vigil::Output fraud{0}, kind{0};

  Model() {
    vigil::OutputOptions threshold;
    threshold.threshold = 0.5;
    fraud = schema.add_output("fraud", threshold);
    vigil::OutputOptions classes;
    classes.classes = {"cat", "dog"};
    kind = schema.add_output("kind", classes);
  }
  vigil::Profile profile() const {
    vigil::Profile p(schema);
    vigil::Observation o(schema);
    for (int i = 0; i < 1000; ++i) {
      o.clear();
      if (i % 10 != 0) o.score(fraud, (i % 97) / 97.0);
      o.predicted(kind, i % 2 == 0 ? "cat" : "dog");
      p.add(o);
    }
    return p;
  }
};

// Request i: a fraud score that is finite, absent, NaN, +inf or -inf in turn, and a class
// for "kind" on every third request only.
void file_request(const Model& m, const OutputsPlan& plan, OutputState& s, int i) {
  vigil::Observation o(m.schema);
  const double specials[] = {0.25, 0, nan_score, inf_score, -inf_score};
  const int which = i % 5;
  if (which == 0) o.score(m.fraud, (i % 89) / 89.0);
  if (which >= 2) o.score(m.fraud, specials[which]);
  if (i % 3 == 0) o.predicted(m.kind, i % 2 == 0 ? "cat" : "bird");
  s.apply(plan, vigil::detail::Request{o, nullptr, nan_score});
}

// The v1 payload of a state: v2's without the non-finite counts that close it.
std::vector<std::uint8_t> version_1_payload(const OutputState& s) {
  std::vector<std::uint8_t> bytes;
  vigil::io::Writer w(bytes);
  vigil::detail::write_counts(w, s.score_bins);
  vigil::detail::write_counts(w, s.class_bins);
  w.varint(s.scores.size());
  for (const auto& d : s.scores) vigil::detail::write_sketch(w, d);
  return bytes;
}

std::vector<std::uint8_t> payload(const OutputState& s) {
  std::vector<std::uint8_t> bytes;
  vigil::io::Writer w(bytes);
  s.serialize(w);
  return bytes;
}

OutputState read(const std::vector<std::uint8_t>& bytes, const OutputsPlan& plan, std::uint8_t version) {
  vigil::io::Reader r(bytes.data(), bytes.size(), "output state");
  OutputState s = OutputState::deserialize(r, plan, version);
  r.finish();
  return s;
}

}  // namespace

TEST_CASE("OutputState: the plan carries the training share of rows without a finite score", "[output_state]") {
  const Model m;
  const OutputsPlan plan = vigil::detail::make_outputs_plan(m.schema, m.profile());
  CHECK(plan.outputs[0].reference_missing_rate == Approx(0.1));
  CHECK(plan.outputs[1].reference_missing_rate == 1.0);  // "kind" never had a score
  CHECK(plan.outputs[1].index == 1);
  const OutputsPlan untrained = vigil::detail::make_outputs_plan(m.schema, vigil::Profile(m.schema));
  CHECK(std::isnan(untrained.outputs[0].reference_missing_rate));
}

TEST_CASE("OutputState: empty, then absent, NaN and infinite scores counted apart", "[output_state]") {
  const Model m;
  const OutputsPlan plan = vigil::detail::make_outputs_plan(m.schema, m.profile());
  OutputState s(plan);
  const OutputTotals empty = s.totals(plan.outputs[0], 0);
  CHECK(empty.count == 0);
  CHECK(empty.non_finite == 0);
  CHECK(empty.missing == 0);

  for (int i = 0; i < 1000; ++i) file_request(m, plan, s, i);
  const OutputTotals fraud = s.totals(plan.outputs[0], 1000);
  CHECK(fraud.count == 200);       // finite: every fifth request
  CHECK(fraud.missing == 200);     // absent
  CHECK(fraud.non_finite == 600);  // NaN, +inf and -inf
  CHECK(fraud.unusable() == 800);
  CHECK(s.non_finite[0] == 600);
  CHECK(s.scores[0].count() == 200);  // non-finite scores reach neither the digest ...
  CHECK(s.scores[0].rejected() == 0);  // ... nor its refused count
  CHECK(fraud.classified == 200);     // the threshold's class of every finite score
  const OutputTotals kind = s.totals(plan.outputs[1], 1000);
  CHECK(kind.classified == 334);      // a class ("bird" as other) every third request
  CHECK(kind.missing == 1000);
  CHECK(kind.non_finite == 0);

  s.clear();
  CHECK(s == OutputState(plan));
}

TEST_CASE("OutputState: merged halves equal one state of every request", "[output_state]") {
  const Model m;
  const OutputsPlan plan = vigil::detail::make_outputs_plan(m.schema, m.profile());
  OutputState all(plan), first(plan), second(plan);
  for (int i = 0; i < 600; ++i) {
    file_request(m, plan, all, i);
    file_request(m, plan, i < 250 ? first : second, i);
  }
  first.merge(second);
  CHECK(first.non_finite == all.non_finite);
  CHECK(first.score_bins == all.score_bins);
  CHECK(first.class_bins == all.class_bins);
  CHECK(first.totals(plan.outputs[0], 600).non_finite == 360);
}

TEST_CASE("OutputState: version 2 round trip, version 1 read with non-finite scores as missing", "[output_state]") {
  const Model m;
  const OutputsPlan plan = vigil::detail::make_outputs_plan(m.schema, m.profile());
  OutputState s(plan);
  for (int i = 0; i < 500; ++i) file_request(m, plan, s, i);
  s.compact();
  const std::vector<std::uint8_t> bytes = payload(s);
  const OutputState back = read(bytes, plan, 2);
  CHECK(back == s);
  CHECK(payload(back) == bytes);
  vigil::io::Reader checker(bytes.data(), bytes.size(), "output state");
  CHECK_NOTHROW(back.check(plan, 500, checker));

  const OutputState old = read(version_1_payload(s), plan, 1);
  CHECK(old.score_bins == s.score_bins);
  CHECK(old.scores == s.scores);
  CHECK(old.non_finite[0] == 0);
  CHECK(old.non_finite[1] == 0);
  const OutputTotals fraud = old.totals(plan.outputs[0], 500);
  CHECK(fraud.non_finite == 0);
  CHECK(fraud.missing == 400);  // the 300 non-finite scores among the missing, as version 1 counted them
}

TEST_CASE("OutputState: bad bytes", "[output_state]") {
  const Model m;
  const OutputsPlan plan = vigil::detail::make_outputs_plan(m.schema, m.profile());
  OutputState s(plan);
  for (int i = 0; i < 100; ++i) file_request(m, plan, s, i);
  const std::vector<std::uint8_t> bytes = payload(s);
  // Version 2 bytes without their non-finite counts are cut short.
  CHECK_THROWS_AS(read(version_1_payload(s), plan, 2), vigil::format_error);
  for (std::size_t n = 0; n < bytes.size(); n += 7)
    CHECK_THROWS_AS(read(vigil_test::truncated(bytes, n), plan, 2), vigil::format_error);
  // More non-finite scores than the requests without a finite one.
  OutputState inflated = s;
  inflated.non_finite[0] = 100;
  vigil::io::Reader r(bytes.data(), bytes.size(), "output state");
  CHECK_THROWS_WITH(inflated.check(plan, 100, r), Catch::Contains("more scores"));
  CHECK_NOTHROW(s.check(plan, 100, r));
}

}  // namespace output_state_test

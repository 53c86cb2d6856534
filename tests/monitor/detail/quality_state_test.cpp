#include "vigil/monitor/detail/quality_state.hpp"

#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "vigil_test.hpp"

namespace quality_state_test {  // named: the files of a tests/ folder may compile as one unit
namespace {

struct Binary {
  vigil::Schema schema;
  vigil::Output score;
  Binary() {
    schema.add_numeric("x");
    vigil::OutputOptions options;
    options.threshold = 0.3;
    score = schema.add_output("score", options);
  }
  // A holdout of `rows` labelled rows whose scores are probabilities (calibrated when
  // `calibrated`, else every label is positive above 0.5 only).
  vigil::Profile holdout(int rows, bool calibrated) const {
    vigil::Profile p(schema);
    vigil_test::Random random(3);
    vigil::Observation o(schema);
    for (int i = 0; i < rows; ++i) {
      o.clear();
      const double s = random.uniform();
      o.score(score, s);
      const bool positive = calibrated ? random.uniform() < s : s > 0.5;
      p.add_labelled(o, score, positive ? 1.0 : 0.0);
    }
    p.compact();
    return p;
  }
};

vigil::detail::QualityState read(const std::vector<std::uint8_t>& bytes, const vigil::detail::QualityPlan& plan,
                                 std::uint64_t requests) {
  vigil::io::Reader r(bytes.data(), bytes.size(), "quality state");
  vigil::detail::QualityState s = vigil::detail::QualityState::deserialize(r, plan);
  r.finish();
  s.check(plan, requests, r);
  return s;
}

std::vector<std::uint8_t> bytes_of(const vigil::detail::QualityState& s) {
  std::vector<std::uint8_t> out;
  vigil::io::Writer w(out);
  s.serialize(w);
  return out;
}

}  // namespace

TEST_CASE("QualityPlan: without labels no estimates, bins split at the threshold", "[quality]") {
  const Binary model;
  vigil::Profile unlabelled(model.schema);
  const vigil::detail::QualityPlan none = vigil::detail::make_quality_plan(model.schema, unlabelled, {});
  CHECK(none.active);
  CHECK_FALSE(none.estimates);
  CHECK(vigil::detail::QualityState(none).counts.empty());

  const vigil::Profile labelled = model.holdout(4000, true);
  const vigil::detail::QualityPlan p = vigil::detail::make_quality_plan(model.schema, labelled, {});
  CHECK(p.estimates);
  CHECK(p.kind == vigil::detail::LabelKind::binary);
  REQUIRE(std::find(p.edges.begin(), p.edges.end(), 0.3) != p.edges.end());
  CHECK(std::is_sorted(p.edges.begin(), p.edges.end()));
  CHECK(p.bins() <= vigil::detail::quality_score_bins + 1);
  // Every bin lies on one side of the threshold.
  CHECK(p.bin_of(0.3) == p.bin_of(0.30000001));
  CHECK(p.bin_of(0.29999999) + 1 == p.bin_of(0.3));
  // The class counts on the bins add up to the labelled rows.
  double total = 0;
  for (std::size_t b = 0; b < p.bins(); ++b) total += p.baseline_bins.positive[b] + p.baseline_bins.negative[b];
  CHECK(total == Approx(4000).epsilon(1e-9));
}

TEST_CASE("QualityPlan: the calibration map is used only where it lowers the calibration error", "[quality]") {
  const Binary model;
  // Labels positive exactly above 0.5: the raw scores are far from the observed shares, the
  // isotonic map (0 below 0.5, 1 above) is not.
  const vigil::detail::QualityPlan step = vigil::detail::make_quality_plan(model.schema, model.holdout(4000, false), {});
  CHECK(step.calibrate);
  CHECK(step.calibration(0.2) == Approx(0).margin(0.02));
  CHECK(step.calibration(0.8) == Approx(1).margin(0.02));
}

TEST_CASE("QualityState: filing, merging and the bytes", "[quality]") {
  const Binary model;
  const vigil::detail::QualityPlan p = vigil::detail::make_quality_plan(model.schema, model.holdout(2000, true), {});
  vigil::detail::QualityState s(p);
  CHECK(s.empty());
  vigil::Observation o(model.schema);
  o.id("a").score(model.score, 0.25);
  const std::uint32_t tags[1] = {0};
  s.apply(p, vigil::detail::Request{o, tags, 0});
  o.clear();
  o.score(model.score, std::nan(""));  // no id, no finite score: nothing but the request
  s.apply(p, vigil::detail::Request{o, tags, 0});
  CHECK(s.identified == 1);
  CHECK(s.counts[p.bin_of(0.25)] == 1);
  CHECK(s.sums[p.bin_of(0.25)] == 0.25);
  CHECK_FALSE(s.empty());
  vigil::detail::QualityState m = s;
  m.merge(s);
  CHECK(m.identified == 2);
  CHECK(m.sums[p.bin_of(0.25)] == 0.5);
  CHECK(read(bytes_of(m), p, 2) == m);
  // More identified requests than the interval's requests are refused.
  CHECK_THROWS_AS(read(bytes_of(m), p, 1), vigil::format_error);
  m.clear();
  CHECK(m.empty());
  CHECK(m.counts.size() == p.bins());
}

TEST_CASE("QualityState: bad bytes are refused", "[quality][bad_input]") {
  const Binary model;
  const vigil::detail::QualityPlan p = vigil::detail::make_quality_plan(model.schema, model.holdout(2000, true), {});
  vigil::detail::QualityState s(p);
  s.counts[0] = 3;
  s.sums[0] = 0.1;
  s.sums[p.bins() - 1] = std::numeric_limits<double>::infinity();  // an overflowed sum is kept
  CHECK(read(bytes_of(s), p, 3) == s);
  vigil::detail::QualityState bad = s;
  bad.counts[1] = 0.5;
  CHECK_THROWS_AS(read(bytes_of(bad), p, 10), vigil::format_error);
  bad = s;
  bad.sums[0] = std::nan("");
  CHECK_THROWS_AS(read(bytes_of(bad), p, 10), vigil::format_error);
  bad = s;
  bad.counts[0] = -1;
  CHECK_THROWS_AS(read(bytes_of(bad), p, 10), vigil::format_error);
  // Another plan's number of bins.
  vigil::Profile unlabelled(model.schema);
  const vigil::detail::QualityPlan none = vigil::detail::make_quality_plan(model.schema, unlabelled, {});
  CHECK_THROWS_AS(read(bytes_of(s), none, 10), vigil::format_error);
  const std::vector<std::uint8_t> bytes = bytes_of(s);
  CHECK_THROWS_AS(read(std::vector<std::uint8_t>(bytes.begin(), bytes.end() - 1), p, 10), vigil::format_error);
}

}  // namespace quality_state_test

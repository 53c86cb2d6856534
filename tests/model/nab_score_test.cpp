// The NAB scorer of tests/model/nab_score.hpp against values worked out by hand from the
// rules (Lavin & Ahmad 2015), so that the detector scores quoted in docs/rate_predictor.md
// rest on a checked scorer.
#include "model/nab_score.hpp"

#include <vector>

#include "vigil_test.hpp"

namespace {

// 1,000 rows (probation: the first 150), windows of 100 rows at 300–399 and 600–699.
const std::vector<vigil_test::NabWindow> two_windows = {{300, 399}, {600, 699}};

}  // namespace

TEST_CASE("NAB score: the probation is 15 % of the rows, at most 750", "[nab]") {
  CHECK(vigil_test::nab_probation(1000) == 150);
  CHECK(vigil_test::nab_probation(10320) == 750);
  CHECK(vigil_test::nab_probation(0) == 0);
  CHECK(vigil_test::nab_sigmoid(-1) == Approx(0.9866142981514305));
  CHECK(vigil_test::nab_sigmoid(0) == 0);
}

TEST_CASE("NAB score: no detection is the null score, one at each window start is perfect", "[nab]") {
  const vigil_test::NabScore none = vigil_test::nab_score({}, 1000, two_windows, vigil_test::nab_standard());
  CHECK(none.raw == -2);
  CHECK(none.normalised == 0);
  CHECK(none.detected == 0);
  const vigil_test::NabScore low_fn = vigil_test::nab_score({}, 1000, two_windows, vigil_test::nab_reward_low_fn());
  CHECK(low_fn.raw == -4);
  const vigil_test::NabScore perfect = vigil_test::nab_score({300, 600}, 1000, two_windows, vigil_test::nab_standard());
  CHECK(perfect.raw == Approx(2));
  CHECK(perfect.normalised == Approx(100));
  // At the last row of a window: S(−1/100)/S(−1).
  const vigil_test::NabScore late = vigil_test::nab_score({399}, 1000, two_windows, vigil_test::nab_standard());
  CHECK(late.true_positive_sum == Approx(0.025333905068325228));
  CHECK(late.raw == Approx(0.025333905068325228 - 1));
}

TEST_CASE("NAB score: only the earliest detection in a window counts, every other one outside costs", "[nab]") {
  // 100: in the probation, ignored. 200: before any window, −fp. 350: the middle of the first
  // window, S(−0.5)/S(−1). 360: a later detection in the same window, ignored. 400: just
  // after the first window, fp·S(1/99). 900: far after the second, fp·S(201/99).
  const std::vector<std::size_t> detections = {900, 360, 350, 100, 200, 400};
  const vigil_test::NabScore s = vigil_test::nab_score(detections, 1000, two_windows, vigil_test::nab_standard());
  CHECK(s.detected == 1);
  CHECK(s.false_positives == 3);
  CHECK(s.true_positive_sum == Approx(0.8597925669097837));
  CHECK(s.false_positive_sum == Approx(-0.22276860408704302));
  CHECK(s.raw == Approx(-0.36297603717725935));
  CHECK(s.normalised == Approx(40.925599070568516));
  // The profile that rewards few false positives charges them twice as much.
  const vigil_test::NabScore low_fp = vigil_test::nab_score(detections, 1000, two_windows, vigil_test::nab_reward_low_fp());
  CHECK(low_fp.false_positive_sum == Approx(2 * -0.22276860408704302));
}

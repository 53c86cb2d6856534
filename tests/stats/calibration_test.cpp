#include <vigil/stats/calibration.hpp>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "stats/golden_data.hpp"
#include "vigil_test.hpp"

namespace golden = vigil_test::golden;
using vigil::stats::IsotonicCalibration;
using vigil::stats::ReliabilityBin;
using vigil::stats::ReliabilitySums;

namespace {

std::vector<std::uint8_t> calibration_bytes(const IsotonicCalibration& map) {
  std::vector<std::uint8_t> bytes;
  vigil::io::Writer out(bytes);
  map.serialize(out);
  return bytes;
}

IsotonicCalibration calibration_from(const std::vector<std::uint8_t>& bytes) {
  vigil::io::Reader in(bytes.data(), bytes.size(), "IsotonicCalibration");
  IsotonicCalibration map = IsotonicCalibration::deserialize(in);
  in.finish();
  return map;
}

/// Bytes of a map written point by point, valid or not.
std::vector<std::uint8_t> calibration_bytes_of(const std::vector<double>& x, const std::vector<double>& y) {
  std::vector<std::uint8_t> bytes;
  vigil::io::Writer out(bytes);
  out.u8(IsotonicCalibration::format_version);
  out.varint(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) {
    out.f64(x[i]);
    out.f64(y[i]);
  }
  return bytes;
}

/// The map's values at the query points against scikit-learn's.
void check_predictions(const IsotonicCalibration& map, const std::vector<double>& queries,
                       const std::vector<double>& expected, golden::ErrorLog& errors) {
  REQUIRE(queries.size() == expected.size());
  for (std::size_t i = 0; i < queries.size(); ++i) {
    const double actual = map(queries[i]);
    INFO("score " << queries[i] << ": " << actual << " vs " << expected[i]);
    CHECK(std::fabs(actual - expected[i]) <= 1e-12 * std::fabs(expected[i]) + 1e-15);
    errors.add(actual, expected[i]);
  }
}

}  // namespace

TEST_CASE("calibration: empty input", "[stats][calibration]") {
  const IsotonicCalibration unfitted;
  CHECK(unfitted.empty());
  CHECK(std::isnan(unfitted(0.5)));
  CHECK_THROWS_WITH(IsotonicCalibration::fit({}, {}), Catch::Contains("no sample"));
  const auto sums = vigil::stats::reliability_sums({}, {}, 4);
  REQUIRE(sums.size() == 4);
  CHECK(sums[2].count == 0);
  CHECK(vigil::stats::reliability_bins(sums).empty());
  CHECK(std::isnan(vigil::stats::expected_calibration_error(sums)));
  const auto hl = vigil::stats::hosmer_lemeshow_test(sums);
  CHECK(hl.statistic == 0);
  CHECK(std::isnan(hl.p_value));
  CHECK(calibration_from(calibration_bytes(unfitted)) == unfitted);
}

TEST_CASE("calibration: one value", "[stats][calibration]") {
  const auto map = IsotonicCalibration::fit({0.4}, {1});
  REQUIRE(map.size() == 1);
  CHECK(map(-3.0) == 1);
  CHECK(map(0.4) == 1);
  CHECK(map(9.0) == 1);
  const auto bins = vigil::stats::reliability_bins({0.3}, {0}, 10);
  REQUIRE(bins.size() == 1);
  CHECK(bins[0].count == 1);
  CHECK(bins[0].mean_predicted == 0.3);
  CHECK(bins[0].fraction_positive == 0);
  CHECK(vigil::stats::expected_calibration_error(bins) == 0.3);
  // Edges as numpy.linspace and searchsorted: a probability on an inner edge goes below it.
  CHECK(vigil::stats::reliability_bin_index(0.0, 10) == 0);
  CHECK(vigil::stats::reliability_bin_index(0.1, 10) == 0);
  CHECK(vigil::stats::reliability_bin_index(std::nextafter(0.1, 1.0), 10) == 1);
  CHECK(vigil::stats::reliability_bin_index(0.30000000000000004, 10) == 2);  // 3 × 0.1 exactly
  CHECK(vigil::stats::reliability_bin_index(1.0, 10) == 9);
  CHECK(vigil::stats::reliability_bin_index(0.5, 1) == 0);
}

TEST_CASE("calibration: reliability bins, ECE and Hosmer-Lemeshow agree with scikit-learn and SciPy",
          "[stats][calibration]") {
  std::size_t checked = 0;
  for (const auto& c : golden::read("calibration.txt")) {
    if (c[0] != "reliability") continue;
    const auto sample = golden::scored(c[1], c[2], c[3]);
    const auto bins = static_cast<std::size_t>(std::stoul(c[4]));
    const auto sums = vigil::stats::reliability_sums(sample.scores, sample.labels, bins);
    const auto points = vigil::stats::reliability_bins(sums);
    const auto counts = golden::values(c[5]), predicted = golden::values(c[6]), positive = golden::values(c[7]);
    INFO(c[1] << " in " << bins << " bins");
    REQUIRE(points.size() == counts.size());
    for (std::size_t b = 0; b < points.size(); ++b) {
      CHECK(points[b].count == counts[b]);
      CHECK(std::fabs(points[b].mean_predicted - predicted[b]) <= 1e-13 * predicted[b]);
      CHECK(golden::statistic_agrees(points[b].fraction_positive, positive[b]));
    }
    CHECK(std::fabs(vigil::stats::expected_calibration_error(points) - golden::number(c[8])) <= 1e-12);
    CHECK(std::fabs(vigil::stats::expected_calibration_error(sums) - golden::number(c[8])) <= 1e-12);
    const auto hl = vigil::stats::hosmer_lemeshow_test(sums);
    CHECK(std::fabs(hl.statistic - golden::number(c[9])) <= 1e-11 * golden::number(c[9]));
    CHECK(golden::p_value_agrees(hl.p_value, golden::number(c[10])));
    CHECK(hl.degrees_of_freedom == golden::number(c[11]));
    ++checked;
  }
  CHECK(checked == 6);
}

TEST_CASE("calibration: reliability sums merge by adding", "[stats][calibration]") {
  const auto sample = golden::scored("gen:u:1000:41:0.0", "gen:d2:1000:42:0.0", "0.5");
  const std::vector<double> first_scores(sample.scores.begin(), sample.scores.begin() + 400);
  const std::vector<int> first_labels(sample.labels.begin(), sample.labels.begin() + 400);
  const std::vector<double> rest_scores(sample.scores.begin() + 400, sample.scores.end());
  const std::vector<int> rest_labels(sample.labels.begin() + 400, sample.labels.end());
  auto merged = vigil::stats::reliability_sums(first_scores, first_labels, 10);
  const auto rest = vigil::stats::reliability_sums(rest_scores, rest_labels, 10);
  for (std::size_t b = 0; b < merged.size(); ++b) merged[b] += rest[b];
  const auto whole = vigil::stats::reliability_sums(sample.scores, sample.labels, 10);
  for (std::size_t b = 0; b < whole.size(); ++b) {
    CHECK(merged[b].count == whole[b].count);
    CHECK(merged[b].sum_positive == whole[b].sum_positive);
    CHECK(merged[b].sum_predicted == Approx(whole[b].sum_predicted).epsilon(1e-14));
  }
  CHECK(vigil::stats::expected_calibration_error(merged) ==
        Approx(vigil::stats::expected_calibration_error(whole)).epsilon(1e-13));
  // Perfectly calibrated bins: ECE 0 and H 0.
  const std::vector<ReliabilitySums> calibrated{{10, 2, 2}, {20, 10, 10}, {10, 8, 8}};
  CHECK(vigil::stats::expected_calibration_error(calibrated) == 0);
  CHECK(vigil::stats::hosmer_lemeshow_test(calibrated).statistic == 0);
  CHECK(vigil::stats::hosmer_lemeshow_test(calibrated).p_value == 1);
  // A bin predicted all 0 that holds a positive cannot be calibrated.
  CHECK(std::isinf(vigil::stats::hosmer_lemeshow_test({{10, 0, 1}, {5, 2, 2}, {5, 4, 4}}).statistic));
}

TEST_CASE("calibration: isotonic fits agree with sklearn.isotonic.IsotonicRegression", "[stats][calibration]") {
  golden::ErrorLog errors;
  std::size_t checked = 0;
  for (const auto& c : golden::read("calibration.txt")) {
    IsotonicCalibration map;
    std::vector<double> queries;
    std::vector<double> expected;
    if (c[0] == "isotonic" || c[0] == "isotonic_pooled") {
      const auto sample = golden::scored(c[1], c[2], c[3]);
      map = c[4] == "none" ? IsotonicCalibration::fit(sample.scores, sample.labels)
                           : IsotonicCalibration::fit(sample.scores, sample.labels, golden::values(c[4]));
      queries = golden::values(c[5]);
      if (c[0] == "isotonic") queries.insert(queries.end(), sample.scores.begin(), sample.scores.end());
      expected = golden::values(c[6]);
      if (c[0] == "isotonic_pooled") {
        CHECK(sample.scores.size() > IsotonicCalibration::max_points);
        CHECK(map.size() <= IsotonicCalibration::max_points);
      }
    } else if (c[0] == "isotonic_binned") {
      map = IsotonicCalibration::fit_binned(golden::values(c[1]), golden::values(c[2]), golden::values(c[3]));
      queries = golden::values(c[4]);
      expected = golden::values(c[5]);
    } else {
      continue;
    }
    INFO(c[0] << " " << c[1]);
    check_predictions(map, queries, expected, errors);
    for (std::size_t i = 1; i < map.size(); ++i) {
      CHECK(map.scores()[i] > map.scores()[i - 1]);
      CHECK(map.probabilities()[i] >= map.probabilities()[i - 1]);
    }
    CHECK(calibration_from(calibration_bytes(map)) == map);
    ++checked;
  }
  CHECK(checked == 9);
  std::printf("isotonic calibration max abs error %.2e\n", errors.max_absolute);
}

TEST_CASE("calibration: pooling adjacent violators", "[stats][calibration]") {
  // Labels 1, 0, 1, 0 pool into one block of mean ½; weights move the mean.
  const auto even = IsotonicCalibration::fit({1, 2, 3, 4}, {1, 0, 1, 0});
  CHECK(even(2.5) == 0.5);
  CHECK(even.size() == 2);  // the block's ends
  const auto weighted = IsotonicCalibration::fit({1, 2, 3, 4}, {1, 0, 1, 0}, {3, 1, 1, 1});
  CHECK(weighted(1.0) == 4.0 / 6.0);
  // An increasing sequence stays as it is; between two points the map is linear.
  const auto increasing = IsotonicCalibration::fit_binned({0.0, 1.0}, {4, 4}, {1, 3});
  CHECK(increasing(0.0) == 0.25);
  CHECK(increasing(0.5) == 0.5);
  CHECK(increasing(2.0) == 0.75);
  // Points of weight 0 are left out, as scikit-learn does.
  CHECK(IsotonicCalibration::fit({0.0, 1.0}, {1, 0}, {0, 2}).size() == 1);
  CHECK(std::isnan(increasing(std::nan(""))));
}

TEST_CASE("calibration: bad input is refused, naming the value", "[stats][calibration]") {
  CHECK_THROWS_WITH(IsotonicCalibration::fit({0.1, 0.2}, {0, 3}), Catch::Contains("labels[1] = 3"));
  CHECK_THROWS_WITH(IsotonicCalibration::fit({0.1, HUGE_VAL}, {0, 1}), Catch::Contains("scores[1] = inf"));
  CHECK_THROWS_WITH(IsotonicCalibration::fit({0.1, 0.2}, {0, 1}, {1, -1}), Catch::Contains("weights[1] = -1"));
  CHECK_THROWS_WITH(IsotonicCalibration::fit({0.1, 0.2}, {0, 1}, {0, 0}), Catch::Contains("no sample"));
  CHECK_THROWS_AS(IsotonicCalibration::fit({0.1, 0.2}, {0}), vigil::invalid_argument);
  CHECK_THROWS_WITH(IsotonicCalibration::fit_binned({0.1}, {2}, {3}), Catch::Contains("label_sums[0] = 3"));
  CHECK_THROWS_WITH(IsotonicCalibration::fit_binned({0.1}, {2}, {-1}), Catch::Contains("label_sums[0] = -1"));
  CHECK_THROWS_WITH(vigil::stats::reliability_sums({0.5, 1.5}, {0, 1}), Catch::Contains("probabilities[1] = 1.5"));
  CHECK_THROWS_WITH(vigil::stats::reliability_sums({0.5}, {2}), Catch::Contains("labels[0] = 2"));
  CHECK_THROWS_WITH(vigil::stats::reliability_sums({0.5}, {1}, 0), Catch::Contains("bins = 0"));
  CHECK_THROWS_WITH(vigil::stats::reliability_bin_index(0.5, 0), Catch::Contains("bins = 0"));
  CHECK_THROWS_WITH(vigil::stats::reliability_bin_index(-0.5, 10), Catch::Contains("probability = -0.5"));
  CHECK_THROWS_AS(vigil::stats::reliability_sums({0.5, 0.2}, {1}), vigil::invalid_argument);
  CHECK_THROWS_WITH(vigil::stats::hosmer_lemeshow_test({{2, 3, 1}}), Catch::Contains("sum_predicted 3"));
  CHECK_THROWS_WITH(vigil::stats::expected_calibration_error(std::vector<ReliabilityBin>{{-1, 0.5, 0.5}}),
                    Catch::Contains("count -1"));
}

TEST_CASE("calibration: bad bytes are refused", "[stats][calibration]") {
  const auto map = IsotonicCalibration::fit({0.1, 0.2, 0.3, 0.4}, {0, 0, 1, 1});
  const auto bytes = calibration_bytes(map);
  CHECK(bytes.size() == 1 + 1 + 16 * map.size());  // version, count, points
  CHECK(calibration_from(calibration_bytes_of({0.0, 1.0}, {0.0, 1.0}))(0.25) == 0.25);
  for (std::size_t cut = 0; cut < bytes.size(); ++cut) {
    const std::vector<std::uint8_t> truncated(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(cut));
    CHECK_THROWS_AS(calibration_from(truncated), vigil::format_error);
  }
  auto wrong_version = bytes;
  wrong_version[0] = 2;
  CHECK_THROWS_WITH(calibration_from(wrong_version), Catch::Contains("version 2"));
  const std::vector<double> many(IsotonicCalibration::max_points + 1, 0.5);
  CHECK_THROWS_WITH(calibration_from(calibration_bytes_of(many, many)), Catch::Contains("more than 4096"));
  CHECK_THROWS_WITH(calibration_from(calibration_bytes_of({0.2, 0.2}, {0.1, 0.2})), Catch::Contains("score 0.2"));
  CHECK_THROWS_WITH(calibration_from(calibration_bytes_of({0.2, std::nan("")}, {0.1, 0.2})),
                    Catch::Contains("score nan"));
  CHECK_THROWS_WITH(calibration_from(calibration_bytes_of({0.1, 0.2}, {0.3, 0.2})), Catch::Contains("probability 0.2"));
  CHECK_THROWS_WITH(calibration_from(calibration_bytes_of({0.1}, {1.5})), Catch::Contains("probability 1.5"));
  // A count larger than the bytes that follow is refused before anything is allocated.
  std::vector<std::uint8_t> huge{IsotonicCalibration::format_version};
  vigil::io::Writer(huge).varint(std::uint64_t{1} << 60);
  CHECK_THROWS_WITH(calibration_from(huge), Catch::Contains("exceeds the remaining"));
}

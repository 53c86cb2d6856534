#include <vigil/stats/classification.hpp>

#include <cmath>
#include <cstdio>
#include <limits>
#include <string>
#include <vector>

#include "stats/golden_data.hpp"
#include "vigil_test.hpp"

namespace golden = vigil_test::golden;
using vigil::stats::Alternative;
using vigil::stats::AucEstimate;
using vigil::stats::ConfusionCounts;
using vigil::stats::ThresholdChoice;

namespace {

Alternative alternative_named(const std::string& name) {
  if (name == "greater") return Alternative::greater;
  if (name == "less") return Alternative::less;
  return Alternative::two_sided;
}

/// AUC and DeLong variance straight from the definition: every positive against every
/// negative, each point weighted, O(m n).
AucEstimate delong_by_pairs(const std::vector<double>& positive_scores, const std::vector<double>& positive_weights,
                            const std::vector<double>& negative_scores, const std::vector<double>& negative_weights) {
  double m = 0, n = 0;
  for (double w : positive_weights) m += w;
  for (double w : negative_weights) n += w;
  const auto psi = [](double x, double y) { return x > y ? 1.0 : x == y ? 0.5 : 0.0; };
  std::vector<double> v10(positive_scores.size()), v01(negative_scores.size());
  double auc = 0;
  for (std::size_t i = 0; i < positive_scores.size(); ++i) {
    for (std::size_t j = 0; j < negative_scores.size(); ++j) {
      const double pair = psi(positive_scores[i], negative_scores[j]);
      v10[i] += negative_weights[j] * pair / n;
      v01[j] += positive_weights[i] * pair / m;
    }
    auc += positive_weights[i] * v10[i] / m;
  }
  double s10 = 0, s01 = 0;
  for (std::size_t i = 0; i < v10.size(); ++i) s10 += positive_weights[i] * (v10[i] - auc) * (v10[i] - auc);
  for (std::size_t j = 0; j < v01.size(); ++j) s01 += negative_weights[j] * (v01[j] - auc) * (v01[j] - auc);
  return AucEstimate{auc, s10 / (m - 1) / m + s01 / (n - 1) / n, m, n};
}

bool within_relative(double actual, double expected, double relative) {
  if (std::isnan(expected)) return std::isnan(actual);
  return std::fabs(actual - expected) <= relative * std::fabs(expected) + 1e-300;
}

}  // namespace

TEST_CASE("classification: empty input has no metric", "[stats][classification]") {
  const ConfusionCounts none{};
  CHECK(vigil::stats::count(none) == 0);
  CHECK(std::isnan(vigil::stats::accuracy(none)));
  CHECK(std::isnan(vigil::stats::precision(none)));
  CHECK(std::isnan(vigil::stats::recall(none)));
  CHECK(std::isnan(vigil::stats::f1_score(none)));
  CHECK(std::isnan(vigil::stats::f1_standard_error(none)));
  CHECK(std::isnan(vigil::stats::f1_difference_test(none, ConfusionCounts{3, 1, 1, 5}).p_value));
  const std::vector<double> no_scores;
  const std::vector<int> no_labels;
  const AucEstimate auc = vigil::stats::roc_auc(no_scores, no_labels);
  CHECK(std::isnan(auc.auc));
  CHECK(std::isnan(auc.variance));
  CHECK(auc.positives == 0);
  CHECK(std::isnan(vigil::stats::roc_auc_binned(nullptr, nullptr, 0).auc));
  CHECK(std::isnan(vigil::stats::log_loss(no_scores, no_labels)));
  CHECK(std::isnan(vigil::stats::brier_score(no_scores, no_labels)));
  CHECK(std::isnan(vigil::stats::max_f1_threshold(no_scores, no_labels).threshold));
  CHECK(std::isnan(vigil::stats::youden_threshold(no_scores, no_labels).f1));
  CHECK(std::isnan(vigil::stats::precision_threshold(no_scores, no_labels, 0.9).recall));
  const ConfusionCounts at_threshold = vigil::stats::confusion_counts(no_scores, no_labels, 0.5);
  CHECK(vigil::stats::count(at_threshold) == 0);
}

TEST_CASE("classification: one value", "[stats][classification]") {
  const ConfusionCounts hit = vigil::stats::confusion_counts({0.7}, {1}, 0.5);
  CHECK(hit.true_positive == 1);
  CHECK(vigil::stats::count(hit) == 1);
  const ConfusionCounts at_edge = vigil::stats::confusion_counts({0.5}, {0}, 0.5);  // score ≥ threshold
  CHECK(at_edge.false_positive == 1);
  CHECK(vigil::stats::accuracy(at_edge) == 0);
  // One class: AUC undefined (scikit-learn raises), the counts still reported.
  const AucEstimate one = vigil::stats::roc_auc({0.3}, {1});
  CHECK(std::isnan(one.auc));
  CHECK(one.positives == 1);
  CHECK(one.negatives == 0);
  CHECK(vigil::stats::log_loss({0.25}, {1}) == Approx(-std::log(0.25)).epsilon(1e-15));
  CHECK(vigil::stats::log_loss_term(0.25, 0) == Approx(-std::log(0.75)).epsilon(1e-15));
  CHECK(vigil::stats::brier_score({0.25}, {1}) == 0.5625);
  // Clipping at machine epsilon, as scikit-learn 1.2's eps="auto".
  CHECK(vigil::stats::log_loss_term(0.0, 1) == Approx(-std::log(std::numeric_limits<double>::epsilon())));
  CHECK(vigil::stats::log_loss_term(1.0, 1) > 0);
  CHECK(vigil::stats::log_loss_term(1.0, 0) == Approx(36.04365338911715));
  CHECK(std::isnan(vigil::stats::max_f1_threshold({0.4}, {1}).threshold));
  CHECK(std::isnan(vigil::stats::welch_t_test(1, 1, 1, 0, 1, 10).p_value));  // n < 2: no variance
}

TEST_CASE("classification: confusion metrics agree with scikit-learn", "[stats][classification]") {
  std::size_t checked = 0;
  for (const auto& c : golden::read("classification.txt")) {
    if (c[0] != "confusion") continue;
    const ConfusionCounts counts{golden::number(c[1]), golden::number(c[2]), golden::number(c[3]),
                                 golden::number(c[4])};
    INFO(c[1] << " " << c[2] << " " << c[3] << " " << c[4]);
    CHECK(golden::statistic_agrees(vigil::stats::accuracy(counts), golden::number(c[5])));
    CHECK(golden::statistic_agrees(vigil::stats::precision(counts), golden::number(c[6])));
    CHECK(golden::statistic_agrees(vigil::stats::recall(counts), golden::number(c[7])));
    CHECK(golden::statistic_agrees(vigil::stats::f1_score(counts), golden::number(c[8])));
    CHECK(within_relative(vigil::stats::f1_standard_error(counts), golden::number(c[9]), 1e-12));
    ++checked;
  }
  CHECK(checked == 9);
}

TEST_CASE("classification: two-proportion, F1-difference and Welch tests agree with statsmodels and SciPy",
          "[stats][classification]") {
  std::size_t checked = 0;
  golden::ErrorLog p_errors;
  for (const auto& c : golden::read("classification.txt")) {
    vigil::stats::TestResult r{};
    std::size_t at = 0;  // index of the alternative's field
    if (c[0] == "two_proportion") {
      at = 5;
      r = vigil::stats::two_proportion_test(golden::number(c[1]), golden::number(c[2]), golden::number(c[3]),
                                            golden::number(c[4]), alternative_named(c[at]));
    } else if (c[0] == "f1_difference") {
      at = 3;
      const auto a = golden::values(c[1]);
      const auto b = golden::values(c[2]);
      r = vigil::stats::f1_difference_test(ConfusionCounts{a[0], a[1], a[2], a[3]},
                                           ConfusionCounts{b[0], b[1], b[2], b[3]}, alternative_named(c[at]));
    } else if (c[0] == "welch") {
      at = 7;
      r = vigil::stats::welch_t_test(golden::number(c[1]), golden::number(c[2]), golden::number(c[3]),
                                     golden::number(c[4]), golden::number(c[5]), golden::number(c[6]),
                                     alternative_named(c[at]));
      CHECK(within_relative(r.degrees_of_freedom, golden::number(c[10]), 1e-12));
    } else {
      continue;
    }
    const double z = golden::number(c[at + 1]);
    const double p = golden::number(c[at + 2]);
    INFO(c[0] << " " << c[1] << " " << c[2] << " " << c[at] << ": " << r.statistic << " vs " << z << ", p "
              << r.p_value << " vs " << p);
    CHECK(within_relative(r.statistic, z, 1e-12));
    CHECK(golden::p_value_agrees(r.p_value, p));
    if (p < 1e-6) CHECK(std::fabs(r.p_value - p) <= 1e-8 * p);
    p_errors.add(r.p_value, p);
    ++checked;
  }
  CHECK(checked == 21 + 12 + 24);
  std::printf("two_proportion / f1_difference / welch p max rel %.2e, max abs %.2e\n", p_errors.max_relative,
              p_errors.max_absolute);
}

TEST_CASE("classification: roc_auc and DeLong's variance agree with scikit-learn and the pair matrix",
          "[stats][classification]") {
  std::size_t samples = 0, binned = 0;
  for (const auto& c : golden::read("classification.txt")) {
    AucEstimate r{};
    double expected_auc = 0, expected_variance = 0;
    if (c[0] == "auc") {
      const auto sample = golden::scored(c[1], c[2], c[3]);
      r = vigil::stats::roc_auc(sample.scores, sample.labels);
      expected_auc = golden::number(c[4]);
      expected_variance = golden::number(c[5]);
      ++samples;
    } else if (c[0] == "auc_binned") {
      r = vigil::stats::roc_auc_binned(golden::values(c[1]), golden::values(c[2]));
      expected_auc = golden::number(c[3]);
      expected_variance = golden::number(c[4]);
      ++binned;
    } else {
      continue;
    }
    INFO(c[0] << " " << c[1] << ": AUC " << r.auc << " vs " << expected_auc << ", variance " << r.variance << " vs "
              << expected_variance);
    CHECK(golden::statistic_agrees(r.auc, expected_auc));
    CHECK(within_relative(r.variance, expected_variance, 1e-12));
  }
  CHECK(samples == 10);
  CHECK(binned == 7);
}

TEST_CASE("classification: binned DeLong equals the O(n m) definition, for counts and expected counts",
          "[stats][classification]") {
  // Scores with ties (4 bits), labels and calibrated-looking probabilities from the golden generator.
  const auto sample = golden::scored("gen:s4:400:17:0.0", "gen:d2:400:18:0.0", "0.25");
  std::vector<double> bins_positive(20), bins_negative(20), expected_positive(20), expected_negative(20);
  std::vector<double> pos, pos_w, neg, neg_w, all_w_pos, all_w_neg;
  for (std::size_t i = 0; i < sample.scores.size(); ++i) {
    const double s = sample.scores[i];
    // The score is (k + 4y)/16 / 1.25: bin k + 4y holds one distinct value, in increasing order.
    const auto bin = static_cast<std::size_t>(std::lround(s * 1.25 * 16));
    (sample.labels[i] == 1 ? bins_positive : bins_negative)[bin] += 1;
    (sample.labels[i] == 1 ? pos : neg).push_back(s);
    (sample.labels[i] == 1 ? pos_w : neg_w).push_back(1.0);
    // Label-free: a sample of probability p is p of a positive and 1 − p of a negative.
    const double p = 0.1 + 0.8 * s;
    expected_positive[bin] += p;
    expected_negative[bin] += 1 - p;
    all_w_pos.push_back(p);
    all_w_neg.push_back(1 - p);
  }
  const AucEstimate from_bins = vigil::stats::roc_auc_binned(bins_positive, bins_negative);
  const AucEstimate from_pairs = delong_by_pairs(pos, pos_w, neg, neg_w);
  const AucEstimate from_samples = vigil::stats::roc_auc(sample.scores, sample.labels);
  CHECK(from_bins.auc == Approx(from_pairs.auc).epsilon(1e-13));
  CHECK(from_bins.variance == Approx(from_pairs.variance).epsilon(1e-11));
  CHECK(from_samples.auc == Approx(from_pairs.auc).epsilon(1e-13));
  CHECK(from_samples.variance == Approx(from_pairs.variance).epsilon(1e-11));
  CHECK(from_bins.positives == static_cast<double>(pos.size()));

  const AucEstimate expected = vigil::stats::roc_auc_binned(expected_positive, expected_negative);
  const AucEstimate expected_pairs = delong_by_pairs(sample.scores, all_w_pos, sample.scores, all_w_neg);
  CHECK(expected.auc == Approx(expected_pairs.auc).epsilon(1e-12));
  CHECK(expected.variance == Approx(expected_pairs.variance).epsilon(1e-10));
  CHECK(expected.auc > 0.5);  // probabilities increase with the score
  CHECK(expected.positives == Approx(expected_pairs.positives).epsilon(1e-13));
}

TEST_CASE("classification: auc_difference_test is a z-test on the DeLong variances", "[stats][classification]") {
  const auto better = golden::scored("gen:u:200:905:0.0", "gen:d2:200:906:0.0", "0.3");
  const auto worse = golden::scored("gen:u:2000:909:0.0", "gen:d2:2000:910:0.0", "0.1");
  // scikit-learn's AUCs and the pair-matrix variances of the same samples (classification.txt).
  const double auc_a = 0.736150140505821, var_a = 0.0011788334351872042;
  const double auc_b = 0.5884743029062374, var_b = 0.00015938242386235487;
  const double z = (auc_a - auc_b) / std::sqrt(var_a + var_b);
  const auto a = vigil::stats::roc_auc(better.scores, better.labels);
  const auto b = vigil::stats::roc_auc(worse.scores, worse.labels);
  const auto two_sided = vigil::stats::auc_difference_test(a, b);
  CHECK(two_sided.statistic == Approx(z).epsilon(1e-12));
  CHECK(two_sided.p_value == Approx(2 * vigil::stats::normal_sf(z)).epsilon(1e-10));
  CHECK(vigil::stats::auc_difference_test(a, b, Alternative::greater).p_value ==
        Approx(vigil::stats::normal_sf(z)).epsilon(1e-10));
  CHECK(vigil::stats::auc_difference_test(a, b, Alternative::less).p_value > 0.99);
  CHECK(vigil::stats::auc_difference_test(a, a).p_value == 1);
  const AucEstimate undefined{std::nan(""), std::nan(""), 3, 0};
  CHECK(std::isnan(vigil::stats::auc_difference_test(a, undefined).p_value));
}

TEST_CASE("classification: log_loss and brier_score agree with scikit-learn", "[stats][classification]") {
  std::size_t checked = 0;
  for (const auto& c : golden::read("classification.txt")) {
    if (c[0] != "log_loss" && c[0] != "brier") continue;
    const auto sample = golden::scored(c[1], c[2], c[3]);
    const double expected = golden::number(c[4]);
    const double actual = c[0] == "log_loss" ? vigil::stats::log_loss(sample.scores, sample.labels)
                                             : vigil::stats::brier_score(sample.scores, sample.labels);
    INFO(c[0] << " " << c[1] << ": " << actual << " vs " << expected);
    CHECK(within_relative(actual, expected, 1e-13));
    ++checked;
  }
  CHECK(checked == 12);
}

TEST_CASE("classification: holdout thresholds agree with scikit-learn's curves", "[stats][classification]") {
  std::size_t checked = 0;
  for (const auto& c : golden::read("classification.txt")) {
    if (c[0] != "threshold") continue;
    const auto sample = golden::scored(c[2], c[3], c[4]);
    const ThresholdChoice r =
        c[1] == "max_f1"   ? vigil::stats::max_f1_threshold(sample.scores, sample.labels)
        : c[1] == "youden" ? vigil::stats::youden_threshold(sample.scores, sample.labels)
                           : vigil::stats::precision_threshold(sample.scores, sample.labels, golden::number(c[5]));
    INFO(c[1] << " " << c[2] << " target " << c[5] << ": threshold " << r.threshold << " vs " << c[6]);
    CHECK(r.threshold == golden::number(c[6]));
    CHECK(golden::statistic_agrees(r.precision, golden::number(c[7])));
    CHECK(golden::statistic_agrees(r.recall, golden::number(c[8])));
    CHECK(golden::statistic_agrees(r.f1, golden::number(c[9])));
    CHECK(golden::statistic_agrees(r.tpr, golden::number(c[10])));
    CHECK(golden::statistic_agrees(r.fpr, golden::number(c[11])));
    ++checked;
  }
  CHECK(checked == 36);
  // No threshold reaches the target: flag nothing.
  const ThresholdChoice none = vigil::stats::precision_threshold({0.9, 0.8, 0.1}, {0, 0, 1}, 0.6);
  CHECK(std::isinf(none.threshold));
  CHECK(std::isnan(none.precision));
  CHECK(none.recall == 0);
  CHECK(none.fpr == 0);
}

TEST_CASE("classification: edge cases of the tests", "[stats][classification]") {
  // Pooled share 0 or 1: nothing to test.
  const auto all_hits = vigil::stats::two_proportion_test(10, 10, 5, 5);
  CHECK(all_hits.statistic == 0);
  CHECK(all_hits.p_value == 1);
  // Perfect F1 on both sides: the delta method gives 0, and equal F1 is no evidence.
  const ConfusionCounts perfect{10, 0, 0, 10};
  CHECK(vigil::stats::f1_standard_error(perfect) == 0);
  CHECK(vigil::stats::f1_difference_test(perfect, perfect).p_value == 1);
  CHECK(vigil::stats::f1_difference_test(perfect, ConfusionCounts{0, 0, 10, 10}).p_value == 0);
  // Welch with no spread at all: t infinite, p undefined, as SciPy.
  const auto flat = vigil::stats::welch_t_test(1, 0, 5, 2, 0, 5);
  CHECK(std::isinf(flat.statistic));
  CHECK(std::isnan(flat.p_value));
  // Weighted counts are accepted.
  CHECK(vigil::stats::f1_score(ConfusionCounts{0.5, 0.25, 0.25, 3}) == Approx(0.5 * 2 / (0.5 * 2 + 0.5)));
  ConfusionCounts sum{1, 2, 3, 4};
  sum += ConfusionCounts{4, 3, 2, 1};
  CHECK(vigil::stats::count(sum) == 20);
  CHECK(sum.false_negative == 5);
}

TEST_CASE("classification: bad input is refused, naming the value", "[stats][classification]") {
  using vigil::invalid_argument;
  CHECK_THROWS_WITH(vigil::stats::accuracy(ConfusionCounts{-1, 0, 0, 0}), Catch::Contains("true_positive = -1"));
  CHECK_THROWS_WITH(vigil::stats::precision(ConfusionCounts{1, std::nan(""), 0, 0}),
                    Catch::Contains("false_positive = nan"));
  CHECK_THROWS_AS(vigil::stats::f1_standard_error(ConfusionCounts{1, 0, HUGE_VAL, 0}), invalid_argument);
  CHECK_THROWS_WITH(vigil::stats::two_proportion_test(11, 10, 1, 10), Catch::Contains("hits_a = 11"));
  CHECK_THROWS_WITH(vigil::stats::two_proportion_test(0, 0, 1, 10), Catch::Contains("n_a = 0"));
  CHECK_THROWS_WITH(vigil::stats::two_proportion_test(1, 10, -1, 10), Catch::Contains("hits_b = -1"));
  CHECK_THROWS_WITH(vigil::stats::welch_t_test(0, -1, 5, 0, 1, 5), Catch::Contains("variance_a = -1"));
  CHECK_THROWS_WITH(vigil::stats::welch_t_test(0, 1, 5, HUGE_VAL, 1, 5), Catch::Contains("mean_b = inf"));
  const std::vector<double> counts{1, 2};
  CHECK_THROWS_WITH(vigil::stats::roc_auc_binned(counts, {1.0, -2.0}), Catch::Contains("negative_counts[1] = -2"));
  CHECK_THROWS_WITH(vigil::stats::roc_auc_binned(counts, {1.0}), Catch::Contains("has 2 values"));
  CHECK_THROWS_WITH(vigil::stats::roc_auc({0.1, 0.2}, {0, 2}), Catch::Contains("labels[1] = 2"));
  CHECK_THROWS_WITH(vigil::stats::roc_auc({0.1, std::nan("")}, {0, 1}), Catch::Contains("scores[1] = nan"));
  CHECK_THROWS_AS(vigil::stats::roc_auc({0.1}, {0, 1}), invalid_argument);
  CHECK_THROWS_WITH(vigil::stats::log_loss({0.5, 1.5}, {0, 1}), Catch::Contains("probabilities[1] = 1.5"));
  CHECK_THROWS_WITH(vigil::stats::brier_score({0.5, -0.1}, {0, 1}), Catch::Contains("probabilities[1] = -0.1"));
  CHECK_THROWS_WITH(vigil::stats::log_loss_term(0.5, -1), Catch::Contains("label = -1"));
  CHECK_THROWS_WITH(vigil::stats::log_loss_term(std::nan(""), 1), Catch::Contains("probability = nan"));
  CHECK_THROWS_WITH(vigil::stats::precision_threshold({0.1, 0.9}, {0, 1}, 1.5),
                    Catch::Contains("target_precision = 1.5"));
  CHECK_THROWS_WITH(vigil::stats::max_f1_threshold({0.1, 0.9}, {0, 7}), Catch::Contains("labels[1] = 7"));
  CHECK_THROWS_WITH(vigil::stats::confusion_counts({0.1, HUGE_VAL}, {0, 1}, 0.5), Catch::Contains("scores[1] = inf"));
  CHECK_THROWS_WITH(vigil::stats::confusion_counts({0.1}, {0}, std::nan("")), Catch::Contains("threshold = nan"));
}

// vigil — in-process monitoring of machine-learning models in C++ inference servers.
// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <numeric>
#include <string>
#include <vector>

#include "vigil/error.hpp"
#include "vigil/stats/binomial.hpp"
#include "vigil/stats/detail/checks.hpp"
#include "vigil/stats/detail/gamma.hpp"
#include "vigil/stats/special_functions.hpp"
#include "vigil/stats/test_result.hpp"

/// Quality of a binary classifier once its labels are known: the confusion-matrix metrics,
/// losses, ROC AUC, the tests that say whether one window's metric is worse than another's,
/// and the thresholds a labelled holdout suggests. Labels are 0 or 1; a score is positive
/// when score ≥ threshold, as scikit-learn's curves count it.
///
/// A metric that has no data (precision with no predicted positive, AUC with one class, an
/// empty sample) is NaN, not 0: "no data" must not read as "bad model". scikit-learn returns
/// 0 there (zero_division) or raises.
namespace vigil::stats {

/// The four cells of a binary confusion matrix. Doubles, so that weighted or expected counts
/// (Σp for a label-free estimate) fit as well as whole ones; merging two windows is adding.
struct ConfusionCounts {
  double true_positive = 0;
  double false_positive = 0;
  double false_negative = 0;
  double true_negative = 0;

  ConfusionCounts& operator+=(const ConfusionCounts& other) {
    true_positive += other.true_positive;
    false_positive += other.false_positive;
    false_negative += other.false_negative;
    true_negative += other.true_negative;
    return *this;
  }
};

/// What roc_auc and roc_auc_binned return: the area, its DeLong variance, and the (possibly
/// weighted) numbers of positives and negatives it rests on.
struct AucEstimate {
  double auc;
  double variance;
  double positives;
  double negatives;
};

/// A decision threshold chosen on a labelled holdout, with the metrics it gives there
/// (positive when score ≥ threshold; tpr equals recall, fpr is false positives / negatives).
struct ThresholdChoice {
  double threshold;
  double precision;
  double recall;
  double f1;
  double tpr;
  double fpr;
};

namespace detail {

/// What a metric without data is (see the namespace comment).
inline constexpr double undefined_metric = std::numeric_limits<double>::quiet_NaN();

/// Throws unless every cell is finite and ≥ 0, naming the cell.
inline void check_confusion(const char* function, const char* name, const ConfusionCounts& c) {
  const double cells[4] = {c.true_positive, c.false_positive, c.false_negative, c.true_negative};
  const char* cell_names[4] = {"true_positive", "false_positive", "false_negative", "true_negative"};
  for (int i = 0; i < 4; ++i) {
    if (VIGIL_UNLIKELY(!std::isfinite(cells[i]) || cells[i] < 0))
      throw_bad_argument(function, std::string(name) + "." + cell_names[i] + " = " + vigil::detail::to_text(cells[i]) +
                                       " is not a finite count ≥ 0");
  }
}

/// Throws unless every label is 0 or 1.
inline void check_binary_labels(const char* function, const std::vector<int>& labels) {
  for (std::size_t i = 0; i < labels.size(); ++i) {
    if (VIGIL_UNLIKELY(labels[i] != 0 && labels[i] != 1))
      throw_bad_argument(function, "labels[" + std::to_string(i) + "] = " + std::to_string(labels[i]) +
                                       " is neither 0 nor 1");
  }
}

/// The checks shared by every function over (score, label) samples.
inline void check_scored_labels(const char* function, const std::vector<double>& scores,
                                const std::vector<int>& labels) {
  check_same_size(function, "scores", scores.size(), "labels", labels.size());
  check_finite(function, "scores", scores.data(), scores.size());
  check_binary_labels(function, labels);
}

/// Throws unless every probability is in [0, 1] (NaN refused).
inline void check_probability_range(const char* function, const std::vector<double>& probabilities) {
  for (std::size_t i = 0; i < probabilities.size(); ++i) {
    const double p = probabilities[i];
    if (VIGIL_UNLIKELY(!(p >= 0 && p <= 1))) throw_bad_element(function, "probabilities", i, p, "is not in [0, 1]");
  }
}

/// The p-value of a standard normal statistic z for the alternative (NaN stays NaN).
inline double normal_tail_p_value(double z, Alternative alternative) {
  if (std::isnan(z)) return undefined_metric;
  if (alternative == Alternative::less) return normal_cdf(z);
  if (alternative == Alternative::greater) return normal_sf(z);
  return std::fmin(1.0, 2 * normal_sf(std::fabs(z)));
}

/// The z-test of a difference with a variance: z = difference / √variance. A variance of 0
/// gives z = 0 (p = 1) when the difference is 0 and ±∞ otherwise; NaN in gives NaN out.
inline TestResult z_test_of_difference(double difference, double variance, Alternative alternative) {
  if (std::isnan(difference) || std::isnan(variance)) return TestResult{undefined_metric, undefined_metric};
  double z = 0;
  if (variance > 0) {
    z = difference / std::sqrt(variance);
  } else if (difference != 0) {
    z = std::copysign(std::numeric_limits<double>::infinity(), difference);
  }
  return TestResult{z, normal_tail_p_value(z, alternative)};
}

/// log B(a, ½) = log Γ(a) + log Γ(½) − log Γ(a + ½). For a ≥ 10 the difference of the two
/// large log-gammas is taken from Stirling's formula and its error terms, which keeps it
/// accurate where lgamma(a) − lgamma(a + ½) would cancel: each log-gamma grows as a·log a, and
/// its rounding swamps a difference that is only of order log a.
inline double log_beta_half(double a) {
  constexpr double log_gamma_half = 0.57236494292470008707;  // log √π
  if (a < 10) return log_gamma_positive(a) + log_gamma_half - log_gamma_positive(a + 0.5);
  return log_gamma_half - 0.5 * std::log(a) - a * std::log1p(0.5 / a) + 0.5 + stirling_error(a) -
         stirling_error(a + 0.5);
}

/// P(T > t) for Student's t with df > 0 degrees of freedom: ½ I_x(df/2, ½) with
/// x = df/(df + t²) (Abramowitz & Stegun 26.7.1 through 26.5.27). x and 1 − x are formed from
/// t²/df, and the prefactor x^(df/2) (1 − x)^½ / B(df/2, ½) in logs with log1p, so that a large
/// df keeps the tail's relative accuracy.
inline double student_t_sf(double t, double df) {
  if (std::isnan(t) || std::isnan(df)) return undefined_metric;
  if (std::isinf(t)) return t > 0 ? 0.0 : 1.0;
  if (t == 0) return 0.5;
  const double a = df / 2;
  const double ratio = t * t / df;
  if (std::isinf(ratio)) return t > 0 ? 0.0 : 1.0;
  const double x = 1 / (1 + ratio);
  const double one_minus_x = ratio / (1 + ratio);
  const double log_front = -a * std::log1p(ratio) + 0.5 * std::log(one_minus_x) - log_beta_half(a);
  const double front = std::exp(log_front);
  const double tail = x < (a + 1) / (a + 2.5) ? front * beta_continued_fraction(a, 0.5, x) / a
                                              : 1 - front * beta_continued_fraction(0.5, a, one_minus_x) / 0.5;
  return t > 0 ? tail / 2 : 1 - tail / 2;
}

}  // namespace detail

/// The total count tp + fp + fn + tn. Throws vigil::invalid_argument when a cell is
/// negative or not finite (as do accuracy, precision, recall and f1_score).
inline double count(const ConfusionCounts& c) {
  detail::check_confusion("count", "counts", c);
  return c.true_positive + c.false_positive + c.false_negative + c.true_negative;
}

/// (tp + tn) / total, as sklearn.metrics.accuracy_score; NaN when the total is 0.
inline double accuracy(const ConfusionCounts& c) {
  const double total = count(c);
  return total > 0 ? (c.true_positive + c.true_negative) / total : detail::undefined_metric;
}

/// tp / (tp + fp), as sklearn.metrics.precision_score; NaN when nothing was predicted
/// positive (scikit-learn's zero_division would give 0).
inline double precision(const ConfusionCounts& c) {
  detail::check_confusion("precision", "counts", c);
  const double predicted = c.true_positive + c.false_positive;
  return predicted > 0 ? c.true_positive / predicted : detail::undefined_metric;
}

/// tp / (tp + fn), as sklearn.metrics.recall_score; NaN when there is no positive.
inline double recall(const ConfusionCounts& c) {
  detail::check_confusion("recall", "counts", c);
  const double positives = c.true_positive + c.false_negative;
  return positives > 0 ? c.true_positive / positives : detail::undefined_metric;
}

/// 2tp / (2tp + fp + fn), the harmonic mean of precision and recall, as
/// sklearn.metrics.f1_score; NaN when tp + fp + fn = 0. (It is 0 when there are positives
/// but none is found, though precision is then NaN.)
inline double f1_score(const ConfusionCounts& c) {
  detail::check_confusion("f1_score", "counts", c);
  const double denominator = 2 * c.true_positive + c.false_positive + c.false_negative;
  return denominator > 0 ? 2 * c.true_positive / denominator : detail::undefined_metric;
}

/// The confusion matrix of scores at a threshold: predicted positive when score ≥ threshold.
/// Throws vigil::invalid_argument when the sizes differ, a score is not finite, a label is
/// not 0 or 1, or the threshold is NaN. O(n).
inline ConfusionCounts confusion_counts(const std::vector<double>& scores, const std::vector<int>& labels,
                                        double threshold) {
  detail::check_scored_labels("confusion_counts", scores, labels);
  if (std::isnan(threshold)) detail::throw_bad_argument("confusion_counts", "threshold = nan");
  ConfusionCounts c;
  for (std::size_t i = 0; i < scores.size(); ++i) {
    const bool predicted = scores[i] >= threshold;
    if (labels[i] == 1) {
      (predicted ? c.true_positive : c.false_negative) += 1;
    } else {
      (predicted ? c.false_positive : c.true_negative) += 1;
    }
  }
  return c;
}

/// Pooled two-proportion z-test of hits_a/n_a against hits_b/n_b, as
/// statsmodels.stats.proportion.proportions_ztest([hits_a, hits_b], [n_a, n_b]):
/// z = (p_a − p_b) / √(p(1 − p)(1/n_a + 1/n_b)) with the pooled share p = (hits_a + hits_b) /
/// (n_a + n_b); `greater` asks whether p_a > p_b. Returns statistic = z. When p is 0 or 1 the
/// two shares are equal and the result is z = 0, p = 1 (statsmodels gives NaN).
///
/// Counts may be weighted. Throws vigil::invalid_argument unless 0 ≤ hits ≤ n, n > 0, all
/// finite. O(1).
inline TestResult two_proportion_test(double hits_a, double n_a, double hits_b, double n_b,
                                      Alternative alternative = Alternative::two_sided) {
  const double values[4] = {hits_a, n_a, hits_b, n_b};
  const char* names[4] = {"hits_a", "n_a", "hits_b", "n_b"};
  for (int i = 0; i < 4; ++i) {
    if (!std::isfinite(values[i]) || values[i] < 0)
      detail::throw_bad_argument("two_proportion_test", std::string(names[i]) + " = " +
                                                            vigil::detail::to_text(values[i]) +
                                                            " is not a finite count ≥ 0");
  }
  if (!(n_a > 0 && n_b > 0))
    detail::throw_bad_argument("two_proportion_test", "n_a = " + vigil::detail::to_text(n_a) + ", n_b = " +
                                                          vigil::detail::to_text(n_b) + ": both must be > 0");
  if (hits_a > n_a || hits_b > n_b)
    detail::throw_bad_argument("two_proportion_test", "hits exceed trials: hits_a = " + vigil::detail::to_text(hits_a) +
                                                          " of " + vigil::detail::to_text(n_a) + ", hits_b = " +
                                                          vigil::detail::to_text(hits_b) + " of " +
                                                          vigil::detail::to_text(n_b));
  const double pooled = (hits_a + hits_b) / (n_a + n_b);
  const double variance = pooled * (1 - pooled) * (1 / n_a + 1 / n_b);
  if (!(variance > 0)) return TestResult{0.0, 1.0};
  return detail::z_test_of_difference(hits_a / n_a - hits_b / n_b, variance, alternative);
}

/// Standard error of f1_score by the delta method on the multinomial counts.
///
/// With cell shares a = tp/n, b = fp/n, c = fn/n and F = 2a/(2a + b + c), the gradient is
/// ∂F/∂a = 2(b + c)/D², ∂F/∂b = ∂F/∂c = −2a/D², ∂F/∂tn = 0 (D = 2a + b + c), and the
/// multinomial covariance of the shares is (diag(π) − ππᵀ)/n. F is homogeneous of degree 0,
/// so gᵀπ = 0 and Var F = Σ gᵢ² πᵢ / n, which in counts is
///
///     Var F = 4 tp (fp + fn)(tp + fp + fn) / (2tp + fp + fn)⁴,
///
/// free of tn and of n. NaN when tp + fp + fn = 0. At F = 0 (tp = 0) or F = 1 (fp = fn = 0)
/// the first-order term vanishes and the result is 0: the delta method says nothing there.
/// Throws as f1_score. O(1).
inline double f1_standard_error(const ConfusionCounts& c) {
  detail::check_confusion("f1_standard_error", "counts", c);
  const double errors = c.false_positive + c.false_negative;
  const double denominator = 2 * c.true_positive + errors;
  if (!(denominator > 0)) return detail::undefined_metric;
  return 2 * std::sqrt(c.true_positive * errors * (c.true_positive + errors)) / (denominator * denominator);
}

/// z-test of F1(a) − F1(b) on independent samples: z = (F_a − F_b) / √(se_a² + se_b²) with
/// f1_standard_error. `greater` asks whether F1(a) > F1(b). NaN when either F1 is undefined;
/// when both standard errors are 0, z is 0 for equal F1 and ±∞ otherwise. Throws as f1_score.
inline TestResult f1_difference_test(const ConfusionCounts& a, const ConfusionCounts& b,
                                     Alternative alternative = Alternative::two_sided) {
  const double se_a = f1_standard_error(a);
  const double se_b = f1_standard_error(b);
  return detail::z_test_of_difference(f1_score(a) - f1_score(b), se_a * se_a + se_b * se_b, alternative);
}

/// Welch's t-test from summary statistics, as scipy.stats.ttest_ind_from_stats(mean_a,
/// √var_a, n_a, mean_b, √var_b, n_b, equal_var=False): t = (mean_a − mean_b) / √(var_a/n_a +
/// var_b/n_b) with the sample variances (denominator n − 1) and Welch–Satterthwaite degrees
/// of freedom (Welch 1947), returned in degrees_of_freedom. For log-loss, Brier score, absolute
/// or squared error and bias per window. `greater` asks whether mean_a > mean_b.
///
/// Returns NaN for both when n_a < 2 or n_b < 2 (no variance to go on); when both variances
/// are 0, t is ±∞ (or NaN for equal means) and the p-value NaN, as SciPy. The Student tail is
/// a regularized incomplete beta function with its prefactor formed in logs (detail::
/// student_t_sf), so it keeps its relative accuracy for large df too.
/// Throws vigil::invalid_argument when a mean or variance is not finite, a variance is
/// negative, or an n is negative or not finite. O(√df) at most.
inline TestResult welch_t_test(double mean_a, double variance_a, double n_a, double mean_b, double variance_b,
                               double n_b, Alternative alternative = Alternative::two_sided) {
  const double values[6] = {mean_a, variance_a, n_a, mean_b, variance_b, n_b};
  const char* names[6] = {"mean_a", "variance_a", "n_a", "mean_b", "variance_b", "n_b"};
  for (int i = 0; i < 6; ++i) {
    if (!std::isfinite(values[i]) || (i % 3 != 0 && values[i] < 0))
      detail::throw_bad_argument("welch_t_test", std::string(names[i]) + " = " + vigil::detail::to_text(values[i]) +
                                                     (i % 3 == 0 ? " is not finite" : " is not finite and ≥ 0"));
  }
  if (n_a < 2 || n_b < 2) return TestResult{detail::undefined_metric, detail::undefined_metric};
  const double share_a = variance_a / n_a;
  const double share_b = variance_b / n_b;
  const double variance = share_a + share_b;
  const double t = (mean_a - mean_b) / std::sqrt(variance);
  if (!(variance > 0)) return TestResult{t, detail::undefined_metric};
  // Welch–Satterthwaite in shares of the total variance, which cannot underflow.
  const double w = share_a / variance;
  const double df = 1 / (w * w / (n_a - 1) + (1 - w) * (1 - w) / (n_b - 1));
  double p = 0;
  if (alternative == Alternative::greater) {
    p = detail::student_t_sf(t, df);
  } else if (alternative == Alternative::less) {
    p = detail::student_t_sf(-t, df);
  } else {
    p = std::fmin(1.0, 2 * detail::student_t_sf(std::fabs(t), df));
  }
  return TestResult{t, p, df};
}

namespace detail {

/// DeLong's variance of a binned AUC (see roc_auc_binned). `auc` is the area; m and n the
/// positive and negative totals, both > 1.
inline double delong_variance_binned(const double* positive_counts, const double* negative_counts,
                                     std::size_t bins, double auc, double m, double n) {
  // Structural components: a positive in bin i beats (N_below + N_i/2)/n of the negatives;
  // a negative in bin i is beaten by (P_above + P_i/2)/m of the positives.
  CompensatedSum s10;
  CompensatedSum s01;
  double negatives_below = 0;
  double positives_above = m;
  for (std::size_t i = 0; i < bins; ++i) {
    const double p = positive_counts[i];
    const double q = negative_counts[i];
    positives_above -= p;
    const double v10 = (negatives_below + q / 2) / n - auc;
    const double v01 = (std::fmax(positives_above, 0.0) + p / 2) / m - auc;
    s10.add(p * v10 * v10);
    s01.add(q * v01 * v01);
    negatives_below += q;
  }
  return s10.value() / (m - 1) / m + s01.value() / (n - 1) / n;
}

}  // namespace detail

/// ROC AUC from counts of positives and negatives per score bin, bins in increasing score
/// order, with its variance by the structural components of DeLong, DeLong & Clarke-Pearson
/// (1988, Biometrics 44:837): V10 = Σ over positives (V10ᵢ − A)² / (m − 1), V01 likewise with
/// n − 1, variance = V10/m + V01/n.
///
/// A pair within one bin counts ½, so with one distinct score per bin this is exactly
/// sklearn.metrics.roc_auc_score (ties ½) and the Mann–Whitney U / (m n). Counts may be
/// weighted: passing Σp and Σ(1 − p) of calibrated probabilities p per bin as the positive and
/// negative counts gives the expected AUC of a label-free estimate.
///
/// AUC is NaN when either total is 0 (one class: scikit-learn raises); the variance is NaN
/// when either total is ≤ 1. Throws vigil::invalid_argument when a count is negative or not
/// finite, naming it. O(bins).
inline AucEstimate roc_auc_binned(const double* positive_counts, const double* negative_counts, std::size_t bins) {
  const double m = detail::check_counts("roc_auc_binned", "positive_counts", positive_counts, bins);
  const double n = detail::check_counts("roc_auc_binned", "negative_counts", negative_counts, bins);
  if (!(m > 0 && n > 0)) return AucEstimate{detail::undefined_metric, detail::undefined_metric, m, n};
  detail::CompensatedSum wins;
  double negatives_below = 0;
  for (std::size_t i = 0; i < bins; ++i) {
    wins.add(positive_counts[i] * (negatives_below + negative_counts[i] / 2));
    negatives_below += negative_counts[i];
  }
  const double auc = std::fmin(1.0, wins.value() / n / m);
  const double variance = m > 1 && n > 1
                              ? detail::delong_variance_binned(positive_counts, negative_counts, bins, auc, m, n)
                              : detail::undefined_metric;
  return AucEstimate{auc, variance, m, n};
}

/// roc_auc_binned on vectors; throws vigil::invalid_argument when their sizes differ.
inline AucEstimate roc_auc_binned(const std::vector<double>& positive_counts,
                                  const std::vector<double>& negative_counts) {
  detail::check_same_size("roc_auc_binned", "positive_counts", positive_counts.size(), "negative_counts",
                          negative_counts.size());
  return roc_auc_binned(positive_counts.data(), negative_counts.data(), positive_counts.size());
}

/// ROC AUC of scores against 0/1 labels, ties counted ½, as sklearn.metrics.roc_auc_score,
/// with DeLong's variance (roc_auc_binned on one bin per distinct score). NaN when a class is
/// missing (scikit-learn raises). Throws vigil::invalid_argument when the sizes differ, a
/// score is not finite or a label is not 0 or 1. O(n log n).
inline AucEstimate roc_auc(const std::vector<double>& scores, const std::vector<int>& labels) {
  detail::check_scored_labels("roc_auc", scores, labels);
  std::vector<std::size_t> order(scores.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::sort(order.begin(), order.end(), [&](std::size_t i, std::size_t j) { return scores[i] < scores[j]; });
  std::vector<double> positives;
  std::vector<double> negatives;
  for (std::size_t k = 0; k < order.size(); ++k) {
    if (k == 0 || scores[order[k]] != scores[order[k - 1]]) {
      positives.push_back(0);
      negatives.push_back(0);
    }
    (labels[order[k]] == 1 ? positives.back() : negatives.back()) += 1;
  }
  return roc_auc_binned(positives.data(), negatives.data(), positives.size());
}

/// z-test of AUC(a) − AUC(b) on independent samples: z = (A_a − A_b) / √(var_a + var_b)
/// with the DeLong variances. `greater` asks whether AUC(a) > AUC(b). NaN when either AUC or
/// variance is NaN; when both variances are 0, z is 0 for equal AUCs and ±∞ otherwise.
inline TestResult auc_difference_test(const AucEstimate& a, const AucEstimate& b,
                                      Alternative alternative = Alternative::two_sided) {
  return detail::z_test_of_difference(a.auc - b.auc, a.variance + b.variance, alternative);
}

/// The probabilities log_loss_term clips to: [ε, 1 − ε] with ε the double's machine epsilon,
/// as sklearn.metrics.log_loss(eps="auto") in scikit-learn 1.2 for float64 input.
inline constexpr double log_loss_epsilon = std::numeric_limits<double>::epsilon();

/// One sample's log-loss: −log p for label 1, −log(1 − p) for label 0, with p clipped to
/// [ε, 1 − ε] (log_loss_epsilon) so that a confident mistake costs at most −log ε ≈ 36.04.
/// Throws vigil::invalid_argument when p is not in [0, 1] or the label is not 0 or 1. O(1).
inline double log_loss_term(double probability, int label) {
  if (VIGIL_UNLIKELY(!(probability >= 0 && probability <= 1)))
    detail::throw_bad_argument("log_loss_term", "probability = " + vigil::detail::to_text(probability) +
                                                    " is not in [0, 1]");
  if (VIGIL_UNLIKELY(label != 0 && label != 1))
    detail::throw_bad_argument("log_loss_term", "label = " + std::to_string(label) + " is neither 0 nor 1");
  const double p = std::fmin(std::fmax(probability, log_loss_epsilon), 1 - log_loss_epsilon);
  return label == 1 ? -std::log(p) : -std::log1p(-p);
}

/// Mean log-loss (cross-entropy) of probabilities of the positive class against 0/1 labels,
/// as sklearn.metrics.log_loss in scikit-learn 1.2 (clipping as log_loss_term; a single class
/// is fine here, where scikit-learn asks for `labels`). NaN when empty. Throws
/// vigil::invalid_argument when the sizes differ, a probability is not in [0, 1] or a label
/// is not 0 or 1. O(n).
inline double log_loss(const std::vector<double>& probabilities, const std::vector<int>& labels) {
  detail::check_same_size("log_loss", "probabilities", probabilities.size(), "labels", labels.size());
  detail::check_probability_range("log_loss", probabilities);
  detail::check_binary_labels("log_loss", labels);
  if (probabilities.empty()) return detail::undefined_metric;
  detail::CompensatedSum total;
  for (std::size_t i = 0; i < probabilities.size(); ++i) total.add(log_loss_term(probabilities[i], labels[i]));
  return total.value() / static_cast<double>(probabilities.size());
}

/// Mean squared difference between probabilities and 0/1 labels (Brier 1950), as
/// sklearn.metrics.brier_score_loss. NaN when empty. Throws as log_loss. O(n).
inline double brier_score(const std::vector<double>& probabilities, const std::vector<int>& labels) {
  detail::check_same_size("brier_score", "probabilities", probabilities.size(), "labels", labels.size());
  detail::check_probability_range("brier_score", probabilities);
  detail::check_binary_labels("brier_score", labels);
  if (probabilities.empty()) return detail::undefined_metric;
  detail::CompensatedSum total;
  for (std::size_t i = 0; i < probabilities.size(); ++i) {
    const double difference = probabilities[i] - labels[i];
    total.add(difference * difference);
  }
  return total.value() / static_cast<double>(probabilities.size());
}

namespace detail {

/// One candidate threshold (a distinct score) with the positives and negatives at or above it.
struct ThresholdPoint {
  double threshold;
  double true_positive;
  double false_positive;
};

/// The candidate thresholds of a holdout, distinct scores in decreasing order. Sets the
/// class totals. Throws as check_scored_labels.
inline std::vector<ThresholdPoint> threshold_points(const char* function, const std::vector<double>& scores,
                                                    const std::vector<int>& labels, double& positives,
                                                    double& negatives) {
  check_scored_labels(function, scores, labels);
  std::vector<std::size_t> order(scores.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::sort(order.begin(), order.end(), [&](std::size_t i, std::size_t j) { return scores[i] > scores[j]; });
  std::vector<ThresholdPoint> points;
  double tp = 0;
  double fp = 0;
  for (std::size_t k = 0; k < order.size(); ++k) {
    (labels[order[k]] == 1 ? tp : fp) += 1;
    const bool last_of_tie = k + 1 == order.size() || scores[order[k + 1]] != scores[order[k]];
    if (last_of_tie) points.push_back(ThresholdPoint{scores[order[k]], tp, fp});
  }
  positives = tp;
  negatives = fp;
  return points;
}

inline ThresholdChoice threshold_choice(double threshold, double tp, double fp, double positives,
                                        double negatives) {
  const ConfusionCounts c{tp, fp, positives - tp, negatives - fp};
  const double r = recall(c);
  return ThresholdChoice{threshold, precision(c), r, f1_score(c), r, fp / negatives};
}

inline ThresholdChoice no_threshold() {
  constexpr double none = undefined_metric;
  return ThresholdChoice{none, none, none, none, none, none};
}

}  // namespace detail

/// The threshold of highest F1 on a labelled holdout (the maximum over
/// sklearn.metrics.precision_recall_curve); among equal F1 the highest threshold. Every
/// field is NaN when the holdout lacks a class. Throws vigil::invalid_argument when the sizes
/// differ, a score is not finite or a label is not 0 or 1. O(n log n).
inline ThresholdChoice max_f1_threshold(const std::vector<double>& scores, const std::vector<int>& labels) {
  double positives = 0;
  double negatives = 0;
  const auto points = detail::threshold_points("max_f1_threshold", scores, labels, positives, negatives);
  if (!(positives > 0 && negatives > 0)) return detail::no_threshold();
  std::size_t best = 0;
  double best_f1 = -1;
  for (std::size_t k = 0; k < points.size(); ++k) {
    const double f1 = f1_score(ConfusionCounts{points[k].true_positive, points[k].false_positive,
                                               positives - points[k].true_positive, 0});
    if (f1 > best_f1) {
      best_f1 = f1;
      best = k;
    }
  }
  return detail::threshold_choice(points[best].threshold, points[best].true_positive, points[best].false_positive,
                                  positives, negatives);
}

/// The threshold of highest Youden's J = tpr − fpr (Youden 1950) over the points of
/// sklearn.metrics.roc_curve; among equal J the highest threshold. NaN fields and throws as
/// max_f1_threshold. O(n log n).
inline ThresholdChoice youden_threshold(const std::vector<double>& scores, const std::vector<int>& labels) {
  double positives = 0;
  double negatives = 0;
  const auto points = detail::threshold_points("youden_threshold", scores, labels, positives, negatives);
  if (!(positives > 0 && negatives > 0)) return detail::no_threshold();
  std::size_t best = 0;
  double best_j = -2;
  for (std::size_t k = 0; k < points.size(); ++k) {
    const double j = points[k].true_positive / positives - points[k].false_positive / negatives;
    if (j > best_j) {
      best_j = j;
      best = k;
    }
  }
  return detail::threshold_choice(points[best].threshold, points[best].true_positive, points[best].false_positive,
                                  positives, negatives);
}

/// The threshold of highest recall whose precision reaches target_precision — the lowest such
/// threshold on sklearn.metrics.precision_recall_curve; among equal recall the highest
/// threshold, since a lower one would only add false positives. When no threshold reaches the
/// target, returns threshold = +∞ (flag nothing) with its metrics: precision NaN, recall, f1,
/// tpr and fpr 0. NaN fields when the holdout lacks a class. Throws vigil::invalid_argument
/// when target_precision is not in [0, 1], and as max_f1_threshold. O(n log n).
inline ThresholdChoice precision_threshold(const std::vector<double>& scores, const std::vector<int>& labels,
                                           double target_precision) {
  if (!(target_precision >= 0 && target_precision <= 1))
    detail::throw_bad_argument("precision_threshold", "target_precision = " +
                                                          vigil::detail::to_text(target_precision) +
                                                          " is not in [0, 1]");
  double positives = 0;
  double negatives = 0;
  const auto points = detail::threshold_points("precision_threshold", scores, labels, positives, negatives);
  if (!(positives > 0 && negatives > 0)) return detail::no_threshold();
  const detail::ThresholdPoint* best = nullptr;
  for (const auto& point : points) {
    const double tp = point.true_positive;
    const bool reaches = tp / (tp + point.false_positive) >= target_precision;
    if (reaches && (best == nullptr || tp > best->true_positive)) best = &point;
  }
  if (best == nullptr)
    return detail::threshold_choice(std::numeric_limits<double>::infinity(), 0, 0, positives, negatives);
  return detail::threshold_choice(best->threshold, best->true_positive, best->false_positive, positives, negatives);
}

}  // namespace vigil::stats

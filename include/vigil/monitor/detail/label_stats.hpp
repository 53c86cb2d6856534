// vigil — in-process monitoring of machine-learning models in C++ inference servers.
// SPDX-License-Identifier: Apache-2.0
//
// What the labels of one model output add up to: the realised quality of its answers, kept
// as sums that merge by adding, so that the labelled requests of any set of intervals (or of
// a holdout set, in the Profile) give their metrics and the variances their tests need.
#pragma once

#include <algorithm>
#include <array>
#include <cstdlib>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "vigil/error.hpp"
#include "vigil/io/binary.hpp"
#include "vigil/monitor/schema.hpp"
#include "vigil/sketch/rolling.hpp"
#include "vigil/sketch/tdigest.hpp"
#include "vigil/stats/calibration.hpp"
#include "vigil/stats/classification.hpp"

namespace vigil {
namespace detail {

/// How the labels of an output are read and judged, from its OutputOptions: a threshold makes
/// it a binary classifier (score ≥ threshold predicts the positive class), declared classes
/// without a threshold a multi-class one (the predicted class against the label's), and
/// neither a regression (the score against a numeric label).
enum class LabelKind : std::uint8_t { binary = 0, multiclass = 1, regression = 2 };

inline LabelKind label_kind(const OutputOptions& options) {
  if (!std::isnan(options.threshold)) return LabelKind::binary;
  if (!options.classes.empty()) return LabelKind::multiclass;
  return LabelKind::regression;
}

/// A label as the monitor takes it: a number (0/1 for a binary classifier, the true value for
/// a regression) or a class (its index among the output's declared classes).
struct LabelValue {
  static constexpr std::uint32_t no_class = 0xffffffffu;
  double number = std::numeric_limits<double>::quiet_NaN();
  std::uint32_t class_index = no_class;
};

/// Reads a numeric label for an output of kind `kind`: a binary classifier takes 0 or 1, a
/// regression any finite number, a multi-class output the index of a declared class. False
/// for anything else (the caller counts it as a bad label).
inline bool read_label(LabelKind kind, double label, std::size_t classes, LabelValue& out) {
  if (!std::isfinite(label)) return false;
  switch (kind) {
    case LabelKind::binary:
      if (label != 0 && label != 1) return false;
      out.number = label;
      return true;
    case LabelKind::regression: out.number = label; return true;
    case LabelKind::multiclass:
      if (!(label >= 0 && label < static_cast<double>(classes)) || label != std::floor(label)) return false;
      out.class_index = static_cast<std::uint32_t>(label);
      return true;
  }
  return false;
}

/// Reads a label given as text: a class name of a multi-class output; for a binary
/// classifier "1", "true" or "positive" (or the second of two declared classes) and "0",
/// "false" or "negative" (or the first); for a regression a decimal number.
inline bool read_label(LabelKind kind, std::string_view label, const std::vector<std::string>& classes,
                       LabelValue& out) {
  if (kind == LabelKind::multiclass) {
    for (std::size_t c = 0; c < classes.size(); ++c)
      if (classes[c] == label) {
        out.class_index = static_cast<std::uint32_t>(c);
        return true;
      }
    return false;
  }
  if (kind == LabelKind::binary) {
    const bool two = classes.size() == 2;
    if (label == "1" || label == "true" || label == "positive" || (two && label == classes[1])) return read_label(kind, 1.0, 0, out);
    if (label == "0" || label == "false" || label == "negative" || (two && label == classes[0])) return read_label(kind, 0.0, 0, out);
    return false;
  }
  const std::string text(label);
  char* end = nullptr;
  const double value = std::strtod(text.c_str(), &end);
  if (text.empty() || end != text.c_str() + text.size()) return false;
  return read_label(kind, value, 0, out);
}

/// The labelled requests of one output: counts and running moments that merge by adding.
///
/// - **binary**: the confusion counts at the threshold; per-request log-loss and Brier terms
///   (probability scores in [0, 1] only) as RunningStats, for their means and Welch tests;
///   ten equal-width reliability bins; and the scores of each class in a t-digest, from which
///   ROC AUC and its DeLong variance are computed on shared bins.
/// - **multiclass**: labelled and correct.
/// - **regression**: the error score − label, its absolute value and its square as
///   RunningStats (bias, MAE and MSE with their variances).
///
/// **Memory**: sizeof(LabelStats) (sums, moments and two t-digest objects) and the digests'
/// centroids: at most ⌈4.1δ⌉ + 4 of 16 bytes each per digest, plus their buffers while open.
struct LabelStats {
  static constexpr std::size_t reliability_bins = 10;
  static constexpr std::uint8_t format_version = 1;

  explicit LabelStats(double compression = 50) : positive_scores(compression), negative_scores(compression) {}

  double labelled = 0;    // labels joined to a request of this output
  double unscored = 0;    // of them, requests without a finite score (or class): not judged
  // binary
  double true_positive = 0, false_positive = 0, false_negative = 0, true_negative = 0;
  RunningStats log_loss, brier;
  std::array<stats::ReliabilitySums, reliability_bins> reliability{};
  TDigest<> positive_scores, negative_scores;
  // multiclass
  double correct = 0;
  // regression
  RunningStats error, absolute_error, squared_error;

  /// Adds one labelled request of a binary classifier: its score and label (0 or 1).
  void add_binary(double score, double threshold, double label);
  /// Adds one labelled request of a multi-class output (class indexes; no_class when the
  /// request had no predicted class).
  void add_multiclass(std::uint32_t predicted, std::uint32_t label);
  /// Adds one labelled request of a regression.
  void add_regression(double score, double label);

  /// Requests judged: labelled with a usable score or class.
  double judged() const { return labelled - unscored; }
  void merge(const LabelStats& other);
  void compact() {
    positive_scores.compact();
    negative_scores.compact();
  }
  friend bool operator==(const LabelStats& a, const LabelStats& b);
  std::size_t memory_bytes() const {
    return positive_scores.memory_bytes() + negative_scores.memory_bytes() - 2 * sizeof(TDigest<>);
  }
  void serialize(io::Writer& w) const;
  /// Reads what serialize() wrote; throws vigil::format_error for counts that are negative,
  /// not finite or inconsistent (more judged than labelled, a confusion table that does not
  /// add up to the binary requests judged).
  static LabelStats deserialize(io::Reader& r, double compression);
  /// What is wrong with the counts, or empty: every reader checks it.
  std::string consistency() const;
};

inline void LabelStats::add_binary(double score, double threshold, double label) {
  labelled += 1;
  if (!std::isfinite(score)) {
    unscored += 1;
    return;
  }
  const bool predicted = score >= threshold;
  const bool actual = label == 1;
  true_positive += predicted && actual;
  false_positive += predicted && !actual;
  false_negative += !predicted && actual;
  true_negative += !predicted && !actual;
  (actual ? positive_scores : negative_scores).add(score);
  if (!(score >= 0 && score <= 1)) return;
  log_loss.add(stats::log_loss_term(score, actual ? 1 : 0));
  brier.add((score - label) * (score - label));
  stats::ReliabilitySums& bin = reliability[stats::reliability_bin_index(score, reliability_bins)];
  bin.count += 1;
  bin.sum_predicted += score;
  bin.sum_positive += label;
}

inline void LabelStats::add_multiclass(std::uint32_t predicted, std::uint32_t label) {
  labelled += 1;
  if (predicted == LabelValue::no_class) {
    unscored += 1;
    return;
  }
  correct += predicted == label;
}

inline void LabelStats::add_regression(double score, double label) {
  labelled += 1;
  const double e = score - label;
  if (!std::isfinite(e)) {
    unscored += 1;
    return;
  }
  error.add(e);
  absolute_error.add(std::fabs(e));
  squared_error.add(e * e);
}

inline void LabelStats::merge(const LabelStats& o) {
  labelled += o.labelled;
  unscored += o.unscored;
  true_positive += o.true_positive;
  false_positive += o.false_positive;
  false_negative += o.false_negative;
  true_negative += o.true_negative;
  log_loss.merge(o.log_loss);
  brier.merge(o.brier);
  for (std::size_t b = 0; b < reliability_bins; ++b) reliability[b] += o.reliability[b];
  positive_scores.merge(o.positive_scores);
  negative_scores.merge(o.negative_scores);
  correct += o.correct;
  error.merge(o.error);
  absolute_error.merge(o.absolute_error);
  squared_error.merge(o.squared_error);
}

inline bool same_reliability(const LabelStats& a, const LabelStats& b) {
  for (std::size_t i = 0; i < LabelStats::reliability_bins; ++i) {
    const stats::ReliabilitySums& x = a.reliability[i];
    const stats::ReliabilitySums& y = b.reliability[i];
    if (x.count != y.count || x.sum_predicted != y.sum_predicted || x.sum_positive != y.sum_positive) return false;
  }
  return true;
}

inline bool operator==(const LabelStats& a, const LabelStats& b) {
  return a.labelled == b.labelled && a.unscored == b.unscored && a.true_positive == b.true_positive &&
         a.false_positive == b.false_positive && a.false_negative == b.false_negative &&
         a.true_negative == b.true_negative && a.log_loss == b.log_loss && a.brier == b.brier &&
         same_reliability(a, b) && a.positive_scores == b.positive_scores &&
         a.negative_scores == b.negative_scores && a.correct == b.correct && a.error == b.error &&
         a.absolute_error == b.absolute_error && a.squared_error == b.squared_error;
}


namespace label_stats_io {
template <class Sketch>
void write(io::Writer& w, const Sketch& s) {
  const std::vector<std::uint8_t> bytes = s.serialize();
  w.varint(bytes.size());
  w.bytes(bytes.data(), bytes.size());
}
template <class Sketch>
Sketch read(io::Reader& r) {
  const std::size_t n = r.count(1);
  std::vector<std::uint8_t> bytes(n);
  for (std::size_t i = 0; i < n; ++i) bytes[i] = r.u8();
  return Sketch::deserialize(bytes);
}
inline double count(io::Reader& r, const char* what) {
  const double v = r.f64();
  if (!(v >= 0) || !std::isfinite(v)) r.fail(std::string(what) + " " + to_text(v) + " is not a count");
  return v;
}
}  // namespace label_stats_io

inline void LabelStats::serialize(io::Writer& w) const {
  for (double v : {labelled, unscored, true_positive, false_positive, false_negative, true_negative, correct}) w.f64(v);
  for (const RunningStats* s : {&log_loss, &brier, &error, &absolute_error, &squared_error}) label_stats_io::write(w, *s);
  for (const stats::ReliabilitySums& b : reliability) {
    w.f64(b.count);
    w.f64(b.sum_predicted);
    w.f64(b.sum_positive);
  }
  label_stats_io::write(w, positive_scores);
  label_stats_io::write(w, negative_scores);
}

inline LabelStats LabelStats::deserialize(io::Reader& r, double compression) {
  using label_stats_io::count;
  LabelStats s(compression);
  s.labelled = count(r, "labelled");
  s.unscored = count(r, "unscored");
  for (double* v : {&s.true_positive, &s.false_positive, &s.false_negative, &s.true_negative, &s.correct}) *v = count(r, "count");
  for (RunningStats* m : {&s.log_loss, &s.brier, &s.error, &s.absolute_error, &s.squared_error})
    *m = label_stats_io::read<RunningStats>(r);
  for (stats::ReliabilitySums& b : s.reliability) {
    b.count = count(r, "reliability count");
    b.sum_predicted = count(r, "reliability sum");
    b.sum_positive = count(r, "reliability positives");
    if (b.sum_predicted > b.count * (1 + 1e-12) || b.sum_positive > b.count)
      r.fail("a reliability bin holds more than its count");
  }
  s.positive_scores = label_stats_io::read<TDigest<>>(r);
  s.negative_scores = label_stats_io::read<TDigest<>>(r);
  const std::string problem = s.consistency();
  if (!problem.empty()) r.fail("label statistics: " + problem);
  return s;
}

inline std::string LabelStats::consistency() const {
  if (unscored > labelled) return "more unscored than labelled requests";
  const double judged_binary = true_positive + false_positive + false_negative + true_negative;
  const double judged_regression = error.count();
  const double judged_kinds = (judged_binary > 0) + (correct > 0) + (judged_regression > 0);
  if (judged_kinds > 1) return "labels of more than one kind of output";
  if (judged_binary > judged() * (1 + 1e-12) || correct > judged() * (1 + 1e-12) ||
      judged_regression > judged() * (1 + 1e-12))
    return "more requests judged than labelled";
  if (positive_scores.count() + negative_scores.count() > judged_binary * (1 + 1e-12) + 0.5)
    return "more class scores than binary requests judged";
  return "";
}

}  // namespace detail
}  // namespace vigil

// vigil — in-process monitoring of machine-learning models in C++ inference servers.
// SPDX-License-Identifier: Apache-2.0
#include "vigil/monitor/detail/label_stats.hpp"

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "vigil_test.hpp"

namespace {

using vigil::detail::LabelKind;
using vigil::detail::LabelStats;
using vigil::detail::LabelValue;

LabelStats round_trip(const LabelStats& s) {
  std::vector<std::uint8_t> bytes;
  vigil::io::Writer w(bytes);
  s.serialize(w);
  vigil::io::Reader r(bytes.data(), bytes.size(), "LabelStats");
  LabelStats back = LabelStats::deserialize(r, 50);
  r.finish();
  return back;
}

}  // namespace

TEST_CASE("LabelStats: empty", "[label_stats]") {
  const LabelStats s;
  CHECK(s.labelled == 0);
  CHECK(s.judged() == 0);
  CHECK(s.consistency().empty());
  CHECK(round_trip(s) == s);
}

TEST_CASE("LabelStats: one binary label", "[label_stats]") {
  LabelStats s;
  s.add_binary(0.85, 0.5, 0);
  CHECK(s.false_positive == 1);
  CHECK(s.true_positive + s.false_negative + s.true_negative == 0);
  CHECK(s.log_loss.mean() == Approx(-std::log(0.15)).epsilon(1e-14));
  CHECK(s.brier.mean() == Approx(0.85 * 0.85).epsilon(1e-15));
  CHECK(s.reliability[8].count == 1);
  CHECK(s.negative_scores.count() == 1);
  CHECK(round_trip(s) == s);
}

TEST_CASE("LabelStats: binary labels add up as a direct computation does", "[label_stats]") {
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> u(0, 1);
  LabelStats all, a, b;
  double tp = 0, fp = 0, fn = 0, tn = 0, loss = 0, brier = 0;
  const int n = 5000;
  for (int i = 0; i < n; ++i) {
    const double p = u(rng);
    const double y = u(rng) < p ? 1 : 0;
    all.add_binary(p, 0.3, y);
    (i % 3 == 0 ? a : b).add_binary(p, 0.3, y);
    const bool pred = p >= 0.3;
    tp += pred && y == 1;
    fp += pred && y == 0;
    fn += !pred && y == 1;
    tn += !pred && y == 0;
    loss += y == 1 ? -std::log(p) : -std::log1p(-p);
    brier += (p - y) * (p - y);
  }
  CHECK(all.true_positive == tp);
  CHECK(all.false_positive == fp);
  CHECK(all.false_negative == fn);
  CHECK(all.true_negative == tn);
  CHECK(all.log_loss.mean() == Approx(loss / n).epsilon(1e-12));
  CHECK(all.brier.mean() == Approx(brier / n).epsilon(1e-12));
  a.merge(b);
  CHECK(a.true_positive == tp);
  CHECK(a.labelled == n);
  CHECK(a.log_loss.mean() == Approx(loss / n).epsilon(1e-12));
  CHECK(a.positive_scores.count() + a.negative_scores.count() == n);
  CHECK(round_trip(all) == all);
}

TEST_CASE("LabelStats: multiclass and regression labels", "[label_stats]") {
  LabelStats m;
  m.add_multiclass(2, 2);
  m.add_multiclass(1, 2);
  m.add_multiclass(LabelValue::no_class, 0);
  CHECK(m.labelled == 3);
  CHECK(m.unscored == 1);
  CHECK(m.correct == 1);
  CHECK(round_trip(m) == m);
  LabelStats r;
  r.add_regression(3, 1);
  r.add_regression(1, 4);
  r.add_regression(std::nan(""), 4);
  CHECK(r.judged() == 2);
  CHECK(r.error.mean() == Approx(-0.5));
  CHECK(r.absolute_error.mean() == Approx(2.5));
  CHECK(r.squared_error.mean() == Approx(6.5));
  CHECK(round_trip(r) == r);
}

TEST_CASE("LabelStats: labels read by output kind", "[label_stats]") {
  LabelValue v;
  CHECK(vigil::detail::read_label(LabelKind::binary, 1.0, 0, v));
  CHECK(v.number == 1);
  CHECK_FALSE(vigil::detail::read_label(LabelKind::binary, 0.5, 0, v));
  CHECK_FALSE(vigil::detail::read_label(LabelKind::regression, std::nan(""), 0, v));
  const std::vector<std::string> classes{"cat", "dog", "eel"};
  CHECK(vigil::detail::read_label(LabelKind::multiclass, "eel", classes, v));
  CHECK(v.class_index == 2);
  CHECK_FALSE(vigil::detail::read_label(LabelKind::multiclass, "emu", classes, v));
  CHECK(vigil::detail::read_label(LabelKind::multiclass, 1.0, classes.size(), v));
  CHECK(v.class_index == 1);
  CHECK_FALSE(vigil::detail::read_label(LabelKind::multiclass, 3.0, classes.size(), v));
  CHECK_FALSE(vigil::detail::read_label(LabelKind::multiclass, 0.5, classes.size(), v));
  const std::vector<std::string> two{"legit", "fraud"};
  CHECK(vigil::detail::read_label(LabelKind::binary, "fraud", two, v));
  CHECK(v.number == 1);
  CHECK(vigil::detail::read_label(LabelKind::binary, "false", two, v));
  CHECK(v.number == 0);
  CHECK_FALSE(vigil::detail::read_label(LabelKind::binary, "maybe", two, v));
  CHECK(vigil::detail::read_label(LabelKind::regression, "-2.5e1", {}, v));
  CHECK(v.number == -25);
  CHECK_FALSE(vigil::detail::read_label(LabelKind::regression, "12 kg", {}, v));
  CHECK_FALSE(vigil::detail::read_label(LabelKind::regression, "", {}, v));
}

TEST_CASE("LabelStats: inconsistent bytes are refused", "[label_stats]") {
  LabelStats s;
  s.add_binary(0.9, 0.5, 1);
  std::vector<std::uint8_t> bytes;
  vigil::io::Writer w(bytes);
  s.serialize(w);
  // labelled (the first double) set to 0: more unscored... judged than labelled.
  std::vector<std::uint8_t> fewer = bytes;
  for (int i = 0; i < 8; ++i) fewer[static_cast<std::size_t>(i)] = 0;
  vigil::io::Reader r1(fewer.data(), fewer.size(), "LabelStats");
  CHECK_THROWS_AS(LabelStats::deserialize(r1, 50), vigil::format_error);
  // A negative count.
  std::vector<std::uint8_t> negative = bytes;
  negative[7] = 0xbf;  // -1.0 has sign bit set: 0xbff0...
  negative[6] = 0xf0;
  vigil::io::Reader r2(negative.data(), negative.size(), "LabelStats");
  CHECK_THROWS_AS(LabelStats::deserialize(r2, 50), vigil::format_error);
  vigil::io::Reader r3(bytes.data(), bytes.size() - 3, "LabelStats");
  CHECK_THROWS_AS(LabelStats::deserialize(r3, 50), vigil::format_error);
}

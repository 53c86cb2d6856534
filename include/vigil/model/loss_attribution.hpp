// vigil — in-process monitoring of machine-learning models in C++ inference servers.
// SPDX-License-Identifier: Apache-2.0
#pragma once

/// \file
/// LossAttribution: each labelled request's loss shared out among the input features, as
/// Shapley values, for a linear or logistic model whose coefficients are known. A monitor
/// that follows these shares over time sees which feature a rise of the loss comes from,
/// as Lundberg et al. monitor a model by the SHAP values of its loss ("From local
/// explanations to global understanding with explainable AI for trees", Nature Machine
/// Intelligence 2, 2020). Servers that run an explainer of their own do not need it.

#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "vigil/error.hpp"

namespace vigil {

/// How a linear model's margin m = intercept + Σ w_j x_j becomes its prediction, and the
/// loss that goes with it.
enum class LinkFunction : std::uint8_t {
  /// Regression: the prediction is m, the loss (m − y)².
  identity = 0,
  /// Binary classifier: the probability of class 1 is 1/(1 + e^−m), the loss is the log
  /// loss −y·log p − (1 − y)·log(1 − p) = softplus(m) − y·m, with y ∈ {0, 1}.
  logistic = 1,
};

/// "identity" or "logistic".
inline const char* to_string(LinkFunction link) {
  switch (link) {
    case LinkFunction::identity: return "identity";
    case LinkFunction::logistic: return "logistic";
  }
  return "unknown";
}

/// A linear or logistic model: its coefficients over the numeric input features.
struct LinearModel {
  /// One per numeric input feature, in schema order.
  std::vector<double> weights;
  double intercept = 0;
  LinkFunction link = LinkFunction::identity;
};

/// Interventional Shapley values of one request's loss over a background sample.
///
/// **Definition.** For a request x with true answer y and a background row z (a typical
/// request), the features play the game v_z(S) = loss(f(x_S, z_rest), y): the features in S
/// take the request's values, the others the background row's, so the margin is
/// m_z(S) = m(z) + Σ_{k∈S} δ_k with δ_k = w_k·(x_k − z_k). Feature j's share φ_j is the
/// mean over the background rows of its Shapley value in v_z (Shapley, "A value for
/// n-person games", 1953): the interventional SHAP value of the loss. The shares add up to
/// loss(x, y) − mean_z loss(z, y) (efficiency); a feature whose weight is zero, or whose
/// value equals every background row's, gets 0; two features with the same weight and the
/// same values get the same share.
///
/// **Squared loss** (LinkFunction::identity), exact: with r_z = m(z) − y,
/// φ_j = mean_z δ_j·(2·r_z + Σ_k δ_k) (the square of a sum is shared term by term, each
/// cross term δ_k·δ_l equally between k and l). Since Σ_k δ_k = m(x) − m(z), this is
/// w_j·[(x_j − z̄_j)·(m̄ + m(x) − 2y) − cov(z_j, m(z))] over the background's means z̄_j,
/// m̄ and covariances, which the constructor computes: O(d) per call.
///
/// **Log loss** (LinkFunction::logistic). Its −y·m part is linear in the margin, so its
/// shares are exact: −y·w_j·(x_j − z̄_j). The softplus part g(m) = log(1 + e^m) depends on
/// S only through the sum of δ over S. In both paths below a softplus difference
/// g(c + s) − g(c) costs one logarithm, from e^s and the logistic function at c.
/// - d ≤ exact_features: exact Shapley values. For each background row, the d' features
///   whose δ is not zero play (the others get exactly 0); the 2^d' subset values are
///   weighted by |S|!(d' − |S| − 1)!/d'!. Per call: at most n·2^d logarithms and
///   n·2^d·(d/2 + 4) additions, and 4 KB of stack.
/// - d > exact_features: Owen's multilinear extension (G. Owen, "Multilinear extensions of
///   games", Management Science 18(5), 1972): φ_j = ∫₀¹ E[g(c + δ_j + X) − g(c + X)] dq with
///   c = m(z), X = Σ_{k≠j} B_k·δ_k, B_k independent Bernoulli(q). X is taken as normal with
///   the same mean q·Σ_{k≠j} δ_k and variance q(1 − q)·Σ_{k≠j} δ_k²; the integral over q is
///   a Gauss–Legendre rule of probability_nodes (P) nodes, the normal expectation a
///   Gauss–Hermite rule of normal_nodes (H) nodes. Per call: n·d·P·H = 64·n·d exponentials
///   and as many logarithms. The softplus shares are then made to add up exactly to
///   g(m(x)) − mean_z g(m(z)): the residual is shared in proportion to |φ_j|, which keeps
///   zero shares zero and equal shares equal.
///
///   Error, measured against exact enumeration for d = 13 … 20 on 160 random models per
///   spread s (weights N(0, s²/d), intercept, features and background N(0, 1), 16 or 64
///   background rows, so that margins spread about s), as max_j |φ_j − φ_j exact| over
///   Σ_j |φ_j exact|: at most 2·10⁻⁴ for s ≤ 0.5, 8·10⁻³ for s ≤ 2 and 3.2·10⁻² for
///   s ≤ 32 (averages 2·10⁻⁵, 8·10⁻⁴ and 5·10⁻³). The largest relative errors are where
///   the model is confidently right, so the loss and its shares are small. The normal
///   approximation makes nearly all of it: the quadrature (against 64 × 64 nodes) adds at
///   most 10⁻⁴ of Σ_j |φ_j| for s ≤ 2 and 5·10⁻³ at s = 32. Why 8 × 8: the integrand is
///   smooth in q (the normal depends on q through q and q(1 − q) only), and 16 Legendre
///   nodes change the error by under 2 %, 4 double it at s = 8; the softplus kink makes
///   the normal expectation the harder part, where 6 Hermite nodes leave 1.7 times the
///   quadrature error of 8, and 12 cut it to 0.4 times for 1.5 times the cost, while the
///   approximation's own error is at least 6 times larger.
///
/// **Memory**: the model and the background, plus 2·d + n doubles; memory_bytes() says
/// how much. attribute() allocates nothing.
///
/// **Threads**: attribute() and the other const members keep no scratch state: any number
/// of threads may call them on one object at once.
///
/// **Bad input**: the constructor throws vigil::invalid_argument, naming the value, for a
/// model without weights, a non-finite weight or intercept, an unknown link, a background
/// whose size is not a positive multiple of d, a non-finite background value, more than
/// max_background rows, or a background row whose margin overflows. attribute() refuses a
/// request (returns false, writes NaN) whose values or answer are not finite, whose answer
/// is neither 0 nor 1 for a logistic model, or whose shares overflow.
///
/// ```cpp
/// vigil::LossAttribution shares({{0.8, -1.5, 0.1}, 0.2, vigil::LinkFunction::logistic}, background);
/// double phi[3];
/// if (shares.attribute(features, label, phi)) { /* phi[j]: feature j's share of the loss */ }
/// ```
class LossAttribution {
 public:
  /// Most background rows accepted.
  static constexpr std::size_t max_background = 1024;
  /// Up to this many features the log loss is shared exactly, at up to n·2^d logarithms;
  /// beyond, Owen's path costs n·d·64 of them (and as many exponentials) and is cheaper
  /// from d ≈ 10 on, but approximate.
  static constexpr std::size_t exact_features = 12;
  /// Gauss–Legendre nodes of the integral over q (Owen's path, d > exact_features).
  static constexpr std::size_t probability_nodes = 8;
  /// Gauss–Hermite nodes of the normal expectation (Owen's path, d > exact_features).
  static constexpr std::size_t normal_nodes = 8;

  /// `background`: n rows of d = model.weights.size() values, row-major (n·d doubles), the
  /// features' values of typical requests (the profile keeps such a sample). Throws
  /// vigil::invalid_argument naming the value for: no weights, a non-finite weight or
  /// intercept, an unknown link, a background whose size is not a positive multiple of d, a
  /// non-finite background value, more than max_background rows, a background row whose
  /// margin overflows. O(n·d).
  LossAttribution(LinearModel model, std::vector<double> background);

  /// d: the number of features.
  std::size_t features() const { return model_.weights.size(); }
  /// n: the number of background rows.
  std::size_t background_rows() const { return rows_; }
  const LinearModel& model() const { return model_; }
  /// The background sample, row-major.
  const std::vector<double>& background() const { return background_; }

  /// Writes d values into `out`: feature j's share of the loss of the prediction for `x`
  /// (d values) with true answer `y` (0 or 1 for logistic; any finite number for
  /// identity), relative to the background: the values sum to loss(x, y) − mean over
  /// background rows z of loss(z, y). Returns false, writing NaN, when x has a non-finite
  /// value, y is not finite, (logistic) y is neither 0 nor 1, or a share overflows.
  /// Allocates nothing and may run on several threads at once. O(d) for squared loss;
  /// for log loss, see the class comment.
  bool attribute(const double* x, double y, double* out) const;

  /// Bytes held: the object, the model's weights, the background and the constructor's
  /// per-feature and per-row summaries.
  std::size_t memory_bytes() const;

 private:
  void attribute_squared(const double* x, double margin, double y, double* out) const;
  void attribute_log(const double* x, double margin, double y, double* out) const;
  // Adds `scale` times the exact shares of the softplus part in background row `row`.
  void add_exact_softplus_row(const double* x, std::size_t row, double scale, double* out) const;

  LinearModel model_;
  std::vector<double> background_;
  std::size_t rows_ = 0;
  std::vector<double> feature_means_;        // z̄_j over the background rows
  std::vector<double> margin_covariances_;   // cov(z_j, m(z)) over the background rows
  std::vector<double> margins_;              // m(z) of each background row
  double mean_margin_ = 0;                   // m̄
  double mean_softplus_ = 0;                 // mean_z softplus(m(z))
};

// ---------------------------------------------------------------------------------------
// Implementation.

namespace detail {

/// log(1 + e^m), without overflow for large m or loss of digits for very negative m.
inline double softplus(double m) { return (m > 0 ? m : 0.0) + std::log1p(std::exp(-std::fabs(m))); }

/// intercept + Σ w_j·x_j.
inline double linear_margin(const std::vector<double>& weights, double intercept, const double* x) {
  double m = intercept;
  for (std::size_t j = 0; j < weights.size(); ++j) m += weights[j] * x[j];
  return m;
}

/// The logistic function at m, 1/(1 + e^−m), and its complement, each to full relative
/// precision (neither is formed as 1 minus the other).
struct Logistic {
  double up = 0;
  double down = 0;
  explicit Logistic(double m) {
    const double tail = std::exp(-std::fabs(m));
    const double big = 1 / (1 + tail), small = tail * big;
    up = m >= 0 ? big : small;
    down = m >= 0 ? small : big;
  }
  /// softplus(m + s) − softplus(m) = log(1 + up·(e^s − 1)), from growth = e^s and
  /// growth_minus_one = e^s − 1 (finite and positive: |s| ≤ 700). One logarithm instead of
  /// two softplus evaluations; log1p keeps small changes accurate, and where up·(e^s − 1)
  /// nears −1 the form log(down + up·e^s) adds two positive terms instead.
  double softplus_change(double growth, double growth_minus_one) const {
    const double step = up * growth_minus_one;
    return step > -0.5 ? std::log1p(step) : std::log(down + up * growth);
  }
};

/// Beyond this |s|, e^s leaves the range of normal doubles and softplus_change is not used.
inline constexpr double max_growth_exponent = 700;

/// An N-node quadrature rule: Σ weights[i]·f(nodes[i]) approximates an integral.
template <std::size_t N>
struct QuadratureRule {
  std::array<double, N> nodes{};
  std::array<double, N> weights{};
};

/// The N roots of a polynomial in (lo, hi), all simple and at least (hi − lo)/4096 apart:
/// sign changes on a grid, each refined by bisection to the last bit.
template <std::size_t N, class Polynomial>
std::array<double, N> polynomial_roots(Polynomial p, double lo, double hi) {
  std::array<double, N> roots{};
  std::size_t found = 0;
  const std::size_t cells = 4096;
  for (std::size_t i = 0; i < cells && found < N; ++i) {
    double a = lo + (hi - lo) * static_cast<double>(i) / cells;
    double b = lo + (hi - lo) * static_cast<double>(i + 1) / cells;
    double fa = p(a);
    if (fa == 0) {
      roots[found++] = a;
      continue;
    }
    const double fb = p(b);
    if (fb == 0 || (fa < 0) == (fb < 0)) continue;  // a root at b is the next cell's a
    for (;;) {
      const double mid = 0.5 * (a + b);
      if (mid <= a || mid >= b) break;
      const double fm = p(mid);
      if (fm == 0) a = b = mid;
      else if ((fm < 0) == (fa < 0)) a = mid, fa = fm;
      else b = mid;
    }
    roots[found++] = a;
  }
  return roots;
}

/// Legendre polynomials P_n(t) and P_{n−1}(t), n ≥ 1, by their three-term recurrence.
inline std::pair<double, double> legendre(std::size_t n, double t) {
  double previous = 1, current = t;
  for (std::size_t k = 1; k < n; ++k) {
    const double next = ((2.0 * k + 1) * t * current - static_cast<double>(k) * previous) / (k + 1.0);
    previous = current;
    current = next;
  }
  return {current, previous};
}

/// Probabilists' Hermite polynomials He_n(t) and He_{n−1}(t), n ≥ 1: He_{k+1} = t·He_k − k·He_{k−1}.
inline std::pair<double, double> hermite(std::size_t n, double t) {
  double previous = 1, current = t;
  for (std::size_t k = 1; k < n; ++k) {
    const double next = t * current - static_cast<double>(k) * previous;
    previous = current;
    current = next;
  }
  return {current, previous};
}

/// Gauss–Legendre rule for ∫₀¹ f(q) dq, exact for polynomials of degree < 2N.
template <std::size_t N>
QuadratureRule<N> gauss_legendre_unit() {
  QuadratureRule<N> rule;
  const auto t = polynomial_roots<N>([](double s) { return legendre(N, s).first; }, -1, 1);
  for (std::size_t i = 0; i < N; ++i) {
    // P'_N(t) = N·(P_{N−1}(t) − t·P_N(t))/(1 − t²); the weight on [−1, 1] is 2/((1 − t²)·P'_N²).
    const auto p = legendre(N, t[i]);
    const double one_minus_t2 = 1 - t[i] * t[i];
    const double derivative = static_cast<double>(N) * (p.second - t[i] * p.first) / one_minus_t2;
    rule.nodes[i] = 0.5 * (1 + t[i]);
    rule.weights[i] = 1 / (one_minus_t2 * derivative * derivative);
  }
  return rule;
}

/// Gauss–Hermite rule for E f(Z), Z standard normal, exact for polynomials of degree < 2N.
template <std::size_t N>
QuadratureRule<N> gauss_hermite_normal() {
  QuadratureRule<N> rule;
  // Every root of He_N lies within ±√(4N + 2).
  const double reach = std::sqrt(4.0 * N + 2);
  rule.nodes = polynomial_roots<N>([](double s) { return hermite(N, s).first; }, -reach, reach);
  double factorial = 1;  // (N − 1)!
  for (std::size_t k = 2; k < N; ++k) factorial *= static_cast<double>(k);
  for (std::size_t i = 0; i < N; ++i) {
    const double previous = hermite(N, rule.nodes[i]).second;
    rule.weights[i] = factorial / (static_cast<double>(N) * previous * previous);
  }
  return rule;
}

/// The two rules of Owen's path, computed once per program.
template <std::size_t Probability, std::size_t Normal>
struct OwenRules {
  QuadratureRule<Probability> probability = gauss_legendre_unit<Probability>();
  QuadratureRule<Normal> normal = gauss_hermite_normal<Normal>();
  std::array<double, Probability> spread{};  // √(q(1 − q)) at each probability node
  OwenRules() {
    for (std::size_t a = 0; a < Probability; ++a)
      spread[a] = std::sqrt(probability.nodes[a] * (1 - probability.nodes[a]));
  }
};

template <std::size_t Probability, std::size_t Normal>
const OwenRules<Probability, Normal>& owen_rules() {
  static const OwenRules<Probability, Normal> rules;
  return rules;
}

/// Shapley weights of a d-player game: weight[s] = s!(d − s − 1)!/d! for s < d, weight[d] = 0.
/// `weight` and `inside` hold d + 1 values; inside[s] = weight[s − 1] + weight[s] (s ≥ 1).
inline void shapley_weights(std::size_t d, double* weight, double* inside) {
  weight[0] = 1 / static_cast<double>(d);
  for (std::size_t s = 0; s + 1 < d; ++s)
    weight[s + 1] = weight[s] * static_cast<double>(s + 1) / static_cast<double>(d - s - 1);
  weight[d] = 0;
  inside[0] = 0;
  for (std::size_t s = 1; s <= d; ++s) inside[s] = weight[s - 1] + weight[s];
}

/// Sums, sizes and e^sum of the 2^players subsets of δ[0, players), players ≤ 6, indexed by
/// the subset's bits.
struct SubsetTable {
  std::array<double, 64> sum{};
  std::array<double, 64> growth{};
  std::array<std::size_t, 64> size{};
  SubsetTable(const double* delta, std::size_t players) {
    growth[0] = 1;
    for (std::size_t k = 0; k < players; ++k) {
      const double factor = std::exp(delta[k]);
      const std::size_t half = std::size_t{1} << k;
      for (std::size_t set = 0; set < half; ++set) {
        sum[half + set] = sum[set] + delta[k];
        growth[half + set] = growth[set] * factor;
        size[half + set] = size[set] + 1;
      }
    }
  }
};

/// Exact Shapley values of the game v(S) = softplus(c + Σ_{k∈S} δ_k) − softplus(c), for
/// d ≤ 12 players, written to `out`:
/// φ_j = Σ_{S∋j} weight[|S|−1]·v(S) − Σ_{S∌j} weight[|S|]·v(S)
///     = Σ_{S∋j} inside[|S|]·v(S) − Σ_S weight[|S|]·v(S).
/// The players are split into the first six and the rest; each subset is a pair of one
/// subset of each, whose e^sum is a product of two tabled values, so each of the 2^d values
/// costs one logarithm (Logistic::softplus_change). A block of 64 subsets that share their
/// second part is shared out at once. 2^d logarithms and about 2^d·(d/2 + 4) additions.
inline void exact_softplus_shares(const double* delta, std::size_t d, double c, const double* weight,
                                  const double* inside, double* out) {
  const std::size_t low = d < 6 ? d : 6, low_sets = std::size_t{1} << low;
  const SubsetTable lows(delta, low), highs(delta + low, d - low);
  double reach = 0;
  for (std::size_t k = 0; k < d; ++k) reach += std::fabs(delta[k]);
  const bool direct = reach > max_growth_exponent;  // some e^sum would overflow
  const Logistic p(c);
  const double base = softplus(c);
  std::array<double, 64> share{};
  double common = 0;
  for (std::size_t j = 0; j < d; ++j) out[j] = 0;
  for (std::size_t high = 0; high < (std::size_t{1} << (d - low)); ++high) {
    double block = 0;
    for (std::size_t set = 0; set < low_sets; ++set) {
      const std::size_t size = highs.size[high] + lows.size[set];
      const double growth = highs.growth[high] * lows.growth[set];
      const double value = direct ? softplus(c + highs.sum[high] + lows.sum[set]) - base
                                  : p.softplus_change(growth, growth - 1);
      common += weight[size] * value;
      share[set] = inside[size] * value;
      block += share[set];
    }
    for (std::size_t j = 0; j < low; ++j) {
      const std::size_t run = std::size_t{1} << j;  // the sets holding player j: runs of this length
      for (std::size_t start = run; start < low_sets; start += 2 * run)
        for (std::size_t i = start; i < start + run; ++i) out[j] += share[i];
    }
    for (std::size_t k = low; k < d; ++k)
      if ((high >> (k - low)) & 1u) out[k] += block;
  }
  for (std::size_t j = 0; j < d; ++j) out[j] -= common;
}

/// Owen's multilinear extension of the game v(S) = softplus(c + Σ_{k∈S} δ_k), δ_k =
/// weights[k]·(x[k] − z[k]), with the Bernoulli sum of the other players taken as normal
/// (see LossAttribution): each feature's value, times `scale`, added to `out`. `total` is
/// Σ_k δ_k. d·Probability·Normal exponentials and as many logarithms.
template <std::size_t Probability, std::size_t Normal>
void owen_softplus_shares(const std::vector<double>& weights, const double* x, const double* z, double c,
                          double total, double scale, double* out) {
  const auto& rules = owen_rules<Probability, Normal>();
  const std::size_t d = weights.size();
  double squares = 0;
  for (std::size_t k = 0; k < d; ++k) {
    const double delta = weights[k] * (x[k] - z[k]);
    squares += delta * delta;
  }
  for (std::size_t j = 0; j < d; ++j) {
    const double delta = weights[j] * (x[j] - z[j]);
    if (delta == 0) continue;
    const double rest_sum = total - delta;
    const double rest_sd = std::sqrt(std::fmax(squares - delta * delta, 0.0));
    const bool direct = std::fabs(delta) > max_growth_exponent;
    const double growth = direct ? 0.0 : std::exp(delta), growth_minus_one = direct ? 0.0 : std::expm1(delta);
    double value = 0;
    for (std::size_t a = 0; a < Probability; ++a) {
      const double mean = c + rules.probability.nodes[a] * rest_sum;
      const double sd = rules.spread[a] * rest_sd;
      double expected = 0;
      for (std::size_t b = 0; b < Normal; ++b) {
        const double margin = mean + sd * rules.normal.nodes[b];
        const double change = direct ? softplus(margin + delta) - softplus(margin)
                                     : Logistic(margin).softplus_change(growth, growth_minus_one);
        expected += rules.normal.weights[b] * change;
      }
      value += rules.probability.weights[a] * expected;
    }
    out[j] += scale * value;
  }
}

/// Adds target − Σ values to `values`, shared in proportion to |values[j]|, so that they
/// add up to `target`. Values that are all zero are left so (the residual is then rounding).
inline void restore_efficiency(double* values, std::size_t d, double target) {
  double sum = 0, magnitude = 0;
  for (std::size_t j = 0; j < d; ++j) {
    sum += values[j];
    magnitude += std::fabs(values[j]);
  }
  if (!(magnitude > 0)) return;
  const double per_unit = (target - sum) / magnitude;
  for (std::size_t j = 0; j < d; ++j) values[j] += per_unit * std::fabs(values[j]);
}

[[noreturn]] VIGIL_NOINLINE inline void throw_loss_attribution(const std::string& what) {
  throw_invalid_argument("LossAttribution: " + what);
}

inline void check_linear_model(const LinearModel& model) {
  if (model.weights.empty()) throw_loss_attribution("the model has no weights");
  for (std::size_t j = 0; j < model.weights.size(); ++j)
    if (!std::isfinite(model.weights[j]))
      throw_loss_attribution("weights[" + std::to_string(j) + "] = " + to_text(model.weights[j]) + " is not finite");
  if (!std::isfinite(model.intercept))
    throw_loss_attribution("intercept = " + to_text(model.intercept) + " is not finite");
  if (model.link != LinkFunction::identity && model.link != LinkFunction::logistic)
    throw_loss_attribution("link = " + std::to_string(static_cast<int>(model.link)) +
                           " is neither identity nor logistic");
}

inline void check_background(const std::vector<double>& background, std::size_t d) {
  if (background.empty() || background.size() % d != 0)
    throw_loss_attribution("background of " + std::to_string(background.size()) +
                           " values is not a positive multiple of " + std::to_string(d) + " features");
  const std::size_t rows = background.size() / d;
  if (rows > LossAttribution::max_background)
    throw_loss_attribution("background of " + std::to_string(rows) + " rows is more than max_background = " +
                           std::to_string(LossAttribution::max_background));
  for (std::size_t i = 0; i < background.size(); ++i)
    if (!std::isfinite(background[i]))
      throw_loss_attribution("background[" + std::to_string(i) + "] = " + to_text(background[i]) + " (row " +
                             std::to_string(i / d) + ", feature " + std::to_string(i % d) + ") is not finite");
}

}  // namespace detail

inline LossAttribution::LossAttribution(LinearModel model, std::vector<double> background)
    : model_(std::move(model)), background_(std::move(background)) {
  detail::check_linear_model(model_);
  const std::size_t d = model_.weights.size();
  detail::check_background(background_, d);
  rows_ = background_.size() / d;
  const double n = static_cast<double>(rows_);
  margins_.resize(rows_);
  for (std::size_t r = 0; r < rows_; ++r) {
    margins_[r] = detail::linear_margin(model_.weights, model_.intercept, &background_[r * d]);
    if (!std::isfinite(margins_[r]))
      detail::throw_loss_attribution("the margin of background row " + std::to_string(r) + " is " +
                                     detail::to_text(margins_[r]));
    mean_margin_ += margins_[r] / n;
    mean_softplus_ += detail::softplus(margins_[r]) / n;
  }
  feature_means_.assign(d, 0.0);
  margin_covariances_.assign(d, 0.0);
  // Around the first row, so that a feature with one value throughout has exactly that mean.
  for (std::size_t r = 1; r < rows_; ++r)
    for (std::size_t j = 0; j < d; ++j) feature_means_[j] += (background_[r * d + j] - background_[j]) / n;
  for (std::size_t j = 0; j < d; ++j) feature_means_[j] += background_[j];
  // Two passes, around the means, so that no large sums cancel.
  for (std::size_t r = 0; r < rows_; ++r)
    for (std::size_t j = 0; j < d; ++j)
      margin_covariances_[j] += (background_[r * d + j] - feature_means_[j]) * (margins_[r] - mean_margin_) / n;
}

inline bool LossAttribution::attribute(const double* x, double y, double* out) const {
  const std::size_t d = features();
  bool valid = std::isfinite(y) && (model_.link == LinkFunction::identity || y == 0 || y == 1);
  for (std::size_t j = 0; j < d && valid; ++j) valid = std::isfinite(x[j]);
  const double margin = valid ? detail::linear_margin(model_.weights, model_.intercept, x) : 0.0;
  valid = valid && std::isfinite(margin);
  if (valid) {
    if (model_.link == LinkFunction::identity) attribute_squared(x, margin, y, out);
    else attribute_log(x, margin, y, out);
    for (std::size_t j = 0; j < d && valid; ++j) valid = std::isfinite(out[j]);
  }
  if (!valid)
    for (std::size_t j = 0; j < d; ++j) out[j] = std::numeric_limits<double>::quiet_NaN();
  return valid;
}

inline void LossAttribution::attribute_squared(const double* x, double margin, double y, double* out) const {
  // φ_j = w_j·mean_z (x_j − z_j)·a_z with a_z = m(z) + m(x) − 2y.
  const double mean_a = mean_margin_ + margin - 2 * y;
  for (std::size_t j = 0; j < features(); ++j)
    out[j] = model_.weights[j] * ((x[j] - feature_means_[j]) * mean_a - margin_covariances_[j]);
}

inline void LossAttribution::attribute_log(const double* x, double margin, double y, double* out) const {
  const std::size_t d = features();
  const double scale = 1 / static_cast<double>(rows_);
  for (std::size_t j = 0; j < d; ++j) out[j] = 0;
  if (d <= exact_features) {
    for (std::size_t r = 0; r < rows_; ++r) add_exact_softplus_row(x, r, scale, out);
  } else {
    for (std::size_t r = 0; r < rows_; ++r)
      detail::owen_softplus_shares<probability_nodes, normal_nodes>(
          model_.weights, x, &background_[r * d], margins_[r], margin - margins_[r], scale, out);
    detail::restore_efficiency(out, d, detail::softplus(margin) - mean_softplus_);
  }
  // The −y·m part of the loss, linear in the margin.
  for (std::size_t j = 0; j < d; ++j) out[j] -= y * model_.weights[j] * (x[j] - feature_means_[j]);
}

inline void LossAttribution::add_exact_softplus_row(const double* x, std::size_t row, double scale,
                                                    double* out) const {
  // Features whose value equals the row's, or whose weight is zero, do not play: a game
  // without its null players gives the others the same values, and them exactly zero.
  static_assert(exact_features <= 12, "exact_softplus_shares splits the players into two tables of 6");
  const std::size_t d = features();
  const double* z = &background_[row * d];
  std::array<std::size_t, exact_features> players{};
  std::array<double, exact_features> delta{}, shares{};
  std::size_t active = 0;
  for (std::size_t k = 0; k < d; ++k) {
    const double change = model_.weights[k] * (x[k] - z[k]);
    if (change != 0) {
      players[active] = k;
      delta[active++] = change;
    }
  }
  if (active == 0) return;
  std::array<double, exact_features + 1> weight{}, inside{};
  detail::shapley_weights(active, weight.data(), inside.data());
  detail::exact_softplus_shares(delta.data(), active, margins_[row], weight.data(), inside.data(), shares.data());
  for (std::size_t i = 0; i < active; ++i) out[players[i]] += scale * shares[i];
}

inline std::size_t LossAttribution::memory_bytes() const {
  const std::size_t doubles = model_.weights.capacity() + background_.capacity() + feature_means_.capacity() +
                              margin_covariances_.capacity() + margins_.capacity();
  return sizeof(*this) + doubles * sizeof(double);
}

}  // namespace vigil

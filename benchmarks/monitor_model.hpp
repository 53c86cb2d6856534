// The model the Monitor's benchmark and its instruction-count driver file requests of: numeric
// and categorical features, one score with a threshold (and, on request, a canary output
// shadowing it), and pools of prepared requests, so that what is measured is observe() and
// not data making.
#pragma once

#include <vigil/monitor/observation.hpp>
#include <vigil/monitor/profile.hpp>
#include <vigil/monitor/schema.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace vigil_bench {

struct Model {
  vigil::Schema schema;
  std::vector<vigil::NumericFeature> numeric;
  std::vector<vigil::CategoricalFeature> categorical;
  vigil::Output score{0};
  /// With `with_canary`: a canary output (Schema::add_canary) shadowing `score`, the previous
  /// model's score of the same request: `score` plus normal noise of standard deviation 0.02,
  /// kept within [0, 1].
  std::optional<vigil::Output> canary;

  Model(int numeric_count, int categorical_count, bool with_canary = false) {
    for (int i = 0; i < numeric_count; ++i) numeric.push_back(schema.add_numeric("n" + std::to_string(i)));
    for (int i = 0; i < categorical_count; ++i) categorical.push_back(schema.add_categorical("c" + std::to_string(i)));
    vigil::OutputOptions options;
    options.threshold = 0.5;
    score = schema.add_output("score", options);
    training_ = schema;
    if (with_canary) canary = schema.add_canary("score_v1", score);
  }

  /// `n` requests: numeric values normal with growing spreads, labels of 20 values, a score
  /// that depends on the values, and the canary's score when the model has one. The canary's
  /// noise has a generator of its own, so that a model with a canary and one without file
  /// the same requests for the same seed.
  std::vector<std::unique_ptr<vigil::Observation>> requests(std::size_t n, std::uint64_t seed) const {
    return rows(schema, n, seed);
  }

  /// A training profile: it knows the champion's score only, not the canary (a server adds
  /// that in its schema).
  vigil::Profile profile(std::size_t rows_count) const {
    const vigil::Schema& s = training_schema();
    vigil::Profile p(s);
    for (auto& o : rows(s, rows_count, 1)) p.add(*o);
    return p;
  }

  /// The same rows as a labelled holdout (labels drawn with the score's probability): the
  /// quality family then keeps the scores per bin for its estimates.
  vigil::Profile labelled_profile(std::size_t rows_count) const {
    const vigil::Schema& s = training_schema();
    vigil::Profile p(s);
    std::mt19937_64 rng(3);
    std::uniform_real_distribution<double> uniform(0, 1);
    for (auto& o : rows(s, rows_count, 1)) p.add_labelled(*o, score, uniform(rng) < o->score(score) ? 1.0 : 0.0);
    return p;
  }

  /// The labelled profile, each holdout row with its loss attributions (attributions(rows, 4)):
  /// the reference the attribution family compares production's attributions with.
  vigil::Profile attributed_profile(std::size_t rows_count) const {
    vigil::Profile p = labelled_profile(rows_count);
    const std::vector<double> shares = attributions(rows_count, 4);
    for (std::size_t r = 0; r < rows_count; ++r) p.add_attributions(shares.data() + r * feature_count(), feature_count());
    return p;
  }

  /// Input features: numeric, then categorical (the number of loss attributions a label carries).
  std::size_t feature_count() const { return numeric.size() + categorical.size(); }

  /// `n` rows of loss attributions, one value per input feature (row r at r * feature_count()):
  /// normal, mean 0.01, standard deviation 0.05, as the log-loss shares of a model of many
  /// features are small and mostly positive.
  std::vector<double> attributions(std::size_t n, std::uint64_t seed) const {
    std::mt19937_64 rng(seed);
    std::normal_distribution<double> share(0.01, 0.05);
    std::vector<double> out(n * feature_count());
    for (double& v : out) v = share(rng);
    return out;
  }

 private:
  // The profiles' schema: without the canary. A schema with tags added after construction
  // (observe_count's, the operations fixture's) makes its profiles from `schema` as before:
  // a profile ignores tags.
  const vigil::Schema& training_schema() const { return canary ? training_ : schema; }

  std::vector<std::unique_ptr<vigil::Observation>> rows(const vigil::Schema& s, std::size_t n, std::uint64_t seed) const {
    std::mt19937_64 rng(seed), shadow_rng(seed + 0x9e3779b97f4a7c15u);
    std::normal_distribution<double> normal, noise(0, 0.02);
    std::uniform_int_distribution<int> category(0, 19);
    const bool shadowed = canary && &s == &schema;
    std::vector<std::unique_ptr<vigil::Observation>> out;
    for (std::size_t r = 0; r < n; ++r) {
      auto o = std::make_unique<vigil::Observation>(s);
      double sum = 0;
      for (std::size_t i = 0; i < numeric.size(); ++i) {
        const double x = normal(rng) * (1 + static_cast<double>(i));
        o->set(numeric[i], x);
        sum += x / (1 + static_cast<double>(i));
      }
      for (const auto& c : categorical) o->set(c, "value_" + std::to_string(category(rng)));
      const double p = 1 / (1 + std::exp(-sum / 6));
      o->score(score, p);
      if (shadowed) o->score(*canary, std::clamp(p + noise(shadow_rng), 0.0, 1.0));
      out.push_back(std::move(o));
    }
    return out;
  }

  vigil::Schema training_;
};

/// Request ids as a server holds them, already text: "req-" and 12 decimal digits, a new one
/// at each next(). The digits are counted up in place, as an odometer, rather than formatted
/// with snprintf: formatting is the server's work, not the monitor's, and would be measured as
/// the monitor's. An increment writes one digit nine times in ten (1.1 on average), so the
/// id costs a few instructions, about what a server pays to take it off its request. Ids
/// stay distinct for 10^12 increments.
class RequestIds {
 public:
  /// The first next() gives `before` + 1.
  explicit RequestIds(std::uint64_t before) {
    text_[0] = 'r', text_[1] = 'e', text_[2] = 'q', text_[3] = '-';
    for (int i = length - 1; i >= 4; --i, before /= 10) text_[i] = static_cast<char>('0' + before % 10);
  }
  /// The next id; valid until the following call.
  std::string_view next() {
    for (int i = length - 1; i >= 4 && ++text_[i] > '9'; --i) text_[i] = '0';
    return std::string_view(text_, length);
  }

 private:
  static constexpr int length = 16;
  char text_[length];
};

/// Gives every request of `pool` the operational signals: a host of 8 and a model version of
/// 2 (tags `host` and `version`), a lognormal latency around 20 ms and status ok.
inline void add_operations(std::vector<std::unique_ptr<vigil::Observation>>& pool, vigil::Tag host, vigil::Tag version) {
  std::mt19937_64 rng(5);
  std::lognormal_distribution<double> latency(std::log(0.02), 0.3);
  for (std::size_t i = 0; i < pool.size(); ++i) {
    pool[i]->tag(host, "host-" + std::to_string(i % 8)).tag(version, i % 5 == 0 ? "v2" : "v1");
    pool[i]->latency(latency(rng)).status(vigil::RequestStatus::ok);
  }
}

}  // namespace vigil_bench

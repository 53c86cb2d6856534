#include <vigil/monitor/attribution.hpp>
#include <vigil/monitor/detail/monitor_families.hpp>
#include <vigil/monitor/monitor.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <deque>
#include <functional>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "vigil_test.hpp"

// The three cases of Lundberg et al. (2020) on generated data with known truth: a linear
// regression y = w·x + noise, its loss the squared error, attributed to the features by exact
// interventional Shapley values over a background sample.
namespace attribution_test {  // named: the files of a tests/ folder may compile as one unit
namespace {

constexpr double start_time = 1767225600;  // 2026-01-01T00:00:00Z
constexpr std::size_t features = 4;        // room (±1, two equally frequent rooms), x1, x2, x3
const double model_weights[features] = {0.6, 1.0, 0.8, -0.7};

using Row = std::array<double, features>;

// Exact Shapley values of the squared loss of a linear model over background rows z:
// φ_j = mean_z δ_j (2 r_z + Σ_k δ_k), δ_j = w_j (x_j − z_j), r_z = w·z − y.
std::vector<double> squared_loss_shapley(const Row& x, double y, const std::vector<Row>& background) {
  std::vector<double> phi(features, 0.0);
  for (const Row& z : background) {
    double rz = -y, sum = 0;
    double delta[features];
    for (std::size_t j = 0; j < features; ++j) {
      rz += model_weights[j] * z[j];
      delta[j] = model_weights[j] * (x[j] - z[j]);
      sum += delta[j];
    }
    for (std::size_t j = 0; j < features; ++j) phi[j] += delta[j] * (2 * rz + sum);
  }
  for (double& p : phi) p /= static_cast<double>(background.size());
  return phi;
}

// The same by enumerating every coalition: the definition.
std::vector<double> shapley_by_definition(const Row& x, double y, const std::vector<Row>& background) {
  std::vector<double> phi(features, 0.0);
  const auto value = [&](unsigned set) {
    double total = 0;
    for (const Row& z : background) {
      double m = 0;
      for (std::size_t j = 0; j < features; ++j) m += model_weights[j] * ((set >> j & 1u) ? x[j] : z[j]);
      total += (m - y) * (m - y);
    }
    return total / static_cast<double>(background.size());
  };
  const double factorial[] = {1, 1, 2, 6, 24};
  for (std::size_t j = 0; j < features; ++j)
    for (unsigned set = 0; set < (1u << features); ++set) {
      if (set >> j & 1u) continue;
      int size = 0;
      for (std::size_t k = 0; k < features; ++k) size += (set >> k & 1u) ? 1 : 0;
      const double weight = factorial[size] * factorial[features - size - 1] / factorial[features];
      phi[j] += weight * (value(set | 1u << j) - value(set));
    }
  return phi;
}

struct World {
  std::mt19937_64 rng{2020};
  std::normal_distribution<double> normal{0, 1};
  std::bernoulli_distribution coin{0.5};

  Row draw() { return Row{coin(rng) ? 1.0 : -1.0, normal(rng), normal(rng), normal(rng)}; }
  // The truth at `minute`: the model's weights, except where a case changes them.
  std::function<double(int minute, std::size_t j)> weight = [](int, std::size_t j) { return model_weights[j]; };
  double answer(const Row& x, int minute) {
    double y = 0.5 * normal(rng);
    for (std::size_t j = 0; j < features; ++j) y += weight(minute, j) * x[j];
    return y;
  }
};

// The model's schema. The room is a numeric ±1 column, or with `categorical_room` a
// categorical feature of two equally frequent values, "A" (+1) and "B" (−1), declared after
// the numeric ones (so its attribution comes last, as the monitor takes them).
struct Model {
  vigil::Schema schema;
  vigil::NumericFeature room, x1, x2, x3;
  vigil::CategoricalFeature room_category{0};
  bool categorical_room = false;
  vigil::Output prediction;
  std::vector<Row> background;

  explicit Model(bool categorical = false) : categorical_room(categorical) {
    if (!categorical_room) room = schema.add_numeric("room");
    x1 = schema.add_numeric("x1");
    x2 = schema.add_numeric("x2");
    x3 = schema.add_numeric("x3");
    if (categorical_room) room_category = schema.add_categorical("room");
    prediction = schema.add_output("prediction");
  }
  // The attributions (room, x1, x2, x3) in the monitor's order of the features.
  std::vector<double> in_schema_order(std::vector<double> phi) const {
    if (categorical_room) std::rotate(phi.begin(), phi.begin() + 1, phi.end());
    return phi;
  }
  double predict(const Row& x) const {
    double m = 0;
    for (std::size_t j = 0; j < features; ++j) m += model_weights[j] * x[j];
    return m;
  }
  void set(vigil::Observation& o, const Row& x) const {
    if (categorical_room) o.set(room_category, x[0] > 0 ? "A" : "B");
    else o.set(room, x[0]);
    o.set(x1, x[1]).set(x2, x[2]).set(x3, x[3]).score(prediction, predict(x));
  }
  // A holdout of clean rows with their labels and attributions.
  vigil::Profile profile(World& world) {
    for (int i = 0; i < 32; ++i) background.push_back(world.draw());
    vigil::Profile p(schema);
    vigil::Observation o(schema);
    for (int i = 0; i < 4000; ++i) {
      const Row x = world.draw();
      const double y = world.answer(x, -1);
      o.clear();
      set(o, x);
      p.add_labelled(o, prediction, y);
      p.add_attributions(in_schema_order(squared_loss_shapley(x, y, background)));
    }
    return p;
  }
};

vigil::MonitorOptions attribution_options() {
  vigil::MonitorOptions o;
  o.evaluate_in_observe = true;
  o.quality_interval = 60;
  o.quality_window = 300;
  o.label_time_to_live = 600;
  o.attribution_background = 1800;
  o.background = 1800;
  return o;
}

// `minutes` of 200 requests a minute, each labelled 30 s later with its attributions;
// `corrupt(minute, x)` changes what the model is given. Returns the attribution alerts
// raised (or escalated); `resolved` gets those that resolved.
std::vector<vigil::Alert> run(Model& model, World& world, int minutes,
                              const std::function<void(int, Row&, std::mt19937_64&)>& corrupt,
                              vigil::Report* last = nullptr, std::vector<vigil::Alert>* resolved = nullptr) {
  vigil::Monitor m(model.schema, model.profile(world), attribution_options());
  std::vector<vigil::Alert> alerts;
  m.on_alert([&](const vigil::Alert& a) {
    if (a.kind != vigil::AlertKind::attribution) return;
    if (a.transition != vigil::Alert::Transition::resolved) alerts.push_back(a);
    else if (resolved) resolved->push_back(a);
  });
  struct Label {
    double time;
    std::string id;
    double y;
    std::vector<double> attributions;
  };
  std::deque<Label> pending;
  vigil::Observation o(model.schema);
  for (int minute = 0; minute < minutes; ++minute) {
    for (int i = 0; i < 200; ++i) {
      const double t = start_time + minute * 60 + i * 0.3;
      while (!pending.empty() && pending.front().time <= t) {
        const Label& l = pending.front();
        m.on_label(l.id, l.y, l.time, l.attributions);
        pending.pop_front();
      }
      Row x = world.draw();
      const double y = world.answer(x, minute);
      corrupt(minute, x, world.rng);
      const std::string id = "m" + std::to_string(minute) + "-" + std::to_string(i);
      o.clear();
      o.at(t).id(id);
      model.set(o, x);
      m.observe(o);
      pending.push_back(Label{t + 30, id, y, model.in_schema_order(squared_loss_shapley(x, y, model.background))});
    }
  }
  for (const Label& l : pending) m.on_label(l.id, l.y, l.time, l.attributions);
  const vigil::Report r = m.finish();
  if (last) *last = r;
  return alerts;
}

bool only_about(const std::vector<vigil::Alert>& alerts, const std::string& feature) {
  return std::all_of(alerts.begin(), alerts.end(), [&](const vigil::Alert& a) { return a.subject.name == feature; });
}

}  // namespace

TEST_CASE("Loss attribution: the test's Shapley values are the definition's", "[attribution]") {
  World world;
  std::vector<Row> background;
  for (int i = 0; i < 8; ++i) background.push_back(world.draw());
  for (int i = 0; i < 20; ++i) {
    const Row x = world.draw();
    const double y = world.answer(x, 0);
    const std::vector<double> closed = squared_loss_shapley(x, y, background);
    const std::vector<double> defined = shapley_by_definition(x, y, background);
    for (std::size_t j = 0; j < features; ++j) CHECK(closed[j] == Approx(defined[j]).margin(1e-12));
  }
}

TEST_CASE("Loss attribution: a clean stream raises no attribution alert", "[attribution]") {
  Model model;
  World world;
  vigil::Report r;
  const auto alerts = run(model, world, 60, [](int, Row&, std::mt19937_64&) {}, &r);
  CHECK(alerts.empty());
  REQUIRE(r.attribution.size() == features);
  CHECK(r.attribution[0].feature == "room");
  for (const vigil::AttributionReport& a : r.attribution) {
    CHECK(a.status == vigil::Status::ok);
    CHECK(a.recent_count >= 900);
    CHECK(a.background_count >= 5000);
    CHECK(a.reference_count == 4000);
    CHECK(a.recent_mean < 0);  // every feature of the true model lowers the loss
    CHECK(std::fabs(a.reference_effect) < 0.1);
    CHECK(a.cusum < 1);
  }
  CHECK(r.quality.attributed_labels == 60 * 200);
}

TEST_CASE("Loss attribution: two swapped rooms are flagged on the room alone", "[attribution]") {
  Model model(true);  // the room a categorical feature of two equally frequent values
  World world;
  // From minute 40 the upstream pipeline swaps the rooms: the room's marginal is unchanged.
  const auto alerts = run(model, world, 60, [](int minute, Row& x, std::mt19937_64&) {
    if (minute >= 40) x[0] = -x[0];
  });
  REQUIRE_FALSE(alerts.empty());
  CHECK(only_about(alerts, "room"));
  CHECK(alerts.front().time >= start_time + 40 * 60);
  CHECK(alerts.front().time <= start_time + 46 * 60);
  CHECK(std::any_of(alerts.begin(), alerts.end(), [](const vigil::Alert& a) {
    return a.severity == vigil::Severity::alert && a.message.find("now raises the loss") != std::string::npos;
  }));
}

TEST_CASE("Loss attribution: a temporary corruption of one feature is flagged while it lasts", "[attribution]") {
  Model model;
  World world;
  // Minutes 30–44: a third of the requests carry x1 from a broken source.
  std::vector<vigil::Alert> resolved;
  const auto alerts = run(
      model, world, 90,
      [](int minute, Row& x, std::mt19937_64& rng) {
        if (minute >= 30 && minute < 45 && rng() % 3 == 0) x[1] = 3 * std::normal_distribution<double>(0, 1)(rng);
      },
      nullptr, &resolved);
  REQUIRE_FALSE(alerts.empty());
  CHECK(only_about(alerts, "x1"));
  CHECK(alerts.front().time >= start_time + 30 * 60);
  CHECK(alerts.front().time < start_time + 45 * 60);
  // ...and no longer: every x1 alert resolves within 25 minutes of the fault's end (the
  // quality window's five minutes of labels, the policy's five clean intervals, the CUSUM's
  // fall below its limit).
  for (const vigil::Alert& a : alerts) {
    const auto closed = std::find_if(resolved.begin(), resolved.end(), [&](const vigil::Alert& r) {
      return r.subject == a.subject && r.time > a.time;
    });
    REQUIRE(closed != resolved.end());
    CHECK(closed->time <= start_time + 70 * 60);
  }
}

TEST_CASE("Loss attribution: the holdout's attributions are matched to the features by name", "[attribution]") {
  Model model;  // room, x1, x2, x3
  World world;
  const vigil::Profile profile = model.profile(world);
  vigil::Schema reordered;  // the same features, declared the other way round
  const auto x3 = reordered.add_numeric("x3");
  const auto x2 = reordered.add_numeric("x2");
  const auto x1 = reordered.add_numeric("x1");
  const auto room = reordered.add_numeric("room");
  const auto prediction = reordered.add_output("prediction");
  vigil::Monitor m(reordered, profile, attribution_options());
  vigil::Observation o(reordered);
  for (int i = 0; i < 2000; ++i) {
    const Row x = world.draw();
    const double y = world.answer(x, 0);
    const double t = start_time + i * 0.3;
    o.clear();
    o.at(t).id("r" + std::to_string(i)).set(room, x[0]).set(x1, x[1]).set(x2, x[2]).set(x3, x[3]);
    o.score(prediction, model.predict(x));
    m.observe(o);
    const std::vector<double> phi = squared_loss_shapley(x, y, model.background);
    m.on_label("r" + std::to_string(i), y, t + 1, std::vector<double>{phi[3], phi[2], phi[1], phi[0]});
  }
  const vigil::Report r = m.finish();
  REQUIRE(r.attribution.size() == features);
  for (const vigil::AttributionReport& a : r.attribution) {
    const std::size_t j = a.feature == "room" ? 0 : static_cast<std::size_t>(a.feature[1] - '0');
    CHECK(a.reference_mean == profile.attributions()[j].mean());
    CHECK(std::fabs(a.reference_effect) < 0.15);
    CHECK(a.cusum < 1);
  }
  CHECK(r.attribution[0].feature == "x3");
}

TEST_CASE("Loss attribution: a feature whose usefulness fades and reverses is flagged late, not early", "[attribution]") {
  Model model;
  World world;
  // The truth's weight of x2 goes from the model's 0.8 to −0.8 over 120 minutes.
  world.weight = [](int minute, std::size_t j) {
    if (j != 2 || minute < 0) return model_weights[j];
    return model_weights[2] * (1 - 2 * std::min(1.0, minute / 120.0));
  };
  vigil::Report r;
  const auto alerts = run(model, world, 120, [](int, Row&, std::mt19937_64&) {}, &r);
  REQUIRE_FALSE(alerts.empty());
  CHECK(only_about(alerts, "x2"));
  // Not early: the first quarter hour moves the weight by less than 0.2 of the model's 0.8;
  // by the hour it has lost three quarters of it.
  CHECK(alerts.front().time > start_time + 15 * 60);
  CHECK(alerts.front().time < start_time + 60 * 60);
  CHECK(std::any_of(alerts.begin(), alerts.end(), [](const vigil::Alert& a) {
    return a.message.find("now raises the loss") != std::string::npos;
  }));
  CHECK(r.attribution[2].recent_mean > 0);             // x2 now raises the loss
  CHECK(r.attribution[2].reference_mean < 0);
  CHECK(r.attribution[2].cusum > 4);
}

TEST_CASE("Loss attribution: wrong numbers of values and NaN values are counted, never credited", "[attribution][bad_input]") {
  Model model;
  World world;
  vigil::Monitor m(model.schema, model.profile(world), attribution_options());
  vigil::Observation o(model.schema);
  for (int i = 0; i < 4; ++i) {
    o.clear();
    o.at(start_time + i).id("r" + std::to_string(i));
    model.set(o, world.draw());
    m.observe(o);
  }
  CHECK(m.on_label("r0", 1.0, start_time + 10, std::vector<double>{0.1, 0.2}));  // joined, attributions left out
  CHECK(m.on_label("r1", 1.0, start_time + 10, std::vector<double>{}));
  const double nan = std::numeric_limits<double>::quiet_NaN();
  CHECK(m.on_label("r2", 1.0, start_time + 10, std::vector<double>{nan, 0.1, 0.2, 0.3}));
  CHECK(m.on_label("r3", 1.0, start_time + 10, nullptr, 4));
  CHECK_FALSE(m.on_label("unknown", 1.0, start_time + 10, std::vector<double>{0, 0, 0, 0}));
  const vigil::Report r = m.finish();
  CHECK(r.quality.attributions_wrong_count == 3);
  CHECK(r.quality.attribution_bad_values == 1);
  CHECK(r.quality.attributed_labels == 1);
  REQUIRE(r.attribution.size() == features);
  CHECK(r.attribution[0].recent_count == 0);  // the NaN left out
  CHECK(r.attribution[1].recent_count == 1);
  CHECK(r.attribution[1].recent_mean == 0.1);
  CHECK(r.attribution[0].status == vigil::Status::insufficient_data);
}

TEST_CASE("Loss attribution: attributions beyond their staging are credited at once and counted", "[attribution][bad_input]") {
  Model model;
  World world;
  vigil::MonitorOptions options = attribution_options();
  options.label_capacity = 8;
  options.shards = 1;  // one part of the label store holds all eight requests
  vigil::Monitor m(model.schema, model.profile(world), options);
  vigil::Observation o(model.schema);
  for (int i = 0; i < 8; ++i) {
    o.clear();
    o.at(start_time + i).id("r" + std::to_string(i));
    model.set(o, world.draw());
    m.observe(o);
  }
  // Eight labels in the open interval fill the staging: the eighth credits them all at once.
  for (int i = 0; i < 8; ++i) CHECK(m.on_label("r" + std::to_string(i), 0.5, start_time + 10 + i, std::vector<double>{1, 2, 3, 4}));
  const vigil::Report r = m.finish();
  CHECK(r.quality.attributions_applied_early == 8);
  REQUIRE(r.attribution.size() == features);
  CHECK(r.attribution[3].recent_count == 8);  // credited, not lost
  CHECK(r.attribution[3].recent_mean == 4);
}

TEST_CASE("Profile: holdout attributions are kept, merged and read back", "[attribution][profile]") {
  Model model;
  World world;
  vigil::Profile p = model.profile(world);
  REQUIRE(p.has_attributions());
  CHECK(p.attributions()[1].count() == 4000);
  const double nan = std::numeric_limits<double>::quiet_NaN();
  p.add_attributions(std::vector<double>{nan, 0, 0, 0});
  CHECK(p.attribution_bad_values() == 1);
  CHECK(vigil_test::thrown_message([&] { p.add_attributions(std::vector<double>{1, 2}); })
            .find("2 values for a schema of 4 input features") != std::string::npos);
  const vigil::Profile back = vigil::Profile::deserialize(p.serialize());
  REQUIRE(back.attributions().size() == features);
  for (std::size_t j = 0; j < features; ++j) CHECK(back.attributions()[j] == p.attributions()[j]);
  CHECK(back.attribution_bad_values() == 1);
  vigil::Profile twice = back;
  twice.merge(back);
  CHECK(twice.attributions()[0].count() == 2 * back.attributions()[0].count());
  // A profile without attributions keeps its earlier bytes (format version 3 with labels).
  vigil::Profile plain(model.schema);
  vigil::Observation o(model.schema);
  model.set(o, world.draw());
  plain.add_labelled(o, model.prediction, 1.0);
  CHECK(plain.serialize()[4] == 3);
}

TEST_CASE("Loss attribution: the profile's loss model attributes the holdout's and production's labels", "[attribution]") {
  Model model;
  World world;
  std::vector<double> background;
  for (int i = 0; i < 32; ++i) {
    const Row z = world.draw();
    model.background.push_back(z);
    background.insert(background.end(), z.begin(), z.end());
  }
  vigil::Profile profile(model.schema);
  profile.set_loss_model({std::vector<double>(model_weights, model_weights + features), 0, vigil::LinkFunction::identity},
                         background);
  vigil::Observation o(model.schema);
  for (int i = 0; i < 3000; ++i) {
    const Row x = world.draw();
    o.clear();
    model.set(o, x);
    profile.add_labelled(o, model.prediction, world.answer(x, -1));
  }
  REQUIRE(profile.has_attributions());
  CHECK(profile.attributions()[0].count() == 3000);
  // The attributions are the exact Shapley values the tests above compute by hand.
  const Row x = world.draw();
  o.clear();
  model.set(o, x);
  double shares[features];
  REQUIRE(profile.loss_attributions(o, 0.25, shares));
  const std::vector<double> expected = squared_loss_shapley(x, 0.25, model.background);
  for (std::size_t j = 0; j < features; ++j) CHECK(shares[j] == Approx(expected[j]).margin(1e-9));
  // The model and its background survive the profile's bytes.
  const vigil::Profile back = vigil::Profile::deserialize(profile.serialize());
  REQUIRE(back.loss_model());
  CHECK(back.loss_model()->background() == background);
  CHECK(back.loss_model()->model().weights == profile.loss_model()->model().weights);

  // Production: two rooms swapped from minute 20; labels attributed by the monitor itself.
  vigil::Monitor m(model.schema, back, attribution_options());
  std::vector<vigil::Alert> alerts;
  m.on_alert([&](const vigil::Alert& a) {
    if (a.kind == vigil::AlertKind::attribution) alerts.push_back(a);
  });
  for (int minute = 0; minute < 30; ++minute)
    for (int i = 0; i < 200; ++i) {
      const double t = start_time + minute * 60 + i * 0.3;
      Row r = world.draw();
      const double y = world.answer(r, minute);
      if (minute >= 20) r[0] = -r[0];
      o.clear();
      o.at(t).id("q" + std::to_string(minute * 200 + i));
      model.set(o, r);
      m.observe(o);
      m.on_label("q" + std::to_string(minute * 200 + i), y, t + 1, o);  // labels a second later
    }
  const vigil::Report report = m.finish();
  CHECK(report.quality.attributed_labels == 6000);
  REQUIRE_FALSE(alerts.empty());
  CHECK(only_about(alerts, "room"));
  CHECK(alerts.front().time >= start_time + 20 * 60);
  // A request without every numeric feature gives NaN attributions, counted.
  o.clear();
  o.at(start_time + 1800).id("partial").set(model.room, 1.0);
  m.observe(o);
  CHECK(m.on_label("partial", 0.0, start_time + 1801, o));
  CHECK(m.finish().quality.attribution_bad_values == features);
  vigil::Monitor without(model.schema, model.profile(world), attribution_options());
  CHECK(vigil_test::thrown_message([&] { without.on_label("q0", 0.0, start_time, o); }).find("no loss model") !=
        std::string::npos);
}

}  // namespace attribution_test

#include <vigil/monitor/observation.hpp>

#include <vigil/monitor/monitor.hpp>

#include <memory>
#include <string>

#include "vigil_test.hpp"

// A server that reloads its model destroys the Monitor (and the Schema inside it) while each
// worker thread still holds the thread_local Observation it made from monitor.schema(). These
// tests do the same in one thread; under AddressSanitizer (scripts/test) any read of the dead
// schema fails them.

namespace {

constexpr double observation_start = 1767225600;  // 2026-01-01T00:00:00Z, long before the wall clock

vigil::Schema model_schema(const char* second_feature) {
  vigil::Schema schema;
  schema.add_numeric("amount");
  schema.add_numeric(second_feature);
  schema.add_categorical("channel");
  schema.add_output("score");
  schema.add_tag("host");
  return schema;
}

std::unique_ptr<vigil::Monitor> make_monitor(const vigil::Schema& schema) {
  vigil::Profile profile(schema);
  vigil::Observation row(schema);
  for (int i = 0; i < 200; ++i) {
    row.clear();
    row.set(vigil::NumericFeature{0}, i * 0.5).set(vigil::NumericFeature{1}, 100.0 - i);
    row.set(vigil::CategoricalFeature{0}, i % 3 == 0 ? "web" : "app").score(vigil::Output{0}, (i % 10) / 10.0);
    profile.add(row);
  }
  return std::make_unique<vigil::Monitor>(schema, std::move(profile));
}

void fill(vigil::Observation& o, double t) {
  o.clear();
  o.at(t).set(vigil::NumericFeature{0}, 3.0).set(vigil::NumericFeature{1}, 50.0);
  o.set(vigil::CategoricalFeature{0}, "web").score(vigil::Output{0}, 0.4).tag(vigil::Tag{0}, "h1");
}

}  // namespace

TEST_CASE("Observation: keeps its own schema, valid after the one it was made from is gone", "[schema][monitor]") {
  auto schema = std::make_unique<vigil::Schema>(model_schema("age"));
  vigil::Observation o(*schema);
  const std::uint64_t id = schema->id();
  schema.reset();
  CHECK(o.schema().id() == id);
  CHECK(o.schema().numeric_count() == 2);
  o.set("age", 41.0).set("channel", "web");  // the name-based setters read the schema
  CHECK(o.value(vigil::NumericFeature{1}) == 41);
  CHECK(o.value(vigil::CategoricalFeature{0}) == "web");
  // A shared schema is shared, not copied; a null one is refused.
  const auto shared = std::make_shared<const vigil::Schema>(model_schema("age"));
  vigil::Observation a(shared), b(shared);
  CHECK(&a.schema() == shared.get());
  CHECK(&b.schema() == shared.get());
  CHECK_THROWS_AS(vigil::Observation(std::shared_ptr<const vigil::Schema>()), vigil::invalid_argument);
}

TEST_CASE("Monitor: after a reload, the previous model's observation is refused, a new one filed",
          "[monitor]") {
  auto monitor = make_monitor(model_schema("age"));
  vigil::Observation obs(monitor->schema());  // what a worker's thread_local holds
  fill(obs, observation_start + 1);
  monitor->observe(obs);
  CHECK(monitor->observed() == 1);

  // Reload: the old monitor and its schema are destroyed before the new model's monitor is
  // built, so the new one may reuse the old one's memory.
  monitor.reset();
  monitor = make_monitor(model_schema("income"));  // same shape, another feature
  fill(obs, observation_start + 2);
  CHECK_THROWS_WITH(monitor->observe(obs), Catch::Contains("made for another schema") &&
                                               Catch::Contains("make a new Observation from the new monitor's schema()"));
  CHECK(monitor->observed() == 0);

  // The worker sees the reload by the schema id (docs/guide.md) and rebuilds its observation
  // from the new monitor: filed.
  CHECK(obs.schema().id() != monitor->schema().id());
  obs = vigil::Observation(monitor->schema());
  CHECK(obs.schema().id() == monitor->schema().id());
  fill(obs, observation_start + 3);
  monitor->observe(obs);
  CHECK(monitor->observed() == 1);

  // A model with another shape names the counts that differ.
  auto wider_schema = model_schema("income");
  wider_schema.add_numeric("tenure");
  auto wider = make_monitor(wider_schema);
  CHECK_THROWS_WITH(wider->observe(obs), Catch::Contains("2 numeric") && Catch::Contains("this monitor's has 3"));
}

TEST_CASE("Monitor: files observations of its schema, a copy of it or a separately built equal one", "[monitor]") {
  const vigil::Schema schema = model_schema("age");
  auto monitor = make_monitor(schema);
  vigil::Observation from_monitor(monitor->schema());
  vigil::Observation from_original(schema);
  vigil::Observation from_twin(model_schema("age"));  // another id, the same layout
  CHECK(from_twin.schema().id() != monitor->schema().id());
  for (vigil::Observation* o : {&from_monitor, &from_original, &from_twin}) {
    fill(*o, observation_start + 1);
    monitor->observe(*o);
  }
  CHECK(monitor->observed() == 3);
}

TEST_CASE("Observation: an id set from its own text, shorter, longer or the same length", "[schema][monitor]") {
  vigil::Schema schema;
  schema.add_numeric("x");
  vigil::Observation o(schema);
  o.id("abcdefghij-0123456789");
  const std::string& held = o.id();
  o.id(std::string_view(held).substr(11));  // a view of the id's own end
  CHECK(o.id() == "0123456789");
  o.id(std::string_view(o.id()).substr(0, 4));  // of its own start
  CHECK(o.id() == "0123");
  o.id(o.id());  // itself
  CHECK(o.id() == "0123");
  o.id("4567");  // the same length
  CHECK(o.id() == "4567");
  o.id("a longer id than any held before, beyond the small-string buffer");
  CHECK(o.id() == "a longer id than any held before, beyond the small-string buffer");
  o.id("x");
  CHECK(o.id() == "x");
  o.id("yz");  // longer than the text held, within its capacity
  CHECK(o.id() == "yz");
  CHECK(o.cut_values() == 0);
}

TEST_CASE("Observation: a request id as text or as an integer, cut at max_id_bytes", "[schema][monitor]") {
  vigil::Schema schema;
  schema.add_numeric("x");
  vigil::Observation o(schema);
  CHECK_FALSE(o.has_id());
  o.id("req-17");
  CHECK(o.id() == "req-17");
  CHECK(o.request_id() == "req-17");
  o.id(42);
  CHECK(o.id() == "42");
  o.id(std::int64_t{-9007199254740993});
  CHECK(o.id() == "-9007199254740993");
  o.id(std::numeric_limits<std::uint64_t>::max());
  CHECK(o.id() == "18446744073709551615");
  CHECK(o.cut_values() == 0);
  o.id(std::string(300, 'q'));
  CHECK(o.id().size() == vigil::Observation::max_id_bytes);
  CHECK(o.cut_values() == 1);
  o.id("short");  // no longer cut
  CHECK(o.cut_values() == 0);
  o.id(std::string(300, 'q'));
  o.clear();
  CHECK_FALSE(o.has_id());
  CHECK(o.cut_values() == 0);
}

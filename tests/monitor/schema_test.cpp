#include <vigil/monitor/schema.hpp>

#include <vigil/monitor/observation.hpp>

#include <cmath>
#include <limits>
#include <string>

#include "vigil_test.hpp"

TEST_CASE("Schema: empty", "[schema]") {
  vigil::Schema s;
  CHECK(s.numeric_count() == 0);
  CHECK(s.tag_count() == 0);
  CHECK_FALSE(s.find_numeric("x"));
  CHECK(s.differences(vigil::Schema()).empty());
}

TEST_CASE("Schema: names resolve to dense handles", "[schema]") {
  vigil::Schema s;
  const auto a = s.add_numeric("a");
  const auto b = s.add_numeric("b");
  const auto c = s.add_categorical("c");
  vigil::OutputOptions options;
  options.classes = {"cat", "dog"};
  const auto o = s.add_output("o", options);
  const auto t = s.add_tag("host");
  CHECK(a.index == 0);
  CHECK(b.index == 1);
  CHECK(c.index == 0);
  CHECK(o.index == 0);
  CHECK(t.index == 0);
  CHECK(s.name(b) == "b");
  CHECK(s.numeric("b").index == 1);
  CHECK(s.options(o).classes.size() == 2);
  CHECK(std::isnan(s.options(o).threshold));
  CHECK(s.options(t).max_values == 32);
  CHECK(s.kind_of("c") == vigil::Schema::Kind::categorical);
  CHECK_FALSE(s.find_categorical("a"));  // a numeric name is not a categorical one
}

TEST_CASE("Schema: differences name every mismatch", "[schema]") {
  vigil::Schema a;
  a.add_numeric("x");
  a.add_numeric("y");
  a.add_tag("host");
  vigil::Schema b;
  b.add_numeric("x");
  b.add_categorical("y");
  b.add_numeric("z");
  const auto diff = a.differences(b);
  REQUIRE(diff.size() == 3);
  CHECK(diff[0].find("'y' is a numeric feature here but a categorical feature") != std::string::npos);
  CHECK(diff[1].find("tag 'host' is missing") != std::string::npos);
  CHECK(diff[2].find("numeric feature 'z' is new") != std::string::npos);
  // Without tags, only the feature differences remain.
  CHECK(a.differences(b, false).size() == 2);
  vigil::Schema c = a;
  CHECK(c == a);
  vigil::OutputOptions threshold;
  threshold.threshold = 0.5;
  c.add_output("score", threshold);
  vigil::Schema d = a;
  d.add_output("score");
  CHECK(c.differences(d).size() == 1);
  CHECK(c.differences(d)[0].find("threshold") != std::string::npos);
}

TEST_CASE("Schema: bad input", "[schema]") {
  vigil::Schema s;
  s.add_numeric("x");
  CHECK_THROWS_WITH(s.add_categorical("x"), Catch::Contains("'x' is already a numeric feature"));
  CHECK_THROWS_AS(s.add_numeric(""), vigil::invalid_argument);
  vigil::OutputOptions twice;
  twice.classes = {"a", "a"};
  CHECK_THROWS_WITH(s.add_output("o", twice), Catch::Contains("class 'a' twice"));
  vigil::OutputOptions infinite;
  infinite.threshold = INFINITY;
  CHECK_THROWS_AS(s.add_output("o", infinite), vigil::invalid_argument);
  vigil::TagOptions none;
  none.max_values = 0;
  CHECK_THROWS_AS(s.add_tag("t", none), vigil::invalid_argument);
  CHECK_THROWS_WITH(s.numeric("nope"), Catch::Contains("no numeric feature named 'nope'"));
  CHECK(s.numeric_count() == 1);  // failed additions change nothing
}

TEST_CASE("Observation: states, values and the counts of bad and finite values follow every setter", "[schema]") {
  vigil::Schema schema;
  const auto a = schema.add_numeric("a");
  const auto b = schema.add_numeric("b");
  vigil::Observation o(schema);
  CHECK(o.state(a) == vigil::Observation::State::unset);
  CHECK(std::isnan(o.value(a)));
  CHECK(o.numeric_bad_count() == 0);
  CHECK(o.numeric_value_count() == 0);
  o.set(a, std::numeric_limits<double>::infinity()).set(b, std::nan(""));
  CHECK(o.state(a) == vigil::Observation::State::bad);
  CHECK(o.numeric_bad_count() == 2);
  CHECK(o.numeric_value_count() == 0);
  o.set(a, std::numeric_limits<double>::infinity());  // bad again: still counted once
  CHECK(o.numeric_bad_count() == 2);
  o.set(a, 1.5);
  CHECK(o.state(a) == vigil::Observation::State::value);
  CHECK(o.numeric_bad_count() == 1);
  CHECK(o.numeric_value_count() == 1);
  o.set(a, -3);  // a value again: still counted once
  CHECK(o.numeric_value_count() == 1);
  o.set(b, 0.0);
  CHECK(o.numeric_bad_count() == 0);
  CHECK(o.numeric_value_count() == 2);
  o.set(b, std::nan(""));  // a value turned bad
  CHECK(o.numeric_bad_count() == 1);
  CHECK(o.numeric_value_count() == 1);
  o.clear(b);
  CHECK(o.numeric_bad_count() == 0);
  CHECK(std::isnan(o.value(b)));
  // A value is finite exactly when its state is `value`: clearing forgets the number too.
  o.clear(a);
  CHECK(o.state(a) == vigil::Observation::State::unset);
  CHECK(std::isnan(o.value(a)));
  CHECK(o.numeric_value_count() == 0);
  o.set(a, 2).set(b, -std::numeric_limits<double>::infinity());
  CHECK(o.numeric_value_count() == 1);
  o.clear();
  CHECK(std::isnan(o.value(a)));
  CHECK(std::isnan(o.value(b)));
  CHECK(o.numeric_bad_count() == 0);
  CHECK(o.numeric_value_count() == 0);
  CHECK(o.numeric_states()[0] == vigil::Observation::State::unset);
}

TEST_CASE("Schema: an id follows the content, a layout the handles", "[schema]") {
  vigil::Schema a;
  const std::uint64_t empty_id = a.id();
  a.add_numeric("x");
  CHECK(a.id() != empty_id);  // every add_* gives a new id
  const vigil::Schema copy = a;
  CHECK(copy.id() == a.id());
  vigil::Schema twin;
  twin.add_numeric("x");
  CHECK(twin.id() != a.id());  // built separately: another id, the same layout
  CHECK(twin.same_layout(a));
  vigil::Schema renamed;
  renamed.add_numeric("z");
  CHECK_FALSE(renamed.same_layout(a));  // same shape, another name
  vigil::Schema longer = a;
  longer.add_tag("host");
  CHECK(longer.id() != a.id());
  CHECK_FALSE(longer.same_layout(a));
  vigil::Schema other_output = a;
  other_output.add_output("s");
  vigil::Schema swapped_output = a;
  swapped_output.add_output("t");
  CHECK_FALSE(other_output.same_layout(swapped_output));
}

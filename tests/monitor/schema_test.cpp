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

TEST_CASE("Schema: capacities are accepted up to their maximum and refused beyond, naming the value", "[schema][bounds]") {
  vigil::Schema s;
  vigil::TagOptions most;
  most.max_values = vigil::Schema::max_tag_values;
  CHECK(s.add_tag("host", most).index == 0);
  vigil::TagOptions beyond;
  beyond.max_values = vigil::Schema::max_tag_values + 1;
  CHECK_THROWS_WITH(s.add_tag("region", beyond), Catch::Contains("max_values 4097"));
  beyond.max_values = std::size_t(1) << 40;
  CHECK_THROWS_WITH(s.add_tag("region", beyond), Catch::Contains("max_values 1099511627776"));

  vigil::TagOptions cohort;
  cohort.cohort = true;
  cohort.max_values = vigil::Schema::max_cohort_values;
  CHECK(s.add_tag("segment", cohort).index == 1);
  cohort.max_values = vigil::Schema::max_cohort_values + 1;
  CHECK_THROWS_WITH(s.add_tag("country", cohort), Catch::Contains("max_values 257") && Catch::Contains("cohort"));
  CHECK_THROWS_AS(s.add_tag("country", cohort), vigil::invalid_argument);

  vigil::OutputOptions classes;
  for (std::size_t i = 0; i < vigil::Schema::max_classes; ++i) classes.classes.push_back("c" + std::to_string(i));
  CHECK(s.add_output("label", classes).index == 0);
  classes.classes.push_back("one more");
  CHECK_THROWS_WITH(s.add_output("label2", classes), Catch::Contains("4097 classes"));

  vigil::OutputOptions long_name;
  long_name.classes = {std::string(vigil::Schema::max_value_bytes, 'k')};
  CHECK(s.add_output("kind", long_name).index == 1);
  long_name.classes = {std::string(vigil::Schema::max_value_bytes + 1, 'k')};
  CHECK_THROWS_WITH(s.add_output("kind2", long_name), Catch::Contains("class name of 257 bytes"));
  CHECK(s.tag_count() == 2);
  CHECK(s.output_count() == 2);
}

TEST_CASE("Observation: values longer than Schema::max_value_bytes are cut on a character boundary and counted",
          "[schema][bounds]") {
  vigil::Schema s;
  const auto color = s.add_categorical("color");
  const auto shape = s.add_categorical("shape");
  vigil::OutputOptions classes;
  classes.classes = {"cat", "dog"};
  const auto kind = s.add_output("kind", classes);
  const auto host = s.add_tag("host");
  const std::size_t max = vigil::Schema::max_value_bytes;
  CHECK(max == 256);
  vigil::Observation o(s);

  const std::string exact(max, 'a');
  o.set(color, exact).tag(host, exact).predicted(kind, exact);
  CHECK(o.value(color) == exact);
  CHECK(o.value(host) == exact);
  CHECK(o.predicted(kind) == exact);
  CHECK(o.cut_values() == 0);

  const std::string over(max + 1, 'b');
  o.set(color, over);
  CHECK(o.value(color) == std::string(max, 'b'));
  CHECK(o.cut_values() == 1);
  o.tag(host, over).predicted(kind, over);
  CHECK(o.value(host) == std::string(max, 'b'));
  CHECK(o.predicted(kind) == std::string(max, 'b'));
  CHECK(o.cut_values() == 3);

  // Set again whole, or cleared: no longer cut. Set twice cut: counted once.
  o.set(color, "red");
  CHECK(o.cut_values() == 2);
  o.tag(host, over);
  CHECK(o.cut_values() == 2);
  o.set(shape, std::string(1 << 20, 's'));
  CHECK(o.value(shape).size() == max);
  CHECK(o.cut_values() == 3);
  o.clear(shape);
  CHECK(o.cut_values() == 2);
  CHECK_FALSE(o.has(shape));
  o.clear();
  CHECK(o.cut_values() == 0);
  CHECK_FALSE(o.has(color));

  // A multi-byte character across the limit goes whole: the kept bytes stay valid UTF-8.
  o.set(color, std::string(max - 1, 'a') + "\xC3\xA9");  // é: 2 bytes, 257 in all
  CHECK(o.value(color) == std::string(max - 1, 'a'));
  o.set(color, std::string(max - 2, 'a') + "\xE2\x82\xAC");  // €: 3 bytes
  CHECK(o.value(color) == std::string(max - 2, 'a'));
  o.set(color, std::string(max - 1, 'a') + "\xF0\x9D\x84\x9E");  // 𝄞: 4 bytes from byte 255
  CHECK(o.value(color) == std::string(max - 1, 'a'));
  o.set(color, std::string(max - 2, 'a') + "\xC3\xA9" + "z");  // ends on the character: kept to it
  CHECK(o.value(color) == std::string(max - 2, 'a') + "\xC3\xA9");
  CHECK(o.cut_values() == 1);
  // Bytes that are not UTF-8 are cut where they fall after at most three given back.
  o.set(color, std::string(max + 8, '\x80'));
  CHECK(o.value(color).size() == max - 3);
}

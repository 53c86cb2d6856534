#include <vigil/monitor/profile.hpp>

#include <cstdio>
#include <filesystem>
#include <string>

#include "vigil_test.hpp"

namespace {
vigil::Schema training_schema() {
  vigil::Schema s;
  s.add_numeric("x");
  s.add_categorical("c");
  vigil::OutputOptions options;
  options.threshold = 0.5;
  s.add_output("score", options);
  return s;
}
}  // namespace

TEST_CASE("Profile: empty", "[profile]") {
  const vigil::Profile p(training_schema());
  CHECK(p.rows() == 0);
  CHECK(p.numeric(vigil::NumericFeature{0}).digest.empty());
  CHECK(p.missing_rate(vigil::NumericFeature{0}) == 0);
  const vigil::Profile back = vigil::Profile::deserialize(p.serialize());
  CHECK(back.rows() == 0);
  CHECK(back.schema() == p.schema());
}

TEST_CASE("Profile: rows, missing values and classes", "[profile]") {
  const vigil::Schema schema = training_schema();
  vigil::Profile p(schema);
  vigil::Observation row(schema);
  for (int i = 0; i < 1000; ++i) {
    row.clear();
    if (i % 10 != 0) row.set(schema.numeric("x"), i);  // 10 % missing
    if (i == 5) row.set(schema.numeric("x"), NAN);     // one bad value
    row.set(schema.categorical("c"), i % 4 == 0 ? "a" : "b");
    row.score(schema.output("score"), (i % 5) / 4.0);
    p.add(row);
  }
  CHECK(p.rows() == 1000);
  const auto& x = p.numeric(schema.numeric("x"));
  CHECK(x.missing == 100);
  CHECK(x.bad == 1);
  CHECK(x.digest.count() == 899);
  CHECK(p.missing_rate(schema.numeric("x")) == Approx(0.101));
  CHECK(p.categorical(schema.categorical("c")).counts.estimate("a").count == 250);
  // threshold 0.5: scores 0.5, 0.75, 1 are positive.
  CHECK(p.output(schema.output("score")).classes.estimate("positive").count == 600);

  SECTION("save and load") {
    const std::string path = (std::filesystem::temp_directory_path() / "vigil_profile_test.vigil").string();
    p.save(path);
    const vigil::Profile back = vigil::Profile::load(path);
    std::remove(path.c_str());
    CHECK(back.rows() == 1000);
    CHECK(back.numeric(schema.numeric("x")).digest == x.digest);
    CHECK(back.numeric(schema.numeric("x")).stats == x.stats);
    CHECK(back.serialize() == p.serialize());
  }
  SECTION("merge equals one pass") {
    vigil::Profile half_a(schema);
    vigil::Profile half_b(schema);
    vigil::Observation r(schema);
    for (int i = 0; i < 10; ++i) {
      r.clear();
      r.set(schema.numeric("x"), i);
      (i < 5 ? half_a : half_b).add(r);
    }
    half_a.merge(half_b);
    CHECK(half_a.rows() == 10);
    CHECK(half_a.numeric(schema.numeric("x")).stats.mean() == Approx(4.5));
  }
}

TEST_CASE("Profile: bad input", "[profile]") {
  vigil::Profile p(training_schema());
  vigil::Schema other;
  other.add_numeric("x");
  other.add_numeric("extra");
  vigil::Observation foreign(other);
  CHECK_THROWS_AS(p.add(foreign), vigil::invalid_argument);
  CHECK_THROWS_WITH(p.check(other), Catch::Contains("categorical feature 'c' is missing") &&
                                        Catch::Contains("numeric feature 'extra' is new"));
  CHECK_THROWS_WITH(vigil::Profile::load("/nonexistent/profile.vigil"), Catch::Contains("cannot open profile file"));
  auto bytes = p.serialize();
  for (std::size_t len = 0; len < bytes.size(); ++len)
    CHECK_THROWS_AS(vigil::Profile::deserialize(bytes.data(), len), vigil::format_error);
  bytes[5] = 1;  // the TDigest type id
  CHECK_THROWS_WITH(vigil::Profile::deserialize(bytes), Catch::Contains("wrong object type"));
}

TEST_CASE("Profile: a row of a schema of the same shape with other names is refused", "[profile]") {
  vigil::Schema mine;
  mine.add_numeric("age");
  mine.add_numeric("income");
  vigil::Schema swapped;
  swapped.add_numeric("income");
  swapped.add_numeric("age");
  vigil::Profile p(mine);
  vigil::Observation row(swapped);
  row.set(swapped.numeric("income"), 50000);
  row.set(swapped.numeric("age"), 30);
  CHECK_THROWS_WITH(p.add(row), Catch::Contains("another schema"));
  CHECK(p.rows() == 0);
  CHECK(p.numeric(mine.numeric("age")).stats.count() == 0);

  // A schema built separately with the same names, or one that only adds tags, is accepted.
  vigil::Schema same;
  same.add_numeric("age");
  same.add_numeric("income");
  same.add_tag("host");
  vigil::Observation ok(same);
  ok.set(same.numeric("age"), 30);
  ok.set(same.numeric("income"), 50000);
  p.add(ok);
  CHECK(p.rows() == 1);
  CHECK(p.numeric(mine.numeric("age")).stats.mean() == 30);
  CHECK(p.numeric(mine.numeric("income")).stats.mean() == 50000);
}

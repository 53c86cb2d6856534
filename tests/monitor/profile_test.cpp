#include <vigil/monitor/profile.hpp>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "monitor/tag_reference.hpp"
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
    p.save(path);  // over the first: replaced whole, through a temporary that is gone after
    const vigil::Profile back = vigil::Profile::load(path);
    std::remove(path.c_str());
    for (const auto& entry : std::filesystem::directory_iterator(std::filesystem::temp_directory_path()))
      CHECK(entry.path().filename().string().rfind("vigil_profile_test.vigil.tmp.", 0) == std::string::npos);
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
  CHECK_THROWS_AS(p.save("/nonexistent/profile.vigil"), vigil::format_error);
  CHECK_THROWS_WITH(p.save("/nonexistent/profile.vigil"),
                    Catch::StartsWith("cannot write '/nonexistent/profile.vigil': ") &&
                        Catch::EndsWith(": No such file or directory"));
  auto bytes = p.serialize();
  for (std::size_t len = 0; len < bytes.size(); ++len)
    CHECK_THROWS_AS(vigil::Profile::deserialize(bytes.data(), len), vigil::format_error);
  // The TDigest type id, under a checksum that matches.
  bytes.resize(bytes.size() - vigil::io::trailer_size);
  bytes[5] = 1;
  vigil::io::seal(bytes);
  CHECK_THROWS_WITH(vigil::Profile::deserialize(bytes), Catch::Contains("wrong object type"));
}

TEST_CASE("Profile: a tag's max_values is read up to Schema::max_tag_values, beyond it refused naming the value",
          "[profile][bounds]") {
  const vigil::Profile most = vigil::Profile::deserialize(vigil_test::reference_with_tag(vigil::Schema::max_tag_values));
  CHECK(most.schema().options(most.schema().tag("host")).max_values == vigil::Schema::max_tag_values);
  CHECK_THROWS_AS(vigil::Profile::deserialize(vigil_test::reference_with_tag(vigil::Schema::max_tag_values + 1)),
                  vigil::format_error);
  const auto huge = vigil_test::reference_with_tag(std::uint64_t(1) << 40);
  CHECK(huge.size() < 1024);
  CHECK_THROWS_AS(vigil::Profile::deserialize(huge), vigil::format_error);
  CHECK_THROWS_WITH(vigil::Profile::deserialize(huge), Catch::Contains("max_values 1099511627776"));
}

namespace {
/// A profile of training_schema() over `rows` rows: every tenth value of x missing, one bad.
vigil::Profile training_profile(int rows) {
  const vigil::Schema schema = training_schema();
  vigil::Profile p(schema);
  vigil::Observation row(schema);
  for (int i = 0; i < rows; ++i) {
    row.clear();
    if (i % 10 != 0) row.set(schema.numeric("x"), i == 5 ? NAN : i * 0.5);
    if (i % 7 != 0) row.set(schema.categorical("c"), i % 3 == 0 ? "a" : "b");
    if (i % 9 != 0) row.score(schema.output("score"), (i % 5) / 4.0);
    p.add(row);
  }
  return p;
}

void write_file(const std::string& path, const std::vector<std::uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  REQUIRE(out);
}

/// The fields of a profile of training_schema(), written as Profile::serialize() writes
/// them, so that a test can make them contradict each other.
struct Fields {
  std::uint16_t flags = vigil::io::sealed_flag;
  std::uint64_t rows;
  vigil::TDigest<> x_digest;
  vigil::RunningStats x_stats;
  std::uint64_t x_missing, x_bad;
  vigil::CategoryCounts c_counts;
  vigil::TDigest<> score_digest;
  vigil::RunningStats score_stats;
  vigil::CategoryCounts score_classes;
  std::uint64_t score_missing;

  explicit Fields(const vigil::Profile& p)
      : rows(p.rows()),
        x_digest(p.numeric(vigil::NumericFeature{0}).digest),
        x_stats(p.numeric(vigil::NumericFeature{0}).stats),
        x_missing(p.numeric(vigil::NumericFeature{0}).missing),
        x_bad(p.numeric(vigil::NumericFeature{0}).bad),
        c_counts(p.categorical(vigil::CategoricalFeature{0}).counts),
        score_digest(p.output(vigil::Output{0}).digest),
        score_stats(p.output(vigil::Output{0}).stats),
        score_classes(p.output(vigil::Output{0}).classes),
        score_missing(p.output(vigil::Output{0}).missing) {}

  std::vector<std::uint8_t> bytes() const {
    std::vector<std::uint8_t> out;
    vigil::io::Writer w(out);
    w.header(vigil::io::TypeId::profile, 2, flags);
    vigil::detail::write_schema(w, training_schema());
    w.varint(rows);
    vigil::detail::write_blob(w, x_digest.serialize());
    vigil::detail::write_blob(w, x_stats.serialize());
    w.varint(x_missing);
    w.varint(x_bad);
    vigil::detail::write_blob(w, c_counts.serialize());
    vigil::detail::write_blob(w, score_digest.serialize());
    vigil::detail::write_blob(w, score_stats.serialize());
    vigil::detail::write_blob(w, score_classes.serialize());
    w.varint(score_missing);
    // seal() sets the sealed flag; a test that clears it appends the checksum itself.
    if (flags & vigil::io::sealed_flag) {
      vigil::io::seal(out);
    } else {
      vigil::io::Writer(out).u32(vigil::io::crc32c(out.data(), out.size()));
    }
    return out;
  }
};
}  // namespace

TEST_CASE("Profile: a saved reference is sealed by a checksum, any corrupt byte is refused, naming the file", "[profile]") {
  const vigil::Profile p = training_profile(300);
  const std::vector<std::uint8_t> bytes = p.serialize();
  REQUIRE(bytes.size() > 100);
  CHECK(bytes[4] == 2);     // format version 2
  CHECK(bytes[7] == 0x80);  // sealed
  CHECK(vigil::Profile::deserialize(bytes).serialize() == bytes);
  const std::string path = (std::filesystem::temp_directory_path() / "vigil_profile_corrupt_test.vigil").string();
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    INFO("byte " << i << " of " << bytes.size());
    std::vector<std::uint8_t> bad = bytes;
    bad[i] ^= static_cast<std::uint8_t>(i % 3 == 0 ? 0xff : (i % 3 == 1 ? 0x01 : 0x40));
    // A damaged magic is no vigil object at all; any other byte fails the checksum.
    const std::string expected = i < 4 ? "not a vigil object (bad magic bytes)" : "checksum mismatch";
    CHECK_THROWS_WITH(vigil::Profile::deserialize(bad), Catch::Contains(expected));
    // Through a file: the header, the trailer and some bytes between.
    if (i < vigil::io::header_size || i + vigil::io::trailer_size >= bytes.size() || i % 61 == 0) {
      write_file(path, bad);
      CHECK_THROWS_WITH(vigil::Profile::load(path), Catch::Contains("profile file '" + path + "'") &&
                                                        Catch::Contains(expected));
    }
  }
  // Cut short anywhere, too.
  for (std::size_t len : {std::size_t{0}, std::size_t{7}, std::size_t{12}, bytes.size() / 2, bytes.size() - 1}) {
    write_file(path, std::vector<std::uint8_t>(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(len)));
    CHECK_THROWS_WITH(vigil::Profile::load(path), Catch::Contains(path) && Catch::Contains("checksum"));
  }
  std::remove(path.c_str());
}

TEST_CASE("Profile: load refuses references that contradict each other", "[profile]") {
  const vigil::Profile p = training_profile(300);
  const Fields good(p);
  REQUIRE(good.bytes() == p.serialize());
  const auto refused = [](const Fields& f) -> std::string {
    try {
      vigil::Profile::deserialize(f.bytes());
    } catch (const vigil::format_error& e) {
      return e.what();
    }
    return "accepted";
  };
  SECTION("more missing and bad values than rows") {
    Fields f = good;
    f.x_missing = 63 * f.rows;  // a missing rate of 63
    CHECK_THAT(refused(f), Catch::Contains("numeric feature 'x' has 18900 missing and 1 bad values, more than the 300 rows"));
    f = good;
    f.x_bad = f.rows - f.x_missing + 1;  // each below the rows, not together
    CHECK_THAT(refused(f), Catch::Contains("more than the 300 rows"));
    f = good;
    f.x_missing = ~std::uint64_t{0};
    CHECK_THAT(refused(f), Catch::Contains("more than the 300 rows"));
  }
  SECTION("a digest or moments that do not count the rows with a value") {
    Fields f = good;
    f.rows += 1;  // one more row, counted nowhere
    CHECK_THAT(refused(f), Catch::Contains("numeric feature 'x': its digest"));
    f = good;
    f.x_stats.add(1.0);
    CHECK_THAT(refused(f), Catch::Contains("do not count the 269 rows with a value"));
    f = good;
    f.x_digest.add(1.0);
    CHECK_THAT(refused(f), Catch::Contains("numeric feature 'x': its digest (270 values)"));
    f = good;
    f.x_digest = vigil::TDigest<>(100);
    for (const auto& c : good.x_digest.centroids()) f.x_digest.add(c.mean, c.weight);
    CHECK_THAT(refused(f), Catch::Contains("numeric feature 'x' has a digest of compression 100"));
  }
  SECTION("category counts that do not count every row") {
    Fields f = good;
    f.c_counts.add_missing();
    CHECK_THAT(refused(f), Catch::Contains("categorical feature 'c' counts 257 values and 44 missing ones, not the 300 rows"));
    f = good;
    f.c_counts = vigil::CategoryCounts(1024);
    CHECK_THAT(refused(f), Catch::Contains("categorical feature 'c'"));
  }
  SECTION("an output with more missing scores than rows, or scores and classes the rows cannot give") {
    Fields f = good;
    f.score_missing = f.rows + 1;
    CHECK_THAT(refused(f), Catch::Contains("output 'score' has 301 missing scores, more than the 300 rows"));
    f = good;
    f.score_missing -= 1;
    CHECK_THAT(refused(f), Catch::Contains("output 'score': its digest"));
    f = good;
    f.score_stats.add(0.5);
    CHECK_THAT(refused(f), Catch::Contains("output 'score': its digest"));
    f = good;
    f.score_classes.add("positive", f.rows + 1);
    CHECK_THAT(refused(f), Catch::Contains("output 'score' counts"));
    f = good;
    f.score_classes = vigil::CategoryCounts(64);  // fewer than one side of the threshold per scored row
    CHECK_THAT(refused(f), Catch::Contains("output 'score' counts 0 classes"));
    f = good;
    f.score_classes.add_missing();
    CHECK_THAT(refused(f), Catch::Contains("output 'score' counts"));
  }
  SECTION("unknown flags, and version 2 without its sealed flag") {
    Fields f = good;
    f.flags = vigil::io::sealed_flag | 0x0001;
    CHECK_THAT(refused(f), Catch::Contains("unknown flags 1"));
    f.flags = 0;
    CHECK_THAT(refused(f), Catch::Contains("checksum"));
  }
  SECTION("a schema larger than the bytes left for its references, before they are allocated") {
    vigil::Schema wide;
    for (int i = 0; i < 100000; ++i) wide.add_numeric("x" + std::to_string(i));
    std::vector<std::uint8_t> bytes;
    vigil::io::Writer w(bytes);
    w.header(vigil::io::TypeId::profile, 2);
    vigil::detail::write_schema(w, wide);
    w.varint(0);
    vigil::io::seal(bytes);
    CHECK_THROWS_WITH(vigil::Profile::deserialize(bytes),
                      Catch::Contains("declares 100000 numeric features, 0 categorical features and 0 outputs, more than "
                                      "the remaining 1 bytes can hold"));
  }
  CHECK(refused(good) == "accepted");
}

namespace {
/// The i-th of many 24-byte names that differ only in their last characters, so that
/// comparing two of them reads them whole.
std::string long_name(std::size_t i) {
  std::string name(24, 'f');
  for (std::size_t k = 0; k < 8; ++k, i /= 16) name[23 - k] = static_cast<char>('a' + i % 16);
  return name;
}

/// The bytes of a profile of `rows` rows whose schema lists `names` as categorical
/// features, up to the end of its schema and the rows: enough for load() to check the names,
/// sealed.
std::vector<std::uint8_t> schema_only(const std::vector<std::string>& names) {
  std::vector<std::uint8_t> bytes;
  vigil::io::Writer w(bytes);
  w.header(vigil::io::TypeId::profile, 2);
  w.varint(0);
  w.varint(names.size());
  for (const std::string& name : names) w.string(name);
  w.varint(0);  // outputs
  w.varint(0);  // tags
  w.varint(0);  // rows
  vigil::io::seal(bytes);
  return bytes;
}
}  // namespace

// Checking each name against every earlier one took minutes for this many names (the cost
// grew more than fourfold per doubling); an index takes O(log n) per name.
TEST_CASE("Profile: load checks 2^18 feature names, and finds a duplicate among them", "[profile]") {
  const std::size_t n = std::size_t{1} << 18;
  std::vector<std::string> names;
  names.reserve(n);
  for (std::size_t i = 0; i < n; ++i) names.push_back(long_name(i));
  // Every name is accepted: the load goes on to find that the bytes hold no references.
  CHECK_THROWS_WITH(vigil::Profile::deserialize(schema_only(names)),
                    Catch::Contains("declares 0 numeric features, 262144 categorical features and 0 outputs"));
  // The same error as for a short schema: the name, and what it already is.
  names.back() = names[n / 2];
  CHECK_THROWS_WITH(vigil::Profile::deserialize(schema_only(names)),
                    Catch::Contains("invalid schema: Schema: '" + names[n / 2] + "' is already a categorical feature"));
  CHECK_THROWS_WITH(vigil::Profile::deserialize(schema_only({"a", "b", "a"})),
                    Catch::Contains("invalid schema: Schema: 'a' is already a categorical feature"));

  // The index finds each name as the kind it was declared, at its index.
  vigil::Schema schema;
  for (std::size_t i = 0; i < 1000; ++i) schema.add_numeric(long_name(i));
  schema.add_categorical("c");
  schema.add_output("score");
  schema.add_tag("host");
  CHECK(schema.find_numeric(long_name(377))->index == 377);
  CHECK_FALSE(schema.find_categorical(long_name(377)));
  CHECK(schema.find_categorical("c")->index == 0);
  CHECK_FALSE(schema.find_output("c"));
  CHECK(schema.find_output("score")->index == 0);
  CHECK(schema.find_tag("host")->index == 0);
  CHECK_FALSE(schema.find_numeric("host"));
  CHECK(schema.kind_of(long_name(999)) == vigil::Schema::Kind::numeric);
  CHECK_FALSE(schema.kind_of(long_name(1000)));
  CHECK_THROWS_WITH(schema.add_tag(long_name(5)), Catch::Contains("'" + long_name(5) + "' is already a numeric feature"));
}

namespace {
/// A profile of `features` numeric features over `rows` rows of distinct values.
vigil::Profile numeric_profile(std::size_t features, int rows) {
  vigil::Schema schema;
  for (std::size_t i = 0; i < features; ++i) schema.add_numeric("x" + std::to_string(i));
  vigil::Profile p(schema);
  vigil::Observation row(schema);
  for (int r = 0; r < rows; ++r) {
    for (std::uint32_t i = 0; i < features; ++i) row.set(vigil::NumericFeature{i}, r * 1.5 + i);
    p.add(row);
  }
  return p;
}
/// The memory per numeric feature that the class comment of Profile gives: one digest at
/// δ = 200 holding many values, ≈ 6 KB.
constexpr double documented_bytes_per_feature = 6 * 1024;
}  // namespace

// Digests used to take their full sort buffers and merge scratch with their first value
// (≈ 74 KB at δ = 200), so a wide profile of few rows took twelve times the figure.
TEST_CASE("Profile: memory per feature while building stays within twice the documented figure", "[profile]") {
  const std::size_t features = 10000;
  vigil::Profile p = numeric_profile(features, 20);
  const double per_feature = static_cast<double>(p.memory_bytes()) / features;
  INFO("bytes per feature: " << per_feature);
  CHECK(per_feature <= 2 * documented_bytes_per_feature);
  // Each part counted: at least the references themselves and 20 buffered values each.
  CHECK(per_feature >= sizeof(vigil::Profile::Numeric) + 20 * sizeof(double));
  CHECK(p.numeric(vigil::NumericFeature{9999}).digest.count() == 20);
  // Up to 1,024 rows: a buffer of 1,024 values at most.
  const vigil::Profile longer = numeric_profile(100, 1024);
  CHECK(static_cast<double>(longer.memory_bytes()) / 100 <= 2 * documented_bytes_per_feature);
  // Many rows: add() compacts every rows_per_compaction rows, so no digest ever holds its
  // full sort buffers; checked just before a compaction, when the buffers are largest.
  for (const int rows : {int(vigil::Profile::rows_per_compaction) - 1, 20000 + 511}) {
    const vigil::Profile many = numeric_profile(10, rows);
    INFO(rows << " rows: " << many.memory_bytes() / 10 << " bytes per feature");
    CHECK(static_cast<double>(many.memory_bytes()) / 10 <= 2 * documented_bytes_per_feature);
    CHECK(many.numeric(vigil::NumericFeature{9}).digest.count() == rows);
  }
  // Compacted, a digest of many values holds about the documented figure.
  vigil::Profile full = numeric_profile(10, 20000);
  full.compact();
  const double compacted = static_cast<double>(full.memory_bytes()) / 10;
  CHECK(compacted <= 1.25 * documented_bytes_per_feature);
  CHECK(compacted >= 0.5 * documented_bytes_per_feature);
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

TEST_CASE("Profile: labels of a holdout are its quality baseline", "[profile][labels]") {
  vigil::Schema schema = training_schema();
  vigil::OutputOptions regression;
  schema.add_output("amount", regression);
  vigil::Profile p(schema);
  const vigil::Output score{0};
  const vigil::Output amount{1};
  SECTION("without labels the profile is written as version 2") {
    vigil::Observation row(schema);
    row.set("x", 1.0).score(score, 0.7);
    p.add(row);
    CHECK_FALSE(p.has_labels());
    CHECK(p.serialize()[4] == 2);
  }
  SECTION("labels add up, round trip as version 3, and merge") {
    vigil::Profile q(schema);
    for (int i = 0; i < 100; ++i) {
      vigil::Observation row(schema);
      const double s = (i % 10) / 10.0;
      row.set("x", 1.0 * i).score(score, s).score(amount, 2.0 * i);
      vigil::Profile& target = i < 60 ? p : q;
      CHECK(target.add_labelled(row, score, i % 3 == 0 ? "1" : "0"));
      CHECK(target.add_label(row, amount, 2.0 * i + 1));
    }
    CHECK(p.has_labels());
    const vigil::detail::LabelStats& l = p.output(score).labels;
    CHECK(l.labelled == 60);
    CHECK(l.true_positive + l.false_positive + l.false_negative + l.true_negative == 60);
    CHECK(p.output(amount).labels.error.mean() == Approx(-1));
    const std::vector<std::uint8_t> bytes = p.serialize();
    CHECK(bytes[4] == 3);
    const vigil::Profile back = vigil::Profile::deserialize(bytes);
    CHECK(back.output(score).labels == l);
    CHECK(back.serialize() == bytes);
    p.merge(q);
    CHECK(p.output(score).labels.labelled == 100);
    CHECK(p.output(amount).labels.absolute_error.count() == 100);
  }
  SECTION("a label of the wrong type is counted, not added; more labels than rows are refused") {
    vigil::Observation row(schema);
    row.score(score, 0.2).score(amount, 5);
    CHECK_FALSE(p.add_labelled(row, score, 0.5));
    CHECK_FALSE(p.add_labelled(row, score, "yes"));
    CHECK_FALSE(p.add_labelled(row, amount, "five"));
    CHECK(p.rows() == 3);
    CHECK(p.output(score).bad_labels == 2);
    CHECK(p.output(amount).bad_labels == 1);
    CHECK(p.output(score).labels.labelled == 0);
    CHECK(p.add_label(row, amount, 4.0));
    CHECK(p.add_label(row, amount, 4.0));
    CHECK_THROWS_AS(p.add_label(row, amount, 4.0), vigil::invalid_argument);
    CHECK_THROWS_AS(p.add_label(row, vigil::Output{7}, 1.0), vigil::invalid_argument);
    // Bad labels are part of the baseline's bytes: a profile with only bad labels is version 3.
    const vigil::Profile back = vigil::Profile::deserialize(p.serialize());
    CHECK(back.output(score).bad_labels == 2);
  }
}

TEST_CASE("Profile: load refuses labels that contradict the rows or the output's kind", "[profile][labels]") {
  const vigil::Schema schema = training_schema();
  vigil::Profile p(schema);
  vigil::Observation row(schema);
  row.score(vigil::Output{0}, 0.9);
  p.add_labelled(row, vigil::Output{0}, 1.0);
  std::vector<std::uint8_t> bytes = p.serialize();
  // The label block ends the content: bad_labels (varint) then the LabelStats, whose first
  // double is `labelled`. Raise it above the single row and seal again.
  const std::size_t content = bytes.size() - vigil::io::trailer_size;
  std::vector<std::uint8_t> unsealed(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(content));
  std::vector<std::uint8_t> labels;
  vigil::io::Writer w(labels);
  p.output(vigil::Output{0}).labels.serialize(w);
  const std::size_t at = content - labels.size();
  const double two = 2;
  std::memcpy(&unsealed[at], &two, sizeof two);
  vigil::io::seal(unsealed);
  CHECK_THROWS_WITH(vigil::Profile::deserialize(unsealed), Catch::Contains("labels"));
}

// A profile that saves always loads: training values near the ends of the double range
// (±1e308, 1e160, subnormals) beside ordinary ones, through Profile::save and Profile::load
// and through `vigil profile`.
#include <vigil/monitor/profile.hpp>

#include <cmath>
#include <cstdint>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include "tools/cli_fixture.hpp"
#include "vigil_test.hpp"

namespace {

vigil::Schema extremes_schema() {
  vigil::Schema s;
  s.add_numeric("wide");     // ±1e308 beside ordinary values
  s.add_numeric("large");    // one 1e160 among ordinary values
  s.add_numeric("tiny");     // subnormals and zeros
  s.add_numeric("ordinary");
  s.add_categorical("c");
  vigil::OutputOptions options;
  options.threshold = 0.5;
  s.add_output("score", options);
  s.add_output("raw");  // an output with ±1e308 and 1e160
  return s;
}

/// Row i of the extremes profile: column `wide` alternates ±1e308 every tenth row, `large`
/// holds 1e160 once, `tiny` holds multiples of the least subnormal.
void fill_extremes_row(vigil::Observation& row, const vigil::Schema& schema, int i) {
  const double least = std::numeric_limits<double>::denorm_min();
  row.clear();
  row.set(schema.numeric("wide"), i % 10 == 0 ? (i % 20 == 0 ? 1e308 : -1e308) : 0.5 * i);
  row.set(schema.numeric("large"), i == 17 ? 1e160 : 3.0 + i);
  row.set(schema.numeric("tiny"), i % 3 == 0 ? 0.0 : least * (i % 7));
  row.set(schema.numeric("ordinary"), 100.0 - i);
  row.set(schema.categorical("c"), i % 2 ? "odd" : "even");
  row.score(schema.output("score"), (i % 4) / 4.0);
  row.score(schema.output("raw"), i == 5 ? 1e160 : (i % 25 == 0 ? (i % 50 == 0 ? 1e308 : -1e308) : i - 50.0));
}

vigil::Profile extremes_profile() {
  const vigil::Schema schema = extremes_schema();
  vigil::Profile p(schema);
  vigil::Observation row(schema);
  for (int i = 0; i < 200; ++i) {
    fill_extremes_row(row, schema, i);
    p.add(row);
  }
  return p;
}

/// Both summaries hold the same statistics, bit for bit, and answer finite where the
/// answer is representable.
void check_same_stats(const vigil::RunningStats& loaded, const vigil::RunningStats& saved) {
  CHECK(loaded == saved);
  CHECK(loaded.count() == saved.count());
  CHECK(loaded.min() == saved.min());
  CHECK(loaded.max() == saved.max());
  CHECK(loaded.mean() == saved.mean());
  CHECK(loaded.stddev() == saved.stddev());
  CHECK(std::isfinite(loaded.mean()));
  CHECK(std::isfinite(loaded.stddev()));
  CHECK(loaded.min() <= loaded.mean());
  CHECK(loaded.mean() <= loaded.max());
}

}  // namespace

TEST_CASE("Profile with values near the double range saves and loads the same statistics", "[profile][extremes]") {
  const vigil::Profile saved = extremes_profile();
  const vigil::Schema& schema = saved.schema();
  vigil_test::TempDir dir("profile-extremes");
  const std::string path = dir / "extremes.vigil";
  saved.save(path);
  const vigil::Profile loaded = vigil::Profile::load(path);
  CHECK(loaded.rows() == saved.rows());
  for (const char* name : {"wide", "large", "tiny", "ordinary"}) {
    INFO(name);
    const auto& a = loaded.numeric(schema.numeric(name));
    const auto& b = saved.numeric(schema.numeric(name));
    check_same_stats(a.stats, b.stats);
    CHECK(a.digest.count() == b.digest.count());
    CHECK(a.bad == 0);
  }
  for (const char* name : {"score", "raw"}) {
    INFO(name);
    check_same_stats(loaded.output(schema.output(name)).stats, saved.output(schema.output(name)).stats);
  }
  // What the statistics say: the mean of ±1e308 in equal numbers is the mean of the rest.
  const auto& wide = loaded.numeric(schema.numeric("wide")).stats;
  CHECK(wide.min() == -1e308);
  CHECK(wide.max() == 1e308);
  CHECK(std::fabs(wide.mean()) < 1e294);
  const auto& large = loaded.numeric(schema.numeric("large")).stats;
  CHECK(large.mean() == Approx(1e160 / 200).epsilon(1e-12));
  CHECK(large.stddev() == Approx(1e160 / std::sqrt(200.0)).epsilon(1e-6));
  const auto& tiny = loaded.numeric(schema.numeric("tiny")).stats;
  CHECK(tiny.min() == 0);
  CHECK(tiny.max() == 6 * std::numeric_limits<double>::denorm_min());
  // The bytes read back write the same bytes.
  CHECK(loaded.serialize() == saved.serialize());
}

TEST_CASE("vigil profile on a column with 1e160 writes a reference that loads", "[profile][extremes][cli]") {
  vigil_test::TempDir dir("profile-1e160");
  {
    std::ofstream out(dir / "train.csv");
    out << "size,weight,score\n";
    for (int i = 0; i < 100; ++i)
      out << (i == 40 ? "1e160" : std::to_string(i)) << "," << (i % 2 ? "-1e308" : "1e308") << "," << (i % 10) / 10.0
          << "\n";
  }
  const vigil_test::Run run =
      vigil_test::vigil_cli({"profile", "--input", dir / "train.csv", "--output", dir / "r.vigil", "--score-column", "score"});
  INFO(run.err);
  REQUIRE(run.code == 0);
  const vigil::Profile profile = vigil::Profile::load(dir / "r.vigil");
  const vigil::Schema& schema = profile.schema();
  REQUIRE(schema.find_numeric("size"));
  const auto& size = profile.numeric(schema.numeric("size")).stats;
  CHECK(size.count() == 100);
  CHECK(size.max() == 1e160);
  CHECK(size.mean() == Approx((1e160 + 4950.0 - 40) / 100).epsilon(1e-12));
  CHECK(std::isfinite(size.stddev()));
  const auto& weight = profile.numeric(schema.numeric("weight")).stats;
  CHECK(weight.mean() == 0);
  CHECK(weight.population_stddev() == Approx(1e308).epsilon(1e-15));
}

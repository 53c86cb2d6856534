// Tests of `vigil replay --canary-columns --challenger-columns` (shadow scores of the output)
// and of `--attribution-prefix` in `vigil profile` (the holdout's attributions) and `vigil
// replay` (each label's attributions in the labels file).
#include <cmath>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "../../tools/csv.hpp"
#include "tools/cli_fixture.hpp"

namespace canary_attribution_cli_test {  // named: the files of a tests/ folder may compile as one unit
namespace {

// A regression y = 1.0·a + 0.5·b + noise, the model predicting with those weights; from
// minute `fault` the feature `a` reaches the model negated (a sign bug upstream), which only
// its loss attribution and the canary show (the canary still gets the right `a`).
struct Case {
  int minutes = 90;
  int per_minute = 100;
  int fault = 60;
};

// The exact Shapley values of the squared loss over a background of (0, 0): δ_j = w_j x_j,
// r = −y, φ_j = δ_j (2r + Σδ).
void attributions(double a, double b, double y, double& pa, double& pb) {
  const double da = a, db = 0.5 * b;
  pa = da * (-2 * y + da + db);
  pb = db * (-2 * y + da + db);
}

void write_files(const vigil_test::TempDir& dir, const Case& c) {
  std::mt19937_64 rng(77);
  std::normal_distribution<double> normal(0, 1);
  {
    std::ofstream out(dir / "holdout.csv");
    out << "a,b,prediction,y,shap_a,shap_b\n";
    for (int i = 0; i < 3000; ++i) {
      const double a = normal(rng), b = normal(rng), y = a + 0.5 * b + 0.3 * normal(rng);
      double pa = 0, pb = 0;
      attributions(a, b, y, pa, pb);
      out << a << ',' << b << ',' << a + 0.5 * b << ',' << y << ',' << pa << ',' << pb << '\n';
    }
  }
  std::ofstream traffic(dir / "traffic.csv"), labels(dir / "labels.csv");
  traffic << "ts,request_id,a,b,prediction,prediction_v1,prediction_v3\n";
  labels << "request_id,ts,y,shap_a,shap_b\n";
  for (int m = 0; m < c.minutes; ++m)
    for (int i = 0; i < c.per_minute; ++i) {
      const double t = vigil_test::traffic_start + 60.0 * m + 60.0 * i / c.per_minute;
      const double a = normal(rng), b = normal(rng), y = a + 0.5 * b + 0.3 * normal(rng);
      const double seen = m >= c.fault ? -a : a;
      const std::string id = "q" + std::to_string(m * c.per_minute + i);
      const double champion = seen + 0.5 * b, canary = a + 0.5 * b + 0.01 * normal(rng);
      traffic << vigil::tools::format_time(t) << ',' << id << ',' << seen << ',' << b << ',' << champion << ',' << canary
              << ',' << (i % 50 == 0 ? std::string() : std::to_string(champion + 0.2 * normal(rng))) << '\n';
      double pa = 0, pb = 0;
      attributions(seen, b, y, pa, pb);
      labels << id << ',' << vigil::tools::format_time(t + 20) << ',' << y << ',' << pa << ',' << pb << '\n';
    }
}

}  // namespace

TEST_CASE("vigil replay: a canary and a challenger, and the labels' loss attributions", "[cli][canary][attribution]") {
  vigil_test::TempDir dir("canary");
  write_files(dir, Case{});
  const auto profile = vigil_test::vigil_cli({"profile", "--input", dir / "holdout.csv", "--output", dir / "reference.vigil",
                                              "--score-column", "prediction", "--label-column", "y",
                                              "--attribution-prefix", "shap_"});
  INFO(profile.err);
  REQUIRE(profile.code == 0);
  CHECK(profile.out.find("loss attribution (not a feature)") != std::string::npos);
  const auto run = vigil_test::vigil_cli(
      {"replay", "--reference", dir / "reference.vigil", "--input", dir / "traffic.csv", "--alerts", dir / "alerts.jsonl",
       "--id-column", "request_id", "--labels", dir / "labels.csv", "--label-column", "y", "--attribution-prefix",
       "shap_", "--canary-columns", "prediction_v1", "--challenger-columns", "prediction_v3", "--json",
       dir / "report.json", "--prometheus", dir / "metrics.prom", "--html", dir / "report.html"});
  INFO(run.err);
  REQUIRE(run.code == 0);
  const auto alerts = vigil_test::read_alerts(dir / "alerts.jsonl");
  INFO(vigil_test::describe(alerts));
  const double fault = vigil_test::traffic_start + 60 * 60;
  const auto* canary = vigil_test::first_alert(alerts, "canary", "prediction_v1", fault, fault + 4 * 60);
  CHECK(canary != nullptr);
  // The quality window (a day) holds the whole log: the feature is judged against the holdout.
  const auto* attribution = vigil_test::first_alert(alerts, "attribution", "a (horizon)", fault, fault + 8 * 60);
  CHECK(attribution != nullptr);
  CHECK(vigil_test::first_alert(alerts, "canary", "prediction_v1", 0, fault) == nullptr);
  CHECK(vigil_test::first_alert(alerts, "attribution", "a (horizon)", 0, fault) == nullptr);
  for (const auto& a : alerts)
    if (a.kind == "attribution") CHECK(a.subject.find("a") == 0);  // `a` or `a (horizon)`: b is never blamed
  CHECK(run.out.find("canary and challengers") != std::string::npos);
  std::ifstream json_in(dir / "report.json");
  const std::string json((std::istreambuf_iterator<char>(json_in)), std::istreambuf_iterator<char>());
  CHECK(json.find("\"role\": \"challenger\"") != std::string::npos);
  CHECK(json.find("\"canary\": \"prediction_v1\"") != std::string::npos);
  CHECK(json.find("\"feature\": \"a\"") != std::string::npos);
  std::ifstream prom_in(dir / "metrics.prom");
  const std::string prom((std::istreambuf_iterator<char>(prom_in)), std::istreambuf_iterator<char>());
  CHECK(prom.find("vigil_canary_mean_abs_deviation{output=\"prediction_v3\",role=\"challenger\",of=\"prediction\"}") !=
        std::string::npos);
  CHECK(prom.find("vigil_loss_attribution_mean{feature=\"b\"}") != std::string::npos);
  std::ifstream html_in(dir / "report.html");
  const std::string html((std::istreambuf_iterator<char>(html_in)), std::istreambuf_iterator<char>());
  CHECK(html.find("id=\"canary\"") != std::string::npos);
  CHECK(html.find("id=\"attribution\"") != std::string::npos);
}

TEST_CASE("vigil replay and profile: bad shadow and attribution options are refused with a reason", "[cli][bad_input]") {
  vigil_test::TempDir dir("canary-bad");
  Case small;
  small.minutes = 3;
  write_files(dir, small);
  REQUIRE(vigil_test::vigil_cli({"profile", "--input", dir / "holdout.csv", "--output", dir / "reference.vigil",
                                 "--score-column", "prediction", "--label-column", "y", "--ignore", "shap_a,shap_b"})
              .code == 0);
  const auto replay = [&](std::vector<std::string> extra) {
    std::vector<std::string> args{"replay", "--reference", dir / "reference.vigil", "--input", dir / "traffic.csv",
                                  "--alerts", dir / "alerts.jsonl", "--id-column", "request_id"};
    args.insert(args.end(), extra.begin(), extra.end());
    return vigil_test::vigil_cli(args);
  };
  auto r = replay({"--canary-columns", "nothing"});
  CHECK(r.code != 0);
  CHECK(r.err.find("nothing") != std::string::npos);
  r = replay({"--canary-columns", "a"});
  CHECK(r.code != 0);
  CHECK(r.err.find("already a numeric feature") != std::string::npos);
  r = replay({"--attribution-prefix", "shap_"});
  CHECK(r.code != 0);
  CHECK(r.err.find("--attribution-prefix needs --labels") != std::string::npos);
  r = replay({"--labels", dir / "labels.csv", "--label-column", "y", "--attribution-prefix", "phi_"});
  CHECK(r.code != 0);
  CHECK(r.err.find("phi_a, phi_b") != std::string::npos);
  const auto p = vigil_test::vigil_cli({"profile", "--input", dir / "holdout.csv", "--output", dir / "r2.vigil",
                                        "--score-column", "prediction", "--attribution-prefix", "sh"});
  CHECK(p.code != 0);  // the features a, b and y have no columns sha, shb, shy
  CHECK(p.err.find("has no column sha, shb, shy") != std::string::npos);
}

}  // namespace canary_attribution_cli_test

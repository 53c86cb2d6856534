// Tests of the conversions section in the JSON, Prometheus and HTML exports.
#include <vigil/export/html.hpp>
#include <vigil/export/json.hpp>
#include <vigil/export/prometheus.hpp>

#include <fstream>
#include <iterator>
#include <string>

#include "vigil_test.hpp"

namespace conversions_export_test {  // named: the files of a tests/ folder may compile as one unit
namespace {

vigil::Report with_conversions() {
  vigil::Report r;
  vigil::ConversionReport& c = r.conversions;
  c.arm_tag = "variant";
  c.share = 0.6;
  c.delay = 1995.2623149688789;
  c.horizon = 3981.0717055349724;
  c.eventual_rate = 0.065;
  c.confidence = 0.95;
  vigil::ConversionArm list;
  list.arm = "list";
  list.impressions = 14227;
  list.conversions = 926;
  list.naive_rate = 926.0 / 14227;
  list.impressions_at_delay = 12461;
  list.conversions_at_delay = 514;
  list.rate_at_delay = 514.0 / 12461;
  list.low = 0.037;
  list.high = 0.045;
  vigil::ConversionArm card = list;
  card.arm = "card \"new\"";
  card.impressions = 3341;
  card.conversions = 184;
  card.naive_rate = 184.0 / 3341;
  card.rate_at_delay = 0.071;
  card.low = 0.052;
  card.high = 0.096;
  c.arms = {list, card};
  c.best_arm = card.arm;
  c.naive_best_arm = "list";
  c.received = 1112;
  c.joined = 1110;
  c.unknown_ids = 1;
  c.before_impression = 1;
  return r;
}

std::string read_doc(const char* name) {
  std::ifstream in(std::string(VIGIL_SOURCE_DIR) + "/docs/" + name);
  REQUIRE(in);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

}  // namespace

TEST_CASE("to_json(Report): conversions per arm, the delay, the best and the naive arm", "[export][conversions]") {
  const std::string empty = vigil::to_json(vigil::Report{});
  CHECK(empty.find(R"("conversions":{"arm_tag":"","delay":null,)") != std::string::npos);
  CHECK(empty.find(R"("arms":[],"best_arm":null,"naive_best_arm":null,)") != std::string::npos);
  const std::string text = vigil::to_json(with_conversions());
  CHECK(text.find(R"("conversions":{"arm_tag":"variant","delay":1995.2623149688789,"share":0.6,)"
                  R"("horizon":3981.0717055349724,"eventual_rate":0.065,"confidence":0.95,"arms":[)") !=
        std::string::npos);
  CHECK(text.find(R"({"arm":"list","impressions":14227,"conversions":926,"naive_rate":0.065087509664722,)"
                  R"("impressions_at_delay":12461,"conversions_at_delay":514,"rate_at_delay":0.04124869593130567,)"
                  R"("low":0.037,"high":0.045})") != std::string::npos);
  CHECK(text.find(R"("best_arm":"card \"new\"","naive_best_arm":"list","impressions_without_arm":0,)"
                  R"("received":1112,"joined":1110,"unknown_ids":1,"duplicates":0,"too_late":0,)"
                  R"("before_impression":1,"bad_times":0,"beyond_window":0,"applied_early":0})") != std::string::npos);
  const std::string doc = read_doc("report.md");
  for (const char* key : {"arm_tag", "delay", "share", "horizon", "eventual_rate", "best_arm", "naive_best_arm",
                          "impressions_at_delay", "conversions_at_delay", "rate_at_delay", "before_impression"}) {
    INFO(key);
    CHECK(doc.find(std::string("`") + key + "`") != std::string::npos);
  }
}

TEST_CASE("to_prometheus: conversion series per arm only when conversions are tracked", "[export][conversions]") {
  CHECK(vigil::to_prometheus(vigil::Report{}).find("vigil_conversion") == std::string::npos);
  const std::string text = vigil::to_prometheus(with_conversions());
  CHECK(text.find("# TYPE vigil_conversion_rate_at_delay gauge\n") != std::string::npos);
  CHECK(text.find("vigil_conversion_impressions{arm=\"list\"} 14227\n") != std::string::npos);
  CHECK(text.find("vigil_conversion_rate_low{arm=\"card \\\"new\\\"\"} 0.052\n") != std::string::npos);
  CHECK(text.find("vigil_conversion_delay_seconds 1995.2623149688789\n") != std::string::npos);
  CHECK(text.find("vigil_conversions_total{outcome=\"before_impression\"} 1\n") != std::string::npos);
  const std::string doc = read_doc("report.md");
  for (const char* name : {"vigil_conversion_impressions", "vigil_conversion_rate_at_delay", "vigil_conversions_total"}) {
    INFO(name);
    CHECK(doc.find(name) != std::string::npos);
  }
}

TEST_CASE("to_html: a Conversions section naming the best arm and the naive choice", "[export][conversions]") {
  CHECK(vigil::to_html(vigil::Report{}, {}, nullptr, {}).find("id=\"conversions\"") == std::string::npos);
  const std::string html = vigil::to_html(with_conversions(), {}, nullptr, {});
  CHECK(html.find("<section id=\"conversions\">") != std::string::npos);
  CHECK(html.find("<a href=\"#conversions\">Conversions</a>") != std::string::npos);
  CHECK(html.find("Best arm: <b>card &quot;new&quot;</b>.") != std::string::npos);
  CHECK(html.find("would prefer <b>list</b>") != std::string::npos);
  CHECK(html.find("<b>1</b> before impression") != std::string::npos);
}

}  // namespace conversions_export_test

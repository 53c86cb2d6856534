// Tests of the samples to label in vigil/export/json.hpp: the `samples` object of the report
// and the lines of samples.jsonl.
#include <vigil/export/json.hpp>

#include <fstream>
#include <iterator>
#include <limits>
#include <string>

#include "vigil_test.hpp"

namespace samples_json_test {  // named: the files of a tests/ folder may compile as one unit
namespace {

vigil::LabelSamples samples() {
  vigil::LabelSamples s;
  s.interval_end = 1793606400;
  s.lowest_confidence = {{"req-7", 0.5}, {"say \"hi\"", 0.25}};
  s.highest_confidence = {{"req-9", 0.999}};
  s.near_threshold = {{"req-7", 0.5}};
  return s;
}

}  // namespace

TEST_CASE("to_json(Report): samples of the interval evaluated, empty or not", "[export][samples]") {
  vigil::Report r;
  CHECK(vigil::to_json(r).find(R"("samples":{"interval_end":null,"interval_end_iso":null,"lowest_confidence":[],)"
                               R"("highest_confidence":[],"near_threshold":[]},"canary":[],"attribution":[],"open_alerts":)") != std::string::npos);
  r.samples = samples();
  CHECK(vigil::to_json(r).find(
            R"("samples":{"interval_end":1793606400,"interval_end_iso":"2026-11-02T08:00:00.000Z",)"
            R"("lowest_confidence":[{"id":"req-7","score":0.5},{"id":"say \"hi\"","score":0.25}],)"
            R"("highest_confidence":[{"id":"req-9","score":0.999}],"near_threshold":[{"id":"req-7","score":0.5}]})") !=
        std::string::npos);
  std::ifstream in(std::string(VIGIL_SOURCE_DIR) + "/docs/report.md");
  REQUIRE(in);
  const std::string doc((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  for (const char* key : {"samples", "interval_end", "lowest_confidence", "highest_confidence", "near_threshold"}) {
    INFO(key);
    CHECK(doc.find(std::string("`") + key + "`") != std::string::npos);
  }
}

TEST_CASE("to_json_lines: one samples.jsonl line per sample, kinds in order", "[export][samples]") {
  CHECK(vigil::to_json_lines(vigil::LabelSamples{}).empty());
  CHECK(vigil::to_json_lines(samples()) ==
        "{\"interval_end\": 1793606400, \"kind\": \"lowest_confidence\", \"id\": \"req-7\", \"score\": 0.5}\n"
        "{\"interval_end\": 1793606400, \"kind\": \"lowest_confidence\", \"id\": \"say \\\"hi\\\"\", \"score\": 0.25}\n"
        "{\"interval_end\": 1793606400, \"kind\": \"highest_confidence\", \"id\": \"req-9\", \"score\": 0.999}\n"
        "{\"interval_end\": 1793606400, \"kind\": \"near_threshold\", \"id\": \"req-7\", \"score\": 0.5}\n");
}

}  // namespace samples_json_test

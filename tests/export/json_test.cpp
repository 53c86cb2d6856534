#include "vigil/export/json.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <limits>
#include <random>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "export/golden.hpp"
#include "export/report_fixture.hpp"
#include "vigil_test.hpp"

namespace {

/// A strict RFC 8259 parser, enough to read back what the exporter writes: objects keep their
/// key order; strings are decoded to UTF-8; a syntax error throws with its offset.
struct Json {
  enum class Type { null, boolean, number, string, array, object } type = Type::null;
  bool boolean = false;
  double number = 0;
  std::string text;  // string value, or the number's source text
  std::vector<Json> items;
  std::vector<std::pair<std::string, Json>> members;

  const Json& operator[](const std::string& key) const {
    for (const auto& [k, v] : members)
      if (k == key) return v;
    throw std::runtime_error("no key " + key);
  }
  bool has(const std::string& key) const {
    for (const auto& m : members)
      if (m.first == key) return true;
    return false;
  }
  std::vector<std::string> keys() const {
    std::vector<std::string> out;
    for (const auto& m : members) out.push_back(m.first);
    return out;
  }
  bool is_null() const { return type == Type::null; }
};

class JsonParser {
 public:
  explicit JsonParser(const std::string& s) : s_(s) {}
  Json parse() {
    Json v = value();
    space();
    if (i_ != s_.size()) fail("trailing text");
    return v;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw std::runtime_error(what + " at offset " + std::to_string(i_) + ": " + s_.substr(i_, 40));
  }
  void space() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\n' || s_[i_] == '\r' || s_[i_] == '\t')) ++i_;
  }
  bool eat(char c) {
    space();
    if (i_ < s_.size() && s_[i_] == c) {
      ++i_;
      return true;
    }
    return false;
  }
  void expect(char c) {
    if (!eat(c)) fail(std::string("expected ") + c);
  }
  bool literal(const char* word) {
    const std::string w(word);
    if (s_.compare(i_, w.size(), w) == 0) {
      i_ += w.size();
      return true;
    }
    return false;
  }
  Json value() {
    space();
    if (i_ >= s_.size()) fail("unexpected end");
    Json v;
    const char c = s_[i_];
    if (c == '{') {
      ++i_;
      v.type = Json::Type::object;
      if (eat('}')) return v;
      do {
        space();
        if (i_ >= s_.size() || s_[i_] != '"') fail("expected key");
        std::string key = string();
        expect(':');
        v.members.emplace_back(std::move(key), value());
      } while (eat(','));
      expect('}');
    } else if (c == '[') {
      ++i_;
      v.type = Json::Type::array;
      if (eat(']')) return v;
      do v.items.push_back(value());
      while (eat(','));
      expect(']');
    } else if (c == '"') {
      v.type = Json::Type::string;
      v.text = string();
    } else if (literal("null")) {
      v.type = Json::Type::null;
    } else if (literal("true")) {
      v.type = Json::Type::boolean;
      v.boolean = true;
    } else if (literal("false")) {
      v.type = Json::Type::boolean;
    } else {
      v.type = Json::Type::number;
      v.text = number();
      v.number = std::strtod(v.text.c_str(), nullptr);
    }
    return v;
  }
  // -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
  std::string number() {
    const std::size_t start = i_;
    const auto digit = [&] { return i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9'; };
    const auto digits = [&] {
      if (!digit()) fail("expected a digit");
      while (digit()) ++i_;
    };
    if (i_ < s_.size() && s_[i_] == '-') ++i_;
    if (i_ < s_.size() && s_[i_] == '0') {
      ++i_;
    } else {
      digits();
    }
    if (i_ < s_.size() && s_[i_] == '.') {
      ++i_;
      digits();
    }
    if (i_ < s_.size() && (s_[i_] == 'e' || s_[i_] == 'E')) {
      ++i_;
      if (i_ < s_.size() && (s_[i_] == '+' || s_[i_] == '-')) ++i_;
      digits();
    }
    return s_.substr(start, i_ - start);
  }
  unsigned hex4() {
    if (i_ + 4 > s_.size()) fail("short \\u escape");
    unsigned v = 0;
    for (int k = 0; k < 4; ++k) {
      const char h = s_[i_++];
      v <<= 4;
      if (h >= '0' && h <= '9') v |= static_cast<unsigned>(h - '0');
      else if (h >= 'a' && h <= 'f') v |= static_cast<unsigned>(h - 'a' + 10);
      else if (h >= 'A' && h <= 'F') v |= static_cast<unsigned>(h - 'A' + 10);
      else fail("bad hex digit");
    }
    return v;
  }
  static void put_utf8(std::string& out, unsigned cp) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xC0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xE0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }
  std::string string() {
    ++i_;  // opening quote
    std::string out;
    while (true) {
      if (i_ >= s_.size()) fail("unterminated string");
      const char c = s_[i_++];
      if (c == '"') return out;
      if (static_cast<unsigned char>(c) < 0x20) fail("raw control character in string");
      if (c != '\\') {
        out += c;
        continue;
      }
      if (i_ >= s_.size()) fail("unterminated escape");
      const char e = s_[i_++];
      switch (e) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          unsigned cp = hex4();
          if (cp >= 0xD800 && cp < 0xDC00) {
            if (!literal("\\u")) fail("lone high surrogate");
            const unsigned low = hex4();
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
          }
          put_utf8(out, cp);
          break;
        }
        default: fail("bad escape");
      }
    }
  }

  const std::string& s_;
  std::size_t i_ = 0;
};

Json parse(const std::string& s) { return JsonParser(s).parse(); }

// docs/report.md, which documents every key.
std::string report_doc() {
  std::ifstream in(std::string(VIGIL_SOURCE_DIR) + "/docs/report.md");
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

const double k_nan = std::numeric_limits<double>::quiet_NaN();
const double k_inf = std::numeric_limits<double>::infinity();

}  // namespace

TEST_CASE("to_iso8601: Unix seconds in UTC with milliseconds", "[export]") {
  CHECK(vigil::to_iso8601(0) == "1970-01-01T00:00:00.000Z");
  CHECK(vigil::to_iso8601(1793606400) == "2026-11-02T08:00:00.000Z");
  CHECK(vigil::to_iso8601(951782400) == "2000-02-29T00:00:00.000Z");        // leap day of a 400-year leap year
  CHECK(vigil::to_iso8601(4107542399.5) == "2100-02-28T23:59:59.500Z");     // 2100 is no leap year
  CHECK(vigil::to_iso8601(4107542400) == "2100-03-01T00:00:00.000Z");
  CHECK(vigil::to_iso8601(-1) == "1969-12-31T23:59:59.000Z");
  CHECK(vigil::to_iso8601(-0.0005) == "1970-01-01T00:00:00.000Z");  // half a millisecond rounds up
  CHECK(vigil::to_iso8601(-0.0015) == "1969-12-31T23:59:59.999Z");
  CHECK(vigil::to_iso8601(1.2344) == "1970-01-01T00:00:01.234Z");
  CHECK(vigil::to_iso8601(1.2346) == "1970-01-01T00:00:01.235Z");
  CHECK(vigil::to_iso8601(1793606400.001) == "2026-11-02T08:00:00.001Z");  // stored just below .001
  CHECK(vigil::to_iso8601(-62135596800.0) == "0001-01-01T00:00:00.000Z");
  CHECK(vigil::to_iso8601(253402300799.999) == "9999-12-31T23:59:59.999Z");
  CHECK(vigil::to_iso8601(253402300800.0).empty());
  CHECK(vigil::to_iso8601(253402300799.9996).empty());  // rounds into year 10000
  CHECK(vigil::to_iso8601(-62167219200.0) == "0000-01-01T00:00:00.000Z");
  CHECK(vigil::to_iso8601(-62135596800.5) == "0000-12-31T23:59:59.500Z");
  CHECK(vigil::to_iso8601(-62167219200.5).empty());
  CHECK(vigil::to_iso8601(k_nan).empty());
  CHECK(vigil::to_iso8601(k_inf).empty());

  // Every day for 800 years round-trips through a days-from-civil count written differently.
  const auto days_from_civil = [](std::int64_t y, unsigned m, unsigned d) {
    static const int cumulative[] = {0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334};
    const auto leap = [](std::int64_t year) { return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0; };
    std::int64_t days = 0;
    for (std::int64_t year = 1970; year < y; ++year) days += leap(year) ? 366 : 365;
    for (std::int64_t year = y; year < 1970; ++year) days -= leap(year) ? 366 : 365;
    return days + cumulative[m - 1] + (m > 2 && leap(y) ? 1 : 0) + d - 1;
  };
  for (std::int64_t y = 1600; y < 2400; y += 7) {
    for (unsigned m = 1; m <= 12; ++m) {
      const std::int64_t days = days_from_civil(y, m, 1);
      const vigil::detail::CivilDate date = vigil::detail::civil_from_days(days);
      REQUIRE(date.year == y);
      REQUIRE(date.month == m);
      REQUIRE(date.day == 1u);
      const vigil::detail::CivilDate before = vigil::detail::civil_from_days(days - 1);
      REQUIRE(before.day >= 28u);
    }
  }
}

TEST_CASE("to_json(Alert): one alerts.jsonl line, keys in the documented order", "[export]") {
  vigil::Alert a;
  a.time = 1793606460;
  a.kind = vigil::AlertKind::missing_values;
  a.subject.name = "income";
  a.severity = vigil::Severity::alert;
  a.statistic = 0.4;
  a.p_value = 1.5e-12;
  a.message = "income is missing in 40% of requests (training: 0%).";
  a.transition = vigil::Alert::Transition::escalated;
  CHECK(vigil::to_json(a) ==
        R"({"time": "2026-11-02T08:01:00.000Z", "kind": "missing_values", "subject": "income", "severity": "alert", )"
        R"("statistic": 0.4, "p_value": 1.5e-12, "message": "income is missing in 40% of requests (training: 0%)."})");

  SECTION("p_value NaN and statistic infinite are null") {
    a.p_value = k_nan;
    a.statistic = k_inf;
    const Json j = parse(vigil::to_json(a));
    CHECK(j["p_value"].is_null());
    CHECK(j["statistic"].is_null());
  }
  SECTION("text is escaped and stays on one line") {
    a.subject.name = "a\"b\\c";
    a.message = "two\nlines\ttab \x1f caf\xC3\xA9";
    const std::string line = vigil::to_json(a);
    CHECK(line.find('\n') == std::string::npos);
    CHECK(line.find(R"("subject": "a\"b\\c")") != std::string::npos);
    CHECK(line.find(R"("message": "two\nlines\ttab \u001f caf)" "\xC3\xA9\"") != std::string::npos);
    CHECK(parse(line)["message"].text == a.message);
  }

  // The format of DESIGN.md, for every alert a real monitor raised: keys in order, each
  // followed by ": " and separated by ", ", values of the documented types.
  const std::vector<std::string> kinds{"feature_drift", "feature_shift", "missing_values", "out_of_range",
                                       "unseen_category", "schema", "score_drift", "class_drift", "traffic",
                                       "latency", "quality", "canary", "attribution"};
  const auto& run = vigil_test::shared_run();
  REQUIRE_FALSE(run.alerts.empty());
  for (const vigil::Alert& alert : run.alerts) {
    const std::string line = vigil::to_json(alert);
    INFO(line);
    const Json j = parse(line);
    CHECK(j.keys() == std::vector<std::string>{"time", "kind", "subject", "severity", "statistic", "p_value", "message"});
    CHECK(line.rfind("{\"time\": \"", 0) == 0);
    CHECK(line.back() == '}');
    CHECK(line.find('\n') == std::string::npos);
    std::size_t at = 0;
    for (const std::string& key : j.keys()) {
      const std::size_t found = line.find((key == "time" ? "{\"" : ", \"") + key + "\": ", at);
      CHECK(found != std::string::npos);
      at = found;
    }
    const std::string& time = j["time"].text;
    REQUIRE(time.size() == 24);
    for (std::size_t k = 0; k < time.size(); ++k) {
      const std::string pattern = "dddd-dd-ddTdd:dd:dd.dddZ";
      if (pattern[k] == 'd') CHECK((time[k] >= '0' && time[k] <= '9'));
      else CHECK(time[k] == pattern[k]);
    }
    CHECK(std::find(kinds.begin(), kinds.end(), j["kind"].text) != kinds.end());
    CHECK((j["severity"].text == "warn" || j["severity"].text == "alert"));
    CHECK(j["statistic"].type == Json::Type::number);
    CHECK((j["p_value"].type == Json::Type::number || j["p_value"].is_null()));
    CHECK(j["subject"].text == vigil::to_string(alert.subject));
    CHECK(j["message"].text == alert.message);
  }
}

TEST_CASE("to_json(Report): empty report", "[export]") {
  const vigil::Report empty;
  const std::string text = vigil::to_json(empty);
  CHECK(text.find('\n') == std::string::npos);
  const Json j = parse(text);
  CHECK(j.keys() == std::vector<std::string>{"schema_version", "time", "time_iso", "status", "recent", "horizon",
                                             "counters", "features", "outputs", "cohorts", "traffic", "latency",
                                             "quality", "conversions", "samples", "canary", "attribution", "open_alerts", "alert_log"});
  CHECK(j["schema_version"].text == "2");
  CHECK(j["time"].is_null());
  CHECK(j["time_iso"].is_null());
  CHECK(j["status"].text == "ok");
  CHECK(j["recent"].keys() == std::vector<std::string>{"start", "start_iso", "end", "end_iso", "requests"});
  CHECK(j["horizon"].keys() == std::vector<std::string>{"start", "start_iso", "end", "end_iso", "requests"});
  CHECK(j["counters"].keys() == std::vector<std::string>{"observed", "bad_time", "late", "future", "clock_changes", "bad_latency",
                                                         "skipped_evaluations", "bad_arrival_time", "truncated_values"});
  CHECK(j["features"].type == Json::Type::array);
  CHECK(j["features"].items.empty());
  CHECK(text.find(R"("features":[],"outputs":[],"cohorts":[],"traffic":{"status":"ok",)") != std::string::npos);
  CHECK(text.find(R"("slow":0,"attribution":[]},"quality":{"output":"","status":"ok",)") != std::string::npos);
  CHECK(text.find(R"("metrics":{},"estimated":{},"intervals":[],)") != std::string::npos);
  // The traffic and latency objects are there with their defaults: NaN figures null.
  CHECK(j["traffic"]["arrivals_source"].text == "completions");
  CHECK(j["traffic"]["rate_model"].text == "none");
  CHECK(j["traffic"]["in_flight"].text == "0");
  CHECK(j["traffic"]["predicted_arrivals"].is_null());
  CHECK(j["traffic"]["last_arrival"].is_null());
  CHECK(j["traffic"]["last_arrival_iso"].is_null());
  CHECK(j["latency"]["subject"].text.empty());
  CHECK(j["latency"]["recent_p99"].is_null());
  CHECK(j["latency"]["recent_count"].text == "0");
  CHECK(j["latency"]["attribution"].type == Json::Type::array);
}

TEST_CASE("to_json(Report): traffic, latency and slow-request attribution", "[export]") {
  vigil::Report r = vigil_test::operations_report();
  const std::vector<std::string> traffic_keys{
      "status", "arrivals_source", "recent_arrivals", "recent_completions", "predicted_arrivals", "arrival_z",
      "arrival_p_value", "rate_model", "rate_history", "last_arrival", "last_arrival_iso", "silence",
      "expected_in_silence", "silence_p_value", "in_flight", "completion_ratio", "background_completion_ratio",
      "completion_p_value", "error_rate", "background_error_rate", "error_p_value", "timeout_rate", "background_timeout_rate",
      "timeout_p_value"};
  const std::vector<std::string> latency_keys{
      "subject", "status", "recent_count", "background_count", "recent_p50", "recent_p99", "recent_p999",
      "background_p50", "background_p99", "background_p999", "p99_ratio", "p999_ratio", "statistic", "p_value",
      "slow_threshold", "slow", "attribution"};
  const std::vector<std::string> attribution_keys{"tag", "value", "requests", "slow", "share_of_slow",
                                                  "share_of_all", "lift", "background_lift", "p_value"};
  for (int indent : {0, 2}) {
    const std::string text = vigil::to_json(r, {indent});
    INFO(text);
    const Json j = parse(text);
    CHECK(j["counters"]["bad_arrival_time"].text == "5");
    CHECK(j["counters"]["truncated_values"].text == "7");

    const Json& t = j["traffic"];
    CHECK(t.keys() == traffic_keys);
    CHECK(t["status"].text == "warn");
    CHECK(t["arrivals_source"].text == "arrivals");
    CHECK(t["recent_arrivals"].text == "1180");
    CHECK(t["recent_completions"].text == "1164");
    CHECK(t["predicted_arrivals"].text == "1425.5");
    CHECK(t["arrival_z"].text == "-2.75");
    CHECK(t["arrival_p_value"].text == "0.0061");
    CHECK(t["rate_model"].text == "seasonal");
    CHECK(t["rate_history"].text == "1440");
    CHECK(t["last_arrival"].text == "1793606395.5");
    CHECK(t["last_arrival_iso"].text == "2026-11-02T07:59:55.500Z");
    CHECK(t["silence"].text == "4.5");  // seconds
    CHECK(t["expected_in_silence"].text == "0.875");
    CHECK(t["silence_p_value"].text == "0.4168");
    CHECK(t["in_flight"].text == "16");
    CHECK(t["completion_ratio"].text == "0.98644");
    CHECK(t["background_completion_ratio"].text == "0.998");
    CHECK(t["completion_p_value"].text == "0.0031");
    CHECK(t["error_rate"].text == "0.015");
    CHECK(t["background_error_rate"].text == "0.002");
    CHECK(t["error_p_value"].text == "3.5e-07");
    CHECK(t["timeout_rate"].text == "0.004");
    CHECK(t["background_timeout_rate"].is_null());
    CHECK(t["timeout_p_value"].is_null());

    const Json& l = j["latency"];
    CHECK(l.keys() == latency_keys);
    CHECK(l["subject"].text == "requests");
    CHECK(l["status"].text == "alert");
    CHECK(l["recent_count"].text == "1000");
    CHECK(l["background_count"].text == "48000");
    CHECK(l["recent_p50"].text == "0.0125");  // seconds, not milliseconds
    CHECK(l["recent_p99"].text == "0.375");
    CHECK(l["recent_p999"].text == "1.5");
    CHECK(l["background_p50"].text == "0.0118");
    CHECK(l["background_p99"].text == "0.125");
    CHECK(l["background_p999"].is_null());
    CHECK(l["p99_ratio"].text == "3");
    CHECK(l["p999_ratio"].is_null());
    CHECK(l["statistic"].text == "85.5");
    CHECK(l["p_value"].text == "2.5e-15");
    CHECK(l["slow_threshold"].text == "0.25");
    CHECK(l["slow"].text == "64");
    REQUIRE(l["attribution"].items.size() == 2);
    const Json& host = l["attribution"].items[0];
    CHECK(host.keys() == attribution_keys);
    CHECK(host["tag"].text == "host");
    CHECK(host["value"].text == "h\"3<");
    CHECK(host["requests"].text == "250");
    CHECK(host["slow"].text == "39");
    CHECK(host["share_of_slow"].text == "0.609375");
    CHECK(host["share_of_all"].text == "0.25");
    CHECK(host["lift"].text == "2.4375");
    CHECK(host["p_value"].text == "1.5e-09");
    const Json& model = l["attribution"].items[1];
    CHECK(model["value"].text == "v2");
    CHECK(model["lift"].text == "0.625");
    CHECK(model["p_value"].is_null());

    REQUIRE(j["cohorts"].items.size() == 2);
    const Json& c = j["cohorts"].items[0];
    CHECK(c.keys() ==
          std::vector<std::string>{"tag",     "value",   "status",  "requests",
                                               "features", "outputs", "latency", "quality",
                                               "canary",   "attribution"});
    CHECK(c["value"].text == "h\"3<");
    const Json& cl = c["latency"];
    CHECK(cl.keys() == latency_keys);
    CHECK(cl["subject"].text == "host=h\"3<");
    CHECK(cl["recent_p99"].text == "0.875");
    CHECK(cl["background_p999"].text == "0.3");
    CHECK(cl["p99_ratio"].text == "8.75");
    CHECK(cl["p999_ratio"].text == "7.5");
    CHECK(cl["p_value"].text == "1e-30");
    CHECK(cl["slow"].text == "39");
    CHECK(cl["attribution"].items.empty());
    const Json& quiet = j["cohorts"].items[1]["latency"];
    CHECK(quiet["subject"].text == "model=v1");
    CHECK(quiet["recent_count"].text == "0");
    for (const char* key : {"recent_p50", "recent_p99", "recent_p999", "background_p50", "background_p99",
                            "background_p999", "p99_ratio", "p999_ratio", "statistic", "p_value", "slow_threshold"})
      CHECK(quiet[key].is_null());
  }
  // The escaped tag value as it stands in the text.
  const std::string compact = vigil::to_json(r);
  CHECK(compact.find(R"({"tag":"host","value":"h\"3<","requests":250,"slow":39,"share_of_slow":0.609375,)") !=
        std::string::npos);
  CHECK(compact.find(R"("arrivals_source":"arrivals","recent_arrivals":1180,)") != std::string::npos);

  SECTION("in_flight is signed") {
    r.traffic.in_flight = -3;
    CHECK(parse(vigil::to_json(r))["traffic"]["in_flight"].text == "-3");
  }
  SECTION("a silence without any arrival: no time, no ISO twin") {
    r.traffic.last_arrival = k_nan;
    r.traffic.silence = k_inf;
    const Json t = parse(vigil::to_json(r))["traffic"];
    CHECK(t["last_arrival"].is_null());
    CHECK(t["last_arrival_iso"].is_null());
    CHECK(t["silence"].is_null());
  }
  SECTION("every key is documented in docs/report.md") {
    std::ifstream in(std::string(VIGIL_SOURCE_DIR) + "/docs/report.md");
    REQUIRE(in);
    const std::string doc((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    for (const auto* keys : {&traffic_keys, &latency_keys, &attribution_keys}) {
      for (const std::string& key : *keys) {
        INFO(key);
        CHECK(doc.find("`" + key + "`") != std::string::npos);
      }
    }
    CHECK(doc.find("`bad_arrival_time`") != std::string::npos);
    CHECK(doc.find("`truncated_values`") != std::string::npos);
  }
}

TEST_CASE("to_json(Report): quality, realised and estimated, with what became of the labels", "[export][quality]") {
  const vigil::Report r = vigil_test::operations_report();
  const Json j = parse(vigil::to_json(r));
  const Json& q = j["quality"];
  const std::vector<std::string> keys{"output", "status", "window_start", "window_start_iso", "window_end", "window_end_iso",
                                      "labelled", "pending", "evicted", "metrics", "estimated", "intervals", "labels",
                                      "joined", "expired", "unknown_ids", "duplicate_labels", "duplicate_ids", "late_labels",
                                      "bad_labels", "bad_label_times", "labels_before_request", "labels_beyond_window",
                                      "labels_applied_early", "attributed_labels", "attributions_wrong_count",
                                      "attribution_bad_values", "attributions_applied_early"};
  CHECK(q.keys() == keys);
  CHECK(q["output"].text == "fraud_score");
  CHECK(q["status"].text == "alert");
  CHECK(q["window_start_iso"].text == "2026-11-01T09:00:00.000Z");
  CHECK(q["labelled"].text == "5210");
  CHECK(q["pending"].text == "812");
  CHECK(q["evicted"].text == "3");
  const Json& accuracy = q["metrics"]["accuracy"];
  CHECK(accuracy.keys() == std::vector<std::string>{"status", "recent", "baseline", "p_value", "count"});
  CHECK(accuracy["recent"].text == "0.861");
  CHECK(accuracy["baseline"].text == "0.934");
  CHECK(accuracy["p_value"].text == "2.5e-41");
  CHECK(q["metrics"]["calibration_error"]["p_value"].is_null());
  CHECK(q["metrics"].keys().size() == 8);
  CHECK(q["estimated"]["estimated_roc_auc"]["recent"].text == "0.905");
  REQUIRE(q["intervals"].items.size() == 2);
  CHECK(q["intervals"].items[1].keys() ==
        std::vector<std::string>{"start", "start_iso", "end", "end_iso", "identified", "labelled"});
  CHECK(q["intervals"].items[1]["labelled"].text == "1610");
  CHECK(q["unknown_ids"].text == "12");
  CHECK(q["labels_before_request"].text == "2");
  std::ifstream in(std::string(VIGIL_SOURCE_DIR) + "/docs/report.md");
  REQUIRE(in);
  const std::string doc((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  for (const std::string& key : keys) {
    INFO(key);
    CHECK(doc.find("`" + key + "`") != std::string::npos);
  }
  for (const std::string& name : q["metrics"].keys()) {
    INFO(name);
    CHECK(doc.find("`" + name + "`") != std::string::npos);
  }
}

TEST_CASE("to_json(Report): NaN and infinities are null, numbers round-trip, text escaped", "[export]") {
  const vigil::Report r = vigil_test::awkward_report();
  for (int indent : {0, 2}) {
    const std::string text = vigil::to_json(r, {indent});
    INFO(text);
    const Json j = parse(text);
    CHECK(j["time"].number == r.time);
    CHECK(j["time"].text == "1793606400.25");
    CHECK(j["time_iso"].text == "2026-11-02T08:00:00.250Z");
    CHECK(j["status"].text == "warn");
    CHECK(j["horizon"]["start"].is_null());
    CHECK(j["horizon"]["start_iso"].is_null());
    CHECK(j["horizon"]["end_iso"].text == "2026-11-02T08:00:00.000Z");
    CHECK(j["counters"]["observed"].text == "18446744073709551615");
    CHECK(j["counters"]["bad_time"].text == "3");
    const Json& f = j["features"].items.at(0);
    // The invalid byte 0xFF becomes U+FFFD; everything else survives the round trip.
    const std::string name = r.features[0].name;
    CHECK(f["name"].text == name.substr(0, name.size() - 1) + "\xEF\xBF\xBD");
    CHECK(f["categorical"].type == Json::Type::boolean);
    CHECK(f["status"].text == "warn");
    CHECK(f["psi"].text == "0.1");
    CHECK(f["wasserstein"].is_null());  // infinite
    CHECK(f["ks_statistic"].is_null());
    CHECK(f["missing_rate"].is_null());
    CHECK(f["unseen_values"].items.at(0)["value"].text == "new \"one\"");
    CHECK(f["unseen_values"].items.at(0)["count"].number == 7);
    CHECK(f.keys() == std::vector<std::string>{
                          "name", "categorical", "status", "horizon_count", "psi", "ks_statistic", "ks_p_value",
                          "wasserstein", "js_distance", "recent_count", "recent_requests", "recent_intervals",
                          "shift_statistic", "shift_p_value", "shift_psi", "profile_statistic", "profile_p_value",
                          "recent_mean", "reference_mean", "missing_rate", "reference_missing_rate",
                          "out_of_range_rate", "unseen_rate", "missing_p_value", "out_of_range_p_value",
                          "unseen_p_value", "unseen_values", "bad_values"});
    const Json& o = j["outputs"].items.at(0);
    CHECK(o["name"].text == "score\nline");
    CHECK(o["classes"].items.at(0).text == "a\"b");
    CHECK(o["class_share"].items.at(0).number == 0.25);
    CHECK(o["class_share"].items.at(1).is_null());
    CHECK(o.keys() == std::vector<std::string>{
                          "name", "status", "horizon_count", "psi", "ks_statistic", "ks_p_value", "wasserstein",
                          "recent_count", "recent_requests", "recent_intervals", "shift_statistic", "shift_p_value", "shift_psi",
                          "profile_statistic",
                          "profile_p_value", "recent_ks_statistic", "recent_ks_p_value", "recent_p50", "recent_p90",
                          "recent_p99", "reference_p50", "missing_scores", "non_finite_scores",
                          "missing_rate", "non_finite_rate", "reference_missing_rate", "background_missing_rate",
                          "missing_p_value", "missing_shift_p_value", "missing_classes", "class_missing_rate",
                          "classes", "class_share", "reference_class_share", "class_statistic", "class_p_value"});
    for (const std::string& key : o.keys()) {  // the output's keys are documented
      INFO(key);
      CHECK(report_doc().find("`" + key + "`") != std::string::npos);
    }
    const Json& c = j["cohorts"].items.at(0);
    CHECK(c.keys() ==
          std::vector<std::string>{"tag",     "value",   "status",  "requests",
                                               "features", "outputs", "latency", "quality",
                                               "canary",   "attribution"});
    CHECK(c["value"].text == "web-1\"");
    // An invalid byte in a tag value becomes U+FFFD, the line feed an escape.
    CHECK(j["latency"]["attribution"].items.at(0)["value"].text == "web-1\"\n\xEF\xBF\xBD");
    CHECK(j["latency"]["attribution"].items.at(0)["requests"].text == "9");
    CHECK(j["latency"]["attribution"].items.at(0)["lift"].is_null());
    const Json& a = j["open_alerts"].items.at(0);
    CHECK(a.keys() == std::vector<std::string>{"time", "time_iso", "kind", "subject", "severity", "statistic",
                                               "p_value", "message", "transition", "sequence"});
    CHECK(a["p_value"].is_null());
    CHECK(a["message"].text == r.open_alerts[0].message);
    CHECK(a["transition"].text == "raised");
  }
  // Raw text never holds a control character, in compact form not even a line feed.
  const std::string compact = vigil::to_json(r);
  for (char ch : compact) REQUIRE(static_cast<unsigned char>(ch) >= 0x20);
  CHECK(compact.find(R"(\u0001)") != std::string::npos);
  CHECK(compact.find(R"(\t)") != std::string::npos);
  CHECK(compact.find("\xF0\x9F\x98\x80") != std::string::npos);  // 4-byte UTF-8 passed through
}

TEST_CASE("to_json(Report): numbers are the shortest exact text", "[export]") {
  vigil::Report r;
  const double values[] = {0.1, 1.0 / 3, 1e-300, 5e-324, 1.7976931348623157e308, 123456789.125, -2.5, 1e21};
  std::mt19937_64 rng(3);
  std::uniform_real_distribution<double> u(-1e6, 1e6);
  std::vector<double> all(std::begin(values), std::end(values));
  for (int i = 0; i < 200; ++i) all.push_back(u(rng) / 1e3);
  vigil::OutputReport o;
  o.name = "s";
  o.class_share = all;
  r.outputs.push_back(o);
  const Json j = parse(vigil::to_json(r));
  const Json& shares = j["outputs"].items.at(0)["class_share"];
  REQUIRE(shares.items.size() == all.size());
  for (std::size_t i = 0; i < all.size(); ++i) {
    CHECK(shares.items[i].number == all[i]);
    CHECK(shares.items[i].text.size() <= 24);
  }
  CHECK(shares.items[0].text == "0.1");
  CHECK(shares.items[6].text == "-2.5");
}

TEST_CASE("to_json(Report): a real monitor's report", "[export]") {
  const auto& run = vigil_test::shared_run();
  const vigil::Report& r = run.report;
  const std::string compact = vigil::to_json(r);
  const std::string pretty = vigil::to_json(r, {2});
  const Json j = parse(compact);
  const Json p = parse(pretty);
  CHECK(pretty.find("\n  \"features\": [\n    {\n      \"name\": \"age\",") != std::string::npos);
  CHECK(j["time_iso"].text == "2026-11-02T08:40:00.000Z");
  CHECK(j["status"].text == vigil::to_string(r.status));
  CHECK(j["status"].text != "ok");
  CHECK(j["recent"]["requests"].number == static_cast<double>(r.recent_requests));
  CHECK(j["counters"]["observed"].number == 4800);
  REQUIRE(j["features"].items.size() == 3);
  CHECK(j["features"].items[0]["name"].text == "age");
  CHECK(j["features"].items[0]["psi"].number == r.features[0].psi);
  CHECK(j["features"].items[0]["recent_mean"].number == r.features[0].recent_mean);
  CHECK(j["features"].items[1]["missing_rate"].number == r.features[1].missing_rate);
  CHECK(j["features"].items[2]["categorical"].boolean);
  CHECK(j["features"].items[2]["ks_statistic"].is_null());  // not meaningful for a category
  REQUIRE(j["outputs"].items.size() == 1);
  CHECK(j["outputs"].items[0]["recent_p50"].number == r.outputs[0].recent_p50);
  CHECK(j["outputs"].items[0]["classes"].items.size() == r.outputs[0].classes.size());
  REQUIRE(j["cohorts"].items.size() == r.cohorts.size());
  REQUIRE(r.cohorts.size() >= 2);
  CHECK(j["cohorts"].items[0]["tag"].text == "model");
  CHECK(j["open_alerts"].items.size() == r.open_alerts.size());
  CHECK_FALSE(r.open_alerts.empty());
  // The pretty and compact forms hold the same data.
  CHECK(vigil::to_json(r, {0}) == compact);
  std::string squeezed;
  bool in_string = false;
  for (std::size_t i = 0; i < pretty.size(); ++i) {
    const char ch = pretty[i];
    if (ch == '"' && (i == 0 || pretty[i - 1] != '\\' || (i >= 2 && pretty[i - 2] == '\\'))) in_string = !in_string;
    if (!in_string && (ch == ' ' || ch == '\n')) continue;
    squeezed += ch;
  }
  CHECK(squeezed == compact);
  CHECK(p["features"].items.size() == 3);
}

TEST_CASE("to_json: whole documents byte for byte", "[export]") {
  const vigil::Report r = vigil_test::cohorts_report();
  vigil_test::check_golden("empty_report.json.golden", vigil::to_json(vigil::Report{}, {2}));
  vigil_test::check_golden("cohorts_report.json.golden", vigil::to_json(r, {2}));
  // One alerts.jsonl line per alert, the indentation of the report aside.
  std::string jsonl;
  for (const vigil::Alert& a : r.open_alerts) jsonl += vigil::to_json(a) + "\n";
  for (const vigil::Alert& a : r.alert_log) jsonl += vigil::to_json(a) + "\n";
  vigil_test::check_golden("cohorts_report.jsonl.golden", jsonl);
  CHECK(vigil::to_json(r) == vigil::to_json(r, {0}));
  CHECK(vigil::to_json(r).find(R"("late":2,"future":4,"clock_changes":1,)") != std::string::npos);
  std::string compact = vigil::to_json(r, {2});
  compact.erase(std::remove(compact.begin(), compact.end(), '\n'), compact.end());
  std::string squeezed;
  bool in_string = false;
  for (std::size_t i = 0; i < compact.size(); ++i) {
    const char c = compact[i];
    if (c == '"' && (i == 0 || compact[i - 1] != '\\')) in_string = !in_string;
    if (!in_string && c == ' ') continue;
    squeezed += c;
  }
  CHECK(squeezed == vigil::to_json(r));
}

#include "vigil/export/prometheus.hpp"

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <limits>
#include <map>
#include <numeric>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "export/golden.hpp"
#include "export/report_fixture.hpp"
#include "vigil_test.hpp"

namespace {

struct Sample {
  std::string name;
  std::vector<std::pair<std::string, std::string>> labels;  // unescaped values
  std::string value;
};

/// Checks `text` against the rules of the Prometheus text exposition format 0.0.4 and
/// returns its samples; every violation is reported with its line.
bool is_name(const std::string& s, bool colon) {
  if (s.empty()) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    const bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colon && c == ':');
    if (!letter && !(i > 0 && c >= '0' && c <= '9')) return false;
  }
  return true;
}
bool is_metric_name(const std::string& s) { return is_name(s, true); }  // [a-zA-Z_:][a-zA-Z0-9_:]*
bool is_label_name(const std::string& s) { return is_name(s, false); }  // [a-zA-Z_][a-zA-Z0-9_]*

/// A sample value as Go's ParseFloat reads it, restricted to what an exporter should write.
bool is_value(const std::string& s) {
  if (s == "+Inf" || s == "-Inf" || s == "NaN") return true;
  char* end = nullptr;
  std::strtod(s.c_str(), &end);
  return !s.empty() && end == s.c_str() + s.size() && s.find_first_not_of("+-.eE0123456789") == std::string::npos;
}

/// The family of a sample: its name, or for a series of a histogram the name without
/// `_bucket`, `_sum` or `_count`.
std::string family_of(const std::string& name, const std::map<std::string, std::string>& types) {
  for (const std::string_view suffix : {"_bucket", "_sum", "_count"}) {
    if (name.size() <= suffix.size() || std::string_view(name).substr(name.size() - suffix.size()) != suffix) continue;
    const std::string base = name.substr(0, name.size() - suffix.size());
    const auto type = types.find(base);
    if (type != types.end() && type->second == "histogram") return base;
  }
  return name;
}

std::vector<Sample> check_exposition(const std::string& text) {
  std::vector<Sample> samples;
  REQUIRE((text.empty() || text.back() == '\n'));
  std::map<std::string, std::string> types;
  std::set<std::string> helps;
  std::set<std::string> finished;  // families whose samples ended: no more may follow
  std::string current;             // family of the latest line
  std::set<std::string> series;
  std::istringstream in(text);
  std::string line;
  const auto switch_to = [&](const std::string& family) {
    if (family == current) return;
    INFO("family " << family << " appears in two separate groups");
    CHECK(finished.count(family) == 0);
    if (!current.empty()) finished.insert(current);
    current = family;
  };
  while (std::getline(in, line)) {
    INFO("line: " << line);
    REQUIRE_FALSE(line.empty());
    if (line.rfind("# HELP ", 0) == 0) {
      const std::size_t space = line.find(' ', 7);
      REQUIRE(space != std::string::npos);
      const std::string family = line.substr(7, space - 7);
      REQUIRE(is_metric_name(family));
      switch_to(family);
      CHECK(helps.insert(family).second);  // once per family
      CHECK(types.count(family) == 0);     // HELP before TYPE, as we write them
      continue;
    }
    if (line.rfind("# TYPE ", 0) == 0) {
      const std::size_t space = line.find(' ', 7);
      REQUIRE(space != std::string::npos);
      const std::string family = line.substr(7, space - 7);
      const std::string type = line.substr(space + 1);
      REQUIRE(is_metric_name(family));
      const std::set<std::string> known{"counter", "gauge", "histogram", "summary", "untyped"};
      CHECK(known.count(type) == 1);
      switch_to(family);
      CHECK(types.emplace(family, type).second);  // once per family
      continue;
    }
    REQUIRE(line[0] != '#');
    Sample s;
    std::size_t i = 0;
    while (i < line.size() && line[i] != '{' && line[i] != ' ') ++i;
    s.name = line.substr(0, i);
    REQUIRE(is_metric_name(s.name));
    if (i < line.size() && line[i] == '{') {
      ++i;
      while (line.at(i) != '}') {
        const std::size_t eq = line.find('=', i);
        REQUIRE(eq != std::string::npos);
        const std::string name = line.substr(i, eq - i);
        REQUIRE(is_label_name(name));
        REQUIRE(line.at(eq + 1) == '"');
        std::string value;
        i = eq + 2;
        for (;; ++i) {
          const char c = line.at(i);
          if (c == '"') break;
          if (c == '\\') {
            const char e = line.at(++i);
            REQUIRE((e == '\\' || e == '"' || e == 'n'));
            value += e == 'n' ? '\n' : e;
          } else {
            value += c;
          }
        }
        ++i;
        s.labels.emplace_back(name, value);
        if (line.at(i) == ',') ++i;
      }
      ++i;
    }
    REQUIRE(line.at(i) == ' ');
    s.value = line.substr(i + 1);
    CHECK(is_value(s.value));
    const std::string family = family_of(s.name, types);
    switch_to(family);
    CHECK(types.count(family) == 1);  // TYPE precedes the samples
    if (types[family] == "counter") CHECK(s.name.size() > 6);
    if (types[family] == "counter") CHECK(s.name.compare(s.name.size() - 6, 6, "_total") == 0);
    if (types[family] == "histogram") CHECK(s.name != family);  // only _bucket, _sum and _count
    std::vector<std::pair<std::string, std::string>> sorted = s.labels;
    std::sort(sorted.begin(), sorted.end());
    for (std::size_t k = 1; k < sorted.size(); ++k) CHECK(sorted[k].first != sorted[k - 1].first);
    std::string key = s.name;
    for (const auto& [n, v] : sorted) key += "\x1f" + n + "=" + v;
    CHECK(series.insert(key).second);  // no duplicate series
    samples.push_back(std::move(s));
  }
  // Every family declared has samples.
  for (const auto& declared : types) {
    const std::string& family = declared.first;  // a named variable: C++17 lambdas cannot capture bindings
    INFO(family);
    CHECK(std::any_of(samples.begin(), samples.end(),
                      [&](const Sample& s) { return family_of(s.name, types) == family; }));
  }
  return samples;
}

std::vector<const Sample*> find(const std::vector<Sample>& samples, const std::string& name,
                                const std::vector<std::pair<std::string, std::string>>& labels = {}) {
  std::vector<const Sample*> out;
  for (const Sample& s : samples) {
    if (s.name != name) continue;
    bool all = true;
    for (const auto& l : labels) all = all && std::find(s.labels.begin(), s.labels.end(), l) != s.labels.end();
    if (all) out.push_back(&s);
  }
  return out;
}

/// What follows a label value that held invalid UTF-8: `~` and the hex of its bytes' FNV-1a.
std::string repair_mark(const std::string& bytes) { return fmt::format("~{:016x}", vigil::detail::fnv1a_64(bytes)); }

}  // namespace

TEST_CASE("to_prometheus: empty report", "[export]") {
  const std::string text = vigil::to_prometheus(vigil::Report{});
  const auto samples = check_exposition(text);
  CHECK(text.find("# HELP vigil_status Health of the model") == 0);
  CHECK(text.find("\n# TYPE vigil_status gauge\nvigil_status 0\n") != std::string::npos);
  CHECK(text.find("\nvigil_requests_total 0\n") != std::string::npos);
  CHECK(text.find("\n# TYPE vigil_requests_total counter\n") != std::string::npos);
  CHECK(text.find("vigil_input_dropped_total{reason=\"late\"} 0\n") != std::string::npos);
  CHECK(text.find("vigil_report_time_seconds") == std::string::npos);  // NaN: omitted, family too
  CHECK(text.find("vigil_feature_") == std::string::npos);
  CHECK(text.find("vigil_cohort_") == std::string::npos);
  for (const Sample& s : samples) CHECK(s.value != "NaN");
  // Every alert kind and severity is present, at zero.
  CHECK(find(samples, "vigil_alerts_open").size() == 26);
  CHECK(text.find("vigil_alerts_open{kind=\"feature_drift\",severity=\"warn\"} 0\n") != std::string::npos);
  CHECK(text.find("vigil_alerts_open{kind=\"attribution\",severity=\"alert\"} 0\n") != std::string::npos);
  // Traffic and latency: counts and status at zero, figures not computed absent.
  CHECK(text.find("\n# TYPE vigil_bad_arrival_time_total counter\nvigil_bad_arrival_time_total 0\n") != std::string::npos);
  CHECK(text.find("\n# TYPE vigil_truncated_values_total counter\nvigil_truncated_values_total 0\n") != std::string::npos);
  CHECK(text.find("\nvigil_traffic_status 0\n") != std::string::npos);
  CHECK(text.find("\nvigil_traffic_info{arrivals_source=\"completions\",rate_model=\"none\"} 1\n") != std::string::npos);
  CHECK(text.find("\nvigil_traffic_recent_arrivals 0\n") != std::string::npos);
  CHECK(text.find("\nvigil_traffic_in_flight 0\n") != std::string::npos);
  CHECK(text.find("\nvigil_latency_status 0\n") != std::string::npos);
  CHECK(text.find("\nvigil_latency_slow_requests 0\n") != std::string::npos);
  CHECK(text.find("vigil_traffic_predicted_arrivals") == std::string::npos);
  CHECK(text.find("vigil_traffic_silence_seconds") == std::string::npos);
  CHECK(text.find("vigil_latency_quantile_seconds") == std::string::npos);
  CHECK(text.find("vigil_latency_attribution_") == std::string::npos);
}

TEST_CASE("to_prometheus: label values escaped, NaN omitted, infinities written", "[export]") {
  const vigil::Report r = vigil_test::awkward_report();
  const std::string text = vigil::to_prometheus(r);
  INFO(text);
  const auto samples = check_exposition(text);
  const std::string& name = r.features[0].name;
  // 0xFF → U+FFFD, and the value marked with the hash of its bytes.
  const std::string valid_name = name.substr(0, name.size() - 1) + "\xEF\xBF\xBD" + repair_mark(name);
  const auto psi = find(samples, "vigil_feature_psi");
  REQUIRE(psi.size() == 2);  // overall and in cohort host=web-1"
  CHECK(psi[0]->labels == std::vector<std::pair<std::string, std::string>>{{"feature", valid_name}});
  CHECK(psi[0]->value == "0.1");
  CHECK(psi[1]->labels == std::vector<std::pair<std::string, std::string>>{
                              {"feature", valid_name}, {"cohort_tag", "host"}, {"cohort_value", "web-1\""}});
  CHECK(text.find(R"(vigil_feature_psi{feature="say \"hi\"\\\n<script>)") != std::string::npos);
  CHECK(find(samples, "vigil_feature_wasserstein_normalized").at(0)->value == "+Inf");
  CHECK(find(samples, "vigil_feature_ks_statistic").empty());  // NaN everywhere
  CHECK(text.find("vigil_feature_ks_statistic") == std::string::npos);
  for (const Sample& s : samples) CHECK(s.value != "NaN");
  CHECK(find(samples, "vigil_requests_total").at(0)->value == "18446744073709551615");
  CHECK(find(samples, "vigil_input_dropped_total", {{"reason", "bad_time"}}).at(0)->value == "3");
  CHECK(find(samples, "vigil_report_time_seconds").at(0)->value == "1793606400.25");
  CHECK(find(samples, "vigil_status").at(0)->value == "1");
  CHECK(find(samples, "vigil_alerts_open", {{"kind", "feature_shift"}, {"severity", "warn"}}).at(0)->value == "1");
  const auto classes = find(samples, "vigil_output_class_ratio");
  REQUIRE(classes.size() == 1);  // the NaN share of class "c" is left out
  CHECK(classes[0]->labels ==
        std::vector<std::pair<std::string, std::string>>{{"output", "score\nline"}, {"class", "a\"b"}});
  CHECK(text.find("vigil_output_class_ratio{output=\"score\\nline\",class=\"a\\\"b\"} 0.25\n") != std::string::npos);
  CHECK(find(samples, "vigil_output_reference_class_ratio").size() == 2);
  CHECK(find(samples, "vigil_cohort_status", {{"cohort_tag", "host"}, {"cohort_value", "web-1\""}}).size() == 1);
  // A tag value in an attribution: line feed escaped, the invalid byte replaced and marked.
  const auto requests = find(samples, "vigil_latency_attribution_requests");
  REQUIRE(requests.size() == 1);
  const std::string mark = repair_mark("web-1\"\n\xFF");
  CHECK(requests[0]->labels ==
        std::vector<std::pair<std::string, std::string>>{{"tag", "host"}, {"value", "web-1\"\n\xEF\xBF\xBD" + mark}});
  CHECK(text.find("vigil_latency_attribution_requests{tag=\"host\",value=\"web-1\\\"\\n\xEF\xBF\xBD" + mark + "\"} 9\n") !=
        std::string::npos);
  CHECK(text.find("vigil_prometheus_refused_series") == std::string::npos);
  CHECK(find(samples, "vigil_latency_attribution_lift").empty());
}

TEST_CASE("to_prometheus: traffic, latency and slow-request attribution", "[export]") {
  const vigil::Report r = vigil_test::operations_report();
  const std::string text = vigil::to_prometheus(r);
  INFO(text);
  const auto samples = check_exposition(text);
  using Labels = std::vector<std::pair<std::string, std::string>>;
  const auto value_of = [&](const std::string& name, const Labels& labels) {
    for (const Sample& s : samples)
      if (s.name == name && s.labels == labels) return s.value;
    return std::string("absent");
  };
  const auto type_of = [&](const std::string& name) {
    const std::string line = "\n# TYPE " + name + " ";
    const std::size_t at = text.find(line);
    if (at == std::string::npos) return std::string("absent");
    return text.substr(at + line.size(), text.find('\n', at + line.size()) - at - line.size());
  };

  CHECK(value_of("vigil_bad_arrival_time_total", {}) == "5");
  CHECK(type_of("vigil_bad_arrival_time_total") == "counter");
  CHECK(value_of("vigil_truncated_values_total", {}) == "7");
  CHECK(type_of("vigil_truncated_values_total") == "counter");

  // Traffic: one unlabelled gauge per figure.
  const std::vector<std::pair<std::string, std::string>> traffic{
      {"vigil_traffic_status", "1"},
      {"vigil_traffic_recent_arrivals", "1180"},
      {"vigil_traffic_recent_completions", "1164"},
      {"vigil_traffic_predicted_arrivals", "1425.5"},
      {"vigil_traffic_arrival_z", "-2.75"},
      {"vigil_traffic_arrival_p_value", "0.0061"},
      {"vigil_traffic_rate_history_intervals", "1440"},
      {"vigil_traffic_last_arrival_time_seconds", "1793606395.5"},
      {"vigil_traffic_silence_seconds", "4.5"},
      {"vigil_traffic_silence_expected_arrivals", "0.875"},
      {"vigil_traffic_silence_p_value", "0.4168"},
      {"vigil_traffic_in_flight", "16"},
      {"vigil_traffic_completion_ratio", "0.98644"},
      {"vigil_traffic_background_completion_ratio", "0.998"},
      {"vigil_traffic_completion_p_value", "0.0031"},
      {"vigil_traffic_error_ratio", "0.015"},
      {"vigil_traffic_background_error_ratio", "0.002"},
      {"vigil_traffic_error_p_value", "3.5e-07"},
      {"vigil_traffic_timeout_ratio", "0.004"},
  };
  for (const auto& [name, value] : traffic) {
    INFO(name);
    CHECK(value_of(name, {}) == value);
    CHECK(type_of(name) == "gauge");
    CHECK(find(samples, name).size() == 1);
  }
  CHECK(value_of("vigil_traffic_info", {{"arrivals_source", "arrivals"}, {"rate_model", "seasonal"}}) == "1");
  CHECK(text.find("vigil_traffic_background_timeout_ratio") == std::string::npos);  // NaN
  CHECK(text.find("vigil_traffic_timeout_p_value") == std::string::npos);

  // Latency of all requests (no labels), then per cohort with the cohort labels.
  const Labels all;
  const Labels host{{"cohort_tag", "host"}, {"cohort_value", "h\"3<"}};
  const Labels quiet{{"cohort_tag", "model"}, {"cohort_value", "v1"}};
  const auto with = [](Labels labels, const std::string& name, const std::string& value) {
    labels.emplace_back(name, value);
    return labels;
  };
  CHECK(value_of("vigil_latency_status", all) == "2");
  CHECK(value_of("vigil_latency_recent_requests", all) == "1000");
  CHECK(value_of("vigil_latency_background_requests", all) == "48000");
  CHECK(value_of("vigil_latency_shift_g_statistic", all) == "85.5");
  CHECK(value_of("vigil_latency_shift_p_value", all) == "2.5e-15");
  CHECK(value_of("vigil_latency_slow_threshold_seconds", all) == "0.25");
  CHECK(value_of("vigil_latency_slow_requests", all) == "64");
  CHECK(value_of("vigil_latency_quantile_seconds", with(all, "q", "0.5")) == "0.0125");
  CHECK(value_of("vigil_latency_quantile_seconds", with(all, "q", "0.99")) == "0.375");
  CHECK(value_of("vigil_latency_quantile_seconds", with(all, "q", "0.999")) == "1.5");
  CHECK(value_of("vigil_latency_background_quantile_seconds", with(all, "q", "0.5")) == "0.0118");
  CHECK(value_of("vigil_latency_background_quantile_seconds", with(all, "q", "0.99")) == "0.125");
  CHECK(value_of("vigil_latency_background_quantile_seconds", with(all, "q", "0.999")) == "absent");
  CHECK(value_of("vigil_latency_quantile_factor", with(all, "q", "0.99")) == "3");
  CHECK(value_of("vigil_latency_quantile_factor", with(all, "q", "0.999")) == "absent");
  CHECK(text.find("\nvigil_latency_quantile_seconds{q=\"0.99\"} 0.375\n") != std::string::npos);

  CHECK(value_of("vigil_latency_status", host) == "2");
  CHECK(value_of("vigil_latency_recent_requests", host) == "250");
  CHECK(value_of("vigil_latency_quantile_seconds", with(host, "q", "0.99")) == "0.875");
  CHECK(value_of("vigil_latency_background_quantile_seconds", with(host, "q", "0.999")) == "0.3");
  CHECK(value_of("vigil_latency_quantile_factor", with(host, "q", "0.99")) == "8.75");
  CHECK(value_of("vigil_latency_quantile_factor", with(host, "q", "0.999")) == "7.5");
  CHECK(value_of("vigil_latency_shift_p_value", host) == "1e-30");
  CHECK(text.find("\nvigil_latency_quantile_seconds{cohort_tag=\"host\",cohort_value=\"h\\\"3<\",q=\"0.99\"} 0.875\n") !=
        std::string::npos);
  // A cohort without latencies: counts at zero, no quantile.
  CHECK(value_of("vigil_latency_recent_requests", quiet) == "0");
  CHECK(find(samples, "vigil_latency_quantile_seconds", quiet).empty());
  CHECK(find(samples, "vigil_latency_quantile_seconds").size() == 6);
  for (const char* family : {"vigil_latency_status", "vigil_latency_quantile_seconds", "vigil_latency_quantile_factor",
                             "vigil_latency_slow_threshold_seconds"})
    CHECK(type_of(family) == "gauge");

  // Attribution: one series per (tag, value), labels escaped.
  const Labels h3{{"tag", "host"}, {"value", "h\"3<"}};
  const Labels v2{{"tag", "model"}, {"value", "v2"}};
  CHECK(value_of("vigil_latency_attribution_requests", h3) == "250");
  CHECK(value_of("vigil_latency_attribution_slow_requests", h3) == "39");
  CHECK(value_of("vigil_latency_attribution_share_of_slow_ratio", h3) == "0.609375");
  CHECK(value_of("vigil_latency_attribution_share_of_all_ratio", h3) == "0.25");
  CHECK(value_of("vigil_latency_attribution_lift", h3) == "2.4375");
  CHECK(value_of("vigil_latency_attribution_p_value", h3) == "1.5e-09");
  CHECK(value_of("vigil_latency_attribution_lift", v2) == "0.625");
  CHECK(value_of("vigil_latency_attribution_p_value", v2) == "absent");
  CHECK(text.find("\nvigil_latency_attribution_share_of_slow_ratio{tag=\"host\",value=\"h\\\"3<\"} 0.609375\n") !=
        std::string::npos);
  CHECK(find(samples, "vigil_latency_attribution_lift").size() == 2);

  // Names: seconds and ratios are what they say; no counter among the windowed figures.
  for (const Sample& s : samples) {
    INFO(s.name);
    if (s.name.rfind("vigil_traffic_", 0) == 0 || s.name.rfind("vigil_latency_", 0) == 0) {
      CHECK(type_of(s.name) == "gauge");
      CHECK(s.name.find("_total") == std::string::npos);
      CHECK(s.name.find("millis") == std::string::npos);
    }
    const double v = std::strtod(s.value.c_str(), nullptr);
    if (s.name.size() > 6 && s.name.compare(s.name.size() - 6, 6, "_ratio") == 0) CHECK((v >= 0 && v <= 1));
  }

  // Every family this report produces is listed in docs/report.md.
  std::ifstream in(std::string(VIGIL_SOURCE_DIR) + "/docs/report.md");
  REQUIRE(in);
  const std::string doc((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::set<std::string> families;
  for (const Sample& s : samples) families.insert(s.name);
  for (const std::string& family : families) {
    INFO(family);
    CHECK(doc.find("`" + family + "`") != std::string::npos);
  }
}

TEST_CASE("to_prometheus: a real monitor's report", "[export]") {
  const vigil::Report& r = vigil_test::shared_run().report;
  const std::string text = vigil::to_prometheus(r);
  const auto samples = check_exposition(text);
  CHECK(find(samples, "vigil_status").at(0)->value == std::to_string(static_cast<int>(r.status)));
  CHECK(find(samples, "vigil_requests_total").at(0)->value == "4800");
  CHECK(find(samples, "vigil_report_time_seconds").at(0)->value == "1793608800");
  // Overall series have no cohort labels; each cohort repeats them with its labels.
  const auto age_psi = find(samples, "vigil_feature_psi", {{"feature", "age"}});
  REQUIRE(age_psi.size() == 1 + r.cohorts.size());
  CHECK(age_psi[0]->labels.size() == 1);
  CHECK(std::strtod(age_psi[0]->value.c_str(), nullptr) == r.features[0].psi);
  CHECK(find(samples, "vigil_feature_psi", {{"feature", "age"}, {"cohort_tag", "model"}, {"cohort_value", "v2"}}).size() == 1);
  CHECK(std::strtod(find(samples, "vigil_feature_missing_ratio", {{"feature", "income"}}).at(0)->value.c_str(), nullptr) ==
        r.features[1].missing_rate);
  CHECK(find(samples, "vigil_feature_js_distance", {{"feature", "region"}}).size() == 1 + r.cohorts.size());
  CHECK(find(samples, "vigil_feature_ks_statistic", {{"feature", "region"}}).empty());
  const auto p50 = find(samples, "vigil_output_score_quantile", {{"output", "fraud_score"}, {"q", "0.5"}});
  REQUIRE(p50.size() == 1 + r.cohorts.size());
  CHECK(std::strtod(p50[0]->value.c_str(), nullptr) == r.outputs[0].recent_p50);
  CHECK(find(samples, "vigil_output_score_quantile", {{"q", "0.99"}}).size() == 1 + r.cohorts.size());
  CHECK(find(samples, "vigil_output_class_ratio", {{"class", "positive"}}).size() >= 1);
  // The open alerts are counted by kind and severity.
  double open = 0;
  for (const Sample* s : find(samples, "vigil_alerts_open")) open += std::strtod(s->value.c_str(), nullptr);
  CHECK(open == static_cast<double>(r.open_alerts.size()));
  CHECK(open > 0);
  // Only bounded labels are used.
  const std::set<std::string> allowed{"feature", "output", "class", "q", "kind",
                                      "severity", "reason", "cohort_tag", "cohort_value", "tag",
                                      "value", "arrivals_source", "rate_model", "metric", "outcome"};
  for (const Sample& s : samples)
    for (const auto& l : s.labels) CHECK(allowed.count(l.first) == 1);
  // append_prometheus writes the same after existing text.
  std::string combined = "# TYPE server_up gauge\nserver_up 1\n";
  vigil::append_prometheus(combined, r);
  CHECK(combined == "# TYPE server_up gauge\nserver_up 1\n" + text);
  CHECK(vigil::prometheus_content_type == "text/plain; version=0.0.4; charset=utf-8");
}

TEST_CASE("to_prometheus: whole expositions byte for byte", "[export]") {
  // Every section: cohorts with their own features, outputs and latency, several outputs
  // with and without classes, escaping, NaN omitted, an empty report.
  vigil_test::check_golden("empty_report.prom.golden", vigil::to_prometheus(vigil::Report{}));
  vigil_test::check_golden("awkward_report.prom.golden", vigil::to_prometheus(vigil_test::awkward_report()));
  vigil_test::check_golden("operations_report.prom.golden", vigil::to_prometheus(vigil_test::operations_report()));
  const std::string cohorts = vigil::to_prometheus(vigil_test::cohorts_report());
  vigil_test::check_golden("cohorts_report.prom.golden", cohorts);
  CHECK(cohorts.find("vigil_input_dropped_total{reason=\"future\"} 4\n") != std::string::npos);
  CHECK(cohorts.find("vigil_clock_changes_total 1\n") != std::string::npos);
}

namespace {

// A report whose cohort values, feature names, classes and attributed tag values differ only
// in bytes that are not UTF-8: 0x80 to 0xFF after a common stem, each one repaired to U+FFFD.
vigil::Report invalid_utf8_report() {
  vigil::Report r;
  r.time = 1793606400;
  vigil::FeatureReport f;
  f.psi = 0.25;
  f.name = "f\xFE";
  r.features.push_back(f);
  f.name = "f\xFF";
  r.features.push_back(f);
  vigil::OutputReport o;
  o.name = "score";
  o.classes = {"c\xFE", "c\xFF"};
  o.class_share = {0.5, 0.5};
  o.reference_class_share = {0.5, 0.5};
  r.outputs.push_back(o);
  for (int b = 0x80; b <= 0xFF; ++b) {
    vigil::CohortReport c;
    c.tag = "host";
    c.value = std::string("web") + static_cast<char>(b);
    c.features = r.features;
    r.cohorts.push_back(c);
    vigil::SlowAttribution slow;
    slow.tag = "host";
    slow.value = c.value;
    slow.requests = 1;
    r.latency.attribution.push_back(slow);
  }
  return r;
}

}  // namespace

TEST_CASE("to_prometheus: label values that differ only in invalid UTF-8 stay distinct series", "[export]") {
  const vigil::Report r = invalid_utf8_report();
  const std::string text = vigil::to_prometheus(r);
  const auto samples = check_exposition(text);  // no duplicate series
  CHECK(find(samples, "vigil_cohort_status").size() == 128);
  CHECK(find(samples, "vigil_feature_psi").size() == 2 * 129);
  CHECK(find(samples, "vigil_output_class_ratio").size() == 2);
  CHECK(find(samples, "vigil_latency_attribution_requests").size() == 128);
  CHECK(find(samples, "vigil_prometheus_refused_series").empty());
  // Each value reads as its repair, marked with the hash of its own bytes, in any report.
  const std::string web_ff = std::string("web\xEF\xBF\xBD") + repair_mark("web\xFF");
  CHECK(find(samples, "vigil_cohort_status", {{"cohort_value", web_ff}}).size() == 1);
  CHECK(find(samples, "vigil_feature_psi", {{"feature", "f\xEF\xBF\xBD" + repair_mark("f\xFE")}}).size() == 129);
  vigil::Report alone;
  alone.cohorts.push_back(r.cohorts.back());
  CHECK(find(check_exposition(vigil::to_prometheus(alone)), "vigil_cohort_status", {{"cohort_value", web_ff}}).size() == 1);
}

TEST_CASE("to_prometheus: a series whose labels still collide after repair is refused and counted", "[export]") {
  vigil::Report r = invalid_utf8_report();
  // Valid values spelled exactly as the repair of others: a cohort, a feature, a class and
  // an attribution.
  vigil::CohortReport c = r.cohorts.back();
  c.value = std::string("web\xEF\xBF\xBD") + repair_mark("web\xFF");
  r.cohorts.push_back(c);
  vigil::FeatureReport f = r.features.front();
  f.name = "f\xEF\xBF\xBD" + repair_mark("f\xFE");
  r.features.push_back(f);
  r.outputs[0].classes.push_back("c\xEF\xBF\xBD" + repair_mark("c\xFF"));
  r.outputs[0].class_share.push_back(0.125);
  r.outputs[0].reference_class_share.push_back(0.125);
  vigil::SlowAttribution slow = r.latency.attribution.front();
  slow.value = "web\xEF\xBF\xBD" + repair_mark(slow.value);
  r.latency.attribution.push_back(slow);
  const std::string text = vigil::to_prometheus(r);
  INFO(text.substr(text.find("vigil_prometheus_refused_series") == std::string::npos ? 0 : text.find("vigil_prometheus_refused_series")));
  const auto samples = check_exposition(text);  // no duplicate series
  // The first of each pair is kept: the cohort, the feature in the overall scope and in each
  // of the 128 cohorts kept, the class, the attribution.
  CHECK(find(samples, "vigil_cohort_status").size() == 128);
  CHECK(find(samples, "vigil_feature_psi").size() == 2 * 129);
  CHECK(find(samples, "vigil_output_class_ratio").size() == 2);
  CHECK(find(samples, "vigil_latency_attribution_requests").size() == 128);
  const auto refused = find(samples, "vigil_prometheus_refused_series");
  REQUIRE(refused.size() == 1);
  CHECK(refused[0]->value == "4");
}

TEST_CASE("to_prometheus: a monitor's cohorts whose tag values differ only in invalid UTF-8", "[export]") {
  vigil::Schema schema;
  const auto x = schema.add_numeric("x");
  vigil::TagOptions cohort;
  cohort.cohort = true;
  cohort.max_values = 16;
  const auto host = schema.add_tag("host", cohort);
  vigil::Profile profile(schema);
  vigil::Observation o(schema);
  for (int i = 0; i < 200; ++i) {
    o.clear();
    o.set(x, i % 7);
    profile.add(o);
  }
  vigil::MonitorOptions options;
  options.shards = 1;
  vigil::Monitor monitor(schema, profile, options);
  for (int i = 0; i < 160; ++i) {
    o.clear();
    o.set(x, i % 7).tag(host, std::string("h") + static_cast<char>(0xF0 + i % 16));
    o.at(1793606400 + i * 0.25).latency(0.01 * (1 + i % 5));
    monitor.observe(o);
  }
  const vigil::Report r = monitor.finish();
  REQUIRE(r.cohorts.size() == 16);
  const auto samples = check_exposition(vigil::to_prometheus(r));
  CHECK(find(samples, "vigil_cohort_horizon_requests").size() == 16);
  CHECK(find(samples, "vigil_feature_horizon_values").size() == 17);
}

namespace {

/// The buckets of the histogram family `name` in `samples`, (le, count) in order, after the
/// checks Prometheus' histogram_quantile relies on: every bucket has an `le`, the edges
/// ascend and end in +Inf, the counts are cumulative, the +Inf bucket equals `_count`, and
/// `_sum` is there.
std::vector<std::pair<double, std::uint64_t>> histogram_buckets(const std::vector<Sample>& samples,
                                                               const std::string& name) {
  std::vector<std::pair<double, std::uint64_t>> buckets;
  for (const Sample* s : find(samples, name + "_bucket")) {
    const auto le = std::find_if(s->labels.begin(), s->labels.end(), [](const auto& l) { return l.first == "le"; });
    REQUIRE(le != s->labels.end());
    const double edge = le->second == "+Inf" ? std::numeric_limits<double>::infinity() : std::stod(le->second);
    const std::uint64_t count = std::stoull(s->value);
    if (!buckets.empty()) {
      CHECK(edge > buckets.back().first);
      CHECK(count >= buckets.back().second);
    }
    buckets.emplace_back(edge, count);
  }
  REQUIRE_FALSE(buckets.empty());
  CHECK(std::isinf(buckets.back().first));
  const auto count = find(samples, name + "_count");
  REQUIRE(count.size() == 1);
  CHECK(std::stoull(count[0]->value) == buckets.back().second);
  CHECK(find(samples, name + "_sum").size() == 1);
  return buckets;
}

std::vector<std::pair<double, std::uint64_t>> exported_buckets(const vigil::LogHistogram& h,
                                                              const vigil::PrometheusHistogramOptions& options = {}) {
  std::string text;
  vigil::append_prometheus_histogram(text, h, options);
  return histogram_buckets(check_exposition(text), options.name);
}

/// Latencies in seconds: 0.1 ms steps up to 40 ms, exact powers of two (which lie on the
/// edges), a zero, one below the lowest edge and one above the highest.
std::vector<double> some_latencies() {
  std::vector<double> values;
  for (int i = 0; i < 1000; ++i) values.push_back((1 + (i * 37) % 400) * 1e-4);
  for (int e = -12; e <= 6; ++e) values.push_back(std::ldexp(1.0, e));
  values.push_back(0);
  values.push_back(1e-5);
  values.push_back(100);
  return values;
}

}  // namespace

TEST_CASE("append_prometheus_histogram: empty histogram", "[export]") {
  std::string text;
  vigil::append_prometheus_histogram(text, vigil::LogHistogram(4));
  CHECK(text.find("# HELP vigil_request_latency_seconds Latency of the requests served since the process started, in "
                  "seconds.\n# TYPE vigil_request_latency_seconds histogram\n") == 0);
  const auto samples = check_exposition(text);
  const auto buckets = histogram_buckets(samples, "vigil_request_latency_seconds");
  // Schema 2 from 2^-12 to 2^6 s: 18 octaves of 4 buckets, their 73 edges, and +Inf.
  REQUIRE(buckets.size() == 74);
  CHECK(buckets.front().first == std::ldexp(1.0, -12));
  CHECK(buckets[72].first == 64);
  for (const auto& b : buckets) CHECK(b.second == 0);
  CHECK(find(samples, "vigil_request_latency_seconds_sum")[0]->value == "0");
  CHECK(text.find("\nvigil_request_latency_seconds_bucket{le=\"1.189207115002721\"} 0\n") != std::string::npos);
  CHECK(text.find("\nvigil_request_latency_seconds_bucket{le=\"+Inf\"} 0\n") != std::string::npos);
}

TEST_CASE("append_prometheus_histogram: the edges are native-histogram boundaries", "[export]") {
  for (int schema = -4; schema <= 8; ++schema) {
    INFO("schema " << schema);
    vigil::PrometheusHistogramOptions options;
    options.schema = schema;
    options.lowest = 0.003;
    options.highest = 20;
    const auto buckets = exported_buckets(vigil::LogHistogram(8), options);
    REQUIRE(buckets.size() >= 3);
    const long double per_octave = std::ldexp(1.0L, schema);
    long double previous = 0;
    for (std::size_t i = 0; i + 1 < buckets.size(); ++i) {
      // le = 2^(k / 2^schema) for an integer k, the next edge's k one more.
      const long double k = std::round(std::log2(static_cast<long double>(buckets[i].first)) * per_octave);
      const double boundary = static_cast<double>(std::pow(2.0L, k / per_octave));
      CHECK(buckets[i].first == boundary);
      if (i > 0) CHECK(k == previous + 1);
      previous = k;
    }
    // Rounded out: the first edge at or below lowest, the last at or above highest.
    CHECK(buckets[0].first <= options.lowest);
    CHECK(buckets[1].first > options.lowest);
    CHECK(buckets[buckets.size() - 2].first >= options.highest);
    CHECK(buckets[buckets.size() - 3].first < options.highest);
  }
  // Edges that are boundaries already are kept: 2^-12 and 2^6 at every schema.
  for (int schema : {-1, 0, 3, 6}) {
    vigil::PrometheusHistogramOptions options;
    options.schema = schema;
    const auto buckets = exported_buckets(vigil::LogHistogram(8), options);
    CHECK(buckets.front().first == std::ldexp(1.0, -12));
    CHECK(buckets[buckets.size() - 2].first == 64);
    CHECK(buckets.size() == 2 + static_cast<std::size_t>(std::ldexp(18.0, schema) + 0.5));
  }
}

TEST_CASE("append_prometheus_histogram: each bucket counts the values at most its edge", "[export]") {
  const std::vector<double> values = some_latencies();
  const double sum = std::accumulate(values.begin(), values.end(), 0.0);
  for (int schema : {-4, 0, 2, 5, 8}) {
    for (int scale : {schema, 8}) {
      INFO("schema " << schema << ", histogram scale " << scale);
      vigil::LogHistogramOptions o;
      o.scale = scale;
      o.max_buckets = 1 << 16;  // no downscaling
      vigil::LogHistogram h(o);
      for (double v : values) h.record(v);
      REQUIRE(h.scale() == scale);
      vigil::PrometheusHistogramOptions options;
      options.schema = schema;
      options.lowest = std::ldexp(1.0, -10);  // 3,329 edges at schema 8
      options.highest = 8;
      std::string text;
      vigil::append_prometheus_histogram(text, h, options);
      const auto samples = check_exposition(text);
      const auto buckets = histogram_buckets(samples, options.name);
      for (const auto& bucket : buckets) {
        const double le = bucket.first;  // a named variable: C++17 lambdas cannot capture bindings
        INFO("le " << le);
        const auto at_most = std::count_if(values.begin(), values.end(), [&](double v) { return v <= le; });
        CHECK(bucket.second == static_cast<std::uint64_t>(at_most));
      }
      CHECK(buckets.back().second == values.size());
      CHECK(std::stod(find(samples, options.name + "_sum")[0]->value) == Approx(sum).epsilon(1e-12));
    }
  }
}

TEST_CASE("append_prometheus_histogram: a coarser histogram counts up to its boundary below", "[export]") {
  vigil::LogHistogram h(0);  // boundaries at powers of two
  h.record(1.1);             // in (1, 2]
  vigil::PrometheusHistogramOptions options;
  options.lowest = 0.5;
  options.highest = 4;
  const auto buckets = exported_buckets(h, options);
  // Edges 2^(k/4): 1 and 2 are the histogram's own boundaries, 2^0.25 ≥ 1.1 is not.
  for (const auto& [le, count] : buckets) {
    INFO("le " << le);
    CHECK(count == (le >= 2 ? 1u : 0u));
  }
}

TEST_CASE("append_prometheus_histogram: replicas' buckets add up to those of the merged histogram", "[export]") {
  // Three replicas with different traffic, one with a slow tail: their expositions have the
  // same edges, and adding their buckets edge by edge (PromQL's sum by (le)) gives the
  // buckets of the merged histogram.
  std::vector<vigil::LogHistogram> replicas(3, vigil::LogHistogram(4));
  vigil::LogHistogram merged(4);
  const std::vector<double> values = some_latencies();
  for (std::size_t i = 0; i < values.size(); ++i) {
    const double v = i % 3 == 2 && i % 10 == 0 ? 10 * values[i] : values[i] * (1 + 0.5 * static_cast<double>(i % 3));
    replicas[i % 3].record(v);
    merged.record(v);
  }
  const auto whole = exported_buckets(merged);
  std::vector<std::uint64_t> added(whole.size(), 0);
  for (const auto& replica : replicas) {
    const auto buckets = exported_buckets(replica);
    REQUIRE(buckets.size() == whole.size());
    for (std::size_t i = 0; i < buckets.size(); ++i) {
      CHECK(buckets[i].first == whole[i].first);
      added[i] += buckets[i].second;
    }
  }
  for (std::size_t i = 0; i < whole.size(); ++i) CHECK(added[i] == whole[i].second);
  CHECK(whole.back().second == values.size());
}

TEST_CASE("append_prometheus_histogram: a concurrent histogram, labels, zero bucket", "[export]") {
  vigil::LogHistogramOptions o;
  o.scale = 4;
  o.zero_threshold = 0.001;
  vigil::ConcurrentLogHistogram concurrent(o);
  vigil::LogHistogram plain(o);
  for (double v : {0.0, 0.0005, 0.002, 0.0125, 0.5}) {
    concurrent.record(v);
    plain.record(v);
  }
  vigil::PrometheusHistogramOptions options;
  options.name = "model_latency_seconds";
  options.help = "Latency \\ of the model\nin seconds.";
  options.labels = {{"model", "fraud \"v2\""}, {"host", "a\\b"}};
  options.lowest = 0.0005;
  options.highest = 1;
  std::string text;
  vigil::append_prometheus_histogram(text, concurrent, options);
  std::string from_plain;
  vigil::append_prometheus_histogram(from_plain, plain, options);
  CHECK(text == from_plain);
  CHECK(text.find("# HELP model_latency_seconds Latency \\\\ of the model\\nin seconds.\n") == 0);
  CHECK(text.find("\nmodel_latency_seconds_bucket{model=\"fraud \\\"v2\\\"\",host=\"a\\\\b\",le=\"1\"} 5\n") !=
        std::string::npos);
  CHECK(text.find("\nmodel_latency_seconds_count{model=\"fraud \\\"v2\\\"\",host=\"a\\\\b\"} 5\n") != std::string::npos);
  CHECK(text.find("\nmodel_latency_seconds_sum{model=\"fraud \\\"v2\\\"\",host=\"a\\\\b\"} 0.515") != std::string::npos);
  const auto buckets = histogram_buckets(check_exposition(text), options.name);
  // The zero bucket [0, 0.001] counts from the first edge at or above 0.001 on.
  for (const auto& [le, count] : buckets) {
    INFO("le " << le);
    const std::uint64_t expected = (le >= 0.001 ? 2 : 0) + (le >= 0.002 ? 1 : 0) + (le >= 0.0125 ? 1 : 0) + (le >= 0.5 ? 1 : 0);
    CHECK(count == expected);
  }
}

TEST_CASE("append_prometheus_histogram: options out of range", "[export]") {
  const vigil::LogHistogram h(4);
  const auto message = [&](auto change) {
    vigil::PrometheusHistogramOptions options;
    change(options);
    std::string text;
    return vigil_test::thrown_message([&] { vigil::append_prometheus_histogram(text, h, options); });
  };
  using O = vigil::PrometheusHistogramOptions;
  CHECK(message([](O& o) { o.schema = 9; }) == "append_prometheus_histogram: schema 9 is outside [-4, 8]");
  CHECK(message([](O& o) { o.schema = -5; }) == "append_prometheus_histogram: schema -5 is outside [-4, 8]");
  CHECK(message([](O& o) { o.lowest = 0; }).find("need 0 < lowest <= highest") != std::string::npos);
  CHECK(message([](O& o) { o.lowest = 100; }).find("edges from 100 to 64") != std::string::npos);
  CHECK(message([](O& o) { o.highest = std::numeric_limits<double>::infinity(); }).find("finite") != std::string::npos);
  CHECK(message([](O& o) { o.lowest = std::nan(""); }).find("need 0 < lowest") != std::string::npos);
  CHECK(message([](O& o) { o.lowest = 1e-300; o.schema = 8; }).find(": at most 4096") != std::string::npos);
  CHECK(message([](O& o) { o.name = "9lives"; }) == "append_prometheus_histogram: '9lives' is not a metric name");
  CHECK(message([](O& o) { o.labels = {{"le", "1"}}; }).find("'le' is not a label name") != std::string::npos);
  CHECK(message([](O& o) { o.labels = {{"__name__", "x"}}; }).find("'__name__'") != std::string::npos);
  CHECK(message([](O& o) { o.labels = {{"a-b", "x"}}; }).find("'a-b'") != std::string::npos);
  CHECK(message([](O& o) { o.schema = 8; o.lowest = 0.001; o.highest = 10; }) == "(nothing thrown)");
}

TEST_CASE("append_prometheus_histogram: whole exposition byte for byte", "[export]") {
  vigil::LogHistogram h(4);
  for (double v : some_latencies()) h.record(v);
  std::string text;
  vigil::append_prometheus_histogram(text, h);
  vigil::PrometheusHistogramOptions coarse;
  coarse.name = "vigil_request_latency_coarse_seconds";
  coarse.labels = {{"model", "fraud"}};
  coarse.schema = 0;
  coarse.lowest = 0.001;
  coarse.highest = 10;
  vigil::append_prometheus_histogram(text, h, coarse);
  check_exposition(text);
  vigil_test::check_golden("latency_histogram.prom.golden", text);
}

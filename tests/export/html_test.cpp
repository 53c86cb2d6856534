#include "vigil/export/html.hpp"

#include <cstdlib>
#include <fstream>
#include <limits>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "export/golden.hpp"
#include "export/report_fixture.hpp"
#include "vigil/export/json.hpp"
#include "vigil/export/prometheus.hpp"
#include "vigil_test.hpp"

namespace {

/// Checks that elements nest properly: every opened non-void element is closed in order,
/// self-closing SVG elements aside. Returns the number of each element seen.
std::map<std::string, int> check_nesting(const std::string& html) {
  static const std::set<std::string> void_elements{"meta", "br", "hr", "img", "input", "link", "col", "wbr"};
  std::map<std::string, int> seen;
  std::vector<std::string> open;
  std::size_t i = 0;
  while ((i = html.find('<', i)) != std::string::npos) {
    if (html.compare(i, 9, "<!DOCTYPE") == 0) {
      i = html.find('>', i);
      continue;
    }
    const std::size_t end = html.find('>', i);
    REQUIRE(end != std::string::npos);
    std::string tag = html.substr(i + 1, end - i - 1);
    INFO("tag <" << tag << "> at " << i);
    const bool closing = !tag.empty() && tag[0] == '/';
    const bool self_closing = !tag.empty() && tag.back() == '/';
    std::string name = tag.substr(closing ? 1 : 0);
    name = name.substr(0, name.find_first_of(" /"));
    REQUIRE_FALSE(name.empty());
    for (char c : name) REQUIRE(((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')));
    if (closing) {
      REQUIRE_FALSE(open.empty());
      REQUIRE(open.back() == name);
      open.pop_back();
    } else {
      ++seen[name];
      if (!self_closing && void_elements.count(name) == 0) open.push_back(name);
      if (name == "style") {  // CSS is not markup
        i = html.find("</style>", end);
        REQUIRE(i != std::string::npos);
        continue;
      }
    }
    i = end + 1;
  }
  CHECK(open.empty());
  return seen;
}

std::size_t count(const std::string& s, const std::string& what) {
  std::size_t n = 0;
  for (std::size_t i = s.find(what); i != std::string::npos; i = s.find(what, i + 1)) ++n;
  return n;
}

/// Every body row of every table has as many cells as the table has header cells.
void check_tables(const std::string& html) {
  for (std::size_t t = html.find("<table>"); t != std::string::npos; t = html.find("<table>", t + 1)) {
    const std::size_t end = html.find("</table>", t);
    const std::string table = html.substr(t, end - t);
    const std::string head = table.substr(0, table.find("</thead>"));
    const std::size_t columns = count(head, "<th>") + count(head, "<th ");
    const std::string body = table.substr(table.find("<tbody>"));
    for (std::size_t r = body.find("<tr>"); r != std::string::npos; r = body.find("<tr>", r + 1)) {
      const std::string row = body.substr(r, body.find("</tr>", r) - r);
      INFO(row);
      CHECK(count(row, "<td") == columns);
    }
  }
}

std::string escaped(const std::string& s) {
  std::string out;
  vigil::detail::append_html_escaped(out, s);
  return out;
}

/// Writes the outputs for a person to look at (and for docs/report.md) when
/// VIGIL_EXPORT_SAMPLES names a directory.
void write_sample(const std::string& name, const std::string& content) {
  const char* dir = std::getenv("VIGIL_EXPORT_SAMPLES");
  if (dir == nullptr) return;
  std::ofstream(std::string(dir) + "/" + name, std::ios::binary) << content;
}

}  // namespace

TEST_CASE("ReportHistory: aligned series, NaN for absent subjects, bounded points", "[export]") {
  vigil::ReportHistory history(4);
  CHECK(history.empty());
  CHECK(history.series("no such figure").empty());
  vigil::Report r;
  r.time = 60;
  r.recent_requests = 10;
  r.features.resize(1);
  r.features[0].name = "a";
  r.features[0].shift_psi = 0.5;
  history.add(r);
  r.time = 120;
  r.features.resize(2);
  r.features[1].name = "b";
  r.features[1].shift_psi = 0.25;
  r.status = vigil::Status::alert;
  history.add(r);
  REQUIRE(history.size() == 2);
  const auto& shift = history.series(vigil::ReportHistory::feature_shift_psi);
  REQUIRE(shift.size() == 2);
  CHECK(shift.at("a") == std::vector<double>{0.5, 0.5});
  CHECK(std::isnan(shift.at("b")[0]));
  CHECK(shift.at("b")[1] == 0.25);
  CHECK(history.series(vigil::ReportHistory::status).at("") == std::vector<double>{0, 2});

  r.features.resize(1);  // "b" absent
  r.status = vigil::Status::ok;
  for (int k = 3; k <= 5; ++k) {
    r.time = 60.0 * k;
    r.recent_requests = static_cast<std::uint64_t>(10 * k);
    history.add(r);
  }
  // The fifth report found the history full: pairs (60,120), (180,240) merged, then 300 added.
  CHECK(history.times() == std::vector<double>{120, 240, 300});
  CHECK(history.series(vigil::ReportHistory::status).at("") == std::vector<double>{2, 0, 0});  // peaks kept
  CHECK(history.series(vigil::ReportHistory::recent_requests).at("") == std::vector<double>{10, 35, 50});  // means
  const auto& b = history.series(vigil::ReportHistory::feature_shift_psi).at("b");
  REQUIRE(b.size() == 3);
  CHECK(b[0] == 0.25);
  CHECK(std::isnan(b[1]));
  for (int k = 6; k < 1000; ++k) {
    r.time = 60.0 * k;
    history.add(r);
    REQUIRE(history.size() <= 4);
  }
  CHECK(history.times().back() == 60.0 * 999);
}

TEST_CASE("to_html: numbers for people", "[export]") {
  using vigil::detail::html_number;
  using vigil::detail::html_percent;
  CHECK(html_number(29812.3) == "29812");
  CHECK(html_number(471.2) == "471");
  CHECK(html_number(1.4249) == "1.42");
  CHECK(html_number(1.0) == "1");
  CHECK(html_number(-0.02123) == "-0.0212");
  CHECK(html_number(1.5e-5) == "1.5e-05");
  CHECK(html_number(2.5e9) == "2.5e+09");
  CHECK(html_number(0) == "0");
  CHECK(html_number(std::numeric_limits<double>::quiet_NaN()) == "\xE2\x80\x93");
  CHECK(html_percent(0.4) == "40.0%");
  CHECK(html_percent(0.00012) == "0.012%");
  CHECK(html_percent(0) == "0%");
}

TEST_CASE("to_html: empty report", "[export]") {
  const std::string html = vigil::to_html(vigil::Report{}, {});
  CHECK(html.rfind("<!DOCTYPE html>\n<html lang=\"en\">", 0) == 0);
  CHECK(html.size() > 1000);
  CHECK(html.substr(html.size() - 8) == "</html>\n");
  const auto seen = check_nesting(html);
  CHECK(seen.count("svg") == 0);
  CHECK(html.find("No alert is open.") != std::string::npos);
  CHECK(html.find("No feature in this report.") != std::string::npos);
  CHECK(html.find("<section id=\"traffic\">") != std::string::npos);
  CHECK(html.find("<section id=\"latency\">") != std::string::npos);
  CHECK(html.find("No latency was recorded.") != std::string::npos);
  check_tables(html);
}

TEST_CASE("to_html: every text is escaped", "[export]") {
  const vigil::Report r = vigil_test::awkward_report();
  std::vector<vigil::Alert> alerts = r.open_alerts;
  alerts[0].subject.name = "<script>alert(\"x\")</script>";
  vigil::HtmlOptions options;
  options.title = "Fraud & <friends>";
  const std::string html = vigil::to_html(r, alerts, nullptr, options);
  check_nesting(html);
  check_tables(html);
  CHECK(html.find("<script") == std::string::npos);
  CHECK(html.find("&lt;script&gt;alert(1)&lt;/script&gt;") != std::string::npos);
  CHECK(html.find("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;") != std::string::npos);
  CHECK(html.find("<title>Fraud &amp; &lt;friends&gt; \xE2\x80\x94 warn</title>") != std::string::npos);
  CHECK(html.find("Line one\nline &quot;two&quot; &lt;b&gt;bold&lt;/b&gt;") != std::string::npos);
  CHECK(html.find("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80 bad\xEF\xBF\xBD") != std::string::npos);
  CHECK(html.find('\x01') == std::string::npos);
  CHECK(html.find('\xFF') == std::string::npos);
  CHECK(html.find("&ldquo;new &quot;one&quot;&rdquo; 7") != std::string::npos);
  CHECK(html.find("web-1&quot;") != std::string::npos);
  CHECK(html.find("a&quot;b: 25.0% / 50.0%") != std::string::npos);
  CHECK(html.find("<td class=\"lv-warn\">0.1</td>") != std::string::npos);  // PSI at the warn threshold
  // The attribution of a report without latency counts is still shown, its value escaped.
  CHECK(html.find("<td class=\"l\">web-1&quot;\n\xEF\xBF\xBD</td>") != std::string::npos);
}

TEST_CASE("to_html: durations for people", "[export]") {
  using vigil::detail::html_duration;
  CHECK(html_duration(0.0125) == "12.5 ms");
  CHECK(html_duration(0.375) == "375 ms");
  CHECK(html_duration(4.5e-5) == "45 \xC2\xB5s");
  CHECK(html_duration(1.5) == "1.5 s");
  CHECK(html_duration(0) == "0 s");
  CHECK(html_duration(900) == "15 min");
  CHECK(html_duration(10800) == "3 h");
  CHECK(html_duration(std::numeric_limits<double>::quiet_NaN()) == "\xE2\x80\x93");
  CHECK(vigil::detail::html_factor(2.4375) == "2.44&times;");
}

TEST_CASE("to_html: traffic, latency and slow-request attribution", "[export]") {
  const vigil::Report r = vigil_test::operations_report();
  const std::string html = vigil::to_html(r, {});
  write_sample("operations.html", html);
  write_sample("operations.json", vigil::to_json(r, {2}));
  write_sample("operations.txt", vigil::to_prometheus(r));
  INFO(html);
  const auto seen = check_nesting(html);
  check_tables(html);
  CHECK(seen.at("section") >= 7);
  CHECK(html.find("<a href=\"#traffic\">Traffic</a><a href=\"#latency\">Latency</a>") != std::string::npos);
  // The tag value never appears raw.
  CHECK(html.find("h\"3<") == std::string::npos);

  // Traffic, in the order of the section.
  const std::size_t traffic = html.find("<section id=\"traffic\">\n<h2>Traffic <span class=\"badge st-warn\">warn</span></h2>");
  REQUIRE(traffic != std::string::npos);
  const std::string section = html.substr(traffic, html.find("</section>", traffic) - traffic);
  CHECK(section.find("<tr><td class=\"l\">Arrivals</td><td>1180</td><td>1426</td><td>0.0061</td>"
                     "<td class=\"l\">z -2.75 &middot; rate model seasonal on 1440 intervals &middot; counted from "
                     "arrivals</td></tr>") != std::string::npos);
  CHECK(section.find("<tr><td class=\"l\">Silence</td><td>4.5 s</td><td>0.875 arrivals</td><td>0.42</td>"
                     "<td class=\"l\">since the latest arrival at 2026-11-02 07:59:55Z</td></tr>") != std::string::npos);
  CHECK(section.find("<tr><td class=\"l\">In flight</td><td>16</td>") != std::string::npos);
  CHECK(section.find("<tr><td class=\"l\">Completions per arrival</td><td>98.6%</td><td>99.8%</td>") !=
        std::string::npos);
  CHECK(section.find("<td class=\"l\">1164 completions</td>") != std::string::npos);
  CHECK(section.find("<tr><td class=\"l\">Errors</td><td>1.5%</td><td>0.2%</td><td>3.5e-07</td>") !=
        std::string::npos);
  CHECK(section.find("<tr><td class=\"l\">Timeouts</td><td>0.4%</td><td>\xE2\x80\x93</td><td>\xE2\x80\x93</td>") !=
        std::string::npos);

  // Latency: a row for all requests and one per cohort, in readable units.
  const std::size_t latency = html.find("<section id=\"latency\">\n<h2>Latency <span class=\"badge st-alert\">alert</span></h2>");
  REQUIRE(latency != std::string::npos);
  CHECK(latency > traffic);
  const std::string lat = html.substr(latency, html.find("</section>", latency) - latency);
  CHECK(lat.find("<tr><td class=\"l\">all requests</td><td><span class=\"badge st-alert\">alert</span></td>"
                 "<td>1000</td><td>48000</td><td>12.5 ms / 11.8 ms</td><td>375 ms / 125 ms</td><td>3&times;</td>"
                 "<td>1.5 s / \xE2\x80\x93</td><td>\xE2\x80\x93</td><td>85.5<br><span class=\"muted\">p 2.5e-15</span></td>"
                 "<td>250 ms</td><td>64<br><span class=\"muted\">6.4%</span></td></tr>") != std::string::npos);
  CHECK(lat.find("<tr><td class=\"l\">host=h&quot;3&lt;</td>") != std::string::npos);
  CHECK(lat.find("<td>875 ms / 100 ms</td><td>8.75&times;</td><td>2.25 s / 300 ms</td><td>7.5&times;</td>") !=
        std::string::npos);
  CHECK(lat.find("<tr><td class=\"l\">model=v1</td><td><span class=\"badge st-ok\">ok</span></td><td>0</td><td>0</td>") !=
        std::string::npos);
  // Attribution: the figures and the sentence a person reads.
  CHECK(lat.find("<tr><td class=\"l\">host</td><td class=\"l\">h&quot;3&lt;</td><td>250</td><td>39</td>"
                 "<td>60.9%</td><td>25.0%</td><td>2.44&times;</td><td>1.5e-09</td>") != std::string::npos);
  CHECK(lat.find("<b>host=h&quot;3&lt;</b> carries 60.9% of slow requests vs 25.0% of all requests") !=
        std::string::npos);
  CHECK(lat.find("<b>model=v2</b> carries 31.2% of slow requests vs 50.0% of all requests") != std::string::npos);
  CHECK(lat.find("<td>0.625&times;</td><td>\xE2\x80\x93</td>") != std::string::npos);

  CHECK(html.find("<tr><td class=\"l\">bad_arrival_time</td><td>5</td>") != std::string::npos);
  CHECK(html.find("<tr><td class=\"l\">truncated_values</td><td>7</td>") != std::string::npos);

  SECTION("without reported arrivals nothing is said to be in flight") {
    vigil::Report completions = r;
    completions.traffic.arrivals_source = "completions";
    completions.traffic.in_flight = 0;
    const std::string page = vigil::to_html(completions, {});
    check_tables(page);
    CHECK(page.find("<tr><td class=\"l\">In flight</td><td>\xE2\x80\x93</td>") != std::string::npos);
    CHECK(page.find("counted from completions") != std::string::npos);
  }
}

TEST_CASE("to_html: a real monitor's report with history", "[export]") {
  const auto& run = vigil_test::shared_run();
  vigil::ReportHistory history;
  for (const vigil::Report& r : run.reports) history.add(r);
  REQUIRE(history.size() == run.reports.size());
  const std::string html = vigil::to_html(run.report, run.alerts, &history);
  write_sample("report.html", html);
  write_sample("report.json", vigil::to_json(run.report, {2}));
  write_sample("metrics.txt", vigil::to_prometheus(run.report));
  std::string jsonl;
  for (const vigil::Alert& a : run.alerts) jsonl += vigil::to_json(a) + "\n";
  write_sample("alerts.jsonl", jsonl);

  const auto seen = check_nesting(html);
  check_tables(html);
  CHECK(seen.at("svg") >= 5);
  CHECK(seen.at("section") >= 6);
  // Self-contained: no script, no external resource.
  CHECK(html.find("<script") == std::string::npos);
  CHECK(html.find("http:") == std::string::npos);
  CHECK(html.find("https:") == std::string::npos);
  CHECK(html.find("<link") == std::string::npos);
  CHECK(html.find("url(") == std::string::npos);
  CHECK(html.find("<header class=\"st-" + std::string(vigil::to_string(run.report.status)) + "\">") !=
        std::string::npos);
  CHECK(html.find("2026-11-02 08:40:00Z") != std::string::npos);
  for (const vigil::FeatureReport& f : run.report.features)
    CHECK(html.find("<td class=\"l\">" + escaped(f.name) + "</td>") != std::string::npos);
  CHECK(html.find("<td class=\"l\">fraud_score</td>") != std::string::npos);
  REQUIRE_FALSE(run.alerts.empty());
  for (const vigil::Alert& a : run.alerts) {
    CHECK(html.find(escaped(vigil::to_string(a.subject))) != std::string::npos);
    CHECK(html.find(escaped(a.message)) != std::string::npos);
  }
  CHECK(html.find("Feature shift PSI") != std::string::npos);
  CHECK(html.find("id=\"cohorts\"") != std::string::npos);
  CHECK(html.find("id=\"traffic\"") != std::string::npos);
  CHECK(html.find("id=\"latency\"") != std::string::npos);

  SECTION("without history there are no charts; max_alerts limits the table") {
    vigil::HtmlOptions options;
    options.max_alerts = 1;
    const std::string page = vigil::to_html(run.report, run.alerts, nullptr, options);
    check_nesting(page);
    CHECK(page.find("<svg") == std::string::npos);
    if (run.alerts.size() > 1)
      CHECK(page.find("The " + std::to_string(run.alerts.size() - 1) + " earliest alerts are not shown.") !=
            std::string::npos);
    CHECK(page.find(escaped(run.alerts.back().message)) != std::string::npos);
  }
}

TEST_CASE("to_html: whole pages byte for byte", "[export]") {
  using vigil_test::without_version;
  vigil_test::check_golden("empty_report.html.golden", without_version(vigil::to_html(vigil::Report{}, {})));
  const vigil::Report awkward = vigil_test::awkward_report();
  vigil_test::check_golden("awkward_report.html.golden", without_version(vigil::to_html(awkward, awkward.open_alerts)));
  vigil_test::check_golden("operations_report.html.golden",
                           without_version(vigil::to_html(vigil_test::operations_report(), {})));
  // Charts over a history, cohorts, several outputs, an alert log.
  const vigil::Report r = vigil_test::cohorts_report();
  std::vector<vigil::Alert> alerts = r.alert_log;
  alerts.insert(alerts.end(), r.open_alerts.begin(), r.open_alerts.end());
  vigil::ReportHistory history;
  for (const vigil::Report& report : vigil_test::cohorts_reports()) history.add(report);
  const std::string html = vigil::to_html(r, alerts, &history);
  CHECK(html.find("<tr><td class=\"l\">future</td><td>4</td>") != std::string::npos);
  CHECK(html.find("<tr><td class=\"l\">clock_changes</td><td>1</td>") != std::string::npos);
  check_nesting(html);
  check_tables(html);
  vigil_test::check_golden("cohorts_report.html.golden", without_version(html));

  SECTION("the options cut the alert log and the chart lines and move the shading") {
    vigil::HtmlOptions options;
    options.title = "Fraud & co";
    options.max_alerts = 1;
    options.max_chart_lines = 1;
    options.policy.psi_warn = 0.05;
    options.policy.psi_alert = 0.3;
    const std::string page = vigil::to_html(r, alerts, &history, options);
    check_nesting(page);
    check_tables(page);
    CHECK(page.find("<title>Fraud &amp; co \xE2\x80\x94 alert</title>") != std::string::npos);
    CHECK(page.find("<p class=\"note\">The 3 earliest alerts are not shown.</p>") != std::string::npos);
    CHECK(page.find("<figcaption>Feature shift PSI (recent vs background) (largest 1 of 3)</figcaption>") !=
          std::string::npos);
    CHECK(page.find("<figcaption>Output median score (recent) (largest 1 of 2)</figcaption>") != std::string::npos);
    CHECK(page.find("<figcaption>Model status (0 ok, 1 warn, 2 alert, -1 insufficient data)</figcaption>") != std::string::npos);
    CHECK(count(page, "<li><i style=") == 5);  // one legend entry per chart of subjects
    CHECK(page.find("<td class=\"lv-alert\">0.312</td>") != std::string::npos);  // PSI of age, now alert
    CHECK(page.find("<td class=\"lv-warn\">0.0625</td>") != std::string::npos);  // PSI of region, now warn
  }
  SECTION("one report is no history: no chart") {
    vigil::ReportHistory one;
    one.add(r);
    const std::string page = vigil::to_html(r, alerts, &one);
    CHECK(page.find("<svg") == std::string::npos);
    CHECK(page.find("id=\"history\"") == std::string::npos);
    CHECK(without_version(page) == without_version(vigil::to_html(r, alerts)));
  }
}

namespace {

/// The quality section of a page, or "" when it has none.
std::string quality_section(const std::string& html) {
  const std::size_t at = html.find("<section id=\"quality\">");
  if (at == std::string::npos) return "";
  return html.substr(at, html.find("</section>", at) - at);
}

}  // namespace

TEST_CASE("to_html: quality, realised and estimated, labels per interval, what became of the labels",
          "[export][quality]") {
  const vigil::Report r = vigil_test::operations_report();
  const std::string html = vigil::to_html(r, {});
  check_nesting(html);
  check_tables(html);
  CHECK(html.find("<a href=\"#outputs\">Outputs</a><a href=\"#quality\">Quality</a><a href=\"#traffic\">") !=
        std::string::npos);
  CHECK(html.find("<section id=\"outputs\">") < html.find("<section id=\"quality\">"));
  CHECK(html.find("<section id=\"quality\">") < html.find("<section id=\"traffic\">"));
  const std::string q = quality_section(html);
  REQUIRE_FALSE(q.empty());
  CHECK(q.rfind("<section id=\"quality\">\n<h2>Quality of fraud_score <span class=\"badge st-alert\">alert</span></h2>",
                0) == 0);
  CHECK(q.find("<p>Requests of 2026-11-01 09:00:00Z &ndash; 2026-11-02 08:00:00Z: 5210 labelled so far.</p>") !=
        std::string::npos);
  // Realised: the difference shaded as the metric's status, a NaN p-value as a dash.
  CHECK(q.find("<th>Difference</th><th>p-value</th><th>Labelled</th>") != std::string::npos);
  CHECK(q.find("<tr><td class=\"l\">accuracy</td><td><span class=\"badge st-alert\">alert</span></td><td>0.861</td>"
               "<td>0.934</td><td class=\"lv-alert\">-0.073</td><td>2.5e-41</td><td>5210</td></tr>") !=
        std::string::npos);
  CHECK(q.find("<tr><td class=\"l\">recall</td><td><span class=\"badge st-ok\">ok</span></td><td>0.61</td>"
               "<td>0.6</td><td>+0.01</td><td>0.62</td><td>540</td></tr>") != std::string::npos);
  CHECK(q.find("<tr><td class=\"l\">log_loss</td><td><span class=\"badge st-warn\">warn</span></td><td>0.31</td>"
               "<td>0.24</td><td class=\"lv-warn\">+0.07</td><td>1.2e-06</td><td>5210</td></tr>") != std::string::npos);
  CHECK(q.find("<tr><td class=\"l\">calibration_error</td><td><span class=\"badge st-ok\">ok</span></td><td>0.031</td>"
               "<td>0.012</td><td>+0.019</td><td>\xE2\x80\x93</td><td>5210</td></tr>") != std::string::npos);
  // Estimates, counted in scored requests.
  CHECK(q.find("<th>Difference</th><th>p-value</th><th>Scored</th>") != std::string::npos);
  CHECK(q.find("<tr><td class=\"l\">estimated_accuracy</td><td><span class=\"badge st-ok\">ok</span></td><td>0.93</td>"
               "<td>0.935</td><td>-0.005</td><td>0.4</td><td>1164</td></tr>") != std::string::npos);
  CHECK(count(q, "<td class=\"l\">estimated_") == 2);
  // Intervals: start, requests with an id, labelled, coverage = labelled / identified.
  CHECK(q.find("<tr><td class=\"l\">2026-11-02 05:00:00Z</td><td>4100</td><td>3600</td><td class=\"l\">") !=
        std::string::npos);
  CHECK(q.find("width:87.8%;background:#4e79a7\"></span></span>87.8%</td></tr>") != std::string::npos);
  CHECK(q.find("<tr><td class=\"l\">2026-11-02 06:00:00Z</td><td>4000</td><td>1610</td>") != std::string::npos);
  CHECK(q.find("width:40.2%;") != std::string::npos);
  // Label counters: the ones that are not zero, each with its meaning.
  CHECK(q.find("<p>5240 labels received, 5210 joined to their request; 812 requests with an id waiting for a "
               "label.</p>") != std::string::npos);
  CHECK(q.find("<li><b>12</b> unknown ids: labels naming no request held (never seen, or pushed out): dropped</li>") !=
        std::string::npos);
  CHECK(q.find("<li><b>9</b> duplicate labels: a second label for a request: dropped, the first kept</li>") !=
        std::string::npos);
  CHECK(q.find("<li><b>1</b> duplicate ids: ") != std::string::npos);
  CHECK(q.find("<li><b>2</b> late labels: ") != std::string::npos);
  CHECK(q.find("<li><b>4</b> bad labels: ") != std::string::npos);
  CHECK(q.find("<li><b>1</b> bad label times: ") != std::string::npos);
  CHECK(q.find("<li><b>2</b> before request: ") != std::string::npos);
  CHECK(q.find("<li><b>3</b> pushed out: ") != std::string::npos);
  CHECK(q.find("<li><b>41</b> never labelled: ") != std::string::npos);
  CHECK(count(q, "<li>") == 9);  // beyond window and applied early are 0
  CHECK(q.find("beyond window") == std::string::npos);
  // No cohort of this report has quality figures.
  CHECK(q.find("Per cohort") == std::string::npos);

  SECTION("an output without figures yet and without label trouble says so") {
    vigil::Report fresh = r;
    fresh.quality.metrics.clear();
    fresh.quality.estimated.clear();
    fresh.quality.intervals.clear();
    vigil::QualityReport& f = fresh.quality;
    f.unknown_ids = f.duplicate_labels = f.duplicate_ids = f.late_labels = f.bad_labels = f.bad_label_times = 0;
    f.labels_before_request = f.evicted = f.expired = 0;
    const std::string page = vigil::to_html(fresh, {});
    check_nesting(page);
    check_tables(page);
    const std::string s = quality_section(page);
    CHECK(s.find("<p class=\"note\">No realised figure yet.</p>") != std::string::npos);
    CHECK(s.find("<p class=\"note\">No estimate: ") != std::string::npos);
    CHECK(s.find("Labels per quality interval") == std::string::npos);
    CHECK(s.find("<li>") == std::string::npos);
    CHECK(s.find("No label was refused, repeated or lost") != std::string::npos);
  }
}

TEST_CASE("to_html: quality per cohort, only for cohorts with figures", "[export][quality]") {
  vigil::Report r = vigil_test::operations_report();
  REQUIRE(r.cohorts.size() == 2);
  vigil::QualityReport& h3 = r.cohorts[0].quality;
  h3.output = "fraud_score";
  h3.status = vigil::Status::alert;
  h3.labelled = 310;
  h3.metrics = {{"accuracy", vigil::Status::alert, 0.8, 0.934, 1e-5, 310},
                {"roc_auc", vigil::Status::ok, vigil::FeatureReport::nan(), 0.91, vigil::FeatureReport::nan(), 0}};
  h3.estimated = {{"estimated_accuracy", vigil::Status::ok, 0.925, 0.935, vigil::FeatureReport::nan(), 250}};
  vigil::QualityReport& v1 = r.cohorts[1].quality;  // an output, but no figure with data
  v1.output = "fraud_score";
  v1.metrics = {{"accuracy", vigil::Status::ok, vigil::FeatureReport::nan(), 0.934, vigil::FeatureReport::nan(), 0}};
  const std::string html = vigil::to_html(r, {});
  check_nesting(html);
  check_tables(html);
  const std::string q = quality_section(html);
  REQUIRE(q.find("<h3>Per cohort</h3>") != std::string::npos);
  CHECK(q.find("<tr><td class=\"l\">host=h&quot;3&lt;</td><td><span class=\"badge st-alert\">alert</span></td>"
               "<td>310</td><td class=\"l\">accuracy 0.8 / 0.934 <span class=\"muted\">p 1e-05</span> "
               "<span class=\"badge st-alert\">alert</span></td><td class=\"l\">estimated_accuracy 0.925 / 0.935"
               "</td></tr>") != std::string::npos);
  const std::string per_cohort = q.substr(q.find("<h3>Per cohort</h3>"));
  CHECK(per_cohort.find("roc_auc") == std::string::npos);  // no data in the cohort: left out
  CHECK(per_cohort.find("model=v1") == std::string::npos);  // no figure with data at all

  SECTION("cohort figures alone still make the section") {
    r.quality = vigil::QualityReport{};
    const std::string page = vigil::to_html(r, {});
    check_nesting(page);
    check_tables(page);
    const std::string s = quality_section(page);
    CHECK(s.rfind("<section id=\"quality\">\n<h2>Quality <span class=\"badge st-ok\">ok</span></h2>\n<h3>Per cohort</h3>",
                  0) == 0);
    CHECK(s.find("Realised from labels") == std::string::npos);
  }
}

TEST_CASE("to_html: no quality section without a labelled output", "[export][quality]") {
  const std::string empty = vigil::to_html(vigil::Report{}, {});
  CHECK(empty.find("quality") == std::string::npos);
  CHECK(empty.find("Quality") == std::string::npos);
  vigil::Report r = vigil_test::operations_report();
  r.quality = vigil::QualityReport{};
  const std::string html = vigil::to_html(r, {});
  CHECK(html.find("id=\"quality\"") == std::string::npos);
  CHECK(html.find("href=\"#quality\"") == std::string::npos);
  // The page is the operations page without its quality section and link.
  std::string expected = vigil::to_html(vigil_test::operations_report(), {});
  const std::size_t at = expected.find("<section id=\"quality\">");
  REQUIRE(at != std::string::npos);
  expected.erase(at, expected.find("</section>\n", at) + 11 - at);
  const std::string link = "<a href=\"#quality\">Quality</a>";
  expected.erase(expected.find(link), link.size());
  CHECK(html == expected);
}

TEST_CASE("to_html: quality names are escaped", "[export][quality]") {
  vigil::Report r = vigil_test::operations_report();
  r.quality.output = "score<script>\"&";
  r.quality.metrics[0].name = "acc<b>\"";
  r.cohorts[0].quality.output = r.quality.output;
  r.cohorts[0].quality.metrics = {{"<i>f1", vigil::Status::warn, 0.5, 0.6, 0.01, 40}};
  const std::string html = vigil::to_html(r, {});
  check_nesting(html);
  check_tables(html);
  CHECK(html.find("<script") == std::string::npos);
  CHECK(html.find("<b>\"") == std::string::npos);
  CHECK(html.find("<i>f1") == std::string::npos);
  const std::string q = quality_section(html);
  CHECK(q.find("<h2>Quality of score&lt;script&gt;&quot;&amp; <span") != std::string::npos);
  CHECK(q.find("<tr><td class=\"l\">acc&lt;b&gt;&quot;</td>") != std::string::npos);
  CHECK(q.find("<td class=\"l\">&lt;i&gt;f1 0.5 / 0.6 <span class=\"muted\">p 0.01</span> "
               "<span class=\"badge st-warn\">warn</span></td>") != std::string::npos);
}

TEST_CASE("ReportHistory: quality figures over time, charted", "[export][quality]") {
  vigil::ReportHistory history;
  vigil::Report r = vigil_test::operations_report();
  const double accuracy[] = {0.93, 0.91, 0.861};
  for (int k = 0; k < 3; ++k) {
    r.time = 1793606400.0 + 3600 * k;
    r.quality.metrics[0].recent = accuracy[k];
    if (k == 2) r.quality.estimated.clear();  // absent: NaN at that time
    history.add(r);
  }
  const auto& series = history.series(vigil::ReportHistory::quality_recent);
  CHECK(series.at("accuracy") == std::vector<double>{0.93, 0.91, 0.861});
  CHECK(series.at("log_loss") == std::vector<double>{0.31, 0.31, 0.31});
  REQUIRE(series.at("estimated_roc_auc").size() == 3);
  CHECK(series.at("estimated_roc_auc")[1] == 0.905);
  CHECK(std::isnan(series.at("estimated_roc_auc")[2]));
  CHECK(series.size() == 10);
  const std::string html = vigil::to_html(r, {}, &history);
  check_nesting(html);
  CHECK(html.find("<figcaption>Quality figures (realised and estimated) (largest 8 of 10)</figcaption>") !=
        std::string::npos);

  SECTION("halving takes the mean of a quality figure") {
    vigil::ReportHistory small(2);
    r.quality.metrics[0].recent = 0.9;
    small.add(r);
    r.quality.metrics[0].recent = 0.8;
    small.add(r);
    r.quality.metrics[0].recent = 0.7;
    small.add(r);
    const auto& halved = small.series(vigil::ReportHistory::quality_recent).at("accuracy");
    REQUIRE(halved.size() == 2);
    CHECK(halved[0] == Approx(0.85));
    CHECK(halved[1] == 0.7);
  }
}

// Quality on real data: a binary classifier trained on the first part of the INSECTS stream
// (data/insects_demo), deployed on the rest with its labels coming late, watched by a Monitor
// that joins each label to its request and estimates the accuracy from the scores alone.
//
//   insects_quality DATA_DIR [windows.csv|- [INTERVAL_SECONDS]]
//
// DATA_DIR holds train.csv, traffic.csv and labels.csv (data/insects_demo). The task: is the
// insect in one group of three species or in the other? Of the ten ways to split the six
// species in two groups of three, the program takes the one its holdout rows separate best,
// so the choice sees only training rows. A model of a balanced binary task gives every figure
// of the quality family (accuracy, AUC, calibration) and the label-free estimates, which the
// multi-class model of the demo does not have. The features are the seven that no injected
// fault of data/insects_demo/FAULTS.md touches, so what changes on them is the real drift.
//
// At the end of every monitoring interval (MonitorOptions::interval: a minute, or
// INTERVAL_SECONDS, a divisor of 300) it writes one line of windows.csv: the true accuracy of
// the requests of that interval (known here, all of them), the estimate from the scores of the
// latest interval(s), the realised accuracy of the labels joined so far over the quality
// window, and the label counts; it prints the same in ten-minute blocks.
// It prints the first quality alerts and checks what docs/validation.md reports: before the
// drift no quality alert (at most a warning, on neither accuracy nor an estimate), a realised
// accuracy alert after it, the estimate tracking the true accuracy before the drift, falling
// with it, and missing most of the fall. Exits non-zero when a check fails.
#include <vigil/vigil.hpp>

#include <Eigen/Dense>

#include <algorithm>
#include <array>
#include <bitset>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace {

const std::vector<std::string> feature_names = {"f01", "f02", "f03", "f05", "f08", "f10", "f11"};
const std::array<std::string, 6> species = {"s11", "s12", "s2", "s3", "s4", "s5"};
constexpr int fit_rows = 4000;  // train.csv: the first 4000 rows fit the model, the other 2000 are the holdout
constexpr double quality_interval = 300;
constexpr double quality_window = 1800;
constexpr double block_seconds = 600;  // the table printed: ten-minute blocks
constexpr double drift_begins = 1793610317.64;  // 2026-11-02T09:05:17.640Z (FAULTS.md)
constexpr double drift_complete = 1793610435.697;  // 2026-11-02T09:07:15.697Z

// A CSV file of plain cells (no quotes, as the files of data/insects_demo are).
struct Table {
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;

  std::size_t column(const std::string& name) const {
    const auto at = std::find(header.begin(), header.end(), name);
    if (at == header.end()) throw std::runtime_error("no column " + name);
    return static_cast<std::size_t>(at - header.begin());
  }
};

std::vector<std::string> split(const std::string& line) {
  std::vector<std::string> cells;
  std::stringstream in(line);
  std::string cell;
  while (std::getline(in, cell, ',')) cells.push_back(cell);
  if (!line.empty() && line.back() == ',') cells.emplace_back();
  return cells;
}

Table read_table(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open " + path);
  Table t;
  std::string line;
  std::getline(in, line);
  t.header = split(line);
  while (std::getline(in, line))
    if (!line.empty()) t.rows.push_back(split(line));
  return t;
}

// Unix seconds of an ISO-8601 UTC time with milliseconds, 2026-11-02T08:00:00.353Z (days from
// the civil date as in Hinnant's chrono algorithms).
double unix_time(const std::string& text) {
  int y = std::stoi(text.substr(0, 4));
  const int m = std::stoi(text.substr(5, 2));
  const int d = std::stoi(text.substr(8, 2));
  y -= m <= 2;
  const int era = y / 400;
  const int year_of_era = y - era * 400;
  const int day_of_year = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
  const double days = era * 146097.0 + day_of_era - 719468.0;
  return days * 86400 + std::stoi(text.substr(11, 2)) * 3600.0 + std::stoi(text.substr(14, 2)) * 60.0 +
         std::stod(text.substr(17, 6));
}

std::string iso_minute(double t) {
  const auto seconds = static_cast<long long>(std::llround(t)) % 86400;
  char text[16];
  std::snprintf(text, sizeof text, "%02lld:%02lld", seconds / 3600, seconds / 60 % 60);
  return text;
}

Eigen::MatrixXd features(const Table& t) {
  Eigen::MatrixXd x(static_cast<Eigen::Index>(t.rows.size()), static_cast<Eigen::Index>(feature_names.size()));
  for (std::size_t j = 0; j < feature_names.size(); ++j) {
    const std::size_t c = t.column(feature_names[j]);
    for (std::size_t i = 0; i < t.rows.size(); ++i)
      x(static_cast<Eigen::Index>(i), static_cast<Eigen::Index>(j)) = std::stod(t.rows[i][c]);
  }
  return x;
}

// Binary logistic regression on standardised features, fitted by full-batch gradient descent
// (2000 steps of 0.5, L2 penalty 0.001): deterministic, and the same on every machine up to
// rounding.
struct Logistic {
  Eigen::RowVectorXd mean, scale, weights;
  double bias = 0;

  Logistic(const Eigen::MatrixXd& x, const Eigen::VectorXd& y) {
    mean = x.colwise().mean();
    scale = ((x.rowwise() - mean).array().square().colwise().sum() / static_cast<double>(x.rows())).sqrt();
    const Eigen::MatrixXd z = standardise(x);
    weights = Eigen::RowVectorXd::Zero(x.cols());
    const double n = static_cast<double>(x.rows());
    for (int step = 0; step < 2000; ++step) {
      const Eigen::VectorXd error = (probability_of(z) - y) / n;
      weights -= 0.5 * ((z.transpose() * error).transpose() + 1e-3 * weights);
      bias -= 0.5 * error.sum();
    }
  }
  Eigen::MatrixXd standardise(const Eigen::MatrixXd& x) const {
    return (x.rowwise() - mean).array().rowwise() / scale.array();
  }
  Eigen::VectorXd probability_of(const Eigen::MatrixXd& z) const {
    return ((-((z * weights.transpose()).array() + bias)).exp() + 1.0).inverse().matrix();
  }
  Eigen::VectorXd score(const Eigen::MatrixXd& x) const { return probability_of(standardise(x)); }
};

double accuracy(const Eigen::VectorXd& score, const Eigen::VectorXd& truth, Eigen::Index from, Eigen::Index to) {
  double right = 0;
  for (Eigen::Index i = from; i < to; ++i) right += (score(i) >= 0.5) == (truth(i) == 1.0);
  return right / static_cast<double>(to - from);
}

std::string group_name(unsigned group) {
  std::string names;
  for (std::size_t k = 0; k < species.size(); ++k)
    if ((group >> k) & 1u) names += (names.empty() ? "" : ",") + species[k];
  return "{" + names + "}";
}

// 1 when the species is in the group (bit k: species[k]), else 0.
double in_group(unsigned group, const std::string& label) {
  const auto k = std::find(species.begin(), species.end(), label) - species.begin();
  if (k == static_cast<std::ptrdiff_t>(species.size())) throw std::runtime_error("unknown species " + label);
  return static_cast<double>((group >> k) & 1u);
}

Eigen::VectorXd truth_of(unsigned group, const std::vector<std::string>& labels) {
  Eigen::VectorXd y(static_cast<Eigen::Index>(labels.size()));
  for (std::size_t i = 0; i < labels.size(); ++i) y(static_cast<Eigen::Index>(i)) = in_group(group, labels[i]);
  return y;
}

// Recall (the share of positives scored positive) of rows [from, to), and their positives.
std::pair<double, double> recall(const Eigen::VectorXd& score, const Eigen::VectorXd& truth, Eigen::Index from,
                                 Eigen::Index to) {
  double hits = 0, positives = 0;
  for (Eigen::Index i = from; i < to; ++i)
    if (truth(i) == 1.0) hits += score(i) >= 0.5, ++positives;
  return {hits / positives, positives};
}

// The group of three species the holdout separates best from the other three. Each split is
// tried once, as the group that holds the first species.
unsigned best_grouping(const Eigen::MatrixXd& x, const std::vector<std::string>& labels) {
  unsigned best = 0;
  double best_accuracy = 0;
  std::printf("The ten splits of the six species in two groups of three, fitted on %d training rows:\n", fit_rows);
  for (unsigned group = 1; group < 64; group += 2) {
    if (std::bitset<6>(group).count() != 3) continue;
    const Eigen::VectorXd y = truth_of(group, labels);
    const Logistic model(x.topRows(fit_rows), y.head(fit_rows));
    const double a = accuracy(model.score(x), y, fit_rows, x.rows());
    std::printf("  %-16s vs the rest: holdout accuracy %.3f\n", group_name(group).c_str(), a);
    if (a > best_accuracy) best_accuracy = a, best = group;
  }
  return best;
}

struct Requests {
  std::vector<double> time;
  std::vector<std::string> id;
  Eigen::MatrixXd x;
  Eigen::VectorXd score, truth;
};

struct LateLabel {
  double time;
  std::string id;
  double value;
};

Requests read_requests(const Table& traffic, unsigned group, const Logistic& model) {
  Requests r;
  const std::size_t ts = traffic.column("ts"), id = traffic.column("request_id"), label = traffic.column("species");
  std::vector<std::string> labels;
  for (const auto& row : traffic.rows) {
    r.time.push_back(unix_time(row[ts]));
    r.id.push_back(row[id]);
    labels.push_back(row[label]);
  }
  r.x = features(traffic);
  r.score = model.score(r.x);
  r.truth = truth_of(group, labels);
  return r;
}

std::vector<LateLabel> read_labels(const Table& t, unsigned group) {
  std::vector<LateLabel> labels;
  const std::size_t ts = t.column("ts"), id = t.column("request_id"), label = t.column("species");
  for (const auto& row : t.rows) labels.push_back({unix_time(row[ts]), row[id], in_group(group, row[label])});
  return labels;
}

// The schema of the model: its seven features and its score, positive at 0.5.
struct Model {
  vigil::Schema schema;
  std::vector<vigil::NumericFeature> inputs;
  vigil::Output score;

  Model() {
    for (const std::string& name : feature_names) inputs.push_back(schema.add_numeric(name));
    vigil::OutputOptions options;
    options.threshold = 0.5;
    score = schema.add_output("score", options);
  }
  void fill(vigil::Observation& o, const Eigen::MatrixXd& x, Eigen::Index row, double s) const {
    for (std::size_t j = 0; j < inputs.size(); ++j) o.set(inputs[j], x(row, static_cast<Eigen::Index>(j)));
    o.score(score, s);
  }
};

// The holdout rows with their labels: the quality baseline and the calibration map.
vigil::Profile holdout_profile(const Model& m, const Eigen::MatrixXd& x, const Eigen::VectorXd& score,
                               const Eigen::VectorXd& truth) {
  vigil::Profile profile(m.schema);
  vigil::Observation o(m.schema);
  for (Eigen::Index i = fit_rows; i < x.rows(); ++i) {
    o.clear();
    m.fill(o, x, i, score(i));
    profile.add_labelled(o, m.score, truth(i));
  }
  return profile;
}

// Five-minute quality intervals, the realised figures over the last half hour; the labels' time-to-live
// covers the longest delay of labels.csv (78 minutes).
vigil::MonitorOptions monitor_options(double interval) {
  vigil::MonitorOptions options;
  options.interval = interval;
  options.quality_interval = quality_interval;
  options.quality_window = quality_window;
  options.label_time_to_live = 2 * 3600;
  options.evaluate_in_observe = true;
  return options;
}

// One line of windows.csv: the figures at the end of a monitoring interval.
struct Step {
  double start = 0, end = 0;
  int requests = 0;
  double true_accuracy = NAN;         // of every request of the step, labelled or not
  double estimated_accuracy = NAN;    // from the step's scores alone
  std::string estimated_status;
  double realised_accuracy = NAN;     // of the labels joined so far, over the quality window
  std::string realised_status;
  double window_true_accuracy = NAN;  // of every request of the quality window
  double labelled = 0;                // labels joined to the window's requests so far
  std::uint64_t joined = 0, pending = 0, expired = 0;
  double estimated_p_value = NAN, realised_p_value = NAN;  // of accuracy, one-sided (worse)
  double estimated_roc_auc = NAN, realised_roc_auc = NAN;
  double estimated_count = 0;        // scored requests the estimate rests on
};

const vigil::QualityMetric* find_metric(const std::vector<vigil::QualityMetric>& metrics, const std::string& name) {
  for (const auto& m : metrics)
    if (m.name == name) return &m;
  return nullptr;
}

double true_accuracy(const Requests& r, double from, double to, int* count = nullptr) {
  double right = 0, n = 0;
  for (std::size_t i = 0; i < r.time.size(); ++i) {
    if (r.time[i] < from || r.time[i] >= to) continue;
    const auto k = static_cast<Eigen::Index>(i);
    right += (r.score(k) >= 0.5) == (r.truth(k) == 1.0);
    ++n;
  }
  if (count != nullptr) *count = static_cast<int>(n);
  return n > 0 ? right / n : NAN;
}

Step step_of(const vigil::Report& report, const Requests& r, double start, double end) {
  Step s;
  s.start = start;
  s.end = end;
  s.true_accuracy = true_accuracy(r, start, end, &s.requests);
  const vigil::QualityReport& q = report.quality;
  if (const auto* m = find_metric(q.estimated, "estimated_accuracy"))
    s.estimated_accuracy = m->recent, s.estimated_status = vigil::to_string(m->status),
    s.estimated_p_value = m->p_value, s.estimated_count = m->count;
  if (const auto* m = find_metric(q.metrics, "accuracy"))
    s.realised_accuracy = m->recent, s.realised_status = vigil::to_string(m->status), s.realised_p_value = m->p_value;
  if (const auto* m = find_metric(q.estimated, "estimated_roc_auc")) s.estimated_roc_auc = m->recent;
  if (const auto* m = find_metric(q.metrics, "roc_auc")) s.realised_roc_auc = m->recent;
  s.window_true_accuracy = true_accuracy(r, q.window_start, q.window_end);
  s.labelled = q.labelled;
  s.joined = q.joined;
  s.pending = q.pending;
  s.expired = q.expired;
  return s;
}

struct QualityAlert {
  double time;
  std::string subject, severity, message;
};

// The requests in time order with their labels given as they come; the figures at the end of
// every monitoring interval (read once the first request past it has closed it).
std::vector<Step> replay(vigil::Monitor& monitor, double interval, const Model& m, const Requests& r,
                         const std::vector<LateLabel>& labels) {
  std::vector<Step> steps;
  vigil::Observation o(m.schema);
  std::size_t next_label = 0;
  double next_step = std::ceil(r.time.front() / interval) * interval;
  for (std::size_t i = 0; i < r.time.size(); ++i) {
    for (; next_label < labels.size() && labels[next_label].time < r.time[i]; ++next_label)
      monitor.on_label(labels[next_label].id, labels[next_label].value, labels[next_label].time);
    o.clear();
    o.at(r.time[i]).id(r.id[i]);
    m.fill(o, r.x, static_cast<Eigen::Index>(i), r.score(static_cast<Eigen::Index>(i)));
    monitor.observe(o);
    if (r.time[i] >= next_step) {  // the latest interval this request closed
      const double end = std::floor(r.time[i] / interval) * interval;
      steps.push_back(step_of(monitor.report(), r, end - interval, end));
      next_step = end + interval;
    }
  }
  for (; next_label < labels.size(); ++next_label)
    monitor.on_label(labels[next_label].id, labels[next_label].value, labels[next_label].time);
  steps.push_back(step_of(monitor.finish(), r, next_step - interval, next_step));
  return steps;
}

void write_steps(const std::string& path, const std::vector<Step>& steps) {
  std::ofstream out(path);
  out << "time,minute,requests,true_accuracy,estimated_accuracy,estimated_status,realised_accuracy,"
         "realised_status,window_true_accuracy,labelled,joined,pending,expired,estimated_p_value,realised_p_value,"
         "estimated_count,estimated_roc_auc,realised_roc_auc\n";
  const double start = steps.front().start;
  const auto number = [](double v) { return std::isnan(v) ? std::string() : std::to_string(v).substr(0, 6); };
  const auto p_value = [](double v) {
    char text[16];
    std::snprintf(text, sizeof text, "%.3g", v);
    return std::isnan(v) ? std::string() : std::string(text);
  };
  for (const Step& s : steps)
    out << "2026-11-02T" << iso_minute(s.end) << ":00Z," << (s.end - start) / 60 << ',' << s.requests << ','
        << number(s.true_accuracy) << ',' << number(s.estimated_accuracy) << ',' << s.estimated_status << ','
        << number(s.realised_accuracy) << ',' << s.realised_status << ',' << number(s.window_true_accuracy) << ','
        << s.labelled << ',' << s.joined << ',' << s.pending << ',' << s.expired << ','
        << p_value(s.estimated_p_value) << ','
        << p_value(s.realised_p_value) << ',' << s.estimated_count << ',' << number(s.estimated_roc_auc) << ','
        << number(s.realised_roc_auc) << '\n';
}

// Ten-minute blocks: the mean of the per-minute true accuracies and estimates, the realised
// figures and counts at the block's end.
void print_steps(const std::vector<Step>& steps) {
  std::printf("\n| block (end) | requests | true accuracy | estimated | estimates warn/alert | realised (window) | "
              "realised status | true (window) | labelled (window) | joined | pending |\n"
              "|---|---|---|---|---|---|---|---|---|---|---|\n");
  double sum_true = 0, sum_estimated = 0, minutes = 0, flagged = 0;
  int requests = 0;
  for (std::size_t i = 0; i < steps.size(); ++i) {
    const Step& s = steps[i];
    if (s.requests > 0) sum_true += s.true_accuracy * s.requests, requests += s.requests;
    if (!std::isnan(s.estimated_accuracy)) sum_estimated += s.estimated_accuracy, ++minutes;
    flagged += s.estimated_status == "warn" || s.estimated_status == "alert";
    const bool last = i + 1 == steps.size();
    if (!last && std::fmod(s.end, block_seconds) != 0) continue;
    std::printf("| %s | %d | %.3f | %.3f | %.0f | %.3f | %s | %.3f | %.0f | %llu | %llu |\n", iso_minute(s.end).c_str(),
                requests, sum_true / requests, sum_estimated / minutes, flagged, s.realised_accuracy,
                s.realised_status.c_str(), s.window_true_accuracy, s.labelled,
                static_cast<unsigned long long>(s.joined), static_cast<unsigned long long>(s.pending));
    sum_true = sum_estimated = minutes = flagged = 0;
    requests = 0;
  }
}

}  // namespace

namespace {

// Recall where nothing changed: the baseline of the quality figures (the holdout) is a sample too.
void print_recalls(const Eigen::VectorXd& score, const Eigen::VectorXd& truth, const Requests& r) {
  const auto fit = recall(score, truth, 0, fit_rows);
  const auto holdout = recall(score, truth, fit_rows, truth.size());
  const auto before = recall(r.score, r.truth, 0,
                             std::lower_bound(r.time.begin(), r.time.end(), drift_begins) - r.time.begin());
  std::printf("Recall: %.4f on the holdout (%.0f positives), %.4f on the rows fitted (%.0f), %.4f on the requests "
              "before the drift (%.0f)\n", holdout.first, holdout.second, fit.first, fit.second, before.first,
              before.second);
}

// The first raise or escalation of each quality figure, per severity.
void print_alerts(const std::vector<QualityAlert>& alerts) {
  std::printf("\nFirst quality alerts (the real drift begins at 09:05:17, is complete at 09:07:16):\n");
  std::map<std::string, bool> seen;
  for (const QualityAlert& a : alerts) {
    if (seen[a.subject + a.severity]) continue;
    seen[a.subject + a.severity] = true;
    std::printf("  %s  %-22s %-5s  %s\n", iso_minute(a.time).c_str(), a.subject.c_str(), a.severity.c_str(),
                a.message.c_str());
  }
}

// The mean over the monitoring intervals within [from, to) of the estimate and of the true
// accuracy.
std::pair<double, double> mean_accuracies(const std::vector<Step>& steps, double from, double to) {
  double estimated = 0, truth = 0, n = 0;
  for (const Step& s : steps)
    if (s.start >= from && s.end <= to && !std::isnan(s.estimated_accuracy) && s.requests > 0)
      estimated += s.estimated_accuracy, truth += s.true_accuracy, ++n;
  return {estimated / n, truth / n};
}

bool check(const std::vector<Step>& steps, const std::vector<QualityAlert>& alerts) {
  bool ok = true;
  const auto expect = [&](bool condition, const char* what) {
    if (!condition) std::printf("CHECK FAILED: %s\n", what);
    ok = ok && condition;
  };
  bool accuracy_after = false;
  for (const QualityAlert& a : alerts) {
    // Before the drift the model is as right as on its holdout: docs/validation.md explains
    // the one warning there is (recall, against a holdout whose recall came out high).
    if (a.time < drift_begins)
      expect(a.severity == "warn" && a.subject != "accuracy" && a.subject.rfind("estimated_", 0) != 0,
             "before the drift, no quality alert and no warning on accuracy or an estimate");
    accuracy_after = accuracy_after || (a.subject == "accuracy" && a.time > drift_begins);
  }
  expect(accuracy_after, "a quality alert on accuracy after the drift");
  const auto before = mean_accuracies(steps, 0, drift_begins);
  const auto after = mean_accuracies(steps, drift_complete, 1e300);
  std::printf("\nmean over the minutes before the drift: estimated %.3f, true %.3f; after it: estimated %.3f, "
              "true %.3f\n", before.first, before.second, after.first, after.second);
  expect(std::fabs(before.first - before.second) < 0.03, "the estimate tracks the true accuracy before the drift");
  expect(before.first - after.first > 0.02, "the estimate falls with the drift");
  expect(after.first - after.second > 0.1, "after the drift the estimate misses most of the fall");
  return ok;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: insects_quality DATA_DIR [windows.csv|- [INTERVAL_SECONDS]]\n");
    return 2;
  }
  try {
    const std::string dir = argv[1];
    const Table train = read_table(dir + "/train.csv");
    std::vector<std::string> train_labels;
    for (const auto& row : train.rows) train_labels.push_back(row[train.column("species")]);
    const Eigen::MatrixXd x = features(train);
    const unsigned group = best_grouping(x, train_labels);
    const Eigen::VectorXd y = truth_of(group, train_labels);
    const Logistic model(x.topRows(fit_rows), y.head(fit_rows));
    const Model m;
    const double interval = argc > 3 ? std::stod(argv[3]) : 60;
    vigil::Monitor monitor(m.schema, holdout_profile(m, x, model.score(x), y), monitor_options(interval));
    std::vector<QualityAlert> alerts;
    monitor.on_alert([&](const vigil::Alert& a) {
      if (a.kind == vigil::AlertKind::quality && a.transition != vigil::Alert::Transition::resolved)
        alerts.push_back({a.time, vigil::to_string(a.subject), vigil::to_string(a.severity), a.message});
    });
    const Requests requests = read_requests(read_table(dir + "/traffic.csv"), group, model);
    std::printf("Task: %s (positive) vs the other three species\n", group_name(group).c_str());
    print_recalls(model.score(x), y, requests);
    const std::vector<Step> steps =
        replay(monitor, interval, m, requests, read_labels(read_table(dir + "/labels.csv"), group));
    print_steps(steps);
    std::printf("\nAt the end: %llu labels joined, %llu requests still waiting for one, %llu never labelled within "
                "the labels' time-to-live (expired)\n",
                static_cast<unsigned long long>(steps.back().joined), static_cast<unsigned long long>(steps.back().pending),
                static_cast<unsigned long long>(steps.back().expired));
    print_alerts(alerts);
    if (argc > 2 && std::string(argv[2]) != "-") write_steps(argv[2], steps);
    return check(steps, alerts) ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "insects_quality: %s\n", e.what());
    return 2;
  }
}

// vigil — in-process monitoring of machine-learning models in C++ inference servers.
// SPDX-License-Identifier: Apache-2.0
//
// `vigil profile`, declared in profile.hpp.
#include "profile.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "csv.hpp"
#include "files.hpp"
#include "summary.hpp"
#include "time_column.hpp"
#include "vigil/error.hpp"
#include "vigil/monitor/observation.hpp"
#include "vigil/monitor/profile.hpp"
#include "vigil/monitor/schema.hpp"
#include "vigil/stats/classification.hpp"

namespace vigil::tools {

namespace {

enum class Role : unsigned char { undecided, numeric, categorical, score, predicted, label, ignored, time, attribution };

// Most distinct predicted classes an output may have: more suggests the wrong column.
constexpr std::size_t max_classes = 1000;

const char* role_option(Role role) {
  switch (role) {
    case Role::categorical: return "--categorical";
    case Role::score: return "--score-column";
    case Role::predicted: return "--predicted-column";
    case Role::label: return "--label-column";
    case Role::ignored: return "--ignore";
    case Role::time: return "--time-column";
    case Role::attribution: return "--attribution-prefix";
    default: return "";
  }
}

// The columns of the training file and what becomes of each.
struct ColumnPlan {
  std::vector<std::string> names;
  std::vector<Role> roles;
  std::vector<std::uint32_t> handles;  // the feature's or output's index in the schema
  std::set<std::string> classes;       // distinct values of the predicted column
  std::vector<std::size_t> attributions;  // --attribution-prefix: each input feature's column, numeric ones first

  std::size_t index_of(Role role) const {
    return static_cast<std::size_t>(std::find(roles.begin(), roles.end(), role) - roles.begin());
  }
};

// What the first pass learns about a column whose role no option gave.
struct ColumnSurvey {
  std::uint64_t non_empty = 0;
  std::uint64_t numbers = 0;
  std::uint64_t times = 0;  // ISO-8601 text
};

// The roles the options give.
ColumnPlan declared_roles(const Options& options, const CsvReader& csv, const std::string& input) {
  require_unique_columns(csv, input);
  ColumnPlan plan;
  plan.names = csv.columns();
  plan.roles.assign(plan.names.size(), Role::undecided);
  const auto assign = [&](const std::string& column, Role role) {
    const std::size_t i = require_column(csv, column, role_option(role), input);
    if (plan.roles[i] != Role::undecided)
      usage_error("column '" + column + "' is given to both " + role_option(plan.roles[i]) + " and " +
                  role_option(role));
    plan.roles[i] = role;
  };
  for (const std::string& c : options.list("categorical")) assign(c, Role::categorical);
  if (auto s = options.get("score-column")) assign(*s, Role::score);
  if (auto p = options.get("predicted-column")) assign(*p, Role::predicted);
  if (auto y = options.get("label-column")) assign(*y, Role::label);
  for (const std::string& c : options.list("ignore")) assign(c, Role::ignored);
  if (auto t = options.get("time-column")) assign(*t, Role::time);
  if (auto prefix = options.get("attribution-prefix")) {
    if (prefix->empty()) usage_error("--attribution-prefix must not be empty");
    for (std::size_t i = 0; i < plan.names.size(); ++i)
      if (plan.names[i].rfind(*prefix, 0) == 0 && plan.roles[i] == Role::undecided) plan.roles[i] = Role::attribution;
  }
  return plan;
}

// The attribution column of every input feature of `schema`, numeric ones first: each must
// be there, and each attribution column must name a feature.
void map_attributions(const Options& options, const Schema& schema, const std::string& input, ColumnPlan& plan) {
  const auto prefix = options.get("attribution-prefix");
  if (!prefix) return;
  std::vector<std::string> features;
  for (std::uint32_t i = 0; i < schema.numeric_count(); ++i) features.push_back(schema.name(NumericFeature{i}));
  for (std::uint32_t i = 0; i < schema.categorical_count(); ++i) features.push_back(schema.name(CategoricalFeature{i}));
  std::vector<std::string> absent;
  for (const std::string& f : features) {
    const auto at = std::find(plan.names.begin(), plan.names.end(), *prefix + f);
    if (at == plan.names.end()) absent.push_back(*prefix + f);
    else plan.attributions.push_back(static_cast<std::size_t>(at - plan.names.begin()));
  }
  if (!absent.empty())
    usage_error("--attribution-prefix '" + *prefix + "': " + input + " has no column " + join(absent) +
                " (one per input feature)");
  for (std::size_t i = 0; i < plan.names.size(); ++i)
    if (plan.roles[i] == Role::attribution && std::find(plan.attributions.begin(), plan.attributions.end(), i) == plan.attributions.end())
      usage_error("column '" + plan.names[i] + "' (--attribution-prefix '" + *prefix + "') names no input feature");
}

// A row's attributions, when it has any: an empty or unreadable cell is NaN (the profile
// counts it).
void add_attributions(const CsvReader& data, const ColumnPlan& plan, Profile& profile, std::vector<double>& values) {
  if (plan.attributions.empty()) return;
  bool any = false;
  values.resize(plan.attributions.size());
  for (std::size_t j = 0; j < plan.attributions.size(); ++j) {
    double x = 0;
    const bool read = parse_number(data.field(plan.attributions[j]), x) == CellStatus::value;
    values[j] = read ? x : std::numeric_limits<double>::quiet_NaN();
    any = any || !detail::trim_blanks(data.field(plan.attributions[j])).empty();
  }
  if (any) profile.add_attributions(values);
}

// One cell of a column whose role no option gave: a number, a time, or text.
void survey_cell(std::string_view cell, ColumnSurvey& survey) {
  double x;
  const CellStatus number = parse_number(cell, x);
  if (number == CellStatus::missing) return;
  ++survey.non_empty;
  if (number == CellStatus::value) {
    ++survey.numbers;
  } else if (cell.size() >= 10 && cell[4] == '-' && parse_time(cell, x) == CellStatus::value) {
    ++survey.times;
  }
}

// First pass: the type of every undeclared column, the predicted classes, and the times of
// the first rows.
std::vector<ColumnSurvey> survey_columns(CsvReader& csv, ColumnPlan& plan, TimeSurvey& times) {
  std::vector<ColumnSurvey> survey(plan.names.size());
  try {
    while (csv.next()) {
      times.add(csv);
      for (std::size_t i = 0; i < plan.names.size(); ++i) {
        if (plan.roles[i] == Role::undecided) {
          survey_cell(csv.field(i), survey[i]);
        } else if (plan.roles[i] == Role::predicted) {
          const std::string_view cell = detail::trim_blanks(csv.field(i));
          if (!cell.empty() && plan.classes.size() <= max_classes) plan.classes.emplace(cell);
        }
      }
    }
  } catch (const format_error& e) {
    fail(e.what());
  }
  if (plan.classes.size() > max_classes)
    fail("column '" + plan.names[plan.index_of(Role::predicted)] + "' (--predicted-column) has more than " +
         std::to_string(max_classes) + " distinct values; is it the predicted class?");
  return survey;
}

// Without --time-column, the time column found as `vigil replay` finds it (time_column.hpp),
// if there is one: left out, and a note says so.
void choose_time_column(const CsvReader& csv, const TimeSurvey& times, const std::string& input, ColumnPlan& plan,
                        std::ostream& err) {
  if (plan.index_of(Role::time) < plan.roles.size()) return;
  std::vector<bool> candidates(plan.roles.size());
  for (std::size_t i = 0; i < plan.roles.size(); ++i) candidates[i] = plan.roles[i] == Role::undecided;
  const auto time = detect_time_column(csv, std::nullopt, candidates, input, [&] { return times; });
  if (!time) return;
  plan.roles[time->index] = Role::time;
  err << "note: column '" << plan.names[time->index]
      << "' is taken as the time column and left out (name another with --time-column)\n";
}

// Other columns: mostly ISO-8601 times, left out; mostly text, categorical; otherwise
// numeric. A note says which.
void decide_roles(const std::vector<ColumnSurvey>& survey, ColumnPlan& plan, std::ostream& err) {
  for (std::size_t i = 0; i < plan.names.size(); ++i) {
    if (plan.roles[i] != Role::undecided) continue;
    const ColumnSurvey& s = survey[i];
    const std::string& name = plan.names[i];
    const std::uint64_t text = s.non_empty - s.numbers;
    if (s.non_empty > 0 && 2 * s.times > s.non_empty) {
      plan.roles[i] = Role::time;
      err << "note: column '" << name << "' holds times; left out (declare it with --time-column)\n";
    } else if (2 * text > s.non_empty) {
      plan.roles[i] = Role::categorical;
      err << "note: column '" << name << "' is mostly text (" << text << " of " << s.non_empty
          << " non-empty cells are not numbers); profiled as categorical (declare it with --categorical, or --ignore "
             "it)\n";
    } else {
      plan.roles[i] = Role::numeric;
      if (s.non_empty == 0) err << "note: column '" << name << "' is empty in every row; profiled as numeric\n";
    }
  }
}

// The schema, features and the output in column order.
Schema build_schema(ColumnPlan& plan, const std::string& input, double threshold) {
  Schema schema;
  plan.handles.assign(plan.names.size(), 0);
  try {
    for (std::size_t i = 0; i < plan.names.size(); ++i) {
      if (plan.roles[i] == Role::numeric) plan.handles[i] = schema.add_numeric(plan.names[i]).index;
      if (plan.roles[i] == Role::categorical) plan.handles[i] = schema.add_categorical(plan.names[i]).index;
      if (plan.roles[i] == Role::score) {
        OutputOptions output_options;
        output_options.classes.assign(plan.classes.begin(), plan.classes.end());
        output_options.threshold = threshold;
        plan.handles[i] = schema.add_output(plan.names[i], output_options).index;
      }
    }
  } catch (const invalid_argument& e) {
    fail(input + ": " + e.what());
  }
  return schema;
}

// One cell of a training row into `row`, by its column's role; tallies missing and bad cells.
void add_cell(Observation& row, Role role, std::uint32_t handle, std::uint32_t output, std::string_view cell,
              CellCounts& counts) {
  const std::string_view text = detail::trim_blanks(cell);
  double x = 0;
  switch (role) {
    case Role::numeric: {
      const CellStatus status = parse_number(cell, x);
      counts.add(status);
      if (status == CellStatus::value) row.set(NumericFeature{handle}, x);
      else if (status == CellStatus::bad) row.set(NumericFeature{handle}, std::numeric_limits<double>::quiet_NaN());
      break;
    }
    case Role::categorical:
      counts.add(text.empty() ? CellStatus::missing : CellStatus::value);
      if (!text.empty()) row.set(CategoricalFeature{handle}, text);
      break;
    case Role::score: {
      const CellStatus status = parse_number(cell, x);
      counts.add(status);
      if (status == CellStatus::value) row.score(Output{handle}, x);
      break;
    }
    case Role::predicted:
      counts.add(text.empty() ? CellStatus::missing : CellStatus::value);
      if (!text.empty()) row.predicted(Output{output}, text);
      break;
    default: break;
  }
}

// The holdout's scores and 0/1 labels, for the thresholds it suggests: kept while every label
// read is 0 or 1 (as text a binary classifier's labels read, or a number) and the output has
// no classes without a threshold. 12 bytes per labelled row with a finite score.
class HoldoutLabels {
 public:
  explicit HoldoutLabels(const OutputOptions& output)
      : binary_(vigil::detail::label_kind(output) != vigil::detail::LabelKind::multiclass), classes_(output.classes) {}

  void add(const Observation& row, Output output, std::string_view cell) {
    if (!binary_ || !row.has_score(output) || !std::isfinite(row.score(output))) return;
    vigil::detail::LabelValue value;
    double number = 0;
    if (vigil::detail::read_label(vigil::detail::LabelKind::binary, cell, classes_, value)) {
      number = value.number;
    } else if (parse_number(cell, number) != CellStatus::value || (number != 0 && number != 1)) {
      binary_ = false;
      return;
    }
    scores_.push_back(row.score(output));
    labels_.push_back(number == 1 ? 1 : 0);
  }
  // Both classes among labels that are all 0 or 1.
  bool usable() const {
    return binary_ && std::count(labels_.begin(), labels_.end(), 1) > 0 && std::count(labels_.begin(), labels_.end(), 0) > 0;
  }
  const std::vector<double>& scores() const { return scores_; }
  const std::vector<int>& labels() const { return labels_; }

 private:
  bool binary_;
  std::vector<std::string> classes_;
  std::vector<double> scores_;
  std::vector<int> labels_;
};

// Second pass: every row into the profile, and the labelled rows into `holdout`. Returns the
// cell tallies per column.
std::vector<CellCounts> add_rows(CsvReader& data, const ColumnPlan& plan, Profile& profile, HoldoutLabels& holdout) {
  const std::size_t score = plan.index_of(Role::score);
  const std::uint32_t output = score < plan.handles.size() ? plan.handles[score] : 0;
  const std::size_t label = plan.index_of(Role::label);
  const bool labelled = label < plan.roles.size() && score < plan.roles.size();
  Observation row(profile.schema());
  std::vector<CellCounts> cells(plan.names.size());
  std::vector<double> attributions;
  try {
    while (data.next()) {
      row.clear();
      for (std::size_t i = 0; i < plan.names.size(); ++i)
        add_cell(row, plan.roles[i], plan.handles[i], output, data.field(i), cells[i]);
      profile.add(row);
      add_attributions(data, plan, profile, attributions);
      if (!labelled) continue;
      // A row without a label is a row of the reference only; a label that does not fit the
      // output is counted in the profile as a bad label (and shown below).
      const std::string_view cell = detail::trim_blanks(data.field(label));
      cells[label].add(cell.empty() ? CellStatus::missing : CellStatus::value);
      if (cell.empty()) continue;
      profile.add_label(row, Output{output}, cell);
      holdout.add(row, Output{output}, cell);
    }
  } catch (const format_error& e) {
    fail(e.what());
  }
  return cells;
}

// A column's role as printed, and its training range or number of categories.
std::pair<std::string, std::string> describe(const ColumnPlan& plan, std::size_t i, const Profile& profile) {
  switch (plan.roles[i]) {
    case Role::numeric: {
      const auto& ref = profile.numeric(NumericFeature{plan.handles[i]});
      if (ref.digest.empty()) return {"numeric", ""};
      return {"numeric", vigil::detail::to_text(ref.digest.min()) + " .. " + vigil::detail::to_text(ref.digest.max())};
    }
    case Role::categorical: {
      const auto& counts = profile.categorical(CategoricalFeature{plan.handles[i]}).counts;
      return {"categorical", std::to_string(counts.entries().size()) + " categories"};
    }
    case Role::score:
      return {"output", plan.classes.empty() ? "" : std::to_string(plan.classes.size()) + " classes"};
    case Role::predicted: return {"predicted class", ""};
    case Role::label: return {"label (not a feature)", ""};
    case Role::ignored: return {"ignored", ""};
    case Role::time: return {"time (not a feature)", ""};
    case Role::attribution: return {"loss attribution (not a feature)", ""};
    case Role::undecided: break;
  }
  return {"", ""};
}

// One line per column: role, share of missing cells, unreadable cells, range or categories.
void print_columns(std::ostream& out, const ColumnPlan& plan, const std::vector<CellCounts>& cells,
                   const Profile& profile) {
  std::vector<std::vector<std::string>> table{{"column", "role", "missing", "bad", "training range / categories"}};
  for (std::size_t i = 0; i < plan.names.size(); ++i) {
    const CellCounts& c = cells[i];
    const double total = static_cast<double>(std::max<std::uint64_t>(1, c.total()));
    const bool counted = c.total() > 0;
    auto [role, detail_text] = describe(plan, i, profile);
    table.push_back({plan.names[i], std::move(role), counted ? percent(static_cast<double>(c.missing) / total) : "",
                     counted ? std::to_string(c.bad) : "", std::move(detail_text)});
  }
  print_table(out, table);
}

// --threshold: a finite number, the decision threshold of a binary classifier.
double threshold_option(const Options& options) {
  const auto text = options.get("threshold");
  if (!text) return std::numeric_limits<double>::quiet_NaN();
  double threshold = 0;
  if (parse_number(*text, threshold) != CellStatus::value)
    usage_error("--threshold takes a finite number (the score at and above which the model predicts the positive "
                "class), not '" + *text + "'");
  return threshold;
}

// The quality baseline the labels give: counts, and the figures of the output's kind.
void print_baseline(std::ostream& out, const Profile& profile, std::uint32_t output) {
  const Profile::OutputReference& r = profile.output(Output{output});
  const vigil::detail::LabelStats& l = r.labels;
  out << "quality baseline of '" << profile.schema().name(Output{output}) << "': " << vigil::detail::to_text(l.labelled)
      << " labelled rows";
  if (r.bad_labels > 0) out << ", " << r.bad_labels << " labels that do not fit the output (not counted)";
  if (l.unscored > 0) out << ", " << vigil::detail::to_text(l.unscored) << " without a score";
  out << '\n';
  const double judged = l.judged();
  if (!(judged > 0)) return;
  switch (vigil::detail::label_kind(profile.schema().options(Output{output}))) {
    case vigil::detail::LabelKind::binary: {
      const double positive_calls = l.true_positive + l.false_positive;
      const double positives = l.true_positive + l.false_negative;
      out << "  accuracy " << percent((l.true_positive + l.true_negative) / judged) << ", precision "
          << (positive_calls > 0 ? percent(l.true_positive / positive_calls) : "n/a") << ", recall "
          << (positives > 0 ? percent(l.true_positive / positives) : "n/a");
      if (l.log_loss.count() > 0)
        out << ", log-loss " << vigil::detail::to_text(l.log_loss.mean()) << ", Brier " << vigil::detail::to_text(l.brier.mean());
      out << '\n';
      break;
    }
    case vigil::detail::LabelKind::multiclass: out << "  accuracy " << percent(l.correct / judged) << '\n'; break;
    case vigil::detail::LabelKind::regression:
      out << "  MAE " << vigil::detail::to_text(l.absolute_error.mean()) << ", RMSE "
          << vigil::detail::to_text(std::sqrt(l.squared_error.mean())) << ", mean error " << vigil::detail::to_text(l.error.mean())
          << '\n';
      break;
  }
}

// --target-precision: the precision the third suggested threshold must reach, in (0, 1].
double target_precision_option(const Options& options) {
  const auto text = options.get("target-precision");
  if (!text) return 0.9;
  double p = 0;
  if (parse_number(*text, p) != CellStatus::value || !(p > 0 && p <= 1))
    usage_error("--target-precision takes a precision in (0, 1], not '" + *text + "'");
  return p;
}

// The thresholds the holdout suggests, each with the precision, recall and F1 it gives there.
void print_thresholds(std::ostream& out, const HoldoutLabels& holdout, double target_precision) {
  if (!holdout.usable()) return;
  const auto& s = holdout.scores();
  const auto& y = holdout.labels();
  const std::pair<std::string, stats::ThresholdChoice> rules[] = {
      {"max F1", stats::max_f1_threshold(s, y)},
      {"Youden's J", stats::youden_threshold(s, y)},
      {"precision >= " + vigil::detail::to_text(target_precision), stats::precision_threshold(s, y, target_precision)},
  };
  out << "thresholds the holdout suggests (positive at and above; " << s.size() << " labelled rows with a score):\n";
  std::vector<std::vector<std::string>> table{{"rule", "threshold", "precision", "recall", "F1"}};
  for (const auto& [rule, c] : rules)
    table.push_back({rule, std::isinf(c.threshold) ? "none reaches it" : vigil::detail::to_text(c.threshold),
                     figure(c.precision, "%.4f"), figure(c.recall, "%.4f"), figure(c.f1, "%.4f")});
  print_table(out, table);
}

}  // namespace

int run_profile(const Options& options, std::ostream& out, std::ostream& err) {
  const std::string input = options.required("input");
  const std::string output = options.required("output");
  if (options.has("predicted-column") && !options.has("score-column"))
    usage_error("--predicted-column needs --score-column: the predicted class belongs to the model's output");
  if (options.has("label-column") && !options.has("score-column"))
    usage_error("--label-column needs --score-column: a label is the true answer of the model's output");
  if (options.has("threshold") && !options.has("score-column"))
    usage_error("--threshold needs --score-column: it is the decision threshold on the model's score");
  const double threshold = threshold_option(options);
  if (options.has("target-precision") && !options.has("label-column"))
    usage_error("--target-precision needs --label-column: the threshold is chosen on the labelled rows");
  const double target_precision = target_precision_option(options);

  CsvReader csv = open_csv(input);
  ColumnPlan plan = declared_roles(options, csv, input);
  TimeSurvey times(plan.names.size());
  const std::vector<ColumnSurvey> survey = survey_columns(csv, plan, times);
  choose_time_column(csv, times, input, plan, err);
  decide_roles(survey, plan, err);
  Profile profile(build_schema(plan, input, threshold));
  map_attributions(options, profile.schema(), input, plan);
  CsvReader data = open_csv(input);
  const std::size_t score = plan.index_of(Role::score);
  HoldoutLabels holdout(score < plan.roles.size() ? profile.schema().options(Output{plan.handles[score]}) : OutputOptions{});
  const std::vector<CellCounts> cells = add_rows(data, plan, profile, holdout);
  if (profile.rows() == 0) fail(input + " has no data rows");
  try {
    profile.save(output);
  } catch (const format_error& e) {
    fail(e.what());
  }

  out << "profiled " << input << ": " << profile.rows() << " rows -> " << output << '\n';
  if (data.ragged_rows() > 0)
    out << "  skipped " << data.ragged_rows() << " rows whose field count differs from the header's\n";
  if (data.quote_errors() > 0)
    out << "  read " << data.quote_errors() << " fields with text after their closing quote, kept literally\n";
  warn_quote_errors(data, err);
  print_columns(out, plan, cells, profile);
  if (plan.index_of(Role::label) < plan.roles.size()) {
    print_baseline(out, profile, plan.handles[score]);
    print_thresholds(out, holdout, target_precision);
  }
  return exit_ok;
}

}  // namespace vigil::tools

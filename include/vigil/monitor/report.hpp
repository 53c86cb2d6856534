// vigil — in-process monitoring of machine-learning models in C++ inference servers.
// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "vigil/monitor/alerts.hpp"
#include "vigil/monitor/schema.hpp"
#include "vigil/sketch/log_histogram.hpp"

namespace vigil {

/// What the report says about one input feature. Figures that could not be computed (no
/// data yet, or not meaningful for the feature's kind) are NaN. docs/report.md documents
/// every field and its JSON and Prometheus names.
struct FeatureReport {
  std::string name;
  bool categorical = false;
  Status status = Status::ok;

  // Long-term drift: the horizon (MonitorOptions::long_horizon) against the training profile.
  std::uint64_t horizon_count = 0;  // values in the horizon
  double psi = nan();               // population stability index on the reference's bins
  double ks_statistic = nan();      // numeric: largest CDF gap at the reference's percentiles
  double ks_p_value = nan();
  double wasserstein = nan();       // numeric: in units of the reference standard deviation
  double js_distance = nan();       // categorical: Jensen-Shannon distance of the frequencies

  // Short-term change: the latest interval(s) against the trailing background and training.
  std::uint64_t recent_count = 0;     // values in the recent interval(s)
  std::uint64_t recent_requests = 0;  // requests in them, with or without a value
  /// Intervals in the recent sample: MonitorOptions::recent_intervals, or more when earlier
  /// intervals were pooled to reach AlertPolicy::min_requests (docs/guide.md, "Low-rate
  /// streams").
  std::uint64_t recent_intervals = 0;
  double shift_statistic = nan();   // G statistic, recent vs background, reference deciles
  double shift_p_value = nan();
  double shift_psi = nan();         // effect size of the same comparison
  double profile_statistic = nan(); // G statistic, recent vs training, reference deciles
  double profile_p_value = nan();
  double recent_mean = nan();       // numeric
  double reference_mean = nan();

  // Data quality in the recent interval(s).
  double missing_rate = nan();
  double reference_missing_rate = nan();
  double out_of_range_rate = nan();  // numeric: share outside the training [min, max]
  double unseen_rate = nan();        // categorical: share of categories not seen in training
  std::vector<std::pair<std::string, std::uint64_t>> unseen_values;  // the most frequent ones
  std::uint64_t bad_values = 0;      // recent NaN, ±inf or unparsable values
  // Exact binomial tests of those shares (stats::binomial_test): whether each lies further
  // from training (its missing rate; no value out of range or unseen) than the alert policy
  // tolerates (missing_rate_change, out_of_range_share, unseen_share), beyond chance. 1 within
  // the tolerance.
  double missing_p_value = nan();
  double out_of_range_p_value = nan();
  double unseen_p_value = nan();

  static double nan() { return std::numeric_limits<double>::quiet_NaN(); }
};

/// What the report says about one model output.
struct OutputReport {
  std::string name;
  Status status = Status::ok;
  std::uint64_t horizon_count = 0;
  double psi = FeatureReport::nan();           // horizon vs training, score deciles
  double ks_statistic = FeatureReport::nan();  // horizon vs training, from the digests
  double ks_p_value = FeatureReport::nan();
  double wasserstein = FeatureReport::nan();   // in reference standard deviations
  std::uint64_t recent_count = 0;
  std::uint64_t recent_requests = 0;   // requests in the recent sample, with or without a score
  std::uint64_t recent_intervals = 0;  // intervals in it (FeatureReport::recent_intervals)
  double shift_statistic = FeatureReport::nan();  // G, recent vs background, score deciles
  double shift_p_value = FeatureReport::nan();
  double shift_psi = FeatureReport::nan();
  double profile_statistic = FeatureReport::nan();  // G, recent vs training
  double profile_p_value = FeatureReport::nan();
  double recent_ks_statistic = FeatureReport::nan();  // recent vs training, from the digests
  double recent_ks_p_value = FeatureReport::nan();
  double recent_p50 = FeatureReport::nan();
  double recent_p90 = FeatureReport::nan();
  double recent_p99 = FeatureReport::nan();
  double reference_p50 = FeatureReport::nan();
  // Scores that were not usable in the recent interval(s): absent, or NaN or ±inf.
  std::uint64_t missing_scores = 0;      // of them without a score
  std::uint64_t non_finite_scores = 0;   // of them with a NaN or infinite score
  double missing_rate = FeatureReport::nan();     // (missing + non-finite) / requests
  double non_finite_rate = FeatureReport::nan();  // non-finite / requests
  double reference_missing_rate = FeatureReport::nan();   // training rows without a finite score
  double background_missing_rate = FeatureReport::nan();  // the same over the trailing background
  double missing_p_value = FeatureReport::nan();        // G, recent missing share vs training
  double missing_shift_p_value = FeatureReport::nan();  // G, recent vs background missing share
  std::uint64_t missing_classes = 0;  // recent requests without a class (outputs with classes)
  double class_missing_rate = FeatureReport::nan();
  // Predicted classes: share per class recently and in training.
  std::vector<std::string> classes;
  std::vector<double> class_share;
  std::vector<double> reference_class_share;
  double class_statistic = FeatureReport::nan();  // G, recent vs background class counts
  double class_p_value = FeatureReport::nan();
};

/// One tag value's part in the slow requests: "host=h3 carries 61 % of slow requests vs
/// 25 % of all requests" is share_of_slow = 0.61, share_of_all = 0.25, lift = 2.44.
struct SlowAttribution {
  std::string tag;
  std::string value;
  std::uint64_t requests = 0;       // with this value, in the latency window
  std::uint64_t slow = 0;           // of them above the slow threshold
  double share_of_slow = FeatureReport::nan();
  double share_of_all = FeatureReport::nan();
  double lift = FeatureReport::nan();       // share_of_slow / share_of_all
  double background_lift = FeatureReport::nan();  // the same over the latency background
  double p_value = FeatureReport::nan();    // G-test, slow/not slow × this value/the others
};

/// Latency of the requests in the latency window against a long background (log-scale
/// buckets), and which tag values the slow requests come from. Latencies are in seconds.
struct LatencyReport {
  std::string subject;               // "requests", or "tag=value: requests" for a cohort (as to_string(Subject))
  Status status = Status::ok;
  std::uint64_t recent_count = 0;    // latencies in the latency window
  std::uint64_t background_count = 0;
  double recent_p50 = FeatureReport::nan();
  double recent_p99 = FeatureReport::nan();
  double recent_p999 = FeatureReport::nan();
  double background_p50 = FeatureReport::nan();
  double background_p99 = FeatureReport::nan();
  double background_p999 = FeatureReport::nan();
  double p99_ratio = FeatureReport::nan();     // recent p99 / background p99
  double p999_ratio = FeatureReport::nan();
  double statistic = FeatureReport::nan();     // G, recent vs background bucket counts
  double p_value = FeatureReport::nan();
  double slow_threshold = FeatureReport::nan();  // what counted as slow in the window
  std::uint64_t slow = 0;                        // requests above it in the window
  std::vector<SlowAttribution> attribution;      // most over-represented first
  /// Every latency of all requests since the monitor started, as of the evaluation: those
  /// of the intervals closed by then (the report of all requests only; empty in a cohort's).
  /// Counts that only grow, exported as the Prometheus histogram
  /// vigil_request_latency_seconds, which adds up across replicas (docs/fleet.md).
  LogHistogram since_start{4};
};

/// Arrivals against their predicted rate, completions against arrivals, and the error and
/// timeout rates of the recent interval(s) against the background.
struct TrafficReport {
  Status status = Status::ok;
  /// "arrivals" when the server reports them (Monitor::on_arrival), else "completions":
  /// every observed request counts as its own arrival.
  std::string arrivals_source = "completions";
  std::uint64_t recent_arrivals = 0;
  std::uint64_t recent_completions = 0;
  double predicted_arrivals = FeatureReport::nan();  // for the recent interval(s)
  double arrival_z = FeatureReport::nan();           // standardised log-count surprise
  double arrival_p_value = FeatureReport::nan();     // Poisson, two-sided
  /// The predictor behind predicted_arrivals: "none", "mean", "recent" or "seasonal" (the
  /// full model; the others are its fall-backs while history is short).
  std::string rate_model = "none";
  std::uint64_t rate_history = 0;                    // intervals the predictor was fitted on
  double last_arrival = FeatureReport::nan();        // event time of the latest arrival
  double silence = FeatureReport::nan();             // seconds from it to the report time
  double expected_in_silence = FeatureReport::nan(); // arrivals the predicted rate expected then
  double silence_p_value = FeatureReport::nan();     // exp(-expected): chance of such a silence
  std::int64_t in_flight = 0;                        // arrivals - completions (explicit arrivals)
  double completion_ratio = FeatureReport::nan();    // recent completions / arrivals
  double background_completion_ratio = FeatureReport::nan();
  double completion_p_value = FeatureReport::nan();  // G-test, recent vs background
  double error_rate = FeatureReport::nan();          // recent share with status error
  double background_error_rate = FeatureReport::nan();
  double error_p_value = FeatureReport::nan();       // G-test, recent vs background
  double timeout_rate = FeatureReport::nan();
  double background_timeout_rate = FeatureReport::nan();
  double timeout_p_value = FeatureReport::nan();
};

/// The report of one cohort: the analyses above restricted to requests with tag = value.
/// One quality figure of the labelled output: realised from the labels joined to the
/// requests of the quality window, or estimated from the scores alone (name prefixed
/// `estimated_`), against the holdout baseline of the Profile. docs/report.md lists them.
struct QualityMetric {
  std::string name;   // accuracy, precision, recall, f1, log_loss, brier, roc_auc, calibration_error, mae, rmse, bias
  Status status = Status::ok;
  double recent = FeatureReport::nan();
  double baseline = FeatureReport::nan();
  /// The test that the recent figure is worse than the baseline (one-sided; two-sided for
  /// bias): two proportions (accuracy, precision, recall), the delta method (F1), DeLong
  /// (ROC AUC), Welch (losses and errors), a chi-square of the reliability bins against the
  /// holdout's (calibration). NaN: not tested.
  double p_value = FeatureReport::nan();
  double count = 0;   // requests it rests on: labelled and judged, or scored for an estimate
};

/// Requests of one quality interval (MonitorOptions::quality_interval) and their labels so far.
struct QualityInterval {
  double start = FeatureReport::nan();
  double end = FeatureReport::nan();
  std::uint64_t identified = 0;  // requests with an id
  double labelled = 0;           // labels joined to them so far
};

/// Quality of the output labels judge (MonitorOptions::quality_output).
struct QualityReport {
  std::string output;
  Status status = Status::ok;
  double window_start = FeatureReport::nan();  // realised metrics: the requests of [start, end)
  double window_end = FeatureReport::nan();
  double labelled = 0;                         // labels joined to the window's requests so far
  std::vector<QualityMetric> metrics;          // realised
  std::vector<QualityMetric> estimated;        // from the scores of the recent interval(s)
  std::vector<QualityInterval> intervals;      // the window's, oldest first
  // What became of the labels since the monitor started (every request; cohorts leave them 0).
  std::uint64_t labels = 0;             // Monitor::on_label() calls
  std::uint64_t joined = 0;             // joined to their request
  std::uint64_t pending = 0;            // requests with an id still waiting for a label
  std::uint64_t evicted = 0;            // requests pushed out unlabelled by label_capacity
  std::uint64_t expired = 0;            // requests never labelled within label_time_to_live
  std::uint64_t unknown_ids = 0;        // labels naming no held request
  std::uint64_t duplicate_labels = 0;   // a second label for a request
  std::uint64_t duplicate_ids = 0;      // requests filed with an id already held
  std::uint64_t late_labels = 0;        // labels after the request's time-to-live
  std::uint64_t bad_labels = 0;         // of the wrong type for the output
  std::uint64_t bad_label_times = 0;    // NaN or infinite label time
  std::uint64_t labels_before_request = 0;  // dated before their request: refused
  std::uint64_t labels_beyond_window = 0;   // joined for requests older than the quality intervals kept
  std::uint64_t labels_applied_early = 0;   // applied before their interval was evaluated (staging full)
  // The loss attributions that came with labels (Monitor::on_label with attributions).
  std::uint64_t attributed_labels = 0;          // joined labels that carried attributions
  std::uint64_t attributions_wrong_count = 0;   // not one per input feature: left out, the label kept
  std::uint64_t attribution_bad_values = 0;     // NaN or infinite values: left out of their feature
  std::uint64_t attributions_applied_early = 0; // credited before their interval was evaluated (staging full)
};

/// One arm of the conversions section: its impressions and responses over the kept
/// impressions, and its response rate at the section's delay with an interval.
struct ConversionArm {
  std::string arm;                  // the value of MonitorOptions::conversion_arm ("other" for values beyond max_values)
  std::uint64_t impressions = 0;    // requests with an id of the kept conversion intervals
  std::uint64_t conversions = 0;    // responses joined to them so far, at any delay
  double naive_rate = FeatureReport::nan();  // conversions / impressions, whatever their age
  std::uint64_t impressions_at_delay = 0;  // impressions at least `delay` old
  std::uint64_t conversions_at_delay = 0;  // their responses within `delay`
  double rate_at_delay = FeatureReport::nan();  // conversions_at_delay / impressions_at_delay
  double low = FeatureReport::nan();   // Wilson score interval of rate_at_delay
  double high = FeatureReport::nan();
};

/// Responses (Monitor::on_conversion) joined to their impressions, compared per arm at the
/// delay by which `share` of the eventual responses has come (docs/guide.md, "Conversions").
struct ConversionReport {
  std::string arm_tag;  // MonitorOptions::conversion_arm; empty: conversions are not tracked
  double share = FeatureReport::nan();      // MonitorOptions::conversion_share
  double delay = FeatureReport::nan();      // d*, seconds; NaN until impressions are old enough and some converted
  double horizon = FeatureReport::nan();    // delay at which responses count as eventual
  double eventual_rate = FeatureReport::nan();  // every arm's rate at the horizon
  double confidence = FeatureReport::nan();     // of the arms' intervals together
  std::vector<ConversionArm> arms;          // in the order their values came
  std::string best_arm;       // the arm whose interval lies above every other's; empty until one does
  std::string naive_best_arm; // the arm of the highest naive_rate; empty without impressions
  std::uint64_t impressions_without_arm = 0;  // requests with an id but no arm tag: in no arm
  // What became of the conversions since the monitor started.
  std::uint64_t received = 0;           // Monitor::on_conversion() calls
  std::uint64_t joined = 0;             // joined to their impression
  std::uint64_t unknown_ids = 0;        // naming no held request
  std::uint64_t duplicates = 0;         // a second response to one impression
  std::uint64_t too_late = 0;           // after the request's label_time_to_live
  std::uint64_t before_impression = 0;  // dated before their impression: refused, the impression keeps waiting
  std::uint64_t bad_times = 0;          // NaN or infinite time
  std::uint64_t beyond_window = 0;      // joined to impressions older than the conversion intervals kept
  std::uint64_t applied_early = 0;      // applied before their interval was evaluated (staging full)
};

/// A request picked for labelling: its id (Observation::id, as kept: at most
/// Observation::max_id_bytes bytes) and its score on the quality output.
struct LabelSample {
  std::string id;
  double score = FeatureReport::nan();
};

/// Requests of one evaluated interval worth sending to a labelling queue (docs/guide.md,
/// "Samples to label"): at most MonitorOptions::label_samples of each kind, among the
/// interval's requests with an id and a finite score on the quality output. A binary
/// classifier's confidence is max(p, 1 − p); a multi-class output's is its score (taken as
/// the predicted class's probability); a regression has none, and its lists stay empty.
/// Each list is sorted by its key, ties by id, then score: lowest_confidence least confident
/// first, highest_confidence most confident first, near_threshold by |p − threshold| (binary
/// classifiers only).
struct LabelSamples {
  double interval_end = FeatureReport::nan();  // the interval [end − MonitorOptions::interval, end)
  std::vector<LabelSample> lowest_confidence;
  std::vector<LabelSample> highest_confidence;  // negative mining: confident answers that may be wrong
  std::vector<LabelSample> near_threshold;
};

/// A request on which a shadow output deviated much from its champion: its id (empty
/// without one), event time and both scores.
struct CanaryRequest {
  std::string id;
  double time = FeatureReport::nan();
  double champion = FeatureReport::nan();
  double other = FeatureReport::nan();  // the shadow's score
  double deviation = FeatureReport::nan();  // |other − champion|
};

/// One shadow output (Schema::add_canary, add_challenger) against its champion, over the
/// recent interval(s) and the trailing background (docs/guide.md, "Canary and challengers").
struct CanaryReport {
  std::string name;       // the shadow output
  OutputRole role = OutputRole::canary;
  std::string of;         // the champion
  Status status = Status::ok;
  std::uint64_t recent_count = 0;       // requests with finite scores of both, recently
  std::uint64_t background_count = 0;
  std::uint64_t recent_requests = 0;    // requests in the recent sample
  std::uint64_t recent_intervals = 0;   // intervals in it (FeatureReport::recent_intervals)
  double mean_abs_deviation = FeatureReport::nan();             // mean |shadow − champion|
  double background_mean_abs_deviation = FeatureReport::nan();
  double p99_abs_deviation = FeatureReport::nan();              // from the digests
  double background_p99_abs_deviation = FeatureReport::nan();
  double deviation_p_value = FeatureReport::nan();  // Welch, one-sided: the recent mean is above the background's
  std::uint64_t classified = 0;                     // recent requests with a class from both
  double disagreement_rate = FeatureReport::nan();  // share of them whose classes differ
  double background_disagreement_rate = FeatureReport::nan();
  double disagreement_p_value = FeatureReport::nan();  // two proportions, one-sided
  /// The two tests together (Bonferroni: twice the smaller, at most 1): the p-value the
  /// alert policy corrects across shadows and cohorts.
  double p_value = FeatureReport::nan();
  /// The typical background interval: the median over the background's intervals of their
  /// mean |deviation| and of their disagreement rate. A rise is measured from these, so a
  /// stretch of unusual agreement in the background does not make ordinary disagreement
  /// afterwards look like one.
  double typical_abs_deviation = FeatureReport::nan();
  double typical_disagreement_rate = FeatureReport::nan();
  double rise = FeatureReport::nan();  // the larger relative rise of the two figures over the typical interval
  // The shadow's score was unusable while the champion's was not, recently.
  std::uint64_t missing = 0;            // absent
  std::uint64_t non_finite = 0;         // NaN or infinite
  std::uint64_t champion_missing = 0;   // the shadow scored, the champion not
  double missing_rate = FeatureReport::nan();  // (missing + non_finite) / requests the champion scored
  /// A challenger's deviation from the canary of the same champion (Dunning's risk view):
  /// the canary's name, empty without one.
  std::string canary;
  double mean_abs_deviation_from_canary = FeatureReport::nan();
  /// The recent requests of largest deviation, most deviating first: at most
  /// MonitorOptions::canary_top per recent interval merged down to that many.
  std::vector<CanaryRequest> top;
};

/// One input feature's share of the labelled requests' loss (Monitor::on_label with
/// attributions; docs/guide.md, "Why is it wrong?"): its mean attribution recently, in the
/// trailing background and on the holdout, and whether it changed. A positive mean raises
/// the loss, a negative one lowers it.
struct AttributionReport {
  std::string feature;  // numeric features first, then categorical ones, as in Report::features
  Status status = Status::ok;
  double recent_count = 0;                      // attributions of the requests of the quality window
  double recent_mean = FeatureReport::nan();
  double background_count = 0;                  // of the requests of the attribution background before it
  double background_mean = FeatureReport::nan();
  double reference_count = 0;                   // of the holdout (Profile::add_attributions)
  double reference_mean = FeatureReport::nan();
  double p_value = FeatureReport::nan();            // Welch, one-sided: the recent mean above the background's
  double reference_p_value = FeatureReport::nan();  // Welch, one-sided: the recent mean above the holdout's
  double effect = FeatureReport::nan();            // (recent − background mean) / background standard deviation
  double reference_effect = FeatureReport::nan();  // (recent − holdout mean) / holdout standard deviation
  /// One-sided CUSUM of the labels' mean attribution against the holdout's, in holdout
  /// standard deviations beyond an allowance (AlertPolicy::attribution_cusum_limit): a slow
  /// rise of the feature's share of the loss. 0 without a holdout reference.
  double cusum = 0;
};

struct CohortReport {
  std::string tag;
  std::string value;
  Status status = Status::ok;
  std::uint64_t requests = 0;  // in the horizon
  std::vector<FeatureReport> features;
  std::vector<OutputReport> outputs;
  LatencyReport latency;
  QualityReport quality;
  std::vector<CanaryReport> canary;
  std::vector<AttributionReport> attribution;
};

/// Counters of input the monitor refused or could not place; all are also in the JSON and
/// Prometheus exports.
struct InputCounters {
  std::uint64_t observed = 0;      // requests accepted
  std::uint64_t bad_time = 0;      // NaN or infinite event time: dropped
  std::uint64_t late = 0;          // older than the lateness tolerance: dropped, counted here
  std::uint64_t future = 0;        // dated too far ahead of the monitor's clock: dropped (MonitorOptions::event_clock)
  std::uint64_t clock_changes = 0; // times the clock was moved ahead on evidence (MonitorOptions::clock_change_evidence)
  std::uint64_t bad_latency = 0;   // negative or NaN latency over the horizon: not recorded
  std::uint64_t skipped_evaluations = 0;  // intervals that passed out of fine retention unevaluated
  std::uint64_t bad_arrival_time = 0;     // on_arrival() with a NaN or infinite time: dropped
  /// Category values, tag values and predicted classes longer than Schema::max_value_bytes in
  /// requests given to observe(): cut to that length (Observation), the request kept.
  std::uint64_t truncated_values = 0;
};

/// Everything `Monitor::report()` returns. It owns its data: safe to keep, serialise and
/// export while traffic continues.
struct Report {
  double time = FeatureReport::nan();        // event time the report describes (Unix seconds)
  double recent_start = FeatureReport::nan();  // the recent interval(s) judged: [start, end)
  double recent_end = FeatureReport::nan();
  double horizon_start = FeatureReport::nan();
  /// The worst open alert; without one, insufficient_data when a feature or output (of all
  /// requests) could not be judged, else ok. For alerting, not for a liveness or readiness probe.
  Status status = Status::ok;
  std::uint64_t recent_requests = 0;
  std::uint64_t horizon_requests = 0;
  InputCounters counters;
  std::vector<FeatureReport> features;
  std::vector<OutputReport> outputs;
  std::vector<CohortReport> cohorts;
  TrafficReport traffic;
  LatencyReport latency;                     // every request; cohorts have their own
  QualityReport quality;                     // every request; cohorts have their own
  ConversionReport conversions;              // every request: its arms are a tag's values
  LabelSamples samples;                      // of the interval evaluated (every request)
  std::vector<CanaryReport> canary;          // shadow outputs against their champions
  std::vector<AttributionReport> attribution;  // the labels' loss per input feature; empty without attributions
  std::vector<Alert> open_alerts;            // currently open, newest figures
  /// The latest alert transitions (raised, escalated, resolved), oldest first, each with its
  /// sequence number (Alert::sequence): at most MonitorOptions::alert_log of them, so any
  /// number of readers each find what happened since they last looked.
  std::vector<Alert> alert_log;
};

}  // namespace vigil

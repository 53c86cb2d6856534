// vigil — in-process monitoring of machine-learning models in C++ inference servers.
// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>

#include "vigil/error.hpp"
#include "vigil/model/rate_predictor.hpp"
#include "vigil/monitor/alerts.hpp"

namespace vigil {

/// What a Monitor checks event times against, to refuse events dated too far ahead
/// (MonitorOptions::event_clock; docs/guide.md, "Event time").
enum class EventClock : std::uint8_t {
  /// The wall clock while the monitor's newest event lies within `future_tolerance` behind
  /// it and `clock_skew` ahead of it (a server, live), else the stream's own time (a log
  /// replay, of the past or of a synthetic future).
  automatic,
  /// Always the wall clock: events more than `clock_skew` ahead of it are refused.
  wall,
  /// Always the stream's own time: events more than `future_tolerance` ahead of the
  /// monitor's newest interval are refused.
  stream,
};

/// How a Monitor cuts time and judges it. Times are in seconds.
///
/// Every count below that sizes memory has a documented maximum (docs/guide.md, "Bounds");
/// validate() refuses a larger one, so no setting makes a Monitor allocate beyond reason.
struct MonitorOptions {
  /// Most fine intervals, and most coarse intervals, retained.
  static constexpr std::size_t max_retained_intervals = std::size_t(1) << 16;
  /// Most shards.
  static constexpr std::size_t max_shards = 1024;
  /// Most alert transitions kept in the report's alert log.
  static constexpr std::size_t max_alert_log = std::size_t(1) << 16;

  /// Length of an interval: the unit of short-term comparison and of alert persistence.
  double interval = 60;
  /// Fine intervals retained (the trailing background lives here): one hour by default. At
  /// most max_retained_intervals.
  std::size_t fine_intervals = 60;
  /// Roll-up interval for older history, a whole multiple of `interval`.
  double coarse_interval = 3600;
  /// Coarse intervals retained: 7 days by default. At most max_retained_intervals.
  std::size_t coarse_intervals = 168;
  /// The latest this many intervals are "recent", compared with the background.
  std::size_t recent_intervals = 1;
  /// The trailing background: this many seconds before the recent intervals.
  double background = 3600;
  /// Long-term drift is judged over this many seconds (capped by retention).
  double long_horizon = 24 * 3600;
  /// Events older than this many seconds before the start of the newest interval are
  /// counted late, not used.
  double lateness = 120;
  /// Event time ahead of the monitor's clock. An event dated further ahead than the bound
  /// below is refused and never moves the clock, so one request stamped a year ahead cannot
  /// make every later request late (Report::counters.future counts the refused ones). The
  /// reference is chosen by `event_clock`.
  EventClock event_clock = EventClock::automatic;
  /// Against the stream's own time (a replay): how far beyond the end of the newest
  /// interval an event may lie. The default, one day, lets a stream of one request an hour
  /// pass a quiet night and a quiet day; a longer gap is taken as a clock change (below).
  double future_tolerance = 24 * 3600;
  /// Against the wall clock (live): how far ahead of it an event may lie. The default, five
  /// minutes, tolerates servers whose clocks drift by minutes; an event accepted ahead of
  /// the clock by more than `lateness` can still make on-time requests late.
  double clock_skew = 300;
  /// A clock change is adopted after this many events in a row (none accepted between them)
  /// all lie beyond the bound and within `future_tolerance` of each other: a log that really
  /// jumps ahead, a server whose clock was corrected. The held events are then used, in the
  /// order they came; held events whose evidence falls short are refused and counted. The
  /// monitor holds at most this many events (copies of their observations).
  std::size_t clock_change_evidence = 16;
  /// Bins per numeric feature, at the training profile's percentiles.
  std::size_t numeric_bins = 50;
  /// Shards of per-thread state; 0 picks the next power of two ≥ hardware threads. At most
  /// max_shards.
  std::size_t shards = 0;
  /// Evaluate closed intervals (and fire alert callbacks) inside observe() as soon as event
  /// time passes their end, rather than at the next report(). Right for log replay; a server
  /// usually leaves this off so that no request pays for an evaluation.
  bool evaluate_in_observe = false;
  /// Latency: the latest this many seconds (whole intervals, at least one) are compared with
  /// the `latency_background` seconds before them (capped by retention).
  double latency_window = 300;
  double latency_background = 24 * 3600;
  /// Latency in seconds above which a request counts as slow for attribution; NaN: the
  /// background's p99 as of the latest evaluation (before the first, nothing is slow).
  double slow_threshold = std::numeric_limits<double>::quiet_NaN();
  /// Alert transitions the report's alert log keeps (Report::alert_log): a reader that
  /// looks at least once per this many transitions misses none. At most max_alert_log.
  std::size_t alert_log = 256;
  /// Quality from late labels (docs/guide.md, "Is it right?"). The output whose answers
  /// labels judge (Monitor::on_label): its name, or empty for the schema's first output.
  std::string quality_output;
  /// Requests with an id held for their label at most (all shards together; the oldest is
  /// pushed out first and counted), and for how long (seconds of event time). The store is
  /// allocated at the first request with an id: about LabelStore::bytes_per_request bytes
  /// per request of capacity. At most max_label_capacity.
  std::size_t label_capacity = std::size_t(1) << 18;
  double label_time_to_live = 24 * 3600;
  static constexpr std::size_t max_label_capacity = std::size_t(1) << 26;
  /// Labels are credited to the interval of their request at this resolution (a whole
  /// multiple of `interval`; 0: coarse_interval); realised metrics cover the requests of the
  /// last `quality_window` seconds (positive; taken as at least one quality interval and at
  /// most label_time_to_live).
  double quality_interval = 0;
  /// quality_interval, or coarse_interval when it is 0.
  double quality_resolution() const { return quality_interval > 0 ? quality_interval : coarse_interval; }
  double quality_window = 24 * 3600;
  /// Conversions (docs/guide.md, "Conversions"): the tag whose values are the arms compared
  /// (model, offer, variant), or empty for no conversion tracking (Monitor::on_conversion then
  /// throws). Its TagOptions::max_values must be at most Schema::max_cohort_values. A
  /// request with an id is an impression of its arm; Monitor::on_conversion(id, t) a response.
  std::string conversion_arm;
  /// Arms are compared at the delay by which this share of the eventual responses has come
  /// (in (0, 1]).
  double conversion_share = 0.6;
  /// The delay (seconds) at which responses count as eventual; 0: the delay that half of
  /// the kept impressions have outlived. At most label_time_to_live.
  double conversion_horizon = 0;
  /// Confidence of each arm's interval for its rate at the delay, across the arms together
  /// (Bonferroni), in (0, 1).
  double conversion_confidence = 0.95;
  /// Impressions are grouped by this many seconds (a whole multiple of `interval`; 0: ten
  /// minutes, or `interval` when longer, rounded to a whole multiple of it): the rate at a
  /// delay d counts the groups that ended at least d ago, so a group is the resolution of
  /// the impressions' age.
  double conversion_interval = 0;
  double conversion_resolution() const {
    if (conversion_interval > 0) return conversion_interval;
    return interval * std::max(1.0, std::round(600 / interval));
  }
  /// Samples to label (Report::samples; docs/guide.md, "Samples to label"): per evaluated
  /// interval, at most this many request ids of each kind (lowest confidence, highest
  /// confidence, nearest the threshold); 0 picks none. At most max_label_samples. Each
  /// candidate kept costs detail::LabelSampleSet::bytes_per_sample bytes, per shard and per interval
  /// closed and not yet evaluated.
  std::size_t label_samples = 20;
  static constexpr std::size_t max_label_samples = 256;
  /// Canary and challengers (docs/guide.md, "Canary and challengers"): per interval and shadow
  /// output, the requests on which the shadow deviates most from its champion are kept, this
  /// many (Report::canary, CanaryReport::top); 0 keeps none. At most max_canary_top. Each costs
  /// sizeof(detail::Deviation) bytes per shadow, per retained interval and per shard.
  std::size_t canary_top = 20;
  /// Loss attribution (docs/guide.md, "Why is it wrong?"): the attributions of the requests
  /// of the quality window are compared with those of the requests of this many seconds
  /// before it (positive; with label_time_to_live and quality_window (at most the
  /// time-to-live), at most
  /// max_retained_intervals quality intervals).
  double attribution_background = 3 * 24 * 3600;
  static constexpr std::size_t max_canary_top = 256;
  /// The arrival-rate predictor. Its interval is set to `interval`; while its lag settings
  /// (recent_lags, seasonal_lags, seasonal_window, history, refit_every) are all left at
  /// their defaults, those of RatePredictorOptions::for_interval(interval) are used.
  RatePredictorOptions rate;
  AlertPolicy alerts;

  /// Throws vigil::invalid_argument naming the first option out of its range.
  void validate() const;

 private:
  // The options of the label path: the store, quality, samples, shadows, attribution, conversions.
  void validate_labels() const;
  [[noreturn]] static void fail(const std::string& what) { detail::throw_invalid_argument("MonitorOptions: " + what); }
  static void at_most(const char* what, std::size_t value, std::size_t most) {
    if (value > most) fail(std::string(what) + " " + std::to_string(value) + " is above its maximum " + std::to_string(most));
  }
};

inline void MonitorOptions::validate() const {
  if (!(interval > 0) || !std::isfinite(interval)) fail("interval must be positive");
  if (fine_intervals < 2) fail("fine_intervals must be at least 2");
  at_most("fine_intervals", fine_intervals, max_retained_intervals);
  at_most("coarse_intervals", coarse_intervals, max_retained_intervals);
  at_most("shards", shards, max_shards);
  at_most("alert_log", alert_log, max_alert_log);
  if (recent_intervals < 1 || recent_intervals >= fine_intervals)
    fail("recent_intervals must be at least 1 and below fine_intervals");
  if (!(background >= 0)) fail("background must not be negative");
  if (numeric_bins < 2 || numeric_bins > 1000) fail("numeric_bins must be in [2, 1000]");
  if (!(lateness >= 0) || lateness > interval * static_cast<double>(fine_intervals - 1))
    fail("lateness must be in [0, (fine_intervals - 1) * interval]");
  if (!(future_tolerance > 0) || !(clock_skew >= 0))
    fail("future_tolerance must be positive and clock_skew not negative (either may be infinite)");
  if (clock_change_evidence < 1 || clock_change_evidence > 4096)
    fail("clock_change_evidence must be in [1, 4096]");
  if (!(latency_window > 0) || !(latency_background > 0))
    fail("latency_window and latency_background must be positive");
  if (!std::isnan(slow_threshold) && !(slow_threshold >= 0 && std::isfinite(slow_threshold)))
    fail("slow_threshold must be NaN (automatic) or a non-negative number of seconds");
  validate_labels();
  alerts.validate();
}

inline void MonitorOptions::validate_labels() const {
  at_most("label_capacity", label_capacity, max_label_capacity);
  if (label_capacity < 1) fail("label_capacity must be at least 1");
  if (!(label_time_to_live > 0) || !std::isfinite(label_time_to_live)) fail("label_time_to_live must be positive and finite");
  const double resolution = quality_resolution();
  if (quality_interval != 0 && (!(quality_interval >= interval) || !std::isfinite(quality_interval) ||
                                std::fabs(quality_interval / interval - std::round(quality_interval / interval)) > 1e-9))
    fail("quality_interval must be 0 or a whole multiple of interval");
  if (!(quality_window > 0)) fail("quality_window must be positive");
  at_most("label_samples", label_samples, max_label_samples);
  at_most("canary_top", canary_top, max_canary_top);
  if (label_time_to_live / resolution > static_cast<double>(max_retained_intervals))
    fail("label_time_to_live spans more than " + std::to_string(max_retained_intervals) + " quality intervals");
  if (!(attribution_background > 0) || !std::isfinite(attribution_background)) fail("attribution_background must be positive and finite");
  if ((label_time_to_live + std::min(quality_window, label_time_to_live) + attribution_background) / resolution >
      static_cast<double>(max_retained_intervals))
    fail("label_time_to_live + quality_window + attribution_background span more than " +
         std::to_string(max_retained_intervals) + " quality intervals");
  if (!(conversion_share > 0 && conversion_share <= 1)) fail("conversion_share must be in (0, 1]");
  if (!(conversion_horizon >= 0 && conversion_horizon <= label_time_to_live))
    fail("conversion_horizon must be in [0, label_time_to_live]");
  if (!(conversion_confidence > 0 && conversion_confidence < 1)) fail("conversion_confidence must be in (0, 1)");
  if (conversion_interval != 0 &&
      (!(conversion_interval >= interval) || !std::isfinite(conversion_interval) ||
       std::fabs(conversion_interval / interval - std::round(conversion_interval / interval)) > 1e-9))
    fail("conversion_interval must be 0 or a whole multiple of interval");
  if (label_time_to_live / conversion_resolution() > static_cast<double>(max_retained_intervals))
    fail("label_time_to_live spans more than " + std::to_string(max_retained_intervals) + " conversion intervals");
}

}  // namespace vigil

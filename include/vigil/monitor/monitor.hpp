// vigil — in-process monitoring of machine-learning models in C++ inference servers.
// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "vigil/config.hpp"
#include "vigil/error.hpp"
#include "vigil/io/binary.hpp"
#include "vigil/io/file.hpp"
#include "vigil/monitor/alerts.hpp"
#include "vigil/monitor/detail/evaluation.hpp"
#include "vigil/monitor/detail/intake.hpp"
#include "vigil/monitor/detail/monitor_families.hpp"
#include "vigil/monitor/detail/snapshot_frame.hpp"
#include "vigil/monitor/observation.hpp"
#include "vigil/monitor/options.hpp"
#include "vigil/monitor/profile.hpp"
#include "vigil/monitor/report.hpp"
#include "vigil/monitor/schema.hpp"
#include "vigil/monitor/subject.hpp"

namespace vigil {

/// Watches a model in production: call observe() once per request, inline, from any number
/// of server threads; poll report() from a metrics endpoint or a monitoring thread. Its
/// status feeds alerting, never a liveness or readiness probe: failing a probe on drift or
/// on a silence takes healthy replicas out of service (docs/guide.md).
///
/// The data flow: observe() files the request into the current interval of its thread's
/// shard (the intake); when event time passes an interval's end, the shards hand it to the
/// retained windows (fine intervals, then hourly roll-ups, per cohort value too); each
/// closed interval is then evaluated once — every monitor family (features, outputs,
/// traffic, latency, quality, conversions, canary, attribution; docs/concepts.md) analyses the retained windows, p-values are corrected
/// across subjects and cohorts (Benjamini-Hochberg), the evidence feeds the alert state
/// machine — and the result is stored. report() returns that result.
///
/// **Evaluation** happens in observe() with MonitorOptions::evaluate_in_observe (a log
/// replay), or else when report(), report(now), evaluate() or finish() find intervals that
/// closed since: each interval is evaluated exactly once, in order, whoever asks first, and
/// asking consumes nothing: every reader sees the same report, open alerts and alert log.
/// Of more than fine_intervals − 1 intervals closed since the latest evaluation, the older ones
/// have left fine retention: they are counted in InputCounters::skipped_evaluations, one per
/// interval, and not evaluated (docs/guide.md, "Ask for the report"). A silence
/// (no request while some are expected) is judged only when the time is given: report(now)
/// or evaluate(now) from a metrics scrape with the wall clock, or an event's own time.
///
/// **Threads**: observe() takes a shard's lock (a spin lock; a thread whose shard is busy
/// moves to a free one) and, once per interval, the retention lock; evaluation takes each
/// shard's lock briefly, then works on merged copies. Callbacks run after the evaluation, one
/// at a time, in event-time order, with no lock of the monitor held: they may read the
/// monitor, evaluate it or register callbacks. They run on the thread that evaluated, unless
/// another thread is delivering already, which then delivers them too (so an evaluation may
/// return before its callbacks have run); an exception a callback throws leaves the call that
/// delivered, after every callback has had every event.
///
/// **Memory**: per retained interval (fine_intervals + coarse_intervals + 2, per cohort value
/// too) one interval summary — 16 bytes and each family's state: 8 bytes per bin
/// (at most numeric_bins + 4 per numeric feature, one per training category + 1 per categorical
/// feature, at most 11 per output, classes + 1 per output) plus 16 bytes per numeric feature and
/// 8 unseen category values per categorical feature, a t-digest at δ = 50 per output, a
/// latency histogram and 16 bytes per tag value (max_values + 1 per tag) — and the same
/// again per shard; the plan derived from the profile, once (per numeric feature its edges,
/// reference shares and a bin locator of 0.5–8 KB), plus per shard a copy of what the
/// request path reads (edges and grid cells, 8 and 4 bytes each); the rate predictor
/// (16 bytes per interval of its history) and its arrival detector (16 bytes per residual of
/// its scale window, at most 2,016); the latency histogram since start (at most 8 KB, and a
/// copy in the latest report); the alert log (MonitorOptions::alert_log alerts); and
/// while events dated ahead of the clock are held as evidence of a clock change, copies of at
/// most MonitorOptions::clock_change_evidence observations; from the first request with an id,
/// the store of requests waiting for their label (MonitorOptions::label_capacity requests of
/// LabelStore::bytes_per_request bytes), the labels waiting for their interval's evaluation
/// (at most label_capacity), and the labels credited per quality interval (docs/guide.md,
/// section 10); for samples to label (MonitorOptions::label_samples = k, a classifier's
/// requests with an id), per shard from its first request with an id, and per interval closed
/// and not yet evaluated (at most
/// fine_intervals, usually one) 3k candidates (2k without a threshold) of
/// detail::LabelSampleSet::bytes_per_sample bytes; per shadow output (Schema::add_canary,
/// add_challenger), in each interval summary, about 600 bytes, a histogram of the deviations
/// (detail::CanaryPlan::histogram: at most 2 KB) and at most MonitorOptions::canary_top kept requests of sizeof(detail::Deviation) bytes; once labels
/// carry loss attributions, per slot 64 bytes per input feature and quality interval of
/// label_time_to_live + quality_window + attribution_background, and the attributions waiting
/// for their interval's evaluation (at most label_capacity, and 2^22 values). docs/benchmarks.md has the figure for 96 numeric and 4 categorical features.
///
/// **Bad input**: observations made for another schema (one whose handles name other
/// features, outputs or tags, e.g. the previous model's after a reload) throw
/// vigil::invalid_argument; NaN event times, late events, events dated too far ahead
/// (MonitorOptions::event_clock), NaN feature values and negative latencies are counted (see
/// Report::counters and FeatureReport), never thrown.
class Monitor {
 public:
  using AlertCallback = std::function<void(const Alert&)>;
  /// Called with the report of each interval as it is evaluated.
  using IntervalCallback = std::function<void(const Report&)>;

  /// Throws vigil::invalid_argument for options out of range or a profile of another schema.
  Monitor(Schema schema, Profile profile, MonitorOptions options = {});
  Monitor(const Monitor&) = delete;
  Monitor& operator=(const Monitor&) = delete;

  /// Files one request. Thread-safe; no heap allocation in steady state. The observation must
  /// have been made for this monitor's schema: from schema(), from the schema the monitor was
  /// constructed with or a copy of it (checked in O(1) by Schema::id), or from a schema built
  /// separately with the same layout (Schema::same_layout, O(names) per request). Any other
  /// throws vigil::invalid_argument.
  void observe(const Observation& observation);

  /// Counts a request's arrival, before the model answers it, at event time `unix_seconds`
  /// (or now). Once a monitor has seen an arrival, the traffic report compares arrivals with
  /// their predicted rate and completions (observe()) with arrivals, so a server that stops
  /// answering is told apart from one that is not asked; until then every observed request
  /// counts as its own arrival. Thread-safe, no allocation. A NaN or infinite time is
  /// counted (InputCounters::bad_arrival_time), a late one in InputCounters::late.
  void on_arrival(double unix_seconds);
  void on_arrival();

  /// Joins a late label to the request whose id it names (Observation::id), at event time
  /// `unix_seconds` (or now). The label is the true answer of the quality output
  /// (MonitorOptions::quality_output): a number (0 or 1 for a binary classifier, the value
  /// for a regression, a class index for a multi-class output) or text (a class name; "1",
  /// "true", "positive" and "0", "false", "negative" for a binary classifier; a decimal
  /// number for a regression). It is credited to the quality interval of its request, and
  /// counts in the evaluation of the interval it arrived in. Thread-safe; no allocation in
  /// steady state, except that when as many labels wait for evaluation as the label store
  /// holds, this call evaluates the closed intervals (as report() would, callbacks included).
  /// Returns whether it was joined; a label that is not (its id unknown or pushed out, a
  /// second label, too late, of the wrong type, dated before its request, a NaN time) is
  /// counted in QualityReport, never thrown. Throws vigil::invalid_argument only for a schema
  /// without outputs (nothing for a label to judge).
  bool on_label(std::string_view id, double label, double unix_seconds) { return take_label(id, label, unix_seconds); }
  bool on_label(std::string_view id, std::string_view label, double unix_seconds) {
    return take_label(id, label, unix_seconds);
  }
  bool on_label(std::string_view id, const char* label, double unix_seconds) {
    return take_label(id, std::string_view(label), unix_seconds);
  }
  bool on_label(std::string_view id, const std::string& label, double unix_seconds) {
    return take_label(id, std::string_view(label), unix_seconds);
  }
  template <class Label>
  bool on_label(std::string_view id, const Label& label) {
    return on_label(id, label, detail::wall_clock_now());
  }
  /// The same, with the request's loss attributed to the input features (docs/guide.md, "Why
  /// is it wrong?"): `count` values, one per input feature, numeric features first, then
  /// categorical ones, in schema order (Report::features' order), e.g. the SHAP values of the
  /// log-loss of a tree model. They count for the attribution family when the label joins;
  /// another number of values is counted (QualityReport::attributions_wrong_count) and left
  /// out, the label still joined; a NaN or infinite value is counted
  /// (QualityReport::attribution_bad_values) and left out of its feature.
  bool on_label(std::string_view id, double label, double unix_seconds, const double* attributions, std::size_t count) {
    return take_label(id, label, unix_seconds, attributions, count);
  }
  bool on_label(std::string_view id, std::string_view label, double unix_seconds, const double* attributions,
                std::size_t count) {
    return take_label(id, label, unix_seconds, attributions, count);
  }
  bool on_label(std::string_view id, double label, double unix_seconds, const std::vector<double>& attributions) {
    return take_label(id, label, unix_seconds, values_of(attributions), attributions.size());
  }
  bool on_label(std::string_view id, std::string_view label, double unix_seconds, const std::vector<double>& attributions) {
    return take_label(id, label, unix_seconds, values_of(attributions), attributions.size());
  }
  /// The same, the attributions computed by the profile's loss model
  /// (Profile::set_loss_model) from `request`, the request's observation as the server made
  /// it (or one with the same numeric feature values): a server without an explainer of its
  /// own. A request without a finite value of every numeric feature gives NaN attributions
  /// (counted in QualityReport::attribution_bad_values). Costs what
  /// LossAttribution::attribute costs (docs/benchmarks.md) plus on_label's. Throws
  /// vigil::invalid_argument when the profile has no loss model, or for a request made for
  /// another schema (as observe() does).
  bool on_label(std::string_view id, double label, double unix_seconds, const Observation& request);

  /// Joins a response (a click, a purchase: a conversion) to the impression whose id it
  /// names, at event time `unix_seconds` (or now). Impressions are the requests with an id;
  /// their arm is their value of the tag MonitorOptions::conversion_arm. The response counts
  /// in the evaluation of the interval it arrived in, by its delay since the impression
  /// (Report::conversions). Thread-safe; no allocation in steady state, except that when as
  /// many responses wait for evaluation as the label store holds, this call evaluates the
  /// closed intervals (as on_label does). Returns whether it was joined; one that is not (its
  /// id unknown or pushed out, a second response to one impression, after the time-to-live,
  /// dated before its impression, a NaN time) is counted in ConversionReport, never thrown.
  /// Throws vigil::invalid_argument only when conversion_arm is not set.
  bool on_conversion(std::string_view id, double unix_seconds);
  bool on_conversion(std::string_view id) { return on_conversion(id, detail::wall_clock_now()); }

  /// The report as of the latest evaluation, after evaluating every interval that ended at
  /// or before the latest event time. Calling it again without new events returns the same
  /// report.
  Report report();
  /// The same at `now`: event time advances to `now` first, so a quiet stream still closes
  /// its intervals and a stopped one is judged by the silence up to `now` — what a metrics
  /// scrape or a monitoring thread with the wall clock asks.
  Report report(double now);
  /// The end of a recorded stream (a log replay): evaluates every interval up to and including
  /// the one holding the latest event, as if time had moved on to its end, and returns the
  /// report then. Unlike report(now), the time after the last event is not judged as a
  /// silence: the log ended, not the traffic.
  Report finish();
  /// Evaluates as report() and report(now) do (firing callbacks), without building a report.
  void evaluate();
  void evaluate(double now);

  /// Called with every alert transition (raised, escalated, resolved), in event-time order.
  void on_alert(AlertCallback callback) { evaluator_.on_alert(std::move(callback)); }
  /// Called with the report of every interval as it is evaluated, in event-time order, before
  /// the interval's alert transitions reach on_alert callbacks (inside observe() when
  /// MonitorOptions::evaluate_in_observe is set): per-interval figures for a replay or a
  /// dashboard, without changing what is evaluated.
  void on_interval(IntervalCallback callback) { evaluator_.on_interval(std::move(callback)); }

  const Schema& schema() const { return schema_; }
  const Profile& profile() const { return profile_; }
  const MonitorOptions& options() const { return options_; }
  /// Bytes allocated by the monitor: the plan, every shard's open interval, every retained
  /// interval, the rate predictor, the alert states and log (the bound in the class comment).
  /// O(intervals); takes the locks.
  std::size_t memory_bytes() const {
    return sizeof(*this) - sizeof(plan_) - sizeof(intake_) - sizeof(evaluator_) + plan_.memory_bytes() +
           intake_.memory_bytes() + evaluator_.memory_bytes() + loss_features_.capacity() * sizeof(std::uint32_t);
  }

  /// The monitor's whole state as bytes (docs/formats.md, "Monitor snapshot"; sealed with a
  /// CRC-32C): what identifies the monitor (its schema with tags and shadow outputs, a
  /// fingerprint of its profile, the options that shape its state), then every slot's
  /// retained windows and open interval, the tag values, the counters and clocks, the events
  /// held as evidence of a clock change, the requests waiting for their label and what waits
  /// for evaluation, each family's learnt state (the rate predictor's history and its
  /// detector, the quality, conversion and attribution ledgers and CUSUM), the alert states
  /// and log, and the latest report. restore() continues from it exactly. Thread-safe: waits
  /// for an evaluation under way, and requests arriving meanwhile wait for it (they are in
  /// the snapshot or after it, never lost). Evaluates nothing; a shard still holding an
  /// interval older than the newest hands it over first, as the next request would make it.
  /// O(retained state); the bytes are about a fifth of memory_bytes() (docs/benchmarks.md:
  /// 2.6 MB for 100 features and 7 days).
  std::vector<std::uint8_t> snapshot() const;
  /// Writes snapshot() to a file, crash-safely (io::write_file, docs/formats.md "Files"): the
  /// file holds the old snapshot or the new one, never a mix, even when the process is killed.
  /// Throws vigil::io_error.
  void save(const std::string& path, const io::WriteOptions& write = {}) const { io::write_file(path, snapshot(), write); }

  /// A monitor that continues from `snapshot` (snapshot()'s bytes): fed the rest of a stream,
  /// it raises the same alerts and reports the same figures as the monitor that wrote it
  /// would have (t-digests within their error bound: a digest is written as its centroids).
  /// `schema`, `profile` and `options` are the writer's: a snapshot of another schema (names,
  /// kinds, classes, tags and their options, shadow outputs), of another profile, of another
  /// value of an option that shapes the state (detail::option_fields(): retention, bins, the
  /// label store, quality and conversion resolutions, samples, canary_top, attribution
  /// background, the rate predictor) or of a newer format version is refused with
  /// vigil::format_error naming the difference; so are corrupt bytes (checksum) and any state
  /// out of its bounds. Options that judge rather than shape (the alert policy, the windows
  /// compared, lateness, the event clock, shards, evaluate_in_observe) may change.
  static Monitor restore(const void* snapshot, std::size_t size, Schema schema, Profile profile,
                         MonitorOptions options = {}) {
    return Monitor(snapshot, size, std::move(schema), std::move(profile), std::move(options));
  }
  static Monitor restore(const std::vector<std::uint8_t>& snapshot, Schema schema, Profile profile,
                         MonitorOptions options = {}) {
    return restore(snapshot.data(), snapshot.size(), std::move(schema), std::move(profile), std::move(options));
  }
  /// The same with the schema, profile and options the snapshot carries: a snapshot on its own
  /// (a report or a merge away from the server, `vigil report --snapshot`).
  /// A snapshot whose schema, profile and options build no monitor is refused with
  /// vigil::format_error too.
  static Monitor restore(const void* snapshot, std::size_t size) {
    detail::SnapshotFrame f = frame_of(snapshot, size);
    io::Reader r(nullptr, 0, "monitor snapshot");
    const MonitorOptions options = f.monitor_options(r);
    try {
      return Monitor(snapshot, size, std::move(f.schema), Profile::deserialize(f.profile), options);
    } catch (const invalid_argument& e) {
      detail::throw_format_error(std::string("cannot read monitor snapshot: its schema, profile and options build no "
                                             "monitor: ") + e.what());
    }
  }
  static Monitor restore(const std::vector<std::uint8_t>& snapshot) { return restore(snapshot.data(), snapshot.size()); }
  /// restore() from a file written by save(). Throws vigil::io_error when it cannot be read,
  /// vigil::format_error (naming the file) when it is refused.
  static Monitor load(const std::string& path, Schema schema, Profile profile, MonitorOptions options = {}) {
    const std::vector<std::uint8_t> bytes = io::read_file(path, max_snapshot_bytes);
    try {
      return restore(bytes, std::move(schema), std::move(profile), std::move(options));
    } catch (const format_error& e) {
      detail::throw_format_error(path + ": " + e.what());
    }
  }
  static Monitor load(const std::string& path) {
    const std::vector<std::uint8_t> bytes = io::read_file(path, max_snapshot_bytes);
    try {
      return restore(bytes);
    } catch (const format_error& e) {
      detail::throw_format_error(path + ": " + e.what());
    }
  }
  /// The largest snapshot file load() reads: 4 GiB (docs/benchmarks.md has the size of a
  /// week of 100 features), or what the address space allows.
  static constexpr std::size_t max_snapshot_bytes =
      sizeof(std::size_t) > 4 ? static_cast<std::size_t>(std::uint64_t(1) << 32) : std::size_t(-1) / 2;

  /// Adds another replica's monitor: of the same schema (tags and shadow outputs too), the
  /// same profile and the same shaping options (else vigil::invalid_argument naming the
  /// difference). Requests, arrivals, bins, category counts, counters and latency histograms
  /// add exactly, interval by interval (a tag value is matched by its name, whatever id each
  /// replica gave it); t-digests merge within their error bound. The labels already credited
  /// (quality, conversion and attribution ledgers) and their counters add; requests still
  /// waiting for their label, and labels waiting for their interval's evaluation, stay with the
  /// replica that holds them. What the evaluation learnt is not merged but recomputed from the
  /// merged data: the alert states, the alert log and the latest report start again, and the
  /// next report() evaluates the intervals still retained at fine resolution, learning the
  /// arrival rate and raising alerts from them (so a fleet's alerts are the fleet's, not a sum
  /// of its replicas'). `other` is read through its snapshot() and is not changed; a monitor
  /// merged with itself doubles. O(retained state).
  void merge(const Monitor& other) {
    const std::vector<std::uint8_t> bytes = other.snapshot();
    merge_snapshot(bytes.data(), bytes.size());
  }
  /// The same from a replica's snapshot() bytes (`vigil merge`); a snapshot that restore()
  /// refuses is refused with vigil::format_error.
  void merge(const std::vector<std::uint8_t>& snapshot) { merge_snapshot(snapshot.data(), snapshot.size()); }

  /// Requests accepted so far.
  std::uint64_t observed() const { return intake_.observed(); }
  /// Latest event time seen (of an observe() or an on_arrival()), or passed to report(now)
  /// (NaN before either).
  double latest_time() const { return intake_.latest_time(); }

 private:
  template <class Label>
  bool take_label(std::string_view id, const Label& label, double t, const double* attributions = nullptr,
                  std::size_t count = 0);
  // An empty list is given attributions too: of the wrong number.
  static const double* values_of(const std::vector<double>& v) {
    static const double none = 0;
    return v.empty() ? &none : v.data();
  }
  void check_shape(const Observation& o) const;
  void check_layout(const Observation& o) const;
  Monitor(const void* snapshot, std::size_t size, Schema schema, Profile profile, MonitorOptions options)
      : Monitor(std::move(schema), std::move(profile), std::move(options)) {
    load_snapshot(snapshot, size);
  }
  void load_snapshot(const void* data, std::size_t size);
  void merge_snapshot(const void* data, std::size_t size);
  // The snapshot's frame, its checksum verified; `r` (if given) is left after it.
  static detail::SnapshotFrame frame_of(const void* data, std::size_t size, io::Reader* r = nullptr);
  static MonitorOptions checked(MonitorOptions options) {
    options.validate();
    return options;
  }

  Schema schema_;
  Profile profile_;
  MonitorOptions options_;
  detail::MonitorPlan plan_;
  detail::Intake intake_;
  detail::Evaluator evaluator_;
  std::vector<std::uint32_t> loss_features_;  // per feature of the profile's loss model, the monitor's numeric feature
};

inline Monitor::Monitor(Schema schema, Profile profile, MonitorOptions options)
    : schema_(std::move(schema)),
      profile_([&] {
        profile.check(schema_);
        profile.compact();
        return std::move(profile);
      }()),
      options_(checked(options)),
      plan_(detail::MonitorPlan::make(schema_, profile_, options_)),
      intake_(schema_, plan_, options_),
      evaluator_(schema_, profile_, plan_, options_, intake_) {
  if (profile_.loss_model())
    for (std::uint32_t i = 0; i < profile_.schema().numeric_count(); ++i)
      loss_features_.push_back(schema_.numeric(profile_.schema().name(NumericFeature{i})).index);
}

// The observation owns its schema, so reading it is safe even when the schema it was made
// from is gone. The counts are compared too: a moved-from schema keeps its id but not its
// names.
inline void Monitor::check_shape(const Observation& o) const {
  const Schema& s = o.schema();
  if (VIGIL_UNLIKELY(s.id() != schema_.id() || s.numeric_count() != schema_.numeric_count() ||
                     s.categorical_count() != schema_.categorical_count() ||
                     s.output_count() != schema_.output_count() || s.tag_count() != schema_.tag_count()))
    check_layout(o);
}

VIGIL_NOINLINE inline void Monitor::check_layout(const Observation& o) const {
  if (o.schema().same_layout(schema_)) return;
  detail::throw_invalid_argument(
      "Monitor::observe: the observation was made for another schema (" + std::to_string(o.schema().numeric_count()) +
      " numeric, " + std::to_string(o.schema().categorical_count()) + " categorical, " +
      std::to_string(o.schema().output_count()) + " outputs, " + std::to_string(o.schema().tag_count()) +
      " tags; this monitor's has " + std::to_string(schema_.numeric_count()) + ", " +
      std::to_string(schema_.categorical_count()) + ", " + std::to_string(schema_.output_count()) + ", " +
      std::to_string(schema_.tag_count()) +
      " or other names): after a model reload, make a new Observation from the new monitor's schema()");
}

inline std::vector<std::uint8_t> Monitor::snapshot() const {
  std::vector<std::uint8_t> out;
  io::Writer w(out);
  w.header(io::TypeId::monitor_snapshot, detail::monitor_snapshot_version);
  detail::save_frame(w, schema_, profile_, options_);
  const io::ExactState exact;  // digests as they are: the restored monitor continues bit for bit
  // A shard handing an older interval over (Intake::save) moves data; nothing reported changes.
  const_cast<detail::Evaluator&>(evaluator_).save(w);
  io::seal(out);
  return out;
}

inline detail::SnapshotFrame Monitor::frame_of(const void* data, std::size_t size, io::Reader* out) {
  const std::size_t body = io::unseal(data, size, 1, "monitor snapshot");
  io::Reader r(data, body, "monitor snapshot");
  std::uint16_t flags = 0;
  r.header(io::TypeId::monitor_snapshot, detail::monitor_snapshot_version, flags);
  if ((flags & ~io::sealed_flag) != 0) r.fail("unknown flags " + std::to_string(flags));
  detail::SnapshotFrame f = detail::load_frame(r);
  if (out != nullptr) *out = r;
  return f;
}

inline void Monitor::load_snapshot(const void* data, std::size_t size) {
  io::Reader r(data, size, "monitor snapshot");
  const detail::SnapshotFrame f = frame_of(data, size, &r);
  detail::check_frame(r, f, schema_, profile_, options_);
  evaluator_.load(r, plan_, schema_);
  r.finish();
}

inline void Monitor::merge_snapshot(const void* data, std::size_t size) {
  io::Reader r(data, size, "monitor snapshot");
  const detail::SnapshotFrame f = frame_of(data, size, &r);
  const std::string difference = detail::frame_difference(f, schema_, profile_, options_);
  if (!difference.empty()) detail::throw_invalid_argument("Monitor::merge: " + difference);
  Monitor other(schema_, profile_, options_);
  other.load_snapshot(data, size);
  evaluator_.merge(other.evaluator_, plan_);
}

inline void Monitor::observe(const Observation& o) {
  check_shape(o);
  const std::int64_t opened = intake_.observe(o);
  if (opened != detail::IntervalClock::none && options_.evaluate_in_observe) evaluate(intake_.clock().start(opened));
}

inline void Monitor::on_arrival() { on_arrival(detail::wall_clock_now()); }

inline void Monitor::on_arrival(double t) {
  const std::int64_t opened = intake_.arrive(t);
  if (opened != detail::IntervalClock::none && options_.evaluate_in_observe) evaluate(intake_.clock().start(opened));
}

template <class Label>
bool Monitor::take_label(std::string_view id, const Label& label, double t, const double* attributions, std::size_t count) {
  detail::LabelIntake* labels = intake_.labels();
  if (labels == nullptr || schema_.output_count() == 0)
    detail::throw_invalid_argument("Monitor::on_label: the schema has no output for labels to judge");
  // A null pointer with values is no list of attributions: counted as the wrong number.
  if (attributions == nullptr && count > 0) attributions = values_of({}), count = 0;
  const bool joined = labels->label(id, label, t, attributions, count);
  if (VIGIL_UNLIKELY(labels->staging_full())) {
    // Labels wait for the evaluation of the interval they arrived in; when as many wait as
    // the label store holds, the closed intervals are evaluated now, and what still waits
    // (labels of the open interval) is credited at once (QualityReport::labels_applied_early).
    evaluate();
    evaluator_.take_overflow();
  }
  return joined;
}

// The model's features are the profile's numeric features, which the monitor's schema may
// declare in another order: its values are gathered, and its shares scattered back, by name.
inline bool Monitor::on_label(std::string_view id, double label, double t, const Observation& request) {
  const std::optional<LossAttribution>& model = profile_.loss_model();
  if (!model) detail::throw_invalid_argument("Monitor::on_label: the profile has no loss model (Profile::set_loss_model)");
  check_shape(request);
  const std::size_t d = model->features();
  thread_local std::vector<double> x, phi, shares;
  x.resize(d);
  phi.resize(d);
  shares.assign(schema_.numeric_count() + schema_.categorical_count(), 0.0);
  bool usable = true;
  for (std::size_t i = 0; i < d; ++i) {
    const NumericFeature f{loss_features_[i]};
    usable = usable && request.state(f) == Observation::State::value;
    x[i] = usable ? request.value(f) : 0.0;
  }
  if (usable && model->attribute(x.data(), label, phi.data())) {
    for (std::size_t i = 0; i < d; ++i) shares[loss_features_[i]] = phi[i];
  } else {
    std::fill(shares.begin(), shares.end(), std::numeric_limits<double>::quiet_NaN());
  }
  return take_label(id, label, t, shares.data(), shares.size());
}

inline bool Monitor::on_conversion(std::string_view id, double t) {
  detail::LabelIntake* labels = intake_.labels();
  if (labels == nullptr || labels->arm_tag() == detail::no_tag)
    detail::throw_invalid_argument("Monitor::on_conversion: MonitorOptions::conversion_arm names no tag");
  const bool joined = labels->conversion(id, t);
  if (VIGIL_UNLIKELY(labels->staging_full())) {
    evaluate();
    evaluator_.take_overflow();
  }
  return joined;
}

inline void Monitor::evaluate() { evaluator_.run(intake_.latest_time(), false); }

inline void Monitor::evaluate(double now) {
  intake_.advance_time(now);
  evaluator_.run(intake_.latest_time(), true);
}

inline Report Monitor::report() {
  evaluate();
  return evaluator_.report();
}

inline Report Monitor::report(double now) {
  evaluate(now);
  return evaluator_.report();
}

inline Report Monitor::finish() {
  intake_.refuse_held();  // no more evidence of a clock change comes
  const double latest = intake_.latest_time();
  if (std::isnan(latest)) return report();
  // Half an interval past the end, so that rounding of the interval's start cannot leave the
  // last interval open. The log may end inside its last interval: that interval's arrival
  // count is partial and is not judged against the rate (its data is analysed as usual).
  const detail::IntervalClock& clock = intake_.clock();
  const double end = clock.start(clock.of(latest) + 1) + options_.interval / 2;
  intake_.advance_time(end);
  evaluator_.set_partial(clock.of(latest));
  evaluator_.run(end, false);
  return evaluator_.report();
}

}  // namespace vigil

// vigil — in-process monitoring of machine-learning models in C++ inference servers.
// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "vigil/error.hpp"
#include "vigil/io/binary.hpp"

namespace vigil {

/// Layout of a TimeWindows: fine intervals, then coarser roll-ups. Times in seconds.
struct TimeWindowsOptions {
  /// Length of a fine interval (> 0). Intervals are aligned to multiples of it since the
  /// Unix epoch, so replicas and shards cut time the same way.
  double fine_width = 60;
  /// Fine intervals kept, the current one included (≥ 1).
  std::size_t fine_count = 60;
  /// Length of a coarse interval: a whole multiple of fine_width.
  double coarse_width = 3600;
  /// Coarse intervals kept (≥ 0; 0 keeps no history beyond the fine intervals).
  std::size_t coarse_count = 168;
  /// How far behind the latest event time an event may arrive and still be added to its
  /// own interval; at most (fine_count − 1) × fine_width.
  double lateness = 60;
};

/// One sketch per fixed interval of event time, the last few at fine resolution and older
/// ones rolled up by merge into coarse intervals (by default one minute × 60, then one hour
/// × 168: a week of history).
///
/// **Time** is event time in seconds as a double (Unix seconds: what a CSV replay reads and
/// what a server stamps); interval k covers [k·width, (k + 1)·width).
///
/// **Sketch requirements** (TDigest, LogHistogram, RunningStats, CategoryCounts, ...):
///
/// | expression            | meaning                                                 |
/// |-----------------------|---------------------------------------------------------|
/// | `Sketch s(prototype)` | copy: every interval starts as a copy of the prototype, |
/// |                       | so a TDigest's compression or a histogram's scale stays |
/// | `s.merge(t)`          | adds everything `t` summarises                          |
/// | `s.clear()`           | optional: empties `s` keeping its parameters; without   |
/// |                       | it, `s = prototype` is used                              |
///
/// **Rotation.** The interval of the latest event is the current one. An event in a later
/// interval advances the clock: fine intervals falling out of the fine range are merged into
/// the coarse interval containing them (one merge per fine interval, O(1) amortised per
/// event), and every interval skipped over is kept as an empty interval — zero traffic is
/// data. A jump of any size costs at most fine_count + coarse_count resets.
///
/// **Late events.** An event at most `lateness` seconds older than the latest time goes to
/// its own (older) fine interval. An older one is not added and is counted in late();
/// events with a NaN or infinite time are counted in rejected().
///
/// **Memory**: exactly fine_count + coarse_count + 1 sketches (the prototype included),
/// allocated up front; growth within a sketch follows that sketch's own bound. deserialize()
/// builds each sketch as it reads it, so the memory it takes grows with the bytes read,
/// whatever counts the input declares.
///
/// **Threads**: const members may run concurrently; the rest need exclusive access.
///
/// ```cpp
/// vigil::TimeWindows<vigil::TDigest<>> latency(vigil::TDigest<>(100));
/// if (auto* digest = latency.at(event_unix_seconds)) digest->add(latency_ms);
/// vigil::TDigest<> last_hour = latency.merge_last(3600);
/// ```
template <class Sketch>
class TimeWindows {
 public:
  using sketch_type = Sketch;

  /// A retained interval [start, end) and its sketch. A coarse interval that is partly still
  /// at fine resolution ends where the fine intervals begin.
  struct Interval {
    double start;
    double end;
    bool coarse;
    const Sketch* sketch;
  };

  /// Intervals whose sketches start as copies of `prototype`. Throws vigil::invalid_argument
  /// for widths that are not finite and positive, a coarse width that is not a whole
  /// multiple of the fine width, fine_count = 0, or a lateness outside
  /// [0, (fine_count − 1) × fine_width].
  explicit TimeWindows(Sketch prototype = Sketch(), TimeWindowsOptions options = {});

  /// The sketch of the interval containing `time`, after advancing the clock to it; add the
  /// event's data to it. nullptr, with late() or rejected() incremented, for an event older
  /// than the lateness allows or a time that is NaN or infinite. O(1) amortised.
  Sketch* at(double time) {
    // Most events fall in the current interval: two comparisons, no division.
    if (VIGIL_LIKELY(time >= current_begin_ && time < current_end_)) {
      if (time > watermark_) watermark_ = time;
      return &fine_[current_slot_];
    }
    return at_slow(time);
  }

  /// Shorthand for `at(time)->add(args...)`; returns whether the event was taken.
  template <class... Args>
  bool add(double time, Args&&... args) {
    Sketch* s = at(time);
    if (s == nullptr) return false;
    s->add(std::forward<Args>(args)...);
    return true;
  }

  /// Advances the clock to `time` without an event, closing the intervals before it (for a
  /// report at "now" when traffic has stopped). Earlier or non-finite times are ignored.
  void advance(double time);

  /// Merge of the retained intervals that lie within the last `duration` seconds, counted
  /// back from the end of the current interval: merge_last(3600) with one-minute fine
  /// intervals merges the current minute and the 59 before it. O(intervals merged).
  Sketch merge_last(double duration) const;

  /// Merge of the retained intervals lying entirely within [t0, t1). Intervals that straddle
  /// t0 or t1 are left out: the answer has the resolution of the intervals.
  Sketch merge_range(double t0, double t1) const;

  /// Calls `fn(const Interval&)` for every retained interval, oldest first; intervals are
  /// contiguous and do not overlap, from the first event's interval (or the retention limit)
  /// to the current one.
  template <class Fn>
  void for_each(Fn&& fn) const;
  /// The retained intervals, oldest first (see for_each()).
  std::vector<Interval> intervals() const;

  /// The current (newest) interval's sketch. Precondition: !empty().
  const Sketch& current() const { return fine_[fine_slot(current_)]; }
  /// Start of the current interval. NaN when empty.
  double current_start() const { return started_ ? fine_start(current_) : nan(); }
  /// Latest event time seen (or passed to advance()). NaN when empty.
  double watermark() const { return started_ ? watermark_ : nan(); }
  /// True before the first event.
  bool empty() const { return !started_; }
  /// Events refused for arriving more than `lateness` behind the watermark.
  std::uint64_t late() const { return late_; }
  /// Events refused for a NaN or infinite time.
  std::uint64_t rejected() const { return rejected_; }
  const Sketch& prototype() const { return prototype_; }
  const TimeWindowsOptions& options() const { return options_; }
  /// Sketches held: fine_count + coarse_count + 1.
  std::size_t sketch_count() const { return fine_.size() + coarse_.size() + 1; }

  /// Forgets every interval and counter; keeps the options and the prototype.
  void clear();

  /// Adds `other`'s retained intervals (of the same options) to this one's, interval by
  /// interval: a replica's windows into another's. The clock moves to the later of the two
  /// (this one's newest fine intervals roll into coarse ones as they would in time); each of
  /// `other`'s fine intervals merges into this one's fine interval of the same start, or into
  /// the coarse interval holding it once this one rolled it up; each coarse interval into the
  /// coarse interval of the same start. Intervals older than this one's retention age out, as
  /// they would have here. Late and rejected counts add. Throws vigil::invalid_argument for
  /// other options. O(intervals) merges of sketches.
  void merge(const TimeWindows& other) {
    merge(other, [](Sketch& into, const Sketch& from) { into.merge(from); });
  }
  /// The same, each sketch added by `combine(Sketch& into, const Sketch& from)`.
  template <class Combine>
  void merge(const TimeWindows& other, Combine&& combine);

  /// Same options, clock, counters and retained intervals with equal sketches (needs
  /// `Sketch == Sketch`).
  friend bool operator==(const TimeWindows& a, const TimeWindows& b) { return a.equals(b); }
  friend bool operator!=(const TimeWindows& a, const TimeWindows& b) { return !a.equals(b); }

  /// Binary form, format version 1 (docs/formats.md; needs `Sketch::serialize()`): options,
  /// clock and counters, then the prototype and every fine and coarse sketch as
  /// length-prefixed byte strings in the sketch's own format.
  std::vector<std::uint8_t> serialize() const;
  /// Reads serialize()'s output (needs `Sketch::deserialize(const void*, std::size_t)`).
  /// Throws vigil::format_error on truncated, corrupt or inconsistent bytes, including
  /// those of any sketch inside.
  static TimeWindows deserialize(const void* data, std::size_t size);
  static TimeWindows deserialize(const std::vector<std::uint8_t>& bytes) {
    return deserialize(bytes.data(), bytes.size());
  }
  /// The same, each sketch read by `read(const void* data, std::size_t size)`, which returns
  /// a Sketch or throws vigil::format_error: for sketches whose reader needs more than their
  /// bytes (a monitor's interval summaries need the monitor's plan).
  template <class Read>
  static TimeWindows deserialize(const void* data, std::size_t size, Read&& read);

 private:
  static double nan() { return std::numeric_limits<double>::quiet_NaN(); }
  static std::int64_t floor_div(std::int64_t a, std::int64_t b) {
    const std::int64_t q = a / b;
    return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
  }
  static std::size_t ring_slot(std::int64_t index, std::size_t n) {
    const auto m = static_cast<std::int64_t>(n);
    return static_cast<std::size_t>(((index % m) + m) % m);
  }
  std::size_t fine_slot(std::int64_t i) const { return ring_slot(i, fine_.size()); }
  std::size_t coarse_slot(std::int64_t j) const { return ring_slot(j, coarse_.size()); }
  double fine_start(std::int64_t i) const { return static_cast<double>(i) * options_.fine_width; }
  double coarse_start(std::int64_t j) const { return static_cast<double>(j) * options_.coarse_width; }
  std::int64_t oldest_fine() const;
  void reset(Sketch& s);
  void advance_to(std::int64_t index);
  void advance_coarse(std::int64_t index);
  bool fine_index(double time, std::int64_t& index) const;
  Sketch* at_slow(double time);
  void set_current(std::int64_t index);
  bool equals(const TimeWindows& other) const;
  TimeWindows(Sketch prototype, TimeWindowsOptions options, std::int64_t ratio, std::vector<Sketch>&& fine,
              std::vector<Sketch>&& coarse);
  template <class Read>
  static Sketch read_sketch(io::Reader& r, Read& read);
  static TimeWindowsOptions read_options(io::Reader& r, std::int64_t& ratio);
  template <class Read>
  static std::vector<Sketch> read_sketches(io::Reader& r, std::size_t n, const Sketch& prototype, Read& read);
  void restore_clock(io::Reader& r, bool started, std::int64_t current, std::int64_t first, bool coarse_started,
                     std::int64_t coarse_current, double watermark);

  Sketch prototype_;
  TimeWindowsOptions options_;
  std::int64_t ratio_ = 1;  // fine intervals per coarse interval
  std::vector<Sketch> fine_;
  std::vector<Sketch> coarse_;
  bool started_ = false;
  bool coarse_started_ = false;
  std::int64_t current_ = 0;      // index of the newest fine interval
  std::int64_t first_ = 0;        // index of the oldest fine interval that ever held data
  std::int64_t coarse_current_ = 0;
  double watermark_ = 0;
  // The current interval's exact bounds in time (where fine_index() changes) and its slot;
  // an empty range before the first event.
  double current_begin_ = std::numeric_limits<double>::infinity();
  double current_end_ = -std::numeric_limits<double>::infinity();
  std::size_t current_slot_ = 0;
  std::uint64_t late_ = 0;
  std::uint64_t rejected_ = 0;
};

// ---------------------------------------------------------------------------------------
// Implementation.

namespace detail {
template <class T, class = void>
struct has_clear : std::false_type {};
template <class T>
struct has_clear<T, std::void_t<decltype(std::declval<T&>().clear())>> : std::true_type {};
// Sketches whose options() can be compared: each interval of a TimeWindows holds the
// prototype's options (reset() clears a sketch in place, keeping its own).
template <class T, class = void>
struct has_comparable_options : std::false_type {};
template <class T>
struct has_comparable_options<
    T, std::void_t<decltype(bool(std::declval<const T&>().options() == std::declval<const T&>().options()))>>
    : std::true_type {};

// Interval indices stay well inside int64 for any time a double can hold to the second.
inline constexpr double time_windows_max_index = 9.0e15;
// Most fine or coarse intervals a TimeWindows holds.
inline constexpr std::size_t time_windows_max_count = std::size_t(1) << 30;

// The reason `options` cannot lay out a TimeWindows, or an empty string; sets `ratio` when valid.
inline std::string time_windows_options_problem(const TimeWindowsOptions& options, std::int64_t& ratio) {
  const double max = std::numeric_limits<double>::max();
  if (!(options.fine_width > 0 && options.fine_width <= max))
    return "fine width " + to_text(options.fine_width) + " is not finite and positive";
  if (!(options.coarse_width > 0 && options.coarse_width <= max))
    return "coarse width " + to_text(options.coarse_width) + " is not finite and positive";
  // A whole multiple up to rounding of the widths themselves: the ratio's nearest integer
  // times the fine width gives the coarse width back within a few units in the last place.
  // (A tolerance relative to the ratio would let a ratio of 10^10 be off by ten fine widths,
  // and coarse boundaries then fall between fine ones.)
  const double r = options.coarse_width / options.fine_width;
  if (!(r >= 1 && r < 1e12 && std::fabs(std::round(r) * options.fine_width - options.coarse_width) <=
                                  1e-12 * options.coarse_width))
    return "coarse width " + to_text(options.coarse_width) + " is not a whole multiple of the fine width " +
           to_text(options.fine_width);
  if (options.fine_count == 0) return "fine count is 0";
  if (options.fine_count > time_windows_max_count || options.coarse_count > time_windows_max_count)
    return "more than 2^30 intervals";
  const double max_lateness = static_cast<double>(options.fine_count - 1) * options.fine_width;
  if (!(options.lateness >= 0 && options.lateness <= max_lateness))
    return "lateness " + to_text(options.lateness) + " is outside [0, " + to_text(max_lateness) +
           "] (fine_count - 1 fine intervals)";
  ratio = static_cast<std::int64_t>(std::round(r));
  return {};
}
}  // namespace detail

template <class Sketch>
TimeWindows<Sketch>::TimeWindows(Sketch prototype, TimeWindowsOptions options)
    : prototype_(std::move(prototype)), options_(options) {
  const std::string problem = detail::time_windows_options_problem(options, ratio_);
  if (!problem.empty()) detail::throw_invalid_argument("TimeWindows: " + problem);
  fine_.assign(options.fine_count, prototype_);
  coarse_.assign(options.coarse_count, prototype_);
}

// For deserialize(): the sketches as read, no copy of the prototype. The caller checked the
// options and the sizes.
template <class Sketch>
TimeWindows<Sketch>::TimeWindows(Sketch prototype, TimeWindowsOptions options, std::int64_t ratio,
                                 std::vector<Sketch>&& fine, std::vector<Sketch>&& coarse)
    : prototype_(std::move(prototype)), options_(options), ratio_(ratio), fine_(std::move(fine)),
      coarse_(std::move(coarse)) {}

template <class Sketch>
void TimeWindows<Sketch>::reset(Sketch& s) {
  if constexpr (detail::has_clear<Sketch>::value) {
    s.clear();
  } else {
    s = prototype_;
  }
}

template <class Sketch>
bool TimeWindows<Sketch>::fine_index(double time, std::int64_t& index) const {
  const double k = std::floor(time / options_.fine_width);
  if (!(std::fabs(k) <= detail::time_windows_max_index)) return false;
  index = static_cast<std::int64_t>(k);
  return true;
}

template <class Sketch>
std::int64_t TimeWindows<Sketch>::oldest_fine() const {
  const std::int64_t ring_start = current_ - static_cast<std::int64_t>(fine_.size()) + 1;
  return ring_start > first_ ? ring_start : first_;
}

template <class Sketch>
void TimeWindows<Sketch>::advance_coarse(std::int64_t index) {
  if (coarse_.empty()) return;
  if (!coarse_started_) {
    coarse_started_ = true;
    coarse_current_ = index;
    return;  // every coarse sketch is still as constructed or cleared
  }
  if (index <= coarse_current_) return;
  const std::int64_t n = static_cast<std::int64_t>(coarse_.size());
  const std::int64_t from = index - coarse_current_ > n ? index - n + 1 : coarse_current_ + 1;
  for (std::int64_t j = from; j <= index; ++j) reset(coarse_[coarse_slot(j)]);
  coarse_current_ = index;
}

template <class Sketch>
void TimeWindows<Sketch>::advance_to(std::int64_t index) {
  const std::int64_t n = static_cast<std::int64_t>(fine_.size());
  // Fine intervals that leave the ring, oldest first, are rolled into their coarse interval.
  const std::int64_t leave_end = index - n + 1;  // first index that stays
  const std::int64_t leave_from = current_ - n + 1 > first_ ? current_ - n + 1 : first_;
  const std::int64_t leave_to = leave_end < current_ + 1 ? leave_end : current_ + 1;  // exclusive
  for (std::int64_t i = leave_from; i < leave_to; ++i) {
    const std::int64_t j = floor_div(i, ratio_);
    advance_coarse(j);
    if (!coarse_.empty()) coarse_[coarse_slot(j)].merge(fine_[fine_slot(i)]);
  }
  // Coarse intervals wholly skipped by a jump are real, empty intervals.
  if (leave_end > first_) advance_coarse(floor_div(leave_end - 1, ratio_));
  const std::int64_t from = index - current_ > n ? index - n + 1 : current_ + 1;
  for (std::int64_t i = from; i <= index; ++i) reset(fine_[fine_slot(i)]);
  set_current(index);
}

template <class Sketch>
void TimeWindows<Sketch>::set_current(std::int64_t index) {
  current_ = index;
  current_slot_ = fine_slot(index);
  // index × width can differ by rounding from the doubles where floor(time / width) changes;
  // step to those so the fast path in at() agrees with fine_index() exactly.
  const double down = -std::numeric_limits<double>::infinity(), up = std::numeric_limits<double>::infinity();
  std::int64_t k = 0;
  double begin = fine_start(index);
  while (fine_index(begin, k) && k >= index) begin = std::nextafter(begin, down);
  while (fine_index(begin, k) && k < index) begin = std::nextafter(begin, up);
  double end = fine_start(index + 1);
  while (fine_index(end, k) && k > index) end = std::nextafter(end, down);
  while (fine_index(end, k) && k <= index) end = std::nextafter(end, up);
  current_begin_ = begin;
  current_end_ = end;
}

template <class Sketch>
Sketch* TimeWindows<Sketch>::at_slow(double time) {
  std::int64_t index = 0;
  if (VIGIL_UNLIKELY(!(time - time == 0) || !fine_index(time, index))) {
    ++rejected_;
    return nullptr;
  }
  if (VIGIL_UNLIKELY(!started_)) {
    started_ = true;
    first_ = index;
    set_current(index);
    watermark_ = time;
    return &fine_[current_slot_];
  }
  if (VIGIL_LIKELY(index == current_)) {
    if (time > watermark_) watermark_ = time;
    return &fine_[fine_slot(index)];
  }
  if (index > current_) {
    advance_to(index);
    watermark_ = time;
    return &fine_[fine_slot(index)];
  }
  // An earlier interval: within the lateness and still at fine resolution, or late.
  if (time < watermark_ - options_.lateness || index <= current_ - static_cast<std::int64_t>(fine_.size())) {
    ++late_;
    return nullptr;
  }
  if (index < first_) first_ = index;  // slots before the first event are still empty
  return &fine_[fine_slot(index)];
}

template <class Sketch>
void TimeWindows<Sketch>::advance(double time) {
  std::int64_t index = 0;
  if (!started_ || !(time - time == 0) || !fine_index(time, index)) return;
  if (time > watermark_) watermark_ = time;
  if (index > current_) advance_to(index);
}

template <class Sketch>
template <class Fn>
void TimeWindows<Sketch>::for_each(Fn&& fn) const {
  if (!started_) return;
  const std::int64_t oldest = oldest_fine();
  if (coarse_started_ && oldest > first_) {
    const std::int64_t n = static_cast<std::int64_t>(coarse_.size());
    const std::int64_t first_coarse = floor_div(first_, ratio_);
    std::int64_t j = coarse_current_ - n + 1;
    if (j < first_coarse) j = first_coarse;
    for (; j <= coarse_current_; ++j) {
      double start = coarse_start(j);
      double end = coarse_start(j + 1);
      if (j == first_coarse) start = fine_start(first_);
      if (j == coarse_current_) end = fine_start(oldest);
      fn(Interval{start, end, true, &coarse_[coarse_slot(j)]});
    }
  }
  for (std::int64_t i = oldest; i <= current_; ++i)
    fn(Interval{fine_start(i), fine_start(i + 1), false, &fine_[fine_slot(i)]});
}

template <class Sketch>
std::vector<typename TimeWindows<Sketch>::Interval> TimeWindows<Sketch>::intervals() const {
  std::vector<Interval> out;
  for_each([&out](const Interval& interval) { out.push_back(interval); });
  return out;
}

template <class Sketch>
Sketch TimeWindows<Sketch>::merge_range(double t0, double t1) const {
  Sketch out(prototype_);
  for_each([&](const Interval& interval) {
    if (interval.start >= t0 && interval.end <= t1 && interval.start < interval.end) out.merge(*interval.sketch);
  });
  return out;
}

template <class Sketch>
Sketch TimeWindows<Sketch>::merge_last(double duration) const {
  if (!started_) return Sketch(prototype_);
  return merge_range(fine_start(current_ + 1) - duration, std::numeric_limits<double>::infinity());
}

template <class Sketch>
template <class Combine>
void TimeWindows<Sketch>::merge(const TimeWindows& other, Combine&& combine) {
  const TimeWindowsOptions &a = options_, &b = other.options_;
  if (a.fine_width != b.fine_width || a.fine_count != b.fine_count || a.coarse_width != b.coarse_width ||
      a.coarse_count != b.coarse_count)
    detail::throw_invalid_argument("TimeWindows::merge: the windows have other widths or counts");
  late_ += other.late_;
  rejected_ += other.rejected_;
  if (!other.started_) return;
  if (!started_) {
    started_ = true;
    first_ = other.first_;
    watermark_ = other.watermark_;
    set_current(other.current_);
  } else {
    if (other.current_ > current_) advance_to(other.current_);
    if (other.watermark_ > watermark_) watermark_ = other.watermark_;
    if (other.first_ < first_) first_ = other.first_;
  }
  const std::int64_t oldest = oldest_fine();
  if (!coarse_.empty() && oldest > first_ && !coarse_started_) {
    coarse_started_ = true;  // every coarse sketch is still as constructed
    coarse_current_ = floor_div(oldest - 1, ratio_);
  }
  const std::int64_t coarse_n = static_cast<std::int64_t>(coarse_.size());
  const auto into_coarse = [&](std::int64_t j, const Sketch& from) {
    if (coarse_started_ && j <= coarse_current_ && j > coarse_current_ - coarse_n) combine(coarse_[coarse_slot(j)], from);
  };
  const std::int64_t their_oldest = other.oldest_fine();
  for (std::int64_t i = their_oldest; i <= other.current_; ++i) {
    const Sketch& from = other.fine_[other.fine_slot(i)];
    if (i >= oldest) {
      combine(fine_[fine_slot(i)], from);
    } else {
      into_coarse(floor_div(i, ratio_), from);
    }
  }
  if (!other.coarse_started_ || their_oldest <= other.first_) return;
  std::int64_t j = other.coarse_current_ - coarse_n + 1;
  if (j < floor_div(other.first_, ratio_)) j = floor_div(other.first_, ratio_);
  for (; j <= other.coarse_current_; ++j) into_coarse(j, other.coarse_[other.coarse_slot(j)]);
}

template <class Sketch>
bool TimeWindows<Sketch>::equals(const TimeWindows& other) const {
  const TimeWindowsOptions &a = options_, &b = other.options_;
  if (a.fine_width != b.fine_width || a.fine_count != b.fine_count || a.coarse_width != b.coarse_width ||
      a.coarse_count != b.coarse_count || a.lateness != b.lateness || started_ != other.started_ ||
      late_ != other.late_ || rejected_ != other.rejected_ || !(prototype_ == other.prototype_))
    return false;
  if (!started_) return true;
  if (current_ != other.current_ || first_ != other.first_ || watermark_ != other.watermark_) return false;
  const std::vector<Interval> mine = intervals(), theirs = other.intervals();
  if (mine.size() != theirs.size()) return false;
  for (std::size_t i = 0; i < mine.size(); ++i)
    if (mine[i].start != theirs[i].start || mine[i].end != theirs[i].end || !(*mine[i].sketch == *theirs[i].sketch))
      return false;
  return true;
}

template <class Sketch>
std::vector<std::uint8_t> TimeWindows<Sketch>::serialize() const {
  std::vector<std::uint8_t> out;
  io::Writer w(out);
  w.header(io::TypeId::time_windows, 1, started_ ? 1 : 0);
  w.f64(options_.fine_width);
  w.varint(options_.fine_count);
  w.f64(options_.coarse_width);
  w.varint(options_.coarse_count);
  w.f64(options_.lateness);
  w.i64(started_ ? current_ : 0);
  w.i64(started_ ? first_ : 0);
  w.u8(coarse_started_ ? 1 : 0);
  w.i64(coarse_started_ ? coarse_current_ : 0);
  w.f64(started_ ? watermark_ : 0);
  w.varint(late_);
  w.varint(rejected_);
  const auto put = [&w](const Sketch& s) {
    const std::vector<std::uint8_t> bytes = s.serialize();
    w.varint(bytes.size());
    w.bytes(bytes.data(), bytes.size());
  };
  put(prototype_);
  for (const Sketch& s : fine_) put(s);
  for (const Sketch& s : coarse_) put(s);
  return out;
}

template <class Sketch>
template <class Read>
Sketch TimeWindows<Sketch>::read_sketch(io::Reader& r, Read& read) {
  const std::size_t n = r.count(1);
  std::vector<std::uint8_t> bytes(n);
  for (std::uint8_t& b : bytes) b = r.u8();
  try {
    return read(static_cast<const void*>(bytes.data()), bytes.size());
  } catch (const format_error& e) {
    r.fail(std::string("an interval's sketch: ") + e.what());
  }
}

// The options, checked as the constructor does, and their interval counts against the bytes
// left: every sketch (the prototype and each interval) takes at least its length varint.
template <class Sketch>
TimeWindowsOptions TimeWindows<Sketch>::read_options(io::Reader& r, std::int64_t& ratio) {
  TimeWindowsOptions o;
  o.fine_width = r.f64();
  const std::uint64_t fine_count = r.varint();
  o.coarse_width = r.f64();
  const std::uint64_t coarse_count = r.varint();
  o.lateness = r.f64();
  if (fine_count > detail::time_windows_max_count || coarse_count > detail::time_windows_max_count)
    r.fail("interval counts " + std::to_string(fine_count) + " and " + std::to_string(coarse_count) +
           " exceed the 2^30 allowed");
  if (fine_count + coarse_count + 1 > r.remaining())
    r.fail("interval counts " + std::to_string(fine_count) + " and " + std::to_string(coarse_count) +
           " exceed the remaining " + std::to_string(r.remaining()) + " bytes");
  o.fine_count = static_cast<std::size_t>(fine_count);
  o.coarse_count = static_cast<std::size_t>(coarse_count);
  const std::string problem = detail::time_windows_options_problem(o, ratio);
  if (!problem.empty()) r.fail(problem);
  return o;
}

// n sketches, each built as it is read: memory grows with the bytes actually read, not with
// the declared count (no reserve(n), no copies of the prototype).
// Each must have the prototype's options: a later merge_range() would throw on a histogram
// with another zero threshold, and reset() would keep the foreign options.
template <class Sketch>
template <class Read>
std::vector<Sketch> TimeWindows<Sketch>::read_sketches(io::Reader& r, std::size_t n, const Sketch& prototype,
                                                       Read& read) {
  std::vector<Sketch> sketches;
  for (std::size_t i = 0; i < n; ++i) {
    sketches.push_back(read_sketch(r, read));
    if constexpr (detail::has_comparable_options<Sketch>::value) {
      if (!(sketches.back().options() == prototype.options()))
        r.fail("an interval's sketch has options other than the prototype's");
    }
  }
  return sketches;
}

// Checks the clock read from the bytes against the options and sets it.
template <class Sketch>
void TimeWindows<Sketch>::restore_clock(io::Reader& r, bool started, std::int64_t current, std::int64_t first,
                                        bool coarse_started, std::int64_t coarse_current, double watermark) {
  const auto limit = static_cast<std::int64_t>(detail::time_windows_max_index);
  // Both indices within ±limit before their difference is taken: it cannot overflow then.
  if (started && (!(current <= limit && current >= -limit) || first < -limit || first > current ||
                  current - first > limit || (coarse_started && coarse_current > current)))
    r.fail("interval indices are inconsistent");
  std::int64_t watermark_index = 0;
  if (started && (!std::isfinite(watermark) || !fine_index(watermark, watermark_index) || watermark_index != current))
    r.fail("the watermark is not in the current interval");
  if (started && !coarse_.empty()) {
    const std::int64_t ring_start = current - static_cast<std::int64_t>(fine_.size()) + 1;
    const std::int64_t oldest = ring_start > first ? ring_start : first;
    if (coarse_started != (oldest > first) || (coarse_started && coarse_current != floor_div(oldest - 1, ratio_)))
      r.fail("the coarse intervals do not follow the fine ones");
  }
  started_ = started;
  coarse_started_ = started && coarse_started && !coarse_.empty();
  coarse_current_ = coarse_current;
  first_ = first;
  watermark_ = watermark;
  if (started) set_current(current);
}

template <class Sketch>
TimeWindows<Sketch> TimeWindows<Sketch>::deserialize(const void* data, std::size_t size) {
  return deserialize(data, size, [](const void* bytes, std::size_t n) { return Sketch::deserialize(bytes, n); });
}

template <class Sketch>
template <class Read>
TimeWindows<Sketch> TimeWindows<Sketch>::deserialize(const void* data, std::size_t size, Read&& read) {
  io::Reader r(data, size, "TimeWindows");
  std::uint16_t flags = 0;
  r.header(io::TypeId::time_windows, 1, flags);
  if (flags > 1) r.fail("unknown flags " + std::to_string(flags));
  std::int64_t ratio = 1;
  const TimeWindowsOptions o = read_options(r, ratio);
  const std::int64_t current = r.i64(), first = r.i64();
  const bool coarse_started = r.u8() != 0;
  const std::int64_t coarse_current = r.i64();
  const double watermark = r.f64();
  const std::uint64_t late = r.varint(), rejected = r.varint();
  Sketch prototype = read_sketch(r, read);
  std::vector<Sketch> fine = read_sketches(r, o.fine_count, prototype, read);
  std::vector<Sketch> coarse = read_sketches(r, o.coarse_count, prototype, read);
  r.finish();
  TimeWindows w(std::move(prototype), o, ratio, std::move(fine), std::move(coarse));
  w.restore_clock(r, flags == 1, current, first, coarse_started, coarse_current, watermark);
  w.late_ = late;
  w.rejected_ = rejected;
  return w;
}

template <class Sketch>
void TimeWindows<Sketch>::clear() {
  for (Sketch& s : fine_) reset(s);
  for (Sketch& s : coarse_) reset(s);
  started_ = coarse_started_ = false;
  current_ = first_ = coarse_current_ = 0;
  current_begin_ = std::numeric_limits<double>::infinity();
  current_end_ = -std::numeric_limits<double>::infinity();
  current_slot_ = 0;
  watermark_ = 0;
  late_ = rejected_ = 0;
}

}  // namespace vigil

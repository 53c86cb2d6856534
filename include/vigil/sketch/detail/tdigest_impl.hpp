// vigil — in-process monitoring of machine-learning models in C++ inference servers.
// SPDX-License-Identifier: Apache-2.0
//
// Bodies of vigil::TDigest, included at the bottom of vigil/sketch/tdigest.hpp.
#pragma once

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <string>
#include <utility>

#include "vigil/io/binary.hpp"
#include "vigil/sketch/detail/radix_sort.hpp"
#include "vigil/sketch/tdigest.hpp"

namespace vigil {

namespace detail {
inline constexpr double tdigest_min_compression = 10;
inline constexpr double tdigest_max_compression = 1e5;
inline constexpr std::uint8_t tdigest_format_version = 1;
inline constexpr std::uint16_t tdigest_flag_float_means = 1;
inline constexpr std::uint16_t tdigest_flag_integer_weights = 2;
// The working state follows the centroids: written only under io::ExactState.
inline constexpr std::uint16_t tdigest_flag_working_state = 4;
inline constexpr double pi = 3.14159265358979323846;
}  // namespace detail

template <class Real>
TDigest<Real>::TDigest(double compression, ScaleFunction scale)
    : compression_(compression),
      scale_(scale),
      min_(std::numeric_limits<Real>::infinity()),
      max_(-std::numeric_limits<Real>::infinity()) {
  if (!(compression >= detail::tdigest_min_compression && compression <= detail::tdigest_max_compression))
    detail::throw_invalid_argument("TDigest: compression " + detail::to_text(compression) +
                                   " is outside [10, 100000]");
  if (scale != ScaleFunction::k1 && scale != ScaleFunction::k2 && scale != ScaleFunction::k3)
    detail::throw_invalid_argument("TDigest: unknown scale function " + std::to_string(static_cast<int>(scale)));
  buffer_limit_ = static_cast<std::size_t>(std::ceil(8 * compression));
}

template <class Real>
double TDigest<Real>::not_a_number() {
  return std::numeric_limits<double>::quiet_NaN();
}

// Keys order like the values: flip all bits of negatives, only the sign bit of the rest.
template <class Real>
typename TDigest<Real>::Key TDigest<Real>::to_key(Real x) {
  Key bits;
  std::memcpy(&bits, &x, sizeof bits);
  constexpr Key sign = Key(1) << (sizeof(Key) * 8 - 1);
  return (bits & sign) ? ~bits : (bits | sign);
}

template <class Real>
Real TDigest<Real>::from_key(Key k) {
  constexpr Key sign = Key(1) << (sizeof(Key) * 8 - 1);
  const Key bits = (k & sign) ? (k & ~sign) : ~k;
  Real x;
  std::memcpy(&x, &bits, sizeof x);
  return x;
}

template <class Real>
void TDigest<Real>::add_weighted(Real x, double weight) {
  if (!(weight > 0) || !std::isfinite(weight))
    detail::throw_invalid_argument("TDigest::add: weight " + detail::to_text(weight) +
                                   " is not a finite positive number");
  if (!std::isfinite(count_ + weight))
    detail::throw_invalid_argument("TDigest::add: weight " + detail::to_text(weight) + " would make the total weight " +
                                   detail::to_text(count_) + " infinite");
  if (weighted_.size() >= buffer_limit_) flush();
  weighted_.push_back(Item{static_cast<double>(x), weight, true});
  count_ += weight;
  sum_ += static_cast<double>(x) * weight;
  if (x < min_) min_ = x;
  if (x > max_) max_ = x;
}

template <class Real>
void TDigest<Real>::grow_or_flush() {
  if (buffer_capacity_ < buffer_limit_) {
    grow_buffer();
  } else {
    flush();
  }
}

// The buffer doubles from a few values up to buffer_limit_, so that a digest which sees few
// values (one of many features of a short training set) holds memory in proportion to them
// rather than to its compression. Once full, it takes everything a unit-weight merge pass
// needs at its largest, so that adds never allocate again.
template <class Real>
void TDigest<Real>::grow_buffer() {
  constexpr std::size_t first_capacity = 16;
  const std::size_t next = std::min(buffer_limit_, std::max(first_capacity, 2 * buffer_capacity_));
  buffer_.reserve(next);  // exactly: resize() alone may round the capacity up
  buffer_.resize(next);
  buffer_capacity_ = next;
  if (next < buffer_limit_) return;
  sort_scratch_.reserve(buffer_limit_);
  sort_scratch_.resize(buffer_limit_);
  const std::size_t most = max_centroids();
  centroids_.reserve(most);
  single_.reserve(most);
  next_centroids_.reserve(most);
  next_single_.reserve(most);
  items_.reserve(most);
}

template <class Real>
void TDigest<Real>::merge(const TDigest& other) {
  if (&other == this) {
    const TDigest copy(other);
    merge(copy);
    return;
  }
  // The other digest's centroids and pending values become weighted input here; the next
  // flush merges them with ours under our compression.
  const auto absorb = [this](const Item& item) {
    if (weighted_.size() >= buffer_limit_) flush();
    weighted_.push_back(item);
  };
  for (std::size_t i = 0; i < other.centroids_.size(); ++i)
    absorb(Item{static_cast<double>(other.centroids_[i].mean), other.centroids_[i].weight, other.single_[i] != 0});
  for (const Item& item : other.weighted_) absorb(item);
  for (std::size_t i = 0; i < other.buffered_; ++i) absorb(Item{static_cast<double>(from_key(other.buffer_[i])), 1, true});
  count_ += other.count_;
  sum_ += other.sum_;
  rejected_ += other.rejected_;
  if (other.count_ > 0) {
    min_ = std::min(min_, other.min_);
    max_ = std::max(max_, other.max_);
  }
}

template <class Real>
void TDigest<Real>::flush() {
  if (buffered_ == 0 && weighted_.empty()) return;
  const Key* sorted = buffer_.data();
  if (buffered_ > 1) {
    if (sort_scratch_.size() < buffered_) sort_scratch_.resize(buffer_.size());
    sorted = detail::radix_sort(buffer_.data(), sort_scratch_.data(), buffered_);
  }
  gather_items();
  // Alternating the direction of the pass keeps centroids from drifting to one side.
  if (passes_ % 2 == 0) {
    compress<true>(sorted, buffered_);
  } else {
    compress<false>(sorted, buffered_);
  }
  ++passes_;
  buffered_ = 0;
  weighted_.clear();
}

// items_ = the centroids and the weighted values, merged in ascending order of mean.
template <class Real>
void TDigest<Real>::gather_items() {
  std::sort(weighted_.begin(), weighted_.end(), [](const Item& a, const Item& b) { return a.mean < b.mean; });
  items_.clear();
  items_.reserve(centroids_.size() + weighted_.size());
  std::size_t c = 0;
  std::size_t w = 0;
  while (c < centroids_.size() || w < weighted_.size()) {
    if (w == weighted_.size() ||
        (c < centroids_.size() && static_cast<double>(centroids_[c].mean) <= weighted_[w].mean)) {
      items_.push_back(Item{static_cast<double>(centroids_[c].mean), centroids_[c].weight, single_[c] != 0});
      ++c;
    } else {
      items_.push_back(weighted_[w++]);
    }
  }
}

template <class Real>
double TDigest<Real>::pass_factor(double total) const {
  if (scale_ == ScaleFunction::k1) return 2 * detail::pi / compression_;
  const double log_ratio = std::log(std::max(total / compression_, 1.0));
  const double z = 2.5 * compression_ / (4 * log_ratio + (scale_ == ScaleFunction::k2 ? 24 : 21));
  return std::exp(-1 / z);
}

// The largest cumulative weight the centroid that starts after `done` may reach:
// total * k⁻¹(k(done / total) + 1), in closed form for each scale function.
template <class Real>
double TDigest<Real>::weight_limit(double done, double total, double factor) const {
  const double q = done / total;
  double limit;
  switch (scale_) {
    case ScaleFunction::k1: {
      const double angle = std::asin(std::clamp(2 * q - 1, -1.0, 1.0)) + factor;
      limit = angle >= detail::pi / 2 ? 1.0 : (std::sin(angle) + 1) / 2;
      break;
    }
    case ScaleFunction::k3:
      if (q <= 0.5) {
        const double up = q / factor;
        limit = up <= 0.5 ? up : 1 - factor / (4 * q);
      } else {
        limit = 1 - (1 - q) * factor;
      }
      break;
    case ScaleFunction::k2:
    default:
      limit = q / (q + (1 - q) * factor);
      break;
  }
  return std::min(limit, q + max_centroid_fraction()) * total;
}

// The elements of one merge pass in pass order: the sorted unit-weight values and the sorted
// items (centroids and weighted values), merged; ascending when Forward, else descending.
template <class Real>
template <bool Forward>
class TDigest<Real>::PassInput {
 public:
  PassInput(const Key* values, std::size_t value_count, const std::vector<Item>& items)
      : values_(values), value_count_(value_count), items_(items.data()), item_count_(items.size()) {}

  std::size_t size() const { return value_count_ + item_count_; }
  // The weight of every element; during a merge() it can be less than count_.
  double total_weight() const {
    double total = static_cast<double>(value_count_);
    for (std::size_t i = 0; i < item_count_; ++i) total += items_[i].weight;
    return total;
  }
  // The next element. Precondition: fewer than size() were taken.
  Item next() {
    if (next_value_ < value_count_ && (next_item_ == item_count_ || !before(item(next_item_).mean, value(next_value_))))
      return Item{value(next_value_++), 1, true};
    return item(next_item_++);
  }

 private:
  // "x comes no later than y" in pass order.
  static bool before(double x, double y) { return Forward ? x <= y : x >= y; }
  double value(std::size_t i) const {
    return static_cast<double>(from_key(values_[Forward ? i : value_count_ - 1 - i]));
  }
  const Item& item(std::size_t i) const { return items_[Forward ? i : item_count_ - 1 - i]; }

  const Key* values_;
  std::size_t value_count_;
  const Item* items_;
  std::size_t item_count_;
  std::size_t next_value_ = 0;
  std::size_t next_item_ = 0;
};

// The centroid a merge pass is building: its first value plus the weighted sum of offsets
// from it (no division per value; a single-valued centroid's mean stays exactly its value).
template <class Real>
struct TDigest<Real>::OpenCentroid {
  double first;
  double offset_sum;
  double weight;
  double last;  // the value added most recently
  bool single;

  explicit OpenCentroid(const Item& e)
      : first(e.mean), offset_sum(0), weight(e.weight), last(e.mean), single(e.single) {}
  // Whether `e` is more copies of this centroid's one value, which it absorbs whatever its size.
  bool same_value(const Item& e) const { return single && e.single && e.mean == first; }
  void absorb(const Item& e, bool same) {
    const double sum = offset_sum + (e.mean - first) * e.weight;
    if (std::isfinite(sum)) {
      offset_sum = sum;
    } else {
      rebase(e);
    }
    weight += e.weight;
    single = same;
    last = e.mean;
  }
  // Offsets across most of the double range overflow: restart them from the mean so far,
  // weighted with `e` (each term stays finite). Pass order is monotone, so every later value
  // lies beyond this mean and mean() can still clamp to [first, last].
  void rebase(const Item& e) {
    const double share = e.weight / (weight + e.weight);
    const double so_far = mean();
    first = std::clamp(so_far * (1 - share) + e.mean * share, std::min(so_far, e.mean), std::max(so_far, e.mean));
    offset_sum = 0;
  }
  // Clamped to the values it absorbed: rounding must not carry a mean past max() or min().
  double mean() const {
    return std::clamp(first + offset_sum / weight, std::min(first, last), std::max(first, last));
  }
};

// Where a merge pass stands: the weight of the centroids emitted so far and the cumulative
// weight the open centroid may reach under the scale function.
template <class Real>
struct TDigest<Real>::PassProgress {
  double total;               // weight in this pass
  double factor;              // pass_factor(total)
  std::size_t gap_splits_left;
  double done = 0;            // weight of the centroids already emitted in this pass
  double limit = 0;           // the first centroid stays a singleton
  double previous_mean = 0;   // mean of the centroid emitted last
  bool have_previous = false;

  // Whether the scale function lets `open` take `weight` more.
  bool has_room(const OpenCentroid& open, double weight) const {
    return done + open.weight + weight <= limit && done > 0;
  }
  // Gap guard: a value far beyond the open centroid's reach starts a new centroid, so no
  // centroid straddles the empty stretch between two modes (gap_split_budget() per pass).
  bool splits_gap(const OpenCentroid& open, double x) {
    if (gap_splits_left == 0) return false;
    const double reach = std::fabs(open.last - (have_previous ? previous_mean : open.first));
    if (!(reach > 0 && std::fabs(x - open.last) > 10 * reach)) return false;
    --gap_splits_left;
    return true;
  }
};

// One merge pass (Dunning & Ertl 2019, Algorithm 1): elements in pass order join the open
// centroid while the scale function allows, else close it and open the next.
template <class Real>
template <bool Forward>
void TDigest<Real>::compress(const Key* values, std::size_t value_count) {
  PassInput<Forward> input(values, value_count, items_);
  const std::size_t elements = input.size();
  const double total = input.total_weight();
  PassProgress pass{total, pass_factor(total), gap_split_budget()};
  next_centroids_.clear();
  next_single_.clear();
  if (elements > 0) {
    OpenCentroid open(input.next());
    for (std::size_t seen = 1; seen < elements; ++seen) {
      const Item e = input.next();
      const bool same_value = open.same_value(e);
      // The last element stays a singleton, like the first.
      if (same_value || (pass.has_room(open, e.weight) && seen + 1 < elements && !pass.splits_gap(open, e.mean))) {
        open.absorb(e, same_value);
      } else {
        close_centroid(open, pass);
        open = OpenCentroid(e);
      }
    }
    append_centroid(open);
  }
  if constexpr (!Forward) {
    std::reverse(next_centroids_.begin(), next_centroids_.end());
    std::reverse(next_single_.begin(), next_single_.end());
  }
  centroids_.swap(next_centroids_);
  single_.swap(next_single_);
}

// Appends the open centroid to the pass's output; returns its mean. This and close_centroid()
// run once per centroid inside the pass loop, so they are inlined into it.
template <class Real>
VIGIL_INLINE double TDigest<Real>::append_centroid(const OpenCentroid& open) {
  const double mean = open.mean();
  next_centroids_.push_back(Centroid{static_cast<Real>(mean), open.weight});
  next_single_.push_back(open.single ? 1 : 0);
  return mean;
}

template <class Real>
VIGIL_INLINE void TDigest<Real>::close_centroid(const OpenCentroid& open, PassProgress& pass) {
  pass.previous_mean = append_centroid(open);
  pass.have_previous = true;
  pass.done += open.weight;
  pass.limit = weight_limit(pass.done, pass.total, pass.factor);
}

template <class Real>
void TDigest<Real>::compact() {
  flush();
  std::vector<Key>().swap(buffer_);
  std::vector<Key>().swap(sort_scratch_);
  std::vector<Item>().swap(weighted_);
  std::vector<Item>().swap(items_);
  std::vector<Centroid>().swap(next_centroids_);
  std::vector<std::uint8_t>().swap(next_single_);
  centroids_.shrink_to_fit();
  single_.shrink_to_fit();
  buffer_capacity_ = 0;
}

template <class Real>
template <class Fn>
auto TDigest<Real>::with_flushed(Fn&& fn) const {
  if (buffered() == 0) return fn(*this);
  TDigest copy(*this);
  copy.flush();
  return fn(copy);
}

template <class Real>
double TDigest<Real>::quantile(double q) const {
  if (!(q >= 0 && q <= 1))
    detail::throw_invalid_argument("TDigest::quantile: q " + detail::to_text(q) + " is outside [0, 1]");
  if (count_ == 0) return not_a_number();
  return with_flushed([q](const TDigest& d) { return d.quantile_flushed(q); });
}

template <class Real>
double TDigest<Real>::cdf(double x) const {
  const auto [below, at_most] = rank_interval(x);
  return (below + at_most) / 2;
}

template <class Real>
std::pair<double, double> TDigest<Real>::rank_interval(double x) const {
  if (count_ == 0 || std::isnan(x)) return {not_a_number(), not_a_number()};
  if (x < static_cast<double>(min_)) return {0.0, 0.0};
  if (x > static_cast<double>(max_)) return {1.0, 1.0};
  return with_flushed([x](const TDigest& d) { return d.rank_interval_flushed(x); });
}

template <class Real>
void TDigest<Real>::quantiles(const double* q, std::size_t n, double* out) const {
  for (std::size_t i = 0; i < n; ++i) {
    if (!(q[i] >= 0 && q[i] <= 1))
      detail::throw_invalid_argument("TDigest::quantiles: q " + detail::to_text(q[i]) + " is outside [0, 1]");
    if (i > 0 && q[i] < q[i - 1]) detail::throw_invalid_argument("TDigest::quantiles: q is not in ascending order");
  }
  if (n == 0) return;
  if (count_ == 0) {
    std::fill(out, out + n, not_a_number());
    return;
  }
  with_flushed([&](const TDigest& d) {
    d.quantiles_flushed(q, n, out);
    return 0;
  });
}

template <class Real>
void TDigest<Real>::rank_intervals(const double* x, std::size_t n, std::pair<double, double>* out) const {
  for (std::size_t i = 0; i < n; ++i) {
    if (std::isnan(x[i])) detail::throw_invalid_argument("TDigest::rank_intervals: x is NaN");
    if (i > 0 && x[i] < x[i - 1]) detail::throw_invalid_argument("TDigest::rank_intervals: x is not in ascending order");
  }
  if (n == 0) return;
  if (count_ == 0) {
    std::fill(out, out + n, std::pair<double, double>{not_a_number(), not_a_number()});
    return;
  }
  // Values below min() and above max() are answered here, as rank_interval() does; the
  // rest, a contiguous run, in one pass.
  std::size_t begin = 0;
  while (begin < n && x[begin] < static_cast<double>(min_)) out[begin++] = {0.0, 0.0};
  std::size_t end = n;
  while (end > begin && x[end - 1] > static_cast<double>(max_)) out[--end] = {1.0, 1.0};
  if (begin == end) return;
  with_flushed([&](const TDigest& d) {
    d.rank_intervals_flushed(x + begin, end - begin, out + begin);
    return 0;
  });
}

template <class Real>
double TDigest<Real>::trimmed_mean(double lo, double hi) const {
  if (!(lo >= 0 && lo <= hi && hi <= 1))
    detail::throw_invalid_argument("TDigest::trimmed_mean: bounds " + detail::to_text(lo) + ", " +
                                   detail::to_text(hi) + " are not 0 <= lo <= hi <= 1");
  if (count_ == 0) return not_a_number();
  return with_flushed([lo, hi](const TDigest& d) { return d.trimmed_mean_flushed(lo, hi); });
}

namespace detail {

// Visits the knots of the piecewise-linear quantile function of a flushed digest, in order of
// rank: (0, min), then for each centroid either its rank interval's two ends at its mean
// (single-valued) or the interval's midpoint (mixed), then (total, max). Stops when `visit`
// returns true.
template <class Centroids, class Single, class Visit>
void for_each_knot(const Centroids& centroids, const Single& single, double min, double max, double total,
                   Visit&& visit) {
  if (visit(0.0, min)) return;
  double start = 0;
  for (std::size_t i = 0; i < centroids.size(); ++i) {
    const double mean = static_cast<double>(centroids[i].mean);
    const double weight = centroids[i].weight;
    if (single[i]) {
      if (visit(start, mean) || visit(start + weight, mean)) return;
    } else if (visit(start + weight / 2, mean)) {
      return;
    }
    start += weight;
  }
  visit(total, max);
}

// The point a fraction f ∈ [0, 1] of the way from knot value a to knot value b ≥ a: exactly a
// at f = 0 and b at f = 1, never outside [a, b], and monotone in f. a + f·(b − a) alone is
// none of these when a and b differ greatly in size (−1e20 + 1·(−5 + 1e20) cancels to 0), and
// b − a overflows for values of opposite sign near the double range, which are weighted
// instead.
inline double between_knots(double a, double b, double f) {
  if (f >= 1) return b;
  if (a < 0 && b > 0) return (1 - f) * a + f * b;
  return std::min(b, a + f * (b - a));
}

// Where x ≥ a lies between knot values a < b, as a fraction in [0, 1]. b − a overflows for
// values of opposite sign near the double range; halving all three is exact there.
inline double fraction_between(double a, double b, double x) {
  const double f = std::isfinite(b - a) ? (x - a) / (b - a) : (x / 2 - a / 2) / (b / 2 - a / 2);
  return std::clamp(f, 0.0, 1.0);
}

}  // namespace detail

template <class Real>
double TDigest<Real>::quantile_flushed(double q) const {
  // The ranks are sums of weights in doubles: once the count passes 2^53, a unit weight added
  // to it may be lost to rounding and a knot before the last already reach the count. The
  // largest value is exact, so q = 1 takes it directly.
  if (q == 1) return static_cast<double>(max_);
  const double target = q * count_;
  double prev_rank = 0;
  double prev_value = static_cast<double>(min_);
  double result = static_cast<double>(max_);
  bool first = true;
  detail::for_each_knot(centroids_, single_, static_cast<double>(min_), static_cast<double>(max_), count_,
                        [&](double rank, double value) {
                          if (rank >= target) {
                            if (first || rank <= prev_rank) {
                              result = value;
                            } else {
                              result = detail::between_knots(prev_value, value,
                                                             (target - prev_rank) / (rank - prev_rank));
                            }
                            return true;
                          }
                          first = false;
                          prev_rank = rank;
                          prev_value = value;
                          return false;
                        });
  return std::clamp(result, static_cast<double>(min_), static_cast<double>(max_));
}

template <class Real>
std::pair<double, double> TDigest<Real>::rank_interval_flushed(double x) const {
  // lower: the smallest rank whose value reaches x; upper: the largest rank whose value is
  // at most x. They differ only where the quantile function is flat at x (a tie).
  double lower = 0;
  double upper = count_;
  bool lower_found = false;
  bool upper_pending = false;
  double prev_rank = 0;
  double prev_value = 0;
  bool first = true;
  detail::for_each_knot(centroids_, single_, static_cast<double>(min_), static_cast<double>(max_), count_,
                        [&](double rank, double value) {
                          if (!lower_found && value >= x) {
                            // The previous knot's value is below x, so the slope is positive.
                            lower = first ? rank
                                          : prev_rank + detail::fraction_between(prev_value, value, x) *
                                                            (rank - prev_rank);
                            lower_found = true;
                          }
                          if (upper_pending && value > x) {
                            upper = prev_rank + detail::fraction_between(prev_value, value, x) * (rank - prev_rank);
                            return true;
                          }
                          upper_pending = value <= x;
                          first = false;
                          prev_rank = rank;
                          prev_value = value;
                          return false;
                        });
  return {std::clamp(lower / count_, 0.0, 1.0), std::clamp(upper / count_, 0.0, 1.0)};
}

template <class Real>
void TDigest<Real>::quantiles_flushed(const double* q, std::size_t n, double* out) const {
  // quantile_flushed() for ascending targets: each is decided by the first knot whose rank
  // reaches it, so one walk serves them all.
  std::size_t j = 0;
  double prev_rank = 0;
  double prev_value = static_cast<double>(min_);
  bool first = true;
  detail::for_each_knot(centroids_, single_, static_cast<double>(min_), static_cast<double>(max_), count_,
                        [&](double rank, double value) {
                          for (; j < n && rank >= q[j] * count_; ++j) {
                            const double target = q[j] * count_;
                            out[j] = first || rank <= prev_rank
                                         ? value
                                         : detail::between_knots(prev_value, value,
                                                                 (target - prev_rank) / (rank - prev_rank));
                          }
                          if (j == n) return true;
                          first = false;
                          prev_rank = rank;
                          prev_value = value;
                          return false;
                        });
  for (; j < n; ++j) out[j] = static_cast<double>(max_);
  // q = 1 is max() exactly, as in quantile_flushed().
  for (std::size_t i = 0; i < n; ++i)
    out[i] = q[i] == 1 ? static_cast<double>(max_) : std::clamp(out[i], static_cast<double>(min_), static_cast<double>(max_));
}

template <class Real>
void TDigest<Real>::rank_intervals_flushed(const double* x, std::size_t n, std::pair<double, double>* out) const {
  // rank_interval_flushed() for ascending x in [min, max]: the knot deciding the lower rank
  // of x (the first whose value reaches x) and the one deciding the upper rank (the first
  // whose value exceeds x) move forward as x grows, so one walk serves them all.
  std::size_t lower_next = 0;
  std::size_t upper_next = 0;
  double prev_rank = 0;
  double prev_value = 0;
  bool first = true;
  for (std::size_t i = 0; i < n; ++i) out[i] = {0.0, count_};
  detail::for_each_knot(centroids_, single_, static_cast<double>(min_), static_cast<double>(max_), count_,
                        [&](double rank, double value) {
                          for (; lower_next < n && value >= x[lower_next]; ++lower_next) {
                            const double xv = x[lower_next];
                            out[lower_next].first =
                                first ? rank
                                      : prev_rank + detail::fraction_between(prev_value, value, xv) * (rank - prev_rank);
                          }
                          // The first knot is at min() ≤ x, so a knot above x has one at or below it before.
                          for (; upper_next < n && value > x[upper_next]; ++upper_next) {
                            const double xv = x[upper_next];
                            out[upper_next].second =
                                prev_rank + detail::fraction_between(prev_value, value, xv) * (rank - prev_rank);
                          }
                          if (upper_next == n) return true;
                          first = false;
                          prev_rank = rank;
                          prev_value = value;
                          return false;
                        });
  for (std::size_t i = 0; i < n; ++i)
    out[i] = {std::clamp(out[i].first / count_, 0.0, 1.0), std::clamp(out[i].second / count_, 0.0, 1.0)};
}

template <class Real>
double TDigest<Real>::trimmed_mean_flushed(double lo, double hi) const {
  if (lo == hi) return quantile_flushed(lo);
  const double a = lo * count_;
  const double b = hi * count_;
  double start = 0;
  double sum = 0;
  double weight = 0;
  for (const Centroid& c : centroids_) {
    const double overlap = std::min(start + c.weight, b) - std::max(start, a);
    if (overlap > 0) {
      sum += overlap * static_cast<double>(c.mean);
      weight += overlap;
    }
    start += c.weight;
    if (start >= b) break;
  }
  return weight > 0 ? sum / weight : quantile_flushed((lo + hi) / 2);
}

template <class Real>
double TDigest<Real>::mean() const {
  if (count_ == 0) return not_a_number();
  const double lo = static_cast<double>(min_);
  const double hi = static_cast<double>(max_);
  const double m = sum_ / count_;
  // The true mean lies in [min, max]; rounding of the running sum may put m just outside.
  if (std::isfinite(m)) return std::clamp(m, lo, hi);
  return with_flushed([lo, hi](const TDigest& d) { return std::clamp(d.mean_of_centroids(), lo, hi); });
}

// Σ mean·(weight / count) over the centroids of a flushed digest: every term and partial sum
// stays within the range of the means, so nothing overflows.
template <class Real>
double TDigest<Real>::mean_of_centroids() const {
  double m = 0;
  for (const Centroid& c : centroids_) m += static_cast<double>(c.mean) * (c.weight / count_);
  return m;
}

template <class Real>
std::size_t TDigest<Real>::max_centroids() const {
  // Greedy merging leaves no two neighbours that could have merged, so each pair of
  // centroids spans more than one unit of the scale function. Its range is at most 1.5·δ
  // for k2 and k3 with vigil's normaliser (δ/2 for k1), plus δ/2 from the size cap; add the
  // gap splits (δ/10) and the two singleton ends.
  return static_cast<std::size_t>(std::ceil(4.1 * compression_)) + 4;
}

template <class Real>
std::size_t TDigest<Real>::memory_bytes() const {
  return sizeof(*this) + centroids_.capacity() * sizeof(Centroid) + single_.capacity() +
         buffer_.capacity() * sizeof(Key) + sort_scratch_.capacity() * sizeof(Key) +
         weighted_.capacity() * sizeof(Item) + items_.capacity() * sizeof(Item) +
         next_centroids_.capacity() * sizeof(Centroid) + next_single_.capacity();
}

template <class Real>
void TDigest<Real>::clear() {
  count_ = 0;
  sum_ = 0;
  min_ = std::numeric_limits<Real>::infinity();
  max_ = -std::numeric_limits<Real>::infinity();
  rejected_ = 0;
  passes_ = 0;
  centroids_.clear();
  single_.clear();
  buffered_ = 0;
  weighted_.clear();
}

template <class Real>
bool TDigest<Real>::equals(const TDigest& other) const {
  if (buffered() > 0 || other.buffered() > 0) {
    return with_flushed([&other](const TDigest& a) {
      return other.with_flushed([&a](const TDigest& b) { return a.equals(b); });
    });
  }
  // A running sum of values near ±1.8e308 of both signs is inf − inf = NaN (mean() then uses
  // the centroids): two such digests hold the same data.
  const bool same_sum = sum_ == other.sum_ || (std::isnan(sum_) && std::isnan(other.sum_));
  if (compression_ != other.compression_ || scale_ != other.scale_ || count_ != other.count_ ||
      !same_sum || rejected_ != other.rejected_ || centroids_ != other.centroids_ ||
      single_ != other.single_)
    return false;
  return count_ == 0 || (min_ == other.min_ && max_ == other.max_);
}

// Format version 1 (docs/formats.md):
//   header (type tdigest, flags: 1 = means are float32, 2 = weights are varint integers)
//   f64 compression, u8 scale function, f64 count, f64 sum, f64 min, f64 max,
//   varint rejected, varint n, n × (mean, weight), ceil(n/8) bytes of single-valued bits.
//   A mean is the zigzag varint difference of its order-preserving key (see to_key) from
//   the previous centroid's key (from 0 for the first); a weight is a varint or an f64.
template <class Real>
std::vector<std::uint8_t> TDigest<Real>::serialize() const {
  const bool working = io::ExactState::active() && (buffered() > 0 || passes_ % 2 == 1);
  if (buffered() > 0 && !working) {
    TDigest copy(*this);
    copy.flush();
    return copy.serialize();
  }
  bool integer_weights = true;
  for (const Centroid& c : centroids_)
    integer_weights = integer_weights && c.weight == std::floor(c.weight) && c.weight <= 9007199254740992.0;
  std::uint16_t flags = 0;
  if (std::is_same_v<Real, float>) flags |= detail::tdigest_flag_float_means;
  if (integer_weights) flags |= detail::tdigest_flag_integer_weights;
  if (working) flags |= detail::tdigest_flag_working_state;

  std::vector<std::uint8_t> out;
  out.reserve(io::header_size + 64 + centroids_.size() * (sizeof(Real) + 4));
  io::Writer w(out);
  w.header(io::TypeId::tdigest, detail::tdigest_format_version, flags);
  w.f64(compression_);
  w.u8(static_cast<std::uint8_t>(scale_));
  w.f64(count_);
  w.f64(sum_);
  w.f64(min());
  w.f64(max());
  w.varint(rejected_);
  w.varint(centroids_.size());
  // Means as differences of consecutive order-preserving keys (zigzag varint): sorted means
  // share their high bits, so this takes fewer bytes than the raw values.
  Key previous = 0;
  for (const Centroid& c : centroids_) {
    const Key key = to_key(c.mean);
    const auto delta = static_cast<std::int64_t>(static_cast<std::uint64_t>(key) - static_cast<std::uint64_t>(previous));
    w.varint((static_cast<std::uint64_t>(delta) << 1) ^ static_cast<std::uint64_t>(delta >> 63));
    previous = key;
    if (integer_weights) {
      w.varint(static_cast<std::uint64_t>(c.weight));
    } else {
      w.f64(c.weight);
    }
  }
  for (std::size_t i = 0; i < single_.size(); i += 8) {
    std::uint8_t bits = 0;
    for (std::size_t j = i; j < std::min(i + 8, single_.size()); ++j)
      if (single_[j]) bits = static_cast<std::uint8_t>(bits | (1u << (j - i)));
    w.u8(bits);
  }
  if (working) write_working_state(w);
  return out;
}

// The direction of the next merge pass, the weighted values waiting (value, weight, single)
// and the unit values waiting, by their keys, in the order they came.
template <class Real>
void TDigest<Real>::write_working_state(io::Writer& w) const {
  w.u8(static_cast<std::uint8_t>(passes_ % 2));
  w.varint(weighted_.size());
  for (const Item& item : weighted_) {
    w.f64(item.mean);
    w.f64(item.weight);
    w.u8(item.single ? 1 : 0);
  }
  w.varint(buffered_);
  for (std::size_t i = 0; i < buffered_; ++i) w.u64(static_cast<std::uint64_t>(buffer_[i]));
}

// Reads write_working_state()'s bytes into `digest`, each value checked as add() would.
template <class Real>
void TDigest<Real>::read_working_state(io::Reader& r, TDigest& digest) {
  const std::uint8_t parity = r.u8();
  if (parity > 1) r.fail("pass direction " + std::to_string(parity));
  digest.passes_ = parity;
  const std::size_t weighted = r.count(17);
  if (weighted > digest.buffer_limit_) r.fail(std::to_string(weighted) + " weighted values wait, more than the buffer");
  for (std::size_t i = 0; i < weighted; ++i) {
    const double value = r.f64(), weight = r.f64();
    const std::uint8_t single = r.u8();
    if (!std::isfinite(value) || !(weight > 0) || !std::isfinite(weight) || single > 1)
      r.fail("waiting value " + std::to_string(i) + " is invalid");
    digest.weighted_.push_back(Item{value, weight, single == 1});
  }
  const std::size_t buffered = r.count(8);
  if (buffered > digest.buffer_limit_) r.fail(std::to_string(buffered) + " values wait, more than the buffer");
  while (digest.buffer_capacity_ < buffered) digest.grow_buffer();
  for (std::size_t i = 0; i < buffered; ++i) {
    const std::uint64_t key = r.u64();
    if (key > static_cast<std::uint64_t>(std::numeric_limits<Key>::max()) || !std::isfinite(from_key(static_cast<Key>(key))))
      r.fail("waiting value " + std::to_string(i) + " is not a finite number");
    digest.buffer_[i] = static_cast<Key>(key);
  }
  digest.buffered_ = buffered;
}

namespace detail {

// Relative rounding a stored sum may carry against Σ mean·weight of the centroids: the running
// sum rounds once per value added and each merge pass rounds every centroid mean it rewrites,
// in Real. 2^32 units of rounding for double, 2^13 for float (whose means round at 2^-24).
template <class Real>
constexpr double tdigest_sum_tolerance() {
  return std::is_same_v<Real, float> ? 0x1p-10 : 0x1p-20;
}

// Whether `sum` can be the running sum of values summarised by centroids whose Σ mean·weight
// is `expected` and Σ |mean|·weight is `magnitude`, both computed on means scaled by 2^-64
// (so that neither overflows); `total` is the total weight. A sum that is not finite is
// possible only when the values' magnitudes add up beyond the double range (the running sum
// overflowed on the way).
inline bool tdigest_sum_consistent(double sum, double expected, double magnitude, double total, double tolerance) {
  constexpr double scale = 0x1p-64;
  if (!std::isfinite(sum)) return magnitude >= std::numeric_limits<double>::max() * scale / 8;
  // Scaling by 2^-64 is exact above 2^-958; below, each term may lose up to 2^-1074.
  const double slack = tolerance * magnitude + (total + 1) * std::numeric_limits<double>::denorm_min();
  return std::fabs(sum * scale - expected) <= slack;
}

}  // namespace detail

// Reads n centroids and their single-valued bits into `digest`; returns their total weight.
template <class Real>
double TDigest<Real>::read_centroids(io::Reader& r, TDigest& digest, std::size_t n, bool float_means,
                                     bool integer_weights) {
  digest.centroids_.reserve(n);
  double total = 0;
  std::uint64_t key = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint64_t zigzag = r.varint();
    key += (zigzag >> 1) ^ (~(zigzag & 1) + 1);
    if (float_means && key > 0xffffffffu) r.fail("centroid " + std::to_string(i) + " has an invalid float mean");
    const double mean = static_cast<double>(from_key(static_cast<Key>(key)));
    const double weight = integer_weights ? static_cast<double>(r.varint()) : r.f64();
    if (!std::isfinite(mean)) r.fail("centroid " + std::to_string(i) + " has mean " + detail::to_text(mean));
    if (!(weight > 0) || !std::isfinite(weight))
      r.fail("centroid " + std::to_string(i) + " has weight " + detail::to_text(weight));
    if (i > 0 && mean < static_cast<double>(digest.centroids_.back().mean))
      r.fail("centroid means are not in ascending order at " + std::to_string(i));
    digest.centroids_.push_back(Centroid{static_cast<Real>(mean), weight});
    total += weight;
  }
  digest.single_.assign(n, 0);
  for (std::size_t i = 0; i < n; i += 8) {
    const std::uint8_t bits = r.u8();
    for (std::size_t j = i; j < std::min(i + 8, n); ++j) digest.single_[j] = (bits >> (j - i)) & 1u;
  }
  return total;
}

// Checks what the queries of a restored digest rely on and sets min and max: an empty digest
// has NaN extremes and sum 0; a non-empty one finite min ≤ max, held by its first and last
// centroids (so quantile(0) = min and quantile(1) = max), a count equal to the weights, the
// last centroid reaching the count, and a sum consistent with the centroids.
template <class Real>
void TDigest<Real>::restore_extremes(io::Reader& r, double total, double min, double max) {
  if (centroids_.empty()) {
    if (!std::isnan(min) || !std::isnan(max) || sum_ != 0)
      r.fail("an empty digest has min " + detail::to_text(min) + ", max " + detail::to_text(max) + " or sum " +
             detail::to_text(sum_) + " set");
    return;
  }
  const auto representable = [](double v) { return std::isfinite(v) && static_cast<double>(static_cast<Real>(v)) == v; };
  if (!representable(min) || !representable(max) || !(min <= max))
    r.fail("min " + detail::to_text(min) + " and max " + detail::to_text(max) + " are not finite and ordered");
  if (std::fabs(total - count_) > 1e-9 * std::max(1.0, count_))
    r.fail("centroid weights sum to " + detail::to_text(total) + ", not the count " + detail::to_text(count_));
  if (!(static_cast<double>(centroids_.front().mean) == min && static_cast<double>(centroids_.back().mean) == max))
    r.fail("min " + detail::to_text(min) + " and max " + detail::to_text(max) + " are not the first and last centroids' means");
  // Unless the last weight is lost in the rounding of the count (add() of a unit weight to a
  // count beyond 2^53): quantile(1) is max() then all the same.
  const double last_weight = centroids_.back().weight;
  if (!(total - last_weight < count_) && count_ + last_weight != count_)
    r.fail("the centroids before the last already weigh the count " + detail::to_text(count_));
  double expected = 0;
  double magnitude = 0;
  for (const Centroid& c : centroids_) {
    const double scaled = static_cast<double>(c.mean) * 0x1p-64;
    expected += scaled * c.weight;
    magnitude += std::fabs(scaled) * c.weight;
  }
  if (!detail::tdigest_sum_consistent(sum_, expected, magnitude, count_, detail::tdigest_sum_tolerance<Real>()))
    r.fail("sum " + detail::to_text(sum_) + " is inconsistent with the centroids (their means give " +
           detail::to_text(expected * 0x1p64) + ")");
  min_ = static_cast<Real>(min);
  max_ = static_cast<Real>(max);
}

template <class Real>
TDigest<Real> TDigest<Real>::deserialize(const void* data, std::size_t size) {
  io::Reader r(data, size, "TDigest");
  std::uint16_t flags = 0;
  r.header(io::TypeId::tdigest, detail::tdigest_format_version, flags);
  if (flags & ~(detail::tdigest_flag_float_means | detail::tdigest_flag_integer_weights |
                detail::tdigest_flag_working_state))
    r.fail("unknown flags " + std::to_string(flags));
  const bool working = (flags & detail::tdigest_flag_working_state) != 0;
  const bool float_means = (flags & detail::tdigest_flag_float_means) != 0;
  const bool integer_weights = (flags & detail::tdigest_flag_integer_weights) != 0;
  if (float_means != std::is_same_v<Real, float>)
    r.fail(float_means ? "holds float means; read it as TDigest<float>" : "holds double means; read it as TDigest<double>");
  const double compression = r.f64();
  const auto scale = static_cast<ScaleFunction>(r.u8());
  if (!(compression >= detail::tdigest_min_compression && compression <= detail::tdigest_max_compression))
    r.fail("compression " + detail::to_text(compression) + " is outside [10, 100000]");
  if (scale != ScaleFunction::k1 && scale != ScaleFunction::k2 && scale != ScaleFunction::k3)
    r.fail("unknown scale function " + std::to_string(static_cast<int>(scale)));
  TDigest digest(compression, scale);
  digest.count_ = r.f64();
  digest.sum_ = r.f64();
  const double min = r.f64();
  const double max = r.f64();
  digest.rejected_ = r.varint();
  const std::size_t n = r.count(2);
  if (n > digest.max_centroids())
    r.fail(std::to_string(n) + " centroids exceed max_centroids() " + std::to_string(digest.max_centroids()) +
           " at compression " + detail::to_text(compression));
  if (!(digest.count_ >= 0) || !std::isfinite(digest.count_)) r.fail("count " + detail::to_text(digest.count_) + " is invalid");
  if (!working && (n == 0) != (digest.count_ == 0)) r.fail("count and centroids disagree");
  const double total = read_centroids(r, digest, n, float_means, integer_weights);
  if (!working) {
    r.finish();
    digest.restore_extremes(r, total, min, max);
    return digest;
  }
  read_working_state(r, digest);
  r.finish();
  // What waits is checked as the centroids it will become: a copy flushed meets every check.
  TDigest settled(digest);
  settled.flush();
  double settled_total = 0;
  for (const Centroid& c : settled.centroids_) settled_total += c.weight;
  if ((settled.centroids_.empty()) != (digest.count_ == 0)) r.fail("count and values disagree");
  settled.restore_extremes(r, settled_total, min, max);
  digest.min_ = settled.min_;
  digest.max_ = settled.max_;
  return digest;
}

namespace detail {

// The PostgreSQL `tdigest` extension (tvondra/tdigest, tdigest_compact) merges two neighbours
// while the merged weight w keeps w·c/(2π·n·ln n) ≤ q(1 − q) at both of its ends, for its
// compression c: a centroid takes up to 2π·ln(n)·q(1 − q)/c of the weight n. vigil's k2 takes
// up to q(1 − q)·(4·ln(n/δ) + 24)/(2.5·δ) in the tails, the same shape in q. The two limits
// agree for c = 5π·δ·ln(n)/(4·ln(n/δ) + 24), which grows with n towards 5π/4·δ (below it for
// every n when δ < e⁶ ≈ 403); written at that compression, a digest keeps its tail resolution
// through the extension's merges, where at c = δ they re-compact it 3.3–3.7 times coarser (at
// δ = 100, for 10³ to 10⁹ values). Scale functions: Dunning & Ertl 2019, §2.1.
inline constexpr double postgres_compression_per_delta = 5 * pi / 4;
inline constexpr long long postgres_max_compression = 10000;

// The compression written for a digest of compression `delta`: 5π/4·δ rounded, one more when
// rounding down would read back as a smaller δ, at most the extension's 10000.
inline long long postgres_compression(double delta) {
  long long c = std::llround(postgres_compression_per_delta * delta);
  if (static_cast<double>(c) / postgres_compression_per_delta < delta) ++c;
  return std::min(c, postgres_max_compression);
}

// The δ of a digest read from text of the extension's compression `c` (10 ≤ c ≤ 10000): the
// inverse of postgres_compression(), at least vigil's minimum 10. postgres_compression() of it
// gives back c for every c ≥ 40 (and 40 below).
inline double compression_from_postgres(long long c) {
  return std::max(static_cast<double>(c) / postgres_compression_per_delta, tdigest_min_compression);
}

}  // namespace detail

template <class Real>
std::string TDigest<Real>::to_postgres() const {
  if (buffered() > 0) {
    TDigest copy(*this);
    copy.flush();
    return copy.to_postgres();
  }
  if (count_ == 0) detail::throw_invalid_argument("TDigest::to_postgres: the digest is empty");
  std::string text = "flags 1 count ";
  double total = 0;
  for (const Centroid& c : centroids_) {
    if (c.weight != std::floor(c.weight))
      detail::throw_invalid_argument("TDigest::to_postgres: centroid weight " + detail::to_text(c.weight) +
                                     " is not an integer count");
    total += c.weight;
  }
  text += std::to_string(static_cast<long long>(total));
  text += " compression " + std::to_string(detail::postgres_compression(compression_));
  text += " centroids " + std::to_string(centroids_.size());
  for (const Centroid& c : centroids_) {
    text += " (" + detail::to_text(static_cast<double>(c.mean)) + ", ";
    text += std::to_string(static_cast<long long>(c.weight)) + ")";
  }
  return text;
}

namespace detail {

// Reads the PostgreSQL `tdigest` text form token by token; every error names its offset.
class PostgresText {
 public:
  explicit PostgresText(std::string_view text) : text_(text), p_(text_.c_str()) {}

  [[noreturn]] void fail(const std::string& why) const {
    throw_format_error("cannot read PostgreSQL tdigest text: " + why + " at offset " +
                       std::to_string(p_ - text_.c_str()));
  }
  void word(const char* expected) {
    skip_spaces();
    const std::size_t n = std::strlen(expected);
    if (std::strncmp(p_, expected, n) != 0) fail(std::string("expected '") + expected + "'");
    p_ += n;
  }
  long long integer() {
    skip_spaces();
    char* end = nullptr;
    errno = 0;
    const long long v = std::strtoll(p_, &end, 10);
    if (end == p_ || errno != 0) fail("expected an integer");
    p_ = end;
    return v;
  }
  double real() {
    skip_spaces();
    char* end = nullptr;
    const double v = std::strtod(p_, &end);
    if (end == p_ || !std::isfinite(v)) fail("expected a finite number");
    p_ = end;
    return v;
  }
  void finish() {
    skip_spaces();
    if (*p_ != '\0') fail("unexpected trailing text");
  }

 private:
  void skip_spaces() {
    while (*p_ == ' ') ++p_;
  }
  std::string text_;
  const char* p_;
};

// `flags F count N compression D centroids K`, checked for range.
struct PostgresHeader {
  long long flags;
  long long count;
  long long compression;
  long long centroids;
};

inline PostgresHeader read_postgres_header(PostgresText& in) {
  PostgresHeader h{};
  in.word("flags");
  h.flags = in.integer();
  if (h.flags != 0 && h.flags != 1) in.fail("unsupported flags " + std::to_string(h.flags));
  in.word("count");
  h.count = in.integer();
  in.word("compression");
  h.compression = in.integer();
  in.word("centroids");
  h.centroids = in.integer();
  if (h.count <= 0) in.fail("count must be positive");
  if (h.compression < 10 || h.compression > 10000) in.fail("compression must be in [10, 10000]");
  if (h.centroids <= 0 || h.centroids > h.count || h.centroids > 10 * h.compression)
    in.fail("centroid count " + std::to_string(h.centroids) + " is out of range");
  return h;
}

// The `(mean, count)` pairs after the header, as (mean, count) with sums (flags 0) turned
// into means; the counts must add up to the header's count.
inline std::vector<std::pair<double, long long>> read_postgres_centroids(PostgresText& in, const PostgresHeader& h) {
  std::vector<std::pair<double, long long>> centroids;
  centroids.reserve(static_cast<std::size_t>(h.centroids));
  long long total = 0;
  for (long long i = 0; i < h.centroids; ++i) {
    in.word("(");
    double mean = in.real();
    in.word(",");
    const long long weight = in.integer();
    in.word(")");
    if (weight <= 0) in.fail("centroid count must be positive");
    // Compared with what the header leaves, so that the sum cannot overflow.
    if (weight > h.count - total) in.fail("centroid counts exceed the header's count " + std::to_string(h.count));
    if (h.flags == 0) mean /= static_cast<double>(weight);  // the old format stored sums
    centroids.emplace_back(mean, weight);
    total += weight;
  }
  in.finish();
  if (total != h.count)
    in.fail("centroid counts sum to " + std::to_string(total) + ", not " + std::to_string(h.count));
  return centroids;
}

}  // namespace detail

template <class Real>
TDigest<Real> TDigest<Real>::from_postgres(std::string_view text) {
  detail::PostgresText in(text);
  const detail::PostgresHeader header = detail::read_postgres_header(in);
  TDigest digest(detail::compression_from_postgres(header.compression));
  for (const auto& [mean, weight] : detail::read_postgres_centroids(in, header)) {
    // A mean beyond float's range would become infinite in a TDigest<float>.
    if (!is_finite(static_cast<Real>(mean))) in.fail("centroid mean " + detail::to_text(mean) + " is out of range");
    digest.weighted_.push_back(Item{static_cast<double>(static_cast<Real>(mean)), static_cast<double>(weight), weight == 1});
  }
  std::stable_sort(digest.weighted_.begin(), digest.weighted_.end(),
                   [](const Item& a, const Item& b) { return a.mean < b.mean; });
  digest.count_ = static_cast<double>(header.count);
  for (const Item& item : digest.weighted_) digest.sum_ += item.mean * item.weight;
  digest.min_ = static_cast<Real>(digest.weighted_.front().mean);
  digest.max_ = static_cast<Real>(digest.weighted_.back().mean);
  if (digest.weighted_.size() > digest.max_centroids()) {
    // More centroids than this compression keeps (the extension allows up to 10·c): one merge
    // pass brings them within max_centroids(), keeping the extremes as singletons.
    digest.flush();
  } else {
    for (const Item& item : digest.weighted_) {
      digest.centroids_.push_back(Centroid{static_cast<Real>(item.mean), item.weight});
      digest.single_.push_back(item.single ? 1 : 0);
    }
    digest.weighted_.clear();
  }
  return digest;
}

namespace detail {

/// What is wrong with a digest that its queries rely on, or an empty string: the invariants
/// every digest built by add(), merge(), deserialize() or from_postgres() keeps. Checked
/// through the public API (on a flushed copy when values are pending): at most
/// max_centroids() centroids with finite ascending means in [min, max] and positive weights
/// summing to count(); quantile(0) = min(), quantile(1) = max(); quantiles monotone and in
/// [min, max] on a grid of q; cdf() monotone in [0, 1]; mean() in [min, max]. For tests and
/// fuzzing: O(centroids) per query on the grid.
template <class Real>
std::string tdigest_invariant_violation(const TDigest<Real>& digest) {
  if (digest.buffered() > 0) {
    TDigest<Real> copy(digest);
    copy.flush();
    return tdigest_invariant_violation(copy);
  }
  const auto centroids = digest.centroids();
  if (digest.empty()) {
    if (!centroids.empty() || !std::isnan(digest.min()) || !std::isnan(digest.max()) || !std::isnan(digest.mean()))
      return "an empty digest holds centroids or extremes";
    return {};
  }
  const double lo = digest.min(), hi = digest.max();
  if (!(std::isfinite(lo) && std::isfinite(hi) && lo <= hi)) return "min " + to_text(lo) + ", max " + to_text(hi);
  if (centroids.size() > digest.max_centroids()) return std::to_string(centroids.size()) + " centroids";
  double total = 0;
  double previous = lo;
  for (const auto& c : centroids) {
    const double m = static_cast<double>(c.mean);
    if (!(m >= previous && m <= hi && c.weight > 0 && std::isfinite(c.weight))) return "centroid mean " + to_text(m);
    previous = m;
    total += c.weight;
  }
  if (!(std::fabs(total - digest.count()) <= 1e-9 * std::max(1.0, digest.count()))) return "weights " + to_text(total);
  if (digest.quantile(0) != lo || digest.quantile(1) != hi) return "quantile(0) or quantile(1) is not min or max";
  constexpr std::size_t grid = 257;
  double q[grid];
  double value[grid];
  for (std::size_t i = 0; i < grid; ++i) q[i] = static_cast<double>(i) / (grid - 1);
  digest.quantiles(q, grid, value);
  double last_cdf = 0;
  for (std::size_t i = 0; i < grid; ++i) {
    if (!(value[i] >= lo && value[i] <= hi) || (i > 0 && value[i] < value[i - 1]))
      return "quantile(" + to_text(q[i]) + ") = " + to_text(value[i]);
    const double p = digest.cdf(value[i]);
    if (!(p >= last_cdf && p <= 1)) return "cdf(" + to_text(value[i]) + ") = " + to_text(p);
    last_cdf = p;
  }
  const double mean = digest.mean();
  if (!(mean >= lo && mean <= hi)) return "mean " + to_text(mean);
  return {};
}

}  // namespace detail

}  // namespace vigil

// vigil — in-process monitoring of machine-learning models in C++ inference servers.
// SPDX-License-Identifier: Apache-2.0
//
// The invariants the queries of each sketch rely on, checked on whatever a deserializer
// accepted (check_state), and what must hold when an accepted sketch is used further:
// round trip, merge with itself, adding ordinary and extreme values (check_use). The
// targets for TimeWindows and Profile apply the same checks to the sketches inside.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include <vigil/sketch/category_counts.hpp>
#include <vigil/sketch/log_histogram.hpp>
#include <vigil/sketch/rolling.hpp>
#include <vigil/sketch/tdigest.hpp>

#include "fuzz_checks.hpp"

namespace vigil_fuzz {

/// A double as `Real` holds it: out of float's range it becomes the infinity the hardware
/// conversion gives, without the undefined behaviour of converting it directly.
template <class Real>
Real to_real(double x) {
  if (std::is_same_v<Real, float> && std::isfinite(x) && std::fabs(x) > std::numeric_limits<float>::max())
    return x > 0 ? std::numeric_limits<Real>::infinity() : -std::numeric_limits<Real>::infinity();
  return static_cast<Real>(x);
}

/// Quantiles of a non-empty sketch: exact at both ends, never NaN, within [min, max] and
/// non-decreasing in q.
template <class Sketch>
void check_quantile_curve(const Sketch& s) {
  const double lo = s.min();
  const double hi = s.max();
  require(std::isfinite(lo) && std::isfinite(hi) && lo <= hi, "min and max are not finite and ordered");
  require(s.quantile(0) == lo, "quantile(0) != min()");
  require(s.quantile(1) == hi, "quantile(1) != max()");
  double previous = lo;
  for (double q : probe_probabilities()) {
    const double v = s.quantile(q);
    require(v >= lo && v <= hi, "a quantile is NaN or outside [min, max]");
    require(v >= previous, "quantiles are not monotone in q");
    previous = v;
  }
}

// ---------------------------------------------------------------------------------------
// TDigest

/// The centroids after a flush: ascending, within [min, max], positive finite weights
/// summing to count(), no more than max_centroids().
template <class Real>
void check_centroids(const vigil::TDigest<Real>& d) {
  vigil::TDigest<Real> flushed = d;
  flushed.flush();
  const auto centroids = flushed.centroids();
  require(centroids.size() <= flushed.max_centroids(), "TDigest: more centroids than max_centroids()");
  double total = 0;
  for (std::size_t i = 0; i < centroids.size(); ++i) {
    const double mean = static_cast<double>(centroids[i].mean);
    require(mean >= d.min() && mean <= d.max(), "TDigest: a centroid mean outside [min, max]");
    require(i == 0 || centroids[i - 1].mean <= centroids[i].mean, "TDigest: centroids out of order");
    require(centroids[i].weight > 0 && std::isfinite(centroids[i].weight), "TDigest: a centroid weight not finite and > 0");
    total += centroids[i].weight;
  }
  require(std::fabs(total - d.count()) <= 1e-9 * d.count(), "TDigest: centroid weights do not sum to count()");
}

template <class Real>
void check_state(const vigil::TDigest<Real>& d) {
  require(d.count() >= 0 && std::isfinite(d.count()), "TDigest: count() not finite and >= 0");
  if (d.empty()) {
    require(std::isnan(d.quantile(0.5)), "TDigest: an empty digest's quantile is not NaN");
    return;
  }
  check_quantile_curve(d);
  require(std::isfinite(d.mean()) && within(d.mean(), d.min(), d.max()), "TDigest: mean() not finite or outside [min, max]");
  const std::vector<double>& q = probe_probabilities();
  std::vector<double> batch(q.size());
  d.quantiles(q.data(), q.size(), batch.data());
  for (std::size_t i = 0; i < q.size(); ++i)
    require(batch[i] == d.quantile(q[i]), "TDigest: quantiles() differs from quantile()");
  const double mid = d.min() / 2 + d.max() / 2;
  const double c_lo = d.cdf(d.min()), c_mid = d.cdf(mid), c_hi = d.cdf(d.max());
  require(c_lo >= 0 && c_lo <= c_mid && c_mid <= c_hi && c_hi <= 1, "TDigest: cdf not monotone within [0, 1]");
  check_centroids(d);
}

template <class Real>
vigil::TDigest<Real> read_digest(const std::vector<std::uint8_t>& bytes) {
  return vigil::TDigest<Real>::deserialize(bytes);
}

template <class Real>
void check_use(const vigil::TDigest<Real>& d) {
  check_round_trip(d, read_digest<Real>);
  must_not_throw("TDigest: merge with itself", [&] {
    vigil::TDigest<Real> m = d;
    m.merge(d);
    check_state(m);
  });
  must_not_throw("TDigest: add", [&] {
    vigil::TDigest<Real> a = d;
    for (double x : probe_values()) a.add(to_real<Real>(x));
    a.add(to_real<Real>(2.0), 0.25);
    a.add(to_real<Real>(-7.0), 3.0);
    check_state(a);
    check_round_trip(a, read_digest<Real>);
  });
}

// ---------------------------------------------------------------------------------------
// LogHistogram and ConcurrentLogHistogram

/// Bucket counts, the zero bucket, underflow and overflow add up to count(); every bucket
/// with a count lies where values between min() and max() can fall. Edges are the doubles
/// nearest to b^i (bucket_lower()), so among subnormals at fine scales both edges of a bucket
/// may round to the same double: lower ≤ upper, not lower < upper.
template <class Counter>
void check_buckets(const vigil::BasicLogHistogram<Counter>& h) {
  unsigned __int128 total = h.zero_count();
  total += h.underflow();
  total += h.overflow();
  for (const auto& b : h.buckets()) {
    total += b.count;
    if (b.count == 0) continue;
    require(std::isfinite(b.lower) && b.lower <= b.upper, "LogHistogram: a bucket with edges out of order");
    require(b.lower <= h.max() * (1 + 1e-9) && b.upper >= h.min() * (1 - 1e-9),
            "LogHistogram: a counted bucket outside [min, max]");
  }
  require(total == h.count(), "LogHistogram: bucket counts do not add up to count()");
}

template <class Counter>
void check_state(const vigil::BasicLogHistogram<Counter>& h) {
  check_buckets(h);
  require(h.zero_threshold() >= 0 && std::isfinite(h.zero_threshold()), "LogHistogram: zero threshold not finite and >= 0");
  if (h.empty()) {
    require(std::isnan(h.quantile(0.5)), "LogHistogram: an empty histogram's quantile is not NaN");
    return;
  }
  check_quantile_curve(h);
  require(h.min() >= 0, "LogHistogram: a negative min()");
  require(std::isfinite(h.sum()) && std::isfinite(h.mean()) && within(h.mean(), h.min(), h.max()),
          "LogHistogram: sum() or mean() not finite, or mean outside [min, max]");
}

template <class Counter>
vigil::BasicLogHistogram<Counter> read_histogram(const std::vector<std::uint8_t>& bytes) {
  return vigil::BasicLogHistogram<Counter>::deserialize(bytes);
}

template <class Counter>
void check_use(const vigil::BasicLogHistogram<Counter>& h) {
  check_round_trip(h, read_histogram<Counter>);
  must_not_throw("LogHistogram: merge with itself", [&] {
    vigil::BasicLogHistogram<Counter> m = h;
    m.merge(h);
    check_state(m);
  });
  must_not_throw("LogHistogram: record", [&] {
    vigil::BasicLogHistogram<Counter> r = h;
    for (double x : probe_values()) r.record(x);
    r.record(0.25, 3);
    r.record(1e-9, 2);
    check_state(r);
    check_round_trip(r, read_histogram<Counter>);
  });
}

// ---------------------------------------------------------------------------------------
// RunningStats

/// Merges `other` into `into`; true when the merge was refused with the documented
/// vigil::invalid_argument whose message says one of `reasons`, and `into` still equals
/// `before` (the copy taken before). Any other exception propagates to must_not_throw().
template <class T, class... Reasons>
bool refused_unchanged(T& into, const T& other, const Reasons&... reasons) {
  const T before = into;
  try {
    into.merge(other);
    return false;
  } catch (const vigil::invalid_argument& e) {
    const std::string what = e.what();
    if (!((what.find(reasons) != std::string::npos) || ...)) throw;
    require(into == before, "a refused merge changed the state");
    return true;
  }
}

inline void check_state(const vigil::RunningStats& s) {
  require(s.count() >= 0 && std::isfinite(s.count()), "RunningStats: count() not finite and >= 0");
  if (s.empty()) {
    require(std::isnan(s.mean()), "RunningStats: an empty summary's mean is not NaN");
    return;
  }
  require(std::isfinite(s.min()) && std::isfinite(s.max()) && s.min() <= s.max(),
          "RunningStats: min and max not finite and ordered");
  require(std::isfinite(s.mean()) && within(s.mean(), s.min(), s.max()), "RunningStats: mean not finite or outside [min, max]");
  // The variances are +inf when the spread of values near the double range exceeds the
  // largest double (documented); the standard deviation then stays finite and its square
  // overflows too.
  const double half_range = s.max() / 2 - s.min() / 2;
  const double psd = s.population_stddev();
  require(std::isfinite(psd) && psd >= 0 && psd <= half_range * (1 + 1e-12),
          "RunningStats: population stddev not finite, >= 0 and within half the range");
  require(s.population_variance() >= 0, "RunningStats: population variance NaN or < 0");
  require(std::isfinite(s.population_variance()) || psd >= 0x1p508,
          "RunningStats: population variance infinite though the stddev is small");
  if (s.count() > 1) {
    require(s.variance() >= 0 && s.stddev() >= 0, "RunningStats: variance or stddev NaN or < 0");
    require(std::isfinite(s.variance()) || s.stddev() >= 0x1p508, "RunningStats: variance infinite though the stddev is small");
  }
}

inline vigil::RunningStats read_running_stats(const std::vector<std::uint8_t>& bytes) {
  return vigil::RunningStats::deserialize(bytes);
}

inline void check_use(const vigil::RunningStats& s) {
  check_round_trip(s, read_running_stats);
  must_not_throw("RunningStats: merge with itself", [&] {
    vigil::RunningStats m = s;
    // Documented refusal: a total weight beyond the double range, leaving the state as it was.
    if (!refused_unchanged(m, s, "total weight")) check_state(m);
  });
  must_not_throw("RunningStats: add", [&] {
    vigil::RunningStats a = s;
    for (double x : probe_values()) a.add(x);
    a.add(2.0, 0.5);
    check_state(a);
    check_round_trip(a, read_running_stats);
  });
}

// ---------------------------------------------------------------------------------------
// Ewma and EventRate

inline void check_state(const vigil::Ewma& e) {
  require(std::isfinite(e.half_life()) && e.half_life() > 0, "Ewma: half-life not finite and > 0");
  require(std::isfinite(e.weight()) && e.weight() >= 0, "Ewma: weight not finite and >= 0");
  require(std::isfinite(e.effective_count()) && e.effective_count() >= 0, "Ewma: effective count not finite and >= 0");
  if (!e.empty()) require(std::isfinite(e.latest_time()), "Ewma: latest time not finite");
  if (e.weight() > 0) {
    require(std::isfinite(e.mean()), "Ewma: mean not finite");
    require(std::isfinite(e.population_variance()) && e.population_variance() >= 0,
            "Ewma: population variance not finite and >= 0");
  }
}

inline vigil::Ewma read_ewma(const std::vector<std::uint8_t>& bytes) { return vigil::Ewma::deserialize(bytes); }

inline void check_use(const vigil::Ewma& e) {
  check_round_trip(e, read_ewma);
  must_not_throw("Ewma: merge with itself", [&] {
    vigil::Ewma m = e;
    // Documented refusals: counts overflowing 64 bits, a combined state beyond the double
    // range; both leave the state as it was.
    if (!refused_unchanged(m, e, "overflow", "double range")) check_state(m);
  });
  must_not_throw("Ewma: add", [&] {
    vigil::Ewma a = e;
    const double t = e.empty() ? 1000.0 : e.latest_time();
    // A count() that would overflow 64 bits is a documented refusal (invalid_argument),
    // which must leave the state as it was.
    const auto add = [&a](double x, double time, double weight) {
      if (a.count() < std::numeric_limits<std::uint64_t>::max()) return a.add(x, time, weight);
      const vigil::Ewma before = a;
      try {
        a.add(x, time, weight);
      } catch (const vigil::invalid_argument&) {
        require(a == before, "Ewma: an add overflowing count() changed the state");
        return;
      }
      require(a.count() == before.count(), "Ewma: count() overflowed");
    };
    double step = 0;
    for (double x : probe_values()) add(x, t + (step += 0.5), 1);
    add(2.0, t - e.half_life(), 1);  // out of order
    add(3.0, t + 1e6 * e.half_life(), 1);
    add(4.0, t + 1e6 * e.half_life() + 1, 0.5);
    check_state(a);
    check_round_trip(a, read_ewma);
  });
}

inline void check_state(const vigil::EventRate& r) {
  require(std::isfinite(r.half_life()) && r.half_life() > 0, "EventRate: half-life not finite and > 0");
  require(std::isfinite(r.decayed_count()) && r.decayed_count() >= 0, "EventRate: decayed count not finite and >= 0");
  if (std::isnan(r.start_time())) return;
  require(std::isfinite(r.latest_time()) && r.latest_time() >= r.start_time(), "EventRate: latest time before the start");
  for (double later : {1.0, r.half_life(), 1e3 * r.half_life()}) {
    const double time = r.latest_time() + later;
    const double rate = r.rate(time);
    require(!(rate < 0) && !std::isinf(rate), "EventRate: rate infinite or < 0");
    // NaN is documented before any exposure: where times are so large that adding `later`
    // does not move them past the start by more than min_exposure.
    require(!std::isnan(rate) || !(time - r.start_time() >= 0x1p-898), "EventRate: rate NaN after an exposure");
  }
}

inline vigil::EventRate read_event_rate(const std::vector<std::uint8_t>& bytes) {
  return vigil::EventRate::deserialize(bytes);
}

inline void check_use(const vigil::EventRate& r) {
  check_round_trip(r, read_event_rate);
  must_not_throw("EventRate: merge with itself", [&] {
    vigil::EventRate m = r;
    // Documented refusal: event counts overflowing 64 bits, leaving the state as it was.
    if (!refused_unchanged(m, r, "overflow")) check_state(m);
  });
  must_not_throw("EventRate: add", [&] {
    vigil::EventRate a = r;
    const double t = std::isnan(r.latest_time()) ? 1000.0 : r.latest_time();
    // A count() that would overflow 64 bits is a documented refusal (invalid_argument),
    // which must leave the state as it was.
    const auto add = [&a](double time, std::uint64_t n) {
      if (n <= std::numeric_limits<std::uint64_t>::max() - a.count()) return a.add(time, n);
      const vigil::EventRate before = a;
      bool refused = false;
      try {
        a.add(time, n);
      } catch (const vigil::invalid_argument&) {
        refused = true;
      }
      require(refused && a == before, "EventRate: an overflowing add was not refused or changed the state");
    };
    a.start(t);
    add(t + 1, 1);
    add(t + 2, 1000);
    add(t - r.half_life(), 2);  // out of order
    a.add(std::numeric_limits<double>::quiet_NaN());
    add(t + 1e6 * r.half_life(), 1);
    add(t + 1e6 * r.half_life() + 1, std::uint64_t{1} << 40);
    check_state(a);
    check_round_trip(a, read_event_rate);
  });
}

// ---------------------------------------------------------------------------------------
// CategoryCounts

/// Entries in decreasing count, each count at least its error and its error within the
/// bound; each found by estimate() with its own count and error.
inline void check_entries(const vigil::CategoryCounts& c, const std::vector<vigil::CategoryCounts::Entry>& entries) {
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const auto& e = entries[i];
    require(e.count >= e.error, "CategoryCounts: a count below its error");
    require(e.error <= c.error_bound(), "CategoryCounts: an error above error_bound()");
    require(!c.exact() || e.error == 0, "CategoryCounts: an error while exact()");
    require(i == 0 || entries[i - 1].count >= e.count, "CategoryCounts: entries not in decreasing count");
    const auto estimate = c.estimate(e.value);
    require(estimate.tracked && estimate.count == e.count && estimate.error == e.error,
            "CategoryCounts: estimate() differs from the entry");
  }
}

inline void check_state(const vigil::CategoryCounts& c) {
  require(c.size() <= c.capacity(), "CategoryCounts: more values than capacity()");
  const std::vector<vigil::CategoryCounts::Entry> entries = c.entries();
  require(entries.size() == c.size(), "CategoryCounts: entries() and size() differ");
  check_entries(c, entries);
  unsigned __int128 counted = 0;
  unsigned __int128 attributed = 0;
  for (const auto& e : entries) {
    counted += e.count;
    attributed += e.count - e.error;
  }
  require(attributed <= c.total() && c.other() == c.total() - static_cast<std::uint64_t>(attributed),
          "CategoryCounts: other() is not total() minus the attributed counts");
  require(!c.exact() || counted == c.total(), "CategoryCounts: exact() but the counts do not add up to total()");
  require(c.error_bound() <= c.total() / c.capacity(), "CategoryCounts: error_bound() above total() / capacity()");
  const auto absent = c.estimate(std::string_view("\xff\xfe not a tracked value \x01"));
  require(absent.tracked || absent.count == c.error_bound(), "CategoryCounts: an untracked value's estimate is not the error bound");
  if (c.empty()) return;
  const double rate = c.missing_rate();
  require(rate >= 0 && rate <= 1, "CategoryCounts: missing rate outside [0, 1]");
}

inline vigil::CategoryCounts read_category_counts(const std::vector<std::uint8_t>& bytes) {
  return vigil::CategoryCounts::deserialize(bytes);
}

inline void check_use(const vigil::CategoryCounts& c) {
  check_round_trip(c, read_category_counts);
  must_not_throw("CategoryCounts: merge with itself", [&] {
    vigil::CategoryCounts m = c;
    m.merge(c);
    check_state(m);
  });
  must_not_throw("CategoryCounts: add", [&] {
    vigil::CategoryCounts a = c;
    a.add("a");
    a.add("", 3);
    a.add(std::string(300, 'x'), 2);
    a.add_missing(2);
    if (!c.entries().empty()) a.add(c.entries().front().value, 5);
    check_state(a);
    check_round_trip(a, read_category_counts);
  });
}

// ---------------------------------------------------------------------------------------

/// The body of a sketch's target: `decode()` reads the input; what it accepts must pass
/// check_state() and check_use().
template <class T, class Decode>
void fuzz_sketch(const char* what, Decode&& decode) {
  std::optional<T> object;
  if (!accepted(what, [&] { object.emplace(decode()); })) return;
  must_not_throw("queries of the decoded object", [&] { check_state(*object); });
  check_use(*object);
}

}  // namespace vigil_fuzz

// vigil — in-process monitoring of machine-learning models in C++ inference servers.
// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "vigil/error.hpp"

namespace vigil {

namespace io {
class Reader;
class Writer;
}

/// How a t-digest spends its centroids along the quantile axis (Dunning & Ertl 2019, §2.1).
/// Every function is symmetric about q = 0.5. Whatever the function, vigil also caps each
/// centroid at 2/δ of the weight, so the middle of a skewed distribution stays accurate.
enum class ScaleFunction : std::uint8_t {
  /// k1 = δ/(2π)·asin(2q − 1): even accuracy in rank, coarser in the far tails.
  k1 = 1,
  /// k2 = Z·log(q/(1 − q)) with Z = 2.5·δ/(4·log(n/δ) + 24): fine tails, the default.
  /// (The paper's normaliser has Z 2.5× smaller; vigil spends more centroids on the tails.)
  k2 = 2,
  /// k3 = Z·log(2q) for q ≤ ½, mirrored above, with Z = 2.5·δ/(4·log(n/δ) + 21).
  k3 = 3,
};

/// A merging t-digest: a mergeable summary of a stream of numbers that answers quantile and
/// CDF queries, most accurately in the tails.
///
/// Implements the merging variant of Dunning & Ertl, "Computing extremely accurate quantiles
/// using t-digests" (2019): values are buffered, the buffer is sorted (radix sort on the
/// IEEE-754 bit patterns) and merged into the sorted centroids in one pass whose direction
/// alternates between passes, with centroid sizes limited by a scale function (k2 by default).
/// The first and last centroids stay singletons, so min() and max() are exact.
///
/// Beyond the paper:
/// - each centroid records whether it holds one distinct value only. Such centroids absorb
///   further copies of their value whatever their size, and queries treat them as a point
///   mass, so data with few distinct values (flags, small counts, rounded measurements) is
///   summarised exactly;
/// - a value more than ten times farther from a centroid than that centroid's own reach
///   starts a new centroid (at most δ/10 times per merge pass), so no centroid straddles the
///   empty gap between far-apart modes, which would otherwise smear quantiles across it,
///   most of all after merging many digests.
///
/// **Accuracy** at δ = 100 on 10^6 values (tests/sketch/tdigest_test.cpp holds these for
/// uniform, normal, lognormal, Pareto, exponential, discrete, sorted and bimodal data):
/// absolute rank error ≤ 2·10⁻⁵ at q ∈ {10⁻⁴, 10⁻³, 0.999, 0.9999}, ≤ 2·10⁻³ elsewhere;
/// digests merged from 64 parts stay within twice that.
///
/// **Memory**: at most `max_centroids()` = ⌈4.1·δ⌉ + 4 centroids of 16 bytes plus one byte
/// each (docs/benchmarks.md gives the number in practice), and a sort buffer that doubles
/// from 16 values, as values arrive, up to `buffer_capacity()` = 8·δ values. Once full
/// (after 8·δ values), the digest also holds the buffer's scratch (12.8 KB each at δ = 100)
/// and merge scratch of the centroids' size, and adds never allocate again.
/// `compact()` returns the buffers; a digest filled only by merge() never allocates the
/// sort buffer. Serialized, a digest of 10^7 values at δ = 100 takes under 2 KB.
///
/// **Threads**: const members (quantile, cdf, ...) never mutate and may run concurrently;
/// add, merge and flush need exclusive access.
///
/// **Bad input**: NaN and ±inf are refused and counted in rejected(); a weight that is not
/// finite and positive, and q outside [0, 1], throw vigil::invalid_argument.
///
/// ```cpp
/// vigil::TDigest<> latency(100);
/// for (double ms : samples) latency.add(ms);
/// double p99 = latency.quantile(0.99);
/// ```
template <class Real = double>
class TDigest {
  static_assert(std::is_same_v<Real, double> || std::is_same_v<Real, float>,
                "TDigest<Real>: Real is double or float");

 public:
  using value_type = Real;

  /// A cluster of nearby values: their mean and total weight.
  struct Centroid {
    Real mean;
    double weight;
    friend bool operator==(const Centroid& a, const Centroid& b) {
      return a.mean == b.mean && a.weight == b.weight;
    }
  };

  /// Read-only view of the compressed centroids in ascending order of mean.
  class CentroidView {
   public:
    const Centroid* begin() const { return first_; }
    const Centroid* end() const { return first_ + size_; }
    std::size_t size() const { return size_; }
    bool empty() const { return size_ == 0; }
    const Centroid& operator[](std::size_t i) const { return first_[i]; }

   private:
    friend class TDigest;
    CentroidView(const Centroid* first, std::size_t size) : first_(first), size_(size) {}
    const Centroid* first_;
    std::size_t size_;
  };

  /// An empty digest. `compression` (δ) trades memory for accuracy: error shrinks and memory
  /// grows about linearly with it. Throws vigil::invalid_argument unless 10 ≤ δ ≤ 10^5.
  explicit TDigest(double compression = 100, ScaleFunction scale = ScaleFunction::k2);

  /// Adds `x` with `weight`. NaN and ±inf are counted in rejected() and not stored.
  /// Throws vigil::invalid_argument for a weight that is NaN, infinite or ≤ 0, or that would
  /// make the total weight count() infinite (the digest is left as it was).
  /// Amortised O(1): the buffer is merged every buffer_capacity() values.
  void add(Real x, double weight = 1) {
    if (VIGIL_UNLIKELY(!is_finite(x))) {
      ++rejected_;
      return;
    }
    if (weight == 1) {
      if (VIGIL_UNLIKELY(buffered_ == buffer_capacity_)) grow_or_flush();
      buffer_[buffered_++] = to_key(x);
      count_ += 1;
      sum_ += x;
    } else {
      add_weighted(x, weight);
      return;
    }
    if (x < min_) min_ = x;
    if (x > max_) max_ = x;
  }

  /// Adds every value of another digest. Exact for count, min, max and rejected(); the
  /// centroids of both are merged under this digest's compression (they may differ).
  void merge(const TDigest& other);

  /// Merges buffered values into the centroids. Queries are cheapest right after a flush.
  void flush();

  /// Returns the buffer memory to the allocator (flushing first). Useful for digests that
  /// are kept but no longer added to, such as closed time windows.
  void compact();

  /// The q-quantile for q in [0, 1]: quantile(0) = min(), quantile(1) = max(). NaN when empty.
  /// Throws vigil::invalid_argument for q outside [0, 1] or NaN.
  /// O(centroids) after a flush; with buffered values, O(buffer) on a private copy.
  double quantile(double q) const;

  /// Estimated fraction of the weight at or below x, with ties split evenly: the estimate of
  /// F(x−) + P(X = x)/2 (the "mid-rank" rule). 0 below min(), 1 above max(), NaN when empty
  /// or x is NaN. Exact for values held in single-valued centroids.
  double cdf(double x) const;

  /// Estimated fractions of the weight strictly below x and at or below x, (F(x−), F(x)):
  /// they differ only where the digest holds weight exactly at x (a single-valued centroid).
  /// cdf(x) is their average. Both NaN when empty or x is NaN.
  std::pair<double, double> rank_interval(double x) const;

  /// quantile() of each of `n` probabilities `q`, which must be in ascending order, into
  /// `out`: one pass over the centroids for all of them (O(centroids + n) after a flush),
  /// where n calls of quantile() take O(centroids) each. Results equal quantile()'s. Throws
  /// vigil::invalid_argument for a q outside [0, 1], NaN, or out of order.
  void quantiles(const double* q, std::size_t n, double* out) const;

  /// rank_interval() of each of `n` values `x`, which must be in ascending order, into `out`,
  /// in one pass over the centroids (O(centroids + n) after a flush). Results equal
  /// rank_interval()'s. Throws vigil::invalid_argument for a NaN or an x out of order.
  void rank_intervals(const double* x, std::size_t n, std::pair<double, double>* out) const;

  /// Mean of the values between quantiles `lo` and `hi` (0 ≤ lo ≤ hi ≤ 1), each centroid's
  /// weight taken as spread evenly over its rank interval. trimmed_mean(0, 1) is the mean.
  /// NaN when empty; throws vigil::invalid_argument for bounds out of order or range.
  double trimmed_mean(double lo, double hi) const;

  /// Total weight accepted (buffered values included).
  double count() const { return count_; }
  /// Mean of the accepted values (exact up to rounding), within [min(), max()]. NaN when
  /// empty. When the running sum of values near the double range overflows, the mean is
  /// taken from the centroids instead (O(centroids)), so it stays finite.
  double mean() const;
  /// Smallest accepted value, exact. NaN when empty.
  double min() const { return count_ > 0 ? static_cast<double>(min_) : not_a_number(); }
  /// Largest accepted value, exact. NaN when empty.
  double max() const { return count_ > 0 ? static_cast<double>(max_) : not_a_number(); }
  bool empty() const { return count_ == 0; }
  /// Number of NaN and infinite values refused.
  std::uint64_t rejected() const { return rejected_; }

  /// The compressed centroids, ascending. Buffered values are not centroids yet: call
  /// flush() first to see every value (buffered() says how many are pending).
  CentroidView centroids() const { return CentroidView(centroids_.data(), centroids_.size()); }
  /// Whether centroid i holds copies of one value only (exact as a point mass).
  bool single_valued(std::size_t i) const { return single_[i] != 0; }
  /// Values added since the last flush.
  std::size_t buffered() const { return buffered_ + weighted_.size(); }

  double compression() const { return compression_; }
  ScaleFunction scale_function() const { return scale_; }
  /// Values buffered between merges.
  std::size_t buffer_capacity() const { return buffer_limit_; }
  /// Upper bound on the number of centroids after a flush, for any input.
  std::size_t max_centroids() const;
  /// Bytes currently allocated by this digest, buffers included.
  std::size_t memory_bytes() const;

  /// Removes every value; keeps compression, scale function and allocated capacity.
  void clear();

  /// The same summary: compression, scale function, counters, min, max, and the same
  /// centroids once pending values are merged (on copies; both digests are unchanged).
  friend bool operator==(const TDigest& a, const TDigest& b) { return a.equals(b); }
  friend bool operator!=(const TDigest& a, const TDigest& b) { return !a.equals(b); }

  /// Binary form, format version 1 (docs/formats.md). Buffered values are merged into the
  /// serialized centroids (on a copy; this digest is unchanged).
  std::vector<std::uint8_t> serialize() const;
  /// Reads serialize()'s output. Throws vigil::format_error on truncated, corrupt or
  /// inconsistent bytes, naming what is wrong: unknown flags, more than max_centroids()
  /// centroids, extremes that are not finite or not the first and last centroids' means, a
  /// count the weights do not give, a sum inconsistent with the centroids (docs/formats.md
  /// states the tolerance). What it accepts passes detail::tdigest_invariant_violation().
  static TDigest deserialize(const void* data, std::size_t size);
  static TDigest deserialize(const std::vector<std::uint8_t>& bytes) {
    return deserialize(bytes.data(), bytes.size());
  }

  /// Text in the PostgreSQL `tdigest` extension's format, `flags 1 count N compression C
  /// centroids K (mean, count) ...`, readable by its `tdigest` type and mergeable by its
  /// aggregates (`tdigest(tdigest)`, `tdigest_percentile(tdigest, q)`). C is in the
  /// extension's units: 5π/4·δ rounded (393 for δ = 100; at most its 10000, reached at
  /// δ ≈ 2546), the compression at which the extension's scale function keeps centroids no
  /// larger than vigil's k2 in the tails, so that its merges keep this digest's tail accuracy
  /// (written as δ, its merges of vigil's digests were on average 2 to 9 times farther from
  /// the exact p99 and p99.9, and no closer than its own digests: docs/fleet.md). Means are
  /// written with the fewest digits that read back as the same double. Throws
  /// vigil::invalid_argument when the digest is empty or holds non-integer weights (the
  /// extension stores integer counts).
  std::string to_postgres() const;
  /// Parses the PostgreSQL `tdigest` text format (flags 0, sums, or 1, means). The digest's δ
  /// is the header's compression C converted back, C/(5π/4) (at least 10), so that
  /// from_postgres(to_postgres()) keeps every centroid (up to δ ≈ 2546) and writes the same C;
  /// the extension's own digests of compression 100 read as δ ≈ 25.5, what their tails
  /// resolve. Min and max become the extreme centroid means; centroids of weight 1 are
  /// single-valued; more centroids than max_centroids() are merged in one pass. Throws
  /// vigil::format_error on malformed text or a mean beyond Real's range.
  static TDigest from_postgres(std::string_view text);

 private:
  using Key = std::conditional_t<sizeof(Real) == 8, std::uint64_t, std::uint32_t>;
  struct Item {
    double mean;
    double weight;
    bool single;
  };

  static bool is_finite(Real x) { return x - x == 0; }
  static double not_a_number();
  static Key to_key(Real x);
  static Real from_key(Key k);

  template <bool Forward>
  class PassInput;
  struct OpenCentroid;
  struct PassProgress;

  void add_weighted(Real x, double weight);
  void grow_or_flush();
  void grow_buffer();
  void gather_items();
  template <bool Forward>
  void compress(const Key* values, std::size_t value_count);
  double append_centroid(const OpenCentroid& open);
  void close_centroid(const OpenCentroid& open, PassProgress& pass);
  double weight_limit(double done, double total, double factor) const;
  double pass_factor(double total) const;
  double max_centroid_fraction() const { return 2 / compression_; }
  std::size_t gap_split_budget() const { return static_cast<std::size_t>(0.1 * compression_); }
  template <class Fn>
  auto with_flushed(Fn&& fn) const;
  double quantile_flushed(double q) const;
  std::pair<double, double> rank_interval_flushed(double x) const;
  void quantiles_flushed(const double* q, std::size_t n, double* out) const;
  void rank_intervals_flushed(const double* x, std::size_t n, std::pair<double, double>* out) const;
  double trimmed_mean_flushed(double lo, double hi) const;
  bool equals(const TDigest& other) const;
  double mean_of_centroids() const;
  static double read_centroids(io::Reader& r, TDigest& digest, std::size_t n, bool float_means, bool integer_weights);
  void write_working_state(io::Writer& w) const;
  static void read_working_state(io::Reader& r, TDigest& digest);
  void restore_extremes(io::Reader& r, double total, double min, double max);

  double compression_;
  ScaleFunction scale_;
  std::size_t buffer_limit_;
  double count_ = 0;
  double sum_ = 0;
  Real min_;
  Real max_;
  std::uint64_t rejected_ = 0;
  std::uint64_t passes_ = 0;
  std::vector<Centroid> centroids_;
  std::vector<std::uint8_t> single_;
  // Unit-weight values waiting to be merged, as order-preserving keys; buffered_ of them used.
  std::vector<Key> buffer_;
  std::size_t buffered_ = 0;
  std::size_t buffer_capacity_ = 0;
  std::vector<Item> weighted_;
  // Scratch reused by flush() so that steady-state adds never allocate.
  std::vector<Key> sort_scratch_;
  std::vector<Item> items_;
  std::vector<Centroid> next_centroids_;
  std::vector<std::uint8_t> next_single_;
};

}  // namespace vigil

#include "vigil/sketch/detail/tdigest_impl.hpp"

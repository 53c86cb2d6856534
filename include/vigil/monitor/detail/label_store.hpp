// vigil — in-process monitoring of machine-learning models in C++ inference servers.
// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <iterator>
#include <limits>
#include <memory>
#include <mutex>
#include <numeric>
#include <queue>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "vigil/config.hpp"
#include "vigil/error.hpp"
#include "vigil/io/binary.hpp"
#include "vigil/monitor/detail/cache_line.hpp"
#include "vigil/monitor/detail/spin_lock.hpp"

#if (defined(__GNUC__) || defined(__clang__)) && (defined(__x86_64__) || defined(_M_X64))
#include <emmintrin.h>
#define VIGIL_DETAIL_SSE2_SLOTS 1  // this header's own switch; undefined at its end
#endif

namespace vigil {
namespace detail {

namespace label_store_detail {

/// Bytes [0, n) of `p`, n ≤ 8, as a little-endian word, zero above them.
inline std::uint64_t load_word(const char* p, std::size_t n) noexcept {
  std::uint64_t w = 0;
  for (std::size_t i = 0; i < n; ++i) w |= std::uint64_t{static_cast<unsigned char>(p[i])} << (8 * i);
  return w;
}

/// Asks for the cache line of `address`, which the caller will read and write; does nothing
/// where the compiler has no such hint. A read hint: x86-64 compilers emit a write hint
/// (PREFETCHW) only for targets that declare it and drop it otherwise, whereas a read hint
/// is an instruction on every x86-64 and ARMv8 processor, and a line no other core holds
/// arrives writable anyway.
///
/// The empty asm statement after the hint is what keeps it: GCC counts __builtin_prefetch as
/// free of side effects, takes a function that only prefetches as pure, and drops calls of
/// it whose result is unused, that is every call of a void one such as this.
inline void prefetch_line(const void* address) noexcept {
#if defined(__GNUC__) || defined(__clang__)
  __builtin_prefetch(address, 0, 3);
  asm volatile("" : : "r"(address));
#else
  (void)address;
#endif
}

/// Index of the lowest set bit of `bits` (not 0).
inline unsigned lowest_bit(unsigned bits) noexcept {
#if defined(__GNUC__) || defined(__clang__)
  return static_cast<unsigned>(__builtin_ctz(bits));
#else
  unsigned i = 0;
  while (!(bits & 1u)) bits >>= 1, ++i;
  return i;
#endif
}

/// Slots of an index bucket.
inline constexpr std::size_t slots_per_bucket = 7;

/// Of a bucket's slots (bit i for slot i), those whose filter is `tag`, one at a time.
inline unsigned tag_mask_plain(const std::uint32_t* tags, std::uint32_t tag) noexcept {
  unsigned match = 0;
  for (std::size_t i = 0; i < slots_per_bucket; ++i) match |= static_cast<unsigned>(tags[i] == tag) << i;
  return match;
}

/// Of a bucket's slots, those whose filter is `tag` (in use or not): what a lookup needs
/// first, before it reads the insertion numbers of the few that match. Four lanes at a time
/// on x86-64 (slots 0–3, then 3–6).
inline unsigned tag_mask(const std::uint32_t* tags, std::uint32_t tag) noexcept {
#if VIGIL_DETAIL_SSE2_SLOTS
  const __m128i wanted = _mm_set1_epi32(static_cast<int>(tag));
  const int low = _mm_movemask_ps(
      _mm_castsi128_ps(_mm_cmpeq_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(tags)), wanted)));
  const int high = _mm_movemask_ps(
      _mm_castsi128_ps(_mm_cmpeq_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(tags + 3)), wanted)));
  return static_cast<unsigned>(low | high << 3);
#else
  return tag_mask_plain(tags, tag);
#endif
}

inline std::uint64_t avalanche(std::uint64_t h) noexcept {
  h ^= h >> 32;
  h *= 0xd6e8feb86659fd93ull;
  h ^= h >> 29;
  h *= 0xa0761d6478bd642full;
  h ^= h >> 32;
  return h;
}

/// Decimal digits of `magnitude` written backwards ending at `end`; returns their first.
/// Two digits per division halve the chain of dependent divisions of a 20-digit id.
inline char* write_decimal(std::uint64_t magnitude, char* end) noexcept {
  static constexpr char pairs[] =
      "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
      "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
      "8081828384858687888990919293949596979899";
  while (magnitude >= 100) {
    const std::size_t pair = 2 * static_cast<std::size_t>(magnitude % 100);
    magnitude /= 100;
    *--end = pairs[pair + 1];
    *--end = pairs[pair];
  }
  if (magnitude >= 10) {
    *--end = pairs[2 * magnitude + 1];
    *--end = pairs[2 * magnitude];
  } else {
    *--end = static_cast<char>('0' + magnitude);
  }
  return end;
}

}  // namespace label_store_detail

/// 64-bit key of a request id, by which a late label or conversion finds its request.
///
/// Text is hashed 8 bytes at a time (each word xor-ed into the state, which is then
/// multiplied by an odd constant and xor-shifted, a bijection of the state for a fixed
/// history), its length folded in first, and the result passed through a final avalanche, so
/// that every bit of the key depends on every byte of the id. Ids of equal length that differ
/// in one 8-byte word never collide. The hash has no secret seed: ids are assumed not to be
/// chosen by an adversary to collide.
///
/// Two distinct ids with the same key are taken as one (the second is a duplicate id, and a
/// label for either joins whichever is held). For n ids held at once the chance that any two
/// collide is about n² / 2^65: below 10^-8 for 262,144 ids.
inline std::uint64_t request_key(std::string_view id) noexcept;

/// Integer ids are keyed as their decimal text, so that `request_key(42) ==
/// request_key("42")`: labels read from a CSV file join requests whose ids were set as
/// integers. No allocation.
inline std::uint64_t request_key(std::uint64_t id) noexcept;

/// A negative id is keyed as its text with a minus sign: `request_key(-5) == request_key("-5")`.
inline std::uint64_t request_key(std::int64_t id) noexcept;

/// Any other integer type (`int`, `unsigned`, `long long`, …), so that `request_key(42)` is not
/// ambiguous; keyed as its decimal text like the two above. `bool` and character types are not
/// ids and are refused at compile time.
template <class Integer,
          typename std::enable_if<std::is_integral<Integer>::value && !std::is_same<Integer, bool>::value &&
                                      !std::is_same<Integer, char>::value && !std::is_same<Integer, wchar_t>::value &&
                                      !std::is_same<Integer, char16_t>::value &&
                                      !std::is_same<Integer, char32_t>::value && sizeof(Integer) <= 8,
                                  int>::type = 0>
std::uint64_t request_key(Integer id) noexcept {
  if constexpr (std::is_signed<Integer>::value)
    return request_key(static_cast<std::int64_t>(id));
  else
    return request_key(static_cast<std::uint64_t>(id));
}

/// What the join of a late label or conversion needs of one request.
struct PendingRequest {
  /// The value of `predicted` for a request with no predicted class.
  static constexpr std::uint32_t no_class = 0xffffffffu;

  double time = 0;               // the request's event time (Unix seconds)
  std::int64_t interval = 0;     // its interval index
  double score = std::nan("");   // NaN when none
  std::uint32_t predicted = no_class;  // predicted class id, or no_class
};

struct LabelStoreOptions {
  std::size_t capacity = 262144;  // requests held at most (all partitions together)
  double time_to_live = 86400;    // seconds a request waits for its label
  std::size_t partitions = 1;     // power of two, each with its own lock
  std::size_t extras = 0;         // std::uint32_t values kept per request (cohort slots, arm tag id)
  // Inserts of a part between the sweeps of stale index slots by expire() (twice as many by
  // insert() when expire() is not called), in [1, 2^30]: fewer only to exercise the sweep.
  std::uint32_t sweep_every = std::uint32_t{1} << 30;
};

/// What LabelStore::load() accepts of a request's values besides its own checks: a predicted
/// class below `classes` (or PendingRequest::no_class), and extra k below `extras[k]` (or
/// 0xffffffff, no value). An empty `extras` accepts any extras.
struct LabelStoreLimits {
  std::uint32_t classes = PendingRequest::no_class;
  std::vector<std::uint32_t> extras;
};

/// A bounded store of the requests that wait for a late label or conversion, keyed by
/// `request_key` of their id.
///
/// Each of `partitions` parts (chosen by bits of a multiple of the key, each with its own
/// lock) holds `capacity / partitions` requests (the remainder spread one each over the first
/// parts) in a ring kept in insertion order, and an index from key to request. Everything is
/// allocated by the constructor; insert, join and expire never allocate.
///
/// The index is a table of 64-byte buckets, five per sixteen requests of the part (20 bytes a
/// request), each of seven slots: a slot holds 31 bits of the key's mix (a filter: the
/// request's own key is compared on a match) and the request's insertion number in its part,
/// from which its ring position follows. A slot is in use while that number lies in the window
/// of the requests the ring holds, so that a request pushed out or aged out leaves the index
/// without the index being touched. Requests leave the window oldest first, so a bucket writes
/// its slots in turn (a cursor): the slot written next holds the bucket's oldest request, and
/// when that one is still held the bucket is full. A request whose home bucket is full goes to
/// the next bucket with a free slot, and each bucket passed keeps the insertion number of the
/// newest request that passed it: a lookup goes on to the next bucket only while that request
/// is held (linear probing over buckets; short filters in a cache-line bucket compared at once
/// are those of Fan et al. 2013, "MemC3: compact and concurrent MemCache", which places keys
/// by cuckoo hashing instead; a slot is freed by the window of ages, not by a delete). A
/// request replaced by a later one of the same key keeps its slot, dead, until it leaves the
/// window; lookups pass over it. Insertion numbers are 32-bit and wrap: every 2^30 inserts of
/// a part, expire() (or, were it not called, every 2^31 − 32 inserts, insert()) clears the
/// slots that left the window, so that no slot is ever older than 2^32 inserts and mistaken
/// for a held one.
///
/// Batches: a part indexes the requests filed into it `index_batch` (64) at a time, when the
/// 64th is filed, or before a join of one of their keys, an expire() or a read of its
/// counters, whichever comes first. Filing a request then writes only the ring's newest end
/// (a line the part touched last time), and a batch asks for its buckets all at once, so
/// that the memory accesses of many requests overlap, where each insert alone would wait for
/// its bucket: in a store larger than the caches each bucket is a line from memory, and the
/// more of them are asked for together, the less each costs (docs/benchmarks.md). A join
/// looks through the waiting requests only when a 256-bit filter of their keys has its key's
/// bit, so that labels as frequent as requests neither cut the batches short nor pay for
/// the look.
/// Every join, expire() and count is the same as if each request were indexed as it is
/// filed, but for one case: when a request is pushed out of the ring while a later request
/// of the same key waits for its batch (the two a part's size of requests apart or less; no
/// join of that key, expire() or read of the counters came in between), the later one is not
/// counted as a duplicate id, and the earlier one, if it had no label, counts as evicted or
/// aged out instead of replaced.
///
/// Ageing: a request is *older than the time-to-live* at time t when t − its time exceeds
/// `time_to_live`. `expire(t)` removes such requests from the oldest end of each ring and stops
/// at the first one that is not; requests are assumed to be filed roughly in time order, and
/// one filed out of order leaves with its neighbours (join decides by its own time anyway).
/// A request filed into a full ring pushes out the oldest one: counted in `evicted()` if it
/// had no label and was within its time-to-live at the new request's time (or that time is
/// not a number), in `expired_unlabelled()` if it had no label and was older.
///
/// Bad times never cause undefined behaviour: a request filed with a NaN or infinite time
/// can never be joined in time (join says `expired`, the next expire() removes it); a join at
/// a NaN or infinite time finds a held request `expired` and changes nothing; expire() at NaN
/// removes nothing. A label whose time is before its request's is refused (`early`) and
/// changes nothing: the request keeps waiting for a label that can be its own.
///
/// Memory: `memory_bytes() <= capacity × bytes_per_request(extras) + partitions ×
/// bytes_per_partition()`, where bytes_per_request(extras) = 32 (the request) + 20 (its share
/// of the index, index_bytes_per_request) + 4 × extras bytes, fixed at construction.
/// bytes_per_partition() allows for a last bucket of which the part's requests fill as little
/// as 4 bytes: the bound is reached when every part holds 13 more than a multiple of sixteen
/// requests, and exceeded by none; a part of a multiple of sixteen requests takes 60 bytes
/// less, its buckets exactly its requests' share.
///
/// Snapshots: save() writes the requests of every part in one list, oldest first, which
/// load() files again into the parts of its own partition count (see save()).
///
/// Thread safety: every member may be called from any number of threads at once. The
/// counters are kept per part and summed by their readers, so a reader racing writers sees
/// each part at some instant, not the whole store at one.
class LabelStore {
 public:
  /// Requests of a part filed before they are indexed together (see the class comment).
  static constexpr std::uint32_t index_batch = 64;
  /// Bits a waiting request keeps of its interval and of its predicted class.
  static constexpr unsigned interval_width = 47, predicted_width = 13;
  /// The intervals a request may have: [−max_interval − 1, max_interval].
  static constexpr std::int64_t max_interval = (std::int64_t{1} << (interval_width - 1)) - 1;
  /// The predicted classes a request may have besides PendingRequest::no_class: below this.
  static constexpr std::uint32_t max_predicted = (std::uint32_t{1} << predicted_width) - 1;
  /// Whether insert() takes `request`'s interval and predicted class.
  static bool storable(const PendingRequest& request) noexcept {
    // One test each, in unsigned arithmetic: the interval shifted by max_interval + 1 is
    // below 2^interval_width, and the predicted class plus one (no_class wraps to 0) at most
    // max_predicted.
    const bool interval = static_cast<std::uint64_t>(request.interval) + std::uint64_t{max_interval + 1} < interval_span;
    const bool predicted = static_cast<std::uint32_t>(request.predicted + 1u) <= max_predicted;
    return interval & predicted;
  }

  enum class Join {
    joined,     // first label (or conversion) of a held request within its time-to-live
    unknown,    // never held, or pushed out or aged out (then counted already)
    duplicate,  // the request already has its label (or conversion)
    expired,    // held, but older than the time-to-live at the label's time
    early       // held, but dated after the label: nothing changes, the request keeps waiting
  };

  /// Throws vigil::invalid_argument for capacity 0, a time-to-live that is not finite and
  /// positive, partitions that are not a power of two or exceed the capacity, or a part of
  /// more than 2^31 − 1 requests.
  explicit LabelStore(LabelStoreOptions options);

  /// Files a request; `extras` points to `options.extras` values (may be null when that is 0).
  /// A key already held, whether labelled or not, is a duplicate id: counted in
  /// duplicate_ids(), and the new request replaces the old one, whose place in the ring (and
  /// slot in the index) is freed when it reaches the oldest end (it counts against the
  /// capacity until then). The request is indexed with the part's next batch (see the class
  /// comment): a duplicate is recognised then. Throws vigil::invalid_argument, changing
  /// nothing, for a request that is not storable() (an interval beyond ±2^46, a predicted
  /// class of max_predicted or more): a Monitor's requests always are (IntervalClock::usable,
  /// Schema::max_classes).
  void insert(std::uint64_t key, const PendingRequest& request, const std::uint32_t* extras);

  /// Looks up the request of a label arriving at `time`. `joined`: the request is marked
  /// labelled and kept until it ages out, so that a second label for it says `duplicate`.
  /// `expired`: older than the time-to-live at `time` (checked first, whatever its marks); it
  /// is marked labelled too (it is not counted as never labelled when it ages out).
  /// `out` and `extras_out` (when not null: `options.extras` values) are filled for joined,
  /// duplicate and expired, and left as they are for unknown.
  Join join(std::uint64_t key, double time, PendingRequest& out, std::uint32_t* extras_out);

  /// As join, for a conversion: a request is converted once and labelled once,
  /// independently, so that it can have both a label and a conversion.
  Join join_conversion(std::uint64_t key, double time, PendingRequest& out, std::uint32_t* extras_out);

  /// Removes the requests older than the time-to-live at `time`, from the oldest end of each
  /// part; those never labelled are counted in expired_unlabelled().
  void expire(double time);

  std::uint64_t pending() const;             // requests held that have no label yet
  std::uint64_t held() const;                // requests held (replaced ones not included)
  std::uint64_t evicted() const;             // unlabelled requests pushed out by capacity within their TTL
  std::uint64_t expired_unlabelled() const;  // unlabelled requests that aged out (ids never labelled)
  std::uint64_t duplicate_ids() const;       // inserts of a key already held
  std::size_t capacity() const { return capacity_; }
  double time_to_live() const { return time_to_live_; }
  std::size_t partitions() const { return partition_count_; }
  std::size_t extras() const { return extras_; }
  /// The part that holds `key` (in [0, partitions())): requests are pushed out oldest first
  /// within each part.
  std::size_t partition(std::uint64_t key) const {
    // Bits of a multiple of the key (a multiplicative hash): the request path picks its part
    // with one product, and the full mix that places the key in the index is left to the
    // batch that indexes it.
    return static_cast<std::size_t>((key * 0x9e3779b97f4a7c15ull) >> 32) & (partition_count_ - 1);
  }
  /// Bytes allocated on the heap (fixed at construction).
  std::size_t memory_bytes() const;
  /// Adds another store's counts evicted(), expired_unlabelled() and duplicate_ids() to
  /// this store's (into its first part, as load() does), when the monitors of replicas
  /// merge. Nothing else moves: `other`'s requests stay there, and pending() and held()
  /// count this store's own. Takes `other`'s part locks one at a time, then this store's
  /// first part's.
  void add_counts(const LabelStore& other);

  /// Writes what the store learnt, every part's lock held: the number of extras per request;
  /// the counts evicted, expired_unlabelled and duplicate_ids summed over the parts; the
  /// number of ring positions in use (replaced requests included); then every such position,
  /// the parts' rings merged by request time (ties by part) so that each part's order is
  /// kept: key u64, time f64, interval i64, score f64, predicted u32, marks u8 (1 held,
  /// 2 labelled, 4 converted, 8 waiting for its part's batch, 0 replaced), extras u32 each;
  /// last the partition count and, per part, the requests filed since its last batch (some
  /// may have been pushed out since). Integers without a width are varints. The index is
  /// not written: load() rebuilds it. O(positions × log partitions); allocates O(partitions).
  void save(io::Writer& w) const;
  /// Reads save()'s bytes into a store of the same capacity, time-to-live and extras, of any
  /// partition count, replacing what it holds (on a throw it keeps what it held): the
  /// requests are filed again in the order written. With the partition count of the saved
  /// store every part holds what it held, and every join, push-out, expiry and count is as
  /// it would have been. With another, each key's requests keep their order and their part
  /// is its key's; a part given more than its size pushes out its oldest as insert() does
  /// (counted as evicted or aged out); requests waiting for their batch stay waiting only
  /// when they are the newest of their part (at most index_batch − 1), the others are
  /// indexed now (a duplicate id among them counted now rather than at the next batch).
  ///
  /// Throws vigil::format_error (naming what is wrong) for other extras, more positions than
  /// the capacity, marks that no request can have (a replaced request with marks, a waiting
  /// one labelled or converted), a NaN or +∞ time, a value beyond `limits` or beyond what a
  /// request holds (storable()), or a part with a batch's worth of requests waiting. Every
  /// entry is checked before the store changes.
  /// O(positions written + capacity); allocates O(partitions + extras).
  void load(io::Reader& r, const LabelStoreLimits& limits = {});

  /// Bytes of the index per request: a part of n requests has ⌈20 n / 64⌉ buckets, 35/16
  /// slots per request, so that fewer than one batch's request in ten finds its home bucket
  /// full or passed by another and goes on to the next, a way the batch did not ask for ahead
  /// (one in four with a bucket per four requests; docs/benchmarks.md has both).
  static constexpr std::size_t index_bytes_per_request = 20;
  /// Bytes per request held: the request, its share of the index and its extras.
  static constexpr std::size_t bytes_per_request(std::size_t extras) {
    return sizeof(Entry) + index_bytes_per_request + extras * sizeof(std::uint32_t);
  }
  /// Bytes per part besides its requests: its lock, counters and array headers, on their
  /// own cache lines, and the part of a last index bucket that its requests do not fill.
  static constexpr std::size_t bytes_per_partition() {
    // 20 n bytes are a multiple of gcd(20, 64) = 4: a last bucket has at least 4 in use.
    return sizeof(Partition) + sizeof(Bucket) - std::gcd(index_bytes_per_request, sizeof(Bucket));
  }

 private:
  static constexpr std::uint64_t interval_span = std::uint64_t{1} << interval_width;  // interval numbers a request can hold
  // 32 bytes, so that two fill a cache line and none straddles two: the interval, the
  // predicted class and the marks share one word (see max_interval and max_predicted).
  struct Entry {
    std::uint64_t key;
    double time;
    double score;
    std::uint64_t interval_bits : interval_width;  // the interval, two's complement
    std::uint64_t predicted : predicted_width;     // the predicted class, or no_predicted
    std::uint64_t marks : 4;                       // live | labelled | converted (| unindexed)
  };
  static_assert(sizeof(Entry) == 32, "a waiting request takes 32 bytes");
  static_assert(interval_width + predicted_width + 4 == 64, "interval, predicted class and marks share one word");
  static constexpr std::uint32_t no_predicted = max_predicted;  // the field's value for no_class
  static Entry make_entry(std::uint64_t key, double time, const PendingRequest& r, std::uint32_t marks) noexcept {
    Entry e;
    e.key = key;
    e.time = time;
    e.score = r.score;
    e.interval_bits = static_cast<std::uint64_t>(r.interval) & (interval_span - 1);
    e.predicted = r.predicted == PendingRequest::no_class ? no_predicted : r.predicted;
    e.marks = marks;
    return e;
  }
  static PendingRequest request_of(const Entry& e) noexcept {
    const std::int64_t bits = static_cast<std::int64_t>(e.interval_bits);
    const std::int64_t interval = bits > max_interval ? bits - static_cast<std::int64_t>(interval_span) : bits;
    const std::uint32_t predicted = static_cast<std::uint32_t>(e.predicted);
    return PendingRequest{e.time, interval, e.score, predicted == no_predicted ? PendingRequest::no_class : predicted};
  }
  static constexpr std::uint32_t empty = 0xffffffffu;
  static constexpr std::uint32_t live = 1, labelled = 2, converted = 4;
  // In a snapshot, and in a part's entries only while load() files them: not yet indexed.
  static constexpr std::uint32_t unindexed = 8;
  static constexpr std::uint32_t first_sequence = 0xffffff00u;
  // At most this many inserts between sweeps: a batch is indexed up to index_batch − 1
  // inserts after the count was passed, and no slot may reach 2^32 inserts of age unswept.
  static constexpr std::uint32_t sweep_limit = (std::uint32_t{1} << 31) - 4 * index_batch;
  static constexpr std::size_t slots_per_bucket = label_store_detail::slots_per_bucket;
  // One cache line. Slot i holds a filter (`tags[i]`: 0 when never used or cleared, else the
  // high bits of the key's mix with the top bit set) and the request's insertion number in
  // its part; the filters apart from the numbers, so that a bucket's filters compare at once.
  struct alignas(64) Bucket {
    std::uint32_t tags[slots_per_bucket] = {};
    std::uint32_t sequences[slots_per_bucket] = {};
    std::uint32_t spill_sequence = 0;  // the newest request placed further on from here
    std::uint32_t marks = 0;           // the slot written next (bits 0–2), `spilled` (bit 3)
  };
  static_assert(slots_per_bucket * index_bytes_per_request >= sizeof(Bucket), "a slot for every request a part holds");
  static constexpr std::uint32_t cursor_bits = 7, spilled = 8;
  struct Counters {
    std::uint64_t held = 0;
    std::uint64_t labelled = 0;  // held and labelled
    std::uint64_t evicted = 0;
    std::uint64_t expired_unlabelled = 0;
    std::uint64_t duplicate_ids = 0;
  };
  struct alignas(64) Partition {
    SpinLock lock;
    std::uint32_t size = 0;           // ring positions
    std::uint32_t oldest = 0;         // ring position of the oldest request
    std::uint32_t used = 0;           // ring positions in use from `oldest`, live or replaced
    // Insertion number of the next request (mod 2^32). It starts 256 short of wrapping, as
    // the Linux kernel's jiffies start short of theirs, so that every store meets the wrap
    // within its first requests, not after 2^32 of them.
    std::uint32_t next_sequence = first_sequence;
    std::uint32_t swept = first_sequence;  // next_sequence at the last sweep of the index
    std::uint32_t indexed = first_sequence;  // insertion number of the first request not indexed
    // Bit (key >> 56) of every key filed since the last batch (and of none before): a join
    // whose bit is clear needs not look through the waiting requests.
    std::uint64_t waiting_keys[4] = {};
    Counters counters;
    std::vector<Entry, HugePageAllocator<Entry>> entries;
    std::vector<Bucket, HugePageAllocator<Bucket>> buckets;
    std::vector<std::uint32_t, HugePageAllocator<std::uint32_t>> extras;
  };

  static std::uint64_t mix(std::uint64_t key) noexcept;
  static std::uint32_t tag_of(std::uint64_t mixed) noexcept {
    return static_cast<std::uint32_t>(mixed >> 32) | 0x80000000u;
  }
  static void check(const LabelStoreOptions& options);
  // What a request the store cannot hold is told (see storable()).
  static std::string unstorable(const PendingRequest& request);
  [[noreturn]] static void refuse(const PendingRequest& request);
  Partition& partition_of(std::uint64_t key) const { return parts_[partition(key)]; }
  static std::size_t home(const Partition& p, std::uint64_t mixed) noexcept;
  static bool held(const Partition& p, std::uint32_t sequence) noexcept {
    return in_window(p.next_sequence - 1u, p.used, sequence);
  }
  // Whether insertion number `sequence` is among the `used` ones up to `newest`: held(), for
  // a caller that keeps `newest` and `used` at hand.
  static bool in_window(std::uint32_t newest, std::uint32_t used, std::uint32_t sequence) noexcept {
    return static_cast<std::uint32_t>(newest - sequence) < used;
  }
  // Whether the slot a bucket writes next is free (never used, or its request left the window).
  static bool cursor_free(const Bucket& b, std::uint32_t newest, std::uint32_t used) noexcept {
    const std::uint32_t slot = b.marks & cursor_bits;
    return b.tags[slot] == 0 || !in_window(newest, used, b.sequences[slot]);
  }
  // Whether a request that passed bucket `b` is held, so that a lookup goes on to the next.
  static bool passed(const Bucket& b, std::uint32_t newest, std::uint32_t used) noexcept {
    return (b.marks & spilled) && in_window(newest, used, b.spill_sequence);
  }
  // Writes request `sequence` into the slot at the cursor and moves the cursor on.
  static void write_slot(Bucket& b, std::uint32_t tag, std::uint32_t sequence) noexcept {
    const std::uint32_t slot = b.marks & cursor_bits;
    b.tags[slot] = tag;
    b.sequences[slot] = sequence;
    b.marks = (b.marks & spilled) | (slot + 1 == slots_per_bucket ? 0 : slot + 1);
  }
  static std::uint32_t position_of(const Partition& p, std::uint32_t sequence) noexcept;
  static std::uint32_t find(const Partition& p, std::uint64_t key, std::uint32_t tag, std::size_t bucket) noexcept;
  static void place(Partition& p, std::size_t bucket, std::uint32_t tag, std::uint32_t sequence) noexcept;
  static void sweep(Partition& p) noexcept;
  void drop_oldest(Partition& p, double now);
  void append(Partition& p, std::uint64_t key, const PendingRequest& request, const std::uint32_t* extras);
  static std::uint32_t waiting(const Partition& p) noexcept;
  static bool waits(const Partition& p, std::uint64_t key) noexcept;
  // Marks `key` in the part's filter of waiting keys.
  static void note_waiting(Partition& p, std::uint64_t key) noexcept {
    p.waiting_keys[key >> 62] |= std::uint64_t{1} << ((key >> 56) & 63);
  }
  static bool may_wait(const Partition& p, std::uint64_t key) noexcept {
    return (p.waiting_keys[key >> 62] >> ((key >> 56) & 63)) & 1;
  }
  void index_waiting(Partition& p) const noexcept;
  static void index_further(Partition& p, std::uint64_t key, std::uint32_t tag, std::size_t bucket,
                            std::uint32_t sequence) noexcept;
  Join join_marking(std::uint64_t key, double time, std::uint32_t mark, PendingRequest& out,
                    std::uint32_t* extras_out);
  static bool older(double now, double then, double ttl) noexcept { return now - then > ttl; }
  template <class Read>
  std::uint64_t sum(Read read) const;
  static std::uint32_t ring_at(const Partition& p, std::uint32_t age) noexcept;
  std::vector<std::unique_lock<SpinLock>> lock_all() const;
  template <class Visit>
  void each_oldest_first(Visit&& visit) const;
  void save_entry(io::Writer& w, const Partition& p, std::uint32_t position, bool waiting) const;
  void load_entry(io::Reader& r, const LabelStoreLimits& limits, Entry& e, std::uint32_t* extras) const;
  static std::vector<std::uint32_t> load_batches(io::Reader& r);
  static void reset(Partition& p);
  void file_loaded(const Entry& e, const std::uint32_t* extras);
  static void index_loaded(Partition& p, std::uint32_t filed);

  std::size_t capacity_;
  double time_to_live_;
  std::size_t partition_count_;
  std::size_t extras_;
  std::uint32_t sweep_every_;   // by expire()
  std::uint32_t insert_sweep_;  // by the batches, when expire() is not called
  std::unique_ptr<Partition[]> parts_;
};

// ---------------------------------------------------------------------------------------
// Implementation

inline std::uint64_t request_key(std::string_view id) noexcept {
  using namespace label_store_detail;
  const char* p = id.data();
  std::size_t n = id.size();
  std::uint64_t h = 0x452821e638d01377ull ^ (static_cast<std::uint64_t>(n) * 0x9e3779b97f4a7c15ull);
  for (; n >= 8; n -= 8, p += 8) {
    h = (h ^ load_word(p, 8)) * 0xff51afd7ed558ccdull;
    h ^= h >> 31;
  }
  if (n != 0) {
    h = (h ^ load_word(p, n)) * 0xff51afd7ed558ccdull;
    h ^= h >> 31;
  }
  return avalanche(h);
}

inline std::uint64_t request_key(std::uint64_t id) noexcept {
  char text[20];
  char* const end = text + sizeof text;
  const char* first = label_store_detail::write_decimal(id, end);
  return request_key(std::string_view(first, static_cast<std::size_t>(end - first)));
}

inline std::uint64_t request_key(std::int64_t id) noexcept {
  if (id >= 0) return request_key(static_cast<std::uint64_t>(id));
  char text[21];
  char* const end = text + sizeof text;
  // 0 − id in unsigned arithmetic is |id|, also for the most negative id.
  char* first = label_store_detail::write_decimal(0 - static_cast<std::uint64_t>(id), end);
  *--first = '-';
  return request_key(std::string_view(first, static_cast<std::size_t>(end - first)));
}

inline void LabelStore::check(const LabelStoreOptions& o) {
  if (o.capacity == 0) throw_invalid_argument("LabelStore: capacity must be positive, got 0");
  if (!(std::isfinite(o.time_to_live) && o.time_to_live > 0))
    throw_invalid_argument("LabelStore: time_to_live must be finite and positive, got " + to_text(o.time_to_live));
  if (o.partitions == 0 || (o.partitions & (o.partitions - 1)) != 0 || o.partitions > o.capacity)
    throw_invalid_argument("LabelStore: partitions must be a power of two no larger than the capacity (" +
                           std::to_string(o.capacity) + "), got " + std::to_string(o.partitions));
  const std::size_t part = o.capacity / o.partitions + (o.capacity % o.partitions != 0);
  if (part > 0x7fffffffu)
    throw_invalid_argument("LabelStore: at most 2^31 - 1 requests per partition, got " + std::to_string(part) +
                           " (capacity " + std::to_string(o.capacity) + ")");
  if (o.sweep_every == 0 || o.sweep_every > (std::uint32_t{1} << 30))
    throw_invalid_argument("LabelStore: sweep_every must be in [1, 2^30], got " + std::to_string(o.sweep_every));
  if (o.extras > (std::numeric_limits<std::size_t>::max() / sizeof(std::uint32_t)) / part)
    throw_invalid_argument("LabelStore: too many extras per request: " + std::to_string(o.extras));
}

inline LabelStore::LabelStore(LabelStoreOptions options)
    : capacity_(options.capacity),
      time_to_live_(options.time_to_live),
      partition_count_(options.partitions),
      extras_(options.extras),
      sweep_every_(options.sweep_every),
      insert_sweep_(options.sweep_every < sweep_limit / 2 ? 2 * options.sweep_every : sweep_limit) {
  check(options);
  parts_.reset(new Partition[partition_count_]);
  for (std::size_t i = 0; i < partition_count_; ++i) {
    Partition& p = parts_[i];
    p.size = static_cast<std::uint32_t>(capacity_ / partition_count_ + (i < capacity_ % partition_count_));
    p.entries.resize(p.size);
    p.buckets.resize((std::size_t{p.size} * index_bytes_per_request + sizeof(Bucket) - 1) / sizeof(Bucket));
    p.extras.resize(std::size_t{p.size} * extras_);
  }
}

inline std::uint64_t LabelStore::mix(std::uint64_t key) noexcept { return label_store_detail::avalanche(key); }

/// The bucket a key's lookup starts from: the low 32 bits of its mix scaled to the number
/// of buckets (Lemire 2019, "Fast random integer generation in an interval"), so that the
/// table needs not be a power of two: ⌈20 n / 64⌉ buckets for n requests.
inline std::size_t LabelStore::home(const Partition& p, std::uint64_t mixed) noexcept {
  return static_cast<std::size_t>(((mixed & 0xffffffffu) * p.buckets.size()) >> 32);
}

/// Ring position of the held request numbered `sequence`: the ring holds numbers
/// next_sequence − used … next_sequence − 1 from `oldest` on.
inline std::uint32_t LabelStore::position_of(const Partition& p, std::uint32_t sequence) noexcept {
  const std::uint32_t back = p.next_sequence - sequence;  // 1 … used
  std::uint32_t next = p.oldest + p.used;  // both below 2^31
  if (next >= p.size) next -= p.size;
  return next >= back ? next - back : next + p.size - back;
}

/// The ring position of the live request of `key`, or `empty`: from its home bucket on while
/// a request that passed a bucket is held.
inline std::uint32_t LabelStore::find(const Partition& p, std::uint64_t key, std::uint32_t tag,
                                      std::size_t bucket) noexcept {
  const std::size_t count = p.buckets.size();
  const std::uint32_t newest = p.next_sequence - 1u;
  for (std::size_t step = 0; step < count; ++step) {
    const Bucket& b = p.buckets[bucket];
    // Few instructions between the bucket's arrival and the entry's load: a lookup waits for
    // both, and a short wait lets the processor start the next request's loads meanwhile.
    for (unsigned bits = label_store_detail::tag_mask(b.tags, tag); bits != 0; bits &= bits - 1) {
      const std::uint32_t sequence = b.sequences[label_store_detail::lowest_bit(bits)];
      if (!in_window(newest, p.used, sequence)) continue;
      const std::uint32_t position = position_of(p, sequence);
      const Entry& e = p.entries[position];
      if (e.key == key && (e.marks & live)) return position;  // a replaced request is dead
    }
    if (!passed(b, newest, p.used)) break;
    if (++bucket == count) bucket = 0;
  }
  return empty;
}

/// Indexes request `sequence` in the first bucket from `bucket` on whose cursor slot is free;
/// each full bucket passed records it as the newest request that passed. There is always a
/// free slot: a part holds at most its size of requests, and its buckets 35/16 as many slots.
inline void LabelStore::place(Partition& p, std::size_t bucket, std::uint32_t tag, std::uint32_t sequence) noexcept {
  const std::size_t count = p.buckets.size();
  const std::uint32_t newest = p.next_sequence - 1u;
  for (;;) {
    Bucket& b = p.buckets[bucket];
    if (cursor_free(b, newest, p.used)) {
      write_slot(b, tag, sequence);
      return;
    }
    b.marks |= spilled;
    b.spill_sequence = sequence;
    if (++bucket == count) bucket = 0;
  }
}

/// Clears the slots and spill marks of requests no longer held, so that none outlives 2^32
/// insertion numbers (see the class comment).
inline void LabelStore::sweep(Partition& p) noexcept {
  for (Bucket& b : p.buckets) {
    for (std::size_t i = 0; i < slots_per_bucket; ++i)
      if (b.tags[i] != 0 && !held(p, b.sequences[i])) b.tags[i] = b.sequences[i] = 0;
    if ((b.marks & spilled) && !held(p, b.spill_sequence)) b.marks &= ~spilled;
  }
  p.swept = p.next_sequence;
}

/// Frees the oldest ring position: a live request there leaves (its slot is no longer in
/// use once the window moves past it), counted as evicted or aged out when it had no label
/// (by its age at `now`).
inline void LabelStore::drop_oldest(Partition& p, double now) {
  Entry& e = p.entries[p.oldest];
  if (e.marks & live) {
    --p.counters.held;
    if (e.marks & labelled)
      --p.counters.labelled;
    else if (older(now, e.time, time_to_live_))
      ++p.counters.expired_unlabelled;
    else
      ++p.counters.evicted;
    e.marks = 0;
  }
  p.oldest = p.oldest + 1 == p.size ? 0 : p.oldest + 1;
  --p.used;
}

inline std::string LabelStore::unstorable(const PendingRequest& request) {
  return "interval " + std::to_string(request.interval) + " or predicted class " + std::to_string(request.predicted) +
         " is beyond what a request can hold";
}

// Out of line: the request path keeps only the test.
VIGIL_NOINLINE inline void LabelStore::refuse(const PendingRequest& request) {
  throw_invalid_argument("LabelStore::insert: " + unstorable(request));
}

inline void LabelStore::insert(std::uint64_t key, const PendingRequest& request, const std::uint32_t* extras) {
  if (VIGIL_UNLIKELY(!storable(request))) refuse(request);
  Partition& p = partition_of(key);
  std::lock_guard<SpinLock> guard(p.lock);
  append(p, key, request, extras);
  if (VIGIL_UNLIKELY(static_cast<std::uint32_t>(p.next_sequence - p.indexed) >= index_batch)) index_waiting(p);
}

/// Files a request into the ring, pushing out the oldest one when it is full. It is indexed
/// with the part's batch.
inline void LabelStore::append(Partition& p, std::uint64_t key, const PendingRequest& request,
                               const std::uint32_t* extras) {
  if (p.used == p.size) drop_oldest(p, request.time);
  std::size_t position = std::size_t{p.oldest} + p.used;
  if (position >= p.size) position -= p.size;
  ++p.used;
  ++p.next_sequence;
  // A time that is not finite can never be within the time-to-live: −∞ makes every age +∞.
  const double time = std::isfinite(request.time) ? request.time : -std::numeric_limits<double>::infinity();
  p.entries[position] = make_entry(key, time, request, live);
  for (std::size_t k = 0; k < extras_; ++k) p.extras[position * extras_ + k] = extras[k];
  ++p.counters.held;
  note_waiting(p, key);
}

/// Indexes the requests filed since the last batch that the ring still holds, in the order
/// they were filed. Their buckets are asked for first, all at once, so that their loads
/// overlap instead of each insert waiting for its own.
inline void LabelStore::index_waiting(Partition& p) const noexcept {
  if (p.indexed == p.next_sequence) return;
  const std::uint32_t count = waiting(p);
  if (VIGIL_UNLIKELY(static_cast<std::uint32_t>(p.next_sequence - p.swept) >= insert_sweep_)) sweep(p);
  // Copies, which the writes to the buckets below cannot be taken to change.
  const std::uint32_t newest = p.next_sequence - 1u, used = p.used, size = p.size;
  const Entry* const entries = p.entries.data();
  Bucket* const buckets = p.buckets.data();
  const std::uint32_t first = newest + 1u - count;
  const std::uint32_t start = position_of(p, first);
  std::uint32_t tags[index_batch], homes[index_batch];  // a part has fewer than 2^30 buckets
  for (std::uint32_t i = 0, at = start; i < count; ++i, at = at + 1 == size ? 0 : at + 1) {
    const std::uint64_t mixed = mix(entries[at].key);
    tags[i] = tag_of(mixed);
    homes[i] = static_cast<std::uint32_t>(home(p, mixed));
    label_store_detail::prefetch_line(buckets + homes[i]);
  }
  for (std::uint32_t i = 0; i < count; ++i) {
    const std::uint32_t tag = tags[i], sequence = first + i;
    const std::size_t bucket = homes[i];
    // The usual case: no slot of the home bucket has the key's filter and no request that
    // passed it is held, so that the key is nowhere, and the slot at its cursor is free.
    Bucket& b = buckets[bucket];
    if (VIGIL_LIKELY(label_store_detail::tag_mask(b.tags, tag) == 0 && !passed(b, newest, used) &&
                     cursor_free(b, newest, used))) {
      write_slot(b, tag, sequence);
    } else {
      const std::uint32_t at = start + i;
      index_further(p, entries[at >= size ? at - size : at].key, tag, bucket, sequence);
    }
  }
  p.indexed = p.next_sequence;
  std::fill(std::begin(p.waiting_keys), std::end(p.waiting_keys), std::uint64_t{0});
}

/// Whether a request of `key` is among those waiting for the part's next batch: a join
/// indexes them first only then, so that labels as frequent as requests do not cut the
/// batches short.
inline bool LabelStore::waits(const Partition& p, std::uint64_t key) noexcept {
  const std::uint32_t count = waiting(p);
  if (count == 0 || !may_wait(p, key)) return false;
  for (std::uint32_t i = 0, at = position_of(p, p.next_sequence - count); i < count;
       ++i, at = at + 1 == p.size ? 0 : at + 1)
    if (p.entries[at].key == key) return true;
  return false;
}

/// Requests filed since the part's last batch that the ring still holds (at most
/// index_batch): the others were pushed out before their turn.
inline std::uint32_t LabelStore::waiting(const Partition& p) noexcept {
  const std::uint32_t filed = p.next_sequence - p.indexed;
  return filed < p.used ? filed : p.used;
}

/// Indexes request `sequence` when its key may be held, or its home bucket is full, or
/// requests that passed it are held: the key's whole way is looked through. A held request
/// of the same key is replaced (a duplicate id): it stays in the ring and in the index, dead,
/// until the oldest end reaches it.
inline void LabelStore::index_further(Partition& p, std::uint64_t key, std::uint32_t tag, std::size_t bucket,
                                      std::uint32_t sequence) noexcept {
  const std::uint32_t old = find(p, key, tag, bucket);
  if (old != empty) {
    Entry& e = p.entries[old];
    --p.counters.held;
    if (e.marks & labelled) --p.counters.labelled;
    e.marks = 0;
    ++p.counters.duplicate_ids;
  }
  place(p, bucket, tag, sequence);
}

inline LabelStore::Join LabelStore::join_marking(std::uint64_t key, double time, std::uint32_t mark,
                                                 PendingRequest& out, std::uint32_t* extras_out) {
  const std::uint64_t mixed = mix(key);
  Partition& p = partition_of(key);
  const std::size_t bucket = home(p, mixed);
  std::lock_guard<SpinLock> guard(p.lock);
  if (waits(p, key)) index_waiting(p);  // else the index already answers for this key
  const std::uint32_t position = find(p, key, tag_of(mixed), bucket);
  if (position == empty) return Join::unknown;
  Entry& e = p.entries[position];
  out = request_of(e);
  if (extras_out != nullptr)
    for (std::size_t k = 0; k < extras_; ++k) extras_out[k] = p.extras[position * extras_ + k];
  if (!std::isfinite(time)) return Join::expired;
  const bool too_old = older(time, e.time, time_to_live_);
  if (!too_old && (e.marks & mark)) return Join::duplicate;
  if (time < e.time) return Join::early;
  if (mark == labelled && !(e.marks & labelled)) ++p.counters.labelled;
  e.marks |= mark;
  return too_old ? Join::expired : Join::joined;
}

inline LabelStore::Join LabelStore::join(std::uint64_t key, double time, PendingRequest& out,
                                         std::uint32_t* extras_out) {
  return join_marking(key, time, labelled, out, extras_out);
}

inline LabelStore::Join LabelStore::join_conversion(std::uint64_t key, double time, PendingRequest& out,
                                                    std::uint32_t* extras_out) {
  return join_marking(key, time, converted, out, extras_out);
}

inline void LabelStore::expire(double time) {
  for (std::size_t i = 0; i < partition_count_; ++i) {
    Partition& p = parts_[i];
    std::lock_guard<SpinLock> guard(p.lock);
    index_waiting(p);
    while (p.used != 0) {
      const Entry& e = p.entries[p.oldest];
      if ((e.marks & live) && !older(time, e.time, time_to_live_)) break;
      drop_oldest(p, time);
    }
    if (static_cast<std::uint32_t>(p.next_sequence - p.swept) >= sweep_every_) sweep(p);
  }
}

template <class Read>
std::uint64_t LabelStore::sum(Read read) const {
  std::uint64_t total = 0;
  for (std::size_t i = 0; i < partition_count_; ++i) {
    Partition& p = parts_[i];
    std::lock_guard<SpinLock> guard(p.lock);
    index_waiting(p);  // so that duplicate ids are counted
    total += read(p.counters);
  }
  return total;
}

inline std::uint64_t LabelStore::pending() const {
  return sum([](const Counters& c) { return c.held - c.labelled; });
}
inline std::uint64_t LabelStore::held() const {
  return sum([](const Counters& c) { return c.held; });
}
inline std::uint64_t LabelStore::evicted() const {
  return sum([](const Counters& c) { return c.evicted; });
}
inline std::uint64_t LabelStore::expired_unlabelled() const {
  return sum([](const Counters& c) { return c.expired_unlabelled; });
}
inline std::uint64_t LabelStore::duplicate_ids() const {
  return sum([](const Counters& c) { return c.duplicate_ids; });
}

inline void LabelStore::add_counts(const LabelStore& other) {
  const std::uint64_t evicted = other.evicted(), expired = other.expired_unlabelled(), duplicates = other.duplicate_ids();
  std::lock_guard<SpinLock> guard(parts_[0].lock);
  Counters& first = parts_[0].counters;
  first.evicted += evicted;
  first.expired_unlabelled += expired;
  first.duplicate_ids += duplicates;
}

inline std::size_t LabelStore::memory_bytes() const {
  std::size_t bytes = partition_count_ * sizeof(Partition);
  for (std::size_t i = 0; i < partition_count_; ++i) {
    const Partition& p = parts_[i];
    bytes += p.entries.capacity() * sizeof(Entry) + p.buckets.capacity() * sizeof(Bucket) +
             p.extras.capacity() * sizeof(std::uint32_t);
  }
  return bytes;
}

// ---------------------------------------------------------------------------------------
// Snapshots

/// Ring position of the request `age` positions after the oldest one.
inline std::uint32_t LabelStore::ring_at(const Partition& p, std::uint32_t age) noexcept {
  const std::uint32_t at = p.oldest + age;  // both below 2^31
  return at >= p.size ? at - p.size : at;
}

/// Every part's lock, taken in the order of the parts (no other path holds two).
inline std::vector<std::unique_lock<SpinLock>> LabelStore::lock_all() const {
  std::vector<std::unique_lock<SpinLock>> locks;
  locks.reserve(partition_count_);
  for (std::size_t i = 0; i < partition_count_; ++i) locks.emplace_back(parts_[i].lock);
  return locks;
}

/// Calls visit(part, ring position, waiting for its batch) for every ring position in use,
/// the parts' rings merged by the time of their requests, ties by part: each part's own order
/// is kept. Every part's lock held.
template <class Visit>
void LabelStore::each_oldest_first(Visit&& visit) const {
  using Head = std::pair<double, std::size_t>;  // the time of a part's next request, the part
  std::priority_queue<Head, std::vector<Head>, std::greater<Head>> heads;
  std::vector<std::uint32_t> taken(partition_count_, 0);
  const auto push = [&](std::size_t i) {
    const Partition& p = parts_[i];
    if (taken[i] < p.used) heads.emplace(p.entries[ring_at(p, taken[i])].time, i);
  };
  for (std::size_t i = 0; i < partition_count_; ++i) push(i);
  while (!heads.empty()) {
    const std::size_t i = heads.top().second;
    heads.pop();
    const Partition& p = parts_[i];
    visit(p, ring_at(p, taken[i]), taken[i] >= p.used - waiting(p));
    ++taken[i];
    push(i);
  }
}

inline void LabelStore::save_entry(io::Writer& w, const Partition& p, std::uint32_t position, bool waiting) const {
  const Entry& e = p.entries[position];
  const PendingRequest r = request_of(e);
  w.u64(e.key);
  w.f64(r.time);
  w.i64(r.interval);
  w.f64(r.score);
  w.u32(r.predicted);
  w.u8(static_cast<std::uint8_t>(e.marks | (waiting ? unindexed : 0)));
  for (std::size_t k = 0; k < extras_; ++k) w.u32(p.extras[std::size_t{position} * extras_ + k]);
}

inline void LabelStore::save(io::Writer& w) const {
  const std::vector<std::unique_lock<SpinLock>> locks = lock_all();
  Counters total;
  std::uint64_t used = 0;
  for (std::size_t i = 0; i < partition_count_; ++i) {
    const Partition& p = parts_[i];
    total.evicted += p.counters.evicted;
    total.expired_unlabelled += p.counters.expired_unlabelled;
    total.duplicate_ids += p.counters.duplicate_ids;
    used += p.used;
  }
  w.varint(extras_);
  w.varint(total.evicted);
  w.varint(total.expired_unlabelled);
  w.varint(total.duplicate_ids);
  w.varint(used);
  each_oldest_first([&](const Partition& p, std::uint32_t position, bool waiting) { save_entry(w, p, position, waiting); });
  w.varint(partition_count_);
  for (std::size_t i = 0; i < partition_count_; ++i) w.varint(parts_[i].next_sequence - parts_[i].indexed);
}

/// Reads one ring position of save() into `e` and `extras`, checking its marks, time and values.
inline void LabelStore::load_entry(io::Reader& r, const LabelStoreLimits& limits, Entry& e, std::uint32_t* extras) const {
  const std::uint64_t key = r.u64();
  PendingRequest request;
  request.time = r.f64();
  request.interval = r.i64();
  request.score = r.f64();
  request.predicted = r.u32();
  const std::uint32_t marks = r.u8();
  if (marks > (live | labelled | converted | unindexed))
    r.fail("label store: request marks " + std::to_string(marks) + " are out of range");
  if (!(marks & live) && marks != 0) r.fail("label store: a replaced request has marks");
  if ((marks & unindexed) && marks != (live | unindexed))
    r.fail("label store: a request waiting for its batch is labelled or converted");
  if (std::isnan(request.time) || request.time == std::numeric_limits<double>::infinity())
    r.fail("label store: a request's time is NaN or +inf");
  if (request.predicted != PendingRequest::no_class && request.predicted >= limits.classes)
    r.fail("label store: predicted class " + std::to_string(request.predicted) + ", at most " +
           std::to_string(limits.classes) + " classes");
  if (!storable(request)) r.fail("label store: a request's " + unstorable(request));
  e = make_entry(key, request.time, request, marks);
  for (std::size_t k = 0; k < extras_; ++k) {
    extras[k] = r.u32();
    if (!limits.extras.empty() && extras[k] != 0xffffffffu && extras[k] >= limits.extras[k])
      r.fail("label store: extra " + std::to_string(k) + " of a request is " + std::to_string(extras[k]) +
             ", below " + std::to_string(limits.extras[k]) + " expected");
  }
}

/// Empties a part: no request, no index, no counts.
inline void LabelStore::reset(Partition& p) {
  p.oldest = p.used = 0;
  p.next_sequence = p.swept = p.indexed = first_sequence;
  p.counters = Counters{};
  std::fill(std::begin(p.waiting_keys), std::end(p.waiting_keys), std::uint64_t{0});
  std::fill(p.buckets.begin(), p.buckets.end(), Bucket{});
}

/// Files a request read by load() as the newest of its part, unindexed, pushing out the
/// oldest one when the part is full. Every part's lock held.
inline void LabelStore::file_loaded(const Entry& e, const std::uint32_t* extras) {
  Partition& p = partition_of(e.key);
  if (p.used == p.size) drop_oldest(p, e.time);
  const std::uint32_t position = ring_at(p, p.used);
  ++p.used;
  ++p.next_sequence;
  p.entries[position] = e;
  for (std::size_t k = 0; k < extras_; ++k) p.extras[std::size_t{position} * extras_ + k] = extras[k];
  if (e.marks & live) {
    ++p.counters.held;
    if (e.marks & labelled) ++p.counters.labelled;
  }
}

/// Per part of the saved store, the requests filed since its last batch.
inline std::vector<std::uint32_t> LabelStore::load_batches(io::Reader& r) {
  std::vector<std::uint32_t> filed(r.count(1));
  if (filed.empty()) r.fail("label store: no partitions");
  for (std::uint32_t& n : filed) {
    const std::uint64_t v = r.varint();
    if (v >= index_batch) r.fail("label store: " + std::to_string(v) + " requests waiting for a batch of " + std::to_string(index_batch));
    n = static_cast<std::uint32_t>(v);
  }
  return filed;
}

/// Indexes the requests load() filed into a part, oldest first, but for its newest ones
/// that were waiting for their batch (fewer than a batch): those wait again. A held request
/// of the same key as an older one replaces it, as the batch would have done. `filed`: the
/// requests the saved part had filed since its last batch, when it is this part; it counts
/// towards the next batch those that were pushed out, when all the part holds waits.
inline void LabelStore::index_loaded(Partition& p, std::uint32_t filed) {
  std::uint32_t waiting = 0;
  while (waiting < p.used && waiting + 1 < index_batch && (p.entries[ring_at(p, p.used - 1 - waiting)].marks & unindexed))
    ++waiting;
  const std::uint32_t first = p.next_sequence - p.used;
  for (std::uint32_t age = 0; age < p.used; ++age) {
    Entry& e = p.entries[ring_at(p, age)];
    e.marks &= ~unindexed;
    if (age >= p.used - waiting) {
      note_waiting(p, e.key);  // indexed with the part's next batch
      continue;
    }
    if (!(e.marks & live)) continue;
    const std::uint64_t mixed = mix(e.key);
    index_further(p, e.key, tag_of(mixed), home(p, mixed), first + age);
  }
  p.indexed = p.next_sequence - (waiting == p.used ? std::max(waiting, filed) : waiting);
}

inline void LabelStore::load(io::Reader& r, const LabelStoreLimits& limits) {
  if (!limits.extras.empty() && limits.extras.size() != extras_)
    throw_invalid_argument("LabelStore::load: limits for " + std::to_string(limits.extras.size()) + " extras, the store keeps " +
                           std::to_string(extras_));
  const std::uint64_t extras = r.varint();
  if (extras != extras_)
    r.fail("label store: " + std::to_string(extras) + " extras per request written, " + std::to_string(extras_) + " expected");
  Counters total;
  total.evicted = r.varint();
  total.expired_unlabelled = r.varint();
  total.duplicate_ids = r.varint();
  const std::size_t n = r.count(37 + 4 * extras_);
  if (n > capacity_)
    r.fail("label store: " + std::to_string(n) + " requests, more than its capacity " + std::to_string(capacity_));
  // Every entry is checked before the store changes; then read again from the same bytes.
  const io::Reader entries = r;
  Entry e{};
  std::vector<std::uint32_t> values(extras_);
  for (std::size_t i = 0; i < n; ++i) load_entry(r, limits, e, values.data());
  const std::vector<std::uint32_t> batches = load_batches(r);
  const bool same_parts = batches.size() == partition_count_;
  const std::vector<std::unique_lock<SpinLock>> locks = lock_all();
  for (std::size_t i = 0; i < partition_count_; ++i) reset(parts_[i]);
  io::Reader again = entries;
  for (std::size_t i = 0; i < n; ++i) {
    load_entry(again, limits, e, values.data());
    file_loaded(e, values.data());
  }
  for (std::size_t i = 0; i < partition_count_; ++i) index_loaded(parts_[i], same_parts ? batches[i] : 0);
  Counters& first = parts_[0].counters;
  first.evicted += total.evicted;
  first.expired_unlabelled += total.expired_unlabelled;
  first.duplicate_ids += total.duplicate_ids;
}

}  // namespace detail
}  // namespace vigil

#undef VIGIL_DETAIL_SSE2_SLOTS

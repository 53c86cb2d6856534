// vigil — in-process monitoring of machine-learning models in C++ inference servers.
// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "vigil/config.hpp"
#include "vigil/error.hpp"
#include "vigil/monitor/detail/spin_lock.hpp"

namespace vigil {
namespace detail {

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
};

/// A bounded store of the requests that wait for a late label or conversion, keyed by
/// `request_key` of their id.
///
/// Each of `partitions` parts (chosen by bits of the key's mix, each with its own lock) holds
/// `capacity / partitions` requests (the remainder spread one each over the first parts) in
/// a ring kept in insertion order, and an index from key to ring position: open addressing
/// with linear probing over twice as many slots as the ring holds, each slot the position
/// and 32 bits of the key's hash, emptied by backward shifting (no tombstones). Everything is
/// allocated by the constructor; insert, join and expire never allocate.
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
/// Memory: `memory_bytes() == capacity × bytes_per_request(extras) + partitions ×
/// bytes_per_partition()`, where bytes_per_request(extras) = 40 (the request) + 2 × 8 (two
/// index slots) + 4 × extras bytes, fixed at construction.
///
/// Thread safety: every member may be called from any number of threads at once. The
/// counters are kept per part and summed by their readers, so a reader racing writers sees
/// each part at some instant, not the whole store at one.
class LabelStore {
 public:
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
  /// duplicate_ids(), and the new request replaces the old one, whose place in the ring is
  /// freed when it reaches the oldest end (it counts against the capacity until then).
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

  /// Starts loading the index slot where `key` is looked up, without a lock, so that an
  /// insert or join of it a little later finds that slot in cache: the request path calls it
  /// before its other work, which then overlaps the memory access. A hint only: it changes
  /// nothing, and an insert or join without it gives the same result.
  void prefetch(std::uint64_t key) const noexcept;

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
  std::size_t partition(std::uint64_t key) const { return (mix(key) >> 32) & (partition_count_ - 1); }
  /// Bytes allocated on the heap (fixed at construction).
  std::size_t memory_bytes() const;

  /// Bytes per request held: the request, two index slots and its extras.
  static constexpr std::size_t bytes_per_request(std::size_t extras) {
    return sizeof(Entry) + 2 * sizeof(Slot) + extras * sizeof(std::uint32_t);
  }
  /// Bytes per part besides its requests: its lock, counters and array headers, on their
  /// own cache lines.
  static constexpr std::size_t bytes_per_partition() { return sizeof(Partition); }

 private:
  struct Entry {
    std::uint64_t key;
    double time;
    std::int64_t interval;
    double score;
    std::uint32_t predicted;
    std::uint32_t marks;  // live | labelled | converted
  };
  struct Slot {
    std::uint32_t position;  // in the ring, or `empty`
    std::uint32_t hash;      // low 32 bits of the key's mix: its home slot, and a filter
  };
  struct Counters {
    std::uint64_t held = 0;
    std::uint64_t labelled = 0;  // held and labelled
    std::uint64_t evicted = 0;
    std::uint64_t expired_unlabelled = 0;
    std::uint64_t duplicate_ids = 0;
  };
  struct alignas(64) Partition {
    SpinLock lock;
    std::uint32_t size = 0;    // ring positions
    std::uint32_t oldest = 0;  // ring position of the oldest request
    std::uint32_t used = 0;    // ring positions in use from `oldest`, live or replaced
    Counters counters;
    std::vector<Entry> entries;
    std::vector<Slot> slots;
    std::vector<std::uint32_t> extras;
  };
  static constexpr std::uint32_t empty = 0xffffffffu;
  static constexpr std::uint32_t live = 1, labelled = 2, converted = 4;

  static std::uint64_t mix(std::uint64_t key) noexcept;
  static void check(const LabelStoreOptions& options);
  Partition& partition_of(std::uint64_t mixed) const;
  static std::size_t home(const Partition& p, std::uint32_t hash) noexcept;
  static std::uint32_t find(const Partition& p, std::uint64_t key, std::uint32_t hash) noexcept;
  static void prefetch_eviction(const Partition& p) noexcept;
  void append(Partition& p, std::uint64_t key, std::uint32_t hash, const PendingRequest& request,
              const std::uint32_t* extras);
  void drop_oldest(Partition& p, double now);
  static void unindex(Partition& p, std::uint32_t position);
  Join join_marking(std::uint64_t key, double time, std::uint32_t mark, PendingRequest& out,
                    std::uint32_t* extras_out);
  static bool older(double now, double then, double ttl) noexcept { return now - then > ttl; }
  template <class Read>
  std::uint64_t sum(Read read) const;

  std::size_t capacity_;
  double time_to_live_;
  std::size_t partition_count_;
  std::size_t extras_;
  std::unique_ptr<Partition[]> parts_;
};

// ---------------------------------------------------------------------------------------
// Implementation

namespace label_store_detail {

/// Bytes [0, n) of `p`, n ≤ 8, as a little-endian word, zero above them.
inline std::uint64_t load_word(const char* p, std::size_t n) noexcept {
  std::uint64_t w = 0;
  for (std::size_t i = 0; i < n; ++i) w |= std::uint64_t{static_cast<unsigned char>(p[i])} << (8 * i);
  return w;
}

/// Asks for the cache line of `address` ahead of a write to it; does nothing where the
/// compiler has no such hint.
inline void prefetch_line(const void* address) noexcept {
#if defined(__GNUC__) || defined(__clang__)
  __builtin_prefetch(address, 1, 3);
#else
  (void)address;
#endif
}

/// Steps from slot `from` forward to slot `to` in a table of `size` slots, wrapping around.
inline std::size_t steps(std::size_t from, std::size_t to, std::size_t size) noexcept {
  return to >= from ? to - from : to + size - from;
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
  if (o.extras > (std::numeric_limits<std::size_t>::max() / sizeof(std::uint32_t)) / part)
    throw_invalid_argument("LabelStore: too many extras per request: " + std::to_string(o.extras));
}

inline LabelStore::LabelStore(LabelStoreOptions options)
    : capacity_(options.capacity),
      time_to_live_(options.time_to_live),
      partition_count_(options.partitions),
      extras_(options.extras) {
  check(options);
  parts_.reset(new Partition[partition_count_]);
  for (std::size_t i = 0; i < partition_count_; ++i) {
    Partition& p = parts_[i];
    p.size = static_cast<std::uint32_t>(capacity_ / partition_count_ + (i < capacity_ % partition_count_));
    p.entries.resize(p.size);
    p.slots.resize(2 * std::size_t{p.size}, Slot{empty, 0});
    p.extras.resize(std::size_t{p.size} * extras_);
  }
}

inline std::uint64_t LabelStore::mix(std::uint64_t key) noexcept { return label_store_detail::avalanche(key); }

inline LabelStore::Partition& LabelStore::partition_of(std::uint64_t mixed) const {
  return parts_[(mixed >> 32) & (partition_count_ - 1)];  // as partition(key)
}

/// The slot a hash starts probing from: the hash scaled to the table size (Lemire 2019,
/// "Fast random integer generation in an interval"), so that the table needs not be a
/// power of two and holds exactly two slots per request.
inline std::size_t LabelStore::home(const Partition& p, std::uint32_t hash) noexcept {
  return static_cast<std::size_t>((std::uint64_t{hash} * p.slots.size()) >> 32);
}

/// Ring position of `key`, or `empty`.
inline std::uint32_t LabelStore::find(const Partition& p, std::uint64_t key, std::uint32_t hash) noexcept {
  const std::size_t size = p.slots.size();
  for (std::size_t i = home(p, hash);;) {
    const Slot s = p.slots[i];
    if (s.position == empty) return empty;
    if (s.hash == hash && p.entries[s.position].key == key) return s.position;
    if (++i == size) i = 0;
  }
}

/// Removes the index slot of ring position `position` (which must be indexed), shifting
/// back the slots after it that may move closer to their home, so that no probe for them
/// meets an empty slot first.
inline void LabelStore::unindex(Partition& p, std::uint32_t position) {
  const std::size_t size = p.slots.size();
  const std::uint32_t hash = static_cast<std::uint32_t>(mix(p.entries[position].key));
  std::size_t hole = home(p, hash);
  while (p.slots[hole].position != position) hole = hole + 1 == size ? 0 : hole + 1;
  for (std::size_t j = hole;;) {
    j = j + 1 == size ? 0 : j + 1;
    const Slot s = p.slots[j];
    if (s.position == empty) break;
    if (label_store_detail::steps(home(p, s.hash), j, size) >= label_store_detail::steps(hole, j, size)) {
      p.slots[hole] = s;
      hole = j;
    }
  }
  p.slots[hole] = Slot{empty, 0};
}

/// Frees the oldest ring position: a live request there leaves the index, counted as
/// evicted or aged out when it had no label (by its age at `now`).
inline void LabelStore::drop_oldest(Partition& p, double now) {
  Entry& e = p.entries[p.oldest];
  if (e.marks & live) {
    unindex(p, p.oldest);
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

inline void LabelStore::append(Partition& p, std::uint64_t key, std::uint32_t hash, const PendingRequest& request,
                               const std::uint32_t* extras) {
  if (p.used == p.size) drop_oldest(p, request.time);
  std::size_t position = std::size_t{p.oldest} + p.used;
  if (position >= p.size) position -= p.size;
  ++p.used;
  // A time that is not finite can never be within the time-to-live: −∞ makes every age +∞.
  const double time = std::isfinite(request.time) ? request.time : -std::numeric_limits<double>::infinity();
  p.entries[position] = Entry{key, time, request.interval, request.score, request.predicted, live};
  for (std::size_t k = 0; k < extras_; ++k) p.extras[position * extras_ + k] = extras[k];
  const std::size_t size = p.slots.size();
  std::size_t i = home(p, hash);
  while (p.slots[i].position != empty) i = i + 1 == size ? 0 : i + 1;
  p.slots[i] = Slot{static_cast<std::uint32_t>(position), hash};
  ++p.counters.held;
  prefetch_eviction(p);
}

/// When the ring is full, the next insert pushes out the oldest request and empties its
/// index slot, at a place unrelated to the new key's: start loading that slot now, so that
/// the wait for it overlaps whatever the caller does until then.
inline void LabelStore::prefetch_eviction(const Partition& p) noexcept {
  if (p.used != p.size) return;
  const Entry& oldest = p.entries[p.oldest];
  if (oldest.marks & live)
    label_store_detail::prefetch_line(&p.slots[home(p, static_cast<std::uint32_t>(mix(oldest.key)))]);
}

// The slots' array is sized by the constructor and never moved after, so that reading its
// address and size needs no lock.
inline void LabelStore::prefetch(std::uint64_t key) const noexcept {
  const std::uint64_t mixed = mix(key);
  const Partition& p = partition_of(mixed);
  label_store_detail::prefetch_line(p.slots.data() + home(p, static_cast<std::uint32_t>(mixed)));
}

inline void LabelStore::insert(std::uint64_t key, const PendingRequest& request, const std::uint32_t* extras) {
  const std::uint64_t mixed = mix(key);
  const auto hash = static_cast<std::uint32_t>(mixed);
  Partition& p = partition_of(mixed);
  std::lock_guard<SpinLock> guard(p.lock);
  const std::uint32_t old = find(p, key, hash);
  if (old != empty) {
    // The old request keeps its ring position, dead, until the oldest end reaches it.
    Entry& e = p.entries[old];
    unindex(p, old);
    --p.counters.held;
    if (e.marks & labelled) --p.counters.labelled;
    e.marks = 0;
    ++p.counters.duplicate_ids;
  }
  append(p, key, hash, request, extras);
}

inline LabelStore::Join LabelStore::join_marking(std::uint64_t key, double time, std::uint32_t mark,
                                                 PendingRequest& out, std::uint32_t* extras_out) {
  const std::uint64_t mixed = mix(key);
  Partition& p = partition_of(mixed);
  std::lock_guard<SpinLock> guard(p.lock);
  const std::uint32_t position = find(p, key, static_cast<std::uint32_t>(mixed));
  if (position == empty) return Join::unknown;
  Entry& e = p.entries[position];
  out = PendingRequest{e.time, e.interval, e.score, e.predicted};
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
    while (p.used != 0) {
      const Entry& e = p.entries[p.oldest];
      if ((e.marks & live) && !older(time, e.time, time_to_live_)) break;
      drop_oldest(p, time);
    }
  }
}

template <class Read>
std::uint64_t LabelStore::sum(Read read) const {
  std::uint64_t total = 0;
  for (std::size_t i = 0; i < partition_count_; ++i) {
    Partition& p = parts_[i];
    std::lock_guard<SpinLock> guard(p.lock);
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

inline std::size_t LabelStore::memory_bytes() const {
  std::size_t bytes = partition_count_ * sizeof(Partition);
  for (std::size_t i = 0; i < partition_count_; ++i) {
    const Partition& p = parts_[i];
    bytes += p.entries.capacity() * sizeof(Entry) + p.slots.capacity() * sizeof(Slot) +
             p.extras.capacity() * sizeof(std::uint32_t);
  }
  return bytes;
}

}  // namespace detail
}  // namespace vigil

// vigil — in-process monitoring of machine-learning models in C++ inference servers.
// SPDX-License-Identifier: Apache-2.0
#pragma once

/// \file
/// The byte-level encoding shared by every serialized vigil object (docs/formats.md).
///
/// Every object starts with an 8-byte header:
///
/// | offset | size | field                                                  |
/// |--------|------|--------------------------------------------------------|
/// | 0      | 4    | magic `V` `I` `G` `L`                                  |
/// | 4      | 1    | format version of this object type                     |
/// | 5      | 1    | type id (`vigil::io::TypeId`)                          |
/// | 6      | 2    | flags, little endian, meaning defined per type         |
///
/// Integers are little endian; doubles are IEEE-754 binary64 bit patterns stored as a
/// little-endian 64-bit integer; `varint` is unsigned LEB128 (at most 10 bytes).
/// A sealed object (seal(), unseal()) sets flag bit 15 and ends with the CRC-32C of every
/// byte before it, so that corruption is refused before anything is read.
/// This layer sits below every other: it depends on the standard library only.

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "vigil/error.hpp"

namespace vigil {
namespace detail {
// The byte-at-a-time table of the reflected Castagnoli polynomial 0x82F63B78: entry b is the
// remainder of b shifted through eight rounds of the division.
constexpr std::array<std::uint32_t, 256> make_crc32c_table() {
  std::array<std::uint32_t, 256> table{};
  for (std::uint32_t b = 0; b < 256; ++b) {
    std::uint32_t r = b;
    for (int bit = 0; bit < 8; ++bit) r = (r & 1) ? (r >> 1) ^ 0x82F63B78u : r >> 1;
    table[b] = r;
  }
  return table;
}
inline constexpr std::array<std::uint32_t, 256> crc32c_table = make_crc32c_table();
}  // namespace detail

namespace io {

/// Identifies the object type in a serialized header. Values are part of the format:
/// never renumber, only append.
enum class TypeId : std::uint8_t {
  tdigest = 1,
  log_histogram = 2,
  running_stats = 3,
  ewma = 4,
  category_counts = 5,
  time_windows = 6,
  event_rate = 7,
  profile = 32,
  monitor_snapshot = 33,
  interval_summary = 34,
};

/// The four magic bytes at the start of every serialized object.
inline constexpr char magic[4] = {'V', 'I', 'G', 'L'};
/// Size of the common header in bytes.
inline constexpr std::size_t header_size = 8;
/// Header flag of a sealed object (seal()): its bytes end with a CRC-32C trailer. The same
/// bit for every type; each type's own flags use the bits below it.
inline constexpr std::uint16_t sealed_flag = 0x8000;
/// Size of the checksum trailer of a sealed object.
inline constexpr std::size_t trailer_size = 4;

/// CRC-32C (Castagnoli) of `size` bytes, as iSCSI defines it (RFC 3720, section 12.1 and
/// the test vectors of appendix B.4): the reflected polynomial 0x82F63B78, initial value and
/// final XOR 0xFFFFFFFF; crc32c("123456789") = 0xE3069283. The polynomial is the one
/// Castagnoli, Bräuer & Herrmann (1993, "Optimization of cyclic redundancy-check codes with
/// 24 and 32 parity bits") selected for its error-detecting distance.
///
/// To checksum bytes in pieces, pass the previous result as `previous`:
/// crc32c(b, m, crc32c(a, n)) is the CRC of a then b. O(size); `data` may be null when size is 0.
inline std::uint32_t crc32c(const void* data, std::size_t size, std::uint32_t previous = 0) {
  const auto* p = static_cast<const std::uint8_t*>(data);
  std::uint32_t crc = ~previous;
  for (std::size_t i = 0; i < size; ++i) crc = detail::crc32c_table[(crc ^ p[i]) & 0xffu] ^ (crc >> 8);
  return ~crc;
}

/// While an ExactState lives on a thread (a monitor snapshot), the objects serialized on that
/// thread write their working state as it is where their binary form otherwise settles it
/// first (a t-digest's buffered values and the direction of its next merge pass), so that a
/// copy read back continues bit for bit. Scopes nest.
class ExactState {
 public:
  ExactState() { ++depth(); }
  ~ExactState() { --depth(); }
  ExactState(const ExactState&) = delete;
  ExactState& operator=(const ExactState&) = delete;
  static bool active() { return depth() > 0; }

 private:
  static int& depth() {
    thread_local int d = 0;
    return d;
  }
};

/// Appends encoded values to a byte vector. Never throws except `std::bad_alloc`.
class Writer {
 public:
  explicit Writer(std::vector<std::uint8_t>& out) : out_(&out) {}

  /// Writes the common header.
  void header(TypeId type, std::uint8_t version, std::uint16_t flags = 0) {
    for (char c : magic) u8(static_cast<std::uint8_t>(c));
    u8(version);
    u8(static_cast<std::uint8_t>(type));
    u16(flags);
  }
  void u8(std::uint8_t v) { out_->push_back(v); }
  void u16(std::uint16_t v) { put_le(v, 2); }
  void u32(std::uint32_t v) { put_le(v, 4); }
  void u64(std::uint64_t v) { put_le(v, 8); }
  void i64(std::int64_t v) { u64(static_cast<std::uint64_t>(v)); }
  void f64(double v) {
    std::uint64_t bits;
    std::memcpy(&bits, &v, sizeof bits);
    u64(bits);
  }
  void f32(float v) {
    std::uint32_t bits;
    std::memcpy(&bits, &v, sizeof bits);
    u32(bits);
  }
  void varint(std::uint64_t v) {
    while (v >= 0x80) {
      out_->push_back(static_cast<std::uint8_t>(v | 0x80));
      v >>= 7;
    }
    out_->push_back(static_cast<std::uint8_t>(v));
  }
  /// A length-prefixed (varint) byte string.
  void string(std::string_view s) {
    varint(s.size());
    out_->insert(out_->end(), s.begin(), s.end());
  }
  void bytes(const void* data, std::size_t size) {
    const auto* p = static_cast<const std::uint8_t*>(data);
    out_->insert(out_->end(), p, p + size);
  }

 private:
  void put_le(std::uint64_t v, int n) {
    for (int i = 0; i < n; ++i) out_->push_back(static_cast<std::uint8_t>(v >> (8 * i)));
  }
  std::vector<std::uint8_t>* out_;
};

/// Reads encoded values from a byte range; every read checks the remaining length and
/// throws `vigil::format_error` naming `what` (the object being read) on truncation.
class Reader {
 public:
  Reader(const void* data, std::size_t size, const char* what)
      : p_(static_cast<const std::uint8_t*>(data)), end_(p_ + size), what_(what) {}

  /// Reads and checks the common header. Returns the version; `flags` receives the flags.
  /// Throws when the magic or type differs, or the version is 0 or above `max_version`.
  std::uint8_t header(TypeId type, std::uint8_t max_version, std::uint16_t& flags) {
    need(header_size);
    if (std::memcmp(p_, magic, 4) != 0) fail("not a vigil object (bad magic bytes)");
    p_ += 4;
    const std::uint8_t version = u8();
    const std::uint8_t found = u8();
    if (found != static_cast<std::uint8_t>(type))
      fail("wrong object type " + std::to_string(found) + ", expected " +
           std::to_string(static_cast<int>(type)));
    if (version == 0 || version > max_version)
      fail("format version " + std::to_string(version) + " is not supported (this build reads up to " +
           std::to_string(max_version) + ")");
    flags = u16();
    return version;
  }
  std::uint8_t u8() {
    need(1);
    return *p_++;
  }
  std::uint16_t u16() { return static_cast<std::uint16_t>(get_le(2)); }
  std::uint32_t u32() { return static_cast<std::uint32_t>(get_le(4)); }
  std::uint64_t u64() { return get_le(8); }
  std::int64_t i64() { return static_cast<std::int64_t>(u64()); }
  double f64() {
    const std::uint64_t bits = u64();
    double v;
    std::memcpy(&v, &bits, sizeof v);
    return v;
  }
  float f32() {
    const std::uint32_t bits = u32();
    float v;
    std::memcpy(&v, &bits, sizeof v);
    return v;
  }
  std::uint64_t varint() {
    std::uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      const std::uint8_t byte = u8();
      v |= static_cast<std::uint64_t>(byte & 0x7f) << shift;
      if ((byte & 0x80) == 0) return v;
    }
    fail("malformed varint");
  }
  std::string string() {
    const std::size_t n = count(1);
    std::string s(reinterpret_cast<const char*>(p_), n);
    p_ += n;
    return s;
  }
  /// Reads a varint element count and checks that `n * min_bytes_each` bytes remain, so a
  /// corrupt count can never trigger a huge allocation.
  std::size_t count(std::size_t min_bytes_each) {
    const std::uint64_t n = varint();
    if (min_bytes_each > 0 && n > remaining() / min_bytes_each)
      fail("element count " + std::to_string(n) + " exceeds the remaining " + std::to_string(remaining()) +
           " bytes");
    return static_cast<std::size_t>(n);
  }
  /// Steps over `n` bytes (checked) and returns where they start: a nested object that its
  /// own reader reads.
  const std::uint8_t* skip(std::size_t n) {
    need(n);
    const std::uint8_t* start = p_;
    p_ += n;
    return start;
  }
  std::size_t remaining() const { return static_cast<std::size_t>(end_ - p_); }
  /// Throws unless every byte was consumed.
  void finish() const {
    if (p_ != end_) fail(std::to_string(remaining()) + " unexpected trailing bytes");
  }
  [[noreturn]] void fail(const std::string& why) const {
    detail::throw_format_error(std::string("cannot read ") + what_ + ": " + why);
  }

 private:
  void need(std::size_t n) const {
    if (remaining() < n)
      fail("truncated (needed " + std::to_string(n) + " more bytes, " + std::to_string(remaining()) + " left)");
  }
  std::uint64_t get_le(int n) {
    need(static_cast<std::size_t>(n));
    std::uint64_t v = 0;
    for (int i = 0; i < n; ++i) v |= static_cast<std::uint64_t>(p_[i]) << (8 * i);
    p_ += n;
    return v;
  }
  const std::uint8_t* p_;
  const std::uint8_t* end_;
  const char* what_;
};

/// Seals a serialized object in place: sets `sealed_flag` in its header and appends the
/// CRC-32C of all its bytes (little endian), so that unseal() refuses any corruption.
/// Throws vigil::invalid_argument when `bytes` does not start with a vigil header.
inline void seal(std::vector<std::uint8_t>& bytes) {
  if (bytes.size() < header_size || std::memcmp(bytes.data(), magic, 4) != 0)
    detail::throw_invalid_argument("io::seal: the " + std::to_string(bytes.size()) +
                                   " bytes do not start with a vigil header");
  bytes[7] = static_cast<std::uint8_t>(bytes[7] | (sealed_flag >> 8));
  const std::uint32_t crc = crc32c(bytes.data(), bytes.size());
  Writer(bytes).u32(crc);
}

/// Checks the framing of an object whose format versions from `first_sealed_version` on are
/// sealed (seal()). Returns how many leading bytes hold the object: `size` for an object of
/// an older version without `sealed_flag`, which carries no checksum; otherwise `size` minus
/// the trailer, once the trailer matches the CRC-32C of the bytes before it.
///
/// Throws vigil::format_error naming `what` and the checksum when anything else is found: a
/// single corrupt byte of a sealed object, wherever it lies (its version or flags included),
/// is refused here, before any of it is read; bytes without the magic are refused as no vigil
/// object. O(size).
inline std::size_t unseal(const void* data, std::size_t size, std::uint8_t first_sealed_version, const char* what) {
  const auto* p = static_cast<const std::uint8_t*>(data);
  const Reader r(data, size, what);
  if (size >= header_size && std::memcmp(p, magic, 4) == 0 && p[4] >= 1 && p[4] < first_sealed_version &&
      (p[7] & (sealed_flag >> 8)) == 0)
    return size;
  // Bytes that are not a vigil object at all get the reader's usual message, not a checksum's.
  if (size >= 4 && std::memcmp(p, magic, 4) != 0) r.fail("not a vigil object (bad magic bytes)");
  if (size < header_size + trailer_size)
    r.fail("truncated: " + std::to_string(size) + " bytes cannot hold a header and a checksum");
  const std::size_t body = size - trailer_size;
  std::uint32_t stored = 0;
  for (std::size_t i = 0; i < trailer_size; ++i) stored |= static_cast<std::uint32_t>(p[body + i]) << (8 * i);
  const std::uint32_t computed = crc32c(p, body);
  if (stored != computed) {
    char text[96];
    std::snprintf(text, sizeof text, "checksum mismatch (CRC-32C 0x%08X stored, 0x%08X computed)",
                  static_cast<unsigned>(stored), static_cast<unsigned>(computed));
    r.fail(std::string(text) + ": the bytes are corrupt, or not a sealed vigil object");
  }
  return body;
}

}  // namespace io
}  // namespace vigil

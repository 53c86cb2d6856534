#include <vigil/io/binary.hpp>

#include <cstdint>
#include <limits>
#include <vector>

#include "vigil_test.hpp"

using vigil::io::Reader;
using vigil::io::TypeId;
using vigil::io::Writer;

TEST_CASE("io: empty input is truncated", "[io]") {
  Reader r(nullptr, 0, "Thing");
  std::uint16_t flags = 0;
  CHECK_THROWS_AS(r.header(TypeId::tdigest, 1, flags), vigil::format_error);
  CHECK_THROWS_WITH(Reader(nullptr, 0, "Thing").u8(), Catch::Contains("cannot read Thing: truncated"));
}

TEST_CASE("io: every encoding round-trips", "[io]") {
  std::vector<std::uint8_t> bytes;
  Writer w(bytes);
  w.header(TypeId::log_histogram, 3, 0xbeef);
  w.u8(7);
  w.u16(0x1234);
  w.u32(0xdeadbeef);
  w.u64(0x0123456789abcdefULL);
  w.i64(-5);
  w.f64(-0.0);
  w.f64(std::numeric_limits<double>::infinity());
  w.f32(1.5f);
  const std::uint64_t varints[] = {0, 1, 127, 128, 16383, 16384, std::numeric_limits<std::uint64_t>::max()};
  for (std::uint64_t v : varints) w.varint(v);
  w.string("caf\xc3\xa9");
  // Little endian on every platform: the header is readable byte by byte.
  REQUIRE(bytes.size() > 8);
  CHECK(bytes[0] == 'V');
  CHECK(bytes[4] == 3);
  CHECK(bytes[5] == 2);
  CHECK(bytes[6] == 0xef);
  CHECK(bytes[7] == 0xbe);

  Reader r(bytes.data(), bytes.size(), "Thing");
  std::uint16_t flags = 0;
  CHECK(r.header(TypeId::log_histogram, 3, flags) == 3);
  CHECK(flags == 0xbeef);
  CHECK(r.u8() == 7);
  CHECK(r.u16() == 0x1234);
  CHECK(r.u32() == 0xdeadbeef);
  CHECK(r.u64() == 0x0123456789abcdefULL);
  CHECK(r.i64() == -5);
  const double z = r.f64();
  CHECK(z == 0);
  CHECK(std::signbit(z));
  CHECK(r.f64() == std::numeric_limits<double>::infinity());
  CHECK(r.f32() == 1.5f);
  for (std::uint64_t v : varints) CHECK(r.varint() == v);
  CHECK(r.string() == "caf\xc3\xa9");
  CHECK(r.remaining() == 0);
  CHECK_NOTHROW(r.finish());
}

TEST_CASE("io: headers of another type, version or magic are refused", "[io]") {
  std::vector<std::uint8_t> bytes;
  Writer(bytes).header(TypeId::tdigest, 2);
  std::uint16_t flags = 0;
  CHECK_THROWS_WITH(Reader(bytes.data(), bytes.size(), "X").header(TypeId::profile, 2, flags), Catch::Contains("wrong object type 1"));
  CHECK_THROWS_WITH(Reader(bytes.data(), bytes.size(), "X").header(TypeId::tdigest, 1, flags), Catch::Contains("version 2"));
  bytes[1] = 'X';
  CHECK_THROWS_WITH(Reader(bytes.data(), bytes.size(), "X").header(TypeId::tdigest, 2, flags), Catch::Contains("magic"));
  std::vector<std::uint8_t> zero;
  Writer(zero).header(TypeId::tdigest, 0);
  CHECK_THROWS_AS(Reader(zero.data(), zero.size(), "X").header(TypeId::tdigest, 2, flags), vigil::format_error);
}

TEST_CASE("io: bad input never reads past the end", "[io]") {
  // A count larger than the remaining bytes could hold is refused before any allocation.
  std::vector<std::uint8_t> bytes;
  Writer w(bytes);
  w.varint(1000000);
  w.u8(1);
  Reader r(bytes.data(), bytes.size(), "List");
  CHECK_THROWS_WITH(r.count(8), Catch::Contains("exceeds the remaining"));
  // A varint longer than ten bytes is malformed.
  const std::vector<std::uint8_t> endless(11, 0xff);
  CHECK_THROWS_WITH(Reader(endless.data(), endless.size(), "V").varint(), Catch::Contains("malformed varint"));
  // A string whose length runs past the end.
  std::vector<std::uint8_t> text;
  Writer(text).varint(5);
  text.push_back('a');
  CHECK_THROWS_AS(Reader(text.data(), text.size(), "S").string(), vigil::format_error);
  // Trailing bytes are an error for finish().
  const std::vector<std::uint8_t> extra = {1, 2};
  Reader t(extra.data(), extra.size(), "T");
  t.u8();
  CHECK_THROWS_WITH(t.finish(), Catch::Contains("1 unexpected trailing bytes"));
}

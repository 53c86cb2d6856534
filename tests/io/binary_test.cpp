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

TEST_CASE("io: CRC-32C of the standard check input and of RFC 3720's test vectors", "[io][crc32c]") {
  using vigil::io::crc32c;
  CHECK(crc32c(nullptr, 0) == 0);
  const std::string check = "123456789";
  CHECK(crc32c(check.data(), check.size()) == 0xE3069283u);
  // RFC 3720, appendix B.4: 32 bytes of zeros, of ones, ascending, descending, and an
  // iSCSI read command.
  std::vector<std::uint8_t> zeros(32, 0x00), ones(32, 0xff), up(32), down(32);
  for (std::uint8_t i = 0; i < 32; ++i) {
    up[i] = i;
    down[i] = static_cast<std::uint8_t>(31 - i);
  }
  CHECK(crc32c(zeros.data(), zeros.size()) == 0x8A9136AAu);
  CHECK(crc32c(ones.data(), ones.size()) == 0x62A8AB43u);
  CHECK(crc32c(up.data(), up.size()) == 0x46DD794Eu);
  CHECK(crc32c(down.data(), down.size()) == 0x113FDB5Cu);
  const std::vector<std::uint8_t> read_command = {
      0x01, 0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
      0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x18,
      0x28, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00};
  CHECK(crc32c(read_command.data(), read_command.size()) == 0xD9963A56u);
  // In pieces, continuing from the previous result: the same CRC.
  for (std::size_t cut = 0; cut <= check.size(); ++cut)
    CHECK(crc32c(check.data() + cut, check.size() - cut, crc32c(check.data(), cut)) == 0xE3069283u);
}

namespace {
/// A small object of type `type` and format version `version`, for the seal tests.
std::vector<std::uint8_t> small_object(std::uint8_t version) {
  std::vector<std::uint8_t> bytes;
  Writer w(bytes);
  w.header(TypeId::profile, version, 0x0003);
  w.string("a sealed object");
  w.f64(2.5);
  return bytes;
}
}  // namespace

TEST_CASE("io: a sealed object ends with the CRC-32C of its bytes and unseals to them", "[io][crc32c]") {
  const std::vector<std::uint8_t> plain = small_object(2);
  std::vector<std::uint8_t> bytes = plain;
  vigil::io::seal(bytes);
  REQUIRE(bytes.size() == plain.size() + vigil::io::trailer_size);
  CHECK(bytes[6] == 0x03);
  CHECK(bytes[7] == 0x80);  // sealed_flag, beside the type's own flags
  const std::size_t body = bytes.size() - 4;
  const std::uint32_t crc = vigil::io::crc32c(bytes.data(), body);
  CHECK(bytes[body] == (crc & 0xff));
  CHECK(bytes[body + 3] == crc >> 24);
  CHECK(vigil::io::unseal(bytes.data(), bytes.size(), 2, "Thing") == body);
  Reader r(bytes.data(), body, "Thing");
  std::uint16_t flags = 0;
  CHECK(r.header(TypeId::profile, 2, flags) == 2);
  CHECK(flags == (vigil::io::sealed_flag | 0x0003));
  CHECK(r.string() == "a sealed object");
  CHECK(r.f64() == 2.5);
  CHECK_NOTHROW(r.finish());
  // An object of a version before the first sealed one, without the flag, has no trailer.
  const std::vector<std::uint8_t> old = small_object(1);
  CHECK(vigil::io::unseal(old.data(), old.size(), 2, "Thing") == old.size());
  // seal() needs a header to flag.
  std::vector<std::uint8_t> headless = {1, 2, 3};
  CHECK_THROWS_AS(vigil::io::seal(headless), vigil::invalid_argument);
}

TEST_CASE("io: every corrupt byte of a sealed object, and every cut, is refused by its checksum", "[io][crc32c]") {
  std::vector<std::uint8_t> bytes = small_object(2);
  vigil::io::seal(bytes);
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    for (std::uint8_t mask : {0x01, 0x80, 0xff}) {
      INFO("byte " << i << " ^ " << int(mask));
      std::vector<std::uint8_t> bad = bytes;
      bad[i] ^= mask;
      // A damaged magic says the bytes are no vigil object at all; any other byte, the checksum.
      CHECK_THROWS_WITH(vigil::io::unseal(bad.data(), bad.size(), 2, "Thing"),
                        Catch::Contains("cannot read Thing") &&
                            Catch::Contains(i < 4 ? "not a vigil object (bad magic bytes)" : "checksum"));
    }
  }
  for (std::size_t len = 0; len < bytes.size(); ++len) {
    INFO("first " << len << " bytes");
    CHECK_THROWS_WITH(vigil::io::unseal(bytes.data(), len, 2, "Thing"), Catch::Contains(len < 4 ? "truncated" : "checksum"));
  }
  // A sealed object whose version byte became that of an unsealed version still has the flag.
  std::vector<std::uint8_t> older = bytes;
  older[4] = 1;
  CHECK_THROWS_WITH(vigil::io::unseal(older.data(), older.size(), 2, "Thing"), Catch::Contains("checksum"));
}

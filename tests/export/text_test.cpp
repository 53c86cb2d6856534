#include "vigil/export/detail/text.hpp"

#include <cstdint>
#include <string>

#include "vigil_test.hpp"

namespace {

// Days from 1970-01-01 counted year by year and month by month: slow, but plainly right.
std::int64_t counted_days(std::int64_t year, unsigned month, unsigned day) {
  static const int cumulative[] = {0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334};
  const auto leap = [](std::int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; };
  std::int64_t days = 0;
  for (std::int64_t y = 1970; y < year; ++y) days += leap(y) ? 366 : 365;
  for (std::int64_t y = year; y < 1970; ++y) days -= leap(y) ? 366 : 365;
  return days + cumulative[month - 1] + (month > 2 && leap(year) ? 1 : 0) + day - 1;
}

}  // namespace

TEST_CASE("days_from_civil: known dates", "[export]") {
  using vigil::detail::days_from_civil;
  CHECK(days_from_civil(1970, 1, 1) == 0);
  CHECK(days_from_civil(1969, 12, 31) == -1);
  CHECK(days_from_civil(2000, 2, 29) == 11016);    // leap day of a 400-year leap year
  CHECK(days_from_civil(2000, 3, 1) == 11017);
  CHECK(days_from_civil(2026, 11, 2) == 20759);     // 1793606400 s
  CHECK(days_from_civil(2100, 3, 1) - days_from_civil(2100, 2, 28) == 1);  // 2100 is no leap year
  CHECK(days_from_civil(0, 1, 1) == -719528);       // -62167219200 s
  CHECK(days_from_civil(0, 3, 1) == -719468);
  CHECK(days_from_civil(-1, 12, 31) == -719529);    // before year 0: the eras count down
  CHECK(days_from_civil(9999, 12, 31) == 2932896);  // 253402214400 s
}

TEST_CASE("days_from_civil: a day past the month's end counts on into the next month", "[export]") {
  using vigil::detail::days_from_civil;
  CHECK(days_from_civil(2026, 2, 29) == days_from_civil(2026, 3, 1));
  CHECK(days_from_civil(2024, 2, 30) == days_from_civil(2024, 3, 1));
  CHECK(days_from_civil(2026, 4, 31) == days_from_civil(2026, 5, 1));
  // So converting back tells a real date from one that is not.
  const vigil::detail::CivilDate back = vigil::detail::civil_from_days(days_from_civil(2026, 4, 31));
  CHECK(back.month == 5u);
  CHECK(back.day == 1u);
}

TEST_CASE("days_from_civil: every day of many years agrees with a plain count and civil_from_days", "[export]") {
  for (std::int64_t year = -401; year <= 2401; year += year < 1900 || year > 2100 ? 37 : 1) {
    for (unsigned month = 1; month <= 12; ++month) {
      for (unsigned day = 1; day <= 28; day += 9) {
        const std::int64_t days = vigil::detail::days_from_civil(year, month, day);
        REQUIRE(days == counted_days(year, month, day));
        const vigil::detail::CivilDate date = vigil::detail::civil_from_days(days);
        REQUIRE(date.year == year);
        REQUIRE(date.month == month);
        REQUIRE(date.day == day);
      }
    }
  }
  // Day counts in a row map to consecutive dates and back, across the 400-year eras.
  for (std::int64_t days = -900000; days <= 3000000; days += 997) {
    const vigil::detail::CivilDate date = vigil::detail::civil_from_days(days);
    REQUIRE(vigil::detail::days_from_civil(date.year, date.month, date.day) == days);
  }
}

TEST_CASE("fnv1a_64: the published test vectors", "[export]") {
  CHECK(vigil::detail::fnv1a_64("") == 0xcbf29ce484222325ULL);
  CHECK(vigil::detail::fnv1a_64("a") == 0xaf63dc4c8601ec8cULL);
  CHECK(vigil::detail::fnv1a_64("foobar") == 0x85944171f73967e8ULL);
}

TEST_CASE("append_label_value: valid UTF-8 as it is, invalid bytes repaired and the value marked", "[export]") {
  const auto label = [](const std::string& s) {
    std::string out;
    vigil::detail::append_label_value(out, s);
    return out;
  };
  CHECK(label("") == "");
  CHECK(label("caf\xC3\xA9 \"q\"\\\n") == "caf\xC3\xA9 \\\"q\\\"\\\\\\n");
  // The same repair, told apart by the mark of each value's bytes (FNV-1a of "h\xFE" and "h\xFF").
  const std::string fe = label("h\xFE");
  const std::string ff = label("h\xFF");
  CHECK(fe.substr(0, 4) == "h\xEF\xBF\xBD");
  CHECK(ff.substr(0, 4) == "h\xEF\xBF\xBD");
  CHECK(fe != ff);
  CHECK(fe == "h\xEF\xBF\xBD~" + fmt::format("{:016x}", vigil::detail::fnv1a_64("h\xFE")));
  CHECK(ff.size() == 4 + 17);
  // A truncated sequence is invalid too; a valid U+FFFD is not marked.
  CHECK(label("x\xE2\x82") != label("x\xE2"));
  CHECK(label("x\xEF\xBF\xBD") == "x\xEF\xBF\xBD");
}

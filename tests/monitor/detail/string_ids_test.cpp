#include <vigil/monitor/detail/string_ids.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "vigil_test.hpp"

TEST_CASE("StringIds: finds every name of any length and nothing else", "[string_ids]") {
  std::vector<std::string> names = {"", "a", "ab", "abc", "abcd", "abcdefg", "abcdefgh", "abcdefghi",
                                    "abcdefghijklmnop", "abcdefghijklmnopq", "abcdefghijklmnopqr" + std::string(30, 'z')};
  for (int i = 0; i < 300; ++i) names.push_back("value_" + std::to_string(i));
  names.push_back(std::string("nul\0byte", 8));
  const vigil::detail::StringIds ids(names);
  REQUIRE(ids.size() == names.size());
  for (std::uint32_t i = 0; i < names.size(); ++i) {
    INFO(names[i]);
    CHECK(ids.find(names[i]) == i);
    CHECK(ids.name(i) == names[i]);
  }
  // Names that share a prefix, the first 16 bytes, or the length of a known one.
  for (const std::string& absent : {std::string("b"), std::string("abcdefgi"), std::string("abcdefghijklmnopX"),
                                    "abcdefghijklmnopqr" + std::string(29, 'z') + "y", std::string("value_300"),
                                    std::string("value_"), std::string("nul\0bytf", 8), std::string("nul")}) {
    INFO(absent);
    CHECK(ids.find(absent) == vigil::detail::StringIds::none);
  }
  const vigil::detail::StringIds empty;
  CHECK(empty.find("") == vigil::detail::StringIds::none);
  const vigil::detail::StringIds only_empty(std::vector<std::string>{""});
  CHECK(only_empty.find("") == 0);
  // Moving copies: the source still has a table to probe.
  vigil::detail::StringIds source(std::vector<std::string>{"a", "b"});
  const vigil::detail::StringIds target(std::move(source));
  CHECK(target.find("b") == 1);
  CHECK(source.find("b") == 1);  // NOLINT(bugprone-use-after-move): the point of the check
  CHECK(source.find("c") == vigil::detail::StringIds::none);
  CHECK(only_empty.find("x") == vigil::detail::StringIds::none);
}

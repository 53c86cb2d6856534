#include <vigil/monitor/detail/tag_dictionary.hpp>

#include <string>
#include <vector>

#include "vigil_test.hpp"

TEST_CASE("TagDictionary: no tags, one slot for every request", "[tag_dictionary]") {
  const vigil::Schema schema;
  const vigil::detail::TagDictionary tags(schema);
  CHECK(tags.slot_count() == 1);
  CHECK(tags.cohorts().empty());
  const auto snapshot = tags.snapshot();
  REQUIRE(snapshot.slots.size() == 1);
  CHECK(snapshot.slots[0].everyone());
  CHECK(snapshot.in_use[0]);
}

TEST_CASE("TagDictionary: values numbered as they come, then other, cohort slots named once used",
          "[tag_dictionary]") {
  vigil::Schema schema;
  vigil::TagOptions hosts;
  hosts.max_values = 2;
  schema.add_tag("host", hosts);
  vigil::TagOptions regions;
  regions.max_values = 2;
  regions.cohort = true;
  schema.add_tag("region", regions);
  vigil::detail::TagDictionary tags(schema);
  CHECK(tags.slot_count() == 1 + 3);  // every request, then eu, us and other of the cohort tag
  REQUIRE(tags.cohorts().size() == 1);
  CHECK(tags.cohorts()[0].tag == 1);
  CHECK(tags.cohorts()[0].first_slot == 1);

  CHECK(tags.id(0, "h1") == 0);
  CHECK(tags.id(0, "h2") == 1);
  CHECK(tags.id(0, "h1") == 0);
  CHECK(tags.id(0, "h3") == 2);  // full: other
  CHECK(tags.id(1, "us") == 0);
  CHECK(tags.values(0) == std::vector<std::string>{"h1", "h2"});

  const auto snapshot = tags.snapshot();
  CHECK(snapshot.values[0] == std::vector<std::string>{"h1", "h2", "other"});
  CHECK(snapshot.values[1] == std::vector<std::string>{"us", "", "other"});  // id 1 not given yet
  REQUIRE(snapshot.slots.size() == 4);
  CHECK(snapshot.in_use[1]);
  CHECK(snapshot.slots[1].tag_name == "region");
  CHECK(snapshot.slots[1].value_name == "us");
  CHECK(snapshot.slots[1].value == 0);
  CHECK_FALSE(snapshot.in_use[2]);
  CHECK_FALSE(snapshot.in_use[3]);
  CHECK(tags.id(1, "eu") == 1);
  CHECK(tags.id(1, "apac") == 2);
  const auto later = tags.snapshot();
  CHECK(later.in_use[3]);
  CHECK(later.slots[3].value_name == "other");
  CHECK(tags.memory_bytes() > sizeof(tags));
}

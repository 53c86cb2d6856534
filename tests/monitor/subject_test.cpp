#include <vigil/monitor/subject.hpp>

#include <set>
#include <string>

#include "vigil_test.hpp"

namespace {

vigil::Cohort region(std::uint32_t value, const std::string& name) {
  vigil::Cohort c;
  c.tag = 2;
  c.value = value;
  c.tag_name = "region";
  c.value_name = name;
  return c;
}

}  // namespace

TEST_CASE("Subject: the text people read", "[subject]") {
  const vigil::Subject income{vigil::Family::features, 3, "income", vigil::Cohort{}, false};
  CHECK(vigil::to_string(income) == "income");
  vigil::Subject eu = income;
  eu.cohort = region(0, "eu");
  CHECK(vigil::to_string(eu) == "region=eu: income");
  vigil::Subject drift{vigil::Family::outputs, 0, "score", region(1, "other"), true};
  CHECK(vigil::to_string(drift) == "region=other: score (horizon)");
  CHECK(std::string(vigil::to_string(vigil::Family::latency)) == "latency");
}

TEST_CASE("Subject: identity is family, index, cohort and horizon, not the name", "[subject]") {
  const vigil::Subject a{vigil::Family::features, 3, "income", vigil::Cohort{}, false};
  vigil::Subject renamed = a;
  renamed.name = "revenue";
  CHECK(a == renamed);
  vigil::Subject other_family = a;
  other_family.family = vigil::Family::latency;
  CHECK(a != other_family);  // a latency subject named like a feature is another subject
  vigil::Subject horizon = a;
  horizon.horizon = true;
  CHECK(a != horizon);
  vigil::Subject cohort = a;
  cohort.cohort = region(0, "eu");
  CHECK(a != cohort);
  vigil::Subject cohort_renamed = cohort;
  cohort_renamed.cohort.value_name = "EU";
  CHECK(cohort == cohort_renamed);
}

TEST_CASE("Subject: every request first, then cohorts by tag and value", "[subject]") {
  const vigil::Subject all{vigil::Family::features, 9, "z", vigil::Cohort{}, false};
  vigil::Subject eu = all;
  eu.index = 0;
  eu.cohort = region(0, "eu");
  vigil::Subject us = eu;
  us.cohort = region(1, "us");
  CHECK(all < eu);
  CHECK(eu < us);
  CHECK_FALSE(us < eu);
  const std::set<vigil::Subject> ordered{us, eu, all};
  CHECK(*ordered.begin() == all);
}

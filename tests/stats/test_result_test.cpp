#include <vigil/stats/test_result.hpp>

#include "vigil_test.hpp"

TEST_CASE("TestResult: aggregate initialisation from statistic and p-value", "[stats][test_result]") {
  const vigil::stats::TestResult r{2.5, 0.125};
  CHECK(r.statistic == 2.5);
  CHECK(r.p_value == 0.125);
  CHECK(r.degrees_of_freedom == 0);
  const vigil::stats::TestResult with_dof{3.0, 0.5, 4.0};
  CHECK(with_dof.degrees_of_freedom == 4.0);
}

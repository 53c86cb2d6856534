#include <vigil/sketch/tdigest.hpp>

#include "vigil_test.hpp"

TEST_CASE("TDigest: empty digest answers NaN", "[tdigest]") {
  vigil::TDigest<> d;
  CHECK(d.empty());
  CHECK(std::isnan(d.quantile(0.5)));
}

// The feature family's figures read through a Monitor: the recent mean of a numeric feature,
// exact for ordinary values and finite for values near the double range.
#include <vigil/monitor/monitor.hpp>

#include <cmath>
#include <initializer_list>
#include <vector>

#include "vigil_test.hpp"

namespace {

constexpr double features_test_start = 1767225600;  // 2026-01-01T00:00:00Z, a whole minute

// The figures of feature x after one interval of `values`, against a reference of 0..99.
vigil::FeatureReport feature_after(const std::vector<double>& values) {
  vigil::Schema schema;
  const vigil::NumericFeature x = schema.add_numeric("x");
  vigil::Profile profile(schema);
  vigil::Observation row(schema);
  for (int i = 0; i < 100; ++i) profile.add(row.set(x, i));
  vigil::MonitorOptions options;
  options.shards = 1;  // one sum, in the order of the values
  vigil::Monitor monitor(schema, profile, options);
  vigil::Observation o(schema);
  for (std::size_t i = 0; i < values.size(); ++i) {
    o.clear();
    monitor.observe(o.at(features_test_start + static_cast<double>(i) * 0.001).set(x, values[i]));
  }
  const vigil::Report r = monitor.finish();
  REQUIRE(r.features.size() == 1);
  return r.features[0];
}

double recent_mean_of(const std::vector<double>& values) { return feature_after(values).recent_mean; }

}  // namespace

TEST_CASE("features: the recent mean of values near the double range stays finite and right", "[features]") {
  CHECK(recent_mean_of({1e308, 1e308}) == 1e308);
  CHECK(recent_mean_of({-1e308, -1e308, -1e308}) == Approx(-1e308).epsilon(1e-15));
  CHECK(recent_mean_of({1.7976931348623157e308, 1.7976931348623157e308}) == 1.7976931348623157e308);
  // +1e308 and -1e308 cancel: the mean is 0 up to the reference mean's 49.5, far below the
  // precision of the values themselves (an ulp of 1e308 is about 2e292).
  const double cancel = recent_mean_of({1e308, -1e308});
  CHECK(std::isfinite(cancel));
  CHECK(std::fabs(cancel) <= 49.5);
  const double cancel_late = recent_mean_of({1e308, 1e308, -1e308, -1e308});  // the sum overflowed unscaled
  CHECK(std::isfinite(cancel_late));
  CHECK(std::fabs(cancel_late) <= 49.5);
  CHECK(recent_mean_of({1e308, -1e308, 1e308, -1e308, 5e307}) == Approx(1e307));
}

TEST_CASE("features: the recent mean of ordinary values is the reference mean plus their mean shift", "[features]") {
  // The same double as Σ (x − m) / n + m computed without scaling, for values of any
  // ordinary magnitude.
  for (const std::vector<double>& values :
       {std::vector<double>{3.25, 17.5, -4.125, 99.0, 0.1, 1e-3},
        std::vector<double>{1e12, -3e11, 7.77e10, 12345.678}, std::vector<double>{49.5, 49.5, 49.5 + 1e-13},
        std::vector<double>{1e-200, 2e-200, -3.5e-200}}) {
    const vigil::FeatureReport f = feature_after(values);
    const double m = f.reference_mean;
    double sum = 0;
    for (double v : values) sum += v - m;
    CHECK(f.recent_mean == m + sum / static_cast<double>(values.size()));
  }
}

#include <vigil/monitor/detail/bin_steps.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "vigil_test.hpp"

namespace {

// Inputs for the request path's SIMD step: grids of several shapes, and values that are
// ordinary, on the grid's clamps, huge, tiny, NaN and ±inf.
struct GridCase {
  std::vector<double> low, scale, last_cell, spare_cell, mean, x;
  std::vector<std::int32_t> first_cell;
  vigil::detail::GridLanes lanes() const {
    return {low.data(), scale.data(), last_cell.data(), spare_cell.data(), first_cell.data(), mean.data()};
  }
};

// With `finite`, only the finite specials (the request path's case when every value is set).
GridCase grid_case(std::size_t n, std::mt19937_64& rng, bool finite) {
  const double specials[] = {std::numeric_limits<double>::max(),        std::numeric_limits<double>::lowest(),
                             std::numeric_limits<double>::denorm_min(), -0.0,
                             0.0,                                       std::numeric_limits<double>::quiet_NaN(),
                             std::numeric_limits<double>::infinity(),   -std::numeric_limits<double>::infinity()};
  std::uniform_real_distribution<double> u(-5, 5);
  std::uniform_int_distribution<int> pick(0, 9);
  GridCase g;
  for (std::size_t i = 0; i < n; ++i) {
    const double cells = static_cast<double>(4 << (i % 8));
    g.low.push_back(u(rng));
    g.scale.push_back(i % 5 == 4 ? 0.0 : cells / (0.5 + std::fabs(u(rng))));
    g.last_cell.push_back(cells - 1);
    g.spare_cell.push_back(cells + 1);
    g.first_cell.push_back(static_cast<std::int32_t>(1000 * i));
    g.mean.push_back(u(rng));
    const int k = pick(rng);
    g.x.push_back(k < 8 ? g.low.back() + u(rng) * 2 : specials[static_cast<std::size_t>(pick(rng)) % (finite ? 5 : 8)]);
  }
  return g;
}

}  // namespace

TEST_CASE("grid cells: the SIMD step computes exactly what the scalar loop does", "[bin_steps]") {
  std::mt19937_64 rng(11);
  int all_finite = 0;
  for (std::size_t n : {1, 2, 3, 4, 5, 7, 8, 15, 16, 33}) {
    for (int round = 0; round < 200; ++round) {
      const GridCase g = grid_case(n, rng, round % 2 == 0);
      std::vector<std::int32_t> want_cell(n);
      std::vector<double> want_shift(n, 0.25);
      vigil::detail::grid_cells_scalar(g.lanes(), g.x.data(), want_cell.data(), want_shift.data(), n);
      for (std::size_t i = 0; i < n; ++i) {
        // The scalar loop itself: the spare cell exactly when not finite, else the cell of
        // the grid position; the shift only for finite values.
        const bool finite = std::isfinite(g.x[i]);
        const double position = vigil::detail::BinLocator::grid_position(g.low[i], g.scale[i], g.last_cell[i], g.x[i]);
        REQUIRE(want_cell[i] == g.first_cell[i] + static_cast<std::int32_t>(finite ? position : g.spare_cell[i]));
        REQUIRE(want_shift[i] == (finite ? 0.25 + (g.x[i] * vigil::detail::shift_scale - g.mean[i]) : 0.25));
      }
      // Runs one variant of the step on fresh outputs and compares it with the scalar loop.
      const auto same_as_scalar = [&](auto step) {
        std::vector<std::int32_t> cell(n, -1);
        std::vector<double> shift(n, 0.25);
        step(g.lanes(), g.x.data(), cell.data(), shift.data(), n);
        REQUIRE(cell == want_cell);
        REQUIRE(shift == want_shift);
      };
      same_as_scalar(vigil::detail::grid_cells<false>);  // SSE2 on x86-64
      if (std::all_of(g.x.begin(), g.x.end(), [](double x) { return std::isfinite(x); })) {
        // The variant that skips the test for missing and bad values, in SIMD and scalar.
        same_as_scalar(vigil::detail::grid_cells<true>);
        same_as_scalar(vigil::detail::grid_cells_scalar<true>);
        ++all_finite;
      }
    }
  }
  CHECK(all_finite > 900);  // every other case, and some of the rest
}

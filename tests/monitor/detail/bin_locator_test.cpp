#include <vigil/monitor/detail/bin_locator.hpp>

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

using vigil_test::reference_bin;

// Every edge, its neighbours one ulp away, points between edges and far outside.
std::vector<double> probes(const std::vector<double>& edges, std::mt19937_64& rng) {
  std::vector<double> out = {0.0, -0.0, 1e308, -1e308, std::numeric_limits<double>::max(),
                             std::numeric_limits<double>::lowest(), std::numeric_limits<double>::denorm_min()};
  for (double e : edges) {
    out.push_back(e);
    out.push_back(std::nextafter(e, std::numeric_limits<double>::infinity()));
    out.push_back(std::nextafter(e, -std::numeric_limits<double>::infinity()));
  }
  if (!edges.empty()) {
    std::uniform_real_distribution<double> u(edges.front() - 1, edges.back() + 1);
    for (int i = 0; i < 2000; ++i) out.push_back(u(rng));
  }
  return out;
}

std::vector<double> distinct_sorted(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
  return v;
}


}  // namespace

TEST_CASE("BinLocator: no edges puts everything in bin 0", "[bin_locator]") {
  const vigil::detail::BinLocator empty;
  CHECK(empty(-1e300) == 0);
  CHECK(empty(0) == 0);
  CHECK(empty(1e300) == 0);
  const vigil::detail::BinLocator none(std::vector<double>{});
  CHECK(none(42) == 0);
}

TEST_CASE("BinLocator: one edge splits at it, right-closed", "[bin_locator]") {
  const vigil::detail::BinLocator one(std::vector<double>{2.5});
  CHECK(one(2.5) == 0);
  CHECK(one(std::nextafter(2.5, 3.0)) == 1);
  CHECK(one(-1e308) == 0);
  CHECK(one(1e308) == 1);
}

TEST_CASE("BinLocator: agrees with lower_bound on many edge sets", "[bin_locator]") {
  std::mt19937_64 rng(7);
  std::vector<std::vector<double>> sets;
  std::normal_distribution<double> normal;
  std::lognormal_distribution<double> heavy(0, 3);
  for (std::size_t n : {2, 3, 4, 5, 11, 51, 52, 1001}) {
    std::vector<double> a, b;
    for (std::size_t i = 0; i < n; ++i) {
      a.push_back(normal(rng));
      b.push_back(heavy(rng));
    }
    sets.push_back(distinct_sorted(a));
    sets.push_back(distinct_sorted(b));
  }
  // Integers (a discrete feature), one enormous outlier edge, edges one ulp apart, and a
  // cluster far denser than the grid can resolve (the binary-search fallback).
  std::vector<double> integers;
  for (int i = 0; i < 30; ++i) integers.push_back(i);
  sets.push_back(integers);
  sets.push_back({-1, 0, 1, 2, 3, 1e300});
  std::vector<double> ulps = {1.0};
  for (int i = 0; i < 40; ++i) ulps.push_back(std::nextafter(ulps.back(), 2.0));
  ulps.push_back(5.0);
  sets.push_back(ulps);
  std::vector<double> cluster = {-1e6, 0};
  for (int i = 1; i < 200; ++i) cluster.push_back(i * 1e-9);
  cluster.push_back(1e6);
  sets.push_back(cluster);

  std::size_t checked = 0;
  for (const auto& edges : sets) {
    const vigil::detail::BinLocator locate(edges);
    CHECK(locate.edge_count() == edges.size());
    CHECK(locate.cell_count() <= 4096);
    for (double x : probes(edges, rng)) {
      const std::size_t expected = reference_bin(edges, x);
      if (locate(x) != expected) FAIL_CHECK("x = " << x << " bin " << locate(x) << " expected " << expected);
      ++checked;
    }
  }
  CHECK(checked > 30000);
}

TEST_CASE("BinLocator: memory grows with edges and cells only", "[bin_locator]") {
  std::vector<double> edges;
  for (int i = 0; i < 51; ++i) edges.push_back(i * 0.1);
  const vigil::detail::BinLocator locate(edges);
  // 53 edge slots (2 of padding) and at most 4097 cell starts.
  CHECK(locate.memory_bytes() <= 53 * sizeof(double) + 4097 * sizeof(std::uint16_t));
  CHECK(locate.cell_count() >= 51);
}

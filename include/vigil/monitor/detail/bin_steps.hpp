// vigil — in-process monitoring of machine-learning models in C++ inference servers.
// SPDX-License-Identifier: Apache-2.0
//
// The two steps that file a request's numeric values into their bins: the grid cell of every
// value (with its shift from the reference mean), then a bin per value from its cell. Plain
// loops everywhere, and SSE2 variants on x86-64, which every x86-64 CPU has.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>

#include "vigil/config.hpp"
#include "vigil/monitor/detail/bin_locator.hpp"

#if (defined(__GNUC__) || defined(__clang__)) && (defined(__x86_64__) || defined(_M_X64))
#include <emmintrin.h>
#define VIGIL_DETAIL_SSE2_STEPS 1  // this header's own switch; undefined at its end
#endif

namespace vigil {
namespace detail {

/// Factor of the request path's sums of shifts (FeatureState::numeric_shift): each holds
/// Σ (x·2⁻⁶⁶ − mean·2⁻⁶⁶). A distance between two doubles is at most 2⁻⁶⁵ of the largest
/// double once scaled, so fewer than 2⁶⁵ values (an interval counts requests in 64 bits) never
/// overflow the sum, whereas the unscaled sum of two values of 1e308 was infinite. A power of
/// two scales exactly: for every value and sum in the normal range each rounding is the
/// unscaled one times 2⁻⁶⁶, so the mean read back is the same double as without the factor.
/// Only distances below 2⁻⁹⁵⁶ (about 1.6e-288) land among the subnormals and keep fewer bits.
inline constexpr double shift_scale = 0x1p-66;

/// Flag of a grid cell holding more than BinLocator::window edges, in the 32-bit cells of
/// the request path: the top bit, as BinLocator::locate_in_cell reads it in cells of any
/// width.
inline constexpr std::uint32_t dense_cell = std::uint32_t{1} << 31;

/// The per-feature arrays the request path's SIMD step reads (FeaturePlan::lanes),
/// from one feature on.
struct GridLanes {
  const double* low;
  const double* scale;
  const double* last_cell;
  const double* spare_cell;
  const std::int32_t* first_cell;
  const double* mean;  // the reference mean times shift_scale
};

/// The request path's SIMD step for n numeric values x: each one's grid cell in `cell` (its
/// feature's spare cell unless finite) and, added to `shift`, each finite one's distance from
/// its reference mean times shift_scale (x·shift_scale − mean·shift_scale: the product is
/// exact, so a fused multiply-add would give the same result). With `AllFinite` the caller knows every value is finite (the usual
/// request) and the step skips the test. Both variants compute the same numbers with the
/// same operations (no fused multiply-add), so results do not depend on the CPU. Scalar:
template <bool AllFinite = false>
VIGIL_INLINE void grid_cells_scalar(const GridLanes& lanes, const double* x, std::int32_t* cell, double* shift, std::size_t n) {
  const GridLanes g = lanes;  // a local copy: the stores below cannot change its pointers
  for (std::size_t j = 0; j < n; ++j) {
    const bool finite = AllFinite || std::fabs(x[j]) <= std::numeric_limits<double>::max();  // state `value`
    const double position = BinLocator::grid_position(g.low[j], g.scale[j], g.last_cell[j], x[j]);
    cell[j] = g.first_cell[j] + static_cast<std::int32_t>(finite ? position : g.spare_cell[j]);
    shift[j] += (finite ? x[j] * shift_scale : g.mean[j]) - g.mean[j];  // adds 0 unless finite
  }
}

/// The request path's second step: adds each value x[j] to its bin, given its grid cell from
/// the first (an index into NumericLanes::cells). Scalar:
VIGIL_INLINE void count_bins_scalar(const double* edges, const std::uint32_t* cells, const std::int32_t* cell, const double* x,
                              std::uint64_t* bins, std::size_t n) {
  for (std::size_t j = 0; j < n; ++j)
    ++bins[BinLocator::locate_in_cell(edges, cells, static_cast<std::size_t>(cell[j]), x[j])];
}

#ifdef VIGIL_DETAIL_SSE2_STEPS
/// SSE2, which every x86-64 CPU has: two values at a time.
template <bool AllFinite = false>
VIGIL_INLINE void grid_cells_sse2(const GridLanes& lanes, const double* x, std::int32_t* cell, double* shift, std::size_t n) {
  const GridLanes g = lanes;  // a local copy: the stores below cannot change its pointers
  const __m128d largest = _mm_set1_pd(std::numeric_limits<double>::max());
  const __m128d magnitude = _mm_castsi128_pd(_mm_set1_epi64x(0x7fffffffffffffffLL));
  const __m128d zero = _mm_setzero_pd();
  const __m128d factor = _mm_set1_pd(shift_scale);
  std::size_t j = 0;
  for (; j + 2 <= n; j += 2) {
    const __m128d v = _mm_loadu_pd(x + j);
    // As BinLocator::grid_position: max and min return their second operand for NaN.
    __m128d p = _mm_mul_pd(_mm_sub_pd(v, _mm_loadu_pd(g.low + j)), _mm_loadu_pd(g.scale + j));
    p = _mm_min_pd(_mm_max_pd(p, zero), _mm_loadu_pd(g.last_cell + j));
    __m128d shifted = _mm_sub_pd(_mm_mul_pd(v, factor), _mm_loadu_pd(g.mean + j));
    if constexpr (!AllFinite) {
      const __m128d finite = _mm_cmple_pd(_mm_and_pd(v, magnitude), largest);
      p = _mm_or_pd(_mm_and_pd(finite, p), _mm_andnot_pd(finite, _mm_loadu_pd(g.spare_cell + j)));
      shifted = _mm_and_pd(finite, shifted);  // +0 unless finite (as the scalar loop's mean − mean)
    }
    __m128i c = _mm_cvttpd_epi32(p);
    c = _mm_add_epi32(c, _mm_loadl_epi64(reinterpret_cast<const __m128i*>(g.first_cell + j)));
    _mm_storel_epi64(reinterpret_cast<__m128i*>(cell + j), c);
    _mm_storeu_pd(shift + j, _mm_add_pd(_mm_loadu_pd(shift + j), shifted));
  }
  if (j < n) {
    const GridLanes rest{g.low + j, g.scale + j, g.last_cell + j, g.spare_cell + j, g.first_cell + j, g.mean + j};
    grid_cells_scalar<AllFinite>(rest, x + j, cell + j, shift + j, n - j);
  }
}

/// Two values at a time: their two pairs of edges are compared with the pair of values in
/// two SIMD compares, and each compare's all-ones lanes (−1) subtract from the bins'
/// indices. A pair with a dense cell goes to the scalar lookup.
VIGIL_INLINE void count_bins_sse2(const double* edges, const std::uint32_t* cells, const std::int32_t* cell, const double* x,
                            std::uint64_t* bins, std::size_t n) {
  std::size_t j = 0;
  for (; j + 2 <= n; j += 2) {
    const std::uint32_t a = cells[cell[j]];
    const std::uint32_t b = cells[cell[j + 1]];
    if (VIGIL_UNLIKELY(((a | b) & dense_cell) != 0)) {
      count_bins_scalar(edges, cells, cell + j, x + j, bins, 2);
      continue;
    }
    const __m128d ea = _mm_loadu_pd(edges + a);
    const __m128d eb = _mm_loadu_pd(edges + b);
    const __m128d v = _mm_loadu_pd(x + j);
    const __m128i below = _mm_add_epi64(_mm_castpd_si128(_mm_cmplt_pd(_mm_unpacklo_pd(ea, eb), v)),
                                        _mm_castpd_si128(_mm_cmplt_pd(_mm_unpackhi_pd(ea, eb), v)));
    const __m128i bin = _mm_sub_epi64(_mm_set_epi64x(static_cast<long long>(b), static_cast<long long>(a)), below);
    ++bins[static_cast<std::size_t>(_mm_cvtsi128_si64(bin))];
    ++bins[static_cast<std::size_t>(_mm_cvtsi128_si64(_mm_unpackhi_epi64(bin, bin)))];
  }
  if (j < n) count_bins_scalar(edges, cells, cell + j, x + j, bins, n - j);
}

#endif

/// The request path's SIMD steps: SSE2 on x86-64, else the scalar loops (which compilers
/// vectorise at -O3). Not AVX: the steps are short bursts between scalar code, where wider
/// registers' frequency and state transitions cost more than they save
/// (docs/benchmarks.md).
template <bool AllFinite = false>
VIGIL_INLINE void grid_cells(const GridLanes& g, const double* x, std::int32_t* cell, double* shift, std::size_t n) {
#ifdef VIGIL_DETAIL_SSE2_STEPS
  grid_cells_sse2<AllFinite>(g, x, cell, shift, n);
#else
  grid_cells_scalar<AllFinite>(g, x, cell, shift, n);
#endif
}
VIGIL_INLINE void count_bins(const double* edges, const std::uint32_t* cells, const std::int32_t* cell, const double* x,
                       std::uint64_t* bins, std::size_t n) {
#ifdef VIGIL_DETAIL_SSE2_STEPS
  count_bins_sse2(edges, cells, cell, x, bins, n);
#else
  count_bins_scalar(edges, cells, cell, x, bins, n);
#endif
}

}  // namespace detail
}  // namespace vigil

#undef VIGIL_DETAIL_SSE2_STEPS

// vigil — in-process monitoring of machine-learning models in C++ inference servers.
// Version 0.1.0. SPDX-License-Identifier: Apache-2.0
#pragma once

/// Library version, also checked by `find_package(vigil 0.1)`.
#define VIGIL_VERSION_MAJOR 0
#define VIGIL_VERSION_MINOR 1
#define VIGIL_VERSION_PATCH 0

// Platform switch: keep cold error paths out of the caller so hot paths stay small.
#ifndef VIGIL_NOINLINE
#if defined(_MSC_VER)
#define VIGIL_NOINLINE __declspec(noinline)
#elif defined(__GNUC__) || defined(__clang__)
#define VIGIL_NOINLINE __attribute__((noinline, cold))
#else
#define VIGIL_NOINLINE
#endif
#endif

// Platform switch: small steps of the request path that must fold into their caller.
#ifndef VIGIL_INLINE
#if defined(_MSC_VER)
#define VIGIL_INLINE __forceinline
#elif defined(__GNUC__) || defined(__clang__)
#define VIGIL_INLINE inline __attribute__((always_inline))
#else
#define VIGIL_INLINE inline
#endif
#endif

// Platform switch: branch hints for the hot path.
#ifndef VIGIL_UNLIKELY
#if defined(__GNUC__) || defined(__clang__)
#define VIGIL_LIKELY(x) __builtin_expect(!!(x), 1)
#define VIGIL_UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
#define VIGIL_LIKELY(x) (x)
#define VIGIL_UNLIKELY(x) (x)
#endif
#endif

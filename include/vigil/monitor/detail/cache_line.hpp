// vigil — in-process monitoring of machine-learning models in C++ inference servers.
// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstddef>
#include <limits>
#include <new>
#include <vector>

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace vigil {
namespace detail {

/// Bytes of a cache line on the CPUs vigil targets (x86-64, ARMv8 servers).
inline constexpr std::size_t cache_line = 64;

/// An allocator whose blocks start on a cache line and end on one, so that no other heap
/// object shares a line with them. The Monitor keeps in such blocks the arrays every
/// request reads on every core (the plan) and those one thread writes per request (its
/// shard's bins): otherwise a neighbouring object written by another thread — a t-digest's
/// buffer, say — takes the line away from the other cores on each write.
/// Memory: each block is rounded up to whole lines (at most 63 bytes more).
template <class T>
struct CacheLineAllocator {
  using value_type = T;
  static_assert(alignof(T) <= cache_line, "CacheLineAllocator: T is aligned beyond a cache line");

  CacheLineAllocator() = default;
  template <class U>
  CacheLineAllocator(const CacheLineAllocator<U>&) noexcept {}  // NOLINT: converting, as allocators are

  T* allocate(std::size_t n) {
    if (n > std::numeric_limits<std::size_t>::max() / sizeof(T) - cache_line) throw std::bad_array_new_length();
    return static_cast<T*>(::operator new(bytes(n), std::align_val_t(cache_line)));
  }
  // The unsized aligned delete: clang enables sized deallocation only on request
  // (-fsized-deallocation), and the unsized form frees the same block.
  void deallocate(T* p, std::size_t) noexcept { ::operator delete(p, std::align_val_t(cache_line)); }

  friend bool operator==(const CacheLineAllocator&, const CacheLineAllocator&) { return true; }
  friend bool operator!=(const CacheLineAllocator&, const CacheLineAllocator&) { return false; }

 private:
  static std::size_t bytes(std::size_t n) { return (n * sizeof(T) + cache_line - 1) / cache_line * cache_line; }
};

/// Bytes of a transparent huge page on x86-64 and on ARMv8 with 4 KiB pages.
inline constexpr std::size_t huge_page = std::size_t{1} << 21;

/// An allocator for large tables read at random, one line per request (the label store's):
/// a block of at least a huge page starts on a huge page and, on Linux, is advised for
/// transparent huge pages (madvise MADV_HUGEPAGE, a hint the kernel may ignore), so that
/// random lines of a table of many megabytes do not each miss the TLB, whose 4 KiB entries
/// cover only a few megabytes. Kernels set to "madvise" give huge pages only to regions
/// advised so; where the hint is unknown the block is allocated the same and not advised.
/// Smaller blocks start on a cache line.
/// Memory: the bytes asked for; a huge block may leave up to a huge page of address space
/// unused before it, which is never touched and so not resident.
template <class T>
struct HugePageAllocator {
  using value_type = T;
  static_assert(alignof(T) <= cache_line, "HugePageAllocator: T is aligned beyond a cache line");

  HugePageAllocator() = default;
  template <class U>
  HugePageAllocator(const HugePageAllocator<U>&) noexcept {}  // NOLINT: converting, as allocators are

  T* allocate(std::size_t n) {
    if (n > std::numeric_limits<std::size_t>::max() / sizeof(T)) throw std::bad_array_new_length();
    const std::size_t size = bytes(n);
    void* block = ::operator new(size, std::align_val_t(alignment(size)));
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    if (size >= huge_page) madvise(block, size / huge_page * huge_page, MADV_HUGEPAGE);  // a hint: failure is harmless
#endif
    return static_cast<T*>(block);
  }
  void deallocate(T* p, std::size_t n) noexcept { ::operator delete(p, std::align_val_t(alignment(bytes(n)))); }

  friend bool operator==(const HugePageAllocator&, const HugePageAllocator&) { return true; }
  friend bool operator!=(const HugePageAllocator&, const HugePageAllocator&) { return false; }

 private:
  static std::size_t bytes(std::size_t n) { return n * sizeof(T); }
  static std::size_t alignment(std::size_t size) { return size >= huge_page ? huge_page : cache_line; }
};

/// A vector in whole cache lines of its own (see CacheLineAllocator).
template <class T>
using LineVector = std::vector<T, CacheLineAllocator<T>>;

/// Bytes a LineVector holds on the heap.
template <class T>
std::size_t allocated_bytes(const LineVector<T>& v) {
  return (v.capacity() * sizeof(T) + cache_line - 1) / cache_line * cache_line;
}

}  // namespace detail
}  // namespace vigil

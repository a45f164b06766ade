#pragma once
// Flush-to-zero and denormals-are-zero for the current thread while in scope. The online
// softmax multiplies its accumulators by exp(old_max - new_max) and adds weights exp(s - max)
// that underflow below 2^-126 for far-off keys; each operation on such a denormal costs a
// microcode assist (~100+ cycles), which made attention several times slower. Flushing them
// changes values only below 1e-38 of the accumulated sum, far inside every tolerance.
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace dsv32 {

class ScopedFlushDenormals {
 public:
#if defined(__x86_64__) || defined(__i386__)
  ScopedFlushDenormals() : saved_(_mm_getcsr()) { _mm_setcsr(saved_ | kFlushToZero | kDenormalsAreZero); }
  ~ScopedFlushDenormals() { _mm_setcsr(saved_); }
#endif
  ScopedFlushDenormals(const ScopedFlushDenormals&) = delete;
  ScopedFlushDenormals& operator=(const ScopedFlushDenormals&) = delete;

 private:
#if defined(__x86_64__) || defined(__i386__)
  static constexpr unsigned kFlushToZero = 0x8000, kDenormalsAreZero = 0x0040;
  unsigned saved_;
#endif
};

}  // namespace dsv32

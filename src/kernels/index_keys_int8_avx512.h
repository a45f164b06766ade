#pragma once
// What the int8 indexer kernels (index_scores_int8_avx512.cpp, index_scores_int8_amx.cpp) share,
// for files compiled with -mavx512bw and entered only after their CPU checks: the keys made
// unsigned (vpdpbusd's operand), a group of heads' terms added to a key's lanes, and the next
// run's lines requested over the groups of keys.
#include <immintrin.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "kernels/index_scores_int8.h"

namespace dsv32 {
// File-local in each including file: they are compiled with different -m flags (ODR).
namespace {

// A key's int8 values plus 128 (unsigned, vpdpbusd's first operand), 64 at a time; dim is a
// multiple of 64.
inline void key_to_unsigned(const std::int8_t* key, std::size_t dim, std::uint8_t* out) {
  const __m512i bias = _mm512_set1_epi8(static_cast<char>(0x80));
  for (std::size_t d = 0; d < dim; d += 64) _mm512_store_si512(out + d, _mm512_xor_si512(_mm512_loadu_si512(key + d), bias));
}

// One group of 16 heads' exact integer sums for a key added to its lanes (head h in lane h % 16):
// their relu times the head's weight, multiplied for the first group and fused-added after,
// heads in order, as the scalar reference sums them.
inline __m512 add_relu_terms(__m512 lanes, __m512i sums, __m512 weight, bool first) {
  const __m512 term = _mm512_cvtepi32_ps(_mm512_max_epi32(sums, _mm512_setzero_si512()));
  return first ? _mm512_mul_ps(term, weight) : _mm512_fmadd_ps(term, weight, lanes);
}

// The same from sums over unsigned keys (vpdpbusd's), less the query's offset first.
inline __m512 add_head_terms(__m512 lanes, __m512i sums, __m512i offset, __m512 weight, bool first) {
  return add_relu_terms(lanes, _mm512_sub_epi32(sums, offset), weight, first);
}

// The prefetch's lines, an even share at each group of keys (integer addresses: a prefetch
// never faults, but a pointer formed past the cache's end would be undefined behaviour).
class GroupPrefetch {
 public:
  GroupPrefetch(IndexKeysPrefetch prefetch, std::size_t groups)
      : codes_(reinterpret_cast<std::uintptr_t>(prefetch.codes)), codes_end_(codes_ + 64 * prefetch.code_lines),
        scales_(reinterpret_cast<std::uintptr_t>(prefetch.scales)), scales_end_(scales_ + 64 * prefetch.scale_lines),
        per_group_((prefetch.code_lines + prefetch.scale_lines + groups - 1) / std::max<std::size_t>(groups, 1)) {}
  void group() {
    for (std::size_t i = 0; i < per_group_; ++i) {  // the scales first, then the codes
      std::uintptr_t* next = scales_ < scales_end_ ? &scales_ : codes_ < codes_end_ ? &codes_ : nullptr;
      if (next == nullptr) return;
      _mm_prefetch(reinterpret_cast<const char*>(*next), _MM_HINT_T1);
      *next += 64;
    }
  }

 private:
  std::uintptr_t codes_, codes_end_, scales_, scales_end_;
  std::size_t per_group_;
};

}  // namespace
}  // namespace dsv32

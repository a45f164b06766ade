// AVX-512 passes of top_k.h; this file alone is compiled with -mavx512f -mavx512vl and -mbmi2,
// and is only called after the CPU check below. Each step takes 16 keys and compresses the
// chosen positions in a register, then stores them with a mask: vpcompressd with a memory
// destination is microcoded on Zen 4.
#include <immintrin.h>

#include "kernels/top_k.h"

namespace dsv32 {
namespace {

constexpr std::int64_t kLanes = 16;

__mmask16 lanes_below(std::int64_t count) {
  return count >= kLanes ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << count) - 1);
}

// Stores the positions base + lane of the lanes in `chosen` at out, in lane order; returns how many.
std::int64_t store_chosen(__mmask16 chosen, std::int64_t base, std::int32_t* out) {
  const __m512i lanes = _mm512_add_epi32(_mm512_set1_epi32(static_cast<int>(base)),
                                         _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0));
  const int count = __builtin_popcount(chosen);
  _mm512_mask_storeu_epi32(out, lanes_below(count), _mm512_maskz_compress_epi32(chosen, lanes));
  return count;
}

void ordered_keys(const float* scores, std::int64_t n, std::uint32_t* keys) {
  for (std::int64_t i = 0; i < n; i += kLanes) {
    const __mmask16 valid = lanes_below(n - i);
    __m512i bits = _mm512_maskz_loadu_epi32(valid, scores + i);
    bits = _mm512_maskz_mov_epi32(_mm512_test_epi32_mask(bits, _mm512_set1_epi32(0x7FFFFFFF)), bits);  // -0 as +0
    const __m512i negative = _mm512_srai_epi32(bits, 31);                                             // all ones or zeros
    _mm512_mask_storeu_epi32(keys + i, valid, _mm512_xor_si512(bits, _mm512_or_si512(negative, _mm512_set1_epi32(static_cast<int>(0x80000000u)))));
  }
}

std::int64_t matching(const std::uint32_t* keys, std::int64_t n, std::uint32_t known, std::uint32_t prefix, std::int32_t* positions) {
  const __m512i known_bits = _mm512_set1_epi32(static_cast<int>(known)), prefix_bits = _mm512_set1_epi32(static_cast<int>(prefix));
  std::int64_t kept = 0;
  for (std::int64_t i = 0; i < n; i += kLanes) {
    const __mmask16 valid = lanes_below(n - i);
    const __m512i key = _mm512_maskz_loadu_epi32(valid, keys + i);
    const __mmask16 match = _mm512_mask_cmpeq_epi32_mask(valid, _mm512_and_si512(key, known_bits), prefix_bits);
    kept += store_chosen(match, i, positions + kept);
  }
  return kept;
}

void emit(const std::uint32_t* keys, std::int64_t n, std::int64_t k, std::uint32_t threshold, std::int64_t ties, std::int32_t* out) {
  const __m512i limit = _mm512_set1_epi32(static_cast<int>(threshold));
  std::int64_t written = 0;
  for (std::int64_t i = 0; i < n && written < k; i += kLanes) {
    const __mmask16 valid = lanes_below(n - i);
    const __m512i key = _mm512_maskz_loadu_epi32(valid, keys + i);
    const __mmask16 above = _mm512_mask_cmpgt_epu32_mask(valid, key, limit);
    __mmask16 equal = _mm512_mask_cmpeq_epu32_mask(valid, key, limit);
    if (const int equals = __builtin_popcount(equal); equals > ties) {
      equal = static_cast<__mmask16>(_pdep_u32(static_cast<unsigned>((1u << ties) - 1), equal));  // the first `ties` of them
    }
    ties -= __builtin_popcount(equal);
    written += store_chosen(above | equal, i, out + written);
  }
}

bool cpu_has_avx512_bmi2() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("bmi2");
}

}  // namespace

const TopKKernels* avx512_top_k() {
  static const TopKKernels kernels{"avx512", ordered_keys, matching, emit};
  return cpu_has_avx512_bmi2() ? &kernels : nullptr;
}

}  // namespace dsv32

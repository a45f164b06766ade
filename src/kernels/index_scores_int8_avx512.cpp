// AVX512-VNNI path of index_scores_int8.h; this file alone is compiled with -mavx512vnni and is
// only called after the CPU check below. vpdpbusd multiplies unsigned by signed bytes: the keys
// go in plus 128, and the query's offsets take that back.
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "kernels/index_keys_int8_avx512.h"
#include "kernels/index_scores_int8.h"
#include "kernels/tree_sum_avx512.h"

namespace dsv32 {
namespace {

constexpr int kKeys = 4;  // keys scored together: 16 accumulators for one chunk of 64 heads (named in the asm below)

// Two keys' (k0, k1) products with one quad of 64 heads (q0..q3) into their accumulators (a0..a3,
// b0..b3): vpdpbusd's unsigned operand is the key, its signed one the query, in either syntax.
#define DSV32_DOT_BYTES(q, k, acc) "vpdpbusd {%[" q "], %[" k "], %[" acc "]|%[" acc "], %[" k "], %[" q "]}\n\t"
#define DSV32_DOT_BYTES_TWO_KEYS                                                                                              \
  DSV32_DOT_BYTES("q0", "k0", "a0") DSV32_DOT_BYTES("q1", "k0", "a1") DSV32_DOT_BYTES("q2", "k0", "a2") DSV32_DOT_BYTES("q3", "k0", "a3") \
  DSV32_DOT_BYTES("q0", "k1", "b0") DSV32_DOT_BYTES("q1", "k1", "b1") DSV32_DOT_BYTES("q2", "k1", "b2") DSV32_DOT_BYTES("q3", "k1", "b3")

void scores(const IndexQueryInt8& query, const std::int8_t* key_values, const float* key_scales, std::size_t n, float* out,
            IndexKeysPrefetch prefetch) {
  const std::size_t dim = query.dim, heads = query.padded_heads, quads = dim / 4;
  alignas(64) std::uint8_t keys[kKeys][kIndexMaxDim];
  GroupPrefetch ahead(prefetch, (n + kKeys - 1) / kKeys);
  for (std::size_t j0 = 0; j0 < n; j0 += kKeys) {
    ahead.group();
    const std::size_t m = std::min<std::size_t>(kKeys, n - j0);
    for (std::size_t j = 0; j < kKeys; ++j) key_to_unsigned(key_values + (j0 + std::min(j, m - 1)) * dim, dim, keys[j]);
    __m512 lanes[kKeys];
    for (std::size_t chunk = 0; chunk < heads; chunk += kIndexHeadChunk) {
      __m512i acc[kKeys][4];
#pragma GCC unroll 4
      for (int j = 0; j < kKeys; ++j) acc[j][0] = acc[j][1] = acc[j][2] = acc[j][3] = _mm512_setzero_si512();
      const std::int8_t* q = query.packed + chunk * 4;
      for (std::size_t i = 0; i < quads; ++i) {
        __m512i qv[4];  // heads 16g .. 16g + 15
#pragma GCC unroll 4
        for (int g = 0; g < 4; ++g) qv[g] = _mm512_loadu_si512(q + (i * heads + 16 * g) * 4);
        __m512i kv[kKeys];
#pragma GCC unroll 4
        for (int j = 0; j < kKeys; ++j) {
          std::int32_t quad;
          std::memcpy(&quad, keys[j] + 4 * i, sizeof quad);
          kv[j] = _mm512_set1_epi32(quad);
        }
        // Two asm blocks (30 operands at most) with the accumulators as in-out register
        // operands: with the intrinsic in unrolled loops GCC 12 copied each accumulator out and
        // back around every vpdpbusd and spilled some (IndexScoresInt8_4096: 330 against 403).
        asm(DSV32_DOT_BYTES_TWO_KEYS
            : [a0] "+v"(acc[0][0]), [a1] "+v"(acc[0][1]), [a2] "+v"(acc[0][2]), [a3] "+v"(acc[0][3]),  //
              [b0] "+v"(acc[1][0]), [b1] "+v"(acc[1][1]), [b2] "+v"(acc[1][2]), [b3] "+v"(acc[1][3])
            : [k0] "v"(kv[0]), [k1] "v"(kv[1]), [q0] "v"(qv[0]), [q1] "v"(qv[1]), [q2] "v"(qv[2]), [q3] "v"(qv[3]));
        asm(DSV32_DOT_BYTES_TWO_KEYS
            : [a0] "+v"(acc[2][0]), [a1] "+v"(acc[2][1]), [a2] "+v"(acc[2][2]), [a3] "+v"(acc[2][3]),  //
              [b0] "+v"(acc[3][0]), [b1] "+v"(acc[3][1]), [b2] "+v"(acc[3][2]), [b3] "+v"(acc[3][3])
            : [k0] "v"(kv[2]), [k1] "v"(kv[3]), [q0] "v"(qv[0]), [q1] "v"(qv[1]), [q2] "v"(qv[2]), [q3] "v"(qv[3]));
      }
#pragma GCC unroll 4
      for (int j = 0; j < kKeys; ++j) {
#pragma GCC unroll 4
        for (int g = 0; g < 4; ++g) {
          const __m512i offset = _mm512_loadu_si512(query.offsets + chunk + 16 * g);
          const __m512 weight = _mm512_loadu_ps(query.weights + chunk + 16 * g);
          lanes[j] = add_head_terms(lanes[j], acc[j][g], offset, weight, chunk == 0 && g == 0);
        }
      }
    }
    for (std::size_t j = 0; j < m; ++j) out[j0 + j] = tree_sum(lanes[j]) * key_scales[j0 + j];
  }
}

bool cpu_has_avx512_vnni() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
         __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni");
}

#undef DSV32_DOT_BYTES_TWO_KEYS
#undef DSV32_DOT_BYTES

}  // namespace

IndexScoresInt8Fn index_scores_int8_avx512() { return cpu_has_avx512_vnni() ? &scores : nullptr; }

}  // namespace dsv32

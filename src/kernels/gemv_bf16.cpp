#include "kernels/gemv_bf16.h"

#include <algorithm>
#include <cmath>

#include "kernels/number_formats.h"
#include "kernels/vector_ops.h"
#include "kernels/weight.h"

namespace dsv32 {
namespace {

constexpr std::size_t kLanes = 16, kChunk = 2 * kLanes, kGroup = 2 * kChunk, kBlock = static_cast<std::size_t>(kFp8BlockSize);
static_assert(kI4GroupSize == kFp8BlockSize, "e4m3 and I4 rows share the block loop: one scale per 128 columns");

// vdpbf16ps reads bf16 subnormals as zero, and flushes subnormal sums to zero.
float dp_input(std::uint16_t bits) { return (bits & 0x7F80) == 0 ? 0.0f : bf16_to_f32(bits); }
float flush_subnormal(float value) { return std::fabs(value) < 0x1p-126f ? std::copysign(0.0f, value) : value; }

float tree_sum(float (&lanes)[kLanes]) {
  for (std::size_t half = kLanes / 2; half >= 1; half /= 2) {
    for (std::size_t i = 0; i < half; ++i) lanes[i] += lanes[i + half];
  }
  return lanes[0];
}

// The column (within its group of 64) of word w (0..63) of an e4m3 row's packed layout: the
// first chunk holds 16q + {0..7}, the second 16q + {8..15}.
std::size_t e4m3_column(std::size_t word) {
  const std::size_t chunk = word / kChunk, k = word % kChunk;
  return 16 * (k / 8) + 8 * chunk + k % 8;
}

// Adds chunk words [w0, w0 + 32) of one token to acc: weight(w) and activation(w) are the
// values of word w (zeros past the row).
template <typename WeightAt, typename ActivationAt>
void add_chunk(WeightAt weight, ActivationAt activation, std::size_t w0, float (&acc)[kLanes]) {
  for (std::size_t l = 0; l < kLanes; ++l) {
    const std::size_t even = w0 + 2 * l, odd = even + 1;
    acc[l] = flush_subnormal(acc[l] + weight(odd) * activation(odd));
    acc[l] = flush_subnormal(acc[l] + weight(even) * activation(even));
  }
}

// The column (within its group of 64) of word w of an I4 row's packed layout: even columns
// first, then odd ones.
std::size_t i4_column(std::size_t word) { return 2 * (word % kChunk) + word / kChunk; }

template <std::size_t (*Column)(std::size_t)>
void pack_x_scalar(const float* x, std::size_t n, std::uint16_t* out) {
  for (std::size_t w = 0; w < gemv_e4m3_x_values(n); ++w) {
    const std::size_t c = w / kGroup * kGroup + Column(w % kGroup);
    out[w] = c < n ? f32_to_bf16_flushing_subnormals(x[c]) : 0;
  }
}

// Σ_b block_scales[b] · Σ_{c in b} value(c) · x[c] in the documented order; value(c) is the
// weight of column c (exact in bf16).
template <std::size_t (*Column)(std::size_t), typename ValueAt>
void codes_row_scalar(ValueAt value, const float* block_scales, const std::uint16_t* x, std::size_t x_stride, std::size_t tokens,
                      std::size_t n, float* out, std::size_t out_stride) {
  const auto weight = [&](std::size_t w) {
    const std::size_t c = w / kGroup * kGroup + Column(w % kGroup);
    return c < n ? value(c) : 0.0f;
  };
  const std::size_t words = gemv_e4m3_x_values(n);
  for (std::size_t t = 0; t < tokens; ++t) {
    const auto activation = [&](std::size_t w) { return dp_input(x[t * x_stride + w]); };
    float total[kLanes] = {};
    for (std::size_t b0 = 0; b0 < n; b0 += kBlock) {
      float acc[2][kLanes] = {};
      for (std::size_t w0 = b0, j = 0; w0 < std::min(words, b0 + kBlock); w0 += kChunk, ++j) add_chunk(weight, activation, w0, acc[j % 2]);
      const float scale = block_scales[b0 / kBlock];
      for (std::size_t l = 0; l < kLanes; ++l) total[l] = std::fma(acc[0][l] + acc[1][l], scale, total[l]);
    }
    out[t * out_stride] = tree_sum(total);
  }
}

void e4m3_row_scalar(const std::uint8_t* row, const float* block_scales, const std::uint16_t* x, std::size_t x_stride,
                     std::size_t tokens, std::size_t n, float* out, std::size_t out_stride) {
  codes_row_scalar<e4m3_column>([&](std::size_t c) { return e4m3_to_f32(row[c]); }, block_scales, x, x_stride, tokens, n, out, out_stride);
}

void i4_row_scalar(const std::uint8_t* row, const float* block_scales, const std::uint16_t* x, std::size_t x_stride,
                   std::size_t tokens, std::size_t n, float* out, std::size_t out_stride) {
  codes_row_scalar<i4_column>([&](std::size_t c) { return static_cast<float>(i4_at(row, c)); }, block_scales, x, x_stride, tokens, n, out,
                              out_stride);
}

template <void (*Row)(const std::uint8_t*, const float*, const std::uint16_t*, std::size_t, std::size_t, std::size_t, float*, std::size_t)>
void row_pair_scalar(const std::uint8_t* row, std::size_t row_stride, const float* scales0, const float* scales1, const std::uint16_t* x,
                     std::size_t x_stride, std::size_t tokens, std::size_t n, float* out, std::size_t out_stride) {
  Row(row, scales0, x, x_stride, tokens, n, out, out_stride);
  Row(row + row_stride, scales1, x, x_stride, tokens, n, out + 1, out_stride);
}

void bf16_row_scalar(const std::uint16_t* row, const std::uint16_t* x, std::size_t x_stride, std::size_t tokens, std::size_t n,
                     float* out, std::size_t out_stride) {
  const auto weight = [&](std::size_t c) { return c < n ? dp_input(row[c]) : 0.0f; };
  for (std::size_t t = 0; t < tokens; ++t) {
    const auto activation = [&](std::size_t c) { return c < n ? dp_input(x[t * x_stride + c]) : 0.0f; };
    float acc[2][kLanes] = {};
    for (std::size_t c0 = 0, j = 0; c0 < n; c0 += kChunk, ++j) add_chunk(weight, activation, c0, acc[j % 2]);
    float total[kLanes];
    for (std::size_t l = 0; l < kLanes; ++l) total[l] = acc[0][l] + acc[1][l];
    out[t * out_stride] = tree_sum(total);
  }
}

}  // namespace

std::size_t gemv_e4m3_x_values(std::size_t n) { return (n + kGroup - 1) / kGroup * kGroup; }

const GemvBf16Kernels& scalar_gemv_bf16() {
  static const GemvBf16Kernels kernels{"scalar",
                                       pack_x_scalar<e4m3_column>,
                                       e4m3_row_scalar,
                                       row_pair_scalar<e4m3_row_scalar>,
                                       bf16_row_scalar,
                                       pack_x_scalar<i4_column>,
                                       i4_row_scalar,
                                       row_pair_scalar<i4_row_scalar>};
  return kernels;
}

const GemvBf16Kernels& best_gemv_bf16() {
  static const GemvBf16Kernels& best = []() -> const GemvBf16Kernels& {
    if (!avx512_kernels_allowed()) return scalar_gemv_bf16();
    // DSV32_ISA=avx512 keeps the bitwise-reference table (A/B runs, the same bits as CPUs
    // without AVX512-FP16), as it keeps the bf16 tile off AMX.
    const GemvBf16Kernels* half = amx_kernels_allowed() ? avx512fp16_gemv_bf16() : nullptr;
    if (half != nullptr) return *half;
    const GemvBf16Kernels* fast = avx512_gemv_bf16();
    return fast != nullptr ? *fast : scalar_gemv_bf16();
  }();
  return best;
}

}  // namespace dsv32

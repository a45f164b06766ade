#include <array>
#include <cmath>

#include "kernels/number_formats.h"
#include "kernels/silu_fast.h"
#include "kernels/weight.h"
#include "kernels/vector_ops.h"

namespace dsv32 {
namespace {

// The lanes of vector_ops.h's summation order: 16 float32 lanes, each a chain of fused
// multiply-adds, added at the end as a tree.
constexpr std::size_t kLanes = 16;
using Lanes = std::array<float, kLanes>;

float lane_tree_sum(const Lanes& lanes) {
  float eight[8], four[4], two[2];
  for (std::size_t l = 0; l < 8; ++l) eight[l] = lanes[l] + lanes[l + 8];
  for (std::size_t l = 0; l < 4; ++l) four[l] = eight[l] + eight[l + 4];
  for (std::size_t l = 0; l < 2; ++l) two[l] = four[l] + four[l + 2];
  return two[0] + two[1];
}

// The chunk of 16 columns from c into the lanes: lane l adds weight(c + l) · x[c + l], columns
// from n on as zeros (weight(i) is asked only below n; past it the weight is zero_weight).
template <typename WeightAt>
void add_chunk(Lanes& lanes, std::size_t c, std::size_t n, WeightAt weight, float zero_weight, const float* x) {
  for (std::size_t l = 0; l < kLanes; ++l) {
    const std::size_t i = c + l;
    lanes[l] = std::fma(i < n ? weight(i) : zero_weight, i < n ? x[i] : 0.0f, lanes[l]);
  }
}

// One row against x in the order of dot4 (one set of lanes over the chunks in turn).
template <typename WeightAt>
float row_dot(std::size_t n, WeightAt weight, const float* x) {
  Lanes lanes{};
  for (std::size_t c = 0; c < n; c += kLanes) add_chunk(lanes, c, n, weight, 0.0f, x);
  return lane_tree_sum(lanes);
}

// dot's own order: two sets of lanes over alternate chunks (the first, second, first, ...), a
// last partial chunk to the second set; the sets added lane by lane, then the tree.
float dot(const float* a, const float* b, std::size_t n) {
  const auto weight = [a](std::size_t i) { return a[i]; };
  Lanes first{}, second{};
  std::size_t i = 0;
  for (; i + 2 * kLanes <= n; i += 2 * kLanes) {
    add_chunk(first, i, n, weight, 0.0f, b);
    add_chunk(second, i + kLanes, n, weight, 0.0f, b);
  }
  if (i + kLanes <= n) {
    add_chunk(first, i, n, weight, 0.0f, b);
    i += kLanes;
  }
  if (i < n) add_chunk(second, i, n, weight, 0.0f, b);
  Lanes both;
  for (std::size_t l = 0; l < kLanes; ++l) both[l] = first[l] + second[l];
  return lane_tree_sum(both);
}

// Double lanes: of each 16 columns the first 8 go to one set, the last 8 to another; the sets
// added lane by lane, then 4 + 4, 2 + 2, 1 + 1; the columns after the last whole 16 in order.
double dot_f64(const float* a, const float* b, std::size_t n) {
  double low[8] = {}, high[8] = {};
  std::size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    for (std::size_t l = 0; l < 8; ++l) {
      low[l] = std::fma(static_cast<double>(a[i + l]), static_cast<double>(b[i + l]), low[l]);
      high[l] = std::fma(static_cast<double>(a[i + 8 + l]), static_cast<double>(b[i + 8 + l]), high[l]);
    }
  }
  double eight[8], four[4], two[2];
  for (std::size_t l = 0; l < 8; ++l) eight[l] = low[l] + high[l];
  for (std::size_t l = 0; l < 4; ++l) four[l] = eight[l] + eight[l + 4];
  for (std::size_t l = 0; l < 2; ++l) two[l] = four[l] + four[l + 2];
  double sum = two[0] + two[1];
  for (; i < n; ++i) sum += static_cast<double>(a[i]) * b[i];
  return sum;
}

void dot4(const float* rows, std::size_t row_stride, const float* x, std::size_t n, float* out) {
  for (std::size_t r = 0; r < 4; ++r) {
    const float* row = rows + r * row_stride;
    out[r] = row_dot(n, [row](std::size_t i) { return row[i]; }, x);
  }
}

// Each weight is e4m3(code) · its block's scale, one rounding; a chunk past n has code 0 times
// the chunk's scale (a chunk lies in one block).
void dot4_e4m3(const std::uint8_t* rows, std::size_t row_stride, const float* block_scales, const float* x,
               std::size_t n, float* out) {
  for (std::size_t r = 0; r < 4; ++r) {
    const std::uint8_t* row = rows + r * row_stride;
    Lanes lanes{};
    for (std::size_t c = 0; c < n; c += kLanes) {
      const float scale = block_scales[c / kFp8BlockSize];
      add_chunk(lanes, c, n, [&](std::size_t i) { return e4m3_to_f32(row[i]) * scale; }, e4m3_to_f32(0) * scale, x);
    }
    out[r] = lane_tree_sum(lanes);
  }
}

// One token at a time: the same bits as dot4_e4m3 by construction.
void dot4_e4m3_tokens(const std::uint8_t* rows, std::size_t row_stride, const float* block_scales, const float* x,
                      std::size_t x_stride, std::size_t tokens, std::size_t n, float* out, std::size_t out_stride) {
  for (std::size_t t = 0; t < tokens; ++t) dot4_e4m3(rows, row_stride, block_scales, x + t * x_stride, n, out + t * out_stride);
}

void dot4_bf16(const std::uint16_t* rows, std::size_t row_stride, const float* x, std::size_t n, float* out) {
  for (std::size_t r = 0; r < 4; ++r) {
    const std::uint16_t* row = rows + r * row_stride;
    out[r] = row_dot(n, [row](std::size_t i) { return bf16_to_f32(row[i]); }, x);
  }
}

// Four dot4 calls: the same bits as dot4 by construction.
void dot4x4(const float* rows, std::size_t row_stride, const float* x, std::size_t x_stride, std::size_t n, float* out,
            std::size_t out_stride) {
  for (std::size_t t = 0; t < 4; ++t) dot4(rows, row_stride, x + t * x_stride, n, out + t * out_stride);
}

void axpy(float a, const float* x, float* y, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) y[i] = std::fma(a, x[i], y[i]);
}

void axpy4(const float* a, const float* x, std::size_t x_stride, float* y, std::size_t n) {
  for (std::size_t j = 0; j < 4; ++j) axpy(a[j], x + j * x_stride, y, n);
}

void axpy4_e4m3(const float* a, const std::uint8_t* rows, std::size_t row_stride, const float* block_scales, float* y,
                std::size_t n) {
  for (std::size_t j = 0; j < 4; ++j) {
    for (std::size_t i = 0; i < n; ++i) {
      y[i] = std::fma(a[j], e4m3_to_f32(rows[j * row_stride + i]) * block_scales[i / kFp8BlockSize], y[i]);
    }
  }
}

void bf16_row(const std::uint16_t* src, float* dst, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) dst[i] = bf16_to_f32(src[i]);
}

void f16_row(const std::uint16_t* src, float* dst, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) dst[i] = f16_to_f32(src[i]);
}

void e4m3_row(const std::uint8_t* src, float scale, float* dst, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) dst[i] = e4m3_to_f32(src[i]) * scale;
}

void i4_row(const std::uint8_t* packed, const float* scales, float* dst, std::size_t n) {
  for (std::size_t c = 0; c < n; ++c) dst[c] = static_cast<float>(i4_at(packed, c)) * scales[c / kI4GroupSize];
}

void silu_mul_fast(float* gate, const float* up, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) gate[i] = silu_mul_fast_one(gate[i], up[i]);
}

}  // namespace

const VectorOps& scalar_vector_ops() {
  static const VectorOps ops{"scalar", dot, dot_f64, dot4, dot4x4, dot4_e4m3, dot4_bf16, dot4_e4m3_tokens, axpy, axpy4, axpy4_e4m3, bf16_row, f16_row, e4m3_row, i4_row, silu_mul_fast};
  return ops;
}

}  // namespace dsv32

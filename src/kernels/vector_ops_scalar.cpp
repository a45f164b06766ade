#include <algorithm>

#include "kernels/number_formats.h"
#include "kernels/silu_fast.h"
#include "kernels/weight.h"
#include "kernels/vector_ops.h"

namespace dsv32 {
namespace {

float dot(const float* a, const float* b, std::size_t n) {
  float sum = 0.0f;
  for (std::size_t i = 0; i < n; ++i) sum += a[i] * b[i];
  return sum;
}

double dot_f64(const float* a, const float* b, std::size_t n) {
  double sum = 0.0;
  for (std::size_t i = 0; i < n; ++i) sum += static_cast<double>(a[i]) * b[i];
  return sum;
}

void dot4(const float* rows, std::size_t row_stride, const float* x, std::size_t n, float* out) {
  for (int r = 0; r < 4; ++r) out[r] = dot(rows + r * row_stride, x, n);
}

void dot4_e4m3(const std::uint8_t* rows, std::size_t row_stride, const float* block_scales, const float* x,
               std::size_t n, float* out) {
  for (int r = 0; r < 4; ++r) {
    float sum = 0.0f;
    for (std::size_t c = 0; c < n; ++c) sum += e4m3_to_f32(rows[r * row_stride + c]) * block_scales[c / kI4GroupSize] * x[c];
    out[r] = sum;
  }
}

// One token at a time: the same bits as dot4_e4m3 by construction.
void dot4_e4m3_tokens(const std::uint8_t* rows, std::size_t row_stride, const float* block_scales, const float* x,
                      std::size_t x_stride, std::size_t tokens, std::size_t n, float* out, std::size_t out_stride) {
  for (std::size_t t = 0; t < tokens; ++t) dot4_e4m3(rows, row_stride, block_scales, x + t * x_stride, n, out + t * out_stride);
}

void dot4_bf16(const std::uint16_t* rows, std::size_t row_stride, const float* x, std::size_t n, float* out) {
  for (int r = 0; r < 4; ++r) {
    float sum = 0.0f;
    for (std::size_t c = 0; c < n; ++c) sum += bf16_to_f32(rows[r * row_stride + c]) * x[c];
    out[r] = sum;
  }
}

// Four dot4 calls: the same bits as dot4 by construction.
void dot4x4(const float* rows, std::size_t row_stride, const float* x, std::size_t x_stride, std::size_t n, float* out,
            std::size_t out_stride) {
  for (std::size_t t = 0; t < 4; ++t) dot4(rows, row_stride, x + t * x_stride, n, out + t * out_stride);
}

void axpy(float a, const float* x, float* y, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) y[i] += a * x[i];
}

void axpy4(const float* a, const float* x, std::size_t x_stride, float* y, std::size_t n) {
  for (std::size_t j = 0; j < 4; ++j) axpy(a[j], x + j * x_stride, y, n);
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
  static const VectorOps ops{"scalar", dot, dot_f64, dot4, dot4x4, dot4_e4m3, dot4_bf16, dot4_e4m3_tokens, axpy, axpy4, bf16_row, f16_row, e4m3_row, i4_row, silu_mul_fast};
  return ops;
}

}  // namespace dsv32

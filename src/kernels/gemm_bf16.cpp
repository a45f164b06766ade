#include "kernels/gemm_bf16.h"

#include <algorithm>
#include <cassert>

#include "kernels/number_formats.h"

namespace dsv32 {
namespace {

// `tokens` tokens of a block packed `tokens` wide.
void tile_tokens(const std::uint16_t* w, std::size_t row_stride, const std::uint16_t* packed_block, std::size_t col_pairs,
                 float* tile, std::size_t tokens) {
  for (std::size_t r = 0; r < kGemmTileRows; ++r) {
    for (std::size_t t = 0; t < tokens; ++t) {
      float sum = 0.0f;
      for (std::size_t i = 0; i < col_pairs; ++i) {
        const std::uint16_t* pair = packed_block + (i * tokens + t) * 2;
        sum += bf16_to_f32(w[r * row_stride + 2 * i + 1]) * bf16_to_f32(pair[1]);  // odd first, as vdpbf16ps
        sum += bf16_to_f32(w[r * row_stride + 2 * i]) * bf16_to_f32(pair[0]);
      }
      tile[r * kGemmTileTokens + t] = sum;
    }
  }
}

void tile_scalar(const std::uint16_t* w, std::size_t row_stride, const std::uint16_t* packed_block, std::size_t col_pairs,
                 float* tile, TilePrefetch) {
  tile_tokens(w, row_stride, packed_block, col_pairs, tile, kGemmTileTokens);
}

void tile_half_scalar(const std::uint16_t* w, std::size_t row_stride, const std::uint16_t* packed_block, std::size_t col_pairs,
                      float* tile, TilePrefetch) {
  tile_tokens(w, row_stride, packed_block, col_pairs, tile, kGemmHalfTokens);
}

void round_scalar(const float* src, std::uint16_t* dst, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) dst[i] = f32_to_bf16_flushing_subnormals(src[i]);
}

void e4m3_scalar(const std::uint8_t* src, float scale, std::uint16_t* dst, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) dst[i] = f32_to_bf16(e4m3_to_f32(src[i]) * scale);
}

void e4m3_row_scalar(const std::uint8_t* src, const float* scales, std::uint16_t* dst, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) dst[i] = f32_to_bf16(e4m3_to_f32(src[i]) * scales[i / kFp8BlockSize]);
}

void i4_row_scalar(const std::uint8_t* packed, const float* scales, std::uint16_t* dst, std::size_t n) {
  for (std::size_t c = 0; c < n; ++c) {
    dst[c] = f32_to_bf16_flushing_subnormals(static_cast<float>(i4_at(packed, c)) * scales[c / kI4GroupSize]);
  }
}

void pack_pairs_scalar(const float* x, std::size_t stride, std::size_t count, std::size_t rows, std::size_t cols, float scale,
                       std::uint16_t* out) {
  for (std::size_t m = 0; m < rows; ++m) {
    for (std::size_t c = 0; c < cols; ++c) {
      out[((c / 2) * rows + m) * 2 + c % 2] = m < count ? f32_to_bf16_flushing_subnormals(x[m * stride + c] * scale) : std::uint16_t{0};
    }
  }
}

void interleave_rows_scalar(const std::uint16_t* even, const std::uint16_t* odd, std::size_t n, std::uint16_t* out) {
  for (std::size_t j = 0; j < n; ++j) {
    out[2 * j] = even[j];
    out[2 * j + 1] = odd[j];
  }
}

void store_tile_scalar(const float* tile, std::size_t rows, std::size_t tokens, float* y, std::size_t y_stride) {
  for (std::size_t t = 0; t < tokens; ++t) {
    for (std::size_t r = 0; r < rows; ++r) y[t * y_stride + r] = tile[r * kGemmTileTokens + t];
  }
}

}  // namespace

const GemmBf16Kernels& scalar_gemm_bf16() {
  static const GemmBf16Kernels kernels{"scalar",         tile_scalar,    tile_half_scalar, round_scalar, e4m3_scalar, e4m3_row_scalar,
                                       i4_row_scalar,    interleave_rows_scalar, pack_pairs_scalar, store_tile_scalar};
  return kernels;
}

const GemmBf16Kernels& best_gemm_bf16() {
  static const GemmBf16Kernels& best = []() -> const GemmBf16Kernels& {
    const GemmBf16Kernels* fast = amx_kernels_allowed() ? amx_gemm_bf16() : nullptr;
    if (fast == nullptr && avx512_kernels_allowed()) fast = avx512_gemm_bf16();
    return fast != nullptr ? *fast : scalar_gemm_bf16();
  }();
  return best;
}

NextE4m3Rows e4m3_tile_rows(const Weight& weight, std::int64_t r, std::int64_t tile_rows, std::int64_t row_end, std::uint16_t* out) {
  assert(tile_rows > 0 && tile_rows <= kGemmWideRows);
  NextE4m3Rows rows{};
  const std::size_t row_bytes = weight.row_bytes();
  for (std::int64_t i = 0; i < tile_rows; ++i) {
    const std::int64_t row = weight.first_row + std::min(r + i, row_end - 1);
    rows.codes[i] = weight.data + static_cast<std::size_t>(row) * row_bytes;
    rows.scales[i] = weight.scales_of_row(row);
  }
  rows.rows = static_cast<std::size_t>(tile_rows);
  rows.cols = static_cast<std::size_t>(weight.cols);
  rows.out = out;
  return rows;
}

void weight_row_to_bf16(const GemmBf16Kernels& kernels, const VectorOps& ops, const Weight& weight, std::int64_t r,
                        std::int64_t col, std::int64_t count, float* row_f32, std::uint16_t* out) {
  const std::int64_t row = weight.first_row + r;
  if (weight.dtype == DType::BF16) {
    const auto* stored = reinterpret_cast<const std::uint16_t*>(weight.data) + row * weight.cols;
    std::copy_n(stored + col, count, out);
  } else if (weight.dtype == DType::F8_E4M3) {
    const float* scales = weight.scales_of_row(row);
    if (col % kFp8BlockSize == 0) {
      kernels.e4m3_row_to_bf16(weight.data + row * weight.cols + col, scales + col / kFp8BlockSize, out, static_cast<std::size_t>(count));
      return;
    }
    for (std::int64_t c = col; c < col + count;) {
      const std::int64_t end = std::min(col + count, (c / kFp8BlockSize + 1) * kFp8BlockSize);
      kernels.e4m3_to_bf16(weight.data + row * weight.cols + c, scales[c / kFp8BlockSize], out + (c - col),
                           static_cast<std::size_t>(end - c));
      c = end;
    }
  } else if (weight.dtype == DType::I4 && col % kI4GroupSize == 0 && count % 2 == 0) {
    kernels.i4_row_to_bf16(weight.data + static_cast<std::size_t>(row) * weight.row_bytes() + col / 2, weight.scales_of_row(row) + col / kI4GroupSize,
                           out, static_cast<std::size_t>(count));
  } else {
    weight.row_to_f32(r, row_f32, ops);
    kernels.round_to_bf16(row_f32 + col, out, static_cast<std::size_t>(count));
  }
}

std::size_t packed_activation_values(std::int64_t tokens, std::int64_t cols) {
  const std::int64_t blocks = (tokens + kGemmTileTokens - 1) / kGemmTileTokens;
  return static_cast<std::size_t>(blocks * kGemmTileTokens * cols);
}

std::int64_t packed_block_width(std::int64_t tokens, std::int64_t block) {
  return tokens - block * kGemmTileTokens <= kGemmHalfTokens ? kGemmHalfTokens : kGemmTileTokens;
}

void pack_activations_bf16(const GemmBf16Kernels& kernels, const float* x, std::int64_t tokens, std::int64_t stride,
                           std::int64_t cols, std::int64_t block_begin, std::int64_t block_end, std::uint16_t* packed) {
  for (std::int64_t b = block_begin; b < block_end; ++b) {
    const std::int64_t first = b * kGemmTileTokens, count = std::clamp<std::int64_t>(tokens - first, 0, kGemmTileTokens);
    kernels.pack_pairs(x + first * stride, static_cast<std::size_t>(stride), static_cast<std::size_t>(count),
                       static_cast<std::size_t>(packed_block_width(tokens, b)), static_cast<std::size_t>(cols), 1.0f,
                       packed + b * kGemmTileTokens * cols);
  }
}

}  // namespace dsv32

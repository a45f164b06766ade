#pragma once
// A weight matrix [rows, cols] viewed in its stored format (no copy): F32, BF16, F16, FP8 E4M3
// with one float32 scale per 128x128 tile (DeepSeek's `weight_scale_inv`), or I4 (what
// `dsv32 quantize` writes): signed 4-bit integers, two per byte (column 2j in the low nibble,
// 2j+1 in the high one, each stored as q + 8, q in [-8, 7]), with one float32 scale per row
// and 128 columns: w[r][c] = q[r][c] * scale[r][c / 128].
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "kernels/vector_ops.h"

namespace dsv32 {

enum class DType : std::uint8_t { F32, F16, BF16, F8_E4M3, I32, I64, U8, I4 };

std::string_view dtype_name(DType dtype);
std::size_t dtype_bytes(DType dtype);  // 0 for I4 (two values per byte): see Weight::row_bytes

constexpr std::int64_t kFp8BlockSize = 128;
constexpr std::int64_t kI4GroupSize = 128;  // columns per I4 scale

struct Weight {
  DType dtype = DType::F32;
  const std::uint8_t* data = nullptr;  // row 0 of the full tensor
  std::int64_t rows = 0;
  std::int64_t cols = 0;
  std::int64_t first_row = 0;          // rows of a slice are first_row.. of the full tensor
  const float* block_scales = nullptr; // FP8: [ceil(full_rows/128), ceil(cols/128)]; I4: [full_rows, ceil(cols/128)]
  std::int64_t scale_cols = 0;
  // FP8: whoever made this view scanned the codes and found no NaN (0x7F, 0xFF) among them
  // (ModelWeights::mark_nan_free_codes); kernels that must look for NaN codes otherwise may skip it.
  bool codes_nan_free = false;

  // Bytes of one stored row, and the scales of full-tensor row `row` (FP8: its 128-row block's).
  std::size_t row_bytes() const;
  const float* scales_of_row(std::int64_t row) const {
    return block_scales + (dtype == DType::I4 ? row : row / kFp8BlockSize) * scale_cols;
  }

  // Rows [begin, begin + count) of this matrix, same storage.
  Weight row_slice(std::int64_t begin, std::int64_t count) const;
  // Row r (relative to this view) dequantised to float32.
  void row_to_f32(std::int64_t r, float* dst, const VectorOps& ops) const;
  std::size_t stored_bytes() const;
};

}  // namespace dsv32

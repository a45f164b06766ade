#include "kernels/weight.h"

#include <algorithm>

namespace dsv32 {

std::string_view dtype_name(DType dtype) {
  switch (dtype) {
    case DType::F32: return "F32";
    case DType::F16: return "F16";
    case DType::BF16: return "BF16";
    case DType::F8_E4M3: return "F8_E4M3";
    case DType::I32: return "I32";
    case DType::I64: return "I64";
    case DType::U8: return "U8";
    case DType::I4: return "I4";
  }
  return "?";
}

std::size_t dtype_bytes(DType dtype) {
  switch (dtype) {
    case DType::F32: case DType::I32: return 4;
    case DType::F16: case DType::BF16: return 2;
    case DType::F8_E4M3: case DType::U8: return 1;
    case DType::I64: return 8;
    case DType::I4: return 0;
  }
  return 0;
}

Weight Weight::row_slice(std::int64_t begin, std::int64_t count) const {
  Weight slice = *this;
  slice.first_row = first_row + begin;
  slice.rows = count;
  return slice;
}

void Weight::row_to_f32(std::int64_t r, float* dst, const VectorOps& ops) const {
  const std::int64_t row = first_row + r;
  const std::size_t offset = static_cast<std::size_t>(row) * static_cast<std::size_t>(cols);
  switch (dtype) {
    case DType::F32: {
      const float* src = reinterpret_cast<const float*>(data) + offset;
      for (std::int64_t c = 0; c < cols; ++c) dst[c] = src[c];
      return;
    }
    case DType::BF16: ops.bf16_to_f32(reinterpret_cast<const std::uint16_t*>(data) + offset, dst, cols); return;
    case DType::F16: ops.f16_to_f32(reinterpret_cast<const std::uint16_t*>(data) + offset, dst, cols); return;
    case DType::F8_E4M3: {
      const float* scales = scales_of_row(row);
      for (std::int64_t c = 0; c < cols; c += kFp8BlockSize) {
        const std::int64_t n = std::min(kFp8BlockSize, cols - c);
        ops.e4m3_to_f32(data + offset + c, scales[c / kFp8BlockSize], dst + c, n);
      }
      return;
    }
    case DType::I4: ops.i4_to_f32(data + static_cast<std::size_t>(row) * row_bytes(), scales_of_row(row), dst, cols); return;
    default: return;  // not a matrix format; rejected when the checkpoint is loaded
  }
}

std::size_t Weight::row_bytes() const {
  return dtype == DType::I4 ? static_cast<std::size_t>(cols + 1) / 2 : static_cast<std::size_t>(cols) * dtype_bytes(dtype);
}

std::size_t Weight::stored_bytes() const {
  const std::size_t scales = dtype == DType::I4 ? static_cast<std::size_t>(rows * scale_cols) * sizeof(float) : 0;
  return static_cast<std::size_t>(rows) * row_bytes() + scales;
}

}  // namespace dsv32

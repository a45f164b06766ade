#include "kernels/linear.h"

namespace dsv32 {
namespace {

// Up to this many activation rows, weights are converted in registers for each row (memory-bound
// decode); beyond it, a block of rows is dequantised once into scratch and reused by all of them.
constexpr std::int64_t kFusedMaxRows = 4;

// Rows r..r+3 in the fused kernels: stored format, and one FP8 scale row for all four.
bool fused_rows_ok(const Weight& weight, std::int64_t r) {
  if (weight.dtype == DType::BF16) return true;
  if (weight.dtype != DType::F8_E4M3) return false;
  const std::int64_t first = weight.first_row + r;
  return first / kFp8BlockSize == (first + 3) / kFp8BlockSize;
}

void fused_dot4(const VectorOps& ops, const Weight& weight, std::int64_t r, const float* x, float* out) {
  const auto row = static_cast<std::size_t>(weight.first_row + r);
  const auto cols = static_cast<std::size_t>(weight.cols);
  if (weight.dtype == DType::BF16) {
    ops.dot4_bf16(reinterpret_cast<const std::uint16_t*>(weight.data) + row * cols, cols, x, cols, out);
  } else {
    const float* scales = weight.block_scales + (weight.first_row + r) / kFp8BlockSize * weight.scale_cols;
    ops.dot4_e4m3(weight.data + row * cols, cols, scales, x, cols, out);
  }
}

void linear_rows(const VectorOps& ops, float* scratch, const Weight& weight, ConstMatrixRef x, MatrixRef y,
                 std::int64_t row_begin, std::int64_t row_end) {
  const std::int64_t cols = weight.cols;
  std::int64_t r = row_begin;
  for (; r + 4 <= row_end; r += 4) {
    if (x.rows <= kFusedMaxRows && fused_rows_ok(weight, r)) {
      for (std::int64_t t = 0; t < x.rows; ++t) {
        float out[4];
        fused_dot4(ops, weight, r, x.data + t * x.stride, out);
        float* y_row = y.data + t * y.stride + r;
        for (int i = 0; i < 4; ++i) y_row[i] = out[i];
      }
      continue;
    }
    for (int i = 0; i < 4; ++i) weight.row_to_f32(r + i, scratch + i * cols, ops);
    for (std::int64_t t = 0; t < x.rows; ++t) {
      float out[4];
      ops.dot4(scratch, cols, x.data + t * x.stride, cols, out);
      float* y_row = y.data + t * y.stride + r;
      for (int i = 0; i < 4; ++i) y_row[i] = out[i];
    }
  }
  for (; r < row_end; ++r) {
    weight.row_to_f32(r, scratch, ops);
    for (std::int64_t t = 0; t < x.rows; ++t) y.data[t * y.stride + r] = ops.dot(scratch, x.data + t * x.stride, cols);
  }
}

}  // namespace

void linear(ComputeContext& ctx, const Weight& weight, ConstMatrixRef x, MatrixRef y) {
  const auto cols = static_cast<std::size_t>(weight.cols);
  ctx.pool().parallel_for(
      static_cast<std::size_t>(weight.rows),
      [&](std::size_t begin, std::size_t end, unsigned thread) {
        linear_rows(ctx.ops(), ctx.scratch(thread, 4 * cols), weight, x, y, static_cast<std::int64_t>(begin),
                    static_cast<std::int64_t>(end));
      },
      4);
}

void linear_f64_accumulate(ComputeContext& ctx, const Weight& weight, ConstMatrixRef x, MatrixRef y) {
  const auto cols = static_cast<std::size_t>(weight.cols);
  ctx.pool().parallel_for(static_cast<std::size_t>(weight.rows), [&](std::size_t begin, std::size_t end, unsigned thread) {
    float* row = ctx.scratch(thread, cols);
    for (auto r = static_cast<std::int64_t>(begin); r < static_cast<std::int64_t>(end); ++r) {
      weight.row_to_f32(r, row, ctx.ops());
      for (std::int64_t t = 0; t < x.rows; ++t) {
        y.data[t * y.stride + r] = static_cast<float>(ctx.ops().dot_f64(row, x.data + t * x.stride, cols));
      }
    }
  });
}

void linear_serial(const VectorOps& ops, float* scratch, const Weight& weight, ConstMatrixRef x, MatrixRef y) {
  linear_rows(ops, scratch, weight, x, y, 0, weight.rows);
}

void linear_transposed_accumulate(const VectorOps& ops, float* scratch, const Weight& weight, ConstMatrixRef x,
                                  MatrixRef y) {
  for (std::int64_t r = 0; r < weight.rows; ++r) {
    weight.row_to_f32(r, scratch, ops);
    for (std::int64_t t = 0; t < x.rows; ++t) ops.axpy(x.data[t * x.stride + r], scratch, y.data + t * y.stride, weight.cols);
  }
}

}  // namespace dsv32

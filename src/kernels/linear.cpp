#include "kernels/linear.h"

#include <algorithm>

#include "kernels/dot_bf16.h"
#include "kernels/number_formats.h"

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

// Prefill: a block of weight rows is dequantised once and applied to the activation rows a
// block at a time, both blocks sized to stay in the core's L2 together; otherwise every group
// of four weight rows streamed the whole activation matrix (2 MB at 512 tokens) from memory.
constexpr std::int64_t kBlockBytes = 128 * 1024;
constexpr std::int64_t kMaxBlockRows = 64;

std::int64_t block_rows_for(std::int64_t cols, std::int64_t limit) {
  const std::int64_t fit = kBlockBytes / (cols * static_cast<std::int64_t>(sizeof(float))) / 4 * 4;
  return std::max<std::int64_t>(4, std::min(fit, limit));
}

void decode_rows(const VectorOps& ops, float* scratch, const Weight& weight, ConstMatrixRef x, MatrixRef y,
                 std::int64_t row_begin, std::int64_t row_end) {
  const std::int64_t cols = weight.cols;
  for (std::int64_t r = row_begin; r + 4 <= row_end; r += 4) {
    if (!fused_rows_ok(weight, r)) {
      for (int i = 0; i < 4; ++i) weight.row_to_f32(r + i, scratch + i * cols, ops);
    }
    for (std::int64_t t = 0; t < x.rows; ++t) {
      float out[4];
      if (fused_rows_ok(weight, r)) {
        fused_dot4(ops, weight, r, x.data + t * x.stride, out);
      } else {
        ops.dot4(scratch, cols, x.data + t * x.stride, cols, out);
      }
      float* y_row = y.data + t * y.stride + r;
      for (int i = 0; i < 4; ++i) y_row[i] = out[i];
    }
  }
}

void prefill_rows(const VectorOps& ops, float* scratch, std::int64_t scratch_rows, const Weight& weight, ConstMatrixRef x,
                  MatrixRef y, std::int64_t row_begin, std::int64_t row_end) {
  const std::int64_t cols = weight.cols;
  const std::int64_t block_rows = block_rows_for(cols, std::min(scratch_rows, kMaxBlockRows));
  const std::int64_t block_tokens = block_rows_for(cols, kMaxBlockRows);
  for (std::int64_t r0 = row_begin; r0 + 4 <= row_end; r0 += block_rows) {
    const std::int64_t n = std::min(block_rows, (row_end - r0) / 4 * 4);
    for (std::int64_t i = 0; i < n; ++i) weight.row_to_f32(r0 + i, scratch + i * cols, ops);
    for (std::int64_t t0 = 0; t0 < x.rows; t0 += block_tokens) {
      const std::int64_t t1 = std::min(x.rows, t0 + block_tokens);
      for (std::int64_t g = 0; g < n; g += 4) {
        const float* rows = scratch + g * cols;
        std::int64_t t = t0;
        for (; t + 4 <= t1; t += 4) {
          ops.dot4x4(rows, cols, x.data + t * x.stride, x.stride, cols, y.data + t * y.stride + r0 + g, y.stride);
        }
        for (; t < t1; ++t) ops.dot4(rows, cols, x.data + t * x.stride, cols, y.data + t * y.stride + r0 + g);
      }
    }
  }
}

// scratch holds scratch_rows rows of weight.cols floats (at least 4).
void linear_rows(const VectorOps& ops, float* scratch, std::int64_t scratch_rows, const Weight& weight, ConstMatrixRef x,
                 MatrixRef y, std::int64_t row_begin, std::int64_t row_end) {
  if (x.rows <= kFusedMaxRows) {
    decode_rows(ops, scratch, weight, x, y, row_begin, row_end);
  } else {
    prefill_rows(ops, scratch, scratch_rows, weight, x, y, row_begin, row_end);
  }
  const std::int64_t cols = weight.cols;
  for (std::int64_t r = row_end - (row_end - row_begin) % 4; r < row_end; ++r) {
    weight.row_to_f32(r, scratch, ops);
    for (std::int64_t t = 0; t < x.rows; ++t) y.data[t * y.stride + r] = ops.dot(scratch, x.data + t * x.stride, cols);
  }
}

// The bf16 mode's batched product: x already rounded to bf16 (x_bf16, row stride = cols); weight
// rows dequantised, rounded to bf16 a block at a time, applied to token blocks as prefill_rows.
void bf16_rows(Dot4x4Bf16 dot, const VectorOps& ops, float* row_f32, std::uint16_t* scratch, const Weight& weight,
               const std::uint16_t* x_bf16, std::int64_t tokens, MatrixRef y, std::int64_t row_begin, std::int64_t row_end) {
  const std::int64_t cols = weight.cols;
  const std::int64_t block_rows = block_rows_for(cols, kMaxBlockRows) * 2;  // bf16 rows are half the bytes
  const std::int64_t block_tokens = block_rows;
  for (std::int64_t r0 = row_begin; r0 < row_end; r0 += block_rows) {
    const std::int64_t n = std::min(block_rows, row_end - r0);
    const std::int64_t n4 = (n + 3) / 4 * 4;
    const std::uint16_t* block = scratch;
    if (weight.dtype == DType::BF16 && n == n4) {  // stored as bf16 already: used in place
      block = reinterpret_cast<const std::uint16_t*>(weight.data) + (weight.first_row + r0) * cols;
    } else {
      for (std::int64_t i = 0; i < n4; ++i) {  // a short last group of 4 repeats its last row
        weight.row_to_f32(r0 + std::min(i, n - 1), row_f32, ops);
        for (std::int64_t c = 0; c < cols; ++c) scratch[i * cols + c] = f32_to_bf16(row_f32[c]);
      }
    }
    for (std::int64_t t0 = 0; t0 < tokens; t0 += block_tokens) {
      const std::int64_t t1 = std::min(tokens, t0 + block_tokens);
      for (std::int64_t g = 0; g < n4; g += 4) {
        for (std::int64_t t = t0; t < t1; t += 4) {
          float out[16];
          const std::int64_t rows_here = std::min<std::int64_t>(4, n - g), tokens_here = std::min<std::int64_t>(4, t1 - t);
          if (tokens_here == 4) {
            dot(block + g * cols, static_cast<std::size_t>(cols), x_bf16 + t * cols, static_cast<std::size_t>(cols),
                static_cast<std::size_t>(cols), out, 4);
          } else {
            for (std::int64_t j = 0; j < tokens_here; ++j) {  // one token as four copies (stride 0)
              float part[16];
              dot(block + g * cols, static_cast<std::size_t>(cols), x_bf16 + (t + j) * cols, 0, static_cast<std::size_t>(cols), part, 4);
              for (int r = 0; r < 4; ++r) out[j * 4 + r] = part[r];
            }
          }
          for (std::int64_t j = 0; j < tokens_here; ++j) {
            for (std::int64_t r = 0; r < rows_here; ++r) y.data[(t + j) * y.stride + r0 + g + r] = out[j * 4 + r];
          }
        }
      }
    }
  }
}

// bf16 values bf16_rows needs in scratch: a block (at most 2 x kBlockBytes / 4 values, or 8 rows
// when rows are wider than that) plus a padded group of 4 rows.
std::size_t bf16_scratch_values(std::int64_t cols) { return static_cast<std::size_t>(kBlockBytes / 2 + 12 * cols); }

// Rounding a weight block to bf16 costs about as much as applying it to ~32 rows in float32, so
// smaller batches (several decoding sequences) stay on the float32 path unless the weight is
// stored in bf16 (measured: 16 sequences ran at half speed through bf16 with FP8 weights).
constexpr std::int64_t kBf16MinRows = 32;

bool use_bf16(ComputeContext& ctx, const Weight& weight, ConstMatrixRef x) {
  if (ctx.precision() != Precision::BF16 || weight.cols % 32 != 0) return false;
  return weight.dtype == DType::BF16 ? x.rows > kFusedMaxRows : x.rows >= kBf16MinRows;
}

void linear_bf16(ComputeContext& ctx, const Weight& weight, ConstMatrixRef x, MatrixRef y) {
  const std::int64_t cols = weight.cols;
  std::uint16_t* x_bf16 = ctx.shared_u16(static_cast<std::size_t>(x.rows * cols));
  for (std::int64_t t = 0; t < x.rows; ++t) {
    for (std::int64_t c = 0; c < cols; ++c) x_bf16[t * cols + c] = f32_to_bf16(x.data[t * x.stride + c]);
  }
  const Dot4x4Bf16 dot = best_dot4x4_bf16(static_cast<std::size_t>(cols));
  ctx.pool().parallel_for(static_cast<std::size_t>(weight.rows), [&](std::size_t begin, std::size_t end, unsigned thread) {
    bf16_rows(dot, ctx.ops(), ctx.scratch(thread, static_cast<std::size_t>(cols)), ctx.scratch_u16(thread, bf16_scratch_values(cols)),
              weight, x_bf16, x.rows, y,
              static_cast<std::int64_t>(begin), static_cast<std::int64_t>(end));
  }, 4);
}

}  // namespace

void linear(ComputeContext& ctx, const Weight& weight, ConstMatrixRef x, MatrixRef y) {
  if (use_bf16(ctx, weight, x)) {
    linear_bf16(ctx, weight, x, y);
    return;
  }
  const auto cols = static_cast<std::size_t>(weight.cols);
  ctx.pool().parallel_for(
      static_cast<std::size_t>(weight.rows),
      [&](std::size_t begin, std::size_t end, unsigned thread) {
        linear_rows(ctx.ops(), ctx.scratch(thread, kMaxBlockRows * cols), kMaxBlockRows, weight, x, y, static_cast<std::int64_t>(begin),
                    static_cast<std::int64_t>(end));
      },
      4);
}

void linear_batch(ComputeContext& ctx, std::span<const LinearJob> jobs) {
  // Jobs laid end to end in units of 4 rows (dot4's group), each job starting on a unit. In the
  // bf16 mode the batched jobs' activations are rounded into one shared buffer first.
  std::size_t units = 0, max_cols = 0, bf16_values = 0;
  for (const LinearJob& job : jobs) {
    units += static_cast<std::size_t>((job.weight.rows + 3) / 4);
    max_cols = std::max(max_cols, static_cast<std::size_t>(job.weight.cols));
    if (use_bf16(ctx, job.weight, job.x)) bf16_values += static_cast<std::size_t>(job.x.rows * job.weight.cols);
  }
  std::uint16_t* x_bf16 = bf16_values > 0 ? ctx.shared_u16(bf16_values) : nullptr;
  for (std::size_t offset = 0; const LinearJob& job : jobs) {
    if (!use_bf16(ctx, job.weight, job.x)) continue;
    for (std::int64_t t = 0; t < job.x.rows; ++t) {
      for (std::int64_t c = 0; c < job.weight.cols; ++c) x_bf16[offset++] = f32_to_bf16(job.x.data[t * job.x.stride + c]);
    }
  }
  ctx.pool().parallel_for(units, [&](std::size_t begin, std::size_t end, unsigned thread) {
    float* scratch = ctx.scratch(thread, kMaxBlockRows * max_cols);
    std::size_t first_unit = 0, offset = 0;
    for (const LinearJob& job : jobs) {
      const auto job_units = static_cast<std::size_t>((job.weight.rows + 3) / 4);
      const std::size_t lo = std::max(begin, first_unit), hi = std::min(end, first_unit + job_units);
      const bool bf16 = use_bf16(ctx, job.weight, job.x);
      if (lo < hi) {
        const auto row_begin = static_cast<std::int64_t>(4 * (lo - first_unit));
        const std::int64_t row_end = std::min(job.weight.rows, static_cast<std::int64_t>(4 * (hi - first_unit)));
        if (bf16) {
          const auto cols = static_cast<std::size_t>(job.weight.cols);
          bf16_rows(best_dot4x4_bf16(cols), ctx.ops(), scratch, ctx.scratch_u16(thread, bf16_scratch_values(job.weight.cols)),
                    job.weight, x_bf16 + offset, job.x.rows, job.y, row_begin, row_end);
        } else {
          linear_rows(ctx.ops(), scratch, kMaxBlockRows, job.weight, job.x, job.y, row_begin, row_end);
        }
      }
      if (bf16) offset += static_cast<std::size_t>(job.x.rows * job.weight.cols);
      first_unit += job_units;
    }
  });
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
  linear_rows(ops, scratch, 4, weight, x, y, 0, weight.rows);
}

void linear_transposed_accumulate(const VectorOps& ops, float* scratch, const Weight& weight, ConstMatrixRef x,
                                  MatrixRef y) {
  // Four weight rows at a time through axpy4: y is loaded and stored once per four rows, and
  // every y[t] still receives the rows in order (the same bits as one axpy per row).
  const auto cols = static_cast<std::size_t>(weight.cols);
  std::int64_t r = 0;
  for (; r + 4 <= weight.rows; r += 4) {
    for (int i = 0; i < 4; ++i) weight.row_to_f32(r + i, scratch + i * weight.cols, ops);
    for (std::int64_t t = 0; t < x.rows; ++t) ops.axpy4(x.data + t * x.stride + r, scratch, cols, y.data + t * y.stride, cols);
  }
  for (; r < weight.rows; ++r) {
    weight.row_to_f32(r, scratch, ops);
    for (std::int64_t t = 0; t < x.rows; ++t) ops.axpy(x.data[t * x.stride + r], scratch, y.data + t * y.stride, weight.cols);
  }
}

}  // namespace dsv32

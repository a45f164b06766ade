#pragma once
// y = x · Wᵀ for a batch of activation rows, W in its stored format; the threads split W's rows,
// so the weights are read exactly once per call. Up to 4 activation rows (decode), weights are
// converted in registers (fused dot4 kernels); more rows (prefill, batches) dequantise a block
// of weight rows into scratch and apply it to blocks of activation rows (dot4x4), with the same
// per-output summation order, so decode and prefill agree bitwise. In Precision::BF16 the
// products are bf16 instead: large batches through the tile (kernels/gemm_bf16.h), a few rows
// through the GEMV (kernels/gemv_bf16.h).
#include <cstdint>
#include <span>

#include "kernels/compute_context.h"
#include "kernels/weight.h"

namespace dsv32 {

struct MatrixRef {  // rows of floats with a stride (in floats)
  float* data;
  std::int64_t rows;
  std::int64_t stride;
};

struct ConstMatrixRef {
  const float* data;
  std::int64_t rows;
  std::int64_t stride;
};

void linear(ComputeContext& ctx, const Weight& weight, ConstMatrixRef x, MatrixRef y);

// Whether this context runs bf16 products at all: Precision::BF16 on a CPU with AVX512-BF16
// (elsewhere the bf16 mode keeps every product in float32).
bool bf16_products(Precision precision);
inline bool bf16_products(const ComputeContext& ctx) { return bf16_products(ctx.precision()); }

// Whether linear() gives a product of `tokens` activation rows against `weight` to the bf16
// mode's few-token GEMV (kernels/gemv_bf16.h) rather than to a tile or the float32 paths.
bool linear_uses_gemv_bf16(ComputeContext& ctx, const Weight& weight, std::int64_t tokens);

// Several independent products in one parallel region: the rows of all jobs are split across
// the threads together. Decode runs many small matrices (the active experts' projections), each
// too small to pay for a parallel region of its own. Same results as linear() per job.
struct LinearJob {
  Weight weight;
  ConstMatrixRef x;
  MatrixRef y;
};
void linear_batch(ComputeContext& ctx, std::span<const LinearJob> jobs);

// The same with double accumulation (VectorOps::dot_f64), for outputs that are rounded to FP8.
void linear_f64_accumulate(ComputeContext& ctx, const Weight& weight, ConstMatrixRef x, MatrixRef y);

// Single-threaded variant for callers that already run inside a parallel region.
void linear_serial(const VectorOps& ops, float* scratch, const Weight& weight, ConstMatrixRef x, MatrixRef y);

// y[t] += xᵀ·W (y has W.cols entries per row): the transposed use of a weight, e.g. MLA's
// absorption of W_UK into the query. Serial; scratch needs 4 * W.cols floats.
void linear_transposed_accumulate(const VectorOps& ops, float* scratch, const Weight& weight, ConstMatrixRef x,
                                  MatrixRef y);

}  // namespace dsv32

#pragma once
// y = x · Wᵀ for a batch of activation rows, W in its stored format. Each thread owns a
// contiguous range of W's rows, dequantises four at a time into scratch and applies them to
// every activation row, so the weights are read exactly once per call.
#include <cstdint>

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

// The same with double accumulation (VectorOps::dot_f64), for outputs that are rounded to FP8.
void linear_f64_accumulate(ComputeContext& ctx, const Weight& weight, ConstMatrixRef x, MatrixRef y);

// Single-threaded variant for callers that already run inside a parallel region.
void linear_serial(const VectorOps& ops, float* scratch, const Weight& weight, ConstMatrixRef x, MatrixRef y);

// y[t] += xᵀ·W (y has W.cols entries per row): the transposed use of a weight, e.g. MLA's
// absorption of W_UK into the query. Serial; scratch needs W.cols floats.
void linear_transposed_accumulate(const VectorOps& ops, float* scratch, const Weight& weight, ConstMatrixRef x,
                                  MatrixRef y);

}  // namespace dsv32

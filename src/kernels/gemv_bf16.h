#pragma once
// The bf16 mode's product for a few tokens (decode, a few sequences sharing an expert): each
// weight row is read once, in its stored format, converted in registers (e4m3 -> bf16 is
// exact) and applied to every token, whose activations were rounded to bf16 once per call.
// vdpbf16ps does 32 multiply-adds per instruction against 16 for a float32 FMA, and e4m3 codes
// become bf16 through two 128-entry byte tables (vpermi2b: the high and the low byte of each
// value), a few instructions per 64 weights: decode of FP8 weights was bound by the conversion
// instructions of the float32 route, not by memory.
//
// Summation order (the scalar reference follows it step by step, so every table's rows give
// the same bits; HalfE4m3Rows, below, differs): a row is cut into chunks of 32 columns, and lane l of a chunk holds two columns,
// added odd word then even word as vdpbf16ps does. Within each 128-column block, chunks
// alternate between two accumulators (two independent chains); at the block's end the two are
// added and multiplied into the row's total by the block's scale (one FMA per lane; bf16
// weights are one block with no scale). The 16 lanes are then summed as a tree: halves of 8,
// 4, 2, 1. Columns past n count as zeros.
//
// Which columns a lane holds: for bf16 rows, chunk j's lane l holds columns 32j + 2l and
// 32j + 2l + 1 (the stored order). For e4m3 rows the table lookups interleave bytes within
// 16-byte lanes, so in each group of 64 columns the first chunk holds columns 16q + {0..7} and
// the second 16q + {8..15} (q = 0..3), in that order; pack_e4m3_x lays the activations out
// the same way. For I4 rows (kernels/weight.h) the first chunk of a group holds its even
// columns and the second its odd ones (the low and the high nibbles), as pack_i4_x lays them;
// each value q is exact in bf16, the scale applies per 128-column block as for e4m3.
//
// The half-precision table (avx512fp16_gemv_bf16) is the AVX-512 table plus HalfE4m3Rows
// (half_e4m3), which linear() takes for e4m3 rows where the table has it: on CPUs with
// AVX512-FP16 (two 32-lane FMAs a cycle, 64 multiply-adds, where one vdpbf16ps of 32 takes
// about two cycles on the CPUs measured) each token's activations are multiplied by the block
// scales of a 128-row group's columns, scaled by a power of two that brings the largest product
// to [64, 128) and rounded to fp16 (11 significant bits against bf16's 8); the codes become fp16
// exactly (e4m3 · 2^-8, subnormals included), and each lane adds the products of a 512-column
// span in fp16 (at most 16 · 1.75 · 128 = 3584, far from fp16's 65504) before they go into a
// float32 total. Not bitwise the reference's sums: within the rounding of the scaled
// activations to fp16 and of sixteen fp16 additions per span and lane (tests/kernels). Its
// packing is the plain column order in fp16, zeros up to a multiple of 64, then the token's
// scaling exponent s (an int32; the rows undo 2^(8 - s)). Rows whose codes the caller knows
// hold no NaN skip the check that makes a NaN code's row NaN (Weight::codes_nan_free).
// DSV32_ISA=avx512 leaves it aside.
#include <cstddef>
#include <cstdint>

namespace dsv32 {

// Values the bf16 tables' pack_e4m3_x writes for n columns: n rounded up to a multiple of 64
// (HalfE4m3Rows has its own count: x_values).
std::size_t gemv_e4m3_x_values(std::size_t n);

struct HalfE4m3Rows;

struct GemvBf16Kernels {
  const char* name;
  // The activations x[0, n) for e4m3_row: rounded to bf16 (nearest even), in its column order,
  // zeros past n.
  void (*pack_e4m3_x)(const float* x, std::size_t n, std::uint16_t* out);
  // out[t * out_stride] = Σ_b block_scales[b] · Σ_{c in block b} e4m3(row[c]) · x_t[c] for each
  // token t, x_t = x + t * x_stride packed by pack_e4m3_x, blocks of 128 columns.
  void (*e4m3_row)(const std::uint8_t* row, const float* block_scales, const std::uint16_t* x, std::size_t x_stride,
                   std::size_t tokens, std::size_t n, float* out, std::size_t out_stride);
  // e4m3_row for rows `row` and `row + row_stride` (block scales scales0, scales1) at once, the
  // results at out[t * out_stride] and out[t * out_stride + 1], bitwise as two e4m3_row calls:
  // the two rows share each activation load.
  void (*e4m3_row_pair)(const std::uint8_t* row, std::size_t row_stride, const float* scales0, const float* scales1,
                        const std::uint16_t* x, std::size_t x_stride, std::size_t tokens, std::size_t n, float* out,
                        std::size_t out_stride);
  // out[t * out_stride] = Σ_c row[c] · x_t[c], row and x (in column order) as bf16 bits.
  void (*bf16_row)(const std::uint16_t* row, const std::uint16_t* x, std::size_t x_stride, std::size_t tokens,
                   std::size_t n, float* out, std::size_t out_stride);
  // The same three for I4 rows (n even; row: the packed bytes, block_scales: the row's scales),
  // with the activations packed by pack_i4_x (gemv_e4m3_x_values(n) values).
  void (*pack_i4_x)(const float* x, std::size_t n, std::uint16_t* out);
  void (*i4_row)(const std::uint8_t* row, const float* block_scales, const std::uint16_t* x, std::size_t x_stride,
                 std::size_t tokens, std::size_t n, float* out, std::size_t out_stride);
  void (*i4_row_pair)(const std::uint8_t* row, std::size_t row_stride, const float* scales0, const float* scales1,
                      const std::uint16_t* x, std::size_t x_stride, std::size_t tokens, std::size_t n, float* out,
                      std::size_t out_stride);
  // The half-precision e4m3 rows (above), or nullptr.
  const HalfE4m3Rows* half_e4m3 = nullptr;
};

struct HalfE4m3Rows {
  // Values pack_x writes for n columns (the x_stride the rows need at least).
  std::size_t (*x_values)(std::size_t n);
  // One token's activations x[0, n) against rows of one 128-row group: each times its column's
  // scale block_scales[c / 128], then scaled and rounded to fp16 as above.
  void (*pack_x)(const float* x, std::size_t n, const float* block_scales, std::uint16_t* out);
  // out[t * out_stride] = Σ_c e4m3(row[c]) · block_scale(c) · x_t[c] for each token t, x_t =
  // x + t * x_stride packed by pack_x with the row's group's scales. codes_nan_free: the caller
  // knows the row holds no NaN code (the check is skipped; a NaN code would count as 480).
  void (*row)(const std::uint8_t* row, const std::uint16_t* x, std::size_t x_stride, std::size_t tokens, std::size_t n,
              bool codes_nan_free, float* out, std::size_t out_stride);
  // row for rows `row` and `row + row_stride` (the same group) at once, the results at
  // out[t * out_stride] and out[t * out_stride + 1], bitwise as two row calls.
  void (*row_pair)(const std::uint8_t* row, std::size_t row_stride, const std::uint16_t* x, std::size_t x_stride, std::size_t tokens,
                   std::size_t n, bool codes_nan_free, float* out, std::size_t out_stride);
};

const GemvBf16Kernels& scalar_gemv_bf16();
const GemvBf16Kernels* avx512_gemv_bf16();  // nullptr without AVX512-BF16 and AVX512-VBMI
// The AVX-512 table with the half-precision e4m3 rows (above); nullptr without AVX512-FP16
// or without the AVX-512 table.
const GemvBf16Kernels* avx512fp16_gemv_bf16();
// The fastest this CPU runs (DSV32_ISA=scalar|avx2 forces the reference, as best_gemm_bf16()).
const GemvBf16Kernels& best_gemv_bf16();

}  // namespace dsv32

#pragma once
// The innermost loops of the model, one table per instruction set. The scalar table is the
// reference; every SIMD table is tested against it (tests/kernels). Chosen once at start-up.
//
// Summation order, the same on every table, so each gives the scalar table's bits and the float32
// forward pass is the same on every CPU (a rounding near a tie, such as the FP8 round trip of the
// latent, goes the same way on AVX2 as on AVX-512). A row's dot product (dot4 and the fused
// kernels) runs 16 float32 lanes: lane l adds the products of columns c ≡ l (mod 16) in order,
// each with a fused multiply-add (a weight in a stored format first becomes value · block scale,
// one rounding), columns past n as zeros; the lanes are then added as a tree: lane l + lane l + 8
// (l < 8), then l + 4, l + 2, l + 1 (as _mm512_reduce_add_ps). dot runs two sets of lanes over
// alternate chunks of 16 columns (first, second, first, ...; a last partial chunk to the second),
// adds the sets lane by lane, then the tree. dot_f64 puts the first 8 columns of each 16 in one
// set of double lanes and the last 8 in another, adds the sets, then 4 + 4, 2 + 2, 1 + 1, then
// the columns after the last whole 16 in order. axpy and axpy4: one fused multiply-add per
// element and term, in term order. (Bitwise for finite weights: NaN codes 0x7F/0xFF read as NaN
// in the scalar table and as ±480 · scale in the SIMD ones, and block scales past 2^120 overflow
// the SIMD tables' scale · 2^8; NaN results may carry different payloads.)
#include <cstddef>
#include <cstdint>
#include <vector>

namespace dsv32 {

struct VectorOps {
  const char* name;
  float (*dot)(const float* a, const float* b, std::size_t n);
  // The same dot product accumulated in double (products of floats are exact there): for the
  // projections whose outputs are rounded to FP8, where float summation order could flip a
  // rounding that the reference makes the other way.
  double (*dot_f64)(const float* a, const float* b, std::size_t n);
  // out[i] = the dot product of row i (rows + i * row_stride) and x, i in 0..3, in the order of
  // one set of lanes (not dot's two): x is loaded once for four rows.
  void (*dot4)(const float* rows, std::size_t row_stride, const float* x, std::size_t n, float* out);
  // Four rows against four activation rows (prefill): out[t * out_stride + i] equals dot4's
  // out[i] for activation row t bitwise (same per-output summation order), but the sixteen
  // independent accumulators keep the FMA units busy where dot4's four chains wait on latency.
  void (*dot4x4)(const float* rows, std::size_t row_stride, const float* x, std::size_t x_stride, std::size_t n,
                 float* out, std::size_t out_stride);
  // Fused decode kernels: four weight rows in their stored format against one activation row,
  // converted in registers so the weights are read once and never written back.
  // e4m3: out[i] = Σ_c (e4m3(rows[i][c]) · block_scales[c / 128]) · x[c], summed in the same order
  // as dot4 over the dequantised rows, so both paths give the same bits.
  void (*dot4_e4m3)(const std::uint8_t* rows, std::size_t row_stride, const float* block_scales, const float* x,
                    std::size_t n, float* out);
  void (*dot4_bf16)(const std::uint16_t* rows, std::size_t row_stride, const float* x, std::size_t n, float* out);
  // dot4_e4m3 for several activation rows (x_stride apart) at once, out[t * out_stride + i]
  // bitwise equal to dot4_e4m3 on row t: each weight is converted once for all of them (a few
  // decoding sequences sharing an expert).
  void (*dot4_e4m3_tokens)(const std::uint8_t* rows, std::size_t row_stride, const float* block_scales, const float* x,
                           std::size_t x_stride, std::size_t tokens, std::size_t n, float* out, std::size_t out_stride);
  void (*axpy)(float a, const float* x, float* y, std::size_t n);  // y += a * x
  // y += a[j] * x[j * x_stride] for j = 0..3 in that order: four axpy calls, bitwise, with y
  // loaded and stored once (attention's weighted sum of values).
  void (*axpy4)(const float* a, const float* x, std::size_t x_stride, float* y, std::size_t n);
  // axpy4 over four FP8 rows of one 128-row scale block, dequantised in registers:
  // y[c] += a[j] * (e4m3(rows[j * row_stride + c]) * block_scales[c / 128]) for j = 0..3, the
  // bits of e4m3_to_f32 rows then axpy4 without writing the rows out (a decoded token's W_UK
  // absorption: 8 MB a token at the bench preset, read as it streams).
  void (*axpy4_e4m3)(const float* a, const std::uint8_t* rows, std::size_t row_stride, const float* block_scales, float* y,
                     std::size_t n);
  void (*bf16_to_f32)(const std::uint16_t* src, float* dst, std::size_t n);
  void (*f16_to_f32)(const std::uint16_t* src, float* dst, std::size_t n);
  void (*e4m3_to_f32)(const std::uint8_t* src, float scale, float* dst, std::size_t n);  // dst = value * scale
  // A row of n I4 values (kernels/weight.h; n even): dst[c] = q[c] * scales[c / kI4GroupSize], exact.
  void (*i4_to_f32)(const std::uint8_t* packed, const float* scales, float* dst, std::size_t n);
  // gate[i] = silu(gate[i]) * up[i] with e^x from a polynomial, the same bits on every table
  // (kernels/silu_fast.h): the bf16 mode's SwiGLU.
  void (*silu_mul_fast)(float* gate, const float* up, std::size_t n);
};

const VectorOps& scalar_vector_ops();
const VectorOps* avx2_vector_ops();    // nullptr when the CPU lacks AVX2+FMA
const VectorOps* avx512_vector_ops();  // nullptr when the CPU lacks AVX-512 F/BW/VL

// The fastest table this CPU runs; DSV32_ISA=scalar|avx2|avx512 overrides (for benchmarks;
// amx is avx512 here).
const VectorOps& best_vector_ops();
// False when DSV32_ISA asks for a table below avx512 (the bf16 kernels then keep their
// references, or none).
bool avx512_kernels_allowed();
// False when DSV32_ISA names any table but amx (the bf16 tile then keeps AVX-512, and the
// decode GEMV of FP8 rows keeps vdpbf16ps, bitwise the scalar reference, rather than fp16).
bool amx_kernels_allowed();
// Every table this CPU can run, scalar first (for tests and benchmarks).
std::vector<const VectorOps*> available_vector_ops();

}  // namespace dsv32

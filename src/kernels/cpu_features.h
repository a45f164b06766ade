#pragma once
// Run-time CPU checks shared by the AVX512-BF16 kernel tables (a file compiled with those
// instructions is entered only after its check passes) and the choice of batched products.
namespace dsv32 {

inline bool cpu_has_avx512_bf16() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512bf16");
}

// The same with AVX512-VBMI, which the e4m3 byte tables (vpermi2b) need.
inline bool cpu_has_avx512_bf16_vbmi() { return cpu_has_avx512_bf16() && __builtin_cpu_supports("avx512vbmi"); }

// AMX with bf16 tiles (Sapphire Rapids on): oneDNN's kernels use them (kernels/onednn_gemm.h).
inline bool cpu_has_amx_bf16() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("amx-tile") && __builtin_cpu_supports("amx-bf16");
}

}  // namespace dsv32

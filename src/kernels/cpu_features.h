#pragma once
// Run-time CPU checks shared by the AVX512-BF16 and AMX kernel tables (a file compiled with
// those instructions is entered only after its check passes) and the choice of batched products.
#include <sys/syscall.h>
#include <unistd.h>

namespace dsv32 {

inline bool cpu_has_avx512_bf16() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512bf16");
}

// The same with AVX512-VBMI, which the e4m3 byte tables (vpermi2b) need.
inline bool cpu_has_avx512_bf16_vbmi() { return cpu_has_avx512_bf16() && __builtin_cpu_supports("avx512vbmi"); }

// AVX512-FP16 (Sapphire Rapids on): the e4m3 rows' products in half precision (gemv_bf16.h).
inline bool cpu_has_avx512_fp16() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
         __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512fp16");
}

// AMX with bf16 tiles (Sapphire Rapids on): oneDNN's kernels use them (kernels/onednn_gemm.h).
inline bool cpu_has_amx_bf16() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("amx-tile") && __builtin_cpu_supports("amx-bf16");
}

// AMX with int8 tiles: the indexer's scores (kernels/index_scores_int8.h).
inline bool cpu_has_amx_int8() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("amx-tile") && __builtin_cpu_supports("amx-int8");
}

// Linux hands out AMX's tile registers only to processes that ask (arch_prctl), since saving
// them on a context switch takes 8 KB more per thread. Asking again is harmless.
inline bool amx_tiles_granted() {
  constexpr int kArchRequestPermission = 0x1023;  // ARCH_REQ_XCOMP_PERM
  constexpr int kTileDataFeature = 18;            // XFEATURE_XTILEDATA
  return syscall(SYS_arch_prctl, static_cast<unsigned long>(kArchRequestPermission), static_cast<unsigned long>(kTileDataFeature)) == 0;
}

}  // namespace dsv32

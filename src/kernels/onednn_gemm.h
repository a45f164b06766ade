#pragma once
// The bf16 mode's large batched products through oneDNN's matmul (Debian's libdnnl): its
// blocked kernels keep their operands in L1 and reach about 90% of the AVX512-BF16 peak on one
// core for prefill shapes, where the tile of kernels/gemm_bf16.h streams its activations from
// L2 at about half; on CPUs with AMX, oneDNN picks AMX tiles by itself.
//
// Each call runs on the calling thread alone (the model's pool splits the weight rows), so
// oneDNN's OpenMP threads never compete with the pool's: one OnednnGemm per pool thread, each
// caching its primitives per shape (the token count is a run-time dimension).
#include <cstdint>
#include <memory>

namespace dsv32 {

class OnednnGemm {
 public:
  OnednnGemm();
  ~OnednnGemm();
  OnednnGemm(const OnednnGemm&) = delete;
  OnednnGemm& operator=(const OnednnGemm&) = delete;

  // out[t * rows + r] = Σ_c x[t][c] · w[r][c] in float32, for `tokens` rows of x and `rows` rows
  // of w, both row-major bf16 with `cols` values per row.
  void multiply(const std::uint16_t* x, std::int64_t tokens, const std::uint16_t* w, std::int64_t rows, std::int64_t cols,
                float* out);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace dsv32

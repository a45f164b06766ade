#pragma once
// `dsv32 quantize`: a checkpoint rewritten with its linear projections in I4 (kernels/weight.h:
// 4-bit integers, a float32 scale per row and 128 columns, 4.25 bits a weight against FP8's
// 8.03), for machines with less memory; decode reads about half the bytes of FP8 for them.
// Quantised: every FP8 tensor of the source, and in a BF16/F16/F32 source the tensors the FP8
// release stores in FP8 (the attention, indexer and MLP/expert projections). The router,
// the indexer's weights_proj, the embedding, lm_head (unless asked) and the norms are copied
// unchanged.
#include <cstddef>
#include <filesystem>

#include "util/thread_pool.h"

namespace dsv32 {

struct QuantizeReport {
  std::size_t quantized_tensors = 0, copied_tensors = 0, dropped_mtp_tensors = 0;
  std::size_t bytes_in = 0, bytes_out = 0;
};

struct QuantizeOptions {
  // lm_head in I4 as well: read whole for every decoded token (0.27 GB in BF16 for the bench
  // preset, more than half its bytes), at some cost in accuracy.
  bool lm_head = false;
  std::size_t max_shard_bytes = std::size_t{4} << 30;
};

// Writes the quantised checkpoint (config.json, safetensors shards, and the source's other files
// such as the tokenizer) into `out`, which must not exist yet; it appears whole or not at all.
QuantizeReport quantize_checkpoint(const std::filesystem::path& model_dir, const std::filesystem::path& out, ThreadPool& pool,
                                   const QuantizeOptions& options = {});

}  // namespace dsv32

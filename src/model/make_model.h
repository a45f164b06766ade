#pragma once
// Deterministic random checkpoints in exactly the real model's HF layout (config.json, tensor
// names, BF16 or FP8 e4m3 with 128x128 weight_scale_inv blocks), for tests and benchmarks.
#include <cstdint>
#include <filesystem>
#include <string>

#include "model/config.h"
#include "util/thread_pool.h"

namespace dsv32 {

// "tiny": every mechanism, small and fast; "bench": the shape all speed figures use.
ModelConfig preset_config(const std::string& preset, bool fp8);

struct MakeModelOptions {
  std::string preset = "tiny";
  bool fp8 = false;
  std::uint64_t seed = 0;
  std::filesystem::path out;
  std::size_t max_shard_bytes = std::size_t{1} << 30;
};

void make_model(const MakeModelOptions& options, ThreadPool& pool);

}  // namespace dsv32

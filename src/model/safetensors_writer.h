#pragma once
// Writing safetensors files: tensors are declared first (name, dtype, shape, a function that
// fills the bytes), then written one at a time, so peak memory is the largest tensor.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "kernels/weight.h"

namespace dsv32 {

struct TensorToWrite {
  std::string name;
  DType dtype;
  std::vector<std::int64_t> shape;
  std::function<void(std::span<std::uint8_t>)> fill;

  std::size_t bytes() const;
};

void write_safetensors(const std::filesystem::path& path, const std::vector<TensorToWrite>& tensors);

// Writes shards of at most max_shard_bytes each plus model.safetensors.index.json (or one
// model.safetensors when everything fits in one shard).
void write_sharded_safetensors(const std::filesystem::path& dir, const std::vector<TensorToWrite>& tensors,
                               std::size_t max_shard_bytes);

}  // namespace dsv32

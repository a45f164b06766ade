#pragma once
// A model directory as published on HF: config.json plus one model.safetensors or shards
// listed in model.safetensors.index.json. All files are memory-mapped; tensors are looked up
// by their HF names and checked for shape and dtype as they are bound to the model.
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "kernels/weight.h"
#include "model/config.h"
#include "model/safetensors.h"
#include "util/numa.h"

namespace dsv32 {

class Checkpoint {
 public:
  explicit Checkpoint(const std::filesystem::path& model_dir);

  const ModelConfig& config() const { return config_; }
  const std::filesystem::path& dir() const { return dir_; }

  // A [rows, cols] matrix in BF16/F16/F32, F8_E4M3 with its `weight_scale_inv` blocks, or I4
  // (U8 [rows, cols / 2]) with its `weight_scale` groups.
  Weight matrix(const std::string& name, std::int64_t rows, std::int64_t cols) const;
  // A [n] vector in BF16/F16/F32 (norm weights, biases), seen as a 1-row matrix.
  Weight vector(const std::string& name, std::int64_t n) const;
  const TensorInfo& tensor(const std::string& name) const;
  // Every tensor the model uses, by name (the MTP tensors are listed apart, below).
  const std::map<std::string, const TensorInfo*>& tensors() const { return tensors_; }

  // Tensors of the multi-token-prediction layer(s), recognised and left unused.
  const std::vector<std::string>& mtp_tensor_names() const { return mtp_tensors_; }
  std::size_t total_bytes() const;
  // Reads every page once; shows progress on a terminal for large models. With `interleave`
  // (several NUMA nodes, no memory policy of the user's), each file's 2 MiB stripes are read in
  // on the nodes in turn and any page elsewhere is moved to its stripe's node (util/numa.h);
  // returns where the pages ended up (nothing counted when nothing is placed).
  PagePlacement prefault(bool show_progress, const NumaTopology* interleave = nullptr) const;

 private:
  void add_file(const std::filesystem::path& path);
  Weight int4_matrix(const std::string& name, const TensorInfo& info, std::int64_t rows, std::int64_t cols) const;
  const float* scale_tensor(const TensorInfo& info, const char* format, const std::string& scale_name, const std::vector<std::int64_t>& shape,
                            std::int64_t rows, std::int64_t cols) const;

  std::filesystem::path dir_;
  ModelConfig config_;
  std::vector<std::unique_ptr<SafetensorsFile>> files_;
  std::map<std::string, const TensorInfo*> tensors_;
  std::vector<std::string> mtp_tensors_;
};

}  // namespace dsv32

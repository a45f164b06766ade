#include "model/checkpoint.h"

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <set>

#include <nlohmann/json.hpp>

#include "util/error.h"

namespace dsv32 {
namespace {

// "model.layers.{i}." with i >= num_hidden_layers names an MTP layer (model.layers.61 in V3.2).
bool is_mtp_tensor(const std::string& name, std::int64_t num_layers) {
  static constexpr std::string_view kPrefix = "model.layers.";
  if (name.rfind(kPrefix, 0) != 0) return false;
  std::int64_t layer = 0;
  std::size_t i = kPrefix.size();
  if (i >= name.size() || !std::isdigit(static_cast<unsigned char>(name[i]))) return false;
  for (; i < name.size() && std::isdigit(static_cast<unsigned char>(name[i])); ++i) layer = layer * 10 + (name[i] - '0');
  return layer >= num_layers;
}

std::vector<std::filesystem::path> shard_files(const std::filesystem::path& dir) {
  const auto index_path = dir / "model.safetensors.index.json";
  if (std::filesystem::exists(index_path)) {
    std::ifstream in(index_path);
    nlohmann::json index;
    try {
      index = nlohmann::json::parse(in);
    } catch (const nlohmann::json::exception& e) {
      fail("{}: malformed JSON: {}", index_path.string(), e.what());
    }
    if (!index.contains("weight_map") || !index["weight_map"].is_object()) {
      fail("{}: missing \"weight_map\" object", index_path.string());
    }
    std::set<std::string> names;
    for (const auto& [tensor, file] : index["weight_map"].items()) {
      if (!file.is_string()) fail("{}: weight_map entry for {} is not a file name", index_path.string(), tensor);
      const auto file_name = file.get<std::string>();
      if (file_name.find('/') != std::string::npos) fail("{}: shard name {} must be a plain file name", index_path.string(), file_name);
      names.insert(file_name);
    }
    std::vector<std::filesystem::path> files;
    for (const auto& name : names) files.push_back(dir / name);
    return files;
  }
  const auto single = dir / "model.safetensors";
  if (!std::filesystem::exists(single)) {
    fail("{}: no model.safetensors or model.safetensors.index.json", dir.string());
  }
  return {single};
}

}  // namespace

Checkpoint::Checkpoint(const std::filesystem::path& model_dir) : dir_(model_dir), config_(ModelConfig::load(model_dir)) {
  for (const auto& path : shard_files(model_dir)) add_file(path);
}

void Checkpoint::add_file(const std::filesystem::path& path) {
  files_.push_back(std::make_unique<SafetensorsFile>(path));
  for (const auto& [name, info] : files_.back()->tensors()) {
    if (is_mtp_tensor(name, config_.num_hidden_layers)) {
      mtp_tensors_.push_back(name);
      continue;
    }
    if (!tensors_.emplace(name, &info).second) fail("{}: tensor {} appears in more than one shard", path.string(), name);
  }
}

const TensorInfo& Checkpoint::tensor(const std::string& name) const {
  const auto found = tensors_.find(name);
  if (found == tensors_.end()) fail("{}: missing tensor {}", dir_.string(), name);
  return *found->second;
}

Weight Checkpoint::matrix(const std::string& name, std::int64_t rows, std::int64_t cols) const {
  const TensorInfo& info = tensor(name);
  const std::string file = info.file->string();
  if (info.dtype == DType::U8) return int4_matrix(name, info, rows, cols);
  if (info.shape != std::vector<std::int64_t>{rows, cols}) {
    fail("{}: tensor {}: shape {} but the config needs [{}, {}]", file, name, info.shape_string(), rows, cols);
  }
  Weight weight{.dtype = info.dtype, .data = info.data, .rows = rows, .cols = cols};
  switch (info.dtype) {
    case DType::F32: case DType::F16: case DType::BF16: return weight;
    case DType::F8_E4M3: break;
    default: fail("{}: tensor {}: dtype {} cannot hold weights", file, name, dtype_name(info.dtype));
  }
  const std::string scale_name = name.substr(0, name.size() - std::string_view("weight").size()) + "weight_scale_inv";
  weight.scale_cols = (cols + kFp8BlockSize - 1) / kFp8BlockSize;
  weight.block_scales = scale_tensor(info, "F8_E4M3", scale_name, {(rows + kFp8BlockSize - 1) / kFp8BlockSize, weight.scale_cols}, rows, cols);
  return weight;
}

// The F32 scales `scale_name` of the [rows, cols] weight `info` (stored as `format`), checked
// for presence, dtype and shape.
const float* Checkpoint::scale_tensor(const TensorInfo& info, const char* format, const std::string& scale_name,
                                      const std::vector<std::int64_t>& shape, std::int64_t rows, std::int64_t cols) const {
  const auto found = tensors_.find(scale_name);
  if (found == tensors_.end()) fail("{}: tensor {} is {} but {} is missing", info.file->string(), info.name, format, scale_name);
  const TensorInfo& scales = *found->second;
  if (scales.dtype != DType::F32) fail("{}: tensor {}: dtype {}, expected F32", scales.file->string(), scale_name, dtype_name(scales.dtype));
  if (scales.shape != shape) {
    fail("{}: tensor {}: shape {} but [{}, {}] weights need [{}, {}]", scales.file->string(), scale_name, scales.shape_string(), rows, cols,
         shape[0], shape[1]);
  }
  return reinterpret_cast<const float*>(scales.data);
}

// `dsv32 quantize`'s I4 weights (kernels/weight.h): U8 [rows, cols / 2] and F32 `weight_scale`
// [rows, ceil(cols / 128)].
Weight Checkpoint::int4_matrix(const std::string& name, const TensorInfo& info, std::int64_t rows, std::int64_t cols) const {
  const std::string file = info.file->string();
  if (cols % 2 != 0) fail("{}: tensor {}: U8 (I4) weights need an even column count, the config gives {}", file, name, cols);
  if (info.shape != std::vector<std::int64_t>{rows, cols / 2}) {
    fail("{}: tensor {}: U8 (I4, two values a byte) shape {} but the config needs [{}, {}]", file, name, info.shape_string(), rows, cols / 2);
  }
  const std::int64_t scale_cols = (cols + kI4GroupSize - 1) / kI4GroupSize;
  return Weight{.dtype = DType::I4, .data = info.data, .rows = rows, .cols = cols,
                .block_scales = scale_tensor(info, "U8 (I4)", name + "_scale", {rows, scale_cols}, rows, cols), .scale_cols = scale_cols};
}

Weight Checkpoint::vector(const std::string& name, std::int64_t n) const {
  const TensorInfo& info = tensor(name);
  if (info.shape != std::vector<std::int64_t>{n}) {
    fail("{}: tensor {}: shape {} but the config needs [{}]", info.file->string(), name, info.shape_string(), n);
  }
  if (info.dtype != DType::F32 && info.dtype != DType::BF16 && info.dtype != DType::F16) {
    fail("{}: tensor {}: dtype {}, expected BF16, F16 or F32", info.file->string(), name, dtype_name(info.dtype));
  }
  return Weight{.dtype = info.dtype, .data = info.data, .rows = 1, .cols = n};
}

std::size_t Checkpoint::total_bytes() const {
  std::size_t total = 0;
  for (const auto& file : files_) total += file->mapped().size();
  return total;
}

PagePlacement Checkpoint::prefault(bool show_progress, const NumaTopology* interleave) const {
  const bool tty = show_progress && ::isatty(STDERR_FILENO) == 1;
  const std::size_t total = total_bytes();
  const bool place = interleave != nullptr && interleave->multi_node() && !interleave->user_memory_policy();
  const std::vector<int> nodes = place ? interleave->node_ids() : std::vector<int>{};
  PagePlacement placement;
  std::size_t before = 0;
  for (const auto& file : files_) {
    const MappedFile& mapped = file->mapped();
    const auto progress = [&](std::size_t done) {
      if (tty) std::fprintf(stderr, "\rloading %s: %5.1f%% of %.2f GB", dir_.filename().c_str(),
                            100.0 * static_cast<double>(before + done) / static_cast<double>(total), static_cast<double>(total) / 1e9);
    };
    if (nodes.empty()) {
      mapped.prefault([&](std::size_t done, std::size_t) { progress(done); });
    } else {
      // Each stripe read in on its node, then every page moved to its stripe's node where it is
      // not there: those the page cache held already, and those readahead brought in across a
      // stripe's end under the previous stripe's node (move_pages leaves the others alone).
      for (std::size_t begin = 0; begin < mapped.size(); begin += kInterleaveStripeBytes) {
        const ScopedPreferredNode on(interleave_node(begin, nodes));
        mapped.touch(begin, begin + kInterleaveStripeBytes);
        if ((begin / kInterleaveStripeBytes) % 32 == 31) progress(begin + kInterleaveStripeBytes);
      }
      progress(mapped.size());
      placement += interleave_pages(mapped.bytes().data(), mapped.size(), nodes);
    }
    before += mapped.size();
  }
  if (tty) std::fprintf(stderr, "\n");
  return placement;
}

}  // namespace dsv32

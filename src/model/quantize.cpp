#include "model/quantize.h"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <fstream>
#include <string_view>

#include <nlohmann/json.hpp>

#include "kernels/i4_quant.h"
#include "model/checkpoint.h"
#include "model/safetensors_writer.h"
#include "model/weights.h"
#include "util/error.h"

namespace dsv32 {
namespace {

constexpr std::array<std::string_view, 10> kProjectionSuffixes = {
    "q_a_proj.weight",  "q_b_proj.weight",  "kv_a_proj_with_mqa.weight", "kv_b_proj.weight",    "o_proj.weight",
    "gate_proj.weight", "up_proj.weight",   "down_proj.weight",          "indexer.wq_b.weight", "indexer.wk.weight"};

bool is_projection(const std::string& name) {
  for (const std::string_view suffix : kProjectionSuffixes) {
    if (name.size() >= suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0) return true;
  }
  return false;
}

bool quantizable(const std::string& name, const TensorInfo& info, const QuantizeOptions& options) {
  if (info.shape.size() != 2 || info.shape[1] % 2 != 0) return false;
  if (info.dtype == DType::F8_E4M3) return true;
  const bool floats = info.dtype == DType::BF16 || info.dtype == DType::F16 || info.dtype == DType::F32;
  return floats && (is_projection(name) || (options.lm_head && name == "lm_head.weight"));
}

std::string stem_of(const std::string& weight_name) { return weight_name.substr(0, weight_name.size() - std::string_view("weight").size()); }

// Both output tensors of one quantised weight (codes, then scales) fill from the same rows; each
// fill quantises the whole tensor again (peak memory stays one tensor, as the writer intends).
void quantize_rows(const Weight& weight, const std::string& name, ThreadPool& pool, std::uint8_t* packed, float* scales) {
  const auto cols = static_cast<std::size_t>(weight.cols), scale_cols = static_cast<std::size_t>((weight.cols + kI4GroupSize - 1) / kI4GroupSize);
  std::vector<std::vector<float>> rows(pool.size(), std::vector<float>(cols));
  pool.parallel_for(static_cast<std::size_t>(weight.rows), [&](std::size_t begin, std::size_t end, unsigned thread) {
    std::vector<float>& row = rows[thread];
    std::vector<std::uint8_t> codes(cols / 2);
    std::vector<float> row_scales(scale_cols);
    for (std::size_t r = begin; r < end; ++r) {
      weight.row_to_f32(static_cast<std::int64_t>(r), row.data(), best_vector_ops());
      if (!quantize_i4_row(row.data(), cols, packed != nullptr ? packed + r * cols / 2 : codes.data(),
                           scales != nullptr ? scales + r * scale_cols : row_scales.data())) {
        fail("{}: row {} holds a value that is not finite; cannot quantise it", name, r);  // (parallel_for rethrows it)
      }
    }
  });
}

// The output directory as given, without a trailing separator ("out/" names "out").
std::filesystem::path directory_name(const std::filesystem::path& out) {
  std::filesystem::path normal = out.lexically_normal();
  if (normal.filename().empty()) normal = normal.parent_path();
  if (normal.empty() || normal == "." || normal == "..") fail("--out {}: name a new directory", out.string());
  return normal;
}

// Writes the checkpoint into `staging`: shards, config.json with the I4 quantization_config, and
// the source's side files; then reads it back the way every user does.
void write_quantized(const std::filesystem::path& model_dir, const std::filesystem::path& staging, const std::vector<TensorToWrite>& tensors,
                     std::size_t max_shard_bytes) {
  std::filesystem::create_directories(staging);
  write_sharded_safetensors(staging, tensors, max_shard_bytes);
  std::ifstream config_in(model_dir / "config.json");
  nlohmann::json config = nlohmann::json::parse(config_in);
  config["quantization_config"] = {{"quant_method", kInt4QuantMethod}, {"bits", 4}, {"group_size", kI4GroupSize}};
  std::ofstream config_out(staging / "config.json");
  config_out << config.dump(2) << "\n";
  config_out.close();
  if (!config_out) fail("{}: cannot write", (staging / "config.json").string());
  for (const auto& entry : std::filesystem::directory_iterator(model_dir)) {  // tokenizer and other side files
    const std::string file = entry.path().filename().string();
    if (!entry.is_regular_file() || file == "config.json" || file.ends_with(".safetensors") || file == "model.safetensors.index.json") continue;
    std::filesystem::copy_file(entry.path(), staging / file);
  }
  const Checkpoint written(staging);  // config, shards, every weight's shape and dtype
  (void)ModelWeights::bind(written);
}

}  // namespace

QuantizeReport quantize_checkpoint(const std::filesystem::path& model_dir, const std::filesystem::path& out, ThreadPool& pool,
                                   const QuantizeOptions& options) {
  const std::filesystem::path target = directory_name(out);
  std::error_code status_error;
  const bool exists = std::filesystem::exists(target, status_error);
  if (status_error) fail("{}: cannot check it: {}", target.string(), status_error.message());
  if (exists) fail("{} exists already; quantize writes a new directory", target.string());
  const Checkpoint checkpoint(model_dir);
  if (checkpoint.config().weight_format == WeightFormat::Int4Groups) fail("{}: already quantised to I4", model_dir.string());
  QuantizeReport report;
  report.dropped_mtp_tensors = checkpoint.mtp_tensor_names().size();
  std::vector<TensorToWrite> tensors;
  for (const auto& [name, info] : checkpoint.tensors()) {
    report.bytes_in += info->bytes;
    const bool is_scale_of_fp8 = name.ends_with("weight_scale_inv");
    if (is_scale_of_fp8) continue;  // goes with its weight: quantised away, or re-bound below
    if (!quantizable(name, *info, options)) {
      tensors.push_back({name, info->dtype, info->shape, [info = info](std::span<std::uint8_t> bytes) {
                           std::copy_n(info->data, info->bytes, bytes.data());
                         }});
      ++report.copied_tensors;
      const std::string scale_name = stem_of(name) + "weight_scale_inv";
      if (info->dtype != DType::F8_E4M3 || !checkpoint.tensors().contains(scale_name)) continue;  // an FP8 tensor kept as it is
      const TensorInfo* scale = checkpoint.tensors().at(scale_name);
      tensors.push_back({scale_name, scale->dtype, scale->shape, [scale](std::span<std::uint8_t> bytes) {
                           std::copy_n(scale->data, scale->bytes, bytes.data());
                         }});
      continue;
    }
    const std::int64_t rows = info->shape[0], cols = info->shape[1];
    const Weight weight = checkpoint.matrix(name, rows, cols);
    ++report.quantized_tensors;
    tensors.push_back({name, DType::U8, {rows, cols / 2}, [weight, name = name, &pool](std::span<std::uint8_t> bytes) {
                         quantize_rows(weight, name, pool, bytes.data(), nullptr);
                       }});
    tensors.push_back({name + "_scale", DType::F32, {rows, (cols + kI4GroupSize - 1) / kI4GroupSize},
                       [weight, name = name, &pool](std::span<std::uint8_t> bytes) {
                         quantize_rows(weight, name, pool, nullptr, reinterpret_cast<float*>(bytes.data()));
                       }});
  }
  for (const TensorToWrite& tensor : tensors) report.bytes_out += tensor.bytes();
  // Wider elements first, as the safetensors library orders them: each tensor then starts on a
  // multiple of its element size (the U8 codes of an odd-sized row count would misalign a float
  // tensor placed after them).
  std::stable_sort(tensors.begin(), tensors.end(),
                   [](const TensorToWrite& a, const TensorToWrite& b) { return dtype_bytes(a.dtype) > dtype_bytes(b.dtype); });

  const std::filesystem::path staging = target.string() + ".partial-" + std::to_string(::getpid());
  try {
    write_quantized(model_dir, staging, tensors, options.max_shard_bytes);
    std::filesystem::rename(staging, target);
  } catch (const std::filesystem::filesystem_error& e) {
    std::error_code ignored;
    std::filesystem::remove_all(staging, ignored);
    fail("quantize: {}", e.what());
  } catch (...) {
    std::error_code ignored;
    std::filesystem::remove_all(staging, ignored);
    throw;
  }
  return report;
}

}  // namespace dsv32

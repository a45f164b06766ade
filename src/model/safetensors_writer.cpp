#include "model/safetensors_writer.h"

#include <fstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "util/error.h"

namespace dsv32 {

std::size_t TensorToWrite::bytes() const {
  std::size_t count = dtype_bytes(dtype);
  for (const auto dim : shape) count *= static_cast<std::size_t>(dim);
  return count;
}

void write_safetensors(const std::filesystem::path& path, const std::vector<TensorToWrite>& tensors) {
  nlohmann::ordered_json header;
  header["__metadata__"] = {{"format", "pt"}};
  std::size_t offset = 0;
  for (const auto& tensor : tensors) {
    header[tensor.name] = {{"dtype", dtype_name(tensor.dtype)}, {"shape", tensor.shape}, {"data_offsets", {offset, offset + tensor.bytes()}}};
    offset += tensor.bytes();
  }
  std::string text = header.dump();
  text.resize((text.size() + 7) / 8 * 8, ' ');  // data starts 8-byte aligned
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) fail("{}: cannot create", path.string());
  const std::uint64_t header_bytes = text.size();
  out.write(reinterpret_cast<const char*>(&header_bytes), 8);
  out.write(text.data(), static_cast<std::streamsize>(text.size()));
  std::vector<std::uint8_t> buffer;
  for (const auto& tensor : tensors) {
    buffer.assign(tensor.bytes(), 0);
    tensor.fill(buffer);
    out.write(reinterpret_cast<const char*>(buffer.data()), static_cast<std::streamsize>(buffer.size()));
  }
  if (!out) fail("{}: write failed", path.string());
}

void write_sharded_safetensors(const std::filesystem::path& dir, const std::vector<TensorToWrite>& tensors,
                               std::size_t max_shard_bytes) {
  std::vector<std::vector<TensorToWrite>> shards(1);
  std::size_t shard_bytes = 0, total = 0;
  for (const auto& tensor : tensors) {
    if (shard_bytes > 0 && shard_bytes + tensor.bytes() > max_shard_bytes) {
      shards.emplace_back();
      shard_bytes = 0;
    }
    shards.back().push_back(tensor);
    shard_bytes += tensor.bytes();
    total += tensor.bytes();
  }
  if (shards.size() == 1) {
    write_safetensors(dir / "model.safetensors", tensors);
    return;
  }
  nlohmann::ordered_json index;
  index["metadata"] = {{"total_size", total}};
  index["weight_map"] = nlohmann::ordered_json::object();
  for (std::size_t i = 0; i < shards.size(); ++i) {
    const std::string name = fmt::format("model-{:05d}-of-{:05d}.safetensors", i + 1, shards.size());
    write_safetensors(dir / name, shards[i]);
    for (const auto& tensor : shards[i]) index["weight_map"][tensor.name] = name;
  }
  std::ofstream(dir / "model.safetensors.index.json") << index.dump(2) << "\n";
}

}  // namespace dsv32

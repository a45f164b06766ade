#include "model/safetensors.h"

#include <cstring>

#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "util/error.h"

namespace dsv32 {
namespace {

constexpr std::uint64_t kMaxHeaderBytes = 100u << 20;  // the format's own limit

TensorInfo parse_entry(const std::string& file, const std::string& name, const nlohmann::json& entry,
                       const std::uint8_t* data_begin, std::uint64_t data_bytes) {
  auto bad = [&](const std::string& what) { fail("{}: tensor {}: {}", file, name, what); };
  if (!entry.is_object()) bad("header entry is not an object");
  TensorInfo info;
  info.name = name;
  if (!entry.contains("dtype") || !entry["dtype"].is_string()) bad("missing dtype");
  const std::string dtype = entry["dtype"].get<std::string>();
  if (!parse_dtype(dtype, info.dtype)) bad(fmt::format("unknown dtype \"{}\"", dtype));
  if (!entry.contains("shape") || !entry["shape"].is_array()) bad("missing shape");
  for (const auto& dim : entry["shape"]) {
    if (!dim.is_number_integer() || dim.get<std::int64_t>() < 0) bad(fmt::format("invalid shape {}", entry["shape"].dump()));
    info.shape.push_back(dim.get<std::int64_t>());
  }
  const auto& offsets = entry.contains("data_offsets") ? entry["data_offsets"] : nlohmann::json();
  if (!offsets.is_array() || offsets.size() != 2 || !offsets[0].is_number_unsigned() || !offsets[1].is_number_unsigned()) {
    bad("missing or invalid data_offsets");
  }
  const auto begin = offsets[0].get<std::uint64_t>();
  const auto end = offsets[1].get<std::uint64_t>();
  if (begin > end || end > data_bytes) {
    bad(fmt::format("data_offsets [{}, {}] point outside the file's {} data bytes (truncated or corrupt file)", begin,
                    end, data_bytes));
  }
  // Guard the element count against overflow before comparing sizes.
  std::uint64_t expected = dtype_bytes(info.dtype);
  for (const auto dim : info.shape) {
    if (dim != 0 && expected > (std::uint64_t{1} << 62) / static_cast<std::uint64_t>(dim)) bad("shape too large");
    expected *= static_cast<std::uint64_t>(dim);
  }
  if (end - begin != expected) {
    bad(fmt::format("data_offsets hold {} bytes but shape {} of {} needs {}", end - begin, info.shape_string(), dtype,
                    expected));
  }
  info.data = data_begin + begin;
  info.bytes = static_cast<std::size_t>(expected);
  return info;
}

}  // namespace

bool parse_dtype(const std::string& name, DType& dtype) {
  static constexpr std::pair<const char*, DType> kNames[] = {
      {"F32", DType::F32}, {"F16", DType::F16}, {"BF16", DType::BF16}, {"F8_E4M3", DType::F8_E4M3},
      {"I32", DType::I32}, {"I64", DType::I64}, {"U8", DType::U8}};
  for (const auto& [text, value] : kNames) {
    if (name == text) {
      dtype = value;
      return true;
    }
  }
  return false;
}

std::int64_t TensorInfo::elements() const {
  std::int64_t count = 1;
  for (const auto dim : shape) count *= dim;
  return count;
}

std::string TensorInfo::shape_string() const { return fmt::format("[{}]", fmt::join(shape, ", ")); }

SafetensorsFile::SafetensorsFile(const std::filesystem::path& path) : file_(path) {
  const std::string where = path.string();
  const auto bytes = file_.bytes();
  if (bytes.size() < 8) fail("{}: truncated: {} bytes, shorter than the 8-byte header length", where, bytes.size());
  std::uint64_t header_bytes = 0;
  std::memcpy(&header_bytes, bytes.data(), 8);  // little-endian, as is this machine
  if (header_bytes > kMaxHeaderBytes || header_bytes > bytes.size() - 8) {
    fail("{}: header length {} points outside the file ({} bytes)", where, header_bytes, bytes.size());
  }
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(bytes.begin() + 8, bytes.begin() + 8 + static_cast<std::ptrdiff_t>(header_bytes));
  } catch (const nlohmann::json::exception& e) {
    fail("{}: malformed header JSON: {}", where, e.what());
  }
  if (!header.is_object()) fail("{}: malformed header JSON: not an object", where);
  const std::uint8_t* data_begin = bytes.data() + 8 + header_bytes;
  const std::uint64_t data_bytes = bytes.size() - 8 - header_bytes;
  for (const auto& [name, entry] : header.items()) {
    if (name == "__metadata__") continue;
    TensorInfo info = parse_entry(where, name, entry, data_begin, data_bytes);
    info.file = &file_.path();
    tensors_.emplace(name, std::move(info));
  }
}

}  // namespace dsv32

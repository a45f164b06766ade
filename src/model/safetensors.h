#pragma once
// Reading the safetensors container: an 8-byte little-endian header length, a JSON header,
// then raw tensor bytes. Every offset is checked against the file before any tensor is used.
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "kernels/weight.h"
#include "util/mapped_file.h"

namespace dsv32 {

struct TensorInfo {
  std::string name;
  DType dtype = DType::F32;
  std::vector<std::int64_t> shape;
  const std::uint8_t* data = nullptr;
  std::size_t bytes = 0;
  const std::filesystem::path* file = nullptr;

  std::int64_t elements() const;
  std::string shape_string() const;
};

class SafetensorsFile {
 public:
  explicit SafetensorsFile(const std::filesystem::path& path);

  const std::filesystem::path& path() const { return file_.path(); }
  const std::map<std::string, TensorInfo>& tensors() const { return tensors_; }
  const MappedFile& mapped() const { return file_; }

 private:
  MappedFile file_;
  std::map<std::string, TensorInfo> tensors_;
};

// Parses a dtype name of the safetensors format; nullopt-like failure is reported by the caller.
bool parse_dtype(const std::string& name, DType& dtype);

}  // namespace dsv32

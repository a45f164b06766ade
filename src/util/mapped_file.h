#pragma once
// A read-only memory map of a whole file: weights are used in place, never copied.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>

namespace dsv32 {

class MappedFile {
 public:
  explicit MappedFile(const std::filesystem::path& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const std::filesystem::path& path() const { return path_; }
  std::span<const std::uint8_t> bytes() const { return {data_, size_}; }
  std::size_t size() const { return size_; }

  // Reads every page once so later use does not stall on disk; calls progress(done, total).
  template <typename Progress>
  void prefault(Progress&& progress) const {
    constexpr std::size_t chunk = 64u << 20;
    for (std::size_t begin = 0; begin < size_; begin += chunk) {
      const std::size_t end = std::min(size_, begin + chunk);
      touch(begin, end);
      progress(end, size_);
    }
  }
  // Reads one byte of every page of [begin, end).
  void touch(std::size_t begin, std::size_t end) const {
    volatile std::uint8_t sink = 0;
    for (std::size_t i = begin; i < std::min(end, size_); i += 4096) sink = sink + data_[i];
  }

 private:
  std::filesystem::path path_;
  const std::uint8_t* data_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace dsv32

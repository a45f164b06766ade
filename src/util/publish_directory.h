#pragma once
// Writes a directory aside and publishes it with one rename, so that processes racing to make
// the same directory never see half of it: the first rename wins, the others are discarded.
#include <unistd.h>

#include <filesystem>
#include <string>

namespace dsv32 {

// Calls write(staging) for a fresh staging path unless `dir` exists; returns `dir`.
template <typename WriteFn>
std::filesystem::path publish_directory(const std::filesystem::path& dir, WriteFn&& write) {
  if (std::filesystem::exists(dir)) return dir;
  const std::filesystem::path staging = dir.string() + ".tmp-" + std::to_string(::getpid());
  write(staging);
  std::error_code already_there;
  std::filesystem::rename(staging, dir, already_there);
  if (already_there) std::filesystem::remove_all(staging);
  return dir;
}

}  // namespace dsv32

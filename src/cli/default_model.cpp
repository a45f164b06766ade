#include "cli/default_model.h"

#include <cstdlib>

#include <spdlog/spdlog.h>

#include "model/make_model.h"
#include "tokenizer/tokenizer_files.h"
#include "util/publish_directory.h"

namespace dsv32 {

std::filesystem::path default_model_dir() {
  std::filesystem::path home;
  if (const char* dsv32_home = std::getenv("DSV32_HOME"); dsv32_home && *dsv32_home) {
    home = dsv32_home;
  } else if (const char* cache = std::getenv("XDG_CACHE_HOME"); cache && *cache) {
    home = std::filesystem::path(cache) / "dsv32";
  } else if (const char* user_home = std::getenv("HOME"); user_home && *user_home) {
    home = std::filesystem::path(user_home) / ".cache" / "dsv32";
  } else {
    home = std::filesystem::temp_directory_path() / "dsv32";
  }
  return home / "models" / "tiny";
}

std::filesystem::path ensure_default_model(ThreadPool& pool) {
  // Concurrent first uses (several servers, parallel tests) never see half a model.
  const auto dir = default_model_dir();
  return publish_directory(dir, [&](const std::filesystem::path& staging) {
    spdlog::info("making the tiny model in {} (first use)", dir.string());
    make_model(MakeModelOptions{.preset = "tiny", .fp8 = false, .seed = 0, .out = staging}, pool);
    install_tokenizer_into(staging);
  });
}

}  // namespace dsv32

#include "tokenizer/tokenizer_files.h"

#include <cstdlib>
#include <system_error>

#include "util/error.h"

#ifndef DSV32_DEFAULT_TOKENIZER
#error "DSV32_DEFAULT_TOKENIZER must be defined by the build"
#endif

namespace dsv32 {

namespace fs = std::filesystem;

fs::path default_tokenizer_path() { return fs::path(DSV32_DEFAULT_TOKENIZER); }

std::vector<fs::path> tokenizer_search_path() {
  std::vector<fs::path> paths;
  if (const char* env = std::getenv("DSV32_TOKENIZER"); env != nullptr && *env != '\0') paths.emplace_back(env);
  paths.push_back(default_tokenizer_path());
  paths.emplace_back("/usr/local/share/dsv32/tokenizer.json");
  return paths;
}

fs::path find_tokenizer(const std::optional<fs::path>& model_dir) {
  std::error_code ec;
  if (model_dir) {
    const fs::path own = *model_dir / "tokenizer.json";
    if (fs::is_regular_file(own, ec)) return own;
  }
  std::string tried;
  for (const fs::path& path : tokenizer_search_path()) {
    if (fs::is_regular_file(path, ec)) return path;
    tried += (tried.empty() ? "" : ", ") + path.string();
  }
  fail("no tokenizer.json found (tried {}{}); run scripts/setup.sh to install it, or pass --tokenizer FILE",
       model_dir ? (*model_dir / "tokenizer.json").string() + ", " : std::string(), tried);
}

void install_tokenizer_into(const fs::path& model_dir, const std::optional<fs::path>& source) {
  const fs::path from = source ? *source : find_tokenizer();
  const fs::path to = model_dir / "tokenizer.json";
  std::error_code ec;
  if (fs::exists(to, ec) && fs::equivalent(from, to, ec)) return;
  fs::create_directories(model_dir, ec);
  if (ec) fail("cannot create {}: {}", model_dir.string(), ec.message());
  fs::copy_file(from, to, fs::copy_options::overwrite_existing, ec);
  if (ec) fail("cannot copy tokenizer {} to {}: {}", from.string(), to.string(), ec.message());
}

}  // namespace dsv32

// Where the tokenizer is found, that setup installed the exact DeepSeek-V3.2 file, and that a
// model directory gets its own copy.
#include <cstdio>
#include <cstdlib>

#include "test_support.h"
#include "util/error.h"

namespace dsv32::test {
namespace {

namespace fs = std::filesystem;

std::string sha256_of(const fs::path& path) {
  const std::string command = "sha256sum '" + path.string() + "'";
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return "popen failed";
  char buffer[65] = {};
  const std::size_t n = std::fread(buffer, 1, 64, pipe);
  pclose(pipe);
  return std::string(buffer, n);
}

fs::path fresh_dir(const std::string& name) {
  const fs::path dir = fs::path(DSV32_TEST_TMP) / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

TEST(TokenizerFiles, InstalledFileIsTheExactDeepSeekV32One) {
  const fs::path path = default_tokenizer_path();
  ASSERT_TRUE(fs::is_regular_file(path)) << path << " is missing: run scripts/setup.sh";
  EXPECT_EQ(fs::file_size(path), 7847502u);
  EXPECT_EQ(sha256_of(path), kDeepSeekV32TokenizerSha256);
}

TEST(TokenizerFiles, ModelDirectoryWinsOverTheDefault) {
  const fs::path with = fresh_dir("model_with_tokenizer");
  const fs::path without = fresh_dir("model_without_tokenizer");
  std::ofstream(with / "tokenizer.json") << "{}";
  ::unsetenv("DSV32_TOKENIZER");
  EXPECT_EQ(find_tokenizer(with), with / "tokenizer.json");
  EXPECT_EQ(find_tokenizer(without), default_tokenizer_path());
  EXPECT_EQ(find_tokenizer(), default_tokenizer_path());
}

TEST(TokenizerFiles, EnvironmentOverridesTheDefaultButNotTheModel) {
  const fs::path dir = fresh_dir("env_tokenizer");
  std::ofstream(dir / "tokenizer.json") << "{}";
  ::setenv("DSV32_TOKENIZER", (dir / "tokenizer.json").c_str(), 1);
  EXPECT_EQ(find_tokenizer(), dir / "tokenizer.json");
  ::setenv("DSV32_TOKENIZER", (dir / "absent.json").c_str(), 1);
  EXPECT_EQ(find_tokenizer(), default_tokenizer_path());
  ::unsetenv("DSV32_TOKENIZER");
}

TEST(TokenizerFiles, InstallIntoModelDirectory) {
  const fs::path model = fs::path(DSV32_TEST_TMP) / "made_model";
  fs::remove_all(model);
  install_tokenizer_into(model);  // creates the directory
  EXPECT_EQ(sha256_of(model / "tokenizer.json"), kDeepSeekV32TokenizerSha256);
  install_tokenizer_into(model);  // again: replaces it
  install_tokenizer_into(model, model / "tokenizer.json");  // onto itself: a no-op
  EXPECT_EQ(sha256_of(model / "tokenizer.json"), kDeepSeekV32TokenizerSha256);
  EXPECT_EQ(find_tokenizer(model), model / "tokenizer.json");
  EXPECT_THROW(install_tokenizer_into(model, model / "absent.json"), Error);
}

}  // namespace
}  // namespace dsv32::test

#pragma once
// Shared helpers of the tokenizer tests: the installed DeepSeek-V3.2 tokenizer (loaded once per
// test binary) and the golden files in ../shared/tokenizer.
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tokenizer/tokenizer.h"
#include "tokenizer/tokenizer_files.h"

namespace dsv32::test {

inline std::filesystem::path golden_dir() { return std::filesystem::path(DSV32_SHARED_DIR) / "tokenizer"; }

// Every line of a .jsonl file, with its 1-based line number.
inline std::vector<std::pair<int, nlohmann::json>> read_jsonl(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open " + path.string());
  std::vector<std::pair<int, nlohmann::json>> lines;
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    if (!line.empty()) lines.emplace_back(number, nlohmann::json::parse(line));
  }
  return lines;
}

// The tokenizer scripts/setup.d/tokenizer.sh installs; the tests need the real file.
inline const Tokenizer& real_tokenizer() {
  static const Tokenizer tokenizer(find_tokenizer());
  return tokenizer;
}

inline std::vector<TokenId> ids_of(const nlohmann::json& array) { return array.get<std::vector<TokenId>>(); }

}  // namespace dsv32::test

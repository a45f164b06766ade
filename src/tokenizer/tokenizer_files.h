#pragma once
// Where tokenizer.json lives. scripts/setup.d/tokenizer.sh derives the real DeepSeek-V3.2 file
// (sha256 kDeepSeekV32TokenizerSha256) and installs it at default_tokenizer_path().
#include <filesystem>
#include <optional>
#include <string_view>
#include <vector>

namespace dsv32 {

inline constexpr std::string_view kDeepSeekV32TokenizerSha256 =
    "cd050be35cae877f8f0aa847f45aa87e23835a56ca32b29b28545597852784e5";

// Where setup installs the tokenizer: <project>/data/tokenizer/tokenizer.json.
std::filesystem::path default_tokenizer_path();

// The places searched when no model directory provides one, in order: $DSV32_TOKENIZER when
// set, default_tokenizer_path(), /usr/local/share/dsv32/tokenizer.json.
std::vector<std::filesystem::path> tokenizer_search_path();

// The tokenizer.json to use: <model_dir>/tokenizer.json when model_dir is given and has one,
// else the first existing file of tokenizer_search_path(). Throws dsv32::Error listing the
// places tried when there is none.
std::filesystem::path find_tokenizer(const std::optional<std::filesystem::path>& model_dir = std::nullopt);

// For `dsv32 make-model`: copies the tokenizer (`source`, default find_tokenizer()) to
// <model_dir>/tokenizer.json, replacing any there, so the directory is self-contained. Throws
// dsv32::Error when there is no tokenizer to copy or the copy fails.
void install_tokenizer_into(const std::filesystem::path& model_dir,
                            const std::optional<std::filesystem::path>& source = std::nullopt);

}  // namespace dsv32

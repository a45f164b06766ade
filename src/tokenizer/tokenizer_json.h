#pragma once
// Reads a Hugging Face tokenizer.json of the kind DeepSeek ships (byte-level BPE, added tokens,
// a Sequence of regex Splits) into plain data. The 128k-entry vocab and merges are streamed
// through a SAX handler straight into vectors: building nlohmann's DOM for them alone would
// take most of the load-time budget. Anything this engine does not implement is an error here,
// so an unsupported file fails at load rather than tokenizing differently.
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace dsv32 {

using TokenId = std::int32_t;

struct AddedTokenSpec {
  TokenId id = 0;
  std::string content;
  bool single_word = false;
  bool lstrip = false;
  bool rstrip = false;
  bool normalized = false;
  bool special = false;
};

// One `Split` pre-tokenizer with behavior Isolated: matches and the gaps between them are pieces.
struct SplitSpec {
  std::string pattern;  // as written in the file (Oniguruma syntax when is_regex)
  bool is_regex = true;
};

struct TokenizerSpec {
  std::vector<std::pair<std::string, TokenId>> vocab;           // byte-level text -> id
  std::vector<std::pair<std::string, std::string>> merges;      // in rank order
  std::vector<AddedTokenSpec> added_tokens;
  std::vector<SplitSpec> splits;                                // applied in order
  bool ignore_merges = false;
};

TokenizerSpec read_tokenizer_json(const std::filesystem::path& path);
// `source` names the text in error messages.
TokenizerSpec parse_tokenizer_json(std::string_view json_text, const std::string& source);

}  // namespace dsv32

// dsv32 tokenize / detokenize: text <-> token ids with the DeepSeek-V3.2 tokenizer. Outside
// checks drive these, so their input and output formats stay fixed: tokenize reads UTF-8 text on
// stdin (every byte counts, a final newline too) and prints one JSON array of ids; detokenize
// reads one JSON array of ids and prints exactly the decoded text.
#include <cstdio>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/read_stdin.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/tokenizer_files.h"
#include "util/error.h"

namespace dsv32::cli {
namespace {

struct TokenizerOptions {
  std::string tokenizer;  // explicit tokenizer.json
  std::string model;      // model directory whose tokenizer.json wins over the installed one
  bool skip_special_tokens = false;
};

void add_tokenizer_options(CLI::App& cmd, TokenizerOptions& options) {
  cmd.add_option("--tokenizer", options.tokenizer,
                 "tokenizer.json (default: the model's, else $DSV32_TOKENIZER, else the installed DeepSeek-V3.2 one)");
  cmd.add_option("--model", options.model, "model directory whose tokenizer.json to use");
}

std::filesystem::path tokenizer_path(const TokenizerOptions& options) {
  if (!options.tokenizer.empty()) return options.tokenizer;
  if (!options.model.empty()) return find_tokenizer(std::filesystem::path(options.model));
  return find_tokenizer();
}

std::vector<TokenId> parse_id_array(const std::string& text) {
  const auto json = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded() || !json.is_array()) fail("stdin: expected a JSON array of token ids");
  std::vector<TokenId> ids;
  ids.reserve(json.size());
  for (std::size_t i = 0; i < json.size(); ++i) {
    const auto& item = json[i];
    if (item.is_number_unsigned() && item.get<std::uint64_t>() <= std::uint64_t(std::numeric_limits<TokenId>::max())) {
      ids.push_back(item.get<TokenId>());
    } else if (item.is_number_integer()) {
      fail("stdin: token id {} at index {} is out of range", item.dump(), i);
    } else {
      fail("stdin: element {} ({}) is not a token id", i, item.dump());
    }
  }
  return ids;
}

void write_stdout(const std::string& text) {
  if (std::fwrite(text.data(), 1, text.size(), stdout) != text.size() || std::fflush(stdout) != 0) {
    fail("cannot write stdout");
  }
}

}  // namespace

void add_tokenize_commands(CLI::App& app) {
  auto tokenize_options = std::make_shared<TokenizerOptions>();
  auto* tokenize = app.add_subcommand("tokenize", "Encode UTF-8 text from stdin; print a JSON array of token ids");
  add_tokenizer_options(*tokenize, *tokenize_options);
  tokenize->callback([tokenize_options] {
    const Tokenizer tokenizer(tokenizer_path(*tokenize_options));
    const std::string text = read_all_stdin();
    const std::vector<TokenId> ids = tokenizer.encode(text);
    write_stdout(fmt::format("[{}]\n", fmt::join(ids, ",")));
  });

  auto detokenize_options = std::make_shared<TokenizerOptions>();
  auto* detokenize = app.add_subcommand("detokenize", "Decode a JSON array of token ids from stdin; print the text");
  add_tokenizer_options(*detokenize, *detokenize_options);
  detokenize->add_flag("--skip-special-tokens", detokenize_options->skip_special_tokens,
                       "drop special tokens (BOS, EOS, ｜DSML｜, ...) from the text");
  detokenize->callback([detokenize_options] {
    const Tokenizer tokenizer(tokenizer_path(*detokenize_options));
    const std::vector<TokenId> ids = parse_id_array(read_all_stdin());
    write_stdout(tokenizer.decode(ids, detokenize_options->skip_special_tokens));
  });
}

}  // namespace dsv32::cli

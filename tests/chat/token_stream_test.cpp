// The chat format with the real tokenizer: model output arrives token by token (a token may be
// part of a UTF-8 character or a whole special token), and rendered prompts must tokenize with
// their special tokens as single ids. Skipped when no tokenizer.json is installed.
#include <map>
#include <memory>

#include <gtest/gtest.h>

#include "chat/output_parser.h"
#include "chat/request.h"
#include "fixtures.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/tokenizer_files.h"
#include "util/error.h"

namespace dsv32::chat {
namespace {

using Json = nlohmann::ordered_json;

const Tokenizer* tokenizer() {
  static const std::unique_ptr<Tokenizer> instance = []() -> std::unique_ptr<Tokenizer> {
    try {
      return std::make_unique<Tokenizer>(find_tokenizer());
    } catch (const Error&) {
      return nullptr;
    }
  }();
  return instance.get();
}

class TokenStreamCase : public ::testing::TestWithParam<Json> {};

TEST_P(TokenStreamCase, TokenByTokenGivesTheWholeResult) {
  if (tokenizer() == nullptr) GTEST_SKIP() << "no tokenizer.json installed";
  const Json& c = GetParam();
  const std::string text = c["completion_text"].get<std::string>();
  OutputParserOptions options;
  options.thinking = c["thinking"].get<bool>();
  const ParsedMessage whole = parse_completion(text, options);

  OutputParser parser(options);
  std::string reasoning, content;
  std::map<int, std::string> arguments;
  auto collect = [&](const StreamDelta& d) {
    reasoning += d.reasoning_content;
    content += d.content;
    for (const auto& piece : d.tool_calls) arguments[piece.index] += piece.arguments;
  };
  for (TokenId id : tokenizer()->encode(text)) collect(parser.feed(tokenizer()->token_bytes(id)));
  auto final = parser.finish();
  collect(final.delta);
  const ParsedMessage& m = final.message;
  EXPECT_EQ(m.reasoning_content, whole.reasoning_content);
  EXPECT_EQ(m.content, whole.content);
  ASSERT_EQ(m.tool_calls.size(), whole.tool_calls.size());
  for (std::size_t i = 0; i < m.tool_calls.size(); ++i) {
    EXPECT_EQ(m.tool_calls[i].name, whole.tool_calls[i].name);
    EXPECT_EQ(m.tool_calls[i].arguments, whole.tool_calls[i].arguments);
    EXPECT_EQ(arguments[m.tool_calls[i].index], m.tool_calls[i].arguments);
  }
  EXPECT_EQ(reasoning, m.reasoning_content.value_or(""));
  EXPECT_EQ(content, m.content.value_or(""));
}

INSTANTIATE_TEST_SUITE_P(ChatFixtures, TokenStreamCase, ::testing::ValuesIn(testing::load_jsonl("parse.jsonl")),
                         testing::CaseName());

TEST(ChatPromptTokens, SpecialTokensAreSingleIds) {
  if (tokenizer() == nullptr) GTEST_SKIP() << "no tokenizer.json installed";
  // API.md §3.1: BOS 0, <｜User｜> 128803, <｜Assistant｜> 128804, <think> 128798, </think> 128799.
  for (bool thinking : {false, true}) {
    const Json request = {{"messages", Json::array({{{"role", "user"}, {"content", "Hello!"}}})},
                          {"chat_template_kwargs", {{"thinking", thinking}}}};
    const auto ids = tokenizer()->encode(render_chat_request(request).prompt);
    ASSERT_GE(ids.size(), 5u);
    EXPECT_EQ(ids.front(), 0u);
    EXPECT_EQ(ids[1], 128803u);
    EXPECT_EQ(ids[ids.size() - 2], 128804u);
    EXPECT_EQ(ids.back(), thinking ? 128798u : 128799u);
  }
}

}  // namespace
}  // namespace dsv32::chat

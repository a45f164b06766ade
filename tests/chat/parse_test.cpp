// Both output parsers against shared/chatfmt/parse.jsonl: the official port must reproduce every
// result and every error; the lenient (server) parser must agree wherever the official one
// accepts, and follow the chosen lenient reading where it rejects.
#include <gtest/gtest.h>

#include "chat/official_parser.h"
#include "chat/output_parser.h"
#include "fixtures.h"
#include "parse_expect.h"
#include "util/error.h"

namespace dsv32::chat {
namespace {

using Json = nlohmann::ordered_json;

class ParseCase : public ::testing::TestWithParam<Json> {};

TEST_P(ParseCase, OfficialParserReproducesFixture) {
  const Json& c = GetParam();
  const std::string text = c["completion_text"].get<std::string>();
  const bool thinking = c["thinking"].get<bool>();
  if (!c["expected_error"].is_null()) {
    try {
      parse_completion_strict(text, thinking);
      ADD_FAILURE() << "expected " << c["expected_error"].dump();
    } catch (const Error& e) {
      EXPECT_EQ(std::string(e.what()), c["expected_error"]["message"].get<std::string>());
    }
    return;
  }
  testing::expect_message(parse_completion_strict(text, thinking), c["expected"]);
}

TEST_P(ParseCase, LenientParserAgreesOrFollowsGuidance) {
  const Json& c = GetParam();
  OutputParserOptions options;
  options.thinking = c["thinking"].get<bool>();
  const ParsedMessage message = parse_completion(c["completion_text"].get<std::string>(), options);
  testing::expect_message(message, testing::lenient_expected(c));
  // `malformed` marks exactly the texts the official parser rejects.
  EXPECT_EQ(message.malformed, !c["expected_error"].is_null()) << message.problem;
  if (!options.thinking) {
    EXPECT_FALSE(message.reasoning_content.has_value());
  }
}

INSTANTIATE_TEST_SUITE_P(ChatFixtures, ParseCase, ::testing::ValuesIn(testing::load_jsonl("parse.jsonl")),
                         testing::CaseName());

// DeepSeek's round trip: an assistant turn encoded with context= parses back to itself.
TEST(ChatOfficialRoundTrip, ToolCallTurnParsesBack) {
  const std::string text =
      "r</think>\n\n<｜DSML｜function_calls>\n<｜DSML｜invoke name=\"f\">\n"
      "<｜DSML｜parameter name=\"a\" string=\"false\">[1, {\"b\": \"c\"}]</｜DSML｜parameter>\n"
      "</｜DSML｜invoke>\n</｜DSML｜function_calls><｜end▁of▁sentence｜>";
  const ParsedMessage strict = parse_completion_strict(text, true);
  ASSERT_EQ(strict.tool_calls.size(), 1u);
  EXPECT_EQ(strict.tool_calls[0].arguments, R"({"a": [1, {"b": "c"}]})");
  OutputParserOptions options;
  options.thinking = true;
  const ParsedMessage lenient = parse_completion(text, options);
  ASSERT_EQ(lenient.tool_calls.size(), 1u);
  EXPECT_EQ(lenient.tool_calls[0].arguments, strict.tool_calls[0].arguments);
  EXPECT_FALSE(lenient.malformed);
}

TEST(ChatOfficialQuirks, RegexDollarAcceptsFinalNewline) {
  // Python's `$` also matches before a final newline; the official parser therefore accepts
  // these variants, and so do both ports.
  const std::string text =
      "\n\n<｜DSML｜function_calls>\n<｜DSML｜invoke name=\"f\">\n\n"
      "<｜DSML｜parameter name=\"a\" string=\"true\">v<\n/｜DSML｜parameter>\n"
      "</｜DSML｜invoke>\n</｜DSML｜function_calls><｜end▁of▁sentence｜>";
  const ParsedMessage strict = parse_completion_strict(text, false);
  ASSERT_EQ(strict.tool_calls.size(), 1u);
  EXPECT_EQ(strict.tool_calls[0].arguments, R"({"a": "v"})");
  const ParsedMessage lenient = parse_completion(text, {});
  ASSERT_EQ(lenient.tool_calls.size(), 1u);
  EXPECT_EQ(lenient.tool_calls[0].arguments, R"({"a": "v"})");
  EXPECT_FALSE(lenient.malformed);
}

TEST(ChatOpenAiShape, NullsWhereOpenAiExpectsThem) {
  ParsedMessage message;
  message.content = "";
  message.tool_calls.push_back({0, "call_x", "f", "{}"});
  const auto json = message_to_openai_json(message);
  EXPECT_TRUE(json["content"].is_null());
  EXPECT_TRUE(json["reasoning_content"].is_null());
  EXPECT_EQ(json["tool_calls"][0]["type"], "function");
  ParsedMessage plain;
  plain.content = "hi";
  plain.reasoning_content = "r";
  const auto plain_json = message_to_openai_json(plain);
  EXPECT_TRUE(plain_json["tool_calls"].is_null());
  EXPECT_EQ(plain_json["content"], "hi");
  EXPECT_EQ(plain_json["reasoning_content"], "r");
}

}  // namespace
}  // namespace dsv32::chat

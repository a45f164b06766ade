// The streaming parser: any split of the text gives the final message of the whole, deltas
// concatenate to it, and no delta cuts a UTF-8 character or shows a marker.
#include <map>
#include <random>

#include <gtest/gtest.h>

#include "chat/output_parser.h"
#include "chat/utf8.h"
#include "util/error.h"
#include "fixtures.h"
#include "parse_expect.h"

namespace dsv32::chat {
namespace {

using Json = nlohmann::ordered_json;

struct Streamed {
  std::string reasoning, content;
  std::map<int, ToolCall> calls;  // by index: id and name from the first delta, arguments joined
  ParsedMessage message;
};

bool valid_utf8(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    bool incomplete = false;
    const std::size_t len = utf8::sequence_length(s.substr(i), incomplete);
    if (len == 0) return false;
    i += len;
  }
  return true;
}

void collect(Streamed& out, const StreamDelta& delta) {
  EXPECT_TRUE(valid_utf8(delta.reasoning_content)) << delta.reasoning_content;
  EXPECT_TRUE(valid_utf8(delta.content)) << delta.content;
  out.reasoning += delta.reasoning_content;
  out.content += delta.content;
  for (const auto& piece : delta.tool_calls) {
    auto [it, inserted] = out.calls.try_emplace(piece.index);
    if (inserted) {
      EXPECT_FALSE(piece.id.empty());
      EXPECT_FALSE(piece.name.empty());
      EXPECT_EQ(piece.arguments, "");
      it->second = {piece.index, piece.id, piece.name, ""};
    } else {
      EXPECT_TRUE(piece.id.empty() && piece.name.empty()) << "id/name sent twice";
      it->second.arguments += piece.arguments;
    }
  }
}

Streamed run(const OutputParserOptions& options, const std::vector<std::string_view>& pieces) {
  OutputParser parser(options);
  Streamed out;
  for (auto piece : pieces) collect(out, parser.feed(piece));
  auto final = parser.finish();
  collect(out, final.delta);
  out.message = std::move(final.message);
  return out;
}

void expect_same_message(const ParsedMessage& a, const ParsedMessage& b) {
  EXPECT_EQ(a.reasoning_content, b.reasoning_content);
  EXPECT_EQ(a.content, b.content);
  ASSERT_EQ(a.tool_calls.size(), b.tool_calls.size());
  for (std::size_t i = 0; i < a.tool_calls.size(); ++i) {
    EXPECT_EQ(a.tool_calls[i].index, b.tool_calls[i].index);
    EXPECT_EQ(a.tool_calls[i].id, b.tool_calls[i].id);
    EXPECT_EQ(a.tool_calls[i].name, b.tool_calls[i].name);
    EXPECT_EQ(a.tool_calls[i].arguments, b.tool_calls[i].arguments);
  }
  EXPECT_EQ(a.malformed, b.malformed);
  EXPECT_EQ(a.saw_eos, b.saw_eos);
}

void expect_deltas_match(const Streamed& s) {
  EXPECT_EQ(s.reasoning, s.message.reasoning_content.value_or(""));
  EXPECT_EQ(s.content, s.message.content.value_or(""));
  for (const auto& call : s.message.tool_calls) {
    ASSERT_TRUE(s.calls.count(call.index)) << call.name;
    const ToolCall& streamed = s.calls.at(call.index);
    EXPECT_EQ(streamed.id, call.id);
    EXPECT_EQ(streamed.name, call.name);
    EXPECT_EQ(streamed.arguments, call.arguments);
  }
  // Only malformed output may have streamed a call that did not complete.
  if (!s.message.malformed) {
    EXPECT_EQ(s.calls.size(), s.message.tool_calls.size());
  }
}

class StreamCase : public ::testing::TestWithParam<Json> {};

TEST_P(StreamCase, EverySplitGivesTheWholeResult) {
  const Json& c = GetParam();
  const std::string text = c["completion_text"].get<std::string>();
  OutputParserOptions options;
  options.thinking = c["thinking"].get<bool>();
  const Streamed whole = run(options, {text});
  testing::expect_message(whole.message, testing::lenient_expected(c));
  expect_deltas_match(whole);
  const std::string_view view(text);
  for (std::size_t cut = 0; cut <= text.size(); ++cut) {
    SCOPED_TRACE("cut at byte " + std::to_string(cut));
    const Streamed split = run(options, {view.substr(0, cut), view.substr(cut)});
    expect_same_message(split.message, whole.message);
    expect_deltas_match(split);
    if (::testing::Test::HasFailure()) return;
  }
}

TEST_P(StreamCase, ByteByByteAndRandomPieces) {
  const Json& c = GetParam();
  const std::string text = c["completion_text"].get<std::string>();
  OutputParserOptions options;
  options.thinking = c["thinking"].get<bool>();
  const Streamed whole = run(options, {text});
  std::vector<std::string_view> bytes;
  for (std::size_t i = 0; i < text.size(); ++i) bytes.push_back(std::string_view(text).substr(i, 1));
  const Streamed by_byte = run(options, bytes);
  expect_same_message(by_byte.message, whole.message);
  expect_deltas_match(by_byte);
  std::mt19937 rng(1234);
  for (int round = 0; round < 50; ++round) {
    std::vector<std::string_view> pieces;
    for (std::size_t pos = 0; pos < text.size();) {
      const std::size_t len = std::min<std::size_t>(text.size() - pos, rng() % 12);
      pieces.push_back(std::string_view(text).substr(pos, len));
      pos += len;
    }
    const Streamed random = run(options, pieces);
    expect_same_message(random.message, whole.message);
    expect_deltas_match(random);
  }
}

INSTANTIATE_TEST_SUITE_P(ChatFixtures, StreamCase, ::testing::ValuesIn(testing::load_jsonl("parse.jsonl")),
                         testing::CaseName());

OutputParserOptions chat_mode() { return {}; }

TEST(ChatStream, HoldsBackNewlinesThatMayStartAToolBlock) {
  OutputParser parser(chat_mode());
  EXPECT_EQ(parser.feed("Hi\n\n").content, "Hi");
  EXPECT_EQ(parser.feed("there").content, "\n\nthere");
  EXPECT_EQ(parser.feed("\n\n<｜DSML｜function_calls>\n<｜DSML｜invoke name=\"f\">\n").content, "");
  const auto delta = parser.feed("<｜DSML｜parameter name=\"q\" string=\"true\">long va");
  ASSERT_EQ(delta.tool_calls.size(), 2u);
  EXPECT_EQ(delta.tool_calls[0].name, "f");
  EXPECT_EQ(delta.tool_calls[0].arguments, "");
  EXPECT_EQ(delta.tool_calls[1].arguments, "{\"q\": \"long va");  // streamed before the value ends
  EXPECT_EQ(parser.feed("lue\"</｜DSML｜parameter>\n</｜DSML｜invoke>\n</｜DSML｜function_calls>").tool_calls.at(0).arguments,
            "lue\\\"\"}");
  const auto final = parser.finish();
  EXPECT_EQ(*final.message.content, "Hi\n\nthere");
  ASSERT_EQ(final.message.tool_calls.size(), 1u);
  EXPECT_EQ(final.message.tool_calls[0].arguments, "{\"q\": \"long value\\\"\"}");
  EXPECT_FALSE(final.message.malformed);  // tool-call output without EOS is accepted officially
}

TEST(ChatStream, ToolCallIdsAreDeterministicPerSeed) {
  const std::string text = "\n\n<｜DSML｜function_calls>\n<｜DSML｜invoke name=\"f\">\n</｜DSML｜invoke>\n"
                           "<｜DSML｜invoke name=\"g\">\n</｜DSML｜invoke>\n</｜DSML｜function_calls><｜end▁of▁sentence｜>";
  OutputParserOptions a, b;
  a.id_seed = 1;
  b.id_seed = 2;
  const auto first = parse_completion(text, a), again = parse_completion(text, a), other = parse_completion(text, b);
  ASSERT_EQ(first.tool_calls.size(), 2u);
  EXPECT_EQ(first.tool_calls[0].id, again.tool_calls[0].id);
  EXPECT_NE(first.tool_calls[0].id, first.tool_calls[1].id);
  EXPECT_NE(first.tool_calls[0].id, other.tool_calls[0].id);
  EXPECT_EQ(first.tool_calls[0].id.size(), 5u + 24u);
  EXPECT_TRUE(first.tool_calls[0].id.starts_with("call_"));
  EXPECT_EQ(first.tool_calls[1].arguments, "{}");
}

TEST(ChatStream, PromptWithoutOpenThink) {
  OutputParserOptions options;
  options.thinking = true;
  options.prompt_opened_think = false;
  const auto opened = parse_completion("<think>r</think>c<｜end▁of▁sentence｜>", options);
  EXPECT_EQ(opened.reasoning_content, "r");
  EXPECT_EQ(opened.content, "c");
  const auto direct = parse_completion("just text<｜end▁of▁sentence｜>", options);
  EXPECT_EQ(direct.reasoning_content, "");
  EXPECT_EQ(direct.content, "just text");
}

TEST(ChatStream, TruncatedSpecialTokenIsNotShown) {
  const auto message = parse_completion("Hi\n\n<｜DSML｜funct", chat_mode());
  EXPECT_EQ(message.content, "Hi");
  EXPECT_TRUE(parse_completion("a <b", chat_mode()).content == "a <b");
}

TEST(ChatStream, SecondBlockAndBrokenCallKeepsCompleteOnes) {
  const std::string text =
      "\n\n<｜DSML｜function_calls>\n<｜DSML｜invoke name=\"f\">\n</｜DSML｜invoke>\n"
      "<｜DSML｜invoke name=\"g\">\n<｜DSML｜parameter name=\"x\">1</｜DSML｜parameter>\n</｜DSML｜invoke>\n"
      "</｜DSML｜function_calls>\n\n<｜DSML｜function_calls>\n<｜DSML｜invoke name=\"h\">\n</｜DSML｜invoke>\n"
      "</｜DSML｜function_calls><｜end▁of▁sentence｜>";
  const auto message = parse_completion(text, chat_mode());
  ASSERT_EQ(message.tool_calls.size(), 2u);
  EXPECT_EQ(message.tool_calls[0].name, "f");
  EXPECT_EQ(message.tool_calls[1].name, "h");
  EXPECT_EQ(message.tool_calls[1].index, 2);  // the broken call 1 was streamed, then dropped
  EXPECT_TRUE(message.malformed);
  EXPECT_EQ(message.content, "");
}

TEST(ChatStream, FeedAfterFinishThrows) {
  OutputParser parser(chat_mode());
  parser.finish();
  EXPECT_THROW(parser.feed("x"), Error);
}

}  // namespace
}  // namespace dsv32::chat
